"""mintpy_dlae.multiscale and denoise(scales=2): the 2 x 2 means, the interpolation back, the blend
(by hand), and the rule that what the full-resolution pass finds significant stays as it is."""
import numpy as np
import pytest

from mintpy_dlae import inference, multiscale


@pytest.fixture(scope="module")
def tiny():
    import keras

    from mintpy_dlae.model import build_model, shipped_config
    keras.utils.set_random_seed(2)
    return build_model(**dict(shipped_config(), filters=6, filters_2d=6))


def test_block_means_leave_out_invalid_pixels_and_pad_odd_sizes():
    data = np.arange(2 * 3 * 5, dtype=np.float32).reshape(2, 3, 5)
    valid = np.ones((3, 5), bool)
    valid[0, 0] = False
    mean, ok = multiscale.block_mean2(data, valid)
    assert mean.shape == (2, 2, 3) and ok.all()
    assert mean[1, 0, 0] == pytest.approx(np.mean([data[1, 0, 1], data[1, 1, 0], data[1, 1, 1]]))
    assert mean[0, 1, 2] == data[0, 2, 4]                     # a 1 x 1 corner block, repeated
    none = np.zeros((3, 5), bool)
    none[2, :] = True
    _, ok = multiscale.block_mean2(data, none)
    assert ok.tolist() == [[False] * 3, [True] * 3]


def test_upsample_keeps_a_constant_and_a_ramp_and_skips_nan():
    up = multiscale.upsample2(np.full((1, 2, 3), 4.0), (3, 5))
    assert up.shape == (1, 3, 5) and np.allclose(up, 4.0)
    ramp = np.tile(np.arange(40, dtype=np.float32), (1, 6, 1))             # x, in fine pixels
    mean, _ = multiscale.block_mean2(ramp, np.ones((6, 40), bool))
    back = multiscale.upsample2(mean, (6, 40))
    np.testing.assert_allclose(back[..., 1:-1], ramp[..., 1:-1], atol=1e-5)  # block centres in place
    holed = np.full((1, 4, 4), 2.0)
    holed[0, 0, 0] = np.nan
    up = multiscale.upsample2(holed, (8, 8))
    assert np.isnan(up[0, 0, 0]) and np.allclose(up[0, 4:, 4:], 2.0) and np.nanmax(up) == pytest.approx(2.0)


def test_blend_by_hand():
    rng = np.random.default_rng(0)
    fine = rng.normal(size=(1, 24, 24)).astype(np.float32)
    np.testing.assert_allclose(multiscale.blend(fine, fine + 2.0), fine + 2.0, atol=1e-5)   # a uniform shift, whole
    np.testing.assert_allclose(multiscale.blend(fine, fine.copy()), fine)
    std = np.full_like(fine, 1.0)
    big = np.where(np.abs(fine) > 0, 10.0, 0).astype(np.float32)            # |mean| / sigma = 10 everywhere
    np.testing.assert_array_equal(multiscale.blend(big, big + 1.0, std), big)  # significant: kept as it is
    small = np.full_like(fine, 0.5)                                          # z = 0.5 < 1: weight 1
    np.testing.assert_allclose(multiscale.blend(small, small + 1.0, std), small + 1.0, atol=1e-5)
    mid = np.full_like(fine, 2.0)                                            # z = 2: weight 1/2
    np.testing.assert_allclose(multiscale.blend(mid, mid + 1.0, std), mid + 0.5, atol=1e-5)
    fine[0, 3, 3] = np.nan
    assert np.isnan(multiscale.blend(fine, fine + 1.0)[0, 3, 3])


def _series(n=10, H=44, W=38, seed=3):
    rng = np.random.default_rng(seed)
    ts = np.cumsum(rng.normal(0, 3e-3, (n, H, W)), axis=0).astype(np.float32)
    return ts, rng.normal(500, 50, (H, W)).astype(np.float32)


def test_scales_2_is_the_blend_of_two_denoise_runs(tiny):
    """denoise(scales=2) = the full-resolution result blended with denoise() of the 2 x 2 means (built
    by hand here), both at the network's level; the input's level, when it applies, is then set as
    for one pass (exact means, one constant per map away from the network's level, so referencing
    gives the same maps either way); sigma is the full-resolution one; it refuses other values, and
    a box with the frame's scale but not its coarse one."""
    ts, h = _series()
    ts[:, :3, :4] = np.nan                                   # no-data as NaN: the input's level
    kw = dict(model=tiny, augment=1, precision="float32")
    one = inference.denoise(ts, h, level="network", scales=1, **kw)
    two_net = inference.denoise(ts, h, scales=2, level="network", **kw)
    valid = np.isfinite(ts).all(axis=0)
    c_ts, c_ok = multiscale.block_mean2(np.where(valid, ts, 0), valid)
    c_h, _ = multiscale.block_mean2(h[None], valid)
    coarse = inference.denoise(c_ts, c_h[0], mask=c_ok, level="network", spikes=False, scales=1, **kw)
    want = multiscale.blend(one.cumulative, multiscale.upsample2(coarse.cumulative, h.shape), one.cumulative_std)
    np.testing.assert_allclose(two_net.cumulative, want, atol=1e-6)
    np.testing.assert_array_equal(two_net.cumulative_std, one.cumulative_std)
    assert np.abs(two_net.cumulative - one.cumulative)[:, valid].max() > 1e-5       # it does something
    two = inference.denoise(ts, h, scales=2, **kw)
    assert two.level == "input"
    for t in (3, len(ts) - 1):
        m = np.mean(ts[t][valid].astype(np.float64) - ts[0][valid])
        assert abs(np.mean(two.timeseries[t][valid], dtype=np.float64) - m) < 1e-7
        assert np.ptp((two.timeseries[t] - two_net.timeseries[t])[valid]) < 1e-6
    assert np.isnan(two.timeseries[:, ~valid]).all()
    with pytest.raises(ValueError, match="needs the frame's coarse_scale or coarse maps too"):
        inference.denoise(ts, h, scales=2, box=(0, 20, 0, 20), scale=np.ones(2), **kw)
    before = ts.copy()
    for bad, match in ((dict(coarse_scale=np.ones(3)), "coarse_scale must be finite numbers >= 0"),
                       (dict(coarse_scale=[1.0, np.nan]), "coarse_scale must be finite"),
                       (dict(coarse=(np.zeros((10, 22, 19)), np.zeros((2, 22, 18)))), "coarse must be"),
                       (dict(coarse_scale=np.ones(2), scales=1), "for scales=2")):
        with pytest.raises(ValueError, match=match):               # before anything is computed or changed
            inference.denoise(ts, h, **dict(dict(scales=2, overwrite_input=True), **bad), **kw)
        np.testing.assert_array_equal(ts, before)
    with pytest.raises(ValueError, match="scales must be 1 or 2"):
        inference.denoise(ts, h, scales=3, **kw)


def test_scales_2_on_a_block_equals_the_whole_frame(tiny):
    """A row block read with multiscale.block_halo px of context from an even row, given the frame's
    scale and coarse scale, equals the whole frame's result (the contract mintpy_dlae.py --scales 2
    relies on); with 60 px less context it does not (so the test can fail)."""
    ts, h = _series(H=236, W=21, seed=5)
    ts[:, 100:104, 3:9] = np.nan                                # no-data inside a block's context
    kw = dict(model=tiny, augment=1, precision="float32", scales=2, level="network")
    whole = inference.denoise(ts, h, **kw)
    valid = np.isfinite(ts).all(axis=0)
    data = np.where(valid, ts, np.float32(0))
    scale = inference.window_scales(data, valid)
    coarse = multiscale.coarse_scales(data, valid, 9)
    halo = multiscale.block_halo(inference.receptive_halo(tiny))
    for cut in (0, 60):
        worst = 0.0
        for y0, y1 in ((0, 77), (77, 151), (151, 236)):
            r0 = max(0, y0 - halo + cut)
            r0 -= r0 % 2
            r1 = min(236, y1 + halo - cut)
            part = inference.denoise(ts[:, r0:r1], h[r0:r1], box=(y0 - r0, y1 - r0, 0, 21), scale=scale,
                                     coarse_scale=coarse, **kw)
            for key in ("timeseries", "cumulative", "timeseries_std", "cumulative_std"):
                a, b = getattr(part, key), getattr(whole, key)[:, y0:y1]
                np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
                worst = max(worst, float(np.nanmax(np.abs(a - b))))
        if cut == 0:
            assert worst < 1e-6
        else:
            assert worst > 1e-5
