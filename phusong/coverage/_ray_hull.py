"""Bullington geometry along radial rays in O(n log n) per ray, exactly (numba kernel).

Every sample of a ray is a receiver, so the direct form (:func:`._diffraction._geom_one` per
sample) costs O(n²) per ray. In the transmitter's tangent plane the ground points
``P_i = (d_i, z_i − d_i²/(2 k a))`` do not depend on the receiver, so as the ray advances:

- the transmitter's steepest slope ``S_tim`` and the mean ground height are running values;
- the receiver's steepest slope ``S_rim = max_i (z_i − z_r)/(d − d_i)`` is the tangent from
  the receiver point to the **upper convex hull** of the earlier points, found by binary search
  on the hull (kept as a stack, amortised O(1) per added point; Andrew's monotone chain);
- the largest terrain clearance above the direct ray, ``max_i z_i − (z_t + s d_i)``, is the
  hull's support point in the direction of the ray's slope ``s``, also a binary search.

Line-of-sight receivers need the largest Fresnel parameter ``G_i = h_i √(2d/(d_i(d−d_i)))``,
which is not a hull query. In line of sight every ``h_i < 0`` and ``√(2d/(d_i(d−d_i))) ≥
√(8/d)``, so ``max G ≤ h_max √(8/d)``; when that bound is already below ``g_floor`` (the knife-edge
threshold ``v = −0.78`` at the longest wavelength in use) the loss is J = 0 at every band and the
bound is returned; otherwise the samples are scanned exactly. Deygout's sub-edges are maxima of
the same weighted form on sub-paths and have no such exact shortcut, so Deygout keeps the direct
kernel.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from phusong.coverage._hull import hull_push, hull_support, hull_tangent

__all__ = ["geom_rays_hull"]

_NEG = -1e30


#: Samples per block of the line-of-sight scan's pruning (block maxima of the ground).
_BLOCK = 16


@numba.njit(cache=True, nogil=True, inline="always")
def _g_at(zc, i, step, d, ztp, zrp):
    d1 = i * step
    h = zc[i] - (ztp + (zrp - ztp) * d1 / d)
    return h * math.sqrt(2.0 * d / (d1 * (d - d1)))


@numba.njit(cache=True, nogil=True)
def _los_gmax(zc, bmax, step, n, ztp, zrp, k0):
    """Exact max of G over samples 1..n−2 of a line-of-sight path, pruned by blocks.

    Every ``h_i < 0`` in line of sight, so a block whose largest possible ``h`` (its ground
    maximum above the lowest point of the direct ray over the block) times the smallest
    weight ``√(2d/(x(d−x)))`` on it (at the x closest to d/2) is below the best G so far
    cannot hold the maximum. Blocks that may hold it are scanned with the same formula, so the
    result is the direct scan's, bit for bit. ``k0`` (the sample of largest clearance) seeds
    the best value.
    """
    d = (n - 1) * step
    slope = (zrp - ztp) / d
    best = _g_at(zc, k0, step, d, ztp, zrp)
    last = n - 2
    b = 0
    while 1 + b * _BLOCK <= last:
        a = 1 + b * _BLOCK
        e = min(a + _BLOCK - 1, last)
        if e == a + _BLOCK - 1:  # a full block: prune on its bound
            lo = a * step if slope > 0.0 else e * step
            hb = bmax[b] - (ztp + slope * lo)
            if hb < 0.0:
                xm = min(max(0.5 * d, a * step), e * step)
                if hb * math.sqrt(2.0 * d / (xm * (d - xm))) < best:
                    b += 1
                    continue
        for i in range(a, e + 1):
            g = _g_at(zc, i, step, d, ztp, zrp)
            if g > best:
                best = g
        b += 1
    return best


@numba.njit(cache=True, nogil=True)
def geom_rays_hull(rays, last, slot, step, zt, hrx, inv2a, method, g_floor, out):
    """Geometry of the samples of ``rays`` as receivers, Bullington (``method`` 0) or none (−1).

    Same columns and values as ``_diffraction._geom_rays`` (G of the principal edge, −1e30 for
    the unused Deygout columns, largest clearance ``h_max`` in m, mean ground height in m),
    except that a line-of-sight G whose bound is below ``g_floor`` is returned as that bound.
    Sample ``j`` of ray ``r`` goes to row ``slot[r, j]`` of ``out`` ((n_out, 5)); samples of
    negative slot are only walked over (the hull and running values need every sample, the
    queries only the samples asked for). Ray ``r`` is only walked up to sample ``last[r]``
    (nothing when negative); rows not asked for are left as they were.
    """
    n_s = rays.shape[1]
    zc = np.empty(n_s)
    hd = np.empty(n_s)
    hz = np.empty(n_s)
    hi_ = np.empty(n_s, np.int64)
    bmax = np.empty((n_s + _BLOCK - 1) // _BLOCK)
    for r in range(rays.shape[0]):
        if last[r] < 0:
            continue
        z = rays[r]
        n_r = last[r] + 1
        for i in range(n_r):
            di = i * step
            zc[i] = z[i] - di * di * inv2a
        for b in range(bmax.shape[0]):  # ground maxima of blocks of samples 1 + bB …
            v = -np.inf
            for i in range(1 + b * _BLOCK, min(1 + (b + 1) * _BLOCK, n_r)):
                v = max(v, zc[i])
            bmax[b] = v
        u = slot[r, 0]
        if u >= 0:
            out[u, 0] = _NEG
            out[u, 1] = _NEG
            out[u, 2] = _NEG
            out[u, 3] = _NEG
            out[u, 4] = z[0]
        total = z[0]
        m = 0
        s_tim = _NEG
        for j in range(1, n_r):
            total += z[j]
            n = j + 1
            if j >= 2:  # add sample j−1 (the newest interior point) to the hull and S_tim
                pi = j - 1
                pd = pi * step
                pz = zc[pi]
                m = hull_push(hd, hz, m, pd, pz)
                hi_[m - 1] = pi
                a = (pz - zt) / pd
                if a > s_tim:
                    s_tim = a
            u = slot[r, j]
            if u < 0:
                continue
            out[u, 1] = _NEG
            out[u, 2] = _NEG
            out[u, 4] = total / n
            if m == 0:
                out[u, 0] = _NEG
                out[u, 3] = _NEG
                continue
            d = j * step
            zrp = z[j] + hrx - d * d * inv2a
            k = hi_[hull_support(hd, hz, m, (zrp - zt) / d)]
            hmax = zc[k] - (zt + (zrp - zt) * k * step / d)
            out[u, 3] = hmax
            if method < 0:
                out[u, 0] = _NEG
                continue
            s_tr = (zrp - zt) / d
            if s_tim < s_tr:
                bound = hmax * math.sqrt(8.0 / d)
                out[u, 0] = (bound if bound < g_floor
                             else _los_gmax(zc, bmax, step, n, zt, zrp, k))
                continue
            k = hi_[hull_tangent(hd, hz, m, d, zrp, False)]
            s_rim = (zc[k] - zrp) / (d - k * step)
            db = (zrp - zt + s_rim * d) / (s_tim + s_rim)
            db = min(max(db, 1e-3 * step), d - 1e-3 * step)
            hb = zt + s_tim * db - (zt + (zrp - zt) * db / d)
            out[u, 0] = hb * math.sqrt(2.0 * d / (db * (d - db)))
