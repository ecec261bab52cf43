"""Console scripts of mintpy_dlae (argparse only at import: ``-h`` never imports TensorFlow)."""
import contextlib
import signal
import sys


@contextlib.contextmanager
def sigterm_unwinds():
    """While inside: SIGTERM (``timeout``, SLURM/PBS at the wall-time limit) raises SystemExit(143)
    in the main thread, so ``finally`` blocks and the atomic writers remove their temporary files, as
    Ctrl-C does; the previous handler is put back on the way out. Outside the main thread (a library
    call from a worker thread) nothing is changed."""
    try:
        old = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old if old is not None else signal.SIG_DFL)
