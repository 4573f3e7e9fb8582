"""p-median: the solver behind :class:`~.models.PMedian` (see its docstring for the model).

Exact: one HiGHS model with a site variable per candidate, an assignment variable per stored
candidate–demand pair (weightless demand left out) and, with a penalty, an "unassigned" variable
per demand point. Existing facilities get a lower bound of 1 and are outside the budget row.
Greedy: opens, one at a time, the site that most lowers the objective (without a penalty: that
first assigns the most unassigned population), ties lowest index; no bound.

The reported assignment gives every demand point its nearest open site within the cutoff (ties:
lowest index); the objective is recomputed from that assignment.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from coverage.errors import InputError

from .highs import _highs_solve
from .inputs import _canonical, _check_weights, _segment_sums
from .results import PMedianResult, _rel_gap


@dataclass
class _Dist:
    """A checked distance matrix (CSR parts) with demand weights."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    rows: np.ndarray        # candidate row of each stored entry
    n_cand: int
    n_dem: int
    w: np.ndarray
    reach: np.ndarray       # demand with a candidate within the cutoff


def _prepare_dist(dist, weights, name="dist") -> _Dist:
    indptr, indices, data, (n_c, n_d) = _canonical(dist, name)
    w = _check_weights(weights, n_d)
    reach = np.zeros(n_d, dtype=bool)
    reach[indices] = True
    rows = np.repeat(np.arange(n_c, dtype=np.int64), np.diff(indptr))
    return _Dist(indptr, indices, data, rows, n_c, n_d, w, reach)


def _solve_p_median(d: _Dist, p: int, penalty, existing: np.ndarray, method: str,
                    time_limit: float, max_pairs: int, max_candidates: int, mip_rel_gap: float,
                    t0: float) -> PMedianResult:
    """``p`` new sites besides ``existing`` (always open); ``method`` "auto" means exact."""
    if method == "greedy":
        open_, unassigned_left = _greedy_open(d, p, penalty, existing)
        status = "greedy" if not unassigned_left else "greedy (unassigned demand left)"
        msg = ("" if not unassigned_left else
               f"greedy left {unassigned_left} reachable demand points without a site within the "
               "cutoff; the objective counts assigned demand only (pass unassigned_penalty_m, "
               "raise p or use method='exact')")
        return _report(d, open_, existing, penalty, status, "greedy", math.nan, t0, msg)
    return _exact(d, p, penalty, existing, time_limit, max_pairs, max_candidates, mip_rel_gap, t0)


def _exact(d, p, penalty, existing, time_limit, max_pairs, max_candidates, mip_rel_gap, t0):
    w, rows, indices, data = d.w, d.rows, d.indices, d.data
    keep = w[indices] > 0
    pr, pc, pd_ = rows[keep], indices[keep], data[keep]
    cand = np.unique(pr)
    if pr.size > max_pairs or cand.size > max_candidates:
        raise InputError(
            f"p-median model too large for the exact solver: {cand.size} candidates, {pr.size} "
            f"candidate–demand pairs (limits {max_candidates}, {max_pairs})",
            field="dist_matrix_sparse",
            fix="lower the cutoff, thin the candidates (candidates_from_nodes spacing), aggregate "
                "demand to blocks, use method='greedy', or raise max_pairs/max_candidates knowingly")
    dem = np.unique(pc)
    n_x, n_z = cand.size, pr.size
    xi = np.searchsorted(cand, pr)
    dj = np.searchsorted(dem, pc)
    n_u = dem.size if penalty is not None else 0
    ncol = n_x + n_z + n_u
    cost = np.concatenate([np.zeros(n_x), w[pc] * pd_,
                           (w[dem] * float(penalty)) if n_u else np.zeros(0)])
    # rows: assignment sum_i z_ij (+ u_j) = 1 ; z_ij - x_i <= 0 ; sum of new x <= p
    zcols = n_x + np.arange(n_z)
    r_assign = sp.csr_array((np.ones(n_z), (dj, zcols)), shape=(dem.size, ncol))
    if n_u:
        r_assign = r_assign + sp.csr_array(
            (np.ones(n_u), (np.arange(n_u), n_x + n_z + np.arange(n_u))), shape=(dem.size, ncol))
    r_link = sp.csr_array((np.concatenate([np.ones(n_z), -np.ones(n_z)]),
                           (np.tile(np.arange(n_z), 2), np.concatenate([zcols, xi]))),
                          shape=(n_z, ncol))
    is_ex = np.isin(cand, existing)
    new_cols = np.flatnonzero(~is_ex)
    r_p = sp.csr_array((np.ones(new_cols.size), (np.zeros(new_cols.size, dtype=np.int64), new_cols)),
                       shape=(1, ncol))
    A = sp.vstack([r_assign, r_link, r_p], format="csr")
    A.sort_indices()
    lo = np.concatenate([np.ones(dem.size), np.full(n_z, -np.inf), [-np.inf]])
    up = np.concatenate([np.ones(dem.size), np.zeros(n_z), [float(p)]])
    col_lower = np.zeros(ncol)
    col_lower[:n_x] = is_ex  # existing facilities stay open
    status, x, dual, _, secs = _highs_solve(n_x, n_z + n_u, cost, False, A, lo, up, None,
                                            time_limit, mip_rel_gap, col_lower=col_lower)
    if x is None:
        msg = (f"no solution ({status}): {p} new sites cannot give every reachable demand point a "
               "site within the cutoff; raise p (min_sites_for_target(..., target=1.0) tells how "
               "many) or pass unassigned_penalty_m" if status == "infeasible"
               else f"HiGHS: {status}")
        return PMedianResult(np.zeros(0, np.int64), np.full(d.n_dem, -1, dtype=np.int64),
                             np.full(d.n_dem, np.nan), math.nan, np.flatnonzero(~d.reach),
                             np.flatnonzero(d.reach), float(w[d.reach].sum()), math.nan, dual,
                             math.nan, status, "exact", time.perf_counter() - t0, msg,
                             existing=existing)
    return _report(d, np.union1d(cand[x], existing), existing, penalty, status, "exact", dual, t0)


def _greedy_open(d: _Dist, p: int, penalty, existing: np.ndarray):
    """Greedy p-median: (open sites, number of reachable demand points left unassigned)."""
    w, indices, data, indptr = d.w, d.indices, d.data, d.indptr
    is_open = np.zeros(d.n_cand, dtype=bool)
    is_open[existing] = True
    cur = np.full(d.n_dem, np.inf)           # distance to the nearest open site within the cutoff
    m = is_open[d.rows]
    np.minimum.at(cur, indices[m], data[m])
    cap = math.inf if penalty is None else float(penalty)
    we = w[indices]
    for _ in range(p):
        c = np.minimum(cur, cap)[indices]     # current cost per person at each stored entry
        new_w = _segment_sums(np.where(np.isinf(c), we, 0.0), indptr)
        save = _segment_sums(np.where(np.isinf(c), -we * data, we * np.maximum(0.0, c - data)),
                             indptr)
        new_w[is_open], save[is_open] = -1.0, -np.inf
        i = int(np.lexsort((np.arange(d.n_cand), -save, -new_w))[0])
        if is_open[i] or not (new_w[i] > 0 or save[i] > 0):
            break
        is_open[i] = True
        lo, hi = indptr[i], indptr[i + 1]
        cur[indices[lo:hi]] = np.minimum(cur[indices[lo:hi]], data[lo:hi])
    left = int(np.count_nonzero(d.reach & np.isinf(cur) & (w > 0))) if penalty is None else 0
    return np.flatnonzero(is_open), left


def _report(d: _Dist, open_, existing, penalty, status, method, dual, t0, msg=""):
    """Nearest-open-site assignment, objective and ranking for the open sites ``open_``."""
    w, rows, indices, data = d.w, d.rows, d.indices, d.data
    assignment = np.full(d.n_dem, -1, dtype=np.int64)
    distance = np.full(d.n_dem, np.nan)
    is_open = np.zeros(d.n_cand, dtype=bool)
    is_open[open_] = True
    m = is_open[rows]
    orow, ocol, odat = rows[m], indices[m], data[m]
    o = np.lexsort((orow, odat, ocol))
    first = np.ones(o.size, dtype=bool)
    first[1:] = ocol[o][1:] != ocol[o][:-1]
    sel = o[first]
    assignment[ocol[sel]] = orow[sel]
    distance[ocol[sel]] = odat[sel]
    assigned = assignment >= 0
    wa = float(w[assigned].sum())
    wmd = float((w[assigned] * distance[assigned]).sum() / wa) if wa > 0 else math.nan
    unassigned = np.flatnonzero(d.reach & ~assigned)
    objective = float((w[assigned] * distance[assigned]).sum())
    if penalty is not None:
        objective += float(w[unassigned].sum()) * float(penalty)
    pop = np.bincount(assignment[assigned], weights=w[assigned], minlength=d.n_cand)[open_]
    selected = np.asarray(open_, dtype=np.int64)[np.lexsort((open_, -pop))]
    bound = objective if status == "optimal" else dual
    return PMedianResult(selected, assignment, distance, wmd, np.flatnonzero(~d.reach), unassigned,
                         float(w[unassigned].sum()), objective, bound, _rel_gap(objective, bound),
                         status, method, time.perf_counter() - t0, msg, existing=existing)
