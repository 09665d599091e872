"""Calibration by selection on a coverage matrix (private helper of :mod:`phusong.twin.sites`).

Every function works on boolean ``villages × candidates`` matrices (scipy CSC) computed once by
the coverage engine, so the coverage of any subset of candidates is known exactly without
re-running the engine: a village is covered by a set of transmitters if any of their columns has
it. Selection is deterministic given the priority order.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

__all__ = ["Columns", "select_positions", "assign_tech", "covered_by"]


class Columns:
    """Fast column access to a boolean sparse matrix (villages × candidates)."""

    def __init__(self, m: sparse.spmatrix):
        m = sparse.csc_matrix(m, dtype=bool)
        m.eliminate_zeros()
        m.sort_indices()
        self.n_rows, self.n_cols = m.shape
        self.indptr, self.indices = m.indptr, m.indices

    def rows(self, j: int) -> np.ndarray:
        """Villages covered by candidate ``j``."""
        return self.indices[self.indptr[j] : self.indptr[j + 1]]

    def gains(self, covered: np.ndarray, cols=None) -> np.ndarray:
        """Number of not-yet-covered villages each candidate (or ``cols``) would add."""
        unc = (~covered).astype(np.int64)
        cols = np.arange(self.n_cols) if cols is None else np.asarray(cols)
        hit = np.add.reduceat(np.r_[unc[self.indices], 0], self.indptr[:-1])
        hit[self.indptr[:-1] == self.indptr[1:]] = 0
        return hit[cols]


def covered_by(cols: Columns, chosen) -> np.ndarray:
    """Boolean coverage of the villages by the candidates ``chosen``."""
    out = np.zeros(cols.n_rows, bool)
    for j in chosen:
        out[cols.rows(int(j))] = True
    return out


def select_positions(cols: Columns, *, mandatory, priority, n_sites: int,
                     target_uncovered: int, protect=None) -> tuple[list[int], list[int]]:
    """Choose ``n_sites`` candidates leaving about ``target_uncovered`` villages uncovered.

    1. ``mandatory`` candidates (commune-centre sites) are taken first.
    2. Greedy maximal covering: the candidate adding most villages is added (ties: earlier in
       ``priority``), but never one that would overshoot the target when a smaller useful gain
       exists; stops when at most ``target_uncovered`` villages remain uncovered.
    3. The remaining sites are *densification*: candidates adding no village at all (their whole
       footprint is already covered), in ``priority`` order — towers operators add for capacity
       and for their own coverage where another operator is already present.

    Parameters
    ----------
    cols : Columns
        Any-technology coverage of each candidate.
    mandatory : sequence of int
        Candidates that must be chosen.
    priority : ndarray of int
        Candidate order (most wanted first).
    n_sites : int
        Number of candidates to choose.
    target_uncovered : int
        Villages to leave uncovered.
    protect : ndarray of bool, optional
        Villages that must be covered (commune centres): they are covered first.

    Returns
    -------
    (coverage_sites, densification_sites)
        Lists of candidate indices (mandatory and greedy picks first).
    """
    rank = np.empty(cols.n_cols, np.int64)
    rank[np.asarray(priority)] = np.arange(cols.n_cols)
    chosen = list(dict.fromkeys(int(j) for j in mandatory))
    covered = covered_by(cols, chosen)
    taken = np.zeros(cols.n_cols, bool)
    taken[chosen] = True
    if protect is not None:
        for v in np.flatnonzero(protect & ~covered):
            who = [j for j in range(cols.n_cols) if not taken[j] and v in set(cols.rows(j))]
            if who:
                j = min(who, key=lambda k: rank[k])
                chosen.append(j)
                taken[j] = True
                covered[cols.rows(j)] = True
    while len(chosen) < n_sites:
        need = int((~covered).sum()) - target_uncovered
        if need <= 0:
            break
        g = cols.gains(covered)
        g[taken] = 0
        if g.max() == 0:
            break
        fit = np.flatnonzero((g > 0) & (g <= need))
        if fit.size:
            best = fit[g[fit] == g[fit].max()]
        else:
            pos = np.flatnonzero(g > 0)
            best = pos[g[pos] == g[pos].min()]
        j = int(best[np.argmin(rank[best])])
        chosen.append(j)
        taken[j] = True
        covered[cols.rows(j)] = True
    g = cols.gains(covered)
    free = [int(j) for j in priority if not taken[j] and g[j] == 0]
    dense = free[: max(0, n_sites - len(chosen))]
    if len(chosen) + len(dense) < n_sites:  # not enough neutral candidates: least harm next
        rest = [int(j) for j in priority if not taken[j] and g[j] > 0]
        rest.sort(key=lambda j: (g[j], rank[j]))
        dense += rest[: n_sites - len(chosen) - len(dense)]
    return chosen, dense


def assign_tech(cols: Columns, *, order, quota: int, target_covered: int,
                must=()) -> list[int]:
    """Choose which sites carry one technology so that it covers ≈ ``target_covered`` villages.

    Sites are visited in ``order`` (roll-out order: towns and demand first); a site gets the
    technology while the coverage stays at or below the target, or when it adds nothing (a
    capacity layer where the technology is already present), until ``quota`` sites carry it.
    If the target is not reached after the scan, the sites adding most coverage are added
    (beyond the quota) until it is.

    Parameters
    ----------
    cols : Columns
        Coverage of each site by this technology (villages × sites).
    order : sequence of int
        Visit order.
    quota : int
        Number of sites wanted.
    target_covered : int
        Villages to cover.
    must : sequence of int
        Sites that carry it whatever happens.

    Returns
    -------
    list of int
        Sites carrying the technology, in the order chosen.
    """
    chosen = list(dict.fromkeys(int(j) for j in must))
    covered = covered_by(cols, chosen)
    have = set(chosen)
    n_cov = int(covered.sum())
    for j in order:
        j = int(j)
        if len(chosen) >= quota:
            break
        if j in have:
            continue
        r = cols.rows(j)
        g = int((~covered[r]).sum())
        if g == 0 or n_cov + g <= target_covered:
            chosen.append(j)
            have.add(j)
            covered[r] = True
            n_cov += g
    while n_cov < target_covered:
        g = cols.gains(covered)
        g[list(have)] = 0
        if g.max() == 0:
            break
        need = target_covered - n_cov
        fit = np.flatnonzero((g > 0) & (g <= need))
        j = int(fit[np.argmax(g[fit])]) if fit.size else int(np.flatnonzero(g == g[g > 0].min())[0])
        chosen.append(j)
        have.add(j)
        covered[cols.rows(j)] = True
        n_cov = int(covered.sum())
    return chosen
