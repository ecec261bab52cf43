"""``--model`` values of the benchmark scripts whose test series follow the model's kind."""
import os


def kind_models(parser, specs):
    """[(name, kind, path)] for ``--model`` values "fault", "mogi" or "KIND=PATH" (a .keras file
    scored on KIND's series); ``parser.error`` for any other kind.  The name is the kind for a
    shipped model, "KIND=<file name>" for a file."""
    out = []
    for spec in specs:
        kind, path = spec.split("=", 1) if "=" in spec else (spec, spec)
        if kind not in ("fault", "mogi"):
            parser.error(f"--model {spec}: the kind must be fault or mogi")
        out.append((kind if path == kind else f"{kind}={os.path.basename(path)}", kind, path))
    return out


def setup():
    """Quiet TensorFlow and make the source tree importable (scripts run from a checkout)."""
    import sys
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write_json(obj, path):
    """Write a result file atomically, if ``path`` is given."""
    if path:
        from mintpy_dlae.model import atomic_write_json
        atomic_write_json(obj, path)
