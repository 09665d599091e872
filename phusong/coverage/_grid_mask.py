"""The receiver grid of an area, its mask computed block by block: no whole-grid array needed.

An :class:`AreaGrid` is the grid of ``resolution_m`` cells over an area's polygon (WORK_CRS):
its transform and shape, the polygon and the DEM's bounds, and no mask. The mask of any window
comes from :meth:`AreaGrid.masks`, which rasterises the polygon **per 256 × 256 block**
(:data:`phusong.coverage._tiles.BLOCK`, the GeoTIFF block; receiver tiles are whole numbers of
blocks): a block's cells are those whose centre lies inside the polygon clipped to the block
(with one cell to spare) and rasterised with the block's own transform. A cell's mask thus
depends only on its block, never on the window asked for, so the whole-grid mask of the local
executor (:meth:`AreaGrid.whole`) and the per-tile masks of the dask executor are the same
bits, whatever the tile side or the order.

**Cell limits.** The local executor holds whole-grid arrays (best level and serving cell per
operator × technology, the SINR sums and second best, the void flags), one set per thread and
about one more for the merge and the outputs: :func:`local_bytes_per_cell`. Measured on the
twin (16 groups, 4 SINR keys), as the growth of the peak resident memory per cell of the
grid's rectangle from district 154 at 60 m to 30 m (``benchmarks/bench_dask.py --child``):
913 B with 2 threads and 537 B with 1, against 867 and 578 from that rule (±8 %); the whole
twin at 30 m (9.8 M cells, 2 threads) peaked at 8.6 GiB. :meth:`AreaGrid.whole` refuses a grid whose
arrays would need more than ``settings.LOCAL_MEMORY_SHARE`` of the machine's physical memory
(up front, with the figure, instead of being killed by the system halfway), and any grid over
:data:`LOCAL_MAX_CELLS` (60 M cells). The dask executor
holds one tile at a time on the client and per worker unit, so its limit is on what the client
keeps per tile (its window, a few futures, ≈ 1–10 KB): :data:`MAX_TILES` tiles
(:meth:`AreaGrid.check_tiles`), e.g. 6.9 × 10¹⁰ cells with 1,024-cell tiles; memory per tile
is set by :func:`phusong.coverage._tiles.tile_side`, not by the grid.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass

import numpy as np
from affine import Affine

from phusong import settings
from phusong.coverage._tiles import BLOCK, tile_windows
from phusong.errors import DataError

__all__ = ["LOCAL_MAX_CELLS", "MAX_TILES", "AreaGrid", "coarse_frame", "coarse_mask_window",
           "local_bytes_per_cell", "physical_memory_bytes"]

#: Largest grid the local executor takes (it holds whole-grid arrays), cells.
LOCAL_MAX_CELLS = 60_000_000
#: Largest number of receiver tiles the dask executor takes (the client keeps a few KB each).
MAX_TILES = 65_536


def local_bytes_per_cell(n_groups: int, n_keys: int, threads: int) -> int:
    """Bytes per grid cell the local executor holds (module docstring), B.

    Parameters
    ----------
    n_groups : int
        Operator × technology groups (best level float32 and serving cell int64 each).
    n_keys : int
        Co-channel SINR keys (int64 sums each, plus a float32 second best per group); 0 when
        the SINR rasters are off.
    threads : int
        Local threads: one accumulator each, plus about one for the merge and the outputs.
    """
    acc = 12 * n_groups + 1 + (8 * n_keys + 4 * n_groups if n_keys else 0)
    return (max(int(threads), 1) + 1) * acc


def physical_memory_bytes() -> int:
    """This machine's physical memory, B (``sysconf``)."""
    return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))


@dataclass(frozen=True)
class AreaGrid:
    """A north-up receiver grid over a polygon, without its mask (module docstring).

    Attributes
    ----------
    polygon : shapely geometry
        The area, WORK_CRS metres.
    transform : affine.Affine
        Cell → WORK_CRS (top-left corner convention; ``transform.a`` the cell side, m).
    shape : tuple of int
        Rows and columns.
    dem_bounds : tuple of float
        ``(left, bottom, right, top)`` of the DEM, m: cells whose centre lies beyond are off
        the DEM (coverage unknown, not evaluated).
    """

    polygon: object
    transform: Affine
    shape: tuple[int, int]
    dem_bounds: tuple[float, float, float, float]

    @classmethod
    def over(cls, polygon_work, resolution_m: float, terrain) -> AreaGrid:
        """The grid of ``resolution_m`` cells over ``polygon_work`` (its bounds, as
        :func:`phusong.coverage._raster.grid_over` lays them) on ``terrain``'s DEM."""
        if not resolution_m > 0:
            raise DataError(f"resolution {resolution_m} m: must be positive")
        left, bottom, right, top = polygon_work.bounds
        cols = max(1, int(math.ceil((right - left) / resolution_m)))
        rows = max(1, int(math.ceil((top - bottom) / resolution_m)))
        t = Affine(resolution_m, 0, left, 0, -resolution_m, top)
        return cls(polygon_work, t, (rows, cols), tuple(float(b) for b in terrain.bounds))

    @property
    def resolution_m(self) -> float:
        """Cell side, m."""
        return float(self.transform.a)

    @property
    def cells(self) -> int:
        """Rows × columns."""
        return int(self.shape[0]) * int(self.shape[1])

    def masks(self, win) -> tuple[np.ndarray, np.ndarray]:
        """``(area, evaluated)`` bool masks of window ``(r0, r1, c0, c1)``: cells whose centre
        lies in the polygon, and those of them on the DEM."""
        r0, r1, c0, c1 = win
        area = np.zeros((r1 - r0, c1 - c0), bool)
        for br0 in range(r0 - r0 % BLOCK, r1, BLOCK):
            for bc0 in range(c0 - c0 % BLOCK, c1, BLOCK):
                blk = self._block(br0, bc0)
                a0, a1 = max(r0, br0), min(r1, br0 + blk.shape[0])
                b0, b1 = max(c0, bc0), min(c1, bc0 + blk.shape[1])
                area[a0 - r0:a1 - r0, b0 - c0:b1 - c0] = blk[a0 - br0:a1 - br0,
                                                             b0 - bc0:b1 - bc0]
        t = self.transform
        cx = t.c + (np.arange(c0, c1) + 0.5) * t.a  # as on_dem computes them: same bits
        cy = t.f + (np.arange(r0, r1) + 0.5) * t.e
        left, bottom, right, top = self.dem_bounds
        on = (((cx >= left) & (cx <= right))[None, :]
              & ((cy >= bottom) & (cy <= top))[:, None])
        return area, area & on

    def _block(self, br0: int, bc0: int) -> np.ndarray:
        """The polygon's mask on the block at ``(br0, bc0)`` (clipped at the grid's edge)."""
        import shapely
        from rasterio.features import geometry_mask

        rows, cols = self.shape
        h, w = min(BLOCK, rows - br0), min(BLOCK, cols - bc0)
        t, res = self.transform, self.resolution_m
        left, top = t.c + bc0 * res, t.f - br0 * res
        clip = shapely.clip_by_rect(self.polygon, left - res, top - (h + 1) * res,
                                    left + (w + 1) * res, top + res)
        parts = [p for p in shapely.get_parts(clip)
                 if p.geom_type in ("Polygon", "MultiPolygon") and not p.is_empty]
        if not parts:
            return np.zeros((h, w), bool)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PendingDeprecationWarning)  # rasterio's Affine `*`
            return geometry_mask(parts, out_shape=(h, w),
                                 transform=Affine(res, 0, left, 0, -res, top), invert=True,
                                 all_touched=False)

    def tile_box(self, win):
        """The window's outer cell edges as a shapely box, m."""
        from shapely.geometry import box

        r0, r1, c0, c1 = win
        t = self.transform
        return box(t.c + c0 * t.a, t.f + r1 * t.e, t.c + c1 * t.a, t.f + r0 * t.e)

    def may_hold_cells(self, win) -> bool:
        """False when window ``win`` surely has no evaluated cell (its box misses the polygon
        or the DEM); True may still mean none (cheap, no rasterising)."""
        left, bottom, right, top = self.dem_bounds
        b = self.tile_box(win)
        x0, y0, x1, y1 = b.bounds
        if x1 < left or x0 > right or y1 < bottom or y0 > top:
            return False
        return bool(self.polygon.intersects(b))

    def whole(self, bytes_per_cell: int = 0):
        """``(area Grid, evaluated Grid)`` with whole-grid masks, for the local executor
        (refused over :data:`LOCAL_MAX_CELLS` cells, or when ``bytes_per_cell`` × cells is
        more than ``settings.LOCAL_MEMORY_SHARE`` of the physical memory)."""
        from phusong.coverage._raster import Grid

        rows, cols = self.shape
        need, have = self.cells * int(bytes_per_cell), physical_memory_bytes()
        if need > settings.LOCAL_MEMORY_SHARE * have:
            raise DataError(f"grid of {rows}×{cols} cells at {self.resolution_m:g} m needs "
                            f"≈ {need / 1024**3:.1f} GiB in one process, more than "
                            f"{settings.LOCAL_MEMORY_SHARE:.0%} of this machine's "
                            f"{have / 1024**3:.1f} GiB (settings.LOCAL_MEMORY_SHARE); run it on "
                            "dask (--workers N or --scheduler ADDRESS: one tile at a time) or "
                            "use a coarser --resolution-m")
        if self.cells > LOCAL_MAX_CELLS:
            raise DataError(f"grid of {rows}×{cols} cells at {self.resolution_m:g} m is too "
                            f"large for one process ({LOCAL_MAX_CELLS:,} cells at most); run it "
                            "on dask (--workers N or --scheduler ADDRESS: one tile at a time) "
                            "or use a coarser --resolution-m")
        area, on = self.masks((0, rows, 0, cols))
        return Grid(self.transform, self.shape, area), Grid(self.transform, self.shape, on)

    def check_tiles(self, side: int) -> list[tuple[int, int, int, int]]:
        """The tiles of ``side`` cells (:func:`tile_windows`), refused over :data:`MAX_TILES`."""
        n = math.ceil(self.shape[0] / side) * math.ceil(self.shape[1] / side)
        if n > MAX_TILES:
            raise DataError(f"grid of {self.shape[0]}×{self.shape[1]} cells at "
                            f"{self.resolution_m:g} m makes {n:,} tiles of {side} cells "
                            f"({MAX_TILES:,} at most); use a coarser --resolution-m or cut the "
                            "area in parts")
        return tile_windows(self.shape, side)


def coarse_frame(transform: Affine, shape, factor: int):
    """The screening's coarse grid (:func:`phusong.coverage._raster.coarse_grid`) without its
    mask: ``(transform, shape)``."""
    rows, cols = shape
    t = transform
    return (Affine(t.a * factor, 0, t.c, 0, t.e * factor, t.f),
            (-(-rows // factor), -(-cols // factor)))


def coarse_mask_window(area: AreaGrid, factor: int, window: int, fh) -> np.ndarray:
    """The coarse grid's mask on coarse rows ``fh[0]:fh[1]`` and columns ``fh[2]:fh[3]``,
    equal to :func:`phusong.coverage._raster.coarse_grid`'s whole mask there: a coarse cell
    holding an evaluated fine cell, dilated by ``window // 2`` coarse cells (computed on the
    window and that halo only)."""
    from scipy import ndimage

    rows, cols = area.shape
    rc, cc = -(-rows // factor), -(-cols // factor)
    half = max(1, int(window) // 2)
    a0, a1 = max(0, fh[0] - half), min(rc, fh[1] + half)
    b0, b1 = max(0, fh[2] - half), min(cc, fh[3] + half)
    fine = area.masks((a0 * factor, min(rows, a1 * factor), b0 * factor,
                       min(cols, b1 * factor)))[1]
    pad = np.zeros(((a1 - a0) * factor, (b1 - b0) * factor), bool)
    pad[:fine.shape[0], :fine.shape[1]] = fine
    m = pad.reshape(a1 - a0, factor, b1 - b0, factor).any(axis=(1, 3))
    m = ndimage.binary_dilation(m, np.ones((2 * half + 1, 2 * half + 1), bool))
    return np.ascontiguousarray(m[fh[0] - a0:fh[1] - a0, fh[2] - b0:fh[3] - b0])
