"""Give a trained model the elevation channels of its first layer without changing what it computes.

    python training/add_elevation_features.py SRC.keras OUT.keras
    python training/add_elevation_features.py --stratified SRC.keras OUT.keras

The model is rebuilt with ``elevation_features=True`` (:class:`mintpy_dlae.model.ElevationChannels`:
the standardised elevation h and the product x h appended to every date of the series): every layer
keeps its trained weights, and the first Conv3D layer reads the two new channels with zero weights,
so the output is that of the source (checked on a random batch) while the gradients reach the new
weights from the first step.  Fine-tune the result with ``training/finetune.py NAME --init OUT.keras
--model-config '{"elevation_features": true}' ...``.

With ``--stratified`` the model gets the local phase/elevation estimate instead
(:class:`mintpy_dlae.model.StratifiedEstimate`, ``stratified_estimate=True``): one more channel per
date at the first layer and one more per date at the decoder's first layer (the input-date skip),
both read with zero weights; fine-tune with ``--model-config '{"stratified_estimate": true}'``.

    python training/add_elevation_features.py --weights MODEL.keras

prints the RMS of the first layer's weights on each input channel (phase, validity, h, x h, or the
phase/elevation estimate), and for the estimate also the first decoder layer's weights on the dates
and estimates of the input-date skip: how far a fine-tune has taken up the new channels.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from widen import max_output_change, rebuild  # noqa: E402


def zero_start(name, ws_old, ws_new):
    """The weights of a layer whose inputs gained channels at the end: the trained kernel on the old
    input channels, zeros on the new ones (the kernel's input axis is its second to last)."""
    k_new = np.zeros_like(ws_new[0])
    k_new[..., :ws_old[0].shape[-2], :] = ws_old[0]
    return [k_new] + ws_old[1:]


def add_elevation_features(src, what="elevation_features"):
    """(old, new): the model file ``src`` and the same network with ``what`` ("elevation_features" or
    "stratified_estimate") switched on, every new input channel read with zero weights."""
    from mintpy_dlae.model import load_model
    old = load_model(src)
    if getattr(old, what):
        raise ValueError(f"add_elevation_features: {src} already has {what}")
    return old, rebuild(old, zero_start, **{what: True})


def _loaded(model):
    """A loaded model: ``model`` itself, or the model file it names."""
    from mintpy_dlae.model import load_model
    return load_model(model) if isinstance(model, (str, os.PathLike)) else model


def input_weight_rms(model):
    """RMS of the first Conv3D layer's kernel over each input channel: a list, one per channel
    (``model``: a loaded model or a model file)."""
    k = _loaded(model).get_layer("conv1").get_weights()[0]
    return [float(np.sqrt(np.mean(k[..., c, :] ** 2))) for c in range(k.shape[-2])]


def skip_weight_rms(model):
    """For a model with the phase/elevation channel and the input-date skip: the RMS of the first
    decoder layer's kernel over the T input dates and over the T phase/elevation estimates that the
    skip appends after the encoder's features, (dates, estimates); None for other models (``model``:
    a loaded model or a model file)."""
    net = _loaded(model)
    if not (net.stratified_estimate and net.raw_skip):
        return None
    k = net.get_layer(f"conv{net.num_conv3d + 1}").get_weights()[0]      # (3, 3, F + 2 T, G)
    T = net.num_dates
    return (float(np.sqrt(np.mean(k[..., -2 * T:-T, :] ** 2))), float(np.sqrt(np.mean(k[..., -T:, :] ** 2))))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src", nargs="?")
    p.add_argument("out", nargs="?")
    p.add_argument("--weights", metavar="MODEL", help="print the first layer's weight RMS per input channel")
    p.add_argument("--stratified", action="store_true", help="add the phase/elevation estimate instead")
    a = p.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if a.weights:
        net = _loaded(a.weights)
        names = ["phase", "validity"][:net.input_channels]
        names += ["h", "x h"] if net.elevation_features else []
        names += ["phase/elevation"] if net.stratified_estimate else []
        rms = input_weight_rms(net)
        print(", ".join(f"{n}: {r:.4f}" for n, r in zip(names, rms)))
        skip = skip_weight_rms(net)
        if skip:
            print(f"first decoder layer: input dates {skip[0]:.4f}, phase/elevation estimates {skip[1]:.4f}")
        return
    if not (a.src and a.out):
        p.error("give SRC and OUT, or --weights MODEL")
    from mintpy_dlae.model import save_model_atomic
    old, new = add_elevation_features(a.src, "stratified_estimate" if a.stratified else "elevation_features")
    d = max_output_change(old, new)
    if d > 1e-4:
        raise SystemExit(f"add_elevation_features: the output changed by {d:.2e}")
    save_model_atomic(new, a.out)
    print(f"{a.src} -> {a.out}: {old.count_params():,} -> {new.count_params():,} parameters, "
          f"max output change {d:.2e}")


if __name__ == "__main__":
    main()
