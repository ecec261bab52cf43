"""The paper's evaluation protocol (Fig. 2): R² of the cumulative map against SNR, with baselines.

Test set: ``levels`` SNR values log-spaced from 0.01 to 10, ``per_level`` series at each (3200 =
50 x 64 in the paper), at fixed seeds, with the paper's rule (no motion in the first and last
intervals): by default from :func:`independent_batch` (noise and terrain families that training never
used), or with ``family="training"`` from :func:`mintpy_dlae.synthetic.generate`.

R² per series: 1 - sum((pred - true)^2) / sum((true - mean true)^2) over the pixels of the
cumulative map (last date minus first); per SNR level the mean over its series.  An all-zero
prediction has R² = -n mean(true)^2 / SST <= 0, the calibration floor.

Baselines:
- ``raw``: last minus first date;
- ``gaussian``: raw differencing smoothed by a spatial Gaussian filter (sigma 2 px);
- ``phase_elevation``: per-date linear phase-elevation regression removed, then Gaussian filtering
  (the classical empirical tropospheric correction, like ``tropo_phase_elevation.py``);
- ``temporal``: MintPy ``temporal_filter``-style Gaussian smoothing along time (sigma 1 date) of
  each pixel's series, then last minus first;
- ``zero``: the all-zero prediction.
"""
import json
import logging
import os
import time

import numpy as np
from scipy import ndimage

log = logging.getLogger(__name__)

PAPER_READING = {"r2_0.6_from_snr": 0.1, "recovery_down_to_snr": 0.02}   # Fig. 2 of the paper


def r2_per_sample(pred, truth):
    """R² of each sample: pred, truth (N, ...) of one shape -> (N,) float64.

    R² = 1 - SSE / SST over all the elements of a sample, SSE = sum (pred - truth)^2 and SST = sum
    (truth - mean truth)^2, about the sample's own mean (not about zero), computed in float64.  SST is
    floored at 1e-30, so a constant truth (e.g. an all-zero pure-noise sample) gives 1 for an exact
    prediction and a huge negative value otherwise.
    """
    p = pred.reshape(len(pred), -1).astype(np.float64)
    t = truth.reshape(len(truth), -1).astype(np.float64)
    sse = ((p - t) ** 2).sum(axis=1)
    sst = ((t - t.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    return 1.0 - sse / np.maximum(sst, 1e-30)


# ------------------------------------------------------------------------------------------------
# baselines: each maps a synthetic Batch to a cumulative map (N, H, W) and optionally per-date maps
def baseline_raw(batch):
    """Raw cumulative map: last minus first date of ``batch.noisy`` (N, T, H, W) -> (N, H, W)."""
    return batch.noisy[:, -1] - batch.noisy[:, 0]


def baseline_gaussian(batch, sigma=2.0):
    """:func:`baseline_raw` smoothed in space by a Gaussian of std ``sigma`` px -> (N, H, W)."""
    return ndimage.gaussian_filter(baseline_raw(batch), sigma=(0, sigma, sigma))


def phase_elevation_corrected(noisy, elevation):
    """The empirical phase-elevation correction of the stratified delay (Doin et al. 2009, J. Appl.
    Geophys.; MintPy's ``tropo_phase_elevation.py``), one slope per date fitted over the whole patch
    by least squares and removed (each date keeps its mean).
    ``noisy`` (N, T, H, W), ``elevation`` (N, H, W) metres -> (N, T, H, W) float64.
    """
    n, T, H, W = noisy.shape
    h = elevation.reshape(n, 1, -1).astype(np.float64)
    h = h - h.mean(axis=2, keepdims=True)
    y = noisy.reshape(n, T, -1).astype(np.float64)
    y = y - y.mean(axis=2, keepdims=True)
    k = (y * h).sum(axis=2, keepdims=True) / np.maximum((h * h).sum(axis=2, keepdims=True), 1e-12)
    return (noisy.reshape(n, T, -1) - k * h).reshape(n, T, H, W)


def baseline_phase_elevation(batch, sigma=2.0):
    """Per-date linear fit of displacement against elevation removed
    (:func:`phase_elevation_corrected`), then :func:`baseline_gaussian`'s filter (std ``sigma`` px).
    ``batch.noisy`` (N, T, H, W), ``batch.elevation`` (N, H, W) metres -> (N, H, W).
    """
    corrected = phase_elevation_corrected(batch.noisy, batch.elevation)
    cum = corrected[:, -1] - corrected[:, 0]
    return ndimage.gaussian_filter(cum, sigma=(0, sigma, sigma))


def baseline_temporal(batch, sigma=1.0):
    """Gaussian smoothing along time of each pixel (MintPy temporal_filter style), last minus first."""
    smooth = ndimage.gaussian_filter1d(batch.noisy.astype(np.float64), sigma=sigma, axis=1, mode="nearest")
    return (smooth[:, -1] - smooth[:, 0]).astype(np.float32)


def baseline_zero(batch):
    """The all-zero prediction (N, H, W) (the calibration floor of R²)."""
    return np.zeros_like(batch.noisy[:, 0])


BASELINES = {"raw": baseline_raw, "gaussian": baseline_gaussian, "phase_elevation": baseline_phase_elevation,
             "temporal": baseline_temporal, "zero": baseline_zero}


# ------------------------------------------------------------------------------------------------
def test_set(kind="fault", levels=50, per_level=64, snr_range=(0.01, 10.0), size=40, seed=2021, family="independent"):
    """The fixed held-out set: yields (snr, Batch) per level (generated level by level, low memory).

    family "independent" (default): :func:`independent_batch`, generator choices training never
    used; "training": the training generator with the paper's rule (seeds disjoint from training).
    """
    from . import synthetic
    snrs = np.geomspace(*snr_range, levels)
    for i, snr in enumerate(snrs):
        if family == "independent":
            yield float(snr), independent_batch(per_level, kind, float(snr), seed * 1000 + i, size=size)
        elif family == "training":
            yield float(snr), synthetic.generate(per_level, kind=kind, size=size, rng=seed * 1000 + i, snr=float(snr))
        else:
            raise ValueError(f"test_set: family must be 'independent' or 'training'; received {family!r}")


def evaluate_model(model, kind="fault", levels=50, per_level=64, snr_range=(0.01, 10.0), batch_size=64,
                   baselines=tuple(BASELINES), progress=True, family="independent", augment=1, level="network"):
    """Run the protocol; returns a dict table {"snr": [...], "model": [...], "<baseline>": [...],
    "model_dates": [...], "coverage": [...]}, one value per SNR level: "model" and each baseline,
    the mean over the level's series of the R² (:func:`r2_per_sample`) of the cumulative map;
    "model_dates", the mean R² of the model's per-date maps (dates 1..T-1 relative to date 0, all
    dates and pixels of a series in one R²); "coverage", the fraction of all pixels of the level's
    series where |cumulative - true cumulative| <= 2 sigma (sigma including the model's
    ``sigma_scale``).  ``model`` may be None for baselines only (no "model", "model_dates" and
    "coverage" keys then).
    ``augment``: symmetric copies per series (1, 2, 4 or 8; :func:`mintpy_dlae.inference.predict_windows`);
    a 40 x 40 x 9 series gets 8 from ``denoise(..., augment="auto")``, one pass is the paper's protocol.
    ``level``: the spatial mean of each output map, 'network' (the network's own) or 'input' (that of
    the series, :func:`mintpy_dlae.inference.keep_input_level`): the independent family's noise has
    zero mean over each series on every date (an area-referenced series), so its input keeps the
    truth's level."""
    from tqdm import tqdm

    from .inference import predict_windows
    table = {"snr": [], "model": [], "model_dates": [], "coverage": []}
    for name in baselines:
        table[name] = []
    it = test_set(kind, levels, per_level, snr_range, family=family)
    for snr, batch in tqdm(it, total=levels, desc=f"evaluate {kind}", disable=not progress):
        table["snr"].append(snr)
        if model is not None:
            pred = predict_windows(model, batch.noisy, batch.elevation, batch_size=batch_size, augment=augment,
                                   level=level)
            table["model"].append(float(r2_per_sample(pred.cumulative, batch.cumulative).mean()))
            table["model_dates"].append(float(r2_per_sample(pred.dates, batch.clean[:, 1:]).mean()))
            table["coverage"].append(float(np.mean(np.abs(pred.cumulative - batch.cumulative)
                                                   <= 2 * pred.cumulative_std)))
        for name in baselines:
            table[name].append(float(r2_per_sample(BASELINES[name](batch), batch.cumulative).mean()))
    if model is None:
        del table["model"], table["model_dates"], table["coverage"]
    return table


def summarise(table):
    """Headline numbers of an evaluation table (:func:`evaluate_model`): for the model and each
    baseline, the mean R² at SNR 0.02-3 interpolated linearly in log SNR between the table's levels,
    the lowest level from which every level reaches R² 0.6 (None if the highest does not), and the
    mean over levels; the min / max / mean 2-sigma coverage."""
    snr = np.asarray(table["snr"])
    out = {}
    for name in [k for k in table if k not in ("snr", "coverage")]:
        r2 = np.asarray(table[name])
        out[name] = {f"r2_at_snr_{s}": float(np.interp(np.log(s), np.log(snr), r2))
                     for s in (0.02, 0.05, 0.1, 0.3, 0.5, 1.0, 2.0, 3.0)}
        ok = r2 >= 0.6
        # "from SNR x": the lowest level above which every level reaches 0.6
        out[name]["r2_0.6_from_snr"] = float(snr[len(ok) - np.argmin(ok[::-1])]) if ok[-1] and not ok.all() \
            else (float(snr[0]) if ok.all() else None)
        out[name]["mean_over_levels"] = float(r2.mean())
    if "coverage" in table:
        cov = np.asarray(table["coverage"])
        out["coverage_2sigma"] = {"min": float(cov.min()), "max": float(cov.max()), "mean": float(cov.mean())}
    return out


def plot_table(table, png, title=""):
    """R² against SNR for the model and the baselines, with the paper's reading marked."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    styles = {"model": ("k", "-", 2.2), "model_dates": ("0.5", "--", 1.5), "raw": ("tab:red", "-", 1),
              "gaussian": ("tab:orange", "-", 1), "phase_elevation": ("tab:green", "-", 1),
              "temporal": ("tab:purple", "-", 1), "zero": ("tab:blue", ":", 1)}
    for name in [k for k in table if k not in ("snr", "coverage")]:
        c, ls, lw = styles.get(name, ("c", "-", 1))
        label = {"model": "DLAE (cumulative map)", "model_dates": "DLAE (per-date series)"}.get(name, name)
        ax.plot(table["snr"], table[name], color=c, ls=ls, lw=lw, label=label)
    ax.axhline(0.6, color="0.7", lw=0.8)
    snr_06, snr_min = PAPER_READING["r2_0.6_from_snr"], PAPER_READING["recovery_down_to_snr"]
    ax.plot([snr_06], [0.6], marker="*", ms=12, color="gold", mec="k", label=f"paper: R² > 0.6 at SNR {snr_06}")
    ax.axvline(snr_min, color="gold", lw=1, ls="--", label=f"paper: recovery down to SNR {snr_min}")
    ax.set_xscale("log")
    ax.set_ylim(-1, 1.02)
    ax.set_xlim(min(table["snr"]), max(table["snr"]))
    ax.set_xlabel("SNR (mean |cumulative deformation| / noise std)")
    ax.set_ylabel("mean R² of the cumulative map")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)


def write_table(table, path_txt):
    names = [k for k in table if k != "snr"]
    with open(path_txt, "w") as f:
        f.write("# mean R² of the cumulative map per SNR level (dlae_evaluate.py)\n")
        f.write("snr " + " ".join(names) + "\n")
        for i, s in enumerate(table["snr"]):
            f.write(f"{s:.4g} " + " ".join(f"{table[n][i]:.4f}" for n in names) + "\n")


def evaluate_to_card(model_path, kind, levels=50, per_level=64, out_prefix=None, write_card=True, family="independent",
                     augment=1, level="network"):
    """Evaluate a .keras model, write table + PNG next to it and (``write_card``) the table into its
    model card (under ``evaluation``, or ``evaluation_augment<k>`` for ``augment`` k > 1, with
    ``_level_input`` appended for ``level`` 'input')."""
    from .model import atomic_write_json, load_model, model_card_path, read_model_card
    model = load_model(model_path)
    t0 = time.time()
    table = evaluate_model(model, kind=kind, levels=levels, per_level=per_level, family=family, augment=augment,
                           level=level)
    out_prefix = out_prefix or os.path.splitext(model_path)[0] + "_eval"
    write_table(table, out_prefix + ".txt")
    plot_table(table, out_prefix + ".png", title=f"{os.path.basename(model_path)} on the {family} {kind} test set "
                                               f"({levels}x{per_level} series"
                                               + (f", {augment} copies" if augment > 1 else "")
                                               + (", input level)" if level == "input" else ")"))
    if not write_card:
        return table
    card = read_model_card(model_path)
    key = ("evaluation" if augment == 1 else f"evaluation_augment{augment}") + ("_level_input" if level == "input" else "")
    card[key] = {"protocol": f"{levels} SNR levels x {per_level} series, SNR 0.01-10, size 40, kind {kind}, "
                             f"test family {family}, {augment} symmetric cop{'y' if augment == 1 else 'ies'}"
                             + (", output level = input level" if level == "input" else ""),
                 "table": table, "summary": summarise(table), "seconds": round(time.time() - t0, 1)}
    atomic_write_json(card, model_card_path(model_path))
    return table


# ------------------------------------------------------------------------------------------------
# post-training calibration of sigma (DlaeNet.sigma_scale)
COVERAGE_TARGET = 0.95


def calibration_predictions(net, kinds=("fault", "mogi"), n=512, seed=31337):
    """Yield (batch, prediction) on the calibration batches: ``n`` series of the training
    distribution per kind, seeds ``seed + k`` (disjoint from training, validation and test).
    ``net``: a loaded model.  The set that fixes the sigma factor (:func:`calibrate_sigma`)."""
    from . import synthetic
    from .dataset import GENERATOR_OPTIONS
    from .inference import predict_windows
    for i, kind in enumerate(kinds):
        b = synthetic.generate(n, kind=kind, rng=seed + i, **dict(GENERATOR_OPTIONS, reuse=1))
        yield b, predict_windows(net, b.noisy, b.elevation, mask=b.valid)


def calibrate_sigma(model, kinds=("fault", "mogi"), n=512, seed=31337, target=COVERAGE_TARGET):
    """Factor k for sigma such that |mean - truth| <= 2 k sigma holds for ``target`` of the valid pixels.

    Measured on a calibration batch of the training distribution (:func:`calibration_predictions`,
    seeds disjoint from training, validation and test), per-date maps of all kinds pooled: with
    z = |mean - truth| / sigma_net over the valid pixels and dates with sigma > 0, where sigma_net
    is the network's own sigma (the predicted sigma divided by the model's current ``sigma_scale``),
    k = quantile(z, ``target``) / 2.  Returns (k, report); report: target, factor,
    coverage_before (the 2-sigma coverage of the model as it is: the fraction of z <= 2 x its
    sigma_scale), pixels, seed, kinds, n_per_kind.  Raises as :func:`mintpy_dlae.model.load_model`
    does for a bad ``model``.
    """
    from .model import load_model
    net = load_model(model)
    old = float(getattr(net, "sigma_scale", 1.0))
    ratios = []
    for b, pred in calibration_predictions(net, kinds, n, seed):
        err = np.abs(pred.dates - b.clean[:, 1:])
        sel = np.broadcast_to(b.valid[:, None], err.shape) & (pred.dates_std > 0)
        ratios.append(err[sel] / (pred.dates_std[sel] / old))
    z = np.concatenate(ratios)
    k = float(np.quantile(z, target) / 2.0)
    report = {"target": target, "factor": round(k, 4), "coverage_before": float(np.mean(z <= 2 * old)),
              "pixels": int(z.size), "seed": seed, "kinds": list(kinds), "n_per_kind": n}
    return k, report


def apply_sigma_scale(model_path, k, report=None):
    """Rewrite a .keras model with ``sigma_scale = k`` (atomically) and record it in its card."""
    from .model import DlaeNet, export_float32, load_model, model_card_path, read_model_card, save_model_atomic
    from .model import atomic_write_json as _atomic_write_json
    net = load_model(model_path)
    new = DlaeNet.from_config(dict(net.get_config(), sigma_scale=float(k)))
    new.set_weights(net.get_weights())
    save_model_atomic(export_float32(new), model_path)
    card = read_model_card(model_path)
    card["sigma_calibration"] = report
    card.setdefault("architecture", {})["sigma_scale"] = float(k)
    _atomic_write_json(card, model_card_path(model_path))


# ------------------------------------------------------------------------------------------------
# an independent test family: generator choices that training never used
def ridge_terrain(n, size, rng):
    """Terrain made of 3-10 elongated Gaussian ridges and basins (heights 50-1500 m): a family the
    training generator (real Jacksboro crops, isotropic fractal fields) never produces."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    out = np.zeros((n, size, size))
    for i in range(n):
        for _ in range(rng.integers(3, 11)):
            cy, cx = rng.uniform(-0.3, 1.3, 2) * size
            a, b = np.exp(rng.uniform(np.log(2), np.log(2 * size), 2))
            th = rng.uniform(0, np.pi)
            u = (xx - cx) * np.cos(th) + (yy - cy) * np.sin(th)
            v = -(xx - cx) * np.sin(th) + (yy - cy) * np.cos(th)
            out[i] += rng.choice([-1, 1]) * np.exp(rng.uniform(np.log(50), np.log(1500))) * np.exp(
                -0.5 * ((u / a) ** 2 + (v / b) ** 2))
    return (out - out.min(axis=(1, 2), keepdims=True) + rng.uniform(0, 2500, (n, 1, 1))).astype(np.float32)


def gaussian_turbulence(n, size, rng):
    """Turbulence with a *Gaussian* covariance (white noise smoothed by an anisotropic Gaussian of
    1-12 px, rotated): a spectrum that falls faster than any power law the training used (the
    convective cells of ``synthetic.generate(cells=...)``, sparse Gaussian blobs, approach it when
    dense; docs/evaluation.md)."""
    out = np.empty((n, size, size), np.float32)
    for i in range(n):
        big = rng.standard_normal((2 * size, 2 * size))
        sy, sx = np.exp(rng.uniform(np.log(1.0), np.log(12.0), 2))
        f = ndimage.gaussian_filter(big, (sy, sx), mode="wrap")
        f = ndimage.rotate(f, rng.uniform(0, 180), reshape=False, mode="wrap")
        c = size // 2
        f = f[c:c + size, c:c + size]
        out[i] = (f - f.mean()) / (f.std() + 1e-12)
    return out


def independent_noise(elevation, num_dates, rng, turbulence=True, stratified=True):
    """The independent family's noise (n, T, H, W), metres, over ``elevation`` (n, H, W) metres:
    Gaussian-covariance turbulence (std 2-20 mm, per-date factor U(0.2, 1)) plus a linear stratified
    delay with a coefficient U(-1, 1) x (1-20 mm/km) per date.  ``turbulence`` / ``stratified``
    False leave that part out (for diagnostics) with the same random draws for the other."""
    n, size = len(elevation), elevation.shape[-1]
    amp = np.exp(rng.uniform(np.log(2e-3), np.log(2e-2), (n, 1))) * rng.uniform(0.2, 1.0, (n, num_dates))
    noise = gaussian_turbulence(n * num_dates, size, rng).reshape(n, num_dates, size, size) * amp[..., None, None]
    noise *= float(turbulence)
    hk = (elevation - elevation.mean(axis=(1, 2), keepdims=True)) / 1000.0
    k1 = rng.uniform(-1, 1, (n, num_dates)) * np.exp(rng.uniform(np.log(1e-3), np.log(2e-2), (n, 1)))
    noise += (float(stratified) * k1[..., None, None] * hk[:, None]).astype(np.float32)
    return noise.astype(np.float32)


def independent_batch(n, kind, snr, rng, size=40, num_dates=9):
    """A test batch from the independent family: the training's source physics (Okada / Mogi with
    paper-rule histories), but Gaussian-covariance turbulence, ridge terrain, a stratified delay with
    uniformly drawn coefficients, and per-date noise amplitudes spread over a factor of 5.  The
    deformation is scaled to the paper SNR ``snr`` exactly."""
    from . import synthetic
    from .physics.los import random_geometry
    rng = np.random.default_rng(rng)
    inc, az = random_geometry(n, rng)
    clean = synthetic.deformation(n, kind, size, num_dates, rng, inc, az)
    elev = ridge_terrain(n, size, rng)
    noise = independent_noise(elev, num_dates, rng)
    signal = np.abs(clean[:, -1] - clean[:, 0]).mean(axis=(1, 2))
    clean *= (snr * noise.reshape(n, -1).std(axis=1) / np.maximum(signal, 1e-30))[:, None, None, None].astype(np.float32)
    return synthetic.Batch(noisy=clean + noise, clean=clean, elevation=elev, incidence=inc.astype(np.float32),
                           azimuth=az.astype(np.float32), snr=synthetic.paper_snr(clean, noise).astype(np.float32),
                           pixel_size=np.full(n, 90.0, np.float32))
