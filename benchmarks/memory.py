"""Peak RSS and wall time of ``mintpy_dlae.py`` on a large synthetic MintPy time series.

    python benchmarks/memory.py --shape 30 2000 2000                 # peak RSS target: <= 2 GiB
    python benchmarks/memory.py --shape 100 1000 1000 --max-seconds 600

Writes a random time series (metres) and a geometry file with MintPy's writer into a scratch folder,
runs ``mintpy_dlae.py`` at default settings in a subprocess, samples the process's peak resident
set size (VmHWM) and stops it after ``--max-seconds`` if given.  For a partial run it reports the
fraction of row blocks written and the wall time extrapolated to the whole frame (the blocks are
identical, so the peak RSS of the first blocks is the peak of the run).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def write_inputs(folder, n, length, width, seed=0):
    from mintpy.utils import writefile
    rng = np.random.default_rng(seed)
    dates = [f"2020{m:02d}{d:02d}" for m in range(1, 13) for d in (1, 13, 25)][:n] if n <= 36 else \
        [time.strftime("%Y%m%d", time.gmtime(1577836800 + 12 * 86400 * i)) for i in range(n)]
    meta = {"FILE_TYPE": "timeseries", "UNIT": "m", "LENGTH": length, "WIDTH": width, "REF_Y": 0, "REF_X": 0,
            "REF_DATE": dates[0], "WAVELENGTH": 0.0555, "PLATFORM": "Sen", "PROCESSOR": "isce"}
    ts_file = os.path.join(folder, "timeseries.h5")
    writefile.layout_hdf5(ts_file, {"date": [np.dtype("S8"), (n,), np.array(dates, np.bytes_)],
                                    "bperp": [np.float32, (n,), np.zeros(n, np.float32)],
                                    "timeseries": [np.float32, (n, length, width), None]}, metadata=meta)
    step = max(1, int(2e7 // (n * width)))
    for y0 in range(0, length, step):
        y1 = min(length, y0 + step)
        block = rng.standard_normal((n, y1 - y0, width), dtype=np.float32) * 0.005
        writefile.write_hdf5_block(ts_file, block, "timeseries", block=[0, n, y0, y1, 0, width], print_msg=False)
    geom_file = os.path.join(folder, "geometryRadar.h5")
    gmeta = dict(meta, FILE_TYPE="geometry")
    writefile.write({"height": (rng.standard_normal((length, width)) * 50 + 500).astype(np.float32)},
                    geom_file, metadata=gmeta)
    return ts_file, geom_file


def peak_rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return 0
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", type=int, nargs=3, default=[30, 2000, 2000], metavar=("N", "LENGTH", "WIDTH"))
    p.add_argument("--max-seconds", type=float, default=None)
    p.add_argument("--model", default="fault")
    p.add_argument("--workdir", default=None)
    a = p.parse_args()
    folder = a.workdir or tempfile.mkdtemp(prefix="dlae_mem_")
    n, length, width = a.shape
    ts_file, geom_file = write_inputs(folder, n, length, width)
    out = os.path.join(folder, "timeseries_DLAE.h5")
    exe = os.path.join(os.path.dirname(sys.executable), "mintpy_dlae.py")
    cmd = [exe, ts_file, "-g", geom_file, "--model", a.model, "-o", out, "--force", "--no-progress"]
    t0 = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak, lines, stopped = 0, [], False
    while proc.poll() is None:
        peak = max(peak, peak_rss_kib(proc.pid))
        if a.max_seconds and time.time() - t0 > a.max_seconds:
            peak = max(peak, peak_rss_kib(proc.pid))
            proc.terminate()
            stopped = True
            break
        time.sleep(0.5)
    output = proc.communicate()[0]
    wall = time.time() - t0
    lines = [ln for ln in output.splitlines() if "block" in ln.lower()]
    print(json.dumps({"shape": a.shape, "model": a.model, "peak_rss_gib": round(peak / 2**20, 3),
                      "wall_seconds": round(wall, 1), "completed": not stopped,
                      "block_lines_seen": len(lines), "command": " ".join(os.path.basename(c) if i == 0 else c
                                                                        for i, c in enumerate(cmd))}, indent=1))
    if not stopped and proc.returncode != 0:
        print(output[-3000:])


if __name__ == "__main__":
    main()
