"""Ways to keep a trained network from inventing deformation, measured on the calibration set.

    python benchmarks/gate_variants.py pretrained/fault.keras --kind fault [--tta]

Calibration set of ``evaluate.calibrate_shrinkage`` (seeds 31337 + level, disjoint from the test
set), 12 SNR levels x 64 series.  Mean R² of the cumulative map per level for:

* ``plain``: the network output without any gate;
* ``plain gate tau``: the gate a^8 / (a^8 + tau^8) measured on the output itself (the first design);
* ``pe-input``: the network run on the input after the local phase/elevation fit
  (``dataset.remove_elevation_phase``) - the fit applied to what the network sees;
* ``pe gate tau``: the shipped design - output of the plain input, gate measured on the pe-input pass;
* ``tta16`` (with ``--tta``): mean over the 8 flips/rotations x 2 signs of the input.

The last column is the worst shortfall against the all-zero prediction over the levels.
"""
import argparse
import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TAUS = (0.5, 0.7, 0.9, 1.1, 1.5)


def _transformed_predictions(base, noisy, elevation):
    """Predictions for the 16 sign x flip x rotation transforms, mapped back."""
    from mintpy_dlae.inference import predict_windows
    out = []
    for sign in (1, -1):
        for flip in (False, True):
            for k in range(4):
                x, e = noisy * sign, elevation
                if flip:
                    x, e = x[..., ::-1], e[..., ::-1]
                x, e = np.rot90(x, k, axes=(-2, -1)), np.rot90(e, k, axes=(-2, -1))
                _, c = predict_windows(base, np.ascontiguousarray(x), np.ascontiguousarray(e), calibrate=False)
                c = np.rot90(c, -k, axes=(-2, -1))
                out.append(sign * (c[..., ::-1] if flip else c))
    return np.mean(out, axis=0)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("--kind", default="fault", choices=["fault", "mogi"])
    p.add_argument("--levels", type=int, default=12)
    p.add_argument("--per-level", type=int, default=64)
    p.add_argument("--tta", action="store_true", help="also the 16-transform average (16x slower)")
    a = p.parse_args()
    from mintpy_dlae import dataset, synthetic
    from mintpy_dlae.evaluate import r2_per_sample
    from mintpy_dlae.inference import gate_signal, predict_windows, prepare_model, shrinkage
    from mintpy_dlae.model import load_model

    base = load_model(a.model)
    run_net = prepare_model(base)[1]
    snrs = np.geomspace(0.01, 10.0, a.levels)
    rows = {}

    def add(name, pred, truth):
        rows.setdefault(name, []).append(r2_per_sample(pred, truth).mean())

    for i, snr in enumerate(snrs):
        b = synthetic.generate(a.per_level, kind=a.kind, rng=31337 + i, snr=float(snr))
        t = b.cumulative
        _, s, valid = dataset.model_inputs(b.noisy, b.elevation)
        _, plain = predict_windows(base, b.noisy, b.elevation, calibrate=False)
        pe_noisy = dataset.remove_elevation_phase(b.noisy, b.elevation, valid)
        _, pe_out = predict_windows(base, pe_noisy, b.elevation, calibrate=False)
        gate_pe = gate_signal(run_net, b.noisy, b.elevation, s, valid)
        add("zero", np.zeros_like(t), t)
        add("plain", plain, t)
        add("pe-input", pe_out, t)
        for tau in TAUS:
            add(f"plain gate {tau}", plain * shrinkage(plain / np.maximum(s, dataset.TINY), valid, tau), t)
            add(f"pe gate {tau}", plain * shrinkage(gate_pe, valid, tau), t)
        if a.tta:
            add("tta16", _transformed_predictions(base, b.noisy, b.elevation), t)
        print(f"level {i + 1}/{a.levels} done", flush=True)

    zero = np.array(rows["zero"])
    print("\n| variant | " + " | ".join(f"{s:.3g}" for s in snrs) + " | worst gap |")
    print("|---|" + "---|" * (len(snrs) + 1))
    for name, r2 in rows.items():
        r2 = np.array(r2)
        cells = " | ".join(f"{v:.2f}" if abs(v) < 100 else f"{v:.0f}" for v in r2)
        print(f"| {name} | {cells} | {(r2 - zero).min():.3f} |")


if __name__ == "__main__":
    main()
