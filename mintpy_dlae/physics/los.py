"""Line-of-sight projection in MintPy's convention.

Positive LOS means motion towards the satellite.  ``incidence`` is the angle from vertical (deg) and
``azimuth`` is MintPy's ``azimuthAngle``: the azimuth of the ground-to-satellite vector, measured from
north, anticlockwise positive (S1 ascending ~ +102 deg, descending ~ -102 deg).
"""
import numpy as np


def los_unit_vector(incidence, azimuth):
    """(e, n, u) coefficients of the LOS unit vector (ground to satellite).

    ``incidence`` and ``azimuth`` in degrees (module docstring), scalars or arrays broadcast together
    by numpy; returns three arrays (or floats) of their broadcast shape:
    (-sin(inc) sin(az), sin(inc) cos(az), cos(inc)), the same as MintPy's
    ``mintpy.utils.utils0.get_unit_vector4component_of_interest(inc, az, comp="enu2los")``.
    """
    inc, az = np.deg2rad(incidence), np.deg2rad(azimuth)
    return -np.sin(inc) * np.sin(az), np.sin(inc) * np.cos(az), np.cos(inc)


def enu2los(ue, un, uu, incidence, azimuth):
    """Project east/north/up displacement onto the LOS (positive towards the satellite).

    ``ue``, ``un``, ``uu`` in any one unit (the result has it), ``incidence`` and ``azimuth`` in
    degrees; all broadcast together by numpy.  Equals MintPy's
    ``mintpy.utils.utils0.enu2los(ue, un, uu, incidence, az_angle=azimuth)``.
    """
    ce, cn, cu = los_unit_vector(incidence, azimuth)
    return ue * ce + un * cn + uu * cu


def random_geometry(n, rng, incidence_range=(30.0, 45.0)):
    """Random radar geometry: incidence uniform in ``incidence_range``, any azimuth (paper)."""
    inc = rng.uniform(*incidence_range, size=n)
    az = rng.uniform(-180.0, 180.0, size=n)
    return inc, az
