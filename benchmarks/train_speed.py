"""Training throughput (samples/s) of network layouts on this CPU, model alone (fixed random batch).

    python benchmarks/train_speed.py                  # all layouts, auto precision (bf16 where supported)
    python benchmarks/train_speed.py --precision float32 --variants shipped wide_encoder

Each layout is the shipped v2 network (``model.shipped_config()``: mean and log sigma per date,
beta-NLL loss, two input channels) with one change.  Accuracy at an equal training budget is measured
by ``benchmarks/ablation.py``; this script gives the cost side (samples per second, parameters,
FLOPs per pixel-window from ``benchmarks/large_frame.py``'s analytic count).  Every layout runs its
dilated convolutions natively, as ``train.py`` does (``model.use_native_dilation``), except
``keras_dilation``, which measures what that saves.
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = os.path.dirname(os.path.abspath(__file__))

VARIANTS = {
    "shipped": {},                                        # 32 Conv3D filters, dilated decoder
    "wide_encoder": {"filters": 64},                      # the paper's encoder width
    "cumulative_head": {"output": "cumulative"},          # one map (mean, sigma) per window
    "keras_dilation": {"native_dilation": False},         # shipped, dilated layers run as Keras does
}


def measure(config, precision, batch_size=32, steps=15, size=40):
    import keras
    import numpy as np

    from mintpy_dlae.inference import resolve_precision
    from mintpy_dlae.model import build_model, shipped_config, use_native_dilation
    from mintpy_dlae.train import nll_loss
    keras.config.set_dtype_policy("mixed_bfloat16" if resolve_precision(precision) == "bfloat16" else "float32")
    config = dict(config)
    native = config.pop("native_dilation", True)          # training runs them natively (train.py)
    model = build_model(**dict(shipped_config(), **config))
    if native:
        use_native_dilation(model, training=True)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss={"dist": nll_loss()})
    k = 8 if model.output_kind == "dates" else 1
    rng = np.random.default_rng(0)
    x = {"series": rng.standard_normal((batch_size, 9, size, size, 2), dtype=np.float32),
         "elevation": rng.standard_normal((batch_size, size, size, 1), dtype=np.float32)}
    y = np.concatenate([rng.standard_normal((batch_size, size, size, k), dtype=np.float32),
                        np.ones((batch_size, size, size, 1), np.float32)], axis=-1)
    for _ in range(3):
        model.train_on_batch(x, {"dist": y})
    t0 = time.time()
    for _ in range(steps):
        model.train_on_batch(x, {"dist": y})
    sys.path.insert(0, HERE)
    from large_frame import conv_flops_per_pixel_window
    return batch_size * steps / (time.time() - t0), model.count_params(), conv_flops_per_pixel_window(model)[0]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--precision", default="auto")
    p.add_argument("--steps", type=int, default=15)
    a = p.parse_args()
    from mintpy_dlae.train import cpu_name
    for name in a.variants:
        sps, params, flops = measure(VARIANTS[name], a.precision, steps=a.steps)
        print(json.dumps({"variant": name, "params": params, "mflop_per_pixel_window": round(flops / 1e6, 3),
                          "precision": a.precision, "samples_per_s": round(sps, 1), "cpu": cpu_name(),
                          "cores": os.cpu_count()}), flush=True)


if __name__ == "__main__":
    main()
