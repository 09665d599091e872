"""One HiGHS call through ``highspy`` (the HiGHS team's bindings), bounded by a wall-clock
deadline (private).

Why not ``scipy.optimize.milp``: scipy hands HiGHS its ``time_limit`` and nothing else, and
HiGHS checks that limit only between some of its phases. On the benchmark's 20,000 × 1,000 × 30
maximal-covering model a MILP given 0.5 s returned after 1.75 s: presolve (1.8 s, which removes
nothing from a model :func:`~phusong.planning._siting_core.reduce_problem` has already reduced)
and the feasibility-jump heuristic never look at the clock, and the root LP by dual simplex took
13 s. Here every MILP runs

* without HiGHS's presolve (the model is reduced before it gets here),
* without the feasibility-jump heuristic (the caller's incumbent is passed as a start),
* with the root LP by interior point (3.1 s instead of 13 s on that model),
* with HiGHS's ``time_limit`` *and* the simplex/IPM/MIP interrupt callbacks checking the
  caller's deadline, so the call ends at the first of HiGHS's own checks past it.

Measured on that model (HiGHS alone, 2 cores at load 8-10): 0.5, 1, 2 s limits returned after
0.54, 1.02, 2.04 s (through scipy: 1.75, 1.45, 2.33 s); the whole
:meth:`~phusong.planning.siting.MaximalCovering.solve` (``benchmarks/bench_time_limit.py``,
5 runs, min/median/max): 1 s → 1.08/1.09/1.14 s, 1.5 s → 1.54/1.55/1.56 s, 2.5 s →
2.53/2.56/2.61 s; without a limit it is solved to proven optimality in 3.5 s (scipy's path:
22 s, the LP bound then the MILP's root LP, each 13 s by dual simplex). The incumbent enters
as a MIP start (``setSolution``), so HiGHS returns it, or something better, with a valid dual
bound: certified gaps survive a cut.

HiGHS prints nothing (``output_flag`` off); the call still runs inside
:func:`~phusong.planning._solver_stdout.solver_stdout_to_stderr` so that no C++ diagnostic can
reach stdout (``phusong plan --json`` prints one JSON document there).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp

from phusong.planning._solver_stdout import solver_stdout_to_stderr

__all__ = ["HighsOutcome", "solve_highs"]

_MS = highspy.HighsModelStatus
_STOPPED = {_MS.kTimeLimit, _MS.kInterrupt}


@dataclass
class HighsOutcome:
    """What HiGHS returned.

    Attributes
    ----------
    x : numpy.ndarray or None
        Primal values (None when HiGHS has none).
    objective : float
        Objective of ``x`` (minimisation; inf without ``x``).
    bound : float
        Valid lower bound on the minimum (the MIP dual bound, or the LP optimum); -inf unknown.
    optimal : bool
        HiGHS proved ``x`` optimal (within ``mip_rel_gap`` for a MILP).
    infeasible : bool
        HiGHS proved the model infeasible.
    timed_out : bool
        Stopped by the deadline (HiGHS's time limit or the interrupt callback).
    status : str
        HiGHS's model status in words.
    """

    x: np.ndarray | None
    objective: float
    bound: float
    optimal: bool
    infeasible: bool
    timed_out: bool
    status: str


def _model(c, M: sp.csr_matrix, lo, hi, integer: np.ndarray | None, inf: float) -> highspy.HighsLp:
    A = sp.csc_matrix(M)
    A.sort_indices()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = A.shape[1], A.shape[0]
    lp.col_cost_ = np.asarray(c, dtype=np.float64)
    lp.col_lower_ = np.zeros(A.shape[1])
    lp.col_upper_ = np.ones(A.shape[1])
    lp.row_lower_ = np.where(np.isfinite(lo), lo, -inf).astype(np.float64)
    lp.row_upper_ = np.where(np.isfinite(hi), hi, inf).astype(np.float64)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(np.float64)
    if integer is not None:
        vt = highspy.HighsVarType
        lp.integrality_ = [vt.kInteger if f else vt.kContinuous for f in integer]
    return lp


def solve_highs(c, M: sp.csr_matrix, lo, hi, *, integer: np.ndarray | None = None,
                start: np.ndarray | None = None, deadline: float = math.inf,
                options: dict | None = None) -> HighsOutcome:
    """Minimise ``c·x`` subject to ``lo ≤ M x ≤ hi``, ``0 ≤ x ≤ 1`` (``integer`` columns 0/1).

    Parameters
    ----------
    c, M, lo, hi
        Objective, constraint matrix (any scipy.sparse) and row bounds (±inf: free).
    integer : numpy.ndarray of bool, optional
        Integer columns (a MILP; None: an LP).
    start : numpy.ndarray, optional
        A feasible point given to the MILP as its start (the caller's incumbent).
    deadline : float
        ``time.perf_counter()`` value past which HiGHS is stopped (inf: no limit).
    options : dict, optional
        Further HiGHS options (``mip_rel_gap``, ``mip_max_nodes``, ``solver`` …).
    """
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(_model(c, M, lo, hi, integer, h.getInfinity()))
    if time.perf_counter() >= deadline:  # the model's build used the time up: not started
        # (HiGHS's first checkpoint may come 0.3-0.45 s into its run on 40,000 rows)
        return HighsOutcome(None, math.inf, -math.inf, False, False, True,
                            "Time limit reached (not started)")
    opts = dict(options or {})
    if integer is not None:
        opts = {"presolve": "off", "mip_heuristic_run_feasibility_jump": False,
                "mip_lp_solver": "ipm", **opts}
    for k, v in opts.items():
        h.setOptionValue(k, v)
    if math.isfinite(deadline):
        h.setOptionValue("time_limit", max(1e-3, deadline - time.perf_counter()))

        def _stop(event):  # HiGHS calls this at its simplex, IPM and MIP checkpoints
            if time.perf_counter() >= deadline:
                event.interrupt()

        for cb in (h.cbSimplexInterrupt, h.cbIpmInterrupt, h.cbMipInterrupt):
            cb.subscribe(_stop)
    if start is not None and integer is not None:
        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(start, dtype=np.float64).tolist()
        sol.value_valid = True
        h.setSolution(sol)
    with solver_stdout_to_stderr():
        h.run()
    ms = h.getModelStatus()
    info = h.getInfo()
    x = None
    if info.primal_solution_status == 2:  # kSolutionStatusFeasible
        x = np.asarray(h.getSolution().col_value, dtype=np.float64)
    optimal = ms == _MS.kOptimal
    if integer is not None:
        bound = float(info.mip_dual_bound)
    else:
        bound = float(info.objective_function_value) if optimal else -math.inf
    if not np.isfinite(bound):
        bound = -math.inf
    obj = float(info.objective_function_value) if x is not None else math.inf
    return HighsOutcome(x, obj, bound, optimal, ms == _MS.kInfeasible, ms in _STOPPED,
                        h.modelStatusToString(ms))
