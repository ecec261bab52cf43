"""Tropospheric noise screens: turbulent (spectral Gaussian fields) and stratified (elevation).

Turbulence is a stationary, isotropic Gaussian random field with a von Karman-type power spectrum

    P(k) ~ (k**2 + k0**2) ** (-slope / 2),        k0 = 1 / (2 pi outer_scale)

with k the wavenumber in cycles per pixel (``scipy.fft.fftfreq``) and ``outer_scale`` in pixels, so
that ``slope`` is the 2-D radial PSD slope at wavelengths well below 2 pi ``outer_scale`` (Hanssen
2001: 8/3 to 11/3 between 0.25 and 50 km; an exponential covariance, Lohman & Simons 2005, is slope
3), and the spectrum flattens (finite variance) at wavelengths beyond 1 / k0 = 2 pi ``outer_scale``
pixels: ``outer_scale`` is the corner in angular wavenumber (2 pi k0 = 1 / outer_scale), not in
wavelength.
Fields are made by filtering white noise in the Fourier domain on a padded grid and cropping, so the
periodic wrap-around of the FFT does not show.

Stratified delay is a quadratic of elevation per date (Rouet-Leduc et al. 2021; Emardson et al.
2003 for the linear coefficient, curvature from an exponential refractivity profile).
"""
import functools

import numpy as np
import scipy.fft


@functools.lru_cache(maxsize=8)
def _k2_grid(shape):
    ky = scipy.fft.fftfreq(shape[0])[:, None]
    kx = scipy.fft.rfftfreq(shape[1])[None, :]
    return (kx * kx + ky * ky).astype(np.float32)


def _anisotropic_k2(shape, ratio, angle):
    """k^2 on the rfft2 grid of a field stretched by ``ratio`` along direction ``angle`` (radians):
    wind-elongated turbulence, as seen in many interferograms."""
    ky = scipy.fft.fftfreq(shape[0])[:, None]
    kx = scipy.fft.rfftfreq(shape[1])[None, :]
    ku = kx * np.cos(angle) + ky * np.sin(angle)
    kv = -kx * np.sin(angle) + ky * np.cos(angle)
    return ((ku * ratio) ** 2 + (kv / ratio) ** 2).astype(np.float32)


def _amplitude_filter(shape, slope, outer_scale, k2=None):
    """sqrt(PSD) on the rfft2 grid, DC set to 0 (zero-mean field)."""
    k2 = _k2_grid(tuple(shape)) if k2 is None else k2
    k0 = 1.0 / (2 * np.pi * outer_scale) if np.isfinite(outer_scale) else 0.0
    with np.errstate(divide="ignore"):
        amp = (k2 + np.float32(k0 * k0)) ** np.float32(-slope / 4.0)
    amp[0, 0] = 0.0
    return amp


def spectral_fields(n, shape, rng, slope=8 / 3, outer_scale=np.inf, pad=2):
    """``n`` zero-mean, unit-variance Gaussian fields of ``shape`` (H, W) with the spectrum above.

    The fields are generated on a grid ``pad`` times larger and cropped, then each field is scaled to
    unit standard deviation over the crop.  ``rng``: a ``numpy.random.Generator`` (not a seed);
    ``slope``: the 2-D PSD slope (unitless); ``outer_scale`` in pixels (np.inf: a pure power law).
    Returns float32 (n, H, W), unitless.
    """
    big = (int(shape[0] * pad), int(shape[1] * pad))
    amp = _amplitude_filter(big, slope, outer_scale)
    white = rng.standard_normal((n,) + big, dtype=np.float32)
    field = scipy.fft.irfft2(scipy.fft.rfft2(white) * amp, s=big)[:, :shape[0], :shape[1]]
    field -= field.mean(axis=(1, 2), keepdims=True)
    field /= field.std(axis=(1, 2), keepdims=True) + 1e-12
    return field.astype(np.float32)


def turbulence(n_fields, shape, rng, slope=(8 / 3, 11 / 3), outer_scale=(5.0, 200.0), pad=2):
    """Unit-std turbulent screens for arbitrary ``shape`` (used by the project builder and tests).

    ``slope`` and ``outer_scale`` (pixels) are either numbers or (low, high) ranges; with ranges, each
    field draws its own slope (uniform) and outer scale (log-uniform).
    """
    rng = np.random.default_rng(rng)
    if np.isscalar(slope) and np.isscalar(outer_scale):
        return spectral_fields(n_fields, shape, rng, slope, outer_scale, pad)
    out = np.empty((n_fields,) + tuple(shape), np.float32)
    for i in range(n_fields):
        g = slope if np.isscalar(slope) else rng.uniform(*slope)
        L = outer_scale if np.isscalar(outer_scale) else np.exp(rng.uniform(*np.log(outer_scale)))
        out[i] = spectral_fields(1, shape, rng, g, L, pad)[0]
    return out


def dihedral(patches, rng):
    """Apply a random one of the 8 flips/rotations to each square patch (N, S, S), in place-safe."""
    k = rng.integers(0, 8, size=len(patches))
    out = np.empty_like(patches)
    for t in range(8):
        sel = k == t
        if not sel.any():
            continue
        p = patches[sel]
        if t & 1:
            p = p[:, ::-1, :]
        if t & 2:
            p = p[:, :, ::-1]
        if t & 4:
            p = p.transpose(0, 2, 1)
        out[sel] = p
    return out


def turbulence_patches(n, size, rng, slope=(2.5, 4.0), outer_scale=(2.0, 400.0), big=256, anisotropic=0.3):
    """``n`` square turbulent patches of ``size`` px: a fast batch generator for training.

    Each call makes a few large fields (``big`` x ``big`` px) and cuts them into overlapping patches
    (stride a quarter of the patch) with random flips/rotations, assigned to random samples and
    dates, so patches sharing a field almost never meet in one series.  Each large field
    mixes two spectra (slope and outer scale drawn from the ranges, random weights), so the noise
    carries several length scales.  Patches are standardised to zero mean and unit std; the
    spatial offset of each date is added separately by the caller.  A fraction ``anisotropic`` of
    the large fields is stretched 1.5-4 times along a random direction.
    """
    stride = max(1, size // 4)
    m = (big - size) // stride + 1
    per_field = m * m
    n_big = -(-n // per_field)
    shape = (big, big)
    starts = np.arange(m) * stride
    idx = np.arange(size)
    rows = (starts[:, None] + idx)[:, None, :, None]
    cols = (starts[:, None] + idx)[None, :, None, :]
    pieces = []
    for _ in range(n_big):
        g = rng.uniform(*slope, size=2)
        L = np.exp(rng.uniform(*np.log(outer_scale), size=2))
        w = rng.uniform(0.0, 1.0, size=2) ** 2 + np.array([0.05, 0.0])
        k2 = None
        if rng.random() < anisotropic:
            k2 = _anisotropic_k2(shape, rng.uniform(1.5, 4.0), rng.uniform(0, np.pi))
        p0 = _amplitude_filter(shape, g[0], L[0], k2) ** 2
        p1 = _amplitude_filter(shape, g[1], L[1], k2) ** 2
        amp = np.sqrt(np.float32(w[0] / (p0.sum(dtype=np.float64) + 1e-30)) * p0
                      + np.float32(w[1] / (p1.sum(dtype=np.float64) + 1e-30)) * p1)
        white = rng.standard_normal(shape, dtype=np.float32)
        f = scipy.fft.irfft2(scipy.fft.rfft2(white) * amp, s=shape)
        pieces.append(f[rows, cols].reshape(-1, size, size))
    allp = np.concatenate(pieces)[rng.permutation(n_big * per_field)[:n]]
    allp = dihedral(allp, rng)
    allp -= allp.mean(axis=(1, 2), keepdims=True)
    allp /= allp.std(axis=(1, 2), keepdims=True) + 1e-12
    return allp.astype(np.float32)


def convective_cells(n, size, rng, radius=(1.5, 12.0), count=(2, 40), aspect=(1.0, 2.5)):
    """``n`` square patches (n, size, size) of convective cells: sparse Gaussian-shaped blobs.

    Wet-delay anomalies of cumulus convection are compact cells, up to a couple of cm, that a
    power-law spectrum reproduces poorly (Hanssen 2001, section 4.7: "convective cells"); they look
    like a small bowl on one date.  Each patch holds Poisson(``count`` drawn uniformly) cells placed
    over the patch and a margin, each with a N(0, 1) amplitude, a width (std) log-uniform in
    ``radius`` *pixels* shared by the patch's cells (not tied to the pixel size: 30 m to 1.4 km at
    the training's 20-120 m pixels, so the smaller cells are finer than real ones), stretched up to
    ``aspect`` along one of the grid axes.  Patches are standardised to zero mean and unit std, as
    :func:`turbulence_patches` are.  Dense cells make a Gaussian-covariance field.
    """
    from scipy import ndimage
    out = np.empty((n, size, size), np.float32)
    r = np.exp(rng.uniform(*np.log(radius), size=n))
    asp = rng.uniform(*aspect, size=n)
    lam = rng.uniform(*count, size=n)
    for i in range(n):
        pad = int(np.ceil(3 * r[i] * asp[i]))
        big = np.zeros((size + 2 * pad, size + 2 * pad), np.float64)
        k = max(1, rng.poisson(lam[i] * big.size / size ** 2))
        rows = rng.integers(0, big.shape[0], size=k)
        cols = rng.integers(0, big.shape[1], size=k)
        np.add.at(big, (rows, cols), rng.standard_normal(k))
        sig = (r[i] * asp[i], r[i]) if rng.random() < 0.5 else (r[i], r[i] * asp[i])
        f = ndimage.gaussian_filter(big, sig, mode="constant", truncate=3.0)[pad:pad + size, pad:pad + size]
        f = f - f.mean()
        out[i] = f / (f.std() + 1e-30)
    return out


def stratified(elevation, k1, k2, out=None):
    """Stratified delay s(h) = k1 (h - mean h) + k2 (h - mean h)**2 (h in km, k1 in m/km, k2 in m/km^2).

    ``elevation`` (N, H, W) in metres; ``k1``, ``k2`` (N, T) per sample and date.  Returns (N, T, H, W);
    with ``out`` given, the delay is added to it in place (no temporaries of that size).
    """
    hk = elevation.astype(np.float32) / 1000.0
    hk = hk - hk.mean(axis=(1, 2), keepdims=True)
    hk2 = hk * hk
    if out is None:
        out = np.zeros((len(hk), k1.shape[1]) + hk.shape[1:], np.float32)
    for t in range(k1.shape[1]):
        out[:, t] += k1[:, t, None, None] * hk + k2[:, t, None, None] * hk2
    return out


def random_stratified_coefficients(n, num_dates, rng, incidence=None, sigma_range=(2e-3, 3e-2),
                                   scale_height=(1.5, 3.0), seasonal=0.0, seasonal_range=(2e-3, 2e-2),
                                   interval_days=(6.0, 48.0)):
    """Per-date stratified coefficients with physically consistent curvature.

    k1 ~ N(0, sigma1) with sigma1 log-uniform in ``sigma_range`` (m per km of height, zenith; Emardson
    et al. 2003 measured ~5 mm/km, wet seasons and volcanoes reach a few cm/km), divided by
    cos(incidence).  For an exponential refractivity profile with scale height H, the curvature is
    k2 ~ -k1 / (2H); a 30 % jitter is added.

    ``seasonal``: the fraction of series whose k1 also follows the annual cycle of the lower
    troposphere's water vapour, A sin(2 pi t / 365.25 d + phi): the phase-elevation ratio varies
    seasonally with an amplitude of several mm/km (Doin et al. 2009, J. Appl. Geophys. 69:35-50;
    Jolivet et al. 2014, JGR Solid Earth 119), and a global weather model corrects only part of it.
    A is log-uniform in ``seasonal_range`` (m/km, zenith, divided by cos(incidence)) with a random
    sign, phi uniform, and the acquisitions ``interval_days`` (uniform) apart.  Unlike the white
    per-date part, this delay accumulates over a window like a deformation proportional to
    elevation: only its correlation with the elevation tells it apart.  With ``seasonal=0`` the
    draws are those of earlier versions.

    ``rng``: a ``numpy.random.Generator``; ``incidence``: (n,) degrees, or None (zenith);
    ``scale_height``: the range of H, km.  Returns (k1, k2), float32 (n, num_dates): k1 in m/km and
    k2 in m/km^2, the units :func:`stratified` takes.
    """
    sigma1 = np.exp(rng.uniform(*np.log(sigma_range), size=(n, 1)))
    if incidence is not None:
        sigma1 = sigma1 / np.cos(np.deg2rad(incidence))[:, None]
    k1 = rng.standard_normal((n, num_dates)) * sigma1
    H = rng.uniform(*scale_height, size=(n, 1))
    jitter = rng.standard_normal((n, num_dates))
    if seasonal > 0:
        sel = rng.random(n) < seasonal
        m = int(sel.sum())
        amp = rng.choice([-1.0, 1.0], size=m) * np.exp(rng.uniform(*np.log(seasonal_range), size=m))
        if incidence is not None:
            amp = amp / np.cos(np.deg2rad(np.asarray(incidence)[sel]))
        t = np.arange(num_dates)[None, :] * rng.uniform(*interval_days, size=(m, 1))
        phase = rng.uniform(0.0, 2 * np.pi, size=(m, 1))
        k1[sel] += amp[:, None] * np.sin(2 * np.pi * t / 365.25 + phase)
    k2 = -k1 / (2 * H) * (1 + 0.3 * jitter)
    return k1.astype(np.float32), k2.astype(np.float32)


def radial_psd_slope(fields, kmin=None, kmax=None):
    """Fit the 2-D radial PSD slope of (N, H, W) fields (for tests and diagnostics)."""
    f = fields - fields.mean(axis=(-2, -1), keepdims=True)
    psd = (np.abs(np.fft.fft2(f)) ** 2).mean(axis=0)
    ky = np.fft.fftfreq(f.shape[-2])[:, None]
    kx = np.fft.fftfreq(f.shape[-1])[None, :]
    k = np.sqrt(kx * kx + ky * ky)
    kmin = kmin or 2.0 / min(f.shape[-2:])
    kmax = kmax or 0.25
    sel = (k >= kmin) & (k <= kmax)
    slope, _ = np.polyfit(np.log(k[sel]), np.log(psd[sel]), 1)
    return -slope
