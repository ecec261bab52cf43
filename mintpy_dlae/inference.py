"""Denoising engine: 9-date windows sliding over time, spatial tiles with a halo, stitching.

For a time series of n >= 9 dates, window k covers dates k..k+8 (n-8 windows, the paper's moving
integral).  Each window is normalised (:mod:`mintpy_dlae.dataset`), passed through the network and
scaled back to metres, giving the deformation at its 9 dates relative to its first date, and its
cumulative map (last minus first).  The per-date outputs of all windows are stitched into one time
series by averaging, for every interval between consecutive dates, the increments of all windows
that cover it, then integrating.

Space is cut into tiles with a halo of ``receptive_halo(model)`` pixels (normalisation box radius +
receptive field of the network), so tiled results equal whole-image results.
"""
import logging
import os
from dataclasses import dataclass

import numpy as np

from . import dataset

log = logging.getLogger(__name__)

MIN_DATES = 9
# Upper bound of pixels x windows per network call.  Activations take ~3 kB per pixel-window for the
# paper-size network (64 filters x 9 then 3 dates), so this keeps them near 0.4 GB whatever the tile.
MAX_PIXELS_PER_CALL = 131_072


@dataclass
class DenoiseResult:
    timeseries: np.ndarray   # (n, H, W) float32 metres, relative to the first date; NaN at no-data
    cumulative: np.ndarray   # (n-8, H, W) float32 metres; window k covers dates k..k+8


def cpu_supports_bf16():
    """True when the CPU has native bfloat16 matrix instructions (AMX-BF16 or AVX512-BF16)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return ("amx_bf16" in flags) or ("avx512_bf16" in flags)


def resolve_precision(precision="auto"):
    if precision == "auto":
        return "bfloat16" if cpu_supports_bf16() else "float32"
    if precision not in ("float32", "bfloat16"):
        raise ValueError(f"precision must be 'auto', 'float32' or 'bfloat16'; received precision={precision!r}")
    return precision


_PREPARED = {}
_LOADED = {}


def prepare_model(model, precision="auto"):
    """Load a model ('fault', 'mogi', path or keras model) and set its compute precision."""
    import keras

    from .model import DlaeNet, load_model, resolve_model_path
    if isinstance(model, (str, os.PathLike)):
        # cache by file (and its modification time) so repeated calls, e.g. per block, load once
        path = os.path.abspath(resolve_model_path(model))
        key = (path, os.path.getmtime(path))
        if key not in _LOADED:
            _LOADED[key] = load_model(path)
        model = _LOADED[key]
    net = load_model(model)
    policy = "mixed_bfloat16" if resolve_precision(precision) == "bfloat16" else "float32"
    key = (id(net), policy)
    if key in _PREPARED:
        return _PREPARED[key]
    if net.dtype_policy.name != policy:
        old = keras.config.dtype_policy()
        try:
            keras.config.set_dtype_policy(policy)
            clone = DlaeNet.from_config(net.get_config())
        finally:
            keras.config.set_dtype_policy(old)
        clone.set_weights(net.get_weights())
        net_out = clone
    else:
        net_out = net
    _PREPARED[key] = (net, net_out)      # keep ``net`` alive so id() stays unique
    return _PREPARED[key]


def receptive_halo(model="fault"):
    """Pixels of context needed on each side of a tile so that tiled == whole-image results."""
    net, _ = prepare_model(model, "float32")     # cached: no second load of the same file
    return int(net.receptive_radius + dataset.NORM_WINDOW // 2 + 1)


def predict_windows(model, noisy, elevation, mask=None, batch_size=32, precision="auto", calibrate=True):
    """Denoise a batch of windows.

    noisy (N, T, H, W) metres, elevation (N, H, W) or (H, W) metres, mask (N, H, W) or (H, W) bool.
    calibrate=False skips the model's calibration gate (``shrink_tau``): raw network output, one pass.
    Returns (dates (N, T-1, H, W), cumulative (N, H, W)) in metres, relative to each window's first
    date, 0 at invalid pixels.
    """
    _, net = prepare_model(model, precision)
    N = len(noisy)
    if elevation.ndim == 2:
        elevation = np.broadcast_to(elevation, (N,) + elevation.shape)
    if mask is not None and mask.ndim == 2:
        mask = np.broadcast_to(mask, (N,) + mask.shape)
    T = noisy.shape[1]
    dates = np.zeros((N, T - 1) + noisy.shape[2:], np.float32)
    batch_size = max(1, min(int(batch_size), MAX_PIXELS_PER_CALL // int(np.prod(noisy.shape[2:]))))
    tau = float(getattr(net, "shrink_tau", 0.0)) if calibrate else 0.0
    # normalise chunk by chunk: the float64 temporaries of the normalisation are as large as the
    # windows themselves, so whole-batch normalisation would dominate the memory
    for i in range(0, N, batch_size):
        sl = slice(i, i + batch_size)
        inputs, s, valid = dataset.model_inputs(noisy[sl], elevation[sl], None if mask is None else mask[sl])
        out = net(inputs, training=False)
        d = np.asarray(out["dates"] if "dates" in out else out["cumulative"], dtype=np.float32)
        d = np.moveaxis(d, -1, 1) * s[:, None]
        if d.shape[1] == 1:          # cumulative-only (paper) head: no per-date maps
            d = np.concatenate([np.zeros((len(d), T - 2) + d.shape[2:], np.float32), d], axis=1)
        if tau > 0:
            d *= calibration_gain(net, noisy[sl], elevation[sl], s, valid, tau)[:, None]
        dates[sl] = np.where(valid[:, None], d, 0.0)
    return dates, dates[:, -1].copy()


SHRINK_POWER = 8


def calibration_gain(net, noisy, elevation, s, valid, tau):
    """Gain (N, H, W) of the calibration gate for windows ``noisy`` (N, T, H, W).

    The gate looks at a second prediction, made after removing the local phase/elevation fit from
    every date (``dataset.remove_elevation_phase``): the network's false detections on noise are
    mostly stratified delay over a terrain feature (measured on the calibration set), which that
    fit removes, while true deformation mostly survives it.  The output itself still comes from the
    unmodified input, so the fit does not bias what passes the gate.
    """
    return shrinkage(gate_signal(net, noisy, elevation, s, valid), valid, tau)


def gate_signal(net, noisy, elevation, s, valid):
    """What the calibration gate measures: the cumulative output of the pass without the local
    phase/elevation fit, in units of the input's noise scale ``s``."""
    noisy_pe = dataset.remove_elevation_phase(noisy, elevation, valid)
    inputs, s_pe, _ = dataset.model_inputs(noisy_pe, elevation, valid)
    cum = np.asarray(net(inputs, training=False)["cumulative"], dtype=np.float32)[..., 0] * s_pe
    return cum / np.maximum(s, dataset.TINY)


def shrinkage(cum_normalised, valid, tau):
    """Calibration gain a^8 / (a^8 + tau^8), a = local RMS of the normalised cumulative output.

    An output that is weak compared with the noise scale over its neighbourhood is the network's
    guess on noise-like data; the gain pulls it towards zero (no invented deformation), while
    outputs well above ``tau`` pass unchanged.  The 8th power makes the gate sharp: measured on
    a calibration set, power 2 had to shrink mid-SNR outputs to reach calibration, power 8 did not.
    """
    a2, _ = dataset._box_mean(cum_normalised.astype(np.float64) ** 2, valid, dataset.NORM_WINDOW)
    ap = a2 ** (SHRINK_POWER / 2)
    return (ap / (ap + tau ** SHRINK_POWER)).astype(np.float32)


def window_weights(num_dates=MIN_DATES):
    """Weight of each interval j = 1..T-1 of a window when stitching: intervals near the middle
    of a window, where the network sees context on both sides, count more than edge intervals."""
    j = np.arange(1, num_dates)
    return np.minimum(j, num_dates - j).astype(np.float64)


def _tiles(length, width, tile, halo):
    """(core box, read box) pairs; boxes are (y0, y1, x0, x1)."""
    for y0 in range(0, length, tile):
        for x0 in range(0, width, tile):
            y1, x1 = min(y0 + tile, length), min(x0 + tile, width)
            yield (y0, y1, x0, x1), (max(0, y0 - halo), min(length, y1 + halo), max(0, x0 - halo), min(width, x1 + halo))


def denoise(ts, elevation, model="fault", mask=None, incidence=None, azimuth=None, tile_size=256, batch_size=32,
            precision="auto", calibrate=True, progress=False):
    """Denoise a displacement time series.

    Parameters: ts         - (n, H, W) LOS displacement in metres, n >= 9; no-data as NaN or 0 on all dates
                elevation  - (H, W) metres
                model      - 'fault', 'mogi', a path to a .keras file, or a loaded model
                mask       - optional (H, W) bool, True = valid
                incidence, azimuth - optional (H, W) or scalar LOS angles (deg).  Checked for shape only:
                             the shipped models were trained on random lines of sight and do not need them.
                tile_size  - core tile size in pixels (a halo of receptive_halo(model) is added)
                batch_size - windows per network call (at most; calls are also capped at
                             MAX_PIXELS_PER_CALL pixel-windows to bound memory)
                precision  - 'auto' (bf16 on CPUs with AMX/AVX512-BF16), 'float32' or 'bfloat16'
                calibrate  - apply the model's calibration gate (shrink_tau), which suppresses weak,
                             noise-like output at the cost of a second network pass; False gives
                             the raw network output
    Returns:    DenoiseResult(timeseries (n, H, W), cumulative (n-8, H, W)), float32 metres, relative to
                the first date, NaN at invalid pixels.
    """
    ts = np.asarray(ts)
    if ts.ndim != 3:
        raise ValueError(f"denoise: ts must be (n, H, W); received shape {ts.shape}")
    n, H, W = ts.shape
    if n < MIN_DATES:
        raise ValueError(f"denoise: needs at least {MIN_DATES} dates; received {n}")
    elevation = np.asarray(elevation, dtype=np.float32)
    if elevation.shape != (H, W):
        raise ValueError(f"denoise: elevation shape {elevation.shape} does not match the series {(H, W)}")
    for name, arr in (("mask", mask), ("incidence", incidence), ("azimuth", azimuth)):
        if arr is not None and np.ndim(arr) > 0 and np.shape(arr) != (H, W):
            raise ValueError(f"denoise: {name} shape {np.shape(arr)} does not match the series {(H, W)}")
    net, _ = prepare_model(model, precision)
    T = net.num_dates
    halo = receptive_halo(net)

    valid = dataset.valid_mask(ts, mask) & np.isfinite(elevation)
    data = np.where(valid[None], ts, np.float32(0)).astype(np.float32, copy=False)
    elev = np.where(valid, elevation, np.float32(0)).astype(np.float32, copy=False)

    num_win = n - T + 1
    w_int = window_weights(T)
    # series[t] accumulates the weighted increments of interval t-1 -> t, then becomes the series
    series = np.zeros((n, H, W), np.float32)
    inc_wgt = np.zeros(n - 1, np.float64)
    for k in range(num_win):
        inc_wgt[k:k + T - 1] += w_int
    cumulative = np.zeros((num_win, H, W), np.float32)

    tiles = list(_tiles(H, W, int(tile_size), halo))
    from tqdm import tqdm
    bar = tqdm(total=len(tiles) * num_win, desc="denoise", unit="window", disable=not progress)
    for (y0, y1, x0, x1), (ry0, ry1, rx0, rx1) in tiles:
        core = (slice(y0 - ry0, y1 - ry0), slice(x0 - rx0, x1 - rx0))
        sub = data[:, ry0:ry1, rx0:rx1]
        sub_valid = valid[ry0:ry1, rx0:rx1]
        per_call = max(1, min(int(batch_size), MAX_PIXELS_PER_CALL // sub_valid.size))
        for k0 in range(0, num_win, per_call):
            ks = range(k0, min(num_win, k0 + per_call))
            windows = np.stack([sub[k:k + T] for k in ks])
            dates, _ = predict_windows(model, windows, elev[ry0:ry1, rx0:rx1], mask=sub_valid,
                                       batch_size=batch_size, precision=precision, calibrate=calibrate)
            dates = dates[(slice(None), slice(None)) + core]
            full = np.concatenate([np.zeros_like(dates[:, :1]), dates], axis=1)     # (b, T, h, w)
            inc = np.diff(full, axis=1)
            for b, k in enumerate(ks):
                series[k + 1:k + T, y0:y1, x0:x1] += inc[b] * w_int[:, None, None].astype(np.float32)
                cumulative[k, y0:y1, x0:x1] = full[b, -1]
            bar.update(len(ks))
    bar.close()
    series[1:] /= inc_wgt[:, None, None].astype(np.float32)
    np.cumsum(series, axis=0, out=series)
    series[:, ~valid] = np.nan
    cumulative[:, ~valid] = np.nan
    return DenoiseResult(timeseries=series, cumulative=cumulative)
