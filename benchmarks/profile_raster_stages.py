"""Profile: where a province raster run spends its CPU time, stage by stage.

Builds the twin (seed 0, or ``--bundle`` a saved bundle), then runs the best-server raster
over the province at ``--resolution-m`` with the engine's defaults (screened) for one model,
after an untimed warm-up on a 2 km grid (numba compilation). Each stage of the per-site work
unit (``_raster._site_unit``) is wrapped by a thread-CPU timer: grid cell → ray point mapping
(``site_pixels``), ray sampling (``sample``: the terrain floor), diffraction geometry
(``ray_geometry``), the reference model checks, the model kernel (``itm`` or ``emp``), the
fused link budget and best-server reduction (``links``) and the screening's per-site filter
(``screen.keep``); ``site_unit_total`` includes the Python glue between them. The coarse
screening pass calls the same stages: they are reported apart (``coarse:`` against ``fine:``),
and ``fine:screen_pass`` is the whole coarse pass (set-up and reference best included). Stage
counts are calls.

One JSON line on stdout: wall and CPU seconds (and of them the system's, with the minor page
faults: memory the kernel hands out afresh; see ``phusong/coverage/_raster_malloc.py``), the
engine's stats, and per stage
``[thread CPU seconds, calls]``; for ITM also the ray points evaluated and the (point, band)
pairs wanted (``itm_point_bands / itm_points``: the bands per point the screening leaves;
the coarse pass counts too). The timer costs ≈ 1 µs per call (≈ 10⁴ calls).

Usage: .venv/bin/python benchmarks/profile_raster_stages.py [--model hata] [--resolution-m 100]
       [--threads 1] [--bundle DIR]
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import resource
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="hata")
    ap.add_argument("--diffraction", default="bullington")
    ap.add_argument("--resolution-m", type=float, default=100.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--bundle", help="a saved bundle (default: build the twin, seed 0)")
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from _province_twin import province_run

    from phusong.coverage import _raster
    from phusong.coverage._engine import EngineOptions, TxSet
    from phusong.coverage._raster import raster_links

    cpu = collections.defaultdict(float)
    calls = collections.Counter()
    lock = threading.Lock()
    phase = ["fine"]  # "coarse" while the screening's coarse pass runs

    def timed(name, fn):
        def run(*args, **kw):
            t0 = time.thread_time()
            out = fn(*args, **kw)
            key = f"{phase[0]}:{name}"
            with lock:
                cpu[key] += time.thread_time() - t0
                calls[key] += 1
            return out
        return run

    screen_init = _raster._Screen.__init__

    def coarse_pass(self, *args, **kw):
        phase[0] = "coarse"
        try:
            screen_init(self, *args, **kw)
        finally:
            phase[0] = "fine"

    _raster._Screen.__init__ = coarse_pass

    for name in ("site_pixels", "ray_geometry", "_model_checks", "_site_unit"):
        setattr(_raster, name, timed(name.strip("_") if name != "_site_unit"
                                     else "site_unit_total", getattr(_raster, name)))
    _raster._Screen.keep = timed("screen.keep", _raster._Screen.keep)
    _raster._Screen.__init__ = timed("screen_pass", _raster._Screen.__init__)

    def itm_counted(fn):
        run = timed("itm", fn)

        def itm(*args):
            need = args[4]
            with lock:  # ITM's sparsity: points evaluated and the (point, band) pairs wanted
                calls["itm.points"] += int(need.any(axis=0).sum())
                calls["itm.point_bands"] += int(need.sum())
            return run(*args)
        return itm

    for kn in ("_PARALLEL", "_SERIAL"):
        k = getattr(_raster, kn)
        setattr(_raster, kn, dataclasses.replace(
            k, sample=timed("sample", k.sample), itm=itm_counted(k.itm),
            links=timed("links", k.links), emp=timed("emp", k.emp)))

    run = province_run(a.resolution_m, a.bundle)
    terrain, grid, g, pairs = run.terrain, run.grid, run.groups, run.pairs
    opts = EngineOptions(model=a.model, diffraction=a.diffraction, threads=a.threads).check()
    txs = TxSet.from_frame(run.tx, terrain, opts)
    raster_links(txs, g, len(pairs), terrain, run.grid_at(2000.0), opts)  # JIT
    cpu.clear()
    calls.clear()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0, c0 = time.perf_counter(), time.process_time()
    _, _, st = raster_links(txs, g, len(pairs), terrain, grid, opts)
    wall, total = time.perf_counter() - t0, time.process_time() - c0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"bench": "raster_stages", "model": a.model, "diffraction": a.diffraction,
                      "resolution_m": a.resolution_m, "threads": a.threads,
                      "wall_s": round(wall, 2), "cpu_s": round(total, 2),
                      "sys_cpu_s": round(r1.ru_stime - r0.ru_stime, 2),
                      "minor_faults": r1.ru_minflt - r0.ru_minflt, "stats": st,
                      "stages_cpu_s_calls": {k: [round(v, 2), calls[k]] for k, v in
                                             sorted(cpu.items(), key=lambda x: -x[1])},
                      "itm_points": calls["itm.points"],
                      "itm_point_bands": calls["itm.point_bands"]}),
          flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
