"""The receiver grid's mask per block (phusong.coverage._grid_mask): any window of it, the
whole grid at once, and the screening's coarse mask per footprint are the same bits."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import Point, box

from phusong.coverage._grid_mask import (
    LOCAL_MAX_CELLS,
    AreaGrid,
    coarse_frame,
    coarse_mask_window,
    local_bytes_per_cell,
    physical_memory_bytes,
)
from phusong.coverage._raster import Grid, coarse_grid, grid_over, on_dem
from phusong.coverage._terrain import Terrain
from phusong.coverage._tiles import tile_windows
from phusong.errors import DataError

X0, Y0 = 500_000.0, 2_300_000.0


def _area(res_m: float = 20.0) -> tuple[AreaGrid, Terrain]:
    """A ragged area (a disk with a bite and a far island) partly off a 9 km DEM."""
    poly = (Point(X0 + 5000, Y0 - 5000).buffer(4800, 64)
            .difference(box(X0 + 4000, Y0 - 6000, X0 + 9000, Y0 - 5500))
            .union(Point(X0 + 9500, Y0 - 1000).buffer(900, 32)))
    terrain = Terrain(np.zeros((90, 90), np.float32), X0 + 300, Y0 - 100, 100.0, 100.0)
    return AreaGrid.over(poly, res_m, terrain), terrain


def test_any_window_is_the_whole_masks_window():
    area, _ = _area()
    full, grid = area.whole()
    assert area.shape == (485, 510) and grid.mask.sum() > 100_000
    assert (full.mask & ~grid.mask).any()  # some cells of the area are off the DEM
    for side in (256, 512):
        for win in tile_windows(area.shape, side):
            r0, r1, c0, c1 = win
            a, e = area.masks(win)
            assert np.array_equal(a, full.mask[r0:r1, c0:c1])
            assert np.array_equal(e, grid.mask[r0:r1, c0:c1])
    a, e = area.masks((100, 333, 17, 400))  # not on block edges either
    assert np.array_equal(e, grid.mask[100:333, 17:400])


def test_block_mask_agrees_with_the_whole_grid_rasterisation():
    # the same cells as rasterising the whole grid at once (grid_over), but for cells whose
    # centre lies within rounding of the boundary (none on this area)
    area, terrain = _area()
    old = on_dem(grid_over(area.polygon, 20.0), terrain)
    assert np.array_equal(area.whole()[1].mask, old.mask)


@pytest.mark.parametrize("factor,window", [(4, 5), (3, 3)])
def test_coarse_mask_per_footprint_equals_the_whole_coarse_grid(factor, window):
    area, _ = _area()
    grid = area.whole()[1]

    class Opts:
        screen_factor, screen_window = factor, window

    whole = coarse_grid(grid, Opts)
    t, shape = coarse_frame(area.transform, area.shape, factor)
    assert (t, shape) == (whole.transform, whole.shape)
    for fh in ((0, shape[0], 0, shape[1]), (0, 40, 30, 80), (50, shape[0], 0, 20),
               (17, 61, 90, shape[1])):
        got = coarse_mask_window(area, factor, window, fh)
        assert np.array_equal(got, whole.mask[fh[0]:fh[1], fh[2]:fh[3]]), fh


def test_cell_limits():
    area, _ = _area()
    big = AreaGrid(area.polygon, area.transform, (10_000, LOCAL_MAX_CELLS // 10_000 + 1),
                   area.dem_bounds)
    with pytest.raises(DataError, match="too large for one process.*--workers"):
        big.whole()
    assert len(big.check_tiles(1024)) == 10 * 6  # on dask: tiles, no whole grid
    with pytest.raises(DataError, match="tiles of 256 cells"):
        AreaGrid(area.polygon, area.transform, (300_000, 300_000),
                 area.dem_bounds).check_tiles(256)


def test_local_memory_guard_refuses_up_front(monkeypatch):
    """A grid whose whole-grid arrays would not fit is refused before anything is allocated,
    with the figure and the way out (dask); within the share it runs."""
    from phusong import settings

    area, _ = _area()  # 485 × 510 cells
    bpc = local_bytes_per_cell(16, 4, 2)  # the twin's groups and keys, 2 threads
    # 3 × (16 × 12 + 1 + 4 × 8 + 16 × 4) B; measured 913 B per cell (module docstring)
    assert bpc == 867
    assert local_bytes_per_cell(16, 0, 1) == 2 * (16 * 12 + 1)  # no SINR arrays, one thread
    assert physical_memory_bytes() > 256 * 1024**2  # any machine that runs the suite
    share = 0.5 * area.cells * bpc / physical_memory_bytes()  # the grid needs twice this
    monkeypatch.setattr(settings, "LOCAL_MEMORY_SHARE", share)
    with pytest.raises(DataError, match=r"485×510 cells at 20 m needs ≈ 0\.2 GiB in one "
                       r"process.*LOCAL_MEMORY_SHARE.*--workers"):
        area.whole(bpc)
    monkeypatch.setattr(settings, "LOCAL_MEMORY_SHARE", 2 * share)  # now just within
    assert area.whole(bpc)[1].mask.any()


def test_a_coverage_run_over_the_memory_share_leaves_nothing(monkeypatch, tmp_path):
    from phusong import settings
    from phusong.coverage import run_bundle
    from tests.test_coverage_dask import _bundle  # two communes on the tiny bundle

    monkeypatch.setattr(settings, "LOCAL_MEMORY_SHARE", 1e-9)  # about 24 B on 24 GiB
    with pytest.raises(DataError, match="LOCAL_MEMORY_SHARE"):
        run_bundle(_bundle(), tmp_path / "cov", resolution_m=100.0, threads=2)
    assert not (tmp_path / "cov").exists()


def test_tile_boxes_that_miss_the_area_hold_no_cells():
    area, _ = _area()
    for win in tile_windows(area.shape, 128):
        if not area.may_hold_cells(win):
            assert not area.masks(win)[1].any()
    assert not area.may_hold_cells((0, 10, 0, 10))  # the north-west corner: outside the disk
    assert isinstance(area.whole()[0], Grid)
