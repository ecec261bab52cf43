"""A small synthetic MintPy project with a known deformation, for the demo and the tests.

``build_project(work_dir)`` writes what MintPy's ``load_data`` step would have produced, so
``smallbaselineApp.py <work_dir>/<name>.txt --dir <work_dir>`` runs every step offline:

    inputs/ifgramStack.h5   unwrapped interferograms (sequential network, 3 connections)
    inputs/geometryGeo.h5   height, incidenceAngle, azimuthAngle, slantRangeDistance, masks
    inputs/ERA5.h5          a synthetic "ERA5" delay: most of the stratified and long-wavelength
                            delay, so correct_troposphere runs offline (diff.py, no download)
    <name>.txt              the smallbaselineApp template
    truth.h5                the true LOS deformation (a MintPy time-series file, metres)

The deformation is a slow-slip event on a buried fault (Okada, ``kind="fault"``) or an inflating
point source (Mogi, ``kind="mogi"``), switched on smoothly inside the series. The noise is
turbulent troposphere (power law, cm level), stratified troposphere (elevation dependent), a
long-wavelength ramp, phase noise and one unwrapping error (one 2*pi patch in one
interferogram: without any, MintPy 1.6.4's quick_overview plot crashes on clean data).
"""
import dataclasses
import datetime as dt
import json
import os

import numpy as np

WAVELENGTH = 0.05546576        # Sentinel-1 C band (m)
PIXEL_DEG = 1 / 1200           # 3 arcsec, ~90 m
LAT0, LON0 = 19.50, -155.40    # upper-left corner of the frame
HEADING = -12.0                # Sentinel-1 ascending
AZIMUTH_ANGLE = 102.0          # MintPy: LOS azimuth from north, anti-clockwise (= 90 - heading)


@dataclasses.dataclass
class Truth:
    """What the project was built from (all LOS metres, shape (num_date, length, width))."""
    dates: list
    deformation: np.ndarray        # true LOS deformation, 0 at the first date
    atmosphere: np.ndarray         # total tropospheric delay (turbulent + stratified + ramp)
    era5: np.ndarray               # the synthetic "ERA5" estimate written to inputs/ERA5.h5
    height: np.ndarray
    kind: str
    source: dict                   # source parameters and time history
    template_file: str
    work_dir: str


def build_project(work_dir, num_date=20, shape=(50, 60), kind="fault", seed=0, amplitude=0.03,
                  turbulence_std=(0.004, 0.012), name=None, template_options=None):
    """Write a synthetic MintPy project into ``work_dir``; return its :class:`Truth`.

    num_date         - acquisitions, 12 days apart from 2020-01-01 (>= 9)
    shape            - (length, width): rows and columns of the frame, 3 arc-second (~90 m) pixels
                       on a geographic grid (the Truth arrays are (num_date, length, width))
    kind             - "fault" (Okada) or "mogi"
    seed             - seed of every random draw (the same seed writes the same project)
    amplitude        - peak |LOS| of the final deformation (m)
    turbulence_std   - range of the per-date turbulent delay std (m)
    template_options - extra ``key: value`` lines for the template (e.g. {"mintpy.dlae": "yes"})

    Raises ValueError for a ``kind`` other than "fault" or "mogi" and for ``num_date`` < 9.
    """
    if kind not in ("fault", "mogi"):
        raise ValueError(f"kind = {kind!r}: expected 'fault' or 'mogi'")
    if num_date < 9:
        raise ValueError(f"num_date = {num_date}: the denoiser needs at least 9 dates")
    from mintpy.utils import network as pnet
    from mintpy.utils import writefile

    rng = np.random.default_rng(seed)
    length, width = shape
    work_dir = os.path.abspath(work_dir)
    os.makedirs(os.path.join(work_dir, "inputs"), exist_ok=True)
    name = name or f"Synth{kind.capitalize()}"

    dates = [(dt.date(2020, 1, 1) + dt.timedelta(days=12 * i)).strftime("%Y%m%d")
             for i in range(num_date)]
    days = 12.0 * np.arange(num_date)
    east, north = _grid_metres(length, width)
    height = _dem(shape, rng)
    incidence = (38.0 + 0.06 * (np.arange(width) - width / 2))[None, :].repeat(length, 0)
    azimuth = np.full(shape, AZIMUTH_ANGLE)

    los_final, source = _source_los(kind, east, north, incidence, azimuth, amplitude, rng)
    history, timing = _history(days, rng)
    source.update(timing, onset_date=dates[timing["onset_index"]],
                  end_date=dates[min(timing["end_index"], num_date - 1)])
    deformation = (history[:, None, None] * los_final[None]).astype(np.float32)

    turb, strat, ramp = _atmosphere(num_date, shape, height, east, north, rng, turbulence_std)
    atmosphere = (turb + strat + ramp).astype(np.float32)
    # ERA5 explains most of the stratified and long-wavelength delay, not the turbulence
    gain = rng.uniform(0.8, 1.0, num_date)[:, None, None]
    era5 = (gain * (strat + ramp) + 0.1 * turb.std() * _smooth_noise(num_date, shape, rng))
    era5 = era5.astype(np.float32)

    meta = _metadata(length, width)
    date12 = pnet.select_pairs_sequential(dates, num_conn=3, date_format="YYYYMMDD")
    observed = deformation + atmosphere
    bperp = rng.normal(0.0, 60.0, num_date).astype(np.float32)
    _write_ifgram_stack(os.path.join(work_dir, "inputs", "ifgramStack.h5"), observed, dates,
                        date12, bperp, meta, rng)
    writefile.write(
        {"height": height.astype(np.float32),
         "incidenceAngle": incidence.astype(np.float32),
         "azimuthAngle": azimuth.astype(np.float32),
         "slantRangeDistance": (8.5e5 + 25.0 * east / 1e3 + 0 * north).astype(np.float32),
         "waterMask": np.ones(shape, bool),
         "shadowMask": np.zeros(shape, bool)},
        out_file=os.path.join(work_dir, "inputs", "geometryGeo.h5"),
        metadata=dict(meta, FILE_TYPE="geometry"), print_msg=False)
    writefile.write(
        {"date": np.array(dates, np.bytes_), "timeseries": era5},
        out_file=os.path.join(work_dir, "inputs", "ERA5.h5"),
        metadata=dict(meta, FILE_TYPE="timeseries", UNIT="m"), print_msg=False)
    writefile.write(
        {"date": np.array(dates, np.bytes_), "bperp": bperp, "timeseries": deformation},
        out_file=os.path.join(work_dir, "truth.h5"),
        metadata=dict(meta, FILE_TYPE="timeseries", UNIT="m", REF_DATE=dates[0],
                      **{"mintpy.dlae.synthetic.kind": kind,
                         "mintpy.dlae.synthetic.source": json.dumps(source)}),
        print_msg=False)
    template_file = os.path.join(work_dir, f"{name}.txt")
    _write_template(template_file, shape, template_options)
    return Truth(dates=dates, deformation=deformation, atmosphere=atmosphere, era5=era5,
                 height=height, kind=kind, source=source, template_file=template_file,
                 work_dir=work_dir)


# ------------------------------------------------------------------------------ pieces
def _grid_metres(length, width):
    """East/north pixel-centre coordinates (m) relative to the frame centre."""
    lat_mid = np.deg2rad(LAT0 - PIXEL_DEG * length / 2)
    dy = PIXEL_DEG * 111_195.0
    dx = dy * np.cos(lat_mid)
    east = (np.arange(width) - (width - 1) / 2) * dx
    north = ((length - 1) / 2 - np.arange(length)) * dy
    return np.meshgrid(east, north)


def _dem(shape, rng):
    """A crop of matplotlib's real 3-arcsec sample DEM (reflected if the frame is larger)."""
    from mintpy_dlae.physics.terrain import jacksboro_dem
    dem = jacksboro_dem()
    reps = (int(np.ceil(shape[0] / dem.shape[0])), int(np.ceil(shape[1] / dem.shape[1])))
    if reps != (1, 1):
        dem = np.pad(dem, [(0, (r - 1) * s) for r, s in zip(reps, dem.shape)], mode="reflect")
    y0 = rng.integers(0, dem.shape[0] - shape[0] + 1)
    x0 = rng.integers(0, dem.shape[1] - shape[1] + 1)
    return dem[y0:y0 + shape[0], x0:x0 + shape[1]].astype(np.float64)


def _source_los(kind, east, north, incidence, azimuth, amplitude, rng):
    from mintpy_dlae.physics.los import enu2los
    extent = min(east.max() - east.min(), north.max() - north.min())
    xc, yc = rng.uniform(-0.15, 0.15, 2) * extent
    if kind == "fault":
        from mintpy_dlae.physics.okada import okada85
        src = dict(xc=float(xc), yc=float(yc), depth=float(rng.uniform(1500, 2500)),
                   strike=float(rng.uniform(0, 360)), dip=float(rng.uniform(40, 80)),
                   length=float(0.45 * extent), width=1500.0,
                   rake=float(rng.choice([0.0, 90.0, 180.0, -90.0]) + rng.uniform(-20, 20)))
        ue, un, uu = okada85(east, north, src["xc"], src["yc"], src["depth"], src["strike"],
                             src["dip"], src["length"], src["width"], src["rake"], 1.0)
    else:
        from mintpy_dlae.physics.mogi import mogi
        src = dict(xs=float(xc), ys=float(yc), depth=float(rng.uniform(1000, 2500)))
        ue, un, uu = mogi(east, north, src["xs"], src["ys"], src["depth"], 1.0)
    los = enu2los(ue, un, uu, incidence, azimuth)
    scale = amplitude / np.abs(los).max()
    src["slip" if kind == "fault" else "dvol"] = float(scale)
    src["peak_los_m"] = float(amplitude)
    return los * scale, dict(kind=kind, **src)


def _history(days, rng):
    """Smooth 0 -> 1 transient, switched on and finished strictly inside the series."""
    n = len(days)
    onset = int(rng.integers(max(2, n // 4), max(3, n // 2)))
    end = int(min(n - 2, onset + max(2, int(rng.uniform(0.2, 0.4) * n))))
    t = np.clip((days - days[onset]) / (days[end] - days[onset]), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * t), dict(onset_index=onset, end_index=end)


def _atmosphere(num_date, shape, height, east, north, rng, turbulence_std):
    from mintpy_dlae.physics.atmosphere import turbulence
    std = rng.uniform(*turbulence_std, num_date)[:, None, None]
    turb = turbulence(num_date, shape, rng) * std
    dh = (height - height.mean()) / 1000.0                     # km
    k1 = rng.normal(0.0, 0.02, num_date)[:, None, None]        # ~2 cm per km of relief
    k2 = rng.normal(0.0, 0.005, num_date)[:, None, None]
    strat = k1 * dh + k2 * (dh ** 2 - (dh ** 2).mean())
    span = max(np.ptp(east), np.ptp(north))
    a, b = rng.normal(0.0, 0.004, (2, num_date))[:, :, None, None]   # ~4 mm across the frame
    ramp = a * east / span + b * north / span
    return turb, strat, ramp


def _smooth_noise(num, shape, rng):
    from mintpy_dlae.physics.atmosphere import turbulence
    return turbulence(num, shape, rng, slope=11 / 3, outer_scale=200.0)


def _metadata(length, width):
    return {
        "PROCESSOR": "isce", "PLATFORM": "Sen", "PROJECT_NAME": "synthetic",
        "WAVELENGTH": WAVELENGTH, "LENGTH": length, "WIDTH": width,
        "ALOOKS": 1, "RLOOKS": 1, "RANGE_PIXEL_SIZE": 2.33, "AZIMUTH_PIXEL_SIZE": 14.1,
        "X_FIRST": LON0, "Y_FIRST": LAT0, "X_STEP": PIXEL_DEG, "Y_STEP": -PIXEL_DEG,
        "X_UNIT": "degrees", "Y_UNIT": "degrees", "EPSG": 4326,
        "HEADING": HEADING, "ORBIT_DIRECTION": "ASCENDING", "CENTER_LINE_UTC": 58000.0,
        "STARTING_RANGE": 8.0e5, "EARTH_RADIUS": 6371000.0, "HEIGHT": 693000.0,
        "ANTENNA_SIDE": -1,
    }


def _write_ifgram_stack(path, observed, dates, date12, bperp, meta, rng):
    from mintpy.utils import writefile
    index = {d: i for i, d in enumerate(dates)}
    pairs = [tuple(d.split("_")) for d in date12]
    i1 = np.array([index[a] for a, _ in pairs])
    i2 = np.array([index[b] for _, b in pairs])
    num = len(pairs)
    shape = observed.shape[1:]
    phase = (observed[i2] - observed[i1]) * (-4 * np.pi / WAVELENGTH)
    phase += rng.normal(0.0, 0.2, phase.shape)
    phase[num // 2, 2:6, 2:6] += 2 * np.pi                       # one small unwrapping error
    dt_days = 12.0 * (i2 - i1)
    coh = np.clip(0.95 - 0.001 * dt_days[:, None, None] + rng.normal(0, 0.02, (num,) + shape),
                  0.0, 1.0)
    writefile.write(
        {"date": np.array(pairs, np.bytes_), "bperp": (bperp[i2] - bperp[i1]).astype(np.float32),
         "dropIfgram": np.ones(num, bool), "unwrapPhase": phase.astype(np.float32),
         "coherence": coh.astype(np.float32),
         "connectComponent": np.ones((num,) + shape, np.int16)},
        out_file=path, metadata=dict(meta, FILE_TYPE="ifgramStack"), print_msg=False)


def _write_template(path, shape, options):
    length, width = shape
    lines = {
        "mintpy.load.processor": "isce",
        "mintpy.reference.yx": f"{length - 5},{width - 5}",
        "mintpy.troposphericDelay.method": "pyaps",
        "mintpy.troposphericDelay.weatherModel": "ERA5",
        "mintpy.deramp": "no",
        "mintpy.topographicResidual": "yes",
        "mintpy.plot": "no",
        "mintpy.compute.cluster": "none",
    }
    lines.update(options or {})
    with open(path, "w") as f:
        f.write("## synthetic MintPy project written by mintpy_dlae.project.build_project\n")
        for key, value in lines.items():
            f.write(f"{key:<40} = {value}\n")
    return path
