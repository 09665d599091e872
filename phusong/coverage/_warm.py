"""Compile the engine's numba kernels into numba's cache once, at install time.

numba compiles each kernel on its first call (≈ 15–25 CPU-s for the whole engine) and keeps
the machine code in its cache (``cache=True``): without this step the first ``phusong``
command after an install pays for it. ``make venv`` runs ``python -m phusong.coverage._warm``
right after ``pip install``; a user may run it again after an upgrade. It runs every model
once, on the raster path (one site on two threads: kernels parallel over rays; two sites
on one thread: the serial kernels) and on the point path (villages), on a synthetic 6 km
DEM; nothing is written but numba's cache and, beside it, the list of the kernels compiled
(:func:`phusong.coverage._kernel_cache.record_kernels`), which a plan under a time limit
checks before its first scoring.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["warm_kernels", "warm_point_path", "warm_model_point_path", "PATTERN"]

#: The antenna pattern of the warm-up's sectored cell (parametric, no file: the twin's).
PATTERN = "3gpp-65"


def _synthetic_terrain():
    from phusong.coverage._terrain import Terrain

    n = 64
    yy, xx = np.mgrid[0:n, 0:n] / n
    z = (300 + 200 * np.sin(6 * xx) * np.cos(5 * yy)).astype(np.float32)
    z[10, 10:20] = np.nan  # a void, so the void-filling branches compile too
    x0, y0 = 500_000.0, 2_300_000.0  # WORK_CRS metres inside Hòa Bình
    return Terrain(z, x0, y0, 100.0, 100.0)


def warm_point_path(model: str) -> None:
    """The plan's point path for ``model`` (one site with an omni cell and a cell with an
    antenna pattern, one village, one thread: the kernels
    :func:`phusong.coverage.score_villages` and :func:`~phusong.coverage.coverage_matrix`
    call, the pattern's too: a plan on the twin compiled it for 3.9 s after a warm-up
    without it) on the warm-up's synthetic DEM."""
    import numpy as np
    import pandas as pd

    from phusong.config import DEFAULT_SETTINGS
    from phusong.coverage._engine import EngineOptions
    from phusong.coverage._score import score_points
    from phusong.coverage.msi import antenna_by_name

    terrain = _synthetic_terrain()
    x0, y0 = terrain.x0_m, terrain.y0_m
    tx = pd.DataFrame({"site_id": ["a", "a"], "cell_id": ["a1", "a2"],
                       "operator": ["Viettel", "Viettel"], "tech": ["4G", "4G"],
                       "freq_mhz": [1800.0, 1800.0], "eirp_dbm": [60.0, 60.0],
                       "x_m": [x0 + 2000] * 2, "y_m": [y0 - 2000] * 2, "height_m": [30.0] * 2,
                       "radius_m": [3000.0] * 2, "azimuth_deg": [np.nan, 120.0],
                       "tilt_deg": [np.nan, 4.0], "ground_m": [np.nan] * 2,
                       "antenna": ["", PATTERN], "etilt_deg": [np.nan, np.nan]})
    tx.attrs["antennas"] = {PATTERN: antenna_by_name(PATTERN, None)}
    opts = EngineOptions.of(DEFAULT_SETTINGS, model=model, diffraction="bullington",
                            threads=1).check()
    score_points(tx, np.array([x0 + 3000.0]), np.array([y0 - 3000.0]), terrain, opts=opts)


def warm_kernels(verbose: bool = True) -> float:
    """Run every model once on tiny inputs; returns the seconds it took."""
    import pandas as pd
    from shapely.geometry import box

    from phusong.coverage._engine import EngineOptions, TxSet
    from phusong.coverage._raster import grid_over, raster_links
    from phusong.coverage._score import score_points

    t0 = time.perf_counter()
    terrain = _synthetic_terrain()
    x0, y0 = terrain.x0_m, terrain.y0_m
    tx = pd.DataFrame({"site_id": ["a", "b"], "operator": ["Viettel", "VNPT"],
                       "tech": ["4G", "4G"], "freq_mhz": [1800.0, 1800.0],
                       "eirp_dbm": [60.0, 60.0], "x_m": [x0 + 2000, x0 + 4500],
                       "y_m": [y0 - 2000, y0 - 4500], "height_m": [30.0, 30.0],
                       "radius_m": [3000.0, 3000.0], "azimuth_deg": [np.nan, np.nan],
                       "ground_m": [np.nan, np.nan]})
    area = box(x0 + 500, y0 - 5500, x0 + 5500, y0 - 500)
    grid = grid_over(area, 200.0, terrain)
    rx = np.array([x0 + 3000.0, x0 + 5000.0]), np.array([y0 - 3000.0, y0 - 1000.0])
    for model, diffraction in (("itm", "bullington"), ("hata", "bullington"),
                               ("38901", "deygout"), ("fspl", "none"), ("p1812", "none")):
        # one site on two threads: the parallel kernels; two sites on one thread: the serial
        # ones (as on two threads)
        for threads, sites in ((2, tx.iloc[:1]), (1, tx)):
            opts = EngineOptions(model=model, diffraction=diffraction, threads=threads,
                                 screen_margin_db=0).check()
            txs = TxSet.from_frame(sites, terrain, opts)
            raster_links(txs, np.zeros(len(sites), np.int64), 1, terrain, grid, opts)
        score_points(tx, rx[0], rx[1], terrain, opts=opts)
    from phusong.coverage._kernel_cache import record_kernels

    warm_point_path("itm")  # a cell with an antenna pattern too (the pattern's kernels)
    record_kernels("all")  # the list a plan under a time limit checks in the cache
    secs = time.perf_counter() - t0
    if verbose:
        print(f"phusong: numba kernels compiled and cached in {secs:.0f} s")
    return secs


def warm_model_point_path(model: str) -> float:
    """:func:`warm_point_path` for ``model``, then its kernels recorded beside numba's cache
    unless a manifest already shows them compiled; returns the seconds it took. The child
    process a plan under a time limit starts on a cold cache
    (:func:`phusong.planning._plan_kernels.compile_in_child`) runs this:
    ``python -m phusong.coverage._warm --point MODEL``."""
    from phusong.coverage._kernel_cache import kernels_ready, record_kernels

    t0 = time.perf_counter()
    warm_point_path(model)
    if not kernels_ready(model):
        record_kernels(model)
    return time.perf_counter() - t0


if __name__ == "__main__":  # pragma: no cover - run by make venv, or a limited plan's child
    import sys

    if sys.argv[1:2] == ["--point"] and len(sys.argv) == 3:
        secs = warm_model_point_path(sys.argv[2])
        print(f"{sys.argv[2]} kernels compiled or loaded in {secs:.1f} s")
    else:
        warm_kernels()
