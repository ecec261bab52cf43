"""Where the output on real noise alone comes from: level, shape, and the window's end dates.

    python benchmarks/leakage.py --model fault --model mogi [--json docs/figures/leakage.json]

Noise: the detrended Mexico City series of ``benchmarks/injection.py`` (each pixel's linear trend
removed; mask ``maskTempCoh.h5``), every 9-date window.  Per window and model, over the valid pixels:

- the raw cumulative map (last date minus first) split into its spatial mean (the level, set by the
  reference pixel's own noise) and the RMS about that mean (the shape);
- the denoised cumulative map split the same way, and their ratios to the raw RMS (``rms_ratio`` is
  the noise-only figure of ``benchmarks/injection.py``);
- the correlation of the denoised map with the raw one, and the median sigma.

Also, per date, the spatial RMS of the detrended noise about its mean: one date much noisier than
the others, at a window's last (or first) date, looks to the network like motion in that window's
edge interval, the one place where a step and a single noisy date cannot be told apart.
"""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def measure(model, noise, height, valid, augment="auto", region=None):
    """Rows per window (see the module docstring); the network sees every valid pixel, the figures
    are taken over ``region`` (a boolean (H, W) map within ``valid``; default all valid pixels)."""
    from mintpy_dlae.constants import WINDOW
    from mintpy_dlae.inference import denoise
    from mintpy_dlae.injection import window_noise
    rows = []
    for k in range(len(noise) - WINDOW + 1):
        w = window_noise(noise, valid, k)
        res = denoise(w, height, model=model, mask=valid, augment=augment)
        sel = valid if region is None else (valid & region)
        out = res.cumulative[0][sel].astype(np.float64)
        raw = (w[-1] - w[0])[sel].astype(np.float64)
        rms = float(np.sqrt(np.mean(raw ** 2)))
        rows.append({"window": k, "raw_rms_mm": round(1e3 * rms, 2), "raw_level_mm": round(1e3 * raw.mean(), 2),
                     "raw_shape_rms_mm": round(1e3 * raw.std(), 2),
                     "out_level_mm": round(1e3 * out.mean(), 2), "out_shape_rms_mm": round(1e3 * out.std(), 2),
                     "rms_ratio": round(float(np.sqrt(np.mean(out ** 2))) / rms, 3),
                     "level_ratio": round(abs(out.mean()) / rms, 3), "shape_ratio": round(out.std() / rms, 3),
                     "corr_with_raw": round(float(np.corrcoef(out, raw)[0, 1]), 2),
                     "median_sigma_mm": round(1e3 * float(np.median(res.cumulative_std[0][sel])), 2),
                     "above_3_sigma": round(float(np.mean(np.abs(out) > 3 * res.cumulative_std[0][sel])), 5)})
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, help="fault, mogi, a .keras path or NAME=PATH")
    p.add_argument("--augment", default="auto", choices=["auto", "1", "2", "4", "8"])
    p.add_argument("--columns", type=int, nargs=2, default=None, metavar=("FIRST", "END"),
                   help="take the figures over columns FIRST..END-1 only (e.g. 0 50: the west half, away "
                        "from the bowl); the network still sees the whole crop")
    p.add_argument("--permute", type=int, nargs="+", default=None, metavar="SEED",
                   help="also run on the dates shuffled, once per seed (numpy default_rng(SEED).permutation): "
                        "each date keeps its atmosphere but anything that persists in time is broken up")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, HERE)
    from injection import load
    noise, height, valid = load()
    x = noise[:, valid].astype(np.float64)
    per_date = np.round(1e3 * np.sqrt(((x - x.mean(axis=1, keepdims=True)) ** 2).mean(axis=1)), 2)
    print("spatial RMS of the detrended noise per date (about each date's mean), mm:", per_date.tolist())
    result = {"per_date_shape_rms_mm": per_date.tolist()}
    region = None
    if a.columns:
        region = np.zeros_like(valid)
        region[:, a.columns[0]:a.columns[1]] = True
        result["columns"] = list(a.columns)
    models = [spec.split("=", 1) if "=" in spec else (os.path.basename(spec), spec) for spec in a.model]

    for name, path in models:
        rows = measure(path, noise, height, valid, a.augment, region)
        result[name] = rows
        print(f"\n== {name}")
        print("window  raw rms = level + shape (mm)   out level  out shape  rms ratio  (level, shape)  corr  sigma")
        for r in rows:
            print(f"{r['window']:6d}  {r['raw_rms_mm']:7.2f} = {r['raw_level_mm']:6.2f} + {r['raw_shape_rms_mm']:5.2f}"
                  f"      {r['out_level_mm']:7.2f}  {r['out_shape_rms_mm']:8.2f}  {r['rms_ratio']:9.3f}"
                  f"  ({r['level_ratio']:.3f}, {r['shape_ratio']:.3f})  {r['corr_with_raw']:5.2f}  {r['median_sigma_mm']:5.2f}")
    if a.permute:
        result["permuted"] = {}
        for seed in a.permute:
            perm = np.random.default_rng(seed).permutation(len(noise))
            entry = {"order": perm.tolist()}
            for name, path in models:
                entry[name] = measure(path, noise[perm], height, valid, a.augment, region)
                print(f"dates shuffled (seed {seed}, order {perm.tolist()}): {name} RMS / raw "
                      + " ".join(f"{r['rms_ratio']:.3f}" for r in entry[name]))
            result["permuted"][str(seed)] = entry
    if a.json:
        from mintpy_dlae.model import atomic_write_json
        atomic_write_json(result, a.json)
    return result


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
