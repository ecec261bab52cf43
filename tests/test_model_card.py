"""The readable model cards (mintpy_dlae.model_card, mintpy_dlae.py --model-info, pretrained/README.md)."""
import hashlib
import json
import os
import re

import pytest

from mintpy_dlae import model_card
from mintpy_dlae.cli import denoise as cli
from mintpy_dlae.config import package_file


def test_pretrained_readme_is_current():
    """pretrained/README.md is what `python -m mintpy_dlae.model_card --write` renders from the cards
    (training/ship.sh runs it); a card changed without re-rendering fails here."""
    with open(package_file("pretrained", "README.md")) as f:
        assert f.read() == model_card.render_pretrained()


@pytest.mark.parametrize("kind", ["fault", "mogi"])
def test_card_text_against_the_model_file(kind):
    """The parameter count, hash and training budget printed are the model file's and its card's
    (the parameters counted from the weights in the .keras archive, not from the card)."""
    from mintpy_dlae.model import load_model
    path = package_file("pretrained", f"{kind}.keras")
    text = model_card.describe(kind)
    net = load_model(path)
    assert f"{net.count_params():,} parameters" in text
    assert hashlib.sha256(open(path, "rb").read()).hexdigest()[:12] in text
    card = json.load(open(os.path.splitext(path)[0] + ".json"))
    assert f"{card['training']['samples_seen_total']:,} samples" in text
    # the network row of the table, and the baselines it is compared with
    rows = [line for line in text.splitlines() if line.startswith("| network")]
    assert len(rows) == 1 and "| phase/elevation + Gaussian filter |" in text and "| all-zero map |" in text
    r2_1 = card["evaluation"]["summary"]["model"]["r2_at_snr_1.0"]
    assert re.split(r"\s*\|\s*", rows[0])[3] == f"{r2_1:.2f}"


def test_model_info_option(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--model-info", "mogi"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("## `mogi`") and "point sources (Mogi)" in out
    with pytest.raises(SystemExit) as exc:
        cli.main(["--model-info", "no_such_model.keras"])
    assert exc.value.code == 2
    assert "model file not found: no_such_model.keras" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli.main([])
    assert exc.value.code == 2 and "TS_FILE (or --model-info NAME)" in capsys.readouterr().err


def test_card_that_is_not_a_card(tmp_path, capsys):
    """A model whose card is not JSON, or not a card, gives one error line naming the card."""
    import shutil
    model = tmp_path / "m.keras"
    shutil.copy(package_file("pretrained", "fault.keras"), model)
    for text in ("{not json", "[1, 2]", "{}"):
        (tmp_path / "m.json").write_text(text)
        with pytest.raises(SystemExit) as exc:
            cli.main(["--model-info", str(model)])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "m.json: " in err and "usage:" not in err


def test_card_of_a_mixed_run_names_the_mix(tmp_path):
    """A run trained on both kinds is described by its mix, not by the purpose of its first kind."""
    import shutil
    model = tmp_path / "mix.keras"
    shutil.copy(package_file("pretrained", "fault.keras"), model)
    card = json.load(open(package_file("pretrained", "fault.json")))
    card["kind"] = {"fault": 0.5, "mogi": 0.5}
    (tmp_path / "mix.json").write_text(json.dumps(card))
    text = model_card.describe(str(model))
    assert "**Trained on** a mix of source kinds: fault 50 %, mogi 50 %." in text
    assert "**For**" not in text
