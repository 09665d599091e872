"""The vectorisable ITM point-to-point kernel (``p2p_batch``: frequency part in lockstep) against
the reference kernel (``p2p_batch_reference``: plain profile loops, band constants per path)
and the scalar fast kernel (``p2p_batch_scalar``) on many random and real SRTM3 paths, voids,
very short paths, every propagation mode and error codes ≥ 1000."""

from __future__ import annotations

import numpy as np
import pytest

from phusong.coverage._itm_kernel import (
    AUX_COLUMNS,
    p2p_batch,
    p2p_batch_reference,
    p2p_batch_scalar,
)

# The fast kernel takes positions and sums in a different order: float rounding only (losses
# move by < 1e-12 dB on the paths below). 1e-9 dB is the bar the fast path must meet.
TOL_DB = 1e-9


def _run(kernel, profiles, step, h_tx, h_rx, f, pol=1, eps=15.0, sigma=0.005, n0=301.0,
         climate=5, tm=50.0, loc=50.0, sit=50.0, mdvar=12):
    n = len(profiles)
    count = np.array([len(p) for p in profiles], np.int64)
    start = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
    flat = np.concatenate([np.asarray(p, float) for p in profiles]) if n else np.empty(0)

    def per(v, dt=float):  # writable copies, as the engine passes: a read-only view is
        # another numba type, and each test's mix of scalars and arrays compiled all three
        # parallel kernels anew (≈ 13 s a test on CI's fresh cache) for the same code
        return np.broadcast_to(np.asarray(v, dt), (n,)).copy()

    out = (np.empty(n), np.zeros(n, np.int64), np.zeros(n, np.int32), np.zeros(n, np.int8),
           np.full((n, len(AUX_COLUMNS)), np.nan))
    kernel(flat, start, count, per(step), per(h_tx), per(h_rx), per(f), per(pol, np.int64),
           per(eps), per(sigma), per(n0), per(climate, np.int64), per(tm), per(loc), per(sit),
           per(mdvar, np.int64), *out)
    return out


def _assert_same(profiles, step, h_tx, h_rx, f, **kw):
    ref = _run(p2p_batch_reference, profiles, step, h_tx, h_rx, f, **kw)
    got = _run(p2p_batch, profiles, step, h_tx, h_rx, f, **kw)
    _assert_close(got, ref)
    # and the scalar fast kernel (same profile analysis; the lockstep frequency part's
    # polynomial exp/log/cbrt/sin/cos differ from libm by a few ulps)
    _assert_close(got, _run(p2p_batch_scalar, profiles, step, h_tx, h_rx, f, **kw))
    return ref


def _assert_close(got, ref):
    np.testing.assert_array_equal(got[2], ref[2])  # return codes, errors included
    np.testing.assert_array_equal(got[1], ref[1])  # warning bits
    np.testing.assert_array_equal(got[3], ref[3])  # propagation mode
    finite = np.isfinite(ref[0])
    np.testing.assert_array_equal(np.isfinite(got[0]), finite)
    np.testing.assert_allclose(got[0][finite], ref[0][finite], rtol=0, atol=TOL_DB)
    # intermediate values (distances, heights, angles): rounding only
    ok = np.isfinite(ref[4])
    np.testing.assert_array_equal(np.isfinite(got[4]), ok)
    np.testing.assert_allclose(got[4][ok], ref[4][ok], rtol=1e-9, atol=1e-12)


def test_random_paths_of_every_length_and_band():
    rng = np.random.default_rng(11)
    n = 3000
    lengths = np.concatenate([rng.integers(2, 40, n // 3), rng.integers(40, 700, n - n // 3)])
    profiles = [300.0 + np.cumsum(rng.normal(0.0, rng.uniform(0.5, 30.0), k)) for k in lengths]
    step = rng.uniform(10.0, 400.0, n)
    # 14 frequencies, two polarisations and two grounds: more bands than the kernel's cache
    # holds, in random order, so rows are reused, replaced and recomputed
    f = rng.choice([50.0, 150.0, 450.0, 700.0, 780.0, 947.5, 1842.5, 2140.0, 2595.0, 3750.0,
                    5800.0, 9000.0, 12000.0, 19000.0], n)
    pol = rng.integers(0, 2, n)
    eps = rng.choice([4.0, 15.0, 25.0], n)
    ref = _assert_same(profiles, step, rng.uniform(1.0, 200.0, n), rng.uniform(1.0, 20.0, n),
                       f, pol=pol, eps=eps, sigma=rng.choice([0.001, 0.005, 0.02], n),
                       climate=rng.integers(1, 8, n), tm=rng.uniform(1.0, 99.0, n),
                       loc=rng.uniform(1.0, 99.0, n), sit=rng.uniform(1.0, 99.0, n),
                       mdvar=rng.choice([0, 1, 2, 3, 12, 23, 32], n))
    # the sample covers line of sight and diffraction; a path of 2 samples is valid
    assert {1, 2} <= set(np.unique(ref[3]).tolist())


def test_long_paths_reach_troposcatter():
    rng = np.random.default_rng(5)
    n = 200
    lengths = rng.integers(100, 600, n)
    profiles = [200.0 + np.cumsum(rng.normal(0.0, 40.0, k)) for k in lengths]
    ref = _assert_same(profiles, rng.uniform(300.0, 1500.0, n), 30.0, 10.0,
                       rng.choice([100.0, 900.0, 2500.0], n))
    assert 3 in set(ref[3].tolist())


def test_flat_ridge_and_constant_profiles_and_regime_boundaries():
    profiles, steps = [], []
    for d_km in (0.05, 0.5, 1.0, 3.0, 10.0, 30.0, 80.0, 200.0):
        for step in (30.0, 90.0, 500.0):
            k = max(2, int(round(d_km * 1000.0 / step)) + 1)
            profiles += [np.zeros(k), np.full(k, 250.0), np.linspace(0.0, 800.0, k)]
            ridge = np.zeros(k)
            ridge[k // 2] = 150.0
            profiles.append(ridge)
            steps += [step] * 4
    # a sweep of distances across the smooth-earth horizon (line of sight → diffraction)
    for k in range(2, 400, 3):
        profiles.append(np.zeros(k))
        steps.append(250.0)
    _assert_same(profiles, np.array(steps), 30.0, 1.5, 1842.5)


def test_voids_bad_inputs_and_error_codes_match():
    rng = np.random.default_rng(3)
    good = [300.0 + np.cumsum(rng.normal(0.0, 10.0, 150)) for _ in range(12)]
    voided = [p.copy() for p in good[:4]]
    voided[0][70] = np.nan
    voided[1][0] = np.inf
    voided[2][-1] = -np.inf
    voided[3][1:5] = np.nan
    profiles = [*good, *voided, np.array([100.0]), np.empty(0)]
    n = len(profiles)
    step = np.full(n, 90.0)
    step[2] = 0.0  # bad step
    step[3] = np.nan
    h_tx = np.full(n, 30.0)
    h_tx[4] = 0.2  # error 1000
    h_rx = np.full(n, 1.5)
    h_rx[5] = 4000.0  # error 1001
    f = np.full(n, 900.0)
    f[6] = 10.0  # error 1009
    f[7] = 30.0  # frequency warning only
    ref = _assert_same(profiles, step, h_tx, h_rx, f)
    assert (ref[2] >= 1000).sum() >= 10
    assert {1000, 1001, 1009, 2000, 2001, 2002} <= set(ref[2].tolist())


@pytest.mark.realdata
def test_real_srtm3_paths_with_voids(hoabinh):
    import rasterio

    with rasterio.open(hoabinh / "dem" / "srtm3_N21E105.tif") as ds:
        dem = ds.read(1).astype(float)
        if ds.nodata is not None:
            dem[dem == ds.nodata] = np.nan
    rng = np.random.default_rng(2024)
    profiles, steps = [], []
    rows, cols = dem.shape
    while len(profiles) < 3000:
        r0, c0 = rng.uniform(1, rows - 2), rng.uniform(1, cols - 2)
        az = rng.uniform(0, 2 * np.pi)
        n_px = rng.uniform(1.0, 560.0)  # 90 m to 50 km
        r1, c1 = r0 + n_px * np.cos(az), c0 + n_px * np.sin(az)
        if not (0 <= r1 < rows - 1 and 0 <= c1 < cols - 1):
            continue
        k = max(2, int(np.ceil(n_px)) + 1)
        r, c = np.linspace(r0, r1, k), np.linspace(c0, c1, k)
        ri, ci = np.floor(r).astype(int), np.floor(c).astype(int)
        fr, fc = r - ri, c - ci
        z = (dem[ri, ci] * (1 - fr) * (1 - fc) + dem[ri, ci + 1] * (1 - fr) * fc
             + dem[ri + 1, ci] * fr * (1 - fc) + dem[ri + 1, ci + 1] * fr * fc)
        profiles.append(z)
        steps.append(n_px * 90.0 / (k - 1))
    f = rng.choice([780.0, 947.5, 1842.5, 2140.0, 2595.0, 3750.0], len(profiles))
    ref = _assert_same(profiles, np.array(steps), 30.0, 1.5, f)
    assert (ref[2] == 0).sum() + (ref[2] == 1).sum() > 2500  # most paths are valid


def test_multi_frequency_driver_matches_the_reference():
    """The point engine's driver (one profile analysis per path, several bands) on the same
    fast kernels: each (path, band) within the bar of the reference run path by path."""
    from phusong.coverage._itm_kernel import p2p_multi_batch_serial

    rng = np.random.default_rng(9)
    n = 400
    profiles = [300.0 + np.cumsum(rng.normal(0.0, 15.0, k)) for k in rng.integers(2, 500, n)]
    profiles[7] = profiles[7].copy()
    profiles[7][3] = np.nan  # a void: error 2001 on every band of that path
    bands = [np.unique(rng.choice([700.0, 947.5, 1842.5, 2140.0, 2595.0, 3750.0, 15.0],
                                  rng.integers(1, 5)))
             for _ in range(n)]
    count = np.array([len(p) for p in profiles], np.int64)
    start = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
    flat = np.concatenate(profiles)
    ptr = np.concatenate([[0], np.cumsum([len(b) for b in bands])]).astype(np.int64)
    f = np.concatenate(bands)
    m = len(f)
    step, h_tx, h_rx = rng.uniform(30.0, 200.0, n), np.full(n, 30.0), np.full(n, 1.5)
    loss, warn, code = np.empty(m), np.zeros(m, np.int64), np.zeros(m, np.int32)
    p2p_multi_batch_serial(flat, start, count, step, h_tx, h_rx, ptr, f, 1, 15.0, 0.005, 301.0,
                           5, 50.0, 50.0, 50.0, 12, loss, warn, code)
    path = np.repeat(np.arange(n), np.diff(ptr))
    ref = _run(p2p_batch_reference, [profiles[i] for i in path], step[path], 30.0, 1.5, f)
    np.testing.assert_array_equal(code, ref[2])
    np.testing.assert_array_equal(warn, ref[1])
    assert {1009, 2001} <= set(code.tolist())
    ok = np.isfinite(ref[0])
    np.testing.assert_array_equal(np.isfinite(loss), ok)
    np.testing.assert_allclose(loss[ok], ref[0][ok], rtol=0, atol=TOL_DB)


def test_horizons_in_two_lanes_are_the_reference_bit_for_bit():
    """``find_horizons_fast`` computes each sample's two horizon candidates as one two-lane
    vector expression: the same IEEE operations per lane, so angles and distances must be
    the reference's floats exactly (they feed the terrain-line cuts to whole samples)."""
    from phusong.coverage._itm_terrain import find_horizons
    from phusong.coverage._itm_terrain_fast import find_horizons_fast

    rng = np.random.default_rng(21)
    cases = []
    for _ in range(3000):
        k = int(rng.integers(2, 900))
        z = 300.0 + np.cumsum(rng.normal(0.0, rng.uniform(0.0, 40.0), k))
        cases.append((z, rng.uniform(1.0, 500.0)))
    # flat, ramps, a lone ridge, ties between samples, huge and tiny heights, exact steps
    for k in (2, 3, 10, 217, 560):
        ridge = np.zeros(k)
        ridge[k // 2] = 150.0
        cases += [(np.zeros(k), 90.0), (np.linspace(0.0, 800.0, k), 30.0), (ridge, 90.0),
                  (np.tile([0.0, 50.0], k)[:k], 90.0), (np.full(k, 1e300), 90.0),
                  (rng.normal(0.0, 1e-9, k), 0.1), (-400.0 + rng.normal(0.0, 5.0, k), 1e5)]
    for z, xi in cases:
        n_int = len(z) - 1
        a_e = rng.uniform(6.0e6, 1.2e7)
        h_tx, h_rx = rng.uniform(0.5, 300.0), rng.uniform(0.5, 30.0)
        want = np.array(find_horizons(z, n_int, xi, a_e, h_tx, h_rx))
        got = np.array(find_horizons_fast(z, n_int, xi, a_e, h_tx, h_rx))
        np.testing.assert_array_equal(got, want)  # exact (NaN where the reference has NaN)
