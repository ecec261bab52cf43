"""Isolated spikes (phase-unwrapping or processing errors at a few pixels of one date) are missing
values for mintpy_dlae.py: the rule (denoise_file.find_spikes), what it must leave alone (ground
motion, the real test crop), and the driver's outputs."""
import os
import shutil

import h5py
import numpy as np
from conftest import NUM_DATE, assert_same_datasets, run_in_row_blocks
from mintpy.utils import readfile

from mintpy_dlae import denoise_file as run
from mintpy_dlae.config import DlaeConfig
from mintpy_dlae.constants import SPIKE_M

HERE = os.path.dirname(os.path.abspath(__file__))


def _quiet(num_date=12, size=40, seed=0):
    """A cm-level random-walk series (n, size, size) in metres, referenced to the first date."""
    rng = np.random.default_rng(seed)
    ts = np.cumsum(rng.normal(0, 0.005, (num_date, size, size)), axis=0).astype(np.float32)
    return ts - ts[0]


def test_a_spike_cluster_is_found_and_nothing_else():
    ts = _quiet()
    ts[5, 10:12, 20:22] += 10.0                  # 2 x 2 px, one date: an unwrapping error
    ts[7, 30:33, 5:8] -= 0.6                     # 3 x 3 px, one date, negative
    found = run.find_spikes(ts)
    expect = np.zeros(ts.shape, bool)
    expect[5, 10:12, 20:22] = True
    expect[7, 30:33, 5:8] = True
    np.testing.assert_array_equal(found, expect)


def test_the_first_date_and_weak_spikes_are_never_spikes():
    ts = _quiet()
    ts[0, 3, 3] += 5.0                            # first date: the reference date, not tested
    ts[6, 8, 8] += 0.8 * SPIKE_M                  # below the threshold
    assert not run.find_spikes(ts).any()


def test_a_spike_on_the_last_date_is_found_against_the_date_before():
    """The last date has no date after it: its excursion is its change from the date before. A 2 x 2
    px error there is found; a smooth 1 m step over a 12 px wide area and one side of a straight 1 m
    discontinuity on the last date (surface rupture) are not; a spike on the date before the last
    is found on that date only (the last date is not measured against it). A sharp-cornered 1 m
    square would be flagged at its corners, as on any date: a 1 m change across one pixel between
    two acquisitions is no unwrapped phase (test_ground_motion_is_not_a_spike)."""
    ts = _quiet()
    ts[-1, 4:6, 4:6] += 5.0
    yy, xx = np.mgrid[:40, :40]
    ts[-1] += np.exp(-((yy - 25) ** 2 + (xx - 20) ** 2) / (2 * 6.0 ** 2)).astype(np.float32)
    ts[-1, :, 34:] -= 1.0
    ts[-2, 12, 30] += 2.0
    expect = np.zeros(ts.shape, bool)
    expect[-1, 4:6, 4:6] = True
    expect[-2, 12, 30] = True
    np.testing.assert_array_equal(run.find_spikes(ts), expect)
    # an error on the last date after one on the date before: measured against the date before that
    chain = _quiet()
    chain[10, 8:10, 8:10] += 10.0
    chain[11, 8:10, 8:10] += 3.0
    found = run.find_spikes(chain)
    assert found[10, 8:10, 8:10].all() and found[11, 8:10, 8:10].all() and found.sum() == 8
    # only two kept dates: the second is tested against the first
    two = ts[[0, -1]]
    assert run.find_spikes(two)[1, 4:6, 4:6].all() and run.find_spikes(two).sum() == 4


def test_ground_motion_is_not_a_spike():
    """A 1 m step that stays (a coseismic offset), a steady 2 m over the series and a 0.6 m bump up
    and down on one date over a 12 px wide area (an eruptive transient) are all kept."""
    ts = _quiet()
    ts[6:, 10:20, 10:20] += 1.0
    ts += np.linspace(0, 2.0, len(ts), dtype=np.float32)[:, None, None]
    yy, xx = np.mgrid[:40, :40]
    ts[4] += 0.6 * np.exp(-((yy - 28) ** 2 + (xx - 28) ** 2) / (2 * 6.0 ** 2)).astype(np.float32)
    assert not run.find_spikes(ts).any()


def test_spikes_use_the_kept_dates_as_neighbours():
    """An empty date (all 0, left out of the network) is not a neighbour: a spike on the date after
    it is measured against the kept dates around it. With the empty date as a neighbour the spike
    would fall inside the range [0, 1 m] and be missed; the whole empty date is no spike either way
    (it is smooth in space)."""
    ts = _quiet() + 1.0
    ts[0] = 0.0
    ts[5] = 0.0                                   # empty date, written as 0
    ts[6, 20, 20] -= 0.5
    kept = [d for d in range(len(ts)) if d != 5]
    found = run.find_spikes(ts, kept)
    assert found[6, 20, 20] and found.sum() == 1
    assert not run.find_spikes(ts)[6].any()       # against the empty date's 0, b is inside [0, 1]


def test_what_the_training_generator_makes_is_a_spike_only_beyond_unwrapping():
    """The training generator's strongest series (SNR 5-40, both kinds) have no spike, except where the date's change from the date before has a
    gradient of more than 0.1 m per pixel, which no unwrapped interferogram can show (a quarter
    wavelength per pixel: 1.4 cm at C band, 6 cm at L band): nothing an InSAR series can hold."""
    from mintpy_dlae import synthetic
    for kind in ("fault", "mogi"):
        b = synthetic.generate(128, kind=kind, rng=5, snr=(5.0, 40.0), num_dates=9)
        for i in range(len(b.noisy)):
            found = run.find_spikes(np.where(b.valid[i][None], b.noisy[i], np.nan))
            for d in np.flatnonzero(found.any(axis=(1, 2))):
                inc = (b.clean[i][d] - b.clean[i][d - 1]).astype(np.float64)
                grad = np.hypot(*np.gradient(inc))
                # the steepest change within 2 px of each spike
                for y, x in zip(*np.nonzero(found[d])):
                    near = grad[max(y - 2, 0):y + 3, max(x - 2, 0):x + 3]
                    assert near.max() > 0.1, (kind, i, d, y, x, near.max())


def test_the_real_test_crop_has_no_spike():
    """The Mexico City crop (real Sentinel-1, 13 dates, subsiding at up to tens of cm per year):
    its values lie at most 0.045 m outside the range of the dates before and after (the figure in
    constants.SPIKE_M's comment), far below the threshold; no spike is found."""
    with h5py.File(os.path.join(HERE, "data", "pyrate_cropA", "timeseries.h5"), "r") as f:
        ts = f["timeseries"][()]
    a, b, c = ts[:-2], ts[1:-1], ts[2:]
    with np.errstate(invalid="ignore"):
        outside = np.maximum(b - np.maximum(a, c), np.minimum(a, c) - b)
    assert 0.04 < np.nanmax(outside) < 0.05 < SPIKE_M
    assert not run.find_spikes(ts).any()


def _with(path, src, edit):
    shutil.copy(src, path)
    with h5py.File(path, "a") as f:
        d = f["timeseries"][()]
        edit(d)
        f["timeseries"][()] = d
    return str(path)


def test_spikes_are_missing_values_in_the_file_driver(project, fake_denoiser, caplog, tmp_path):
    """mintpy_dlae.py reads isolated spikes as missing values: its outputs equal those of the same
    file with NaN there (nothing of the spike reaches a neighbour), with a warning that counts them
    and names the date; blocks give the whole-frame result also with a spike across a block edge.
    At the spikes themselves the outputs hold the denoised estimate, where the NaN file keeps NaN:
    MintPy's timeseries2velocity.py runs on the output, as it does on the spiked input."""
    from test_field_inputs import t2v

    def spikes(d):
        d[5, 9:11, 20:22] += 10.0                 # rows 9-10: across the block edge at row 11 below
        d[7, 25, 4] -= 0.5
        d[9, 15, 15] += 0.7                      # the last date of window 1 (dates 1-9)

    def nans(d):
        d[5, 9:11, 20:22] = np.nan
        d[7, 25, 4] = np.nan
        d[9, 15, 15] = np.nan

    os.makedirs(tmp_path / "spiked")
    spiked = _with(tmp_path / "spiked" / "timeseries.h5", project.ts, spikes)
    holes = _with(tmp_path / "holes.h5", project.ts, nans)
    at = np.zeros((NUM_DATE, 32, 32), bool)       # the 6 spiked elements
    at[5, 9:11, 20:22] = at[7, 25, 4] = at[9, 15, 15] = True
    cfg = DlaeConfig(mask_file=None)
    with caplog.at_level("WARNING", logger="mintpy_dlae"):
        out = run.run_dlae(spiked, project.geom, cfg, progress=False)
    assert "6 value(s) of dataset 'timeseries' are isolated spikes (4 on" in caplog.text
    assert "spiked" in caplog.text.split("isolated spikes")[0]      # the file is named
    ref = run.run_dlae(holes, project.geom, cfg, progress=False)
    for key in ("timeseries", "variance"):
        got, want = readfile.read(out[key])[0], readfile.read(ref[key])[0]
        np.testing.assert_array_equal(got[~at], want[~at], err_msg=key)
        assert np.isnan(want[at]).all() and np.isfinite(got[at]).all(), key
    assert np.abs(readfile.read(out["timeseries"])[0][at]).max() < 0.2    # an estimate, not the spike
    nan_got = nan_want = 0                        # windows that begin or end on a spike: estimated
    for name in readfile.get_dataset_list(out["cumulative"]):
        if name == "date":
            continue
        got = readfile.read(out["cumulative"], datasetName=name)[0]
        want = readfile.read(ref["cumulative"], datasetName=name)[0]
        np.testing.assert_array_equal(got[np.isfinite(want)], want[np.isfinite(want)], err_msg=name)
        assert not (np.isnan(got) & np.isfinite(want)).any(), name
        nan_got, nan_want = nan_got + np.isnan(got).sum(), nan_want + np.isnan(want).sum()
    assert nan_got < nan_want
    assert readfile.read_attribute(out["timeseries"])["mintpy.dlae.numFilledValues"] == "6"
    tiled = run_in_row_blocks(run.run_dlae, spiked, project.geom, cfg, tmp_path / "tiled.h5")
    assert_same_datasets(out, tiled)
    assert t2v(spiked, str(tmp_path / "vel_in.h5"))
    assert t2v(out["timeseries"], str(tmp_path / "vel_out.h5"))


def test_last_date_spikes_of_blocks_are_the_frames(project, fake_denoiser, tmp_path):
    """The last date's test reads the spikes of the date before it, so a block needs twice the spatial
    test's context (SPIKE_CONTEXT) to decide its spikes as the whole frame does: rows of errors on
    the last two dates next to a block edge (row 20 of run_in_row_blocks) are no spikes in the frame,
    and none in the blocks (with half that context, 32 were found there)."""
    def rows(d):
        d[10, 16:19] -= 1.0
        d[11, 19:21] += 1.0

    path = _with(tmp_path / "rows.h5", project.ts, rows)
    assert not run.find_spikes(readfile.read(path)[0]).any()
    cfg = DlaeConfig(mask_file=None)
    whole = run.run_dlae(path, project.geom, cfg, progress=False, out_file=str(tmp_path / "whole.h5"))
    tiled = run_in_row_blocks(run.run_dlae, path, project.geom, cfg, tmp_path / "tiled.h5")
    for out in (whole, tiled):
        assert readfile.read_attribute(out["timeseries"])["mintpy.dlae.numFilledValues"] == "0"
    assert_same_datasets(whole, tiled)


def test_a_series_without_spikes_is_untouched(project, fake_denoiser, caplog):
    with caplog.at_level("WARNING", logger="mintpy_dlae"):
        out = run.run_dlae(project.ts, project.geom, DlaeConfig(mask_file=None), progress=False)
    assert "isolated spikes" not in caplog.text
    assert readfile.read_attribute(out["timeseries"])["mintpy.dlae.numFilledValues"] == "0"
    assert NUM_DATE == len(readfile.read(out["timeseries"])[0])


def test_denoise_reads_spikes_as_missing_values():
    """The Python API applies the rule too: a spike gives the result that the same element set to NaN
    gives (with a warning), but for the spike itself, which holds the estimate where NaN stays NaN, and ``spikes=False`` gives it to the network as it is, which moves the
    output far from the spike (a 10 m error on 4 px of one date). The caller's array is not changed."""
    import warnings

    from mintpy_dlae import denoise
    ts = _quiet(num_date=10, size=24, seed=3)
    elevation = np.zeros((24, 24), np.float32)
    spiked = ts.copy()
    spiked[4, 10:12, 10:12] += 10.0
    before = spiked.copy()
    holed = ts.copy()
    holed[4, 10:12, 10:12] = np.nan
    kw = dict(model="fault", augment=1, precision="float32")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = denoise(spiked, elevation, **kw)
    assert any("isolated spike" in str(w.message) and "ts[4, 10, 10]" in str(w.message) for w in caught)
    np.testing.assert_array_equal(spiked, before)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = denoise(holed, elevation, **kw)
        raw = denoise(spiked, elevation, spikes=False, **kw)
    np.testing.assert_allclose(got.cumulative, ref.cumulative, atol=1e-6)
    at = np.zeros(ts.shape, bool)
    at[4, 10:12, 10:12] = True                    # NaN holes stay NaN; the spikes get the estimate
    np.testing.assert_array_equal(np.isnan(got.timeseries), np.isnan(ref.timeseries) & ~at)
    np.testing.assert_allclose(got.timeseries[~at], ref.timeseries[~at], atol=1e-6)
    assert np.isnan(ref.timeseries[at]).all() and np.isfinite(got.timeseries[at]).all()
    assert np.abs(got.timeseries[at]).max() < 0.1
    far = np.ones((24, 24), bool)
    far[5:17, 5:17] = False                       # more than 5 px from the spike
    assert np.nanmax(np.abs(raw.cumulative - got.cumulative)[:, far]) > 1e-3     # 1 mm: it does matter
