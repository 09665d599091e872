"""Terrain knife-edge diffraction over profiles: Bullington and Deygout (numba kernels).

Geometry is computed once per path and is frequency independent: for an edge of height ``H``
above the direct ray at distances ``d1``, ``d2`` from the ends, the Fresnel-Kirchhoff
parameter is ``v = H sqrt(2 d / (λ d1 d2)) = G / sqrt(λ)``; the kernels return ``G`` (m^0.5)
so that one profile serves every frequency of a site. Earth curvature uses the effective
radius ``k a``: heights are expressed in the transmitter's tangent plane, ``z − d²/(2 k a)``,
in which every ray is straight (equivalent to adding the bulge ``d1 d2 / (2 k a)``).

Bullington (ITU-R P.526-15 §4.5.1): one equivalent edge at the intersection of the steepest
rays from each end (or the edge of largest ``v`` when the path is line of sight).
Deygout (ITU-R P.526-15 §4.5.2 pre-2013 form, 3 edges): the principal edge of largest ``v``
plus the largest sub-edge on each side, sub-edges counted only when the principal edge
obstructs (``v > −0.78``).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from phusong.coverage._ray_hull import geom_rays_hull
from phusong.coverage._terrain import EARTH_RADIUS_M
from phusong.coverage.models import knife_edge_db

__all__ = [
    "METHODS",
    "path_geometry",
    "ray_geometry",
    "used_rows",
    "diffraction_loss_db",
    "bullington_db",
    "deygout_db",
]

#: Diffraction methods by name → kernel code.
METHODS = {"none": -1, "bullington": 0, "deygout": 1}
_NEG = -1e30


@numba.njit(cache=True, nogil=True)
def _seg_max(zc, step, i0, i1, za, zb):
    # largest G over samples strictly between i0 and i1, straight ray za (at i0) → zb (at i1)
    best = _NEG
    arg = -1
    d = (i1 - i0) * step
    for i in range(i0 + 1, i1):
        d1 = (i - i0) * step
        d2 = d - d1
        h = zc[i] - (za + (zb - za) * d1 / d)
        g = h * math.sqrt(2.0 * d / (d1 * d2))
        if g > best:
            best = g
            arg = i
    return best, arg


@numba.njit(cache=True, nogil=True)
def _geom_one(z, n, step, zt, zr, inv2a, method, zc):
    """(gp, gt, gr, hmax, zmean) of the path z[0:n], rx at sample n-1."""
    d = (n - 1) * step
    s = 0.0
    for i in range(n):
        di = i * step
        zc[i] = z[i] - di * di * inv2a
        s += z[i]
    zmean = s / n
    ztp = zt
    zrp = zr - d * d * inv2a
    hmax = _NEG
    for i in range(1, n - 1):
        h = zc[i] - (ztp + (zrp - ztp) * i * step / d)
        if h > hmax:
            hmax = h
    gp = _NEG
    gt = _NEG
    gr = _NEG
    if n <= 2 or method < 0:
        return gp, gt, gr, hmax, zmean
    if method == 0:
        s_tr = (zrp - ztp) / d
        s_tim = _NEG
        s_rim = _NEG
        for i in range(1, n - 1):
            di = i * step
            a = (zc[i] - ztp) / di
            b = (zc[i] - zrp) / (d - di)
            if a > s_tim:
                s_tim = a
            if b > s_rim:
                s_rim = b
        if s_tim < s_tr:
            gp, _ = _seg_max(zc, step, 0, n - 1, ztp, zrp)
        else:
            db = (zrp - ztp + s_rim * d) / (s_tim + s_rim)
            db = min(max(db, 1e-3 * step), d - 1e-3 * step)
            hb = ztp + s_tim * db - (ztp + (zrp - ztp) * db / d)
            gp = hb * math.sqrt(2.0 * d / (db * (d - db)))
        return gp, gt, gr, hmax, zmean
    gp, p = _seg_max(zc, step, 0, n - 1, ztp, zrp)
    if p > 0:
        gt, _ = _seg_max(zc, step, 0, p, ztp, zc[p])
        gr, _ = _seg_max(zc, step, p, n - 1, zc[p], zrp)
    return gp, gt, gr, hmax, zmean


@numba.njit(cache=True, nogil=True)
def _geom_pairs(profiles, n_valid, step, zt, zr, inv2a, method, out):
    zc = np.empty(profiles.shape[1])
    for k in range(profiles.shape[0]):
        gp, gt, gr, hm, zm = _geom_one(profiles[k], n_valid[k], step[k], zt[k], zr[k], inv2a,
                                       method, zc)
        out[k, 0] = gp
        out[k, 1] = gt
        out[k, 2] = gr
        out[k, 3] = hm
        out[k, 4] = zm


@numba.njit(cache=True, nogil=True)
def _geom_rays(rays, step, zt, hrx, inv2a, method, out):
    zc = np.empty(rays.shape[1])
    for r in range(rays.shape[0]):
        out[r, 0, 0] = _NEG
        out[r, 0, 1] = _NEG
        out[r, 0, 2] = _NEG
        out[r, 0, 3] = _NEG
        out[r, 0, 4] = rays[r, 0]
        for j in range(1, rays.shape[1]):
            gp, gt, gr, hm, zm = _geom_one(rays[r], j + 1, step, zt, rays[r, j] + hrx, inv2a,
                                           method, zc)
            out[r, j, 0] = gp
            out[r, j, 1] = gt
            out[r, j, 2] = gr
            out[r, j, 3] = hm
            out[r, j, 4] = zm


def path_geometry(profiles, n_valid, step_m, tx_height_m, rx_height_m, *,
                  method: str = "deygout", k_factor: float = 4.0 / 3.0) -> np.ndarray:
    """Diffraction geometry of a batch of paths.

    Parameters
    ----------
    profiles : ndarray
        (n_paths, max_len) ground heights, m; sample 0 at the transmitter.
    n_valid : ndarray
        Valid samples per path.
    step_m : ndarray or float
        Sample spacing per path, m.
    tx_height_m, rx_height_m : ndarray or float
        Antenna heights above the ground at each end, m.
    method : str
        ``deygout``, ``bullington`` or ``none``.
    k_factor : float
        Effective earth-radius factor.

    Returns
    -------
    ndarray
        (n_paths, 5): G of the principal edge, G of the tx-side and rx-side sub-edges
        (Deygout; −1e30 when absent), the largest clearance of terrain above the ray (m; > 0
        means no line of sight) and the mean ground height of the path (m).
    """
    prof = np.ascontiguousarray(profiles, dtype=np.float64)
    n = prof.shape[0]
    nv = np.asarray(n_valid, dtype=np.int64)
    rows = np.arange(n)
    step = np.broadcast_to(np.asarray(step_m, float), (n,)).copy()
    zt = prof[rows, 0] + np.broadcast_to(np.asarray(tx_height_m, float), (n,))
    zr = prof[rows, nv - 1] + np.broadcast_to(np.asarray(rx_height_m, float), (n,))
    out = np.empty((n, 5))
    inv2a = 1.0 / (2.0 * k_factor * EARTH_RADIUS_M)
    _geom_pairs(prof, nv, step, zt, zr, inv2a, METHODS[method], out)
    return out


def ray_geometry(rays, step_m: float, ground_tx_m: float, tx_height_m: float,
                 rx_height_m: float, *, method: str = "deygout",
                 k_factor: float = 4.0 / 3.0, min_freq_mhz: float | None = None,
                 last: np.ndarray | None = None, slot: np.ndarray | None = None) -> np.ndarray:
    """Diffraction geometry for every sample of radial rays taken as a receiver.

    Parameters
    ----------
    rays : ndarray
        (n_rays, n_samples) ground heights, m; sample 0 at the transmitter, spacing ``step_m``.
    step_m : float
        Sample spacing, m.
    ground_tx_m, tx_height_m, rx_height_m : float
        Ground at the transmitter and antenna heights above ground, m.
    method, k_factor
        As :func:`path_geometry`.
    min_freq_mhz : float, optional
        Lowest frequency the geometry will serve, MHz. With it, a line-of-sight receiver whose
        largest Fresnel parameter is provably below the knife-edge threshold (J = 0 at every
        frequency ≥ this one) gets that upper bound instead of the exact maximum; the losses
        are identical. Without it every value is exact.
    last : ndarray of int, optional
        Last sample needed on each ray (−1: none); ``bullington`` and ``none`` stop there and
        leave the rest of ``out`` undefined (default: whole rays).
    slot : ndarray of int, optional
        (n_rays · n_samples) row of the output wanted for each sample (−1: not wanted), as
        :func:`._raster_kernels.site_pixels` numbers the used ray points; the result then
        has one row per used point (``slot.max() + 1`` rows) and ``bullington``/``none``
        only evaluate those samples (default: every sample, rows in ray order).

    Returns
    -------
    ndarray
        (n_rays, n_samples, 5) as :func:`path_geometry` for the path tx → each sample, or
        (n_used, 5) with ``slot``.

    Notes
    -----
    ``bullington`` and ``none`` run in O(n log n) per ray (:mod:`._ray_hull`); ``deygout`` has
    no exact incremental form and stays O(n²) per ray.
    """
    r = np.ascontiguousarray(rays, dtype=np.float64)
    inv2a = 1.0 / (2.0 * k_factor * EARTH_RADIUS_M)
    zt = float(ground_tx_m + tx_height_m)
    if method == "deygout":
        out = np.empty(r.shape + (5,))
        _geom_rays(r, float(step_m), zt, float(rx_height_m), inv2a, METHODS[method], out)
        return out if slot is None else used_rows(out, slot)
    g_floor = _NEG
    if min_freq_mhz is not None:  # v = G/√λ ≤ −0.78 ⇒ J(v) = 0; a hair of margin for rounding
        g_floor = -0.78 * math.sqrt(299.792458 / float(min_freq_mhz)) * (1.0 + 1e-9)
    last = (np.full(r.shape[0], r.shape[1] - 1, np.int64) if last is None
            else np.ascontiguousarray(last, np.int64))
    if slot is None:
        rows = np.arange(r.size, dtype=np.int64).reshape(r.shape)
        out = np.empty((r.size, 5))
    else:
        rows = np.ascontiguousarray(slot, np.int64).reshape(r.shape)
        out = np.empty((int(rows.max()) + 1, 5))
    geom_rays_hull(r, last, rows, float(step_m), zt, float(rx_height_m), inv2a, METHODS[method],
                   g_floor, out)
    return out if slot is not None else out.reshape(r.shape + (5,))


def used_rows(out: np.ndarray, slot: np.ndarray) -> np.ndarray:
    """The rows of whole-ray geometry ``out`` ((n_rays, n_samples, 5)) that ``slot`` asks for,
    numbered as :func:`ray_geometry` numbers them with ``slot``."""
    used = np.flatnonzero(slot >= 0)
    rows = np.empty((int(slot.max()) + 1, 5))
    rows[slot[used]] = out.reshape(-1, 5)[used]
    return rows


def diffraction_loss_db(geometry: np.ndarray, freq_mhz, method: str) -> np.ndarray:
    """Diffraction loss, dB, from :func:`path_geometry` output (``[..., 0:3]``) at ``freq_mhz``."""
    if method == "none":
        return np.zeros(geometry.shape[:-1])
    lam = 299.792458 / np.asarray(freq_mhz, float)
    s = 1.0 / np.sqrt(lam)
    vp = geometry[..., 0] * s
    loss = knife_edge_db(vp).reshape(vp.shape)
    if method == "deygout":
        sub = knife_edge_db(geometry[..., 1] * s).reshape(vp.shape) + knife_edge_db(
            geometry[..., 2] * s
        ).reshape(vp.shape)
        loss = loss + np.where(vp > -0.78, sub, 0.0)
    return loss


def _loss(method, profiles, n_valid, step_m, tx_height_m, rx_height_m, freq_mhz, k_factor):
    prof = np.atleast_2d(np.asarray(profiles, float))
    nv = (np.full(prof.shape[0], prof.shape[1]) if n_valid is None
          else np.asarray(n_valid, np.int64))
    g = path_geometry(prof, nv, step_m, tx_height_m, rx_height_m, method=method,
                      k_factor=k_factor)
    return diffraction_loss_db(g, freq_mhz, method)


def bullington_db(profiles, step_m, tx_height_m, rx_height_m, freq_mhz, *, n_valid=None,
                  k_factor: float = 4.0 / 3.0) -> np.ndarray:
    """Bullington equivalent knife-edge loss per path (ITU-R P.526-15 §4.5.1), dB.

    Formula: steepest slopes ``S_tim``/``S_rim`` from each end (heights with the earth bulge),
    edge at ``d_b = (h_rs − h_ts + S_rim d)/(S_tim + S_rim)``, loss ``J(v_b)``; for a line-of-
    sight path ``J(max v_i)``. Validity: any frequency where knife edges are a fair model of
    terrain (VHF–SHF). Reference: ITU-R P.526-15 (2019) §4.5.1.

    Parameters
    ----------
    profiles : array_like
        (n_paths, len) ground heights, m (or one 1-D profile).
    step_m, tx_height_m, rx_height_m, freq_mhz : float or ndarray
        Spacing, antenna heights above ground, frequency.
    n_valid : ndarray, optional
        Valid length per path (default: full rows).
    k_factor : float
        Effective earth-radius factor.
    """
    return _loss("bullington", profiles, n_valid, step_m, tx_height_m, rx_height_m, freq_mhz,
                 k_factor)


def deygout_db(profiles, step_m, tx_height_m, rx_height_m, freq_mhz, *, n_valid=None,
               k_factor: float = 4.0 / 3.0) -> np.ndarray:
    """Deygout 3-edge loss per path, dB: ``J(v_p) + J(v_t) + J(v_r)`` (sub-edges when v_p > −0.78).

    Validity and reference: as :func:`bullington_db`; J. Deygout, IEEE Trans. Antennas Propag.
    14(4), 1966; ITU-R P.526-12 §4.5.2.
    """
    return _loss("deygout", profiles, n_valid, step_m, tx_height_m, rx_height_m, freq_mhz,
                 k_factor)
