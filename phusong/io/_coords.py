"""Point coordinates from table columns: degrees or VN-2000 X/Y, swaps, mixed units, extent.

Vietnamese survey sheets write VN-2000 coordinates as **X = northing, Y = easting** (the
geodetic convention, the reverse of GIS x/y). :func:`points_from_table` takes the columns the
user mapped as ``x``/``y`` in that convention; when the numbers show the GIS order instead
(X in the easting range, Y in the northing range) it uses them swapped and warns.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"x": ["2302427"], "y": ["430928"]})
>>> lon, lat, notes = points_from_table(df, x="x", y="y", crs="EPSG:9211", source="s.csv")
>>> round(float(lon[0]), 3), round(float(lat[0]), 3)
(105.338, 20.813)
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from phusong import crs as crs_mod
from phusong.errors import CRSError, DataError, RepairWarning, SchemaError

__all__ = ["parse_numbers", "points_from_table", "check_extent", "fmt_extent"]

_DMS = re.compile(r"^\s*(-?\d+(?:[.,]\d+)?)\s*[°º:d ]\s*(?:(\d+(?:[.,]\d+)?)\s*['′m: ]?\s*)?"
                  r"(?:(\d+(?:[.,]\d+)?)\s*(?:\"|″|''|s)?\s*)?([NSEWnsew])?\s*$")
# VN-2000 projected northings in Vietnam (8–24° N) and eastings (false easting 500 km), m.
_NORTHING_M = (0.85e6, 2.7e6)
_EASTING_M = (0.1e6, 0.95e6)


def _one_number(value) -> float:
    if value is None:
        return np.nan
    if isinstance(value, (int, float, np.number)):
        return float(value)
    text = str(value).strip().replace("\u00a0", "")
    if not text:
        return np.nan
    if "," in text and "." not in text and text.count(",") == 1:
        text = text.replace(",", ".")  # decimal comma (Vietnamese Excel)
    try:
        return float(text)
    except ValueError:
        pass
    m = _DMS.match(text)
    if m is None:
        raise ValueError(text)
    d, mi, s, hemi = m.groups()
    val = abs(float(d.replace(",", "."))) + float((mi or "0").replace(",", ".")) / 60 + float(
        (s or "0").replace(",", ".")) / 3600
    negative = d.startswith("-") or (hemi or "").upper() in ("S", "W")
    return -val if negative else val


def parse_numbers(series: pd.Series, column: str, source: str) -> np.ndarray:
    """Parse a column as floats (decimal comma and degrees-minutes-seconds accepted).

    Raises
    ------
    SchemaError
        Naming the first row (1-based, after the header) that is not a number.
    """
    out = np.empty(len(series), dtype=float)
    for i, v in enumerate(series.tolist()):
        try:
            out[i] = _one_number(v)
        except ValueError:
            raise SchemaError(
                f"{source}: row {i + 1}, column {column!r}: {v!r} is not a number; fix the value"
            ) from None
    return out


def _rows(mask: np.ndarray, ids, n: int = 5) -> str:
    idx = np.flatnonzero(mask)
    ids = list(ids)
    shown = [f"{ids[i]} (row {i + 1})" for i in idx[:n]]
    more = f" and {len(idx) - n} more" if len(idx) > n else ""
    return ", ".join(shown) + more


def _in(values, lo_hi) -> np.ndarray:
    return (values >= lo_hi[0]) & (values <= lo_hi[1])


def points_from_table(df: pd.DataFrame, *, lat: str | None = None, lon: str | None = None,
                      x: str | None = None, y: str | None = None, crs: str | None = None,
                      ids=None, source: str = "table") -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Longitudes and latitudes (EPSG:4326) of each row of ``df``.

    Parameters
    ----------
    df : DataFrame
        The table (values as text or numbers).
    lat, lon : str, optional
        Columns of latitude and longitude in degrees (WGS 84 unless ``crs`` names another
        geographic CRS such as EPSG:4756, VN-2000 geographic).
    x, y : str, optional
        Columns of projected coordinates in ``crs``: **X = northing, Y = easting** as on
        Vietnamese survey sheets. The GIS order is detected by range and used with a warning.
    crs : str, optional
        CRS of the coordinates (required with ``x``/``y``).
    ids : sequence, optional
        Row identifiers for messages.
    source : str
        File name for messages.

    Returns
    -------
    (ndarray, ndarray, list of str)
        lon, lat in degrees and notes.
    """
    ids = list(ids) if ids is not None else [str(i + 1) for i in range(len(df))]
    notes: list[str] = []
    if x is not None and y is not None:
        if crs is None:
            raise CRSError(f"{source}: x/y columns need their CRS; pass --crs EPSG:9211 "
                           "(VN-2000 TM-3 Hòa Bình) or the EPSG code of the survey")
        if crs_mod.is_geographic(crs):
            raise CRSError(f"{source}: {crs} is in degrees; map lat/lon columns instead of x/y")
        a = parse_numbers(df[x], x, source)
        b = parse_numbers(df[y], y, source)
        _require_values(a, b, ids, source, (x, y))
        survey = _in(a, _NORTHING_M) & _in(b, _EASTING_M)  # X = northing, Y = easting
        gis = _in(a, _EASTING_M) & _in(b, _NORTHING_M)
        if (survey & ~gis).any() and (gis & ~survey).any():
            raise CRSError(
                f"{source}: X/Y order differs between rows — rows {_rows(gis & ~survey, ids)} "
                "have X as easting while others have X as northing; make them consistent"
            )
        if gis.all() and not survey.all():
            warnings.warn(f"{source}: X values are eastings and Y northings (GIS order); used "
                          "them swapped — Vietnamese sheets write X = northing", RepairWarning,
                          stacklevel=2)
            notes.append("X/Y given in GIS order (X = easting); swapped")
            a, b = b, a
        else:
            notes.append(f"VN-2000 style X = northing, Y = easting in {crs}")
        lon_v, lat_v = crs_mod.transform_points(b, a, crs, "EPSG:4326")
        if not np.isfinite(lon_v).all():
            raise CRSError(f"{source}: some X/Y cannot be transformed from {crs}; check the CRS")
        notes.append(f"transformed from {crs} to EPSG:4326")
        return lon_v, lat_v, notes
    if lat is None or lon is None:
        raise SchemaError(f"{source}: no coordinates; map --col lat=… --col lon=… (degrees) or "
                          "--col x=… --col y=… with --crs (VN-2000 metres)")
    la = parse_numbers(df[lat], lat, source)
    lo = parse_numbers(df[lon], lon, source)
    _require_values(la, lo, ids, source, (lat, lon))
    metric = (np.abs(la) > 1000) & (np.abs(lo) > 1000)
    if metric.any() and not metric.all():
        raise CRSError(
            f"{source}: mixed units — rows {_rows(metric, ids)} hold metres while others hold "
            "degrees; convert them to one CRS"
        )
    if crs_mod.looks_like_vn2000_metres(lo, la):
        raise CRSError(
            f"{source}: columns {lat!r}/{lon!r} hold values like {la[0]:.0f}/{lo[0]:.0f}: these "
            "look like VN-2000 metres, not WGS 84 degrees; pass --crs EPSG:9211 with "
            f"--col x={lat} --col y={lon} (X = northing)"
        )
    if crs is not None and not crs_mod.is_geographic(crs):
        raise CRSError(f"{source}: lat/lon columns are degrees but {crs} is projected; map "
                       "x/y columns for projected coordinates")
    if crs is not None and not crs_mod.parse_crs(crs).equals(crs_mod.parse_crs("EPSG:4326")):
        lo, la = crs_mod.transform_points(lo, la, crs, "EPSG:4326")
        notes.append(f"transformed from {crs} to EPSG:4326")
    return lo, la, notes


def _require_values(a, b, ids, source, cols) -> None:
    missing = ~np.isfinite(a) | ~np.isfinite(b)
    if missing.any():
        raise DataError(f"{source}: {int(missing.sum())} row(s) without coordinates in "
                        f"{list(cols)}: {_rows(missing, ids)}; fill them or remove the rows")


def fmt_extent(extent) -> str:
    """Human text of a (min lon, min lat, max lon, max lat) box."""
    w, s, e, n = extent
    return f"{w:.2f}–{e:.2f} E, {s:.2f}–{n:.2f} N"


def check_extent(lon, lat, ids, *, extent, drop_outside: bool = False, source: str = "table",
                 what: str = "rows") -> tuple[np.ndarray, list[str]]:
    """Rows inside ``extent``; refuse (or drop with a warning) the others.

    Parameters
    ----------
    lon, lat : ndarray
        Degrees.
    ids : sequence
        Row identifiers for messages.
    extent : tuple or None
        (min lon, min lat, max lon, max lat); ``None`` disables the check.
    drop_outside : bool
        Drop outside rows with a :class:`~phusong.errors.RepairWarning` instead of refusing.

    Returns
    -------
    (ndarray of bool, list of str)
        Mask of rows kept and notes.

    Raises
    ------
    DataError
        Rows outside (with the first ids, the count, and how many look lat/lon-swapped).
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    if extent is None:
        return np.ones(len(lon), dtype=bool), []
    w, s, e, n = extent
    inside = (lon >= w) & (lon <= e) & (lat >= s) & (lat <= n)
    if inside.all():
        return inside, []
    outside = ~inside
    swapped = outside & (lat >= w) & (lat <= e) & (lon >= s) & (lon <= n)
    hint = ""
    if swapped.any():
        hint = (f"; {int(swapped.sum())} of them look like lat/lon swapped "
                f"({_rows(swapped, ids, 3)}) — check the lat/lon columns")
    head = (f"{source}: {int(outside.sum())} of {len(lon)} {what} outside the province extent "
            f"({fmt_extent(extent)}): {_rows(outside, ids)}{hint}")
    if not drop_outside:
        raise DataError(head + "; fix them or pass --drop-outside")
    if not inside.any():
        raise DataError(head + "; no rows are left inside — is this the right file or extent?")
    warnings.warn(head + "; dropped (--drop-outside)", RepairWarning, stacklevel=2)
    return inside, [f"dropped {int(outside.sum())} {what} outside {fmt_extent(extent)}"]
