"""mintpy_dlae: deep-learning auto-encoder denoising of MintPy InSAR time series.

Implements the convolutional auto-encoder of Rouet-Leduc et al. (2021, Nat. Commun. 12:6480) as a
MintPy plugin.  The public API is imported lazily so that ``import mintpy_dlae`` and the command-line
``-h`` stay fast and do not import TensorFlow::

    from mintpy_dlae import denoise, load_model, synthetic
    res = denoise(ts, elevation, model="fault")   # ts: (n, H, W) metres, n >= 9
    res.timeseries, res.cumulative
"""
import importlib
import os

# TensorFlow turns its oneDNN kernels on by default only on x86 CPUs with AVX-512 class features; on
# an AVX2-only CPU (a 2-core AMD EPYC here) the plain kernels train this network 2.25x slower
# (6.7 against 15.1 samples/s, benchmarks/train_speed.py) and have no gradient for natively dilated
# convolutions.  A value the user set is kept; it acts only if TensorFlow is not imported yet.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__version__ = "0.1.0"
__all__ = ["denoise", "load_model", "synthetic", "__version__"]

_LAZY = {
    "denoise": ("mintpy_dlae.inference", "denoise"),
    "load_model": ("mintpy_dlae.model", "load_model"),
    "synthetic": ("mintpy_dlae.synthetic", None),
}


def __getattr__(name):
    if name in _LAZY:
        module, attr = _LAZY[name]
        mod = importlib.import_module(module)
        return mod if attr is None else getattr(mod, attr)
    raise AttributeError(f"module 'mintpy_dlae' has no attribute {name!r}")
