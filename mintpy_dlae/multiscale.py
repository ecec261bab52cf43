"""A second, coarser pass of the network (``denoise(..., scales=2)``; docs/real_data.md, "A second,
coarser pass").

The network sees about 53 px.  Run again on the frame averaged over 2 x 2 pixels, it sees twice as
far, and on the Mexico City noise it passes less of the atmosphere's long wavelengths.  Its output,
interpolated back, replaces the long wavelengths of the full-resolution output only where that
output is not significant, so what the full-resolution pass detects stays as it is:

    out = fine + w * G_s(coarse - fine),   w = clip((Z1 - G_s(|fine| / sigma)) / (Z1 - Z0), 0, 1)

with G_s a Gaussian of ``s`` = BLEND_PX px over the pixels with a value, Z0 = 1 and Z1 = 3 (set
once, before any measurement).  sigma stays the full-resolution one.  Pure numpy / scipy.
"""
import numpy as np
from scipy import ndimage

BLEND_PX = 2.0
KEEP_SIGMA = (1.0, 3.0)
# px of full-resolution output around a pixel that its blend reads: the radius of scipy's Gaussian
# G_s (``truncate`` 4 sigma)
BLEND_MARGIN = int(4.0 * BLEND_PX + 0.5)


def block_halo(receptive, coarse_given=False):
    """Context (px) a block needs around it with scales=2 so that it equals the whole frame, for a
    network of ``receptive`` px of receptive halo.  The full-resolution pass covers the block and
    the blend's margin: ``receptive + BLEND_MARGIN`` px, all that is needed when the coarse maps
    are given (``coarse_given``: ``denoise(..., coarse=...)``, as ``mintpy_dlae.py`` computes them
    once for the frame).  Computing them from the block itself needs the coarse pass's own receptive
    halo in coarse pixels (``2 * receptive`` px), one coarse pixel of interpolation on each side and
    2 px for rounding the block's edges to the 2 x 2 grid: ``2 * receptive + BLEND_MARGIN + 4``."""
    if coarse_given:
        return int(receptive) + BLEND_MARGIN
    return 2 * int(receptive) + BLEND_MARGIN + 4


def coarse_box(box, coarse_shape):
    """The coarse box (y0, y1, x0, x1) whose bilinear interpolation (:func:`upsample2`) covers the
    full-resolution ``box`` without reaching its edge: one coarse pixel beyond it on each side,
    clipped to ``coarse_shape``."""
    y0, y1, x0, x1 = box
    h, w = coarse_shape
    return (max(0, y0 // 2 - 1), min(h, (y1 + 1) // 2 + 1), max(0, x0 // 2 - 1), min(w, (x1 + 1) // 2 + 1))


def block_mean2(data, valid):
    """2 x 2 block means of ``data`` (k, H, W) over the ``valid`` (H, W) pixels, the last row and
    column repeated for odd sizes: ((k, ceil(H/2), ceil(W/2)) float32, (ceil(H/2), ceil(W/2)) bool,
    True where a block holds a valid pixel; 0 elsewhere)."""
    k, H, W = data.shape
    H2, W2 = (H + 1) // 2, (W + 1) // 2
    pad = ((0, 2 * H2 - H), (0, 2 * W2 - W))
    valid = np.asarray(valid, bool)
    v = np.pad(valid, pad, mode="edge").astype(np.int64)
    count = v[0::2, 0::2] + v[1::2, 0::2] + v[0::2, 1::2] + v[1::2, 1::2]
    den = np.maximum(count, 1).astype(np.float64)
    out = np.empty((k, H2, W2), np.float32)
    for t in range(k):                     # one map at a time: temporaries of one map, not of the series
        d = np.pad(np.where(valid, data[t], 0).astype(np.float64), pad, mode="edge")
        out[t] = (d[0::2, 0::2] + d[1::2, 0::2] + d[0::2, 1::2] + d[1::2, 1::2]) / den
    return out, count > 0


def coarse_input(data, valid, elevation):
    """What the coarse pass is given: the 2 x 2 means of ``data`` (n, H, W; filled, 0 off ``valid``)
    and of ``elevation`` (H, W; NaN read as 0, only ``valid`` pixels count) over ``valid`` (H, W).
    Returns (series (n, h, w) float32, elevation (h, w) float32, valid (h, w) bool), h = ceil(H/2)."""
    series, ok = block_mean2(data, valid)
    height, _ = block_mean2(np.nan_to_num(elevation)[None], valid)
    return series, height[0], ok


def upsample2(coarse, shape, offset=(0, 0)):
    """Bilinear 2x of ``coarse`` (k, h, w) to ``shape`` (H, W) (h = ceil(H/2)), each coarse value
    at the centre of its 2 x 2 block (``grid_mode``), NaN left out of the interpolation; NaN where
    less than half of the weight has a value.  ``offset`` (dy, dx): the first output pixel is that
    pixel of the 2x grid (for a coarse block whose full-resolution box starts further in).  Returns
    float32 (k, H, W)."""
    H, W = shape
    dy, dx = offset
    ok = np.isfinite(coarse)
    kw = dict(order=1, mode="nearest", grid_mode=True)
    out = (slice(None), slice(dy, dy + H), slice(dx, dx + W))
    z = ndimage.zoom(np.where(ok, coarse, 0).astype(np.float64), (1, 2, 2), **kw)[out]
    w = ndimage.zoom(ok.astype(np.float64), (1, 2, 2), **kw)[out]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(w > 0.5, z / np.maximum(w, 1e-6), np.nan).astype(np.float32)


def coarse_scales(data, valid, num_dates, max_pixels=250_000):
    """The noise scale (k-8,) of every window of the coarse pass, as :func:`denoise` computes it
    for the 2 x 2 means of ``data`` (n, H, W, no-data 0) over ``valid`` (H, W)
    (:func:`mintpy_dlae.inference.window_scales`; a coarse pixel without change on any date is
    left out, as the coarse pass leaves it out)."""
    from .inference import window_scales
    coarse, ok = block_mean2(data, valid)
    ok &= np.any(coarse != 0, axis=0)
    return window_scales(np.where(ok, coarse, np.float32(0)), ok, num_dates, max_pixels=max_pixels)


def _smooth(a, s):
    """Gaussian of ``s`` px over the finite values of ``a`` (k, H, W); 0 where none is near."""
    ok = np.isfinite(a)
    num = ndimage.gaussian_filter(np.where(ok, a, 0).astype(np.float64), (0, s, s), mode="nearest")
    den = ndimage.gaussian_filter(ok.astype(np.float64), (0, s, s), mode="nearest")
    return np.where(den > 1e-3, num / np.maximum(den, 1e-3), 0.0)


def blend(fine, coarse_up, fine_std=None, s=BLEND_PX, keep=KEEP_SIGMA):
    """``fine`` (k, H, W) with the long wavelengths of ``coarse_up`` (k, H, W, same grid): the
    formula of the module docstring; with ``fine_std`` None, everywhere (w = 1).  NaN in ``fine``
    stays NaN; a NaN of ``coarse_up`` is left out of G_s.  Returns float32 (k, H, W)."""
    fine = np.asarray(fine, np.float32)
    corr = _smooth(coarse_up - fine, s)
    if fine_std is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            z = _smooth(np.abs(fine) / fine_std, s)
        corr *= np.clip((keep[1] - z) / (keep[1] - keep[0]), 0.0, 1.0)
    return np.where(np.isfinite(fine), fine + corr, np.nan).astype(np.float32)
