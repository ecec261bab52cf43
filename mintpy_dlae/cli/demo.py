"""dlae_demo.py: build a synthetic MintPy project and run smallbaselineApp_dlae.py on it.

Only argparse at module level: ``-h`` is fast and never imports TensorFlow.
"""
import argparse
import contextlib
import json
import os
import sys

EXAMPLE = """example:
  dlae_demo.py                          # fault model, ./dlae_demo, 20 dates x 50 x 60 px
  dlae_demo.py --kind mogi --dir demo_mogi
  dlae_demo.py --model my_model.keras --num-date 30 --size 80 100

The demo writes a synthetic project (inputs/ifgramStack.h5, inputs/geometryGeo.h5,
inputs/ERA5.h5, truth.h5): a slow-slip event on a buried fault (Okada) under turbulent and
stratified troposphere. It runs all smallbaselineApp steps with correct_dlae (MintPy's output goes
to <dir>/dlae_demo.log), compares the ERA5-corrected and the denoised series with the true
deformation, prints the numbers and writes figures into <dir>/pic_dlae/:
  demo_<kind>.png          event-window maps (input, denoised, truth, removed), fault-perpendicular
                           profile and the time series at the peak pixel
  demo_<kind>_windows.png  the moving 9-date-window cumulative maps
  demo_<kind>.json         the printed numbers
"""


def create_parser():
    parser = argparse.ArgumentParser(
        prog="dlae_demo.py", formatter_class=argparse.RawTextHelpFormatter, epilog=EXAMPLE,
        description="Demo: denoise a synthetic MintPy project with the DLAE correct_dlae step")
    parser.add_argument("--dir", dest="work_dir", default="dlae_demo",
                        help="work directory (default: %(default)s)")
    parser.add_argument("--kind", choices=["fault", "mogi"], default="fault",
                        help="synthetic deformation and default model (default: %(default)s)")
    parser.add_argument("--model", help="model to use instead of the shipped one (.keras path)")
    parser.add_argument("--num-date", dest="num_date", type=int, default=20,
                        help="number of acquisitions (default: %(default)s)")
    parser.add_argument("--size", nargs=2, type=int, default=[50, 60], metavar=("LENGTH", "WIDTH"),
                        help="frame size in pixels (default: %(default)s)")
    parser.add_argument("--amplitude", type=float, default=80.0, metavar="MM",
                        help="peak LOS displacement of the event in mm (default: %(default)s; at 30 mm\n"
                             "the event sits near SNR 0.9: damped by the models and flagged by a low\n"
                             "significance, see docs/demo.md)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--plot", action="store_true", help="let smallbaselineApp plot into pic/")
    parser.add_argument("--verbose", action="store_true",
                        help="print MintPy's output here instead of <dir>/dlae_demo.log")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bar")
    return parser


def cmd_line_parse(iargs=None):
    parser = create_parser()
    inps = parser.parse_args(args=iargs)
    if inps.num_date < 9:
        parser.error(f"--num-date {inps.num_date}: the network needs at least 9 dates")
    if not inps.amplitude > 0:
        parser.error(f"--amplitude {inps.amplitude}: expected a positive number of mm")
    if min(inps.size) < 16:
        parser.error(f"--size {inps.size}: use at least 16 x 16 pixels")
    return inps


def main(iargs=None):
    inps = cmd_line_parse(iargs)
    from mintpy_dlae.config import package_file
    model = inps.model or inps.kind
    if inps.model is None and not os.path.isfile(package_file("pretrained", f"{inps.kind}.keras")):
        raise SystemExit(
            f"ERROR: the shipped {inps.kind!r} model (pretrained/{inps.kind}.keras) is not "
            "available in this installation yet. Train one with dlae_train.py and run\n"
            f"  dlae_demo.py --model path/to/{inps.kind}.keras")
    if inps.model is not None and not os.path.isfile(inps.model):
        raise SystemExit(f"ERROR: model file not found: {inps.model}")
    model = os.path.abspath(model) if inps.model else model
    from mintpy_dlae.config import quiet_tensorflow
    quiet_tensorflow()                                     # keep TensorFlow's start-up chatter out
    os.environ.setdefault("MPLBACKEND", "Agg")

    work_dir = os.path.abspath(inps.work_dir)
    pic_dir = os.path.join(work_dir, "pic_dlae")
    os.makedirs(pic_dir, exist_ok=True)
    log_file = os.path.join(work_dir, "dlae_demo.log")
    print(f"dlae_demo.py: synthetic {inps.kind} project, {inps.num_date} dates x "
          f"{inps.size[0]} x {inps.size[1]} px, in {work_dir}")
    if not inps.verbose:
        print(f"MintPy's own output goes to {log_file} (use --verbose to see it here)")

    from mintpy_dlae.cli import smallbaselineApp_dlae
    steps = smallbaselineApp_dlae.step_list()
    with _quiet(log_file, enabled=not inps.verbose) as (log, terminal), \
            _bar(len(steps) + 2, enabled=inps.progress and terminal.isatty(), file=terminal) as bar:
        # no bar when the output goes to a file or a pipe: its frames would fill the file
        bar.set_description("build project")
        from mintpy_dlae.project import build_project
        truth = build_project(work_dir, num_date=inps.num_date, shape=tuple(inps.size),
                              kind=inps.kind, seed=inps.seed, amplitude=inps.amplitude / 1e3,
                              template_options={"mintpy.dlae": "yes", "mintpy.dlae.model": model,
                                                "mintpy.plot": "yes" if inps.plot else "no"})
        bar.update()
        _run_steps(truth.template_file, work_dir, bar, log)
        bar.set_description("figures")
        from mintpy_dlae import demo_plots
        res = demo_plots.demo_results(work_dir)
        metrics = demo_plots.metrics(res)
        command = " ".join(["dlae_demo.py"] + list(iargs if iargs is not None else sys.argv[1:]))
        figures = [demo_plots.plot_demo(res, os.path.join(pic_dir, f"demo_{inps.kind}.png"),
                                        metrics, command=command),
                   demo_plots.plot_windows(res,
                                           os.path.join(pic_dir, f"demo_{inps.kind}_windows.png"),
                                           command=command)]
        bar.update()
    metrics["command"] = command
    metrics["model"] = model
    metrics.update(_model_provenance(model))
    json_file = os.path.join(pic_dir, f"demo_{inps.kind}.json")
    with open(json_file, "w") as f:
        json.dump(metrics, f, indent=1)
    print()
    print(demo_plots.format_metrics(metrics))
    seen = metrics.get("model_samples_seen")
    print(f"model: {model} (sha256 {metrics['model_sha256'][:12]}"
          + (f", trained on {seen} samples)" if seen is not None else ")"))
    print("\nfigures:\n" + "\n".join(f"  {p}" for p in figures))
    print(f"numbers: {json_file}")
    return None


def _model_provenance(model):
    """sha256 of the model file and, from its model card, the training samples seen."""
    from mintpy_dlae.denoise_file import model_file, model_sha256
    info = {"model_sha256": model_sha256(model)}
    card = os.path.splitext(model_file(model) or "")[0] + ".json"
    if os.path.isfile(card):
        try:
            with open(card) as f:
                t = json.load(f)["training"]
                info["model_samples_seen"] = t.get("samples_seen_total", t["samples_seen"])
        except (ValueError, KeyError, TypeError):
            pass
    return info


def _run_steps(template_file, work_dir, bar, log):
    """smallbaselineApp_dlae, one step at a time (for the progress bar), as its main() would."""
    import logging
    from mintpy_dlae.smallbaselineApp_step import DlaeTimeSeriesAnalysis
    from mintpy_dlae.cli import smallbaselineApp_dlae
    from mintpy_dlae.config import DlaeConfigError
    from mintpy_dlae.io import DlaeInputError

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=log)
    inps = smallbaselineApp_dlae.cmd_line_parse([template_file, "--dir", work_dir])
    app = DlaeTimeSeriesAnalysis(inps.customTemplateFile, inps.workDir)
    try:
        app.open()
        for step in inps.runSteps:
            bar.set_description(step)
            app.run(steps=[step])
            bar.update()
        if app.template["mintpy.plot"]:
            bar.set_description("plot (MintPy)")
            app.plot_result()
    except (DlaeInputError, DlaeConfigError) as err:
        os.chdir(app.cwd)
        raise SystemExit(f"ERROR: {err}") from None
    except BaseException:
        os.chdir(app.cwd)
        raise
    app.close()


@contextlib.contextmanager
def _quiet(log_file, enabled=True):
    """Send stdout and stderr to ``log_file``; yield (log, terminal) for the progress bar.

    MintPy prints to stdout, TensorFlow's C++ start-up messages go straight to file descriptor 2,
    so both the Python streams and the descriptors 1 and 2 are redirected (and restored).
    """
    import logging
    if not enabled:
        yield sys.stdout, sys.stderr
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    terminal = os.fdopen(os.dup(saved[2]), "w", buffering=1)
    root = logging.getLogger()
    old_level = root.level
    failed = True
    with open(log_file, "w", buffering=1) as log:
        handler = logging.StreamHandler(log)
        try:
            for fd in (1, 2):
                os.dup2(log.fileno(), fd)
            root.addHandler(handler)
            root.setLevel(logging.INFO)
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                yield log, terminal
            failed = False
        finally:
            root.removeHandler(handler)
            root.setLevel(old_level)
            sys.stdout.flush()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            terminal.close()
            if failed:
                print(f"dlae_demo.py failed: MintPy's output is in {log_file}", file=sys.stderr)


@contextlib.contextmanager
def _bar(total, enabled=True, file=None):
    from tqdm import tqdm
    bar = tqdm(total=total, unit="step", disable=not enabled, file=file or sys.stderr,
               bar_format="{desc:<22}{percentage:3.0f}%|{bar:30}| {n_fmt}/{total_fmt} [{elapsed}]")
    try:
        yield bar
    finally:
        bar.close()


if __name__ == "__main__":
    main(sys.argv[1:])
