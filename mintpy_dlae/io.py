"""MintPy HDF5 input and output for mintpy_dlae.

Everything goes through MintPy's own readers and writers (``mintpy.utils.readfile`` and
``mintpy.utils.writefile``), so the files we write are ordinary MintPy files; only the time series
is read as a plain h5py slice (what readfile does for it, without the ``timeseries`` object that
fails on a REF_DATE outside the dates):

* :func:`check_timeseries`, :func:`check_geometry`, :func:`check_mask`, :func:`check_output`
  validate the inputs and raise :class:`DlaeInputError` (a ``ValueError``) naming the file, the
  dataset and the offending value;
* :func:`read_timeseries`, :func:`read_geometry`, :func:`read_mask` read one
  :class:`~mintpy_dlae.boxes.Box` (MintPy's (x0, y0, x1, y1) order is used only inside this module);
  :func:`plan_row_blocks` splits a frame into row blocks that fit in ``--ram``;
* :class:`AtomicOutputs` writes every output under a hidden temporary name in the destination folder
  and renames it only when all blocks are written, so an interrupted run never leaves a file that
  looks complete, and the input is never opened for writing;
* :func:`layout_timeseries`, :func:`layout_variance` and :func:`layout_cumulative` create the output
  files (same dates, bperp and metadata as the input, plus ``mintpy.dlae.*`` provenance) that
  :func:`write_block` / :func:`write_cumulative_block` fill.
"""
import datetime as dt
import logging
import math
import os
import re
import shutil
import socket

import h5py
import numpy as np
from mintpy.utils import readfile, writefile

from mintpy_dlae.boxes import Box, split
from mintpy_dlae.constants import HEIGHT_VOID_BELOW, WINDOW  # noqa: F401 (HEIGHT_VOID_BELOW: io's name too)

log = logging.getLogger(__name__)

MIN_NUM_DATE = WINDOW                  # one 9-date window of the network
METRE_UNITS = ("m", "meter", "meters", "metre", "metres")
OTHER_LENGTH_UNITS = ("mm", "cm", "dm", "km", "millimeter", "millimeters", "millimetre", "millimetres",
                      "centimeter", "centimeters", "centimetre", "centimetres")
MASK_DATASETS = ("mask", "waterMask")  # maskTempCoh.h5 / maskConnComp.h5, waterMask.h5
CUMULATIVE_FILE_TYPE = "cumulative"
CUMULATIVE_PREFIX = "cumulative"
STD_PREFIX = "cumulativeStd"           # 1-sigma of each cumulative map, metres
SIGNIFICANCE_PREFIX = "significance"   # |cumulative| / cumulativeStd, unitless
# the full-year date forms of mintpy.utils.ptime.get_date_str_format that a time series' 'date' uses
DATE_FORMATS = {re.compile(r"\d{8}"): "%Y%m%d", re.compile(r"\d{8}T\d{4}"): "%Y%m%dT%H%M",
                re.compile(r"\d{8}T\d{6}"): "%Y%m%dT%H%M%S"}




class DlaeInputError(ValueError):
    """Bad input or output for mintpy_dlae: the message names the file, dataset and value."""


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------
def pixel_spacing(atr):
    """Ground pixel spacing (dy, dx) in metres of a MintPy file from its attributes, or None when
    they do not say.

    Geocoded in degrees (``X_FIRST``, ``Y_UNIT`` degrees, or no ``Y_UNIT`` and a step below 1):
    geodesic lengths of one ``Y_STEP`` and one ``X_STEP`` at the frame's centre on the WGS84
    ellipsoid (pyproj.Geod); geocoded in metres: ``|Y_STEP|``, ``|X_STEP|``; radar coordinates: ``AZIMUTH_PIXEL_SIZE`` and ``RANGE_PIXEL_SIZE`` /
    sin(``CENTER_INCIDENCE_ANGLE``) (ground range; MintPy's ``range_ground_resolution``), which
    MintPy's multilook step keeps up to date.
    """
    try:
        if "X_FIRST" in atr and "X_STEP" in atr and "Y_STEP" in atr:
            ystep, xstep = abs(float(atr["Y_STEP"])), abs(float(atr["X_STEP"]))
            unit = str(atr.get("Y_UNIT", "")).lower()
            if unit.startswith("deg") or (unit not in ("m", "meter", "meters", "metre", "metres") and ystep < 1):
                import pyproj
                lat = float(atr["Y_FIRST"]) - ystep * int(atr["LENGTH"]) / 2
                lon = float(atr["X_FIRST"]) + xstep * int(atr["WIDTH"]) / 2
                geod = pyproj.Geod(ellps="WGS84")
                dy = geod.inv(lon, lat - ystep / 2, lon, lat + ystep / 2)[2]
                dx = geod.inv(lon - xstep / 2, lat, lon + xstep / 2, lat)[2]
                spacing = float(dy), float(dx)
            else:
                spacing = ystep, xstep
        elif "RANGE_PIXEL_SIZE" in atr and "AZIMUTH_PIXEL_SIZE" in atr and "CENTER_INCIDENCE_ANGLE" in atr:
            inc = math.radians(float(atr["CENTER_INCIDENCE_ANGLE"]))
            spacing = float(atr["AZIMUTH_PIXEL_SIZE"]), float(atr["RANGE_PIXEL_SIZE"]) / math.sin(inc)
        else:
            return None
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    return spacing if all(math.isfinite(v) and v > 0 for v in spacing) else None


def _check_h5(path, what):
    path = os.fspath(path)
    if os.path.isdir(path):
        raise DlaeInputError(f"{path} is a folder, not a {what} file (give the .h5 file inside it)")
    if not os.path.isfile(path):
        raise DlaeInputError(f"{what} file not found: {path}")
    if os.path.splitext(path)[1].lower() not in (".h5", ".he5"):
        raise DlaeInputError(f"{path}: {what} file must be a MintPy HDF5 file (*.h5)")
    try:
        with h5py.File(path, "r"):
            pass
    except OSError as err:
        raise DlaeInputError(f"{path}: cannot open {what} file as HDF5 ({err})") from err
    return path


def _datasets(path):
    with h5py.File(path, "r") as f:
        return {k: f[k].shape for k in f.keys() if isinstance(f[k], h5py.Dataset)}


def check_timeseries(path, min_num_date=MIN_NUM_DATE):
    """Validate a MintPy time-series file; return its metadata (``readfile.read_attribute``).

    Raises DlaeInputError for: a missing or non-HDF5 file, FILE_TYPE other than timeseries, a
    missing ``timeseries``/``date`` dataset or a ``timeseries`` group instead of a dataset, a
    ``timeseries`` that is not 3D, not floating point (integer, complex, bool) or has 0 rows or
    columns (empty frame), fewer than ``min_num_date`` dates, a UNIT other than metres (e.g.
    radian), missing LENGTH/WIDTH attributes or ones that differ from the dataset's shape, and a
    ``date`` dataset whose length differs from the number of slices, with a value that is not a
    YYYYMMDD (or YYYYMMDDTHHMM[SS]) string of a calendar date, or with dates not strictly increasing
    (unsorted or duplicate). A REF_DATE that is not one of the dates is accepted (docs/usage.md:
    the run warns and uses the first date; :func:`read_timeseries` does not need it).
    """
    path = _check_h5(path, "time-series")
    with h5py.File(path, "r") as f:
        if isinstance(f.get("timeseries"), h5py.Group):
            raise DlaeInputError(f"{path}: 'timeseries' is an HDF5 group, not a dataset (a MintPy "
                                 "time-series file has a 3D 'timeseries' dataset)")
        dtype = f["timeseries"].dtype if "timeseries" in f else None
    dsets = _datasets(path)
    with h5py.File(path, "r") as f:                    # FILE_TYPE first: the size may be missing
        ftype = f.attrs.get("FILE_TYPE")
    ftype = ftype.decode() if isinstance(ftype, bytes) else ftype
    if ftype != "timeseries" or "timeseries" not in dsets:
        raise DlaeInputError(
            f"{path}: FILE_TYPE = {ftype!r}, expected 'timeseries' (a MintPy time-series file "
            f"such as timeseries_ERA5.h5 with a 3D 'timeseries' dataset; found {sorted(dsets)})")
    shape = dsets["timeseries"]
    if len(shape) != 3:
        raise DlaeInputError(f"{path}: dataset 'timeseries' has shape {shape}, expected 3D")
    atr = _attributes(path, "timeseries", shape)
    if dtype.kind != "f":
        raise DlaeInputError(f"{path}: dataset 'timeseries' has dtype {dtype}; MintPy time series "
                             "are floating point (float32, metres)")
    if 0 in shape[1:]:
        raise DlaeInputError(f"{path}: dataset 'timeseries' has shape {shape}: empty frame "
                             "(0 rows or columns)")
    if "date" not in dsets:
        raise DlaeInputError(f"{path}: dataset 'date' is missing")
    num_date = shape[0]
    if num_date < min_num_date:
        raise DlaeInputError(
            f"{path}: dataset 'timeseries' has {num_date} dates, mintpy_dlae needs at least "
            f"{min_num_date} (one 9-date window)")
    _check_dates(path, num_date)
    unit = _timeseries_unit(path, atr)
    if unit is not None and unit.lower() not in METRE_UNITS:
        raise DlaeInputError(
            f"{path}: dataset 'timeseries' has UNIT = {unit!r}, expected metres ('m'); "
            + ("convert it to metres first (e.g. divide millimetres by 1000 and set UNIT = m)"
               if unit.lower() in OTHER_LENGTH_UNITS else
               "give a displacement time series in metres (MintPy's timeseries*.h5; radians: convert "
               "phase to displacement first)"))
    return atr


def _attributes(path, dset, shape):
    """readfile.read_attribute, with LENGTH and WIDTH present, integer and equal to the last two
    axes of ``dset`` (``shape``; None: not checked)."""
    try:
        atr = readfile.read_attribute(path)
    except ValueError:  # MintPy: "No attribute WIDTH found in file"; name what is missing
        with h5py.File(path, "r") as f:
            atr = dict(f.attrs)
    for key, axis in (("LENGTH", -2), ("WIDTH", -1)):
        if key not in atr:
            raise DlaeInputError(f"{path}: attribute {key} is missing (MintPy reads the size of "
                                 f"dataset {dset!r}, shape {shape}, from LENGTH and WIDTH)")
        try:
            size = int(atr[key])
        except (TypeError, ValueError):
            raise DlaeInputError(f"{path}: attribute {key} = {atr[key]!r} is not an integer") from None
        if shape is not None and len(shape) >= 2 and size != shape[axis]:
            raise DlaeInputError(f"{path}: attribute {key} = {atr[key]} does not match dataset "
                                 f"{dset!r} of shape {shape}")
    return atr


def _check_dates(path, num_date):
    """The ``date`` dataset: ``num_date`` strictly increasing YYYYMMDD[THHMM[SS]] calendar dates."""
    with h5py.File(path, "r") as f:
        raw = np.asarray(f["date"][()])
    if raw.ndim != 1 or len(raw) != num_date:
        raise DlaeInputError(f"{path}: dataset 'date' has shape {raw.shape}, expected ({num_date},) "
                             f"like the {num_date} slices of dataset 'timeseries'")
    dates, times = [], []
    for i, value in enumerate(raw.tolist()):
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        fmt = next((f for r, f in DATE_FORMATS.items() if isinstance(text, str) and r.fullmatch(text)),
                   None)
        try:
            times.append(dt.datetime.strptime(text, fmt))
        except (TypeError, ValueError):
            raise DlaeInputError(f"{path}: dataset 'date' value {value!r} (index {i}, dtype "
                                 f"{raw.dtype}) is not a YYYYMMDD date string") from None
        dates.append(text)
        if i and times[i] <= times[i - 1]:
            what = "duplicate date" if times[i] == times[i - 1] else "date out of order"
            raise DlaeInputError(f"{path}: dataset 'date' must be strictly increasing: {what} "
                                 f"{text} (index {i}) after {dates[i - 1]}")
    return dates


def _timeseries_unit(path, atr):
    with h5py.File(path, "r") as f:
        unit = f["timeseries"].attrs.get("UNIT", atr.get("UNIT"))
    if isinstance(unit, bytes):
        unit = unit.decode()
    return None if unit is None else str(unit)


def check_geometry(path, shape, ts_file=None):
    """Validate a geometry file: ``height`` present, 2D shape equal to ``shape`` (length, width).

    Returns the list of optional angle datasets present (``incidenceAngle``, ``azimuthAngle``).
    Raises DlaeInputError for: a missing or non-HDF5 file, no ``height`` dataset, a ``height`` or
    angle dataset that is not 2D or whose shape differs from ``shape``, and LENGTH/WIDTH attributes
    that are missing or differ from the shape of ``height``.
    """
    path = _check_h5(path, "geometry")
    dsets = _datasets(path)
    if "height" not in dsets:
        raise DlaeInputError(f"{path}: dataset 'height' not found in the geometry file "
                             f"(datasets: {sorted(dsets)})")
    angles = [d for d in ("incidenceAngle", "azimuthAngle") if d in dsets]
    for d in ["height"] + angles:
        _check_shape(path, d, dsets[d], shape, ts_file)
    _attributes(path, "height", dsets["height"])
    return angles


GRID_KEYS = ("Y_FIRST", "X_FIRST", "Y_STEP", "X_STEP")


def warn_grid_mismatch(ts_file, ts_atr, other_file, what):
    """Log a warning when ``other_file`` (a geometry or mask of the same size as ``ts_file``) is on
    another geocoded grid: its Y_FIRST/X_FIRST/Y_STEP/X_STEP differ from those of the time series
    (``ts_atr``): the corner by more than half a pixel or a step by more than 1 %. Files without these
    attributes (radar coordinates) are not compared. Returns True when it warned."""
    try:
        atr = readfile.read_attribute(os.fspath(other_file))
        a = [float(ts_atr[k]) for k in GRID_KEYS]
        b = [float(atr[k]) for k in GRID_KEYS]
    except (KeyError, TypeError, ValueError, OSError):
        return False
    # the corner within half a pixel, the steps within 1 %: rounding of the attributes (float32, few
    # decimals) stays far inside both
    same_corner = abs(a[0] - b[0]) <= 0.5 * abs(a[2]) and abs(a[1] - b[1]) <= 0.5 * abs(a[3])
    same_step = abs(a[2] - b[2]) <= 0.01 * abs(a[2]) and abs(a[3] - b[3]) <= 0.01 * abs(a[3])
    if same_corner and same_step:
        return False
    log.warning("%s: the %s is on another grid than %s (Y_FIRST/X_FIRST = %g/%g, step %g/%g, against "
                "%g/%g, step %g/%g): of another area or resolution? Its pixels are used one for one with "
                "the time series' pixels", other_file, what, ts_file, b[0], b[1], b[2], b[3], a[0], a[1],
                a[2], a[3])
    return True


def check_mask(path, shape, ts_file=None, dataset=None):
    """Validate a mask file; return the name of its mask dataset (``mask`` or ``waterMask``).

    Raises DlaeInputError for: a missing or non-HDF5 file, no 2D mask dataset (or no ``dataset``),
    a mask whose shape differs from ``shape``, LENGTH/WIDTH attributes that are missing or differ
    from the mask's shape, a floating-point dataset with values other than 0, 1 and NaN (e.g.
    temporalCoherence: not a mask), and a dtype that is neither bool, integer nor floating point.
    Bool and integer datasets are accepted whatever their values: :func:`read_mask` counts every
    non-zero value as valid (NaN in a float mask is invalid).
    """
    path = _check_h5(path, "mask")
    dsets = _datasets(path)
    if dataset is None:
        names = [d for d in MASK_DATASETS if d in dsets]
        names += [d for d, s in dsets.items() if len(s) == 2 and d not in names]
        if not names:
            raise DlaeInputError(f"{path}: no 2D mask dataset found (expected one of "
                                 f"{list(MASK_DATASETS)}; datasets: {sorted(dsets)})")
        dataset = names[0]
    elif dataset not in dsets:
        raise DlaeInputError(f"{path}: dataset {dataset!r} not found (datasets: {sorted(dsets)})")
    _check_shape(path, dataset, dsets[dataset], shape, ts_file)
    _attributes(path, dataset, dsets[dataset])
    with h5py.File(path, "r") as f:
        dtype = f[dataset].dtype
        # a float dataset other than 0/1 (temporalCoherence, height, ...) is not a mask: "value != 0"
        # would keep nearly every pixel without a word
        if dtype.kind == "f":
            data = f[dataset][()]
            other = bool(np.any(~np.isin(data, (0, 1)) & ~np.isnan(data)))
        else:
            other = dtype.kind not in "biu"
    if other:
        which = (f"has no {' or '.join(repr(m) for m in MASK_DATASETS)} dataset, and its dataset {dataset!r}"
                 if dataset not in MASK_DATASETS else f"dataset {dataset!r}")
        raise DlaeInputError(f"{path}: {which} holds {dtype} values other than 0 and 1, not a mask; "
                             "make one first, e.g. generate_mask.py temporalCoherence.h5 -m 0.7 -o maskTempCoh.h5")
    return dataset


def _check_shape(path, dset, got, want, ts_file):
    if len(got) != 2:
        raise DlaeInputError(f"{path}: dataset {dset!r} has shape {tuple(got)}, expected 2D "
                             f"{tuple(want)}")
    if tuple(got) != tuple(want):
        src = f" of {ts_file}" if ts_file else ""
        raise DlaeInputError(f"{path}: dataset {dset!r} has shape {tuple(got)}, different from "
                             f"the time series{src} {tuple(want)}")


def check_writable_dir(path):
    """Raise DlaeInputError if the folder of ``path`` cannot be written to."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise DlaeInputError(f"{path}: output folder does not exist: {folder}")
    probe = os.path.join(folder, f".dlae-write-test.{os.getpid()}")
    try:
        if not os.access(folder, os.W_OK):
            raise PermissionError(folder)
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError as err:
        why = err.strerror or "no write permission"      # PermissionError(folder) has no strerror
        raise DlaeInputError(f"{path}: output folder {folder} is read-only ({why})") from err


def check_free_space(sizes):
    """Raise DlaeInputError when a file system lacks the room for the outputs: ``sizes`` maps output
    paths to their size in bytes (an estimate); the outputs of one folder are summed (they are written
    as temporary files next to the final names, so an output that replaces an older one needs its
    full size too). A full disk would otherwise stop the run when it writes, after the network's
    work, with HDF5 errors."""
    need = {}
    for path, size in sizes.items():
        folder = os.path.dirname(os.path.abspath(path))
        need[folder] = need.get(folder, 0) + int(size)
    for folder, size in need.items():
        free = shutil.disk_usage(folder).free
        if size > free:
            raise DlaeInputError(f"{folder}: the outputs need about {size / 2**20:.1f} MiB and its file system "
                                 f"has {free / 2**20:.1f} MiB free; free some space or write elsewhere (-o)")


def check_output(out_files, in_files, update=False, force=False):
    """Decide 'run' or 'skip' for existing outputs, MintPy-style.

    * none of ``out_files`` exist            -> 'run'
    * ``force``                              -> 'run' (outputs are overwritten)
    * ``update``, all outputs present and the first (main) output newer than every input
      -> 'skip' (the caller still compares the recorded ``mintpy.dlae.*`` options, see
      :func:`provenance_matches`); otherwise 'run'. Only the main output's time counts because
      MintPy's reference_date step edits the time-series files of the chain in place.
    * otherwise                              -> DlaeInputError (never overwrite silently)

    Returns 'run' or 'skip'.  Raises DlaeInputError also, before looking at the files' times, when
    an output path is a folder, does not end in .h5, or is one of ``in_files`` (also through a
    symbolic link of either).
    """
    out_files = [os.fspath(f) for f in out_files]
    in_abs = {os.path.abspath(f) for f in in_files if f}
    in_real = {os.path.realpath(f): f for f in in_files if f}     # the same file through a link
    for f in out_files:
        if os.path.isdir(f):
            raise DlaeInputError(f"{f}: output is a folder; give a file name such as "
                                 f"{os.path.join(f, 'timeseries_DLAE.h5')}")
        if not f.endswith(".h5"):
            raise DlaeInputError(f"{f}: output must be an HDF5 file ending in .h5 (MintPy reads files by "
                                 "their extension)")
        if os.path.abspath(f) in in_abs:
            raise DlaeInputError(f"{f}: output file is also an input file; choose another -o")
        if os.path.realpath(f) in in_real:
            raise DlaeInputError(f"{f}: output file is the input file {in_real[os.path.realpath(f)]} "
                                 f"(through a symbolic link: both are {os.path.realpath(f)}); choose another -o")
    existing = [f for f in out_files if os.path.exists(f)]
    if not existing:
        return "run"
    if force:
        return "run"
    if update:
        missing = [f for f in out_files if f not in existing]
        if missing:
            log.info("%s does not exist: run again", missing[0])
            return "run"
        newest = max((f for f in in_files if f), key=os.path.getmtime)
        if os.path.getmtime(out_files[0]) >= os.path.getmtime(newest):
            return "skip"
        log.info("%s is newer than %s: run again", newest, out_files[0])
        return "run"
    raise DlaeInputError(f"{existing[0]}: output file exists; use --update to skip it when it is "
                         "up to date, or --force to overwrite it")


def set_attribute(path, key, value):
    """Set the root attribute ``key`` of the HDF5 file ``path`` to the string ``value``."""
    with h5py.File(path, "a") as f:
        f.attrs[key] = str(value)


# provenance keys that outputs of earlier versions lack, with the value those versions used
# (mintpy.dlae.scales: one pass before 2026-12-03)
PROVENANCE_BEFORE = {"mintpy.dlae.scales": "1"}


def provenance_matches(path, attrs):
    """True if every ``mintpy.dlae.*`` key in ``attrs`` has the same value in the file ``path`` (a
    key of :data:`PROVENANCE_BEFORE` that the file lacks has that value)."""
    try:
        meta = readfile.read_attribute(path)
    except Exception:  # unreadable -> rerun
        return False
    return all(str(meta.get(k, PROVENANCE_BEFORE.get(k))) == str(v) for k, v in attrs.items())


def provenance_changes(path, attrs):
    """The ``mintpy.dlae.*`` keys of ``attrs`` whose value in the file ``path`` differs:
    [(key, value in the file or None, value in attrs)]; [(None, None, None)] for an unreadable file."""
    try:
        meta = readfile.read_attribute(path)
    except Exception:
        return [(None, None, None)]
    return [(k, meta.get(k, PROVENANCE_BEFORE.get(k)), str(v)) for k, v in attrs.items()
            if str(meta.get(k, PROVENANCE_BEFORE.get(k))) != str(v)]


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------
def _mintpy_box(box):
    """MintPy's (x0, y0, x1, y1) of a Box (None: the whole frame). Plain tuples are refused: their
    order is ambiguous (MintPy's or numpy's)."""
    if box is None:
        return None
    if not isinstance(box, Box):
        raise TypeError(f"expected a mintpy_dlae.boxes.Box, got {box!r}")
    return box.mintpy


def read_timeseries(path, box=None):
    """Read ``timeseries`` in ``box`` (a Box; None: the whole frame) as float32 (num_date, rows, cols),
    in the file's unit (metres for a file that passed :func:`check_timeseries`), no-data as stored
    (0 or NaN).  Raises TypeError for a box that is not a Box.

    Read with h5py, as MintPy's readfile.read would (a plain slice of the dataset): MintPy's reader
    opens the file as a ``timeseries`` object, which fails on a REF_DATE that is not one of the
    dates, and docs/usage.md promises a warning and the first date for that case.
    """
    _mintpy_box(box)                   # a Box, not an ambiguous tuple
    rows, cols = (slice(None), slice(None)) if box is None else box.slices
    with h5py.File(path, "r") as f, np.errstate(over="ignore"):      # a float64 fill of 1e300 becomes inf
        return np.asarray(f["timeseries"][:, rows, cols], dtype=np.float32)


def read_timeseries_date(path, index):
    """Read date number ``index`` of ``timeseries`` as a float32 (rows, cols) array."""
    with h5py.File(path, "r") as f, np.errstate(over="ignore"):
        return np.asarray(f["timeseries"][int(index)], dtype=np.float32)


def read_timeseries_info(path):
    """Dates (list of YYYYMMDD str), bperp (or None) and raw root attributes of a time-series file."""
    with h5py.File(path, "r") as f:
        dates = [d.decode() if isinstance(d, bytes) else str(d) for d in f["date"][:]]
        bperp = f["bperp"][:] if "bperp" in f else None
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    return dates, bperp, attrs


def read_geometry(path, box=None, angles=("incidenceAngle", "azimuthAngle")):
    """Read ``height`` and, when present, the LOS angles in ``box`` (a Box; None: the whole frame).

    Returns a dict of float32 (rows, cols) arrays: "height" (metres; NaN where the file's value is below
    HEIGHT_VOID_BELOW, a DEM void such as -32768) and each name in ``angles``
    (by default "incidenceAngle" and "azimuthAngle", degrees, MintPy's convention,
    :mod:`mintpy_dlae.physics.los`), None for one the file lacks.  Raises TypeError for a box that
    is not a Box.
    """
    present = _datasets(path)
    box = _mintpy_box(box)
    out = {"height": readfile.read(path, datasetName="height", box=box, print_msg=False)[0]}
    for name in angles:
        out[name] = (readfile.read(path, datasetName=name, box=box, print_msg=False)[0]
                     if name in present else None)
    out = {k: None if v is None else np.asarray(v, dtype=np.float32) for k, v in out.items()}
    with np.errstate(invalid="ignore"):
        out["height"][out["height"] < HEIGHT_VOID_BELOW] = np.nan     # DEM voids (-32768, -9999)
    return out


AUTO_MASK = "maskTempCoh.h5"


def auto_mask_file(ts_file, shape):
    """The mask that ``mintpy.dlae.maskFile = auto`` uses for ``ts_file``, or None.

    MintPy's ``auto`` masks (``mintpy.deramp.maskFile`` and others) are ``maskTempCoh.h5`` in the
    work folder: here the one next to the time series (``geo_maskTempCoh.h5`` first for a
    ``geo_`` file, as ``geocode.py`` names them). Without the mask, decorrelated pixels enter the
    network with values of centimetres, which spread over its view (docs/usage.md, "The mask").
    A file that is not a valid mask of ``shape`` is not used, with a warning. Returns the path (in the time series' folder) or None when there is none to use."""
    folder, name = os.path.split(os.fspath(ts_file))
    names = ([f"geo_{AUTO_MASK}"] if name.startswith("geo_") else []) + [AUTO_MASK]
    rejected = []
    for candidate in (os.path.join(folder, n) for n in names):
        if not os.path.isfile(candidate):
            continue
        try:
            check_mask(candidate, shape, ts_file)
        except DlaeInputError as err:
            log.warning("mask auto: %s is not used: %s", candidate, err)
            rejected.append(os.path.basename(candidate))
            continue
        log.info("mask: %s (mintpy.dlae.maskFile = auto; -m no, or mintpy.dlae.maskFile = no in a "
                 "template, denoises every pixel with data)", candidate)
        return candidate
    why = (f"{' and '.join(rejected)} next to {ts_file} not usable, see the warning above" if rejected
           else f"no {AUTO_MASK} next to {ts_file}")
    log.info("mask: none (mintpy.dlae.maskFile = auto and %s): every pixel with data "
             "enters the network; -m FILE (mintpy.dlae.maskFile = FILE) leaves decorrelated pixels out", why)
    return None


def read_mask(path, box=None, dataset=None):
    """Read a mask in ``box`` as bool, True = valid (non-zero and finite)."""
    dataset = dataset or _first_2d(path)
    data = readfile.read(path, datasetName=dataset, box=_mintpy_box(box), print_msg=False)[0]
    data = np.asarray(data)
    if data.dtype == bool:
        return data
    return np.isfinite(data) & (data != 0)


def _first_2d(path):
    dsets = _datasets(path)
    for name in MASK_DATASETS:
        if name in dsets:
            return name
    return next(d for d, s in dsets.items() if len(s) == 2)


def nodata_value(path, atr=None, nan_pixels=None):
    """The no-data value of a time-series file: NaN if it says so or holds NaN, else 0 (MintPy).

    ``nan_pixels`` (when known, e.g. from denoise_file.scan_input): whether some pixels are NaN on every
    date with data; NaN holes on a few dates, or an all-NaN missing date, do not make NaN the
    no-data value of the file.  Without it (a cheaper guess): NaN if the last date holds any NaN.
    """
    atr = atr or readfile.read_attribute(path)
    value = str(atr.get("NO_DATA_VALUE", "none")).lower()
    if value == "nan":
        return np.nan
    if nan_pixels is not None:
        return np.nan if nan_pixels else 0.0
    with h5py.File(path, "r") as f:
        last = f["timeseries"][-1]
    return np.nan if np.isnan(last).any() else 0.0


# --------------------------------------------------------------------------------------------
# blocks
# --------------------------------------------------------------------------------------------
def plan_row_blocks(length, width, num_date, max_memory=4.0, halo=0, min_rows=16):
    """Split the frame into full-width row blocks (a list of Box) so that the process stays within
    ``max_memory`` GB when each block is read with ``halo`` rows of context above and below.

    Measured (benchmarks/memory.py): the arrays of one block take about 10 float32 layers per date
    (input, network copy, stitched series and its std, cumulative maps and their std, the driver's
    output copies), and the TensorFlow runtime with the model and the capped network activations
    about 1 GB on top. The blocks get a quarter of ``max_memory``, so MintPy's default of 4 GB gives
    a peak RSS near 2 GB (1.88 GiB measured on 100 x 1000 x 1000, docs/benchmarks.md; the driver
    works in place where it can, so the 10 layers are an upper bound). Blocks are evened out
    (:func:`mintpy_dlae.boxes.split`). Raises DlaeInputError when ``max_memory`` is not a positive
    finite number (NaN, inf, 0, negative).
    """
    try:
        ok = math.isfinite(max_memory) and max_memory > 0
    except TypeError:
        ok = False
    if not ok:
        raise DlaeInputError(f"max_memory (--ram) = {max_memory!r}: a positive finite number of GB "
                             "is required")
    num_layer = 10 * num_date + 10
    bytes_per_row = width * num_layer * 4
    rows = int(max_memory / 4 * 1024 ** 3 // bytes_per_row) - 2 * halo
    rows = min(max(rows, min_rows), length)
    return [core for core, _ in split(Box.frame(length, width), (length, width), rows=rows)]


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------
class AtomicOutputs:
    """Temporary files next to the final outputs, renamed only on success.

    >>> with AtomicOutputs([ts_out, cum_out]) as tmp:
    ...     layout_timeseries(tmp[ts_out], ...)   # write blocks into tmp[...]
    The first path is renamed last, so its presence means all outputs are complete. On error
    every temporary file is removed and existing outputs are left as they were.
    """

    def __init__(self, paths):
        self.paths = [os.path.abspath(os.fspath(p)) for p in paths]
        self.tmp = {p: os.path.join(os.path.dirname(p), f".{os.path.basename(p)}.{_run_tag()}.tmp")
                    for p in self.paths}
        # look-ups work with the paths as given (relative or absolute)
        self._by_name = dict(self.tmp)
        self._by_name.update({os.fspath(p): self.tmp[os.path.abspath(os.fspath(p))] for p in paths})

    def __enter__(self):
        for path in self.paths:
            remove_orphan_temporaries(path)
        return self._by_name

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            for path in reversed(self.paths):
                if os.path.exists(self.tmp[path]):
                    os.replace(self.tmp[path], path)
        else:
            self.discard()
        return False

    def discard(self):
        for tmp in self.tmp.values():
            if os.path.exists(tmp):
                os.remove(tmp)


def _run_tag():
    """<host>-<pid> of this process: names its temporary files (a folder may be shared by nodes)."""
    return f"{socket.gethostname()}-{os.getpid()}"


def remove_orphan_temporaries(path):
    """Remove the temporary files ``.<name>.<host>-<pid>.tmp`` of ``path`` that a run on this host
    left when it was killed (SIGKILL, out of memory) before it could clean up: those whose process
    no longer exists. Files of other hosts (a folder shared by cluster nodes) are left alone."""
    folder, name = os.path.split(os.path.abspath(path))
    prefix = f".{name}.{socket.gethostname()}-"
    for entry in os.listdir(folder):
        pid = entry[len(prefix):-len(".tmp")] if entry.startswith(prefix) and entry.endswith(".tmp") else ""
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)                 # the process is alive (or not ours): keep its file
        except ProcessLookupError:
            os.remove(os.path.join(folder, entry))
            log.info("removed %s, left by an interrupted run (process %s)", entry, pid)
        except OSError:
            pass


def input_compression(ref_file, dataset="timeseries"):
    """The HDF5 compression filter of ``dataset`` in ``ref_file`` ("gzip", "lzf") or None.

    The outputs are written with the input's filter (MintPy's writers take it as ``compression``),
    so a project that compresses its time series does not get outputs 1.5-2 times larger than
    their input; MintPy's own time series are uncompressed, and so are the outputs then."""
    with h5py.File(ref_file, "r") as f:
        obj = f.get(dataset)
        return obj.compression if isinstance(obj, h5py.Dataset) else None


def layout_timeseries(out_file, ref_file, extra_meta=None):
    """Create an empty time-series file with the dates, bperp and metadata of ``ref_file``.

    Root attributes are copied verbatim (plus ``extra_meta``), and so are dataset-level attributes
    such as UNIT, so MintPy sees the same file apart from the data and the provenance keys. A
    REF_DATE that is not one of the dates (which MintPy's readers fail on) becomes the first date,
    the date such a run references the output to. The datasets take the compression filter of the
    input's ``timeseries`` (:func:`input_compression`).
    """
    with h5py.File(ref_file, "r") as f:
        meta = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
        dset_attrs = {k: dict(f[k].attrs) for k in f.keys() if isinstance(f[k], h5py.Dataset)}
    dates = read_timeseries_info(ref_file)[0]
    if meta.get("REF_DATE") is not None and str(meta["REF_DATE"]) not in dates:
        meta["REF_DATE"] = dates[0]   # not a date of the file: the run references to the first date
    meta.update(extra_meta or {})
    writefile.layout_hdf5(out_file, metadata=meta, ref_file=ref_file, print_msg=False,
                          compression=input_compression(ref_file))
    with h5py.File(out_file, "a") as f:
        for name, attrs in dset_attrs.items():
            if name in f:
                for key, value in attrs.items():
                    f[name].attrs[key] = value
    return out_file


def cumulative_names(dates, window=MIN_NUM_DATE):
    """Dataset names of the moving-window cumulative maps: cumulative_<first>_<last>."""
    return [f"{CUMULATIVE_PREFIX}_{dates[k]}_{dates[k + window - 1]}"
            for k in range(len(dates) - window + 1)]


def std_names(names):
    """cumulativeStd_<first>_<last>: the 1-sigma of each cumulative map."""
    return [STD_PREFIX + n[len(CUMULATIVE_PREFIX):] for n in names]


def significance_names(names):
    """significance_<first>_<last>: |cumulative| / cumulativeStd of each window."""
    return [SIGNIFICANCE_PREFIX + n[len(CUMULATIVE_PREFIX):] for n in names]


def layout_cumulative(out_file, ref_file, dates, extra_meta=None, window=MIN_NUM_DATE,
                      uncertainty=False):
    """Create the cumulative-maps file: 2D float32 datasets, one per 9-date window and product.

    ``cumulative_YYYYMMDD_YYYYMMDD`` (metres) is named after its window's first and last date (so
    ``view.py`` titles every map with its dates); with ``uncertainty`` also
    ``cumulativeStd_YYYYMMDD_YYYYMMDD`` (1-sigma, metres) and ``significance_YYYYMMDD_YYYYMMDD``
    (|cumulative| / cumulativeStd, UNIT 1), so ``view.py FILE cumulativeStd`` / ``significance``
    shows each group with its unit. Every map carries DATE12/START_DATE/END_DATE and UNIT
    attributes, and the ``date`` dataset (num_window, 2) lists the window pairs for programs.
    The maps take the compression filter of the input's ``timeseries`` (:func:`input_compression`).
    Returns the names of the cumulative maps.
    """
    with h5py.File(ref_file, "r") as f:
        meta = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    length, width = int(meta["LENGTH"]), int(meta["WIDTH"])
    names = cumulative_names(dates, window)
    units = {n: "m" for n in names}
    if uncertainty:
        units.update({n: "m" for n in std_names(names)})
        units.update({n: "1" for n in significance_names(names)})
    meta.update(extra_meta or {})
    meta.pop("REF_DATE", None)  # differences between dates: no reference date
    meta.update(FILE_TYPE=CUMULATIVE_FILE_TYPE, UNIT="m", START_DATE=dates[0], END_DATE=dates[-1])
    pairs = np.array([[dates[k], dates[k + window - 1]] for k in range(len(names))], np.bytes_)
    ds = {"date": [pairs.dtype, pairs.shape, pairs]}   # S8, or longer for dates with a time of day
    ds.update({name: [np.float32, (length, width), None] for name in units})
    writefile.layout_hdf5(out_file, ds, metadata=meta, ds_unit_dict=units, print_msg=False,
                          compression=input_compression(ref_file))
    with h5py.File(out_file, "a") as f:
        for name in units:
            d0, d1 = name.split("_")[-2:]
            f[name].attrs.update(DATE12=f"{d0[2:]}-{d1[2:]}", START_DATE=d0, END_DATE=d1,
                                 UNIT=units[name])
    return names


def layout_variance(out_file, ref_file, extra_meta=None):
    """Create the variance file of the denoised series, in the form ``timeseries2velocity.py --uq
    covariance --ts-cov FILE`` reads: FILE_TYPE timeseries, a 3D ``timeseries`` dataset
    (num_date, length, width) of variances in m^2 (MintPy reads a 3D file as the diagonal of the
    time-series covariance), with the input's dates, bperp, REF_* and metadata."""
    layout_timeseries(out_file, ref_file, extra_meta)
    with h5py.File(out_file, "a") as f:
        f.attrs["UNIT"] = "m^2"
        f["timeseries"].attrs["UNIT"] = "m^2"
    return out_file


def rereference_variance(var_file, ref_date, max_memory=1.0):
    """Re-reference a variance file of the denoised series (``layout_variance``) to ``ref_date``.

    The stored variance of date t relative to the old reference date r0 (its REF_DATE; the first
    date when it has none) is S[t] = |V[t] - V[r0]| for the per-date variance V of the series,
    which grows along the series (its errors accumulate with independent increments,
    docs/method.md). So V[t] - V[r0] = sign(t - r0) S[t], and relative to the new reference date
    r1 the variance is |V[t] - V[r1]|. NaN stays NaN; the reference pixel stays 0. This is what
    ``reference_date.py`` does to the series itself (MintPy leaves the variance file alone), so
    ``timeseries2velocity.py --ts-cov`` sees both on one date.

    The file is rewritten through a temporary copy and a rename (:class:`AtomicOutputs`: never
    half-written). Returns True when it changed, False when it was already on ``ref_date``.
    Raises DlaeInputError when ``ref_date`` is not one of the file's dates.
    """
    import shutil
    atr = readfile.read_attribute(var_file)
    ref_date = str(ref_date)
    if atr.get("REF_DATE") == ref_date:
        return False
    dates = read_timeseries_info(var_file)[0]
    with h5py.File(var_file, "r") as f:
        num_date, length, width = f["timeseries"].shape
    if ref_date not in dates:
        raise DlaeInputError(f"{var_file}: reference date {ref_date} is not one of its dates "
                             f"({dates[0]} ... {dates[-1]})")
    k = dates.index(ref_date)
    k0 = dates.index(atr["REF_DATE"]) if atr.get("REF_DATE") in dates else 0
    sign = np.sign(np.arange(num_date) - k0).astype(np.float32)[:, None, None]
    rows = max(1, int(max_memory * 2**30 / (4 * num_date * max(width, 1))))
    with AtomicOutputs([var_file]) as tmp:
        shutil.copyfile(var_file, tmp[var_file])
        with h5py.File(tmp[var_file], "a") as f:
            d = f["timeseries"]
            for y0 in range(0, length, rows):
                v = d[:, y0:y0 + rows, :] * sign                 # V[t] - V[r0]
                d[:, y0:y0 + rows, :] = np.abs(v - v[k])
            f.attrs["REF_DATE"] = ref_date
    log.info("%s: variance re-referenced to %s", var_file, ref_date)
    return True


def write_block(out_file, data, dataset, box):
    """Write ``data`` into ``dataset`` of the existing file ``out_file`` at ``box`` (a Box): a 2D
    (rows, cols) block, or a 3D (k, rows, cols) block into dates (or layers) 0..k-1, with (rows, cols)
    the box's shape, in the dataset's unit (metres for a time series, m^2 for a variance file).
    Returns None.  Raises TypeError for a plain tuple or other non-Box ``box`` (the order would be
    ambiguous).
    """
    _mintpy_box(box)                   # a Box, not an ambiguous tuple
    block = [box.y0, box.y1, box.x0, box.x1]
    if data.ndim == 3:
        block = [0, data.shape[0]] + block
    writefile.write_hdf5_block(out_file, data, dataset, block=block, print_msg=False)


def write_cumulative_block(out_file, names, data, box):
    """Write a (num_window, rows, cols) block of maps, one dataset per window, at ``box`` (a Box)."""
    _mintpy_box(box)
    rows, cols = box.slices
    with h5py.File(out_file, "a") as f:
        for name, layer in zip(names, data):
            f[name][rows, cols] = layer
