"""mintpy_dlae.io against real MintPy files: validation, block reads, atomic round-trip writes."""
import os
import re
import subprocess

import h5py
import numpy as np
import pytest
from conftest import (LENGTH, NUM_DATE, WIDTH, mintpy_script, write_geometry, write_mask,
                      write_timeseries)
from mintpy.utils import readfile

from mintpy_dlae import io
from mintpy_dlae.boxes import Box, split


# ---------------------------------------------------------------------------- validation
def test_check_timeseries_ok(project):
    atr = io.check_timeseries(project.ts)
    assert atr["FILE_TYPE"] == "timeseries" and int(atr["LENGTH"]) == LENGTH


def test_missing_file(tmp_path):
    with pytest.raises(io.DlaeInputError, match="not found.*nope.h5"):
        io.check_timeseries(tmp_path / "nope.h5")


def test_wrong_file_type(project):
    with pytest.raises(io.DlaeInputError, match=r"geometryGeo.h5.*FILE_TYPE = 'geometry'"):
        io.check_timeseries(project.geom)


def test_too_few_dates(tmp_path):
    path = write_timeseries(tmp_path / "timeseries.h5", num_date=8)
    with pytest.raises(io.DlaeInputError, match=r"timeseries.h5.*'timeseries' has 8 dates.*9"):
        io.check_timeseries(path)


def test_unit_radian(tmp_path):
    path = write_timeseries(tmp_path / "timeseries.h5", unit="radian")
    with pytest.raises(io.DlaeInputError, match=r"UNIT = 'radian'.*metres"):
        io.check_timeseries(path)


def test_geometry_missing_height(tmp_path):
    path = write_geometry(tmp_path / "geometryRadar.h5", height=False)
    with pytest.raises(io.DlaeInputError, match=r"geometryRadar.h5.*'height' not found"):
        io.check_geometry(path, (LENGTH, WIDTH))


def test_geometry_and_mask_shape_mismatch(tmp_path):
    geom = write_geometry(tmp_path / "geometryGeo.h5", length=20)
    with pytest.raises(io.DlaeInputError, match=r"'height' has shape \(20, 32\).*\(32, 32\)"):
        io.check_geometry(geom, (LENGTH, WIDTH), "ts.h5")
    mask = write_mask(tmp_path / "waterMask.h5", width=30, name="waterMask")
    with pytest.raises(io.DlaeInputError, match=r"waterMask.h5.*'waterMask' has shape"):
        io.check_mask(mask, (LENGTH, WIDTH))


def test_mask_dataset_names(project, tmp_path):
    assert io.check_mask(project.mask, (LENGTH, WIDTH)) == "mask"
    water = write_mask(tmp_path / "waterMask.h5", name="waterMask")
    assert io.check_mask(water, (LENGTH, WIDTH)) == "waterMask"
    mask = io.read_mask(water, Box(18, 26, 0, 32), "waterMask")
    assert mask.dtype == bool and mask.shape == (8, 32) and not mask[2:6, 20:26].any()


def test_check_output_semantics(project, tmp_path):
    out = tmp_path / "out.h5"
    assert io.check_output([out], [project.ts]) == "run"
    out.write_bytes(b"x")
    with pytest.raises(io.DlaeInputError, match=r"out.h5: output file exists.*--update.*--force"):
        io.check_output([out], [project.ts])
    assert io.check_output([out], [project.ts], force=True) == "run"
    assert io.check_output([out], [project.ts], update=True) == "skip"
    os.utime(out, (0, 0))  # older than the input
    assert io.check_output([out], [project.ts], update=True) == "run"
    with pytest.raises(io.DlaeInputError, match="also an input"):
        io.check_output([project.ts], [project.ts], force=True)


def test_read_only_folder(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    # a real mode-555 folder: the check must agree with what this process can really do there (root,
    # or CAP_DAC_OVERRIDE, writes anyway), so both outcomes assert something
    folder.chmod(0o555)
    try:
        try:
            (folder / "probe").write_bytes(b"")
            writable = True
        except OSError:
            writable = False
        if writable:
            io.check_writable_dir(folder / "out.h5")
        else:
            with pytest.raises(io.DlaeInputError, match="read-only"):
                io.check_writable_dir(folder / "out.h5")
    finally:
        folder.chmod(0o755)
    # a read-only file system, as root sees it (access() says yes, creating the file fails with
    # EROFS): works under any user
    import builtins
    import errno
    real_open = builtins.open

    def read_only_fs(path, *args, **kwargs):
        if ".dlae-write-test" in str(path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(builtins, "open", read_only_fs)
        with pytest.raises(io.DlaeInputError, match=r"out.h5: output folder .*ro is read-only"):
            io.check_writable_dir(folder / "out.h5")
    io.check_writable_dir(folder / "out.h5")              # writable again: no error
    monkeypatch.setattr(io.os, "access", lambda path, mode: False)
    with pytest.raises(io.DlaeInputError, match=r"out.h5: output folder .*ro is read-only"):
        io.check_writable_dir(folder / "out.h5")


# ---------------------------------------------------------------------------- blocks
def test_plan_row_blocks_cover_frame():
    assert io.plan_row_blocks(100, 50, 12, max_memory=4) == [Box(0, 100, 0, 50)]
    blocks = io.plan_row_blocks(1000, 500, 30, max_memory=0.05, halo=8)
    assert len(blocks) > 1 and blocks[0].y0 == 0 and blocks[-1].y1 == 1000
    assert all(a.y1 == b.y0 for a, b in zip(blocks, blocks[1:]))
    assert all(isinstance(b, Box) and (b.x0, b.x1) == (0, 500) for b in blocks)
    assert max(b.shape[0] for b in blocks) - min(b.shape[0] for b in blocks) <= 1   # evened out


def test_box_type_and_split():
    box = Box(0, 4, 5, 10)
    assert box.mintpy == (5, 0, 10, 4) and Box.from_mintpy(box.mintpy) == box
    read = box.pad(3, 20, 12)
    assert read == Box(0, 7, 2, 12) and box.within(read) == Box(0, 4, 3, 8)
    assert box.within(read).slices == (slice(0, 4), slice(3, 8))
    parts = list(split(Box(0, 600, 0, 100), (600, 100), rows=512, cols=512, halo=5))
    assert [c for c, _ in parts] == [Box(0, 300, 0, 100), Box(300, 600, 0, 100)]
    assert parts[0][1] == Box(0, 305, 0, 100) and parts[1][1] == Box(295, 600, 0, 100)
    with pytest.raises(TypeError, match="Box"):
        io.read_timeseries("any.h5", (0, 0, 4, 4))     # an ambiguous tuple is refused


def test_read_blocks(project):
    full = io.read_timeseries(project.ts)
    part = io.read_timeseries(project.ts, Box(8, 16, 4, 20))
    np.testing.assert_array_equal(part, full[:, 8:16, 4:20])
    geom = io.read_geometry(project.geom, Box(8, 16, 4, 20))
    assert geom["height"].shape == (8, 16) and geom["incidenceAngle"][0, 0] == 38
    assert io.nodata_value(project.ts) == 0


def test_nodata_nan(tmp_path):
    assert np.isnan(io.nodata_value(write_timeseries(tmp_path / "ts.h5", nan_nodata=True)))


# ---------------------------------------------------------------------------- writing
def _copy_through_io(src, dst, rows=10):
    """Write src to dst block by block through io (as the driver does)."""
    extra = {"mintpy.dlae.model": "fault", "mintpy.dlae.modelSha256": "0" * 64}
    with io.AtomicOutputs([dst]) as tmp:
        io.layout_timeseries(tmp[dst], src, extra)
        for y0 in range(0, LENGTH, rows):
            box = Box(y0, min(y0 + rows, LENGTH), 0, WIDTH)
            io.write_block(tmp[dst], io.read_timeseries(src, box), "timeseries", box)
    return extra


def test_round_trip_readfile(project):
    out = str(project.dir / "timeseries_ERA5_DLAE.h5")
    extra = _copy_through_io(project.ts, out)
    data_in, atr_in = readfile.read(project.ts)
    data_out, atr_out = readfile.read(out)
    np.testing.assert_array_equal(data_in, data_out)
    atr_in.pop("FILE_PATH"), atr_out.pop("FILE_PATH")
    assert atr_out == dict(atr_in, **extra)
    with h5py.File(project.ts) as fi, h5py.File(out) as fo:
        np.testing.assert_array_equal(fi["date"][:], fo["date"][:])
        np.testing.assert_array_equal(fi["bperp"][:], fo["bperp"][:])
    assert readfile.get_slice_list(out) == readfile.get_slice_list(project.ts)


def test_atomic_write_failure_leaves_nothing(project):
    out = project.dir / "timeseries_ERA5_DLAE.h5"
    with pytest.raises(RuntimeError):
        with io.AtomicOutputs([out]) as tmp:
            io.layout_timeseries(tmp[str(out)], project.ts)
            raise RuntimeError("interrupted")
    assert sorted(os.listdir(project.dir)) == ["geometryGeo.h5", "maskTempCoh.h5",
                                               "timeseries_ERA5.h5"]


def test_cumulative_layout(project):
    from conftest import dates
    out = str(project.dir / "cumulative_ERA5_DLAE.h5")
    ds = dates()
    with io.AtomicOutputs([out]) as tmp:
        names = io.layout_cumulative(tmp[out], project.ts, ds, {"mintpy.dlae.model": "fault"})
        data = np.arange(len(names) * LENGTH * WIDTH, dtype=np.float32).reshape(-1, LENGTH, WIDTH)
        io.write_cumulative_block(tmp[out], names, data, Box.frame(LENGTH, WIDTH))
    assert names == [f"cumulative_{ds[k]}_{ds[k + 8]}" for k in range(NUM_DATE - 8)]
    assert readfile.get_slice_list(out) == names
    atr = readfile.read_attribute(out)
    assert atr["FILE_TYPE"] == "cumulative" and "REF_DATE" not in atr and atr["REF_Y"] == "10"
    np.testing.assert_array_equal(readfile.read(out, datasetName=names[2])[0], data[2])


def test_cumulative_layout_with_uncertainty_and_variance(project):
    from conftest import dates
    out = str(project.dir / "cumulative_ERA5_DLAE.h5")
    var = str(project.dir / "timeseriesVar_ERA5_DLAE.h5")
    with io.AtomicOutputs([out, var]) as tmp:
        names = io.layout_cumulative(tmp[out], project.ts, dates(), uncertainty=True)
        io.layout_variance(tmp[var], project.ts, {"mintpy.dlae.product": "variance"})
    slices = readfile.get_slice_list(out)
    assert sorted(slices) == sorted(names + io.std_names(names) + io.significance_names(names))
    assert io.std_names(names)[0] == "cumulativeStd_20200101_20200406"
    assert io.significance_names(names)[0] == "significance_20200101_20200406"
    atr = readfile.read_attribute(out, datasetName=io.significance_names(names)[0])
    assert atr["UNIT"] == "1" and atr["START_DATE"] == "20200101"
    atr = readfile.read_attribute(var)
    assert atr["FILE_TYPE"] == "timeseries" and atr["UNIT"] == "m^2"
    assert readfile.get_slice_list(var) == readfile.get_slice_list(project.ts)


def test_rereference_variance_follows_reference_date(project):
    """A variance relative to the first date, V[t] - V[0] with V increasing, re-referenced to date k
    is |V[t] - V[k]| (the independent-increment rule, computed here from V itself); NaN and the
    reference pixel's 0 are kept; a second call changes nothing; an unknown date is refused."""
    from conftest import dates
    var_file = str(project.dir / "timeseriesVar_ERA5_DLAE.h5")
    with io.AtomicOutputs([var_file]) as tmp:
        io.layout_variance(tmp[var_file], project.ts)
    rng = np.random.default_rng(5)
    v = np.cumsum(rng.uniform(0, 1e-6, (NUM_DATE, LENGTH, WIDTH)), axis=0).astype(np.float32)
    stored = v - v[0]
    stored[:, 2, 3] = np.nan
    stored[:, 0, 0] = 0
    with h5py.File(var_file, "a") as f:
        f["timeseries"][:] = stored
        f.attrs["REF_DATE"] = dates()[0]
    k = 4
    assert io.rereference_variance(var_file, dates()[k], max_memory=1e-6)      # one row per block
    got, atr = readfile.read(var_file)
    assert atr["REF_DATE"] == dates()[k]
    want = np.abs(v - v[k])
    want[:, 2, 3] = np.nan
    want[:, 0, 0] = 0
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-11)        # float32 round-off
    # again from that middle date to an earlier one: the dates after the old reference keep
    # growing (|V - V[2]|), not a V-shape around it
    assert io.rereference_variance(var_file, dates()[2], max_memory=1e-6)
    want = np.abs(v - v[2])
    want[:, 2, 3] = np.nan
    want[:, 0, 0] = 0
    np.testing.assert_allclose(readfile.read(var_file)[0], want, rtol=1e-4, atol=1e-11)
    k = 2
    assert not io.rereference_variance(var_file, dates()[k])
    with pytest.raises(io.DlaeInputError, match="19991231"):
        io.rereference_variance(var_file, "19991231")
    assert not [n for n in os.listdir(project.dir) if n.endswith(".tmp")]


@pytest.mark.slow
def test_round_trip_mintpy_tools(project):
    """info.py, tsview.py and view.py read the files written by io (subprocesses)."""
    out = str(project.dir / "timeseries_ERA5_DLAE.h5")
    _copy_through_io(project.ts, out)
    run = dict(cwd=project.dir, capture_output=True, text=True, timeout=120,
               env=dict(os.environ, MPLBACKEND="Agg"))
    info_in = subprocess.run([mintpy_script("info.py"), project.ts, "--date"], **run)
    info_out = subprocess.run([mintpy_script("info.py"), out, "--date"], **run)
    assert info_out.returncode == 0, info_out.stderr
    assert info_out.stdout == info_in.stdout and "20200101" in info_out.stdout
    ts = subprocess.run([mintpy_script("tsview.py"), out, "--yx", "16", "16", "--nodisplay",
                         "--save", "-o", "ts_point"], **run)
    assert ts.returncode == 0, ts.stderr + ts.stdout
    assert any(f.startswith("ts_point") for f in os.listdir(project.dir))


def test_atomic_outputs_accept_relative_paths(tmp_path, monkeypatch):
    from mintpy_dlae import io as dio
    monkeypatch.chdir(tmp_path)
    with dio.AtomicOutputs(["a.h5", str(tmp_path / "b.h5")]) as tmp:
        for name in ("a.h5", str(tmp_path / "a.h5"), str(tmp_path / "b.h5")):
            with open(tmp[name], "w") as f:
                f.write("x")
    assert (tmp_path / "a.h5").is_file() and (tmp_path / "b.h5").is_file()


# ---------------------------------------------------------------------------- bad inputs (tester's list)
def _edit(path, name=None, data=None, drop_attrs=(), **attrs):
    """Replace dataset ``name`` of ``path`` by ``data`` (keeping nothing of the old one), drop and
    set root attributes."""
    with h5py.File(path, "a") as f:
        if name is not None:
            del f[name]
            f[name] = data
        for key in drop_attrs:
            del f.attrs[key]
        f.attrs.update(attrs)
    return path


def _dates(path):
    with h5py.File(path, "r") as f:
        return [d.decode() for d in f["date"][:]]


def test_dates_unsorted_or_duplicate(tmp_path):
    path = write_timeseries(tmp_path / "timeseries.h5")
    d = _dates(path)
    _edit(path, "date", np.array([d[0], d[2], d[1]] + d[3:], np.bytes_))
    with pytest.raises(io.DlaeInputError, match=rf"timeseries.h5.*'date'.*out of order {d[1]}"):
        io.check_timeseries(path)
    _edit(path, "date", np.array([d[0], d[1], d[1]] + d[3:], np.bytes_))
    with pytest.raises(io.DlaeInputError, match=rf"'date'.*duplicate date {d[1]} \(index 2\)"):
        io.check_timeseries(path)


def test_date_count_differs_from_slices(tmp_path):
    path = write_timeseries(tmp_path / "timeseries.h5")
    _edit(path, "date", np.array(_dates(path)[:10], np.bytes_))
    with pytest.raises(io.DlaeInputError, match=rf"'date' has shape \(10,\), expected \({NUM_DATE},\)"):
        io.check_timeseries(path)


@pytest.mark.parametrize("bad", [b"2020XX01", b"20200230", b"200101", "20200101T12"])
def test_malformed_date_strings(tmp_path, bad):
    """Fixed-length bytes, and a variable-length str dataset (h5py string dtype)."""
    path = write_timeseries(tmp_path / "timeseries.h5")
    d = _dates(path)
    text = bad.decode() if isinstance(bad, bytes) else bad
    dtype = np.bytes_ if isinstance(bad, bytes) else h5py.string_dtype()
    _edit(path, "date", np.array(d[:3] + [text] + d[4:], dtype))
    with pytest.raises(io.DlaeInputError, match=rf"timeseries.h5: dataset 'date' value b?'{text}' "
                                                r"\(index 3.*not a YYYYMMDD date"):
        io.check_timeseries(path)


def test_integer_dates(tmp_path):
    path = write_timeseries(tmp_path / "timeseries.h5")
    _edit(path, "date", np.array([int(x) for x in _dates(path)], np.int64))
    with pytest.raises(io.DlaeInputError, match=r"'date' value 20200101 \(index 0, dtype int64\)"):
        io.check_timeseries(path)


def test_dates_with_time_of_day_accepted(tmp_path):
    """YYYYMMDDTHHMM and YYYYMMDDTHHMMSS (mintpy.utils.ptime) pass; window names keep the time."""
    path = write_timeseries(tmp_path / "timeseries.h5")
    _edit(path, "date", np.array([x + "T1230" for x in _dates(path)], np.bytes_))
    io.check_timeseries(path)       # MintPy's YYYYMMDDTHHMM form
    _edit(path, "date", np.array([x[:8] + "T123015" for x in _dates(path)], np.bytes_))
    io.check_timeseries(path)       # and YYYYMMDDTHHMMSS
    _edit(path, "date", np.array([x[:8] + "T1230" for x in _dates(path)], np.bytes_))
    names = io.layout_cumulative(tmp_path / "cum.h5", path, [x + "T1230" for x in _dates(path)])
    with h5py.File(tmp_path / "cum.h5", "r") as f:
        assert f["date"][0, 1].decode() == names[0].split("_")[-1]   # not cut to 8 characters


def test_ref_date_not_a_date(tmp_path):
    """docs/usage.md: 'A REF_DATE that is not one of the dates is warned about, and the first date
    is used' -- so it is accepted, read without MintPy's timeseries object (which fails on it), and
    the outputs carry the first date (MintPy tools can read them)."""
    path = _edit(write_timeseries(tmp_path / "timeseries.h5"), REF_DATE="20990101")
    assert io.check_timeseries(path)["REF_DATE"] == "20990101"
    assert io.read_timeseries(path, Box(0, 4, 0, 8)).shape == (NUM_DATE, 4, 8)
    out = io.layout_timeseries(str(tmp_path / "out.h5"), path)
    assert readfile.read_attribute(out)["REF_DATE"] == _dates(path)[0]
    assert readfile.read(out, datasetName="timeseries")[0].shape == (NUM_DATE, LENGTH, WIDTH)


@pytest.mark.parametrize("dtype", [np.int16, np.complex64, bool])
def test_timeseries_not_floating_point(tmp_path, dtype):
    path = write_timeseries(tmp_path / "timeseries.h5")
    _edit(path, "timeseries", np.zeros((NUM_DATE, LENGTH, WIDTH), dtype))
    with pytest.raises(io.DlaeInputError,
                       match=rf"timeseries.h5.*'timeseries' has dtype {np.dtype(dtype)}.*floating point"):
        io.check_timeseries(path)


@pytest.mark.parametrize("key", ["LENGTH", "WIDTH"])
def test_mask_and_geometry_without_size_attributes(tmp_path, key):
    mask = _edit(write_mask(tmp_path / "maskTempCoh.h5"), drop_attrs=[key])
    with pytest.raises(io.DlaeInputError, match=rf"maskTempCoh.h5: attribute {key} is missing.*'mask'"):
        io.check_mask(mask, (LENGTH, WIDTH))
    geom = _edit(write_geometry(tmp_path / "geometryGeo.h5"), drop_attrs=[key])
    with pytest.raises(io.DlaeInputError, match=rf"geometryGeo.h5: attribute {key} is missing.*'height'"):
        io.check_geometry(geom, (LENGTH, WIDTH))


def test_size_attributes_differ_from_mask(tmp_path):
    mask = _edit(write_mask(tmp_path / "maskTempCoh.h5"), WIDTH=WIDTH + 1)
    with pytest.raises(io.DlaeInputError, match=rf"attribute WIDTH = {WIDTH + 1} does not match.*'mask'"):
        io.check_mask(mask, (LENGTH, WIDTH))


def test_geometry_3d_height(tmp_path):
    geom = _edit(write_geometry(tmp_path / "geometryGeo.h5"), "height",
                 np.zeros((2, LENGTH, WIDTH), np.float32))
    with pytest.raises(io.DlaeInputError, match=rf"'height' has shape \(2, {LENGTH}, {WIDTH}\), expected 2D"):
        io.check_geometry(geom, (LENGTH, WIDTH))


def test_timeseries_group_not_dataset(tmp_path):
    path = write_timeseries(tmp_path / "timeseries.h5")
    with h5py.File(path, "a") as f:
        del f["timeseries"]
        f.create_group("timeseries")["data"] = np.zeros((NUM_DATE, LENGTH, WIDTH), np.float32)
    with pytest.raises(io.DlaeInputError, match=r"timeseries.h5: 'timeseries' is an HDF5 group, not a data"):
        io.check_timeseries(path)


@pytest.mark.parametrize("shape", [(0, WIDTH), (LENGTH, 0)])
def test_empty_frame(tmp_path, shape):
    path = _edit(write_timeseries(tmp_path / "timeseries.h5"), "timeseries",
                 np.zeros((NUM_DATE,) + shape, np.float32), LENGTH=shape[0], WIDTH=shape[1])
    with pytest.raises(io.DlaeInputError, match=r"'timeseries' has shape .*empty frame"):
        io.check_timeseries(path)


@pytest.mark.parametrize("ram", [float("nan"), float("inf"), 0, -1, "4"])
def test_plan_row_blocks_bad_memory(ram):
    msg = rf"max_memory \(--ram\) = {re.escape(repr(ram))}: .*positive finite"
    with pytest.raises(io.DlaeInputError, match=msg):
        io.plan_row_blocks(100, 50, 12, max_memory=ram)


def test_orphan_temporaries_of_a_killed_run_are_removed(tmp_path):
    """A temporary output of a process that no longer exists is removed when the next run starts;
    one of a live process (here: this one's parent) is kept."""
    import subprocess
    import sys
    out = tmp_path / "timeseries_DLAE.h5"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    import socket
    host = socket.gethostname()
    orphan = tmp_path / f".timeseries_DLAE.h5.{host}-{dead}.tmp"
    live = tmp_path / f".timeseries_DLAE.h5.{host}-{os.getppid()}.tmp"
    other_host = tmp_path / f".timeseries_DLAE.h5.{host}x-{dead}.tmp"     # another node's run
    other = tmp_path / f".other.h5.{host}-{dead}.tmp"
    for f in (orphan, live, other_host, other):
        f.write_bytes(b"x")
    with io.AtomicOutputs([str(out)]) as tmp:
        assert os.path.basename(tmp[str(out)]) == f".timeseries_DLAE.h5.{host}-{os.getpid()}.tmp"
        with open(tmp[str(out)], "wb") as f:
            f.write(b"new")
    assert not orphan.exists() and out.read_bytes() == b"new"
    assert live.exists() and other_host.exists() and other.exists()


def test_file_type_is_checked_before_the_size(tmp_path):
    """A file that is not a time series and has no LENGTH/WIDTH is named by its FILE_TYPE."""
    path = tmp_path / "velocity.h5"
    with h5py.File(path, "w") as f:
        f["velocity"] = np.zeros((4, 5), np.float32)
        f.attrs["FILE_TYPE"] = "velocity"
    with pytest.raises(io.DlaeInputError, match="FILE_TYPE = 'velocity'"):
        io.check_timeseries(str(path))


def test_a_folder_given_as_an_input_file_is_named(tmp_path):
    """`mintpy_dlae.py inputs` (a folder): said to be a folder, not "file not found"."""
    with pytest.raises(io.DlaeInputError, match=r"is a folder, not a time-series file"):
        io.check_timeseries(str(tmp_path))


def test_outputs_without_the_scales_key_were_one_pass(tmp_path):
    """--update: an output written before mintpy.dlae.scales existed was made with one pass, so it
    matches scales 1 and not 2 (and the change is named)."""
    import h5py
    path = tmp_path / "timeseries_DLAE.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("timeseries", data=np.zeros((2, 3, 3), np.float32))
        f.attrs.update({"FILE_TYPE": "timeseries", "LENGTH": "3", "WIDTH": "3", "mintpy.dlae.model": "fault"})
    assert io.provenance_matches(str(path), {"mintpy.dlae.model": "fault", "mintpy.dlae.scales": "1"})
    assert not io.provenance_matches(str(path), {"mintpy.dlae.model": "fault", "mintpy.dlae.scales": "2"})
    assert io.provenance_changes(str(path), {"mintpy.dlae.scales": "2"}) == [("mintpy.dlae.scales", "1", "2")]
