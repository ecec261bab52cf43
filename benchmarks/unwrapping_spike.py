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
"""
import argparse
import json
import os

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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="fault", help="fault, mogi or a .keras path (default fault)")
    p.add_argument("--amplitudes", type=float, nargs="+", default=[0.03, 0.1, 0.3, 1.0],
                   help="step heights in metres (default 0.03 0.1 0.3 1.0)")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    from mintpy.utils import readfile
    ts = readfile.read(os.path.join(CROP, "timeseries.h5"))[0]
    elevation = readfile.read(os.path.join(CROP, "inputs", "geometryGeo.h5"), datasetName="height")[0]
    res = spread(ts, elevation, a.amplitudes, model=a.model, augment=8, precision="float32")
    for amp, r in res.items():
        print(f"step {amp * 100:g} cm at one pixel: largest change within 5 px {r['near_mm']} mm, "
              f"5-15 px {r['mid_mm']} mm; the pixel keeps {r['kept']} of it")
    if a.json:
        with open(a.json + ".tmp", "w") as f:
            json.dump({"model": a.model, "pixel": [30, 30], "date": 7, "steps": res}, f, indent=1)
        os.replace(a.json + ".tmp", a.json)
    return res


if __name__ == "__main__":
    main()
