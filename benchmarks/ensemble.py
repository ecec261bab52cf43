"""Do two independently trained models, averaged, beat the better one? (an output ensemble)

    python benchmarks/ensemble.py --kind fault --model fault_bn --model fault_bn2 --model fault_pn \
        --model fault_next --model fault_c64 --model mogi_fd --json docs/figures/ensemble_fault.json

Each ``--model`` is a run under ``training/`` (``training/NAME/NAME.keras``) or NAME=PATH.  On
``--per-level`` series of the independent test family (``evaluate.independent_batch``, seeds 888000+,
disjoint from the protocol's and from ``r2_at_snr.py``'s) at each ``--snr``, every model is run once
(one copy) and every pair is scored as the average of the two cumulative maps.  Reported per pair:
the mean R² of the average, and the paired difference (mean and standard error over the series)
against the first model of the pair alone.  The averaged maps of two models are only worth a second
network pass if that difference is clearly positive against the better of the two.
"""
import argparse
import itertools

import numpy as np


def score(models, kind, snrs=(0.5, 0.9, 1.0, 2.0), per_level=192, seed=888000):
    """{"<snr>": {"NAME": mean R², "A+B": {"mean", "vs_first", "se"}}} for every model and pair."""
    from mintpy_dlae.evaluate import independent_batch, r2_per_sample
    from mintpy_dlae.inference import predict_windows
    from mintpy_dlae.model import load_model
    nets = {name: load_model(path) for name, path in models.items()}
    out = {}
    for si, snr in enumerate(snrs):
        b = independent_batch(per_level, kind, float(snr), seed + si + (0 if kind == "fault" else 50))
        preds = {n: predict_windows(net, b.noisy, b.elevation, batch_size=64).cumulative for n, net in nets.items()}
        r2 = {n: r2_per_sample(p, b.cumulative) for n, p in preds.items()}
        row = {n: round(float(r.mean()), 4) for n, r in r2.items()}
        for a, c in itertools.combinations(models, 2):
            r = r2_per_sample((preds[a] + preds[c]) / 2, b.cumulative)
            d = r - r2[a]
            row[f"{a}+{c}"] = {"mean": round(float(r.mean()), 4), "vs_first": round(float(d.mean()), 4),
                               "se": round(float(d.std(ddof=1) / np.sqrt(len(d))), 4)}
        out[f"{snr:g}"] = row
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kind", choices=["fault", "mogi"], required=True)
    p.add_argument("--model", action="append", required=True,
                   help="NAME (training/NAME/NAME.keras) or NAME=PATH (repeatable, at least 2)")
    p.add_argument("--snr", type=float, nargs="+", default=[0.5, 0.9, 1.0, 2.0])
    p.add_argument("--per-level", type=int, default=192)
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    if len(a.model) < 2:
        p.error("give at least two --model")
    models = dict(m.split("=", 1) if "=" in m else (m, f"training/{m}/{m}.keras") for m in a.model)
    res = score(models, a.kind, snrs=a.snr, per_level=a.per_level)
    for snr, row in res.items():
        print(f"SNR {snr}: " + ", ".join(f"{n} {v:.3f}" for n, v in row.items() if not isinstance(v, dict)))
        best = max((v for v in row.values() if isinstance(v, dict)), key=lambda v: v["mean"])
        for n, v in row.items():
            if isinstance(v, dict):
                print(f"  {n:24s} {v['mean']:.3f}  vs first {v['vs_first']:+.3f} +- {v['se']:.3f}"
                      + ("   (best pair)" if v is best else ""))
    if a.json:
        from mintpy_dlae.model import atomic_write_json
        atomic_write_json({"kind": a.kind, "per_level": a.per_level, "models": models, "by_snr": res}, a.json)
    return res


if __name__ == "__main__":
    main()
