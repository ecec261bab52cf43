"""Mogi (1958) point pressure source in an elastic half-space (Segall 2010, ch. 7)."""
import numpy as np


def mogi(e, n, xs, ys, depth, dvol, nu=0.25):
    """Surface east/north/up displacement of a point source of volume change ``dvol``.

    u = (1 - nu) * dvol / pi * (e - xs, n - ys, depth) / R**3,   R**2 = r**2 + depth**2

    Parameters: e, n   - observation coordinates (m), broadcastable with the source parameters
                xs, ys - source position (m);  depth - source depth (m, > 0)
                dvol   - volume change (m^3, > 0 inflation, < 0 deflation);  nu - Poisson's ratio
    Returns:    ue, un, uu in metres
    """
    de, dn = e - xs, n - ys
    R3 = (de * de + dn * dn + depth * depth) ** 1.5
    c = (1.0 - nu) * dvol / np.pi / R3
    return c * de, c * dn, c * depth
