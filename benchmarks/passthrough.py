"""Noise-only windows, by noise family: which part of the noise comes through the denoiser.

    python benchmarks/passthrough.py --model fault --model mogi [--json docs/figures/passthrough.json]

Every window holds noise only (no deformation), 40 x 40 px x 9 dates (``--size`` for larger
frames), ``--per-family`` windows per family (seeds 880000+, disjoint from the protocol's and the other benchmarks'):

- ``training``: the training generator's noise with ``synthetic.generate``'s default options
  (power-law turbulence with outer scales and anisotropy, per-date reference offsets, stratified
  delay over real and fractal terrain, ramps; no area referencing, cells or steep relief);
- ``training+cells``: the same with convective cells mixed into every date's turbulence
  (``cells=1``; the shipped fault model, ``training/fault_bn``, trained with ``cells=0.35``);
- ``independent``: the noise of the independent test family (``evaluate.independent_noise``:
  Gaussian-covariance turbulence and a linear stratified delay over ridge terrain), and its two
  parts alone, from the same draws: ``independent turbulence`` and ``independent stratified``.
  Dense convective cells are Gaussian-covariance turbulence too, so since ``fault_bn`` this family
  is no longer foreign to the fault model's training noise;
- ``seasonal stratified``: a stratified delay that follows the seasons instead of changing at
  random from date to date (a lapse rate A sin(2 pi t / 1 yr + phi), A 2-20 mm/km with a random
  sign, acquisitions 6, 12, 24 or 36 days apart), linear in the elevation, over the ridge terrain:
  it accumulates over a window like a deformation proportional to elevation, so only its
  correlation with the elevation input tells it apart (built here, not by the training generator);
  ``independent + seasonal``: the same added to the independent family's turbulence;
- ``waves``: a family that neither training nor the test family uses: atmospheric gravity (lee)
  waves, a plane wave of 5-25 px wavelength in a random direction under a Gaussian envelope of
  8-30 px, on every date with its own phase, direction and place (per-date amplitudes as the
  independent family's).

Per family and model: the RMS of the output cumulative map over all windows divided by the raw
cumulative map's (``rms_ratio``, the figure of the issue's noise-only target, <= 0.15), the median
of the same ratio per window, and the fraction of pixels with |mean| / sigma > 3 (target <= 1 %;
the ``table`` rows give it in per cent).
The noise-only figures of the protocol (SNR 0.01) and of the real residual (``leakage.py``) are
averages over a mix of such families; this script tells them apart.
"""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FAMILIES = ("training", "training+cells", "independent", "independent turbulence", "independent stratified",
            "waves", "seasonal stratified", "independent + seasonal")
# the independent family and its two parts share one seed, so that the parts add up to the whole
SEED_OFFSET = {"training": 0, "training+cells": 1, "independent": 2, "independent turbulence": 2,
               "independent stratified": 2, "waves": 3, "seasonal stratified": 4, "independent + seasonal": 4}


def family_batch(name, n, seed, size=40, num_dates=9):
    """(noisy (n, T, S, S) metres, elevation (n, S, S) metres) of noise-only windows of a family."""
    from mintpy_dlae import evaluate, synthetic
    rng = np.random.default_rng(seed)
    if name.startswith("training"):
        b = synthetic.generate(n, "fault", size=size, num_dates=num_dates, rng=rng, snr=None, pure_noise=1.0,
                               cells=1.0 if name.endswith("cells") else 0.0)
        return b.noisy, b.elevation
    if name in ("seasonal stratified", "independent + seasonal"):
        elev = evaluate.ridge_terrain(n, size, rng)
        noise = seasonal_stratified(elev, num_dates, rng)
        if name.startswith("independent"):
            noise += evaluate.independent_noise(elev, num_dates, rng, stratified=False)
        return noise, elev
    if name.startswith("independent"):
        elev = evaluate.ridge_terrain(n, size, rng)
        part = name.split()[-1]
        noise = evaluate.independent_noise(elev, num_dates, rng, turbulence=part != "stratified",
                                           stratified=part != "turbulence")
        return noise, elev
    if name == "waves":
        return gravity_waves(n, num_dates, size, rng), evaluate.ridge_terrain(n, size, rng)
    raise ValueError(f"family_batch: unknown family {name!r}; choose from {FAMILIES}")


def seasonal_stratified(elevation, num_dates, rng):
    """(n, T, S, S) metres: k_t (h - mean h) with the lapse rate k_t = A sin(2 pi t dt / 365.25 d + phi)
    of a seasonal cycle (Doin et al. 2009), A log-uniform 2-20 mm/km with a random sign, phi uniform,
    dt 6, 12, 24 or 36 days; ``elevation`` (n, S, S) metres."""
    n = len(elevation)
    dt = rng.choice([6.0, 12.0, 24.0, 36.0], size=(n, 1))
    amp = rng.choice([-1.0, 1.0], size=(n, 1)) * np.exp(rng.uniform(np.log(2e-3), np.log(2e-2), (n, 1)))
    k = amp * np.sin(2 * np.pi * np.arange(num_dates)[None, :] * dt / 365.25 + rng.uniform(0, 2 * np.pi, (n, 1)))
    hk = (elevation - elevation.mean(axis=(1, 2), keepdims=True)) / 1000.0
    return (k[..., None, None] * hk[:, None]).astype(np.float32)


def gravity_waves(n, num_dates, size, rng):
    """(n, T, S, S) metres: one wave train per date, A cos(2 pi (k . x) / L + phi) under a Gaussian
    envelope (std 8-30 px, centre anywhere in the patch), wavelength L 5-25 px, random direction and
    phase; per-series amplitude 2-20 mm times a per-date factor U(0.2, 1), as the independent
    family's turbulence."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    amp = np.exp(rng.uniform(np.log(2e-3), np.log(2e-2), (n, 1))) * rng.uniform(0.2, 1.0, (n, num_dates))
    out = np.empty((n, num_dates, size, size), np.float32)
    for i in range(n):
        for t in range(num_dates):
            th, lam = rng.uniform(0, np.pi), rng.uniform(5.0, 25.0)
            cy, cx = rng.uniform(0, size, 2)
            w = rng.uniform(8.0, 30.0)
            f = np.cos(2 * np.pi * (xx * np.cos(th) + yy * np.sin(th)) / lam + rng.uniform(0, 2 * np.pi))
            f *= np.exp(-0.5 * ((yy - cy) ** 2 + (xx - cx) ** 2) / w ** 2)
            f -= f.mean()
            out[i, t] = amp[i, t] * f / (f.std() + 1e-30)
    return out


def measure(model, families=FAMILIES, n=128, seed=880000, augment=1, size=40):
    """{family: {"rms_ratio", "median_ratio", "above_3_sigma"}} of ``model`` on noise-only windows
    of ``size`` x ``size`` px."""
    from mintpy_dlae.inference import predict_windows
    out = {}
    for name in families:
        noisy, elev = family_batch(name, n, seed + SEED_OFFSET[name], size=size)
        p = predict_windows(model, noisy, elev, batch_size=64, augment=augment)
        raw = (noisy[:, -1] - noisy[:, 0]).astype(np.float64)
        cum = p.cumulative.astype(np.float64)
        per = np.sqrt((cum ** 2).mean(axis=(1, 2)) / np.maximum((raw ** 2).mean(axis=(1, 2)), 1e-30))
        out[name] = {"rms_ratio": round(float(np.sqrt((cum ** 2).mean() / (raw ** 2).mean())), 3),
                     "median_ratio": round(float(np.median(per)), 3),
                     "above_3_sigma": round(float(np.mean(np.abs(cum) > 3 * p.cumulative_std)), 5)}
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, help="fault, mogi or a .keras path (repeatable)")
    p.add_argument("--per-family", type=int, default=128, help="windows per family (default 128)")
    p.add_argument("--augment", default="1", choices=["1", "2", "4", "8"], help="symmetric copies (default 1)")
    p.add_argument("--size", type=int, default=40, help="window size in px (default 40, the protocol's)")
    p.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES),
                   help="noise families (default all)")
    p.add_argument("--json", default=None, help="write the results here")
    args = p.parse_args(argv)
    sys.path.insert(0, HERE)
    from _specs import setup, write_json
    setup()
    result = {"per_family": args.per_family, "augment": int(args.augment), "seed": 880000, "size": args.size,
              "models": {}}
    for m in args.model:
        r = measure(m, families=args.families, n=args.per_family, augment=int(args.augment), size=args.size)
        result["models"][m] = r
        for fam, v in r.items():
            print(f"{m:>12s}  {fam:24s} rms ratio {v['rms_ratio']:.3f}  median {v['median_ratio']:.3f}  "
                  f"> 3 sigma {100 * v['above_3_sigma']:.2f} %", flush=True)
    # the rows of docs/evaluation.md's table ("<model> <family>"), checked by benchmarks/check_docs.py
    result["table"] = {f"{m} {fam}": {**v, "above_3_sigma": round(100 * v["above_3_sigma"], 2)}
                       for m, r in result["models"].items() for fam, v in r.items()}
    write_json(result, args.json)


if __name__ == "__main__":
    main()
