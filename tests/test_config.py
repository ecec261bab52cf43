"""mintpy.dlae.* options: template files, auto values, typed config, command-line overrides."""
import argparse
import dataclasses

import pytest
from mintpy_dlae import config
from mintpy_dlae.cli import denoise as cli
from mintpy_dlae.config import DlaeConfig, DlaeConfigError


def test_one_options_table_drives_everything():
    """The template block, the auto values, DlaeConfig's fields and mintpy_dlae.py's flags all come
    from config.OPTIONS (no copies to keep in sync)."""
    text = config.template_text()
    keys = [o.key for o in config.OPTIONS if o.in_template]
    assert keys == ["mintpy.dlae", "mintpy.dlae.model", "mintpy.dlae.maskFile",
                    "mintpy.dlae.tileSize", "mintpy.dlae.batchSize", "mintpy.dlae.precision", "mintpy.dlae.augment",
                    "mintpy.dlae.scales", "mintpy.dlae.saveCumulative", "mintpy.dlae.saveUncertainty",
                    "mintpy.dlae.saveRemoved"]
    parsed = {}
    for line in text.splitlines():      # the block parses as a MintPy template, all auto
        if not line.startswith("#") and "=" in line:
            key, value = line.split("#")[0].split("=")
            parsed[key.strip()] = value.strip()
    assert parsed == {k: "auto" for k in keys}
    assert "mintpy.dlae                  = auto  #[yes / no], auto for no" in text
    assert [f.name for f in dataclasses.fields(DlaeConfig)] == [o.field for o in config.OPTIONS]
    flags = {a.dest for a in cli.create_parser()._actions}
    assert {o.arg_dest for o in config.OPTIONS if o.key != config.PREFIX} <= flags
    assert not any("calibrate" in line for line in text.splitlines())


def test_templates_folder_holds_the_generated_block():
    """templates/dlae.cfg (the block users paste into their smallbaselineApp template) is exactly what
    ``smallbaselineApp_dlae.py -H`` prints, and MintPy's own template reader parses it: regenerate it
    with ``python -c "from mintpy_dlae.config import template_text; print(template_text(), end='')"
    > templates/dlae.cfg`` when an option changes."""
    import os

    from mintpy.utils import readfile
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "templates", "dlae.cfg")
    with open(path) as f:
        assert f.read() == config.template_text()
    parsed = readfile.read_template(path)
    assert parsed == {o.key: "auto" for o in config.OPTIONS if o.in_template}
    assert DlaeConfig.from_template(path) == DlaeConfig.from_template({})


def test_defaults():
    cfg = DlaeConfig.from_template({})
    assert cfg == DlaeConfig(num_worker=cfg.num_worker)
    assert (cfg.enabled, cfg.model, cfg.mask_file, cfg.tile_size, cfg.batch_size, cfg.precision,
            cfg.save_cumulative, cfg.save_uncertainty, cfg.save_removed, cfg.max_memory,
            cfg.cluster) == (False, "fault", "auto", 256, 32, "auto", True, True, False, 4.0, None)
    assert cfg.num_worker == "40"      # MintPy's own auto value for a non-local cluster
    assert "mintpy.dlae.calibrate" not in cfg.to_attrs()
    assert cfg.to_attrs()["mintpy.dlae.saveUncertainty"] == "yes"


@pytest.mark.parametrize("value, warned", [("yes", True), ("no", True), ("auto", False)])
def test_calibrate_is_deprecated(value, warned, caplog):
    with caplog.at_level("WARNING", logger="mintpy_dlae"):
        cfg = DlaeConfig.from_template({"mintpy.dlae.calibrate": value, "mintpy.dlae": "yes"})
    assert cfg.enabled and not hasattr(cfg, "calibrate")
    assert ("obsolete and ignored" in caplog.text) is warned


def test_misspelt_option_is_warned(caplog):
    """A mintpy.dlae.* key that is no option is ignored with a warning naming the closest one;
    MintPy's own keys pass without a word."""
    with caplog.at_level("WARNING", logger="mintpy_dlae"):
        cfg = DlaeConfig.from_template({"mintpy.dlae.tileSiz": "64", "mintpy.deramp": "linear"})
    assert cfg.tile_size == 256
    assert "mintpy.dlae.tileSiz = 64 is not a mintpy_dlae option" in caplog.text
    assert "did you mean mintpy.dlae.tileSize?" in caplog.text and "mintpy.deramp" not in caplog.text


def test_from_template_file(tmp_path):
    tmpl = tmp_path / "Proj.txt"
    tmpl.write_text("mintpy.dlae = y\nmintpy.dlae.model = Mogi   # comment\n"
                    "mintpy.dlae.maskFile = maskTempCoh.h5\nmintpy.dlae.tileSize = 128\n"
                    "mintpy.dlae.precision = float32\nmintpy.dlae.saveRemoved = on\n"
                    "mintpy.compute.maxMemory = 2\nmintpy.compute.cluster = local\n"
                    "mintpy.compute.numWorker = 2\nmintpy.deramp = linear\n")
    cfg = DlaeConfig.from_template(str(tmpl))
    assert cfg.enabled and cfg.model == "mogi" and cfg.mask_file == "maskTempCoh.h5"
    assert cfg.tile_size == 128 and cfg.precision == "float32" and cfg.save_removed
    assert cfg.max_memory == 2.0 and cfg.cluster == "local" and cfg.num_worker == "2"
    attrs = cfg.to_attrs()
    assert attrs["mintpy.dlae.model"] == "mogi" and attrs["mintpy.dlae.tileSize"] == "128"
    assert all(isinstance(v, str) for v in attrs.values())


@pytest.mark.parametrize("key, value, match", [
    ("mintpy.dlae.tileSize", "big", "tileSize = 'big'"),
    ("mintpy.dlae.tileSize", "8", "tileSize = 8"),
    ("mintpy.dlae.batchSize", "0", "batchSize = 0"),
    ("mintpy.dlae.precision", "float16", "precision = 'float16'"),
    ("mintpy.dlae", "maybe", "mintpy.dlae = 'maybe'"),
    ("mintpy.dlae.saveUncertainty", "maybe", "saveUncertainty = 'maybe'"),
    ("mintpy.compute.cluster", "k8s", "cluster = 'k8s'"),
    ("mintpy.compute.maxMemory", "nan", "maxMemory = nan"),
    ("mintpy.compute.maxMemory", "inf", "maxMemory = inf"),
    ("mintpy.compute.numWorker", "abc", "numWorker = 'abc'"),
    ("mintpy.compute.numWorker", "0", "numWorker = '0'"),
])
def test_bad_values(key, value, match):
    with pytest.raises(DlaeConfigError, match=match):
        DlaeConfig.from_template({key: value})


def test_missing_template(tmp_path):
    with pytest.raises(DlaeConfigError, match="template file not found"):
        DlaeConfig.from_template(str(tmp_path / "nope.txt"))


def test_cli_overrides_template(tmp_path):
    tmpl = tmp_path / "t.txt"
    tmpl.write_text("mintpy.dlae.model = mogi\nmintpy.dlae.tileSize = 64\n"
                    "mintpy.compute.maxMemory = 1\n")
    ts = tmp_path / "timeseries.h5"
    inps = cli.cmd_line_parse([str(ts), "-g", "geom.h5", "-t", str(tmpl), "--tile-size", "96",
                               "--save-removed", "--no-cumulative", "--precision", "bfloat16"])
    cfg = cli.build_config(inps)
    assert cfg.enabled and cfg.model == "mogi" and cfg.tile_size == 96 and cfg.max_memory == 1.0
    assert cfg.save_removed and not cfg.save_cumulative and cfg.precision == "bfloat16"
    cfg = cli.build_config(cli.cmd_line_parse([str(ts), "-g", "g.h5", "--ram", "0.5",
                                               "-c", "local", "--num-worker", "2"]))
    assert cfg.max_memory == 0.5 and cfg.cluster == "local" and cfg.num_worker == "2"
    assert cfg.model == "fault" and cfg.save_cumulative and not cfg.save_removed


@pytest.mark.parametrize("args", [["--update", "--force"], ["--ram", "0"], ["--tile-size", "4"],
                                  ["--precision", "half"], ["--ram", "nan"], ["--ram", "inf"]])
def test_cli_bad_arguments(tmp_path, args, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.cmd_line_parse([str(tmp_path / "ts.h5"), "-g", "g.h5"] + args)
    assert exc.value.code == 2


def test_cli_no_uncertainty_and_from_args(tmp_path):
    inps = cli.cmd_line_parse([str(tmp_path / "ts.h5"), "--no-uncertainty", "--no-calibrate"])
    cfg = DlaeConfig.from_args(inps)
    assert cfg.enabled and not cfg.save_uncertainty and cfg.save_cumulative
    cfg = DlaeConfig.from_args(argparse.Namespace(
        model="mogi", mask_file=None, tile_size=64, batch_size=8, precision="float32",
        save_cumulative=None, save_uncertainty=None, save_removed=True, maxMemory=2.0,
        cluster="local", numWorker="2", config=None))
    assert (cfg.model, cfg.tile_size, cfg.batch_size, cfg.save_removed, cfg.max_memory,
            cfg.cluster, cfg.num_worker, cfg.save_uncertainty) == \
        ("mogi", 64, 8, True, 2.0, "local", "2", True)


def test_tensorflow_noise_filter():
    noise = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1796012489.436689    5689 port.cc:153] oneDNN custom operations are on.",
        "E0000 00:00:1796012489.437082    5689 cuda_driver.cc:152] failed call to cuInit: "
        "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
        "W0000 00:00:1700000000.1   77 cudart_stub.cc:31] Could not find cuda drivers",
        "2024-01-02 10:11:12.123456: I tensorflow/core/util/port.cc:113] oneDNN custom operations",
        "2024-01-02 10:11:12.123456: E external/local_xla/xla/stream_executor/cuda/"
        "cuda_driver.cc:282] failed call to cuInit: CUDA_ERROR_NO_DEVICE",
    ]
    assert all(config.is_tf_noise(line) for line in noise)
    kept = ["ERROR: timeseries.h5: dataset 'timeseries' ...", "Traceback (most recent call last):",
            "WARNING: timeseries.h5: the reference point REF_Y/REF_X = 70/3 lies outside"]
    assert not any(config.is_tf_noise(line) for line in kept)


def test_quiet_tensorflow_env_keeps_user_values():
    env = config.quiet_tensorflow({"TF_CPP_MIN_LOG_LEVEL": "0"})
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "0" and env["ABSL_MIN_LOG_LEVEL"] == "3"
    import mintpy_dlae_launch
    assert mintpy_dlae_launch.QUIET_TF_ENV == config.QUIET_TF_ENV


def test_augment_option_spellings(tmp_path):
    """mintpy.dlae.augment: yes/no and case are accepted as MintPy users write them; anything else is
    an error naming the key and the value."""
    from mintpy_dlae.config import DlaeConfig, DlaeConfigError
    for text, want in (("auto", "auto"), ("AUTO", "auto"), ("8", "8"), ("no", "1"), ("yes", "auto")):
        path = tmp_path / f"t_{text}.txt"
        path.write_text(f"mintpy.dlae = yes\nmintpy.dlae.augment = {text}\n")
        assert DlaeConfig.from_template(str(path)).validate().augment == want, text
    bad = tmp_path / "bad.txt"
    bad.write_text("mintpy.dlae = yes\nmintpy.dlae.augment = 3\n")
    with pytest.raises(DlaeConfigError, match=r"mintpy.dlae.augment = '3'"):
        DlaeConfig.from_template(str(bad)).validate()


def test_scales_option_reads_yes_no_and_refuses_other_values():
    """mintpy.dlae.scales: auto -> 2, yes -> 2, no -> 1 (MintPy turns yes/no into booleans too);
    3 and words are refused naming the key."""
    for value, want in (("auto", 2), ("yes", 2), ("no", 1), (True, 2), (False, 1), ("1", 1), ("2", 2)):
        assert config.DlaeConfig.from_template({"mintpy.dlae.scales": value}).scales == want, value
    for value in ("3", "two"):
        with pytest.raises(config.DlaeConfigError, match="mintpy.dlae.scales"):
            config.DlaeConfig.from_template({"mintpy.dlae.scales": value})
