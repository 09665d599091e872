"""A planner's own, incomplete data (issue 13): fibre as POPs or nothing, derived commune centres,
the census against the villages, population rasters, and every bad input of the issue.

Small synthetic fixtures only (``tests/_synthetic.py``: real commune codes with box geometry); the
real layers are exercised by ``test_own_data_realdata.py``.
"""

from __future__ import annotations

import json
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from shapely.geometry import Point

from phusong.bundle import Bundle, load_bundle, validate
from phusong.cli import main
from phusong.errors import CRSError, DataError, RepairWarning
from phusong.io.census import (
    census_shares,
    check_excess,
    scale_to_census,
    settlements_from_raster,
    villages_from_raster,
)
from phusong.io.fibre import read_fibre
from phusong.io.rasters import read_population
from phusong.planning import _plan_deps as deps
from phusong.planning.centres import (
    CENTRE_SOURCES,
    POP_ASSUMPTION,
    assume_pops,
    centre_fibre,
    commune_centres,
)
from phusong.planning.feeders import FEEDER_LABEL, infer_feeders
from phusong.planning.gaps import compute_gaps
from phusong.planning.plan import make_plan, plan_summary_lines
from tests._synthetic import disc_coverage_matrix, disc_scores, synthetic_bundle


def _without(b: Bundle, *layers: str) -> Bundle:
    return Bundle(b.name, {k: v for k, v in b.layers.items() if k not in layers},
                  dict(b.rasters), {k: v for k, v in b.provenance.items() if k not in layers},
                  b.boundaries, dict(b.meta))


def _nodes(points, ids, kinds=None) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"node_id": ids, "kind": kinds or ["POP"] * len(ids)},
                            geometry=[Point(p) for p in points], crs="EPSG:4326")


def _invoke(args):
    return CliRunner().invoke(main, [str(a) for a in args])


# --- fibre as planners know it -------------------------------------------------------------------


def _pop_file(path, ids, kinds=("pop",)):
    feats = [{"type": "Feature", "properties": {"id": i, "type": [kinds[k % len(kinds)]]},
              "geometry": {"type": "Point", "coordinates": [105.33 + 0.001 * k, 20.85]}}
             for k, i in enumerate(ids)]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8")
    return path


def test_fibre_file_of_nodes_only(tmp_path):
    spans, nodes = read_fibre(_pop_file(tmp_path / "p.geojson", ["A", "B", "C"],
                                        kinds=("pop", "OLT", "splitter")))
    assert spans is None
    assert nodes.data["kind"].tolist() == ["POP", "POP", "splitter"]
    assert any("nodes only (3)" in n for n in nodes.notes)


def test_duplicate_pop_ids_are_refused(tmp_path):
    bad = _pop_file(tmp_path / "dup.geojson", ["POP-1", "POP-2", "POP-1"])
    with pytest.raises(DataError, match=r"dup.geojson: duplicate node id\(s\) \['POP-1'\]"):
        read_fibre(bad)
    b = synthetic_bundle(2, 2)
    b.communes.to_file(tmp_path / "c.geojson")
    before = bad.read_bytes()
    r = _invoke(["data", "import", "--communes", tmp_path / "c.geojson", "--fibre", bad,
                 "--out", tmp_path / "out"])
    assert r.exit_code == 2 and "duplicate node id" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists() and bad.read_bytes() == before


def test_import_keeps_a_pop_list_as_the_network(tmp_path):
    b = synthetic_bundle(2, 2)
    b.communes.to_file(tmp_path / "c.geojson")
    r = _invoke(["data", "import", "--communes", tmp_path / "c.geojson", "--fibre",
                 _pop_file(tmp_path / "p.geojson", ["A", "B"]), "--out", tmp_path / "out",
                 "--extent", "none", "--json"])
    assert r.exit_code == 0, r.output
    got = load_bundle(tmp_path / "out")
    assert got.fibre is None and len(got.fibre_nodes) == 2


@pytest.fixture
def disc(monkeypatch):
    monkeypatch.setattr(deps, "score_villages", disc_scores)
    monkeypatch.setattr(deps, "coverage_matrix", disc_coverage_matrix)


def test_plan_without_fibre_assumes_a_pop_at_every_centre(disc, tmp_path):
    b = _without(validate(synthetic_bundle(4, 5, seed=2)), "fibre", "fibre_nodes")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RepairWarning)
        plan = make_plan(b)
    assert plan.fibre_assumption == POP_ASSUMPTION
    assert plan.assumptions[0] == POP_ASSUMPTION
    assert any(POP_ASSUMPTION in line for line in plan_summary_lines(plan))
    assert plan.gaps.assumptions == (POP_ASSUMPTION,)
    assert float(plan.gaps.province.iloc[0]["fibre_communes_pct"]) == 100.0
    plan.write(tmp_path / "plan")
    report = json.loads((tmp_path / "plan" / "plan.json").read_text(encoding="utf-8"))
    assert report["fibre_assumption"] == POP_ASSUMPTION
    # the plan refers to the bundle as given; applied, it carries the assumed POPs and label
    from phusong.planning.apply import apply_plan

    grown = apply_plan(b, tmp_path / "plan", year=2025)
    assert grown.fibre_nodes["node_id"].str.startswith("assumed-POP-").sum() == 4
    assert grown.meta["fibre_assumption"] == POP_ASSUMPTION
    assumed = assume_pops(b)
    assert len(assumed.fibre_nodes) == 4 and assumed.fibre_nodes["assumed"].all()
    # the centres of the assumed POPs are the flagged villages
    flagged = b.villages[b.villages.is_centre].set_index("commune_code").geometry
    for n in assumed.fibre_nodes.itertuples():
        assert n.geometry.equals(flagged[n.commune_code])


def test_plan_on_a_pop_list_assumes_nothing(disc):
    b = validate(synthetic_bundle(4, 5, seed=2))
    centres = b.villages[b.villages.is_centre]
    b = _without(b, "fibre")
    b.layers["fibre_nodes"] = _nodes([(p.x, p.y) for p in centres.geometry],
                                     [f"P{i}" for i in range(len(centres))])
    plan = make_plan(b)
    assert plan.fibre_assumption is None
    assert float(plan.gaps.province.iloc[0]["fibre_communes_pct"]) == 100.0


# --- commune centres -------------------------------------------------------------------------------


def test_commune_centre_rules_and_fibre_commune():
    b = synthetic_bundle(3, 4, seed=5)
    codes = b.communes["commune_code"].tolist()
    v = b.villages.drop(columns="is_centre")
    v = v[v.commune_code != codes[2]].reset_index(drop=True)  # the third has no village
    box0 = b.communes.geometry.iloc[0].bounds
    pop_xy = (box0[0] + 0.9 * (box0[2] - box0[0]), box0[1] + 0.1 * (box0[3] - box0[1]))
    b = Bundle(b.name, {"communes": b.communes, "villages": v, "roads": b.roads,
                        "sites": b.sites, "cells": b.cells,
                        "fibre_nodes": _nodes([pop_xy], ["POP-0"])})
    c = commune_centres(b)
    assert c["source"].tolist() == [CENTRE_SOURCES[1], CENTRE_SOURCES[2], CENTRE_SOURCES[3]]
    assert c["node_id"].iloc[0] == "POP-0"
    # rule 3: the village nearest the administrative centre (the synthetic village k=0 sits on
    # the facts' lon/lat)
    assert c["village_id"].iloc[1] == v[v.commune_code == codes[1]].village_id.iloc[0]
    fib = pd.Series(False, index=v["village_id"])
    got = centre_fibre(b, c, fib)
    assert got.tolist() == [True, False, False]  # a POP is fibre; the point centre is far
    # a POP inside the commune without villages counts it
    box2 = b.communes.geometry.iloc[2].centroid
    b.layers["fibre_nodes"] = _nodes([pop_xy, (box2.x, box2.y)], ["POP-0", "POP-2"])
    c2 = commune_centres(b)
    assert c2["source"].iloc[2] == CENTRE_SOURCES[1]
    cov = disc_scores(b)
    g = compute_gaps(b, cov, fibre=fib)
    row = g.communes.set_index("unit_code")
    assert row.loc[codes[2], "fibre_communes"] == 1.0 and row.loc[codes[2], "villages"] == 0
    assert row.loc[codes[0], "fibre_communes"] == 1.0 and row.loc[codes[1], "fibre_communes"] == 0


# --- census --------------------------------------------------------------------------------------


def test_gaps_list_every_unit_and_count_the_unrepresented_as_unknown():
    b = synthetic_bundle(6, 8, seed=3)
    b.layers["villages"] = b.villages[b.villages.commune_code != "04957"].reset_index(drop=True)
    cov = disc_scores(b)
    fib = pd.Series(True, index=b.villages["village_id"])
    g20 = compute_gaps(b, cov, fibre=fib)
    c = g20.communes.set_index("unit_code")
    census = b.communes.set_index("commune_code")["households"]
    assert len(c) == 6
    assert c.loc["04957", "villages"] == 0
    assert c.loc["04957", "census_households"] == census["04957"]
    assert c.loc["04957", "households_unrepresented"] == census["04957"]
    assert c.loc["04957", "households_represented_pct"] == 0
    assert c.loc["04957", "fibre_households_pct"] == 0  # unknown is not served
    p = g20.province.iloc[0]
    # every village has fibre: the province figure is the represented share (exact integers)
    assert p["fibre_households_pct"] == pytest.approx(
        100 * (census.sum() - census["04957"]) / census.sum(), abs=1e-9)
    assert p["census_households"] == census.sum()
    g25 = compute_gaps(b, cov, fibre=fib, boundaries="2025")
    from phusong.communes import crosswalk_2025

    cw = crosswalk_2025()
    units = set(cw[cw.commune_code.isin(b.communes.commune_code)].unit_code)
    assert set(g25.communes["unit_code"]) == units  # the units of 04957 are listed too
    # halves of integer census figures: 1e-9 absolute
    assert g25.communes["census_households"].sum() == pytest.approx(census.sum(), abs=1e-9)
    assert g25.headline()["census_households"] == census.sum()


def _villages(code, hh, xy):
    return gpd.GeoDataFrame({"village_id": [f"v{i}" for i in range(len(hh))],
                             "commune_code": code, "households": hh,
                             "population": [4 * h for h in hh]},
                            geometry=[Point(p) for p in xy], crs="EPSG:4326")


def test_scale_to_census_keeps_every_commune_total():
    b = synthetic_bundle(2, 3, seed=1)
    com = b.communes
    v = b.villages.assign(households=[1, 2, 3, 0, 0, 0])
    s = scale_to_census(v, com)
    sums = s.groupby("commune_code")[["households", "population"]].sum()
    census = com.set_index("commune_code")[["households", "population"]]
    assert (sums == census.loc[sums.index]).all().all()
    first = s[s.commune_code == com.commune_code.iloc[0]].households.to_numpy()
    assert (np.diff(first) >= 0).all()  # in proportion to 1 : 2 : 3
    shares = census_shares(s, com)
    assert (shares["households_share_pct"] == 100).all()


def test_villages_far_above_the_census_warn_with_the_commune():
    b = synthetic_bundle(1, 2)
    hh = int(b.communes["households"].iloc[0])
    v = b.villages.assign(households=[4 * hh, 1])
    with pytest.warns(RepairWarning, match=rf"commune {b.communes.commune_code.iloc[0]} .*4\.0×"):
        msgs = check_excess(census_shares(v, b.communes), "thon.csv")
    assert len(msgs) == 1


def test_import_reports_the_census_and_scales_onto_villages(tmp_path):
    b = synthetic_bundle(3, 2, seed=4)
    b.communes.to_file(tmp_path / "c.geojson")
    rows = [f"{r.village_id},{r.commune_code},{3},{r.geometry.y},{r.geometry.x}"
            for r in b.villages.itertuples()]
    (tmp_path / "v.csv").write_text("ma_thon,ma_xa,so_ho,lat,lon\n" + "\n".join(rows),
                                    encoding="utf-8")
    base = ["data", "import", "--communes", tmp_path / "c.geojson", "--villages",
            tmp_path / "v.csv", "--json"]
    r = _invoke([*base, "--out", tmp_path / "given"])
    assert r.exit_code == 0, r.output
    census = json.loads(r.stdout)["census"]
    assert census["village_households"] == 18 and census["communes"] == 3
    assert len(census["per_commune"]) == 3
    r = _invoke([*base, "--villages-scale", "census", "--out", tmp_path / "scaled"])
    assert r.exit_code == 0, r.output
    got = load_bundle(tmp_path / "scaled")
    assert int(got.villages.households.sum()) == int(b.communes.households.sum())
    assert "scaled to the 2019 census" in got.provenance["villages"].note
    # villages far above their commune's census: imported, with a one-line warning naming it
    code = b.communes.commune_code.iloc[0]
    big = 10 * int(b.communes.households.iloc[0])
    (tmp_path / "big.csv").write_text(
        "ma_thon,ma_xa,so_ho,lat,lon\n" + f"X,{code},{big},{b.villages.geometry.y.iloc[0]},"
        f"{b.villages.geometry.x.iloc[0]}\n", encoding="utf-8")
    r = _invoke(["data", "import", "--communes", tmp_path / "c.geojson", "--villages",
                 tmp_path / "big.csv", "--out", tmp_path / "big"])
    assert r.exit_code == 0, r.output
    assert f"villages of commune {code}" in r.stderr and "10.0× its census" in r.stderr
    r = _invoke([*base, "--villages-scale", "raster", "--out", tmp_path / "r"])
    assert r.exit_code == 2 and "need a population raster" in r.stderr
    assert not (tmp_path / "r").exists()


def test_validate_villages_compares_with_the_census(tmp_path):
    b = synthetic_bundle(2, 2, seed=4)
    rows = [f"{r.village_id},{r.commune_code},10,{r.geometry.y},{r.geometry.x}"
            for r in b.villages.itertuples()]
    (tmp_path / "v.csv").write_text("ma_thon,ma_xa,so_ho,lat,lon\n" + "\n".join(rows),
                                    encoding="utf-8")
    r = _invoke(["data", "validate", tmp_path / "v.csv", "--kind", "villages", "--json"])
    assert r.exit_code == 0, r.output
    c = json.loads(r.stdout)["census"]
    assert c["communes"] == 151 and c["communes_without_villages"] == 149
    per = {x["commune_code"]: x for x in c["per_commune"]}
    code = b.communes.commune_code.iloc[0]
    assert per[code]["village_households"] == 20
    assert per[code]["households_share_pct"] == pytest.approx(
        100 * 20 / float(b.communes.households.iloc[0]), rel=1e-12)  # one float division


def test_villages_outside_every_commune_are_listed(tmp_path):
    b = synthetic_bundle(2, 2, seed=4)
    b.communes.to_file(tmp_path / "c.geojson")
    w, s, e, n = b.communes.total_bounds
    (tmp_path / "v.csv").write_text(
        "ma_thon,so_ho,lat,lon\n"
        f"IN,5,{b.villages.geometry.y.iloc[0]},{b.villages.geometry.x.iloc[0]}\n"
        f"OUT,5,{n + 0.02},{e + 0.02}\n", encoding="utf-8")
    base = ["data", "import", "--communes", tmp_path / "c.geojson", "--villages",
            tmp_path / "v.csv"]
    r = _invoke([*base, "--out", tmp_path / "a"])
    assert r.exit_code == 2 and "lie in no commune polygon: ['OUT']" in r.stderr
    assert not (tmp_path / "a").exists()
    r = _invoke([*base, "--drop-outside", "--out", tmp_path / "b"])
    assert r.exit_code == 0, r.output
    assert "dropped 1 village(s) lying in no commune polygon: ['OUT']" in r.stderr
    assert load_bundle(tmp_path / "b").villages.village_id.tolist() == ["IN"]


# --- population rasters --------------------------------------------------------------------------


def _raster(path, communes, *, crs="EPSG:32648", shift_m=0.0, cell_m=250.0, value=2.0):
    w = communes.to_crs(crs).total_bounds
    cols = int(np.ceil((w[2] - w[0]) / cell_m))
    rows = int(np.ceil((w[3] - w[1]) / cell_m))
    arr = np.full((rows, cols), value, dtype="float32")
    tr = Affine(cell_m, 0, w[0] + shift_m, 0, -cell_m, w[3])
    with rasterio.open(path, "w", driver="GTiff", width=cols, height=rows, count=1,
                       dtype="float32", crs=crs, transform=tr) as dst:
        dst.write(arr, 1)
    return path


def test_villages_take_the_persons_of_their_nearest_cells(tmp_path):
    b = synthetic_bundle(2, 3, seed=6)
    ras = read_population(_raster(tmp_path / "p.tif", b.communes)).data
    out, notes = villages_from_raster(b.villages, b.communes, ras)
    # brute force: every cell centre inside a commune goes to its nearest village there
    rows, cols = np.nonzero(ras.array > 0)
    t = ras.transform
    xs, ys = t.c + t.a * (cols + 0.5), t.f + t.e * (rows + 0.5)  # north-up grid
    pts = gpd.GeoSeries(gpd.points_from_xy(xs, ys), crs=ras.crs)
    cw = b.communes.to_crs(ras.crs).reset_index(drop=True)
    vw = b.villages.to_crs(ras.crs).reset_index(drop=True)
    expect = np.zeros(len(vw))
    for p in pts:
        inside = np.flatnonzero(cw.contains(p).to_numpy())
        if not len(inside):
            continue
        mine = np.flatnonzero(vw.commune_code.to_numpy() == cw.commune_code.iloc[inside[0]])
        expect[mine[np.argmin(vw.geometry.iloc[mine].distance(p).to_numpy())]] += 2.0
    assert out["population"].tolist() == np.round(expect).astype(int).tolist()
    assert out["households"].tolist() == np.round(expect / 3.86).astype(int).tolist()
    assert "households = persons / 3.86" in notes[0]


def test_settlements_from_a_raster_keep_each_commune_total(tmp_path):
    b = synthetic_bundle(2, 3, seed=6)
    ras = read_population(_raster(tmp_path / "p.tif", b.communes)).data
    pts, notes = settlements_from_raster(b.communes, ras, block_m=1000.0)
    assert (pts["source"] == "population raster").all()
    assert pts.village_id.str.match(r"raster-\d{5}-\d+").all()
    ref, _ = villages_from_raster(b.villages, b.communes, ras)  # same cells, other points
    per = pts.groupby("commune_code").population.sum()
    exp = ref.groupby("commune_code").population.sum()
    # per-point rounding of persons: at most 0.5 person per point apart
    for code in exp.index:
        assert abs(per[code] - exp[code]) <= 0.5 * (pts.commune_code == code).sum() + 0.5
    assert "settlement points derived" in notes[0]


def test_import_derives_settlements_from_a_raster(tmp_path):
    b = synthetic_bundle(2, 3, seed=6)
    b.communes.to_file(tmp_path / "c.geojson")
    _raster(tmp_path / "p.tif", b.communes)
    r = _invoke(["data", "import", "--communes", tmp_path / "c.geojson", "--population",
                 tmp_path / "p.tif", "--settlements-from-population", "--out", tmp_path / "o"])
    assert r.exit_code == 0, r.output
    got = load_bundle(tmp_path / "o")
    assert len(got.villages) > 2 and (got.villages["source"] == "population raster").all()
    assert "settlement points derived" in got.provenance["villages"].note


def test_bad_population_rasters(tmp_path):
    b = synthetic_bundle(2, 3, seed=6)
    b.communes.to_file(tmp_path / "c.geojson")
    b.villages.assign(lat=b.villages.geometry.y, lon=b.villages.geometry.x).drop(
        columns="geometry").to_csv(tmp_path / "v.csv", index=False)
    far = _raster(tmp_path / "far.tif", b.communes, shift_m=300_000.0)
    before = far.read_bytes()
    r = _invoke(["data", "import", "--communes", tmp_path / "c.geojson", "--villages",
                 tmp_path / "v.csv", "--population", far, "--villages-scale", "raster",
                 "--out", tmp_path / "o"])
    assert r.exit_code == 2 and "does not overlap the communes" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists() and far.read_bytes() == before
    utm = _raster(tmp_path / "utm.tif", b.communes)
    with pytest.raises(CRSError, match="mixed CRS"):
        read_population(utm, crs="EPSG:4326")
    r = _invoke(["data", "validate", utm, "--kind", "population", "--crs", "EPSG:4326"])
    assert r.exit_code == 2 and "mixed CRS" in r.stderr
    # the same raster in UTM is read as it is: cells are placed through its own CRS
    r = _invoke(["data", "import", "--communes", tmp_path / "c.geojson", "--villages",
                 tmp_path / "v.csv", "--population", utm, "--villages-scale", "raster",
                 "--out", tmp_path / "ok"])
    assert r.exit_code == 0, r.output
    assert load_bundle(tmp_path / "ok").villages.population.sum() > 0


# --- inferred feeders ----------------------------------------------------------------------------


def test_feeders_join_every_commune_pop_along_roads():
    b = _without(synthetic_bundle(4, 3, seed=7), "fibre", "fibre_nodes")
    f = infer_feeders(assume_pops(b))
    assert len(f.pops_reached) == 3 and not f.pops_unreachable
    assert len(f.routes) > 0 and (f.routes["status"] == FEEDER_LABEL).all()
    s = f.summary()
    assert s["km"] == pytest.approx(f.routes["length_m"].sum() / 1000, rel=1e-12)
    with pytest.raises(DataError, match="not a POP"):
        infer_feeders(assume_pops(b), provincial_pop="nope")
    lone = Bundle(b.name, {**b.layers, "fibre_nodes": _nodes([(105.3, 20.8)], ["P"])})
    with pytest.raises(DataError, match="at least two POPs"):
        infer_feeders(lone)
    island = b.roads.iloc[:0]
    with pytest.raises(DataError, match="no roads"):
        infer_feeders(Bundle(b.name, {**assume_pops(b).layers, "roads": island}))


def test_cost_curves_give_each_level_as_a_share_of_the_census_too(disc):
    # a commune without villages: its census households and persons are unknown, so the curves'
    # levels (shares of what the villages carry) are also given as shares of the census
    b = synthetic_bundle(6, 8, seed=3)
    b.layers["villages"] = b.villages[b.villages.commune_code != "04957"].reset_index(drop=True)
    plan = make_plan(validate(b))
    row = plan.gaps.province.iloc[0]
    for key, d in (("mobile_4G_population", "population"), ("fibre_households", "households")):
        curve = plan.cost_curves[key]
        share = float(row[d]) / (float(row[d]) + float(row[f"{d}_unrepresented"]))
        assert 0.5 < share < 1.0  # the premise: one commune of six is unrepresented
        # products of two floats: 1e-9 of a percentage point
        assert curve["represented_pct"] == pytest.approx(100 * share, abs=1e-9)
        assert curve["points"], key
        for q in curve["points"]:
            assert q["census_pct"] == pytest.approx(q["pct"] * share, abs=1e-9)
    assert "census_pct" in " ".join(plan.assumptions)
