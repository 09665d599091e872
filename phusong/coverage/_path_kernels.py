"""Compiled sampling of straight-path ground profiles (villages, candidate sites, any pairs).

:func:`sample_paths` gives, bit for bit, what :meth:`phusong.coverage.Terrain.sample` along each
path followed by linear filling of the voids gives, without the padded numpy temporaries that
made profile sampling over 80 % of scoring the villages (29 of 35 CPU-s on the twin).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from phusong.coverage._raster_kernels import _bilinear, fill_voids_before

__all__ = ["sample_paths", "sample_paths_serial"]


@njit(parallel=True, cache=True, nogil=True)
def sample_paths(z, x0, y0, px, py, tx_x, tx_y, dx, dy, n_valid, max_len):
    """Ground heights along straight paths, m.

    Parameters
    ----------
    z : ndarray
        (rows, cols) DEM heights, m, NaN = void (a :class:`Terrain`'s ``z``).
    x0, y0, px, py : float
        The DEM's top-left corner and pixel sides, m.
    tx_x, tx_y, dx, dy : ndarray
        Path starts and their offsets to the path ends, WORK_CRS m (one per path).
    n_valid : ndarray
        Samples per path (≥ 2): sample ``k`` lies at ``min(k / (n_valid − 1), 1)`` of the way.
    max_len : int
        Columns of the output (≥ ``n_valid.max()``).

    Returns
    -------
    profiles : ndarray
        (n_paths, max_len) float64 heights; voids (and points off the DEM) linearly
        interpolated between the nearest valid samples, constant beyond the first and last
        ones; padded past ``n_valid`` with the last sample.
    ok : ndarray of bool
        False for a path without any valid sample (its row is zeros).
    void_run : ndarray of int64
        Longest run of consecutive samples without a valid height (voids or off the DEM) along
        each path, i.e. how many samples were bridged in one stretch (0: none).
    """
    n = tx_x.shape[0]
    prof = np.empty((n, max_len))
    ok = np.ones(n, np.bool_)
    void_run = np.zeros(n, np.int64)
    for i in prange(n):
        _one_path(i, z, x0, y0, px, py, tx_x, tx_y, dx, dy, n_valid, max_len, prof, ok,
                  void_run)
    return prof, ok, void_run


@njit(cache=True, nogil=True)
def sample_paths_serial(z, x0, y0, px, py, tx_x, tx_y, dx, dy, n_valid, max_len):
    """:func:`sample_paths` on the calling thread only (for callers running several Python
    threads, like the raster engine's serial kernels); the same results, bit for bit."""
    n = tx_x.shape[0]
    prof = np.empty((n, max_len))
    ok = np.ones(n, np.bool_)
    void_run = np.zeros(n, np.int64)
    for i in range(n):
        _one_path(i, z, x0, y0, px, py, tx_x, tx_y, dx, dy, n_valid, max_len, prof, ok,
                  void_run)
    return prof, ok, void_run


@njit(cache=True, nogil=True)
def _one_path(i, z, x0, y0, px, py, tx_x, tx_y, dx, dy, n_valid, max_len, prof, ok, void_run):
    """Path ``i`` of :func:`sample_paths`, written into row ``i`` of the outputs."""
    nv = n_valid[i]
    prev = -1
    run = 0
    for k in range(nv):
        t = min(k / (nv - 1.0), 1.0)
        v = _bilinear(z, x0, y0, px, py, tx_x[i] + t * dx[i], tx_y[i] + t * dy[i])
        prof[i, k] = v
        if math.isfinite(v):
            fill_voids_before(prof[i], prev, k, v)
            prev = k
            run = 0
        else:
            run += 1
            if run > void_run[i]:
                void_run[i] = run
    if prev < 0:
        ok[i] = False
        for q in range(max_len):
            prof[i, q] = 0.0
    else:
        for q in range(prev + 1, max_len):
            prof[i, q] = prof[i, prev]
