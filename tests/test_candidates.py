"""Candidate sites: upgrades, new sites from clusters / hill tops / centres, their costs."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from affine import Affine
from shapely.geometry import LineString, Point, box

from phusong import settings
from phusong.bundle import Bundle, Provenance, Raster
from phusong.errors import DataError
from phusong.planning.candidates import (
    CANDIDATE_COLUMNS,
    candidate_transmitters,
    check_candidates,
    generate_candidates,
)
from phusong.planning.scenario import DEFAULT_SCENARIO, scenario_from_dict

X0, Y0 = 500_000.0, 2_300_000.0  # UTM 48N origin of the tiny world


def _gdf(rows, geoms):
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=settings.WORK_CRS).to_crs(settings.STORE_CRS)


def tiny_bundle(with_dem: bool = True) -> Bundle:
    """One 20 km × 20 km commune; a road east from the fibre at the origin; three sites."""
    communes = _gdf({"commune_code": ["04789"], "name": ["Phường Thái Bình"], "type": ["Phường"],
                     "district_code": ["148"], "district_name": ["Thành phố Hòa Bình"],
                     "population": [4000], "households": [1000]},
                    [box(X0 - 1000, Y0 - 10_000, X0 + 19_000, Y0 + 10_000)])
    # villages: two near the fibre (covered by the 4G site), a cluster of three 12 km east
    vx = [200.0, 1_500.0, 12_000.0, 12_300.0, 12_100.0]
    vy = [0.0, 1_500.0, 2_000.0, 2_200.0, 1_800.0]
    villages = _gdf({"village_id": [f"v{i}" for i in range(5)], "commune_code": "04789",
                     "households": [100, 50, 40, 30, 30], "population": [400, 200, 160, 120, 120],
                     "is_centre": [True, False, False, False, False]},
                    [Point(X0 + x, Y0 + y) for x, y in zip(vx, vy, strict=True)])
    roads = _gdf({"road_id": ["r1", "r2"], "road_class": ["provincial", "commune"],
                  "cost_factor": [1.0, 2.0]},
                 [LineString([(X0, Y0), (X0 + 6000, Y0)]),
                  LineString([(X0 + 6000, Y0), (X0 + 12_000, Y0)])])
    fibre = _gdf({"span_id": ["f1"]}, [LineString([(X0 - 500, Y0), (X0, Y0)])])
    sites = _gdf({"site_id": ["A", "B", "C"], "operator": ["Viettel", "VNPT", "MobiFone"],
                  "height_m": [30.0, 25.0, 30.0], "has_backhaul": [True, False, True]},
                 [Point(X0 + 100, Y0 + 100), Point(X0 + 6000, Y0 + 500), Point(X0, Y0 - 3000)])
    cells = pd.DataFrame({"cell_id": ["A4", "A2", "B2", "B3", "C5"], "site_id": list("AABBC"),
                          "tech": ["4G", "2G", "2G", "3G", "5G"],
                          "freq_mhz": [1842.5, 947.5, 947.5, 2140.0, 3750.0],
                          "eirp_dbm": [57.0] * 5})
    layers = {"communes": communes, "villages": villages, "roads": roads, "fibre": fibre,
              "sites": sites, "cells": cells}
    rasters = {}
    if with_dem:
        res = 100.0
        gx, gy = np.meshgrid(X0 - 1000 + res * (np.arange(200) + 0.5),
                             Y0 + 10_000 - res * (np.arange(200) + 0.5))
        # one hill 1.5 km north of the cluster, 900 m high
        z = 100 + 800 * np.exp(-((gx - X0 - 12_100) ** 2 + (gy - Y0 - 3_500) ** 2) / (2 * 800**2))
        rasters["dem"] = Raster(z.astype("float32"), Affine(res, 0, X0 - 1000, 0, -res, Y0 + 10_000),
                                settings.WORK_CRS, "m")
    prov = Provenance("test", "CC0", synthetic=True)
    return Bundle("tiny", layers, rasters, {k: prov for k in layers})


def _cov(bundle, covered):
    ids = bundle.villages.village_id
    cov = pd.DataFrame({f"covered_{t}": False for t in settings.TECHS}, index=ids)
    cov["covered_4G"] = covered
    cov["covered_any"] = True
    return cov


def test_upgrades_and_new_sites_with_costs():
    b = tiny_bundle()
    c = generate_candidates(b, _cov(b, [True, True, False, False, False]))
    assert tuple(c.columns[:len(CANDIDATE_COLUMNS)]) == CANDIDATE_COLUMNS
    up = c[c.kind == "upgrade"].set_index("site_id")
    # A has 4G → 5G upgrade; B has 2G/3G → 4G upgrade; C has only 5G → nothing
    assert up.loc["A", "tech"] == "5G" and up.loc["B", "tech"] == "4G" and "C" not in up.index
    costs = settings.COSTS
    assert up.loc["A", "cost_vnd"] == costs.upgrade_site_vnd  # has backhaul: upgrade only
    # B lacks backhaul: 6 km of provincial road (factor 1) to the fibre + 500 m straight to it
    per_m = costs.fibre_aerial_vnd_per_km / 1000
    assert up.loc["B", "backhaul_cost_vnd"] == pytest.approx((6000 + 500) * per_m, rel=1e-9)
    new = c[c.kind == "new"]
    assert set(new.source) == {"cluster", "ridge"}  # the centre v0 is covered: no centre site
    cl = new[new.source == "cluster"].iloc[0]
    # household-weighted centre of the three uncovered villages (float averaging: 1e-6 m)
    assert cl.x_m == pytest.approx(X0 + (40 * 12_000 + 30 * 12_300 + 30 * 12_100) / 100, abs=1e-6)
    ridge = new[new.source == "ridge"]
    # the hill top is found within one DEM cell of the true summit
    assert np.hypot(ridge.x_m - X0 - 12_100, ridge.y_m - Y0 - 3_500).min() <= 100 * np.sqrt(2)
    # power: the cluster centre is ~2 km from the nearest road node; beyond 500 m it pays a line
    pc = DEFAULT_SCENARIO.planning_costs
    assert cl.power_cost_vnd == pytest.approx((cl.road_m - pc.power_free_m) / 1000
                                              * pc.power_line_vnd_per_km, rel=1e-9)
    # backhaul: 6 km factor 1 + 6 km factor 2 along roads, then straight to the road end node
    expect = (6000 + 2 * 6000) * per_m + cl.road_m * per_m
    assert cl.backhaul_cost_vnd == pytest.approx(expect, rel=1e-9)
    # a shared new tower costs sharing_markup more (radios, power and rent of every operator)
    site = costs.new_site_vnd * (1 + pc.sharing_markup)
    assert cl.cost_vnd == pytest.approx(site + cl.power_cost_vnd + expect, rel=1e-12)
    assert (c.commune_code == "04789").all() and c.candidate_id.is_unique


def test_commune_centres_and_rules():
    b = tiny_bundle(with_dem=False)
    c = generate_candidates(b, _cov(b, [False] * 5))
    assert "centre" in set(c.source) and "ridge" not in set(c.source)
    s = scenario_from_dict({"candidates": {"upgrade_5g": False, "upgrade_4g": False,
                                           "commune_centres": False, "cluster_eps_m": 100.0}})
    c2 = generate_candidates(b, _cov(b, [False] * 5), scenario=s)
    assert (c2.kind == "new").all() and "centre" not in set(c2.source)
    # eps 100 m: every village its own cluster (3 km merges them otherwise), less v4, 224 m
    # from v2 (sites closer than 300 m are merged)
    assert (c2.source == "cluster").sum() == 4 > (c.source == "cluster").sum()
    tx = candidate_transmitters(c, None)
    assert list(tx.columns) == ["cell_id", "site_id", "operator", "tech", "band", "freq_mhz",
                                "eirp_dbm", "azimuth_deg", "tilt_deg", "height_m", "x_m", "y_m",
                                "ground_m"]
    assert tx.azimuth_deg.isna().all() and len(tx) == len(c)


def test_disconnected_backhaul_priced_as_straight_link():
    b = tiny_bundle(with_dem=False)
    # cut the road: the eastern half is its own component without fibre
    roads = b.roads.to_crs(settings.WORK_CRS)
    roads.loc[1, "geometry"] = LineString([(X0 + 6500, Y0), (X0 + 12_000, Y0)])
    b.layers["roads"] = roads.to_crs(settings.STORE_CRS)
    c = generate_candidates(b, _cov(b, [True, True, False, False, False]))
    cl = c[c.source == "cluster"].iloc[0]
    rate = DEFAULT_SCENARIO.planning_costs.backhaul_missing_vnd_per_km / 1000
    straight = np.hypot(cl.x_m - X0, cl.y_m - Y0)  # the fibre ends at the origin
    assert cl.backhaul_cost_vnd == pytest.approx(straight * rate, rel=1e-6)  # 1e-6: m rounding


def test_user_candidates_outside_the_province_are_refused():
    b = tiny_bundle(with_dem=False)
    inside = _gdf({"candidate_id": ["in1"], "kind": ["new"], "tech": ["4G"],
                   "operator": ["shared"]}, [Point(X0 + 8000, Y0 + 1000)])
    ok = check_candidates(inside, b)
    assert ok.candidate_id.tolist() == ["in1"] and ok.cost_vnd.iloc[0] > settings.COSTS.new_site_vnd
    outside = _gdf({"candidate_id": ["in1", "far"], "kind": ["new", "new"], "tech": ["4G", "4G"],
                    "operator": ["shared", "shared"]},
                   [Point(X0 + 8000, Y0 + 1000), Point(X0 + 40_000, Y0)])
    with pytest.raises(DataError, match="far at .* outside the province"):
        check_candidates(outside, b)
    with pytest.raises(DataError, match="kind 'tower'"):
        check_candidates(inside.assign(kind="tower"), b)
    with pytest.raises(DataError, match="cost_vnd"):
        check_candidates(inside.assign(cost_vnd=np.nan).assign(cost_vnd=[-1.0]), b)
