"""The fallback on the twin: a hamlet no terrestrial action reaches gets a costed fallback.

On the twin as built every village lies on a road joined to the fibre, so the plan always has a
terrestrial option and the fallback never shows (issue 12's closing note). Here a hamlet is added
to Cao Phong (district 154) where nothing reaches it: more than the fibre reach from every road
node, and in a spot the existing network does not cover (found on a grid with the real coverage
engine, ITM on the twin's DEM). The scenario offers upgrades only (``max_new_sites = 0``, a
planner's "no new towers" policy), so no candidate covers it either.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from phusong import settings
from phusong.bundle import validate
from phusong.crs import to_work
from phusong.planning import _plan_deps as deps
from phusong.planning.plan import make_plan
from phusong.planning.scenario import scenario_from_dict

pytestmark = pytest.mark.slow

#: Farther than this from every road node, no road takes the fibre to the hamlet (m): the
#: plan's reach (500 m) with a margin for the snap to the nearest edge.
OFF_ROAD_M = 900.0


def _hamlet_spot(bundle):
    """A point of a district-154 commune, off every road and outside today's coverage."""
    communes = to_work(bundle.communes, "communes")
    graph = deps.road_graph(bundle.roads)
    x0, y0, x1, y1 = communes.total_bounds
    gx, gy = np.meshgrid(np.arange(x0, x1, 400.0), np.arange(y0, y1, 400.0))
    pts = shapely.points(gx.ravel(), gy.ravel())
    inside = communes.sindex.query(pts, predicate="within")
    hit = np.unique(inside[0])
    _, off = deps.snap_points(graph, gx.ravel()[hit], gy.ravel()[hit])
    keep = hit[off > OFF_ROAD_M]
    assert len(keep), "no off-road point in the district"
    probe = gpd.GeoDataFrame({"village_id": [f"p{i}" for i in keep], "commune_code": "x",
                              "households": 1, "population": 1},
                             geometry=pts[keep], crs=settings.WORK_CRS)
    b = validate(bundle)
    b.layers["villages"] = probe.to_crs(settings.STORE_CRS)
    cov = deps.score_villages(b, model="itm")
    dark = keep[~cov["covered_any"].to_numpy(bool)]
    assert len(dark), "every off-road point is covered today"
    i = int(dark[0])
    commune = communes.iloc[int(inside[1][np.flatnonzero(inside[0] == i)[0]])]
    return pts[i], commune["commune_code"]


@pytest.fixture(scope="module")
def twin_with_hamlet():
    from phusong.twin import build_twin

    b = build_twin(seed=0, districts=["154"])
    at, code = _hamlet_spot(b)
    hamlet = gpd.GeoDataFrame({"village_id": ["HAMLET"], "commune_code": [code],
                               "name": ["Xóm Khe Sâu"], "households": [14],
                               "population": [55], "is_centre": [False]},
                              geometry=[at], crs=settings.WORK_CRS).to_crs(settings.STORE_CRS)
    b.layers["villages"] = gpd.GeoDataFrame(pd.concat([b.villages, hamlet], ignore_index=True),
                                            crs=settings.STORE_CRS)
    return validate(b)


def test_a_hamlet_no_terrestrial_action_reaches_gets_a_costed_fallback(twin_with_hamlet):
    s = scenario_from_dict({"model": "itm",
                            "candidates": {"max_new_sites": 0}})
    p = make_plan(twin_with_hamlet, scenario=s)
    v = p.villages.set_index(["year", "village_id"])
    first = v.loc[(s.years[0], "HAMLET")]
    assert first["service"] == "fallback"
    assert first["action_id"] in ("fallback: satellite", "fallback: small cell + microwave")
    # the reason says why no terrestrial action serves it, and which fallback was priced
    assert first["reason"].startswith("no candidate covers it; no road to the fibre; ")
    assert first["cost_vnd"] > 0
    # costed once: the first year pays it, the next keeps the service at no new cost
    later = v.loc[(s.years[-1], "HAMLET")]
    assert later["service"] == "fallback" and later["cost_vnd"] == 0.0
    y0 = p.years[0]
    assert y0["spent_vnd"]["fallback"] >= first["cost_vnd"]
    assert y0["services"]["fallback"]["villages"] >= 1
    # every village of every year has a service or a reason
    assert ((p.villages["service"] != "none") | (p.villages["reason"] != "")).all()
