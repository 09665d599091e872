"""A tiny synthetic province, plan folder and gap tables for examples and tests of the outputs.

Four communes in two districts near Hòa Bình city, twelve villages, four sites, two fibre
spans, three roads; a plan with four candidate BTS and two fibre routes. All synthetic.

Examples
--------
>>> from phusong.maps._example import example_bundle, example_gaps
>>> b = example_bundle()
>>> len(b.communes), len(b.villages), b.synthetic
(4, 12, True)
>>> sorted(example_gaps(b)["communes"].columns)[:3]
['fibre_households_pct', 'gap_fibre_2025_pct', 'households']
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import LineString, Point, box

from phusong.atomic import atomic_dir
from phusong.bundle import Bundle, Provenance, fingerprint, validate
from phusong.gpkg import write_gpkg

__all__ = ["example_bundle", "example_gaps", "write_example_plan", "XSS", "EXAMPLE_SCENARIO"]

#: A hostile name used to test escaping.
XSS = "<script>alert(1)</script>"


def example_bundle(*, hostile: bool = False, name: str = "example") -> Bundle:
    """A validated 4-commune synthetic bundle; ``hostile`` names one commune and site :data:`XSS`."""
    c_names = ["Phường Tân Hòa", "Xã Hòa Bình", "Xã Đồng Tâm", "Xã Ngọc Lương"]
    if hostile:
        c_names[2] = XSS
    communes = gpd.GeoDataFrame(
        {
            "commune_code": ["04792", "04795", "05107", "05110"],
            "name": c_names,
            "type": ["Phường", "Xã", "Xã", "Xã"],
            "district_code": ["148", "148", "159", "159"],
            "district_name": ["Thành phố Hòa Bình"] * 2 + ["Huyện Lạc Thủy"] * 2,
            "population": [6958, 5200, 7400, 6100],
            "households": [1900, 1350, 1900, 1600],
        },
        geometry=[box(105.30 + 0.05 * i, 20.80, 105.35 + 0.05 * i, 20.85) for i in range(4)],
        crs="EPSG:4326",
    )
    rng = np.random.default_rng(7)
    rows, geoms = [], []
    for ci, code in enumerate(communes["commune_code"]):
        for k in range(3):
            hh = int(rng.integers(80, 500))
            rows.append({"village_id": f"{code}-{k + 1:02d}", "commune_code": code,
                         "name": f"Xóm Đồi {ci + 1}.{k + 1}", "households": hh,
                         "population": int(hh * 3.8), "is_centre": k == 0})
            geoms.append(Point(105.31 + 0.05 * ci + 0.012 * k, 20.81 + 0.01 * k))
    villages = gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326")
    site_names = ["HBH001", "HBH002", XSS if hostile else "LTY001", "LTY002"]
    sites = gpd.GeoDataFrame(
        {"site_id": site_names, "operator": ["Viettel", "VNPT", "MobiFone", "Viettel"],
         "height_m": [30.0, 36.0, 30.0, 42.0]},
        geometry=[Point(105.32, 20.82), Point(105.37, 20.83), Point(105.41, 20.82),
                  Point(105.46, 20.84)],
        crs="EPSG:4326",
    )
    cells = pd.DataFrame(
        {"cell_id": [f"{s}-{t}" for s, t in zip(site_names * 2, ["2G"] * 4 + ["4G"] * 4, strict=True)],
         "site_id": site_names * 2, "tech": ["2G"] * 4 + ["4G"] * 4,
         "freq_mhz": [947.5] * 4 + [1842.5] * 4, "eirp_dbm": [57.0] * 8}
    )
    fibre = gpd.GeoDataFrame(
        {"span_id": ["F1", "F2"], "kind": ["backbone", "access"]},
        geometry=[LineString([(105.30, 20.82), (105.40, 20.82)]),
                  LineString([(105.40, 20.82), (105.42, 20.84)])],
        crs="EPSG:4326",
    )
    roads = gpd.GeoDataFrame(
        {"road_id": ["R1", "R2", "R3"], "road_class": ["national", "district", "commune"],
         "cost_factor": [1.0, 1.2, 1.5]},
        geometry=[LineString([(105.30, 20.82), (105.50, 20.82)]),
                  LineString([(105.40, 20.82), (105.42, 20.84)]),
                  LineString([(105.42, 20.84), (105.48, 20.84)])],
        crs="EPSG:4326",
    )
    prov = {k: Provenance("phusong.maps._example (tiny synthetic fixture)", "CC0", synthetic=True)
            for k in ("communes", "villages", "sites", "cells", "fibre", "roads")}
    layers = {"communes": communes, "villages": villages, "sites": sites, "cells": cells,
              "fibre": fibre, "roads": roads}
    return validate(Bundle(name, layers, {}, prov))


def example_gaps(bundle: Bundle) -> dict[str, pd.DataFrame]:
    """Gap tables (communes, districts, province, villages) of ``bundle``, from a fixed rule:
    a village has 2G within 4 km of a site, 4G within 2.5 km, fibre within 1 km of a span."""
    v = bundle.villages.to_crs("EPSG:32648")
    sites = bundle.sites.to_crs("EPSG:32648").geometry.union_all()
    fibre = bundle.fibre.to_crs("EPSG:32648").geometry.union_all()
    vil = pd.DataFrame({
        "village_id": v["village_id"], "commune_code": v["commune_code"],
        "households": v["households"], "population": v["population"],
        "covered_2G": v.geometry.distance(sites) < 4000.0,
        "covered_4G": v.geometry.distance(sites) < 2500.0,
        "covered_5G": False,
        "fibre_available": v.geometry.distance(fibre) < 1000.0,
    })
    vil["covered_any"] = vil["covered_2G"] | vil["covered_4G"]

    def agg(df: pd.DataFrame) -> pd.Series:
        hh, pop = df["households"].sum(), df["population"].sum()
        fib = 100.0 * df.loc[df["fibre_available"], "households"].sum() / hh
        return pd.Series({
            "households": hh, "population": pop, "villages": len(df),
            "fibre_households_pct": fib,
            "mobile_4G_population_pct": 100.0 * df.loc[df["covered_4G"], "population"].sum() / pop,
            "mobile_5G_population_pct": 100.0 * df.loc[df["covered_5G"], "population"].sum() / pop,
            "mobile_any_villages_pct": 100.0 * df["covered_any"].mean(),
            "gap_fibre_2025_pct": max(0.0, 80.0 - fib),
        })

    c = bundle.communes.set_index("commune_code")
    com = vil.groupby("commune_code").apply(agg, include_groups=False).reset_index()
    com = com.rename(columns={"commune_code": "unit_code"})
    com.insert(1, "name", c.loc[com["unit_code"], "name"].to_numpy())
    vil["district_code"] = c.loc[vil["commune_code"], "district_code"].to_numpy()
    dis = vil.groupby("district_code").apply(agg, include_groups=False).reset_index()
    names = bundle.communes.drop_duplicates("district_code").set_index("district_code")
    dis.insert(1, "name", names.loc[dis["district_code"], "district_name"].to_numpy())
    prov = agg(vil).to_frame().T
    prov.insert(0, "name", "Hòa Bình")
    for df in (com, dis, prov):
        for col in ("households", "population", "villages"):
            df[col] = df[col].astype("int64")
    return {"communes": com, "districts": dis, "province": prov,
            "villages": vil.drop(columns="district_code")}


#: The scenario an example plan records (``plan.json["scenario"]``): unit costs and a fibre
#: target that differ from the settings' defaults, so that a briefing showing them shows the
#: scenario's, not the defaults.
EXAMPLE_SCENARIO = {
    "name": "Ví dụ / example", "source": "example.toml", "objective": "budget", "model": "itm",
    "years": [2025], "carry_over": True, "time_limit_s": 10.0,
    "budgets": {"2025": {"fibre_vnd": 3_000_000_000.0, "mobile_vnd": 9_000_000_000.0}},
    "costs": {"new_site_vnd": 4_100_000_000.0, "upgrade_site_vnd": 1_020_000_000.0,
              "fibre_aerial_vnd_per_km": 127_500_000.0, "fibre_buried_vnd_per_km": 331_500_000.0,
              "ftth_vnd_per_home": 17_850_000.0, "usd_vnd": 25_500.0},
    "planning_costs": {"power_line_vnd_per_km": 382_500_000.0, "sharing_markup": 0.35},
    "rules": {"low_band_5g": "n28", "new_site_tech": "5G"},
    "bands_5g": {"Viettel": "n41", "VNPT": "n78", "MobiFone": "n78", "shared": "n28"},
    "targets": [
        {"indicator": "fibre_available", "denominator": "households", "threshold_pct": 85.0,
         "year": 2025, "origin": "example scenario"},
        {"indicator": "mobile_4G", "denominator": "population", "threshold_pct": 100.0,
         "year": 2025, "origin": "Plan 785"},
        {"indicator": "mobile_5G", "denominator": "population", "threshold_pct": 99.0,
         "year": 2030, "origin": "QĐ 805/QĐ-TTg"},
    ],
}


def write_example_plan(bundle: Bundle, out: str | Path, *, overwrite: bool = False,
                       fingerprint_of: Bundle | None = None) -> Path:
    """Write a plan folder for ``bundle`` per the contract (plan.json, plan.gpkg, gaps_*.csv).

    ``fingerprint_of`` records another bundle's fingerprint (to test mismatch detection).
    """
    gaps = example_gaps(bundle)
    sites = gpd.GeoDataFrame(
        {"candidate_id": ["C001", "C002", "C003", "C004"],
         "kind": ["new", "new", "upgrade", "new"],
         "operator": ["Viettel", "VNPT", "MobiFone", "Viettel"],
         "tech": ["4G", "4G", "5G", "4G"],
         "commune_code": ["05110", "05107", "04795", "04792"],
         "name": ["Trạm mới Ngọc Lương", "Trạm mới Đồng Tâm", "Nâng cấp Hòa Bình",
                  "Trạm dự phòng Tân Hòa"],
         "cost_vnd": [3_825_000_000.0, 3_825_000_000.0, 1_020_000_000.0, 3_825_000_000.0],
         "households_new": [420, 310, 150, 0], "population_new": [1600, 1180, 570, 0],
         "selected": [True, True, True, False], "rank": [1, 2, 3, 0]},
        geometry=[Point(105.47, 20.83), Point(105.42, 20.81), Point(105.37, 20.84),
                  Point(105.31, 20.83)],
        crs="EPSG:4326",
    )
    routes = gpd.GeoDataFrame(
        {"route_id": ["R001", "R002"], "road_class": ["commune", "national"],
         "length_m": [6250.0, 5200.0], "cost_vnd": [2_390_000_000.0, 1_330_000_000.0],
         "purpose": ["Kéo cáp quang đến UBND xã", "backhaul C001"],
         "households_passed": [640, 380]},
        geometry=[LineString([(105.42, 20.84), (105.48, 20.84)]),
                  LineString([(105.42, 20.82), (105.47, 20.82), (105.47, 20.83)])],
        crs="EPSG:4326",
    )
    meta = {
        "bundle_name": bundle.name,
        "bundle_fingerprint": fingerprint(fingerprint_of or bundle),
        "synthetic": bundle.synthetic,
        "scenario": EXAMPLE_SCENARIO,
        "budgets_vnd": {"mobile": 9_000_000_000, "fibre": 3_000_000_000},
        "totals": {"sites_selected": 3, "cost_vnd": float(sites.loc[sites.selected, "cost_vnd"]
                                                           .sum() + routes.cost_vnd.sum()),
                   "households_new": 880},
        "years": [{"year": 2025, "sites": 3, "cost_vnd": 8_670_000_000.0,
                   "budget_vnd": {"mobile": 9_000_000_000.0, "fibre": 3_000_000_000.0},
                   "spent_vnd": {"mobile": 8_670_000_000.0, "fibre": 3_720_000_000.0},
                   "new_sites": 2, "upgrades_5G": 1, "fibre_km": 11.45,
                   "province_pct": {"fibre_households_pct": 41.0},
                   "missed_targets": [
                       {"indicator": "fibre_available", "denominator": "households",
                        "threshold_pct": 85.0, "year": 2025, "value_pct": 41.0,
                        "shortfall_pct": 44.0, "reachable_pct": 100.0, "binds": ["budget"],
                        "solver_gaps": {"public-utility BTS": 0.0, "5G": 0.004}}]}],
        "cost_curves": {
            "year": 2025, "from": "the network at the start of 2025",
            "mobile_4G_population": {"denominator": "population", "points": [
                {"pct": p, "reachable": p < 100, "cost_vnd": c, "lower_bound_vnd": c,
                 "gap": 0.0, "covered_pct": min(p, 99.2) if p < 100 else None,
                 "marginal_vnd_per_household": None, "method": "set covering (milp, optimal)",
                 "census_pct": p}
                for p, c in ((90.0, 3.825e9), (95.0, 7.65e9), (99.0, 1.53e10),
                             (100.0, None))],
                "summary": {"text": "100 % is out of reach: at most 99.2 %"}},
            "fibre_households": {"denominator": "households", "points": [
                {"pct": p, "reachable": True, "cost_vnd": c, "lower_bound_vnd": None,
                 "gap": None, "covered_pct": p, "marginal_vnd_per_household": None,
                 "method": "steiner + reverse greedy pruning", "census_pct": p}
                for p, c in ((90.0, 2.0e10), (95.0, 2.6e10), (100.0, 3.9e10))],
                "summary": {"text": "100 % costs 39 bn VND"}},
        },
    }
    with atomic_dir(out, overwrite=overwrite) as tmp:
        write_gpkg(sites, tmp / "plan.gpkg", layer="candidate_sites")
        write_gpkg(routes, tmp / "plan.gpkg", layer="fibre_routes")
        (tmp / "plan.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1),
                                       encoding="utf-8")
        for key, df in gaps.items():
            df.to_csv(tmp / f"gaps_{key}.csv", index=False, encoding="utf-8")
    return Path(out)
