"""Targets and gap tables on the 2020 and 2025 boundaries, and the ``phusong gaps`` command.

The coverage engine is replaced by a disc stand-in (``tests._synthetic.disc_scores``: a village
is covered by a technology within a fixed radius of a site carrying it) so these tests check the
gap arithmetic alone.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from phusong import settings
from phusong.bundle import save_bundle, validate
from phusong.cli import main
from phusong.errors import DataError, SchemaError
from phusong.planning import _plan_deps as deps
from phusong.planning.gaps import compute_gaps
from phusong.planning.scenario import scenario_from_dict
from phusong.planning.targets import target_columns, targets_from_records
from phusong.settings import Target
from tests._synthetic import disc_scores, synthetic_bundle

standin_scores = disc_scores


@pytest.fixture(scope="module")
def bundle():
    return validate(synthetic_bundle(6, 8, seed=3))


@pytest.fixture(scope="module")
def inputs(bundle):
    cov = standin_scores(bundle)
    rng = np.random.default_rng(0)
    fibre = pd.Series(rng.random(len(cov)) < 0.6, index=cov.index)
    return cov, fibre


def test_commune_figures_match_hand_sums(bundle, inputs):
    cov, fibre = inputs
    g = compute_gaps(bundle, cov, fibre=fibre)
    v = bundle.villages.set_index("village_id")
    assert len(g.communes) == 6 and len(g.villages) == len(v)
    for code, row in g.communes.set_index("unit_code").iterrows():
        ids = v.index[v.commune_code == code]
        hh = v.loc[ids, "households"].to_numpy(float)
        f = fibre.loc[ids].to_numpy()
        c4 = cov.loc[ids, "covered_4G"].to_numpy()
        pop = v.loc[ids, "population"].to_numpy(float)
        # exact sums of integers; 1e-9 % absorbs float division rounding only
        assert row["fibre_households_pct"] == pytest.approx(100 * hh[f].sum() / hh.sum(), abs=1e-9)
        # census persons no village carries are unknown, not served: they stay in the denominator
        census_pop = bundle.communes.set_index("commune_code").loc[code, "population"]
        assert row["mobile_4G_population_pct"] == pytest.approx(
            100 * pop[c4].sum() / max(pop.sum(), census_pop), abs=1e-9)
        assert row["population_unrepresented"] == max(0, census_pop - pop.sum())
        assert row["gap_fibre_2025_pct"] == pytest.approx(max(0.0, 80 - row["fibre_households_pct"]),
                                                          abs=1e-9)
        assert row["meets_fibre_2025"] == (row["fibre_households_pct"] >= 80)
        assert row["villages"] == len(ids)
        centre = v.loc[ids].query("is_centre").index[0]
        assert row["fibre_communes_pct"] == (100.0 if fibre[centre] else 0.0)
    p = g.province.iloc[0]
    assert p["households"] == v.households.sum()
    assert p["communes_meeting_fibre_communes_2025"] == int(g.communes["meets_fibre_communes_2025"].sum())
    assert g.districts["communes"].sum() == 6
    assert g.districts["households"].sum() == v.households.sum()
    # gaps never negative; a target is met exactly where the gap is zero
    for c in target_columns(settings.TARGETS):
        assert (g.communes[c.gap].dropna() >= 0).all()
        assert ((g.communes[c.gap] == 0) == g.communes[c.meets]).all()


def test_2025_boundaries_apportion_split_units(bundle, inputs):
    cov, fibre = inputs
    g20 = compute_gaps(bundle, cov, fibre=fibre, boundaries="2020")
    g25 = compute_gaps(bundle, cov, fibre=fibre, boundaries="2025")
    # the synthetic bundle holds the split units 04891 and 04957 (share 0.5 to two units each)
    u = g25.communes.set_index("unit_code")
    v = bundle.villages.set_index("village_id")
    hh_04891 = v.loc[v.commune_code == "04891", "households"].sum()
    assert u.loc["04891", "households"] == pytest.approx(0.5 * hh_04891, rel=1e-12)  # float halves
    assert u.loc["04924", "villages"] == pytest.approx(4.0, rel=1e-12)  # 8 villages × 0.5
    assert u.loc["04924", "centres"] == pytest.approx(0.5, rel=1e-12)
    # totals are unchanged by the vintage (float sums of halves: 1e-9 relative)
    for col in ("households", "population", "villages", "fibre_households", "mobile_4G_population"):
        assert g25.communes[col].sum() == pytest.approx(g20.communes[col].sum(), rel=1e-9)
    p20, p25 = g20.province.iloc[0], g25.province.iloc[0]
    assert p25["fibre_households_pct"] == pytest.approx(p20["fibre_households_pct"], rel=1e-9)
    assert p25["communes"] == len(g25.communes) and p20["communes"] == 6
    assert g25.villages.loc[g25.villages.commune_code == "04891", "unit_share"].eq(0.5).all()
    with pytest.raises(DataError, match="2025 crosswalk"):
        b = synthetic_bundle(2, 2)
        b.layers["villages"] = b.villages.assign(commune_code="99999")
        b.layers["communes"] = b.communes.assign(commune_code=["99999", "99998"])
        compute_gaps(b, cov.iloc[:4].set_axis(b.villages.village_id), boundaries="2025",
                     fibre=fibre.iloc[:4].set_axis(b.villages.village_id))


def test_centre_falls_back_to_the_village_nearest_the_administrative_centre(bundle, inputs):
    from phusong.communes import commune_facts

    cov, fibre = inputs
    b = synthetic_bundle(6, 8, seed=3)
    b.layers["villages"] = b.villages.drop(columns="is_centre")
    g = compute_gaps(b, cov, fibre=fibre)
    v = g.villages
    facts = commune_facts().set_index("commune_code")
    pts = b.villages.to_crs("EPSG:32648").set_index("village_id").geometry
    for code, grp in v.groupby("commune_code"):
        assert grp.is_centre.sum() == 1
        admin = gpd.GeoSeries(gpd.points_from_xy([facts.loc[code, "lon"]], [facts.loc[code, "lat"]]),
                              crs="EPSG:4326").to_crs("EPSG:32648").iloc[0]
        d = pts.loc[grp.village_id].distance(admin)
        assert grp.loc[grp.is_centre, "village_id"].iloc[0] == d.idxmin()
        row = g.communes.set_index("unit_code").loc[code]
        assert row["fibre_communes"] == float(fibre[d.idxmin()])


def test_targets_from_a_scenario_and_bad_targets(bundle, inputs):
    cov, fibre = inputs
    s = scenario_from_dict({"targets": [
        {"indicator": "mobile_4G_Viettel", "denominator": "villages", "threshold_pct": 50,
         "year": 2026},
        {"indicator": "fibre_available", "denominator": "population", "threshold_pct": 90,
         "year": 2027}]})
    g = compute_gaps(bundle, cov, fibre=fibre, targets=s.targets)
    assert "gap_mobile_4G_Viettel_villages_2026_pct" in g.communes
    assert "gap_fibre_population_2027_pct" in g.province
    head = g.headline()
    assert [t["year"] for t in head["targets"]] == [2026, 2027]
    bad = [
        ({"indicator": "mobile_6G", "denominator": "population", "threshold_pct": 1, "year": 2025},
         "unknown indicator"),
        ({"indicator": "mobile_4G", "denominator": "people", "threshold_pct": 1, "year": 2025},
         "denominator"),
        ({"indicator": "mobile_4G", "denominator": "population", "threshold_pct": 101,
          "year": 2025}, "0..100"),
        ({"indicator": "mobile_4G", "denominator": "population", "threshold": 1, "year": 2025},
         "unknown key 'threshold'"),
        ({"indicator": "mobile_4G", "denominator": "communes", "threshold_pct": 1, "year": 2025},
         "fibre_commune"),
    ]
    for rec, msg in bad:
        with pytest.raises(DataError, match=msg):
            targets_from_records([rec])
    twins = [Target("mobile_5G", "population", 100.0, 2030), Target("mobile_5G", "population", 100.0, 2030)]
    with pytest.raises(DataError, match="given twice"):
        target_columns(twins)


def test_bad_demand_is_refused(bundle, inputs):
    cov, fibre = inputs
    b = synthetic_bundle(6, 8, seed=3)
    v = b.villages.copy()
    v.loc[3, "households"] = np.nan
    b.layers["villages"] = v
    with pytest.raises(DataError, match="NaN or negative"):
        compute_gaps(b, cov, fibre=fibre)
    b.layers["villages"] = v.iloc[:0]
    with pytest.raises(DataError, match="empty demand"):
        compute_gaps(b, cov, fibre=fibre)
    b.layers["villages"] = v.assign(households=0)
    with pytest.raises(DataError, match="empty demand"):
        compute_gaps(b, cov, fibre=fibre)
    with pytest.raises(DataError, match="no row for village"):
        compute_gaps(bundle, cov.iloc[1:], fibre=fibre)
    with pytest.raises(DataError, match="boundaries"):
        compute_gaps(bundle, cov, fibre=fibre, boundaries="2019")


def test_gaps_cli_writes_tables_and_report(tmp_path, monkeypatch, bundle, inputs):
    cov, fibre = inputs
    monkeypatch.setattr(deps, "score_villages", lambda b, *, model, config: cov)
    monkeypatch.setattr(deps, "fibre_available", lambda b, **kw: fibre)
    save_bundle(bundle, tmp_path / "b")
    out = tmp_path / "gaps"
    r = CliRunner().invoke(main, ["gaps", str(tmp_path / "b"), "--boundaries", "2025",
                                  "--out", str(out), "--json", "--quiet"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["boundaries"] == "2025" and report["synthetic"] is True
    for name in ("villages", "communes", "districts", "province"):
        df = pd.read_csv(out / f"gaps_{name}.csv", dtype={"unit_code": str}, encoding="utf-8")
        assert len(df)
    communes = pd.read_csv(out / "gaps_communes.csv", dtype={"unit_code": str})
    assert "Phường Thống Nhất" in set(communes.name)  # UTF-8 names survive
    assert json.loads((out / "gaps.json").read_text(encoding="utf-8"))["communes"] == len(communes)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary leftovers
    r = CliRunner().invoke(main, ["gaps", str(tmp_path / "nope"), "--out", str(out)])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "not a phusong bundle" in r.stderr


def test_a_technology_without_cells_covers_nobody(bundle, inputs):
    # the 2022 baseline has no 5G cells, so score_villages has no 5G columns: the 2030 5G
    # targets must still be reported, as a full gap, not refused
    cov, fibre = inputs
    no5g = cov[[c for c in cov.columns if "5G" not in c]]
    g = compute_gaps(bundle, no5g, fibre=fibre)
    assert (g.communes["mobile_5G_population_pct"] == 0).all()
    assert (g.communes["gap_mobile_5G_2030_pct"] == 100).all()
    assert g.province["mobile_4G_population_pct"].iloc[0] > 0


# --- switch-offs (issue 12 item 5): 2G off from 2026, 3G off from 2028 (FACTS §6, §8) ---------

def _hand_coverage(ids) -> pd.DataFrame:
    """Coverage by hand: ids[0] 2G only, ids[1] 3G + 4G, ids[2] 3G only, ids[3] nothing, rest 4G.

    Every covered tech is Viettel's; ``rx_dbm_*`` and ``site_*`` mimic ``score_villages``.
    """
    ids = pd.Index(ids, name="village_id")
    has = {t: np.zeros(len(ids), bool) for t in settings.TECHS}
    has["2G"][0] = True
    has["3G"][[1, 2]] = True
    has["4G"][1] = True
    has["4G"][4:] = True
    cov = pd.DataFrame(index=ids)
    for t in settings.TECHS:
        cov[f"rx_dbm_{t}"] = np.where(has[t], -80.0, -np.inf)
        cov[f"covered_{t}"] = has[t]
        for op in settings.OPERATORS:
            cov[f"covered_{t}_{op}"] = has[t] & (op == "Viettel")
        cov[f"site_{t}"] = pd.Series(np.where(has[t], "S0000", None), index=ids, dtype=object)
    cov["covered_any"] = np.logical_or.reduce([has[t] for t in settings.TECHS])
    return cov


@pytest.fixture(scope="module")
def hand(bundle):
    ids = bundle.villages["village_id"].astype(str)
    hh = bundle.villages.set_index("village_id")["households"]
    return _hand_coverage(ids), pd.Series(False, index=ids.to_numpy()), hh, list(ids[:4])


def test_switch_off_follows_the_year(bundle, hand):
    cov, fibre, hh, (only2g, g3g4, only3g, none) = hand
    before = cov.copy(deep=True)
    rows = {}
    for year in (2025, 2026, 2027, 2028, 2030):
        g = compute_gaps(bundle, cov, fibre=fibre, year=year)
        rows[year] = g.villages.set_index("village_id")
        p = g.province.iloc[0]
        lost = [v for v in (only2g, only3g) if year >= settings.SWITCH_OFF_YEAR[
            "2G" if v == only2g else "3G"]]
        # villages and households are whole numbers summed as floats far below 2**53: exact
        assert p["villages_losing_service"] == len(lost)
        assert p["households_losing_service"] == hh[lost].sum()
        assert g.headline()["villages_losing_service"] == len(lost)
        assert g.headline()["households_losing_service"] == hh[lost].sum()
        assert g.communes["households_losing_service"].sum() == hh[lost].sum()
        assert g.districts["villages_losing_service"].sum() == len(lost)
        # mobile_any counts every village but the uncovered one and the lost ones; the
        # percentage is a float division of exact integer sums: 1e-9 pp absorbs its rounding
        keep = hh.drop([none, *lost]).sum()
        assert p["mobile_any_households_pct"] == pytest.approx(100 * keep / hh.sum(), abs=1e-9)
    assert rows[2025].loc[only2g, "mobile_any"] and not rows[2026].loc[only2g, "mobile_any"]
    assert not rows[2025].loc[only2g, "loses_service"] and rows[2026].loc[only2g, "loses_service"]
    assert rows[2027].loc[only3g, ["mobile_any", "mobile_3G", "mobile_3G_Viettel"]].all()
    assert not rows[2028].loc[only3g, ["mobile_any", "mobile_3G", "mobile_3G_Viettel"]].any()
    assert rows[2028].loc[only3g, "loses_service"] and not rows[2027].loc[only3g, "loses_service"]
    assert rows[2030].loc[g3g4, ["mobile_any", "mobile_4G"]].all()
    assert not rows[2030].loc[g3g4, ["mobile_3G", "loses_service"]].any()
    assert not rows[2030].loc[none, "loses_service"]  # never had service: nothing to lose
    assert set(rows[2025].switched_off) == {""} and set(rows[2027].switched_off) == {"2G"}
    assert set(rows[2030].switched_off) == {"2G;3G"}
    assert not rows[2030]["mobile_2G"].any() and not rows[2030]["mobile_3G"].any()
    pd.testing.assert_frame_equal(cov, before)  # the caller's frame is never modified


def test_no_year_is_todays_behaviour(bundle, hand):
    cov, fibre, _hh, _ = hand
    g = compute_gaps(bundle, cov, fibre=fibre)
    g25 = compute_gaps(bundle, cov, fibre=fibre, year=2025)  # nothing is off yet in 2025
    for name in ("villages", "communes", "districts", "province"):
        pd.testing.assert_frame_equal(getattr(g, name), getattr(g25, name))
    assert (g.province["villages_losing_service"] == 0).all()
    assert not g.villages["loses_service"].any() and set(g.villages.switched_off) == {""}
    head = g.headline()
    assert head["year"] is None and head["switched_off"] == []
    assert head["villages_losing_service"] == 0
    h30 = compute_gaps(bundle, cov, fibre=fibre, year=2030).headline()
    assert h30["year"] == 2030 and h30["switched_off"] == ["2G", "3G"]
    assert h30["figures_pct"]["mobile_any_villages_pct"] < head["figures_pct"][
        "mobile_any_villages_pct"]


def test_switch_off_reaches_broadband_and_the_2025_units(bundle, hand):
    cov, fibre, hh, (_only2g, _g3g4, only3g, _none) = hand
    bb = ("3G", "4G")
    v27 = compute_gaps(bundle, cov, fibre=fibre, year=2027, broadband_techs=bb).villages
    v28 = compute_gaps(bundle, cov, fibre=fibre, year=2028, broadband_techs=bb).villages
    assert v27.set_index("village_id").loc[only3g, "mobile_broadband"]
    assert not v28.set_index("village_id").loc[only3g, "mobile_broadband"]
    g20 = compute_gaps(bundle, cov, fibre=fibre, year=2028)
    g25 = compute_gaps(bundle, cov, fibre=fibre, year=2028, boundaries="2025")
    # the lost villages sit in the split unit 04891 (share 0.5 per part): halves, exact in float
    u = g25.communes.set_index("unit_code")
    assert u.loc["04891", "villages_losing_service"] == 1.0  # 2 villages × 0.5
    assert g25.province.iloc[0]["households_losing_service"] == \
        g20.province.iloc[0]["households_losing_service"]


def test_switch_off_helper(hand):
    from phusong.planning import switch_off, switched_off_techs
    from phusong.planning.switchoff import losing_service

    cov, _fibre, _hh, (only2g, g3g4, _only3g, _none) = hand
    out = switch_off(cov, 2026)
    assert out is not cov and list(out.columns) == list(cov.columns)
    assert not out.filter(regex="^covered_2G").to_numpy().any()
    assert np.isneginf(out["rx_dbm_2G"]).all() and out["site_2G"].isna().all()
    assert out.loc[g3g4, "rx_dbm_3G"] == -80.0 and out.loc[g3g4, "site_3G"] == "S0000"
    assert not out.loc[only2g, "covered_any"] and cov.loc[only2g, "covered_any"]
    assert losing_service(cov, out).sum() == 1
    same = switch_off(cov, None)
    pd.testing.assert_frame_equal(same, cov)
    same.iloc[0, 0] = 0.0
    assert cov.iloc[0, 0] == -80.0  # a copy, not a view
    assert switched_off_techs(2027) == ("2G",) and switched_off_techs(2028) == ("2G", "3G")
    for bad in (1999, 2101, 2030.0, True, "2030"):
        with pytest.raises(DataError, match="year"):
            switch_off(cov, bad)
    with pytest.raises(SchemaError, match="covered_<tech>"):
        switch_off(cov[["covered_any"]], 2030)
    with pytest.raises(DataError, match="no row for village"):
        losing_service(cov, out.iloc[1:])


def test_gaps_cli_year_line(tmp_path, monkeypatch, bundle, hand):
    cov, fibre, hh, (only2g, _g3g4, only3g, _none) = hand
    monkeypatch.setattr(deps, "score_villages", lambda b, *, model, config: cov)
    monkeypatch.setattr(deps, "fibre_available", lambda b, **kw: fibre)
    save_bundle(bundle, tmp_path / "b")
    args = ["gaps", str(tmp_path / "b"), "--out", str(tmp_path / "g"), "--quiet"]
    r = CliRunner().invoke(main, [*args, "--year", "2030"])
    assert r.exit_code == 0, r.output
    lost_hh = int(hh[[only2g, only3g]].sum())
    assert (f"switched off by 2030: 2G, 3G; 2 villages ({lost_hh:,} households) lose all "
            "mobile service") in r.stdout.splitlines()
    v = pd.read_csv(tmp_path / "g" / "gaps_villages.csv", keep_default_na=False)
    assert set(v.switched_off) == {"2G;3G"} and v.loses_service.sum() == 2
    r = CliRunner().invoke(main, [*args, "--year", "2025", "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["year"] == 2025 and report["switched_off"] == []
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0 and "switched off" not in r.stdout
    for bad in ("1999", "2101", "soon"):
        r = CliRunner().invoke(main, [*args, "--year", bad])
        assert r.exit_code == 2 and "--year" in r.stderr, r.output


def test_switch_off_clears_sinr_and_margin_of_a_switched_off_technology(monkeypatch):
    """score_villages' SINR and best-server margin columns follow their technology off air:
    a 4G switch-off (a settings override) leaves no 4G SINR or margin behind, and 5G's stay."""
    from phusong import settings
    from phusong.bundle import validate
    from phusong.coverage import score_villages
    from phusong.planning import switch_off
    from tests._synthetic import synthetic_bundle

    b = validate(synthetic_bundle(3, 6, seed=2))
    cov = score_villages(b, model="hata")
    sinr = [c for c in cov.columns if c.startswith(("sinr_db_4G", "margin_db_4G"))]
    assert "sinr_db_4G" in sinr and "margin_db_4G" in sinr
    # values before (operators without 4G on this fixture have all-NaN columns)
    assert cov["sinr_db_4G"].notna().any() and cov["margin_db_4G"].notna().any()
    monkeypatch.setitem(settings.SWITCH_OFF_YEAR, "4G", 2030)
    out = switch_off(cov, 2030)
    assert out[sinr].isna().all().all()
    assert not out.filter(regex="^covered_4G").to_numpy().any()
    assert np.isneginf(out["rx_dbm_4G_indoor"]).all()
    five = [c for c in cov.columns if c.startswith(("sinr_db_5G", "margin_db_5G"))]
    assert "sinr_db_5G" in five
    pd.testing.assert_frame_equal(out[five], cov[five])


def test_2025_layer_divides_a_split_commune_by_where_its_villages_are(bundle, inputs):
    """With a communes_2025 layer each village of a split commune goes whole to the new unit
    that holds it; the commune's census follows its villages' households."""
    import shapely

    from phusong.crs import to_work
    from phusong.twin.units_2025 import dissolve_2025

    cov, fibre = inputs
    b = validate(synthetic_bundle(6, 8, seed=3))
    by_share = compute_gaps(b, cov, fibre=fibre, boundaries="2025")
    b.layers["communes_2025"] = dissolve_2025(b.communes)
    g = compute_gaps(b, cov, fibre=fibre, boundaries="2025")
    vt = g.villages.set_index("village_id")
    assert (vt["unit_share"] == 1.0).all()
    polys = to_work(b.communes_2025, "communes_2025").set_index("unit_code").geometry
    pts = to_work(b.villages, "villages").set_index("village_id").geometry
    for split, parts in (("04891", ("04828", "04891")), ("04957", ("04924", "04960"))):
        ids = b.villages.village_id[b.villages.commune_code == split]
        assert set(vt.loc[ids, "unit_code"]) <= set(parts)
        for vid in ids:  # whole, to the part that holds it (or the nearest part)
            d = {u: shapely.distance(pts[vid], polys[u]) for u in parts}
            assert d[vt.loc[vid, "unit_code"]] == min(d.values())
    u, v = g.communes.set_index("unit_code"), b.villages.set_index("village_id")
    # unit 04924 is the part of 04957 alone: its villages are those placed there, whole
    in_04924 = vt.index[vt.unit_code == "04924"]
    assert u.loc["04924", "villages"] == len(in_04924)
    assert u.loc["04924", "households"] == v.loc[in_04924, "households"].sum()
    # the census of 04957 is divided as its villages are (synthetic census = village sums)
    assert u.loc["04924", "census_households"] == pytest.approx(
        v.loc[in_04924, "households"].sum(), rel=1e-12)  # float ratio × census
    assert u.loc["04924", "households_represented_pct"] == pytest.approx(100.0, rel=1e-12)
    assert 0 < len(in_04924) < (b.villages.commune_code == "04957").sum()  # really divided
    # totals are unchanged by the vintage or the way of dividing (float sums: 1e-9 relative)
    for col in ("households", "population", "villages", "census_households", "centres",
                "fibre_households", "mobile_4G_population"):
        assert g.communes[col].sum() == pytest.approx(by_share.communes[col].sum(), rel=1e-9)
    p, p0 = g.province.iloc[0], by_share.province.iloc[0]
    assert p["fibre_households_pct"] == pytest.approx(p0["fibre_households_pct"], rel=1e-9)
