"""Commune facts, the 2025 crosswalk and Vietnamese name keys."""

from __future__ import annotations

import pandas as pd
import pytest

from phusong.communes import (
    closest_names,
    commune_facts,
    crosswalk_2025,
    normalize_name,
    units_2025,
)

# FACTS §4: district codes and their commune counts
DISTRICT_COUNTS = {"148": 19, "150": 17, "152": 11, "153": 17, "154": 10, "155": 16,
                   "156": 16, "157": 24, "158": 11, "159": 10}


def test_facts_counts_and_totals():
    f = commune_facts()
    assert len(f) == 151 and f.commune_code.is_unique
    assert f.commune_code.str.fullmatch(r"\d{5}").all()
    assert f.type.value_counts().to_dict() == {"Xã": 129, "Phường": 12, "Thị trấn": 10}
    assert f.groupby("district_code").size().to_dict() == DISTRICT_COUNTS
    assert int(f.population.sum()) == 854_131  # census 2019, exact
    # census households: FACTS says ≈ 221,000; the size-class table sums to 220,630
    assert int(f.households.sum()) == 220_630
    pph = f.population.sum() / f.households.sum()
    assert pph == pytest.approx(3.86, abs=0.02)  # FACTS: 3.86 persons/household
    # province area ≈ 4,590 km² officially; unit areas sum to 4,571 km² (within 1 %)
    assert f.area_km2.sum() == pytest.approx(4590, rel=0.01)
    assert f.lon.between(104.8, 106.0).all() and f.lat.between(20.25, 21.2).all()


def test_crosswalk_2025():
    cw = crosswalk_2025()
    f = commune_facts()
    assert set(cw.commune_code) == set(f.commune_code)
    assert cw.unit_code.nunique() == 46
    n_parts = cw.groupby("commune_code").size()
    split = set(n_parts[n_parts > 1].index)
    names = set(f.set_index("commune_code").loc[sorted(split), "name"])
    assert names == {"Xã Vầy Nưa", "Xã Cao Sơn", "Xã Đồng Tân"}
    assert (n_parts == 1).sum() == 148
    shares = cw.groupby("commune_code").share.sum()
    assert shares.to_numpy() == pytest.approx(1.0)
    u = units_2025()
    assert len(u) == 46 and set(u.unit_code) == set(cw.unit_code)
    assert u.type.value_counts().to_dict() == {"Xã": 42, "Phường": 4}


@pytest.mark.parametrize(
    ("a", "b"),
    [("Hoà Bình", "Hòa Bình"), ("Xã  Thuỷ Sơn", "thủy sơn"), ("Thị trấn Mường Khến", "MƯỜNG KHẾN"),
     ("Phường Tân Hoà", "Tân Hòa"), ("Tỉnh Hoà Bình", "hòa bình"),
     (pd.Series(["Hòa"]).str.normalize("NFD")[0], "Hoà")],
)
def test_normalize_equal(a, b):
    assert normalize_name(a) == normalize_name(b)


def test_normalize_keeps_different_tones_apart():
    assert normalize_name("Hòa") != normalize_name("Hóa")
    assert normalize_name("Mai Châu") != normalize_name("Mai Chau")


def test_closest_names_suggests():
    names = commune_facts().name
    assert "Xã Tân Minh" in closest_names("Tan Minh", names)
