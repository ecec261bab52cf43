"""Figures (matplotlib, Agg backend).

    python -m mintpy_dlae.plot examples --kind fault -o docs/figures/examples_fault.png
    python -m mintpy_dlae.plot learning-curves training/base/base_ckpt/state.json training/fault/fault_ckpt/state.json \
        -o docs/figures/learning_curves.png
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
        ax.set_xscale("log")
        ax.set_xlabel("training samples")
        ax.set_ylabel("mean validation R² (dotted: all-zero)")
        kind = state["kind"]
        label = " + ".join(kind) + " mix" if isinstance(kind, dict) else kind
        ax.set_title(f"{label} model, {state['samples_seen']:,} samples", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png


def plot_injection(model, noise, elevation, valid, center, factor=5.0, out_png="injection.png", title=""):
    """Signal injection into real noise, one row per case (Mogi / Okada x step / steady x core masked
    or not, at ``factor`` times the cumulative-map noise std): injected cumulative map, raw cumulative
    map of noise + signal, denoised mean, its sigma, and the significance |mean| / sigma."""
    from .inference import denoise
    from .injection import history, mask_core, signal_map
    plt = _plt()
    cases = [(k, h, c) for k in ("mogi", "fault") for h in ("step", "steady") for c in (False, True)]
    fig, axes = plt.subplots(len(cases), 5, figsize=(13, 2.1 * len(cases)))
    std = float((noise[-1] - noise[0])[valid].std())
    for row, (kind, hist, core) in zip(axes, cases):
        shape = signal_map(kind, noise.shape[1:], center)
        v = mask_core(valid, shape) if core else valid
        truth = factor * std * shape
        data = np.where(v[None], noise + history(hist, len(noise))[:, None, None] * truth[None], 0.0).astype(np.float32)
        res = denoise(data, elevation, model=model, mask=v)
        raw = np.where(v, data[-1] - data[0], np.nan)
        lim = 1e3 * np.abs(truth).max()
        panels = [(1e3 * np.where(v, truth, np.nan), "injected (mm)", "RdBu_r", (-lim, lim)),
                  (1e3 * raw, "raw cumulative (mm)", "RdBu_r", (-lim, lim)),
                  (1e3 * res.cumulative[0], "DLAE mean (mm)", "RdBu_r", (-lim, lim)),
                  (1e3 * res.cumulative_std[0], "DLAE sigma (mm)", "magma", (0, lim / 2)),
                  (res.significance[0], "|mean| / sigma", "viridis", (0, 6))]
        for ax, (img, name, cmap, (lo, hi)) in zip(row, panels):
            im = ax.imshow(img, cmap=cmap, vmin=lo, vmax=hi)
            ax.set_xticks([])
            ax.set_yticks([])
            fig.colorbar(im, ax=ax, shrink=0.8)
            ax.set_title(name, fontsize=8)
        row[0].set_ylabel(f"{kind}, {hist}\n{'core masked' if core else 'no mask'}", fontsize=8)
    fig.suptitle(title or f"signal injection at {factor:g}x the cumulative noise std ({1e3 * std:.1f} mm)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
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
    inps = p.parse_args(iargs)
    if inps.figure == "examples":
        print(plot_examples(inps.kind, seed=inps.seed, out_png=inps.output))
    elif inps.figure == "learning-curves":
        print(plot_learning_curves(inps.state_files, out_png=inps.output))


if __name__ == "__main__":
    main()
