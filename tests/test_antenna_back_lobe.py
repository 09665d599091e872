"""The back-lobe shortcut of the compiled antenna gain (issue 14): ``pattern_gain_back`` returns
``−A_m`` without the arc tangent and sine where a certificate proves the full evaluation gives
it, so it must equal the full evaluation (the frozen ``pattern_gain_pre`` of
``tests/_links_before.py``) bit for bit everywhere, edges of the certificates included; so
must ``behind_by_bearing``, the test from the bearing alone that the link loop tries first."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numba import njit

from phusong.coverage._antenna_kernel import (
    PatternTable,
    back_certificates,
    behind_by_bearing,
    mod360,
    pattern_gain_back,
)
from phusong.coverage.antenna import Antenna, parametric_3gpp
from phusong.coverage.msi import sampled
from tests._links_before import pattern_gain_pre as gain_before


@njit
def _both(h, v, tilt, cap, k, bearing, azimuth, down, mtilt, etilt, cert):
    """Old and new gain per direction, and whether the shortcut certified it."""
    n = bearing.shape[0]
    old = np.empty(n)
    new = np.empty(n)
    hit = np.zeros(n, np.bool_)
    early = np.zeros(n, np.bool_)
    new_early = np.empty(n)
    for i in range(n):
        e = -math.radians(down[i])
        b = 0.0 if math.isnan(mtilt[i]) else math.radians(mtilt[i])
        ce, se, cb, sb = math.cos(e), math.sin(e), math.cos(b), math.sin(b)
        old[i] = gain_before(h, v, tilt, cap, k[i], bearing[i], azimuth[i], ce, se, cb, sb,
                             etilt[i])
        new[i] = pattern_gain_back(h, v, tilt, cap, k[i], bearing[i], azimuth[i], ce, se, cb,
                                   sb, etilt[i], cert[0, i], cert[1, i], cert[2, i], cert[3, i],
                                   cert[4, i])
        # the bearing-only test first, as the link loop does: −A_m when it says behind
        early[i] = behind_by_bearing(bearing[i], azimuth[i], ce, se, cb, sb, cert[5, i],
                                     cert[6, i], cert[3, i], cert[4, i])
        if early[i]:
            new_early[i] = -cap[k[i]]
        else:
            new_early[i] = new[i]
        # certified: the direction passes the shortcut's test (same expressions)
        phi = math.radians(bearing[i] - (0.0 if math.isnan(azimuth[i]) else azimuth[i]))
        x, y = ce * math.cos(phi), ce * math.sin(phi)
        xr, zr = x * cb - se * sb, x * sb + se * cb
        dot = xr * cert[0, i] + y * cert[1, i]
        hit[i] = (dot > 0.0 and dot * dot >= cert[2, i] * (xr * xr + y * y)
                  and (zr < cert[3, i] or zr > cert[4, i]))
    return old, new, hit, new_early, early


def _patterns():
    """Parametric (36.814 and 38.901 values), a 1° sampled cut, a random measured-like cut
    (its maximum at one node: no back arc), the ``sum`` rule, a built-in electrical tilt, and
    a vertical cut low over 120° (too spread to certify)."""
    rng = np.random.default_rng(5)
    ang = np.arange(0.0, 360.0, 1.0)
    rough = Antenna("rough", 17.0, horizontal_db=rng.uniform(0.0, 30.0, 360),
                    vertical_db=rng.uniform(0.0, 25.0, 360), h_angles_deg=ang,
                    v_angles_deg=ang, tilt_deg=2.0)
    wide_v = np.where((ang < 60.0) | (ang > 300.0), 0.0, 20.0)
    wide = Antenna("wide", 15.0, horizontal_db=sampled(parametric_3gpp()).horizontal_db,
                   vertical_db=wide_v, h_angles_deg=ang, v_angles_deg=ang)
    tilted = Antenna("tilted", 17.0, horizontal_db=sampled(parametric_3gpp(90.0)).horizontal_db,
                     vertical_db=sampled(parametric_3gpp()).vertical_db, h_angles_deg=ang,
                     v_angles_deg=ang, tilt_deg=7.0)
    summed = Antenna("summed", 17.0, horizontal_db=sampled(parametric_3gpp()).horizontal_db,
                     vertical_db=sampled(parametric_3gpp()).vertical_db, h_angles_deg=ang,
                     v_angles_deg=ang, rule="sum")
    return [parametric_3gpp(), parametric_3gpp(65.0, v_beamwidth_deg=65.0, front_to_back_db=30.0,
                                               sla_db=30.0),
            sampled(parametric_3gpp()), rough, summed, tilted, wide]


def _directions(rng, table, n):
    """Random directions, half of them within 1e-3° (down to 1e-12°) of the certificates'
    edges: the back arc's sides and the vertical band of the low nodes."""
    n_pat = len(table.names)
    k = rng.integers(0, n_pat, n)
    az = rng.uniform(0.0, 360.0, n)
    az[rng.random(n) < 0.03] = np.nan  # omni: never certified
    mtilt = rng.uniform(-6.0, 12.0, n)
    mtilt[rng.random(n) < 0.2] = 0.0
    mtilt[rng.random(n) < 0.05] = np.nan
    etilt = rng.uniform(-2.0, 12.0, n)
    etilt[rng.random(n) < 0.1] = np.nan
    down = rng.uniform(-20.0, 40.0, n)
    down[rng.random(n) < 0.02] = rng.choice([90.0, -90.0, 89.999999, 0.0], int(n * 0.02) or 1
                                            )[0]
    bearing = mod_np(az + rng.uniform(0.0, 360.0, n))
    edge = rng.random(n) < 0.5
    tiny = 10.0 ** rng.uniform(-12.0, -3.0, n) * rng.choice([-1.0, 1.0], n)
    # back-arc edges: where the horizontal nodes stop being A_m (about ±93.8° for 65°/25 dB)
    ctr = np.degrees(np.arctan2(table.back[k, 1], table.back[k, 0]))
    half = np.degrees(np.arccos(np.sqrt(np.nan_to_num(table.back[k, 2], nan=1.0))))
    side = rng.choice([-1.0, 1.0], n)
    bearing = np.where(edge & ~np.isnan(az), mod_np(az + ctr + side * half + tiny), bearing)
    # vertical edges: down so that the unrotated θ − shift sits at an edge of the low band
    shift = np.where(np.isnan(etilt), 0.0, etilt - table.tilt[k])
    lo_hi = np.where(side > 0, table.vlow[k, 2], table.vlow[k, 1])
    vedge = edge & (rng.random(n) < 0.5) & (table.vlow[k, 0] == 1.0)
    down = np.where(vedge, np.nan_to_num(lo_hi) + shift + tiny, down)
    return k, bearing, az, down, mtilt, etilt


def mod_np(a):
    return np.mod(a, 360.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_back_lobe_shortcut_equals_the_full_gain_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    table = PatternTable.build(_patterns())
    n = 200_000
    k, bearing, az, down, mtilt, etilt = _directions(rng, table, n)
    cells = np.arange(n, dtype=np.int64)
    cert = back_certificates(k, az, etilt, table.tilt, table.back, table.vlow, cells)
    old, new, hit, new_early, early = _both(table.h, table.v, table.tilt, table.cap, k, bearing, az, down, mtilt,
                          etilt, cert)
    # bit for bit: the same float64 (NaN where the old one is NaN)
    np.testing.assert_array_equal(new.view(np.int64), old.view(np.int64))
    np.testing.assert_array_equal(new_early.view(np.int64), old.view(np.int64))
    # a subset of the full test (tilts to 12° and elevations to 40° widen its bounds here)
    assert early.mean() > 0.05 and not (early & ~hit).any()
    # the shortcut is exercised, on every pattern that has a back arc and a narrow low band
    assert hit.mean() > 0.2
    for p in range(len(table.names)):
        certifiable = np.isfinite(table.back[p, 2]) and table.vlow[p, 0] < 2.0
        assert hit[k == p].any() == certifiable, table.names[p]
        assert np.all(old[hit & (k == p)] == -table.cap[p])


def test_certificates_of_the_3gpp_pattern():
    t = PatternTable.build(_patterns())
    names = list(t.names)
    # 65°, A_m 25 dB: the nodes read A_m from 12 (φ/65)² ≥ 25, |φ| ≥ 93.82° (table nodes
    # from 93.9°, both nodes read from 93.9°): the arc's half-width is 180 − 93.9 − 1e-3
    par = names.index("3gpp-65") if "3gpp-65" in names else 0
    half = np.degrees(np.arccos(np.sqrt(t.back[par, 2])))
    assert half == pytest.approx(180.0 - 93.9 - 1e-3, abs=1e-9)  # float rounding of angles
    # centred behind the antenna (180°): cos −1, sin 0 within float rounding of the angle
    np.testing.assert_allclose(t.back[par, :2], [-1.0, 0.0], rtol=0, atol=1e-12)
    # the vertical cut is 0 dB only at θ = 0: low band (−0.1 − 1e-3, 0.1 + 1e-3)°
    np.testing.assert_allclose(t.vlow[par], [1.0, -0.101, 0.101], rtol=0, atol=1e-12)
    assert np.isnan(t.back[names.index("summed"), 2])  # the sum rule has no cap
    assert np.isnan(t.back[names.index("rough"), 2])  # one node at the maximum: no arc
    assert t.vlow[names.index("wide"), 0] == 2.0  # low over 120°: not certified
    # the band is in the cut's own angles (its 0 dB node at 0°); the lookup adds the tilt
    np.testing.assert_allclose(t.vlow[names.index("tilted")], [1.0, -0.101, 0.101], atol=1e-12)
    assert t.vlow[names.index("rough"), 0] == 0.0  # uniform 0–25 dB: no node below 5e-11


@njit
def _mods(a):
    out = np.empty((2, a.shape[0]))
    for i in range(a.shape[0]):
        out[0, i] = mod360(a[i])
        out[1, i] = a[i] % 360.0
    return out


def test_mod360_is_the_modulo_bit_for_bit():
    rng = np.random.default_rng(3)
    special = np.array([0.0, -0.0, 360.0, -360.0, 359.99999999999994, -1e-300, -5e-324, 1e-300,
                        720.0, -720.5, 1e300, -1e300, np.inf, -np.inf, np.nan, 180.0, -180.0])
    a = np.concatenate([special, rng.uniform(-1000.0, 1000.0, 100_000),
                        rng.uniform(-1e-9, 1e-9, 1000)])
    got, ref = _mods(a)
    np.testing.assert_array_equal(got.view(np.int64), ref.view(np.int64))
