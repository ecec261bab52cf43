#!/usr/bin/env python3
"""Significance of the demo's event window: where does the denoiser say "deformation detected"?

Run after ``dlae_demo.py`` (docs/demo.md), on one or more demo folders::

    python docs/examples/demo_significance.py dlae_demo [dlae_demo_30 ...]

For the event window of ``pic_dlae/demo_*.json``, it reads ``cumulative_ERA5_DLAE.h5`` (the
network's cumulative map, its 1-sigma ``cumulativeStd`` and ``significance`` = |mean| / sigma) and
the truth (``truth.h5``, over the same dates, relative to the reference pixel) and prints:

- the significance and 1-sigma (mm) at the true peak (3 x 3 mean, as the demo's "at peak");
- the share of pixels with significance above 3 where the true window displacement is at least
  10 mm, and where it is below 2 mm (false detections);
- the share of pixels whose truth lies within 2 sigma of the network's map.
"""
import glob
import json
import os
import sys

import numpy as np
from mintpy.utils import readfile


def measure(folder):
    found = sorted(glob.glob(os.path.join(folder, "pic_dlae", "demo_*.json")))
    if not found or not os.path.isfile(os.path.join(folder, "cumulative_ERA5_DLAE.h5")):
        raise SystemExit(f"demo_significance.py: {folder} is not a finished demo folder (no pic_dlae/demo_*.json "
                         "or cumulative_ERA5_DLAE.h5 in it): run dlae_demo.py first and give its folder, "
                         "e.g. dlae_demo")
    with open(found[0]) as f:
        demo = json.load(f)
    d0, d1 = demo["window"]
    cum_file = os.path.join(folder, "cumulative_ERA5_DLAE.h5")
    cum, atr = readfile.read(cum_file, datasetName=f"cumulative_{d0}_{d1}")
    std = readfile.read(cum_file, datasetName=f"cumulativeStd_{d0}_{d1}")[0]
    sig = readfile.read(cum_file, datasetName=f"significance_{d0}_{d1}")[0]
    truth = readfile.read(os.path.join(folder, "truth.h5"))[0]
    dates = readfile.get_slice_list(os.path.join(folder, "truth.h5"))
    dates = [d.split("-")[-1] for d in dates]
    ry, rx = int(atr["REF_Y"]), int(atr["REF_X"])
    tw = truth[dates.index(d1)] - truth[dates.index(d0)]
    tw = 1e3 * (tw - tw[ry, rx])
    cum, std = 1e3 * cum, 1e3 * std
    r, c = demo["true_peak_pixel"]
    box = (slice(r - 1, r + 2), slice(c - 1, c + 2))
    big, small = np.abs(tw) >= 10, np.abs(tw) < 2
    return {"folder": os.path.basename(os.path.abspath(folder)), "window": f"{d0}-{d1}",
            "significance_at_peak": float(np.mean(sig[box])),
            "sigma_at_peak_mm": float(np.mean(std[box])),
            "median_sigma_mm": float(np.median(std)),
            "pixels_truth_ge_10mm": int(big.sum()),
            "share_significant_truth_ge_10mm": float(np.mean(sig[big] > 3)) if big.any() else None,
            "pixels_truth_lt_2mm": int(small.sum()),
            "share_significant_truth_lt_2mm": float(np.mean(sig[small] > 3)) if small.any() else None,
            "share_truth_within_2sigma": float(np.mean(np.abs(cum - tw) <= 2 * std))}


if __name__ == "__main__":
    for f in sys.argv[1:] or ["dlae_demo"]:
        print(json.dumps(measure(f), indent=1))
