"""Would the network do better on real noise if it saw each date with its spatial mean removed?

    python benchmarks/area_input.py --model fault --model mogi --json docs/figures/area_input.json

A prototype of an inference-time change, not what the product does: before the network, each date
of each window has its mean over the valid pixels subtracted (the series is area-referenced: the
reference pixel's own noise, common to every pixel, is gone), the noise scale is taken from that
series, and the means are added back to the output (so the map keeps the input's level; referenced
to a pixel below, any per-map constant cancels anyway).  Both variants are scored as
``mintpy_dlae.py`` delivers them: each cumulative map referenced to the reference pixel (row 9, col
8; the detrended noise is 0 there, the window's 1e-7 offset keeps it a valid pixel).

On the detrended Mexico City noise of ``benchmarks/injection.py`` (``tests/data/pyrate_cropA``):

- ``noise_only``: output RMS / raw RMS of the cumulative map (both referenced to the reference
  pixel), for each of the five 9-date windows, and their mean; ``significant``: the mean share of
  valid pixels with |output| / sigma > 3;
- ``gains``: the least-squares gain of the injected signal (``mintpy_dlae.injection.run_injection``:
  Mogi and Okada, step and steady, without and with a masked core, 2x and 5x the noise) in windows
  0 and 4, mean over the two windows.

``current``: the network as ``mintpy_dlae.py`` runs it; ``area_input``: the prototype.
"""
import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REF = (9, 8)


def area_referenced(predict):
    """A predict_windows that gives the network each date minus its mean over the valid pixels (scale
    from that series) and adds the means back to the output maps."""
    from mintpy_dlae import inference

    def wrapped(model, noisy, elevation, mask=None, **kw):
        shape = noisy.shape[:1] + noisy.shape[2:]
        valid = np.ones(shape, bool) if mask is None else np.broadcast_to(mask, shape)
        count = np.maximum(valid.sum(axis=(1, 2)), 1)[:, None]
        mean = (np.where(valid[:, None], noisy, 0).sum(axis=(2, 3), dtype=np.float64) / count).astype(np.float32)
        x = np.where(valid[:, None], noisy - mean[:, :, None, None], noisy)
        kw.pop("scale", None)
        p = predict(model, x, elevation, mask=mask, **kw)
        d = p.dates + (mean[:, 1:] - mean[:, :1])[:, :, None, None]
        return inference.WindowPrediction(d, d[:, -1].copy(), p.dates_std, p.cumulative_std)
    return wrapped


def measure(model, noise, height, valid, variant):
    from mintpy_dlae import inference
    from mintpy_dlae import injection as inj
    from injection import CENTER, WINDOWS
    original_predict, original_denoise = inference.predict_windows, inference.denoise
    ry, rx = REF

    def referenced(*a, **k):              # as mintpy_dlae.py writes the maps: relative to REF_Y/REF_X
        res = original_denoise(*a, **k)
        return type("Result", (), {"cumulative": res.cumulative - res.cumulative[:, ry:ry + 1, rx:rx + 1],
                                   "cumulative_std": res.cumulative_std})()
    try:
        if variant == "area_input":
            inference.predict_windows = area_referenced(original_predict)
        inference.denoise = referenced
        ratios, significant = [], []
        for k in range(len(noise) - 8):
            w = inj.window_noise(noise, valid, k)
            res = inference.denoise(w, height, model=model, mask=valid)
            out = res.cumulative[0][valid].astype(np.float64)
            raw = (w[-1] - w[0]) - (w[-1] - w[0])[ry, rx]
            raw = raw[valid].astype(np.float64)
            ratios.append(round(float(np.sqrt(np.mean(out ** 2) / np.mean(raw ** 2))), 3))
            significant.append(float(np.mean(np.abs(out) / res.cumulative_std[0][valid] > 3)))
        gains = {}
        for k in WINDOWS:
            rows = inj.run_injection(model, inj.window_noise(noise, valid, k), height, valid, CENTER,
                                     factors=(2.0, 5.0))
            for r in rows:
                key = f"{r['kind']}_{r['history']}{'_core' if r['core'] else ''} {r['factor']:g}x"
                gains.setdefault(key, []).append(r["gain"])
    finally:
        inference.predict_windows, inference.denoise = original_predict, original_denoise
    return {"noise_only": ratios, "noise_only_mean": round(float(np.mean(ratios)), 3),
            "significant": round(float(np.mean(significant)), 4),
            "gains": {k: round(float(np.mean(v)), 2) for k, v in gains.items()}}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, help="fault, mogi or a .keras path (repeatable)")
    p.add_argument("--variant", nargs="+", choices=["current", "area_input"], default=["current", "area_input"],
                   help="which variants to run (default both; 'current' alone scores a model as mintpy_dlae.py "
                        "delivers its maps)")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    sys.path.insert(0, HERE)
    from injection import load
    noise, height, valid = load()
    out = {}
    for model in a.model:
        for variant in a.variant:
            r = measure(model, noise, height, valid, variant)
            out[f"{os.path.basename(model)} {variant}"] = r
            print(os.path.basename(model), variant, json.dumps(r), flush=True)
    if a.json:
        from mintpy_dlae.model import atomic_write_json
        atomic_write_json(out, a.json)
    return out


if __name__ == "__main__":
    main()
