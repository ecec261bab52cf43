"""Accuracy of cheaper architecture variants at an equal, small training budget.

    python benchmarks/variants.py --samples 9600 --levels 10 --per-level 32 -o docs/variants.json

Each variant of ``benchmarks/train_speed.py`` is trained from scratch on the fault generator with
the shipped recipe (``dlae_train.py`` defaults, the loss/learning-rate schedules scaled to the
budget), then evaluated with a reduced version of the paper's protocol.  Speed is measured
separately by ``train_speed.py`` (this script runs next to other work; its timings are not clean).
"""
import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from train_speed import VARIANTS  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variants", nargs="+", default=["default", "paper", "lite32", "separable", "small"])
    p.add_argument("--samples", type=int, default=9600)
    p.add_argument("--levels", type=int, default=10)
    p.add_argument("--per-level", type=int, default=32)
    p.add_argument("-o", "--output", default="variants.json")
    a = p.parse_args()
    from mintpy_dlae import evaluate
    from mintpy_dlae.train import train
    results = json.load(open(a.output)) if os.path.isfile(a.output) else {}
    for name in a.variants:
        if name in results:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.time()
            model, state = train("fault", os.path.join(tmp, f"{name}.keras"), samples=a.samples,
                                 model_config=VARIANTS[name], progress=False, val_size=64)
            wall = time.time() - t0
            table = evaluate.evaluate_model(model, kind="fault", levels=a.levels, per_level=a.per_level,
                                            baselines=("zero", "raw"), progress=False)
        results[name] = {"params": int(model.count_params()), "samples": state["samples_seen"],
                         "train_wall_s": round(wall), "table": table, "summary": evaluate.summarise(table)}
        with open(a.output, "w") as f:
            json.dump(results, f, indent=1)
        print(name, json.dumps(results[name]["summary"]["model"]), flush=True)


if __name__ == "__main__":
    main()
