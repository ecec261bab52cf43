"""Console-script launchers for mintpy_dlae.

Why this module exists: pip installs the console script ``mintpy_dlae.py`` into ``bin/``.  When any
script in that folder runs, Python puts ``bin/`` first on ``sys.path``, so ``import mintpy_dlae``
would find the *script* ``bin/mintpy_dlae.py`` instead of the package and every command would fail
with "'mintpy_dlae' is not a package".  The entry points therefore target this differently named
module, which drops the script folder from ``sys.path`` (and any wrongly imported script module)
before importing the real package.  Other programs in ``bin/`` (``pytest``, ``ipython``) that import
``mintpy_dlae`` would import the script instead; the script imports this module first, which then
swaps the real package in (:func:`_replace_shadow`).
"""
import os
import sys


def _replace_shadow():
    """Called at import time.  If ``bin/mintpy_dlae.py`` is being imported *as the module*
    ``mintpy_dlae`` (any other program in ``bin/``, e.g. ``pytest``, doing ``import mintpy_dlae``),
    that script imports this launcher first: drop the script folder from ``sys.path`` and put the
    real package in ``sys.modules``.  Python's import system returns whatever ``sys.modules`` holds
    once the module has executed, so the importer receives the package."""
    shadow = sys.modules.get("mintpy_dlae")
    path = getattr(shadow, "__file__", None) or ""
    if shadow is None or hasattr(shadow, "__path__") or os.path.basename(path) != "mintpy_dlae.py":
        return
    _drop_script_dirs()
    del sys.modules["mintpy_dlae"]
    import importlib
    sys.modules["mintpy_dlae"] = importlib.import_module("mintpy_dlae")


def _drop_script_dirs():
    """Remove from sys.path every folder that holds a ``mintpy_dlae.py`` script but not the package."""
    def shadows(p):
        folder = os.path.abspath(p or os.curdir)
        return (os.path.isfile(os.path.join(folder, "mintpy_dlae.py"))
                and not os.path.isdir(os.path.join(folder, "mintpy_dlae")))
    sys.path[:] = [p for p in sys.path if not shadows(p)]


def _unshadow():
    """Make sure ``import mintpy_dlae`` resolves to the package, not to bin/mintpy_dlae.py."""
    _drop_script_dirs()
    mod = sys.modules.get("mintpy_dlae")
    if mod is not None and not hasattr(mod, "__path__"):
        del sys.modules["mintpy_dlae"]


# Set before TensorFlow can be imported (same values as mintpy_dlae.config.QUIET_TF_ENV): its C++
# start-up lines, e.g. "failed call to cuInit" on a CPU-only machine, cannot be filtered later.
# Values the user set are kept (TF_CPP_MIN_LOG_LEVEL=0 shows everything).
QUIET_TF_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_CPP_MAX_VLOG_LEVEL": "-1",
                "ABSL_MIN_LOG_LEVEL": "3", "GRPC_VERBOSITY": "ERROR", "KMP_WARNINGS": "0"}


def _run(module, iargs=None):
    """Run ``mintpy_dlae.cli.<module>.main``; return an exit status (0 unless main returns an int)."""
    for key, value in QUIET_TF_ENV.items():
        os.environ.setdefault(key, value)
    _unshadow()
    import importlib
    ret = importlib.import_module(f"mintpy_dlae.cli.{module}").main(iargs)
    return ret if isinstance(ret, int) else 0


def denoise(iargs=None):
    return _run("denoise", iargs)


def smallbaselineApp_dlae(iargs=None):  # noqa: N802 (MintPy naming)
    return _run("smallbaselineApp_dlae", iargs)


def train(iargs=None):
    return _run("train", iargs)


def evaluate(iargs=None):
    return _run("evaluate", iargs)


def demo(iargs=None):
    return _run("demo", iargs)


_replace_shadow()
