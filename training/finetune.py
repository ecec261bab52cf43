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


def _json_object(text, flag):
    try:
        value = json.loads(text)
    except ValueError as err:
        raise SystemExit(f"finetune.py: error: {flag} is not JSON ({err}): {text!r}")
    if not isinstance(value, dict):
        raise SystemExit(f"finetune.py: error: {flag} must be a JSON object {{...}}; received {text!r}")
    return value


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name")
    p.add_argument("--kinds", default=None, help="a kind, or kind=fraction,... (default fault; a new run only)")
    p.add_argument("--init", default=None, help=".keras model whose weights start the run (a new run only)")
    p.add_argument("--samples", type=int, required=True, help="total samples of the run (schedule length)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default 3e-4, or the resumed run's)")
    p.add_argument("--generator", default=None,
                   help="JSON overrides of dataset.GENERATOR_OPTIONS (a new run only)")
    p.add_argument("--seed", type=int, default=None, help="seed of the training stream (default 0; a new run only)")
    p.add_argument("--resume", action="store_true", help="continue training/NAME from its checkpoint")
    p.add_argument("--batch-size", type=int, default=None,
                   help="series per step (default 32, or the resumed run's; a resume takes a new one, e.g. on a GPU)")
    p.add_argument("--steps-per-epoch", type=int, default=None, help="steps between checkpoints (default 100)")
    p.add_argument("--precision", default="auto", choices=["auto", "float32", "bfloat16"])
    p.add_argument("--loss", default=None, choices=["beta_nll", "r2", "beta_nll_level_free"],
                   help="training loss (default beta_nll; a new run only)")
    p.add_argument("--model-config", default=None,
                   help="JSON overrides of the shipped layout for a new run, e.g. '{\"filters_2d\": 96}' after "
                        "training/widen.py")
    p.add_argument("--workers", type=int, default=None,
                   help="generator processes (default 1 thread; more where an accelerator outruns one core)")
    a = p.parse_args()
    if a.samples <= 0:
        p.error(f"--samples must be positive; received {a.samples}")
    generator = _json_object(a.generator, "--generator") if a.generator is not None else None
    model_config = _json_object(a.model_config, "--model-config") if a.model_config is not None else None
    kinds = a.kinds or "fault"
    try:
        kinds = kinds if "=" not in kinds else {k: float(v) for k, v in (x.split("=") for x in kinds.split(","))}
    except ValueError:
        p.error(f"--kinds must be a kind or kind=fraction,...; received {a.kinds!r}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from mintpy_dlae.train import _check_generator, train
    try:
        _check_generator(generator)
    except ValueError as err:
        raise SystemExit(f"finetune.py: error: {err}")
    here = os.path.dirname(os.path.abspath(__file__))
    folder = os.path.join(here, a.name)
    out = os.path.join(folder, a.name + ".keras")
    extra = {k: v for k, v in (("batch_size", a.batch_size), ("steps_per_epoch", a.steps_per_epoch),
                               ("workers", a.workers), ("lr", a.lr), ("loss", a.loss)) if v is not None}
    if a.resume:
        ignored = [flag for flag, value in (("--kinds", a.kinds), ("--init", a.init), ("--generator", a.generator),
                                            ("--seed", a.seed), ("--model-config", a.model_config)) if value is not None]
        if ignored:
            logging.warning("%s ignored with --resume: the run's checkpoint and state.json fix them",
                            ", ".join(ignored))
        call = dict(resume=True)
    else:
        call = dict(init_from=a.init, generator=generator, seed=0 if a.seed is None else a.seed,
                    model_config=model_config or None)
        extra.setdefault("lr", 3e-4)
    created = not os.path.isdir(folder)
    os.makedirs(folder, exist_ok=True)
    try:
        train(kinds, out, samples=a.samples, progress=False, precision=a.precision, **call, **extra)
    except KeyboardInterrupt:
        raise SystemExit(f"interrupted: the last checkpoint of {out} is kept; continue with --resume") from None
    except (ValueError, OSError, FloatingPointError) as err:
        if created and not os.listdir(folder):
            os.rmdir(folder)                  # nothing was written: leave no empty run folder
        raise SystemExit(f"finetune.py: error: {err}") from None


if __name__ == "__main__":
    main()
