"""The driver with the real denoiser and a tiny untrained model: seams and the Dask path."""
import h5py
import numpy as np
import pytest

from mintpy_dlae import denoise_file as run
from mintpy_dlae import io
from mintpy_dlae.boxes import Box
from mintpy_dlae.config import DlaeConfig

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from mintpy_dlae.model import build_model, shipped_config
    path = str(tmp_path_factory.mktemp("model") / "tiny.keras")
    build_model(**dict(shipped_config(), filters=4, filters_2d=4)).save(path)   # with sigma
    return path


def _read(outputs):
    data = {}
    for key, path in outputs.items():
        with h5py.File(path) as f:
            data.update({f"{key}/{k}": f[k][()] for k in f if f[k].ndim >= 2})
    return data


def _assert_same(a, b, atol=1e-6):
    assert a.keys() == b.keys()
    for key in a:
        if a[key].dtype.kind == "f":
            np.testing.assert_allclose(a[key], b[key], atol=atol, err_msg=key)
        else:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_row_blocks_equal_whole_image(project, tiny_model, tmp_path, monkeypatch):
    cfg = DlaeConfig(model=tiny_model, precision="float32", tile_size=16, save_removed=True)
    whole = run.run_dlae(project.ts, project.geom, cfg, out_file=str(tmp_path / "whole.h5"),
                         progress=False)
    plan = io.plan_row_blocks           # the frame's blocks; the coarse pass (16 x 16) plans its own
    monkeypatch.setattr(io, "plan_row_blocks", lambda n, m, *a, **k: [Box(0, 7, 0, 32), Box(7, 19, 0, 32), Box(19, 32, 0, 32)]
                        if (n, m) == (32, 32) else plan(n, m, *a, **k))
    blocks = run.run_dlae(project.ts, project.geom, cfg, out_file=str(tmp_path / "blocks.h5"),
                          progress=False)
    _assert_same(_read(whole), _read(blocks))
    assert {"variance/timeseries", "cumulative/cumulativeStd_20200101_20200406",
            "cumulative/significance_20200101_20200406"} <= set(_read(whole))
    ts = _read(whole)["timeseries/timeseries"]
    assert np.all(ts[:, 10, 12] == 0) and np.all(ts[2] == 0)     # REF_Y/REF_X and REF_DATE
    assert np.isfinite(ts).all()


def test_scales_2_row_blocks_equal_whole_image(tmp_path, tiny_model, monkeypatch):
    """--scales 2: row blocks (each read from an even row with multiscale.block_halo px of context,
    the coarse maps from the frame's coarse pass) give the whole frame's result on a frame taller
    than that context; the option is recorded and changes the output."""
    from conftest import write_geometry, write_timeseries
    ts = write_timeseries(tmp_path / "timeseries.h5", length=230, width=21)
    geom = write_geometry(tmp_path / "geometryGeo.h5", length=230, width=21)
    cfg = DlaeConfig(model=tiny_model, precision="float32", mask_file=None, augment="1", scales=2)
    whole = run.run_dlae(ts, geom, cfg, out_file=str(tmp_path / "whole.h5"), progress=False)
    one = run.run_dlae(ts, geom, DlaeConfig(model=tiny_model, precision="float32", mask_file=None, augment="1", scales=1),
                       out_file=str(tmp_path / "one.h5"), progress=False)
    with monkeypatch.context() as m:
        plan = io.plan_row_blocks
        m.setattr(io, "plan_row_blocks", lambda n, w, *a, **k: [Box(0, 75, 0, 21), Box(75, 151, 0, 21), Box(151, 230, 0, 21)]
                  if (n, w) == (230, 21) else plan(n, w, *a, **k))
        blocks = run.run_dlae(ts, geom, cfg, out_file=str(tmp_path / "blocks.h5"), progress=False)
    _assert_same(_read(whole), _read(blocks))
    with h5py.File(whole["timeseries"]) as f:
        assert f.attrs["mintpy.dlae.scales"] == "2"
    diff = _read(whole)["timeseries/timeseries"] - _read(one)["timeseries/timeseries"]
    assert np.nanmax(np.abs(diff)) > 1e-5


def test_coarse_pass_file_equals_the_engine(tmp_path, tiny_model):
    """The driver's coarse pass (two passes over the file in small row blocks) writes the maps that
    denoise(scales=2) computes for the whole frame in memory: given them (``coarse=``), denoise
    gives the same result as computing them itself, and blocks with only
    block_halo(coarse_given=True) px of context equal the whole frame."""
    from conftest import REF_X, REF_Y, write_geometry, write_timeseries
    from mintpy.utils import readfile

    from mintpy_dlae import dataset, multiscale
    from mintpy_dlae.inference import denoise, receptive_halo, window_scales
    ts_file = write_timeseries(tmp_path / "timeseries.h5", length=150, width=23)
    geom_file = write_geometry(tmp_path / "geometryGeo.h5", length=150, width=23)
    net = run.load_model(tiny_model)
    keep = list(range(12))
    job = dict(ts_file=ts_file, geom_file=geom_file, keep=keep, days=None, ref_yx=(REF_Y, REF_X), mask_file=None,
               mask_dataset=None, tile_size=64, batch_size=8, precision="float32", augment=1, model=net)
    path = run.coarse_pass(job, receptive_halo(net), (150, 23), 12, str(tmp_path / ".coarse.tmp"), max_memory=2e-5)
    assert len(io.plan_row_blocks(75, 12, 12, 2e-5, receptive_halo(net))) > 2       # the pass ran in blocks
    with h5py.File(path) as f:
        given = (f["timeseries"][()], f["cumulative"][()])
    ts = run.prepare(readfile.read(ts_file)[0], keep, None, (REF_Y, REF_X))
    h = readfile.read(geom_file, datasetName="height")[0]
    kw = dict(model=net, precision="float32", augment=1, level="network", spikes=False)
    own = denoise(ts, h, **kw)
    np.testing.assert_allclose(denoise(ts, h, coarse=given, **kw).timeseries, own.timeseries, atol=1e-6)
    halo = multiscale.block_halo(receptive_halo(net), coarse_given=True)
    y0, y1 = 80, 110
    r0, r1 = y0 - halo - (y0 - halo) % 2, y1 + halo
    valid = dataset.valid_mask(ts) & np.isfinite(h)
    scale = window_scales(np.where(valid, ts, np.float32(0)), valid)           # the frame's, as the driver's
    part = denoise(ts[:, r0:r1], h[r0:r1], box=(y0 - r0, y1 - r0, 0, 23), scale=scale,
                   coarse=tuple(g[:, r0 // 2:-(-r1 // 2)] for g in given), **kw)
    np.testing.assert_allclose(part.cumulative, own.cumulative[:, y0:y1], atol=1e-6)


def test_scale_box_model_with_two_scales(project, tmp_path, monkeypatch):
    """A model with per-pixel scales (scale_box, an ablation) runs with the default --scales 2 (its
    coarse pass computes the scales per block too), and row blocks equal the whole frame."""
    from mintpy_dlae.model import build_model, shipped_config
    path = str(tmp_path / "sbox.keras")
    build_model(**dict(shipped_config(), filters=4, filters_2d=4, scale_box=41)).save(path)
    cfg = DlaeConfig(model=path, precision="float32", mask_file=None, augment="1")
    whole = run.run_dlae(project.ts, project.geom, cfg, out_file=str(tmp_path / "whole.h5"), progress=False)
    plan = io.plan_row_blocks
    monkeypatch.setattr(io, "plan_row_blocks", lambda n, m, *a, **k: [Box(0, 13, 0, 32), Box(13, 32, 0, 32)]
                        if (n, m) == (32, 32) else plan(n, m, *a, **k))
    blocks = run.run_dlae(project.ts, project.geom, cfg, out_file=str(tmp_path / "blocks.h5"), progress=False)
    _assert_same(_read(whole), _read(blocks))


def test_dask_equals_serial(project, tiny_model, tmp_path):
    """-c local --num-worker 2: sub-boxes split along x read their own halo (no seams)."""
    cfg = DlaeConfig(model=tiny_model, precision="float32", tile_size=16)
    serial = run.run_dlae(project.ts, project.geom, cfg, out_file=str(tmp_path / "serial.h5"),
                          progress=False)
    cfg.cluster, cfg.num_worker = "local", "2"
    dask = run.run_dlae(project.ts, project.geom, cfg, out_file=str(tmp_path / "dask.h5"),
                        progress=False)
    _assert_same(_read(serial), _read(dask))


def test_installed_command_exit_status(project, tiny_model):
    """The installed mintpy_dlae.py exits 0 and writes the outputs next to the input."""
    import os
    import subprocess

    from conftest import script
    proc = subprocess.run([script("mintpy_dlae.py"), project.ts, "-g", project.geom, "--model",
                           tiny_model, "--tile-size", "16", "--precision", "float32"],
                          cwd=project.dir, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Done" in proc.stdout
    for path in run.output_files(project.ts, None).values():
        assert os.path.isfile(path) or "Removed" in path


def test_velocity_std_from_the_real_engine(project, tiny_model):
    """The installed timeseries2velocity.py reads the variance file of a real run (--uq covariance)."""
    import subprocess

    from conftest import mintpy_script
    from mintpy.utils import readfile
    out = run.run_dlae(project.ts, project.geom, DlaeConfig(model=tiny_model, precision="float32", mask_file=None),
                       progress=False)
    proc = subprocess.run([mintpy_script("timeseries2velocity.py"), out["timeseries"], "--uq",
                           "covariance", "--ts-cov", out["variance"], "-o", "velocity.h5"],
                          cwd=project.dir, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "time-series covariance" in proc.stdout and "WARNING: NO time series" not in proc.stdout
    std = readfile.read(str(project.dir / "velocity.h5"), datasetName="velocityStd")[0]
    assert np.isfinite(std).all() and (std[5:, 5:] > 0).mean() > 0.99


def test_a_window_without_change_runs(project, tiny_model, tmp_path):
    """The last 9 dates identical on every pixel (a window whose frame noise scale is 0): the driver
    runs (it used to stop with a traceback from denoise's check of the scale), and that window's
    cumulative map is 0 at every pixel with data."""
    import shutil
    path = str(tmp_path / "timeseries.h5")
    shutil.copy(project.ts, path)
    with h5py.File(path, "a") as f:
        d = f["timeseries"][()]
        n = len(d)
        d[n - 9:] = d[n - 9]
        f["timeseries"][()] = d
    cfg = DlaeConfig(model=tiny_model, precision="float32", tile_size=16, mask_file=None)
    out = run.run_dlae(path, project.geom, cfg, progress=False)
    with h5py.File(out["cumulative"]) as f:
        last = sorted(k for k in f if k.startswith("cumulative_"))[-1]
        cum = f[last][()]
    assert np.nanmax(np.abs(cum)) == 0
