"""Average the weights of runs fine-tuned from one parent (a "model soup", Wortsman et al. 2022,
ICML, arXiv:2203.05482: the uniform soup of fine-tunes that share their initialisation).

    python training/soup.py mogi_sa training/mogi_fd/mogi_fd.keras training/mogi_fh/mogi_fh.keras

Writes training/NAME/NAME.keras (float32, sigma_scale 1: calibrate it again with
``dlae_evaluate.py --calibrate-sigma``) and its card, whose ``lineage.soup_of`` names the
ingredients and whose training totals are the ingredients' (a soup costs no training).
The network has no normalisation layers, so the averaged weights need no statistics pass.
Raises ValueError when the ingredients' layouts differ.
"""
import argparse
import os


def soup(models, out, weights=None):
    """Write the weight average of ``models`` (.keras paths, one layout) to ``out`` and its card.

    ``weights``: mixing weights (default uniform; normalised to sum 1).  Returns the soup (a DlaeNet).
    Raises ValueError when the layouts differ or the weights are not ``len(models)`` non-negative
    numbers with a positive sum.
    """
    import numpy as np

    from mintpy_dlae.model import (DlaeNet, atomic_write_json, export_float32, load_model, read_model_card,
                                   save_model_atomic)
    nets = [load_model(m) for m in models]
    configs = [dict(n.get_config(), sigma_scale=1.0) for n in nets]
    first = {k: v for k, v in configs[0].items() if k != "name"}
    for m, c in zip(models[1:], configs[1:]):
        if {k: v for k, v in c.items() if k != "name"} != first:
            raise ValueError(f"{m}: layout differs from {models[0]}")
    w = np.ones(len(nets)) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (len(nets),) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"weights {weights!r}: need {len(nets)} non-negative numbers with a positive sum")
    w = w / w.sum()
    layers = [n.get_weights() for n in nets]
    mean = [sum(wi * ws[j] for wi, ws in zip(w, layers)).astype(layers[0][j].dtype) for j in range(len(layers[0]))]
    net = DlaeNet.from_config(configs[0])
    net.set_weights(mean)
    save_model_atomic(export_float32(net), out)
    cards = [read_model_card(m) for m in models]
    card = {k: v for k, v in cards[0].items() if k not in ("training", "evaluation", "evaluation_augment8",
                                                             "sigma_calibration", "lineage", "training_run")}
    card["name"] = os.path.basename(out)
    card.setdefault("architecture", {})["sigma_scale"] = 1.0
    totals = {k: sum(c.get("training", {}).get(k, 0) for c in cards)
              for k in ("samples_seen_total", "wall_seconds_total", "cpu_hours_total")}
    card["training"] = dict(totals, soup=True, note="weight average (lineage.mixing_weights); no training of its own; "
                            "the totals add the ingredients' (each counts the shared parent again)")
    card["lineage"] = {"soup_of": [os.path.basename(m) for m in models],
                       "mixing_weights": [round(float(x), 4) for x in w],
                       "method": "Wortsman et al. 2022, model soups (arXiv:2203.05482)"}
    atomic_write_json(card, out[:-len(".keras")] + ".json")
    return net


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name")
    p.add_argument("models", nargs="+", help=".keras files of runs with one parent and one layout")
    p.add_argument("--weights", default=None, help="comma-separated mixing weights (default uniform)")
    a = p.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    os.makedirs(os.path.join(here, a.name), exist_ok=True)
    out = os.path.join(here, a.name, a.name + ".keras")
    soup(a.models, out, None if a.weights is None else [float(x) for x in a.weights.split(",")])
    print(out)


if __name__ == "__main__":
    main()
