"""Benchmark: one-site coverage vs SPLAT! (ITM mode), and a synthetic province-scale run.

Prints one JSON line per run. Needs Debian ``splat`` (``apt-get install -y splat``) for the
baseline and ``../shared/data/hoabinh/dem/srtm3_N21E105.tif``; the province run is synthetic
(sites and DEM generated here).

SPLAT! runs in ITM mode (``-olditm``, Longley-Rice 1.2.2, the model we implement); its
default, ITWOM 3.0, is 10-30 % slower and is only reported beside (``splat_itwom_*``).
Before 2026-11-22 this benchmark ran SPLAT!'s default, so earlier ratios were against ITWOM.

Speeds are given per wall second and per CPU second (the machine may be shared: CPU seconds,
of our process and of the ``splat`` child, make the ratio robust to other load). A
``profile_cap_accuracy`` line per radius gives the |Δ dB| of the ITM profile cap against full
profiles on the same grid.

A ``site_whole_process`` line times SPLAT! and ``phusong coverage site`` as whole processes
(30 km, 90 m, ITM, each writing its raster; warm and cold numba cache, one thread, and warm
with the command's default ``--threads 0``: every core of the process for the compute), which
is what a user waits for; the other lines compare compute only. Its children read phusong's
bytecode cache (``__pycache__``), as an installed package does, even when the calling shell
sets ``PYTHONDONTWRITEBYTECODE`` (runs before 2026-12-07 compiled phusong from source each time).
With ``--baseline-root DIR`` (another copy of phusong, e.g. ``git archive main | tar -x -C
DIR``) the same command from that copy is timed too, alternating run by run with this one
(warm and cold), and the line gives each side's figures and their ratio: a before/after
comparison under the same machine load.

Usage: .venv/bin/python benchmarks/bench_coverage_splat.py [--skip-splat] [--skip-site]
       [--skip-province] [--sites N] [--resolution-m R] [--model itm|hata] [--threads T]
       [--whole-only] [--repeats N] [--cold-repeats N] [--baseline-root DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _peak_rss import PeakRSS

ROOT = Path(__file__).resolve().parents[1]
TILE = ROOT.parent / "shared" / "data" / "hoabinh" / "dem" / "srtm3_N21E105.tif"
LON, LAT, H_M, F_MHZ, EIRP = 105.5, 21.3, 30.0, 1842.5, 57.0


def _emit(**kw):
    print(json.dumps(kw), flush=True)


def _splat_setup(tmp: Path) -> Path:
    import rasterio

    with rasterio.open(TILE) as src:
        z = src.read(1)
    sdf = tmp / "sdf"
    sdf.mkdir()
    hgt = sdf / "N21E105.hgt"
    np.where(np.isfinite(z), z, -32768).astype(">i2").tofile(hgt)
    subprocess.run(["srtm2sdf", hgt.name], cwd=sdf, check=True, capture_output=True)
    hgt.unlink()
    (tmp / "site.qth").write_text(f"site\n{LAT}\n{360 - LON}\n{H_M} meters\n")
    # earth dielectric, conductivity, N0, frequency, climate, polarisation, situations, time
    (tmp / "site.lrp").write_text(f"15.0\n0.005\n301.0\n{F_MHZ}\n2\n1\n0.5\n0.5\n")
    return sdf


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _splat(tmp: Path, sdf: Path, radius_km: float, itm: bool = True) -> dict:
    """One SPLAT! ``-L`` run: Longley-Rice ITM (``-olditm``) or SPLAT!'s default ITWOM 3.0."""
    t0 = time.perf_counter()
    c0 = _cpu_children()
    out = subprocess.run(["splat", "-t", "site.qth", "-L", "1.5", "-R", str(radius_km),
                          "-metric", "-d", str(sdf), "-o", f"cov{int(radius_km)}.ppm"]
                         + (["-olditm"] if itm else []),
                         cwd=tmp, capture_output=True, text=True)
    secs = time.perf_counter() - t0
    cpu = _cpu_children() - c0
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-400:])
    # SPLAT! evaluates every 3-arc-second pixel of the disk: count them
    dlat = radius_km / 111.32 * 1200
    dlon = radius_km / (111.32 * np.cos(np.radians(LAT))) * 1200
    points = int(np.pi * dlat * dlon)
    return {"seconds": secs, "cpu_seconds": cpu, "points": points}


def _site(dem, r_km, model="itm", cap=None):
    """predict_site with one thread; (rx grid, wall s, CPU s, report)."""
    from phusong.coverage import predict_site

    kw = {} if cap is None else {"itm_profile_cap": cap}
    t0, c0 = time.perf_counter(), time.process_time()
    rx, _, rep = predict_site(dem, LON, LAT, height_m=H_M, freq_mhz=F_MHZ, eirp_dbm=EIRP,
                              radius_km=r_km, resolution_m=90, model=model, threads=1, **kw)
    return rx, time.perf_counter() - t0, time.process_time() - c0, rep


def bench_splat(skip_splat: bool) -> None:
    from phusong.bundle import read_raster
    from phusong.coverage import EngineOptions

    dem = read_raster(TILE)
    for cap in (None, 0):
        _site(dem, 2, cap=cap)  # JIT warm-up
    tmp = Path(tempfile.mkdtemp(prefix="bench_splat_"))
    try:
        sdf = None if skip_splat or not shutil.which("splat") else _splat_setup(tmp)
        if sdf is not None:
            # SPLAT!'s fixed cost (reading the SDF tile, writing the map) on a 1 km disk
            _emit(bench="splat_fixed_cost", radius_km=1, model="itm (-olditm)",
                  cpu_seconds=round(_splat(tmp, sdf, 1)["cpu_seconds"], 3))
        for r_km in (10, 30, 50):
            row = {"bench": "site_vs_splat", "radius_km": r_km, "resolution_m": 90,
                   "model": "itm", "itm_profile_cap": EngineOptions().itm_profile_cap,
                   "cores": 1}
            rx, secs, cpu, rep = _site(dem, r_km)
            n = rep["receivers_evaluated"]
            row |= {"ours_points": n, "ours_seconds": round(secs, 3),
                    "ours_cpu_seconds": round(cpu, 3), "ours_points_per_s": round(n / secs),
                    "ours_points_per_cpu_s": round(n / cpu),
                    "ours_median_loss_db": round(float(rep["path_loss_db"]["median"]), 1)}
            if sdf is not None:
                s = _splat(tmp, sdf, r_km)  # ITM mode, as the issue asks
                itwom = _splat(tmp, sdf, r_km, itm=False)
                row |= {"splat_model": "itm (-olditm)", "splat_points": s["points"], "splat_seconds": round(s["seconds"], 3),
                        "splat_cpu_seconds": round(s["cpu_seconds"], 3),
                        "splat_points_per_s": round(s["points"] / s["seconds"]),
                        "splat_points_per_cpu_s": round(s["points"] / s["cpu_seconds"]),
                        "ratio": round((n / secs) / (s["points"] / s["seconds"]), 2),
                        "ratio_cpu": round((n / cpu) / (s["points"] / s["cpu_seconds"]), 2),
                        "splat_itwom_cpu_seconds": round(itwom["cpu_seconds"], 3)}
            _emit(**row)
            # accuracy and speed of the profile cap against full profiles (cap 0, exact ITM)
            full, f_secs, f_cpu, _ = _site(dem, r_km, cap=0)
            acc = {"bench": "profile_cap_accuracy", "radius_km": r_km,
                   "full_points_per_cpu_s": round(n / f_cpu)}
            for cap in (EngineOptions().itm_profile_cap, 64, 128):
                default = cap == EngineOptions().itm_profile_cap
                got = rx if default else _site(dem, r_km, cap=cap)[0]
                err = np.abs(got - full)
                err = err[np.isfinite(err)]
                acc[f"cap{cap}_median_abs_db"] = round(float(np.median(err)), 3)
                acc[f"cap{cap}_p95_abs_db"] = round(float(np.percentile(err, 95)), 2)
            _emit(**acc)
            # the empirical path (Hata/COST-231 + Bullington) on the same grid, for reference
            _, secs, cpu, rep = _site(dem, r_km, model="hata")
            hata = {"bench": "site_hata", "radius_km": r_km, "resolution_m": 90, "cores": 1,
                    "ours_points": rep["receivers_evaluated"], "ours_seconds": round(secs, 3),
                    "ours_points_per_s": round(rep["receivers_evaluated"] / secs)}
            if "splat_points" in row:
                hata["ratio_vs_splat"] = round(hata["ours_points_per_s"]
                                               / row["splat_points_per_s"], 2)
            _emit(**hata)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _timed_process(cmd, cwd, env=None) -> tuple[float, float]:
    """Wall and CPU seconds (user + sys of the child) of one whole process."""
    c0 = _cpu_children()
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"{cmd[0]}: {out.stderr[-400:]}")
    return wall, _cpu_children() - c0


def _mmm(xs):
    xs = sorted(xs)
    return [round(xs[0], 3), round(xs[len(xs) // 2], 3), round(xs[-1], 3)]


def bench_whole_process(radius_km: float, repeats: int, baseline: Path | None = None,
                        cold_repeats: int | None = None) -> None:
    """SPLAT! and ``phusong coverage site`` as whole processes, each writing its raster.

    Warm: numba's cache already holds the kernels (one untimed run first). Cold: every run
    gets an empty ``NUMBA_CACHE_DIR``, so it compiles the kernels it uses, as the first run
    after an install does. Min/median/max of wall and CPU seconds over ``repeats`` runs.
    ``baseline``: another copy of phusong, run alternately with this one (``baseline_*``).
    ``cold_repeats``: runs of the cold case (default ``repeats``; each compiles ≈ 20–40 CPU-s;
    0 = none).
    """
    cold_repeats = repeats if cold_repeats is None else cold_repeats
    def site_cmd(threads: int) -> list[str]:
        return [sys.executable, "-c", "from phusong.cli import main; main()", "coverage",
                "site", "--dem", str(TILE), "--lon", str(LON), "--lat", str(LAT), "--height-m",
                str(H_M), "--freq-mhz", str(F_MHZ), "--eirp-dbm", str(EIRP), "--radius-km",
                str(radius_km), "--resolution-m", "90", "--threads", str(threads), "--out"]

    phusong, both = site_cmd(1), site_cmd(0)
    tmp = Path(tempfile.mkdtemp(prefix="bench_whole_"))
    # phusong's own modules from their bytecode cache, as after any install (the untimed first
    # run writes it): a shell with PYTHONDONTWRITEBYTECODE=1 would compile its ~45 modules from
    # source in every run (≈ 0.1 CPU-s), which no user pays
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT)
    # (label, environment): this copy, and the baseline copy run alternately with it
    sides = [("phusong", env)] + ([] if baseline is None else
                                  [("baseline", dict(env, PYTHONPATH=str(baseline)))])
    try:
        rows = {}
        sdf = _splat_setup(tmp) if shutil.which("splat") else None
        if sdf is not None:
            splat = ["splat", "-t", "site.qth", "-L", "1.5", "-R", str(radius_km), "-metric",
                     "-d", str(sdf), "-olditm", "-o", "cov.ppm"]
            _timed_process(splat, tmp)
            rows["splat"] = [_timed_process(splat, tmp) for _ in range(repeats)]
        for name, side_env in sides:  # untimed: numba's cache then holds both threads' kernels
            _timed_process(phusong + [str(tmp / f"{name}_warm.tif")], tmp, side_env)
            _timed_process(both + [str(tmp / f"{name}_warm_all.tif")], tmp, side_env)
        for i in range(repeats):
            for name, side_env in sides:
                rows.setdefault(f"{name}_warm", []).append(
                    _timed_process(phusong + [str(tmp / f"{name}_w{i}.tif")], tmp, side_env))
        # the command's default, --threads 0: the compute on every core of the process
        for i in range(repeats):
            for name, side_env in sides:
                rows.setdefault(f"{name}_warm_all_cores", []).append(
                    _timed_process(both + [str(tmp / f"{name}_a{i}.tif")], tmp, side_env))
        for i in range(cold_repeats):
            for name, side_env in sides:
                cache = tempfile.mkdtemp(prefix="numba_cold_", dir=tmp)
                rows.setdefault(f"{name}_cold", []).append(_timed_process(
                    phusong + [str(tmp / f"{name}_c{i}.tif")], tmp,
                    dict(side_env, NUMBA_CACHE_DIR=cache)))
        row = {"bench": "site_whole_process", "radius_km": radius_km, "resolution_m": 90,
               "model": "itm", "threads": 1, "repeats": repeats, "cold_repeats": cold_repeats,
               "bytecode_cached": True,
               "baseline_root": None if baseline is None else str(baseline)}
        for k, v in rows.items():
            row[f"{k}_wall_s_min_med_max"] = _mmm([w for w, _ in v])
            row[f"{k}_cpu_s_min_med_max"] = _mmm([c for _, c in v])
        if "splat" in rows:
            med = {k: sorted(w for w, _ in v)[len(v) // 2] for k, v in rows.items()}
            row["speedup_warm_vs_splat_wall"] = round(med["splat"] / med["phusong_warm"], 2)
            if cold_repeats:
                row["speedup_cold_vs_splat_wall"] = round(med["splat"] / med["phusong_cold"], 2)
            row["speedup_warm_all_cores_vs_splat_wall"] = round(
                med["splat"] / med["phusong_warm_all_cores"], 2)
            cpu = {k: sorted(c for _, c in v)[len(v) // 2] for k, v in rows.items()}
            row["speedup_warm_vs_splat_cpu"] = round(cpu["splat"] / cpu["phusong_warm"], 2)
            row["speedup_warm_all_cores_vs_splat_cpu"] = round(
                cpu["splat"] / cpu["phusong_warm_all_cores"], 2)
            if baseline is not None:
                row["baseline_speedup_warm_vs_splat_cpu"] = round(
                    cpu["splat"] / cpu["baseline_warm"], 2)
        if baseline is not None:  # medians of this copy over the baseline's, CPU seconds
            for k in ("warm", "warm_all_cores", "cold")[:3 if cold_repeats else 2]:
                a = sorted(c for _, c in rows[f"phusong_{k}"])[len(rows[f"phusong_{k}"]) // 2]
                b = sorted(c for _, c in rows[f"baseline_{k}"])[len(rows[f"baseline_{k}"]) // 2]
                row[f"cpu_{k}_vs_baseline"] = round(a / b, 3)
        _emit(**row)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _synthetic(n_sites: int, seed: int = 7):
    """A 68 km × 68 km (≈ 4,600 km²) mountainous DEM at 90 m and n_sites random sites."""
    import pandas as pd
    from affine import Affine

    from phusong.bundle import Raster

    rng = np.random.default_rng(seed)
    side_m, px = 68_000.0, 90.0
    n = int(side_m / px)
    yy, xx = np.mgrid[0:n, 0:n] * px
    z = np.full((n, n), 300.0)
    for _ in range(40):  # random ridges and hills
        cx, cy = rng.uniform(0, side_m, 2)
        sx, sy = rng.uniform(1500, 9000, 2)
        z += rng.uniform(100, 500) * np.exp(-(((xx - cx) / sx) ** 2 + ((yy - cy) / sy) ** 2))
    z += rng.normal(0, 8, z.shape)
    x0, y0 = 560_000.0, 2_330_000.0
    dem = Raster(z.astype(np.float32), Affine(px, 0, x0, 0, -px, y0), "EPSG:32648", "m")
    sx = x0 + rng.uniform(1000, side_m - 1000, n_sites)
    sy = y0 - rng.uniform(1000, side_m - 1000, n_sites)
    ops = np.array(["Viettel", "VNPT", "MobiFone", "Vietnamobile"])[rng.integers(0, 4, n_sites)]
    rows = []
    for i in range(n_sites):
        for az in (0.0, 120.0, 240.0):
            rows.append((f"S{i}", ops[i], "4G", 1842.5, 57.0, az, 4.0, sx[i], sy[i]))
        rows.append((f"S{i}", ops[i], "2G", 947.5, 57.0, np.nan, np.nan, sx[i], sy[i]))
    tx = pd.DataFrame(rows, columns=["site_id", "operator", "tech", "freq_mhz", "eirp_dbm",
                                     "azimuth_deg", "tilt_deg", "x_m", "y_m"])
    tx["height_m"] = 30.0
    tx["cell_id"] = [f"C{i}" for i in range(len(tx))]
    return dem, tx, (x0, y0 - side_m, x0 + side_m, y0)


def bench_province(n_sites: int, resolution_m: float, model: str, threads: int,
                   tag: str) -> None:
    from shapely.geometry import box

    from phusong.coverage._engine import EngineOptions, TxSet
    from phusong.coverage._raster import grid_over, raster_links
    from phusong.coverage._score import _groups
    from phusong.coverage._terrain import prepare_terrain

    dem, tx, bounds = _synthetic(n_sites)
    terrain = prepare_terrain(dem)
    opts = EngineOptions(model=model, threads=threads, diffraction="bullington")
    grid = grid_over(box(*bounds), resolution_m, terrain)
    txs = TxSet.from_frame(tx, terrain, opts)
    g, pairs = _groups(tx)
    with PeakRSS() as mem:
        t0, c0 = time.perf_counter(), time.process_time()
        best, _, stats = raster_links(txs, g, len(pairs), terrain, grid, opts)
        secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    cov = float((best[[i for i, p in enumerate(pairs) if p[0] == "4G"]].max(axis=0)
                 >= -110).mean())
    _emit(bench=tag, sites=n_sites, cells=len(tx), resolution_m=resolution_m, model=model,
          threads=threads, screen_margin_db=stats.get("screen_margin_db", 0.0),
          grid_cells=stats["grid_cells"], links=stats["links"],
          ray_points=stats["ray_points"], points_evaluated=stats["points_evaluated"],
          seconds=round(secs, 2), cpu_seconds=round(cpu, 2),
          links_per_s=round(stats["links"] / secs), peak_rss_mb=round(mem.peak_mb, 1),
          rss_growth_mb=None if mem.growth_mb is None else round(mem.growth_mb, 1),
          covered_4G_pct=round(100 * cov, 1))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-splat", action="store_true")
    ap.add_argument("--skip-province", action="store_true")
    ap.add_argument("--skip-site", action="store_true")
    ap.add_argument("--sites", type=int, default=1350)
    ap.add_argument("--resolution-m", type=float, default=100.0)
    ap.add_argument("--model", default="itm")
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--whole-only", action="store_true",
                    help="only the whole-process comparison (SPLAT! vs coverage site)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--cold-repeats", type=int, default=None,
                    help="runs of the cold-cache case (default --repeats; 0 = none)")
    ap.add_argument("--baseline-root", type=Path, default=None,
                    help="another copy of phusong (a folder holding its phusong/ package, e.g. "
                    "from `git archive main | tar -x -C DIR`): its `coverage site` is timed "
                    "alternately with this one's")
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    if a.repeats < 1 or (a.cold_repeats is not None and a.cold_repeats < 0):
        ap.error("--repeats: at least 1; --cold-repeats: at least 0")
    if a.baseline_root is not None and not (a.baseline_root / "phusong").is_dir():
        ap.error(f"--baseline-root {a.baseline_root}: no phusong/ package in it")
    if TILE.is_file():
        bench_whole_process(30.0, a.repeats, a.baseline_root, a.cold_repeats)
    if a.whole_only:
        return 0
    if a.skip_site:
        pass
    elif TILE.is_file():
        bench_splat(a.skip_splat)
    else:
        _emit(bench="site_vs_splat", skipped=f"{TILE} absent")
    if not a.skip_province:
        bench_province(25, 200.0, a.model, a.threads, "warm_up")  # JIT compilation
        for n in (50, 150):  # scaling in sites
            bench_province(n, a.resolution_m, a.model, a.threads, "scaling_sites")
        for res in (400.0, 200.0):  # scaling in resolution (100 m: the 150-site line above)
            bench_province(150, res, a.model, a.threads, "scaling_resolution")
        bench_province(a.sites, a.resolution_m, a.model, a.threads, "province")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
