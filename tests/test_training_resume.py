"""dlae_train.py resumes a run in a fresh process (the checkpoint names a custom loss class that a
new interpreter must register before loading; a resume failed this way once) and continues the
sample count and the learning-rate schedule."""
import json
import os
import subprocess

import pytest

from conftest import script


def _training_script(name):
    """The module ``training/<name>.py`` (the training scripts are not an installed package)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "training", f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _small_model_file(tmp_path):
    """Path of a 4-filter model of the shipped layout (seed 3), saved in float32."""
    import keras

    from mintpy_dlae.model import build_model, export_float32, shipped_config
    keras.utils.set_random_seed(3)
    path = str(tmp_path / "src.keras")
    export_float32(build_model(**dict(shipped_config(), filters=4, filters_2d=4))).save(path)
    return path


@pytest.mark.slow
def test_resume_in_a_fresh_process(tmp_path):
    exe = script("dlae_train.py")
    out = str(tmp_path / "tiny.keras")
    common = ["fault", "-o", out, "--batch-size", "8", "--steps-per-epoch", "2", "--filters", "4",
              "--filters-2d", "4", "--precision", "float32", "--val-size", "16"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    subprocess.run([exe, *common, "--samples", "16"], check=True, env=env, capture_output=True, timeout=600)
    r = subprocess.run([exe, *common, "--samples", "32", "--resume"], env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    with open(str(tmp_path / "tiny_ckpt" / "state.json")) as f:
        state = json.load(f)
    assert state["samples_seen"] == 32 and len(state["segments"]) == 2
    # each segment records its budget and the package versions (the resume's budget is the new one)
    import keras
    assert [s["samples_budget"] for s in state["segments"]] == [16, 32]
    assert all(s["versions"]["keras"] == keras.__version__ and "mintpy_dlae" in s["versions"]
               for s in state["segments"])
    # the learning rate logged after each epoch is the schedule's value at that epoch's last step:
    # epoch 1 ends at step 1 of a 16-sample run (2 steps of 8), epoch 2 (resumed) at step 3 of a
    # 32-sample run (4 steps); both in the warm-up, so they differ
    from mintpy_dlae.train import lr_at
    opts = state["options"]
    sched = lambda step, total: lr_at(step, total, opts["lr"], opts["warmup_steps"], opts["lr_floor"])  # noqa: E731
    first, last = state["log"][0], state["log"][-1]
    assert (first["samples"], last["samples"]) == (16, 32)
    assert abs(first["lr"] - sched(1, 2)) <= 1e-6 * sched(1, 2), (first["lr"], sched(1, 2))
    assert abs(last["lr"] - sched(3, 4)) <= 1e-6 * sched(3, 4), (last["lr"], sched(3, 4))
    assert sched(3, 4) != sched(1, 2)


@pytest.mark.slow
def test_init_from_records_the_lineage(tmp_path):
    """A run started from another model's weights counts that model's samples in its card's totals,
    so a shipped card says how much training its weights saw in all."""
    from mintpy_dlae.train import train
    small = dict(batch_size=8, steps_per_epoch=2, val_size=8, model_config=dict(filters=4, filters_2d=4),
                 precision="float32", progress=False)
    train("fault", str(tmp_path / "a.keras"), samples=16, **small)
    train("mogi", str(tmp_path / "b.keras"), samples=32, init_from=str(tmp_path / "a.keras"), **small)
    with open(str(tmp_path / "b.json")) as f:
        t = json.load(f)["training"]
    assert t["samples_seen"] == 32 and t["samples_seen_total"] == 32 + 16   # whole epochs of 16
    assert t["init_from_run"]["run"] == "a.keras"
    assert t["wall_seconds_total"] > t["wall_seconds"]
    # another layout: one error that names the layouts, before any training (a Keras shape error before)
    other = dict(small, model_config=dict(filters=8, filters_2d=4))
    with pytest.raises(ValueError, match=r"another layout.*'filters': 4.*'filters': 8"):
        train("mogi", str(tmp_path / "c.keras"), samples=16, init_from=str(tmp_path / "a.keras"), **other)
    assert not os.path.exists(tmp_path / "c.keras")


def test_train_leaves_the_dtype_policy_as_it_found_it(tmp_path):
    import keras

    from mintpy_dlae.train import train
    before = keras.config.dtype_policy().name
    train("fault", str(tmp_path / "p.keras"), samples=4, steps_per_epoch=1, batch_size=2, val_size=4, precision="bfloat16",
          model_config={"filters": 4, "filters_2d": 4}, progress=False)
    assert keras.config.dtype_policy().name == before


@pytest.mark.parametrize("option, value", [("seed", -5), ("batch_size", 0), ("steps_per_epoch", 2.5),
                                           ("lr", float("nan")), ("global_clipnorm", 0.0)])
def test_train_refuses_options_that_cannot_train(tmp_path, option, value):
    """train() from Python refuses what dlae_train.py refuses, before it writes anything (a negative
    seed used to hang the data thread)."""
    from mintpy_dlae.train import train
    with pytest.raises(ValueError, match=f"train: {option} must be"):
        train("fault", str(tmp_path / "t.keras"), samples=8, precision="float32", progress=False,
              model_config={"filters": 4, "filters_2d": 4}, **{option: value})
    assert os.listdir(tmp_path) == []


def test_non_finite_loss_stops_the_run_and_keeps_the_checkpoint(tmp_path, monkeypatch):
    """A step whose loss is not finite stops training with a clear error, before the epoch's weights
    (NaN by then) overwrite the model or the checkpoint of the previous epoch."""
    import keras
    import numpy as np
    import pytest

    from mintpy_dlae.train import train
    out = str(tmp_path / "tiny.keras")
    tiny = dict(model_config={"filters": 4, "filters_2d": 4}, precision="float32", batch_size=8,
                steps_per_epoch=2, val_size=16, progress=False)
    train("fault", out, samples=16, **tiny)
    before = os.path.getmtime(out), os.path.getmtime(str(tmp_path / "tiny_ckpt" / "last.keras"))
    monkeypatch.setattr(keras.Model, "train_on_batch", lambda self, *a, **k: {"loss": np.float32("nan")})
    with pytest.raises(FloatingPointError, match="loss is nan at sample 16"):
        train("fault", out, samples=32, resume=True, **tiny)
    after = os.path.getmtime(out), os.path.getmtime(str(tmp_path / "tiny_ckpt" / "last.keras"))
    assert after == before


def test_widen_keeps_the_function(tmp_path):
    """training/widen.py: a decoder widened from 4 to 7 filters gives the source's outputs exactly
    (dates and log sigma, any input), has more parameters, and refuses to narrow."""
    import numpy as np
    import pytest

    path = _small_model_file(tmp_path)
    widen = _training_script("widen")
    old, new = widen.widen(path, 7)
    assert new.filters_2d == 7 and new.count_params() > old.count_params()
    rng = np.random.default_rng(0)
    x = {"series": rng.standard_normal((2, 9, 20, 23, 2)).astype("float32"),
         "elevation": rng.standard_normal((2, 20, 23, 1)).astype("float32")}
    for key in ("dates", "dates_log_sigma"):
        np.testing.assert_allclose(np.asarray(new(x)[key]), np.asarray(old(x)[key]), atol=1e-5)
    with pytest.raises(ValueError, match="filters_2d"):
        widen.widen(path, 4)


def test_elevation_channels_and_their_zero_start(tmp_path):
    """ElevationChannels appends h and x h to every date (checked against numpy); a model with
    ``elevation_features`` survives a save / load; training/add_elevation_features.py gives a
    trained model those channels with the source's outputs exactly, and the new weights matter once
    they are not zero (the elevation then changes the output)."""
    import numpy as np
    import pytest

    from mintpy_dlae.model import ElevationChannels, load_model
    rng = np.random.default_rng(0)
    series = rng.standard_normal((2, 9, 6, 7, 2)).astype("float32")
    elev = rng.standard_normal((2, 6, 7, 1)).astype("float32")
    out = np.asarray(ElevationChannels()([series, elev]))
    h = np.broadcast_to(elev[:, None], series[..., :1].shape)
    np.testing.assert_allclose(out, np.concatenate([series, h, series[..., :1] * h], axis=-1), rtol=1e-6)

    path = _small_model_file(tmp_path)
    mod = _training_script("add_elevation_features")
    old, new = mod.add_elevation_features(path)
    assert new.elevation_features and new.count_params() == old.count_params() + 3 * 3 * 3 * 2 * 4
    x = {"series": rng.standard_normal((2, 9, 20, 23, 2)).astype("float32"),
         "elevation": rng.standard_normal((2, 20, 23, 1)).astype("float32")}
    for key in ("dates", "dates_log_sigma"):
        np.testing.assert_allclose(np.asarray(new(x)[key]), np.asarray(old(x)[key]), atol=1e-5)
    new_path = str(tmp_path / "new.keras")
    new.save(new_path)
    back = load_model(new_path)
    assert back.elevation_features and mod.input_weight_rms(new_path)[2:] == [0.0, 0.0]
    k = back.get_layer("conv1").get_weights()
    k[0][..., 2:, :] = rng.standard_normal(k[0][..., 2:, :].shape)
    back.get_layer("conv1").set_weights(k)
    flat = dict(x, elevation=np.zeros_like(x["elevation"]))
    assert np.abs(np.asarray(back(x)["dates"]) - np.asarray(back(flat)["dates"])).max() > 1e-3
    with pytest.raises(ValueError, match="already"):
        mod.add_elevation_features(new_path)


@pytest.mark.slow
def test_bfloat16_probe_runs_real_steps_and_caches(tmp_path, monkeypatch):
    """The probe trains a real (tiny) model in a child process and caches the answer per machine."""
    import json

    from mintpy_dlae.model import shipped_config
    from mintpy_dlae.train import bfloat16_training_works
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("MINTPY_DLAE_BF16_PROBE", raising=False)     # tests/conftest.py switches it off
    cfg = dict(shipped_config(), filters=4, filters_2d=4)
    assert bfloat16_training_works(cfg, 2, size=24)
    with open(tmp_path / ".cache" / "mintpy_dlae" / "bf16_training.json") as f:
        assert list(json.load(f).values()) == [True]


@pytest.mark.slow
def test_auto_precision_falls_back_to_float32_where_bfloat16_training_crashes(tmp_path, monkeypatch, caplog):
    """'auto' on a CPU with bfloat16 instructions: when the probe's child dies (SIGSEGV, as
    TensorFlow 2.20-2.21 do on some AVX512-BF16 CPUs without AMX), the run trains in float32 and
    says so; an explicit 'bfloat16' is not probed."""
    import logging
    import subprocess

    from mintpy_dlae import config
    from mintpy_dlae.train import train
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("MINTPY_DLAE_BF16_PROBE", raising=False)
    monkeypatch.setattr(config, "cpu_supports_bf16", lambda: True)
    calls = []

    def crashed(args, **kw):
        calls.append(args)
        return subprocess.CompletedProcess(args, -11, b"", b"")
    monkeypatch.setattr(subprocess, "run", crashed)
    small = dict(samples=4, steps_per_epoch=1, batch_size=2, val_size=4, progress=False,
                 model_config={"filters": 4, "filters_2d": 4})
    with caplog.at_level(logging.WARNING, logger="mintpy_dlae.train"):
        _, state = train("fault", str(tmp_path / "a.keras"), precision="auto", **small)
    assert state["segments"][-1]["precision"] == "float32" and len(calls) == 1
    assert "SIGSEGV" in caplog.text and "float32" in caplog.text
    _, state = train("fault", str(tmp_path / "b.keras"), precision="bfloat16", **small)
    assert state["segments"][-1]["precision"] == "bfloat16" and len(calls) == 1


def test_bfloat16_probe_trusts_only_crash_signals(tmp_path, monkeypatch):
    """A child killed for memory (SIGKILL) or one that fails to start (exit status 1) says nothing
    about bfloat16: the probe answers True and caches nothing; a SIGSEGV answers False and is cached."""
    import json
    import subprocess

    from mintpy_dlae.train import bfloat16_training_works
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("MINTPY_DLAE_BF16_PROBE", raising=False)
    cache = tmp_path / ".cache" / "mintpy_dlae" / "bf16_training.json"
    for code, want in ((-9, True), (1, True), (-11, False)):
        monkeypatch.setattr(subprocess, "run", lambda args, code=code, **kw: subprocess.CompletedProcess(args, code, b"", b"boom"))
        assert bfloat16_training_works({"filters": 4}, 2) is want, code
        assert cache.exists() == (not want), code
    assert list(json.loads(cache.read_text()).values()) == [False]
    assert bfloat16_training_works({"filters": 4}, 2) is False       # from the cache


def test_soup_averages_the_weights_and_refuses_other_layouts(tmp_path):
    """training/soup.py: the soup's weights are the mixing-weighted mean of the ingredients' (computed
    here from the ingredients, not by the script); the soup of a model with itself gives its outputs;
    another layout or bad weights raise ValueError."""
    import json

    import keras
    import numpy as np
    import pytest

    from mintpy_dlae.model import build_model, export_float32, shipped_config
    soup = _training_script("soup")
    paths = []
    for seed, f2d in ((1, 4), (2, 4), (3, 5)):
        keras.utils.set_random_seed(seed)
        paths.append(str(tmp_path / f"m{seed}.keras"))
        export_float32(build_model(**dict(shipped_config(), filters=4, filters_2d=f2d))).save(paths[-1])
    a, b = (keras.saving.load_model(p) for p in paths[:2])
    net = soup.soup(paths[:2], str(tmp_path / "s.keras"), weights=[3, 1])
    for got, wa, wb in zip(net.get_weights(), a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(got, 0.75 * wa + 0.25 * wb, rtol=1e-6, atol=1e-7)
    assert not np.allclose(net.get_weights()[0], a.get_weights()[0])
    with open(tmp_path / "s.json") as f:
        assert json.load(f)["lineage"]["mixing_weights"] == [0.75, 0.25]
    same = soup.soup([paths[0], paths[0]], str(tmp_path / "same.keras"))
    x = {"series": np.random.default_rng(0).standard_normal((1, 9, 16, 16, 2)).astype("float32"),
         "elevation": np.zeros((1, 16, 16, 1), "float32")}
    np.testing.assert_allclose(np.asarray(same(x)["dates"]), np.asarray(a(x)["dates"]), atol=1e-5)
    with pytest.raises(ValueError, match="layout differs"):
        soup.soup([paths[0], paths[2]], str(tmp_path / "bad.keras"))
    with pytest.raises(ValueError, match="non-negative"):
        soup.soup(paths[:2], str(tmp_path / "bad.keras"), weights=[1, -1])


def test_stratified_estimate_against_a_local_regression_by_hand(tmp_path):
    """StratifiedEstimate: on each date the local least-squares fit of the map on the elevation over
    the valid pixels of a box (worked out here with scipy's box filter and a per-pixel normal
    equation), 0 on invalid pixels; a delay k_t h + c_t is recovered exactly up to the box's mean;
    a model with ``stratified_estimate`` survives a save / load, and add_elevation_features.py
    --stratified gives a trained model the channel with the source's outputs exactly; an even box
    or a negative eps is refused."""
    import numpy as np
    import pytest
    from scipy.ndimage import uniform_filter

    from mintpy_dlae.model import StratifiedEstimate, load_model
    rng = np.random.default_rng(5)
    B, T, H, W, box = 2, 9, 17, 23, 7
    series = rng.standard_normal((B, T, H, W, 2)).astype("float32")
    valid = rng.random((B, T, H, W)) > 0.2
    series[..., 1] = valid
    series[..., 0] *= valid
    elev = rng.standard_normal((B, H, W, 1)).astype("float32")
    out = np.asarray(StratifiedEstimate(box=box, eps=0.0)([series, elev]))[..., 0]

    def box_mean(a):                          # sum over the box inside the frame (zeros outside)
        return uniform_filter(a.astype("float64"), size=(1, 1, box, box), mode="constant")

    m, x = valid.astype("float64"), series[..., 0].astype("float64")
    h = np.broadcast_to(elev[:, None, :, :, 0], x.shape).astype("float64")
    n = box_mean(m)
    mh, mx = box_mean(m * h) / n, box_mean(m * x) / n
    k = (box_mean(m * x * h) / n - mx * mh) / (box_mean(m * h * h) / n - mh ** 2)
    np.testing.assert_allclose(out, k * (h - mh) * m, atol=2e-4)
    assert np.all(out[~valid] == 0)

    kt, ct = rng.standard_normal(T), rng.standard_normal(T)   # a pure stratified delay plus a level
    pure = np.stack([series[..., 0] * 0 + kt[None, :, None, None] * h + ct[None, :, None, None],
                     np.ones_like(h)], axis=-1).astype("float32")
    est = np.asarray(StratifiedEstimate(box=box, eps=0.0)([pure, elev]))[..., 0]
    hbar = uniform_filter(h, size=(1, 1, box, box), mode="constant") / uniform_filter(
        np.ones_like(h), size=(1, 1, box, box), mode="constant")
    np.testing.assert_allclose(est, kt[None, :, None, None] * (h - hbar), atol=2e-4)
    for bad in (dict(box=40), dict(box=0), dict(eps=-1.0)):
        with pytest.raises(ValueError, match="StratifiedEstimate"):
            StratifiedEstimate(**bad)

    path = _small_model_file(tmp_path)
    mod = _training_script("add_elevation_features")
    old, new = mod.add_elevation_features(path, "stratified_estimate")
    # one channel more at the first layer (3x3x3 kernel), nine more at the decoder's first (3x3)
    assert new.count_params() == old.count_params() + 3 * 3 * 3 * 1 * 4 + 3 * 3 * 9 * 4
    xin = {"series": series, "elevation": elev}
    for key in ("dates", "dates_log_sigma"):
        np.testing.assert_allclose(np.asarray(new(xin)[key]), np.asarray(old(xin)[key]), atol=1e-5)
    new_path = str(tmp_path / "new.keras")
    new.save(new_path)
    back = load_model(new_path)
    assert back.stratified_estimate and back.stratified_box == 41
    dates_rms, estimates_rms = mod.skip_weight_rms(new_path)
    assert dates_rms > 0 and estimates_rms == 0 and mod.skip_weight_rms(path) is None
    k = back.get_layer("conv1").get_weights()
    k[0][..., 2:, :] = 1.0
    back.get_layer("conv1").set_weights(k)
    flat = dict(xin, elevation=np.zeros_like(elev))
    assert np.abs(np.asarray(back(xin)["dates"]) - np.asarray(back(flat)["dates"])).max() > 1e-3


def test_checkpoint_and_state_are_written_together():
    """A SIGINT while the checkpoint and state.json are written is held until both are done, then
    raised (an interrupt between them left a checkpoint one epoch ahead of its state)."""
    import os
    import signal

    from mintpy_dlae.train import _InterruptDeferred
    before = signal.signal(signal.SIGINT, signal.default_int_handler)   # Python's default (not so under nohup)
    try:
        done = []
        with pytest.raises(KeyboardInterrupt):
            with _InterruptDeferred():
                os.kill(os.getpid(), signal.SIGINT)
                done.append("checkpoint")
                done.append("state")
        assert done == ["checkpoint", "state"]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        with _InterruptDeferred():                  # no interrupt: nothing raised
            done.append("again")
        signal.signal(signal.SIGINT, signal.SIG_IGN)    # a process that ignores SIGINT keeps ignoring it
        with _InterruptDeferred():
            os.kill(os.getpid(), signal.SIGINT)
            done.append("ignored")
        assert done[-1] == "ignored" and signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_generator_options_and_lineage_helpers(tmp_path):
    """Unknown generator keys are refused before any training, naming the closest option; a run
    started from another run's checkpoint counts that run's samples (its card is the run's model's)."""
    from mintpy_dlae.train import _check_generator, _run_model_of
    with pytest.raises(ValueError, match=r"unknown generator option\(s\) cels \(did you mean cells\?\)"):
        _check_generator({"cels": 0.35})
    with pytest.raises(ValueError, match="must be a dict"):
        _check_generator([1])
    _check_generator({"cells": 0.35, "steep": 0.3, "size": 40})
    # values too: a fraction outside [0, 1], a word, an SNR range upside down (tracebacks of the
    # generator thread after the TensorFlow start before)
    for bad, match in (({"steady": -3}, "steady = -3: a fraction"), ({"cells": "lots"}, "cells = 'lots'"),
                       ({"snr": [5, 1]}, "do not generate fault series")):
        with pytest.raises(ValueError, match=match):
            _check_generator(bad)
    ckpt = os.path.join("training", "fault_bn", "fault_bn_ckpt", "last.keras")
    assert _run_model_of(ckpt) == os.path.abspath(os.path.join("training", "fault_bn", "fault_bn.keras"))
    assert _run_model_of("pretrained/fault.keras") == "pretrained/fault.keras"


def test_resume_drops_every_stale_evaluation(tmp_path):
    """New weights drop the calibration and both evaluations (one pass and 8 copies) from the card."""
    from mintpy_dlae.train import train

    out = str(tmp_path / "r.keras")
    small = dict(steps_per_epoch=1, batch_size=2, val_size=4, progress=False, precision="float32",
                 model_config={"filters": 4, "filters_2d": 4})
    train("fault", out, samples=2, **small)
    card_file = str(tmp_path / "r.json")
    card = json.load(open(card_file))
    card.update(sigma_calibration={"factor": 1.1}, evaluation={"x": 1}, evaluation_augment8={"x": 1})
    json.dump(card, open(card_file, "w"))
    train("fault", out, samples=4, resume=True, **small)
    card = json.load(open(card_file))
    assert not {"sigma_calibration", "evaluation", "evaluation_augment8"} & set(card)


def test_load_model_names_a_file_that_is_no_archive(tmp_path):
    from mintpy_dlae.model import load_model
    fake = tmp_path / "notamodel.keras"
    fake.write_text("hello")
    with pytest.raises(ValueError, match="notamodel.keras is not a readable mintpy_dlae model: not a .keras archive"):
        load_model(str(fake))
