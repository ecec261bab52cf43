"""How much the real-noise injection gains move with where and when the signal is injected.

    python benchmarks/injection_spread.py --model fault --model mogi --json docs/figures/injection_spread.json
    python benchmarks/injection_spread.py --model mogi_next=training/mogi_next/mogi_next.keras --model mogi

``benchmarks/injection.py`` (the table of docs/real_data.md and the regression test) injects at one
place (row 35, column 25) in two 9-date windows, so a difference of a few hundredths between two
models may be the noise of that one realisation.  This script repeats the same injection
(:func:`mintpy_dlae.injection.measure`: Mogi and Okada, step and steady, with and without a masked
core, at 2x and 5x the cumulative-noise std) at ``--centre`` positions of the Mexico City crop away
from the subsiding bowl (default six, rows 15-45, columns 15-55) and in every 9-date window of its 13
dates, and reports per model and case the mean gain over the centres with its smallest and largest
value (each centre's value is its mean over the windows), and the mean gain over all cases.  The
noise-only figures do not depend on the centre: they are the mean over the windows.

Outputs: a table on stdout (with the smallest and largest gain of the raw cumulative map, which is
1 + the projection of the noise on the injected shape: where it is far from 1, the real noise itself
looks like, or unlike, the signal); with ``--json`` the same numbers per model: ``cases`` {case:
{"2x", "5x", "2x_raw", "5x_raw": {mean, min, max, se}}} (``se``: standard error over the centres),
``mean_gain_2x``, ``mean_gain_5x``, ``noise_only``.
"""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CENTRES = ((15, 15), (15, 40), (30, 55), (35, 25), (45, 15), (45, 45))


def spread(model, noise, height, valid, centres=CENTRES, windows=None, factors=(2.0, 5.0), augment="auto"):
    """Gains of ``model`` over ``centres`` (each a mean over ``windows``; default every 9-date window)."""
    from mintpy_dlae.constants import WINDOW
    from mintpy_dlae.injection import measure
    windows = tuple(range(len(noise) - WINDOW + 1)) if windows is None else tuple(windows)
    per_case, noise_only = {}, None
    for c in centres:
        rows, nz = measure(model, noise, height, valid, tuple(c), windows=windows, factors=factors,
                           denoise_kwargs={"augment": augment})
        noise_only = nz
        for r in rows:
            label = f"{r['kind']}_{r['history']}" + ("_core" if r["core"] else "")
            per_case.setdefault(label, {}).setdefault(f"{r['factor']:g}x", []).append(r["gain"])
            per_case[label].setdefault(f"{r['factor']:g}x_raw", []).append(r["raw_gain"])
    cases = {label: {f: {"mean": round(float(np.mean(g)), 3), "min": round(float(np.min(g)), 3),
                         "max": round(float(np.max(g)), 3),
                         "se": round(float(np.std(g, ddof=1) / np.sqrt(len(g))), 3) if len(g) > 1 else 0.0}
                     for f, g in by_f.items()}
             for label, by_f in per_case.items()}
    out = {"centres": [list(c) for c in centres], "windows": list(windows), "cases": cases, "noise_only": noise_only}
    for f in factors:
        out[f"mean_gain_{f:g}x"] = round(float(np.mean([v[f"{f:g}x"]["mean"] for v in cases.values()])), 3)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, help="fault, mogi, a .keras path, or NAME=PATH (repeatable)")
    p.add_argument("--centre", action="append", nargs=2, type=int, metavar=("ROW", "COL"),
                   help="injection centre (repeatable; default six centres away from the bowl)")
    p.add_argument("--windows", type=int, nargs="+", default=None, help="first dates of the 9-date windows (default all)")
    p.add_argument("--augment", default="auto", choices=["auto", "1", "2", "4", "8"],
                   help="symmetric copies averaged by denoise() (default auto: 8 on this crop)")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, HERE)
    from injection import load
    noise, height, valid = load()
    centres = tuple(tuple(c) for c in a.centre) if a.centre else CENTRES
    for r, c in centres:
        if not (0 <= r < valid.shape[0] and 0 <= c < valid.shape[1]):
            p.error(f"--centre {r} {c} is outside the {valid.shape[0]} x {valid.shape[1]} crop")
    models = dict(m.split("=", 1) if "=" in m else (os.path.basename(m), m) for m in a.model)
    result = {}
    for name, path in models.items():
        res = spread(path, noise, height, valid, centres, a.windows, augment=a.augment)
        result[name] = res
        nz = res["noise_only"]
        print(f"\n== {name}: {len(centres)} centres x windows {res['windows']}; noise only: RMS / raw "
              f"{nz['rms_ratio']:.3f}, {100 * nz['fraction_significant']:.2f} % of pixels above 3 sigma; "
              f"mean gain 2x {res['mean_gain_2x']:.3f}, 5x {res['mean_gain_5x']:.3f}")
        print(f"{'case':20s} {'2x mean':>8s} {'min':>6s} {'max':>6s} {'(raw':>6s} {'max)':>6s} "
              f"{'5x mean':>8s} {'min':>6s} {'max':>6s} {'(raw':>6s} {'max)':>6s}")
        for label, v in res["cases"].items():
            print(f"{label:20s} " + " ".join(
                f"{v[f]['mean']:8.2f} {v[f]['min']:6.2f} {v[f]['max']:6.2f} {v[f + '_raw']['min']:6.2f} {v[f + '_raw']['max']:6.2f}"
                for f in ("2x", "5x")))
    if a.json:
        from mintpy_dlae.model import atomic_write_json
        atomic_write_json(result, a.json)
    return result


if __name__ == "__main__":
    main()
