"""A second pass of the network on the frame averaged over 2 x 2 pixels, whose long wavelengths
replace those of the full-resolution pass: ``two_scale`` everywhere (a prototype), ``two_scale_kept``
where the full-resolution map is not significant (``denoise(..., scales=2)``; not in
``mintpy_dlae.py`` yet).

    python benchmarks/multiscale.py --model fault --model mogi --json docs/figures/multiscale.json
    python benchmarks/multiscale.py --model fault --spread --json docs/figures/multiscale_spread.json

The coarse pass (``denoise()`` on 2 x 2 block means of the valid pixels) sees twice as far; its
output is interpolated back (bilinear) and blended: out = fine + G_2(coarse - fine), a Gaussian of 2
px over the valid pixels, for the series, the cumulative maps and their std. ``two_scale_kept``
blends only where the full-resolution map is not significant (weight 1 below |mean| / sigma = 1, 0
above 3, linear between; thresholds chosen once, before any run), so that what the full-resolution
pass detects stays as it is. Scored two ways:

- ``synthetic``: mean R² of the cumulative map (the level convention of ``denoise()``: the input's,
  these series having no reference pixel) and its 2-sigma coverage (``<variant> coverage``) on the
  independent test family at SNR 1 and 2, 40 and 128 px frames (48 and 24 series, seeds 818000+;
  one pass each, ``augment=1``);
- ``real``: the Mexico City injection and noise-only figures of ``benchmarks/injection.py`` with
  the fault model (``mintpy_dlae.injection.measure``, windows 0 and 4).
"""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
KEEP = (1.0, 3.0)       # two_scale_kept: no blend where the full-resolution map is above 3 sigma
BLEND_PX = 2.0


def two_scale_denoise(ts, elevation, model="fault", mask=None, blend=BLEND_PX, denoise=None, keep=None, **kw):
    """``two_scale`` (``keep`` None): ``denoise`` (default :func:`mintpy_dlae.inference.denoise`) at
    full resolution and on 2 x 2 block means, the coarse pass's long wavelengths blended in
    everywhere, its std too.  ``two_scale_kept`` (``keep`` = KEEP): ``denoise(..., scales=2)``, the
    package's version, which blends only where the full-resolution map is not significant."""
    from mintpy_dlae import multiscale
    from mintpy_dlae.inference import DenoiseResult
    if denoise is None:
        from mintpy_dlae.inference import denoise
    if keep is not None:
        assert tuple(keep) == multiscale.KEEP_SIGMA and blend == multiscale.BLEND_PX
        return denoise(ts, elevation, model=model, mask=mask, scales=2, **kw)
    fine = denoise(ts, elevation, model=model, mask=mask, **kw)
    n, H, W = ts.shape
    valid = (np.isfinite(ts) & (ts != 0)).any(axis=0) & np.isfinite(elevation)
    if mask is not None:
        valid &= np.asarray(mask, bool)
    t2, v2 = multiscale.block_mean2(np.nan_to_num(ts), valid)
    e2, _ = multiscale.block_mean2(np.nan_to_num(elevation)[None], valid)
    coarse = denoise(t2, e2[0], model=model, mask=v2, **kw)
    out = {k: multiscale.blend(getattr(fine, k), multiscale.upsample2(getattr(coarse, k), (H, W)), s=blend)
           for k in ("timeseries", "cumulative", "timeseries_std", "cumulative_std")}
    return DenoiseResult(augment=fine.augment, level=fine.level, **out)


def synthetic(models, blend=2.0, seed=818000):
    from mintpy_dlae.evaluate import independent_batch, r2_per_sample
    from mintpy_dlae.inference import denoise
    out = {}
    for name, path in models.items():
        for ki, kind in enumerate(("fault", "mogi")):
            for size, per in ((40, 48), (128, 24)):
                for snr in (1.0, 2.0):
                    b = independent_batch(per, kind, snr, seed + 1000 * ki + 10 * size + int(snr))
                    if size != 40:
                        b = independent_batch(per, kind, snr, seed + 1000 * ki + 10 * size + int(snr), size=size)
                    runs = {"fine": lambda i: denoise(b.noisy[i], b.elevation[i], model=path, augment=1),
                            "two_scale": lambda i: two_scale_denoise(b.noisy[i], b.elevation[i], model=path,
                                                                     blend=blend, augment=1),
                            "two_scale_kept": lambda i: two_scale_denoise(b.noisy[i], b.elevation[i], model=path,
                                                                          blend=blend, keep=KEEP, augment=1)}
                    cell = {}
                    for label, run in runs.items():
                        res = [run(i) for i in range(per)]
                        mean = np.array([r.cumulative[0] for r in res])
                        std = np.array([r.cumulative_std[0] for r in res])
                        cell[label] = round(float(r2_per_sample(mean, b.cumulative).mean()), 3)
                        cell[f"{label} coverage"] = round(float(np.mean(np.abs(mean - b.cumulative) <= 2 * std)), 4)
                    out[f"{name} {kind}@{snr:g} {size}px"] = cell
                    print(f"{name} {kind}@{snr:g} {size}px", out[f"{name} {kind}@{snr:g} {size}px"], flush=True)
    return out


def real(model, blend=2.0):
    sys.path.insert(0, HERE)
    import injection as inj
    from mintpy_dlae import inference
    noise, height, valid = inj.load()
    res = {}
    original = inference.denoise
    for label in ("fine", "two_scale", "two_scale_kept"):
        if label != "fine":
            keep = KEEP if label == "two_scale_kept" else None
            inference.denoise = lambda *a, keep=keep, **k: two_scale_denoise(*a, blend=blend, denoise=original,
                                                                             keep=keep, **k)
        try:
            rows, nz = inj.measure(model, noise, height, valid)
        finally:
            inference.denoise = original
        summ = inj.summary(rows)
        res[label] = {"noise_only": round(nz["rms_ratio"], 3),
                      **{f"{case} {g}": v for case, cell in summ.items() for g, v in cell.items() if g.startswith("gain")}}
        print(label, res[label], flush=True)
    return res


def spread(model, blend=2.0):
    """``benchmarks/injection_spread.py`` (six places, every 9-date window, 2x and 5x, one pass) with
    the full-resolution pass and with ``two_scale_kept``: {label: that script's summary}."""
    sys.path.insert(0, HERE)
    import injection as inj
    import injection_spread as sp
    from mintpy_dlae import inference
    noise, height, valid = inj.load()
    original = inference.denoise
    res = {}
    for label in ("fine", "two_scale_kept"):
        if label != "fine":
            inference.denoise = lambda *a, **k: two_scale_denoise(*a, blend=blend, denoise=original, keep=KEEP, **k)
        try:
            out = sp.spread(model, noise, height, valid, augment=1)
        finally:
            inference.denoise = original
        res[label] = {"noise_only": round(out["noise_only"]["rms_ratio"], 3), "mean_gain_2x": out["mean_gain_2x"],
                      "mean_gain_5x": out["mean_gain_5x"],
                      **{f"{case} {f}": v["mean"] for case, by_f in out["cases"].items() for f, v in by_f.items()
                         if not f.endswith("_raw")}}
        print(label, res[label], flush=True)
    return res


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True)
    p.add_argument("--spread", action="store_true",
                   help="instead: the six-place injection of injection_spread.py (first model, one pass)")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    models = dict(m.split("=", 1) if "=" in m else (m, m) for m in a.model)
    if a.spread:
        res = {"blend_px": BLEND_PX, "keep": list(KEEP), "spread": spread(next(iter(models.values())), BLEND_PX)}
        if a.json:
            from mintpy_dlae.model import atomic_write_json
            atomic_write_json(res, a.json)
        return res
    res = {"blend_px": BLEND_PX, "synthetic": synthetic(models, BLEND_PX)}
    first = next(iter(models.values()))
    res["real"] = real(first, BLEND_PX)
    if a.json:
        from mintpy_dlae.model import atomic_write_json
        atomic_write_json(res, a.json)
    return res


if __name__ == "__main__":
    main()
