"""Benchmark: the province coverage run with all radio realism on vs off (issue 17).

Builds the twin (seed 0) in memory — 3-sector sites (2 along valleys) with the ``3gpp-65``
pattern and tilts, and its generated land cover (:mod:`phusong.twin.landcover`) — then runs
:func:`phusong.coverage.run_bundle` (villages, communes and every raster, ITM, screened as by
default) in two configurations, interleaved ``--repeats`` times so that machine load hits both
alike:

- ``off``: the run as before issue 17: one omni cell per (site, technology) at the sectors'
  boresight EIRP, no land cover, 50 %, no SINR rasters;
- ``on``: the twin as built (every sector with its pattern, azimuth and tilts), P.2108 clutter
  from its land cover, ``reliability_pct`` 90, SINR and margin rasters, 4G/5G covered only
  where the SINR also clears its minimum (``require_sinr``).

Villages always get indoor/SINR columns and every run writes the indoor rasters (both cheap
by-products of the levels computed anyway).

Prints one JSON line per run (wall and CPU seconds of this process, peak RSS) and a summary
line with min/median/max per configuration and the ratios of medians of ``on`` against
``off``, wall and CPU.

Usage: .venv/bin/python benchmarks/bench_radio_realism.py [--resolution-m 250] [--repeats 3]
       [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _peak_rss import PeakRSS

ROOT = Path(__file__).resolve().parents[1]


def _emit(**kw):
    print(json.dumps(kw), flush=True)


def _omni(cells):
    """One omni cell per (site, technology): the network as phusong saw it before issue 17."""
    c = cells.drop_duplicates(["site_id", "tech"]).copy()
    c["cell_id"] = c["site_id"].astype(str) + "-" + c["tech"].astype(str)
    for col in ("azimuth_deg", "tilt_deg", "etilt_deg"):
        c[col] = np.nan
    c["antenna"] = None
    return c.reset_index(drop=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--resolution-m", type=float, default=250.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from phusong.bundle import Bundle
    from phusong.coverage import run_bundle
    from phusong.twin import build_twin
    from phusong.twin.landcover import landcover_shares

    t0 = time.perf_counter()
    twin = build_twin(seed=a.seed)
    omni = Bundle(twin.name, dict(twin.layers) | {"cells": _omni(twin.cells)},
                  {"dem": twin.dem}, dict(twin.provenance), twin.boundaries, dict(twin.meta))
    shares = landcover_shares(twin.rasters["landcover"])
    _emit(bench="realism_setup", seconds=round(time.perf_counter() - t0, 1),
          omni_cells=len(omni.cells), sector_cells=len(twin.cells),
          landcover_share={str(k): round(v, 3) for k, v in shares.items()},
          resolution_m=a.resolution_m, threads=a.threads)
    configs = {
        "off": (omni, dict(clutter=False, reliability_pct=50.0, sinr=False)),
        "on": (twin, dict(clutter=True, reliability_pct=90.0, sinr=True, require_sinr=True)),
    }
    with tempfile.TemporaryDirectory() as tmp:
        # JIT warm-up (compilation is not part of any run below)
        run_bundle(twin, Path(tmp) / "warm", resolution_m=4000.0, threads=a.threads,
                   **configs["on"][1])
        secs: dict[str, list[float]] = {k: [] for k in configs}
        cpu: dict[str, list[float]] = {k: [] for k in configs}
        for rep in range(a.repeats):
            for name, (bundle, kw) in configs.items():
                out = Path(tmp) / f"{name}{rep}"
                with PeakRSS() as mem:
                    t1, c1 = time.perf_counter(), time.process_time()
                    r = run_bundle(bundle, out, resolution_m=a.resolution_m,
                                   threads=a.threads, **kw)
                    s, c = time.perf_counter() - t1, time.process_time() - c1
                secs[name].append(s)
                cpu[name].append(c)
                _emit(bench="realism_run", config=name, repeat=rep, seconds=round(s, 1),
                      cpu_seconds=round(c, 1),
                      villages_covered_any=r["villages_covered_any"],
                      raster_covered_pct=r.get("raster_covered_pct"),
                      peak_rss_mb=round(mem.peak_mb, 1))
    def spread(d):
        return {k: {"min": round(min(v), 1), "median": round(statistics.median(v), 1),
                    "max": round(max(v), 1)} for k, v in d.items()}

    def ratio(d):
        return round(statistics.median(d["on"]) / statistics.median(d["off"]), 2)

    _emit(bench="realism_summary", resolution_m=a.resolution_m, threads=a.threads,
          seconds=spread(secs), cpu_seconds=spread(cpu),
          ratio_on_vs_off={"wall": ratio(secs), "cpu": ratio(cpu),
                           "wall_min_max": [round(min(secs["on"]) / max(secs["off"]), 2),
                                            round(max(secs["on"]) / min(secs["off"]), 2)]})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
