"""The reworked P.1812 path kernel (issue 19: vectorised passes, fewer transcendental calls)
against the kernel as it was before (``tests/_p1812_kernel_before.py``, frozen), on the ITU's
63 profiles and on random ones, and its branch-free profile checks against the scalar ones."""

from __future__ import annotations

import numpy as np
import pytest

from phusong.coverage.p1812 import _kernel as K
from phusong.coverage.p1812._inputs import first_bad_in
from tests import _p1812_kernel_before as REF
from tests.test_p1812 import CASES, ORACLE, read_profile

# Only rounding separates the two kernels: sums added in another order, powers taken through
# logarithms, (60) and (63) in their log1p form. Measured: ≤ 2e-11 dB on 18,000 random paths.
# A horizon or Bullington point found differently would move Lb by far more than 1e-9 dB.
TOL_DB = 1e-9


def _flat(ds, hs, rs, zs):
    count = np.array([len(d) for d in ds])
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    return (np.concatenate(ds), np.concatenate(hs), np.concatenate(rs).astype(float),
            np.concatenate(zs).astype(np.int8), start, count)


def _both(flat, par):
    args = flat + tuple(np.asarray(par[k]) for k in (
        "f", "p", "pl", "htg", "hrg", "pol", "phi", "dn", "n0", "dct", "dcr", "sig", "att4"))
    return K.loss_batch(*args, True), REF.loss_batch(*args, True)


def _check(new, old):
    (lb, diag), (lb_ref, diag_ref) = new, old
    assert np.isfinite(lb).all()
    np.testing.assert_allclose(lb, lb_ref, rtol=0, atol=TOL_DB)
    # the horizon distances of (80)-(83) and the section lengths: the same points
    for name in ("dlt", "dlr", "omega", "dtm", "dlm"):
        i = K.DIAG_NAMES.index(name)
        np.testing.assert_allclose(diag[:, i], diag_ref[:, i], rtol=1e-12, atol=1e-12)


@pytest.mark.realdata
@pytest.mark.skipif(not CASES, reason=f"{ORACLE} is absent (ITU validation data is never "
                    "copied into the repository; set PHUSONG_SHARED to its ../shared)")
def test_reworked_kernel_equals_the_previous_one_on_the_itu_profiles():
    prof = {c["file"]: read_profile(ORACLE / "profiles" / c["file"]) for c in CASES}
    flat = _flat(*([prof[c["file"]][q] for c in CASES] for q in (0, 1, 2, 3)))
    f = lambda k: np.array([float(c[k]) for c in CASES])  # noqa: E731
    n = len(CASES)
    par = dict(f=f("f_mhz") / 1000.0, p=f("time_pct"), pl=np.full(n, 50.0), htg=f("htg_m"),
               hrg=f("hrg_m"), pol=f("pol").astype(np.int64),
               phi=0.5 * (f("tx_lat") + f("rx_lat")), dn=f("dn"), n0=f("n0"),
               dct=np.full(n, 500.0), dcr=np.full(n, 500.0), sig=np.zeros(n),
               att4=np.zeros(n, bool))
    _check(*_both(flat, par))
    par["pl"], par["sig"] = np.full(n, 90.0), np.full(n, 5.5)  # location variability too
    _check(*_both(flat, par))


def _random_paths(n_paths, seed):
    """Any spacing, flat / rough / noisy / wavy terrain, with and without clutter, one zone or
    several, every parameter drawn over its range (sea-coast distances, Attachment 4)."""
    rng = np.random.default_rng(seed)
    ds, hs, rs, zs = [], [], [], []
    for _ in range(n_paths):
        n = int(rng.integers(5, 400))
        dist = rng.uniform(0.2, 150.0)
        if rng.random() < 0.5:
            d = np.linspace(0.0, dist, n)
        else:
            inc = rng.exponential(1.0, n - 1)
            d = np.concatenate([[0.0], np.cumsum(inc)]) * dist / inc.sum()
        kind = rng.integers(0, 4)
        if kind == 0:  # flat: points tie but for the earth's curvature
            h = np.full(n, rng.uniform(0, 500))
        elif kind == 1:
            h = rng.uniform(0, 2000) + np.cumsum(rng.normal(0, rng.uniform(1, 60), n))
        elif kind == 2:
            h = rng.uniform(0, 300, n)
        else:
            h = 500 * np.sin(d / rng.uniform(1, 20)) + 600
        h = np.maximum(h, 0.0)
        r = np.zeros(n) if rng.random() < 0.5 else rng.choice([0.0, 5, 10, 15, 20], n)
        z = np.full(n, 4 if rng.random() < 0.5 else int(rng.choice([1, 3, 4])))
        if rng.random() < 0.4:
            for _ in range(rng.integers(1, 4)):
                i0 = rng.integers(0, n)
                z[i0:rng.integers(i0, n + 1)] = rng.choice([1, 3, 4])
        ds.append(d)
        hs.append(h)
        rs.append(r)
        zs.append(z)
    m = n_paths
    par = dict(f=rng.uniform(0.03, 6.0, m),
               p=np.where(rng.random(m) < 0.3, 50.0, rng.uniform(1, 50, m)),
               pl=rng.uniform(1, 99, m), htg=rng.uniform(1, 300, m), hrg=rng.uniform(1, 30, m),
               pol=rng.integers(1, 3, m), phi=rng.uniform(-85, 85, m),
               dn=rng.uniform(5, 150, m), n0=rng.uniform(250, 450, m),
               dct=rng.uniform(0, 10, m), dcr=rng.uniform(0, 10, m),
               sig=np.where(rng.random(m) < 0.5, 0.0, rng.uniform(0, 10, m)),
               att4=rng.random(m) < 0.1)
    return _flat(ds, hs, rs, zs), par


@pytest.mark.parametrize("seed", [0, 1])
def test_reworked_kernel_equals_the_previous_one_on_random_paths(seed):
    _check(*_both(*_random_paths(600, seed)))


def test_reworked_kernel_equals_the_previous_one_with_zero_stride_inputs():
    # the public function passes one zone / clutter value for every point as a zero-stride
    # view: read once in the checks, the same losses
    (d, h, _, _, start, count), par = _random_paths(200, 2)
    r = np.broadcast_to(np.asarray(7.5), d.shape)
    z = np.broadcast_to(np.asarray(3, np.int8), d.shape)
    _check(*_both((d, h, r, z, start, count), par))


@pytest.mark.parametrize("spoil", ["zone", "nan_d", "inf_h", "neg_r", "nan_r", "start",
                                   "order", "order_last", "none"])
def test_branch_free_checks_agree_with_the_scalar_ones(spoil):
    rng = np.random.default_rng(7)
    n = 40
    d = np.linspace(0.0, 10.0, n)
    h = rng.uniform(0, 100, n)
    r = rng.uniform(0, 10, n)
    z = np.full(n, 4, np.int8)
    i = 17
    if spoil == "zone":
        z[i] = 2
    elif spoil == "nan_d":
        d[i] = np.nan
    elif spoil == "inf_h":
        h[i] = np.inf
    elif spoil == "neg_r":
        r[i] = -1.0
    elif spoil == "nan_r":
        r[i] = np.nan
    elif spoil == "start":
        d[0] = 0.1
    elif spoil == "order":
        d[i] = d[i - 1]
    elif spoil == "order_last":
        d[-1] = d[-2]
    ok, one_zone, clutter = K.profile_flags(d, h, r, z, 0, n)
    assert ok == (first_bad_in(d, h, r, z, 0, n)[0] == 0) == (spoil == "none")
    assert one_zone == (spoil != "zone") and clutter
    ok, _, clutter = K.profile_flags(d, h, np.zeros(n), z, 0, n)
    assert not clutter


def test_fmax_is_max():
    @K.njit
    def run(x):
        best = -np.inf
        for v in x:
            best = K.fmax(best, v)
        return best, K.fmax(-0.0, 3.5), K.fmax(2.0, -1.0)

    x = np.random.default_rng(0).normal(size=1001)
    assert run(x) == (x.max(), 3.5, 2.0)


@pytest.mark.parametrize("n", [1, 7, 8, 9, 16, 17, 40])
def test_block_searches_find_the_first_and_last_equal_value(n):
    rng = np.random.default_rng(n)
    v = rng.integers(0, 4, n + 3).astype(float)
    for x in (0.0, 3.0, 9.0):  # 9: absent
        hits = np.flatnonzero(v[2:n + 2] == x) + 2
        assert K.first_at(v, 2, n + 2, x) == (hits[0] if hits.size else 2)
        assert K.last_at(v, 2, n + 2, x, -1) == (hits[-1] if hits.size else -1)


def test_path_loss_of_an_invalid_profile_is_nan():
    # the engine's entry point: a void (NaN) height gives NaN, not a loss from undefined maxima
    d = np.linspace(0.0, 10.0, 30)
    h = np.full(30, 100.0)
    r = np.zeros(30)
    z = np.full(30, 4, np.int8)
    args = (np.empty((K.N_SCRATCH, 30)), 0.9, 50.0, 50.0, 30.0, 1.5, 2, 21.0, 50.0, 375.0,
            500.0, 500.0, 0.0, False, np.empty(0))
    assert np.isfinite(K.path_loss(d, h, r, z, 0, 30, *args))
    h[12] = np.nan
    assert np.isnan(K.path_loss(d, h, r, z, 0, 30, *args))
