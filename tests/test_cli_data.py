"""``phusong data import/validate`` through click: bad input gives exit 2, one line, no traceback,
no partial bundle, inputs untouched; good input gives a bundle with provenance."""

from __future__ import annotations

import hashlib
import json
import unicodedata
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
from click.testing import CliRunner
from shapely.geometry import Polygon, box

from phusong.bundle import load_bundle
from phusong.cli import main
from phusong.communes import commune_facts
from phusong.io._encoding import TCVN3_TO_UNICODE

_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
CODES = ["04792", "04795", "04798"]


def _cp1258(text: str) -> bytes:
    out = []
    for ch in unicodedata.normalize("NFC", text):
        d = unicodedata.normalize("NFD", ch)
        out.append(unicodedata.normalize("NFC", "".join(c for c in d if c not in _TONES))
                   + "".join(c for c in d if c in _TONES))
    return "".join(out).encode("cp1258")


def _tcvn3(text: str) -> bytes:
    inv = {v: k for k, v in TCVN3_TO_UNICODE.items()}
    return bytes(inv[c] if c in inv else inv.get(c.lower(), ord(c))
                 for c in unicodedata.normalize("NFC", text))


@pytest.fixture()
def inputs(tmp_path) -> Path:
    """A folder of small input files made from commune facts (no ../shared)."""
    d = tmp_path / "in"
    d.mkdir()
    f = commune_facts().set_index("commune_code").loc[CODES]
    geoms = [box(x - 0.004, y - 0.004, x + 0.004, y + 0.004)
             for x, y in zip(f.lon, f.lat, strict=True)]
    com = gpd.GeoDataFrame({"MA_XA": CODES, "TEN_XA": list(f.name)}, geometry=geoms,
                           crs="EPSG:4326")
    com.to_file(d / "xa.geojson")
    com.to_crs("EPSG:9211").to_file(d / "xa_vn2000.shp")
    com.to_crs("EPSG:9211").to_file(d / "noprj.shp")
    (d / "noprj.prj").unlink()
    x0, y0 = f.lon.iloc[0], f.lat.iloc[0]
    bowtie = com.copy()
    bowtie.loc[0, "geometry"] = Polygon([(x0 - 0.004, y0 - 0.004), (x0 + 0.004, y0 + 0.004),
                                         (x0 + 0.004, y0 - 0.004), (x0 - 0.004, y0 + 0.004)])
    bowtie.to_file(d / "bowtie.geojson")
    lat, lon = f.lat.iloc[1], f.lon.iloc[1]
    rows = [("HB1", "Viettel", "4G", lat, lon), ("HB2", "Vinaphone", "2G/3G", lat + 0.002, lon)]
    csv = "site_id,operator,tech,lat,lon\n" + "".join(f"{a},{b},{c},{y},{x}\n"
                                                      for a, b, c, y, x in rows)
    (d / "sites.csv").write_text(csv, encoding="utf-8")
    (d / "empty.csv").write_bytes(b"")
    (d / "noop.csv").write_text(csv.replace("operator,", "carrier_x,"), encoding="utf-8")
    (d / "badop.csv").write_text(csv.replace("Vinaphone", "Beeline"), encoding="utf-8")
    (d / "badtech.csv").write_text(csv.replace("2G/3G", "CDMA"), encoding="utf-8")
    (d / "swapped.csv").write_text(csv.replace(f"{lat + 0.002},{lon}", f"{lon},{lat + 0.002}"),
                                   encoding="utf-8")
    (d / "outside.csv").write_text(csv.replace(f"{lat + 0.002},{lon}", "10.77,106.70"),
                                   encoding="utf-8")
    (d / "vn2000.csv").write_text("site_id,operator,tech,lat,lon\nA,Viettel,4G,2302427,430928\n",
                                  encoding="utf-8")
    (d / "dup.csv").write_text(csv.replace("HB2", "HB1"), encoding="utf-8")
    named = "site_id,name,operator,tech,lat,lon\n" + "".join(
        f"{a},Trạm Thịnh Lang {a},{b},{c},{y},{x}\n" for a, b, c, y, x in rows)
    named = named.replace("Vinaphone", "Viễn thông Hòa Bình")
    (d / "cp1258.csv").write_bytes(_cp1258(named))
    (d / "tcvn3.csv").write_bytes(_tcvn3(named))
    (d / "garbage.csv").write_bytes(b"site_id,operator\n" + bytes(range(0x80, 0x100)) * 2)
    (d / "notgeo.geojson").write_text("this is not json", encoding="utf-8")
    with zipfile.ZipFile(d / "slip.zip", "w") as z:
        z.writestr("../../evil.shp", b"x")
    return d


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


def _run(args):
    return CliRunner().invoke(main, [str(a) for a in args])


BAD = {
    "missing file": (["--communes", "{d}/nope.geojson"], "no such communes file"),
    "wrong format": (["--communes", "{d}/sites.csv"], "unsupported communes format"),
    "unreadable file": (["--communes", "{d}/notgeo.geojson"], "not a readable communes file"),
    "empty file": (["--communes", "{d}/xa.geojson", "--sites", "{d}/empty.csv"], "empty"),
    "missing column": (["--communes", "{d}/xa.geojson", "--sites", "{d}/noop.csv"],
                       "missing required column(s) ['operator']"),
    "unknown operator": (["--communes", "{d}/xa.geojson", "--sites", "{d}/badop.csv"],
                         "unknown operator"),
    "unknown tech": (["--communes", "{d}/xa.geojson", "--sites", "{d}/badtech.csv"],
                     "unknown tech 'CDMA'"),
    "lat/lon swapped": (["--communes", "{d}/xa.geojson", "--sites", "{d}/swapped.csv"],
                        "look like lat/lon swapped"),
    "outside extent": (["--communes", "{d}/xa.geojson", "--sites", "{d}/outside.csv"],
                       "HB2 (row 2)"),
    "VN-2000 as WGS 84": (["--communes", "{d}/xa.geojson", "--sites", "{d}/vn2000.csv"],
                          "look like VN-2000 metres"),
    "duplicate site ids": (["--communes", "{d}/xa.geojson", "--sites", "{d}/dup.csv"],
                           "duplicate site id"),
    "self-intersecting polygon": (["--communes", "{d}/bowtie.geojson"], "04792"),
    "mixed CRS": (["--communes", "{d}/xa_vn2000.shp", "--communes-crs", "EPSG:4326"],
                  "mixed CRS"),
    "missing CRS": (["--communes", "{d}/noprj.shp"], "no CRS"),
    "undecodable CSV": (["--communes", "{d}/xa.geojson", "--sites", "{d}/garbage.csv"],
                        "save it as UTF-8"),
    "zip slip": (["--communes", "{d}/slip.zip"], "outside the archive folder"),
    "bad --col": (["--communes", "{d}/xa.geojson", "--col", "lat"], "expected NAME=VALUE"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_exit_2_one_line_nothing_left(inputs, tmp_path, case):
    args, expected = BAD[case]
    out = tmp_path / "out" / "bundle"
    before = _hashes(inputs)
    result = _run(["data", "import", *[a.format(d=inputs) for a in args], "--out", out])
    assert result.exit_code == 2, (case, result.output, result.stderr)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert expected in lines[0]
    assert "Traceback" not in result.output
    assert not out.exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []  # no temp folder left
    assert _hashes(inputs) == before
    assert not (tmp_path / "evil.shp").exists() and not (inputs.parent / "evil.shp").exists()


@pytest.mark.parametrize("encoding", ["cp1258", "tcvn3"])
def test_legacy_encoded_sites_import(inputs, tmp_path, encoding):
    out = tmp_path / "b"
    result = _run(["data", "import", "--communes", inputs / "xa.geojson",
                   "--sites", inputs / f"{encoding}.csv", "--out", out, "--json",
                   "--licence", "sites=test fixture"])
    assert result.exit_code == 0, result.stderr
    b = load_bundle(out)
    assert b.sites.name.tolist() == ["Trạm Thịnh Lang HB1", "Trạm Thịnh Lang HB2"]
    assert b.sites.operator.tolist() == ["Viettel", "VNPT"]
    assert f"decoded from {encoding}" in b.provenance["sites"].note
    assert b.provenance["sites"].licence == "test fixture"
    assert not b.provenance["sites"].synthetic
    report = json.loads(result.stdout)
    assert report["layers"] == {"communes": 3, "sites": 2, "cells": 3}


def test_repairable_polygon_warns_and_drop_outside(inputs, tmp_path):
    com = gpd.read_file(inputs / "xa.geojson")
    g = com.geometry.iloc[0]
    x0, y0, x1, y1 = g.bounds
    e = (x1 - x0) / 1000  # a spike 1/1000 of the width: negligible area change
    com.loc[0, "geometry"] = Polygon([(x0, y0), (x1, y0), (x1, y1), (x0 + 10 * e, y1),
                                      (x0 + 10 * e, y1 + 2 * e), (x0 + 12 * e, y1 - 2 * e),
                                      (x0, y1)])
    com.to_file(inputs / "spike.geojson")
    out = tmp_path / "b"
    result = _run(["data", "import", "--communes", inputs / "spike.geojson",
                   "--sites", inputs / "outside.csv", "--drop-outside", "--out", out])
    assert result.exit_code == 0, result.stderr
    warn = [ln for ln in result.stderr.splitlines() if ln.startswith("warning:")]
    assert any("repaired 1 invalid polygon" in w and "04792" in w for w in warn)
    assert any("HB2" in w and "dropped" in w for w in warn)
    b = load_bundle(out)
    assert b.sites.site_id.tolist() == ["HB1"]
    assert "make_valid" in b.provenance["communes"].note


def test_existing_bundle_needs_overwrite(inputs, tmp_path):
    out = tmp_path / "b"
    assert _run(["data", "import", "--communes", inputs / "xa.geojson", "--out", out]).exit_code == 0
    again = _run(["data", "import", "--communes", inputs / "xa.geojson", "--out", out])
    assert again.exit_code == 2 and "--overwrite" in again.stderr
    ok = _run(["data", "import", "--communes", inputs / "xa_vn2000.shp", "--out", out,
               "--overwrite"])
    assert ok.exit_code == 0, ok.stderr
    assert "reprojected from EPSG:9211" in load_bundle(out).provenance["communes"].note


def test_validate_reports_counts_and_refuses_bad(inputs):
    ok = _run(["data", "validate", inputs / "sites.csv", "--kind", "cells", "--json"])
    assert ok.exit_code == 0, ok.stderr
    rep = json.loads(ok.stdout)
    assert rep["sites"] == 2 and rep["cells"] == 3 and rep["operators"] == {"Viettel": 1,
                                                                            "VNPT": 1}
    com = _run(["data", "validate", inputs / "xa_vn2000.shp", "--kind", "communes"])
    assert com.exit_code == 0 and "rows: 3" in com.stdout
    bad = _run(["data", "validate", inputs / "dup.csv", "--kind", "sites"])
    assert bad.exit_code == 2
    assert len(bad.stderr.strip().splitlines()) == 1 and "duplicate site id" in bad.stderr
