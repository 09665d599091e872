"""Terrain: the DEM in WORK_CRS, vectorised bilinear sampling, path and radial profiles.

The DEM of a bundle may be in any CRS; :func:`prepare_terrain` reprojects it once to
``settings.WORK_CRS`` (north-up, square-ish pixels) so that every profile is sampled in metres.
Voids (NaN) are interpolated along each profile up to ``settings.MAX_VOID_BRIDGE_M``; a path
with a longer void, or no valid sample at all, is flagged.
Points outside the DEM are flagged by :meth:`Terrain.inside` and excluded by the callers.

Earth curvature is not applied here: profiles are plain ground heights; the models apply the
effective-earth bulge ``d1 d2 / (2 k a)`` themselves (see :mod:`phusong.coverage._diffraction`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from phusong import settings
from phusong.coverage._path_kernels import sample_paths, sample_paths_serial
from phusong.crs import parse_crs
from phusong.errors import CRSError, DataError

__all__ = ["crop_dem", "dem_window", "window_transform", "Terrain", "prepare_terrain",
           "pair_profiles", "EARTH_RADIUS_M"]

#: Mean earth radius, m (ITU-R P.1812 / P.452 use 6371 km).
EARTH_RADIUS_M = 6_371_000.0


@dataclass(frozen=True)
class Terrain:
    """A north-up elevation grid in WORK_CRS.

    Attributes
    ----------
    z : ndarray
        2-D float32 heights, m (row 0 = north); NaN = void.
    x0_m, y0_m : float
        Top-left corner, WORK_CRS metres.
    px_m, py_m : float
        Pixel width and height (both positive), m.
    """

    z: np.ndarray
    x0_m: float
    y0_m: float
    px_m: float
    py_m: float

    @property
    def step_m(self) -> float:
        """Natural profile step: the smaller pixel side, m."""
        return float(min(self.px_m, self.py_m))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top), m."""
        rows, cols = self.z.shape
        return (self.x0_m, self.y0_m - rows * self.py_m, self.x0_m + cols * self.px_m, self.y0_m)

    def inside(self, x_m, y_m) -> np.ndarray:
        """True where a point lies on the grid (within its outer pixel edges)."""
        left, bottom, right, top = self.bounds
        x = np.asarray(x_m, dtype=float)
        y = np.asarray(y_m, dtype=float)
        return (x >= left) & (x <= right) & (y >= bottom) & (y <= top)

    def sample(self, x_m, y_m) -> np.ndarray:
        """Bilinear heights at points (pixel-centre convention), m; NaN outside or in voids.

        A point next to a void uses the weighted mean of its valid neighbours; NaN only when all
        four neighbours are void. Points within half a pixel of the edge take the edge values.
        """
        x = np.asarray(x_m, dtype=float)
        y = np.asarray(y_m, dtype=float)
        rows, cols = self.z.shape
        cf = (x - self.x0_m) / self.px_m - 0.5
        rf = (self.y0_m - y) / self.py_m - 0.5
        cf = np.clip(cf, 0.0, cols - 1.0)
        rf = np.clip(rf, 0.0, rows - 1.0)
        c0 = np.minimum(np.floor(cf).astype(np.int64), max(cols - 2, 0))
        r0 = np.minimum(np.floor(rf).astype(np.int64), max(rows - 2, 0))
        c1 = np.minimum(c0 + 1, cols - 1)
        r1 = np.minimum(r0 + 1, rows - 1)
        fx = cf - c0
        fy = rf - r0
        z = self.z
        num = np.zeros(x.shape, dtype=float)
        den = np.zeros(x.shape, dtype=float)
        for rr, cc, w in (
            (r0, c0, (1 - fx) * (1 - fy)),
            (r0, c1, fx * (1 - fy)),
            (r1, c0, (1 - fx) * fy),
            (r1, c1, fx * fy),
        ):
            v = z[rr, cc].astype(float)
            ok = np.isfinite(v)
            num += np.where(ok, v * w, 0.0)
            den += np.where(ok, w, 0.0)
        # a zero-weight valid neighbour must still count when it is the only valid one
        out = np.where(den > 1e-12, num / np.where(den > 1e-12, den, 1.0), np.nan)
        out[~self.inside(x, y)] = np.nan
        return out


def prepare_terrain(dem) -> Terrain:
    """Turn a :class:`phusong.bundle.Raster` into a :class:`Terrain` in WORK_CRS.

    Parameters
    ----------
    dem : phusong.bundle.Raster
        Elevation, m, any CRS; NaN = void.

    Returns
    -------
    Terrain
        The same grid when already north-up in WORK_CRS, else reprojected once (bilinear).

    Raises
    ------
    CRSError
        The DEM has no CRS.
    DataError
        The DEM is empty or entirely void.
    """
    if dem is None:
        raise DataError("no DEM: the bundle has no dem.tif; add one (phusong data import --dem)")
    if not getattr(dem, "crs", None):
        raise CRSError("DEM: no CRS; give it one (e.g. gdal_edit.py -a_srs EPSG:4326 dem.tif)")
    arr = np.asarray(dem.array, dtype=np.float32)
    if arr.ndim != 2 or arr.size == 0 or not np.isfinite(arr).any():
        raise DataError("DEM: empty or entirely void (NaN); supply a DEM with elevations")
    t = dem.transform
    work = parse_crs(settings.WORK_CRS)
    if parse_crs(dem.crs).equals(work) and t.b == 0 and t.d == 0 and t.a > 0 and t.e < 0:
        return Terrain(arr, float(t.c), float(t.f), float(t.a), float(-t.e))
    with warnings.catch_warnings():
        # rasterio 1.4 multiplies Affine objects with `*` internally (affine ≥ 2.5 warns)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return _reproject(arr, t, dem.crs)


def dem_window(transform, crs, shape, x_m: float, y_m: float, radius_m: float,
               pad_px: int = 4) -> tuple[int, int, int, int] | None:
    """Rows ``r0:r1`` and columns ``c0:c1`` of a north-up DEM that cover a disk in WORK_CRS.

    Parameters
    ----------
    transform : affine.Affine
        The DEM's pixel → CRS transform.
    crs : str or None
        The DEM's CRS.
    shape : (int, int)
        The DEM's rows and columns.
    x_m, y_m, radius_m : float
        Disk centre (WORK_CRS) and radius, m.
    pad_px : int
        Extra source pixels kept on every side (bilinear sampling at the disk's edge).

    Returns
    -------
    (int, int, int, int) or None
        ``(r0, r1, c0, c1)``, or None when the whole grid is wanted: rotated, without a CRS,
        a window under two pixels wide (the disk misses the DEM: the caller says so), or the
        whole grid anyway.
    """
    t = transform
    if not (t.b == 0 and t.d == 0 and t.a > 0 and t.e < 0) or not crs:
        return None
    from phusong.crs import transform_points

    k = np.linspace(-1.0, 1.0, 9)
    bx = np.concatenate([x_m + radius_m * k, np.full(9, x_m + radius_m),
                         x_m + radius_m * k, np.full(9, x_m - radius_m)])
    by = np.concatenate([np.full(9, y_m + radius_m), y_m + radius_m * k,
                         np.full(9, y_m - radius_m), y_m + radius_m * k])
    sx, sy = transform_points(bx, by, settings.WORK_CRS, crs)
    rows, cols = shape
    c0 = max(0, int(np.floor((np.min(sx) - t.c) / t.a)) - pad_px)
    c1 = min(cols, int(np.ceil((np.max(sx) - t.c) / t.a)) + pad_px)
    r0 = max(0, int(np.floor((np.max(sy) - t.f) / t.e)) - pad_px)
    r1 = min(rows, int(np.ceil((np.min(sy) - t.f) / t.e)) + pad_px)
    if c1 - c0 < 2 or r1 - r0 < 2 or (c0, r0, c1, r1) == (0, 0, cols, rows):
        return None
    return r0, r1, c0, c1


def window_transform(t, r0: int, c0: int):
    """The transform of a window of a north-up grid whose top-left pixel is ``(r0, c0)``."""
    from affine import Affine

    return Affine(t.a, 0.0, t.c + c0 * t.a, 0.0, t.e, t.f + r0 * t.e)


def crop_dem(dem, x_m: float, y_m: float, radius_m: float, pad_px: int = 4):
    """The part of a DEM (any CRS, north-up) that covers a disk given in WORK_CRS.

    Parameters
    ----------
    dem : phusong.bundle.Raster
        Elevation, any CRS.
    x_m, y_m, radius_m : float
        Disk centre (WORK_CRS) and radius, m.
    pad_px : int
        Extra source pixels kept on every side (bilinear sampling at the disk's edge).

    Returns
    -------
    phusong.bundle.Raster
        A window of ``dem`` (the same object when it is rotated or the window is the whole
        grid, see :func:`dem_window`), so that :func:`prepare_terrain` only reprojects what a
        single site needs.
    """
    from dataclasses import replace

    w = dem_window(dem.transform, getattr(dem, "crs", None), np.asarray(dem.array).shape,
                   x_m, y_m, radius_m, pad_px)
    if w is None:
        return dem
    r0, r1, c0, c1 = w
    return replace(dem, array=np.asarray(dem.array)[r0:r1, c0:c1],
                   transform=window_transform(dem.transform, r0, c0))


def _reproject(arr: np.ndarray, transform, crs: str) -> Terrain:
    from rasterio.crs import CRS as RioCRS
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    rows, cols = arr.shape
    left, top = transform.c, transform.f
    right = transform.c + cols * transform.a + rows * transform.b
    bottom = transform.f + cols * transform.d + rows * transform.e
    src_crs = RioCRS.from_user_input(parse_crs(crs).to_wkt())
    box = dict(left=min(left, right), bottom=min(top, bottom), right=max(left, right),
               top=max(top, bottom))
    dst_t, _, _ = calculate_default_transform(src_crs, settings.WORK_CRS, cols, rows, **box)
    # square pixels of the finer side keep the resolution of the source
    res = float(min(abs(dst_t.a), abs(dst_t.e)))
    dst_t, w, h = calculate_default_transform(src_crs, settings.WORK_CRS, cols, rows, **box,
                                              resolution=res)
    out = np.full((h, w), np.nan, dtype=np.float32)
    reproject(
        arr,
        out,
        src_transform=transform,
        src_crs=src_crs,
        src_nodata=np.nan,
        dst_transform=dst_t,
        dst_crs=settings.WORK_CRS,
        dst_nodata=np.nan,
        resampling=Resampling.bilinear,
    )
    return Terrain(out, float(dst_t.c), float(dst_t.f), float(dst_t.a), float(-dst_t.e))


def pair_profiles(
    terrain: Terrain,
    tx_x_m: np.ndarray,
    tx_y_m: np.ndarray,
    rx_x_m: np.ndarray,
    rx_y_m: np.ndarray,
    *,
    step_m: float | None = None,
    min_distance_m: float = 10.0,
    max_void_m: float | None = None,
    return_voids: bool = False,
    serial: bool = False,
) -> tuple[np.ndarray, ...]:
    """Ground profiles for a batch of straight paths, sampled every ~``step_m``.

    Parameters
    ----------
    terrain : Terrain
        The DEM.
    tx_x_m, tx_y_m, rx_x_m, rx_y_m : ndarray
        Path ends in WORK_CRS, m (one entry per path).
    step_m : float, optional
        Target sample spacing, m (default: the DEM pixel size).
    min_distance_m : float
        Paths shorter than this are treated as this long (models are singular at 0 m).
    max_void_m : float, optional
        A path whose longest stretch without valid heights (DEM voids, or off the DEM) exceeds
        this many metres is flagged (``ok`` False) instead of interpolated across: a ridge
        inside a long void would vanish. None bridges any length.
    return_voids : bool
        Also return ``void_m``, the longest bridged stretch per path, m.
    serial : bool
        Sample on the calling thread only (callers running several Python threads).

    Returns
    -------
    profiles : ndarray
        (n_paths, max_len) float64 heights, m; sample 0 at the transmitter; padded past
        ``n_valid`` with the last valid value.
    n_valid : ndarray
        Samples per path (≥ 2).
    path_step_m : ndarray
        Actual spacing per path, ``distance / (n_valid - 1)``, m.
    distance_m : ndarray
        Horizontal path length, m (≥ ``min_distance_m``).
    ok : ndarray of bool
        False for a path with no valid elevation at all, or a void longer than ``max_void_m``
        (excluded by callers).
    void_m : ndarray
        Only with ``return_voids``: longest stretch bridged per path (missing samples × the
        path's step), m.
    """
    step = float(step_m or terrain.step_m)
    tx_x = np.asarray(tx_x_m, float)
    tx_y = np.asarray(tx_y_m, float)
    dx = np.asarray(rx_x_m, float) - tx_x
    dy = np.asarray(rx_y_m, float) - tx_y
    dist = np.hypot(dx, dy)
    n_valid = np.maximum(np.ceil(dist / step).astype(np.int64) + 1, 2)
    n = len(dist)
    max_len = int(n_valid.max()) if n else 2
    sample = sample_paths_serial if serial else sample_paths
    prof, ok, run = sample(terrain.z, float(terrain.x0_m), float(terrain.y0_m),
                                 float(terrain.px_m), float(terrain.py_m), tx_x, tx_y, dx, dy,
                                 n_valid, max_len)
    d_eff = np.maximum(dist, min_distance_m)
    path_step = d_eff / (n_valid - 1.0)
    void_m = run * path_step
    if max_void_m is not None:
        ok = ok & (void_m <= max_void_m)
    if return_voids:
        return prof, n_valid, path_step, d_eff, ok, void_m
    return prof, n_valid, path_step, d_eff, ok
