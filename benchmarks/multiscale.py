"""A second pass of the network on the frame averaged over 2 x 2 pixels, whose long wavelengths
replace those of the full-resolution pass: ``two_scale`` everywhere (a prototype), ``two_scale_kept``
where the full-resolution map is not significant (``denoise(..., scales=2)``, the default of
``denoise()`` and ``mintpy_dlae.py`` since 2026-12-03); ``fine`` is one pass (``scales=1``).

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
import contextlib
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
VARIANTS = ("fine", "two_scale", "two_scale_kept")


def two_scale_everywhere(ts, elevation, model="fault", mask=None, denoise=None, **kw):
    """``two_scale``: ``denoise`` (default :func:`mintpy_dlae.inference.denoise`) at full resolution
    and on 2 x 2 block means, the coarse pass's long wavelengths blended in everywhere, its std too
    (``two_scale_kept`` is ``denoise(..., scales=2)``, which blends only where the full-resolution
    map is not significant)."""
    from mintpy_dlae import multiscale
    from mintpy_dlae.inference import DenoiseResult
    if denoise is None:
        from mintpy_dlae.inference import denoise
    fine = denoise(ts, elevation, model=model, mask=mask, scales=1, **kw)
    H, W = ts.shape[1:]
    valid = (np.isfinite(ts) & (ts != 0)).any(axis=0) & np.isfinite(elevation)
    if mask is not None:
        valid &= np.asarray(mask, bool)
    t2, v2 = multiscale.block_mean2(np.nan_to_num(ts), valid)
    e2, _ = multiscale.block_mean2(np.nan_to_num(elevation)[None], valid)
    coarse = denoise(t2, e2[0], model=model, mask=v2, scales=1, **kw)
    out = {k: multiscale.blend(getattr(fine, k), multiscale.upsample2(getattr(coarse, k), (H, W)))
           for k in ("timeseries", "cumulative", "timeseries_std", "cumulative_std")}
    return DenoiseResult(augment=fine.augment, level=fine.level, **out)


def variant(label, denoise):
    """``denoise`` turned into the variant ``label`` (same signature)."""
    if label == "two_scale":
        return lambda *a, **k: two_scale_everywhere(*a, denoise=denoise, **k)
    if label == "two_scale_kept":
        return lambda *a, **k: denoise(*a, scales=2, **k)
    return lambda *a, **k: denoise(*a, scales=1, **k)


@contextlib.contextmanager
def denoise_as(label):
    """``mintpy_dlae.inference.denoise`` (which the injection code calls) as the variant ``label``."""
    from mintpy_dlae import inference
    original = inference.denoise
    inference.denoise = variant(label, original)
    try:
        yield
    finally:
        inference.denoise = original


def synthetic(models, seed=818000):
    from mintpy_dlae.evaluate import independent_batch, r2_per_sample
    from mintpy_dlae.inference import denoise
    out = {}
    for name, path in models.items():
        for ki, kind in enumerate(("fault", "mogi")):
            for size, per in ((40, 48), (128, 24)):
                for snr in (1.0, 2.0):
                    b = independent_batch(per, kind, snr, seed + 1000 * ki + 10 * size + int(snr), size=size)
                    cell = {}
                    for label in VARIANTS:
                        run = variant(label, denoise)
                        res = [run(b.noisy[i], b.elevation[i], model=path, augment=1) for i in range(per)]
                        mean = np.array([r.cumulative[0] for r in res])
                        std = np.array([r.cumulative_std[0] for r in res])
                        cell[label] = round(float(r2_per_sample(mean, b.cumulative).mean()), 3)
                        cell[f"{label} coverage"] = round(float(np.mean(np.abs(mean - b.cumulative) <= 2 * std)), 4)
                    out[f"{name} {kind}@{snr:g} {size}px"] = cell
                    print(f"{name} {kind}@{snr:g} {size}px", cell, flush=True)
    return out


def real(model):
    sys.path.insert(0, HERE)
    import injection as inj
    noise, height, valid = inj.load()
    res = {}
    for label in VARIANTS:
        with denoise_as(label):
            rows, nz = inj.measure(model, noise, height, valid)
        res[label] = {"noise_only": round(nz["rms_ratio"], 3),
                      **{f"{case} {g}": v for case, cell in inj.summary(rows).items() for g, v in cell.items()
                         if g.startswith("gain")}}
        print(label, res[label], flush=True)
    return res


def spread(model):
    """``benchmarks/injection_spread.py`` (six places, every 9-date window, 2x and 5x, one pass) with
    the full-resolution pass and with ``two_scale_kept``: {label: that script's summary}."""
    sys.path.insert(0, HERE)
    import injection as inj
    import injection_spread as sp
    noise, height, valid = inj.load()
    res = {}
    for label in ("fine", "two_scale_kept"):
        with denoise_as(label):
            out = sp.spread(model, noise, height, valid, augment=1)
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
    from mintpy_dlae.multiscale import BLEND_PX, KEEP_SIGMA
    res = {"blend_px": BLEND_PX, "keep": list(KEEP_SIGMA)}
    if a.spread:
        res["spread"] = spread(next(iter(models.values())))
    else:
        res["synthetic"] = synthetic(models)
        res["real"] = real(next(iter(models.values())))
    if a.json:
        from mintpy_dlae.model import atomic_write_json
        atomic_write_json(res, a.json)
    return res


if __name__ == "__main__":
    main()
