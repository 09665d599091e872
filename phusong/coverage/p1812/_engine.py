"""P.1812 in the coverage engine: (site, receiver) pairs and radial rays.

Both run the same per-path kernel (:func:`phusong.coverage.p1812._kernel.path_loss`) on the
exact profile of each receiver, so a ray sample and a point receiver at the same place and
spacing get the same loss. Inputs the bundle does not carry come from
:data:`phusong.settings.P1812` (ΔN, N0, zone, clutter height, p, pL, σL, polarisation).

A path shorter than the 5 profile points P.1812 needs (a receiver within 4 samples of the
site) is resampled to 5 equally spaced points by linear interpolation of its terrain, over at
least 10 m (the distance floor of the other models).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from phusong import settings
from phusong.coverage.p1812 import _surface, polarization_code
from phusong.coverage.p1812._inputs import check_range, path_centre_deg
from phusong.coverage.p1812._kernel import N_SCRATCH, coast_km, path_loss
from phusong.coverage.p1812._rays import (
    incremental_rays,
    incremental_rays_serial,
    short_path_loss,
    sigma_engine,
)
from phusong.crs import transform_points
from phusong.errors import ModelError

__all__ = ["check_engine_inputs", "check_params", "pair_losses", "ray_losses", "ray_losses_serial",
           "prefix_ray_losses", "site_lat_slope", "refractivity"]

_JIT = {"cache": True, "nogil": True}
_MIN_POINTS = 5
_MIN_DIST_KM = 0.01


def check_engine_inputs(freq_mhz, tx_height_m, rx_height_m, params) -> None:
    """One-line :class:`ModelError` for engine inputs outside P.1812's ranges."""
    check_range("frequency", np.atleast_1d(np.asarray(freq_mhz, float)), 30.0, 6000.0, "MHz")
    check_range("tx antenna height", np.atleast_1d(np.asarray(tx_height_m, float)), 1.0,
                3000.0, "m")
    check_range("rx antenna height", np.atleast_1d(np.asarray(rx_height_m, float)), 1.0,
                3000.0, "m")
    check_params(params)


def check_params(params) -> None:
    """One-line :class:`ModelError` for P.1812 settings outside the Recommendation's ranges."""
    check_range("time percentage", np.array([params.time_pct]), 1.0, 50.0, "%")
    check_range("location percentage", np.array([params.location_pct]), 1.0, 99.0, "%")
    check_range("delta_n", np.array([params.delta_n]), 0.0, 157.0, "N-units/km", True)
    check_range("n0", np.array([params.n0]), 200.0, 500.0, "N-units")
    if params.zone not in (1, 3, 4):
        raise ModelError(f"p1812: zone code {params.zone} is unknown; use 1 (sea), 3 (coastal "
                         "land) or 4 (inland)")
    sig = params.sigma_l_db
    if params.clutter_height_m < 0 or (sig is not None and sig < 0) or params.coast_km < 0:
        raise ModelError("p1812: clutter_height_m, sigma_l_db and coast_km must be ≥ 0")
    if not params.location_area_m > 0:
        raise ModelError(f"p1812: location_area_m {params.location_area_m} must be > 0 m")


@njit(**_JIT)
def _path(h, r, z, n_pts, step_km, f_ghz, htx, hrx, phi, prm, d, g, diag, dn, n0):
    """Loss of the path ``h[0:n_pts]`` spaced ``step_km`` (resampled when short), clutter
    heights ``r`` and zones ``z`` per point."""
    j = n_pts - 1
    if n_pts >= _MIN_POINTS and j * step_km >= _MIN_DIST_KM:
        dct, dcr = coast_km(d, z, 0, n_pts, prm[6])
        return path_loss(d, h, r, z, 0, n_pts, g, f_ghz, prm[0], prm[1], htx, hrx,
                         int(prm[2]), phi, dn, n0, dct, dcr, sigma_engine(prm, f_ghz, hrx, r[j]),
                         False, diag)
    return short_path_loss(h, r, z, j, step_km, f_ghz, htx, hrx, phi, prm, dn, n0)


def _params(params) -> np.ndarray:
    """The kernels' parameter vector: p, pL, polarisation, ΔN, N0, σL (−1: eq. (68)),
    coast distance without sea, wa."""
    pol = float(polarization_code(params.polarization, 1)[0])
    sig = -1.0 if params.sigma_l_db is None else float(params.sigma_l_db)
    return np.array([params.time_pct, params.location_pct, pol, params.delta_n, params.n0,
                     sig, params.coast_km, params.location_area_m])


@njit(**_JIT)
def _pairs_kernel(flat, r_flat, z_flat, start, count, step_km, f_ghz, htx, hrx, phi, prm, dn,
                  n0):
    n = start.shape[0]
    out = np.empty(n)
    width = 0
    for k in range(n):
        width = max(width, count[k])
    width = max(width, _MIN_POINTS)
    d = np.empty(width)
    g = np.empty((N_SCRATCH, width))
    diag = np.empty(0)
    for k in range(n):
        for i in range(count[k]):
            d[i] = i * step_km[k]
        a = start[k]
        b = a + count[k]
        out[k] = _path(flat[a:b], r_flat[a:b], z_flat[a:b], count[k], step_km[k], f_ghz[k],
                       htx[k], hrx[k], phi[k], prm, d, g, diag, dn[k], n0[k])
    return out


def pair_losses(flat, start, count, step_m, freq_mhz, tx_height_m, rx_height_m, tx_xy, rx_xy,
                params=settings.P1812, surface=None) -> np.ndarray:
    """P.1812 Lb (dB) per engine path (flat profiles as in the ITM adapter).

    Parameters
    ----------
    flat : ndarray
        All elevations, m; path ``k`` is ``flat[start[k]:start[k] + count[k]]``, spaced
        ``step_m[k]`` from the transmitter.
    freq_mhz, tx_height_m, rx_height_m : ndarray or float
        Per path.
    tx_xy, rx_xy : (ndarray, ndarray)
        Terminal coordinates in WORK_CRS, m (path-centre latitude of β0; the profile points'
        land-cover pixels).
    params : phusong.settings.P1812Settings
        The model's other inputs (``params.maps``: ΔN and N0 at each path centre).
    surface : phusong.coverage.p1812._surface.Surface or None
        Clutter heights and zones per land-cover pixel (None: the settings' defaults).
    """
    start = np.asarray(start, np.int64)
    count = np.asarray(count, np.int64)
    n = len(count)
    if n == 0:
        return np.zeros(0)
    step, f, htx, hrx = (np.ascontiguousarray(np.broadcast_to(np.asarray(v, float), (n,)))
                         for v in (step_m, freq_mhz, tx_height_m, rx_height_m))
    check_engine_inputs(f, htx, hrx, params)
    tx_x, tx_y, rx_x, rx_y = (np.ascontiguousarray(np.broadcast_to(np.asarray(v, float), (n,)))
                              for v in (*tx_xy, *rx_xy))
    tlon, tlat = transform_points(tx_x, tx_y, settings.WORK_CRS, settings.STORE_CRS)
    rlon, rlat = transform_points(rx_x, rx_y, settings.WORK_CRS, settings.STORE_CRS)
    dist = np.maximum((count - 1) * step / 1000.0, _MIN_DIST_KM)
    phi, lam = path_centre_deg(tlat, tlon, rlat, rlon, 0.5 * dist)
    dn, n0 = refractivity(params, phi, lam, n)
    flat = np.ascontiguousarray(flat, float)
    if surface is None:
        r_flat = np.full(len(flat), float(params.clutter_height_m))
        z_flat = np.full(len(flat), int(params.zone), np.int64)
    else:
        r_flat, z_flat = _surface.surface_along_paths(
            surface.clutter_m, surface.zone, surface.grid(), tx_x, tx_y, rx_x - tx_x,
            rx_y - tx_y, start, count, len(flat))
    return _pairs_kernel(flat, r_flat, z_flat, start, count, step / 1000.0, f / 1000.0, htx,
                         hrx, phi, _params(params), dn, n0)


def refractivity(params, lat_deg, lon_deg, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(ΔN, N0) per path: the user's ITU maps at the path centres, else the settings."""
    if params.maps is None:
        return np.full(n, float(params.delta_n)), np.full(n, float(params.n0))
    dn, n0 = params.maps.at(lat_deg, lon_deg)
    check_range("delta_n (from the maps)", dn, 0.0, 157.0, "N-units/km", True)
    check_range("n0 (from the maps)", n0, 200.0, 500.0, "N-units")
    return dn, n0


def site_lat_slope(sx: float, sy: float) -> tuple[float, float]:
    """Latitude at a site and its derivative along WORK_CRS northing (deg, deg/m).

    The path-centre latitude of a ray sample is taken on this tangent line: within 30 km the
    error is below 1e-4°, which moves β0 (eq. (5)) by less than 1e-5 relative.
    """
    _, lat = transform_points([sx, sx], [sy, sy + 1000.0], settings.WORK_CRS,
                              settings.STORE_CRS)
    return float(lat[0]), float(lat[1] - lat[0]) / 1000.0


@njit(**_JIT)
def _one_ray(k, rays, rr, zz, last_j, step_m, slot, need, f_ghz, htx, hrx, lat0, dlat, prm,
             dn, n0, out):
    n_s = rays.shape[1]
    n_rays = rays.shape[0]
    ray = rays[k]
    step_km = step_m / 1000.0
    d = np.arange(n_s) * step_km
    g = np.empty((N_SCRATCH, n_s))
    diag = np.empty(0)
    north = math.cos(k * (2.0 * math.pi / n_rays))  # rays run along bearing 2πk/n (x = sin)
    for j in range(1, min(last_j, n_s - 1) + 1):
        u = slot[k * n_s + j]
        if u < 0:
            continue
        phi = lat0 + dlat * 0.5 * max(j * step_m, 10.0) * north
        for f in range(f_ghz.shape[0]):
            if need[f, u]:
                out[f, u] = _path(ray, rr[k], zz[k], j + 1, step_km, f_ghz[f], htx, hrx, phi,
                                  prm, d, g, diag, dn, n0)


@njit(parallel=True, **_JIT)
def _rays_parallel(rays, rr, zz, last, step_m, slot, need, f_ghz, htx, hrx, lat0, dlat, prm,
                   dn, n0, out):
    for k in prange(rays.shape[0]):
        if last[k] > 0:
            _one_ray(np.int64(k), rays, rr, zz, last[k], step_m, slot, need, f_ghz, htx, hrx, lat0, dlat,
                     prm, dn, n0, out)


def _ray_call(kernel, rays, last, step_m, slot, need, freqs_mhz, htx, hrx, sx, sy, params,
              out, surface):
    check_engine_inputs(freqs_mhz, htx, hrx, params)
    lat0, dlat = site_lat_slope(sx, sy)
    n_rays, n_s = rays.shape
    if surface is None:
        rr, zz = _surface.uniform_rays(n_rays, n_s, params)
    else:
        rr, zz = _surface.surface_along_rays(surface.clutter_m, surface.zone, surface.grid(),
                                             float(sx), float(sy), float(step_m), n_rays, n_s,
                                             np.asarray(last, np.int64))
    lon0 = float(transform_points([sx], [sy], settings.WORK_CRS, settings.STORE_CRS)[0][0])
    dn, n0 = refractivity(params, np.array([lat0]), np.array([lon0]), 1)
    kernel(rays, rr, zz, last, float(step_m), slot, need,
           np.asarray(freqs_mhz, float) / 1000.0, float(htx), float(hrx), lat0, dlat,
           _params(params), float(dn[0]), float(n0[0]), out)


def ray_losses(rays, last, step_m, slot, need, freqs_mhz, htx, hrx, sx, sy,
               params=settings.P1812, out=None, surface=None):
    """P.1812 Lb (dB) of every needed (band, ray sample) into ``out``; rays in parallel.

    Same layout as :func:`phusong.coverage._itm_rays.itm_ray_losses`: ``rays`` (n_rays, n_s)
    ground heights along bearings ``2πk/n_rays`` every ``step_m``; ``last[k]`` the farthest
    needed sample; ``slot[k * n_s + j]`` the output column; ``need[f, u]`` wanted;
    ``(sx, sy)`` the site in WORK_CRS. Each sample's path is the exact ray prefix, analysed
    incrementally along the ray (:mod:`phusong.coverage.p1812._rays`), with the clutter
    height and zone of ``surface`` at every sample (None: the settings' defaults). With the
    user's ITU maps (``params.maps``), ΔN and N0 are read at the site for all its rays (the
    effective Earth radius must stay one per ray for the incremental hulls; the maps' 1.5°
    grid, ~165 km, is ten times a cell's radius); point paths read them at each path centre.
    """
    _ray_call(incremental_rays, rays, last, step_m, slot, need, freqs_mhz, htx, hrx, sx, sy,
              params, out, surface)


def ray_losses_serial(rays, last, step_m, slot, need, freqs_mhz, htx, hrx, sx, sy,
                      params=settings.P1812, out=None, surface=None):
    """:func:`ray_losses` on the calling thread only; same results."""
    _ray_call(incremental_rays_serial, rays, last, step_m, slot, need, freqs_mhz, htx, hrx,
              sx, sy, params, out, surface)


def prefix_ray_losses(rays, last, step_m, slot, need, freqs_mhz, htx, hrx, sx, sy,
                      params=settings.P1812, out=None, surface=None):
    """:func:`ray_losses` computed by the path kernel on every ray prefix, O(j) per sample:
    the reference the incremental walk is tested and benchmarked against."""
    _ray_call(_rays_parallel, rays, last, step_m, slot, need, freqs_mhz, htx, hrx, sx, sy,
              params, out, surface)
