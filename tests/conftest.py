"""Shared fixtures: tiny real MintPy files in tmp_path and a stand-in denoiser for plumbing tests."""
import os
import sys
import types

import numpy as np
import pytest

# train(precision="auto") probes bfloat16 training in a child process on bfloat16 CPUs (one TensorFlow
# start per tiny test layout, and a cache in ~/.cache); the tests' tiny layouts do not crash, and the
# probe has its own tests (tests/test_training_resume.py), which switch it back on
os.environ["MINTPY_DLAE_BF16_PROBE"] = "off"

NUM_DATE, LENGTH, WIDTH = 12, 32, 32
REF_Y, REF_X, REF_INDEX = 10, 12, 2
NODATA_BOX = (slice(0, 3), slice(0, 3))     # pixels that are 0 at every date (MintPy no-data)


def dates(num=NUM_DATE):
    import datetime as dt
    d0 = dt.date(2020, 1, 1)
    return [(d0 + dt.timedelta(days=12 * i)).strftime("%Y%m%d") for i in range(num)]


def base_meta(length=LENGTH, width=WIDTH):
    return {
        "LENGTH": length, "WIDTH": width, "PLATFORM": "Sen", "PROCESSOR": "isce",
        "WAVELENGTH": 0.05546576, "ALOOKS": 1, "RLOOKS": 1,
        "X_FIRST": -155.40, "Y_FIRST": 19.50, "X_STEP": 0.0027, "Y_STEP": -0.0027,
        "X_UNIT": "degrees", "Y_UNIT": "degrees",
    }


def write_timeseries(path, num_date=NUM_DATE, length=LENGTH, width=WIDTH, unit="m", seed=0,
                     nan_nodata=False):
    """A referenced MintPy time series: 0 at REF_DATE and at REF_Y/REF_X, a no-data corner."""
    from mintpy.utils import writefile
    rng = np.random.default_rng(seed)
    ts = np.cumsum(rng.normal(0, 0.004, (num_date, length, width)), axis=0).astype(np.float32)
    ref = min(REF_INDEX, num_date - 1)
    ts -= ts[ref]
    ts -= ts[:, REF_Y:REF_Y + 1, REF_X:REF_X + 1]
    ts[(slice(None),) + NODATA_BOX] = np.nan if nan_nodata else 0.0
    ds = dates(num_date)
    meta = dict(base_meta(length, width), FILE_TYPE="timeseries", UNIT=unit, REF_DATE=ds[ref],
                REF_Y=REF_Y, REF_X=REF_X, REF_LAT=19.47, REF_LON=-155.37)
    writefile.write({"timeseries": ts, "date": np.array(ds, np.bytes_),
                     "bperp": np.linspace(-50, 50, num_date).astype(np.float32)},
                    out_file=str(path), metadata=meta, print_msg=False)
    return str(path)


def write_geometry(path, length=LENGTH, width=WIDTH, height=True, angles=True):
    from mintpy.utils import writefile
    yy, xx = np.mgrid[:length, :width]
    ds = {"slantRangeDistance": np.full((length, width), 8.5e5, np.float32)}
    if height:
        ds["height"] = (500 + 5 * yy + 3 * xx).astype(np.float32)
    if angles:
        ds["incidenceAngle"] = np.full((length, width), 38.0, np.float32)
        ds["azimuthAngle"] = np.full((length, width), -102.0, np.float32)
    writefile.write(ds, out_file=str(path), metadata=dict(base_meta(length, width),
                                                          FILE_TYPE="geometry"), print_msg=False)
    return str(path)


def write_mask(path, length=LENGTH, width=WIDTH, name="mask"):
    from mintpy.utils import writefile
    mask = np.ones((length, width), bool)
    mask[20:24, 20:26] = False
    writefile.write({name: mask}, out_file=str(path),
                    metadata=dict(base_meta(length, width), FILE_TYPE=name), print_msg=False)
    return str(path)


@pytest.fixture
def project(tmp_path):
    """Paths of a tiny 12-date 32x32 time series, its geometry and a temporal-coherence mask."""
    return types.SimpleNamespace(
        dir=tmp_path,
        ts=write_timeseries(tmp_path / "timeseries_ERA5.h5"),
        geom=write_geometry(tmp_path / "geometryGeo.h5"),
        mask=write_mask(tmp_path / "maskTempCoh.h5"),
    )



def run_in_row_blocks(run, ts, geom, cfg, out_file, boxes=((0, 5), (5, 11), (11, 20), (20, 32))):
    """``run(ts, geom, cfg)`` (mintpy_dlae.denoise_file.run_dlae) with the frame cut into the full-width
    row blocks ``boxes`` (y0, y1) instead of its memory plan; returns its outputs."""
    from mintpy_dlae import io
    from mintpy_dlae.boxes import Box
    orig = io.plan_row_blocks
    def plan(length, width, *a, **k):     # the frame's blocks; the coarse pass of --scales 2 (half as long) plans its own
        if length == boxes[-1][1]:
            return [Box(y0, y1, 0, width) for y0, y1 in boxes]
        return orig(length, width, *a, **k)
    io.plan_row_blocks = plan
    try:
        return run(ts, geom, cfg, progress=False, out_file=str(out_file))
    finally:
        io.plan_row_blocks = orig


def assert_same_datasets(first, second, keys=("timeseries", "cumulative")):
    """Every dataset of the output files ``first[key]`` and ``second[key]`` is bit-identical."""
    import h5py
    for key in keys:
        with h5py.File(first[key], "r") as a, h5py.File(second[key], "r") as b:
            assert sorted(a) == sorted(b), key
            for name in a:
                np.testing.assert_array_equal(a[name][()], b[name][()], err_msg=f"{key}: {name}")

# ------------------------------------------------------------------------------------------------
# stand-in denoiser: a local 3x3 mean (halo 1), so tiled results must equal whole-image results
# ------------------------------------------------------------------------------------------------
def _box3(a):
    out = np.zeros_like(a)
    h, w = a.shape[-2:]
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            ys, yd = slice(max(dy, 0), h + min(dy, 0)), slice(max(-dy, 0), h + min(-dy, 0))
            xs, xd = slice(max(dx, 0), w + min(dx, 0)), slice(max(-dx, 0), w + min(-dx, 0))
            out[..., yd, xd] += a[..., ys, xs]
    return out


def fake_denoise(ts, elevation, model="fault", mask=None, incidence=None, azimuth=None,
                 tile_size=256, batch_size=32, precision="auto", calibrate=None, scale=None,
                 box=None, progress=False, overwrite_input=False, augment="auto", spikes=True, scales=2,
                 coarse_scale=None, coarse=None, level="auto"):
    """The engine's interface (``box`` (y0, y1, x0, x1): results for that part only) with a 3x3 mean;
    std: 1 mm x sqrt(date index) + 1 % of |series| (grows along the series), 2 mm + 1 % of |cumulative|.
    ``augment`` must arrive resolved for the whole frame (one number for every block), and ``spikes``
    False (the driver marks them on the whole frame; the engine's own test on a block would see fewer
    neighbours at the block's edge).  ``scales`` is checked and otherwise ignored (one 3x3 mean);
    with 2, a block with the frame's ``scale`` must get the frame's coarse maps (or scale) too."""
    assert scales in (1, 2) and (scales == 1 or box is None or scale is None or coarse_scale is not None
                                 or coarse is not None)
    if box is not None:
        assert augment in (1, 2, 4, 8), augment
        assert spikes is False, "the driver marks spikes itself"
    ts = np.asarray(ts, np.float64)
    assert ts.ndim == 3 and ts.shape[0] >= 9 and elevation.shape == ts.shape[1:]
    invalid = np.all((ts == 0) | np.isnan(ts), axis=0) | np.any(np.isnan(ts), axis=0)
    if mask is not None:
        invalid |= ~np.asarray(mask, bool)
    weight = (~invalid).astype(np.float64)
    num = _box3(np.where(invalid, 0.0, ts) * weight)
    den = _box3(weight)
    with np.errstate(invalid="ignore", divide="ignore"):
        smooth = num / den
    smooth = smooth - smooth[0]
    smooth[:, invalid] = np.nan
    cum = smooth[8:] - smooth[:-8]
    ts_std = 1e-3 * np.sqrt(np.arange(len(smooth)))[:, None, None] + 0.01 * np.abs(smooth)
    ts_std = np.maximum.accumulate(np.nan_to_num(ts_std, nan=0.0), axis=0)
    ts_std[:, invalid] = np.nan
    cum_std = 2e-3 + 0.01 * np.abs(cum)
    rows, cols = (slice(None), slice(None)) if box is None else (slice(box[0], box[1]),
                                                                 slice(box[2], box[3]))
    crop = lambda a: np.ascontiguousarray(a[:, rows, cols]).astype(np.float32)
    return types.SimpleNamespace(timeseries=crop(smooth), cumulative=crop(cum),
                                 timeseries_std=crop(ts_std), cumulative_std=crop(cum_std))


def fake_window_scales(ts, valid, num_dates=9, max_pixels=250_000):
    """inference.window_scales without TensorFlow (same sub-grid and median)."""
    from mintpy_dlae import dataset
    n, H, W = ts.shape
    stride = max(1, int(np.ceil(np.sqrt(H * W / max_pixels))))
    sub, v = np.asarray(ts[:, ::stride, ::stride], np.float32), valid[::stride, ::stride]
    return np.array([dataset.window_scale(sub[k:k + num_dates], v)
                     for k in range(n - num_dates + 1)], np.float32)


def _fake_load_model(model):
    if model not in ("fault", "mogi") and not os.path.isfile(str(model)):
        raise ValueError(f"model file not found: {model}")
    if os.path.isfile(str(model)) and open(model, "rb").read(2) != b"PK":
        raise ValueError(f"{model} is not a mintpy_dlae model (.keras zip archive)")
    return model


@pytest.fixture
def fake_denoiser(monkeypatch):
    """Replace mintpy_dlae.inference / mintpy_dlae.model by fast numpy stand-ins (halo 1), for a
    model with an uncertainty head."""
    inference = types.ModuleType("mintpy_dlae.inference")
    inference.denoise = fake_denoise
    inference.receptive_halo = lambda model: 1
    inference.window_scales = fake_window_scales
    model = types.ModuleType("mintpy_dlae.model")
    model.load_model = _fake_load_model
    monkeypatch.setitem(sys.modules, "mintpy_dlae.inference", inference)
    monkeypatch.setitem(sys.modules, "mintpy_dlae.model", model)
    from mintpy_dlae import denoise_file
    monkeypatch.setattr(denoise_file, "model_has_uncertainty", lambda model: True)
    return inference


def script(name):
    """Path of an installed console script next to the interpreter; a missing one is a failure
    (pyproject.toml declares it, so the installation is broken)."""
    path = os.path.join(os.path.dirname(sys.executable), name)
    if not os.path.isfile(path):
        pytest.fail(f"console script {name} is not installed next to {sys.executable}")
    return path


def mintpy_script(name):
    """Path of a MintPy console script: next to the interpreter, else on PATH; missing is a failure
    (MintPy is a declared dependency)."""
    import shutil
    path = os.path.join(os.path.dirname(sys.executable), name)
    if os.path.isfile(path):
        return path
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"MintPy script {name} not found next to {sys.executable} or on PATH")
    return path
