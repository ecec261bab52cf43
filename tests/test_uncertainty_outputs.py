"""Uncertainty in MintPy's own formats: the variance file that ``timeseries2velocity.py --uq
covariance --ts-cov`` turns into velocityStd, and the cumulativeStd_* / significance_* maps that
``view.py`` shows with their units; the switch that turns them off; the frame-wide noise scale."""
import json
import os
import subprocess
import zipfile

import numpy as np
import pytest
from conftest import NODATA_BOX, NUM_DATE, REF_X, REF_Y, mintpy_script
from mintpy.utils import ptime, readfile

from mintpy_dlae import denoise_file, io
from mintpy_dlae.cli import denoise as cli
from mintpy_dlae.config import DlaeConfig

ENV = dict(os.environ, MPLBACKEND="Agg")


def _run(cmd, cwd):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300, env=ENV)
    assert proc.returncode == 0, " ".join(cmd) + "\n" + proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout


def test_velocity_std_from_the_variance_file(project, fake_denoiser):
    out = denoise_file.run_dlae(project.ts, project.geom, DlaeConfig(mask_file=None), progress=False)
    d = project.dir
    _run([mintpy_script("timeseries2velocity.py"), out["timeseries"], "--uq", "covariance",
          "--ts-cov", out["variance"], "-o", "vel_cov.h5"], d)
    _run([mintpy_script("timeseries2velocity.py"), out["timeseries"], "-o", "vel_res.h5"], d)
    std = readfile.read(str(d / "vel_cov.h5"), datasetName="velocityStd")[0]
    std_res = readfile.read(str(d / "vel_res.h5"), datasetName="velocityStd")[0]
    # independent propagation: slope row of pinv([1, t]) applied to the per-date variances
    years = np.array(ptime.date_list2vector(io.read_timeseries_info(out["timeseries"])[0])[1])
    gplus = np.linalg.pinv(np.stack([np.ones_like(years), years - years[0]], axis=1))
    var = readfile.read(out["variance"])[0].astype(np.float64)
    expect = np.sqrt(np.einsum("t,thw->hw", gplus[1] ** 2, var))
    valid = np.ones(std.shape, bool)
    valid[NODATA_BOX] = False
    np.testing.assert_allclose(std[valid], expect[valid], rtol=1e-3, atol=1e-7)
    assert std[REF_Y, REF_X] == 0 and (std[valid] > 0).sum() == valid.sum() - 1
    assert not np.allclose(std[valid], std_res[valid], rtol=0.05)   # not the residue estimate


@pytest.mark.slow
def test_view_shows_std_and_significance_with_units(project, fake_denoiser):
    out = denoise_file.run_dlae(project.ts, project.geom, DlaeConfig(mask_file=None), progress=False)
    names = [n for n in readfile.get_slice_list(out["cumulative"]) if n.startswith("cumulative_")]
    view = mintpy_script("view.py")
    text = _run([view, out["cumulative"], io.std_names(names)[0], "-u", "mm", "--nodisplay",
                 "-o", "std.png"], project.dir)
    assert "data    range:" in text and text.split("data    range:")[1].split("\n")[0].strip()\
        .endswith("mm")
    for group, unit in (("significance", "1"), ("cumulativeStd", "m"), ("cumulative_", "m")):
        text = _run([view, out["cumulative"], group, "--nodisplay", "-o", f"{group}.png"],
                    project.dir)
        assert f"datasets to display ({NUM_DATE - 8})" in text, text
        assert all(readfile.read_attribute(out["cumulative"], datasetName=n)["UNIT"] == unit
                   for n in readfile.get_slice_list(out["cumulative"]) if n.startswith(group))
    assert os.path.isfile(project.dir / "significance.png")


@pytest.mark.parametrize("how", ["flag", "template"])
def test_uncertainty_outputs_can_be_switched_off(project, fake_denoiser, tmp_path, how):
    args = [project.ts, "-g", project.geom, "--no-progress"]
    if how == "flag":
        args.append("--no-uncertainty")
    else:
        (tmp_path / "t.txt").write_text("mintpy.dlae.saveUncertainty = no\n")
        args += ["-t", str(tmp_path / "t.txt")]
    cli.main(args)
    names = denoise_file.output_files(project.ts)
    assert not os.path.exists(names["variance"])
    assert all(n.startswith("cumulative_") for n in readfile.get_slice_list(names["cumulative"]))
    assert readfile.read_attribute(names["timeseries"])["mintpy.dlae.saveUncertainty"] == "no"


def _fake_keras(path, uncertainty):
    with zipfile.ZipFile(path, "w") as z:
        conf = {"class_name": "DlaeNet", "config": {"num_dates": 9}}
        if uncertainty is not None:
            conf["config"]["uncertainty"] = uncertainty
        z.writestr("config.json", json.dumps(conf))
    return str(path)


def test_model_without_uncertainty_head(project, fake_denoiser, monkeypatch, caplog, tmp_path):
    """First-generation models (no sigma): read from the .keras config without TensorFlow; the
    run warns and writes no uncertainty outputs."""
    monkeypatch.undo()     # the real model_has_uncertainty
    assert denoise_file.model_has_uncertainty(_fake_keras(tmp_path / "new.keras", True))
    assert not denoise_file.model_has_uncertainty(_fake_keras(tmp_path / "old.keras", None))
    import sys
    monkeypatch.setitem(sys.modules, "mintpy_dlae.inference", fake_denoiser)
    from conftest import _fake_load_model
    import types
    monkeypatch.setitem(sys.modules, "mintpy_dlae.model",
                        types.SimpleNamespace(load_model=_fake_load_model))
    with caplog.at_level("WARNING", logger="mintpy_dlae"):
        out = denoise_file.run_dlae(project.ts, project.geom,
                                    DlaeConfig(model=str(tmp_path / "old.keras")), progress=False)
    assert "gives no uncertainty" in caplog.text and "variance" not in out
    assert all(n.startswith("cumulative_") for n in readfile.get_slice_list(out["cumulative"]))


def test_frame_scale_equals_the_engines(project):
    """The scale computed once from the scan's sub-grid is the engine's whole-frame scale, on a
    sub-grid coarse enough (stride 4) that rows of several blocks meet on it."""
    from mintpy_dlae import dataset, inference
    from mintpy_dlae.boxes import Box
    dates = io.read_timeseries_info(project.ts)[0]
    atr = readfile.read_attribute(project.ts)
    ref_index = denoise_file.reference_index(project.ts, atr, dates)
    orig = io.plan_row_blocks
    try:
        io.plan_row_blocks = lambda *a, **k: [Box(0, 7, 0, 32), Box(7, 19, 0, 32),
                                              Box(19, 32, 0, 32)]
        scan = denoise_file.scan_input(project.ts, dates, ref_index, project.mask, "mask",
                                       geom_file=project.geom, max_pixels=64)
    finally:
        io.plan_row_blocks = orig
    assert scan.stride == 4
    ref = (REF_Y, REF_X)
    got = denoise_file.frame_scales(scan, ref)
    full = denoise_file.prepare(io.read_timeseries(project.ts), np.flatnonzero(scan.keep),
                                scan.days, ref)
    valid = (dataset.valid_mask(full, io.read_mask(project.mask, None, "mask"))
             & np.isfinite(io.read_geometry(project.geom)["height"]))
    data = np.where(valid[None], full, 0).astype(np.float32)
    expect = inference.window_scales(data, valid, 9, max_pixels=64)
    np.testing.assert_array_equal(got, expect)
    assert got.shape == (NUM_DATE - 8,) and (got > 0).all()


def test_model_file_that_is_not_a_dlae_model_is_refused(tmp_path):
    """A zip without a Keras config, or the config of another Keras class, is refused with its
    own error (not first taken for a model without uncertainty)."""
    from mintpy_dlae.io import DlaeInputError
    empty = tmp_path / "empty.keras"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("readme.txt", "no model here")
    with pytest.raises(DlaeInputError, match="not a Keras model file"):
        denoise_file.model_has_uncertainty(str(empty))
    seq = tmp_path / "seq.keras"
    with zipfile.ZipFile(seq, "w") as z:
        z.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {}}))
    with pytest.raises(DlaeInputError, match="class 'Sequential', not a mintpy_dlae model"):
        denoise_file.model_has_uncertainty(str(seq))


def test_model_warnings_for_models_of_ones_own(tmp_path):
    """A model of one's own without a sigma calibration in its card, or with few training samples,
    gets a warning each; a calibrated, long-trained one and the shipped models get none."""
    import json
    import zipfile
    path = str(tmp_path / "mine.keras")
    zipfile.ZipFile(path, "w").close()                       # what model_file checks: a zip named .keras
    card = {"training": {"samples_seen": 4800, "samples_seen_total": 4800}}
    json.dump(card, open(tmp_path / "mine.json", "w"))
    lines = denoise_file.model_warnings(path)
    assert len(lines) == 2 and "no sigma calibration" in lines[0] and "4800 training samples" in lines[1]
    assert denoise_file.model_warnings(path, uncertainty=False) == [lines[1]]
    card.update(sigma_calibration={"factor": 1.1}, training={"samples_seen_total": 1_270_400})
    json.dump(card, open(tmp_path / "mine.json", "w"))
    assert denoise_file.model_warnings(path) == []
    assert denoise_file.model_warnings("fault") == [] and denoise_file.model_warnings("mogi") == []
    os.remove(tmp_path / "mine.json")                        # no card at all: training unknown
    lines = denoise_file.model_warnings(path)
    assert len(lines) == 1 and "has no model card (mine.json" in lines[0] and "trial model" in lines[0]
