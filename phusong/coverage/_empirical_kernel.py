"""Empirical models along rays, compiled: the loss of every used ray sample per band.

The raster engine used to evaluate Hata / COST-231 / 38.901 / free space and the knife-edge
loss with numpy, one band at a time, over gathered copies of the ray geometry
(:func:`phusong.coverage._link.model_loss_db`). :func:`ray_model_losses` computes the same
values in one compiled pass over the used ray samples (each sample once per band, whatever the
number of grid cells and cells it serves), reading the geometry in place, and adds the
location margin; :func:`phusong.coverage._raster_kernels.site_links` then reduces them into the
best-server accumulators. The formulas are those of :mod:`phusong.coverage.models` (the
reference; the tests compare the two to 1e-9 dB), written per sample; validity warnings and
errors stay with the reference functions, called by the engine once per band on the scalar
inputs that decide them (frequency, heights).

Codes: model ``0`` free space, ``1`` hata (Hata ≤ 1500 MHz, COST-231 ≤ 2000 MHz, 38.901 NLOS
above), ``2`` cost231, ``3`` 38901; diffraction ``-1`` none, ``0`` bullington, ``1``
deygout; environment ``0`` urban, ``1`` suburban, ``2`` rural, ``3`` open, ``4`` large_city.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = ["ENV_CODES", "MODEL_CODES", "ray_model_losses", "ray_model_losses_serial"]

MODEL_CODES = {"fspl": 0, "hata": 1, "cost231": 2, "38901": 3}
ENV_CODES = {"urban": 0, "suburban": 1, "rural": 2, "open": 3, "large_city": 4}

_JIT = {"cache": True, "nogil": True}
_C = 299_792_458.0
#: 38.901 RMa defaults (average building height, street width), m: as models.rma_db
_H_BUILDING = 5.0
_W_STREET = 20.0


@njit(inline="always", **_JIT)
def _j(v):
    """Knife-edge loss J(v), dB (ITU-R P.526-15 eq. 31; 0 for v ≤ −0.78)."""
    if not v > -0.78:
        return 0.0
    w = v - 0.1
    return 6.9 + 20.0 * math.log10(math.sqrt(w * w + 1.0) + w)


@njit(inline="always", **_JIT)
def _a_hm(lf, hm, env):
    if env == 4:
        t = math.log10(11.75 * hm)
        return 3.2 * (t * t) - 4.97
    return (1.1 * lf - 0.7) * hm - (1.56 * lf - 0.8)


@njit(inline="always", **_JIT)
def _env_corr(f, lf, env):
    if env == 1:
        t = math.log10(f / 28.0)
        return -2.0 * (t * t) - 5.4
    if env == 2:
        return -4.78 * (lf * lf) + 18.33 * lf - 35.94
    if env == 3:
        return -4.78 * (lf * lf) + 18.33 * lf - 40.94
    return 0.0


@njit(inline="always", **_JIT)
def _rma_pl1(dd, fc, h):
    return (20.0 * math.log10(40.0 * math.pi * dd * fc / 3.0)
            + min(0.03 * h ** 1.72, 10.0) * math.log10(dd)
            - min(0.044 * h ** 1.72, 14.77) + 0.002 * math.log10(h) * dd)


@njit(**_JIT)
def _rma(d2, f, hbs, hut, los):
    fc = f / 1000.0
    h = _H_BUILDING
    d2 = max(d2, 10.0)
    dh = hbs - hut
    d3 = math.sqrt(d2 * d2 + dh * dh)
    dbp = 2.0 * math.pi * hbs * hut * fc * 1e9 / _C
    if d2 <= dbp:
        pl_los = _rma_pl1(d3, fc, h)
    else:
        pl_los = _rma_pl1(dbp, fc, h) + 40.0 * math.log10(d3 / dbp)
    if los:
        return pl_los
    lh = math.log10(hbs)
    q = h / hbs
    t = math.log10(11.75 * hut)
    pl_n = (161.04 - 7.1 * math.log10(_W_STREET) + 7.5 * math.log10(h)
            - (24.37 - 3.7 * (q * q)) * lh
            + (43.42 - 3.1 * lh) * (math.log10(d3) - 3.0) + 20.0 * math.log10(fc)
            - (3.2 * (t * t) - 4.97))
    return max(pl_los, pl_n)


@njit(**_JIT)
def _uma(d2, f, hbs, hut, los):
    fc = f / 1000.0
    d2 = max(d2, 10.0)
    dh = hbs - hut
    d3 = math.sqrt(d2 * d2 + dh * dh)
    dbp = 4.0 * (hbs - 1.0) * (hut - 1.0) * fc * 1e9 / _C
    l3 = math.log10(d3)
    lfc = math.log10(fc)
    if d2 <= dbp:
        pl_los = 28.0 + 22.0 * l3 + 20.0 * lfc
    else:
        pl_los = 28.0 + 40.0 * l3 + 20.0 * lfc - 9.0 * math.log10(dbp * dbp + dh * dh)
    if los:
        return pl_los
    return max(pl_los, 13.54 + 39.08 * l3 + 20.0 * lfc - 0.6 * (hut - 1.5))


@njit(inline="always", **_JIT)
def _rma_terms(d2, hbs, hut):
    """The terms of :func:`_rma` that do not depend on the band, for one sample: ``(d2, d3,
    log10(d3), 2π hbs hut, PL1's distance terms at d3, NLOS sum before its frequency term,
    NLOS user-height term)``, each with the same operations in the same order as there."""
    h = _H_BUILDING
    d2 = max(d2, 10.0)
    dh = hbs - hut
    d3 = math.sqrt(d2 * d2 + dh * dh)
    l3 = math.log10(d3)
    p = 2.0 * math.pi * hbs * hut
    b3 = min(0.03 * h ** 1.72, 10.0) * l3
    d3t = 0.002 * math.log10(h) * d3
    lh = math.log10(hbs)
    q = h / hbs
    t = math.log10(11.75 * hut)
    pre = (161.04 - 7.1 * math.log10(_W_STREET) + 7.5 * math.log10(h)
           - (24.37 - 3.7 * (q * q)) * lh
           + (43.42 - 3.1 * lh) * (l3 - 3.0))
    return d2, d3, l3, p, b3, d3t, pre, 3.2 * (t * t) - 4.97


@njit(inline="always", **_JIT)
def _rma_band(rt, fc, lfc20, los):
    """:func:`_rma` from the sample's :func:`_rma_terms` ``rt`` and the band's ``fc`` (GHz) and
    ``20 log10(fc)``: the same value bit for bit."""
    d2, d3, l3, p, b3, d3t, pre, ut = rt
    h = _H_BUILDING
    dbp = p * fc * 1e9 / _C
    if d2 <= dbp:
        pl_los = (20.0 * math.log10(40.0 * math.pi * d3 * fc / 3.0) + b3
                  - min(0.044 * h ** 1.72, 14.77) + d3t)
    else:
        pl_los = _rma_pl1(dbp, fc, h) + 40.0 * math.log10(d3 / dbp)
    if los:
        return pl_los
    return max(pl_los, pre + lfc20 - ut)


@njit(inline="always", **_JIT)
def _tr38901(d, f, hbs, hut, los, env):
    if env == 0 or env == 4:
        return _uma(d, f, hbs, hut, los)
    return _rma(d, f, hbs, hut, los)


@njit(inline="always", **_JIT)
def _hata_fast(lf, t_lb, slope, f, hm, env, cost):
    """Okumura-Hata (``cost``: COST-231 Hata) loss, dB, as :func:`phusong.coverage.models.
    hata_db`, with the terms of one sample that do not depend on the band given: ``t_lb`` =
    13.82 log10(hb), ``slope`` = (44.9 − 6.55 log10(hb)) log10(d_km), ``lf`` = log10(f)."""
    if cost:
        cm = 3.0 if env == 4 else 0.0
        u = 46.3 + 33.9 * lf - t_lb - _a_hm(lf, hm, env) + slope + cm
    else:
        u = 69.55 + 26.16 * lf - t_lb - _a_hm(lf, hm, env) + slope
    return u + _env_corr(f, lf, env)


@njit(inline="always", **_JIT)
def _sample_losses(u, geom, rays, used_k, used_j, need, bands, lfs, ss, fcs, lfc20s, lds, model,
                   diff, env, step, htx, hrx, margin, loss):
    """Basic transmission loss + ``margin`` of used sample ``u`` on every wanted band, dB:
    :func:`._link.model_loss_db` per sample (distance ≥ 10 m, the path geometry ``geom[u]`` of
    :func:`._diffraction.path_geometry`), with what does not depend on the band (distances,
    effective heights and their logarithms) computed once per sample and ``log10(f)``,
    ``1/sqrt(λ)``, ``fc`` (GHz) and ``20 log10(fc)`` once per band (``lfs``, ``ss``, ``fcs``,
    ``lfc20s``); 38.901 RMa's terms that do not depend on the band once per sample
    (:func:`_rma_terms`)."""
    k = used_k[u]
    j = used_j[u]
    z_top = rays[0, 0] + htx
    z_rx_top = rays[k, j] + hrx
    d = max(max(j * step, 1.0), 10.0)
    dz = z_top - z_rx_top
    d3 = math.sqrt(d * d + dz * dz)
    fs_d = 20.0 * math.log10(d3 / 1000.0)
    g0, g1, g2, g3, g4 = geom[u, 0], geom[u, 1], geom[u, 2], geom[u, 3], geom[u, 4]
    hb_eff = z_top - g4
    hb = min(max(hb_eff, 30.0), 200.0)
    hm = min(max(hrx, 1.0), 10.0)
    d_km = d / 1000.0
    t_lb = 0.0
    slope = 0.0
    if model == 1 or model == 2:
        if hb == 30.0:
            lb = lds[-2]
        elif hb == 200.0:
            lb = lds[-1]
        else:
            lb = math.log10(hb)
        t_lb = 13.82 * lb
        slope = (44.9 - 6.55 * lb) * lds[j]
    rma = env != 0 and env != 4  # 38.901 is RMa: its band-free terms once per sample
    rt = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    have_rt = False
    for b in range(bands.shape[0]):
        if not need[b, u]:
            continue
        f = bands[b]
        lf = lfs[b]
        free = 32.45 + 20.0 * lf + fs_d
        dl = 0.0
        if diff >= 0:
            s = ss[b]
            vp = g0 * s
            dl = _j(vp)
            if diff == 1 and vp > -0.78:
                dl += _j(g1 * s) + _j(g2 * s)
        if model == 0:
            v = free + dl
        elif model == 3:
            los = g3 <= 0.0
            hbs = min(max(hb_eff, 10.0), 150.0)
            if rma:
                if not have_rt:
                    rt = _rma_terms(d, hbs, hrx)
                    have_rt = True
                pl = _rma_band(rt, fcs[b], lfc20s[b], los)
                if diff >= 0:
                    pl = max(pl, _rma_band(rt, fcs[b], lfc20s[b], True) + dl)
            else:
                pl = _tr38901(d, f, hbs, hrx, los, env)
                if diff >= 0:
                    pl = max(pl, _tr38901(d, f, hbs, hrx, True, env) + dl)
            v = max(pl, free)
        else:
            if model == 2 or (f > 1500.0 and f <= 2000.0):
                base = _hata_fast(lf, t_lb, slope, f, hm, env, True)
            elif f <= 1500.0:
                base = _hata_fast(lf, t_lb, slope, f, hm, env, False)
            elif rma:  # 'hata' above 2000 MHz: 38.901 NLOS (the 5G bands)
                if not have_rt:
                    rt = _rma_terms(d_km * 1000.0, min(max(hb, 10.0), 150.0), hm)
                    have_rt = True
                base = _rma_band(rt, fcs[b], lfc20s[b], False)
            else:
                base = _tr38901(d_km * 1000.0, f, min(max(hb, 10.0), 150.0), hm, False, env)
            v = max(base + dl, free)
        loss[b, u] = v + margin


@njit(**_JIT)
def _band_terms(bands):
    """``log10(f)``, ``1/sqrt(λ)`` (λ in m), ``fc = f/1000`` (GHz) and ``20 log10(fc)`` per
    band."""
    lfs = np.empty(bands.shape[0])
    ss = np.empty(bands.shape[0])
    fcs = np.empty(bands.shape[0])
    lfc20s = np.empty(bands.shape[0])
    for b in range(bands.shape[0]):
        lfs[b] = math.log10(bands[b])
        ss[b] = 1.0 / math.sqrt(299.792458 / bands[b])
        fcs[b] = bands[b] / 1000.0
        lfc20s[b] = 20.0 * math.log10(fcs[b])
    return lfs, ss, fcs, lfc20s


@njit(**_JIT)
def _distance_terms(n_s, step):
    """``log10(d_km)`` of the model distance ``max(j step, 10 m)`` per sample index ``j <
    n_s``, then ``log10(30)`` and ``log10(200)`` (Hata's base height at its clipping bounds)."""
    lds = np.empty(n_s + 2)
    for j in range(n_s):
        d = max(max(j * step, 1.0), 10.0)
        lds[j] = math.log10(d / 1000.0)
    lds[n_s] = math.log10(30.0)
    lds[n_s + 1] = math.log10(200.0)
    return lds


@njit(parallel=True, **_JIT)
def ray_model_losses(geom, rays, used_k, used_j, need, bands, model, diff, env, step, htx, hrx,
                     margin, loss):
    """``loss[b, u]`` (in place) for every used ray sample ``u`` wanted on band ``b``, dB.

    ``geom`` is the (n_used, 5) geometry of the used ray points (:func:`._diffraction.
    ray_geometry` with ``slot``), ``rays`` the ground heights, ``used_k``/``used_j`` the ray
    and sample of each used point,
    ``need[b, u]`` whether band ``b`` wants it, ``bands`` MHz, ``step`` m, ``htx``/``hrx``
    antenna heights above ground, m, and ``margin`` the location margin, dB, added to every
    value. Entries not wanted are left as they were. Parallel over ray samples.
    """
    lfs, ss, fcs, lfc20s = _band_terms(bands)
    lds = _distance_terms(rays.shape[1], step)
    for u in prange(used_k.shape[0]):
        _sample_losses(np.int64(u), geom, rays, used_k, used_j, need, bands, lfs, ss, fcs, lfc20s,
                       lds, model, diff, env, step, htx, hrx, margin, loss)


@njit(**_JIT)
def ray_model_losses_serial(geom, rays, used_k, used_j, need, bands, model, diff, env, step,
                            htx, hrx, margin, loss):
    """:func:`ray_model_losses` on the calling thread only; same results."""
    lfs, ss, fcs, lfc20s = _band_terms(bands)
    lds = _distance_terms(rays.shape[1], step)
    for u in range(used_k.shape[0]):
        _sample_losses(u, geom, rays, used_k, used_j, need, bands, lfs, ss, fcs, lfc20s, lds,
                       model, diff, env, step, htx, hrx, margin, loss)
