"""Figures (matplotlib, Agg backend).

    python -m mintpy_dlae.plot examples --kind fault -o docs/figures/examples_fault.png
    python -m mintpy_dlae.plot learning-curves pretrained/fault_ckpt/state.json pretrained/mogi_ckpt/state.json \
        -o docs/figures/learning_curves.png
    python -m mintpy_dlae.plot inventions pretrained/fault.keras --kind fault -o docs/figures/inventions_fault.png
"""
import argparse

import numpy as np


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_examples(kind="fault", snrs=(0.05, 0.2, 1.0, 5.0), seed=1, out_png="examples.png"):
    """Grid like the paper's Fig. 1 (top): per SNR, the noisy last frame, the clean cumulative
    deformation and the elevation of one synthetic series."""
    from . import synthetic
    plt = _plt()
    fig, axes = plt.subplots(3, len(snrs), figsize=(2.6 * len(snrs), 7.6))
    for j, snr in enumerate(snrs):
        b = synthetic.generate(1, kind=kind, rng=seed + j, snr=snr)
        noisy = (b.noisy[0, -1] - b.noisy[0, 0]) * 1e3
        cum = b.cumulative[0] * 1e3
        vmax = np.abs(cum).max()
        for i, (img, cmap, title, lim) in enumerate([
                (noisy, "RdBu_r", f"noisy, last - first (SNR {snr:g})", np.abs(noisy).max()),
                (cum, "RdBu_r", "clean cumulative deformation", vmax),
                (b.elevation[0], "terrain", "elevation", None)]):
            ax = axes[i, j]
            kw = dict(vmin=-lim, vmax=lim) if lim is not None else {}
            im = ax.imshow(img, cmap=cmap, **kw)
            ax.set_title(title, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
            fig.colorbar(im, ax=ax, shrink=0.8, label="mm" if i < 2 else "m")
    fig.suptitle(f"synthetic {kind} series (9 dates, 40 x 40 px; LOS mm)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png


def plot_learning_curves(state_files, out_png="learning_curves.png"):
    """Validation R² of the cumulative map per SNR bin against samples seen, from training logs
    (``<model>_ckpt/state.json``), with the all-zero prediction's level dashed."""
    import json
    plt = _plt()
    fig, axes = plt.subplots(1, len(state_files), figsize=(5.2 * len(state_files), 3.8), squeeze=False)
    for ax, path in zip(axes[0], state_files):
        with open(path) as f:
            state = json.load(f)
        log = state["log"]
        samples = [e["samples"] for e in log]
        bins = [k[len("r2_snr_"):] for k in log[-1] if k.startswith("r2_snr_")]
        for i, b in enumerate(bins):
            c = plt.cm.viridis(i / max(1, len(bins) - 1))
            ax.plot(samples, [e.get(f"r2_snr_{b}", np.nan) for e in log], color=c, label=f"SNR {b}")
            ax.plot(samples, [e.get(f"zero_snr_{b}", np.nan) for e in log], color=c, ls=":", lw=0.8)
        ax.set_ylim(-5, 1)
        ax.set_xlabel("training samples")
        ax.set_ylabel("mean validation R² (dotted: all-zero)")
        ax.set_title(f"{state['kind']} model", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png


def plot_inventions(model, kind="fault", snr=0.01, n=64, seed=31337, worst=4, out_png="inventions.png"):
    """The network's worst inventions on near-noise series (the first calibration level): per row,
    the noisy cumulative map, the elevation, the ungated output, the output of the pass without
    the local phase/elevation fit (what the calibration gate measures) and the truth."""
    from . import dataset, synthetic
    from .evaluate import r2_per_sample
    from .inference import gate_signal, predict_windows, prepare_model
    from .model import load_model
    net = load_model(model)
    b = synthetic.generate(n, kind=kind, rng=seed, snr=float(snr))
    _, cum = predict_windows(net, b.noisy, b.elevation, calibrate=False)
    _, s, valid = dataset.model_inputs(b.noisy, b.elevation)
    gate = gate_signal(prepare_model(net)[1], b.noisy, b.elevation, s, valid) * s
    r2 = r2_per_sample(cum, b.cumulative)
    rows = np.argsort(r2)[:worst]
    plt = _plt()
    fig, axes = plt.subplots(len(rows), 5, figsize=(14, 2.6 * len(rows)), squeeze=False)
    for ax, i in zip(axes, rows):
        noisy = (b.noisy[i, -1] - b.noisy[i, 0]) * 1e3
        lim = np.abs(noisy).max()
        panels = [(noisy, f"noisy cumulative; R² of output {r2[i]:.0f}", lim),
                  (b.elevation[i], "elevation (m)", None), (cum[i] * 1e3, "network output", lim),
                  (gate[i] * 1e3, "output without phase/elev. fit", lim), (b.cumulative[i] * 1e3, "truth", None)]
        for a, (img, title, v) in zip(ax, panels):
            im = a.imshow(img, cmap="terrain" if "elevation" in title else "RdBu_r",
                          vmin=None if v is None else -v, vmax=v)
            a.set_title(title, fontsize=7)
            a.set_xticks([]), a.set_yticks([])
            fig.colorbar(im, ax=a, shrink=0.8)
    fig.suptitle(f"{kind} model: worst {len(rows)} of {n} series at SNR {snr} (maps in mm)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png


def main(iargs=None):
    p = argparse.ArgumentParser(prog="python -m mintpy_dlae.plot", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="figure", required=True)
    ex = sub.add_parser("examples", help="grid of synthetic samples at several SNRs")
    ex.add_argument("--kind", default="fault", choices=["fault", "mogi"])
    ex.add_argument("--seed", type=int, default=1)
    ex.add_argument("-o", "--output", default="examples.png")
    lc = sub.add_parser("learning-curves", help="validation R² per SNR bin against samples (training logs)")
    lc.add_argument("state_files", nargs="+", help="<model>_ckpt/state.json files")
    lc.add_argument("-o", "--output", default="learning_curves.png")
    iv = sub.add_parser("inventions", help="worst outputs on near-noise series, with the gate's view")
    iv.add_argument("model", help="fault / mogi / path to a .keras file")
    iv.add_argument("--kind", default="fault", choices=["fault", "mogi"])
    iv.add_argument("-o", "--output", default="inventions.png")
    inps = p.parse_args(iargs)
    if inps.figure == "examples":
        print(plot_examples(inps.kind, seed=inps.seed, out_png=inps.output))
    elif inps.figure == "learning-curves":
        print(plot_learning_curves(inps.state_files, out_png=inps.output))
    elif inps.figure == "inventions":
        print(plot_inventions(inps.model, inps.kind, out_png=inps.output))


if __name__ == "__main__":
    main()
