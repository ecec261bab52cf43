#!/usr/bin/env python
"""Keep the docs honest: re-derive every marked table from the committed result file it quotes.

A Markdown table is checked when an HTML comment, alone on its line, names its source above it
(blank lines in between are fine):

    <!-- source: docs/figures/eval_fault.txt -->
    <!-- source: docs/figures/mexico_numbers.json series transpose -->
    <!-- source: docs/figures/eval_fault.txt interp=log transpose -->

``PATH`` is relative to the repository root.  Sources:

- ``.txt`` / ``.tsv`` / ``.csv``: a table with a header line (lines starting with ``#`` are comments),
  columns separated by whitespace (or commas for ``.csv``).  The first column is the row key.
- ``.json``: an optional dotted ``KEY`` (``a.b.0.c``) selects a node, which is either a mapping
  ``{row: {column: value}}``, a list of records ``[{column: value}]`` (the row key is the field named
  by the table's first header cell, or ``key=FIELD``), or columns ``{column: [values]}``.

In the document table, the first column holds row keys and the header holds column keys.  A cell
that shows a key in backticks (```model```) uses that key; otherwise its text (without ``*`` and
backticks) is the key.  Options:

- ``transpose``: the document's rows are the source's columns and vice versa;
- ``interp=log`` or ``interp=linear``: numeric row keys that are not in the source are interpolated
  between the neighbouring rows (in log of the key for ``log``), as for values read off a curve;
- ``scale=F``: source values are multiplied by F before comparing (e.g. 1000 for m -> mm).

Every row and column key of the document table must exist in the source, and every number shown
must equal the source value rounded to the digits shown (half a unit of the last digit).  An empty
cell is not checked.  A cell may hold several numbers when the source value is a list.

Run ``python benchmarks/check_docs.py [FILE.md ...]`` (default: README.md and docs/*.md); the exit
status is 1 when a table disagrees with its source.  ``--fix`` rewrites every disagreeing cell that
shows one plain number with the source value, at the digits shown (after a new result file is
committed; the prose around the tables still needs a reader).  ``tests/test_docs.py`` runs it in the suite.
"""
import argparse
import glob
import json
import math
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKER = re.compile(r"^\s*<!--\s*source:\s*(.*?)\s*-->\s*$")   # a comment on its own line
NUMBER = re.compile(r"(?<![\w.])([-+\u2212]?)(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?:[eE]([-+]?\d+))?")
MISSING = ("n/a", "-", "\u2013", "\u2014", "nan")


def numbers(text):
    """[(value, half-unit tolerance)] of the numbers written in ``text``."""
    out = []
    for sign, whole, frac, exp in NUMBER.findall(text.replace("\u2009", "").replace("\u00a0", "")):
        frac = frac or ""
        e = int(exp) if exp else 0
        value = float(whole.replace(",", "") + ("." + frac if frac else "")) * 10.0 ** e
        out.append((-value if sign in ("-", "\u2212") else value, 0.5 * 10.0 ** (e - len(frac))))
    return out


def cell_key(text):
    m = re.search(r"`([^`]+)`", text)
    return (m.group(1) if m else text.replace("*", "")).strip()


def parse_options(spec):
    parts = spec.split()
    if not parts:
        raise ValueError("empty source marker")
    path, key, opts = parts[0], None, {}
    for p in parts[1:]:
        if "=" in p:
            k, v = p.split("=", 1)
            opts[k] = v
        elif p == "transpose":
            opts["transpose"] = True
        elif key is None:
            key = p
        else:
            raise ValueError(f"unexpected word in source marker: {p!r}")
    return path, key, opts


def read_table_file(path):
    """Columns {name: [values]} of a text table; values are floats where they parse."""
    sep = "," if path.endswith(".csv") else None
    rows = [ln.strip() for ln in open(path) if ln.strip() and not ln.lstrip().startswith("#")]
    header = [h.strip() for h in rows[0].split(sep)]
    cols = {h: [] for h in header}
    for ln in rows[1:]:
        vals = [v.strip() for v in ln.split(sep)]
        if len(vals) != len(header):
            raise ValueError(f"{path}: row {ln!r} has {len(vals)} fields, header has {len(header)}")
        for h, v in zip(header, vals):
            try:
                cols[h].append(float(v))
            except ValueError:
                cols[h].append(v)
    return cols


def to_rows(node, key_field):
    """{row key (str): {column: value}} from any supported node."""
    if isinstance(node, dict) and node and all(isinstance(v, dict) for v in node.values()):
        return {str(k): v for k, v in node.items()}
    if key_field is None:
        raise ValueError("a transposed table over records or columns needs key=FIELD")
    if isinstance(node, list) and all(isinstance(v, dict) for v in node):
        return {_key_str(r[key_field]): r for r in node}
    if isinstance(node, dict) and node and all(isinstance(v, list) for v in node.values()):
        if key_field not in node:
            raise KeyError(f"row-key column {key_field!r} not in {sorted(node)}")
        n = len(node[key_field])
        return {_key_str(node[key_field][i]): {c: v[i] for c, v in node.items()} for i in range(n)}
    raise ValueError("source node is neither {row: {col: value}}, a list of records, nor {col: [values]}")


def _key_str(v):
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def load_source(path, key, root=REPO):
    full = os.path.join(root, path)
    if not os.path.isfile(full):
        raise FileNotFoundError(f"source file {path} not found")
    if path.endswith(".json"):
        node = json.load(open(full))
        for part in (key.split(".") if key else []):
            try:
                node = node[int(part)] if isinstance(node, list) else node[part]
            except (KeyError, IndexError, ValueError):
                raise KeyError(f"{path}: KEY {key!r} not found (at {part!r})") from None
    else:
        if key:
            raise ValueError(f"{path}: a text table takes no KEY ({key!r})")
        node = read_table_file(full)
    return node


def parse_md_table(lines, start):
    """(header cells, body rows) of the Markdown table at ``lines[start]``."""
    def cells(ln):
        s = ln.strip()
        s = s[1:] if s.startswith("|") else s
        s = s[:-1] if s.endswith("|") else s
        return [c.strip() for c in s.split("|")]
    header = cells(lines[start])
    body = []
    i = start + 2
    if start + 1 >= len(lines) or not re.fullmatch(r"\s*\|?[\s:|-]+\|?\s*", lines[start + 1]):
        raise ValueError("marker is not followed by a Markdown table")
    while i < len(lines) and lines[i].strip().startswith("|"):
        body.append(cells(lines[i]))
        i += 1
    return header, body


def _interp(rows, key, col, mode):
    """Value of ``col`` at numeric row ``key`` by interpolation between the neighbouring rows."""
    pts = sorted((float(k), r.get(col)) for k, r in rows.items() if _isnum(k))
    x = float(key)
    for (x0, y0), (x1, y1) in zip(pts[:-1], pts[1:]):
        if x0 <= x <= x1:
            if y0 is None or y1 is None:
                return None
            if mode == "log":
                t = (math.log(x) - math.log(x0)) / (math.log(x1) - math.log(x0))
            else:
                t = (x - x0) / (x1 - x0)
            return y0 + t * (y1 - y0)
    raise KeyError(f"row {key} is outside the source's range {pts[0][0]}..{pts[-1][0]}")


def _isnum(s):
    try:
        float(s)
        return True
    except (TypeError, ValueError):
        return False


def rewrite_number(text, value):
    """``text`` with its one number replaced by ``value`` at the same number of decimals, or None when
    ``text`` does not hold exactly one plain (non-exponent) number."""
    clean = text.replace("\u2009", "").replace("\u00a0", "")
    found = list(NUMBER.finditer(clean))
    if len(found) != 1 or found[0].group(4) or "," in found[0].group(2) or clean != text:
        return None
    m = found[0]
    digits = len(m.group(3) or "")
    minus = "\u2212" if m.group(1) == "\u2212" else "-"
    new = f"{abs(value):.{digits}f}"
    sign = minus if value < 0 and float(new) != 0 else ("+" if m.group(1) == "+" else "")
    return text[:m.start()] + sign + new + text[m.end():]


def check_table(spec, header, body, root=REPO, fixes=None):
    """List of error strings for one marked table; with a ``fixes`` dict, also {(row, column index):
    new cell text} for the cells :func:`rewrite_number` can correct."""
    path, key, opts = parse_options(spec)
    transpose = opts.get("transpose", False)
    mode = opts.get("interp")
    scale = float(opts.get("scale", 1.0))
    node = load_source(path, key, root)
    if "key" in opts:
        key_field = opts["key"]
    elif not path.endswith(".json"):
        key_field = next(iter(node))                 # a text table's first column
    elif transpose:
        key_field = None                             # a JSON list/columns node needs key=FIELD
    else:
        key_field = cell_key(header[0])
    rows = to_rows(node, key_field)
    errors = []

    def lookup(r, c):
        if r in rows:
            if c not in rows[r]:
                raise KeyError(f"column {c!r} not in the source (has {sorted(rows[r])})")
            return rows[r][c]
        if mode in ("log", "linear") and _isnum(r):
            if not any(c in v for v in rows.values()):
                raise KeyError(f"column {c!r} not in the source")
            return _interp(rows, r, c, mode)
        raise KeyError(f"row {r!r} not in the source")

    if not body:
        return [f"{path}: the table has no rows"]
    for ri, cells in enumerate(body):
        label = cell_key(cells[0])
        for ci, (h, text) in enumerate(zip(header[1:], cells[1:]), start=1):
            col = cell_key(h)
            r, c = (col, label) if transpose else (label, col)
            if _isnum(r) and r not in rows:
                r = next((k for k in rows if _isnum(k) and float(k) == float(r)), r)
            try:
                want = lookup(r, c)
            except KeyError as err:
                errors.append(f"{path}: {err.args[0]}")
                continue
            shown = text.replace("*", "").strip()
            if not shown:
                continue
            if want is None or (isinstance(want, float) and math.isnan(want)):
                if shown.lower() not in MISSING:
                    errors.append(f"{path} [{r}, {c}]: doc shows {shown!r}, source has no value")
                continue
            if isinstance(want, str):
                if cell_key(shown) != want:
                    errors.append(f"{path} [{r}, {c}]: doc shows {shown!r}, source has {want!r}")
                continue
            wants = [want] if not isinstance(want, (list, tuple)) else list(want)
            got = numbers(shown)
            if len(got) < len(wants):
                errors.append(f"{path} [{r}, {c}]: doc shows {shown!r}, source has {wants}")
                continue
            for (value, tol), w in zip(got, wants):
                w = float(w) * scale
                if abs(value - w) > tol + 1e-9 * abs(w):
                    errors.append(f"{path} [{r}, {c}]: doc shows {shown!r}, source gives {w:.6g}")
                    new = rewrite_number(text, w) if len(wants) == 1 else None
                    if fixes is not None and new is not None:
                        fixes[(ri, ci)] = new
    return errors


def _table_line(cells):
    return "| " + " | ".join(cells) + " |"


def check_file(md_path, root=REPO, fix=False):
    """List of error strings for every marked table in one Markdown file (``fix``: rewrite the file
    with the cells that can be corrected, see :func:`rewrite_number`)."""
    text = open(md_path, encoding="utf-8").read()
    lines = text.splitlines()
    errors, changed = [], False
    for i, ln in enumerate(lines):
        m = MARKER.search(ln)
        if not m:
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        where = f"{os.path.relpath(md_path, root)}:{i + 1}"
        try:
            if j >= len(lines) or not lines[j].strip().startswith("|"):
                raise ValueError("marker is not followed by a Markdown table")
            header, body = parse_md_table(lines, j)
            fixes = {} if fix else None
            errors += [f"{where}: {e}" for e in check_table(m.group(1), header, body, root, fixes)]
            for (ri, ci), new in (fixes or {}).items():
                body[ri][ci] = new
                lines[j + 2 + ri] = _table_line(body[ri])
                changed = True
        except (ValueError, KeyError, FileNotFoundError, IndexError, TypeError) as err:
            errors.append(f"{where}: {err}")
    if changed:
        tmp = md_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + ("\n" if text.endswith("\n") else ""))
        os.replace(tmp, md_path)
    return errors


def default_files():
    return [os.path.join(REPO, "README.md")] + sorted(glob.glob(os.path.join(REPO, "docs", "*.md")))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="*", help="Markdown files (default: README.md and docs/*.md)")
    p.add_argument("--fix", action="store_true", help="rewrite the single-number cells that disagree")
    a = p.parse_args(argv)
    files = a.files or default_files()
    errors, tables = [], 0
    for f in files:
        tables += sum(bool(MARKER.search(ln)) for ln in open(f, encoding="utf-8"))
        errors += check_file(f, fix=a.fix)
    for e in errors:
        print(e)
    print(f"check_docs: {tables} marked tables in {len(files)} files, {len(errors)} disagreements")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
