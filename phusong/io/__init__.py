"""Readers and writers per layer and format; atomic writes (DESIGN §2).

Readers return :class:`Imported` (the layer in the bundle's schema, its source file name and
notes for provenance); :func:`import_bundle` assembles and saves a bundle from real files.

The readers are loaded on first use, so that ``import phusong.io`` stays cheap; atomic writing
lives below both ``io`` and ``bundle`` (:mod:`phusong.atomic`) and is re-exported here.
"""

from __future__ import annotations

import importlib

from phusong.atomic import atomic_dir, atomic_path, check_writable

_LAZY = {
    "Imported": "_files",
    "read_table": "_files",
    "safe_extract": "_files",
    "read_fibre": "fibre",
    "census_shares": "census",
    "scale_to_census": "census",
    "settlements_from_raster": "census",
    "villages_from_raster": "census",
    "ImportSpec": "importer",
    "build_bundle": "importer",
    "import_bundle": "importer",
    "read_dem": "rasters",
    "read_hgt": "rasters",
    "read_population": "rasters",
    "read_osm": "osm",
    "download_osm_roads": "osm",
    "osm_extent": "osm",
    "read_roads": "roads",
    "normalize_operator": "sites",
    "normalize_tech": "sites",
    "read_cells": "sites",
    "read_opencellid": "sites",
    "read_sites": "sites",
    "read_communes": "vector",
    "read_vector": "vector",
    "repair_polygons": "vector",
    "read_villages": "villages",
}

__all__ = ["atomic_dir", "atomic_path", "check_writable", *sorted(_LAZY)]


def __getattr__(name: str):
    if name in _LAZY:
        module = importlib.import_module(f"phusong.io.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'phusong.io' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
