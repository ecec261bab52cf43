"""The file-level driver (mintpy_dlae.denoise_file) and mintpy_dlae.py with a stand-in denoiser."""
import hashlib
import os
import shutil

import h5py
import numpy as np
import pytest
from conftest import (NODATA_BOX, NUM_DATE, REF_INDEX, REF_X, REF_Y, assert_same_datasets, fake_denoise,
                      run_in_row_blocks, write_geometry, write_timeseries)
from mintpy.utils import readfile

from mintpy_dlae import denoise_file as run
from mintpy_dlae import io
from mintpy_dlae.boxes import Box
from mintpy_dlae.cli import denoise as cli
from mintpy_dlae.config import DlaeConfig


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_output_names():
    names = run.output_files(os.path.join("work", "timeseries_ERA5.h5"))
    assert names == {"timeseries": os.path.join("work", "timeseries_ERA5_DLAE.h5"),
                     "cumulative": os.path.join("work", "cumulative_ERA5_DLAE.h5"),
                     "variance": os.path.join("work", "timeseriesVar_ERA5_DLAE.h5"),
                     "removed": os.path.join("work", "timeseriesRemoved_ERA5_DLAE.h5")}
    # an -o name without "timeseries": the products start with cumulative_ / timeseriesRemoved_
    assert run.output_files("ts.h5", "out.h5") == {
        "timeseries": "out.h5", "cumulative": "cumulative_out.h5",
        "variance": "timeseriesVar_out.h5", "removed": "timeseriesRemoved_out.h5"}
    assert run.output_files("ts.h5", os.path.join("d", "ts_dlae.h5"))["cumulative"] == \
        os.path.join("d", "cumulative_ts_dlae.h5")
    # the extra products stay out of smallbaselineApp's `timeseries_*.h5` glob
    import fnmatch
    for key in ("cumulative", "variance", "removed"):
        assert not fnmatch.fnmatch(os.path.basename(names[key]), "timeseries_*.h5")


def test_run_outputs(project, fake_denoiser):
    cfg = DlaeConfig(save_removed=True, mask_file=None)
    before = sha(project.ts)
    out = run.run_dlae(project.ts, project.geom, cfg, progress=False)
    assert sha(project.ts) == before
    ts_in, atr_in = readfile.read(project.ts)
    ts_out, atr_out = readfile.read(out["timeseries"])
    # metadata: the input's, plus provenance
    extra = {k: v for k, v in atr_out.items() if k not in atr_in}
    assert set(extra) >= {"mintpy.dlae.model", "mintpy.dlae.modelSha256", "mintpy.dlae.version"}
    assert all(k.startswith("mintpy.dlae") for k in extra)
    assert {k: atr_out[k] for k in atr_in if k != "FILE_PATH"} == \
        {k: v for k, v in atr_in.items() if k != "FILE_PATH"}
    # references and no-data as in the input
    assert np.all(ts_out[REF_INDEX] == 0)
    assert np.all(ts_out[:, REF_Y, REF_X] == 0)
    assert np.all(ts_out[(slice(None),) + NODATA_BOX] == 0) and np.isfinite(ts_out).all()
    # removed = input - output
    removed = readfile.read(out["removed"])[0]
    np.testing.assert_allclose(removed, ts_in - ts_out, atol=1e-6)
    # output = denoiser result re-referenced the way MintPy does
    fed = ts_in.copy()
    fed[:, REF_Y, REF_X] = run.REF_PIXEL_VALUE   # the reference pixel is data, not no-data
    expect = fake_denoise(fed, np.zeros(ts_in.shape[1:])).timeseries
    expect = expect - expect[REF_INDEX]
    expect = expect - expect[:, REF_Y:REF_Y + 1, REF_X:REF_X + 1]
    valid = np.ones(ts_in.shape[1:], bool)
    valid[NODATA_BOX] = False
    np.testing.assert_allclose(ts_out[:, valid], expect[:, valid], atol=1e-6)
    # cumulative maps, labelled by their windows
    slices = readfile.get_slice_list(out["cumulative"])
    names = [n for n in slices if n.startswith("cumulative_")]
    assert len(names) == NUM_DATE - 8 and names[0].startswith("cumulative_20200101_")
    assert sorted(slices) == sorted(names + io.std_names(names) + io.significance_names(names))
    cum = readfile.read(out["cumulative"], datasetName=names[1])[0]
    assert cum[REF_Y, REF_X] == 0 and np.isnan(cum[NODATA_BOX]).all()
    # uncertainty: per-window std (m) and significance (1) maps, the series' variance (m^2)
    std, atr = readfile.read(out["cumulative"], datasetName=io.std_names(names)[1])
    sig, atr_sig = readfile.read(out["cumulative"], datasetName=io.significance_names(names)[1])
    assert atr["UNIT"] == "m" and atr_sig["UNIT"] == "1"
    assert np.isnan(std[NODATA_BOX]).all() and np.isnan(sig[NODATA_BOX]).all()
    ok = np.isfinite(std)
    assert ok.sum() == std.size - 9 and (std[ok] > 0).all()
    np.testing.assert_allclose(sig[ok], np.abs(cum[ok]) / std[ok], rtol=1e-5)
    var, atr_var = readfile.read(out["variance"])
    assert atr_var["FILE_TYPE"] == "timeseries" and atr_var["UNIT"] == "m^2"
    assert var.shape == ts_out.shape and np.isnan(var[(slice(None),) + NODATA_BOX]).all()
    assert np.all(var[REF_INDEX][valid] == 0) and np.all(var[:, REF_Y, REF_X] == 0)
    # relative to REF_DATE: |V[t] - V[ref]| of the stand-in's std (relative to the first date)
    std_ts = fake_denoise(fed, np.zeros(ts_in.shape[1:])).timeseries_std.astype(np.float64) ** 2
    expect_var = np.abs(std_ts - std_ts[REF_INDEX])
    pix = valid.copy()
    pix[REF_Y, REF_X] = False
    np.testing.assert_allclose(var[:, pix], expect_var[:, pix], rtol=1e-4, atol=1e-12)


def test_mask_gives_nodata(project, fake_denoiser):
    out = run.run_dlae(project.ts, project.geom, DlaeConfig(mask_file=project.mask),
                       progress=False)
    ts_out, atr = readfile.read(out["timeseries"])
    assert np.all(ts_out[:, 20:24, 20:26] == 0)           # masked -> MintPy no-data (0)
    assert np.all(np.delete(ts_out[:, 26, 27], REF_INDEX) != 0)
    assert atr["mintpy.dlae.maskFile"] == "maskTempCoh.h5"


def test_nan_nodata_kept(tmp_path, fake_denoiser):
    ts = write_timeseries(tmp_path / "timeseries.h5", nan_nodata=True)
    geom = write_geometry(tmp_path / "geometryGeo.h5")
    out = run.run_dlae(ts, geom, DlaeConfig(save_cumulative=False), progress=False)
    data = readfile.read(out["timeseries"])[0]
    assert np.isnan(data[(slice(None),) + NODATA_BOX]).all()
    assert np.isfinite(data[:, 5:, 5:]).all()
    assert not os.path.exists(run.output_files(ts)["cumulative"])


def test_blocks_equal_whole_image(project, fake_denoiser, tmp_path):
    """Many small row blocks (tiny --ram) give exactly the single-block result."""
    whole = run.run_dlae(project.ts, project.geom, DlaeConfig(), progress=False,
                         out_file=str(tmp_path / "whole.h5"))
    assert len(io.plan_row_blocks(32, 32, NUM_DATE, 2e-5, 1, min_rows=4)) > 1
    tiled = run_in_row_blocks(run.run_dlae, project.ts, project.geom, DlaeConfig(), tmp_path / "tiled.h5")
    assert_same_datasets(whole, tiled)


def test_update_mode(project, fake_denoiser, caplog):
    cfg = DlaeConfig(mask_file=None)
    out = run.run_dlae(project.ts, project.geom, cfg, progress=False)
    assert run.run_dlae(project.ts, project.geom, cfg, update=True, progress=False) is None
    # inputs at t=0, outputs at t=1000 (still newer than the inputs): a rewrite must move the mtime
    for path in (project.ts, project.geom, project.mask):
        os.utime(path, (0, 0))
    for path in out.values():
        os.utime(path, (1000, 1000))
    assert run.run_dlae(project.ts, project.geom, cfg, update=True, progress=False) is None   # still up to date
    assert os.path.getmtime(out["timeseries"]) == 1000
    cfg2 = DlaeConfig(mask_file=project.mask)  # changed option -> run again, saying which one
    with caplog.at_level("INFO", logger="mintpy_dlae"):
        assert run.run_dlae(project.ts, project.geom, cfg2, update=True, progress=False)
    assert "mintpy.dlae.maskFile: no -> maskTempCoh.h5" in caplog.text and "run again" in caplog.text
    assert os.path.getmtime(out["timeseries"]) > 1000
    assert readfile.read_attribute(out["timeseries"])["mintpy.dlae.maskFile"] == "maskTempCoh.h5"


def test_update_says_why_it_runs_again(project, fake_denoiser, caplog):
    """--update after the input changed: the log names the newer input."""
    out = run.run_dlae(project.ts, project.geom, DlaeConfig(), progress=False)
    for path in (project.ts, project.geom, project.mask):
        os.utime(path, (0, 0))
    os.utime(out["timeseries"], (1000, 1000))
    os.utime(project.ts, (2000, 2000))
    with caplog.at_level("INFO", logger="mintpy_dlae"):
        assert run.run_dlae(project.ts, project.geom, DlaeConfig(), update=True, progress=False)
    assert f"{project.ts} is newer than {out['timeseries']}: run again" in caplog.text


def test_update_compares_the_input_files(project, fake_denoiser, caplog):
    """--update reruns when the output was made from another series, geometry or mask file, even
    an older one or one of the same name in another folder (mintpy.dlae.inputPaths, relative to the
    output's folder); a project moved as a whole still skips."""
    out_file = str(project.dir / "timeseries_DLAE.h5")
    other = project.dir / "other"
    other.mkdir()
    shutil.copy2(project.ts, project.dir / "timeseries_demErr.h5")
    shutil.copy2(project.geom, other / "geometryGeo.h5")
    shutil.copy2(project.mask, other / "maskTempCoh.h5")
    cfg = DlaeConfig(mask_file=project.mask)
    run.run_dlae(project.ts, project.geom, cfg, out_file=out_file, progress=False)
    assert readfile.read_attribute(out_file)["mintpy.dlae.inputPaths"] == (
        "timeseries_ERA5.h5;geometryGeo.h5;maskTempCoh.h5")
    for path in (project.dir / "timeseries_demErr.h5", other / "geometryGeo.h5", other / "maskTempCoh.h5"):
        os.utime(path, (0, 0))                   # older than the output: the mtimes alone would skip
    cases = [(str(project.dir / "timeseries_demErr.h5"), project.geom, cfg, "timeseries_demErr.h5;"),
             (project.ts, str(other / "geometryGeo.h5"), cfg, ";other/geometryGeo.h5;"),
             (project.ts, project.geom, DlaeConfig(mask_file=str(other / "maskTempCoh.h5")), ";other/maskTempCoh.h5")]
    for ts, geom, c, changed in cases:
        mtime = os.path.getmtime(out_file)
        caplog.clear()
        with caplog.at_level("INFO", logger="mintpy_dlae"):
            assert run.run_dlae(ts, geom, c, update=True, out_file=out_file, progress=False)
        assert "mintpy.dlae.inputPaths" in caplog.text and changed in caplog.text
        assert os.path.getmtime(out_file) >= mtime
    # back to the first inputs, then the whole project moved: skip
    run.run_dlae(project.ts, project.geom, cfg, out_file=out_file, force=True, progress=False)
    moved = project.dir.parent / (project.dir.name + "_moved")
    shutil.copytree(project.dir, moved)
    cfg_moved = DlaeConfig(mask_file=str(moved / "maskTempCoh.h5"))
    assert run.run_dlae(str(moved / "timeseries_ERA5.h5"), str(moved / "geometryGeo.h5"), cfg_moved,
                        update=True, out_file=str(moved / "timeseries_DLAE.h5"), progress=False) is None


def test_update_compares_the_copies_used(project, fake_denoiser):
    """--update compares the number of symmetric copies a run used, not the option's text: 'auto'
    resolves to 8 on this small frame, so after an explicit 8 it skips; 1 copy reruns."""
    out = run.run_dlae(project.ts, project.geom, DlaeConfig(augment="8"), progress=False)
    assert readfile.read_attribute(out["timeseries"])["mintpy.dlae.augmentCopies"] == "8"
    assert run.run_dlae(project.ts, project.geom, DlaeConfig(augment="auto"), update=True, progress=False) is None
    assert run.run_dlae(project.ts, project.geom, DlaeConfig(augment="1"), update=True, progress=False)
    assert readfile.read_attribute(out["timeseries"])["mintpy.dlae.augmentCopies"] == "1"



def test_calibrate_is_retired(project, fake_denoiser, monkeypatch, caplog, tmp_path):
    """Old templates and scripts still run: mintpy.dlae.calibrate and --no-calibrate are accepted,
    warned about and ignored; denoise() is called with the frame's scale and a box, no calibrate."""
    seen = []

    def denoise(*args, **kwargs):
        seen.append(kwargs)
        return fake_denoise(*args, **kwargs)

    monkeypatch.setattr(fake_denoiser, "denoise", denoise)
    (tmp_path / "old.txt").write_text("mintpy.dlae = yes\nmintpy.dlae.calibrate = no\n")
    with caplog.at_level("WARNING", logger="mintpy_dlae"):
        assert cli.main([project.ts, "-g", project.geom, "-t", str(tmp_path / "old.txt"),
                         "--no-calibrate", "--no-progress"]) is None
    assert "mintpy.dlae.calibrate = no is obsolete and ignored" in caplog.text
    assert "--no-calibrate is obsolete and ignored" in caplog.text
    assert seen and all("calibrate" not in k for k in seen)
    assert all(k["scale"].shape == (NUM_DATE - 8,) and len(k["box"]) == 4 for k in seen)
    out = run.output_files(project.ts)["timeseries"]
    assert "mintpy.dlae.calibrate" not in readfile.read_attribute(out)


# ---------------------------------------------------------------------------- CLI errors
def _files(folder):
    return sorted(f for f in os.listdir(folder) if os.path.isfile(os.path.join(folder, f)))


@pytest.mark.parametrize("case", ["missing", "file_type", "few_dates", "radian", "no_height",
                                  "shape", "mask_shape", "exists", "read_only", "bad_model",
                                  "not_a_model", "model_extension", "output_folder", "output_not_h5",
                                  "mask_not_binary"])
def test_cli_errors(project, fake_denoiser, monkeypatch, case, capsys):
    d = project.dir
    args = [project.ts, "-g", project.geom]
    expect = None
    if case == "missing":
        args[0], expect = str(d / "timeseries_nope.h5"), "time-series file not found"
    elif case == "file_type":
        args[0], expect = project.geom, "FILE_TYPE = 'geometry'"
    elif case == "few_dates":
        args[0] = write_timeseries(d / "timeseries_short.h5", num_date=8)
        expect = "has 8 dates"
    elif case == "radian":
        args[0] = write_timeseries(d / "timeseries_rad.h5", unit="radian")
        expect = "UNIT = 'radian'"
    elif case == "no_height":
        args[2], expect = write_geometry(d / "geometryRadar.h5", height=False), "'height' not found"
    elif case == "shape":
        args[2], expect = write_geometry(d / "geometryRadar.h5", length=30), "has shape (30, 32)"
    elif case == "mask_shape":
        from conftest import write_mask
        args += ["-m", write_mask(d / "waterMask.h5", width=31, name="waterMask")]
        expect = "'waterMask' has shape (32, 31)"
    elif case == "exists":
        (d / "timeseries_ERA5_DLAE.h5").write_bytes(b"old")
        expect = "output file exists"
    elif case == "read_only":
        monkeypatch.setattr(io.os, "access", lambda path, mode: False)
        expect = "is read-only"
    elif case == "bad_model":
        args += ["--model", str(d / "nope.keras")]
        expect = "model file not found"
    elif case == "not_a_model":
        (d / "junk.keras").write_text("not a model")
        args += ["--model", str(d / "junk.keras")]
        expect = "not a mintpy_dlae model"
    elif case == "model_extension":          # an HDF5 file given as the model: this error, no other word first
        args += ["--model", project.geom]
        expect = "not a mintpy_dlae model"
    elif case == "output_folder":
        (d / "out").mkdir()
        args += ["-o", str(d / "out"), "--force"]
        expect = "output is a folder"
        # nothing written inside the folder either (checked below for the files next to it)
    elif case == "output_not_h5":
        args += ["-o", str(d / "out.txt")]
        expect = "must be an HDF5 file ending in .h5"
    elif case == "mask_not_binary":           # temporal coherence given as the mask
        from conftest import write_mask
        path = write_mask(d / "temporalCoherence.h5", name="temporalCoherence")
        with h5py.File(path, "a") as f:
            del f["temporalCoherence"]
            f["temporalCoherence"] = np.linspace(0.1, 1.0, 32 * 32, dtype=np.float32).reshape(32, 32)
        args += ["-m", path]
        expect = "has no 'mask' or 'waterMask' dataset, and its dataset 'temporalCoherence' holds float32 values other than 0 and 1, not a mask"
    before = {f: sha(d / f) for f in _files(d)}
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    assert exc.value.code not in (0, None)
    assert expect in str(exc.value.code), exc.value.code
    assert str(exc.value.code).startswith("ERROR: ")
    assert "WARNING" not in capsys.readouterr().err           # the error is the only word
    assert {f: sha(d / f) for f in _files(d)} == before   # no partial output, inputs untouched
    if case == "output_folder":
        assert os.listdir(d / "out") == []


def test_cli_runs(project, fake_denoiser, capsys):
    assert cli.main([project.ts, "-g", project.geom, "--save-removed", "--no-progress"]) is None
    names = run.output_files(project.ts)
    assert all(os.path.isfile(p) for p in names.values())
    assert "Done" in capsys.readouterr().out
    mtime = os.path.getmtime(names["timeseries"])
    cli.main([project.ts, "-g", project.geom, "--update", "--save-removed"])
    assert "Done" not in capsys.readouterr().out and os.path.getmtime(names["timeseries"]) == mtime
    cli.main([project.ts, "-g", project.geom, "--force", "--no-cumulative"])
    assert "Done" in capsys.readouterr().out


@pytest.mark.parametrize("layout", ["radar", "geo", "geo_folder", "wrong_size_first"])
def test_cli_finds_geometry(tmp_path, fake_denoiser, capsys, layout):
    """Without -g: inputs/geometryRadar.h5, inputs/geometryGeo.h5, geo/geo_geometry*.h5 for a
    file in geo/; the first whose size matches; the file used is printed."""
    (tmp_path / "inputs").mkdir()
    ts = write_timeseries(tmp_path / "timeseries.h5")
    if layout == "radar":
        expect = write_geometry(tmp_path / "inputs" / "geometryRadar.h5")
        write_geometry(tmp_path / "inputs" / "geometryGeo.h5")
    elif layout == "geo":
        expect = write_geometry(tmp_path / "inputs" / "geometryGeo.h5")
    elif layout == "geo_folder":
        (tmp_path / "geo").mkdir()
        write_geometry(tmp_path / "inputs" / "geometryRadar.h5", length=40)
        expect = write_geometry(tmp_path / "geo" / "geo_geometryRadar.h5")
        ts = write_timeseries(tmp_path / "geo" / "geo_timeseries.h5")
    else:
        write_geometry(tmp_path / "inputs" / "geometryRadar.h5", length=40, width=50)
        expect = write_geometry(tmp_path / "inputs" / "geometryGeo.h5")
    inps = cli.cmd_line_parse([ts])
    assert cli.resolve_geometry(inps) == expect
    assert os.path.relpath(expect) in capsys.readouterr().out
    assert cli.main([ts, "--no-progress"]) is None
    assert readfile.read_attribute(run.output_files(ts)["timeseries"])["FILE_TYPE"] == "timeseries"


def test_cli_no_geometry_found(tmp_path, fake_denoiser):
    ts = write_timeseries(tmp_path / "timeseries.h5")
    with pytest.raises(SystemExit) as exc:
        cli.main([ts])
    msg = str(exc.value.code)
    assert msg.startswith("ERROR: ") and "no geometry file given (-g)" in msg
    assert "geometryRadar.h5" in msg and "geometryGeo.h5" in msg


def test_cli_file_type_checked_first(tmp_path, fake_denoiser):
    """An ifgramStack.h5 as input: the error is about its FILE_TYPE, not a missing geometry."""
    from mintpy.utils import writefile
    (tmp_path / "inputs").mkdir()
    stack = str(tmp_path / "inputs" / "ifgramStack.h5")
    writefile.write({"unwrapPhase": np.zeros((3, 8, 8), np.float32),
                     "date": np.array([[b"20200101", b"20200113"]] * 3)}, out_file=stack,
                    metadata={"FILE_TYPE": "ifgramStack", "LENGTH": 8, "WIDTH": 8},
                    print_msg=False)
    with pytest.raises(SystemExit) as exc:
        cli.main([stack])
    msg = str(exc.value.code)
    assert "FILE_TYPE = 'ifgramStack'" in msg and "geometry" not in msg.split("(")[0]


def test_ram_is_formatted(project, fake_denoiser, capsys):
    assert run.format_gb(4) == "4.0 GB" and run.format_gb(0.25) == "0.2 GB"
    assert run.format_gb(0.05) == "0.05 GB" and run.format_gb(0.004) == "0.004 GB"
    cli.main([project.ts, "-g", project.geom, "--ram", "0.02", "--no-progress"])
    out = capsys.readouterr().out
    assert "within 0.02 GB" in out and "0.0 GB" not in out


def _stop_after_first_block(monkeypatch, fake_denoiser, stop):
    """Three row blocks; ``stop()`` is called when the second block starts (the reference box and
    the first block are done)."""
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) > 2:
            stop()
        return fake_denoise(*args, **kwargs)

    monkeypatch.setattr(fake_denoiser, "denoise", flaky)
    monkeypatch.setattr(io, "plan_row_blocks",
                        lambda *a, **k: [Box(0, 10, 0, 32), Box(10, 20, 0, 32), Box(20, 32, 0, 32)])


def _interrupt():
    raise KeyboardInterrupt


def test_interrupted_run_leaves_no_output(project, fake_denoiser, monkeypatch):
    """A failure after some blocks are written leaves neither outputs nor temporary files."""
    _stop_after_first_block(monkeypatch, fake_denoiser, _interrupt)
    before = {f: sha(project.dir / f) for f in _files(project.dir)}
    with pytest.raises(KeyboardInterrupt):
        run.run_dlae(project.ts, project.geom, DlaeConfig(save_removed=True), progress=False)
    assert {f: sha(project.dir / f) for f in _files(project.dir)} == before


def test_precision_used_is_recorded(project, fake_denoiser, monkeypatch):
    """'auto' precision is written as what this CPU resolved it to, next to the option's text."""
    from mintpy_dlae import config
    for bf16, expect in ((True, "bfloat16"), (False, "float32")):
        monkeypatch.setattr(config, "cpu_supports_bf16", lambda: bf16)
        out = run.run_dlae(project.ts, project.geom, DlaeConfig(precision="auto"), force=True, progress=False)
        atr = readfile.read_attribute(out["timeseries"])
        assert (atr["mintpy.dlae.precision"], atr["mintpy.dlae.precisionUsed"]) == ("auto", expect)


def test_inf_values_are_missing_values(project, fake_denoiser, caplog):
    """+-inf in the input is a missing value like NaN: filled for the network, written as NaN on
    that date only; the pixel keeps its series on the other dates."""
    with h5py.File(project.ts, "a") as f:
        f["timeseries"][5, 20, 7] = np.inf
        f["timeseries"][6, 21, 8] = -np.inf
    with caplog.at_level("WARNING", logger="mintpy_dlae"):
        out = run.run_dlae(project.ts, project.geom, DlaeConfig(), progress=False)
    data = readfile.read(out["timeseries"])[0]
    assert np.isnan(data[5, 20, 7]) and np.isnan(data[6, 21, 8])
    others = np.delete(data[:, 20, 7], [5, REF_INDEX])
    assert np.isfinite(others).all() and np.all(others != 0)
    assert "2 missing (NaN, inf, fill or spike) values" in caplog.text


def test_pixels_without_height_are_left_out(tmp_path, fake_denoiser, caplog):
    """NaN heights: those pixels are no-data in the outputs, with a count in the log; NaN on every
    pixel with data is an error naming the dataset."""
    ts = write_timeseries(tmp_path / "timeseries.h5")
    geom = write_geometry(tmp_path / "geometryGeo.h5")
    with h5py.File(geom, "a") as f:
        f["height"][10:13, 14:17] = np.nan
    with caplog.at_level("WARNING", logger="mintpy_dlae"):
        out = run.run_dlae(ts, geom, DlaeConfig(save_cumulative=False), progress=False)
    data = readfile.read(out["timeseries"])[0]
    assert np.all(data[:, 10:13, 14:17] == 0)                 # MintPy's no-data of this file
    assert np.all(np.delete(data[:, 13, 16], REF_INDEX) != 0)
    assert "'height' is NaN (or inf, or a DEM void below -1000 m) on 9 pixel(s) with data" in caplog.text
    with h5py.File(geom, "a") as f:
        f["height"][:] = np.nan
    with pytest.raises(io.DlaeInputError,
                       match=r"'height' is NaN \(or inf, or a DEM void below -1000 m\) on every pixel with data"):
        run.run_dlae(ts, geom, DlaeConfig(), progress=False, force=True)


def test_force_removes_the_earlier_runs_other_products(project, fake_denoiser):
    """A rerun that writes fewer products removes the earlier run's others (they would describe
    another run); a file of the same name that is not this package's is left alone."""
    first = run.run_dlae(project.ts, project.geom, DlaeConfig(save_removed=True), progress=False)
    assert set(first) == {"timeseries", "cumulative", "variance", "removed"}
    second = run.run_dlae(project.ts, project.geom, DlaeConfig(save_cumulative=False, save_uncertainty=False),
                          progress=False, force=True)
    assert set(second) == {"timeseries"}
    for key in ("cumulative", "variance", "removed"):
        assert not os.path.exists(first[key]), key
    foreign = run.output_files(project.ts)["removed"]
    with h5py.File(foreign, "w") as f:
        f["x"] = np.zeros(3)
    run.run_dlae(project.ts, project.geom, DlaeConfig(save_cumulative=False, save_uncertainty=False),
                 progress=False, force=True)
    assert os.path.exists(foreign)


@pytest.mark.parametrize("how", ["sigterm", "ctrl_c"])
def test_cli_interrupted_cleans_up(project, fake_denoiser, monkeypatch, how, capsys):
    """SIGTERM (timeout, a batch system's wall-time limit) and Ctrl-C during writing: exit status
    128 + signal number, a one-line message, no output and no temporary file left."""
    import signal
    sigterm = lambda: os.kill(os.getpid(), signal.SIGTERM)     # noqa: E731
    _stop_after_first_block(monkeypatch, fake_denoiser, sigterm if how == "sigterm" else _interrupt)
    before = {f: sha(project.dir / f) for f in _files(project.dir)}
    old = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(SystemExit) as exc:
            cli.main([project.ts, "-g", project.geom, "--save-removed"])
    finally:
        signal.signal(signal.SIGTERM, old)
    assert exc.value.code == (143 if how == "sigterm" else 130)
    assert signal.getsignal(signal.SIGTERM) is old            # main() put the handler back
    assert {f: sha(project.dir / f) for f in _files(project.dir)} == before
    assert not [f for f in os.listdir(project.dir) if f.endswith(".tmp")]
    err = capsys.readouterr().err
    assert ("interrupted" if how == "ctrl_c" else "terminated (SIGTERM)") + ": no output written" in err


def test_pixel_spacing_from_attributes():
    """Ground spacing from MintPy attributes, against published lengths of a degree on the WGS84
    ellipsoid (1 deg of latitude: 110,574 m at the equator, 111,132 m at 45 deg; 1 deg of longitude:
    111,320 m at the equator, 78,847 m at 45 deg; e.g. the table "Length of a degree" in
    Wikipedia's "Latitude" article) and a hand computation for radar coordinates."""
    def geo(lat, step=0.001):
        return {"LENGTH": 2, "WIDTH": 2, "X_FIRST": 10.0, "Y_FIRST": lat + step, "X_STEP": step,
                "Y_STEP": -step, "X_UNIT": "degrees", "Y_UNIT": "degrees"}
    np.testing.assert_allclose(io.pixel_spacing(geo(0.0)), (110.574, 111.320), rtol=2e-4)
    np.testing.assert_allclose(io.pixel_spacing(geo(45.0)), (111.132, 78.847), rtol=2e-4)
    utm = {"LENGTH": 2, "WIDTH": 2, "X_FIRST": 5e5, "Y_FIRST": 4e6, "X_STEP": 30.0, "Y_STEP": -30.0,
           "X_UNIT": "meters", "Y_UNIT": "meters"}
    assert io.pixel_spacing(utm) == (30.0, 30.0)
    radar = {"RANGE_PIXEL_SIZE": "2.33", "AZIMUTH_PIXEL_SIZE": "14.1", "CENTER_INCIDENCE_ANGLE": "34.0"}
    np.testing.assert_allclose(io.pixel_spacing(radar), (14.1, 2.33 / 0.559193), rtol=1e-5)
    no_unit = {k: v for k, v in utm.items() if not k.endswith("_UNIT")}      # metres told by the step
    assert io.pixel_spacing(no_unit) == (30.0, 30.0)
    assert io.pixel_spacing(dict(radar, CENTER_INCIDENCE_ANGLE="nan")) is None
    assert io.pixel_spacing({"LENGTH": 2, "WIDTH": 2}) is None
    assert io.pixel_spacing({"RANGE_PIXEL_SIZE": "x", "AZIMUTH_PIXEL_SIZE": "1",
                             "CENTER_INCIDENCE_ANGLE": "30"}) is None


def test_pixel_size_outside_training_is_warned(tmp_path, fake_denoiser, caplog):
    """The test frame's 0.0027 deg (about 290 m) pixels are outside the 20-120 m of training: one
    warning that names the file, and the spacing in the outputs' attributes; 0.0005 deg (about
    55 m) gives none."""
    ts = write_timeseries(tmp_path / "timeseries.h5")
    geom = write_geometry(tmp_path / "geometryGeo.h5")
    with caplog.at_level("WARNING", logger="mintpy_dlae"):
        out = run.run_dlae(ts, geom, DlaeConfig(save_cumulative=False), progress=False)
    # by hand at the frame's centre (19.46 N): 0.0027 deg x 110,705 m and x 105,001 m per degree
    assert "pixel spacing 299 x 28" in caplog.text and "timeseries.h5" in caplog.text
    assert "multilook" not in caplog.text           # coarser than training: multilooking cannot help
    dy, _, dx, _ = readfile.read_attribute(out["timeseries"])["mintpy.dlae.pixelSize"].split()
    assert abs(float(dy) - 298.9) <= 0.5 and abs(float(dx) - 283.5) <= 0.5
    caplog.clear()
    for path in (ts, geom):
        with h5py.File(path, "a") as f:
            f.attrs["X_STEP"], f.attrs["Y_STEP"] = "0.0005", "-0.0005"
    with caplog.at_level("WARNING", logger="mintpy_dlae"):
        run.run_dlae(ts, geom, DlaeConfig(save_cumulative=False), progress=False, force=True)
    assert "pixel spacing" not in caplog.text
    caplog.clear()
    for path in (ts, geom):             # 0.0001 deg (about 11 m): finer than training, multilook it
        with h5py.File(path, "a") as f:
            f.attrs["X_STEP"], f.attrs["Y_STEP"] = "0.0001", "-0.0001"
    with caplog.at_level("WARNING", logger="mintpy_dlae"):
        run.run_dlae(ts, geom, DlaeConfig(save_cumulative=False), progress=False, force=True)
    assert "pixel spacing 11 x 10" in caplog.text and "multilook.py" in caplog.text    # 11.07 x 10.50 m


def test_bfloat16_without_cpu_support_is_warned(project, fake_denoiser, caplog, monkeypatch):
    """--precision bfloat16 where the CPU has neither AVX512-BF16 nor AMX: a warning (TensorFlow
    emulates it, several times slower); 'auto' resolves to float32 there without one."""
    monkeypatch.setattr(run, "cpu_supports_bf16", lambda: False)
    with caplog.at_level("WARNING", logger="mintpy_dlae"):
        run.run_dlae(project.ts, project.geom, DlaeConfig(precision="bfloat16", save_cumulative=False),
                     progress=False)
    assert "precision bfloat16 on a CPU without AVX512-BF16 or AMX" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="mintpy_dlae"):
        run.run_dlae(project.ts, project.geom, DlaeConfig(precision="auto", save_cumulative=False),
                     progress=False, force=True)
    assert "precision bfloat16" not in caplog.text


@pytest.mark.parametrize("fill", [-9999.0, 3e38])
def test_fill_values_are_missing_values(project, fake_denoiser, caplog, fill):
    """Values beyond +-100 m (a -9999 fill, FLT_MAX) are missing values exactly as NaN are: the
    outputs equal those of the same file with NaN there, with a warning naming the count and the
    largest magnitude; no value of the file is spread over its neighbours. At the fill values
    themselves the series and its variance hold the denoised estimate (the NaN file: NaN), so that
    MintPy's tools, which stop at a NaN, run on the output."""
    with h5py.File(project.ts, "a") as f:
        data = f["timeseries"][()]
    rows = slice(24, 28)                       # a strip on three dates, away from the reference
    for path, value in ((project.ts, fill), (project.ts.replace(".h5", "_nan.h5"), np.nan)):
        if path != project.ts:
            import shutil
            shutil.copy(project.ts, path)
        with h5py.File(path, "a") as f:
            d = data.copy()
            d[[4, 5, 6], rows] = value
            f["timeseries"][()] = d
    with caplog.at_level("WARNING", logger="mintpy_dlae"):
        out = run.run_dlae(project.ts, project.geom, DlaeConfig(), progress=False)
    assert f"beyond +-100 m (up to {abs(fill):g} m" in caplog.text
    assert f"{3 * 4 * data.shape[2]} value(s)" in caplog.text
    ref = run.run_dlae(project.ts.replace(".h5", "_nan.h5"), project.geom, DlaeConfig(), progress=False)
    at = np.zeros(data.shape, bool)
    at[[4, 5, 6], rows] = True
    for key in ("timeseries", "cumulative", "variance"):
        got, want = readfile.read(out[key])[0], readfile.read(ref[key])[0]
        if key == "cumulative":        # no window begins or ends on dates 4-6
            np.testing.assert_array_equal(got, want)
            continue
        np.testing.assert_array_equal(got[~at], want[~at])
        assert np.isnan(want[at]).all() and np.isfinite(got[at]).all()
    assert np.abs(readfile.read(out["timeseries"])[0][at]).max() < 1.0


def test_values_in_millimetres_are_refused(project, fake_denoiser, caplog):
    """A series written in mm under UNIT = m (changes of tens of 'metres' between dates) is an error
    that says so, before its strongest real values could be taken for fill values (none is
    reported as one); the same series in metres runs."""
    run.run_dlae(project.ts, project.geom, DlaeConfig(save_cumulative=False), progress=False)
    with h5py.File(project.ts, "a") as f:
        f["timeseries"][()] = f["timeseries"][()] * 1000.0
    with caplog.at_level("WARNING", logger="mintpy_dlae"):
        with pytest.raises(io.DlaeInputError, match=r"timeseries_ERA5.h5: dataset .timeseries. changes from date to "
                                                     r"date by .* m .* look like mm"):
            run.run_dlae(project.ts, project.geom, DlaeConfig(save_cumulative=False), progress=False, force=True)
    assert "fill values" not in caplog.text


def test_output_through_a_link_to_the_input_is_refused(project, tmp_path):
    """An input read through a symbolic link and written back under its real name (or the reverse)
    is one file: refused before anything is written; the input is unchanged."""
    link = tmp_path / "ts_link.h5"
    os.symlink(project.ts, link)
    before = sha(project.ts)
    with pytest.raises(io.DlaeInputError, match="through a symbolic link"):
        run.run_dlae(str(link), project.geom, DlaeConfig(), out_file=project.ts, force=True, progress=False)
    with pytest.raises(io.DlaeInputError, match="through a symbolic link"):
        run.run_dlae(project.ts, project.geom, DlaeConfig(), out_file=str(link), update=True, progress=False)
    assert sha(project.ts) == before


def test_dem_voids_are_missing_heights(tmp_path, fake_denoiser, caplog):
    """A DEM void (-32768, SRTM's) is no height: those pixels are left out as with NaN heights, and
    the rest of the output equals that of the NaN version."""
    ts = write_timeseries(tmp_path / "timeseries.h5")
    outs = []
    for value in (-32768.0, np.nan):
        geom = write_geometry(tmp_path / f"geometry_{len(outs)}.h5")
        with h5py.File(geom, "a") as f:
            f["height"][10:13, 14:17] = value
        with caplog.at_level("WARNING", logger="mintpy_dlae"):
            outs.append(run.run_dlae(ts, geom, DlaeConfig(save_cumulative=False), progress=False,
                                     out_file=str(tmp_path / f"out_{len(outs)}.h5")))
    assert caplog.text.count("DEM void below -1000 m) on 9 pixel(s) with data") == 2
    void, nan = (readfile.read(o["timeseries"])[0] for o in outs)
    assert np.all(void[:, 10:13, 14:17] == 0)
    np.testing.assert_array_equal(void, nan)


def test_output_folder_name_is_refused(project, tmp_path):
    """-o given as a folder (existing or not, with a trailing slash): an error that asks for a file
    name, before anything is written."""
    for out in (str(tmp_path / "newdir") + os.sep, str(tmp_path)):
        with pytest.raises(io.DlaeInputError, match="output is a folder; give a file name such as"):
            run.run_dlae(project.ts, project.geom, DlaeConfig(), out_file=out, progress=False)
    assert not (tmp_path / "newdir").exists()


def test_outputs_take_the_input_compression(project, fake_denoiser, tmp_path):
    """A gzip-compressed input gives gzip-compressed outputs with the same values as an
    uncompressed one (MintPy's own time series, whose outputs stay uncompressed)."""
    from mintpy.utils import writefile
    data, atr = readfile.read(project.ts)
    with h5py.File(project.ts, "r") as f:
        dates, bperp = f["date"][:], f["bperp"][:]
    packed = str(tmp_path / "packed" / "timeseries_ERA5.h5")
    os.makedirs(os.path.dirname(packed))
    writefile.write({"timeseries": data, "date": dates, "bperp": bperp}, out_file=packed,
                    metadata=atr, compression="gzip", print_msg=False)
    cfg = DlaeConfig(save_removed=True, mask_file=None)
    plain = run.run_dlae(project.ts, project.geom, cfg, progress=False)
    small = run.run_dlae(packed, project.geom, cfg, progress=False)
    assert io.input_compression(project.ts) is None and io.input_compression(packed) == "gzip"
    for key in ("timeseries", "cumulative", "variance", "removed"):
        with h5py.File(plain[key], "r") as a, h5py.File(small[key], "r") as b:
            assert sorted(a) == sorted(b)
            for name in a:
                assert a[name].compression is None, (key, name)
                assert b[name].compression == "gzip", (key, name)
                np.testing.assert_array_equal(a[name][()], b[name][()])


def test_auto_mask_is_masktempcoh_next_to_the_series(project, fake_denoiser, tmp_path, caplog):
    """mintpy.dlae.maskFile = auto (the default) uses maskTempCoh.h5 next to the time series, as an
    explicit -m does; -m no / mask_file None denoises every pixel; without the file, no mask."""
    auto = run.run_dlae(project.ts, project.geom, DlaeConfig(), out_file=str(tmp_path / "auto.h5"),
                        progress=False)
    given = run.run_dlae(project.ts, project.geom, DlaeConfig(mask_file=project.mask),
                         out_file=str(tmp_path / "given.h5"), progress=False)
    none = run.run_dlae(project.ts, project.geom, DlaeConfig(mask_file=None),
                        out_file=str(tmp_path / "none.h5"), progress=False)
    a, g, n = (readfile.read(o["timeseries"])[0] for o in (auto, given, none))
    np.testing.assert_array_equal(a, g)
    assert np.all(a[:, 20:24, 20:26] == 0) and np.any(n[:, 20:24, 20:26] != 0)   # the fixture's mask
    assert readfile.read_attribute(auto["timeseries"])["mintpy.dlae.maskFile"] == "maskTempCoh.h5"
    assert readfile.read_attribute(none["timeseries"])["mintpy.dlae.maskFile"] == "no"
    # no maskTempCoh.h5 in the folder: no mask, said in the log
    alone = tmp_path / "alone"
    alone.mkdir()
    ts = write_timeseries(alone / "timeseries_ERA5.h5")
    with caplog.at_level("INFO"):
        out = run.run_dlae(ts, project.geom, DlaeConfig(), progress=False)
    np.testing.assert_array_equal(readfile.read(out["timeseries"])[0], n)
    assert "mask: none" in caplog.text
    # a maskTempCoh.h5 of another size is not used, with a warning naming it
    from conftest import write_mask
    write_mask(alone / "maskTempCoh.h5", length=10, width=10)
    caplog.clear()
    with caplog.at_level("INFO"):
        out = run.run_dlae(ts, project.geom, DlaeConfig(), force=True, progress=False)
    assert "is not used" in caplog.text and "maskTempCoh.h5" in caplog.text
    assert "mask: none (mintpy.dlae.maskFile = auto and maskTempCoh.h5 next to" in caplog.text
    assert "not usable" in caplog.text and "no maskTempCoh.h5" not in caplog.text
    np.testing.assert_array_equal(readfile.read(out["timeseries"])[0], n)


def test_auto_mask_template_values():
    from mintpy_dlae.config import DlaeConfig as C
    assert C.from_template({}).mask_file == "auto"
    assert C.from_template({"mintpy.dlae.maskFile": "no"}).mask_file is None
    assert C.from_template({"mintpy.dlae.maskFile": "waterMask.h5"}).mask_file == "waterMask.h5"


def test_unit_errors_say_what_to_convert(tmp_path):
    """UNIT = mm / cm: convert to metres (the data are displacements already); radians: convert the
    phase to displacement."""
    for unit, want in (("mm", "convert it to metres first"), ("cm", "convert it to metres first"),
                       ("radian", "convert phase to displacement first")):
        ts = write_timeseries(tmp_path / f"timeseries_{unit}.h5", unit=unit)
        with pytest.raises(io.DlaeInputError, match=want):
            io.check_timeseries(ts)


def test_small_frames_and_denoised_inputs_are_warned(tmp_path, fake_denoiser, caplog):
    """A frame narrower than the 40 px training patches, and an input that is itself an output of
    mintpy_dlae, each get a warning naming the file; a 40 x 40 px frame gets none."""
    ts = write_timeseries(tmp_path / "timeseries.h5", length=12, width=40)
    geom = write_geometry(tmp_path / "geometryGeo.h5", length=12, width=40)
    with caplog.at_level("WARNING", logger="mintpy_dlae"):
        out = run.run_dlae(ts, geom, DlaeConfig(mask_file=None), progress=False)
    assert "the frame is 12 x 40 px, narrower than the 40 x 40 px patches" in caplog.text
    assert "already an output of mintpy_dlae" not in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="mintpy_dlae"):
        run.run_dlae(out["timeseries"], geom, DlaeConfig(mask_file=None), progress=False,
                     out_file=str(tmp_path / "twice.h5"))
    assert "timeseries_DLAE.h5 is already an output of mintpy_dlae (fault, from timeseries.h5)" in caplog.text
    # its exact zeros are its own flushed tiny values: said so, not "set them to NaN"
    with h5py.File(out["timeseries"], "a") as f:
        f["timeseries"][3, 5, 7] = 0.0
    caplog.clear()
    with caplog.at_level("WARNING", logger="mintpy_dlae"):
        run.run_dlae(out["timeseries"], geom, DlaeConfig(mask_file=None), progress=False,
                     out_file=str(tmp_path / "twice.h5"), force=True)
    assert "a mintpy_dlae output writes values smaller than 1e-06 m as 0" in caplog.text
    assert "set them to NaN" not in caplog.text
    big = tmp_path / "big"
    big.mkdir()
    ts = write_timeseries(big / "timeseries.h5", length=40, width=40)
    geom = write_geometry(big / "geometryGeo.h5", length=40, width=40)
    caplog.clear()
    with caplog.at_level("WARNING", logger="mintpy_dlae"):
        run.run_dlae(ts, geom, DlaeConfig(mask_file=None, save_cumulative=False), progress=False)
    assert "narrower than" not in caplog.text


def test_centimetres_under_unit_m_are_warned(tmp_path, fake_denoiser, caplog):
    """A series in cm under UNIT = m (date-to-date spread of tenths of 'metres', below the mm error)
    runs with a warning that says how to convert it; the real Mexico City crop in metres changes by
    less than 0.01 m (median spatial std) and gets no warning."""
    ts = write_timeseries(tmp_path / "timeseries.h5")
    with h5py.File(ts, "a") as f:
        f["timeseries"][()] = f["timeseries"][()] * 100
    geom = write_geometry(tmp_path / "geometryGeo.h5")
    with caplog.at_level("WARNING", logger="mintpy_dlae"):
        run.run_dlae(ts, geom, DlaeConfig(mask_file=None, save_cumulative=False), progress=False)
    assert "if the values are centimetres under UNIT = m" in caplog.text and "timeseries.h5" in caplog.text
    crop = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "pyrate_cropA")
    with h5py.File(os.path.join(crop, "timeseries.h5"), "r") as f:
        data = f["timeseries"][()]
    has = np.any(data != 0, axis=0) & np.all(np.isfinite(data), axis=0)
    spread = run.check_unit("crop", data, has)
    assert spread < 0.01 < run.UNIT_WARN_M


def test_a_killed_runs_temporaries_of_every_product_are_removed(project, fake_denoiser):
    """A run killed while writing with --save-removed leaves .timeseriesRemoved_*.tmp; the next run
    without --save-removed removes it too (not only the temporaries of what it writes itself), and
    the coarse pass's file of a killed run as well."""
    import socket
    import subprocess
    import sys
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    names = run.output_files(project.ts)
    orphan = os.path.join(os.path.dirname(names["removed"]),
                          f".{os.path.basename(names['removed'])}.{socket.gethostname()}-{dead}.tmp")
    with open(orphan, "wb") as f:
        f.write(b"x")
    coarse = os.path.join(os.path.dirname(names["timeseries"]),          # the coarse pass's (--scales 2)
                          f".{os.path.basename(names['timeseries'])}-coarse.{socket.gethostname()}-{dead}.tmp")
    with open(coarse, "wb") as f:
        f.write(b"x")
    run.run_dlae(project.ts, project.geom, DlaeConfig(save_removed=False), progress=False)
    assert not os.path.exists(orphan) and not os.path.exists(coarse)
    assert not [f for f in os.listdir(project.dir) if f.endswith(".tmp")]        # nor its own


def test_a_geometry_of_another_area_is_warned(tmp_path, fake_denoiser, caplog):
    """A geometry (or mask) of the same size but on another geocoded grid (other Y_FIRST/X_FIRST) is
    used pixel for pixel: a warning names it and both grids; the same grid gives none."""
    ts = write_timeseries(tmp_path / "timeseries.h5")
    geom = write_geometry(tmp_path / "geometryGeo.h5")
    with caplog.at_level("WARNING", logger="mintpy_dlae"):
        run.run_dlae(ts, geom, DlaeConfig(mask_file=None, save_cumulative=False), progress=False)
    assert "on another grid" not in caplog.text
    with h5py.File(geom, "a") as f:
        f.attrs["Y_FIRST"] = str(float(f.attrs["Y_FIRST"]) - 0.05)
    caplog.clear()
    with caplog.at_level("WARNING", logger="mintpy_dlae"):
        run.run_dlae(ts, geom, DlaeConfig(mask_file=None, save_cumulative=False), progress=False, force=True)
    assert "geometryGeo.h5: the geometry is on another grid than" in caplog.text


def test_outputs_that_do_not_fit_are_refused_before_the_work(project, fake_denoiser, monkeypatch):
    """A file system with less room than the outputs need (estimated from the frame, the dates and
    the input's dtype): a clear error naming the folder and both sizes, before any output exists."""
    import collections
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(io.shutil, "disk_usage", lambda path: usage(10**6, 10**6 - 1000, 1000))
    with pytest.raises(io.DlaeInputError, match=r"the outputs need about .* MiB and its file system has 0.0 MiB free"):
        run.run_dlae(project.ts, project.geom, DlaeConfig(), progress=False)
    assert not [f for f in os.listdir(project.dir) if "DLAE" in f or f.endswith(".tmp")]
