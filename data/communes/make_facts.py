"""Produce the commune fact tables of data/communes/ (run by hand; output is committed).

Facts only (codes, names, counts, figures), never geometry:

- codes, names, types, districts, centroids and bounding boxes of the 151 units (2020–2025):
  PyPI ``vietnamadminunits`` 1.0.4 (MIT), table ``admin_units_legacy``;
- the mapping of the 151 units to the 46 units of Phú Thọ from 1 July 2025, and those units'
  codes, names, centres and official areas: ``vietnamadminunits`` (``converter_2025.json``,
  table ``admin_units``);
- 2019 census population and households: official census figures (GSO, census of 1 April
  2019) per pre-2020 commune, carried to the 151 units; read from the census tables that sit
  beside the project in ``../shared/data/hoabinh/`` when present (``--census-dir``). Only the
  resulting figures are written here.

Usage: ``python data/communes/make_facts.py [--census-dir ../shared/data/hoabinh]``
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import vietnamadminunits

HERE = Path(__file__).resolve().parent
#: Other spellings in use for some units (older romanisation, i/y and s/x variants), by code.
ALIASES = {
    "05083": "Xã Mi Hòa",  # Mỵ Hòa (Kim Bôi)
    "05245": "Xã Săm Khóe",  # Xăm Khòe (Mai Châu)
}
PKG = Path(vietnamadminunits.__file__).resolve().parent / "data"


def _legacy_units() -> pd.DataFrame:
    con = sqlite3.connect(PKG / "dataset.db")
    df = pd.read_sql_query(
        "select wardCode, ward, wardShort, wardType, districtCode, district, wardLat, wardLon, "
        "wardBounds, wardKey, districtKey, provinceKey from admin_units_legacy "
        "where provinceCode = '17' order by wardCode",
        con,
    )
    con.close()
    bounds = df.wardBounds.str.split("–", expand=True)
    lo = bounds[0].str.split(",", expand=True).astype(float)
    hi = bounds[1].str.split(",", expand=True).astype(float)
    return pd.DataFrame(
        {
            "commune_code": df.wardCode,
            "name": df.ward,
            "name_short": df.wardShort,
            "type": df.wardType,
            "district_code": df.districtCode,
            "district_name": df.district,
            "lon": df.wardLon.round(6),
            "lat": df.wardLat.round(6),
            "bbox_west": lo[1].round(6),
            "bbox_south": lo[0].round(6),
            "bbox_east": hi[1].round(6),
            "bbox_north": hi[0].round(6),
            "_key": df.provinceKey + "_" + df.districtKey + "_" + df.wardKey,
        }
    )


def _units_2025() -> pd.DataFrame:
    con = sqlite3.connect(PKG / "dataset.db")
    df = pd.read_sql_query(
        "select wardCode, ward, wardType, wardLat, wardLon, wardAreaKm2, wardKey "
        "from admin_units where provinceKey = 'tinhphutho' order by wardCode",
        con,
    )
    con.close()
    return df


def _crosswalk(units: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    conv = json.loads((PKG / "converter_2025.json").read_text(encoding="utf-8"))
    whole = conv["DICT_PROVINCE_WARD_NO_DIVIDED"]["tinhphutho"]
    divided = conv["DICT_PROVINCE_WARD_DIVIDED"]["tinhphutho"]
    by_key = new.set_index("wardKey")
    rows = []
    for new_key, olds in whole.items():
        for old in olds:
            rows.append((old, new_key, 1.0))
    for old, parts in divided.items():
        # No public figure splits these units' households; share equally (documented).
        for part in parts:
            rows.append((old, part["newWardKey"], 1.0 / len(parts)))
    cw = pd.DataFrame(rows, columns=["_key", "wardKey", "share"])
    cw = cw[cw._key.str.startswith("tinhhoabinh_")]
    cw = cw.merge(units[["_key", "commune_code"]], on="_key", how="inner")
    cw = cw.join(by_key[["wardCode", "ward", "wardType"]], on="wardKey")
    out = pd.DataFrame(
        {
            "commune_code": cw.commune_code,
            "unit_code": cw.wardCode,
            "unit_name": cw.ward,
            "unit_type": cw.wardType,
            "share": cw.share.round(6),
        }
    ).sort_values(["commune_code", "unit_code"])
    return out.reset_index(drop=True)


def _census(census_dir: Path, units: pd.DataFrame) -> pd.DataFrame:
    """Population and households per 2020 unit from the 2019 census per pre-2020 commune."""
    census = pd.read_csv(census_dir / "census2019_210.csv")
    size_cols = [c for c in census.columns if c.startswith(("urban_", "rural_"))]
    census["hh"] = census[size_cols].fillna(0).sum(axis=1)
    xw = pd.read_csv(census_dir / "crosswalk_210_to_151.csv", dtype={"gso_code_2020": str})
    attrs = pd.read_csv(census_dir / "communes_151_attributes.csv", dtype={"gso_code": str})
    xw["commune_code"] = xw.gso_code_2020.str.zfill(5)
    xw = xw.merge(census[["ward_id", "total", "hh"]], left_on="gadm41_gid3", right_on="ward_id")
    # persons per household of the source communes of each 2020 unit
    g = xw.groupby("commune_code")[["total", "hh"]].sum()
    pph = g.total / g.hh
    pop = attrs.set_index("gso_code").pop2019_census_apportioned.astype(int)
    area = attrs.set_index("gso_code").area_km2.astype(float)
    hh_float = pop / pph.reindex(pop.index)
    total_hh = int(round(census.hh.sum()))
    hh_float = hh_float * (total_hh / hh_float.sum())  # split units: keep the census total
    # largest-remainder rounding so the 151 figures sum to the census total
    base = np.floor(hh_float).astype(int)
    rest = total_hh - int(base.sum())
    order = np.argsort(-(hh_float - base).to_numpy(), kind="stable")
    base.iloc[order[:rest]] += 1
    return pd.DataFrame({"population": pop, "households": base, "area_km2": area.round(3)})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--census-dir", type=Path, default=HERE.parents[2] / "shared/data/hoabinh")
    args = ap.parse_args()
    units = _legacy_units()
    assert len(units) == 151, len(units)
    new = _units_2025()
    cw = _crosswalk(units, new)
    census = _census(args.census_dir, units)
    facts = units.join(census, on="commune_code")
    facts["aliases"] = facts.commune_code.map(ALIASES).fillna("")
    assert facts.population.notna().all() and facts.households.notna().all()
    cols = ["commune_code", "name", "name_short", "type", "district_code", "district_name",
            "population", "households", "area_km2", "lon", "lat",
            "bbox_west", "bbox_south", "bbox_east", "bbox_north", "aliases"]
    facts[cols].to_csv(HERE / "communes_151.csv", index=False, lineterminator="\n")
    cw.to_csv(HERE / "crosswalk_151_to_2025.csv", index=False, lineterminator="\n")
    used = new[new.wardCode.isin(cw.unit_code)]
    pd.DataFrame(
        {
            "unit_code": used.wardCode,
            "name": used.ward,
            "type": used.wardType,
            "lon": used.wardLon,
            "lat": used.wardLat,
            "area_km2": used.wardAreaKm2,
        }
    ).to_csv(HERE / "units_2025.csv", index=False, lineterminator="\n")
    print(f"151 units, {int(facts.population.sum())} persons, {int(facts.households.sum())} "
          f"households; {cw.unit_code.nunique()} units of 2025; {len(cw)} crosswalk rows")


if __name__ == "__main__":
    main()
