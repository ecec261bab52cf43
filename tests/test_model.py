"""The network: parameter counts, gradients flow, serialisation, and training resume."""
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402

from mintpy_dlae.model import DlaeNet, build_model, load_model, paper_reference_config  # noqa: E402


def _inputs(n=2, size=24, seed=0):
    rng = np.random.default_rng(seed)
    return {"series": rng.standard_normal((n, 9, size, size, 1)).astype("float32"),
            "elevation": rng.standard_normal((n, size, size, 1)).astype("float32")}


def test_paper_reference_parameter_count():
    assert build_model(**paper_reference_config()).count_params() == 482_185


def test_default_parameter_count_and_outputs():
    m = build_model()
    # 481,600 trunk + 576 (elevation channel into layer 7) + 9*64*8 head
    assert m.count_params() == 486_784
    out = m(_inputs(size=40))
    assert out["dates"].shape == (2, 40, 40, 8)
    np.testing.assert_array_equal(np.asarray(out["cumulative"])[..., 0], np.asarray(out["dates"])[..., -1])


def test_any_size_and_small_model():
    m = build_model(filters=4, filters_2d=4)
    for size in (17, 64):
        out = m(_inputs(size=size))
        assert out["dates"].shape == (2, size, size, 8)
    assert m.count_params() < 5000
    assert m.receptive_radius == 11


def test_bad_configuration_is_rejected():
    with pytest.raises(ValueError, match="elevation_layer"):
        build_model(elevation_layer=2)
    with pytest.raises(ValueError, match="num_dates"):
        build_model(num_dates=10)


def test_tiny_model_overfits_tiny_batch():
    keras.utils.set_random_seed(0)
    m = build_model(filters=8, filters_2d=8)
    x = _inputs(n=4, size=16)
    rng = np.random.default_rng(1)
    y = {"dates": rng.standard_normal((4, 16, 16, 8)).astype("float32") * 0.5}
    y["cumulative"] = y["dates"][..., -1:]
    m.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    first = m.train_on_batch(x, y, return_dict=True)["loss"]
    for _ in range(150):
        last = m.train_on_batch(x, y, return_dict=True)["loss"]
    assert last < 0.5 * first


def test_save_load_round_trip(tmp_path):
    m = build_model(filters=4, filters_2d=4)
    path = str(tmp_path / "tiny.keras")
    m.save(path)
    m2 = load_model(path)
    assert isinstance(m2, DlaeNet) and m2.get_config() == m.get_config()
    x = _inputs()
    np.testing.assert_array_equal(np.asarray(m(x)["dates"]), np.asarray(m2(x)["dates"]))


def test_interrupted_save_leaves_the_old_model_and_no_temporary(tmp_path, monkeypatch):
    """save_model_atomic: a save cut short (Ctrl-C while Keras writes) keeps the earlier file whole
    and removes its half-written temporary."""
    from mintpy_dlae.model import save_model_atomic
    m = build_model(filters=4, filters_2d=4)
    path = str(tmp_path / "m.keras")
    save_model_atomic(m, path)
    before = open(path, "rb").read()

    def cut(self, filepath, *args, **kwargs):
        open(filepath, "wb").write(b"half a zip")
        raise KeyboardInterrupt
    monkeypatch.setattr(keras.Model, "save", cut)
    with pytest.raises(KeyboardInterrupt):
        save_model_atomic(m, path)
    assert sorted(os.listdir(tmp_path)) == ["m.keras"] and open(path, "rb").read() == before


def test_load_model_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.keras"):
        load_model(str(tmp_path / "nothere.keras"))
    with pytest.raises(FileNotFoundError, match="the model is a folder, not a .keras file"):
        load_model(str(tmp_path))
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="bad.keras"):
        load_model(str(bad))
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    other.save(str(tmp_path / "other.keras"))
    with pytest.raises(ValueError, match="not a mintpy_dlae model"):
        load_model(str(tmp_path / "other.keras"))


@pytest.mark.slow
def test_train_resume_continues(tmp_path):
    from mintpy_dlae.train import train
    out = str(tmp_path / "t.keras")
    cfg = dict(filters=4, filters_2d=4)
    _, st = train("fault", out, samples=64, model_config=cfg, batch_size=16, steps_per_epoch=2, val_size=16,
                  progress=False, precision="float32")
    assert st["samples_seen"] == 64 and st["epochs"] == 2
    with pytest.raises(FileExistsError):
        train("fault", out, samples=96, model_config=cfg, progress=False)
    m, st = train("fault", out, samples=96, resume=True, progress=False, precision="float32")
    assert st["samples_seen"] == 96 and st["epochs"] == 3 and len(st["segments"]) == 2
    assert int(m.optimizer.iterations.numpy()) == 6
    import json
    card = json.load(open(str(tmp_path / "t.json")))
    assert card["training"]["samples_seen"] == 96 and card["kind"] == "fault"
    assert isinstance(load_model(out), DlaeNet)


def _native_pair():
    """(ref, nat): a small shipped-layout model and a copy with the same weights whose dilated Conv2D
    layers run the native op (float32, TensorFlow backend)."""
    from mintpy_dlae.model import shipped_config, use_native_dilation
    keras.utils.set_random_seed(2)
    old = keras.config.dtype_policy()
    try:
        keras.config.set_dtype_policy("float32")      # whatever an earlier test left set
        ref = build_model(**dict(shipped_config(), filters=4, filters_2d=5))
        nat = DlaeNet.from_config(ref.get_config())
    finally:
        keras.config.set_dtype_policy(old)
    nat.set_weights(ref.get_weights())
    use_native_dilation(nat)                  # the forward op is native on every TensorFlow build
    rng = np.random.default_rng(0)
    x = {"series": rng.standard_normal((2, 9, 29, 35, 2)).astype("float32"),
         "elevation": rng.standard_normal((2, 29, 35, 1)).astype("float32")}
    return ref, nat, x


def _loss(net, x):
    out = net(x, training=True)
    return out, keras.ops.mean(out["dates"] ** 2) + keras.ops.mean(out["dates_log_sigma"] ** 2)


def test_native_dilation_same_output():
    """``use_native_dilation`` changes how the dilated layers run, not what they compute: the same
    output as Keras's own convolution."""
    ref, nat, x = _native_pair()
    # the dilated layers of ``nat`` now carry their own op (set per instance); ``ref`` keeps Keras's
    dilated = [i for i, layer in enumerate(ref.layers) if hasattr(layer, "dilation_rate")
               and getattr(layer, "rank", 2) == 2 and max(layer.dilation_rate) > 1]
    assert dilated, "the shipped layout has dilated Conv2D layers"
    for i in dilated:
        assert "convolution_op" in vars(nat.layers[i]) and "convolution_op" not in vars(ref.layers[i]), i
    a, b = _loss(ref, x)[0]["dates"].numpy(), _loss(nat, x)[0]["dates"].numpy()
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5 * np.abs(a).max())


def test_native_dilation_same_gradient_or_training_keeps_keras():
    """Where the build has the native op's gradient (oneDNN on, e.g. AVX-512 CPUs), the native layers
    give the same weight gradients as Keras's convolution; where it has not (AVX2-only CPUs, as in
    CI), ``use_native_dilation(..., training=True)`` must keep Keras's convolution, and that is what
    is checked there (the two branches are the two behaviours of the switch)."""
    import tensorflow as tf

    from mintpy_dlae.model import native_dilation_gradients_work, use_native_dilation
    ref, nat, x = _native_pair()
    if not native_dilation_gradients_work("float32"):
        kept = DlaeNet.from_config(ref.get_config())
        before = [layer.convolution_op for layer in kept.layers if hasattr(layer, "convolution_op")]
        use_native_dilation(kept, training=True)
        assert [layer.convolution_op for layer in kept.layers if hasattr(layer, "convolution_op")] == before
        return
    grads = []
    for net in (ref, nat):
        with tf.GradientTape() as tape:
            _, loss = _loss(net, x)
        grads.append(tape.gradient(loss, net.trainable_weights))
    assert len(grads[0]) == len(grads[1]) > 0
    for g0, g1 in zip(*grads):
        np.testing.assert_allclose(g1.numpy(), g0.numpy(), rtol=1e-3, atol=1e-5 * float(np.abs(g0.numpy()).max()))
