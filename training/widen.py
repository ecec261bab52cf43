"""Widen the Conv2D decoder of a trained model without changing what it computes (Net2Net-style).

    python training/widen.py SRC.keras OUT.keras --filters-2d 96

Every decoder layer gets ``filters_2d`` output channels: the trained channels keep their weights, the
new ones start from the usual He initialisation, and the weights that read the new channels in the
next layer (and in the output head) start at zero, so the widened network gives the same output as
the source (checked on a random batch) while gradients reach the new channels from the first step.
Fine-tune the result with ``training/finetune.py NAME --init OUT.keras --model-config
'{"filters_2d": 96}' ...``.
"""
import argparse
import os

import numpy as np


def rebuild(old, mismatched, **changes):
    """The model ``old`` (loaded) rebuilt with the configuration ``changes``.  Every layer of the new
    model whose weights have the shapes of ``old``'s layer of that name gets the trained weights; for
    the others ``mismatched(name, old_weights, new_weights)`` returns the weights to set."""
    from mintpy_dlae.model import build_model
    cfg = dict(old.get_config())
    for key in ("name", "trainable"):
        cfg.pop(key, None)
    cfg.update(changes)
    new = build_model(**cfg)
    for layer in new.layers:
        try:
            src_layer = old.get_layer(layer.name)
        except ValueError:
            continue
        ws_old, ws_new = src_layer.get_weights(), layer.get_weights()
        if not ws_old:
            continue
        if all(a.shape == b.shape for a, b in zip(ws_old, ws_new)):
            layer.set_weights(ws_old)
        else:
            layer.set_weights(mismatched(layer.name, ws_old, ws_new))
    return new


def max_output_change(old, new, seed=1):
    """Largest |difference| of the per-date mean and log sigma of two models on a random batch."""
    rng = np.random.default_rng(seed)
    x = {"series": rng.standard_normal((2, old.num_dates, 32, 32, old.input_channels)).astype("float32"),
         "elevation": rng.standard_normal((2, 32, 32, 1)).astype("float32")}
    x["series"][..., 1] = 1.0
    return max(float(np.abs(np.asarray(new(x)[k]) - np.asarray(old(x)[k])).max()) for k in ("dates", "dates_log_sigma"))


def widen(src, filters_2d, seed=0):
    import keras

    from mintpy_dlae.model import load_model
    keras.utils.set_random_seed(seed)
    old = load_model(src)
    w_old = int(old.filters_2d)
    if filters_2d <= w_old:
        raise ValueError(f"widen: filters_2d must exceed the source's {w_old}; received {filters_2d}")
    extra = filters_2d - w_old

    def transplant(name, ws_old, ws_new):
        k_old, k_new = ws_old[0], ws_new[0].copy()
        in_old, out_old = k_old.shape[-2:]
        in_new = k_new.shape[-2]
        if in_new == in_old:                   # the first decoder layer: same inputs, more outputs
            pos = np.arange(in_old)
            zero_in = np.array([], int)
        else:                                  # inputs: w_old trained + extra new decoder channels + any tail
            assert in_new - in_old == extra, (name, in_old, in_new)
            pos = np.concatenate([np.arange(w_old), np.arange(w_old + extra, in_new)])
            zero_in = np.arange(w_old, w_old + extra)
        k_new[..., pos, :out_old] = k_old
        k_new[..., zero_in, :] = 0.0           # the new channels are read with zero weights
        weights = [k_new]
        if len(ws_new) > 1:
            b_new = np.zeros_like(ws_new[1])
            b_new[:out_old] = ws_old[1]
            weights.append(b_new)
        return weights

    return old, rebuild(old, transplant, filters_2d=int(filters_2d))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src")
    p.add_argument("out")
    p.add_argument("--filters-2d", type=int, default=96)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    old, new = widen(a.src, a.filters_2d, a.seed)
    d = max_output_change(old, new)
    print(f"widened {a.src} -> {a.out}: filters_2d {old.filters_2d} -> {new.filters_2d}, "
          f"{old.count_params():,} -> {new.count_params():,} parameters, max output change {d:.2e}")
    if d > 1e-4:
        raise SystemExit("widen: the widened network does not reproduce the source")
    from mintpy_dlae.model import export_float32, save_model_atomic
    save_model_atomic(export_float32(new), a.out)


if __name__ == "__main__":
    main()
