"""Vector files (Shapefile, zipped Shapefile, GeoPackage, GeoJSON) and commune boundaries.

:func:`read_vector` reads any of the formats, settles the CRS (the file's, or the one the user
names when the file has none, e.g. a Shapefile without ``.prj``) and returns EPSG:4326.
:func:`read_communes` joins boundaries to the commune facts (:mod:`phusong.communes`) by code
or by Vietnamese name, and repairs invalid polygons when the repair is harmless.

Examples
--------
>>> import tempfile, pathlib, geopandas as gpd
>>> from shapely.geometry import box
>>> from phusong.io.vector import read_communes
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> gdf = gpd.GeoDataFrame({"TEN_XA": ["Phường Tân Hoà"]},
...                        geometry=[box(105.32, 20.84, 105.34, 20.87)], crs="EPSG:4326")
>>> gdf.to_file(d / "xa.geojson")
>>> out = read_communes(d / "xa.geojson")
>>> out.data.commune_code.tolist(), out.data.name.tolist()
(['04792'], ['Phường Tân Hòa'])
"""

from __future__ import annotations

import unicodedata
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
import shapely.errors
from shapely.geometry import MultiPolygon, Polygon

from phusong import settings
from phusong.communes import closest_names, commune_facts, normalize_name
from phusong.crs import parse_crs
from phusong.errors import CRSError, DataError, FormatError, RepairWarning, SchemaError
from phusong.io._encoding import decode_text
from phusong.io._files import Imported, opened, require_file

__all__ = ["VECTOR_SUFFIXES", "read_vector", "read_communes", "repair_polygons"]

VECTOR_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json", ".zip")
_INNER = (".shp", ".gpkg", ".geojson", ".json")
_CODE_COLUMNS = ("commune_code", "gso_code", "ma_xa", "maxa", "ma_dvhc", "madvhc", "code", "ma")
_NAME_COLUMNS = ("name", "ten_xa", "tenxa", "ten", "ten_dvhc", "name_vi", "commune", "xa")
_DISTRICT_COLUMNS = ("district_name", "ten_huyen", "huyen", "district")


def _check_shapefile(path: Path) -> None:
    missing = [s for s in (".shx", ".dbf") if not path.with_suffix(s).exists()
               and not path.with_suffix(s.upper()).exists()]
    if missing:
        raise FormatError(f"{path}: Shapefile parts {missing} are missing; keep them beside the .shp")


def _decode_dbf_text(gdf, p: Path):
    """Re-decode DBF text read as Latin-1 (no .cpg): UTF-8, Windows-1258 or TCVN3."""
    cols = [c for c in gdf.columns if c != gdf.geometry.name
            and (gdf[c].dtype == object or pd.api.types.is_string_dtype(gdf[c]))]
    values = [v for c in cols for v in gdf[c] if isinstance(v, str)]
    raw = "\n".join(values).encode("latin-1", errors="replace")
    if raw.isascii():
        return gdf, "ascii"
    try:
        _, enc = decode_text(raw)
    except UnicodeError as exc:
        raise FormatError(f"{p}: attribute text in an unknown encoding ({exc}); add a .cpg "
                          "file naming it or save the Shapefile as UTF-8") from None
    codec = {"utf-8": "utf-8", "utf-8-sig": "utf-8"}.get(enc)
    out = gdf.copy()
    for c in cols:
        out[c] = pd.Series([decode_text(v.encode("latin-1", errors="replace"))[0] if isinstance(v, str)
                  and codec is None and not v.isascii()
                  else (unicodedata.normalize("NFC", v.encode("latin-1").decode(codec))
                        if isinstance(v, str) and codec else v) for v in gdf[c]],
                           index=gdf.index, dtype=object)
    return out, enc


def _looks_metric(bounds) -> bool:
    return bool(np.nanmax(np.abs(np.asarray(bounds, dtype=float))) > 360)


def read_vector(path, *, crs: str | None = None, layer: str | None = None,
                what: str = "layer") -> tuple[gpd.GeoDataFrame, list[str]]:
    """Read a vector file into EPSG:4326.

    Parameters
    ----------
    path : str or Path
        ``.shp`` (with its ``.shx``/``.dbf``, optional ``.prj``), ``.zip`` holding one of the
        formats, ``.gpkg`` or ``.geojson``/``.json``.
    crs : str, optional
        CRS of the coordinates when the file does not say (no ``.prj``), e.g. ``"EPSG:9211"``.
        If the file names a different CRS the read is refused. A GeoJSON without a ``crs``
        member is taken as EPSG:4326 unless its numbers are metres and ``crs`` is given.
    layer : str, optional
        Layer of a multi-layer GeoPackage.
    what : str
        Kind of layer, for messages.

    Returns
    -------
    (GeoDataFrame, list of str)
        Features in EPSG:4326 and notes (CRS used, reprojection).
    """
    p = require_file(path, what)
    suffix = p.suffix.lower()
    if suffix not in VECTOR_SUFFIXES:
        raise FormatError(
            f"{p}: unsupported {what} format {suffix!r}; use Shapefile (.shp or .zip), "
            "GeoPackage (.gpkg) or GeoJSON (.geojson)"
        )
    notes: list[str] = []
    with opened(p, _INNER, what) as inner:
        if inner.suffix.lower() == ".shp":
            _check_shapefile(inner)
        try:
            if inner.suffix.lower() == ".gpkg" and layer is None:
                layers = pyogrio.list_layers(inner)
                if len(layers) > 1:
                    raise FormatError(
                        f"{p}: the GeoPackage has {len(layers)} layers "
                        f"{[str(x[0]) for x in layers][:8]}; name one"
                    )
            no_cpg = inner.suffix.lower() == ".shp" and not any(
                inner.with_suffix(s).exists() for s in (".cpg", ".CPG"))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # GDAL notes on odd files
                gdf = pyogrio.read_dataframe(inner, layer=layer,
                                             encoding="ISO-8859-1" if no_cpg else None)
            if no_cpg:
                gdf, enc = _decode_dbf_text(gdf, p)
                if enc not in ("ascii", "utf-8"):
                    notes.append(f"attribute text decoded from {enc} (no .cpg)")
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
            msg = str(exc).splitlines()[0]
            raise FormatError(f"{p}: not a readable {what} file ({msg})") from None
        except UnicodeDecodeError as exc:  # found by fuzzing: text not in the declared .cpg
            raise FormatError(f"{p}: attribute text is not valid {exc.encoding} as the file "
                              "declares (.cpg); fix the .cpg or re-export as UTF-8") from None
        except shapely.errors.GEOSException as exc:  # found by fuzzing: corrupt rings
            raise FormatError(f"{p}: a {what} geometry is corrupt ({str(exc)[:120]}); repair "
                              "the file in a GIS") from None
    if len(gdf) == 0:
        raise FormatError(f"{p}: the {what} file has no features")
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.isna().all():
        raise FormatError(f"{p}: the {what} file has no geometry")
    named = parse_crs(crs) if crs else None
    bounds = gdf.total_bounds
    if gdf.crs is None:
        if named is None:
            raise CRSError(
                f"{p}: no CRS (no .prj); name it, e.g. --crs EPSG:9211 for VN-2000 TM-3 "
                "Hòa Bình or EPSG:4326 for degrees"
            )
        gdf = gdf.set_crs(named)
        notes.append(f"CRS {named.to_string()} named by the user (file has none)")
    elif named is not None and not gdf.crs.equals(named):
        implicit = suffix in (".geojson", ".json") and gdf.crs.equals(parse_crs("EPSG:4326"))
        if implicit and _looks_metric(bounds):
            gdf = gdf.set_crs(named, allow_override=True)
            notes.append(f"CRS {named.to_string()} named by the user (GeoJSON without crs)")
        else:
            raise CRSError(
                f"{p}: mixed CRS — the file says {gdf.crs.to_string()} but "
                f"{named.to_string()} was named; drop the CRS option or fix the file's .prj"
            )
    if gdf.crs.is_geographic and _looks_metric(bounds):
        raise CRSError(
            f"{p}: coordinates up to {np.nanmax(np.abs(bounds)):.0f} are metres, not degrees "
            f"as {gdf.crs.to_string()} says; these look like VN-2000 metres — name the CRS "
            "(e.g. --crs EPSG:9211)"
        )
    if not gdf.crs.equals(parse_crs(settings.STORE_CRS)):
        notes.append(f"reprojected from {gdf.crs.to_string()} to {settings.STORE_CRS}")
        gdf = gdf.to_crs(settings.STORE_CRS)
    return gdf, notes


def _polygonal(geom):
    if geom is None or geom.is_empty:
        return geom
    if isinstance(geom, (Polygon, MultiPolygon)):
        return geom
    parts = [g for g in shapely.get_parts(geom) if isinstance(g, (Polygon, MultiPolygon))]
    flat = [q for g in parts for q in (g.geoms if isinstance(g, MultiPolygon) else [g])]
    if not flat:
        return Polygon()
    return flat[0] if len(flat) == 1 else MultiPolygon(flat)


def repair_polygons(gdf: gpd.GeoDataFrame, ids, *, source: str,
                    max_area_change: float = 0.01) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Make invalid polygons valid with :func:`shapely.make_valid`, or refuse.

    Parameters
    ----------
    gdf : GeoDataFrame
        Polygons with a CRS.
    ids : sequence
        Identifier of each row for messages.
    source : str
        File name for messages.
    max_area_change : float
        Largest accepted relative change of a repaired polygon's area (0.01 = 1 %).

    Returns
    -------
    (GeoDataFrame, list of str)
        Repaired copy and notes. Emits a :class:`~phusong.errors.RepairWarning` naming the ids.

    Raises
    ------
    DataError
        When a repair changes an area by more than ``max_area_change``; names the ids.
    """
    invalid = ~gdf.geometry.is_valid.to_numpy()
    if not invalid.any():
        return gdf, []
    ids = np.asarray(list(ids), dtype=object)
    before = gdf.geometry[invalid]
    after = gpd.GeoSeries([_polygonal(g) for g in shapely.make_valid(before.to_numpy())],
                          index=before.index, crs=gdf.crs)
    a0 = before.to_crs(settings.WORK_CRS).area.to_numpy()
    a1 = after.to_crs(settings.WORK_CRS).area.to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.where(a0 > 0, np.abs(a1 - a0) / a0, np.inf)
    bad_ids = [str(i) for i in ids[invalid][change > max_area_change]]
    if bad_ids:
        raise DataError(
            f"{source}: {len(bad_ids)} invalid (self-intersecting) polygon(s) whose repair would "
            f"change the area by more than {max_area_change:.0%}: {bad_ids[:8]}; fix them in a GIS"
        )
    fixed_ids = [str(i) for i in ids[invalid]]
    out = gdf.copy()
    out.loc[invalid, out.geometry.name] = after.to_numpy()
    msg = (f"{source}: repaired {len(fixed_ids)} invalid polygon(s) {fixed_ids[:8]} with "
           f"make_valid (area change ≤ {float(change.max()):.2%})")
    warnings.warn(msg, RepairWarning, stacklevel=3)
    return out, [msg.split(": ", 1)[1]]


def _find(df, given: str | None, candidates, label: str, p: Path) -> str | None:
    if given:
        if given not in df.columns:
            raise SchemaError(f"{p}: no column {given!r} for the {label}; present: "
                              f"{[c for c in df.columns if c != 'geometry'][:12]}")
        return given
    lower = {str(c).lower(): c for c in df.columns}
    return next((lower[c] for c in candidates if c in lower), None)


def _pad_code(value) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    if text.endswith(".0"):
        text = text[:-2]
    return text.zfill(5) if text.isdigit() and len(text) <= 5 else text


def _match_names(df, name_col, district_col, facts, p: Path) -> list[str]:
    by_key: dict[str, list[int]] = {}
    aliases = facts["aliases"] if "aliases" in facts else [""] * len(facts)
    for i, (n, other) in enumerate(zip(facts["name"], aliases, strict=True)):
        for name in [n, *[a for a in str(other or "").split(";") if a.strip()]]:
            by_key.setdefault(normalize_name(name), []).append(i)
    codes, unmatched = [], []
    for row, raw in enumerate(df[name_col]):
        hits = by_key.get(normalize_name(raw or ""), [])
        if len(hits) > 1:  # same short name: try the type prefix, then the district
            full = [i for i in hits if normalize_name(facts["name"].iat[i], strip_prefix=False)
                    == normalize_name(raw, strip_prefix=False)]
            hits = full or hits
        if len(hits) > 1 and district_col is not None:
            d = normalize_name(df[district_col].iat[row] or "")
            hits = [i for i in hits if normalize_name(facts["district_name"].iat[i]) == d] or hits
        if len(hits) > 1:
            raise DataError(
                f"{p}: row {row + 1}, name {raw!r} matches {len(hits)} communes "
                f"{[facts['name'].iat[i] + ', ' + facts['district_name'].iat[i] for i in hits]}; "
                "add the type prefix or a district column, or join by code"
            )
        if not hits:
            unmatched.append(str(raw))
            codes.append(None)
        else:
            codes.append(facts["commune_code"].iat[hits[0]])
    if unmatched:
        tips = "; ".join(f"{u!r} (closest: {', '.join(closest_names(u, facts['name'])) or 'none'})"
                         for u in unmatched[:5])
        raise DataError(
            f"{p}: {len(unmatched)} commune name(s) not matched in column {name_col!r}: {tips}"
            " — fix the spelling or join by a code column"
        )
    return codes


def read_communes(path, *, crs: str | None = None, layer: str | None = None,
                  code_column: str | None = None, name_column: str | None = None,
                  district_column: str | None = None,
                  max_area_change: float = 0.01) -> Imported:
    """Read commune boundaries and join them to the commune facts.

    The join uses a 5-digit GSO code column when one is found (``commune_code``, ``gso_code``,
    ``MA_XA``… or ``code_column``), else a name column (``name``, ``TEN_XA``… or
    ``name_column``) compared with :func:`phusong.communes.normalize_name` (NFC, tone-mark
    placement, ``Xã``/``Phường``/``Thị trấn`` prefixes, case, spaces).

    Parameters
    ----------
    path : str or Path
        Vector file (see :func:`read_vector`).
    crs : str, optional
        CRS when the file has none (Shapefile without ``.prj``).
    layer, code_column, name_column, district_column : str, optional
        Layer and columns to use instead of the automatic choice.
    max_area_change : float
        Invalid polygons are repaired if the repair changes their area by at most this share.

    Returns
    -------
    Imported
        ``data``: GeoDataFrame in EPSG:4326 with commune_code, name, type, district_code,
        district_name, population, households (2019 census, from the facts), ``area_km2``
        (of the imported polygon, in ``settings.WORK_CRS``) and the polygon.
    """
    p = Path(path)
    gdf, notes = read_vector(p, crs=crs, layer=layer, what="communes")
    kinds = set(gdf.geom_type.dropna())
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise FormatError(f"{p}: communes must be polygons, found {sorted(kinds)}")
    facts = commune_facts()
    known = set(facts["commune_code"])
    code_col = _find(gdf, code_column, _CODE_COLUMNS, "commune code", p)
    codes: list | None = None
    if code_col is not None:
        padded = [_pad_code(v) for v in gdf[code_col]]
        share = np.mean([c in known for c in padded])
        if code_column or share >= 0.5:
            bad = [(i + 1, c) for i, c in enumerate(padded) if c not in known]
            if bad:
                raise DataError(
                    f"{p}: {len(bad)} code(s) in column {code_col!r} are not Hòa Bình communes "
                    f"of 2020–2025 (rows/codes {bad[:5]}); fix them or join by name"
                )
            codes = padded
            notes.append(f"joined to commune facts by code column {code_col!r}")
    if codes is None:
        name_col = _find(gdf, name_column, _NAME_COLUMNS, "commune name", p)
        if name_col is None:
            raise SchemaError(
                f"{p}: no commune code or name column; present: "
                f"{[c for c in gdf.columns if c != 'geometry'][:12]} — name one with "
                "--communes-code-col or --communes-name-col"
            )
        dcol = _find(gdf, district_column, _DISTRICT_COLUMNS, "district name", p)
        codes = _match_names(gdf, name_col, dcol, facts, p)
        notes.append(f"joined to commune facts by name column {name_col!r} (normalised)")
    codes_s = pd.Series(codes, dtype=object)
    dup = codes_s[codes_s.duplicated(keep=False)]
    if len(dup):
        raise DataError(f"{p}: several polygons for commune(s) {sorted(set(dup))[:5]}; "
                        "dissolve them into one feature per commune")
    gdf, repair_notes = repair_polygons(gdf, codes, source=p.name, max_area_change=max_area_change)
    notes += repair_notes
    cols = ["commune_code", "name", "type", "district_code", "district_name",
            "population", "households"]
    table = facts.set_index("commune_code").loc[codes].reset_index()[cols]
    out = gpd.GeoDataFrame(table, geometry=gdf.geometry.to_numpy(), crs=gdf.crs)
    out["area_km2"] = out.to_crs(settings.WORK_CRS).area.to_numpy() / 1e6
    if len(out) < len(facts):
        notes.append(f"{len(out)} of {len(facts)} communes present")
    notes.append("population and households: 2019 census (phusong commune facts)")
    return Imported(out[cols + ["area_km2", "geometry"]], p.name, notes)
