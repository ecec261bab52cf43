"""dlae_train.py: train a mintpy_dlae denoiser on streamed synthetic data (CPU, bf16 when available)."""
import argparse
import os
import sys

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
    p.add_argument("--samples", type=int, default=200_000, help="total training samples (learning-rate schedule length)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint of --output")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps-per-epoch", type=int, default=100, help="batches between checkpoints / validations")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (Adam; default 1e-3, or the resumed run's)")
    p.add_argument("--clipnorm", type=float, default=None, help="global gradient-norm clipping (default 1.0)")
    p.add_argument("--val-size", type=int, default=384, help="validation series checked after every epoch")
    p.add_argument("--init-from", default=None, help="start a new run from the weights of this .keras model")
    p.add_argument("--filters", type=int, default=32, help="Conv3D filters")
    p.add_argument("--filters-2d", type=int, default=64, help="Conv2D filters")
    p.add_argument("--elevation-layer", type=int, default=7, help="conv layer (1-based) that receives elevation")
    p.add_argument("--precision", default="auto", choices=["auto", "float32", "bfloat16"])
    p.add_argument("--seed", type=int, default=0)
    return p


def cmd_line_parse(iargs=None):
    inps = create_parser().parse_args(args=iargs)
    if not inps.output.endswith(".keras"):
        raise SystemExit(f"dlae_train.py: error: --output must end with .keras; received {inps.output!r}")
    out_dir = os.path.dirname(os.path.abspath(inps.output))
    if not os.path.isdir(out_dir):
        raise SystemExit(f"dlae_train.py: error: output folder does not exist: {out_dir}")
    if not os.access(out_dir, os.W_OK):
        raise SystemExit(f"dlae_train.py: error: output folder is not writable: {out_dir}")
    return inps


def main(iargs=None):
    inps = cmd_line_parse(iargs)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from mintpy_dlae.train import train
    config = dict(filters=inps.filters, filters_2d=inps.filters_2d, elevation_layer=inps.elevation_layer)
    kind = {"fault": 0.5, "mogi": 0.5} if inps.kind == "mix" else inps.kind
    print("dlae_train.py " + " ".join(sys.argv[1:] if iargs is None else iargs), flush=True)
    # options left unset keep the defaults (new run) or the resumed run's values
    given = {"lr": inps.lr, "global_clipnorm": inps.clipnorm}
    train(kind, inps.output, samples=inps.samples, resume=inps.resume, model_config=config, init_from=inps.init_from,
          precision=inps.precision, batch_size=inps.batch_size, steps_per_epoch=inps.steps_per_epoch,
          seed=inps.seed, val_size=inps.val_size, **{k: v for k, v in given.items() if v is not None})
    print(f"model written: {inps.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
