"""Benchmark alias: the province raster per propagation model against the terrain-sweep floor.

Same script, same options and JSON lines as ``bench_coverage_province.py`` (ITM, Hata +
Bullington and 38.901 + Bullington on the same twin at ``--resolution-m`` in one run, each
with its terrain floor and its ratio to the ITM run; the direct O(n²) geometry baseline unless
``--skip-direct``); kept under this name for the commands quoted in the README.

Usage: .venv/bin/python benchmarks/bench_coverage_models.py [--resolution-m 100] [--repeats 1]
       [--threads 2] [--skip-direct] [--skip-timer-check]
"""

from __future__ import annotations

from bench_coverage_province import main

if __name__ == "__main__":
    raise SystemExit(main())
