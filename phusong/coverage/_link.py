"""Link budget: transmitters table, antenna pattern, pilot offsets and model dispatch.

Received power per (receiver, cell)::

    rx_dbm = eirp_dbm − pilot_offset_db(tech) + pattern_db(azimuth, elevation) − loss_db

where the pilot offset turns total EIRP into the measured quantity: RxLev (2G, BCCH at full
power, 0 dB), RSCP (3G, CPICH at 10 % of power, 10 dB) and RSRP / SS-RSRP (4G/5G,
``settings.RADIO.rs_offset_db`` per resource element).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from phusong import settings
from phusong.coverage import _diffraction as dif
from phusong.coverage.models import cost231_db, fspl_db, hata_db, rma_db, uma_db
from phusong.crs import transform_points
from phusong.errors import DataError, ModelError

__all__ = [
    "MODELS",
    "transmitters",
    "sector_gain_db",
    "pilot_offset_db",
    "model_loss_db",
    "ITM_DEFAULTS",
]

#: Model names accepted by the engine.
MODELS = ("itm", "hata", "cost231", "38901", "fspl", "p1812")
#: CPICH power below total for UMTS (10 % of the PA power, a common planning value), dB.
CPICH_OFFSET_DB = 10.0
#: Vertical pattern of the 3GPP sector antenna (TR 36.814 Table A.2.1.1-2): 3 dB width, deg,
#: and side-lobe level, dB.
VERTICAL_BEAMWIDTH_DEG = 10.0
VERTICAL_SLA_DB = 20.0
#: ITM parameters used by the engine: vertical polarisation, average ground (ε 15, σ 0.005 S/m),
#: standard refractivity, continental subtropical climate (northern Việt Nam), median
#: time/location/situation, mobile mode.
ITM_DEFAULTS = dict(polarization=1, epsilon=15.0, sigma=0.005, n0=301.0, climate=2,
                    time_pct=50.0, location_pct=50.0, situation_pct=50.0, mdvar=2)


def pilot_offset_db(tech, radio: settings.Radio = settings.RADIO) -> np.ndarray:
    """Offset from total EIRP to the measured pilot power per technology, dB (4G/5G:
    ``radio.rs_offset_db``)."""
    table = {"2G": 0.0, "3G": CPICH_OFFSET_DB, "4G": radio.rs_offset_db,
             "5G": radio.rs_offset_db}
    return np.array([table[t] for t in np.atleast_1d(tech)], dtype=float)


def sector_gain_db(bearing_deg, azimuth_deg, elevation_down_deg=None, tilt_deg=None, *,
                   beamwidth_deg: float = settings.RADIO.sector_beamwidth_deg,
                   front_to_back_db: float = settings.RADIO.front_to_back_db) -> np.ndarray:
    """3GPP sector antenna pattern relative to boresight, dB (≤ 0).

    ``A_H(φ) = −min(12 (φ/φ3dB)², A_m)``, ``A_V(θ) = −min(12 ((θ − θtilt)/θ3dB)², SLA_v)``,
    ``A = −min(−(A_H + A_V), A_m)`` (3GPP TR 36.814 Table A.2.1.1-2, TR 38.901 Table 7.3-1).
    NaN azimuth means omni (``A_H = 0``); NaN tilt means no vertical pattern.

    Parameters
    ----------
    bearing_deg : array_like
        Bearing from the antenna to the receiver, degrees clockwise from north.
    azimuth_deg : array_like
        Boresight azimuth, degrees (NaN = omni).
    elevation_down_deg, tilt_deg : array_like, optional
        Receiver angle below the horizontal and antenna downtilt, degrees.
    beamwidth_deg, front_to_back_db : float, optional
        φ3dB and A_m (defaults ``settings.RADIO``).

    Examples
    --------
    >>> float(sector_gain_db(32.5, 0.0)[0])
    -3.0
    """
    bw, am = float(beamwidth_deg), float(front_to_back_db)
    b = np.atleast_1d(np.asarray(bearing_deg, float))
    az = np.broadcast_to(np.asarray(azimuth_deg, float), b.shape)
    phi = (b - az + 180.0) % 360.0 - 180.0
    ah = np.where(np.isnan(az), 0.0, -np.minimum(12.0 * (phi / bw) ** 2, am))
    if elevation_down_deg is None or tilt_deg is None:
        return ah
    tilt = np.broadcast_to(np.asarray(tilt_deg, float), b.shape)
    th = np.broadcast_to(np.asarray(elevation_down_deg, float), b.shape)
    av = np.where(np.isnan(tilt), 0.0,
                  -np.minimum(12.0 * ((th - np.nan_to_num(tilt)) / VERTICAL_BEAMWIDTH_DEG) ** 2,
                              VERTICAL_SLA_DB))
    return -np.minimum(-(ah + av), am)


def transmitters(bundle, *, terrain=None) -> pd.DataFrame:
    """One row per cell joined to its site, positions in WORK_CRS.

    Parameters
    ----------
    bundle : phusong.bundle.Bundle
        Needs ``sites`` and ``cells``.
    terrain : Terrain, optional
        Used for ``ground_m`` when the site has none (default: the bundle DEM if any).

    Returns
    -------
    pandas.DataFrame
        cell_id, site_id, operator, tech, band, freq_mhz, eirp_dbm, azimuth_deg (NaN = omni),
        tilt_deg, height_m, x_m, y_m (WORK_CRS), ground_m, antenna ("" = the legacy sector
        pattern), etilt_deg; ``attrs["antennas"]`` maps antenna names to patterns.

    Raises
    ------
    DataError
        No sites, no cells, or a cell whose site is unknown.
    """
    import pandas as pd

    sites, cells = bundle.sites, bundle.cells
    if sites is None or len(sites) == 0:
        raise DataError("sites: the site list is empty; coverage needs at least one site")
    if cells is None or len(cells) == 0:
        raise DataError("cells: no cells; every site needs at least one cell (tech, freq, EIRP)")
    known = set(sites["site_id"])
    bad = ~cells["site_id"].isin(known)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"cells: row {row + 1}, site_id {cells['site_id'].iloc[row]!r} is not in "
                        f"sites; fix the reference ({int(bad.sum())} cell(s) affected)")
    if sites.crs is None:
        raise DataError("sites: no CRS; bundles store EPSG:4326")
    x, y = transform_points(sites.geometry.x, sites.geometry.y, sites.crs.to_string(),
                            settings.WORK_CRS)
    if "height_m" not in sites.columns:
        raise DataError("sites: no height_m column; give every site its antenna height above "
                        "ground in metres")
    height = _numbers(sites, "height_m", "sites", "site_id", blank_ok=False)
    low = ~(height > 0)
    if low.any():
        row = int(np.flatnonzero(low)[0])
        raise DataError(f"sites: row {row + 1} (site_id {sites['site_id'].iloc[row]!r}), "
                        f"height_m {height[row]:g} is not a positive height in metres; fix it")
    s = pd.DataFrame({"site_id": sites["site_id"].to_numpy(), "operator": sites["operator"],
                      "height_m": height, "x_m": x, "y_m": y})
    ground = (_numbers(sites, "ground_m", "sites", "site_id", blank_ok=True)
              if "ground_m" in sites.columns else np.full(len(sites), np.nan))
    if terrain is None and bundle.dem is not None:
        from phusong.coverage._terrain import prepare_terrain
        terrain = prepare_terrain(bundle.dem)
    if terrain is not None:
        missing = np.isnan(ground)
        ground[missing] = terrain.sample(x[missing], y[missing])
    s["ground_m"] = ground
    c = cells.copy()
    for col, default in (("band", ""), ("azimuth_deg", np.nan), ("tilt_deg", np.nan),
                         ("antenna", ""), ("etilt_deg", np.nan)):
        if col not in c.columns:
            c[col] = default
    out = c[["cell_id", "site_id", "tech", "band", "freq_mhz", "eirp_dbm", "azimuth_deg",
             "tilt_deg", "antenna", "etilt_deg"]].merge(s, on="site_id", how="left",
                                                        validate="many_to_one")
    cols = ["cell_id", "site_id", "operator", "tech", "band", "freq_mhz", "eirp_dbm",
            "azimuth_deg", "tilt_deg", "height_m", "x_m", "y_m", "ground_m", "antenna",
            "etilt_deg"]
    out = out[cols].reset_index(drop=True)
    from phusong.coverage._antennas import attach_antennas
    attach_antennas(out, bundle)
    out["eirp_dbm"] = _numbers(out, "eirp_dbm", "cells", "cell_id", blank_ok=False)
    for col in ("azimuth_deg", "tilt_deg", "etilt_deg"):
        out[col] = _numbers(out, col, "cells", "cell_id", blank_ok=True)
    out["freq_mhz"] = pd.to_numeric(out["freq_mhz"], errors="coerce").astype(float)
    bad = ~np.isfinite(out["freq_mhz"]) | (out["freq_mhz"] <= 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"cells: row {row + 1}, freq_mhz {out['freq_mhz'].iloc[row]!r} is not a "
                        "positive frequency in MHz; fix it")
    return out


def _numbers(table, col: str, layer: str, key: str, *, blank_ok: bool) -> np.ndarray:
    """Column ``col`` as float, refusing text that is not a number (and blanks unless allowed).

    Raises
    ------
    DataError
        Naming the layer, the row (1-based), its ``key`` value and the field.
    """
    import pandas as pd

    raw = table[col]
    vals = pd.to_numeric(raw, errors="coerce").to_numpy(float, copy=True)
    blank = raw.isna().to_numpy() | raw.astype(str).str.strip().isin(["", "nan", "None"]).to_numpy()
    bad = ~np.isfinite(vals) & ~blank if blank_ok else ~np.isfinite(vals)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        what = "is empty" if blank[row] else f"{raw.iloc[row]!r} is not a finite number"
        raise DataError(f"{layer}: row {row + 1} ({key} {table[key].iloc[row]!r}), {col} {what}"
                        f"; fix it ({int(bad.sum())} row(s) affected)")
    return vals


def _hata_family(d_km, f, hb, hm, environment):
    """Okumura-Hata ≤ 1500 MHz, COST-231 ≤ 2000 MHz, 38.901 RMa/UMa NLOS above 2000 MHz."""
    out = np.empty_like(d_km)
    lo, mid, hi = f <= 1500, (f > 1500) & (f <= 2000), f > 2000
    if lo.any():
        out[lo] = hata_db(d_km[lo], f[lo], hb[lo], hm[lo], environment)
    if mid.any():
        out[mid] = cost231_db(d_km[mid], f[mid], hb[mid], hm[mid], environment)
    if hi.any():
        fn = uma_db if environment in ("urban", "large_city") else rma_db
        out[hi] = fn(d_km[hi] * 1000, f[hi], np.clip(hb[hi], 10, 150), hm[hi],
                     np.zeros(int(hi.sum()), bool))
    return out


def model_loss_db(model: str, diffraction: str, *, freq_mhz, distance_m, geometry,
                  tx_height_m, rx_height_m, z_tx_m, z_rx_m, environment: str = "rural",
                  itm_args=None, serial: bool = False) -> np.ndarray:
    """Basic transmission loss per path for an engine model name, dB.

    Parameters
    ----------
    model : str
        ``itm`` | ``hata`` | ``cost231`` | ``38901`` | ``fspl``. ``hata`` picks Okumura-Hata up
        to 1500 MHz, COST-231 to 2000 MHz and 38.901 RMa NLOS above (5G bands); ``38901`` is
        RMa (UMa when ``environment`` is urban) with LOS/NLOS from the terrain. Empirical models
        use the effective base height above the mean path terrain, clipped to their validity
        (Hata 30–200 m, 38.901 10–150 m), and are floored at free space.
    diffraction : str
        ``deygout`` | ``bullington`` | ``none``: terrain knife-edge loss added to empirical
        models (for ``38901``: ``max(PL, PL_LOS + diffraction)``); ignored by ``itm``.
    freq_mhz, distance_m, tx_height_m, rx_height_m, z_tx_m, z_rx_m : ndarray
        Per path: frequency, horizontal distance, antenna heights above ground, ground heights.
    geometry : ndarray
        (n, 5) from :func:`phusong.coverage._diffraction.path_geometry`.
    environment : str
        Hata environment.
    itm_args : tuple, optional
        ``(flat, start, count, step_m)`` profiles for ITM (see
        :func:`phusong.coverage._itm_adapter.itm_loss_db`).
    serial : bool
        ITM on the calling thread only (callers running several Python threads).
    """
    f = np.asarray(freq_mhz, float)
    d = np.maximum(np.asarray(distance_m, float), 10.0)
    htx = np.asarray(tx_height_m, float) * np.ones_like(d)
    hrx = np.asarray(rx_height_m, float) * np.ones_like(d)
    d3 = np.hypot(d, (z_tx_m + htx) - (z_rx_m + hrx))
    free = fspl_db(d3 / 1000.0, f)
    if model == "itm":
        from phusong.coverage._itm_adapter import itm_loss_db
        flat, start, count, step, *pct = itm_args  # optional reliability % (issue 17)
        return np.maximum(itm_loss_db(flat, start, count, step, htx, hrx, f, *pct,
                                      serial=serial), free)
    if model == "p1812":  # needs whole profiles: phusong.coverage.p1812._engine
        raise ModelError("model p1812 runs through link_pairs or the raster engine, not "
                         "model_loss_db")
    if model not in MODELS:
        raise ModelError(f"unknown model {model!r}; use one of {', '.join(MODELS)}")
    if diffraction not in dif.METHODS:
        raise ModelError(f"unknown diffraction {diffraction!r}; use deygout, bullington or none")
    diff = dif.diffraction_loss_db(geometry, f, diffraction)
    if model == "fspl":
        return free + diff
    hb_eff = (z_tx_m + htx) - geometry[:, 4]
    if model in ("hata", "cost231"):
        hb = np.clip(hb_eff, 30.0, 200.0)
        hm = np.clip(hrx, 1.0, 10.0)
        if model == "hata":
            base = _hata_family(d / 1000.0, f, hb, hm, environment)
        else:
            base = cost231_db(d / 1000.0, f, hb, hm, environment)
        return np.maximum(base + diff, free)
    los = geometry[:, 3] <= 0.0
    fn = uma_db if environment in ("urban", "large_city") else rma_db
    hbs = np.clip(hb_eff, 10.0, 150.0)
    pl = fn(d, f, hbs, hrx, los)
    if diffraction != "none":
        pl = np.maximum(pl, fn(d, f, hbs, hrx, np.ones_like(los)) + diff)
    return np.maximum(pl, free)
