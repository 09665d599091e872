"""Villages against the commune census: how much of it they carry, and ways to make them carry it.

A planner's village list is rarely complete: OpenStreetMap place points carry no population,
an operator's list only the villages it serves. :func:`census_shares` compares, per commune,
the villages' households and population with the commune's 2019 census (the communes layer)
and says what share they represent. Three ways to go on (``phusong data import
--villages-scale``):

``given``
    keep the villages as they are; the gap tables count the census households no village
    represents as unknown (:mod:`phusong.planning.gaps`).
``census``
    :func:`scale_to_census`: spread each commune's census households and population over its
    villages, in proportion to what they carry (equally when they carry nothing, as OSM places
    do); integer counts by largest remainder, so every commune's totals are the census exactly.
    Communes without a village stay unrepresented.
``raster``
    :func:`villages_from_raster`: every populated cell of a population raster (WorldPop-style,
    persons per pixel) inside a commune goes to the commune's nearest village; households are
    persons / :data:`phusong.settings.PERSONS_PER_HOUSEHOLD` (FACTS §1).

With no villages at all, :func:`settlements_from_raster` derives settlement points from the
raster: the populated cells of each commune grouped in ``block_m`` squares, one point per square
at its population-weighted centre (``village_id`` ``raster-{commune}-{k}``, ``source``
``population raster``).

Examples
--------
>>> import geopandas as gpd, pandas as pd
>>> from shapely.geometry import Point, box
>>> com = gpd.GeoDataFrame({"commune_code": ["04789"], "name": ["A"], "households": [10],
...     "population": [40]}, geometry=[box(105.0, 20.0, 105.1, 20.1)], crs="EPSG:4326")
>>> v = gpd.GeoDataFrame({"village_id": ["a", "b", "c"], "commune_code": "04789",
...     "households": [0, 0, 0], "population": [0, 0, 0]},
...     geometry=[Point(105.01, 20.01), Point(105.02, 20.02), Point(105.03, 20.03)],
...     crs="EPSG:4326")
>>> scaled = scale_to_census(v, com)
>>> scaled.households.tolist(), scaled.population.tolist()
([4, 3, 3], [16, 12, 12])
>>> census_shares(scaled, com).households_share_pct.tolist()
[100.0]
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from scipy.spatial import cKDTree

from phusong import settings
from phusong.crs import to_work
from phusong.errors import CRSError, DataError, RepairWarning

__all__ = ["SCALE_MODES", "census_shares", "census_summary", "check_excess", "scale_to_census",
           "settlements_from_raster", "villages_from_raster"]

#: Values of ``--villages-scale``.
SCALE_MODES = ("given", "census", "raster")


def census_shares(villages, communes) -> pd.DataFrame:
    """Per commune: census and village households/population and the share represented.

    Parameters
    ----------
    villages : DataFrame or None
        ``commune_code``, ``households``, ``population`` (None: no villages).
    communes : DataFrame
        ``commune_code``, ``name``, ``households``, ``population`` (the 2019 census).

    Returns
    -------
    DataFrame
        One row per commune: ``commune_code``, ``name``, ``census_households``,
        ``census_population``, ``villages``, ``village_households``, ``village_population``,
        ``households_share_pct``, ``population_share_pct`` (village / census × 100; NaN for a
        census of 0).
    """
    com = pd.DataFrame(communes).reset_index(drop=True)
    out = pd.DataFrame({"commune_code": com["commune_code"].astype(str).to_numpy(),
                        "name": com["name"].to_numpy() if "name" in com else None,
                        "census_households": pd.to_numeric(com["households"]).to_numpy(float),
                        "census_population": pd.to_numeric(com["population"]).to_numpy(float)})
    if villages is not None and len(villages):
        g = pd.DataFrame({"c": villages["commune_code"].astype(str).to_numpy(),
                          "h": pd.to_numeric(villages["households"]).to_numpy(float),
                          "p": pd.to_numeric(villages["population"]).to_numpy(float)}).groupby("c")
        n, h, p = g.size(), g["h"].sum(), g["p"].sum()
    else:
        n = h = p = pd.Series(dtype=float)
    codes = out["commune_code"]
    out["villages"] = n.reindex(codes).fillna(0).astype(int).to_numpy()
    out["village_households"] = h.reindex(codes).fillna(0.0).to_numpy()
    out["village_population"] = p.reindex(codes).fillna(0.0).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        for a, b, c in (("households_share_pct", "village_households", "census_households"),
                        ("population_share_pct", "village_population", "census_population")):
            out[a] = np.where(out[c] > 0, 100.0 * out[b] / out[c], np.nan)
    return out


def census_summary(shares: pd.DataFrame) -> dict:
    """Province totals of :func:`census_shares` (plain data for reports)."""
    ch, cp = float(shares["census_households"].sum()), float(shares["census_population"].sum())
    vh, vp = float(shares["village_households"].sum()), float(shares["village_population"].sum())
    rep = np.minimum(shares["village_households"], shares["census_households"]).sum()
    return {"communes": int(len(shares)),
            "communes_without_villages": int((shares["villages"] == 0).sum()),
            "census_households": ch, "census_population": cp,
            "village_households": vh, "village_population": vp,
            "households_represented_pct": 100.0 * float(rep) / ch if ch > 0 else None,
            "households_share_pct": 100.0 * vh / ch if ch > 0 else None,
            "population_share_pct": 100.0 * vp / cp if cp > 0 else None}


def check_excess(shares: pd.DataFrame, source: str, *,
                 factor: float = settings.CENSUS_EXCESS_FACTOR) -> list[str]:
    """Warn (:class:`~phusong.errors.RepairWarning`) about communes whose villages carry more
    than ``factor`` × the census households; returns the messages."""
    over = shares[shares["village_households"] > factor * shares["census_households"]]
    msgs = []
    for r in over.itertuples():
        msg = (f"{source}: villages of commune {r.commune_code} ({r.name}) carry "
               f"{r.village_households:,.0f} households, {r.village_households / max(r.census_households, 1):.1f}× "
               f"its census {r.census_households:,.0f}; check their commune_code and that "
               "the households column is not persons")
        warnings.warn(msg, RepairWarning, stacklevel=2)
        msgs.append(msg)
    return msgs


def _largest_remainder(total: float, weights: np.ndarray) -> np.ndarray:
    """Integers summing to ``round(total)`` in proportion to ``weights`` (equal when all 0)."""
    w = np.asarray(weights, float)
    w = np.ones_like(w) if w.sum() <= 0 else w
    exact = round(total) * w / w.sum()
    base = np.floor(exact)
    short = int(round(total) - base.sum())
    order = np.argsort(-(exact - base), kind="stable")
    base[order[:short]] += 1
    return base.astype(np.int64)


def scale_to_census(villages: gpd.GeoDataFrame, communes) -> gpd.GeoDataFrame:
    """Villages whose households and population sum, per commune, to the census (module doc).

    Raises
    ------
    DataError
        A village whose commune is not in ``communes``.
    """
    com = pd.DataFrame(communes).set_index("commune_code")
    unknown = ~villages["commune_code"].isin(com.index)
    if unknown.any():
        raise DataError(f"villages: commune_code {villages.loc[unknown, 'commune_code'].iloc[0]!r} "
                        "is not in the communes layer; fix the code or import its commune")
    out = villages.copy()
    hh = out["households"].to_numpy(float).copy()
    pop = out["population"].to_numpy(float).copy()
    for code, idx in out.groupby("commune_code").indices.items():
        c = com.loc[code]
        weight = hh[idx] if hh[idx].sum() > 0 else pop[idx]
        hh[idx] = _largest_remainder(float(c["households"]), weight)
        pop[idx] = _largest_remainder(float(c["population"]), hh[idx])
    out["households"] = hh.astype(np.int64)
    out["population"] = pop.astype(np.int64)
    return out


def _cells(raster, communes: gpd.GeoDataFrame, source: str) -> pd.DataFrame:
    """Populated cells of ``raster`` inside ``communes``: x_m, y_m (WORK_CRS), persons, commune."""
    arr = np.asarray(raster.array, float)
    rows, cols = np.nonzero(np.isfinite(arr) & (arr > 0))
    if not len(rows):
        raise DataError(f"{source}: the population raster has no populated cell")
    t = raster.transform
    xs = t.a * (cols + 0.5) + t.b * (rows + 0.5) + t.c
    ys = t.d * (cols + 0.5) + t.e * (rows + 0.5) + t.f
    try:
        tx = Transformer.from_crs(raster.crs, settings.WORK_CRS, always_xy=True)
        x_m, y_m = tx.transform(np.asarray(xs, float), np.asarray(ys, float))
    except Exception as exc:  # pyproj raises several types for an unusable CRS
        raise CRSError(f"{source}: cannot place the raster's CRS {raster.crs} in "
                       f"{settings.WORK_CRS} ({exc}); reproject it to EPSG:4326") from None
    cw = to_work(communes, "communes").reset_index(drop=True)
    pts = shapely.points(x_m, y_m)
    ok = np.isfinite(x_m) & np.isfinite(y_m)
    tree = shapely.STRtree(cw.geometry.to_numpy())
    pi, ci = tree.query(pts[ok], predicate="within")
    where = np.flatnonzero(ok)[pi]
    first = ~pd.Series(where).duplicated().to_numpy()
    where, ci = where[first], ci[first]
    if not len(where):
        w, s, e, n = raster_bounds_4326(raster)
        raise DataError(f"{source}: the population raster ({w:.3f}…{e:.3f} E, {s:.3f}…{n:.3f} N "
                        f"in {raster.crs}) does not overlap the communes; check its CRS and extent")
    return pd.DataFrame({"x_m": np.asarray(x_m)[where], "y_m": np.asarray(y_m)[where],
                         "persons": arr[rows[where], cols[where]],
                         "commune_code": cw["commune_code"].to_numpy()[ci]})


def raster_bounds_4326(raster) -> tuple[float, float, float, float]:
    """Bounds of ``raster`` in lon/lat (for messages)."""
    tx = Transformer.from_crs(raster.crs, settings.STORE_CRS, always_xy=True)
    return tx.transform_bounds(*raster.bounds)


def villages_from_raster(villages: gpd.GeoDataFrame, communes: gpd.GeoDataFrame, raster, *,
                         source: str = "population",
                         persons_per_household: float = settings.PERSONS_PER_HOUSEHOLD
                         ) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Villages given the persons of the populated cells nearest to them in their commune.

    Returns
    -------
    (GeoDataFrame, list of str)
        The villages (``population`` = persons of their cells rounded, ``households`` =
        population / ``persons_per_household`` rounded) and notes (persons placed, persons in
        communes without a village).
    """
    cells = _cells(raster, communes, source)
    vw = to_work(villages, "villages").reset_index(drop=True)
    pop = np.zeros(len(vw))
    lost = 0.0
    vx, vy = vw.geometry.x.to_numpy(), vw.geometry.y.to_numpy()
    vidx = vw.groupby("commune_code").indices
    for code, g in cells.groupby("commune_code"):
        idx = vidx.get(code)
        if idx is None:
            lost += float(g["persons"].sum())
            continue
        _, k = cKDTree(np.c_[vx[idx], vy[idx]]).query(np.c_[g["x_m"], g["y_m"]])
        np.add.at(pop, idx[k], g["persons"].to_numpy())
    out = villages.copy()
    out["population"] = np.round(pop).astype(np.int64)
    out["households"] = np.round(pop / persons_per_household).astype(np.int64)
    total = float(cells["persons"].sum())
    notes = [f"population from {source}: {total - lost:,.0f} of {total:,.0f} persons inside the "
             f"communes given to their commune's nearest village; households = persons / "
             f"{persons_per_household:g}"]
    if lost:
        notes.append(f"{lost:,.0f} persons of the raster lie in communes without a village "
                     "(unrepresented)")
    return out, notes


def settlements_from_raster(communes: gpd.GeoDataFrame, raster, *, source: str = "population",
                            block_m: float = 1000.0, min_persons: float = 20.0,
                            persons_per_household: float = settings.PERSONS_PER_HOUSEHOLD
                            ) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Settlement points derived from a population raster when there are no villages.

    Populated cells of each commune are grouped in ``block_m`` squares; a square holding at
    least ``min_persons`` becomes a settlement at its population-weighted centre (the most
    populous square of a commune always does), and the persons of smaller squares join the
    commune's nearest settlement, so each commune keeps its raster total.

    Returns
    -------
    (GeoDataFrame, list of str)
        Villages (EPSG:4326) with ``village_id`` ``raster-{commune}-{k}``, ``name``,
        ``commune_code``, ``households``, ``population``, ``is_centre`` False, ``source``
        ``"population raster"``; and notes.
    """
    cells = _cells(raster, communes, source)
    cells["bx"] = np.floor(cells["x_m"] / block_m).astype(np.int64)
    cells["by"] = np.floor(cells["y_m"] / block_m).astype(np.int64)
    cells["wx"] = cells["x_m"] * cells["persons"]
    cells["wy"] = cells["y_m"] * cells["persons"]
    b = cells.groupby(["commune_code", "bx", "by"], sort=True)[["persons", "wx", "wy"]].sum() \
        .reset_index()
    b["x"], b["y"] = b["wx"] / b["persons"], b["wy"] / b["persons"]
    rows = []
    for code, g in b.groupby("commune_code", sort=True):
        g = g.reset_index(drop=True)
        keep = (g["persons"] >= min_persons).to_numpy().copy()
        keep[int(np.argmax(g["persons"].to_numpy()))] = True
        kx, ky = g.loc[keep, "x"].to_numpy(), g.loc[keep, "y"].to_numpy()
        persons = g.loc[keep, "persons"].to_numpy().copy()
        if (~keep).any():
            _, k = cKDTree(np.c_[kx, ky]).query(np.c_[g.loc[~keep, "x"], g.loc[~keep, "y"]])
            np.add.at(persons, k, g.loc[~keep, "persons"].to_numpy())
        for j in range(len(kx)):
            rows.append((f"raster-{code}-{j + 1}", code, kx[j], ky[j], persons[j]))
    df = pd.DataFrame(rows, columns=["village_id", "commune_code", "x", "y", "persons"])
    pts = gpd.GeoDataFrame(
        {"village_id": df["village_id"], "name": "settlement (population raster)",
         "commune_code": df["commune_code"],
         "households": np.round(df["persons"] / persons_per_household).astype(np.int64),
         "population": np.round(df["persons"]).astype(np.int64), "is_centre": False,
         "source": "population raster"},
        geometry=gpd.points_from_xy(df["x"], df["y"]), crs=settings.WORK_CRS
    ).to_crs(settings.STORE_CRS)
    notes = [f"settlement points derived from {source} (no villages given): {len(pts)} points, "
             f"one per {block_m:g} m square with ≥ {min_persons:g} persons (smaller squares join "
             f"the nearest), {float(df['persons'].sum()):,.0f} persons; households = persons / "
             f"{persons_per_household:g}"]
    return pts, notes
