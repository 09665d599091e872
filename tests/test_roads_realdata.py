"""The osmnx road graph on the real 2018 OSM roads of Hòa Bình (../shared; skipped when absent).

``benchmarks/bench_roads_osmnx.py`` compares it with the builder it replaced (route cost, size).
"""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest

from phusong import settings
from phusong.network.roads import graph_components, road_graph, snap_points
from phusong.planning.fibre_router import route_fibre

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


@pytest.fixture(scope="module")
def real(hoabinh):
    roads = gpd.read_file(hoabinh / "osm2018" / "roads_province.gpkg")
    roads = roads.assign(road_id=[f"osm{i}" for i in range(len(roads))], road_class="commune",
                         cost_factor=settings.ROAD_COST_FACTOR["commune"])
    places = gpd.read_file(hoabinh / "osm2018" / "places_bbox.geojson")
    places = places[places["in_province"].astype(bool)].to_crs(settings.WORK_CRS)
    return roads, places.reset_index(drop=True), road_graph(roads)


def test_real_roads_give_an_osmnx_graph(real):
    roads, _, g = real
    assert isinstance(g, nx.MultiDiGraph) and g.graph["crs"] == settings.WORK_CRS
    # SOURCES.md: 1,586 lines, 1,760 km. Consolidation moves junctions by a few metres and
    # snapping adds ≤ 5 m per dangling end: the network keeps its length within 1 %
    km = g.size(weight="length") / 2 / 1000
    assert km == pytest.approx(1760, rel=0.01)
    assert len(roads) == 1586
    # every edge has both directions, u→v geometry and a finite cost
    for u, _, d in g.edges(data=True):
        assert d["geometry"].coords[0] == pytest.approx((g.nodes[u]["x"], g.nodes[u]["y"]))
        assert np.isfinite(d["cost_vnd"]) and d["cost_vnd"] > 0
    assert g.number_of_edges() % 2 == 0


def test_real_roads_route_fibre_within_bounds(real):
    _, places, g = real
    nodes, _ = snap_points(g, places.geometry.x.to_numpy(), places.geometry.y.to_numpy())
    city = int(nodes[int(np.flatnonzero(places["fclass"].astype(str) == "city")[0])])
    comp = next(c for c in graph_components(g) if city in c)
    terms = sorted({int(n) for n in nodes if int(n) in comp and int(n) != city})
    assert len(terms) >= 5  # the city's road component reaches several towns and villages
    r = route_fibre(g, terms, weight="cost_vnd", existing=[city], time_limit_s=10)
    assert sorted(r.terminals_unreachable) == []
    sp = nx.single_source_dijkstra_path_length(g, city, weight="cost_vnd")
    # a Steiner tree costs at least its dearest terminal's shortest path and at most the sum of
    # all shortest paths (their union connects everything); 1e-9 relative for float sums
    assert max(sp[t] for t in terms) * (1 - 1e-9) <= r.cost <= sum(sp[t] for t in terms) * (1 + 1e-9)
