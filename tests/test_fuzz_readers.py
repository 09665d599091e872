"""Fuzzing of the readers and the scenario parser (issue 18, hypothesis).

Every reader gets a valid seed file built in code, then random truncations, byte
substitutions, splices and pure random bytes of it. Whatever the input, the reader must either
return or raise a :class:`~phusong.errors.PhusongError` (a one-line user error), never another
exception, and within a bounded time (hypothesis' per-example ``deadline``). The example
budget keeps the whole module under a minute in CI (``FUZZ_EXAMPLES`` per reader).
"""

from __future__ import annotations

import io
import tempfile
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from phusong.communes import commune_facts
from phusong.errors import PhusongError, PhusongWarning

#: Examples per reader: ~10 readers × 60 examples run in well under a minute here.
FUZZ_EXAMPLES = 60
#: A single input must be answered within this time (a reader that loops or allocates a huge
#: array on a corrupt header fails here), ms.
DEADLINE_MS = 4000

FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=DEADLINE_MS, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                database=None)

CODES = ["04792", "04795", "04798"]


def _facts():
    return commune_facts().set_index("commune_code").loc[CODES]


def _seed_sites_csv() -> bytes:
    f = _facts()
    lat, lon = f.lat.iloc[1], f.lon.iloc[1]
    return ("site_id,operator,tech,lat,lon,height_m,eirp_dbm\n"
            f"HB1,Viettel,4G,{lat},{lon},30,57\n"
            f"HB2,Vinaphone,2G/3G,{lat + 0.002},{lon},35,56\n").encode()


def _seed_sites_xlsx() -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    for line in _seed_sites_csv().decode().splitlines():
        ws.append(line.split(","))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _communes_gdf():
    f = _facts()
    return gpd.GeoDataFrame({"MA_XA": CODES, "TEN_XA": list(f.name)},
                            geometry=[box(x - 0.004, y - 0.004, x + 0.004, y + 0.004)
                                      for x, y in zip(f.lon, f.lat, strict=True)],
                            crs="EPSG:4326")


def _seed_geojson() -> bytes:
    return _communes_gdf().to_json().encode()


def _seed_shp_zip() -> bytes:
    with tempfile.TemporaryDirectory() as d:
        _communes_gdf().to_file(Path(d) / "xa.shp")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for p in sorted(Path(d).iterdir()):
                z.write(p, p.name)
        return buf.getvalue()


def _seed_tif() -> bytes:
    import rasterio
    from rasterio.io import MemoryFile

    z = (200 + 50 * np.sin(np.arange(32 * 32).reshape(32, 32) / 40.0)).astype("float32")
    with MemoryFile() as mem:
        with mem.open(driver="GTiff", width=32, height=32, count=1, dtype="float32",
                      crs="EPSG:4326", transform=Affine(0.001, 0, 105.3, 0, -0.001, 20.8),
                      nodata=-9999.0) as dst:
            dst.write(z, 1)
        data = mem.read()
    assert rasterio  # the import above registers the drivers
    return data


def _seed_tif_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("dem.tif", _seed_tif())
    return buf.getvalue()


def _seed_scenario() -> bytes:
    return (Path(__file__).resolve().parents[1] / "scenarios" / "plan785.toml").read_bytes()


def _seed_overrides() -> bytes:
    return (b"[radio]\ntower_height_m = 35.0\n[costs]\nnew_site_vnd = 4e9\n"
            b"[thresholds_dbm]\n4G = -108\n[[targets]]\nindicator = \"mobile_4G\"\n"
            b"denominator = \"population\"\nthreshold_pct = 95.0\nyear = 2025\n")


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    """A truncation, substitution, splice or replacement of ``seed``."""
    op = draw(st.sampled_from(["truncate", "substitute", "splice", "random", "text"]))
    b = bytearray(seed)
    if op == "truncate":
        return bytes(b[:draw(st.integers(0, max(len(b) - 1, 0)))])
    if op == "substitute":
        for _ in range(draw(st.integers(1, 16))):
            b[draw(st.integers(0, len(b) - 1))] = draw(st.integers(0, 255))
        return bytes(b)
    if op == "splice":
        i = draw(st.integers(0, len(b)))
        j = draw(st.integers(i, min(len(b), i + 256)))
        return bytes(b[:i]) + draw(st.binary(max_size=64)) + bytes(b[j:])
    if op == "text":  # a field replaced by arbitrary text (numbers, quotes, separators…)
        i = draw(st.integers(0, len(b)))
        j = draw(st.integers(i, min(len(b), i + 12)))
        return bytes(b[:i]) + draw(st.text(max_size=20)).encode("utf-8", "surrogatepass") + \
            bytes(b[j:])
    return draw(st.binary(max_size=1024))


def _run(reader, name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / name
        p.write_bytes(data)
        try:
            with warnings.catch_warnings(record=True):
                # a reader may repair and warn (RepairWarning…): a user-facing outcome too
                warnings.simplefilter("always", PhusongWarning)
                reader(p)
        except PhusongError:
            pass
        # anything else (ValueError, KeyError, rasterio/fiona/zipfile/openpyxl errors,
        # MemoryError…) propagates and fails the example, which hypothesis then shrinks


def _sites(p):
    from phusong.io import read_sites

    read_sites(p)


def _communes(p):
    from phusong.io import read_communes

    read_communes(p)


def _dem(p):
    from phusong.io import read_dem

    read_dem(p)


def _population(p):
    from phusong.io import read_population

    read_population(p)


def _scenario(p):
    from phusong.planning.scenario import load_scenario

    load_scenario(p)


def _overrides(p):
    # the settings tables of a scenario ([radio], [thresholds_dbm]…): one loader since issue 15
    from phusong.planning.scenario import load_scenario

    load_scenario(p)


def _member(seed_fn, member: str):
    """Seed = one member of a zip built by ``seed_fn``; the fuzzed member goes back into a
    valid zip (so the reader gets past the archive and parses the corrupt content)."""

    def seed() -> bytes:
        with zipfile.ZipFile(io.BytesIO(seed_fn())) as z:
            return z.read(member)

    def embed(blob: bytes) -> bytes:
        src = zipfile.ZipFile(io.BytesIO(seed_fn()))
        buf = io.BytesIO()
        with src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for info in src.infolist():
                z.writestr(info.filename, blob if info.filename == member else
                           src.read(info.filename))
        return buf.getvalue()

    return seed, embed


_XLSX_SHEET = _member(_seed_sites_xlsx, "xl/worksheets/sheet1.xml")
_SHP = _member(_seed_shp_zip, "xa.shp")
_DBF = _member(_seed_shp_zip, "xa.dbf")

#: name: (reader, file name, seed, embed) — ``embed`` puts a fuzzed member back into its zip.
CASES = {
    "sites CSV": (_sites, "sites.csv", _seed_sites_csv),
    "sites XLSX": (_sites, "sites.xlsx", _seed_sites_xlsx),
    "communes GeoJSON": (_communes, "xa.geojson", _seed_geojson),
    "communes shapefile zip": (_communes, "xa.zip", _seed_shp_zip),
    "DEM GeoTIFF": (_dem, "dem.tif", _seed_tif),
    "DEM zip": (_dem, "dem.zip", _seed_tif_zip),
    "population GeoTIFF": (_population, "pop.tif", _seed_tif),
    "scenario TOML": (_scenario, "scenario.toml", _seed_scenario),
    "settings TOML": (_overrides, "settings.toml", _seed_overrides),
    "sites XLSX sheet XML": (_sites, "sites.xlsx", *_XLSX_SHEET),
    "communes .shp in zip": (_communes, "xa.zip", *_SHP),
    "communes .dbf in zip": (_communes, "xa.zip", *_DBF),
}
CASES = {k: v if len(v) == 4 else (*v, None) for k, v in CASES.items()}


@pytest.mark.parametrize("case", list(CASES))
def test_seed_files_are_valid(case):
    """The seeds themselves read cleanly: the fuzzing starts from real inputs."""
    reader, name, seed, embed = CASES[case]
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / name
        p.write_bytes(embed(seed()) if embed else seed())
        reader(p)


@pytest.mark.parametrize("case", list(CASES))
def test_fuzzed_inputs_end_in_phusong_errors(case):
    reader, name, seed, embed = CASES[case]
    data = seed()

    @FUZZ
    @given(mutated(data))
    def check(blob):
        _run(reader, name, embed(blob) if embed else blob)

    check()
