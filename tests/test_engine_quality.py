"""The engine with a shipped model: the stitched time series keeps the amplitude of a clear signal,
and the output near the frame edge or a large no-data area is as good as in the interior.

Frames are synthetic: turbulent noise of the project's physics (atmosphere.turbulence, 1/f^(8/3)
to 1/f^(11/3), outer scale 5-200 px) with 3 mm std per date, and Mogi bowls from
``injection.signal_map``.  Thresholds:

* stitched gain >= 0.9 at high SNR (issue 11; 30 mm step or 30 mm per window of steady motion under
  4 mm of cumulative noise per window), and <= 1.1 (no inflation beyond a symmetric
  margin); an all-zero, a half-amplitude or a heavily blurred output fails the gain (blur sigma 8 px:
  gain 0.57 step, 0.53 steady), the raw last date passes the gain (1.05, 1.02) but the check also
  requires a correlation above the raw input's (``test_stitched_check_can_fail``);
* edge RMS error <= EDGE_FACTOR x interior RMS error, where EDGE_FACTOR = 1.25 allows the
  sampling scatter of the RMS over a band of ~2,000 pixels of spatially correlated error
  (measured spread of the interior/interior ratio between two halves of the frame: see
  ``test_edge_check_can_fail``, which also shows that a blanked edge band fails);
* and, because a ratio alone passes any output that is equally bad everywhere (all-zero, the raw
  map, a blur), absolute bounds in both the edge band and the interior: RMS error <= MAX_RAW_FRACTION
  (0.45) x the raw cumulative map's RMS error there, and <= MAX_TRUTH_FRACTION (0.8) x the RMS of
  the truth there.  Measured with the shipped models: 0.26 / 0.36 (fault, edge / interior) and
  0.25 / 0.32 (mogi) of the raw error, 0.57 / 0.64 (fault) and 0.55 / 0.58 (mogi) of the truth RMS,
  so both bounds keep a margin of about 25 % above the largest value.  The bad outputs: all-zero
  0.46 / 0.55 of the raw error and exactly 1 of the truth RMS; the raw map 1 and 2.2 / 1.8; a
  sigma-8 blur of the raw map 0.67 / 0.61 and 1.46 / 1.10 (``test_edge_check_can_fail``).
"""
import os

import numpy as np
import pytest
from scipy import ndimage

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from mintpy_dlae.inference import denoise  # noqa: E402
from mintpy_dlae.injection import gain_and_correlation, signal_map  # noqa: E402
from mintpy_dlae.physics import atmosphere  # noqa: E402

EDGE_FACTOR = 1.25
EDGE_BAND = 16      # px
MAX_RAW_FRACTION = 0.45      # measured at most 0.36 (module docstring); the all-zero map reaches 0.46-0.55
MAX_TRUTH_FRACTION = 0.8     # measured at most 0.64; an all-zero map is 1 by definition, a sigma-8 blur 1.1-1.5


def noise_frame(num_dates, shape, seed, std=3e-3):
    rng = np.random.default_rng(seed)
    n = atmosphere.turbulence(num_dates, shape, rng, slope=(8 / 3, 11 / 3), outer_scale=(5.0, 200.0))
    return (std * n).astype(np.float32)


def stitched_frame(hist, seed=1):
    """(series (24, 64, 64), truth of the last date) for a Mogi bowl: a 30 mm step at mid-series, or
    90 mm of steady motion over the 24 dates (30 mm within each 9-date window: both about 7x the 4 mm
    std of a window's cumulative noise, i.e. high SNR)."""
    amp = 0.03 if hist == "step" else 0.09
    T, shape = 24, (64, 64)
    truth = amp * -signal_map("mogi", shape, (32, 32), depth=6.0)
    if hist == "step":
        h = (np.arange(T) >= T // 2).astype(np.float32)
    else:
        h = np.arange(T, dtype=np.float32) / (T - 1)
    ts = noise_frame(T, shape, seed) + h[:, None, None] * truth[None]
    ts -= ts[:1]
    ts[0] += 1e-7           # date 0 is the reference; keep pixels valid (not 0 on every date)
    return ts, truth


def stitched_ok(last, truth, raw_last, valid):
    """(ok, gain, corr, raw corr): gain in [0.9, 1.1] and a correlation above the raw last date's."""
    g, c = gain_and_correlation(last, truth, valid)
    _, rc = gain_and_correlation(raw_last, truth, valid)
    return bool(0.9 <= g <= 1.1 and c > rc), g, c, rc


def stitched(model, hist, seed=1):
    """(ok, gain, corr, raw corr) of the last date of the stitched series (:func:`stitched_frame`)."""
    ts, truth = stitched_frame(hist, seed)
    res = denoise(ts, np.zeros(truth.shape, np.float32), model=model)
    valid = np.isfinite(res.timeseries[-1])
    return stitched_ok(res.timeseries[-1], truth, ts[-1] - ts[0], valid)


@pytest.mark.parametrize("model", ["fault", "mogi"])
@pytest.mark.parametrize("hist", ["step", "steady"])
def test_stitched_series_keeps_amplitude(model, hist):
    ok, g, c, rc = stitched(model, hist)
    assert ok, (model, hist, g, c, rc)


@pytest.mark.parametrize("hist", ["step", "steady"])
def test_stitched_check_can_fail(hist):
    """On the same frames: all-zero, half-amplitude truth, the raw last date and a sigma-8 blur of it
    fail; the truth passes."""
    ts, truth = stitched_frame(hist)
    raw = ts[-1] - ts[0]
    valid = np.ones(truth.shape, bool)
    assert stitched_ok(truth, truth, raw, valid)[0]
    bad = {"all-zero": np.zeros_like(truth), "half amplitude": 0.5 * truth, "raw": raw,
           "blur 8 px": ndimage.gaussian_filter(raw, 8.0)}
    for name, pred in bad.items():
        assert not stitched_ok(pred, truth, raw, valid)[0], (hist, name)


# Steady subsidence around a decorrelated core, read as a velocity (the case of a held-back real
# stack that the first models erased: a bowl whose core is masked, sinking at a constant rate).  The
# frame of ``stitched_frame("steady")`` (30 mm per 9-date window, about 7x a window's cumulative noise)
# with the pixels within 4 px of the peak set to no-data (NaN).  The velocity is the least-squares
# slope of each pixel's series (what timeseries2velocity.py fits), and its gain is the least-squares
# projection on the true velocity over the valid pixels.  Bound: gain in [0.85, 1.1] and the
# correlation above the raw series' velocity's.  Measured on seeds 1-3: fault 0.93-0.98, mogi
# 0.94-1.00 (raw 1.03); 0.85 is the 0.8 for a 5x signal with the margin of this ~7x one.
# An all-zero series (gain 0), half the truth (0.5) and a sigma-8 blur fail; the raw series passes the
# gain (1.04) and fails the correlation.
MIN_VELOCITY_GAIN, MAX_VELOCITY_GAIN = 0.85, 1.1


def velocity(series, valid):
    """Least-squares slope (per date) of each valid pixel of a series (T, H, W)."""
    t = np.arange(len(series), dtype=np.float64)
    G = np.stack([np.ones_like(t), t], axis=1)
    return np.linalg.lstsq(G, series[:, valid].astype(np.float64), rcond=None)[0][1]


def velocity_ok(vel, vel_true, vel_raw):
    g, c = gain_and_correlation(vel, vel_true, np.ones(vel.shape, bool))
    _, rc = gain_and_correlation(vel_raw, vel_true, np.ones(vel.shape, bool))
    return bool(MIN_VELOCITY_GAIN <= g <= MAX_VELOCITY_GAIN and c > rc), g, c, rc


def cored_steady_frame(seed=1):
    """(series with NaN core, truth of the last date, valid mask)."""
    from mintpy_dlae.injection import mask_core
    ts, truth = stitched_frame("steady", seed)
    valid = mask_core(np.ones(truth.shape, bool), truth, 4.0)
    return np.where(valid[None], ts, np.nan).astype(np.float32), truth, valid


@pytest.mark.parametrize("model", ["fault", "mogi"])
def test_steady_bowl_with_masked_core_keeps_its_velocity(model):
    ts, truth, valid = cored_steady_frame()
    res = denoise(ts, np.zeros(truth.shape, np.float32), model=model)
    assert np.isnan(res.timeseries[:, ~valid]).all()                 # the core stays no-data
    vel_true = truth[valid] / (len(ts) - 1)
    ok, g, c, rc = velocity_ok(velocity(res.timeseries, valid), vel_true, velocity(ts, valid))
    assert ok, (model, g, c, rc)


def test_velocity_check_can_fail():
    ts, truth, valid = cored_steady_frame()
    vel_true = truth[valid] / (len(ts) - 1)
    vel_raw = velocity(ts, valid)
    assert velocity_ok(vel_true, vel_true, vel_raw)[0]
    blurred = np.stack([ndimage.gaussian_filter(np.nan_to_num(d), 8.0) for d in ts])
    bad = {"all-zero": np.zeros_like(vel_true), "half": 0.5 * vel_true, "raw": vel_raw,
           "blur 8 px": velocity(blurred, valid)}
    for name, vel in bad.items():
        assert not velocity_ok(vel, vel_true, vel_raw)[0], name


def edge_and_interior(pred, truth, valid, band=EDGE_BAND):
    H, W = truth.shape
    yy, xx = np.mgrid[0:H, 0:W]
    dist = np.minimum.reduce([yy, xx, H - 1 - yy, W - 1 - xx])
    err = (pred - truth)
    edge = valid & (dist < band)
    inner = valid & (dist >= 2 * band)
    return float(np.sqrt(np.mean(err[edge] ** 2))), float(np.sqrt(np.mean(err[inner] ** 2)))


def edge_quality(pred, truth, raw, valid):
    """(ok, numbers): the edge/interior ratio and the absolute bounds of the module docstring."""
    e_edge, e_inner = edge_and_interior(pred, truth, valid)
    r_edge, r_inner = edge_and_interior(raw, truth, valid)
    t_edge, t_inner = edge_and_interior(np.zeros_like(truth), truth, valid)     # RMS of the truth
    numbers = dict(edge=e_edge, inner=e_inner, raw_fraction=(e_edge / r_edge, e_inner / r_inner),
                   truth_fraction=(e_edge / t_edge, e_inner / t_inner))
    ok = (e_edge <= EDGE_FACTOR * e_inner
          and max(numbers["raw_fraction"]) <= MAX_RAW_FRACTION
          and max(numbers["truth_fraction"]) <= MAX_TRUTH_FRACTION)
    return bool(ok), numbers


def bowls(shape, spacing=24):
    """Mogi bowls of 5-15 mm on a regular grid, including next to the frame edges."""
    rng = np.random.default_rng(5)
    out = np.zeros(shape, np.float32)
    for y in range(4, shape[0], spacing):
        for x in range(4, shape[1], spacing):
            out += rng.uniform(5e-3, 15e-3) * rng.choice([-1, 1]) * signal_map("mogi", shape, (y, x), depth=4.0)
    return out


def edge_frame():
    """(series (9, 120, 120), truth cumulative map): the bowls stepping at mid-window under noise."""
    T, shape = 9, (120, 120)
    truth = bowls(shape)
    h = (np.arange(T) >= T // 2).astype(np.float32)
    ts = noise_frame(T, shape, seed=3) + h[:, None, None] * truth[None]
    ts -= ts[:1]
    ts[0] += 1e-7
    return ts, truth


@pytest.mark.parametrize("model", ["fault", "mogi"])
def test_edges_as_good_as_interior(model):
    ts, truth = edge_frame()
    res = denoise(ts, np.zeros(truth.shape, np.float32), model=model)
    valid = np.isfinite(res.cumulative[0])
    ok, numbers = edge_quality(res.cumulative[0], truth, ts[-1] - ts[0], valid)
    assert ok, (model, numbers)


def test_edge_check_can_fail():
    """A prediction blanked (0) in the edge band fails; so do an all-zero map, the raw cumulative map
    and a sigma-8 blur of it (equally bad everywhere, they pass the ratio alone); the truth plus
    uniform 1 mm noise passes."""
    ts, truth = edge_frame()
    raw = ts[-1] - ts[0]
    valid = np.ones(truth.shape, bool)
    rng = np.random.default_rng(0)
    good = truth + rng.normal(0, 1e-3, truth.shape)
    assert edge_quality(good, truth, raw, valid)[0]
    bad = good.copy()
    bad[:EDGE_BAND] = 0
    bad[-EDGE_BAND:] = 0
    bad[:, :EDGE_BAND] = 0
    bad[:, -EDGE_BAND:] = 0
    e, i = edge_and_interior(bad, truth, valid)
    assert e > EDGE_FACTOR * i
    assert not edge_quality(bad, truth, raw, valid)[0]
    for name, pred in {"all-zero": np.zeros_like(truth), "raw": raw,
                       "blur 8 px": ndimage.gaussian_filter(raw, 8.0)}.items():
        ok, numbers = edge_quality(pred, truth, raw, valid)
        e, i = edge_and_interior(pred, truth, valid)
        assert e <= EDGE_FACTOR * i, (name, e, i)        # the ratio alone would accept it ...
        assert not ok, (name, numbers)                   # ... the absolute bounds do not
