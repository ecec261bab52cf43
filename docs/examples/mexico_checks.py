#!/usr/bin/env python3
"""Mexico City: the checks docs/real_data.md quotes besides mexico_numbers.json, made reproducible.

Run after ``python docs/examples/mexico_city.py`` (it reads that script's work folder)::

    python docs/examples/mexico_checks.py        # -> docs/figures/mexico_checks.json, mexico_uncertainty.png

Measured, for each model (reliable pixels = maskTempCoh.h5; bowl = reliable pixels whose raw
MintPy velocity is below -100 mm/yr; gain = least-squares slope of denoised on raw):

- ``wavelength``: the last-date displacement split into a long-wavelength part (Gaussian,
  sigma = 8 px, normalised by the filtered mask) and the rest; the gain of each part.
- ``hill``: the Penon de los Banos hill (rows 6-9, cols 74-79) relative to the subsiding ground just
  west of it (rows 2-11, cols 66-71), last date, difference of the two medians (mm).
- ``rim``: median |denoised - raw velocity| (mm/yr) on the outermost row/column of each frame edge,
  one pixel in from it, and inside (all but the outermost rows and columns).
- ``uncertainty``: from ``cumulative_demErr_MODEL.h5`` (last 9-date window), the median 1-sigma
  ``cumulativeStd`` and ``significance`` = |mean| / sigma in the bowl, the stable west (cols 0-9)
  and the hill, and the share of pixels with significance above 3; from ``timeseriesVar_*`` the
  median 1-sigma of the last date; and MintPy's ``velocityStd`` (mm/yr) with the default
  ``--uq residue`` and with ``--uq covariance --ts-cov timeseriesVar_demErr_MODEL.h5``.
- ``fastest_pixel``: the series (mm) at the fastest pixel (row 12, col 88; 3 x 3 mean, as in
  mexico_profiles.png), raw and per model.
- ``precision``: the bowl numbers of the last date (correlation, median ratio, gain) with
  ``--precision float32`` and ``--precision bfloat16`` (the run of mexico_city.py uses ``auto``:
  bfloat16 on CPUs with AMX/AVX512-BF16), to see how much they move with the arithmetic.
"""
import argparse
import contextlib
import io
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import mexico_city as mc  # noqa: E402

HILL = mc.STABLE_PATCH
HILL_WEST = (slice(2, 12), slice(66, 72))
LAST_WINDOW = "20180331_20180717"
SIGMA_LONG = 8.0


def create_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__)
    p.add_argument("--work-dir", default="mexico_city_work",
                   help="work folder of mexico_city.py (default: %(default)s)")
    p.add_argument("--fig-dir", default=mc.FIGS, help="output folder (default: %(default)s)")
    p.add_argument("--models", nargs="+", default=["fault", "mogi"])
    p.add_argument("--no-precision", action="store_true", help="skip the precision reruns")
    return p


def gain(den, raw):
    return float(np.sum(den * raw) / np.sum(raw * raw))


def bowl_numbers(den, raw):
    return {"corr": float(np.corrcoef(den, raw)[0, 1]),
            "median_ratio": float(np.median(den) / np.median(raw)), "gain": gain(den, raw)}


def fastest(ts):
    r, c = mc.MIN_PIXEL
    return [float(v) for v in ts[:, r - 1:r + 2, c - 1:c + 2].mean(axis=(1, 2))]


def long_wavelength(a, mask):
    from scipy.ndimage import gaussian_filter
    num = gaussian_filter(np.where(mask, a, 0.0), SIGMA_LONG)
    den = gaussian_filter(mask.astype(float), SIGMA_LONG)
    return num / np.maximum(den, 1e-6)


def rim(dv, mask):
    """Median |dv| over reliable pixels on each edge (outermost, one in) and inside."""
    a = np.where(mask, np.abs(dv), np.nan)
    out = {}
    for name, take in (("top", lambda k: a[k]), ("bottom", lambda k: a[-1 - k]),
                       ("left", lambda k: a[:, k]), ("right", lambda k: a[:, -1 - k])):
        out[f"{name}_outermost"] = float(np.nanmedian(take(0)))
        out[f"{name}_one_in"] = float(np.nanmedian(take(1)))
    out["inside"] = float(np.nanmedian(a[1:-1, 1:-1]))
    return out


def velocity_cov(work, name):
    """timeseries2velocity.py --uq covariance --ts-cov timeseriesVar_demErr_NAME.h5."""
    import mintpy.cli.timeseries2velocity as ts2vel
    out = os.path.join(work, f"velocity_{name}_cov.h5")
    with contextlib.redirect_stdout(io.StringIO()):
        ts2vel.main([os.path.join(work, f"timeseries_demErr_{name}.h5"), "--uq", "covariance",
                     "--ts-cov", os.path.join(work, f"timeseriesVar_demErr_{name}.h5"),
                     "-o", out])
    return out


def rerun(work, model, precision):
    from mintpy_dlae.cli import denoise as dlae_cli
    out = os.path.join(work, f"timeseries_demErr_{model}_{precision}.h5")
    with contextlib.redirect_stdout(io.StringIO()):
        dlae_cli.main([os.path.join(work, "timeseries_demErr.h5"), "-g",
                       os.path.join(work, "inputs", "geometryGeo.h5"), "-m",
                       os.path.join(work, "maskTempCoh.h5"), "--model", model, "--precision",
                       precision, "--no-cumulative", "--no-uncertainty", "--no-progress",
                       "--force", "-o", out])
    return out


def plot_uncertainty(work, models, mask, out_png):
    plt = mc._plt()
    fig, axes = plt.subplots(len(models), 3, figsize=(12, 3.3 * len(models)), squeeze=False,
                             layout="constrained")
    for i, n in enumerate(models):
        f = os.path.join(work, f"cumulative_demErr_{n}.h5")
        cum = 1e3 * mc.read(f, f"cumulative_{LAST_WINDOW}")
        std = 1e3 * mc.read(f, f"cumulativeStd_{LAST_WINDOW}")
        sig = mc.read(f, f"significance_{LAST_WINDOW}")
        for ax, a, kw, title, lab in (
                (axes[i, 0], cum, dict(cmap="RdBu_r", vmin=-160, vmax=160), "cumulative", "mm"),
                (axes[i, 1], std, dict(cmap="viridis", vmin=0, vmax=15), "cumulativeStd", "mm"),
                (axes[i, 2], sig, dict(cmap="magma", vmin=0, vmax=10),
                 "significance |mean|/sigma (contour 3)", "")):
            im = ax.imshow(np.where(mask, a, np.nan), interpolation="nearest", **kw)
            if ax is axes[i, 2]:
                ax.contour(np.nan_to_num(np.where(mask, a, 0.0)), levels=[3], colors="c",
                           linewidths=0.7)
            ax.add_patch(plt.Rectangle((73.5, 5.5), 6, 4, fill=False, ec="g", lw=1))
            ax.set_title(f"{n}: {title}", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
            fig.colorbar(im, ax=ax, shrink=0.8, label=lab)
    fig.suptitle(f"last 9-date window {LAST_WINDOW} (green: the Penon hill)\n"
                 "python docs/examples/mexico_checks.py", fontsize=8)
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return out_png


def main(iargs=None):
    inps = create_parser().parse_args(iargs)
    work = os.path.abspath(inps.work_dir)
    mask = mc.read(os.path.join(work, "maskTempCoh.h5")).astype(bool)
    vel_raw = 1e3 * mc.read(os.path.join(work, "velocity_raw.h5"), "velocity")
    bowl = mask & (vel_raw < mc.THRESHOLDS[0])
    ts_raw = 1e3 * mc.read(os.path.join(work, "timeseries_demErr.h5"))
    west = mask.copy()
    west[:, 10:] = False
    hill = np.zeros_like(mask)
    hill[HILL] = True
    hill &= mask
    med = lambda a, region: float(np.median(a[region]))   # noqa: E731
    hill_rel = lambda last: float(np.median(last[HILL][mask[HILL]])     # noqa: E731
                                  - np.median(last[HILL_WEST][mask[HILL_WEST]]))
    long_raw = long_wavelength(ts_raw[-1], mask)
    short_raw = ts_raw[-1] - long_raw
    vstd_raw = 1e3 * mc.read(os.path.join(work, "velocity_raw.h5"), "velocityStd")
    out = {"work_dir": os.path.basename(work), "last_window": LAST_WINDOW,
           "hill": {"raw": {"last_date_rel_mm": hill_rel(ts_raw[-1])}},
           "fastest_pixel": {"raw": fastest(ts_raw)}, "wavelength": {}, "rim": {}, "uncertainty": {}, "precision": {},
           "velocity_std_raw_residue": {"bowl_mm_yr": med(vstd_raw, bowl),
                                        "west_mm_yr": med(vstd_raw, west)}}
    for n in inps.models:
        ts = 1e3 * mc.read(os.path.join(work, f"timeseries_demErr_{n}.h5"))
        last = ts[-1]
        out["fastest_pixel"][n] = fastest(ts)
        lo = long_wavelength(last, mask)
        out["wavelength"][n] = {"long_gain": gain(lo[mask], long_raw[mask]),
                                "short_gain": gain((last - lo)[mask], short_raw[mask])}
        out["hill"][n] = {"last_date_rel_mm": hill_rel(last)}
        vel = 1e3 * mc.read(os.path.join(work, f"velocity_{n}.h5"), "velocity")
        out["rim"][n] = rim(vel - vel_raw, mask)
        f = os.path.join(work, f"cumulative_demErr_{n}.h5")
        std = 1e3 * mc.read(f, f"cumulativeStd_{LAST_WINDOW}")
        sig = mc.read(f, f"significance_{LAST_WINDOW}")
        var = mc.read(os.path.join(work, f"timeseriesVar_demErr_{n}.h5"))
        sd_last = 1e3 * np.sqrt(np.maximum(var[-1], 0))
        vstd_res = 1e3 * mc.read(os.path.join(work, f"velocity_{n}.h5"), "velocityStd")
        vstd_cov = 1e3 * mc.read(velocity_cov(work, n), "velocityStd")
        u = {}
        for region, m in (("bowl", bowl), ("west", west), ("hill", hill)):
            u[f"{region}_window_std_mm"] = med(std, m)
            u[f"{region}_significance"] = med(sig, m)
            u[f"{region}_share_significance_above_3"] = float(np.mean(sig[m] > 3))
            u[f"{region}_last_date_sigma_mm"] = med(sd_last, m)
            u[f"{region}_velocity_std_residue_mm_yr"] = med(vstd_res, m)
            u[f"{region}_velocity_std_covariance_mm_yr"] = med(vstd_cov, m)
        out["uncertainty"][n] = u
        if not inps.no_precision:
            for prec in ("float32", "bfloat16"):
                den = 1e3 * mc.read(rerun(work, n, prec))[-1]
                out["precision"][f"{n}_{prec}"] = bowl_numbers(den[bowl], ts_raw[-1][bowl])
    os.makedirs(inps.fig_dir, exist_ok=True)
    with open(os.path.join(inps.fig_dir, "mexico_checks.json"), "w") as f:
        json.dump(out, f, indent=1)
    png = plot_uncertainty(work, inps.models, mask,
                           os.path.join(inps.fig_dir, "mexico_uncertainty.png"))
    print(json.dumps(out, indent=1))
    print(png)
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
