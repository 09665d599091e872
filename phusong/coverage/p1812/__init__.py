"""ITU-R P.1812: the ITU's path-specific point-to-area method (30 MHz–6 GHz), vectorised.

Written from Recommendation ITU-R P.1812-6 (09/2021; the method is unchanged in -7/-8), Annex 1,
with the delta-Bullington diffraction of its §4.3 (as in ITU-R P.526-15 §4.5). Every
sub-model of the Recommendation is present:

- line of sight with multipath and focusing enhancements, §4.2 eqs. (8)-(11);
- diffraction (Bullington over the real profile, delta-Bullington against the smooth Earth,
  spherical-Earth first term over land and sea), §4.3 eqs. (12)-(43), with the profile-free
  alternative of Attachment 4 on request;
- troposcatter, §4.4 eqs. (44)-(45);
- ducting and layer reflection (anomalous propagation), §4.5 eqs. (46)-(56);
- their combination for p % time, §4.6 eqs. (57)-(63);
- terminal clutter: the representative clutter height R of every intermediate profile point
  is added to the terrain (§3.2, g = h + R; the terminals stay at ground), so the clutter
  around each terminal enters the diffraction and horizon geometry;
- location variability for pL % locations, §4.8 eqs. (64)-(69), with σL of §4.10 eq. (68)
  (:func:`p1812_location_sigma_db`).

The building entry loss of §4.9 (indoor receivers) is not part of this module.

Validated against the 63 cases the ITU's reference implementation checks itself on
(``tests/test_p1812.py``; validation data from eeveetza/Py1812 (OFCOM)).

Examples
--------
>>> import numpy as np
>>> from phusong.coverage.p1812 import p1812_loss_db
>>> d = np.linspace(0.0, 10.0, 101)
>>> lb = p1812_loss_db([d], [np.full(101, 200.0)], 900.0, time_pct=50.0, tx_height_m=30.0,
...                    rx_height_m=1.5, polarization="vertical", zones=None,
...                    clutter_heights_m=None, delta_n=45.0, n0=325.0, tx_lat=20.8,
...                    tx_lon=105.3, rx_lat=20.89, rx_lon=105.3)
>>> round(float(lb[0]), 1) > 111.5  # above free space (111.5 dB at 10 km, 900 MHz)
True
"""

from __future__ import annotations

import numpy as np

from phusong.coverage.p1812._inputs import (
    centre_lat_deg,
    check_profiles,
    check_range,
    flatten_lists,
    one_value,
    path_lists,
    per_path,
    point_lists,
    profile_error,
)
from phusong.coverage.p1812._kernel import DIAG_NAMES, checked_loss_batch
from phusong.errors import ModelError

__all__ = [
    "p1812_loss_db",
    "p1812_field_dbuvm",
    "p1812_location_sigma_db",
    "polarization_code",
    "DIAG_NAMES",
]

_POL = {"h": 1, "horizontal": 1, "1": 1, "v": 2, "vertical": 2, "2": 2}


def polarization_code(polarization, n: int) -> np.ndarray:
    """Per-path polarisation codes (1 horizontal, 2 vertical) from names or codes."""
    num = np.asarray(polarization)
    if num.dtype.kind in "iuf":  # codes: checked at once
        codes = np.atleast_1d(num)
        if not np.isin(codes, (1, 2)).all():
            bad = codes[~np.isin(codes, (1, 2))][0]
            raise ModelError(f"p1812: polarization {bad!r} is unknown; use 'horizontal' (1) or "
                             "'vertical' (2)")
        codes = codes.astype(np.int64)
        return per_path(codes[0] if codes.size == 1 else codes, n, "polarization", np.int64)
    arr = np.atleast_1d(np.asarray(polarization, dtype=object))
    codes = np.empty(arr.shape, np.int64)
    for i, v in enumerate(arr.ravel()):
        key = str(int(v)) if isinstance(v, (int, np.integer, float, np.floating)) and \
            float(v).is_integer() else str(v).strip().lower()
        if key not in _POL:
            raise ModelError(f"p1812: polarization {v!r} is unknown; use 'horizontal' (1) or "
                             "'vertical' (2)")
        codes.ravel()[i] = _POL[key]
    return per_path(codes[0] if codes.size == 1 else codes, n, "polarization", np.int64)


def p1812_loss_db(distances_km, heights_m, freq_mhz, *, time_pct, location_pct=50.0,
                  tx_height_m, rx_height_m, polarization, zones, clutter_heights_m, delta_n,
                  n0, tx_lat, tx_lon, rx_lat, rx_lon, sigma_l_db=0.0, dct_km=500.0,
                  dcr_km=500.0, attachment4=False, diagnostics=False):
    """Basic transmission loss Lb of ITU-R P.1812-6/-8 for every path, dB (eq. (69)).

    ``Lb = max(Lb0p, Lbc + Lloc)``: the loss not exceeded for ``time_pct`` % of time and
    ``location_pct`` % of locations.

    Parameters
    ----------
    distances_km : sequence of 1-D arrays
        Per path, distance of each profile point from the transmitter, km: starts at 0,
        strictly increasing, any spacing, at least 5 points. A 2-D array is a batch of
        equal-length paths; a 1-D float array is one path.
    heights_m : sequence of 1-D arrays
        Terrain height above sea level at those points, m.
    freq_mhz : float or ndarray
        Frequency, MHz, 30–6,000.
    time_pct : float or ndarray
        Time percentage p, 1–50 %.
    location_pct : float or ndarray
        Location percentage pL, 1–99 % (default 50: Lloc = 0).
    tx_height_m, rx_height_m : float or ndarray
        Antenna heights above ground, m, 1–3,000.
    polarization : str, int or array
        ``horizontal``/``vertical`` (or 1/2), per path or for all.
    zones : sequence of 1-D int arrays or None or int
        Radio-climatic zone per profile point: 1 sea, 3 coastal land, 4 inland (Table 2).
        ``None`` = inland everywhere.
    clutter_heights_m : sequence of 1-D arrays or None or float
        Representative clutter height R per profile point, m (§3.2; ``None`` = 0).
    delta_n : float or ndarray
        Average radio-refractivity lapse rate through the lowest 1 km ΔN, N-units/km (> 0,
        < 157), at the path centre.
    n0 : float or ndarray
        Sea-level surface refractivity N0 at the path centre, N-units.
    tx_lat, tx_lon, rx_lat, rx_lon : float or ndarray
        Terminal coordinates, degrees (WGS 84, east positive). Only the latitude of the point
        half the profile length from Tx along the great circle is used (β0, §3.5).
    sigma_l_db : float or ndarray
        Location-variability standard deviation σL, dB (≥ 0; see
        :func:`p1812_location_sigma_db`).
    dct_km, dcr_km : float or ndarray
        Distance over land from Tx / Rx to the coast along the path, km (§4.5, eq. (49));
        set to 0 automatically for a terminal in zone 1.
    attachment4 : bool or ndarray
        Use the profile-free Lbulls of Attachment 4.
    diagnostics : bool
        Also return a dict of intermediate values per path (names in :data:`DIAG_NAMES`).

    Returns
    -------
    ndarray or (ndarray, dict)
        Lb per path, dB.

    Raises
    ------
    ModelError
        One line naming the parameter and its range (frequency outside 30–6,000 MHz, time
        percentage outside 1–50 %, location percentage outside 1–99 %, unknown zone codes,
        a profile with fewer than 5 points, ...).
    """
    ds, hs, counts = path_lists(distances_km, heights_m)
    n = len(ds)
    zl = point_lists(zones, "zones", n)
    rl = point_lists(clutter_heights_m, "clutter_heights_m", n)
    f_mhz = per_path(freq_mhz, n, "freq_mhz")
    p = per_path(time_pct, n, "time_pct")
    pl = per_path(location_pct, n, "location_pct")
    htg = per_path(tx_height_m, n, "tx_height_m")
    hrg = per_path(rx_height_m, n, "rx_height_m")
    dn = per_path(delta_n, n, "delta_n")
    n0_ = per_path(n0, n, "n0")
    sig = per_path(sigma_l_db, n, "sigma_l_db")
    dct = per_path(dct_km, n, "dct_km")
    dcr = per_path(dcr_km, n, "dcr_km")
    att4 = per_path(attachment4, n, "attachment4", bool)
    pol = polarization_code(polarization, n)
    check_range("frequency", f_mhz, 30.0, 6000.0, "MHz")
    check_range("time percentage", p, 1.0, 50.0, "%")
    check_range("location percentage", pl, 1.0, 99.0, "%")
    check_range("tx antenna height", htg, 1.0, 3000.0, "m")
    check_range("rx antenna height", hrg, 1.0, 3000.0, "m")
    check_range("delta_n", dn, 0.0, 157.0, "N-units/km", open_ends=True)
    check_range("n0", n0_, 200.0, 500.0, "N-units")
    check_range("sigma_l_db", sig, 0.0, np.inf, "dB")
    check_range("dct_km", dct, 0.0, np.inf, "km")
    check_range("dcr_km", dcr, 0.0, np.inf, "km")
    ends = [per_path(v, n, k) for v, k in ((tx_lat, "tx_lat"), (tx_lon, "tx_lon"),
                                           (rx_lat, "rx_lat"), (rx_lon, "rx_lon"))]
    f_ghz = f_mhz / 1000.0
    lb = np.empty(n)
    diag = np.empty((n, len(DIAG_NAMES) if diagnostics else 0))
    for c0, c1 in _chunks(counts):
        # flattened and computed chunk by chunk: the joined profiles are still in the cache
        # when the kernel reads them
        fp = flatten_lists(ds[c0:c1], hs[c0:c1], counts[c0:c1], _part(zl, c0, c1),
                           _part(rl, c0, c1), check_points=False, first=c0)
        dtot = fp.d[fp.start + fp.count - 1]
        phi = centre_lat_deg(*(e[c0:c1] for e in ends), 0.5 * dtot)
        if not np.isfinite(phi).all():
            check_profiles(fp)  # a bad distance names itself before the coordinates
            raise ModelError("p1812: terminal coordinates must be finite degrees (WGS 84)")
        out = checked_loss_batch(fp.d, fp.h, fp.r, fp.z, fp.start, fp.count, f_ghz[c0:c1],
                                 p[c0:c1], pl[c0:c1], htg[c0:c1], hrg[c0:c1], pol[c0:c1],
                                 phi, dn[c0:c1], n0_[c0:c1], dct[c0:c1], dcr[c0:c1],
                                 sig[c0:c1], att4[c0:c1], diagnostics)
        if out[2]:  # the profiles' values are checked in the kernel, path by path
            raise profile_error(fp, out[2], out[3])
        lb[c0:c1] = out[0]
        diag[c0:c1] = out[1]
    if diagnostics:
        return lb, {k: diag[:, i].copy() for i, k in enumerate(DIAG_NAMES)}
    return lb


#: Profile points per chunk of :func:`p1812_loss_db` (distances and heights: 1 MB of
#: float64, the size of a core's L2 cache here).
_CHUNK_POINTS = 1 << 16


def _chunks(counts: np.ndarray):
    """(first, end) path indices of consecutive chunks of about :data:`_CHUNK_POINTS` points
    (at least one path each)."""
    ends = np.cumsum(counts)
    if len(ends) == 0:
        return []
    cuts = np.searchsorted(ends, np.arange(_CHUNK_POINTS, int(ends[-1]), _CHUNK_POINTS),
                           side="right")
    bounds = np.unique(np.concatenate([[0], cuts, [len(counts)]])).tolist()
    return [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1) if bounds[i + 1] >
            bounds[i]]


def _part(values, c0: int, c1: int):
    """Paths ``c0:c1`` of per-point values (a scalar or None stands for all of them)."""
    return values if one_value(values) else values[c0:c1]


def p1812_field_dbuvm(lb_db, freq_mhz, erp_dbw=30.0, gains_dbi=0.0) -> np.ndarray:
    """Field strength for a given e.r.p., dB(µV/m), eq. (70) scaled to the power.

    ``Ep = 199.36 + 20 log10(f_GHz) − Lb + (ERP_dBW − 30) + gains``: eq. (70) holds for
    1 kW e.r.p. (30 dBW); ``gains_dbi`` adds antenna gains not already in the e.r.p.

    Parameters
    ----------
    lb_db : array_like
        Basic transmission loss from :func:`p1812_loss_db`, dB.
    freq_mhz : array_like
        Frequency, MHz.
    erp_dbw : array_like
        Effective radiated power, dBW (default 30 dBW = 1 kW).
    gains_dbi : array_like
        Extra gains, dB.

    Returns
    -------
    ndarray
        Ep, dB(µV/m).

    Examples
    --------
    >>> round(float(p1812_field_dbuvm(100.0, 1000.0)[0]), 2)
    99.36
    """
    lb = np.atleast_1d(np.asarray(lb_db, float))
    f_ghz = np.asarray(freq_mhz, float) / 1000.0
    return 199.36 + 20.0 * np.log10(f_ghz) - lb + (np.asarray(erp_dbw, float) - 30.0) + \
        np.asarray(gains_dbi, float)


def p1812_location_sigma_db(freq_mhz, rx_height_m, clutter_height_m, resolution_m=100.0):
    """Location-variability standard deviation σL, dB (§4.10 eq. (68)).

    ``σL = (0.52 + 0.024 f_GHz) · wa^0.28 · uh``, ``wa`` the prediction resolution (m, the
    side of the square area over which variability applies) and ``uh`` = 1 for a receiver at
    or below the clutter height R, falling linearly to 0 at R + 10 m.

    Parameters
    ----------
    freq_mhz : array_like
        Frequency, MHz.
    rx_height_m : array_like
        Receiver antenna height above ground, m.
    clutter_height_m : array_like
        Representative clutter height R at the receiver, m.
    resolution_m : array_like
        Resolution wa, m (default 100 m).

    Returns
    -------
    ndarray
        σL, dB.

    Examples
    --------
    >>> round(float(p1812_location_sigma_db(1000.0, 1.5, 10.0)[0]), 3)
    1.975
    """
    f = np.atleast_1d(np.asarray(freq_mhz, float)) / 1000.0
    h = np.asarray(rx_height_m, float)
    r = np.asarray(clutter_height_m, float)
    uh = np.clip(1.0 - (h - r) / 10.0, 0.0, 1.0)
    return (0.52 + 0.024 * f) * np.asarray(resolution_m, float) ** 0.28 * uh
