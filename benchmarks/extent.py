"""Mean R² by source footprint: which series of the independent test family carry the deficit.

    python benchmarks/extent.py --model fault --model mogi --json docs/figures/extent.json

The protocol (``dlae_evaluate.py``) and ``benchmarks/r2_at_snr.py`` average R² over all series of a
level.  This script scores ``--per-level`` series of the independent family
(``evaluate.independent_batch``, seeds 555000+, disjoint from the protocol's and from
``r2_at_snr.py``'s) at exactly the requested SNR values, and splits them by the footprint of the true
cumulative map in the 40 px patch: the fraction of the patch where |D| >= 10 % of its largest |D|
(``footprint``).  For each class it reports the share of series, the mean and the median R² of the
model and of the baselines, and the model's level-free mean R² (after removing the map's mean error).

A footprint near 1 is a bowl or a fault wider than the patch: its cumulative map is mostly a uniform
level, its spatial variance (the denominator of R²) is small against the paper SNR's mean |D|, and a
level error that real series referenced to one pixel cannot resolve dominates its R²
(docs/evaluation.md).
"""
import argparse
import os
import sys

import numpy as np

CLASSES = ((0.0, 0.3), (0.3, 0.7), (0.7, 1.01))


def footprint(cumulative, fraction=0.1):
    """(N, H, W) true cumulative maps -> (N,) fraction of pixels with |D| >= ``fraction`` x max |D|."""
    a = np.abs(cumulative.reshape(len(cumulative), -1))
    return (a >= fraction * np.maximum(a.max(axis=1, keepdims=True), 1e-30)).mean(axis=1)


def score(model, kind, snrs=(1.0, 2.0), per_level=256, seed=555000, augment=1):
    """{"<kind>@<snr>": {"<lo>-<hi>": {"share", "model", "model_median", "model_level_free",
    "<baseline>"...}}} with mean R² per footprint class."""
    from mintpy_dlae import evaluate
    from mintpy_dlae.inference import predict_windows
    from mintpy_dlae.model import load_model
    net = load_model(model)
    out = {}
    for i, snr in enumerate(snrs):
        b = evaluate.independent_batch(per_level, kind, float(snr), seed + 100 * i)
        pred = predict_windows(net, b.noisy, b.elevation, batch_size=64, augment=augment).cumulative
        truth = b.cumulative
        r2 = evaluate.r2_per_sample(pred, truth)
        free = evaluate.r2_per_sample(pred - (pred - truth).mean(axis=(1, 2), keepdims=True), truth)
        base = {name: evaluate.r2_per_sample(evaluate.BASELINES[name](b), truth)
                for name in ("phase_elevation", "temporal")}
        fp = footprint(truth)
        rows = {"all": {"share": 1.0, "model": float(r2.mean()), "model_median": float(np.median(r2)),
                        "model_level_free": float(free.mean()),
                        **{k: float(v.mean()) for k, v in base.items()}}}
        for lo, hi in CLASSES:
            s = (fp >= lo) & (fp < hi)
            if not s.any():
                continue
            rows[f"{lo}-{min(hi, 1.0)}"] = {
                "share": float(s.mean()), "model": float(r2[s].mean()), "model_median": float(np.median(r2[s])),
                "model_level_free": float(free[s].mean()), **{k: float(v[s].mean()) for k, v in base.items()}}
        out[f"{kind}@{snr:g}"] = {k: {kk: round(vv, 3) for kk, vv in v.items()} for k, v in rows.items()}
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True,
                   help="fault or mogi (also the series' kind), or KIND=PATH for a .keras file (repeatable)")
    p.add_argument("--snr", type=float, nargs="+", default=[1.0, 2.0])
    p.add_argument("--per-level", type=int, default=256)
    p.add_argument("--augment", type=int, default=1, choices=[1, 2, 4, 8])
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _specs import kind_models, setup, write_json
    setup()
    result = {}
    for name, kind, path in kind_models(p, a.model):
        result[name] = score(path, kind, tuple(a.snr), a.per_level, augment=a.augment)
        for level, rows in result[name].items():
            for cls, r in rows.items():
                print(f"{name:12s} {level:9s} footprint {cls:8s} " + "  ".join(f"{k} {v}" for k, v in r.items()),
                      flush=True)
    write_json({"per_level": a.per_level, "augment": a.augment, "models": result}, a.json)


if __name__ == "__main__":
    main()
