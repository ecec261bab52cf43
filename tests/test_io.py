"""mintpy_dlae.io against real MintPy files: validation, block reads, atomic round-trip writes."""
import os
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
