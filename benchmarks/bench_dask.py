"""Benchmark: coverage (villages + raster, ITM, screened) on local threads vs dask workers.

For each area and resolution, runs :func:`phusong.coverage.run_bundle` in a fresh child
process per configuration: local threads (the baseline, ``--threads``), then a LocalCluster of
1 and of 2 worker processes (one thread each). Prints one JSON line per run: wall seconds,
CPU seconds (client + workers, user + system: the robust figure on a shared machine), speed-up
and overhead against the local run of the same area, peak resident memory of the
child (the client) and of every worker process against the bound the memory rule states, tasks,
tiles and the raster's links (site-cell pairs computed), the cost per site-cell and per grid
cell (worker-seconds), and whether every output file but coverage.json is byte-identical to the
local run's. With ``--repeats N`` every figure is min/median/max over the N runs, and the
ratios pair the i-th dask run with the i-th local run.

**Overhead profile.** Each dask run records dask's task stream: per task kind (``_fine_unit``,
``_coarse_tile``, ``_merge``, ``_apply_unit`` …) the tasks, the wall seconds spent computing
them and their thread CPU seconds (distributed's own metrics; a worker's first task also loads
the numba kernels), and the seconds spent moving data between workers.
``in_task_cpu_vs_local`` (CPU seconds inside tasks / the local run's CPU seconds) is the work
the partition adds (coarse halos, rays walked again per tile, accumulator copies);
``outside_tasks_cpu_s`` (client + workers CPU not inside any task) is what dask itself costs
(process start-up and imports, serialisation, the scheduler's and workers' event loops).

Areas: ``province`` (the whole twin) and ``district:CODE`` (the communes of one district of the
twin, with the sites within 25 km of it: the 30 m run of the whole twin, ≈ 5 M cells, is too
heavy for a shared 2-core machine).

**Resuming a heavy run.** ``--work-dir DIR`` keeps every run's output folder in DIR (default: a
temporary folder removed at the end). ``--local-line FILE`` skips the local runs and takes the
local baseline of each area and resolution from FILE (the JSON lines an earlier run of this
script printed with the same ``--work-dir``): its median wall and CPU seconds, and its first
output folder for the byte comparison. Ratios then pair every dask run with that median. This
lets the whole twin at 30 m (≈ 40 CPU-minutes locally, twice that on dask) run as separate
sittings on a shared machine.

Usage: .venv/bin/python benchmarks/bench_dask.py --bundle /tmp/twin
       [--runs province@100,district:148@30] [--threads 2] [--repeats 1]
       [--work-dir DIR] [--local-line FILE]
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _subset(bundle, area: str):
    """The bundle, or one district of it with the sites within 25 km."""
    if area == "province":
        return bundle
    from phusong import settings
    from phusong.bundle import Bundle

    code = area.split(":", 1)[1]
    com = bundle.communes[bundle.communes["district_code"].astype(str) == code]
    if com.empty:
        raise SystemExit(f"no district {code} in the bundle")
    poly = com.to_crs(settings.WORK_CRS).union_all().buffer(
        max(settings.MAX_RADIUS_KM.values()) * 1000.0)
    sites = bundle.sites[bundle.sites.to_crs(settings.WORK_CRS).within(poly)]
    cells = bundle.cells[bundle.cells["site_id"].isin(sites["site_id"])]
    vil = bundle.villages[bundle.villages["commune_code"].isin(com["commune_code"])]
    layers = dict(bundle.layers) | {"communes": com, "sites": sites, "cells": cells,
                                    "villages": vil}
    return Bundle(f"{bundle.name} {area}", layers=layers, rasters=dict(bundle.rasters))


def child(args) -> None:
    """One configuration, in this (fresh) process; prints its JSON report."""
    sys.path.insert(0, str(ROOT))
    from phusong.bundle import load_bundle
    from phusong.coverage import DaskExecutor, run_bundle

    b = _subset(load_bundle(args.bundle), args.area)
    kw = dict(resolution_m=args.resolution_m, threads=args.threads, overwrite=True)
    t0 = time.perf_counter()
    if args.workers:
        from dask.utils import key_split
        from distributed import get_task_stream

        with DaskExecutor(workers=args.workers) as ex:
            t_up = time.perf_counter() - t0
            with get_task_stream(client=ex.client) as ts:
                rep = run_bundle(b, args.out, executor=ex, **kw)
            kinds: dict = {}
            transfer = 0.0
            for rec in ts.data:
                k = kinds.setdefault(key_split(rec["key"]), {"tasks": 0, "compute_s": 0.0})
                for ss in rec.get("startstops", ()):
                    if ss["action"] == "compute":
                        k["compute_s"] += ss["stop"] - ss["start"]
                        k["tasks"] += 1
                    elif ss["action"] == "transfer":
                        transfer += ss["stop"] - ss["start"]
            # CPU seconds inside tasks, per task kind, from the workers' own metrics
            cpu: dict = {}
            for dig in ex.client.run(_task_cpu).values():
                for n, v in dig.items():
                    cpu[n] = cpu.get(n, 0.0) + v
            rep["task_stream"] = {"kinds": {n: {"tasks": v["tasks"],
                                                "compute_s": round(v["compute_s"], 2),
                                                "cpu_s": round(cpu.get(n, 0.0), 2)}
                                            for n, v in sorted(kinds.items())},
                                  "in_task_cpu_s": round(sum(cpu.values()), 2),
                                  "in_task_s": round(sum(v["compute_s"]
                                                         for v in kinds.values()), 2),
                                  "transfer_s": round(transfer, 2)}
    else:
        t_up = 0.0
        rep = run_bundle(b, args.out, **kw)
    rep["wall_s"] = time.perf_counter() - t0
    rep["cluster_start_s"] = t_up
    me = resource.getrusage(resource.RUSAGE_SELF)
    rep["client_peak_rss_mb"] = me.ru_maxrss / 1024.0
    rep["client_cpu_s"] = me.ru_utime + me.ru_stime
    rep["cpu_s"] = rep["client_cpu_s"] + sum(rep.get("executor", {}).get("worker_cpu_s",
                                                                          {}).values())
    print(json.dumps(rep, default=str))


def _task_cpu(dask_worker) -> dict:
    """Thread CPU seconds a worker spent inside tasks, by task kind (distributed's metrics)."""
    out: dict = {}
    for key, v in dask_worker.digests_total.items():
        if (isinstance(key, tuple) and len(key) == 5 and key[0] == "execute"
                and key[3] == "thread-cpu"):
            out[key[2]] = out.get(key[2], 0.0) + float(v)
    return out


def _run(args, area, res, workers, out) -> dict:
    cmd = [sys.executable, __file__, "--child", "--bundle", args.bundle, "--area", area,
           "--resolution-m", str(res), "--threads", str(args.threads), "--workers",
           str(workers), "--out", str(out)]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if p.returncode:
        raise SystemExit(p.stderr[-3000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def _same(a: Path, b: Path) -> bool:
    return all(filecmp.cmp(f, b / f.name, shallow=False) for f in a.iterdir()
               if f.name != "coverage.json")


def _mmm(values) -> dict:
    return {"min": round(min(values), 2), "median": round(statistics.median(values), 2),
            "max": round(max(values), 2), "n": len(values)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--runs", default="province@100,district:148@30")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers-list", default="1,2")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--child", action="store_true")
    ap.add_argument("--area", default="province")
    ap.add_argument("--resolution-m", type=float, default=100.0)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--out")
    ap.add_argument("--work-dir")
    ap.add_argument("--local-line")
    args = ap.parse_args()
    if args.child:
        child(args)
        return 0
    if args.work_dir:
        tmp = Path(args.work_dir)
        tmp.mkdir(parents=True, exist_ok=True)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="bench_dask."))
    try:
        for spec in args.runs.split(","):
            area, res = spec.split("@")
            res = float(res)
            base = _local_line(args, area, res, tmp) if args.local_line else None
            todo = [int(w) for w in args.workers_list.split(",")]
            for workers in todo if base else [0] + todo:
                reps, outs = [], []
                for i in range(args.repeats):
                    out = tmp / f"{area.replace(':', '_')}_{res:g}_{workers}_{i}"
                    reps.append(_run(args, area, res, workers, out))
                    outs.append(out)
                walls = [r["wall_s"] for r in reps]
                cpus = [r["cpu_s"] for r in reps]
                rep, r = reps[-1], reps[-1]["raster"]
                line = {"area": area, "resolution_m": res, "grid_cells": r["grid_cells"],
                        "shape": r["shape"], "sites": r["sites"], "links": r["links"],
                        "executor": "local threads" if not workers else f"{workers} workers",
                        "threads": args.threads if not workers else workers,
                        "wall_s": _mmm(walls), "cpu_s": _mmm(cpus),
                        "raster_s": _mmm([x["raster"]["seconds"] for x in reps]),
                        "load_avg_1min": round(os.getloadavg()[0], 1),
                        "cluster_start_s": _mmm([x["cluster_start_s"] for x in reps]),
                        "client_peak_rss_mb": _mmm([x["client_peak_rss_mb"] for x in reps])}
                if not workers:
                    base = (walls, outs, cpus)
                    line["worker_s_per_site_cell_us"] = round(
                        1e6 * line["raster_s"]["median"] * args.threads / max(r["links"], 1), 3)
                else:
                    ex = rep["executor"]
                    n = min(len(walls), len(base[0]))
                    peaks = [max(x["executor"]["worker_peak_rss_mb"].values()) for x in reps]
                    bound = rep["raster"]["memory_rule"]["per_worker_mib"]
                    streams = [x["task_stream"] for x in reps]
                    line |= {"speedup_vs_local": _mmm([base[0][i] / walls[i]
                                                       for i in range(n)]),
                             "cpu_vs_local": _mmm([cpus[i] / base[2][i] for i in range(n)]),
                             "in_task_wall_s": _mmm([st["in_task_s"] for st in streams]),
                             "in_task_cpu_s": _mmm([st["in_task_cpu_s"] for st in streams]),
                             "in_task_cpu_vs_local": _mmm([streams[i]["in_task_cpu_s"]
                                                           / base[2][i] for i in range(n)]),
                             "outside_tasks_cpu_s": _mmm([cpus[i] - streams[i]["in_task_cpu_s"]
                                                          for i in range(n)]),
                             "transfer_s": _mmm([st["transfer_s"] for st in streams]),
                             "task_kinds": streams[-1]["kinds"],
                             "worker_peak_rss_mb": _mmm(peaks),
                             "memory_rule_mib": rep["raster"]["memory_rule"],
                             "peak_within_bound": all(p <= bound for p in peaks),
                             "dem": ex.get("dem"), "tasks": ex["tasks"], "tiles": r.get("tiles"),
                             "tiles_scheduled": r.get("tiles_scheduled"),
                             "tile_side": r.get("tile_side"), "batches": r.get("batches"),
                             "worker_s_per_site_cell_us": round(
                                 1e6 * line["raster_s"]["median"] * workers
                                 / max(r["links"], 1), 3),
                             "worker_s_per_grid_cell_ms": round(
                                 1e3 * line["raster_s"]["median"] * workers
                                 / r["grid_cells"], 3),
                             "byte_identical_to_local": all(_same(base[1][0], o) for o in outs)}
                print(json.dumps(line), flush=True)
    finally:
        if not args.work_dir:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _local_line(args, area: str, res: float, tmp: Path) -> tuple:
    """(walls, output folders, CPU seconds) of an earlier local run, from its JSON line."""
    out = tmp / f"{area.replace(':', '_')}_{res:g}_0_0"
    for text in Path(args.local_line).read_text().splitlines():
        line = json.loads(text)
        if (line.get("area"), line.get("resolution_m"), line.get("executor")) == (
                area, res, "local threads"):
            if not out.is_dir():
                raise SystemExit(f"{out}: the local run's output folder is not in --work-dir")
            return [line["wall_s"]["median"]], [out], [line["cpu_s"]["median"]]
    raise SystemExit(f"{args.local_line}: no local line for {area} at {res:g} m")


if __name__ == "__main__":
    sys.exit(main())
