"""Generated land cover of the synthetic Hòa Bình (ESA WorldCover class codes; synthetic).

The twin's ``landcover.tif`` gives every receiver a terminal clutter class (ITU-R P.2108 §3.1
through :mod:`phusong.coverage.clutter`). It is made on the DEM's grid (90 m, WORK_CRS) from the
generated terrain and villages, so the clutter a receiver sees is consistent with where it
stands:

- **80 water**: the Hòa Bình reservoir — the Đà valley upstream of the dam (105.323 E,
  20.812 N), flooded from just above the dam to :data:`RESERVOIR_LEVEL_M` on the generated DEM
  (connected to the dam, west of it), kept :data:`SHORE_M` away from every village (the twin's
  villages stand on valley floors; none is drowned). Absent when the dam is outside the DEM
  (a district subset without TP Hòa Bình).
- **50 built-up**: a disc round every village, radius ``25 m × √households`` capped at 600 m
  (≈ 300 m for a 150-household village), for villages of wards and townships
  (phường, thị trấn), commune centres and villages of ≥ :data:`BUILT_MIN_HOUSEHOLDS`
  households; smaller hamlets stand among their fields (cropland).
- **40 cropland**: valley floors and foot-slopes — slope under 6° — and a 300 m ring round
  every village (paddies and gardens).
- **10 tree cover**: slopes over 15°, and above 700 m whatever the slope (Hòa Bình is about half
  forest); between 6° and 15°, tree cover or **20 shrubland** by a seeded smooth noise field
  (patches of a few km: regrowth and swidden).

Every rule is vectorised numpy/scipy.ndimage on the DEM grid and deterministic for a seed.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from phusong import settings
from phusong.bundle import Raster
from phusong.crs import transform_points
from phusong.errors import DataError

__all__ = ["make_landcover", "landcover_shares", "RESERVOIR_LEVEL_M", "DAM_LONLAT", "SHORE_M",
           "BUILT_MIN_HOUSEHOLDS"]

#: The Hòa Bình dam (lon, lat): the reservoir lies upstream (west) of it.
DAM_LONLAT = (105.323, 20.812)
#: Water level of the twin's reservoir on the generated DEM, m. The real reservoir's normal
#: level is 117 m, but the generated Đà valley is not the real one: at 100 m the flooded valley
#: reaches ≈ 15 km upstream (≈ 59 km² before the shore rule), the shape of a narrow reservoir.
RESERVOIR_LEVEL_M = 100.0
#: No water within this distance of a village, m.
SHORE_M = 250.0
#: Rural villages at least this big get a built-up core, households.
BUILT_MIN_HOUSEHOLDS = 300
_URBAN = ("phư", "thị")
_CROP_SLOPE_DEG, _TREE_SLOPE_DEG, _TREE_ABOVE_M = 6.0, 15.0, 700.0
_RING_M, _BUILT_K_M, _BUILT_MAX_M = 300.0, 25.0, 600.0


def make_landcover(communes, villages, dem: Raster, *, seed: int = 0) -> Raster:
    """Land cover on the DEM's grid (module documentation).

    Parameters
    ----------
    communes : GeoDataFrame
        Schema ``communes`` (``type`` marks wards and townships).
    villages : GeoDataFrame
        Schema ``villages`` (``households``, ``is_centre``).
    dem : Raster
        Elevation in WORK_CRS, m.
    seed : int
        Seed of the shrub/forest noise.

    Returns
    -------
    Raster
        float32 WorldCover codes (10, 20, 40, 50, 80), NaN where the DEM is void; unit
        ``"class"``; WORK_CRS, the DEM's transform.

    Examples
    --------
    >>> import numpy as np, geopandas as gpd, shapely
    >>> from affine import Affine
    >>> from phusong.bundle import Raster
    >>> z = np.tile(np.linspace(0.0, 3000.0, 40), (40, 1)).astype("float32")  # a steep slope
    >>> dem = Raster(z, Affine(90.0, 0, 500000.0, 0, -90.0, 2300000.0), "EPSG:32648", "m")
    >>> v = gpd.GeoDataFrame({"village_id": ["a"], "commune_code": ["1"], "households": [10],
    ...                       "population": [40], "is_centre": [False]},
    ...                      geometry=[shapely.Point(105.015, 20.79)], crs="EPSG:4326")
    >>> lc = make_landcover(None, v, dem)
    >>> sorted(np.unique(lc.array).tolist())
    [10.0, 40.0]
    """
    if dem.crs.upper() != settings.WORK_CRS:
        raise DataError(f"dem: in {dem.crs}; the twin's land cover needs a {settings.WORK_CRS} DEM")
    z = np.asarray(dem.array, float)
    finite = np.isfinite(z)
    px = float(abs(dem.transform.a))
    x0, y0 = float(dem.transform.c), float(dem.transform.f)
    zf = np.where(finite, z, np.nanmean(z) if finite.any() else 0.0)
    gy, gx = np.gradient(zf, px, px)
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    rng = np.random.default_rng([seed, 17])
    f = 8  # smooth noise made on a grid 8× coarser, then interpolated: patches of a few km
    coarse = rng.standard_normal((z.shape[0] // f + 2, z.shape[1] // f + 2))
    coarse = ndimage.gaussian_filter(coarse, sigma=1500.0 / px / f)
    noise = ndimage.zoom(coarse, f, order=1)[: z.shape[0], : z.shape[1]]
    lc = np.where(slope < _CROP_SLOPE_DEG, 40.0, np.where(noise > 0.0, 10.0, 20.0))
    lc[(slope > _TREE_SLOPE_DEG) | (z > _TREE_ABOVE_M)] = 10.0
    vx, vy = transform_points(villages.geometry.x, villages.geometry.y,
                              villages.crs.to_string(), settings.WORK_CRS)
    col = np.floor((np.asarray(vx) - x0) / px).astype(np.int64)
    row = np.floor((y0 - np.asarray(vy)) / px).astype(np.int64)
    inside = (row >= 0) & (row < z.shape[0]) & (col >= 0) & (col < z.shape[1])
    near = _within(z.shape, row[inside], col[inside], np.full(inside.sum(), _RING_M), px)
    lc[near] = 40.0
    hh = villages["households"].to_numpy(float) if "households" in villages else np.zeros(len(vx))
    built = hh >= BUILT_MIN_HOUSEHOLDS
    if "is_centre" in villages:
        built |= villages["is_centre"].fillna(False).to_numpy(bool)
    if communes is not None and "type" in communes and "commune_code" in villages:
        kind = communes.set_index("commune_code")["type"].astype(str).str.lower()
        urban = villages["commune_code"].map(kind).fillna("").str.startswith(_URBAN)
        built |= urban.to_numpy(bool)
    radius = np.minimum(_BUILT_K_M * np.sqrt(np.maximum(hh, 1.0)), _BUILT_MAX_M)
    pick = inside & built
    lc[_within(z.shape, row[pick], col[pick], radius[pick], px)] = 50.0
    lc[_reservoir(zf, finite, x0, y0, px, _within(z.shape, row[inside], col[inside],
                                                  np.full(inside.sum(), SHORE_M), px))] = 80.0
    lc[~finite] = np.nan
    return Raster(lc.astype(np.float32), dem.transform, dem.crs, "class")


def landcover_shares(landcover: Raster) -> dict[int, float]:
    """Share of the valid pixels per class code (0–1)."""
    a = np.asarray(landcover.array, float)
    vals, counts = np.unique(a[np.isfinite(a)], return_counts=True)
    total = max(int(counts.sum()), 1)
    return {int(v): float(c / total) for v, c in zip(vals, counts, strict=True)}


def _within(shape, rows, cols, radius_m, px) -> np.ndarray:
    """Pixels whose centre lies within its nearest village's ``radius_m`` (Euclidean distance
    transform: one pass whatever the number of villages)."""
    if not len(rows):
        return np.zeros(shape, bool)
    rad = np.zeros(shape)
    np.maximum.at(rad, (rows, cols), np.asarray(radius_m, float))
    seeds = np.zeros(shape, bool)
    seeds[rows, cols] = True
    dist, (ir, ic) = ndimage.distance_transform_edt(~seeds, sampling=px, return_indices=True)
    return dist <= rad[ir, ic]


def _reservoir(zf, finite, x0, y0, px, shore) -> np.ndarray:
    """The flooded valley upstream of the dam (module documentation); all False without it."""
    rows, cols = zf.shape
    dx, dy = transform_points([DAM_LONLAT[0]], [DAM_LONLAT[1]], settings.STORE_CRS,
                              settings.WORK_CRS)
    dc, dr = int((dx[0] - x0) / px), int((y0 - dy[0]) / px)
    none = np.zeros(zf.shape, bool)
    if not (0 <= dr < rows and 0 <= dc < cols):
        return none
    upstream = np.zeros(zf.shape, bool)
    upstream[:, :dc] = True
    wet = (zf <= RESERVOIR_LEVEL_M) & finite & upstream
    # the seed: the lowest upstream pixel within 3 km of the dam
    k = int(np.ceil(3000.0 / px))
    r0, r1, c0, c1 = max(dr - k, 0), min(dr + k + 1, rows), max(dc - k, 0), dc
    if c1 <= c0:
        return none
    win = np.where(wet[r0:r1, c0:c1], zf[r0:r1, c0:c1], np.inf)
    if not np.isfinite(win).any():
        return none
    sr, sc = np.unravel_index(int(np.argmin(win)), win.shape)
    lab, _ = ndimage.label(wet)
    seed_label = lab[r0 + sr, c0 + sc]
    water = (lab == seed_label) & ~shore
    lab2, _ = ndimage.label(water)  # the shore rule may cut the lake: keep the dam's part
    if lab2[r0 + sr, c0 + sc]:
        return lab2 == lab2[r0 + sr, c0 + sc]
    sizes = np.bincount(lab2.ravel())
    sizes[0] = 0
    return lab2 == int(np.argmax(sizes)) if sizes.max() else none
