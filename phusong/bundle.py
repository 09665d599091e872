"""The province bundle: a folder with ``bundle.toml``, ``layers.gpkg`` and rasters (DESIGN §3).

::

    my_bundle/
      bundle.toml     name, boundary vintage, CRS notes, provenance per layer
      layers.gpkg     communes, villages, sites, cells, fibre, fibre_nodes, roads, communes_2025
      dem.tif         elevation, m (float32, NaN = void), optional
      population.tif  persons per pixel, optional
      landcover.tif   ESA WorldCover class codes (terminal clutter, ITU-R P.2108), optional
      antennas/       MSI/Planet pattern files named by cells.antenna, optional

Vector layers are stored in EPSG:4326. Provenance (``source``, ``licence``, ``synthetic``,
``note``) travels with each layer into every output.

Examples
--------
>>> import geopandas as gpd, tempfile, pathlib
>>> from shapely.geometry import box
>>> from phusong.bundle import Bundle, Provenance, save_bundle, load_bundle
>>> communes = gpd.GeoDataFrame({"commune_code": ["04792"], "name": ["Phường Tân Hòa"],
...     "type": ["Phường"], "district_code": ["148"], "district_name": ["Thành phố Hòa Bình"],
...     "population": [6958], "households": [1900]},
...     geometry=[box(105.32, 20.84, 105.34, 20.87)], crs="EPSG:4326")
>>> b = Bundle("tiny", layers={"communes": communes},
...            provenance={"communes": Provenance("example", "CC0", synthetic=True)})
>>> out = pathlib.Path(tempfile.mkdtemp()) / "tiny"
>>> _ = save_bundle(b, out)
>>> load_bundle(out).layers["communes"].commune_code.tolist()
['04792']
"""

from __future__ import annotations

import shutil
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import tomli_w

from phusong import settings
from phusong.atomic import atomic_dir
from phusong.crs import parse_crs, require_crs
from phusong.errors import CRSError, DataError, FormatError, InputFileError
from phusong.gpkg import write_gpkg
from phusong.raster import Raster, read_raster, write_raster
from phusong.schema import SCHEMAS, check_layer

__all__ = [
    "Raster",
    "Provenance",
    "Bundle",
    "load_bundle",
    "save_bundle",
    "validate",
    "fingerprint",
    "read_raster",
    "write_raster",
    "LAYER_ORDER",
    "RASTERS",
]

LAYER_ORDER = (
    "communes",
    "communes_2025",
    "villages",
    "sites",
    "cells",
    "fibre",
    "fibre_nodes",
    "roads",
)
RASTERS = ("dem", "population", "landcover")
_GPKG = "layers.gpkg"
_TOML = "bundle.toml"
# Fixed GeoPackage timestamps make a bundle byte-identical for identical content.
_FIXED_DATE = "2000-01-01T00:00:00.000Z"


@dataclass(frozen=True)
class Provenance:
    """Where a layer comes from.

    Attributes
    ----------
    source : str
        Origin (file name, organisation, generator and seed).
    licence : str
        Licence of the data.
    synthetic : bool
        True for generated demonstration data.
    note : str
        Anything else a user must know (calibration target, vintage, caveats).
    """

    source: str
    licence: str = "unknown"
    synthetic: bool = False
    note: str = ""


@dataclass
class Bundle:
    """A province's data: vector layers, rasters, provenance, boundary vintage.

    Attributes
    ----------
    name : str
        Human-readable name.
    layers : dict of str to GeoDataFrame or DataFrame
        Keys from :data:`LAYER_ORDER`; EPSG:4326; ``cells`` is a plain table.
    rasters : dict of str to Raster
        ``dem`` (m) and ``population`` (persons per pixel), optional.
    provenance : dict of str to Provenance
        One entry per layer and raster.
    boundaries : str
        Boundary vintage of ``communes``: ``"2020"`` (151 units).
    meta : dict
        Free-form extra facts (seed, calibration), kept in ``bundle.toml`` under ``[meta]``.
    path : Path or None
        Folder it was loaded from.
    """

    name: str
    layers: dict[str, pd.DataFrame] = field(default_factory=dict)
    rasters: dict[str, Raster] = field(default_factory=dict)
    provenance: dict[str, Provenance] = field(default_factory=dict)
    boundaries: str = "2020"
    meta: dict = field(default_factory=dict)
    path: Path | None = None

    def __getattr__(self, item):
        # bundle.communes, bundle.sites … as shortcuts for layers/rasters (None when absent)
        if item in LAYER_ORDER:
            return self.layers.get(item)
        if item in RASTERS:
            return self.rasters.get(item)
        raise AttributeError(item)

    @property
    def synthetic(self) -> bool:
        """True if any layer or raster is synthetic."""
        return any(p.synthetic for p in self.provenance.values())


def validate(bundle: Bundle) -> Bundle:
    """Check every layer against its schema and the cross-layer references.

    Returns a new :class:`Bundle` with typed layers; raises :class:`~phusong.errors.DataError`
    (or a subclass) with a one-line message on the first problem.
    """
    if "communes" not in bundle.layers:
        raise DataError(f"bundle {bundle.name!r}: no communes layer; every bundle needs one")
    layers: dict[str, pd.DataFrame] = {}
    for name, df in bundle.layers.items():
        if name not in SCHEMAS:
            raise DataError(f"bundle {bundle.name!r}: unknown layer {name!r}; use {LAYER_ORDER}")
        if SCHEMAS[name].geometry is not None:
            require_crs(df, f"layer {name}")
            if not df.crs.equals(parse_crs(settings.STORE_CRS)):
                raise CRSError(f"layer {name}: stored in {df.crs.to_string()}; bundles store EPSG:4326")
        layers[name] = check_layer(df, name)
    codes = set(layers["communes"]["commune_code"])
    for name in ("villages",):
        if name in layers:
            _check_refs(layers[name], "commune_code", codes, name, "communes")
    if "cells" in layers:
        if "sites" not in layers:
            raise DataError("layer cells: no sites layer to refer to; add the sites")
        _check_refs(layers["cells"], "site_id", set(layers["sites"]["site_id"]), "cells", "sites")
    for name, r in bundle.rasters.items():
        if name not in RASTERS:
            raise DataError(f"bundle {bundle.name!r}: unknown raster {name!r}; use {RASTERS}")
        if not r.crs:
            raise CRSError(f"raster {name}: no CRS; name it when importing (--crs EPSG:…)")
        if r.array.ndim != 2 or r.array.size == 0:
            raise DataError(f"raster {name}: must be a non-empty 2-D grid")
    return Bundle(
        bundle.name,
        layers,
        dict(bundle.rasters),
        dict(bundle.provenance),
        bundle.boundaries,
        dict(bundle.meta),
        bundle.path,
    )


def fingerprint(bundle: Bundle) -> str:
    """A short stable identity of a bundle: name, provenance, layer sizes and ids.

    Outputs written from a bundle (plans, maps) record it, so a plan folder made from another
    bundle is detected. Returns 16 hex characters.
    """
    import hashlib

    h = hashlib.sha256(bundle.name.encode())
    for k in sorted(bundle.provenance):
        h.update(repr((k, asdict(bundle.provenance[k]))).encode())
    for name in sorted(bundle.layers):
        df = bundle.layers[name]
        h.update(f"{name}:{len(df)}".encode())
        idc = SCHEMAS[name].id_column if name in SCHEMAS else None
        if idc and idc in df.columns:
            h.update("\x1f".join(map(str, df[idc])).encode())
    for name in sorted(bundle.rasters):
        r = bundle.rasters[name]
        h.update(f"{name}:{r.shape}:{tuple(r.transform)}".encode())
    return h.hexdigest()[:16]


def _check_refs(df, column, allowed, layer, target) -> None:
    bad = ~df[column].isin(allowed)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"layer {layer}: row {row + 1}, {column} {df[column].iloc[row]!r} is not in "
            f"{target}; fix the reference or add it ({int(bad.sum())} row(s) affected)"
        )


def save_bundle(bundle: Bundle, path: str | Path, *, overwrite: bool = False,
                files: dict | None = None) -> Path:
    """Validate and write ``bundle`` to the folder ``path`` atomically.

    Parameters
    ----------
    bundle : Bundle
        The data.
    path : str or Path
        Target folder; an existing one is refused unless ``overwrite``.
    overwrite : bool
        Replace an existing folder (only once the new one is complete).
    files : dict, optional
        Extra files copied in, relative path in the bundle → source file (e.g.
        ``{"antennas/panel.msi": Path("panel.msi")}``).

    Returns
    -------
    Path
        The folder written.
    """
    bundle = validate(bundle)
    target = Path(path)
    with atomic_dir(target, overwrite=overwrite) as tmp:
        gpkg = tmp / _GPKG
        previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": _FIXED_DATE})
        try:
            for name in LAYER_ORDER:
                if name in bundle.layers:
                    write_gpkg(bundle.layers[name], gpkg, layer=name)
        finally:
            pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})
        for name, r in bundle.rasters.items():
            write_raster(r, tmp / f"{name}.tif")
        doc = {
            "name": bundle.name,
            "format_version": 1,
            "boundaries": bundle.boundaries,
            "crs": {"store": settings.STORE_CRS, "work": settings.WORK_CRS},
            "layers": sorted(bundle.layers, key=LAYER_ORDER.index),
            "rasters": sorted(bundle.rasters),
            "provenance": {k: asdict(v) for k, v in sorted(bundle.provenance.items())},
            "meta": bundle.meta,
        }
        (tmp / _TOML).write_text(tomli_w.dumps(doc), encoding="utf-8")
        for rel, src in (files or {}).items():
            dst = tmp / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
    return target


def load_bundle(path: str | Path) -> Bundle:
    """Read and validate a bundle folder written by :func:`save_bundle`.

    Raises
    ------
    InputFileError
        No such folder or no ``bundle.toml``.
    DataError
        A layer breaks its schema (message names layer, row and column).
    """
    p = Path(path)
    if not (p / _TOML).is_file():
        raise InputFileError(
            f"{p}: not a phusong bundle (no {_TOML}); build one with 'phusong data import' "
            "or 'phusong twin build'"
        )
    try:
        doc = tomllib.loads((p / _TOML).read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise FormatError(f"{p / _TOML}: unreadable ({exc})") from None
    layers: dict[str, pd.DataFrame] = {}
    for name in doc.get("layers", []):
        if SCHEMAS.get(name) is None:
            raise DataError(f"{p / _TOML}: unknown layer {name!r}")
        if SCHEMAS[name].geometry is None:
            df = pyogrio.read_dataframe(p / _GPKG, layer=name, read_geometry=False)
        else:
            df = pyogrio.read_dataframe(p / _GPKG, layer=name)
        layers[name] = df
    rasters = {name: read_raster(p / f"{name}.tif") for name in doc.get("rasters", [])}
    prov = {k: Provenance(**v) for k, v in doc.get("provenance", {}).items()}
    b = Bundle(
        doc.get("name", p.name),
        layers,
        rasters,
        prov,
        str(doc.get("boundaries", "2020")),
        doc.get("meta", {}),
        p,
    )
    return validate(b)
