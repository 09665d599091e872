"""Operator site and cell lists (CSV/XLSX with a column mapping) and OpenCelliD CSV.

A list has one row per site or one row per cell. Columns are found by common names
(``site_id``/``MA_TRAM``, ``lat``/``VI_DO``, ``lon``/``KINH_DO``, ``operator``/``NHA_MANG``,
``tech``/``radio``…) or mapped explicitly (``columns={"site_id": "MA_TRAM"}``, on the command
line ``--col site_id=MA_TRAM``). Operators and technologies are normalised to
``settings.OPERATORS`` and ``settings.TECHS``; missing height, EIRP and frequency take the
defaults of :mod:`phusong.settings`, recorded in the notes that go into provenance.

Examples
--------
>>> normalize_operator("VNPT-Vinaphone"), normalize_operator("Viễn thông Hòa Bình")
('VNPT', 'VNPT')
>>> normalize_tech("LTE"), normalize_tech("WCDMA"), normalize_tech("NR")
('4G', '3G', '5G')
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from phusong import settings
from phusong.errors import DataError, RepairWarning, SchemaError
from phusong.io._coords import check_extent, parse_numbers, points_from_table
from phusong.io._files import Imported, read_table

__all__ = [
    "FIELDS",
    "MNC_OPERATOR",
    "normalize_operator",
    "normalize_tech",
    "read_sites",
    "read_cells",
    "read_opencellid",
]

#: Logical fields of an operator list and the column names recognised without a mapping.
FIELDS: dict[str, tuple[str, ...]] = {
    "site_id": ("site_id", "siteid", "site", "ma_tram", "matram", "station_id", "bts_id", "ma_bts"),
    "cell_id": ("cell_id", "cellid", "cell", "ma_cell", "cell_name", "ten_cell"),
    "operator": ("operator", "nha_mang", "nhamang", "carrier", "network", "doanh_nghiep"),
    "tech": ("tech", "technology", "radio", "rat", "cong_nghe", "congnghe"),
    "lat": ("lat", "latitude", "vi_do", "vido"),
    "lon": ("lon", "lng", "long", "longitude", "kinh_do", "kinhdo"),
    "x": ("x", "toa_do_x", "x_vn2000"),
    "y": ("y", "toa_do_y", "y_vn2000"),
    "band": ("band", "bang_tan"),
    "freq_mhz": ("freq_mhz", "freq", "frequency", "tan_so"),
    "eirp_dbm": ("eirp_dbm", "eirp"),
    "height_m": ("height_m", "height", "antenna_height", "do_cao", "chieu_cao", "do_cao_anten"),
    "azimuth_deg": ("azimuth_deg", "azimuth", "huong", "goc_phuong_vi"),
    "tilt_deg": ("tilt_deg", "tilt", "do_nghieng", "mtilt", "m_tilt", "mechanical_tilt",
                 "do_nghieng_co"),
    "etilt_deg": ("etilt_deg", "etilt", "e_tilt", "electrical_tilt", "do_nghieng_dien"),
    "antenna": ("antenna", "antenna_model", "antenna_type", "loai_anten", "anten"),
    "ground_m": ("ground_m", "elevation", "ground", "do_cao_dia_hinh"),
    "name": ("name", "ten_tram", "site_name", "ten"),
}
#: Mobile network code (MCC 452) → operator (MNC 02 is VNPT's VinaPhone).
MNC_OPERATOR = {1: "MobiFone", 2: "VNPT", 4: "Viettel", 5: "Vietnamobile"}

_OPERATOR_PATTERNS = (
    ("vietnamobile|vnmobile|htmobile|hutchison", "Vietnamobile"),
    ("viettel|quandoi", "Viettel"),
    ("vnpt|vinaphone|vinafone|vina|gpc|vienthong", "VNPT"),
    ("mobifone|mobiphone|^mobi$|^vms", "MobiFone"),
)
# Networks that are not among settings.OPERATORS (and whose names contain ours).
_NOT_OURS = "gmobile|gtel|beeline|sfone|itelecom|reddi|wintel|evn"
_TECH_PATTERNS = (
    (r"^(2G|GSM|DCS|EDGE|GPRS)", "2G"),
    (r"^(3G|UMTS|WCDMA|W-CDMA|HSPA|HSDPA)", "3G"),
    (r"^(4G|LTE|E-?UTRA|FDD-LTE|TDD-LTE)", "4G"),
    (r"^(5G|NR)", "5G"),
)


def _key(text) -> str:
    s = unicodedata.normalize("NFD", str(text)).replace("đ", "d").replace("Đ", "D")
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).lower()
    return re.sub(r"[^a-z0-9]", "", s)


def _column_key(text) -> str:
    s = unicodedata.normalize("NFD", str(text)).replace("đ", "d").replace("Đ", "D")
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).lower().strip()
    return re.sub(r"[^a-z0-9]+", "_", s).strip("_")


def normalize_operator(text) -> str | None:
    """Canonical operator name (one of ``settings.OPERATORS``) or None if unknown."""
    key = _key(text or "")
    if key in {k.lower() for k in settings.OPERATORS}:
        return next(o for o in settings.OPERATORS if o.lower() == key)
    if re.search(_NOT_OURS, key):
        return None
    for pattern, name in _OPERATOR_PATTERNS:
        if re.search(pattern, key):
            return name
    return None


def normalize_tech(text) -> str | None:
    """Canonical technology (``2G``…``5G``) for names such as GSM, UMTS/WCDMA, LTE, NR."""
    t = str(text or "").strip().upper()
    for pattern, tech in _TECH_PATTERNS:
        if re.match(pattern, t):
            return tech
    return None


def _resolve_columns(df, mapping: dict[str, str] | None, source: str) -> dict[str, str]:
    mapping = dict(mapping or {})
    unknown = set(mapping) - set(FIELDS)
    if unknown:
        raise DataError(f"--col {sorted(unknown)[0]}=…: unknown field; use one of {list(FIELDS)}")
    for field_name, col in mapping.items():
        if col not in df.columns:
            raise SchemaError(f"{source}: no column {col!r} (mapped to {field_name}); present: "
                              f"{list(df.columns)[:15]}")
    by_key = {_column_key(c): c for c in df.columns}
    used = set(mapping.values())
    for field_name, aliases in FIELDS.items():
        if field_name in mapping:
            continue
        hit = next((by_key[a] for a in aliases if a in by_key and by_key[a] not in used), None)
        if hit is not None:
            mapping[field_name] = hit
            used.add(hit)
    return mapping


def _members(values, normalise, ids, column, allowed_text, source) -> list[str]:
    out, bad = [], []
    for i, v in enumerate(values):
        canon = normalise(v)
        out.append(canon)
        if canon is None:
            bad.append(f"{ids[i]} (row {i + 1}): {v!r}")
    if bad:
        raise DataError(f"{source}: {len(bad)} row(s) with unknown {column}: {', '.join(bad[:5])}; "
                        f"allowed: {allowed_text}")
    return out


_TECH_HELP = "2G/GSM, 3G/UMTS/WCDMA, 4G/LTE, 5G/NR"


def _numbers_or_default(df, cols, field_name, default, n, source, notes, what):
    if field_name in cols:
        vals = parse_numbers(df[cols[field_name]], cols[field_name], source)
    else:
        vals = np.full(n, np.nan)
    missing = np.isnan(vals)
    if missing.any() and default is not None:
        vals = np.where(missing, default, vals)
        notes.append(f"{what} missing for {int(missing.sum())} row(s): default {default:g}")
    return vals


def _default_band(tech: str) -> tuple[str, float]:
    band, freq = next(iter(settings.BANDS_MHZ[tech].items()))
    return band, freq


def _tech_lists(df, cols, ids, source) -> list[list[str]]:
    out = []
    for i, v in enumerate(df[cols["tech"]]):
        parts = [p for p in re.split(r"[,;/+&\s]+", str(v or "").strip()) if p]
        techs = [normalize_tech(p) for p in parts] or [None]
        if None in techs:
            raise DataError(f"{source}: {ids[i]} (row {i + 1}): unknown tech {v!r}; "
                            f"allowed: {_TECH_HELP}")
        out.append(list(dict.fromkeys(techs)))
    return out


def _make_cells(df, cols, site_ids, tech_lists, *, radio, source) -> Imported:
    """Cells (one per row and listed tech) with defaults for missing values."""
    n, notes = len(df), []
    eirp = _numbers_or_default(df, cols, "eirp_dbm", radio.eirp_dbm, n, source, notes, "eirp_dbm")
    freq = _numbers_or_default(df, cols, "freq_mhz", None, n, source, notes, "freq_mhz")
    az = _numbers_or_default(df, cols, "azimuth_deg", None, n, source, notes, "azimuth")
    tilt = _numbers_or_default(df, cols, "tilt_deg", None, n, source, notes, "tilt")
    extra = {}  # antenna columns, only when the file maps them (issue 17)
    if "etilt_deg" in cols:
        extra["etilt_deg"] = _numbers_or_default(df, cols, "etilt_deg", None, n, source, notes,
                                                 "etilt")
    if "antenna" in cols:
        extra["antenna"] = ["" if _blank(v) else str(v).strip() for v in df[cols["antenna"]]]
    bands = ([None if _blank(v) else str(v).strip() for v in df[cols["band"]]]
             if "band" in cols else [None] * n)
    rows, freq_default = [], 0
    for i in range(n):
        for tech in tech_lists[i]:
            band, f = bands[i], freq[i]
            if np.isnan(f):
                known = settings.BANDS_MHZ[tech]
                if band not in known:
                    band, f = _default_band(tech) if band is None else (band, np.nan)
                    if np.isnan(f):
                        raise DataError(f"{source}: {site_ids[i]} (row {i + 1}): band {band!r} "
                                        f"unknown for {tech} and no freq_mhz; use one of "
                                        f"{list(known)} or give --col freq_mhz=…")
                    freq_default += 1
                else:
                    f = known[band]
            rows.append({
                "cell_id": None if "cell_id" not in cols else str(df[cols["cell_id"]].iat[i]),
                "site_id": site_ids[i], "tech": tech, "band": band, "freq_mhz": float(f),
                "eirp_dbm": float(eirp[i]), "azimuth_deg": az[i], "tilt_deg": tilt[i],
            } | {k: v[i] for k, v in extra.items()})
    cells = pd.DataFrame(rows)
    if "cell_id" not in cols or len(cells) > n:
        counter: dict[tuple[str, str], int] = {}
        ids = []
        for s, t in zip(cells["site_id"], cells["tech"], strict=True):
            counter[(s, t)] = counter.get((s, t), 0) + 1
            ids.append(f"{s}-{t}-{counter[(s, t)]}")
        cells["cell_id"] = ids
        notes.append("cell ids generated as SITE-TECH-k")
    elif cells["cell_id"].duplicated().any():
        dup = sorted(set(cells.loc[cells["cell_id"].duplicated(keep=False), "cell_id"]))
        raise DataError(f"{source}: duplicate cell id(s) {dup[:5]}; ids must be unique")
    if freq_default:
        notes.append(f"band/freq_mhz missing for {freq_default} cell(s): first band of "
                     "settings.BANDS_MHZ per tech")
    if np.isnan(az).any():
        notes.append(f"azimuth missing for {int(np.isnan(az).sum())} row(s): omni")
    return Imported(cells, source, notes)


def _blank(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == ""


def _build(df, cols, lon, lat, *, source, rows, radio, notes, need_cells: bool = True,
           max_spread_m: float = 100.0) -> tuple[Imported, Imported | None]:
    n = len(df)
    site_ids = [str(v).strip() for v in df[cols["site_id"]]]
    ops = _members(df[cols["operator"]], normalize_operator, site_ids, "operator",
                   f"{list(settings.OPERATORS)} (or VinaPhone, Mobifone, …)", source)
    if "tech" not in cols and need_cells:
        raise SchemaError(f"{source}: missing required column 'tech'; map it with "
                          f"--col tech=COLUMN (values {_TECH_HELP})")
    tech_lists = _tech_lists(df, cols, site_ids, source) if "tech" in cols else None
    mode = rows if rows != "auto" else ("cell" if "cell_id" in cols else "site")
    sid = pd.Series(site_ids)
    if mode == "site" and sid.duplicated().any():
        dup = sorted(set(sid[sid.duplicated(keep=False)]))
        raise DataError(f"{source}: duplicate site id(s) {dup[:5]} ({len(dup)} in all); ids must "
                        "be unique — or, for one row per cell, map --col cell_id=… / --rows cell")
    height = _numbers_or_default(df, cols, "height_m", radio.tower_height_m, n, source, notes,
                                 "height_m")
    ground = _numbers_or_default(df, cols, "ground_m", None, n, source, [], "ground")
    # sites: one per site id; rows of a site must agree on operator and position
    site_rows: dict[str, list[int]] = {}
    for i, s in enumerate(site_ids):
        site_rows.setdefault(s, []).append(i)
    for s, idx in site_rows.items():
        spread = max(np.ptp(lat[idx]) * 111_000, np.ptp(lon[idx]) * 104_000)
        if len({ops[i] for i in idx}) > 1 or spread > max_spread_m:
            raise DataError(f"{source}: duplicate site id {s!r} (rows {[i + 1 for i in idx][:5]}) "
                            "with different operators or positions; give each site its own id")
    first = [idx[0] for idx in site_rows.values()]
    sites = gpd.GeoDataFrame(
        {
            "site_id": list(site_rows),
            "operator": [ops[i] for i in first],
            "height_m": [float(np.nanmax(height[idx])) for idx in site_rows.values()],
            "ground_m": [ground[i] for i in first],
        },
        geometry=gpd.points_from_xy([float(np.mean(lon[idx])) for idx in site_rows.values()],
                                    [float(np.mean(lat[idx])) for idx in site_rows.values()]),
        crs="EPSG:4326",
    )
    if "name" in cols:
        sites.insert(2, "name", [df[cols["name"]].iat[i] for i in first])
    cells = None
    if tech_lists is not None:
        cells = _make_cells(df, cols, site_ids, tech_lists, radio=radio, source=source)
        cells.notes[:0] = [x for x in notes if x.startswith(("decoded", "dropped"))]
    return Imported(sites, source, notes), cells


def read_cells(path, *, sites: gpd.GeoDataFrame, columns: dict[str, str] | None = None,
               radio: settings.Radio = settings.RADIO) -> Imported:
    """Read a cell list whose rows refer to sites read separately (by ``site_id``).

    Fields: ``cell_id`` (optional), ``site_id``, ``tech``, ``band``, ``freq_mhz``,
    ``eirp_dbm``, ``azimuth_deg``, ``tilt_deg`` (see :data:`FIELDS`); mapped columns that the
    file lacks are ignored (the mapping is shared with the sites file).
    """
    p = Path(path)
    df, encoding = read_table(p, "cells")
    cols = _resolve_columns(df, {k: v for k, v in (columns or {}).items() if v in df.columns},
                            p.name)
    missing = [f for f in ("site_id", "tech") if f not in cols]
    if missing:
        raise SchemaError(f"{p.name}: missing required column(s) {missing}; present: "
                          f"{list(df.columns)[:15]} — map them with --col {missing[0]}=COLUMN")
    site_ids = [str(v).strip() for v in df[cols["site_id"]]]
    unknown = sorted(set(site_ids) - set(sites["site_id"]))
    if unknown:
        raise DataError(f"{p.name}: {len(unknown)} site id(s) not in the sites list: "
                        f"{unknown[:5]}; fix them or add the sites")
    cells = _make_cells(df, cols, site_ids, _tech_lists(df, cols, site_ids, p.name),
                        radio=radio, source=p.name)
    if encoding not in ("utf-8", "xlsx"):
        cells.notes.insert(0, f"decoded from {encoding}")
    return cells


def read_sites(path, *, columns: dict[str, str] | None = None, crs: str | None = None,
               rows: str = "auto", extent=settings.PROVINCE_BBOX, drop_outside: bool = False,
               radio: settings.Radio = settings.RADIO,
               need_cells: bool = True) -> tuple[Imported, Imported | None]:
    """Read an operator site/cell list (CSV in UTF-8/Windows-1258/TCVN3, or XLSX).

    Parameters
    ----------
    path : str or Path
        The list.
    columns : dict, optional
        Field → column name, fields from :data:`FIELDS` (``site_id``, ``operator``, ``tech``,
        ``lat``/``lon`` or ``x``/``y``, ``cell_id``, ``band``, ``freq_mhz``, ``eirp_dbm``,
        ``height_m``, ``azimuth_deg``, ``tilt_deg``, ``ground_m``, ``name``).
    crs : str, optional
        CRS of ``x``/``y`` (X = northing, Y = easting) or of geographic lat/lon other than
        WGS 84 (EPSG:4756).
    rows : {"auto", "site", "cell"}
        One row per site (a ``tech`` cell may list several, ``"2G/4G"``) or per cell; auto is
        "cell" when a cell id column exists.
    extent : tuple or None
        (min lon, min lat, max lon, max lat) rows must lie in; None disables the check.
    drop_outside : bool
        Drop rows outside ``extent`` with a warning instead of refusing.
    radio : settings.Radio
        Defaults for missing height and EIRP.
    need_cells : bool
        Require a ``tech`` column (cells come from this file). False when the cells are in a
        separate file (:func:`read_cells`); cells are then None if there is no ``tech``.

    Returns
    -------
    (Imported, Imported or None)
        Sites (GeoDataFrame, EPSG:4326) and cells (DataFrame).
    """
    p = Path(path)
    df, encoding = read_table(p, "sites")
    notes = [] if encoding in ("utf-8", "xlsx") else [f"decoded from {encoding}"]
    cols = _resolve_columns(df, columns, p.name)
    missing = [f for f in ("site_id", "operator") if f not in cols]
    if missing:
        raise SchemaError(f"{p.name}: missing required column(s) {missing}; present: "
                          f"{list(df.columns)[:15]} — map them with --col {missing[0]}=COLUMN")
    if df[cols["site_id"]].isna().any():
        row = int(np.flatnonzero(df[cols["site_id"]].isna().to_numpy())[0])
        raise DataError(f"{p.name}: row {row + 1}: empty site id; every row needs one")
    ids = [str(v).strip() for v in df[cols["site_id"]]]
    use_xy = "x" in cols and "y" in cols and ("lat" not in cols or crs is not None
                                              and "x" in (columns or {}))
    lon, lat, cnotes = points_from_table(
        df, lat=cols.get("lat"), lon=cols.get("lon"), x=cols.get("x") if use_xy else None,
        y=cols.get("y") if use_xy else None, crs=crs, ids=ids, source=p.name)
    notes += cnotes
    keep, enotes = check_extent(lon, lat, ids, extent=extent, drop_outside=drop_outside,
                                source=p.name)
    notes += enotes
    df = df[keep].reset_index(drop=True)
    return _build(df, cols, lon[keep], lat[keep], source=p.name, rows=rows, radio=radio,
                  notes=notes, need_cells=need_cells)


def read_opencellid(path, *, extent=settings.PROVINCE_BBOX, drop_outside: bool = False,
                    radio: settings.Radio = settings.RADIO) -> tuple[Imported, Imported]:
    """Read an OpenCelliD CSV (``radio, mcc, mnc|net, lac|area, cellid|cell, lon, lat``…).

    Operators come from the MNC (:data:`MNC_OPERATOR`); rows of other networks or radios
    (CDMA) are dropped with a warning. OpenCelliD has no site ids: LTE cells are grouped into
    sites by eNodeB id (cell id // 256), NR cells by gNodeB id assuming a 24-bit gNB id
    (cell id // 4096), GSM/UMTS cells are one site each. Heights, EIRP and frequencies are
    settings' defaults (recorded in the notes).
    """
    p = Path(path)
    df, encoding = read_table(p, "OpenCelliD")
    keys = {_column_key(c): c for c in df.columns}
    pick = {}
    for name, aliases in (("radio", ("radio",)), ("mcc", ("mcc",)), ("mnc", ("mnc", "net")),
                          ("lac", ("lac", "area", "tac")), ("cell", ("cellid", "cell", "ci")),
                          ("lat", ("lat",)), ("lon", ("lon",))):
        hit = next((keys[a] for a in aliases if a in keys), None)
        if hit is None:
            raise SchemaError(f"{p.name}: missing required OpenCelliD column {name!r} "
                              f"(also accepted: {list(aliases)}); present: {list(df.columns)[:12]}")
        pick[name] = hit
    mnc = parse_numbers(df[pick["mnc"]], pick["mnc"], p.name)
    mcc = parse_numbers(df[pick["mcc"]], pick["mcc"], p.name)
    ops = [MNC_OPERATOR.get(int(m)) if c == 452 else None for c, m in zip(mcc, mnc, strict=True)]
    techs = [normalize_tech(r) for r in df[pick["radio"]]]
    keep = np.array([o is not None and t is not None for o, t in zip(ops, techs, strict=True)])
    notes = [] if encoding == "utf-8" else [f"decoded from {encoding}"]
    if not keep.all():
        msg = (f"{p.name}: dropped {int((~keep).sum())} row(s) of networks or radios outside "
               f"{list(MNC_OPERATOR.values())} × 2G–5G (MCC 452, MNC {sorted(MNC_OPERATOR)})")
        warnings.warn(msg, RepairWarning, stacklevel=2)
        notes.append(msg.split(": ", 1)[1])
    if not keep.any():
        raise DataError(f"{p.name}: no rows of Vietnamese operators (MCC 452) with a known radio")
    df = df[keep].reset_index(drop=True)
    ops = [o for o, k in zip(ops, keep, strict=True) if k]
    techs = [t for t, k in zip(techs, keep, strict=True) if k]
    lac = parse_numbers(df[pick["lac"]], pick["lac"], p.name).astype(np.int64)
    cell = parse_numbers(df[pick["cell"]], pick["cell"], p.name).astype(np.int64)
    mnc_k = mnc[keep].astype(int)
    cell_ids = [f"452-{m:02d}-{a}-{c}" for m, a, c in zip(mnc_k, lac, cell, strict=True)]
    site_ids = []
    for m, t, a, c in zip(mnc_k, techs, lac, cell, strict=True):
        if t == "4G":
            site_ids.append(f"452-{m:02d}-enb{c // 256}")
        elif t == "5G":
            site_ids.append(f"452-{m:02d}-gnb{c // 4096}")
        else:
            site_ids.append(f"452-{m:02d}-{a}-{c}")
    table = pd.DataFrame({"site_id": site_ids, "cell_id": cell_ids, "operator": ops,
                          "tech": techs, "lat": df[pick["lat"]], "lon": df[pick["lon"]]})
    if table["cell_id"].duplicated().any():
        dup = sorted(set(table.loc[table["cell_id"].duplicated(keep=False), "cell_id"]))
        raise DataError(f"{p.name}: duplicate cells {dup[:5]}; each (mnc, lac, cell) once")
    lon, lat, cnotes = points_from_table(table, lat="lat", lon="lon", ids=cell_ids, source=p.name)
    keep2, enotes = check_extent(lon, lat, cell_ids, extent=extent, drop_outside=drop_outside,
                                 source=p.name)
    notes += cnotes + enotes + ["OpenCelliD: LTE sites by eNodeB id, NR by gNodeB id (24-bit), "
                                "GSM/UMTS one site per cell; positions are crowd-sourced estimates"]
    table = table[keep2].reset_index(drop=True)
    cols = {f: f for f in ("site_id", "cell_id", "operator", "tech")}
    return _build(table, cols, lon[keep2], lat[keep2], source=p.name, rows="cell", radio=radio,
                  notes=notes, max_spread_m=np.inf)
