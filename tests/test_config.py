"""The one settings mechanism (issue 15 item 3): defaults → scenario TOML → ``--set``, the values
and their sources recorded in every output, and bad input as one line with exit 2."""

from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner

from phusong import settings
from phusong.bundle import save_bundle, validate
from phusong.cli import main
from phusong.config import (
    DEFAULT_SETTINGS,
    apply_doc,
    apply_sets,
    from_record,
    key_table,
    key_table_markdown,
    parse_set,
)
from phusong.errors import DataError
from phusong.planning import _plan_deps as deps
from tests._synthetic import disc_coverage_matrix, disc_scores, synthetic_bundle


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


# --- the object ---------------------------------------------------------------------------------


def test_defaults_are_the_settings_module_values():
    s = DEFAULT_SETTINGS
    assert dict(s.thresholds_dbm) == settings.THRESHOLDS_DBM
    assert s.bands_mhz.to_dict() == settings.BANDS_MHZ
    assert s.costs == settings.COSTS and s.radio == settings.RADIO
    assert s.targets == settings.TARGETS
    rec = s.record()
    assert set(rec["from"].values()) == {"default"} and set(rec["values"]) == set(rec["from"])
    assert json.loads(json.dumps(rec)) == rec  # outputs write it as JSON


def test_settings_are_frozen_and_hashable():
    s = apply_sets(DEFAULT_SETTINGS, ["thresholds_dbm.4G=-100"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.costs = None  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.thresholds_dbm["4G"] = -90  # type: ignore[index]
    assert hash(s) != hash(DEFAULT_SETTINGS) or s != DEFAULT_SETTINGS
    assert DEFAULT_SETTINGS.thresholds_dbm["4G"] == settings.THRESHOLDS_DBM["4G"]  # untouched


def test_precedence_default_then_scenario_then_set():
    doc = {"thresholds_dbm": {"4G": -105, "5G": -108}, "radio": {"reliability_pct": 90},
           "costs": {"new_site_vnd": 1.5e9, "sharing_markup": 0.3}}
    s = apply_doc(DEFAULT_SETTINGS, doc)
    s = apply_sets(s, ["thresholds_dbm.4G=-99", "bands_mhz.4G.B3=1845"])
    assert s.thresholds_dbm["4G"] == -99.0 and s.source("thresholds_dbm.4G") == "--set"
    assert s.thresholds_dbm["5G"] == -108.0 and s.source("thresholds_dbm.5G") == "scenario"
    assert s.thresholds_dbm["3G"] == settings.THRESHOLDS_DBM["3G"]
    assert s.source("thresholds_dbm.3G") == "default"
    assert s.radio.reliability_pct == 90.0 and s.source("radio.reliability_pct") == "scenario"
    # [costs] holds the planning costs too (one table in the TOML, two objects inside)
    assert s.planning_costs.sharing_markup == 0.3 and s.costs.new_site_vnd == 1.5e9
    assert s.bands_mhz["4G"]["B3"] == 1845.0 and s.source("bands_mhz.4G.B3") == "--set"
    # the last --set of a key wins
    assert apply_sets(s, ["thresholds_dbm.4G=-98", "thresholds_dbm.4G=-97"]).thresholds_dbm[
        "4G"] == -97.0


def test_record_round_trips_through_json():
    s = apply_sets(apply_doc(DEFAULT_SETTINGS, {"costs": {"upgrade_site_vnd": 7e8}}),
                   ["interference.sinr_min_db.5G=2.5", "radio.tower_height_m=35"])
    back = from_record(json.loads(json.dumps(s.record())))
    assert back == s
    assert back.source("costs.upgrade_site_vnd") == "scenario"
    assert back.source("interference.sinr_min_db.5G") == "--set"
    assert from_record(None) is DEFAULT_SETTINGS  # outputs written before the record existed


def test_target_keys_set_the_share():
    s = apply_sets(DEFAULT_SETTINGS, ["targets.fibre_available.2025=95"])
    t = [t for t in s.targets if (t.indicator, t.year) == ("fibre_available", 2025)]
    assert t and all(x.threshold_pct == 95.0 for x in t)
    assert s.get("targets.fibre_available.2025") == 95.0


@pytest.mark.parametrize(("sets", "message"), [
    (["thresholds_dbm.4g=-100"],
     "--set thresholds_dbm.4g: is an unknown key; did you mean thresholds_dbm.4G?"),
    (["nosuch=1"], "--set nosuch: is an unknown key;"),
    (["thresholds_dbm.4G=loud"], "--set thresholds_dbm.4G: must be a number (float, dBm), "
                                 "got 'loud'"),
    (["costs.new_site_vnd=-1"], "--set costs.new_site_vnd: must be ≥ 0 VND, got -1.0"),
    (["radio.reliability_pct=nan"], "--set radio.reliability_pct: must be a number"),
    (["dask.connect_timeout_s=0"], "--set dask.connect_timeout_s: must be > 0 s (e.g. 10), "
                                   "got 0.0"),
    (["thresholds_dbm.4G"], "expected key=value"),
])
def test_bad_set_is_one_line_naming_key_and_type(sets, message):
    with pytest.raises(DataError) as err:
        apply_sets(DEFAULT_SETTINGS, sets)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(("doc", "message"), [
    ({"thresholds_dbm": {"4G": "strong"}},
     "x.toml: [thresholds_dbm] 4G must be a number (float, dBm), got 'strong'"),
    ({"thresholds_dbm": {"4G": True}}, "[thresholds_dbm] 4G must be a number"),
    ({"radio": {"mast": 3}}, "x.toml: [radio] mast is an unknown key"),
    ({"radio": 3}, "x.toml: [radio] must be a table"),
])
def test_bad_scenario_tables(doc, message):
    with pytest.raises(DataError, match=None) as err:
        apply_doc(DEFAULT_SETTINGS, doc, where="x.toml")
    assert message in str(err.value)


def test_parse_set_and_key_table():
    assert parse_set(" radio.k_factor = 1.5 ") == ("radio.k_factor", "1.5")
    keys = {k.key: k for k in key_table()}
    assert keys["thresholds_dbm.4G"].unit == "dBm" and keys["thresholds_dbm.4G"].type is float
    assert keys["costs.new_site_vnd"].unit == "VND"
    assert "radio.reliability_pct" in keys and "costs.sharing_markup" in keys
    md = key_table_markdown()
    assert md.count("\n") == len(keys) + 2 and "`thresholds_dbm.4G`" in md


def test_no_second_settings_reader_left():
    import phusong.settings as mod

    assert not hasattr(mod, "load_overrides") and not hasattr(mod, "Overrides")


# --- the command line ---------------------------------------------------------------------------


def test_settings_command_shows_values_and_sources(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('[thresholds_dbm]\n"5G" = -108\n', encoding="utf-8")
    r = _run("settings", "--scenario", p, "--set", "thresholds_dbm.4G=-99", "--json")
    assert r.exit_code == 0, r.output + r.stderr
    rows = {row["key"]: row for row in json.loads(r.stdout)["settings"]}
    assert (rows["thresholds_dbm.4G"]["value"], rows["thresholds_dbm.4G"]["from"]) == (-99.0,
                                                                                        "--set")
    assert (rows["thresholds_dbm.5G"]["value"], rows["thresholds_dbm.5G"]["from"]) == (
        -108.0, "scenario")
    assert rows["thresholds_dbm.3G"]["from"] == "default"


@pytest.mark.parametrize(("args", "message"), [
    (["--set", "thresholds_dbm.4G=loud"], "--set thresholds_dbm.4G: must be a number"),
    (["--set", "radio.mast_m=3"], "--set radio.mast_m: is an unknown key"),
])
def test_settings_command_bad_set_exit_2(args, message):
    r = _run("settings", *args)
    assert r.exit_code == 2 and message in r.stderr and r.stderr.count("\n") == 1, r.stderr


def test_bad_toml_names_the_file(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[thresholds_dbm\n", encoding="utf-8")
    r = _run("settings", "--scenario", p)
    assert r.exit_code == 2 and r.stderr.count("\n") == 1
    assert f"{p}: not valid UTF-8 TOML" in r.stderr
    p.write_text('[thresholds_dbm]\n"4G" = "strong"\n', encoding="utf-8")
    r = _run("settings", "--scenario", p)
    assert r.exit_code == 2 and r.stderr.count("\n") == 1
    assert f"{p}: scenario: [thresholds_dbm] 4G must be a number" in r.stderr, r.stderr


@pytest.fixture
def bundle_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(deps, "score_villages", disc_scores)
    monkeypatch.setattr(deps, "coverage_matrix", disc_coverage_matrix)
    return save_bundle(validate(synthetic_bundle(8, 6, seed=4)), tmp_path / "bundle")


def test_gaps_and_plan_record_the_settings(bundle_dir, tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('[costs]\nnew_site_vnd = 2.0e9\n', encoding="utf-8")
    r = _run("gaps", bundle_dir, "--scenario", p, "--set", "thresholds_dbm.4G=-99", "--out",
             tmp_path / "g", "--quiet")
    assert r.exit_code == 0, r.output + r.stderr
    rec = json.loads((tmp_path / "g" / "gaps.json").read_text(encoding="utf-8"))["settings"]
    assert rec["values"]["thresholds_dbm.4G"] == -99.0 and rec["from"]["thresholds_dbm.4G"] == \
        "--set"
    assert rec["from"]["costs.new_site_vnd"] == "scenario"
    r = _run("plan", bundle_dir, "--scenario", p, "--set", "radio.tower_height_m=35", "--out",
             tmp_path / "p", "--quiet")
    assert r.exit_code == 0, r.output + r.stderr
    meta = json.loads((tmp_path / "p" / "plan.json").read_text(encoding="utf-8"))
    rec = meta["scenario"]["settings"]
    assert rec["values"]["costs.new_site_vnd"] == 2.0e9 and rec["from"]["costs.new_site_vnd"] == \
        "scenario"
    assert rec["values"]["radio.tower_height_m"] == 35.0
    assert rec["from"]["radio.tower_height_m"] == "--set"
    # the workbook's assumptions sheet states each value with where it came from
    from phusong.maps._tables import assumptions_table

    table, _ = assumptions_table(meta)
    row = table[(table.section == "radio") & (table.item == "tower_height_m")].iloc[0]
    assert row.value == 35.0 and row.unit == "m" and "--set" in row.source
    row = table[(table.section == "costs") & (table.item == "new_site_vnd")].iloc[0]
    assert row.value == 2.0e9 and "scenario" in row.source


@pytest.mark.parametrize(("command", "bad", "message"), [
    ("plan", ["--set", "costs.new_site_vnd=cheap"],
     "--set costs.new_site_vnd: must be a number (float, VND), got 'cheap'"),
    ("plan", ["--set", "radio.mast_m=3"], "--set radio.mast_m: is an unknown key"),
    ("gaps", ["--set", "thresholds_dbm.4g=-100"],
     "--set thresholds_dbm.4g: is an unknown key; did you mean thresholds_dbm.4G?"),
    ("gaps", ["--scenario", "TEXT"], "scenario: [thresholds_dbm] 4G must be a number (float, "
                                     "dBm), got 'strong'"),
    ("plan", ["--scenario", "TEXT"], "scenario: [thresholds_dbm] 4G must be a number"),
])
def test_bad_settings_on_a_writing_command_write_nothing(bundle_dir, tmp_path, command, bad,
                                                         message):
    # the bad input: --set with an unknown key or a value of the wrong type, a scenario
    # overriding a threshold with text: one line, exit 2, no output folder
    text = tmp_path / "text.toml"
    text.write_text('[thresholds_dbm]\n"4G" = "strong"\n', encoding="utf-8")
    bad = [str(text) if a == "TEXT" else a for a in bad]
    out = tmp_path / "out"
    before = sorted(p.name for p in tmp_path.iterdir())
    r = _run(command, bundle_dir, *bad, "--out", out, "--quiet")
    assert r.exit_code == 2 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("error: ") and message in r.stderr, r.stderr
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == before


def test_coverage_site_records_the_settings_and_refuses_bad_ones(tmp_path):
    from tests.test_coverage_engine import _site_args

    args = _site_args(tmp_path, 3, 200)
    r = _run(*args, "--set", "thresholds_dbm.2G=-90", "--out", tmp_path / "s.tif")
    assert r.exit_code == 0, r.output + r.stderr
    rec = json.loads(r.stdout)["settings"]
    assert rec["values"]["thresholds_dbm.2G"] == -90.0 and rec["from"]["thresholds_dbm.2G"] == \
        "--set"
    r = _run(*args, "--set", "thresholds_dbm.2G=-90dBm", "--out", tmp_path / "t.tif")
    assert r.exit_code == 2 and r.stderr.count("\n") == 1
    assert "--set thresholds_dbm.2G: must be a number (float, dBm), got '-90dBm'" in r.stderr
    assert not (tmp_path / "t.tif").exists()


def test_readme_lists_every_key():
    """README's "Settings" table is ``phusong settings --markdown`` as written (no drift)."""
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert key_table_markdown() in readme


def test_a_set_value_changes_the_prediction(tmp_path):
    """--set reaches the engine: a 10 m receiver sees less path loss than the 1.5 m default."""
    from tests.test_coverage_engine import _site_args

    args = _site_args(tmp_path, 3, 200)
    low = _run(*args, "--out", tmp_path / "a.tif")
    high = _run(*args, "--set", "radio.rx_height_m=10", "--out", tmp_path / "b.tif")
    assert low.exit_code == 0 and high.exit_code == 0, low.stderr + high.stderr
    a, b = (json.loads(r.stdout)["path_loss_db"]["median"] for r in (low, high))
    # Hata's a(h_rx) term alone lowers the loss by several dB from 1.5 m to 10 m at 900 MHz
    assert b < a - 3.0, (a, b)


def test_coverage_json_records_the_settings(tmp_path):
    from tests.test_coverage_realism import _bundle as realism_bundle

    save_bundle(realism_bundle(landcover=False), tmp_path / "b")
    p = tmp_path / "s.toml"
    p.write_text("[radio]\nreliability_pct = 90\n", encoding="utf-8")
    r = _run("coverage", tmp_path / "b", "--out", tmp_path / "o", "--model", "hata",
             "--resolution-m", "0", "--quiet", "--scenario", p, "--set",
             "thresholds_dbm.4G=-100")
    assert r.exit_code == 0, r.output + r.stderr
    rec = json.loads((tmp_path / "o" / "coverage.json").read_text(encoding="utf-8"))["settings"]
    assert (rec["values"]["radio.reliability_pct"], rec["from"]["radio.reliability_pct"]) == (
        90.0, "scenario")
    assert (rec["values"]["thresholds_dbm.4G"], rec["from"]["thresholds_dbm.4G"]) == (-100.0,
                                                                                      "--set")
    r = _run("coverage", tmp_path / "b", "--out", tmp_path / "o2", "--model", "hata",
             "--resolution-m", "0", "--quiet", "--set", "radio.reliability_pct=ninety")
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and not (tmp_path / "o2").exists()
    assert "--set radio.reliability_pct: must be a number (float, %)" in r.stderr
