"""Docs honesty: every Markdown table marked `<!-- source: FILE [KEY] [options] -->` equals the committed
result file it quotes (benchmarks/check_docs.py), and the checker itself catches what it should."""
import importlib.util
import json
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_checker():
    spec = importlib.util.spec_from_file_location("check_docs", os.path.join(REPO, "benchmarks", "check_docs.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


check_docs = _load_checker()


def test_marked_doc_tables_match_their_result_files():
    files = check_docs.default_files()
    assert os.path.join(REPO, "README.md") in files and len(files) > 5
    errors = [e for f in files for e in check_docs.check_file(f)]
    assert errors == []


@pytest.fixture
def root(tmp_path):
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "curve.txt").write_text(
        "# mean R2 per SNR level\nsnr model raw\n0.1 -0.30 -173.25\n1 0.10 -0.33\n10 0.95 0.99\n")
    (tmp_path / "res" / "num.json").write_text(json.dumps(
        {"series": {"raw": {"gain": 1.0, "area_km2": 61.97, "p1_p99": [-15.26, 5.84]},
                    "fault": {"gain": 0.842, "area_km2": 58.2, "p1_p99": [-2.09, 0.0014]}},
         "rows": [{"name": "a", "x": 1234.5}, {"name": "b", "x": None}]}))
    return tmp_path


def _check(root, text):
    md = root / "page.md"
    md.write_text(text)
    return check_docs.check_file(str(md), root=str(root))


GOOD_TXT = """Intro.

<!-- source: res/curve.txt -->
| snr | **model** | raw |
|---|---:|---:|
| 0.1 | -0.30 | -173 |
| 10 | **0.95** | 0.99 |
"""


def test_text_table_rows_and_rounding(root):
    assert _check(root, GOOD_TXT) == []
    assert _check(root, GOOD_TXT.replace("| -173 |", "| -174 |"))            # wrong after rounding
    assert _check(root, GOOD_TXT.replace("| 0.99 |", "| 0.990 |")) == []     # same value, more digits
    assert _check(root, GOOD_TXT.replace("| 0.99 |", "| 0.991 |"))           # more digits than true
    assert _check(root, GOOD_TXT.replace("| 10 |", "| 3 |"))                 # row not in the file
    assert _check(root, GOOD_TXT.replace("| raw |", "| gaussian |"))         # column not in the file
    assert _check(root, GOOD_TXT.replace("| -0.30 |", "| |")) == []          # empty cells are not checked


def test_interpolated_and_transposed(root):
    text = """<!-- source: res/curve.txt interp=log transpose -->
| method | 0.1 | 0.3162 | 1 |
|---|---|---|---|
| fault (`model`) | -0.30 | -0.10 | 0.10 |
"""
    assert _check(root, text) == []                         # -0.10 is halfway in log(snr)
    assert _check(root, text.replace("| -0.10 |", "| -0.20 |"))
    assert _check(root, text.replace("| 0.1 | 0.3162 |", "| 0.1 | 30 |"))    # outside the range


def test_json_sources(root):
    text = """<!-- source: res/num.json series transpose -->
| quantity | raw | fault |
|---|---|---|
| gain (`gain`) | 1.00 | 0.84 |
| area (km²) (`area_km2`) | 62.0 | 58.2 |
| west p1 to p99 (`p1_p99`) | -15.3 to 5.8 | -2.1 to 0.0 |

<!-- source: res/num.json rows -->
| name | x |
|---|---|
| a | 1,234.5 |
| b | n/a |
"""
    assert _check(root, text) == []
    assert _check(root, text.replace("| 62.0 |", "| 61.0 |"))
    assert _check(root, text.replace("| -15.3 to 5.8 |", "| -15.3 to 6.8 |"))
    assert _check(root, text.replace("| 1,234.5 |", "| 1,243.5 |"))
    assert _check(root, text.replace("| b | n/a |", "| b | 3 |"))


def test_broken_markers_are_errors(root):
    assert _check(root, "<!-- source: res/missing.txt -->\n| snr | model |\n|---|---|\n| 1 | 0.1 |\n")
    assert _check(root, "<!-- source: res/curve.txt -->\n\nno table here\n")
    assert _check(root, "<!-- source: res/num.json nothere -->\n| a | b |\n|---|---|\n| 1 | 2 |\n")


def test_fix_rewrites_wrong_cells_at_the_digits_shown(root):
    md = root / "page.md"
    md.write_text(GOOD_TXT.replace("| -173 |", "| -174 |").replace("| **0.95** |", "| **0.91** |"))
    errors = check_docs.check_file(str(md), root=str(root), fix=True)
    assert len(errors) == 2                                   # reported as found ...
    fixed = md.read_text()
    assert "| -173 |" in fixed and "| **0.95** |" in fixed    # ... and rewritten from the source
    assert check_docs.check_file(str(md), root=str(root)) == []
    assert check_docs.rewrite_number("0.5 and 2", 1.0) is None  # two numbers: left to a reader
    assert check_docs.rewrite_number("\u22120.30", -0.304) == "\u22120.30"
