"""ITU-R P.1812 (phusong.coverage.p1812): the ITU's 63 validation cases, hand-computed
sub-model checks and bad input.

The validation data (validation data from eeveetza/Py1812 (OFCOM)) lives in
``../shared/oracles/itu_p1812/`` and is never copied into the repository.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from phusong.coverage import p1812_field_dbuvm, p1812_loss_db
from phusong.coverage.p1812 import p1812_location_sigma_db
from phusong.coverage.p1812._inputs import path_centre_lat_deg
from phusong.coverage.p1812._kernel import beta0, inv_cum_norm
from phusong.errors import ModelError, PhusongError
from tests.conftest import ORACLES

ORACLE = ORACLES / "itu_p1812"  # ../shared, or $PHUSONG_SHARED


def read_profile(path: Path):
    """(d, h, R, zone) of an SG 3 databank csv: the lines after ``Number of Points:``."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    i = next(k for k, s in enumerate(lines) if s.startswith("Number of Points:"))
    n = int(lines[i].split(",")[1])
    rows = [s.split(",") for s in lines[i + 1:i + 1 + n]]
    d, h, _, r, z = (np.array([float(row[c]) for row in rows]) for c in range(5))
    return d, h, r, z.astype(int)


def oracle_cases():
    if not (ORACLE / "expected.csv").exists():
        return []
    with open(ORACLE / "expected.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


CASES = oracle_cases()


def _flat(n=51, dist=10.0, h=100.0):
    d = np.linspace(0.0, dist, n)
    return d, np.full(n, h)


KW = dict(time_pct=50.0, tx_height_m=30.0, rx_height_m=10.0, polarization="vertical",
          zones=None, clutter_heights_m=None, delta_n=45.0, n0=325.0, tx_lat=21.0,
          tx_lon=105.0, rx_lat=21.05, rx_lon=105.0)


@pytest.mark.realdata
@pytest.mark.skipif(not CASES, reason=f"{ORACLE} is absent (ITU validation data is never "
                    "copied into the repository; set PHUSONG_SHARED to its ../shared)")
def test_all_63_itu_cases():
    assert len(CASES) == 63
    profiles = {c["file"]: read_profile(ORACLE / "profiles" / c["file"]) for c in CASES}
    f = lambda k: np.array([float(c[k]) for c in CASES])  # noqa: E731
    lb = p1812_loss_db(
        [profiles[c["file"]][0] for c in CASES], [profiles[c["file"]][1] for c in CASES],
        f("f_mhz"), time_pct=f("time_pct"), tx_height_m=f("htg_m"), rx_height_m=f("hrg_m"),
        polarization=f("pol").astype(int), zones=[profiles[c["file"]][3] for c in CASES],
        clutter_heights_m=[profiles[c["file"]][2] for c in CASES], delta_n=f("dn"),
        n0=f("n0"), tx_lat=f("tx_lat"), tx_lon=f("tx_lon"), rx_lat=f("rx_lat"),
        rx_lon=f("rx_lon"))
    ep = p1812_field_dbuvm(lb, f("f_mhz"), erp_dbw=f("erp_dbw"))
    # 1e-6 dB: the bar (the expected Ep is printed to 1e-8; some Lb values carry only
    # 7 decimals, so Lb agrees with Ep through eq. (70) to ~5e-8 dB at best)
    assert np.max(np.abs(ep - f("expected_ep_dbuvm"))) <= 1e-6
    assert np.max(np.abs(lb - f("expected_lb_db"))) <= 1e-6


def test_inverse_normal_against_scipy():
    # Attachment 2 states its approximation error is below 4.5e-4
    for x in (0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99):
        assert abs(inv_cum_norm(x) - norm.isf(x)) < 4.5e-4


def test_beta0_by_hand():
    # inland path at 20° latitude, 30 km inland: tau, mu1, mu4 of eqs. (2)-(5) by hand
    tau = 1 - math.exp(-4.12e-4 * 30**2.41)
    mu1 = min((10 ** (-30 / (16 - 6.6 * tau)) + 10 ** (-5 * (0.496 + 0.354 * tau))) ** 0.2, 1)
    want = 10 ** (-0.015 * 20 + 1.67) * mu1 * mu1 ** (-0.935 + 0.0176 * 20)
    assert beta0(20.0, 30.0, 30.0) == pytest.approx(want, rel=1e-12)  # same formula: rounding
    assert beta0(-75.0, 0.0, 0.0) == pytest.approx(4.17, rel=1e-12)  # mu1 = 1 at sea, |φ| > 70


def test_line_of_sight_is_free_space_at_50_percent():
    # a flat short path with high antennas: no diffraction (clearance), p = 50 % so Esp = 0,
    # ducting and troposcatter far weaker: Lb = Lbfs of eq. (8) with 92.4 + 20 log f + 20 log d
    d, h = _flat(51, 2.0, 0.0)
    lb, dg = p1812_loss_db([d], [h], 1000.0, **{**KW, "tx_height_m": 60.0,
                                                "rx_height_m": 60.0}, diagnostics=True)
    want = 92.4 + 20 * math.log10(1.0) + 10 * math.log10(2.0**2)
    assert dg["Lbfs"][0] == pytest.approx(want, abs=1e-9)  # closed form, rounding only
    assert lb[0] == pytest.approx(want, abs=0.01)  # tropo/ducting terms add < 0.01 dB here


def test_multipath_enhancement_below_50_percent():
    # eq. (9a): Esp = 2.6 (1 − exp(−0.1 (dlt + dlr))) log10(p/50); LoS path, dlt + dlr = d
    d, h = _flat(51, 2.0, 0.0)
    _, dg = p1812_loss_db([d], [h], 1000.0, **{**KW, "time_pct": 1.0, "tx_height_m": 60.0,
                                               "rx_height_m": 60.0}, diagnostics=True)
    esp = 2.6 * (1 - math.exp(-0.1 * 2.0)) * math.log10(1 / 50)
    assert dg["Lb0p"][0] - dg["Lbfs"][0] == pytest.approx(esp, abs=1e-9)  # closed form


def test_knife_edge_diffraction_by_hand():
    # one 60 m edge at mid-path on a 0 m, 10 km path, antennas 10 m: Bullington with one edge
    # reduces to J(ν) with ν of eq. (19); ae from ΔN = 45 (k50 = 157/112)
    n = 101
    d = np.linspace(0.0, 10.0, n)
    h = np.zeros(n)
    h[50] = 60.0
    kw = {**KW, "tx_height_m": 10.0, "rx_height_m": 10.0}
    _, dg = p1812_loss_db([d], [h], 600.0, **kw, diagnostics=True)
    ae = 6371 * 157 / (157 - 45)
    lam = 0.2998 / 0.6
    hh = 60 + 500 / ae * 5 * 5 - 10  # edge height above the Tx–Rx line plus earth bulge
    nu = hh * math.sqrt(0.002 * 10 / (lam * 5 * 5))
    j = 6.9 + 20 * math.log10(math.sqrt((nu - 0.1) ** 2 + 1) + nu - 0.1)
    lbull = j + (1 - math.exp(-j / 6)) * (10 + 0.02 * 10)
    # Ld50 = Lbulla + max(Ldsph − Lbulls, 0); the smooth-Earth part is small for 10 m antennas
    # over 10 km but not zero, so compare Ld50 − Lbulla with a separate smooth-earth run
    _, flat = p1812_loss_db([d], [np.zeros(n)], 600.0, **kw, diagnostics=True)
    assert dg["Ld50"][0] >= lbull - 1e-9
    assert dg["Ld50"][0] - lbull <= flat["Ld50"][0] + 1e-9


def test_troposcatter_by_hand():
    # eq. (44): Lbs = 190.1 + Lf + 20 log d + 0.573 θ − 0.15 N0 − 10.125 (log(50/p))^0.7
    d, h = _flat(201, 100.0, 0.0)
    _, dg = p1812_loss_db([d], [h], 2000.0, **{**KW, "time_pct": 10.0}, diagnostics=True)
    lf = 25 * math.log10(2.0) - 2.5 * math.log10(1.0) ** 2
    want = (190.1 + lf + 20 * 2 + 0.573 * dg["theta"][0] - 0.15 * 325
            - 10.125 * math.log10(5) ** 0.7)
    assert dg["Lbs"][0] == pytest.approx(want, abs=1e-9)  # closed form, rounding only
    ae = 6371 * 157 / 112
    # θ of eq. (84) for a smooth earth and 30/10 m antennas: 1e3 d/ae plus two negative angles
    assert 0 < dg["theta"][0] < 1e3 * 100 / ae


def test_ducting_dominates_long_sea_path_at_low_time():
    # 150 km over sea (zone 1), p = 1 %: ducting (Lba) brings Lb well below diffraction
    d, h = _flat(151, 150.0, 0.0)
    kw = {**KW, "time_pct": 1.0, "zones": [np.ones(151, int)], "tx_height_m": 50.0,
          "rx_height_m": 50.0}
    lb, dg = p1812_loss_db([d], [h], 2000.0, **kw, diagnostics=True)
    assert dg["omega"][0] == pytest.approx(1.0)  # the whole path is sea
    assert dg["Lba"][0] < dg["Lbd"][0]
    assert lb[0] < dg["Lbd"][0]


def test_clutter_raises_loss():
    # 15 m of trees along the path (not at the terminals) obstruct a 10 m receiver: §3.2
    d, h = _flat(101, 5.0, 100.0)
    r = np.full(101, 15.0)
    bare = p1812_loss_db([d], [h], 900.0, **KW)
    clut = p1812_loss_db([d], [h], 900.0, **{**KW, "clutter_heights_m": [r]})
    assert clut[0] > bare[0] + 3.0  # the clutter edge near the Rx is a real obstruction


def test_location_variability_by_hand():
    # eq. (67): Lloc = −I(pL/100) σL; with σL = 5.5 dB and pL = 90 %, Lb rises by 1.28 σL
    d, h = _flat(101, 20.0, 100.0)
    kw = {**KW, "sigma_l_db": 5.5}
    lb50 = p1812_loss_db([d], [h], 900.0, **kw)
    lb90 = p1812_loss_db([d], [h], 900.0, **{**kw, "location_pct": 90.0})
    # the approximation of Attachment 2 gives I(0.5) ≈ 1e-9, not exactly 0
    want = (inv_cum_norm(0.5) - inv_cum_norm(0.9)) * 5.5
    assert lb90[0] - lb50[0] == pytest.approx(want, abs=1e-9)  # same formula, rounding only
    assert lb90[0] - lb50[0] == pytest.approx(norm.ppf(0.9) * 5.5, abs=5.5 * 4.5e-4)
    assert p1812_location_sigma_db(1000.0, 1.5, 10.0)[0] == pytest.approx(
        0.544 * 100**0.28, rel=1e-12)  # receiver below clutter: uh = 1
    assert p1812_location_sigma_db(1000.0, 25.0, 10.0)[0] == 0.0  # 15 m above clutter


def test_field_strength_companion():
    # eq. (70) at 1 kW: Ep = 199.36 + 20 log f − Lb; 100 W is 10 dB lower
    assert p1812_field_dbuvm(120.0, 600.0)[0] == pytest.approx(
        199.36 + 20 * math.log10(0.6) - 120.0, abs=1e-12)
    assert p1812_field_dbuvm(120.0, 600.0, erp_dbw=20.0)[0] == pytest.approx(
        199.36 + 20 * math.log10(0.6) - 130.0, abs=1e-12)


def test_any_spacing_and_per_path_scalars():
    # a non-equidistant profile gives the same loss as its equidistant twin when the extra
    # points lie on the same straight terrain (flat ground): spacing-independent geometry
    d1, h1 = _flat(11, 10.0, 50.0)
    d2 = np.sort(np.concatenate([d1, [0.35, 3.3, 7.77]]))
    h2 = np.full(len(d2), 50.0)
    lb = p1812_loss_db([d1, d2], [h1, h2], np.array([900.0, 900.0]), **KW)
    assert lb[0] == pytest.approx(lb[1], abs=1e-6)  # same smooth earth, rounding only


def test_path_centre_latitude():
    # along a meridian the centre of a 111.2 km profile lies 0.5° north of Tx
    lat = path_centre_lat_deg(20.0, 105.0, 21.0, 105.0, 0.5 * 6371 * math.radians(1.0))
    assert lat[0] == pytest.approx(20.5, abs=1e-9)


@pytest.mark.parametrize("change, words", [
    ({"freq_mhz": 20.0}, "frequency 20 MHz"),
    ({"freq_mhz": 7000.0}, "30–6000 MHz"),
    ({"time_pct": 60.0}, "time percentage"),
    ({"time_pct": 0.5}, "1–50 %"),
    ({"location_pct": 99.5}, "location percentage"),
    ({"zones": [np.full(11, 2)]}, "zone code 2"),
    ({"polarization": "circular"}, "polarization"),
    ({"tx_height_m": 0.5}, "tx antenna height"),
])
def test_bad_input_one_line(change, words):
    d, h = _flat(11, 5.0, 10.0)
    kw = {**KW, **change}
    f = kw.pop("freq_mhz", 900.0)
    with pytest.raises(ModelError, match=words) as exc:
        p1812_loss_db([d], [h], f, **kw)
    assert isinstance(exc.value, PhusongError) and "\n" not in str(exc.value)


def test_short_profile_and_bad_distances():
    with pytest.raises(ModelError, match="at least 5"):
        p1812_loss_db([np.arange(4.0)], [np.zeros(4)], 900.0, **KW)
    with pytest.raises(ModelError, match="start at 0"):
        p1812_loss_db([np.arange(1.0, 7.0)], [np.zeros(6)], 900.0, **KW)
    with pytest.raises(ModelError, match="increase"):
        p1812_loss_db([np.array([0, 1, 1, 2, 3.0])], [np.zeros(5)], 900.0, **KW)
