"""Hardening (issue 18): bad input refused or reported, unknown coverage kept apart from
uncovered, DEM voids bounded, ITM errors counted, no silent fallback."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from affine import Affine
from shapely.geometry import Point, box

from phusong import settings
from phusong.bundle import Raster
from phusong.coverage import (
    EngineOptions,
    pair_profiles,
    prepare_terrain,
    score_villages,
    transmitters,
)
from phusong.coverage._engine import link_pairs
from phusong.errors import DataError, InputFileError
from tests.test_cli_data import inputs  # noqa: F401 - the fixture
from tests.test_coverage_engine import PX, X0, Y0, tiny_bundle

# ---- 1. refuse or report ---------------------------------------------------------------------


def test_non_numeric_height_is_refused_with_row_and_field():
    b = tiny_bundle()
    sites = b.sites.copy()
    sites["height_m"] = sites["height_m"].astype(object)
    sites.loc[sites.index[1], "height_m"] = "thirty"
    b.layers["sites"] = sites
    # main silently used 30 m for it
    with pytest.raises(DataError, match=r"sites: row 2 \(site_id 'S2'\), height_m 'thirty'"):
        transmitters(b)
    sites.loc[sites.index[1], "height_m"] = None
    with pytest.raises(DataError, match=r"row 2 \(site_id 'S2'\), height_m is empty"):
        transmitters(b)


@pytest.mark.parametrize("value, what", [("57 dBm", "'57 dBm' is not a finite number"),
                                         (np.nan, "is empty")])
def test_bad_eirp_is_refused(value, what):
    b = tiny_bundle()
    cells = b.cells.copy()
    cells["eirp_dbm"] = cells["eirp_dbm"].astype(object)
    cells.loc[cells.index[2], "eirp_dbm"] = value
    b.layers["cells"] = cells
    # main turned it into NaN: that cell silently never covered anything
    with pytest.raises(DataError, match=rf"cells: row 3 \(cell_id 'C3'\), eirp_dbm {what}"):
        transmitters(b)


def test_user_ground_column_is_used():
    """A surveyed ground_m 60 m above the DEM raises the antenna by 60 m (main ignored it)."""
    base = tiny_bundle(ridge=False)
    x = X0 + np.array([4000.0, 9000.0])
    y = Y0 - np.array([5000.0, 5000.0])
    opts = EngineOptions(model="fspl", diffraction="none")
    r0 = link_pairs(transmitters(base).iloc[[1]], x, y, base.dem, opts)
    b = tiny_bundle(ridge=False)
    sites = b.sites.copy()
    sites["ground_m"] = [160.0, np.nan]  # the DEM says 100 m under S1
    b.layers["sites"] = sites
    tx = transmitters(b)
    r1 = link_pairs(tx.iloc[[1]], x, y, b.dem, opts)
    # free space on the 3-D distance: recompute with the raised antenna (1e-6 dB: rounding)
    for k, (xx, yy) in enumerate(zip(x, y, strict=True)):
        d = np.hypot(xx - (X0 + 2000), yy - (Y0 - 5000))
        fs0 = 20 * np.log10(np.hypot(d, 30 - 1.5) / 1000 * 947.5) + 32.45
        fs1 = 20 * np.log10(np.hypot(d, 90 - 1.5) / 1000 * 947.5) + 32.45
        assert r0.rx_dbm[k] == pytest.approx(57.0 - fs0, abs=1e-6)
        assert r1.rx_dbm[k] == pytest.approx(57.0 - fs1, abs=1e-6)
    # an antenna that would end up below the DEM's ground is refused, naming the site
    sites["ground_m"] = [50.0, np.nan]
    b.layers["sites"] = sites
    with pytest.raises(DataError, match="site_id 'S1': ground_m 50 \\+ height_m 30"):
        link_pairs(transmitters(b), x, y, b.dem, opts)
    sites["ground_m"] = ["high", np.nan]
    b.layers["sites"] = sites
    with pytest.raises(DataError, match=r"row 1 \(site_id 'S1'\), ground_m 'high'"):
        transmitters(b)


def test_itm_error_codes_are_counted_per_path(monkeypatch):
    """Paths ITM refuses (code ≥ 1000) are counted in the stats and their villages flagged."""
    pytest.importorskip("phusong.coverage.itm")
    from phusong.coverage import _itm_kernel

    real = _itm_kernel.p2p_multi_batch

    def failing(flat, start, count, step, htx, hrx, ptr, f, *rest):
        real(flat, start, count, step, htx, hrx, ptr, f, *rest)
        code = rest[-1]
        code[::2] = 1001  # every other frequency entry: an ITM error
    monkeypatch.setattr(_itm_kernel, "p2p_multi_batch", failing)
    s = score_villages(tiny_bundle(), techs=["2G", "4G"])
    st = s.attrs["stats"]
    assert st["paths_itm_error"] > 0
    assert st["paths_itm_error"] <= st["paths"]
    # main dropped them as +inf loss with no count at all


def _void_dem(width_px: int) -> Raster:
    z = np.full((200, 200), 100.0, dtype=np.float32)
    z[:, 120:124] = 400.0  # the ridge
    z[:, 121 - width_px // 2: 121 + width_px // 2] = np.nan  # a void of width_px hiding it
    return Raster(z, Affine(PX, 0, X0, 0, -PX, Y0), "EPSG:32648", "m")


def test_long_voids_are_flagged_not_bridged_and_short_ones_reported():
    t_short = prepare_terrain(_void_dem(4))  # 4 px × 50 m = 200 m void
    t_long = prepare_terrain(_void_dem(20))  # 1000 m void
    tx, ty, rx, ry = [X0 + 2000], [Y0 - 5000], [X0 + 9000], [Y0 - 5000]
    *_r, ok, void_m = pair_profiles(t_short, tx, ty, rx, ry, max_void_m=500.0,
                                    return_voids=True)
    # 200 m, less up to one pixel (bilinear sampling uses any valid neighbour) and ± one profile
    # step (50 m) for where the samples fall on the void's edges
    assert ok[0] and 100.0 <= void_m[0] <= 250.0
    *_r, ok, void_m = pair_profiles(t_long, tx, ty, rx, ry, max_void_m=500.0,
                                    return_voids=True)
    assert not ok[0] and 900.0 <= void_m[0] <= 1050.0  # 1000 m, same tolerance
    # the engine: the long void leaves the village behind it unknown, counted
    b = tiny_bundle()
    b.rasters["dem"] = _void_dem(20)
    s = score_villages(b, model="hata", techs=["2G"])
    st = s.attrs["stats"]
    assert st["paths_flagged_void"] > 0 and st["max_void_m"] == settings.MAX_VOID_BRIDGE_M
    assert st["void_bridged_max_m"] <= settings.MAX_VOID_BRIDGE_M
    # V3 (behind the hidden ridge from S1, 1 km from S2) keeps S2's coverage; V0 is served by
    # S1 without crossing the void; V5 is off the DEM: unknown
    assert bool(s.loc["V5", "unknown"]) and not s.loc["V0", "unknown"]
    b.rasters["dem"] = _void_dem(4)
    s = score_villages(b, model="hata", techs=["2G"])
    st = s.attrs["stats"]
    assert st["paths_flagged_void"] == 0 and st["paths_void_bridged"] > 0
    assert 100.0 <= st["void_bridged_max_m"] <= 250.0


def _raster_one_site(dem: Raster, **opts_kw):
    """S1 (2G, omni, 8 km) of the tiny bundle on a 100 m grid over the whole DEM: best rx,
    the cells flagged behind a void, and the stats."""
    from phusong.coverage._engine import TxSet
    from phusong.coverage._raster import grid_over, raster_links

    b = tiny_bundle()
    b.layers["cells"] = b.cells[b.cells["cell_id"] == "C2"].reset_index(drop=True)
    b.rasters["dem"] = dem
    terrain = prepare_terrain(dem)
    opts = EngineOptions(model="hata", max_radius_km={"2G": 8.0}, **opts_kw).check()
    txs = TxSet.from_frame(transmitters(b, terrain=terrain), terrain, opts)
    grid = grid_over(box(X0, Y0 - 10_000, X0 + 10_000, Y0), 100.0, terrain)
    extra: dict = {}
    best, _, st = raster_links(txs, np.zeros(1, np.int64), 1, terrain, grid, opts, extra=extra)
    xs = X0 + (np.arange(grid.shape[1]) + 0.5) * 100.0
    return best[0], extra["void"], st, np.broadcast_to(xs, grid.shape), grid.mask


def test_raster_cells_behind_a_long_void_get_no_link_and_are_flagged():
    """Along the raster engine's rays, as on the point engine's paths: a cell whose ray crosses
    a void longer than MAX_VOID_BRIDGE_M (500 m) gets no link from that site and is flagged,
    not computed over a straight line through the void (main bridged any length there)."""
    # the 1000 m void hides the ridge at x = 6.0-6.2 km (columns 111-130: x 5.55-6.55 km)
    best, void, st, xs, mask = _raster_one_site(_void_dem(20))
    behind = mask & (xs > X0 + 6600) & (np.hypot(xs - X0 - 2000, 0) < 7000)
    assert void[behind].any() and st["cells_void_flagged"] == int(void.sum())
    # S1 at x = 2 km: every flagged cell lies east of the void's start (5.55 km, ± one 100 m
    # cell for the ray's sampling), and a flagged cell has no link from S1 at all
    assert (xs[void] > X0 + 5450).all()
    assert not np.isfinite(best[void]).any()
    west = mask & (xs < X0 + 5400)
    assert not void[west].any() and np.isfinite(best[west]).all()
    # a 200 m void is bridged as before: nothing flagged, the cells behind it get links
    best_s, void_s, st_s, _, _ = _raster_one_site(_void_dem(4))
    assert st_s["cells_void_flagged"] == 0 and not void_s.any()
    assert np.isfinite(best_s[behind]).any()
    # max_void_m=None bridges any length: the old behaviour, kept as an explicit choice
    best_n, void_n, _, _, _ = _raster_one_site(_void_dem(20), max_void_m=None)
    assert not void_n.any() and np.isfinite(best_n[void]).all()


def test_raster_unknown_tif_marks_cells_behind_a_long_void(tmp_path):
    """coverage run: cells reached only across the long void are 1 in unknown.tif, counted in
    coverage.json, and left out of raster_covered_pct's denominator (unknown, not uncovered);
    a cell another site covers stays known."""
    import rasterio

    from phusong.coverage import run_bundle

    b = _gap_bundle()
    b.layers["cells"] = b.cells[b.cells["site_id"] == "S1"].reset_index(drop=True)
    b.rasters["dem"] = _void_dem(20)
    rep = run_bundle(b, tmp_path / "long", model="hata", resolution_m=250.0)
    r = rep["raster"]
    assert r["cells_unknown_void"] > 0 and r["max_void_m"] == settings.MAX_VOID_BRIDGE_M
    assert r["cells_unknown"] == r["cells_unknown_off_dem"] + r["cells_unknown_void"]
    with rasterio.open(tmp_path / "long" / "unknown.tif") as f:
        unk = f.read(1)
        xs = f.transform.c + (np.arange(f.width) + 0.5) * f.transform.a
    assert int(unk.sum()) == r["cells_unknown"]
    # inside the DEM (x < 10 km) the unknown cells all lie behind the void (x > 5.45 km)
    on_dem = np.broadcast_to(xs < X0 + 10_000, unk.shape)
    assert (np.broadcast_to(xs, unk.shape)[(unk == 1) & on_dem] > X0 + 5450).all()
    assert ((unk == 1) & on_dem).sum() == r["cells_unknown_void"]
    with rasterio.open(tmp_path / "long" / "best_dbm_2G.tif") as f:
        dbm = f.read(1)
    assert np.isnan(dbm[(unk == 1) & on_dem]).all()  # no link computed through the void
    known = int(rep["raster"]["grid_cells"]) - r["cells_unknown_void"]
    cov = int((dbm >= settings.THRESHOLDS_DBM["2G"]).sum())
    # percentage over known cells; 0.01: the report rounds to 2 decimals
    assert rep["raster_covered_pct"]["2G"] == pytest.approx(100 * cov / known, abs=0.01)
    # both sites: S2 (east of the void) covers many of those cells, which are then known
    b.layers["cells"] = tiny_bundle().cells
    rep2 = run_bundle(b, tmp_path / "both", model="hata", resolution_m=250.0)
    assert rep2["raster"]["cells_unknown_void"] < r["cells_unknown_void"]


def test_village_behind_flagged_void_is_unknown_not_uncovered():
    # one site, one village 7 km east across a 1 km void: no path, so unknown
    b = tiny_bundle()
    b.layers["cells"] = b.cells[b.cells["site_id"] == "S1"].reset_index(drop=True)
    b.rasters["dem"] = _void_dem(20)
    s = score_villages(b, model="hata", techs=["2G"])
    assert bool(s.loc["V4", "unknown"]) and not s.loc["V4", "covered_any"]
    assert not s.loc["V0", "unknown"] and s.loc["V0", "covered_any"]
    assert s.attrs["stats"]["receivers_unknown"] == int(s["unknown"].sum())


def test_seed_checks_no_longer_swallow_errors(monkeypatch):
    from phusong import communes as cm
    from phusong.twin import _geo_seeds

    facts = cm.commune_facts().head(20)

    def broken():
        raise InputFileError("crosswalk_151_to_2025.csv: commune facts missing")
    monkeypatch.setattr(cm, "crosswalk_2025", broken)
    # main caught every exception here and silently turned check (c) off
    with pytest.raises(InputFileError, match="commune facts missing"):
        _geo_seeds.implausible_centroids(facts)


def test_sites_outside_every_commune_are_reported_not_joined_to_the_nearest():
    from phusong.site_communes import communes_with_site

    communes = gpd.GeoDataFrame({"commune_code": ["00001", "00002"]},
                                geometry=[box(105.0, 20.5, 105.1, 20.6),
                                          box(105.1, 20.5, 105.2, 20.6)], crs="EPSG:4326")
    sites = gpd.GeoDataFrame({"site_id": ["A", "B"]},
                             geometry=[Point(105.05, 20.55), Point(105.25, 20.55)],
                             crs="EPSG:4326")
    # main: the nearest join put B (outside both) into 00002: 2 communes with a site
    assert communes_with_site(communes, sites) == (1, ["B"])


# ---- 2. unknown is not uncovered ------------------------------------------------------------


def _gap_bundle():
    b = tiny_bundle()
    # commune 00001: x 0-4 km of the DEM; 00002: x 4-21 km, reaching 11 km past its east edge
    communes = gpd.GeoDataFrame(
        {"commune_code": ["00001", "00002"], "name": ["A", "B"], "type": ["Xã", "Xã"],
         "district_code": ["001", "001"], "district_name": ["D", "D"],
         "population": [2400, 6000], "households": [600, 1500]},
        geometry=[box(X0, Y0 - 10_000, X0 + 4000, Y0), box(X0 + 4000, Y0 - 10_000, X0 + 21_000, Y0)],
        crs="EPSG:32648").to_crs("EPSG:4326")
    b.layers["communes"] = communes
    return b


def test_gap_tables_count_unknown_apart():
    from phusong.planning.gaps import compute_gaps

    b = _gap_bundle()
    cov = score_villages(b, model="hata")
    fibre = pd.Series(False, index=cov.index)
    g = compute_gaps(b, cov, fibre=fibre)
    v = g.villages.set_index("village_id")
    assert bool(v.loc["V5", "unknown"]) and not v.loc["V0", "unknown"]
    c = g.communes.set_index("commune_code")
    # V5 (600 households, off the DEM) is in commune 00002
    assert c.loc["00002", "unknown_villages"] == 1 and c.loc["00002", "unknown_households"] == 600
    assert c.loc["00001", "unknown_villages"] == 0
    head = g.headline()
    assert head["unknown_villages"] == 1 and head["unknown_population"] == 2400


def test_coverage_run_reports_unknown(tmp_path):
    from phusong.coverage import run_bundle

    b = _gap_bundle()
    rep = run_bundle(b, tmp_path / "cov", model="hata", resolution_m=500.0)
    assert rep["villages_unknown"] == 1
    com = pd.read_csv(tmp_path / "cov" / "communes.csv", dtype={"commune_code": str})
    assert com.set_index("commune_code").loc["00002", "unknown_households"] == 600
    js = json.loads((tmp_path / "cov" / "coverage.json").read_text())
    # commune 00002 reaches 21 km east: everything past the 10 km DEM is unknown
    assert js["raster"]["cells_unknown"] > 0
    assert js["villages"]["paths_itm_error"] == 0 and "void_bridged_max_m" in js["villages"]
    assert (tmp_path / "cov" / "unknown.tif").is_file()


def test_twin_stats_leaves_unknown_villages_out_of_the_coverage_shares():
    """``twin stats``: V5 (off the DEM) is counted as unknown, and the village percentages are
    over the villages whose coverage is known (main counted V5 as a village without mobile)."""
    from phusong.twin.stats import twin_stats

    b = _gap_bundle()
    scores = score_villages(b, model="hata")
    figs = {f["name"]: f for f in twin_stats(b, model="hata", scores=scores)["figures"]}
    assert figs["villages_unknown"]["value"] == 1
    known = scores[~scores["unknown"].to_numpy(bool)]
    assert len(known) == len(scores) - 1
    # the figure is rounded for display; 1e-6 % is far below one village's share here
    assert figs["villages_any_mobile_pct"]["value"] == pytest.approx(
        100.0 * known["covered_any"].mean(), abs=1e-6)


def test_import_warns_when_the_dem_misses_communes(inputs, tmp_path):  # noqa: F811
    """A DEM over the first commune only: the import names the two it misses."""
    import rasterio

    from tests.test_cli_data import CODES, _run

    com = gpd.read_file(inputs / "xa.geojson")
    x0, y0, x1, y1 = com.geometry.iloc[0].bounds
    res = (x1 - x0) / 20
    with rasterio.open(inputs / "dem.tif", "w", driver="GTiff", width=24, height=24, count=1,
                       dtype="float32", crs="EPSG:4326",
                       transform=Affine(res, 0, x0 - 2 * res, 0, -res, y1 + 2 * res)) as dst:
        dst.write(np.full((24, 24), 300.0, np.float32), 1)
    r = _run(["data", "import", "--communes", inputs / "xa.geojson", "--dem",
              inputs / "dem.tif", "--out", tmp_path / "b"])
    assert r.exit_code == 0, r.stderr
    warn = [ln for ln in r.stderr.splitlines() if ln.startswith("warning: DEM covers")]
    assert len(warn) == 1 and CODES[1] in warn[0] and CODES[2] in warn[0]
    assert CODES[0] not in warn[0] and "0 %" in warn[0]
    from phusong.bundle import load_bundle

    assert "2 commune(s)" in load_bundle(tmp_path / "b").provenance["dem"].note


def test_geotiff_claiming_a_huge_size_is_refused_before_reading(tmp_path):
    """A 200,000² header (320 GB as float64) in a sparse file of a few MB."""
    import rasterio

    from phusong.errors import FormatError
    from phusong.io import read_dem

    p = tmp_path / "huge.tif"
    with rasterio.open(p, "w", driver="GTiff", width=200_000, height=200_000, count=1,
                       dtype="uint8", crs="EPSG:4326", sparse_ok=True, tiled=True,
                       blockxsize=1024, blockysize=1024,
                       transform=Affine(1e-5, 0, 105, 0, -1e-5, 21)):
        pass
    assert p.stat().st_size < 10_000_000
    with pytest.raises(FormatError, match="MAX_RASTER_BYTES"):
        read_dem(p)


# ---- 6. time limits ------------------------------------------------------------------------


def test_time_limit_bounds_the_whole_solve_on_a_large_instance(monkeypatch):
    """40,000 demand rows × 2,000 candidates × 60 sites (the benchmark's generator) with a 1.5 s
    limit: the exact MILP started and cut by the limit. The instance is sized so that no
    machine proves its optimum inside the limit: quiet, this one needs > 8 s (1.3 % gap left
    at 8 s); the benchmark's 20,000 × 1,000 × 30 was proven optimal in 1.28-1.42 s on a quiet
    machine, so the cut this test is about did not happen there (CI failed on it).

    Through scipy, HiGHS ignored its limit in presolve (1.8 s on this model) and the
    feasibility jump: a MILP given 0.5 s returned after 1.75 s, given 1 s after 1.45 s, and
    the old guard therefore kept the MILP from starting at all (issue 18's 62.1 s for 60 s).
    With highspy the whole call measured 1.54-1.56 s for 1.5 s on two loaded cores (this
    instance: 1.53 s quiet). Tolerance
    +0.25 s, best of two runs: HiGHS stops at its next checkpoint (≤ 0.04 s measured), a
    local-search sweep reads the clock between sweeps (≤ 0.06 s), and a loaded 2-core CI
    machine may deschedule the process (0.15 s more); the scipy path needs ≥ 1.8 s.

    The allowance scales with the slowdown measured in the same call (wall over the
    process's CPU-s, ≥ 1; HiGHS runs one thread here, CPU-s 0.77 for 1.52 s wall at load 7.6):
    a checkpoint's 0.04 s or a sweep's 0.06 s of work take that many times longer on a loaded
    machine (3.35 s against the fixed 3.25 s bound once at load 13). A solver ignoring its
    limit still fails: scipy's presolve alone overran 1.5 s by 0.3 CPU-s, beyond 0.25 CPU-s at
    any load. Measured on this instance, ``from_coverage`` (the set-up outside ``solve``) takes
    0.003-0.008 CPU-s; inside a plan the limit counts it (``test_the_set_up_counts_…``)."""
    import time

    from benchmarks.bench_siting import instance
    from phusong.planning import _siting_core as core
    from phusong.planning.siting import MaximalCovering

    milps = []
    real = core.milp_max

    def spy(*a, **k):
        out = real(*a, **k)
        milps.append(out)
        return out

    monkeypatch.setattr(core, "milp_max", spy)
    _, _, w, A = instance(40_000, 2_000)
    # Under heavy load (20 on 2 cores) greedy, local search and the LP bound can use all of
    # 1.5 s, and then no MILP starts (correct, but not the cut this test is about): the limit
    # is doubled, up to 6 s (still short of the > 8 s the optimum needs), until one does.
    for limit in (1.5, 3.0, 6.0):
        walls, milps[:] = [], []
        for _ in range(2):
            prob = MaximalCovering.from_coverage(A, w, n_sites=60)
            t, c = time.perf_counter(), time.process_time()
            res = prob.solve(time_limit_s=limit)
            wall = time.perf_counter() - t
            slowdown = max(1.0, wall / max(1e-9, time.process_time() - c))
            walls.append((wall - limit) / slowdown)  # the overrun in CPU-s of this process
            assert res.objective >= res.greedy_objective  # never worse than greedy
            assert res.stopped_by_time_limit
            assert res.upper_bound >= res.objective  # the gap stays certified
        if milps:
            break
    assert milps and all(m.timed_out for m in milps), [m.status for m in milps]
    assert min(walls) <= 0.25, (limit, walls)


def test_the_set_up_counts_inside_a_plans_siting_limit(monkeypatch):
    """A plan's siting and target steps get a limit (the plan's time left) that bounds the
    problem's set-up too: with ``from_coverage`` slowed by 0.3 s, the solver is handed what is
    left of 1 s, not 1 s (main handed the whole limit to ``solve`` after the set-up; and a
    target step whose least cost broke the budget handed the same whole limit again to the
    budgeted siting after the cover's solve). Tolerance 0.05 s: the steps' own slicing."""
    import time

    import scipy.sparse as sp

    from phusong.planning import _plan_steps
    from phusong.planning.siting import MaximalCovering, SetCovering

    given = []
    for cls in (MaximalCovering, SetCovering):
        real_from, real_solve = cls.from_coverage.__func__, cls.solve

        def slow_from(klass, *a, _f=real_from, **k):
            time.sleep(0.3)
            return _f(klass, *a, **k)

        def spy(self, time_limit_s=None, _s=real_solve, **k):
            given.append((type(self).__name__, time_limit_s))
            return _s(self, time_limit_s=time_limit_s, **k)

        monkeypatch.setattr(cls, "from_coverage", classmethod(slow_from))
        monkeypatch.setattr(cls, "solve", spy)
    A = sp.csr_matrix(np.eye(4, dtype=bool))
    w, costs = np.array([4.0, 3.0, 2.0, 1.0]), np.ones(4)
    none = np.zeros(4, bool)
    _plan_steps.siting_step(A, w, none, np.ones(4, bool), costs, 2.0, 1.0, "t")
    assert given[0][0] == "MaximalCovering" and given[0][1] <= 0.7 + 0.05, given
    given.clear()
    # the least cost (3 sites for 90 %) breaks the budget (2): the siting comes after the cover
    _plan_steps.target_step(A, w, none, np.ones(4, bool), costs, 90.0, 2.0, 1.0, "t")
    assert [g[0] for g in given] == ["SetCovering", "MaximalCovering"], given
    assert given[0][1] <= 0.7 + 0.05 and given[1][1] <= 0.4 + 0.05, given


def test_a_router_past_its_limit_keeps_its_first_tree_and_starts_nothing_else(monkeypatch):
    """``route_fibre`` past its limit: the first tree (Mehlhorn's) completes — it has no
    partial form — but no shortest-path start nor improvement begins after it (main ran both
    whatever the limit: 0.39-0.41 s past a 1 ms limit on the province twin's 150 POPs, now
    0.16-0.18 s, ``benchmarks/bench_router_limit.py``). Without a limit both run."""
    import networkx as nx

    from phusong.planning import _router_core as core
    from phusong.planning.fibre_router import route_fibre

    rng = np.random.default_rng(3)
    g = nx.grid_2d_graph(12, 12)
    g = nx.convert_node_labels_to_integers(g)
    for u, v in g.edges:
        g.edges[u, v]["cost"] = float(rng.uniform(1, 10))
    terms = [int(t) for t in rng.choice(144, size=12, replace=False)]
    ran = []
    for name in ("improve", "shortest_path_heuristic"):
        real = getattr(core, name)
        monkeypatch.setattr(core, name, lambda *a, _f=real, _n=name, **k: ran.append(_n) or
                            _f(*a, **k))
    r = route_fibre(g, terms[1:], existing=[terms[0]], time_limit_s=1e-6)
    assert ran == [] and r.method == "mehlhorn" and r.stopped_by_time_limit
    assert r.cost == pytest.approx(r.mehlhorn_cost, rel=1e-12)  # the first tree, whole
    free = route_fibre(g, terms[1:], existing=[terms[0]])
    assert {"improve", "shortest_path_heuristic"} <= set(ran) and not free.stopped_by_time_limit
    assert free.cost <= r.cost * (1 + 1e-12)


def test_inferred_feeders_count_their_set_up_inside_the_limit(monkeypatch):
    """``infer_feeders(time_limit_s=)`` bounds the call from its start: with the POPs'
    projection on the roads slowed by 0.3 s, the router is handed what is left of 1 s, not
    1 s (main handed it the whole limit after the projection). Tolerance 0.05 s: the
    feeders' own bookkeeping."""
    import time
    from dataclasses import replace

    from phusong.bundle import validate
    from phusong.planning import _plan_deps as deps
    from phusong.planning.centres import assume_pops
    from phusong.planning.feeders import infer_feeders
    from tests._synthetic import synthetic_bundle

    b = validate(synthetic_bundle(3, 6, seed=4))
    b = assume_pops(replace(b, layers={k: v for k, v in b.layers.items()
                                       if k not in ("fibre", "fibre_nodes")}))
    graph = deps.road_graph(b.roads)
    real_snap, real_route, given = deps.snap_points, deps.route_fibre, []

    def slow_snap(*a, **k):
        time.sleep(0.3)
        return real_snap(*a, **k)

    def spy(*a, time_limit_s=None, **k):
        given.append(time_limit_s)
        return real_route(*a, time_limit_s=time_limit_s, **k)

    monkeypatch.setattr(deps, "snap_points", slow_snap)
    monkeypatch.setattr(deps, "route_fibre", spy)
    infer_feeders(b, graph=graph, time_limit_s=1.0)
    assert len(given) == 1 and given[0] <= 0.7 + 0.05, given


def test_highs_is_not_started_once_its_model_used_the_time_up():
    """HiGHS's first checkpoint may come 0.3-0.45 s into its run (a 40,000-row cover MILP,
    load 13): a MILP whose model was built past the deadline is not run at all (main ran it
    and overran a 0.05 s limit by 0.68 s); the outcome says so and has no solution."""
    import time

    import scipy.sparse as sp

    from phusong.planning._highs import solve_highs

    M = sp.csr_matrix(np.eye(3))
    out = solve_highs(np.ones(3), M, np.ones(3), np.full(3, np.inf),
                      integer=np.ones(3, bool), deadline=time.perf_counter())
    assert out.timed_out and out.x is None and out.status.endswith("(not started)"), out
    free = solve_highs(np.ones(3), M, np.ones(3), np.full(3, np.inf), integer=np.ones(3, bool))
    assert free.optimal and free.objective == pytest.approx(3.0)  # exact: three unit columns


def test_milp_keeps_its_certified_optimum_without_a_limit():
    """Without a limit the same instance is solved to proven optimality (320,411, found by
    the MILP: local search stops at 317,720), the bound equal to the answer."""
    from benchmarks.bench_siting import instance
    from phusong.planning.siting import MaximalCovering

    _, _, w, A = instance(20_000, 1_000)
    res = MaximalCovering.from_coverage(A, w, n_sites=30).solve()
    assert res.status == "optimal" and res.method == "milp"
    assert res.objective == pytest.approx(320_411.0, abs=0.5)  # integer weights
    assert res.upper_bound == res.objective and not res.stopped_by_time_limit


# ---- 5. threads ----------------------------------------------------------------------------


def test_itm_point_engine_under_several_threads(monkeypatch):
    """ITM on villages with 3 worker threads equals 1 thread bit for bit, and no numba
    ``parallel=True`` kernel is ever launched from a worker thread (main launched them from
    every pool thread at once, which numba's workqueue threading layer aborts on)."""
    pytest.importorskip("phusong.coverage.itm")
    import threading

    from phusong.coverage import _itm_kernel, _terrain

    launched = []
    for mod, name in ((_terrain, "sample_paths"), (_itm_kernel, "p2p_multi_batch")):
        real = getattr(mod, name)

        def spy(*a, _real=real, _name=name):
            launched.append((_name, threading.current_thread().name))
            return _real(*a)
        monkeypatch.setattr(mod, name, spy)
    b = tiny_bundle()
    tx = transmitters(b)
    rng = np.random.default_rng(3)
    x = X0 + rng.uniform(0, 10_000, 400)
    y = Y0 - rng.uniform(0, 10_000, 400)
    one = link_pairs(tx, x, y, b.dem, EngineOptions(model="itm", batch_pairs=60, threads=1))
    assert launched and all(t == threading.main_thread().name for _, t in launched)
    launched.clear()
    three = link_pairs(tx, x, y, b.dem, EngineOptions(model="itm", batch_pairs=60, threads=3))
    assert not launched, sorted(set(launched))[:4]
    np.testing.assert_array_equal(one.rx_idx, three.rx_idx)
    np.testing.assert_array_equal(one.cell_idx, three.cell_idx)
    np.testing.assert_array_equal(one.rx_dbm, three.rx_dbm)  # bit for bit: same kernels' maths
    assert one.stats == three.stats


def test_plan_json_reports_the_engines_itm_errors_and_voids(monkeypatch, tmp_path):
    """Build 1: ITM error codes and DEM voids are reported figures in ``plan.json`` too, not
    only in ``coverage.json``: the existing network's scoring counts (``score_villages``'
    ``attrs["stats"]``) are written under ``existing_network_scoring``; under a time limit the
    chunks' counts are summed. Main's plan.json had none of them."""
    from phusong.bundle import validate
    from phusong.planning import _plan_scoring, make_plan
    from phusong.planning.scenario import scenario_from_dict
    from tests._synthetic import disc_engine, synthetic_bundle

    counts = {"paths": 10, "paths_itm_error": 3, "paths_flagged_void": 2,
              "paths_void_bridged": 1, "void_bridged_max_m": 120.0, "receivers_outside_dem": 0}
    disc_engine(monkeypatch, counts)
    b = validate(synthetic_bundle(3, 6, seed=4))
    meta = json.loads((make_plan(b).write(tmp_path / "p") / "plan.json").read_text("utf-8"))
    assert meta["existing_network_scoring"] == counts
    assert meta["sites_outside_communes"] == {"count": 0, "site_ids": []}  # zero, not absent
    # under a limit, in chunks of 6 villages (3 calls): counts summed, the maximum kept
    monkeypatch.setattr(_plan_scoring, "FIRST_VILLAGES", 6)
    monkeypatch.setattr(_plan_scoring, "VILLAGE_CHUNK", 6)
    monkeypatch.setattr(_plan_scoring, "FIRST_CALL_S", 0.0)
    p = make_plan(b, scenario=scenario_from_dict({"time_limit_s": 600.0}))
    assert p.scoring["paths_itm_error"] == 9 and p.scoring["paths_flagged_void"] == 6
    assert p.scoring["void_bridged_max_m"] == 120.0


def test_plan_json_reports_the_existing_sites_outside_every_commune(monkeypatch, tmp_path):
    """Build 1: an existing site inside no commune polygon is a reported figure in
    ``plan.json`` (count and ids, with a note), by the point-in-polygon rule ``twin stats``
    uses; main's plan.json did not say."""
    from phusong.bundle import validate
    from phusong.planning import make_plan
    from tests._synthetic import disc_engine, site_outside_communes, synthetic_bundle

    disc_engine(monkeypatch)
    moved, sid = site_outside_communes(validate(synthetic_bundle(3, 6, seed=4)))
    meta = json.loads((make_plan(moved).write(tmp_path / "p") / "plan.json")
                      .read_text("utf-8"))
    assert meta["sites_outside_communes"] == {"count": 1, "site_ids": [sid]}
    assert any("1 existing site(s) inside no commune polygon" in n and sid in n
               for n in meta["notes"])
