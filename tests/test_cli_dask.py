"""``phusong plan … --workers N`` and ``phusong demo --workers N`` as a user runs them: each
command starts its own LocalCluster of worker processes, and its outputs equal the in-process
run's (files byte for byte; plan.json and the GeoPackage by value, since they record seconds and
a write timestamp).

Both run on a small synthetic province (4 communes, 4 sites, real ITM on its DEM) so the test
stays small: ``demo`` gets it in place of the full twin (``build_twin`` is replaced; the twin's
own build is covered by test_twin_build and test_demo), everything after the twin — coverage,
gaps, the plan's candidate matrices, map, exports, briefing — runs as in a real demo.
"""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("distributed", reason="dask.distributed not installed "
                    "(pip install 'phusong[dask]')")


def _small():
    from phusong.bundle import validate
    from tests._synthetic import synthetic_bundle

    return validate(synthetic_bundle(4, 5, seed=4))


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    from phusong.bundle import save_bundle

    return save_bundle(_small(), tmp_path_factory.mktemp("b") / "bundle")


@pytest.fixture()
def tasks(monkeypatch):
    """Counts the tasks submitted to dask (proof that the cluster did the work)."""
    from phusong.coverage._dask_exec import DaskExecutor

    n = {"tasks": 0}
    submit = DaskExecutor.submit

    def counting(self, fn, *args, **kw):
        n["tasks"] += 1
        return submit(self, fn, *args, **kw)

    monkeypatch.setattr(DaskExecutor, "submit", counting)
    return n


def _run(*args):
    from phusong.cli import main

    r = CliRunner().invoke(main, [str(a) for a in args])
    assert r.exit_code == 0, r.output + r.stderr
    return r


def _no_seconds(obj):
    """``obj`` without the wall-clock entries (keys named ``seconds``)."""
    if isinstance(obj, dict):
        return {k: _no_seconds(v) for k, v in obj.items() if k != "seconds"}
    if isinstance(obj, list):
        return [_no_seconds(v) for v in obj]
    return obj


def _same_plan(a: Path, b: Path) -> None:
    import pyogrio

    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for f in files:
        if f.suffix == ".json":
            assert _no_seconds(json.loads((a / f).read_text(encoding="utf-8"))) == \
                _no_seconds(json.loads((b / f).read_text(encoding="utf-8"))), f
        elif f.suffix == ".gpkg":
            for name, _ in pyogrio.list_layers(a / f):
                la = pyogrio.read_dataframe(a / f, layer=name)
                lb = pyogrio.read_dataframe(b / f, layer=name)
                assert la.equals(lb), (f, name)
        else:
            assert filecmp.cmp(a / f, b / f, shallow=False), f


def test_plan_with_workers_equals_the_local_plan(bundle_dir, tmp_path, tasks):
    _run("plan", bundle_dir, "--out", tmp_path / "local", "--quiet")
    assert tasks["tasks"] == 0
    r = _run("plan", bundle_dir, "--out", tmp_path / "dask", "--workers", "2", "--quiet",
             "--json")
    assert tasks["tasks"] > 0  # the coverage work of the plan ran on the cluster
    assert json.loads(r.stdout)["totals"]
    _same_plan(tmp_path / "local", tmp_path / "dask")


def test_demo_with_workers_equals_the_local_demo(tmp_path, tasks, monkeypatch):
    import phusong.twin

    monkeypatch.setattr(phusong.twin, "build_twin", lambda seed=0, variant="2022": _small())
    args = ["demo", "--quiet", "--json", "--resolution-m", "500"]
    _run(*args, "--out", tmp_path / "local")
    assert tasks["tasks"] == 0
    r = _run(*args, "--out", tmp_path / "dask", "--workers", "2")
    assert tasks["tasks"] > 0
    report = json.loads(r.stdout)
    assert "coverage/best_dbm_4G.tif" in report["files"]
    cov_l, cov_d = tmp_path / "local" / "coverage", tmp_path / "dask" / "coverage"
    names = sorted(p.name for p in cov_l.iterdir())
    assert names == sorted(p.name for p in cov_d.iterdir())
    # every coverage raster and table byte-identical (coverage.json records the executor)
    assert [n for n in names if n != "coverage.json"
            and not filecmp.cmp(cov_l / n, cov_d / n, shallow=False)] == []
    _same_plan(tmp_path / "local" / "plan", tmp_path / "dask" / "plan")
    for rel in ("twin_stats.json", "briefing/summary.json"):
        assert _no_seconds(json.loads((tmp_path / "local" / rel).read_text("utf-8"))) == \
            _no_seconds(json.loads((tmp_path / "dask" / rel).read_text("utf-8"))), rel
