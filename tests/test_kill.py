"""Outputs that survive a kill (issue 18): ``coverage``, ``plan``, ``export`` and ``twin build``
SIGKILLed at several moments of their writing leave the previous output intact, or no output
at all — never a half-written one.

Each command runs in a process of its own under ``tests/kill_driver.py``, which counts the
file-system changes it makes under the test's folder and SIGKILLs itself just before the k-th
one: the moments are deterministic (first writes into the temporary folder, the middle of the
writing, the rename of the old output aside, the rename of the new one into place) rather than
timed, so the test cannot pass by killing too early or too late. The count leaves out the
removal of what an earlier killed run left (the next run's recovery), so the k-th event is the
same moment in every run, and the driver reports the event it killed before: the test checks
it is the intended one. The processes are forked by one ``kill_driver.py --serve`` per module
(imports paid once, not by each of the ≈80 runs). Small fixtures: one district of the twin
with the Hata model, villages-only or 2 km coverage, a one-year plan.
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


class _Driver:
    """``tests/kill_driver.py --serve``: each run a forked child process of one server, so the
    dozens of runs of a test pay Python's and the CLI's imports once (seconds a run), not once
    a run. Each run is still its own process, SIGKILLed at its own event."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.n = 0
        self.log = open(folder / "server.err", "w", encoding="utf-8")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        env.pop("KILL_DRIVER_NO_EXCHANGE", None)
        self.proc = subprocess.Popen([sys.executable, str(DRIVER), "--serve"], cwd=ROOT, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True)

    def __call__(self, k: int, watch: Path, args: list, count_file: Path,
                 exchange: bool = True) -> subprocess.CompletedProcess:
        self.n += 1
        err = self.folder / f"run{self.n}.err"
        job = {"k": k, "watch": str(watch), "count_file": str(count_file),
               "args": [str(a) for a in args], "exchange": exchange, "stderr": str(err)}
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"kill_driver --serve ended: {(self.folder / 'server.err').read_text()}"
        code = json.loads(line)["returncode"]
        return subprocess.CompletedProcess(args, code, "", err.read_text(encoding="utf-8"))

    def close(self) -> None:
        self.proc.stdin.close()
        code = self.proc.wait(timeout=60)
        self.proc.stdout.close()
        self.log.close()
        assert code == 0, (self.folder / "server.err").read_text()


@pytest.fixture(scope="module")
def drive(tmp_path_factory):
    """The module's fork server (asked for before ``small``: it imports while that builds)."""
    d = _Driver(tmp_path_factory.mktemp("driver"))
    yield d
    d.close()


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
    (d / "scenario.toml").write_text('name = "kill test"\nyears = [2025]\nmodel = "hata"\n',
                                     encoding="utf-8")  # no time limit: the same plan each run
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


def _killed_at(count_file: Path, log: list, k: int, target: Path, log_target: Path) -> None:
    """The killed run stopped at the event ``k`` of ``log`` (a run writing ``log_target``):
    the same kind of change, on ``target`` where the logged one was on ``log_target``."""
    def role(event, t):
        t = os.path.realpath(t)
        return event[0], event[1] == t, event[2] == t

    killed = json.loads(count_file.read_text(encoding="utf-8"))
    assert role(killed, target) == role(log[k - 1], log_target), (k, killed, log[k - 1])


def _hidden(work: Path, name: str) -> list[str]:
    return sorted(p.name for p in work.iterdir() if p.name.startswith(f".{name}."))


# Every command on the exchange path; the two-rename fallback is one function of
# phusong/atomic.py whatever writes the folder (tests/test_atomic.py covers it directly), so
# here it runs under one folder command and the one file command only (CI time: each case is
# 20-40 s of subprocesses).
@pytest.mark.parametrize("command,exchange", [
    ("coverage", True), ("plan", True), ("export", True), ("twin build", True),
    ("coverage", False), ("export", False)],
    ids=["coverage-exchange", "plan-exchange", "export-exchange", "twin build-exchange",
         "coverage-two-renames", "export-two-renames"])
def test_sigkill_leaves_previous_output_or_none(drive, small, command, exchange, tmp_path):
    from phusong.atomic import exchange_supported

    make = _commands(small)[command]
    work = tmp_path / "work"
    work.mkdir()
    if exchange and not exchange_supported(work):
        pytest.skip(f"{work}: this file system has no atomic exchange (renameat2)")
    suffix = ".zip" if command == "export" else ""
    out = work / f"out{suffix}"
    first = drive(0, work, make(out), tmp_path / "fresh.json", exchange)
    assert first.returncode == 0, first.stderr
    # a fresh output killed half-way or just before it is moved into place: nothing at the
    # target (a run is deterministic: the same events in the same order for another name)
    fresh = work / f"fresh{suffix}"
    log = json.loads((tmp_path / "fresh.json").read_text())
    moments = _moments(log, out)
    for moment in ("half-way", "new moved into place"):
        r = drive(moments[moment], work, make(fresh), tmp_path / "x.json", exchange)
        assert r.returncode == -signal.SIGKILL, (command, moment, r.returncode, r.stderr[-300:])
        _killed_at(tmp_path / "x.json", log, moments[moment], fresh, out)
        assert not fresh.exists(), f"{command}: killed at {moment}, {fresh.name} was left"
    assert _hidden(work, fresh.name), "the kills left no temporary folder: nothing was tested"
    # the next run of the same output removes what the killed ones left
    r = drive(0, work, make(fresh), tmp_path / "x.json", exchange)
    assert r.returncode == 0, r.stderr
    assert _hidden(work, fresh.name) == [], (command, _hidden(work, fresh.name))
    # overwriting: killed at each moment, the previous output is intact at its place or (on
    # the two-rename path, killed between the renames) restored by the next run
    r = drive(0, work, [*make(out), "--overwrite"], tmp_path / "over.json", exchange)
    assert r.returncode == 0, r.stderr
    before = _digest(out)
    log = json.loads((tmp_path / "over.json").read_text())
    moments = _moments(log, out)
    moments.pop("first write")
    assert "new moved into place" in moments, moments
    if command != "export":  # a folder: exchanged, or moved aside then replaced (a file:
        assert ("old moved aside" in moments) == (not exchange), moments  # one os.replace)
    for moment, k in moments.items():
        r = drive(k, work, [*make(out), "--overwrite"], tmp_path / "x.json", exchange)
        assert r.returncode == -signal.SIGKILL, (command, moment, r.returncode, r.stderr[-300:])
        _killed_at(tmp_path / "x.json", log, k, out, out)
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
    r = drive(0, work, [*make(out), "--overwrite"], tmp_path / "x.json", exchange)
    assert r.returncode == 0, r.stderr
    assert _hidden(work, out.name) == [], (command, _hidden(work, out.name))
    visible = sorted(p.name for p in work.iterdir() if not p.name.startswith("."))
    assert visible == sorted([out.name, fresh.name]), visible


def test_sigkill_during_a_csv_export_leaves_one_whole_set_of_files(drive, small, tmp_path):
    """``export --format csv`` writes several files (sites, routes): killed at any file-system
    event of an overwrite, the files are afterwards all the previous ones or — once the commit
    journal was in place and the next export has finished it — all the new ones, never a mix.
    The previous and the new export differ (another CRS), so a mix would show."""
    work = tmp_path / "work"
    work.mkdir()
    out = work / "plan.csv"

    def make(crs):
        return ["export", small / "bundle", "--plan", small / "plan", "--format", "csv",
                "--crs", crs, "--out", out, "--overwrite"]

    def files():
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(work.iterdir()) if not p.name.startswith(".")}

    assert drive(0, work, make("EPSG:32648"), tmp_path / "new.json").returncode == 0
    new = files()
    assert drive(0, work, make("EPSG:4326"), tmp_path / "old.json").returncode == 0
    old = files()
    assert len(old) >= 2 and set(old) == set(new)
    # sites and routes differ between the two (a settings table beside them may not)
    assert sum(old[k] != new[k] for k in old) >= 2, "the two exports must differ"
    log = json.loads((tmp_path / "new.json").read_text())
    assert any(kind == "replace" and ".commit." in dst for kind, _, dst in log), log
    seen = set()
    for k in range(1, len(log) + 1):
        r = drive(k, work, make("EPSG:32648"), tmp_path / "x.json")
        assert r.returncode == -signal.SIGKILL, (k, r.returncode, r.stderr[-300:])
        _killed_at(tmp_path / "x.json", log, k, out, out)
        from phusong.atomic import recover

        for name in old:  # what the next export does first
            recover(work / name)
        now = files()
        assert now in (old, new), (k, log[k - 1], now)
        seen.add("new" if now == new else "old")
        if now == new:  # put the previous set back for the next kill
            assert drive(0, work, make("EPSG:4326"), tmp_path / "x.json").returncode == 0
        assert not any(p.name.startswith(".") for p in work.iterdir()), sorted(os.listdir(work))
    assert seen == {"old", "new"}, seen  # kills fell both before and after the commit point
