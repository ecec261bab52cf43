"""Give a trained model the elevation channels of its first layer without changing what it computes.

    python training/add_elevation_features.py SRC.keras OUT.keras

The model is rebuilt with ``elevation_features=True`` (:class:`mintpy_dlae.model.ElevationChannels`:
the standardised elevation h and the product x h appended to every date of the series): every layer
keeps its trained weights, and the first Conv3D layer reads the two new channels with zero weights,
so the output is that of the source (checked on a random batch) while the gradients reach the new
weights from the first step.  Fine-tune the result with ``training/finetune.py NAME --init OUT.keras
--model-config '{"elevation_features": true}' ...``.

    python training/add_elevation_features.py --weights MODEL.keras

prints the RMS of the first layer's weights on each input channel (phase, validity, h, x h): how far
a fine-tune has taken up the new channels.
"""
import argparse
import os

import numpy as np


def add_elevation_features(src):
    from mintpy_dlae.model import build_model, load_model
    old = load_model(src)
    cfg = dict(old.get_config())
    for key in ("name", "trainable"):
        cfg.pop(key, None)
    if cfg.get("elevation_features"):
        raise ValueError(f"add_elevation_features: {src} already has them")
    cfg["elevation_features"] = True
    new = build_model(**cfg)
    for layer in new.layers:
        try:
            src_layer = old.get_layer(layer.name)
        except ValueError:
            continue
        ws_old, ws_new = src_layer.get_weights(), layer.get_weights()
        if all(a.shape == b.shape for a, b in zip(ws_old, ws_new)):
            layer.set_weights(ws_old)
            continue
        k_new = np.zeros_like(ws_new[0])               # (3, 3, 3, C + 2, F): the new inputs read with 0
        k_new[..., :ws_old[0].shape[-2], :] = ws_old[0]
        layer.set_weights([k_new] + ws_old[1:])
    return old, new


def input_weight_rms(path):
    """RMS of the first Conv3D layer's kernel over each input channel: a list, one per channel."""
    from mintpy_dlae.model import load_model
    k = load_model(path).get_layer("conv1").get_weights()[0]
    return [float(np.sqrt(np.mean(k[..., c, :] ** 2))) for c in range(k.shape[-2])]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src", nargs="?")
    p.add_argument("out", nargs="?")
    p.add_argument("--weights", metavar="MODEL", help="print the first layer's weight RMS per input channel")
    a = p.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if a.weights:
        names = ["phase", "validity", "h", "x h"]
        rms = input_weight_rms(a.weights)
        print(", ".join(f"{n}: {r:.4f}" for n, r in zip(names, rms)))
        return
    if not (a.src and a.out):
        p.error("give SRC and OUT, or --weights MODEL")
    from mintpy_dlae.model import save_model_atomic
    old, new = add_elevation_features(a.src)
    rng = np.random.default_rng(1)
    x = {"series": rng.standard_normal((2, old.num_dates, 32, 32, old.input_channels)).astype("float32"),
         "elevation": rng.standard_normal((2, 32, 32, 1)).astype("float32")}
    x["series"][..., 1] = 1.0
    d = max(float(np.abs(np.asarray(new(x)[k]) - np.asarray(old(x)[k])).max()) for k in ("dates", "dates_log_sigma"))
    if d > 1e-4:
        raise SystemExit(f"add_elevation_features: the output changed by {d:.2e}")
    save_model_atomic(new, a.out)
    print(f"{a.src} -> {a.out}: {old.count_params():,} -> {new.count_params():,} parameters, "
          f"max output change {d:.2e}")


if __name__ == "__main__":
    main()
