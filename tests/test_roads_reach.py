"""Road graph, edge snapping and fibre reach along roads."""

from __future__ import annotations

import unicodedata

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, box

from phusong.bundle import Bundle
from phusong.errors import DataError
from phusong.network.reach import fibre_available, fibre_distance_m
from phusong.network.roads import (
    cheapest_edge,
    graph_components,
    road_graph,
    simple_graph,
    snap_points,
    snap_to_edges,
    urban_areas,
)
from phusong.settings import COSTS

CRS = "EPSG:32648"


def _roads():
    # an L-shaped road 0→(1000,0)→(1000,1000) and a separate island segment
    return gpd.GeoDataFrame(
        {"road_id": ["a", "b", "c"], "road_class": ["national", "commune", "track"],
         "cost_factor": [2.6, 1.0, 1.0]},
        geometry=[LineString([(0, 0), (500, 0), (1000, 0)]),
                  LineString([(1000, 0), (1000, 1000)]),
                  LineString([(5000, 5000), (5100, 5000)])],
        crs=CRS,
    )


def test_graph_nodes_edges_costs():
    g = road_graph(_roads())
    assert isinstance(g, nx.MultiDiGraph) and g.graph["crs"] == "EPSG:32648"
    assert g.number_of_nodes() == 5  # interior vertex (500, 0) is not shared: no node
    assert g.number_of_edges() == 6  # three roads, each both ways (osmnx's two-way convention)
    e = g.edges[next(iter(g.edges))]
    # cost = km × aerial VND/km × factor: 1 km × 5,000 USD × 25,500 × 2.6 (exact arithmetic)
    costs = sorted(d["cost_vnd"] for *_, d in g.edges(data=True))
    assert costs[-1] == pytest.approx(1.0 * 5000 * 25500 * 2.6, rel=1e-9)
    assert e["geometry"].length == pytest.approx(e["length"])
    # osmnx convention: an edge's geometry runs from u to v
    for u, v, d in g.edges(data=True):
        assert d["geometry"].coords[0] == (g.nodes[u]["x"], g.nodes[u]["y"])
        assert d["geometry"].coords[-1] == (g.nodes[v]["x"], g.nodes[v]["y"])
    assert [len(c) for c in graph_components(g)] == [3, 2]


def test_graph_from_lonlat_is_metric():
    r = _roads().to_crs("EPSG:4326")
    g = road_graph(r)
    # reprojection round trip changes lengths by far less than 1 m over 1 km
    assert g.size(weight="length") / 2 == pytest.approx(2100.0, abs=1.0)  # both ways counted


def test_empty_roads_refused():
    with pytest.raises(DataError, match="roads: the layer is empty"):
        road_graph(_roads().iloc[:0])


def test_snap_points_and_edges():
    g = road_graph(_roads())
    nodes, off = snap_points(g, [990.0], [20.0])
    assert (g.nodes[int(nodes[0])]["x"], g.nodes[int(nodes[0])]["y"]) == (1000.0, 0.0)
    assert off[0] == pytest.approx(np.hypot(10, 20))
    u, v, offset, to_u, to_v = snap_to_edges(g, [300.0], [40.0])
    assert offset[0] == pytest.approx(40.0)
    ends = {(g.nodes[int(u[0])]["x"], to_u[0]), (g.nodes[int(v[0])]["x"], to_v[0])}
    assert ends == {(0.0, 300.0), (1000.0, 700.0)}


def _villages(points):
    return gpd.GeoDataFrame({"village_id": [f"v{i}" for i in range(len(points))]},
                            geometry=[Point(p) for p in points], crs=CRS)


def test_fibre_distance_along_roads():
    fibre = gpd.GeoDataFrame({"span_id": ["f"]}, geometry=[LineString([(0, 0), (0, -50)])], crs=CRS)
    v = _villages([(200, 30), (1000, 400), (1050, 800), (5050, 5000), (-60, -20)])
    d = fibre_distance_m(v, fibre, _roads())
    # v0: 30 m to the road + 200 m along it; v1: 1000 + 400 along the L; v2: 50 off + 1800
    assert d["v0"] == pytest.approx(230.0)
    assert d["v1"] == pytest.approx(1400.0)
    assert d["v2"] == pytest.approx(1850.0)
    assert np.isinf(d["v3"])  # island road: not connected to the fibre
    assert d["v4"] == pytest.approx(60.0)  # 60 m drop straight from the span


def test_fibre_available_on_bundle():
    fibre = gpd.GeoDataFrame({"span_id": ["f"]}, geometry=[LineString([(0, 0), (0, -50)])],
                             crs=CRS).to_crs(4326)
    v = _villages([(200, 30), (1000, 400)]).to_crs(4326)
    b = Bundle("t", layers={"villages": v, "fibre": fibre, "roads": _roads().to_crs(4326)})
    got = fibre_available(b, reach_m=500.0)
    assert isinstance(got, pd.Series) and got.to_dict() == {"v0": True, "v1": False}
    assert fibre_available(b, reach_m=1500.0).all()


def test_no_fibre_means_nothing_available():
    v = _villages([(200, 30)])
    assert np.isinf(fibre_distance_m(v, None, _roads())).all()
    assert nx.is_weakly_connected(road_graph(_roads().iloc[:2]))


def test_crossings_and_near_junctions_are_joined():
    # an X crossing without a common vertex, and a T whose stem stops 3 m short of the bar
    roads = gpd.GeoDataFrame(
        {"road_id": ["bar", "cross", "stem"], "road_class": ["commune"] * 3,
         "cost_factor": [1.0] * 3},
        geometry=[LineString([(0, 0), (1000, 0)]), LineString([(200, -100), (200, 100)]),
                  LineString([(700, 3), (700, 500)])],
        crs=CRS,
    )
    g = road_graph(roads)
    assert nx.is_weakly_connected(g)
    # the bar is cut at x=200 and x=700: 3 + 2 + 1 edges, each both ways; lengths preserved
    # within the 3 m snap
    assert g.number_of_edges() == 12
    assert g.size(weight="length") / 2 == pytest.approx(1000 + 200 + 500, abs=3.0)
    # a 10 m gap is beyond the default 5 m snap: stays apart
    roads.loc[2, "geometry"] = LineString([(700, 10), (700, 500)])
    assert not nx.is_weakly_connected(road_graph(roads))


def _edge_of(g, road_id):
    return next(d for *_, d in g.edges(data=True) if d["road_id"] == road_id)


def test_urban_length_is_priced_buried():
    # a square over x in [-100, 500], given in lon/lat: half of road "a" (0..1000 m) lies inside
    square = gpd.GeoDataFrame(geometry=[box(-100, -100, 500, 100)], crs=CRS).to_crs(4326)
    g = road_graph(_roads(), urban=square)
    a, b = _edge_of(g, "a"), _edge_of(g, "b")
    # the square's edge at x=500 moved by the lon/lat round trip: well under a micrometre
    assert a["buried_m"] == pytest.approx(500.0, abs=1e-6)
    half_km = a["length"] / 2 / 1000
    want = (half_km * COSTS.fibre_aerial_vnd_per_km + half_km * COSTS.fibre_buried_vnd_per_km) * 2.6
    assert a["cost_vnd"] == pytest.approx(want, rel=1e-9)
    assert b["buried_m"] == 0.0
    assert b["cost_vnd"] == pytest.approx(COSTS.fibre_aerial_vnd_per_km * 1.0, rel=1e-9)


def test_touching_urban_polygons_count_once():
    # two urban communes whose common border runs along road "b" (x = 1000)
    two = gpd.GeoDataFrame(geometry=[box(900, -10, 1000, 1010), box(1000, -10, 1100, 1010)],
                           crs=CRS)
    b = _edge_of(road_graph(_roads(), urban=two), "b")
    assert b["buried_m"] == pytest.approx(b["length"])


def test_no_urban_is_as_before():
    plain = road_graph(_roads())
    for urban in (None, gpd.GeoDataFrame(geometry=[], crs=CRS)):
        g = road_graph(_roads(), urban=urban)
        for u, v, k, d in plain.edges(keys=True, data=True):
            e = g.edges[u, v, k]
            assert e["cost_vnd"] == d["cost_vnd"]  # bit-identical
            assert e["buried_m"] == 0.0
    # the all-aerial formula, exactly as before urban= existed
    for *_, d in plain.edges(data=True):
        assert d["cost_vnd"] == d["length"] * (COSTS.fibre_aerial_vnd_per_km / 1000.0) * d["cost_factor"]


def test_urban_areas_any_unicode_form():
    types = ["Xã", "Phường", "Thị trấn", "xã", "PHƯỜNG", "thị  trấn"]
    nfd = [unicodedata.normalize("NFD", t) for t in types]
    assert nfd[1] != "Phường" and nfd[2] != "Thị trấn"  # really decomposed
    communes = gpd.GeoDataFrame({"commune_code": [f"{i:05d}" for i in range(6)], "type": nfd},
                                geometry=[box(i, 0, i + 1, 1) for i in range(6)], crs=CRS)
    got = urban_areas(communes)
    assert got["commune_code"].tolist() == ["00001", "00002", "00004", "00005"]
    assert got.crs == communes.crs
    with pytest.raises(DataError, match="no 'type' column"):
        urban_areas(communes.drop(columns="type"))


def test_osmnx_simplifies_interior_vertices():
    # osmnx removes the vertices inside a line (no junction there) and keeps a node where a drawn
    # line ends, even when two lines of one class meet end to end (a village sits there)
    roads = gpd.GeoDataFrame(
        {"road_id": ["p", "q"], "road_class": ["commune", "commune"], "cost_factor": [1.0, 1.0]},
        geometry=[LineString([(0, 0), (200, 0), (300, 40), (400, 0)]),
                  LineString([(400, 0), (1000, 0)])],
        crs=CRS,
    )
    g = road_graph(roads)
    assert sorted(g.nodes[n]["x"] for n in g.nodes) == [0.0, 400.0, 1000.0]
    p = _edge_of(g, "p")
    assert len(p["geometry"].coords) == 4  # the vertices live on in the edge's geometry
    # exact: straight pieces in metres (200 + 2 × √(100² + 40²))
    assert p["length"] == pytest.approx(200 + 2 * np.hypot(100, 40), rel=1e-12)


def test_osmnx_consolidates_a_junction_drawn_twice():
    # a dual carriageway crossing: the side road meets the two parallel lines 6 m apart, giving
    # two junction nodes 6 m apart; osmnx consolidation (5 m per node) makes them one
    roads = gpd.GeoDataFrame(
        {"road_id": ["n", "s", "side"], "road_class": ["national", "national", "commune"],
         "cost_factor": [2.6, 2.6, 1.0]},
        geometry=[LineString([(0, 0), (1000, 0)]), LineString([(0, 6), (1000, 6)]),
                  LineString([(500, -300), (500, 300)])],
        crs=CRS,
    )
    kept = road_graph(roads, consolidate_m=0.0)
    merged = road_graph(roads)
    near = [n for n in kept if abs(kept.nodes[n]["x"] - 500) < 1 and abs(kept.nodes[n]["y"]) < 10]
    assert len(near) == 2
    near = [n for n in merged
            if abs(merged.nodes[n]["x"] - 500) < 1 and abs(merged.nodes[n]["y"]) < 10]
    assert len(near) == 1
    assert merged.number_of_nodes() == kept.number_of_nodes() - 1


def test_consolidation_buffers_only_nodes_that_can_merge(monkeypatch):
    # road_graph hands osmnx a per-node tolerance for the nodes within 2 × tolerance of another
    # (the rest are clusters of their own anyway): the graph must equal osmnx's with one
    # tolerance for every node. Cases: a junction drawn twice 6 m apart (merges), two dead ends
    # 8 m apart that no edge joins (osmnx splits that cluster again), far-apart ends (alone)
    from phusong.network import roads as R

    roads = gpd.GeoDataFrame(
        {"road_id": ["n", "s", "side", "d1", "d2"], "road_class": ["national"] * 2
         + ["commune"] * 3, "cost_factor": [2.6, 2.6, 1.0, 1.0, 1.0]},
        geometry=[LineString([(0, 0), (1000, 0)]), LineString([(0, 6), (1000, 6)]),
                  LineString([(500, -300), (500, 300)]),
                  LineString([(2000, 0), (2000, 400)]), LineString([(2008, 400), (2008, 900)])],
        crs=CRS,
    )
    ours = road_graph(roads)
    kept = road_graph(roads, consolidate_m=0.0)
    tol = R._near_tolerance(kept, R.CONSOLIDATE_M)
    assert isinstance(tol, dict) and 0 < len(tol) < kept.number_of_nodes()  # not every node
    assert R._near_tolerance(road_graph(_roads(), consolidate_m=0.0), 5.0) == 5.0  # none near
    monkeypatch.setattr(R, "_near_tolerance", lambda g, tol: float(tol))  # osmnx's scalar form
    scalar = road_graph(roads)

    def shape(g):
        nodes = sorted((round(d["x"], 6), round(d["y"], 6)) for _, d in g.nodes(data=True))
        edges = sorted((round(d["length"], 6), d["road_id"]) for *_, d in g.edges(data=True))
        return nodes, edges

    assert shape(ours) == shape(scalar)
    assert ours.number_of_nodes() == kept.number_of_nodes() - 1  # only the junction merged


def test_simple_graph_keeps_cheapest_edge():
    g = road_graph(_roads())
    s = simple_graph(g)
    assert isinstance(s, nx.Graph) and not s.is_multigraph() and not s.is_directed()
    assert s.number_of_edges() == 3
    u, v = next(iter(s.edges))
    assert cheapest_edge(g, u, v)["cost_vnd"] == s[u][v]["cost_vnd"]
    with pytest.raises(DataError, match="no edge between"):
        cheapest_edge(g, u, u)


def test_one_road_graph_per_content_in_a_process(monkeypatch, tmp_path):
    """shared_road_graph builds once for the same content (a copy read back from a file is
    the same content: shared), again when the content, costs or urban areas differ."""
    from phusong.network import roads as roads_mod

    monkeypatch.setattr(roads_mod, "_SHARED", roads_mod.OrderedDict())
    built = []
    real = roads_mod.road_graph
    monkeypatch.setattr(roads_mod, "road_graph",
                        lambda r, **kw: built.append(len(r)) or real(r, **kw))
    r = _roads()
    g = roads_mod.shared_road_graph(r)
    r.to_file(tmp_path / "roads.gpkg")
    again = gpd.read_file(tmp_path / "roads.gpkg")
    assert roads_mod.layer_digest(again) == roads_mod.layer_digest(r)
    assert roads_mod.shared_road_graph(again) is g and built == [3]
    other = r.assign(cost_factor=[2.6, 1.5, 1.0])  # one value changed: another graph
    assert roads_mod.shared_road_graph(other) is not g and built == [3, 3]
    from dataclasses import replace

    cheap = replace(COSTS, fibre_aerial_vnd_per_km=1.0)
    assert roads_mod.shared_road_graph(r, costs=cheap) is not g and built == [3, 3, 3]
    # the graph shared is the one road_graph builds
    h = real(r)
    assert list(g.edges(keys=True, data="cost_vnd")) == list(h.edges(keys=True, data="cost_vnd"))


def test_one_snap_serves_every_reach_with_the_same_numbers():
    """The villages projected once (snap_villages) give exactly the distances of a fresh
    projection, for any fibre; a snap of other villages is refused."""
    from phusong.network.reach import snap_villages

    r = _roads()
    g = road_graph(r)
    v = _villages([(200, 30), (1000, 400), (1050, 800), (5050, 5000), (-60, -20)])
    snap = snap_villages(g, v)
    for line in (LineString([(0, 0), (0, -50)]), LineString([(1000, 900), (1100, 900)])):
        fibre = gpd.GeoDataFrame({"span_id": ["f"]}, geometry=[line], crs=CRS)
        fresh = fibre_distance_m(v, fibre, r, graph=g)
        pd.testing.assert_series_equal(fibre_distance_m(v, fibre, r, graph=g, snap=snap),
                                       fresh, check_exact=True)
    with pytest.raises(ValueError, match="another graph or other villages"):
        fibre_distance_m(v.iloc[:2], fibre, r, graph=g, snap=snap)


def test_reach_gaps_and_plan_share_one_road_graph(monkeypatch):
    """``phusong demo``'s calibration figures, gap tables and plan (the same roads, the default
    costs) build the road graph once in the process (main: three times)."""
    from phusong.bundle import validate
    from phusong.network import roads as roads_mod
    from phusong.planning import _plan_deps as deps
    from phusong.planning import compute_gaps, make_plan
    from tests._synthetic import disc_coverage_matrix, disc_scores, synthetic_bundle

    monkeypatch.setattr(roads_mod, "_SHARED", roads_mod.OrderedDict())
    built = []
    real = roads_mod.road_graph
    monkeypatch.setattr(roads_mod, "road_graph",
                        lambda r, **kw: built.append(len(r)) or real(r, **kw))
    monkeypatch.setattr(deps, "coverage_matrix", disc_coverage_matrix)
    b = validate(synthetic_bundle(6, 8, seed=1))
    cov = disc_scores(b)
    stats_reach = fibre_available(b)  # twin stats
    fibre = fibre_available(b, reach_m=500.0)  # the demo's gaps step
    compute_gaps(b, cov, fibre=fibre)
    make_plan(b, village_cov=cov, fibre=fibre)
    assert len(built) == 1 and stats_reach.any()


def test_layer_digest_tells_contents_apart():
    """The digest that keys the shared graph and the plan's reaches: equal for equal content,
    different for a changed value, a changed type ('1' against 1) or a moved vertex; any
    Python value (a list) is accepted."""
    from phusong.network.roads import layer_digest

    r = _roads()
    assert layer_digest(r) == layer_digest(r.copy()) and layer_digest(None) is None
    assert layer_digest(r.assign(road_id=["a", "b", "d"])) != layer_digest(r)
    assert layer_digest(r.assign(x=["1", 1, 2])) != layer_digest(r.assign(x=[1, "1", 2]))
    moved = r.copy()
    moved.loc[2, "geometry"] = LineString([(5000, 5000), (5100, 5000.1)])
    assert layer_digest(moved) != layer_digest(r)
    assert layer_digest(r.assign(x=[[1], {"a": 1}, None])) != layer_digest(r)
