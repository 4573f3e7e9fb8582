"""Maximal coverage: the solver behind :class:`~.models.MaxCoverage` (see its docstring).

Greedy runs first and gives a bound; when the bound proves greedy optimal, or ``method`` is
"greedy", or ``method`` is "auto" and the reduced instance fails the size rule
(:func:`.size_rules.auto_uses_exact`), greedy is the answer. Otherwise the reduced instance goes to
HiGHS with greedy as a start; at the time limit the result is the better of HiGHS's incumbent and
greedy, with ``status`` saying so and the tighter of the two bounds.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .greedy import ONE_MINUS_INV_E, _Greedy
from .highs import _coverage_rows, _highs_solve
from .inputs import _Instance
from .reduce import _reduce, _start_from
from .results import SitingResult, _order_sites, _rel_gap, _result
from .size_rules import auto_greedy_message, auto_uses_exact


def _solve_max_coverage(inst: _Instance, k: int, method: str, time_limit: float,
                        mip_rel_gap: float, t0: float) -> SitingResult:
    """Up to ``k`` new sites on a checked instance; ``t0``: when the clock started."""
    active = np.diff(inst.indptr) > 0
    gr = _Greedy(inst.indptr, inst.indices, inst.w_int, np.zeros(inst.n_dem, np.int64), 1,
                 math.inf, [math.inf], active)
    order, data_ub, _, _ = gr.run(max_picks=k, k_bound=k)
    slack = float(np.abs(inst.w_eff - inst.w_int / inst.scale).sum())  # integer rounding of weights
    greedy = _result(inst, order, "greedy", "greedy", math.nan, 0.0)
    bound_data = data_ub / inst.scale + slack
    bound_classic = greedy.objective / ONE_MINUS_INV_E
    greedy.bound = min(bound_data, bound_classic) if k else 0.0
    greedy.bound = max(greedy.bound, greedy.objective)
    greedy.gap = _rel_gap(greedy.objective, greedy.bound)
    greedy.bound_data, greedy.bound_classic = bound_data, bound_classic
    if greedy.bound <= greedy.objective + 1e-9 * inst.total:
        greedy.status = "optimal"  # the bound proves greedy optimal
    if method == "greedy" or k == 0 or greedy.status == "optimal":
        greedy.solve_seconds = time.perf_counter() - t0
        return greedy

    red = _reduce(inst, np.zeros(inst.n_dem, np.int64), 1)
    if method == "auto" and not auto_uses_exact(red.cand.size, red.nnz):
        greedy.solve_seconds = time.perf_counter() - t0
        greedy.message = auto_greedy_message(red.cand.size, red.nnz)
        return greedy
    n_x, n_y = red.cand.size, red.R.shape[1]
    cost = np.concatenate([red.x_weight[:, 0], red.col_weight])
    budget = np.concatenate([np.ones(n_x), np.zeros(n_y)])
    rows = _coverage_rows(red.R, n_x, [budget])
    lo = np.full(rows.shape[0], -np.inf)
    up = np.zeros(rows.shape[0])
    up[-1] = k
    # greedy as the MIP start (map greedy sites to their reduced representatives)
    pos = np.full(inst.n_cand, -1, dtype=np.int64)
    pos[red.cand] = np.arange(n_x)
    start = _start_from(inst, red, order, pos, n_x)
    status, x, dual, mgap, secs = _highs_solve(n_x, n_y, cost, True, rows, lo, up, start,
                                               time_limit, mip_rel_gap)
    if x is None:
        greedy.status = f"greedy ({status}: HiGHS found no solution)"
        greedy.solve_seconds = time.perf_counter() - t0
        return greedy
    ex = _result(inst, _order_sites(inst, red.cand[x]), "exact", status, math.nan, secs)
    if status == "optimal":
        best = ex
        best.bound = max(ex.objective, dual) if np.isfinite(dual) else ex.objective
    else:
        # both HiGHS's dual bound and greedy's bound are valid upper bounds
        hb = min(dual, greedy.bound) if np.isfinite(dual) else greedy.bound
        if ex.objective + 1e-9 * inst.total < greedy.objective:
            best = greedy
            best.status = f"{status} (greedy kept; HiGHS incumbent {ex.objective:.1f})"
        else:
            best = ex
        best.bound = max(hb, best.objective)
    best.gap = _rel_gap(best.objective, best.bound)
    best.bound_data, best.bound_classic = bound_data, bound_classic
    best.solve_seconds = time.perf_counter() - t0
    return best
