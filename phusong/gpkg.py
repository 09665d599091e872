"""GeoPackage writing in a version every QGIS still in use reads cleanly.

GDAL ≥ 3.9 (the wheels' pyogrio) writes GeoPackage 1.4 by default; QGIS 3.22 LTR (Debian 12)
opens such files with "This version of GeoPackage user_version=0x000028A0 (10400, v1.4.0) …
may only be partially supported". Every GeoPackage phusong writes goes through
:func:`write_gpkg`, which asks GDAL for version 1.2 (the ``VERSION`` dataset creation option);
nothing phusong writes needs a 1.3/1.4 feature.

Examples
--------
>>> import tempfile, pathlib, geopandas as gpd, pyogrio
>>> from shapely.geometry import Point
>>> from phusong.gpkg import write_gpkg
>>> p = pathlib.Path(tempfile.mkdtemp()) / "a.gpkg"
>>> write_gpkg(gpd.GeoDataFrame({"name": ["Hòa Bình"]}, geometry=[Point(105.3, 20.8)],
...                             crs="EPSG:4326"), p, layer="a")
>>> pyogrio.read_dataframe(p, layer="a")["name"].tolist()
['Hòa Bình']
"""

from __future__ import annotations

from pathlib import Path

import pyogrio

__all__ = ["GPKG_VERSION", "write_gpkg"]

#: GeoPackage version written (GDAL ``VERSION`` creation option).
GPKG_VERSION = "1.2"


def write_gpkg(gdf, path: str | Path, *, layer: str, append: bool = False, **kwargs) -> None:
    """Write one layer of a GeoPackage (version :data:`GPKG_VERSION` when the file is created).

    Parameters
    ----------
    gdf : GeoDataFrame
        The layer.
    path : str or Path
        The ``.gpkg`` file; further layers are added to an existing file.
    layer : str
        Layer name.
    append : bool
        Append features to an existing layer of that name.
    **kwargs
        Passed to :func:`pyogrio.write_dataframe` (e.g. ``geometry_type``).
    """
    pyogrio.write_dataframe(gdf, path, layer=layer, driver="GPKG", append=append,
                            dataset_options={"VERSION": GPKG_VERSION}, **kwargs)
