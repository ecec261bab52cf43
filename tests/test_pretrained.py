"""The shipped models: they load offline with their card, beat the classical baselines on the
independent test family, say "not detectable" on noise instead of inventing, and their 2-sigma
interval covers the truth.

Every threshold has a stated reason:

* **beats the baselines**: on a seeded independent-family batch, the per-series R² difference between
  the model and each reference must be positive by more than 2 standard errors of its mean (a paired
  test at about 97.5 % one-sided).  The references: the best of the classical baselines (raw
  differencing, Gaussian, phase/elevation + Gaussian, temporal smoothing), an all-zero map and heavy
  blurs (sigma 8 and 12 px) of the raw cumulative map.  A heavy blur beat the best baseline on two of
  the four batches (fault SNR 1: 0.265 vs 0.085; mogi SNR 1: -0.622 vs -2.166), so the baselines alone
  did not make a quality check.  An all-zero output, the raw input and heavy blurs fail this check on
  every batch of the test (``test_quality_check_can_fail``);
* **wins most series**: a paired sign test on the same batches, which the few series with a large
  level error that dominate a mean R² cannot swing: the model's R² is above each reference's on more
  than half of the series by 2 binomial standard errors.  It must pass where the mean test is a strict
  xfail (the Mogi cases), so a Mogi model that outputs zeros, the raw map or a heavy blur fails
  (``test_sign_check_can_fail``);
* **noise only**: output RMS <= 0.15 x the raw cumulative RMS and at most 1 % of pixels with
  |mean| / sigma > 3 (the targets of DESIGN.md §5); the raw input fails both; and, for both models, an
  output RMS at most 0.2 of raw (no regression past the models shipped before);
* **coverage**: the 2-sigma interval covers the truth for 90-98 % of the pixels (DESIGN.md §5),
  widened by 3 binomial standard errors of the pixels' effective sample size (counted as one
  independent value per series, since errors are spatially correlated), and capped at 99.5 % on the
  upper side (see ``COVERAGE_CAP``: an upper bound at or above 1 would pass an infinite sigma);
* **sharpness**: the median sigma is below the RMS error of the raw cumulative map (an interval as
  wide as the raw map's own error says nothing the raw data did not); sigma x 10 fails it and
  sigma x 0.1 fails the coverage (``test_two_sigma_check_can_fail``).
"""
import os

import numpy as np
import pytest
from scipy import ndimage

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from mintpy_dlae import evaluate  # noqa: E402
from mintpy_dlae.inference import predict_windows  # noqa: E402
from mintpy_dlae.model import load_model, read_model_card, resolve_model_path  # noqa: E402

KINDS = ["fault", "mogi"]
N_SERIES = 96
BASELINES = ("raw", "gaussian", "phase_elevation", "temporal")


@pytest.fixture(scope="module", params=KINDS)
def shipped(request):
    return request.param, load_model(request.param)


def best_baseline_r2(batch):
    """Per-series R² (N,) of the best baseline (best mean) on ``batch``, and its name."""
    scores = {n: evaluate.r2_per_sample(evaluate.BASELINES[n](batch), batch.cumulative) for n in BASELINES}
    name = max(scores, key=lambda n: scores[n].mean())
    return scores[name], name


def blur(batch, sigma):
    """The raw cumulative map blurred by a Gaussian of ``sigma`` px (each series on its own)."""
    return ndimage.gaussian_filter(evaluate.baseline_raw(batch), (0, sigma, sigma))


# heavy blurs: sigma 8 px (a fifth of the 40 px patch) was the audit's case; sigma 12 px is added
# because on mogi SNR 1 it beats all the other references (R² -0.133 vs sigma 8 -0.622)
HEAVY_BLURS = (8, 12)


def reference_r2(batch):
    """Per-series R² of each reference the model must beat: {name: (N,)}."""
    best, name = best_baseline_r2(batch)
    refs = {f"best baseline ({name})": best,
            "all-zero map": evaluate.r2_per_sample(np.zeros_like(batch.cumulative), batch.cumulative)}
    for s in HEAVY_BLURS:
        refs[f"raw blurred {s} px"] = evaluate.r2_per_sample(blur(batch, s), batch.cumulative)
    return refs


def beats(r2_model, r2_best):
    """Paired check: mean(model - best) > 2 standard errors."""
    d = np.asarray(r2_model, np.float64) - np.asarray(r2_best, np.float64)
    se = d.std(ddof=1) / np.sqrt(len(d))
    return bool(d.mean() > 2 * se), float(d.mean()), float(se)


def beats_all(r2_model, refs):
    """(ok, failures): ``r2_model`` beats every reference of :func:`reference_r2` (paired test each)."""
    failures = []
    for name, r2 in refs.items():
        ok, lead, se = beats(r2_model, r2)
        if not ok:
            failures.append(f"{name} {np.mean(r2):.3f} (lead {lead:.3f} +- {se:.3f})")
    return not failures, failures


def batch_for(kind, snr):
    """The seeded batch of test_beats_baselines (and of its can-fail check)."""
    return evaluate.independent_batch(N_SERIES, kind, snr, rng=4242 + int(10 * snr))


CASES = [(k, s) for k in KINDS for s in (1.0, 2.0)]


def test_loads_offline_with_card(shipped):
    kind, model = shipped
    card = read_model_card(resolve_model_path(kind))
    # the kind of training series: one kind, or a mixture {kind: share} in which this kind has at least
    # half (the shipped mogi model is fine-tuned on half Mogi, half fault series)
    mix = card["kind"] if isinstance(card["kind"], dict) else {card["kind"]: 1.0}
    assert mix.get(kind, 0.0) >= 0.5 and abs(sum(mix.values()) - 1) < 1e-6, card["kind"]
    assert card["training"]["samples_seen_total"] >= 100_000   # base run + specialisation
    assert model.uncertainty and model.input_channels == 2
    assert 0.5 < card["architecture"]["sigma_scale"] < 3.0
    assert "evaluation" in card and len(card["evaluation"]["table"]["snr"]) >= 10


@pytest.mark.parametrize("kind,snr", CASES)
def test_quality_check_can_fail(kind, snr):
    """On the very batches of test_beats_baselines, the check rejects an all-zero map, the raw input
    and heavy blurs of it (sigma 6 px, between the blurs of the references, too), and accepts the truth."""
    batch = batch_for(kind, snr)
    refs = reference_r2(batch)
    truth = batch.cumulative
    bad = {"all-zero": np.zeros_like(truth), "raw": evaluate.baseline_raw(batch),
           **{f"blur {s} px": blur(batch, s) for s in (6,) + HEAVY_BLURS}}
    for name, pred in bad.items():
        assert not beats_all(evaluate.r2_per_sample(pred, truth), refs)[0], (kind, snr, name)
    assert beats_all(np.ones(N_SERIES), refs)[0]


# Measured with the shipped models (96 series, seeds of batch_for); R² means, lead = mean per-series
# difference +- its standard error.  The targets not met yet are strict xfails, so a model that meets
# them turns the test red (XPASS) and the mark must go:
#   fault SNR 1 (training/fault_bn): 0.566; ahead of temporal smoothing (0.085) by 0.481 +- 0.067, of
#     the all-zero map (-0.475) by 1.041 +- 0.045, of the sigma-8 blur (0.265) by 0.300 +- 0.041, of
#     the sigma-12 blur (0.234) by 0.331 +- 0.041: passes (fault_w96: 0.583);
#   fault SNR 2: 0.888 vs temporal 0.831, lead 0.056 +- 0.012 (4.7 standard errors: passes; fault_w96
#     led by 0.061 +- 0.011, the earlier training/fault_area by 0.033 +- 0.024, a strict xfail then);
#     ahead of the zero map (-0.387) and the sigma-8 blur (0.470, lead 0.418 +- 0.027);
#   mogi SNR 1 (training/mogi_fd): -0.697; ahead of phase/elevation (-2.166) by 1.469 +- 0.542 and of
#     the zero map (-2.840) by 2.143 +- 0.286, but behind the sigma-8 blur (-0.622) by 0.074 +- 0.309
#     and the sigma-12 blur (-0.133) (the previous training/mogi_pn: -0.711);
#   mogi SNR 2: -0.156 vs phase/elevation 0.027, lead -0.183 +- 0.305, and behind the sigma-8 blur
#     (0.322) by 0.478 +- 0.383 (a few series with a large level error dominate these 96; mogi_pn
#     -0.084; on 192 other series, benchmarks/r2_at_snr.py, 0.31 +- 0.10 against 0.03).
NOT_YET = {("mogi", 1.0, 1): "behind the sigma-8 blur of the raw map by 0.074 +- 0.309 (-0.697 vs -0.622) and the "
                             "sigma-12 blur (-0.133), though ahead of phase/elevation (-2.166) by 1.469 +- 0.542",
           ("mogi", 2.0, 1): "behind phase/elevation by 0.183 +- 0.305 (-0.156 vs 0.027) and the sigma-8 blur "
                             "by 0.478 +- 0.383 (0.322) on these 96 series",
           # with the 8 symmetric copies that denoise() averages on small frames (augment='auto';
           # docs/evaluation.md, "Test-time augmentation"), measured on the same 96 series: fault SNR 1:
           # 0.582 (fault_w96 0.598); fault SNR 2: 0.895, ahead of temporal smoothing (0.831) by
           # 0.064 +- 0.012 (fault_w96 0.901, lead 0.070 +- 0.011)
           ("mogi", 1.0, 8): "8 copies: level with the sigma-8 blur (behind by 0.010 +- 0.303, -0.633 vs "
                             "-0.622), behind the sigma-12 blur (-0.133) by 0.499 +- 0.262",
           ("mogi", 2.0, 8): "8 copies: behind phase/elevation by 0.200 +- 0.342 (-0.173 vs 0.027) and the sigma-8 "
                             "blur (0.322) by 0.495 +- 0.422"}


_MODEL_R2 = {}


def model_r2(kind, snr, augment):
    """(per-series R² (N,) of the shipped model on ``batch_for(kind, snr)``, that batch), computed
    once per case for the tests below."""
    if (kind, snr, augment) not in _MODEL_R2:
        batch = batch_for(kind, snr)
        pred = predict_windows(load_model(kind), batch.noisy, batch.elevation, augment=augment)
        _MODEL_R2[(kind, snr, augment)] = (evaluate.r2_per_sample(pred.cumulative, batch.cumulative), batch)
    r2, batch = _MODEL_R2[(kind, snr, augment)]
    return r2, batch


@pytest.mark.slow
@pytest.mark.parametrize("augment", [1, 8])
@pytest.mark.parametrize("kind,snr", CASES)
def test_beats_baselines(kind, snr, augment, request):
    """One network pass (what predict_windows and the protocol use) and 8 symmetric copies (what
    denoise() uses on small frames)."""
    if (kind, snr, augment) in NOT_YET:
        request.applymarker(pytest.mark.xfail(strict=True, reason=NOT_YET[(kind, snr, augment)]))
    r2, batch = model_r2(kind, snr, augment)
    ok, failures = beats_all(r2, reference_r2(batch))
    assert ok, f"{kind} at SNR {snr}, {augment} cop{'y' if augment == 1 else 'ies'}: mean R² {r2.mean():.3f}, " \
               "not ahead of: " + "; ".join(failures)


@pytest.mark.slow
@pytest.mark.parametrize("kind,snr", CASES)
def test_beats_baselines_keeping_the_input_level(kind, snr):
    """With each output map's spatial mean set to the series' own (predict_windows(level='input'),
    one pass): the test family's noise has zero mean over each series, so the input holds the
    truth's level, and the model (its pattern) must beat every reference, the heavy blurs that keep
    that level included, in both kinds (the Mogi cases that test_beats_baselines holds as strict
    xfails with the network's own level among them). The references of test_quality_check_can_fail:
    an all-zero, raw or blurred output fails here too.  Measured (96 series of batch_for): fault SNR
    1 / 2: 0.656 / 0.899 (lead over temporal smoothing 0.571 +- 0.078 / 0.067 +- 0.012); mogi SNR 1:
    0.480, ahead of phase/elevation (-2.166) and of the sigma-12 blur (-0.133) by 0.614 +- 0.206;
    mogi SNR 2: 0.588, ahead of phase/elevation (0.027) by 0.561 +- 0.144 and of the sigma-8 blur
    (0.322) by 0.266 +- 0.057."""
    batch = batch_for(kind, snr)
    pred = predict_windows(load_model(kind), batch.noisy, batch.elevation, level="input")
    r2 = evaluate.r2_per_sample(pred.cumulative, batch.cumulative)
    ok, failures = beats_all(r2, reference_r2(batch))
    assert ok, f"{kind} at SNR {snr}, input level: mean R² {r2.mean():.3f}, not ahead of: " + "; ".join(failures)

def wins_most(r2_model, refs):
    """(ok, failures): on more than half of the series (by 2 binomial standard errors: 60.2 % of 96),
    ``r2_model`` is strictly above each reference's R² of the same series (a paired sign test, which
    single series with a large R² deficit cannot swing as they swing the mean)."""
    n = len(r2_model)
    need = 0.5 + 2 * 0.5 / np.sqrt(n)
    failures = [f"{name}: wins {np.mean(r2_model > r2):.3f} of the series (needs > {need:.3f})"
                for name, r2 in refs.items() if not np.mean(np.asarray(r2_model) > np.asarray(r2)) > need]
    return not failures, failures


# the blurs of the sign test: on the series it counts, a light blur (4-6 px) is the stronger reference
# at SNR 2 (a 6 px blur is above the 8 and 12 px blurs on 0.65-0.98 of the series there)
SIGN_BLURS = (4, 6, 8, 12)


def sign_refs(batch, group):
    """Per-series R² of the references of one group of the sign test: "classical" (the best classical
    baseline and the all-zero map) or "blurs" (the raw map blurred by each of SIGN_BLURS px)."""
    if group == "classical":
        best, name = best_baseline_r2(batch)
        return {f"best baseline ({name})": best,
                "all-zero map": evaluate.r2_per_sample(np.zeros_like(batch.cumulative), batch.cumulative)}
    return {f"raw blurred {s} px": evaluate.r2_per_sample(blur(batch, s), batch.cumulative) for s in SIGN_BLURS}


@pytest.mark.parametrize("kind,snr", CASES)
def test_sign_check_can_fail(kind, snr):
    """On the very batches of test_wins_most_series, the classical group alone rejects an all-zero map
    and the raw input, and the two groups together reject blurs of the raw map (3, 6, 8 and 12 px;
    3 px is not one of the references)."""
    batch = batch_for(kind, snr)
    truth = batch.cumulative
    groups = {g: sign_refs(batch, g) for g in ("classical", "blurs")}
    for name, pred in {"all-zero": np.zeros_like(truth), "raw": evaluate.baseline_raw(batch)}.items():
        assert not wins_most(evaluate.r2_per_sample(pred, truth), groups["classical"])[0], (kind, snr, name)
    for s in (3, 6, 8, 12):
        r2 = evaluate.r2_per_sample(blur(batch, s), truth)
        assert not all(wins_most(r2, refs)[0] for refs in groups.values()), (kind, snr, s)


# measured (96 series of batch_for): mogi at SNR 1 is above the 4 / 6 / 8 / 12 px blurs on 0.771 /
# 0.635 / 0.583 / 0.562 of the series with one pass and 0.792 / 0.667 / 0.573 / 0.573 with 8 copies
# (not significantly more than half against the heavy ones); at SNR 2 it passes against every
# reference (0.69-0.81), so a blurred output fails the mogi cases there.  fault: 0.77-1.00.
NOT_YET_SIGN = {("mogi", 1.0, 1, "blurs"): "above the 8 / 12 px blurs on 0.583 / 0.562 of the series",
                ("mogi", 1.0, 8, "blurs"): "8 copies: above the 8 / 12 px blurs on 0.573 / 0.573 of the series"}


@pytest.mark.slow
@pytest.mark.parametrize("group", ["classical", "blurs"])
@pytest.mark.parametrize("augment", [1, 8])
@pytest.mark.parametrize("kind,snr", CASES)
def test_wins_most_series(kind, snr, augment, group, request):
    """Must pass for both models (but the strict xfails of NOT_YET_SIGN), including the Mogi cases that
    test_beats_baselines holds as strict xfails: on most series the model's R² is above that of every
    reference of the group (the best classical baseline and the all-zero map; the heavy blurs), so an
    all-zero or raw output fails every case and a blurred one the "blurs" cases."""
    if (kind, snr, augment, group) in NOT_YET_SIGN:
        request.applymarker(pytest.mark.xfail(strict=True, reason=NOT_YET_SIGN[(kind, snr, augment, group)]))
    r2, batch = model_r2(kind, snr, augment)
    ok, failures = wins_most(r2, sign_refs(batch, group))
    assert ok, f"{kind} at SNR {snr}, {augment} cop{'y' if augment == 1 else 'ies'}: " + "; ".join(failures)


_NOISE_ONLY = {}


def _noise_only(model, kind):
    """On synthetic noise alone: output RMS / raw RMS, the fraction of pixels with |mean| / sigma > 3,
    and that fraction for the raw cumulative map judged with the same sigma."""
    if kind not in _NOISE_ONLY:
        batch = evaluate.independent_batch(N_SERIES, kind, 1.0, rng=77)
        noisy = batch.noisy - batch.clean                    # noise alone
        pred = predict_windows(model, noisy, batch.elevation)
        raw = noisy[:, -1] - noisy[:, 0]
        ratio = np.sqrt(np.mean(pred.cumulative.astype(np.float64) ** 2) / np.mean(raw.astype(np.float64) ** 2))
        _NOISE_ONLY[kind] = (ratio, np.mean(np.abs(pred.cumulative) > 3 * pred.cumulative_std),
                             np.mean(np.abs(raw) > 3 * pred.cumulative_std))
    return _NOISE_ONLY[kind]


def test_noise_only_is_not_detected(shipped):
    """At most 1 % of pixels called significant on noise alone; the raw input, with the same sigma, fails."""
    kind, model = shipped
    ratio, false, raw_false = _noise_only(model, kind)
    assert false <= 0.01, (kind, false)
    # the check can fail: the raw cumulative map calls about 40 % of the pixels significant
    # (measured 0.40 fault, 0.40 mogi)
    assert raw_false > 0.01, (kind, raw_false)


def test_noise_only_output_rms(shipped, request):
    kind, model = shipped
    # measured: output RMS / raw 0.143 (fault, training/fault_bn: met; the previous fault_w96 0.180) and
    # 0.156 (mogi, training/mogi_fd, a strict xfail; 0.118 on benchmarks/passthrough.py's independent
    # family; the previous training/mogi_pn 0.195), target 0.15 (0 % of pixels above 3 sigma for both)
    if kind == "mogi":
        request.applymarker(pytest.mark.xfail(strict=True, reason="mogi: noise-only RMS ratio 0.156 > 0.15"))
    ratio, _, _ = _noise_only(model, kind)
    assert ratio <= 0.15, (kind, ratio)


def test_noise_only_output_rms_no_regression(shipped):
    """Must pass for both models (the 0.15 target above is a strict xfail for mogi): output RMS at
    most 0.2 of raw on noise alone, the level of the models shipped before (training/mogi_pn 0.195),
    so a model that passes more noise than them fails (the raw input: 1.0)."""
    kind, model = shipped
    ratio, _, _ = _noise_only(model, kind)
    assert ratio <= 0.2, (kind, ratio)


# Upper cap of the coverage: 99.5 % is what a Gaussian 2-sigma interval covers when sigma is 1.4x the
# true error std (erf(2 x 1.4 / sqrt 2) = 0.995).  The binomial tolerance of the 90-98 % target counts
# one independent value per series (3 s.e. = 0.067, so 0.98 + tol > 1); the measured standard error of
# the mean coverage over the 96 series is 0.002-0.006, so the cap stays more than 2 measured s.e. above
# 0.98.  Measured coverage 0.957-0.981 (fault SNR 0.3 / 3: 0.962 / 0.973; mogi: 0.957 / 0.981);
# sigma x 2 covers 0.998-1.000 and fails the cap.
COVERAGE_CAP = 0.995
# Sharpness: median sigma / RMS error of the raw cumulative map measured 0.23 / 0.51 (fault SNR 0.3 / 3)
# and 0.19 / 0.44 (mogi; benchmarks/augment.py, docs/figures/augment.json); the bound 1 is where the
# interval stops being narrower than the raw map's error; sigma x 10 measures 2.1-5.1 (earlier
# models).  (The stricter "median 2 sigma below the raw map's median absolute error" was missed by
# every case with earlier models: 1.15 / 2.45 fault, 1.00 / 2.18 mogi; not a DESIGN target.)
MAX_SIGMA_OVER_RAW = 1.0
_COVERAGE_CACHE = {}


def coverage_case(kind, model, snr):
    """(prediction, sigma, truth, raw map) of the cumulative map on the seeded coverage batch."""
    if (kind, snr) not in _COVERAGE_CACHE:
        batch = evaluate.independent_batch(N_SERIES, kind, snr, rng=999 + int(10 * snr))
        pred = predict_windows(model, batch.noisy, batch.elevation)
        _COVERAGE_CACHE[(kind, snr)] = (pred.cumulative.astype(np.float64),
                                        pred.cumulative_std.astype(np.float64),
                                        batch.cumulative.astype(np.float64),
                                        evaluate.baseline_raw(batch).astype(np.float64))
    return _COVERAGE_CACHE[(kind, snr)]


def two_sigma_ok(pred, sigma, truth, raw):
    """(ok, coverage, median sigma / raw RMS error) of the coverage and sharpness checks."""
    cover = float(np.mean(np.abs(pred - truth) <= 2 * sigma))
    tol = 3 * np.sqrt(0.95 * 0.05 / N_SERIES)
    sharp = float(np.median(sigma) / np.sqrt(np.mean((raw - truth) ** 2)))
    ok = 0.90 - tol <= cover <= min(0.98 + tol, COVERAGE_CAP) and sharp <= MAX_SIGMA_OVER_RAW
    return ok, cover, sharp


@pytest.mark.parametrize("snr", [0.3, 3.0])
def test_two_sigma_coverage(shipped, snr):
    kind, model = shipped
    ok, cover, sharp = two_sigma_ok(*coverage_case(kind, model, snr))
    assert ok, (kind, snr, cover, sharp)


@pytest.mark.parametrize("snr", [0.3, 3.0])
def test_two_sigma_check_can_fail(shipped, snr):
    """The model's own sigma scaled by 10 (too wide: fails the sharpness, and the cap), by 0.1 (too
    narrow: covers about 20 %) and made infinite all fail on the same batches."""
    kind, model = shipped
    pred, sigma, truth, raw = coverage_case(kind, model, snr)
    for factor in (10.0, 0.1, np.inf):
        assert not two_sigma_ok(pred, factor * sigma, truth, raw)[0], (kind, snr, factor)
    wide = two_sigma_ok(pred, 10 * sigma, truth, raw)
    assert wide[1] > COVERAGE_CAP and wide[2] > MAX_SIGMA_OVER_RAW        # each bound rejects it
