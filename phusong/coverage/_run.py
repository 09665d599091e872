"""End-to-end runs: a bundle (tables + GeoTIFFs) and a single site on any DEM."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from phusong import settings
from phusong.coverage._engine import (
    ITM_PROFILE_CAP,
    SCREEN_MARGIN_DB,
    EngineOptions,
    TxSet,
)
from phusong.coverage._link import transmitters
from phusong.coverage._raster import grid_over, on_dem, raster_links, warn_itm_bits
from phusong.coverage._score import _groups, score_points
from phusong.coverage._terrain import crop_dem, prepare_terrain
from phusong.coverage._tiles import local_tiles, tile_side, write_coverage_rasters
from phusong.crs import transform_points
from phusong.errors import DataError
from phusong.io.atomic import atomic_dir, atomic_path

__all__ = ["predict_site", "run_bundle", "aggregate_communes", "write_grid", "write_site_tif"]


def write_grid(path: Path, array: np.ndarray, transform, *, nodata, unit: str = "") -> None:
    """Write a single-band GeoTIFF in WORK_CRS (deflate)."""
    import rasterio

    with rasterio.open(path, "w", driver="GTiff", height=array.shape[0], width=array.shape[1],
                       count=1, dtype=array.dtype, crs=settings.WORK_CRS, transform=transform,
                       nodata=nodata, compress="deflate") as dst:
        dst.write(array, 1)
        if unit:
            dst.update_tags(1, unit=unit)


def predict_site(dem, lon: float, lat: float, *, height_m: float, freq_mhz: float,
                 eirp_dbm: float, radius_km: float, resolution_m: float,
                 model: str = settings.DEFAULT_MODEL, diffraction: str = "bullington",
                 rx_height_m: float = settings.RADIO.rx_height_m, threads: int = 1,
                 itm_profile_cap: int | None = ITM_PROFILE_CAP):
    """Received power around one omni transmitter on any DEM.

    Parameters
    ----------
    dem : phusong.bundle.Raster
        Elevation, any CRS.
    lon, lat : float
        Site position, degrees (EPSG:4326).
    height_m, freq_mhz, eirp_dbm, radius_km, resolution_m : float
        Antenna height above ground, frequency, EIRP, radius and grid cell size.
    model, diffraction, rx_height_m, threads, itm_profile_cap
        As :class:`EngineOptions`.

    Returns
    -------
    (ndarray, Affine, dict)
        rx_dbm grid (float32, NaN outside the disk or DEM) in WORK_CRS, its transform, and a
        report: receivers evaluated, seconds, path-loss statistics (dB).
    """
    from shapely.geometry import Point

    if not (radius_km > 0 and resolution_m > 0 and freq_mhz > 0 and height_m > 0):
        raise DataError("radius, resolution, frequency and height must be positive")
    t0 = time.perf_counter()
    x, y = transform_points([lon], [lat], settings.STORE_CRS, settings.WORK_CRS)
    # only the part of the DEM under the disk is reprojected (a whole SRTM tile is 1201²)
    terrain = prepare_terrain(crop_dem(dem, float(x[0]), float(y[0]), radius_km * 1000.0))
    if not terrain.inside(x, y)[0]:
        raise DataError(f"site ({lon}, {lat}) is outside the DEM; use a DEM that covers it")
    opts = EngineOptions(model=model, diffraction=diffraction, rx_height_m=rx_height_m,
                         threads=threads, itm_profile_cap=itm_profile_cap).check()
    r_m = radius_km * 1000.0
    one = np.array([0])
    txs = TxSet(x, y, np.array([height_m]), np.array([r_m]), np.array([0, 1]), one, one,
                np.array([freq_mhz], float), np.array([eirp_dbm], float), np.zeros(1),
                np.array([np.nan]), np.array([np.nan]), np.array([r_m]), np.array([True]))
    disk = grid_over(Point(x[0], y[0]).buffer(r_m, 256), resolution_m)
    grid = on_dem(disk, terrain)
    best, _, stats = raster_links(txs, np.zeros(1, np.int64), 1, terrain, grid, opts)
    rx = best[0]
    rx[~np.isfinite(rx)] = np.nan
    loss = eirp_dbm - rx[np.isfinite(rx)]
    q = (np.percentile(loss, [0, 5, 50, 95, 100]) if loss.size else [np.nan] * 5)
    report = {
        "receivers_evaluated": int(np.isfinite(rx).sum()),
        "receivers_outside_dem": int(disk.mask.sum() - grid.mask.sum()),
        "ray_points": stats["ray_points"],
        "seconds": round(time.perf_counter() - t0, 3),
        "threads": int(threads),
        "model": model,
        "diffraction": diffraction if model != "itm" else None,
        "resolution_m": resolution_m,
        "radius_km": radius_km,
        "path_loss_db": {"min": q[0], "p05": q[1], "median": q[2], "p95": q[3], "max": q[4],
                         "mean": float(loss.mean()) if loss.size else None},
    }
    return rx.astype(np.float32), grid.transform, report


def aggregate_communes(villages, scores: pd.DataFrame, techs) -> pd.DataFrame:
    """Villages, households and population covered per commune, tech, operator and any.

    Columns: commune_code, villages, households, population, then for each tech (and each
    ``{tech}_{operator}``, and ``any``): ``*_villages``, ``*_households``, ``*_population``
    covered, and ``*_households_pct`` / ``*_population_pct`` (percent of the commune).
    """
    base = pd.DataFrame({"commune_code": villages["commune_code"].to_numpy(),
                         "households": villages["households"].to_numpy(float),
                         "population": villages["population"].to_numpy(float)})
    keys = {f"{t}": f"covered_{t}" for t in techs}
    keys |= {f"{t}_{o}": f"covered_{t}_{o}" for t in techs for o in settings.OPERATORS}
    keys["any"] = "covered_any"
    cols = {"villages": np.ones(len(base))}
    for k, col in keys.items():
        cov = scores[col].to_numpy(bool)
        cols[f"{k}_villages"] = cov.astype(float)
        cols[f"{k}_households"] = np.where(cov, base["households"], 0.0)
        cols[f"{k}_population"] = np.where(cov, base["population"], 0.0)
    frame = pd.concat([base, pd.DataFrame(cols)], axis=1)
    agg = frame.groupby("commune_code", sort=True).sum().reset_index()
    for k in keys:
        for what in ("households", "population"):
            agg[f"{k}_{what}_pct"] = np.where(agg[what] > 0,
                                              100.0 * agg[f"{k}_{what}"] / agg[what], 0.0)
    for c in agg.columns:
        if c.endswith(("_villages", "households", "population")) or c == "villages":
            agg[c] = agg[c].round().astype("int64")
    return agg


def run_bundle(bundle, out_dir, *, model: str = settings.DEFAULT_MODEL,
               diffraction: str = "bullington", resolution_m: float | None = 100.0,
               threads: int = 1, overwrite: bool = False, progress=None,
               itm_profile_cap: int | None = ITM_PROFILE_CAP,
               scores: pd.DataFrame | None = None,
               screen_margin_db: float | None = SCREEN_MARGIN_DB, executor=None,
               tile_cells: int | None = None) -> dict:
    """Score villages, aggregate communes and write coverage rasters of a bundle.

    ``scores``, the :func:`score_villages` result of the same bundle and model, saves scoring
    the villages again (the demo scores them once for gaps, plan and this run).
    ``screen_margin_db`` is the raster's screening margin (:class:`EngineOptions`; 0 or None
    computes every site at every cell); villages are always scored on every pair.
    ``executor``, a :class:`phusong.coverage.DaskExecutor`, runs villages and raster on
    dask.distributed (site batches × receiver tiles); the files are byte-identical to the
    local run's (``coverage.json`` aside: it reports the executor, seconds and memory).
    ``tile_cells`` overrides the receiver tile side (a multiple of 256 cells; default
    :func:`tile_side`'s rule); the files do not depend on it.

    Writes into ``out_dir`` (atomically): ``villages.csv``, ``communes.csv``,
    ``best_dbm_{tech}.tif`` (best over operators), ``serving_site_{tech}.tif`` (index into
    ``sites.csv``, −1 none), ``operators_{tech}.tif`` (operators covering) as tiled
    Cloud-Optimised GeoTIFFs (:mod:`._tiles`), ``sites.csv`` and
    ``coverage.json`` (the returned report). No rasters when ``resolution_m`` is None.
    """
    t0 = time.perf_counter()
    terrain = prepare_terrain(bundle.dem)
    tx = transmitters(bundle, terrain=terrain)
    techs = [t for t in settings.TECHS if (tx["tech"] == t).any()]
    opts = EngineOptions(model=model, diffraction=diffraction, threads=threads,
                         itm_profile_cap=itm_profile_cap,
                         screen_margin_db=screen_margin_db).check()
    villages = bundle.villages
    if villages is None or len(villages) == 0:
        raise DataError("villages: the bundle has no villages to score")
    vx, vy = transform_points(villages.geometry.x, villages.geometry.y, villages.crs.to_string(),
                              settings.WORK_CRS)
    if scores is None:
        scores = score_points(tx, vx, vy, terrain, techs=techs, opts=opts, executor=executor)
        scores.index = pd.Index(villages["village_id"].to_numpy(), name="village_id")
    elif not scores.index.equals(pd.Index(villages["village_id"].to_numpy())):
        raise DataError("coverage: the village scores given do not match the bundle's villages; "
                        "score this bundle with score_villages")
    communes = aggregate_communes(villages, scores, techs)
    report = {"model": model, "diffraction": diffraction, "techs": techs,
              "threads": int(threads),
              "cells": int(len(tx)), "sites": int(tx["site_id"].nunique()),
              "villages": scores.attrs["stats"],
              "villages_covered_any": int(scores["covered_any"].sum())}
    with atomic_dir(Path(out_dir), overwrite=overwrite) as tmp:
        scores.to_csv(tmp / "villages.csv")
        communes.to_csv(tmp / "communes.csv", index=False)
        if resolution_m:
            t1 = time.perf_counter()
            site_ids, site_code = np.unique(tx["site_id"].to_numpy(), return_inverse=True)
            pd.DataFrame({"index": np.arange(len(site_ids)), "site_id": site_ids}).to_csv(
                tmp / "sites.csv", index=False)
            poly = bundle.communes.to_crs(settings.WORK_CRS).union_all()
            grid = grid_over(poly, float(resolution_m), terrain)
            txs = TxSet.from_frame(tx, terrain, opts)
            g, pairs = _groups(tx)
            side = tile_cells or tile_side(len(pairs))
            if side % 256:
                raise DataError(f"tile side {side} cells: use a multiple of 256")
            kw = {"techs": techs, "pairs": pairs, "site_code": site_code,
                  "thresholds_dbm": settings.THRESHOLDS_DBM}
            if executor is None:
                best, arg, rstats = raster_links(txs, g, len(pairs), terrain, grid, opts,
                                                 progress)
                tiles = local_tiles(best, arg, grid.mask, side, **kw)
            else:
                from phusong.coverage._dask_raster import dask_raster_tiles

                rstats = {}
                tiles = dask_raster_tiles(executor, txs, g, len(pairs), terrain, grid, opts,
                                          side, rstats, **kw)
            report["raster_covered_pct"] = write_coverage_rasters(
                tmp, grid.shape, grid.transform, techs, tiles)
            if executor is not None:
                warn_itm_bits(rstats.pop("itm_bits"))
            report["raster"] = rstats | {"resolution_m": float(resolution_m),
                                         "shape": list(grid.shape),
                                         "seconds": round(time.perf_counter() - t1, 3)}
        if executor is not None:
            report["executor"] = executor.describe()
        report["seconds"] = round(time.perf_counter() - t0, 3)
        (tmp / "coverage.json").write_text(json.dumps(report, indent=1, default=_jsonable),
                                           encoding="utf-8")
    return report


def _jsonable(o):
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(type(o))


def write_site_tif(path, rx: np.ndarray, transform) -> None:
    """Write a :func:`predict_site` grid atomically."""
    with atomic_path(Path(path)) as tmp:
        write_grid(tmp, rx, transform, nodata=np.nan, unit="dBm")

