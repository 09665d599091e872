"""``--p1812-maps`` on ``phusong gaps`` and ``phusong plan``: the user's ITU maps reach the
engine that scores the villages and the candidate sites (issue 19), and bad input is one line.

The maps are synthetic (written here into ``tmp_path``; the ITU's own maps are never copied
into the repository).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from phusong.bundle import save_bundle, validate
from phusong.cli import main
from phusong.coverage.p1812._maps import GRID_SHAPE
from phusong.planning import _plan_deps as deps
from tests._synthetic import synthetic_bundle

DN, N0 = 61.0, 342.0  # constant maps: the same as --set p1812.delta_n/n0 at every path centre


def _write_maps(folder, dn=DN, n0=N0, shape=GRID_SHAPE):
    folder.mkdir(exist_ok=True)
    np.savetxt(folder / "DN50.TXT", np.full(shape, dn), fmt="%.3f")
    np.savetxt(folder / "N050.TXT", np.full(shape, n0), fmt="%.3f")
    return folder


@pytest.fixture
def bundle_dir(tmp_path):
    return save_bundle(validate(synthetic_bundle(2, 4, seed=4)), tmp_path / "bundle")


@pytest.fixture
def seen(monkeypatch):
    """The real engine, with the ΔN/N0 source of each call it gets recorded."""
    calls = []
    real_villages, real_matrix = deps.score_villages, deps.coverage_matrix

    def villages(bundle, **kw):
        calls.append(("villages", kw["model"], kw["config"].p1812.maps))
        return real_villages(bundle, **kw)

    def matrix(*a, **kw):
        calls.append(("matrix", kw["model"], kw["config"].p1812.maps))
        return real_matrix(*a, **kw)

    monkeypatch.setattr(deps, "score_villages", villages)
    monkeypatch.setattr(deps, "coverage_matrix", matrix)
    return calls


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_gaps_with_maps_equals_the_same_values_as_settings(bundle_dir, tmp_path, seen):
    maps = _write_maps(tmp_path / "maps")
    r = _run("gaps", bundle_dir, "--model", "p1812", "--p1812-maps", maps, "--out",
             tmp_path / "a", "--quiet")
    assert r.exit_code == 0, r.output + r.stderr
    assert [(k, m) for k, m, _ in seen] == [("villages", "p1812")]
    assert seen[0][2] is not None  # the maps reached the engine
    r = _run("gaps", bundle_dir, "--model", "p1812", "--set", f"p1812.delta_n={DN}", "--set",
             f"p1812.n0={N0}", "--out", tmp_path / "b", "--quiet")
    assert r.exit_code == 0, r.output + r.stderr
    assert seen[1][2] is None
    # constant maps interpolate to exactly DN/N0 at every path centre: identical tables
    a = pd.read_csv(tmp_path / "a" / "gaps_villages.csv")
    b = pd.read_csv(tmp_path / "b" / "gaps_villages.csv")
    pd.testing.assert_frame_equal(a, b)


def test_plan_with_maps_scores_villages_and_candidates_with_them(bundle_dir, tmp_path, seen):
    maps = _write_maps(tmp_path / "maps")
    scenario = tmp_path / "p1812.toml"
    scenario.write_text('model = "p1812"\nyears = [2025]\n', encoding="utf-8")
    r = _run("plan", bundle_dir, "--scenario", scenario, "--p1812-maps", maps, "--out",
             tmp_path / "plan", "--quiet")
    assert r.exit_code == 0, r.output + r.stderr
    kinds = {k for k, _, _ in seen}
    assert kinds == {"villages", "matrix"}  # the candidate matrix too
    assert all(m == "p1812" and mp is not None for _, m, mp in seen)
    assert (tmp_path / "plan" / "plan.json").exists()


@pytest.mark.parametrize("cmd, extra, words", [
    ("gaps", ["--model", "itm", "--p1812-maps", "MAPS"],
     "--p1812-maps: only for --model p1812 (this run's model is 'itm')"),
    ("gaps", ["--model", "p1812", "--p1812-maps", "MISSING"], "no such folder"),
    ("gaps", ["--model", "p1812", "--p1812-maps", "SHORT"], "120 × 241"),
    ("plan", ["--p1812-maps", "MAPS"], 'set model = "p1812" in the --scenario TOML'),
    ("plan", ["--scenario", "TOML", "--p1812-maps", "SHORT"], "120 × 241"),
    ("plan", ["--scenario", "TOML", "--p1812-maps", "MISSING"], "no such folder"),
])
def test_bad_maps_exit_2_one_line_nothing_written(bundle_dir, tmp_path, seen, cmd, extra,
                                                 words):
    _write_maps(tmp_path / "MAPS")
    _write_maps(tmp_path / "SHORT", shape=(120, 241))
    (tmp_path / "TOML").write_text('model = "p1812"\n', encoding="utf-8")
    extra = [str(tmp_path / e) if e in ("MAPS", "MISSING", "SHORT", "TOML") else e
             for e in extra]
    r = _run(cmd, bundle_dir, *extra, "--out", tmp_path / "out", "--quiet")
    assert r.exit_code == 2, r.output
    err = r.stderr.strip()
    assert words in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists() and seen == []  # refused before any work
