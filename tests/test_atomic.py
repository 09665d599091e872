"""Atomic outputs after kills (issue 18): the exchange of folders, the recovery of the
two-rename path, the commit of a pair of files, and the cleaning of leftovers of dead runs.

The kills themselves are in ``tests/test_kill.py`` (subprocesses SIGKILLed at chosen
file-system events); here the states such kills leave are built directly, with the pid of a
process that has ended, so each recovery rule is checked on its own in milliseconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import phusong.atomic as atomic
from phusong.atomic import atomic_dir, atomic_files, exchange_supported, recover


@pytest.fixture(scope="module")
def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _folder(path: Path, text: str) -> Path:
    path.mkdir()
    (path / "a.txt").write_text(text)
    return path


def test_overwrite_is_one_exchange_and_leaves_nothing_hidden(tmp_path, monkeypatch):
    if not exchange_supported(tmp_path):
        pytest.skip(f"{tmp_path}: no renameat2(RENAME_EXCHANGE) on this file system")
    out = _folder(tmp_path / "out", "old")
    calls = []
    real = atomic._exchange
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: calls.append(b) or real(a, b))
    monkeypatch.setattr(os, "replace", lambda *a: pytest.fail(f"os.replace{a}: not atomic"))
    with atomic_dir(out, overwrite=True) as tmp:
        (tmp / "a.txt").write_text("new")
    assert calls == [out]
    assert (out / "a.txt").read_text() == "new"
    assert os.listdir(tmp_path) == ["out"]


def test_two_rename_path_still_works(tmp_path, monkeypatch):
    out = _folder(tmp_path / "out", "old")
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    with atomic_dir(out, overwrite=True) as tmp:
        (tmp / "a.txt").write_text("new")
    assert (out / "a.txt").read_text() == "new"
    assert os.listdir(tmp_path) == ["out"]


def test_old_output_moved_aside_by_a_killed_run_is_restored(tmp_path, dead_pid):
    # two-rename path killed between its renames: the output only in .out.old.PID.*
    _folder(tmp_path / f".out.old.{dead_pid}.k3j", "previous")
    _folder(tmp_path / f".out.tmp.{dead_pid}.x9q", "half-written")
    done = recover(tmp_path / "out")
    assert len(done) == 2, done
    assert (tmp_path / "out" / "a.txt").read_text() == "previous"
    assert os.listdir(tmp_path) == ["out"]


def test_next_write_restores_then_replaces(tmp_path, dead_pid):
    _folder(tmp_path / f".out.old.{dead_pid}.k3j", "previous")
    with pytest.raises(RuntimeError):  # a failed write leaves the restored output in place
        with atomic_dir(tmp_path / "out", overwrite=True):
            raise RuntimeError("boom")
    assert (tmp_path / "out" / "a.txt").read_text() == "previous"
    assert os.listdir(tmp_path) == ["out"]


def test_leftovers_of_live_processes_and_other_outputs_are_kept(tmp_path, dead_pid):
    mine = _folder(tmp_path / f".out.tmp.{os.getpid()}.abc", "being written")
    other = _folder(tmp_path / f".other.tmp.{dead_pid}.abc", "another output's")
    stale = _folder(tmp_path / f".out.tmp.{dead_pid}.abc", "dead")
    (tmp_path / f".out.csv.tmp.{dead_pid}.zz.csv").write_text("dead file")
    _folder(tmp_path / "out", "current")
    assert recover(tmp_path / "out") == [f"{stale}: removed a leftover of a killed run"]
    assert mine.exists() and other.exists() and not stale.exists()
    assert (tmp_path / "out" / "a.txt").read_text() == "current"  # present: nothing restored
    recover(tmp_path / "out.csv")
    assert not (tmp_path / f".out.csv.tmp.{dead_pid}.zz.csv").exists()


def test_pair_of_files_commits_together(tmp_path):
    a, b = tmp_path / "s.csv", tmp_path / "s_routes.csv"
    a.write_text("old a")
    b.write_text("old b")
    with pytest.raises(RuntimeError):
        with atomic_files([a, b]) as (ta, tb):
            ta.write_text("new a")
            tb.write_text("new b")
            raise RuntimeError("boom")
    assert (a.read_text(), b.read_text()) == ("old a", "old b")
    with atomic_files([a, b]) as (ta, tb):
        ta.write_text("new a")
        tb.write_text("new b")
    assert (a.read_text(), b.read_text()) == ("new a", "new b")
    assert sorted(os.listdir(tmp_path)) == ["s.csv", "s_routes.csv"]


def test_pair_killed_after_its_commit_point_is_finished(tmp_path, dead_pid):
    # killed after the journal was renamed into place and one of the two renames
    a, b = tmp_path / "s.csv", tmp_path / "s_routes.csv"
    a.write_text("new a")
    b.write_text("old b")
    tb = tmp_path / f".s_routes.csv.tmp.{dead_pid}.q1.csv"
    tb.write_text("new b")
    (tmp_path / f".s.csv.commit.{dead_pid}").write_text(
        f".s.csv.tmp.{dead_pid}.q0.csv\ts.csv\n{tb.name}\ts_routes.csv\n")
    with atomic_files([a, b]) as (ta2, tb2):  # the next export first finishes the pair
        assert (a.read_text(), b.read_text()) == ("new a", "new b")
        ta2.write_text("newer a")
        tb2.write_text("newer b")
    assert (a.read_text(), b.read_text()) == ("newer a", "newer b")
    assert sorted(os.listdir(tmp_path)) == ["s.csv", "s_routes.csv"]


def test_pair_killed_before_its_commit_point_keeps_the_old_pair(tmp_path, dead_pid):
    a, b = tmp_path / "s.csv", tmp_path / "s_routes.csv"
    a.write_text("old a")
    b.write_text("old b")
    (tmp_path / f".s.csv.tmp.{dead_pid}.q0.csv").write_text("new a")
    (tmp_path / f".s_routes.csv.tmp.{dead_pid}.q1.csv").write_text("new b")
    for t in (a, b):
        recover(t)
    assert (a.read_text(), b.read_text()) == ("old a", "old b")
    assert sorted(os.listdir(tmp_path)) == ["s.csv", "s_routes.csv"]
