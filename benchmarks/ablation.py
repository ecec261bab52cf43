"""Ablation trainings of the v2 recipe (issue 10, item 1): which ingredient matters, measured.

    python benchmarks/ablation.py train [--samples 48000] [--variants v2 paper_histories ...]
    python benchmarks/ablation.py evaluate --json docs/figures/ablation.json [--markdown docs/figures/ablation.md]

``train`` trains every variant from scratch on the fault generator, one after the other, into
``training/ablation/<variant>/<variant>.keras`` (a finished variant is skipped; an interrupted one is
resumed).  Each variant changes one thing of the shipped recipe (``dlae_train.py`` defaults, the
shipped layout); ``v2`` and ``v2_seed1`` are the recipe itself with two seeds, so their difference is
the run-to-run noise at this budget.

``evaluate`` scores every trained variant on
- the independent synthetic family (:func:`mintpy_dlae.evaluate.independent_batch`; Gaussian-covariance
  turbulence and ridge terrain, never used in training) at SNR 0.5, 1 and 2, 256 series each: mean
  and median R² of the cumulative map and 2-sigma coverage;
- signal injection into the detrended real noise of ``tests/data/pyrate_cropA``
  (``benchmarks/injection.py``): the gain at 2x and 5x the noise (Okada and Mogi signals, step and
  steady, with and without a masked core) and, on the noise alone, the output RMS / raw RMS and the
  fraction of pixels with |mean| / sigma > 3.
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)          # benchmarks/injection.py: the real-noise data and cases
ROOT = os.path.join(HERE, "..", "training", "ablation")

# name: (what it tests, model_config overrides, generator overrides, train options)
VARIANTS = {
    "v2": ("the shipped recipe (seed 0)", {}, {}, {}),
    "v2_seed1": ("the shipped recipe (seed 1): run-to-run noise", {}, {}, {"seed": 1}),
    "paper_histories": ("paper-rule histories only: no steady or seasonal motion, closed window",
                        {}, {"steady": 0.0, "seasonal": 0.0, "open_window": 0.0}, {}),
    "no_nodata": ("no no-data (masked cores, holes, edges) in training", {}, {"nodata": 0.0}, {}),
    "paper_snr": ("strength drawn by the paper's patch-mean SNR only (no peak-SNR draws)",
                  {}, {"peak_fraction": 0.0}, {}),
    "mse_mean": ("beta-NLL with beta 1: the mean gets the plain MSE gradient", {}, {}, {"beta": 1.0}),
    "nll": ("plain Gaussian NLL (beta 0)", {}, {}, {"beta": 0.0}),
    "cumulative_head": ("one cumulative map (mean, sigma) instead of one per date", {"output": "cumulative"}, {}, {}),
    "compact_sources": ("compact sources only: fault length, width, depth and Mogi depth bounds x 0.25",
                        {}, {"source_extent": 0.25}, {}),
    "narrow_view": ("no dilation in the decoder: receptive radius 11 px instead of 26",
                    {"dilations": [1, 1, 1, 1, 1, 1, 1]}, {}, {}),
    # a second, precision-matched pair for the no-data question: the variants above trained in
    # bfloat16 on another CPU; these two train in float32 on one machine, with a seed of their own
    "v2_f32": ("the shipped recipe (seed 2, float32)", {}, {}, {"seed": 2, "precision": "float32"}),
    "no_nodata_f32": ("no no-data in training (seed 2, float32)", {}, {"nodata": 0.0},
                      {"seed": 2, "precision": "float32"}),
    # the two suspects of the first models, against v2_f32 (same seed, precision and budget)
    "local_norm_f32": ("the first models' normalisation: a per-pixel noise scale over a 41 px box instead of "
                       "one per window (seed 2, float32)", {"scale_box": 41}, {}, {"seed": 2, "precision": "float32"}),
    "r2_loss_f32": ("the first models' R²-type loss on the means (noise floor 1 -> 1e-4 over 70 % of the "
                    "budget), sigma by the NLL around the detached means (seed 2, float32)", {}, {},
                    {"seed": 2, "precision": "float32", "loss": "r2"}),
    # a second pair with another data seed for the one with a difference near the run-to-run noise
    "v2_f32_s3": ("the shipped recipe (seed 3, float32)", {}, {}, {"seed": 3, "precision": "float32"}),
    "local_norm_f32_s3": ("per-pixel noise scale over a 41 px box (seed 3, float32)", {"scale_box": 41}, {},
                          {"seed": 3, "precision": "float32"}),
    # a third pair for the no-data question, whose first two pairs disagree in sign (against v2_f32_s3)
    "no_nodata_f32_s3": ("no no-data in training (seed 3, float32)", {}, {"nodata": 0.0},
                         {"seed": 3, "precision": "float32"}),
    # the dilated decoder, kept on one bfloat16 pair: a float32 pair (against v2_f32_s3)
    "narrow_view_f32_s3": ("no dilation in the decoder (seed 3, float32)", {"dilations": [1, 1, 1, 1, 1, 1, 1]},
                           {}, {"seed": 3, "precision": "float32"}),
}


def model_path(name):
    return os.path.join(ROOT, name, f"{name}.keras")


def cmd_train(args):
    from mintpy_dlae.train import train
    for name in args.variants:
        what, config, gen, opts = VARIANTS[name]
        out = model_path(name)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        stem = os.path.splitext(out)[0]
        state = os.path.join(stem + "_ckpt", "state.json")
        if os.path.isfile(state) and json.load(open(state))["samples_seen"] >= args.samples:
            print(f"{name}: done", flush=True)
            continue
        t0 = time.time()
        print(f"{name}: {what}", flush=True)
        train("fault", out, samples=args.samples, resume=os.path.isfile(state), model_config=config,
              generator=gen, progress=False, val_size=128, **opts)
        print(f"{name}: trained in {time.time() - t0:.0f} s", flush=True)


def score(path, noise, height, valid, per_level):
    import numpy as np

    from mintpy_dlae import evaluate
    from mintpy_dlae.inference import predict_windows
    from mintpy_dlae.model import load_model
    model = load_model(path)
    out = {}
    for snr, batch in evaluate.test_set("fault", levels=3, per_level=per_level, snr_range=(0.5, 2.0)):
        pred = predict_windows(model, batch.noisy, batch.elevation)
        r2 = evaluate.r2_per_sample(pred.cumulative, batch.cumulative)
        out[f"r2_snr_{snr:g}"] = round(float(r2.mean()), 3)
        out[f"median_r2_snr_{snr:g}"] = round(float(np.median(r2)), 3)
        cover = np.abs(pred.cumulative - batch.cumulative) <= 2 * pred.cumulative_std
        out[f"coverage_snr_{snr:g}"] = round(float(cover.mean()), 3)
    from injection import measure
    rows, nz = measure(model, noise, height, valid, factors=(2.0, 5.0))
    for f in (2.0, 5.0):
        for hist in ("step", "steady"):
            g = [r["gain"] for r in rows if r["factor"] == f and r["history"] == hist and not r["core"]]
            out[f"gain_{f:g}x_{hist}"] = round(float(sum(g) / len(g)), 3)      # mean of the Okada and Mogi gains
        g = [r["gain"] for r in rows if r["factor"] == f and r["core"]]
        out[f"gain_{f:g}x_core"] = round(float(sum(g) / len(g)), 3)
    out["noise_rms_ratio"] = round(nz["rms_ratio"], 3)
    out["noise_above_3sigma"] = round(nz["fraction_significant"], 4)
    return out


COLUMNS = ["median_r2_snr_0.5", "median_r2_snr_1", "median_r2_snr_2", "r2_snr_1", "coverage_snr_1", "gain_2x_step",
           "gain_2x_steady", "gain_2x_core", "gain_5x_step", "gain_5x_steady", "gain_5x_core", "noise_rms_ratio",
           "noise_above_3sigma"]


def markdown(results):
    """The table of docs/evaluation.md (with its check_docs source marker), then what each variant changes."""
    lines = ["<!-- source: docs/figures/ablation.json -->", "",
             "| variant | " + " | ".join(f"`{c}`" for c in COLUMNS) + " |", "|" + "---|" * (len(COLUMNS) + 1)]
    for name, r in results.items():
        lines.append(f"| `{name}` | " + " | ".join(f"{r[c]:.2f}" if c != "noise_above_3sigma" else f"{r[c]:.3f}"
                                                    for c in COLUMNS) + " |")
    lines.append("")
    lines += [f"- `{name}`: {VARIANTS[name][0]}" for name in results]
    return "\n".join(lines) + "\n"


def cmd_evaluate(args):
    from injection import load
    noise, height, valid = load()
    results = json.load(open(args.json)) if os.path.isfile(args.json) else {}
    for name in args.variants:
        path = model_path(name)
        if not os.path.isfile(path):
            print(f"{name}: not trained, skipped", flush=True)
            continue
        card = json.load(open(os.path.splitext(path)[0] + ".json"))
        r = score(path, noise, height, valid, args.per_level)
        r["samples"] = card["training"]["samples_seen"]
        results[name] = r
        print(name, json.dumps(r), flush=True)
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(results, f, indent=1)
        os.replace(tmp, args.json)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown({k: results[k] for k in VARIANTS if k in results}))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--samples", type=int, default=48_000)
    t.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    e = sub.add_parser("evaluate")
    e.add_argument("--json", required=True)
    e.add_argument("--markdown", default=None)
    e.add_argument("--per-level", type=int, default=256)
    e.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = p.parse_args(argv)
    return cmd_train(args) if args.cmd == "train" else cmd_evaluate(args)


if __name__ == "__main__":
    sys.exit(main())
