"""How much the network uses its elevation input: the same windows with the elevation channel as
the engine gives it, set to zero, and taken from other windows (shuffled).

    python benchmarks/elevation_use.py --model fault --model mogi --json docs/figures/elevation_use.json

Noise-only windows (``passthrough.family_batch``; seeds 880000+): the training generator's noise
(stratified delay over real and fractal terrain included) and the independent family's stratified
delay alone (a linear delay over ridge terrain, no turbulence) and a seasonal stratified delay alone
(coherent in time, so that only the elevation tells it from a deformation), at 40 px and 128 px; figure: the
output RMS / raw RMS of the cumulative map.  And the mean / median R² of the fault series of the
independent family at SNR 1 (40 px, 128 series, seed 777001).  One pass.  If the elevation channel
carried the stratified delay, zeroing or shuffling it would raise the output on the stratified noise.
"""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def _channels(elevation, valid):
    from mintpy_dlae import dataset
    real = np.stack([dataset.normalise_elevation(e, v) for e, v in zip(elevation, valid)])
    return {"elevation": real, "zero": np.zeros_like(real), "shuffled": np.ascontiguousarray(real[::-1])}


def measure(model, n=64):
    from passthrough import family_batch

    from mintpy_dlae import dataset
    from mintpy_dlae.evaluate import independent_batch, r2_per_sample
    from mintpy_dlae.inference import predict_windows
    from mintpy_dlae.model import load_model
    net = load_model(model)
    out = {}
    for fam, seed in (("training", 880000), ("independent stratified", 880002), ("seasonal stratified", 880004)):
        for size in (40, 128):
            noisy, elev = family_batch(fam, n, seed, size=size)
            raw = (noisy[:, -1] - noisy[:, 0]).astype(np.float64)
            for name, chan in _channels(elev, dataset.valid_mask(noisy)).items():
                cum = predict_windows(net, noisy, None, elevation_normalised=chan, precision="float32").cumulative
                out.setdefault(f"noise alone, {fam}, {size} px", {})[name] = round(
                    float(np.sqrt((cum.astype(np.float64) ** 2).mean() / (raw ** 2).mean())), 3)
    b = independent_batch(2 * n, "fault", 1.0, 777001)
    for name, chan in _channels(b.elevation, dataset.valid_mask(b.noisy)).items():
        r2 = r2_per_sample(predict_windows(net, b.noisy, None, elevation_normalised=chan,
                                           precision="float32").cumulative, b.cumulative)
        out.setdefault("fault series at SNR 1: mean R²", {})[name] = round(float(r2.mean()), 3)
        out.setdefault("fault series at SNR 1: median R²", {})[name] = round(float(np.median(r2)), 3)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, help="fault, mogi or a .keras path (repeatable)")
    p.add_argument("--per-set", type=int, default=64, help="noise windows per family and size (default 64)")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    sys.path.insert(0, HERE)
    from _specs import setup, write_json
    setup()
    result = {"per_set": a.per_set, "table": {}}
    for m in a.model:
        for key, cells in measure(m, a.per_set).items():
            result["table"][f"{m}: {key}"] = cells
            print(f"{m:>6s} {key:44s} " + "  ".join(f"{k} {v}" for k, v in cells.items()), flush=True)
    write_json(result, a.json)


if __name__ == "__main__":
    main()
