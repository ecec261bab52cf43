"""dlae_train.py: train a mintpy_dlae denoiser on streamed synthetic data (CPU, bf16 when available)."""
import argparse
import json
import math
import os
import sys

# the defaults of a new run, for the help only (train() applies mintpy_dlae.train.DEFAULTS and
# mintpy_dlae.model.shipped_config, which tests/test_cli.py checks these against); the options are
# None when not given, so that a resume keeps the run's values
NEW_RUN_DEFAULTS = dict(batch_size=32, val_size=384, seed=0, filters=32, filters_2d=64, elevation_layer=7)

EXAMPLE = """example:
  dlae_train.py mix   -o training/base/base.keras --samples 300000           # fault + mogi, 50/50
  dlae_train.py fault -o training/fault/fault.keras --samples 50000 --init-from training/base/base.keras --lr 3e-4
  dlae_train.py fault -o training/fault/fault.keras --samples 80000 --resume   # continue a run
"""


def create_parser():
    p = argparse.ArgumentParser(prog="dlae_train.py", description=__doc__, epilog=EXAMPLE,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=["fault", "mogi", "mix"],
                   help="source type of the training data (mix: fault and mogi, half each)")
    p.add_argument("-o", "--output", required=True, help="output model file (.keras); checkpoints go to <stem>_ckpt/")
    p.add_argument("--samples", type=int, default=200_000,
                   help="total training samples, the learning-rate schedule's length (default 200000: hours on a "
                        "2-core CPU at 13-60 samples/s); the last epoch is cut short to end at it")
    p.add_argument("--resume", action="store_true",
                   help="continue from the last checkpoint of --output (an error if there is none). "
                        "A resume takes kind, --val-size, --seed, --init-from and the model layout "
                        "(--filters, --filters-2d, --elevation-layer) from the run's checkpoint and warns about "
                        "any of them given here with another value; --samples, --precision and, when given, "
                        "--batch-size, --steps-per-epoch, --lr and --clipnorm come from the command line")
    p.add_argument("--batch-size", type=int, default=None,
                   help=f"series per training step (default {NEW_RUN_DEFAULTS['batch_size']}; "
                        "a resume keeps the run's unless given: e.g. a larger batch on a GPU)")
    p.add_argument("--steps-per-epoch", type=int, default=None,
                   help="batches between checkpoints / validations (default 100, or the resumed run's)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (Adam; default 1e-3, or the resumed run's)")
    p.add_argument("--clipnorm", type=float, default=None,
                   help="global gradient-norm clipping (default 1.0, or the resumed run's)")
    p.add_argument("--val-size", type=int, default=None,
                   help=f"validation series checked after every epoch (default {NEW_RUN_DEFAULTS['val_size']}; "
                        "a resume keeps the run's)")
    p.add_argument("--init-from", default=None,
                   help="start a new run from the weights of this .keras model (ignored when --resume "
                        "continues a run)")
    p.add_argument("--filters", type=int, default=None,
                   help=f"Conv3D filters (default {NEW_RUN_DEFAULTS['filters']}; a resume keeps the run's)")
    p.add_argument("--filters-2d", type=int, default=None,
                   help=f"Conv2D filters (default {NEW_RUN_DEFAULTS['filters_2d']}; a resume keeps the run's)")
    p.add_argument("--elevation-layer", type=int, default=None,
                   help="conv layer (1-based) that receives elevation "
                        f"(default {NEW_RUN_DEFAULTS['elevation_layer']}; a resume keeps the run's)")
    p.add_argument("--precision", default="auto", choices=["auto", "float32", "bfloat16"],
                   help="training precision (default auto: mixed bfloat16 where the CPU has AVX512-BF16 or AMX "
                        "and a probe step runs, float32 otherwise; the choice is printed and kept in the card)")
    p.add_argument("--seed", type=int, default=None,
                   help=f"seed of the training stream (default {NEW_RUN_DEFAULTS['seed']}; a resume keeps the run's)")
    return p


def cmd_line_parse(iargs=None):
    inps = create_parser().parse_args(args=iargs)
    if not inps.output.endswith(".keras") or os.path.basename(inps.output) == ".keras":
        raise SystemExit(f"dlae_train.py: error: --output must be a file name ending with .keras; "
                         f"received {inps.output!r}")
    if os.path.isdir(inps.output):
        raise SystemExit(f"dlae_train.py: error: --output is a folder: {inps.output}")
    for flag, value, low in (("--samples", inps.samples, 1), ("--batch-size", inps.batch_size, 1),
                             ("--steps-per-epoch", inps.steps_per_epoch, 1), ("--val-size", inps.val_size, 1),
                             ("--seed", inps.seed, 0), ("--filters", inps.filters, 1),
                             ("--filters-2d", inps.filters_2d, 1)):
        if value is not None and value < low:
            raise SystemExit(f"dlae_train.py: error: {flag} must be >= {low}; received {value}")
    for flag, value in (("--lr", inps.lr), ("--clipnorm", inps.clipnorm)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise SystemExit(f"dlae_train.py: error: {flag} must be a positive finite number; received {value}")
    if inps.init_from is not None and not os.path.isfile(inps.init_from):
        raise SystemExit(f"dlae_train.py: error: --init-from: model file not found: {inps.init_from}")
    out_dir = os.path.dirname(os.path.abspath(inps.output))
    if not os.path.isdir(out_dir):
        try:
            os.makedirs(out_dir)
        except OSError as err:
            raise SystemExit(f"dlae_train.py: error: cannot create the output folder {out_dir}: {err}")
        print(f"created folder {out_dir}")
        inps.created_dir = out_dir          # removed again if the run stops before writing anything
    if not os.access(out_dir, os.W_OK):
        raise SystemExit(f"dlae_train.py: error: output folder is not writable: {out_dir}")
    ckpt = os.path.splitext(inps.output)[0] + "_ckpt"           # the run's checkpoint (mintpy_dlae.train)
    if not inps.resume and os.path.isfile(os.path.join(ckpt, "last.keras")):
        raise SystemExit(f"dlae_train.py: error: {inps.output} is a training run already (checkpoint "
                         f"{os.path.join(ckpt, 'last.keras')}): add --resume to continue it, or choose "
                         f"another --output, or remove {ckpt} to start again")
    return inps


def resume_ignored(inps, kind, saved):
    """Warning lines for the options given on the command line that a resume ignores (the run's
    checkpoint fixes them): kind, --val-size, --seed, --init-from and the model layout,
    each when its value differs from the saved one in ``saved`` (the run's state.json; None or a
    missing entry: any given value is reported)."""
    saved = saved or {}
    options, layout = saved.get("options", {}), saved.get("model_config", {})
    init_from = None if inps.init_from is None else os.path.basename(inps.init_from)   # state.json keeps the name
    checks = [("kind", inps.kind, kind, saved.get("kind")),
              ("--val-size", inps.val_size, inps.val_size, options.get("val_size")),
              ("--seed", inps.seed, inps.seed, options.get("seed")),
              ("--init-from", inps.init_from, init_from, saved.get("init_from")),
              ("--filters", inps.filters, inps.filters, layout.get("filters")),
              ("--filters-2d", inps.filters_2d, inps.filters_2d, layout.get("filters_2d")),
              ("--elevation-layer", inps.elevation_layer, inps.elevation_layer, layout.get("elevation_layer"))]
    lines = []
    for flag, shown, value, old in checks:
        if value is None or (old is not None and value == old):
            continue
        was = "" if old is None else f", {old},"
        used = "the checkpoint's weights are used" if flag == "--init-from" else f"the run's saved value{was} is used"
        lines.append(f"WARNING: {flag} {shown} is ignored with --resume ({used})")
    return lines


def main(iargs=None):
    inps = cmd_line_parse(iargs)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import logging

    from mintpy_dlae.config import import_tensorflow_quietly, setup_logging
    setup_logging(logging.WARNING, stderr=True)  # the package's warnings as 'WARNING: ...' (progress is printed)
    if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
        import_tensorflow_quietly()          # TensorFlow's start-up lines, as mintpy_dlae.py does
    from mintpy_dlae.train import _paths, train
    config = {k: getattr(inps, k) for k in ("filters", "filters_2d", "elevation_layer") if getattr(inps, k) is not None}
    kind = {"fault": 0.5, "mogi": 0.5} if inps.kind == "mix" else inps.kind
    print("dlae_train.py " + " ".join(sys.argv[1:] if iargs is None else iargs), flush=True)
    _, _, ckpt, state_path = _paths(inps.output)
    saved = None
    if inps.resume and os.path.isfile(ckpt):
        try:
            with open(state_path) as f:
                saved = json.load(f)
        except (OSError, ValueError):
            saved = None
        for line in resume_ignored(inps, kind, saved):
            print(line, file=sys.stderr, flush=True)
    # options left unset keep the defaults (new run) or the resumed run's values
    given = {"lr": inps.lr, "global_clipnorm": inps.clipnorm, "steps_per_epoch": inps.steps_per_epoch,
             "batch_size": inps.batch_size, "seed": inps.seed, "val_size": inps.val_size}
    try:
        _, state = train(kind, inps.output, samples=inps.samples, resume=inps.resume, model_config=config,
                         init_from=inps.init_from, precision=inps.precision,
                         **{k: v for k, v in given.items() if v is not None})
    except KeyboardInterrupt:
        print(f"interrupted: the last checkpoint of {inps.output} is kept; continue with --resume",
              file=sys.stderr)
        return 130
    except (ValueError, OSError, FloatingPointError) as err:     # bad layout, init model, damaged checkpoint
        created = getattr(inps, "created_dir", None)
        if created and os.path.isdir(created) and not os.listdir(created):
            os.rmdir(created)                # the folder this call made, still empty
        raise SystemExit(f"dlae_train.py: error: {err}")
    if state["samples_seen"] > (saved or {}).get("samples_seen", 0):
        print(f"model written: {inps.output} ({state['samples_seen']} samples seen; sigma not calibrated yet: "
              f"dlae_evaluate.py {inps.output} --calibrate-sigma)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
