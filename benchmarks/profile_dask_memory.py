"""Profile: what a dask worker holds during a coverage run, sampled without tracing.

Runs :func:`phusong.coverage.run_bundle` on a LocalCluster while a client-side thread asks
every worker, every ``--every-s`` seconds, for its resident set size (``psutil``) and the bytes
of the task results it holds, by task kind (the key's prefix: ``_fine_unit``, ``_merge``,
``_coarse_tile`` …, measured by ``dask.sizeof``). No allocation is traced, so the run keeps
its speed. Prints one JSON line per sample and a summary line with each kind's peak, every
worker's peak resident set (``ru_maxrss``, whole process) and the bound the run's
:func:`phusong.coverage._dask_raster.memory_rule` states, with ``within_bound`` per worker.

Usage: .venv/bin/python benchmarks/profile_dask_memory.py --bundle /tmp/twin
       [--area district:154] [--resolution-m 60] [--workers 1] [--tile-cells 256]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def _held(dask_worker) -> dict:
    """RSS and held result bytes by key prefix of the worker it runs on."""
    import psutil
    from dask.sizeof import sizeof

    out: dict = {"rss_mb": psutil.Process().memory_info().rss / 2**20}
    by: dict = {}
    for key in list(dask_worker.data.keys()):
        name = key.split("-", 1)[0] if isinstance(key, str) else str(key)
        try:
            by[name] = by.get(name, 0) + sizeof(dask_worker.data[key])
        except KeyError:  # released meanwhile
            continue
    out["held_mb"] = {k: round(v / 2**20, 1) for k, v in sorted(by.items())}
    out["n_held"] = len(dask_worker.data)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--area", default="district:154")
    ap.add_argument("--resolution-m", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--tile-cells", type=int, default=None)
    ap.add_argument("--every-s", type=float, default=0.5)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    import tempfile

    from bench_dask import _subset

    from phusong.bundle import load_bundle
    from phusong.coverage import DaskExecutor, run_bundle

    b = _subset(load_bundle(args.bundle), args.area)
    out = args.out or tempfile.mkdtemp(prefix="profile_dask.")
    peaks: dict = {}
    stop = threading.Event()
    t0 = time.perf_counter()
    with DaskExecutor(workers=args.workers) as ex:
        def poll():
            while not stop.wait(args.every_s):
                try:
                    snap = ex.client.run(_held)
                except Exception:  # noqa: BLE001 - closing
                    return
                for w, s in snap.items():
                    p = peaks.setdefault(w, {"rss_mb": 0.0, "held_mb": {}, "total_held_mb": 0.0})
                    p["rss_mb"] = max(p["rss_mb"], s["rss_mb"])
                    tot = sum(s["held_mb"].values())
                    p["total_held_mb"] = max(p["total_held_mb"], tot)
                    for k, v in s["held_mb"].items():
                        p["held_mb"][k] = max(p["held_mb"].get(k, 0.0), v)
                    print(json.dumps({"t_s": round(time.perf_counter() - t0, 1), "worker": w,
                                      **s}), flush=True)

        th = threading.Thread(target=poll, daemon=True)
        th.start()
        rep = run_bundle(b, out, resolution_m=args.resolution_m, overwrite=True, executor=ex,
                         tile_cells=args.tile_cells)
        stop.set()
        th.join()
    rule = rep["raster"]["memory_rule"]
    peak = rep["executor"]["worker_peak_rss_mb"]
    print(json.dumps({"summary": True, "area": args.area, "resolution_m": args.resolution_m,
                      "workers": args.workers, "raster": {k: rep["raster"].get(k) for k in (
                          "shape", "tiles", "tiles_scheduled", "tile_side", "batches",
                          "chains_per_tile", "tasks", "sites")},
                      "memory_rule": rule, "worker_peak_rss_mb": peak,
                      "within_bound": {w: v <= rule["per_worker_mib"] for w, v in peak.items()},
                      "dem": rep["executor"]["dem"],
                      "wall_s": round(time.perf_counter() - t0, 1), "peaks": peaks}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
