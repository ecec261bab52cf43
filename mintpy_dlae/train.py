"""Training on streamed synthetic data, with checkpoints, resume and a JSON model card.

Layout of a training run (``out`` = path of the model, e.g. ``training/fault/fault.keras``; training
runs live outside the installed package, and only shipped models are copied to ``pretrained/``):

    <out>                      the model (float32, uncompiled; rewritten after each epoch)
    <out stem>.json            the model card
    <out stem>_ckpt/last.keras checkpoint with the optimizer state
    <out stem>_ckpt/state.json samples seen, epochs, wall time, segments, log of every epoch

Objective: the network predicts, for every date of the window, a mean mu and a log standard
deviation log sigma of the deformation (both in units of the window's noise scale).  The loss is the
Gaussian negative log-likelihood 0.5 (y - mu)^2 / sigma^2 + log sigma, a proper scoring rule: its
optimum is mu = the posterior mean of the deformation (no shrinkage beyond what the data justify)
and sigma = the true spread of its error.  It is weighted per pixel by sigma^(2 beta) (held
constant in the gradient), the beta-NLL of Seitzer et al. (2022, ICLR) with beta = 0.5, which keeps
the mean from being neglected where sigma is large; no-data pixels get weight 0, and the cumulative
map (the last date) counts twice.  Learning rate (:func:`lr_at`): linear warm-up, then cosine decay
to ``lr_floor`` x the peak rate ``lr`` (``lr_floor`` is a fraction, 0.05 by default) over the planned
sample budget, set per batch from the sample count (a resumed run with the same budget continues the
same schedule; a larger budget stretches it).  ``loss="r2"`` trains the means with the first models'
R²-type loss instead (:func:`r2_nll_loss`, an ablation; ``r2_eps`` = (start, end, ramp) of its noise
floor, :func:`r2_eps_at`).
"""
import functools
import json
import logging
import math
import os
import platform
import time

import numpy as np

from .model import atomic_write_json as _atomic_write_json
from .constants import TRAINING_PIXEL_SIZE_M
from .model import export_float32, save_model_atomic

log = logging.getLogger(__name__)

DEFAULTS = dict(batch_size=32, steps_per_epoch=100, lr=1e-3, warmup_steps=200, lr_floor=0.05, beta=0.5,
                cumulative_weight=2.0, global_clipnorm=1.0, scale_jitter=0.4, val_size=384, seed=0, workers=1,
                loss="beta_nll", r2_eps=(1.0, 1e-4, 0.7))
LOSSES = ("beta_nll", "r2", "beta_nll_level_free")
# the options that a resumed run takes from the caller (the others are the checkpoint's)
RESUME_APPLIES = ("batch_size", "steps_per_epoch", "lr", "lr_floor", "global_clipnorm", "workers")


def accelerator_name():
    """The accelerator the Keras backend trains on (e.g. 'NVIDIA H200'), or None on a CPU."""
    import keras
    try:
        if keras.backend.backend() == "jax":
            import jax
            dev = jax.devices()[0]
            return None if dev.platform == "cpu" else str(dev.device_kind)
        if keras.backend.backend() == "torch":
            import torch
            return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
        import tensorflow as tf
        gpus = tf.config.list_physical_devices("GPU")
        return gpus[0].name if gpus else None
    except Exception:          # a probe must never stop a training run
        return None


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _unpack(y_true, y_pred, cumulative_weight):
    """(K, mu, log sigma, targets, validity, channel weights) of a loss's y_true (B, H, W, K + 1) and
    y_pred (B, H, W, 2K), in float32; the channel weights are 1 but ``cumulative_weight`` on the last map."""
    from keras import ops
    y_true = ops.cast(y_true, "float32")
    y_pred = ops.cast(y_pred, "float32")
    k = ops.shape(y_pred)[-1] // 2
    mu, log_sigma = y_pred[..., :k], y_pred[..., k:]
    channel = ops.concatenate([ops.ones_like(mu[..., :-1]), cumulative_weight * ops.ones_like(mu[..., -1:])], axis=-1)
    return k, mu, log_sigma, y_true[..., :k], y_true[..., k:], channel


@functools.lru_cache(maxsize=None)
def _nll_loss_class():
    """The beta-NLL as a Keras Loss, defined (and registered) once, on first use."""
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="mintpy_dlae", name="BetaNLL")
    class BetaNLL(keras.losses.Loss):
        """Gaussian NLL of targets y_true (B, H, W, K + 1: K maps and a validity weight) under
        y_pred (B, H, W, 2K: K means and K log sigmas), weighted by stop_gradient(sigma^(2 beta))."""

        def __init__(self, beta=0.5, cumulative_weight=2.0, level_free=False, name="beta_nll", **kwargs):
            super().__init__(name=name, **kwargs)
            self.beta = float(beta)
            self.cumulative_weight = float(cumulative_weight)
            self.level_free = bool(level_free)

        def call(self, y_true, y_pred):
            k, mu, log_sigma, y, valid, channel = _unpack(y_true, y_pred, self.cumulative_weight)
            inv_var = ops.exp(-2.0 * log_sigma)
            err = y - mu
            if self.level_free:       # each map's mean error over its valid pixels taken out
                npix = ops.sum(valid, axis=(1, 2), keepdims=True) + 1e-6
                err = err - ops.sum(err * valid, axis=(1, 2), keepdims=True) / npix
            nll = 0.5 * ops.square(err) * inv_var + log_sigma
            if self.beta > 0:
                nll = nll * ops.stop_gradient(ops.exp(2.0 * self.beta * log_sigma))
            num = ops.sum(nll * channel * valid, axis=(1, 2, 3))
            den = ops.sum(valid, axis=(1, 2, 3)) * ops.cast(k, "float32") + 1e-6
            return num / den

        def get_config(self):
            return dict(super().get_config(), beta=self.beta, cumulative_weight=self.cumulative_weight,
                        level_free=self.level_free)

    return BetaNLL


@functools.lru_cache(maxsize=None)
def _r2_nll_loss_class():
    """The R²-type loss of the first models (an ablation) as a Keras Loss, defined once, on first use."""
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="mintpy_dlae", name="R2NLL")
    class R2NLL(keras.losses.Loss):
        """R²-type loss of the means plus the Gaussian NLL of the log sigmas around the detached
        means (:func:`r2_nll_loss`); y_true and y_pred as for the beta-NLL."""

        def __init__(self, eps=1e-4, cumulative_weight=2.0, name="r2_nll", **kwargs):
            super().__init__(name=name, **kwargs)
            self.eps = float(eps)
            self.cumulative_weight = float(cumulative_weight)

        def call(self, y_true, y_pred):
            k, mu, log_sigma, y, valid, channel = _unpack(y_true, y_pred, self.cumulative_weight)
            w = channel * valid                                             # (B, H, W, K)
            npix = ops.sum(valid, axis=(1, 2), keepdims=True) + 1e-6        # (B, 1, 1, 1)
            centred = y - ops.sum(y * valid, axis=(1, 2), keepdims=True) / npix
            sse = ops.sum(w * ops.square(mu - y), axis=(1, 2, 3))
            sst = ops.sum(w * ops.square(centred), axis=(1, 2, 3))
            r2_term = sse / (sst + self.eps * ops.sum(w, axis=(1, 2, 3)) + 1e-12)
            nll = 0.5 * ops.square(y - ops.stop_gradient(mu)) * ops.exp(-2.0 * log_sigma) + log_sigma
            nll = nll * ops.stop_gradient(ops.exp(log_sigma))            # beta 0.5, as the shipped loss
            den = ops.sum(valid, axis=(1, 2, 3)) * ops.cast(k, "float32") + 1e-6
            return r2_term + ops.sum(nll * w, axis=(1, 2, 3)) / den

        def get_config(self):
            return dict(super().get_config(), eps=self.eps, cumulative_weight=self.cumulative_weight)

    return R2NLL


def r2_nll_loss(eps=1e-4, cumulative_weight=2.0):
    """The first models' R²-type loss on the means, with an NLL for sigma (the ablation ``r2_loss``
    of ``benchmarks/ablation.py``; the shipped models train with :func:`nll_loss`).

    y_true (B, H, W, K + 1) and y_pred (B, H, W, 2K) as in :func:`nll_loss`.  Per sample, with
    w = c_k v (``cumulative_weight`` c_k on the last map, validity v),

        loss = sum w (mu - y)^2 / (sum w (y - ybar_k)^2 + eps sum w)
               + sum w sg(sigma) [0.5 (y - sg(mu))^2 / sigma^2 + log sigma] / (K sum_{pixels} v)

    with ybar_k the map's mean over the valid pixels and sg the stop-gradient: the first term is
    1 - R² of the maps with a noise floor ``eps`` (units of the window scale squared per pixel), so
    that near-flat targets do not dominate; the second is the shipped beta-NLL (beta 0.5) with the
    means held fixed: it trains sigma to the spread of their error without moving them.  The noise floor follows :func:`r2_eps_at` during training.
    """
    return _r2_nll_loss_class()(eps=eps, cumulative_weight=cumulative_weight)


def r2_eps_at(samples_seen, budget, start, end, ramp):
    """Noise floor of the R²-type loss (the first models' curriculum): log-linear from ``start``
    (MSE-like: every series weighs about the same) to ``end`` (R²-like: every series weighs the
    same relative to its own variance) over the first ``ramp`` fraction of the sample ``budget``,
    then ``end``."""
    frac = min(1.0, samples_seen / max(1.0, ramp * budget))
    return float(np.exp(np.log(start) + frac * (np.log(end) - np.log(start))))


def nll_loss(beta=0.5, cumulative_weight=2.0, level_free=False):
    """The beta-NLL loss of Seitzer et al. (2022, ICLR, "On the pitfalls of heteroscedastic
    uncertainty estimation with probabilistic neural networks") as a Keras Loss.

    y_true (B, H, W, K + 1): K target maps (units of the window scale) and the validity weight v;
    y_pred (B, H, W, 2K): K means mu and K log sigmas.  Per sample,

        loss = sum_{pixels, k} c_k v sg(sigma^(2 beta)) [0.5 (y - mu)^2 / sigma^2 + log sigma]
               / (K sum_{pixels} v + 1e-6)

    with sg the stop-gradient, c_k = 1 except ``cumulative_weight`` for the last map (the cumulative
    one); ``beta`` = 0 is the plain Gaussian NLL.  Its ``call`` gives one value per sample, (B,),
    which Keras averages over the batch.  ``level_free`` (loss "beta_nll_level_free", an experiment):
    y - mu minus its mean over the map's valid pixels, so that no map's level is learnt (neither
    ``mintpy_dlae.py``, which references each map to a pixel, nor ``level="input"`` uses it).
    """
    return _nll_loss_class()(beta=beta, cumulative_weight=cumulative_weight, level_free=level_free)


def lr_at(step, total_steps, base_lr, warmup_steps, floor):
    """Learning rate of batch ``step`` (0-based) of a ``total_steps`` schedule: linear warm-up to
    ``base_lr`` over ``warmup_steps`` (base_lr (step + 1) / warmup_steps), then cosine decay
    (Loshchilov & Hutter 2017, ICLR, SGDR, without restarts) from ``base_lr`` to ``floor * base_lr``
    at ``total_steps``, and ``floor * base_lr`` after it; ``floor`` is a fraction of ``base_lr``."""
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    frac = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return base_lr * (floor + (1 - floor) * 0.5 * (1 + np.cos(np.pi * frac)))


def _paths(out):
    stem = os.path.splitext(out)[0]
    ckpt_dir = stem + "_ckpt"
    return stem + ".json", ckpt_dir, os.path.join(ckpt_dir, "last.keras"), os.path.join(ckpt_dir, "state.json")


def validation_set(kinds, n, size=40, seed=9_000):
    """A fixed validation batch of the training distribution (kinds: a kind or {kind: fraction})."""
    from . import synthetic
    from .dataset import GENERATOR_OPTIONS
    mix = {kinds: 1.0} if isinstance(kinds, str) else dict(kinds)
    total = sum(mix.values())
    parts = []
    for i, (kind, frac) in enumerate(mix.items()):
        m = max(1, int(round(n * frac / total)))
        opts = dict(GENERATOR_OPTIONS, snr=(0.01, 10.0), reuse=1)
        parts.append(synthetic.generate(m, kind=kind, size=size, rng=seed + i, **opts))
    if len(parts) == 1:
        return parts[0]
    return synthetic.Batch(*[np.concatenate([getattr(p, f) for p in parts]) for f in synthetic.Batch.__dataclass_fields__])


def validate(model, val, batch_size=64):
    """Scores of ``model`` on the validation :class:`mintpy_dlae.synthetic.Batch` ``val``.

    Returns a dict: "r2", the mean R² (:func:`mintpy_dlae.evaluate.r2_per_sample`) of the cumulative
    map over the series with SNR > 0 (no-data pixels 0 in prediction and truth); "coverage_2sigma",
    the fraction of the valid pixels with std > 0 where |cumulative - truth| <= 2 std; when there
    are pure-noise series (SNR 0), "noise_rms_ratio", the RMS of their output cumulative map over
    that of the raw one (last minus first date) on their valid pixels; and for each SNR bin
    [0.01, 0.1), [0.1, 0.5), [0.5, 2), [2, 10.01) that holds series, "r2_snr_<lo>-<hi>" and
    "zero_snr_<lo>-<hi>", the mean R² of the model and of the all-zero prediction.
    """
    from .evaluate import r2_per_sample
    from .inference import predict_windows
    pred = predict_windows(model, val.noisy, val.elevation, mask=val.valid, batch_size=batch_size)
    truth = np.where(val.valid, val.cumulative, 0.0)
    cum = np.where(val.valid, pred.cumulative, 0.0)
    r2 = r2_per_sample(cum, truth)
    r2_zero = r2_per_sample(np.zeros_like(cum), truth)
    inside = val.valid & (pred.cumulative_std > 0)
    cover = np.abs(pred.cumulative - val.cumulative) <= 2 * pred.cumulative_std
    out = {"r2": float(np.mean(r2[val.snr > 0])), "coverage_2sigma": round(float(cover[inside].mean()), 4)}
    noise = val.snr == 0
    if noise.any():
        raw = (val.noisy[noise, -1] - val.noisy[noise, 0])[val.valid[noise]]
        out["noise_rms_ratio"] = round(float(np.sqrt(np.mean(cum[noise][val.valid[noise]] ** 2) / np.mean(raw ** 2))), 4)
    for lo, hi in [(0.01, 0.1), (0.1, 0.5), (0.5, 2.0), (2.0, 10.01)]:
        sel = (val.snr >= lo) & (val.snr < hi)
        if sel.any():
            out[f"r2_snr_{lo}-{hi:g}"] = round(float(r2[sel].mean()), 4)
            out[f"zero_snr_{lo}-{hi:g}"] = round(float(r2_zero[sel].mean()), 4)
    return out


def _restores_dtype_policy(fn):
    """Run ``fn`` and put Keras's global dtype policy back as it was (training sets its own)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import keras
        old = keras.config.dtype_policy()
        try:
            return fn(*args, **kwargs)
        finally:
            keras.config.set_dtype_policy(old)
    return wrapper


def _bf16_probe_child(config_json, batch_size, size):
    """Run in a child process by :func:`bfloat16_training_works`: two bfloat16 training steps of the
    model ``config_json`` on random (batch_size, T, size, size) inputs; exits 0 when they complete."""
    import keras

    from .model import build_model, use_native_dilation
    keras.config.set_dtype_policy("mixed_bfloat16")
    model = build_model(**json.loads(config_json))
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss={"dist": nll_loss()})
    use_native_dilation(model, training=True)
    rng = np.random.default_rng(0)
    T, c = model.num_dates, model.input_channels
    x = {"series": rng.standard_normal((batch_size, T, size, size, c)).astype(np.float32),
         "elevation": rng.standard_normal((batch_size, size, size, 1)).astype(np.float32)}
    y = np.concatenate([rng.standard_normal((batch_size, size, size, T - 1)), np.ones((batch_size, size, size, 1))],
                       axis=-1).astype(np.float32)
    for _ in range(2):
        model.train_on_batch(x, {"dist": y})


# signals of a crash inside TensorFlow's kernels (a memory kill, SIGKILL, says nothing about bfloat16)
_CRASH_SIGNALS = ("SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGABRT")


def bfloat16_training_works(model_config, batch_size, size=40, timeout=600):
    """True when bfloat16 training steps of this model run on this machine, tried in a child process.

    TensorFlow 2.20-2.21 crash with a segmentation fault (oneDNN's AVX512-BF16 kernels reading out
    of bounds) in the first bfloat16 training step of the shipped layout on some AMD EPYC CPUs that
    have AVX512-BF16 but not AMX (docs/training.md), a crash that Python cannot catch.  The child
    runs two steps of the model ``model_config`` on (``batch_size``, T, ``size``, ``size``) inputs.
    A child killed by a crash signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT) answers False; any
    other failure (a memory kill, a timeout, an import error) is logged and answers True, since it
    says nothing about bfloat16.  Answers from a completed or crashed child are cached per CPU,
    accelerator, TensorFlow version, layout and input shape in
    ``~/.cache/mintpy_dlae/bf16_training.json`` (a failed write of the cache is ignored).  The
    environment variable ``MINTPY_DLAE_BF16_PROBE=off`` skips the probe (answers True).
    """
    import hashlib
    import signal
    import subprocess
    import sys
    if os.environ.get("MINTPY_DLAE_BF16_PROBE", "").strip().lower() in ("0", "off", "no", "false"):
        return True
    try:
        import tensorflow as tf
        tf_version = tf.__version__
    except ImportError:          # another Keras backend: nothing known to crash
        return True
    cfg = json.dumps(model_config, sort_keys=True)
    key = hashlib.sha1(f"{cpu_name()}|{accelerator_name()}|{tf_version}|{cfg}|{batch_size}|{size}".encode()).hexdigest()
    cache = os.path.join(os.path.expanduser("~"), ".cache", "mintpy_dlae", "bf16_training.json")
    try:
        with open(cache) as f:
            known = json.load(f)
    except (OSError, ValueError):
        known = {}
    if key in known:
        return bool(known[key])
    code = ("import sys; from mintpy_dlae.train import _bf16_probe_child; "
            "_bf16_probe_child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))")
    # the child imports this package the way the parent did (an uninstalled checkout on sys.path too)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    try:
        res = subprocess.run([sys.executable, "-c", code, cfg, str(int(batch_size)), str(int(size))], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        log.warning("bfloat16 training probe: no answer within %d s; assuming bfloat16 works", timeout)
        return True
    if res.returncode < 0:
        name = signal.Signals(-res.returncode).name
        if name not in _CRASH_SIGNALS:
            log.warning("bfloat16 training probe killed by %s (not a crash); assuming bfloat16 works", name)
            return True
        log.warning("bfloat16 training probe: TensorFlow crashed (%s)", name)
        ok = False
    elif res.returncode > 0:
        log.warning("bfloat16 training probe failed to run (exit status %d; %s); assuming bfloat16 works",
                    res.returncode, res.stderr.decode(errors="replace").strip()[-300:])
        return True
    else:
        ok = True
    known[key] = ok
    try:
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        _atomic_write_json(known, cache)
    except OSError:
        pass
    return ok


def _read_state(state_path, ckpt_dir):
    """The run state saved beside a checkpoint (a dict with "options", "model_config", ...).

    Raises ValueError naming the file and the way out when it is missing, not JSON, or lacks the
    run's options or model configuration (an interrupt between the checkpoint and the state)."""
    try:
        with open(state_path) as f:
            state = json.load(f)
        dict(state["options"]), dict(state["model_config"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{state_path}: the run's state is missing or damaged ({err}); remove {ckpt_dir} "
                         "to start the run again") from err
    return state


@_restores_dtype_policy
def train(kind, out, samples=200_000, resume=False, model_config=None, precision="auto", progress=True,
          init_from=None, generator=None, **options):
    """Train (or resume) a model until ``samples`` have been seen.

    ``kind``: 'fault', 'mogi' or a dict {kind: fraction} of the training mix.  ``init_from``: path of a
    .keras model whose weights start a new run (fine-tuning).  ``generator``: overrides of
    :data:`mintpy_dlae.dataset.GENERATOR_OPTIONS` for the training stream (ablations; recorded in
    the card; the validation set keeps the defaults).  ``options`` override :data:`DEFAULTS`.
    Every epoch (``steps_per_epoch`` batches) the checkpoint, the model and the model card are
    rewritten atomically, so an interrupted run loses at most one epoch and ``resume=True``
    continues with the sample count, optimizer state and generator options (``state.json``) preserved.

    ``out`` must end in ``.keras`` (not checked here; ``dlae_train.py`` checks it); see the module
    docstring for the files of a run.  ``samples``: the sample budget, which also sets the length of
    the learning-rate schedule.

    Resume (``resume=True`` and a checkpoint ``<out stem>_ckpt/last.keras`` exists; without one a
    new run starts): the checkpoint fixes the model (layout, weights, optimizer state), ``kind``, the
    generator options and the options val_size, seed, warmup_steps, beta, cumulative_weight,
    scale_jitter, loss and r2_eps; ``model_config``, ``init_from``, ``generator`` and those options
    are ignored.  ``samples``, ``precision`` and, when given in ``options``, the options of
    :data:`RESUME_APPLIES` (batch_size among them: a run started on a CPU can go on with a GPU's
    batch; the learning-rate schedule counts samples, not steps) apply.  ``resume=True`` without a
    checkpoint is an error (it would start from scratch and overwrite the run's model).

    Returns (model, state): the compiled Keras model being trained (in the training precision, with
    its optimizer) and the run's state (the content of ``state.json``).

    Raises FileExistsError when a checkpoint exists and ``resume`` is False, or ``out`` exists without
    one (a new run would overwrite it); FileNotFoundError when ``resume`` is True and there is no
    checkpoint; ValueError for a ``generator`` key that :func:`mintpy_dlae.synthetic.generate` does
    not take, for a
    ``precision`` other than 'auto', 'float32' or 'bfloat16', a ``model_config`` that
    :class:`mintpy_dlae.model.DlaeNet` refuses, or a model without the uncertainty head; the errors
    of :func:`mintpy_dlae.model.load_model` for ``init_from``; and FloatingPointError when a
    training step's loss is not finite (the last checkpoint is kept).
    """
    import keras
    from tqdm import tqdm

    from .dataset import GENERATOR_OPTIONS, training_stream
    from .inference import resolve_precision
    from .model import build_model, shipped_config, use_native_dilation

    card_path, ckpt_dir, ckpt, state_path = _paths(out)
    auto = precision == "auto"
    precision = resolve_precision(precision)
    if os.path.isfile(ckpt) and not resume:
        raise FileExistsError(f"{ckpt} exists: use resume=True (--resume) or remove {ckpt_dir}")
    if resume and not os.path.isfile(ckpt):
        seen = ""
        if os.path.isfile(state_path):
            try:
                with open(state_path) as f:
                    seen = f" ({state_path} records {json.load(f).get('samples_seen', '?')} samples: bring that " \
                           "run's last.keras back, e.g. from the device's $OUT or git history)"
            except (OSError, ValueError, AttributeError):
                seen = f" ({state_path} is there but unreadable)"
        raise FileNotFoundError(f"{ckpt} not found: nothing to resume{seen}; without resume a new run starts "
                                "from scratch")
    if not resume and os.path.isfile(out):
        raise FileExistsError(f"{out} exists (a model without a checkpoint in {ckpt_dir}): a new run would "
                              "overwrite it; choose another output or remove it")
    _check_generator(generator)
    if precision == "bfloat16" and not auto and not _bf16_hardware():
        log.warning("train: bfloat16 on %s without AVX512-BF16, AMX or an accelerator: emulated, many times "
                    "slower than float32 (measured 0.6-0.7 against about 15 samples/s on a 2-core AVX2 EPYC)",
                    cpu_name())

    if auto and precision == "bfloat16":
        # 'auto' picks bfloat16 on CPUs with bfloat16 instructions; where TensorFlow crashes on them
        # (bfloat16_training_works), fall back to float32 instead of dying mid-run
        if resume and os.path.isfile(ckpt):
            saved = _read_state(state_path, ckpt_dir)
            probe_cfg, probe_bs = saved["model_config"], int(saved["options"]["batch_size"])
            probe_size = int(saved.get("generator", {}).get("size", 40))
        else:
            probe_cfg = dict(shipped_config(), **(model_config or {}))
            probe_bs = int(options.get("batch_size", DEFAULTS["batch_size"]))
            probe_size = int((generator or {}).get("size", 40))
        probe_cfg = {k: v for k, v in probe_cfg.items() if k not in ("name", "trainable")}
        if not bfloat16_training_works(probe_cfg, probe_bs, size=probe_size):
            log.warning("train: bfloat16 training steps crash TensorFlow on this machine (%s): training in "
                        "float32 (slower; --precision bfloat16 forces bfloat16)", cpu_name())
            precision = "float32"
    keras.config.set_dtype_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")

    if resume and os.path.isfile(ckpt):
        state = _read_state(state_path, ckpt_dir)
        opts = dict(state["options"])
        opts.update({k: v for k, v in options.items()
                     if k in RESUME_APPLIES})
        _nll_loss_class()        # register the loss classes: a fresh process must know them to load the checkpoint
        _r2_nll_loss_class()
        model = keras.saving.load_model(ckpt, compile=True)
        _say(progress, f"resumed {ckpt} at {state['samples_seen']} samples (budget {int(samples)})")
        if state["samples_seen"] < int(samples) and os.path.isfile(card_path):
            with open(card_path) as f:
                calibrated = "sigma_calibration" in json.load(f)
            if calibrated:
                log.warning("train: %s was sigma-calibrated; the new weights drop that calibration from the "
                            "model and its card: run dlae_evaluate.py %s --calibrate-sigma again after "
                            "training", out, out)
    else:
        opts = dict(DEFAULTS, **options)
        _check_options(opts, samples)        # before the loss is built from them
        config = dict(shipped_config(), **(model_config or {}))
        model = build_model(**config)
        init_training = None
        if init_from:
            from .model import load_model, read_model_card
            init = load_model(init_from)
            if [w.shape for w in init.weights] != [w.shape for w in model.weights]:
                theirs = {k: v for k, v in init.get_config().items() if k in config and v != config[k]}
                raise ValueError(f"init_from: {init_from} has another layout than the model to train "
                                 f"(its {theirs or 'weights'}, here "
                                 f"{ {k: config[k] for k in theirs} or 'other weights'}): give the same layout "
                                 "(dlae_train.py --filters / --filters-2d / ..., finetune.py --model-config) "
                                 "or another model to start from")
            model.set_weights(init.get_weights())
            del init
            card_of = _run_model_of(init_from)
            t = read_model_card(card_of).get("training", {})
            init_training = {"run": os.path.basename(card_of),
                             "samples_seen_total": int(t.get("samples_seen_total", t.get("samples_seen", 0))),
                             "wall_seconds_total": float(t.get("wall_seconds_total", t.get("wall_seconds", 0.0))),
                             "cpu_hours_total": float(t.get("cpu_hours_total", t.get("cpu_hours", 0.0)))}
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=opts["lr"], global_clipnorm=opts["global_clipnorm"]),
                      loss={"dist": _loss(opts, 0, samples)})
        state = {"kind": kind, "samples_seen": 0, "epochs": 0, "wall_seconds": 0.0, "segments": [], "log": [],
                 "init_from": os.path.basename(init_from) if init_from else None, "init_training": init_training,
                 "generator": dict(GENERATOR_OPTIONS, **(generator or {})), "model_config": model.get_config()}
    if not model.uncertainty:
        raise ValueError("train: the model needs the uncertainty head (uncertainty=True)")
    _check_options(opts, samples)
    use_native_dilation(model, training=True)     # same arithmetic and gradients, about 1.15x faster steps on this CPU (TF only)
    state["samples_budget"] = int(samples)
    state["options"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in opts.items()}
    os.makedirs(ckpt_dir, exist_ok=True)

    bs, spe = int(opts["batch_size"]), int(opts["steps_per_epoch"])
    total_steps = max(1, int(samples) // bs)
    if state["samples_seen"] >= int(samples):
        _say(progress, f"nothing to train: {out} has seen {state['samples_seen']} samples, the budget is "
                       f"{int(samples)} (give a larger --samples to continue); files left as they were")
        return model, state
    _say(progress, f"training {state['kind']} to {int(samples)} samples in {precision}, batch {bs}, "
                   f"{spe} batches per epoch")
    seed = int(opts["seed"]) + 7919 * state["epochs"] + 1
    data = training_stream(state["kind"], batch_size=bs, seed=seed, scale_jitter=opts["scale_jitter"],
                           workers=int(opts.get("workers", 1)), scale_box=int(getattr(model, "scale_box", 0)),
                           **{k: tuple(v) if isinstance(v, list) else v for k, v in state["generator"].items()})
    cumulative_only = model.output_kind != "dates"      # a cumulative-only head: last map + validity
    val = validation_set(state["kind"], int(opts["val_size"]))
    segment = {"start_samples": state["samples_seen"], "cpu": cpu_name(), "cores": os.cpu_count(),
               "accelerator": accelerator_name(), "precision": precision, "backend": keras.backend.backend(),
               "started": time.strftime("%Y-%m-%d %H:%M:%S"), "versions": _versions(),
               "samples_budget": int(samples), "steps_per_epoch": spe, "lr": opts["lr"]}
    state["segments"].append(segment)
    seg_t0 = time.time()

    try:
        while state["samples_seen"] < samples:
            model.optimizer.global_clipnorm = opts.get("global_clipnorm")
            if opts.get("loss", "beta_nll") == "r2":       # the noise floor's curriculum: one value per epoch
                model.compile(optimizer=model.optimizer, loss={"dist": _loss(opts, state["samples_seen"], samples)})
            t0 = time.time()
            losses = []
            # the last epoch is cut short so that the run ends at the budget (in whole batches)
            steps = min(spe, -(-(int(samples) - state["samples_seen"]) // bs))
            bar = tqdm(range(steps), desc=f"epoch {state['epochs'] + 1}", disable=not progress, leave=False)
            for _ in bar:
                step = state["samples_seen"] // bs
                lr = lr_at(step, total_steps, opts["lr"], opts["warmup_steps"], opts["lr_floor"])
                model.optimizer.learning_rate.assign(lr)
                x, y = next(data)
                if cumulative_only:
                    y = y[..., -2:]
                res = model.train_on_batch(x, {"dist": y}, return_dict=True)
                if not np.isfinite(res["loss"]):
                    raise FloatingPointError(
                        f"train: the loss is {res['loss']} at sample {state['samples_seen']} of {out} (precision "
                        f"{precision}); the last checkpoint ({ckpt}) is left as it was." + (
                            " With bfloat16 on patches larger than 48 px the Conv3D kernel gradients overflow on "
                            "some CPUs (docs/training.md): train in float32 (precision='float32', --precision "
                            "float32) or on 40 px patches." if precision == "bfloat16" else ""))
                losses.append(res["loss"])
                state["samples_seen"] += bs
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
            train_seconds = time.time() - t0
            v = validate(model, val)
            state["epochs"] += 1
            state["wall_seconds"] += time.time() - t0
            entry = {"epoch": state["epochs"], "samples": state["samples_seen"],
                     "loss": round(float(np.mean(losses)), 4),
                     "lr": float(np.asarray(model.optimizer.learning_rate)),
                     "samples_per_s": round(steps * bs / train_seconds, 1), **v}
            state["log"].append(entry)
            segment.update(end_samples=state["samples_seen"], wall_seconds=round(time.time() - seg_t0, 1))
            log.info("%s", entry)
            if progress:
                print(json.dumps(entry), flush=True)
            if not all(np.isfinite(np.asarray(w)).all() for w in model.get_weights()):
                raise FloatingPointError(
                    f"train: the weights of {out} are no longer finite after sample {state['samples_seen']} "
                    f"(learning rate {opts['lr']}); the last checkpoint ({ckpt}) is left as it was")
            _save(model, state, out, ckpt, state_path, card_path)
    finally:
        data.close()        # stops the generator thread or processes
    return model, state


def _versions():
    """Versions of the packages that make a run reproducible (recorded per training segment)."""
    import importlib.metadata as md
    out = {}
    for name in ("mintpy_dlae", "keras", "tensorflow", "jax", "numpy", "scipy"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out


def _loss(opts, samples_seen, budget):
    """The training loss of a run's options at ``samples_seen`` of ``budget``."""
    if opts.get("loss", "beta_nll") == "r2":
        start, end, ramp = opts.get("r2_eps", DEFAULTS["r2_eps"])
        return r2_nll_loss(r2_eps_at(samples_seen, budget, start, end, ramp), opts["cumulative_weight"])
    return nll_loss(opts["beta"], opts["cumulative_weight"],
                    level_free=opts.get("loss", "beta_nll") == "beta_nll_level_free")


def _check_options(opts, samples):
    """ValueError naming the first option of a run that cannot train (``dlae_train.py`` checks the
    same before it starts; this is for train() called from Python): counts below 1, a negative
    seed (numpy refuses it in the data thread), a learning rate or clipping norm that is not a
    positive finite number."""
    for name, value, low in (("samples", samples, 1), ("batch_size", opts["batch_size"], 1),
                             ("steps_per_epoch", opts["steps_per_epoch"], 1), ("val_size", opts["val_size"], 1),
                             ("seed", opts["seed"], 0), ("workers", opts.get("workers", 1), 1)):
        if int(value) != value or value < low:
            raise ValueError(f"train: {name} must be an integer >= {low}; received {value!r}")
    for name in ("lr", "global_clipnorm"):
        if not (math.isfinite(float(opts[name])) and float(opts[name]) > 0):
            raise ValueError(f"train: {name} must be a positive finite number; received {opts[name]!r}")
    if opts.get("loss", "beta_nll") not in LOSSES:
        raise ValueError(f"train: loss must be one of {LOSSES}; received {opts['loss']!r}")
    eps = opts.get("r2_eps", DEFAULTS["r2_eps"])
    try:
        start, end, ramp = (float(v) for v in eps)
        ok = all(math.isfinite(v) for v in (start, end, ramp)) and start > 0 and end > 0 and ramp >= 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"train: r2_eps must be (start, end, ramp): noise floors > 0 and a fraction of the "
                         f"budget >= 0, all finite; received {eps!r}")


def _say(progress, text):
    """A line for the person at the terminal (``progress``) and the log."""
    log.info("%s", text)
    if progress:
        print(text, flush=True)


def normalisation_card(model_config):
    """The "normalisation" entry of a model card for a model of ``model_config`` (its ``scale_box``)."""
    box = int(model_config.get("scale_box", 0))
    series = ("x = (w - w[0]) / s with one s per window: sqrt(median over valid pixels of mean_t (w[t]-w[t-1])^2)"
              if not box else
              f"x = (w - w[0]) / s with s per pixel: sqrt(mean over the valid pixels of a {box}x{box} box of "
              "mean_t (w[t]-w[t-1])^2)")
    return {"series": series + "; second channel = validity",
            "elevation": "(h - local mean) / max(local std, 20 m), 41x41 box",
            "output": "mean and log sigma of the deformation of dates 1..8 relative to date 0, in units of s"}


class _InterruptDeferred:
    """Hold SIGINT (Ctrl-C, ``timeout --signal=INT``) while the checkpoint and its state.json are
    written, so that they always describe the same step; right after, the interrupt goes to the
    handler that was in place (KeyboardInterrupt by default; nothing where SIGINT was ignored).
    Outside the main thread (where signals cannot be handled) it does nothing."""

    def __enter__(self):
        import signal
        import threading
        self.pending, self.old = False, None
        if threading.current_thread() is threading.main_thread():
            self.old = signal.signal(signal.SIGINT, self._hold)
        return self

    def _hold(self, signum, frame):
        self.pending = True

    def __exit__(self, *exc):
        import signal
        if self.old is None:
            return False
        signal.signal(signal.SIGINT, self.old)
        if self.pending and exc[0] is None:       # deliver it as the process's own handler would have
            if callable(self.old):
                self.old(signal.SIGINT, None)     # Python's default raises KeyboardInterrupt
            elif self.old == signal.SIG_DFL:
                raise KeyboardInterrupt
        return False                              # SIG_IGN (e.g. started under nohup): ignored


def _run_model_of(path):
    """The run's model for a checkpoint ``<stem>_ckpt/last.keras`` (``<stem>.keras``, whose card
    counts the samples), else ``path`` itself."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.basename(path) == "last.keras" and folder.endswith("_ckpt"):
        return folder[:-len("_ckpt")] + ".keras"
    return path


def _check_generator(generator):
    """ValueError for ``generator`` overrides that are not a dict of keywords that
    :func:`mintpy_dlae.synthetic.generate` takes (besides its n, kind, num_dates and rng), for a
    fraction (an option whose default is 0.0) outside [0, 1], and for values with which one small
    draw of each kind fails."""
    if generator is None:
        return
    if not isinstance(generator, dict):
        raise ValueError(f"train: generator must be a dict of synthetic.generate options; received "
                         f"{type(generator).__name__} {generator!r:.80}")
    import inspect

    from . import synthetic
    params = inspect.signature(synthetic.generate).parameters
    known = set(params) - {"n", "kind", "num_dates", "rng"}
    unknown = sorted(set(generator) - known)
    if unknown:
        import difflib
        hints = [f"{k} (did you mean {m[0]}?)" if (m := difflib.get_close_matches(k, known, n=1)) else k
                 for k in unknown]
        raise ValueError(f"train: unknown generator option(s) {', '.join(hints)}; known: {', '.join(sorted(known))}")
    for key, value in generator.items():       # the fractions (default 0.0): a share of the series in [0, 1]
        default = params[key].default
        if isinstance(default, float) and default == 0.0 and not (
                isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1):
            raise ValueError(f"train: generator option {key} = {value!r}: a fraction of the series in [0, 1]")
    from .dataset import GENERATOR_OPTIONS
    for kind in ("fault", "mogi"):             # the other values: one small draw before any training
        try:
            synthetic.generate(4, kind=kind, rng=0, **dict(GENERATOR_OPTIONS, **generator))
        except (TypeError, ValueError) as err:
            raise ValueError(f"train: generator options {generator!r:.200} do not generate {kind} series: "
                             f"{err}") from None


def _bf16_hardware():
    from .config import cpu_supports_bf16
    return cpu_supports_bf16() or accelerator_name() is not None


def _save(model, state, out, ckpt, state_path, card_path):
    with _InterruptDeferred():             # the checkpoint and its state: both or neither
        save_model_atomic(model, ckpt)
        _atomic_write_json(state, state_path)
    save_model_atomic(export_float32(model), out)
    card = {}
    if os.path.isfile(card_path):
        with open(card_path) as f:
            card = json.load(f)
    # the exported weights are new and carry the checkpoint's sigma_scale: an earlier calibration or
    # evaluation in the card described other weights
    for stale in ("sigma_calibration", "evaluation", "evaluation_augment8"):
        card.pop(stale, None)
    cpu_hours = round(sum(s.get("wall_seconds", 0) * s.get("cores", 1) for s in state["segments"]) / 3600, 2)
    init = state.get("init_training") or {}
    card.update({
        "name": os.path.basename(out), "kind": state["kind"], "package": "mintpy_dlae",
        "architecture": state["model_config"], "parameters": int(model.count_params()),
        "normalisation": normalisation_card(state["model_config"]),
        "pixel_size_assumption": "sources drawn relative to the patch; trained for pixel sizes "
                                 f"{TRAINING_PIXEL_SIZE_M[0]:g}-{TRAINING_PIXEL_SIZE_M[1]:g} m",
        "training": {"samples_seen": state["samples_seen"], "epochs": state["epochs"],
                     "wall_seconds": round(state["wall_seconds"], 1), "cpu_hours": cpu_hours,
                     "segments": state["segments"], "init_from": state.get("init_from"), "init_from_run": init or None,
                     "samples_seen_total": state["samples_seen"] + init.get("samples_seen_total", 0),
                     "wall_seconds_total": round(state["wall_seconds"] + init.get("wall_seconds_total", 0.0), 1),
                     "cpu_hours_total": round(cpu_hours + init.get("cpu_hours_total", 0.0), 2),
                     "generator": state.get("generator"), "options": state["options"],
                     "last_validation": state["log"][-1] if state["log"] else None},
    })
    _atomic_write_json(card, card_path)
