"""``phusong plan apply``: a plan folder applied to its bundle, year by year, and every bad input.

The plan is made on the small synthetic planning bundle with the disc stand-ins of
``tests._synthetic`` (as in ``test_plan.py``), so re-scoring the applied bundle with the same
stand-in must give the services the plan reported.
"""

from __future__ import annotations

import json

import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner

from phusong import settings
from phusong.bundle import fingerprint, load_bundle, save_bundle, validate
from phusong.cli import main
from phusong.errors import DataError, InputFileError
from phusong.planning import _plan_deps as deps
from phusong.planning.apply import apply_plan, read_plan_actions
from phusong.planning.plan import make_plan
from phusong.planning.scenario import scenario_from_dict
from tests._synthetic import disc_coverage_matrix, disc_scores, synthetic_bundle

YEARS = (2025, 2030)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """(bundle, bundle folder, plan folder, plan.json) of a plan building in both years."""
    root = tmp_path_factory.mktemp("apply")
    bundle = validate(synthetic_bundle(8, 6, seed=4))
    s = scenario_from_dict({"name": "test", "budgets": {
        str(y): {"mobile_vnd": 150e9, "fibre_vnd": 10e9} for y in YEARS}})
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(deps, "score_villages", disc_scores)
        mp.setattr(deps, "coverage_matrix", disc_coverage_matrix)
        plan = make_plan(bundle, scenario=s)
    folder = plan.write(root / "plan")
    report = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
    return bundle, save_bundle(bundle, root / "bundle"), folder, report


def _n(df) -> int:
    return 0 if df is None else len(df)


@pytest.mark.parametrize("year", YEARS)
def test_apply_builds_the_plan_years_up_to_year_only(setup, year):
    bundle, _, folder, report = setup
    _, chosen, routes = read_plan_actions(folder)
    assert set(chosen["year"]) == set(YEARS)  # both years build something
    done = chosen[chosen["year"] <= year]
    entries = [e for e in report["years"] if e["year"] <= year]
    new = done[done["kind"] == "new"]
    assert len(new) == sum(e["new_sites"] for e in entries)
    assert (done["kind"] == "upgrade").sum() == sum(e["upgrades_4G"] + e["upgrades_5G"]
                                                    for e in entries)
    applied = apply_plan(bundle, folder, year=year)
    n_sites = sum(len(settings.OPERATORS) if op == "shared" else 1 for op in new["operator"])
    assert _n(applied.sites) - _n(bundle.sites) == n_sites > 0
    assert _n(applied.cells) > _n(bundle.cells)
    assert _n(applied.fibre) - _n(bundle.fibre) == (routes["year"] <= year).sum() > 0
    built = set(applied.sites["site_id"])
    for _, c in chosen[chosen["kind"] == "new"].iterrows():  # later years' sites are absent
        assert any(s.startswith(f"P{c['candidate_id']}") for s in built) == (c["year"] <= year)
    assert set(applied.fibre["kind"]) - set(bundle.fibre["kind"]) == {
        f"planned {y}" for y in YEARS if y <= year}
    # provenance and name say which plan, and the bundle it came from is untouched
    assert applied.name == f"{bundle.name} + plan test {year}"
    assert "phusong plan 'test'" in applied.provenance["sites"].source
    assert [a["year"] for a in applied.meta["applied_plans"]] == [y for y in YEARS if y <= year]
    assert {a["source_fingerprint"] for a in applied.meta["applied_plans"]} == {fingerprint(bundle)}
    assert "applied_plans" not in bundle.meta


def test_applied_bundle_saves_loads_and_rescoring_reproduces_the_plan(setup, tmp_path):
    bundle, _, folder, report = setup
    villages = pd.DataFrame(report["villages"]).set_index("village_id")
    for year in YEARS:
        applied = apply_plan(bundle, folder, year=year)
        path = save_bundle(applied, tmp_path / str(year))
        back = validate(load_bundle(path))
        assert back.name == applied.name and _n(back.sites) == _n(applied.sites)
        assert _n(back.cells) == _n(applied.cells) and _n(back.fibre) == _n(applied.fibre)
        cov = disc_scores(back).reindex(villages.index)
        service = villages[f"service_{year}"]
        mobile = service != "fibre"  # a fibre village's mobile service is not reported
        assert (service == "5G").sum() > 0
        # the 5G villages are exactly the non-fibre villages the re-scored network covers by 5G
        assert (cov.loc[mobile, "covered_5G"] == (service[mobile] == "5G")).all()
        assert cov.loc[service == "4G", "covered_4G"].all()


def test_apply_refuses_another_bundle_a_missing_year_and_a_bad_folder(setup, tmp_path):
    bundle, _, folder, _ = setup
    with pytest.raises(DataError, match=r"plan\.json: the plan was made from another bundle"):
        apply_plan(validate(synthetic_bundle(8, 6, seed=5)), folder, year=2025)
    with pytest.raises(DataError, match="has no year 2027; choose one of 2025, 2030"):
        apply_plan(bundle, folder, year=2027)
    with pytest.raises(InputFileError, match="no such plan folder"):
        apply_plan(bundle, tmp_path / "nowhere", year=2025)
    broken = tmp_path / "broken"
    broken.mkdir()
    with pytest.raises(InputFileError, match=r"plan\.json: missing"):
        apply_plan(bundle, broken, year=2025)
    (broken / "plan.json").write_text("{", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"plan\.json: unreadable"):
        apply_plan(bundle, broken, year=2025)
    (broken / "plan.json").write_text((folder / "plan.json").read_text(encoding="utf-8"),
                                      encoding="utf-8")
    with pytest.raises(InputFileError, match=r"plan\.gpkg: missing"):
        apply_plan(bundle, broken, year=2025)
    sites = pyogrio.read_dataframe(folder / "plan.gpkg", layer="candidate_sites")
    pyogrio.write_dataframe(sites, broken / "plan.gpkg", layer="candidate_sites")
    with pytest.raises(InputFileError, match="cannot read layer 'fibre_routes'"):
        apply_plan(bundle, broken, year=2025)


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_plan_apply_command_text_and_json(setup, tmp_path):
    bundle, bundle_dir, folder, _ = setup
    out = tmp_path / "after2025"
    r = _run("plan", "apply", bundle_dir, "--plan", folder, "--year", 2025, "--out", out, "--quiet")
    assert r.exit_code == 0, r.output + r.stderr
    assert "years 2025 applied" in r.stdout and f"wrote {out}" in r.stdout
    assert load_bundle(out).name == f"{bundle.name} + plan test 2025"
    r = _run("plan", "apply", bundle_dir, "--plan", folder, "--year", 2030, "--out", out,
             "--overwrite", "--json", "--quiet")
    assert r.exit_code == 0, r.output + r.stderr
    rep = json.loads(r.stdout)
    applied = load_bundle(out)
    assert rep["years_applied"] == [2025, 2030] and rep["out"] == str(out)
    assert rep["added"]["sites"] == _n(applied.sites) - _n(bundle.sites) > 0
    assert rep["added"]["fibre"] == _n(applied.fibre) - _n(bundle.fibre) > 0
    r = _run("plan", "--help")
    assert r.exit_code == 0 and "phusong plan apply" in r.stdout and "--scenario" in r.stdout


@pytest.mark.parametrize("case, message", [
    ("other bundle", "made from another bundle"),
    ("year", "has no year 2027"),
    ("no plan", "no such plan folder"),
    ("exists", "already exists; pass --overwrite"),
    ("input", "is the input bundle"),
])
def test_plan_apply_command_bad_inputs_exit_2_and_write_nothing(setup, tmp_path, case, message):
    bundle, bundle_dir, folder, _ = setup
    src, plan, year, out = bundle_dir, folder, 2025, tmp_path / "out"
    extra = []
    if case == "other bundle":
        src = save_bundle(validate(synthetic_bundle(8, 6, seed=5)), tmp_path / "other")
    elif case == "year":
        year = 2027
    elif case == "no plan":
        plan = tmp_path / "nowhere"
    elif case == "exists":
        out.mkdir()
    else:
        out, extra = bundle_dir, ["--overwrite"]
    before = sorted(p.name for p in tmp_path.iterdir())
    r = _run("plan", "apply", src, "--plan", plan, "--year", year, "--out", out, "--quiet", *extra)
    assert r.exit_code == 2, r.output + r.stderr
    assert message in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written
    if case == "exists":
        assert not any(out.iterdir())
    assert load_bundle(bundle_dir).name == bundle.name
