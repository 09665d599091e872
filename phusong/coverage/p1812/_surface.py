"""P.1812's clutter heights and radio-climatic zones from the bundle's land cover, per point.

ITU-R P.1812-6 §3.2 adds a representative clutter height R to every intermediate profile point
(``g_i = h_i + R_i``; the two terminals stay at ground) and its Table 2 gives default heights
per clutter category: water/sea 0 m, open/rural 0 m, suburban 10 m, urban/trees/forest 15 m,
dense urban 20 m. ESA WorldCover classes map to those categories as
:data:`WORLDCOVER_P1812` (the same reading of the classes as the P.2108 table of
:mod:`phusong.coverage.clutter`: tree cover and mangroves are "trees/forest", built-up land is
"suburban", the right class for Hòa Bình's towns; everything low is "open/rural").

Zones (Table 3): zone 1 (sea, B) is "seas, oceans and other large bodies of water (i.e.
covering a circle of at least 100 km in diameter)": a connected body of WorldCover
"permanent water" (8-connected pixels) is sea when its area reaches
``settings.P1812.sea_min_area_km2`` (π·50² ≈ 7,854 km²), else it is inland water (zone 4; R
0 m). Zone 3 (coastal land, A1) is land within 50 km of sea and at most 100 m above mean sea
level (ground from the DEM at the pixel centre; a pixel off the DEM is inland). Everything
else is inland (zone 4, A2). A pixel without land-cover data, or a point off the raster,
takes ``settings.P1812.zone`` and ``clutter_height_m``.

Each profile point takes the pixel it falls in (nearest, as the P.2108 lookup does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from phusong.coverage.clutter import WORLDCOVER_CODES

__all__ = ["P1812_CLUTTER_HEIGHTS_M", "WORLDCOVER_P1812", "Surface", "surface_from_clutter",
           "surface_along_rays", "surface_along_paths", "uniform_rays", "engine_surfaces",
           "surface_report"]

#: P.1812-6 §3.2 Table 2: default representative clutter height R per category, m.
P1812_CLUTTER_HEIGHTS_M = {"water/sea": 0.0, "open/rural": 0.0, "suburban": 10.0,
                           "urban/trees/forest": 15.0, "dense urban": 20.0}
#: ESA WorldCover code → P.1812 clutter category (Table 2).
WORLDCOVER_P1812 = {10: "urban/trees/forest", 20: "open/rural", 30: "open/rural",
                    40: "open/rural", 50: "suburban", 60: "open/rural", 70: "open/rural",
                    80: "water/sea", 90: "open/rural", 95: "urban/trees/forest",
                    100: "open/rural"}
_WATER = WORLDCOVER_CODES.index(80)
_JIT = {"cache": True, "nogil": True}


@dataclass(frozen=True, eq=False)
class Surface:
    """R (m, NaN = no data) and zone (0 = no data) per land-cover pixel, WORK_CRS north-up.

    Attributes
    ----------
    clutter_m : ndarray
        float64 representative clutter height per pixel, m.
    zone : ndarray
        int8 radio-climatic zone per pixel: 1 sea, 3 coastal land, 4 inland, 0 no data.
    x0_m, y0_m, px_m, py_m : float
        Top-left corner and pixel sizes, m.
    default_clutter_m : float
        R where there is no data, m.
    default_zone : int
        Zone where there is no data.
    counts : dict
        Pixels per zone (``sea``, ``coastal``, ``inland``, ``no_data``) for the report.
    """

    clutter_m: np.ndarray
    zone: np.ndarray
    x0_m: float
    y0_m: float
    px_m: float
    py_m: float
    default_clutter_m: float
    default_zone: int
    counts: dict

    def grid(self) -> np.ndarray:
        """(x0, y0, px, py, default R, default zone) as floats for the kernels."""
        return np.array([self.x0_m, self.y0_m, self.px_m, self.py_m, self.default_clutter_m,
                         float(self.default_zone)])


def surface_from_clutter(cmap, terrain, params) -> Surface:
    """Build the :class:`Surface` of a land-cover map (:class:`~phusong.coverage.clutter.
    ClutterMap`, classes in WORK_CRS) with the DEM ``terrain`` for the coastal-land rule."""
    from scipy import ndimage

    index = cmap.index
    heights = np.full(len(WORLDCOVER_CODES) + 1, np.nan)
    for k, code in enumerate(WORLDCOVER_CODES):
        heights[k] = P1812_CLUTTER_HEIGHTS_M[WORLDCOVER_P1812[code]]
    clutter = heights[index.astype(np.int64)]
    valid = index != len(WORLDCOVER_CODES)
    zone = np.where(valid, 4, 0).astype(np.int8)
    water = index == _WATER
    sea = np.zeros(index.shape, bool)
    if water.any():
        labels, n = ndimage.label(water, structure=np.ones((3, 3), bool))
        area_km2 = np.bincount(labels.ravel(), minlength=n + 1) * (cmap.px_m * cmap.py_m
                                                                    / 1e6)
        big = area_km2 >= float(params.sea_min_area_km2)
        big[0] = False
        sea = big[labels]
    if sea.any():
        zone[sea] = 1
        dist_m = ndimage.distance_transform_edt(~sea, sampling=(cmap.py_m, cmap.px_m))
        near = valid & ~sea & (dist_m <= 1000.0 * float(params.coastal_km))
        rr, cc = np.nonzero(near)
        ground = _ground_at(terrain, cmap.x0_m + (cc + 0.5) * cmap.px_m,
                            cmap.y0_m - (rr + 0.5) * cmap.py_m)
        low = ground <= float(params.coastal_height_m)  # NaN (off the DEM): inland
        zone[rr[low], cc[low]] = 3
    counts = {"sea": int((zone == 1).sum()), "coastal": int((zone == 3).sum()),
              "inland": int((zone == 4).sum()), "no_data": int((zone == 0).sum())}
    return Surface(clutter, zone, float(cmap.x0_m), float(cmap.y0_m), float(cmap.px_m),
                   float(cmap.py_m), float(params.clutter_height_m), int(params.zone), counts)


def _ground_at(terrain, x, y) -> np.ndarray:
    """DEM height at points (nearest pixel), NaN off the DEM."""
    rows, cols = terrain.z.shape
    c = np.floor((x - terrain.x0_m) / terrain.px_m)
    r = np.floor((terrain.y0_m - y) / terrain.py_m)
    ok = (c >= 0) & (c < cols) & (r >= 0) & (r < rows)
    out = np.full(len(x), np.nan)
    out[ok] = terrain.z[r[ok].astype(np.int64), c[ok].astype(np.int64)]
    return out


@njit(**_JIT)
def _lookup(clutter, zone, grid, x, y):
    """(R, zone) of the pixel at ``(x, y)`` (defaults off the raster or without data)."""
    c = math.floor((x - grid[0]) / grid[2])
    r = math.floor((grid[1] - y) / grid[3])
    if 0 <= r < zone.shape[0] and 0 <= c < zone.shape[1]:
        zz = zone[int(r), int(c)]
        if zz != 0:
            return clutter[int(r), int(c)], np.int64(zz)
    return grid[4], np.int64(grid[5])


@njit(parallel=True, **_JIT)
def surface_along_rays(clutter, zone, grid, sx, sy, step, n_rays, n_s, last):
    """(R, zone) of every ray sample (rays as :func:`phusong.coverage._raster_kernels.
    sample_rays`: bearing ``2πk/n_rays``, ``x = sin``, every ``step`` m), up to ``last[k]``."""
    r_out = np.zeros((n_rays, n_s))
    z_out = np.full((n_rays, n_s), 4, np.int64)
    for k in prange(n_rays):
        ang = k * (2.0 * math.pi / n_rays)
        s, c = math.sin(ang), math.cos(ang)
        for j in range(min(last[k], n_s - 1) + 1):
            rr = j * step
            r_out[k, j], z_out[k, j] = _lookup(clutter, zone, grid, sx + s * rr, sy + c * rr)
    return r_out, z_out


@njit(**_JIT)
def surface_along_paths(clutter, zone, grid, tx_x, tx_y, dx, dy, start, count, total):
    """Flat (R, zone) of every profile point of straight paths: point ``i`` of path ``k`` at
    ``tx + (dx, dy) · i / (count − 1)`` (as :func:`phusong.coverage._terrain.pair_profiles`)."""
    r_out = np.zeros(total)
    z_out = np.full(total, 4, np.int64)
    for k in range(start.shape[0]):
        n = count[k]
        for i in range(n):
            t = i / (n - 1.0)
            r_out[start[k] + i], z_out[start[k] + i] = _lookup(
                clutter, zone, grid, tx_x[k] + dx[k] * t, tx_y[k] + dy[k] * t)
    return r_out, z_out


def uniform_rays(n_rays: int, n_s: int, params) -> tuple[np.ndarray, np.ndarray]:
    """(R, zone) arrays of rays without land cover: the settings' defaults everywhere."""
    return (np.full((n_rays, n_s), float(params.clutter_height_m)),
            np.full((n_rays, n_s), int(params.zone), np.int64))


def engine_surfaces(model: str, cmap, terrain, params):
    """(P.2108 clutter map, P.1812 surface) of a run from the bundle's land cover ``cmap``.

    With ``--model p1812`` the land cover feeds P.1812's own clutter heights and zones
    (§3.2: clutter around the receiver enters the profile, so P.2108's terminal correction
    would count it twice) and P.2108 is not applied; other models keep P.2108.
    """
    if model != "p1812" or cmap is None:
        return cmap, None
    return None, surface_from_clutter(cmap, terrain, params)


def surface_report(surface, params) -> dict:
    """What ``coverage.json`` says about P.1812's clutter heights, zones and ΔN/N0."""
    maps = getattr(params, "maps", None)
    refr = ({"delta_n_n0": f"ITU digital maps from {maps.source}, bilinear at each path centre "
             "(at the site along rays)"} if maps is not None else
            {"delta_n_n0": "settings", "delta_n": float(params.delta_n), "n0": float(params.n0)})
    sig = params.sigma_l_db
    base = {"time_pct": float(params.time_pct), "polarization": str(params.polarization),
            "sigma_l_db": "eq. (68) per receiver" if sig is None else float(sig), **refr}
    if surface is None:
        return {**base, "clutter_zones": "settings defaults (no land cover: no landcover.tif, "
                "--no-clutter, or coverage site without --landcover)",
                "clutter_height_m": float(params.clutter_height_m), "zone": int(params.zone)}
    return {**base, "clutter_zones": "land cover (landcover.tif or --landcover) per profile point "
            "(P.1812 Table 2 heights, "
            "Table 3 zones)", "zone_pixels": dict(surface.counts),
            "default_clutter_height_m": surface.default_clutter_m,
            "default_zone": surface.default_zone}
