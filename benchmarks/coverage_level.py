"""Does the input's level call for another sigma factor?  The 2-sigma coverage of the per-date maps
on the calibration set of ``dlae_evaluate.py --calibrate-sigma`` (the training distribution, seeds
31337+, both source kinds pooled), as calibrated, and on the same series referenced to an area
(``area_reference=1``) with the network's level and with the input's (``level="input"``).

    python benchmarks/coverage_level.py --model fault --model mogi --n 256 \
        --json docs/figures/coverage_level.json

Per model and case: ``coverage`` (share of valid pixels and dates with |mean - truth| <= 2 sigma)
and ``factor`` (the factor on sigma that would make it 0.95: the 0.95 quantile of |mean - truth| /
sigma, halved; 1 = calibrated as it is).
"""
import argparse

import numpy as np


def coverage(models, n=256, seed=31337, kinds=("fault", "mogi")):
    """{model: {case: {"coverage", "factor"}}}, case "as_trained", "area_network", "area_input"."""
    from mintpy_dlae import synthetic
    from mintpy_dlae.dataset import GENERATOR_OPTIONS
    from mintpy_dlae.inference import predict_windows
    from mintpy_dlae.model import load_model
    out = {}
    for name, path in models.items():
        net = load_model(path)
        row = {}
        for case, area, level in (("as_trained", None, "network"), ("area_network", 1.0, "network"),
                                  ("area_input", 1.0, "input")):
            z = []
            for i, kind in enumerate(kinds):
                opts = dict(GENERATOR_OPTIONS, reuse=1)
                if area is not None:
                    opts["area_reference"] = area
                b = synthetic.generate(n, kind=kind, rng=seed + i, **opts)
                p = predict_windows(net, b.noisy, b.elevation, mask=b.valid, level=level)
                err = np.abs(p.dates - b.clean[:, 1:])
                sel = np.broadcast_to(b.valid[:, None], err.shape) & (p.dates_std > 0)
                z.append(err[sel] / p.dates_std[sel])
            z = np.concatenate(z)
            row[case] = {"coverage": round(float(np.mean(z <= 2)), 4), "factor": round(float(np.quantile(z, 0.95) / 2), 4)}
        out[name] = row
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, help="fault, mogi, a .keras path, or NAME=PATH (repeatable)")
    p.add_argument("--n", type=int, default=256, help="series per source kind (default 256)")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    models = dict(m.split("=", 1) if "=" in m else (m, m) for m in a.model)
    res = coverage(models, n=a.n)
    for name, row in res.items():
        for case, r in row.items():
            print(f"{name:10s} {case:14s} coverage {r['coverage']:.4f}  factor {r['factor']:.4f}")
    if a.json:
        from mintpy_dlae.model import atomic_write_json
        flat = {f"{name} {case}": r for name, row in res.items() for case, r in row.items()}
        atomic_write_json({"n_per_kind": a.n, "table": flat, "by_model": res}, a.json)
    return res


if __name__ == "__main__":
    main()
