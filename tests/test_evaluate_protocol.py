"""dlae_evaluate.py end to end on a tiny protocol: the table, the card, the number of copies."""
import shutil

import numpy as np
import pytest

from mintpy_dlae import evaluate, inference
from mintpy_dlae.cli import evaluate as cli
from mintpy_dlae.model import read_model_card, resolve_model_path


@pytest.fixture
def model_copy(tmp_path):
    """The shipped fault model and its card, copied (the card is rewritten by the protocol)."""
    src = resolve_model_path("fault")
    dst = tmp_path / "m.keras"
    shutil.copy(src, dst)
    shutil.copy(src[:-len(".keras")] + ".json", tmp_path / "m.json")
    return str(dst)


def test_protocol_passes_the_copies_and_writes_its_own_card_entry(model_copy, tmp_path, monkeypatch):
    seen = []
    real = inference.predict_windows

    def spy(*args, **kw):
        seen.append(kw.get("augment", 1))
        return real(*args, **kw)

    monkeypatch.setattr(inference, "predict_windows", spy)
    before = read_model_card(model_copy).get("evaluation")
    prefix = str(tmp_path / "ev")
    assert cli.main([model_copy, "--levels", "2", "--per-level", "3", "--augment", "2", "-o", prefix]) == 0
    # one top-level call per SNR level, each with the copies asked for (the inner per-copy calls pass 1)
    assert seen.count(2) == 2, seen
    header = open(prefix + ".txt").read().splitlines()[1].split()
    assert header[:4] == ["snr", "model", "model_dates", "coverage"]
    rows = np.loadtxt(prefix + ".txt", skiprows=2)
    assert rows.shape == (2, len(header))
    assert np.all((rows[:, 3] >= 0) & (rows[:, 3] <= 1))          # a coverage fraction
    card = read_model_card(model_copy)
    assert card["evaluation"] == before                           # the one-pass entry is left alone
    entry = card["evaluation_augment2"]
    assert "2 symmetric copies" in entry["protocol"]
    assert entry["table"]["snr"] == pytest.approx(list(rows[:, 0]), rel=1e-3)


def test_protocol_rejects_a_copy_count_that_is_not_a_symmetry():
    with pytest.raises(SystemExit):
        cli.cmd_line_parse(["fault", "--augment", "3"])
