"""The twin's network generators (roads, sites, fibre) on small stand-in provinces made here."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine
from scipy import sparse
from shapely.geometry import LineString, box

from phusong import settings
from phusong.bundle import Bundle, Raster
from phusong.crs import to_work, transform_points
from phusong.errors import DataError
from phusong.network.reach import fibre_available
from phusong.network.roads import road_graph, snap_points
from phusong.twin import _net_select as sel
from phusong.twin.fibre import CABLES_PER_SPAN, fibre_figures, make_fibre
from phusong.twin.roads import hubs, make_roads
from phusong.twin.sites import calibrate_sites, make_sites

X0, Y0 = 520_000.0, 2_300_000.0  # UTM 48N, near Hòa Bình city
SIDE_M = 6_000.0


def _communes() -> gpd.GeoDataFrame:
    """A 3 × 2 block of 6 km square communes: a city ward, a district town and four xã."""
    rows = []
    kinds = [("Phường", "148"), ("Xã", "148"), ("Xã", "148"), ("Thị trấn", "154"),
             ("Xã", "154"), ("Xã", "154")]
    for k, (kind, dist) in enumerate(kinds):
        c, r = k % 3, k // 3
        rows.append({"commune_code": f"9{k:04d}", "name": f"{kind} T{k}", "type": kind,
                     "district_code": dist, "district_name": f"District {dist}",
                     "population": 4000 + 500 * k, "households": 1000 + 120 * k,
                     "geometry": box(X0 + c * SIDE_M, Y0 + r * SIDE_M, X0 + (c + 1) * SIDE_M,
                                     Y0 + (r + 1) * SIDE_M)})
    return gpd.GeoDataFrame(rows, crs=settings.WORK_CRS).to_crs(settings.STORE_CRS)


def _dem(seed: int = 0) -> Raster:
    """90 m ridges and valleys (100–700 m) around the communes, with a 6 km margin."""
    px = 90.0
    left, top = X0 - 6000.0, Y0 + 2 * SIDE_M + 6000.0
    cols, rows = int((3 * SIDE_M + 12000) / px), int((2 * SIDE_M + 12000) / px)
    x = left + (np.arange(cols) + 0.5) * px
    y = top - (np.arange(rows) + 0.5) * px
    xx, yy = np.meshgrid(x, y)
    rng = np.random.default_rng(seed)
    z = (400 + 250 * np.sin(xx / 1700.0 + 0.3) * np.cos(yy / 2300.0)
         + 60 * np.sin(yy / 700.0 + xx / 900.0) + rng.normal(0, 3, xx.shape))
    return Raster(z.astype("float32"), Affine(px, 0, left, 0, -px, top), settings.WORK_CRS, "m")


def _at(dem: Raster, x, y) -> np.ndarray:
    """DEM value of the pixel holding each point."""
    t = dem.transform
    col = ((np.asarray(x) - t.c) / t.a).astype(int)
    row = ((np.asarray(y) - t.f) / t.e).astype(int)
    return dem.array[row, col]


def _villages(communes, dem: Raster, per: int = 5) -> gpd.GeoDataFrame:
    """``per`` villages in each commune on its lowest pixels, the first one the centre."""
    w = to_work(communes)
    rows = []
    for _, c in w.iterrows():
        minx, miny, maxx, maxy = c.geometry.bounds
        gx, gy = np.meshgrid(np.linspace(minx + 600, maxx - 600, 9),
                             np.linspace(miny + 600, maxy - 600, 9))
        z = _at(dem, gx.ravel(), gy.ravel())
        pick = np.argsort(z, kind="stable")[: per * 3 : 3]
        hh = np.full(per, c.households // per)
        hh[0] += c.households - hh.sum()
        pp = np.full(per, c.population // per)
        pp[0] += c.population - pp.sum()
        for k, i in enumerate(pick):
            rows.append({"village_id": f"{c.commune_code}-{k + 1:02d}",
                         "commune_code": c.commune_code, "households": int(hh[k]),
                         "population": int(pp[k]), "is_centre": k == 0,
                         "geometry": shapely.Point(gx.ravel()[i], gy.ravel()[i])})
    return gpd.GeoDataFrame(rows, crs=settings.WORK_CRS).to_crs(settings.STORE_CRS)


@pytest.fixture(scope="module")
def province():
    communes = _communes()
    dem = _dem()
    villages = _villages(communes, dem)
    roads = make_roads(communes, villages, dem, seed=0)
    return communes, dem, villages, roads


def test_hubs_city_then_towns(province):
    communes, _, villages, _ = province
    h = hubs(communes, villages)
    assert h.role.tolist() == ["city", "town"]
    assert h.commune_code.tolist() == ["90000", "90003"]  # the ward, then the thị trấn


def test_roads_connected_classes_and_villages_on_nodes(province):
    communes, dem, villages, roads = province
    assert roads.crs.to_epsg() == 4326
    assert roads.road_id.is_unique
    assert set(roads.road_class) <= set(settings.ROAD_CLASSES)
    assert {"national", "district"} <= set(roads.road_class)
    assert (roads.cost_factor == roads.road_class.map(settings.ROAD_COST_FACTOR)).all()
    g = road_graph(roads)
    assert nx.is_weakly_connected(g)
    vw = to_work(villages)
    _, offset = snap_points(g, vw.geometry.x, vw.geometry.y)
    # every village is the end of a road: its nearest node is the village itself (10 cm
    # rounding of the graph plus float noise of the lon/lat round trip)
    assert offset.max() < 0.2


def test_roads_deterministic_per_seed(province):
    communes, dem, villages, roads = province
    again = make_roads(communes, villages, dem, seed=0)
    assert roads.geometry.to_wkb().tolist() == again.geometry.to_wkb().tolist()
    other = make_roads(communes, villages, dem, seed=5)
    assert roads.geometry.to_wkb().tolist() != other.geometry.to_wkb().tolist()


def test_roads_follow_valleys(province):
    """Roads run lower than straight lines between the same villages would."""
    _, dem, villages, roads = province
    rw = to_work(roads)
    pts = shapely.get_coordinates(rw.geometry.segmentize(90.0).to_numpy())
    on_road = float(_at(dem, pts[:, 0], pts[:, 1]).mean())
    # mean height of the whole stand-in province area
    assert on_road < float(dem.array.mean()) - 50.0


def test_roads_refuse_wrong_crs(province):
    communes, dem, villages, _ = province
    bad = Raster(dem.array, dem.transform, "EPSG:3405", "m")
    with pytest.raises(DataError, match="32648"):
        make_roads(communes, villages, bad)


# --- sites -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def landcover(province):
    from phusong.twin.landcover import make_landcover

    communes, dem, villages, _ = province
    return make_landcover(communes, villages, dem, seed=0)


@pytest.fixture(scope="module")
def plan(province, landcover):
    communes, dem, villages, roads = province
    return calibrate_sites(communes, villages, dem, roads, seed=0, n_sites=14, n_bts=26,
                           targets={"villages_any_mobile_pct": 100.0}, landcover=landcover)


def test_sites_counts_operators_heights(province, plan):
    communes, _, villages, _ = province
    sites, cells = plan.sites, plan.cells
    assert len(sites) == 14 and sites.site_id.is_unique
    assert cells.cell_id.is_unique
    assert set(cells.tech) <= {"2G", "3G", "4G"}
    # a BTS is one (site, technology), with 2 or 3 sectors (rows of cells)
    per_bts = cells.groupby(["site_id", "tech"]).size()
    assert len(per_bts) == 26 and per_bts.between(2, 3).all()
    assert set(cells.site_id) == set(sites.site_id)  # every site has a BTS
    assert set(sites.operator) <= set(settings.OPERATORS)
    assert sites.height_m.between(20, 50).all()
    assert (cells.antenna == "3gpp-65").all() and cells.azimuth_deg.between(0, 360).all()
    for (_, _), sec in cells.groupby(["site_id", "tech"]):
        az = np.sort(sec.azimuth_deg.to_numpy())
        gaps = np.diff(np.r_[az, az[0] + 360.0])
        # azimuths spread evenly (0.1° rounding): 120° apart, or 180° back to back
        assert np.allclose(gaps, 360.0 / len(az), atol=0.15)
    # the sectors of a site are the same panels for every technology
    assert (cells.groupby("site_id").azimuth_deg.nunique()
            == cells.groupby(["site_id", "tech"]).size().groupby("site_id").max()).all()
    total = cells.tilt_deg + cells.etilt_deg
    assert total.between(1.0, 10.0 + 1e-9).all() and cells.etilt_deg.between(0, 6).all()
    assert (cells.freq_mhz == cells.apply(
        lambda c: settings.BANDS_MHZ[c.tech][c.band], axis=1)).all()
    # ≥ 1 site in every commune, placed inside it
    inside = gpd.sjoin(to_work(sites), to_work(communes)[["commune_code", "geometry"]],
                       predicate="within")
    assert set(inside.commune_code_right) == set(communes.commune_code)


def test_sites_figures_match_the_engine(province, plan, landcover):
    """The calibration's matrix arithmetic (sectors folded into their BTS, the land cover's
    clutter) equals the coverage engine on the result."""
    from phusong.coverage import score_villages

    communes, dem, villages, _ = province
    b = Bundle("t", layers={"villages": villages, "sites": plan.sites, "cells": plan.cells},
               rasters={"dem": dem, "landcover": landcover})
    s = score_villages(b)
    f = plan.figures
    # identical inputs to the engine: exact equality of the village shares
    assert 100.0 * s.covered_any.mean() == pytest.approx(f["villages_any_mobile_pct"], abs=1e-9)
    assert 100.0 * s.covered_3G.mean() == pytest.approx(f["villages_3g_pct"], abs=1e-9)
    assert 100.0 * s.covered_4G.mean() == pytest.approx(f["villages_4g_pct"], abs=1e-9)
    assert s.covered_any[villages.is_centre.to_numpy()].all()
    assert f["bts"] == 26 and f["sites"] == 14


def test_sites_variant_5g_and_bad_variant(province):
    communes, dem, villages, roads = province
    sites, cells = make_sites(communes, villages, dem, roads, seed=0, n_sites=10, n_bts=20,
                              variant="5g")
    five = cells[cells.tech == "5G"]
    rest = cells[cells.tech != "5G"]
    assert len(five) > 0 and len(rest.drop_duplicates(["site_id", "tech"])) == 20
    assert five.groupby("site_id").size().between(2, 3).all()
    ops = sites.set_index("site_id").loc[five.site_id, "operator"]
    assert set(ops) <= {"Viettel", "VNPT", "MobiFone"}
    assert (five.band == ops.map({"Viettel": "n41", "VNPT": "n78", "MobiFone": "n78"}).values).all()
    with pytest.raises(DataError, match="variant"):
        make_sites(communes, villages, dem, roads, variant="2030")


# --- selection arithmetic --------------------------------------------------------------------


def _cols(dense) -> sel.Columns:
    return sel.Columns(sparse.csc_matrix(np.asarray(dense, bool)))


def test_select_positions_leaves_target_uncovered():
    # 6 villages, 5 candidates: c0 covers 0-1, c1 covers 2-3, c2 covers 4, c3 covers 5,
    # c4 covers 0 (redundant once c0 is in)
    m = np.zeros((6, 5), bool)
    m[[0, 1], 0] = m[[2, 3], 1] = m[4, 2] = m[5, 3] = m[0, 4] = True
    cover, dense = sel.select_positions(_cols(m), mandatory=[0], priority=np.arange(5),
                                        n_sites=3, target_uncovered=1)
    assert cover == [0, 1, 2]  # c1 adds 2; then c2 (first by priority among gains of 1)
    assert dense == []
    cover, dense = sel.select_positions(_cols(m), mandatory=[0], priority=np.arange(5),
                                        n_sites=3, target_uncovered=2)
    assert cover == [0, 1] and dense == [4]  # densification only where nothing is added
    covered = sel.covered_by(_cols(m), cover + dense)
    assert int((~covered).sum()) == 2
    # not enough neutral candidates: the least harmful next (c2 adds 1 village)
    cover, dense = sel.select_positions(_cols(m), mandatory=[0], priority=np.arange(5),
                                        n_sites=4, target_uncovered=2)
    assert dense == [4, 2]


def test_assign_tech_hits_target_and_quota():
    m = np.zeros((10, 6), bool)
    m[0:4, 0] = m[4:7, 1] = m[7:9, 2] = m[0:2, 3] = m[4, 4] = m[9, 5] = True
    chosen = sel.assign_tech(_cols(m), order=range(6), quota=4, target_covered=7)
    covered = sel.covered_by(_cols(m), chosen)
    assert int(covered.sum()) == 7 and len(chosen) == 4
    assert chosen == [0, 1, 3, 4]  # 2 and 5 would overshoot; 3 and 4 add nothing
    # an unreachable quota of neutral sites still reaches the coverage target
    chosen = sel.assign_tech(_cols(m), order=[5, 4, 3], quota=2, target_covered=9)
    assert int(sel.covered_by(_cols(m), chosen).sum()) >= 9


# --- fibre -----------------------------------------------------------------------------------


def _grid_roads():
    """A 3 × 3 km square road loop with two spurs; villages at corners and spur ends."""
    pts = {"a": (0, 0), "b": (3000, 0), "c": (3000, 3000), "d": (0, 3000), "e": (6000, 0),
           "f": (3000, -2500)}
    lines = [("a", "b"), ("b", "c"), ("c", "d"), ("d", "a"), ("b", "e"), ("b", "f")]
    xy = {k: (X0 + x, Y0 + y) for k, (x, y) in pts.items()}
    roads = gpd.GeoDataFrame({
        "road_id": [f"r{i}" for i in range(len(lines))],
        "road_class": ["national"] * 4 + ["commune", "track"],
        "cost_factor": 1.0,
    }, geometry=[LineString([xy[a], xy[b]]) for a, b in lines], crs=settings.WORK_CRS)
    communes = gpd.GeoDataFrame({
        "commune_code": ["80001", "80002", "80003"], "name": ["P A", "TT C", "X E"],
        "type": ["Phường", "Thị trấn", "Xã"], "district_code": ["148", "154", "154"],
        "district_name": ["d", "e", "e"], "population": [9000, 5000, 3000],
        "households": [2400, 1300, 800]},
        geometry=[box(X0 - 500, Y0 - 500, X0 + 1500, Y0 + 3500),
                  box(X0 + 1500, Y0 + 1500, X0 + 3500, Y0 + 3500),
                  box(X0 + 3500, Y0 - 3000, X0 + 6500, Y0 + 1500)], crs=settings.WORK_CRS)
    vill = [("80001-01", "80001", "a", 1200, True), ("80001-02", "80001", "d", 1200, False),
            ("80002-01", "80002", "c", 1300, True), ("80003-01", "80003", "e", 500, True),
            ("80003-02", "80003", "f", 300, False)]
    villages = gpd.GeoDataFrame({
        "village_id": [v[0] for v in vill], "commune_code": [v[1] for v in vill],
        "households": [v[3] for v in vill], "population": [4 * v[3] for v in vill],
        "is_centre": [v[4] for v in vill]},
        geometry=[shapely.Point(xy[v[2]]) for v in vill], crs=settings.WORK_CRS)
    return communes.to_crs(4326), villages.to_crs(4326), roads.to_crs(4326)


def test_fibre_ring_feeders_and_availability():
    communes, villages, roads = _grid_roads()
    fibre, nodes = make_fibre(communes, villages, roads, seed=0, available_pct=90.0)
    assert fibre.crs.to_epsg() == 4326 and nodes.crs.to_epsg() == 4326
    kinds = fibre.groupby("kind").length_m.sum()
    # the town (c) is reached both ways round the loop: 6 km backbone + 6 km ring
    assert kinds["backbone"] == pytest.approx(6000.0, abs=1.0)  # 1 m: float rounding
    assert kinds["ring"] == pytest.approx(6000.0, abs=1.0)
    assert (fibre.cable_count == fibre.kind.map(CABLES_PER_SPAN)).all()
    assert set(nodes.kind) <= {"POP", "access_node", "splitter"}
    assert (nodes.kind == "POP").sum() == 1
    b = Bundle("t", layers={"villages": villages, "fibre": fibre, "fibre_nodes": nodes,
                            "roads": roads})
    avail = fibre_available(b).reindex(villages.village_id)
    assert avail[villages.is_centre.to_numpy()].all()  # every commune centre
    hh = villages.households.to_numpy()
    assert hh[avail.to_numpy()].sum() / hh.sum() >= 0.9
    ff = fibre_figures(fibre)
    expect = float((to_work(fibre).length * fibre.cable_count).sum() / 1000.0)
    assert ff["cable_km"] == pytest.approx(expect, rel=1e-12)  # same sum, other order
    assert ff["route_km"] == pytest.approx(to_work(fibre).length.sum() / 1000.0, rel=1e-12)


def test_fibre_low_target_stops_early():
    communes, villages, roads = _grid_roads()
    fibre, nodes = make_fibre(communes, villages, roads, seed=0, available_pct=10.0)
    assert "access" not in set(fibre.kind)  # feeders alone already exceed 10 %
    assert set(nodes.kind) == {"POP", "access_node"}


def test_fibre_needs_connected_roads():
    communes, villages, roads = _grid_roads()
    far = gpd.GeoDataFrame({"road_id": ["x"], "road_class": ["track"], "cost_factor": [1.0]},
                           geometry=[LineString([(X0 + 20000, Y0), (X0 + 21000, Y0)])],
                           crs=settings.WORK_CRS).to_crs(4326)
    with pytest.raises(DataError, match="not connected"):
        make_fibre(communes, villages, pd.concat([roads, far], ignore_index=True))


def test_fibre_figures_by_kind():
    lon, lat = transform_points([X0, X0 + 1000, X0 + 3000], [Y0] * 3, settings.WORK_CRS,
                                settings.STORE_CRS)
    f = gpd.GeoDataFrame({"span_id": ["s1", "s2"], "kind": ["backbone", "access"],
                          "cable_count": [6, 2]},
                         geometry=[LineString([(lon[0], lat[0]), (lon[1], lat[1])]),
                                   LineString([(lon[1], lat[1]), (lon[2], lat[2])])],
                         crs=settings.STORE_CRS)
    ff = fibre_figures(f)
    # 1 km × 6 + 2 km × 2; 1e-6 km: lon/lat round trip
    assert ff["route_km"] == pytest.approx(3.0, abs=1e-6)
    assert ff["cable_km"] == pytest.approx(10.0, abs=1e-6)
    assert ff["cable_km_by_kind"]["backbone"] == pytest.approx(6.0, abs=1e-6)
