"""Training on streamed synthetic data, with checkpoints, resume and a JSON model card.

Layout of a training run (``out`` = path of the final model, e.g. ``pretrained/fault.keras``):

    <out>                      the model (copied from the last checkpoint after each epoch)
    <out stem>.json            the model card
    <out stem>_ckpt/last.keras checkpoint with the optimizer state
    <out stem>_ckpt/state.json samples seen, epochs, wall time, segments, log of every epoch

Loss: an R²-like loss per sample, sum((pred - true)^2) / (sum((true - mean true)^2) + eps * npix),
on the cumulative map and on the per-date maps.  With a small ``eps`` it weighs every series equally
whatever its SNR (plain MSE on normalised targets is dominated by high-SNR series) and punishes
invented deformation on series with little signal, which is what calibration needs.  Started with a
small eps, it drove the network to the all-zero output (dead decoder); so eps starts large (MSE-like)
and decreases to its final value (1e-4: below the normalised signal power of an SNR-0.02 series, so
that even those series are weighed as in the R² protocol) over the first 70 % of the budget
(:func:`eps_at`).  Learning rate: linear warm-up, then
cosine decay to 5 % over the planned sample budget, set per batch from the sample count (so a
resumed run continues the same schedule).
"""
import functools
import json
import logging
import os
import platform
import time

import numpy as np

log = logging.getLogger(__name__)

DEFAULTS = dict(batch_size=32, steps_per_epoch=100, lr=1e-3, warmup_steps=200, lr_floor=0.05, loss_eps=1e-4,
                loss_eps_start=1.0, loss_eps_ramp=0.7, global_clipnorm=1.0,
                snr=(0.005, 20.0), open_window=0.5, pure_noise=0.05, val_size=384, seed=0)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=None)
def _r2_loss_class():
    """The R²-like loss as a Keras Loss, defined (and registered) once, on first use: importing
    Keras at module import would slow down every ``-h``."""
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="mintpy_dlae", name="R2Loss")
    class R2Loss(keras.losses.Loss):
        """Per-sample SSE / (SST + eps * pixels): 1 - R² of each map, with a noise floor ``eps``
        (normalised units) so that near-flat targets do not dominate."""

        def __init__(self, eps=1e-4, name="r2_loss", **kwargs):
            super().__init__(name=name, **kwargs)
            self.eps = float(eps)

        def call(self, y_true, y_pred):
            y_true = ops.cast(y_true, "float32")
            y_pred = ops.cast(y_pred, "float32")
            sse = ops.sum(ops.square(y_pred - y_true), axis=(1, 2, 3))
            centred = y_true - ops.mean(y_true, axis=(1, 2), keepdims=True)
            sst = ops.sum(ops.square(centred), axis=(1, 2, 3))
            npix = ops.cast(ops.prod(ops.shape(y_true)[1:]), "float32")
            return sse / (sst + self.eps * npix)

        def get_config(self):
            return dict(super().get_config(), eps=self.eps)

    # checkpoints written before R2Loss existed name a function "r2_loss"; it is replaced by
    # R2Loss at the first epoch of a resumed run, so loading only needs the name to resolve
    @keras.saving.register_keras_serializable(package="mintpy_dlae", name="r2_loss")
    def r2_loss(y_true, y_pred):
        return R2Loss()(y_true, y_pred)

    return R2Loss


def r2_loss(eps):
    """The training loss at noise floor ``eps``."""
    return _r2_loss_class()(eps=eps)


def eps_at(samples_seen, budget, start, end, ramp):
    """Noise floor of the loss: log-linear from ``start`` (MSE-like, every series weighs about the same
    in absolute terms, fast learning of the high-SNR shapes) down to ``end`` (R²-like, low-SNR series
    weigh more, which teaches the network not to invent deformation) over the first ``ramp`` fraction
    of the sample budget."""
    frac = min(1.0, samples_seen / max(1.0, ramp * budget))
    return float(np.exp(np.log(start) + frac * (np.log(end) - np.log(start))))


def lr_at(step, total_steps, base_lr, warmup_steps, floor):
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    frac = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return base_lr * (floor + (1 - floor) * 0.5 * (1 + np.cos(np.pi * frac)))


def _paths(out):
    stem = os.path.splitext(out)[0]
    ckpt_dir = stem + "_ckpt"
    return stem + ".json", ckpt_dir, os.path.join(ckpt_dir, "last.keras"), os.path.join(ckpt_dir, "state.json")


def validation_set(kind, n, size=40, seed=9_000):
    from . import synthetic
    return synthetic.generate(n, kind=kind, size=size, rng=seed, snr=(0.01, 10.0))


def validate(model, val, batch_size=64):
    """Mean R² of the cumulative map per SNR bin, and of the all-zero prediction."""
    from .evaluate import r2_per_sample
    from .inference import predict_windows
    dates, cum = predict_windows(model, val.noisy, val.elevation, batch_size=batch_size)
    r2 = r2_per_sample(cum, val.cumulative)
    r2_zero = r2_per_sample(np.zeros_like(cum), val.cumulative)
    r2_dates = r2_per_sample(dates, val.clean[:, 1:])
    bins = [(0.01, 0.05), (0.05, 0.2), (0.2, 1.0), (1.0, 10.01)]
    out = {"r2": float(r2.mean()), "r2_dates": float(r2_dates.mean())}
    for lo, hi in bins:
        sel = (val.snr >= lo) & (val.snr < hi)
        if sel.any():
            out[f"r2_snr_{lo}-{hi:g}"] = round(float(r2[sel].mean()), 4)
            out[f"zero_snr_{lo}-{hi:g}"] = round(float(r2_zero[sel].mean()), 4)
    return out


def train(kind, out, samples=200_000, resume=False, model_config=None, precision="auto", progress=True, **options):
    """Train (or resume) a model of ``kind`` ('fault' or 'mogi') until ``samples`` have been seen.

    ``options`` override :data:`DEFAULTS`.  Every epoch (``steps_per_epoch`` batches) the checkpoint,
    the model and the model card are rewritten atomically, so an interrupted run loses at most one
    epoch and ``resume=True`` continues with the sample count and optimizer state preserved.
    """
    import keras
    from tqdm import tqdm

    from .dataset import training_dataset
    from .inference import resolve_precision
    from .model import build_model

    card_path, ckpt_dir, ckpt, state_path = _paths(out)
    precision = resolve_precision(precision)
    keras.config.set_dtype_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")

    if resume and os.path.isfile(ckpt):
        with open(state_path) as f:
            state = json.load(f)
        opts = dict(state["options"])
        opts.update({k: v for k, v in options.items() if k in ("steps_per_epoch", "lr", "lr_floor", "global_clipnorm",
                                                               "loss_eps", "loss_eps_ramp")})
        opts.setdefault("global_clipnorm", DEFAULTS["global_clipnorm"])
        loss = r2_loss(opts["loss_eps"])
        model = keras.saving.load_model(ckpt, compile=True)
        log.info("resumed %s at %d samples", ckpt, state["samples_seen"])
    else:
        if os.path.isfile(ckpt) and not resume:
            raise FileExistsError(f"{ckpt} exists: use resume=True (--resume) or remove {ckpt_dir}")
        opts = dict(DEFAULTS, **options)
        model_config = dict(model_config or {})
        model = build_model(**model_config)
        loss = r2_loss(opts["loss_eps"])
        heads = ["dates", "cumulative"] if model.output_kind == "dates" else ["cumulative"]
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=opts["lr"], global_clipnorm=opts["global_clipnorm"]),
                      loss={k: loss for k in heads})
        state = {"kind": kind, "samples_seen": 0, "epochs": 0, "wall_seconds": 0.0, "segments": [], "log": [],
                 "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in opts.items()},
                 "model_config": model.get_config()}
    state["samples_budget"] = int(samples)
    state["options"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in opts.items()}
    os.makedirs(ckpt_dir, exist_ok=True)

    bs, spe = int(opts["batch_size"]), int(opts["steps_per_epoch"])
    total_steps = max(1, int(samples) // bs)
    seed = int(opts["seed"]) + 7919 * state["epochs"] + 1
    data = iter(training_dataset(kind, batch_size=bs, seed=seed, snr=tuple(opts["snr"]),
                                 open_window=opts["open_window"], pure_noise=opts["pure_noise"]))
    val = validation_set(kind, int(opts["val_size"]))
    segment = {"start_samples": state["samples_seen"], "cpu": cpu_name(), "cores": os.cpu_count(),
               "precision": precision, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    state["segments"].append(segment)

    heads = ["dates", "cumulative"] if model.output_kind == "dates" else ["cumulative"]
    while state["samples_seen"] < samples:
        eps = eps_at(state["samples_seen"], samples, opts.get("loss_eps_start", opts["loss_eps"]), opts["loss_eps"],
                     opts.get("loss_eps_ramp", 0.5))
        loss = r2_loss(eps)
        # gradient clipping guards against the rare exploding batch (seen once without it: loss 6e6);
        # set on the restored optimizer too, since older checkpoints were saved without it
        model.optimizer.global_clipnorm = opts.get("global_clipnorm")
        model.compile(optimizer=model.optimizer, loss={k: loss for k in heads})   # keeps the optimizer state
        t0 = time.time()
        losses = []
        bar = tqdm(range(spe), desc=f"{kind} epoch {state['epochs'] + 1}", disable=not progress, leave=False)
        for _ in bar:
            step = state["samples_seen"] // bs
            model.optimizer.learning_rate.assign(lr_at(step, total_steps, opts["lr"], opts["warmup_steps"], opts["lr_floor"]))
            x, y = next(data)
            res = model.train_on_batch(x, y, return_dict=True)
            losses.append(res["loss"])
            state["samples_seen"] += bs
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        train_seconds = time.time() - t0
        v = validate(model, val)
        state["epochs"] += 1
        state["wall_seconds"] += time.time() - t0
        entry = {"epoch": state["epochs"], "samples": state["samples_seen"], "loss": round(float(np.mean(losses)), 4),
                 "loss_eps": round(eps, 5),
                 "lr": float(model.optimizer.learning_rate.numpy()), "samples_per_s": round(spe * bs / train_seconds, 1),
                 **v}
        state["log"].append(entry)
        segment.update(end_samples=state["samples_seen"], wall_seconds=round(time.time() - time.mktime(
            time.strptime(segment["started"], "%Y-%m-%d %H:%M:%S")), 1))
        log.info("%s", entry)
        if progress:
            print(json.dumps(entry), flush=True)
        _save(model, state, out, ckpt, state_path, card_path)
    return model, state


def _atomic_write_json(obj, path):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


def _save(model, state, out, ckpt, state_path, card_path):
    tmp = ckpt[:-len(".keras")] + ".tmp.keras"
    model.save(tmp)
    os.replace(tmp, ckpt)
    _atomic_write_json(state, state_path)
    # the shipped file: the same weights in a float32, uncompiled model (portable, no optimizer state)
    tmp_out = out[:-len(".keras")] + ".tmp.keras"
    export_float32(model).save(tmp_out)
    os.replace(tmp_out, out)
    card = {}
    if os.path.isfile(card_path):
        with open(card_path) as f:
            card = json.load(f)
    card.update({
        "name": os.path.basename(out), "kind": state["kind"], "package": "mintpy_dlae",
        "architecture": state["model_config"], "parameters": int(model.count_params()),
        "normalisation": {"series": "x = (w - w[0]) / s, s = sqrt(local 41x41 mean of mean_t (w[t]-w[t-1])^2)",
                          "elevation": "(h - local mean) / max(local std, 20 m), 41x41 box",
                          "output": "deformation of dates 1..8 relative to date 0, times s"},
        "pixel_size_assumption": "sources drawn relative to the patch; trained for pixel sizes 20-120 m",
        "training": {"samples_seen": state["samples_seen"], "epochs": state["epochs"],
                     "wall_seconds": round(state["wall_seconds"], 1), "segments": state["segments"],
                     "options": state["options"], "last_validation": state["log"][-1] if state["log"] else None},
    })
    _atomic_write_json(card, card_path)


def export_float32(model):
    """An uncompiled float32 copy of ``model`` with the same weights."""
    import keras

    from .model import DlaeNet
    old = keras.config.dtype_policy()
    try:
        keras.config.set_dtype_policy("float32")
        clone = DlaeNet.from_config(model.get_config())
    finally:
        keras.config.set_dtype_policy(old)
    clone.set_weights(model.get_weights())
    return clone
