"""smallbaselineApp_dlae.py: MintPy's smallbaselineApp with the correct_dlae step.

It takes MintPy's own arguments (template, --dir, --start/--end/--dostep, -g, -H, --plot) and
inserts ``correct_dlae`` right after ``correct_troposphere``. Heavy modules (MintPy's app,
TensorFlow) are imported inside main(), so ``-h`` stays fast.
"""
import os
import signal
import sys

REFERENCE = """reference:
  Yunjun, Z., Fattahi, H., and Amelung, F. (2019), Small baseline InSAR time series analysis:
    Unwrapping error correction and noise reduction, Computers & Geosciences, 133, 104331.
  Rouet-Leduc, B., Jolivet, R., Dalaison, M., Johnson, P. A., and Hulbert, C. (2021), Autonomous
    extraction of millimeter-scale deformation in InSAR time series using deep learning,
    Nat. Commun., 12, 6480, doi:10.1038/s41467-021-26254-3.
"""

EXAMPLE = """example:
  smallbaselineApp_dlae.py GalapagosSenDT128.txt              # all steps, correct_dlae included
  smallbaselineApp_dlae.py GalapagosSenDT128.txt --dostep correct_dlae
  smallbaselineApp_dlae.py GalapagosSenDT128.txt --start correct_dlae --end velocity
  smallbaselineApp_dlae.py -H                                 # print the default template

  Add "mintpy.dlae = yes" (and the options above) to your template. Keep using
  smallbaselineApp_dlae.py for later --start/--dostep runs: plain smallbaselineApp.py does not
  know the _DLAE file chain (timeseries_ERA5_DLAE_ramp_demErr.h5, ...).
"""


def step_list():
    from mintpy.defaults.template import STEP_LIST
    step = "correct_dlae"
    return [s for t in STEP_LIST for s in ([t, step] if t == "correct_troposphere" else [t])]


def step_help(steps=None):
    """MintPy's STEP_HELP text, with the step list that includes correct_dlae."""
    steps = steps or step_list()
    k = steps.index("correct_dlae") + 1
    rows = [steps[0:5], steps[5:10], steps[10:k], steps[k:k + 6], steps[k + 6:]]
    return ("Command line options for steps processing with names chosen from the following "
            "list:\n\n" + "\n".join(str(r) for r in rows if r) + "\n\n"
            "In order to use either --start or --dostep, it is necessary that a\n"
            "previous run was done using one of the steps options to process at least\n"
            "through the step immediately preceding the starting step of the current run.\n")


def create_parser(subparsers=None):
    import mintpy.cli.smallbaselineApp as sba_cli
    from mintpy_dlae.config import template_text

    steps = step_list()
    parser = sba_cli.create_parser(subparsers)
    parser.prog = "smallbaselineApp_dlae.py" if subparsers is None else parser.prog
    for group in parser._action_groups:       # MintPy's bracketed step lists, with correct_dlae
        if group.title and group.title.startswith("steps processing"):
            group.description = step_help(steps)
    parser.description = ("Routine time series analysis for small baseline InSAR stacks, with "
                          "deep-learning denoising (correct_dlae) after correct_troposphere")
    parser.epilog = "\n".join([
        REFERENCE,
        "steps: " + ", ".join(steps),
        "",
        "template options of the correct_dlae step:",
        template_text(),
        EXAMPLE,
    ])
    return parser


def cmd_line_parse(iargs=None):
    import mintpy
    import mintpy.cli.smallbaselineApp as sba_cli
    from mintpy_dlae.config import template_text

    parser = create_parser()
    inps = parser.parse_args(args=iargs)
    inps.argv = iargs if iargs is not None else sys.argv[1:]
    default_cfg = os.path.join(os.path.dirname(mintpy.__file__), "defaults", "smallbaselineApp.cfg")
    if inps.print_template:
        with open(default_cfg) as f:
            text = f.read()
        # the step's block where the step runs: right after correct_troposphere (at the end when
        # MintPy's template has no deramp section to put it before)
        at = text.find("########## 9. deramp")
        at = len(text) if at < 0 else at
        print(text[:at] + template_text() + "\n" + text[at:], end="")
        raise SystemExit(0)
    if inps.version:
        from mintpy_dlae import __version__
        print(mintpy.version.version_description)
        print(f"mintpy_dlae {__version__}")
        raise SystemExit(0)
    if inps.customTemplateFile:
        if not os.path.isfile(inps.customTemplateFile):
            parser.error(f"template file not found: {inps.customTemplateFile}")
        inps.customTemplateFile = os.path.abspath(inps.customTemplateFile)
        if os.path.basename(inps.customTemplateFile) == os.path.basename(default_cfg):
            inps.customTemplateFile = None
    elif (not os.path.isfile(os.path.join(inps.workDir, "smallbaselineApp.cfg"))
          and not inps.generate_template):
        parser.error("no template file: give a custom template, or run in a folder with "
                     "smallbaselineApp.cfg")
    plot_only = inps.argv == ["--plot"]
    try:
        inps.runSteps = sba_cli.read_inps2run_steps(inps, step_list=step_list(),
                                                    plot_only=plot_only)
    except ValueError as err:
        parser.error(str(err))
    return inps


def main(iargs=None):
    inps = cmd_line_parse(iargs)
    from mintpy_dlae.config import DlaeConfigError, quiet_tensorflow, setup_logging
    quiet_tensorflow()
    setup_logging()
    from mintpy_dlae.smallbaselineApp_step import run_smallbaselineApp_dlae
    from mintpy_dlae.io import DlaeInputError
    from mintpy_dlae.cli import sigterm_unwinds
    try:
        with sigterm_unwinds():         # SIGTERM: the correct_dlae step's temporary files go
            run_smallbaselineApp_dlae(inps)
    except (DlaeInputError, DlaeConfigError) as err:
        raise SystemExit(f"ERROR: {err}") from None
    except KeyboardInterrupt:
        # the correct_dlae step writes through temporary files: an interrupted step leaves no output
        print("interrupted (the step that ran left no partial output of mintpy_dlae)", file=sys.stderr)
        raise SystemExit(130) from None
    except SystemExit as err:
        if err.code == 128 + signal.SIGTERM:
            print("terminated (SIGTERM; the step that ran left no partial output of mintpy_dlae)",
                  file=sys.stderr)
        raise


if __name__ == "__main__":
    main(sys.argv[1:])
