"""A deformation that follows the topography: inflation under a volcano's summit.

    python benchmarks/volcano.py --model fault --model mogi [--json docs/figures/volcano.json]

A network that removes the stratified delay by its correlation with the elevation may remove a
deformation with the same correlation: a Mogi source under the summit of a volcanic edifice
uplifts the high ground most, as a stratified delay of one sign would.  This measures it.

Per series (40 x 40 px, 9 dates, ``--per-case`` series per case, seeds 990000+): an edifice
h = base + R exp(-r^2 / 2 w^2), relief R 300-2500 m, width w 5-10 px, centred within 3 px of the
patch centre; a Mogi source under the summit (depth 4-8 px at a 90 m pixel, vertical and east
displacement projected on a random Sentinel-1-like line of sight); history a step at mid-window or
steady motion; noise the independent family's Gaussian-covariance turbulence only (no stratified
delay: what is left to remove is turbulence), scaled so that the peak of the true cumulative map is
``--factors`` times the std of the raw cumulative noise.

Figure per model, history and factor: the least-squares gain of the output cumulative map on the
true one (sum out * true / sum true^2), with the elevation as the engine gives it and with a flat
elevation (the network's elevation channel zero), and the fraction of the true peak's 5 px
neighbourhood kept (mean output / mean truth there).  One pass.  A gain far below the flat-elevation
one says the network takes the edifice's inflation for atmosphere.
"""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SIZE, DATES, PIXEL = 40, 9, 90.0


def edifice_batch(n, history, factor, rng):
    """(noisy, clean cumulative (n, S, S), elevation (n, S, S)) in metres."""
    from mintpy_dlae.evaluate import independent_noise
    from mintpy_dlae.physics.los import enu2los, random_geometry
    from mintpy_dlae.physics.mogi import mogi
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    elev = np.empty((n, SIZE, SIZE), np.float32)
    shape = np.empty((n, SIZE, SIZE))
    inc, az = random_geometry(n, rng)
    for i in range(n):
        cy, cx = SIZE / 2 + rng.uniform(-3, 3, 2)
        relief, width = rng.uniform(300, 2500), rng.uniform(5, 10)
        elev[i] = rng.uniform(0, 1500) + relief * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * width ** 2))
        depth = rng.uniform(4, 8) * PIXEL
        ue, un, uu = mogi(xx * PIXEL, yy * PIXEL, cx * PIXEL, cy * PIXEL, depth, 1e6)
        los = enu2los(ue, un, uu, inc[i], az[i])
        shape[i] = los / np.abs(los).max()
    t = np.arange(DATES)
    hist = (t >= DATES // 2).astype(float) if history == "step" else t / (DATES - 1.0)
    noise = independent_noise(elev, DATES, rng, stratified=False)
    noise_std = (noise[:, -1] - noise[:, 0]).std(axis=(1, 2))
    clean = (factor * noise_std)[:, None, None, None] * hist[None, :, None, None] * shape[:, None]
    return (clean + noise).astype(np.float32), clean[:, -1] - clean[:, 0], elev


def measure(model, n=64, factors=(2.0, 5.0), seed=990000):
    from mintpy_dlae import dataset
    from mintpy_dlae.inference import predict_windows
    from mintpy_dlae.model import load_model
    net = load_model(model)
    out = {}
    for h, history in enumerate(("step", "steady")):
        for f, factor in enumerate(factors):
            noisy, truth, elev = edifice_batch(n, history, factor, np.random.default_rng(seed + 10 * h + f))
            valid = dataset.valid_mask(noisy)
            real = np.stack([dataset.normalise_elevation(e, v) for e, v in zip(elev, valid)])
            peak = np.abs(truth) >= 0.5 * np.abs(truth).max(axis=(1, 2), keepdims=True)
            for name, chan in (("elevation", real), ("flat", np.zeros_like(real))):
                cum = predict_windows(net, noisy, None, elevation_normalised=chan, precision="float32").cumulative
                cum = cum.astype(np.float64)
                gain = (cum * truth).sum() / (truth ** 2).sum()
                kept = (cum * peak).sum(axis=(1, 2)) / (truth * peak).sum(axis=(1, 2))
                out[f"{history} {factor:g}x {name}"] = {"gain": round(float(gain), 3),
                                                       "peak_kept": round(float(np.median(kept)), 3)}
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, help="fault, mogi or a .keras path (repeatable)")
    p.add_argument("--per-case", type=int, default=64, help="series per history and factor (default 64)")
    p.add_argument("--factors", type=float, nargs="+", default=[2.0, 5.0],
                   help="peak signal / cumulative noise std (default 2 5)")
    p.add_argument("--json", default=None, help="write the results here")
    args = p.parse_args(argv)
    sys.path.insert(0, HERE)
    from _specs import setup, write_json
    setup()
    result = {"per_case": args.per_case, "seed": 990000, "models": {}}
    for m in args.model:
        r = measure(m, n=args.per_case, factors=tuple(args.factors))
        result["models"][m] = r
        for case, v in r.items():
            print(f"{m:>12s}  {case:24s} gain {v['gain']:.3f}  peak kept {v['peak_kept']:.3f}", flush=True)
    result["table"] = {f"{m} {case}": v for m, r in result["models"].items() for case, v in r.items()}
    write_json(result, args.json)


if __name__ == "__main__":
    main()
