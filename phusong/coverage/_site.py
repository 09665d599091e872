"""One site on any DEM (``phusong coverage site``), and the GeoTIFF writer of the engine.

Kept apart from :mod:`._run` so that a one-site run imports the raster path only (no pandas,
no village scoring): the whole process is what an RF engineer waits for.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from phusong import settings
from phusong.atomic import atomic_path
from phusong.config import DEFAULT_SETTINGS, Settings
from phusong.coverage._engine import ITM_PROFILE_CAP, EngineOptions, TxSet
from phusong.coverage._numba_setup import setup_numba
from phusong.coverage._raster import grid_over, on_dem, raster_links
from phusong.coverage._terrain import crop_dem, dem_window, prepare_terrain
from phusong.crs import transform_points
from phusong.errors import DataError

__all__ = ["predict_site", "write_grid", "write_site_tif"]


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
                 rx_height_m: float | None = None, threads: int = 1,
                 itm_profile_cap: int | None = ITM_PROFILE_CAP, antenna=None,
                 azimuth_deg: float = float("nan"), tilt_deg: float = float("nan"),
                 etilt_deg: float = float("nan"), landcover=None,
                 environment: str = "rural", config: Settings = DEFAULT_SETTINGS):
    """Received power around one transmitter on any DEM (omni unless given an antenna).

    Parameters
    ----------
    dem : phusong.bundle.Raster or path
        Elevation, any CRS; a GeoTIFF path is read only where the disk lies (a windowed
        read, the same values as reading it whole and cropping).
    lon, lat : float
        Site position, degrees (EPSG:4326).
    height_m, freq_mhz, eirp_dbm, radius_km, resolution_m : float
        Antenna height above ground, frequency, EIRP, radius and grid cell size.
    model, diffraction, rx_height_m, threads, itm_profile_cap
        As :class:`EngineOptions`.
    antenna : phusong.coverage.antenna.Antenna, optional
        Pattern (``eirp_dbm`` is then the boresight EIRP); None = omni.
    azimuth_deg, tilt_deg, etilt_deg : float
        Boresight azimuth (NaN = omni), mechanical and electrical downtilt, degrees.
    landcover : phusong.bundle.Raster, optional
        ESA WorldCover classes, any CRS: every receiver gets the P.2108 §3.1 terminal clutter
        loss of its class (:mod:`phusong.coverage.clutter`), as ``phusong coverage`` adds it
        from a bundle's ``landcover.tif``; with ``model="p1812"`` it gives P.1812's clutter
        heights and zones per profile point instead (:mod:`phusong.coverage.p1812._surface`).
        It must overlap the disk.
    environment : str
        Location-variability class of the empirical models' reliability margin.
    config : phusong.config.Settings
        The run's settings (receiver height when not given, k-factor, reliability
        ``radio.reliability_pct`` — ITM's time and location %, the lognormal margin
        z(p)·σ(``environment``) of the empirical models, P.1812's pL —, P.1812 inputs
        ``p1812``, sector pattern); recorded in the report under ``settings``.

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
    setup_numba()  # before the first kernel: without scipy.linalg (see _numba_setup)
    x, y = transform_points([lon], [lat], settings.STORE_CRS, settings.WORK_CRS)
    r_m = radius_km * 1000.0
    # only the part of the DEM under the disk is read and reprojected (an SRTM tile is 1201²)
    if isinstance(dem, (str, os.PathLike)):
        from phusong.raster import read_raster

        dem = read_raster(dem, window=lambda t, crs, shape: dem_window(
            t, crs, shape, float(x[0]), float(y[0]), r_m))
    else:
        dem = crop_dem(dem, float(x[0]), float(y[0]), r_m)
    terrain = prepare_terrain(dem)
    if not terrain.inside(x, y)[0]:
        raise DataError(f"site ({lon}, {lat}) is outside the DEM; use a DEM that covers it")
    clutter = surface = None
    if landcover is not None:  # here: without land cover, no P.2108/P.1812 (scipy.special)
        from phusong.coverage.clutter import prepare_clutter
        from phusong.coverage.p1812._surface import engine_surfaces

        clutter = prepare_clutter(landcover, area_work=Point(x[0], y[0]).buffer(r_m, 64),
                                  area_name="the site's disk")
        clutter, surface = engine_surfaces(model, clutter, terrain, config.p1812)
    opts = EngineOptions.of(config, model=model, diffraction=diffraction,
                            rx_height_m=rx_height_m, threads=threads,
                            itm_profile_cap=itm_profile_cap, clutter=clutter,
                            environment=environment, p1812_surface=surface).check()
    one = np.array([0])
    txs = TxSet(x, y, np.array([height_m]), np.array([r_m]), np.array([0, 1]), one, one,
                np.array([freq_mhz], float), np.array([eirp_dbm], float), np.zeros(1),
                np.array([float(azimuth_deg)]), np.array([float(tilt_deg)]), np.array([r_m]),
                np.array([True]))
    if antenna is not None:
        from phusong.coverage._antenna_kernel import PatternTable

        txs = replace(txs, pattern=np.zeros(1, np.int64), etilt=np.array([float(etilt_deg)]),
                      patterns=PatternTable.build([antenna]))
    txs = txs.with_clutter(opts)
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
        "diffraction": diffraction if model not in ("itm", "p1812") else None,
        "resolution_m": resolution_m,
        "radius_km": radius_km,
        "reliability_pct": float(opts.reliability_pct),
        "location_margin_db": opts.margin_db(),
        "clutter": ("P.2108 §3.1 from the land cover" if clutter is not None else
                    "ITU-R P.1812 §3.2 clutter heights from the land cover" if surface
                    else None),
        **({"p1812": _p1812_report(surface, opts)} if model == "p1812" else {}),
        "antenna": None if antenna is None else {
            "name": antenna.name, "gain_dbi": antenna.gain_dbi, "azimuth_deg": azimuth_deg,
            "tilt_deg": tilt_deg, "etilt_deg": etilt_deg},
        "path_loss_db": {"min": q[0], "p05": q[1], "median": q[2], "p95": q[3], "max": q[4],
                         "mean": float(loss.mean()) if loss.size else None},
        "settings": config.record(),
    }
    return rx.astype(np.float32), grid.transform, report


def _p1812_report(surface, opts) -> dict:
    """What the report says about P.1812's inputs (imported here: other models skip it)."""
    from phusong.coverage.p1812._surface import surface_report

    return surface_report(surface, opts.p1812)


def write_site_tif(path, rx: np.ndarray, transform) -> None:
    """Write a :func:`predict_site` grid atomically."""
    with atomic_path(Path(path)) as tmp:
        write_grid(tmp, rx, transform, nodata=np.nan, unit="dBm")
