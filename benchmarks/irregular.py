"""Steady motion over irregular acquisition dates, in the real noise of tests/data/pyrate_cropA.

    python benchmarks/irregular.py --model fault --model mogi [--json docs/figures/irregular.json]

The network sees 9 acquisitions and no dates (as in the paper).  Real stacks have gaps: missed
acquisitions, winters of snow-covered dates dropped by the user, a satellite lost (Sentinel-1B,
December 2021), Envisat's irregular 35-day sampling.  A constant rate in time then makes increments
that follow the gaps: across a gap of 6 repeat cycles the motion of 6 intervals arrives at once.

Noise and injection as ``benchmarks/injection.py`` (detrended ``timeseries_demErr.h5``, a Mogi bowl
and an Okada thrust at row 35, col 25, 2x and 5x the std of the window's cumulative noise), with a
history that is steady in time, (t - t0) / (t_last - t0), for gap patterns given as the intervals in
repeat cycles (gaps of 6 cycles, and of 2 and 3 at the end of a window):

- ``window``: 9-date windows 0-8 and 4-12 (mean), gain of the cumulative map (least-squares slope
  of the denoised map on the injected one over the valid pixels, ``injection.gain_and_correlation``);
- ``series``: all 13 dates, the denoised time series (the stitched windows that ``mintpy_dlae.py``
  writes), gain of the least-squares velocity (what ``timeseries2velocity.py`` fits, against the
  real times) on the injected velocity, with the raw series' for reference.  The injected peak is
  5x the std of the noise's 13-date cumulative map.

``--augment`` as ``injection.py`` (default auto: 8 symmetric copies on this crop).
"""
import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from injection import CENTER, WINDOWS, load  # noqa: E402

GAP = 6
WINDOW_PATTERNS = {"regular": [1] * 8, "gap in the middle": [1, 1, 1, GAP, 1, 1, 1, 1],
                   "envisat-like": [1, 2, 1, 4, 1, 1, 3, 2],
                   "gap at the start": [GAP] + [1] * 7, "gap of 2 at the end": [1] * 7 + [2],
                   "gap of 3 at the end": [1] * 7 + [3], "gap at the end": [1] * 7 + [GAP]}
SERIES_PATTERNS = {"regular": [1] * 12, "gap in the middle": [1] * 6 + [GAP] + [1] * 5,
                   "gap after date 2": [1, GAP] + [1] * 10, "gap before the last date": [1] * 11 + [GAP],
                   "envisat-like": [1, 2, 1, 4, 1, 1, 3, 2, 1, 1, 5, 1]}


def times(intervals):
    return np.concatenate([[0.0], np.cumsum(intervals)]).astype(np.float64)


def velocity(series, t, valid):
    """Least-squares rate (per unit of t) of each valid pixel of ``series`` (n, H, W)."""
    G = np.stack([np.ones_like(t), t - t.mean()], axis=1)
    return np.linalg.lstsq(G, series[:, valid].astype(np.float64), rcond=None)[0][1]


def measure(model, noise, height, valid, augment="auto"):
    from mintpy_dlae.inference import denoise
    from mintpy_dlae.injection import gain_and_correlation, history, signal_map, window_noise
    kw = {"augment": augment}
    shapes = {k: signal_map(k, noise.shape[1:], CENTER) for k in ("mogi", "fault")}
    out = {"window": {}, "series": {}}
    for name, iv in WINDOW_PATTERNS.items():
        h = history("steady", 9, times(iv))
        cell = {}
        for kind, shape in shapes.items():
            for f in (2.0, 5.0):
                g = []
                for k in WINDOWS:
                    w = window_noise(noise, valid, k)
                    truth = f * float((w[-1] - w[0])[valid].std()) * shape
                    data = np.where(valid[None], w + h[:, None, None] * truth[None], 0.0).astype(np.float32)
                    res = denoise(data, height, model=model, mask=valid, **kw)
                    g.append(gain_and_correlation(np.nan_to_num(res.cumulative[0]), truth, valid)[0])
                cell[f"{kind}_{f:g}x"] = round(float(np.mean(g)), 3)
        out["window"][name] = cell
        print(f"  window  {name:26s}", "  ".join(f"{k} {v:.2f}" for k, v in cell.items()), flush=True)
    n = noise.shape[0]
    full = window_noise(noise, valid, 0, n)
    for name, iv in SERIES_PATTERNS.items():
        t = times(iv)
        h = history("steady", n, t)
        cell = {}
        for kind, shape in shapes.items():
            truth = 5.0 * float((full[-1] - full[0])[valid].std()) * shape
            data = np.where(valid[None], full + h[:, None, None] * truth[None], 0.0).astype(np.float32)
            res = denoise(data, height, model=model, mask=valid, **kw)
            v_true = (truth / (t[-1] - t[0]))[valid]
            ok = np.isfinite(res.timeseries[:, valid]).all(axis=0)
            g = gain_and_correlation(velocity(res.timeseries, t, valid)[ok], v_true[ok], np.ones(ok.sum(), bool))[0]
            rg = gain_and_correlation(velocity(data, t, valid), v_true, np.ones(v_true.shape, bool))[0]
            cell[f"{kind}_velocity"], cell[f"{kind}_raw_velocity"] = round(g, 3), round(rg, 3)
        out["series"][name] = cell
        print(f"  series  {name:26s}", "  ".join(f"{k} {v:.2f}" for k, v in cell.items()), flush=True)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, help="fault, mogi or a .keras path (repeatable)")
    p.add_argument("--json", default=None, help="write the tables here")
    p.add_argument("--augment", default="auto", choices=["auto", "1", "2", "4", "8"])
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    augment = args.augment if args.augment == "auto" else int(args.augment)
    noise, height, valid = load()
    result = {"gap_cycles": GAP, "window_patterns": WINDOW_PATTERNS, "series_patterns": SERIES_PATTERNS,
              "augment": args.augment, "models": {}}
    for m in args.model:
        print(m, flush=True)
        result["models"][m] = measure(m, noise, height, valid, augment)
    if args.json:
        from mintpy_dlae.model import atomic_write_json
        atomic_write_json(result, args.json)
    return result


if __name__ == "__main__":
    main()
