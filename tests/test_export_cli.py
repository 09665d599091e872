"""The ``map``, ``export`` and ``briefing`` commands: outputs, and one-line errors (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from phusong.bundle import save_bundle
from phusong.cli import main
from phusong.maps._example import example_bundle, write_example_plan


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    b = example_bundle()
    save_bundle(b, root / "bundle")
    from phusong.bundle import load_bundle

    loaded = load_bundle(root / "bundle")  # the fingerprint of the bundle as the CLI reads it
    plan = write_example_plan(loaded, root / "plan")
    other = write_example_plan(loaded, root / "other_plan",
                               fingerprint_of=example_bundle(name="other"))
    return root, root / "bundle", plan, other


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_map_and_export_and_briefing(files):
    root, bundle, plan, _ = files
    r = run("map", bundle, "--plan", plan, "--lang", "en", "--out", root / "m.html", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["lang"] == "en" and (root / "m.html").stat().st_size > 100_000
    r = run("export", bundle, "--plan", plan, "--format", "gpkg", "--crs", "9211",
            "--out", root / "p.gpkg", "--json")
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    assert rep["crs"] == "EPSG:9211"
    assert rep["counts"] == {"communes": 4, "candidate_sites": 4, "fibre_routes": 2}
    assert [Path(p).name for p in rep["paths"]] == ["p.gpkg", "p.qgs"]  # the QGIS project beside
    r = run("briefing", bundle, "--plan", plan, "--out", root / "brief")
    assert r.exit_code == 0, r.output
    assert (root / "brief" / "briefing.xlsx").is_file()


@pytest.mark.parametrize("args, message", [
    (["--format", "gpkg", "--crs", "EPSG:12345678"], "unknown CRS"),
    (["--format", "gpkg", "--plan-other"], "plan made from bundle"),
    (["--format", "shp", "--existing"], "already exists; pass --overwrite"),
    (["--format", "shp", "--blocked"], "cannot create the output folder"),
])
def test_export_errors_are_one_line(files, args, message):
    root, bundle, plan, other = files
    out = root / "e.zip"
    if "--existing" in args:
        out = root / "existing.zip"
        out.write_text("keep")
    if "--blocked" in args:
        (root / "blocker").write_text("")
        out = root / "blocker" / "e.zip"
    use = other if "--plan-other" in args else plan
    argv = [a for a in args if a not in ("--plan-other", "--existing", "--blocked")]
    r = CliRunner().invoke(main, ["export", str(bundle), "--plan", str(use), *argv,
                                  "--out", str(out)])
    assert r.exit_code == 2, r.output
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert "Traceback" not in r.output
    if "--existing" in args:
        assert out.read_text() == "keep"


def test_map_errors(files):
    root, bundle, plan, other = files
    r = run("map", bundle, "--plan", other, "--out", root / "x.html")
    assert r.exit_code == 2 and "plan made from bundle" in r.output
    assert not (root / "x.html").exists()
    r = run("map", root / "nowhere", "--out", root / "y.html")
    assert r.exit_code == 2 and "not a phusong bundle" in r.output
