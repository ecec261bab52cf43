"""A model's JSON card (``<model>.json`` next to the ``.keras`` file, written by training and by
``dlae_evaluate.py``) as text a person reads: what the model is for, what it was trained on, on
what hardware, and how it scored on the independent synthetic test family against the classical
baselines.

Everything printed comes from the card; nothing here is measured. ``mintpy_dlae.py --model-info
fault`` prints it; ``python -m mintpy_dlae.model_card --write`` renders ``pretrained/README.md``
for the shipped models (a test checks that file against the cards).
"""
import argparse
import json
import os
import sys

from mintpy_dlae.constants import MODEL_KINDS, TRAINING_PIXEL_SIZE_M

# What each shipped model is for (the training sources of its last run; docs/method.md).
PURPOSE = {
    "fault": "tectonic transients and steady creep from faults (Okada dislocations): slow slip, "
             "afterslip, interseismic creep, and other deformation of a few pixels to larger than "
             "the 40 px patch",
    "mogi": "point sources (Mogi): inflation and deflation of reservoirs and magma chambers, "
            "subsidence and uplift bowls no deeper than half the network's view",
}
BASELINES = (("model", "network (cumulative map)"), ("phase_elevation", "phase/elevation + Gaussian filter"),
             ("temporal", "temporal smoothing"), ("gaussian", "Gaussian filter"), ("zero", "all-zero map"))
SNR_COLUMNS = ("0.5", "1.0", "2.0", "3.0")


def _fmt(value, digits=2):
    return "n/a" if value is None else f"{value:.{digits}f}"


def _kind_text(kind):
    if isinstance(kind, dict):
        return " / ".join(f"{100 * share:.0f} % {k}" for k, share in kind.items()) + " series"
    return f"{kind} series"


def describe(model="fault"):
    """Markdown text of the card of ``model`` ('fault', 'mogi' or a path to a .keras file).

    Reads the files only (no TensorFlow). Raises :class:`mintpy_dlae.io.DlaeInputError` for a
    model that is not a .keras file (:func:`mintpy_dlae.denoise_file.model_file`) or has no JSON
    card next to it.
    """
    from mintpy_dlae.denoise_file import model_file, model_sha256
    from mintpy_dlae.io import DlaeInputError
    path = model_file(model)
    if path is None:
        raise DlaeInputError(f"shipped model {model!r} is missing from this installation")
    card_path = os.path.splitext(path)[0] + ".json"
    if not os.path.isfile(card_path):
        raise DlaeInputError(f"{path}: no model card ({card_path}) next to it")
    try:
        with open(card_path) as f:
            card = json.load(f)
    except (OSError, ValueError) as err:
        raise DlaeInputError(f"{card_path}: the model card is not readable JSON ({err})") from err
    if not isinstance(card, dict) or "architecture" not in card:
        raise DlaeInputError(f"{card_path}: not a mintpy_dlae model card (a JSON object with 'architecture', "
                             "written by training)")
    name = model if isinstance(model, str) and model in MODEL_KINDS else os.path.basename(path)
    arch = card.get("architecture", {})
    train = card.get("training", {})
    lines = [f"## `{name}`", ""]
    kind = card.get("kind")
    if name in PURPOSE:                # a shipped model: its purpose (mogi was fine-tuned on a mix)
        lines += [f"**For** {PURPOSE[name]}.", ""]
    elif isinstance(kind, dict) and len(kind) > 1:     # a run of one's own on a mix: no single purpose
        total = sum(float(v) for v in kind.values()) or 1.0
        lines += ["**Trained on** a mix of source kinds: " +
                  ", ".join(f"{k} {100 * float(v) / total:.0f} %" for k, v in kind.items()) + ".", ""]
    else:
        base = kind if isinstance(kind, str) else (next(iter(kind)) if isinstance(kind, dict) and kind else None)
        if base in PURPOSE:
            lines += [f"**For** {PURPOSE[base]}.", ""]
    sha = model_sha256(path)
    lines += [
        f"- File: `{os.path.basename(path)}`, sha256 `{sha[:12]}...`, {card.get('parameters', 0):,} parameters "
        f"({arch.get('num_conv3d', '?')} Conv3D layers with {arch.get('filters', '?')} filters, time pooled "
        f"{'x'.join(str(p) for p in arch.get('pools', []))}, {arch.get('num_conv2d', '?')} Conv2D layers with "
        f"{arch.get('filters_2d', '?')} filters, dilations {tuple(arch.get('dilations', ()))}).",
        f"- Input: windows of {arch.get('num_dates', 9)} acquisitions of a MintPy time series in metres and the "
        f"elevation; pixels of {TRAINING_PIXEL_SIZE_M[0]:g}-{TRAINING_PIXEL_SIZE_M[1]:g} m in training.",
        "- Output: the mean displacement of each date of the window relative to its first date and its "
        "standard deviation sigma"
        + (f", sigma multiplied by {card['sigma_calibration']['factor']:.3f} so that the 2-sigma interval "
           f"covers {100 * card['sigma_calibration']['target']:.0f} % of the truth on its calibration set "
           f"(synthetic series of the training distribution; {100 * card['sigma_calibration']['coverage_before']:.1f} % "
           "before)." if "sigma_calibration" in card else "."),
    ]
    total = train.get("samples_seen_total", train.get("samples_seen"))
    hours = train.get("cpu_hours_total", train.get("cpu_hours"))
    segs = train.get("segments", [])
    hardware = sorted({f"{s.get('cores', '?')}-core {s.get('cpu', '?')}"
                       + (f" + {s['accelerator']}" if s.get("accelerator") else "")
                       + f" ({s.get('backend', '?')}, {s.get('precision', '?')})" for s in segs})
    lines += [
        f"- Training: {_kind_text(kind)} of this project's generator (`mintpy_dlae.synthetic`), "
        f"{train.get('samples_seen', 0):,} samples in its last run"
        + (f" on {', '.join(hardware)}" if hardware else "")
        + (f" (`{card['training_run']}`)" if card.get("training_run") else "")
        + (f"; {total:,} samples and {hours:.1f} core-hours (CPU) in all, with the runs it started from" if total else "")
        + ".",
    ]
    if card.get("lineage"):
        lines.append(f"- Lineage: {card['lineage']}.")
    ev = card.get("evaluation")
    if ev and "summary" in ev:
        summary = ev["summary"]
        lines += ["", f"Independent synthetic test family ({ev.get('protocol', '')}): mean R² of the cumulative "
                  "map at each SNR (the paper's definition; interpolated in log SNR between the protocol's "
                  "levels), and the lowest level from which every level reaches 0.6:", "",
                  "| | " + " | ".join(f"SNR {s}" for s in SNR_COLUMNS) + " | R² >= 0.6 from SNR |",
                  "|---|" + "---|" * (len(SNR_COLUMNS) + 1)]
        for key, label in BASELINES:
            row = summary.get(key)
            if not row:
                continue
            cells = [_fmt(row.get(f"r2_at_snr_{s}")) for s in SNR_COLUMNS]
            lines.append(f"| {label} | " + " | ".join(cells) + f" | {_fmt(row.get('r2_0.6_from_snr'))} |")
        cov = summary.get("coverage_2sigma")
        if cov:
            lines += ["", f"2-sigma coverage of the truth over the levels: {cov['min']:.3f}-{cov['max']:.3f} "
                      f"(mean {cov['mean']:.3f})."]
    lines += ["", "Limits, real-noise figures and how to read sigma: docs/method.md ('Limits: what the model "
              "treats as noise, and what it has not seen'), docs/evaluation.md, docs/real_data.md.", ""]
    return "\n".join(lines)


def render_pretrained():
    """The text of ``pretrained/README.md``: the cards of the shipped models."""
    head = ["# Shipped models", "",
            "Rendered from the JSON cards next to each `.keras` file by `python -m mintpy_dlae.model_card "
            "--write`; `mintpy_dlae.py --model-info NAME` prints one. Every figure is the card's.", ""]
    return "\n".join(head) + "\n".join(describe(k) for k in MODEL_KINDS)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m mintpy_dlae.model_card", description=__doc__.split("\n\n")[0])
    p.add_argument("model", nargs="*", default=list(MODEL_KINDS), help="fault, mogi or a .keras path")
    p.add_argument("--write", action="store_true", help="write pretrained/README.md (the shipped models)")
    args = p.parse_args(argv)
    if args.write:
        from mintpy_dlae.config import package_file
        out = package_file("pretrained", "README.md")
        tmp = out + ".tmp"
        with open(tmp, "w") as f:
            f.write(render_pretrained())
        os.replace(tmp, out)                  # never half-written
        print(f"wrote {out}")
        return
    try:
        for m in args.model:
            sys.stdout.write(describe(m) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:                 # piped into head: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    main()
