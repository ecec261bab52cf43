"""Real data (Sentinel-1 over Mexico City, tests/data/pyrate_cropA): the subsidence bowl survives.

The shipped fault model denoises ``timeseries_demErr.h5`` (13 dates, 60 x 100 px) through
``mintpy_dlae.py``. Inside the bowl (reliable pixels whose MintPy velocity from the raw series,
``velocity.h5``, is below -100 mm/yr: 2755 pixels), the denoised displacement at the last date must
follow the raw one:

* correlation (pixel by pixel, across the bowl) >= MIN_CORR,
* amplitude: the median of denoised / raw and the least-squares gain (slope of denoised on raw)
  both within [MIN_RATIO, MAX_RATIO], i.e. not damped (nor inflated) beyond the bound.

Measured with the shipped network-v2 models (mean + sigma, no gate; cards pretrained/*.json).
``python docs/examples/mexico_city.py`` prints the numbers (docs/figures/mexico_numbers.json, run
with ``--precision auto``: bfloat16 on a CPU with AMX or AVX512-BF16, float32 otherwise; the
2026-12-01 refresh ran in float32); ``python docs/examples/mexico_checks.py`` reruns both models in
float32 and bfloat16 (docs/figures/mexico_checks.json, ``precision``):

    model (sha256)            precision   correlation  median ratio  gain
    fault (2e8eb023c7ca)      bfloat16       0.970        0.940      0.909
                              float32        0.970        0.931      0.903
    mogi  (161551deae62)      bfloat16       0.968        0.949      0.914
                              float32        0.969        0.940      0.908

Bounds, by the rule kept from the first-generation models: a margin of about 0.1 below the lowest
value measured, and never looser than needed to reject the can-fail cases (all-zero, halved,
unrelated, flat offset; ``test_check_can_fail``):

* MIN_CORR = 0.86 (lowest 0.968, mogi bfloat16; 0.965 with earlier models);
* MIN_RATIO = 0.78 (lowest 0.903, the fault gain in float32; 0.881 with earlier models); a halved
  output (0.5) fails;
* MAX_RATIO = 1.10: 0.1 above 1.0, the value of an output equal to the input, which the check must
  accept (highest measured 0.949). The can-fail cases all fail on the low side, so nothing
  measured sets this bound.

The first-generation (gated) models measured correlations of 0.878-0.954 and gains of 0.81-0.98
and were held to looser bounds (0.80, [0.70, 1.40]); network v2 follows the bowl more closely.
This test runs only the fault model. An all-zero output fails (correlation undefined, ratio 0):
``test_check_can_fail`` checks that, and that halved, unrelated or flat maps fail too.

The bowl numbers alone accept the raw input (by design: 1, 1, 1) and a heavy blur (sigma 12 px:
correlation 0.915, median ratio 0.995, gain 0.914), and the stable-west level accepts an all-zero
map, so two more checks (``real_data_ok``; measured with the default precision on a 2-core x86 CPU):

* noise reduction, stable west (columns 0-9, valid pixels): the median over its pixels of the RMS of
  each pixel's residual about its own least-squares line in time, denoised / raw <= MAX_NOISE_RATIO
  = 0.4.  Measured 0.17 (fault) and 0.14 (mogi model) with the default two scales (0.18 and 0.14 with
  one pass; 2026-12-03), so more than 2x margin; the raw input is 1 and Gaussian blurs of every date
  (sigma 2-12 px) 0.73-0.87;
* detail, bowl: the least-squares gain of the denoised last-date map's high-pass (the map minus its
  sigma-4 px Gaussian blur, over the valid pixels) on the raw map's high-pass, >= MIN_DETAIL_GAIN =
  0.65: below the lowest value measured (fault 0.75, mogi model 0.72, with one or two scales;
  2026-12-03).  A sigma-4 blur measures 0.27, sigma 8 0.06, sigma 12 0.04.
"""
import os
import shutil

import numpy as np
import pytest
from mintpy.utils import readfile

from mintpy_dlae.denoise_file import model_file

DATA = os.path.join(os.path.dirname(__file__), "data", "pyrate_cropA")
BOWL_VELOCITY = -0.100     # m/yr
MIN_CORR = 0.86
MIN_RATIO, MAX_RATIO = 0.78, 1.10
MAX_NOISE_RATIO = 0.4       # measured 0.17 (fault), 0.14 (mogi); raw 1, blurs 0.73-0.87
MIN_DETAIL_GAIN = 0.65      # measured 0.75 (fault), 0.72 (mogi); blur sigma 4-12 px 0.27-0.04
DETAIL_SIGMA = 4.0          # px, the high-pass of the detail check
WEST = (slice(None), slice(0, 10))


def bowl_mask():
    vel = readfile.read(os.path.join(DATA, "velocity.h5"), datasetName="velocity")[0]
    mask = readfile.read(os.path.join(DATA, "maskTempCoh.h5"))[0].astype(bool)
    return mask & (vel < BOWL_VELOCITY)


def bowl_mask_valid():
    return readfile.read(os.path.join(DATA, "maskTempCoh.h5"))[0].astype(bool)


def bowl_numbers(raw_last, den_last, bowl):
    """(correlation, median ratio, gain) of the denoised vs raw last-date displacement."""
    raw, den = raw_last[bowl].astype(np.float64), den_last[bowl].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(raw, den)[0, 1] if np.std(den) > 0 else np.nan
    ratio = np.median(den) / np.median(raw)
    gain = np.sum(den * raw) / np.sum(raw * raw)
    return float(corr), float(ratio), float(gain)


def bowl_survives(numbers):
    corr, ratio, gain = numbers
    return bool(corr >= MIN_CORR and MIN_RATIO <= ratio <= MAX_RATIO
                and MIN_RATIO <= gain <= MAX_RATIO)


def west_noise_ratio(raw_ts, den_ts):
    """Median over the stable west's valid pixels of the RMS residual about each pixel's own
    least-squares line in time: denoised / raw."""
    import h5py
    from mintpy.utils import ptime
    with h5py.File(os.path.join(DATA, "timeseries_demErr.h5"), "r") as f:
        years = np.array(ptime.yyyymmdd2years([d.decode() for d in f["date"][:]]))
    west = (bowl_mask_valid()[WEST] & (raw_ts[-1][WEST] != 0)
            & np.all(np.isfinite(den_ts[(slice(None),) + WEST]), axis=0))
    G = np.stack([np.ones_like(years), years - years.mean()], axis=1)

    def resid(ts):
        y = ts[(slice(None),) + WEST][:, west].astype(np.float64)
        coef = np.linalg.lstsq(G, y, rcond=None)[0]
        return np.sqrt(np.mean((y - G @ coef) ** 2, axis=0))
    return float(np.median(resid(den_ts)) / np.median(resid(raw_ts)))


def detail_gain(raw_last, den_last, bowl):
    """Gain of the denoised map's high-pass on the raw map's high-pass over the bowl."""
    from scipy import ndimage
    valid = bowl_mask_valid() & np.isfinite(den_last)

    def high_pass(x):
        x = np.where(valid, np.nan_to_num(x), 0.0).astype(np.float64)
        return (x - ndimage.gaussian_filter(x, DETAIL_SIGMA))[bowl & valid]
    r, d = high_pass(raw_last), high_pass(den_last)
    return float(np.sum(d * r) / np.sum(r * r))


def real_data_ok(raw_ts, den_ts):
    """(ok, numbers): the bowl survives, noise is reduced in the stable west, the bowl keeps its detail."""
    bowl = bowl_mask()
    numbers = dict(bowl=bowl_numbers(raw_ts[-1], den_ts[-1], bowl), noise=west_noise_ratio(raw_ts, den_ts),
                   detail=detail_gain(raw_ts[-1], den_ts[-1], bowl))
    ok = (bowl_survives(numbers["bowl"]) and numbers["noise"] <= MAX_NOISE_RATIO
          and numbers["detail"] >= MIN_DETAIL_GAIN)
    return bool(ok), numbers


def test_data_set_is_as_documented():
    raw, atr = readfile.read(os.path.join(DATA, "timeseries_demErr.h5"))
    assert raw.shape == (13, 60, 100)
    assert (int(atr["REF_Y"]), int(atr["REF_X"])) == (9, 8)
    bowl = bowl_mask()
    assert 2000 < bowl.sum() < 3500
    # the raw bowl itself: about -9 cm at the last date (median), over 16 cm at the fastest pixels
    assert -0.12 < np.median(raw[-1][bowl]) < -0.06
    assert np.percentile(raw[-1][bowl], 1) < -0.14


def test_check_can_fail():
    from scipy import ndimage
    series = readfile.read(os.path.join(DATA, "timeseries_demErr.h5"))[0]
    raw = series[-1]
    bowl = bowl_mask()
    assert bowl_survives(bowl_numbers(raw, raw, bowl))
    assert not bowl_survives(bowl_numbers(raw, np.zeros_like(raw), bowl))      # all-zero output
    assert not bowl_survives(bowl_numbers(raw, 0.5 * raw, bowl))               # damped by half
    rng = np.random.default_rng(0)
    noise = rng.normal(0, np.std(raw[bowl]), raw.shape)
    assert not bowl_survives(bowl_numbers(raw, noise, bowl))                   # unrelated map
    smooth = np.full_like(raw, np.median(raw[bowl]))
    assert not bowl_survives(bowl_numbers(raw, smooth, bowl))                  # a flat offset
    # the whole check on series: the raw input fails the noise reduction, a sigma-12 blur of every
    # date passes the bowl numbers but fails the detail, an all-zero series fails the bowl
    ok, numbers = real_data_ok(series, series)
    assert bowl_survives(numbers["bowl"]) and numbers["noise"] > MAX_NOISE_RATIO and not ok
    blur = np.stack([ndimage.gaussian_filter(x, 12.0) for x in series])
    ok, numbers = real_data_ok(series, blur)
    assert bowl_survives(numbers["bowl"]) and numbers["detail"] < MIN_DETAIL_GAIN and not ok
    assert not real_data_ok(series, np.zeros_like(series))[0]


def test_bowl_survives_the_shipped_fault_model(tmp_path):
    assert model_file("fault") is not None, "no shipped fault model in this installation"
    from mintpy_dlae.cli import denoise as dlae_cli
    for name in ("timeseries_demErr.h5", "maskTempCoh.h5"):
        shutil.copy(os.path.join(DATA, name), tmp_path / name)
    (tmp_path / "inputs").mkdir()
    shutil.copy(os.path.join(DATA, "inputs", "geometryGeo.h5"), tmp_path / "inputs")
    out = str(tmp_path / "timeseries_demErr_DLAE.h5")
    dlae_cli.main([str(tmp_path / "timeseries_demErr.h5"), "-g",
                   str(tmp_path / "inputs" / "geometryGeo.h5"), "-m",
                   str(tmp_path / "maskTempCoh.h5"), "--model", "fault", "--no-progress",
                   "-o", out])
    raw = readfile.read(os.path.join(DATA, "timeseries_demErr.h5"))[0]
    den, atr = readfile.read(out)
    assert den.shape == raw.shape and atr["REF_Y"] == "9" and atr["REF_X"] == "8"
    ok, numbers = real_data_ok(raw, den)
    corr, ratio, gain = numbers["bowl"]
    print(f"bowl: correlation {corr:.3f}, median ratio {ratio:.3f}, gain {gain:.3f}; west noise ratio "
          f"{numbers['noise']:.3f}, bowl detail gain {numbers['detail']:.3f}")
    assert bowl_survives(numbers["bowl"]), (f"bowl damaged by the fault model: correlation {corr:.3f} "
                                            f"(>= {MIN_CORR}), median ratio {ratio:.3f} and gain "
                                            f"{gain:.3f} (in [{MIN_RATIO}, {MAX_RATIO}])")
    assert numbers["noise"] <= MAX_NOISE_RATIO, numbers           # noise removed in the stable west
    assert numbers["detail"] >= MIN_DETAIL_GAIN, numbers          # not a blur
    # the stable west (columns 0-9, velocity -2 to -8 mm/yr in velocity.h5) stays stable: the median
    # over its valid pixels (finite and not MintPy no-data 0 in the input) within 1 cm at the last date
    west = np.isfinite(den[-1, :, :10]) & (raw[-1, :, :10] != 0) & bowl_mask_valid()[:, :10]
    assert west.sum() > 400
    assert abs(np.median(den[-1, :, :10][west])) < 0.01


# ------------------------------------------------------------------------------------------------
# Signal injection into the real noise of this data set (mintpy_dlae.injection; the same numbers as
# `python benchmarks/injection.py --model fault --model mogi --json docs/figures/injection.json`).
# Noise: timeseries_demErr.h5 minus each pixel's linear trend, 9-date windows starting at dates 0
# and 4; Mogi (depth 8 px) and Okada thrust signals, step / steady, with and without a masked core
# (radius 4 px), centred at row 35, col 25.
#
# Regression bounds (why): at 5x and 10x the cumulative noise std, every case of both models keeps
# gain >= MIN_GAIN_5X and <= MAX_GAIN, and is closer to the truth than the raw map (correlation above
# the raw map's by >= MIN_CORR_LEAD).  Measured with the shipped models (training/fault_bn and
# training/mogi_fd) and the default two scales (docs/figures/injection.json, 2026-12-03): lowest gain
# 0.82 (steady Mogi, 5x, both models), highest 1.09; smallest correlation lead 0.14 (both, 10x).
# MIN_GAIN_5X = 0.45 and MIN_CORR_LEAD = 0.02 leave a margin for CPU numerics (bf16); MAX_GAIN = 1.2
# is the bound on inflation.  The targets (gain >= 0.8 at 5x, >= 0.7 with a masked
# core, >= 0.5 at 2x) are held by ``test_injection_targets``.
CENTER = (35, 25)
MIN_GAIN_5X, MAX_GAIN, MIN_CORR_LEAD = 0.45, 1.2, 0.02


@pytest.fixture(scope="module")
def real_noise():
    from mintpy_dlae.injection import load_detrended
    return load_detrended(os.path.join(DATA, "timeseries_demErr.h5"), os.path.join(DATA, "maskTempCoh.h5"),
                          os.path.join(DATA, "inputs", "geometryGeo.h5"))


@pytest.fixture(scope="module", params=["fault", "mogi"])
def injection_table(request, real_noise):
    from mintpy_dlae.injection import measure
    rows, noise_only = measure(request.param, *real_noise, CENTER, factors=(2.0, 5.0, 10.0))
    return request.param, rows, noise_only


def injection_ok(rows):
    return all(MIN_GAIN_5X <= r["gain"] <= MAX_GAIN and r["correlation"] >= r["raw_correlation"] + MIN_CORR_LEAD
               for r in rows if r["factor"] >= 5)


@pytest.mark.slow
def test_injection_keeps_signals(injection_table):
    model, rows, _ = injection_table
    bad = [r for r in rows if r["factor"] >= 5 and not injection_ok([r])]
    assert not bad, (model, bad)


def test_injection_check_can_fail(real_noise):
    """All-zero, raw and heavily blurred outputs fail ``injection_ok`` on the same injections."""
    from scipy import ndimage

    from mintpy_dlae.injection import gain_and_correlation, history, signal_map, window_noise
    noise, height, valid = real_noise
    w = window_noise(noise, valid, 0)
    std = float((w[-1] - w[0])[valid].std())
    for name in ("zero", "raw", "blur"):
        rows = []
        for kind in ("mogi", "fault"):
            truth = 5 * std * signal_map(kind, valid.shape, CENTER)
            data = w + history("step")[:, None, None] * truth[None]
            raw = np.where(valid, data[-1] - data[0], 0.0)
            pred = {"zero": np.zeros_like(raw), "raw": raw,
                    "blur": ndimage.gaussian_filter(raw, 8.0)}[name]
            g, c = gain_and_correlation(pred, truth, valid)
            _, rc = gain_and_correlation(raw, truth, valid)
            rows.append(dict(factor=5, gain=g, correlation=c, raw_correlation=rc))
        assert not injection_ok(rows), name


@pytest.mark.slow
def test_injection_noise_only_not_detected(injection_table):
    """At most 1 % of pixels with |mean| / sigma > 3 on real noise alone (DESIGN.md §5); the raw
    cumulative map of the same windows, judged with the model's sigma, fails (measured 0.54 of the
    pixels with the fault model's sigma, 0.54 with the mogi model's: windows 0 and 4)."""
    model, _, noise_only = injection_table
    assert noise_only["fraction_significant"] <= 0.01, (model, noise_only)
    assert noise_only["raw_fraction_significant"] > 0.01, (model, noise_only)


# The case nearest a target: steady Mogi-shaped motion at 5x, 0.823 (fault) and 0.819 (mogi model) with
# the default two scales (docs/figures/injection.json); with one pass it sat on the 0.8 edge (0.799-0.800
# and 0.793) and this test held it to 0.79 until the coarse pass became the default (2026-12-03).


@pytest.mark.slow
def test_injection_targets(injection_table):
    """Issue 10's injection targets at 5x and 2x, with the default 8 symmetric copies and two scales."""
    model, rows, _ = injection_table
    for r in rows:
        if r["factor"] >= 5:   # the raw map has a gain near 1 too: the output must also be closer to the truth
            assert r["correlation"] >= r["raw_correlation"] + MIN_CORR_LEAD, (model, r)
        if r["factor"] == 5:
            bound = 0.7 if r["core"] else 0.8
            assert r["gain"] >= bound, (model, r)
        if r["factor"] == 2:
            assert r["gain"] >= 0.5, (model, r)
        assert r["gain"] <= 1.2, (model, r)
