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

__all__ = ["TILE_BYTES", "BLOCK", "tile_side", "tile_windows", "tile_outputs",
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


def tile_outputs(best: np.ndarray, arg: np.ndarray, mask: np.ndarray, techs, pairs,
                 site_code: np.ndarray, thresholds_dbm: dict) -> dict:
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

    Returns
    -------
    dict
        ``{tech: (best_dbm float32 NaN none, serving_site int32 −1 none, operators uint8 255
        outside)}`` and ``"_counts": {tech: (covered cells, evaluated cells)}``.
    """
    out: dict = {"_counts": {}}
    inside = int(mask.sum())
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
        out[t] = (dbm, serving, n_ops)
        out["_counts"][t] = (int((top[mask] >= thresholds_dbm[t]).sum()), inside)
    return out


def local_tiles(best, arg, mask, side: int, **kw) -> Iterator:
    """``(window, tile_outputs)`` of every tile of whole-grid arrays (the local executor)."""
    for r0, r1, c0, c1 in tile_windows(mask.shape, side):
        yield (r0, r1, c0, c1), tile_outputs(best[:, r0:r1, c0:c1], arg[:, r0:r1, c0:c1],
                                             mask[r0:r1, c0:c1], **kw)


_LAYERS = (("best_dbm", "float32", np.nan, "dBm"), ("serving_site", "int32", -1, ""),
           ("operators", "uint8", 255, ""))


def write_coverage_rasters(folder: Path, shape, transform, techs, tiles: Iterable) -> dict:
    """Write ``best_dbm_/serving_site_/operators_{tech}.tif`` from ``(window, outputs)`` tiles.

    Tiles may come in any order; each is written into a tiled GeoTIFF beside the target and
    dropped, then every file is copied into a COG (module docstring). Returns the percentage
    of evaluated cells covered per technology (``raster_covered_pct``).
    """
    import rasterio
    from rasterio.shutil import copy as rio_copy
    from rasterio.windows import Window

    folder = Path(folder)
    names = {(t, k): folder / f".{k}_{t}.tiled.tif" for t in techs for k, *_ in _LAYERS}
    covered = {t: [0, 0] for t in techs}
    with contextlib.ExitStack() as stack:
        dst = {}
        for t in techs:
            for k, dtype, nodata, unit in _LAYERS:
                d = stack.enter_context(rasterio.open(
                    names[(t, k)], "w", driver="GTiff", height=shape[0], width=shape[1],
                    count=1, dtype=dtype, crs=settings.WORK_CRS, transform=transform,
                    nodata=nodata, tiled=True, blockxsize=BLOCK, blockysize=BLOCK,
                    compress="deflate"))
                if unit:
                    d.update_tags(1, unit=unit)
                dst[(t, k)] = d
        for (r0, r1, c0, c1), outs in tiles:
            win = Window(c0, r0, c1 - c0, r1 - r0)
            for t in techs:
                for (k, *_), arr in zip(_LAYERS, outs[t], strict=True):
                    dst[(t, k)].write(arr, 1, window=win)
                cov, ins = outs["_counts"][t]
                covered[t][0] += cov
                covered[t][1] += ins
    for (t, k), tmp in names.items():
        rio_copy(tmp, folder / f"{k}_{t}.tif", driver="COG", blocksize=BLOCK,
                 compress="deflate", overview_resampling="nearest")
        tmp.unlink()
    return {t: round(100.0 * c / max(n, 1), 2) for t, (c, n) in covered.items()}
