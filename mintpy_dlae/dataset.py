"""Normalisation shared by training and inference, and the numpy training stream.

Normalisation of one 9-date window ``w`` (T, H, W) in metres, with a validity mask:

1. reference to the window's first date: ``x = w - w[0]`` (per pixel);
2. one noise scale ``s`` per window (a number, metres): the square root of the *median* over the
   valid pixels of the per-pixel mean squared temporal increment ``mean_t (w[t] - w[t-1])**2``
   (:func:`window_scale`).  The median keeps a strong, compact signal from inflating the scale, and
   one number per window keeps the shape of the signal intact (a local, per-pixel scale divides the
   signal by itself where it is strong).  Inference computes it once per window over the whole frame
   and passes it to every tile, so tiled results equal whole-image results;
3. the network sees two channels per date, ``x / s`` (0 at invalid pixels) and the validity mask,
   and predicts the deformation / ``s`` with its uncertainty, in the same units.

Scaling the input by ``a`` scales ``s`` by ``a``, so the denoiser is scale equivariant.  Training
multiplies ``s`` by a random factor (``scale_jitter``) so that a scale computed over a large frame,
where the noise level varies from place to place, is within what the network has seen.

Elevation: ``(h - local mean) / max(local std, ELEV_STD_FLOOR)`` over a ``NORM_WINDOW`` box of valid
pixels: the network sees local relief, whatever the absolute height and the frame size.
"""
import queue
import threading

import numpy as np
from scipy import ndimage

NORM_WINDOW = 41          # px, box of the local elevation standardisation
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
    """Pixels valid on every date: finite, not exactly 0 on all dates (MintPy no-data), and in ``mask``.

    ``window`` (..., T, H, W); ``mask`` None or broadcastable to (..., H, W) (non-zero = valid).
    Returns bool (..., H, W).
    """
    finite = np.isfinite(window).all(axis=-3)
    nonzero = np.any(np.where(np.isfinite(window), window, 0) != 0, axis=-3)
    valid = finite & nonzero
    if mask is not None:
        valid &= mask.astype(bool)
    return valid


def window_scale(window, valid):
    """Noise scale of each window, metres: windows (..., T, H, W), valid (..., H, W) -> (...,).

    sqrt(median over valid pixels of mean_t (w[t] - w[t-1])**2).  The mean of a pixel is over its
    finite increments (NaN or inf on a date: the increments next to it are left out), and pixels
    without any, or whose increments are all exactly 0 (a constant value, e.g. a gap filled with the
    nearest date's value), are left out of the median, so that they cannot pull the scale to 0; 0 for
    a window with no pixel left.
    """
    import warnings
    msq = increment_power(window, valid)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # all-NaN slices: windows without pixels
        med = np.nanmedian(msq.reshape(msq.shape[:-2] + (-1,)), axis=-1)
    return np.sqrt(np.nan_to_num(med, nan=0.0)).astype(np.float32)


def increment_power(window, valid):
    """Per-pixel mean squared date-to-date increment (..., H, W), metres², of windows (..., T, H, W)
    over the finite increments; NaN where :func:`window_scale` leaves the pixel out (not ``valid``,
    no finite increment, or all increments exactly 0)."""
    import warnings
    inc = np.diff(window.astype(np.float64), axis=-3)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # all-NaN slices: pixels without data
        msq = np.nanmean(np.where(np.isfinite(inc), inc * inc, np.nan), axis=-3)
        return np.where(valid & (msq > 0), msq, np.nan)


def local_scale(window, valid, box=NORM_WINDOW):
    """Per-pixel noise scale of windows (..., T, H, W) metres, valid (..., H, W) -> (..., H, W) metres:
    the first models' normalisation (an ablation, ``docs/evaluation.md``; the shipped models use one
    :func:`window_scale` per window).

    sqrt of the mean, over the pixels of a ``box`` x ``box`` box (odd, px) centred on each pixel, of
    the per-pixel mean squared date-to-date increment (:func:`increment_power`; pixels that it leaves
    out are left out of the box).  A pixel whose box holds no such pixel (no data, or only values
    constant in time, within ``box // 2`` px) gets the median of the window's other values (so in
    :func:`mintpy_dlae.inference.denoise`, of the tile's), and a window without any gets 0.
    On a 40 px training patch a 41 px box reaches most of the patch from every pixel: the map is
    then close to the root of the patch's *mean* increment power, where :func:`window_scale` takes
    the median; on a large frame it is local.  A strong signal raises the scale where it is, so it
    is divided partly by itself.
    Raises ValueError for a ``box`` that is not a positive odd integer.
    """
    box = int(box)
    if box < 1 or box % 2 == 0:
        raise ValueError(f"local_scale: box must be a positive odd number of pixels; received {box}")
    msq = increment_power(window, valid)
    have = np.isfinite(msq)
    mean, inside = _box_mean(np.where(have, msq, 0.0), have, box)
    out = np.where(inside, np.sqrt(np.maximum(mean, 0.0)), np.nan)
    lead = out.shape[:-2]
    flat = out.reshape((-1,) + out.shape[-2:])
    for m in flat:
        bad = ~np.isfinite(m)
        if bad.any():
            m[bad] = np.nanmedian(m) if (~bad).any() else 0.0
    return flat.reshape(lead + out.shape[-2:]).astype(np.float32)


def normalise_series(window, valid, scale=None):
    """Network series input (..., T, H, W, 2) = (x / s, valid) and the scale s: (...,), one per
    window (default :func:`window_scale`), or a map (..., H, W) given in ``scale``."""
    s = window_scale(window, valid) if scale is None else np.asarray(scale, np.float32)
    s_safe = broadcast_scale(np.maximum(s, TINY), window.ndim)
    x = (window - window[..., :1, :, :]) / s_safe
    v = np.broadcast_to(valid[..., None, :, :], x.shape)
    x = np.where(v, x, 0.0).astype(np.float32)
    return np.stack([x, v.astype(np.float32)], axis=-1), s


def broadcast_scale(s, ndim):
    """A scale per window (..., ) or per pixel (..., H, W) shaped to multiply windows of ``ndim``
    dimensions (..., T, H, W): (..., 1, 1, 1) or (..., 1, H, W)."""
    s = np.asarray(s)
    return s[..., None, None, None] if s.ndim == ndim - 3 else s[..., None, :, :]


def normalise_elevation(elevation, valid, window_px=NORM_WINDOW):
    """Local standardisation of elevation (..., H, W): (h - m) / max(sd, ELEV_STD_FLOOR), with m and
    sd the mean and standard deviation of the valid heights in the ``window_px`` box centred on the
    pixel (both from one box, so a pixel depends on heights within ``window_px // 2`` only)."""
    h = np.where(valid, elevation, 0.0).astype(np.float64)
    h0 = h[valid].mean() if valid.any() else 0.0       # numerical conditioning only: cancels out
    h = np.where(valid, h - h0, 0.0)
    mean, _ = _box_mean(h, valid, window_px)
    msq, _ = _box_mean(h * h, valid, window_px)
    sd = np.sqrt(np.maximum(msq - mean * mean, 0.0))    # box sums can round below 0
    out = (h - mean) / np.maximum(sd, ELEV_STD_FLOOR)
    return np.where(valid, out, 0.0).astype(np.float32)


def model_inputs(noisy, elevation, mask=None, scale=None):
    """Network inputs, scale and validity for a batch of windows.

    noisy (N, T, H, W) metres, elevation (N, H, W) metres (or None: no "elevation" entry; the caller
    adds an already standardised one), mask (N, H, W) bool or None, scale (N,) or (N, H, W) metres or
    None (computed by :func:`window_scale`).  Returns ({"series": (N, T, H, W, 2),
    "elevation": (N, H, W, 1)}, s (N,) or (N, H, W) as ``scale``, valid (N, H, W)).
    """
    valid = valid_mask(noisy, mask)
    x, s = normalise_series(noisy, valid, scale)
    inputs = {"series": x}
    if elevation is not None:          # None: the caller provides the standardised elevation
        inputs["elevation"] = normalise_elevation(elevation, valid)[..., None]
    return inputs, s, valid


def training_arrays(batch, rng=None, scale_jitter=0.0, scale_box=0):
    """(inputs, target) of a :class:`mintpy_dlae.synthetic.Batch` for Keras.

    target (N, H, W, T): channels 0..T-2 are the deformation of dates 1..T-1 relative to date 0,
    divided by the window's scale; channel T-1 is the validity weight (the loss ignores no-data).
    ``scale_jitter`` > 0 multiplies each scale by exp(U(-j, j)).  ``scale_box`` > 0: a per-pixel
    scale over that box (:func:`local_scale`, the first models' normalisation) instead of one per
    window (0, the default).
    """
    valid = valid_mask(batch.noisy, batch.valid)
    s = local_scale(batch.noisy, valid, scale_box) if scale_box else window_scale(batch.noisy, valid)
    if scale_jitter > 0:
        rng = np.random.default_rng(rng)
        jitter = np.exp(rng.uniform(-scale_jitter, scale_jitter, size=len(s))).astype(np.float32)
        s = s * jitter.reshape((-1,) + (1,) * (s.ndim - 1))
    inputs, s, valid = model_inputs(batch.noisy, batch.elevation, batch.valid, scale=s)
    s_safe = broadcast_scale(np.maximum(s, TINY), 4)
    dates = (batch.clean[:, 1:] - batch.clean[:, :1]) / s_safe          # (N, T-1, H, W)
    dates = np.where(valid[:, None], dates, 0.0).astype(np.float32)
    target = np.concatenate([np.moveaxis(dates, 1, -1), valid[..., None].astype(np.float32)], axis=-1)
    return inputs, target


# Training-distribution defaults (see docs/training.md for the reasoning)
GENERATOR_OPTIONS = dict(snr=(0.005, 20.0), open_window=0.5, pure_noise=0.08, reuse=8, steady=0.3,
                         seasonal=0.1, peak_snr=(0.3, 40.0), peak_fraction=0.5, nodata=0.5)


def _chunks(names, p, batch_size, chunk_batches, size, num_dates, scale_jitter, scale_box, opts, rng):
    """Endless (inputs, target) chunks of ``batch_size * chunk_batches`` series, one kind per chunk."""
    from . import synthetic
    while True:
        kind = names[rng.choice(len(names), p=p)]
        batch = synthetic.generate(batch_size * chunk_batches, kind=kind, size=size, num_dates=num_dates,
                                   rng=rng, **opts)
        yield training_arrays(batch, rng, scale_jitter, scale_box)


class _Failed:
    """What a generator thread or process puts on the queue instead of a chunk when it fails."""

    def __init__(self, text):
        self.text = text


def _put(q, stop, item):
    """Put ``item`` on ``q``, giving up when ``stop`` is set; True when it was put."""
    while not stop.is_set():
        try:
            q.put(item, timeout=1.0)
            return True
        except queue.Full:              # the same exception for queue.Queue and multiprocessing queues
            continue
    return False


def _worker(q, stop, seed_seq, args):
    """Body of a generator thread or process: put chunks on ``q`` until ``stop`` is set.  An error
    is put on the queue (a :class:`_Failed`) for the consumer to raise, not left to end the thread
    silently while the trainer waits for the next chunk."""
    try:
        for chunk in _chunks(*args, rng=np.random.default_rng(seed_seq)):
            if not _put(q, stop, chunk):
                break
    except Exception as err:            # noqa: BLE001 - reported to the consumer, which raises it
        if _put(q, stop, _Failed(f"{type(err).__name__}: {err}")):
            return                      # a process flushes the report to the queue before it exits
    if hasattr(q, "cancel_join_thread"):   # stopped: a process exits without flushing unread chunks
        q.cancel_join_thread()


def training_stream(kinds, batch_size=32, seed=0, size=40, num_dates=9, chunk_batches=8, scale_jitter=0.4,
                    prefetch=4, workers=1, scale_box=0, **generator_options):
    """An endless iterator of (inputs, target) numpy batches, generated in the background.

    ``kinds``: "fault", "mogi", or a dict {kind: fraction} (each chunk of ``chunk_batches`` batches is
    drawn from one kind with these probabilities).  Backend-neutral: plain numpy, no tf.data.

    ``workers`` = 1: one background thread, reproducible for a given ``seed``.  ``workers`` > 1: that
    many generator processes (spawned, each with its own child seed of ``seed``), for machines whose
    accelerator trains faster than one core generates (about 650 series/s per core); the order in
    which their chunks arrive, and so the exact stream, is then not reproducible.

    Yields ({"series": (batch_size, num_dates, size, size, 2), "elevation": (batch_size, size, size,
    1)}, target (batch_size, size, size, num_dates)), float32 (:func:`training_arrays`; ``scale_box``
    goes there).  Raises
    ValueError for ``workers`` < 1; as this is a generator, on the first ``next()``, not at the call.
    Raises RuntimeError, naming the error, when the generator fails in its thread or process (a
    ``seed`` that numpy refuses, a bad generator option), or when a generator process dies.
    Close it (``.close()``) to stop the background thread or processes.
    """
    opts = dict(GENERATOR_OPTIONS, **generator_options)
    mix = {kinds: 1.0} if isinstance(kinds, str) else dict(kinds)
    names = list(mix)
    p = np.array([mix[k] for k in names], float)
    p /= p.sum()
    args = (names, p, batch_size, chunk_batches, size, num_dates, scale_jitter, int(scale_box), opts)
    workers = int(workers)
    if workers < 1:
        raise ValueError(f"training_stream: workers must be >= 1; received {workers}")
    if workers == 1:
        q = queue.Queue(maxsize=max(1, prefetch // chunk_batches) + 1)     # chunks of chunk_batches batches
        stop = threading.Event()
        procs = [threading.Thread(target=_worker, args=(q, stop, seed, args), daemon=True)]
    else:
        import multiprocessing as mp
        ctx = mp.get_context("spawn")        # no fork of a process that holds a deep-learning runtime
        q = ctx.Queue(maxsize=2 * workers)
        stop = ctx.Event()
        procs = [ctx.Process(target=_worker, args=(q, stop, child, args), daemon=True)
                 for child in np.random.SeedSequence(seed).spawn(workers)]
    for w in procs:
        w.start()
    try:
        while True:
            try:
                item = q.get(timeout=5.0)
            except queue.Empty:
                if not any(w.is_alive() for w in procs):
                    raise RuntimeError("training_stream: the data generator stopped (its thread or "
                                       "processes ended) without an error message") from None
                continue
            if isinstance(item, _Failed):
                raise RuntimeError(f"training_stream: the data generator failed: {item.text}")
            inputs, target = item
            for i in range(0, len(target), batch_size):
                sl = slice(i, i + batch_size)
                yield {k: v[sl] for k, v in inputs.items()}, target[sl]
    finally:
        stop.set()
        for w in procs:
            if workers > 1:
                w.join(timeout=5)
                if w.is_alive():
                    w.terminate()
                    w.join(timeout=5)
