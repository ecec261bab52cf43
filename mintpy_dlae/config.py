"""The ``mintpy.dlae.*`` options: one table (:data:`OPTIONS`) and what it drives.

The table is the only place an option is defined. It gives

* :class:`DlaeConfig`, the typed options object (one field per row);
* the template block users add to their smallbaselineApp template (:func:`template_text`, printed
  by ``smallbaselineApp_dlae.py -H`` and appended by ``correct_dlae`` to the work folder's
  smallbaselineApp.cfg) and the ``auto`` values (:func:`resolve_template`);
* the options of ``mintpy_dlae.py`` (:func:`add_arguments`; command-line values win over ``-t``).

Compute options are MintPy's own keys (``mintpy.compute.maxMemory / cluster / numWorker / config``),
flags (``--ram``, ``-c``, ``--num-worker``, ``--config``) and auto values. To add an option: add a
row, read the new ``DlaeConfig`` field where it is used; nothing else to keep in sync.
"""
import argparse
import dataclasses
import logging
import math
import os
import textwrap
from importlib import resources

from mintpy_dlae.constants import MODEL_KINDS

log = logging.getLogger(__name__)

PREFIX = "mintpy.dlae"
MODEL_NAMES = MODEL_KINDS
PRECISIONS = ("auto", "float32", "bfloat16")
CLUSTERS = ("local", "slurm", "pbs", "lsf")
MIN_TILE_SIZE = 16
# loose spellings accepted in templates, as in mintpy/smallbaselineApp.py:_read_template
_LOOSE = {"def": "auto", "default": "auto", "y": "yes", "on": "yes", "true": "yes",
          "n": "no", "off": "no", "false": "no"}
# retired keys: accepted in old templates with a warning (when set to anything but auto), ignored
DEPRECATED = {
    f"{PREFIX}.calibrate": "the calibration gate is retired: the network gives the deformation and "
                           "its uncertainty in one pass (see the significance maps); remove the line",
}
TEMPLATE_HEADER = """\
########## correct_dlae  (mintpy_dlae plugin: run with smallbaselineApp_dlae.py)
## Deep-learning denoising of the time series (Rouet-Leduc et al., 2021, Nat. Commun. 12:6480),
## run right after correct_troposphere. It writes timeseries_*_DLAE.h5 (what deramp, DEM error
## and velocity then use), the moving 9-date-window cumulative maps with their uncertainty
## (cumulative_*_DLAE.h5) and the variance of the denoised series (timeseriesVar_*_DLAE.h5, for
## timeseries2velocity.py --uq covariance --ts-cov). Compute options are MintPy's own:
## mintpy.compute.maxMemory / cluster / numWorker / config.
"""


class DlaeConfigError(ValueError):
    """An invalid mintpy.dlae.* option: the message names the key and the value."""


# -------------------------------------------------------------------- value parsers
AUGMENT_CHOICES = (1, 2, 4, 8)
AUGMENTS = ("auto",) + tuple(str(c) for c in AUGMENT_CHOICES)       # the option's spellings
# "auto" test-time augmentation: the most symmetric copies (8, 4, 2 or 1) whose network passes stay
# within this many pixel-windows, about 35 s of network time for the widened fault model on the
# 2-core CPU (470,000 core pixel-windows/s, docs/benchmarks.md; reading, stitching and writing
# come on top), so small frames get all 8 copies and a 1000 x 1000 x 100 frame (9.2e7
# pixel-windows) keeps one pass per window.
AUTO_AUGMENT_PIXEL_WINDOWS = 16_000_000


def resolve_augment(augment, pixel_windows):
    """Number of symmetric copies (1, 2, 4 or 8) for ``augment`` ('auto' or one of those numbers).

    pixel_windows: pixels x 9-date windows of the job.  'auto' gives the largest choice c with
    c x pixel_windows <= :data:`AUTO_AUGMENT_PIXEL_WINDOWS` (at least 1).
    Raises ValueError for anything else.
    """
    if isinstance(augment, str) and augment.strip().lower() == "auto":
        fits = [c for c in AUGMENT_CHOICES if c * max(int(pixel_windows), 1) <= AUTO_AUGMENT_PIXEL_WINDOWS]
        return max(fits) if fits else 1
    try:
        value = int(str(augment))
    except ValueError:
        value = None
    if value not in AUGMENT_CHOICES:
        raise ValueError(f"augment must be 'auto' or one of {AUGMENT_CHOICES}; received {augment!r}")
    return value


def _bool(key, value):
    if isinstance(value, bool):
        return value
    raise DlaeConfigError(f"{key} = {value!r}: expected yes / no")


def _int(key, value):
    try:
        return int(str(value))
    except ValueError:
        raise DlaeConfigError(f"{key} = {value!r}: expected an integer") from None


def _float(key, value):
    try:
        return float(str(value))
    except ValueError:
        raise DlaeConfigError(f"{key} = {value!r}: expected a number") from None


def _model(key, value):
    value = str(value).strip()
    if value.lower() in MODEL_NAMES:
        return value.lower()
    return os.path.expanduser(value)


def _optional_path(key, value):
    if value in (None, False) or str(value).lower() in ("", "no", "none", "false"):
        return None
    return os.path.expanduser(str(value))


def _mask_file(key, value):
    """'auto' (the run looks for maskTempCoh.h5 next to the time series), None for no, or a path."""
    if value is True or str(value).strip().lower() == "auto":
        return "auto"
    return _optional_path(key, value)


def _lower(key, value):
    return str(value).lower()


def _augment(key, value):
    """'auto', '1', '2', '4' or '8'; yes -> auto, no -> 1 (MintPy resolves yes/no to booleans)."""
    if value is True:
        return "auto"
    if value is False:
        return "1"
    value = str(value).strip().lower()
    return {"": "auto", "yes": "auto", "no": "1", "none": "1"}.get(value, value)


def _scales(key, value):
    """1 or 2 (checked by DlaeConfig.validate); yes -> 2, no -> 1."""
    if value is True or str(value).strip().lower() == "yes":
        return 2
    if value is False or str(value).strip().lower() == "no":
        return 1
    try:
        return int(str(value).strip())
    except ValueError:
        raise DlaeConfigError(f"{key} = {value!r}: expected 1 or 2") from None


def _cluster(key, value):
    if value in (None, False) or str(value).lower() in ("none", "no"):
        return None
    return str(value).lower()


def _str(key, value):
    return str(value)


@dataclasses.dataclass(frozen=True)
class Option:
    """One option: template key, DlaeConfig field, auto value, template comment, parser and flags.

    ``flags``/``cli``: the ``mintpy_dlae.py`` flags and argparse keywords (none: no flag of ours;
    MintPy's compute flags have ``dest``); ``minimum``: the smallest valid number.
    """
    key: str
    field: str
    auto: str
    default: object
    choices: str = ""
    doc: str = ""
    parse: object = _str
    flags: tuple = ()
    cli: dict = dataclasses.field(default_factory=dict)
    dest: str = None
    minimum: float = None
    flag_help: str = None

    @property
    def in_template(self):
        return self.key == PREFIX or self.key.startswith(PREFIX + ".")

    @property
    def arg_dest(self):
        return self.dest or self.field

    def template_line(self):
        auto = "" if self.auto == "auto" else f", auto for {self.auto}"
        return f"{self.key:<29}= auto  #{self.choices}{auto}, {self.doc}"


OPTIONS = (
    Option(PREFIX, "enabled", "no", False, "[yes / no]",
           "denoise the time series with the auto-encoder", _bool),
    Option(f"{PREFIX}.model", "model", "fault", "fault", "[fault / mogi / path to a .keras file]",
           "model: fault for tectonic transients, mogi for point sources", _model,
           ("--model",), dict(metavar="NAME|PATH")),
    Option(f"{PREFIX}.maskFile", "mask_file", "auto", "auto", "[filename / no]",
           "pixels to leave out (e.g. maskTempCoh.h5 or waterMask.h5), written as no-data; auto: "
           "maskTempCoh.h5 next to the time series (geo_maskTempCoh.h5 for a geo_ file) when it is "
           "there, else none; no-data is always left out",
           _mask_file, ("-m", "--mask"), dict(metavar="MASK")),
    Option(f"{PREFIX}.tileSize", "tile_size", "256", 256, f"[int >= {MIN_TILE_SIZE}]",
           "tile size in pixels for the network (results do not depend on it)", _int,
           ("--tile-size",), dict(type=int), minimum=MIN_TILE_SIZE),
    Option(f"{PREFIX}.batchSize", "batch_size", "32", 32, "[int >= 1]",
           "maximum 9-date windows per network call", _int,
           ("--batch-size",), dict(type=int), minimum=1),
    Option(f"{PREFIX}.precision", "precision", "auto", "auto", "[auto / float32 / bfloat16]",
           "bfloat16 on CPUs with AMX or AVX512-BF16, float32 otherwise", _lower,
           ("--precision",), dict(choices=list(PRECISIONS))),
    Option(f"{PREFIX}.augment", "augment", "auto", "auto", "[auto / 1 / 2 / 4 / 8]",
           "average the network over this many rotated and mirrored copies of the data (test-time "
           "augmentation: slightly more accurate, fewer false detections; each copy costs one more "
           "network pass); auto: 8 copies up to 2 million pixels x 9-date windows (e.g. 300 x 300 px "
           "and 30 dates), 4 up to 4 million, 2 up to 8 million, 1 pass above (a 1000 x 1000 frame "
           "from 17 dates on)", _augment,
           ("--augment",), dict(choices=list(AUGMENTS), type=str.lower)),
    Option(f"{PREFIX}.scales", "scales", "2", 2, "[1 / 2]",
           "2: also denoise the frame averaged over 2 x 2 pixels (twice the view) and take its long "
           "wavelengths where the full-resolution maps are not significant: less of the atmosphere's "
           "long wavelengths passes (docs/real_data.md, 'A second, coarser pass'); costs 1.2-1.4 times "
           "the network work of one pass (more where --ram leaves thin row blocks), one more read of the "
           "input and a temporary file next to the output", _scales,
           ("--scales",), dict(type=int, choices=[1, 2])),
    Option(f"{PREFIX}.saveCumulative", "save_cumulative", "yes", True, "[yes / no]",
           "save the moving-window cumulative maps (cumulative_*_DLAE.h5)", _bool,
           ("--no-cumulative",), dict(action="store_false"),
           flag_help="do not write the moving-window cumulative maps"),
    Option(f"{PREFIX}.saveUncertainty", "save_uncertainty", "yes", True, "[yes / no]",
           "save the variance of the denoised series (timeseriesVar_*_DLAE.h5, for "
           "timeseries2velocity.py --uq covariance --ts-cov) and, with the cumulative maps, their "
           "std and significance (cumulativeStd_*, significance_*)", _bool,
           ("--no-uncertainty",), dict(action="store_false"),
           flag_help="do not write the uncertainty outputs (timeseriesVar_*.h5 for "
                     "timeseries2velocity.py --uq covariance, cumulativeStd_* and significance_* "
                     "maps)"),
    Option(f"{PREFIX}.saveRemoved", "save_removed", "no", False, "[yes / no]",
           "save what was removed, input minus output (timeseriesRemoved_*_DLAE.h5)", _bool,
           ("--save-removed",), dict(action="store_true"),
           flag_help="also write what was removed, input minus output (timeseriesRemoved_*.h5)"),
    # MintPy's compute options: its keys, flags (arg_utils) and auto values
    Option("mintpy.compute.maxMemory", "max_memory", "4", 4.0, parse=_float, dest="maxMemory",
           minimum=1e-12),
    Option("mintpy.compute.cluster", "cluster", "none", None, parse=_cluster, dest="cluster"),
    Option("mintpy.compute.numWorker", "num_worker", "4", "4", parse=_str, dest="numWorker"),
    Option("mintpy.compute.config", "config_name", "none", None, parse=_optional_path,
           dest="config"),
)
BY_KEY = {o.key: o for o in OPTIONS}
COMPUTE_KEYS = tuple(o.key for o in OPTIONS if not o.in_template)


def package_file(package, name):
    """Path of a data file shipped in ``mintpy_dlae.<package>`` (works after pip install).

    In a source checkout the top-level ``pretrained/`` folder is not yet mapped to
    ``mintpy_dlae.pretrained``; fall back to it.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = []
    try:
        candidates.append(str(resources.files(f"mintpy_dlae.{package}").joinpath(name)))
    except ModuleNotFoundError:
        pass
    candidates += [os.path.join(here, package, name),
                   os.path.join(os.path.dirname(here), package, name)]
    return next((p for p in candidates if os.path.isfile(p)), candidates[0])


def template_text():
    """The commented mintpy.dlae.* block users add to their template (from :data:`OPTIONS`)."""
    return TEMPLATE_HEADER + "\n".join(o.template_line() for o in OPTIONS if o.in_template) + "\n"


def template_help():
    """The template keys, for ``mintpy_dlae.py -h``."""
    dlae = [o.key.split(".")[-1] for o in OPTIONS if o.in_template and o.key != PREFIX]
    compute = [o.key.split(".")[-1] for o in OPTIONS if not o.in_template]
    return (f"template options (-t, keys of `smallbaselineApp_dlae.py -H`; command-line options win):\n"
            f"  {PREFIX}.{' / '.join(dlae)}\n  mintpy.compute.{' / '.join(compute)}\n")


def is_dlae_key(key):
    return key == PREFIX or key.startswith(PREFIX + ".") or key in COMPUTE_KEYS


def resolve_template(template):
    """Resolve raw ``key = value`` strings: table defaults < ``template``; ``auto`` -> the table's
    auto value (MintPy's own for mintpy.compute.*, through its ``check_template_auto_value``).

    ``template`` is a dict (other keys are ignored) or a template file path. Returns a dict of the
    table's keys with yes/no/none turned into True/False/None, as MintPy's smallbaselineApp does.
    Retired keys (:data:`DEPRECATED`) are dropped, with a warning when set to anything but auto;
    other ``mintpy.dlae.*`` keys that are not options (a misspelling) are dropped with a warning that
    names the closest option.
    """
    from mintpy.utils import readfile
    from mintpy.utils import utils1 as ut

    if isinstance(template, (str, os.PathLike)):
        if not os.path.isfile(template):
            raise DlaeConfigError(f"template file not found: {template}")
        template = readfile.read_template(os.fspath(template))
    opts = {o.key: "auto" for o in OPTIONS}
    for key, value in (template or {}).items():
        if key in DEPRECATED:
            if str(value).strip().lower() not in ("auto", "default", "def"):
                log.warning("%s = %s is obsolete and ignored: %s", key, value, DEPRECATED[key])
            continue
        if not is_dlae_key(key):
            continue
        if key not in opts:
            import difflib
            near = difflib.get_close_matches(key, list(opts), n=1)
            log.warning("%s = %s is not a mintpy_dlae option and is ignored%s (smallbaselineApp_dlae.py -H "
                        "lists them)", key, value, f"; did you mean {near[0]}?" if near else "")
            continue
        if isinstance(value, bool):
            value = "yes" if value else "no"
        elif value is None:
            value = "none"
        value = str(value).strip()
        opts[key] = _LOOSE.get(value.lower(), value)
    for o in OPTIONS:
        if o.in_template and opts[o.key] == "auto":
            opts[o.key] = o.auto
    return ut.check_template_auto_value(opts)


def add_arguments(parser):
    """The table's ``mintpy_dlae.py`` flags (all default None: not given -> template or auto)."""
    for o in OPTIONS:
        if o.flags:
            text = "\n".join(textwrap.wrap(o.flag_help or o.doc, 60, break_on_hyphens=False))
            parser.add_argument(*o.flags, dest=o.field, default=None,
                                help=f"{text}\n(template: {o.key} = yes/no; auto: {o.auto})"
                                if o.parse is _bool else f"{text}\n(template: {o.key}; default: {o.auto})",
                                **o.cli)
    # retired flag, accepted so that old scripts keep running
    parser.add_argument("--no-calibrate", dest="calibrate", action="store_false", default=None,
                        help=argparse.SUPPRESS)
    return parser


def check_arguments(inps, error):
    """Range checks of the parsed flags; ``error`` is ``parser.error``."""
    for o in OPTIONS:
        value = getattr(inps, o.arg_dest, None)
        if o.minimum is not None and value is not None and not (value >= o.minimum and math.isfinite(value)):
            flag = o.flags[0] if o.flags else "--ram"
            error(f"{flag} {value}: expected >= {o.minimum:g}" if o.minimum >= 1
                  else f"{flag} {value}: expected a positive number of GB")


class _ConfigMethods:
    """Methods of :class:`DlaeConfig` (its fields come from :data:`OPTIONS`)."""

    def __post_init__(self):
        self.validate()

    @classmethod
    def from_template(cls, template):
        """Build from a template file or dict (raw strings or MintPy-resolved values)."""
        return cls.from_resolved(resolve_template(template))

    @classmethod
    def from_resolved(cls, resolved):
        """Build from the dict that :func:`resolve_template` returns."""
        return cls(**{o.field: o.parse(o.key, resolved[o.key]) for o in OPTIONS})

    @classmethod
    def from_args(cls, inps):
        """Build from the argparse namespace of ``mintpy_dlae.py``: the template (``-t``), if any,
        then every flag that was given; ``enabled`` is always True."""
        template = getattr(inps, "template_file", None)
        cfg = cls.from_template(template) if template else cls()
        if getattr(inps, "calibrate", None) is not None:
            log.warning("--no-calibrate is obsolete and ignored: %s", DEPRECATED[f"{PREFIX}.calibrate"])
        cfg.enabled = True
        for o in OPTIONS:
            value = getattr(inps, o.arg_dest, None)
            if value is not None and o.key != PREFIX:
                setattr(cfg, o.field, o.parse(o.key, value))
        if cfg.model not in MODEL_NAMES:
            cfg.model = os.path.expanduser(cfg.model)
        return cfg.validate()

    def validate(self):
        def bad(key, value, want):
            raise DlaeConfigError(f"{key} = {value!r}: expected {want}")

        for o in OPTIONS:
            value = getattr(self, o.field)
            if o.minimum is not None:
                ok = isinstance(value, (int, float)) and not isinstance(value, bool)
                if o.parse is _int:
                    ok = isinstance(value, int) and not isinstance(value, bool)
                if not ok or not math.isfinite(value) or value < o.minimum:
                    bad(o.key, value, f"an integer >= {o.minimum:g}" if o.parse is _int else "> 0")
        if self.precision not in PRECISIONS:
            bad(f"{PREFIX}.precision", self.precision, " / ".join(PRECISIONS))
        if str(self.augment) not in AUGMENTS:
            bad(f"{PREFIX}.augment", self.augment, " / ".join(AUGMENTS))
        if self.scales not in (1, 2) or isinstance(self.scales, bool):
            bad(f"{PREFIX}.scales", self.scales, "1 / 2")
        if not self.model:
            bad(f"{PREFIX}.model", self.model, "fault / mogi / path to a .keras file")
        workers = str(self.num_worker).strip().lower()
        if workers != "all" and not (workers.isdigit() and int(workers) >= 1):
            bad("mintpy.compute.numWorker", self.num_worker, "a positive integer or all")
        if self.cluster is not None and self.cluster not in CLUSTERS:
            raise DlaeConfigError(f"mintpy.compute.cluster = {self.cluster!r}: expected one of "
                                  f"{CLUSTERS} or none")
        return self

    @property
    def model_is_file(self):
        return self.model not in MODEL_NAMES

    def to_attrs(self):
        """Options recorded on the outputs as ``mintpy.dlae.*`` attributes (strings)."""
        attrs = {}
        for o in OPTIONS:
            if not o.in_template:
                continue
            value = getattr(self, o.field)
            if o.field == "enabled":
                value = "yes"
            elif o.field == "model":
                value = os.path.basename(value) if self.model_is_file else value
            elif o.field == "mask_file":
                value = os.path.basename(value) if value else "no"
            elif isinstance(value, bool):
                value = "yes" if value else "no"
            attrs[o.key] = str(value)
        return attrs


DlaeConfig = dataclasses.make_dataclass(
    "DlaeConfig", [(o.field, object, dataclasses.field(default=o.default)) for o in OPTIONS],
    bases=(_ConfigMethods,), namespace={"__module__": __name__,
                                        "__doc__": "Typed mintpy.dlae.* options (plus MintPy's "
                                                   "compute options): one field per row of OPTIONS."})


# ------------------------------------------------------------------------------------------------
# compute precision (no TensorFlow needed to decide it)
def cpu_supports_bf16():
    """True when the CPU has native bfloat16 matrix instructions (AMX-BF16 or AVX512-BF16)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return ("amx_bf16" in flags) or ("avx512_bf16" in flags)


def resolve_precision(precision="auto"):
    """'float32' or 'bfloat16' for ``precision`` ('auto': bfloat16 where :func:`cpu_supports_bf16`).
    Raises ValueError for anything else."""
    if precision == "auto":
        return "bfloat16" if cpu_supports_bf16() else "float32"
    if precision not in ("float32", "bfloat16"):
        raise ValueError(f"precision must be 'auto', 'float32' or 'bfloat16'; received precision={precision!r}")
    return precision


# ------------------------------------------------------------------------------------------------
# what every command does before its work starts: quiet TensorFlow, MintPy-style log lines
# ------------------------------------------------------------------------------------------------
# TensorFlow's C++ start-up lines (oneDNN notes, CPU feature lists, the "failed call to cuInit"
# error of a CPU-only machine) are logged before any Python code can filter them; these variables
# must be set before TensorFlow is imported. A value the user set is kept (TF_CPP_MIN_LOG_LEVEL=0
# brings everything back).
QUIET_TF_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",          # C++ INFO, WARNING and ERROR lines (cuInit, oneDNN)
    "TF_CPP_MAX_VLOG_LEVEL": "-1",
    "ABSL_MIN_LOG_LEVEL": "3",            # absl logging of XLA / StreamExecutor
    "GRPC_VERBOSITY": "ERROR",
    "KMP_WARNINGS": "0",
}


def quiet_tensorflow(environ=None):
    """Silence TensorFlow/absl/CUDA start-up noise (call before TensorFlow is imported)."""
    environ = os.environ if environ is None else environ
    for key, value in QUIET_TF_ENV.items():
        environ.setdefault(key, value)
    import logging
    for name in ("tensorflow", "absl", "h5py._conv"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return environ


class _LevelFormatter:
    """'message' for INFO, 'WARNING: message' / 'ERROR: message' above (MintPy's style)."""

    def __init__(self):
        import logging
        self._plain = logging.Formatter("%(message)s")
        self._tagged = logging.Formatter("%(levelname)s: %(message)s")

    def format(self, record):
        import logging
        return (self._tagged if record.levelno >= logging.WARNING else self._plain).format(record)


def setup_logging(level=None, stderr=False):
    """Send the mintpy_dlae log to the current ``sys.stdout`` (``sys.stderr`` with ``stderr``), as
    MintPy's scripts print: 'message' for INFO, 'WARNING: message' above.  ``level``: the logger's
    level (default INFO; ``logging.WARNING`` keeps only the warnings, for a script that prints its
    own progress).  Returns the 'mintpy_dlae' logger; a second call does not add a second handler
    (it sets the stream and level of the first)."""
    import logging
    import sys

    class _Current(logging.StreamHandler):
        """The stream at each record (pytest's capsys and Dask swap sys.stdout / sys.stderr)."""
        to_stderr = False

        @property
        def stream(self):
            return sys.stderr if self.to_stderr else sys.stdout

        @stream.setter
        def stream(self, value):
            pass

    logger = logging.getLogger("mintpy_dlae")
    handler = next((h for h in logger.handlers if getattr(h, "_dlae_cli", False)), None)
    if handler is None:
        handler = _Current()
        handler._dlae_cli = True
        handler.setFormatter(_LevelFormatter())
        logger.addHandler(handler)
    handler.to_stderr = stderr
    logger.setLevel(level or logging.INFO)
    return logger


# TensorFlow >= 2.17 logs its start-up lines through absl before absl's logging is initialised,
# and those ignore TF_CPP_MIN_LOG_LEVEL: they are caught on file descriptor 2 while TensorFlow is
# imported and its devices are set up, and every other line is passed on unchanged.
_NOISE = (r"^WARNING: All log messages before absl::InitializeLog\(\) is called",
          r"^[IWE]\d{4} \d+:\d+:\d+\.\d+\s+\d+ \S+:\d+\] ",          # absl/glog format
          r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWE] \S+:\d+\] ",    # older TensorFlow format
          r"^To enable the following instructions: .* rebuild TensorFlow",
          r"^TF-TRT Warning")


def is_tf_noise(line):
    import re
    return any(re.search(p, line) for p in _NOISE)


def import_tensorflow_quietly():
    """Import TensorFlow and initialise its devices with the start-up noise filtered out of
    stderr (see QUIET_TF_ENV); other stderr lines are passed on. TF_CPP_MIN_LOG_LEVEL=0 shows all."""
    import sys
    import tempfile
    quiet_tensorflow()
    if "tensorflow" in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0":
        import tensorflow as tf
        return tf
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        import tensorflow as tf
        return tf
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            import tensorflow as tf
            tf.config.list_physical_devices()      # CUDA initialisation (cuInit) happens here
        finally:
            try:
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode(errors="replace")
    kept = [line for line in text.splitlines() if line.strip() and not is_tf_noise(line)]
    if kept:
        print("\n".join(kept), file=sys.stderr)
    return tf
