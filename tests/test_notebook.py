"""The walkthrough notebook executes top to bottom on the embedded twin (so it never rots).

One execution (module fixture) of ``notebooks/walkthrough.ipynb`` with nbclient; the tests read
its outputs: no errors or warnings, the calibration figures all within tolerance, the gap tables,
the plan totals, and the map (Leaflet HTML) as the last cell's output. Cells are found by the
``tags`` in their metadata.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "walkthrough.ipynb"
# figures the calibration table must list (phusong.twin.twin_stats names)
FIGURES = ("sites", "cells", "communes_with_site", "villages_3g_pct", "villages_4g_pct",
           "commune_centres_fibre_pct", "households_fibre_available_pct", "households")


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    run_dir = tmp_path_factory.mktemp("walkthrough")
    # generous per-cell timeout: the slowest cell (the twin) takes seconds to a minute by load
    nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(run_dir)}}).execute()
    return nb


def _cell(nb, tag: str):
    cells = [c for c in nb.cells if c.cell_type == "code" and tag in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"one code cell tagged {tag!r} expected, found {len(cells)}"
    return cells[0]


def _text(cell) -> str:
    return "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                   for o in cell.outputs)


def _html(cell) -> str:
    return "".join(str(o.get("data", {}).get("text/html", "")) for o in cell.outputs)


def test_no_errors_or_warnings(executed):
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    errors = [f"{o.ename}: {o.evalue}" for o in outputs if o.output_type == "error"]
    assert not errors
    stderr = [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, f"the notebook wrote to stderr (warnings?): {stderr}"
    assert all(c.execution_count for c in executed.cells if c.cell_type == "code")


def test_calibration_figures_all_ok(executed):
    cell = _cell(executed, "twin-stats")
    text = _text(cell)
    m = re.search(r"(\d+)/(\d+) published figures within tolerance; all ok: (\w+)", text)
    assert m, text
    assert int(m[1]) == int(m[2]) >= len(FIGURES) and m[3] == "True", m[0]
    table = str(cell.outputs[-1]["data"]["text/plain"])
    assert all(re.search(rf"^\d+\s+{name}\s", table, re.M) for name in FIGURES), table
    assert "False" not in table


def test_gaps_headline_and_worst_communes(executed):
    province = _text(_cell(executed, "province"))
    for col in ("fibre_households_pct", "mobile_4G_population_pct", "gap_fibre_2025_pct"):
        assert col in province
    assert re.search(r"^communes\s+21(\.0)?\s*$", province, re.M), province  # two districts
    worst = _html(_cell(executed, "worst-communes"))
    rows = re.findall(r"<tr>\s*<th>\d+</th>\s*<td>(\d{5})</td>", worst)
    assert len(rows) == 5 and len(set(rows)) == 5, worst
    gaps = [float(g) for g in re.findall(
        r"<tr>\s*<th>\d+</th>(?:\s*<td>[^<]*</td>){5}\s*<td>([\d.]+)</td>", worst)]
    assert len(gaps) == 5 and gaps == sorted(gaps, reverse=True) and gaps[0] > 0, worst


def test_plan_totals(executed):
    text = _text(_cell(executed, "plan-totals"))
    cost = re.search(r"^total cost, bn VND\s+([\d.]+)", text, re.M)
    assert cost and float(cost[1]) > 0, text
    assert "households newly with fibre in reach" in text


def test_map_is_the_last_output(executed):
    cell = _cell(executed, "map")
    assert cell is [c for c in executed.cells if c.cell_type == "code"][-1]
    saved = re.search(r"saved map\.html: ([\d.]+) MB", _text(cell))
    assert saved and float(saved[1]) > 0
    html = _html(cell)
    assert "leaflet" in html.lower() and "L.map(" in html
    assert "synthetic demonstration data" in html  # the synthetic label reaches the map
