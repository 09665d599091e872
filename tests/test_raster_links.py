"""The raster's fused link budget (``site_links``) against a per-link numpy reference.

The kernel computes one antenna gain per (grid cell, antenna configuration) and skips links
of infinite loss; these tests hold it to the plain definition (every link evaluated with the
reference gain functions) and to itself without the sharing (one configuration per cell).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from phusong.coverage._antenna_kernel import PatternTable, pattern_gains
from phusong.coverage._link import VERTICAL_BEAMWIDTH_DEG, VERTICAL_SLA_DB, sector_gain_db
from phusong.coverage._raster import _NO_SINR, _gain_configs
from phusong.coverage._raster_kernels import site_links, site_links_serial
from phusong.coverage.antenna import parametric_3gpp

BW, FB, H_TX, H_RX = 65.0, 30.0, 30.0, 1.5


def _site(rng):
    """One site of 9 cells among 12 (3 bands, shared and distinct antenna configurations,
    an omni, legacy and patterned cells), 600 grid cells of a 80 × 80 grid, 3 % of the
    losses infinite."""
    n_all = 12
    cells = np.array([0, 2, 3, 5, 6, 7, 9, 10, 11])
    az = np.tile([10.0, 130.0, 250.0], 4)
    az[5] = np.nan  # omni
    tilt = np.tile([4.0, 2.0, 4.0], 4)
    tilt[7] = np.nan
    pattern = np.tile([-1, -1, -1, 0, 0, 0], 2).astype(np.int64)
    etilt = np.tile([6.0, 3.0, 3.0], 4)  # cells i and i + 6 share a configuration
    n_rays, n_s, n_used, n_pix = 40, 60, 300, 600
    flat = rng.choice(80 * 80, n_pix, replace=False).astype(np.int64)
    dx, dy = rng.uniform(-5000.0, 5000.0, (2, n_pix))
    uop = rng.integers(0, n_used, n_pix).astype(np.int64)
    uk = rng.integers(0, n_rays, n_used).astype(np.int64)
    uj = rng.integers(1, n_s, n_used).astype(np.int64)
    rays = rng.uniform(100.0, 400.0, (n_rays, n_s))
    loss = rng.uniform(80.0, 150.0, (3, n_used))
    loss[rng.random(loss.shape) < 0.03] = np.inf
    return SimpleNamespace(
        cells=cells, az=az, tilt=tilt, pattern=pattern, etilt=etilt, flat=flat, dx=dx, dy=dy,
        uop=uop, uk=uk, uj=uj, rays=rays, loss=loss, n_grid=80 * 80,
        band=(np.arange(n_all) % 3).astype(np.int64),
        group=(np.arange(n_all) % 4).astype(np.int64),
        radius=rng.uniform(2000.0, 8000.0, n_all), eirp=rng.uniform(50.0, 60.0, n_all),
        offset=rng.choice([0.0, 10.0, 27.8], n_all),
        table=PatternTable.build([parametric_3gpp()]))


def _run(s, kernel, cells, cfg):
    best = np.full((4, s.n_grid), -np.inf, np.float32)
    arg = np.full((4, s.n_grid), -1, np.int64)
    counts = np.zeros(len(s.flat), np.int64)
    t = s.table
    ant = (s.pattern, s.etilt, t.h, t.v, t.tilt, t.cap)
    clut = (np.zeros((1, 1), np.int8), np.zeros(6), np.zeros((1, len(s.az))))
    kernel(best, arg, s.flat, s.dx, s.dy, s.uop, s.uk, s.uj, s.rays, s.loss, H_TX, H_RX, cells,
           cfg, s.band, s.group, s.radius, s.eirp, s.offset, s.az, s.tilt, BW, FB,
           VERTICAL_BEAMWIDTH_DEG, VERTICAL_SLA_DB, counts, ant, clut, _NO_SINR)
    return best, arg, counts


def _reference(s):
    """Every link with the reference gains: max per (group, grid cell), ties to the lowest."""
    best = np.full((4, s.n_grid), -np.inf, np.float32)
    arg = np.full((4, s.n_grid), -1, np.int64)
    counts = np.zeros(len(s.flat), np.int64)
    d = np.hypot(s.dx, s.dy)
    bearing = np.degrees(np.arctan2(s.dx, s.dy)) % 360.0
    z_top = s.rays[0, 0] + H_TX
    down = np.degrees(np.arctan2(z_top - (s.rays[s.uk[s.uop], s.uj[s.uop]] + H_RX), d))
    for c in sorted(s.cells):
        inside = d <= s.radius[c]
        counts += inside
        n = len(d)
        if s.pattern[c] >= 0:
            t = s.table
            gain = pattern_gains(t.h, t.v, t.tilt, t.cap, np.full(n, s.pattern[c]), bearing,
                                 np.full(n, s.az[c]), down, np.full(n, s.tilt[c]),
                                 np.full(n, s.etilt[c]))
        else:
            gain = sector_gain_db(bearing, s.az[c], down, s.tilt[c], beamwidth_deg=BW,
                                  front_to_back_db=FB)
        v = (s.eirp[c] - s.offset[c] + gain - s.loss[s.band[c], s.uop]).astype(np.float32)
        g, q = s.group[c], s.flat
        win = inside & (v > best[g, q])  # cells in increasing order: a tie keeps the lower
        best[g, q[win]] = v[win]
        arg[g, q[win]] = c
    return best, arg, counts


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_site_links_equal_the_per_link_reference(seed):
    s = _site(np.random.default_rng(seed))
    by_cfg, cfg = _gain_configs(SimpleNamespace(pattern=s.pattern, etilt=s.etilt, azimuth=s.az,
                                                tilt=s.tilt), s.cells)
    assert cfg.max() + 1 < len(s.cells), "the case must share antenna configurations"
    got = _run(s, site_links_serial, by_cfg, cfg)
    # without sharing (one configuration per cell, original order): the same bits
    alone = _run(s, site_links_serial, s.cells, np.arange(len(s.cells), dtype=np.int64))
    par = _run(s, site_links, by_cfg, cfg)
    for a, b, c in zip(got, alone, par, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    ref_best, ref_arg, ref_counts = _reference(s)
    np.testing.assert_array_equal(got[2], ref_counts)  # links within radius, inf loss or not
    # numpy's and the kernel's atan2/cos/sin may differ in the last bit, then the float32
    # level by one ulp (≤ 2e-5 dB at 150 dB): 1e-4 dB; the serving cell is the same
    np.testing.assert_allclose(got[0], ref_best, rtol=0, atol=1e-4)
    np.testing.assert_array_equal(got[1], ref_arg)
