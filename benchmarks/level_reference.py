"""Which level convention suits which referencing: mean R² of the cumulative map with each output
map's mean kept as the network makes it (``level="network"``) or set to the input's
(``level="input"``), on series referenced to an area and to a pixel outside the frame.

    python benchmarks/level_reference.py --model fault --model mogi --per-level 96 \
        --json docs/figures/level_reference.json

Series: the independent test family (``evaluate.independent_batch``, seeds 990000+, disjoint from
the protocol's and from ``benchmarks/r2_at_snr.py``'s) at SNR 0.5, 1 and 2.  Its noise has zero
spatial mean on every date: an *area-referenced* series.  The *pixel-referenced* cases add to
every date one offset, N(0, (f x that date's spatial std)^2) with f = 0.5 and 1: the noise of a
reference pixel outside the frame, which MintPy's referencing subtracts from the whole frame.  The
truth is the deformation itself in every case.

``denoise()`` keeps the input's level by default only when no pixel of the series is 0 on every
date (``level="auto"``): a pixel-referenced series whose reference pixel is in the frame keeps the
network's.  This script measures what the choice is worth each way (one pass, ``predict_windows``).
"""
import argparse

import numpy as np


def score(models, kinds=("fault", "mogi"), snrs=(0.5, 1.0, 2.0), per_level=96, offsets=(0.5, 1.0), seed=990000):
    """{"<kind>@<snr>": {"<case>": {"<model> <level>": {"mean", "se", "median"}}}}, case "area" or
    "pixel<f>" (the offset factor f)."""
    from mintpy_dlae.evaluate import independent_batch, r2_per_sample
    from mintpy_dlae.inference import predict_windows
    from mintpy_dlae.model import load_model
    nets = {name: load_model(path) for name, path in models.items()}
    out = {}
    for ki, kind in enumerate(kinds):
        for si, snr in enumerate(snrs):
            b = independent_batch(per_level, kind, float(snr), seed + 100 * ki + si)
            rng = np.random.default_rng(seed + 50 + 100 * ki + si)
            spread = b.noisy.reshape(per_level, b.noisy.shape[1], -1).std(axis=2)
            cases = {"area": b.noisy}
            for f in offsets:
                off = f * spread * rng.standard_normal(spread.shape)
                cases[f"pixel{f:g}"] = (b.noisy + off[..., None, None]).astype(np.float32)
            row = {}
            for case, noisy in cases.items():
                cell = {}
                for name, net in nets.items():
                    for lev in ("network", "input"):
                        pred = predict_windows(net, noisy, b.elevation, batch_size=64, level=lev).cumulative
                        r2 = r2_per_sample(pred, b.cumulative)
                        cell[f"{name} {lev}"] = {"mean": round(float(r2.mean()), 3),
                                                 "se": round(float(r2.std(ddof=1) / np.sqrt(len(r2))), 3),
                                                 "median": round(float(np.median(r2)), 3)}
                row[case] = cell
            out[f"{kind}@{snr:g}"] = row
    return out


def own_model(res):
    """{"<kind>@<snr> <case>": {"network": mean, "input": mean}} for the model named like each set's
    source kind ("fault" on the fault series, "mogi" on the Mogi series; else the first model)."""
    out = {}
    for key, row in res.items():
        kind = key.split("@")[0]
        for case, cell in row.items():
            names = [k.rsplit(" ", 1)[0] for k in cell]
            name = kind if kind in names else names[0]
            out[f"{key} {case}"] = {lev: cell[f"{name} {lev}"]["mean"] for lev in ("network", "input")}
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, help="fault, mogi, a .keras path, or NAME=PATH (repeatable)")
    p.add_argument("--per-level", type=int, default=96)
    p.add_argument("--snr", type=float, nargs="+", default=[0.5, 1.0, 2.0])
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    models = dict(m.split("=", 1) if "=" in m else (m, m) for m in a.model)
    res = score(models, snrs=a.snr, per_level=a.per_level)
    print(f"{'set':10s} {'case':9s} {'method':16s} {'mean':>8s} {'se':>6s} {'median':>7s}")
    for key, row in res.items():
        for case, cell in row.items():
            for name, r in cell.items():
                print(f"{key:10s} {case:9s} {name:16s} {r['mean']:8.2f} {r['se']:6.2f} {r['median']:7.2f}")
    if a.json:
        from mintpy_dlae.model import atomic_write_json
        atomic_write_json({"per_level": a.per_level, "own_model": own_model(res), "by_set": res}, a.json)
    return res


if __name__ == "__main__":
    main()
