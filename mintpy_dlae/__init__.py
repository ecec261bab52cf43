"""mintpy_dlae: deep-learning auto-encoder denoising of MintPy InSAR time series.

Implements the convolutional auto-encoder of Rouet-Leduc et al. (2021, Nat. Commun. 12:6480) as a
MintPy plugin.  The public API is imported lazily so that ``import mintpy_dlae`` and the command-line
``-h`` stay fast and do not import TensorFlow::

    from mintpy_dlae import denoise, load_model, synthetic
    res = denoise(ts, elevation, model="fault")   # ts: (n, H, W) metres, n >= 9
    res.timeseries, res.cumulative
"""
import importlib

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
