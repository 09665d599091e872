"""Compare the province best-server rasters of two versions of the engine, bit for bit.

Runs ``raster_links`` (the engine's defaults: screened, 2 threads unless ``--threads``) over the
twin (or ``--bundle``) for Hata + Bullington and 38.901 + Bullington at 100 m and 38.901 +
Deygout at 300 m, and either saves the best level and serving cell of every (group, grid cell)
(``--save DIR``) or compares them with a saved run (``--against DIR``): cells that differ,
their largest |Δ| (dB) and whether the arrays are identical byte for byte. Run ``--save`` with
the old code on ``PYTHONPATH`` (e.g. a ``git archive`` of the base commit) and ``--against``
with the new one. JSON lines on stdout.

Usage: .venv/bin/python benchmarks/compare_raster_outputs.py (--save DIR | --against DIR)
       [--bundle DIR] [--threads 2] [--runs hata:bullington:100,38901:deygout:300]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

RUNS = "hata:bullington:100,38901:bullington:100,38901:deygout:300"


def main() -> int:
    ap = argparse.ArgumentParser()
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--save")
    g.add_argument("--against")
    ap.add_argument("--bundle")
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--runs", default=RUNS)
    a = ap.parse_args()
    sys.path.append(str(Path(__file__).resolve().parent))  # after PYTHONPATH: its phusong
    from _province_twin import province_run

    from phusong.coverage._engine import EngineOptions, TxSet
    from phusong.coverage._raster import raster_links

    runs = {}
    for spec in a.runs.split(","):
        model, diff, res = spec.split(":")
        r = runs.get(float(res)) or province_run(float(res), a.bundle)
        runs[float(res)] = r
        opts = EngineOptions(model=model, diffraction=diff, threads=a.threads).check()
        txs = TxSet.from_frame(r.tx, r.terrain, opts)
        c0 = time.process_time()
        best, arg, st = raster_links(txs, r.groups, len(r.pairs), r.terrain, r.grid, opts)
        cpu = time.process_time() - c0
        name = f"{model}_{diff}_{res}m.npz"
        row = {"bench": "compare_raster_outputs", "model": model, "diffraction": diff,
               "resolution_m": float(res), "threads": a.threads, "cpu_s": round(cpu, 1),
               "links": st["links"], "points_evaluated": st["points_evaluated"]}
        if a.save:
            Path(a.save).mkdir(parents=True, exist_ok=True)
            np.savez(Path(a.save) / name, best=best, arg=arg)
            row["saved"] = str(Path(a.save) / name)
        else:
            ref = np.load(Path(a.against) / name)
            b0, a0 = ref["best"], ref["arg"]
            diff_cells = (best.view(np.int32) != b0.view(np.int32)) | (arg != a0)
            both = np.isfinite(best) & np.isfinite(b0)
            sel = diff_cells & both
            gap = np.abs(best[sel].astype(float) - b0[sel])
            row |= {"identical_bytes": bool(best.tobytes() == b0.tobytes()
                                            and arg.tobytes() == a0.tobytes()),
                    "cells_differing": int(diff_cells.sum()), "cells": int(best.size),
                    "max_abs_db": float(gap.max()) if gap.size else 0.0,
                    "finite_pattern_equal": bool((np.isfinite(best) == np.isfinite(b0)).all())}
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
