"""smallbaselineApp with the correct_dlae step: file chain, template options, end-to-end runs."""
import os
import subprocess

import numpy as np
import pytest
from conftest import mintpy_script, script
from mintpy.utils import readfile

from mintpy_dlae import smallbaselineApp_step as app
from mintpy_dlae.cli import smallbaselineApp_dlae as cli
from mintpy_dlae.project import build_project


def test_step_list():
    steps = cli.step_list()
    assert steps == app.DLAE_STEP_LIST
    i = steps.index("correct_troposphere")
    assert steps[i + 1] == "correct_dlae" and steps[i + 2] == "deramp"


def _template(ts_dir, dlae=True, deramp="linear"):
    from mintpy.utils import readfile
    from mintpy.utils import utils1 as ut
    import mintpy
    cfg = os.path.join(os.path.dirname(mintpy.__file__), "defaults", "smallbaselineApp.cfg")
    t = ut.check_template_auto_value(readfile.read_template(cfg))
    t.update({"mintpy.troposphericDelay.method": "pyaps", "mintpy.deramp": deramp,
              "mintpy.dlae": dlae})
    return t


def test_file_chain(project):
    os.rename(project.ts, project.dir / "timeseries.h5")
    steps = app.DlaeTimeSeriesAnalysis.get_timeseries_filename(_template(project.dir),
                                                               project.dir)
    base = lambda f: os.path.basename(f) if isinstance(f, str) else [os.path.basename(x) for x in f]
    assert base(steps["correct_dlae"]["input"]) == "timeseries_ERA5.h5"
    assert base(steps["correct_dlae"]["output"]) == "timeseries_ERA5_DLAE.h5"
    assert base(steps["deramp"]["output"]) == "timeseries_ERA5_DLAE_ramp.h5"
    assert base(steps["correct_topography"]["output"]) == "timeseries_ERA5_DLAE_ramp_demErr.h5"
    assert base(steps["velocity"]["input"]) == "timeseries_ERA5_DLAE_ramp_demErr.h5"
    assert "timeseries_ERA5_DLAE.h5" in base(steps["reference_date"]["input"])
    off = app.DlaeTimeSeriesAnalysis.get_timeseries_filename(_template(project.dir, False),
                                                             project.dir)
    assert off["correct_dlae"]["input"] == off["correct_dlae"]["output"]
    assert base(off["velocity"]["input"]) == "timeseries_ERA5_ramp_demErr.h5"
    no_tropo = _template(project.dir, deramp=False)
    no_tropo["mintpy.troposphericDelay.method"] = False
    steps = app.DlaeTimeSeriesAnalysis.get_timeseries_filename(no_tropo, project.dir)
    assert base(steps["velocity"]["input"]) == "timeseries_DLAE_demErr.h5"


def test_cfg_section_added_once(tmp_path):
    cfg = tmp_path / "smallbaselineApp.cfg"
    cfg.write_text("mintpy.deramp = auto\n")
    assert app.add_dlae_section(str(cfg)) and not app.add_dlae_section(str(cfg))
    assert readfile.read_template(str(cfg))["mintpy.dlae"] == "auto"


def _run_app(args):
    cwd = os.getcwd()
    try:
        cli.main(args)
    finally:
        os.chdir(cwd)


@pytest.mark.slow
def test_app_with_stand_in_denoiser(tmp_path, fake_denoiser):
    """In-process run through velocity with mintpy.dlae = yes; then --dostep correct_dlae skips."""
    truth = build_project(tmp_path, num_date=12, shape=(30, 36), seed=2,
                          template_options={"mintpy.dlae": "yes", "mintpy.dlae.saveRemoved": "yes",
                                            "mintpy.deramp": "linear", "mintpy.reference.date": "20200218"})
    _run_app([truth.template_file, "--dir", str(tmp_path), "--end", "velocity"])
    for name in ("timeseries_ERA5_DLAE.h5", "cumulative_ERA5_DLAE.h5",
                 "timeseriesRemoved_ERA5_DLAE.h5", "timeseries_ERA5_DLAE_ramp.h5",
                 "timeseries_ERA5_DLAE_ramp_demErr.h5", "velocity.h5"):
        assert os.path.isfile(tmp_path / name), name
    cfg = readfile.read_template(str(tmp_path / "smallbaselineApp.cfg"))
    assert cfg["mintpy.dlae"] == "yes" and cfg["mintpy.dlae.saveRemoved"] == "yes"
    vel_atr = readfile.read_attribute(str(tmp_path / "velocity.h5"))
    assert vel_atr["mintpy.dlae.model"] == "fault"   # provenance carried down the chain
    # velocityStd from the denoiser's variance (the template left it at auto); the work folder's
    # template is not changed, and the temporary copy is gone
    assert vel_atr["mintpy.timeFunc.uncertaintyQuantification"] == "covariance"
    assert vel_atr["mintpy.timeFunc.timeSeriesCovFile"].endswith("timeseriesVar_ERA5_DLAE.h5")
    assert cfg["mintpy.timeFunc.uncertaintyQuantification"] == "auto"
    assert not any(n.startswith(".velocity") for n in os.listdir(tmp_path))
    # the reference_date step moved the series to the 5th date; the variance follows it (0 there)
    assert vel_atr["REF_DATE"] == "20200218"
    var, var_atr = readfile.read(str(tmp_path / "timeseriesVar_ERA5_DLAE.h5"))
    assert var_atr["REF_DATE"] == "20200218"
    assert np.nanmax(np.abs(var[4])) == 0 and np.nanmax(var[0]) > 0 and np.nanmax(var[-1]) > 0
    mtime = os.path.getmtime(tmp_path / "timeseries_ERA5_DLAE.h5")
    _run_app([truth.template_file, "--dir", str(tmp_path), "--dostep", "correct_dlae"])
    assert os.path.getmtime(tmp_path / "timeseries_ERA5_DLAE.h5") == mtime   # up to date: skip
    # the variance is used only when this run writes it (a file left by an earlier run may be stale)
    from mintpy_dlae.config import DlaeConfig
    probe = app.DlaeTimeSeriesAnalysis.__new__(app.DlaeTimeSeriesAnalysis)
    probe.template, probe.workDir = _template(tmp_path), str(tmp_path)
    probe.templateFile = str(tmp_path / "smallbaselineApp.cfg")
    probe.dlae = DlaeConfig.from_template({"mintpy.dlae": "yes"})
    assert probe.velocity_variance_file().endswith("timeseriesVar_ERA5_DLAE.h5")
    probe.dlae = DlaeConfig.from_template({"mintpy.dlae": "yes", "mintpy.dlae.saveUncertainty": "no"})
    assert probe.velocity_variance_file() is None
    # a method chosen in the template is MintPy's to apply
    with open(truth.template_file, "a") as f:
        f.write("\nmintpy.timeFunc.uncertaintyQuantification = residue\n")
    _run_app([truth.template_file, "--dir", str(tmp_path), "--dostep", "velocity"])
    vel_atr = readfile.read_attribute(str(tmp_path / "velocity.h5"))
    assert vel_atr["mintpy.timeFunc.uncertaintyQuantification"] == "residue"


def _engine_imports():
    """The engine and model modules import (a failure here is a broken installation, not a skip)."""
    from mintpy_dlae.inference import denoise, receptive_halo  # noqa: F401
    from mintpy_dlae.model import build_model  # noqa: F401


@pytest.mark.slow
def test_end_to_end_tiny_model(tmp_path):
    """smallbaselineApp_dlae.py (installed) with a tiny untrained model, through velocity; MintPy's
    viewers read the outputs."""
    _engine_imports()
    from mintpy_dlae.model import build_model
    model_file = str(tmp_path / "tiny.keras")
    build_model(filters=4, filters_2d=4).save(model_file)
    work = tmp_path / "mintpy"
    truth = build_project(work, num_date=11, shape=(24, 28), seed=1,
                          template_options={"mintpy.dlae": "yes", "mintpy.dlae.model": model_file,
                                            "mintpy.dlae.tileSize": "32"})
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run([script("smallbaselineApp_dlae.py"), truth.template_file, "--dir",
                           str(work), "--end", "velocity"], capture_output=True, text=True,
                          timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # offline: correct_troposphere took the project's inputs/ERA5.h5 (otherwise MintPy downloads ERA5)
    assert "Use existed tropospheric delay file" in proc.stdout and "tropo_pyaps3.py" not in proc.stdout
    assert "timeseries_ERA5_DLAE_demErr.h5" in proc.stdout
    atr = readfile.read_attribute(str(work / "velocity.h5"))
    assert atr["mintpy.dlae.model"] == "tiny.keras" and len(atr["mintpy.dlae.modelSha256"]) == 64
    ts = readfile.read(str(work / "timeseries_ERA5_DLAE.h5"))[0]
    assert ts.shape == (11, 24, 28) and np.isfinite(ts).all()
    for cmd in ([mintpy_script("tsview.py"), "timeseries_ERA5_DLAE_demErr.h5", "--yx", "10", "10",
                 "--nodisplay", "--save", "-o", "pt"],
                [mintpy_script("view.py"), "velocity.h5", "velocity", "--nodisplay"],
                [mintpy_script("view.py"), "cumulative_ERA5_DLAE.h5", "--nodisplay"]):
        proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=300, env=env)
        assert proc.returncode == 0, " ".join(cmd) + proc.stderr[-2000:]


def test_version_names_both_packages(capsys):
    """-v prints MintPy's version and this plugin's, as the package metadata gives them."""
    from importlib.metadata import version

    import mintpy
    with pytest.raises(SystemExit):
        cli.main(["-v"])
    out = capsys.readouterr().out
    assert mintpy.version.version_description in out
    assert f"mintpy_dlae {version('mintpy_dlae')}" in out


def test_correct_dlae_without_its_inputs_says_what_is_missing(tmp_path, fake_denoiser):
    """--dostep correct_dlae in a folder without the earlier steps' files: an ERROR line that names
    what is missing and points to mintpy_dlae.py, not a traceback from MintPy's internals."""
    from conftest import write_timeseries
    truth = build_project(tmp_path, num_date=12, shape=(30, 36), seed=2,
                          template_options={"mintpy.dlae": "yes"})
    args = [truth.template_file, "--dir", str(tmp_path), "--dostep", "correct_dlae"]
    messages = []
    for make in (None, "timeseries.h5", "timeseries_ERA5.h5"):
        if make:
            write_timeseries(tmp_path / make, num_date=12, length=30, width=36)
        if make == "timeseries_ERA5.h5":
            os.remove(tmp_path / "inputs" / "ifgramStack.h5")      # not a loaded project
        with pytest.raises(SystemExit) as err:
            _run_app(args)
        messages.append(str(err.value))
    assert all(m.startswith("ERROR: ") and "mintpy_dlae.py" in m for m in messages), messages
    assert "timeseries.h5" in messages[0]                            # no inverted series
    assert "timeseries.h5 -> timeseries_ERA5.h5" in messages[1]      # the chain to the input
    assert "ifgramStack.h5" in messages[2]


def test_a_bad_template_value_names_both_templates(tmp_path, fake_denoiser, caplog):
    """A bad mintpy.dlae.* value stops the app with an ERROR that names the custom template and the
    work folder's smallbaselineApp.cfg (MintPy copies the custom value there and keeps it after it
    is removed from the custom template); a misspelled key is warned about once."""
    truth = build_project(tmp_path, num_date=12, shape=(30, 36), seed=2,
                          template_options={"mintpy.dlae": "yes", "mintpy.dlae.augment": "3",
                                            "mintpy.dlae.tilesize": "64"})
    with caplog.at_level("WARNING"), pytest.raises(SystemExit) as err:
        _run_app([truth.template_file, "--dir", str(tmp_path), "--dostep", "correct_dlae"])
    message = str(err.value)
    assert message.startswith("ERROR: mintpy.dlae.augment = '3'"), message
    assert os.path.basename(truth.template_file) in message and "smallbaselineApp.cfg" in message
    assert caplog.text.count("mintpy.dlae.tilesize = 64 is not a mintpy_dlae option") == 1, caplog.text


def test_a_missing_model_file_stops_before_the_first_step(tmp_path, fake_denoiser, monkeypatch):
    """A mintpy.dlae.model that is not a file stops the app when it reads the template, not hours
    later at correct_dlae: --dostep load_data fails too, naming the key and the value. A mask file
    that does not exist yet is not refused then: MintPy's maskTempCoh.h5 is made by invert_network
    (the step checks it when it runs)."""
    key, value = "mintpy.dlae.model", "nofile.keras"
    truth = build_project(tmp_path, num_date=12, shape=(30, 36), seed=2,
                          template_options={"mintpy.dlae": "yes", key: value})
    with pytest.raises(SystemExit) as err:
        _run_app([truth.template_file, "--dir", str(tmp_path), "--dostep", "load_data"])
    message = str(err.value)
    assert message.startswith(f"ERROR: {key} = '{value}'"), message
    assert "not found" in message
    (tmp_path / "fresh").mkdir()
    monkeypatch.chdir(tmp_path / "fresh")              # no maskTempCoh.h5 yet
    probe = app.DlaeTimeSeriesAnalysis.__new__(app.DlaeTimeSeriesAnalysis)
    probe.dlae = app.DlaeConfig(enabled=True, mask_file="maskTempCoh.h5")
    probe._check_dlae_files()                          # the default model, a mask still to be made


def test_sigterm_says_so(tmp_path, monkeypatch, capsys):
    """A SIGTERM (a batch system's wall-time limit) during the app exits with 143 and a line that
    says what happened, as mintpy_dlae.py and Ctrl-C do (not silently)."""
    import signal

    truth = build_project(tmp_path, num_date=12, shape=(30, 36), seed=2,
                          template_options={"mintpy.dlae": "yes"})

    def terminated(inps):
        os.kill(os.getpid(), signal.SIGTERM)     # handled by sigterm_unwinds: SystemExit(143)

    monkeypatch.setattr(app, "run_smallbaselineApp_dlae", terminated)
    with pytest.raises(SystemExit) as err:
        _run_app([truth.template_file, "--dir", str(tmp_path), "--dostep", "correct_dlae"])
    assert err.value.code == 143
    assert "terminated (SIGTERM" in capsys.readouterr().err
