"""Velocities fitted to the denoised Mexico City crop against those of the input.

    python benchmarks/velocity_bias.py --model fault --json docs/figures/velocity_bias.json

For each input of ``tests/data/pyrate_cropA`` (``timeseries.h5`` and ``timeseries_demErr.h5``),
copied to a temporary folder: ``mintpy_dlae.py INPUT --model MODEL --precision float32`` (the
defaults otherwise: ``maskTempCoh.h5`` is found by ``-m auto``), then MintPy's
``timeseries2velocity.py`` on the input and, with ``--uq covariance --ts-cov`` on the variance file,
on the output. Over the pixels of ``maskTempCoh.h5`` (5,877) it reports:

- ``fast_ratio``: the median of output rate / input rate where the input's rate is below
  -100 mm/yr (how much of fast steady subsidence the output keeps);
- ``median_in`` / ``median_out``: median rates (mm/yr) of input and output;
- ``rms_diff``: RMS of output rate - input rate (mm/yr);
- ``median_abs_diff``, ``median_velocity_std`` (the output's ``velocityStd``, mm/yr) and
  ``share_beyond_2std``: the share of pixels where the two rates differ by more than 2
  ``velocityStd``;
- ``ref_cumulative_std_mm``: ``cumulativeStd`` of each window at the reference pixel (mm), where
  the map itself is 0 by definition.

Quoted in docs/usage.md ("Velocities from the denoised series"). About 1 min per input on 2 cores.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CROP = os.path.join(HERE, os.pardir, "tests", "data", "pyrate_cropA")


def _script(name):
    path = os.path.join(os.path.dirname(sys.executable), name)
    return path if os.path.isfile(path) else shutil.which(name) or name


def _run(cmd, cwd):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


def compare(v_in, v_out, std_out, mask):
    """The statistics above from rates v_in, v_out and the output's velocityStd std_out (H, W) in
    m/yr, over ``mask`` (H, W) bool."""
    a, b, s = (np.asarray(x, np.float64)[mask] * 1e3 for x in (v_in, v_out, std_out))
    fast = a < -100.0
    d = b - a
    return {"pixels": int(mask.sum()), "fast_pixels": int(fast.sum()),
            "fast_ratio": round(float(np.median(b[fast] / a[fast])), 3) if fast.any() else None,
            "median_in": round(float(np.median(a)), 1), "median_out": round(float(np.median(b)), 1),
            "rms_diff": round(float(np.sqrt(np.mean(d ** 2))), 1),
            "median_abs_diff": round(float(np.median(np.abs(d))), 1),
            "median_velocity_std": round(float(np.median(s)), 1),
            "share_beyond_2std": round(float(np.mean(np.abs(d) > 2 * s)), 3)}


def measure(model="fault", inputs=("timeseries.h5", "timeseries_demErr.h5"), work=None):
    """{input: compare(...)} for each input of the crop (see the module docstring)."""
    from mintpy.utils import readfile

    from mintpy_dlae.denoise_file import output_files
    own = work is None
    work = work or tempfile.mkdtemp(prefix="velocity_bias_")
    try:
        dst = os.path.join(work, "cropA")
        if not os.path.isdir(dst):
            shutil.copytree(CROP, dst)
        mask = readfile.read(os.path.join(dst, "maskTempCoh.h5"))[0].astype(bool)
        out = {}
        for name in inputs:
            stem = os.path.splitext(name)[0]
            _run([_script("mintpy_dlae.py"), name, "--model", model, "--precision", "float32", "--force",
                  "--no-progress"], dst)
            _run([_script("timeseries2velocity.py"), name, "-o", f"vel_{stem}.h5"], dst)
            names = {k: os.path.join(dst, v) for k, v in output_files(name).items()}
            _run([_script("timeseries2velocity.py"), names["timeseries"], "--uq", "covariance", "--ts-cov",
                  names["variance"], "-o", f"vel_{stem}_DLAE.h5"], dst)
            v_in = readfile.read(os.path.join(dst, f"vel_{stem}.h5"), datasetName="velocity")[0]
            v_out = readfile.read(os.path.join(dst, f"vel_{stem}_DLAE.h5"), datasetName="velocity")[0]
            std = readfile.read(os.path.join(dst, f"vel_{stem}_DLAE.h5"), datasetName="velocityStd")[0]
            out[name] = compare(v_in, v_out, std, mask & np.isfinite(v_in) & np.isfinite(v_out))
            atr = readfile.read_attribute(names["cumulative"])
            ry, rx = int(atr["REF_Y"]), int(atr["REF_X"])
            stds = sorted(d for d in readfile.get_dataset_list(names["cumulative"]) if d.startswith("cumulativeStd_"))
            out[name]["ref_cumulative_std_mm"] = [
                round(float(readfile.read(names["cumulative"], datasetName=d)[0][ry, rx]) * 1e3, 1) for d in stds]
        return out
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="fault", help="fault, mogi or a .keras path (default fault)")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    res = measure(a.model)
    for name, r in res.items():
        print(f"{name}: {r}")
    if a.json:
        from mintpy_dlae.model import atomic_write_json
        atomic_write_json({"model": a.model, "by_input": res}, a.json)
    return res


if __name__ == "__main__":
    main()
