"""Layer schemas of a province bundle: column, dtype, unit, required (DESIGN §3).

Units live in column names (``height_m``, ``eirp_dbm``, ``freq_mhz``, ``households``,
``cost_vnd``). :func:`check_layer` coerces a layer to its schema or raises
:class:`~phusong.errors.SchemaError` naming the layer, the column and the fix.

Examples
--------
>>> from phusong.schema import SCHEMAS
>>> [f.name for f in SCHEMAS["cells"].fields if f.required]
['cell_id', 'site_id', 'tech', 'freq_mhz', 'eirp_dbm']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from phusong import settings
from phusong.errors import DataError, SchemaError

__all__ = ["Field", "LayerSchema", "SCHEMAS", "check_layer"]


@dataclass(frozen=True)
class Field:
    """One column: name, dtype (``str``, ``int``, ``float``, ``bool``), unit, required, description."""

    name: str
    dtype: str
    unit: str = ""
    required: bool = True
    description: str = ""


@dataclass(frozen=True)
class LayerSchema:
    """A layer's schema: its fields, geometry types (None = plain table) and id column."""

    name: str
    fields: tuple[Field, ...]
    geometry: tuple[str, ...] | None
    id_column: str | None
    required_layer: bool = False

    def field(self, name: str) -> Field:
        """The field called ``name``."""
        return next(f for f in self.fields if f.name == name)


_F = Field
SCHEMAS: dict[str, LayerSchema] = {
    s.name: s
    for s in (
        LayerSchema(
            "communes",
            (
                _F("commune_code", "str", description="5-digit GSO code"),
                _F("name", "str", description="name with diacritics, with its type prefix"),
                _F("type", "str", description="Xã / Phường / Thị trấn"),
                _F("district_code", "str", description="3-digit GSO district code"),
                _F("district_name", "str"),
                _F("population", "int", "persons", description="2019 census"),
                _F("households", "int", "households", description="2019 census"),
            ),
            ("Polygon", "MultiPolygon"),
            "commune_code",
            required_layer=True,
        ),
        LayerSchema(
            "communes_2025",
            (
                _F("unit_code", "str", description="5-digit code of the 2025 unit"),
                _F("name", "str"),
                _F("type", "str", description="Xã / Phường"),
            ),
            ("Polygon", "MultiPolygon", "Point"),
            "unit_code",
        ),
        LayerSchema(
            "villages",
            (
                _F("village_id", "str"),
                _F("commune_code", "str"),
                _F("name", "str", required=False),
                _F("households", "int", "households"),
                _F("population", "int", "persons"),
                _F("is_centre", "bool", required=False, description="commune centre (UBND)"),
            ),
            ("Point",),
            "village_id",
        ),
        LayerSchema(
            "sites",
            (
                _F("site_id", "str"),
                _F("operator", "str", description="one of settings.OPERATORS"),
                _F("height_m", "float", "m", description="antenna height above ground"),
                _F("ground_m", "float", "m", required=False, description="ground elevation"),
                _F("has_power", "bool", required=False),
                _F("has_backhaul", "bool", required=False),
            ),
            ("Point",),
            "site_id",
        ),
        LayerSchema(
            "cells",
            (
                _F("cell_id", "str"),
                _F("site_id", "str"),
                _F("tech", "str", description="2G / 3G / 4G / 5G"),
                _F("band", "str", required=False),
                _F("freq_mhz", "float", "MHz"),
                _F("eirp_dbm", "float", "dBm"),
                _F("azimuth_deg", "float", "degrees", required=False, description="NaN = omni"),
                _F("tilt_deg", "float", "degrees", required=False,
                   description="downtilt: of the legacy sector beam, or mechanical with antenna"),
                _F("antenna", "str", required=False,
                   description="pattern: a file of the bundle's antennas/ or 3gpp-<beamwidth>"),
                _F("etilt_deg", "float", "degrees", required=False,
                   description="electrical downtilt (NaN = the pattern's own)"),
            ),
            None,
            "cell_id",
        ),
        LayerSchema(
            "fibre",
            (
                _F("span_id", "str"),
                _F("kind", "str", required=False, description="backbone / ring / feeder / access"),
                _F("cable_count", "int", "cables", required=False),
            ),
            ("LineString", "MultiLineString"),
            "span_id",
        ),
        LayerSchema(
            "fibre_nodes",
            (
                _F("node_id", "str"),
                _F("kind", "str", description="POP / splitter / access_node"),
            ),
            ("Point",),
            "node_id",
        ),
        LayerSchema(
            "roads",
            (
                _F("road_id", "str"),
                _F("road_class", "str", description="national/provincial/district/commune/track"),
                _F("cost_factor", "float", description="multiplier on fibre cost per km"),
            ),
            ("LineString", "MultiLineString"),
            "road_id",
        ),
    )
}

_TRUE = {"1", "true", "yes", "y", "t", "có", "co", "x"}
_FALSE = {"0", "false", "no", "n", "f", "không", "khong", ""}


def _coerce(series: pd.Series, field: Field, layer: str) -> pd.Series:
    if field.dtype == "str":
        out = series.astype("string").str.strip()
        return out.astype(object).where(out.notna(), None)
    if field.dtype in ("int", "float"):
        num = pd.to_numeric(series, errors="coerce")
        bad = num.isna() & series.notna() & (series.astype(str).str.strip() != "")
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise SchemaError(
                f"{layer}: row {row + 1}, column {field.name!r}: {series.iloc[row]!r} is not a "
                f"number ({field.unit or 'no unit'}); fix the value"
            )
        if field.dtype == "int":
            if field.required and num.isna().any():
                row = int(np.flatnonzero(num.isna().to_numpy())[0])
                raise SchemaError(
                    f"{layer}: row {row + 1}, column {field.name!r} is empty; it is required"
                )
            if num.notna().all():
                return num.round().astype("int64")
            return num
        return num.astype("float64")
    if field.dtype == "bool":
        if series.dtype == bool:
            return series
        text = series.astype(str).str.strip().str.lower()
        bad = ~text.isin(_TRUE | _FALSE | {"nan", "none"})
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise SchemaError(
                f"{layer}: row {row + 1}, column {field.name!r}: {series.iloc[row]!r} is not "
                "yes/no; use true/false"
            )
        return text.isin(_TRUE)
    raise AssertionError(field.dtype)


def check_layer(df, layer: str):
    """Coerce ``df`` to the schema of ``layer``; raise :class:`SchemaError` if it cannot be.

    Parameters
    ----------
    df : pandas.DataFrame or geopandas.GeoDataFrame
        The layer. Not modified; a checked copy is returned.
    layer : str
        A key of :data:`SCHEMAS`.

    Returns
    -------
    DataFrame or GeoDataFrame
        A copy with required columns present and typed; extra columns are kept.
    """
    schema = SCHEMAS[layer]
    if len(df) == 0:
        raise DataError(f"{layer}: the layer is empty; supply at least one row")
    missing = [f.name for f in schema.fields if f.required and f.name not in df.columns]
    if missing:
        raise SchemaError(
            f"{layer}: missing required column(s) {missing}; present: {list(df.columns)[:12]}"
            " — rename or map them"
        )
    out = df.copy()
    for f in schema.fields:
        if f.name in out.columns:
            out[f.name] = _coerce(out[f.name], f, layer)
            if f.required and f.dtype == "str" and out[f.name].isna().any():
                row = int(np.flatnonzero(out[f.name].isna().to_numpy())[0])
                raise SchemaError(f"{layer}: row {row + 1}, column {f.name!r} is empty; required")
    if schema.geometry is not None:
        if not hasattr(out, "geometry") or "geometry" not in out.columns:
            raise SchemaError(f"{layer}: no geometry; this layer needs {schema.geometry}")
        if out.geometry.isna().any() or out.geometry.is_empty.any():
            row = int(np.flatnonzero((out.geometry.isna() | out.geometry.is_empty).to_numpy())[0])
            raise DataError(f"{layer}: row {row + 1} has no geometry; drop it or fix it")
        kinds = set(out.geom_type.unique())
        if not kinds <= set(schema.geometry):
            raise SchemaError(
                f"{layer}: geometry types {sorted(kinds)} where {list(schema.geometry)} expected"
            )
    if schema.id_column and schema.id_column in out.columns:
        dup = out[schema.id_column].duplicated(keep=False)
        if dup.any():
            ids = sorted(set(out.loc[dup, schema.id_column]))[:5]
            raise DataError(f"{layer}: duplicate {schema.id_column} {ids}; ids must be unique")
    if layer == "sites":
        _check_members(out, "operator", settings.OPERATORS, layer)
    if layer == "cells":
        _check_members(out, "tech", settings.TECHS, layer)
    return out


def _check_members(df, column: str, allowed, layer: str) -> None:
    bad = ~df[column].isin(allowed)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{layer}: row {row + 1}, {column} {df[column].iloc[row]!r} is unknown; "
            f"use one of {list(allowed)}"
        )
