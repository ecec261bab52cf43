"""The quickstart of docs/usage.md, run as written on a copy of tests/data/pyrate_cropA.

The commands are read from the first ```bash block of the "Quickstart" section, so the test and
the documentation cannot drift apart. The installed mintpy_dlae.py runs them with the shipped
model, in a fresh folder, as a user would.
"""
import os
import re
import shlex
import shutil
import subprocess

import pytest
from conftest import script

HERE = os.path.dirname(os.path.abspath(__file__))
USAGE = os.path.join(os.path.dirname(HERE), "docs", "usage.md")
CROP = os.path.join(HERE, "data", "pyrate_cropA")


def usage_text():
    """docs/usage.md; missing is a failure (the tests run from the repository, where it belongs)."""
    if not os.path.isfile(USAGE):
        pytest.fail(f"docs/usage.md not found next to the tests ({USAGE})")
    with open(USAGE) as f:
        return f.read()


def quickstart_commands():
    text = usage_text()
    section = text[text.index("## Quickstart"):]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    commands = []
    for line in block.splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("mintpy_dlae.py"):
            commands.append(shlex.split(line))
    return commands


def test_quickstart_mentions_update_and_force():
    text = usage_text()
    section = text[text.index("## Quickstart"):text.index("Options worth knowing")]
    assert "--update" in section and "--force" in section
    assert "tests/data/pyrate_cropA" in section and "dlae_demo" in section


@pytest.mark.slow
def test_quickstart_runs_as_written_on_pyrate_crop(tmp_path):
    commands = quickstart_commands()
    assert len(commands) == 2 and "--update" in commands[1]
    exe = script("mintpy_dlae.py")
    work = tmp_path / "cropA"
    shutil.copytree(CROP, work)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "ABSL_"))}

    def run(args):
        return subprocess.run([exe] + args[1:], cwd=work, env=env, capture_output=True,
                              text=True, timeout=600)

    first = run(commands[0])
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert "geometry file: inputs/geometryGeo.h5" in first.stdout
    assert "Done" in first.stdout and first.stderr.strip() == ""
    out = work / "timeseries_DLAE.h5"
    mtime = os.path.getmtime(out)
    # the same command again: a clear error naming --update and --force, nothing changed
    again = run(commands[0])
    assert again.returncode != 0
    assert "output file exists" in again.stderr and "--update" in again.stderr \
        and "--force" in again.stderr
    second = run(commands[1])
    assert second.returncode == 0 and "Done" not in second.stdout
    assert os.path.getmtime(out) == mtime
    # the input is untouched
    for name in ("timeseries.h5", "maskTempCoh.h5", os.path.join("inputs", "geometryGeo.h5")):
        assert open(work / name, "rb").read() == open(os.path.join(CROP, name), "rb").read()
