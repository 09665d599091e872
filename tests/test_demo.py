"""``phusong demo`` end to end on the whole embedded default (the one run of the full province
in the suite: twin → coverage → calibration → gaps → plan → map, exports, briefing).

It asserts every calibration figure of the full twin against its published value and
tolerance (issue: the embedded default), and that every output a user is told about exists.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from phusong.bundle import load_bundle
from phusong.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    # 1 km rasters keep the suite fast; the demo's own default is 250 m
    res = CliRunner().invoke(main, ["demo", "--out", str(out), "--quiet", "--json",
                                    "--resolution-m", "1000"])
    assert res.exit_code == 0, res.output
    return out, json.loads(res.stdout)


def test_full_twin_is_calibrated(demo):
    out, report = demo
    stats = json.loads((out / "twin_stats.json").read_text(encoding="utf-8"))
    figs = {f["name"]: f for f in stats["figures"]}
    bad = [f for f in stats["figures"] if f["ok"] is False]
    assert not bad, bad
    assert report["calibration_ok"]
    # the published figures themselves (FACTS §1), and each value within its tolerance
    published = {"sites": 1350, "cells": 2650, "villages_any_mobile_pct": 99.6,
                 "villages_3g_pct": 91.0, "villages_4g_pct": 81.0,
                 "commune_centres_mobile_pct": 100.0, "commune_centres_fibre_pct": 100.0,
                 "population": 854_131}
    tolerance = {"sites": 13.5, "cells": 26.5, "villages_any_mobile_pct": 0.3,
                 "villages_3g_pct": 2.0, "villages_4g_pct": 2.0,
                 "commune_centres_mobile_pct": 0.0, "commune_centres_fibre_pct": 0.0,
                 "population": 0}
    for name, value in published.items():
        assert figs[name]["published"] == value
        assert abs(figs[name]["value"] - value) <= tolerance[name], figs[name]
    assert figs["communes_with_site"]["value"] == 151
    assert stats["synthetic"] is True


def test_every_output_is_written(demo):
    out, report = demo
    for rel in ("map.html", "plan/plan.json", "plan/plan.gpkg", "plan/gaps_communes.csv",
                "coverage/villages.csv", "coverage/best_dbm_4G.tif",
                "exports/candidates.zip", "exports/candidates.gpkg", "exports/candidates.kml",
                "exports/candidates.csv", "briefing/briefing.xlsx", "briefing/summary.json",
                "briefing/chart_coverage_by_tech.png", "twin_stats.json", "bundle/bundle.toml"):
        assert (out / rel).is_file(), rel
    assert set(report["seconds"]) >= {"twin", "coverage", "gaps", "plan", "outputs", "total"}
    html = (out / "map.html").read_text(encoding="utf-8")
    assert "synthetic demonstration data" in html
    plan = json.loads((out / "plan" / "plan.json").read_text(encoding="utf-8"))
    bundle = load_bundle(out / "bundle")
    assert len(bundle.communes) == 151 and bundle.synthetic
    from phusong.bundle import fingerprint

    assert plan["bundle_fingerprint"] == fingerprint(bundle)
    # the plan stays within Plan 785's budget lines (FACTS §3)
    assert plan["totals"]["fibre_vnd"] <= 45_000e6 and plan["totals"]["mobile_vnd"] <= 440_000e6


def test_output_folder_that_cannot_be_made(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    res = CliRunner().invoke(main, ["demo", "--out", str(blocker / "out"), "--quiet"])
    assert res.exit_code == 2
    assert res.stderr.strip().startswith("error:") and "cannot create the output folder" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and blocker.read_text() == "x"
