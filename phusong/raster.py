"""A single-band grid in memory and on disk (GeoTIFF), without the vector stack.

:class:`Raster` and its reader/writer live here rather than in :mod:`phusong.bundle` so that
raster-only paths (``phusong coverage site``) start without pandas, geopandas or pyogrio;
:mod:`phusong.bundle` re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

from phusong.errors import CRSError, FormatError, InputFileError

__all__ = ["Raster", "read_raster", "write_raster"]


@dataclass
class Raster:
    """A single-band grid.

    Attributes
    ----------
    array : ndarray
        2-D float32 values (row 0 = north); NaN marks voids/no data.
    transform : affine.Affine
        Pixel → CRS coordinates (top-left corner convention).
    crs : str
        CRS of the grid, e.g. ``"EPSG:32648"``.
    unit : str
        Unit of the values (``"m"`` for elevation, ``"persons"`` for population).
    """

    array: np.ndarray
    transform: Affine
    crs: str
    unit: str = ""

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols)."""
        return self.array.shape

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in the raster's CRS."""
        rows, cols = self.array.shape
        left, top = self.transform @ (0, 0)
        right, bottom = self.transform @ (cols, rows)
        return (min(left, right), min(bottom, top), max(left, right), max(bottom, top))


def write_raster(raster: Raster, path: str | Path) -> None:
    """Write a :class:`Raster` as a deflate-compressed float32 GeoTIFF (NaN nodata)."""
    arr = np.asarray(raster.array, dtype="float32")
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=arr.shape[0],
        width=arr.shape[1],
        count=1,
        dtype="float32",
        crs=raster.crs,
        transform=raster.transform,
        nodata=np.nan,
        compress="deflate",
        predictor=3,
        tiled=False,
    ) as dst:
        dst.write(arr, 1)
        if raster.unit:
            dst.update_tags(1, unit=raster.unit)


def read_raster(path: str | Path, *, unit: str | None = None, window=None) -> Raster:
    """Read band 1 of a GeoTIFF as float32 with NaN for nodata.

    Parameters
    ----------
    path : str or Path
        The GeoTIFF.
    unit : str, optional
        Unit of the values (default the band's ``unit`` tag).
    window : callable, optional
        ``window(transform, crs, (rows, cols))`` → ``(r0, r1, c0, c1)`` or None: read only
        those rows and columns (a windowed read: the same values as slicing the whole grid,
        without reading the rest), or the whole grid when it returns None.

    Raises
    ------
    InputFileError, FormatError, CRSError
        Missing file, unreadable raster, raster without CRS.
    """
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"{p}: no such raster file")
    try:
        with rasterio.open(p) as src:
            if src.crs is None:
                raise CRSError(f"{p}: raster has no CRS; reproject it or give --crs")
            crs = src.crs.to_string()
            transform = src.transform
            w = None if window is None else window(transform, crs, (src.height, src.width))
            if w is None:
                arr = src.read(1, masked=True)
            else:
                from rasterio.windows import Window

                r0, r1, c0, c1 = w
                arr = src.read(1, masked=True, window=Window(c0, r0, c1 - c0, r1 - r0))
                t = transform
                transform = Affine(t.a, t.b, t.c + c0 * t.a + r0 * t.b,
                                   t.d, t.e, t.f + c0 * t.d + r0 * t.e)
            arr = arr.astype("float32").filled(np.nan)
            tag_unit = src.tags(1).get("unit", "")
    except rasterio.errors.RasterioIOError as exc:
        raise FormatError(f"{p}: not a readable raster ({exc})") from None
    return Raster(arr, transform, crs, unit if unit is not None else tag_unit)
