"""Maximal coverage: the solver behind :class:`~.models.MaxCoverage` (see its docstring).

Greedy runs first and gives a bound; when the bound proves greedy optimal, or ``method`` is
"greedy", greedy is the answer. Otherwise ("exact" and "auto": the time limit decides, not the
size of the instance) the reduced instance (:mod:`.reduce`) goes to HiGHS:

1. its LP relaxation, whose optimum bounds every site set; when the LP's optimal sites are whole
   (on county instances they usually are) they are optimal and the answer is exact;
2. otherwise the better of greedy and the LP's k largest sites is improved by swapping one site at
   a time (best swap first), and every candidate whose LP reduced cost proves that it cannot be in
   a better site set is left out (reduced-cost fixing: with LP optimum z and reduced cost d <= 0 of
   a candidate at 0, every site set holding it covers at most z + d; when that is below the best
   set found it is fixed at 0, and likewise a candidate at 1 with z - d below it is fixed at 1);
3. the integer programme on the candidates left, started from the best set found, within what is
   left of ``time_limit``.

The result is the best solution found (greedy is kept only when HiGHS found nothing better), with
the tightest proven bound (greedy's, the LP's, HiGHS's dual bound on the candidates left) and its
gap; ``status`` says whether it is proven optimal or the time limit ended the search.
"""

from __future__ import annotations

import math
import time

import numpy as np
import scipy.sparse as sp

from .greedy import ONE_MINUS_INV_E, _Greedy
from .highs import _coverage_rows, _highs_solve
from .inputs import _Instance
from .reduce import _reduce
from .results import SitingResult, _order_sites, _rel_gap, _result


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

    deadline = t0 + float(time_limit)
    red = _reduce(inst, np.zeros(inst.n_dem, np.int64), 1)
    n_x = red.cand.size
    xw, cw = red.x_weight[:, 0], red.col_weight
    pos = np.full(inst.n_cand, -1, dtype=np.int64)
    pos[red.cand] = np.arange(n_x)
    tol = 1e-9 * inst.total + 1e-6                        # float sums; HiGHS's mip_abs_gap
    margin = 1e-6 * max(inst.total, 1.0)                 # HiGHS's tolerances on the LP duals
    best, bound, status, secs = greedy, greedy.bound, "time_limit", 0.0

    def consider(sites_red, st):
        nonlocal best
        res = _result(inst, _order_sites(inst, red.cand[sites_red]), "exact", st, math.nan, secs)
        if res.objective > best.objective + tol or (best is greedy and res.objective >= best.objective - tol):
            best = res                                   # ties go to the exact solution

    # (1) the LP relaxation, by column generation: a bound, and the answer when its sites are whole
    seed = pos[np.asarray(order, dtype=np.int64)]
    lp_status, z, x, d, lp_secs = _lp_by_columns(red.R, xw, cw, k, seed[seed >= 0], deadline, tol,
                                                 target=greedy.objective)
    secs += lp_secs
    bound = min(bound, z)
    if lp_status != "optimal" or bound <= best.objective + tol:
        return _finish(best, bound, status, greedy, bound_data, bound_classic, t0, tol,
                       proved=lp_status == "optimal")
    top = np.lexsort((np.arange(n_x), -x))[:k]
    top = top[x[top] > 1e-7]
    consider(top, "optimal")
    whole = bool(np.all((x <= 1e-7) | (x >= 1 - 1e-7)))
    if (whole and best is not greedy and best.objective >= z - tol) or bound <= best.objective + tol:
        return _finish(best, bound, "optimal", greedy, bound_data, bound_classic, t0, tol)
    # (2) a better start by single swaps, then reduced-cost fixing against it
    start = pos[np.asarray(best.selected if best is not greedy else order, dtype=np.int64)]
    improved = _swap_search(red.R, xw, cw, start[start >= 0], k, deadline)
    consider(improved, "optimal")
    lb = best.objective
    if bound <= lb + tol:
        return _finish(best, bound, "optimal", greedy, bound_data, bound_classic, t0, tol)
    fix0 = (x <= 1e-7) & (z + d < lb - margin)
    fix1 = (x >= 1 - 1e-7) & (z - d < lb - margin)
    if fix1.sum() > k:                                   # never with consistent duals; then fix none
        fix1[:] = False
    keep = np.flatnonzero(~fix0)
    # (3) the integer programme on the candidates left
    left = deadline - time.perf_counter()
    if _rel_gap(lb, bound) > mip_rel_gap and left > 0 and keep.size:
        Rk = red.R[keep]
        cols = np.flatnonzero(np.diff(sp.csc_array(Rk).indptr) > 0)
        Rk = sp.csr_array(Rk[:, cols])
        nk, nc = keep.size, cols.size
        rows_k = _coverage_rows(Rk, nk, [np.concatenate([np.ones(nk), np.zeros(nc)])])
        lo_k = np.full(rows_k.shape[0], -np.inf)
        up_k = np.zeros(rows_k.shape[0])
        up_k[-1] = k
        col_lower = np.concatenate([fix1[keep].astype(np.float64), np.zeros(nc)])
        at = np.full(n_x, -1, dtype=np.int64)
        at[keep] = np.arange(nk)
        cur = pos[np.asarray(best.selected if best is not greedy else order, dtype=np.int64)]
        cur = at[cur[cur >= 0]]
        xs0 = np.zeros(nk)
        xs0[cur[cur >= 0]] = 1.0
        st, xs, dual, _g, sec = _highs_solve(nk, nc, np.concatenate([xw[keep], cw[cols]]), True, rows_k,
                                             lo_k, up_k, np.concatenate([xs0, (Rk.T @ xs0 > 0).astype(float)]),
                                             left, mip_rel_gap, col_lower=col_lower)
        secs += sec
        if xs is not None:
            consider(keep[xs], st)
        if np.isfinite(dual):
            # a site set holding a candidate left out covers less than the best found
            bound = min(bound, max(dual, best.objective))
        status = st
    return _finish(best, bound, status, greedy, bound_data, bound_classic, t0, tol)


class _Master:
    """The restricted LP of column generation, kept in one HiGHS model: adding candidates adds
    their columns (and the rows of the demand they newly reach), and each solve starts from the
    previous basis. Row 0 is the budget (sum x <= k); row of demand j: y_j - sum x_i <= 0."""

    def __init__(self, R: sp.csr_array, xw, cw, k):
        import highspy

        self.hs = highspy
        self.R, self.xw, self.cw = R, xw, cw
        n_x, n_y = R.shape
        self.x_col = np.full(n_x, -1, dtype=np.int64)
        self.y_col = np.full(n_y, -1, dtype=np.int64)
        self.y_row = np.full(n_y, -1, dtype=np.int64)
        self.n_col = 0
        self.n_row = 1
        from .highs import new_highs
        h = new_highs()
        h.setOptionValue("random_seed", 0)
        h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        h.addRows(1, np.array([-np.inf]), np.array([float(k)]), 0, np.zeros(1, np.int32),
                  np.zeros(0, np.int32), np.zeros(0))
        self.h = h

    def add(self, C):
        C = np.asarray(C, dtype=np.int64)
        C = C[self.x_col[C] < 0]
        if not C.size:
            return
        RC = self.R[C]
        reach = np.unique(RC.indices)
        new_j = reach[self.y_col[reach] < 0]
        if new_j.size:                             # the demand they newly reach: y columns, rows
            m = new_j.size
            self.h.addCols(m, self.cw[new_j], np.zeros(m), np.ones(m), 0, np.zeros(m, np.int32),
                           np.zeros(0, np.int32), np.zeros(0))
            self.y_col[new_j] = self.n_col + np.arange(m)
            self.n_col += m
            self.h.addRows(m, np.full(m, -np.inf), np.zeros(m), m, np.arange(m, dtype=np.int32),
                           self.y_col[new_j].astype(np.int32), np.ones(m))
            self.y_row[new_j] = self.n_row + np.arange(m)
            self.n_row += m
        # the candidates: +1 in the budget row, -1 in the row of every demand column they reach
        cnt = np.diff(RC.indptr) + 1
        starts = np.r_[0, np.cumsum(cnt)[:-1]].astype(np.int32)
        idx = np.empty(int(cnt.sum()), dtype=np.int32)
        val = np.empty(int(cnt.sum()))
        first = starts.astype(np.int64)
        idx[first] = 0
        val[first] = 1.0
        rest = np.ones(idx.size, dtype=bool)
        rest[first] = False
        idx[rest] = self.y_row[RC.indices]
        val[rest] = -1.0
        self.h.addCols(C.size, self.xw[C], np.zeros(C.size), np.ones(C.size), idx.size, starts, idx, val)
        self.x_col[C] = self.n_col + np.arange(C.size)
        self.n_col += C.size

    def solve(self, time_limit):
        """(status, objective, x of every candidate, reduced cost of the candidates in the LP,
        row duals of the demand columns (nan where not in the LP), budget dual)."""
        h = self.h
        # HiGHS's clock runs on across runs of one model: the limit is on its total
        h.setOptionValue("time_limit", float(h.getRunTime() + max(time_limit, 0.0)))
        h.run()
        if h.getModelStatus() != self.hs.HighsModelStatus.kOptimal:
            return "time_limit", math.nan, None, None, None, math.nan
        sol = h.getSolution()
        cv, cd, rd = (np.asarray(v, dtype=np.float64) for v in (sol.col_value, sol.col_dual, sol.row_dual))
        x = np.zeros(self.R.shape[0])
        inx = self.x_col >= 0
        x[inx] = cv[self.x_col[inx]]
        rc = np.full(self.R.shape[0], np.nan)
        rc[inx] = cd[self.x_col[inx]]
        pi = np.full(self.R.shape[1], np.nan)
        iny = self.y_row >= 0
        pi[iny] = rd[self.y_row[iny]]
        return "optimal", float(h.getInfo().objective_function_value), x, rc, pi, float(rd[0])


def _lp_by_columns(R: sp.csr_array, xw, cw, k, seed, deadline, tol, target=math.inf, batch=None):
    """The LP relaxation of a reduced instance by column generation.

    The LP is solved on a few candidates (the largest gains, and ``seed``: greedy's sites); its
    duals price every other candidate: reduced cost ``xw_i + sum(pi_j for j it reaches) - lambda``,
    with pi_j the dual of demand column j's row, or its weight ``cw_j`` when no candidate in the LP
    reaches it (a feasible dual for the full LP), and lambda the budget's dual. Candidates with a
    positive reduced cost join (:class:`_Master`, warm started), until there are none: then the
    small LP's optimum is the full LP's. At every step ``LP + (the k largest reduced costs
    outside)`` bounds the full LP (raising lambda by the k-th largest makes the extended dual
    feasible at that cost); the search stops early once this bound reaches ``target`` (a site set
    already found is then optimal). The reduced costs returned are those of a feasible dual of the
    full LP (less the largest outside one).

    Returns (status, bound, x (all candidates), reduced costs (all candidates, of the feasible dual
    behind the bound), seconds); status "optimal" when the bound is the LP optimum or reaches
    ``target``.
    """
    n_x, _ = R.shape
    t0 = time.perf_counter()
    if n_x == 0:
        return "optimal", 0.0, np.zeros(0), np.zeros(0), 0.0
    R = sp.csr_array(R, dtype=np.float64)
    R.sort_indices()
    gain = xw + R @ cw
    batch = max(50, 2 * k) if batch is None else batch
    master = _Master(R, xw, cw, k)
    master.add(np.unique(np.r_[np.asarray(seed, dtype=np.int64),
                               np.argsort(-gain, kind="stable")[:max(200, 4 * k)]]))
    bound, x, d = math.inf, np.zeros(n_x), np.zeros(n_x)
    while True:
        st, z, xs, rc_in, pi_in, lam = master.solve(deadline - time.perf_counter())
        if st != "optimal":
            return "time_limit", bound, x, d, time.perf_counter() - t0
        pi = np.where(np.isnan(pi_in), cw, np.maximum(pi_in, 0.0))
        rc = xw + R @ pi - max(lam, 0.0)
        inside = ~np.isnan(rc_in)
        rc[inside] = rc_in[inside]
        out = ~inside
        pos_out = np.sort(rc[out & (rc > 0)])[::-1]
        worst = float(pos_out[0]) if pos_out.size else 0.0
        # raising lambda by the k-th largest outside reduced cost: LP + the k largest bound the full LP
        b = z + float(pos_out[:k].sum())
        if b < bound:
            bound, x, d = b, xs, rc - worst
        if worst <= tol / max(k, 1) or bound <= target + tol:
            return "optimal", bound, x, d, time.perf_counter() - t0
        if time.perf_counter() >= deadline:
            return "time_limit", bound, x, d, time.perf_counter() - t0
        cand = np.flatnonzero(out & (rc > 0))
        master.add(cand[np.argsort(-rc[cand], kind="stable")[:batch]])


def _finish(best, bound, status, greedy, bound_data, bound_classic, t0, tol, proved=True):
    """Status, method, bound and gap of the best solution found. ``method`` is "exact" when the
    exact search (LP, HiGHS) found it or proved it optimal (``proved``), else "greedy"."""
    proven = bound <= best.objective + tol
    if proven:
        bound = best.objective
    if proven or status == "optimal":
        best.status = "optimal"
    elif best is greedy:
        best.status = f"{status} (greedy kept: HiGHS found nothing better)"
    else:
        best.status = status
    best.method = "exact" if best is not greedy or (proven and proved) else "greedy"
    best.bound = max(bound, best.objective)
    best.gap = _rel_gap(best.objective, best.bound)
    best.bound_data, best.bound_classic = bound_data, bound_classic
    best.solve_seconds = time.perf_counter() - t0
    return best


def _swap_search(R: sp.csr_array, xw, cw, sites, k, deadline, max_rounds=200):
    """Best-improvement single swaps (one site out, one in; or one in while fewer than k) on a
    reduced instance: objective sum(xw[S]) + sum(cw[j] for j reached by S). Returns the sites."""
    R = sp.csr_array(R, dtype=np.float64)
    n_x = R.shape[0]
    S = np.unique(np.asarray(sites, dtype=np.int64))
    if n_x == 0:
        return S
    RT = sp.csr_array(R.T)
    for _ in range(max_rounds):
        if time.perf_counter() > deadline:
            break
        inS = np.zeros(n_x, dtype=bool)
        inS[S] = True
        cnt = RT @ inS.astype(np.float64)                     # sites reaching each demand column
        gain0 = xw + R @ (cw * (cnt == 0))                    # what a new site adds alone
        gain0[inS] = -np.inf
        if S.size < k:
            c = int(np.argmax(gain0))
            if gain0[c] <= 1e-12 * (cw.sum() + xw.sum()):
                break
            S = np.sort(np.append(S, c))
            continue
        if S.size == 0:
            break
        one = cw * (cnt == 1)
        loss = xw[S] + R[S] @ one                             # what each site alone holds
        # demand held only by site s, reached by candidate c: U[:, s] = one * R[s]
        inter = np.asarray(R @ (R[S].toarray().T * one[:, None]))
        delta = gain0[:, None] + inter - loss[None, :]
        c, sidx = np.unravel_index(int(np.argmax(delta)), delta.shape)
        if not delta[c, sidx] > 1e-9 * max(cw.sum() + xw.sum(), 1.0):
            break
        S = np.sort(np.append(np.delete(S, sidx), c))
    return S
