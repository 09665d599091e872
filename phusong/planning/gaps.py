"""Gaps against the targets, per village, commune, district and province, on 2020 or 2025 units.

Indicators per village (bool): ``fibre`` (fibre within reach along roads), ``mobile_any``,
``mobile_broadband`` (any of the scenario's broadband techs, 4G/5G by default), ``mobile_{tech}``
and ``mobile_{tech}_{operator}`` (from :func:`phusong.coverage.score_villages`). Each unit table
sums them over ``households``, ``population`` and ``villages`` (columns ``{indicator}_{denom}``
and ``{indicator}_{denom}_pct``), counts commune centres with fibre (``fibre_communes``,
``fibre_communes_pct``) and adds, per target (:mod:`phusong.planning.targets`), the gap
``gap_…_pct = max(0, threshold − value)`` in percentage points and a ``meets_…`` flag. District
and province tables also count the communes meeting each target (``communes_meeting_…``).

Switch-offs
-----------
With ``year=`` every indicator counts only the technologies on air on 31 December of that year
(:mod:`phusong.planning.switchoff`: 2G ends in 2026, 3G in 2028): ``mobile_2G*`` / ``mobile_3G*``
turn False once switched off and ``mobile_any`` counts the techs still on air. The villages
table says which techs are off (``switched_off``, e.g. ``"2G;3G"``, empty when none) and whether
the village ``loses_service`` (some mobile coverage as scored, none on air that year); every unit
table sums ``villages_losing_service`` and ``households_losing_service`` (0 without a year).

Unknown is not uncovered
------------------------
A village whose scores say ``unknown`` (off the DEM, or not covered while a path to it was left
out for a long DEM void or an ITM error) keeps False mobile indicators but is flagged
``unknown`` in the villages table, and every unit table counts ``unknown_villages``,
``unknown_households`` and ``unknown_population`` so a reader can tell "not covered" from "not
known"; the JSON headline carries the province's three counts. The same holds for fibre:
a village whose fibre reach was not measured (``fibre`` NA: a plan stopped by its time limit
before the road graph was built) is ``fibre`` NA in the villages table, counted in
``fibre_unknown_villages`` / ``_households`` / ``_population`` (columns present only then), and
every unit holding one has NaN fibre figures (``fibre_*``, the fibre targets' gaps and
``communes_meeting_*``), never 0.

Boundary vintages
-----------------
``"2020"``: the 151 units of 2020 – 30 June 2025 (the bundle's communes).
``"2025"``: the 46 units of Phú Thọ from 1 July 2025 covering former Hòa Bình, through
:func:`phusong.communes.crosswalk_2025`. 148 units move whole. The three split units (Vầy Nưa,
Cao Sơn, Đồng Tân) are divided between their new units:

* **with a ``communes_2025`` layer** (polygons: written by the twin, or imported with
  ``--communes-2025``), each village of a split unit goes whole to the new unit whose polygon
  holds it (the nearest of its unit's parts when it lies in none), and the split unit's census,
  centre and fibre-commune count are divided as its villages' households are (by the crosswalk's
  ``share`` when it has no village households);
* **without one**, by households with the crosswalk's ``share`` (0.5 each part; no public
  figure splits them): every village of a split unit counts ``share`` of its households,
  population and itself in each new unit, and its centre the same fraction.

Unit tables may then hold fractional counts while the province totals are unchanged. The
villages table keeps one row per village with its unit (of the largest share without the layer;
``unit_code``, ``unit_share``). District level was abolished on 1 July 2025: the districts
table always uses the 10 former districts and their 2020 communes.

Commune centres and the census
------------------------------
A commune's centre follows :func:`phusong.planning.centres.commune_centres` (its flagged village,
else a POP inside it, else its village nearest the administrative centre, else that point), so
every commune has one, villages or not; ``centres`` counts communes (a split unit's share) and
``fibre_communes`` those whose centre is within reach of fibre (span or POP).

Every table lists **every** unit of its vintage (151 communes or 46 units, villages or not) with
the 2019 census of the communes layer (``census_households``, ``census_population``), what the
villages carry (``households``, ``population``), the census households and persons no village
represents (``households_unrepresented``, ``population_unrepresented``: per commune
``max(0, census − villages)``) and ``households_represented_pct``. Unrepresented households are
**unknown, not served**: the ``*_households_pct`` and ``*_population_pct`` figures divide by
``households + households_unrepresented`` (resp. population), so a 6 % sample can never read as
the province. A bundle whose villages carry the census (the twin) is unaffected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from phusong import settings
from phusong.atomic import atomic_path
from phusong.config import DEFAULT_SETTINGS, Settings
from phusong.crs import to_store
from phusong.errors import DataError, SchemaError
from phusong.planning import _plan_deps as deps
from phusong.planning.switchoff import check_year, losing_service, switch_off, switched_off_techs
from phusong.planning.targets import TargetColumns, target_columns
from phusong.settings import Target

__all__ = ["GapTables", "BOUNDARIES", "compute_gaps", "village_indicators", "GAP_FILES"]

BOUNDARIES = ("2020", "2025")
#: Files written by :meth:`GapTables.write`, by table.
GAP_FILES = {k: f"gaps_{k}.csv" for k in ("villages", "communes", "districts", "province")}
_DENOMS = ("households", "population", "villages")


@dataclass
class GapTables:
    """Gap tables of one boundary vintage (module doc).

    Attributes
    ----------
    villages, communes, districts, province : pandas.DataFrame
        One row per village / unit of the vintage / former district / the province.
    boundaries : str
        ``"2020"`` or ``"2025"``.
    targets : tuple of Target
        Targets the gaps are measured against.
    year : int or None
        Report year of the switch-offs (None: every technology counted).
    switched_off : tuple of str
        Technologies off air in ``year`` (empty without a year).
    settings : dict
        :meth:`phusong.config.Settings.record` of the run (values and where each came from),
        written to ``gaps.json``.
    """

    villages: pd.DataFrame
    communes: pd.DataFrame
    districts: pd.DataFrame
    province: pd.DataFrame
    boundaries: str
    targets: tuple[Target, ...]
    year: int | None = None
    switched_off: tuple[str, ...] = ()
    assumptions: tuple[str, ...] = ()
    settings: dict | None = None

    def headline(self) -> dict:
        """Province figures against each target, as plain data (the JSON report)."""
        row = self.province.iloc[0]
        out = {
            "boundaries": self.boundaries,
            "communes": int(row["communes"]),
            "households": float(row["households"]),
            "population": float(row["population"]),
            "villages": float(row["villages"]),
            "census_households": float(row["census_households"]),
            "census_population": float(row["census_population"]),
            "households_unrepresented": float(row["households_unrepresented"]),
            "households_represented_pct": _f(row["households_represented_pct"]),
            "assumptions": list(self.assumptions),
            "year": self.year,
            "switched_off": list(self.switched_off),
            "villages_losing_service": int(round(float(row["villages_losing_service"]))),
            "households_losing_service": float(row["households_losing_service"]),
            "unknown_villages": int(round(float(row["unknown_villages"]))),
            "unknown_households": float(row["unknown_households"]),
            "unknown_population": float(row["unknown_population"]),
            "figures_pct": {c: _f(row[c]) for c in self.province.columns if c.endswith("_pct")
                            and not c.startswith("gap_")},
            "targets": [],
            "settings": self.settings,
        }
        for c in target_columns(self.targets):
            t = c.target
            out["targets"].append({
                "indicator": t.indicator, "denominator": t.denominator,
                "threshold_pct": t.threshold_pct, "year": t.year, "origin": t.origin,
                "value_pct": _f(row[c.value]), "gap_pct": _f(row[c.gap]),
                "met": bool(row[c.meets]),
                "communes_meeting": int(row["communes_meeting_" + c.meets[6:]]),
            })
        return out

    def write(self, folder: str | Path) -> list[Path]:
        """Write ``gaps_{villages,communes,districts,province}.csv`` (UTF-8) into ``folder``.

        Each file is written atomically; existing gap files are replaced.
        """
        folder = Path(folder)
        paths = []
        for key, name in GAP_FILES.items():
            with atomic_path(folder / name) as tmp:
                getattr(self, key).to_csv(tmp, index=False, encoding="utf-8", float_format="%.10g")
            paths.append(folder / name)
        return paths

    def write_report(self, path: str | Path) -> Path:
        """Write :meth:`headline` as JSON (UTF-8, atomic)."""
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.headline(), ensure_ascii=False, indent=1),
                           encoding="utf-8")
        return Path(path)


def _f(x) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def _align(obj, ids: pd.Index, what: str) -> pd.DataFrame | pd.Series:
    if isinstance(obj, pd.DataFrame) and "village_id" in obj.columns:
        obj = obj.set_index("village_id")
    missing = ids.difference(obj.index)
    if len(missing):
        raise DataError(f"{what}: no row for village {missing[0]!r} ({len(missing)} missing); "
                        "compute it on the same bundle")
    return obj.reindex(ids)


def check_demand(villages) -> None:
    """Raise :class:`DataError` for no villages, or NaN / negative households or population."""
    if villages is None or len(villages) == 0:
        raise DataError("villages: empty demand — the bundle has no villages; add the villages layer")
    for col in ("households", "population"):
        if col not in villages.columns:
            raise SchemaError(f"villages: missing column {col!r}; it weighs the demand")
        v = pd.to_numeric(villages[col], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(v) | (v < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"villages: village {villages['village_id'].iloc[i]!r} has {col} "
                            f"{villages[col].iloc[i]!r} (NaN or negative weight); fix the value")
    if float(pd.to_numeric(villages["households"]).sum()) <= 0:
        raise DataError("villages: empty demand — every village has 0 households; nothing to plan")


def village_indicators(village_cov: pd.DataFrame, fibre: pd.Series, *,
                       broadband_techs=("4G", "5G")) -> pd.DataFrame:
    """Bool indicators per village: fibre, mobile_any, mobile_broadband, mobile_{tech}[_{op}].

    Parameters
    ----------
    village_cov : DataFrame
        :func:`score_villages` output (``covered_*`` columns), indexed like ``fibre``.
    fibre : Series of bool
        Fibre within reach.
    broadband_techs : sequence of str
        Techs counted as mobile broadband.
    """
    out = {"fibre": fibre.astype(bool).to_numpy()}
    present = [t for t in settings.TECHS if f"covered_{t}" in village_cov.columns]
    if not present:
        raise SchemaError("village coverage: no covered_<tech> column; pass score_villages output")
    n = len(fibre)
    # score_villages has columns only for the technologies the bundle's cells carry: a missing
    # technology (e.g. 5G in the 2022 baseline) covers nobody
    techs = list(settings.TECHS)
    cov = {t: (village_cov[f"covered_{t}"].fillna(False).astype(bool).to_numpy()
               if t in present else np.zeros(n, bool)) for t in techs}
    if "covered_any" in village_cov.columns:
        out["mobile_any"] = village_cov["covered_any"].fillna(False).astype(bool).to_numpy()
    else:
        out["mobile_any"] = np.logical_or.reduce([cov[t] for t in present])
    out["mobile_broadband"] = np.logical_or.reduce(
        [cov[t] for t in broadband_techs if t in cov] or [np.zeros(n, bool)])
    for t in techs:
        out[f"mobile_{t}"] = cov[t]
        for op in settings.OPERATORS:
            col = f"covered_{t}_{op}"
            if col in village_cov.columns:
                out[f"mobile_{t}_{op}"] = village_cov[col].fillna(False).astype(bool).to_numpy()
    return pd.DataFrame(out, index=fibre.index)


def _commune_frame(bundle, v: pd.DataFrame, fibre: pd.Series, reach_m: float) -> pd.DataFrame:
    """Per commune (bundle order): census, unrepresented households/persons, centre, its fibre."""
    from phusong.planning.centres import centre_fibre, commune_centres

    com = bundle.communes.reset_index(drop=True)
    centres = commune_centres(bundle)
    sums = v.groupby("commune_code")[["households", "population"]].sum()
    hh_v = sums["households"].reindex(com["commune_code"]).fillna(0.0).to_numpy(float)
    pop_v = sums["population"].reindex(com["commune_code"]).fillna(0.0).to_numpy(float)
    c_hh = pd.to_numeric(com["households"]).to_numpy(float)
    c_pop = pd.to_numeric(com["population"]).to_numpy(float)
    return pd.DataFrame({
        "commune_code": com["commune_code"].to_numpy(),
        "district_code": com["district_code"].to_numpy(),
        "census_households": c_hh, "census_population": c_pop,
        "households_unrepresented": np.maximum(0.0, c_hh - hh_v),
        "population_unrepresented": np.maximum(0.0, c_pop - pop_v),
        "centres": 1.0,
        "fibre_communes": centre_fibre(bundle, centres, fibre, reach_m=reach_m).astype(float),
    }).assign(_vid=centres["village_id"].to_numpy())


_COMMUNE_SUMS = ("census_households", "census_population", "households_unrepresented",
                 "population_unrepresented", "centres", "fibre_communes")


def _commune_member(cf: pd.DataFrame, level: str) -> pd.DataFrame:
    """Rows (commune position, unit_code, weight) of ``level``: 2020, 2025, district, province."""
    pos = np.arange(len(cf))
    if level == "2020":
        return pd.DataFrame({"pos": pos, "unit_code": cf["commune_code"], "weight": 1.0})
    if level == "district":
        return pd.DataFrame({"pos": pos, "unit_code": cf["district_code"], "weight": 1.0})
    if level == "province":
        return pd.DataFrame({"pos": pos, "unit_code": settings.PROVINCE_CODE, "weight": 1.0})
    return _membership(cf, "2025")


def _by_villages(cf: pd.DataFrame, member: pd.DataFrame, codes, households) -> pd.DataFrame:
    """2025 rows (commune position, unit_code, weight) of the commune frame, a split commune's
    census divided as its villages' households are (``member``: villages placed by the
    ``communes_2025`` layer); a split commune without village households keeps the crosswalk's
    shares."""
    m = _membership(cf, "2025")
    m["commune_code"] = cf["commune_code"].to_numpy()[m["pos"].to_numpy()]
    pos = member["pos"].to_numpy()
    vm = pd.DataFrame({"commune_code": np.asarray(codes)[pos], "unit_code": member["unit_code"],
                       "hh": np.asarray(households, float)[pos] * member["weight"].to_numpy()})
    by = vm.groupby(["commune_code", "unit_code"])["hh"].sum()
    total = vm.groupby("commune_code")["hh"].sum().reindex(m["commune_code"]).to_numpy()
    part = by.reindex(pd.MultiIndex.from_arrays([m["commune_code"], m["unit_code"]])).fillna(
        0.0).to_numpy()
    use = m["pos"].duplicated(keep=False).to_numpy() & (np.nan_to_num(total) > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        m["weight"] = np.where(use, part / total, m["weight"].to_numpy(float))
    return m[["pos", "unit_code", "weight"]]


def _with_communes(t: pd.DataFrame, cf: pd.DataFrame, level: str,
                   member: pd.DataFrame | None = None) -> pd.DataFrame:
    """``t`` with the commune sums of ``level`` (module doc) in place of village-based ones
    (``member``: the commune frame's rows, default :func:`_commune_member`)."""
    m = _commune_member(cf, level) if member is None else member
    vals = cf[list(_COMMUNE_SUMS)].to_numpy(float)[m["pos"].to_numpy()] * \
        m["weight"].to_numpy(float)[:, None]
    sums = pd.DataFrame(vals, columns=list(_COMMUNE_SUMS)).groupby(
        m["unit_code"].to_numpy(), sort=True).sum()
    t = t.drop(columns=[c for c in _COMMUNE_SUMS if c in t.columns])
    index = t.index.union(sums.index).rename(t.index.name)
    t = t.reindex(index, fill_value=0.0)
    t = pd.concat([t, sums.reindex(index, fill_value=0.0)], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ch = t["census_households"].to_numpy(float)
        t["households_represented_pct"] = np.where(
            ch > 0, 100.0 * np.minimum(t["households"].to_numpy(float), ch) / ch, np.nan)
    first = ["households", "population", "villages", "census_households", "census_population",
             "households_unrepresented", "population_unrepresented", "households_represented_pct",
             "centres", "fibre_communes"]
    return t[first + [c for c in t.columns if c not in first]]


def _membership(villages: pd.DataFrame, boundaries: str, layer=None) -> pd.DataFrame:
    """Rows (village position, unit_code, weight) of the vintage.

    On the 2025 boundaries a village of a commune the crosswalk splits between several units
    belongs to the unit of ``layer`` (the bundle's ``communes_2025`` polygons) that holds it,
    whole (weight 1; the nearest of its commune's units when it lies in none, e.g. on a
    border); without a layer, or for rows without geometry (the commune frame), it is
    apportioned by the crosswalk's shares.
    """
    pos = np.arange(len(villages))
    codes = villages["commune_code"].to_numpy()
    if boundaries == "2020":
        return pd.DataFrame({"pos": pos, "unit_code": codes, "weight": 1.0})
    from phusong.communes import crosswalk_2025

    cw = crosswalk_2025()
    unknown = sorted(set(codes) - set(cw["commune_code"]))
    if unknown:
        raise DataError(f"boundaries 2025: commune {unknown[0]!r} is not in the 2025 crosswalk "
                        f"({len(unknown)} unknown); use --boundaries 2020 for this bundle")
    m = pd.DataFrame({"pos": pos, "commune_code": codes}).merge(
        cw[["commune_code", "unit_code", "share"]], on="commune_code", how="left")
    m = m.rename(columns={"share": "weight"})[["pos", "unit_code", "weight"]]
    if layer is None or "geometry" not in villages.columns or m["pos"].is_unique:
        return m
    return _split_by_layer(villages, m, layer)


def _split_by_layer(villages, m: pd.DataFrame, layer) -> pd.DataFrame:
    """``m`` with each split village given whole to the layer's unit nearest it (0 m: inside)
    among its commune's units; ties go to the unit listed first by the crosswalk."""
    import shapely

    from phusong.crs import to_work

    split = m["pos"].duplicated(keep=False).to_numpy()
    rows = m[split].reset_index(drop=True)
    polys = to_work(layer, "communes_2025").assign(
        unit_code=layer["unit_code"].astype(str).to_numpy()).set_index("unit_code").geometry
    missing = sorted(set(rows["unit_code"]) - set(polys.index))
    if missing:
        raise DataError(f"communes_2025: unit {missing[0]!r} of the 2025 crosswalk has no "
                        f"polygon ({len(missing)} missing); import the full layer "
                        "(--communes-2025) or drop it to apportion split communes by share")
    pts = to_work(villages, "villages").geometry.to_numpy()
    d = shapely.distance(pts[rows["pos"].to_numpy()],
                         polys[~polys.index.duplicated()].reindex(rows["unit_code"]).to_numpy())
    best = rows.assign(_d=d).groupby("pos", sort=False)["_d"].idxmin()
    whole = rows.loc[best.to_numpy(), ["pos", "unit_code"]].assign(weight=1.0)
    return pd.concat([m[~split], whole]).sort_values("pos", kind="stable").reset_index(drop=True)


def _sum_table(ind: pd.DataFrame, base: pd.DataFrame, member: pd.DataFrame) -> pd.DataFrame:
    """Weighted sums of counts per unit and the percentage columns."""
    hh = base["households"].to_numpy(float)
    pop = base["population"].to_numpy(float)
    cols = {"households": hh, "population": pop, "villages": np.ones(len(base))}
    for name in ind.columns:
        x = ind[name].to_numpy(float)
        cols[f"{name}_households"] = hh * x
        cols[f"{name}_population"] = pop * x
        cols[f"{name}_villages"] = x
    unknown = base["_unknown"].to_numpy(float)
    cols["unknown_villages"] = unknown
    cols["unknown_households"] = hh * unknown
    cols["unknown_population"] = pop * unknown
    loses = base["_loses"].to_numpy(float)
    cols["villages_losing_service"] = loses
    cols["households_losing_service"] = hh * loses
    vals = pd.DataFrame(cols)
    w = member["weight"].to_numpy(float)[:, None]
    rows = pd.DataFrame(vals.to_numpy()[member["pos"].to_numpy()] * w, columns=vals.columns)
    rows["unit_code"] = member["unit_code"].to_numpy()
    return rows.groupby("unit_code", sort=True).sum()


def _add_pct(t: pd.DataFrame, indicators) -> pd.DataFrame:
    new = {}
    dens = {"households": t["households"] + t["households_unrepresented"],
            "population": t["population"] + t["population_unrepresented"],
            "villages": t["villages"]}
    with np.errstate(divide="ignore", invalid="ignore"):
        for name in indicators:
            for d in _DENOMS:
                den = dens[d].to_numpy(float)
                new[f"{name}_{d}_pct"] = np.where(den > 0, 100.0 * t[f"{name}_{d}"] / den, np.nan)
        cen = t["centres"].to_numpy(float)
        new["fibre_communes_pct"] = np.where(cen > 0, 100.0 * t["fibre_communes"] / cen, np.nan)
    out = pd.concat([t, pd.DataFrame(new, index=t.index)], axis=1)
    return _fibre_not_known(out)


def _fibre_not_known(t: pd.DataFrame) -> pd.DataFrame:
    """A unit with a village whose fibre reach was not measured (``fibre_unknown_villages`` >
    0, a plan's time limit) has no fibre figure: its ``fibre_*`` counts and percentages are NaN
    (so the fibre targets' gaps too), not 0; a unit without such a village is unchanged."""
    if "fibre_unknown_villages" not in t.columns:
        return t
    unk = t["fibre_unknown_villages"].to_numpy(float) > 0
    cols = [c for c in t.columns if c.startswith("fibre_") and not c.startswith("fibre_unknown")]
    for c in cols:
        t[c] = t[c].astype(float).where(~unk, np.nan)
    return t


def _meeting_not_known(t: pd.DataFrame, cols: list[TargetColumns]) -> pd.DataFrame:
    """``communes_meeting_*`` of a fibre target NaN where some village's fibre is unknown."""
    if "fibre_unknown_villages" not in t.columns:
        return t
    unk = t["fibre_unknown_villages"].to_numpy(float) > 0
    for c in cols:
        key = "communes_meeting_" + c.meets[6:]
        if c.target.indicator.startswith("fibre") and key in t.columns:
            t[key] = t[key].astype(float).where(~unk, np.nan)
    return t


def _add_gaps(t: pd.DataFrame, cols: list[TargetColumns]) -> pd.DataFrame:
    new = {}
    for c in cols:
        if c.value not in t.columns:
            raise DataError(f"target {c.target.indicator!r}: the village coverage has no such "
                            "column; score every technology and operator")
        v = t[c.value].to_numpy(float)
        new[c.gap] = np.where(np.isfinite(v), np.maximum(0.0, c.target.threshold_pct - v), np.nan)
        new[c.meets] = np.isfinite(v) & (v >= c.target.threshold_pct - 1e-9)
    return pd.concat([t, pd.DataFrame(new, index=t.index)], axis=1)


def _meeting(units: pd.DataFrame, group, cols: list[TargetColumns]) -> pd.DataFrame:
    key = units[group].to_numpy()
    d = {"communes": units.groupby(key).size()}
    for c in cols:
        d["communes_meeting_" + c.meets[6:]] = units[c.meets].groupby(key).sum().astype(int)
    return pd.DataFrame(d)


def compute_gaps(bundle, village_cov: pd.DataFrame | None = None, *, boundaries: str = "2020",
                 targets=None, fibre: pd.Series | None = None,
                 model: str = settings.DEFAULT_MODEL, reach_m: float = settings.FIBRE_REACH_M,
                 broadband_techs=("4G", "5G"), year: int | None = None,
                 config: Settings = DEFAULT_SETTINGS) -> GapTables:
    """Gap tables of ``bundle`` against ``targets`` (module doc).

    Parameters
    ----------
    bundle : phusong.bundle.Bundle
        Needs ``communes`` and ``villages``.
    village_cov : DataFrame, optional
        :func:`phusong.coverage.score_villages` output; computed with ``model`` when omitted.
    boundaries : {"2020", "2025"}
        Boundary vintage of the communes table.
    targets : sequence of Target, optional
        Targets to measure (default ``config.targets``).
    fibre : Series of bool, optional
        Fibre within reach per village (:func:`phusong.network.reach.fibre_available`);
        computed with ``reach_m`` when omitted. A missing value (NA) is a village whose reach
        was not measured (a plan's time limit): the tables count it in ``fibre_unknown_*``
        and the fibre figures of its units are NaN, not 0 (module doc).
    model : str
        Propagation model when ``village_cov`` is computed here.
    reach_m : float
        Fibre reach along roads, m, when ``fibre`` is computed here.
    broadband_techs : sequence of str
        Techs counted as mobile broadband.
    year : int, optional
        Report year (31 December) of the 2G/3G switch-offs (module doc); None (default)
        counts every technology as scored.
    config : phusong.config.Settings
        The run's settings: targets when not given, and thresholds etc. when ``village_cov`` is
        computed here; recorded in the tables (``gaps.json``).

    Returns
    -------
    GapTables
    """
    targets = config.targets if targets is None else targets
    boundaries = str(boundaries)
    if boundaries not in BOUNDARIES:
        raise DataError(f"boundaries {boundaries!r}: use 2020 (151 units) or 2025 (46 units)")
    cols = target_columns(targets)
    year = check_year(year)
    villages = bundle.villages
    check_demand(villages)
    if bundle.communes is None or len(bundle.communes) == 0:
        raise DataError("communes: the bundle has no communes layer; every bundle needs one")
    ids = pd.Index(villages["village_id"].astype(str), name="village_id")
    if village_cov is None:
        village_cov = deps.score_villages(bundle, model=model, config=config)
    village_cov = _align(village_cov.set_axis(village_cov.index.astype(str))
                         if "village_id" not in village_cov.columns else village_cov,
                         ids, "village coverage")
    if fibre is None:
        fibre = deps.fibre_available(bundle, reach_m=reach_m)
    fibre = _align(pd.Series(fibre).set_axis(pd.Index(fibre.index).astype(str)), ids, "fibre")
    fibre_unknown = fibre.isna().to_numpy()  # not measured (a plan's time limit): not "no fibre"
    fibre = fibre.astype(object).where(~fibre_unknown, False).astype(bool)
    on_air = switch_off(village_cov, year)
    ind = village_indicators(on_air, fibre, broadband_techs=broadband_techs)
    if fibre_unknown.any():
        ind["fibre_unknown"] = fibre_unknown
    v = villages.reset_index(drop=True)
    base = pd.DataFrame({"households": pd.to_numeric(v["households"]).to_numpy(float),
                         "population": pd.to_numeric(v["population"]).to_numpy(float),
                         "_loses": losing_service(village_cov, on_air).to_numpy(),
                         "_unknown": _unknown(village_cov)})
    cf = _commune_frame(bundle, base.assign(commune_code=v["commune_code"].to_numpy()), fibre,
                        reach_m)
    base["_centre"] = v["village_id"].astype(str).isin(set(cf["_vid"].dropna())).to_numpy()
    communes = pd.DataFrame(bundle.communes.drop(columns="geometry", errors="ignore"))
    communes = communes.set_index("commune_code", drop=False)

    # 2020 communes (always: the districts table counts them)
    m20 = _membership(v, "2020")
    t20 = _with_communes(_sum_table(ind, base, m20), cf, "2020").reindex(communes.index)
    t20 = _add_gaps(_add_pct(t20, ind.columns), cols)
    t20.insert(0, "district_name", communes["district_name"])
    t20.insert(0, "district_code", communes["district_code"])
    t20.insert(0, "type", communes["type"])
    t20.insert(0, "name", communes["name"])
    t20.insert(0, "commune_code", communes["commune_code"])
    t20.index.name = "unit_code"

    if boundaries == "2020":
        units = t20.reset_index()
        member = m20
    else:
        layer = bundle.communes_2025  # polygons: split communes go by the villages' places
        if layer is None or not len(layer) or not set(layer.geom_type) <= {"Polygon",
                                                                          "MultiPolygon"}:
            layer = None
        member = _membership(v, "2025", layer)
        from phusong.communes import crosswalk_2025

        cw = crosswalk_2025().drop_duplicates("unit_code").set_index("unit_code")
        cmember = None if layer is None else _by_villages(
            cf, member, v["commune_code"].to_numpy(), base["households"].to_numpy())
        t25 = _add_gaps(_add_pct(_with_communes(_sum_table(ind, base, member), cf, "2025",
                                                cmember), ind.columns), cols)
        t25.insert(0, "type", cw["unit_type"].reindex(t25.index))
        t25.insert(0, "name", cw["unit_name"].reindex(t25.index))
        units = t25.reset_index()

    # districts: former districts, villages summed, 2020 communes counted
    dist_member = pd.DataFrame({"pos": np.arange(len(v)), "weight": 1.0,
                                "unit_code": communes["district_code"].reindex(
                                    v["commune_code"]).to_numpy()})
    dcodes = pd.Index(sorted(communes["district_code"].unique()), name="district_code")
    dt = _with_communes(_sum_table(ind, base, dist_member), cf, "district").reindex(dcodes)
    dt = _add_gaps(_add_pct(dt, ind.columns), cols)
    dt = _meeting_not_known(pd.concat(
        [_meeting(t20, "district_code", cols).reindex(dcodes, fill_value=0), dt], axis=1), cols)
    names = communes.drop_duplicates("district_code").set_index("district_code")["district_name"]
    dt.insert(0, "district_name", names.reindex(dcodes))
    districts = dt.reset_index()

    # province
    prov_member = pd.DataFrame({"pos": np.arange(len(v)), "weight": 1.0,
                                "unit_code": settings.PROVINCE_CODE})
    pt = _add_gaps(_add_pct(_with_communes(_sum_table(ind, base, prov_member), cf, "province"),
                            ind.columns), cols)
    units["_p"] = settings.PROVINCE_CODE
    pt = _meeting_not_known(pd.concat([_meeting(units, "_p", cols).reindex(pt.index), pt],
                                      axis=1), cols)
    units = units.drop(columns="_p")
    pt.insert(0, "boundaries", boundaries)
    pt.insert(0, "province_name", settings.PROVINCE_NAME)
    pt.index.name = "province_code"
    province = pt.reset_index()

    off = switched_off_techs(year)
    vt = _village_table(v, ind, base, member).assign(switched_off=";".join(off),
                                                      loses_service=base["_loses"].to_numpy(),
                                                      unknown=base["_unknown"].to_numpy())
    if fibre_unknown.any():  # not measured: neither True nor False
        vt["fibre"] = vt["fibre"].astype("boolean").mask(fibre_unknown)
    from phusong.planning.centres import fibre_assumption

    label = fibre_assumption(bundle)
    return GapTables(vt, units, districts, province, boundaries, tuple(c.target for c in cols),
                     year, off, (label,) if label else (), config.record())


def _unknown(village_cov: pd.DataFrame) -> np.ndarray:
    """Villages whose mobile coverage is unknown (scores' ``unknown``; False when absent)."""
    if "unknown" not in village_cov.columns:
        return np.zeros(len(village_cov), bool)
    return village_cov["unknown"].fillna(True).astype(bool).to_numpy()


def _village_table(v, ind, base, member) -> pd.DataFrame:
    first = member.sort_values(["pos", "weight"], ascending=[True, False],
                               kind="stable").drop_duplicates("pos").set_index("pos")
    pts = to_store(v, "villages") if hasattr(v, "geometry") and "geometry" in v.columns else None
    out = pd.DataFrame({"village_id": v["village_id"].astype(str).to_numpy()})
    if "name" in v.columns:
        out["name"] = v["name"].to_numpy()
    out["commune_code"] = v["commune_code"].to_numpy()
    out["unit_code"] = first["unit_code"].reindex(np.arange(len(v))).to_numpy()
    out["unit_share"] = first["weight"].reindex(np.arange(len(v))).to_numpy()
    out["households"] = base["households"].to_numpy()
    out["population"] = base["population"].to_numpy()
    out["is_centre"] = base["_centre"].to_numpy(bool)
    if pts is not None:
        out["lon"] = pts.geometry.x.to_numpy()
        out["lat"] = pts.geometry.y.to_numpy()
    for name in ind.columns:
        out[name] = ind[name].to_numpy()
    return out
