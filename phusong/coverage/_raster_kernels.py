"""Compiled kernels of the raster engine: ray sampling, grid cell → ray sample mapping, and
the fused link budget + best-server reduction (ITM along rays is in :mod:`._itm_rays`).

Every kernel is a pure function of its inputs. The parallel ones (``prange``) give each
iteration its own outputs (a ray, a grid cell), so results do not depend on the number of
threads.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from phusong.coverage._antenna_kernel import (
    back_certificates,
    behind_by_bearing,
    mod360,
    pattern_gain_back,
)

__all__ = ["fill_voids_before", "polar", "sample_rays", "sample_rays_serial", "screen_keep",
           "site_pixels", "site_links", "site_links_serial"]

_JIT = {"cache": True, "nogil": True}
#: Grid cells per call of the link loop (:func:`site_links`' unit of parallel work).
_SPAN = 256


@njit(**_JIT)
def _bilinear(z, x0, y0, px, py, x, y):
    """Same value as :meth:`Terrain.sample` at one point (NaN outside or all-void)."""
    rows, cols = z.shape
    left, top = x0, y0
    right, bottom = x0 + cols * px, y0 - rows * py
    if not (x >= left and x <= right and y >= bottom and y <= top):
        return math.nan
    cf = min(max((x - x0) / px - 0.5, 0.0), cols - 1.0)
    rf = min(max((y0 - y) / py - 0.5, 0.0), rows - 1.0)
    c0 = min(int(math.floor(cf)), max(cols - 2, 0))
    r0 = min(int(math.floor(rf)), max(rows - 2, 0))
    c1 = min(c0 + 1, cols - 1)
    r1 = min(r0 + 1, rows - 1)
    fx = cf - c0
    fy = rf - r0
    num = 0.0
    den = 0.0
    for q in range(4):
        rr = r0 if q < 2 else r1
        cc = c0 if q % 2 == 0 else c1
        w = ((1 - fx) if q % 2 == 0 else fx) * ((1 - fy) if q < 2 else fy)
        v = float(z[rr, cc])
        if math.isfinite(v):
            num += v * w
            den += w
    return num / den if den > 1e-12 else math.nan


@njit(**_JIT)
def fill_voids_before(row, prev, j, v):
    """Fill the voids of ``row`` before sample ``j`` once its value ``v`` (finite) is known.

    ``prev`` is the previous valid sample (−1: none). Before the first valid sample the row
    takes ``v``; between two valid samples it is interpolated linearly, with ``np.interp``'s
    formula (so that numpy-filled profiles are reproduced bit for bit).
    """
    if prev < 0:
        for q in range(j):
            row[q] = v
    elif prev < j - 1:
        a = row[prev]
        slope = (v - a) / (j - prev)
        for q in range(prev + 1, j):
            row[q] = slope * (q - prev) + a


#: Samples per block of :func:`_sample_one`'s branch-free pass.
_SAMPLE_BLOCK = 64


@njit(error_model="numpy", **_JIT)  # px, py > 0 and den ≈ 1: no division by zero to raise
def _sample_one(z, x0, y0, px, py, sx, sy, step, n_rays, k, last, out, max_void_m, bad):
    """Ray ``k`` of :func:`sample_rays` into ``out[k]``, walked until sample ``last`` (and on
    to the next valid sample if it is void, so samples ``≤ last`` equal the full walk's).

    ``bad[k]`` becomes the first sample ending a run of samples without a valid height (voids,
    off the DEM) longer than ``max_void_m`` (run × ``step``, as the point engine measures it):
    that sample and every one behind it sit behind a void too long to bridge.

    Samples go in blocks: a branch-free pass computes :func:`_bilinear` for every sample whose
    four DEM neighbours are valid (the same operations in the same order, so the same value
    bit for bit) and NaN for the others, which the sequential pass (void filling, the stop at
    ``last``) computes again with :func:`_bilinear` itself when they lie on the DEM.
    """
    n_s = out.shape[1]
    ang = k * (2.0 * math.pi / n_rays)
    s, c = math.sin(ang), math.cos(ang)
    rows, cols = z.shape
    right, bottom = x0 + cols * px, y0 - rows * py
    c_hi = max(cols - 2, 0)
    r_hi = max(rows - 2, 0)
    row = out[k]
    prev = -1
    end = n_s
    run = 0
    j0 = 0
    while j0 < n_s:
        j1 = min(j0 + _SAMPLE_BLOCK, n_s)
        for j in range(j0, j1):  # branch-free: vectorised by LLVM
            r = j * step
            x = sx + s * r
            y = sy + c * r
            cf = min(max((x - x0) / px - 0.5, 0.0), cols - 1.0)
            rf = min(max((y0 - y) / py - 0.5, 0.0), rows - 1.0)
            ci = min(int(cf), c_hi)  # cf, rf ≥ 0: truncation is floor
            ri = min(int(rf), r_hi)
            cj = min(ci + 1, cols - 1)
            rj = min(ri + 1, rows - 1)
            fx = cf - ci
            fy = rf - ri
            w0 = (1 - fx) * (1 - fy)
            w1 = fx * (1 - fy)
            w2 = (1 - fx) * fy
            w3 = fx * fy
            num = (((0.0 + float(z[ri, ci]) * w0) + float(z[ri, cj]) * w1)
                   + float(z[rj, ci]) * w2) + float(z[rj, cj]) * w3
            den = (((0.0 + w0) + w1) + w2) + w3
            inside = (x >= x0) & (x <= right) & (y >= bottom) & (y <= y0)
            row[j] = num / den if inside else math.nan
        for j in range(j0, j1):
            v = row[j]
            if not math.isfinite(v):  # off the DEM, or a void among the four neighbours
                r = j * step
                v = _bilinear(z, x0, y0, px, py, sx + s * r, sy + c * r)
                row[j] = v
            if math.isfinite(v):
                run = 0
                if prev != j - 1:
                    fill_voids_before(row, prev, j, v)
                prev = j
                if j >= last:
                    end = j + 1
                    break
            else:
                run += 1
                if run * step > max_void_m and j < bad[k]:
                    bad[k] = j
        if end < n_s:
            break
        j0 = j1
    if prev < 0:
        for j in range(end):
            row[j] = 0.0
    else:
        for q in range(prev + 1, end):
            row[q] = row[prev]
    for q in range(end, n_s):  # beyond the walk (some computed by the block pass): NaN
        row[q] = math.nan


@njit(parallel=True, **_JIT)
def sample_rays(z, x0, y0, px, py, sx, sy, step, n_rays, n_s, last, max_void_m):
    """(n_rays, n_s) ground heights along bearings ``k 2π / n_rays`` every ``step`` m, and
    per ray the first sample behind a void longer than ``max_void_m`` (``n_s``: none).

    Voids and samples off the DEM are filled along each ray by linear interpolation between
    the nearest valid samples (constant beyond the last one); an all-void ray is zero. Ray
    ``k`` is only defined up to sample ``last[k]`` (NaN beyond); rays run in parallel. A
    sample at or past ``bad[k]`` has a ground profile bridged across more than ``max_void_m``
    m of missing heights (use ``inf`` to bridge any length): callers leave it out.
    """
    out = np.empty((n_rays, n_s))  # every row written: walked, then NaN
    bad = np.full(n_rays, n_s, np.int64)
    for k in prange(n_rays):
        if last[k] >= 0:
            _sample_one(z, x0, y0, px, py, sx, sy, step, n_rays, np.int64(k), last[k], out,
                        max_void_m, bad)
        else:
            out[k, :] = np.nan
    return out, bad


@njit(**_JIT)
def sample_rays_serial(z, x0, y0, px, py, sx, sy, step, n_rays, n_s, last, max_void_m):
    """:func:`sample_rays` on the calling thread only; same results."""
    out = np.empty((n_rays, n_s))  # every row written: walked, then NaN
    bad = np.full(n_rays, n_s, np.int64)
    for k in range(n_rays):
        if last[k] >= 0:
            _sample_one(z, x0, y0, px, py, sx, sy, step, n_rays, k, last[k], out, max_void_m,
                        bad)
        else:
            out[k, :] = np.nan
    return out, bad


@njit(inline="always", **_JIT)
def _bearing_deg(dx, dy):
    """Bearing of an offset, degrees clockwise from north in [0, 360)."""
    return mod360(math.degrees(math.atan2(dx, dy)))


@njit(**_JIT)
def polar(dx, dy):
    """Distance (m) and bearing (degrees) of offsets, as :func:`site_pixels` returns them."""
    d = np.empty(dx.shape[0])
    b = np.empty(dx.shape[0])
    for i in range(dx.shape[0]):
        d[i] = math.hypot(dx[i], dy[i])
        b[i] = _bearing_deg(dx[i], dy[i])
    return d, b


@njit(**_JIT)
def site_pixels(mask, gx0, gy0, res, r0, r1, c0, c1, sx, sy, radius, n_rays, n_s, step,
                f_radius, keep, use_keep, ro, co):
    """Grid cells within ``radius`` of a site and the ray point serving each.

    ``mask`` may be a tile whose cell ``(r, c)`` is cell ``(r + ro, c + co)`` of the grid of
    origin ``(gx0, gy0)``; rows ``r0:r1`` and columns ``c0:c1`` index the tile, and the cell
    centres are computed from the grid indices, so a tile gives the same values as the grid.

    With ``use_keep``, band ``f`` is only wanted at cells where ``keep[f, r − r0, c − c0]``
    (the screening of :mod:`._raster`), and cells wanted by no band are left out.

    Returns ``(flat, dx, dy, dist, bearing, used_of_pixel, used_k, used_j, need, slot,
    last, want)``: flat grid index, offset from the site (m), distance (m) and bearing (degrees
    clockwise from north, [0, 360)) per cell, the index of its ray point among the used ones, the ray and sample of each used point, ``need[f, u]``: some cell within
    ``f_radius[f]`` wants ``u``, ``slot[k * n_s + j]``: the used index of sample ``j`` of ray
    ``k`` (−1 when unused), ``last[k]``: the farthest used sample of ray ``k`` (−1: none;
    ray 0 is always at least 0, it gives the site's ground height), and with ``use_keep``
    ``want[p, f]``: grid cell ``p`` itself wants band ``f`` (``(0, n_f)`` without): a ray
    point serves the grid cells nearest to it, and another of them may want a band this one
    does not; :func:`site_links` then leaves that band's links out here, so the links of a
    grid cell depend on its own screening only, never on its neighbours (nor on which of
    them a receiver tile holds).

    Rows farther than ``radius`` from the site, and in each row the columns beyond the disk's
    chord (widened by a metre), are not visited; with ``use_keep`` a cell no band keeps is
    left before its distance is computed: the cells visited are those the full window scan
    would keep, in the same order.
    """
    cols = mask.shape[1]
    n_max = (r1 - r0) * (c1 - c0)
    flat = np.empty(n_max, np.int64)
    dxs = np.empty(n_max)
    dys = np.empty(n_max)
    dist = np.empty(n_max)
    brg = np.empty(n_max)
    uop = np.empty(n_max, np.int64)
    slot = np.full(n_rays * n_s, -1, np.int64)
    uk = np.empty(n_max, np.int64)
    uj = np.empty(n_max, np.int64)
    n_f = f_radius.shape[0]
    need = np.zeros((n_f, n_max), np.bool_)
    want = np.zeros((n_max if use_keep else 0, n_f), np.bool_)
    last = np.full(n_rays, -1, np.int64)
    last[0] = 0
    dang = 360.0 / n_rays
    n = 0
    n_u = 0
    for r in range(r0, r1):
        cy = gy0 - (r + ro + 0.5) * res
        dy = cy - sy
        if abs(dy) > radius * (1.0 + 1e-9):
            continue  # every cell of the row is farther than radius
        # columns whose |dx| may be ≤ the chord's half-width (+ 1 m against rounding)
        half = math.sqrt(max(radius * radius - dy * dy, 0.0)) + 1e-6 * radius + 1.0
        lo = max(c0, int(math.floor((sx - half - gx0) / res - 0.5)) - co - 1)
        hi = min(c1, int(math.ceil((sx + half - gx0) / res - 0.5)) - co + 2)
        for c in range(lo, hi):
            if not mask[r, c]:
                continue
            if use_keep:
                some = False
                for f in range(n_f):
                    if keep[f, r - r0, c - c0]:
                        some = True
                        break
                if not some:
                    continue
            dx = gx0 + (c + co + 0.5) * res - sx
            d = math.hypot(dx, dy)
            if d > radius:
                continue
            if use_keep:
                wanted = False
                for f in range(n_f):
                    wanted = wanted or (d <= f_radius[f] and keep[f, r - r0, c - c0])
                if not wanted:
                    continue
            bearing = _bearing_deg(dx, dy)
            k = int(np.rint(bearing / dang)) % n_rays
            j = min(max(int(np.rint(d / step)), 1), n_s - 1)
            p = k * n_s + j
            u = slot[p]
            if u < 0:
                u = n_u
                slot[p] = u
                uk[u] = k
                uj[u] = j
                n_u += 1
            if j > last[k]:
                last[k] = j
            for f in range(n_f):
                if d <= f_radius[f] and (not use_keep or keep[f, r - r0, c - c0]):
                    need[f, u] = True
                    if use_keep:
                        want[n, f] = True
            flat[n] = r * cols + c
            dxs[n] = dx
            dys[n] = dy
            dist[n] = d
            brg[n] = bearing
            uop[n] = u
            n += 1
    return (flat[:n], dxs[:n], dys[:n], dist[:n], brg[:n], uop[:n], uk[:n_u], uj[:n_u],
            np.ascontiguousarray(need[:, :n_u]), slot, last, want[:n])


@njit(**_JIT)
def _links_span(p0, p1, best, arg, flat, dx, dy, dist, brg, uop, used_k, used_j, rays, loss,
                h_rx, z_top, cells, cfg, cos_b, sin_b, cert, cell_band, cell_group, cell_radius,
                eirp, offset, azimuth, tilt, beamwidth, front_back, v_beamwidth, v_sla, counts,
                ant, clut, sn, want):
    """Grid cells ``p0:p1`` of :func:`site_links` (one call per span: the per-cell work is
    inlined in the loop rather than paying a call with thirty arguments per grid cell)."""
    lc_index, lc_geo, lc_db = clut  # land-cover class per pixel, its geometry, loss per cell
    pattern, etilt, ph, pv, ptilt, pcap = ant[:6]
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
            if want.shape[0] > 0 and not want[p, cell_band[c]]:
                continue  # the band is screened out at this grid cell (not at its ray point)
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
                    if behind_by_bearing(bearing, az, cos_e, sin_e, cos_b[i], sin_b[i],
                                         cert[5, i], cert[6, i], cert[3, i], cert[4, i]):
                        gain = -pcap[pattern[c]]
                    else:
                        gain = pattern_gain_back(ph, pv, ptilt, pcap, pattern[c], bearing, az,
                                                 cos_e, sin_e, cos_b[i], sin_b[i], etilt[c],
                                                 cert[0, i], cert[1, i], cert[2, i],
                                                 cert[3, i], cert[4, i])
                else:
                    if math.isnan(az):
                        ah = 0.0
                    else:
                        phi = mod360(bearing - az + 180.0) - 180.0
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


@njit(parallel=True, **_JIT)
def site_links(best, arg, flat, dx, dy, dist, brg, uop, used_k, used_j, rays, loss, h_tx, h_rx,
               cells, cfg, cell_band, cell_group, cell_radius, eirp, offset, azimuth, tilt,
               beamwidth, front_back, v_beamwidth, v_sla, counts, ant, clut, sn, want):
    """Link budget and best-server reduction of one site into ``best``/``arg`` (in place).

    ``dx``, ``dy``, ``dist``, ``brg``: offset (m), distance (m) and bearing (degrees) of each
    grid cell from the site, as :func:`site_pixels` returns them.

    ``rx = eirp − offset + gain − loss`` (float32) per (grid cell, site cell within its radius),
    with the 3GPP sector pattern of :func:`phusong.coverage._link.sector_gain_db` (or, for
    cells with ``ant[0][c] ≥ 0``, the antenna pattern of :mod:`._antenna_kernel`; ``ant`` is
    ``(pattern, etilt, h, v, tilt, cap, back, vlow)`` of its :class:`PatternTable`, the gain
    behind a back lobe certified by :func:`back_certificates` and the rest evaluated in
    full), minus the P.2108 clutter loss of the grid cell's land-cover class when
    ``clut = (index, geo, loss_db)`` has a table (``geo``: x0, y0, px, py of ``index``,
    site x, y; ``loss_db[class, cell]``). With ``sn = (sum_q, cell_key,
    second)`` non-empty, each link also adds its power in 1e-16 mW integers to
    ``sum_q[cell_key[c], q]`` and updates the group's second best. A level is kept when
    larger than the group's best, ties to the lowest cell index. ``counts[p]`` gets the number
    of links of grid cell ``p``. Each grid cell is written by one iteration only.

    ``cfg[i]`` numbers the antenna configuration of ``cells[i]`` (pattern, azimuth, tilt,
    electrical tilt: cells with equal ones have equal gains towards every grid cell), with
    the cells of one configuration next to each other, so each grid cell computes one gain
    per configuration; the reduction (max, ties to the lowest index; second best; integer
    sums) does not depend on the order of the cells. Links of infinite loss (a band not
    wanted at that grid cell, no valid path) are counted but not evaluated: they cannot
    change any output. With ``want`` non-empty (``(grid cells, bands)`` bool, the screening's
    choice per grid cell, :func:`site_pixels`), the links of a band grid cell ``p`` does not
    want are counted but not evaluated either, even where its ray point has a loss for that
    band (computed for another grid cell it serves).
    """
    z_top = rays[0, 0] + h_tx
    cos_b, sin_b = _tilt_trig(cells, tilt)
    cert = back_certificates(ant[0], azimuth, ant[1], ant[4], ant[6], ant[7], cells)
    n = flat.shape[0]
    for s in prange((n + _SPAN - 1) // _SPAN):
        _links_span(s * _SPAN, min(n, (s + 1) * _SPAN), best, arg, flat, dx, dy, dist, brg,
                    uop, used_k, used_j, rays, loss, h_rx, z_top, cells, cfg, cos_b, sin_b,
                    cert, cell_band, cell_group, cell_radius, eirp, offset, azimuth, tilt,
                    beamwidth, front_back, v_beamwidth, v_sla, counts, ant, clut, sn, want)


@njit(**_JIT)
def site_links_serial(best, arg, flat, dx, dy, dist, brg, uop, used_k, used_j, rays, loss,
                      h_tx, h_rx, cells, cfg, cell_band, cell_group, cell_radius, eirp, offset,
                      azimuth, tilt, beamwidth, front_back, v_beamwidth, v_sla, counts, ant,
                      clut, sn, want):
    """:func:`site_links` on the calling thread only; same results."""
    z_top = rays[0, 0] + h_tx
    cos_b, sin_b = _tilt_trig(cells, tilt)
    cert = back_certificates(ant[0], azimuth, ant[1], ant[4], ant[6], ant[7], cells)
    _links_span(0, flat.shape[0], best, arg, flat, dx, dy, dist, brg, uop, used_k, used_j, rays,
                loss, h_rx, z_top, cells, cfg, cos_b, sin_b, cert, cell_band, cell_group,
                cell_radius, eirp, offset, azimuth, tilt, beamwidth, front_back, v_beamwidth,
                v_sla, counts, ant, clut, sn, want)


@njit(inline="always", **_JIT)
def _box_max(a, half, tmp, out):
    """``out = scipy.ndimage.maximum_filter(a, size=2 half + 1, mode="constant",
    cval=−inf)`` on a 2-D array (max is exact, so the separable form gives the same values)."""
    h, w = a.shape
    for r in range(h):
        for c in range(w):
            m = -np.inf
            for q in range(max(0, c - half), min(w, c + half + 1)):
                m = max(m, a[r, q])
            tmp[r, c] = m
    for r in range(h):
        for c in range(w):
            m = -np.inf
            for q in range(max(0, r - half), min(h, r + half + 1)):
                m = max(m, tmp[q, c])
            out[r, c] = m


@njit(**_JIT)
def screen_keep(v, ref, half, margin, band_of, ri, ci, outside, out):
    """The screening's fine cells per band of one site (:meth:`._raster._Screen.keep`).

    ``v`` (n_g, h, w) float32: the site's coarse values per group of its own (−inf: none),
    ``ref`` the same cells of each group's reference best; ``d = v − ref`` (computed in float32,
    as numpy does) where ``v`` is finite, −inf elsewhere. Group ``i`` keeps a coarse cell when
    the largest ``d`` on the ``(2 half + 1)²`` block around it is ≥ −``margin``, or when no
    ``v`` on its 3 × 3 block is finite (nothing known there). ``out[b, r, c]`` (bool, in place)
    is True where some group ``i`` with ``band_of[i, b]`` keeps coarse cell ``(ri[r],
    ci[c])``, or ``outside[r, c]``.
    """
    n_g, h, w = v.shape
    n_b = out.shape[0]
    kb = np.zeros((n_b, h, w), np.bool_)
    d = np.empty((h, w))
    kn = np.empty((h, w))
    tmp = np.empty((h, w))
    near = np.empty((h, w))
    seen = np.empty((h, w))
    for i in range(n_g):
        for r in range(h):
            for c in range(w):
                x = v[i, r, c]
                if math.isfinite(x):
                    d[r, c] = np.float32(x - ref[i, r, c])
                    kn[r, c] = 1.0
                else:
                    d[r, c] = -np.inf
                    kn[r, c] = -np.inf
        _box_max(d, half, tmp, near)
        _box_max(kn, 1, tmp, seen)
        for r in range(h):
            for c in range(w):
                if near[r, c] >= -margin or not seen[r, c] > 0.0:
                    for b in range(n_b):
                        if band_of[i, b]:
                            kb[b, r, c] = True
    for b in range(n_b):
        for r in range(ri.shape[0]):
            for c in range(ci.shape[0]):
                out[b, r, c] = outside[r, c] or kb[b, ri[r], ci[c]]
