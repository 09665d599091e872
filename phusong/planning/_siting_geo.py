"""GeoDataFrame inputs for :mod:`phusong.planning.siting` (private): columns and radius coverage."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from phusong import settings
from phusong.errors import CRSError, DataError, ModelError, SchemaError

__all__ = ["gdf_inputs", "coverage_by_radius"]


def _column(gdf, col: str, layer: str):
    if col not in gdf.columns:
        raise SchemaError(f"{layer}: missing column {col!r}; columns are {list(gdf.columns)}")
    return gdf[col].to_numpy()


def gdf_inputs(demand, candidates, weight_col, cost_col, existing_col, covered_col):
    """Weights, costs and the existing indices/mask read from the two layers' columns."""
    w = _column(demand, weight_col, "demand").astype(np.float64)
    costs = None if cost_col is None else _column(candidates, cost_col, "candidates")
    existing = None
    if existing_col is not None and covered_col is not None:
        raise ModelError("give existing_col or covered_col, not both")
    if existing_col is not None:
        existing = np.flatnonzero(_column(candidates, existing_col, "candidates").astype(bool))
    if covered_col is not None:
        existing = _column(demand, covered_col, "demand").astype(bool)
    return w, costs, existing


def _xy_m(gdf, layer: str) -> np.ndarray:
    if gdf.crs is None:
        raise CRSError(f"{layer}: layer has no CRS; set one (e.g. EPSG:4326) before planning")
    g = gdf.geometry
    if g.crs.is_geographic:
        g = g.to_crs(settings.WORK_CRS)
    if g.is_empty.any() or g.isna().any():
        bad = int(np.flatnonzero((g.is_empty | g.isna()).to_numpy())[0])
        raise DataError(f"{layer}: row {bad} has an empty geometry; drop it or give a point")
    pts = g.representative_point() if not (g.geom_type == "Point").all() else g
    return np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])


def coverage_by_radius(demand, candidates, radius_m: float) -> sp.csr_matrix:
    """Demand × candidates 0/1 matrix: candidate within ``radius_m`` metres of the demand point."""
    if not (np.isfinite(radius_m) and radius_m > 0):
        raise ModelError(f"radius_m must be > 0 metres, got {radius_m}")
    d = _xy_m(demand, "demand")
    c = _xy_m(candidates, "candidates")
    if len(d) == 0 or len(c) == 0:
        return sp.csr_matrix((len(d), len(c)), dtype=np.float64)
    pairs = cKDTree(d).sparse_distance_matrix(cKDTree(c), radius_m, output_type="ndarray")
    m = sp.csr_matrix((np.ones(len(pairs)), (pairs["i"], pairs["j"])), shape=(len(d), len(c)))
    return m
