"""Sector layout of the twin's macro sites (private helper of :mod:`phusong.twin.sites`).

Every site carries, for each of its technologies, the same 2 or 3 sectors (co-sited panels
share the mast and the azimuths):

- **3 sectors** at ``r, r + 120, r + 240`` degrees with a per-site random rotation ``r`` in
  [0, 120);
- **2 sectors** back to back along the valley where the demand around the site is elongated:
  the households within :data:`SHAPE_RADIUS_M` (weighted by ``exp(−d / 2 km)``) have a
  principal-axis ratio (minor / major variance) below :data:`TWO_SECTOR_RATIO`; the azimuths
  are the major axis and its opposite.

**Tilts from height and intended range.** The beam centre points at the cell edge the site is
built for: :data:`INTENDED_RANGE_M` (1 km for a ward or township centre, 2.5 km for other
commune-centre sites, 3 km for hill sites; the rural spacing of FACTS §6 is 1.5–3 km). The total
downtilt is ``atan((h + Δz) / range)`` with ``h`` the mast height and ``Δz`` how far the site's
ground stands above the median village within :data:`DEMAND_RADIUS_M` (0 if below), bounded to
1–10°. Electrical tilt takes up to 6° of it (whole degrees, as remote electrical tilt is
set), mechanical tilt the rest (0.1° steps).

Every site's antenna is :data:`ANTENNA` (3GPP TR 36.814 parametric sector: 65° horizontal,
10° vertical beamwidth, 25 dB front-to-back), written into the bundle as an MSI file by
:func:`phusong.twin.build.antenna_files`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

__all__ = ["ANTENNA", "INTENDED_RANGE_M", "TWO_SECTOR_RATIO", "SHAPE_RADIUS_M", "DEMAND_RADIUS_M",
           "sector_layout"]

#: Pattern of every twin sector (parametric; the bundle also carries it as an MSI file).
ANTENNA = "3gpp-65"
#: Intended cell range per site kind, m.
INTENDED_RANGE_M = {"urban": 1000.0, "town": 2500.0, "hill": 3000.0}
#: Minor/major variance ratio of the demand below which a site gets 2 sectors (on the twin,
#: seed 0, about one site in eight).
TWO_SECTOR_RATIO = 0.2
#: Villages that shape a site's sectors lie within this distance, m.
SHAPE_RADIUS_M = 3000.0
#: Villages whose median elevation sets a site's height above its demand lie within this, m.
DEMAND_RADIUS_M = 6000.0
_MAX_ETILT_DEG = 6.0


def sector_layout(x_m, y_m, height_m, ground_m, kind, *, vx, vy, vz, hh, rng) -> pd.DataFrame:
    """One row per sector of every site (module documentation).

    Parameters
    ----------
    x_m, y_m, height_m, ground_m : array_like
        Sites in WORK_CRS, mast height and ground elevation, m.
    kind : array_like of str
        ``urban``, ``town`` or ``hill`` per site.
    vx, vy, vz, hh : array_like
        Villages: WORK_CRS position and elevation (m), households.
    rng : numpy.random.Generator
        Draws the rotations (one per site, always drawn: the sequence does not depend on the
        terrain).

    Returns
    -------
    pandas.DataFrame
        ``site`` (position in the inputs), ``sector`` (1…), ``azimuth_deg``, ``tilt_deg``
        (mechanical), ``etilt_deg``; sites in input order.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> v = np.arange(-5000.0, 5001.0, 500.0)          # villages along an east-west valley
    >>> lay = sector_layout([0.0, 0.0], [0.0, 9000.0], [30.0, 30.0], [100.0, 100.0],
    ...                     ["hill", "hill"], vx=v, vy=np.zeros(v.size), vz=np.full(v.size, 100.0),
    ...                     hh=np.full(v.size, 50.0), rng=rng)
    >>> lay.groupby("site").size().tolist()             # the valley site gets 2 sectors
    [2, 3]
    >>> sorted(lay[lay.site == 0].azimuth_deg.round(1).tolist())
    [90.0, 270.0]
    """
    x, y = np.asarray(x_m, float), np.asarray(y_m, float)
    h, g = np.asarray(height_m, float), np.asarray(ground_m, float)
    kind = np.asarray(kind, dtype=object)
    vx, vy = np.asarray(vx, float), np.asarray(vy, float)
    vz, hh = np.asarray(vz, float), np.asarray(hh, float)
    rot = rng.uniform(0.0, 120.0, len(x))
    tree = cKDTree(np.c_[vx, vy]) if len(vx) else None
    rows = []
    for i in range(len(x)):
        az = rot[i] + np.array([0.0, 120.0, 240.0])
        dz = 0.0
        if tree is not None:
            near = tree.query_ball_point([x[i], y[i]], r=SHAPE_RADIUS_M)
            if len(near) >= 3:
                dx, dy = vx[near] - x[i], vy[near] - y[i]
                w = hh[near] * np.exp(-np.hypot(dx, dy) / 2000.0)
                if w.sum() > 0:
                    val, vec = np.linalg.eigh(np.cov(np.c_[dx, dy].T, aweights=w))
                    if val[1] > 0 and val[0] / val[1] < TWO_SECTOR_RATIO:
                        major = np.degrees(np.arctan2(vec[0, 1], vec[1, 1])) % 180.0  # from N
                        az = np.array([major, major + 180.0])
            wide = tree.query_ball_point([x[i], y[i]], r=DEMAND_RADIUS_M)
            if wide:
                dz = max(0.0, g[i] - float(np.median(vz[wide])))
        total = float(np.clip(np.degrees(np.arctan2(h[i] + dz, INTENDED_RANGE_M[kind[i]])),
                              1.0, 10.0))
        etilt = float(min(np.floor(total), _MAX_ETILT_DEG))
        mtilt = round(total - etilt, 1)
        for k, a in enumerate(np.round(az % 360.0, 1)):
            rows.append((i, k + 1, float(a), mtilt, etilt))
    return pd.DataFrame(rows, columns=["site", "sector", "azimuth_deg", "tilt_deg", "etilt_deg"])


def sector_transmitters(cand: pd.DataFrame, layout: pd.DataFrame, techs, freq_mhz,
                        eirp_dbm: float) -> tuple[pd.DataFrame, np.ndarray]:
    """Transmitters of every (candidate, technology, sector) and their (candidate, tech) column.

    Parameters
    ----------
    cand : DataFrame
        Candidates (index = their id; ``x_m``, ``y_m``, ``height_m``).
    layout : DataFrame
        :func:`sector_layout` rows with ``cand`` = the candidate's index label.
    techs, freq_mhz : sequence
        Technologies and their frequency, MHz.
    eirp_dbm : float
        Boresight EIRP of every sector, dBm.

    Returns
    -------
    (DataFrame, ndarray)
        Transmitters for :func:`phusong.coverage.coverage_matrix` (``site_id`` = candidate, so
        sectors share terrain profiles and losses; ``attrs["antennas"]`` holds the pattern), and
        per row the column ``position of candidate × len(techs) + tech`` it belongs to.
    """
    from phusong.coverage.msi import antenna_by_name

    pos = pd.Series(np.arange(len(cand)), index=cand.index)
    lay = layout[layout["cand"].isin(cand.index)]
    nt = len(techs)
    c = pos.reindex(lay["cand"]).to_numpy()
    rep = np.repeat(np.arange(len(lay)), nt)
    t_idx = np.tile(np.arange(nt), len(lay))
    src = cand.loc[lay["cand"].to_numpy()]
    tx = pd.DataFrame({
        "site_id": lay["cand"].to_numpy().astype(str)[rep],
        "tech": np.asarray(techs, object)[t_idx],
        "freq_mhz": np.asarray(freq_mhz, float)[t_idx],
        "eirp_dbm": float(eirp_dbm),
        "x_m": src["x_m"].to_numpy(float)[rep],
        "y_m": src["y_m"].to_numpy(float)[rep],
        "height_m": src["height_m"].to_numpy(float)[rep],
        "azimuth_deg": lay["azimuth_deg"].to_numpy(float)[rep],
        "tilt_deg": lay["tilt_deg"].to_numpy(float)[rep],
        "etilt_deg": lay["etilt_deg"].to_numpy(float)[rep],
        "antenna": ANTENNA,
    })
    tx.attrs["antennas"] = {ANTENNA: antenna_by_name(ANTENNA)}
    return tx, c[rep] * nt + t_idx
