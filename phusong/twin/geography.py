"""Generated commune boundaries of Hòa Bình from facts only (synthetic; DESIGN §3).

The real boundaries of the 151 units are not shipped. They are generated, deterministically for
a seed, from the project's commune facts (:func:`phusong.communes.commune_facts`): centroids,
geocoded bounding boxes, areas and district membership — nothing fitted to real polygons.

Method (details in :mod:`phusong.twin._geo_partition`):

1. each commune gets a normalised distance: distance from its centroid divided, per side, by
   its extent (its geocoded box when the area can fill it, else a square of its area);
2. the province outline is the smoothed union of the communes' inscribed ellipses, grown or
   shrunk until its area equals the sum of the area facts (≈ 4,571 km²);
3. the outline is split by an additively weighted Voronoi diagram in that metric, whose weights
   are iterated (dual ascent) until each commune's area approaches its fact; a trusted box is a
   hard limit; each commune keeps a disc around its centroid and only the piece holding it, so
   the centroid lies inside its polygon and every polygon is in one piece;
4. four geocoded centroids contradict the other facts (a Lạc Thủy unit geocoded in Hòa Bình
   city, two Mai Châu units sharing one point, units far from their 2025 unit's centre —
   :func:`phusong.twin._geo_seeds.implausible_centroids`): their seeds are moved into the
   largest empty space of the zone the facts give them;
5. a seeded smooth warp makes boundaries meander (a different seed moves them);
6. the raster partition (150 m cells) is vectorised and simplified as a coverage, so that
   neighbours share edges exactly: no gaps, no overlaps.

Examples
--------
>>> from phusong.twin.geography import make_communes
>>> communes = make_communes(seed=0)          # doctest: +SKIP
>>> len(communes), communes.crs.to_string()   # doctest: +SKIP
(151, 'EPSG:4326')
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from rasterio import features
from shapely.geometry import MultiPolygon, Polygon, shape

from phusong import settings
from phusong.communes import commune_facts
from phusong.errors import DataError
from phusong.schema import check_layer
from phusong.twin._geo_grid import commune_extents
from phusong.twin._geo_partition import make_grid, make_warp, partition, province_mask

__all__ = ["RESOLUTION_M", "make_province_outline", "make_communes"]

#: Cell size of the raster partition, m (the smallest unit, Phường Đồng Tiến, 2.45 km², is
#: about 110 cells).
RESOLUTION_M = 150.0
#: Simplification tolerance of the vectorised boundaries, m (removes the raster staircase).
_SIMPLIFY_M = 0.8 * RESOLUTION_M
#: Weight iterations at the coarse and the fine resolution.
_ITER_COARSE = 60
_ITER_FINE = 6

_COLUMNS = ["commune_code", "name", "type", "district_code", "district_name", "population",
            "households"]


def _setup(facts: pd.DataFrame, seed: int, res_m: float):
    ext = commune_extents(facts)
    rng = np.random.default_rng(seed)
    grid = make_grid(ext, res_m)
    warp = make_warp(ext, grid, rng)
    return ext, grid, warp


def _vectorise_mask(mask: np.ndarray, grid) -> Polygon | MultiPolygon:
    polys = [shape(g) for g, v in features.shapes(mask.astype(np.uint8), mask=mask,
                                                  connectivity=4) if v]
    merged = shapely.union_all(polys)
    parts = [Polygon(p.exterior) for p in getattr(merged, "geoms", [merged])]
    outline = shapely.union_all(parts).simplify(_SIMPLIFY_M / grid.res_m)
    scale = np.array([grid.res_m, -grid.res_m])
    origin = np.array([grid.x0_m, grid.y0_m])
    return shapely.transform(outline, lambda xy: xy * scale + origin)


def make_province_outline(facts: pd.DataFrame, *, seed: int = 0) -> Polygon | MultiPolygon:
    """Generated outline of the province, area equal to the sum of the area facts.

    Parameters
    ----------
    facts : DataFrame
        Commune facts as :func:`phusong.communes.commune_facts` (``area_km2``, ``lon``, ``lat``,
        ``bbox_*``, ``district_code``).
    seed : int
        Seed of the boundary warp; same seed → identical outline.

    Returns
    -------
    shapely.geometry.Polygon
        Outline in EPSG:4326 (lon, lat degrees), without holes, simplified to ≈ 120 m (a
        MultiPolygon when ``facts`` is a subset of districts that do not touch).
    """
    ext, grid, warp = _setup(facts, seed, RESOLUTION_M)
    mask = province_mask(ext, grid, warp)
    outline = _vectorise_mask(mask, grid)
    return gpd.GeoSeries([outline], crs=settings.WORK_CRS).to_crs(settings.STORE_CRS).iloc[0]


def make_communes(*, seed: int = 0, facts: pd.DataFrame | None = None) -> gpd.GeoDataFrame:
    """The 151 communes with generated boundaries (synthetic geometry, real facts).

    Parameters
    ----------
    seed : int
        Seed of the boundary warp; same seed → identical geometry, another seed → different
        boundaries with the same areas.
    facts : DataFrame, optional
        Commune facts; default :func:`phusong.communes.commune_facts`.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, schema layer ``communes`` (``commune_code``, ``name``, ``type``,
        ``district_code``, ``district_name``, ``population``, ``households``) plus
        ``area_km2_fact`` (km², the area fact the polygon was sized to), ordered as the facts.
        Polygons are valid and form a clean coverage (no gaps, no overlaps).
    """
    facts = commune_facts() if facts is None else facts
    missing = [c for c in _COLUMNS if c not in facts.columns]
    if missing:
        raise DataError(f"commune facts: missing column(s) {missing}; use commune_facts()")
    ext, grid, warp = _setup(facts, seed, RESOLUTION_M)
    mask = province_mask(ext, grid, warp)
    # Iterate the weights cheaply on a grid twice as coarse, then refine at full resolution.
    coarse_mask = mask[: mask.shape[0] // 2 * 2, : mask.shape[1] // 2 * 2]
    coarse_mask = coarse_mask.reshape(mask.shape[0] // 2, 2, mask.shape[1] // 2, 2).mean((1, 3))
    coarse = type(grid)(grid.x0_m, grid.y0_m, grid.res_m * 2, *coarse_mask.shape)
    cwarp = tuple(w[: coarse.ny * 2 : 2, : coarse.nx * 2 : 2] for w in warp)
    _, w = partition(ext, coarse, cwarp, coarse_mask >= 0.5, iterations=_ITER_COARSE)
    lab, _ = partition(ext, grid, warp, mask, iterations=_ITER_FINE, weights=w, step=0.05)
    geoms = _vectorise_labels(lab, grid, len(facts))
    out = gpd.GeoDataFrame(
        facts[_COLUMNS].reset_index(drop=True).assign(
            area_km2_fact=facts["area_km2"].to_numpy(dtype=float)),
        geometry=gpd.GeoSeries(geoms, crs=settings.WORK_CRS).to_crs(settings.STORE_CRS).values,
        crs=settings.STORE_CRS,
    )
    return check_layer(out, "communes")


def _vectorise_labels(lab: np.ndarray, grid, n: int) -> list:
    # Vectorise in pixel units (exact integers, so neighbours share vertices bit for bit),
    # simplify as a coverage, then scale every vertex by the same affine map.
    parts: list[list] = [[] for _ in range(n)]
    for g, v in features.shapes(lab.astype(np.int32), mask=lab >= 0, connectivity=4):
        parts[int(v)].append(shape(g))
    raw = np.array([shapely.union_all(p) if len(p) > 1 else p[0] for p in parts], dtype=object)
    # A straight edge has no vertex where two neighbours meet along it (a T-junction): add one
    # at every pixel corner so that the polygons form a valid coverage.
    raw = shapely.segmentize(raw, 1.0)
    simple = shapely.coverage_simplify(raw, _SIMPLIFY_M / grid.res_m)
    ok = shapely.is_valid(simple) & ~shapely.is_empty(simple)
    if not ok.all() or not shapely.coverage_is_valid(simple):
        simple = raw
    scale = np.array([grid.res_m, -grid.res_m])
    origin = np.array([grid.x0_m, grid.y0_m])
    return list(shapely.transform(simple, lambda xy: xy * scale + origin))
