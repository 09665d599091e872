"""The O(n log n) Bullington ray geometry (``_ray_hull``) against the direct O(n²) kernel."""

from __future__ import annotations

import math

import numpy as np
import pytest

from phusong.coverage import _diffraction as dif
from phusong.coverage._ray_hull import geom_rays_hull
from phusong.coverage._terrain import EARTH_RADIUS_M

INV2A = 1.0 / (2.0 * 4.0 / 3.0 * EARTH_RADIUS_M)


def _direct(rays, step, zt, hrx, method):
    out = np.empty(rays.shape + (5,))
    dif._geom_rays(np.ascontiguousarray(rays, float), step, zt, hrx, INV2A, method, out)
    return out


def _hull(rays, step, zt, hrx, method, g_floor=-1e30):
    out = np.empty((rays.size, 5))
    last = np.full(rays.shape[0], rays.shape[1] - 1, np.int64)
    rows = np.arange(rays.size, dtype=np.int64).reshape(rays.shape)
    geom_rays_hull(np.ascontiguousarray(rays, float), last, rows, step, zt, hrx, INV2A, method,
                   g_floor, out)
    return out.reshape(rays.shape + (5,))


def _random_rays(rng, kind, n_rays, n):
    if kind == "noise":
        return rng.normal(200.0, 50.0, (n_rays, n))
    if kind == "walk":
        return np.cumsum(rng.normal(0.0, 5.0, (n_rays, n)), axis=1) + 300.0
    if kind == "flat":  # whole metres: collinear points and exact ties on the hull
        return np.round(rng.normal(100.0, 0.6, (n_rays, n)))
    # a ridge then a valley, the classic Bullington case
    d = np.linspace(0.0, 1.0, n)
    return 150.0 + 400.0 * np.exp(-((d - 0.4) / 0.05) ** 2) + rng.normal(0, 2, (n_rays, n))


@pytest.mark.parametrize("kind", ["noise", "walk", "flat", "ridge"])
@pytest.mark.parametrize("method", [0, -1])
def test_hull_equals_direct_kernel_exactly(kind, method):
    rng = np.random.default_rng(hash(kind) % 2**32)
    for _ in range(20):
        n = int(rng.integers(2, 300))
        rays = _random_rays(rng, kind, 4, n)
        step = float(rng.choice([30.0, 90.0, 100.0]))
        zt = float(rays[0, 0] + rng.choice([5.0, 30.0, 80.0]))
        a = _direct(rays, step, zt, 1.5, method)
        b = _hull(rays, step, zt, 1.5, method)
        # same samples, same formulas at the same argmax: equal to rounding (1e-9 m, m^0.5)
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-9)


def test_line_of_sight_bound_gives_identical_losses():
    """With a floor, LoS G may be a bound, but the loss at every band ≥ the floor's is equal."""
    rng = np.random.default_rng(5)
    rays = np.cumsum(rng.normal(0.0, 4.0, (16, 400)), axis=1) + 250.0
    bands = np.array([700.0, 1800.0, 3500.0])
    g_floor = -0.78 * math.sqrt(299.792458 / bands.min()) * (1.0 + 1e-9)
    zt = float(rays[0, 0] + 40.0)
    a = _direct(rays, 90.0, zt, 1.5, 0)
    b = _hull(rays, 90.0, zt, 1.5, 0, g_floor)
    bounded = ~np.isclose(a[..., 0], b[..., 0], rtol=0, atol=1e-9)
    assert bounded.any(), "the test must exercise the line-of-sight bound"
    assert (b[..., 0][bounded] >= a[..., 0][bounded]).all()  # an upper bound, never lower
    for f in bands:
        la = dif.diffraction_loss_db(a, f, "bullington")
        lb = dif.diffraction_loss_db(b, f, "bullington")
        np.testing.assert_allclose(lb, la, rtol=0, atol=1e-9)  # the 1e-9 dB


def test_rays_cut_at_last_equal_whole_rays_up_to_there():
    rng = np.random.default_rng(3)
    rays = _random_rays(rng, "walk", 6, 200)
    last = np.array([199, 0, -1, 57, 120, 1])
    whole = dif.ray_geometry(rays, 90.0, rays[0, 0], 30.0, 1.5, method="bullington")
    cut = dif.ray_geometry(rays, 90.0, rays[0, 0], 30.0, 1.5, method="bullington", last=last)
    for r, lr in enumerate(last):
        np.testing.assert_array_equal(cut[r, : lr + 1], whole[r, : lr + 1])  # same arithmetic


@pytest.mark.parametrize("method", ["bullington", "none", "deygout"])
def test_used_samples_only_equal_whole_rays(method):
    """With ``slot`` (the raster's used ray points, in its order) each row is the whole-ray
    geometry of its sample, bit for bit: the hull still walks every sample."""
    rng = np.random.default_rng(8)
    rays = _random_rays(rng, "ridge", 7, 180)
    n_s = rays.shape[1]
    slot = np.full(rays.size, -1, np.int64)
    picked = rng.choice(rays.size, 300, replace=False)
    slot[picked] = rng.permutation(300)
    last = np.full(7, -1, np.int64)
    for p in picked:
        last[p // n_s] = max(last[p // n_s], p % n_s)
    kw = {"method": method, "min_freq_mhz": 900.0}
    whole = dif.ray_geometry(rays, 90.0, rays[0, 0], 30.0, 1.5, **kw)
    rows = dif.ray_geometry(rays, 90.0, rays[0, 0], 30.0, 1.5, last=last, slot=slot, **kw)
    assert rows.shape == (300, 5)
    np.testing.assert_array_equal(rows[slot[picked]], whole.reshape(-1, 5)[picked])


def test_ray_geometry_public_entry_matches_for_every_method():
    rng = np.random.default_rng(11)
    rays = _random_rays(rng, "walk", 8, 250)
    for method in ("bullington", "none", "deygout"):
        got = dif.ray_geometry(rays, 90.0, rays[0, 0], 30.0, 1.5, method=method,
                               min_freq_mhz=900.0)
        ref = _direct(rays, 90.0, rays[0, 0] + 30.0, 1.5, dif.METHODS[method])
        for f in (900.0, 2600.0):  # losses agree to 1e-9 dB (G may be a bound in LoS)
            np.testing.assert_allclose(dif.diffraction_loss_db(got, f, method),
                                       dif.diffraction_loss_db(ref, f, method), rtol=0,
                                       atol=1e-9)
        np.testing.assert_allclose(got[..., 3:], ref[..., 3:], rtol=0, atol=1e-9)


@pytest.mark.realdata
def test_hull_on_real_srtm3_rays(hoabinh):
    """Rays sampled by the engine's own sampler from the SRTM3 tile, voids filled as it does."""
    from phusong.coverage._raster_kernels import sample_rays_serial
    from phusong.coverage._terrain import prepare_terrain
    from phusong.io import read_dem

    dem = read_dem(hoabinh / "dem" / "srtm3_N21E105.tif").data
    t = prepare_terrain(dem)
    n_rays, n_s, step = 90, 420, 90.0
    cx = t.x0_m + t.px_m * t.z.shape[1] / 2
    cy = t.y0_m - t.py_m * t.z.shape[0] / 2
    last = np.full(n_rays, n_s - 1, np.int64)
    rays, _ = sample_rays_serial(t.z, t.x0_m, t.y0_m, t.px_m, t.py_m, cx, cy, step, n_rays,
                                 n_s, last, np.inf)
    assert np.isfinite(rays).all()
    for method in (0, -1):
        a = _direct(rays, step, float(rays[0, 0] + 30.0), 1.5, method)
        b = _hull(rays, step, float(rays[0, 0] + 30.0), 1.5, method)
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-9)  # exact up to rounding
