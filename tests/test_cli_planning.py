"""``phusong gaps`` and ``phusong plan`` on a bundle folder: outputs, --json, exit codes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from phusong.bundle import save_bundle, validate
from phusong.cli import main
from phusong.planning import _plan_deps as deps
from tests._synthetic import disc_coverage_matrix, disc_scores, synthetic_bundle


@pytest.fixture
def bundle_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(deps, "score_villages", disc_scores)
    monkeypatch.setattr(deps, "coverage_matrix", disc_coverage_matrix)
    return save_bundle(validate(synthetic_bundle(8, 6, seed=4)), tmp_path / "bundle")


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_plan_command_writes_the_folder(bundle_dir, tmp_path):
    out = tmp_path / "plan"
    r = _run("plan", bundle_dir, "--out", out, "--json", "--quiet")
    assert r.exit_code == 0, r.output + r.stderr
    report = json.loads(r.stdout)
    assert report["budgets_vnd"] == {"fibre": 45e9, "mobile": 440e9}
    assert sorted(p.name for p in out.iterdir()) == [
        "gaps_communes.csv", "gaps_districts.csv", "gaps_province.csv", "gaps_villages.csv",
        "plan.gpkg", "plan.json", "villages_plan.csv", "years"]
    assert sorted(p.name for p in (out / "years").iterdir()) == ["2025", "2030"]
    r = _run("plan", bundle_dir, "--out", out, "--quiet")
    assert r.exit_code == 2 and "already exists" in r.stderr and r.stderr.count("\n") == 1
    r = _run("plan", bundle_dir, "--out", out, "--quiet", "--overwrite", "--boundaries", "2025")
    assert r.exit_code == 0 and "bn VND" in r.stdout
    assert "04828" in (out / "gaps_communes.csv").read_text(encoding="utf-8")  # a 2025 unit


@pytest.mark.parametrize("toml, message", [
    ('budgets = 3\n', "[budgets] must hold tables"),
    ('[budgets.2025]\nmobile = 1\n', "unknown key 'mobile' in [budgets.2025]"),
    ('colour = "red"\n', "unknown key 'colour'"),
    ('[candidates]\ncluster_eps = 1.0\n', "unknown key 'cluster_eps' in [candidates]"),
    ('[costs]\nnew_site_vnd = "cheap"\n', "[costs] new_site_vnd must be a number"),
    ('[[targets]]\nindicator = "mobile_4G"\n', "missing key 'denominator'"),
    ('years = [2030, 2025]\n', "ascending"),
    ('name = \n', "not valid UTF-8 TOML"),
    ('[bands_5g]\nViettel = "n99"\n', "[bands_5g] Viettel = 'n99' is not a 5G band"),
    ('[bands_5g]\nVinaphone = "n78"\n', "'Vinaphone' is not an operator"),
    ('[candidates]\nlow_band_5g = "B8"\n', "low_band_5g 'B8' is not a 5G band"),
    ('[[targets]]\nindicator = "mobile_5G_Vietnamobile"\ndenominator = "population"\n'
     'threshold_pct = 90\nyear = 2030\n', "needs a 5G band for Vietnamobile"),
    ('[budgets.2025]\nmobile_vnd = "lots"\n', "mobile_vnd must be a number"),
])
def test_bad_scenarios_exit_2_with_one_line(bundle_dir, tmp_path, toml, message):
    path = tmp_path / "s.toml"
    path.write_text(toml, encoding="utf-8")
    out = tmp_path / "plan"
    r = _run("plan", bundle_dir, "--scenario", path, "--out", out, "--quiet")
    assert r.exit_code == 2, r.output + r.stderr
    assert message in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert not out.exists()  # nothing half-written


def test_gaps_command_text_and_bad_boundaries(bundle_dir, tmp_path):
    r = _run("gaps", bundle_dir, "--out", tmp_path / "g", "--quiet")
    assert r.exit_code == 0 and "fibre_available (households) 2025" in r.stdout
    r = _run("gaps", bundle_dir, "--out", tmp_path / "g", "--boundaries", "2019")
    assert r.exit_code == 2 and "2019" in r.stderr
    (tmp_path / "file").write_text("x")
    r = _run("gaps", bundle_dir, "--out", tmp_path / "file", "--quiet")
    assert r.exit_code == 2 and "not a folder" in r.stderr


def test_plan_candidates_option(bundle_dir, tmp_path):
    import geopandas as gpd

    from phusong import settings
    from phusong.bundle import load_bundle

    b = load_bundle(bundle_dir)
    cov = disc_scores(b)
    v = b.villages.set_index("village_id")
    gap = v.loc[~cov["covered_4G"].reindex(v.index).to_numpy()]
    at = gap.geometry[gap["households"].idxmax()]
    good = gpd.GeoDataFrame({"candidate_id": ["mine"], "kind": ["new"], "tech": ["4G"],
                             "operator": ["shared"], "cost_vnd": [1.0]}, geometry=[at],
                            crs=settings.STORE_CRS)
    good.to_file(tmp_path / "mine.geojson")
    r = _run("plan", bundle_dir, "--candidates", tmp_path / "mine.geojson", "--out",
             tmp_path / "plan", "--json", "--quiet")
    assert r.exit_code == 0, r.output + r.stderr
    assert "2025: 1 user candidate(s) offered, 1 chosen" in json.loads(r.stdout)["notes"]
    for name, bad, message in [("kind.geojson", {"kind": ["tower"]}, "kind 'tower'"),
                               ("band.geojson", {"band": ["B99"]}, "band 'B99' is not a 4G band")]:
        good.assign(**bad).to_file(tmp_path / name)
        out = tmp_path / f"plan-{name}"
        r = _run("plan", bundle_dir, "--candidates", tmp_path / name, "--out", out, "--quiet")
        assert r.exit_code == 2, r.output + r.stderr
        assert f"{tmp_path / name}: row 1 (mine) {message}" in r.stderr, r.stderr
        assert r.stderr.count("\n") == 1 and not out.exists()  # one line, nothing written
    r = _run("plan", bundle_dir, "--candidates", tmp_path / "none.geojson", "--out",
             tmp_path / "p2", "--quiet")
    assert r.exit_code == 2 and "no such candidates file" in r.stderr


def test_plan_infer_feeders_within_the_scenarios_time_limit(tmp_path, monkeypatch):
    """``--infer-feeders`` runs inside the plan, under the scenario's ``time_limit_s`` (main ran
    it after the plan, outside any limit): with 1 ms the feeders are not inferred (no time for
    their road graph) and ``plan.json`` lists them with the candidates cut (not generated: the
    time is up before the first year); stdout is one JSON document, with the seconds the
    limit does not bound (reading, writing); the text summary says the feeders were not
    inferred."""
    from phusong.bundle import Bundle

    monkeypatch.setattr(deps, "score_villages", disc_scores)
    monkeypatch.setattr(deps, "coverage_matrix", disc_coverage_matrix)
    b = validate(synthetic_bundle(8, 6, seed=4))
    drop = ("fibre", "fibre_nodes")  # POPs assumed at the commune centres
    b = Bundle(b.name, {k: v for k, v in b.layers.items() if k not in drop}, dict(b.rasters),
               {k: v for k, v in b.provenance.items() if k not in drop}, b.boundaries,
               dict(b.meta))
    bundle_dir = save_bundle(b, tmp_path / "bundle")
    toml = tmp_path / "s.toml"
    toml.write_text("time_limit_s = 0.001\n", encoding="utf-8")
    r = _run("plan", bundle_dir, "--scenario", toml, "--out", tmp_path / "plan",
             "--infer-feeders", "--json", "--quiet")
    assert r.exit_code == 0, r.output + r.stderr
    report = json.loads(r.stdout)
    stopped = report["time_limit"]["stopped"]
    from phusong.planning.plan import FEEDERS_CUT

    assert FEEDERS_CUT in stopped, stopped
    assert any(s.startswith("2025 candidate generation (not started") for s in stopped), stopped
    assert report["feeders_inferred"] is None
    # what the limit does not bound is measured and said: reading the inputs (plan.json too)
    # and writing the plan (stdout only: plan.json is written by then)
    outside = report["time_limit"]["outside_s"]
    assert set(outside) == {"reading the inputs", "writing the plan"}, outside
    meta = json.loads((tmp_path / "plan" / "plan.json").read_text(encoding="utf-8"))
    assert set(meta["time_limit"]["outside_s"]) == {"reading the inputs"}
    r = _run("plan", bundle_dir, "--scenario", toml, "--out", tmp_path / "plan2",
             "--infer-feeders", "--quiet")
    assert r.exit_code == 0, r.output + r.stderr
    assert "feeders (inferred): not inferred, the time limit came first" in r.stdout
