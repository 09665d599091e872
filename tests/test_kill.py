"""Outputs that survive a kill (issue 18): ``coverage``, ``plan``, ``export`` and ``twin build``
SIGKILLed at several moments of their writing leave the previous output intact, or no output
at all — never a half-written one.

Each command runs in a subprocess under ``tests/kill_driver.py``, which counts the file-system
changes it makes under the test's folder and SIGKILLs itself just before the k-th one: the
moments are deterministic (first writes into the temporary folder, the middle of the writing,
the rename of the old output aside, the rename of the new one into place) rather than timed,
so the test cannot pass by killing too early or too late. Small fixtures: one district of the
twin with the Hata model, villages-only or 2 km coverage, a one-year plan.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / "tests" / "kill_driver.py"


def _drive(k: int, watch: Path, args: list, count_file: Path,
           exchange: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if not exchange:
        env["KILL_DRIVER_NO_EXCHANGE"] = "1"
    return subprocess.run([sys.executable, str(DRIVER), str(k), str(watch), str(count_file),
                           "--", *[str(a) for a in args]], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def _digest(path: Path) -> dict[str, str]:
    """sha256 of every file under ``path`` (or of ``path`` itself), by relative name."""
    if path.is_file():
        return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()}
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    """One district of the twin (Hata), a one-year scenario and a plan of it."""
    from click.testing import CliRunner

    from phusong.bundle import save_bundle
    from phusong.cli import main
    from phusong.twin import build_twin

    d = tmp_path_factory.mktemp("kill")
    save_bundle(build_twin(seed=0, districts=["154"], model="hata"), d / "bundle")
    (d / "scenario.toml").write_text('name = "kill test"\nyears = [2025]\nmodel = "hata"\n'
                                     "time_limit_s = 5\n", encoding="utf-8")
    r = CliRunner().invoke(main, ["plan", str(d / "bundle"), "--scenario",
                                  str(d / "scenario.toml"), "--out", str(d / "plan"), "--quiet"])
    assert r.exit_code == 0, r.output
    return d


def _commands(d: Path) -> dict:
    return {
        "coverage": lambda out: ["coverage", d / "bundle", "--out", out, "--model", "hata",
                                 "--resolution-m", "5000", "--threads", "1", "--quiet"],
        "plan": lambda out: ["plan", d / "bundle", "--scenario", d / "scenario.toml", "--out",
                             out, "--quiet"],
        "export": lambda out: ["export", d / "bundle", "--plan", d / "plan", "--format", "shp",
                               "--out", out],
        "twin build": lambda out: ["twin", "build", "--out", out, "--district", "154",
                                   "--model", "hata", "--quiet"],
    }


def _moments(log: list, out: Path) -> dict[str, int]:
    """1-based event numbers worth a kill: the first, the middle, the old output moved aside
    (two-rename path), the new one moved into place (rename or atomic exchange) and the event
    after that (the old output, now hidden, being removed)."""
    target = os.path.realpath(out)
    picks = {"first write": 1, "half-way": max(1, len(log) // 2)}
    for i, (kind, src, dst) in enumerate(log, start=1):
        if kind in ("replace", "rename") and src == target:
            picks["old moved aside"] = i
        if kind in ("replace", "rename", "exchange") and dst == target:
            picks["new moved into place"] = i
            if kind == "exchange" or "old moved aside" in picks:
                if i < len(log):
                    picks["after the move"] = i + 1
    return picks


def _hidden(work: Path, name: str) -> list[str]:
    return sorted(p.name for p in work.iterdir() if p.name.startswith(f".{name}."))


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "two-renames"])
@pytest.mark.parametrize("command", ["coverage", "plan", "export", "twin build"])
def test_sigkill_leaves_previous_output_or_none(small, command, exchange, tmp_path):
    from phusong.atomic import exchange_supported

    make = _commands(small)[command]
    work = tmp_path / "work"
    work.mkdir()
    if exchange and not exchange_supported(work):
        pytest.skip(f"{work}: this file system has no atomic exchange (renameat2)")
    suffix = ".zip" if command == "export" else ""
    out = work / f"out{suffix}"
    first = _drive(0, work, make(out), tmp_path / "fresh.json", exchange)
    assert first.returncode == 0, first.stderr
    # a fresh output killed half-way or just before it is moved into place: nothing at the
    # target (a run is deterministic: the same events in the same order for another name)
    fresh = work / f"fresh{suffix}"
    moments = _moments(json.loads((tmp_path / "fresh.json").read_text()), out)
    for moment in ("half-way", "new moved into place"):
        r = _drive(moments[moment], work, make(fresh), tmp_path / "x.json", exchange)
        assert r.returncode == -signal.SIGKILL, (command, moment, r.returncode, r.stderr[-300:])
        assert not fresh.exists(), f"{command}: killed at {moment}, {fresh.name} was left"
    assert _hidden(work, fresh.name), "the kills left no temporary folder: nothing was tested"
    # the next run of the same output removes what the killed ones left
    r = _drive(0, work, make(fresh), tmp_path / "x.json", exchange)
    assert r.returncode == 0, r.stderr
    assert _hidden(work, fresh.name) == [], (command, _hidden(work, fresh.name))
    # overwriting: killed at each moment, the previous output is intact at its place or (on
    # the two-rename path, killed between the renames) restored by the next run
    r = _drive(0, work, [*make(out), "--overwrite"], tmp_path / "over.json", exchange)
    assert r.returncode == 0, r.stderr
    before = _digest(out)
    moments = _moments(json.loads((tmp_path / "over.json").read_text()), out)
    moments.pop("first write")
    assert "new moved into place" in moments, moments
    if command != "export":  # a folder: exchanged, or moved aside then replaced (a file:
        assert ("old moved aside" in moments) == (not exchange), moments  # one os.replace)
    for moment, k in moments.items():
        r = _drive(k, work, [*make(out), "--overwrite"], tmp_path / "x.json", exchange)
        assert r.returncode == -signal.SIGKILL, (command, moment, r.returncode, r.stderr[-300:])
        if moment == "after the move":  # the new output is in place, whole
            assert sorted(_digest(out)) == sorted(before), (command, moment)
        elif out.exists():
            assert _digest(out) == before, f"{command}: killed at {moment} changed {out.name}"
        else:  # two renames, killed between them: the old output waits in a hidden folder
            assert not exchange and moment == "new moved into place", (command, moment)
            from phusong.atomic import recover

            assert recover(out), "nothing restored"  # what the next writer does first
            assert _digest(out) == before, f"{command}: the restored output differs"
        before = _digest(out)
    # the next run cleans every hidden leftover of the killed ones; nothing visible is partial
    r = _drive(0, work, [*make(out), "--overwrite"], tmp_path / "x.json", exchange)
    assert r.returncode == 0, r.stderr
    assert _hidden(work, out.name) == [], (command, _hidden(work, out.name))
    visible = sorted(p.name for p in work.iterdir() if not p.name.startswith("."))
    assert visible == sorted([out.name, fresh.name]), visible
