"""`phusong twin build` and `phusong twin stats` (one small district keeps it quick)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from phusong.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "twin"
    res = CliRunner().invoke(main, ["twin", "build", "--out", str(out), "--seed", "2",
                                    "--district", "154", "--json", "--quiet"])
    assert res.exit_code == 0, res.output
    return out, json.loads(res.stdout)


def test_build_reports_json(built):
    out, report = built
    assert (out / "bundle.toml").is_file() and (out / "layers.gpkg").is_file()
    assert report["synthetic"] is True and report["seed"] == 2 and report["variant"] == "2022"
    assert report["label"]["en"] == "synthetic demonstration data"
    assert report["layers"]["communes"] == 10  # Cao Phong's 10 communes
    assert report["calibration"]["sites"] == report["layers"]["sites"]
    assert set(report["step_seconds"]) >= {"communes", "terrain", "villages", "roads", "sites",
                                           "fibre", "save"}


def test_build_writes_the_sector_antenna_and_land_cover(built):
    """The bundle carries the pattern its cells name (MSI, for operators' tools) and equals
    the parametric pattern phusong computes with; and its land cover."""
    import numpy as np

    from phusong.bundle import load_bundle
    from phusong.coverage.msi import antenna_by_name, read_msi

    out, _ = built
    b = load_bundle(out)
    assert set(b.cells.antenna) == {"3gpp-65"} and "landcover" in b.rasters
    f = read_msi(out / "antennas" / "3gpp-65.msi")
    p = antenna_by_name("3gpp-65")
    ang = np.arange(0.0, 360.0, 1.0)
    # the file holds the cuts at 1° to 0.01 dB (written with 2 decimals: ≤ 0.005 dB off)
    assert np.allclose(f.horizontal_attenuation_db(ang), p.horizontal_attenuation_db(ang),
                       atol=0.005 + 1e-9)
    assert f.gain_dbi == p.gain_dbi


def test_stats_json(built):
    out, report = built
    res = CliRunner().invoke(main, ["twin", "stats", str(out), "--json"])
    assert res.exit_code == 0, res.output
    stats = json.loads(res.stdout)
    figs = {f["name"]: f for f in stats["figures"]}
    assert stats["synthetic"] is True
    assert stats["label"] == {"vi": "Dữ liệu minh họa tổng hợp",
                              "en": "synthetic demonstration data"}
    assert set(figs) >= {"sites", "cells", "villages_any_mobile_pct", "villages_3g_pct",
                         "villages_4g_pct", "commune_centres_fibre_pct",
                         "households_fibre_available_pct", "route_km", "cable_km"}
    for f in stats["figures"]:
        assert set(f) >= {"name", "published", "value", "tolerance", "ok"}
    assert figs["sites"]["value"] == report["layers"]["sites"]
    assert figs["cells"]["ok"] is True and figs["commune_centres_mobile_pct"]["ok"] is True


def test_stats_table(built):
    out, _ = built
    res = CliRunner().invoke(main, ["twin", "stats", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    assert "synthetic demonstration data" in res.stdout
    assert "Dữ liệu minh họa tổng hợp" in res.stdout
    assert "villages_4g_pct" in res.stdout and "published" in res.stdout


def test_user_errors_exit_2(built, tmp_path):
    out, _ = built
    runner = CliRunner()
    res = runner.invoke(main, ["twin", "build", "--out", str(out), "--district", "154"])
    assert res.exit_code == 2 and "--overwrite" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    res = runner.invoke(main, ["twin", "build", "--out", str(tmp_path / "x"), "--district",
                               "999", "--quiet"])
    assert res.exit_code == 2 and "999" in res.stderr
    assert not (tmp_path / "x").exists()  # nothing half-written
    res = runner.invoke(main, ["twin", "stats", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "not a phusong bundle" in res.stderr
    res = runner.invoke(main, ["twin", "build", "--out", str(tmp_path / "y"), "--variant", "4g"])
    assert res.exit_code == 2  # click refuses the choice
