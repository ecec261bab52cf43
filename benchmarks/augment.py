"""Test-time augmentation: what averaging 1, 4 or 8 symmetric copies changes on synthetic data.

    python benchmarks/augment.py --model fault --model mogi --json docs/figures/augment.json

For each model and number of copies (``predict_windows(..., augment=a)``):

- noise only: the output RMS over the raw cumulative map's RMS, and the fraction of pixels with
  |mean| / sigma > 3, on the noise of ``evaluate.independent_batch(N, kind, 1.0, rng=77)`` (the
  batch of ``tests/test_pretrained.py``);
- 2-sigma coverage of the cumulative map and the sharpness (median sigma / RMS error of the raw map)
  on the coverage batches of ``tests/test_pretrained.py`` (SNR 0.3 and 3, rng 999 + 10 x SNR);
- calibration: the coverage of the per-date maps on batches of the training distribution (seeds
  31337 + k, as ``evaluate.calibrate_sigma`` draws them), the set that fixed the model's sigma scale.

The R² of the same models with copies is ``benchmarks/r2_at_snr.py --augment 1 4 8``, and the real
noise is ``benchmarks/injection.py`` / ``injection_spread.py`` (``--augment``).
"""
import argparse
import os
import sys

import numpy as np


def measure(model, kind, augments=(1, 4, 8), series=96, calibration=256):
    """{"aug<a>": {noise_rms, noise_false, coverage_0.3, sharpness_0.3, coverage_3, sharpness_3,
    calibration_coverage}} for one model (``kind``: the test batches' source kind)."""
    from mintpy_dlae import evaluate, synthetic
    from mintpy_dlae.dataset import GENERATOR_OPTIONS
    from mintpy_dlae.inference import predict_windows
    from mintpy_dlae.model import load_model
    net = load_model(model)
    b = evaluate.independent_batch(series, kind, 1.0, rng=77)
    noise = b.noisy - b.clean
    raw = (noise[:, -1] - noise[:, 0]).astype(np.float64)
    cov_batches = {snr: evaluate.independent_batch(series, kind, snr, rng=999 + int(10 * snr)) for snr in (0.3, 3.0)}
    cal = [synthetic.generate(calibration, kind=k, rng=31337 + i, **dict(GENERATOR_OPTIONS, reuse=1))
           for i, k in enumerate(("fault", "mogi"))] if calibration else []
    out = {}
    for a in augments:
        p = predict_windows(net, noise, b.elevation, augment=a)
        row = {"noise_rms": round(float(np.sqrt(np.mean(p.cumulative.astype(np.float64) ** 2) / np.mean(raw ** 2))), 4),
               "noise_false": round(float(np.mean(np.abs(p.cumulative) > 3 * p.cumulative_std)), 5)}
        for snr, bb in cov_batches.items():
            q = predict_windows(net, bb.noisy, bb.elevation, augment=a)
            rawerr = np.sqrt(np.mean((evaluate.baseline_raw(bb) - bb.cumulative) ** 2))
            row[f"coverage_{snr:g}"] = round(float(np.mean(np.abs(q.cumulative - bb.cumulative) <= 2 * q.cumulative_std)), 4)
            row[f"sharpness_{snr:g}"] = round(float(np.median(q.cumulative_std) / rawerr), 3)
        if cal:
            z = []
            for c in cal:
                q = predict_windows(net, c.noisy, c.elevation, mask=c.valid, augment=a)
                err = np.abs(q.dates - c.clean[:, 1:])
                sel = np.broadcast_to(c.valid[:, None], err.shape) & (q.dates_std > 0)
                z.append(err[sel] / q.dates_std[sel])
            row["calibration_coverage"] = round(float(np.mean(np.concatenate(z) <= 2)), 4)
        out[f"aug{a}"] = row
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, help="fault or mogi (the test batches' kind), "
                   "or KIND=PATH for a .keras file (repeatable)")
    p.add_argument("--augment", type=int, nargs="+", default=[1, 4, 8], choices=[1, 2, 4, 8])
    p.add_argument("--series", type=int, default=96, help="series per test batch (default 96, as the tests)")
    p.add_argument("--calibration", type=int, default=256, help="series per kind of the calibration check (0: skip)")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    result = {}
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _specs import kind_models
    for name, kind, path in kind_models(p, a.model):
        result[name] = measure(path, kind, tuple(a.augment), a.series, a.calibration)
        for label, r in result[name].items():
            print(f"{name:10s} {label:5s} " + "  ".join(f"{k} {v}" for k, v in r.items()), flush=True)
    if a.json:
        from mintpy_dlae.model import atomic_write_json
        atomic_write_json(result, a.json)
    return result


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
