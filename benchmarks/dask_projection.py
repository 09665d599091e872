"""Project coverage runs of large areas on N dask workers from ``bench_dask.py``'s JSON lines.

The cost model: CPU seconds of a run = grid cells × site-cells per grid cell × CPU seconds per
site-cell, divided over N workers (perfect scaling beyond the measured runs; no cluster
start-up counted).

* **CPU seconds per site-cell**, per resolution: a measured run's CPU seconds (client +
  workers, user + system: robust on a shared machine) over its links (site-cell pairs the
  raster computed), for local threads and for each number of workers; the projection takes the
  largest dask figure measured at that resolution (the dask overhead included).
* **Site-cells per grid cell**, per resolution (the screening drops a share of the links that
  depends on it): the largest links per grid cell among the runs at that resolution (a
  district with every site within 25 km sees its whole neighbourhood, as most cells of a
  province or a country do; a whole province has edges) — the twin's density, 0.29 sites per
  km², radii 2G 25 km, 3G 15, 4G 20, 5G 8 km.
* **Memory per worker**: the largest peak measured and the bound ``coverage.json`` states; it
  depends on the tile and the batch, not on the area.

Usage: .venv/bin/python benchmarks/dask_projection.py RUNS.jsonl [MORE.jsonl]
       [--workers 8,32,128]
Prints one JSON line per (area, resolution) and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys

#: Areas projected: name → km².
AREAS = {"new Phú Thọ (9,361 km², 148 units)": 9_361.0,
         "Vietnam (≈ 331,000 km², 34 provinces)": 331_000.0}


def _read(paths) -> list[dict]:
    rows = []
    for p in paths:
        with open(p, encoding="utf-8") as f:
            rows += [json.loads(line) for line in f if line.startswith("{")]
    return rows


def _fmt_s(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 90 * 60:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--workers", default="8,32,128")
    a = ap.parse_args()
    rows = _read(a.runs)
    ns = [int(n) for n in a.workers.split(",")]
    table = []
    for res_m in sorted({r["resolution_m"] for r in rows}):
        at = [r for r in rows if r["resolution_m"] == res_m]
        per_cell = max(r["links"] / r["grid_cells"] for r in at)
        cost = {r["executor"] + f" ({r['area']})": r["cpu_s"]["median"] / r["links"] for r in at}
        dask = [r["cpu_s"]["max"] / r["links"] for r in at if r["executor"] != "local threads"]
        local = [r["cpu_s"]["median"] / r["links"] for r in at
                 if r["executor"] == "local threads"]
        if not dask or not local:
            continue
        c_dask, c_local = max(dask), max(local)
        mem = [r["worker_peak_rss_mb"]["max"] for r in at if "worker_peak_rss_mb" in r]
        bound = [r["memory_rule_mib"]["per_worker_mib"] for r in at if "memory_rule_mib" in r]
        for name, km2 in AREAS.items():
            cells = km2 * 1e6 / res_m ** 2
            cpu_local = cells * per_cell * c_local
            cpu_dask = cells * per_cell * c_dask
            line = {"area": name, "resolution_m": res_m, "grid_cells": round(cells),
                    "site_cells_per_cell": round(per_cell, 1),
                    "cpu_us_per_site_cell": {k: round(v * 1e6, 3) for k, v in cost.items()},
                    "cpu_h_local": round(cpu_local / 3600, 2),
                    "cpu_h_dask": round(cpu_dask / 3600, 2),
                    "wall_s_on_n_workers": {n: round(cpu_dask / n) for n in ns},
                    "worker_peak_mib": max(mem) if mem else None,
                    "worker_bound_mib": max(bound) if bound else None}
            print(json.dumps(line, ensure_ascii=False))
            table.append(line)
    print()
    print("| area | resolution | grid cells | CPU-hours local | CPU-hours on dask | "
          + " | ".join(f"{n} workers" for n in ns) + " |")
    print("|---|---|---|---|---|" + "---|" * len(ns))
    for t in table:
        print(f"| {t['area']} | {t['resolution_m']:g} m | {t['grid_cells'] / 1e6:.1f} M | "
              f"{t['cpu_h_local']:.1f} | {t['cpu_h_dask']:.1f} | "
              + " | ".join(_fmt_s(t["wall_s_on_n_workers"][n]) for n in ns) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
