"""Δh's order statistics in the fast p2p kernel (``bucket_deciles``: one counting pass, the
tails gathered by bucket, the selection in registers) against a full sort: exact, bit for bit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from phusong.coverage._itm_terrain import DELTA_H_BUFFER, tail_deciles
from phusong.coverage._itm_terrain_fast import bucket_deciles, kth_largest_chain


def _shapes(rng, n):
    """Residual shapes: gentle, heavy-tailed, one-sided, tied, void-like outliers (a -32768
    fill height left in a profile), flat, constant, ramps and mixtures, so the tails land in
    every bucket of both sides (and in none: every residual gathered)."""
    shapes = [rng.normal(0, 25, n), rng.standard_t(1.5, n) * 10, np.abs(rng.normal(0, 25, n)),
              -np.abs(rng.normal(0, 25, n)), np.round(rng.normal(0, 3, n)),
              np.r_[np.zeros(n - 3), 500.0, 500.0, -400.0], np.zeros(n), np.full(n, 123.25),
              np.linspace(0, 1, n) ** 8 * 300, np.linspace(-5.0, 5.0, n),
              np.where(rng.random(n) < 0.03, -32768.0, rng.normal(0, 20, n)),
              np.r_[np.full(n - 1, 7.0), 7.0 + 1e-12], rng.normal(0, 1e-300, n)]
    for _ in range(24):
        mix = rng.exponential(rng.uniform(1, 60), n) * rng.choice([-1.0, 1.0])
        mix[rng.random(n) < rng.uniform(0, 0.5)] = rng.normal(0, rng.uniform(0.1, 40))
        shapes.append(np.round(mix, int(rng.integers(0, 3))))
    # the p10-th value a hair beyond / on each bucket bound (in sd from the mean)
    for c in (0.5, 0.65, 1.4, 1.55):
        z = rng.normal(0, 1, n)
        z = (z - z.mean()) / z.std()
        z[np.argsort(z)[-3:]] = c + np.array([-1e-15, 0.0, 1e-15])
        shapes.append(z)
    return shapes


# p10 = 5 … 25 (n = 10 p10 − 5 = 45 … 245, odd and even lengths); p10 = 4 has its own kernel
@pytest.mark.parametrize("p10", [5, 6, 9, 16, 24, 25])
def test_bucket_deciles_equal_a_sort_and_the_reference(p10):
    rng = np.random.default_rng(p10)
    n = 10 * p10 - 5
    scale = 1.0 - 0.8 * math.exp(-20e3 / 50e3)
    for z in _shapes(rng, n):
        res = np.asarray(z, float)
        s1, s2 = float(res.sum()), float((res * res).sum())
        srt = np.sort(res)
        want = (srt[-p10] - srt[p10 - 1]) / scale
        buf = np.full(DELTA_H_BUFFER, np.nan)
        buf[:n] = res
        assert bucket_deciles(buf, n, p10, s1, s2, 20e3) == want
        buf[:n] = res  # and the reference's selection, bit for bit
        assert tail_deciles(buf, n, p10, s1, s2, 20e3) == want


def test_register_chain_selection_is_the_sorted_value():
    rng = np.random.default_rng(7)
    tmp = np.empty(25)
    for trial in range(400):
        m = int(rng.integers(1, 60))
        a = np.round(rng.normal(0.0, 20.0, m + 5), 0 if trial % 2 else 6)  # ties, no ties
        lo = int(rng.integers(0, 5))
        k = int(rng.integers(1, m + 1))
        if min(k, m - k + 1) > 25:
            continue
        assert kth_largest_chain(a, lo, m, k, tmp) == np.sort(a[lo:lo + m])[::-1][k - 1]
