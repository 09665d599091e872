"""The O(log n) shortcuts of the P.1812 kernels against plain scans, the shared upper hull
against brute force, and the flat buffers the public function builds.

These are exact statements (the same expression evaluated at the same point), so the
comparisons are equalities or 1e-12 relative (rounding of a re-ordered expression).
"""

from __future__ import annotations

import numpy as np
import pytest

from phusong.coverage import p1812_loss_db
from phusong.coverage._hull import hull_push, hull_support, hull_tangent
from phusong.coverage.p1812._inputs import flatten_paths
from phusong.coverage.p1812._kernel import bracket, smooth_nu_best, smooth_slope_best
from phusong.errors import ModelError

KW = dict(time_pct=50.0, tx_height_m=30.0, rx_height_m=1.5, polarization="vertical",
          zones=None, clutter_heights_m=None, delta_n=50.0, n0=375.0, tx_lat=20.8,
          tx_lon=105.3, rx_lat=20.85, rx_lon=105.3)


def _spacings(rng, n):
    """Distances from 0 with uneven steps (the ITU's profiles are not equidistant)."""
    return np.concatenate([[0.0], np.cumsum(rng.uniform(0.01, 0.5, n - 1))])


@pytest.mark.parametrize("seed", range(40))
def test_smooth_profile_maxima_equal_a_scan(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 400))
    d = _spacings(rng, n)
    dtot = d[-1]
    k = 500.0 / rng.uniform(6371.0 * 4 / 3, 6371.0 * 3)
    ht, hr = rng.uniform(1.0, 300.0, 2)
    i = np.arange(1, n - 1)
    x = dtot - d[i]
    bulge = k * d[i] * x
    # the slopes of eqs. (13), (17) and the wavelength-free ν of (15) over every point
    scan_t = ((bulge - ht) / d[i]).max()
    scan_r = ((bulge - hr) / x).max()
    scan_nu = ((bulge - (ht * x + hr * d[i]) / dtot) * np.sqrt(0.002 * dtot / (d[i] * x))).max()
    assert smooth_slope_best(d, 0, n, ht, k, dtot, False) == scan_t
    assert smooth_slope_best(d, 0, n, hr, k, dtot, True) == scan_r
    assert smooth_nu_best(d, 0, n, dtot, ht, hr, k) == pytest.approx(scan_nu, rel=1e-12)


def test_bracket_finds_the_sample_at_or_before():
    d = np.array([0.0, 0.5, 0.7, 2.0, 2.1, 3.0])
    # intermediate points 1..4; t before the first gives the terminal index 0
    assert [bracket(d, 0, 6, t) for t in (-1.0, 0.2, 0.5, 0.69, 1.9, 2.05, 2.1, 9.0)] == \
        [0, 0, 1, 1, 2, 3, 4, 4]


def _hull_of(d, z):
    hd = np.empty(d.size)
    hz = np.empty(d.size)
    n = 0
    for di, zi in zip(d, z, strict=True):
        n = hull_push(hd, hz, n, di, zi)
    return hd, hz, n


@pytest.mark.parametrize("seed", range(30))
def test_hull_queries_equal_brute_force(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(2, 300))
    d = np.sort(rng.choice(np.arange(1, 5 * m), m, replace=False)).astype(float)
    z = np.round(rng.normal(100.0, 3.0, m)) if seed % 2 else rng.normal(100.0, 30.0, m)
    hd, hz, n = _hull_of(d, z)
    for s in rng.normal(0.0, 2.0, 10):
        q = hull_support(hd, hz, n, s)
        assert hz[q] - s * hd[q] == pytest.approx((z - s * d).max(), abs=1e-9)
    for qz in rng.normal(100.0, 40.0, 10):
        qd = d[-1] + rng.uniform(0.5, 50.0)
        best = ((z - qz) / (qd - d)).max()
        for later in (False, True):
            q = hull_tangent(hd, hz, n, qd, qz, later)
            assert (hz[q] - qz) / (qd - hd[q]) == pytest.approx(best, rel=1e-12, abs=1e-12)


def test_hull_tangent_tie_rule():
    # (0, 0), (1, 1), (2, 2) collinear with Q = (3, 3): the middle point leaves the hull, the
    # ends tie; (4, 0) after them keeps (2, 2). Q = (5, 5) sees (0,0) and (2,2) at slope 1.
    hd, hz, n = _hull_of(np.array([0.0, 1.0, 2.0, 4.0]), np.array([0.0, 1.0, 2.0, 0.0]))
    assert list(hd[:n]) == [0.0, 2.0, 4.0]
    assert hd[hull_tangent(hd, hz, n, 5.0, 5.0, False)] == 0.0
    assert hd[hull_tangent(hd, hz, n, 5.0, 5.0, True)] == 2.0


def test_any_array_types_give_the_same_losses():
    rng = np.random.default_rng(3)
    d = [np.linspace(0.0, 8.0, 81), np.linspace(0.0, 12.0, 41)]
    h = [rng.normal(300.0, 40.0, 81), rng.normal(300.0, 40.0, 41)]
    ref = p1812_loss_db(d, h, 900.0, **KW)
    # integer metres, lists and strided views go through numpy's conversion, not the join
    hi = [np.round(x).astype(np.int64) for x in h]
    assert np.array_equal(p1812_loss_db(d, [x.astype(float) for x in hi], 900.0, **KW),
                          p1812_loss_db(d, hi, 900.0, **KW))
    assert np.array_equal(p1812_loss_db([x.tolist() for x in d], h, 900.0, **KW), ref)
    wide = [np.repeat(x, 2)[::2] for x in h]  # non-contiguous views of the same values
    assert np.array_equal(p1812_loss_db(d, wide, 900.0, **KW), ref)
    fp = flatten_paths(d, h, 3, None)
    assert fp.z.dtype == np.int8 and (fp.z == 3).all() and fp.h.flags.writeable


@pytest.mark.parametrize("zones, words", [
    (5, "path 0: zone code 5 is unknown"),
    (3.5, "zone code 3.5 is unknown"),
    ([np.array([4, 4, 4, 4, 4]), np.array([4, 4, 1.5, 4, 4])], "path 1: zone code 1.5"),
    ([np.full(5, 4.0), np.array([4, 4, np.nan, 4, 4])], "path 1: zone code nan"),
])
def test_zone_codes_checked_before_the_int8_cast(zones, words):
    d = [np.linspace(0.0, 4.0, 5)] * 2
    with pytest.raises(ModelError, match=words) as exc:
        p1812_loss_db(d, [np.full(5, 100.0)] * 2, 900.0, **{**KW, "zones": zones})
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("spoil, words", [
    (lambda d, h, r: h.__setitem__(3, np.nan), "path 1: heights_m holds a non-finite value"),
    (lambda d, h, r: d.__setitem__(3, d[2]), "path 1: distances_km must increase strictly"),
    (lambda d, h, r: d.__setitem__(3, np.inf), "path 1: distances_km holds a non-finite"),
    (lambda d, h, r: d.__setitem__(-1, np.nan), "path 1: distances_km holds a non-finite"),
    (lambda d, h, r: d.__setitem__(0, 0.5), "path 1: distances_km must start at 0"),
    (lambda d, h, r: r.__setitem__(2, -1.0), "path 1: clutter_heights_m must be finite"),
])
def test_profile_values_checked_in_the_kernel_name_the_path(spoil, words):
    """The kernel checks each profile just before its loss: a bad value in the second of
    three paths is named, in one line, after the first path was computed."""
    d = [np.linspace(0.0, 6.0, 13) for _ in range(3)]
    h = [np.full(13, 120.0) for _ in range(3)]
    r = [np.zeros(13) for _ in range(3)]
    spoil(d[1], h[1], r[1])
    with pytest.raises(ModelError, match=words) as exc:
        p1812_loss_db(d, h, 900.0, **{**KW, "clutter_heights_m": r})
    assert "\n" not in str(exc.value)


def test_chunks_give_the_same_losses_and_name_the_path(monkeypatch):
    """p1812_loss_db flattens and computes the paths chunk by chunk: any chunk size gives the
    same losses and diagnostics, and a bad path in a later chunk is named by its index."""
    import phusong.coverage.p1812 as p1812

    rng = np.random.default_rng(5)
    n_pts = rng.integers(5, 60, 25)
    d = [np.sort(np.concatenate([[0.0], rng.uniform(0.1, 9.0, k - 1)])) for k in n_pts]
    h = [rng.normal(300.0, 40.0, k) for k in n_pts]
    z = [np.where(rng.random(k) < 0.2, 3, 4) for k in n_pts]
    kw = {**KW, "zones": z, "tx_lat": rng.uniform(20, 22, 25)}
    one, diag = p1812_loss_db(d, h, 900.0, **kw, diagnostics=True)
    monkeypatch.setattr(p1812, "_CHUNK_POINTS", 64)
    assert len(p1812._chunks(n_pts)) > 5
    many, diag_many = p1812_loss_db(d, h, 900.0, **kw, diagnostics=True)
    assert np.array_equal(one, many)
    assert all(np.array_equal(diag[k], diag_many[k], equal_nan=True) for k in diag)
    h[19][3] = np.nan
    with pytest.raises(ModelError, match="path 19: heights_m holds a non-finite"):
        p1812_loss_db(d, h, 900.0, **kw)
    h[19][3] = 300.0
    z[21][2] = 7
    with pytest.raises(ModelError, match="path 21: zone code 7"):
        p1812_loss_db(d, h, 900.0, **kw)
