"""Okada (1985) surface displacement of a rectangular dislocation in an elastic half-space.

Own vectorised numpy implementation of Okada (1985, BSSA 75:1135, eqs. 25-30), batched over sources
and observation points by numpy broadcasting (e.g. sources shaped (B, 1), points shaped (1, P)).

Two layers:
- :func:`okada85_local` works in Okada's own frame (x along strike, corner reference at depth ``d``
  of the bottom edge) and is what Okada's Table 2 check list tests;
- :func:`okada85` takes geographic parameters (centroid east/north/depth, strike clockwise from north,
  dip to the right of strike, rake, length, width, slip, opening) and returns east/north/up.

Singular cases (Okada 1985 p. 1148) are guarded: q = 0 -> atan term 0; xi = 0 -> I5 = 0;
R + eta = 0 -> 1/(R(R+eta)) = 0 and ln(R+eta) -> -ln(R-eta) (same for R + xi); |cos(dip)| < 1e-6
uses the vertical-fault branch of the I-terms; points exactly on a fault corner (R = 0) return 0.
"""
import numpy as np

_COS_EPS = 1e-6


def _safe_div(num, den):
    """num/den, and 0 where den == 0."""
    den_ok = den != 0
    return np.where(den_ok, num / np.where(den_ok, den, 1.0), 0.0)


def _corner_terms(xi, eta, q, sd, cd, alpha_mu, vertical):
    """Terms of eqs. (25)-(30) at one corner of the Chinnery sum.

    The guards of the singular cases are applied only when a singular point is present, so the
    common (buried-fault) case runs at full numpy speed.
    """
    xi2q2 = xi * xi + q * q
    R = np.sqrt(xi2q2 + eta * eta)
    yt = eta * cd + q * sd
    dt = eta * sd - q * cd
    X = np.sqrt(xi2q2)
    Re = R + eta
    Rx = R + xi
    with np.errstate(divide="ignore", invalid="ignore"):
        if np.all(Re > 0):
            lnRe = np.log(Re)
            RRe = 1.0 / (R * Re)
            inv_Re = 1.0 / Re
        else:   # R + eta = 0 on the extension of a fault edge (Okada 1985 p.1148)
            ok = Re > 0
            lnRe = np.where(ok, np.log(np.where(ok, Re, 1.0)), -np.log(np.where(ok, 1.0, R - eta)))
            RRe = _safe_div(1.0, R * Re)
            inv_Re = _safe_div(1.0, Re)
        RRx = 1.0 / (R * Rx) if np.all(Rx > 0) else _safe_div(1.0, R * Rx)
        q_ok = q != 0
        if np.all(q_ok):
            th = np.arctan(xi * eta / (q * R))
        else:
            th = np.where(q_ok, np.arctan(_safe_div(xi * eta, q * R)), 0.0)

        Rdt = R + dt
        if vertical:
            # cos(dip) = 0 branch
            inv = _safe_div(1.0, Rdt)
            I1 = -alpha_mu / 2 * xi * q * inv * inv
            I3 = alpha_mu / 2 * (eta * inv + yt * q * inv * inv - lnRe)
            I4 = -alpha_mu * q * inv
            I5 = -alpha_mu * xi * sd * inv
        else:
            I4 = alpha_mu / cd * (np.log(Rdt) - sd * lnRe)
            I5 = 2 * alpha_mu / cd * np.arctan((eta * (X + q * cd) + X * (R + X) * sd) / (xi * (R + X) * cd))
            if not np.all(xi != 0):
                I5 = np.where(xi != 0, I5, 0.0)
            I3 = alpha_mu * (yt / (cd * Rdt) - lnRe) + sd / cd * I4
            I1 = -alpha_mu / cd * xi / Rdt - sd / cd * I5
        I2 = -alpha_mu * lnRe - I3
        xqRRe = xi * q * RRe
        qRRx = q * RRx
        ss = (xqRRe + th + I1 * sd,
              yt * q * RRe + q * cd * inv_Re + I2 * sd,
              dt * q * RRe + q * sd * inv_Re + I4 * sd)
        ds = (q / R - I3 * sd * cd,
              yt * qRRx + cd * th - I1 * sd * cd,
              dt * qRRx + sd * th - I5 * sd * cd)
        ts = (q * q * RRe - I3 * sd * sd,
              -dt * qRRx - sd * (xqRRe - th) - I1 * sd * sd,
              yt * qRRx + cd * (xqRRe - th) - I5 * sd * sd)
    return ss, ds, ts


def okada85_local(x, y, d, dip, length, width, U1=0.0, U2=0.0, U3=0.0, nu=0.25):
    """Surface displacement in Okada's frame.

    Parameters: x, y   - observation point, x along strike, y to the left of strike (length unit)
                d      - depth of the fault's bottom edge (reference corner), > 0
                dip    - dip angle in degrees, in (0, 90]
                length, width - fault length along strike and width up-dip
                U1, U2, U3    - strike-slip (+ left-lateral), dip-slip (+ reverse), opening
                nu     - Poisson's ratio (0.25: lambda = mu, as in Okada's Table 2)
                All are scalars or arrays broadcast together by numpy.
    Returns:    ux, uy, uz - displacement along x, y and up, arrays of the broadcast shape, in the
                unit of U1, U2, U3 (the length unit of x, y, d, length and width cancels)
    Raises ValueError when ``dip`` mixes vertical (|cos dip| < 1e-6) and non-vertical values in one call.
    """
    dp = np.deg2rad(np.asarray(dip))
    sd, cd = np.sin(dp), np.cos(dp)
    vertical = bool(np.all(np.abs(cd) < _COS_EPS))
    if not vertical and np.any(np.abs(cd) < _COS_EPS):
        raise ValueError("okada85_local: mix of vertical and non-vertical dips in one call is not supported; "
                         f"received dip={dip}")
    if vertical:
        cd = np.zeros_like(cd)
        sd = np.sign(sd)
    alpha_mu = 1.0 - 2.0 * nu               # mu / (lambda + mu)
    p = y * cd + d * sd
    q = y * sd - d * cd
    # skip the dislocation types that are identically zero (e.g. no opening)
    coefs = [(k, c) for k, c in enumerate((-np.asarray(U1) / (2 * np.pi), -np.asarray(U2) / (2 * np.pi),
                                          np.asarray(U3) / (2 * np.pi))) if not (c.ndim == 0 and c == 0)]
    ux = uy = uz = 0.0
    for xi, eta, sign in ((x, p, 1.0), (x, p - width, -1.0), (x - length, p, -1.0), (x - length, p - width, 1.0)):
        terms = _corner_terms(xi, eta, q, sd, cd, alpha_mu, vertical)
        for k, c in coefs:
            sc = sign * c
            ux = ux + sc * terms[k][0]
            uy = uy + sc * terms[k][1]
            uz = uz + sc * terms[k][2]
    # observation exactly on a fault corner/edge (R = 0): the field is singular there; like Okada's
    # DC3D, return 0 at such points instead of NaN
    out = []
    for u in (ux, uy, uz):
        if not np.all(np.isfinite(u)):
            u = np.where(np.isfinite(u), u, 0.0)
        out.append(u)
    return tuple(out)


def okada85(e, n, xc, yc, depth, strike, dip, length, width, rake, slip, opening=0.0, nu=0.25):
    """Surface east/north/up displacement of a rectangular fault given by its centroid.

    Parameters: e, n      - observation east/north coordinates (m), broadcastable with the sources
                xc, yc    - fault centroid east/north (m)
                depth     - centroid depth (m, positive down); keep depth > width/2*sin(dip) (buried)
                strike    - degrees clockwise from north; the fault dips to the right of strike
                dip       - degrees in (0, 90]
                length, width - along-strike length and down-dip width (m)
                rake      - degrees, slip direction on the fault from the strike direction (0 left-lateral,
                            90 reverse/thrust, -90 normal)
                slip      - slip amplitude (output has the unit of slip and opening)
                opening   - tensile opening
    Returns:    ue, un, uu - east, north, up displacement, arrays of the broadcast shape of the
                inputs (e.g. (B, P) for sources (B, 1) and points (1, P)), in the unit of slip
    Raises ValueError when ``dip`` mixes vertical (90 deg) and non-vertical values in one call
    (:func:`okada85_local`).
    """
    st = np.deg2rad(strike)
    dp = np.deg2rad(dip)
    sin_st, cos_st = np.sin(st), np.cos(st)
    de, dn = e - xc, n - yc
    x = de * sin_st + dn * cos_st + length / 2
    y = -de * cos_st + dn * sin_st + np.cos(dp) * width / 2
    d = depth + np.sin(dp) * width / 2
    rk = np.deg2rad(rake)
    ux, uy, uz = okada85_local(x, y, d, dip, length, width, slip * np.cos(rk), slip * np.sin(rk), opening, nu=nu)
    return ux * sin_st - uy * cos_st, ux * cos_st + uy * sin_st, uz
