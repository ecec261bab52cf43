"""Figures (matplotlib, Agg backend).

    python -m mintpy_dlae.plot examples --kind fault -o docs/figures/examples_fault.png
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


def main(iargs=None):
    p = argparse.ArgumentParser(prog="python -m mintpy_dlae.plot", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="figure", required=True)
    ex = sub.add_parser("examples", help="grid of synthetic samples at several SNRs")
    ex.add_argument("--kind", default="fault", choices=["fault", "mogi"])
    ex.add_argument("--seed", type=int, default=1)
    ex.add_argument("-o", "--output", default="examples.png")
    inps = p.parse_args(iargs)
    if inps.figure == "examples":
        print(plot_examples(inps.kind, seed=inps.seed, out_png=inps.output))


if __name__ == "__main__":
    main()
