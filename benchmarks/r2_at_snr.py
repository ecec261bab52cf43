"""Mean R² at a few exact SNR values, with its standard error, on more series than the protocol.

    python benchmarks/r2_at_snr.py --model fault --model mogi --per-level 192 \
        --json docs/figures/r2_at_snr.json

The protocol of ``dlae_evaluate.py`` (50 log-spaced levels x 64 series) reads R² at SNR 0.5 / 1 / 2 by
interpolating between levels, and one series with a large negative R² moves a level by several
tenths. This script scores every model on ``--per-level`` series of the independent test family
(``evaluate.independent_batch``; seeds 777000+ are disjoint from the protocol's) at exactly the
requested SNR values, for both source kinds, and reports per model, kind and SNR (``--augment 1 8``:
each model also with 8 symmetric copies averaged, named ``<model>_aug8``, with the paired difference
to one copy on the same series; ``--level network input``: also with each output map's spatial mean
set to the input's, named ``<model>_input_level``, paired against the first level):

- ``mean`` and ``se``: mean R² of the cumulative map and its standard error (std / sqrt(n));
- ``median``;
- ``mean_level_free``: mean R² after removing each map's mean error (the map's level: set by the
  reference point in real data, and the largest single error of the Mogi series);
- the same for the ``phase_elevation`` and ``temporal`` baselines, and for heavy blurs of the raw
  cumulative map (``blur8``, ``blur12``: Gaussian of 8 and 12 px), which keep the map's level exactly
  as the raw map has it and are the strongest reference on the Mogi series.
"""
import argparse

import numpy as np


def _stats(pred, truth):
    """Mean, standard error, median and level-free mean of the per-series R² of pred against truth."""
    from mintpy_dlae.evaluate import r2_per_sample
    r2 = r2_per_sample(pred, truth)
    free = r2_per_sample(pred - (pred - truth).mean(axis=(1, 2), keepdims=True), truth)
    return {"mean": round(float(r2.mean()), 4), "se": round(float(r2.std(ddof=1) / np.sqrt(len(r2))), 4),
            "median": round(float(np.median(r2)), 4), "mean_level_free": round(float(free.mean()), 4)}


def score(models, kinds=("fault", "mogi"), snrs=(0.5, 1.0, 2.0), per_level=192, seed=777000, augments=(1,),
          size=40, levels=("network",)):
    """{"<kind>@<snr>": {method: stats}}; a model run with ``augment`` a > 1 symmetric copies is
    listed as "<name>_aug<a>", with ``paired_vs_1``: the mean and standard error of its per-series
    R² minus the one-copy R² on the same series (when 1 is among ``augments``)."""
    from mintpy_dlae.evaluate import r2_per_sample
    from scipy import ndimage

    from mintpy_dlae.evaluate import baseline_phase_elevation, baseline_raw, baseline_temporal, independent_batch
    from mintpy_dlae.inference import predict_windows
    from mintpy_dlae.model import load_model
    nets = {name: load_model(path) for name, path in models.items()}
    out = {}
    for ki, kind in enumerate(kinds):
        for si, snr in enumerate(snrs):
            b = independent_batch(per_level, kind, float(snr), seed + 100 * ki + si, size=size)
            row = {}
            for name, net in nets.items():
                r2_one = None
                for a, lev in ((a, lev) for lev in levels for a in augments):
                    pred = predict_windows(net, b.noisy, b.elevation, batch_size=64, augment=a, level=lev).cumulative
                    label = (name if a == 1 else f"{name}_aug{a}") + ("_input_level" if lev == "input" else "")
                    row[label] = _stats(pred, b.cumulative)
                    r2 = r2_per_sample(pred, b.cumulative)
                    if a == 1 and lev == levels[0]:
                        r2_one = r2
                    elif r2_one is not None:
                        d = r2 - r2_one
                        row[label]["paired_vs_1"] = {"mean": round(float(d.mean()), 4),
                                                     "se": round(float(d.std(ddof=1) / np.sqrt(len(d))), 4)}
            row["phase_elevation"] = _stats(baseline_phase_elevation(b), b.cumulative)
            row["temporal"] = _stats(baseline_temporal(b), b.cumulative)
            for px in (8, 12):
                row[f"blur{px}"] = _stats(ndimage.gaussian_filter(baseline_raw(b), (0, px, px)), b.cumulative)
            out[f"{kind}@{snr:g}"] = row
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, help="fault, mogi, a .keras path, or NAME=PATH (repeatable)")
    p.add_argument("--per-level", type=int, default=192)
    p.add_argument("--snr", type=float, nargs="+", default=[0.5, 1.0, 2.0])
    p.add_argument("--augment", type=int, nargs="+", default=[1], choices=[1, 2, 4, 8],
                   help="symmetric copies (test-time augmentation) to score each model with (default 1)")
    p.add_argument("--size", type=int, default=40, help="series size in px (default 40, the protocol's)")
    p.add_argument("--level", nargs="+", choices=["network", "input"], default=["network"],
                   help="spatial mean of the output maps: the network's own (default) and/or the input's "
                        "(named <model>_input_level; predict_windows(level=...))")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    models = dict(m.split("=", 1) if "=" in m else (m, m) for m in a.model)
    res = score(models, snrs=a.snr, per_level=a.per_level, augments=tuple(a.augment), size=a.size,
                levels=tuple(a.level))
    print(f"{'set':10s} {'method':16s} {'mean':>7s} {'se':>6s} {'median':>7s} {'level-free':>10s}")
    for key, row in res.items():
        for name, r in row.items():
            paired = r.get("paired_vs_1")
            extra = f"  paired vs 1 copy {paired['mean']:+.3f} +- {paired['se']:.3f}" if paired else ""
            print(f"{key:10s} {name:16s} {r['mean']:7.2f} {r['se']:6.2f} {r['median']:7.2f} {r['mean_level_free']:10.2f}{extra}")
    if a.json:
        flat = {}
        for key, row in res.items():
            for name, r in row.items():
                flat[f"{name} {key}"] = r
        from mintpy_dlae.model import atomic_write_json
        atomic_write_json({"per_level": a.per_level, "size": a.size, "table": flat, "by_set": res}, a.json)
    return res


if __name__ == "__main__":
    main()
