"""Deterministic smooth random fields for the synthetic geography (private).

Value noise: a coarse grid of standard-normal values drawn from a
:class:`numpy.random.Generator`, upsampled with cubic splines. Sums of octaves give fractal
(fBm) fields; ``1 - |noise|`` gives ridged fields. Everything is vectorised numpy/scipy.ndimage.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["value_noise", "fbm", "ridged"]


def value_noise(shape: tuple[int, int], rng: np.random.Generator, cell_px: float) -> np.ndarray:
    """A smooth zero-mean field with features about ``cell_px`` pixels across.

    Parameters
    ----------
    shape : (int, int)
        Output (rows, cols).
    rng : numpy.random.Generator
        Source of randomness (advanced by the draw; same state → same field).
    cell_px : float
        Spacing of the random control values, pixels (≥ 1).

    Returns
    -------
    ndarray
        float32 field of ``shape``, standard deviation ≈ 0.6 (cubic smoothing of unit normals).
    """
    cell_px = max(float(cell_px), 1.0)
    ny, nx = shape
    coarse = rng.standard_normal((int(np.ceil(ny / cell_px)) + 3, int(np.ceil(nx / cell_px)) + 3))
    if cell_px == 1.0:
        return coarse[1 : ny + 1, 1 : nx + 1].astype(np.float32)
    return value_noise_from(coarse, shape, cell_px)


def fbm(
    shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    base_px: float,
    octaves: int,
    gain: float = 0.5,
    lacunarity: float = 2.0,
) -> np.ndarray:
    """Fractal Brownian motion: octaves of :func:`value_noise`, normalised to unit variance.

    Parameters
    ----------
    shape : (int, int)
        Output (rows, cols).
    rng : numpy.random.Generator
        Source of randomness.
    base_px : float
        Feature size of the first (largest) octave, pixels.
    octaves : int
        Number of octaves; each is ``lacunarity`` times finer and ``gain`` times weaker.
    gain, lacunarity : float
        Amplitude and frequency ratios between successive octaves.

    Returns
    -------
    ndarray
        float32, mean 0, standard deviation 1.
    """
    # Pyramid: the running sum is upsampled by ``lacunarity`` (cubic) before each finer octave
    # is added at its own resolution, so the cost is one full-size upsampling, not one per octave.
    ny, nx = shape
    size = float(base_px)
    sizes = [size]
    for _ in range(octaves - 1):
        if sizes[-1] / lacunarity < 1.0:
            break
        sizes.append(sizes[-1] / lacunarity)
    final = sizes[-1]
    total = None
    amp = 1.0
    for s in sizes:
        level = (int(np.ceil(ny / s)) + 4, int(np.ceil(nx / s)) + 4)
        white = rng.standard_normal(level).astype(np.float32) * np.float32(amp)
        if total is None:
            total = white
        else:
            up = ndimage.zoom(total, lacunarity, order=3, mode="grid-mirror", grid_mode=True)
            total = up[: level[0], : level[1]] + white[: up.shape[0], : up.shape[1]]
        amp *= gain
    assert total is not None
    out = value_noise_from(total, shape, final)
    out -= out.mean()
    sd = float(out.std())
    return out / np.float32(sd if sd > 0 else 1.0)


def value_noise_from(coarse: np.ndarray, shape: tuple[int, int], cell_px: float) -> np.ndarray:
    """Upsample control values ``coarse`` (spacing ``cell_px`` pixels) to ``shape``, cubic."""
    ny, nx = shape
    if cell_px <= 1.0:
        return np.ascontiguousarray(coarse[1 : ny + 1, 1 : nx + 1], dtype=np.float32)
    fine = ndimage.zoom(coarse, cell_px, order=3, mode="grid-mirror", grid_mode=True)
    off = int(cell_px)
    return np.ascontiguousarray(fine[off : off + ny, off : off + nx], dtype=np.float32)


def ridged(
    shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    base_px: float,
    octaves: int,
    gain: float = 0.5,
) -> np.ndarray:
    """Ridged multifractal field in [0, 1]: sharp crests, rounded troughs.

    Each octave contributes ``(1 - |n|)²`` of a unit-variance value-noise field ``n``, weighted
    by the previous octave so that detail concentrates on the crests.

    Returns
    -------
    ndarray
        float32 in [0, 1].
    """
    total = np.zeros(shape, dtype=np.float32)
    weight = np.ones(shape, dtype=np.float32)
    amp, size, norm = 1.0, float(base_px), 0.0
    for _ in range(octaves):
        n = value_noise(shape, rng, size) / np.float32(0.6)
        r = np.clip(1.0 - np.abs(n), 0.0, 1.0) ** 2
        r *= weight
        weight = np.clip(r * 2.0, 0.0, 1.0)
        total += np.float32(amp) * r
        norm += amp
        amp *= gain
        size = max(size / 2.0, 1.0)
    return total / np.float32(norm)
