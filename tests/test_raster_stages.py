"""The raster's per-site stages against their former forms, exactly: ray sampling
(``_raster_kernels.sample_rays``: the block pass gives the old per-sample kernel's profiles bit
for bit, voids, off-DEM stretches and partial walks included), the screening's per-site filter
(``screen_keep`` against the scipy filters) and the antenna configurations of a site's cells
(``_gain_configs`` against ``np.unique(axis=0)``)."""

from __future__ import annotations

import numpy as np
import pytest

from phusong.coverage._raster_kernels import sample_rays, sample_rays_serial
from tests._sample_before import sample_rays_serial as before


def _dem(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = (rng.normal(300.0, 80.0, (90, 70))).astype(np.float32)
    z[rng.random(z.shape) < 0.08] = np.nan  # scattered voids
    z[30:38, 20:45] = np.nan  # a long void
    z[60:62, :] = np.nan  # a void across the DEM
    return z


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("max_void", [np.inf, 250.0])
def test_sample_rays_equal_the_per_sample_kernel_bit_for_bit(seed, max_void):
    z = _dem(seed)
    x0, y0, px, py = 1000.0, 9000.0, 90.0, 92.0
    rng = np.random.default_rng(seed + 10)
    # one site inside, one near an edge (rays leave the DEM), one off it
    for sx, sy in ((x0 + 3000.0, y0 - 4000.0), (x0 + 200.0, y0 - 7800.0),
                   (x0 - 500.0, y0 + 300.0)):
        n_rays, step = 97, 70.0
        n_s = 150
        last = rng.integers(-1, n_s, n_rays)
        last[0] = max(last[0], 0)
        last[::7] = n_s - 1
        args = (z, x0, y0, px, py, sx, sy, step, n_rays, n_s, last, max_void)
        ref, ref_bad = before(*args)
        for fn in (sample_rays_serial, sample_rays):
            got, bad = fn(*args)
            # bit for bit, NaN beyond each walk included (exact: the same operations)
            assert (got.view(np.int64) == ref.view(np.int64)).all()
            assert (bad == ref_bad).all()


@pytest.mark.parametrize("window", [1, 3, 5])
def test_screen_keep_equals_the_scipy_filters(window):
    """``screen_keep`` against the screening's former numpy/scipy form, exactly (bool)."""
    from scipy import ndimage

    from phusong.coverage._raster_kernels import screen_keep

    rng = np.random.default_rng(window)
    n_g, h, w, n_b = 3, 11, 9, 2
    v = rng.normal(-80.0, 4.0, (n_g, h, w)).astype(np.float32)
    v[rng.random(v.shape) < 0.15] = -np.inf
    v[1, :4, :5] = -np.inf  # a corner with nothing known
    ref = rng.normal(-55.0, 6.0, (n_g, h, w)).astype(np.float32)
    ref[rng.random(ref.shape) < 0.03] = -np.inf  # no reference best there
    band_of = np.array([[True, False], [False, True], [True, True]])
    ri = np.clip(np.arange(-2, 40) // 4, 0, h - 1)
    ci = np.clip(np.arange(3, 30) // 4, 0, w - 1)
    outside = rng.random((ri.size, ci.size)) < 0.1
    margin = 3.0
    out = np.ones((n_b, ri.size, ci.size), bool)
    screen_keep(v, ref, window // 2, margin, band_of, ri, ci, outside, out)
    ok = []
    for i in range(n_g):
        known = np.isfinite(v[i])
        d = np.full((h, w), -np.inf)
        with np.errstate(invalid="ignore"):
            d[known] = v[i][known] - ref[i][known]
        near = ndimage.maximum_filter(d, size=window, mode="constant", cval=-np.inf)
        seen = ndimage.maximum_filter(known, size=3, mode="constant", cval=False)
        k = (near >= -margin) | ~seen
        ok.append(k[ri[:, None], ci[None, :]] | outside)
    for b in range(n_b):
        want = np.zeros_like(outside)
        for i in range(n_g):
            if band_of[i, b]:
                want |= ok[i]
        assert (out[b] == want).all()
        assert 0 < want.sum() < want.size  # both kept and dropped cells


def test_gain_configs_number_as_np_unique_rows():
    import types

    from phusong.coverage._raster import _gain_configs

    rng = np.random.default_rng(0)
    for t in range(300):
        n = int(rng.integers(1, 9))
        txs = types.SimpleNamespace(
            pattern=rng.integers(-1, 3, n) if t % 2 else None,
            etilt=rng.choice([0.0, 2.0, -0.0, np.nan], n) if t % 3 else None,
            azimuth=rng.choice([0.0, 120.0, -0.0, np.nan, 240.0], n),
            tilt=rng.choice([0.0, 3.0, np.nan, -2.0], n))
        cells = rng.permutation(n)
        pat = (np.full(n, -1, np.int64) if txs.pattern is None
               else np.asarray(txs.pattern[cells], np.int64))
        et = (np.zeros(n) if txs.etilt is None
              else np.where(pat >= 0, np.asarray(txs.etilt[cells], np.float64), 0.0))
        key = np.stack([pat, txs.azimuth[cells].view(np.int64),
                        txs.tilt[cells].view(np.int64), et.view(np.int64)], axis=1)
        _, cfg = np.unique(key, axis=0, return_inverse=True)
        order = np.argsort(cfg.reshape(-1), kind="stable")
        got_cells, got_cfg = _gain_configs(txs, cells)
        assert (got_cells == cells[order]).all()
        assert (got_cfg == cfg.reshape(-1)[order]).all()
