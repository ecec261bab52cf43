"""Fine-tune a trained model with generator overrides (the runs of training/README.md that
``dlae_train.py`` has no flags for).

    python training/finetune.py NAME --kinds mogi=0.6,fault=0.4 --init training/fault_next/fault_next.keras \
        --samples 120000 --lr 3e-4 --generator '{"keep_flat": 0.3, "offset_free": 0.2}'
    python training/finetune.py NAME --samples 200000 --resume        # continue (options kept)

Writes training/NAME/NAME.keras, its card and NAME_ckpt/ (resumable).
"""
import argparse
import json
import logging
import os


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name")
    p.add_argument("--kinds", default="fault", help="a kind, or kind=fraction,... (default fault)")
    p.add_argument("--init", default=None, help=".keras model whose weights start the run")
    p.add_argument("--samples", type=int, required=True, help="total samples of the run (schedule length)")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--generator", default="{}", help="JSON overrides of dataset.GENERATOR_OPTIONS")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--batch-size", type=int, default=None, help="series per step (default 32; a new run only)")
    p.add_argument("--steps-per-epoch", type=int, default=None, help="steps between checkpoints (default 100)")
    p.add_argument("--precision", default="auto", choices=["auto", "float32", "bfloat16"])
    p.add_argument("--model-config", default="{}",
                   help="JSON overrides of the shipped layout for a new run, e.g. '{\"filters_2d\": 96}' after "
                        "training/widen.py")
    p.add_argument("--workers", type=int, default=None,
                   help="generator processes (default 1 thread; more where an accelerator outruns one core)")
    a = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from mintpy_dlae.train import train
    kinds = a.kinds if "=" not in a.kinds else {k: float(v) for k, v in (x.split("=") for x in a.kinds.split(","))}
    here = os.path.dirname(os.path.abspath(__file__))
    os.makedirs(os.path.join(here, a.name), exist_ok=True)
    out = os.path.join(here, a.name, a.name + ".keras")
    extra = {k: v for k, v in (("batch_size", a.batch_size), ("steps_per_epoch", a.steps_per_epoch),
                               ("workers", a.workers)) if v is not None}
    if a.resume:
        extra.pop("batch_size", None)
        train(kinds, out, samples=a.samples, resume=True, progress=False, precision=a.precision, **extra)
    else:
        train(kinds, out, samples=a.samples, init_from=a.init, generator=json.loads(a.generator), lr=a.lr,
              seed=a.seed, progress=False, precision=a.precision, model_config=json.loads(a.model_config) or None,
              **extra)


if __name__ == "__main__":
    main()
