"""Readers of phusong.io on small fixtures made in code (no files from ../shared)."""

from __future__ import annotations

import unicodedata
import warnings
import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from shapely.geometry import LineString, Point, Polygon, box

from phusong import settings
from phusong.communes import commune_facts
from phusong.crs import transform_points
from phusong.errors import (
    CRSError,
    DataError,
    FormatError,
    InputFileError,
    RepairWarning,
    SchemaError,
)
from phusong.io import (
    read_cells,
    read_communes,
    read_dem,
    read_fibre,
    read_opencellid,
    read_population,
    read_roads,
    read_sites,
    read_villages,
    safe_extract,
)
from phusong.io._encoding import TCVN3_TO_UNICODE, decode_text

_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def encode_cp1258(text: str) -> bytes:
    """Windows-1258 as Vietnamese software writes it: base letter + combining tone mark."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        d = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(c for c in d if c not in _TONES))
        out.append(base + "".join(c for c in d if c in _TONES))
    return "".join(out).encode("cp1258")


def encode_tcvn3(text: str) -> bytes:
    """TCVN3 (ABC): upper-case toned letters share the lower-case bytes."""
    inv = {v: k for k, v in TCVN3_TO_UNICODE.items()}
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        out.append(inv[ch] if ch in inv else inv.get(ch.lower(), ord(ch)))
    return bytes(out)


def three_communes(crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    """Boxes of ±0.004° around the centroids of three real communes (facts, not ../shared)."""
    f = commune_facts().set_index("commune_code").loc[["04792", "04795", "04798"]]
    geoms = [box(x - 0.004, y - 0.004, x + 0.004, y + 0.004) for x, y in zip(f.lon, f.lat, strict=True)]
    gdf = gpd.GeoDataFrame({"MA_XA": list(f.index), "TEN_XA": list(f.name)}, geometry=geoms,
                           crs="EPSG:4326")
    return gdf.to_crs(crs)


SITES_CSV = """site_id,operator,tech,lat,lon,height_m
HB001,Viettel,2G/4G,20.8133,105.3383,35
HB002,VNPT-Vinaphone,LTE,20.70,105.20,
HB003,Mobifone,WCDMA,20.90,105.40,30
"""


# --- encodings -------------------------------------------------------------------------------


@pytest.mark.parametrize("encode,name", [(encode_cp1258, "cp1258"), (encode_tcvn3, "tcvn3")])
def test_legacy_encodings_are_detected_and_converted(encode, name):
    text = ("site_id,name,operator\nA,Phường Hữu Nghị,Viettel\nB,Xã Mường Chiềng,VNPT\n"
            "C,Thị trấn Lương Sơn,MobiFone\nD,Xã Đồng Tâm Lạc Thủy,Viettel\n")
    decoded, encoding = decode_text(encode(text))
    assert encoding == name
    assert decoded == unicodedata.normalize("NFC", text)


def test_undecodable_bytes_are_refused():
    with pytest.raises(UnicodeError):
        decode_text(bytes(range(0x80, 0x100)) * 3)


# --- operator lists ----------------------------------------------------------------------------


def test_sites_csv_per_site_with_defaults(tmp_path):
    p = tmp_path / "sites.csv"
    p.write_text(SITES_CSV, encoding="utf-8")
    sites, cells = read_sites(p)
    assert sites.data.site_id.tolist() == ["HB001", "HB002", "HB003"]
    assert sites.data.operator.tolist() == ["Viettel", "VNPT", "MobiFone"]
    assert sites.data.height_m.tolist() == [35.0, settings.RADIO.tower_height_m, 30.0]
    assert sorted(cells.data.tech) == ["2G", "3G", "4G", "4G"]
    assert cells.data.cell_id.is_unique
    assert (cells.data.eirp_dbm == settings.RADIO.eirp_dbm).all()
    assert any("height_m missing for 1 row" in n for n in sites.notes)
    assert any("eirp_dbm missing" in n for n in cells.notes)


def test_sites_xlsx_with_column_mapping_and_vn2000_xy(tmp_path):
    lon = np.array([105.3383, 105.25])
    lat = np.array([20.8133, 20.75])
    e, n = transform_points(lon, lat, "EPSG:4326", "EPSG:9211")
    df = pd.DataFrame({"MA_TRAM": ["T1", "T2"], "NHA_MANG": ["Viễn thông Hòa Bình", "Viettel"],
                       "CONG_NGHE": ["NR", "GSM"], "X": n, "Y": e})  # X = northing
    p = tmp_path / "tram.xlsx"
    df.to_excel(p, index=False)
    cols = {"site_id": "MA_TRAM", "operator": "NHA_MANG", "tech": "CONG_NGHE", "x": "X", "y": "Y"}
    sites, cells = read_sites(p, columns=cols, crs="EPSG:9211")
    # 1e-6 degrees ≈ 0.1 m: the round trip through pyproj is exact to far better than that
    np.testing.assert_allclose(sites.data.geometry.x, lon, atol=1e-6)
    np.testing.assert_allclose(sites.data.geometry.y, lat, atol=1e-6)
    assert sites.data.operator.tolist() == ["VNPT", "Viettel"]
    assert cells.data.tech.tolist() == ["5G", "2G"]
    # the same numbers in GIS order (X = easting) are detected, swapped and warned about
    df2 = df.rename(columns={"X": "Y", "Y": "X"})
    df2.to_excel(p, index=False)
    with pytest.warns(RepairWarning, match="GIS order"):
        sites2, _ = read_sites(p, columns=cols, crs="EPSG:9211")
    np.testing.assert_allclose(sites2.data.geometry.x, lon, atol=1e-6)  # same reason as above


def test_sites_one_row_per_cell_and_separate_cell_file(tmp_path):
    p = tmp_path / "cells.csv"
    p.write_text("site_id,cell_id,operator,tech,lat,lon,azimuth,band\n"
                 "S1,S1-1,Viettel,4G,20.81,105.33,0,B3\nS1,S1-2,Viettel,4G,20.81,105.33,120,B8\n",
                 encoding="utf-8")
    sites, cells = read_sites(p)
    assert len(sites.data) == 1 and len(cells.data) == 2
    assert cells.data.freq_mhz.tolist() == [settings.BANDS_MHZ["4G"]["B3"],
                                            settings.BANDS_MHZ["4G"]["B8"]]
    s = tmp_path / "s.csv"
    s.write_text("site_id,operator,lat,lon\nS1,Viettel,20.81,105.33\n", encoding="utf-8")
    only_sites, none = read_sites(s, need_cells=False)
    assert none is None
    c = tmp_path / "c.csv"
    c.write_text("site_id,tech\nS1,4G\nS9,2G\n", encoding="utf-8")
    with pytest.raises(DataError, match="S9"):
        read_cells(c, sites=only_sites.data)


def test_opencellid_standard_columns(tmp_path):
    p = tmp_path / "ocid.csv"
    p.write_text("radio,mcc,net,area,cell,unit,lon,lat,range,samples\n"
                 "LTE,452,4,100,2561,0,105.33,20.81,1000,3\n"
                 "LTE,452,4,100,2562,0,105.331,20.811,1000,3\n"
                 "GSM,452,7,5,77,0,105.3,20.8,1000,1\n", encoding="utf-8")
    with pytest.warns(RepairWarning, match="dropped 1 row"):
        sites, cells = read_opencellid(p)
    assert sites.data.site_id.tolist() == ["452-04-enb10"]  # 2561 // 256 == 2562 // 256 == 10
    assert len(cells.data) == 2 and set(cells.data.tech) == {"4G"}


# --- commune boundaries ------------------------------------------------------------------------


def test_communes_by_name_with_variants_and_vn2000_shapefile_zip(tmp_path):
    gdf = three_communes("EPSG:9211")
    gdf["TEN_XA"] = ["phường  tân hoà", "Thịnh Lang", "PHƯỜNG HỮU NGHỊ"]
    gdf.drop(columns="MA_XA").to_file(tmp_path / "xa.shp")
    (tmp_path / "xa.prj").unlink()
    with zipfile.ZipFile(tmp_path / "xa.zip", "w") as z:
        for ext in ("shp", "shx", "dbf"):
            z.write(tmp_path / f"xa.{ext}", f"xa.{ext}")
    out = read_communes(tmp_path / "xa.zip", crs="EPSG:9211")
    assert out.data.commune_code.tolist() == ["04792", "04795", "04798"]
    assert out.data.crs.to_epsg() == 4326
    # boxes are 0.008° wide: ≈ 0.83 km × 0.89 km; 5 % covers the latitude variation
    assert out.data.area_km2.between(0.70, 0.78).all()


def test_communes_unmatched_names_get_candidates(tmp_path):
    gdf = three_communes()
    gdf["TEN_XA"] = ["Tân Hòa", "Thinh Lang", "Hữu Nghị"]
    gdf.drop(columns="MA_XA").to_file(tmp_path / "xa.geojson")
    with pytest.raises(DataError, match="Thinh Lang.*closest: Phường Thịnh Lang"):
        read_communes(tmp_path / "xa.geojson")


def test_communes_invalid_polygon_repaired_or_refused(tmp_path):
    gdf = three_communes().to_crs("EPSG:32648")
    x0, y0, x1, y1 = gdf.geometry.iloc[0].bounds
    # a square with a tiny self-intersecting spike: repair changes the area by far below 1 %
    spiky = Polygon([(x0, y0), (x1, y0), (x1, y1), (x0 + 10, y1), (x0 + 10, y1 + 2),
                     (x0 + 12, y1 - 2), (x0, y1)])
    assert not spiky.is_valid
    gdf.loc[0, "geometry"] = spiky
    gdf.to_crs("EPSG:4326").to_file(tmp_path / "a.gpkg")
    with pytest.warns(RepairWarning, match="04792"):
        out = read_communes(tmp_path / "a.gpkg")
    assert out.data.geometry.is_valid.all()
    bowtie = Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    gdf.loc[0, "geometry"] = bowtie
    gdf.to_crs("EPSG:4326").to_file(tmp_path / "b.gpkg")
    with pytest.raises(DataError, match=r"04792"):
        read_communes(tmp_path / "b.gpkg")


def test_communes_missing_and_mixed_crs(tmp_path):
    gdf = three_communes("EPSG:9211")
    gdf.to_file(tmp_path / "xa.shp")
    with pytest.raises(CRSError, match="mixed CRS"):
        read_communes(tmp_path / "xa.shp", crs="EPSG:4326")
    (tmp_path / "xa.prj").unlink()
    with pytest.raises(CRSError, match="no CRS"):
        read_communes(tmp_path / "xa.shp")


def test_zip_slip_refused(tmp_path):
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("../outside.shp", b"x")
    with pytest.raises(FormatError, match="outside the archive"):
        safe_extract(z, tmp_path / "x")
    assert not (tmp_path / "outside.shp").exists()


# --- rasters -----------------------------------------------------------------------------------


def test_hgt_voids_fill_and_geotiff(tmp_path):
    grid = np.arange(1201 * 1201, dtype=np.int64).reshape(1201, 1201) % 500
    grid = grid.astype(">i2")
    grid[600, 600] = -32768
    grid.tofile(tmp_path / "N20E105.hgt")
    dem = read_dem(tmp_path / "N20E105.hgt")
    r = dem.data
    # pixel centres on whole degrees: the first pixel is centred on (105 E, 21 N)
    centre = (r.transform.c + 0.5 * r.transform.a, r.transform.f + 0.5 * r.transform.e)
    assert centre == pytest.approx((105.0, 21.0), abs=1e-12)  # float rounding only
    assert np.isnan(r.array[600, 600])
    filled = read_dem(tmp_path / "N20E105.hgt", fill_voids=True)
    assert np.isfinite(filled.data.array).all()
    assert any("filled 1 of 1" in n for n in filled.notes)
    with pytest.raises(FormatError, match="not an SRTM tile"):
        (tmp_path / "N20E104.hgt").write_bytes(b"\0" * 100)
        read_dem(tmp_path / "N20E104.hgt")
    pop = np.array([[1.5, -99.0], [2.0, 3.0]], dtype="float32")
    with rasterio.open(tmp_path / "pop.tif", "w", driver="GTiff", height=2, width=2, count=1,
                       dtype="float32", crs="EPSG:4326",
                       transform=Affine(0.001, 0, 105.3, 0, -0.001, 20.9)) as dst:
        dst.write(pop, 1)
    p = read_population(tmp_path / "pop.tif")
    assert float(np.nansum(p.data.array)) == pytest.approx(6.5)  # exact float32 sums
    assert p.data.unit == "persons"


# --- roads, fibre, villages --------------------------------------------------------------------


def test_osm_roads_classes_and_cost_factors(tmp_path):
    osm = tmp_path / "r.osm"
    osm.write_text(
        '<?xml version="1.0"?><osm version="0.6">'
        '<node id="1" lat="20.80" lon="105.30"/><node id="2" lat="20.81" lon="105.31"/>'
        '<node id="3" lat="20.82" lon="105.30"/>'
        '<way id="10"><nd ref="1"/><nd ref="2"/><tag k="highway" v="trunk"/>'
        '<tag k="ref" v="QL6"/><tag k="name" v="Quốc lộ 6"/></way>'
        '<way id="11"><nd ref="2"/><nd ref="3"/><tag k="highway" v="secondary"/></way>'
        '<way id="12"><nd ref="2"/><nd ref="3"/><tag k="highway" v="road"/></way>'
        '<way id="13"><nd ref="2"/><nd ref="3"/><tag k="highway" v="footway"/></way>'
        '</osm>', encoding="utf-8")
    roads = read_roads(osm)
    d = roads.data.set_index("road_id")
    assert d.loc["osm_way_10", "road_class"] == "national"
    assert d.loc["osm_way_10", "name"] == "Quốc lộ 6"
    assert d.loc["osm_way_11", "road_class"] == "district"
    assert d.loc["osm_way_12", "road_class"] == "commune"
    assert "osm_way_13" not in d.index
    assert d.cost_factor.tolist() == [settings.ROAD_COST_FACTOR[c] for c in d.road_class]
    assert any("1 road(s) without a known class" in n for n in roads.notes)
    gpkg = tmp_path / "r.gpkg"
    gpd.GeoDataFrame({"ref": ["ĐT.435", None]},
                     geometry=[LineString([(105.3, 20.8), (105.4, 20.8)]),
                               LineString([(105.3, 20.8), (105.3, 20.9)])],
                     crs="EPSG:4326").to_file(gpkg)
    assert read_roads(gpkg).data.road_class.tolist() == ["provincial", "commune"]


def test_ofds_fibre_spans_and_nodes(tmp_path):
    gdf = gpd.GeoDataFrame(
        {"id": ["s1", "n1", "n2"], "featureType": ["span", "node", "node"],
         "status": ["operational"] * 3, "type": [None, '["pop"]', '["accessPoint"]'],
         "fibreCount": [24, None, None]},
        geometry=[LineString([(105.3, 20.8), (105.4, 20.8)]), Point(105.3, 20.8),
                  Point(105.4, 20.8)], crs="EPSG:4326")
    gdf.to_file(tmp_path / "f.geojson")
    spans, nodes = read_fibre(tmp_path / "f.geojson")
    assert spans.data.span_id.tolist() == ["s1"]
    assert spans.data.cable_count.tolist() == [24]
    assert nodes.data.kind.tolist() == ["POP", "access_node"]


def test_villages_placed_in_communes_and_households_estimated(tmp_path):
    communes = read_communes_fixture(tmp_path)
    f = commune_facts().set_index("commune_code").loc["04795"]
    p = tmp_path / "thon.csv"
    p.write_text(f"ma_thon,ten_thon,so_dan,lat,lon\nV1,Bản A,400,{f.lat},{f.lon}\n",
                 encoding="utf-8")
    v = read_villages(p, communes=communes)
    assert v.data.commune_code.tolist() == ["04795"]
    assert v.data.households.iloc[0] == round(400 / (f.population / f.households))
    assert any("estimated 1 households" in n for n in v.notes)


def read_communes_fixture(tmp_path):
    three_communes().to_file(tmp_path / "c.geojson")
    return read_communes(tmp_path / "c.geojson").data


# --- bad input at the reader level -------------------------------------------------------------


def test_reader_errors_name_the_problem(tmp_path):
    with pytest.raises(InputFileError):
        read_sites(tmp_path / "nope.csv")
    (tmp_path / "e.csv").write_text("", encoding="utf-8")
    with pytest.raises(FormatError, match="empty"):
        read_sites(tmp_path / "e.csv")
    (tmp_path / "h.csv").write_text("site_id,operator,tech,lat,lon\n", encoding="utf-8")
    with pytest.raises(FormatError, match="no data rows"):
        read_sites(tmp_path / "h.csv")
    bad = SITES_CSV.replace("2G/4G", "WiMAX")
    (tmp_path / "t.csv").write_text(bad, encoding="utf-8")
    with pytest.raises(DataError, match=r"unknown tech 'WiMAX'.*allowed: 2G/GSM"):
        read_sites(tmp_path / "t.csv")
    (tmp_path / "o.csv").write_text(SITES_CSV.replace("Mobifone", "Gmobile"), encoding="utf-8")
    with pytest.raises(DataError, match=r"HB003.*'Gmobile'.*allowed"):
        read_sites(tmp_path / "o.csv")
    (tmp_path / "m.csv").write_text("site_id,tech,lat,lon\nA,4G,20.8,105.3\n", encoding="utf-8")
    with pytest.raises(SchemaError, match="operator"):
        read_sites(tmp_path / "m.csv")
    (tmp_path / "d.csv").write_text(SITES_CSV.replace("HB002", "HB001"), encoding="utf-8")
    with pytest.raises(DataError, match="duplicate site id"):
        read_sites(tmp_path / "d.csv")
    (tmp_path / "s.csv").write_text(SITES_CSV.replace("20.70,105.20", "105.20,20.70"),
                                    encoding="utf-8")
    with pytest.raises(DataError, match=r"HB002 \(row 2\).*lat/lon swapped"):
        read_sites(tmp_path / "s.csv")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sites, _ = read_sites(tmp_path / "s.csv", drop_outside=True)
    assert sites.data.site_id.tolist() == ["HB001", "HB003"]
    assert any(issubclass(w.category, RepairWarning) for w in caught)
    (tmp_path / "v.csv").write_text("site_id,operator,tech,lat,lon\nA,Viettel,4G,2302427,430928\n",
                                    encoding="utf-8")
    with pytest.raises(CRSError, match="look like VN-2000 metres.*pass --crs EPSG:9211"):
        read_sites(tmp_path / "v.csv")
    (tmp_path / "x.csv").write_text("site_id,operator,tech,lat,lon\nA,Viettel,4G,2302427,430928\n"
                                    "B,Viettel,4G,20.8,105.3\n", encoding="utf-8")
    with pytest.raises(CRSError, match="mixed units"):
        read_sites(tmp_path / "x.csv")


def test_shapefile_without_cpg_in_tcvn3(tmp_path):
    gdf = three_communes().drop(columns="MA_XA")
    # DBF text written as TCVN3 bytes (Latin-1 carries them byte for byte), no .cpg file
    gdf["TEN_XA"] = [encode_tcvn3(n).decode("latin-1") for n in gdf["TEN_XA"]]
    gdf.to_file(tmp_path / "xa.shp", encoding="ISO-8859-1")
    (tmp_path / "xa.cpg").unlink(missing_ok=True)
    out = read_communes(tmp_path / "xa.shp")
    assert out.data.commune_code.tolist() == ["04792", "04795", "04798"]
    assert any("decoded from tcvn3" in n for n in out.notes)
