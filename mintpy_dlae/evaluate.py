"""The paper's evaluation protocol (Fig. 2): R² of the cumulative map against SNR, with baselines.

Test set: ``levels`` SNR values log-spaced from 0.01 to 10, ``per_level`` series at each (3200 =
50 x 64 in the paper), drawn by :func:`mintpy_dlae.synthetic.generate` at fixed seeds with the paper's
rule (no motion in the first and last intervals).

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
    """R² of each sample: pred, truth (N, ...) -> (N,)."""
    p = pred.reshape(len(pred), -1).astype(np.float64)
    t = truth.reshape(len(truth), -1).astype(np.float64)
    sse = ((p - t) ** 2).sum(axis=1)
    sst = ((t - t.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    return 1.0 - sse / np.maximum(sst, 1e-30)


# ------------------------------------------------------------------------------------------------
# baselines: each maps a synthetic Batch to a cumulative map (N, H, W) and optionally per-date maps
def baseline_raw(batch):
    return batch.noisy[:, -1] - batch.noisy[:, 0]


def baseline_gaussian(batch, sigma=2.0):
    return ndimage.gaussian_filter(baseline_raw(batch), sigma=(0, sigma, sigma))


def baseline_phase_elevation(batch, sigma=2.0):
    """Per-date linear fit of displacement against elevation removed, then Gaussian filtering."""
    n, T, H, W = batch.noisy.shape
    h = batch.elevation.reshape(n, 1, -1).astype(np.float64)
    h = h - h.mean(axis=2, keepdims=True)
    y = batch.noisy.reshape(n, T, -1).astype(np.float64)
    y = y - y.mean(axis=2, keepdims=True)
    k = (y * h).sum(axis=2, keepdims=True) / np.maximum((h * h).sum(axis=2, keepdims=True), 1e-12)
    corrected = (batch.noisy.reshape(n, T, -1) - k * h).reshape(n, T, H, W)
    cum = corrected[:, -1] - corrected[:, 0]
    return ndimage.gaussian_filter(cum, sigma=(0, sigma, sigma))


def baseline_temporal(batch, sigma=1.0):
    """Gaussian smoothing along time of each pixel (MintPy temporal_filter style), last minus first."""
    smooth = ndimage.gaussian_filter1d(batch.noisy.astype(np.float64), sigma=sigma, axis=1, mode="nearest")
    return (smooth[:, -1] - smooth[:, 0]).astype(np.float32)


def baseline_zero(batch):
    return np.zeros_like(batch.noisy[:, 0])


BASELINES = {"raw": baseline_raw, "gaussian": baseline_gaussian, "phase_elevation": baseline_phase_elevation,
             "temporal": baseline_temporal, "zero": baseline_zero}


# ------------------------------------------------------------------------------------------------
def test_set(kind="fault", levels=50, per_level=64, snr_range=(0.01, 10.0), size=40, seed=2021):
    """The fixed held-out set: yields (snr, Batch) per level (generated level by level, low memory)."""
    from . import synthetic
    snrs = np.geomspace(*snr_range, levels)
    for i, snr in enumerate(snrs):
        yield float(snr), synthetic.generate(per_level, kind=kind, size=size, rng=seed * 1000 + i, snr=float(snr))


def evaluate_model(model, kind="fault", levels=50, per_level=64, snr_range=(0.01, 10.0), batch_size=64,
                   baselines=tuple(BASELINES), progress=True):
    """Run the protocol; returns a dict table {"snr": [...], "model": [...], "<baseline>": [...],
    "model_dates": [...]} of mean R² per level (``model`` may be None for baselines only)."""
    from tqdm import tqdm

    from .inference import predict_windows
    table = {"snr": [], "model": [], "model_dates": []}
    for name in baselines:
        table[name] = []
    it = test_set(kind, levels, per_level, snr_range)
    for snr, batch in tqdm(it, total=levels, desc=f"evaluate {kind}", disable=not progress):
        table["snr"].append(snr)
        if model is not None:
            dates, cum = predict_windows(model, batch.noisy, batch.elevation, batch_size=batch_size)
            table["model"].append(float(r2_per_sample(cum, batch.cumulative).mean()))
            table["model_dates"].append(float(r2_per_sample(dates, batch.clean[:, 1:]).mean()))
        for name in baselines:
            table[name].append(float(r2_per_sample(BASELINES[name](batch), batch.cumulative).mean()))
    if model is None:
        del table["model"], table["model_dates"]
    return table


def summarise(table):
    """Headline numbers of an evaluation table."""
    snr = np.asarray(table["snr"])
    out = {}
    for name in [k for k in table if k != "snr"]:
        r2 = np.asarray(table[name])
        out[name] = {f"r2_at_snr_{s}": float(np.interp(np.log(s), np.log(snr), r2)) for s in (0.02, 0.05, 0.1, 0.3, 1.0, 3.0)}
        ok = r2 >= 0.6
        out[name]["r2_0.6_from_snr"] = float(snr[np.argmax(ok)]) if ok.any() else None
        out[name]["mean_over_levels"] = float(r2.mean())
    if "model" in table and "zero" in table:
        gap = np.asarray(table["model"]) - np.asarray(table["zero"])
        out["calibrated"] = bool((gap >= -CALIBRATION_TOLERANCE).all())   # see calibrate_shrinkage
        out["worst_gap_to_zero"] = float(gap.min())
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
    for name in [k for k in table if k != "snr"]:
        c, ls, lw = styles.get(name, ("c", "-", 1))
        label = {"model": "DLAE (cumulative map)", "model_dates": "DLAE (per-date series)"}.get(name, name)
        ax.plot(table["snr"], table[name], color=c, ls=ls, lw=lw, label=label)
    ax.axhline(0.6, color="0.7", lw=0.8)
    snr_06, snr_min = PAPER_READING["r2_0.6_from_snr"], PAPER_READING["recovery_down_to_snr"]
    ax.plot([snr_06], [0.6], marker="*", ms=12, color="gold", mec="k", label=f"paper: R² > 0.6 at SNR {snr_06}")
    ax.axvline(snr_min, color="gold", lw=1, ls="--", label=f"paper: recovery down to SNR {snr_min}")
    ax.set_xscale("log")
    ax.set_ylim(-1, 1.02)
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


def evaluate_to_card(model_path, kind, levels=50, per_level=64, out_prefix=None, write_card=True):
    """Evaluate a .keras model, write table + PNG next to it and (``write_card``) the table into its
    model card."""
    from .model import load_model, model_card_path, read_model_card
    model = load_model(model_path)
    t0 = time.time()
    table = evaluate_model(model, kind=kind, levels=levels, per_level=per_level)
    out_prefix = out_prefix or os.path.splitext(model_path)[0] + "_eval"
    write_table(table, out_prefix + ".txt")
    plot_table(table, out_prefix + ".png", title=f"{os.path.basename(model_path)} on {kind} test set "
                                               f"({levels}x{per_level} series)")
    if not write_card:
        return table
    card = read_model_card(model_path)
    card["evaluation"] = {"protocol": f"{levels} SNR levels x {per_level} series, SNR 0.01-10, size 40, kind {kind}",
                          "table": table, "summary": summarise(table), "seconds": round(time.time() - t0, 1)}
    with open(model_card_path(model_path), "w") as f:
        json.dump(card, f, indent=1)
    return table


# ------------------------------------------------------------------------------------------------
# post-training calibration of the shrinkage gain (inference.shrinkage)
CALIBRATION_TOLERANCE = 0.01      # R², far below the sampling error of a 64-series level mean
SHRINK_TAUS = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.35, 1.5, 2.0)


def calibrate_shrinkage(model, kind, levels=16, per_level=64, snr_range=(0.01, 10.0), seed=31337):
    """Choose the shrinkage ``tau`` on a calibration set (seeds disjoint from the test set).

    Rule: among the values whose mean R² is at least the all-zero prediction's at every SNR level
    (calibrated, up to ``CALIBRATION_TOLERANCE``: a gate never outputs exactly zero, so a shortfall
    of a few thousandths remains even when nothing is invented), take the one with the highest R²
    averaged over the levels; if none is calibrated, the one with the smallest worst-level shortfall.
    Returns (tau, report).
    """
    from . import dataset, synthetic
    from .inference import gate_signal, predict_windows, prepare_model, shrinkage
    from .model import load_model
    net = load_model(model)
    _, run_net = prepare_model(net)
    snrs = np.geomspace(*snr_range, levels)
    cached = []
    for i, snr in enumerate(snrs):
        b = synthetic.generate(per_level, kind=kind, rng=seed + i, snr=float(snr))
        _, cum = predict_windows(net, b.noisy, b.elevation, calibrate=False)
        _, s, valid = dataset.model_inputs(b.noisy, b.elevation)
        cached.append((b.cumulative, cum, gate_signal(run_net, b.noisy, b.elevation, s, valid), valid))
    zero = np.array([r2_per_sample(np.zeros_like(t), t).mean() for t, _, _, _ in cached])
    report = {"snr": snrs.tolist(), "zero": zero.tolist(), "taus": {}}
    for tau in SHRINK_TAUS:
        r2 = np.array([r2_per_sample(cum * (shrinkage(cn, v, tau) if tau > 0 else 1.0), t).mean()
                       for t, cum, cn, v in cached])
        report["taus"][str(tau)] = {"r2": r2.tolist(), "mean": float(r2.mean()), "worst_gap": float((r2 - zero).min())}
    rows = report["taus"]
    calibrated = [t for t in SHRINK_TAUS if rows[str(t)]["worst_gap"] >= -CALIBRATION_TOLERANCE]
    if calibrated:
        tau = max(calibrated, key=lambda t: rows[str(t)]["mean"])
    else:
        tau = max(SHRINK_TAUS, key=lambda t: rows[str(t)]["worst_gap"])
    report["chosen"] = tau
    report["calibrated"] = bool(calibrated)
    return tau, report


def apply_shrinkage(model_path, tau, report=None):
    """Rewrite a .keras model with ``shrink_tau = tau`` (atomically) and record it in its card."""
    from .model import DlaeNet, load_model, model_card_path, read_model_card
    from .train import _atomic_write_json, export_float32
    net = load_model(model_path)
    new = DlaeNet.from_config(dict(net.get_config(), shrink_tau=float(tau)))
    new.set_weights(net.get_weights())
    tmp = model_path[:-len(".keras")] + ".tmp.keras"
    export_float32(new).save(tmp)
    os.replace(tmp, model_path)
    card = read_model_card(model_path)
    card["calibration"] = {"shrink_tau": float(tau), "report": report}
    card.setdefault("architecture", {})["shrink_tau"] = float(tau)
    _atomic_write_json(card, model_card_path(model_path))
