"""dlae_demo.py: build a synthetic MintPy project and run smallbaselineApp_dlae.py on it.

Only argparse at module level: ``-h`` is fast and never imports TensorFlow.
"""
import argparse
import os
import sys

EXAMPLE = """example:
  dlae_demo.py                          # fault model, ./dlae_demo, 20 dates x 50 x 60 px
  dlae_demo.py --kind mogi --dir demo_mogi
  dlae_demo.py --model my_model.keras --num-date 30 --size 80 100

The demo writes a synthetic project (inputs/ifgramStack.h5, inputs/geometryGeo.h5,
inputs/ERA5.h5, truth.h5), runs all smallbaselineApp steps with correct_dlae, and compares the
ERA5-corrected and the denoised time series with the true deformation.
"""


def create_parser():
    parser = argparse.ArgumentParser(
        prog="dlae_demo.py", formatter_class=argparse.RawTextHelpFormatter, epilog=EXAMPLE,
        description="Demo: denoise a synthetic MintPy project with the DLAE correct_dlae step")
    parser.add_argument("--dir", dest="work_dir", default="dlae_demo",
                        help="work directory (default: %(default)s)")
    parser.add_argument("--kind", choices=["fault", "mogi"], default="fault",
                        help="synthetic deformation and default model (default: %(default)s)")
    parser.add_argument("--model", help="model to use instead of the shipped one (.keras path)")
    parser.add_argument("--num-date", dest="num_date", type=int, default=20,
                        help="number of acquisitions (default: %(default)s)")
    parser.add_argument("--size", nargs=2, type=int, default=[50, 60], metavar=("LENGTH", "WIDTH"),
                        help="frame size in pixels (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--plot", action="store_true", help="let smallbaselineApp plot into pic/")
    return parser


def cmd_line_parse(iargs=None):
    parser = create_parser()
    inps = parser.parse_args(args=iargs)
    if inps.num_date < 9:
        parser.error(f"--num-date {inps.num_date}: the network needs at least 9 dates")
    if min(inps.size) < 16:
        parser.error(f"--size {inps.size}: use at least 16 x 16 pixels")
    return inps


def main(iargs=None):
    inps = cmd_line_parse(iargs)
    from mintpy_dlae.config import package_file
    model = inps.model or inps.kind
    if inps.model is None and not os.path.isfile(package_file("pretrained", f"{inps.kind}.keras")):
        raise SystemExit(
            f"ERROR: the shipped {inps.kind!r} model (pretrained/{inps.kind}.keras) is not "
            "available in this installation yet. Train one with dlae_train.py and run\n"
            f"  dlae_demo.py --model path/to/{inps.kind}.keras")
    if inps.model is not None and not os.path.isfile(inps.model):
        raise SystemExit(f"ERROR: model file not found: {inps.model}")
    model = os.path.abspath(model) if inps.model else model

    from mintpy_dlae.project import build_project
    work_dir = os.path.abspath(inps.work_dir)
    print(f"build a synthetic {inps.kind} project in {work_dir}")
    truth = build_project(work_dir, num_date=inps.num_date, shape=tuple(inps.size),
                          kind=inps.kind, seed=inps.seed,
                          template_options={"mintpy.dlae": "yes", "mintpy.dlae.model": model,
                                            "mintpy.plot": "yes" if inps.plot else "no"})
    from mintpy_dlae.cli import smallbaselineApp_dlae
    smallbaselineApp_dlae.main([truth.template_file, "--dir", work_dir])
    print(compare_with_truth(work_dir))


def compare_with_truth(work_dir):
    """RMS error of the last date, before and after denoising, against truth.h5 (text)."""
    import numpy as np
    from mintpy.utils import readfile

    truth = readfile.read(os.path.join(work_dir, "truth.h5"))[0]
    lines = ["", "RMS error of the final displacement against the truth (mm):"]
    for name in ("timeseries_ERA5.h5", "timeseries_ERA5_DLAE.h5"):
        path = os.path.join(work_dir, name)
        if not os.path.isfile(path):
            continue
        data, atr = readfile.read(path)
        ry, rx = int(atr["REF_Y"]), int(atr["REF_X"])
        ref = truth - truth[:, ry:ry + 1, rx:rx + 1]
        diff = (data[-1] - data[0]) - (ref[-1] - ref[0])
        valid = np.isfinite(diff) & (data[-1] != 0)
        rms = 1e3 * np.sqrt(np.mean(diff[valid] ** 2))
        lines.append(f"  {name:<28} {rms:6.2f}")
    lines.append(f"(signal peak: {1e3 * np.abs(truth[-1]).max():.1f} mm)")
    return "\n".join(lines)


if __name__ == "__main__":
    main(sys.argv[1:])
