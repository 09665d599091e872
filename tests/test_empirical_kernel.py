"""The compiled empirical models along rays (``_empirical_kernel``) against the numpy reference
(:func:`phusong.coverage._link.model_loss_db`), per sample and through the raster engine."""

from __future__ import annotations

import dataclasses
import math
import warnings

import numba
import numpy as np
import pytest
from shapely.geometry import box

from phusong.coverage import _raster
from phusong.coverage._diffraction import METHODS, ray_geometry
from phusong.coverage._empirical_kernel import (
    ENV_CODES,
    MODEL_CODES,
    _a_hm,
    _env_corr,
    _j,
    _tr38901,
    ray_model_losses,
    ray_model_losses_serial,
)
from phusong.coverage._engine import EngineOptions, TxSet
from phusong.coverage._link import model_loss_db
from phusong.coverage._raster import grid_over, raster_links
from phusong.coverage._score import _groups
from phusong.coverage._terrain import prepare_terrain
from phusong.errors import ModelError, ValidityWarning
from tests._synthetic import gaussian_hills_dem, sectorised_sites

#: Bands across every branch of the Hata family (Hata, COST-231, 38.901 above 2 GHz) and
#: 38.901's LOS break points, MHz.
BANDS = np.array([700.0, 900.0, 1800.0, 2100.0, 3500.0, 26000.0])


def _rays(rng, n_rays=6, n_s=160):
    walk = np.cumsum(rng.normal(0.0, 6.0, (n_rays, n_s)), axis=1) + 300.0
    walk[:, 0] = walk[0, 0]  # every ray starts at the site
    return walk


def _reference(model, diffraction, env, geom, rays, uk, uj, need, bands, step, htx, hrx,
               margin):
    """The raster's loss before the compiled kernel: model_loss_db per band, in numpy."""
    loss = np.full((len(bands), len(uk)), np.inf)
    n_s = rays.shape[1]
    rp = uk * n_s + uj
    for b, f in enumerate(bands):
        sel = np.flatnonzero(need[b])
        loss[b, sel] = model_loss_db(
            model, diffraction, freq_mhz=np.full(len(sel), f),
            distance_m=np.maximum(uj[sel] * step, 1.0), geometry=geom[sel],
            tx_height_m=htx, rx_height_m=hrx, z_tx_m=rays[0, 0], z_rx_m=rays.ravel()[rp[sel]],
            environment=env) + margin
    return loss


@pytest.mark.parametrize("model", ["fspl", "hata", "cost231", "38901"])
@pytest.mark.parametrize("diffraction", ["none", "bullington", "deygout"])
@pytest.mark.parametrize("env", ["urban", "suburban", "rural", "open", "large_city"])
def test_kernel_equals_reference_per_sample(model, diffraction, env):
    rng = np.random.default_rng(abs(hash((model, diffraction, env))) % 2**32)
    for htx, hrx, step in ((30.0, 1.5, 90.0), (45.0, 12.0, 30.0), (6.0, 0.5, 100.0)):
        rays = _rays(rng)
        uk, uj = np.divmod(np.arange(rays.size), rays.shape[1])
        keep = uj >= 1
        uk, uj = uk[keep], uj[keep]
        geom = ray_geometry(rays, step, rays[0, 0], htx, hrx,
                            method=diffraction).reshape(-1, 5)[uk * rays.shape[1] + uj]
        bands = BANDS[BANDS <= 6000.0] if model == "cost231" else BANDS  # COST-231's hard limit
        need = rng.random((len(bands), len(uk))) < 0.8
        margin = float(rng.choice([0.0, 10.25]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ValidityWarning)  # bands outside each model's range
            ref = _reference(model, diffraction, env, geom, rays, uk, uj, need, bands, step,
                             htx, hrx, margin)
        for kern in (ray_model_losses, ray_model_losses_serial):
            got = np.full(ref.shape, np.inf)
            kern(geom, rays, uk, uj, need, bands, MODEL_CODES[model], METHODS[diffraction],
                 ENV_CODES[env], step, htx, hrx, margin, got)
            assert np.array_equal(np.isinf(got), ~need)  # not wanted: left as it was
            # same formulas, libm's log10/sqrt in both: equal to rounding (1e-9 dB)
            np.testing.assert_allclose(got[need], ref[need], rtol=0, atol=1e-9)


@numba.njit
def _hata_before(d_km, f, hb, hm, env, cost):
    lf = math.log10(f)
    lb = math.log10(hb)
    if cost:
        cm = 3.0 if env == 4 else 0.0
        u = (46.3 + 33.9 * lf - 13.82 * lb - _a_hm(lf, hm, env)
             + (44.9 - 6.55 * lb) * math.log10(d_km) + cm)
    else:
        u = (69.55 + 26.16 * lf - 13.82 * lb - _a_hm(lf, hm, env)
             + (44.9 - 6.55 * lb) * math.log10(d_km))
    return u + _env_corr(f, lf, env)


@numba.njit
def _loss_one(model, diff, env, f, d_m, g0, g1, g2, g3, g4, z_top, z_rx_top, hrx):
    """The kernel's loss of one path on one band before 2026-12-07 (every term per band)."""
    d = max(d_m, 10.0)
    dz = z_top - z_rx_top
    d3 = math.sqrt(d * d + dz * dz)
    free = 32.45 + 20.0 * math.log10(f) + 20.0 * math.log10(d3 / 1000.0)
    dl = 0.0
    if diff >= 0:
        s = 1.0 / math.sqrt(299.792458 / f)
        vp = g0 * s
        dl = _j(vp)
        if diff == 1 and vp > -0.78:
            dl += _j(g1 * s) + _j(g2 * s)
    if model == 0:
        return free + dl
    hb_eff = z_top - g4
    if model == 3:
        los = g3 <= 0.0
        hbs = min(max(hb_eff, 10.0), 150.0)
        pl = _tr38901(d, f, hbs, hrx, los, env)
        if diff >= 0:
            pl = max(pl, _tr38901(d, f, hbs, hrx, True, env) + dl)
        return max(pl, free)
    hb = min(max(hb_eff, 30.0), 200.0)
    hm = min(max(hrx, 1.0), 10.0)
    d_km = d / 1000.0
    if model == 2 or (f > 1500.0 and f <= 2000.0):
        base = _hata_before(d_km, f, hb, hm, env, True)
    elif f <= 1500.0:
        base = _hata_before(d_km, f, hb, hm, env, False)
    else:  # 'hata' above 2000 MHz: 38.901 NLOS (the 5G bands)
        base = _tr38901(d_km * 1000.0, f, min(max(hb, 10.0), 150.0), hm, False, env)
    return max(base + dl, free)


@numba.njit
def _per_band_reference(geom, rays, uk, uj, need, bands, model, diff, env, step, htx, hrx,
                        margin, loss):
    """The kernel before the band-independent terms were hoisted: ``_loss_one`` per band."""
    for u in range(uk.shape[0]):
        z_top = rays[0, 0] + htx
        z_rx_top = rays[uk[u], uj[u]] + hrx
        d_m = max(uj[u] * step, 1.0)
        for b in range(bands.shape[0]):
            if need[b, u]:
                loss[b, u] = _loss_one(model, diff, env, bands[b], d_m, geom[u, 0], geom[u, 1],
                                       geom[u, 2], geom[u, 3], geom[u, 4], z_top, z_rx_top,
                                       hrx) + margin


@pytest.mark.parametrize("model", ["fspl", "hata", "cost231", "38901"])
def test_hoisted_kernel_is_the_per_band_kernel_bit_for_bit(model):
    """Logs of distance and base height computed once per sample, log10(f) once per band:
    the same operations in the same order as ``_loss_one`` per band, so equal bit for bit."""
    rng = np.random.default_rng(11)
    for diffraction in ("none", "bullington", "deygout"):
        for env in ENV_CODES:
            for htx, hrx, step in ((30.0, 1.5, 90.0), (6.0, 0.5, 100.0), (250.0, 12.0, 30.0)):
                rays = _rays(rng)
                uk, uj = np.divmod(np.arange(rays.size), rays.shape[1])
                geom = ray_geometry(rays, step, rays[0, 0], htx, hrx,
                                    method=diffraction).reshape(-1, 5)
                need = rng.random((len(BANDS), len(uk))) < 0.8
                args = (geom, rays, uk, uj, need, BANDS, MODEL_CODES[model],
                        METHODS[diffraction], ENV_CODES[env], step, htx, hrx, 10.25)
                ref = np.full((len(BANDS), len(uk)), np.inf)
                _per_band_reference(*args, ref)
                for kern in (ray_model_losses, ray_model_losses_serial):
                    got = np.full(ref.shape, np.inf)
                    kern(*args, got)
                    assert np.array_equal(got, ref), (model, diffraction, env, htx)


def _old_kernels(model_name, diffraction, env):
    """Kernel sets whose ``emp`` evaluates the reference instead (the engine before)."""
    def emp(geom, rays, uk, uj, need, bands, model, diff, env_code, step, htx, hrx, margin,
            loss):
        loss[...] = np.where(need, _reference(model_name, diffraction, env, geom, rays, uk, uj,
                                              need, bands, step, htx, hrx, margin), loss)
    return (dataclasses.replace(_raster._PARALLEL, emp=emp),
            dataclasses.replace(_raster._SERIAL, emp=emp))


SIDE_M, PX_M, X0, Y0 = 12_000.0, 90.0, 600_000.0, 2_320_000.0


@pytest.fixture(scope="module")
def province():
    """A 12 km square of hills, 12 sites of 4 operators (2G omni, 4G 3 sectors, 5G 3.5 GHz)."""
    rng = np.random.default_rng(3)
    dem = gaussian_hills_dem(rng, SIDE_M, PX_M, X0, Y0, 12, (600, 2500), (100, 500))
    tx = sectorised_sites(rng, 12, SIDE_M, X0, Y0, with_5g=True)
    terrain = prepare_terrain(dem)
    grid = grid_over(box(X0, Y0 - SIDE_M, X0 + SIDE_M, Y0), 150.0, terrain)
    g, pairs = _groups(tx)
    return tx, terrain, grid, g, pairs


def _run(province, **kw):
    tx, terrain, grid, g, pairs = province
    opts = EngineOptions(max_radius_km={"2G": 8.0, "3G": 8.0, "4G": 6.0, "5G": 3.0},
                         **kw).check()
    txs = TxSet.from_frame(tx, terrain, opts)
    return raster_links(txs, g, len(pairs), terrain, grid, opts), opts


@pytest.mark.parametrize("model,diffraction,reliability,screen", [
    ("hata", "bullington", 50.0, 6.0), ("38901", "bullington", 90.0, 6.0),
    ("cost231", "deygout", 50.0, 0), ("fspl", "none", 50.0, 0),
    ("hata", "none", 90.0, 0)])
@pytest.mark.parametrize("threads", [1, 2])
def test_raster_identical_to_numpy_reference(province, monkeypatch, model, diffraction,
                                             reliability, screen, threads):
    """Best server and level per grid cell equal those of the numpy model evaluation."""
    kw = dict(model=model, diffraction=diffraction, threads=threads,
              reliability_pct=reliability, screen_margin_db=screen)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ValidityWarning)  # 3.5 GHz is outside Hata's range
        (best, arg, st), opts = _run(province, **kw)
        par, ser = _old_kernels(model, diffraction, opts.environment)
        monkeypatch.setattr(_raster, "_PARALLEL", par)
        monkeypatch.setattr(_raster, "_SERIAL", ser)
        (best0, arg0, st0), _ = _run(province, **kw)
    assert st["points_evaluated"] == st0["points_evaluated"] > 0
    assert np.array_equal(arg, arg0)
    assert np.array_equal(np.isfinite(best), np.isfinite(best0))
    # float32 levels from losses equal to 1e-9 dB: equal, or one float32 rounding apart
    # (|rx| < 200 dBm: 2e-5 dB)
    ok = np.isfinite(best0)
    np.testing.assert_allclose(best[ok], best0[ok], rtol=0, atol=2e-5)


def test_raster_keeps_the_reference_warnings_and_errors(province):
    """Validity warnings and hard errors come from the reference models, as before."""
    tx, terrain, grid, g, pairs = province
    with pytest.warns(ValidityWarning, match="cost231: frequency"):
        _run((tx.assign(freq_mhz=2500.0), terrain, grid, g, pairs), model="cost231")
    with pytest.raises(ModelError, match="far outside"):
        _run((tx.assign(freq_mhz=9000.0), terrain, grid, g, pairs), model="cost231")
