"""Interval weights of the stitched time series, compared on several realisations of the demo.

    python benchmarks/stitching_weights.py --seeds 0 1 2 3 4 5 6 7 8 --work stitch_work \
        --json docs/figures/stitching_weights.json [--amplitude 80]

For each seed, ``dlae_demo.py --seed S`` makes a synthetic MintPy project under
``WORK/seed<S>/dlae_demo`` (skipped when it is already there), the shipped model runs once on every
9-date window of its ``timeseries_ERA5.h5``, and the per-date maps are stitched with each candidate
weight of interval j = 1..8 of a window (``inference.denoise`` uses :func:`window_weights`):

- ``equal``: 1;  ``linear``: min(j, 9 - j);  ``squared``, ``cubed``, ``sixth``: its powers.

Scores against ``truth.h5`` over the demo's valid pixels (all relative to the first date and the
reference pixel, as ``demo_plots.demo_results``): the gain (least-squares slope against the truth) of
the event window's 9-date displacement of the stitched series, of the whole series (all dates) and of
its last date, and the RMS errors (mm) of the event window and of the last date.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

WEIGHTS = {"equal": 0, "linear": 1, "squared": 2, "cubed": 3, "sixth": 6}


def stitch(dates, n, weight):
    """Series (n, H, W) from per-window per-date maps ``dates`` (K, T-1, H, W), relative to each
    window's first date, by weighted means of the increments (as ``inference.denoise``)."""
    K, Tm1, H, W = dates.shape
    full = np.concatenate([np.zeros((K, 1, H, W)), dates], axis=1)
    inc = np.diff(full, axis=1)
    s, wsum = np.zeros((n, H, W)), np.zeros(n)
    for k in range(K):
        s[k + 1:k + Tm1 + 1] += inc[k] * weight[:, None, None]
        wsum[k + 1:k + Tm1 + 1] += weight
    s[1:] /= wsum[1:, None, None]
    return np.cumsum(s, axis=0)


def score(work_dir, model="fault"):
    import h5py

    from mintpy_dlae import dataset
    from mintpy_dlae.constants import WINDOW
    from mintpy_dlae.demo_plots import compare, demo_results
    from mintpy_dlae.inference import predict_windows, window_scales
    res = demo_results(work_dir)
    with h5py.File(os.path.join(work_dir, "timeseries_ERA5.h5"), "r") as f:
        ts = f["timeseries"][:]
    geom = [g for g in ("geometryGeo.h5", "geometryRadar.h5") if os.path.isfile(os.path.join(work_dir, "inputs", g))][0]
    with h5py.File(os.path.join(work_dir, "inputs", geom), "r") as f:
        elev = f["height"][:]
    n, H, W = ts.shape
    K = n - WINDOW + 1
    valid = dataset.valid_mask(ts) & np.isfinite(elev)
    data = np.where(valid[None], ts, 0).astype(np.float32)
    wins = np.stack([data[k:k + WINDOW] for k in range(K)])
    pred = predict_windows(model, wins, np.broadcast_to(elev, (K, H, W)), mask=np.broadcast_to(valid, (K, H, W)),
                           scale=window_scales(data, valid))
    k, (ry, rx), m = res.window, res.ref_yx, res.valid
    j = np.arange(1, WINDOW)
    out = {}
    for name, p in WEIGHTS.items():
        s = stitch(pred.dates, n, np.minimum(j, WINDOW - j).astype(float) ** p)
        s = 1e3 * (s - s[:, ry:ry + 1, rx:rx + 1])
        ev = compare(s[k + WINDOW - 1] - s[k], res.truth[k + WINDOW - 1] - res.truth[k], m)
        last = compare(s[-1], res.truth[-1], m)
        x, t = s[:, m], res.truth[:, m]
        out[name] = {"event_gain": round(ev["gain"], 4), "event_rms_mm": round(ev["rms_error_mm"], 3),
                     "series_gain": round(float((x * t).sum() / (t * t).sum()), 4),
                     "last_gain": round(last["gain"], 4), "last_rms_mm": round(last["rms_error_mm"], 3)}
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=list(range(9)))
    p.add_argument("--amplitude", type=float, default=80.0, help="peak of the demo event, mm (default 80)")
    p.add_argument("--work", default="stitch_work", help="folder of the demo projects")
    p.add_argument("--model", default="fault")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    per_seed = {}
    for s in a.seeds:
        d = os.path.join(a.work, f"seed{s}")
        if not os.path.isfile(os.path.join(d, "dlae_demo", "timeseries_ERA5_DLAE.h5")):
            os.makedirs(d, exist_ok=True)
            subprocess.run([sys.executable, "-m", "mintpy_dlae.cli.demo", "--no-progress", "--seed", str(s),
                            "--amplitude", str(a.amplitude)], cwd=d, check=True, stdout=subprocess.DEVNULL)
        per_seed[s] = score(os.path.join(d, "dlae_demo"), a.model)
        print(s, {k: v["event_gain"] for k, v in per_seed[s].items()}, flush=True)
    summary = {}
    for name in WEIGHTS:
        rows = [per_seed[s][name] for s in a.seeds]
        summary[name] = {key: round(float(np.mean([r[key] for r in rows])), 4) for key in rows[0]}
        summary[name]["event_gain_min"] = round(float(min(r["event_gain"] for r in rows)), 4)
    print(f"{'weights':10s} {'event gain':>10s} {'(min)':>6s} {'series':>7s} {'last':>6s} {'rms event':>10s} {'rms last':>9s}")
    for name, r in summary.items():
        print(f"{name:10s} {r['event_gain']:10.3f} {r['event_gain_min']:6.2f} {r['series_gain']:7.3f} {r['last_gain']:6.3f} "
              f"{r['event_rms_mm']:10.2f} {r['last_rms_mm']:9.2f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"amplitude_mm": a.amplitude, "model": a.model, "seeds": a.seeds, "summary": summary,
                       "per_seed": per_seed}, f, indent=1)
    return summary


if __name__ == "__main__":
    main()
