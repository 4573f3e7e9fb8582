"""Fewest sites for a target rate: the solver behind :class:`~.models.MinSitesForTarget`.

Requirements are kept in integer micro-units of population (``inputs._int_scale``): the need of
each target (overall and/or per group) is rounded up, and capped at what every candidate together
can reach, so that an unreachable target still gets the sites reaching the best reachable rates.

Greedy maximises the truncated coverage sum_t min(coverage_t, need_t) until every need is met.
Exact search (``time_limit`` covers all of it): lower bound L from the LP relaxation of the
set-cover model, upper bound U from greedy; then a bisection on the budget k in [L, U], each step a
budgeted MIP "max sum_t min(coverage_t, need_t) with at most k sites" that stops as soon as the
needs are met or HiGHS's dual bound proves they cannot be (solving the set-cover MIP directly
stalled on partial targets in our tests).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from coverage.errors import InputError

from .greedy import _Greedy
from .highs import _coverage_rows, _highs_solve
from .inputs import _Instance
from .reduce import _reduce, _start_from
from .results import SitingResult, _added, _order_sites, _rel_gap, _result

_TOL = 1e-9


@dataclass
class _Targets:
    """Checked targets: overall share (or None) and per-group shares over group codes."""

    target: float | None
    labels: np.ndarray        # group label of each code ("all" without groups)
    codes: np.ndarray         # group code per demand point
    group_targets: dict       # label -> share


def _check_targets(n_dem: int, target, groups, group_targets) -> _Targets:
    if target is None and not group_targets:
        raise InputError("no target given", field="target",
                         fix="pass target=0.9 (overall share) and/or group_targets={'rural': 0.8}")
    for name, val in ([("target", target)] if target is not None else []) + \
            [(f"group_targets[{g!r}]", v) for g, v in (group_targets or {}).items()]:
        if not (isinstance(val, (int, float, np.floating, np.integer)) and 0 <= float(val) <= 1):
            raise InputError(f"{name} must be a share between 0 and 1, got {val!r}", field=name,
                             fix="write 80% as 0.8")
    if group_targets:
        if groups is None:
            raise InputError("group_targets given without groups", field="groups",
                             fix="pass one group label per demand point, e.g. 'urban'/'rural'")
        labels = np.asarray(groups).reshape(-1)
        if labels.shape != (n_dem,):
            raise InputError(f"groups has {labels.size} labels, expected {n_dem}",
                             field="groups", fix="pass one group label per demand point")
        uniq, codes = np.unique(labels.astype(str), return_inverse=True)
        missing = [g for g in group_targets if str(g) not in set(uniq.tolist())]
        if missing:
            raise InputError(f"group_targets names groups not present in groups: {missing}",
                             field="group_targets", fix=f"use labels among {uniq.tolist()}")
    else:
        uniq, codes = np.array(["all"]), np.zeros(n_dem, dtype=np.int64)
    return _Targets(None if target is None else float(target), uniq,
                    codes.astype(np.int64).reshape(-1), dict(group_targets or {}))


@dataclass
class _Needs:
    """Integer-unit requirements of a target problem and what is reachable at all."""

    rem_all: float            # overall need (inf without an overall target)
    rem_g: np.ndarray         # need per group (inf where the group has no target)
    tot_g: np.ndarray         # population per group
    reach_all: float          # population covered with every candidate built
    reach_g: np.ndarray       # same per group
    infeasible: list          # human-readable unreachable targets


def _needs(inst: _Instance, tg: _Targets) -> _Needs:
    G, codes, uniq, sc = tg.labels.size, tg.codes, tg.labels, inst.scale
    tot_g = np.bincount(codes, weights=inst.weights, minlength=G)
    bef_g = np.bincount(codes, weights=np.where(inst.covered, inst.weights, 0.0), minlength=G)
    reach_int = inst.w_int * inst.reach
    reach_g_int = np.bincount(codes, weights=reach_int, minlength=G)
    reach_g = bef_g + np.bincount(codes, weights=inst.w_eff * inst.reach, minlength=G)
    targets_g = np.full(G, np.nan)
    for g, v in tg.group_targets.items():
        targets_g[np.flatnonzero(uniq == str(g))[0]] = float(v)
    rem_g = np.full(G, math.inf)
    infeasible = []
    for g in np.flatnonzero(np.isfinite(targets_g)):
        need = targets_g[g] * tot_g[g] - bef_g[g]
        if reach_g[g] < targets_g[g] * tot_g[g] - _TOL * inst.total:
            infeasible.append(f"{uniq[g]}: target {targets_g[g]:.1%}, reachable "
                              f"{reach_g[g] / tot_g[g] if tot_g[g] else 0:.1%}")
        rem_g[g] = min(max(0.0, math.ceil(need * sc - 1e-6)), reach_g_int[g])
    rem_all = math.inf
    reach_all = inst.before + float((inst.w_eff * inst.reach).sum())
    if tg.target is not None:
        need = tg.target * inst.total - inst.before
        if reach_all < tg.target * inst.total - _TOL * inst.total:
            infeasible.insert(0, f"overall: target {tg.target:.1%}, reachable "
                                 f"{reach_all / inst.total:.1%}")
        rem_all = min(max(0.0, math.ceil(need * sc - 1e-6)), float(reach_int.sum()))
    return _Needs(rem_all, rem_g, tot_g, reach_all, reach_g, infeasible)


def _meets(inst, codes, sites, rem_all, rem_g) -> bool:
    """Do these sites reach the (integer-unit) requirements? ``rem_all`` None: no overall one."""
    _, newly = _added(inst, np.asarray(sites, dtype=np.int64))
    got = np.bincount(codes[newly], weights=inst.w_int[newly], minlength=len(rem_g))
    ok = np.all((got >= np.where(np.isfinite(rem_g), rem_g, 0.0)))
    if rem_all is not None:
        ok = ok and got.sum() >= rem_all
    return bool(ok)


def _solve_min_sites(inst: _Instance, tg: _Targets, method: str, time_limit: float,
                     t0: float) -> SitingResult:
    """Fewest new sites reaching the targets on a checked instance; ``t0``: clock start."""
    nd = _needs(inst, tg)
    codes, uniq, G, tot_g = tg.codes, tg.labels, tg.labels.size, nd.tot_g
    # without an overall target only the group terms count
    rem_all_for_greedy = 0.0 if tg.target is None else nd.rem_all
    active = np.diff(inst.indptr) > 0
    gr = _Greedy(inst.indptr, inst.indices, inst.w_int, codes, G, rem_all_for_greedy, nd.rem_g,
                 active)
    order, _, lb, _ = gr.run(max_picks=inst.n_cand, cover_bound=True)
    feasible = not nd.infeasible
    msg = ("target reachable" if feasible else
           "target NOT reachable with every candidate built — " + "; ".join(nd.infeasible)
           + ". The sites returned reach the best reachable rates.")
    extra = dict(feasible=feasible, message=msg, reachable_rate=nd.reach_all / inst.total,
                 group_reachable={str(u): (nd.reach_g[i] / tot_g[i] if tot_g[i] else math.nan)
                                  for i, u in enumerate(uniq)})

    def finish(res):
        _, newly = _added(inst, res.selected)
        cov = inst.covered | newly
        res.group_rates = {str(u): (float(inst.weights[(codes == i) & cov].sum() / tot_g[i])
                                    if tot_g[i] else math.nan) for i, u in enumerate(uniq)}
        res.solve_seconds = time.perf_counter() - t0
        return res

    lb = max(lb, 0 if order.size == 0 else 1)
    greedy = _result(inst, order, "greedy", "greedy" if feasible else "infeasible", float(lb), 0.0,
                     objective=float(order.size), **extra)
    if order.size <= lb:
        greedy.status = "optimal" if feasible else "infeasible"
        greedy.bound = float(order.size)
        greedy.gap = 0.0
    if method == "greedy" or greedy.status in ("optimal",) or order.size <= lb:
        return finish(greedy)
    red = _reduce(inst, codes, G)
    res = _exact_fewest(inst, tg, nd, red, order, lb, greedy, extra, t0 + float(time_limit))
    if not feasible:
        res.status = "infeasible"
    return finish(res)


def _exact_fewest(inst, tg, nd, red, order, lb, greedy, extra, deadline) -> SitingResult:
    """LP lower bound, then bisection on the budget with budgeted MIPs (module docstring)."""
    n_x, n_y = red.cand.size, red.R.shape[1]
    sc, codes, rem_g = inst.scale, tg.codes, nd.rem_g
    rem_all = nd.rem_all if tg.target is not None else None
    # requirement rows in population units (the rounded integer requirement converted back)
    req_rows, need = [], []
    if tg.target is not None:
        req_rows.append(np.concatenate([red.x_weight.sum(axis=1), red.col_weight]))
        need.append(nd.rem_all / sc - _TOL * inst.total)
    for g in np.flatnonzero(np.isfinite(rem_g)):
        req_rows.append(np.concatenate([red.x_weight[:, g],
                                        np.where(red.col_group == g, red.col_weight, 0.0)]))
        need.append(rem_g[g] / sc - _TOL * inst.total)
    need = np.maximum(np.asarray(need), 0.0)
    n_t = need.size
    # (1) lower bound: LP relaxation of the set-cover model  min sum x  s.t. requirements
    rows = _coverage_rows(red.R, n_x, req_rows)
    lo = np.concatenate([np.full(n_y, -np.inf), need])
    up = np.concatenate([np.zeros(n_y), np.full(n_t, np.inf)])
    _, _, lp_val, _, _ = _highs_solve(n_x, n_y, np.concatenate([np.ones(n_x), np.zeros(n_y)]),
                                      False, rows, lo, up, None,
                                      max(1.0, deadline - time.perf_counter()), 0.0, integer=False)
    lower = max(lb, math.ceil(lp_val - 1e-6) if np.isfinite(lp_val) else 0)
    # (2) the fewest sites k in [lower, greedy]: test k with a budgeted MIP
    #     max sum_t c_t, c_t <= need_t, c_t <= coverage_t, sum x <= k  (k works iff it reaches need)
    tx = sp.csr_array(np.hstack([-np.vstack(req_rows), np.eye(n_t)]))
    link = sp.hstack([_coverage_rows(red.R, n_x, []), sp.csr_array((n_y, n_t))], format="csr")
    budget = sp.csr_array(np.concatenate([np.ones(n_x), np.zeros(n_y + n_t)])[None])
    rows_k = sp.vstack([link, tx, budget], format="csr")
    cost_k = np.concatenate([np.zeros(n_x + n_y), np.ones(n_t)])
    upper_k = np.concatenate([np.ones(n_x + n_y), need])
    pos = np.full(inst.n_cand, -1, dtype=np.int64)
    pos[red.cand] = np.arange(n_x)
    best_sites, hi, lo_k = order, order.size, lower
    status, tested, secs = "optimal", [], 0.0
    while lo_k < hi:
        left = deadline - time.perf_counter()
        if left <= 0:
            status = "time_limit"
            break
        k = (lo_k + hi) // 2
        lo_r = np.concatenate([np.full(n_y + n_t, -np.inf), [-np.inf]])
        up_r = np.concatenate([np.zeros(n_y + n_t), [float(k)]])
        st = _start_from(inst, red, order[:k], pos, n_x)
        cst = np.minimum(need, np.vstack(req_rows) @ st)
        stt, x, dual, _, sec = _highs_solve(n_x, n_y + n_t, cost_k, True, rows_k, lo_r, up_r,
                                            np.concatenate([st, cst]), left, 0.0,
                                            mip_abs_gap=1e-9 * inst.total, col_upper=upper_k,
                                            objective_bound=need.sum() - 1e-6 * inst.total)
        secs += sec
        proven_short = np.isfinite(dual) and dual < need.sum() - 1e-9 * inst.total
        meets = x is not None and _meets(inst, codes, red.cand[x], rem_all, rem_g)
        tested.append((k, "cannot reach" if proven_short and x is not None and not meets else stt))
        if meets:
            best_sites, hi = red.cand[x], int(x.sum())
        elif stt in ("optimal", "infeasible") or proven_short:
            lo_k = k + 1
        else:
            status = "time_limit"
            break
    if best_sites is order:
        res = greedy
        res.status = ("optimal" if status == "optimal" else "greedy (exact: time limit)")
        res.method = "greedy" if status != "optimal" else "exact"
    else:
        res = _result(inst, _order_sites(inst, best_sites), "exact", status, math.nan, secs,
                      objective=float(hi), **extra)
    res.objective = float(len(res.selected))
    res.bound = float(res.objective if status == "optimal" else lo_k)
    res.gap = _rel_gap(res.objective, res.bound)
    res.message = extra["message"] + f" Exact search: LP lower bound {lower}, budgets tested " + \
        ", ".join(f"{k} ({st})" for k, st in tested) + "."
    return res
