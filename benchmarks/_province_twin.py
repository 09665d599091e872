"""The province raster set-up shared by the province benchmarks: the twin (or a saved bundle),
its terrain, transmitters and best-server groups, and the province grid.

Used by ``bench_coverage_models.py`` and ``profile_raster_stages.py`` so that both time the
same inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ProvinceRun", "province_run"]


@dataclass
class ProvinceRun:
    """What ``raster_links`` needs for the province: ``raster_links(txs, groups, n_groups,
    terrain, grid, opts)`` with ``txs = TxSet.from_frame(tx, terrain, opts)``."""

    bundle: object
    terrain: object
    tx: object
    area: object
    grid: object
    groups: object
    pairs: list

    def grid_at(self, resolution_m: float):
        """The province grid at another cell size (e.g. a coarse one for JIT warm-up)."""
        from phusong.coverage._raster import grid_over

        return grid_over(self.area, resolution_m, self.terrain)


def province_run(resolution_m: float, bundle_dir: str | None = None) -> ProvinceRun:
    """The twin (seed 0, built here) or ``bundle_dir`` on a ``resolution_m`` grid."""
    from phusong import settings
    from phusong.coverage._link import transmitters
    from phusong.coverage._raster import grid_over
    from phusong.coverage._score import _groups
    from phusong.coverage._terrain import prepare_terrain

    if bundle_dir:
        from phusong.bundle import load_bundle
        bundle = load_bundle(bundle_dir)
    else:
        from phusong.twin import build_twin
        bundle = build_twin(seed=0)
    terrain = prepare_terrain(bundle.dem)
    tx = transmitters(bundle, terrain=terrain)
    area = bundle.communes.to_crs(settings.WORK_CRS).union_all()
    g, pairs = _groups(tx)
    return ProvinceRun(bundle, terrain, tx, area, grid_over(area, resolution_m, terrain), g,
                       pairs)
