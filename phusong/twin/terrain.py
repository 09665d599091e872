"""Generated terrain (DEM) for the synthetic Hòa Bình (synthetic; DESIGN §3).

Real 30–90 m elevation is not public for 99 % of the province, so the twin generates a DEM:

- **regional relief** follows real coarse elevation: the 1/12° (≈ 9 km) global altitude grid
  shipped in the PyPI package ``pvlib`` (``pvlib/data/Altitude.h5``, BSD-3; Mapzen terrain
  tiles aggregated; 28 m steps), read at run time and interpolated with cubic splines;
- **local relief** is added at 90 m: fractal (fBm) hills,
  high-passed so that the large-scale (> 5 km) shape stays that of the real grid;
- **valleys**: drainage is routed on 450 m cells (minimum spanning tree = spill paths over the
  lowest saddles, :mod:`._geo_drainage`) and a dendritic network of meandering valleys is carved
  wherever more than 1.2 km² drains, with flat floors that widen downstream and side slopes
  that steepen with the regional elevation;
- a soft floor keeps the lowlands (Đà river, Lạc Thủy, Yên Thủy) above ≈ 10 m.

Everything is vectorised numpy/scipy.ndimage and deterministic for a seed.
"""

from __future__ import annotations

import importlib.util
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
from phusong.twin._geo_drainage import carve, floors, route
from phusong.twin._geo_noise import fbm

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
#: Drainage is routed on cells of about this size, m.
_ROUTE_CELL_M = 450.0
#: A channel (and its valley) starts where this much area drains through, m².
_CHANNEL_AREA_M2 = 1.2e6
#: Meander of channel centre lines: amplitude and feature size, m.
_MEANDER_M = 200.0
_MEANDER_SCALE_M = 2_000.0
#: Lowland floor: elevation never drops below this, m.
_FLOOR_M = 8.0
#: Relief shape is bounded at this many standard deviations (soft, tanh).
_TAIL = 2.2
#: Summit compression: heights above the knee approach the ceiling (Hòa Bình's highest peaks
#: are ≈ 1,400–1,500 m: Phu Canh 1,373 m in Đà Bắc, the Pà Cò – Hang Kia massif in Mai Châu).
_PEAK_KNEE_M = 1_150.0
_PEAK_M = 1_520.0


def _pvlib_file() -> Path:
    # Locate the package without importing it (pvlib's import pulls in much more than needed).
    spec = importlib.util.find_spec("pvlib")
    if spec is None or not spec.submodule_search_locations:
        raise InputFileError(
            "the twin's terrain needs the PyPI package pvlib (its altitude grid): "
            "pip install pvlib"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "Altitude.h5"
    if not path.is_file():
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
    z = _valleys(base + _local_relief(base, res, rng), base, res, rng)
    floor = np.maximum(_FLOOR_M, 0.35 * base).astype(np.float32)
    soft = np.float32(12.0)
    z = floor + soft * np.logaddexp(np.float32(0.0), (z - floor) / soft)
    # Summits are worn down: above _PEAK_KNEE_M heights approach _PEAK_M asymptotically.
    knee, room = np.float32(_PEAK_KNEE_M), np.float32(_PEAK_M - _PEAK_KNEE_M)
    z = np.where(z > knee, knee + room * np.tanh((z - knee) / room), z)
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
    """Zero-mean (at > 5 km) hillslope relief, m: fractal (fBm) hills."""
    shape = base.shape
    km = 1_000.0 / res
    hills = fbm(shape, rng, base_px=6 * km, octaves=7, gain=0.55)
    # Bounded: a few standard deviations of relief, never runaway spikes.
    form = _TAIL * np.tanh(hills / _TAIL)
    relief = _amplitude(base) * form
    return relief - _lowpass(relief, res)


def _lowpass(a: np.ndarray, res: float) -> np.ndarray:
    """Gaussian low-pass at :data:`_HIGHPASS_SIGMA_M`, computed on 1 km blocks (the field is
    smooth at that scale) and upsampled bilinearly: same result, a hundredth of the work."""
    block = max(1, int(round(1_000.0 / res)))
    ny, nx = a.shape
    cy, cx = -(-ny // block), -(-nx // block)
    padded = np.pad(a, ((0, cy * block - ny), (0, cx * block - nx)), mode="edge")
    coarse = padded.reshape(cy, block, cx, block).mean((1, 3))
    coarse = ndimage.gaussian_filter(coarse, _HIGHPASS_SIGMA_M / (block * res), mode="nearest")
    rows = (np.arange(ny) + 0.5) / block - 0.5
    cols = (np.arange(nx) + 0.5) / block - 0.5
    out = ndimage.map_coordinates(coarse, np.meshgrid(rows, cols, indexing="ij"), order=1,
                                  mode="nearest")
    return out.astype(np.float32)


def _amplitude(base: np.ndarray) -> np.ndarray:
    """Local relief amplitude, m: higher ground is more rugged."""
    return (_RELIEF_FLOOR_M + _RELIEF_SHARE * np.maximum(base, 0.0)).astype(np.float32)


def _valleys(z: np.ndarray, base: np.ndarray, res: float, rng: np.random.Generator) -> np.ndarray:
    """Dissect terrain ``z`` (m) by a dendritic valley network routed on a coarse grid."""
    block = max(1, int(round(_ROUTE_CELL_M / res)))
    ny, nx = z.shape
    cy, cx = ny // block, nx // block

    def coarsen(a: np.ndarray) -> np.ndarray:
        return a[: cy * block, : cx * block].reshape(cy, block, cx, block).mean((1, 3))

    amp = _amplitude(base)
    coarse = coarsen(z)
    # Roughness at the routing scale makes neighbouring channels converge rather than run
    # parallel down smooth slopes.
    rough = coarsen(amp) * np.float32(0.12) * fbm(coarse.shape, rng, base_px=2.0, octaves=2)
    receiver, acc, order = route(coarse + rough, rng)
    cell_m = block * res
    area = acc * cell_m**2
    strength = np.clip(np.log(np.maximum(area, 1.0) / _CHANNEL_AREA_M2)
                       / np.log(max(area.max(), 2.0 * _CHANNEL_AREA_M2) / _CHANNEL_AREA_M2), 0, 1)
    # Rivers cut below the surrounding hills, the larger ones deeper.
    incision = coarsen(amp).ravel() * (0.3 + 0.7 * strength) * (area >= _CHANNEL_AREA_M2)
    bed = floors(coarse, receiver, order, incision.reshape(cy, cx), cell_m)
    px = _MEANDER_SCALE_M / res
    warp = (fbm(z.shape, rng, base_px=px, octaves=3) * np.float32(_MEANDER_M),
            fbm(z.shape, rng, base_px=px, octaves=3) * np.float32(_MEANDER_M))
    side_tan = np.clip(0.15 + amp / 700.0, 0.15, 0.8)
    # Hills stand above the valley sides, so that the valleys shape most of the land.
    carved = carve(z + 0.6 * amp, block=block, receiver=receiver, acc=acc, bed=bed, res_m=res,
                   min_area_m2=_CHANNEL_AREA_M2, side_tan=side_tan, warp=warp)
    carved += amp * np.float32(0.04) * fbm(z.shape, rng, base_px=0.6 * 1_000.0 / res, octaves=3)
    # Keep the regional (> 5 km) shape of the real grid: add back what carving moved there.
    return carved + _lowpass(z - carved, res)
