"""The bound per worker the dask executor would state for an area, without running it.

Builds the raster's dask graph (:func:`phusong.coverage._dask_raster.dask_raster_tiles`) with
an executor that submits nothing, so the graph's sizing (tiles, batches, the sites reaching
each tile and their coarse windows) is computed exactly as in a run, and prints one JSON line
with the memory rule (``raster.memory_rule`` of ``coverage.json``): what a heavy run (the
whole twin at 30 m, ≈ 40 CPU-minutes) would state, in seconds. Compare it with a run's
measured peaks (``benchmarks/profile_dask_memory.py``, ``benchmarks/bench_dask.py``).

Usage: .venv/bin/python benchmarks/dask_memory_rule.py --bundle /tmp/twin
       [--area province] [--resolution-m 30] [--slots 2]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


class _Dry:
    """An executor that builds the graph and runs nothing."""

    tasks = 0

    def __init__(self, slots: int):
        self._slots = slots

    def slots(self) -> int:
        return self._slots

    def scatter(self, data):
        return data

    def submit(self, fn, *args, **kw):
        self.tasks += 1

    def results(self, futures, description, watch=()):
        return iter(())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--area", default="province")
    ap.add_argument("--resolution-m", type=float, default=30.0)
    ap.add_argument("--slots", type=int, default=2, help="worker threads of the cluster")
    args = ap.parse_args()
    from bench_dask import _subset

    from phusong import settings
    from phusong.bundle import load_bundle
    from phusong.config import DEFAULT_SETTINGS
    from phusong.coverage import _dask_raster as dr
    from phusong.coverage._engine import EngineOptions, TxSet
    from phusong.coverage._grid_mask import AreaGrid
    from phusong.coverage._link import transmitters
    from phusong.coverage._score import _groups
    from phusong.coverage._terrain import prepare_terrain
    from phusong.coverage._tiles import tile_side
    from phusong.coverage.interference import cell_keys

    b = _subset(load_bundle(args.bundle), args.area)
    terrain = prepare_terrain(b.dem)
    tx = transmitters(b, terrain=terrain)
    opts = EngineOptions.of(DEFAULT_SETTINGS, model="itm", threads=1).check()
    area = AreaGrid.over(b.communes.to_crs(settings.WORK_CRS).union_all(), args.resolution_m,
                         terrain)
    txs = TxSet.from_frame(tx, terrain, opts)
    g, pairs = _groups(tx)
    keys, n_keys = cell_keys(tx)
    side = tile_side(len(pairs))
    stats: dict = {}
    real_finish = dr._finish
    dr._finish = lambda ctx, win, masks, acc, kw: {"_stats": (0,) * 6}  # the client's tiles
    try:
        for _ in dr.dask_raster_tiles(_Dry(args.slots), txs, g, len(pairs), terrain, area, opts,
                                      side, stats, n_keys=n_keys, keys=keys):
            pass
    finally:
        dr._finish = real_finish
    print(json.dumps({"area": args.area, "resolution_m": args.resolution_m,
                      "shape": list(area.shape), "tile_side": side, "tiles": stats["tiles"],
                      "tiles_scheduled": stats["tiles_scheduled"], "batches": stats["batches"],
                      "sites": stats["sites"], "memory_rule": stats["memory_rule"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
