"""MintPy files as users really have them (issue 12): each failure kind rebuilt as a small file.

* the reference point outside the frame (after subset.py),
* missing acquisitions in every form MintPy files carry them: a date NaN on every pixel (offset
  time series), a date 0 on every pixel, a date NaN on part of the frame and 0 on the rest, NaN
  holes on part of the frame on some dates, scattered NaN values, the reference date itself empty,
  too many empty dates,
* nothing valid to denoise: an all-zero or all-NaN series, a mask that is 0 everywhere, a mask
  that misses every pixel with data.

All run through the real driver (mintpy_dlae.denoise_file / mintpy_dlae.py) with the stand-in denoiser.
"""
import hashlib
import logging
import os

import h5py
import numpy as np
import pytest
from conftest import (LENGTH, NODATA_BOX, NUM_DATE, REF_INDEX, REF_X, REF_Y, WIDTH, fake_denoise,
                      write_geometry, write_mask, write_timeseries)
from mintpy.utils import readfile

from mintpy_dlae import denoise_file as run
from mintpy_dlae.cli import denoise as cli
from mintpy_dlae.config import DlaeConfig


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def folder_state(folder):
    return {f: sha(os.path.join(folder, f)) for f in sorted(os.listdir(folder))}


def edit(path, func=None, **attrs):
    """Change the timeseries dataset (``func(data)`` in place) and/or root attributes of a file."""
    with h5py.File(path, "a") as f:
        if func is not None:
            data = f["timeseries"][()]
            func(data)
            f["timeseries"][()] = data
        for key, value in attrs.items():
            f.attrs[key] = value
    return path


@pytest.fixture
def files(tmp_path):
    return tmp_path, write_geometry(tmp_path / "geometryGeo.h5")


def denoise(ts, geom, **kw):
    return run.run_dlae(ts, geom, DlaeConfig(save_removed=True, **kw), progress=False)


def t2v(ts_file, out_file):
    """timeseries2velocity.py in-process; True if it ran."""
    from mintpy.cli import timeseries2velocity
    try:
        timeseries2velocity.main([ts_file, "-o", out_file])
    except (ValueError, np.linalg.LinAlgError):
        return False
    return os.path.isfile(out_file)


# ------------------------------------------------------------------ 1. reference point outside
def _as_subset(x):
    """Referenced to a point outside the frame: no pixel of the frame is 0 on every date."""
    offset = np.linspace(0, 0.01, x.shape[0]) - np.linspace(0, 0.01, x.shape[0])[REF_INDEX]
    data = np.any(x != 0, axis=0)
    data[REF_Y, REF_X] = True
    x[:, data] += offset[:, None].astype(x.dtype)


@pytest.mark.parametrize("ref", [(LENGTH + 5, REF_X), (REF_Y, WIDTH), (-1, 3), (LENGTH, WIDTH),
                                 ("12.5", "3"), ("nan", "nan")])
def test_reference_point_outside_the_frame(files, fake_denoiser, caplog, ref):
    d, geom = files
    ts = edit(write_timeseries(d / "timeseries_sub.h5"), _as_subset, REF_Y=ref[0], REF_X=ref[1])
    before = sha(ts)
    with caplog.at_level(logging.WARNING):
        out = denoise(ts, geom)
    assert sha(ts) == before
    assert "REF_Y/REF_X" in caplog.text and "not re-referenced in space" in caplog.text
    data, atr = readfile.read(out["timeseries"])
    # the input's spatial referencing is kept: same REF_* attributes, no other pixel made 0
    assert (atr["REF_Y"], atr["REF_X"]) == (str(ref[0]), str(ref[1]))
    inp = readfile.read(ts)[0]
    expect = fake_denoise(inp, np.zeros(inp.shape[1:])).timeseries
    expect = expect - expect[REF_INDEX]
    valid = np.ones(inp.shape[1:], bool)
    valid[NODATA_BOX] = False
    np.testing.assert_allclose(data[:, valid], expect[:, valid], atol=2e-6)
    assert np.all(data[REF_INDEX] == 0)


def test_reference_point_outside_the_frame_cli(files, fake_denoiser, capsys):
    d, geom = files
    ts = edit(write_timeseries(d / "timeseries_sub.h5"), REF_Y=LENGTH + 3)
    assert cli.main([ts, "-g", geom, "--no-progress"]) is None
    out = capsys.readouterr().out
    assert "WARNING:" in out and "outside the" in out and "Done" in out


# ------------------------------------------------------------------ 2. missing dates
EMPTY = 5        # index of the empty date in the tests below (REF_INDEX is 2)


def _all_nan(x):
    x[EMPTY] = np.nan


def _all_zero(x):
    x[EMPTY] = 0


def _nan_and_zero(x):
    x[EMPTY] = np.nan
    x[EMPTY, :, :10] = 0


def _first_and_last_nan(x):
    x[0] = np.nan
    x[-1] = np.nan


@pytest.mark.parametrize("form, name", [(_all_nan, "timeseriesRg.h5"),
                                        (_all_nan, "timeseries_ERA5.h5"),
                                        (_all_zero, "timeseries_ERA5.h5"),
                                        (_nan_and_zero, "timeseriesAz.h5"),
                                        (_first_and_last_nan, "timeseriesRg.h5")])
def test_empty_dates(files, fake_denoiser, caplog, form, name):
    """An empty acquisition never wipes out the other dates: it is left out of the network and keeps
    the input's marks (NaN stays NaN, 0 stays 0) in every output, said in the log and attributes."""
    d, geom = files
    ts = edit(write_timeseries(d / name), form)
    inp = readfile.read(ts)[0]
    empty = [i for i in range(NUM_DATE) if not np.any(np.nan_to_num(inp[i]))and i != REF_INDEX]
    before = sha(ts)
    with caplog.at_level(logging.WARNING):
        out = denoise(ts, geom)
    assert sha(ts) == before
    assert "left out of the network" in caplog.text
    assert "timeseries2velocity.py --ex-date " in caplog.text      # else velocityStd is NaN
    data, atr = readfile.read(out["timeseries"])
    dates = [n.split("-")[-1] for n in readfile.get_slice_list(ts)]
    assert atr["mintpy.dlae.excludedDates"] == ",".join(dates[i] for i in empty)
    assert "mintpy.dlae.missingData" in atr
    keep = np.setdiff1d(np.arange(NUM_DATE), empty)
    valid = np.ones(inp.shape[1:], bool)
    valid[NODATA_BOX] = False
    # the other dates carry the denoised series: what the network gives on the kept dates alone
    kept = inp[keep]
    kept[:, REF_Y, REF_X] = run.REF_PIXEL_VALUE
    expect = fake_denoise(kept, np.zeros(inp.shape[1:])).timeseries
    kref = list(keep).index(REF_INDEX)
    expect = expect - expect[kref] - (expect[:, REF_Y:REF_Y + 1, REF_X:REF_X + 1]
                                      - expect[kref, REF_Y, REF_X])
    np.testing.assert_allclose(data[keep][:, valid], expect[:, valid], atol=2e-6)
    assert np.isfinite(data[keep][:, valid]).all() and np.any(data[keep][:, valid] != 0)
    # the empty dates keep the input's own marks of missing data
    np.testing.assert_array_equal(data[empty], inp[empty])
    removed = readfile.read(out["removed"])[0]
    np.testing.assert_array_equal(removed[empty], inp[empty])
    # cumulative maps: one per window of kept dates, not NaN
    names = [n for n in readfile.get_slice_list(out["cumulative"]) if n.startswith("cumulative_")]
    assert len(names) == len(keep) - 8
    for nm in names:
        cum = readfile.read(out["cumulative"], datasetName=nm)[0]
        assert np.isfinite(cum[valid]).all()
    # timeseries2velocity.py works on the output wherever it works on the input
    ok_in = t2v(ts, str(d / "vel_in.h5"))
    ok_out = t2v(out["timeseries"], str(d / "vel_out.h5"))
    assert ok_out == ok_in
    if name.startswith("timeseriesR") or form is _all_zero:
        assert ok_out
        vel = readfile.read(str(d / "vel_out.h5"))[0]
        assert np.isfinite(vel[valid]).all() and np.any(vel[valid] != 0)


def test_nan_holes_on_some_dates(files, fake_denoiser, caplog, monkeypatch):
    """Part of the frame NaN on a few dates (coverage changing from date to date) and scattered NaN
    values: those pixels keep their other dates, NaN is written exactly where the input had it, and
    the network is given those holes filled by linear interpolation in time."""
    d, geom = files
    given = []

    def capturing(ts, *args, **kwargs):
        given.append(np.array(ts, copy=True))               # the engine may overwrite its input
        return fake_denoise(ts, *args, **kwargs)

    monkeypatch.setattr(fake_denoiser, "denoise", capturing)

    def holes(x):
        x[4, 15:25, 15:25] = np.nan         # a burst missing on one date
        x[7:9, 20:, :8] = np.nan            # another region on two dates
        x[10, 30, 30] = np.nan              # scattered values
        x[0, 5, 6] = np.nan                 # at the first date (filled from the next one)

    ts = edit(write_timeseries(d / "timeseries_ERA5.h5"), holes)
    inp = readfile.read(ts)[0]
    with caplog.at_level(logging.WARNING):
        out = denoise(ts, geom)
    assert "filled by linear interpolation" in caplog.text
    data, atr = readfile.read(out["timeseries"])
    assert atr["mintpy.dlae.excludedDates"] == "none"
    assert int(atr["mintpy.dlae.numFilledValues"]) == int(np.isnan(inp).sum())
    np.testing.assert_array_equal(np.isnan(data), np.isnan(inp))
    # the pixels with holes keep data on all their other dates
    for (r, c) in [(20, 20), (25, 3), (30, 30), (5, 6)]:
        good = ~np.isnan(inp[:, r, c])
        assert np.all(np.isfinite(data[good, r, c]))
        assert np.count_nonzero(data[good, r, c]) >= good.sum() - 1      # REF_DATE is 0
    # what the network was given there (the whole-frame block; a small box around the reference
    # pixel is denoised apart; dates 12 days apart): the holes filled by linear interpolation in
    # time, computed by hand; the other values as read
    (net,) = [g for g in given if g.shape == inp.shape]
    lerp = lambda a, b, f: (1 - f) * inp[a] + f * inp[b]    # noqa: E731
    np.testing.assert_allclose(net[4, 15:25, 15:25], lerp(3, 5, 0.5)[15:25, 15:25], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(net[7, 20:, :8], lerp(6, 9, 1 / 3)[20:, :8], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(net[8, 20:, :8], lerp(6, 9, 2 / 3)[20:, :8], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(net[10, 30, 30], 0.5 * (inp[9, 30, 30] + inp[11, 30, 30]), rtol=1e-5)
    assert net[0, 5, 6] == inp[1, 5, 6]                     # before the first date with data: that value
    same = ~np.isnan(inp)
    same[:, REF_Y, REF_X] = False                           # the reference pixel is fed a tiny constant
    np.testing.assert_array_equal(net[same], inp[same])
    # the cumulative maps (12 dates: windows 0-3 cover dates k..k+8) are NaN, with their std and
    # significance, where the window's first or last date is missing: date 0 and date 8 end
    # window 0, date 10 ends window 2; the holes of dates 4 and 7 are inside every window
    ends = np.zeros((4,) + inp.shape[1:], bool)
    ends[0, 5, 6] = ends[0, 20:, :8] = ends[2, 30, 30] = True
    for name in ("cumulative", "cumulativeStd", "significance"):
        cum = np.stack([readfile.read(out["cumulative"], datasetName=f"{name}_{w}")[0]
                        for w in _window_names(out["cumulative"])])
        nodata = np.isnan(cum[1])                           # window 1: no missing first or last date
        assert not nodata[5, 6] and nodata.mean() < 0.1, name
        np.testing.assert_array_equal(np.isnan(cum), nodata[None] | ends, err_msg=name)


def test_zeros_on_some_dates_are_data_with_a_warning(files, fake_denoiser, caplog):
    """Exact zeros of pixels with data on other dates (missing values written as 0 by some tools)
    are read as data, and a warning counts them (REF_DATE, 0 everywhere, and the reference pixel
    apart), naming the first date, so that the user can mark them with NaN."""
    d, geom = files

    def zeros(x):
        x[8:, 20:24, :] = 0.0               # 4 rows x 32 columns on the last 4 dates
    ts = edit(write_timeseries(d / "timeseries_ERA5.h5"), zeros)
    with h5py.File(ts, "r") as f:
        first = f["date"][8].decode()
    with caplog.at_level(logging.WARNING):
        denoise(ts, geom)
    assert "512 value(s) are exactly 0 on dates other than REF_DATE" in caplog.text
    assert f"e.g. 128 on {first}" in caplog.text and "set them to NaN" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        denoise(write_timeseries(d / "timeseries_clean.h5"), geom)
    assert "exactly 0" not in caplog.text


def _window_names(path):
    """The '<first>_<last>' names of the cumulative maps of a cumulative_*.h5 file, in order."""
    import h5py
    with h5py.File(path, "r") as f:
        return sorted(k[len("cumulative_"):] for k in f if k.startswith("cumulative_"))


def test_fill_missing_rule():
    t = np.array([0.0, 1.0, 3.0, 4.0, 6.0])
    x = np.array([np.nan, 2.0, np.nan, 6.0, np.nan], np.float32)[:, None, None] * np.ones((1, 2, 2))
    x[:, 1, 1] = np.nan                                 # no-data pixel stays NaN
    x[:, 0, 1] = [1, 2, 3, 4, 5]                        # complete pixel untouched
    out = run.fill_missing(x.astype(np.float32), t)
    np.testing.assert_allclose(out[:, 0, 0], [2.0, 2.0, 14 / 3, 6.0, 6.0], rtol=1e-6)
    assert np.isnan(out[:, 1, 1]).all()
    np.testing.assert_array_equal(out[:, 0, 1], [1, 2, 3, 4, 5])
    # a block with nothing to fill (the complete pixel alone) comes back unchanged
    np.testing.assert_array_equal(run.fill_missing(x[:, :1, 1:].astype(np.float32), t)[:, 0, 0], [1, 2, 3, 4, 5])


def test_reference_date_empty(files, fake_denoiser, caplog):
    """REF_DATE itself NaN everywhere: left out, the output is referenced to the first kept date."""
    d, geom = files

    def ref_nan(x):
        x[REF_INDEX] = np.nan

    ts = edit(write_timeseries(d / "timeseriesRg.h5"), ref_nan)
    with caplog.at_level(logging.WARNING):
        out = denoise(ts, geom)
    assert "REF_DATE" in caplog.text
    data = readfile.read(out["timeseries"])[0]
    assert np.isnan(data[REF_INDEX]).all()
    assert np.all(data[0] == 0)


def test_too_many_empty_dates(files, fake_denoiser):
    d, geom = files

    def wipe(x):
        x[3:7] = np.nan

    ts = edit(write_timeseries(d / "timeseriesRg.h5"), wipe)
    before = folder_state(d)
    with pytest.raises(SystemExit) as exc:
        cli.main([ts, "-g", geom])
    msg = str(exc.value.code)
    assert msg.startswith("ERROR: ") and ts in msg and "'timeseries'" in msg
    assert "4 of them have no data" in msg and "leaving 8" in msg
    assert folder_state(d) == before


# ------------------------------------------------------------------ 3. nothing valid
def _no_network(monkeypatch, fake_denoiser):
    def boom(*args, **kwargs):
        raise AssertionError("the network must not run when there is nothing to denoise")
    monkeypatch.setattr(fake_denoiser, "denoise", boom)
    monkeypatch.setattr(run, "load_model", boom)


@pytest.mark.parametrize("case", ["all_zero", "all_nan", "mask_zero", "mask_disjoint"])
def test_nothing_valid_to_denoise(files, fake_denoiser, monkeypatch, case):
    d, geom = files
    ts = write_timeseries(d / "timeseries_ERA5.h5")
    args = [ts, "-g", geom]
    if case == "all_zero":
        edit(ts, lambda x: x.fill(0))
        expect = [ts, "'timeseries'", "0 or NaN on every pixel", "nothing to denoise"]
    elif case == "all_nan":
        edit(ts, lambda x: x.fill(np.nan))
        expect = [ts, "'timeseries'", "0 or NaN on every pixel", "nothing to denoise"]
    elif case == "mask_zero":
        mask = write_mask(d / "maskTempCoh.h5")
        with h5py.File(mask, "a") as f:
            f["mask"][()] = False
        args += ["-m", mask]
        expect = [mask, "'mask'", "0 (masked out) on every pixel", "nothing to denoise"]
    else:
        mask = write_mask(d / "maskTempCoh.h5")
        with h5py.File(mask, "a") as f:
            m = np.zeros((LENGTH, WIDTH), bool)
            m[NODATA_BOX] = True                   # only where the series has no data
            f["mask"][()] = m
        args += ["-m", mask]
        expect = [ts, mask, "no pixel with data", "nothing to denoise"]
    _no_network(monkeypatch, fake_denoiser)
    before = folder_state(d)
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    msg = str(exc.value.code)
    assert exc.value.code not in (0, None) and msg.startswith("ERROR: ")
    for text in expect:
        assert text in msg, msg
    assert folder_state(d) == before      # no output, no temporary file, input untouched


# ------------------------------------------------------------------ outputs: tiny values
def test_tiny_values_written_as_zero(files, fake_denoiser, monkeypatch):
    """Silenced (denormal-size) outputs are written as exact 0, not 1e-25 .. 1e-7 blobs."""
    d, geom = files

    def tiny(*args, **kwargs):
        res = fake_denoise(*args, **kwargs)
        res.timeseries = (res.timeseries * 1e-20).astype(np.float32)
        res.cumulative = (res.cumulative * 1e-20).astype(np.float32)
        return res

    monkeypatch.setattr(fake_denoiser, "denoise", tiny)
    ts = write_timeseries(d / "timeseries_ERA5.h5")
    out = denoise(ts, geom)
    data = readfile.read(out["timeseries"])[0]
    assert np.all(data == 0)
    with h5py.File(out["cumulative"]) as f:
        for name in f:
            if name.startswith("cumulative_"):
                assert np.all(np.nan_to_num(f[name][()]) == 0)
    assert run.flush_tiny(np.array([1e-30, -5e-7, 2e-6], np.float32)).tolist() == \
        [0.0, 0.0, pytest.approx(2e-6)]


# ------------------------------------------------------------------ a map that follows the elevation
def test_elevation_check_sums_match_numpy():
    """ElevationCheck fed in row blocks (with NaN holes) gives numpy's Pearson r and least-squares
    slope of the whole frame, and flags by the documented rule (r^2 >= 0.5 and |k| std(h) >= 2
    times the mean sigma)."""
    rng = np.random.default_rng(3)
    h = rng.uniform(200, 2200, (30, 20))
    cum = np.stack([7e-6 * h + rng.normal(0, s, h.shape) for s in (1e-3, 2e-2)])   # follows h / noise
    cum[:, 3:6, 4:9] = np.nan
    std = np.full_like(cum, 1e-3)
    chk = run.ElevationCheck(2)
    for y0, y1 in ((0, 11), (11, 30)):
        chk.add(h[y0:y1], cum[:, y0:y1], std[:, y0:y1])
    ok = np.isfinite(cum[0])
    r = np.corrcoef(h[ok], cum[0][ok])[0, 1]
    k = np.polyfit(h[ok], cum[0][ok], 1)[0]
    found = chk.flagged(max_lapse=np.inf)
    assert [f[0] for f in found] == [0]
    np.testing.assert_allclose(found[0][1:4], [r, k, h[ok].std()], rtol=1e-9)
    assert np.corrcoef(h[ok], cum[1][ok])[0, 1] ** 2 < 0.5
    # a large sigma makes the same elevation-shaped part insignificant
    chk2 = run.ElevationCheck(1)
    chk2.add(h, cum[:1], np.full_like(cum[:1], 0.1))
    assert chk2.flagged() == []
    # the lapse-rate bound: 7 mm/km is an atmosphere's (kept at 50 mm/km), 2,650 mm/km over a few
    # metres of relief (a basin's subsidence) is not
    assert [f[0] for f in chk.flagged(max_lapse=5e-5)] == [0]
    flat = rng.uniform(2217, 2287, (30, 20))
    chk3 = run.ElevationCheck(1)
    chk3.add(flat, (2.65e-3 * flat + rng.normal(0, 1e-3, flat.shape))[None], np.full((1, 30, 20), 1e-3))
    assert len(chk3.flagged(max_lapse=np.inf)) == 1 and chk3.flagged(max_lapse=5e-5) == [] == chk3.flagged()


def _elevation_warning(caplog):
    """The message of the warning that names the windows following the elevation (other warnings,
    e.g. the test frame's pixel size, come before it)."""
    return next(r.getMessage() for r in caplog.records if "follow the elevation" in r.getMessage())


def test_a_map_that_follows_the_elevation_is_named(files, fake_denoiser, caplog):
    """A seasonal stratified delay (a lapse rate 15 mm/km x sin(2 pi t / 1 yr), 12-day sampling) on
    a mountain slope (500-3300 m; std 640 m) comes through the stand-in denoiser (cumulative sigma
    2 mm) and is named with its r; the plain random-walk series over the same slope is not."""
    d, geom = files
    yy, xx = np.mgrid[:LENGTH, :WIDTH]
    hgt = (500.0 + 60.0 * yy + 30.0 * xx)
    with h5py.File(geom, "a") as f:
        f["height"][()] = hgt.astype(np.float32)

    def seasonal(x):
        t = np.arange(x.shape[0]) * 12.0
        k = 15e-6 * np.sin(2 * np.pi * t / 365.25)                     # m per m of height
        delay = k[:, None, None] * (hgt - hgt.mean())[None]
        delay -= delay[REF_INDEX]
        delay -= delay[:, REF_Y:REF_Y + 1, REF_X:REF_X + 1]
        data = np.any(x != 0, axis=0)
        x[:, data] = 0.1 * x[:, data] + delay[:, data].astype(x.dtype)
    ts = edit(write_timeseries(d / "timeseries_ERA5.h5"), seasonal)
    with caplog.at_level(logging.WARNING):
        out = denoise(ts, geom)
    assert "cumulative window(s) follow the elevation" in caplog.text
    # the flagged windows travel with the files (the attribute names them, in order)
    listed = readfile.read_attribute(out["timeseries"])["mintpy.dlae.followsElevation"].split(",")
    assert readfile.read_attribute(out["cumulative"])["mintpy.dlae.followsElevation"] == ",".join(listed)
    assert listed and set(listed) <= set(_window_names(out["cumulative"]))
    msg = _elevation_warning(caplog)
    assert msg.split(" of ")[0].split()[-1] == str(len(listed))
    assert "tropo_phase_elevation.py" in caplog.text
    text = caplog.text[caplog.text.index("e.g."):]
    assert " r = 0.9" in text or " r = 1.0" in text or " r = -0.9" in text or " r = -1.0" in text, text
    flagged = msg.split(" of ")[0]
    # the same rule without the uncertainty outputs (the network's sigma is still used), and with
    # an infinite height in the first of several row blocks (left out, not spreading to the rest)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        run.run_dlae(ts, geom, DlaeConfig(save_uncertainty=False), force=True, progress=False)
    assert "and is >= 2 sigma)" in caplog.text
    assert _elevation_warning(caplog).split(" of ")[0] == flagged
    with h5py.File(geom, "a") as f:
        f["height"][2, 5] = np.inf
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        run.run_dlae(ts, geom, DlaeConfig(max_memory=1e-4), force=True, progress=False)
    assert "follow the elevation" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        out = denoise(write_timeseries(d / "timeseries_clean.h5"), geom)
    assert "follow the elevation" not in caplog.text
    assert readfile.read_attribute(out["timeseries"])["mintpy.dlae.followsElevation"] == "none"


def test_elevation_warning_without_sigma(caplog):
    """A model without sigma: the rule is r^2 and the lapse rate only, and the warning does not
    claim a 2-sigma test; k is printed in mm/km from the metres of the map."""
    rng = np.random.default_rng(5)
    h = rng.uniform(500, 2500, (20, 20))
    chk = run.ElevationCheck(2)
    chk.add(h, np.stack([12e-6 * h, rng.normal(0, 1e-3, h.shape)]), None)
    with caplog.at_level(logging.WARNING):
        found = run.warn_elevation_correlation(chk, ["20200101_20200407", "20200113_20200419"])
    assert found == ["20200101_20200407"]
    assert "1 of 2 cumulative window(s)" in caplog.text and "2 sigma" not in caplog.text
    assert "e.g. 20200101_20200407: r = 1.00, k = 12.0 mm/km" in caplog.text


def _dates(start, intervals):
    import datetime as dt
    d = [dt.datetime.strptime(start, "%Y%m%d")]
    for k in intervals:
        d.append(d[-1] + dt.timedelta(days=k))
    return [x.strftime("%Y%m%d") for x in d]


def test_edge_gap_windows_by_hand():
    """Windows whose first or last interval is >= 3 x the median interval, worked out by hand on
    calendar dates: 14 dates 12 days apart with a 48-day interval 10 (dates 10 -> 11).  Windows span
    9 dates (intervals i..i+7): window 3 ends across it (3 + 7 = 10); none of the six (0-5) begins
    with it.  Exactly 36 days (3 x 12) counts, also across New Year (decimal years made it 35.25
    days) and from any start date; 35 days does not."""
    iv = [12] * 10 + [48] + [12] * 2
    assert run.edge_gap_windows(_dates("20200101", iv)) == [(3, "last", 48.0)]
    for start in ("20190803", "20201101", "20161007", "20230315"):
        for pos in (0, 4, 7, 11):
            iv = [12] * 12
            iv[pos] = 36
            found = run.edge_gap_windows(_dates(start, iv))
            expect = ([(pos, "first", 36.0)] if pos <= 4 else []) + ([(pos - 7, "last", 36.0)] if pos >= 7 else [])
            assert found == expect, (start, pos, found)
            iv[pos] = 35
            assert run.edge_gap_windows(_dates(start, iv)) == []
    iv = [12] * 10                  # 11 dates, windows 0-2: window 1 begins across 60 days (interval 1)
    iv[1], iv[8] = 60, 40           # and ends across 40 (interval 8): named once, by the longer side
    assert run.edge_gap_windows(_dates("20201219", iv)) == [(1, "first", 60.0)]
    assert run.edge_gap_windows(_dates("20200101", [12] * 7)) == []       # fewer than 9 dates


def test_a_window_across_a_gap_is_named(files, fake_denoiser, caplog):
    """mintpy_dlae's driver names every window that begins or ends across a long gap in one warning
    and in the outputs' attribute; an evenly sampled file gets none ("none")."""
    d, geom = files
    ts = write_timeseries(d / "timeseries.h5")
    with caplog.at_level(logging.WARNING):
        out = denoise(ts, geom)
    assert "across a gap" not in caplog.text
    assert readfile.read_attribute(out["timeseries"])[run.EDGE_GAP_ATTRIBUTE] == "none"
    caplog.clear()
    ts2 = write_timeseries(d / "timeseries_gap.h5")
    iv = [12] * (NUM_DATE - 1)
    iv[0], iv[-1] = 48, 72                     # NUM_DATE 12: window 0 begins, window 3 ends across a gap
    shifted = _dates("20201201", iv)
    with h5py.File(ts2, "a") as f:
        f["date"][()] = np.array(shifted, np.bytes_)
        f.attrs["REF_DATE"] = shifted[REF_INDEX]
    with caplog.at_level(logging.WARNING):
        out = denoise(ts2, geom)
    first = f"{shifted[0]}_{shifted[8]}"
    last = f"{shifted[NUM_DATE - 9]}_{shifted[NUM_DATE - 1]}"
    assert f"2 of {NUM_DATE - 8} 9-date window(s) begin or end across a gap" in caplog.text
    assert f"{first} (first interval 48 days); {last} (last interval 72 days)" in caplog.text
    assert ts2 in caplog.text
    for key in ("timeseries", "cumulative"):
        assert readfile.read_attribute(out[key])[run.EDGE_GAP_ATTRIBUTE] == f"{first},{last}"


@pytest.mark.parametrize("drop", [("REF_Y",), ("REF_Y", "REF_X")])
def test_no_reference_point_is_warned(files, fake_denoiser, caplog, drop):
    """Without REF_Y/REF_X (one or both) the output is not re-referenced in space, and the log says so."""
    d, geom = files
    ts = write_timeseries(d / "timeseries.h5")
    with h5py.File(ts, "a") as f:
        for key in drop:
            del f.attrs[key]
    with caplog.at_level(logging.WARNING):
        denoise(ts, geom)
    assert "no reference point (REF_Y/REF_X missing" in caplog.text and "reference_point.py" in caplog.text


def test_a_window_with_gaps_at_both_edges_names_both(caplog):
    """A window whose first and last intervals both span a gap names both in the warning (the
    Envisat-like case of a new user's trial: 140 and 175 days against a 35-day median)."""
    iv = [35, 70, 35, 140, 35, 35, 105, 70, 35, 35, 175, 35]
    dates = _dates("20040111", iv)
    with caplog.at_level(logging.WARNING):
        names = run.warn_edge_gaps("ts.h5", dates)
    assert f"{dates[3]}_{dates[11]}" in names
    assert f"{dates[3]}_{dates[11]} (first interval 140 and last interval 175 days)" in caplog.text
