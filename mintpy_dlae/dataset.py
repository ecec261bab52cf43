"""Normalisation shared by training and inference, and the tf.data training pipeline.

Normalisation of one 9-date window ``w`` (T, H, W) in metres, with a validity mask:

1. reference to the window's first date: ``x = w - w[0]`` (per pixel);
2. noise scale ``s`` (H, W): the square root of the local mean, over a ``NORM_WINDOW`` x
   ``NORM_WINDOW`` box of valid pixels, of the per-pixel mean squared temporal increment
   ``mean_t (w[t] - w[t-1])**2``;
3. the network sees ``x / s`` (0 at invalid pixels) and predicts deformation / ``s``.

Because ``s`` is computed from a fixed-size neighbourhood, the result at a pixel depends only on
data within ``NORM_WINDOW // 2 + receptive radius`` pixels: a 40 x 40 training patch and the same
pixels inside a large tile are normalised the same way, tiled inference equals whole-image inference,
and scaling the input by ``a`` scales ``s`` by ``a`` (scale equivariance).

Elevation: ``(h - local mean) / max(local std, ELEV_STD_FLOOR)`` over the same box.
"""
import numpy as np
from scipy import ndimage

NORM_WINDOW = 41          # px, box of the local noise-scale estimate (covers a 40 px training patch)
ELEV_STD_FLOOR = 20.0     # m, flat terrain is not blown up into noise
TINY = 1e-30


def _box_mean(values, valid, window):
    """Mean of ``values`` over valid pixels in a window x window box; values (..., H, W)."""
    size = (1,) * (values.ndim - 2) + (window, window)
    v = np.where(valid, values, 0.0).astype(np.float64)
    num = ndimage.uniform_filter(v, size=size, mode="constant")
    den = ndimage.uniform_filter(valid.astype(np.float64), size=size, mode="constant")
    return num / np.maximum(den, 1e-12), den > 1e-9


def valid_mask(window, mask=None):
    """Pixels valid on every date: finite, not exactly 0 on all dates (MintPy no-data), and in ``mask``."""
    finite = np.isfinite(window).all(axis=-3)
    nonzero = np.any(np.where(np.isfinite(window), window, 0) != 0, axis=-3)
    valid = finite & nonzero
    if mask is not None:
        valid &= mask.astype(bool)
    return valid


def noise_scale(window, valid, window_px=NORM_WINDOW):
    """Local noise scale (..., H, W) of windows (..., T, H, W), metres."""
    w = np.where(valid[..., None, :, :], window, 0.0)
    inc = np.diff(w, axis=-3)
    msq = (inc.astype(np.float64) ** 2).mean(axis=-3)
    mean, _ = _box_mean(msq, valid, window_px)
    return np.sqrt(mean).astype(np.float32)


def normalise_series(window, valid, window_px=NORM_WINDOW):
    """Network input x/s (..., T, H, W) and the scale s (..., H, W)."""
    s = noise_scale(window, valid, window_px)
    s_safe = np.maximum(s, TINY)
    x = (window - window[..., :1, :, :]) / s_safe[..., None, :, :]
    x = np.where(valid[..., None, :, :], x, 0.0).astype(np.float32)
    return x, s


def normalise_elevation(elevation, valid, window_px=NORM_WINDOW):
    """Local standardisation of elevation (..., H, W)."""
    h = np.where(valid, elevation, 0.0).astype(np.float64)
    mean, _ = _box_mean(h, valid, window_px)
    var, _ = _box_mean((h - mean) ** 2, valid, window_px)
    out = (h - mean) / np.maximum(np.sqrt(var), ELEV_STD_FLOOR)
    return np.where(valid, out, 0.0).astype(np.float32)


def remove_elevation_phase(window, elevation, valid, window_px=NORM_WINDOW):
    """Windows (..., T, H, W) minus, per date, the local linear fit of the phase against elevation.

    For each date ``t`` (relative to the first), the slope ``k_t = cov(x_t, h) / var(h)`` is taken over
    the same ``window_px`` box as the normalisation (variance floored at ``ELEV_STD_FLOOR**2``, so flat
    terrain gets no correction), and ``k_t * (h - local mean h)`` is removed: MintPy's phase/elevation
    correction, made local.  The first date is added back, so no-data detection is unchanged.  Used by
    the calibration gate only (``inference.gate_signal``), not as network input.
    """
    valid_t = np.broadcast_to(valid[..., None, :, :], window.shape)
    x = np.where(valid_t, window - window[..., :1, :, :], 0.0).astype(np.float64)
    h = np.where(valid, elevation, 0.0).astype(np.float64)
    hm, _ = _box_mean(h, valid, window_px)
    hh, _ = _box_mean(h * h, valid, window_px)
    var = np.maximum(hh - hm * hm, ELEV_STD_FLOOR ** 2)
    xm, _ = _box_mean(x, valid_t, window_px)
    xh, _ = _box_mean(x * h[..., None, :, :], valid_t, window_px)
    slope = (xh - xm * hm[..., None, :, :]) / var[..., None, :, :]
    x -= slope * (h - hm)[..., None, :, :]
    return np.where(valid_t, x + window[..., :1, :, :], window).astype(np.float32)


def model_inputs(noisy, elevation, mask=None):
    """Network inputs and scale for a batch of windows: noisy (N, T, H, W), elevation (N, H, W)."""
    valid = valid_mask(noisy, mask)
    x, s = normalise_series(noisy, valid)
    e = normalise_elevation(elevation, valid)
    return {"series": x[..., None], "elevation": e[..., None]}, s, valid


def training_arrays(batch):
    """(inputs, targets) of a :class:`mintpy_dlae.synthetic.Batch` for Keras."""
    inputs, s, valid = model_inputs(batch.noisy, batch.elevation)
    s_safe = np.maximum(s, TINY)[:, None]
    dates = (batch.clean[:, 1:] - batch.clean[:, :1]) / s_safe          # (N, T-1, H, W)
    dates = np.where(valid[:, None], dates, 0.0).astype(np.float32)
    targets = {"dates": np.moveaxis(dates, 1, -1), "cumulative": dates[:, -1, :, :, None]}
    return inputs, targets


def training_dataset(kind, batch_size=32, seed=0, size=40, num_dates=9, snr=(0.005, 20.0), open_window=0.5,
                     pure_noise=0.05, reuse=8, chunk_batches=8):
    """An endless tf.data pipeline of freshly generated, normalised training batches.

    The numpy generator runs in a background thread (prefetch) and never holds more than a few
    batches in memory.  ``seed`` makes the stream reproducible; resuming uses a new seed.
    """
    import tensorflow as tf

    from . import synthetic

    def gen():
        rng = np.random.default_rng(seed)
        while True:
            batch = synthetic.generate(batch_size * chunk_batches, kind=kind, size=size, num_dates=num_dates,
                                       rng=rng, snr=snr, open_window=open_window, pure_noise=pure_noise,
                                       reuse=reuse)
            inputs, targets = training_arrays(batch)
            for i in range(0, len(batch), batch_size):
                sl = slice(i, i + batch_size)
                yield ({k: v[sl] for k, v in inputs.items()}, {k: v[sl] for k, v in targets.items()})

    T = num_dates
    sig = ({"series": tf.TensorSpec((None, T, size, size, 1), tf.float32),
            "elevation": tf.TensorSpec((None, size, size, 1), tf.float32)},
           {"dates": tf.TensorSpec((None, size, size, T - 1), tf.float32),
            "cumulative": tf.TensorSpec((None, size, size, 1), tf.float32)})
    return tf.data.Dataset.from_generator(gen, output_signature=sig).prefetch(4)
