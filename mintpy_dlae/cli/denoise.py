"""mintpy_dlae.py: denoise a MintPy time-series file with the deep-learning auto-encoder.

Only argparse and light imports at module level: ``-h`` is fast and never imports TensorFlow.
"""
import glob
import os
import signal
import sys

from mintpy.utils import arg_utils

from mintpy_dlae.cli import sigterm_unwinds

REFERENCE = """reference:
  Rouet-Leduc, B., Jolivet, R., Dalaison, M., Johnson, P. A., and Hulbert, C. (2021), Autonomous
    extraction of millimeter-scale deformation in InSAR time series using deep learning,
    Nat. Commun., 12, 6480, doi:10.1038/s41467-021-26254-3.
"""

EXAMPLE = """example:
  mintpy_dlae.py timeseries_ERA5.h5                  # geometry found in inputs/, see -g
  mintpy_dlae.py timeseries_ERA5.h5 --update         # again: skip if up to date (--force: redo)
  mintpy_dlae.py timeseries_ERA5.h5 -g inputs/geometryRadar.h5
  mintpy_dlae.py geo/geo_timeseries_ERA5.h5          # geometry: geo/geo_geometry*.h5
  mintpy_dlae.py timeseries_ERA5.h5 -g inputs/geometryGeo.h5 -m maskTempCoh.h5 --model mogi
  mintpy_dlae.py timeseries_ERA5.h5 -g inputs/geometryGeo.h5 --model my_model.keras -o ts_dlae.h5
  mintpy_dlae.py timeseries_ERA5.h5 --no-uncertainty    # no variance / std / significance outputs
  mintpy_dlae.py timeseries_ERA5.h5 -t smallbaselineApp.cfg --update      # options from template
  mintpy_dlae.py timeseries_ERA5.h5 -g inputs/geometryGeo.h5 -c local --num-worker 2 --ram 2

  outputs (next to the input unless -o is given):
    timeseries_ERA5_DLAE.h5          denoised time series (same dates, metadata, REF_* and no-data)
    cumulative_ERA5_DLAE.h5          moving 9-date-window cumulative maps, one dataset per window
                                     named cumulative_<first date>_<last date> (view.py shows them),
                                     and their 1-sigma (cumulativeStd_*) and |mean|/sigma
                                     (significance_*): view.py cumulative_ERA5_DLAE.h5 significance
    timeseriesVar_ERA5_DLAE.h5       variance of the denoised series (m^2), for
                                     timeseries2velocity.py timeseries_ERA5_DLAE.h5 --uq covariance
                                       --ts-cov timeseriesVar_ERA5_DLAE.h5   (velocityStd)
    timeseriesRemoved_ERA5_DLAE.h5   input minus output, with --save-removed
  with -o NAME.h5: the first "timeseries" in NAME becomes "cumulative" / "timeseriesVar" /
  "timeseriesRemoved"; a NAME without it gets them as prefixes (-o ts_dlae.h5 ->
  cumulative_ts_dlae.h5, timeseriesVar_ts_dlae.h5, timeseriesRemoved_ts_dlae.h5).
  An existing output is an error: run again with --update (skip when up to date) or --force.
"""

def create_parser(subparsers=None):
    from mintpy_dlae.config import add_arguments, template_help
    synopsis = "Denoise an InSAR time series with a deep-learning auto-encoder (DLAE)"
    epilog = REFERENCE + "\n" + template_help() + "\n" + EXAMPLE
    name = __name__.split(".")[-1]
    parser = arg_utils.create_argument_parser(
        name, synopsis=synopsis, description=synopsis, epilog=epilog, subparsers=subparsers)
    parser.prog = "mintpy_dlae.py" if subparsers is None else parser.prog

    parser.add_argument("ts_file", metavar="TS_FILE", nargs="?",
                        help="MintPy time-series file in metres, e.g. timeseries_ERA5.h5")
    parser.add_argument("--model-info", dest="model_info", metavar="NAME|PATH",
                        help="print the card of a model (fault, mogi or a .keras file): what it is for,\n"
                             "its training and its scores against the classical baselines; then exit")
    parser.add_argument("-g", "--geometry", dest="geom_file",
                        help="geometry file with height (and incidenceAngle, azimuthAngle)\n"
                             "(default: the first of inputs/geometryRadar.h5, inputs/geometryGeo.h5\n"
                             "next to the time series, or geo_geometry*.h5 for a file in geo/,\n"
                             "whose size matches the time series)")
    parser.add_argument("-o", "--output", dest="out_file", metavar="OUT",
                        help="output time-series file (default: <input>_DLAE.h5)")
    parser.add_argument("-t", "--template", dest="template_file",
                        help="template file with mintpy.dlae.* / mintpy.compute.* options")
    add_arguments(parser)          # the options of the table in mintpy_dlae/config.py
    parser.add_argument("--update", dest="update_mode", action="store_true",
                        help="skip if the outputs are newer than the inputs and were made with\n"
                             "the same model and options")
    parser.add_argument("--force", dest="force", action="store_true",
                        help="overwrite existing outputs")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="do not show the progress bar")
    parser = arg_utils.add_memory_argument(parser)
    parser = arg_utils.add_parallel_argument(parser)
    parser.set_defaults(maxMemory=None, numWorker=None)
    for action in parser._actions:      # MintPy's help says "default: None"; None means "template or 4"
        if action.dest == "maxMemory":
            action.help = ("max amount of memory in GB; the frame is denoised in blocks of rows that\n"
                           "fit in it (default: the template's mintpy.compute.maxMemory, else 4)")
    return parser


def cmd_line_parse(iargs=None):
    parser = create_parser()
    inps = parser.parse_args(args=iargs)
    if inps.model_info:
        from mintpy_dlae.io import DlaeInputError
        from mintpy_dlae.model_card import describe
        try:
            text = describe(inps.model_info)
        except DlaeInputError as err:
            parser.exit(2, f"{parser.prog}: error: {err}\n")
        try:
            print(text, flush=True)
        except BrokenPipeError:            # e.g. piped into head: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(0)
    if inps.ts_file is None:
        parser.error("the following arguments are required: TS_FILE (or --model-info NAME)")
    if inps.update_mode and inps.force:
        parser.error("--update and --force are mutually exclusive")
    from mintpy_dlae.config import check_arguments
    check_arguments(inps, parser.error)
    return inps


def geometry_candidates(ts_file):
    """Where a geometry file is looked for, in order (MintPy's layouts).

    ``<dir>/inputs/geometryRadar.h5``, ``<dir>/inputs/geometryGeo.h5`` next to the time series;
    for a geocoded file in ``geo/`` (``geo/geo_timeseries*.h5``) first ``geo/geo_geometry*.h5``,
    then ``../inputs/geometryGeo.h5`` and ``../inputs/geometryRadar.h5``.
    """
    folder = os.path.dirname(os.path.abspath(ts_file))
    names = [os.path.join(folder, "inputs", n) for n in ("geometryRadar.h5", "geometryGeo.h5")]
    if os.path.basename(folder) == "geo" or os.path.basename(ts_file).startswith("geo_"):
        up = os.path.dirname(folder)
        names = (sorted(glob.glob(os.path.join(folder, "geo_geometry*.h5")))
                 + [os.path.join(up, "inputs", n) for n in ("geometryGeo.h5", "geometryRadar.h5")]
                 + names)
    return names


def find_geometry(ts_file, shape=None):
    """The first geometry candidate that exists (and, with ``shape``, whose height matches it);
    else the first that exists (its shape error is then reported), else None."""
    import h5py
    found = [p for p in geometry_candidates(ts_file) if os.path.isfile(p)]
    if shape is not None:
        for path in found:
            try:
                with h5py.File(path, "r") as f:
                    if "height" in f and tuple(f["height"].shape[-2:]) == tuple(shape):
                        return path
            except OSError:
                continue
    return found[0] if found else None


def resolve_geometry(inps):
    """Check the time series first (FILE_TYPE, dates, unit), then find the geometry if -g is not
    given and say which file is used. Raises DlaeInputError."""
    from mintpy_dlae import io
    atr = io.check_timeseries(inps.ts_file)
    if inps.geom_file is None:
        shape = (int(atr["LENGTH"]), int(atr["WIDTH"]))
        inps.geom_file = find_geometry(inps.ts_file, shape)
        if inps.geom_file is None:
            tried = "\n  ".join(os.path.relpath(p) for p in geometry_candidates(inps.ts_file))
            raise io.DlaeInputError(f"{inps.ts_file}: no geometry file given (-g) and none found; "
                                    f"looked for:\n  {tried}")
        print(f"geometry file: {os.path.relpath(inps.geom_file)} (found automatically; "
              "-g to choose another)")
    return inps.geom_file


def build_config(inps):
    """DlaeConfig from the template (if any), overridden by options given on the command line.
    A DlaeConfigError names the template file (-t) it was read from."""
    from mintpy_dlae.config import DlaeConfig, DlaeConfigError
    try:
        return DlaeConfig.from_args(inps)
    except DlaeConfigError as err:
        template = getattr(inps, "template_file", None)
        if template and template not in str(err):
            raise DlaeConfigError(f"{err} (options from {template} and the command line)") from None
        raise


def main(iargs=None):
    inps = cmd_line_parse(iargs)
    from mintpy_dlae.config import DlaeConfigError, quiet_tensorflow, setup_logging
    quiet_tensorflow()
    setup_logging()
    from mintpy_dlae.io import DlaeInputError
    try:
        with sigterm_unwinds():         # SIGTERM cleans up like Ctrl-C
            resolve_geometry(inps)
            cfg = build_config(inps)
            from mintpy_dlae.denoise_file import run_dlae
            outputs = run_dlae(inps.ts_file, inps.geom_file, cfg, out_file=inps.out_file,
                               update=inps.update_mode, force=inps.force, progress=inps.progress)
    except (DlaeInputError, DlaeConfigError) as err:
        raise SystemExit(f"ERROR: {err}") from None
    except KeyboardInterrupt:
        print("interrupted: no output written (temporary files removed)", file=sys.stderr)
        raise SystemExit(130) from None
    except (OSError, RuntimeError) as err:
        if getattr(err, "errno", None) == 28 or "No space left on device" in str(err):   # ENOSPC
            raise SystemExit(f"ERROR: no space left on device while writing the outputs of {inps.ts_file}: no "
                             "output written (temporary files removed); free some space or write elsewhere "
                             "(-o)") from None
        raise
    except SystemExit as err:
        if err.code == 128 + signal.SIGTERM:
            print("terminated (SIGTERM): no output written (temporary files removed)", file=sys.stderr)
        raise
    if outputs:
        print("Done. Output files:\n  " + "\n  ".join(outputs.values()))
    # console scripts pass main()'s return value to sys.exit(): return None for exit status 0


if __name__ == "__main__":
    main(sys.argv[1:])
