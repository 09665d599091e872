"""Tests of the Longley-Rice ITM (phusong.coverage.itm): NTIA reference vectors, physical limits,
broadcasting, ragged batches, thread independence and bad input."""

from __future__ import annotations

import csv
import math

import numba
import numpy as np
import pytest

from phusong.coverage.itm import (
    ERROR_TEXT,
    WARNING_TEXT,
    describe_warnings,
    itm_area,
    itm_p2p,
    itm_p2p_batch,
    itm_p2p_loss_db,
    itm_p2p_loss_db_batch,
)
from phusong.errors import ModelError, ValidityWarning

# The NTIA reference values are printed to 0.01 dB (p2p) and 0.1 dB (area); the bar is
# 0.1 dB, which we keep for both.
ORACLE_TOL_DB = 0.1


def _read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _column(rows, key, kind=float):
    return np.array([kind(r[key]) for r in rows])


def _oracle_options(rows) -> dict:
    """Keyword options of the NTIA reference rows (same column names in p2p.csv and area.csv)."""
    return {
        "polarization": _column(rows, "pol", int),
        "epsilon": _column(rows, "epsilon"),
        "sigma": _column(rows, "sigma"),
        "n0": _column(rows, "N_0"),
        "climate": _column(rows, "climate", int),
        "time_pct": _column(rows, "time"),
        "location_pct": _column(rows, "location"),
        "situation_pct": _column(rows, "situation"),
        "mdvar": _column(rows, "mdvar", int),
    }


def _flat(d_km: float, step_m: float = 100.0) -> np.ndarray:
    return np.zeros(int(round(d_km * 1000.0 / step_m)) + 1)


def _ridge(height_m: float = 150.0, n: int = 201) -> np.ndarray:
    z = np.zeros(n)
    z[n // 2] = height_m
    return z


def _random_profiles(n_paths: int, seed: int = 7) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, 400, n_paths)
    return [300.0 + np.cumsum(rng.normal(0.0, 12.0, k)) for k in lengths]


# --- NTIA reference vectors -------------------------------------------------------------------
def test_ntia_point_to_point_cases(oracles):
    folder = oracles / "ntia_itm"
    rows = _read_csv(folder / "p2p.csv")
    pfls = [
        [float(v) for v in line.split(",")]
        for line in (folder / "pfls.csv").read_text().splitlines()
        if line.strip()
    ]
    assert len(rows) == len(pfls) == 5
    for pfl in pfls:  # pfl: number of intervals, interval length, then intervals + 1 heights
        assert len(pfl) - 2 == int(pfl[0]) + 1
    res = itm_p2p(
        [np.array(p[2:]) for p in pfls],
        [p[1] for p in pfls],
        _column(rows, "h_tx__meter"),
        _column(rows, "h_rx__meter"),
        _column(rows, "f__mhz"),
        **_oracle_options(rows),
    )
    expected = _column(rows, "A__db")
    np.testing.assert_allclose(res.loss_db, expected, rtol=0, atol=ORACLE_TOL_DB)
    assert res.valid.all()
    # path length is intervals x interval length
    np.testing.assert_allclose(res.d_km, [p[0] * p[1] / 1000 for p in pfls], rtol=1e-12)


def test_ntia_area_cases(oracles):
    rows = _read_csv(oracles / "ntia_itm" / "area.csv")
    res = itm_area(
        _column(rows, "d__km"),
        _column(rows, "delta_h__meter"),
        _column(rows, "h_tx__meter"),
        _column(rows, "h_rx__meter"),
        _column(rows, "f__mhz"),
        tx_siting=_column(rows, "tx_siting_criteria", int),
        rx_siting=_column(rows, "rx_siting_criteria", int),
        **_oracle_options(rows),
    )
    np.testing.assert_allclose(res.loss_db, _column(rows, "A__db"), rtol=0, atol=ORACLE_TOL_DB)


# --- hand-checkable limits ------------------------------------------------------------------
def test_free_space_term_is_the_textbook_formula():
    res = itm_p2p([_flat(7.3, 73.0)], 73.0, 20.0, 2.0, 1842.5)
    # 32.45 + 20 lg f_MHz + 20 lg d_km, exact up to float rounding
    assert res.a_fs_db[0] == pytest.approx(32.45 + 20 * math.log10(1842.5) + 20 * math.log10(7.3),
                                           abs=1e-9)
    assert res.loss_db[0] == pytest.approx(res.a_fs_db[0] + res.a_ref_db[0], abs=0.05)


def test_short_flat_path_inside_two_ray_break_distance_is_free_space():
    # 1 km, 30 m / 30 m at 900 MHz: well inside the break distance 4 h1 h2 / lambda = 10.8 km,
    # where ITM's line-of-sight fit falls below zero and is clamped at A_ref = 0; the median
    # climate term V_med at d_e = 130 km * 1/87 km is ~3e-4 dB. So loss = free space to 0.01 dB.
    loss = itm_p2p_loss_db([_flat(1.0)], 100.0, 30.0, 30.0, 900.0)[0]
    assert loss == pytest.approx(32.45 + 20 * math.log10(900.0), abs=0.01)


@pytest.mark.parametrize("d_km", [5.0, 10.0])
def test_flat_earth_line_of_sight_follows_plane_earth_two_ray(d_km):
    # Beyond the break distance (540 m here) two rays over a reflecting plane give
    # L = 40 lg d - 20 lg(h1 h2). ITM's line-of-sight curve is a log-linear fit through that
    # physics on a curved (4/3) earth with |R| slightly below 1: 1.5 dB covers both effects at
    # 5-10 km, far below the 27.6 km smooth-earth horizon.
    res = itm_p2p([_flat(d_km)], 100.0, 30.0, 1.5, 900.0)
    two_ray = 40 * math.log10(d_km * 1000.0) - 20 * math.log10(30.0 * 1.5)
    assert res.mode[0] == 1
    assert res.delta_h_m[0] == 0.0  # flat ground has no irregularity
    assert res.loss_db[0] == pytest.approx(two_ray, abs=1.5)


def test_loss_grows_with_distance_on_flat_terrain():
    d_km = [1, 2, 5, 10, 20, 30, 40, 60, 80]
    res = itm_p2p([_flat(d) for d in d_km], 100.0, 30.0, 1.5, 900.0)
    assert np.all(np.diff(res.loss_db) > 0)
    # and the path leaves line of sight beyond the ~27.6 km smooth-earth horizon
    assert res.mode[0] == 1 and res.mode[-1] in (2, 3)


def test_loss_over_a_ridge_grows_faster_than_free_space_with_frequency():
    freqs = np.array([150.0, 450.0, 900.0, 1800.0, 3500.0])
    ridge = itm_p2p_loss_db([_ridge()] * len(freqs), 100.0, 30.0, 1.5, freqs)
    flat = itm_p2p_loss_db([np.zeros(201)] * len(freqs), 100.0, 30.0, 1.5, freqs)
    assert np.all(np.diff(ridge) > 0)
    # diffraction adds ~10 lg f on top of free space's 20 lg f, so from 450 to 1800 MHz the
    # obstructed path loses more than the 12.04 dB of free space alone
    assert ridge[3] - ridge[1] > 20 * math.log10(4.0)
    assert np.all(ridge > flat + 10.0)  # a 150 m ridge on a 20 km path costs well over 10 dB


# --- shapes, batches, threads -----------------------------------------------------------------
def test_scalars_and_per_path_arrays_agree():
    profiles = _random_profiles(6)
    n = len(profiles)
    a = itm_p2p(profiles, 90.0, 25.0, 1.5, 947.5, climate=2)
    b = itm_p2p(profiles, np.full(n, 90.0), np.full(n, 25.0), [1.5] * n, np.full(n, 947.5),
                climate=np.full(n, 2))
    np.testing.assert_array_equal(a.loss_db, b.loss_db)
    freqs = np.array([700.0, 900.0, 1800.0, 2100.0, 2600.0, 3500.0])
    mixed = itm_p2p_loss_db(profiles, 90.0, 25.0, 1.5, freqs)
    for i, f in enumerate(freqs):
        assert mixed[i] == itm_p2p_loss_db([profiles[i]], 90.0, 25.0, 1.5, f)[0]


def test_ragged_list_matches_padded_batch_and_ignores_padding():
    profiles = _random_profiles(40)
    width = max(len(p) for p in profiles)
    padded = np.full((len(profiles), width), np.nan)  # padding is never read
    for i, p in enumerate(profiles):
        padded[i, : len(p)] = p
    counts = [len(p) for p in profiles]
    a = itm_p2p(profiles, 90.0, 30.0, 1.5, 1842.5)
    b = itm_p2p_batch(padded, counts, 90.0, 30.0, 1.5, 1842.5)
    np.testing.assert_array_equal(a.loss_db, b.loss_db)
    np.testing.assert_array_equal(a.warnings, b.warnings)
    np.testing.assert_array_equal(
        itm_p2p_loss_db_batch(padded, counts, 90.0, 30.0, 1.5, 1842.5), a.loss_db
    )
    one = itm_p2p_loss_db([profiles[5]], 90.0, 30.0, 1.5, 1842.5)
    assert one[0] == a.loss_db[5]
    # a full 2-D array is taken row by row
    square = np.vstack([p[:50] for p in profiles if len(p) >= 50])
    rows = [r for r in square]
    np.testing.assert_array_equal(
        itm_p2p_loss_db(square, 90.0, 30.0, 1.5, 900.0), itm_p2p_loss_db(rows, 90.0, 30.0, 1.5, 900.0)
    )
    assert np.all(np.isfinite(a.loss_db)) and set(np.unique(a.mode)) <= {1, 2, 3}


def test_results_identical_with_one_and_two_threads():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba was started with a single thread")
    profiles = _random_profiles(700, seed=11)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = itm_p2p(profiles, 90.0, 30.0, 1.5, 900.0)
        numba.set_num_threads(2)
        two = itm_p2p(profiles, 90.0, 30.0, 1.5, 900.0)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one.loss_db, two.loss_db)
    np.testing.assert_array_equal(one.warnings, two.warnings)
    np.testing.assert_array_equal(one.mode, two.mode)


# --- warnings and bad input ----------------------------------------------------------------
def test_reference_warning_bits_and_text():
    res = itm_p2p([_flat(0.5, 50.0)], 50.0, 10.0, 1.5, 900.0)
    assert res.warnings[0] & 0x0040  # path shorter than 1 km
    assert res.error_codes[0] == 1 and res.valid[0]
    assert "path shorter than 1 km" in describe_warnings(int(res.warnings[0]))
    assert len(WARNING_TEXT) == 15 and all(bin(b).count("1") == 1 for b in WARNING_TEXT)


def test_frequency_near_limits_warns_and_outside_limits_fails():
    with pytest.warns(ValidityWarning, match="frequency outside 40-10,000 MHz"):
        res = itm_p2p([_flat(5.0)], 100.0, 30.0, 1.5, 30.0)
    assert res.warnings[0] & 0x0004 and res.error_codes[0] == 1
    with pytest.raises(ModelError, match=r"path 1: frequency outside 20-20,000 MHz.*freq_mhz=25000"):
        itm_p2p([_flat(5.0)] * 2, 100.0, 30.0, 1.5, [900.0, 25000.0])


def test_negative_height_is_an_error_naming_the_path():
    with pytest.raises(ModelError, match=r"path 2: receiver height outside 0\.5-3,000 m"):
        itm_p2p_loss_db([_flat(5.0)] * 3, 100.0, 30.0, [1.5, 1.5, -1.0], 900.0)
    with pytest.raises(ModelError, match=r"path 0: transmitter height"):
        itm_p2p_loss_db([_flat(5.0)], 100.0, 0.2, 1.5, 900.0)


def test_bad_profiles_name_the_path_index():
    good = _flat(5.0)
    holed = good.copy()
    holed[10] = np.nan
    with pytest.raises(ModelError, match=r"path 1: profile has a NaN"):
        itm_p2p_loss_db([good, holed, good], 100.0, 30.0, 1.5, 900.0)
    with pytest.raises(ModelError, match=r"path 2: profile has fewer than 2 samples"):
        itm_p2p_loss_db([good, good, np.array([5.0])], 100.0, 30.0, 1.5, 900.0)
    with pytest.raises(ModelError, match=r"path 0: profile step"):
        itm_p2p_loss_db([good], 0.0, 30.0, 1.5, 900.0)
    with pytest.raises(ModelError, match=r"path 1: profile must be 1-D"):
        itm_p2p_loss_db([good, np.zeros((3, 3))], 100.0, 30.0, 1.5, 900.0)
    with pytest.raises(ModelError, match="wrap a single profile in a list"):
        itm_p2p_loss_db(good, 100.0, 30.0, 1.5, 900.0)


def test_flag_mode_keeps_good_paths_and_marks_bad_ones():
    good = _flat(5.0)
    holed = good.copy()
    holed[3] = np.inf
    res = itm_p2p([good, holed, good], 100.0, 30.0, 1.5, 900.0, on_error="flag")
    assert res.valid.tolist() == [True, False, True]
    assert res.error_codes[1] == 2001 and ERROR_TEXT[2001].startswith("profile has a NaN")
    assert np.isinf(res.loss_db[1]) and res.loss_db[0] == res.loss_db[2] < 200.0


def test_option_checks():
    profile = [_flat(5.0)]
    with pytest.raises(ModelError, match="climate"):
        itm_p2p_loss_db(profile, 100.0, 30.0, 1.5, 900.0, climate=8)
    with pytest.raises(ModelError, match="polarization must be an integer code"):
        itm_p2p_loss_db(profile, 100.0, 30.0, 1.5, 900.0, polarization=0.5)
    with pytest.raises(ModelError, match="time percentage"):
        itm_p2p_loss_db(profile, 100.0, 30.0, 1.5, 900.0, time_pct=100.0)
    with pytest.raises(ModelError, match=r"freq_mhz has shape \(2,\)"):
        itm_p2p_loss_db(profile, 100.0, 30.0, 1.5, [900.0, 1800.0])
    with pytest.raises(ModelError, match="n_samples=9 outside 0-5"):
        itm_p2p_batch(np.zeros((2, 5)), [5, 9], 100.0, 30.0, 1.5, 900.0)
    assert itm_p2p_loss_db([], 100.0, 30.0, 1.5, 900.0).shape == (0,)


def test_percentiles_move_loss_the_right_way():
    profile = [_ridge()] * 3
    # loss not exceeded 90 % of the time is higher than the median, 10 % lower
    loss = itm_p2p_loss_db(profile, 100.0, 30.0, 1.5, 900.0, time_pct=[10.0, 50.0, 90.0], mdvar=1)
    assert loss[0] < loss[1] < loss[2]


def test_terrain_irregularity_of_a_sine_and_of_a_ramp():
    x = np.arange(301) * 100.0  # 30 km at 100 m
    ramp = 200.0 + 0.01 * x
    assert itm_p2p([ramp], 100.0, 10.0, 1.5, 900.0).delta_h_m[0] == pytest.approx(0.0, abs=1e-6)
    # A sine of amplitude A about a line has interdecile range 2 A cos(0.1 pi) = 95.1 m (A = 50);
    # ITM scales it to the asymptotic delta h by 1 / (1 - 0.8 exp(-L / 50 km)) over the analysed
    # length L = 30 km - 15 h_tx - 15 h_rx. 4 % covers the sample deciles of ITM's 245-point
    # resampling (rank 25 of 245 is the 10.2 % point) and linear interpolation of the peaks.
    length = 30000.0 - 150.0 - 22.5
    expected = 2 * 50.0 * math.cos(0.1 * math.pi) / (1 - 0.8 * math.exp(-length / 50e3))
    for period_m in (1700.0, 2000.0, 3100.0):
        z = ramp + 50.0 * np.sin(2 * np.pi * x / period_m)
        got = itm_p2p([z], 100.0, 10.0, 1.5, 900.0).delta_h_m[0]
        assert got == pytest.approx(expected, rel=0.04)


def test_branch_free_deciles_equal_the_general_order_statistics():
    from phusong.coverage._itm_terrain import (
        DELTA_H_BUFFER,
        _interdecile_4,
        kth_largest,
        linear_fit,
    )

    rng = np.random.default_rng(11)
    tmp = np.empty(25)
    for trial in range(200):
        n = 35  # 10 p - 5 points with p = 4: every path up to ~40 samples and every capped ray
        z = np.round(rng.normal(0.0, 30.0, n), 0 if trial % 2 else 6)  # with and without ties
        buf = np.empty(DELTA_H_BUFFER)
        buf[:n] = z
        y0, y1 = linear_fit(buf, n - 1, 1.0, 0.0, float(n - 1))
        slope = (y1 - y0) / (n - 1)
        fast = _interdecile_4(buf, n, y0, slope, 5000.0)
        res = buf[:n] - (y0 + slope * np.arange(n))  # independent check by sorting (below)
        y = y0
        for j in range(n):
            buf[j] -= y
            y += slope
        q10, q90 = kth_largest(buf, 0, n, 4, tmp), kth_largest(buf, 0, n, n - 3, tmp)
        general = (q10 - q90) / (1.0 - 0.8 * math.exp(-5000.0 / 50e3))
        # Same residuals (same operations) and exact order statistics: identical bits.
        assert fast == general
        assert np.isclose(q10, np.sort(res)[-4], atol=1e-9)  # the 4th largest, up to rounding


def test_kth_largest_is_the_sorted_value():
    from phusong.coverage._itm_terrain import kth_largest

    rng = np.random.default_rng(5)
    tmp = np.empty(25)
    for trial in range(300):
        m = int(rng.integers(1, 49))
        a = np.round(rng.normal(0.0, 20.0, m + 7), 0 if trial % 2 else 6)  # ties, no ties
        lo = int(rng.integers(0, 8))
        k = int(rng.integers(1, m + 1))
        if min(k, m - k + 1) > 25:
            continue
        assert kth_largest(a, lo, m, k, tmp) == np.sort(a[lo:lo + m])[::-1][k - 1]


@pytest.mark.parametrize("p10", [5, 9, 16, 25])
def test_interdecile_gathers_the_tails_exactly(p10):
    # Residual order statistics from the gathered tails equal those of a full sort, bit for
    # bit, for gentle, heavy-tailed, one-sided and tied terrain (some take the fallback: fewer
    # than p10 beyond mean ± 0.9 sd).
    from phusong.coverage._itm_terrain import DELTA_H_BUFFER, interdecile, linear_fit

    rng = np.random.default_rng(p10)
    n = 10 * p10 - 5
    shapes = [rng.normal(0, 25, n), rng.standard_t(1.5, n) * 10, np.abs(rng.normal(0, 25, n)),
              np.round(rng.normal(0, 3, n)), np.r_[np.zeros(n - 3), 500.0, 500.0, -400.0],
              np.zeros(n), np.linspace(0, 1, n) ** 8 * 300]
    # skewed both ways, mixtures and plateaus: the tail thresholds land on every rung of the
    # coarse grid and of the narrowing grid (counted in the tail), ties included
    for _ in range(40):
        mix = rng.exponential(rng.uniform(1, 60), n) * rng.choice([-1.0, 1.0])
        mix[rng.random(n) < rng.uniform(0, 0.5)] = rng.normal(0, rng.uniform(0.1, 40))
        shapes.append(np.round(mix, int(rng.integers(0, 3))))
    for z in shapes:
        buf = np.empty(DELTA_H_BUFFER)
        buf[:n] = 300.0 + z
        ref = buf[:n].copy()
        y0, y1 = linear_fit(buf, n - 1, 1.0, 0.0, float(n - 1))
        slope = (y1 - y0) / (n - 1)
        y = y0
        for j in range(n):  # the residuals exactly as interdecile forms them
            ref[j] -= y
            y += slope
        srt = np.sort(ref)
        want = (srt[-p10] - srt[p10 - 1]) / (1.0 - 0.8 * math.exp(-20e3 / 50e3))
        assert interdecile(buf, n, p10, 20e3) == want
