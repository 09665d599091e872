"""The README's "Your own data" pipeline on the real Hòa Bình layers: seconds per step.

Runs the README block (as ``tests/test_own_data_realdata.py`` does, with the same generated
operator files) ``--repeat`` times in one process and prints one JSON line per step with the
min / median / max seconds, then one line with the plan's headline figures. The first repeat
includes numba compilation when the cache is cold; compare steps within one run only.

    python benchmarks/bench_own_data.py --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from phusong.cli import main  # noqa: E402
from tests.test_own_data_realdata import make_data_folder, readme_commands  # noqa: E402

SHARED = Path(os.environ.get("PHUSONG_SHARED", ROOT.parent / "shared")) / "data" / "hoabinh"


def one_run(work: Path) -> dict[str, float]:
    """Run every README command in ``work``; seconds per step."""
    os.environ["DATA"] = str(make_data_folder(SHARED, work / "data"))
    commands = readme_commands()
    seconds = {}
    cwd = os.getcwd()
    os.chdir(work)
    try:
        for args in commands:
            key = " ".join(args[:2]) if args[0] == "data" else args[0]
            key += " 2025" if "2025" in args else ""
            t0 = time.perf_counter()
            r = CliRunner().invoke(main, args)
            seconds[key] = time.perf_counter() - t0
            if r.exit_code != 0:
                raise SystemExit(f"{key}: exit {r.exit_code}: {r.output}")
    finally:
        os.chdir(cwd)
    return seconds


def main_(repeat: int) -> None:
    if not SHARED.is_dir():
        raise SystemExit(f"real data not present at {SHARED}")
    runs = []
    last = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as tmp:
                runs.append(one_run(Path(tmp)))
                last = json.loads((Path(tmp) / "plan" / "plan.json").read_text(encoding="utf-8"))
    for step in runs[0]:
        s = [r[step] for r in runs]
        print(json.dumps({"bench": "own_data", "step": step, "repeats": len(s),
                          "min_s": round(min(s), 2), "median_s": round(statistics.median(s), 2),
                          "max_s": round(max(s), 2)}))
    total = [sum(r.values()) for r in runs]
    print(json.dumps({"bench": "own_data", "step": "total", "repeats": len(total),
                      "min_s": round(min(total), 2), "median_s": round(statistics.median(total), 2),
                      "max_s": round(max(total), 2)}))
    y = last["years"]
    print(json.dumps({"bench": "own_data", "plan": {
        "totals_bn_vnd": round(last["totals"]["cost_vnd"] / 1e9, 2),
        "census": last["census"], "fibre_assumption": last["fibre_assumption"],
        "feeders_inferred": {k: v for k, v in last["feeders_inferred"].items()
                             if k != "unreachable"},
        "years": {e["year"]: {k: e["province_pct"].get(k) for k in (
            "fibre_households_pct", "fibre_communes_pct", "mobile_4G_population_pct",
            "mobile_5G_population_pct")} for e in y}}}, ensure_ascii=False))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    main_(ap.parse_args().repeat)
