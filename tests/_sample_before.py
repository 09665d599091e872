"""The raster's ray sampler before 2026-12-07 (issue 14, engineer hata14f), frozen: the
reference that ``tests/test_raster_stages.py`` holds the current ``sample_rays`` to, bit for bit.

``_bilinear``, ``fill_voids_before``, ``_sample_one`` and ``sample_rays_serial`` (from
``_raster_kernels``) as they were: one sample at a time, each through ``_bilinear``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_JIT = {"cache": False, "nogil": True}


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


@njit(**_JIT)
def _sample_one(z, x0, y0, px, py, sx, sy, step, n_rays, k, last, out, max_void_m, bad):
    """Ray ``k`` of :func:`sample_rays` into ``out[k]``, walked until sample ``last`` (and on
    to the next valid sample if it is void, so samples ``≤ last`` equal the full walk's).

    ``bad[k]`` becomes the first sample ending a run of samples without a valid height (voids,
    off the DEM) longer than ``max_void_m`` (run × ``step``, as the point engine measures it):
    that sample and every one behind it sit behind a void too long to bridge."""
    n_s = out.shape[1]
    ang = k * (2.0 * math.pi / n_rays)
    s, c = math.sin(ang), math.cos(ang)
    prev = -1
    end = n_s
    run = 0
    for j in range(n_s):
        r = j * step
        v = _bilinear(z, x0, y0, px, py, sx + s * r, sy + c * r)
        out[k, j] = v
        if math.isfinite(v):
            run = 0
            fill_voids_before(out[k], prev, j, v)
            prev = j
            if j >= last:
                end = j + 1
                break
        else:
            run += 1
            if run * step > max_void_m and j < bad[k]:
                bad[k] = j
    if prev < 0:
        for j in range(end):
            out[k, j] = 0.0
    else:
        for q in range(prev + 1, end):
            out[k, q] = out[k, prev]


@njit(**_JIT)
def sample_rays_serial(z, x0, y0, px, py, sx, sy, step, n_rays, n_s, last, max_void_m):
    """:func:`sample_rays` on the calling thread only; same results."""
    out = np.full((n_rays, n_s), np.nan)
    bad = np.full(n_rays, n_s, np.int64)
    for k in range(n_rays):
        if last[k] >= 0:
            _sample_one(z, x0, y0, px, py, sx, sy, step, n_rays, k, last[k], out, max_void_m,
                        bad)
    return out, bad
