"""Elevation (GeoTIFF, SRTM ``.hgt``) and population (WorldPop-style GeoTIFF) rasters.

SRTM ``.hgt`` tiles are raw big-endian int16 grids, 1201 × 1201 (3″) or 3601 × 3601 (1″),
whose file name gives the south-west corner (``N21E105.hgt``: 21–22° N, 105–106° E); rows run
north to south and pixel centres sit on whole degrees. Voids (−32768, or the file's nodata)
become NaN and may be filled by :func:`rasterio.fill.fillnodata`.

Examples
--------
>>> import tempfile, pathlib, numpy as np
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> grid = np.full((1201, 1201), 100, dtype=">i2"); grid[0, 0] = -32768
>>> grid.tofile(d / "N21E105.hgt")
>>> dem = read_dem(d / "N21E105.hgt")
>>> dem.data.shape, int(np.isnan(dem.data.array).sum()), dem.data.crs
((1201, 1201), 1, 'EPSG:4326')
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import rasterio
import rasterio.errors
from affine import Affine
from rasterio.fill import fillnodata

from phusong import settings
from phusong.bundle import Raster
from phusong.crs import parse_crs
from phusong.errors import CRSError, FormatError
from phusong.io._files import Imported, opened, require_file

__all__ = ["read_dem", "read_hgt", "read_population", "RASTER_SUFFIXES"]

RASTER_SUFFIXES = (".tif", ".tiff", ".hgt", ".zip")
_HGT_NAME = re.compile(r"^([NS])(\d{2})([EW])(\d{3})", re.IGNORECASE)
_ELEVATION_RANGE_M = (-500.0, 9000.0)
#: More persons than this in one pixel is not a population raster (the densest square km on
#: earth holds ~1e5 people; a 1 km WorldPop pixel is the coarsest we read).
_MAX_PERSONS_PER_PIXEL = 1e6


def read_hgt(path: str | Path) -> Raster:
    """Read an SRTM ``.hgt`` tile (voids → NaN) as a :class:`~phusong.bundle.Raster`."""
    p = require_file(path, "SRTM .hgt")
    m = _HGT_NAME.match(p.name)
    if m is None:
        raise FormatError(f"{p}: an .hgt name must give its south-west corner, e.g. N21E105.hgt")
    size = p.stat().st_size
    side = {1201 * 1201 * 2: 1201, 3601 * 3601 * 2: 3601}.get(size)
    if side is None:
        raise FormatError(f"{p}: {size} bytes is not an SRTM tile (1201² or 3601² int16 values)")
    lat0 = int(m.group(2)) * (1 if m.group(1).upper() == "N" else -1)
    lon0 = int(m.group(4)) * (1 if m.group(3).upper() == "E" else -1)
    arr = np.fromfile(p, dtype=">i2").reshape(side, side).astype("float32")
    arr[arr == -32768] = np.nan
    res = 1.0 / (side - 1)
    transform = Affine(res, 0.0, lon0 - res / 2, 0.0, -res, lat0 + 1 + res / 2)
    return Raster(arr, transform, "EPSG:4326", "m")


def _check_size(p: Path, width: int, height: int, what: str) -> None:
    """Refuse a raster whose header claims more than ``settings.MAX_RASTER_BYTES`` (as
    float64, the working copy), before any pixel is read."""
    need = int(width) * int(height) * 8
    if need > settings.MAX_RASTER_BYTES:
        raise FormatError(f"{p}: the {what} header claims {width} × {height} pixels "
                          f"({need / 1024**3:.1f} GiB as float64), over the "
                          f"{settings.MAX_RASTER_BYTES / 1024**3:.1f} GiB limit "
                          "(settings.MAX_RASTER_BYTES); crop it to the province first "
                          "(gdal_translate -projwin)")


def _read_tif(p: Path, crs: str | None, what: str) -> tuple[Raster, list[str]]:
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            with rasterio.open(p) as src:
                _check_size(p, src.width, src.height, what)
                arr = src.read(1, masked=True).astype("float32").filled(np.nan)
                file_crs = src.crs.to_string() if src.crs else None
                transform = src.transform
    except (rasterio.errors.RasterioError, UnicodeDecodeError) as exc:
        # UnicodeDecodeError: found by fuzzing (a corrupt text tag GDAL hands back as bytes)
        why = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
        raise FormatError(f"{p}: not a readable GeoTIFF {what} ({why})") from None
    if transform == Affine.identity():
        raise CRSError(f"{p}: the {what} raster is not georeferenced (no transform); "
                       "export it as a GeoTIFF with its position")
    if file_crs is None:
        if crs is None:
            raise CRSError(f"{p}: the {what} raster has no CRS; name it (e.g. --crs EPSG:4326)")
        file_crs = parse_crs(crs).to_string()
        notes.append(f"CRS {file_crs} named by the user")
    elif crs is not None and not parse_crs(crs).equals(parse_crs(file_crs)):
        raise CRSError(f"{p}: mixed CRS — the raster says {file_crs} but {crs} was named; "
                       "drop the CRS option or fix the file")
    return Raster(arr, transform, file_crs, ""), notes


def read_dem(path, *, crs: str | None = None, fill_voids: bool = False,
             max_search_px: float = 100.0) -> Imported:
    """Read a DEM: GeoTIFF, SRTM ``.hgt``, or either zipped.

    Parameters
    ----------
    path : str or Path
        The file.
    crs : str, optional
        CRS when a GeoTIFF has none.
    fill_voids : bool
        Fill voids by inverse-distance interpolation (:func:`rasterio.fill.fillnodata`) up to
        ``max_search_px`` pixels away; the count filled goes into the notes.
    max_search_px : float
        Search distance for filling, pixels.

    Returns
    -------
    Imported
        ``data``: :class:`~phusong.bundle.Raster` (float32 m, NaN = void).
    """
    p = require_file(path, "DEM")
    if p.suffix.lower() not in RASTER_SUFFIXES:
        raise FormatError(f"{p}: unsupported DEM format {p.suffix!r}; use GeoTIFF or SRTM .hgt")
    with opened(p, (".tif", ".tiff", ".hgt"), "DEM") as inner:
        if inner.suffix.lower() == ".hgt":
            raster, notes = read_hgt(inner), ["SRTM .hgt"]
        else:
            raster, notes = _read_tif(inner, crs, "DEM")
    arr = raster.array
    arr[arr <= -32767] = np.nan  # SRTM voids written without a nodata tag
    finite = np.isfinite(arr)
    if not finite.any():
        raise FormatError(f"{p}: the DEM holds no elevation values (all void)")
    lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
    if lo < _ELEVATION_RANGE_M[0] or hi > _ELEVATION_RANGE_M[1]:
        raise FormatError(f"{p}: values {lo:g}…{hi:g} are not elevations in metres; "
                          "is this the right raster?")
    voids = int((~finite).sum())
    if voids:
        notes.append(f"{voids} void pixel(s) set to NaN")
        if fill_voids:
            sentinel = np.float32(-99999.0)  # never an elevation; marks voids left unfilled
            filled = fillnodata(np.where(finite, arr, sentinel).astype("float32"),
                                mask=finite.astype("uint8"), max_search_distance=max_search_px)
            filled = np.where(finite, arr, filled).astype("float32")
            reached = ~finite & (filled != sentinel)
            arr = np.where(finite | reached, filled, np.nan).astype("float32")
            notes.append(f"filled {int(reached.sum())} of {voids} void pixel(s) by "
                         f"interpolation (max {max_search_px:g} px)")
    return Imported(Raster(arr, raster.transform, raster.crs, "m"), p.name, notes)


def read_population(path, *, crs: str | None = None) -> Imported:
    """Read a population GeoTIFF (persons per pixel, WorldPop-style; negatives → NaN).

    Returns
    -------
    Imported
        ``data``: :class:`~phusong.bundle.Raster` with unit ``"persons"``; the notes give the
        total.
    """
    p = require_file(path, "population")
    if p.suffix.lower() not in (".tif", ".tiff", ".zip"):
        raise FormatError(f"{p}: unsupported population format {p.suffix!r}; use a GeoTIFF")
    with opened(p, (".tif", ".tiff"), "population") as inner:
        raster, notes = _read_tif(inner, crs, "population")
    arr = raster.array
    arr[arr < 0] = np.nan
    if not np.isfinite(arr).any():
        raise FormatError(f"{p}: the population raster holds no values")
    top = float(np.nanmax(arr))
    if not top <= _MAX_PERSONS_PER_PIXEL:  # found by fuzzing: 3e38 overflowed the total
        raise FormatError(f"{p}: a pixel holds {top:g} persons, not a population count "
                          f"(> {_MAX_PERSONS_PER_PIXEL:g}); is this the right raster?")
    notes.append(f"total {float(np.nansum(arr, dtype=np.float64)):,.0f} persons")
    return Imported(Raster(arr, raster.transform, raster.crs, "persons"), p.name, notes)
