"""Denoising engine: scale equivariance, tiling, locality, masks, windows and stitching, for the
deformation and its standard deviation."""
import os

import numpy as np
import pytest

from scipy import ndimage

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from mintpy_dlae import dataset, inference  # noqa: E402
from mintpy_dlae.model import build_model, shipped_config  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    import keras
    keras.utils.set_random_seed(1)
    # the shipped layout (validity channel, dilated decoder, mean + log-sigma heads), few filters
    return build_model(**dict(shipped_config(), filters=6, filters_2d=6))


def _series(n=11, H=70, W=64, seed=0):
    rng = np.random.default_rng(seed)
    ts = np.cumsum(rng.standard_normal((n, H, W)).astype("float32") * 0.004, axis=0)
    h = (rng.standard_normal((H, W)) * 80 + 500).astype("float32")
    return ts, h


@pytest.mark.parametrize("a", [0.01, 0.3, 7.0, 100.0])
def test_scale_equivariance(tiny, a):
    ts, h = _series()
    # the spike rule has a threshold in metres (not scale-free: at a = 100 the 0.4 m white steps
    # of this series are spikes), so it is off for the network's property
    r1 = inference.denoise(ts, h, model=tiny, precision="float32", spikes=False)
    r2 = inference.denoise(a * ts, h, model=tiny, precision="float32", spikes=False)
    np.testing.assert_allclose(r2.timeseries, a * r1.timeseries, rtol=1e-4, atol=1e-6 * a * np.abs(r1.timeseries).max())
    # the uncertainty is in metres too: it scales with the data
    np.testing.assert_allclose(r2.timeseries_std, a * r1.timeseries_std, rtol=1e-4,
                               atol=1e-6 * a * np.nanmax(r1.timeseries_std))
    np.testing.assert_allclose(r2.cumulative_std, a * r1.cumulative_std, rtol=1e-4,
                               atol=1e-6 * a * np.nanmax(r1.cumulative_std))


def test_tiled_equals_whole_image(tiny):
    ts, h = _series(H=90, W=75)
    whole = inference.denoise(ts, h, model=tiny, tile_size=1000, precision="float32")
    tiled = inference.denoise(ts, h, model=tiny, tile_size=23, precision="float32")
    scale = np.abs(whole.timeseries).max()
    np.testing.assert_allclose(tiled.timeseries, whole.timeseries, atol=1e-3 * scale)
    np.testing.assert_allclose(tiled.cumulative, whole.cumulative, atol=1e-3 * scale)
    np.testing.assert_allclose(tiled.cumulative_std, whole.cumulative_std, atol=1e-3 * np.nanmax(whole.cumulative_std))


def test_std_outputs_are_valid(tiny):
    """The standard deviations have the outputs' shapes, are positive and finite where the data are
    valid and NaN at no-data; the time series' std is 0 at the first date (the reference) and grows
    along the series (variances of the increments add up)."""
    ts, h = _series(n=12, seed=8)
    ts[:, 5:9, 5:9] = np.nan
    r = inference.denoise(ts, h, model=tiny, precision="float32")
    assert r.timeseries_std.shape == r.timeseries.shape and r.cumulative_std.shape == r.cumulative.shape
    valid = ~np.isnan(ts).any(axis=0)
    assert np.isnan(r.timeseries_std[:, ~valid]).all() and np.isnan(r.cumulative_std[:, ~valid]).all()
    assert np.isfinite(r.timeseries_std[:, valid]).all() and (r.cumulative_std[:, valid] > 0).all()
    np.testing.assert_array_equal(r.timeseries_std[0, valid], 0)
    assert np.all(np.diff(r.timeseries_std[:, valid], axis=0) >= -1e-6 * np.nanmax(r.timeseries_std))


def test_patch_alone_or_inside_tile(tiny):
    """A 40x40 patch gives the same result alone (with its context halo) and inside a larger tile,
    given the same noise scale per window (the frame's, which a caller feeding row blocks passes)."""
    ts, h = _series(H=150, W=140, seed=3)
    halo = inference.receptive_halo(tiny)
    y0, x0 = 55, 50
    big = inference.denoise(ts, h, model=tiny, tile_size=1000, precision="float32", scales=1, level="network")
    scale = inference.window_scales(ts, np.ones(h.shape, bool))
    sl = (slice(y0 - halo, y0 + 40 + halo), slice(x0 - halo, x0 + 40 + halo))
    alone = inference.denoise(ts[(slice(None),) + sl], h[sl], model=tiny, precision="float32", scales=1, level="network", scale=scale)
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


def test_overwrite_input_saves_a_copy_and_changes_nothing_else(tiny):
    """``overwrite_input=False`` (default) leaves the caller's array as it was; ``True`` zeroes only its
    no-data pixels in place, and both give the same result."""
    ts, h = _series(seed=5)
    ts[:, 10:20, 10:20] = np.nan
    mask = np.ones(h.shape, bool)
    mask[:3, :] = False
    before = ts.copy()
    a = inference.denoise(ts, h, model=tiny, mask=mask, precision="float32")
    np.testing.assert_array_equal(ts, before)
    b = inference.denoise(ts, h, model=tiny, mask=mask, precision="float32", overwrite_input=True)
    np.testing.assert_array_equal(a.timeseries, b.timeseries)
    np.testing.assert_array_equal(a.cumulative_std, b.cumulative_std)
    assert (ts[:, 10:20, 10:20] == 0).all() and (ts[:, :3] == 0).all()
    np.testing.assert_array_equal(ts[:, 3:10], before[:, 3:10])


def test_holes_only_change_outputs_within_the_halo(tiny):
    """Locality (at the network's level: the input's level is a frame-wide mean).  The network and
    the elevation standardisation are local; the only frame-wide quantity is the noise scale, one number per window (a median over the frame, by design).  So:
    (1) with the noise scale held fixed, an output pixel farther than the receptive halo
    (chessboard distance) from every no-data or masked pixel is the same as without the holes, to
    1e-4 of the output scale (measured with the tiny shipped-layout model: 4e-6 beyond the halo of
    47 px, 3.4e-4 beyond 30 px, 4.6e-2 beyond 20 px);
    (2) letting the holes change the frame's median, far outputs move by less than 1 % of the output
    scale (measured 2e-4: removing 3 % of the pixels hardly moves a median).  Next to the holes the
    output does change (checked, so the test has teeth)."""
    H = W = 160
    ts, h = _series(H=H, W=W, seed=4)
    scale = inference.window_scales(ts, np.ones((H, W), bool))
    ref = inference.denoise(ts, h, model=tiny, precision="float32", scales=1, level="network", scale=scale)
    holed = ts.copy()
    holed[:, 5:25, 8:28] = np.nan          # NaN no-data
    holed[:, 30:36, 0:40] = 0.0            # MintPy zero no-data
    mask = np.ones((H, W), bool)
    mask[50:70, 0:6] = False               # masked (e.g. maskTempCoh)
    res = inference.denoise(holed, h, model=tiny, mask=mask, precision="float32", scales=1, level="network", scale=scale)
    hole = np.isnan(holed).any(axis=0) | np.all(holed == 0, axis=0) | ~mask
    dist = ndimage.distance_transform_cdt(~hole, metric="chessboard")
    far = dist > inference.receptive_halo(tiny)
    assert far.sum() > 2000                               # a real region, not an empty slice
    top = np.abs(ref.timeseries).max()
    diff = np.abs(res.timeseries - ref.timeseries).max(axis=0)
    assert np.all(diff[far] <= 1e-4 * top), diff[far].max() / top
    near = (dist >= 1) & (dist <= 3)
    assert np.nanmax(diff[near]) > 1e-2 * top             # the holes do matter next to them
    own = inference.denoise(holed, h, model=tiny, mask=mask, precision="float32", scales=1, level="network")   # the frame's own scale
    assert np.abs(own.timeseries - ref.timeseries).max(axis=0)[far].max() < 1e-2 * top


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

    def oracle(model, windows, elevation, mask=None, batch_size=32, precision="auto", scale=None, **kwargs):
        calls.append(len(windows))
        d = windows[:, 1:] - windows[:, :1]
        zero = np.zeros_like(d)
        return inference.WindowPrediction(d, d[:, -1].copy(), zero, zero[:, -1].copy())

    monkeypatch.setattr(inference, "prepare_model", lambda m, p="auto": (Fake(), Fake()))
    monkeypatch.setattr(inference, "receptive_halo", lambda m: 2)
    monkeypatch.setattr(inference, "predict_windows", oracle)
    res = inference.denoise(truth + 5.0, np.zeros((H, W), "float32"), model="x", tile_size=4, batch_size=4,
                            spikes=False, scales=1)          # metre-sized white steps: spikes for the rule; one pass
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


def test_normalisation_is_scale_free():
    """x / s is the same for data in metres and in millimetres, and s follows the data."""
    rng = np.random.default_rng(0)
    w = np.cumsum(rng.standard_normal((9, 60, 60)), axis=0).astype("float32")
    valid = np.ones((60, 60), bool)
    x1, s1 = dataset.normalise_series(w, valid)
    x2, s2 = dataset.normalise_series(w * 1e-3, valid)
    np.testing.assert_allclose(s2, s1 * 1e-3, rtol=1e-5)
    np.testing.assert_allclose(x2, x1, rtol=1e-4, atol=1e-5)


def test_window_scale_of_a_random_walk():
    """Independent reference: for a random walk with increments N(0, sigma^2), the mean of the 8
    squared increments of a pixel is sigma^2 chi2_8 / 8, so the median over many pixels is
    sigma^2 * median(chi2_8) / 8 (scipy.stats) and the scale sqrt of that: 0.958 sigma.  With 40,000
    pixels the sample median is within 1 % (its standard error is ~0.3 %).  A strong signal on 2 %
    of the pixels (50 sigma) moves the median-based scale by less than 5 %."""
    from scipy.stats import chi2
    sigma = 3e-3
    rng = np.random.default_rng(1)
    w = np.cumsum(rng.normal(0, sigma, (9, 200, 200)), axis=0).astype("float32")
    valid = np.ones((200, 200), bool)
    expected = sigma * np.sqrt(chi2.median(8) / 8)
    np.testing.assert_allclose(dataset.window_scale(w, valid), expected, rtol=0.01)
    w[4:, :20, :40] += 50 * sigma                          # a compact step on 2 % of the pixels
    np.testing.assert_allclose(dataset.window_scale(w, valid), expected, rtol=0.05)
    valid[:, 100:] = False                                 # invalid pixels are left out
    w[:, :, 100:] = 1.0
    np.testing.assert_allclose(dataset.window_scale(w, valid), expected, rtol=0.05)


def test_window_scale_leaves_out_constant_and_missing_values():
    """Pixels that do not change within a window (a gap filled with the nearest date's value) and
    missing increments do not enter the scale: with 60 % of the pixels constant the scale is that of
    the others (it was 0, and the network's input 1e28), NaN / inf next to a date are skipped."""
    sigma = 2e-3
    rng = np.random.default_rng(4)
    w = np.cumsum(rng.normal(0, sigma, (9, 100, 100)), axis=0)
    valid = np.ones((100, 100), bool)
    alone = dataset.window_scale(w[:, 60:], valid[60:])          # the 40 % that change
    w[:, :60] = w[:1, :60]                                       # 60 % constant over the window
    np.testing.assert_allclose(dataset.window_scale(w, valid), alone, rtol=1e-6)
    w[3, 60:70, :] = np.nan                                      # a missing date on some pixels
    w[5, 70:72, :] = np.inf
    got = dataset.window_scale(w, valid)
    assert np.isfinite(got) and abs(got / alone - 1) < 0.05
    assert dataset.window_scale(np.zeros((9, 5, 5)), np.ones((5, 5), bool)) == 0     # nothing changes


def test_gaps_on_most_pixels_keep_the_output_bounded(tiny):
    """A series whose last dates are missing on most pixels (filled with their last value for the
    network) is denoised with the scale of the pixels that have data: finite, bounded output, and
    the last window (constant on those pixels) is not silenced by a zero scale, as it was."""
    ts, h = _series(n=12, H=40, W=40)
    ts[3:, :, :26] = np.nan                                      # 65 % of the pixels lose dates 3-11
    with pytest.warns(UserWarning, match="NaN/inf"):
        res = inference.denoise(ts, h, model=tiny, precision="float32", augment=1)
    data_rms = float(np.sqrt(np.nanmean(ts ** 2)))
    kept = res.cumulative[:, :, 26:]
    assert np.isfinite(kept).all() and np.abs(kept).max() < 100 * data_rms
    assert np.abs(kept[-1]).max() > 1e-3 * data_rms        # window 3 (dates 3-11) is not silenced
    assert np.isnan(res.cumulative[:, :, :26]).all()       # every window's last date is missing there


def test_cumulative_only_model_gives_no_time_series(tmp_path):
    """A model with the paper's cumulative-only head has no per-date maps: denoise() keeps its
    cumulative maps (those of predict_windows) and gives a NaN time series with a warning (it was a
    zero-padded guess: 0 on every date but each window's last); mintpy_dlae.py refuses the model."""
    from mintpy_dlae import io
    from mintpy_dlae.denoise_file import load_model
    net = build_model(**dict(shipped_config(), filters=4, filters_2d=4, output="cumulative"))
    ts, h = _series(n=9, H=24, W=24)
    with pytest.warns(UserWarning, match="cumulative-only head"):
        res = inference.denoise(ts, h, model=net, precision="float32", scales=1, augment=1, level="network")
    assert np.isnan(res.timeseries).all() and np.isnan(res.timeseries_std).all()
    ref = inference.predict_windows(net, ts[None], h[None], precision="float32")
    np.testing.assert_allclose(res.cumulative, ref.cumulative, rtol=1e-4, atol=1e-7)
    path = str(tmp_path / "cum.keras")
    net.save(path)
    with pytest.raises(io.DlaeInputError, match="cumulative-only head"):
        load_model(path)


def test_a_constant_scale_map_is_the_scale(tiny):
    """predict_windows(scale=map (N, H, W)) with the same value everywhere gives what the scale
    (N,) gives, with one pass and with symmetric copies (the map is turned with each copy); a map
    that doubles gives twice the mean and sigma (the network sees the same normalised input)."""
    ts, h = _series(n=9, H=24, W=30)
    noisy, elev = ts[None], h[None]
    s = dataset.window_scale(noisy, dataset.valid_mask(noisy))
    smap = np.broadcast_to(s[:, None, None], (1, 24, 30)).astype(np.float32)
    for a in (1, 8):
        ref = inference.predict_windows(tiny, noisy, elev, precision="float32", augment=a, scale=s)
        got = inference.predict_windows(tiny, noisy, elev, precision="float32", augment=a, scale=smap)
        np.testing.assert_allclose(got.cumulative, ref.cumulative, rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(got.dates_std, ref.dates_std, rtol=1e-6, atol=1e-12)
    two = inference.predict_windows(tiny, 2 * noisy, elev, precision="float32", scale=2 * smap)
    one = inference.predict_windows(tiny, noisy, elev, precision="float32", scale=smap)
    np.testing.assert_allclose(two.cumulative, 2 * one.cumulative, rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(two.cumulative_std, 2 * one.cumulative_std, rtol=1e-5, atol=1e-12)


def test_normalised_elevation_per_window_over_several_batches(tiny):
    """predict_windows(elevation_normalised=(N, H, W)) with more windows than one batch gives each
    window its own channel (it failed to broadcast), as elevation=(N, H, W) does; (H, W) is shared."""
    rng = np.random.default_rng(3)
    noisy = np.cumsum(rng.normal(0, 3e-3, (5, 9, 20, 20)), axis=1).astype(np.float32)
    elev = (rng.standard_normal((5, 20, 20)) * 200 + 800).astype(np.float32)
    valid = dataset.valid_mask(noisy)
    norm = np.stack([dataset.normalise_elevation(e, v) for e, v in zip(elev, valid)])
    ref = inference.predict_windows(tiny, noisy, elev, batch_size=2, precision="float32")
    got = inference.predict_windows(tiny, noisy, None, elevation_normalised=norm, batch_size=2, precision="float32")
    np.testing.assert_allclose(got.cumulative, ref.cumulative, rtol=1e-5, atol=1e-9)
    one = inference.predict_windows(tiny, noisy, None, elevation_normalised=norm[0], batch_size=2, precision="float32")
    np.testing.assert_allclose(one.cumulative[0], ref.cumulative[0], rtol=1e-5, atol=1e-9)


def test_elevation_standardisation_is_local():
    """Changing the terrain farther than 2 x NORM_WINDOW / 2 away (the local variance is a box mean
    around the local mean, itself a box mean) leaves the standardised elevation as it was."""
    rng = np.random.default_rng(2)
    h = (rng.standard_normal((60, 90)) * 100 + 800).astype("float32")
    valid = np.ones(h.shape, bool)
    e1 = dataset.normalise_elevation(h, valid)
    h2 = h.copy()
    h2[:, 60:] = h2[:, 60:] * 5 + 2000
    e2 = dataset.normalise_elevation(h2, valid)
    keep = 60 - 2 * (dataset.NORM_WINDOW // 2) - 1      # nested boxes: the mean, then the variance
    np.testing.assert_allclose(e2[:, :keep], e1[:, :keep], rtol=1e-5, atol=1e-6)
    assert np.abs(e2[:, 60:] - e1[:, 60:]).max() > 0.1


def test_bf16_close_to_float32(tiny):
    ts, h = _series()
    r32 = inference.denoise(ts, h, model=tiny, precision="float32")
    r16 = inference.denoise(ts, h, model=tiny, precision="bfloat16")
    err = np.nanmax(np.abs(r16.timeseries - r32.timeseries)) / np.nanmax(np.abs(r32.timeseries))
    assert err < 0.05


def test_compiled_forward_equals_eager_call_for_any_tile_shape(tiny):
    """The compiled forward pass (one trace for all batch and tile sizes, native dilated
    convolutions) gives the eager Keras call's output on tiles whose widths change from call to call
    (Keras pads dilated convolutions by shape)."""
    from mintpy_dlae.model import export_float32
    _, net = inference.prepare_model(tiny, "float32")
    reference = export_float32(net)      # a separate float32 copy: Keras's own ops, eager
    forward = inference.compiled_forward(net)
    rng = np.random.default_rng(3)
    for n, H, W in [(1, 13, 17), (2, 40, 33), (3, 9, 64), (1, 70, 41)]:
        inputs = {"series": rng.standard_normal((n, net.num_dates, H, W, net.input_channels)).astype("float32"),
                  "elevation": rng.standard_normal((n, H, W, 1)).astype("float32")}
        eager, compiled = reference(inputs, training=False), forward(inputs)
        assert set(eager) == set(compiled)
        for key in eager:
            a, b = np.asarray(eager[key]), np.asarray(compiled[key])
            assert a.shape == b.shape, (key, a.shape, b.shape)
            np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5 * float(np.abs(a).max()))


def test_prediction_follows_the_weights_of_a_live_model_in_the_other_precision():
    """A float32 model predicted in bfloat16 goes through a cached copy; after its weights change (as in
    training), the next prediction must use the new weights, as a fresh model with them does."""
    predict_windows = inference.predict_windows
    import keras

    old = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        net = build_model(filters=4, filters_2d=4)
        fresh = build_model(filters=4, filters_2d=4)
    finally:
        keras.config.set_dtype_policy(old)
    rng = np.random.default_rng(0)
    x = (1e-3 * rng.standard_normal((2, 9, 24, 24))).astype(np.float32)
    elev = np.zeros((2, 24, 24), np.float32)
    first = predict_windows(net, x, elev, precision="bfloat16").cumulative
    net.set_weights([w + 0.05 * rng.standard_normal(w.shape).astype(w.dtype) for w in net.get_weights()])
    second = predict_windows(net, x, elev, precision="bfloat16").cumulative
    fresh.set_weights(net.get_weights())
    expect = predict_windows(fresh, x, elev, precision="bfloat16").cumulative
    assert not np.allclose(first, second)
    np.testing.assert_allclose(second, expect, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("k, flip", [(1, False), (2, False), (0, True), (3, True)])
def test_eight_copies_are_exactly_equivariant(tiny, k, flip):
    """The average over all 8 symmetries of the square is equivariant: rotating or mirroring the input
    rotates or mirrors the output (mean and std) exactly, although the network itself is not.  The
    check fails if any copy is mapped back with the wrong inverse; non-square windows (H != W) make a
    wrong axis order fail too."""
    ts, h = _series(n=9, H=30, W=26, seed=3)

    def fwd(a):       # written out here, independently of inference._dihedral
        return np.rot90(np.flip(a, -1) if flip else a, k, axes=(-2, -1))

    def inv(a):
        a = np.rot90(a, 4 - k, axes=(-2, -1))
        return np.flip(a, -1) if flip else a
    windows = ts[None]
    one = inference.predict_windows(tiny, windows, h, precision="float32", augment=1)
    a = inference.predict_windows(tiny, windows, h, precision="float32", augment=8)
    b = inference.predict_windows(tiny, np.ascontiguousarray(fwd(windows)), np.ascontiguousarray(fwd(h)),
                                  precision="float32", augment=8)
    scale = np.abs(a.dates).max()
    np.testing.assert_allclose(inv(b.dates), a.dates, atol=1e-5 * scale)
    np.testing.assert_allclose(inv(b.dates_std), a.dates_std, atol=1e-5 * a.dates_std.max())
    # the network alone is not equivariant (else the check above would prove nothing)
    b1 = inference.predict_windows(tiny, np.ascontiguousarray(fwd(windows)), np.ascontiguousarray(fwd(h)),
                                   precision="float32", augment=1)
    assert np.abs(inv(b1.dates) - one.dates).max() > 1e-3 * scale


def test_augmented_std_is_the_rms_of_the_copies(tiny):
    """augment=2 is the mean of the identity copy and the vertical mirror (DIHEDRAL[1]), its std the
    root mean square of the two copies' std, computed here by hand from two plain passes."""
    ts, h = _series(n=9, H=28, W=28, seed=4)
    w = ts[None]
    two = inference.predict_windows(tiny, w, h, precision="float32", augment=2)
    p0 = inference.predict_windows(tiny, w, h, precision="float32")
    p1 = inference.predict_windows(tiny, np.ascontiguousarray(w[..., ::-1, :]), np.ascontiguousarray(h[::-1]),
                                   precision="float32")
    mean = (p0.dates + p1.dates[..., ::-1, :]) / 2
    std = np.sqrt((p0.dates_std ** 2 + p1.dates_std[..., ::-1, :] ** 2) / 2)
    np.testing.assert_allclose(two.dates, mean, atol=1e-6 * np.abs(mean).max())
    np.testing.assert_allclose(two.dates_std, std, rtol=1e-5)


def test_resolve_augment():
    budget = inference.AUTO_AUGMENT_PIXEL_WINDOWS
    assert inference.resolve_augment("auto", 5 * 40 * 40) == 8
    assert inference.resolve_augment("AUTO", budget // 4) == 4
    assert inference.resolve_augment("auto", budget // 2 + 1) == 1
    assert inference.resolve_augment("auto", 92 * 1000 * 1000) == 1      # the 1000 x 1000 x 100 frame
    assert inference.resolve_augment("2", 10 ** 12) == 2                 # an explicit number is kept
    for bad in (3, "x", 0, 16):
        with pytest.raises(ValueError, match="augment"):
            inference.resolve_augment(bad, 100)


def test_denoise_auto_augment_and_tiles(tiny):
    """denoise() defaults to 'auto' (8 copies for a small frame), and tiles still equal the whole frame."""
    ts, h = _series(H=40, W=34)
    auto = inference.denoise(ts, h, model=tiny, precision="float32")
    eight = inference.denoise(ts, h, model=tiny, precision="float32", augment=8, tile_size=17)
    one = inference.denoise(ts, h, model=tiny, precision="float32", augment=1)
    scale = np.abs(auto.timeseries).max()
    np.testing.assert_allclose(eight.timeseries, auto.timeseries, atol=1e-3 * scale)
    np.testing.assert_allclose(eight.cumulative_std, auto.cumulative_std, atol=1e-3 * np.nanmax(auto.cumulative_std))
    assert np.abs(one.timeseries - auto.timeseries).max() > 1e-3 * scale
    assert (auto.augment, eight.augment, one.augment) == (8, 8, 1)


def test_copies_are_mapped_back_exactly(monkeypatch):
    """With a stand-in network that is a per-pixel function of its input (exactly equivariant), every
    copy mapped back is the plain pass, so 2, 4 and 8 copies equal one; a copy mapped back with a wrong
    rotation or mirror would misplace its pixels (the series is not symmetric)."""
    class PerPixel:
        num_dates = 9
        input_channels = 2
        sigma_scale = 1.0

    def forward(inputs):
        x = inputs["series"][..., 0]                       # (N, T, H, W), date 0 is 0
        e = inputs["elevation"][..., 0]
        dates = np.moveaxis(x[:, 1:] + 0.1 * e[:, None], 1, -1)
        return {"dates": dates, "dates_log_sigma": np.log(1.0 + np.abs(dates))}

    monkeypatch.setattr(inference, "prepare_model", lambda m, p="auto": (PerPixel(), PerPixel()))
    monkeypatch.setattr(inference, "compiled_forward", lambda net: forward)
    ts, h = _series(n=9, H=21, W=17, seed=6)
    one = inference.predict_windows("x", ts[None], h, augment=1)
    for a in (2, 4, 8):
        many = inference.predict_windows("x", ts[None], h, augment=a)
        np.testing.assert_allclose(many.dates, one.dates, rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(many.dates_std, one.dates_std, rtol=1e-5)


# ------------------------------------------------------------------------------------------------
# input checks of denoise(): missing values, degenerate input, argument types and values
# ------------------------------------------------------------------------------------------------
def _small(seed=7):
    return _series(n=13, H=24, W=24, seed=seed)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_date_without_data_raises_naming_it(tiny, bad):
    ts, h = _small()
    ts[6] = bad
    with pytest.raises(ValueError, match=r"date\(s\) \[6\].*drop them.*mintpy_dlae\.py"):
        inference.denoise(ts, h, model=tiny, precision="float32", augment=1)
    ts, h = _small()
    ts[:, :4] = np.nan                    # no-data rows do not count: the date is empty where there are data
    ts[8, 4:] = np.nan
    with pytest.raises(ValueError, match=r"date\(s\) \[8\]"):
        inference.denoise(ts, h, model=tiny, precision="float32", augment=1)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_missing_values_are_filled_with_a_warning(tiny, bad):
    """A NaN/inf element of a pixel with data is filled for the network by linear interpolation in time
    (the rule of mintpy_dlae.py) with a warning naming the count and the first (date, row, col); the
    result equals that of the series filled by hand, NaN at the missing element only (timeseries and its
    std), the cumulative maps kept but where the missing date is a window's first or last."""
    ts, h = _small()
    filled = ts.copy()
    filled[6, 5, 5] = (ts[5, 5, 5] + ts[7, 5, 5]) / 2
    filled[0, 9, 3] = ts[1, 9, 3]         # at the ends: the nearest value
    ts[6, 5, 5] = bad
    ts[0, 9, 3] = np.nan
    ref = inference.denoise(filled, h, model=tiny, precision="float32", augment=1, level="network")
    with pytest.warns(UserWarning, match=r"2 NaN/inf value\(s\) on 2 pixel\(s\).*\(0, 9, 3\)"):
        res = inference.denoise(ts, h, model=tiny, precision="float32", augment=1, level="network")
    hole = ~np.isfinite(ts)
    assert np.isnan(res.timeseries[hole]).all() and np.isnan(res.timeseries_std[hole]).all()
    np.testing.assert_array_equal(res.timeseries[~hole], ref.timeseries[~hole])
    np.testing.assert_array_equal(res.timeseries_std[~hole], ref.timeseries_std[~hole])
    ends = np.zeros(ref.cumulative.shape, bool)           # 13 dates: window k covers dates k..k+8
    ends[0, 9, 3] = True                                   # date 0 is window 0's first date; date 6
                                                           # is no window's first or last
    for a, b in ((res.cumulative, ref.cumulative), (res.cumulative_std, ref.cumulative_std)):
        assert np.isnan(a[ends]).all() and np.isfinite(a[~ends]).all()
        np.testing.assert_array_equal(a[~ends], b[~ends])
    # with a box that leaves the holes out, the warning stays and the result is the box of the same
    with pytest.warns(UserWarning, match="NaN/inf"):
        part = inference.denoise(ts, h, model=tiny, precision="float32", augment=1, box=(12, 24, 0, 24))
    np.testing.assert_array_equal(part.timeseries, ref.timeseries[:, 12:])


def test_nothing_to_denoise_raises_naming_the_input(tiny):
    ts, h = _small()
    kw = dict(model=tiny, precision="float32", augment=1)
    with pytest.raises(ValueError, match="nothing to denoise: ts is 0 or NaN/inf on every pixel"):
        inference.denoise(np.full_like(ts, np.nan), h, **kw)
    with pytest.raises(ValueError, match="nothing to denoise: ts is 0"):
        inference.denoise(np.zeros_like(ts), h, **kw)
    with pytest.raises(ValueError, match="nothing to denoise: elevation is NaN/inf on every pixel"):
        inference.denoise(ts, np.full_like(h, np.nan), **kw)
    with pytest.raises(ValueError, match="nothing to denoise: mask is False on every pixel"):
        inference.denoise(ts, h, mask=np.zeros(h.shape, bool), **kw)
    holed = ts.copy()
    holed[:, :, :12] = np.nan
    mask = np.ones(h.shape, bool)
    mask[:, 12:] = False
    with pytest.raises(ValueError, match="nothing to denoise: mask is False on every pixel with data"):
        inference.denoise(holed, h, mask=mask, **kw)
    # a block of a larger frame (box given) may hold no data: all NaN, no error
    res = inference.denoise(np.full_like(ts, np.nan), h, box=(0, 10, 0, 24), **kw)
    assert res.timeseries.shape == (13, 10, 24) and res.cumulative.shape == (5, 10, 24)
    assert np.isnan(res.timeseries).all() and np.isnan(res.cumulative_std).all()


def test_elevation_missing_on_some_pixels_warns(tiny):
    ts, h = _small()
    h[3, 4] = np.nan
    with pytest.warns(UserWarning, match=r"elevation is NaN/inf \(or a DEM void below -1000 m\) on 1 pixel.*\(3, 4\)"):
        res = inference.denoise(ts, h, model=tiny, precision="float32", augment=1)
    assert np.isnan(res.timeseries[:, 3, 4]).all() and np.isfinite(res.timeseries[:, 3, 5]).all()


def test_mask_must_be_a_0_1_array(tiny):
    ts, h = _small()
    kw = dict(model=tiny, precision="float32", augment=1)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"mask of dtype float64 must hold only 0 and 1.*at \(row, col\)"):
        inference.denoise(ts, h, mask=rng.random(h.shape), **kw)
    nan_mask = np.ones(h.shape)
    nan_mask[2, 3] = np.nan                 # NaN in a float mask: left out, as mintpy_dlae.py reads a file
    res = inference.denoise(ts, h, mask=nan_mask, **kw)
    assert np.isnan(res.timeseries[:, 2, 3]).all() and np.isfinite(res.timeseries[:, 2, 4]).all()
    with pytest.raises(TypeError, match=r"mask must be an \(H, W\) = \(24, 24\) array.*bool True"):
        inference.denoise(ts, h, mask=True, **kw)
    with pytest.raises(TypeError, match="mask must be bool.*dtype <U1"):
        inference.denoise(ts, h, mask=np.full(h.shape, "x"), **kw)
    with pytest.raises(ValueError, match="mask shape"):
        inference.denoise(ts, h, mask=np.ones((3, 3), bool), **kw)
    mask = np.ones(h.shape, bool)
    mask[:5] = False
    a = inference.denoise(ts, h, mask=mask, **kw)
    b = inference.denoise(ts, h, mask=mask.astype(np.uint8), **kw)
    c = inference.denoise(ts, h, mask=mask.astype(np.float32), **kw)
    np.testing.assert_array_equal(a.timeseries, b.timeseries)
    np.testing.assert_array_equal(a.timeseries, c.timeseries)
    assert np.isnan(a.timeseries[:, :5]).all()


@pytest.mark.parametrize("value", [np.nan, -1e-3, np.inf])
def test_scale_must_be_finite_and_not_negative(tiny, value):
    ts, h = _small()
    scale = np.full(5, 1e-3, np.float32)
    scale[2] = value
    with pytest.raises(ValueError, match=r"scale must be finite and not negative.*window 2 has"):
        inference.denoise(ts, h, model=tiny, scale=scale, augment=1)


def test_a_window_without_change_gives_zero(tiny):
    """Dates 2..10 all equal (a window whose data do not change: its frame scale is 0, as
    mintpy_dlae.py computes it): the given scale 0 is accepted, as the computed one is, and that
    window's cumulative map is 0."""
    ts, h = _small()
    ts[3:11] = ts[2]
    computed = inference.window_scales(ts, np.ones(h.shape, bool))
    assert computed[2] == 0
    given = inference.denoise(ts, h, model=tiny, scale=computed, augment=1)
    own = inference.denoise(ts, h, model=tiny, augment=1)
    np.testing.assert_array_equal(given.cumulative, own.cumulative)
    assert np.all(given.cumulative[2] == 0)


@pytest.mark.parametrize("name, value", [("tile_size", 0), ("tile_size", -5), ("tile_size", 2.5),
                                         ("batch_size", 0), ("batch_size", -1), ("batch_size", True)])
def test_tile_and_batch_size_must_be_positive(tiny, name, value):
    ts, h = _small()
    with pytest.raises(ValueError, match=f"{name} must be a positive integer; received {value!r}"):
        inference.denoise(ts, h, model=tiny, augment=1, **{name: value})


def test_bad_model_box_and_dtypes_are_named(tiny):
    ts, h = _small()
    with pytest.raises(TypeError, match="model must be 'fault', 'mogi'.*received NoneType None"):
        inference.denoise(ts, h, model=None)
    with pytest.raises(TypeError, match="model must be.*received int 3"):
        inference.denoise(ts, h, model=3)
    for box in [(0, 5), (0, 5, 0, 5, 1), "abcd", 7, (0, 5.5, 0, 5)]:
        with pytest.raises(ValueError, match=r"box must be 4 integers \(y0, y1, x0, x1\)"):
            inference.denoise(ts, h, model=tiny, box=box)
    with pytest.raises(ValueError, match="box .* is not inside the array"):
        inference.denoise(ts, h, model=tiny, box=(0, 30, 0, 5))
    for bad in [ts.astype(complex), ts > 0, ts.astype(object), ts.astype(str), "ts"]:
        dtype = np.asarray(bad).dtype
        with pytest.raises(TypeError, match=f"ts must be .*real numbers.*received dtype {dtype}"):
            inference.denoise(bad, h, model=tiny)
    with pytest.raises(TypeError, match="elevation must be .*received dtype complex128"):
        inference.denoise(ts, h.astype(complex), model=tiny)
    # integers are accepted (as float32): the same result as the float series
    # (integer "metres" stepping by about 0.4 per date: no unit error; spatially white, so no spike rule)
    mm = np.round(ts * 1e2).astype(np.int32)
    a = inference.denoise(mm, h, model=tiny, precision="float32", augment=1, spikes=False)
    b = inference.denoise(mm.astype(np.float32), h, model=tiny, precision="float32", augment=1, spikes=False)
    np.testing.assert_array_equal(a.timeseries, b.timeseries)


def test_follows_elevation_of_a_result():
    """DenoiseResult.follows_elevation applies mintpy_dlae.py's rule to the result's maps: a window
    that is 12 mm/km times the elevation (plus 0.5 mm noise, sigma 1 mm) is named with k from the
    metres of the maps; a noise window is not; an elevation of another shape is refused."""
    rng = np.random.default_rng(2)
    h = rng.uniform(400, 2400, (24, 24))
    cum = np.stack([12e-6 * h + rng.normal(0, 5e-4, h.shape), rng.normal(0, 5e-4, h.shape)]).astype(np.float32)
    res = inference.DenoiseResult(timeseries=np.zeros((10, 24, 24), np.float32), cumulative=cum,
                                  cumulative_std=np.full_like(cum, 1e-3))
    found = res.follows_elevation(h)
    assert [f["window"] for f in found] == [0]
    assert abs(found[0]["k_mm_per_km"] - 12.0) < 0.3 and found[0]["r"] > 0.9
    assert abs(found[0]["relief_m"] - h.std()) < 1e-6
    with pytest.raises(ValueError, match="elevation must have the maps' shape"):
        res.follows_elevation(h[:10])


@pytest.mark.parametrize("fill", [-9999.0, 3e38])
def test_fill_values_are_refused(tiny, fill):
    """A finite value beyond +-100 m is no displacement: ValueError naming the element and value."""
    ts, h = _small()
    ts[3, 2, 7] = fill
    expect = {-9999.0: "-9999", 3e38: r"3e\+38"}[fill]
    with pytest.raises(ValueError, match=rf"ts\[3, 2, 7\] = {expect} m is beyond \+-100 m"):
        inference.denoise(ts, h, model=tiny, precision="float32", augment=1)


def test_integer_fill_value_is_refused(tiny):
    """-32768 in an int16 series (abs() of it overflows in int16) is found like a float fill."""
    ts, h = _small()
    ts = np.round(ts * 1e3).astype(np.int16)      # whole millimetres, still "metres" to denoise
    ts[5, 1, 2] = -32768
    with pytest.raises(ValueError, match=r"ts\[5, 1, 2\] = -32768 m is beyond"):
        inference.denoise(ts, h, model=tiny, precision="float32", augment=1)


def test_millimetres_are_refused_as_mintpy_dlae_py_refuses_them(tiny):
    """A series in mm (4 mm steps given as 4 'm') changes by metres from date to date: a ValueError
    that says so, not spikes (before: thousands of 'isolated spikes' and a quarter of NaN); in cm
    (0.4 m steps) it runs with a warning that names the unit, as mintpy_dlae.py's."""
    ts, h = _small()
    with pytest.raises(ValueError, match=r"changes from date to date by .* m .*look like mm"):
        inference.denoise(ts * 1000, h, model=tiny, augment=1)
    with pytest.warns(UserWarning, match=r"changes from date to date by .* m .*centimetres"):
        inference.denoise(ts * 100, h, model=tiny, augment=1, spikes=False)  # 0.4 m steps: run, with a warning


def test_input_level_keeps_each_maps_mean_and_the_pattern(tiny):
    """level='input': each output map's mean over the valid pixels is the input's (by hand, in
    float64), and the map differs from the network's own by one constant per map (the pattern is the
    network's); pixels off the mask stay 0 / NaN. denoise() does the same for the series (relative to
    the first date) and every window's cumulative map, refuses it with a box, and refuses a bad level."""
    ts, h = _small()
    ts = ts + np.linspace(0, 0.03, len(ts), dtype=np.float32)[:, None, None]     # a level that moves
    mask = np.ones(h.shape, bool)
    mask[:3, :4] = False
    win = ts[None, :9]
    own = inference.predict_windows(tiny, win, h, mask=mask, precision="float32")
    kept = inference.predict_windows(tiny, win, h, mask=mask, precision="float32", level="input")
    for d in range(8):
        want = float(np.mean(ts[d + 1][mask].astype(np.float64) - ts[0][mask]))
        assert abs(float(np.mean(kept.dates[0, d][mask], dtype=np.float64)) - want) < 1e-7
        diff = (kept.dates[0, d] - own.dates[0, d])[mask]
        assert np.ptp(diff) < 1e-6
    assert np.all(kept.dates[0][:, ~mask] == 0)
    np.testing.assert_array_equal(kept.dates_std, own.dates_std)
    a = inference.denoise(ts, h, model=tiny, mask=mask, augment=1, precision="float32", level="network")
    b = inference.denoise(ts, h, model=tiny, mask=mask, augment=1, precision="float32", level="input")
    for t in range(1, len(ts)):
        assert abs(np.nanmean(b.timeseries[t], dtype=np.float64) - np.mean(ts[t][mask] - ts[0][mask], dtype=np.float64)) < 1e-7
        assert np.nanmax(b.timeseries[t] - a.timeseries[t]) - np.nanmin(b.timeseries[t] - a.timeseries[t]) < 1e-6
    for k in range(len(ts) - 8):
        assert abs(np.nanmean(b.cumulative[k], dtype=np.float64) - np.mean(ts[k + 8][mask] - ts[k][mask], dtype=np.float64)) < 1e-7
    assert np.isnan(b.timeseries[:, ~mask]).all()
    with pytest.raises(ValueError, match="level='input' needs the whole frame"):
        inference.denoise(ts, h, model=tiny, box=(0, 10, 0, 10), level="input")
    with pytest.raises(ValueError, match="level must be one of"):
        inference.denoise(ts, h, model=tiny, level="area")


def test_default_level_follows_how_the_series_is_referenced(tiny):
    """level='auto' (the default): a series without a pixel that is 0 on every date (no-data as NaN,
    no reference pixel: area-referenced or synthetic) keeps the input's level, map by map (checked
    by hand against the input's means); one with such a pixel (MintPy's REF_Y/REF_X, or no-data
    written as 0) keeps the network's; a box keeps the network's.  Each says so in ``level``."""
    ts, h = _small()
    ts[:, :2, :3] = np.nan                                  # no-data as NaN: no reference pixel
    kw = dict(model=tiny, augment=1, precision="float32", scales=1)
    auto = inference.denoise(ts, h, **kw)
    assert auto.level == "input"
    np.testing.assert_array_equal(auto.cumulative, inference.denoise(ts, h, level="input", **kw).cumulative)
    ok = np.isfinite(ts).all(axis=0)
    for t in (4, len(ts) - 1):
        want = np.mean(ts[t][ok].astype(np.float64) - ts[0][ok])
        assert abs(np.mean(auto.timeseries[t][ok], dtype=np.float64) - want) < 1e-7
    net = inference.denoise(ts, h, level="network", **kw)
    assert net.level == "network"
    assert np.abs(np.nanmean(net.cumulative[0]) - np.nanmean(auto.cumulative[0])) > 1e-5   # the test has teeth
    ref = ts.copy()
    ref[:, 11, 7] = 0.0                                     # a MintPy reference pixel
    with_ref = inference.denoise(ref, h, **kw)
    assert with_ref.level == "network"
    np.testing.assert_array_equal(with_ref.cumulative, inference.denoise(ref, h, level="network", **kw).cumulative)
    assert np.isnan(with_ref.timeseries[:, 11, 7]).all()
    block = inference.denoise(ts, h, box=(4, 20, 0, 24), **kw)
    assert block.level == "network"
    one = inference.denoise(ts[:9], h, **kw)               # one window: predict_windows at the input's level
    win = inference.predict_windows(tiny, np.where(ok, ts[:9], 0)[None], h[None], mask=ok[None],
                                    precision="float32", level="input")
    np.testing.assert_allclose(np.where(ok, one.cumulative[0], 0), win.cumulative[0], atol=1e-6)


def test_dem_voids_are_missing_heights_as_in_mintpy_dlae_py(tiny):
    """A height of -32768 (an SRTM void) is no height: the pixel is left out with the NaN warning,
    as mintpy_dlae.py reads a geometry file; a real -400 m (Dead Sea shore) is kept."""
    ts, h = _small()
    h = h.copy()
    h[3, 4] = -32768
    h[5, 6] = -400
    with pytest.warns(UserWarning, match=r"elevation is NaN/inf \(or a DEM void below -1000 m\) on 1 pixel.*\(3, 4\)"):
        res = inference.denoise(ts, h, model=tiny, precision="float32", augment=1)
    assert np.isnan(res.timeseries[:, 3, 4]).all() and np.isfinite(res.timeseries[:, 5, 6]).all()


def test_a_zero_scale_for_a_window_that_changes_is_refused(tiny):
    """scale 0 is for a window without change only: given for one whose data change, a ValueError
    (it would silently zero that window)."""
    ts, h = _small()
    with pytest.raises(ValueError, match="scale of window 1 is 0, but its data change"):
        inference.denoise(ts, h, model=tiny, scale=np.array([1e-3, 0, 1e-3, 1e-3, 1e-3]), augment=1)


def test_denoise_warns_about_a_model_of_ones_own(tmp_path):
    """denoise() with the path of a model that has no card warns as mintpy_dlae.py does (training
    unknown, a trial model may remove real deformation), once per file; the shipped names do not."""
    import shutil
    import warnings

    from mintpy_dlae.config import package_file
    path = str(tmp_path / "mine.keras")
    shutil.copy(package_file("pretrained", "fault.keras"), path)
    ts, h = _small()
    with pytest.warns(UserWarning, match=r"mine.keras has no model card"):
        inference.denoise(ts, h, model=path, augment=1, scales=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)      # loaded before: no second warning; nor for 'fault'
        inference.denoise(ts, h, model=path, augment=1, scales=1)
        inference.denoise(ts, h, model="fault", augment=1, scales=1)
