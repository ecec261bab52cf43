"""Denoise a MintPy time-series file block by block: the engine of mintpy_dlae.py and correct_dlae.

Flow (see ../DESIGN.md §1)::

    check inputs and outputs  ->  update mode: skip if outputs are newer and options match
    -> load the model once, halo = receptive_halo(model)
    -> denoise a small box around REF_Y/REF_X (reference values for re-referencing)
    -> for each row block (sized by --ram): read the block plus its halo, denoise, crop the halo,
       re-reference to REF_DATE and REF_Y/REF_X, restore no-data, write the block
    -> rename the temporary outputs (atomic)

With ``cluster`` set, every row block is split along x by MintPy's ``DaskCluster``; each worker runs
the module-level :func:`denoise_box`, which reads its own halo on all four sides, so the result does
not depend on how the frame is cut into blocks or sub-boxes.
"""
import hashlib
import logging
import os

import numpy as np

from mintpy_dlae import io
from mintpy_dlae.config import MODEL_NAMES, package_file

log = logging.getLogger(__name__)

WINDOW = io.MIN_NUM_DATE
# MintPy's reference pixel is exactly 0 at every date, which the denoiser would take as no-data.
# It is valid data, so it is fed as this negligible constant (a constant has no deformation).
REF_PIXEL_VALUE = 1e-7
REF_SEARCH_RADIUS = 3      # px around REF_Y/REF_X used if the reference pixel itself is masked
COMPARE_KEYS = ("mintpy.dlae.model", "mintpy.dlae.modelSha256", "mintpy.dlae.calibrate",
                "mintpy.dlae.maskFile", "mintpy.dlae.precision")


# --------------------------------------------------------------------------------------------
# names and models
# --------------------------------------------------------------------------------------------
def output_files(ts_file, out_file=None):
    """Output paths: {'timeseries', 'cumulative', 'removed'}.

    ``timeseries_ERA5.h5`` -> ``timeseries_ERA5_DLAE.h5`` (the denoised series),
    ``cumulative_ERA5_DLAE.h5`` (moving-window maps) and ``timeseriesRemoved_ERA5_DLAE.h5``
    (input minus output). The last two do not match smallbaselineApp's ``timeseries_*.h5`` glob
    and never enter its alphabetically sorted file chain.
    """
    if out_file is None:
        out_file = os.path.splitext(ts_file)[0] + "_DLAE.h5"
    folder, base = os.path.split(out_file)
    stem = os.path.splitext(base)[0]
    if "timeseries" in stem:
        cum = stem.replace("timeseries", io.CUMULATIVE_PREFIX, 1)
        rem = stem.replace("timeseries", "timeseriesRemoved", 1)
    else:
        cum, rem = f"{stem}_{io.CUMULATIVE_PREFIX}", f"{stem}_removed"
    return {"timeseries": out_file,
            "cumulative": os.path.join(folder, cum + ".h5"),
            "removed": os.path.join(folder, rem + ".h5")}


def model_file(model):
    """File of a model name or path (None if a named model has no shipped file)."""
    if model in MODEL_NAMES:
        path = package_file("pretrained", f"{model}.keras")
        return path if os.path.isfile(path) else None
    if not os.path.isfile(model):
        raise io.DlaeInputError(f"model file not found: {model} (use fault, mogi or the path of "
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


def load_model(model):
    """Load once in the driver; a clear DlaeInputError for a bad file."""
    from mintpy_dlae.model import load_model as _load
    try:
        return _load(model)
    except (OSError, ValueError) as err:
        if isinstance(err, io.DlaeInputError):
            raise
        raise io.DlaeInputError(f"{model}: cannot load a mintpy_dlae model ({err})") from err


def provenance(cfg, ts_file):
    from mintpy_dlae import __version__
    attrs = cfg.to_attrs()
    attrs.update({"mintpy.dlae.modelSha256": model_sha256(cfg.model),
                  "mintpy.dlae.version": __version__,
                  "mintpy.dlae.inputFile": os.path.basename(ts_file)})
    return attrs


# --------------------------------------------------------------------------------------------
# one box (module level: Dask workers import it)
# --------------------------------------------------------------------------------------------
def denoise_box(ts_file, geom_file, box, halo, model, mask_file=None, mask_dataset=None,
                tile_size=256, batch_size=32, precision="auto", calibrate=True, ref_yx=None):
    """Denoise the pixels of ``box`` (x0, y0, x1, y1), reading ``halo`` px of context around it.

    Returns (timeseries (n, h, w), cumulative (n-8, h, w), box), as the denoiser gives them:
    referenced to the first date, NaN at no-data pixels.
    """
    from mintpy_dlae.inference import denoise

    atr = io.readfile.read_attribute(ts_file)
    length, width = int(atr["LENGTH"]), int(atr["WIDTH"])
    read_box, crop = io.pad_box(box, halo, length, width)
    ts = io.read_timeseries(ts_file, read_box)
    if ref_yx is not None:
        ry, rx = ref_yx[0] - read_box[1], ref_yx[1] - read_box[0]
        if 0 <= ry < ts.shape[1] and 0 <= rx < ts.shape[2] and not np.any(ts[:, ry, rx]):
            ts[:, ry, rx] = REF_PIXEL_VALUE
    geom = io.read_geometry(geom_file, read_box)
    mask = io.read_mask(mask_file, read_box, mask_dataset) if mask_file else None
    res = denoise(ts, geom["height"], model=model, mask=mask, incidence=geom["incidenceAngle"],
                  azimuth=geom["azimuthAngle"], tile_size=tile_size, batch_size=batch_size,
                  precision=precision, calibrate=calibrate)
    rows, cols = crop
    den = np.asarray(res.timeseries, dtype=np.float32)[:, rows, cols]
    cum = np.asarray(res.cumulative, dtype=np.float32)[:, rows, cols]
    return den, cum, box


def reference_values(job, ref_yx, length, width):
    """Denoised series and cumulative maps at REF_Y/REF_X (nearest valid pixels if masked)."""
    ry, rx = ref_yx
    r = REF_SEARCH_RADIUS
    box = (max(rx - r, 0), max(ry - r, 0), min(rx + r + 1, width), min(ry + r + 1, length))
    den, cum, _ = denoise_box(box=box, **job)
    cy, cx = ry - box[1], rx - box[0]
    if np.all(np.isfinite(den[:, cy, cx])):
        return den[:, cy, cx], cum[:, cy, cx]
    with np.errstate(invalid="ignore"):
        valid = np.all(np.isfinite(den), axis=0)
    if not valid.any():
        log.warning("no valid denoised pixel within %d px of REF_Y/REF_X = %d/%d: the output is "
                    "not re-referenced in space", r, ry, rx)
        return np.zeros(den.shape[0], np.float32), np.zeros(cum.shape[0], np.float32)
    log.warning("reference pixel REF_Y/REF_X = %d/%d is masked: using the mean of %d valid "
                "pixels around it", ry, rx, valid.sum())
    return den[:, valid].mean(axis=1), cum[:, valid].mean(axis=1)


def finalise_block(den, cum, inp, ref_index, ref_den, ref_cum, nodata, ref_pixel=None):
    """Re-reference a denoised block and restore the input's no-data.

    den/cum come from :func:`denoise_box`; inp is the input block (n, h, w). The output is
    referenced to the input's REF_DATE (``ref_index``) and REF_Y/REF_X (``ref_den``/``ref_cum``).
    Pixels that are no-data in the input (all dates 0, or NaN) keep their input values; pixels the
    denoiser leaves out (mask) get ``nodata``; NaN input elements stay NaN.
    Returns (timeseries, cumulative, removed).
    """
    out = den - den[ref_index] - (ref_den - ref_den[ref_index])[:, None, None]
    cum = cum - ref_cum[:, None, None]
    nan_in = np.isnan(inp)
    nodata_pix = np.all((inp == 0) | nan_in, axis=0)
    if ref_pixel is not None:
        nodata_pix[ref_pixel] = False
    valid = np.all(np.isfinite(out), axis=0) & ~nodata_pix
    out[:, ~valid] = nodata
    out[:, nodata_pix] = inp[:, nodata_pix]
    out[nan_in] = np.nan
    cum[:, ~valid] = np.nan
    removed = inp - out
    removed[:, ~valid] = nodata
    removed[:, nodata_pix] = inp[:, nodata_pix]
    removed[nan_in] = np.nan
    return out.astype(np.float32), cum.astype(np.float32), removed.astype(np.float32)


# --------------------------------------------------------------------------------------------
# the driver
# --------------------------------------------------------------------------------------------
def run_dlae(ts_file, geom_file, cfg, out_file=None, update=False, force=False, progress=True):
    """Denoise ``ts_file`` with the options of ``cfg`` (a DlaeConfig); return the output paths.

    Returns None when ``update`` finds the outputs up to date. Raises DlaeInputError for bad
    inputs before any output file is created; on any error no output file is left behind.
    """
    atr = io.check_timeseries(ts_file)
    length, width = int(atr["LENGTH"]), int(atr["WIDTH"])
    io.check_geometry(geom_file, (length, width), ts_file)
    mask_dataset = io.check_mask(cfg.mask_file, (length, width), ts_file) if cfg.mask_file else None
    names = output_files(ts_file, out_file)
    outputs = {"timeseries": names["timeseries"]}
    if cfg.save_cumulative:
        outputs["cumulative"] = names["cumulative"]
    if cfg.save_removed:
        outputs["removed"] = names["removed"]
    inputs = [ts_file, geom_file] + ([cfg.mask_file] if cfg.mask_file else [])
    for path in outputs.values():
        io.check_writable_dir(path)
    attrs = provenance(cfg, ts_file)
    flag = io.check_output(list(outputs.values()), inputs, update=update, force=force)
    if flag == "skip":
        compare = {k: attrs[k] for k in COMPARE_KEYS}
        if all(io.provenance_matches(p, compare) for p in outputs.values()):
            log.info("%s is newer than its inputs and was made with the same options: skip",
                     outputs["timeseries"])
            return None
        log.info("options changed since %s was written: run again", outputs["timeseries"])

    from mintpy_dlae.inference import receptive_halo
    model = cfg.model if cfg.cluster else load_model(cfg.model)
    if cfg.cluster:  # workers load it themselves; check it loads here, before any output exists
        load_model(cfg.model)
    halo = int(receptive_halo(model))
    dates, _, _ = io.read_timeseries_info(ts_file)
    num_date = len(dates)
    ref_index = dates.index(atr["REF_DATE"]) if atr.get("REF_DATE") in dates else 0
    ref_yx = (int(atr["REF_Y"]), int(atr["REF_X"])) if "REF_Y" in atr and "REF_X" in atr else None
    nodata = io.nodata_value(ts_file, atr)
    job = dict(ts_file=ts_file, geom_file=geom_file, halo=halo, model=model,
               mask_file=cfg.mask_file, mask_dataset=mask_dataset, tile_size=cfg.tile_size,
               batch_size=cfg.batch_size, precision=cfg.precision, calibrate=cfg.calibrate,
               ref_yx=ref_yx)
    log.info("denoise %s (%d dates, %d x %d px) with model %s, halo %d px", ts_file, num_date,
             length, width, attrs["mintpy.dlae.model"], halo)
    if ref_yx is not None:
        ref_den, ref_cum = reference_values(job, ref_yx, length, width)
    else:
        ref_den = np.zeros(num_date, np.float32)
        ref_cum = np.zeros(num_date - WINDOW + 1, np.float32)

    blocks = io.plan_row_blocks(length, width, num_date, cfg.max_memory, halo)
    log.info("%d row block(s) within %.1f GB", len(blocks), cfg.max_memory)
    cluster = _open_cluster(cfg)
    try:
        with io.AtomicOutputs(list(outputs.values())) as tmp:
            io.layout_timeseries(tmp[outputs["timeseries"]], ts_file, attrs)
            cum_names = None
            if "cumulative" in outputs:
                cum_names = io.layout_cumulative(tmp[outputs["cumulative"]], ts_file, dates, attrs)
            if "removed" in outputs:
                io.layout_timeseries(tmp[outputs["removed"]], ts_file,
                                     dict(attrs, **{"mintpy.dlae.product": "removed"}))
            for y0, y1 in _progress(blocks, progress):
                box = (0, y0, width, y1)
                den, cum = _denoise_block(job, box, cluster, num_date)
                inp = io.read_timeseries(ts_file, box)
                ref_pixel = None
                if ref_yx is not None and y0 <= ref_yx[0] < y1:
                    ref_pixel = (ref_yx[0] - y0, ref_yx[1])
                out, cum, removed = finalise_block(den, cum, inp, ref_index, ref_den, ref_cum,
                                                   nodata, ref_pixel)
                io.write_block(tmp[outputs["timeseries"]], out, "timeseries", box)
                if cum_names:
                    io.write_cumulative_block(tmp[outputs["cumulative"]], cum_names, cum, box)
                if "removed" in outputs:
                    io.write_block(tmp[outputs["removed"]], removed, "timeseries", box)
    finally:
        _close_cluster(cluster)
    for path in outputs.values():
        log.info("finished writing %s", path)
    return outputs


def _denoise_block(job, box, cluster, num_date):
    if cluster is None:
        den, cum, _ = denoise_box(box=box, **job)
        return den, cum
    h, w = box[3] - box[1], box[2] - box[0]
    results = [np.zeros((num_date, h, w), np.float32),
               np.zeros((num_date - WINDOW + 1, h, w), np.float32)]
    func_data = dict(job, box=list(box))
    return cluster.run(denoise_box, func_data, results)


def _open_cluster(cfg):
    if not cfg.cluster:
        return None
    from mintpy.objects.cluster import DaskCluster
    num = DaskCluster.format_num_worker(cfg.cluster, cfg.num_worker)
    if int(num) <= 1:
        return None
    cluster = DaskCluster(cfg.cluster, str(cfg.num_worker), config_name=cfg.config_name)
    cluster.open()
    return cluster


def _close_cluster(cluster):
    if cluster is None:
        return
    if cluster.client is not None:
        cluster.close()
    elif cluster.cluster is not None:
        cluster.cluster.close()


def _progress(blocks, enabled):
    if not enabled or len(blocks) < 2:
        return blocks
    try:
        from tqdm import tqdm
    except ImportError:
        return blocks
    return tqdm(blocks, desc="denoising", unit="block")
