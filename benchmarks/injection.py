"""Signal injection into the real noise of tests/data/pyrate_cropA (Sentinel-1, Mexico City).

    python benchmarks/injection.py --model fault [--model mogi] [--json docs/figures/injection.json] [--png ...]

Noise: ``timeseries_demErr.h5`` with each pixel's linear trend removed (mask ``maskTempCoh.h5``),
two 9-date windows (dates 0-8 and 4-12).  Injected: a Mogi source (depth 8 px) and an Okada thrust,
step and steady histories, with and without a masked core (radius 4 px), at 2x, 5x and 10x the
cumulative-map noise std, centred at row 35, col 25 (the west of the crop, away from the bowl).
Prints the gain and correlation of each case (mean over the two windows) and the noise-only figures
(see :mod:`mintpy_dlae.injection`).
"""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "tests", "data", "pyrate_cropA")
CENTER = (35, 25)
WINDOWS = (0, 4)


def load():
    from mintpy_dlae.injection import load_detrended
    return load_detrended(os.path.join(DATA, "timeseries_demErr.h5"), os.path.join(DATA, "maskTempCoh.h5"),
                          os.path.join(DATA, "inputs", "geometryGeo.h5"))


def measure(model, noise, height, valid, factors=(2.0, 5.0, 10.0), augment="auto"):
    from mintpy_dlae.injection import measure as _measure
    return _measure(model, noise, height, valid, CENTER, windows=WINDOWS, factors=factors,
                    denoise_kwargs={"augment": augment})


def summary(rows):
    """{"<kind>_<history>[_core]": {"gain_2x", "gain_5x", "gain_10x", "corr_5x", "raw_corr_5x"}}: the
    table of docs/real_data.md."""
    out = {}
    for r in rows:
        label = f"{r['kind']}_{r['history']}" + ("_core" if r["core"] else "")
        cell = out.setdefault(label, {})
        cell[f"gain_{r['factor']:g}x"] = r["gain"]
        if r["factor"] == 5:
            cell["corr_5x"], cell["raw_corr_5x"] = r["correlation"], r["raw_correlation"]
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, help="fault, mogi or a .keras path (repeatable)")
    p.add_argument("--json", default=None, help="write the tables here")
    p.add_argument("--png", default=None, help="figure of the 5x cases for the first model (window 0)")
    p.add_argument("--augment", default="auto", choices=["auto", "1", "2", "4", "8"],
                   help="symmetric copies averaged by denoise() (default auto: 8 on this crop)")
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    noise, height, valid = load()
    result = {}
    for m in args.model:
        rows, nz = measure(m, noise, height, valid, augment=args.augment)
        result[os.path.basename(m)] = {"injection": rows, "noise_only": nz, "summary": summary(rows)}
        print(f"\n== {m}: noise only: output RMS / raw {nz['rms_ratio']:.3f}, |mean|/sigma > 3: "
              f"{100 * nz['fraction_significant']:.2f} % of pixels")
        print(f"{'kind':6} {'history':7} {'core':5} " + " ".join(f"{f:>5.0f}x gain  corr" for f in (2, 5, 10)))
        for kind in ("mogi", "fault"):
            for hist in ("step", "steady"):
                for core in (False, True):
                    cells = [r for r in rows if (r["kind"], r["history"], r["core"]) == (kind, hist, core)]
                    print(f"{kind:6} {hist:7} {str(core):5} " + " ".join(
                        f"{r['gain']:>11.2f} {r['correlation']:5.2f}" for r in sorted(cells, key=lambda r: r["factor"])))
    if args.png:
        from mintpy_dlae.plot import plot_injection
        from mintpy_dlae.injection import window_noise
        w = window_noise(noise, valid, 0)
        plot_injection(args.model[0], w, height, valid, CENTER, factor=5.0, out_png=args.png,
                       title=f"{os.path.basename(args.model[0])}: injection into detrended Sentinel-1 noise "
                             "(Mexico City crop), 5x the cumulative noise std")
    if args.json:
        from mintpy_dlae.model import atomic_write_json
        atomic_write_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
