"""dlae_evaluate.py: the paper's R²-vs-SNR protocol (Fig. 2) on a model, against classical baselines."""
import argparse
import os
import sys

EXAMPLE = """example:
  dlae_evaluate.py fault                         # shipped fault model, 50 SNR levels x 64 series (3200): fault_eval.txt/.png here
  dlae_evaluate.py training/fault/fault.keras --calibrate-sigma   # scale sigma first, then evaluate
  dlae_evaluate.py mymodel.keras --kind mogi --levels 20 --per-level 32
  dlae_evaluate.py fault --augment 8 -o fault_eval_8copies   # as mintpy_dlae.py denoises a small frame
  dlae_evaluate.py mogi --level input -o mogi_eval_level    # output maps keep the series' spatial mean
  dlae_evaluate.py --baselines-only --kind fault -o docs/figures/baselines
"""


def create_parser():
    p = argparse.ArgumentParser(prog="dlae_evaluate.py", description=__doc__, epilog=EXAMPLE,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", nargs="?", default=None, help="'fault', 'mogi' or a path to a .keras model")
    p.add_argument("--kind", choices=["fault", "mogi"], help="test-set source type (default: the model's kind)")
    p.add_argument("--levels", type=int, default=50, help="number of SNR levels, log-spaced 0.01-10 (default: 50)")
    p.add_argument("--per-level", type=int, default=64, help="series per SNR level (default: 64)")
    p.add_argument("-o", "--output", help="output prefix for the table (.txt) and plot (.png); "
                                          "default: <model>_eval next to a model file, or fault_eval / mogi_eval in the "
                                          "current folder for a shipped model")
    p.add_argument("--baselines-only", action="store_true", help="evaluate the classical baselines only")
    p.add_argument("--no-card", action="store_true",
                   help="do not write the table into the model card (it is written only for the full protocol, "
                        "50 levels x 64 series, and never into the card of the shipped 'fault' / 'mogi')")
    p.add_argument("--family", choices=["independent", "training"], default="independent",
                   help="test-set generator: 'independent' (turbulence, terrain and stratification families that "
                        "training never used; default) or 'training' (the training generator, paper rule)")
    p.add_argument("--augment", type=str.lower, choices=["auto", "1", "2", "4", "8"], default="1",
                   help="symmetric copies per series (test-time augmentation, as mintpy_dlae.py --augment); 1 = "
                        "the paper's protocol (default); auto = what mintpy_dlae.py gives a 40 x 40 x 9 series (8)")
    p.add_argument("--level", choices=["network", "input"], default="network",
                   help="spatial mean of each output map: the network's own (default) or the series' own "
                        "(input; the test family's noise has zero mean over each series, so the input "
                        "keeps the truth's level; docs/method.md, 'The level of a map')")
    p.add_argument("--calibrate-sigma", action="store_true",
                   help="first scale sigma on a separate calibration set so that 2 sigma covers 95 %% of the "
                        "errors, and write the factor into the model file")
    return p


def cmd_line_parse(iargs=None):
    inps = create_parser().parse_args(args=iargs)
    if inps.model is None and not inps.baselines_only:
        raise SystemExit("dlae_evaluate.py: error: give a model ('fault', 'mogi' or a .keras path) or --baselines-only")
    if inps.model and inps.model not in ("fault", "mogi"):
        # mintpy_dlae.py's check (an existing .keras zip), and the config.json a model holds; no TensorFlow
        import zipfile

        from mintpy_dlae import io
        from mintpy_dlae.denoise_file import model_file
        try:
            model_file(inps.model)
        except io.DlaeInputError as err:
            raise SystemExit(f"dlae_evaluate.py: error: {err}")
        if "config.json" not in zipfile.ZipFile(inps.model).namelist():
            raise SystemExit(f"dlae_evaluate.py: error: {inps.model}: not a mintpy_dlae model (a .keras file "
                             "written by dlae_train.py)")
    if inps.levels < 2 or inps.per_level < 1:
        raise SystemExit(f"dlae_evaluate.py: error: need --levels >= 2 and --per-level >= 1; "
                         f"received {inps.levels}, {inps.per_level}")
    if inps.calibrate_sigma and inps.model in ("fault", "mogi"):
        raise SystemExit("dlae_evaluate.py: error: --calibrate-sigma rewrites the model file; the installed "
                         f"{inps.model!r} model is already calibrated (copy it first to recalibrate)")
    out_dir = os.path.dirname(os.path.abspath(inps.output)) if inps.output else None
    if out_dir and os.path.isdir(inps.output):
        raise SystemExit(f"dlae_evaluate.py: error: -o is a prefix of the .txt and .png it writes, not a "
                         f"folder: {inps.output} (e.g. -o {os.path.join(inps.output, 'eval')})")
    if out_dir and not os.path.isdir(out_dir):        # as dlae_train.py does, once every option is checked
        try:
            os.makedirs(out_dir)
        except OSError as err:
            raise SystemExit(f"dlae_evaluate.py: error: cannot create the output folder {out_dir}: {err}")
        print(f"created folder {out_dir}")
    if out_dir and not os.access(out_dir, os.W_OK):
        raise SystemExit(f"dlae_evaluate.py: error: output folder is not writable: {out_dir}")
    # 'auto': the copies denoise() would average for one 40 x 40 x 9 series
    from mintpy_dlae.config import resolve_augment
    inps.augment = resolve_augment(inps.augment, 40 * 40)
    return inps


def main(iargs=None):
    inps = cmd_line_parse(iargs)
    from mintpy_dlae.config import import_tensorflow_quietly, quiet_tensorflow
    quiet_tensorflow()
    if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
        import_tensorflow_quietly()          # TensorFlow's start-up lines, as mintpy_dlae.py does
    import json

    from mintpy_dlae import evaluate
    if inps.baselines_only:
        kind = inps.kind or "fault"
        table = evaluate.evaluate_model(None, kind=kind, levels=inps.levels, per_level=inps.per_level,
                                        family=inps.family)
        prefix = inps.output or f"baselines_{kind}"
        evaluate.write_table(table, prefix + ".txt")
        evaluate.plot_table(table, prefix + ".png", title=f"baselines on the {kind} test set")
    else:
        from mintpy_dlae.model import read_model_card, resolve_model_path
        path = resolve_model_path(inps.model)
        kind = inps.kind or read_model_card(path).get("kind") or ("mogi" if "mogi" in os.path.basename(path) else "fault")
        if kind not in ("fault", "mogi"):       # a card of a run on mixed kinds ({'mogi': 0.5, 'fault': 0.5})
            raise SystemExit(f"dlae_evaluate.py: error: {inps.model} was trained on {kind}: the test set is of one "
                             "kind; choose it with --kind fault or --kind mogi")
        if inps.calibrate_sigma:
            k, report = evaluate.calibrate_sigma(path)
            evaluate.apply_sigma_scale(path, k, report)
            print(f"sigma calibration: factor {k:.3f} (2-sigma coverage before: {report['coverage_before']:.3f})")
        prefix = inps.output or (f"{inps.model}_eval" if inps.model in ("fault", "mogi")
                                 else os.path.splitext(path)[0] + "_eval")
        # a reduced protocol never replaces the full one in a card, and the installed models' cards
        # are left as shipped
        full = (inps.levels, inps.per_level) == (50, 64)
        write_card = not inps.no_card and full and inps.model not in ("fault", "mogi")
        if not write_card and not inps.no_card:
            print("evaluation table not written to the model card (" +
                  ("a shipped model" if inps.model in ("fault", "mogi") else
                   f"a reduced protocol: {inps.levels} levels x {inps.per_level} series, the card's is 50 x 64") +
                  ")" + ("; the sigma calibration above is in the model and its card" if inps.calibrate_sigma else ""))
        table = evaluate.evaluate_to_card(path, kind, levels=inps.levels, per_level=inps.per_level,
                                          out_prefix=prefix, write_card=write_card, family=inps.family,
                                          augment=inps.augment, level=inps.level)
    print(open(prefix + ".txt").read())
    print(json.dumps(evaluate.summarise(table), indent=1))
    print(f"(r2_at_snr_*: interpolated in log SNR between the {len(table['snr'])} levels of the table; "
          "r2_0.6_from_snr: the lowest level from which every level reaches 0.6)")
    print(f"table: {prefix}.txt  plot: {prefix}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
