"""Benchmark: what each CLI command imports before it starts, and how long that takes.

Runs ``python -X importtime -c 'from phusong.cli import main; main()' <command> --help`` for
every command of the CLI (found by walking the click groups), and the one-site path
(``coverage site`` on the real SRTM3 tile of ``../shared`` when present, else on a small
synthetic GeoTIFF written here), each ``--repeats`` times in fresh interpreters. Per command:
wall seconds of the whole process (min/median/max), the import total (sum of the top-level
imports' cumulative times, ms, median run) and the modules that cost most — the top-level
imports by cumulative time and the single modules by self time.

JSON lines on stdout; ``--markdown PATH`` also writes the table the README quotes.

Usage: .venv/bin/python benchmarks/bench_import_time.py [--repeats 5] [--top 6]
       [--markdown out/import_times.md]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TILE = ROOT.parent / "shared" / "data" / "hoabinh" / "dem" / "srtm3_N21E105.tif"
CLI = "from phusong.cli import main; main()"


def _emit(**kw):
    print(json.dumps(kw, ensure_ascii=False), flush=True)


def parse_importtime(stderr: str) -> list[tuple[int, int, int, str]]:
    """``(depth, self_us, cumulative_us, module)`` per line of ``-X importtime`` output."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        head, cum, name = line.split("|", 2)
        module = name.strip()
        depth = (len(name.rstrip()) - len(module) - 1) // 2  # two spaces per level
        rows.append((depth, int(head.split(":", 1)[1]), int(cum), module))
    return rows


def _commands() -> list[list[str]]:
    sys.path.insert(0, str(ROOT))
    import click

    from phusong.cli import main

    out = []

    def walk(group, prefix):
        for name, cmd in sorted(group.commands.items()):
            out.append(prefix + [name])
            if isinstance(cmd, click.Group):
                walk(cmd, prefix + [name])

    walk(main, [])
    return [[]] + out  # [] = phusong --help


def _site_args(tmp: Path) -> tuple[list[str], str]:
    """``coverage site`` arguments on the real tile, or on a synthetic 30 km DEM."""
    if TILE.exists():
        dem, where = TILE, "srtm3_N21E105 (real)"
    else:
        import numpy as np
        import rasterio
        from affine import Affine

        n = 700
        yy, xx = np.mgrid[0:n, 0:n] / n
        z = (300 + 200 * np.sin(6 * xx) * np.cos(5 * yy)).astype(np.float32)
        dem = tmp / "dem.tif"
        with rasterio.open(dem, "w", driver="GTiff", height=n, width=n, count=1,
                           dtype="float32", crs="EPSG:4326",
                           transform=Affine(1 / 1200, 0, 105.2, 0, -1 / 1200, 21.6)) as dst:
            dst.write(z, 1)
        where = "synthetic 700² DEM (../shared absent)"
    return (["coverage", "site", "--dem", str(dem), "--lon", "105.5", "--lat", "21.3",
             "--height-m", "30", "--freq-mhz", "1842.5", "--eirp-dbm", "57", "--radius-km",
             "30", "--resolution-m", "90", "--threads", "1", "--out"], where)


def _run(args: list[str], cwd: Path) -> tuple[float, list]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-X", "importtime", "-c", CLI, *args], cwd=cwd,
                       env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"phusong {' '.join(args)}: exit {p.returncode}: "
                           f"{p.stderr.strip().splitlines()[-1:]}")
    return wall, parse_importtime(p.stderr)


def _summary(rows, top: int) -> dict:
    total = sum(c for d, _, c, _ in rows if d == 0)
    tops = sorted(((c, n) for d, _, c, n in rows if d == 0), reverse=True)[:top]
    selfs = sorted(((s, n) for _, s, _, n in rows), reverse=True)[:top]
    return {"import_ms": round(total / 1000, 1), "modules": len(rows),
            "top_cumulative_ms": [[n, round(c / 1000, 1)] for c, n in tops],
            "top_self_ms": [[n, round(s / 1000, 1)] for s, n in selfs]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--top", type=int, default=6)
    ap.add_argument("--markdown", type=Path, help="also write the table here (Markdown)")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_import_"))
    site, where = _site_args(tmp)
    jobs = [(" ".join(["phusong", *c, "--help"]), [*c, "--help"]) for c in _commands()]
    jobs.append((f"phusong coverage site (30 km, 90 m, ITM; {where})", None))
    _run(jobs[0][1], tmp)  # page cache and .pyc files warm, not timed
    _run(site + [str(tmp / "warm.tif")], tmp)  # numba's cache holds the kernels (warm run)
    lines = []
    for label, args in jobs:
        walls, runs = [], []
        for i in range(a.repeats):
            w, rows = _run(args if args is not None else site + [str(tmp / f"s{i}.tif")], tmp)
            walls.append(w)
            runs.append(rows)
        med = sorted(range(a.repeats), key=lambda i: walls[i])[a.repeats // 2]
        s = _summary(runs[med], a.top)
        row = {"bench": "import_time", "command": label, "repeats": a.repeats,
               "wall_s_min_med_max": [round(min(walls), 3), round(statistics.median(walls), 3),
                                      round(max(walls), 3)], **s}
        _emit(**row)
        lines.append(row)
    if a.markdown:
        md = ["| command | wall s (min / median / max) | imports, ms | modules | "
              "top imports (cumulative ms) | top single modules (self ms) |",
              "|---|---|---|---|---|---|"]
        for r in lines:
            w = " / ".join(f"{v:.2f}" for v in r["wall_s_min_med_max"])
            tc = ", ".join(f"{n} {v:.0f}" for n, v in r["top_cumulative_ms"])
            ts = ", ".join(f"{n} {v:.0f}" for n, v in r["top_self_ms"])
            md.append(f"| `{r['command']}` | {w} | {r['import_ms']:.0f} | {r['modules']} | "
                      f"{tc} | {ts} |")
        a.markdown.parent.mkdir(parents=True, exist_ok=True)
        a.markdown.write_text("\n".join(md) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
