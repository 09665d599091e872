"""The twin's mobile network: sites and BTS calibrated to Plan 785's published coverage.

**What a BTS is here.** Plan 785 counts "2,650 BTS (2G + 3G + 4G) at 1,350 sites": one BTS is
one radio unit of one technology at one site. The ``cells`` table has exactly one row per
(site, technology) — an omni-directional cell (``azimuth_deg`` NaN) standing for that BTS — so
the BTS count is the number of 2G/3G/4G rows of ``cells`` (5G rows, only in the ``"5g"`` variant,
are counted apart).

**How the sites are placed** (:func:`calibrate_sites`):

1. *Candidates* on high ground near demand: one per commune centre (the highest DEM pixel within
   700 m of the UBND village, inside its commune — the town site), and hill tops (DEM local
   maxima over ~1 km, ≥ 15 m above their surroundings, ≤ 4 km from a village) ranked by the
   households around them (``Σ households × exp(−d / 2 km)`` within 6 km) with a seeded jitter;
   every village gets at least one candidate within 3 km. Heights 20–50 m (town sites
   30–45 m, hill tops 20–35 m), EIRP ``settings.RADIO.eirp_dbm``. A commune centre that no
   candidate would serve gets its town site in the village itself (45 m mast); so do the
   largest of the other unserved villages beyond the published 0.4 % without service.
2. The coverage engine computes **once** which villages each candidate would cover with 2G
   (GSM900), 3G (B1 2100) and 4G (B3 1800) under the calibration model (default
   ``settings.DEFAULT_MODEL``); the coverage of any subset is then exact (union of columns) and
   equals what :func:`phusong.coverage.score_villages` later reports for the saved bundle.
3. *Positions*: every commune-centre site, then greedy maximal covering until only
   ``round((1 − 99.6 %) × villages)`` villages remain without service; the other sites up to
   1,350 are densification (capacity and a second/third operator where one already serves),
   taken by demand among candidates that add no coverage.
4. *Operators* with shares Viettel 45 %, VNPT 30 %, MobiFone 20 %, Vietnamobile 5 % (town sites
   Viettel or VNPT, Vietnamobile in the busiest places).
5. *Technologies*: 3G then 4G are rolled out in demand order while their coverage stays at the
   published 91 % / 81 % of villages or adds nothing; 2G is on every coverage site, every site
   without 3G/4G, and then in demand order until the BTS total is 2,650.

``variant="5g"`` adds the 2024–26 5G roll-out: Viettel n41 and VNPT / MobiFone n78 at their
sites in wards and district towns (not part of the 2,650 BTS).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import ndimage, sparse
from scipy.spatial import cKDTree

from phusong import settings
from phusong.bundle import Raster
from phusong.crs import to_work, transform_points
from phusong.errors import DataError
from phusong.twin import _net_sectors as sectors
from phusong.twin import _net_select as sel
from phusong.twin.roads import centre_villages

__all__ = ["make_sites", "calibrate_sites", "SitePlan", "CALIBRATION", "OPERATOR_SHARES",
           "TECH_BANDS", "VARIANTS"]

#: Published figures the sites are fitted to (Plan 785 §2.1, FACTS §1).
CALIBRATION = {
    "sites": 1350,
    "bts": 2650,
    "villages_any_mobile_pct": 99.6,
    "villages_3g_pct": 91.0,
    "villages_4g_pct": 81.0,
    "commune_centres_mobile_pct": 100.0,
}
#: Market shares used to split the sites between operators (approximate national shares).
OPERATOR_SHARES = {"Viettel": 0.45, "VNPT": 0.30, "MobiFone": 0.20, "Vietnamobile": 0.05}
#: Band of each technology in the 2022 baseline (FACTS §6) and of 5G per operator.
TECH_BANDS = {"2G": "GSM900", "3G": "B1", "4G": "B3"}
BANDS_5G = {"Viettel": "n41", "VNPT": "n78", "MobiFone": "n78"}
VARIANTS = ("2022", "5g")
#: Wanted 3G and 4G BTS for Plan 785's 2,650 (scaled for other totals): 2G 1,000 / 3G 900 /
#: 4G 750 ≈ 38 / 34 / 28 %, between an older 2G-heavy mix and the 2023 inventory of
#: 853 / 1,207 / 1,176; the 2G count absorbs what the 3G/4G calibration leaves.
TECH_QUOTA = {"3G": 900, "4G": 750}
#: Columns of the twin's cells table.
CELL_COLUMNS = ["cell_id", "site_id", "tech", "band", "freq_mhz", "eirp_dbm", "azimuth_deg",
                "tilt_deg", "etilt_deg", "antenna"]
_OP_CODE = {"Viettel": "VT", "VNPT": "VN", "MobiFone": "MF", "Vietnamobile": "VM"}
_URBAN = ("phư", "thị")


@dataclass
class SitePlan:
    """Result of :func:`calibrate_sites`.

    Attributes
    ----------
    sites : GeoDataFrame
        Schema ``sites`` (EPSG:4326) plus ``commune_code``, ``kind`` (town/hill) and ``role``
        (coverage/densification).
    cells : DataFrame
        Schema ``cells``: one row per (site, technology).
    figures : dict
        Calibration results: counts and village percentages from the coverage matrix.
    """

    sites: gpd.GeoDataFrame
    cells: pd.DataFrame
    figures: dict = field(default_factory=dict)


def make_sites(communes, villages, dem: Raster, roads=None, *, seed: int = 0,
               variant: str = "2022", model: str = settings.DEFAULT_MODEL,
               n_sites: int = CALIBRATION["sites"], n_bts: int = CALIBRATION["bts"],
               pool_factor: float = 1.5) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Generate calibrated sites and cells (see the module documentation).

    Parameters
    ----------
    communes, villages : GeoDataFrame
        Schemas ``communes`` and ``villages`` (villages with ``is_centre``).
    dem : Raster
        Elevation in WORK_CRS, m.
    roads : GeoDataFrame, optional
        Sets ``has_power`` (grid power within 1 km of a road; otherwise solar/generator).
    seed : int
        Random seed (jitter of ranking, heights, operators).
    variant : str
        ``"2022"`` (baseline, no 5G) or ``"5g"`` (adds the 2024–26 5G roll-out).
    model : str
        Propagation model the calibration is fitted to.
    n_sites, n_bts : int
        Sites and 2G/3G/4G BTS to generate (defaults: Plan 785's 1,350 and 2,650).
    pool_factor : float
        Candidate positions per site (more = finer calibration, slower).

    Returns
    -------
    (GeoDataFrame, DataFrame)
        Sites and cells.
    """
    plan = calibrate_sites(communes, villages, dem, roads, seed=seed, variant=variant,
                           model=model, n_sites=n_sites, n_bts=n_bts, pool_factor=pool_factor)
    return plan.sites, plan.cells


def calibrate_sites(communes, villages, dem: Raster, roads=None, *, seed: int = 0,
                    variant: str = "2022", model: str = settings.DEFAULT_MODEL,
                    n_sites: int = CALIBRATION["sites"], n_bts: int = CALIBRATION["bts"],
                    pool_factor: float = 1.5, targets: dict | None = None,
                    landcover: Raster | None = None) -> SitePlan:
    """As :func:`make_sites`, returning the calibration figures too (:class:`SitePlan`).

    ``targets`` overrides entries of :data:`CALIBRATION` (village percentages); ``landcover``
    (the twin's :func:`phusong.twin.landcover.make_landcover`) adds its P.2108 terminal clutter
    to the calibration, as :func:`phusong.coverage.score_villages` adds it for the saved bundle.
    """
    from phusong.coverage import coverage_matrix
    from phusong.coverage.clutter import prepare_clutter

    if variant not in VARIANTS:
        raise DataError(f"variant {variant!r} unknown; use one of {', '.join(VARIANTS)}")
    if dem.crs.upper() != settings.WORK_CRS:
        raise DataError(f"dem: in {dem.crs}; the twin places sites on a {settings.WORK_CRS} DEM")
    tg = dict(CALIBRATION) | dict(targets or {})
    rng = np.random.default_rng([seed, 2])
    cw, vw = to_work(communes, "communes"), to_work(villages, "villages")
    nv = len(vw)
    if nv == 0 or n_sites < 1:
        raise DataError("villages: none to serve; generate villages before sites")
    # receivers exactly as the coverage engine sees a saved bundle (4326 → WORK_CRS)
    vll = villages.to_crs(settings.STORE_CRS)
    rx_x, rx_y = transform_points(vll.geometry.x, vll.geometry.y, settings.STORE_CRS,
                                  settings.WORK_CRS)
    pool = _candidates(cw, vw, dem, rng=rng, size=max(int(n_sites * pool_factor), n_sites))
    lon, lat = transform_points(pool.x_m, pool.y_m, settings.WORK_CRS, settings.STORE_CRS)
    pool["lon"], pool["lat"] = lon, lat
    pool["x_m"], pool["y_m"] = transform_points(lon, lat, settings.STORE_CRS, settings.WORK_CRS)
    techs = list(TECH_BANDS)

    clutter = prepare_clutter(landcover) if landcover is not None else None
    freqs = [settings.BANDS_MHZ[t][TECH_BANDS[t]] for t in techs]
    ground = _ground(dem)
    vz = ground(rx_x, rx_y)
    hh_v = vw["households"].to_numpy(float) if "households" in vw else np.ones(nv)
    srng = np.random.default_rng([seed, 3])

    def layout(cand: pd.DataFrame) -> pd.DataFrame:
        kind = np.where(cand.urban, "urban", np.where(cand.town, "town", "hill"))
        lay = sectors.sector_layout(cand.x_m, cand.y_m, cand.height_m,
                                    ground(cand.x_m.to_numpy(), cand.y_m.to_numpy()), kind,
                                    vx=rx_x, vy=rx_y, vz=vz, hh=hh_v, rng=srng)
        lay["cand"] = np.asarray(cand.index)[lay.pop("site").to_numpy()]
        return lay

    def matrix(cand: pd.DataFrame, lay: pd.DataFrame):
        # a (candidate, technology) covers a village when any of its sectors does
        tx, col = sectors.sector_transmitters(cand, lay, techs, freqs, settings.RADIO.eirp_dbm)
        m = coverage_matrix(tx, rx_x, rx_y, dem, model=model, clutter=clutter).tocsr()
        fold = sparse.csr_matrix((np.ones(len(tx)), (np.arange(len(tx)), col)),
                                 shape=(len(tx), len(cand) * len(techs)))
        return sparse.csc_matrix((m.astype(np.float64) @ fold) > 0)

    lay = layout(pool)
    m = matrix(pool, lay)
    centres = set(centre_villages(vw).village_id)
    is_centre = vw["village_id"].isin(centres).to_numpy()
    # villages no candidate serves (deep valleys): a commune centre gets its town site moved
    # into the village on a 45 m mast; other dark villages beyond the published share without
    # service (largest first) get a village site too
    target_unc = int(round((100.0 - tg["villages_any_mobile_pct"]) / 100.0 * nv))
    dark = np.flatnonzero(np.asarray(m.sum(axis=1)).ravel() == 0)
    dark_centre = dark[is_centre[dark]]
    dark_other = dark[~is_centre[dark]]
    hh = vw["households"].to_numpy(float) if "households" in vw else np.ones(nv)
    n_extra = max(0, len(dark_other) - target_unc)
    extra = dark_other[np.argsort(-hh[dark_other], kind="stable")[:n_extra]]
    if dark_centre.size or extra.size:
        add = np.r_[dark_centre, extra].astype(np.int64)
        mlon, mlat = transform_points(rx_x[add] + 50.0, rx_y[add], settings.WORK_CRS,
                                      settings.STORE_CRS)
        moved = pd.DataFrame({"lon": mlon, "lat": mlat,
                              "commune_code": vw["commune_code"].to_numpy()[add]})
        moved["x_m"], moved["y_m"] = transform_points(mlon, mlat, settings.STORE_CRS,
                                                      settings.WORK_CRS)
        moved["town"] = is_centre[add]
        moved["height_m"] = 45.0
        moved["score"], moved["urban"] = 0.0, False
        old = pool.town & pool.commune_code.isin(set(moved.commune_code[moved.town]))
        by_code = pool.loc[old].set_index("commune_code")
        moved.loc[moved.town, "score"] = by_code.score.reindex(
            moved.commune_code[moved.town]).to_numpy()
        moved.loc[moved.town, "urban"] = by_code.urban.reindex(
            moved.commune_code[moved.town], fill_value=False).to_numpy(bool)
        pool.loc[old, ["town", "urban"]] = False
        moved.index = np.arange(len(pool), len(pool) + len(moved))
        pool = pd.concat([pool, moved[pool.columns]])
        lay_moved = layout(moved)
        lay = pd.concat([lay, lay_moved], ignore_index=True)
        m = sparse.hstack([m, matrix(moved, lay_moved)]).tocsc()
    cov = {t: m[:, k :: len(techs)] for k, t in enumerate(techs)}
    anycov = sel.Columns(cov["2G"] + cov["3G"] + cov["4G"])
    priority = np.asarray(pool.sort_values(["urban", "town", "score"], ascending=False).index)
    mandatory = np.flatnonzero(pool.town.to_numpy())
    cover_sites, dense = sel.select_positions(anycov, mandatory=mandatory, priority=priority,
                                              n_sites=n_sites, target_uncovered=target_unc,
                                              protect=is_centre)
    chosen = np.array(cover_sites + dense)
    in_set = set(chosen.tolist())
    site_rank = {j: k for k, j in enumerate(p for p in priority if p in in_set)}
    order = sorted(range(len(chosen)), key=lambda i: site_rank[int(chosen[i])])
    sub = {t: sel.Columns(cov[t][:, chosen]) for t in techs}
    carry: dict[str, list[int]] = {}
    quota = {t: int(round(q * n_bts / CALIBRATION["bts"])) for t, q in TECH_QUOTA.items()}
    carry["3G"] = sel.assign_tech(sub["3G"], order=order, quota=quota["3G"],
                                  target_covered=_count(tg["villages_3g_pct"], nv))
    with3 = set(carry["3G"])
    order4 = [i for i in order if i in with3] + [i for i in order if i not in with3]
    carry["4G"] = sel.assign_tech(sub["4G"], order=order4, quota=quota["4G"],
                                  target_covered=_count(tg["villages_4g_pct"], nv))
    must2 = set(range(len(cover_sites))) | (set(range(len(chosen))) - with3 - set(carry["4G"]))
    n2 = min(len(chosen), max(len(must2), n_bts - len(carry["3G"]) - len(carry["4G"])))
    carry["2G"] = [i for i in order if i in must2] + [i for i in order if i not in must2]
    carry["2G"] = carry["2G"][:n2]
    picked = pool.loc[chosen].reset_index(drop=True)
    picked["role"] = ["coverage"] * len(cover_sites) + ["densification"] * len(dense)
    sites = _site_table(picked, cw, roads, dem, rng=rng)
    site_lay = lay.set_index("cand").loc[chosen].reset_index(drop=True)
    site_lay["site"] = np.repeat(np.arange(len(chosen)),
                                 lay.groupby("cand").size().reindex(chosen).to_numpy())
    cells = _cell_table(sites, carry, site_lay)
    if variant == "5g":
        cells = pd.concat([cells, _cells_5g(sites, cw, site_lay)], ignore_index=True)
    covered = {t: sel.covered_by(sub[t], carry[t]) for t in techs}
    anyc = covered["2G"] | covered["3G"] | covered["4G"]
    figures = {
        "sites": len(sites),
        "bts": int(sum(len(v) for v in carry.values())),
        "bts_by_tech": {t: len(carry[t]) for t in techs},
        "cells": int((cells["tech"] != "5G").sum()),
        "candidates": len(pool),
        "coverage_sites": len(cover_sites),
        "villages_any_mobile_pct": 100.0 * anyc.mean(),
        "villages_3g_pct": 100.0 * covered["3G"].mean(),
        "villages_4g_pct": 100.0 * covered["4G"].mean(),
        "commune_centres_mobile_pct": 100.0 * anyc[is_centre].mean() if is_centre.any() else 0.0,
        "model": model,
        "clutter": "P.2108 from the twin's landcover" if clutter is not None else "none",
    }
    return SitePlan(sites, cells, figures)


def _count(pct: float, n: int) -> int:
    return int(round(pct / 100.0 * n))


def _candidates(cw, vw, dem: Raster, *, rng, size: int) -> pd.DataFrame:
    """Candidate positions: town sites (one per commune centre) and hill tops near villages."""
    z = np.asarray(dem.array, dtype=float)
    px = float(abs(dem.transform.a))
    x0, y0 = float(dem.transform.c), float(dem.transform.f)
    finite = np.isfinite(z)
    zf = np.where(finite, z, -1e9)
    vx, vy = vw.geometry.x.to_numpy(), vw.geometry.y.to_numpy()
    hh = vw["households"].to_numpy(float) if "households" in vw else np.ones(len(vw))
    vtree = cKDTree(np.c_[vx, vy])

    def demand(x, y):
        out = np.zeros(len(x))
        for i, near in enumerate(vtree.query_ball_point(np.c_[x, y], r=6000.0)):
            if near:
                d = np.hypot(vx[near] - x[i], vy[near] - y[i])
                out[i] = float((hh[near] * np.exp(-d / 2000.0)).sum())
        return out

    commune_of = dict(zip(cw["commune_code"], cw.geometry, strict=True))
    kind = cw.set_index("commune_code")["type"].astype(str).str.lower() if "type" in cw else None
    cen = centre_villages(vw)
    pos = {v: i for i, v in enumerate(vw["village_id"])}
    town = []
    for _, c in cen.iterrows():
        i = pos[c.village_id]
        x, y = _highest_near(zf, finite, x0, y0, px, vx[i], vy[i], 700.0,
                             within=commune_of.get(c.commune_code))
        town.append((x, y, c.commune_code))
    t = pd.DataFrame(town, columns=["x_m", "y_m", "commune_code"])
    t["town"] = True
    # hill tops: prominent peaks (≥ 15 m over ~3 km) and minor knolls (≥ 5 m over ~1.4 km)
    peaks, bonus = np.zeros_like(finite), np.zeros(z.shape)
    for span_m, rise_m, weight in ((1000.0, 15.0, 1.3), (450.0, 5.0, 1.0)):
        k = max(3, int(round(span_m / px)) | 1)
        local = (ndimage.maximum_filter(zf, size=k) == zf) & finite
        around = ndimage.uniform_filter(np.where(finite, z, np.nanmean(z)), size=3 * k)
        local &= (z - around) >= rise_m
        bonus = np.where(local & ~peaks, weight, bonus)
        peaks |= local
    pr, pc = np.nonzero(peaks)
    hx, hy = x0 + (pc + 0.5) * px, y0 - (pr + 0.5) * px
    hw = bonus[pr, pc]
    province = shapely.union_all(cw.geometry.to_numpy())
    dvill, _ = vtree.query(np.c_[hx, hy])
    keep = (dvill <= 4000.0) & shapely.contains_xy(province, hx, hy)
    hx, hy, hw = hx[keep], hy[keep], hw[keep]
    # a village with no hill top within 3 km gets the highest ground within 1.5 km of it
    if len(hx):
        far = cKDTree(np.c_[hx, hy]).query(np.c_[vx, vy])[0] > 3000.0
    else:
        far = np.ones(len(vx), bool)
    add = [_highest_near(zf, finite, x0, y0, px, vx[i], vy[i], 1500.0) for i in np.flatnonzero(far)]
    if add:
        hx = np.r_[hx, [a[0] for a in add]]
        hy = np.r_[hy, [a[1] for a in add]]
        hw = np.r_[hw, np.ones(len(add))]
    hscore = demand(hx, hy) * hw * rng.lognormal(0.0, 0.3, len(hx))
    order = np.argsort(-hscore, kind="stable")
    rank = np.empty(len(hx), np.int64)
    rank[order] = np.arange(len(hx))
    # every village first gets its best-ranked hill top within 3 km, then the rest by rank
    need: set[int] = set()
    for near in cKDTree(np.c_[hx, hy]).query_ball_point(np.c_[vx, vy], r=3000.0):
        if near:
            need.add(min(near, key=lambda k: rank[k]))
    first = sorted(need, key=lambda k: rank[k])
    rest = [int(k) for k in order if k not in need]
    hills = _spaced(first + rest, hx, hy, 400.0, np.c_[t.x_m, t.y_m],
                    budget=max(size - len(t), len(first)), keep_first=len(first))
    h = pd.DataFrame({"x_m": hx[hills], "y_m": hy[hills]})
    h["commune_code"] = _commune_at(cw, h.x_m.to_numpy(), h.y_m.to_numpy())
    h["town"] = False
    pool = pd.concat([t, h], ignore_index=True)
    pool["score"] = demand(pool.x_m.to_numpy(), pool.y_m.to_numpy())
    pool.loc[~pool.town, "score"] *= rng.lognormal(0.0, 0.3, int((~pool.town).sum()))
    urban = pool.commune_code.map(kind).fillna("").str.startswith(_URBAN) if kind is not None \
        else pd.Series(False, index=pool.index)
    pool["urban"] = urban.to_numpy() & pool.town.to_numpy()
    heights_town = np.array([30.0, 35.0, 40.0, 45.0])
    heights_hill = np.array([20.0, 25.0, 30.0, 35.0])
    pool["height_m"] = np.where(pool.town, rng.choice(heights_town, len(pool)),
                                rng.choice(heights_hill, len(pool)))
    return pool


def _highest_near(zf, finite, x0, y0, px, x, y, radius_m, *, within=None) -> tuple[float, float]:
    """Centre of the highest valid DEM pixel within ``radius_m`` of (x, y) (and inside the
    polygon ``within``); (x, y) itself when there is none."""
    rows, cols = zf.shape
    rad = int(np.ceil(radius_m / px))
    cc, rr = int((x - x0) / px), int((y0 - y) / px)
    r0, r1, c0, c1 = max(rr - rad, 0), min(rr + rad + 1, rows), max(cc - rad, 0), min(cc + rad + 1, cols)
    if r0 >= r1 or c0 >= c1:
        return float(x), float(y)
    gr, gc = np.mgrid[r0:r1, c0:c1]
    gx, gy = x0 + (gc + 0.5) * px, y0 - (gr + 0.5) * px
    ok = (np.hypot(gx - x, gy - y) <= radius_m) & finite[r0:r1, c0:c1]
    if within is not None:
        ok &= shapely.contains_xy(within, gx, gy)
    if not ok.any():
        return float(x), float(y)
    k = int(np.argmax(np.where(ok, zf[r0:r1, c0:c1], -np.inf)))
    return float(gx.flat[k]), float(gy.flat[k])


def _spaced(order, x, y, spacing_m, fixed, *, budget: int, keep_first: int) -> np.ndarray:
    """Indices from ``order`` at least ``spacing_m`` from each other and from ``fixed`` points
    (the first ``keep_first`` are kept regardless), at most ``budget``."""
    cell: dict[tuple[int, int], list[tuple[float, float]]] = {}

    def key(px, py):
        return int(np.floor(px / spacing_m)), int(np.floor(py / spacing_m))

    def clear(px, py):
        kx, ky = key(px, py)
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for qx, qy in cell.get((kx + dx, ky + dy), ()):
                    if (qx - px) ** 2 + (qy - py) ** 2 < spacing_m**2:
                        return False
        return True

    for fx, fy in np.asarray(fixed, float).reshape(-1, 2):
        cell.setdefault(key(fx, fy), []).append((fx, fy))
    out: list[int] = []
    for n, k in enumerate(order):
        if len(out) >= budget:
            break
        if n < keep_first or clear(x[k], y[k]):
            out.append(int(k))
            cell.setdefault(key(x[k], y[k]), []).append((float(x[k]), float(y[k])))
    return np.array(out, dtype=np.int64)


def _commune_at(cw, x, y) -> np.ndarray:
    pts = gpd.GeoDataFrame(geometry=shapely.points(x, y), crs=cw.crs)
    j = gpd.sjoin_nearest(pts, cw[["commune_code", "geometry"]], how="left")
    j = j[~j.index.duplicated(keep="first")]
    return j["commune_code"].to_numpy()


def _site_table(picked: pd.DataFrame, cw, roads, dem: Raster, *, rng) -> gpd.GeoDataFrame:
    n = len(picked)
    counts = {op: int(round(share * n)) for op, share in OPERATOR_SHARES.items()}
    counts["Viettel"] += n - sum(counts.values())
    ops = np.empty(n, dtype=object)
    town = picked.town.to_numpy()
    for i in np.flatnonzero(town):
        op = "Viettel" if (rng.random() < 0.65 and counts["Viettel"] > 0) or counts["VNPT"] == 0 \
            else "VNPT"
        ops[i] = op
        counts[op] -= 1
    rest = np.flatnonzero(~town)
    busy = rest[np.argsort(-picked.score.to_numpy()[rest], kind="stable")]
    k_vm = min(counts["Vietnamobile"], len(busy))
    vm = rng.choice(busy[: max(k_vm, int(0.4 * len(busy)))], size=k_vm, replace=False) \
        if k_vm else np.array([], int)
    ops[vm] = "Vietnamobile"
    counts["Vietnamobile"] -= k_vm
    left = [i for i in rest if ops[i] is None]
    labels = [op for op, c in counts.items() for _ in range(max(c, 0))]
    labels += ["Viettel"] * (len(left) - len(labels))
    ops[np.array(left, dtype=np.int64)] = rng.permutation(np.array(labels[: len(left)], object))
    seq = {op: 0 for op in OPERATOR_SHARES}
    ids = []
    for op in ops:
        seq[op] += 1
        ids.append(f"{_OP_CODE[op]}{seq[op]:04d}")
    geom = shapely.points(picked.lon.to_numpy(), picked.lat.to_numpy())
    sites = gpd.GeoDataFrame({
        "site_id": ids,
        "operator": ops.astype(str),
        "height_m": picked.height_m.to_numpy(float),
        "has_power": True,
        "has_backhaul": True,
        "commune_code": picked.commune_code.to_numpy(),
        "kind": np.where(town, "town", "hill"),
        "role": picked.role.to_numpy(),
    }, geometry=geom, crs=settings.STORE_CRS)
    if roads is not None and len(roads):
        rw = to_work(roads, "roads")
        pts = shapely.points(picked.x_m.to_numpy(), picked.y_m.to_numpy())
        tree = shapely.STRtree(rw.geometry.to_numpy())
        _, dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
        sites["has_power"] = dist <= 1000.0
    return sites


def _cell_table(sites: gpd.GeoDataFrame, carry: dict[str, list[int]],
                lay: pd.DataFrame) -> pd.DataFrame:
    """One row per sector of every (site, technology) BTS: ``{site}-{tech}-{sector}``."""
    sid = sites["site_id"].to_numpy()
    parts = []
    for t in ("2G", "3G", "4G"):
        band = TECH_BANDS[t]
        sec = lay[lay["site"].isin(carry[t])]
        parts.append(pd.DataFrame({
            "cell_id": [f"{sid[i]}-{t}-{k}" for i, k in zip(sec["site"], sec["sector"],
                                                            strict=True)],
            "site_id": sid[sec["site"].to_numpy()], "tech": t, "band": band,
            "freq_mhz": settings.BANDS_MHZ[t][band]} | _sector_columns(sec)))
    c = pd.concat(parts, ignore_index=True)
    c["eirp_dbm"] = settings.RADIO.eirp_dbm
    return c[CELL_COLUMNS].sort_values("cell_id", ignore_index=True)


def _sector_columns(sec: pd.DataFrame) -> dict:
    return {"azimuth_deg": sec["azimuth_deg"].to_numpy(float),
            "tilt_deg": sec["tilt_deg"].to_numpy(float),
            "etilt_deg": sec["etilt_deg"].to_numpy(float), "antenna": sectors.ANTENNA}


def _cells_5g(sites: gpd.GeoDataFrame, cw, lay: pd.DataFrame) -> pd.DataFrame:
    kind = cw.set_index("commune_code")["type"].astype(str).str.lower() if "type" in cw else None
    urban = (sites.commune_code.map(kind).fillna("").str.startswith(_URBAN)
             if kind is not None else pd.Series(False, index=sites.index))
    pick = np.flatnonzero((urban & sites.operator.isin(list(BANDS_5G))).to_numpy())
    sec = lay[lay["site"].isin(pick)]
    s = sites.iloc[sec["site"].to_numpy()]
    band = s.operator.map(BANDS_5G).to_numpy()
    c = pd.DataFrame({"cell_id": [f"{i}-5G-{k}" for i, k in zip(s.site_id, sec["sector"],
                                                                  strict=True)],
                      "site_id": s.site_id.to_numpy(), "tech": "5G", "band": band,
                      "freq_mhz": pd.Series(band).map(settings.BANDS_MHZ["5G"]).to_numpy(),
                      "eirp_dbm": settings.RADIO.eirp_dbm} | _sector_columns(sec))
    return c[CELL_COLUMNS].reset_index(drop=True)


def _ground(dem: Raster):
    """Nearest-pixel DEM elevation at WORK_CRS points (NaN → the DEM's median), m."""
    z = np.asarray(dem.array, float)
    fill = float(np.nanmedian(z)) if np.isfinite(z).any() else 0.0
    px, x0, y0 = float(abs(dem.transform.a)), float(dem.transform.c), float(dem.transform.f)

    def at(x, y):
        c = np.clip(((np.asarray(x, float) - x0) / px).astype(np.int64), 0, z.shape[1] - 1)
        r = np.clip(((y0 - np.asarray(y, float)) / px).astype(np.int64), 0, z.shape[0] - 1)
        v = z[r, c]
        return np.where(np.isfinite(v), v, fill)

    return at
