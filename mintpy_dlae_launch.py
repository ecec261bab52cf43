"""Console-script launchers for mintpy_dlae.

Why this module exists: pip installs the console script ``mintpy_dlae.py`` into ``bin/``.  When any
script in that folder runs, Python puts ``bin/`` first on ``sys.path``, so ``import mintpy_dlae``
would find the *script* ``bin/mintpy_dlae.py`` instead of the package and every command would fail
with "'mintpy_dlae' is not a package".  The entry points therefore target this differently named
module, which drops the script folder from ``sys.path`` (and any wrongly imported script module)
before importing the real package.
"""
import os
import sys


def _unshadow():
    """Make sure ``import mintpy_dlae`` resolves to the package, not to bin/mintpy_dlae.py."""
    script_dir = os.path.dirname(os.path.abspath(sys.argv[0])) if sys.argv and sys.argv[0] else None
    if script_dir and os.path.isfile(os.path.join(script_dir, "mintpy_dlae.py")):
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != script_dir]
    mod = sys.modules.get("mintpy_dlae")
    if mod is not None and not hasattr(mod, "__path__"):
        del sys.modules["mintpy_dlae"]


def _run(module, iargs=None):
    """Run ``mintpy_dlae.cli.<module>.main``; return an exit status (0 unless main returns an int)."""
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
