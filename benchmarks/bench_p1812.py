"""Benchmark: phusong's ITU-R P.1812 against the reference implementation, and the province.

1. ``itu_cases``: the 63 ITU validation cases (``../shared/oracles/itu_p1812``, validation
   data from eeveetza/Py1812 (OFCOM)): max |Δ| of Ep and Lb against the expected values, for
   phusong and for the reference run here.
2. ``paths_per_second`` and ``srtm_paths_per_second``: the same 63 profiles (2 of 19 files have 963 points, most 200-300),
   repeated to ``--paths`` paths, through ``p1812_loss_db`` in one call on one thread
   (best of ``--repeats``; CPU seconds of this process, ``time.process_time``, since on a
   shared machine the wall clock also counts other processes' work; both sides run on one
   thread), against the reference ``Py1812.P1812.bt_loss`` called once per
   path (``--ref-paths`` of them, best of ``--repeats``; the same parameters). The reference is
   run from its repository snapshot (``fetch`` of github:eeveetza/Py1812 puts it under
   ``/work/.mirror/eeveetza+Py1812/repo``, or pass ``--py1812-git``): its ``src/Py1812``
   files are read with ``git show`` into a temporary folder, unmodified; an empty
   ``P1812.npz`` stands in for the ITU digital maps its import loads (every case gives ΔN and
   N0, so the maps are never read). It is not a dependency of phusong. The second workload
   is 1–30 km paths every ~90 m on the real SRTM3 tile of ``../shared`` (mobile cell
   ranges; inland, no clutter, 30 m / 1.5 m antennas, p = 50 %, the mobile bands).
   ``rays_per_path``: the engine's own workload, P.1812 along ``--rays`` radial rays of
   ``--ray-radius-m`` every ``--ray-step-m`` on the same tile, every ray sample a receiver
   (the path is the ray prefix; one band, 1842.5 MHz, one thread), against Py1812 on
   ``--ref-paths`` random prefixes of ≥ 5 points of the same rays (its loss for the same
   inputs, the max |Δ| reported). On both real-terrain workloads the repeats alternate which
   side runs first and the ratio (paired per repeat) is also given per order: a figure the
   measurement itself moved would differ between them.
3. ``province``: the twin province raster (seed 0) at each ``--resolution-m`` with P.1812 and
   ITM in the same process, screened as the CLI runs it, with ``--threads``: seconds (wall,
   CPU), ray points evaluated, peak memory, the 1-minute load average of the machine (shared
   machines: read the seconds with it), and the coverage per technology of both models; then
   one ``province_p1812_vs_itm`` line with their ratios (``--models itm,p1812`` runs ITM
   first: the order should not move the ratio).

``../shared`` is looked for beside the repository, or where ``PHUSONG_SHARED`` points.
Prints one JSON line per measurement. Usage:
``.venv/bin/python benchmarks/bench_p1812.py [--paths 6300] [--ref-paths 315]
[--resolution-m 100] [--skip-province]``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
ORACLE = Path(os.environ.get("PHUSONG_SHARED", ROOT.parent / "shared")) / "oracles" / "itu_p1812"
PY1812_GIT = Path("/work/.mirror/eeveetza+Py1812/repo")


def _emit(**kw):
    print(json.dumps(kw), flush=True)


def _stats(v) -> dict:
    v = np.asarray(v, float)
    return {"min": float(v.min()), "median": float(np.median(v)), "max": float(v.max())}


def load_cases():
    """(rows of expected.csv, {file: (d, h, R, zone)}) read with our own parser."""
    from tests.test_p1812 import oracle_cases, read_profile

    cases = oracle_cases()
    return cases, {c["file"]: read_profile(ORACLE / "profiles" / c["file"]) for c in cases}


def load_reference(git_dir: Path):
    """Import Py1812.P1812 from the snapshot's files (unchanged) in a temporary folder."""
    tmp = Path(tempfile.mkdtemp(prefix="py1812-"))
    pkg = tmp / "Py1812"
    pkg.mkdir()
    for name in ("__init__.py", "P1812.py"):
        text = subprocess.run(["git", f"--git-dir={git_dir}", "show",
                               f"HEAD:src/Py1812/{name}"], check=True, capture_output=True,
                              text=True).stdout
        (pkg / name).write_text(text, encoding="utf-8")
    np.savez(pkg / "P1812.npz")  # no maps: every case passes DN and N0
    sys.path.insert(0, str(tmp))
    from Py1812 import P1812  # noqa: PLC0415

    commit = subprocess.run(["git", f"--git-dir={git_dir}", "rev-parse", "HEAD"], check=True,
                            capture_output=True, text=True).stdout.strip()
    return P1812, commit


def ours(cases, prof, reps=1):
    from phusong.coverage import p1812_field_dbuvm, p1812_loss_db

    cs = cases * reps
    f = lambda k: np.array([float(c[k]) for c in cs])  # noqa: E731
    args = ([prof[c["file"]][0] for c in cs], [prof[c["file"]][1] for c in cs], f("f_mhz"))
    kw = dict(time_pct=f("time_pct"), tx_height_m=f("htg_m"), rx_height_m=f("hrg_m"),
              polarization=f("pol").astype(int), zones=[prof[c["file"]][3] for c in cs],
              clutter_heights_m=[prof[c["file"]][2] for c in cs], delta_n=f("dn"), n0=f("n0"),
              tx_lat=f("tx_lat"), tx_lon=f("tx_lon"), rx_lat=f("rx_lat"), rx_lon=f("rx_lon"))
    t0 = time.process_time()  # the call only: inputs in, losses out, checks included
    lb = p1812_loss_db(*args, **kw)
    secs = time.process_time() - t0
    return lb, p1812_field_dbuvm(lb, f("f_mhz"), erp_dbw=f("erp_dbw")), secs


def reference(P1812, cases, prof, n):
    lb = np.empty(n)
    ep = np.empty(n)
    t0 = time.process_time()
    for i in range(n):
        c = cases[i % len(cases)]
        d, h, r, z = prof[c["file"]]
        lb[i], ep[i] = P1812.bt_loss(
            float(c["f_mhz"]) / 1000.0, float(c["time_pct"]), d, h, r, z, float(c["htg_m"]),
            float(c["hrg_m"]), int(c["pol"]), float(c["tx_lat"]), float(c["rx_lat"]),
            float(c["tx_lon"]), float(c["rx_lon"]), DN=float(c["dn"]), N0=float(c["n0"]),
            Ptx=10 ** (float(c["erp_dbw"]) / 10) * 1e-3)
    return lb, ep, time.process_time() - t0


def _srtm_tile():
    """(heights, void mask, inverse transform, bounds) of the SRTM3 tile of ``../shared``, or
    None when it is absent."""
    import rasterio

    dem_path = ORACLE.parents[1] / "data" / "hoabinh" / "dem" / "srtm3_N21E105.tif"
    if not dem_path.exists():
        return None
    with rasterio.open(dem_path) as ds:
        dem = ds.read(1).astype(np.float64)
        void = dem == ds.nodata if ds.nodata is not None else np.zeros(dem.shape, bool)
        return dem, void, ~ds.transform, ds.bounds


def _geod():
    from pyproj import Geod

    return Geod(ellps="WGS84")


def _bilinear(tile, lon, lat):
    """Heights at (lon, lat) points, bilinear between pixel centres; None if any of the four
    pixels around a point is void."""
    dem, void, inv, _ = tile
    col, row = inv * (lon, lat)
    col, row = np.asarray(col) - 0.5, np.asarray(row) - 0.5
    c0 = np.clip(np.floor(col).astype(int), 0, dem.shape[1] - 2)
    r0 = np.clip(np.floor(row).astype(int), 0, dem.shape[0] - 2)
    if (void[r0, c0] | void[r0 + 1, c0] | void[r0, c0 + 1] | void[r0 + 1, c0 + 1]).any():
        return None
    fc, fr = col - c0, row - r0
    return (dem[r0, c0] * (1 - fc) * (1 - fr) + dem[r0, c0 + 1] * fc * (1 - fr)
            + dem[r0 + 1, c0] * (1 - fc) * fr + dem[r0 + 1, c0 + 1] * fc * fr)


def srtm_paths(n_paths: int, seed: int):
    """Real Hòa Bình profiles: random 1–30 km paths on the SRTM3 tile of ``../shared`` every
    ~90 m (bilinear), void-free; returns (distances_km, heights_m, tx lon/lat, rx lon/lat)."""
    tile = _srtm_tile()
    if tile is None:
        return None
    geod, rng = _geod(), np.random.default_rng(seed)
    west, south, east, north = tile[3]
    ds_, hs, ends = [], [], []
    while len(hs) < n_paths:
        lon0 = rng.uniform(west + 0.3, east - 0.3)
        lat0 = rng.uniform(south + 0.3, north - 0.3)
        az, dist = rng.uniform(0.0, 360.0), rng.uniform(1000.0, 30000.0)
        n_int = max(4, int(math.ceil(dist / 90.0)))
        s_m = np.linspace(0.0, dist, n_int + 1)
        lon, lat, _ = geod.fwd(np.full(s_m.size, lon0), np.full(s_m.size, lat0),
                               np.full(s_m.size, az), s_m)
        hh = _bilinear(tile, lon, lat)
        if hh is None:
            continue
        hs.append(hh)
        ds_.append(s_m / 1000.0)
        ends.append((lon[0], lat[0], lon[-1], lat[-1]))
    return ds_, hs, np.array(ends)


def bench_srtm(a, ref):
    """Paths per second on real 1–30 km SRTM3 paths, ours vs the reference (same inputs)."""
    from phusong.coverage import p1812_loss_db

    got = srtm_paths(a.paths, seed=1)
    if got is None:
        _emit(bench="srtm_paths_per_second", skipped="../shared SRTM tile absent")
        return
    d, h, e = got
    rng = np.random.default_rng(2)
    f = rng.choice([780.0, 947.5, 1842.5, 2140.0, 2595.0, 3750.0], len(d))
    kw = dict(time_pct=50.0, tx_height_m=30.0, rx_height_m=1.5, polarization=2, zones=4,
              clutter_heights_m=0.0, delta_n=50.0, n0=375.0, tx_lon=e[:, 0], tx_lat=e[:, 1],
              rx_lon=e[:, 2], rx_lat=e[:, 3])
    p1812_loss_db(d[:5], h[:5], f[:5], **{k: v[:5] if isinstance(v, np.ndarray) else v
                                          for k, v in kw.items()})
    n = min(a.ref_paths, len(d))

    def run_ours():
        t0 = time.process_time()
        out = p1812_loss_db(d, h, f, **kw)
        return out, time.process_time() - t0

    def run_ref():
        out = np.empty(n)
        t0 = time.process_time()
        for i in range(n):
            out[i] = ref.bt_loss(f[i] / 1000.0, 50.0, d[i], h[i], np.zeros(len(h[i])),
                                 np.full(len(h[i]), 4), 30.0, 1.5, 2, e[i, 1], e[i, 3],
                                 e[i, 0], e[i, 2], DN=50.0, N0=375.0)[0]
        return out, time.process_time() - t0

    t_ours, t_ref, order = [], [], []
    for rep in range(a.repeats):  # alternate which side runs first: the order must not matter
        first_ours = rep % 2 == 0 or ref is None
        if first_ours:
            lb, to = run_ours()
        if ref is not None:
            rlb, tr = run_ref()
            t_ref.append(tr)
        if not first_ours:
            lb, to = run_ours()
        t_ours.append(to)
        order.append("ours first" if first_ours else "reference first")
    row = {"bench": "srtm_paths_per_second", "threads": 1, "paths": len(d),
           "profile_points": _stats([len(x) for x in h]), "ours_cpu_seconds": _stats(t_ours),
           "ours_paths_per_s": round(len(d) / min(t_ours), 1)}
    if ref is not None:
        ratios = [(tr / n) / (to / len(d)) for tr, to in zip(t_ref, t_ours, strict=True)]
        row |= {"reference_paths": n, "reference_cpu_seconds": _stats(t_ref),
                "reference_paths_per_s": round(n / min(t_ref), 1),
                "speed_ratio_per_path": _stats(ratios),
                "speed_ratio_by_order": {o: round(float(np.median(
                    [r for r, oo in zip(ratios, order, strict=True) if oo == o])), 1)
                    for o in set(order)},
                "ours_vs_reference_max_abs_lb_db": float(np.abs(lb[:n] - rlb).max())}
    _emit(**row)


def srtm_rays(n_rays: int, radius_m: float, step_m: float, seed: int):
    """Radial rays of the real SRTM3 tile around a random void-free site (bilinear, every
    ``step_m`` along true bearings ``360 k / n_rays``): (rays (n_rays, n_s), site lon/lat,
    receiver lon/lat (n_rays, n_s, 2)), or None without ``../shared``."""
    tile = _srtm_tile()
    if tile is None:
        return None
    geod, rng = _geod(), np.random.default_rng(seed)
    west, south, east, north = tile[3]
    n_s = int(radius_m // step_m) + 1
    s_m = np.arange(n_s) * step_m
    while True:
        lon0 = rng.uniform(west + 0.35, east - 0.35)
        lat0 = rng.uniform(south + 0.35, north - 0.35)
        az = np.repeat(np.arange(n_rays) * (360.0 / n_rays), n_s)
        lon, lat, _ = geod.fwd(np.full(az.size, lon0), np.full(az.size, lat0), az,
                               np.tile(s_m, n_rays))
        h = _bilinear(tile, lon, lat)
        if h is None:
            continue
        return (h.reshape(n_rays, n_s), (lon0, lat0),
                np.stack([lon, lat], axis=-1).reshape(n_rays, n_s, 2))


def _rays_ours(rays, step_m, f_mhz, htx, hrx, sx, sy, params):
    """Every ray sample j ≥ 1 a receiver (one band): (Lb (n_rays, n_s), CPU seconds)."""
    from phusong.coverage.p1812._engine import ray_losses_serial

    n_rays, n_s = rays.shape
    slot = np.arange(n_rays * n_s, dtype=np.int64)
    slot[::n_s] = -1  # the site itself is no receiver
    need = np.ones((1, n_rays * n_s), bool)
    last = np.full(n_rays, n_s - 1, np.int64)
    out = np.full((1, n_rays * n_s), np.nan)
    t0 = time.process_time()
    ray_losses_serial(rays, last, step_m, slot, need, [f_mhz], htx, hrx, sx, sy,
                      params=params, out=out)
    return out[0].reshape(n_rays, n_s), time.process_time() - t0


def _rays_reference(ref, rays, picks, step_m, f_mhz, htx, hrx, site, rx_ll, params):
    """Py1812 on the ray prefixes ``picks`` (ray, sample): (Lb, CPU seconds)."""
    lb = np.empty(len(picks))
    t0 = time.process_time()
    for q, (k, j) in enumerate(picks):
        d = np.arange(j + 1) * (step_m / 1000.0)
        lb[q] = ref.bt_loss(f_mhz / 1000.0, params.time_pct, d, rays[k, :j + 1],
                            np.zeros(j + 1), np.full(j + 1, 4), htx, hrx, 2, site[1],
                            rx_ll[k, j, 1], site[0], rx_ll[k, j, 0], DN=params.delta_n,
                            N0=params.n0)[0]
    return lb, time.process_time() - t0


def bench_rays(a, ref):
    """P.1812 along rays, every sample a receiver: paths per second of the engine's walk
    (:func:`~phusong.coverage.p1812._engine.ray_losses_serial`, one thread, one band) against
    Py1812 on a random subset of the same prefixes, and their agreement."""
    import dataclasses

    from pyproj import Transformer

    from phusong import settings

    got = srtm_rays(a.rays, a.ray_radius_m, a.ray_step_m, seed=3)
    if got is None:
        _emit(bench="rays_per_path", skipped="../shared SRTM tile absent")
        return
    rays, site, rx_ll = got
    sx, sy = Transformer.from_crs(settings.STORE_CRS, settings.WORK_CRS,
                                  always_xy=True).transform(*site)
    params = dataclasses.replace(settings.P1812, location_pct=50.0, time_pct=50.0)
    f_mhz, htx, hrx = 1842.5, 30.0, 1.5
    n_rays, n_s = rays.shape
    _rays_ours(rays, a.ray_step_m, f_mhz, htx, hrx, sx, sy, params)  # JIT, first touch
    n_paths = n_rays * (n_s - 1)
    rng = np.random.default_rng(4)
    flat = rng.choice(n_rays * (n_s - 4), min(a.ref_paths, n_rays * (n_s - 4)), replace=False)
    picks = [(int(q // (n_s - 4)), int(q % (n_s - 4)) + 4) for q in flat]  # ≥ 5 points
    t_ours, t_ref, order = [], [], []
    for rep in range(a.repeats):  # alternate which side runs first: the order must not matter
        first_ours = rep % 2 == 0
        if first_ours:
            lb, to = _rays_ours(rays, a.ray_step_m, f_mhz, htx, hrx, sx, sy, params)
        if ref is not None:
            rlb, tr = _rays_reference(ref, rays, picks, a.ray_step_m, f_mhz, htx, hrx, site,
                                      rx_ll, params)
            t_ref.append(tr)
        if not first_ours:
            lb, to = _rays_ours(rays, a.ray_step_m, f_mhz, htx, hrx, sx, sy, params)
        t_ours.append(to)
        order.append("ours first" if first_ours else "reference first")
    row = {"bench": "rays_per_path", "threads": 1, "rays": n_rays, "samples_per_ray": n_s,
           "step_m": a.ray_step_m, "paths": n_paths, "f_mhz": f_mhz,
           "ours_cpu_seconds": _stats(t_ours), "ours_paths_per_s": round(n_paths / min(t_ours))}
    if ref is not None:
        ours_pick = np.array([lb[k, j] for k, j in picks])
        ratios = [(tr / len(picks)) / (to / n_paths) for tr, to in zip(t_ref, t_ours, strict=True)]
        row |= {"reference_paths": len(picks), "reference_cpu_seconds": _stats(t_ref),
                "reference_paths_per_s": round(len(picks) / min(t_ref), 1),
                "speed_ratio_per_path": _stats(ratios),
                "speed_ratio_by_order": {o: round(float(np.median(
                    [r for r, oo in zip(ratios, order, strict=True) if oo == o])), 1) for o in set(order)},
                "ours_vs_reference_max_abs_lb_db": float(np.abs(ours_pick - rlb).max())}
    _emit(**row)


def bench_cases(a):
    import numba

    numba.set_num_threads(1)
    cases, prof = load_cases()
    if not cases:
        _emit(bench="itu_cases", skipped=f"{ORACLE} is absent")
        return
    exp_ep = np.array([float(c["expected_ep_dbuvm"]) for c in cases])
    exp_lb = np.array([float(c["expected_lb_db"]) for c in cases])
    ours(cases, prof)  # JIT compile (cached) outside the timing
    lb, ep, _ = ours(cases, prof)
    row = {"bench": "itu_cases", "cases": len(cases),
           "ours_max_abs_ep_db": float(np.abs(ep - exp_ep).max()),
           "ours_max_abs_lb_db": float(np.abs(lb - exp_lb).max())}
    git = Path(a.py1812_git)
    ref = None
    if git.exists():
        P1812, commit = load_reference(git)
        rlb, rep, _ = reference(P1812, cases, prof, len(cases))
        ref = P1812
        row |= {"reference_commit": commit,
                "reference_max_abs_ep_db": float(np.abs(rep - exp_ep).max()),
                "ours_vs_reference_max_abs_lb_db": float(np.abs(lb - rlb).max())}
    _emit(**row)
    reps = max(1, a.paths // len(cases))
    t_ours = [ours(cases, prof, reps)[2] for _ in range(a.repeats)]
    n_ours = reps * len(cases)
    row = {"bench": "paths_per_second", "threads": 1, "ours_paths": n_ours,
           "ours_cpu_seconds": _stats(t_ours),
           "ours_paths_per_s": round(n_ours / min(t_ours), 1),
           "mean_profile_points": round(float(np.mean([len(prof[c["file"]][0])
                                                       for c in cases])), 1)}
    if ref is not None:
        t_ref = [reference(ref, cases, prof, a.ref_paths)[2] for _ in range(a.repeats)]
        per_ours = min(t_ours) / n_ours
        per_ref = min(t_ref) / a.ref_paths
        row |= {"reference_paths": a.ref_paths, "reference_cpu_seconds": _stats(t_ref),
                "reference_paths_per_s": round(a.ref_paths / min(t_ref), 1),
                "speed_ratio_per_path": round(per_ref / per_ours, 1),
                "speed_ratio_per_path_spread": _stats(
                    [(tr / a.ref_paths) / (to / n_ours) for tr in t_ref for to in t_ours])}
    else:
        row["reference"] = f"snapshot {git} absent: fetch github:eeveetza/Py1812"
    _emit(**row)
    bench_srtm(a, ref)
    bench_rays(a, ref)


def bench_province(a):
    from phusong import settings
    from phusong.coverage._engine import EngineOptions, TxSet
    from phusong.coverage._link import transmitters
    from phusong.coverage._raster import grid_over, raster_links
    from phusong.coverage._score import _groups
    from phusong.coverage._terrain import prepare_terrain
    from phusong.twin import build_twin

    t0 = time.perf_counter()
    bundle = build_twin(seed=0)
    terrain = prepare_terrain(bundle.dem)
    tx = transmitters(bundle, terrain=terrain)
    area = bundle.communes.to_crs(settings.WORK_CRS).union_all()
    g, pairs = _groups(tx)
    _emit(bench="province_setup", seconds=round(time.perf_counter() - t0, 1),
          sites=int(tx["site_id"].nunique()), cells=len(tx))
    coarse = grid_over(area, 2000.0, terrain)
    for model in a.models.split(","):
        warm = EngineOptions(model=model, threads=a.threads)
        raster_links(TxSet.from_frame(tx.head(40), terrain, warm), g[:40], len(pairs), terrain,
                     coarse, warm)  # JIT warm-up outside the timing
    models = a.models.split(",")
    for res in (float(x) for x in a.resolution_m.split(",")):
        grid = grid_over(area, res, terrain)
        rows = {model: _province_run(a, model, res, grid, tx, g, pairs, terrain)
                for model in models}
        if {"p1812", "itm"} <= rows.keys():  # the figure: both in this one process
            p, i = rows["p1812"], rows["itm"]
            _emit(bench="province_p1812_vs_itm", resolution_m=res, order=models,
                  p1812_cpu_seconds=p["cpu_seconds"], itm_cpu_seconds=i["cpu_seconds"],
                  cpu_ratio=round(p["cpu_seconds"] / i["cpu_seconds"], 2),
                  p1812_seconds=p["seconds"], itm_seconds=i["seconds"],
                  wall_ratio=round(p["seconds"] / i["seconds"], 2),
                  load_average_1min=[p["load_average_1min"], i["load_average_1min"]])


def _province_run(a, model, res, grid, tx, g, pairs, terrain) -> dict:
    """One screened province raster with ``model``; one JSON line (also returned)."""
    from _peak_rss import PeakRSS

    from phusong import settings
    from phusong.coverage._engine import EngineOptions, TxSet
    from phusong.coverage._raster import raster_links

    opts = EngineOptions(model=model, threads=a.threads).check()
    txs = TxSet.from_frame(tx, terrain, opts)
    with PeakRSS() as mem:
        t1, c1 = time.perf_counter(), time.process_time()
        best, _, st = raster_links(txs, g, len(pairs), terrain, grid, opts)
        secs, cpu = time.perf_counter() - t1, time.process_time() - c1
    row = {"bench": "province_raster", "model": model, "resolution_m": res,
           "grid_cells": int(grid.mask.sum()), "threads": a.threads, "seconds": round(secs, 1),
           "cpu_seconds": round(cpu, 1), "points_evaluated": st["points_evaluated"],
           "screen_points_evaluated": st.get("screen_points_evaluated", 0),
           "ray_points": st["ray_points"], "peak_rss_mb": round(mem.peak_mb, 1),
           "load_average_1min": round(os.getloadavg()[0], 1)}
    m = grid.mask
    for tech in settings.TECHS:
        gi = [i for i, (t, _) in enumerate(pairs) if t == tech]
        if gi:
            top = best[gi].max(axis=0)[m]
            row[f"{tech}_covered_pct"] = round(
                100 * float((top >= settings.THRESHOLDS_DBM[tech]).mean()), 2)
    _emit(**row)
    return row


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=6300)
    ap.add_argument("--ref-paths", type=int, default=315)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rays", type=int, default=72)
    ap.add_argument("--ray-radius-m", type=float, default=30000.0)
    ap.add_argument("--ray-step-m", type=float, default=90.0)
    ap.add_argument("--py1812-git", default=str(PY1812_GIT))
    ap.add_argument("--resolution-m", default="100",
                    help="grid cell sizes, m (comma list, e.g. 400,100)")
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--models", default="p1812,itm")
    ap.add_argument("--skip-province", action="store_true")
    ap.add_argument("--skip-cases", action="store_true")
    a = ap.parse_args()
    if not a.skip_cases:
        bench_cases(a)
    if not a.skip_province:
        bench_province(a)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
