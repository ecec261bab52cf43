"""Synthetic InSAR time series for training and testing the denoiser.

One sample is a short time series (``num_dates`` acquisitions, ``size`` x ``size`` pixels) of LOS
displacement in metres, made of

    noisy[j] = clean[j] + noise[j],     clean[0] = 0,

where ``clean`` is the LOS deformation of 1-3 Okada faults or Mogi point sources with random
onset, duration and time-history shape, and ``noise[j]`` is an independent atmospheric screen per
date: turbulence with random spectra + a stratified (quadratic in elevation) delay + an optional ramp.

SNR (Rouet-Leduc et al. 2021): the mean absolute cumulative deformation (last date minus first, over
all pixels) divided by the standard deviation of all the noise added (all dates and pixels).

Parameter ranges and their physical reasoning (all drawn independently per sample):

- pixel size: log-uniform 20-120 m (Sentinel-1 / COSMO-SkyMed products after multilooking); a
  40 px patch spans 0.8-4.8 km.  Source geometry is drawn relative to the patch extent E because
  elastic displacement is scale invariant (u(kx; k geometry) = u(x; geometry)).
- fault (Okada): centroid anywhere in the patch; length 0.1E-2E (a 0.1-10 km fault seen through a
  few-km window), down-dip width 0.05E-E, top-edge depth 0.005E-0.5E (shallow creep with a sharp
  trace to slip a few km deep), dip 10-89 deg, any strike, any rake (strike-slip, thrust and
  normal), slip mm-cm (the absolute level is set by the SNR).
- point source (Mogi): position anywhere in the patch, depth 0.03E-1.2E (0.02-6 km), inflation or
  deflation.
- visibility: a draw whose field is nearly a uniform offset over the patch (spatial std below a
  quarter of the mean at the strongest date) is replaced: such a map has no shape to recover, and
  its level is confounded with the atmosphere's per-date offsets.
- line of sight: incidence 30-45 deg, any azimuth (paper); MintPy sign convention.
- history: per source, onset and end inside the window with step-like, linear, smooth (sigmoid),
  decaying (1 - exp) or transient (up and back) shapes; optionally (``steady``, ``seasonal``)
  constant-rate motion over the whole window or up-and-down motion with a 4-30 date period.  Paper rule (default): no motion before the
  second or after the second-to-last acquisition.  ``open_window`` lets motion start before the
  window or continue after it, as seen by sliding windows on long series.
- turbulence: spectra with 2-D slope 2.5-4 (Hanssen 2001: 8/3-11/3; exponential covariance: 3) and
  outer scale 2-400 px (the patch sees anything from white-ish noise to near-planar gradients), two
  components per date, 30 % of the large fields anisotropic (stretched 1.5-4 times along a random
  direction); per-date std varying by up to a factor of 6.7 within a series (exp(U(log 0.15, 0))), and
  in 20 % of the series one "storm" date 2-4 times noisier; a random per-date offset (std 0.3-1.5 of
  the screen) stands for the delay of the reference pixel that MintPy's referencing subtracts.
- stratified delay: k1 ~ N(0, s) per date with s log-uniform 2-30 mm/km (zenith, divided by
  cos(incidence)); k2 = -k1/(2H), H = 1.5-3 km, with 30 % jitter.
- terrain: half real (Jacksboro DEM crops, relief x0.05-3), half fractal (relief std 2-300 m).
- ramps: in half of the samples, a planar gradient per date (orbital / long-wavelength residual).
- amplitudes: turbulence of 1-15 mm per date; deformation peaks of 1 mm - 10 cm when no SNR is
  requested; when an SNR is requested the deformation is rescaled to hit it exactly (the noise stays
  physical, so low SNR means sub-mm to mm transients under cm-level atmosphere).
"""
from dataclasses import dataclass

import numpy as np

from .physics import atmosphere, terrain
from .physics.los import los_unit_vector, random_geometry
from .physics.mogi import mogi
from .physics.okada import okada85

from .constants import MODEL_KINDS as KINDS  # noqa: E402
from .constants import TRAINING_PIXEL_SIZE_M  # noqa: E402


@dataclass
class Batch:
    """A batch of synthetic series (all arrays float32, metres)."""
    noisy: np.ndarray       # (N, T, S, S) noisy LOS displacement
    clean: np.ndarray       # (N, T, S, S) LOS deformation relative to date 0
    elevation: np.ndarray   # (N, S, S) metres
    incidence: np.ndarray   # (N,) degrees
    azimuth: np.ndarray     # (N,) degrees, MintPy azimuthAngle convention
    snr: np.ndarray         # (N,) paper SNR (0 for pure-noise samples)
    pixel_size: np.ndarray  # (N,) metres
    valid: np.ndarray = None  # (N, S, S) bool, False where the series is no-data (0 on every date in ``noisy``)

    def __post_init__(self):
        if self.valid is None:
            self.valid = np.ones(self.elevation.shape, bool)

    @property
    def cumulative(self):
        """Clean cumulative deformation, last date minus first: (N, S, S)."""
        return self.clean[:, -1] - self.clean[:, 0]

    def __len__(self):
        return len(self.noisy)


def paper_snr(clean, noise):
    """Paper SNR per sample (Rouet-Leduc et al. 2021, Nat. Commun. 12:6480): the mean over pixels of
    |clean[-1] - clean[0]| (the cumulative deformation) divided by the std of the noise over all
    dates and pixels of the series.

    ``clean``, ``noise`` (N, T, H, W) in one unit (metres); returns (N,) unitless (0 for a series
    without deformation; the std is floored at 1e-30).
    """
    signal = np.abs(clean[:, -1] - clean[:, 0]).mean(axis=(1, 2))
    return signal / (noise.reshape(len(noise), -1).std(axis=1) + 1e-30)


# ----------------------------------------------------------------------------------------------
# time histories
def _shape(u, kind):
    """Normalised history shape on u in [0, 1] (u clipped)."""
    u = np.clip(u, 0.0, 1.0)
    if kind == 0:      # linear ramp (steady slip during the event)
        return u
    if kind == 1:      # smooth (sigmoid-like) onset and end
        return u * u * (3 - 2 * u)
    if kind == 2:      # decaying rate, like afterslip
        return (1 - np.exp(-4 * u)) / (1 - np.exp(-4))
    return u           # step: duration ~ 0 handled by the caller


def acquisition_times(n, num_dates, rng, irregular=0.0, max_gap=8):
    """Acquisition times (n, T) float64 of each series, in units of the mean interval of a regular
    window: rows 0, 1, ..., T-1, except a fraction ``irregular`` whose intervals are one repeat cycle
    with probability 0.7 and otherwise 2 to ``max_gap`` cycles (acquisitions missed, a winter of
    snow-covered and dropped dates, a satellite lost), rescaled to span T-1 like a regular window,
    so that a steady rate keeps its cumulative value while its increments follow the gaps."""
    T = num_dates
    t = np.broadcast_to(np.arange(T, dtype=np.float64), (n, T)).copy()
    irr = rng.random(n) < irregular
    m = int(irr.sum())
    if m:
        cycles = np.where(rng.random((m, T - 1)) < 0.7, 1, rng.integers(2, max_gap + 1, size=(m, T - 1)))
        c = np.concatenate([np.zeros((m, 1)), np.cumsum(cycles, axis=1)], axis=1)
        t[irr] = (T - 1) * c / c[:, -1:]
    return t


def histories(n, num_dates, rng, open_window=False, steady=0.0, seasonal=0.0, times=None):
    """Per-sample history h(t) at the dates 0..T-1, with values in about [-1, 1].

    Returns (n, T) float32.  Paper rule (``open_window`` False): h = 0 at dates 0 and 1,
    h(T-2) = h(T-1), with step, linear, smooth, decaying or up-and-back shapes.  ``open_window``
    lets the event start before the window and end after it.  A fraction ``steady`` of the rows
    are constant-rate motion over the whole window (what a sliding window sees on a long series
    of steady subsidence or creep), and a fraction ``seasonal`` are up-and-down motion
    sin(2 pi t / P + phase) with a period P of 4-30 dates (aquifers, reservoirs).  ``times`` (n, T):
    the acquisition times t of each row (:func:`acquisition_times`; default 0, 1, ..., T-1), at
    which every shape is evaluated: a steady rate then grows with the time elapsed, not the
    number of dates.
    """
    T = num_dates
    t = np.arange(T, dtype=np.float64)[None, :] if times is None else np.asarray(times, np.float64)
    if open_window:
        onset = rng.uniform(-T / 2, T - 1, size=(n, 1))
        duration = np.exp(rng.uniform(np.log(0.3), np.log(2.0 * T), size=(n, 1)))
    else:
        onset = rng.uniform(1.0, T - 2.0, size=(n, 1))
        duration = rng.uniform(0.0, 1.0, size=(n, 1)) * (T - 2.0 - onset)
    shape_kind = rng.integers(0, 4, size=n)
    step = shape_kind == 3
    duration[step] = 1e-6
    duration = np.maximum(duration, 1e-6)
    u = (t - onset) / duration
    h = np.empty((n, T))
    for k in range(4):
        sel = shape_kind == k
        h[sel] = _shape(u[sel], k)
    # transient: up and back down within the event (e.g. inflation then deflation)
    pulse = rng.random(n) < 0.15
    if pulse.any():
        up = np.clip(2 * u[pulse], 0, 1)
        down = np.clip(2 * u[pulse] - 1, 0, 1)
        h[pulse] = up - rng.uniform(0.3, 1.0, size=(int(pulse.sum()), 1)) * down
    draw = rng.random(n)
    lin = draw < steady
    if lin.any():          # constant rate, with a little date-to-date jitter of the rate
        rate = 1.0 + 0.1 * rng.standard_normal((int(lin.sum()), T))
        rate[:, 0] = 0.0
        dt = np.broadcast_to(np.diff(t, axis=1, prepend=t[:, :1]), (n, T))[lin]
        h[lin] = np.cumsum(rate * dt, axis=1) / (T - 1)
    sea = (draw >= steady) & (draw < steady + seasonal)
    if sea.any():
        m = int(sea.sum())
        period = np.exp(rng.uniform(np.log(4.0), np.log(30.0), size=(m, 1)))
        phase = rng.uniform(0, 2 * np.pi, size=(m, 1))
        h[sea] = np.sin(2 * np.pi * np.broadcast_to(t, (n, T))[sea] / period + phase)
    return h.astype(np.float32)


# ----------------------------------------------------------------------------------------------
# sources (ENU displacement of one unit-amplitude source per row, shape (N, S*S))
def _grid(size):
    c = (np.arange(size, dtype=np.float32) - (size - 1) / 2)
    e, n = np.meshgrid(c, -c)          # row 0 is north
    return e.ravel()[None, :], n.ravel()[None, :]


def _fault_sources(m, size, rng, extent=1.0):
    """Unit-slip Okada faults in pixel units; returns ue, un, uu of shape (m, S*S).  ``extent``
    multiplies the upper bounds of length, width and top depth (ablations: < 1 = compact sources)."""
    E = float(size)
    e, n = _grid(size)
    logu = lambda lo, hi: np.exp(rng.uniform(np.log(lo), np.log(hi), size=(m, 1))).astype(np.float32)  # noqa: E731
    xc = rng.uniform(-0.5 * E, 0.5 * E, size=(m, 1)).astype(np.float32)
    yc = rng.uniform(-0.5 * E, 0.5 * E, size=(m, 1)).astype(np.float32)
    length = logu(0.1 * E, max(0.1, 2.0 * extent) * E)
    width = logu(0.05 * E, max(0.05, 1.0 * extent) * E)
    dip = rng.uniform(10.0, 89.0, size=(m, 1)).astype(np.float32)
    strike = rng.uniform(0.0, 360.0, size=(m, 1)).astype(np.float32)
    rake = rng.uniform(-180.0, 180.0, size=(m, 1)).astype(np.float32)
    top = logu(0.005 * E, max(0.005, 0.5 * extent) * E)
    depth = top + width / 2 * np.sin(np.deg2rad(dip))
    return okada85(e, n, xc, yc, depth, strike, dip, length, width, rake, np.float32(1.0))


def _mogi_sources(m, size, rng, extent=1.0):
    """Unit-|dV| Mogi sources in pixel units (sign = inflation / deflation); ``extent`` multiplies the
    upper bound of the depth."""
    E = float(size)
    e, n = _grid(size)
    xs = rng.uniform(-0.5 * E, 0.5 * E, size=(m, 1)).astype(np.float32)
    ys = rng.uniform(-0.5 * E, 0.5 * E, size=(m, 1)).astype(np.float32)
    depth = np.exp(rng.uniform(np.log(0.03 * E), np.log(max(0.03, 1.2 * extent) * E), size=(m, 1))).astype(np.float32)
    sign = np.where(rng.random((m, 1)) < 0.5, -1.0, 1.0).astype(np.float32)
    # scale by depth^2 so that the peak uplift is O(1) whatever the depth
    return mogi(e, n, xs, ys, depth, sign * depth * depth)


def deformation(n, kind, size, num_dates, rng, incidence, azimuth, open_window=False, num_sources=(1, 3),
                reuse=1, steady=0.0, seasonal=0.0, source_extent=1.0, irregular=0.0):
    """Clean LOS deformation (n, T, S, S) float32 relative to date 0, in arbitrary (unit) amplitude.

    ``kind`` "fault" gives Okada faults; any other value gives Mogi sources (not checked here:
    :func:`generate` refuses unknown kinds).  ``rng``: a ``numpy.random.Generator``; ``incidence``,
    ``azimuth``: (n,) degrees, the line of sight of each series (MintPy's convention,
    :mod:`mintpy_dlae.physics.los`); ``size`` px (S); ``num_dates`` T.

    ``reuse`` > 1 computes only 1/reuse of the source fields and uses each under several of the 8
    flips/rotations of the square patch.  A flipped or rotated elastic field is the field of the
    mirrored or rotated source seen from the mirrored or rotated line of sight, so this is physical
    data augmentation; it makes the fault generator several times faster for training.
    ``irregular``: fraction of the series sampled at irregular times (:func:`acquisition_times`;
    all sources of a series share them).
    """
    lo, hi = num_sources
    counts = rng.integers(lo, hi + 1, size=n)
    owner = np.repeat(np.arange(n), counts)
    rank = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)   # index within sample
    m = len(owner)
    make = _fault_sources if kind == "fault" else _mogi_sources
    m_unique = max(1, -(-m // max(1, int(reuse))))
    ue, un, uu = make(m_unique, size, rng, extent=source_extent)
    pick = rng.permutation(np.resize(np.arange(m_unique), m))
    inc, az = incidence[owner].astype(np.float32), azimuth[owner].astype(np.float32)
    ce, cn, cu = los_unit_vector(inc, az)
    los = ue[pick] * ce[:, None] + un[pick] * cn[:, None] + uu[pick] * cu[:, None]
    los = los.reshape(m, size, size)
    if reuse > 1:
        los = atmosphere.dihedral(los, rng)
    los = los.reshape(m, -1)
    # sources of one sample get relative amplitudes in [0.2, 1]
    peak = np.abs(los).max(axis=1, keepdims=True) + 1e-12
    amp = np.exp(rng.uniform(np.log(0.2), 0.0, size=(m, 1))).astype(np.float32)
    los = los * (amp / peak)
    times = acquisition_times(n, num_dates, rng, irregular)[owner] if irregular > 0 else None
    hist = histories(m, num_dates, rng, open_window=open_window, steady=steady, seasonal=seasonal, times=times)
    hist = hist - hist[:, :1]
    out = np.zeros((n, num_dates, size * size), np.float32)
    for k in range(hi):
        sel = rank == k
        if sel.any():
            out[owner[sel]] += hist[sel, :, None] * los[sel, None, :]
    return out.reshape(n, num_dates, size, size)


# ----------------------------------------------------------------------------------------------
def _flat(clean, ratio=0.25):
    """Series whose strongest date is mostly a uniform offset: spatial std < ratio * |spatial mean|."""
    j = np.abs(clean).mean(axis=(2, 3)).argmax(axis=1)
    peak = clean[np.arange(len(clean)), j]
    return peak.std(axis=(1, 2)) < ratio * np.abs(peak.mean(axis=(1, 2)))


def noise_screens(n, num_dates, size, rng, elevation, incidence, offset=(0.3, 1.5), offset_free=0.0,
                  area_reference=0.0, cells=0.0, stratified_season=0.0):
    """Physical-amplitude atmospheric noise (n, T, S, S) float32 in metres.

    ``rng``: a ``numpy.random.Generator``; ``elevation`` (n, S, S) metres (the stratified delay);
    ``incidence`` (n,) degrees (the zenith stratified coefficient is divided by cos(incidence)).

    ``offset`` (low, high): the per-date offset's std is U(low, high) times the screen's std;
    ``offset_free``: fraction of series without it (the reference pixel in or next to the patch);
    ``area_reference``: fraction of series referenced to the patch's own mean (a product referenced
    to an area, as LiCSBAS does, or a patch around MintPy's reference point): the noise of every date
    has zero spatial mean, stratified delay included.
    ``cells``: fraction of series whose turbulence mixes in convective cells
    (:func:`mintpy_dlae.physics.atmosphere.convective_cells`), a share U(0.3, 1) of the variance of
    each date.  With ``cells=0`` the draws are those of earlier versions.
    ``stratified_season``: fraction of series whose stratified delay also follows the seasonal cycle
    (temporally coherent, :func:`mintpy_dlae.physics.atmosphere.random_stratified_coefficients`).
    """
    T = num_dates
    turb = atmosphere.turbulence_patches(n * T, size, rng).reshape(n, T, size, size)
    if cells > 0:
        conv = rng.random(n) < cells
        m = int(conv.sum())
        if m:
            w = rng.uniform(0.3, 1.0, size=(m, T, 1, 1)).astype(np.float32)
            c = atmosphere.convective_cells(m * T, size, rng).reshape(m, T, size, size)
            turb[conv] = np.sqrt(1 - w) * turb[conv] + np.sqrt(w) * c
    base = np.exp(rng.uniform(np.log(1e-3), np.log(15e-3), size=(n, 1)))
    per_date = base * np.exp(rng.uniform(np.log(0.15), 0.0, size=(n, T)))
    storm = rng.random(n) < 0.2            # one date much noisier than the rest (a storm, a bad orbit)
    per_date[storm, rng.integers(0, T, size=int(storm.sum()))] *= rng.uniform(2.0, 4.0, size=int(storm.sum()))
    # a per-date offset: MintPy references every date to one pixel, which subtracts that pixel's own
    # atmospheric delay from the whole frame, an offset with up to the screen's full std
    offset = rng.uniform(offset[0], offset[1], size=(n, 1)) * rng.standard_normal((n, T))
    if offset_free > 0:
        offset[rng.random(n) < offset_free] = 0.0
    noise = turb * per_date[:, :, None, None].astype(np.float32)
    noise += (offset * per_date)[:, :, None, None].astype(np.float32)
    k1, k2 = atmosphere.random_stratified_coefficients(n, T, rng, incidence=incidence, seasonal=stratified_season)
    atmosphere.stratified(elevation, k1, k2, out=noise)
    # planar ramps in half the samples: N(0, 1) x U(0.02, 1) x 0.05 mm per pixel and date, i.e. about
    # 0.4-2.5 mm/km at 20-120 m pixels (orbit residual, long-wavelength atmosphere)
    ramp = rng.random(n) < 0.5
    if ramp.any():
        c = np.arange(size, dtype=np.float32) - (size - 1) / 2
        g = rng.standard_normal((int(ramp.sum()), T, 2)).astype(np.float32)
        g *= (np.exp(rng.uniform(np.log(0.02), np.log(1.0), size=(int(ramp.sum()), 1, 1))) * 1e-3 * 0.05).astype(np.float32)
        noise[ramp] += g[..., 0, None, None] * c[None, None, :, None] + g[..., 1, None, None] * c[None, None, None, :]
    if area_reference > 0:
        area = rng.random(n) < area_reference
        noise[area] -= noise[area].mean(axis=(2, 3), keepdims=True)
    return noise


def generate(n, kind="fault", size=40, num_dates=9, rng=None, snr=(0.01, 10.0), open_window=False,
             num_sources=(1, 3), pure_noise=0.0, reuse=1, steady=0.0, seasonal=0.0, peak_snr=None,
             peak_fraction=0.0, nodata=0.0, source_extent=1.0, keep_flat=0.0, offset=(0.3, 1.5), offset_free=0.0,
             area_reference=0.0, cells=0.0, steep=0.0, stratified_season=0.0, irregular=0.0, volcanic=0.0,
             max_gradient=None):
    """Generate ``n`` synthetic series.

    Parameters: n           - number of series
                kind        - "fault" (Okada) or "mogi" (point sources)
                size        - patch size in pixels
                num_dates   - acquisitions per series (9 in the paper)
                rng         - seed or numpy Generator (reproducible)
                snr         - None (physical noise amplitudes), a number (every series at that SNR), or
                              (low, high) drawn log-uniformly
                open_window - False: paper rule (no motion at the first and last intervals); True: motion
                              may start before / continue after the window; a float in [0, 1]: the
                              fraction of series with an open window
                num_sources - (min, max) sources per series
                pure_noise  - fraction of series with no deformation at all (snr = 0)
                reuse       - use each computed source field under up to ``reuse`` flips/rotations
                              (physical augmentation that speeds up training; 1 = all independent)
                steady, seasonal - fractions of sources with constant-rate or up-and-down histories
                              (see :func:`histories`)
                peak_snr    - (low, high): for a fraction ``peak_fraction`` of the series the strength is
                              drawn (log-uniformly) as the *peak* signal-to-noise ratio instead of the
                              paper's patch-mean SNR: max over pixels and dates of |clean| divided by the
                              std of the noise of that date relative to date 0 (the "N x the noise" of a
                              signal-injection test).  A compact 6-sigma bowl has a paper SNR of ~0.25, so
                              paper-SNR draws alone rarely show the network compact, clear signals.
                nodata      - fraction of series with no-data: a masked (decorrelated) core over the
                              strongest deformation, random holes and water bodies, or a frame edge.  The
                              series is 0 on every date there, as MintPy stores no-data and as inference
                              fills it; ``Batch.valid`` marks the valid pixels.
                source_extent - multiplies the upper bounds of the source size (fault length, width
                              and depth; Mogi depth) relative to the patch; 1 = the documented ranges
                              (ablations use < 1 for compact sources only); a dict {kind: factor}
                              sets it per kind (a kind left out keeps 1), e.g. {"mogi": 0.42} caps
                              the Mogi depth at 0.5 patch widths and leaves the faults as they are
                keep_flat   - fraction of series that keep a nearly uniform field (a source much broader
                              than the patch: a patch inside a subsidence basin) instead of redrawing it
                offset, offset_free - the per-date reference offset of the noise: its std is U(offset)
                              times the screen's, and a fraction ``offset_free`` of the series has none
                              (see :func:`noise_screens`)
                area_reference - fraction of series whose noise has zero spatial mean on every date
                              (referenced to the patch's mean; see :func:`noise_screens`)
                cells       - fraction of series whose turbulence mixes in convective cells (compact
                              blobs; see :func:`noise_screens`)
                steep       - fraction of series over mountain relief (400-3000 m within the patch,
                              :func:`mintpy_dlae.physics.terrain.random_dem`), where the stratified
                              delay is strongest
                stratified_season - fraction of series whose stratified delay follows the seasonal
                              cycle over the window (coherent in time, so that only its correlation
                              with the elevation tells it from a deformation; see
                              :func:`mintpy_dlae.physics.atmosphere.random_stratified_coefficients`)
                irregular   - fraction of series acquired at irregular times (gaps of 2-8 repeat
                              cycles; :func:`acquisition_times`): their histories are evaluated at
                              those times, so a steady rate jumps across a gap
                volcanic    - fraction of the series with deformation whose elevation gets an
                              edifice (300-2500 m) whose summit is their pixel of largest displacement
                              (:func:`mintpy_dlae.physics.terrain.add_edifices`): a deformation that
                              follows the relief, as a stratified delay does.  With ``volcanic=0``
                              the draws are those of earlier versions
                max_gradient - None, or metres per pixel: a series whose deformation changes between
                              two consecutive dates by more than this from one pixel to the next is
                              scaled down until it does not (:func:`increment_gradient`): unwrapped
                              phase cannot show more than a quarter wavelength per pixel (1.4 cm at C
                              band, 6 cm at L band). No random draw depends on it, so a stream with it
                              differs from one without only in those series' amplitude
    Returns:    Batch(noisy, clean, elevation, incidence, azimuth, snr, pixel_size, valid)
    Raises ValueError for a ``kind`` not in ("fault", "mogi"), ``num_dates`` < 3, a ``source_extent``
    dict with keys other than those kinds, and a ``source_extent`` that is not > 0.
    """
    if kind not in KINDS:
        raise ValueError(f"generate: kind must be one of {KINDS}; received kind={kind!r}")
    if num_dates < 3:
        raise ValueError(f"generate: num_dates must be >= 3; received num_dates={num_dates}")
    if isinstance(source_extent, dict):
        unknown = sorted(set(source_extent) - set(KINDS))
        if unknown:
            raise ValueError(f"generate: source_extent keys must be kinds {KINDS}; received {unknown}")
        source_extent = float(source_extent.get(kind, 1.0))
    if not source_extent > 0:
        raise ValueError(f"generate: source_extent must be > 0; received source_extent={source_extent!r}")
    if max_gradient is not None and not max_gradient > 0:
        raise ValueError(f"generate: max_gradient must be None or > 0; received max_gradient={max_gradient!r}")
    rng = np.random.default_rng(rng)
    kwargs = dict(kind=kind, size=size, num_dates=num_dates, rng=rng, snr=snr, open_window=open_window,
                  num_sources=num_sources, pure_noise=pure_noise, reuse=reuse, steady=steady, seasonal=seasonal,
                  peak_snr=peak_snr, peak_fraction=peak_fraction, nodata=nodata, source_extent=source_extent,
                  keep_flat=keep_flat, offset=tuple(offset), offset_free=offset_free,
                  area_reference=area_reference, cells=cells, steep=steep, stratified_season=stratified_season,
                  irregular=irregular, volcanic=volcanic, max_gradient=max_gradient)
    # work in cache-sized chunks: the arrays are (chunk, T, S, S) and every step is memory-bound
    chunk = max(16, int(2**21 // (num_dates * size * size)))
    if n > chunk:
        parts = [_generate(min(chunk, n - i), **kwargs) for i in range(0, n, chunk)]
        return Batch(*[np.concatenate([getattr(p, f) for p in parts]) for f in Batch.__dataclass_fields__])
    return _generate(n, **kwargs)


def _generate(n, kind, size, num_dates, rng, snr, open_window, num_sources, pure_noise, reuse, steady, seasonal,
              peak_snr, peak_fraction, nodata, source_extent=1.0, keep_flat=0.0, offset=(0.3, 1.5), offset_free=0.0,
              area_reference=0.0, cells=0.0, steep=0.0, stratified_season=0.0, irregular=0.0, volcanic=0.0,
              max_gradient=None):
    pixel = np.exp(rng.uniform(*np.log(TRAINING_PIXEL_SIZE_M), size=n)).astype(np.float32)
    inc, az = random_geometry(n, rng)
    elevation = terrain.random_dem(n, size, rng, steep=steep)

    frac_open = float(open_window)
    is_open = rng.random(n) < frac_open
    clean = np.empty((n, num_dates, size, size), np.float32)
    for flag in (False, True):
        sel = is_open == flag
        if sel.any():
            clean[sel] = deformation(int(sel.sum()), kind, size, num_dates, rng, inc[sel], az[sel],
                                     open_window=flag, num_sources=num_sources, reuse=reuse,
                                     steady=steady, seasonal=seasonal, source_extent=source_extent,
                                     irregular=irregular)
    # a source whose field is nearly uniform over the patch (deep or distant) has no shape to find:
    # its cumulative map is an offset, which the atmosphere's per-date offsets make unidentifiable.
    # Such draws are replaced (up to 5 tries) so that every series carries a visible pattern, except
    # in a fraction ``keep_flat`` of the series: a smooth history still tells such a field from the
    # atmosphere's offsets, which are independent from date to date.
    exempt = rng.random(n) < keep_flat if keep_flat > 0 else np.zeros(n, bool)
    for _ in range(5):
        flat = _flat(clean) & ~exempt
        if not flat.any():
            break
        for flag in (False, True):
            sel = flat & (is_open == flag)
            if sel.any():
                clean[sel] = deformation(int(sel.sum()), kind, size, num_dates, rng, inc[sel], az[sel],
                                         open_window=flag, num_sources=num_sources, reuse=reuse,
                                         steady=steady, seasonal=seasonal, source_extent=source_extent,
                                         irregular=irregular)
    # physical deformation amplitude: peak cumulative 1 mm - 10 cm
    peak = np.abs(clean).max(axis=(1, 2, 3)) + 1e-12
    amp = np.exp(rng.uniform(np.log(1e-3), np.log(0.1), size=n)) / peak
    clean *= amp[:, None, None, None].astype(np.float32)
    silent = rng.random(n) < pure_noise
    clean[silent] = 0.0
    if volcanic > 0:
        sel = (rng.random(n) < volcanic) & ~silent
        if sel.any():
            elevation[sel] = terrain.add_edifices(elevation[sel], np.abs(clean[sel]).max(axis=1), rng)

    noise = noise_screens(n, num_dates, size, rng, elevation, inc, offset=offset, offset_free=offset_free,
                          area_reference=area_reference, cells=cells, stratified_season=stratified_season)
    if snr is not None:
        target = np.full(n, float(snr)) if np.isscalar(snr) else np.exp(rng.uniform(*np.log(snr), size=n))
        cum = np.abs(clean[:, -1] - clean[:, 0]).mean(axis=(1, 2))
        per_date = np.abs(clean).mean(axis=(2, 3)).max(axis=1)
        signal = np.maximum(cum, 0.25 * per_date)     # open windows can end near where they started
        # keep the noise physical and scale the deformation (mm transients under cm atmosphere)
        scale = target * noise.reshape(n, -1).std(axis=1) / np.maximum(signal, 1e-30)
        if peak_snr is not None and peak_fraction > 0:
            by_peak = rng.random(n) < peak_fraction
            if by_peak.any():
                rel = noise[by_peak] - noise[by_peak, :1]
                noise_std = rel[:, 1:].std(axis=(2, 3))                          # (m, T-1)
                ratio = (np.abs(clean[by_peak, 1:]).max(axis=(2, 3)) / np.maximum(noise_std, 1e-30)).max(axis=1)
                want = np.exp(rng.uniform(*np.log(peak_snr), size=int(by_peak.sum())))
                scale[by_peak] = want / np.maximum(ratio, 1e-30)
        scale[silent] = 1.0
        clean *= scale[:, None, None, None].astype(np.float32)
    if max_gradient is not None:
        g = increment_gradient(clean)
        steep_change = g > max_gradient
        if steep_change.any():
            clean[steep_change] *= (max_gradient / g[steep_change])[:, None, None, None].astype(np.float32)
    noisy = clean + noise
    valid = np.ones((n, size, size), bool)
    if nodata > 0:
        holes = rng.random(n) < nodata
        if holes.any():
            valid[holes] = nodata_masks(clean[holes], rng)
            noisy[~np.broadcast_to(valid[:, None], noisy.shape)] = 0.0
    return Batch(noisy=noisy, clean=clean, elevation=elevation, incidence=inc.astype(np.float32),
                 azimuth=az.astype(np.float32), snr=paper_snr(clean, noise).astype(np.float32), pixel_size=pixel,
                 valid=valid)


def increment_gradient(clean):
    """Largest change between two consecutive dates from one pixel to the next (metres per pixel)
    of each series ``clean`` (n, T, S, S): max over dates of |d/dy| and |d/dx| (forward differences)
    of clean[:, t + 1] - clean[:, t]; (n,) float."""
    inc = np.diff(clean, axis=1)
    gy = np.abs(np.diff(inc, axis=2)).max(axis=(1, 2, 3))
    gx = np.abs(np.diff(inc, axis=3)).max(axis=(1, 2, 3))
    return np.maximum(gy, gx)


def nodata_masks(clean, rng, min_valid=0.3):
    """Validity masks (m, S, S) for series ``clean`` (m, T, S, S): each mixes, at random,

    - a decorrelated core over the strongest deformation (a blob of radius 1-8 px around the peak of
      the largest |clean| date: the subsiding centre of a basin, a volcano's summit),
    - holes and water bodies (a smooth random field above a threshold: 2-40 % of the patch),
    - a frame edge (a strip of 1-15 px along one side).

    At least ``min_valid`` of every patch stays valid.
    """
    m, T, S, _ = clean.shape
    valid = np.ones((m, S, S), bool)
    yy, xx = np.mgrid[0:S, 0:S]
    for i in range(m):
        v = np.ones((S, S), bool)
        if rng.random() < 0.5:
            j = np.abs(clean[i]).max(axis=(1, 2)).argmax()
            py, px = np.unravel_index(np.abs(clean[i, j]).argmax(), (S, S))
            r = rng.uniform(1.0, 8.0)
            wobble = 1 + 0.3 * atmosphere.spectral_fields(1, (S, S), rng, 3.0, np.inf)[0]
            v &= ((yy - py) ** 2 + (xx - px) ** 2) > (r * wobble) ** 2
        if rng.random() < 0.5:
            f = atmosphere.spectral_fields(1, (S, S), rng, rng.uniform(3.0, 4.5), np.inf)[0]
            v &= f < np.quantile(f, 1 - rng.uniform(0.02, 0.4))
        if rng.random() < 0.3:
            w = int(rng.integers(1, 16))
            side = rng.integers(0, 4)
            edge = [np.s_[:w, :], np.s_[-w:, :], np.s_[:, :w], np.s_[:, -w:]][side]
            v[edge] = False
        valid[i] = v if v.mean() >= min_valid else np.ones((S, S), bool)
    return valid
