"""Steady motion against a step, injected into synthetic noise: gain of the cumulative map and of
each interval of the per-date output.

    python benchmarks/steady.py --model fault --model mogi [--series 64] [--augment 8] [--json docs/figures/steady.json]

Noise: ``evaluate.independent_batch`` (the independent test family: Gaussian-covariance turbulence,
ridge terrain, stratified delay) with its deformation removed, 40 x 40 px, 9 dates.  Injected at the
patch centre: the Mogi bowl of :func:`mintpy_dlae.injection.signal_map` (depth 6 px) and its Okada
thrust, scaled so that the peak |cumulative| is 2, 5 or 10 times each series' cumulative-map noise
std (the "Nx the noise" of ``benchmarks/injection.py``), with a step at mid-window or steady motion
over all 8 intervals.

Per interval j = 1..8 the gain is sum(p_j t_j) / sum(t_j t_j) between the output's increment p_j
(date j minus date j-1 of the per-date maps) and the injected increment t_j (steady: 1/8 of the
cumulative map each); its mean over the series shows where in the window a model gives motion up.
With ``--json``: the rows per model, and ``table`` {"MODEL KIND HISTORY Nx": {gain, se, j1..j8}}.
"""
import argparse
import os
import sys

import numpy as np

KINDS = ("mogi", "fault")
HISTORIES = ("step", "steady")
FACTORS = (2.0, 5.0, 10.0)


def measure(model, series=64, seed=5, augment=1):
    """Rows {kind, history, factor, gain, gain_se, interval_gain (8,)} for one model (``augment``
    symmetric copies averaged, :func:`mintpy_dlae.inference.predict_windows`)."""
    from mintpy_dlae import evaluate
    from mintpy_dlae.inference import predict_windows
    from mintpy_dlae.injection import history, signal_map
    rows = []
    for kind in KINDS:
        batch = evaluate.independent_batch(series, kind, 1.0, rng=seed)
        noise = batch.noisy - batch.clean
        noise = noise - noise[:, :1]
        S = noise.shape[-1]
        shape = signal_map(kind, (S, S), (S // 2, S // 2), depth=6.0)
        cum_std = (noise[:, -1] - noise[:, 0]).reshape(series, -1).std(axis=1)
        for name in HISTORIES:
            h = history(name, noise.shape[1])
            dh = np.diff(h)
            for f in FACTORS:
                truth = (f * cum_std)[:, None, None] * shape[None]               # (N, S, S)
                data = (noise + h[None, :, None, None] * truth[:, None]).astype(np.float32)
                pred = predict_windows(model, data, batch.elevation, augment=augment)
                tt = (truth.astype(np.float64) ** 2).sum(axis=(1, 2))
                gain = (pred.cumulative * truth).sum(axis=(1, 2)) / tt
                full = np.concatenate([np.zeros_like(pred.dates[:, :1]), pred.dates], axis=1)
                inc = np.diff(full, axis=1).astype(np.float64)                   # (N, 8, S, S)
                proj = (inc * truth[:, None]).sum(axis=(2, 3)) / tt[:, None]     # (N, 8) = dh_j * gain_j
                with np.errstate(invalid="ignore", divide="ignore"):
                    interval = np.where(dh > 0, proj.mean(axis=0) / np.where(dh > 0, dh, 1.0), np.nan)
                rows.append(dict(kind=kind, history=name, factor=f, gain=round(float(gain.mean()), 3),
                                 gain_se=round(float(gain.std(ddof=1) / np.sqrt(series)), 3),
                                 interval_gain=[None if np.isnan(g) else round(float(g), 2) for g in interval]))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True,
                   help="fault, mogi, a .keras path, or NAME=PATH (repeatable)")
    p.add_argument("--series", type=int, default=64, help="series per kind (default 64)")
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--augment", type=int, default=1, choices=[1, 2, 4, 8],
                   help="symmetric copies averaged (test-time augmentation; default 1)")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from mintpy_dlae.model import load_model
    out = {}
    for spec in args.model:
        name, path = spec.split("=", 1) if "=" in spec else (os.path.basename(spec), spec)
        if args.augment > 1:
            name = f"{name}_aug{args.augment}"
        rows = measure(load_model(path), series=args.series, seed=args.seed, augment=args.augment)
        out[name] = rows
        print(f"\n== {name}: gain of the cumulative map (mean +- s.e. over {args.series} series) "
              "and per interval 1..8")
        for r in rows:
            cells = " ".join("   - " if g is None else f"{g:5.2f}" for g in r["interval_gain"])
            print(f"{r['kind']:6} {r['history']:7} {r['factor']:4.0f}x  {r['gain']:5.2f} +- {r['gain_se']:.2f}   {cells}")
    # a flat view for the docs' tables (benchmarks/check_docs.py): "MODEL KIND HISTORY Nx" -> numbers
    out["table"] = {f"{name} {r['kind']} {r['history']} {r['factor']:g}x":
                    dict(gain=r["gain"], se=r["gain_se"],
                         **{f"j{j + 1}": g for j, g in enumerate(r["interval_gain"])})
                    for name in list(out) for r in out[name]}
    if args.json:
        from mintpy_dlae.model import atomic_write_json
        atomic_write_json(out, args.json)
    return out


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
