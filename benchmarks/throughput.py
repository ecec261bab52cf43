"""Denoising throughput in pixel-windows per second, against the limit set by FLOPs and matmul peak.

    python benchmarks/throughput.py [--model fault] [--tile 256] [--precision auto] [--series 64]

1. Measures the machine's matmul peak with TensorFlow (bf16 and float32, 2048^3 products).
2. Counts the network's FLOPs per pixel-window (one 9-date window at one output pixel).
3. Times ``predict_windows`` on a batch of (tile + halo)^2 windows and reports
   pixel-windows/s (core pixels only) and the fraction of the FLOP-limited rate (one network pass
   per window).
4. Compares bfloat16 with float32 outputs on synthetic fault series (relative RMS difference, R²).
"""
import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def matmul_peak(dtype, n=2048, reps=10):
    import tensorflow as tf
    a = tf.random.normal((n, n), dtype=tf.float32)
    a = tf.cast(a, dtype)
    f = tf.function(lambda x: tf.linalg.matmul(x, x))
    f(a)
    t0 = time.time()
    for _ in range(reps):
        f(a).numpy()
    return 2 * n ** 3 * reps / (time.time() - t0)


def flops_per_pixel_window(net):
    """Multiply-adds x 2 of every conv layer per output pixel of one window."""
    total = 0
    for layer in net.layers:
        if layer.__class__.__name__ in ("Conv3D", "Conv2D"):
            k = layer.kernel.shape                       # (t, h, w, cin, cout) or (h, w, cin, cout)
            macs = 1
            for d in k:
                macs *= int(d)
            reps = int(layer.output.shape[1]) if layer.__class__.__name__ == "Conv3D" else 1   # time steps
            total += 2 * macs * reps
    return total


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="fault")
    p.add_argument("--tile", type=int, default=256)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--precision", default="auto")
    p.add_argument("--series", type=int, default=64, help="synthetic series per SNR for the bf16 / float32 check")
    a = p.parse_args()
    import numpy as np

    from mintpy_dlae.inference import predict_windows, prepare_model, network_halo, resolve_precision
    from mintpy_dlae.train import cpu_name
    prec = resolve_precision(a.precision)
    peak = matmul_peak("bfloat16" if prec == "bfloat16" else "float32")
    net, _ = prepare_model(a.model, prec)
    flops = flops_per_pixel_window(net)
    halo = network_halo(net)
    side = a.tile + 2 * halo
    rng = np.random.default_rng(0)
    win = rng.standard_normal((a.batch, 9, side, side)).astype("float32") * 0.01
    elev = rng.standard_normal((side, side)).astype("float32") * 100
    passes = 1
    predict_windows(net, win[:1], elev, precision=prec)
    t0 = time.time()
    predict_windows(net, win, elev, batch_size=a.batch, precision=prec)
    dt = time.time() - t0
    core_rate = a.batch * a.tile ** 2 / dt
    # bf16 against float32 on synthetic fault series (SNR 0.3 and 3): output difference and R²
    from mintpy_dlae import evaluate, synthetic
    diffs, r2 = [], {}
    for snr in (0.3, 3.0):
        b = synthetic.generate(a.series, kind="fault", rng=99, snr=snr)
        out = {p_: predict_windows(a.model, b.noisy, b.elevation, precision=p_).cumulative for p_ in ("float32", "bfloat16")}
        diffs.append(float(np.sqrt(np.mean((out["bfloat16"] - out["float32"]) ** 2) / np.mean(out["float32"] ** 2))))
        for p_ in out:
            r2[f"{p_}_snr{snr}"] = round(float(evaluate.r2_per_sample(out[p_], b.cumulative).mean()), 4)
    raw_rate = a.batch * side ** 2 / dt
    print(json.dumps({"model": a.model, "precision": prec, "cpu": cpu_name(), "cores": os.cpu_count(),
                      "matmul_peak_gflops": round(peak / 1e9, 1), "mflop_per_pixel_window": round(flops / 1e6, 3),
                      "flop_limited_pixel_windows_per_s": round(peak / flops),
                      "pixel_windows_per_s_core": round(core_rate), "pixel_windows_per_s_incl_halo": round(raw_rate),
                      "network_passes": passes,
                      "fraction_of_flop_limit_incl_halo": round(raw_rate * passes * flops / peak, 3),
                      "tile": a.tile, "halo": halo, "batch": a.batch,
                      "bf16_vs_float32_relative_rms_difference": [round(d, 4) for d in diffs],
                      "mean_r2_by_precision": r2}, indent=1))


if __name__ == "__main__":
    main()
