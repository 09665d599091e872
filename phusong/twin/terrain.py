"""Generated terrain (DEM) for the synthetic Hòa Bình (synthetic; DESIGN §3).

Real 30–90 m elevation is not public for 99 % of the province, so the twin generates a DEM:

- **regional relief** follows real coarse elevation: the 1/12° (≈ 9 km) global altitude grid
  shipped in the PyPI package ``pvlib`` (``pvlib/data/Altitude.h5``, BSD-3; Mapzen terrain
  tiles aggregated; 28 m steps), read at run time and interpolated with cubic splines;
- **local relief** is added at 90 m: ridged multifractal noise for crests, fractal noise for
  slopes, and a network of meandering valleys (zero-lines of smooth random fields) with flat
  floors, carved more deeply where the region is higher; the added relief is high-passed so the
  large-scale shape stays that of the real grid;
- a soft floor keeps the lowlands (Đà river, Lạc Thủy, Yên Thủy) above ≈ 10 m.

Everything is vectorised numpy/scipy.ndimage and deterministic for a seed.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import numpy as np
from affine import Affine
from scipy import ndimage

from phusong import settings
from phusong.bundle import Raster
from phusong.crs import to_work, transform_points
from phusong.errors import DataError, InputFileError
from phusong.twin._geo_noise import fbm, ridged

__all__ = ["MARGIN_M", "coarse_altitude", "make_dem"]

#: The DEM extends this far beyond the communes' bounding box, m (coverage near the border
#: sees terrain across it).
MARGIN_M = 8_000.0
#: pvlib grid: 1/12° cells, value × 28 − 450 m, 255 = no data.
_PV_CELLS_PER_DEG = 12
_PV_STEP_M, _PV_OFFSET_M, _PV_NODATA = 28.0, -450.0, 255
#: Local relief amplitude, m: a floor plus a share of the regional elevation (higher is rougher).
_RELIEF_FLOOR_M = 70.0
_RELIEF_SHARE = 0.55
#: Scale below which relief is "local" (the high-pass), m.
_HIGHPASS_SIGMA_M = 5_000.0
#: Lowland floor: elevation never drops below this, m.
_FLOOR_M = 8.0


def _pvlib_file() -> Path:
    try:
        import pvlib
    except ImportError:  # pragma: no cover - depends on the environment
        raise InputFileError(
            "the twin's terrain needs the PyPI package pvlib (its altitude grid): "
            "pip install pvlib h5py"
        ) from None
    path = Path(pvlib.__file__).resolve().parent / "data" / "Altitude.h5"
    if not path.is_file():  # pragma: no cover
        raise InputFileError(f"{path}: pvlib's altitude grid is missing; reinstall pvlib")
    return path


@lru_cache(maxsize=8)
def _pvlib_window(lon0: float, lat0: float, lon1: float, lat1: float):
    try:
        import h5py
    except ImportError:  # pragma: no cover
        raise InputFileError("reading pvlib's altitude grid needs h5py: pip install h5py") from None
    k = _PV_CELLS_PER_DEG
    r0, r1 = int(np.floor((90.0 - lat1) * k)), int(np.ceil((90.0 - lat0) * k))
    c0, c1 = int(np.floor((lon0 + 180.0) * k)), int(np.ceil((lon1 + 180.0) * k))
    with h5py.File(_pvlib_file(), "r") as h5:
        raw = np.asarray(h5["Altitude"][r0:r1, c0:c1])
    return raw, r0, c0


def coarse_altitude(lon, lat) -> np.ndarray:
    """Real coarse elevation at points, m, from pvlib's 1/12° grid (cubic spline).

    Parameters
    ----------
    lon, lat : array_like
        Degrees (EPSG:4326).

    Returns
    -------
    ndarray
        float64 elevation, m above sea level, smooth at the 9 km scale (no data → nearest value).
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    pad = 3.0 / _PV_CELLS_PER_DEG
    raw, r0, c0 = _pvlib_window(
        float(np.floor(lon.min() * 4) / 4 - pad), float(np.floor(lat.min() * 4) / 4 - pad),
        float(np.ceil(lon.max() * 4) / 4 + pad), float(np.ceil(lat.max() * 4) / 4 + pad),
    )
    void = raw == _PV_NODATA
    if void.all():
        raise DataError("pvlib's altitude grid has no data over the province")
    if void.any():
        _, (ri, ci) = ndimage.distance_transform_edt(void, return_indices=True)
        raw = raw[ri, ci]
    alt = raw.astype(float) * _PV_STEP_M + _PV_OFFSET_M
    k = _PV_CELLS_PER_DEG
    rows = (90.0 - lat) * k - 0.5 - r0
    cols = (lon + 180.0) * k - 0.5 - c0
    out = ndimage.map_coordinates(alt, [rows, cols], order=3, mode="nearest")
    # Cubic splines overshoot around sharp steps; keep within the grid's local range.
    lo = ndimage.map_coordinates(ndimage.minimum_filter(alt, 3), [rows, cols], order=1,
                                 mode="nearest")
    hi = ndimage.map_coordinates(ndimage.maximum_filter(alt, 3), [rows, cols], order=1,
                                 mode="nearest")
    return np.clip(out, lo, hi)


def make_dem(communes: gpd.GeoDataFrame, *, seed: int = 0, resolution_m: float = 90.0) -> Raster:
    """Generated elevation over the communes' extent plus :data:`MARGIN_M`.

    Parameters
    ----------
    communes : geopandas.GeoDataFrame
        Commune polygons (any CRS): the DEM covers their bounding box in WORK_CRS plus a margin.
    seed : int
        Seed of the local relief; same seed → identical array.
    resolution_m : float
        Pixel size, m (default 90, like SRTM3).

    Returns
    -------
    phusong.bundle.Raster
        float32 elevation, m, in ``settings.WORK_CRS``, north-up, no voids.
    """
    if not resolution_m > 0:
        raise DataError(f"resolution_m must be positive, got {resolution_m!r}")
    work = to_work(communes, "communes")
    x0, y0, x1, y1 = work.total_bounds
    res = float(resolution_m)
    left = np.floor((x0 - MARGIN_M) / res) * res
    top = np.ceil((y1 + MARGIN_M) / res) * res
    nx = int(np.ceil((x1 + MARGIN_M - left) / res))
    ny = int(np.ceil((top - (y0 - MARGIN_M)) / res))
    rng = np.random.default_rng(seed)
    base = _regional(left, top, res, ny, nx)
    relief = _local_relief(base, res, rng)
    z = base + relief
    floor = np.maximum(_FLOOR_M, 0.35 * base).astype(np.float32)
    soft = np.float32(12.0)
    z = floor + soft * np.logaddexp(np.float32(0.0), (z - floor) / soft)
    transform = Affine(res, 0.0, float(left), 0.0, -res, float(top))
    return Raster(z.astype(np.float32), transform, settings.WORK_CRS, "m")


def _regional(left: float, top: float, res: float, ny: int, nx: int) -> np.ndarray:
    """pvlib elevation on a 1 km lattice, upsampled (cubic) to the DEM grid."""
    step = max(1, int(round(1_000.0 / res)))
    cy = ny // step + 3
    cx = nx // step + 3
    xs = left + (np.arange(cx) * step + 0.5) * res
    ys = top - (np.arange(cy) * step + 0.5) * res
    gx, gy = np.meshgrid(xs, ys)
    lon, lat = transform_points(gx.ravel(), gy.ravel(), settings.WORK_CRS, settings.STORE_CRS)
    coarse = coarse_altitude(lon, lat).reshape(gy.shape)
    rows = np.arange(ny) / step
    cols = np.arange(nx) / step
    fine = ndimage.map_coordinates(
        coarse, np.meshgrid(rows, cols, indexing="ij"), order=1, mode="nearest")
    return fine.astype(np.float32)


def _local_relief(base: np.ndarray, res: float, rng: np.random.Generator) -> np.ndarray:
    shape = base.shape
    km = 1_000.0 / res
    crest = ridged(shape, rng, base_px=7 * km, octaves=4)
    crest = (crest - crest.mean()) / np.float32(crest.std() + 1e-6)
    detail = fbm(shape, rng, base_px=2.5 * km, octaves=5)
    rivers = fbm(shape, rng, base_px=9 * km, octaves=3)
    streams = fbm(shape, rng, base_px=3 * km, octaves=2)
    valley = np.maximum(np.exp(-((rivers / 0.16) ** 2)), 0.6 * np.exp(-((streams / 0.12) ** 2)))
    amp = (_RELIEF_FLOOR_M + _RELIEF_SHARE * np.maximum(base, 0.0)).astype(np.float32)
    relief = amp * ((0.75 * crest + 0.35 * detail) * (1.0 - 0.75 * valley) - 1.1 * valley)
    sigma = _HIGHPASS_SIGMA_M / res
    return relief - ndimage.gaussian_filter(relief, sigma)
