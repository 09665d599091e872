"""A plan at a chosen reliability (issue 17): the settings' ``radio.reliability_pct`` (scenario
``[radio]`` or ``--set``), and the candidate matrix with the same clutter and percentage as the
existing network's scores."""

from __future__ import annotations

import numpy as np
import pytest

from phusong import settings
from phusong.bundle import Raster, validate
from phusong.coverage import coverage_matrix, transmitters
from phusong.coverage.clutter import WORLDCOVER_CODES, clutter_table, prepare_clutter
from phusong.coverage.reliability import location_margin_db
from phusong.crs import transform_points
from phusong.errors import DataError, ModelError
from phusong.planning.plan import make_plan
from phusong.planning.scenario import scenario_from_dict
from tests._synthetic import synthetic_bundle


@pytest.fixture(scope="module")
def small():
    return validate(synthetic_bundle(3, 6, seed=2))


def _receivers(b):
    v = b.villages
    return transform_points(v.geometry.x, v.geometry.y, v.crs.to_string(), settings.WORK_CRS)


def _trees(dem: Raster) -> Raster:
    return Raster(np.full(dem.array.shape, 10.0, np.float32), dem.transform, dem.crs, "class")


def test_coverage_matrix_margins_carry_reliability_and_clutter(small):
    tx = transmitters(small)
    x, y = _receivers(small)
    kw = dict(model="hata", margins=True, threshold_dbm=-400.0)  # keep every pair in reach
    m50 = coverage_matrix(tx, x, y, small.dem, **kw).toarray()
    m90 = coverage_matrix(tx, x, y, small.dem, reliability_pct=90.0, **kw).toarray()
    both = (m50 > 0) & (m90 > 0)
    assert both.sum() > 10
    # Hata at 90 % of locations loses exactly z(0.9)·σ_rural = 1.2816 × 8 dB (float sums: 1e-9)
    assert np.allclose(m50[both] - m90[both], location_margin_db(90.0, "rural"), atol=1e-9)
    lc = prepare_clutter(_trees(small.dem))
    mc = coverage_matrix(tx, x, y, small.dem, clutter=lc, **kw).toarray()
    trees = WORLDCOVER_CODES.index(10)
    loss = {f: clutter_table([f], settings.RADIO.rx_height_m)[trees, 0]
            for f in tx["freq_mhz"].unique()}
    want = np.array([loss[f] for f in tx["freq_mhz"]])
    cols = np.broadcast_to(want[None, :], m50.shape)
    # every receiver stands in trees: P.2108's loss at each cell's frequency (1e-9: float sums)
    assert np.allclose((m50 - mc)[both], cols[both], atol=1e-9)
    assert want.min() > 15.0  # trees at 0.9–2.1 GHz: ≈ 22–27 dB, far from a no-op


def test_coverage_matrix_refuses_reliability_outside_0_100(small):
    tx = transmitters(small)
    x, y = _receivers(small)
    with pytest.raises(ModelError, match="between 0 and 100"):
        coverage_matrix(tx, x, y, small.dem, model="hata", reliability_pct=100.0)


@pytest.mark.parametrize("bad", [0, 100, 120.0, -5, "90"])
def test_scenario_reliability_refused_outside_0_100(bad):
    with pytest.raises(DataError, match="reliability_pct"):
        scenario_from_dict({"radio": {"reliability_pct": bad}})


def test_scenario_reliability_read():
    assert scenario_from_dict({"radio": {"reliability_pct": 90}}).config.radio.reliability_pct \
        == 90.0
    assert scenario_from_dict({}).config.radio.reliability_pct == settings.RELIABILITY_PCT


def test_plan_at_90_pct_scores_and_sites_at_90_pct(small, monkeypatch):
    """A budget plan at 50 % and at 90 %: today's coverage falls at 90 %, every candidate
    matrix is computed at the scenario's percentage with the bundle's clutter, and the plan
    says which percentage it used."""
    from phusong.bundle import Bundle
    from phusong.coverage.clutter import ClutterMap
    from phusong.planning import _plan_deps as deps

    b = Bundle(small.name, dict(small.layers), dict(small.rasters) | {"landcover": _trees(
        small.dem)}, dict(small.provenance), small.boundaries, dict(small.meta))
    calls = []
    real = deps.coverage_matrix

    def spy(*a, **kw):
        calls.append(kw)
        return real(*a, **kw)

    monkeypatch.setattr(deps, "coverage_matrix", spy)
    from phusong.planning._plan_kernels import warm_here

    warm_here("hata")  # compiled and recorded: the limited plans below need no child
    doc = {"model": "hata", "time_limit_s": 5.0, "years": [2025]}
    p50 = make_plan(b, scenario=scenario_from_dict(doc))
    n50 = len(calls)
    p90 = make_plan(b, scenario=scenario_from_dict(doc | {"radio": {"reliability_pct": 90.0}}))
    assert n50 and len(calls) > n50
    assert all(c["config"].radio.reliability_pct == 50.0 for c in calls[:n50])
    assert all(c["config"].radio.reliability_pct == 90.0 for c in calls[n50:])
    assert all(isinstance(c["clutter"], ClutterMap) for c in calls)
    rec = p90.scenario.to_dict()["settings"]  # travels into plan.json
    assert rec["values"]["radio.reliability_pct"] == 90.0
    assert rec["from"]["radio.reliability_pct"] != "default"

    def baseline(p, tech):
        return next(t for t in p.years[0]["targets"]
                    if t["indicator"] == f"mobile_{tech}")["baseline_pct"]

    # 10.25 dB of location margin loses 4G villages on this fixture
    assert baseline(p90, "4G") < baseline(p50, "4G")


def test_cli_plan_takes_the_reliability_from_set_and_refuses_a_bad_one(tmp_path, monkeypatch):
    """``plan --set radio.reliability_pct=90`` is recorded in plan.json; 100 is one line, exit 2,
    nothing written."""
    import json

    from click.testing import CliRunner

    from phusong.bundle import save_bundle
    from phusong.cli import main
    from phusong.planning import _plan_deps as deps
    from tests._synthetic import disc_coverage_matrix, disc_scores

    monkeypatch.setattr(deps, "score_villages", disc_scores)
    monkeypatch.setattr(deps, "coverage_matrix", disc_coverage_matrix)
    b = save_bundle(validate(synthetic_bundle(4, 5, seed=4)), tmp_path / "b")
    r = CliRunner().invoke(main, ["plan", str(b), "--out", str(tmp_path / "p"), "--quiet",
                                  "--set", "radio.reliability_pct=90"])
    assert r.exit_code == 0, r.output
    rec = json.loads((tmp_path / "p" / "plan.json").read_text())["scenario"]["settings"]
    assert rec["values"]["radio.reliability_pct"] == 90.0
    assert rec["from"]["radio.reliability_pct"] == "--set"
    r = CliRunner().invoke(main, ["plan", str(b), "--out", str(tmp_path / "q"), "--quiet",
                                  "--set", "radio.reliability_pct=100"])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "between 0 and 100" in r.stderr
    assert not (tmp_path / "q").exists()
