"""Which commune holds each existing site: the point-in-polygon rule shared by ``twin stats``
and the plan (issue 18: a site outside every commune is reported, never joined to the nearest).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np

from phusong import settings

__all__ = ["communes_with_site"]


def communes_with_site(communes, sites) -> tuple[int, list[str]]:
    """Communes holding at least one site, and the sites inside no commune (ids).

    A site is counted only in the commune whose polygon holds it (a site on a shared border
    counts for each); a site outside every commune counts for none and is reported.

    Parameters
    ----------
    communes : GeoDataFrame
        ``commune_code`` and polygons, any CRS.
    sites : GeoDataFrame or None
        Points, any CRS; ids from ``site_id`` (row numbers without it).

    Returns
    -------
    tuple of (int, list of str)
        Number of communes with ≥ 1 site; sorted ids of the sites inside no commune.
    """
    if sites is None or len(sites) == 0:
        return 0, []
    c = communes[["commune_code", "geometry"]].to_crs(settings.WORK_CRS)
    ids = (sites["site_id"].astype(str).to_numpy() if "site_id" in sites.columns
           else np.arange(len(sites)).astype(str))
    s = gpd.GeoDataFrame({"_sid": ids}, geometry=sites.geometry.to_numpy(),
                         crs=sites.crs).to_crs(settings.WORK_CRS)
    j = gpd.sjoin(s, c, how="left", predicate="intersects")
    outside = sorted(set(j.loc[j["commune_code"].isna(), "_sid"]))
    return int(j["commune_code"].dropna().nunique()), outside
