"""Longley-Rice Irregular Terrain Model (ITM), point-to-point and area mode, vectorised.

Written for phusong from the published algorithm (Longley & Rice, ERL 79-ITS 67, 1968; Hufford,
"The ITS Irregular Terrain Model, version 1.2.2: the algorithm", 1995) with the corrections of
NTIA/ITS's C++ reference, whose five point-to-point test vectors it reproduces to < 0.01 dB.

Model, in short. From each terrain profile ITM takes the terminal horizons (angles and distances
on an effective earth of curvature ``gamma_e = 157e-9 (1 - 0.04665 exp(N_s / 179.3))``, with
``N_s = N_0 exp(-h_sys / 9460 m)``), the terrain irregularity Δh (interdecile range of the
terrain about a least-squares line between 10 % and 90 % of the path) and the effective antenna
heights. The reference attenuation ``A_ref`` below free space is a two-ray/rough-earth blend in
line of sight, a knife-edge/smooth-earth (Vogler) blend plus clutter beyond the horizon, and
troposcatter far beyond it. Time/location/situation variability (TN101 curves per radio climate)
turns it into the loss not exceeded for the given percentages:
``loss_db = 32.45 + 20 lg f_MHz + 20 lg d_km + A(A_ref, time, location, situation)``.

Validity (as in the reference): frequency 20-20,000 MHz (40-10,000 recommended), antenna heights
0.5-3,000 m (1-1,000 recommended), distance 1-2,000 km recommended, ``N_0`` 250-400 N-units,
radio climate 1-7, percentages strictly between 0 and 100. Out-of-range inputs give the
reference's error code for that path; near-limit inputs set its warning bits (:data:`WARNING_TEXT`).

Speed: all paths run in one compiled, parallel loop; results do not depend on the thread count
(``numba.set_num_threads``). For the coverage engine :func:`itm_p2p_batch` takes a padded 2-D
elevation array plus the number of valid samples per row, with no Python loop over paths.

Examples
--------
>>> import numpy as np
>>> flat = [np.zeros(101)]  # 10 km of flat ground at sea level, 100 m steps
>>> loss = itm_p2p_loss_db(flat, 100.0, 30.0, 1.5, 900.0)
>>> bool(110.0 < loss[0] < 140.0)
True
"""

from __future__ import annotations

import warnings as _warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from phusong.coverage._itm_kernel import AUX_COLUMNS, area_batch, p2p_batch
from phusong.errors import ModelError, ValidityWarning

__all__ = [
    "ERROR_TEXT",
    "ITM_DEFAULTS",
    "MODE_NAMES",
    "WARNING_TEXT",
    "ItmResult",
    "describe_warnings",
    "itm_area",
    "itm_area_loss_db",
    "itm_p2p",
    "itm_p2p_batch",
    "itm_p2p_loss_db",
    "itm_p2p_loss_db_batch",
]

#: Defaults of the keyword options: vertical polarisation, average ground (epsilon 15,
#: sigma 0.005 S/m), N_0 301 N-units, continental temperate climate, medians, mobile mode with
#: location variability removed (mdvar 12, the usual choice for point-to-point predictions).
ITM_DEFAULTS: dict[str, float] = {
    "polarization": 1, "epsilon": 15.0, "sigma": 0.005, "n0": 301.0, "climate": 5,
    "time_pct": 50.0, "location_pct": 50.0, "situation_pct": 50.0, "mdvar": 12,
}

#: Warning bits, with the same values and meaning as the NTIA reference.
WARNING_TEXT: dict[int, str] = {
    0x0001: "transmitter height outside 1-1,000 m",
    0x0002: "receiver height outside 1-1,000 m",
    0x0004: "frequency outside 40-10,000 MHz",
    0x0008: "path longer than 1,000 km",
    0x0010: "path longer than 2,000 km",
    0x0020: "path shorter than |h_e tx - h_e rx| / 0.2",
    0x0040: "path shorter than 1 km",
    0x0080: "transmitter horizon angle above 0.2 rad",
    0x0100: "receiver horizon angle above 0.2 rad",
    0x0200: "transmitter horizon closer than 1/10 of its smooth-earth horizon",
    0x0400: "receiver horizon closer than 1/10 of its smooth-earth horizon",
    0x0800: "transmitter horizon beyond 3x its smooth-earth horizon",
    0x1000: "receiver horizon beyond 3x its smooth-earth horizon",
    0x2000: "a time/location/situation percentage is far in the tail (|z| > 3.1)",
    0x4000: "surface refractivity N_s below 250 N-units",
}
#: Bits that come from the inputs themselves (reported as a ValidityWarning).
_INPUT_BITS = 0x0001 | 0x0002 | 0x0004 | 0x2000

#: Return codes: the NTIA reference's (0, 1, 1000-1022) plus phusong's input checks (2000+).
ERROR_TEXT: dict[int, str] = {
    0: "success",
    1: "success with warnings",
    1000: "transmitter height outside 0.5-3,000 m",
    1001: "receiver height outside 0.5-3,000 m",
    1002: "radio climate not in 1-7",
    1003: "time percentage not strictly between 0 and 100",
    1004: "location percentage not strictly between 0 and 100",
    1005: "situation percentage not strictly between 0 and 100",
    1008: "refractivity N_0 outside 250-400 N-units",
    1009: "frequency outside 20-20,000 MHz",
    1010: "polarization not 0 (horizontal) or 1 (vertical)",
    1011: "relative permittivity epsilon below 1",
    1012: "conductivity sigma not positive",
    1013: "ground impedance: imaginary part larger than real part",
    1014: "mdvar not in 0-3, 10-13, 20-23 or 30-33",
    1016: "effective earth radius outside 4,000-13,333 km",
    1017: "path distance not positive",
    1018: "delta h negative",
    1019: "transmitter siting criterion not 0, 1 or 2",
    1020: "receiver siting criterion not 0, 1 or 2",
    1021: "surface refractivity N_s below 150 N-units (path too high)",
    1022: "surface refractivity N_s above 400 N-units (path below sea level)",
    2000: "profile has fewer than 2 samples",
    2001: "profile has a NaN or infinite elevation (fill DEM voids first)",
    2002: "profile step is not a positive finite number of metres",
    2003: "a parameter is NaN or infinite",
}
#: Propagation mode codes (as in the reference).
MODE_NAMES: dict[int, str] = {0: "none", 1: "line of sight", 2: "diffraction", 3: "troposcatter"}

_CODE_PARAM = {
    1000: "tx_height_m", 1001: "rx_height_m", 1002: "climate", 1003: "time_pct",
    1004: "location_pct", 1005: "situation_pct", 1008: "n0", 1009: "freq_mhz",
    1010: "polarization", 1011: "epsilon", 1012: "sigma", 1014: "mdvar",
    1017: "d_km", 1018: "delta_h_m", 1019: "tx_siting", 1020: "rx_siting",
}
_INT_PARAMS = ("polarization", "climate", "mdvar", "tx_siting", "rx_siting")


@dataclass(frozen=True)
class ItmResult:
    """ITM output per path (arrays of length ``n_paths``; pairs are ``(n_paths, 2)``, tx first).

    Attributes
    ----------
    loss_db : basic transmission loss, dB (``+inf`` where ``valid`` is False).
    warnings : warning bit flags (:data:`WARNING_TEXT`), int64.
    error_codes : reference return code (:data:`ERROR_TEXT`): 0 ok, 1 ok with warnings, >= 1000 error.
    mode : propagation mode (:data:`MODE_NAMES`): 1 line of sight, 2 diffraction, 3 troposcatter.
    d_km : path length, km. a_ref_db : attenuation relative to free space before variability, dB.
    a_fs_db : free-space loss, dB. delta_h_m : terrain irregularity, m. n_s : surface refractivity.
    h_e_m, d_hzn_m, theta_hzn_rad : effective heights (m), horizon distances (m) and angles (rad).
    """

    loss_db: NDArray[np.float64]
    warnings: NDArray[np.int64]
    error_codes: NDArray[np.int32]
    mode: NDArray[np.int8]
    d_km: NDArray[np.float64]
    a_ref_db: NDArray[np.float64]
    a_fs_db: NDArray[np.float64]
    delta_h_m: NDArray[np.float64]
    n_s: NDArray[np.float64]
    h_e_m: NDArray[np.float64]
    d_hzn_m: NDArray[np.float64]
    theta_hzn_rad: NDArray[np.float64]

    @property
    def valid(self) -> NDArray[np.bool_]:
        """True where the path was computed (return code below 1000)."""
        return self.error_codes < 1000

    def __len__(self) -> int:
        return int(self.loss_db.shape[0])


def describe_warnings(bits: int) -> list[str]:
    """Texts of the warning bits set in ``bits``.

    >>> describe_warnings(0x0004 | 0x0040)
    ['frequency outside 40-10,000 MHz', 'path shorter than 1 km']
    """
    return [text for bit, text in WARNING_TEXT.items() if int(bits) & bit]


def _per_path(name: str, value: ArrayLike, n: int, integer: bool = False) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim > 1 or (arr.ndim == 1 and arr.shape[0] != n):
        raise ModelError(
            f"ITM: {name} has shape {arr.shape}; give one value or one per path ({n} paths)"
        )
    try:
        arr = arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"ITM: {name} must be numeric, got {value!r}") from exc
    if integer:
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            i = int(np.flatnonzero(np.broadcast_to(bad, (n,)))[0]) if arr.ndim else 0
            raise ModelError(f"ITM: {name} must be an integer code, got {arr.flat[i]!r} (path {i})")
        arr = arr.astype(np.int64)
    # always a writable copy: a read-only view (what ascontiguousarray returns for an array
    # already of shape (n,)) is another numba type, so per-path arrays would compile
    # p2p_batch anew (≈ 10 CPU-s on a fresh cache) for each mix of scalars and arrays
    return np.broadcast_to(arr, (n,)).copy()


def _params(n: int, kw: dict) -> list[np.ndarray]:
    return [_per_path(k, kw[k], n, k in _INT_PARAMS) for k in ITM_DEFAULTS]


def _finish(n, loss, warn, code, mode, aux, inputs: dict, on_error: str, what: str) -> ItmResult:
    if on_error not in ("raise", "flag"):
        raise ModelError(f"ITM: on_error must be 'raise' or 'flag', got {on_error!r}")
    bad = code >= 1000
    if bad.any() and on_error == "raise":
        i = int(np.flatnonzero(bad)[0])
        c = int(code[i])
        param = _CODE_PARAM.get(c)
        value = f" ({param}={inputs[param][i].item()!r})" if param in inputs else ""
        raise ModelError(
            f"ITM {what} {i}: {ERROR_TEXT.get(c, 'error')}{value} [code {c}]; "
            f"{int(bad.sum())} of {n} paths invalid (pass on_error='flag' to get them flagged)"
        )
    flagged = (warn & _INPUT_BITS) != 0
    if flagged.any():
        union = int(np.bitwise_or.reduce(warn[flagged]))
        texts = "; ".join(describe_warnings(union & _INPUT_BITS))
        _warnings.warn(
            f"ITM used near the limits of its validity for {int(flagged.sum())} of {n} "
            f"{what}s: {texts} (results less reliable)",
            ValidityWarning,
            stacklevel=3,
        )
    col = {name: aux[:, j] for j, name in enumerate(AUX_COLUMNS)}
    return ItmResult(
        loss_db=loss, warnings=warn, error_codes=code, mode=mode,
        d_km=col["d_m"] / 1000.0, a_ref_db=col["a_ref_db"].copy(), a_fs_db=col["a_fs_db"].copy(),
        delta_h_m=col["delta_h_m"].copy(), n_s=col["n_s"].copy(),
        h_e_m=aux[:, 5:7].copy(), d_hzn_m=aux[:, 7:9].copy(), theta_hzn_rad=aux[:, 9:11].copy(),
    )


def _outputs(n: int):
    return (np.empty(n), np.zeros(n, np.int64), np.zeros(n, np.int32), np.zeros(n, np.int8),
            np.full((n, len(AUX_COLUMNS)), np.nan))


def _run_p2p(flat, start, count, n, step_m, tx_height_m, rx_height_m, freq_mhz, kw, on_error):
    step = _per_path("step_m", step_m, n)
    htx = _per_path("tx_height_m", tx_height_m, n)
    hrx = _per_path("rx_height_m", rx_height_m, n)
    f = _per_path("freq_mhz", freq_mhz, n)
    pol, eps, sigma, n0, clim, tm, loc, sit, mdvar = _params(n, kw)
    loss, warn, code, mode, aux = _outputs(n)
    if n:
        p2p_batch(flat, start, count, step, htx, hrx, f, pol, eps, sigma, n0, clim, tm, loc, sit,
                  mdvar, loss, warn, code, mode, aux)
    inputs = {"tx_height_m": htx, "rx_height_m": hrx, "freq_mhz": f, "polarization": pol,
              "epsilon": eps, "sigma": sigma, "n0": n0, "climate": clim, "time_pct": tm,
              "location_pct": loc, "situation_pct": sit, "mdvar": mdvar}
    return _finish(n, loss, warn, code, mode, aux, inputs, on_error, "path")


def itm_p2p(
    profiles: Sequence[ArrayLike] | NDArray[np.float64],
    step_m: ArrayLike,
    tx_height_m: ArrayLike,
    rx_height_m: ArrayLike,
    freq_mhz: ArrayLike,
    *,
    polarization: ArrayLike = 1,
    epsilon: ArrayLike = 15.0,
    sigma: ArrayLike = 0.005,
    n0: ArrayLike = 301.0,
    climate: ArrayLike = 5,
    time_pct: ArrayLike = 50.0,
    location_pct: ArrayLike = 50.0,
    situation_pct: ArrayLike = 50.0,
    mdvar: ArrayLike = 12,
    on_error: Literal["raise", "flag"] = "raise",
) -> ItmResult:
    """Point-to-point ITM for many paths, with the reference's warnings and return codes.

    Parameters
    ----------
    profiles : sequence of 1-D elevation arrays, m (one per path, any lengths >= 2, first sample
        under the transmitter, last under the receiver); a 2-D array is taken row by row.
    step_m : sample spacing, m (one value or one per path).
    tx_height_m, rx_height_m : antenna heights above ground, m.
    freq_mhz : frequency, MHz.
    polarization : 0 horizontal, 1 vertical.
    epsilon, sigma : ground relative permittivity and conductivity, S/m.
    n0 : surface refractivity at sea level, N-units.
    climate : 1 equatorial, 2 continental subtropical, 3 maritime subtropical, 4 desert,
        5 continental temperate, 6 maritime temperate over land, 7 maritime temperate over sea.
    time_pct, location_pct, situation_pct : percentages, strictly between 0 and 100.
    mdvar : mode of variability, 0-3 single message / accidental / mobile / broadcast, +10 no
        location variability, +20 no direct situation variability.
    on_error : ``"raise"`` (default) raises :class:`~phusong.errors.ModelError` naming the first
        invalid path; ``"flag"`` returns every path with ``loss_db = inf`` where invalid.

    Every argument except ``profiles`` may be one value or one per path; defaults of the
    keyword options are in :data:`ITM_DEFAULTS`.

    Returns
    -------
    ItmResult
        Loss, warning bits, return codes, propagation mode and intermediate values per path.
        A :class:`~phusong.errors.ValidityWarning` is issued when inputs set the reference's
        input-range warning bits (heights, frequency, extreme percentages).
    """
    options = {k: v for k, v in locals().items() if k in ITM_DEFAULTS}
    if isinstance(profiles, np.ndarray) and profiles.ndim == 2:
        n, width = profiles.shape
        return itm_p2p_batch(profiles, np.full(n, width), step_m, tx_height_m, rx_height_m,
                             freq_mhz, on_error=on_error, **options)
    if isinstance(profiles, np.ndarray) and profiles.ndim != 2 and profiles.dtype != object:
        raise ModelError(
            f"ITM: profiles must be a sequence of 1-D arrays or a 2-D array, got a "
            f"{profiles.ndim}-D array (wrap a single profile in a list)"
        )
    arrays = []
    for i, p in enumerate(profiles):
        try:
            a = np.asarray(p, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ModelError(f"ITM path {i}: profile is not numeric ({exc})") from exc
        if a.ndim != 1:
            raise ModelError(f"ITM path {i}: profile must be 1-D, got shape {a.shape}")
        arrays.append(a)
    n = len(arrays)
    count = np.fromiter((a.shape[0] for a in arrays), np.int64, n)
    start = np.zeros(n, np.int64)
    if n > 1:
        np.cumsum(count[:-1], out=start[1:])
    flat = np.concatenate(arrays) if n else np.empty(0)
    return _run_p2p(flat, start, count, n, step_m, tx_height_m, rx_height_m, freq_mhz, options,
                    on_error)


def itm_p2p_loss_db(
    profiles: Sequence[ArrayLike] | NDArray[np.float64],
    step_m: ArrayLike,
    tx_height_m: ArrayLike,
    rx_height_m: ArrayLike,
    freq_mhz: ArrayLike,
    *,
    polarization: ArrayLike = 1,
    epsilon: ArrayLike = 15.0,
    sigma: ArrayLike = 0.005,
    n0: ArrayLike = 301.0,
    climate: ArrayLike = 5,
    time_pct: ArrayLike = 50.0,
    location_pct: ArrayLike = 50.0,
    situation_pct: ArrayLike = 50.0,
    mdvar: ArrayLike = 12,
    on_error: Literal["raise", "flag"] = "raise",
) -> NDArray[np.float64]:
    """Point-to-point ITM basic transmission loss, dB, one per path.

    Same arguments as :func:`itm_p2p` (which also returns warnings, codes and modes).
    """
    options = {k: v for k, v in locals().items() if k in ITM_DEFAULTS}
    return itm_p2p(profiles, step_m, tx_height_m, rx_height_m, freq_mhz, on_error=on_error,
                   **options).loss_db


def itm_p2p_batch(
    elevations_m: NDArray[np.float64],
    n_samples: ArrayLike,
    step_m: ArrayLike,
    tx_height_m: ArrayLike,
    rx_height_m: ArrayLike,
    freq_mhz: ArrayLike,
    *,
    polarization: ArrayLike = 1,
    epsilon: ArrayLike = 15.0,
    sigma: ArrayLike = 0.005,
    n0: ArrayLike = 301.0,
    climate: ArrayLike = 5,
    time_pct: ArrayLike = 50.0,
    location_pct: ArrayLike = 50.0,
    situation_pct: ArrayLike = 50.0,
    mdvar: ArrayLike = 12,
    on_error: Literal["raise", "flag"] = "raise",
) -> ItmResult:
    """Fast entry for the coverage engine: profiles as rows of one padded 2-D array.

    Path ``i`` is ``elevations_m[i, :n_samples[i]]`` (the padding after it is never read, so
    it may hold anything). No Python loop runs over paths and a C-contiguous float64 array is
    used without copying. Other arguments and the result are as in :func:`itm_p2p`.

    Parameters
    ----------
    elevations_m : (n_paths, max_samples) array of elevations, m.
    n_samples : number of valid samples per row (one value or one per path).
    """
    options = {k: v for k, v in locals().items() if k in ITM_DEFAULTS}
    z = np.asarray(elevations_m)
    if z.ndim != 2:
        raise ModelError(f"ITM: elevations_m must be a 2-D array, got shape {z.shape}")
    z = np.ascontiguousarray(z, dtype=np.float64)
    n, width = z.shape
    count = _per_path("n_samples", n_samples, n, integer=True)
    if n and (count.min() < 0 or count.max() > width):
        i = int(np.flatnonzero((count < 0) | (count > width))[0])
        raise ModelError(f"ITM path {i}: n_samples={count[i]} outside 0-{width} (the row length)")
    start = np.arange(n, dtype=np.int64) * width
    return _run_p2p(z.reshape(-1), start, count, n, step_m, tx_height_m, rx_height_m, freq_mhz,
                    options, on_error)


def itm_area(
    d_km: ArrayLike,
    delta_h_m: ArrayLike,
    tx_height_m: ArrayLike,
    rx_height_m: ArrayLike,
    freq_mhz: ArrayLike,
    *,
    tx_siting: ArrayLike = 0,
    rx_siting: ArrayLike = 0,
    polarization: ArrayLike = 1,
    epsilon: ArrayLike = 15.0,
    sigma: ArrayLike = 0.005,
    n0: ArrayLike = 301.0,
    climate: ArrayLike = 5,
    time_pct: ArrayLike = 50.0,
    location_pct: ArrayLike = 50.0,
    situation_pct: ArrayLike = 50.0,
    mdvar: ArrayLike = 12,
    on_error: Literal["raise", "flag"] = "raise",
) -> ItmResult:
    """Area-mode ITM (no profile: distance and terrain irregularity Δh only), vectorised.

    ``tx_siting``/``rx_siting``: 0 random, 1 careful, 2 very careful (raises the effective
    height over rough terrain). Options, result and errors are as in :func:`itm_p2p`; the
    arrays broadcast against each other (1-D, one entry per prediction).
    """
    options = {k: v for k, v in locals().items() if k in ITM_DEFAULTS}
    shapes = [np.shape(v) for v in (d_km, delta_h_m, tx_height_m, rx_height_m, freq_mhz,
                                    tx_siting, rx_siting, *options.values())]
    n = max((s[0] for s in shapes if len(s) == 1), default=1)
    d_m = _per_path("d_km", d_km, n) * 1000.0
    dh = _per_path("delta_h_m", delta_h_m, n)
    htx = _per_path("tx_height_m", tx_height_m, n)
    hrx = _per_path("rx_height_m", rx_height_m, n)
    f = _per_path("freq_mhz", freq_mhz, n)
    stx = _per_path("tx_siting", tx_siting, n, integer=True)
    srx = _per_path("rx_siting", rx_siting, n, integer=True)
    pol, eps, sigma, n0, clim, tm, loc, sit, mdvar = _params(n, options)
    loss, warn, code, mode, aux = _outputs(n)
    area_batch(d_m, dh, htx, hrx, stx, srx, f, pol, eps, sigma, n0, clim, tm, loc, sit, mdvar,
               loss, warn, code, mode, aux)
    inputs = {"d_km": d_m / 1000.0, "delta_h_m": dh, "tx_height_m": htx, "rx_height_m": hrx,
              "freq_mhz": f, "tx_siting": stx, "rx_siting": srx, "polarization": pol,
              "epsilon": eps, "sigma": sigma, "n0": n0, "climate": clim, "time_pct": tm,
              "location_pct": loc, "situation_pct": sit, "mdvar": mdvar}
    return _finish(n, loss, warn, code, mode, aux, inputs, on_error, "prediction")


def itm_area_loss_db(
    d_km: ArrayLike,
    delta_h_m: ArrayLike,
    tx_height_m: ArrayLike,
    rx_height_m: ArrayLike,
    freq_mhz: ArrayLike,
    **kwargs: ArrayLike,
) -> NDArray[np.float64]:
    """Area-mode ITM basic transmission loss, dB (see :func:`itm_area`)."""
    return itm_area(d_km, delta_h_m, tx_height_m, rx_height_m, freq_mhz, **kwargs).loss_db


def itm_p2p_loss_db_batch(
    elevations_m: NDArray[np.float64],
    n_samples: ArrayLike,
    step_m: ArrayLike,
    tx_height_m: ArrayLike,
    rx_height_m: ArrayLike,
    freq_mhz: ArrayLike,
    **kwargs: ArrayLike,
) -> NDArray[np.float64]:
    """Loss only, dB, from the padded 2-D form (see :func:`itm_p2p_batch`)."""
    return itm_p2p_batch(elevations_m, n_samples, step_m, tx_height_m, rx_height_m, freq_mhz,
                         **kwargs).loss_db
