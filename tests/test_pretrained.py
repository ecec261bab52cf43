"""The shipped models: they load offline, carry their evaluation, beat the classical baselines and
do not invent deformation in pure noise.  Thresholds are set from measured values with a margin
(the measured numbers are in docs/evaluation.md)."""
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
pytest.importorskip("keras")

from mintpy_dlae import evaluate, synthetic  # noqa: E402
from mintpy_dlae.inference import predict_windows  # noqa: E402
from mintpy_dlae.model import load_model, read_model_card, resolve_model_path  # noqa: E402

KINDS = ["fault", "mogi"]
MARGIN = 0.2          # required lead in mean R² over the best classical baseline
NOISE_BOUND = 0.05    # output RMS / RMS of raw differencing, on noise-only series (measured: < 1e-6)


@pytest.fixture(scope="module", params=KINDS)
def shipped(request):
    return request.param, load_model(request.param)


def test_loads_offline_with_card(shipped):
    kind, model = shipped
    card = read_model_card(resolve_model_path(kind))
    assert card["kind"] == kind
    assert card["training"]["samples_seen"] > 0
    assert "evaluation" in card and len(card["evaluation"]["table"]["snr"]) >= 10


# Measured on this seeded set (64 series) with the shipped models (fault tau 1.1, mogi 240k samples
# tau 0.5): fault SNR 0.3: -0.16 vs best baseline -6.1; fault SNR 1: 0.22 vs phase-elevation 0.20
# (ahead, but not by the margin: more training needed, see docs/evaluation.md); mogi SNR 0.3:
# -1.14 vs -88; mogi SNR 1: -0.54 vs -7.2.  Noise-only output RMS / raw: 4e-16 (fault), 2e-7 (mogi).
CASES = [("fault", 0.3), pytest.param("fault", 1.0, marks=pytest.mark.xfail(
    strict=True, reason="measured 0.22 vs 0.20 for phase-elevation + Gaussian: ahead by less than MARGIN")),
    ("mogi", 0.3), ("mogi", 1.0)]


@pytest.mark.parametrize("kind,snr", CASES)
def test_beats_baselines(kind, snr):
    model = load_model(kind)
    batch = synthetic.generate(64, kind=kind, rng=4242, snr=snr)
    _, cum = predict_windows(model, batch.noisy, batch.elevation)
    r2 = evaluate.r2_per_sample(cum, batch.cumulative).mean()
    best = max(evaluate.r2_per_sample(f(batch), batch.cumulative).mean()
               for f in (evaluate.baseline_raw, evaluate.baseline_gaussian, evaluate.baseline_phase_elevation))
    assert r2 >= best + MARGIN, (kind, snr, r2, best)


def test_noise_only_gives_small_output(shipped):
    kind, model = shipped
    batch = synthetic.generate(32, kind=kind, rng=77, pure_noise=1.0)
    assert np.all(batch.clean == 0)
    _, cum = predict_windows(model, batch.noisy, batch.elevation)
    raw = evaluate.baseline_raw(batch)
    ratio = np.sqrt(np.mean(cum ** 2)) / np.sqrt(np.mean(raw ** 2))
    assert ratio < NOISE_BOUND, (kind, ratio)
