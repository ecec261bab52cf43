"""Inference-time ablation of the normalisation: one noise scale per window over the whole frame
(what the engine does) against a smooth local scale map, on 128 px frames and on real noise.

    python benchmarks/local_scale.py --model fault --model mogi [--box 64 96] --json docs/figures/local_scale.json

The engine divides each window by one scale, the median over the frame of the pixels' mean squared
date-to-date increment (``dataset.window_scale``), as training did over a 40 px patch.  On a large
frame whose noise is uneven (relief on one side, a storm over part of it) the noisy part is then
seen as many times the noise (docs/evaluation.md, "Larger frames").  The alternative measured here,
``local`` with box B: the same median over a B x B px box (kept inside the frame) around points of a
grid every ``step`` px, its square root interpolated linearly to every pixel (frames up to B px get
the frame's value, so a 40 px series is unchanged).  The network sees x / s(y, x) and its outputs are
multiplied by s(y, x) (``predict_windows(scale=map)``).  One pass, no symmetric copies.

Measured, for the frame scale and each box:
- noise alone on 128 px frames (``passthrough.family_batch``: the training generator's noise, the
  independent family, its stratified part alone, gravity waves; seeds 880000+): output RMS / raw RMS
  of the cumulative map and the percentage of pixels above 3 sigma;
- mean / median R² on 128 px series of the independent family at SNR 1 and 2 (seeds 777000+, as
  ``r2_at_snr.py``), each model on its own kind;
- signal injection into the detrended real noise of ``tests/data/pyrate_cropA`` (a 60 x 100 px
  frame, windows 0 and 4, centre (35, 25), as ``injection.py``): mean gain at 2x and 5x (Okada and
  Mogi, step and steady, with and without a masked core) and, on the noise alone, RMS / raw.
"""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def scale_map(noisy, valid=None, box=64, step=16):
    """(N, H, W) float32 metres: the local noise scale of each window of ``noisy`` (N, T, H, W)."""
    import warnings

    from scipy.interpolate import RegularGridInterpolator

    from mintpy_dlae import dataset
    N, T, H, W = noisy.shape
    valid = dataset.valid_mask(noisy) if valid is None else np.broadcast_to(valid, (N, H, W))
    msq = dataset.increment_power(noisy, valid)          # the pixels window_scale takes the median of

    def centres(n):
        if n <= box:
            return np.array([n / 2.0]), np.array([0])
        c = np.arange(box / 2.0, n - box / 2.0 + 1e-9, step)
        if c[-1] < n - box / 2.0:
            c = np.append(c, n - box / 2.0)
        return c, np.round(c - box / 2.0).astype(int)

    cy, y0 = centres(H)
    cx, x0 = centres(W)
    out = np.empty((N, H, W), np.float32)
    yy, xx = np.mgrid[0:H, 0:W]
    for i in range(N):
        grid = np.empty((len(cy), len(cx)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for a, ya in enumerate(y0):
                for b, xb in enumerate(x0):
                    grid[a, b] = np.nanmedian(msq[i, ya:ya + box, xb:xb + box])
        if np.isnan(grid).all():
            out[i] = 0.0
            continue
        grid = np.where(np.isnan(grid), np.nanmedian(grid), grid)
        s = np.sqrt(grid)
        if s.size == 1:
            out[i] = s.ravel()[0]
            continue
        pts = (np.clip(yy + 0.5, cy[0], cy[-1]), np.clip(xx + 0.5, cx[0], cx[-1]))
        if len(cy) == 1:
            f = np.interp(pts[1].ravel(), cx, s[0]).reshape(H, W)
        elif len(cx) == 1:
            f = np.interp(pts[0].ravel(), cy, s[:, 0]).reshape(H, W)
        else:
            f = RegularGridInterpolator((cy, cx), s)(np.stack([p.ravel() for p in pts], -1)).reshape(H, W)
        out[i] = f
    return out


def _predict(net, noisy, elev, mask, how):
    from mintpy_dlae.inference import predict_windows
    scale = None if how == "frame" else scale_map(noisy, mask, box=int(how.split("_")[1]))
    return predict_windows(net, noisy, elev, mask=mask, batch_size=16, precision="float32", scale=scale)


def noise_alone(net, hows, n=32, size=128):
    from passthrough import family_batch
    out = {}
    for fam, seed in (("training", 880000), ("independent", 880002), ("independent stratified", 880002),
                      ("waves", 880003)):
        noisy, elev = family_batch(fam, n, seed, size=size)
        raw = (noisy[:, -1] - noisy[:, 0]).astype(np.float64)
        for how in hows:
            p = _predict(net, noisy, elev, None, how)
            cum = p.cumulative.astype(np.float64)
            out.setdefault(fam, {})[how] = {
                "rms_ratio": round(float(np.sqrt((cum ** 2).mean() / (raw ** 2).mean())), 3),
                "above_3_sigma": round(float(100 * np.mean(np.abs(cum) > 3 * p.cumulative_std)), 2)}
    return out


def accuracy(net, kind, hows, n=64, size=128, snrs=(1.0, 2.0)):
    from mintpy_dlae.evaluate import independent_batch, r2_per_sample
    out = {}
    ki = 0 if kind == "fault" else 1
    for si, snr in enumerate(snrs):
        b = independent_batch(n, kind, float(snr), 777000 + 100 * ki + si, size=size)
        for how in hows:
            r2 = r2_per_sample(_predict(net, b.noisy, b.elevation, None, how).cumulative, b.cumulative)
            out.setdefault(f"{kind}@{snr:g}", {})[how] = {"mean": round(float(r2.mean()), 3),
                                                         "median": round(float(np.median(r2)), 3)}
    return out


def real_noise(net, hows, factors=(2.0, 5.0)):
    from injection import CENTER, WINDOWS, load

    from mintpy_dlae.injection import gain_and_correlation, history, mask_core, signal_map, window_noise
    noise, height, valid = load()
    gains = {how: {f: [] for f in factors} for how in hows}
    alone = {how: [] for how in hows}
    for k in WINDOWS:
        w = window_noise(noise, valid, k)
        raw = (w[-1] - w[0])[valid]
        for how in hows:
            p = _predict(net, w[None], height[None], valid[None], how)
            out = p.cumulative[0][valid]
            alone[how].append(float(np.sqrt(np.mean(out.astype(np.float64) ** 2) / np.mean(raw.astype(np.float64) ** 2))))
        std = float(raw.std())
        for kind in ("mogi", "fault"):
            shape = signal_map(kind, noise.shape[1:], CENTER)
            for hist in ("step", "steady"):
                h = history(hist, len(w))
                for core in (False, True):
                    v = mask_core(valid, shape, 4.0) if core else valid
                    for f in factors:
                        truth = f * std * shape
                        data = np.where(v[None], w + h[:, None, None] * truth[None], 0.0).astype(np.float32)
                        for how in hows:
                            p = _predict(net, data[None], height[None], v[None], how)
                            gains[how][f].append(gain_and_correlation(np.nan_to_num(p.cumulative[0]), truth, v)[0])
    return {how: {**{f"gain_{f:g}x": round(float(np.mean(gains[how][f])), 3) for f in factors},
                  **{f"gain_{f:g}x_min": round(float(np.min(gains[how][f])), 3) for f in factors},
                  "noise_rms_ratio": round(float(np.mean(alone[how])), 3)} for how in hows}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, help="fault, mogi or a .keras path (repeatable)")
    p.add_argument("--box", type=int, nargs="+", default=[64], help="box sizes of the local scale in px (default 64)")
    p.add_argument("--per-set", type=int, default=32, help="frames per noise family and SNR (default 32)")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    sys.path.insert(0, HERE)
    from _specs import setup, write_json
    setup()
    from mintpy_dlae.model import load_model
    hows = ["frame"] + [f"local_{b}" for b in a.box]
    result = {"boxes": a.box, "per_set": a.per_set, "models": {}}
    for m in a.model:
        net = load_model(m)
        kind = "mogi" if "mogi" in os.path.basename(m) else "fault"
        r = {"noise_alone_128": noise_alone(net, hows, n=a.per_set),
             "accuracy_128": accuracy(net, kind, hows, n=a.per_set),
             "real_noise": real_noise(net, hows)}
        result["models"][m] = r
        for part, rows in r.items():
            for key, cells in rows.items():
                print(f"{m:>6s} {part:16s} {key:24s} " + "  ".join(f"{h}: {v}" for h, v in cells.items())
                      if isinstance(cells, dict) and all(isinstance(v, dict) for v in cells.values())
                      else f"{m:>6s} {part:16s} {key:24s} {cells}", flush=True)
    result["table"] = table(result)
    write_json(result, a.json)


def table(result):
    """The rows of docs/evaluation.md's table: "<model> <what>" -> {"<how> <figure>": value}."""
    rows = {}
    for m, r in result["models"].items():
        for fam, cells in r["noise_alone_128"].items():
            rows[f"{m} noise alone 128 px: {fam}"] = {h: v["rms_ratio"] for h, v in cells.items()}
        for key, cells in r["accuracy_128"].items():
            rows[f"{m} R² 128 px: {key}"] = {h: v["mean"] for h, v in cells.items()}
        for f in ("2x", "5x"):
            rows[f"{m} real noise: gain {f}"] = {h: v[f"gain_{f}"] for h, v in r["real_noise"].items()}
        rows[f"{m} real noise: noise alone"] = {h: v["noise_rms_ratio"]
                                               for h, v in r["real_noise"].items()}
    return rows


if __name__ == "__main__":
    main()
