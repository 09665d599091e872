"""Benchmark: the twin's ``communes_2025`` layer (151 generated communes dissolved into the 46
units of 2025, three split communes cut by share) against the step it follows, generating the
151 commune boundaries (:func:`phusong.twin.geography.make_communes`), in the same process.

Prints one JSON line per step: repeats, seconds min/median/max, and for the dissolve its ratio
to the communes step (median/median) and whether every repeat gave byte-identical polygons
(the twin's output must stay deterministic). Usage::

    .venv/bin/python benchmarks/bench_units_2025.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from phusong.twin.geography import make_communes
from phusong.twin.units_2025 import dissolve_2025


def _times(fn, repeats: int):
    out, results = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        results.append(fn())
        out.append(time.perf_counter() - t)
    return out, results


def _row(step: str, secs: list[float], **extra) -> dict:
    return {"bench": "units_2025", "step": step, "repeats": len(secs),
            "s_min": round(min(secs), 4), "s_median": round(statistics.median(secs), 4),
            "s_max": round(max(secs), 4), **extra}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    base, communes = _times(lambda: make_communes(seed=0), args.repeats)
    print(json.dumps(_row("make_communes (baseline)", base)), flush=True)
    secs, units = _times(lambda: dissolve_2025(communes[0]), args.repeats)
    wkb = [u.to_wkb()["geometry"].tolist() for u in units]
    print(json.dumps(_row(
        "dissolve_2025", secs, units=len(units[0]),
        multipolygons=int((units[0].geom_type == "MultiPolygon").sum()),
        ratio_to_baseline=round(statistics.median(secs) / statistics.median(base), 4),
        deterministic=all(w == wkb[0] for w in wkb))), flush=True)


if __name__ == "__main__":
    main()
