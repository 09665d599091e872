"""A service for every village at the end of every plan year, or the reason there is none.

Order of preference: ``fibre`` (within reach along roads), ``5G``, ``4G``, then ``3G``/``2G``
while they are on air (:func:`phusong.settings.on_air`). A village none of them serves gets a
**fallback** when no terrestrial action of the year could reach it — no candidate site covers
it and no road takes the fibre there — priced by :func:`phusong.planning.fallback.fallback_options`
(a small cell with a microwave hop to a site in line of sight, or satellite terminals); its cost
is counted the first year it is assigned. A village a candidate could serve but the money did
not reach gets ``none`` with the reason ``not funded``. ``action_id`` names the plan action that
brought the service (a candidate id, ``F{year}`` for fibre, ``fallback``) or ``existing``.

**Unknown** (a plan stopped by its time limit, issue 18): when the time limit came before the
existing fibre's reach was measured, no village's best service is known — each is ``unknown``
(its reason says so, and names the mobile service on air, a lower bound); a village the
existing network's scoring did not reach and nothing else serves is ``unknown`` too, never
``none``, ``not funded`` or a fallback. Without a limit no village is ``unknown``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from phusong import settings
from phusong.crs import to_work

__all__ = ["village_services", "SERVICES", "UNKNOWN"]

#: Services in order of preference.
SERVICES = ("fibre", "5G", "4G", "3G", "2G", "fallback", "none")
#: The service of a village the plan could not judge within its time limit (module doc).
UNKNOWN = "unknown"


def _first_cover(cov: dict, chosen: np.ndarray, cands, techs) -> dict:
    """Village row → id of the first chosen candidate (rank order) covering it for ``techs``."""
    out: dict = {}
    for j in chosen:
        for t in techs:
            if t not in cov or f"{t}:" not in str(cands["bands"].iloc[j]):
                continue
            col = cov[t].getcol(int(j)).tocoo().row
            for r in col:
                out.setdefault(int(r), cands["candidate_id"].iloc[j])
    return out


def _hubs(bundle, tower_height_m: float):
    sites = to_work(bundle.sites, "sites") if bundle.sites is not None and len(bundle.sites) \
        else None
    if sites is None:
        return np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0, dtype=object)
    return (sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy(),
            pd.to_numeric(sites["height_m"], errors="coerce").fillna(
                tower_height_m).to_numpy(float),
            sites["site_id"].astype(str).to_numpy())


def _not_known(ctx, service: np.ndarray, reason: np.ndarray) -> np.ndarray:
    """Villages whose service is unknown (module doc), their reasons written."""
    if not getattr(ctx, "fibre_known", True):
        unk = np.ones(len(service), bool)
        why = "fibre reach not measured (time limit reached)"
        reason[unk] = np.where(service == "none", why, why + "; on air: " + service)
        return unk
    unscored = getattr(ctx, "unscored", None)
    if unscored is None:
        return np.zeros(len(service), bool)
    unk = (service == "none") & np.asarray(unscored, bool)
    reason[unk] = "mobile coverage not scored (time limit reached)"
    return unk


def village_services(ctx, res, on_air_cov: pd.DataFrame, fib: np.ndarray, lost_fibre: np.ndarray,
                     previous: pd.DataFrame | None) -> pd.DataFrame:
    """One row per village: ``service``, ``action_id``, ``cost_vnd``, ``reason`` (module doc).

    Parameters
    ----------
    ctx : Context
        The plan context (villages, households).
    res : YearResult
        The year (candidates, coverage per technology, chosen actions, grown network).
    on_air_cov : DataFrame
        Village coverage with the year's switch-offs applied.
    fib : ndarray of bool
        Fibre within reach after the year.
    lost_fibre : ndarray of bool
        Villages no road takes the fibre to (not within reach and off the routable graph).
    previous : DataFrame or None
        The previous year's services (a fallback is paid once).
    """
    from phusong.planning.fallback import fallback_options

    n = len(ctx.villages)
    service = np.full(n, "none", dtype=object)
    action = np.full(n, "", dtype=object)
    reason = np.full(n, "", dtype=object)
    cost = np.zeros(n)
    before = ctx.fibre0 if previous is None else (previous["service"].to_numpy() == "fibre")
    service[fib] = "fibre"
    action[fib] = np.where(before[fib] | ctx.fibre0[fib], "existing", f"F{res.year}")
    first = _first_cover(res.coverage, res.chosen, res.candidates, ("5G", "4G"))
    for tech in ("5G", "4G", "3G", "2G"):
        col = f"covered_{tech}"
        if col not in on_air_cov or not settings.on_air(tech, res.year):
            continue
        m = (service == "none") & on_air_cov[col].fillna(False).astype(bool).to_numpy()
        service[m] = tech
        action[m] = [first.get(int(i), "existing") for i in np.flatnonzero(m)]
    unk = _not_known(ctx, service, reason)
    service[unk] = UNKNOWN
    action[unk] = ""
    reach = np.zeros(n, bool)
    for m in res.coverage.values():
        reach |= np.asarray(m.sum(axis=1)).ravel() > 0
    left = service == "none"
    funded_not = left & (reach | ~lost_fibre)
    reason[funded_not] = "not funded: " + np.where(reach[funded_not], "a candidate site covers it",
                                                   "the fibre can reach it along roads")
    fb = left & ~reach & lost_fibre
    if fb.any():
        v = ctx.villages[fb]
        x, y, h, sid = _hubs(res.after.bundle, ctx.scenario.config.radio.tower_height_m)
        opt = fallback_options(v.geometry.x.to_numpy(), v.geometry.y.to_numpy(), ctx.hh[fb], x, y,
                               h, sid, res.after.bundle.dem, costs=ctx.scenario.costs,
                               k_factor=ctx.scenario.config.radio.k_factor)
        service[fb] = "fallback"
        action[fb] = "fallback: " + opt["fallback"].astype(str).to_numpy()
        off = ~opt["in_dem"].to_numpy(bool)
        why = np.where(off, "outside the DEM", "no candidate covers it")
        reason[fb] = why + "; no road to the fibre; " + opt["reason"].astype(str).to_numpy()
        paid = np.zeros(int(fb.sum()), bool) if previous is None else \
            (previous["service"].to_numpy()[fb] == "fallback")
        cost[fb] = np.where(paid, 0.0, opt["fallback_cost_vnd"].to_numpy(float))
    return pd.DataFrame({"village_id": ctx.ids.to_numpy(),
                         "commune_code": ctx.villages["commune_code"].to_numpy(),
                         "households": ctx.hh, "population": ctx.pop, "service": service,
                         "action_id": action, "cost_vnd": cost, "reason": reason})
