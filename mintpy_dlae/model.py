"""The convolutional auto-encoder of Rouet-Leduc et al. (2021), as a serialisable Keras model.

Architecture (paper facts: 11 convolutional layers, time pooled away over the first layers,
elevation added after time is gone, purely convolutional so any H x W; the layer details are our
reconstruction, described in ``docs/method.md``, "The network"):

    series (B, T=9, H, W, C)  ->  Conv3D(F, 3x3x3)  -> MaxPool over time (3)
                              ->  Conv3D(F, 3x3x3) x 2 (3 dates) -> MaxPool over time (3) -> (B, H, W, F)
                              ->  [+ the T input dates as channels, ``raw_skip``]
                              ->  Conv2D(G, 3x3, dilation d_i) x 7, with the normalised elevation
                                  concatenated before layer ``elevation_layer`` (7 in Fig. 1 of the paper)
                              ->  Conv2D(head, 3x3, float32)

Heads:
- ``output="dates"`` (default, beyond the paper): T-1 maps, the deformation at dates 1..T-1 of the
  window relative to date 0.  The cumulative map (last minus first date) is the last of them, so the
  two outputs are consistent by construction.  With ``uncertainty=True`` the head also gives log
  sigma for each map (``docs/method.md``, "Uncertainty instead of a gate").
- ``output="cumulative"``: the paper's single cumulative map.

``paper_reference_config()`` (one input channel, no dilation, elevation just before the output,
cumulative head) has exactly 482,185 trainable parameters, the published count.  The shipped layout,
``shipped_config()`` (32 encoder filters, validity channel, dilations 1-2-4-8-4-2-1, input-date skip,
mean + log-sigma per date), has 312,176.
"""
import json
import logging
import os

import keras
from keras import layers

from .constants import MODEL_KINDS as PRETRAINED  # noqa: E402  (one list of model kinds)

log = logging.getLogger(__name__)


def paper_reference_config():
    """The configuration that reproduces the published 482,185 trainable parameters."""
    return dict(filters=64, filters_2d=64, num_dates=9, pools=(3, 3), num_conv3d=3, num_conv2d=7,
                elevation_layer=11, output="cumulative")


@keras.saving.register_keras_serializable(package="mintpy_dlae")
class SqueezeTime(layers.Layer):
    """(B, 1, H, W, C) -> (B, H, W, C) once time has been pooled away."""

    def call(self, x):
        return x[:, 0]


@keras.saving.register_keras_serializable(package="mintpy_dlae")
class LastChannel(layers.Layer):
    """The last per-date map, i.e. the cumulative deformation of the window: (..., C) -> (..., 1)."""

    def call(self, x):
        return x[..., -1:]


@keras.saving.register_keras_serializable(package="mintpy_dlae")
class DatesToChannels(layers.Layer):
    """(B, T, H, W, C) -> (B, H, W, T): the first channel of every date as 2-D channels, so the
    decoder sees the (normalised) input dates themselves next to the encoder's features."""

    def call(self, x):
        return keras.ops.transpose(x[..., 0], (0, 2, 3, 1))


@keras.saving.register_keras_serializable(package="mintpy_dlae")
class ElevationChannels(layers.Layer):
    """[series (B, T, H, W, C), elevation (B, H, W, 1)] -> (B, T, H, W, C + 2): the series with the
    standardised elevation h and the product x h (x: the normalised phase, channel 0) appended on
    every date, so that the first layers can compare each date's map with the relief (a stratified
    delay k_t h makes x h ~ k_t h^2).  Pointwise: the receptive field does not change."""

    def call(self, inputs):
        series, elevation = inputs
        x = series[..., :1]
        h = keras.ops.expand_dims(keras.ops.cast(elevation, series.dtype), 1)     # (B, 1, H, W, 1)
        return keras.ops.concatenate([series, x * 0 + h, x * h], axis=-1)


@keras.saving.register_keras_serializable(package="mintpy_dlae")
class StratifiedEstimate(layers.Layer):
    """[series (B, T, H, W, C), elevation (B, H, W, 1)] -> (B, T, H, W, 1): for every date, the part of
    its map that a local linear regression on the elevation explains, the classical phase/elevation
    estimate of a stratified tropospheric delay (MintPy's ``tropo_phase_elevation.py`` fits one per
    date and frame; here per date and per ``box`` x ``box`` neighbourhood, so that the estimate does
    not depend on the frame's size):

        k_t(p) = cov(x_t, h) / (var(h) + eps),    s_t(p) = k_t(p) (h(p) - mean(h)),

    moments over the valid pixels (channel 1 of ``series``, when present) of the box centred on p.
    x_t is channel 0 (the normalised phase of date t, date 0 = 0), h the standardised elevation
    (:func:`mintpy_dlae.dataset.model_inputs`); s_t is 0 on invalid pixels.  Computed in float32 with
    two separable box averages (no trainable weights).  A network given s_t next to x_t can subtract
    the delay with one linear weight, where from x_t and h alone it would need a product.

    Raises ValueError for a ``box`` that is not a positive odd number of pixels (an even box would
    shift the fit by half a pixel) or a negative ``eps``."""

    def __init__(self, box=41, eps=0.01, **kwargs):
        super().__init__(**kwargs)
        if int(box) != box or box < 1 or box % 2 == 0:
            raise ValueError(f"StratifiedEstimate: box must be a positive odd number of pixels; received box={box!r}")
        if not eps >= 0:
            raise ValueError(f"StratifiedEstimate: eps must be >= 0; received eps={eps!r}")
        self.box = int(box)
        self.eps = float(eps)

    def call(self, inputs):
        series, elevation = inputs
        ops = keras.ops
        x = ops.cast(series[..., :1], "float32")
        m = ops.cast(series[..., 1:2], "float32") if series.shape[-1] > 1 else ops.ones_like(x)
        h = ops.expand_dims(ops.cast(elevation, "float32"), 1) + ops.zeros_like(x)   # (B, T, H, W, 1)
        moments = ops.concatenate([m, m * x, m * h, m * x * h, m * h * h], axis=-1)
        moments = ops.average_pool(moments, (1, self.box, 1), strides=1, padding="same")
        moments = ops.average_pool(moments, (1, 1, self.box), strides=1, padding="same")
        n = ops.maximum(moments[..., :1], 1e-6)                     # share of valid pixels in the box
        mx, mh, mxh, mhh = (moments[..., i:i + 1] / n for i in range(1, 5))
        k = (mxh - mx * mh) / (ops.maximum(mhh - mh * mh, 0.0) + self.eps)
        return k * (h - mh) * m

    def get_config(self):
        return dict(super().get_config(), box=self.box, eps=self.eps)


@keras.saving.register_keras_serializable(package="mintpy_dlae")
class DlaeNet(keras.Model):
    """Denoising auto-encoder for 9-date InSAR windows.

    Args:
        filters: int. Filters of the Conv3D (encoder) layers.
        filters_2d: int. Filters of the Conv2D (decoder) layers.
        num_dates: int. Acquisitions per window (9 in the paper).
        pools: tuple of int. Time pooling factors; their product must equal ``num_dates``.  The
            first pool follows the first Conv3D layer, the last one follows the last Conv3D layer.
        num_conv3d: int. Conv3D layers (>= len(pools)).
        num_conv2d: int. Conv2D layers before the output layer.
        elevation_layer: int. 1-based index of the conv layer whose input gets the elevation
            channel (num_conv3d + 1 ... num_conv3d + num_conv2d + 1; the last value = output layer).
        output: "dates" (T-1 per-date maps) or "cumulative" (one map).
        separable_time: bool. Factorise each Conv3D into (1x3x3 spatial) + (3x1x1 temporal).
        activation: str. Hidden-layer activation (He initialisation).
        input_channels: int. 1 = the paper's single series channel; 2 = series and validity mask
            (no-data is then known to the network instead of looking like a zero signal).
        dilations: tuple of int, one per Conv2D layer (None = all 1).  Dilated 3x3 layers widen the
            spatial view at the same cost: a wide view tells a compact source from the atmosphere.
        raw_skip: bool. Concatenate the normalised input dates to the decoder's first layer, so that
            a strong signal can pass without having to be rebuilt from pooled features.
        uncertainty: bool. Also predict log sigma, the standard deviation of the error of each map
            (trained with a Gaussian negative log-likelihood), in the units of the target.
        sigma_scale: float. Factor applied to sigma at inference
            (:func:`mintpy_dlae.inference.predict_windows`; the network's outputs do not include it);
            1 = none.  Set after training by :func:`mintpy_dlae.evaluate.calibrate_sigma` and
            :func:`mintpy_dlae.evaluate.apply_sigma_scale`: the factor k for which |mean - truth| <=
            2 k sigma holds for 95 % of the valid pixels and dates of its own calibration set
            (synthetic series of the training distribution, seeds disjoint from training, validation
            and test).
        elevation_features: bool. Also give the first Conv3D layer the elevation and its product
            with each date's map (:class:`ElevationChannels`), besides the elevation that enters
            before ``elevation_layer`` (an experiment, training/README.md "Seasonal stratified
            delay"; the shipped models have it off).
        stratified_estimate: bool. Also give the first Conv3D layer, and with ``raw_skip`` the first
            decoder layer, each date's local phase/elevation estimate (:class:`StratifiedEstimate`,
            ``stratified_box`` px box), so that a stratified delay can be subtracted linearly (an
            experiment, training/README.md "A phase/elevation channel"; the shipped models have it off).
        stratified_box: int. Box of :class:`StratifiedEstimate` in pixels (positive and odd).
        scale_box: int. 0 (the shipped models): the input and target are divided by one noise scale
            per window (:func:`mintpy_dlae.dataset.window_scale`).  A positive odd box in px: by a
            per-pixel scale over that box (:func:`mintpy_dlae.dataset.local_scale`, the first models'
            normalisation; an ablation, ``docs/evaluation.md``), which training and inference
            (:func:`mintpy_dlae.inference.predict_windows`, :func:`mintpy_dlae.inference.denoise`) then
            compute from the data.

    Inputs: {"series": (B, T, H, W, input_channels), "elevation": (B, H, W, 1)}: the normalised
    window and elevation of :func:`mintpy_dlae.dataset.model_inputs`.
    Outputs, in units of the window's noise scale s (:func:`mintpy_dlae.dataset.window_scale`, or the
    per-pixel map of :func:`mintpy_dlae.dataset.local_scale` with ``scale_box``; inference multiplies
    by s to get metres): {"dates": (B, H, W, T-1) mean, "cumulative": (B, H, W, 1)
    = last date}; with ``uncertainty`` also "dates_log_sigma" (B, H, W, T-1), natural log of sigma in
    the same units, soft-clipped to (-6, 6), "cumulative_log_sigma" (B, H, W, 1) and "dist"
    (B, H, W, 2(T-1)), mean and log sigma concatenated, what the training loss sees.  With
    ``output="cumulative"`` there is no "dates" key: {"cumulative": (B, H, W, 1)}, with
    ``uncertainty`` also "dates_log_sigma" and "cumulative_log_sigma" (both (B, H, W, 1)) and
    "dist" (B, H, W, 2).

    Raises ValueError when the product of ``pools`` is not ``num_dates``, ``num_conv3d`` <
    len(pools), ``elevation_layer`` is outside [num_conv3d + 1, num_conv3d + num_conv2d + 1],
    ``output`` is not "dates" or "cumulative", ``dilations`` does not have ``num_conv2d`` values, or
    ``scale_box`` is neither 0 nor a positive odd number.
    """

    def __init__(self, filters=64, filters_2d=64, num_dates=9, pools=(3, 3), num_conv3d=3, num_conv2d=7,
                 elevation_layer=7, output="dates", separable_time=False, activation="leaky_relu",
                 input_channels=1, dilations=None, raw_skip=False, uncertainty=False, sigma_scale=1.0,
                 elevation_features=False, stratified_estimate=False, stratified_box=41, scale_box=0, **kwargs):
        kwargs.pop("shrink_tau", None)            # retired calibration gate of the first models
        pools = tuple(int(p) for p in pools)
        prod = 1
        for p in pools:
            prod *= p
        if prod != num_dates:
            raise ValueError(f"DlaeNet: the time pools {pools} must multiply to num_dates; received num_dates={num_dates}")
        if num_conv3d < len(pools):
            raise ValueError(f"DlaeNet: need at least one Conv3D per pool; received num_conv3d={num_conv3d}")
        first_2d, last = num_conv3d + 1, num_conv3d + num_conv2d + 1
        if not first_2d <= elevation_layer <= last:
            raise ValueError(f"DlaeNet: elevation_layer must be in [{first_2d}, {last}] (after time is pooled away); "
                             f"received elevation_layer={elevation_layer}")
        if output not in ("dates", "cumulative"):
            raise ValueError(f"DlaeNet: output must be 'dates' or 'cumulative'; received output={output!r}")
        scale_box = int(scale_box)
        if scale_box < 0 or (scale_box and scale_box % 2 == 0):
            raise ValueError(f"DlaeNet: scale_box must be 0 (one scale per window) or a positive odd number of "
                             f"pixels; received scale_box={scale_box}")
        dilations = tuple(int(d) for d in (dilations or (1,) * num_conv2d))
        if len(dilations) != num_conv2d:
            raise ValueError(f"DlaeNet: need one dilation per Conv2D layer ({num_conv2d}); received {dilations}")

        # === Functional Model ===
        series = keras.Input(shape=(num_dates, None, None, int(input_channels)), name="series")
        elevation = keras.Input(shape=(None, None, 1), name="elevation")
        pool_after = {1: pools[0]}
        for k, p in enumerate(pools[1:], start=1):
            pool_after[num_conv3d - (len(pools) - 1 - k)] = p
        x = series
        if elevation_features:
            x = ElevationChannels(name="elevation_channels")([series, elevation])
        if stratified_estimate:
            strat = StratifiedEstimate(box=stratified_box, dtype="float32", name="stratified_estimate")([series, elevation])
            x = layers.Concatenate(name="add_stratified_estimate")([x, strat])
        for i in range(1, num_conv3d + 1):
            if separable_time:
                x = layers.Conv3D(filters, (1, 3, 3), padding="same", activation=activation,
                                  kernel_initializer="he_normal", name=f"conv{i}_space")(x)
                x = layers.Conv3D(filters, (3, 1, 1), padding="same", activation=activation,
                                  kernel_initializer="he_normal", name=f"conv{i}_time")(x)
            else:
                x = layers.Conv3D(filters, 3, padding="same", activation=activation, kernel_initializer="he_normal",
                                  name=f"conv{i}")(x)
            if i in pool_after:
                x = layers.MaxPooling3D((pool_after[i], 1, 1), name=f"time_pool{i}")(x)
        x = SqueezeTime(name="drop_time")(x)
        if raw_skip:
            raw = DatesToChannels(dtype=x.dtype, name="input_dates")(series)
            skips = [x, raw]
            if stratified_estimate:
                skips.append(DatesToChannels(dtype=x.dtype, name="stratified_dates")(strat))
            x = layers.Concatenate(name="add_input_dates")(skips)
        n_out = num_dates - 1 if output == "dates" else 1
        for i in range(first_2d, last + 1):
            if i == elevation_layer:
                elev = layers.Activation("linear", dtype=x.dtype, name="elevation_cast")(elevation)
                x = layers.Concatenate(name="add_elevation")([x, elev])
            if i < last:
                x = layers.Conv2D(filters_2d, 3, padding="same", activation=activation, kernel_initializer="he_normal",
                                  dilation_rate=dilations[i - first_2d], name=f"conv{i}")(x)
        if uncertainty:
            head = layers.Conv2D(2 * n_out, 3, padding="same", dtype="float32", name="head")(x)
            dates = SliceChannels(0, n_out, dtype="float32", name="mean")(head)
            log_sigma = SoftClip(6.0, dtype="float32", name="log_sigma")(SliceChannels(n_out, 2 * n_out, dtype="float32",
                                                                                       name="raw_log_sigma")(head))
            dist = layers.Concatenate(dtype="float32", name="dist")([dates, log_sigma])
        else:
            dates = layers.Conv2D(n_out, 3, padding="same", use_bias=False, dtype="float32", name="head")(x)
        cumulative = LastChannel(dtype="float32", name="cumulative")(dates)
        outputs = {"dates": dates, "cumulative": cumulative} if output == "dates" else {"cumulative": cumulative}
        if uncertainty:
            outputs.update(dates_log_sigma=log_sigma,
                           cumulative_log_sigma=LastChannel(dtype="float32", name="cumulative_log_sigma")(log_sigma),
                           dist=dist)
        super().__init__(inputs={"series": series, "elevation": elevation}, outputs=outputs, **kwargs)

        # === Config ===
        self.filters = filters
        self.filters_2d = filters_2d
        self.num_dates = num_dates
        self.pools = pools
        self.num_conv3d = num_conv3d
        self.num_conv2d = num_conv2d
        self.elevation_layer = elevation_layer
        self.output_kind = output
        self.separable_time = separable_time
        self.activation = activation
        self.input_channels = int(input_channels)
        self.dilations = dilations
        self.raw_skip = bool(raw_skip)
        self.uncertainty = bool(uncertainty)
        self.sigma_scale = float(sigma_scale)
        self.elevation_features = bool(elevation_features)
        self.stratified_estimate = bool(stratified_estimate)
        self.stratified_box = int(stratified_box)
        self.scale_box = scale_box

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "filters": self.filters, "filters_2d": self.filters_2d, "num_dates": self.num_dates,
                "pools": list(self.pools), "num_conv3d": self.num_conv3d, "num_conv2d": self.num_conv2d,
                "elevation_layer": self.elevation_layer, "output": self.output_kind,
                "separable_time": self.separable_time, "activation": self.activation,
                "input_channels": self.input_channels, "dilations": list(self.dilations),
                "raw_skip": self.raw_skip, "uncertainty": self.uncertainty, "sigma_scale": self.sigma_scale,
                "elevation_features": self.elevation_features, "stratified_estimate": self.stratified_estimate,
                "stratified_box": self.stratified_box, "scale_box": self.scale_box}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("dtype", "layers", "input_layers", "output_layers"):
            config.pop(key, None)
        return cls(**config)

    @property
    def receptive_radius(self):
        """Spatial receptive-field radius of the network in pixels: 1 per Conv3D layer, the
        dilation of each 3x3 Conv2D layer, and 1 for the output layer."""
        return self.num_conv3d + sum(self.dilations) + 1


@keras.saving.register_keras_serializable(package="mintpy_dlae")
class SliceChannels(layers.Layer):
    """Channels [start, stop) of the last axis."""

    def __init__(self, start, stop, **kwargs):
        super().__init__(**kwargs)
        self.start, self.stop = int(start), int(stop)

    def call(self, x):
        return x[..., self.start:self.stop]

    def get_config(self):
        return dict(super().get_config(), start=self.start, stop=self.stop)


@keras.saving.register_keras_serializable(package="mintpy_dlae")
class SoftClip(layers.Layer):
    """limit * tanh(x / limit): keeps log sigma in (-limit, limit) with a smooth gradient."""

    def __init__(self, limit=6.0, **kwargs):
        super().__init__(**kwargs)
        self.limit = float(limit)

    def call(self, x):
        return self.limit * keras.ops.tanh(x / self.limit)

    def get_config(self):
        return dict(super().get_config(), limit=self.limit)


def shipped_config():
    """The layout of the shipped models: the paper's 3 Conv3D + 7 Conv2D + output layers with 32
    encoder filters (the "lite" encoder, 1.8x faster to train on CPU), a validity channel, dilated
    decoder layers (receptive radius 26 px instead of 11), the input dates passed to the decoder,
    and a mean + log-sigma head for each date."""
    return dict(filters=32, filters_2d=64, num_dates=9, pools=(3, 3), num_conv3d=3, num_conv2d=7,
                elevation_layer=7, output="dates", input_channels=2, dilations=(1, 2, 4, 8, 4, 2, 1),
                raw_skip=True, uncertainty=True)


def native_dilation_gradients_work(dtype="float32"):
    """Whether this TensorFlow build can back-propagate through ``tf.nn.conv2d(..., dilations=2)``
    in ``dtype`` ("float32" or "bfloat16"), inside a ``tf.function`` as training runs it.

    The oneDNN kernels can; TensorFlow's plain CPU kernels (used where oneDNN is off, e.g. on an x86
    CPU without AVX-512, or for bfloat16 on a CPU without bfloat16 instructions) raise
    ``InvalidArgumentError: Current CPU implementations do not yet support dilation rates larger than
    1`` in ``Conv2DBackpropInput``/``Conv2DBackpropFilter``, while the forward op works.  Checked once
    per process and dtype on a 1 x 8 x 8 x 1 input (milliseconds).
    """
    dtype = str(dtype)
    if dtype not in _NATIVE_DILATION_GRADIENTS:
        import tensorflow as tf

        @tf.function
        def grad(x, k):
            with tf.GradientTape() as tape:
                tape.watch([x, k])
                y = tf.reduce_sum(tf.cast(tf.nn.conv2d(x, k, strides=1, padding="SAME", dilations=[2, 2]),
                                          tf.float32))
            return tape.gradient(y, [x, k])
        try:
            [g.numpy() for g in grad(tf.ones((1, 8, 8, 1), dtype), tf.ones((3, 3, 1, 1), dtype))]
            _NATIVE_DILATION_GRADIENTS[dtype] = True
        except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError, tf.errors.NotFoundError):
            _NATIVE_DILATION_GRADIENTS[dtype] = False
    return _NATIVE_DILATION_GRADIENTS[dtype]


_NATIVE_DILATION_GRADIENTS = {}


def use_native_dilation(net, training=False):
    """Run the dilated 3x3 Conv2D layers of ``net`` as one native TensorFlow op each; returns ``net``.

    Keras routes a dilated 'same' convolution through ``tf.nn.convolution``, which on CPU becomes
    SpaceToBatch -> Conv2D -> BatchToSpace: three ops that TensorFlow's graph optimiser cannot fuse
    with the bias and activation.  ``tf.nn.conv2d(..., dilations=d)`` is the same arithmetic (and has
    the same gradient) in one oneDNN primitive, about 1.2x faster inference for the shipped layout on
    a 2-core Xeon with AMX (``docs/benchmarks.md``).  The layers keep their class and weights (the
    shipped .keras files store ``Conv2D``); only their ``convolution_op`` is replaced, per instance.
    Does nothing on other backends, nor with ``training=True`` where this TensorFlow build has no
    gradient for the native op (:func:`native_dilation_gradients_work`): training then keeps Keras's
    own convolution.
    """
    if keras.backend.backend() != "tensorflow":
        return net
    if training:
        dtypes = {layer.compute_dtype for layer in net.layers
                  if type(layer) is layers.Conv2D and max(layer.dilation_rate) > 1}
        if not all(native_dilation_gradients_work(d) for d in dtypes):
            log.info("use_native_dilation: this TensorFlow build has no gradient for dilated conv2d in %s "
                     "on this CPU; training keeps Keras's own dilated convolution", "/".join(sorted(dtypes)))
            return net
    import tensorflow as tf

    def native(layer):
        def convolution_op(inputs, kernel):
            return tf.nn.conv2d(inputs, kernel, strides=1, padding="SAME", dilations=list(layer.dilation_rate))
        return convolution_op

    for layer in net.layers:
        if (type(layer) is layers.Conv2D and max(layer.dilation_rate) > 1 and layer.padding == "same"
                and tuple(layer.strides) == (1, 1) and layer.data_format == "channels_last"
                and getattr(layer, "groups", 1) == 1):
            layer.convolution_op = native(layer)
    return net


def build_model(**kwargs):
    """Build a :class:`DlaeNet` (see its arguments); ``build_model(**paper_reference_config())``
    gives the paper-size reference network."""
    return DlaeNet(**kwargs)


# ------------------------------------------------------------------------------------------------
def pretrained_dir():
    """Folder of the shipped models (installed with the package as ``mintpy_dlae/pretrained``)."""
    try:
        from importlib.resources import files
        return str(files("mintpy_dlae.pretrained"))
    except (ModuleNotFoundError, TypeError):   # running from a source tree without install
        return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pretrained")


def resolve_model_path(model):
    """'fault' / 'mogi' -> the shipped .keras file; otherwise the given path (str or os.PathLike).

    Raises FileNotFoundError when a shipped model's file is missing (incomplete install) or the path
    is not an existing file, ValueError for an existing file whose name does not end in .keras, and
    TypeError for a ``model`` that is neither a name nor a path.  The file's content is not read
    (:func:`load_model` checks it).
    """
    if isinstance(model, str) and model in PRETRAINED:
        path = os.path.join(pretrained_dir(), f"{model}.keras")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"pretrained model {model!r} not found at {path} (is the package installed completely?)")
        return path
    path = os.fspath(model)
    if os.path.isdir(path):
        raise FileNotFoundError(f"the model is a folder, not a .keras file: {path} (use 'fault', 'mogi' or a path "
                                "to a .keras file)")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"model file not found: {path} (use 'fault', 'mogi' or a path to a .keras file)")
    if not path.endswith(".keras"):
        raise ValueError(f"model file {path} is not a .keras file")
    return path


def model_card_path(model_path):
    return os.path.splitext(model_path)[0] + ".json"


def read_model_card(model_path):
    """The JSON model card next to a .keras file ({} if none)."""
    card = model_card_path(model_path)
    if os.path.isfile(card):
        with open(card) as f:
            return json.load(f)
    return {}


def load_model(model="fault", compile=False):
    """Load a mintpy_dlae model: 'fault', 'mogi', a path to a .keras file, or a model (returned as is).

    Raises FileNotFoundError for a missing file and ValueError for a file that is not a
    mintpy_dlae model.
    """
    if isinstance(model, keras.Model):
        return model
    path = resolve_model_path(model)
    import zipfile
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a readable mintpy_dlae model: not a .keras archive (a .keras file is a zip "
                         "archive written by Keras)")
    try:
        net = keras.saving.load_model(path, compile=compile)
    except Exception as err:  # noqa: BLE001 - keras raises many types for foreign/corrupt files
        raise ValueError(f"{path} is not a readable mintpy_dlae model: {err}") from err
    if not isinstance(net, DlaeNet):
        raise ValueError(f"{path} is a Keras model but not a mintpy_dlae model (class {type(net).__name__})")
    return net


def atomic_write_json(obj, path):
    """Write ``obj`` as JSON to ``path`` through a temporary file and a rename (never half-written)."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


def save_model_atomic(model, path):
    """Save a Keras ``model`` to ``path`` (.keras) through ``<stem>.tmp.keras`` and a rename, so
    that ``path`` is never half-written; the temporary file is removed when the save fails or is
    interrupted (Ctrl-C)."""
    tmp = path[:-len(".keras")] + ".tmp.keras"
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def export_float32(model):
    """An uncompiled float32 copy of ``model`` with the same weights (what ships)."""
    old = keras.config.dtype_policy()
    try:
        keras.config.set_dtype_policy("float32")
        clone = DlaeNet.from_config(model.get_config())
    finally:
        keras.config.set_dtype_policy(old)
    clone.set_weights(model.get_weights())
    return clone
