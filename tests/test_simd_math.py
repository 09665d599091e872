"""The vectorisable elementary functions of ``_simd_math`` against numpy (libm), in ulps, over
the ranges ITM's frequency part uses and beyond, plus their special values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numba import njit

from phusong.coverage._simd_math import vcbrt, vexp, vlog, vlog10, vsincos, vsqrt


@njit(error_model="numpy")
def _apply(kind, x, out):
    for i in range(x.shape[0]):
        if kind == 0:
            out[i] = vexp(x[i])
        elif kind == 1:
            out[i] = vlog(x[i])
        elif kind == 2:
            out[i] = vlog10(x[i])
        elif kind == 3:
            out[i] = vcbrt(x[i])
        elif kind == 4:
            out[i] = vsincos(x[i])[0]
        elif kind == 5:
            out[i] = vsincos(x[i])[1]
        else:
            out[i] = vsqrt(x[i])


def _ulps(kind, x, ref):
    got = np.empty_like(x)
    _apply(kind, x, got)
    return float(np.max(np.abs(got - ref) / np.spacing(np.abs(ref))))


_RNG = np.random.default_rng(7)
_N = 200_000


# (kind, inputs, numpy reference, ulps allowed: the module's stated accuracy). The ranges are
# ITM's (exponents −50…5 in roughness/σh/variability, logarithms of distances, heights and
# loss ratios, cube roots of radii and a_e², phase angles in [0, π]) and the functions' whole
# domains.
@pytest.mark.parametrize(("kind", "x", "ref", "ulps"), [
    (0, _RNG.uniform(-50.0, 5.0, _N), np.exp, 2),
    (0, _RNG.uniform(-708.0, 709.7, _N), np.exp, 2),
    (1, np.exp(_RNG.uniform(-30.0, 40.0, _N)), np.log, 1),
    (1, 10.0 ** _RNG.uniform(-307.0, 308.0, _N), np.log, 1),
    (1, _RNG.uniform(0.5, 2.0, _N), np.log, 1),
    (2, np.exp(_RNG.uniform(-30.0, 40.0, _N)), np.log10, 3),
    (3, np.exp(_RNG.uniform(-30.0, 60.0, _N)), np.cbrt, 2),
    (4, _RNG.uniform(0.0, math.pi, _N), np.sin, 2),
    (5, _RNG.uniform(0.0, math.pi, _N), np.cos, 2),
    (4, _RNG.uniform(-4.0, 4.0, _N), np.sin, 2),
    (5, _RNG.uniform(-4.0, 4.0, _N), np.cos, 2),
    (6, np.exp(_RNG.uniform(-300.0, 300.0, _N)), np.sqrt, 0),
])
def test_within_stated_ulps_of_numpy(kind, x, ref, ulps):
    assert _ulps(kind, x, ref(x)) <= ulps


def test_near_zero_and_exact_points():
    # sin near 0; near π the reduction's two-part π/2 (≈ 86 bits) leaves an absolute error
    # below 1e-24 (or 2 ulp), which is what ITM needs (sin is added to a reflection coefficient of order 1)
    x = np.geomspace(1e-300, 1e-3, 2000)
    assert _ulps(4, x, np.sin(x)) <= 2
    x = math.pi - np.geomspace(1e-12, 1e-3, 500)
    got = np.empty_like(x)
    _apply(4, x, got)
    ref = np.sin(x)
    assert np.all(np.abs(got - ref) <= np.maximum(1e-24, 2.0 * np.spacing(ref)))
    # log near 1, exp near 0
    y = 1.0 + np.linspace(-1e-3, 1e-3, 2001)
    y = y[y != 1.0]
    assert _ulps(1, y, np.log(y)) <= 1
    z = np.linspace(-1e-8, 1e-8, 2001)
    assert _ulps(0, z, np.exp(z)) <= 1
    got = np.empty(4)
    _apply(1, np.array([1.0, 2.0, 0.5, 1024.0]), got)
    assert got[0] == 0.0  # exact
    np.testing.assert_array_equal(got[1:], np.log([2.0, 0.5, 1024.0]))  # k·ln2 exactly rounded


def test_special_values():
    out = np.empty(6)
    _apply(0, np.array([-math.inf, -1000.0, 710.0, math.inf, math.nan, 0.0]), out)
    assert out[0] == 0.0 and out[1] == 0.0 and out[2] == math.inf and out[3] == math.inf
    assert math.isnan(out[4]) and out[5] == 1.0
    _apply(1, np.array([0.0, -1.0, math.inf, math.nan, 5e-324, 1e-310]), out)
    assert out[0] == -math.inf and math.isnan(out[1]) and out[2] == math.inf
    assert math.isnan(out[3])
    # subnormals: scaled before their exponent is read
    np.testing.assert_allclose(out[4:], np.log([5e-324, 1e-310]), rtol=1e-15)
