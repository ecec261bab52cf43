"""What an isolated unwrapping error does to its neighbours: a step at one pixel in real data.

    python benchmarks/unwrapping_spike.py [--model fault] [--amplitudes 0.03 0.1 0.3 1.0] [--json out.json]

An unwrapping error that stays on one pixel is a step of a whole number of phase cycles (28 mm of
line of sight per cycle at C-band) from one date on. It is not deformation and not in the training
distribution. This adds such a step (metres) at one pixel of the Mexico City crop
(``tests/data/pyrate_cropA``, row 30, column 30, from date 7 of 13), denoises the series with and
without it (``mintpy_dlae.denoise``, the array engine of ``mintpy_dlae.py``, 8 symmetric copies) and
reports, over all dates, the largest change of the output within 5 px of the pixel and 5-15 px
from it, and the median share of the step that the pixel itself keeps. Quoted in docs/method.md
(limits, "Deformation it was not trained on").

``--spikes``: also a spike, the same amplitudes on a 2 x 2 px cluster at that place on date 7 only
(an error that comes and goes), given to the network as it is and as ``mintpy_dlae.py`` gives it:
the values that :func:`mintpy_dlae.denoise_file.find_spikes` finds (more than 0.25 m off in time and
space) read as missing values (NaN). Reported: the largest change over all dates more than 5 px and
more than 15 px from the cluster. Quoted in docs/usage.md ("Isolated spikes").
"""
import argparse
import json
import os
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CROP = os.path.join(HERE, os.pardir, "tests", "data", "pyrate_cropA")


def spread(ts, elevation, amplitudes, y=30, x=30, date=7, denoise=None, **kw):
    """{amplitude: {"near_mm", "mid_mm", "kept"}} for steps of ``amplitudes`` (metres) added to
    ``ts`` (n, H, W) metres at pixel (y, x) from ``date`` on; ``denoise`` is
    :func:`mintpy_dlae.denoise` unless given (same signature), ``kw`` its options."""
    if denoise is None:
        from mintpy_dlae import denoise
    ref = denoise(ts, elevation, **kw).timeseries
    yy, xx = np.mgrid[:ts.shape[1], :ts.shape[2]]
    r = np.hypot(yy - y, xx - x)
    near, mid = (r > 0) & (r <= 5), (r > 5) & (r <= 15)
    out = {}
    for amp in amplitudes:
        hit = np.array(ts, np.float32, copy=True)
        hit[date:, y, x] += amp
        change = denoise(hit, elevation, **kw).timeseries - ref
        out[float(amp)] = {"near_mm": round(float(np.nanmax(np.abs(change[:, near]))) * 1e3, 1),
                           "mid_mm": round(float(np.nanmax(np.abs(change[:, mid]))) * 1e3, 1),
                           "kept": round(float(np.median(change[date:, y, x])) / amp, 2)}
    return out


def spike_spread(ts, elevation, amplitudes, y=30, x=30, date=7, denoise=None, **kw):
    """{amplitude: {"as_is": {"beyond5_mm", "beyond15_mm"}, "read_as_missing": {...}, "found": n}}
    for a spike of ``amplitudes`` (metres) on the 2 x 2 px at (y, x) of ``date`` only."""
    if denoise is None:
        from mintpy_dlae import denoise
    from mintpy_dlae.denoise_file import find_spikes
    kw = dict(kw, spikes=False)         # "as_is": denoise() itself would read them as missing values
    ref = denoise(ts, elevation, **kw).timeseries
    yy, xx = np.mgrid[:ts.shape[1], :ts.shape[2]]
    r = np.maximum(np.abs(yy - y - 0.5), np.abs(xx - x - 0.5)) - 0.5     # px from the cluster's edge
    out = {}
    for amp in amplitudes:
        hit = np.array(ts, np.float32, copy=True)
        hit[date, y:y + 2, x:x + 2] += amp
        found = find_spikes(hit)
        row = {"found": int(found.sum())}
        for name, series in (("as_is", hit), ("read_as_missing", np.where(found, np.nan, hit))):
            with warnings.catch_warnings():       # the NaN are filled for the network: said, known
                warnings.simplefilter("ignore", UserWarning)
                change = denoise(series, elevation, **kw).timeseries - ref
            row[name] = {f"beyond{d}_mm": round(float(np.nanmax(np.abs(change[:, r > d]))) * 1e3, 2)
                         for d in (5, 15)}
        out[float(amp)] = row
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="fault", help="fault, mogi or a .keras path (default fault)")
    p.add_argument("--amplitudes", type=float, nargs="+", default=[0.03, 0.1, 0.3, 1.0],
                   help="step heights in metres (default 0.03 0.1 0.3 1.0)")
    p.add_argument("--spikes", action="store_true", help="also one-date spikes (see above)")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    from mintpy.utils import readfile
    ts = readfile.read(os.path.join(CROP, "timeseries.h5"))[0]
    elevation = readfile.read(os.path.join(CROP, "inputs", "geometryGeo.h5"), datasetName="height")[0]
    res = spread(ts, elevation, a.amplitudes, model=a.model, augment=8, precision="float32")
    for amp, r in res.items():
        print(f"step {amp * 100:g} cm at one pixel: largest change within 5 px {r['near_mm']} mm, "
              f"5-15 px {r['mid_mm']} mm; the pixel keeps {r['kept']} of it")
    spikes = None
    if a.spikes:
        spikes = spike_spread(ts, elevation, a.amplitudes, model=a.model, augment=8, precision="float32")
        for amp, r in spikes.items():
            print(f"spike {amp * 100:g} cm on 2 x 2 px of one date ({r['found']} found): largest change "
                  f"beyond 5 / 15 px {r['as_is']['beyond5_mm']} / {r['as_is']['beyond15_mm']} mm as it is, "
                  f"{r['read_as_missing']['beyond5_mm']} / {r['read_as_missing']['beyond15_mm']} mm read as "
                  "missing (mintpy_dlae.py)")
    if a.json:
        with open(a.json + ".tmp", "w") as f:
            json.dump({"model": a.model, "pixel": [30, 30], "date": 7, "steps": res,
                       **({"spikes": spikes} if spikes else {})}, f, indent=1)
        os.replace(a.json + ".tmp", a.json)
    return res


if __name__ == "__main__":
    main()
