"""Terrain patches: real SRTM-like topography shipped with matplotlib, and fractal surfaces.

Real DEM: ``jacksboro_fault_dem.npz`` (Jacksboro fault, Tennessee; 344 x 403 px, 3 arc-second,
236-1076 m), which matplotlib ships in its wheel, so it loads offline.  Crops get random flips and
rotations, relief scaling and offsets.  Fractal DEM: Gaussian fields with a steep power spectrum
(2-D slope 3 to 4.7; the Jacksboro DEM measures 4.7, a Brownian surface is 4), optionally with
valley-shaping.  Relief ranges from nearly flat (a few metres, e.g. a sedimentary basin) to
mountainous (several hundred metres of std over a patch).
"""
import functools

import numpy as np

from .atmosphere import dihedral, spectral_fields


@functools.lru_cache(maxsize=1)
def jacksboro_dem():
    """The real DEM that matplotlib ships (float32 metres, row 0 = north)."""
    from matplotlib import cbook
    with cbook.get_sample_data("jacksboro_fault_dem.npz") as data:
        return np.asarray(data["elevation"], dtype=np.float32)


def real_patches(n, size, rng):
    """Random crops of the Jacksboro DEM with flips/rotations, relief scaled x0.05-3 (log-uniform).

    ``rng``: a ``numpy.random.Generator``.  Returns float32 (n, size, size) metres, each patch with
    zero mean (the caller adds the base elevation).  Raises ValueError when ``size`` exceeds the
    DEM's shorter side (344 px).
    """
    dem = jacksboro_dem()
    if size > min(dem.shape):
        raise ValueError(f"real_patches: size={size} larger than the sample DEM {dem.shape}")
    y0 = rng.integers(0, dem.shape[0] - size + 1, size=n)
    x0 = rng.integers(0, dem.shape[1] - size + 1, size=n)
    idx = np.arange(size)
    p = dem[(y0[:, None] + idx)[:, :, None], (x0[:, None] + idx)[:, None, :]]
    p = dihedral(p, rng)
    p = p - p.mean(axis=(1, 2), keepdims=True)
    relief = np.exp(rng.uniform(np.log(0.05), np.log(3.0), size=(n, 1, 1)))
    return (p * relief).astype(np.float32)


def fractal_patches(n, size, rng, slope=(3.0, 4.7), relief_std=(2.0, 300.0)):
    """Fractal terrain: steep-spectrum Gaussian fields, std log-uniform in ``relief_std`` (m)."""
    out = np.empty((n, size, size), np.float32)
    slopes = rng.uniform(*slope, size=n)
    # a handful of distinct spectra per call keeps this fast
    groups = np.digitize(slopes, np.linspace(*slope, 6))
    for g in np.unique(groups):
        sel = groups == g
        out[sel] = spectral_fields(int(sel.sum()), (size, size), rng, float(slopes[sel].mean()), np.inf, pad=2)
    # valley shaping: raise the normalised surface to a power in [1, 2]
    valley = rng.random(n) < 0.3
    if valley.any():
        v = out[valley]
        lo = v.min(axis=(1, 2), keepdims=True)
        hi = v.max(axis=(1, 2), keepdims=True)
        u = (v - lo) / (hi - lo + 1e-12)
        v = u ** rng.uniform(1.0, 2.0, size=(len(v), 1, 1))
        out[valley] = (v - v.mean(axis=(1, 2), keepdims=True)) / (v.std(axis=(1, 2), keepdims=True) + 1e-12)
    std = np.exp(rng.uniform(*np.log(relief_std), size=(n, 1, 1)))
    return (out * std).astype(np.float32)


def random_dem(n, size, rng, real_fraction=0.5, base=(0.0, 3000.0), steep=0.0, steep_relief=(400.0, 3000.0)):
    """Mix of real and fractal patches with a random base elevation (m).

    Returns float32 (n, size, size) metres: a fraction ``real_fraction`` (on average) of
    :func:`real_patches`, the rest :func:`fractal_patches`, each shifted so that its lowest pixel is
    at a base elevation drawn uniformly in ``base`` (m).  ``rng``: a ``numpy.random.Generator``.

    ``steep``: fraction of patches rescaled to mountain relief, their 1-99 % height range drawn
    log-uniformly in ``steep_relief`` (m): volcano flanks and ranges where the stratified delay
    is largest (the default draws have a median range near 100 m and 10 % above 700 m).  The range
    is not tied to the pixel size, which the caller draws separately: at 20 m pixels 3000 m over a
    40 px patch is steeper than real terrain (the network sees elevation standardised over a 41 px
    box, so the slope itself is not an input; the stratified delay's size is).  With ``steep=0``
    the draws are those of earlier versions.
    """
    real = rng.random(n) < real_fraction
    out = np.empty((n, size, size), np.float32)
    if real.any():
        out[real] = real_patches(int(real.sum()), size, rng)
    if (~real).any():
        out[~real] = fractal_patches(int((~real).sum()), size, rng)
    if steep > 0:
        sel = rng.random(n) < steep
        if sel.any():
            p = out[sel]
            rng_now = np.percentile(p, 99, axis=(1, 2)) - np.percentile(p, 1, axis=(1, 2))
            want = np.exp(rng.uniform(*np.log(steep_relief), size=len(p)))
            out[sel] = p * (want / np.maximum(rng_now, 1e-6))[:, None, None].astype(np.float32)
    out -= out.min(axis=(1, 2), keepdims=True)
    out += rng.uniform(*base, size=(n, 1, 1)).astype(np.float32)
    return out


def add_edifices(elevation, field, rng, relief=(300.0, 2500.0), width=(0.6, 1.5), exponent=(1.0, 2.5)):
    """Raise a volcanic edifice over each deformation field: ``elevation`` (n, S, S) metres, changed in
    place and returned; ``field`` (n, S, S) the displacement whose largest |value| sets the summit.

    The edifice h(r) = R exp(-(r / w)^p) is centred on the pixel of largest |field|, with R drawn
    uniformly in ``relief`` (m), p in ``exponent`` (1 a cone, 2 a Gaussian dome) and w = U(``width``)
    times the radius of the area where |field| exceeds half its peak (at least 2 px): a source under
    the summit, whose uplift or subsidence follows the relief as a stratified delay of one sign would
    (Mogi sources under a volcano; a thrust under the range it builds).  The patch's own relief
    stays on top as texture, which the delay follows and the deformation does not.  Rows whose field
    is all zero are left as they are.  ``rng``: a ``numpy.random.Generator``.
    """
    n, S, _ = elevation.shape
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float32)
    R = rng.uniform(*relief, size=n)
    f = rng.uniform(*width, size=n)
    p = rng.uniform(*exponent, size=n)
    for i in range(n):
        a = np.abs(field[i])
        top = a.max()
        if not top > 0:
            continue
        cy, cx = np.unravel_index(int(a.argmax()), a.shape)
        w = max(2.0, f[i] * np.sqrt((a >= 0.5 * top).sum() / np.pi))
        r = np.hypot(yy - cy, xx - cx) / w
        elevation[i] += (R[i] * np.exp(-r ** p[i])).astype(elevation.dtype)
    return elevation
