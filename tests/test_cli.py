"""Installed console scripts start from any folder; -h is fast and never imports TensorFlow."""
import os
import re
import subprocess
import sys

import pytest
from conftest import script

SCRIPTS = {
    "mintpy_dlae.py": "TS_FILE",
    "smallbaselineApp_dlae.py": "correct_dlae",
    "dlae_train.py": "usage",
    "dlae_evaluate.py": "usage",
    "dlae_demo.py": "usage",
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_installed_script_help(name, tmp_path):
    path = script(name)
    proc = subprocess.run([path, "--help"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage" in proc.stdout.lower()
    if SCRIPTS[name] != "usage":
        assert SCRIPTS[name] in proc.stdout


@pytest.mark.parametrize("module", ["denoise", "smallbaselineApp_dlae", "demo"])
def test_help_is_light(module, tmp_path):
    """`-h` of our CLIs must not import TensorFlow (what keeps it fast; no timed assertion here: the
    start-up time is measured by hand, docs/usage.md)."""
    code = (
        "import sys\n"
        f"from mintpy_dlae.cli import {module} as m\n"
        "try:\n    m.main(['-h'])\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n"
        "heavy = [k for k in ('tensorflow', 'keras') if k in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_installed_denoise_error_exit(tmp_path):
    """A bad input from the installed command: clear message on stderr, non-zero exit."""
    path = script("mintpy_dlae.py")
    proc = subprocess.run([path, str(tmp_path / "timeseries.h5"), "-g", "geometryGeo.h5"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "ERROR: time-series file not found" in proc.stderr
    assert os.listdir(tmp_path) == []


def test_other_programs_next_to_the_script_import_the_package(tmp_path):
    """Any program in bin/ (pytest, ipython, a user's script) that imports mintpy_dlae must get the
    package, not the console script bin/mintpy_dlae.py that sits first on its sys.path."""
    shadow = tmp_path / "mintpy_dlae.py"
    with open(script("mintpy_dlae.py")) as f:        # script() fails if it is not installed
        shadow.write_text(f.read())
    (tmp_path / "prog.py").write_text("import mintpy_dlae\nfrom mintpy_dlae import synthetic\n"
                                      "assert hasattr(mintpy_dlae, '__path__')\nprint(synthetic.__name__)\n")
    out = subprocess.run([sys.executable, str(tmp_path / "prog.py")], capture_output=True, text=True,
                         cwd=str(tmp_path), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "mintpy_dlae.synthetic"


def test_help_step_lists_include_correct_dlae():
    """MintPy's bracketed step lists in `smallbaselineApp_dlae.py -h` name correct_dlae."""
    from mintpy_dlae.cli import smallbaselineApp_dlae as sba
    text = sba.create_parser().format_help()
    bracketed = [line for line in text.splitlines() if line.strip().startswith("['")]
    assert any("'correct_dlae'" in line for line in bracketed), bracketed
    listed = [s.strip(" '") for line in bracketed for s in line.strip(" []").split(",")]
    assert listed == sba.step_list()



def test_printed_template_has_the_step_where_it_runs(capsys, tmp_path):
    """`smallbaselineApp_dlae.py -H` prints MintPy's default template with the correct_dlae block
    between correct_troposphere and deramp (where the step runs), every MintPy line kept, and
    MintPy's template reader parses the whole text with the block's keys."""
    import mintpy
    from mintpy.utils import readfile

    from mintpy_dlae import config
    from mintpy_dlae.cli import smallbaselineApp_dlae as sba
    with pytest.raises(SystemExit):
        sba.cmd_line_parse(["-H"])
    text = capsys.readouterr().out
    heads = [line for line in text.splitlines() if line.startswith("##########")]
    i = [h.split()[1] for h in heads].index("correct_dlae")
    assert heads[i - 1].startswith("########## 8. correct_troposphere") and heads[i + 1].startswith("########## 9. deramp")
    assert text.replace(config.template_text() + "\n", "", 1).rstrip() == open(
        os.path.join(os.path.dirname(mintpy.__file__), "defaults", "smallbaselineApp.cfg")).read().rstrip()
    (tmp_path / "t.cfg").write_text(text)
    parsed = readfile.read_template(str(tmp_path / "t.cfg"))
    assert parsed["mintpy.dlae"] == "auto" and parsed["mintpy.deramp"] == "auto"

def test_installed_denoise_is_quiet(tmp_path):
    """A normal run of the installed mintpy_dlae.py prints no TensorFlow/absl/CUDA lines."""
    from conftest import write_geometry, write_timeseries
    path = script("mintpy_dlae.py")
    (tmp_path / "inputs").mkdir()
    write_geometry(tmp_path / "inputs" / "geometryGeo.h5")
    write_timeseries(tmp_path / "timeseries.h5")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "ABSL_"))}
    proc = subprocess.run([path, "timeseries.h5", "--no-progress"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.strip() == "", proc.stderr[-3000:]
    assert "geometry file: inputs/geometryGeo.h5" in proc.stdout
    assert "Done" in proc.stdout
    for word in ("cuInit", "absl", "oneDNN", "cuda"):
        assert word not in proc.stdout + proc.stderr


def test_train_resume_warns_about_ignored_options(tmp_path, capsys):
    """dlae_train.py --resume names every option given on the command line that the resume ignores
    (the run's checkpoint fixes it), and says nothing when none is given.  The resumes have no
    samples left to train (the budget is reached), which keeps the test quick."""
    from mintpy_dlae.cli import train as cli
    out = str(tmp_path / "tiny.keras")
    common = ["fault", "-o", out, "--samples", "8", "--steps-per-epoch", "1", "--precision", "float32"]
    cli.main(common + ["--batch-size", "8", "--val-size", "8", "--filters", "4", "--filters-2d", "4"])
    capsys.readouterr()
    cli.main(common + ["--resume", "--val-size", "16", "--filters", "4", "--seed", "3"])
    err = capsys.readouterr().err
    assert "WARNING: --val-size 16 is ignored with --resume (the run's saved value, 8, is used)" in err
    assert "WARNING: --seed 3 is ignored with --resume (the run's saved value, 0, is used)" in err
    assert "--filters" not in err                 # given, but the run's own value: nothing ignored
    # options a resume takes (a larger batch on a GPU among them)
    cli.main(common + ["--resume", "--steps-per-epoch", "2", "--lr", "1e-4", "--batch-size", "64"])
    assert "WARNING" not in capsys.readouterr().err


def test_train_resume_without_checkpoint_and_overwrite_are_refused(tmp_path, capsys):
    """--resume where the run has no checkpoint (e.g. only its model, card and state.json were
    committed) is an error that says what is missing, not a silent new run that overwrites the
    model; a new run onto an existing model without a checkpoint is refused too."""
    import shutil

    from mintpy_dlae.cli import train as cli
    out = str(tmp_path / "tiny.keras")
    common = ["fault", "-o", out, "--samples", "8", "--steps-per-epoch", "1", "--precision", "float32",
              "--batch-size", "8", "--val-size", "8", "--filters", "4", "--filters-2d", "4"]
    cli.main(common)
    os.remove(str(tmp_path / "tiny_ckpt" / "last.keras"))
    before = open(out, "rb").read()
    with pytest.raises(SystemExit, match=r"last.keras not found: nothing to resume \(.*state.json records 8 samples"):
        cli.main(common[:4] + ["16", "--resume"] + common[5:])
    with pytest.raises(SystemExit, match="tiny.keras exists \\(a model without a checkpoint"):
        cli.main(common)
    assert open(out, "rb").read() == before
    shutil.rmtree(str(tmp_path / "tiny_ckpt"))
    with pytest.raises(SystemExit, match="nothing to resume; without resume a new run starts"):
        cli.main(["fault", "-o", str(tmp_path / "other.keras"), "--samples", "8", "--resume"])
    # a refusal in a folder the command made leaves no empty folder behind
    with pytest.raises(SystemExit, match="nothing to resume"):
        cli.main(["fault", "-o", str(tmp_path / "new" / "run.keras"), "--samples", "8", "--resume"])
    assert not os.path.exists(tmp_path / "new")


def test_train_budget_rerun_and_calibration_messages(tmp_path, capsys):
    """dlae_train.py: a budget that is not a whole number of epochs ends at the budget (in whole
    batches), not at the next epoch; a second run on the same output without --resume is one clear
    error (no traceback); a resume with no samples left says so and writes nothing; a resume of a
    sigma-calibrated run warns that the calibration goes (the card loses it)."""
    import json

    from mintpy_dlae.cli import train as cli
    out = str(tmp_path / "new" / "tiny.keras")               # the folder is created
    common = ["fault", "-o", out, "--steps-per-epoch", "2", "--precision", "float32"]
    cli.main(common + ["--samples", "20", "--batch-size", "8", "--val-size", "8", "--filters", "4", "--filters-2d", "4"])
    card_file = str(tmp_path / "new" / "tiny.json")
    card = json.load(open(card_file))
    assert card["training"]["samples_seen"] == 24               # 16 + one batch of 8, not 32 (two epochs)
    assert "model written" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="is a training run already .* add --resume"):
        cli.cmd_line_parse(common + ["--samples", "40"])
    before = open(out, "rb").read()
    cli.main(common + ["--samples", "16", "--resume"])
    said = capsys.readouterr().out
    assert "nothing to train" in said and "model written" not in said and open(out, "rb").read() == before
    card["sigma_calibration"] = {"factor": 1.2}                # as dlae_evaluate.py --calibrate-sigma leaves it
    json.dump(card, open(card_file, "w"))
    capsys.readouterr()
    cli.main(common + ["--samples", "32", "--resume"])
    err = capsys.readouterr().err
    assert "WARNING: train: " in err and "was sigma-calibrated" in err and "--calibrate-sigma" in err
    card = json.load(open(card_file))
    assert "sigma_calibration" not in card and card["training"]["samples_seen"] == 32


def test_train_help_defaults_are_the_recipes():
    """The defaults that dlae_train.py's help states are the ones train() applies to a new run."""
    from mintpy_dlae.cli.train import NEW_RUN_DEFAULTS
    from mintpy_dlae.model import shipped_config
    from mintpy_dlae.train import DEFAULTS
    recipe = dict(DEFAULTS, **shipped_config())
    assert {k: recipe[k] for k in NEW_RUN_DEFAULTS} == NEW_RUN_DEFAULTS


@pytest.mark.parametrize("bad,message", [
    (["--samples", "0"], "--samples must be >= 1; received 0"),
    (["--batch-size", "-2"], "--batch-size must be >= 1; received -2"),
    (["--steps-per-epoch", "0"], "--steps-per-epoch must be >= 1; received 0"),
    (["--val-size", "0"], "--val-size must be >= 1; received 0"),
    (["--seed", "-5"], "--seed must be >= 0; received -5"),
    (["--filters", "0"], "--filters must be >= 1; received 0"),
    (["--lr", "nan"], "--lr must be a positive finite number; received nan"),
    (["--lr", "0"], "--lr must be a positive finite number; received 0.0"),
    (["--clipnorm", "-1"], "--clipnorm must be a positive finite number; received -1.0"),
    (["--init-from", "missing.keras"], "--init-from: model file not found: missing.keras"),
])
def test_train_refuses_bad_options(tmp_path, bad, message):
    """dlae_train.py: values that hung the run (a negative seed, no samples per epoch), poisoned the
    weights (--lr nan) or crashed it (--batch-size 0) are refused in one line, before any folder is made."""
    from mintpy_dlae.cli import train as cli
    out = tmp_path / "new" / "m.keras"
    with pytest.raises(SystemExit, match=re.escape(message)):
        cli.cmd_line_parse(["fault", "-o", str(out), *bad])
    assert not (tmp_path / "new").exists()


def test_train_output_folder_and_damaged_state(tmp_path, monkeypatch):
    """An --output that is a folder is refused; a resume whose state.json is damaged (an interrupt
    between the checkpoint and the state) is one error line naming the file and the way out, also
    where 'auto' precision picks bfloat16 and reads the state to probe it (a CPU with AVX512-BF16:
    that path was a JSON traceback)."""
    from mintpy_dlae.cli import train as cli
    (tmp_path / "d.keras").mkdir()
    with pytest.raises(SystemExit, match="--output is a folder"):
        cli.cmd_line_parse(["fault", "-o", str(tmp_path / "d.keras")])
    out = str(tmp_path / "m.keras")
    common = ["fault", "-o", out, "--samples", "8", "--batch-size", "8", "--steps-per-epoch", "1", "--val-size", "8",
              "--filters", "4", "--filters-2d", "4", "--precision", "float32"]
    cli.main(common)
    with open(tmp_path / "m_ckpt" / "state.json", "w") as f:
        f.write('{"samples_seen": 8, "opt')                       # truncated
    with pytest.raises(SystemExit, match=r"state.json: the run's state is missing or damaged .* remove .*m_ckpt"):
        cli.main(common[:4] + ["16", "--resume"])
    import mintpy_dlae.inference
    monkeypatch.setattr(mintpy_dlae.inference, "resolve_precision", lambda precision: "bfloat16")
    with pytest.raises(SystemExit, match=r"state.json: the run's state is missing or damaged .* remove .*m_ckpt"):
        cli.main(common[:4] + ["16", "--resume"])


def test_evaluate_refuses_what_is_not_a_model(tmp_path):
    """dlae_evaluate.py: a text file, a zip named .keras that holds no model, and a folder are one
    error line each (they were tracebacks after the TensorFlow import)."""
    import zipfile

    from mintpy_dlae.cli import evaluate as cli
    (tmp_path / "notes.txt").write_text("x")
    zipfile.ZipFile(tmp_path / "empty.keras", "w").close()
    (tmp_path / "dir.keras").mkdir()
    for name, message in (("notes.txt", "not a mintpy_dlae model"), ("empty.keras", "not a mintpy_dlae model"),
                          ("dir.keras", "is a folder")):
        with pytest.raises(SystemExit, match=message):
            cli.cmd_line_parse([str(tmp_path / name)])


def test_evaluate_asks_for_the_kind_of_a_mixed_model(tmp_path):
    """dlae_evaluate.py on a model trained on both kinds (its card's kind is a mix) asks for --kind in
    one line, before any evaluation (it was a traceback from the generator)."""
    import json
    import shutil

    from mintpy_dlae.cli import evaluate as cli
    from mintpy_dlae.config import package_file
    shutil.copy(package_file("pretrained", "fault.keras"), tmp_path / "mix.keras")
    (tmp_path / "mix.json").write_text(json.dumps({"kind": {"mogi": 0.5, "fault": 0.5}}))
    with pytest.raises(SystemExit, match=r"trained on \{'mogi': 0.5, 'fault': 0.5\}.*--kind fault or --kind mogi"):
        cli.main([str(tmp_path / "mix.keras"), "--levels", "2", "--per-level", "1", "--no-card"])


def test_app_interrupted_exits_130_with_one_line(monkeypatch, capsys):
    """Ctrl-C during smallbaselineApp_dlae.py: exit status 130 and one line, not a traceback."""
    from mintpy_dlae import smallbaselineApp_step
    from mintpy_dlae.cli import smallbaselineApp_dlae as sba

    def interrupted(inps):
        raise KeyboardInterrupt

    monkeypatch.setattr(sba, "cmd_line_parse", lambda iargs=None: object())
    monkeypatch.setattr(smallbaselineApp_step, "run_smallbaselineApp_dlae", interrupted)
    with pytest.raises(SystemExit) as exc:
        sba.main([])
    assert exc.value.code == 130
    assert "interrupted" in capsys.readouterr().err
