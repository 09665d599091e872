"""OpenStreetMap roads: XML (osmnx), PBF (pyosmium), downloads (osmnx against a local stand-in
for Overpass, never the network), ``phusong data roads`` and the importer's ``--roads``."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import networkx as nx
import osmium
import osmnx as ox
import pyogrio
import pytest
from click.testing import CliRunner
from shapely.geometry import box

from phusong.bundle import load_bundle, save_bundle
from phusong.cli import main
from phusong.errors import FormatError
from phusong.io.osm import download_osm_roads, osm_extent, read_osm
from phusong.io.roads import read_roads
from phusong.maps._example import example_bundle
from phusong.network.roads import road_graph

# the example bundle's communes cover 105.30–105.50 E × 20.80–20.85 N
NODES = {1: (105.35, 20.82), 2: (105.40, 20.82), 3: (105.45, 20.82), 4: (105.40, 20.84),
         5: (105.40, 20.80), 6: (106.50, 21.50), 7: (106.51, 21.50), 8: (105.42, 20.83),
         9: (105.43, 20.83)}
WAYS = [  # id, node refs, tags
    (101, [1, 2, 3], {"highway": "trunk", "ref": "QL.6", "name": "Quốc lộ 6"}),
    (102, [4, 2, 5], {"highway": "tertiary", "name": "Đường Cù Chính Lan"}),
    (103, [6, 7], {"highway": "primary"}),  # far outside the communes
    (104, [8, 9], {"highway": "footway"}),  # not a route for cable
    (105, [2, 8], {"highway": "track"}),
]


def write_xml(path, ways=WAYS):
    nodes = "".join(f'<node id="{i}" lat="{lat}" lon="{lon}" version="1"/>'
                    for i, (lon, lat) in NODES.items())
    body = "".join(
        f'<way id="{w}" version="1">' + "".join(f'<nd ref="{r}"/>' for r in refs)
        + "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items()) + "</way>"
        for w, refs, tags in ways)
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?><osm version="0.6">{nodes}{body}</osm>',
                    encoding="utf-8")
    return path


def write_pbf(path, ways=WAYS):
    w = osmium.SimpleWriter(str(path))
    try:
        for i, (lon, lat) in NODES.items():
            w.add_node(osmium.osm.mutable.Node(id=i, location=(lon, lat), version=1))
        for wid, refs, tags in ways:
            w.add_way(osmium.osm.mutable.Way(id=wid, nodes=refs, tags=tags, version=1))
    finally:
        w.close()
    return path


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("osm") / "b"
    save_bundle(example_bundle(), d)
    return d


@pytest.fixture(scope="module")
def extent(bundle_dir):
    return osm_extent(load_bundle(bundle_dir).communes)


@pytest.mark.parametrize("writer, suffix", [(write_xml, "a.osm"), (write_pbf, "a.osm.pbf")])
def test_osm_xml_and_pbf_read_alike(tmp_path, extent, writer, suffix):
    roads = read_osm(writer(tmp_path / suffix), extent=extent)
    # the far primary road and the footway are left out; the rest kept whole (inside the extent)
    assert sorted(roads["road_id"]) == ["osm_way_101", "osm_way_102", "osm_way_105"]
    assert roads.crs.to_epsg() == 4326
    name = dict(zip(roads["road_id"], roads["name"], strict=True))
    assert name["osm_way_102"] == "Đường Cù Chính Lan"
    imp = read_roads(tmp_path / suffix, extent=extent)
    cls = dict(zip(imp.data["road_id"], imp.data["road_class"], strict=True))
    assert cls == {"osm_way_101": "national", "osm_way_102": "commune", "osm_way_105": "track"}
    assert dict(zip(imp.data["road_id"], imp.data["cost_factor"], strict=True))["osm_way_105"] \
        == 1.6


def test_osm_roads_are_cut_to_the_extent(tmp_path):
    small = box(105.30, 20.81, 105.41, 20.83)  # trunk 101 is cut at 105.41 E
    roads = read_osm(write_pbf(tmp_path / "a.osm.pbf"), extent=small)
    trunk = roads.set_index("road_id").geometry["osm_way_101"]
    assert trunk.bounds[2] == pytest.approx(105.41, abs=1e-9)


def test_osm_graph_through_osmnx(tmp_path, extent):
    imp = read_roads(write_pbf(tmp_path / "a.osm.pbf"), extent=extent)
    g = road_graph(imp.data)
    assert isinstance(g, nx.MultiDiGraph) and g.graph["crs"] == "EPSG:32648"
    assert nx.is_weakly_connected(g)  # the three ways meet at node 2 (and 8)
    # the trunk passes through node 2 where the tertiary crosses: a junction, not a vertex
    assert g.number_of_nodes() == 6  # ends 1, 3, 4, 5, 8 and the junction 2


def test_no_roads_in_extent_and_corrupt_pbf(tmp_path, extent):
    far = [WAYS[2]]
    for path in (write_xml(tmp_path / "far.osm", far), write_pbf(tmp_path / "far.osm.pbf", far)):
        with pytest.raises(FormatError, match="no roads .* in the communes' extent"):
            read_osm(path, extent=extent)
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(b"\x00\x00\x00\x0dnot a pbf at all" * 50)
    with pytest.raises(FormatError, match="not a readable OSM PBF file"):
        read_osm(bad, extent=extent)
    broken = tmp_path / "broken.osm"
    broken.write_text("<osm><node id='1' lat='20.8'", encoding="utf-8")
    with pytest.raises(FormatError, match="not valid OSM XML"):
        read_osm(broken, extent=extent)


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_cli_data_roads_from_pbf(tmp_path, bundle_dir):
    out = tmp_path / "roads.gpkg"
    r = _run("data", "roads", "--osm", write_pbf(tmp_path / "a.osm.pbf"), "--communes",
             bundle_dir, "--out", out, "--json")
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    roads = pyogrio.read_dataframe(out, layer="roads")
    assert rep["ways"] == 3 and rep["roads"] == len(roads)
    assert set(roads["road_class"]) == {"national", "commune", "track"}
    assert out.read_bytes()[60:64] == (10200).to_bytes(4, "big")  # GeoPackage 1.2
    # each road once (not per direction); the trunk and the tertiary are split at node 2
    assert len(roads) == 5
    assert roads["length_m"].sum() == pytest.approx(rep["length_km"] * 1000, abs=1.0)


@pytest.mark.parametrize("kind", ["corrupt", "empty", "empty_xml", "broken_xml"])
def test_cli_data_roads_bad_input(tmp_path, bundle_dir, kind):
    src = tmp_path / ("x.osm" if kind.endswith("xml") else "x.osm.pbf")
    if kind == "corrupt":
        src.write_bytes(b"\x00\x00\x00\x0dnot a pbf at all" * 50)
    elif kind == "empty":  # roads only far outside the communes
        write_pbf(src, [WAYS[2]])
    elif kind == "empty_xml":
        write_xml(src, [WAYS[2]])
    else:
        src.write_text("<osm><node id='1' lat='20.8'", encoding="utf-8")
    out = tmp_path / "roads.gpkg"
    r = _run("data", "roads", "--osm", src, "--communes", bundle_dir, "--out", out)
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(src) in lines[0]
    assert not out.exists() and list(tmp_path.iterdir()) == [src]  # nothing half-written


def test_importer_reads_pbf_cut_to_the_communes(tmp_path, bundle_dir):
    b = load_bundle(bundle_dir)
    communes = tmp_path / "communes.geojson"
    real = b.communes[b.communes["commune_code"] != "05107"]  # a made-up code in the example
    real.to_file(communes, driver="GeoJSON")
    r = _run("data", "import", "--communes", communes, "--roads",
             write_pbf(tmp_path / "a.osm.pbf"), "--out", tmp_path / "nb", "--quiet")
    assert r.exit_code == 0, r.output
    got = load_bundle(tmp_path / "nb")
    # the communes' extent (+2 km) may cut a way in two: pieces keep the way's id as a prefix
    assert {"_".join(i.split("_")[:3]) for i in got.roads["road_id"]} == {
        "osm_way_101", "osm_way_102", "osm_way_105"}
    assert "ODbL" in got.provenance["roads"].licence


@pytest.mark.parametrize("kind", ["corrupt", "empty"])
def test_importer_refuses_a_corrupt_or_empty_pbf(tmp_path, bundle_dir, kind):
    # the importer's --roads takes the same OSM files as `data roads`, and refuses them the same
    # way: one line naming the file, exit 2, no bundle folder
    b = load_bundle(bundle_dir)
    communes = tmp_path / "communes.geojson"
    b.communes[b.communes["commune_code"] != "05107"].to_file(communes, driver="GeoJSON")
    src = tmp_path / "x.osm.pbf"
    if kind == "corrupt":
        src.write_bytes(b"\x00\x00\x00\x0dnot a pbf at all" * 50)
    else:  # roads only far outside the communes
        write_pbf(src, [WAYS[2]])
    r = _run("data", "import", "--communes", communes, "--roads", src, "--out", tmp_path / "nb",
             "--quiet")
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(src) in lines[0], lines
    assert not (tmp_path / "nb").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["communes.geojson", "x.osm.pbf"]


class _Overpass(BaseHTTPRequestHandler):
    """Stands in for an Overpass API: answers every query with the fixture's ways as JSON."""

    queries: list[str] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        type(self).queries.append(parse_qs(body)["data"][0])
        elements = [{"type": "node", "id": i, "lat": lat, "lon": lon}
                    for i, (lon, lat) in NODES.items()]
        elements += [{"type": "way", "id": w, "nodes": refs, "tags": tags}
                     for w, refs, tags in WAYS]
        data = json.dumps({"version": 0.6, "elements": elements}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def overpass(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Overpass)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Overpass.queries = []
    # osmnx's own settings: its Overpass endpoint, and no pause (no /status on the stand-in)
    monkeypatch.setattr(ox.settings, "overpass_url", f"http://127.0.0.1:{server.server_port}/api")
    monkeypatch.setattr(ox.settings, "overpass_rate_limit", False)
    yield _Overpass
    server.shutdown()
    server.server_close()


def test_download_through_osmnx_settings(overpass, extent):
    roads = download_osm_roads(extent)
    assert len(overpass.queries) == 1
    q = overpass.queries[0]
    assert '["highway"]' in q and "poly:" in q  # osmnx asked for highway ways in the polygon
    # osmnx keeps the ways crossing the polygon: the far primary road is not among them
    ids = {i.split("_")[2] for i in roads["road_id"]}
    assert ids == {"101", "102", "105"}
    assert ox.settings.use_cache is True  # osmnx's settings are restored after the download


def test_cli_data_roads_download(overpass, tmp_path, bundle_dir):
    out = tmp_path / "dl.gpkg"
    r = _run("data", "roads", "--download", "--communes", bundle_dir, "--out", out, "--json")
    assert r.exit_code == 0, r.output
    roads = pyogrio.read_dataframe(out, layer="roads")
    assert set(roads["road_class"]) == {"national", "commune", "track"}
    r = _run("data", "roads", "--communes", bundle_dir, "--out", tmp_path / "x.gpkg")
    assert r.exit_code == 2 and "give one of --osm FILE or --download" in r.output
