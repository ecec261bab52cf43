"""The ``mintpy.dlae.*`` options as one typed object.

A :class:`DlaeConfig` is built either from a smallbaselineApp template (a file or a dict of
``key = value`` strings, ``auto`` resolved from ``mintpy_dlae/defaults/dlae_auto.cfg`` through
MintPy's own ``check_template_auto_value``) or from the ``mintpy_dlae.py`` command line. Compute
options reuse MintPy's ``mintpy.compute.maxMemory / cluster / numWorker / config`` keys.

Template keys (``templates/dlae.cfg`` is the block users paste into their template)::

    mintpy.dlae                = auto  #[yes / no], auto for no
    mintpy.dlae.model          = auto  #[fault / mogi / path to a .keras file], auto for fault
    mintpy.dlae.calibrate      = auto  #[yes / no], auto for yes
    mintpy.dlae.maskFile       = auto  #[filename / no], auto for no
    mintpy.dlae.tileSize       = auto  #[int >= 32], auto for 256
    mintpy.dlae.batchSize      = auto  #[int], auto for 32
    mintpy.dlae.precision      = auto  #[float32 / bfloat16], auto for bfloat16 on CPUs with AMX or AVX512-BF16
    mintpy.dlae.saveCumulative = auto  #[yes / no], auto for yes
    mintpy.dlae.saveRemoved    = auto  #[yes / no], auto for no
"""
import dataclasses
import os
from importlib import resources

PREFIX = "mintpy.dlae"
COMPUTE_KEYS = ("mintpy.compute.maxMemory", "mintpy.compute.cluster",
                "mintpy.compute.numWorker", "mintpy.compute.config")
MODEL_NAMES = ("fault", "mogi")
PRECISIONS = ("auto", "float32", "bfloat16")
CLUSTERS = ("local", "slurm", "pbs", "lsf")
MIN_TILE_SIZE = 16
# loose spellings accepted in templates, as in mintpy/smallbaselineApp.py:_read_template
_LOOSE = {"def": "auto", "default": "auto", "y": "yes", "on": "yes", "true": "yes",
          "n": "no", "off": "no", "false": "no"}


class DlaeConfigError(ValueError):
    """An invalid mintpy.dlae.* option: the message names the key and the value."""


def package_file(package, name):
    """Path of a data file shipped in ``mintpy_dlae.<package>`` (works after pip install).

    In a source checkout the top-level ``templates/`` and ``pretrained/`` folders are not yet
    mapped to ``mintpy_dlae.templates`` / ``mintpy_dlae.pretrained``; fall back to them.
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


def auto_file():
    """Absolute path of defaults/dlae_auto.cfg (usable as MintPy's ``auto_file``)."""
    return os.path.abspath(package_file("defaults", "dlae_auto.cfg"))


def default_template_file():
    """Path of defaults/dlae.cfg, the section appended to the work-dir smallbaselineApp.cfg."""
    return package_file("defaults", "dlae.cfg")


def template_text():
    """The commented option block of templates/dlae.cfg (for ``-h`` and the docs)."""
    with open(package_file("templates", "dlae.cfg")) as f:
        return f.read()


def is_dlae_key(key):
    return key == PREFIX or key.startswith(PREFIX + ".") or key in COMPUTE_KEYS


def resolve_template(template):
    """Resolve raw ``key = value`` strings: defaults < ``template``; ``auto`` -> dlae_auto.cfg.

    ``template`` is a dict (other keys are ignored) or a template file path. Returns a dict of the
    mintpy.dlae.* and mintpy.compute.* keys with yes/no/none turned into True/False/None, exactly
    as MintPy's smallbaselineApp does for its own keys.
    """
    from mintpy.utils import readfile
    from mintpy.utils import utils1 as ut

    if isinstance(template, (str, os.PathLike)):
        if not os.path.isfile(template):
            raise DlaeConfigError(f"template file not found: {template}")
        template = readfile.read_template(os.fspath(template))
    opts = {k: "auto" for k in readfile.read_template(default_template_file())}
    opts.update({k: "auto" for k in COMPUTE_KEYS})
    for key, value in (template or {}).items():
        if not is_dlae_key(key):
            continue
        if isinstance(value, bool):
            value = "yes" if value else "no"
        elif value is None:
            value = "none"
        value = str(value).strip()
        opts[key] = _LOOSE.get(value.lower(), value)
    return ut.check_template_auto_value(opts, auto_file=auto_file())


@dataclasses.dataclass
class DlaeConfig:
    """Typed mintpy.dlae.* options (plus MintPy's compute options)."""

    enabled: bool = False
    model: str = "fault"
    calibrate: bool = True
    mask_file: str | None = None
    tile_size: int = 256
    batch_size: int = 32
    precision: str = "auto"
    save_cumulative: bool = True
    save_removed: bool = False
    max_memory: float = 4.0
    cluster: str | None = None
    num_worker: str = "4"
    config_name: str | None = None

    def __post_init__(self):
        self.validate()

    # ---------------------------------------------------------------- builders
    @classmethod
    def from_template(cls, template):
        """Build from a template file or dict (raw strings or MintPy-resolved values)."""
        t = resolve_template(template)
        return cls(
            enabled=_bool(t, PREFIX),
            model=_model(t[f"{PREFIX}.model"]),
            calibrate=_bool(t, f"{PREFIX}.calibrate"),
            mask_file=_optional_path(t[f"{PREFIX}.maskFile"]),
            tile_size=_int(t, f"{PREFIX}.tileSize"),
            batch_size=_int(t, f"{PREFIX}.batchSize"),
            precision=str(t[f"{PREFIX}.precision"]).lower(),
            save_cumulative=_bool(t, f"{PREFIX}.saveCumulative"),
            save_removed=_bool(t, f"{PREFIX}.saveRemoved"),
            max_memory=_float(t, "mintpy.compute.maxMemory"),
            cluster=_cluster(t["mintpy.compute.cluster"]),
            num_worker=str(t["mintpy.compute.numWorker"]),
            config_name=_optional_path(t["mintpy.compute.config"]),
        )

    @classmethod
    def from_args(cls, inps):
        """Build from the argparse namespace of ``mintpy_dlae.py`` (see cli/denoise.py)."""
        return cls(
            enabled=True,
            model=_model(inps.model),
            calibrate=inps.calibrate is not False,     # None (--no-calibrate not given): yes
            mask_file=_optional_path(inps.mask_file),
            tile_size=inps.tile_size,
            batch_size=inps.batch_size,
            precision=inps.precision.lower(),
            save_cumulative=inps.save_cumulative,
            save_removed=inps.save_removed,
            max_memory=inps.maxMemory,
            cluster=inps.cluster,
            num_worker=str(inps.numWorker),
            config_name=inps.config,
        )

    # ---------------------------------------------------------------- checks / export
    def validate(self):
        def bad(key, value, want):
            raise DlaeConfigError(f"{PREFIX}.{key} = {value!r}: expected {want}")

        if not isinstance(self.tile_size, int) or self.tile_size < MIN_TILE_SIZE:
            bad("tileSize", self.tile_size, f"an integer >= {MIN_TILE_SIZE}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            bad("batchSize", self.batch_size, "an integer >= 1")
        if self.precision not in PRECISIONS:
            bad("precision", self.precision, " / ".join(PRECISIONS))
        if not self.model:
            bad("model", self.model, "fault / mogi / path to a .keras file")
        if not self.max_memory > 0:
            raise DlaeConfigError(f"mintpy.compute.maxMemory = {self.max_memory!r}: expected > 0")
        if self.cluster is not None and self.cluster not in CLUSTERS:
            raise DlaeConfigError(f"mintpy.compute.cluster = {self.cluster!r}: expected one of "
                                  f"{CLUSTERS} or none")
        return self

    @property
    def model_is_file(self):
        return self.model not in MODEL_NAMES

    def to_attrs(self):
        """Options recorded on the outputs as ``mintpy.dlae.*`` attributes (strings)."""
        yn = {True: "yes", False: "no"}
        return {
            PREFIX: "yes",
            f"{PREFIX}.model": os.path.basename(self.model) if self.model_is_file else self.model,
            f"{PREFIX}.calibrate": yn[bool(self.calibrate)],
            f"{PREFIX}.maskFile": os.path.basename(self.mask_file) if self.mask_file else "no",
            f"{PREFIX}.tileSize": str(self.tile_size),
            f"{PREFIX}.batchSize": str(self.batch_size),
            f"{PREFIX}.precision": self.precision,
            f"{PREFIX}.saveCumulative": yn[bool(self.save_cumulative)],
            f"{PREFIX}.saveRemoved": yn[bool(self.save_removed)],
        }


# -------------------------------------------------------------------- value parsers
def _bool(t, key):
    value = t[key]
    if isinstance(value, bool):
        return value
    raise DlaeConfigError(f"{key} = {value!r}: expected yes / no")


def _int(t, key):
    try:
        return int(str(t[key]))
    except ValueError:
        raise DlaeConfigError(f"{key} = {t[key]!r}: expected an integer") from None


def _float(t, key):
    try:
        return float(str(t[key]))
    except ValueError:
        raise DlaeConfigError(f"{key} = {t[key]!r}: expected a number") from None


def _model(value):
    value = str(value).strip()
    if value.lower() in MODEL_NAMES:
        return value.lower()
    return os.path.expanduser(value)


def _optional_path(value):
    if value in (None, False) or str(value).lower() in ("", "no", "none", "false"):
        return None
    return os.path.expanduser(str(value))


def _cluster(value):
    if value in (None, False) or str(value).lower() in ("none", "no"):
        return None
    return str(value).lower()


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


def setup_logging(level=None):
    """Send the mintpy_dlae log to the current ``sys.stdout``, as MintPy's scripts print."""
    import logging
    import sys

    class _Stdout(logging.StreamHandler):
        @property
        def stream(self):
            return sys.stdout

        @stream.setter
        def stream(self, value):
            pass

    logger = logging.getLogger("mintpy_dlae")
    if not any(getattr(h, "_dlae_cli", False) for h in logger.handlers):
        handler = _Stdout()
        handler._dlae_cli = True
        handler.setFormatter(_LevelFormatter())
        logger.addHandler(handler)
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
