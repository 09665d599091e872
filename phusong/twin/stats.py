"""Calibration figures of a bundle next to the published values they are fitted to (FACTS §1).

:func:`twin_stats` recomputes every figure from the bundle itself — coverage with the engine
(:func:`phusong.coverage.score_villages`), fibre availability with
:func:`phusong.network.reach.fibre_available` — so it checks a saved twin, not the numbers the
generator believed. It works on any bundle (a real one too); the published values are Plan 785's
for Hòa Bình, scaled for a partial twin by ``meta["targets"]``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from phusong import settings
from phusong.communes import commune_facts
from phusong.site_communes import communes_with_site
from phusong.twin.build import LABEL
from phusong.twin.fibre import AVAILABLE_HOUSEHOLDS_PCT, PLAN785_CABLE_KM, fibre_figures
from phusong.twin.roads import centre_villages
from phusong.twin.sites import CALIBRATION

__all__ = ["twin_stats", "TOLERANCES"]

#: Allowed deviation of each calibrated figure (absolute, in the figure's unit; ``rel_`` = share
#: of the published value). Village percentages from the issue; counts ±1 %.
TOLERANCES = {
    "sites": ("rel", 0.01),
    "cells": ("rel", 0.01),
    "communes": ("abs", 0.0),
    "communes_with_site": ("abs", 0.0),
    "sites_outside_communes": ("abs", 0.0),
    "villages_any_mobile_pct": ("abs", 0.3),
    "villages_3g_pct": ("abs", 2.0),
    "villages_4g_pct": ("abs", 2.0),
    "villages_5g_pct": ("abs", 0.0),
    "commune_centres_mobile_pct": ("abs", 0.0),
    "commune_centres_fibre_pct": ("abs", 0.0),
    "households_fibre_available_pct": ("abs", 2.0),
    "population": ("abs", 0.0),
    "households": ("abs", 0.0),
    "cable_km": ("rel", 0.35),
}


def twin_stats(bundle, *, model: str | None = None, scores: pd.DataFrame | None = None) -> dict:
    """Every calibration figure of ``bundle`` with its published value and tolerance.

    Parameters
    ----------
    bundle : phusong.bundle.Bundle
        A twin (or any bundle with communes, villages, sites, cells, dem; fibre and roads
        optional).
    model : str, optional
        Propagation model; default the one the twin was calibrated to (``meta["model"]``) or
        ``settings.DEFAULT_MODEL``.
    scores : DataFrame, optional
        A :func:`~phusong.coverage.score_villages` result to reuse instead of recomputing.

    Returns
    -------
    dict
        ``{"figures": [{"name", "published", "target", "value", "tolerance", "ok", "unit",
        "note"}, …], "synthetic": bool, "label": {"vi", "en"}, "model": str, "all_ok": bool}``.
        ``ok`` is ``|value − target| ≤ tolerance`` (``target`` = ``published`` except where the
        note says how it derives from it); figures without a published value have ``ok`` None.
    """
    from phusong.coverage import score_villages
    from phusong.network.reach import fibre_available

    meta = bundle.meta or {}
    model = model or meta.get("model") or settings.DEFAULT_MODEL
    tg = dict(meta.get("targets") or {})
    villages, communes = bundle.villages, bundle.communes
    if scores is None:
        scores = score_villages(bundle, model=model)
    hh = villages["households"].to_numpy(float)
    centres = villages["village_id"].isin(set(centre_villages(villages).village_id)).to_numpy()
    cells = bundle.cells
    # Plan 785's BTS is one (site, technology) radio unit; its sectors are rows of ``cells``
    sectors = cells[cells["tech"].isin(["2G", "3G", "4G"])]
    bts = sectors.drop_duplicates(["site_id", "tech"])
    with_site, outside = communes_with_site(communes, bundle.sites)
    facts = commune_facts().set_index("commune_code")
    known = communes["commune_code"].isin(facts.index)
    pop_pub = int(tg.get("population", facts.loc[communes.commune_code[known], "population"].sum()))
    hh_pub = int(tg.get("households", facts.loc[communes.commune_code[known], "households"].sum()))
    n_communes = int(tg.get("communes", len(communes)))
    fig: list[dict] = []
    scaled = " (scaled to the districts built)" if float(meta.get("scale", 1.0)) < 1.0 else ""

    def add(name, published, value, *, unit="", note="", target=None):
        tgt = published if target is None else target
        kind, tol = TOLERANCES.get(name, (None, None))
        tolerance = None if kind is None or tgt is None else (
            tol * abs(tgt) if kind == "rel" else tol)
        ok = None if tolerance is None else bool(abs(value - tgt) <= tolerance + 1e-9)
        fig.append({"name": name, "published": published, "target": tgt,
                    "value": _round(value), "tolerance": _round(tolerance), "ok": ok,
                    "unit": unit, "note": note})

    add("sites", tg.get("sites", CALIBRATION["sites"]), len(bundle.sites), unit="sites",
        note="Plan 785 §2.1" + scaled)
    add("cells", tg.get("bts", CALIBRATION["bts"]), len(bts), unit="BTS",
        note="BTS = one (site, technology) radio unit, 2G+3G+4G, whatever its number of "
             "sectors" + scaled)
    add("sector_cells", None, len(sectors), unit="cells",
        note="rows of cells (sectors) of those BTS: "
             f"{len(sectors) / max(len(bts), 1):.2f} per BTS")
    add("communes", n_communes, len(communes), unit="communes")
    add("communes_with_site", n_communes, with_site, unit="communes",
        note="every commune has ≥ 1 BTS site (Plan 785); a site counts in the commune "
             "holding it")
    add("sites_outside_communes", 0, len(outside), unit="sites",
        note="sites inside no commune polygon" + (f": {', '.join(outside[:10])}"
                                                  + (" …" if len(outside) > 10 else "")
                                                  if outside else ""))
    # villages whose coverage is unknown (off the DEM, flagged paths) are not counted uncovered:
    # the village percentages are over the villages whose coverage is known
    unknown = (scores["unknown"].to_numpy(bool) if "unknown" in scores
               else np.zeros(len(scores), bool))
    known = scores[~unknown]
    add("villages_unknown", None, int(unknown.sum()), unit="villages",
        note="coverage unknown (off the DEM or behind a flagged DEM void); left out of the "
             "village percentages")
    add("villages_any_mobile_pct", CALIBRATION["villages_any_mobile_pct"],
        100.0 * known["covered_any"].mean(), unit="%", note=f"model {model}")
    add("villages_3g_pct", CALIBRATION["villages_3g_pct"], 100.0 * known["covered_3G"].mean(),
        unit="%", note=f"model {model}")
    add("villages_4g_pct", CALIBRATION["villages_4g_pct"], 100.0 * known["covered_4G"].mean(),
        unit="%", note=f"model {model}")
    five = 100.0 * known["covered_5G"].mean() if "covered_5G" in known else 0.0
    if meta.get("variant", "2022") == "2022":
        add("villages_5g_pct", 0.0, five, unit="%", note="no 5G in the 2022 baseline")
    else:
        add("villages_5g_pct", None, five, unit="%", note="2024–26 roll-out (not calibrated)")
    add("commune_centres_mobile_pct", CALIBRATION["commune_centres_mobile_pct"],
        100.0 * scores["covered_any"].to_numpy()[centres & ~unknown].mean(), unit="%")
    if bundle.fibre is not None and len(bundle.fibre):
        avail = fibre_available(bundle).reindex(villages["village_id"]).fillna(False).to_numpy()
        add("commune_centres_fibre_pct", 100.0, 100.0 * avail[centres].mean(), unit="%",
            note="fibre to 151/151 commune centres (Plan 785)")
        pct = 100.0 * hh[avail].sum() / hh.sum()
        add("households_fibre_available_pct", 54.0, pct, unit="%",
            target=AVAILABLE_HOUSEHOLDS_PCT,
            note=f"published: 54 % of households subscribe; target {AVAILABLE_HOUSEHOLDS_PCT:g} % "
                 f"available (≈ 80 % take-up); gap to the 2025 target of 80 %: "
                 f"{max(0.0, 80.0 - pct):.1f} points")
        ff = fibre_figures(bundle.fibre)
        add("route_km", None, ff["route_km"], unit="km", note="road length carrying fibre")
        add("cable_km", tg.get("cable_km", PLAN785_CABLE_KM), ff["cable_km"], unit="km",
            note="route-km × cables per span; Plan 785's total also counts in-village "
                 "distribution and drop cable (≈ 2,400 km) the twin does not draw" + scaled)
    add("population", pop_pub, int(villages["population"].sum()), unit="persons",
        note="census 2019, summed over villages")
    add("households", hh_pub, int(villages["households"].sum()), unit="households",
        note="census 2019, summed over villages")
    for tech in ("2G", "3G", "4G", "5G"):
        add(f"bts_{tech.lower()}", None, int(cells.loc[cells["tech"] == tech, "site_id"].nunique()),
            unit="BTS")
    ok = [f["ok"] for f in fig if f["ok"] is not None]
    return {"figures": fig, "synthetic": bool(bundle.synthetic), "label": dict(LABEL),
            "model": model, "all_ok": bool(all(ok))}


def _round(value):
    if value is None:
        return None
    v = float(value)
    return int(v) if v.is_integer() else round(v, 3)
