"""Denoising engine: 9-date windows sliding over time, spatial tiles with a halo, stitching.

For a time series of n >= 9 dates, window k covers dates k..k+8 (n-8 windows, the paper's moving
integral).  Each window is normalised (:mod:`mintpy_dlae.dataset`), passed through the network and
scaled back to metres, giving the deformation at its 9 dates relative to its first date, and its
cumulative map (last minus first).  The per-date outputs of all windows are stitched into one time
series by a weighted mean, for every interval between consecutive dates, of the increments of all
windows that cover it (weights :func:`window_weights`: the window's middle counts most), then
integrating.

Each window is normalised by one noise scale computed over the whole frame (:func:`window_scales`),
and the network runs once per window (or on 2, 4 or 8 symmetric copies of it, ``augment``) and
gives the mean and the standard deviation of each date.
Elevation is standardised once for the array given, and space is cut into tiles with a halo of
``network_halo(model)`` pixels (the network's receptive radius + 1), so tiled results equal
whole-image results; a caller that cuts a frame into blocks gives each block ``receptive_halo(model)``
pixels of context (network + elevation box) and uses ``box=``.
"""
import logging
import os
import warnings
from dataclasses import dataclass

import numpy as np

from . import dataset
from .config import AUGMENT_CHOICES, AUTO_AUGMENT_PIXEL_WINDOWS, resolve_augment  # noqa: F401  (re-exported)
from .config import cpu_supports_bf16, resolve_precision  # noqa: F401  (re-exported)

log = logging.getLogger(__name__)

from .constants import WINDOW as MIN_DATES  # noqa: E402  (one window length)
from .constants import HEIGHT_VOID_BELOW, MAX_ABS_DISPLACEMENT_M, MODEL_KINDS  # noqa: E402
# Upper bound of pixels x windows per network call.  Activations take ~3 kB per pixel-window for the
# paper-size network (64 filters x 9 then 3 dates), so this keeps them near 0.4 GB when a tile fits
# in it; a larger tile (denoise's default 512 px + halo: about 320,000 px) goes one window per call.
MAX_PIXELS_PER_CALL = 131_072


@dataclass
class DenoiseResult:
    """What :func:`denoise` returns (float32 metres, NaN at no-data).

    timeseries      (n, h, w)   denoised series relative to the first date
    cumulative      (n-8, h, w) moving-window cumulative maps; window k covers dates k..k+8
                                (NaN, with its std, at a pixel missing on date k or k+8)
    timeseries_std  (n, h, w)   1-sigma uncertainty of ``timeseries`` (0 at the first date)
    cumulative_std  (n-8, h, w) 1-sigma uncertainty of ``cumulative``
    augment         int         symmetric copies averaged per window (1 = one plain pass)
    level           str         the level convention applied: 'input' (each map's spatial mean is
                                the input's) or 'network' (the network's own); see :func:`denoise`

    (h, w) = (H, W), the whole array, or the shape of ``box`` (y1 - y0, x1 - x0) when
    :func:`denoise` was given one; the maps then cover the box only.
    """
    timeseries: np.ndarray
    cumulative: np.ndarray
    timeseries_std: np.ndarray = None
    cumulative_std: np.ndarray = None
    augment: int = 1
    level: str = "network"

    @property
    def significance(self):
        """|cumulative| / cumulative_std (n-8, h, w), unitless: above ~3, deformation is detected.

        NaN at no-data; where cumulative_std is 0 (a model without an uncertainty head gives 0
        everywhere) +inf, or NaN where the cumulative map is 0 too.
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.abs(self.cumulative) / self.cumulative_std

    def follows_elevation(self, elevation):
        """The windows whose cumulative map follows ``elevation`` ((h, w) metres, the array given
        to :func:`denoise`, or its ``box``): ``mintpy_dlae.py``'s check (r^2 >= 0.5 of the line
        map = a + k h, |k| std(h) >= 2 mean sigma, |k| <= 50 mm/km;
        :class:`mintpy_dlae.denoise_file.ElevationCheck`), as [{"window", "r", "k_mm_per_km",
        "relief_m"}], window k covering dates k..k+8; [] when none.  A seasonal stratified delay,
        which the networks keep, looks like this (docs/method.md, limits), and so does a
        deformation that follows the topography.  Raises ValueError for an elevation of another
        shape than the maps.
        """
        from mintpy_dlae.denoise_file import ElevationCheck
        elevation = np.asarray(elevation, np.float64)
        if elevation.shape != self.cumulative.shape[1:]:
            raise ValueError(f"follows_elevation: elevation must have the maps' shape {self.cumulative.shape[1:]}; "
                             f"received {elevation.shape}")
        check = ElevationCheck(len(self.cumulative))
        std = self.cumulative_std
        check.add(elevation, self.cumulative, std if std is not None and np.any(std > 0) else None)
        return [{"window": i, "r": r, "k_mm_per_km": k * 1e6, "relief_m": relief}
                for i, r, k, relief, _ in check.flagged()]


@dataclass
class WindowPrediction:
    """Network output for a batch of windows, metres, relative to each window's first date.

    dates, dates_std (N, T-1, H, W); cumulative, cumulative_std (N, H, W) (the last date); 0 at invalid
    pixels.  Unpacks as ``dates, cumulative = ...`` like the earlier tuple.
    """
    dates: np.ndarray
    cumulative: np.ndarray
    dates_std: np.ndarray
    cumulative_std: np.ndarray

    def __iter__(self):
        return iter((self.dates, self.cumulative))


_PREPARED = {}
_LOADED = {}


def prepare_model(model, precision="auto"):
    """Load a model ('fault', 'mogi', path or keras model) and set its compute precision.

    Returns (model, the model to call): the same object when its dtype policy matches ``precision``,
    else a cached copy in that precision.  A copy made for a model object (not a path) is given the
    object's current weights on every call, so a model that is being trained is never predicted with
    stale weights (the validation of a float32 run on a bfloat16 CPU once was)."""
    import sys
    if "keras" not in sys.modules and os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
        from .config import import_tensorflow_quietly
        import_tensorflow_quietly()          # without TensorFlow's start-up lines, as the commands do
    import keras

    from .model import DlaeNet, load_model, resolve_model_path
    live = not isinstance(model, (str, os.PathLike))      # a model object: its weights may change (training)
    if not live:
        # cache by file (and its modification time) so repeated calls, e.g. per block, load once
        path = os.path.abspath(resolve_model_path(model))
        key = (path, os.path.getmtime(path))
        if key not in _LOADED:
            _LOADED[key] = load_model(path)
            if str(model) not in MODEL_KINDS:    # a model of one's own: what mintpy_dlae.py warns about
                from .denoise_file import model_warnings
                for line in model_warnings(path, getattr(_LOADED[key], "uncertainty", False)):
                    warnings.warn(f"denoise: {line}", UserWarning, stacklevel=3)
        model = _LOADED[key]
    net = load_model(model)
    policy = "mixed_bfloat16" if resolve_precision(precision) == "bfloat16" else "float32"
    key = (id(net), policy)
    if key in _PREPARED:
        net, net_out = _PREPARED[key]
        if live and net_out is not net:     # a copy in the other precision: give it the current weights
            net_out.set_weights(net.get_weights())
        return net, net_out
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


_FORWARD = {}


def compiled_forward(net):
    """``net(inputs, training=False)`` as one compiled graph, cached per network.

    With the TensorFlow backend this is a ``tf.function`` traced once for every batch and tile size
    (batch and spatial dimensions left unknown): grappler fuses convolution, bias and activation into
    single oneDNN primitives and the per-layer eager dispatch goes away, about 2x faster on CPU with
    the same arithmetic (bfloat16 round-off aside).  The signature is fully relaxed on purpose: a
    trace with partly known spatial dimensions (``reduce_retracing=True``, or Keras's
    ``predict_on_batch``) fails on dilated convolutions when the tile width changes (TensorFlow's
    SpaceToBatchND padding).  Other backends get the eager call.
    """
    key = id(net)
    if key not in _FORWARD:
        import keras
        fn = None
        if keras.backend.backend() == "tensorflow" and hasattr(net, "num_dates"):
            import tensorflow as tf

            from .model import use_native_dilation
            use_native_dilation(net)
            channels = int(getattr(net, "input_channels", 1))
            spec = {"series": tf.TensorSpec((None, int(net.num_dates), None, None, channels), tf.float32),
                    "elevation": tf.TensorSpec((None, None, None, 1), tf.float32)}
            fn = tf.function(lambda inputs: net(inputs, training=False), input_signature=[spec])
        if fn is None:
            def fn(inputs):
                return net(inputs, training=False)
        _FORWARD[key] = (net, fn)      # keep ``net`` alive so id() stays unique
    return _FORWARD[key][1]


def receptive_halo(model="fault"):
    """Pixels of context a block needs on each side so that block results equal whole-frame results
    with one pass (``scales=1``; for scales=2 see :func:`mintpy_dlae.multiscale.block_halo`):
    the network's receptive radius plus the radius of the elevation standardisation box (or of a
    per-pixel scale's box, ``scale_box``, if larger), + 1."""
    net = model if hasattr(model, "receptive_radius") else prepare_model(model, "float32")[0]   # cached load
    box = max(dataset.NORM_WINDOW, int(getattr(net, "scale_box", 0)))
    return int(network_halo(net) + box // 2)


def network_halo(model="fault"):
    """Pixels of context each tile needs inside :func:`denoise`, where elevation is standardised once
    for the whole array: the network's receptive radius + 1."""
    net = model if hasattr(model, "receptive_radius") else prepare_model(model, "float32")[0]   # cached load
    return int(net.receptive_radius + 1)


def _dihedral(k, flip):
    """Forward and inverse maps of one of the 8 symmetries of the square on the last two axes."""
    def fwd(a):
        a = a[..., ::-1] if flip else a
        return np.rot90(a, k, axes=(-2, -1))

    def inv(a):
        a = np.rot90(a, -k, axes=(-2, -1))
        return a[..., ::-1] if flip else a
    return fwd, inv


DIHEDRAL = [(0, False), (2, True), (1, False), (3, True), (2, False), (0, True), (3, False), (1, True)]


def predict_windows(model, noisy, elevation, mask=None, batch_size=32, precision="auto", scale=None, calibrate=None,
                    elevation_normalised=None, augment=1, level="network"):
    """Denoise a batch of windows in one network pass.

    noisy (N, T, H, W) metres, elevation (N, H, W) or (H, W) metres, mask (N, H, W) or (H, W) bool,
    scale (N,) metres: the noise scale of each window (default: computed from ``noisy`` by
    :func:`mintpy_dlae.dataset.window_scale`; pass the whole frame's value when ``noisy`` is a tile),
    or (N, H, W): a scale per pixel (a map that varies slowly compared with the network's view;
    ``benchmarks/local_scale.py``).  A model with ``scale_box`` > 0 (trained on per-pixel scales,
    :func:`mintpy_dlae.dataset.local_scale`) computes its maps from ``noisy`` when ``scale`` is None,
    and refuses one value per window (ValueError).
    ``elevation_normalised`` (N, H, W) or (H, W): the network's elevation channel, already standardised
    (:func:`mintpy_dlae.dataset.normalise_elevation` over a larger area, as :func:`denoise` does), in
    which case ``elevation`` is not used.
    ``calibrate`` is accepted for compatibility and ignored (the calibration gate is retired).
    ``augment`` (1, 2, 4, 8 or 'auto', :func:`resolve_augment`): average the network over that many symmetries of the square (rotations
    by 90 degrees and mirror images, the first ``augment`` of :data:`DIHEDRAL`), each mapped back before
    averaging (test-time augmentation).  The training data have no preferred direction (random line
    of sight, strike and turbulence orientation), so every symmetric copy is an equally valid input;
    the average keeps what all copies agree on.  The std is the root mean square of the copies' std
    (the copies see the same data, so their errors are not independent).  Costs ``augment`` passes.
    ``batch_size``: windows per network call (at most; also capped so that a call holds at most
    :data:`MAX_PIXELS_PER_CALL` pixel-windows, and at least 1).  ``precision``: 'auto', 'float32'
    or 'bfloat16' (:func:`mintpy_dlae.config.resolve_precision`).
    ``level``: 'network' (default) or 'input', the spatial mean of each output map
    (:func:`keep_input_level`): the network's own, or that of the window's input (each window is
    then taken as a whole frame; not for tiles of a larger frame).
    Returns a :class:`WindowPrediction`; the std maps are 0 for a model without an uncertainty head.
    Raises ValueError when neither ``elevation`` nor ``elevation_normalised`` is given, for a bad
    ``precision``, ``augment`` or ``level``, and, like :func:`mintpy_dlae.model.load_model`, FileNotFoundError /
    ValueError for a model name or path that is missing or not a mintpy_dlae model.
    """
    _check_level(level)
    if level == "input":
        p = predict_windows(model, noisy, elevation, mask=mask, batch_size=batch_size, precision=precision,
                            scale=scale, elevation_normalised=elevation_normalised, augment=augment)
        valid = dataset.valid_mask(noisy, mask if mask is None or mask.ndim == 3 else
                                   np.broadcast_to(mask, (len(noisy),) + mask.shape))
        _, net = prepare_model(model, precision)
        if getattr(net, "output_kind", "dates") == "dates":
            dates = keep_input_level(p.dates, noisy[:, 1:] - noisy[:, :1], valid)
        else:                   # a cumulative-only head: its other maps are zero placeholders, kept so
            dates = p.dates.copy()
            dates[:, -1:] = keep_input_level(p.dates[:, -1:], noisy[:, -1:] - noisy[:, :1], valid)
        return WindowPrediction(dates, dates[:, -1].copy(), p.dates_std, p.cumulative_std)
    augment = resolve_augment(augment, int(np.prod(noisy.shape[2:])) * len(noisy))
    if augment > 1:
        acc = acc_var = None
        for k, flip in DIHEDRAL[:augment]:
            fwd, inv = _dihedral(k, flip)
            p = predict_windows(model, np.ascontiguousarray(fwd(noisy)),
                                None if elevation is None else np.ascontiguousarray(fwd(elevation)),
                                mask=None if mask is None else np.ascontiguousarray(fwd(mask)), batch_size=batch_size,
                                precision=precision,
                                scale=scale if scale is None or np.ndim(scale) == 1 else np.ascontiguousarray(fwd(scale)),
                                elevation_normalised=None if elevation_normalised is None
                                else np.ascontiguousarray(fwd(elevation_normalised)))
            d, v = inv(p.dates), inv(p.dates_std) ** 2
            acc = d.astype(np.float32) if acc is None else acc + d
            acc_var = v.astype(np.float32) if acc_var is None else acc_var + v
        dates = np.ascontiguousarray(acc / augment)
        std = np.ascontiguousarray(np.sqrt(acc_var / augment))
        return WindowPrediction(dates, dates[:, -1].copy(), std, std[:, -1].copy())
    _, net = prepare_model(model, precision)
    forward = compiled_forward(net)
    N = len(noisy)
    if elevation is None and elevation_normalised is None:
        raise ValueError("predict_windows: give elevation or elevation_normalised")
    if elevation_normalised is not None:
        elevation = None
        if np.ndim(elevation_normalised) == 2:
            elevation_normalised = np.broadcast_to(elevation_normalised, (N,) + np.shape(elevation_normalised))
    elif elevation.ndim == 2:
        elevation = np.broadcast_to(elevation, (N,) + elevation.shape)
    if mask is not None and mask.ndim == 2:
        mask = np.broadcast_to(mask, (N,) + mask.shape)
    T = noisy.shape[1]
    dates = np.zeros((N, T - 1) + noisy.shape[2:], np.float32)
    std = np.zeros_like(dates)
    batch_size = max(1, min(int(batch_size), MAX_PIXELS_PER_CALL // int(np.prod(noisy.shape[2:]))))
    channels = int(getattr(net, "input_channels", 1))
    sigma_scale = float(getattr(net, "sigma_scale", 1.0))
    scale_box = int(getattr(net, "scale_box", 0))
    if scale_box and scale is not None and np.ndim(scale) == 1:
        raise ValueError(f"predict_windows: the model divides by a per-pixel noise scale over a {scale_box} px box "
                         "(scale_box); give scale=None (computed from the windows) or an (N, H, W) map, not one "
                         "value per window")
    # normalise chunk by chunk: the float64 temporaries of the normalisation are as large as the
    # windows themselves, so whole-batch normalisation would dominate the memory
    for i in range(0, N, batch_size):
        sl = slice(i, i + batch_size)
        sc = None if scale is None else np.asarray(scale)[sl]
        if sc is None and scale_box:
            sc = dataset.local_scale(noisy[sl], dataset.valid_mask(noisy[sl], None if mask is None else mask[sl]),
                                     scale_box)
        inputs, s, valid = dataset.model_inputs(noisy[sl], None if elevation is None else elevation[sl],
                                                None if mask is None else mask[sl], scale=sc)
        inputs["series"] = inputs["series"][..., :channels]
        if elevation_normalised is not None:
            e = elevation_normalised[sl]
            inputs["elevation"] = np.where(valid, e, 0.0).astype(np.float32)[..., None]
        out = forward(inputs)
        d = np.asarray(out["dates"] if "dates" in out else out["cumulative"], dtype=np.float32)
        d = np.moveaxis(d, -1, 1) * dataset.broadcast_scale(s, 4)
        if d.shape[1] == 1:          # cumulative-only (paper) head: no per-date maps
            d = np.concatenate([np.zeros((len(d), T - 2) + d.shape[2:], np.float32), d], axis=1)
        dates[sl] = np.where(valid[:, None], d, 0.0)
        if "dates_log_sigma" in out:
            ls = np.moveaxis(np.asarray(out["dates_log_sigma"], dtype=np.float32), -1, 1)
            sd = np.exp(ls) * (sigma_scale * dataset.broadcast_scale(s, 4))
            std[sl] = np.where(valid[:, None], sd, 0.0)
    return WindowPrediction(dates, dates[:, -1].copy(), std, std[:, -1].copy())


LEVELS = ("network", "input")


def _check_level(level, auto=False):
    allowed = LEVELS + (("auto",) if auto else ())
    if level not in allowed:
        raise ValueError(f"level must be one of {allowed}; received {level!r}")


def keep_input_level(out, inp, valid):
    """``out`` (N, D, H, W) shifted, map by map, so that its mean over the ``valid`` (N, H, W) pixels
    equals that of ``inp`` (N, D, H, W) (both metres, relative to the same first date); 0 stays 0
    off ``valid``.  Returns float32 (N, D, H, W).

    The level convention (docs/method.md, "The level of a map"): InSAR measures no absolute level.
    Each date is referenced to a pixel (MintPy's REF_Y/REF_X) or to an area, and a uniform offset
    over the whole view is the reference's business. The network estimates the spatial pattern; its
    own level is a guess (it keeps part of a uniform offset). Keeping the input's mean is exact for
    an area-referenced series, whose spatial mean is fixed by its reference and is noise-free; for a
    series referenced to one pixel, reference the output to that pixel as well (what
    ``mintpy_dlae.py`` does), which removes any per-map offset."""
    v = np.asarray(valid, bool)[:, None]
    count = np.maximum(v.sum(axis=(2, 3)), 1)
    m_in = np.where(v, inp, 0).sum(axis=(2, 3), dtype=np.float64) / count
    m_out = np.where(v, out, 0).sum(axis=(2, 3), dtype=np.float64) / count
    shift = (m_in - m_out).astype(np.float32)[:, :, None, None]
    return np.where(v, out + shift, out).astype(np.float32)


def window_weights(num_dates=MIN_DATES):
    """Weight (T-1,) of each interval j = 1..T-1 of a window when stitching: ``min(j, T - j)**2``.

    Intervals near the middle of a window, where the network sees context on both sides, count more
    than edge intervals, whose per-date maps the network damps.  The square was chosen on nine
    realisations of the demo (``docs/method.md``, shipped model: event-window gain 0.871 against
    0.843 for ``min(j, T - j)`` and 0.787 for equal weights, RMS error 7.05 against 7.28 and 8.10 mm)."""
    j = np.arange(1, num_dates)
    return np.minimum(j, num_dates - j).astype(np.float64) ** 2


def _tiles(box, shape, tile, halo):
    """(core, read) Box pairs covering ``box`` (y0, y1, x0, x1) of an array of ``shape`` (H, W) in
    tiles of at most ``tile`` px, the read box adding ``halo`` px clipped to the array; evened out
    (:func:`mintpy_dlae.boxes.split`, the one block/tile iterator)."""
    from .boxes import split
    return split(box, shape, rows=tile, cols=tile, halo=halo)


def window_scales(ts, valid, num_dates=MIN_DATES, max_pixels=250_000):
    """Noise scale (n-T+1,) of every window of a series ts (n, H, W), metres, over the whole frame.

    The median in :func:`mintpy_dlae.dataset.window_scale` is taken over at most ``max_pixels`` valid
    pixels on a regular grid (a stride in rows and columns), so that the cost stays small for large
    frames; every tile of the frame then uses the same scale.
    """
    n, H, W = ts.shape
    stride = max(1, int(np.ceil(np.sqrt(H * W / max_pixels))))
    sub = np.asarray(ts[:, ::stride, ::stride], np.float32)
    v = valid[::stride, ::stride]
    return np.array([dataset.window_scale(sub[k:k + num_dates], v) for k in range(n - num_dates + 1)], np.float32)


def _positive_int(name, value):
    """``value`` as a positive int; ValueError naming ``name`` and the value otherwise."""
    try:
        ok = not isinstance(value, (bool, np.bool_)) and int(value) == value
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok or int(value) <= 0:
        raise ValueError(f"denoise: {name} must be a positive integer; received {value!r}")
    return int(value)


def _check_mask(mask, shape):
    """``mask`` as an (H, W) bool array (True = valid), or None.  Accepts bool, or integer / float
    arrays holding only 0 and 1 (and NaN in a float mask: left out, as ``mintpy_dlae.py`` reads a
    mask file); raises TypeError / ValueError naming the offending dtype or value."""
    if mask is None:
        return None
    m = np.asarray(mask)
    if m.ndim == 0:
        raise TypeError(f"denoise: mask must be an (H, W) = {shape} array (True = valid) or None; "
                        f"received a scalar {type(mask).__name__} {mask!r}")
    if m.shape != shape:
        raise ValueError(f"denoise: mask shape {m.shape} does not match the series {shape}")
    if m.dtype.kind == "b":
        return m
    if m.dtype.kind not in "iuf":
        raise TypeError(f"denoise: mask must be bool (True = valid) or numbers 0/1; received dtype {m.dtype}")
    bad = (m != 0) & (m != 1) & ~np.isnan(m) if m.dtype.kind == "f" else (m != 0) & (m != 1)
    if bad.any():
        y, x = np.unravel_index(np.flatnonzero(bad)[0], shape)
        raise ValueError(f"denoise: a mask of dtype {m.dtype} must hold only 0 and 1 (or be bool, True = "
                         f"valid); {int(bad.sum())} value(s) are not, e.g. {m[y, x].item()!r} "
                         f"at (row, col) = ({y}, {x})")
    return m == 1                           # NaN in a float mask: left out, as mintpy_dlae.py reads it


def _check_numeric(name, arr, what):
    """Raise TypeError unless ``arr`` holds real integers or floats (not bool, complex, str, object)."""
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"denoise: {name} must be {what} of real numbers (integer or floating point); "
                        f"received dtype {arr.dtype}")


def _check_magnitude(ts):
    """Raise ValueError when a finite value of ts (n, H, W) is beyond +-MAX_ABS_DISPLACEMENT_M metres:
    a fill value (-9999, FLT_MAX) or a unit mistake, which the network would spread over its
    neighbours (set fill values to NaN). One date at a time: no copy of the series."""
    for d in range(len(ts)):
        date = np.asarray(ts[d])
        if date.dtype.kind in "iu":
            date = date.astype(np.int64)          # abs(-32768) of an int16 overflows
        with np.errstate(invalid="ignore", over="ignore"):
            beyond = np.isfinite(date) & (np.abs(date) > MAX_ABS_DISPLACEMENT_M)
        if beyond.any():
            y, x = (int(i[0]) for i in np.nonzero(beyond))
            raise ValueError(f"denoise: ts[{d}, {y}, {x}] = {float(date[y, x]):g} m is beyond +-"
                             f"{MAX_ABS_DISPLACEMENT_M:g} m, larger than any InSAR displacement "
                             f"({int(beyond.sum())} such value(s) on date {d}): a fill value or a unit "
                             "mistake? Set missing values to NaN and give metres")


def _check_unit(ts):
    """Raise ValueError when ts (n, H, W) changes from date to date by a median spatial std above
    UNIT_SPREAD_M (1 m) over its pixels with data (the rule of ``mintpy_dlae.py``'s
    :func:`mintpy_dlae.denoise_file.check_unit`): the values are millimetres (or another unit), and
    the spike rule and the outputs would take them for metres. Above UNIT_WARN_M (0.2 m): a
    UserWarning (centimetres, or a decorrelated array)."""
    from .denoise_file import UNIT_SPREAD_M, UNIT_WARN_M, step_spread
    has = np.zeros(ts.shape[1:], bool)
    with np.errstate(invalid="ignore"):
        for d in range(len(ts)):
            date = np.asarray(ts[d])
            has |= np.isfinite(date) & (date != 0)
    spread = step_spread(ts, has)
    if spread is not None and spread > UNIT_SPREAD_M:
        raise ValueError(f"denoise: ts changes from date to date by {spread:.3g} m (median spatial std): InSAR time "
                         "series in metres change by millimetres to centimetres. The values look like mm (or "
                         "another unit); give metres (e.g. ts / 1000)")
    if spread is not None and spread > UNIT_WARN_M:
        warnings.warn(f"denoise: ts changes from date to date by {spread:.3g} m (median spatial std), more than an "
                      "InSAR time series in metres does (millimetres to centimetres): if the values are "
                      "centimetres, give metres (ts / 100), else the outputs are 100 times too large and real "
                      "values may be read as spikes; if much of the array is decorrelated, mask it (mask=)",
                      UserWarning, stacklevel=3)


def _mark_spikes(ts, overwrite_input):
    """(ts with its isolated spikes (:func:`mintpy_dlae.denoise_file.find_spikes`) set to NaN, the
    spikes as bool (n, H, W)), and a UserWarning; (ts itself, None) when it has none (cheap: a spike
    needs a value beyond SPIKE_M / 2). ts is changed in place when ``overwrite_input`` allows it for
    a writeable float32 ts."""
    from .constants import SPIKE_M
    from .denoise_file import find_spikes
    big = False
    for d in range(len(ts)):
        with np.errstate(invalid="ignore"):
            if np.nanmax(np.abs(ts[d]), initial=0.0) > SPIKE_M / 2:
                big = True
                break
    if not big:
        return ts, None
    found = find_spikes(ts)
    if found.any():
        data = ts.astype(np.float32, copy=not (overwrite_input and ts.dtype == np.float32 and ts.flags.writeable))
        d, y, x = (int(i[0]) for i in np.nonzero(found))
        warnings.warn(f"denoise: ts has {int(found.sum())} isolated spike(s) (a value more than {SPIKE_M:g} m "
                      f"outside the range of its dates before and after, and as far from its neighbours': an "
                      f"unwrapping error), e.g. ts[{d}, {y}, {x}] = {float(data[d, y, x]):g} m; they are read as "
                      "missing values, and timeseries holds the denoised estimate there (pass spikes=False "
                      "to keep them)", UserWarning, stacklevel=3)
        data[found] = np.nan
        return data, found
    return ts, None


def _scan_series(ts):
    """One pass over the dates of ts (n, H, W): per pixel, the number of non-finite (NaN, +-inf) values
    (int32 (H, W)) and whether it has data (a finite non-zero value on some date, bool (H, W))."""
    n, H, W = ts.shape
    num_bad = np.zeros((H, W), np.int32)
    has_data = np.zeros((H, W), bool)
    for d in range(n):
        date = ts[d]
        finite = np.isfinite(date)
        num_bad += ~finite
        finite &= date != 0
        has_data |= finite
    return num_bad, has_data


def reference_pixels(num_bad, has_data):
    """The pixels exactly 0 on every date (bool (H, W); ``num_bad`` 0 and no ``has_data``, from
    :func:`_scan_series`).  Such a pixel is read as MintPy's reference pixel, whose own noise is in
    the mean of every map.  No-data written as 0 looks the same (an array carries no referencing
    metadata), so a series with zero-filled no-data counts as referenced to a pixel even when it is
    not: write no-data as NaN, or pass ``level="input"``, for an area-referenced series."""
    return (num_bad == 0) & ~has_data


def _empty_dates(ts, num_bad, has_data):
    """Indices of the dates that are non-finite on every pixel with data.  None can be while some pixel
    with data is finite on all dates, so the dates are looked at only when none is."""
    if ((num_bad == 0) & has_data).any():
        return []
    return [d for d in range(len(ts)) if not np.isfinite(ts[d][has_data]).any()]


def _nan_result(n, num_win, h, w, augment):
    def nan(k):
        return np.full((k, h, w), np.nan, np.float32)
    return DenoiseResult(timeseries=nan(n), cumulative=nan(num_win), timeseries_std=nan(n),
                         cumulative_std=nan(num_win), augment=augment)


def denoise(ts, elevation, model="fault", mask=None, incidence=None, azimuth=None, tile_size=512, batch_size=32,
            precision="auto", calibrate=None, progress=False, scale=None, box=None, overwrite_input=False,
            augment="auto", spikes=True, level="auto", scales=2, coarse_scale=None, coarse=None):
    """Denoise a displacement time series.

    Parameters: ts         - (n, H, W) LOS displacement in metres, n >= 9, real numbers (integer or
                             floating point; computed in float32); no-data as NaN or 0 on all dates
                             (so a MintPy reference pixel, 0 on every date, comes out NaN here;
                             mintpy_dlae.py feeds it a tiny value and re-references the output)
                elevation  - (H, W) metres; pixels where it is NaN/inf or below -1000 m (a DEM void
                             such as -32768, as ``mintpy_dlae.py`` reads it) are left out (a warning)
                model      - 'fault', 'mogi', a path to a .keras file, or a loaded model
                mask       - optional (H, W) bool, True = valid (or numbers holding only 0 and 1)
                incidence, azimuth - optional (H, W) or scalar LOS angles (deg).  Checked for shape only:
                             the shipped models were trained on random lines of sight and do not need them.
                tile_size  - core tile size in pixels, > 0 (a halo of network_halo(model) is added)
                batch_size - windows per network call, > 0 (at most; calls are also capped at
                             MAX_PIXELS_PER_CALL pixel-windows to bound memory)
                precision  - 'auto' (bf16 on CPUs with AMX/AVX512-BF16), 'float32' or 'bfloat16'
                calibrate  - ignored (the calibration gate of the first models is retired)
                scale      - optional (n-8,) noise scale of each window, metres, finite and >= 0 (0: a
                             window whose data do not change, whose output is then 0) (default: from ``ts`` by
                             :func:`window_scales`; a caller that feeds row blocks of a larger frame
                             passes the frame's value so that blocks match the whole-frame result).
                             Must be None for a model with per-pixel scales (``scale_box`` > 0, an
                             ablation): denoise computes them from ``ts``, per tile, with their box
                box        - optional (y0, y1, x0, x1): denoise only this part of the array; the rest is
                             context (a block's halo).  Results then cover the box only.  The result
                             equals the whole-frame result when the box is at least
                             ``receptive_halo(model)`` px inside the array (or at the frame's edge).
                augment    - 1, 2, 4 or 8: average the network over that many symmetries of the square
                             (rotations by 90 degrees and mirror images, :func:`predict_windows`); costs
                             as many network passes.  'auto' (default): as many as keep the job within
                             :data:`AUTO_AUGMENT_PIXEL_WINDOWS` (:func:`resolve_augment`; 8 for small
                             frames, 1 for a 1000 x 1000 x 100 frame).  A caller that feeds blocks of a
                             larger frame passes the frame's resolved number.
                overwrite_input - allow the no-data pixels of a float32 ``ts`` to be set to 0, and its
                             missing values to be filled (see below), in place (saves one copy of the
                             series; for callers that own ``ts``).  NaN no-data then become 0 on every
                             date, which a later call with ``level='auto'`` reads as a reference pixel
                level      - 'auto' (default), 'input' or 'network': the spatial mean of each output
                             map over the valid pixels (docs/method.md, "The level of a map").
                             'input': that of the input, map by map (the series relative to the first
                             date, each window's cumulative map; NaN holes counted with the values
                             they are filled with), as a spatial filter keeps it
                             (:func:`keep_input_level`): exact for an area-referenced series, whose
                             mean is set by its reference.  'network': the network's own (it keeps
                             part of a uniform offset of the input).  'auto': 'network' for a
                             series with a pixel that is exactly 0 on every date (MintPy's reference
                             pixel REF_Y/REF_X, whose own noise is in every map's mean; no-data
                             written as 0 looks the same and counts too: write it as NaN) and for
                             a ``box`` (a block: its caller references the frame's result); 'input'
                             otherwise (an area-referenced series, synthetic noise with zero mean).
                             ``DenoiseResult.level`` says which was applied.  Referencing the result
                             to a pixel, as ``mintpy_dlae.py`` references it to REF_Y/REF_X, gives
                             the same maps with either.  'input' is for a whole frame: not with ``box``
                scales     - 2 (default) or 1: 2 also runs the network on the frame averaged over 2 x 2
                             pixels (twice the view) and take its long wavelengths where the
                             full-resolution maps are not significant (:mod:`mintpy_dlae.multiscale`;
                             both at the network's level, before ``level`` applies; sigma stays the
                             full-resolution one; a quarter more pixels through the network).  With
                             ``box``, the array's first row and column must be even rows and columns
                             of the frame (the 2 x 2 grid is the frame's), the box at least
                             ``multiscale.block_halo(receptive_halo(model))`` px inside the array (or
                             at the frame's edge), and ``coarse_scale`` given with ``scale``, or the
                             frame's ``coarse`` maps (below); the block then equals the whole frame
                             (docs/real_data.md, "A second, coarser pass")
                coarse_scale - optional (n-8,) noise scale of each window of the coarse pass (scales=2),
                             metres, as ``scale`` is for the full-resolution one: the frame's
                             (:func:`mintpy_dlae.multiscale.coarse_scales`); needed when ``box`` and
                             ``scale`` are given with scales=2 (and ``coarse`` is not)
                coarse     - optional (timeseries (n, ceil(H/2), ceil(W/2)), cumulative (n-8, ...)): the coarse
                             pass, computed beforehand for the 2 x 2 grid of the array (its first row
                             and column even rows and columns of the frame), at the network's level, NaN
                             where it has no data: :func:`denoise` with ``scales=1, level='network'``
                             of :func:`mintpy_dlae.multiscale.coarse_input` of the frame.  With scales=2
                             the coarse pass is then not run, and a ``box`` needs only
                             ``multiscale.block_halo(receptive_halo(model), coarse_given=True)`` px of
                             context (``mintpy_dlae.py`` computes the coarse pass once for the frame)
                spikes     - True (default): read isolated spikes as missing values (below).  False: give
                             them to the network as they are (``mintpy_dlae.py`` marks them itself, on
                             the whole frame, before it calls denoise on a block)
    Returns:    DenoiseResult(timeseries (n, h, w), cumulative (n-8, h, w), timeseries_std, cumulative_std,
                augment: the number of symmetric copies used, level: 'input' or 'network'),
                float32 metres, relative to the first date, NaN at invalid pixels; (h, w) = (H, W) or the box.

    Missing values (the rule of ``mintpy_dlae.py`` as far as it applies to an array; +-inf counts as NaN):
      * A pixel that is NaN or 0 on every date, outside ``mask``, or where ``elevation`` is NaN is
        no-data: NaN in every output.
      * A pixel with data that is NaN on some dates is filled for the network by linear interpolation
        in time between its nearest dates with data (the nearest value at the ends; dates equally
        spaced; :func:`mintpy_dlae.denoise_file.fill_missing`), with a UserWarning giving the count and
        the first (date, row, col); ``timeseries`` and ``timeseries_std`` are NaN at those elements, and
        ``cumulative`` (with its std) where they are a window's first or last date, as
        ``mintpy_dlae.py`` writes them.
      * A finite value beyond +-MAX_ABS_DISPLACEMENT_M (100 m: a fill value such as -9999, or a unit
        mistake) raises ValueError naming its index; set missing values to NaN.  A series that changes
        from date to date by a median spatial std above 1 m (millimetres given as metres) raises
        ValueError.
      * A date that is NaN on every pixel with data raises ValueError naming its index: drop it from
        ``ts`` (``mintpy_dlae.py`` leaves such dates out by itself).
      * With ``spikes``, an isolated spike (:func:`mintpy_dlae.denoise_file.find_spikes`: a value more
        than SPIKE_M = 0.25 m outside the range of its dates before and after, and as far from the
        excursions of the SPIKE_BOX x SPIKE_BOX px around it: an unwrapping error at a few pixels of
        one date) is a missing value for the network as NaN is, with a UserWarning giving the count
        and the first (date, row, col); the outputs hold the denoised estimate there (not NaN).  The
        last date is measured against the date before it; the first date (MintPy's reference date)
        is not tested.

    Raises ValueError for a shape that does not match, fewer than 9 dates, a ``box`` that is not 4
    integers inside the array, ``tile_size`` / ``batch_size`` not positive integers, a ``scale`` of
    the wrong shape, negative or not finite (or given for a model with ``scale_box``), a mask
    with values other than 0/1, an empty date, and nothing to denoise (every pixel no-data, masked out or without elevation; not raised when ``box``
    is given: a block of a larger frame may hold no data, and its result is all NaN); TypeError for
    a ``ts``, ``elevation`` or ``mask`` of a non-numeric dtype (bool, complex, str, object ``ts``), a
    scalar mask and a ``model`` that is not a name, path or model.  Loading the model raises
    FileNotFoundError for a model name whose shipped file is missing or a path that does not exist,
    and ValueError for a file that is not a mintpy_dlae .keras model
    (:func:`mintpy_dlae.model.load_model`); a ``precision`` other than 'auto', 'float32' or
    'bfloat16', an ``augment`` other than 'auto', 1, 2, 4 or 8, and a ``level`` other than
    'auto', 'network' or 'input' (or 'input' with ``box``), and ``scales`` other than 1 or 2 (or 2
    with ``box`` and ``scale`` but neither ``coarse_scale`` nor ``coarse``), a ``coarse_scale`` or
    ``coarse`` of the wrong shape or with scales=1, and both together raise ValueError.

    Stitching (``docs/method.md``): window k gives the deformation at dates k+1..k+8 relative to date k.
    The increment of every interval t-1 -> t is the weighted mean, over the windows that cover it, of
    the increments of their per-date outputs (interval weights :func:`window_weights`), and the series
    is their cumulative sum, so a steady or step signal that every window recovers keeps its full
    amplitude.  Uncertainty: the variance of a window's increment is taken as sigma_j^2 - sigma_(j-1)^2
    (floored at 0; errors that accumulate along the window like a random walk); the windows that cover
    an interval see the same data, so their errors are treated as fully correlated (the weighted mean
    of the increments' std), and intervals as independent (variances add along the series).
    """
    ts = np.asarray(ts)
    _check_numeric("ts", ts, "an (n, H, W) array")
    if ts.ndim != 3:
        raise ValueError(f"denoise: ts must be (n, H, W); received shape {ts.shape}")
    n, H, W = ts.shape
    if n < MIN_DATES:
        raise ValueError(f"denoise: needs at least {MIN_DATES} dates; received {n}")
    _check_magnitude(ts)
    if box is None:          # a block's caller checked its whole frame (mintpy_dlae.py: check_unit)
        _check_unit(ts)
    spiked = None
    if spikes:
        ts, spiked = _mark_spikes(ts, overwrite_input)
    elevation = np.asarray(elevation)
    _check_numeric("elevation", elevation, "an (H, W) array")
    elevation = elevation.astype(np.float32, copy=False)
    with np.errstate(invalid="ignore"):
        if np.any(elevation < HEIGHT_VOID_BELOW):       # DEM voids (-32768, -9999): no height, as NaN
            elevation = np.where(elevation < HEIGHT_VOID_BELOW, np.float32(np.nan), elevation)
    if elevation.shape != (H, W):
        raise ValueError(f"denoise: elevation shape {elevation.shape} does not match the series {(H, W)}")
    mask = _check_mask(mask, (H, W))
    for name, arr in (("incidence", incidence), ("azimuth", azimuth)):
        if arr is not None and np.ndim(arr) > 0 and np.shape(arr) != (H, W):
            raise ValueError(f"denoise: {name} shape {np.shape(arr)} does not match the series {(H, W)}")
    tile_size = _positive_int("tile_size", tile_size)
    batch_size = _positive_int("batch_size", batch_size)
    _check_level(level, auto=True)
    if level == "input" and box is not None:
        raise ValueError("denoise: level='input' needs the whole frame (the frame's mean of each map), not a box; "
                         "use level='network' for a block and reference the frame's result afterwards, as "
                         "mintpy_dlae.py does")
    if scales not in (1, 2) or isinstance(scales, bool):
        raise ValueError(f"denoise: scales must be 1 or 2; received {scales!r}")
    if scales == 2 and box is not None and scale is not None and coarse_scale is None and coarse is None:
        raise ValueError("denoise: scales=2 on a box with the frame's scale needs the frame's coarse_scale or "
                         "coarse maps too (mintpy_dlae.multiscale), or the block would not match the frame; "
                         "scales=1 for one pass")
    if scales == 1 and (coarse_scale is not None or coarse is not None):
        raise ValueError("denoise: coarse_scale and coarse are for scales=2; received scales=1")
    if coarse_scale is not None and coarse is not None:
        raise ValueError("denoise: give coarse (the coarse maps) or coarse_scale (to compute them), not both")
    if coarse_scale is not None:
        coarse_scale = np.asarray(coarse_scale, np.float64)
        if np.shape(coarse_scale) != (n - MIN_DATES + 1,) or not np.all(np.isfinite(coarse_scale) & (coarse_scale >= 0)):
            raise ValueError(f"denoise: coarse_scale must be finite numbers >= 0 (metres), one per window "
                             f"({n - MIN_DATES + 1}); received {np.asarray(coarse_scale)!r:.200}")
    if coarse is not None:
        H2, W2 = (H + 1) // 2, (W + 1) // 2
        try:
            coarse = tuple(np.asarray(c, np.float32) for c in coarse)
        except (TypeError, ValueError) as err:
            raise ValueError("denoise: coarse must be (timeseries, cumulative) arrays") from err
        want = ((n, H2, W2), (n - MIN_DATES + 1, H2, W2))
        if len(coarse) != 2 or tuple(c.shape for c in coarse) != want:
            raise ValueError(f"denoise: coarse must be (timeseries, cumulative) of shapes {want} (the 2 x 2 grid "
                             f"of the array); received shapes {tuple(np.shape(c) for c in coarse)}")
    if box is not None:
        try:
            given, box = box, tuple(int(b) for b in box)
            whole = all(float(b) == int(b) for b in given)      # 5.5 is no pixel index (int() would cut it)
        except (TypeError, ValueError) as err:
            raise ValueError(f"denoise: box must be 4 integers (y0, y1, x0, x1); received {box!r}") from err
        if len(box) != 4 or not whole:
            raise ValueError(f"denoise: box must be 4 integers (y0, y1, x0, x1); received {given!r}")
    if scale is not None:
        try:
            scale = np.asarray(scale, np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"denoise: scale must be numbers, one per window; received {scale!r}") from err
        bad = ~(np.isfinite(scale) & (scale >= 0))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ValueError(f"denoise: scale must be finite and not negative (metres); window {k} has "
                             f"{float(scale.ravel()[k])!r} ({int(bad.sum())} bad value(s))")
    if model is None or not (isinstance(model, (str, os.PathLike)) or hasattr(model, "num_dates")):
        raise TypeError("denoise: model must be 'fault', 'mogi', a path to a .keras file or a loaded "
                        f"mintpy_dlae model; received {type(model).__name__} {model!r:.80}")
    _, net = prepare_model(model, precision)        # in the compute precision: no copy per call below
    scale_box = int(getattr(net, "scale_box", 0))
    if scale_box and scale is not None:
        raise ValueError(f"denoise: the model divides by a per-pixel noise scale over a {scale_box} px box "
                         "(scale_box), which denoise computes from ts; scale must be None for it")
    cumulative_only = getattr(net, "output_kind", "dates") != "dates"
    if cumulative_only:
        warnings.warn("denoise: the model has a cumulative-only head (one map per window, as the paper's): "
                      "the cumulative maps are its own, the time series and its std are NaN (a time series "
                      "needs one map per date: the shipped 'fault' and 'mogi', dlae_train.py's default layout)",
                      UserWarning, stacklevel=2)
    T = net.num_dates
    halo = network_halo(net)
    block = box is not None           # a block of a larger frame: it may hold no data
    box = (0, H, 0, W) if box is None else box
    if not (0 <= box[0] < box[1] <= H and 0 <= box[2] < box[3] <= W):
        raise ValueError(f"denoise: box {box} is not inside the array {(H, W)}")
    out_box = box
    if scales == 2 and block:    # the blend reads BLEND_MARGIN px of the full-resolution output around a pixel
        from .multiscale import BLEND_MARGIN as m
        box = (max(0, box[0] - m), min(H, box[1] + m), max(0, box[2] - m), min(W, box[3] + m))
    by0, by1, bx0, bx1 = box
    h, w = by1 - by0, bx1 - bx0
    num_win = n - T + 1
    if scale is not None and np.shape(scale) != (num_win,):      # before ts may be changed in place
        raise ValueError(f"denoise: scale must have one value per window ({num_win}); received shape "
                         f"{np.shape(scale)}")

    # validity: one pass over the dates (no copy of the series)
    num_bad, has_data = _scan_series(ts)
    elev_ok = np.isfinite(elevation)
    nothing = None
    if not has_data.any():
        nothing = "ts is 0 or NaN/inf on every pixel of every date (MintPy's no-data)"
    else:
        empty = _empty_dates(ts, num_bad, has_data)
        if empty:
            raise ValueError(
                f"denoise: date(s) {empty} of ts (index along axis 0) are NaN/inf on every pixel with data; "
                "drop them from ts (e.g. np.delete(ts, idx, axis=0)), or use mintpy_dlae.py, which leaves "
                "such dates out")
        if mask is not None and not (mask & has_data).any():
            nothing = ("mask is False on every pixel" if not mask.any()
                       else "mask is False on every pixel with data in ts")
    valid = has_data if mask is None else has_data & mask
    if nothing is None:
        if not (valid & elev_ok).any():
            nothing = "elevation is NaN/inf on every pixel" + (" with data in ts" if elev_ok.any() else "")
        else:
            lost = valid & ~elev_ok
            if lost.any():
                y, x = np.argwhere(lost)[0]
                warnings.warn(f"denoise: elevation is NaN/inf (or a DEM void below {HEIGHT_VOID_BELOW:g} m) on "
                              f"{int(lost.sum())} pixel(s) with data (first at "
                              f"(row, col) = ({y}, {x})); they are treated as no-data (NaN in the output)",
                              UserWarning, stacklevel=2)
    if nothing is not None:
        if not block:
            raise ValueError(f"denoise: nothing to denoise: {nothing}")
        oh, ow = out_box[1] - out_box[0], out_box[3] - out_box[2]
        return _nan_result(n, num_win, oh, ow, resolve_augment(augment, num_win * oh * ow))
    if level == "auto":         # a reference pixel in the frame: its noise is in every map's mean
        level = "network" if block or reference_pixels(num_bad, has_data).any() else "input"
    valid &= elev_ok
    partial = valid & (num_bad > 0)            # data with NaN holes: filled for the network
    del num_bad, has_data, elev_ok

    if overwrite_input and ts.dtype == np.float32 and ts.flags.writeable:
        data = ts
        data[:, ~valid] = 0
    else:
        data = np.where(valid[None], ts, np.float32(0)).astype(np.float32, copy=False)
    holes = None
    if partial.any():
        from .denoise_file import FILL_CHUNK, fill_missing     # the rule of mintpy_dlae.py (pure numpy)
        py, px = np.nonzero(partial)
        parts = []
        for i in range(0, len(py), FILL_CHUNK):    # (n, chunk) at a time: bounded temporaries
            c = slice(i, i + FILL_CHUNK)
            cols = data[:, py[c], px[c]]
            bad = ~np.isfinite(cols)
            cols[bad] = np.nan
            data[:, py[c], px[c]] = fill_missing(cols[:, :, None])[:, :, 0]
            parts.append(bad)
        del cols
        holes = np.concatenate(parts, axis=1)      # (n, k) bool: the filled elements
        if spiked is not None:                     # the spikes get the estimate (mintpy_dlae.py's rule)
            holes &= ~spiked[:, py, px]
        if holes.any():
            d0 = int(np.flatnonzero(holes.any(axis=1))[0])
            j0 = int(np.flatnonzero(holes[d0])[0])
            warnings.warn(f"denoise: ts has {int(holes.sum())} NaN/inf value(s) on {int(holes.any(axis=0).sum())} "
                          f"pixel(s) with data on other dates, e.g. at (date, row, col) = ({d0}, {py[j0]}, "
                          f"{px[j0]}); they are filled by linear interpolation in time for the network and are "
                          "NaN in timeseries and timeseries_std", UserWarning, stacklevel=2)
        inside = (py >= by0) & (py < by1) & (px >= bx0) & (px < bx1)
        holes = (holes[:, inside], py[inside] - by0, px[inside] - bx0)
    # elevation standardised once for the whole array, so tiles need only the network's halo
    elev = dataset.normalise_elevation(np.where(valid, elevation, np.float32(0)), valid)

    augment = resolve_augment(augment, num_win * h * w)
    if scale_box:          # per-pixel scales: computed per tile below, over the read box + scale_box // 2
        scale = None
    else:
        if scale is None:      # after the filling, as mintpy_dlae.py's frame_scales (constant pixels left out)
            scale = window_scales(data, valid, T)
        scale = np.asarray(scale, np.float32)
        for k in np.flatnonzero(scale == 0):     # 0 only for a window whose data do not change
            if dataset.window_scale(data[k:k + T], valid) > 0:
                raise ValueError(f"denoise: scale of window {int(k)} is 0, but its data change from date to date "
                                 "(0 is for a window without change only)")
    w_int = window_weights(T)
    # series[t] accumulates the weighted increments of interval t-1 -> t, then becomes the series
    series = np.zeros((n, h, w), np.float32)
    inc_std = np.zeros((n, h, w), np.float32)
    inc_wgt = np.zeros(n - 1, np.float64)
    for k in range(num_win):
        inc_wgt[k:k + T - 1] += w_int
    cumulative = np.zeros((num_win, h, w), np.float32)
    cumulative_std = np.zeros((num_win, h, w), np.float32)

    tiles = list(_tiles(box, (H, W), tile_size, halo))
    from tqdm import tqdm
    bar = tqdm(total=len(tiles) * num_win, desc="denoise", unit="window", disable=not progress)
    w32 = w_int[:, None, None].astype(np.float32)
    for (y0, y1, x0, x1), (ry0, ry1, rx0, rx1) in tiles:
        core = (slice(y0 - ry0, y1 - ry0), slice(x0 - rx0, x1 - rx0))
        sub = data[:, ry0:ry1, rx0:rx1]
        sub_valid = valid[ry0:ry1, rx0:rx1]
        per_call = max(1, min(int(batch_size), MAX_PIXELS_PER_CALL // sub_valid.size))
        for k0 in range(0, num_win, per_call):
            ks = range(k0, min(num_win, k0 + per_call))
            windows = np.stack([sub[k:k + T] for k in ks])
            if scale_box:      # the box mean near the read box's edge needs data beyond it: equal to the
                # whole frame's map (except at pixels without data within box // 2, which get the tile's median)
                m = scale_box // 2
                ey0, ey1, ex0, ex1 = max(0, ry0 - m), min(H, ry1 + m), max(0, rx0 - m), min(W, rx1 + m)
                ext, ext_valid = data[:, ey0:ey1, ex0:ex1], valid[ey0:ey1, ex0:ex1]
                maps = np.stack([dataset.local_scale(ext[k:k + T], ext_valid, scale_box) for k in ks])
                win_scale = maps[:, ry0 - ey0:ry1 - ey0, rx0 - ex0:rx1 - ex0]
            else:
                win_scale = scale[k0:k0 + len(ks)]
            pred = predict_windows(net, windows, None, mask=sub_valid, batch_size=batch_size, precision=precision,
                                   scale=win_scale, elevation_normalised=elev[ry0:ry1, rx0:rx1],
                                   augment=augment)
            sl = (slice(None), slice(None)) + core
            dates, std = pred.dates[sl], pred.dates_std[sl]
            full = np.concatenate([np.zeros_like(dates[:, :1]), dates], axis=1)     # (b, T, h, w)
            inc = np.diff(full, axis=1)
            var = np.concatenate([np.zeros_like(std[:, :1]), std], axis=1) ** 2
            istd = np.sqrt(np.maximum(np.diff(var, axis=1), 0.0))
            oy0, oy1, ox0, ox1 = y0 - by0, y1 - by0, x0 - bx0, x1 - bx0
            for b, k in enumerate(ks):
                series[k + 1:k + T, oy0:oy1, ox0:ox1] += inc[b] * w32
                inc_std[k + 1:k + T, oy0:oy1, ox0:ox1] += istd[b] * w32
                cumulative[k, oy0:oy1, ox0:ox1] = full[b, -1]
                cumulative_std[k, oy0:oy1, ox0:ox1] = std[b, -1]
            bar.update(len(ks))
    bar.close()
    norm = inc_wgt[:, None, None].astype(np.float32)
    series[1:] /= norm
    inc_std[1:] /= norm
    np.cumsum(series, axis=0, out=series)
    np.square(inc_std, out=inc_std)
    np.cumsum(inc_std, axis=0, out=inc_std)
    ts_std = np.sqrt(inc_std, out=inc_std)
    if scales == 2:     # the coarse pass's long wavelengths where the maps are not significant, at the
        from . import multiscale         # network's level (the input's, if asked, is set below)
        if coarse is None:
            coarse_ts, coarse_h, coarse_valid = multiscale.coarse_input(data, valid, elevation)
            cbox = multiscale.coarse_box(box, coarse_valid.shape) if block else None
            with warnings.catch_warnings():          # its fills and spikes were reported at full resolution
                warnings.simplefilter("ignore")
                low = _denoise(coarse_ts, coarse_h, model=net, mask=coarse_valid, tile_size=tile_size,
                               batch_size=batch_size, precision=precision, progress=progress, augment=augment,
                               spikes=False, level="network", box=cbox, scale=coarse_scale, scales=1)
            del coarse_ts
            coarse = (low.timeseries, low.cumulative)
            offset = (0, 0) if cbox is None else (by0 - 2 * cbox[0], bx0 - 2 * cbox[2])
        else:
            offset = (by0, bx0)
        vb = valid[by0:by1, bx0:bx1]
        for arr, std, low in ((series, ts_std, coarse[0]), (cumulative, cumulative_std, coarse[1])):
            for i in range(len(arr)):        # one map at a time: float64 temporaries of one map
                c = slice(i, i + 1)
                up = multiscale.upsample2(low[c], (h, w), offset)
                mixed = multiscale.blend(np.where(vb, arr[c], np.nan), up, np.where(vb, std[c], np.nan))
                arr[c][:, vb] = mixed[:, vb]
        del coarse
    if level == "input":         # each map's mean over the valid pixels := the input's (box is None here)
        base = [float(data[t][valid].mean(dtype=np.float64)) for t in range(n)]
        for t in range(1, n):
            series[t][valid] += np.float32(base[t] - base[0] - series[t][valid].mean(dtype=np.float64))
        for k in range(num_win):
            cumulative[k][valid] += np.float32(base[k + T - 1] - base[k] - cumulative[k][valid].mean(dtype=np.float64))
    invalid = ~valid[by0:by1, bx0:bx1]
    for arr in (series, cumulative, ts_std, cumulative_std):
        arr[:, invalid] = np.nan
    if cumulative_only:                         # its per-date maps were zeros but the last: no series
        series[:] = np.nan
        ts_std[:] = np.nan
    if holes is not None and holes[1].size:      # the filled elements: NaN, as mintpy_dlae.py writes them
        hole, yy, xx = holes
        for arr in (series, ts_std):
            sub = arr[:, yy, xx]
            sub[hole] = np.nan
            arr[:, yy, xx] = sub
        ends = hole[:num_win] | hole[T - 1:T - 1 + num_win]    # a window's first or last date missing
        for arr in (cumulative, cumulative_std):
            sub = arr[:, yy, xx]
            sub[ends] = np.nan
            arr[:, yy, xx] = sub
    if out_box != box:         # scales=2 on a block: its blend margin off again (views: no copy)
        sl = (slice(None), slice(out_box[0] - by0, out_box[1] - by0), slice(out_box[2] - bx0, out_box[3] - bx0))
        series, cumulative, ts_std, cumulative_std = (a[sl] for a in (series, cumulative, ts_std, cumulative_std))
    return DenoiseResult(timeseries=series, cumulative=cumulative, timeseries_std=ts_std, cumulative_std=cumulative_std,
                         augment=augment, level=level)


_denoise = denoise      # the coarse pass of scales=2 (not the module attribute, which a caller may wrap)
