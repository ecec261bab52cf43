"""Training throughput (samples/s) of model variants on this CPU, model alone (fixed batch).

    python benchmarks/train_speed.py                 # all variants, auto precision
    python benchmarks/train_speed.py --precision float32 --variants paper default
"""
import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

VARIANTS = {
    "paper": dict(filters=64, filters_2d=64, elevation_layer=11, output="cumulative"),   # 482,185 params
    "default": dict(filters=64, filters_2d=64),                                           # shipped layout
    "lite32": dict(filters=32, filters_2d=64),
    "separable": dict(filters=64, filters_2d=64, separable_time=True),
    "small": dict(filters=32, filters_2d=32),
}


def measure(config, precision, batch_size=32, steps=15, size=40):
    import keras
    import numpy as np

    from mintpy_dlae.inference import resolve_precision
    from mintpy_dlae.model import build_model
    from mintpy_dlae.train import r2_loss
    keras.config.set_dtype_policy("mixed_bfloat16" if resolve_precision(precision) == "bfloat16" else "float32")
    model = build_model(**config)
    loss = r2_loss(1e-3)
    heads = ["dates", "cumulative"] if model.output_kind == "dates" else ["cumulative"]
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss={k: loss for k in heads})
    rng = np.random.default_rng(0)
    x = {"series": rng.standard_normal((batch_size, 9, size, size, 1), dtype=np.float32),
         "elevation": rng.standard_normal((batch_size, size, size, 1), dtype=np.float32)}
    y = {"dates": rng.standard_normal((batch_size, size, size, 8), dtype=np.float32),
         "cumulative": rng.standard_normal((batch_size, size, size, 1), dtype=np.float32)}
    y = {k: y[k] for k in heads}
    for _ in range(3):
        model.train_on_batch(x, y)
    t0 = time.time()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return batch_size * steps / (time.time() - t0), model.count_params()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS))
    p.add_argument("--precision", default="auto")
    p.add_argument("--steps", type=int, default=15)
    a = p.parse_args()
    from mintpy_dlae.train import cpu_name
    for name in a.variants:
        sps, params = measure(VARIANTS[name], a.precision, steps=a.steps)
        print(json.dumps({"variant": name, "params": params, "precision": a.precision, "samples_per_s": round(sps, 1),
                          "cpu": cpu_name(), "cores": os.cpu_count()}), flush=True)


if __name__ == "__main__":
    main()
