"""How often `mintpy_dlae.py`'s elevation check names a window: on a seasonal stratified delay that
the networks keep, on noise without it, and on deformation that does not follow the terrain.

    python benchmarks/elevation_check.py --model fault --model mogi [--json docs/figures/elevation_check.json]

Each window (40 x 40 px, 9 dates, one pass) is denoised and its cumulative map checked as the
driver checks a frame (``denoise_file.ElevationCheck``: r^2 >= 0.5 of the line map = a + k h,
|k| std(h) >= 2 mean sigma, |k| <= 50 mm/km).  Windows: the noise-only families of
``benchmarks/passthrough.py`` ("seasonal stratified", "independent + seasonal", "independent",
"training"; seeds 880000+), and the independent test family's fault and Mogi series at SNR 1 and 3
(seed 4242, a ridge terrain that the sources ignore), where a flag is a false alarm unless the true
map itself follows the terrain (``truth_r2``: the fraction of windows whose true map has r^2 >= 0.5).
And the Mexico City crop (tests/data/pyrate_cropA, ``timeseries_demErr.h5`` masked by
``maskTempCoh.h5``, ``denoise()`` with the driver's defaults): per window r, k and whether the rule
flags it with and without the 50 mm/km lapse-rate bound (its subsidence follows the basin's few
metres of relief).
Figure: the fraction of windows flagged.  For the two seasonal families also the cases "after a
phase-elevation correction": each date's least-squares line against the elevation over the window
removed first, what MintPy's ``tropo_phase_elevation.py`` does before the network runs (there
``rms_ratio``: output RMS / raw cumulative RMS of the uncorrected window, and ``above_3_sigma``, the
fraction of pixels with |mean| / sigma > 3, are given too, as for the families without correction).
"""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FAMILIES = ("seasonal stratified", "independent + seasonal", "independent", "training")


def flagged(cum, std, elev):
    """(n,) bool: the driver's rule per window (map in metres)."""
    from mintpy_dlae.denoise_file import ElevationCheck
    out = np.zeros(len(cum), bool)
    for i in range(len(cum)):
        chk = ElevationCheck(1)
        chk.add(elev[i], cum[i:i + 1], None if std is None else std[i:i + 1])
        out[i] = bool(chk.flagged())
    return out


def phase_elevation_corrected(noisy, elev):
    """(n, T, S, S) float32: each date minus its least-squares slope in the elevation over the window
    (:func:`mintpy_dlae.evaluate.phase_elevation_corrected`)."""
    from mintpy_dlae.evaluate import phase_elevation_corrected as corrected
    return corrected(noisy, elev).astype(np.float32)


def _ratios(p, noisy):
    raw = (noisy[:, -1] - noisy[:, 0]).astype(np.float64)
    cum = p.cumulative.astype(np.float64)
    return {"rms_ratio": round(float(np.sqrt((cum ** 2).mean() / (raw ** 2).mean())), 3),
            "above_3_sigma": round(float(np.mean(np.abs(cum) > 3 * p.cumulative_std)), 4)}


def measure(model, n=128):
    from passthrough import SEED_OFFSET, family_batch

    from mintpy_dlae.evaluate import independent_batch
    from mintpy_dlae.inference import predict_windows
    out = {}
    for name in FAMILIES:
        noisy, elev = family_batch(name, n, 880000 + SEED_OFFSET[name])
        p = predict_windows(model, noisy, elev, batch_size=64)
        out[f"noise alone: {name}"] = {"flagged": round(float(flagged(p.cumulative, p.cumulative_std, elev).mean()), 3),
                                       **_ratios(p, noisy)}
        if "seasonal" in name:
            p = predict_windows(model, phase_elevation_corrected(noisy, elev), elev, batch_size=64)
            out[f"noise alone: {name}, after phase-elevation correction"] = {
                "flagged": round(float(flagged(p.cumulative, p.cumulative_std, elev).mean()), 3), **_ratios(p, noisy)}
    for kind in ("fault", "mogi"):
        for snr in (1.0, 3.0):
            b = independent_batch(n, kind, snr, 4242)
            p = predict_windows(model, b.noisy, b.elevation, batch_size=64)
            h = b.elevation - b.elevation.mean(axis=(1, 2), keepdims=True)
            t = b.cumulative - b.cumulative.mean(axis=(1, 2), keepdims=True)
            r = (h * t).sum(axis=(1, 2)) / np.sqrt((h * h).sum(axis=(1, 2)) * (t * t).sum(axis=(1, 2)))
            out[f"{kind} series at SNR {snr:g}"] = {
                "flagged": round(float(flagged(p.cumulative, p.cumulative_std, b.elevation).mean()), 3),
                "truth_r2": round(float(np.mean(r ** 2 >= 0.5)), 3)}
    return out


def mexico_city(model):
    """{window: {"r", "k_mm_per_km", "relief_m", "flagged", "flagged_without_bound"}} on the crop."""
    from mintpy.utils import readfile

    from mintpy_dlae.denoise_file import ElevationCheck
    from mintpy_dlae.inference import denoise
    data = os.path.join(HERE, "..", "tests", "data", "pyrate_cropA")
    ts = readfile.read(os.path.join(data, "timeseries_demErr.h5"), datasetName="timeseries")[0]
    from mintpy_dlae import io
    dates = io.read_timeseries_info(os.path.join(data, "timeseries_demErr.h5"))[0]
    height = readfile.read(os.path.join(data, "inputs", "geometryGeo.h5"), datasetName="height")[0]
    mask = readfile.read(os.path.join(data, "maskTempCoh.h5"))[0].astype(bool)
    res = denoise(ts, height, model=model, mask=mask)
    chk = ElevationCheck(len(res.cumulative))
    chk.add(height, res.cumulative, res.cumulative_std)
    bounded = {f[0] for f in chk.flagged()}
    unbounded = {f[0] for f in chk.flagged(max_lapse=np.inf)}
    out = {}
    for i, r, k, relief, _ in chk.flagged(r2_min=0.0, z_min=0.0, max_lapse=np.inf):
        out[f"{dates[i]}_{dates[i + 8]}"] = {"r": round(r, 3), "k_mm_per_km": round(k * 1e6, 1), "relief_m": round(relief, 1),
                     "flagged": i in bounded, "flagged_without_bound": i in unbounded}
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, help="fault, mogi or a .keras path (repeatable)")
    p.add_argument("--per-case", type=int, default=128, help="windows per case (default 128)")
    p.add_argument("--json", default=None, help="write the results here")
    args = p.parse_args(argv)
    sys.path.insert(0, HERE)
    from _specs import setup, write_json
    setup()
    result = {"per_case": args.per_case, "models": {}}
    for m in args.model:
        r = measure(m, n=args.per_case)
        result["models"][m] = r
        result.setdefault("mexico_city", {})[m] = mx = mexico_city(m)
        for w, v in mx.items():
            print(f"{m:>12s}  Mexico City {w}: r = {v['r']:.2f}, k = {v['k_mm_per_km']:.0f} mm/km over "
                  f"{v['relief_m']:.0f} m, flagged {v['flagged']} (without the bound: {v['flagged_without_bound']})",
                  flush=True)
        for case, v in r.items():
            extra = f"  (true map follows the terrain: {v['truth_r2']:.3f})" if "truth_r2" in v else ""
            if "rms_ratio" in v:
                extra = f"  output / raw {v['rms_ratio']:.3f}, > 3 sigma {100 * v['above_3_sigma']:.2f} %"
            print(f"{m:>12s}  {case:36s} flagged {v['flagged']:.3f}{extra}", flush=True)
    result["table"] = {f"{m} {case}": v for m, r in result["models"].items() for case, v in r.items()}
    write_json(result, args.json)


if __name__ == "__main__":
    main()
