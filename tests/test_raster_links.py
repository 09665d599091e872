"""The raster's fused link budget (``site_links``) against a per-link numpy reference.

The kernel computes one antenna gain per (grid cell, antenna configuration) and skips links
of infinite loss; these tests hold it to the plain definition (every link evaluated with the
reference gain functions) and to itself without the sharing (one configuration per cell).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numba
import numpy as np
import pytest

from phusong.coverage._antenna_kernel import PatternTable, pattern_gains
from phusong.coverage._link import VERTICAL_BEAMWIDTH_DEG, VERTICAL_SLA_DB, sector_gain_db
from phusong.coverage._raster import _NO_SINR, _gain_configs
from phusong.coverage._raster_kernels import polar, site_links, site_links_serial, site_pixels
from phusong.coverage.antenna import parametric_3gpp
from phusong.coverage.msi import sampled
from tests._links_before import site_links_serial as site_links_before

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


def _run(s, kernel, cells, cfg, sinr=False):
    best = np.full((4, s.n_grid), -np.inf, np.float32)
    arg = np.full((4, s.n_grid), -1, np.int64)
    counts = np.zeros(len(s.flat), np.int64)
    t = s.table
    ant = (s.pattern, s.etilt, t.h, t.v, t.tilt, t.cap, t.back, t.vlow)
    if kernel is site_links_before:
        ant = ant[:6]  # the frozen loop's tuple
    clut = (np.zeros((1, 1), np.int8), np.zeros(6), np.zeros((1, len(s.az))))
    dist, brg = polar(s.dx, s.dy)
    sn = _NO_SINR
    if sinr:  # co-channel sums over 3 keys and the second best (issue 17)
        sn = (np.zeros((3, s.n_grid), np.int64), (np.arange(len(s.az)) % 4 - 1).astype(np.int64),
              np.full((4, s.n_grid), -np.inf, np.float32))
    kernel(best, arg, s.flat, s.dx, s.dy, dist, brg, s.uop, s.uk, s.uj, s.rays, s.loss, H_TX,
           H_RX, cells, cfg, s.band, s.group, s.radius, s.eirp, s.offset, s.az, s.tilt, BW, FB,
           VERTICAL_BEAMWIDTH_DEG, VERTICAL_SLA_DB, counts, ant, clut, sn,
           *(() if kernel is site_links_before else (np.zeros((0, 3), np.bool_),)))
    return (best, arg, counts) + ((sn[0], sn[2]) if sinr else ())


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


@pytest.mark.parametrize("seed", [4, 5, 6, 7])
def test_site_links_equal_the_frozen_loop_bit_for_bit(seed):
    """Against the loop before the back-lobe shortcut and the modulo without ``fmod``
    (``tests/_links_before.py``): best, serving cell, counts, co-channel sums and second
    best identical, on sites whose patterned cells see much of the grid behind them."""
    rng = np.random.default_rng(seed)
    s = _site(rng)
    s.pattern = np.tile([0, -1, 1, 0, 0, 2], 2).astype(np.int64)
    s.tilt = rng.uniform(-2.0, 10.0, len(s.az))
    s.tilt[rng.random(len(s.az)) < 0.2] = 0.0
    s.etilt = rng.uniform(0.0, 12.0, len(s.az))
    s.rays = rng.uniform(0.0, 600.0, s.rays.shape)  # receivers above and below the antenna
    s.dx, s.dy = rng.uniform(-3000.0, 3000.0, (2, len(s.flat)))
    s.table = PatternTable.build([parametric_3gpp(), parametric_3gpp(90.0, front_to_back_db=30.0),
                                  sampled(parametric_3gpp(), name="msi")])
    by_cfg, cfg = _gain_configs(SimpleNamespace(pattern=s.pattern, etilt=s.etilt, azimuth=s.az,
                                                tilt=s.tilt), s.cells)
    before = _run(s, site_links_before, by_cfg, cfg, sinr=True)
    for kernel in (site_links_serial, site_links):
        got = _run(s, kernel, by_cfg, cfg, sinr=True)
        for a, b in zip(got, before, strict=True):
            np.testing.assert_array_equal(a.view(np.int32 if a.dtype == np.float32 else a.dtype),
                                          b.view(np.int32 if b.dtype == np.float32 else b.dtype))
    assert np.isfinite(before[0]).sum() > 300  # the case has links to compare


@numba.njit
def _site_pixels_before(mask, gx0, gy0, res, r0, r1, c0, c1, sx, sy, radius, n_rays, n_s, step,
                        f_radius, keep, use_keep, ro, co):
    """``site_pixels`` before 2026-12-07: every cell of the window, distance before the
    screening's keep test (the reference of the row-chord and keep-first scan)."""
    cols = mask.shape[1]
    n_max = (r1 - r0) * (c1 - c0)
    flat = np.empty(n_max, np.int64)
    dxs = np.empty(n_max)
    dys = np.empty(n_max)
    uop = np.empty(n_max, np.int64)
    slot = np.full(n_rays * n_s, -1, np.int64)
    uk = np.empty(n_max, np.int64)
    uj = np.empty(n_max, np.int64)
    n_f = f_radius.shape[0]
    need = np.zeros((n_f, n_max), np.bool_)
    last = np.full(n_rays, -1, np.int64)
    last[0] = 0
    dang = 360.0 / n_rays
    n = 0
    n_u = 0
    for r in range(r0, r1):
        cy = gy0 - (r + ro + 0.5) * res
        for c in range(c0, c1):
            if not mask[r, c]:
                continue
            dx = gx0 + (c + co + 0.5) * res - sx
            dy = cy - sy
            d = math.hypot(dx, dy)
            if d > radius:
                continue
            if use_keep:
                wanted = False
                for f in range(n_f):
                    wanted = wanted or (d <= f_radius[f] and keep[f, r - r0, c - c0])
                if not wanted:
                    continue
            bearing = math.degrees(math.atan2(dx, dy)) % 360.0
            k = int(np.rint(bearing / dang)) % n_rays
            j = min(max(int(np.rint(d / step)), 1), n_s - 1)
            p = k * n_s + j
            u = slot[p]
            if u < 0:
                u = n_u
                slot[p] = u
                uk[u] = k
                uj[u] = j
                n_u += 1
            if j > last[k]:
                last[k] = j
            for f in range(n_f):
                if d <= f_radius[f] and (not use_keep or keep[f, r - r0, c - c0]):
                    need[f, u] = True
            flat[n] = r * cols + c
            dxs[n] = dx
            dys[n] = dy
            uop[n] = u
            n += 1
    return (flat[:n], dxs[:n], dys[:n], uop[:n], uk[:n_u], uj[:n_u],
            np.ascontiguousarray(need[:, :n_u]), slot, last)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_site_pixels_equal_the_full_window_scan(seed):
    """The row-chord, keep-first scan returns what the full window scan returned, bit for
    bit, and the distance and bearing that ``site_links`` used to compute itself."""
    rng = np.random.default_rng(seed)
    rows, cols = 230, 260
    mask = rng.random((rows, cols)) < 0.9
    res = float(rng.choice([30.0, 90.0, 100.0]))
    gx0, gy0 = 500_000.0 + rng.uniform(0, 50), 2_300_000.0 + rng.uniform(0, 50)
    ro, co = (0, 0) if seed % 2 else (17, 9)  # a tile of a larger grid
    for _ in range(6):
        radius = float(rng.uniform(0.3, 1.4) * 100 * res)  # disks inside, across and beyond
        sx = gx0 + (co + rng.uniform(-20, cols + 20)) * res
        sy = gy0 - (ro + rng.uniform(-20, rows + 20)) * res
        if rng.random() < 0.3:  # a radius ending exactly on cell centres of the site's row
            sx = gx0 + (co + 100.5) * res
            sy = gy0 - (ro + 80.5) * res
            radius = 40.0 * res
        r0, r1 = max(0, int(rng.integers(-5, 40))), min(rows, int(rng.integers(150, 240)))
        c0, c1 = max(0, int(rng.integers(-5, 40))), min(cols, int(rng.integers(150, 270)))
        step = res
        n_rays = max(16, int(math.ceil(2 * math.pi * radius / res)))
        n_s = int(math.ceil(radius / step)) + 1
        f_radius = np.array([radius, radius * 0.7])
        for use_keep in (False, True):
            keep = (rng.random((2, r1 - r0, c1 - c0)) < 0.3 if use_keep
                    else np.zeros((2, 0, 0), np.bool_))
            args = (mask, gx0, gy0, res, r0, r1, c0, c1, sx, sy, radius, n_rays, n_s, step,
                    f_radius, keep, use_keep, ro, co)
            old = _site_pixels_before(*args)
            new = site_pixels(*args)
            flat, dx, dy, dist, brg = new[:5]
            for a, b in zip(old, new[:3] + new[5:11], strict=True):
                np.testing.assert_array_equal(a, b)
            # each grid cell's own bands: within the band's radius and kept there
            want = new[11]
            if use_keep:
                r, c = flat // cols - r0, flat % cols - c0
                np.testing.assert_array_equal(
                    want, (dist[:, None] <= f_radius[None, :]) & keep[:, r, c].T)
            else:
                assert want.shape == (0, 2)
            d0, b0 = polar(dx, dy)
            np.testing.assert_array_equal(dist, d0)
            np.testing.assert_array_equal(brg, b0)
