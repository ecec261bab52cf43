#!/usr/bin/env python3
"""Real-data case: the shipped fault and mogi models on Sentinel-1 over Mexico City (pyrate_cropA).

What it does (see docs/real_data.md for the reading of the results)::

    copy tests/data/pyrate_cropA into a scratch work dir
    for model in fault, mogi:
        mintpy_dlae.py timeseries_demErr.h5 -g inputs/geometryGeo.h5 -m maskTempCoh.h5 \\
            --model MODEL --save-removed -o timeseries_demErr_MODEL.h5
        timeseries2velocity.py timeseries_demErr_MODEL.h5 -o velocity_MODEL.h5
    timeseries2velocity.py timeseries_demErr.h5 -o velocity_raw.h5   (= the shipped velocity.h5)
    MintPy's timeseries_rms (ut.get_residual_rms) of the input and of each removed part,
    with the quadratic deramping MintPy uses by default and without deramping
    -> figures mexico_*.png and the numbers mexico_numbers.json / mexico_numbers.md

Run from the repository root (about 6 s on 2 cores)::

    python docs/examples/mexico_city.py                       # figures and numbers -> docs/figures
    python docs/examples/mexico_city.py --work-dir scratch/mx --fig-dir scratch/mx/pic
    python docs/examples/mexico_checks.py                     # then: the one-off checks of real_data.md

Only MintPy's and mintpy_dlae's own command-line mains are used, in this process.
"""
import argparse
import contextlib
import io
import json
import os
import shutil
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(REPO, "tests", "data", "pyrate_cropA")
FIGS = os.path.join(REPO, "docs", "figures")

BOWL_BOX = (slice(0, 36), slice(75, 100))      # NE bowl (rows 0-35, cols 75-99), data README
STABLE_PATCH = (slice(6, 10), slice(74, 80))   # Penon de los Banos hill inside the bowl
WEST = (slice(None), slice(0, 10))             # stable west (cols 0-9)
MIN_PIXEL = (12, 88)                           # fastest pixel of the raw velocity
THRESHOLDS = (-100.0, -200.0)                  # mm/yr, for the bowl's extent


def create_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__)
    p.add_argument("--data", default=DATA, help="the pyrate_cropA folder (default: %(default)s)")
    p.add_argument("--work-dir", default="mexico_city_work",
                   help="scratch folder, created/overwritten (default: %(default)s)")
    p.add_argument("--fig-dir", default=FIGS, help="figures and numbers (default: %(default)s)")
    p.add_argument("--models", nargs="+", default=["fault", "mogi"],
                   help="models: fault, mogi or .keras paths (default: %(default)s)")
    return p


# ------------------------------------------------------------------------------------ running
def quiet(func, args):
    """Run a CLI main with its stdout captured (returned as text)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        func(args)
    return buf.getvalue()


def run_all(inps):
    import mintpy.cli.timeseries2velocity as ts2vel

    from mintpy_dlae.cli import denoise as dlae_cli
    from mintpy_dlae.denoise_file import model_file, output_files

    work = os.path.abspath(inps.work_dir)
    if os.path.isdir(work):
        shutil.rmtree(work)
    shutil.copytree(inps.data, work)
    os.chdir(work)
    ts_file = os.path.join(work, "timeseries_demErr.h5")
    commands = []
    runs = {"raw": {"timeseries": ts_file}}
    for model in inps.models:
        name = os.path.splitext(os.path.basename(model))[0]
        if model_file(model) is None:
            print(f"skip model {model}: no shipped file in this installation")
            continue
        out = os.path.join(work, f"timeseries_demErr_{name}.h5")
        args = ["timeseries_demErr.h5", "-g", "inputs/geometryGeo.h5", "-m", "maskTempCoh.h5",
                "--model", model, "--save-removed", "--no-progress", "-o", out]
        commands.append("mintpy_dlae.py " + " ".join(args[:-1] + [os.path.basename(out)]))
        print(commands[-1])
        quiet(dlae_cli.main, args)
        runs[name] = output_files(ts_file, out)
        runs[name]["model"] = model
    for name, files in runs.items():
        vel = os.path.join(work, f"velocity_{name}.h5")
        args = [files["timeseries"], "-o", vel]
        commands.append(f"timeseries2velocity.py {os.path.basename(files['timeseries'])} "
                        f"-o {os.path.basename(vel)}")
        print(commands[-1])
        quiet(ts2vel.main, args)
        files["velocity"] = vel
    return work, runs, commands


# ------------------------------------------------------------------------------------ numbers
def read(path, dataset=None):
    from mintpy.utils import readfile
    return readfile.read(path, datasetName=dataset)[0].astype(np.float64)


def residual_rms(ts_file, mask_file, ramp):
    """MintPy's timeseries_rms of a file: RMS (mm) per date after removing a ``ramp``."""
    from mintpy.utils import utils as ut
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rms, dates, _ = ut.get_residual_rms(ts_file, mask_file=mask_file, ramp_type=ramp)
    return [1e3 * r for r in rms], dates


def linear_fit_residual(ts, dates, mask):
    """RMS (mm) per date of the series minus its per-pixel linear fit (the non-linear part)."""
    from mintpy.utils import ptime
    t = np.array(ptime.date_list2vector(dates)[1])
    G = np.stack([np.ones_like(t), t - t[0]], axis=1)
    y = ts[:, mask]
    coef = np.linalg.lstsq(G, y, rcond=None)[0]
    res = y - G @ coef
    return list(1e3 * np.sqrt(np.mean(res ** 2, axis=1)))


def measure(work, runs):
    from mintpy.utils import readfile
    mask = read(os.path.join(work, "maskTempCoh.h5")).astype(bool)
    atr = readfile.read_attribute(runs["raw"]["timeseries"])
    dates = readfile.get_slice_list(runs["raw"]["timeseries"])
    dates = [d.split("-")[-1] for d in dates]
    px_km2 = (abs(float(atr["X_STEP"])) * 111.195 * np.cos(np.deg2rad(19.41))
              * abs(float(atr["Y_STEP"])) * 111.195)
    vel_raw = 1e3 * read(runs["raw"]["velocity"], "velocity")
    ts_raw = read(runs["raw"]["timeseries"])
    bowl = mask & (vel_raw < THRESHOLDS[0])
    numbers = {"dates": dates, "pixel_area_km2": px_km2, "mask_pixels": int(mask.sum()),
               "bowl_pixels_raw_below_-100": int(bowl.sum()), "series": {}, "removed": {}}
    masked = lambda a: np.where(mask, a, np.nan)   # noqa: E731
    for name, files in runs.items():
        vel = masked(1e3 * read(files["velocity"], "velocity"))
        ts = read(files["timeseries"])
        last, last_raw = 1e3 * ts[-1][bowl], 1e3 * ts_raw[-1][bowl]
        d = {"ne_bowl_median_mm_yr": float(np.nanmedian(vel[BOWL_BOX])),
             "min_mm_yr": float(np.nanmin(vel)),
             "p1_mm_yr": float(np.nanpercentile(vel, 1)),
             "at_raw_min_pixel_mm_yr": float(vel[MIN_PIXEL]),
             "stable_patch_median_mm_yr": float(np.nanmedian(vel[STABLE_PATCH])),
             "west_median_mm_yr": float(np.nanmedian(vel[WEST])),
             "west_p1_p99_mm_yr": [float(np.nanpercentile(vel[WEST], q)) for q in (1, 99)],
             "velocity_corr_with_raw": float(np.corrcoef(vel[mask], vel_raw[mask])[0, 1]),
             "velocity_rms_diff_from_raw_mm_yr": float(np.sqrt(np.mean((vel[mask] -
                                                                        vel_raw[mask]) ** 2))),
             "last_date_bowl_median_mm": float(np.median(last)),
             "last_date_bowl_ratio_to_raw": float(np.median(last) / np.median(last_raw)),
             "last_date_bowl_gain": float(np.sum(last * last_raw) / np.sum(last_raw ** 2)),
             "last_date_bowl_corr_with_raw": float(np.corrcoef(last, last_raw)[0, 1])}
        for thr in THRESHOLDS:
            n = int(np.sum(vel < thr))
            d[f"area_below_{int(thr)}_px"] = n
            d[f"area_below_{int(thr)}_km2"] = n * px_km2
        d["area_below_-100_overlap_with_raw"] = float(
            np.sum((vel < -100) & bowl) / max(1, np.sum((vel < -100) | bowl)))
        numbers["series"][name] = d
    mask_file = os.path.join(work, "maskTempCoh.h5")
    rem = {"input_timeseries_rms_quadratic": residual_rms(runs["raw"]["timeseries"], mask_file,
                                                          "quadratic")[0],
           "input_timeseries_rms_noramp": residual_rms(runs["raw"]["timeseries"], mask_file,
                                                       "no")[0],
           "input_linear_fit_residual_rms": linear_fit_residual(ts_raw, dates, mask)}
    for name, files in runs.items():
        if "removed" not in files:
            continue
        rem[f"removed_{name}_rms_quadratic"] = residual_rms(files["removed"], mask_file,
                                                            "quadratic")[0]
        rem[f"removed_{name}_rms_noramp"] = residual_rms(files["removed"], mask_file, "no")[0]
        removed = read(files["removed"])
        # how much of the removed part is a linear trend (i.e. deformation rate) per pixel
        rem[f"removed_{name}_linear_fit_residual_rms"] = linear_fit_residual(removed, dates, mask)
    numbers["removed"] = rem
    return numbers, mask, vel_raw


# ------------------------------------------------------------------------------------ figures
def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_velocity(runs, mask, out_png, command):
    plt = _plt()
    names = list(runs)
    vels = {n: np.where(mask, 1e3 * read(runs[n]["velocity"], "velocity"), np.nan) for n in names}
    fig, axes = plt.subplots(2, len(names), figsize=(4.2 * len(names), 5.6), squeeze=False,
                             layout="constrained")
    for j, n in enumerate(names):
        ax = axes[0, j]
        im = ax.imshow(vels[n], cmap="RdBu_r", vmin=-300, vmax=300, interpolation="nearest")
        ax.contour(np.nan_to_num(vels[n], nan=0.0), levels=[-200, -100], colors=["k", "0.4"],
                   linewidths=0.7)
        ax.add_patch(plt.Rectangle((74.5, -0.5), 25, 36, fill=False, ec="g", lw=1))
        title = "MintPy velocity, raw series" if n == "raw" else f"velocity after DLAE ({n})"
        ax.set_title(f"{title}\nNE-box median {np.nanmedian(vels[n][BOWL_BOX]):.0f} mm/yr",
                     fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax = axes[1, j]
        if n == "raw":
            im2 = ax.imshow(1e3 * np.where(mask, read(runs[n]["timeseries"])[-1], np.nan),
                            cmap="RdBu_r", vmin=-160, vmax=160, interpolation="nearest")
            ax.set_title("raw displacement at the last date (mm)", fontsize=9)
            fig.colorbar(im2, ax=ax, shrink=0.8, label="mm")
        else:
            dv = vels[n] - vels["raw"]
            im3 = ax.imshow(dv, cmap="PuOr_r", vmin=-100, vmax=100, interpolation="nearest")
            ax.set_title(f"{n} minus raw velocity (RMS {np.sqrt(np.nanmean(dv ** 2)):.0f} mm/yr)",
                         fontsize=9)
            fig.colorbar(im3, ax=ax, shrink=0.8, label="mm/yr")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=axes[0, :], shrink=0.8, label="LOS velocity (mm/yr)")
    fig.suptitle("Mexico City, Sentinel-1 2018-01..07 (contours -100, -200 mm/yr; green: NE box)"
                 f"\n{command}", fontsize=9)
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return out_png


def plot_profiles(runs, mask, dates, out_png, command):
    plt = _plt()
    from mintpy.utils import ptime
    t = ptime.date_list2vector(dates)[0]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4), layout="constrained")
    styles = {"raw": dict(color="0.3", lw=1.5), "fault": dict(color="C3", lw=2),
              "mogi": dict(color="C0", lw=2)}
    rows = slice(5, 31)
    for n, files in runs.items():
        vel = np.where(mask, 1e3 * read(files["velocity"], "velocity"), np.nan)
        ts = 1e3 * read(files["timeseries"])
        st = styles.get(n, dict(lw=1.5))
        axes[0].plot(np.nanmedian(vel[rows], axis=0), label=n, **st)
        r, c = MIN_PIXEL
        axes[1].plot(t, ts[:, r - 1:r + 2, c - 1:c + 2].mean(axis=(1, 2)), marker=".", label=n,
                     **st)
        axes[2].plot(t, np.nanmedian(np.where(mask, ts, np.nan)[(slice(None),) + STABLE_PATCH],
                                     axis=(1, 2)) -
                     np.nanmedian(np.where(mask, ts, np.nan)[:, 2:12, 66:72], axis=(1, 2)),
                     marker=".", label=n, **st)
    axes[0].set_title("W-E profile of velocity (median of rows 5-30)", fontsize=9)
    axes[0].set_xlabel("column (~150 m)")
    axes[0].set_ylabel("LOS velocity (mm/yr)")
    axes[1].set_title(f"series at the fastest pixel (row {MIN_PIXEL[0]}, col {MIN_PIXEL[1]}, 3x3)",
                      fontsize=9)
    axes[1].set_ylabel("LOS (mm)")
    axes[2].set_title("stable hill (rows 6-9, cols 74-79)\nminus its west side (rows 2-11, "
                      "cols 66-71)", fontsize=9)
    axes[2].set_ylabel("LOS (mm)")
    for ax in axes[1:]:
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    for ax in axes:
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(command, fontsize=8)
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return out_png


def plot_removed(runs, numbers, mask, dates, out_png, command):
    plt = _plt()
    from mintpy.utils import ptime
    t = ptime.date_list2vector(dates)[0]
    rem = numbers["removed"]
    models = [n for n in runs if "removed" in runs[n]]
    fig = plt.figure(figsize=(14, 4.4), layout="constrained")
    gs = fig.add_gridspec(1, 1 + len(models), width_ratios=[1.6] + [1] * len(models))
    ax = fig.add_subplot(gs[0])
    ax.plot(t, rem["input_timeseries_rms_noramp"], "k-o", ms=3, label="input, no deramp")
    ax.plot(t, rem["input_timeseries_rms_quadratic"], "k--o", ms=3,
            label="input, quadratic deramp (timeseries_rms default)")
    ax.plot(t, rem["input_linear_fit_residual_rms"], ":", color="0.4",
            label="input minus its linear fit per pixel")
    for n, color in zip(models, ("C3", "C0", "C2")):
        ax.plot(t, rem[f"removed_{n}_rms_noramp"], "-s", color=color, ms=3,
                label=f"removed by {n}, no deramp")
        ax.plot(t, rem[f"removed_{n}_rms_quadratic"], "--s", color=color, ms=3,
                label=f"removed by {n}, quadratic deramp")
    ax.set_ylabel("RMS over the mask (mm)")
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    ax.set_title("MintPy timeseries_rms per date: input vs removed part", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    k = int(np.argmax(rem["input_linear_fit_residual_rms"]))
    for j, n in enumerate(models):
        removed = 1e3 * read(runs[n]["removed"])
        ax = fig.add_subplot(gs[1 + j])
        im = ax.imshow(np.where(mask, removed[k], np.nan), cmap="RdBu_r", vmin=-40, vmax=40,
                       interpolation="nearest")
        ax.set_title(f"removed by {n}, {dates[k]} (mm)", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=fig.axes[1:], shrink=0.8, label="mm")
    fig.suptitle(command, fontsize=8)
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return out_png


def markdown_table(numbers):
    s = numbers["series"]
    names = list(s)
    rows = [("NE box (rows 0-35, cols 75-99) median velocity (mm/yr)", "ne_bowl_median_mm_yr", ".0f"),
            ("minimum velocity (mm/yr)", "min_mm_yr", ".0f"),
            ("1st percentile of velocity (mm/yr)", "p1_mm_yr", ".0f"),
            ("velocity at the raw minimum (row 12, col 88) (mm/yr)", "at_raw_min_pixel_mm_yr", ".0f"),
            ("area with velocity < -100 mm/yr (km²)", "area_below_-100_km2", ".1f"),
            ("area with velocity < -200 mm/yr (km²)", "area_below_-200_km2", ".1f"),
            ("overlap (IoU) of the < -100 mm/yr area with the raw one", "area_below_-100_overlap_with_raw", ".2f"),
            ("stable hill (rows 6-9, cols 74-79) median velocity (mm/yr)", "stable_patch_median_mm_yr", ".0f"),
            ("west (cols 0-9) median velocity (mm/yr)", "west_median_mm_yr", ".1f"),
            ("velocity: correlation with raw (mask)", "velocity_corr_with_raw", ".3f"),
            ("velocity: RMS difference from raw (mm/yr)", "velocity_rms_diff_from_raw_mm_yr", ".1f"),
            ("last date, bowl*: median displacement (mm)", "last_date_bowl_median_mm", ".0f"),
            ("last date, bowl*: median ratio to raw", "last_date_bowl_ratio_to_raw", ".2f"),
            ("last date, bowl*: gain (slope on raw)", "last_date_bowl_gain", ".2f"),
            ("last date, bowl*: correlation with raw", "last_date_bowl_corr_with_raw", ".3f")]
    out = ["| quantity | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for label, key, fmt in rows:
        out.append(f"| {label} | " + " | ".join(format(s[n][key], fmt) for n in names) + " |")
    out.append("")
    out.append(f"bowl* = the {numbers['bowl_pixels_raw_below_-100']} reliable pixels where the raw "
               "velocity is below -100 mm/yr.")
    out.append("")
    rem = numbers["removed"]
    keys = [k for k in rem]
    out.append("| date | " + " | ".join(keys) + " |")
    out.append("|---|" + "---:|" * len(keys))
    for i, d in enumerate(numbers["dates"]):
        out.append(f"| {d} | " + " | ".join(f"{rem[k][i]:.1f}" for k in keys) + " |")
    out.append("")
    out.append("RMS per date in mm over maskTempCoh.h5 (MintPy's `get_residual_rms`, the engine of "
               "`timeseries_rms.py`).")
    return "\n".join(out) + "\n"


def main(iargs=None):
    inps = create_parser().parse_args(iargs)
    inps.data = os.path.abspath(inps.data)
    inps.fig_dir = os.path.abspath(inps.fig_dir)
    cwd = os.getcwd()
    try:
        work, runs, commands = run_all(inps)
        numbers, mask, _ = measure(work, runs)
    finally:
        os.chdir(cwd)
    os.makedirs(inps.fig_dir, exist_ok=True)      # after run_all: it may lie in the fresh work folder
    from mintpy_dlae.denoise_file import model_sha256
    numbers["models"] = {n: {"model": f["model"], "sha256": model_sha256(f["model"])}
                         for n, f in runs.items() if "model" in f}
    numbers["commands"] = commands
    command = "python docs/examples/mexico_city.py"
    figs = [plot_velocity(runs, mask, os.path.join(inps.fig_dir, "mexico_velocity.png"), command),
            plot_profiles(runs, mask, numbers["dates"],
                          os.path.join(inps.fig_dir, "mexico_profiles.png"), command),
            plot_removed(runs, numbers, mask, numbers["dates"],
                         os.path.join(inps.fig_dir, "mexico_removed.png"), command)]
    with open(os.path.join(inps.fig_dir, "mexico_numbers.json"), "w") as f:
        json.dump(numbers, f, indent=1)
    table = markdown_table(numbers)
    with open(os.path.join(inps.fig_dir, "mexico_numbers.md"), "w") as f:
        f.write(table)
    print(table)
    print("\n".join(["figures:"] + [f"  {p}" for p in figs]))
    return numbers


if __name__ == "__main__":
    main(sys.argv[1:])
