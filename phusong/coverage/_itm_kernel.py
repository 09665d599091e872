"""Longley-Rice ITM point-to-point and area mode: compiled batch drivers over many paths.

One path's work (validation, profile analysis, reference attenuation, variability) runs in
compiled code; paths are split into fixed-size chunks handed to numba's ``prange``. Every path
is computed independently with the same operations in the same order, so results do not depend
on the number of threads.

Return codes follow the NTIA reference (0 success, 1 success with warnings, 1000-1022 errors);
phusong adds 2000-2003 for inputs the reference cannot even represent (see ``ERROR_TEXT`` in
:mod:`phusong.coverage.itm`).
"""

from __future__ import annotations

import cmath
import math

import numpy as np
from numba import njit, prange

from phusong.coverage._itm_core import THIRD, longley_rice_band, path_terms
from phusong.coverage._itm_lanes import (
    A_FS,
    A_REF,
    DH,
    DL0,
    DL1,
    FALLBACK,
    H_RX,
    H_TX,
    HE0,
    HE1,
    LOSS,
    MODE,
    N_S,
    TH0,
    TH1,
    WARN,
    WARN_IN,
    WIDTH,
    D,
    lanes_frequency,
    lanes_table,
    set_band,
    set_geometry,
)
from phusong.coverage._itm_terrain import DELTA_H_BUFFER, quick_profile
from phusong.coverage._itm_terrain_fast import (
    profile_checks_fast,
    quick_profile_fast,
    system_height_fast,
)
from phusong.coverage._itm_variability import variability_band, variability_path

__all__ = [
    "AUX_COLUMNS", "BAND_COLUMNS", "area_batch", "band_constants", "check_profile", "p2p_batch",
    "p2p_batch_reference", "p2p_batch_scalar", "p2p_from_band", "p2p_from_geometry", "p2p_geometry",
    "p2p_geometry_fast", "p2p_multi_batch", "p2p_multi_batch_serial", "p2p_path_terms",
    "validate_inputs",
]

#: Columns of the intermediate-value matrix filled by the batch drivers.
AUX_COLUMNS = (
    "d_m", "a_ref_db", "a_fs_db", "delta_h_m", "n_s",
    "h_e_tx_m", "h_e_rx_m", "d_hzn_tx_m", "d_hzn_rx_m", "theta_hzn_tx", "theta_hzn_rx",
)
#: Columns of a band-constants row (:func:`band_constants`): everything of one prediction that
#: depends on the frequency, ground, climate and percentages only, not on the path.
BAND_COLUMNS = (
    "code", "warn", "zg_re", "zg_im", "f3", "ln_f", "fs_f", "z_t", "z_l", "z_s", "g_minus",
    "g_plus", "d_f",
)
_CHUNK = 64  # paths per parallel work item
#: Band rows remembered per chunk of paths (:func:`_band_lookup`): a batch usually repeats a
#: few bands, whose constants then cost a comparison instead of a dozen libm calls.
_BAND_CACHE = 8
_KEY = len(BAND_COLUMNS)  # the cache row's key columns start here

WARN_TX_HEIGHT = 0x0001
WARN_RX_HEIGHT = 0x0002
WARN_FREQUENCY = 0x0004

ERR_SHORT_PROFILE = 2000
ERR_BAD_ELEVATION = 2001
ERR_BAD_STEP = 2002
ERR_NON_FINITE = 2003

_JIT = {"cache": True, "nogil": True}


@njit(**_JIT)
def validate_inputs(h_tx, h_rx, climate, time_pct, loc_pct, sit_pct, n0, f, pol, eps, sigma, mdvar):
    """The reference's common input checks, in its order. Returns ``(code, warning_bits)``."""
    warn = 0
    for v in (h_tx, h_rx, time_pct, loc_pct, sit_pct, n0, f, eps, sigma):
        if not math.isfinite(v):
            return ERR_NON_FINITE, warn
    if h_tx < 1.0 or h_tx > 1000.0:
        warn |= WARN_TX_HEIGHT
    if h_tx < 0.5 or h_tx > 3000.0:
        return 1000, warn
    if h_rx < 1.0 or h_rx > 1000.0:
        warn |= WARN_RX_HEIGHT
    if h_rx < 0.5 or h_rx > 3000.0:
        return 1001, warn
    if climate < 1 or climate > 7:
        return 1002, warn
    if n0 < 250.0 or n0 > 400.0:
        return 1008, warn
    if f < 40.0 or f > 10000.0:
        warn |= WARN_FREQUENCY
    if f < 20.0 or f > 20000.0:
        return 1009, warn
    if pol != 0 and pol != 1:
        return 1010, warn
    if eps < 1.0:
        return 1011, warn
    if sigma <= 0.0:
        return 1012, warn
    if mdvar < 0 or 3 < mdvar < 10 or 13 < mdvar < 20 or 23 < mdvar < 30 or mdvar > 33:
        return 1014, warn
    if sit_pct <= 0.0 or sit_pct >= 100.0:
        return 1005, warn
    if time_pct <= 0.0 or time_pct >= 100.0:
        return 1003, warn
    if loc_pct <= 0.0 or loc_pct >= 100.0:
        return 1004, warn
    return 0, warn


@njit(**_JIT)
def _ground(f, n_s, pol, eps, sigma):
    """Effective-earth curvature and complex ground impedance for one path."""
    gamma_e = 157e-9 * (1.0 - 0.04665 * math.exp(n_s / 179.3))
    ep_r = complex(eps, 18000.0 * sigma / f)
    zg = cmath.sqrt(ep_r - 1.0)
    if pol == 1:
        zg = zg / ep_r
    return gamma_e, zg


@njit(**_JIT)
def band_constants(f, pol, eps, sigma, climate, tm, loc, sit, row):
    """Fill ``row`` (:data:`BAND_COLUMNS`, without ``code``/``warn``) with the path-independent
    terms of one band: ground impedance, ``f**(1/3)``, ``ln f``, the frequency part of free
    space and the variability deviates and gains. Same operations as the per-path code."""
    _gamma, zg = _ground(f, 301.0, pol, eps, sigma)
    row[2] = zg.real
    row[3] = zg.imag
    bt = _band_terms(f, climate, tm, loc, sit)
    for i in range(9):
        row[4 + i] = bt[i]


@njit(**_JIT)
def _band_terms(f, climate, tm, loc, sit):
    """``(f3, ln_f, fs_f, z_t, z_l, z_s, g_minus, g_plus, d_f)`` of :data:`BAND_COLUMNS`."""
    z_t, z_l, z_s, g_minus, g_plus, d_f = variability_band(tm, loc, sit, f, climate)
    return (f**THIRD, math.log(f), 32.45 + 20.0 * math.log10(f), z_t, z_l, z_s, g_minus, g_plus,
            d_f)


@njit(**_JIT)
def _band_row(row):
    """The :func:`_band_terms` tuple back from a :func:`band_constants` row."""
    return (row[4], row[5], row[6], row[7], row[8], row[9], row[10], row[11], row[12])


@njit(**_JIT)
def _complete(th0, th1, dl0, dl1, he0, he1, dh, d, f, zg, gamma_e, n_s, h_tx, h_rx, p2p,
              tm, loc, sit, climate, mdvar, warn, aux):
    """Reference attenuation + variability + free space from the path geometry; fills ``aux``.

    Returns ``(loss_db, warnings, code, mode)`` like the per-path drivers.
    """
    return _complete_band(th0, th1, dl0, dl1, he0, he1, dh, d, f, zg, gamma_e, n_s, h_tx, h_rx,
                          p2p, climate, mdvar, warn, _band_terms(f, climate, tm, loc, sit),
                          path_terms(dl0, dl1, he0, he1, gamma_e, dh, d), aux)


@njit(**_JIT)
def _complete_band(th0, th1, dl0, dl1, he0, he1, dh, d, f, zg, gamma_e, n_s, h_tx, h_rx, p2p,
                   climate, mdvar, warn, bt, pt, aux):
    """:func:`_complete` with the band's terms ``bt`` (:func:`_band_terms`) and the path's
    ``pt`` (:func:`phusong.coverage._itm_core.path_terms`) given."""
    a_ref, w2, code, mode = longley_rice_band(
        th0, th1, f, bt[0], bt[1], zg, dl0, dl1, he0, he1, gamma_e, n_s, dh, h_tx, h_rx, d, p2p, pt
    )
    warn |= w2
    aux[0] = d
    aux[3] = dh
    aux[4] = n_s
    aux[5] = he0
    aux[6] = he1
    aux[7] = dl0
    aux[8] = dl1
    aux[9] = th0
    aux[10] = th1
    if code != 0:
        return math.inf, warn, code, 0
    a_fs = bt[2] + pt[7]
    a_var, w3 = variability_path(bt[3], bt[4], bt[5], bt[6], bt[7], bt[8], pt[5], pt[6],
                                 f, d, a_ref, climate, mdvar)
    aux[1] = a_ref
    aux[2] = a_fs
    warn |= w3
    return a_fs + a_var, warn, 1 if warn != 0 else 0, mode


@njit(**_JIT)
def p2p_geometry(z, xi, h_tx, h_rx, n0, buf):
    """Frequency-independent part of one point-to-point path (profile analysis).

    ``z`` is the whole profile (``z[0]`` under the transmitter), ``xi`` its step, m. Returns
    ``(th0, th1, dl0, dl1, he0, he1, dh, d, n_s, gamma_e)``: horizon angles (rad) and distances
    (m), effective heights (m), terrain irregularity Δh (m), path length (m), surface
    refractivity and effective-earth curvature (1/m). None of them depends on the frequency,
    so one call serves every band of a site (:func:`p2p_from_geometry`).
    """
    n_int = z.shape[0] - 1
    # mean height of the middle 80 % of the path -> surface refractivity
    p10 = int(0.1 * n_int)
    h_sys = 0.0
    for k in range(p10, n_int - p10 + 1):
        h_sys += z[k]
    h_sys /= n_int - 2 * p10 + 1
    n_s = n0 if h_sys == 0.0 else n0 * math.exp(-h_sys / 9460.0)
    gamma_e = 157e-9 * (1.0 - 0.04665 * math.exp(n_s / 179.3))
    th0, th1, dl0, dl1, he0, he1, dh, d = quick_profile(z, n_int, xi, gamma_e, h_tx, h_rx, buf)
    return th0, th1, dl0, dl1, he0, he1, dh, d, n_s, gamma_e


@njit(**_JIT)
def p2p_geometry_fast(z, xi, h_tx, h_rx, n0, buf):
    """:func:`p2p_geometry` from the vectorisable profile analysis
    (:mod:`phusong.coverage._itm_terrain_fast`): equal up to float rounding (the tests bound
    the loss difference). ``buf``: scratch of ``DELTA_H_BUFFER`` floats."""
    n_int = z.shape[0] - 1
    h_sys = system_height_fast(z, n_int)
    n_s = n0 if h_sys == 0.0 else n0 * math.exp(-h_sys / 9460.0)
    gamma_e = 157e-9 * (1.0 - 0.04665 * math.exp(n_s / 179.3))
    th0, th1, dl0, dl1, he0, he1, dh, d = quick_profile_fast(z, n_int, xi, gamma_e, h_tx, h_rx,
                                                             buf)
    return th0, th1, dl0, dl1, he0, he1, dh, d, n_s, gamma_e


@njit(**_JIT)
def _band_lookup(cache, state, f, pol, eps, sigma, climate, tm, loc, sit):
    """The :func:`band_constants` row of one band from a small cache (``cache``:
    ``(_BAND_CACHE, len(BAND_COLUMNS) + 8)``, ``state``: ``[rows filled, next to replace]``),
    computing it on a miss. Cached rows are the same numbers a fresh computation gives."""
    for e in range(state[0]):
        r = cache[e]
        if (r[_KEY] == f and r[_KEY + 1] == pol and r[_KEY + 2] == eps
                and r[_KEY + 3] == sigma and r[_KEY + 4] == climate and r[_KEY + 5] == tm
                and r[_KEY + 6] == loc and r[_KEY + 7] == sit):
            return r
    e = state[1]
    state[1] = (e + 1) % cache.shape[0]
    state[0] = min(state[0] + 1, cache.shape[0])
    r = cache[e]
    band_constants(f, pol, eps, sigma, climate, tm, loc, sit, r)
    r[_KEY] = f
    r[_KEY + 1] = pol
    r[_KEY + 2] = eps
    r[_KEY + 3] = sigma
    r[_KEY + 4] = climate
    r[_KEY + 5] = tm
    r[_KEY + 6] = loc
    r[_KEY + 7] = sit
    return r


@njit(**_JIT)
def _band_cache():
    """An empty cache for :func:`_band_lookup`: ``(rows, state)``."""
    return np.empty((_BAND_CACHE, _KEY + 8)), np.zeros(2, np.int64)


@njit(**_JIT)
def p2p_from_geometry(g, h_tx, h_rx, f, pol, eps, sigma, climate, tm, loc, sit, mdvar, warn,
                      aux):
    """Frequency-dependent part: loss from a :func:`p2p_geometry` tuple ``g`` at ``f`` MHz.

    Returns ``(loss_db, warnings, code, mode)`` and fills ``aux`` like :func:`p2p_batch`.
    """
    th0, th1, dl0, dl1, he0, he1, dh, d, n_s, gamma_e = g
    _gamma, zg = _ground(f, n_s, pol, eps, sigma)
    return _complete(th0, th1, dl0, dl1, he0, he1, dh, d, f, zg, gamma_e, n_s, h_tx, h_rx, True,
                     tm, loc, sit, climate, mdvar, warn, aux)


@njit(**_JIT)
def p2p_path_terms(g):
    """:func:`phusong.coverage._itm_core.path_terms` of a :func:`p2p_geometry` tuple."""
    th0, th1, dl0, dl1, he0, he1, dh, d, n_s, gamma_e = g
    return path_terms(dl0, dl1, he0, he1, gamma_e, dh, d)


@njit(**_JIT)
def p2p_from_band(g, pt, h_tx, h_rx, f, climate, mdvar, row, aux):
    """:func:`p2p_from_geometry` with the path's terms ``pt`` (:func:`p2p_path_terms`, once per
    path) and the band's constants ``row`` (:func:`band_constants`, whose ``warn`` column holds
    the input-check warnings) given: same result, bit for bit."""
    th0, th1, dl0, dl1, he0, he1, dh, d, n_s, gamma_e = g
    zg = complex(row[2], row[3])
    return _complete_band(th0, th1, dl0, dl1, he0, he1, dh, d, f, zg, gamma_e, n_s, h_tx, h_rx,
                          True, climate, mdvar, int(row[1]), _band_row(row), pt, aux)


@njit(**_JIT)
def check_profile(z, xi):
    """Phusong's profile checks: 0 or the error code (short profile, bad step, bad height)."""
    if z.shape[0] < 2:
        return ERR_SHORT_PROFILE
    if not (xi > 0.0 and math.isfinite(xi)):
        return ERR_BAD_STEP
    for k in range(z.shape[0]):
        if not math.isfinite(z[k]):
            return ERR_BAD_ELEVATION
    return 0


@njit(**_JIT)
def _p2p_one_fast(z, xi, h_tx, h_rx, f, pol, eps, sigma, n0, climate, tm, loc, sit, mdvar, buf,
                  cache, state, aux):
    """:func:`_p2p_one` with the vectorisable profile analysis (:func:`p2p_geometry_fast`)
    and the band's constants from the chunk's cache (:func:`_band_lookup`)."""
    code, warn = validate_inputs(h_tx, h_rx, climate, tm, loc, sit, n0, f, pol, eps, sigma, mdvar)
    if code != 0:
        return math.inf, warn, code, 0
    code = profile_checks_fast(z, xi)
    if code != 0:
        return math.inf, warn, code, 0
    g = p2p_geometry_fast(z, xi, h_tx, h_rx, n0, buf)
    row = _band_lookup(cache, state, f, pol, eps, sigma, climate, tm, loc, sit)
    row[1] = warn
    return p2p_from_band(g, p2p_path_terms(g), h_tx, h_rx, f, climate, mdvar, row, aux)


@njit(**_JIT)
def _p2p_one(z, xi, h_tx, h_rx, f, pol, eps, sigma, n0, climate, tm, loc, sit, mdvar, buf, aux):
    """One point-to-point path (the reference: plain profile loops, band constants computed
    per path). Returns ``(loss_db, warnings, code, mode)``; fills ``aux``."""
    code, warn = validate_inputs(h_tx, h_rx, climate, tm, loc, sit, n0, f, pol, eps, sigma, mdvar)
    if code != 0:
        return math.inf, warn, code, 0
    code = check_profile(z, xi)
    if code != 0:
        return math.inf, warn, code, 0
    g = p2p_geometry(z, xi, h_tx, h_rx, n0, buf)
    return p2p_from_geometry(g, h_tx, h_rx, f, pol, eps, sigma, climate, tm, loc, sit, mdvar,
                             warn, aux)


@njit(parallel=True, cache=True, nogil=True)
def p2p_batch_scalar(elev, start, count, step, h_tx, h_rx, f, pol, eps, sigma, n0, climate,
              tm, loc, sit, mdvar, loss, warn, code, mode, aux):
    """Point-to-point ITM over many paths; path ``i`` is ``elev[start[i]:start[i]+count[i]]``.

    All per-path inputs are 1-D arrays of the same length; outputs are written in place.
    Runs the vectorisable profile analysis and the scalar frequency part, one path at a time;
    :func:`p2p_batch_reference` is the plain one (the tests bound their difference), and
    :func:`p2p_batch` the same with the frequency part in lockstep.
    """
    n = start.shape[0]
    n_chunks = (n + _CHUNK - 1) // _CHUNK
    for c in prange(n_chunks):
        buf = np.empty(DELTA_H_BUFFER)
        hi = min(n, (c + 1) * _CHUNK)
        cache, state = _band_cache()
        for i in range(c * _CHUNK, hi):
            z = elev[start[i]:start[i] + count[i]]
            row = aux[i]
            loss[i], warn[i], code[i], mode[i] = _p2p_one_fast(
                z, step[i], h_tx[i], h_rx[i], f[i], pol[i], eps[i], sigma[i], n0[i],
                climate[i], tm[i], loc[i], sit[i], mdvar[i], buf, cache, state, row,
            )


@njit(**_JIT)
def _p2p_chunk_lanes(lo, hi, elev, start, count, step, h_tx, h_rx, f, pol, eps, sigma, n0,
                     climate, tm, loc, sit, mdvar, loss, warn, code, mode, aux, buf, cache,
                     state, t, idx):
    """Paths ``lo … hi − 1`` (at most ``WIDTH``) of :func:`p2p_batch`: profile analysis per
    path, then the frequency part of all of them in lockstep (:func:`lanes_frequency`), then
    the scalar code for the lanes it flags (errors, troposcatter)."""
    m = 0
    for i in range(lo, hi):
        cd, w = validate_inputs(h_tx[i], h_rx[i], climate[i], tm[i], loc[i], sit[i], n0[i],
                                f[i], pol[i], eps[i], sigma[i], mdvar[i])
        z = elev[start[i]:start[i] + count[i]]
        if cd == 0:
            cd = profile_checks_fast(z, step[i])
        if cd != 0:
            loss[i] = math.inf
            warn[i] = w
            code[i] = cd
            mode[i] = 0
            continue
        g = p2p_geometry_fast(z, step[i], h_tx[i], h_rx[i], n0[i], buf)
        row = _band_lookup(cache, state, f[i], pol[i], eps[i], sigma[i], climate[i], tm[i],
                           loc[i], sit[i])
        set_geometry(t, m, g, h_tx[i], h_rx[i])
        set_band(t, m, f[i], row, climate[i], mdvar[i], w)
        idx[m] = i
        m += 1
    lanes_frequency(t)
    for k in range(m):
        i = idx[k]
        a = aux[i]
        if t[FALLBACK * WIDTH + k] != 0.0:
            g = (t[k], t[WIDTH + k], t[2 * WIDTH + k], t[3 * WIDTH + k], t[4 * WIDTH + k],
                 t[5 * WIDTH + k], t[6 * WIDTH + k], t[7 * WIDTH + k], t[8 * WIDTH + k],
                 t[9 * WIDTH + k])
            row = _band_lookup(cache, state, f[i], pol[i], eps[i], sigma[i], climate[i], tm[i],
                               loc[i], sit[i])
            row[1] = t[WARN_IN * WIDTH + k]
            loss[i], warn[i], code[i], mode[i] = p2p_from_band(
                g, p2p_path_terms(g), h_tx[i], h_rx[i], f[i], climate[i], mdvar[i], row, a)
            continue
        w = int(t[WARN * WIDTH + k])
        loss[i] = t[LOSS * WIDTH + k]
        warn[i] = w
        code[i] = 1 if w != 0 else 0
        mode[i] = int(t[MODE * WIDTH + k])
        a[0] = t[D * WIDTH + k]
        a[1] = t[A_REF * WIDTH + k]
        a[2] = t[A_FS * WIDTH + k]
        a[3] = t[DH * WIDTH + k]
        a[4] = t[N_S * WIDTH + k]
        a[5] = t[HE0 * WIDTH + k]
        a[6] = t[HE1 * WIDTH + k]
        a[7] = t[DL0 * WIDTH + k]
        a[8] = t[DL1 * WIDTH + k]
        a[9] = t[TH0 * WIDTH + k]
        a[10] = t[TH1 * WIDTH + k]


@njit(parallel=True, cache=True, nogil=True)
def p2p_batch(elev, start, count, step, h_tx, h_rx, f, pol, eps, sigma, n0, climate,
              tm, loc, sit, mdvar, loss, warn, code, mode, aux):
    """Point-to-point ITM over many paths; path ``i`` is ``elev[start[i]:start[i]+count[i]]``.

    All per-path inputs are 1-D arrays of the same length; outputs are written in place.
    The vectorisable profile analysis per path, then the frequency part of each chunk of
    ``WIDTH`` paths in lockstep (:mod:`phusong.coverage._itm_lanes`). The tests bound its
    difference to :func:`p2p_batch_scalar` and :func:`p2p_batch_reference` (≤ 1e-9 dB;
    codes, warnings and modes equal).
    """
    n = start.shape[0]
    n_chunks = (n + WIDTH - 1) // WIDTH
    for c in prange(n_chunks):
        buf = np.empty(DELTA_H_BUFFER)
        cache, state = _band_cache()
        t = lanes_table()
        idx = np.empty(WIDTH, np.int64)
        _p2p_chunk_lanes(c * WIDTH, min(n, (c + 1) * WIDTH), elev, start, count, step, h_tx,
                         h_rx, f, pol, eps, sigma, n0, climate, tm, loc, sit, mdvar, loss, warn,
                         code, mode, aux, buf, cache, state, t, idx)


@njit(parallel=True, cache=True, nogil=True)
def p2p_batch_reference(elev, start, count, step, h_tx, h_rx, f, pol, eps, sigma, n0, climate,
                        tm, loc, sit, mdvar, loss, warn, code, mode, aux):
    """:func:`p2p_batch` with the reference kernels (plain profile loops, as in NTIA's code,
    band constants per path): what the fast path is tested against."""
    n = start.shape[0]
    n_chunks = (n + _CHUNK - 1) // _CHUNK
    for c in prange(n_chunks):
        buf = np.empty(DELTA_H_BUFFER)
        for i in range(c * _CHUNK, min(n, (c + 1) * _CHUNK)):
            z = elev[start[i]:start[i] + count[i]]
            row = aux[i]
            loss[i], warn[i], code[i], mode[i] = _p2p_one(
                z, step[i], h_tx[i], h_rx[i], f[i], pol[i], eps[i], sigma[i], n0[i],
                climate[i], tm[i], loc[i], sit[i], mdvar[i], buf, row,
            )


@njit(**_JIT)
def _area_one(d_m, dh, h_tx, h_rx, site_tx, site_rx, f, pol, eps, sigma, n0, climate,
              tm, loc, sit, mdvar, aux):
    """One area-mode prediction (NTIA ``ITM_AREA_TLS``). Returns ``(loss, warnings, code, mode)``."""
    code, warn = validate_inputs(h_tx, h_rx, climate, tm, loc, sit, n0, f, pol, eps, sigma, mdvar)
    if code != 0:
        return math.inf, warn, code, 0
    if not (math.isfinite(d_m) and math.isfinite(dh)):
        return math.inf, warn, ERR_NON_FINITE, 0
    if d_m <= 0.0:
        return math.inf, warn, 1017, 0
    if dh < 0.0:
        return math.inf, warn, 1018, 0
    if site_tx < 0 or site_tx > 2:
        return math.inf, warn, 1019, 0
    if site_rx < 0 or site_rx > 2:
        return math.inf, warn, 1020, 0
    n_s = n0
    gamma_e, zg = _ground(f, n_s, pol, eps, sigma)
    he = np.empty(2)
    dl = np.empty(2)
    th = np.empty(2)
    for j in range(2):
        h = h_tx if j == 0 else h_rx
        crit = site_tx if j == 0 else site_rx
        if crit == 0:
            he[j] = h
        else:
            b = 4.0 if crit == 1 else 9.0
            if h < 5.0:
                b *= math.sin(0.1 * math.pi * h)
            he[j] = h + (1.0 + b) * math.exp(-min(20.0, 2.0 * h / max(1e-3, dh)))
        d_ls = math.sqrt(2.0 * he[j] / gamma_e)
        dl[j] = d_ls * math.exp(-0.07 * math.sqrt(dh / max(he[j], 5.0)))
        th[j] = (0.65 * dh * (d_ls / dl[j] - 1.0) - 2.0 * he[j]) / d_ls
    return _complete(th[0], th[1], dl[0], dl[1], he[0], he[1], dh, d_m, f, zg, gamma_e, n_s,
                     h_tx, h_rx, False, tm, loc, sit, climate, mdvar, warn, aux)


@njit(parallel=True, cache=True, nogil=True)
def area_batch(d_m, dh, h_tx, h_rx, site_tx, site_rx, f, pol, eps, sigma, n0, climate,
               tm, loc, sit, mdvar, loss, warn, code, mode, aux):
    """Area-mode ITM over many predictions; outputs are written in place."""
    n = d_m.shape[0]
    for i in prange(n):
        loss[i], warn[i], code[i], mode[i] = _area_one(
            d_m[i], dh[i], h_tx[i], h_rx[i], site_tx[i], site_rx[i], f[i], pol[i], eps[i],
            sigma[i], n0[i], climate[i], tm[i], loc[i], sit[i], mdvar[i], aux[i],
        )



@njit(parallel=True, cache=True, nogil=True)
def p2p_multi_batch(elev, start, count, step, h_tx, h_rx, combo_ptr, f, pol, eps, sigma, n0,
                    climate, tm, loc, sit, mdvar, loss, warn, code):
    """Point-to-point ITM for paths that each serve several frequencies.

    Path ``i`` is ``elev[start[i]:start[i]+count[i]]`` with per-path ``step``, ``h_tx``,
    ``h_rx``; its frequencies are ``f[combo_ptr[i]:combo_ptr[i+1]]``. The profile analysis runs
    once per path, the frequency-dependent part once per frequency; each loss is bit-identical
    to :func:`p2p_batch` on the same inputs. The remaining options are scalars. Writes ``loss``
    (``inf`` where invalid), ``warn`` and ``code`` per (path, frequency).
    """
    n = start.shape[0]
    n_chunks = (n + _CHUNK - 1) // _CHUNK
    for c in prange(n_chunks):
        _multi_chunk(c, n, elev, start, count, step, h_tx, h_rx, combo_ptr, f, pol, eps, sigma,
                     n0, climate, tm, loc, sit, mdvar, loss, warn, code)


@njit(**_JIT)
def p2p_multi_batch_serial(elev, start, count, step, h_tx, h_rx, combo_ptr, f, pol, eps,
                           sigma, n0, climate, tm, loc, sit, mdvar, loss, warn, code):
    """:func:`p2p_multi_batch` on the calling thread only (for callers that run several
    Python threads: numba's workqueue layer aborts on concurrent parallel launches); the same
    results, bit for bit."""
    n = start.shape[0]
    n_chunks = (n + _CHUNK - 1) // _CHUNK
    for c in range(n_chunks):
        _multi_chunk(c, n, elev, start, count, step, h_tx, h_rx, combo_ptr, f, pol, eps, sigma,
                     n0, climate, tm, loc, sit, mdvar, loss, warn, code)


@njit(**_JIT)
def _multi_chunk(c, n, elev, start, count, step, h_tx, h_rx, combo_ptr, f, pol, eps, sigma, n0,
                 climate, tm, loc, sit, mdvar, loss, warn, code):
    """Paths ``c·_CHUNK … (c+1)·_CHUNK − 1`` of :func:`p2p_multi_batch` (the vectorisable
    profile analysis and cached band constants of :func:`p2p_batch`; the (path, frequency)
    pairs go through the lockstep frequency part ``WIDTH`` at a time, so each loss is the
    one :func:`p2p_batch` gives, bit for bit)."""
    buf = np.empty(DELTA_H_BUFFER)
    aux = np.empty(len(AUX_COLUMNS))
    hi = min(n, (c + 1) * _CHUNK)
    cache, state = _band_cache()
    t = lanes_table()
    idx = np.empty(WIDTH, np.int64)
    m = 0
    for i in range(c * _CHUNK, hi):
        z = elev[start[i]:start[i] + count[i]]
        bad = profile_checks_fast(z, step[i])
        done = False
        g = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        for k in range(combo_ptr[i], combo_ptr[i + 1]):
            cd, w = validate_inputs(h_tx[i], h_rx[i], climate, tm, loc, sit, n0, f[k], pol,
                                    eps, sigma, mdvar)
            if cd == 0 and bad != 0:
                cd = bad
            if cd != 0:
                loss[k] = math.inf
                warn[k] = w
                code[k] = cd
                continue
            if not done:
                g = p2p_geometry_fast(z, step[i], h_tx[i], h_rx[i], n0, buf)
                done = True
            row = _band_lookup(cache, state, f[k], pol, eps, sigma, climate, tm, loc, sit)
            set_geometry(t, m, g, h_tx[i], h_rx[i])
            set_band(t, m, f[k], row, climate, mdvar, w)
            idx[m] = k
            m += 1
            if m == WIDTH:
                _multi_flush(t, m, idx, f, pol, eps, sigma, climate, tm, loc, sit, mdvar,
                             cache, state, aux, loss, warn, code)
                m = 0
    if m > 0:
        _multi_flush(t, m, idx, f, pol, eps, sigma, climate, tm, loc, sit, mdvar, cache, state,
                     aux, loss, warn, code)


@njit(**_JIT)
def _multi_flush(t, m, idx, f, pol, eps, sigma, climate, tm, loc, sit, mdvar, cache, state,
                 aux, loss, warn, code):
    """The lockstep frequency part of the ``m`` (path, frequency) pairs in ``t``; the scalar
    code for the lanes it flags (as :func:`_p2p_chunk_lanes`)."""
    lanes_frequency(t)
    for q in range(m):
        k = idx[q]
        if t[FALLBACK * WIDTH + q] != 0.0:
            g = (t[q], t[WIDTH + q], t[2 * WIDTH + q], t[3 * WIDTH + q], t[4 * WIDTH + q],
                 t[5 * WIDTH + q], t[6 * WIDTH + q], t[7 * WIDTH + q], t[8 * WIDTH + q],
                 t[9 * WIDTH + q])
            row = _band_lookup(cache, state, f[k], pol, eps, sigma, climate, tm, loc, sit)
            row[1] = t[WARN_IN * WIDTH + q]
            loss[k], warn[k], code[k], _m = p2p_from_band(
                g, p2p_path_terms(g), t[H_TX * WIDTH + q], t[H_RX * WIDTH + q], f[k], climate,
                mdvar, row, aux)
            continue
        w = int(t[WARN * WIDTH + q])
        loss[k] = t[LOSS * WIDTH + q]
        warn[k] = w
        code[k] = 1 if w != 0 else 0
