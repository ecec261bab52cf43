"""Synthetic generator throughput on one core (9 x 40 x 40 series with noise and terrain).

    python benchmarks/generator.py
Pins numpy/scipy to one thread and reports samples per CPU-second (and per wall-second) for fault
and Mogi series, generated in calls of 256 samples as the training pipeline does, with every source
field computed independently (reuse=1) and with the training setting (reuse=8, each computed
Okada/Mogi field also used under 8 flips/rotations).
"""
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from mintpy_dlae import synthetic  # noqa: E402


def main(n=4096, call=256):
    """Calls of ``call`` samples, as the training pipeline makes them (8 batches of 32)."""
    synthetic.generate(64, rng=0)          # warm caches (DEM, FFT plans)
    for kind in ("fault", "mogi"):
        for reuse in (1, 8):
            rng = np.random.default_rng(1)
            t0 = time.process_time()
            w0 = time.time()
            for _ in range(n // call):
                synthetic.generate(call, kind=kind, rng=rng, open_window=0.5, pure_noise=0.05, reuse=reuse)
            cpu, wall = time.process_time() - t0, time.time() - w0
            print(json.dumps({"kind": kind, "reuse": reuse, "samples": n, "samples_per_cpu_s": round(n / cpu),
                              "samples_per_wall_s": round(n / wall)}), flush=True)


if __name__ == "__main__":
    main()
