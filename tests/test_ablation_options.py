"""The two options that bring back the first models' suspects for the ablation table of
docs/evaluation.md: a per-pixel noise scale over a 41 px box (``DlaeNet(scale_box=41)``,
``dataset.local_scale``) and the R²-type loss with its noise-floor curriculum (``train(loss="r2")``).
Expected values are computed here by hand (loops and plain numpy), not by the code under test."""
import numpy as np
import pytest


def _local_scale_by_hand(window, valid, box):
    """Loop version of the first models' scale: sqrt of the mean, over the box, of the per-pixel
    mean squared increment of the valid pixels."""
    T, H, W = window.shape
    msq = np.full((H, W), np.nan)
    for y in range(H):
        for x in range(W):
            if valid[y, x]:
                d = np.diff(window[:, y, x].astype(np.float64))
                msq[y, x] = np.mean(d * d)
    r = box // 2
    out = np.empty((H, W))
    for y in range(H):
        for x in range(W):
            vals = msq[max(0, y - r):y + r + 1, max(0, x - r):x + r + 1]
            out[y, x] = np.sqrt(np.mean(vals[np.isfinite(vals)])) if np.isfinite(vals).any() else np.nan
    return out


def test_local_scale_by_hand():
    from mintpy_dlae import dataset
    rng = np.random.default_rng(4)
    win = np.cumsum(rng.normal(0, 1e-3, (2, 9, 23, 19)), axis=1)
    win[1, :, :, 10:] *= 4                     # a noisier half: the map must follow it
    valid = rng.random((2, 23, 19)) > 0.2
    got = dataset.local_scale(win, valid, box=7)
    assert got.shape == (2, 23, 19) and got.dtype == np.float32
    for i in range(2):
        np.testing.assert_allclose(got[i], _local_scale_by_hand(win[i], valid[i], 7), rtol=1e-5)
    # a box that covers the whole patch from every pixel is the root of the mean over the patch
    whole = dataset.local_scale(win[:1], valid[:1], box=47)[0]
    msq = np.mean(np.diff(win[0], axis=0) ** 2, axis=0)[valid[0]]
    np.testing.assert_allclose(whole, np.sqrt(msq.mean()), rtol=1e-5)


def test_local_scale_fills_pixels_without_data_in_their_box_and_refuses_bad_boxes():
    from mintpy_dlae import dataset
    rng = np.random.default_rng(5)
    win = np.cumsum(rng.normal(0, 1e-3, (1, 9, 20, 20)), axis=1)
    valid = np.zeros((1, 20, 20), bool)
    valid[0, :5, :5] = True                    # data in one corner only: far pixels see none in a 3 px box
    got = dataset.local_scale(win, valid, box=3)[0]
    assert np.isfinite(got).all() and (got > 0).all()
    near = _local_scale_by_hand(win[0], valid[0], 3)
    have = np.isfinite(near)
    np.testing.assert_allclose(got[have], near[have], rtol=1e-5)
    np.testing.assert_allclose(got[~have], np.median(near[have]), rtol=1e-5)
    assert (dataset.local_scale(win, np.zeros_like(valid), box=3) == 0).all()     # no data at all: 0
    for box in (0, 4, -3):
        with pytest.raises(ValueError, match="positive odd"):
            dataset.local_scale(win, valid, box=box)


@pytest.mark.parametrize("jitter", [0.0, 0.4])
def test_training_target_is_divided_by_the_same_map(jitter):
    """Input and target share one per-pixel map, jittered by one factor per window."""
    from mintpy_dlae import dataset, synthetic
    b = synthetic.generate(4, "fault", size=32, rng=1)
    inputs, target = dataset.training_arrays(b, rng=3, scale_jitter=jitter, scale_box=41)
    valid = dataset.valid_mask(b.noisy, b.valid)
    s = dataset.local_scale(b.noisy, valid, 41)
    for i in range(4):
        v = valid[i]
        t_ratio = (b.clean[i, -1] - b.clean[i, 0])[v] / s[i][v] / target[i, ..., -2][v]
        x_ratio = (b.noisy[i, -1] - b.noisy[i, 0])[v] / s[i][v] / inputs["series"][i, -1, ..., 0][v]
        keep = np.abs(target[i, ..., -2][v]) > 1e-3
        factor = np.median(x_ratio)                    # the window's jitter factor
        np.testing.assert_allclose(x_ratio, factor, rtol=1e-3)
        np.testing.assert_allclose(t_ratio[keep], factor, rtol=1e-3)
        if jitter == 0:
            assert factor == pytest.approx(1.0, rel=1e-5)
        else:
            assert np.exp(-0.4) - 1e-6 <= factor <= np.exp(0.4) + 1e-6


def test_scale_box_is_checked_and_kept_in_the_config():
    from mintpy_dlae.model import DlaeNet, build_model, shipped_config
    for bad in (-1, 4):
        with pytest.raises(ValueError, match="scale_box"):
            build_model(**dict(shipped_config(), filters=4, filters_2d=4, scale_box=bad))
    net = build_model(**dict(shipped_config(), filters=4, filters_2d=4, scale_box=41))
    assert DlaeNet.from_config(net.get_config()).scale_box == 41
    assert build_model(**dict(shipped_config(), filters=4, filters_2d=4)).scale_box == 0


@pytest.fixture(scope="module")
def local_model():
    import keras

    from mintpy_dlae.model import build_model, shipped_config
    keras.utils.set_random_seed(7)
    return build_model(**dict(shipped_config(), filters=4, filters_2d=4, scale_box=61))


def test_a_locally_normalised_model_computes_its_own_maps(local_model):
    from mintpy_dlae import dataset
    from mintpy_dlae.inference import denoise, predict_windows, receptive_halo
    rng = np.random.default_rng(8)
    ts = np.cumsum(rng.normal(0, 2e-3, (10, 70, 130)), axis=0).astype(np.float32)
    ts[:, :, 65:] *= 3
    elev = rng.normal(500, 50, (70, 130)).astype(np.float32)
    win = ts[None, :9]
    own = predict_windows(local_model, win, elev, augment=1)
    maps = dataset.local_scale(win, dataset.valid_mask(win), 61)
    given = predict_windows(local_model, win, elev, scale=maps, augment=1)
    np.testing.assert_allclose(own.cumulative, given.cumulative, rtol=1e-5, atol=1e-9)
    with pytest.raises(ValueError, match="per-pixel noise scale"):
        predict_windows(local_model, win, elev, scale=np.ones(1), augment=1)
    with pytest.raises(ValueError, match="scale must be None"):
        denoise(ts, elev, model=local_model, scale=np.ones(2), augment=1)
    whole = denoise(ts, elev, model=local_model, augment=1, scales=1, level="network")   # as the box below
    tol = 1e-5 * float(np.abs(whole.cumulative).max())       # box sums over other extents: round-off only
    tiled = denoise(ts, elev, model=local_model, augment=1, scales=1, tile_size=24, level="network")
    np.testing.assert_allclose(tiled.cumulative, whole.cumulative, atol=tol)
    # a block needs the network's radius plus the scale box's half width (30 px, more than the
    # elevation box's 20) of context: with that much it equals the whole frame, with 10 px less not
    halo = receptive_halo(local_model)
    assert halo == local_model.receptive_radius + 1 + 30
    block = denoise(ts[:, :, :30 + halo], elev[:, :30 + halo], model=local_model, augment=1, scales=1, box=(0, 70, 0, 30))
    np.testing.assert_allclose(block.cumulative, whole.cumulative[:, :, :30], atol=tol)
    short = denoise(ts[:, :, :20 + halo], elev[:, :20 + halo], model=local_model, augment=1, scales=1, box=(0, 70, 0, 30))
    assert np.abs(short.cumulative - whole.cumulative[:, :, :30]).max() > 10 * tol


def _r2_nll_by_hand(y_true, y_pred, eps, cw):
    k = y_pred.shape[-1] // 2
    mu, ls = y_pred[..., :k].astype(np.float64), y_pred[..., k:].astype(np.float64)
    y, v = y_true[..., :k].astype(np.float64), y_true[..., k:].astype(np.float64)
    c = np.ones(k)
    c[-1] = cw
    out = []
    for b in range(len(y)):
        w = v[b] * c                                            # (H, W, K)
        ybar = (y[b] * v[b]).sum(axis=(0, 1)) / v[b].sum()      # (K,)
        r2 = (w * (mu[b] - y[b]) ** 2).sum() / ((w * (y[b] - ybar) ** 2).sum() + eps * w.sum())
        nll = np.exp(ls[b]) * (0.5 * (y[b] - mu[b]) ** 2 * np.exp(-2 * ls[b]) + ls[b])
        out.append(r2 + (w * nll).sum() / (v[b].sum() * k))
    return np.array(out)


def test_r2_loss_by_hand_and_its_curriculum():
    from mintpy_dlae.train import r2_eps_at, r2_nll_loss
    rng = np.random.default_rng(9)
    y = rng.normal(0, 1, (3, 6, 5, 4))
    v = (rng.random((3, 6, 5, 1)) > 0.3).astype(np.float32)
    y_true = np.concatenate([y, v], axis=-1).astype(np.float32)
    y_pred = np.concatenate([y + rng.normal(0, 0.5, y.shape), rng.normal(0, 0.3, y.shape)], axis=-1).astype(np.float32)
    loss = r2_nll_loss(eps=0.3, cumulative_weight=2.0)
    got = np.asarray(loss.call(y_true, y_pred))
    np.testing.assert_allclose(got, _r2_nll_by_hand(y_true, y_pred, 0.3, 2.0), rtol=1e-4)
    empty = y_true.copy()
    empty[0, ..., -1] = 0                              # a sample without valid pixels: finite, 0
    assert np.isfinite(np.asarray(loss.call(empty, y_pred))).all()
    assert r2_eps_at(0, 1000, 1.0, 1e-4, 0.7) == pytest.approx(1.0)
    assert r2_eps_at(350, 1000, 1.0, 1e-4, 0.7) == pytest.approx(1e-2)       # half-way in log
    assert r2_eps_at(700, 1000, 1.0, 1e-4, 0.7) == pytest.approx(1e-4)
    assert r2_eps_at(5000, 1000, 1.0, 1e-4, 0.7) == pytest.approx(1e-4)


def test_training_with_the_r2_loss_and_a_local_scale_resumes(tmp_path):
    from mintpy_dlae.train import train
    out = str(tmp_path / "r2.keras")
    small = dict(filters=4, filters_2d=4, scale_box=41)
    _, state = train("fault", out, samples=64, model_config=small, precision="float32", progress=False,
                     steps_per_epoch=1, val_size=8, batch_size=32, loss="r2", r2_eps=(1.0, 1e-4, 0.5))
    assert state["options"]["loss"] == "r2" and state["model_config"]["scale_box"] == 41
    import json
    card = json.load(open(str(tmp_path / "r2.json")))
    assert "41x41 box of mean_t" in card["normalisation"]["series"]
    assert all(np.isfinite(e["loss"]) for e in state["log"])
    model, state = train("fault", out, samples=96, resume=True, precision="float32", progress=False)
    assert state["samples_seen"] == 96 and model.scale_box == 41
    assert type(model.loss["dist"]).__name__ == "R2NLL"
    assert int(model.optimizer.iterations) == 3        # the per-epoch recompile keeps Adam's state
    for bad in ((0.0, 1e-4, 0.7), (1.0, float("nan"), 0.7), (1.0, 1e-4)):
        with pytest.raises(ValueError, match="r2_eps"):
            train("fault", str(tmp_path / "bad.keras"), samples=32, model_config=small, precision="float32",
                  progress=False, loss="r2", r2_eps=bad)
    with pytest.raises(ValueError, match="loss must be one of"):
        train("fault", str(tmp_path / "bad.keras"), samples=32, model_config=small, precision="float32",
              progress=False, loss="mse")


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0])
def test_shipped_beta_nll_by_hand(beta):
    """The shipped loss (train.nll_loss), which shares its unpacking with the R²-type loss."""
    from mintpy_dlae.train import nll_loss
    rng = np.random.default_rng(10)
    y = rng.normal(0, 1, (3, 6, 5, 4))
    v = (rng.random((3, 6, 5, 1)) > 0.3).astype(np.float64)
    mu, ls = y + rng.normal(0, 0.5, y.shape), rng.normal(0, 0.3, y.shape)
    c = np.array([1.0, 1.0, 1.0, 2.0])
    nll = np.exp(2 * beta * ls) * (0.5 * (y - mu) ** 2 * np.exp(-2 * ls) + ls)
    want = (nll * c * v).sum(axis=(1, 2, 3)) / (v.sum(axis=(1, 2, 3)) * 4 + 1e-6)
    got = np.asarray(nll_loss(beta, 2.0).call(np.concatenate([y, v], -1).astype(np.float32),
                                              np.concatenate([mu, ls], -1).astype(np.float32)))
    np.testing.assert_allclose(got, want, rtol=1e-4)


def test_level_free_nll_by_hand():
    """loss "beta_nll_level_free": the beta-NLL (beta 0.5) of y - mu minus its mean over each map's
    valid pixels, by hand in numpy; adding one constant per map to mu changes nothing, while it does
    change the plain beta-NLL."""
    from mintpy_dlae.train import nll_loss
    rng = np.random.default_rng(5)
    y = rng.normal(0, 1, (2, 6, 5, 3))
    v = (rng.random((2, 6, 5, 1)) > 0.3).astype(np.float32)
    mu = y + rng.normal(0, 0.5, y.shape)
    ls = rng.normal(0, 0.3, y.shape)
    y_true = np.concatenate([y, v], axis=-1).astype(np.float32)
    y_pred = np.concatenate([mu, ls], axis=-1).astype(np.float32)
    err = y - mu
    err = err - (err * v).sum(axis=(1, 2), keepdims=True) / (v.sum(axis=(1, 2), keepdims=True) + 1e-6)
    c = np.array([1.0, 1.0, 2.0])
    nll = (0.5 * err ** 2 * np.exp(-2 * ls) + ls) * np.exp(ls) * c * v
    want = nll.sum(axis=(1, 2, 3)) / (v.sum(axis=(1, 2, 3)) * 3 + 1e-6)
    free = nll_loss(0.5, 2.0, level_free=True)
    np.testing.assert_allclose(np.asarray(free.call(y_true, y_pred)), want, rtol=1e-4)
    shifted = y_pred.copy()
    shifted[..., :3] += np.array([0.7, -1.3, 2.0], np.float32)
    np.testing.assert_allclose(np.asarray(free.call(y_true, shifted)), want, rtol=1e-4)
    plain = nll_loss(0.5, 2.0)
    assert not np.allclose(np.asarray(plain.call(y_true, shifted)), np.asarray(plain.call(y_true, y_pred)))
