"""The raster's link loop before 2026-12-07 (issue 14, engineer link14e), frozen: the reference
that ``tests/test_raster_links.py`` holds the current ``site_links`` to, bit for bit.

``_cut``, ``pattern_gain_pre`` (from ``_antenna_kernel``) and ``_links_span``, ``_tilt_trig``,
``site_links_serial`` (from ``_raster_kernels``) as they were, with ``ant`` the old 6-tuple
``(pattern, etilt, h, v, tilt, cap)``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_JIT = {"cache": False, "nogil": True}


@njit(**_JIT)
def _cut(table, k, angle_deg):
    """Before: linear interpolation of row ``k`` of a 0.1° circular table at ``angle_deg``."""
    n = table.shape[1]
    x = (angle_deg % 360.0) / 360.0 * n
    i = int(math.floor(x))
    f = x - i
    i0 = i % n
    i1 = (i + 1) % n
    return table[k, i0] * (1.0 - f) + table[k, i1] * f


@njit(inline="always", **_JIT)
def pattern_gain_pre(h, v, tilt, cap, k, bearing, azimuth, cos_e, sin_e, cos_b, sin_b, etilt):
    """:func:`pattern_gain_db` from the cosine and sine of the elevation ``e = −down`` and of
    the mechanical tilt ``b`` (radians; ``b = 0`` for NaN tilt), computed once by the caller
    for every link that shares them; the same operations, so the same value bit for bit."""
    omni = math.isnan(azimuth)
    phi = math.radians(bearing - (0.0 if omni else azimuth))
    x = cos_e * math.cos(phi)
    y = cos_e * math.sin(phi)
    z = sin_e
    xr = x * cos_b - z * sin_b
    zr = x * sin_b + z * cos_b
    phi_r = math.degrees(math.atan2(y, xr))
    theta_r = -math.degrees(math.asin(min(max(zr, -1.0), 1.0)))
    shift = 0.0 if math.isnan(etilt) else etilt - tilt[k]
    ah = 0.0 if omni else _cut(h, k, phi_r)
    av = _cut(v, k, theta_r - shift)
    return -min(ah + av, cap[k])


@njit(**_JIT)
def _links_span(p0, p1, best, arg, flat, dx, dy, dist, brg, uop, used_k, used_j, rays, loss,
                h_rx, z_top, cells, cfg, cos_b, sin_b, cell_band, cell_group, cell_radius, eirp,
                offset, azimuth, tilt, beamwidth, front_back, v_beamwidth, v_sla, counts, ant,
                clut, sn):
    """Grid cells ``p0:p1`` of :func:`site_links` (one call per span: the per-cell work is
    inlined in the loop rather than paying a call with thirty arguments per grid cell)."""
    lc_index, lc_geo, lc_db = clut  # land-cover class per pixel, its geometry, loss per cell
    pattern, etilt, ph, pv, ptilt, pcap = ant
    sum_q, cell_key, second = sn  # SINR sums and second best (issue 17), empty when off
    for p in range(p0, p1):
        d = dist[p]
        u = uop[p]
        bearing = brg[p]
        down = math.nan  # elevation angle to the antenna top, degrees: on first use
        q = flat[p]
        nl = 0
        kc = -2  # land-cover class of the grid cell (−1: no clutter table): on first use
        have = -1  # the antenna configuration whose gain towards this grid cell is in ``gain``
        gain = 0.0
        cos_e = math.nan
        sin_e = math.nan
        for i in range(cells.shape[0]):
            c = cells[i]
            if not d <= cell_radius[c]:
                continue
            nl += 1
            lb = loss[cell_band[c], u]
            if lb == math.inf:  # no signal (band not wanted here, or no valid path): a level of
                continue        # −inf changes no best, second best or power sum
            if cfg[i] != have:
                have = cfg[i]
                az = azimuth[c]
                tl = tilt[c]
                if math.isnan(down) and (pattern[c] >= 0 or not math.isnan(tl)):
                    down = math.degrees(math.atan2(z_top - (rays[used_k[u], used_j[u]] + h_rx),
                                                   d))
                if pattern[c] >= 0:  # a named antenna: tilt is mechanical (issue 17)
                    if math.isnan(cos_e):
                        e = -math.radians(down)
                        cos_e = math.cos(e)
                        sin_e = math.sin(e)
                    gain = pattern_gain_pre(ph, pv, ptilt, pcap, pattern[c], bearing, az, cos_e,
                                            sin_e, cos_b[i], sin_b[i], etilt[c])
                else:
                    if math.isnan(az):
                        ah = 0.0
                    else:
                        phi = (bearing - az + 180.0) % 360.0 - 180.0
                        ah = -min(12.0 * (phi / beamwidth) ** 2, front_back)
                    if math.isnan(tl):
                        av = 0.0
                    else:
                        av = -min(12.0 * ((down - tl) / v_beamwidth) ** 2, v_sla)
                    gain = -min(-(ah + av), front_back)
            if kc == -2:
                kc = -1
                if lc_db.shape[0] > 1:
                    col = math.floor((lc_geo[4] + dx[p] - lc_geo[0]) / lc_geo[2])
                    row = math.floor((lc_geo[1] - (lc_geo[5] + dy[p])) / lc_geo[3])
                    kc = lc_db.shape[0] - 1
                    if 0 <= row < lc_index.shape[0] and 0 <= col < lc_index.shape[1]:
                        kc = lc_index[int(row), int(col)]
            v = np.float32(eirp[c] - offset[c] + gain - lb
                           - (lc_db[kc, c] if kc >= 0 else 0.0))
            g = cell_group[c]
            wins = v > best[g, q] or (v == best[g, q] and c < arg[g, q])
            if second.shape[0] > 0:
                second[g, q] = max(second[g, q], best[g, q] if wins else v)
            if sum_q.shape[0] > 0 and cell_key[c] >= 0:
                mw = 10.0 ** (min(float(v), 0.0) / 10.0)
                sum_q[cell_key[c], q] += np.int64(np.rint(mw / 1e-16))
            if wins:
                best[g, q] = v
                arg[g, q] = c
        counts[p] = nl


@njit(**_JIT)
def _tilt_trig(cells, tilt):
    """Cosine and sine of each cell's mechanical tilt (radians; 0 for NaN), per local cell."""
    cos_b = np.empty(cells.shape[0])
    sin_b = np.empty(cells.shape[0])
    for i in range(cells.shape[0]):
        tl = tilt[cells[i]]
        b = 0.0 if math.isnan(tl) else math.radians(tl)
        cos_b[i] = math.cos(b)
        sin_b[i] = math.sin(b)
    return cos_b, sin_b


@njit(**_JIT)
def site_links_serial(best, arg, flat, dx, dy, dist, brg, uop, used_k, used_j, rays, loss,
                      h_tx, h_rx, cells, cfg, cell_band, cell_group, cell_radius, eirp, offset,
                      azimuth, tilt, beamwidth, front_back, v_beamwidth, v_sla, counts, ant,
                      clut, sn):
    """:func:`site_links` on the calling thread only; same results."""
    z_top = rays[0, 0] + h_tx
    cos_b, sin_b = _tilt_trig(cells, tilt)
    _links_span(0, flat.shape[0], best, arg, flat, dx, dy, dist, brg, uop, used_k, used_j, rays,
                loss, h_rx, z_top, cells, cfg, cos_b, sin_b, cell_band, cell_group, cell_radius,
                eirp, offset, azimuth, tilt, beamwidth, front_back, v_beamwidth, v_sla, counts,
                ant, clut, sn)
