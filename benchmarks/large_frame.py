"""Timed large-frame benchmark of ``mintpy_dlae.py`` (DESIGN.md §5, issue 11 item 5).

    python benchmarks/large_frame.py --json large_frame.json                 # 1000 x 1000 x 100
    python benchmarks/large_frame.py --length 200 --width 200 --dates 12     # a quick check
    python benchmarks/large_frame.py --dask --json large_frame.json          # also --cluster local

1. Builds a synthetic float32 MintPy time series (``--dates`` x ``--length`` x ``--width``, metres,
   12-day spacing, referenced to its first date and to REF_Y/REF_X at the frame centre) and a
   geometry file with ``height``, with MintPy's writer, row block by row block, in a scratch folder.
2. Measures the machine's matmul peak with TensorFlow (float32 and bfloat16 square products, a few
   seconds each, default threads: the ones the denoiser uses).
3. Counts the network's FLOPs analytically from its layers: a Conv3D/Conv2D layer costs
   2 x kernel volume x c_in x c_out per output position (dilation changes nothing), times its output
   positions (time steps x pixels).  The pixels are those the run actually feeds the network: the
   row blocks of ``io.plan_row_blocks`` (sized by ``--ram``), each read with the context
   ``inference.receptive_halo(model)`` and computed only over the block, in tiles of ``--tile-size``
   with the network halo (``inference._tiles``), plus the small box denoised around REF_Y/REF_X; with ``--dask`` every row
   block is also split along x as MintPy's ``DaskCluster`` does.  Each pixel goes through the network
   once per 9-date window (dates - 8 windows).
4. Runs the installed ``mintpy_dlae.py`` on the file in a subprocess under GNU ``/usr/bin/time -v``
   (true peak resident set size of the process, recorded by the kernel, not sampled; without GNU time:
   ``resource.getrusage(RUSAGE_CHILDREN)``), and records the wall time, the achieved FLOP rate and its
   fraction of the matmul peak of the precision the run uses, and the halo overhead (computed pixels
   / core pixels).  The summed RSS of the process and its descendants is also sampled every 0.5 s
   (it matters with Dask, whose worker processes each have their own peak).
5. With ``--dask``: the same with ``--cluster local --num-worker 2`` (needs ``dask.distributed``).

Writes the results to ``--json`` and prints a table.  Goals on the 2-core machine: <= 600 s,
>= 50 % of the matmul peak, peak RSS <= 2 GiB, halo overhead <= 1.5.
"""
import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

GOALS = {"wall_s": 600.0, "fraction_of_matmul_peak": 0.5, "peak_rss_gib": 2.0, "halo_overhead": 1.5}
WINDOW = 9
REF_SEARCH_RADIUS = 3       # denoise_file.REF_SEARCH_RADIUS: the box denoised around REF_Y/REF_X


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------
def write_inputs(folder, num_date, length, width, seed=0, block_bytes=64 * 2 ** 20):
    """A random-walk float32 series (metres) and a geometry file, written in row blocks.

    Returns (ts_file, geom_file, (ref_y, ref_x)).  Memory stays near ``block_bytes`` whatever the size.
    """
    import datetime as dt

    from mintpy.utils import writefile
    rng = np.random.default_rng(seed)
    d0 = dt.date(2020, 1, 1)
    dates = [(d0 + dt.timedelta(days=12 * i)).strftime("%Y%m%d") for i in range(num_date)]
    ref_y, ref_x = length // 2, width // 2
    meta = {"FILE_TYPE": "timeseries", "UNIT": "m", "LENGTH": length, "WIDTH": width,
            "REF_Y": ref_y, "REF_X": ref_x, "REF_DATE": dates[0], "WAVELENGTH": 0.05546576,
            "PLATFORM": "Sen", "PROCESSOR": "isce", "ALOOKS": 1, "RLOOKS": 1}
    ts_file = os.path.join(folder, "timeseries.h5")
    writefile.layout_hdf5(ts_file, {"date": [np.dtype("S8"), (num_date,), np.array(dates, np.bytes_)],
                                    "bperp": [np.float32, (num_date,), np.zeros(num_date, np.float32)],
                                    "timeseries": [np.float32, (num_date, length, width), None]},
                          metadata=meta, print_msg=False)
    geom_file = os.path.join(folder, "geometryRadar.h5")
    writefile.layout_hdf5(geom_file, {"height": [np.float32, (length, width), None]},
                          metadata=dict(meta, FILE_TYPE="geometry"), print_msg=False)
    rows = max(1, int(block_bytes // (4 * num_date * width)))
    yy, xx = np.mgrid[0:rows, 0:width].astype(np.float32)
    for y0 in range(0, length, rows):
        y1 = min(length, y0 + rows)
        steps = rng.normal(0, 0.003, (num_date, y1 - y0, width)).astype(np.float32)
        steps[0] = 0
        block = np.cumsum(steps, axis=0, out=steps)        # 0 at REF_DATE (the first date)
        if y0 <= ref_y < y1:
            block[:, ref_y - y0, ref_x] = 0                  # 0 at REF_Y/REF_X on every date
        writefile.write_hdf5_block(ts_file, block, "timeseries", block=[0, num_date, y0, y1, 0, width],
                                   print_msg=False)
        y = yy[:y1 - y0] + y0
        height = 500 + 300 * np.sin(y / 97.0) * np.cos(xx[:y1 - y0] / 131.0) + rng.normal(0, 5, y.shape)
        writefile.write_hdf5_block(geom_file, height.astype(np.float32), "height", block=[y0, y1, 0, width],
                                   print_msg=False)
        del steps, block
    return ts_file, geom_file, (ref_y, ref_x)


# --------------------------------------------------------------------------------------------
# what the network computes
# --------------------------------------------------------------------------------------------
def conv_flops_per_pixel_window(net):
    """FLOPs of one 9-date window at one output pixel: for every Conv3D/Conv2D layer,
    2 x kernel volume x c_in x c_out per output position, times its time steps (Conv3D).
    Dilation has no FLOP effect.  Returns (total, [(layer, flops)])."""
    per_layer = []
    for layer in net.layers:
        kind = layer.__class__.__name__
        if kind not in ("Conv3D", "Conv2D"):
            continue
        k = [int(d) for d in layer.kernel.shape]      # (t, h, w, cin, cout) or (h, w, cin, cout)
        macs = int(np.prod(k))                        # = kernel volume x c_in x c_out
        steps = int(layer.output.shape[1]) if kind == "Conv3D" else 1
        per_layer.append((layer.name, 2 * macs * steps))
    return sum(f for _, f in per_layer), per_layer


def _box_pixels(box, halo, net_halo, length, width, tile, margin=0):
    """Pixels fed to the network for one denoise_box call on ``box`` (a Box): the box is read with
    ``halo`` px of context, and the engine computes only the box (and ``margin`` px around it: the
    blend's margin with --scales 2), in tiles of ``tile`` px with the network halo ``net_halo``
    (``inference._tiles``, i.e. ``boxes.split``)."""
    from mintpy_dlae.boxes import split
    read = box.pad(halo, length, width)
    done = box.pad(margin, length, width)
    tiles = [r for _, r in split(done.within(read), read.shape, rows=tile, cols=tile, halo=net_halo)]
    return sum((r.y1 - r.y0) * (r.x1 - r.x0) for r in tiles), len(tiles)


def run_geometry(length, width, num_date, halo, tile_size, max_memory, ref_yx=None, num_worker=1,
                 net_halo=None, augment="auto", margin=0):
    """Pixels the run feeds the network, per window: core (the frame), computed in the row blocks
    (core + the network halo of the tiles; a block's own halo is context, not computed) and in the
    reference box.  ``num_worker`` > 1: row blocks are split along x as MintPy's DaskCluster does.
    ``net_halo``: ``inference.network_halo`` (default: ``halo`` less the elevation box radius).
    ``copies``: network passes per window and pixel (symmetric copies, ``--augment``; resolved as
    ``mintpy_dlae.py`` resolves it for the frame)."""
    from mintpy_dlae.config import resolve_augment
    from mintpy_dlae import dataset, io
    from mintpy_dlae.boxes import Box
    if net_halo is None:
        net_halo = halo - dataset.NORM_WINDOW // 2
    blocks = io.plan_row_blocks(length, width, num_date, max_memory, halo)
    computed, num_tiles, num_boxes = 0, 0, 0
    for block in blocks:
        boxes = [block]
        if num_worker > 1:
            from mintpy.objects.cluster import split_box2sub_boxes
            subs, _ = split_box2sub_boxes(block.mintpy, num_split=num_worker, dimension="x")
            boxes = [Box.from_mintpy(b) for b in subs]
        for b in boxes:
            px, nt = _box_pixels(b, halo, net_halo, length, width, tile_size, margin)
            computed += px
            num_tiles += nt
            num_boxes += 1
    ref_px = 0
    if ref_yx is not None:
        ry, rx, r = ref_yx[0], ref_yx[1], REF_SEARCH_RADIUS
        ref_box = Box(max(ry - r, 0), min(ry + r + 1, length), max(rx - r, 0), min(rx + r + 1, width))
        ref_px, _ = _box_pixels(ref_box, halo, net_halo, length, width, tile_size, margin)
    core = length * width
    return {"row_blocks": len(blocks), "block_rows": [int(b.y1 - b.y0) for b in blocks],
            "boxes": num_boxes, "tiles": num_tiles,
            "core_pixels": core, "computed_pixels_blocks": int(computed), "computed_pixels_reference": int(ref_px),
            "halo_overhead": computed / core, "halo_overhead_with_reference": (computed + ref_px) / core,
            "copies": resolve_augment(augment, core * max(num_date - 8, 1))}


def count_only(a):
    """``--count-only``: the network work of --scales 2 against one pass for the frame, from the
    counts alone (the reference point at the frame's centre, the model's receptive halo)."""
    from mintpy_dlae.config import DlaeConfig
    from mintpy_dlae.inference import receptive_halo
    cfg = DlaeConfig()
    tile, ram = a.tile_size or cfg.tile_size, a.ram or cfg.max_memory
    halo = int(receptive_halo(a.model))
    out = {"length": a.length, "width": a.width, "dates": a.dates, "ram_gb": ram, "halo_px": halo}
    for scales in (1, 2):
        g = geometry_with_scales(a.length, a.width, a.dates, halo, tile, ram, (a.length // 2, a.width // 2), 1, scales)
        total = g["computed_pixels_blocks"] + g["computed_pixels_reference"] + g.get("computed_pixels_coarse", 0)
        out[f"scales_{scales}"] = {"row_blocks": g["row_blocks"], "pixels_per_core_pixel": total / g["core_pixels"]}
    out["ratio"] = out["scales_2"]["pixels_per_core_pixel"] / out["scales_1"]["pixels_per_core_pixel"]
    print(json.dumps(out))
    return out


def geometry_with_scales(length, width, num_date, halo, tile_size, max_memory, ref_yx=None, num_worker=1,
                         scales=2):
    """:func:`run_geometry` of the run with ``--scales``: with 2, the row blocks compute and read the
    blend's margin more (``multiscale.block_halo(halo, coarse_given=True)``), and the coarse pass of the
    frame (``denoise_file.coarse_pass``: the ceil(length/2) x ceil(width/2) frame in its own row
    blocks with ``halo`` px of context, serial) adds its pixels (``computed_pixels_coarse``, in the
    halo overhead too)."""
    from mintpy_dlae import dataset
    from mintpy_dlae.multiscale import BLEND_MARGIN, block_halo
    net_halo = halo - dataset.NORM_WINDOW // 2
    if scales == 1:
        return run_geometry(length, width, num_date, halo, tile_size, max_memory, ref_yx, num_worker, net_halo)
    geom = run_geometry(length, width, num_date, block_halo(halo, coarse_given=True), tile_size, max_memory, ref_yx,
                        num_worker, net_halo, margin=BLEND_MARGIN)
    coarse = run_geometry(-(-length // 2), -(-width // 2), num_date, halo, tile_size, max_memory, None, 1, net_halo)
    geom["computed_pixels_coarse"] = coarse["computed_pixels_blocks"]
    total = geom["computed_pixels_blocks"] + geom["computed_pixels_coarse"]
    geom["halo_overhead"] = total / geom["core_pixels"]
    geom["halo_overhead_with_reference"] = (total + geom["computed_pixels_reference"]) / geom["core_pixels"]
    return geom


# --------------------------------------------------------------------------------------------
# matmul peak
# --------------------------------------------------------------------------------------------
def matmul_peak(dtype, n=4096, seconds=3.0):
    """Best FLOP/s of n x n x n products in ``dtype`` over about ``seconds`` (after a warm-up)."""
    import tensorflow as tf
    a = tf.cast(tf.random.normal((n, n), dtype=tf.float32), dtype)
    b = tf.cast(tf.random.normal((n, n), dtype=tf.float32), dtype)
    f = tf.function(lambda x, y: tf.linalg.matmul(x, y))
    f(a, b).numpy()
    best, t_end = 0.0, time.perf_counter() + seconds
    while True:
        t0 = time.perf_counter()
        f(a, b).numpy()
        dt = time.perf_counter() - t0
        best = max(best, 2.0 * n ** 3 / dt)
        if time.perf_counter() > t_end:
            return best


# --------------------------------------------------------------------------------------------
# running the command
# --------------------------------------------------------------------------------------------
def _tree_rss_kib(root):
    """Summed VmRSS (KiB) of ``root`` and its descendants (from /proc; 0 where unreadable)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def parse_gnu_time(text):
    """The fields of GNU time -v we use: wall (s), user/system (s), max RSS (KiB), exit status."""
    out = {}
    for line in text.splitlines():
        key, _, value = line.strip().rpartition(": ")
        if key == "Maximum resident set size (kbytes)":
            out["max_rss_kib"] = int(value)
        elif key == "User time (seconds)":
            out["user_s"] = float(value)
        elif key == "System time (seconds)":
            out["system_s"] = float(value)
        elif key.startswith("Elapsed (wall clock) time"):
            parts = [float(p) for p in value.split(":")]
            out["wall_s"] = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
        elif key == "Percent of CPU this job got":
            out["cpu_percent"] = float(value.rstrip("%") or 0)
    return out


def dlae_command():
    exe = shutil.which("mintpy_dlae.py") or os.path.join(os.path.dirname(sys.executable), "mintpy_dlae.py")
    if not os.path.isfile(exe):
        raise SystemExit("mintpy_dlae.py not found: install the package (pip install -e .)")
    return exe


def run_dlae(ts_file, geom_file, out_file, model, extra, log_file):
    """Run mintpy_dlae.py; returns the measurements (wall, peak RSS, CPU times)."""
    exe = dlae_command()
    cmd = [exe, ts_file, "-g", geom_file, "--model", model, "-o", out_file, "--force", "--no-progress"] + extra
    gnu_time = "/usr/bin/time"
    time_file = log_file + ".time"
    use_gnu = os.path.isfile(gnu_time) and os.access(gnu_time, os.X_OK)
    if use_gnu:
        full = [gnu_time, "-v", "-o", time_file] + cmd
    else:
        full = cmd
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    sampled = [0]
    with open(log_file, "w") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(full, stdout=log, stderr=subprocess.STDOUT)
        done = threading.Event()

        def sample():
            while not done.wait(0.5):
                sampled[0] = max(sampled[0], _tree_rss_kib(proc.pid))

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        rc = proc.wait()
        wall = time.perf_counter() - t0
        done.set()
        th.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if rc != 0 or not os.path.isfile(out_file):
        with open(log_file) as f:
            tail = f.read()[-3000:]
        raise RuntimeError(f"mintpy_dlae.py failed (exit {rc}):\n{tail}")
    res = {"command": " ".join(["mintpy_dlae.py"] + cmd[1:]), "wall_s": wall,
           "sampled_tree_rss_gib": sampled[0] / 2 ** 20}
    if use_gnu:
        with open(time_file) as f:
            g = parse_gnu_time(f.read())
        res.update(rss_method="GNU time -v (kernel maximum of the largest process)",
                   peak_rss_gib=g["max_rss_kib"] / 2 ** 20, user_s=g.get("user_s"), system_s=g.get("system_s"),
                   cpu_percent=g.get("cpu_percent"))
    else:
        # ru_maxrss of RUSAGE_CHILDREN is the largest of all waited-for children so far (KiB on Linux)
        res.update(rss_method="getrusage(RUSAGE_CHILDREN).ru_maxrss (largest child so far)",
                   peak_rss_gib=after.ru_maxrss / 2 ** 20, user_s=after.ru_utime - before.ru_utime,
                   system_s=after.ru_stime - before.ru_stime)
        res["cpu_percent"] = 100 * (res["user_s"] + res["system_s"]) / wall
    return res


def dask_available():
    """(True, '') or (False, why): the CLI's cluster flags and dask.distributed in this Python."""
    help_text = subprocess.run([dlae_command(), "-h"], capture_output=True, text=True).stdout
    if "--cluster" not in help_text or "--num-worker" not in help_text:
        return False, "mintpy_dlae.py -h lists no --cluster/--num-worker options"
    probe = subprocess.run([sys.executable, "-c", "import dask.distributed"], capture_output=True, text=True)
    if probe.returncode != 0:
        return False, "dask.distributed is not installed in this environment (pip install 'dask[distributed]')"
    return True, ""


# --------------------------------------------------------------------------------------------
def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return []
    m = re.search(r"^flags\s*:(.*)$", text, re.M)
    have = set(m.group(1).split()) if m else set()
    return [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f in have]


def summarise(name, run, geom, flops_pw, num_win, peaks, precision):
    flop = flops_pw * num_win * geom["copies"] * (geom["computed_pixels_blocks"] + geom["computed_pixels_reference"]
                                                   + geom.get("computed_pixels_coarse", 0))
    rate = flop / run["wall_s"]
    peak = peaks["bfloat16" if precision == "bfloat16" else "float32"]
    return dict(run, name=name, network_flop=flop, flop_rate_gflops=rate / 1e9,
                fraction_of_matmul_peak=rate / peak,
                fraction_of_float32_peak=rate / peaks["float32"],
                core_pixel_windows_per_s=geom["core_pixels"] * num_win / run["wall_s"],
                halo_overhead=geom["halo_overhead"], geometry=geom)


def print_table(result):
    rows = [("run", "wall s", "peak RSS GiB", "tree RSS GiB", "GFLOP/s", "of peak", "halo x", "core px-win/s")]
    for r in result["runs"]:
        rows.append((r["name"], f"{r['wall_s']:.1f}", f"{r['peak_rss_gib']:.2f}", f"{r['sampled_tree_rss_gib']:.2f}",
                     f"{r['flop_rate_gflops']:.1f}", f"{100 * r['fraction_of_matmul_peak']:.1f} %",
                     f"{r['halo_overhead']:.2f}", f"{r['core_pixel_windows_per_s']:,.0f}"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    s = result["setup"]
    print(f"\n{s['dates']} x {s['length']} x {s['width']} float32, model {s['model']} ({s['precision']}), "
          f"halo {s['halo_px']} px, tile {s['tile_size']}, --ram {s['ram_gb']} GB, "
          f"{s['network_mflop_per_pixel_window']:.3f} MFLOP per pixel-window, {s['windows']} windows")
    print(f"matmul peak: float32 {result['matmul_peak_gflops']['float32']:.1f} GFLOP/s, "
          f"bfloat16 {result['matmul_peak_gflops']['bfloat16']:.1f} GFLOP/s ({s['cpu']}, {s['cores']} cores)")
    for i, row in enumerate(rows):
        print("  ".join(str(c).rjust(w) for c, w in zip(row, widths)))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for r in result["runs"]:
        print(f"{r['name']}: {r['command']}")
    for name, why in result.get("skipped", {}).items():
        print(f"{name}: skipped ({why})")
    print("goals: wall <= 600 s, >= 50 % of the matmul peak, peak RSS <= 2 GiB, halo overhead <= 1.5")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--length", type=int, default=1000)
    p.add_argument("--width", type=int, default=1000)
    p.add_argument("--dates", type=int, default=100)
    p.add_argument("--model", default="fault", help="fault, mogi or a .keras path (default: fault)")
    p.add_argument("--tile-size", type=int, default=None, help="passed to mintpy_dlae.py (default: its own)")
    p.add_argument("--ram", type=float, default=None, help="passed to mintpy_dlae.py (default: its own)")
    p.add_argument("--scales", type=int, choices=[1, 2], default=None,
                   help="passed to mintpy_dlae.py (default: its own, 2); with 2 the coarse pass's pixels count too")
    p.add_argument("--dask", action="store_true", help="also run with --cluster local --num-worker 2")
    p.add_argument("--num-worker", type=int, default=2, help="workers of the --dask run (default: 2)")
    p.add_argument("--peak-seconds", type=float, default=3.0, help="seconds of matmuls per dtype (default: 3)")
    p.add_argument("--matmul-size", type=int, default=4096)
    p.add_argument("--workdir", default=None, help="scratch folder (default: a new temporary folder)")
    p.add_argument("--keep", action="store_true", help="keep the scratch folder")
    p.add_argument("--json", default=None, help="write the results to this JSON file")
    p.add_argument("--count-only", action="store_true",
                   help="only print the pixels the network would see with --scales 1 and 2 (no file, no run)")
    a = p.parse_args(argv)
    if a.dates < WINDOW:
        p.error(f"--dates must be >= {WINDOW}")
    if a.count_only:
        return count_only(a)

    from mintpy_dlae.config import DlaeConfig
    cfg = DlaeConfig()
    tile = a.tile_size or cfg.tile_size
    ram = a.ram or cfg.max_memory
    extra = [] if a.tile_size is None else ["--tile-size", str(a.tile_size)]
    extra += [] if a.ram is None else ["--ram", str(a.ram)]
    scales = a.scales or cfg.scales
    extra += [] if a.scales is None else ["--scales", str(a.scales)]

    folder = a.workdir or tempfile.mkdtemp(prefix="dlae_large_frame_")
    os.makedirs(folder, exist_ok=True)
    result = {"goals": GOALS, "runs": [], "skipped": {}}
    try:
        t0 = time.perf_counter()
        ts_file, geom_file, ref_yx = write_inputs(folder, a.dates, a.length, a.width)
        build_s = time.perf_counter() - t0

        from mintpy_dlae.inference import prepare_model, receptive_halo, resolve_precision
        from mintpy_dlae.train import cpu_name
        precision = resolve_precision("auto")
        net, _ = prepare_model(a.model, "float32")
        halo = int(receptive_halo(net))
        flops_pw, per_layer = conv_flops_per_pixel_window(net)
        num_win = a.dates - int(getattr(net, "num_dates", WINDOW)) + 1
        peaks = {dt: matmul_peak(dt, a.matmul_size, a.peak_seconds) for dt in ("float32", "bfloat16")}
        result["matmul_peak_gflops"] = {k: v / 1e9 for k, v in peaks.items()}
        result["setup"] = {"length": a.length, "width": a.width, "dates": a.dates, "windows": num_win,
                           "model": a.model, "precision": precision, "halo_px": halo, "tile_size": tile,
                           "ram_gb": ram, "network_mflop_per_pixel_window": flops_pw / 1e6,
                           "network_flop_per_layer": dict(per_layer), "build_s": build_s,
                           "cpu": cpu_name(), "cpu_flags": cpu_flags(), "cores": os.cpu_count(),
                           "python": platform.python_version(), "matmul_size": a.matmul_size}

        runs = [("serial", extra, 1)]
        if a.dask:
            ok, why = dask_available()
            if ok:
                runs.append(("dask", extra + ["--cluster", "local", "--num-worker", str(a.num_worker)], a.num_worker))
            else:
                result["skipped"]["dask"] = why
        for name, args, workers in runs:
            out = os.path.join(folder, f"timeseries_{name}_DLAE.h5")
            run = run_dlae(ts_file, geom_file, out, a.model, args, os.path.join(folder, f"{name}.log"))
            run["command"] = run["command"].replace(folder + os.sep, "")
            geom = geometry_with_scales(a.length, a.width, a.dates, halo, tile, ram, ref_yx, workers, scales)
            result["runs"].append(summarise(name, run, geom, flops_pw, num_win, peaks, precision))
            for f in os.listdir(folder):          # free the disk before the next run
                if f.endswith("_DLAE.h5") and name in f:
                    os.remove(os.path.join(folder, f))
    finally:
        if not a.keep and a.workdir is None:
            shutil.rmtree(folder, ignore_errors=True)
    print_table(result)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
