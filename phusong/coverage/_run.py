"""End-to-end runs: a bundle (tables + GeoTIFFs) and a single site on any DEM."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from phusong import settings
from phusong.atomic import atomic_dir
from phusong.config import DEFAULT_SETTINGS, Settings
from phusong.coverage._engine import (
    ITM_PROFILE_CAP,
    SCREEN_MARGIN_DB,
    EngineOptions,
    TxSet,
)
from phusong.coverage._grid_mask import AreaGrid, local_bytes_per_cell
from phusong.coverage._link import transmitters
from phusong.coverage._raster import raster_links, warn_itm_bits
from phusong.coverage._score import _groups, score_points
from phusong.coverage._site import predict_site, write_grid, write_site_tif
from phusong.coverage._terrain import prepare_terrain
from phusong.coverage._tiles import local_tiles, tile_side, write_coverage_rasters
from phusong.crs import transform_points
from phusong.errors import DataError

__all__ = ["predict_site", "run_bundle", "aggregate_communes", "write_grid", "write_site_tif"]
# predict_site, write_grid and write_site_tif live in ._site (a light module for one site)


def aggregate_communes(villages, scores: pd.DataFrame, techs) -> pd.DataFrame:
    """Villages, households and population covered per commune, tech, operator and any.

    Columns: commune_code, villages, households, population, then for each tech (and each
    ``{tech}_{operator}``, and ``any``): ``*_villages``, ``*_households``, ``*_population``
    covered, and ``*_households_pct`` / ``*_population_pct`` (percent of the commune);
    ``unknown_villages``, ``unknown_households``, ``unknown_population``: villages whose
    coverage is unknown (scores' ``unknown``: off the DEM or behind a flagged path), counted
    apart from the covered ones and not as uncovered.
    """
    base = pd.DataFrame({"commune_code": villages["commune_code"].to_numpy(),
                         "households": villages["households"].to_numpy(float),
                         "population": villages["population"].to_numpy(float)})
    keys = {f"{t}": f"covered_{t}" for t in techs}
    keys |= {f"{t}_{o}": f"covered_{t}_{o}" for t in techs for o in settings.OPERATORS}
    keys |= {f"{t}_indoor": f"covered_{t}_indoor" for t in techs
             if f"covered_{t}_indoor" in scores.columns}
    keys["any"] = "covered_any"
    cols = {"villages": np.ones(len(base))}
    unknown = (scores["unknown"].to_numpy(bool) if "unknown" in scores.columns
               else np.zeros(len(base), bool))
    cols["unknown_villages"] = unknown.astype(float)
    cols["unknown_households"] = np.where(unknown, base["households"], 0.0)
    cols["unknown_population"] = np.where(unknown, base["population"], 0.0)
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
               screen_margin_db: float | None = SCREEN_MARGIN_DB,
               clutter: bool = True, reliability_pct: float | None = None,
               sinr: bool = True, require_sinr: bool = False, executor=None,
               tile_cells: int | None = None, config: Settings = DEFAULT_SETTINGS) -> dict:
    """Score villages, aggregate communes and write coverage rasters of a bundle.

    ``scores``, the :func:`score_villages` result of the same bundle and model, saves scoring
    the villages again (the demo scores them once for gaps, plan and this run).
    ``screen_margin_db`` is the raster's screening margin (:class:`EngineOptions`; 0 or None
    computes every site at every cell); villages are always scored on every pair.
    ``clutter`` adds ITU-R P.2108 terminal clutter from the bundle's ``landcover.tif`` (when it
    has one) to villages and raster alike. ``reliability_pct`` is the percentage of locations
    the levels and flags are for (:mod:`phusong.coverage.reliability`); the rasters then also
    hold ``coverage_prob_{tech}.tif``, the probability (0–1) that the best server clears the
    technology's threshold. With ``sinr``, 4G/5G also get ``sinr_db_{tech}.tif`` (SINR of the
    best server from its operator's co-channel cells, :mod:`phusong.coverage.interference`)
    and ``margin_db_{tech}.tif`` (best minus second best of the serving operator, dB).
    ``require_sinr`` makes 4G/5G covered only where the SINR also reaches
    ``config.interference.sinr_min_db`` (villages, and the raster's covered percentages).
    ``config`` (:class:`phusong.config.Settings`) holds the thresholds, radio defaults
    (``reliability_pct`` when not given), location σ, indoor and interference inputs; its
    :meth:`~phusong.config.Settings.record` (values and where each came from) is written to
    ``coverage.json`` under ``settings``.
    ``executor``, a :class:`phusong.coverage.DaskExecutor`, runs villages and raster on
    dask.distributed (site batches × receiver tiles); the files are byte-identical to the
    local run's (``coverage.json`` aside: it reports the executor, seconds and memory).
    With ``model="p1812"``, ``config.p1812`` holds its inputs (pL is ``reliability_pct``); with
    a ``landcover.tif`` its clutter heights and zones come from the land cover per profile
    point (and P.2108 is not added); ``coverage.json`` says which under ``p1812``.
    ``tile_cells`` overrides the receiver tile side (a multiple of 256 cells; default
    :func:`tile_side`'s rule); the files do not depend on it.

    Writes into ``out_dir`` (atomically): ``villages.csv``, ``communes.csv``,
    ``best_dbm_{tech}.tif`` (best over operators), ``serving_site_{tech}.tif`` (index into
    ``sites.csv``, −1 none), ``operators_{tech}.tif`` (operators covering),
    ``coverage_prob_{tech}.tif``, ``indoor_dbm_{tech}.tif`` (best level indoors, after ITU-R
    P.2109 building entry loss, dBm) and the SINR/margin rasters above, as tiled
    Cloud-Optimised GeoTIFFs (:mod:`._tiles`), ``unknown.tif``
    (1: coverage unknown — a cell of the communes off the DEM, or one that a site reaches only
    across a DEM void longer than ``settings.MAX_VOID_BRIDGE_M`` and that nothing else
    covers; 0 elsewhere), ``sites.csv`` and
    ``coverage.json`` (the returned report). No rasters when ``resolution_m`` is None.
    """
    t0 = time.perf_counter()
    terrain = prepare_terrain(bundle.dem)
    tx = transmitters(bundle, terrain=terrain)
    techs = [t for t in settings.TECHS if (tx["tech"] == t).any()]
    from phusong.coverage.clutter import bundle_clutter

    if require_sinr and not sinr and resolution_m:
        raise DataError("require_sinr needs the SINR rasters: drop --no-sinr")

    from phusong.coverage.p1812._surface import engine_surfaces, surface_report

    cmap, surface = engine_surfaces(model, bundle_clutter(bundle, enabled=clutter), terrain,
                                    config.p1812)
    opts = EngineOptions.of(config, model=model, diffraction=diffraction, threads=threads,
                            itm_profile_cap=itm_profile_cap, screen_margin_db=screen_margin_db,
                            clutter=cmap, reliability_pct=reliability_pct,
                            p1812_surface=surface).check()
    villages = bundle.villages
    if villages is None or len(villages) == 0:
        raise DataError("villages: the bundle has no villages to score")
    vx, vy = transform_points(villages.geometry.x, villages.geometry.y, villages.crs.to_string(),
                              settings.WORK_CRS)
    if scores is None:
        scores = score_points(tx, vx, vy, terrain, techs=techs, opts=opts,
                              require_sinr=require_sinr, executor=executor)
        scores.index = pd.Index(villages["village_id"].to_numpy(), name="village_id")
    elif not scores.index.equals(pd.Index(villages["village_id"].to_numpy())):
        raise DataError("coverage: the village scores given do not match the bundle's villages; "
                        "score this bundle with score_villages")
    communes = aggregate_communes(villages, scores, techs)
    report = {"model": model, "diffraction": None if model == "p1812" else diffraction,
              "techs": techs,
              "clutter": ("ITU-R P.2108 §3.1 from landcover.tif" if opts.clutter else
                          "ITU-R P.1812 §3.2 clutter heights from landcover.tif" if surface
                          else None),
              "reliability_pct": float(opts.reliability_pct), "require_sinr": bool(require_sinr),
              **({"p1812": surface_report(surface, opts.p1812)} if model == "p1812" else {}),
              "thresholds_dbm": dict(config.thresholds_dbm),
              "antennas": sorted(tx.attrs.get("antennas", {})),
              "threads": int(threads),
              "cells": int(len(tx)), "sites": int(tx["site_id"].nunique()),
              "villages": scores.attrs["stats"],
              "villages_covered_any": int(scores["covered_any"].sum()),
              "villages_unknown": int(scores["unknown"].sum()) if "unknown" in scores else 0}
    with atomic_dir(Path(out_dir), overwrite=overwrite) as tmp:
        scores.to_csv(tmp / "villages.csv")
        communes.to_csv(tmp / "communes.csv", index=False)
        if resolution_m:
            t1 = time.perf_counter()
            site_ids, site_code = np.unique(tx["site_id"].to_numpy(), return_inverse=True)
            pd.DataFrame({"index": np.arange(len(site_ids)), "site_id": site_ids}).to_csv(
                tmp / "sites.csv", index=False)
            poly = bundle.communes.to_crs(settings.WORK_CRS).union_all()
            # the grid without its mask: rasterised per block, where each tile needs it
            # (local: the whole grid at once, within LOCAL_MAX_CELLS; dask: per tile)
            area = AreaGrid.over(poly, float(resolution_m), terrain)
            txs = TxSet.from_frame(tx, terrain, opts)
            g, pairs = _groups(tx)
            from phusong.coverage.interference import cell_keys, indoor_loss_db

            keys, n_keys = cell_keys(tx) if sinr else (None, 0)
            side = tile_cells or tile_side(len(pairs))
            if side % 256:
                raise DataError(f"tile side {side} cells: use a multiple of 256")
            kw = {"techs": techs, "pairs": pairs, "site_code": site_code,
                  "thresholds_dbm": dict(config.thresholds_dbm), "keys": keys,
                  "require_sinr": require_sinr,
                  "indoor_loss_db": indoor_loss_db(tx["freq_mhz"].to_numpy(float),
                                                   config.indoor)}
            if executor is None:
                full, grid = area.whole(local_bytes_per_cell(len(pairs), n_keys, threads))
                extra: dict = {}
                best, arg, rstats = raster_links(txs, g, len(pairs), terrain, grid, opts,
                                                 progress, cell_key=keys, n_keys=n_keys,
                                                 extra=extra)
                tiles = local_tiles(best, arg, grid.mask, side, extra=extra, area=full.mask,
                                    opts=opts, **kw)
                with_sinr = "power_sum_q" in extra
            else:
                from phusong.coverage._dask_raster import dask_raster_tiles

                area.check_tiles(side)
                rstats = {}
                tiles = dask_raster_tiles(executor, txs, g, len(pairs), terrain, area, opts,
                                          side, rstats, n_keys=n_keys, **kw)
                with_sinr = keys is not None and n_keys > 0
            written = write_coverage_rasters(tmp, area.shape, area.transform, techs, tiles,
                                             sinr=with_sinr, unknown=True, indoor=True)
            report["raster_covered_pct"] = written["raster_covered_pct"]
            if executor is not None:
                warn_itm_bits(rstats.pop("itm_bits"))
            # indoor_dbm equals the villages' indoor level where every (operator, tech) is on
            # one band (_tiles.tile_outputs); say where it is a lower bound instead
            bands = tx.groupby(["operator", "tech"])["freq_mhz"].nunique()
            report["raster_indoor"] = {
                "building_entry_loss": "ITU-R P.2109 " + config.indoor.building_class
                + f", {config.indoor.probability_pct:g} % of buildings",
                "lower_bound_for": sorted(f"{t} {o}" for o, t in bands[bands > 1].index)}
            n_unk, n_off = written["cells_unknown"], written["cells_unknown_off_dem"]
            report["raster"] = rstats | {"resolution_m": float(resolution_m),
                                         "cells_unknown": n_unk,
                                         "cells_unknown_off_dem": n_off,
                                         "cells_unknown_void": n_unk - n_off,
                                         "max_void_m": opts.max_void_m,
                                         "shape": list(area.shape),
                                         "seconds": round(time.perf_counter() - t1, 3)}
        if executor is not None:
            report["executor"] = executor.describe()
        report["settings"] = config.record()
        report["seconds"] = round(time.perf_counter() - t0, 3)
        (tmp / "coverage.json").write_text(json.dumps(report, indent=1, default=_jsonable),
                                           encoding="utf-8")
    return report


def _jsonable(o):
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(type(o))
