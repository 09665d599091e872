"""Terminal clutter from a land-cover raster (ESA WorldCover classes) through ITU-R P.2108 §3.1.

Every receiver takes the class of the land-cover pixel it stands in; the class gives a P.2108
clutter type and representative clutter height R (:data:`WORLDCOVER_P2108`), and the
height-gain correction ``A_h(f, h_rx, type, R)`` of :func:`phusong.coverage.p2108.height_gain_db`
is added to the path loss of every model, per link (it depends on the cell's frequency).

Why open classes carry no loss: the propagation models already predict the field at a 1.5 m
terminal in open ground (Hata and 38.901 RMa are fitted to such measurements; ITM and free
space see the bare terrain). P.2108 §3.1 is the correction from a terminal at clutter height R
down to a terminal inside the clutter; over open land the models' own terminal is that case,
so adding ``A_h`` there would count the ground twice. Only classes whose obstacles stand above
the open ground the models assume get a loss: tree cover and mangroves (P.2108 "trees/forest",
R = 15 m) and built-up land ("suburban", R = 10 m, the right class for Hòa Bình's towns). The
table is data: pass another mapping to :func:`prepare_clutter`.

Examples
--------
>>> import numpy as np
>>> round(float(clutter_table([900.0], 1.5)[WORLDCOVER_CODES.index(10), 0]), 2)  # trees
22.58
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phusong import settings
from phusong.coverage.p2108 import height_gain_db
from phusong.crs import parse_crs
from phusong.errors import CRSError, DataError

__all__ = ["WORLDCOVER_CLASSES", "WORLDCOVER_CODES", "WORLDCOVER_P2108", "ClutterMap",
           "bundle_clutter", "clutter_table", "prepare_clutter"]

#: ESA WorldCover 10 m (v100/v200) class codes and names.
WORLDCOVER_CLASSES = {10: "tree cover", 20: "shrubland", 30: "grassland", 40: "cropland",
                      50: "built-up", 60: "bare / sparse vegetation", 70: "snow and ice",
                      80: "permanent water bodies", 90: "herbaceous wetland", 95: "mangroves",
                      100: "moss and lichen"}
WORLDCOVER_CODES = tuple(WORLDCOVER_CLASSES)
#: WorldCover code → (P.2108 clutter type, representative height R in m); type 0 = no loss.
WORLDCOVER_P2108 = {10: (4, 15.0), 20: (0, 0.0), 30: (0, 0.0), 40: (0, 0.0), 50: (3, 10.0),
                    60: (0, 0.0), 70: (0, 0.0), 80: (0, 0.0), 90: (0, 0.0), 95: (4, 15.0),
                    100: (0, 0.0)}


def clutter_table(freq_mhz, rx_height_m: float, mapping=None) -> np.ndarray:
    """(n_classes + 1, n_freq) P.2108 §3.1 loss per WorldCover class and frequency, dB.

    Row ``k`` is ``WORLDCOVER_CODES[k]``; the last row (no data) is 0. P.2108 §3.1 is defined
    for 0.03–3 GHz; above 3 GHz the 3 GHz value is used (stated, not extrapolated).
    """
    mapping = WORLDCOVER_P2108 if mapping is None else mapping
    f_ghz = np.minimum(np.asarray(freq_mhz, float) / 1000.0, 3.0)
    out = np.zeros((len(WORLDCOVER_CODES) + 1, f_ghz.size))
    for k, code in enumerate(WORLDCOVER_CODES):
        kind, r = mapping.get(code, (0, 0.0))
        if kind:
            out[k] = height_gain_db(f_ghz, rx_height_m, kind, r)
    return out


@dataclass(frozen=True)
class ClutterMap:
    """Land-cover class index per pixel in WORK_CRS (north-up), for nearest lookups.

    Attributes
    ----------
    index : ndarray
        int8 row of :func:`clutter_table` per pixel (``len(WORLDCOVER_CODES)`` = no data).
    x0_m, y0_m, px_m, py_m : float
        Top-left corner and pixel sizes, m.
    mapping : dict
        WorldCover code → (P.2108 type, R m).
    """

    index: np.ndarray
    x0_m: float
    y0_m: float
    px_m: float
    py_m: float
    mapping: dict

    def classes_at(self, x_m, y_m) -> np.ndarray:
        """Class index at points (nearest pixel; no-data index outside)."""
        rows, cols = self.index.shape
        c = np.floor((np.asarray(x_m, float) - self.x0_m) / self.px_m)
        r = np.floor((self.y0_m - np.asarray(y_m, float)) / self.py_m)
        ok = (c >= 0) & (c < cols) & (r >= 0) & (r < rows)
        out = np.full(c.shape, len(WORLDCOVER_CODES), np.int64)
        out[ok] = self.index[r[ok].astype(np.int64), c[ok].astype(np.int64)]
        return out

    def table(self, freq_mhz, rx_height_m: float) -> np.ndarray:
        """:func:`clutter_table` with this map's mapping."""
        return clutter_table(freq_mhz, rx_height_m, self.mapping)


def prepare_clutter(landcover, *, area_work=None, mapping=None,
                    area_name: str = "the communes") -> ClutterMap:
    """Check a WorldCover raster and put it in WORK_CRS (nearest resampling).

    Parameters
    ----------
    landcover : phusong.bundle.Raster
        ESA WorldCover class codes (NaN or 0 = no data), any CRS.
    area_work : shapely geometry, optional
        The communes' union (or a site's disk) in WORK_CRS: the raster must overlap it.
    mapping : dict, optional
        Code → (P.2108 type, R m), default :data:`WORLDCOVER_P2108`.
    area_name : str
        What ``area_work`` is, for the error message.

    Raises
    ------
    CRSError
        No CRS.
    DataError
        Codes that are not WorldCover classes (named), or no overlap with the communes.
    """
    if not getattr(landcover, "crs", None):
        raise CRSError("landcover: no CRS; give the raster its CRS (WorldCover is EPSG:4326)")
    arr = np.asarray(landcover.array, float)
    vals = np.unique(arr[np.isfinite(arr)])
    unknown = sorted(int(v) if float(v).is_integer() else float(v) for v in vals
                     if v != 0 and v not in WORLDCOVER_CLASSES)
    if unknown:
        raise DataError(f"landcover: unknown class code(s) {unknown[:10]}; use ESA WorldCover "
                        f"codes {list(WORLDCOVER_CODES)} (0 or nodata = none)")
    index = np.full(arr.shape, len(WORLDCOVER_CODES), np.int8)
    for k, code in enumerate(WORLDCOVER_CODES):
        index[arr == code] = k
    t = landcover.transform
    work = parse_crs(settings.WORK_CRS)
    if not (parse_crs(landcover.crs).equals(work) and t.b == 0 and t.d == 0 and t.a > 0
            and t.e < 0):
        index, t = _reproject_nearest(index, t, landcover.crs)
    cmap = ClutterMap(index, float(t.c), float(t.f), float(t.a), float(-t.e),
                      dict(WORLDCOVER_P2108 if mapping is None else mapping))
    if area_work is not None:
        from shapely.geometry import box

        rows, cols = index.shape
        extent = box(cmap.x0_m, cmap.y0_m - rows * cmap.py_m, cmap.x0_m + cols * cmap.px_m,
                     cmap.y0_m)
        if not extent.intersects(area_work):
            raise DataError(f"landcover: the raster does not overlap {area_name}; use a "
                            "WorldCover tile that covers it")
    return cmap


def _reproject_nearest(index, transform, crs):
    import warnings

    from rasterio.enums import Resampling
    from rasterio.warp import calculate_default_transform, reproject

    rows, cols = index.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # rasterio's Affine `*`
        left, top = transform.c, transform.f
        right, bottom = transform * (cols, rows)
        dst_t, w, h = calculate_default_transform(crs, settings.WORK_CRS, cols, rows,
                                                  left=left, bottom=bottom, right=right,
                                                  top=top)
        out = np.full((h, w), len(WORLDCOVER_CODES), np.int8)
        reproject(index, out, src_transform=transform, src_crs=crs, dst_transform=dst_t,
                  dst_crs=settings.WORK_CRS, resampling=Resampling.nearest,
                  src_nodata=len(WORLDCOVER_CODES), dst_nodata=len(WORLDCOVER_CODES))
    return out, dst_t


def bundle_clutter(bundle, *, enabled: bool = True) -> ClutterMap | None:
    """The bundle's ``landcover.tif`` as a :class:`ClutterMap` (None without one or disabled)."""
    lc = bundle.rasters.get("landcover") if enabled else None
    if lc is None:
        return None
    area = None
    if bundle.communes is not None and len(bundle.communes):
        area = bundle.communes.to_crs(settings.WORK_CRS).union_all()
    return prepare_clutter(lc, area_work=area)
