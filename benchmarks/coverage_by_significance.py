"""2-sigma coverage by predicted significance: can sigma be recalibrated per |mean| / sigma?

    python benchmarks/coverage_by_significance.py --model fault --json docs/figures/coverage_by_significance.json

The protocol's coverage is too high (0.98-1.00) below SNR 0.15 on the independent test family.  A
recalibration that shrinks sigma where the output is not significant would fix that if the model
over-covered its low-significance pixels in general.  This script measures the coverage of the
2-sigma interval per bin of the predicted significance z = |mean| / sigma:

- ``calibration``: on the batches of the training distribution that fixed the sigma factor
  (``evaluate.calibrate_sigma``: seeds 31337 + k, fault and Mogi, per-date and cumulative maps);
- ``independent@<snr>``: on the cumulative maps of the independent family at a few SNR values (the
  protocol's seeds), with the share of pixels in each bin.

A flat ``calibration`` column (about 0.95 in every bin) says the sigma is already right for each z
under the training prior: the over-coverage at very low SNR is then the prior's doing (an interval
that must also hold the undetectable signals the prior allows), not a miscalibration that a function
of z could remove.
"""
import argparse
import os
import sys

import numpy as np

EDGES = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, np.inf)


def _bins(z, r):
    """{"<lo>-<hi>": {"share", "coverage"}} of pixels by z, coverage = mean(r <= 2)."""
    out = {}
    for lo, hi in zip(EDGES[:-1], EDGES[1:]):
        m = (z >= lo) & (z < hi)
        if m.any():
            out[f"{lo:g}-{hi:g}"] = {"share": round(float(m.mean()), 4), "coverage": round(float(np.mean(r[m] <= 2)), 4)}
    return out


def measure(model, kind, n=256, snrs=(0.01, 0.1, 0.3, 1.0, 3.0), per_level=64):
    from mintpy_dlae import evaluate
    from mintpy_dlae.inference import predict_windows
    from mintpy_dlae.model import load_model
    net = load_model(model)
    zs, rs = [], []
    for b, p in evaluate.calibration_predictions(net, n=n):
        for mean, std, truth, valid in ((p.dates, p.dates_std, b.clean[:, 1:], b.valid[:, None]),
                                        (p.cumulative, p.cumulative_std, b.cumulative, b.valid)):
            sel = np.broadcast_to(valid, mean.shape) & (std > 0)
            zs.append(np.abs(mean[sel]) / std[sel])
            rs.append(np.abs(mean[sel] - truth[sel]) / std[sel])
    out = {"calibration": _bins(np.concatenate(zs), np.concatenate(rs))}
    levels = np.geomspace(0.01, 10.0, 50)
    for snr in snrs:
        i = int(np.argmin(np.abs(np.log(levels) - np.log(snr))))      # the protocol level nearest to snr
        b = evaluate.independent_batch(per_level, kind, float(levels[i]), 2021 * 1000 + i)
        p = predict_windows(net, b.noisy, b.elevation)
        std = p.cumulative_std
        out[f"independent@{levels[i]:.3g}"] = _bins(np.abs(p.cumulative) / std, np.abs(p.cumulative - b.cumulative) / std)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True,
                   help="fault or mogi (also the test series' kind), or KIND=PATH (repeatable)")
    p.add_argument("--series", type=int, default=256, help="calibration series per source kind (default 256)")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _specs import kind_models, setup, write_json
    setup()
    result = {}
    for name, kind, path in kind_models(p, a.model):
        result[name] = measure(path, kind, a.series)
        for where, bins in result[name].items():
            print(f"{name:8s} {where:18s} " + "  ".join(f"z {b}: {v['coverage']:.3f} ({v['share']:.3f})"
                                                        for b, v in bins.items()), flush=True)
    write_json(result, a.json)


if __name__ == "__main__":
    main()
