"""Read a plan folder written by ``phusong plan`` (CONTRACTS: plan output folder).

::

    PLAN_DIR/plan.json         bundle_name, bundle_fingerprint, synthetic, scenario, budgets_vnd,
                               totals, years
    PLAN_DIR/plan.gpkg         layers candidate_sites (Point) and fibre_routes (LineString);
                               feeders_inferred (LineString) when the plan inferred feeders
    PLAN_DIR/gaps_*.csv        communes, districts, province, villages
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from phusong.bundle import Bundle, fingerprint
from phusong.errors import DataError, FormatError, InputFileError

__all__ = ["Plan", "read_plan", "read_gaps", "GAP_TABLES", "SITE_COLUMNS", "ROUTE_COLUMNS"]

GAP_TABLES = ("communes", "districts", "province", "villages")
SITE_COLUMNS = ("candidate_id", "kind", "operator", "tech", "commune_code", "name", "cost_vnd",
                "households_new", "population_new", "selected", "rank")
ROUTE_COLUMNS = ("route_id", "road_class", "length_m", "cost_vnd", "purpose", "households_passed")
_CODE_COLUMNS = {"unit_code": str, "commune_code": str, "district_code": str, "village_id": str}


@dataclass
class Plan:
    """A plan folder's content.

    Attributes
    ----------
    path : Path
        The folder.
    meta : dict
        ``plan.json``.
    sites : GeoDataFrame
        Candidate sites (EPSG:4326), every candidate with ``selected``.
    routes : GeoDataFrame
        Fibre routes (EPSG:4326).
    gaps : dict of str to DataFrame
        Gap tables found in the folder (``communes``, ``districts``, ``province``, ``villages``).
    feeders : GeoDataFrame or None
        Inferred feeder routes (EPSG:4326; ``plan.gpkg`` layer ``feeders_inferred``), drawn
        only and labelled INFERRED; None when the plan has none.
    """

    path: Path
    meta: dict
    sites: gpd.GeoDataFrame
    routes: gpd.GeoDataFrame
    gaps: dict[str, pd.DataFrame] = field(default_factory=dict)
    feeders: gpd.GeoDataFrame | None = None

    @property
    def selected_sites(self) -> gpd.GeoDataFrame:
        """Candidates chosen by the plan, in rank order."""
        s = self.sites[self.sites["selected"].astype(bool)]
        return s.sort_values("rank", kind="stable") if "rank" in s.columns else s


def _read_layer(gpkg: Path, layer: str, columns: tuple[str, ...]) -> gpd.GeoDataFrame:
    try:
        layers = {name for name, _ in pyogrio.list_layers(gpkg)}
        if layer not in layers:
            raise FormatError(f"{gpkg}: no layer {layer!r}; re-run 'phusong plan'")
        gdf = pyogrio.read_dataframe(gpkg, layer=layer)
    except pyogrio.errors.DataSourceError as exc:
        raise FormatError(f"{gpkg}: not a readable GeoPackage ({exc})") from None
    missing = [c for c in columns if c not in gdf.columns]
    if missing:
        raise FormatError(f"{gpkg}: layer {layer} lacks column(s) {missing}; re-run 'phusong plan'")
    if gdf.crs is None:
        raise FormatError(f"{gpkg}: layer {layer} has no CRS; re-run 'phusong plan'")
    return gdf.to_crs("EPSG:4326") if not gdf.crs.equals("EPSG:4326") else gdf


def read_gaps(folder: str | Path) -> dict[str, pd.DataFrame]:
    """Read the ``gaps_*.csv`` tables of ``folder`` (codes stay strings with leading zeros)."""
    out = {}
    for name in GAP_TABLES:
        p = Path(folder) / f"gaps_{name}.csv"
        if p.is_file():
            try:
                out[name] = pd.read_csv(p, dtype=_CODE_COLUMNS, encoding="utf-8")
            except (UnicodeDecodeError, pd.errors.ParserError) as exc:
                raise FormatError(f"{p}: not a UTF-8 CSV table ({exc})") from None
    return out


def read_plan(plan_dir: str | Path, bundle: Bundle | None = None) -> Plan:
    """Read and check a plan folder.

    Parameters
    ----------
    plan_dir : str or Path
        Folder written by ``phusong plan``.
    bundle : Bundle, optional
        When given, the plan's ``bundle_fingerprint`` must match :func:`phusong.bundle.fingerprint`.

    Raises
    ------
    InputFileError
        The folder or ``plan.json`` is missing.
    FormatError
        ``plan.json`` or ``plan.gpkg`` is unreadable or lacks a layer/column.
    DataError
        The plan was made from another bundle.
    """
    p = Path(plan_dir)
    meta_path = p / "plan.json"
    if not meta_path.is_file():
        raise InputFileError(f"{p}: not a plan folder (no plan.json); make one with 'phusong plan'")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FormatError(f"{meta_path}: unreadable JSON ({exc})") from None
    if bundle is not None:
        want, got = fingerprint(bundle), meta.get("bundle_fingerprint")
        if got != want:
            raise DataError(
                f"{meta_path}: plan made from bundle {meta.get('bundle_name')!r} "
                f"(fingerprint {got}), not from {bundle.name!r} ({want}); re-run 'phusong plan' "
                "on this bundle"
            )
    gpkg = p / "plan.gpkg"
    if not gpkg.is_file():
        raise InputFileError(f"{gpkg}: missing; re-run 'phusong plan'")
    sites = _read_layer(gpkg, "candidate_sites", SITE_COLUMNS)
    routes = _read_layer(gpkg, "fibre_routes", ROUTE_COLUMNS)
    for col in ("commune_code", "candidate_id", "route_id"):
        for df in (sites, routes):
            if col in df.columns:
                df[col] = df[col].astype(str)
    sites["selected"] = sites["selected"].astype(bool)
    feeders = None
    if "feeders_inferred" in {name for name, _ in pyogrio.list_layers(gpkg)}:
        feeders = _read_layer(gpkg, "feeders_inferred", ("length_m",))
    return Plan(p, meta, sites, routes, read_gaps(p), feeders)
