"""Denoising engine: scale equivariance, tiling, masks, windows and stitching."""
import os

import numpy as np
import pytest

from scipy import ndimage

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from mintpy_dlae import dataset, inference  # noqa: E402
from mintpy_dlae.model import build_model  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    import keras
    keras.utils.set_random_seed(1)
    return build_model(filters=6, filters_2d=6)


def _series(n=11, H=70, W=64, seed=0):
    rng = np.random.default_rng(seed)
    ts = np.cumsum(rng.standard_normal((n, H, W)).astype("float32") * 0.004, axis=0)
    h = (rng.standard_normal((H, W)) * 80 + 500).astype("float32")
    return ts, h


@pytest.mark.parametrize("a", [0.01, 0.3, 7.0, 100.0])
def test_scale_equivariance(tiny, a):
    ts, h = _series()
    r1 = inference.denoise(ts, h, model=tiny, precision="float32")
    r2 = inference.denoise(a * ts, h, model=tiny, precision="float32")
    np.testing.assert_allclose(r2.timeseries, a * r1.timeseries, rtol=1e-4, atol=1e-6 * a * np.abs(r1.timeseries).max())


def test_tiled_equals_whole_image(tiny):
    ts, h = _series(H=90, W=75)
    whole = inference.denoise(ts, h, model=tiny, tile_size=1000, precision="float32")
    tiled = inference.denoise(ts, h, model=tiny, tile_size=23, precision="float32")
    scale = np.abs(whole.timeseries).max()
    np.testing.assert_allclose(tiled.timeseries, whole.timeseries, atol=1e-3 * scale)
    np.testing.assert_allclose(tiled.cumulative, whole.cumulative, atol=1e-3 * scale)


def test_patch_alone_or_inside_tile(tiny):
    """A 40x40 patch gives the same result alone (with its context halo) and inside a larger tile."""
    ts, h = _series(H=150, W=140, seed=3)
    halo = inference.receptive_halo(tiny)
    y0, x0 = 55, 50
    big = inference.denoise(ts, h, model=tiny, tile_size=1000, precision="float32")
    sl = (slice(y0 - halo, y0 + 40 + halo), slice(x0 - halo, x0 + 40 + halo))
    alone = inference.denoise(ts[(slice(None),) + sl], h[sl], model=tiny, precision="float32")
    core = (slice(None), slice(halo, halo + 40), slice(halo, halo + 40))
    a = alone.timeseries[core]
    b = big.timeseries[:, y0:y0 + 40, x0:x0 + 40]
    np.testing.assert_allclose(a, b, atol=1e-3 * np.abs(b).max())


def test_nodata_and_mask(tiny):
    """No-data (NaN, MintPy's all-zero pixels) and masked pixels come out NaN, and nothing else does
    (the count of valid outputs is exact)."""
    ts, h = _series(seed=4)
    ts[:, 10:20, 10:20] = np.nan          # NaN no-data
    ts[:, 40:45, 30:50] = 0.0             # MintPy zero no-data
    mask = np.ones(h.shape, bool)
    mask[60:, :5] = False
    res = inference.denoise(ts, h, model=tiny, mask=mask, precision="float32")
    assert np.isnan(res.timeseries[:, 10:20, 10:20]).all()
    assert np.isnan(res.timeseries[:, 40:45, 30:50]).all()
    assert np.isnan(res.timeseries[:, 60:, :5]).all()
    valid = ~np.isnan(res.timeseries[1])
    assert valid.sum() == h.size - 100 - 100 - 10 * 5
    assert np.isfinite(res.timeseries[:, 21, 10:20]).all()   # neighbours of a hole still get a result


def test_holes_only_change_outputs_within_the_halo(tiny):
    """Locality: an output pixel farther than the receptive halo (chessboard distance) from every
    no-data or masked pixel is the same as without the holes.  This is the property that makes tiled
    and whole-image results agree, so it gets the same tolerance as test_tiled_equals_whole_image
    scaled down 10x: 1e-4 of the output scale.  Measured with the tiny model: 2.4e-5 beyond the halo
    (32 px), 1.7e-4 beyond 25 px, 3e-3 beyond 15 px: the tail of the nested local windows
    (normalisation and elevation fit) reaches a little past receptive_halo.  A global statistic
    (noise scale, mean, reference) touched by the holes would move every pixel; next to the holes
    the output does change (checked, so the test has teeth)."""
    H = W = 120
    ts, h = _series(H=H, W=W, seed=4)
    ref = inference.denoise(ts, h, model=tiny, precision="float32")
    holed = ts.copy()
    holed[:, 5:25, 8:28] = np.nan          # NaN no-data
    holed[:, 30:36, 0:40] = 0.0            # MintPy zero no-data
    mask = np.ones((H, W), bool)
    mask[50:70, 0:6] = False               # masked (e.g. maskTempCoh)
    res = inference.denoise(holed, h, model=tiny, mask=mask, precision="float32")
    hole = np.isnan(holed).any(axis=0) | np.all(holed == 0, axis=0) | ~mask
    dist = ndimage.distance_transform_cdt(~hole, metric="chessboard")
    halo = inference.receptive_halo(tiny)
    far = dist > halo
    assert far.sum() > 2000                               # a real region, not an empty slice
    scale = np.abs(ref.timeseries).max()
    diff = np.abs(res.timeseries - ref.timeseries).max(axis=0)
    assert np.all(diff[far] <= 1e-4 * scale), diff[far].max() / scale
    near = (dist >= 1) & (dist <= 3)
    assert np.nanmax(diff[near]) > 1e-2 * scale           # the holes do matter next to them


def test_windows_and_stitching_with_oracle(monkeypatch):
    """If each window's per-date output is exact, stitching returns the exact time series."""
    n, H, W = 14, 8, 9
    rng = np.random.default_rng(5)
    truth = np.cumsum(rng.standard_normal((n, H, W)).astype("float32"), axis=0)
    truth -= truth[0]
    calls = []

    class Fake:
        num_dates = 9
        receptive_radius = 1

    def oracle(model, windows, elevation, mask=None, batch_size=32, precision="auto", calibrate=True):
        calls.append(len(windows))
        d = windows[:, 1:] - windows[:, :1]
        return d, d[:, -1]

    monkeypatch.setattr(inference, "prepare_model", lambda m, p="auto": (Fake(), Fake()))
    monkeypatch.setattr(inference, "receptive_halo", lambda m: 2)
    monkeypatch.setattr(inference, "predict_windows", oracle)
    res = inference.denoise(truth + 5.0, np.zeros((H, W), "float32"), model="x", tile_size=4, batch_size=4)
    assert res.cumulative.shape == (n - 8, H, W)
    np.testing.assert_allclose(res.timeseries, truth, atol=1e-4)
    np.testing.assert_allclose(res.cumulative, truth[8:] - truth[:n - 8], atol=1e-4)
    assert sum(calls) == (n - 8) * 2 * 3      # every window of every tile (2 x 3 tiles)


def test_bad_input(tiny):
    ts, h = _series(n=8)
    with pytest.raises(ValueError, match="at least 9 dates"):
        inference.denoise(ts, h, model=tiny)
    ts, h = _series()
    with pytest.raises(ValueError, match="elevation shape"):
        inference.denoise(ts, h[:-1], model=tiny)
    with pytest.raises(ValueError, match="precision"):
        inference.denoise(ts, h, model=tiny, precision="fp8")


def test_normalisation_is_local_and_scale_free():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((9, 60, 60)).astype("float32")
    valid = np.ones((60, 60), bool)
    x1, s1 = dataset.normalise_series(w, valid)
    x2, s2 = dataset.normalise_series(w * 1e-3, valid)
    np.testing.assert_allclose(s2, s1 * 1e-3, rtol=1e-5)
    np.testing.assert_allclose(x2, x1, rtol=1e-4, atol=1e-5)
    # changing data far away (> NORM_WINDOW/2) leaves the scale unchanged
    w2 = w.copy()
    w2[:, :, 50:] *= 10
    _, s3 = dataset.normalise_series(w2, valid)
    np.testing.assert_allclose(s3[:, :50 - dataset.NORM_WINDOW // 2 - 1], s1[:, :50 - dataset.NORM_WINDOW // 2 - 1], rtol=1e-5)


def test_bf16_close_to_float32(tiny):
    ts, h = _series()
    r32 = inference.denoise(ts, h, model=tiny, precision="float32")
    r16 = inference.denoise(ts, h, model=tiny, precision="bfloat16")
    err = np.nanmax(np.abs(r16.timeseries - r32.timeseries)) / np.nanmax(np.abs(r32.timeseries))
    assert err < 0.05


def test_remove_elevation_phase_removes_stratified_delay_only():
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:60, :60]
    h = 1500.0 + 400.0 * np.sin(xx / 9.0) * np.cos(yy / 13.0)
    valid = np.ones(h.shape, bool)
    k = rng.normal(0, 2e-5, 9)                         # m of delay per m of elevation, per date
    strat = k[:, None, None] * h
    deform = np.zeros((9, 60, 60))
    deform[4:] = 0.01 * np.exp(-((xx - 30.0) ** 2 + (yy - 30.0) ** 2) / 50.0)   # not correlated with h
    w = (strat + deform + 0.003).astype("float32")
    out = dataset.remove_elevation_phase(w, h, valid)
    assert out.shape == w.shape and out.dtype == np.float32
    np.testing.assert_allclose(out[0], w[0])          # first date kept: no-data detection unchanged
    rel = out - out[:1]
    resid_strat = (strat - strat[:1]).std()
    # the stratified part is removed except its local mean (k_t * box mean of h, smooth), and the
    # deformation stays
    hm, _ = dataset._box_mean(h, valid, dataset.NORM_WINDOW)
    left = (k - k[0])[:, None, None] * hm
    assert np.abs(rel - (deform - deform[:1]) - left).std() < 0.1 * resid_strat
    assert (rel - left)[-1].max() > 0.8 * deform[-1].max()
    # flat terrain: no correction at all (variance floor)
    flat = dataset.remove_elevation_phase(w, np.full_like(h, 1500.0), valid)
    np.testing.assert_allclose(flat, w, atol=1e-7)
