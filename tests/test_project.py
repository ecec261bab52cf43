"""The synthetic project builder, and MintPy's own smallbaselineApp.py on it (offline)."""
import os
import subprocess

import numpy as np
import pytest
from conftest import mintpy_script
from mintpy.utils import readfile

from mintpy_dlae.project import build_project


def test_build_project_files(tmp_path):
    truth = build_project(tmp_path, num_date=12, shape=(30, 36), kind="mogi", seed=1)
    for name in ("inputs/ifgramStack.h5", "inputs/geometryGeo.h5", "inputs/ERA5.h5", "truth.h5"):
        assert os.path.isfile(tmp_path / name), name
    assert readfile.read_attribute(str(tmp_path / "inputs/ifgramStack.h5"))["FILE_TYPE"] == \
        "ifgramStack"
    geom = readfile.get_dataset_list(str(tmp_path / "inputs/geometryGeo.h5"))
    assert {"height", "incidenceAngle", "azimuthAngle", "slantRangeDistance", "waterMask",
            "shadowMask"} <= set(geom)
    assert truth.deformation.shape == (12, 30, 36)
    assert np.all(truth.deformation[0] == 0)
    assert abs(np.abs(truth.deformation[-1]).max() - 0.03) < 1e-6
    # the transient starts and ends strictly inside the series
    assert 0 < truth.source["onset_index"] < truth.source["end_index"] < 11
    # realistic cm-level troposphere; "ERA5" explains part of it
    assert 0.003 < truth.atmosphere.std() < 0.03
    assert (truth.atmosphere - truth.era5).std() < truth.atmosphere.std()
    data, atr = readfile.read(str(tmp_path / "truth.h5"))
    np.testing.assert_allclose(data, truth.deformation)
    assert atr["mintpy.dlae.synthetic.kind"] == "mogi"


def test_build_project_deterministic(tmp_path):
    a = build_project(tmp_path / "a", num_date=10, shape=(20, 24), seed=3)
    b = build_project(tmp_path / "b", num_date=10, shape=(20, 24), seed=3)
    np.testing.assert_array_equal(a.deformation, b.deformation)
    np.testing.assert_array_equal(a.atmosphere, b.atmosphere)
    with pytest.raises(ValueError, match="kind"):
        build_project(tmp_path / "c", kind="dyke")


@pytest.mark.slow
def test_mintpy_smallbaselineApp_runs_offline(tmp_path):
    """MintPy's own smallbaselineApp.py runs through velocity on the built project, offline."""
    truth = build_project(tmp_path, num_date=14, shape=(36, 40), kind="fault", seed=0)
    proc = subprocess.run([mintpy_script("smallbaselineApp.py"), truth.template_file,
                           "--dir", str(tmp_path), "--end", "velocity"],
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, MPLBACKEND="Agg"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # offline: correct_troposphere took the project's inputs/ERA5.h5 (otherwise MintPy downloads ERA5)
    assert "Use existed tropospheric delay file" in proc.stdout and "tropo_pyaps3.py" not in proc.stdout
    for name in ("timeseries.h5", "timeseries_ERA5.h5", "timeseries_ERA5_demErr.h5",
                 "velocity.h5", "maskTempCoh.h5"):
        assert os.path.isfile(tmp_path / name), name
    vel, atr = readfile.read(str(tmp_path / "velocity.h5"), datasetName="velocity")
    assert atr["FILE_PATH"].endswith("velocity.h5") and np.isfinite(vel).mean() > 0.9
    ts = readfile.read(str(tmp_path / "timeseries_ERA5.h5"))[0]
    # the inverted series follows the truth (both referenced to the same pixel and first date)
    ry, rx = int(atr["REF_Y"]), int(atr["REF_X"])
    true = truth.deformation - truth.deformation[:, ry:ry + 1, rx:rx + 1]
    assert np.corrcoef(ts[-1].ravel(), true[-1].ravel())[0, 1] > 0.5
