"""The training-data generator: shapes, reproducibility, SNR control, history rules."""
import numpy as np
import pytest

from mintpy_dlae import synthetic


@pytest.mark.parametrize("kind", ["fault", "mogi"])
def test_generate_shapes_and_reproducibility(kind):
    a = synthetic.generate(20, kind=kind, size=40, num_dates=9, rng=7)
    b = synthetic.generate(20, kind=kind, size=40, num_dates=9, rng=7)
    assert a.noisy.shape == a.clean.shape == (20, 9, 40, 40)
    assert a.elevation.shape == (20, 40, 40) and a.snr.shape == (20,)
    for f in ("noisy", "clean", "elevation", "incidence", "azimuth", "snr"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert np.isfinite(a.noisy).all()
    assert (a.incidence >= 30).all() and (a.incidence <= 45).all()
    np.testing.assert_array_equal(a.clean[:, 0], 0)
    c = synthetic.generate(20, kind=kind, rng=8)
    assert not np.array_equal(a.noisy, c.noisy)


def _snr_from_arrays(b):
    """The paper's SNR recomputed here in float64 from the returned arrays alone: mean |cumulative
    clean map| over pixels / std of the noise (noisy - clean) over all dates and pixels."""
    clean = b.clean.astype(np.float64)
    noise = b.noisy.astype(np.float64) - clean
    signal = np.abs(clean[:, -1] - clean[:, 0]).mean(axis=(1, 2))
    return signal / noise.reshape(len(noise), -1).std(axis=1)


@pytest.mark.parametrize("kind", ["fault", "mogi"])
@pytest.mark.parametrize("snr", [0.01, 0.1, 1.0, 10.0])
def test_requested_snr_is_hit(kind, snr):
    """The SNR measured on the output equals the requested one to 1e-5 (float32 arrays: measured
    error <= 3e-7) for every series whose deformation grew through the window (last date the
    largest), and is never above it.  Only transient (up-and-back) series fall below, because their
    cumulative map is smaller than their peak: measured 0.5-2 % of series, so >= 95 % must hit."""
    b = synthetic.generate(200, kind=kind, rng=1, snr=snr)
    got = _snr_from_arrays(b)
    np.testing.assert_allclose(b.snr, got, rtol=1e-5)                # the reported SNR is the true one
    per_date = np.abs(b.clean.astype(np.float64)).mean(axis=(2, 3))
    grew = per_date[:, -1] >= per_date.max(axis=1) * (1 - 1e-6)
    assert grew.mean() > 0.5
    np.testing.assert_allclose(got[grew], snr, rtol=1e-5)
    assert np.all(got <= snr * (1 + 1e-5))
    assert np.mean(np.abs(got / snr - 1) < 1e-5) >= 0.95


def test_snr_range_is_log_uniform():
    """log10 SNR uniform on [-2, 1]: its 10 / 50 / 90 % quantiles are -1.7, -0.5 and 0.7, each within
    0.1 decade.  Why 0.1: with 4000 series the sampling standard error of these quantiles is 0.014 /
    0.024 / 0.014 decade (3 sqrt(p (1 - p) / n)), and transient (up-and-back) histories, 0.5-2 % of the
    series, fall below their requested SNR (shifting a quantile by at most ~0.06); measured -1.698,
    -0.506, 0.694.  A uniform draw in linear SNR gives -0.02 / 0.69 / 0.95."""
    b = synthetic.generate(4000, kind="mogi", rng=2, snr=(0.01, 10.0))
    logs = np.log10(b.snr[b.snr > 0])
    assert logs.max() <= 1.01 and np.mean(logs >= -2.001) > 0.95   # transient (up-and-back) histories fall lower
    np.testing.assert_allclose(np.quantile(logs, [0.1, 0.5, 0.9]), [-1.7, -0.5, 0.7], rtol=0, atol=0.1)


def test_paper_history_rule():
    h = synthetic.histories(500, 9, np.random.default_rng(0), open_window=False)
    np.testing.assert_array_equal(h[:, 0], 0)
    np.testing.assert_array_equal(h[:, 1], 0)           # no motion before the second acquisition
    np.testing.assert_allclose(h[:, -1], h[:, -2])       # nor after the second-to-last
    b = synthetic.generate(50, kind="fault", rng=3, open_window=False)
    np.testing.assert_allclose(b.clean[:, 1], 0, atol=1e-12)
    np.testing.assert_allclose(b.clean[:, -1], b.clean[:, -2], atol=1e-9)


def test_open_window_allows_motion_at_edges():
    h = synthetic.histories(500, 9, np.random.default_rng(0), open_window=True)
    assert np.mean(np.abs(h[:, 1] - h[:, 0]) > 1e-3) > 0.1
    assert np.mean(np.abs(h[:, -1] - h[:, -2]) > 1e-3) > 0.1


def test_pure_noise_and_sources():
    b = synthetic.generate(100, kind="mogi", rng=4, pure_noise=0.3)
    silent = np.all(b.clean == 0, axis=(1, 2, 3))
    assert 0.1 < silent.mean() < 0.5
    assert (b.snr[silent] == 0).all()


def test_num_dates_configurable_and_bad_kind():
    b = synthetic.generate(4, kind="fault", num_dates=12, size=32, rng=0)
    assert b.noisy.shape == (4, 12, 32, 32)
    with pytest.raises(ValueError, match="kind"):
        synthetic.generate(2, kind="dyke")


def _footprint(batch):
    """Share of the patch where the last date's |clean| is above 20 % of that map's peak."""
    c = np.abs(batch.clean[:, -1])
    return float((c > 0.2 * c.max(axis=(1, 2), keepdims=True)).mean())


@pytest.mark.parametrize("kind", ["fault", "mogi"])
def test_source_extent_shrinks_sources(kind):
    """``source_extent`` (ablations) makes sources compact."""
    a = synthetic.generate(64, kind, rng=5)
    small = synthetic.generate(64, kind, rng=5, source_extent=0.25)
    assert _footprint(small) < 0.6 * _footprint(a), (_footprint(small), _footprint(a))


def test_source_extent_per_kind():
    """A dict sets the extent of one kind only: the Mogi sources shrink, the faults are left as drawn."""
    default = synthetic.generate(64, "mogi", rng=6)
    capped = synthetic.generate(64, "mogi", rng=6, source_extent={"mogi": 0.25})
    assert _footprint(capped) < 0.6 * _footprint(default), (_footprint(capped), _footprint(default))
    fault = synthetic.generate(16, "fault", rng=7)
    fault_dict = synthetic.generate(16, "fault", rng=7, source_extent={"mogi": 0.25})
    np.testing.assert_array_equal(fault.clean, fault_dict.clean)
    with pytest.raises(ValueError, match="dyke"):
        synthetic.generate(2, "mogi", source_extent={"dyke": 0.5})
    with pytest.raises(ValueError, match="source_extent"):
        synthetic.generate(2, "mogi", source_extent=0.0)


def test_keep_flat_and_offset_free():
    """``keep_flat`` keeps nearly uniform fields that the default redraws; ``offset_free`` removes the
    per-date reference offset (the noise's patch mean then comes from the stratified delay and
    the ramps only)."""
    assert not synthetic._flat(synthetic.generate(512, "mogi", rng=3).clean).any()
    assert synthetic._flat(synthetic.generate(512, "mogi", rng=3, keep_flat=1.0).clean).sum() >= 5

    # the per-date patch mean of the noise: the reference offset dominates it on flat terrain
    def patch_mean_spread(**kw):
        rng = np.random.default_rng(11)
        elev = np.zeros((256, 40, 40), np.float32)
        inc = np.full(256, 38.0, np.float32)
        noise = synthetic.noise_screens(256, 9, 40, rng, elev, inc, **kw)
        return float(np.abs(noise.mean(axis=(2, 3))).mean() / noise.std())
    with_offset = patch_mean_spread()
    without = patch_mean_spread(offset_free=1.0)
    assert without < 0.2 * with_offset, (without, with_offset)


def test_area_reference_makes_zero_mean_noise_on_any_terrain():
    """``area_reference``: the noise of every date has zero spatial mean, stratified delay over high
    terrain included (which ``offset_free`` keeps)."""
    b = synthetic.generate(128, "fault", rng=9, snr=1.0, area_reference=1.0)
    means = np.abs((b.noisy - b.clean).mean(axis=(2, 3)))
    assert means.max() < 1e-6, means.max()
    part = synthetic.generate(256, "fault", rng=9, snr=1.0, area_reference=0.5)
    zero = (np.abs((part.noisy - part.clean).mean(axis=(2, 3))) < 1e-6).all(axis=1)
    assert 0.35 < zero.mean() < 0.65, zero.mean()
    b2 = synthetic.generate(128, "fault", rng=9, snr=1.0, offset_free=1.0)     # stratified offsets remain
    assert np.abs((b2.noisy - b2.clean).mean(axis=(2, 3))).max() > 1e-4


def test_training_stream_thread_is_reproducible_and_matches_generate():
    """One thread (the default): the stream is the documented function of its seed, chunk by chunk:
    its first batch equals ``training_arrays`` of the first chunk drawn from the same generator."""
    from mintpy_dlae.dataset import GENERATOR_OPTIONS, training_arrays, training_stream
    a = training_stream("fault", batch_size=4, seed=3, chunk_batches=2)
    x1, y1 = next(a)
    a.close()
    b = training_stream("fault", batch_size=4, seed=3, chunk_batches=2)
    x2, y2 = next(b)
    b.close()
    np.testing.assert_array_equal(y1, y2)
    rng = np.random.default_rng(3)
    rng.choice(1, p=[1.0])                           # the kind draw of the first chunk
    batch = synthetic.generate(8, kind="fault", rng=rng, **GENERATOR_OPTIONS)
    _, y = training_arrays(batch, rng, 0.4)
    np.testing.assert_array_equal(y1, y[:4])


def test_training_stream_worker_processes():
    """Two generator processes: batches of the right shapes, the two workers draw different series,
    and closing the stream stops them."""
    import multiprocessing as mp

    from mintpy_dlae.dataset import training_stream
    before = set(mp.active_children())
    s = training_stream({"fault": 0.5, "mogi": 0.5}, batch_size=4, seed=1, chunk_batches=1, workers=2)
    got = [next(s) for _ in range(6)]
    for x, y in got:
        assert x["series"].shape == (4, 9, 40, 40, 2) and x["elevation"].shape == (4, 40, 40, 1)
        assert y.shape == (4, 40, 40, 9)          # 8 dates after the first + the validity weight
    targets = [y.tobytes() for _, y in got]
    assert len(set(targets)) == len(targets)            # no chunk repeats (distinct child seeds)
    s.close()
    assert not (set(mp.active_children()) - before)
    with pytest.raises(ValueError, match="workers"):
        next(training_stream("fault", workers=0))


@pytest.mark.parametrize("workers", [1, 2])
def test_training_stream_raises_what_its_generator_raises(workers):
    """A generator that fails in its thread or process (an option synthetic.generate does not know;
    with one thread, a negative seed, which numpy refuses there) is an error of the stream, named,
    not a trainer waiting forever for the next chunk."""
    from mintpy_dlae.dataset import training_stream
    s = training_stream("fault", batch_size=2, seed=0, chunk_batches=1, workers=workers, no_such_option=1)
    with pytest.raises(RuntimeError, match="data generator failed: TypeError: .*no_such_option"):
        next(s)
    s.close()
    if workers == 1:
        s = training_stream("fault", batch_size=2, seed=-5, chunk_batches=1)
        with pytest.raises(RuntimeError, match="data generator failed: ValueError"):
            next(s)
        s.close()


def test_training_stream_patch_size_from_generator_options():
    """train(generator={"size": S}) passes the generator options to the stream as keywords, so a run's
    patch size is recorded in its card with them; the stream honours it."""
    from mintpy_dlae.dataset import training_stream
    s = training_stream("mogi", batch_size=2, seed=0, chunk_batches=1, **{"size": 24, "nodata": 0.5})
    x, y = next(s)
    s.close()
    assert x["series"].shape == (2, 9, 24, 24, 2) and y.shape == (2, 24, 24, 9)


def test_cells_change_the_noise_only(monkeypatch):
    """``cells`` mixes convective cells into the turbulence: the deformation is the same draw, the
    noise differs, and ``cells=0`` (the default) never makes a cell."""
    from mintpy_dlae.physics import atmosphere

    def no_cells(*args, **kwargs):
        raise AssertionError("convective_cells called with cells=0")
    monkeypatch.setattr(atmosphere, "convective_cells", no_cells)
    synthetic.generate(32, "mogi", rng=4, snr=1.0)
    monkeypatch.undo()
    c = synthetic.generate(32, "mogi", rng=4, snr=None, cells=1.0)
    d = synthetic.generate(32, "mogi", rng=4, snr=None)
    np.testing.assert_array_equal(c.clean, d.clean)
    assert not np.allclose(c.noisy, d.noisy)


def test_steep_terrain_has_mountain_relief():
    """``steep=1``: every patch's 1-99 % height range lies in the requested 400-3000 m; the default
    (``steep=0``) keeps the gentle terrain of training/README.md (median range near 100 m, few
    patches above 700 m)."""
    from mintpy_dlae.physics import terrain
    dem = terrain.random_dem(64, 40, np.random.default_rng(2), steep=1.0)
    r = np.percentile(dem, 99, axis=(1, 2)) - np.percentile(dem, 1, axis=(1, 2))
    assert r.min() > 400 * 0.999 and r.max() < 3000 * 1.001 and np.median(r) > 700
    gentle = terrain.random_dem(256, 40, np.random.default_rng(2))
    r0 = np.percentile(gentle, 99, axis=(1, 2)) - np.percentile(gentle, 1, axis=(1, 2))
    assert np.median(r0) < 400 and np.mean(r0 > 700) < 0.3, (np.median(r0), np.mean(r0 > 700))


def test_irregular_acquisition_times():
    """A fraction ``irregular`` of the rows gets gaps: intervals of 1 repeat cycle (probability 0.7)
    or 2-8 cycles, rescaled to span T-1; the other rows are 0..T-1.  A steady history evaluated at
    those times grows with the time elapsed: averaged over many rows (the rate jitter has mean 1) it
    is t / (T-1), not the date index."""
    rng = np.random.default_rng(4)
    n, T = 4000, 9
    t = synthetic.acquisition_times(n, T, rng, irregular=0.4)
    regular = np.all(t == np.arange(T), axis=1)
    assert abs((~regular).mean() - 0.4) < 0.03
    assert np.all(t[:, 0] == 0) and np.allclose(t[:, -1], T - 1) and np.all(np.diff(t, axis=1) > 0)
    irr = t[~regular]
    cycles = np.diff(irr, axis=1) / np.diff(irr, axis=1).min(axis=1, keepdims=True)
    total = np.round(cycles.sum(axis=1))                              # the gaps in repeat cycles
    steps = np.diff(irr, axis=1) * total[:, None] / (T - 1)
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-9)      # whole repeat cycles
    steps = np.round(steps)
    assert steps.min() == 1 and steps.max() == 8
    # the rows drawn irregular whose 8 intervals all came out 1 (0.7 ** 8) look regular here
    long = (steps > 1).sum() / (len(steps) / (1 - 0.7 ** 8) * (T - 1))
    assert abs(long - 0.3) < 0.02, long
    assert np.all(synthetic.acquisition_times(5, T, rng, irregular=0.0) == np.arange(T))

    h = synthetic.histories(n, T, np.random.default_rng(5), steady=1.0, times=t)
    np.testing.assert_allclose(h[~regular].mean(axis=0), (irr / (T - 1)).mean(axis=0), atol=0.01)
    np.testing.assert_allclose(h[regular].mean(axis=0), np.arange(T) / (T - 1), atol=0.01)


def test_irregular_off_draws_as_before_and_on_changes_histories_only():
    """``irregular=0`` (the default) does not touch the random stream, so every seeded stream,
    test set and benchmark is unchanged (also checked once against the previous version's file);
    ``irregular=1`` changes the deformation, drawn after the elevation, which stays the same."""
    opts = dict(snr=(0.5, 5.0), steady=1.0, open_window=1.0)
    a = synthetic.generate(16, "fault", rng=9, **opts)
    b = synthetic.generate(16, "fault", rng=9, irregular=0.0, **opts)
    for f in a.__dataclass_fields__:
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    c = synthetic.generate(16, "fault", rng=9, irregular=1.0, **opts)
    assert np.array_equal(a.elevation, c.elevation) and not np.allclose(a.clean, c.clean)


def test_volcanic_edifices_over_the_deformation():
    """``volcanic=0`` leaves every draw as before; ``volcanic=1`` raises, on every series with
    deformation, an edifice of 300-2500 m whose summit is the pixel of largest displacement (the
    elevation change, worked out as the difference of the two batches, peaks there), so that the
    displacement and the elevation correlate (they do not without it); pure-noise series keep their
    elevation; the deformation's shape does not change (its scale does: the SNR is set against the
    noise, whose stratified part follows the new relief)."""
    from mintpy_dlae.physics.terrain import add_edifices
    opts = dict(snr=(0.5, 5.0), pure_noise=0.2)
    a = synthetic.generate(48, "mogi", rng=4, **opts)
    b = synthetic.generate(48, "mogi", rng=4, volcanic=0.0, **opts)
    for f in a.__dataclass_fields__:
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    c = synthetic.generate(48, "mogi", rng=4, volcanic=1.0, **opts)
    def unit(x):
        return x / np.maximum(np.abs(x).max(axis=(1, 2, 3), keepdims=True), 1e-30)
    np.testing.assert_allclose(unit(a.clean), unit(c.clean), atol=1e-5)
    rise = c.elevation - a.elevation
    silent = np.abs(a.clean).max(axis=(1, 2, 3)) == 0
    assert silent.any() and np.all(rise[silent] == 0)
    corr_on, corr_off = [], []
    for i in np.flatnonzero(~silent):
        field = np.abs(a.clean[i]).max(axis=0)
        assert np.unravel_index(rise[i].argmax(), rise[i].shape) == np.unravel_index(field.argmax(), field.shape)
        assert 300.0 * 0.999 <= rise[i].max() <= 2500.0 * 1.001
        corr_on.append(np.corrcoef(field.ravel(), c.elevation[i].ravel())[0, 1])
        corr_off.append(np.corrcoef(field.ravel(), a.elevation[i].ravel())[0, 1])
    assert np.mean(corr_on) > 0.4 and abs(np.mean(corr_off)) < 0.15
    flat = np.zeros((1, 8, 8), np.float32)
    assert np.array_equal(add_edifices(flat.copy(), np.zeros((1, 8, 8)), np.random.default_rng(0)), flat)


def test_max_gradient_scales_only_the_steep_series():
    """max_gradient: the series whose change between two dates exceeds it from one pixel to the next
    are scaled down to exactly it (checked against numpy differences by hand); the others, the noise
    and every random draw are those of the same stream without it."""
    kw = dict(kind="mogi", snr=(5.0, 40.0), num_dates=9, peak_snr=(0.3, 40.0), peak_fraction=0.5)
    plain = synthetic.generate(96, rng=7, **kw)
    capped = synthetic.generate(96, rng=7, max_gradient=0.06, **kw)
    inc = np.diff(plain.clean.astype(np.float64), axis=1)
    g = np.maximum(np.abs(np.diff(inc, axis=2)).max(axis=(1, 2, 3)), np.abs(np.diff(inc, axis=3)).max(axis=(1, 2, 3)))
    steep = g > 0.06
    assert 0 < steep.sum() < len(g)
    np.testing.assert_array_equal(capped.clean[~steep], plain.clean[~steep])
    np.testing.assert_allclose(capped.noisy - capped.clean, plain.noisy - plain.clean, atol=1e-6)
    np.testing.assert_allclose(synthetic.increment_gradient(capped.clean)[steep], 0.06, rtol=1e-4)
    m = int(steep.sum())
    ratio = np.abs(capped.clean[steep]).reshape(m, -1).max(axis=1) / np.abs(plain.clean[steep]).reshape(m, -1).max(axis=1)
    np.testing.assert_allclose(ratio, 0.06 / g[steep], rtol=1e-4)
    with pytest.raises(ValueError, match="max_gradient"):
        synthetic.generate(2, rng=0, max_gradient=0.0)


def test_share_of_training_series_beyond_unwrapping():
    """The figures of training/README.md ("Physical amplitudes"): with the generator of the shipped
    mogi model (training/mogi_fd), 14-17 % of 512 series per kind change between two dates by more
    than 1.4 cm per pixel (C band's quarter wavelength) and 6-7 % by more than 6 cm (L band),
    measured with numpy differences; with max_gradient=0.06 none exceeds 6 cm."""
    opts = dict(snr=(0.005, 20.0), open_window=0.5, pure_noise=0.08, reuse=1, steady=0.45, seasonal=0.1,
                peak_snr=(0.3, 40.0), peak_fraction=0.5, nodata=0.5, keep_flat=1.0, area_reference=0.4,
                cells=0.35, steep=0.3, source_extent={"mogi": 0.42})
    for kind in ("fault", "mogi"):
        clean = synthetic.generate(512, kind=kind, rng=11, **opts).clean
        inc = np.diff(clean.astype(np.float64), axis=1)
        g = np.maximum(np.abs(np.diff(inc, axis=2)).max(axis=(1, 2, 3)), np.abs(np.diff(inc, axis=3)).max(axis=(1, 2, 3)))
        assert 0.13 <= np.mean(g > 0.014) <= 0.18, (kind, np.mean(g > 0.014))
        assert 0.05 <= np.mean(g > 0.06) <= 0.075, (kind, np.mean(g > 0.06))
        capped = synthetic.generate(512, kind=kind, rng=11, max_gradient=0.06, **opts).clean
        assert synthetic.increment_gradient(capped).max() <= 0.06 * (1 + 1e-5)
