"""Signal injection into real noise: does the denoiser keep a known signal, and invent nothing?

Recipe (issue 10; ``docs/real_data.md``):

1. real noise: a MintPy time series with each pixel's linear trend removed by least squares
   (:func:`detrended_noise`); what is left is atmosphere, unwrapping and decorrelation noise, plus
   any non-linear deformation (kept: it is part of what real data look like);
2. a known LOS signal (an Okada fault or a Mogi source, :func:`signal_map`) with a step at
   mid-window or steady motion over the window, scaled so that its peak |cumulative| is
   ``factor`` times the std of the cumulative-map noise over the valid pixels;
3. optionally a decorrelated core: the pixels within ``core_radius`` of the signal's peak are set
   to no-data (0 on every date) in the input;
4. the denoiser runs on noise + signal (one 9-date window); on the valid pixels the
   least-squares gain sum(p t) / sum(t t) and the correlation of its cumulative map p with the
   injected cumulative map t are reported.

Noise only: the output's RMS relative to the raw cumulative map's RMS, and the fraction of pixels
with |mean| / sigma > 3 (false detections).
"""
import numpy as np

from .physics.los import enu2los
from .physics.mogi import mogi
from .physics.okada import okada85

from .constants import WINDOW  # noqa: E402  (one window length)


def detrended_noise(ts, years, valid):
    """Residual of ts (n, H, W) after a per-pixel least-squares line in time, re-referenced to date 0.

    ``ts`` in metres (any unit: the output has the same), ``years`` (n,) decimal years, ``valid``
    (H, W) bool.  The line is fitted in float64 with NaN taken as 0; the residual of
    each pixel then has its date-0 value subtracted, so date 0 is 0 everywhere.  Returns float32
    (n, H, W), 0 off ``valid``; a NaN of ``ts`` on a valid pixel stays NaN on that date (on every
    date if it is at date 0), so give finite values on valid pixels (:func:`load_detrended` does).
    """
    G = np.stack([np.ones_like(years), years - years.mean()], axis=1).astype(np.float64)
    y = ts.reshape(len(ts), -1).astype(np.float64)
    coef, *_ = np.linalg.lstsq(G, np.nan_to_num(y), rcond=None)
    res = (y - G @ coef).reshape(ts.shape)
    res -= res[:1]
    return np.where(valid[None], res, 0.0).astype(np.float32)


def signal_map(kind, shape, center, incidence=35.0, azimuth=-102.0, depth=8.0):
    """LOS field (H, W) of a unit source at ``center`` (row, col) px, float32, divided by its peak
    |value| (so max |value| = 1, unitless), source geometry in pixel units.

    ``shape`` (H, W) px; ``incidence``, ``azimuth`` degrees (MintPy's convention,
    :mod:`mintpy_dlae.physics.los`; the default is a Sentinel-1 descending look).
    kind "mogi": a point source at ``depth`` px (subsidence: negative dV);
    kind "fault": a thrust (rake 90 deg, dip 30 deg, strike 30 deg) 20 px long and 10 px wide with its
    top edge at 2 px depth (``depth`` is not used).  Raises ValueError for another ``kind``.
    """
    H, W = shape
    rows, cols = np.mgrid[0:H, 0:W].astype(np.float64)
    e, n = cols - center[1], -(rows - center[0])
    if kind == "mogi":
        ue, un, uu = mogi(e, n, 0.0, 0.0, depth, -1.0)
    elif kind == "fault":
        dip, width = 30.0, 10.0
        ue, un, uu = okada85(e.ravel()[None], n.ravel()[None], np.zeros((1, 1)), np.zeros((1, 1)),
                             np.full((1, 1), 2.0 + width / 2 * np.sin(np.deg2rad(dip))), np.full((1, 1), 30.0),
                             np.full((1, 1), dip), np.full((1, 1), 20.0), np.full((1, 1), width),
                             np.full((1, 1), 90.0), np.float64(1.0))
        ue, un, uu = (u.reshape(H, W) for u in (ue, un, uu))
    else:
        raise ValueError(f"signal_map: kind must be 'mogi' or 'fault'; received {kind!r}")
    los = enu2los(ue, un, uu, incidence, azimuth)
    return (los / np.abs(los).max()).astype(np.float32)


def history(name, num_dates=WINDOW, times=None):
    """Normalised history (num_dates,) float32, unitless, 0 at date 0 and 1 at the last: 'step' (0
    before date num_dates // 2, 1 from it) or 'steady' ((t - t0) / (t_last - t0), with ``times`` t
    the acquisition times in any unit, default 0, 1, ..., num_dates - 1: a constant rate in time).
    Raises ValueError for another ``name``."""
    i = np.arange(num_dates, dtype=np.float64)
    if name == "step":
        return (i >= num_dates // 2).astype(np.float32)
    if name == "steady":
        t = i if times is None else np.asarray(times, np.float64)
        return ((t - t[0]) / (t[-1] - t[0])).astype(np.float32)
    raise ValueError(f"history: name must be 'step' or 'steady'; received {name!r}")


def mask_core(valid, shape, radius=4.0):
    """``valid`` with the pixels within ``radius`` px of the peak of |shape| (over valid pixels) set to
    False: the decorrelated core of a subsidence bowl or a volcano."""
    rr, cc = np.mgrid[0:shape.shape[0], 0:shape.shape[1]]
    peak = np.unravel_index(np.argmax(np.abs(shape) * valid), shape.shape)
    return valid & ((rr - peak[0]) ** 2 + (cc - peak[1]) ** 2 > radius ** 2)


def gain_and_correlation(pred, truth, valid):
    """(gain, correlation) of ``pred`` against ``truth`` over the ``valid`` pixels (arrays of one
    shape, e.g. (H, W) maps in metres; ``valid`` bool), in float64: the least-squares gain
    sum(p t) / sum(t t) (denominator floored at 1e-30) and the Pearson correlation of p and t
    (0 when p is constant)."""
    p, t = pred[valid].astype(np.float64), truth[valid].astype(np.float64)
    gain = float((p * t).sum() / max((t * t).sum(), 1e-30))
    corr = float(np.corrcoef(p, t)[0, 1]) if p.std() > 0 else 0.0
    return gain, corr


def run_injection(model, noise, elevation, valid, center, factors=(2.0, 5.0, 10.0), kinds=("mogi", "fault"),
                  histories=("step", "steady"), core_radius=4.0, denoise_kwargs=None):
    """Inject, denoise and score; returns a list of dict rows.

    ``model``: a model name, path or loaded model (:func:`mintpy_dlae.inference.denoise`); ``noise``
    (9, H, W) metres (a detrended real window, :func:`window_noise`, 0 at invalid pixels);
    ``elevation`` (H, W) metres; ``valid`` (H, W) bool; ``center`` (row, col) px of the injected
    source (:func:`signal_map`); ``factors``: peak |cumulative| of the injected signal in units of
    the std of the noise's cumulative map (noise[-1] - noise[0]) over the valid pixels;
    ``core_radius`` px (:func:`mask_core`); ``denoise_kwargs`` go to ``denoise``.
    Every kind, history and factor is run without and with a decorrelated core.  Each row: kind,
    history, core (bool), factor, peak_m (the peak |cumulative| injected, metres), gain, correlation
    (:func:`gain_and_correlation` of the denoised cumulative map on the valid pixels), and the same
    for the raw cumulative map (``raw_gain`` = 1 + noise leakage, for reference).
    """
    from .inference import denoise
    kw = dict(denoise_kwargs or {})
    cum_noise = (noise[-1] - noise[0])[valid]
    noise_std = float(cum_noise.std())
    rows = []
    for kind in kinds:
        shape = signal_map(kind, noise.shape[1:], center)
        for hist_name in histories:
            h = history(hist_name, len(noise))
            for core in (False, True):
                v = mask_core(valid, shape, core_radius) if core else valid
                for f in factors:
                    amp = f * noise_std
                    truth = amp * shape
                    data = noise + h[:, None, None] * truth[None]
                    data = np.where(v[None], data, 0.0).astype(np.float32)
                    res = denoise(data, elevation, model=model, mask=v, **kw)
                    pred = np.nan_to_num(res.cumulative[0])
                    gain, corr = gain_and_correlation(pred, truth, v)
                    rgain, rcorr = gain_and_correlation(data[-1] - data[0], truth, v)
                    rows.append(dict(kind=kind, history=hist_name, core=core, factor=f, peak_m=round(amp, 5),
                                     gain=round(gain, 3), correlation=round(corr, 3), raw_gain=round(rgain, 3),
                                     raw_correlation=round(rcorr, 3)))
    return rows


def noise_only(model, noise, elevation, valid, denoise_kwargs=None):
    """Output on real noise alone (one 9-date window ``noise`` (9, H, W), metres).

    Returns (output RMS / raw cumulative RMS, fraction of valid pixels with |mean| / sigma > 3, that
    fraction for the raw cumulative map judged with the model's sigma: what a network that passed
    the noise through would call significant).
    """
    from .inference import denoise
    res = denoise(noise, elevation, model=model, mask=valid, **dict(denoise_kwargs or {}))
    out = res.cumulative[0][valid]
    raw = (noise[-1] - noise[0])[valid]
    sigma = res.cumulative_std[0][valid]
    ratio = float(np.sqrt(np.mean(out.astype(np.float64) ** 2) / np.mean(raw.astype(np.float64) ** 2)))
    with np.errstate(divide="ignore", invalid="ignore"):
        return ratio, float(np.mean(np.abs(out) / sigma > 3)), float(np.mean(np.abs(raw) / sigma > 3))


def load_detrended(ts_file, mask_file, geometry_file):
    """Detrended real noise of a MintPy project: (noise (n, H, W), height (H, W), valid (H, W)).

    ``ts_file``: a timeseries file (metres); ``mask_file``: e.g. maskTempCoh.h5; ``geometry_file``: with a
    ``height`` dataset.  Valid = mask & finite on every date & finite height.
    """
    import h5py
    from mintpy.utils import ptime, readfile
    ts = readfile.read(ts_file, datasetName="timeseries")[0]
    with h5py.File(ts_file, "r") as f:
        dates = [d.decode() for d in f["date"][:]]
    years = np.array(ptime.yyyymmdd2years(dates))
    mask = readfile.read(mask_file)[0].astype(bool)
    height = readfile.read(geometry_file, datasetName="height")[0]
    valid = mask & np.isfinite(ts).all(axis=0) & np.isfinite(height)
    noise = detrended_noise(np.nan_to_num(ts), years, valid)
    return noise, np.nan_to_num(height).astype(np.float32), valid


def window_noise(noise, valid, start, num_dates=WINDOW):
    """Dates start..start+num_dates-1 of detrended noise ``noise`` (n, H, W) metres, relative to date
    ``start``: float32 (num_dates, H, W), 0 off ``valid`` (H, W) bool and a 1e-7 offset on valid
    pixels (MintPy no-data is 0 on every date; the reference pixel is valid data).  Needs
    start + num_dates <= n: a shorter window comes back otherwise, without an error."""
    w = np.where(valid[None], noise[start:start + num_dates] - noise[start], 0.0).astype(np.float32)
    w[:, valid] += np.float32(1e-7)
    return w


def measure(model, noise, height, valid, center, windows=(0, 4), factors=(2.0, 5.0, 10.0), denoise_kwargs=None):
    """Injection table and noise-only figures averaged over several 9-date windows of ``noise``.

    Returns (rows, {"rms_ratio", "fraction_significant", "raw_fraction_significant"}) (the last: the
    raw cumulative map judged with the model's sigma); each row: kind, history, core, factor,
    gain, correlation, raw_correlation, raw_gain (means over the windows; ``raw_gain`` is the raw
    cumulative map's gain, 1 + the projection of the noise on the injected shape).  ``denoise_kwargs``
    go to :func:`mintpy_dlae.inference.denoise` (e.g. ``{"augment": 1}``).
    """
    rows, noise_rows = [], []
    for k in windows:
        w = window_noise(noise, valid, k)
        rows += run_injection(model, w, height, valid, center, factors=factors, denoise_kwargs=denoise_kwargs)
        noise_rows.append(noise_only(model, w, height, valid, denoise_kwargs=denoise_kwargs))
    table = {}
    for r in rows:
        table.setdefault((r["kind"], r["history"], r["core"], r["factor"]), []).append(r)
    out = [dict(kind=kind, history=hist, core=core, factor=f,
                gain=round(float(np.mean([r["gain"] for r in rs])), 3),
                correlation=round(float(np.mean([r["correlation"] for r in rs])), 3),
                raw_correlation=round(float(np.mean([r["raw_correlation"] for r in rs])), 3),
                raw_gain=round(float(np.mean([r["raw_gain"] for r in rs])), 3))
           for (kind, hist, core, f), rs in table.items()]
    return out, {"rms_ratio": round(float(np.mean([r[0] for r in noise_rows])), 3),
                 "fraction_significant": round(float(np.mean([r[1] for r in noise_rows])), 4),
                 "raw_fraction_significant": round(float(np.mean([r[2] for r in noise_rows])), 4)}
