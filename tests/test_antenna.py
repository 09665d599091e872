"""Antenna patterns: 3GPP parametric sector, 3-D gain with tilts, MSI/Planet reader and writer."""

from __future__ import annotations

import numpy as np
import pytest

from phusong.coverage.antenna import Antenna, antenna_angles, gain_db, parametric_3gpp
from phusong.coverage.msi import DBD_TO_DBI, read_msi, sampled, write_msi
from phusong.errors import FormatError, InputFileError

#: Hand values below are computed with 4–6 significant digits; compare to 1e-3 dB.
TOL_DB = 1e-3


@pytest.fixture
def sector():
    # TR 36.814 macro values: φ3dB 65°, θ3dB 10°, A_m 25 dB, SLA_V 20 dB
    return parametric_3gpp(65.0, v_beamwidth_deg=10.0, front_to_back_db=25.0, sla_db=20.0,
                           gain_dbi=17.0)


# (bearing, azimuth, θ down, mechanical tilt, electrical tilt) → hand-computed gain, dB
HAND = [
    ((0.0, 0.0, 0.0, 0.0, 0.0), 0.0),            # boresight
    ((32.5, 0.0, 0.0, 0.0, 0.0), -3.0),          # 12 (32.5/65)² = 3
    ((65.0, 0.0, 0.0, 0.0, 0.0), -12.0),         # 12 (65/65)² = 12
    ((90.0, 0.0, 0.0, 0.0, 0.0), -23.0059),      # 12 (90/65)² = 23.0059
    ((180.0, 0.0, 0.0, 0.0, 0.0), -25.0),        # back lobe: capped at A_m
    ((315.0, 0.0, 0.0, 0.0, 0.0), -5.7515),      # φ = −45: 12 (45/65)² = 5.7515
    ((150.0, 120.0, 0.0, 0.0, 0.0), -2.5562),    # φ = 30: 12 (30/65)² = 2.5562
    ((0.0, 0.0, 5.0, 0.0, 0.0), -3.0),           # θ 5° below, no tilt: 12 (5/10)² = 3
    ((0.0, 0.0, 5.0, 0.0, 5.0), 0.0),            # electrical tilt 5° points at it
    ((0.0, 0.0, 20.0, 0.0, 0.0), -20.0),         # 12 (20/10)² = 48 → SLA_V 20
    ((65.0, 0.0, 10.0, 0.0, 0.0), -24.0),        # 12 + 12 = 24 < A_m
    ((90.0, 0.0, 10.0, 0.0, 0.0), -25.0),        # 23.0059 + 12 → capped at 25
    ((0.0, 0.0, 6.0, 6.0, 0.0), 0.0),            # mechanical tilt 6° points at it
    ((0.0, 0.0, 0.0, 4.0, 0.0), -1.92),          # horizon is 4° above boresight: 12 (4/10)²
    ((90.0, 0.0, 0.0, 6.0, 0.0), -23.0059),      # mechanical tilt leaves the side horizon
    ((90.0, 0.0, 0.0, 0.0, 6.0), -25.0),         # electrical tilt does not: 23.0059 + 4.32
]


@pytest.mark.parametrize(("args", "expected"), HAND)
def test_3gpp_gain_matches_hand_values(sector, args, expected):
    b, az, th, mt, et = args
    assert float(gain_db(sector, b, az, th, mt, et)[0]) == pytest.approx(expected, abs=TOL_DB)


def test_sum_rule_is_uncapped(sector):
    s = Antenna(**{**sector.__dict__, "rule": "sum"})
    # 23.0059 + 12 (θ 10° off the vertical beam) = 35.0059, no A_m cap
    assert float(gain_db(s, 90.0, 0.0, 10.0)[0]) == pytest.approx(-35.0059, abs=TOL_DB)


def test_mechanical_tilt_rotation_behind_and_omni(sector):
    # behind the antenna a 6° mechanical downtilt lifts the back beam: a horizon receiver is 6°
    # below the antenna's own horizontal there, at φ' = 180
    phi, th = antenna_angles(180.0, 0.0, 0.0, 6.0)
    assert abs(float(phi)) == pytest.approx(180.0, abs=1e-9)
    assert float(th) == pytest.approx(6.0, abs=1e-9)
    # NaN azimuth = omni: no horizontal attenuation, only the vertical pattern
    assert float(gain_db(sector, 137.0, np.nan, 5.0)[0]) == pytest.approx(-3.0, abs=TOL_DB)


def _msi_text(h_vals, v_vals, gain="17.85 dBi", tilt="2"):
    lines = ["NAME Test panel", "MAKE phusong", "FREQUENCY 1800", f"GAIN {gain}",
             f"TILT {tilt}", "HORIZONTAL 360"]
    lines += [f"{a} {v:g}" for a, v in enumerate(h_vals)]
    lines.append("VERTICAL 360")
    lines += [f"{a} {v:g}" for a, v in enumerate(v_vals)]
    return "\n".join(lines) + "\n"


def _cuts():
    a = np.arange(360.0)
    phi = (a + 180) % 360 - 180
    h = np.minimum(12 * (phi / 65.0) ** 2, 25.0).round(2)
    v = np.minimum(12 * ((np.where(a > 180, a - 360, a) - 2.0) / 10.0) ** 2, 20.0).round(2)
    return h, v


def test_read_msi_standard_layout(tmp_path):
    h, v = _cuts()
    p = tmp_path / "panel.msi"
    p.write_text(_msi_text(h, v))
    a = read_msi(p)
    assert a.name == "Test panel" and a.frequency_mhz == 1800.0 and a.tilt_deg == 2.0
    assert a.gain_dbi == 17.85 and a.horizontal_db.shape == (360,) and a.front_to_back_db == 25.0
    # the file's own 2° tilt: a receiver 2° down at boresight is on the peak
    assert float(gain_db(a, 0.0, 0.0, 2.0)[0]) == pytest.approx(0.0, abs=TOL_DB)
    # cut interpolation between 32° and 33° (3.0 dB at 32.5°): 12 (32/65)² and 12 (33/65)² are
    # rounded to 0.01 dB in the file, 2.91 and 3.09 → midpoint 3.00
    assert float(gain_db(a, 32.5, 0.0, 2.0)[0]) == pytest.approx(-3.0, abs=0.01)
    # electrical tilt 6°: the cut shifts by 6 − 2 = 4°
    assert float(gain_db(a, 0.0, 0.0, 6.0, 0.0, 6.0)[0]) == pytest.approx(0.0, abs=TOL_DB)
    # back lobe: front-to-back below the front
    assert float(gain_db(a, 180.0, 0.0, 2.0)[0]) == pytest.approx(-25.0, abs=TOL_DB)


def test_read_msi_gain_in_dbd_by_default(tmp_path):
    h, v = _cuts()
    p = tmp_path / "dbd.msi"
    p.write_text(_msi_text(h, v, gain="15.7"))
    assert read_msi(p).gain_dbi == pytest.approx(15.7 + DBD_TO_DBI, abs=1e-12)
    p.write_text(_msi_text(h, v, gain="15.7 dBd"))
    assert read_msi(p).gain_dbi == pytest.approx(15.7 + DBD_TO_DBI, abs=1e-12)


def test_write_then_read_round_trip(tmp_path, sector):
    p = tmp_path / "generic.msi"
    write_msi(sampled(sector, name="generic 65"), p)
    a = read_msi(p)
    rng = np.random.default_rng(3)
    b, th = rng.uniform(0, 360, 200), rng.uniform(-10, 30, 200)
    # cuts are sampled every 1° and written to 0.01 dB: linear interpolation of the 12 (x/w)²
    # curve between 1° samples errs by ≤ 12/65²/4 + 12/10²/4 = 0.031 dB plus 0.005 rounding
    # (the cap corners add nothing: A_m is reached on a sample either side)
    assert np.max(np.abs(gain_db(a, b, 0.0, th) - gain_db(sector, b, 0.0, th))) < 0.04


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda t: t.split("VERTICAL 360")[0], "no VERTICAL cut"),
    (lambda t: t.replace("HORIZONTAL 360", "HORIZONTAL 361"), "only 360 precede VERTICAL"),
    (lambda t: t.replace("\n5 ", "\n4 ", 1), "does not follow 4"),
    (lambda t: t.replace("\n30 2.56", "\n30 -2.56", 1), "negative"),
    (lambda t: t.replace("GAIN 17.85 dBi", "GAIN 17.85 dB"), "ambiguous"),
    (lambda t: t.replace("GAIN 17.85 dBi\n", ""), "no GAIN"),
    (lambda t: t.replace("\n10 ", "\n10 x", 1), "not a number"),
])
def test_read_msi_rejects_malformed(tmp_path, mutate, message):
    h, v = _cuts()
    p = tmp_path / "bad.msi"
    p.write_text(mutate(_msi_text(h, v)))
    with pytest.raises(FormatError, match=message):
        read_msi(p)


def test_read_msi_rejects_gains_instead_of_losses(tmp_path):
    h, v = _cuts()
    p = tmp_path / "gains.msi"
    # a cut written as gains (17.85 − attenuation) never reaches 0 at its maximum
    p.write_text(_msi_text(17.85 - h + 25.0, v))
    with pytest.raises(FormatError, match="relative to the maximum"):
        read_msi(p)
    with pytest.raises(InputFileError):
        read_msi(tmp_path / "missing.msi")
