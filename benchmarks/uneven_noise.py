"""How uneven the real noise of the Mexico City crop is, seen through the two normalisations.

    python benchmarks/uneven_noise.py [--box 41] [--windows 0 4] [--json out.json]

For each 9-date window of the detrended noise of ``tests/data/pyrate_cropA`` (``injection.load``,
the noise of ``benchmarks/injection.py``), the per-pixel scale of a model with ``scale_box``
(:func:`mintpy_dlae.dataset.local_scale`) divided by the window's one scale
(:func:`mintpy_dlae.dataset.window_scale`, what the shipped models divide by): its median over the
valid pixels of the west and east halves of the crop (the east half holds the subsiding bowl), and
its range.  A ratio above 1 is where the one scale makes the noise look stronger than elsewhere.
Quoted in docs/evaluation.md ("Ablations", the normalisation).
"""
import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def ratios(noise, valid, box=41, windows=(0, 4)):
    """{window: {"window_scale_mm", "west", "east", "min", "max"}} of ``noise`` (n, H, W) metres."""
    from mintpy_dlae import dataset
    from mintpy_dlae.injection import window_noise
    out = {}
    for k in windows:
        w = window_noise(noise, valid, k)[None]
        v = dataset.valid_mask(w)
        one = float(dataset.window_scale(w, v)[0])
        r = dataset.local_scale(w, v, box)[0] / one
        half = r.shape[1] // 2
        west, east = v[0].copy(), v[0].copy()
        west[:, half:] = False
        east[:, :half] = False
        out[int(k)] = {"window_scale_mm": round(one * 1e3, 2), "west": round(float(np.median(r[west])), 3),
                       "east": round(float(np.median(r[east])), 3), "min": round(float(r[v[0]].min()), 3),
                       "max": round(float(r[v[0]].max()), 3)}
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--box", type=int, default=41, help="box of the per-pixel scale, odd px (default 41)")
    p.add_argument("--windows", type=int, nargs="+", default=[0, 4], help="first dates of the 9-date windows")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    sys.path.insert(0, HERE)
    from injection import load
    noise, _, valid = load()
    res = ratios(noise, valid, a.box, tuple(a.windows))
    for k, r in res.items():
        print(f"window {k}: one scale {r['window_scale_mm']} mm; per-pixel / one: west {r['west']}, "
              f"east {r['east']}, range {r['min']}-{r['max']}")
    if a.json:
        with open(a.json + ".tmp", "w") as f:
            json.dump({"box": a.box, "windows": res}, f, indent=1)
        os.replace(a.json + ".tmp", a.json)
    return res


if __name__ == "__main__":
    main()
