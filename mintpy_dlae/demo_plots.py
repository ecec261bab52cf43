"""Numbers and figures of the demo (``dlae_demo.py``): the denoised synthetic project against its truth.

``demo_results(work_dir)`` reads what ``dlae_demo.py`` (``build_project`` + ``smallbaselineApp_dlae``)
left in ``work_dir`` and returns one :class:`DemoResults`:

* ``input``  - ``timeseries_ERA5.h5``, the ERA5-corrected series that ``correct_dlae`` reads;
* ``output`` - ``timeseries_ERA5_DLAE.h5``, the denoised series;
* ``cumulative`` - ``cumulative_ERA5_DLAE.h5``, the network's moving 9-date-window maps;
* ``truth``  - ``truth.h5``, re-referenced to the same pixel and date as the MintPy files.

The *event window* is the 9-date window that best covers the slow-slip event (its onset and end
dates are in ``truth.h5``, attribute ``mintpy.dlae.synthetic.source``). Its cumulative map is the
paper's product (Rouet-Leduc et al. 2021, Fig. 3): input = ERA5-corrected series at the window's
last date minus its first date; output = the network's cumulative map of that window.

:func:`metrics` compares input and output with the truth, :func:`plot_demo` draws the maps, the
fault-perpendicular profile (through the source centroid) and the series at the peak pixel, and
:func:`plot_windows` draws all moving-window maps. Everything is in LOS millimetres.
"""
import dataclasses
import json
import os

import numpy as np

WINDOW = 9
SWATH_PX = 2           # half-width (px) of the profile swath, along strike


@dataclasses.dataclass
class DemoResults:
    dates: list
    input: np.ndarray          # (n, H, W) mm, ERA5-corrected series, MintPy reference
    output: np.ndarray         # (n, H, W) mm, denoised series
    cumulative: np.ndarray     # (n-8, H, W) mm, network's moving-window maps
    truth: np.ndarray          # (n, H, W) mm; all series relative to the first date and REF_Y/X
    valid: np.ndarray          # (H, W) bool
    source: dict               # truth.h5 source parameters (metres, degrees)
    kind: str
    ref_yx: tuple
    window: int                # index k of the event window (dates k .. k+8)
    centre_px: tuple           # (row, col) of the source centroid's surface projection
    pixel_m: tuple             # (dy, dx) pixel size in metres

    def window_maps(self, k=None):
        """(input, output, truth) cumulative maps of window k (default: the event window)."""
        k = self.window if k is None else k
        last = k + WINDOW - 1
        return (self.input[last] - self.input[k], self.cumulative[k],
                self.truth[last] - self.truth[k])

    @property
    def window_dates(self):
        return self.dates[self.window], self.dates[self.window + WINDOW - 1]


def event_window(onset, end, num_date):
    """First date k of the 9-date window that contains the event [onset, end], centred on it."""
    k = onset - max(0, (WINDOW - 1 - (end - onset)) // 2)
    return int(np.clip(k, 0, num_date - WINDOW))


def demo_results(work_dir, input_name="timeseries_ERA5.h5", output_name="timeseries_ERA5_DLAE.h5"):
    """Read the demo's input, output and truth from ``work_dir`` (see the module docstring)."""
    from mintpy.utils import readfile

    from mintpy_dlae.project import _grid_metres
    from mintpy_dlae.denoise_file import output_files

    path = lambda name: os.path.join(work_dir, name)   # noqa: E731
    truth, tatr = readfile.read(path("truth.h5"))
    inp, atr = readfile.read(path(input_name))
    out = readfile.read(path(output_name))[0]
    dates = readfile.get_slice_list(path(input_name))
    dates = [d.split("-")[-1] for d in dates]
    cum_file = output_files(path(input_name), path(output_name))["cumulative"]
    cum_names = [n for n in readfile.get_slice_list(cum_file) if n.startswith("cumulative_")]
    cum = np.stack([readfile.read(cum_file, datasetName=n)[0] for n in cum_names])

    # Everything relative to the first date and the reference pixel. MintPy's reference_date step
    # picks the date of least residual RMS, which depends on the denoised series; the first date
    # makes the numbers comparable between runs ("displacement since the first acquisition").
    ry, rx = int(atr["REF_Y"]), int(atr["REF_X"])
    refd = lambda x: x - x[0] - (x[:, ry, rx] - x[0, ry, rx])[:, None, None]   # noqa: E731
    truth, inp, out = refd(truth), refd(inp), refd(out)
    cum = cum - cum[:, ry, rx][:, None, None]

    valid = np.all(np.isfinite(inp) & np.isfinite(out), axis=0) & np.all(np.isfinite(cum), axis=0)
    valid &= np.any(inp != 0, axis=0)
    valid[ry, rx] = True
    mask_file = path("maskTempCoh.h5")
    if os.path.isfile(mask_file):
        valid &= readfile.read(mask_file)[0].astype(bool)

    source = json.loads(tatr["mintpy.dlae.synthetic.source"])
    length, width = truth.shape[1:]
    east, north = _grid_metres(length, width)
    dx, dy = east[0, 1] - east[0, 0], north[0, 0] - north[1, 0]
    xc, yc = (source["xc"], source["yc"]) if "xc" in source else (source["xs"], source["ys"])
    centre = ((length - 1) / 2 - yc / dy, xc / dx + (width - 1) / 2)
    k = event_window(int(source["onset_index"]), int(source["end_index"]), len(dates))
    mm = lambda x: (1e3 * np.asarray(x, np.float64))   # noqa: E731
    return DemoResults(dates=dates, input=mm(inp), output=mm(out), cumulative=mm(cum),
                       truth=mm(truth), valid=valid, source=source,
                       kind=tatr.get("mintpy.dlae.synthetic.kind", source.get("kind", "fault")),
                       ref_yx=(ry, rx), window=k, centre_px=centre, pixel_m=(dy, dx))


# ------------------------------------------------------------------------------------ numbers
def compare(x, truth, valid):
    """RMS error, correlation and gain (least-squares slope of x on the truth) over ``valid``."""
    x, t = x[valid], truth[valid]
    return {"rms_error_mm": float(np.sqrt(np.mean((x - t) ** 2))),
            "correlation": float(np.corrcoef(x, t)[0, 1]),
            "gain": float(np.sum(x * t) / np.sum(t * t))}


def metrics(res):
    """Recovered-versus-true numbers of the event window and of the whole series (dict)."""
    inp, out, tru = res.window_maps()
    ipk = np.unravel_index(np.argmax(np.where(res.valid, np.abs(tru), -1)), tru.shape)
    win = tuple(slice(max(i - 1, 0), i + 2) for i in ipk)
    event = {}
    for name, x in (("input", inp), ("denoised", out),
                    ("denoised_series", res.output[res.window + WINDOW - 1] - res.output[res.window]),
                    ("truth", tru)):
        d = compare(x, tru, res.valid)
        d["at_true_peak_mm"] = float(np.mean(x[win]))
        event[name] = d
    series = {}
    for name, x in (("input", res.input), ("denoised", res.output)):
        err = (x - res.truth)[:, res.valid]
        series[name] = {"rms_error_mm": float(np.sqrt(np.mean(err ** 2))),
                        "last_date_correlation": float(np.corrcoef(
                            x[-1][res.valid], res.truth[-1][res.valid])[0, 1]),
                        "last_date_rms_error_mm": float(np.sqrt(np.mean(err[-1] ** 2)))}
    return {"window": list(res.window_dates), "event_snr": event_snr(res), "true_peak_pixel": [int(i) for i in ipk],
            "true_peak_mm": float(tru[ipk]), "event": event, "series": series,
            "num_valid_pixels": int(res.valid.sum())}


def event_snr(res):
    """SNR of the event window in the paper's definition (as ``synthetic.paper_snr``): the mean
    |true cumulative displacement| over the std of the noise (input minus truth) over the window's
    dates and pixels, each pixel's mean over the window removed (the series' referencing offset)."""
    k = res.window
    noise = (res.input - res.truth)[k:k + WINDOW][:, res.valid]
    noise = noise - noise.mean(axis=0)
    signal = (res.truth[k + WINDOW - 1] - res.truth[k])[res.valid]
    return float(np.mean(np.abs(signal)) / np.std(noise))


def format_metrics(m):
    """The table that dlae_demo.py prints."""
    e = m["event"]
    lines = [f"Recovered versus true (LOS mm), event window {m['window'][0]}-{m['window'][1]} "
             f"(9-date cumulative displacement, {m['num_valid_pixels']} pixels), "
             f"SNR {m['event_snr']:.2f} (paper definition; docs/evaluation.md gives R² against SNR):",
             f"  {'':<34}{'RMS error':>10}{'corr':>7}{'gain':>7}{'at peak':>9}",
             ]
    rows = (("input (ERA5-corrected)", "input"), ("denoised (network cumulative map)", "denoised"),
            ("denoised (stitched time series)", "denoised_series"), ("truth", "truth"))
    for label, key in rows:
        d = e[key]
        lines.append(f"  {label:<34}{d['rms_error_mm']:10.2f}{d['correlation']:7.2f}"
                     f"{d['gain']:7.2f}{d['at_true_peak_mm']:9.1f}")
    s = m["series"]
    lines += ["  (gain = least-squares slope against the truth, 1 = amplitude kept; at peak = 3x3 mean"
              " at the true peak pixel)",
              "Whole time series (displacement since the first date):",
              f"  RMS error, all dates          input {s['input']['rms_error_mm']:6.2f} mm -> "
              f"denoised {s['denoised']['rms_error_mm']:6.2f} mm",
              f"  RMS error, last date          input {s['input']['last_date_rms_error_mm']:6.2f} mm"
              f" -> denoised {s['denoised']['last_date_rms_error_mm']:6.2f} mm",
              f"  correlation with the truth, last date: input "
              f"{s['input']['last_date_correlation']:.2f} -> denoised "
              f"{s['denoised']['last_date_correlation']:.2f}"]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------- profile
def profile_line(res):
    """Unit vectors (row, col per pixel step) across and along strike, through the centroid."""
    dy, dx = res.pixel_m
    if res.kind == "fault":
        s = np.deg2rad(res.source["strike"])
        along_en = np.array([np.sin(s), np.cos(s)])          # (east, north)
    else:
        along_en = np.array([0.0, 1.0])                       # Mogi: an east-west profile
    across_en = np.array([along_en[1], -along_en[0]])        # to the right of strike
    to_rc = lambda v: np.array([-v[1] / dy, v[0] / dx]) * min(dx, dy)   # noqa: E731
    return to_rc(across_en), to_rc(along_en)


def profile(res, image, swath=SWATH_PX):
    """Swath profile of ``image`` across strike: (distance km, mean, valid-sample count)."""
    from scipy.ndimage import map_coordinates
    across, along = profile_line(res)
    H, W = image.shape
    n = int(np.hypot(H, W))
    d = np.arange(-n, n + 1, dtype=float)
    offsets = np.arange(-swath, swath + 1, dtype=float)
    rows = res.centre_px[0] + d[:, None] * across[0] + offsets[None] * along[0]
    cols = res.centre_px[1] + d[:, None] * across[1] + offsets[None] * along[1]
    inside = (rows >= 0) & (rows <= H - 1) & (cols >= 0) & (cols <= W - 1)
    good = (res.valid & np.isfinite(image)).astype(float)
    img = np.where(good > 0, image, 0.0)
    val = map_coordinates(img, [rows.ravel(), cols.ravel()], order=1).reshape(rows.shape)
    wgt = map_coordinates(good, [rows.ravel(), cols.ravel()], order=1).reshape(rows.shape)
    wgt = np.where(inside, wgt, 0.0)
    num = np.sum(np.where(wgt > 0.5, val, 0.0), axis=1)
    cnt = np.sum(wgt > 0.5, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(cnt > 0, num / np.maximum(cnt, 1), np.nan)
    keep = cnt > 0
    step_km = min(res.pixel_m) / 1e3
    return d[keep] * step_km, mean[keep], cnt[keep]


# ----------------------------------------------------------------------------------- figures
def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _map(fig, ax, img, valid, vmax, title, cmap="RdBu_r", pixel_m=None, labels=True):
    """A map in pixel coordinates; with ``pixel_m`` (dy, dx) the axes are labelled in km from the
    frame's upper-left corner, otherwise they carry no ticks."""
    im = ax.imshow(np.where(valid, img, np.nan), cmap=cmap, vmin=-vmax, vmax=vmax,
                   interpolation="nearest")
    ax.set_title(title, fontsize=8)
    if pixel_m is None:
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        _km_axes(ax, pixel_m, labels)
    return im


def _km_axes(ax, pixel_m, labels=True):
    """Tick labels in km (pixel centres: 0 km at the first row/column), whole-km ticks."""
    from matplotlib.ticker import FuncFormatter, MultipleLocator
    dy, dx = pixel_m
    for axis, step in ((ax.xaxis, dx), (ax.yaxis, dy)):
        km_per_px = step / 1e3
        axis.set_major_locator(MultipleLocator(_nice_step(km_per_px, axis) / km_per_px))
        axis.set_major_formatter(FuncFormatter(lambda v, _, f=km_per_px: f"{v * f:g}"))
    ax.tick_params(labelsize=6, length=2)
    if labels:
        ax.set_xlabel("km (east)", fontsize=7)
        ax.set_ylabel("km (south)", fontsize=7)
    else:
        ax.set_yticklabels([])


def _nice_step(km_per_px, axis, target=4):
    lo, hi = sorted(axis.axes.get_xlim() if axis is axis.axes.xaxis else axis.axes.get_ylim())
    extent = (hi - lo) * km_per_px
    for step in (0.5, 1, 2, 5, 10, 20, 50, 100):
        if extent / step <= target:
            return step
    return 200


def _draw_geometry(ax, res):
    """Profile line, fault trace (or source), reference point; returns the legend handles."""
    across, along = profile_line(res)
    cy, cx = res.centre_px
    H, W = res.valid.shape
    n = int(np.hypot(H, W))
    handles = ax.plot([cx - n * across[1], cx + n * across[1]],
                      [cy - n * across[0], cy + n * across[0]], "k--", lw=0.8,
                      label="profile line")
    if res.kind == "fault":
        half = 0.5 * res.source["length"] / min(res.pixel_m)
        handles += ax.plot([cx - half * along[1], cx + half * along[1]],
                           [cy - half * along[0], cy + half * along[0]], "-", color="0.2", lw=2.0,
                           label="fault trace (surface projection)")
        handles += ax.plot(cx, cy, "k+", ms=6, label="fault centroid")
    else:
        handles += ax.plot(cx, cy, "k+", ms=6, label="Mogi source")
    ry, rx = res.ref_yx
    if 0 <= ry < H and 0 <= rx < W:
        handles += ax.plot(rx, ry, "ks", ms=3, mfc="none", label="reference point (REF_Y/X)")
    ax.set_xlim(-0.5, W - 0.5)
    ax.set_ylim(H - 0.5, -0.5)
    return handles


def plot_demo(res, out_png, m=None, command="dlae_demo.py"):
    """Maps of the event window (input, denoised, truth, removed), the fault-perpendicular profile
    and the time series at the true peak pixel (the paper's Figs. 3 and 4, on synthetic data)."""
    plt = _plt()
    m = m or metrics(res)
    inp, out, tru = res.window_maps()
    vmax = 1.1 * np.nanmax(np.abs(tru[res.valid]))
    fig = plt.figure(figsize=(12, 7.6), layout="constrained")
    gs = fig.add_gridspec(2, 4, height_ratios=[1, 1])
    d0, d1 = res.window_dates
    e = m["event"]
    panels = [(inp, f"input (ERA5-corrected series)\nRMS error {e['input']['rms_error_mm']:.1f} "
                    f"mm, corr {e['input']['correlation']:.2f}"),
              (out, f"denoised cumulative (network)\nRMS error {e['denoised']['rms_error_mm']:.1f} "
                    f"mm, corr {e['denoised']['correlation']:.2f}"),
              (tru, f"ground truth ({res.kind})\nat peak {e['truth']['at_true_peak_mm']:.1f} mm "
                    "(3x3 mean, as in the table)"),
              (inp - out, "removed (input - denoised)\n")]
    for j, (img, title) in enumerate(panels):
        ax = fig.add_subplot(gs[0, j])
        im = _map(fig, ax, img, res.valid, vmax, title, pixel_m=res.pixel_m, labels=j == 0)
        handles = _draw_geometry(ax, res)
    fig.colorbar(im, ax=fig.axes[:4], shrink=0.9, label="LOS displacement (mm)")
    fig.axes[0].legend(handles=handles, fontsize=6, loc="lower left", framealpha=0.8)

    ax = fig.add_subplot(gs[1, :2])
    for img, label, style in ((inp, "input (ERA5-corrected)", dict(color="0.55", lw=1)),
                              (out, "denoised", dict(color="C3", lw=2)),
                              (tru, "truth", dict(color="k", lw=1.5, ls="--"))):
        dist, prof, _ = profile(res, img)
        ax.plot(dist, prof, label=label, **style)
    ax.axvline(0, color="0.7", lw=0.6)
    ax.axhline(0, color="0.7", lw=0.6)
    what = "fault-perpendicular profile through the fault centroid" if res.kind == "fault" \
        else "east-west profile through the source"
    ax.set_title(f"{what} (swath {2 * SWATH_PX + 1} px; dashed line on the maps)", fontsize=8)
    ax.set_xlabel("distance across strike (km)" if res.kind == "fault" else "distance (km)")
    ax.set_ylabel("LOS (mm)")
    ax.legend(fontsize=7)

    ax = fig.add_subplot(gs[1, 2:])
    r, c = m["true_peak_pixel"]
    win = (slice(None), slice(max(r - 1, 0), r + 2), slice(max(c - 1, 0), c + 2))
    t = np.arange(len(res.dates))
    for x, label, style in ((res.input, "input (ERA5-corrected)", dict(color="0.55", marker=".")),
                            (res.output, "denoised time series", dict(color="C3", lw=2)),
                            (res.truth, "truth", dict(color="k", ls="--"))):
        ax.plot(t, x[win].mean(axis=(1, 2)), label=label, **style)
    ax.axvspan(res.window, res.window + WINDOW - 1, color="C0", alpha=0.08, label="event window")
    ax.set_xticks(t[::max(1, len(t) // 6)])
    ax.set_xticklabels([res.dates[i] for i in t[::max(1, len(t) // 6)]], fontsize=7)
    ax.set_ylabel("LOS (mm)")
    ax.set_title(f"time series at the true peak pixel (row {r}, col {c}, 3x3 mean)", fontsize=8)
    ax.legend(fontsize=7)
    fig.suptitle(f"synthetic {'slow-slip' if res.kind == 'fault' else 'Mogi'} demo: 9-date "
                 f"cumulative displacement {d0}-{d1} (made by: {command})", fontsize=10)
    fig.savefig(out_png, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return out_png


def plot_windows(res, out_png, max_windows=6, command="dlae_demo.py"):
    """All (up to ``max_windows``, evenly spread) moving-window maps: input, denoised, truth."""
    plt = _plt()
    num = res.cumulative.shape[0]
    ks = np.unique(np.linspace(0, num - 1, min(num, max_windows)).round().astype(int))
    if res.window not in ks:
        ks = np.sort(np.append(ks[np.argsort(np.abs(ks - res.window))[1:]], res.window))
    vmax = 1.1 * np.nanmax(np.abs(res.truth[:, res.valid]))
    fig, axes = plt.subplots(3, len(ks), figsize=(2.1 * len(ks) + 0.8, 6.3), squeeze=False,
                             layout="constrained")
    for j, k in enumerate(ks):
        maps = res.window_maps(k)
        for i, (img, label) in enumerate(zip(maps, ("input", "denoised", "truth"))):
            title = ""
            if i == 0:
                title = (f"window {k + 1} of {num}" + (" (event)" if k == res.window else "")
                         + f"\n{res.dates[k]}-{res.dates[k + WINDOW - 1]}")
            im = _map(fig, axes[i, j], img, res.valid, vmax, title)
            if j == 0:
                axes[i, j].set_ylabel(label, fontsize=9)
    fig.colorbar(im, ax=axes, shrink=0.7, label="LOS (mm)")
    which = (f"all {num} windows" if len(ks) == num else
             f"{len(ks)} of the {num} windows (evenly spread, and the event window)")
    fig.suptitle(f"moving 9-date-window cumulative displacement: {which} "
                 f"(made by: {command})", fontsize=9)
    fig.savefig(out_png, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return out_png
