"""The ray kernel's lockstep frequency part (``itm_ray_losses``: batches of ray samples through
``_itm_lanes``) against its one-sample-at-a-time reference (``itm_ray_losses_scalar``), on
synthetic mountain rays with sparse ``need`` masks, invalid bands, every climate and mdvar kind,
long rays reaching troposcatter, and real SRTM3 rays."""

from __future__ import annotations

import numpy as np
import pytest

from phusong.coverage._itm_rays import itm_ray_losses, itm_ray_losses_scalar

# The lockstep form uses polynomial exp/log/cbrt/sin/cos (a few ulps from libm's): losses may
# move by float rounding only. 1e-9 dB is the bar, as for the point-to-point kernels.
TOL_DB = 1e-9


def _both(rays, step, freqs, need, h_tx=30.0, h_rx=1.5, cap=0, pol=1, eps=15.0,
          sigma=0.005, n0=301.0, climate=5, tm=50.0, loc=50.0, sit=50.0, mdvar=12):
    n_rays, n_s = rays.shape
    slot = np.arange(n_rays * n_s, dtype=np.int64)
    slot[::7] = -1  # some samples are no cell's
    last = np.full(n_rays, n_s - 1, np.int64)
    last[::5] = n_s // 3  # some rays stop early
    outs = []
    for kernel in (itm_ray_losses, itm_ray_losses_scalar):
        out = np.full((len(freqs), n_rays * n_s), np.inf)
        kernel(rays, last, step, slot, need, np.asarray(freqs, float), h_tx, h_rx, cap, pol,
               eps, sigma, n0, climate, tm, loc, sit, mdvar, out)
        outs.append(out)
    got, ref = outs
    np.testing.assert_array_equal(np.isfinite(got), np.isfinite(ref))
    ok = np.isfinite(ref)
    np.testing.assert_allclose(got[ok], ref[ok], rtol=0, atol=TOL_DB)
    return ref


def _mountains(n_rays, n_s, seed):
    rng = np.random.default_rng(seed)
    z = 300.0 + np.cumsum(rng.normal(0.0, rng.uniform(1.0, 30.0), (n_rays, n_s)), axis=1)
    x = np.arange(n_s)
    for k in range(n_rays):
        for _ in range(3):
            c, w, h = rng.uniform(0, n_s), rng.uniform(5, 30), rng.uniform(50, 600)
            z[k] += h * np.exp(-(((x - c) / w) ** 2))
    z[1::4] = 20.0  # flat water: Δh 0
    return z


@pytest.mark.parametrize(("climate", "mdvar", "pol"), [(5, 12, 1), (1, 0, 0), (3, 1, 1),
                                                       (4, 2, 0), (7, 3, 1), (6, 23, 1),
                                                       (2, 32, 0)])
def test_lockstep_rays_match_the_scalar_rays(climate, mdvar, pol):
    rays = _mountains(13, 157, seed=climate)
    n_cols = rays.size
    rng = np.random.default_rng(mdvar)
    freqs = [150.0, 947.5, 1842.5, 3500.0, 25000.0]  # 25 GHz: an invalid band (code 1009)
    need = rng.random((len(freqs), n_cols)) < 0.7
    ref = _both(rays, 90.0, freqs, need, climate=climate, mdvar=mdvar, pol=pol)
    assert np.isfinite(ref[:4]).sum() > 0.5 * need[:4].sum()
    assert not np.isfinite(ref[4]).any()


def test_long_rays_with_troposcatter_lanes():
    rays = _mountains(6, 400, seed=9)
    need = np.ones((2, rays.size), bool)
    ref = _both(rays, 600.0, [100.0, 2500.0], need, h_tx=100.0, h_rx=10.0)
    assert np.isfinite(ref).sum() > 0


@pytest.mark.realdata
def test_real_srtm3_rays(hoabinh):
    rasterio = pytest.importorskip("rasterio")
    with rasterio.open(hoabinh / "dem" / "srtm3_N21E105.tif") as ds:
        z = ds.read(1).astype(float)
        nodata = ds.nodata
    if nodata is not None:
        z[z == nodata] = np.nan
    rng = np.random.default_rng(4)
    n_rays, n_s = 40, 330  # 30 km at 90 m
    r0 = rng.integers(n_s, z.shape[0] - n_s, n_rays)
    c0 = rng.integers(n_s, z.shape[1] - n_s, n_rays)
    az = rng.uniform(0.0, 2.0 * np.pi, n_rays)
    d = np.arange(n_s)
    rows = np.rint(r0[:, None] - np.cos(az)[:, None] * d).astype(int)
    cols = np.rint(c0[:, None] + np.sin(az)[:, None] * d).astype(int)
    rays = z[rows, cols]
    rays = np.where(np.isfinite(rays), rays, 0.0)  # the raster engine fills voids before rays
    need = np.ones((3, rays.size), bool)
    for cap in (0, 96):
        ref = _both(rays, 90.0, [700.0, 1842.5, 3500.0], need, cap=cap)
        # every 7th sample has no cell and every 5th ray stops at a third: 0.74 are computed
        assert np.isfinite(ref).mean() > 0.7


def test_a_sample_s_loss_does_not_depend_on_what_else_is_needed():
    # Each band batches only the samples that need it, so a sample sits in another lane (and
    # batch) when other samples or bands are left out: its loss must not change by a bit.
    rays = _mountains(7, 180, seed=21)
    n_rays, n_s = rays.shape
    slot = np.arange(rays.size, dtype=np.int64)
    last = np.full(n_rays, n_s - 1, np.int64)
    freqs = np.array([700.0, 1842.5, 2600.0, 3500.0])
    sparse = np.random.default_rng(3).random((len(freqs), rays.size)) < 0.2
    outs = []
    for need in (np.ones_like(sparse), sparse):
        out = np.full((len(freqs), rays.size), np.inf)
        itm_ray_losses(rays, last, 90.0, slot, need, freqs, 30.0, 1.5, 0, 1, 15.0, 0.005,
                       301.0, 5, 50.0, 50.0, 50.0, 12, out)
        outs.append(out)
    full, part = outs
    assert np.isfinite(part[sparse]).mean() > 0.9
    assert not np.isfinite(part[~sparse]).any()
    np.testing.assert_array_equal(part[sparse], full[sparse])  # bit for bit: same arithmetic
