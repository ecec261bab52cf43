"""Physics against published values: Okada (1985) Table 2, the rotated-fault fixture, Mogi closed forms,
MintPy's LOS convention, and the atmosphere's spectrum and variance."""
import numpy as np
import pytest

from mintpy_dlae.physics import atmosphere, terrain
from mintpy_dlae.physics.los import enu2los
from mintpy_dlae.physics.mogi import mogi
from mintpy_dlae.physics.okada import okada85, okada85_local

RTOL = 5e-4   # the table has 4 significant figures

# Okada 1985 Table 2 (p. 1149): (x, y, d, dip, L, W), source, (ux, uy, uz)
TABLE2 = [
    ((2, 3, 4, 70, 3, 2), dict(U1=1), (-8.689e-3, -4.298e-3, -2.747e-3)),
    ((2, 3, 4, 70, 3, 2), dict(U2=1), (-4.682e-3, -3.527e-2, -3.564e-2)),
    ((2, 3, 4, 70, 3, 2), dict(U3=1), (-2.660e-4, +1.056e-2, +3.214e-3)),
    ((0, 0, 4, 90, 3, 2), dict(U1=1), (0, +5.253e-3, 0)),
    ((0, 0, 4, 90, 3, 2), dict(U2=1), (0, 0, 0)),
    ((0, 0, 4, 90, 3, 2), dict(U3=1), (+1.223e-2, 0, -1.606e-2)),
    # case 4, dip = -90: run d=6, dip=+90 with U1 -> -U1 (Beauducel's transcription)
    ((0, 0, 6, 90, 3, 2), dict(U1=-1), (0, -1.303e-3, 0)),
    ((0, 0, 6, 90, 3, 2), dict(U2=1), (0, 0, 0)),
    ((0, 0, 6, 90, 3, 2), dict(U3=1), (+3.507e-3, 0, -7.740e-3)),
]


@pytest.mark.parametrize("geom,slip,expected", TABLE2)
def test_okada_table2(geom, slip, expected):
    x, y, d, dip, L, W = geom
    got = okada85_local(float(x), float(y), float(d), float(dip), float(L), float(W), **slip)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=2e-6)


def test_okada_table2_full_precision():
    got = okada85_local(2.0, 3.0, 4.0, 70.0, 3.0, 2.0, U2=1.0)
    np.testing.assert_allclose(got, (-4.6823487628e-3, -3.5267267969e-2, -3.5638557673e-2), rtol=1e-9)


# geographic wrapper: centroid (0,0), depth 4, strike 35, dip 60, L 8, W 5, slip 1
ROTATED = [
    (dict(rake=0.0, slip=1.0), (3, -2), (+4.179124e-2, +5.594098e-2, +1.625634e-3)),
    (dict(rake=90.0, slip=1.0), (3, -2), (+5.099703e-2, -3.439891e-2, +1.046340e-1)),
    (dict(rake=90.0, slip=1.0), (0.5, 0.5), (+6.254010e-2, -2.142496e-2, +3.436513e-1)),
    (dict(rake=-135.0, slip=1.0), (-1, 4), (-2.309620e-2, +4.681678e-2, +2.966713e-2)),
    (dict(rake=0.0, slip=0.0, opening=1.0), (3, -2), (+2.192050e-1, -1.507185e-1, +2.313259e-1)),
]


@pytest.mark.parametrize("src,point,expected", ROTATED)
def test_okada_rotated_fault(src, point, expected):
    got = okada85(float(point[0]), float(point[1]), 0.0, 0.0, 4.0, 35.0, 60.0, 8.0, 5.0, **src)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)


def _grid(n=41, half=20.0):
    c = np.linspace(-half, half, n)
    e, nn = np.meshgrid(c, c)
    return e, nn


def test_okada_properties():
    e, n = _grid()
    args = dict(xc=0.3, yc=-0.7, depth=3.0, strike=20.0, dip=50.0, length=6.0, width=3.0, rake=60.0)
    u1 = np.array(okada85(e, n, slip=1.0, **args))
    u3 = np.array(okada85(e, n, slip=3.0, **args))
    np.testing.assert_allclose(u3, 3 * u1, rtol=1e-12, atol=1e-15)                      # linear in slip
    k = 7.5
    scaled = {key: (v * k if key in ("xc", "yc", "depth", "length", "width") else v) for key, v in args.items()}
    uk = np.array(okada85(e * k, n * k, slip=1.0, **scaled))
    np.testing.assert_allclose(uk, u1, rtol=1e-9, atol=1e-13)                            # scale invariance
    far = np.array(okada85(np.array([1e3, 1e4]), np.array([0.0, 0.0]), slip=1.0, **args))
    assert np.abs(far[:, 1]).max() < np.abs(far[:, 0]).max() / 50                       # decays (r^-2)
    assert np.abs(far).max() < 1e-4
    assert np.isfinite(u1).all()


def test_okada_vertical_strike_slip_antisymmetry():
    x = np.linspace(-5, 8, 27)[:, None]
    y = np.linspace(0.5, 6, 12)[None, :]
    ux_p, _, _ = okada85_local(x, y, 4.0, 90.0, 3.0, 2.0, U1=1.0)
    ux_m, _, _ = okada85_local(x, -y, 4.0, 90.0, 3.0, 2.0, U1=1.0)
    np.testing.assert_allclose(ux_m, -ux_p, rtol=1e-10, atol=1e-14)


def test_okada_uplift_signs():
    # thrust (rake 90) uplifts the hanging wall; opening uplifts above the crack
    e = np.array([0.0]); n = np.array([0.0])
    _, _, uz = okada85(e - 1.0, n, 0, 0, 2.0, 0.0, 45.0, 6.0, 2.0, rake=90.0, slip=1.0)   # dips east (right of north strike)
    assert uz[0] > 0
    _, _, uz = okada85(e, n, 0, 0, 2.0, 0.0, 10.0, 4.0, 4.0, rake=0.0, slip=0.0, opening=1.0)
    assert uz[0] > 0


def test_okada_singular_points_are_finite():
    # observation exactly above the top edge of a surface-reaching fault and on q = 0 lines
    x = np.array([0.0, 1.5, 3.0, 1.5]); y = np.array([0.0, 0.0, 0.0, 1e-12])
    for dip in (30.0, 90.0):
        out = okada85_local(x, y, 2.0, dip, 3.0, 2.0 / np.sin(np.deg2rad(dip)), U1=1.0, U2=1.0, U3=1.0)
        assert np.isfinite(np.array(out)).all()


MOGI = [  # r (m), u_r, u_z for nu=0.25, dV=1e6 m3, d=2000 m
    (0.0, 0.0, 0.0596831), (1000.0, 0.0213529, 0.0427058), (1414.2, 0.0229720, 0.0324874),
    (2000.0, 0.0211012, 0.0211012), (5000.0, 0.0076434, 0.0030573)]


@pytest.mark.parametrize("r,ur,uz", MOGI)
def test_mogi_closed_form(r, ur, uz):
    ue, un, uu = mogi(np.array([r]), np.array([0.0]), 0.0, 0.0, 2000.0, 1e6)
    np.testing.assert_allclose([ue[0], uu[0]], [ur, uz], rtol=2e-5, atol=1e-9)
    assert un[0] == 0
    _, _, down = mogi(np.array([r]), np.array([0.0]), 0.0, 0.0, 2000.0, -1e6)      # deflation
    np.testing.assert_allclose(down, -uu)


def test_mogi_identities():
    d = 1500.0
    r = np.linspace(0, 6000, 60001)
    ue, _, uz = mogi(r, 0 * r, 0.0, 0.0, d, 2e6)
    assert np.isclose(ue.max() / uz[0], 2 / 3 ** 1.5, rtol=1e-6)
    assert np.isclose(r[np.argmax(ue)], d / np.sqrt(2), atol=0.2)
    i = np.argmin(np.abs(r - d))
    assert np.isclose(ue[i], uz[i], rtol=1e-9)


def test_los_matches_mintpy():
    ut = pytest.importorskip("mintpy.utils.utils0")
    rng = np.random.default_rng(3)
    e, n, u = rng.standard_normal((3, 50))
    inc = rng.uniform(30, 45, 50)
    az = rng.uniform(-180, 180, 50)
    ours = enu2los(e, n, u, inc, az)
    theirs = ut.enu2los(e, n, u, inc_angle=inc, az_angle=az)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)
    # S1 ascending: eastward motion reads negative, uplift positive
    assert enu2los(1.0, 0.0, 0.0, 39.0, 102.0) < 0 < enu2los(0.0, 0.0, 1.0, 39.0, 102.0)


@pytest.mark.parametrize("slope", [8 / 3, 11 / 3])
def test_turbulence_spectral_slope(slope):
    rng = np.random.default_rng(0)
    f = atmosphere.spectral_fields(32, (128, 128), rng, slope=slope, pad=2)
    got = atmosphere.radial_psd_slope(f, kmin=0.03, kmax=0.2)
    assert abs(got - slope) < 0.25, got


def test_turbulence_variance_and_mean():
    rng = np.random.default_rng(1)
    f = atmosphere.turbulence(20, (50, 60), rng)
    np.testing.assert_allclose(f.std(axis=(1, 2)), 1.0, rtol=1e-4)
    np.testing.assert_allclose(f.mean(axis=(1, 2)), 0.0, atol=1e-5)
    p = atmosphere.turbulence_patches(300, 40, rng)
    np.testing.assert_allclose(p.std(axis=(1, 2)), 1.0, rtol=1e-3)
    # neighbours are correlated (not white noise)
    corr = np.mean(p[:, :, 1:] * p[:, :, :-1])
    assert corr > 0.5


def test_stratified_is_quadratic_in_elevation():
    h = np.linspace(0, 2000, 40 * 40, dtype=np.float32).reshape(1, 40, 40)
    k1 = np.array([[0.01]], np.float32); k2 = np.array([[-0.002]], np.float32)
    s = atmosphere.stratified(h, k1, k2)[0, 0]
    hk = h[0] / 1000 - h[0].mean() / 1000
    np.testing.assert_allclose(s, 0.01 * hk - 0.002 * hk ** 2, rtol=1e-5, atol=1e-7)


def test_terrain_patches():
    rng = np.random.default_rng(2)
    dem = terrain.jacksboro_dem()
    assert dem.shape == (344, 403) and 200 < dem.min() < dem.max() < 1100
    out = terrain.random_dem(64, 40, rng)
    assert out.shape == (64, 40, 40) and np.isfinite(out).all()
    relief = out.std(axis=(1, 2))
    assert relief.min() < 20 and relief.max() > 100        # flat and mountainous patches both occur
