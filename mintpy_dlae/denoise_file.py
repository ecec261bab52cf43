"""Denoise a MintPy time-series file block by block: the file-level driver behind ``mintpy_dlae.py``
and the ``correct_dlae`` step (:mod:`mintpy_dlae.smallbaselineApp_step`).

Flow (docs/design.md)::

    check inputs and outputs  ->  update mode: skip if outputs are newer and options match
    -> scan the series once, in row blocks: empty dates, NaN holes, valid pixels, and a regular
       sub-grid of at most 250,000 pixels from which the noise scale of every window is computed
       ONCE for the whole frame (inference.window_scales)
    -> load the model once; halo = receptive_halo(model); with --scales 2 (the default) the
       coarse pass of the whole frame, once (:func:`coarse_pass`: one more read of the input, the
       2 x 2 means and the coarse maps in a temporary HDF5 file next to the output, which the row
       blocks read), and halo = receptive + 8 px (the blend's margin)
    -> denoise a small box around REF_Y/REF_X (reference values for re-referencing)
    -> for each row block (sized by --ram): read the block plus ``halo`` rows of context once,
       ``denoise(..., box=block, scale=frame scale)`` computes the block only (the halo is context),
       re-reference to REF_DATE and REF_Y/REF_X, restore no-data, write the block
    -> rename the temporary outputs (atomic)

Because every block uses the frame's scales and reads that much context (from an even row and
column with --scales 2: the frame's 2 x 2 grid), block results equal whole-frame results whatever
the block sizes. With ``cluster`` set, every row block is split
along x by MintPy's ``DaskCluster`` (one client for the whole run); each worker runs the module-level
:func:`denoise_box`, which reads its own context on all four sides.
"""
import dataclasses
import hashlib
import json
import logging
import os
import zipfile

import numpy as np

from mintpy_dlae import io
from mintpy_dlae.boxes import Box
from mintpy_dlae.config import MODEL_NAMES, cpu_supports_bf16, package_file, resolve_augment, resolve_precision
from mintpy_dlae.constants import (MAX_ABS_DISPLACEMENT_M, SPIKE_BOX, SPIKE_CONTEXT, SPIKE_M, TRAINING_PATCH_PX,
                                   TRAINING_PIXEL_SIZE_M, WINDOW)

log = logging.getLogger(__name__)

# MintPy's reference pixel is exactly 0 at every date, which the denoiser would take as no-data.
# It is valid data, so it is fed as this negligible constant (a constant has no deformation).
REF_PIXEL_VALUE = 1e-7
REF_SEARCH_RADIUS = 3      # px around REF_Y/REF_X used if the reference pixel itself is masked
# Output values smaller than this (metres; 1 micrometre, far below InSAR precision) are written as
# exact 0, so that silenced maps are 0 and not 1e-25 .. 1e-7 blobs with unreadable colour bars.
FLUSH_BELOW = 1e-6
SCALE_PIXELS = 250_000     # pixels of the sub-grid the frame's noise scales are computed from
COMPARE_KEYS = ("mintpy.dlae.model", "mintpy.dlae.modelSha256", "mintpy.dlae.maskFile",
                "mintpy.dlae.precision", "mintpy.dlae.augmentCopies", "mintpy.dlae.scales",
                "mintpy.dlae.inputPaths")
# output product -> word that replaces the first "timeseries" of the output name
PRODUCT_WORDS = {"cumulative": io.CUMULATIVE_PREFIX, "variance": "timeseriesVar",
                 "removed": "timeseriesRemoved"}


# --------------------------------------------------------------------------------------------
# names and models
# --------------------------------------------------------------------------------------------
def output_files(ts_file, out_file=None):
    """Output paths: {'timeseries', 'cumulative', 'variance', 'removed'}.

    ``timeseries_ERA5.h5`` -> ``timeseries_ERA5_DLAE.h5`` (the denoised series),
    ``cumulative_ERA5_DLAE.h5`` (moving-window maps, their std and significance),
    ``timeseriesVar_ERA5_DLAE.h5`` (variance of the denoised series, for
    ``timeseries2velocity.py --uq covariance --ts-cov``) and ``timeseriesRemoved_ERA5_DLAE.h5``
    (input minus output). The last three do not match smallbaselineApp's ``timeseries_*.h5`` glob
    and never enter its alphabetically sorted file chain.

    The rule: the first "timeseries" of the output name becomes "cumulative", "timeseriesVar" and
    "timeseriesRemoved". An output name without "timeseries" (``-o denoised.h5``) gets the same
    words as prefixes: ``cumulative_denoised.h5``, ``timeseriesVar_denoised.h5``, ...
    """
    if out_file is None:
        out_file = os.path.splitext(ts_file)[0] + "_DLAE.h5"
    folder, base = os.path.split(out_file)
    stem = os.path.splitext(base)[0]
    names = {"timeseries": out_file}
    for product, word in PRODUCT_WORDS.items():
        name = stem.replace("timeseries", word, 1) if "timeseries" in stem else f"{word}_{stem}"
        names[product] = os.path.join(folder, name + ".h5")
    return names


def model_file(model):
    """File of a model name or path (None if a named model has no shipped file).

    Raises DlaeInputError for a path that is not an existing file (a folder included), and for one
    whose name does not end in .keras or that is not a zip archive (what a .keras file is); the
    model itself is not loaded (no TensorFlow).
    """
    if model in MODEL_NAMES:
        path = package_file("pretrained", f"{model}.keras")
        return path if os.path.isfile(path) else None
    if os.path.isdir(model):
        raise io.DlaeInputError(f"{model}: the model is a folder, not a file")
    if not os.path.isfile(model):
        raise io.DlaeInputError(f"model file not found: {model} (use fault, mogi or the path of "
                                "a .keras file written by dlae_train.py)")
    if not str(model).endswith(".keras") or not zipfile.is_zipfile(model):
        raise io.DlaeInputError(f"{model}: not a mintpy_dlae model (use fault, mogi or the path of "
                                "a .keras file written by dlae_train.py)")
    return model


def model_sha256(model):
    """sha256 of the model file (provenance and update checks), 'unknown' if there is none.

    Hashes the file directly, so update checks never need to import TensorFlow.
    """
    path = model_file(model)
    if path is None:
        return "unknown"
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


def model_has_uncertainty(model):
    """True when the model predicts sigma (its .keras config says ``uncertainty``), read from the
    file without TensorFlow. The first, gated models did not: they give no uncertainty outputs."""
    path = model_file(model)
    if path is None:
        return False
    try:
        with zipfile.ZipFile(path) as z:
            conf = json.loads(z.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as err:
        raise io.DlaeInputError(f"{path}: not a Keras model file (no readable config.json: {err})") from err
    if not isinstance(conf, dict) or conf.get("class_name") != "DlaeNet":
        name = conf.get("class_name") if isinstance(conf, dict) else type(conf).__name__
        raise io.DlaeInputError(f"{path}: a Keras model of class {name!r}, not a mintpy_dlae model "
                                "(DlaeNet, written by dlae_train.py)")
    return bool(conf.get("config", {}).get("uncertainty", False))


def load_model(model):
    """Load once in the driver; a clear DlaeInputError for a bad file."""
    from mintpy_dlae.model import load_model as _load
    try:
        net = _load(model)
    except (OSError, ValueError) as err:
        if isinstance(err, io.DlaeInputError):
            raise
        raise io.DlaeInputError(f"{model}: cannot load a mintpy_dlae model ({err})") from err
    if getattr(net, "output_kind", "dates") != "dates":
        raise io.DlaeInputError(f"{model}: the model has a cumulative-only head (the paper's layout): it gives "
                                "no time series; use a model with one map per date ('fault', 'mogi' or "
                                "dlae_train.py's default layout)")
    for line in model_warnings(model, getattr(net, "uncertainty", False)):
        log.warning("%s", line)
    return net


# the shipped models saw 1.27-1.30 million training samples; a model far below that is a trial
FEW_TRAINING_SAMPLES = 100_000


def model_warnings(model, uncertainty=True):
    """Warnings about a model of one's own (none for the shipped ones): no sigma calibration in its
    card (its std and significance are the network's uncorrected ones), or fewer than
    FEW_TRAINING_SAMPLES training samples seen (a trial run: it may remove real signal).  Reads the
    card only (no TensorFlow)."""
    if model in MODEL_NAMES:
        return []
    card_file = os.path.splitext(model_file(model))[0] + ".json"      # model.model_card_path's rule
    name = os.path.basename(str(model))
    try:
        with open(card_file) as f:
            card = json.load(f)
    except (OSError, ValueError):
        return [f"{name} has no model card ({os.path.basename(card_file)} next to it): its training is unknown "
                "and its std and significance are not checked against the truth; a trial model may remove "
                "real deformation: compare with --model fault or mogi"]
    lines = []
    if uncertainty and "sigma_calibration" not in card:
        lines.append(f"{name} has no sigma calibration in its card: its std and significance are the network's "
                     f"own, not checked against the truth (dlae_evaluate.py {model} --calibrate-sigma)")
    seen = card.get("training", {}).get("samples_seen_total", card.get("training", {}).get("samples_seen"))
    if seen is not None and int(seen) < FEW_TRAINING_SAMPLES:
        lines.append(f"{name} has seen {int(seen)} training samples (the shipped models 1.3 million): a trial "
                     "model may remove real deformation; compare with --model fault or mogi")
    return lines


def provenance(cfg, ts_file, geom_file=None, out_file=None):
    """The ``mintpy.dlae.*`` attributes of the outputs: the options (``cfg``, its mask resolved),
    the model's SHA-256, the version, the input's name, and ``mintpy.dlae.inputPaths``: the series,
    geometry and mask (or 'no') as paths relative to the folder of ``out_file`` (a project moved as
    a whole keeps them), which ``--update`` compares (:data:`COMPARE_KEYS`)."""
    from mintpy_dlae import __version__
    attrs = cfg.to_attrs()
    attrs.update({"mintpy.dlae.modelSha256": model_sha256(cfg.model),
                  "mintpy.dlae.version": __version__,
                  "mintpy.dlae.inputFile": os.path.basename(ts_file)})
    if geom_file is not None:
        attrs["mintpy.dlae.geometryFile"] = os.path.basename(geom_file)
    if out_file is not None:
        where = os.path.dirname(os.path.realpath(out_file))
        paths = [ts_file, geom_file, cfg.mask_file]
        attrs["mintpy.dlae.inputPaths"] = ";".join(
            os.path.relpath(os.path.realpath(p), where) if p else "no" for p in paths)
    return attrs


# --------------------------------------------------------------------------------------------
# one box (module level: Dask workers import it)
# --------------------------------------------------------------------------------------------
def mark_missing(a):
    """Set the +-inf and the values beyond +-MAX_ABS_DISPLACEMENT_M (fill values such as -9999 or
    FLT_MAX) of the array ``a`` to NaN, in place: missing values, as NaN are. Returns ``a``."""
    with np.errstate(invalid="ignore"):
        a[~(np.abs(a) <= MAX_ABS_DISPLACEMENT_M) & ~np.isnan(a)] = np.nan
    return a


def find_spikes(ts, keep=None, threshold=SPIKE_M, box=SPIKE_BOX):
    """Isolated spikes of ``ts`` (n, h, w) float metres, NaN missing: bool (n, h, w).

    For a value b on kept date d (``keep``: indices of the kept dates, default all) with finite
    values a and c on the kept dates before and after, its excursion is e = b - median(a, b, c): how
    far b lies outside [min(a, c), max(a, c)] (0 inside). The last kept date has no date after it:
    its excursion is b - a, with a taken from the date before that where a is itself a spike. The
    first kept date is not tested (in MintPy it is normally the reference date, 0 everywhere). b is a spike when
    |e| > ``threshold`` metres and e is also more than ``threshold`` from the median excursion of
    the ``box`` x ``box`` px around it on date d (itself included; NaN left out).

    A step that stays (a, b on two sides of it, c with b) has no excursion; steady or accelerating
    motion has none; a transient up and down (a volcano's) moves its neighbourhood with it, so its
    excursion is smooth in space; on the last date a step has an excursion, but a step that covers
    more than half of the ``box`` x ``box`` px (an area, or one side of a straight fault trace) moves
    the median with it. Two excursions that differ by ``threshold`` within 2-3 px are a
    change between two acquisitions of about 0.1 m per pixel, more than unwrapped phase can show
    (a quarter wavelength per pixel: 0.8, 1.4 and 6 cm at X, C and L band), so what is found is a
    phase-unwrapping or processing error at a few pixels of one date. The spatial test looks only at
    the values in ``ts``: on a block, the pixels within ``2 * (box // 2)`` of its edge (the last
    date's test reads the spikes of the date before it) may be decided otherwise than in the whole
    frame (read a block with that much context, SPIKE_CONTEXT, to decide them as the frame would)."""
    n = ts.shape[0]
    idx = np.arange(n) if keep is None else np.asarray(keep, int)
    out = np.zeros(ts.shape, bool)
    r = int(box) // 2
    h, w = ts.shape[1:]
    dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
    for j in range(1, len(idx)):
        b = ts[idx[j]]
        with np.errstate(invalid="ignore"):
            if j < len(idx) - 1:
                a, c = ts[idx[j - 1]], ts[idx[j + 1]]
                e = b - np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))  # NaN if any is
            else:                              # the last kept date: against the date before it,
                a = ts[idx[j - 1]]                 # or the one before that where it is a spike
                if j >= 2:                         # (the first date is never one)
                    a = np.where(out[idx[j - 1]], ts[idx[j - 2]], a)
                e = b - a
            cand = np.abs(e) > threshold
            cand &= np.isfinite(e)             # +-inf is a missing value (mark_missing), not a spike
        if not cand.any():
            continue
        ys, xs = np.nonzero(cand)
        yy, xx = ys[:, None] + dy.ravel(), xs[:, None] + dx.ravel()
        inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        vals = np.where(inside, e[np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)], np.nan)
        med = np.nanmedian(vals, axis=1)       # e itself is finite there: never all-NaN
        out[idx[j], ys, xs] = np.abs(e[ys, xs] - med) > threshold
    return out


def prepare(ts, keep=None, days=None, ref_yx=None, origin=(0, 0)):
    """The array the network is given for a read block ``ts`` (n, h, w) whose top-left pixel is
    ``origin`` (y, x) in the frame: the kept dates, NaN holes filled (:func:`fill_missing`), and the
    reference pixel (0 on every date) fed as REF_PIXEL_VALUE. Returns a new array."""
    if keep is not None:
        ts = ts[np.asarray(keep, int)]
        days = None if days is None else np.asarray(days, float)[np.asarray(keep, int)]
    else:
        ts = ts.copy()
    mark_missing(ts)                           # +-inf and fill values are missing values, as NaN
    ts = fill_missing(ts, days)
    if ref_yx is not None:
        ry, rx = ref_yx[0] - origin[0], ref_yx[1] - origin[1]
        if 0 <= ry < ts.shape[1] and 0 <= rx < ts.shape[2] and not np.any(ts[:, ry, rx]):
            ts[:, ry, rx] = REF_PIXEL_VALUE
    return ts


def read_block(ts_file, geom_file, read, keep=None, mask_file=None, mask_dataset=None, angles=True):
    """The series (n, h, w) of the box ``read`` of ``ts_file`` as read, its missing values (NaN,
    fill values, +-inf, isolated spikes of the ``keep`` dates, found with the rows and columns
    around the box that :func:`find_spikes` needs) as NaN; the geometry of the box
    (io.read_geometry; without the LOS angles unless ``angles``); and the mask (bool (h, w) or None),
    False also where the height is not known."""
    atr = io.readfile.read_attribute(ts_file)
    length, width = int(atr["LENGTH"]), int(atr["WIDTH"])
    wide = read.pad(SPIKE_CONTEXT, length, width)         # the spikes of the read box, as in the frame
    raw = mark_missing(io.read_timeseries(ts_file, wide))
    raw[find_spikes(raw, keep)] = np.nan
    raw = raw[(slice(None),) + read.within(wide).slices]
    geom = io.read_geometry(geom_file, read) if angles else io.read_geometry(geom_file, read, angles=())
    mask = io.read_mask(mask_file, read, mask_dataset) if mask_file else None
    known = np.isfinite(geom["height"])          # no elevation: left out (scan_input counts them)
    if not known.all():
        mask = known if mask is None else (np.asarray(mask, bool) & known)
    return raw, geom, mask


def denoise_box(ts_file, geom_file, box, halo, model, scale, mask_file=None, mask_dataset=None,
                tile_size=256, batch_size=32, precision="auto", ref_yx=None, keep=None, days=None,
                threads=None, augment=1, scales=1, coarse_file=None):
    """Denoise the pixels of ``box`` (x0, y0, x1, y1: MintPy's order, as DaskCluster hands it),
    reading the series, geometry and mask ONCE with ``halo`` px of context around it.

    ``scale`` (k-8,): the frame's noise scale of every window (:func:`frame_scales`; None for a model
    with per-pixel scales, ``scale_box``, which ``denoise`` computes from the block and its halo). ``keep``
    lists the indices of the dates given to the network (default: all; see :func:`scan_input`);
    missing values (NaN) of a pixel on some of them are filled for the network only (``days``: the
    dates in years). ``threads``: TensorFlow threads of this process (Dask workers). ``augment``: the
    number of symmetric copies, resolved once for the whole frame (:func:`mintpy_dlae.config.resolve_augment`).
    ``scales`` 2: blend in the coarse pass of :mod:`mintpy_dlae.multiscale`, read from
    ``coarse_file`` (:func:`coarse_pass`, the whole frame's), with ``halo`` =
    ``multiscale.block_halo(..., coarse_given=True)``; the box read then starts on an even row and
    column of the frame (the frame's 2 x 2 grid).

    Returns (timeseries (k, h, w), cumulative (k-8, h, w), timeseries_std, cumulative_std, the
    input block (n, h, w) as read, box) for the k kept dates,
    as the denoiser gives them: referenced to the first kept date, NaN at no-data pixels.
    """
    if threads:
        set_tf_threads(threads)
    from mintpy_dlae.inference import denoise

    atr = io.readfile.read_attribute(ts_file)
    length, width = int(atr["LENGTH"]), int(atr["WIDTH"])
    core = Box.from_mintpy(box)
    read = core.pad(halo, length, width)
    if scales == 2:                   # the frame's 2 x 2 grid: start on an even row and column
        read = Box(read.y0 - read.y0 % 2, read.y1, read.x0 - read.x0 % 2, read.x1)
    raw, geom, mask = read_block(ts_file, geom_file, read, keep, mask_file, mask_dataset)
    inner = core.within(read)
    inp = raw[(slice(None),) + inner.slices].copy()     # missing values (NaN, fill, spike) as NaN
    ts = prepare(raw, keep, days, ref_yx, (read.y0, read.x0))
    del raw
    coarse = None
    if scales == 2:
        if coarse_file is None:
            raise ValueError("denoise_box: scales=2 needs coarse_file, the frame's coarse pass (coarse_pass)")
        import h5py
        rows, cols = slice(read.y0 // 2, -(-read.y1 // 2)), slice(read.x0 // 2, -(-read.x1 // 2))
        with h5py.File(coarse_file, "r") as f:
            coarse = (f["timeseries"][:, rows, cols], f["cumulative"][:, rows, cols])
    res = denoise(ts, geom["height"], model=model, mask=mask, incidence=geom["incidenceAngle"],
                  azimuth=geom["azimuthAngle"], tile_size=tile_size, batch_size=batch_size,
                  precision=precision, scale=scale, box=inner, overwrite_input=True, augment=augment,
                  spikes=False, scales=scales, coarse=coarse)
    std = getattr(res, "timeseries_std", None), getattr(res, "cumulative_std", None)
    return (np.asarray(res.timeseries, np.float32), np.asarray(res.cumulative, np.float32),
            None if std[0] is None else np.asarray(std[0], np.float32),
            None if std[1] is None else np.asarray(std[1], np.float32), inp, box)


def read_flagged(ts_file, box, inp):
    """The elements of the Box ``box`` that hold a finite value in ``ts_file`` but are NaN in ``inp``
    (n, h, w), the block as :func:`read_block` read it: fill values and isolated spikes, read as
    missing values. bool (n, h, w); read one date at a time as float32, as :func:`io.read_timeseries`
    reads it (a float64 1e300 is inf there, and stays NaN as inf does)."""
    import h5py
    flagged = np.zeros(inp.shape, bool)
    with h5py.File(ts_file, "r") as f, np.errstate(over="ignore"):
        dset = f["timeseries"]
        for d in range(inp.shape[0]):
            value = np.asarray(dset[d, box.y0:box.y1, box.x0:box.x1], dtype=np.float32)
            flagged[d] = np.isfinite(value) & np.isnan(inp[d])
    return flagged


def set_tf_threads(threads):
    """TensorFlow intra- and inter-op threads of this process (a Dask worker gets its share of the
    cores, not all of them). Ignored once TensorFlow has started its thread pools."""
    from mintpy_dlae.config import import_tensorflow_quietly
    tf = import_tensorflow_quietly()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(int(threads))
    except RuntimeError:      # already initialised in this worker: keep what it has
        pass


def fill_missing(ts, days=None):
    """Fill the NaN values of pixels that have data on other dates, for the network only.

    The rule (documented in docs/usage.md): linear interpolation in time between the pixel's
    nearest dates with data, the nearest value before the first / after the last of them.
    Pixels that are NaN on every date (no-data) stay NaN; +-inf is not filled (callers turn it into
    NaN first). ``ts`` (n, h, w); ``days`` (n,) increasing acquisition times in any unit, only their
    ratios matter (despite the name, :func:`run_dlae` passes decimal years; default: equally
    spaced). Returns a new array (or ``ts`` if nothing to fill).
    """
    nan = np.isnan(ts)
    partial = nan.any(axis=0) & ~nan.all(axis=0)
    if not partial.any():
        return ts
    n = ts.shape[0]
    t = np.arange(n, dtype=float) if days is None else np.asarray(days, float)
    out = ts.copy()
    cols = np.flatnonzero(partial.ravel())
    flat = out.reshape(n, -1)
    for i in range(0, cols.size, FILL_CHUNK):        # bounded temporaries, whatever the holes
        c = cols[i:i + FILL_CHUNK]
        flat[:, c] = _interp_nan(flat[:, c], t).astype(ts.dtype)
    return out


FILL_CHUNK = 16384      # pixels filled at a time (about 10 float64 layers of this size per date)


def _interp_nan(sub, t):
    """Fill the NaN of the columns of ``sub`` (n, k) linearly in ``t`` (constant at the ends)."""
    n = sub.shape[0]
    sub = sub.astype(np.float64)
    bad = np.isnan(sub)
    idx = np.arange(n)[:, None]
    prev = np.maximum.accumulate(np.where(bad, -1, idx), axis=0)
    nxt = np.minimum.accumulate(np.where(bad, n, idx)[::-1], axis=0)[::-1]
    p, q = np.clip(prev, 0, n - 1), np.clip(nxt, 0, n - 1)
    vp, vq = np.take_along_axis(sub, p, 0), np.take_along_axis(sub, q, 0)
    tp, tq = t[p], t[q]
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(tq > tp, (t[:, None] - tp) / (tq - tp), 0.0)
    value = np.where((prev >= 0) & (nxt < n), vp + w * (vq - vp), np.where(prev >= 0, vp, vq))
    return np.where(bad, value, sub)


def reference_values(job, ref_yx, length, width):
    """Denoised series and cumulative maps at REF_Y/REF_X (if it is masked: the mean of the valid
    pixels within REF_SEARCH_RADIUS of it)."""
    ry, rx = ref_yx
    r = REF_SEARCH_RADIUS
    box = Box(max(ry - r, 0), min(ry + r + 1, length), max(rx - r, 0), min(rx + r + 1, width))
    den, cum = denoise_box(box=box.mintpy, **job)[:2]
    cy, cx = ry - box.y0, rx - box.x0
    if np.all(np.isfinite(den[:, cy, cx])):
        return den[:, cy, cx], cum[:, cy, cx]
    with np.errstate(invalid="ignore"):
        valid = np.all(np.isfinite(den), axis=0)
    if not valid.any():
        log.warning("no valid denoised pixel within %d px of REF_Y/REF_X = %d/%d: the output is "
                    "not re-referenced in space", r, ry, rx)
        return np.zeros(den.shape[0], np.float32), np.zeros(cum.shape[0], np.float32)
    log.warning("reference pixel REF_Y/REF_X = %d/%d has no denoised value (masked, no-data or NaN on "
                "some date): using the mean of %d valid pixels within %d px of it (REF_Y/REF_X are kept "
                "as they are; reference_point.py chooses another)", ry, rx, valid.sum(), r)
    return den[:, valid].mean(axis=1), cum[:, valid].mean(axis=1)


def finalise_block(den, cum, inp, ref_index, ref_den, ref_cum, nodata, ref_pixel=None,
                   keep=None, den_std=None, cum_std=None, removed=True, overwrite=False, flagged=None):
    """Re-reference a denoised block, restore the input's no-data, derive the uncertainty products.

    den/cum (and their std) come from :func:`denoise_box` for the kept dates ``keep`` (bool (n,),
    default all); inp is the input block (n, h, w). The output is referenced to the input's
    REF_DATE (``ref_index``, a kept date) and REF_Y/REF_X (``ref_den`` (k,) / ``ref_cum``).
    Pixels that are no-data in the input (all dates 0, or NaN) keep their input values; pixels the
    denoiser leaves out (mask) get ``nodata``; NaN input elements stay NaN, and the dates left out
    (``~keep``) keep the input's values there (NaN or 0, the input's own marks of missing data).
    ``flagged`` (bool (n, h, w), or None): the elements that held a finite value in the file but
    were read as missing (fill values, isolated spikes; NaN in ``inp``); they keep the denoiser's
    estimate and its variance, so that MintPy's tools, which stop at a NaN, run on the output.
    A cumulative map (and its std and significance) is NaN at a pixel whose input is missing (NaN
    or inf, not ``flagged``) on the window's first or last date.
    Values below FLUSH_BELOW in magnitude are written as exact 0.

    Uncertainty (with ``den_std``): the variance of the series relative to REF_DATE is
    |V[t] - V[ref]|, V = den_std**2 (the engine's errors accumulate along the series with
    independent increments, docs/method.md); 0 at the reference pixel, whose output is 0 by
    definition; NaN where the output is no-data or NaN. The reference point's own uncertainty is
    not added (as in MintPy's timeseriesCov.h5). ``significance`` = |cumulative| / cumulative_std.

    Returns a dict: timeseries, cumulative, removed (only with ``removed=True``: a block-sized layer
    per date that a run without ``--save-removed`` does not need), and with the std: variance,
    cumulative_std, significance (float32). ``overwrite=True`` lets the outputs reuse the memory of
    ``den``, ``den_std``, ``cum`` and ``cum_std`` (float32, all dates kept), which are then changed.
    """
    n = inp.shape[0]
    keep = np.ones(n, bool) if keep is None else np.asarray(keep, bool)
    kref = int(np.flatnonzero(keep).tolist().index(ref_index))
    in_place = overwrite and keep.all() and den.dtype == np.float32
    shift = (ref_den - ref_den[kref]).astype(np.float32)[:, None, None]
    ref_row = den[kref].copy()
    if in_place:
        out = den
        out -= ref_row
        out -= shift
    else:
        out = np.full((n,) + den.shape[1:], np.nan, np.float32)
        out[keep] = den - ref_row - shift
    if overwrite and cum.dtype == np.float32:
        cum -= ref_cum.astype(np.float32)[:, None, None]
    else:
        cum = cum - ref_cum[:, None, None]
    nan_in = np.isnan(inp)
    nodata_pix = np.all((inp == 0) | nan_in, axis=0)
    if flagged is not None:
        nan_in &= ~flagged
    if ref_pixel is not None:
        nodata_pix[ref_pixel] = False
    valid = np.all(np.isfinite(out[keep]), axis=0) & ~nodata_pix
    out[:, ~valid] = nodata
    out[:, nodata_pix] = inp[:, nodata_pix]
    out[~keep] = inp[~keep]
    out[nan_in] = np.nan
    cum[:, ~valid] = np.nan
    # a window whose first or last date is missing at a pixel (filled for the network) has no
    # measured cumulative displacement there: NaN, as the series is NaN on those dates
    missing = nan_in[np.flatnonzero(keep)]
    ends = missing[:len(cum)] | missing[WINDOW - 1:WINDOW - 1 + len(cum)]
    del missing
    cum[ends] = np.nan
    result = {"timeseries": out, "cumulative": cum}
    if removed:
        rem = inp - out
        rem[:, ~valid] = nodata
        rem[:, nodata_pix] = inp[:, nodata_pix]
        rem[~keep] = inp[~keep]
        rem[nan_in] = np.nan
        result["removed"] = rem
    if den_std is not None:
        if in_place and den_std.dtype == np.float32:
            var = np.square(den_std, out=den_std)
            var -= var[kref].copy()
            np.abs(var, out=var)
        else:
            v = np.square(den_std, dtype=np.float32)
            var = np.full_like(out, np.nan)
            var[keep] = np.abs(v - v[kref])
        var[:, ~valid] = np.nan
        var[nan_in] = np.nan
        if ref_pixel is not None and valid[ref_pixel]:
            var[keep, ref_pixel[0], ref_pixel[1]] = 0
        cstd = cum_std if overwrite and cum_std.dtype == np.float32 else np.array(cum_std, np.float32)
        cstd[:, ~valid] = np.nan
        cstd[ends] = np.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            sig = np.abs(cum) / cstd
        sig[~np.isfinite(sig)] = np.nan
        if ref_pixel is not None and valid[ref_pixel]:
            sig[(slice(None),) + ref_pixel] = 0
        result.update(variance=var, cumulative_std=cstd, significance=sig)
    del nan_in
    for key in ("timeseries", "cumulative", "removed"):
        if key in result:
            result[key] = flush_tiny(result[key].astype(np.float32, copy=False))
    return result


MAX_LAPSE_MM_PER_KM = 50.0      # the steepest slant phase-elevation ratio an atmosphere makes (ElevationCheck)
ELEVATION_ATTRIBUTE = "mintpy.dlae.followsElevation"    # the flagged windows, "none", on the outputs


class ElevationCheck:
    """Does a denoised cumulative map follow the elevation?  A stratified delay that changes with
    the seasons accumulates over a window like a deformation proportional to elevation; the shipped
    networks do not use their elevation input to tell the two apart (docs/method.md, limits) and
    keep it, with a high ``significance``.  This accumulates, per cumulative window and over the
    frame's pixels where the map is finite, the sums of the least-squares line map = a + k h, and
    :meth:`flagged` names the windows where that line explains at least ``r2_min`` of the map's
    variance (Pearson r^2) and its elevation-shaped part, |k| std(h), is at least ``z_min`` times
    the mean cumulative std (when the model gives one), with a slope k that an atmosphere can make:
    |k| <= ``max_lapse`` (metres per metre of height, the input being in metres by
    ``io.check_timeseries``; default MAX_LAPSE_MM_PER_KM = 50 mm/km, above the few cm/km that wet
    seasons and volcanoes reach, Emardson et al. 2003, times the slant factor 1/cos(45 deg)).  Without that bound the subsidence of a flat sedimentary basin, which follows its
    few metres of relief (the Mexico City crop: r up to 0.71 with 2,650 mm/km over 7 m), could be
    flagged.  A deformation that follows the topography (inflation under a summit) is flagged too:
    the check says "look", not "atmosphere".

    ``add(height (h, w) metres, cumulative (W, h, w) metres, cumulative_std (W, h, w) or None)`` per
    block; the sums are float64 about the first finite mean height of a block (conditioning only).
    """

    def __init__(self, num_windows):
        self.sums = np.zeros((num_windows, 7))      # n, h, h^2, c, c^2, h c, sigma
        self.h0 = None
        self.has_std = True

    def add(self, height, cumulative, cumulative_std=None):
        h = np.asarray(height, np.float64)
        finite = np.isfinite(h)
        if self.h0 is None and finite.any():
            self.h0 = float(h[finite].mean())
        h = h - (self.h0 or 0.0)
        self.has_std &= cumulative_std is not None
        for i in range(len(cumulative)):
            c = cumulative[i].astype(np.float64)
            ok = np.isfinite(c) & np.isfinite(h)
            if cumulative_std is not None:
                sd = cumulative_std[i].astype(np.float64)
                ok &= np.isfinite(sd)
            hv, cv = h[ok], c[ok]
            self.sums[i] += (ok.sum(), hv.sum(), (hv * hv).sum(), cv.sum(), (cv * cv).sum(), (hv * cv).sum(),
                             sd[ok].sum() if cumulative_std is not None else 0.0)

    def flagged(self, r2_min=0.5, z_min=2.0, max_lapse=MAX_LAPSE_MM_PER_KM * 1e-6):
        """[(window index, r, k in metres per metre of height, std(h) in metres, mean cumulative
        std or NaN)] of the windows that follow the elevation (see the class)."""
        out = []
        for i, (n, sh, shh, sc, scc, shc, ssd) in enumerate(self.sums):
            if n < 10:
                continue
            vh, vc, cov = shh / n - (sh / n) ** 2, scc / n - (sc / n) ** 2, shc / n - (sh / n) * (sc / n)
            if vh <= 0 or vc <= 0:
                continue
            r, k = cov / np.sqrt(vh * vc), cov / vh
            sigma = ssd / n if self.has_std else np.nan
            if r * r >= r2_min and abs(k) <= max_lapse and (not self.has_std or abs(k) * np.sqrt(vh) >= z_min * sigma):
                out.append((i, float(r), float(k), float(np.sqrt(vh)), float(sigma)))
        return out


def warn_elevation_correlation(check, window_names):
    """Log one warning for the windows that :class:`ElevationCheck` flags; returns their names ([]
    when none, and nothing is logged)."""
    found = check.flagged()
    if not found:
        return []
    i, r, k, relief, _ = max(found, key=lambda f: abs(f[1]))
    log.warning("%d of %d cumulative window(s) follow the elevation (the line map = a + k height "
                "explains >= 50 %% of the map%s), e.g. %s: r = %.2f, k = %.1f mm/km over %.0f m of "
                "relief (std). A stratified delay that changes with the seasons looks like this, and "
                "the networks do not remove it (docs/method.md, limits); a deformation that follows "
                "the topography does too. Check it (MintPy's tropo_phase_elevation.py) before reading "
                "it as deformation; the outputs' attribute %s lists them.", len(found), len(check.sums),
                " and is >= 2 sigma" if check.has_std else "", window_names[i], r, k * 1e6, relief,
                ELEVATION_ATTRIBUTE)
    return [window_names[f[0]] for f in found]


EDGE_GAP_FACTOR = 3.0
EDGE_GAP_ATTRIBUTE = "mintpy.dlae.edgeGapWindows"


def acquisition_days(dates):
    """Days since the first date (k,) float64 of MintPy date strings (YYYYMMDD or YYYYMMDDTHHMM),
    from calendar dates (exact whole days for YYYYMMDD, unlike decimal years)."""
    from mintpy.utils import ptime
    t = ptime.date_list2vector(list(dates))[0]
    return np.array([(x - t[0]).total_seconds() / 86400.0 for x in t])


def _is_gap(interval, median, factor=EDGE_GAP_FACTOR):
    """True where ``interval`` (days) is at least ``factor`` x ``median`` (whole days: exactly 3 x counts)."""
    return np.asarray(interval) >= factor * median * (1 - 1e-9)


def edge_gap_windows(dates, factor=EDGE_GAP_FACTOR):
    """Windows whose first or last interval spans a gap: [(window index, "first" or "last", gap in
    days)] for the 9-date windows of ``dates`` (k,) (MintPy date strings, increasing) whose first
    or last interval is at least ``factor`` x the median interval (the longer of the two when both
    are).  A steady motion arrives across such a gap as one large increment at the window's edge,
    which the networks shrink like one noisy date (docs/real_data.md, "Gaps in the acquisitions":
    at 5x the noise the fault model keeps 0.71 of a steady Mogi bowl across a gap of 3 repeat
    cycles at the end, 0.59 across 6, against 0.82 evenly sampled)."""
    dt = np.diff(acquisition_days(dates))
    if len(dt) < WINDOW - 1:
        return []
    big = _is_gap(dt, np.median(dt), factor)
    out = []
    for i in range(len(dt) - WINDOW + 2):
        first, last = dt[i], dt[i + WINDOW - 2]
        if big[i] or big[i + WINDOW - 2]:
            side = "first" if big[i] and (first >= last or not big[i + WINDOW - 2]) else "last"
            out.append((i, side, float(first if side == "first" else last)))
    return out


def warn_edge_gaps(ts_file, dates):
    """Log one warning that names every window of :func:`edge_gap_windows` of ``dates`` (the kept
    dates of ``ts_file``); returns the window names ("D1_D2", as in the cumulative file's
    ``cumulative_D1_D2``), [] when none (and nothing is logged)."""
    found = edge_gap_windows(dates)
    if not found:
        return []
    names = [f"{dates[i]}_{dates[i + WINDOW - 1]}" for i, _, _ in found]
    dt = np.diff(acquisition_days(dates))
    med = float(np.median(dt))
    listed = []
    for n, (i, side, gap) in zip(names, found):
        first, last = dt[i], dt[i + WINDOW - 2]
        if _is_gap(first, med) and _is_gap(last, med):                   # both edges: name both
            listed.append(f"{n} (first interval {first:.0f} and last interval {last:.0f} days)")
        else:
            listed.append(f"{n} ({side} interval {gap:.0f} days)")
    log.warning("%s: %d of %d 9-date window(s) begin or end across a gap between acquisitions of at "
                "least %g x the median interval (the median is %.0f days): %s. Across such a gap a "
                "steady motion arrives as one large increment at the window's edge, and the window's "
                "denoised cumulative map keeps less of it (docs/real_data.md, 'Gaps in the "
                "acquisitions'). The denoised time series keeps it: fit a rate with "
                "timeseries2velocity.py rather than reading those windows. The outputs' attribute "
                "%s lists them.", ts_file, len(found), len(dates) - WINDOW + 1, EDGE_GAP_FACTOR, med,
                "; ".join(listed), EDGE_GAP_ATTRIBUTE)
    return names


def warn_small_frame(ts_file, length, width):
    """Log a warning when the frame is narrower than the training patches
    (:data:`mintpy_dlae.constants.TRAINING_PATCH_PX`) in either direction; returns True when it warned."""
    if min(length, width) >= TRAINING_PATCH_PX:
        return False
    log.warning("%s: the frame is %d x %d px, narrower than the %d x %d px patches the network was trained "
                "on: it sees less around every pixel than in training, so the result is weaker and less "
                "certain than on a larger frame, most of all in a strip a few pixels wide. Denoise a larger "
                "frame (subset.py after, not before) where you can.", ts_file, length, width,
                TRAINING_PATCH_PX, TRAINING_PATCH_PX)
    return True


def warn_denoised_input(ts_file, atr):
    """Log a warning when ``ts_file`` is itself an output of mintpy_dlae (attribute
    ``mintpy.dlae.version``); returns True when it warned."""
    if "mintpy.dlae.version" not in atr:
        return False
    log.warning("%s is already an output of mintpy_dlae (%s, from %s): denoising it again removes signal "
                "that the first pass kept as well as noise; give the series it came from instead",
                ts_file, atr.get("mintpy.dlae.model", "model unknown"),
                atr.get("mintpy.dlae.inputFile", "an unknown input"))
    return True


def check_room_for_outputs(ts_file, outputs, frame, num_date, num_kept, uncertainty, scales=1):
    """:func:`mintpy_dlae.io.check_free_space` for ``outputs`` ({product: path}) of a frame of
    ``frame`` pixels, ``num_date`` dates of which ``num_kept`` are denoised: the series, its variance
    and the removed part with every date in the input's dtype, the cumulative maps (one per window of
    the kept dates, with ``uncertainty`` also its std and significance) in float32; for an input
    written with compression (the outputs get its filter), each size times the input file's
    compression ratio; with ``scales`` 2 also the temporary file of :func:`coarse_pass` (float32 2 x 2
    means, series and cumulative maps of the kept dates, uncompressed) next to the series output."""
    import h5py
    with h5py.File(ts_file, "r") as f:
        dset = f["timeseries"]
        item = dset.dtype.itemsize
        ratio = 1.0
        if dset.compression is not None:
            ratio = min(1.0, os.path.getsize(ts_file) / max(dset.size * item, 1))
    num_win = max(num_kept - WINDOW + 1, 0)
    series = num_date * frame * item
    size = {"timeseries": series, "cumulative": (3 if uncertainty else 1) * num_win * frame * 4,
            "variance": series, "removed": series}
    need = {path: size[key] * ratio for key, path in outputs.items()}
    if scales == 2:
        coarse = os.path.join(os.path.dirname(os.path.abspath(outputs["timeseries"])), ".dlae_coarse.h5")
        need[coarse] = (2 * num_kept + num_win + 2) * (frame / 4 + 1) * 4
    io.check_free_space(need)


def warn_pixel_size(ts_file, spacing):
    """Log a warning when the pixel spacing (dy, dx) in metres of ``ts_file``
    (:func:`mintpy_dlae.io.pixel_spacing`) is outside the training range
    (:data:`mintpy_dlae.constants.TRAINING_PIXEL_SIZE_M`); returns True when it warned."""
    low, high = TRAINING_PIXEL_SIZE_M
    if low <= min(spacing) and max(spacing) <= high:
        return False
    if min(spacing) < low:       # finer than training: multilooking brings it into the range
        advice = ("multilook (multilook.py) to within that range where you can, or read the result with "
                  "this in mind")
    else:                        # coarser: nothing makes pixels finer
        advice = ("read the result with this in mind: a source or a turbulent eddy spans fewer pixels "
                  "than it would in training")
    log.warning("%s: pixel spacing %.0f x %.0f m (azimuth/y x range/x) is outside the %g-%g m of the "
                "training series. The network sees a fixed number of pixels, so "
                "sources and turbulence cover other physical sizes than in training; %s "
                "(docs/method.md, 'Pixel size'; the Mexico City test crop is at about 150 m).",
                ts_file, spacing[0], spacing[1], low, high, advice)
    return True


def flush_tiny(data, below=FLUSH_BELOW):
    """Set values smaller than ``below`` in magnitude (denormals, silenced outputs) to exact 0."""
    with np.errstate(invalid="ignore"):
        data[np.abs(data) < below] = 0
    return data


# --------------------------------------------------------------------------------------------
# the driver
# --------------------------------------------------------------------------------------------
def run_dlae(ts_file, geom_file, cfg, out_file=None, update=False, force=False, progress=True):
    """Denoise ``ts_file`` with the options of ``cfg`` (a DlaeConfig); return the output paths.

    Returns None when ``update`` finds the outputs up to date. Raises DlaeInputError for bad
    inputs before any output file is created; on any error no output file is left behind.
    """
    model_file(cfg.model)                     # a bad model path is reported first
    atr = io.check_timeseries(ts_file)
    length, width = int(atr["LENGTH"]), int(atr["WIDTH"])
    io.check_geometry(geom_file, (length, width), ts_file)
    io.warn_grid_mismatch(ts_file, atr, geom_file, "geometry")
    warn_denoised_input(ts_file, atr)
    warn_small_frame(ts_file, length, width)
    if cfg.mask_file == "auto":
        cfg = dataclasses.replace(cfg, mask_file=io.auto_mask_file(ts_file, (length, width)))
    mask_dataset = io.check_mask(cfg.mask_file, (length, width), ts_file) if cfg.mask_file else None
    if cfg.mask_file:
        io.warn_grid_mismatch(ts_file, atr, cfg.mask_file, "mask")
    uncertainty = bool(cfg.save_uncertainty)
    if uncertainty and not model_has_uncertainty(cfg.model):
        log.warning("model %s gives no uncertainty (a first-generation model): no variance file, "
                    "no cumulativeStd / significance maps", cfg.model)
        uncertainty = False
    if out_file is not None and (os.fspath(out_file).endswith(("/", os.sep)) or os.path.isdir(out_file)):
        raise io.DlaeInputError(f"{out_file}: output is a folder; give a file name such as "
                                f"{os.path.join(os.fspath(out_file), 'timeseries_DLAE.h5')}")
    names = output_files(ts_file, out_file)
    outputs = {"timeseries": names["timeseries"]}
    if cfg.save_cumulative:
        outputs["cumulative"] = names["cumulative"]
    if uncertainty:
        outputs["variance"] = names["variance"]
    if cfg.save_removed:
        outputs["removed"] = names["removed"]
    inputs = [ts_file, geom_file] + ([cfg.mask_file] if cfg.mask_file else [])
    for path in outputs.values():
        io.check_writable_dir(path)
    attrs = provenance(cfg, ts_file, geom_file, outputs["timeseries"])
    dates, _, _ = io.read_timeseries_info(ts_file)
    num_date = len(dates)
    # symmetric copies per window, resolved once for the frame (the budget counts all dates)
    augment = resolve_augment(cfg.augment, length * width * max(num_date - WINDOW + 1, 1))
    attrs["mintpy.dlae.augmentCopies"] = str(augment)
    attrs["mintpy.dlae.precisionUsed"] = resolve_precision(cfg.precision)   # 'auto' resolved on this CPU
    if cfg.precision == "bfloat16" and not cpu_supports_bf16():
        log.warning("precision bfloat16 on a CPU without AVX512-BF16 or AMX: TensorFlow emulates it, "
                    "several times slower than float32 (about 4x on a 2-core AVX2 EPYC); 'auto' picks "
                    "float32 on this CPU")
    flag = io.check_output(list(outputs.values()), inputs, update=update, force=force)
    if flag == "skip":
        compare = {k: attrs[k] for k in COMPARE_KEYS}
        if all(io.provenance_matches(p, compare) for p in outputs.values()):
            log.info("%s is newer than its inputs and was made from the same series, geometry and mask "
                     "files with the same model, precision, symmetric copies and scales: skip "
                     "(mintpy_dlae.py --force runs it again; in smallbaselineApp, remove the output first)",
                     outputs["timeseries"])
            return None
        changes = next((c for c in (io.provenance_changes(p, compare) for p in outputs.values()) if c), [])
        said = "; ".join(f"{k}: {old} -> {new}" if k else "an output is unreadable" for k, old, new in changes)
        log.info("inputs or options changed since %s was written (%s): run again", outputs["timeseries"], said)
    spacing = io.pixel_spacing(atr)
    if spacing is not None:
        attrs["mintpy.dlae.pixelSize"] = f"{spacing[0]:.0f} x {spacing[1]:.0f} m"
        warn_pixel_size(ts_file, spacing)

    ref_index = reference_index(ts_file, atr, dates)
    ref_yx = reference_point(ts_file, atr, length, width)
    scan = scan_input(ts_file, dates, ref_index, cfg.mask_file, mask_dataset, cfg.max_memory,
                      geom_file=geom_file)
    keep = scan.keep
    if not keep[ref_index]:      # REF_DATE itself is empty (NaN): reference to the first kept date
        ref_index = int(np.flatnonzero(keep)[0])
        log.warning("%s: REF_DATE %s has no data (NaN on every pixel): the output is referenced "
                    "to %s instead", ts_file, atr.get("REF_DATE"), dates[ref_index])
    kept_dates = [d for d, k in zip(dates, keep) if k]
    attrs.update(scan.attrs())
    attrs[EDGE_GAP_ATTRIBUTE] = ",".join(warn_edge_gaps(ts_file, kept_dates)) or "none"
    attrs["REF_DATE"] = dates[ref_index]          # the date the outputs are referenced to

    check_room_for_outputs(ts_file, outputs, length * width, num_date, len(kept_dates), uncertainty, int(cfg.scales))

    # only now the network (TensorFlow): everything above is checked without it
    from mintpy_dlae.config import import_tensorflow_quietly
    import_tensorflow_quietly()
    from mintpy_dlae.inference import receptive_halo
    net = load_model(cfg.model)          # once; Dask workers load the file themselves
    has_sigma = model_has_uncertainty(cfg.model)     # also with the uncertainty outputs off
    receptive = int(receptive_halo(net))
    halo = receptive
    scales = int(cfg.scales)
    if scales == 2:       # the coarse maps are computed once (coarse_pass); the blend reads a few px more
        from mintpy_dlae.multiscale import block_halo
        halo = block_halo(receptive, coarse_given=True)
    # a model trained on per-pixel scales (scale_box) computes them per block from the data and its halo
    scale = None if getattr(net, "scale_box", 0) else frame_scales(scan, ref_yx)
    nodata = io.nodata_value(ts_file, atr, nan_pixels=scan.nan_nodata)
    job = dict(ts_file=ts_file, geom_file=geom_file, halo=halo, model=net, scale=scale,
               mask_file=cfg.mask_file, mask_dataset=mask_dataset, tile_size=cfg.tile_size,
               batch_size=cfg.batch_size, precision=cfg.precision, ref_yx=ref_yx,
               keep=np.flatnonzero(keep).tolist(), days=scan.days, augment=augment, scales=scales)
    log.info("denoise %s (%d dates, %d x %d px) with model %s, halo %d px, %s", ts_file, num_date,
             length, width, attrs["mintpy.dlae.model"], halo,
             "one network pass per window (no augmentation)" if augment == 1
             else f"{augment} symmetric copies averaged per window (test-time augmentation)")
    num_kept = len(kept_dates)
    coarse_file = None
    try:
        if scales == 2:      # the coarse pass of the whole frame, once, into a temporary file next to the output
            out_ts = os.path.abspath(outputs["timeseries"])
            io.remove_orphan_temporaries(out_ts + "-coarse")          # left by a killed run on this host
            coarse_file = job["coarse_file"] = coarse_pass(
                job, receptive, (length, width), num_date,
                os.path.join(os.path.dirname(out_ts), f".{os.path.basename(out_ts)}-coarse.{io._run_tag()}.tmp"),
                cfg.max_memory, progress)
        if ref_yx is not None:
            ref_den, ref_cum = reference_values(job, ref_yx, length, width)
        else:
            ref_den = np.zeros(num_kept, np.float32)
            ref_cum = np.zeros(num_kept - WINDOW + 1, np.float32)

        blocks = io.plan_row_blocks(length, width, num_date, cfg.max_memory, halo)
        log.info("%d block(s) of rows, to stay within %s (--ram)", len(blocks), format_gb(cfg.max_memory))
        runner = BlockRunner(cfg, job)
        for path in names.values():       # also the products this run does not write (--save-removed before)
            io.remove_orphan_temporaries(path)
        try:
            with io.AtomicOutputs(list(outputs.values())) as tmp:
                io.layout_timeseries(tmp[outputs["timeseries"]], ts_file, attrs)
                cum_names = None
                if "cumulative" in outputs:
                    cum_names = io.layout_cumulative(tmp[outputs["cumulative"]], ts_file, kept_dates,
                                                      attrs, uncertainty=uncertainty)
                if "variance" in outputs:
                    io.layout_variance(tmp[outputs["variance"]], ts_file,
                                       dict(attrs, **{"mintpy.dlae.product": "variance"}))
                if "removed" in outputs:
                    io.layout_timeseries(tmp[outputs["removed"]], ts_file,
                                         dict(attrs, **{"mintpy.dlae.product": "removed"}))
                elev_check = ElevationCheck(max(num_kept - WINDOW + 1, 0))
                for box in _progress(blocks, progress):
                    den, cum, den_std, cum_std, inp = runner(box, num_kept, uncertainty)
                    ref_pixel = None
                    if ref_yx is not None and box.contains(*ref_yx):
                        ref_pixel = (ref_yx[0] - box.y0, ref_yx[1] - box.x0)
                    res = finalise_block(den, cum, inp, ref_index, ref_den, ref_cum, nodata, ref_pixel,
                                         keep, den_std if uncertainty else None, cum_std,
                                         removed="removed" in outputs, overwrite=True,
                                         flagged=read_flagged(ts_file, box, inp) if scan.num_flagged else None)
                    # the network's sigma also when the uncertainty outputs are off (the same rule)
                    elev_check.add(io.read_geometry(geom_file, box, angles=())["height"], res["cumulative"],
                                   res.get("cumulative_std", cum_std if has_sigma else None))
                    del den, cum, den_std, cum_std, inp
                    io.write_block(tmp[outputs["timeseries"]], res["timeseries"], "timeseries", box)
                    if cum_names:
                        io.write_cumulative_block(tmp[outputs["cumulative"]], cum_names,
                                                  res["cumulative"], box)
                        if uncertainty:
                            io.write_cumulative_block(tmp[outputs["cumulative"]],
                                                      io.std_names(cum_names), res["cumulative_std"], box)
                            io.write_cumulative_block(tmp[outputs["cumulative"]],
                                                      io.significance_names(cum_names),
                                                      res["significance"], box)
                    if "variance" in outputs:
                        io.write_block(tmp[outputs["variance"]], res["variance"], "timeseries", box)
                    if "removed" in outputs:
                        io.write_block(tmp[outputs["removed"]], res["removed"], "timeseries", box)
                follows = warn_elevation_correlation(elev_check, [f"{kept_dates[i]}_{kept_dates[i + WINDOW - 1]}"
                                                                  for i in range(len(elev_check.sums))])
                for key in ("timeseries", "cumulative"):
                    if key in outputs:
                        io.set_attribute(tmp[outputs[key]], ELEVATION_ATTRIBUTE, ",".join(follows) or "none")
        finally:
            runner.close()
    finally:
        if coarse_file and os.path.exists(coarse_file):
            os.remove(coarse_file)
    for path in outputs.values():
        log.info("finished writing %s", path)
    remove_stale_products(names, outputs)
    return outputs


def remove_stale_products(names, outputs):
    """Remove the products of an earlier run for the same output that this run did not write
    (e.g. ``timeseriesVar_*`` left by a run with the uncertainty, after ``--force --no-uncertainty``):
    beside the new series they would describe another run. Only files that carry this package's
    provenance (``mintpy.dlae.version``) are removed, each with a log line."""
    for product, path in names.items():
        if product in outputs or not os.path.isfile(path):
            continue
        try:
            ours = "mintpy.dlae.version" in io.readfile.read_attribute(path)
        except Exception:  # noqa: BLE001 - not a readable MintPy file: not ours, leave it
            ours = False
        if ours:
            os.remove(path)
            log.info("removed %s: an earlier run's %s, which this run does not write", path, product)


def coarse_pass(job, receptive, shape, num_date, path, max_memory=4.0, progress=False):
    """``--scales 2``: the coarse pass (:mod:`mintpy_dlae.multiscale`) of the whole frame, once, written
    to the temporary HDF5 file ``path`` (removed here on an error; else the caller removes it); returns
    ``path``.

    Two passes in row blocks, so that memory stays within ``max_memory`` (GB):

    1. the file in row blocks that start on even rows, each read and prepared as :func:`denoise_box`
       prepares it (``job``: its keywords): the 2 x 2 means (:func:`multiscale.coarse_input`) to the
       file, and the noise scale of every window from every ``stride``-th coarse row and column (the
       grid of :func:`mintpy_dlae.inference.window_scales` on the whole coarse frame; none for a
       model with per-pixel scales, ``scale_box``, which ``denoise`` computes per block);
    2. the coarse frame in row blocks with ``receptive`` px of context: ``denoise(scales=1,
       level='network')`` with that scale, its ``timeseries`` (k, ceil(H/2), ceil(W/2)) and
       ``cumulative`` (k-8, ...) to the file.

    Each block therefore equals the whole coarse frame's result, what ``denoise(scales=2)`` computes
    for the whole frame in memory (tests/test_run_model.py). The file holds about 3/4 of the kept
    dates in float32 (uncompressed)."""
    import h5py

    from mintpy_dlae import dataset, multiscale
    from mintpy_dlae.inference import denoise, window_scales
    length, width = shape
    keep, days, ref_yx = job["keep"], job["days"], job["ref_yx"]
    k = len(keep)
    ch, cw = -(-length // 2), -(-width // 2)
    stride = max(1, int(np.ceil(np.sqrt(ch * cw / SCALE_PIXELS))))
    sample = np.zeros((k, -(-ch // stride), -(-cw // stride)), np.float32)
    ok = np.zeros(sample.shape[1:], bool)
    per_pixel = bool(getattr(job["model"], "scale_box", 0))     # per-pixel scales: from each block
    try:
        with h5py.File(path, "w") as f:
            for name, shp, dtype in (("input", (k, ch, cw), np.float32), ("height", (ch, cw), np.float32),
                                     ("valid", (ch, cw), bool), ("timeseries", (k, ch, cw), np.float32),
                                     ("cumulative", (k - WINDOW + 1, ch, cw), np.float32)):
                f.create_dataset(name, shp, dtype=dtype)
            starts = sorted({b.y0 - b.y0 % 2 for b in io.plan_row_blocks(length, width, num_date, max_memory,
                                                                         SPIKE_CONTEXT)}) + [length]
            log.info("scales 2: the coarse pass (2 x 2 means of %s) into %s", job["ts_file"], path)
            for y0, y1 in _progress(list(zip(starts[:-1], starts[1:])), progress, "coarse input"):
                raw, geom, mask = read_block(job["ts_file"], job["geom_file"], Box(y0, y1, 0, width), keep,
                                             job["mask_file"], job["mask_dataset"], angles=False)
                ts = prepare(raw, keep, days, ref_yx, (y0, 0))
                del raw
                valid = dataset.valid_mask(ts, mask) & np.isfinite(geom["height"])
                series, height, has = multiscale.coarse_input(np.where(valid, ts, np.float32(0)), valid,
                                                              geom["height"])
                del ts
                c0, c1 = y0 // 2, y0 // 2 + series.shape[1]
                f["input"][:, c0:c1] = series
                f["height"][c0:c1] = height
                f["valid"][c0:c1] = has
                has &= np.any(series != 0, axis=0)         # as the coarse pass's own validity
                first = -c0 % stride
                rows = slice((c0 + first) // stride, -(-c1 // stride))
                sample[:, rows] = series[:, first::stride, ::stride]
                ok[rows] = has[first::stride, ::stride]
                del series
            scale = None if per_pixel else window_scales(np.where(ok, sample, np.float32(0)), ok, WINDOW,
                                                         max_pixels=ok.size)
            del sample
            kw = {key: job[key] for key in ("tile_size", "batch_size", "precision", "augment")}
            for core in _progress(io.plan_row_blocks(ch, cw, num_date, max_memory, receptive), progress,
                                  "coarse pass"):
                read = core.pad(receptive, ch, cw)
                rows = slice(read.y0, read.y1)
                res = denoise(f["input"][:, rows], f["height"][rows], model=job["model"], mask=f["valid"][rows],
                              box=core.within(read), scale=scale, scales=1, level="network", spikes=False,
                              overwrite_input=True, **kw)
                f["timeseries"][:, core.y0:core.y1] = res.timeseries
                f["cumulative"][:, core.y0:core.y1] = res.cumulative
                del res
    except BaseException:
        if os.path.exists(path):
            os.remove(path)
        raise
    return path


def frame_scales(scan, ref_yx=None):
    """Noise scale (k-8,) of every window of the kept dates, for the whole frame, from the sub-grid
    that :func:`scan_input` kept: the same array and validity the engine would see for the whole
    frame (prepared as :func:`denoise_box` prepares a block), so blocks equal the whole frame."""
    from mintpy_dlae import dataset
    from mintpy_dlae.inference import window_scales
    s = scan.stride
    ref = None if ref_yx is None or ref_yx[0] % s or ref_yx[1] % s else (ref_yx[0] // s, ref_yx[1] // s)
    ts = prepare(scan.sample, np.flatnonzero(scan.keep), scan.days, ref)
    valid = dataset.valid_mask(ts, scan.sample_mask) & np.isfinite(scan.sample_height)
    data = np.where(valid[None], ts, np.float32(0)).astype(np.float32, copy=False)
    return window_scales(data, valid, WINDOW, max_pixels=valid.size)


# --------------------------------------------------------------------------------------------
# what the input holds: reference point and date, empty dates, missing values, valid pixels
# --------------------------------------------------------------------------------------------
def _scan_spikes(ts_file, shape, dates, keep, max_memory, num_nan, sample, stride):
    """The isolated spikes (:func:`find_spikes`) of the kept dates of ``ts_file``, one more pass over
    the file in row blocks (each read with the rows around it that the spatial test needs): adds them
    to the per-pixel missing count ``num_nan`` and sets them to NaN in the sub-grid ``sample`` (both
    in place); ``shape``: (length, width) of the frame. Returns (count, (first date, spikes on it,
    row, col, value)) of the first found."""
    length, width = shape
    kept = np.flatnonzero(keep)
    count, first = 0, None
    for box in io.plan_row_blocks(length, width, len(dates), max_memory, SPIKE_CONTEXT):
        wide = box.pad(SPIKE_CONTEXT, length, width)
        block = mark_missing(io.read_timeseries(ts_file, wide))
        inner = (slice(None),) + box.within(wide).slices
        spikes = find_spikes(block, kept)[inner]
        if not spikes.any():
            continue
        count += int(spikes.sum())
        num_nan[box.y0:box.y1] += spikes.sum(axis=0).astype(num_nan.dtype)
        if first is None:
            d, y, x = (int(i[0]) for i in np.nonzero(spikes))
            first = (dates[d], int(spikes[d].sum()), box.y0 + y, x, float(block[inner][d, y, x]))
        off = -box.y0 % stride
        rows = slice((box.y0 + off) // stride, -(-box.y1 // stride))
        sample[:, rows][spikes[:, off::stride, ::stride]] = np.nan
    return count, first


def format_gb(value):
    """'4.0 GB', '0.25 GB', '0.004 GB': never '0.0 GB' for a small positive --ram."""
    value = float(value)
    if value >= 0.1:
        return f"{value:.1f} GB"
    return f"{value:.2g} GB"


def reference_index(ts_file, atr, dates):
    """Index of REF_DATE in ``dates``; the first date (with a warning) if it is absent or unknown."""
    ref_date = atr.get("REF_DATE")
    if ref_date in dates:
        return dates.index(ref_date)
    if ref_date is not None:
        log.warning("%s: REF_DATE = %s is not one of its dates: the output is referenced to the "
                    "first date %s", ts_file, ref_date, dates[0])
    return 0


def reference_point(ts_file, atr, length, width):
    """(REF_Y, REF_X) as integers inside the frame, or None (with a warning) when the attributes
    are missing, not integers, or outside the frame (e.g. after subset.py).

    With None the output is not re-referenced in space: it keeps the input's spatial referencing
    and its REF_* attributes, and no other pixel is silently made the reference.
    """
    if "REF_Y" not in atr or "REF_X" not in atr:
        log.warning("%s: no reference point (REF_Y/REF_X missing from its attributes): the output is "
                    "not re-referenced in space (it keeps the input's referencing). Run "
                    "reference_point.py on the input first.", ts_file)
        return None
    try:
        ry, rx = float(atr["REF_Y"]), float(atr["REF_X"])
        if not (ry.is_integer() and rx.is_integer()):
            raise ValueError
        ry, rx = int(ry), int(rx)
    except (TypeError, ValueError, OverflowError):
        log.warning("%s: REF_Y/REF_X = %s/%s are not pixel indices: the output is not "
                    "re-referenced in space (it keeps the input's referencing)", ts_file,
                    atr["REF_Y"], atr["REF_X"])
        return None
    if not (0 <= ry < length and 0 <= rx < width):
        log.warning("%s: the reference point REF_Y/REF_X = %d/%d lies outside the "
                    "%d x %d frame (after subset.py?): the output is not re-referenced in space; "
                    "it keeps the input's spatial referencing and REF_* attributes. Run "
                    "reference_point.py on the input to choose a point inside the frame.",
                    ts_file, ry, rx, length, width)
        return None
    return ry, rx


class InputScan:
    """What :func:`scan_input` found: kept dates, empty dates, filled values, valid pixels."""

    def __init__(self, dates, keep, num_filled, num_valid, days):
        self.dates, self.keep, self.num_filled, self.num_valid = dates, keep, num_filled, num_valid
        self.days = days

    @property
    def empty_dates(self):
        return [d for d, k in zip(self.dates, self.keep) if not k]

    def attrs(self):
        """mintpy.dlae.* attributes recording how missing data were handled."""
        return {"mintpy.dlae.excludedDates": ",".join(self.empty_dates) or "none",
                "mintpy.dlae.numFilledValues": str(self.num_filled),
                "mintpy.dlae.missingData": MISSING_RULE}


MISSING_RULE = ("dates with no data on any pixel (NaN or 0 everywhere, REF_DATE apart) are left "
                "out of the network and keep the input values; a pixel's NaN (or inf) on other dates "
                "is filled by linear interpolation in time for the network only and written as NaN, "
                "and the cumulative maps of the windows that begin or end on it are NaN there; its "
                "fill values beyond +-100 m and isolated spikes are filled the same way and get the "
                "denoised estimate (see mintpy.dlae.numFilledValues)")


def scan_input(ts_file, dates, ref_index, mask_file=None, mask_dataset=None, max_memory=4.0,
               geom_file=None, max_pixels=SCALE_PIXELS):
    """Read the series once, in row blocks, before any network pass.

    * Every ``stride``-th row and column (at most ``max_pixels`` pixels, the grid of
      :func:`mintpy_dlae.inference.window_scales`) is kept, with the mask and the heights of
      ``geom_file`` there, for :func:`frame_scales`: ``scan.sample`` (n, ...), ``sample_mask``,
      ``sample_height``, ``stride``.
    * A date with no finite non-zero value on any pixel is *empty*: MintPy's offset time series
      carry missing acquisitions as all-NaN dates, other files as all-0 dates (REF_DATE is 0
      everywhere by definition and is never empty). Empty dates are left out of the network.
    * A pixel that is NaN on some kept dates and has data on others is filled for the network
      (:func:`fill_missing`) and written as NaN on those dates (the fill values and spikes below get
      the denoised estimate: ``scan.num_flagged`` counts them). Exact zeros of such pixels (REF_DATE
      apart) are data; a warning counts them, as they may be missing values written as 0.
    * Values beyond +-MAX_ABS_DISPLACEMENT_M (fill values) and +-inf are missing values, as NaN
      (:func:`mark_missing`), with a warning that counts them; a spread of the date-to-date changes
      that no series in metres has is an error (:func:`check_unit`: values in mm under UNIT = m).
    * Nothing valid to denoise (every pixel 0/NaN on every date, or outside the mask) and fewer
      than 9 dates with data raise DlaeInputError, naming the file, the dataset and why.
    """
    from mintpy.utils import ptime
    n = len(dates)
    atr = io.readfile.read_attribute(ts_file)
    length, width = int(atr["LENGTH"]), int(atr["WIDTH"])
    date_data = np.zeros(n, bool)
    date_finite = np.zeros(n, bool)
    has_data = np.zeros((length, width), bool)
    no_height = np.zeros((length, width), bool)
    num_nan = np.zeros((length, width), np.int32)
    zero_at_data = np.zeros(n, np.int64)
    num_fill, fill_max, fill_date = 0, 0.0, None     # values beyond MAX_ABS_DISPLACEMENT_M
    max_abs = 0.0                                    # largest |value| read as data
    stride = max(1, int(np.ceil(np.sqrt(length * width / max_pixels))))
    sample = np.zeros((n, -(-length // stride), -(-width // stride)), np.float32)
    height = np.zeros(sample.shape[1:], np.float32)
    for box in io.plan_row_blocks(length, width, n, max_memory):
        y0, y1 = box.y0, box.y1
        block = io.read_timeseries(ts_file, box)
        with np.errstate(invalid="ignore"):
            beyond = np.isfinite(block) & (np.abs(block) > MAX_ABS_DISPLACEMENT_M)
        if beyond.any():
            num_fill += int(beyond.sum())
            big = float(np.max(np.abs(block[beyond])))
            if big > fill_max:
                fill_max, fill_date = big, dates[int(np.flatnonzero(beyond.any(axis=(1, 2)))[0])]
            block[beyond] = np.nan
        del beyond
        first = -y0 % stride                      # first row of the block on the sub-grid
        rows = slice((y0 + first) // stride, -(-y1 // stride))
        sample[:, rows] = block[:, first::stride, ::stride]
        if geom_file is not None:
            hgt = io.read_geometry(geom_file, box, angles=())["height"]
            height[rows] = hgt[first::stride, ::stride]
            no_height[y0:y1] = ~np.isfinite(hgt)
            del hgt
        finite = np.isfinite(block)
        if finite.any():
            max_abs = max(max_abs, float(np.max(np.abs(block[finite]))))
        data = finite & (block != 0)
        date_data |= data.any(axis=(1, 2))
        date_finite |= finite.any(axis=(1, 2))
        has_data[y0:y1] = data.any(axis=0)
        num_nan[y0:y1] = n - finite.sum(axis=0)
        # exact zeros of pixels with data on other dates (REF_DATE apart): read as data
        zero_at_data += ((block == 0) & has_data[y0:y1]).sum(axis=(1, 2))
        del block, finite, data
    keep = date_data.copy()
    keep[ref_index] |= date_finite[ref_index]       # the reference date is 0 everywhere
    for i in np.flatnonzero(~keep):                  # NaN of the empty dates do not count
        num_nan -= np.isnan(mark_missing(io.read_timeseries_date(ts_file, i)))
    check_unit(ts_file, sample[np.flatnonzero(keep)], has_data[::stride, ::stride])
    num_spike = 0
    if 2 * max_abs > SPIKE_M:          # else no value can be SPIKE_M outside its neighbours' range
        num_spike, spike_at = _scan_spikes(ts_file, (length, width), dates, keep, max_memory, num_nan,
                                             sample, stride)
        if num_spike:
            log.warning("%s: %d value(s) of dataset 'timeseries' are isolated spikes (%d on %s, e.g. "
                        "%.3g m at (row, col) = (%d, %d)): more than %g m outside the range of their "
                        "dates before and after, and as far from the excursions of the %d x %d px around "
                        "them, a change between two dates that unwrapped phase cannot show (a "
                        "phase-unwrapping or processing error, which the network would spread over its "
                        "neighbours); they are read as missing values (the outputs hold the denoised "
                        "estimate there)",
                        ts_file, num_spike, spike_at[1], spike_at[0], spike_at[4], spike_at[2], spike_at[3],
                        SPIKE_M, SPIKE_BOX, SPIKE_BOX)
    if num_fill:
        log.warning("%s: %d value(s) of dataset 'timeseries' are beyond +-%g m (up to %g m in magnitude, "
                    "e.g. on %s): no InSAR displacement is that large, so they are read as missing values "
                    "(fill values such as -9999?), as NaN are (the outputs hold the denoised estimate there)",
                    ts_file, num_fill, MAX_ABS_DISPLACEMENT_M, fill_max, fill_date)
    if not has_data.any():
        raise io.DlaeInputError(
            f"{ts_file}: dataset 'timeseries' is 0 or NaN on every pixel of every date: nothing "
            "to denoise (MintPy's no-data)")
    lost = has_data & no_height
    if lost.any():
        if lost.sum() == has_data.sum():
            raise io.DlaeInputError(
                f"{geom_file}: dataset 'height' is NaN (or inf, or a DEM void below {io.HEIGHT_VOID_BELOW:g} "
                f"m) on every pixel with data in {ts_file}: nothing to denoise (the network needs the elevation)")
        log.warning("%s: dataset 'height' is NaN (or inf, or a DEM void below %g m) on %d pixel(s) with "
                    "data: they are left out (written as no-data)", geom_file, io.HEIGHT_VOID_BELOW,
                    int(lost.sum()))
        has_data &= ~no_height
    num_valid = int(has_data.sum())
    mask = None
    if mask_file:
        mask = io.read_mask(mask_file, None, mask_dataset)
        if not mask.any():
            raise io.DlaeInputError(
                f"{mask_file}: dataset {mask_dataset!r} is 0 (masked out) on every pixel: nothing "
                "to denoise; choose another mask (-m) or none")
        num_valid = int((has_data & mask).sum())
        if num_valid == 0:
            raise io.DlaeInputError(
                f"{ts_file}: no pixel with data in dataset 'timeseries' is valid in {mask_file} "
                f"(dataset {mask_dataset!r}): nothing to denoise")
    empty = [d for d, k in zip(dates, keep) if not k]
    num_kept = int(keep.sum())
    if num_kept < WINDOW:
        raise io.DlaeInputError(
            f"{ts_file}: dataset 'timeseries' has {n} dates but {len(empty)} of them have no data "
            f"(NaN or 0 on every pixel: {', '.join(empty)}), leaving {num_kept}; "
            f"mintpy_dlae needs at least {WINDOW} dates with data")
    if empty:
        log.warning("%s: %d date(s) with no data on any pixel (NaN or 0 everywhere) are left out "
                    "of the network and keep the input values (NaN or 0; NaN for fill values) in the outputs, "
                    "with NaN variance: leave them out of the velocity too (timeseries2velocity.py "
                    "--ex-date %s, or mintpy.timeFunc.excludeDate), or its velocityStd from "
                    "timeseriesVar_*.h5 is NaN: %s",
                    ts_file, len(empty), " ".join(empty), ", ".join(empty))
    zero_at_data[ref_index] = 0                      # every pixel is 0 on REF_DATE
    num_zero = int(zero_at_data[keep].sum())
    if num_zero:
        d = int(np.flatnonzero(zero_at_data * keep)[0])
        why = ("if they mark missing values, set them to NaN"
               if "mintpy.dlae.version" not in io.readfile.read_attribute(ts_file)
               else f"a mintpy_dlae output writes values smaller than {FLUSH_BELOW:g} m as 0")
        log.warning("%s: %d value(s) are exactly 0 on dates other than REF_DATE at pixels with data on "
                    "other dates (e.g. %d on %s); they are read as data (0 m), not as missing values: "
                    "%s", ts_file, num_zero, int(zero_at_data[d]), dates[d], why)
    partial = (num_nan > 0) & (num_nan < num_kept)
    num_filled = int(num_nan[partial].sum())
    if num_filled:
        log.warning("%s: %d missing (NaN, inf, fill or spike) values on %d pixels with data on other dates are filled "
                    "by linear interpolation in time for the network only; NaN and inf are written as NaN",
                    ts_file, num_filled, int(partial.sum()))
    years = [float(x) for x in ptime.date_list2vector(dates)[1]]
    scan = InputScan(dates, keep, num_filled, num_valid, years)
    scan.nan_nodata = bool(np.any(num_nan == num_kept))   # no-data pixels are NaN, not 0
    scan.num_flagged = num_fill + num_spike     # finite values read as missing: estimated in the outputs
    scan.stride, scan.sample, scan.sample_height = stride, sample, height
    scan.sample_mask = None if mask is None else mask[::stride, ::stride]
    return scan


# Median over the date-to-date changes of their spatial std (metres) above which a series said to
# be in metres is not: InSAR changes between acquisitions are millimetres to a few centimetres.
# (The fill values of MAX_ABS_DISPLACEMENT_M are marked before it is computed, so a few of them do
# not trip it; a series in mm does.)
UNIT_SPREAD_M = 1.0
# Above this (and up to UNIT_SPREAD_M) a warning: centimetres under UNIT = m, or a frame full of
# decorrelated pixels; real series in metres change by a few cm at most (the Mexico City crop's
# median is below 0.01 m, tests/test_run.py::test_centimetres_under_unit_m_are_warned).
UNIT_WARN_M = 0.2


def step_spread(series, has_data):
    """Median over the pairs of consecutive dates of ``series`` (k, h, w) of the spatial std of the
    change between them over the pixels ``has_data`` (h, w) (finite values only), in the series'
    unit; None when it cannot be computed (fewer than 2 dates, or no pair with 2 values)."""
    if len(series) < 2 or not has_data.any():
        return None
    spreads = []
    for d in range(1, len(series)):
        step = (np.asarray(series[d], np.float64) - np.asarray(series[d - 1], np.float64))[has_data]
        step = step[np.isfinite(step)]
        if step.size > 1:
            spreads.append(float(np.std(step)))
    return float(np.median(spreads)) if spreads else None


def check_unit(ts_file, series, has_data):
    """Raise DlaeInputError when the kept dates ``series`` (k, h, w) of ``ts_file`` (metres by its
    UNIT) change from date to date by a median spatial std above UNIT_SPREAD_M over the pixels
    ``has_data`` (h, w): the values are in mm (or another unit) under UNIT = m, and the outputs
    would carry that unit under the label metres (and values beyond +-MAX_ABS_DISPLACEMENT_M would be
    taken for fill values). Returns that median (metres), or None when it cannot be computed."""
    spread = step_spread(series, has_data)
    if spread is None:
        return None
    if spread > UNIT_SPREAD_M:
        raise io.DlaeInputError(
            f"{ts_file}: dataset 'timeseries' changes from date to date by {spread:.3g} m (median spatial std) "
            "although its UNIT is m: InSAR time series in metres change by millimetres to centimetres. The "
            "values look like mm (or another unit); convert them to metres (e.g. with h5py: "
            "f['timeseries'][:] /= 1000) before mintpy_dlae.py")
    if spread > UNIT_WARN_M:
        log.warning("%s: dataset 'timeseries' changes from date to date by %.3g m (median spatial std), more "
                    "than an InSAR time series in metres does (millimetres to centimetres): if the values "
                    "are centimetres under UNIT = m, convert them to metres (f['timeseries'][:] /= 100), "
                    "else the outputs are 100 times too large under the label metres; if much of the "
                    "frame is decorrelated, mask it (-m maskTempCoh.h5)", ts_file, spread)
    return spread


class BlockRunner:
    """Runs :func:`denoise_box` on row blocks: in this process, or on MintPy's Dask cluster
    (``cfg.cluster``) with ONE client for the whole run (MintPy's ``DaskCluster.run`` opens a new
    client per call) and each worker's TensorFlow limited to its share of the cores.

    ``runner(box, num_kept, uncertainty)`` -> (den, cum, den_std, cum_std, inp) for a row block."""

    def __init__(self, cfg, job):
        self.job, self.cluster, self.num_worker = dict(job), None, 1
        if not cfg.cluster:
            return
        from mintpy.objects.cluster import DaskCluster
        num = int(DaskCluster.format_num_worker(cfg.cluster, str(cfg.num_worker)))
        if num <= 1:
            return
        from dask.distributed import Client
        cluster = DaskCluster(cfg.cluster, str(num), config_name=cfg.config_name)
        cluster.open()
        try:
            cluster.cluster.scale(cluster.num_worker)
            cluster.client = Client(cluster.cluster)
        except BaseException:
            _close_cluster(cluster)
            raise
        self.cluster, self.num_worker = cluster, cluster.num_worker
        # workers load the model file themselves, and share the cores of a local machine
        self.job["model"] = cfg.model
        if cfg.cluster == "local":
            self.job["threads"] = max(1, (os.cpu_count() or 1) // self.num_worker)
        log.info("Dask cluster %s: %d workers", cfg.cluster, self.num_worker)

    def __call__(self, box, num_kept, uncertainty=True):
        if self.cluster is None:
            return denoise_box(box=box.mintpy, **self.job)[:5]
        from mintpy.objects.cluster import split_box2sub_boxes
        sub_boxes, _ = split_box2sub_boxes(box.mintpy, num_split=self.num_worker, dimension="x")
        h, w = box.shape
        num_date = len(io.read_timeseries_info(self.job["ts_file"])[0])
        num_win = num_kept - WINDOW + 1
        results = [np.zeros((num_kept, h, w), np.float32), np.zeros((num_win, h, w), np.float32),
                   np.zeros((num_kept, h, w), np.float32), np.zeros((num_win, h, w), np.float32),
                   np.zeros((num_date, h, w), np.float32)]
        futures, t0 = self.cluster.submit_job(denoise_box, dict(self.job, box=list(box.mintpy)),
                                              sub_boxes)
        results = self.cluster.collect_result(futures, results, box.mintpy, t0)
        if not uncertainty:
            results[2] = None          # the cumulative std stays: the elevation check uses it
        return tuple(results)

    def close(self):
        _close_cluster(self.cluster)
        self.cluster = None


def _close_cluster(cluster):
    if cluster is None:
        return
    if cluster.client is not None:
        cluster.close()
    elif cluster.cluster is not None:
        cluster.cluster.close()


def _progress(blocks, enabled, desc="denoising"):
    if not enabled or len(blocks) < 2:
        return blocks
    try:
        from tqdm import tqdm
    except ImportError:
        return blocks
    return tqdm(blocks, desc=desc, unit="block")
