"""Receiver tiles of a coverage grid and the tiled (Cloud-Optimised) GeoTIFFs they are written to.

A grid is cut into square tiles of ``side`` cells (a multiple of the GeoTIFF block, 256). The
side is sized from the data: the largest of 256, 512, 1024 and 2048 cells whose per-unit
accumulator (``n_groups × side² × 12`` bytes: float32 best + int64 serving cell per operator ×
technology) fits :data:`TILE_BYTES`. Each tile's best/serving arrays become the per-technology
outputs (:func:`tile_outputs`), written window by window into tiled GeoTIFFs, which are then
copied into Cloud-Optimised GeoTIFFs (COG driver, 256 × 256 blocks, deflate, nearest-neighbour
overviews). No step holds more than one tile of the outputs; the local and the dask executors
write through the same code, so their files are byte-identical when their pixels are.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from phusong import settings

__all__ = ["TILE_BYTES", "BLOCK", "tile_side", "tile_windows", "tile_outputs", "layer_names",
           "write_coverage_rasters", "local_tiles"]

#: Memory budget of one work unit's accumulator over a tile, bytes (sets the tile side).
TILE_BYTES = 64 * 2**20
#: GeoTIFF block side, cells; tile sides are multiples of it.
BLOCK = 256


def tile_side(n_groups: int, *, budget_bytes: int = TILE_BYTES) -> int:
    """Tile side (cells) for ``n_groups`` operator × technology groups (module docstring).

    >>> tile_side(16), tile_side(2)
    (512, 1024)
    """
    side = BLOCK
    for s in (512, 1024, 2048):
        if max(1, n_groups) * s * s * 12 <= budget_bytes:
            side = s
    return side


def tile_windows(shape: tuple[int, int], side: int) -> list[tuple[int, int, int, int]]:
    """``(r0, r1, c0, c1)`` of the tiles of a grid, row by row.

    >>> tile_windows((3, 5), 4)
    [(0, 3, 0, 4), (0, 3, 4, 5)]
    """
    rows, cols = shape
    return [(r, min(r + side, rows), c, min(c + side, cols))
            for r in range(0, rows, side) for c in range(0, cols, side)]


def layer_names(techs, sinr: bool, *, indoor: bool = False) -> dict:
    """Raster layers written per technology: ``best_dbm``, ``serving_site``, ``operators``,
    ``coverage_prob``, with ``indoor`` ``indoor_dbm`` and, with ``sinr``, ``sinr_db`` and
    ``margin_db`` for 4G/5G.

    >>> layer_names(["2G", "4G"], True)["4G"]
    ('best_dbm', 'serving_site', 'operators', 'coverage_prob', 'sinr_db', 'margin_db')
    >>> layer_names(["2G"], False, indoor=True)["2G"]
    ('best_dbm', 'serving_site', 'operators', 'coverage_prob', 'indoor_dbm')
    """
    base = ("best_dbm", "serving_site", "operators", "coverage_prob")
    base += ("indoor_dbm",) if indoor else ()
    return {t: base + (("sinr_db", "margin_db") if sinr and t in _SINR_TECHS else ())
            for t in techs}


def tile_outputs(best: np.ndarray, arg: np.ndarray, mask: np.ndarray, techs, pairs,
                 site_code: np.ndarray, thresholds_dbm: dict, *, opts=None, sinr=None,
                 keys=None, require_sinr: bool = False, void=None,
                 indoor_loss_db=None) -> dict:
    """Per-technology rasters of one tile from its best/serving arrays.

    Parameters
    ----------
    best, arg : ndarray
        (n_groups, rows, cols) best rx (dBm, −inf none) and serving cell (−1 none).
    mask : ndarray
        (rows, cols) bool, cells evaluated.
    techs : list of str
        Technologies written.
    pairs : list of (tech, operator)
        The groups, in order.
    site_code : ndarray
        Site index (into ``sites.csv``) of every cell.
    thresholds_dbm : dict
        Covered threshold per technology, dBm.
    opts : EngineOptions
        Reliability and environment of the coverage probability.
    sinr : (ndarray, ndarray), optional
        The tile's co-channel power sums ((n_keys, rows, cols) int64, 1e-16 mW) and second
        best per group ((n_groups, rows, cols) float32, dBm): 4G/5G then get SINR and margin.
    keys : ndarray, optional
        Co-channel key of every cell (with ``sinr``).
    require_sinr : bool
        4G/5G count as covered only where the SINR also reaches
        ``opts.config.interference.sinr_min_db``.
    void : ndarray, optional
        (rows, cols) bool: cells some site reaches only across a DEM void longer than
        ``max_void_m`` (that link left out). Those not covered by any technology are
        ``unknown``, as villages are in the point engine.
    indoor_loss_db : ndarray, optional
        ITU-R P.2109 building entry loss of every cell (dB,
        :func:`phusong.coverage.interference.indoor_loss_db`): the tile then gets
        ``indoor_dbm``, the best over the technology's operators of each operator's best
        server level minus that server's entry loss. It equals the villages'
        ``rx_dbm_{tech}_indoor`` (the best of every cell's level minus its own loss) wherever
        an operator runs the technology on one band; where it runs several, it is the indoor
        level of the strongest outdoor server, a lower bound.

    Returns
    -------
    dict
        ``{tech: {layer: array}}`` (:func:`layer_names`; best_dbm and indoor_dbm float32 NaN
        none, serving_site int32 −1 none, operators uint8 255 outside, coverage_prob float32
        0–1 NaN outside, sinr_db/margin_db float32 dB NaN outside),
        ``"_unknown"``: (rows, cols) bool, cells whose coverage is unknown (behind a long void,
        covered by nothing else), and ``"_counts": {tech or tech_indoor: (covered cells,
        evaluated cells whose coverage is known)}``.
    """
    out: dict = {"_counts": {}}
    covered_any = np.zeros(mask.shape, bool)
    per_tech = {}
    names = layer_names(techs, sinr is not None, indoor=indoor_loss_db is not None)
    for t in techs:
        gi = [i for i, (tt, _) in enumerate(pairs) if tt == t]
        sub = best[gi]
        top = sub.max(axis=0)
        which = np.argmax(sub, axis=0)
        cell = np.take_along_axis(arg[gi], which[None], axis=0)[0]
        serving = np.where(cell >= 0, site_code[np.maximum(cell, 0)], -1).astype("int32")
        dbm = np.where(np.isfinite(top), top, np.nan).astype("float32")
        n_ops = (sub >= thresholds_dbm[t]).sum(axis=0).astype("uint8")
        n_ops[~mask] = 255
        prob = _probability(top, thresholds_dbm[t], opts)
        prob[~mask] = np.nan
        layers = {"best_dbm": dbm, "serving_site": serving, "operators": n_ops,
                  "coverage_prob": prob}
        covered = top >= thresholds_dbm[t]
        if indoor_loss_db is not None:
            srv = arg[gi]
            bel = np.where(srv >= 0, np.asarray(indoor_loss_db, float)[np.maximum(srv, 0)], 0.0)
            ind = (sub - bel).max(axis=0)
            layers["indoor_dbm"] = np.where(np.isfinite(ind), ind, np.nan).astype("float32")
            per_tech[f"{t}_indoor"] = ind >= thresholds_dbm[t]
        if "sinr_db" in names[t]:
            s_db, margin = _sinr_margin(t, gi, sub, arg, keys, sinr, mask,
                                        opts.config.interference)
            layers |= {"sinr_db": s_db, "margin_db": margin}
            need = opts.config.interference.sinr_min_db
            if require_sinr and t in need:
                with np.errstate(invalid="ignore"):
                    covered &= s_db >= need[t]
        out[t] = layers
        covered_any |= covered
        per_tech[t] = covered  # the indoor levels do not make a cell known
    unknown = (np.zeros(mask.shape, bool) if void is None
               else np.asarray(void, bool) & mask & ~covered_any)
    known = int((mask & ~unknown).sum())
    out["_unknown"] = unknown
    for t, covered in per_tech.items():
        out["_counts"][t] = (int(covered[mask].sum()), known)
    return out


_SINR_TECHS = ("4G", "5G")


def _probability(rx_dbm: np.ndarray, threshold_dbm: float, opts) -> np.ndarray:
    """Probability (float32, 0–1) that a level given at ``opts.reliability_pct`` % of
    locations clears the threshold: lognormal with the environment's σ about its median."""
    from scipy.special import ndtri

    from phusong.coverage.reliability import coverage_probability, sigma_db

    sigma = sigma_db(opts.environment, opts.config.location_sigma_db)
    median = rx_dbm + float(ndtri(opts.reliability_pct / 100.0)) * sigma
    return coverage_probability(median, threshold_dbm, sigma).astype("float32")


def _sinr_margin(tech: str, gi, sub, arg, keys, sinr, mask, interference):
    """SINR of the technology's best server and its margin over the serving operator's second
    best (dB, float32, NaN outside ``mask``)."""
    from phusong.coverage.interference import sinr_db

    sums, second_dbm = sinr
    which = np.argmax(sub, axis=0)
    g_best = np.asarray(gi)[which]
    top = np.take_along_axis(sub, which[None], axis=0)[0].astype(float)
    cell = np.take_along_axis(arg[gi], which[None], axis=0)[0]
    k = np.where(cell >= 0, keys[np.maximum(cell, 0)], -1)
    r, c = np.indices(top.shape)
    s = np.where(k >= 0, sums[np.maximum(k, 0), r, c], 0)
    out = sinr_db(np.where(k >= 0, top, -np.inf), s, tech,
                  interference=interference).astype("float32")
    second = second_dbm[g_best, r, c].astype(float)
    with np.errstate(invalid="ignore"):
        margin = np.where(np.isfinite(top), top - second, np.nan).astype("float32")
    out[~mask] = np.nan
    margin[~mask] = np.nan
    return out, margin


def local_tiles(best, arg, mask, side: int, *, extra: dict | None = None, area=None,
                **kw) -> Iterator:
    """``(window, tile_outputs)`` of every tile of whole-grid arrays (the local executor);
    ``extra`` holds :func:`raster_links`'s whole-grid ``power_sum_q``/``second_dbm``;
    ``area`` (whole-grid bool, optional) the cells of the area, on the DEM or not: those off
    it (not in ``mask``) go into the tile's ``"_off_dem"``."""
    for r0, r1, c0, c1 in tile_windows(mask.shape, side):
        sinr = None
        if extra and "power_sum_q" in extra:
            sinr = (extra["power_sum_q"][:, r0:r1, c0:c1], extra["second_dbm"][:, r0:r1, c0:c1])
        void = extra["void"][r0:r1, c0:c1] if extra and "void" in extra else None
        out = tile_outputs(best[:, r0:r1, c0:c1], arg[:, r0:r1, c0:c1], mask[r0:r1, c0:c1],
                           sinr=sinr, void=void, **kw)
        if area is not None:
            out["_off_dem"] = area[r0:r1, c0:c1] & ~mask[r0:r1, c0:c1]
        yield (r0, r1, c0, c1), out


_LAYERS = {"best_dbm": ("float32", np.nan, "dBm"), "indoor_dbm": ("float32", np.nan, "dBm"),
           "serving_site": ("int32", -1, ""),
           "operators": ("uint8", 255, ""), "coverage_prob": ("float32", np.nan, "probability"),
           "sinr_db": ("float32", np.nan, "dB"), "margin_db": ("float32", np.nan, "dB"),
           "unknown": ("uint8", 255, "")}


def _tiled(path: Path, shape, transform, dtype, nodata, unit: str = ""):
    """A tiled GeoTIFF (256-cell blocks, deflate; BigTIFF when it might pass 4 GB) to write
    window by window."""
    import rasterio

    d = rasterio.open(path, "w", driver="GTiff", height=shape[0], width=shape[1], count=1,
                      dtype=dtype, crs=settings.WORK_CRS, transform=transform, nodata=nodata,
                      tiled=True, blockxsize=BLOCK, blockysize=BLOCK, compress="deflate",
                      BIGTIFF="IF_SAFER")
    if unit:
        d.update_tags(1, unit=unit)
    return d


def write_coverage_rasters(folder: Path, shape, transform, techs, tiles: Iterable, *,
                           sinr: bool = False, unknown: bool = False,
                           indoor: bool = False) -> dict:
    """Write ``{layer}_{tech}.tif`` (:func:`layer_names`) from ``(window, outputs)`` tiles.

    Tiles may come in any order; each is written into a tiled GeoTIFF beside the target and
    dropped, then every file is copied into a COG (module docstring). With ``unknown``,
    ``unknown.tif`` too (uint8: 1 at every tile's ``_unknown`` and ``_off_dem`` cells, 0
    elsewhere, 255 nodata), written the same way: no whole-grid array is held.

    Returns
    -------
    dict
        ``raster_covered_pct``: the percentage of evaluated cells covered per technology (and
        indoors per ``{tech}_indoor`` with ``indoor``) over the cells whose coverage is known;
        ``cells_unknown`` and ``cells_unknown_off_dem``: cells written 1 in ``unknown.tif``,
        and those of them off the DEM.
    """
    from rasterio.shutil import copy as rio_copy
    from rasterio.windows import Window

    folder = Path(folder)
    layers = layer_names(techs, sinr, indoor=indoor)
    names = {(t, k): folder / f".{k}_{t}.tiled.tif" for t in techs for k in layers[t]}
    if unknown:
        names[("", "unknown")] = folder / ".unknown.tiled.tif"
    covered = {t: [0, 0] for t in techs}
    covered |= {f"{t}_indoor": [0, 0] for t in techs} if indoor else {}
    n_unknown = n_off = 0
    with contextlib.ExitStack() as stack:
        dst = {}
        for (t, k), path in names.items():
            dtype, nodata, unit = _LAYERS[k]
            dst[(t, k)] = stack.enter_context(_tiled(path, shape, transform, dtype, nodata,
                                                     unit))
        for (r0, r1, c0, c1), outs in tiles:
            win = Window(c0, r0, c1 - c0, r1 - r0)
            if unknown:
                unk = outs["_unknown"].copy()
                off = outs.get("_off_dem")
                if off is not None:
                    unk |= off
                    n_off += int(off.sum())
                n_unknown += int(unk.sum())
                dst[("", "unknown")].write(unk.astype("uint8"), 1, window=win)
            for t in techs:
                if set(outs[t]) != set(layers[t]):
                    raise RuntimeError(f"tile {win}: layers {sorted(outs[t])} of {t}, "
                                       f"expected {sorted(layers[t])}")
                for k in layers[t]:
                    dst[(t, k)].write(outs[t][k], 1, window=win)
            for key, (cov, ins) in outs["_counts"].items():
                covered[key][0] += cov
                covered[key][1] += ins
    for (t, k), tmp in names.items():
        rio_copy(tmp, folder / (f"{k}_{t}.tif" if t else f"{k}.tif"), driver="COG",
                 blocksize=BLOCK, compress="deflate", overview_resampling="nearest",
                 BIGTIFF="IF_SAFER")
        tmp.unlink()
    return {"raster_covered_pct": {t: round(100.0 * c / max(n, 1), 2)
                                   for t, (c, n) in covered.items()},
            "cells_unknown": n_unknown, "cells_unknown_off_dem": n_off}
