"""Coverage on dask.distributed with real components: a LocalCluster of worker processes, and a
``dask scheduler`` + two ``dask worker`` processes started from the shell on 127.0.0.1, driven
through the CLI as a user would. Every file but coverage.json must be byte-identical to the
local run, also when a worker is SIGKILLed mid-run."""

from __future__ import annotations

import contextlib
import filecmp
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from phusong.crs import transform_points

distributed = pytest.importorskip("distributed", reason="dask.distributed not installed "
                                  "(pip install 'phusong[dask]')")

ROOT = Path(__file__).resolve().parents[1]
# 30 m on the 10 km fixture: 334 × 338 cells, four 256-cell tiles for the dask runs (the local
# run writes the same grid as one tile)
RES_M = "30"


def _bundle():
    from tests.test_coverage_engine import X0, Y0, tiny_bundle

    b = tiny_bundle()
    lon, lat = transform_points([X0, X0 + 5000, X0 + 10000], [Y0 - 10000, Y0, Y0],
                                "EPSG:32648", "EPSG:4326")
    b.layers["communes"] = gpd.GeoDataFrame(
        {"commune_code": ["00001", "00002"], "name": ["A", "B"], "type": ["xã", "xã"],
         "district_code": ["148", "148"], "district_name": ["D", "D"],
         "population": [2400, 6000], "households": [600, 1500]},
        geometry=[box(lon[0], lat[0], lon[1], lat[1]), box(lon[1], lat[0], lon[2], lat[2])],
        crs="EPSG:4326")
    return b


def _same_files(a: Path, b: Path) -> list[str]:
    """Names of the files of ``a`` that differ from (or are missing in) ``b``, coverage.json
    aside (it reports the executor, seconds and memory)."""
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    return [n for n in names if n != "coverage.json"
            and not filecmp.cmp(a / n, b / n, shallow=False)]


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    from phusong.coverage import run_bundle

    out = tmp_path_factory.mktemp("local") / "cov"
    run_bundle(_bundle(), out, resolution_m=float(RES_M), threads=2)
    return out


@pytest.fixture(scope="module")
def cluster():
    from phusong.coverage import DaskExecutor

    with DaskExecutor(workers=2) as ex:
        yield ex


def test_local_cluster_of_two_processes_is_byte_identical(local_run, cluster, tmp_path):
    from phusong.coverage import run_bundle

    rep = run_bundle(_bundle(), tmp_path / "dask", resolution_m=float(RES_M), executor=cluster,
                     tile_cells=256)
    assert rep["raster"]["tiles"] == 4 and rep["executor"]["workers"] == 2
    assert rep["executor"]["dem"] == "path"  # a LocalCluster reads the DEM from a file
    assert all(v > 0 for v in rep["executor"]["worker_peak_rss_mb"].values())
    assert _same_files(local_run, tmp_path / "dask") == []


def test_the_dem_travels_as_a_path_not_in_the_graph(cluster):
    """A LocalCluster writes the prepared DEM once into its shared folder; tasks carry a
    TerrainFile of a few hundred bytes, which a worker maps back to the same heights."""
    import pickle

    from phusong.coverage._dask_exec import TerrainFile, resolve_terrain
    from phusong.coverage._terrain import prepare_terrain
    from phusong.errors import ClusterError

    terrain = prepare_terrain(_bundle().dem)
    ref = cluster.scatter(terrain)
    assert isinstance(ref, TerrainFile) and cluster.scatter(terrain) is ref  # written once
    assert len(pickle.dumps(ref)) < 1000 < terrain.z.nbytes
    back = cluster.client.submit(resolve_terrain, ref, pure=False).result()
    assert np.array_equal(back.z, terrain.z, equal_nan=True)
    assert (back.x0_m, back.y0_m, back.px_m, back.py_m) == (
        terrain.x0_m, terrain.y0_m, terrain.px_m, terrain.py_m)
    gone = TerrainFile(ref.path + ".missing", ref.shape, 0.0, 0.0, 1.0, 1.0)
    with pytest.raises(ClusterError, match="cannot read the shared DEM"):
        resolve_terrain(gone)


def test_point_engine_and_coverage_matrix_on_the_cluster(cluster):
    from phusong.coverage import coverage_matrix, score_villages, transmitters
    from tests.test_coverage_engine import X0, Y0

    b = _bundle()
    local = score_villages(b, threads=2)
    remote = score_villages(b, executor=cluster)
    assert local.equals(remote)
    tx = transmitters(b)
    rng = np.random.default_rng(1)
    # 25,000 receivers × 2 sites: three batches of 20,000 paths, concatenated in unit order
    x = X0 + rng.uniform(0, 10_000, 25_000)
    y = Y0 - rng.uniform(0, 10_000, 25_000)
    m_local = coverage_matrix(tx, x, y, b.dem, margins=True)
    m_dask = coverage_matrix(tx, x, y, b.dem, margins=True, executor=cluster)
    assert (m_local != m_dask).nnz == 0 and m_local.nnz > 0


def test_plan_candidate_matrices_on_the_cluster(cluster):
    """The plan's candidate coverage (what ``phusong plan --workers/--scheduler`` computes on
    the cluster) equals the local one."""
    import pandas as pd

    from phusong.planning.radios import candidate_coverage
    from tests.test_coverage_engine import X0, Y0

    b = _bundle()
    cands = pd.DataFrame({"candidate_id": ["N1", "N2", "U1"],
                          "operator": ["Viettel", "VNPT", "Viettel"], "tech": ["4G", "5G", "5G"],
                          "band": ["B3", "n78", "n41"], "height_m": [30.0, 35.0, 30.0],
                          "x_m": [X0 + 3000, X0 + 6000, X0 + 9000],
                          "y_m": [Y0 - 2000, Y0 - 7000, Y0 - 5000]})
    rng = np.random.default_rng(2)
    x = X0 + rng.uniform(0, 10_000, 400)
    y = Y0 - rng.uniform(0, 10_000, 400)
    local = candidate_coverage(cands, x, y, b.dem, model="itm")
    remote = candidate_coverage(cands, x, y, b.dem, model="itm", executor=cluster)
    assert set(local) == set(remote) == {"4G", "5G"}
    for t in local:
        assert (local[t] != remote[t]).nnz == 0
    assert local["4G"].nnz > 0 and local["5G"].nnz > 0


# ---- a scheduler and two workers started from the shell ------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _dask(*args) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("dask")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "distributed.cli.dask_spec"]
    return subprocess.Popen(cmd + list(args), env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def _wait_workers(address: str, n: int, timeout_s: float = 90.0):
    client = distributed.Client(address, timeout=30, set_as_default=False)
    t0 = time.monotonic()
    while len(client.scheduler_info(n_workers=-1)["workers"]) < n:
        if time.monotonic() - t0 > timeout_s:
            client.close()
            raise TimeoutError(f"{n} workers did not join {address} in {timeout_s} s")
        time.sleep(0.2)
    return client


@pytest.fixture()
def shell_cluster(tmp_path):
    """``dask scheduler`` + two ``dask worker --no-nanny`` on 127.0.0.1 (random ports), always
    stopped; yields (address, client, worker processes)."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [_dask("scheduler", "--host", "127.0.0.1", "--port", str(port),
                   "--no-dashboard")]
    try:
        for _ in range(2):
            procs.append(_dask("worker", address, "--nthreads", "1", "--no-nanny",
                               "--no-dashboard", "--host", "127.0.0.1",
                               "--local-directory", str(tmp_path / "dask-worker")))
        time.sleep(0.5)
        client = _wait_workers(address, 2)
        try:
            yield address, client, procs[1:]
        finally:
            client.close()
    finally:
        for p in reversed(procs):
            _stop(p)


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    from phusong.bundle import save_bundle

    return save_bundle(_bundle(), tmp_path_factory.mktemp("b") / "bundle")


def _cli(*args, **kw) -> subprocess.Popen:
    code = "from phusong.cli import main; main()"
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], env=_env(),
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kw)


def test_cli_on_a_scheduler_started_from_the_shell(shell_cluster, bundle_dir, local_run,
                                                   tmp_path):
    address, _, _ = shell_cluster
    out = tmp_path / "cov"
    p = _cli("coverage", bundle_dir, "--out", out, "--resolution-m", RES_M, "--scheduler",
             address, "--shared-dir", tmp_path / "shared", "--json")
    stdout, stderr = p.communicate(timeout=600)
    assert p.returncode == 0, stderr
    rep = json.loads(stdout)
    assert rep["executor"]["kind"] == "scheduler" and rep["executor"]["workers"] == 2
    # the DEM went through the shared folder (the kill test below runs without one: scattered)
    assert rep["executor"]["dem"] == "path" and len(list((tmp_path / "shared").glob("dem-*.npy"))) == 1
    assert _same_files(local_run, out) == []


def test_worker_killed_mid_run_gives_the_same_bytes(shell_cluster, bundle_dir, local_run,
                                                    tmp_path):
    address, client, workers = shell_cluster
    pid_of = client.run(os.getpid)  # worker address -> pid
    out = tmp_path / "cov"
    p = _cli("coverage", bundle_dir, "--out", out, "--resolution-m", RES_M, "--scheduler",
             address, "--quiet")
    killed = None
    t0 = time.monotonic()
    try:
        while killed is None and p.poll() is None and time.monotonic() - t0 < 300:
            busy = {w: k for w, k in client.processing().items() if k}
            if busy:  # a worker is running tasks of this run: kill it now
                addr = sorted(busy)[0]
                os.kill(pid_of[addr], signal.SIGKILL)
                killed = addr
            time.sleep(0.05)
        stdout, stderr = p.communicate(timeout=600)
    finally:
        if p.poll() is None:
            p.kill()
    assert killed is not None, "the run ended before any task was seen on a worker"
    assert p.returncode == 0, stderr
    assert len(client.scheduler_info(n_workers=-1)["workers"]) == 1
    assert _same_files(local_run, out) == []


def test_unreachable_scheduler_is_one_line_exit_1_and_nothing_written(bundle_dir, tmp_path):
    out = tmp_path / "cov"
    # a 1 s connection timeout (the settings key; default 10 s): the run gives up after it
    p = _cli("coverage", bundle_dir, "--out", out, "--scheduler",
             f"tcp://127.0.0.1:{_free_port()}", "--set", "dask.connect_timeout_s=1")
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 1
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: dask scheduler tcp://127.0.0.1:")
    assert "cannot connect" in lines[0]
    assert "after 1 s" in lines[0], lines[0]  # distributed's words: the key reached the client
    assert not out.exists()
    assert not any(tmp_path.glob(".cov*"))  # no temporary sibling left either


def test_workers_and_scheduler_together_is_a_usage_error(bundle_dir, tmp_path):
    from click.testing import CliRunner

    from phusong.cli import main

    r = CliRunner().invoke(main, ["coverage", str(bundle_dir), "--out", str(tmp_path / "x"),
                                  "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"])
    assert r.exit_code == 2 and "not both" in r.output
    r = CliRunner().invoke(main, ["coverage", str(bundle_dir), "--out", str(tmp_path / "x"),
                                  "--workers", "2", "--shared-dir", str(tmp_path / "s")])
    assert r.exit_code == 2 and "--shared-dir goes with --scheduler" in r.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "s").exists()


def test_scheduler_dying_mid_run_is_one_line_exit_1_and_nothing_written(shell_cluster,
                                                                         bundle_dir, tmp_path):
    address, client, _ = shell_cluster
    out = tmp_path / "cov"
    p = _cli("coverage", bundle_dir, "--out", out, "--resolution-m", RES_M, "--scheduler",
             address)
    sched_pid = client.run_on_scheduler(os.getpid)
    t0 = time.monotonic()
    try:
        while p.poll() is None and time.monotonic() - t0 < 300:
            if any(client.processing().values()):  # the run's tasks are on the workers
                os.kill(sched_pid, signal.SIGKILL)
                break
            time.sleep(0.05)
        stdout, stderr = p.communicate(timeout=300)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 1, stderr
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "lost mid-run" in lines[0], stderr
    assert not out.exists()
    assert not any(tmp_path.glob(".cov*"))


def _realism_bundle():
    """The clutter fixture of test_coverage_realism on hills, with four sites of two operators:
    co-channel 4G (SINR and margin rasters), 2G, and the land cover (P.2108 clutter)."""
    import pandas as pd

    from tests.test_coverage_realism import X0 as RX0
    from tests.test_coverage_realism import Y0 as RY0
    from tests.test_coverage_realism import _bundle as realism_bundle
    from tests.test_coverage_realism import _ll

    b = realism_bundle(landcover=True, hills=True)
    b.layers["sites"] = gpd.GeoDataFrame(
        {"site_id": ["SA", "SB", "SC", "SD"],
         "operator": ["Viettel", "Viettel", "Viettel", "VNPT"], "height_m": [30.0] * 4},
        geometry=_ll([RX0 + 2500, RX0 + 7500, RX0 + 5000, RX0 + 5200],
                     [RY0 - 2500, RY0 - 7500, RY0 - 6000, RY0 - 3000]), crs="EPSG:4326")
    b.layers["cells"] = pd.DataFrame(
        {"cell_id": ["A4", "B4", "C4", "D4", "A2", "D2"],
         "site_id": ["SA", "SB", "SC", "SD", "SA", "SD"],
         "tech": ["4G", "4G", "4G", "4G", "2G", "2G"],
         "freq_mhz": [1842.5, 1842.5, 1842.5, 1842.5, 947.5, 947.5],
         "eirp_dbm": [57.0, 57.0, 54.0, 57.0, 57.0, 57.0]})
    return b


def test_realism_rasters_on_the_cluster_are_byte_identical(cluster, tmp_path):
    """Reliability 90 %, clutter, SINR with --require-sinr and screening: the dask run writes
    every raster of the local run (probability, SINR, margin, unknown) with the same bytes."""
    import rasterio

    from phusong.coverage import run_bundle

    kw = {"resolution_m": float(RES_M), "reliability_pct": 90.0, "require_sinr": True}
    local = run_bundle(_realism_bundle(), tmp_path / "local", threads=2, **kw)
    rep = run_bundle(_realism_bundle(), tmp_path / "dask", executor=cluster, tile_cells=256,
                     **kw)
    assert rep["raster"]["tiles"] == 4
    names = {p.name for p in (tmp_path / "local").iterdir()}
    for t in ("2G", "4G"):
        assert {f"best_dbm_{t}.tif", f"serving_site_{t}.tif", f"operators_{t}.tif",
                f"coverage_prob_{t}.tif", f"indoor_dbm_{t}.tif"} <= names
    assert {"sinr_db_4G.tif", "margin_db_4G.tif", "unknown.tif"} <= names
    assert "sinr_db_2G.tif" not in names
    assert _same_files(tmp_path / "local", tmp_path / "dask") == []
    assert rep["raster_covered_pct"] == local["raster_covered_pct"]
    with rasterio.open(tmp_path / "dask" / "sinr_db_4G.tif") as src:
        s = src.read(1)
    # co-channel cells 5 km apart: the SINR spans interference-limited to near-noise-limited
    assert np.isfinite(s).sum() > 1000 and np.nanmin(s) < 3.5 and np.nanmax(s) > 20.0


def test_tiles_with_nothing_to_compute_are_not_scheduled(cluster, tmp_path):
    """Two communes on a diagonal: the off-diagonal 256-cell tiles hold no cell of the grid
    mask. They get no task (the client writes them as nodata) and the rasters still equal the
    local run's byte for byte."""
    from phusong.coverage import run_bundle
    from tests.test_coverage_engine import X0, Y0

    def diagonal():
        b = _bundle()
        lon, lat = transform_points([X0, X0 + 4000, X0 + 6000, X0 + 10000],
                                    [Y0, Y0 - 4000, Y0 - 6000, Y0 - 10000],
                                    "EPSG:32648", "EPSG:4326")
        b.layers["communes"]["geometry"] = [box(lon[0], lat[1], lon[1], lat[0]),
                                            box(lon[2], lat[3], lon[3], lat[2])]
        return b

    res_m = 10_000 / 512  # 512 × 512 cells: the 256-cell tiles split the grid at 5 km
    local = run_bundle(diagonal(), tmp_path / "local", resolution_m=res_m, threads=2,
                       tile_cells=256)
    rep = run_bundle(diagonal(), tmp_path / "dask", resolution_m=res_m, executor=cluster,
                     tile_cells=256)
    assert local["raster"]["shape"] == rep["raster"]["shape"]
    # the boxes, drawn in UTM and reprojected to the work CRS, span 515 × 512 cells: 3 × 2
    # tiles; the top-right and bottom-left quadrants and the 3-row sliver under the latter
    # hold no cell of either commune
    assert rep["raster"]["shape"] == [515, 512]
    assert rep["raster"]["tiles"] == 6 and rep["raster"]["tiles_scheduled"] == 3
    assert _same_files(tmp_path / "local", tmp_path / "dask") == []


def test_dem_void_flags_fold_through_the_chains(cluster, tmp_path):
    """A 1 km DEM void hiding the ridge: the cells reached only across it are unknown. On the
    cluster a tile's units fold in chains (each adds its batch to a copy of the previous
    fold): the void flags travel with the fold (OR-ed), so unknown.tif and every other raster
    equal the local run's byte for byte."""
    import rasterio

    from phusong.coverage import run_bundle
    from tests.test_hardening import _gap_bundle, _void_dem

    def bundle():
        b = _gap_bundle()
        b.rasters["dem"] = _void_dem(20)
        return b

    kw = {"model": "hata", "resolution_m": 20.0}  # 1050 × 500 cells, the DEM in four tiles
    local = run_bundle(bundle(), tmp_path / "local", threads=2, **kw)
    rep = run_bundle(bundle(), tmp_path / "dask", executor=cluster, tile_cells=256, **kw)
    r = rep["raster"]
    # the DEM's four tiles run, each as one chain of the two batches (the second unit adds to
    # a copy of the first's fold); the six tiles off the DEM are written by the client
    assert (r["tiles"], r["tiles_scheduled"], r["batches"], r["chains_per_tile"]) == (10, 4, 2, 1)
    assert _same_files(tmp_path / "local", tmp_path / "dask") == []
    for k in ("cells_unknown", "cells_unknown_off_dem", "cells_unknown_void"):
        assert r[k] == local["raster"][k]
    assert r["cells_unknown_void"] > 0 and r["cells_unknown_off_dem"] > 0
    assert r["cells_void_flagged"] == local["raster"]["cells_void_flagged"] > 0
    with rasterio.open(tmp_path / "dask" / "unknown.tif") as src:
        u = src.read(1)
    assert int((u == 1).sum()) == r["cells_unknown"]


def _wide_bundle():
    """The tiny bundle's two sites and 10 km DEM inside one 40 km × 40 km commune: most of the
    grid is off the DEM (unknown), so a finer grid costs the client cells, not links."""
    from tests.test_coverage_engine import X0, Y0

    b = _bundle()
    lon, lat = transform_points([X0 - 15000, X0 + 25000], [Y0 - 25000, Y0 + 15000],
                                "EPSG:32648", "EPSG:4326")
    b.layers["communes"] = b.layers["communes"].iloc[:1].set_geometry(
        [box(lon[0], lat[0], lon[1], lat[1])], crs="EPSG:4326")
    return b


def _client_peak_bytes(res_m: float, executor, out: Path) -> tuple[int, dict]:
    """Peak bytes the calling process allocated through Python and numpy (tracemalloc: every
    numpy array counts) during one run, and the run's report."""
    import tracemalloc

    from phusong.coverage import run_bundle

    b = _wide_bundle()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        rep = run_bundle(b, out, model="hata", resolution_m=res_m, threads=2,
                         executor=executor, tile_cells=256)
        return tracemalloc.get_traced_memory()[1] - base, rep
    finally:
        tracemalloc.stop()


def test_the_client_never_holds_the_whole_grid(cluster, tmp_path):
    """Halving the cell side quadruples the grid (650 k → 2.6 M cells); on dask the client's
    peak allocation does not grow with it: the masks are made per tile and every raster,
    unknown.tif included, is written tile by tile. Before, the client held the grid's masks
    and unknown.tif whole (≥ 3.5 bytes a cell: +9.2 MB here). The local run, which holds
    whole-grid arrays, shows the measure sees them."""
    _client_peak_bytes(200.0, cluster, tmp_path / "warm")  # lazy imports (≈ 8 MB) off the books
    coarse, rep_c = _client_peak_bytes(50.0, cluster, tmp_path / "d50")
    fine, rep_f = _client_peak_bytes(25.0, cluster, tmp_path / "d25")
    n_coarse = rep_c["raster"]["shape"][0] * rep_c["raster"]["shape"][1]
    n_fine = rep_f["raster"]["shape"][0] * rep_f["raster"]["shape"][1]
    assert n_fine > 3.9 * n_coarse > 2_500_000
    assert rep_f["raster"]["cells_unknown_off_dem"] > 0.9 * n_fine  # written, tile by tile
    # growth allowed: less than one whole-grid bool mask of the fine grid (1 byte a cell).
    # Measured: +0.5 MB, the client's few KB per tile (16 → 64 tiles); the code that held
    # the masks and unknown.tif whole grew by 9.2 MB here
    assert fine - coarse < 1.0 * n_fine, (coarse, fine)
    local, rep_l = _client_peak_bytes(50.0, None, tmp_path / "l50")
    assert local - coarse > 8 * n_coarse  # whole-grid levels and serving cells: seen
    assert _same_files(tmp_path / "l50", tmp_path / "d50") == []


def test_a_client_whose_scheduler_went_away_is_the_scheduler_lost():
    # seen once under load: the scheduler killed mid-run, the progress bar's worker count read
    # the client's emptied cache ({}) and the user got "internal error: KeyError: 'workers'"
    from phusong.coverage._dask_exec import DaskExecutor
    from phusong.errors import ClusterError

    class Gone:
        def scheduler_info(self, **kw):
            return {}

    ex = DaskExecutor(scheduler="tcp://127.0.0.1:1")
    ex.client = Gone()
    for ask in (ex.alive, ex.slots):
        with pytest.raises(ClusterError, match="lost mid-run"):
            ask()
