"""dlae_evaluate.py end to end on a tiny protocol: the table, the card, the number of copies, bad input."""
import json
import shutil

import numpy as np
import pytest

from mintpy_dlae import evaluate, inference
from mintpy_dlae.cli import evaluate as cli
from mintpy_dlae.model import read_model_card, resolve_model_path


@pytest.fixture
def model_copy(tmp_path):
    """The shipped fault model and its card, copied (the card may be rewritten by the protocol)."""
    src = resolve_model_path("fault")
    dst = tmp_path / "m.keras"
    shutil.copy(src, dst)
    shutil.copy(src[:-len(".keras")] + ".json", tmp_path / "m.json")
    return str(dst)


@pytest.fixture
def spy(monkeypatch):
    """Records the ``augment`` of every predict_windows call."""
    seen = []
    real = inference.predict_windows

    def wrapped(*args, **kw):
        seen.append(kw.get("augment", 1))
        return real(*args, **kw)

    monkeypatch.setattr(inference, "predict_windows", wrapped)
    return seen


def test_protocol_passes_the_copies_and_leaves_the_card_of_a_reduced_run(model_copy, tmp_path, spy):
    card_before = open(model_copy[:-len(".keras")] + ".json").read()
    prefix = str(tmp_path / "ev")
    assert cli.main([model_copy, "--levels", "2", "--per-level", "3", "--augment", "2", "-o", prefix]) == 0
    # one top-level call per SNR level, each with the copies asked for (the inner per-copy calls pass 1)
    assert spy.count(2) == 2, spy
    header = open(prefix + ".txt").read().splitlines()[1].split()
    assert header[:4] == ["snr", "model", "model_dates", "coverage"]
    rows = np.loadtxt(prefix + ".txt", skiprows=2)
    assert rows.shape == (2, len(header))
    # a 2 x 3 protocol must not replace the 3,200-series table of the card
    assert open(model_copy[:-len(".keras")] + ".json").read() == card_before


def test_auto_means_the_copies_of_one_small_series(model_copy, tmp_path, spy):
    assert cli.main([model_copy, "--levels", "2", "--per-level", "1", "--augment", "AUTO",
                     "-o", str(tmp_path / "ev")]) == 0
    assert spy.count(8) == 2, spy


def test_card_entry_per_copy_count(model_copy, tmp_path):
    before = read_model_card(model_copy)["evaluation"]
    evaluate.evaluate_to_card(model_copy, "fault", levels=2, per_level=2, out_prefix=str(tmp_path / "ev"),
                              augment=2)
    card = json.load(open(model_copy[:-len(".keras")] + ".json"))
    assert card["evaluation"] == before                           # the one-pass entry is left alone
    assert "2 symmetric copies" in card["evaluation_augment2"]["protocol"]
    assert len(card["evaluation_augment2"]["table"]["snr"]) == 2


@pytest.mark.parametrize("args, message", [
    (["fault", "--augment", "3"], None),
    (["fault", "-o", "."], "not a folder"),
    (["fault", "--calibrate-sigma"], "already calibrated"),
])
def test_bad_options_stop_before_any_work(args, message, capsys):
    with pytest.raises(SystemExit) as err:
        cli.cmd_line_parse(args)
    assert err.value.code != 0
    if message:
        assert message in str(err.value.code)


def test_output_folder_is_made_after_the_checks(tmp_path, monkeypatch, capsys):
    """-o into a missing folder makes it (as dlae_train.py does), but only once every option is
    accepted: a refused command leaves no folder behind."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        cli.cmd_line_parse(["fault", "--calibrate-sigma", "-o", "new/ev"])
    assert not (tmp_path / "new").exists()
    inps = cli.cmd_line_parse(["fault", "-o", "new/sub/ev"])
    assert (tmp_path / "new" / "sub").is_dir() and inps.output == "new/sub/ev"
    assert "created folder" in capsys.readouterr().out


def test_calibration_predictions_are_the_calibration_batches():
    """One (batch, prediction) per kind, the series of synthetic.generate with seed + k (the set that
    fixes the sigma factor, also read by benchmarks/coverage_by_significance.py)."""
    from mintpy_dlae import synthetic
    from mintpy_dlae.dataset import GENERATOR_OPTIONS
    from mintpy_dlae.evaluate import calibration_predictions
    from mintpy_dlae.model import load_model
    got = list(calibration_predictions(load_model("fault"), kinds=("fault", "mogi"), n=3, seed=7))
    assert len(got) == 2
    for k, (kind, (b, p)) in enumerate(zip(("fault", "mogi"), got)):
        expect = synthetic.generate(3, kind=kind, rng=7 + k, **dict(GENERATOR_OPTIONS, reuse=1))
        np.testing.assert_array_equal(b.noisy, expect.noisy)
        assert p.dates.shape == b.clean[:, 1:].shape and p.cumulative.shape == b.cumulative.shape
