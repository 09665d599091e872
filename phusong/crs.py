"""The CRS rules (DESIGN §4) and VN-2000 helpers.

- Every GeoDataFrame has a CRS; a missing one raises :class:`~phusong.errors.CRSError`.
- Storage/exchange in EPSG:4326 (lon, lat); metric work in ``settings.WORK_CRS`` (UTM 48N).
- VN-2000 at the edges: EPSG:9211 (Hòa Bình TM-3 106°00'), 3405, 9208, 5897. Vietnamese survey
  sheets write X = northing, Y = easting.

Examples
--------
>>> from phusong.crs import transform_points
>>> e, n = transform_points([105.3383], [20.8133], "EPSG:4326", "EPSG:9211")
>>> round(float(e[0])), round(float(n[0]))
(430928, 2302427)
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as _PyprojCRSError

from phusong import settings
from phusong.errors import CRSError

__all__ = [
    "VN2000_CRS",
    "EXPORT_CRS",
    "parse_crs",
    "require_crs",
    "to_store",
    "to_work",
    "transform_points",
    "looks_like_vn2000_metres",
    "is_geographic",
]

#: VN-2000 CRSs supported at the edges, with their use.
#: VN-2000 codes and the export choices live in :mod:`phusong.settings` (plain data the CLI
#: reads without loading pyproj); re-exported here.
VN2000_CRS = settings.VN2000_CRS
EXPORT_CRS = settings.EXPORT_CRS


@lru_cache(maxsize=64)
def parse_crs(value: str | int) -> CRS:
    """Parse ``"EPSG:9211"``, ``"9211"`` or ``9211`` into a :class:`pyproj.CRS`.

    Raises
    ------
    CRSError
        For an unknown code, with the codes phusong supports.
    """
    text = str(value).strip()
    if text.isdigit():
        text = f"EPSG:{text}"
    try:
        return CRS.from_user_input(text)
    except _PyprojCRSError:
        raise CRSError(
            f"unknown CRS {value!r}; use an EPSG code such as EPSG:4326, EPSG:32648 or "
            f"VN-2000 {', '.join(c for c in VN2000_CRS if c != 'EPSG:4756')}"
        ) from None


def require_crs(gdf, what: str):
    """Return ``gdf`` unchanged if it has a CRS, else raise :class:`CRSError` naming ``what``."""
    if gdf.crs is None:
        raise CRSError(
            f"{what}: no CRS; name it (e.g. --crs EPSG:9211 for VN-2000 TM-3 Hòa Bình, "
            "EPSG:4326 for lon/lat degrees)"
        )
    return gdf


def to_store(gdf, what: str = "layer"):
    """Return ``gdf`` in EPSG:4326 (raises :class:`CRSError` if it has no CRS)."""
    require_crs(gdf, what)
    return gdf if gdf.crs.equals(parse_crs(settings.STORE_CRS)) else gdf.to_crs(settings.STORE_CRS)


def to_work(gdf, what: str = "layer"):
    """Return ``gdf`` in ``settings.WORK_CRS`` (metres)."""
    require_crs(gdf, what)
    return gdf if gdf.crs.equals(parse_crs(settings.WORK_CRS)) else gdf.to_crs(settings.WORK_CRS)


@lru_cache(maxsize=64)
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(parse_crs(src), parse_crs(dst), always_xy=True)


def transform_points(x, y, src: str, dst: str) -> tuple[np.ndarray, np.ndarray]:
    """Transform coordinate arrays (x = lon or easting, y = lat or northing) from ``src`` to ``dst``.

    Parameters
    ----------
    x, y : array_like
        Coordinates in ``src`` (degrees or metres), always x/lon first.
    src, dst : str
        CRS codes such as ``"EPSG:4326"``.

    Returns
    -------
    (ndarray, ndarray)
        Transformed x and y.
    """
    t = _transformer(str(src), str(dst))
    xx, yy = t.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.asarray(xx, dtype=float), np.asarray(yy, dtype=float)


def is_geographic(crs: str | int) -> bool:
    """True if ``crs`` uses degrees."""
    return parse_crs(crs).is_geographic


def looks_like_vn2000_metres(x, y) -> bool:
    """True if values look like projected metres in Vietnam rather than degrees.

    Used to catch VN-2000 easting/northing pasted into lat/lon columns: degrees in Vietnam are
    within ±180, projected coordinates are in the hundreds of thousands to millions.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    finite = np.isfinite(x) & np.isfinite(y)
    if not finite.any():
        return False
    return bool(np.median(np.abs(x[finite])) > 1_000 and np.median(np.abs(y[finite])) > 1_000)
