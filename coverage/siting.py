"""Siting suggestions for new facilities, solved on a sparse candidate × demand coverage matrix.

Input convention (built by the network module, never dense):

* ``cover`` — ``scipy.sparse`` matrix, n_candidates × n_demand. A stored entry means "demand point j
  is within the walking threshold of candidate i"; its value is the walking distance in metres
  (explicit zeros are allowed and mean distance 0). Duplicate stored (i, j) pairs keep the shortest.
* ``weights`` — population (or households) per demand point, finite and ≥ 0.
* ``already_covered`` — demand points covered by existing facilities. Existing facilities always
  stay; their population counts in the rates but gives no credit to a new site.

Solvers
-------
* Exact: integer programmes passed straight to HiGHS (``highspy``) as a sparse row-wise model.
  Before building it the instance is reduced without changing the optimum: demand that is already
  covered, weightless or out of reach of every candidate is dropped; candidates that reach nothing
  are dropped; candidates with an identical catchment keep only the lowest index; demand points with
  an identical set of candidates are merged (weights summed); demand reached by a single candidate
  is folded into that candidate's coefficient.
* Greedy: lazy greedy (priority queue of stale gains over candidates; a gain is recomputed from the
  candidate's CSR row). Gains are kept in integer micro-units of population so that sums are exact
  and ties are exact; ties go to the lowest candidate index.
* ``min_sites_for_target`` (exact) bisects on the number of sites between the LP bound and
  greedy, solving a budgeted coverage MIP at each step (see its docstring).
* ``method="auto"`` uses the exact solver when the *reduced* instance has at most
  ``AUTO_MAX_NNZ`` (2,000,000) candidate–demand pairs and at most ``AUTO_MAX_CANDIDATES`` (5,000)
  candidates, and greedy otherwise. The exact solver runs greedy first and passes it to HiGHS as a
  start; when HiGHS stops at the time limit the result is the better of its incumbent and greedy,
  with ``status="time_limit"`` and HiGHS's bound.

Exact solutions are optimal within HiGHS's tolerances (``mip_rel_gap`` 0 by default, absolute gap
1e-6). When several site sets are optimal, HiGHS's choice is deterministic for the same input but is
not guaranteed to be the lowest-index one (identical candidates are reduced to the lowest index).
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from coverage.errors import InputError

__all__ = [
    "SitingResult", "PMedianResult", "max_coverage", "min_sites_for_target", "p_median",
    "capacity_report", "candidates_from_nodes",
    "AUTO_MAX_NNZ", "AUTO_MAX_CANDIDATES", "PMEDIAN_MAX_PAIRS", "PMEDIAN_MAX_CANDIDATES",
]

#: Size rule of ``method="auto"``: exact when the reduced instance is at most this big.
AUTO_MAX_NNZ = 2_000_000
AUTO_MAX_CANDIDATES = 5_000
#: Size guard of the exact p-median model (one variable and one row per candidate–demand pair).
PMEDIAN_MAX_PAIRS = 300_000
PMEDIAN_MAX_CANDIDATES = 3_000

ONE_MINUS_INV_E = 1.0 - 1.0 / math.e
_HASH_SEED = 20240611


# --------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------
@dataclass
class SitingResult:
    """Sites chosen by ``max_coverage`` or ``min_sites_for_target``.

    ``selected`` is ordered by marginal added population (ties: lowest index); ``added[i]`` is what
    site ``selected[i]`` adds given the ones before it; ``cumulative_rate[i]`` is the overall covered
    share (existing + new) after it. ``objective`` is the newly covered population for
    ``max_coverage`` and the number of sites for ``min_sites_for_target``. ``bound`` is an upper
    bound on the best possible objective for max coverage, a lower bound on the number of sites for
    the target problem; ``gap`` is the relative distance between ``objective`` and ``bound``.
    """

    selected: np.ndarray
    added: np.ndarray
    cumulative_rate: np.ndarray
    covered_before: float
    covered_after: float
    objective: float
    method: str
    bound: float
    gap: float
    status: str
    solve_seconds: float
    total: float = 0.0
    bound_data: float | None = None      # greedy: min_i f(S_i) + k largest marginal gains
    bound_classic: float | None = None   # greedy: objective / (1 - 1/e)
    feasible: bool = True
    message: str = ""
    reachable_rate: float | None = None  # overall rate with every candidate built
    group_rates: dict | None = None      # group -> rate after the new sites
    group_reachable: dict | None = None  # group -> rate with every candidate built

    @property
    def rate_before(self) -> float:
        return self.covered_before / self.total if self.total else 0.0

    @property
    def rate_after(self) -> float:
        return self.covered_after / self.total if self.total else 0.0

    def table(self) -> pd.DataFrame:
        """One row per selected site, in ranking order."""
        return pd.DataFrame({
            "rank": np.arange(1, len(self.selected) + 1),
            "candidate": self.selected,
            "added_population": self.added,
            "cumulative_rate": self.cumulative_rate,
        })


@dataclass
class PMedianResult:
    """Sites chosen by ``p_median`` and the resulting nearest-site assignment of demand."""

    selected: np.ndarray            # candidate indices, by assigned population (desc), then index
    assignment: np.ndarray          # per demand point: assigned candidate, -1 when unassigned
    distance: np.ndarray            # per demand point: walking distance to it, NaN when unassigned
    weighted_mean_distance: float   # over assigned demand
    unreachable: np.ndarray         # demand with no candidate within the cutoff
    unassigned: np.ndarray          # demand left without a chosen site within the cutoff
    unassigned_weight: float
    objective: float
    bound: float
    gap: float
    status: str
    method: str
    solve_seconds: float
    message: str = ""


# --------------------------------------------------------------------------------------------
# input checks and canonical forms
# --------------------------------------------------------------------------------------------
def _canonical(matrix, name: str):
    """Return (indptr, indices, data, shape) of a CSR copy: sorted indices, duplicates -> min."""
    if not sp.issparse(matrix):
        raise InputError(
            f"{name} must be a scipy.sparse matrix (candidates × demand), got {type(matrix).__name__}",
            field=name,
            fix="build it sparsely, e.g. scipy.sparse.csr_array((dist, (cand, dem)), shape=...); "
                "never pass a dense matrix")
    if matrix.ndim != 2:
        raise InputError(f"{name} must be 2-dimensional", field=name, fix="pass candidates × demand")
    csr = sp.csr_array(matrix)
    n_rows, n_cols = csr.shape
    data = np.asarray(csr.data, dtype=np.float64)
    if data.size and (not np.all(np.isfinite(data)) or data.min() < 0):
        raise InputError(f"{name} stores distances that are negative, NaN or infinite", field=name,
                         fix="store only reachable pairs, with their walking distance in metres (≥ 0)")
    indptr = np.asarray(csr.indptr, dtype=np.int64)
    indices = np.asarray(csr.indices, dtype=np.int64)
    if csr.has_canonical_format:
        return indptr, indices, data, (n_rows, n_cols)
    rows = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(indptr))
    order = np.lexsort((data, indices, rows))
    rows, indices, data = rows[order], indices[order], data[order]
    keep = np.ones(rows.size, dtype=bool)
    keep[1:] = (rows[1:] != rows[:-1]) | (indices[1:] != indices[:-1])
    rows, indices, data = rows[keep], indices[keep], data[keep]
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return indptr, indices, data, (n_rows, n_cols)


def _check_weights(weights, n: int, name: str = "weights") -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape != (n,):
        raise InputError(f"{name} has {w.size} values but the matrix has {n} demand columns",
                         field=name, fix="pass one weight per demand point, in column order")
    if not np.all(np.isfinite(w)) or (w.size and w.min() < 0):
        raise InputError(f"{name} must be finite and ≥ 0", field=name,
                         fix="replace missing population with 0 and check for negative values")
    return w


def _check_covered(already_covered, n: int) -> np.ndarray:
    if already_covered is None:
        return np.zeros(n, dtype=bool)
    a = np.asarray(already_covered)
    if a.shape != (n,):
        raise InputError(f"already_covered has shape {a.shape}, expected ({n},)",
                         field="already_covered", fix="pass one boolean per demand point")
    if a.dtype != bool:
        if not np.isin(a, (0, 1)).all():
            raise InputError("already_covered must be boolean (or 0/1)", field="already_covered",
                             fix="pass True where an existing facility already covers the point")
        a = a.astype(bool)
    return a


def _check_method(method: str) -> str:
    if method not in ("auto", "exact", "greedy"):
        raise InputError(f"unknown method {method!r}", field="method",
                         fix="use 'auto', 'exact' or 'greedy'")
    return method


def _int_scale(total: float) -> float:
    """Scale turning population into integers whose sums stay exact in float64 (< 2**52)."""
    if total <= 0:
        return 1.0
    return float(min(1e6, 10.0 ** math.floor(math.log10(2.0 ** 52 / total))))


def _segment_sums(values_at_entries: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Sum per CSR row of an array aligned with the stored entries (empty rows -> 0)."""
    n = indptr.size - 1
    out = np.zeros(n, dtype=values_at_entries.dtype)
    nonempty = np.flatnonzero(indptr[1:] > indptr[:-1])
    if nonempty.size:
        out[nonempty] = np.add.reduceat(values_at_entries, indptr[nonempty])
    return out


# --------------------------------------------------------------------------------------------
# lazy greedy core
# --------------------------------------------------------------------------------------------
class _Greedy:
    """Lazy greedy on a truncated coverage function.

    Phi(S) = min(covered(S), cap_all) + sum_g min(covered_g(S), cap_g) over targeted groups, in
    integer units. With cap_all = inf and no groups this is plain max coverage. Phi is monotone
    submodular, so stale gains are upper bounds (lazy evaluation is exact greedy).
    """

    def __init__(self, indptr, indices, w_int, codes, n_groups, rem_all, rem_groups, active):
        self.indptr, self.indices = indptr, indices
        self.r = w_int.copy()            # remaining (uncovered) weight per demand, integer-valued
        self.codes, self.G = codes, n_groups
        self.rem_all = float(rem_all)
        self.rem = np.asarray(rem_groups, dtype=np.float64)  # inf where the group has no target
        self.targeted = np.isfinite(self.rem)
        self.has_groups = bool(self.targeted.any())
        self.active = active
        self.n = indptr.size - 1

    def _truncate(self, gg: np.ndarray) -> np.ndarray:
        total = gg.sum(axis=-1)
        out = np.minimum(total, max(self.rem_all, 0.0))
        if self.has_groups:
            capped = np.minimum(gg[..., self.targeted], np.maximum(self.rem[self.targeted], 0.0))
            out = out + capped.sum(axis=-1)
        return out

    def group_gains(self, i: int) -> np.ndarray:
        idx = self.indices[self.indptr[i]:self.indptr[i + 1]]
        if self.G == 1:
            return np.array([self.r[idx].sum()])
        return np.bincount(self.codes[idx], weights=self.r[idx], minlength=self.G)

    def gain(self, i: int) -> float:
        return float(self._truncate(self.group_gains(i)))

    def all_gains(self) -> np.ndarray:
        vals = self.r[self.indices]
        if self.G == 1:
            gg = _segment_sums(vals, self.indptr)[:, None]
        else:
            ce = self.codes[self.indices]
            gg = np.stack([_segment_sums(np.where(ce == g, vals, 0.0), self.indptr)
                           for g in range(self.G)], axis=1)
        g = self._truncate(gg)
        g[~self.active] = 0.0
        return g

    def remaining(self) -> float:
        out = max(self.rem_all, 0.0) if np.isfinite(self.rem_all) else math.inf
        if self.has_groups:
            out += float(np.maximum(self.rem[self.targeted], 0.0).sum())
        return out

    def run(self, max_picks: int, k_bound: int | None = None, cover_bound: bool = False):
        """Pick up to ``max_picks`` sites; stop early when no candidate adds anything.

        Returns (order, data_bound_int, lower_bound_sites, f_int). ``k_bound``: also track
        min_t f(S_t) + sum of the k largest (upper bounds on) marginal gains. ``cover_bound``: also
        track max_t (fewest upper-bounded gains whose sum reaches the remaining requirement).
        """
        ub = self.all_gains()
        stamp = np.zeros(self.n, dtype=np.int64)
        heap = [(-g, i) for i, g in zip(np.flatnonzero(ub > 0).tolist(), ub[ub > 0].tolist())]
        heapq.heapify(heap)
        order: list[int] = []
        f = 0.0
        best_ub = math.inf
        lb_sites = 0
        next_check = 1
        t = 0

        def track():
            nonlocal best_ub, lb_sites
            if k_bound is not None:
                kk = min(k_bound, ub.size)
                top = np.partition(ub, ub.size - kk)[ub.size - kk:] if kk else ub[:0]
                best_ub = min(best_ub, f + float(top.sum()))
            if cover_bound:
                need = self.remaining()
                if need > 0:
                    srt = np.sort(ub[ub > 0])[::-1]
                    m = int(np.searchsorted(np.cumsum(srt), need - 0.5)) + 1
                    lb_sites = max(lb_sites, min(m, srt.size + 1))

        track()
        while t < max_picks and heap:
            while heap:
                negg, i = heap[0]
                if stamp[i] == t:
                    break
                heapq.heappop(heap)
                g = self.gain(i)
                ub[i] = g
                stamp[i] = t
                if g > 0:
                    heapq.heappush(heap, (-g, i))
            if not heap:
                break
            negg, i = heapq.heappop(heap)
            gg = self.group_gains(i)
            f += -negg
            idx = self.indices[self.indptr[i]:self.indptr[i + 1]]
            self.r[idx] = 0.0
            self.rem_all -= float(gg.sum())
            self.rem = self.rem - gg
            ub[i] = 0.0
            order.append(i)
            t += 1
            if t == next_check or t == max_picks:
                # exact gains at S_1, S_2, S_4, ... and at the end: a tighter bound, a fresh heap
                ub = self.all_gains()
                ub[order] = 0.0
                stamp[:] = t
                heap = [(-g, j) for j, g in zip(np.flatnonzero(ub > 0).tolist(), ub[ub > 0].tolist())]
                heapq.heapify(heap)
                next_check *= 2
            track()
        return np.asarray(order, dtype=np.int64), best_ub, lb_sites, f


# --------------------------------------------------------------------------------------------
# instance preparation and reductions
# --------------------------------------------------------------------------------------------
@dataclass
class _Instance:
    indptr: np.ndarray
    indices: np.ndarray
    n_cand: int
    n_dem: int
    weights: np.ndarray
    covered: np.ndarray
    w_eff: np.ndarray       # float weight still to cover
    w_int: np.ndarray       # integer-valued (float64) micro-units of w_eff
    scale: float
    total: float
    before: float
    reach: np.ndarray = field(default=None)  # demand reached by at least one candidate


def _prepare(cover, weights, already_covered) -> _Instance:
    indptr, indices, _, (n_c, n_d) = _canonical(cover, "cover")
    w = _check_weights(weights, n_d)
    cov = _check_covered(already_covered, n_d)
    total = float(w.sum())
    if total <= 0:
        raise InputError("all demand weights are zero: there is no population to cover",
                         field="weights", fix="attach population (or households) to demand points")
    w_eff = np.where(cov, 0.0, w)
    scale = _int_scale(total)
    w_int = np.round(w_eff * scale)
    reach = np.zeros(n_d, dtype=bool)
    reach[indices] = True
    return _Instance(indptr, indices, n_c, n_d, w, cov, w_eff, w_int, scale, total,
                     float(w[cov].sum()), reach)


def _hash_rows(indptr, indices, n_cols):
    rng = np.random.default_rng(_HASH_SEED)
    r1 = rng.integers(0, np.iinfo(np.int64).max, size=n_cols, dtype=np.int64).astype(np.uint64)
    r2 = rng.integers(0, np.iinfo(np.int64).max, size=n_cols, dtype=np.uint64)
    with np.errstate(over="ignore"):
        h1 = _segment_sums(r1[indices], indptr)
        h2 = _segment_sums(r2[indices] * np.uint64(2654435761), indptr)
    return h1, h2


def _identical_rows(indptr, indices, n_cols, extra=None) -> np.ndarray:
    """For each CSR row, the lowest-index row with exactly the same stored columns (and ``extra``)."""
    n = indptr.size - 1
    cnt = np.diff(indptr)
    h1, h2 = _hash_rows(indptr, indices, n_cols)
    extra = np.zeros(n, dtype=np.int64) if extra is None else np.asarray(extra, dtype=np.int64)
    order = np.lexsort((np.arange(n), h2, h1, cnt, extra))
    ks = (extra[order], cnt[order], h1[order], h2[order])
    start = np.ones(n, dtype=bool)
    if n > 1:
        start[1:] = np.any([k[1:] != k[:-1] for k in ks], axis=0)
    gid = np.cumsum(start) - 1
    rep = np.empty(n, dtype=np.int64)
    rep[order] = order[np.flatnonzero(start)][gid]
    # verify (hash collisions): members whose columns differ from their representative stay alone
    m = np.flatnonzero(rep != np.arange(n))
    if m.size:
        c = cnt[m]
        offs = np.arange(c.sum()) - np.repeat(np.cumsum(c) - c, c)
        a = indices[np.repeat(indptr[m], c) + offs]
        b = indices[np.repeat(indptr[rep[m]], c) + offs]
        bad = np.zeros(m.size, dtype=bool)
        diff = (a != b).astype(np.int64)
        nz = np.flatnonzero(c > 0)
        if nz.size:
            bad[nz] = np.add.reduceat(diff, (np.cumsum(c) - c)[nz]) > 0
        rep[m[bad]] = m[bad]
    return rep


@dataclass
class _Reduced:
    cand: np.ndarray        # original candidate index of each reduced candidate
    R: sp.csr_array         # reduced candidates × merged demand (pattern), only multi-covered
    col_weight: np.ndarray  # float weight of each merged demand column
    col_group: np.ndarray   # group code of each merged demand column
    x_weight: np.ndarray    # (n_reduced_cand, G) weight folded from demand reached by one candidate
    nnz: int


def _reduce(inst: _Instance, codes: np.ndarray, G: int) -> _Reduced:
    n_c, n_d = inst.n_cand, inst.n_dem
    P = sp.csr_array((np.ones(inst.indices.size, dtype=np.int8), inst.indices, inst.indptr),
                     shape=(n_c, n_d))
    cols = np.flatnonzero((inst.w_int > 0) & inst.reach)
    Pc = P[:, cols].tocsr()
    Pc.sort_indices()
    ip, ix = Pc.indptr.astype(np.int64), Pc.indices.astype(np.int64)
    nonempty = np.flatnonzero(np.diff(ip) > 0)
    rep = _identical_rows(ip, ix, cols.size)
    keep = nonempty[rep[nonempty] == nonempty]
    Rk = Pc[keep].tocsc()
    Rk.sort_indices()
    # merge demand with an identical set of candidates (and group)
    cip, cix = Rk.indptr.astype(np.int64), Rk.indices.astype(np.int64)
    ccodes = codes[cols]
    crep = _identical_rows(cip, cix, keep.size, extra=ccodes)
    cnt = np.diff(cip)
    w = inst.w_eff[cols]
    single = cnt == 1
    x_weight = np.zeros((keep.size, G))
    if single.any():
        np.add.at(x_weight, (cix[cip[:-1][single]], ccodes[single]), w[single])
    multi_rep = np.flatnonzero((crep == np.arange(cols.size)) & ~single)
    agg = np.zeros(cols.size)
    np.add.at(agg, crep[~single], w[~single])
    R = Rk[:, multi_rep].tocsr()
    return _Reduced(keep, R, agg[multi_rep], ccodes[multi_rep], x_weight, int(Rk.nnz))


# --------------------------------------------------------------------------------------------
# HiGHS
# --------------------------------------------------------------------------------------------
def _highs_solve(n_x, n_y, cost, sense_max, rows_csr, row_lo, row_up, start, time_limit,
                 mip_rel_gap, mip_abs_gap=1e-6, col_upper=None, integer=True, objective_bound=None):
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    h.setOptionValue("mip_abs_gap", float(mip_abs_gap))
    if objective_bound is not None:
        # maximisation that only needs to tell whether it can reach ``objective_bound``:
        # stop as soon as the dual bound proves it cannot
        def _stop_when_unreachable(e):
            if e.data_out.mip_dual_bound < objective_bound:
                e.interrupt()
        h.cbMipInterrupt.subscribe(_stop_when_unreachable)
    h.setOptionValue("random_seed", 0)
    n = n_x + n_y
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = rows_csr.shape[0]
    lp.col_cost_ = np.asarray(cost, dtype=np.float64)
    lp.col_lower_ = np.zeros(n)
    lp.col_upper_ = np.ones(n) if col_upper is None else np.asarray(col_upper, dtype=np.float64)
    lp.row_lower_ = np.asarray(row_lo, dtype=np.float64)
    lp.row_upper_ = np.asarray(row_up, dtype=np.float64)
    lp.sense_ = highspy.ObjSense.kMaximize if sense_max else highspy.ObjSense.kMinimize
    a = lp.a_matrix_
    a.format_ = highspy.MatrixFormat.kRowwise
    a.num_row_ = rows_csr.shape[0]
    a.num_col_ = n
    a.start_ = rows_csr.indptr.astype(np.int32)
    a.index_ = rows_csr.indices.astype(np.int32)
    a.value_ = rows_csr.data.astype(np.float64)
    if integer:
        lp.integrality_ = ([highspy.HighsVarType.kInteger] * n_x
                           + [highspy.HighsVarType.kContinuous] * n_y)
    h.passModel(lp)
    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(start, dtype=np.float64).tolist()
        h.setSolution(sol)
    t0 = time.perf_counter()
    h.run()
    secs = time.perf_counter() - t0
    status = h.getModelStatus()
    info = h.getInfo()
    x = None
    if info.primal_solution_status == 2:  # feasible solution available
        x = np.asarray(h.getSolution().col_value[:n_x]) > 0.5
    if not integer:
        dual_bound = float(info.objective_function_value) if status == highspy.HighsModelStatus.kOptimal \
            else math.nan
        return ("optimal" if status == highspy.HighsModelStatus.kOptimal else "not solved",
                None, dual_bound, 0.0, time.perf_counter() - t0)
    name = {highspy.HighsModelStatus.kOptimal: "optimal",
            highspy.HighsModelStatus.kTimeLimit: "time_limit",
            highspy.HighsModelStatus.kInfeasible: "infeasible",
            highspy.HighsModelStatus.kInterrupt: "interrupted"}.get(status, h.modelStatusToString(status))
    return name, x, float(info.mip_dual_bound), float(info.mip_gap), secs


def _coverage_rows(R: sp.csr_array, n_x: int, extra_rows: list[np.ndarray]) -> sp.csr_array:
    """Rows y_j - sum_{i covers j} x_i <= 0 for merged demand j, then the given dense extra rows."""
    n_y = R.shape[1]
    Rt = sp.csr_array(R.T).astype(np.float64)
    link = sp.hstack([-Rt, sp.eye_array(n_y, format="csr")], format="csr")
    extra = sp.csr_array(np.vstack(extra_rows)) if extra_rows else None
    return sp.vstack([link, extra], format="csr") if extra is not None else link


# --------------------------------------------------------------------------------------------
# ordering and reporting
# --------------------------------------------------------------------------------------------
def _order_sites(inst: _Instance, chosen: np.ndarray) -> np.ndarray:
    """Order a chosen set by marginal added population (greedy within the set; ties lowest index);
    sites that add nothing are dropped."""
    active = np.zeros(inst.n_cand, dtype=bool)
    active[chosen] = True
    g = _Greedy(inst.indptr, inst.indices, inst.w_int, np.zeros(inst.n_dem, np.int64), 1,
                math.inf, [math.inf], active)
    order, *_ = g.run(max_picks=int(active.sum()))
    return order


def _added(inst: _Instance, order: np.ndarray):
    covered = np.zeros(inst.n_dem, dtype=bool)
    added = np.empty(order.size)
    for n, i in enumerate(order):  # loop over the (few) selected sites; rows are vectorised
        idx = inst.indices[inst.indptr[i]:inst.indptr[i + 1]]
        new = idx[~covered[idx]]
        added[n] = inst.w_eff[new].sum()
        covered[new] = True
    return added, covered


def _result(inst, order, method, status, bound, solve_seconds, objective=None, **kw):
    added, newly = _added(inst, order)
    cum = (inst.before + np.cumsum(added)) / inst.total
    obj = float(added.sum()) if objective is None else objective
    return SitingResult(
        selected=order, added=added, cumulative_rate=cum, covered_before=inst.before,
        covered_after=inst.before + float(added.sum()), objective=obj, method=method,
        bound=bound, gap=kw.pop("gap", _rel_gap(obj, bound)), status=status,
        solve_seconds=solve_seconds, total=inst.total, **kw)


def _rel_gap(obj, bound):
    if bound is None or not np.isfinite(bound):
        return math.nan
    denom = max(abs(bound), abs(obj), 1e-12)
    return max(0.0, abs(bound - obj) / denom)


# --------------------------------------------------------------------------------------------
# max coverage
# --------------------------------------------------------------------------------------------
def max_coverage(cover, weights, k, already_covered=None, method="auto", time_limit=60,
                 mip_rel_gap=0.0) -> SitingResult:
    """Choose up to ``k`` new sites covering the most population not yet covered.

    Fewer than ``k`` sites are returned when the others would add nobody. See the module
    docstring for the exact/greedy/auto rule; the greedy ``bound`` is
    min(min_t f(S_t) + sum of the k largest marginal gains w.r.t. S_t, f(S_k) / (1 - 1/e)).
    """
    method = _check_method(method)
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 0:
        raise InputError(f"k must be a whole number ≥ 0, got {k!r}", field="k",
                         fix="pass the number of new sites to choose")
    k = int(k)
    t0 = time.perf_counter()
    inst = _prepare(cover, weights, already_covered)
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
    small = red.nnz <= AUTO_MAX_NNZ and red.cand.size <= AUTO_MAX_CANDIDATES
    if method == "auto" and not small:
        greedy.solve_seconds = time.perf_counter() - t0
        greedy.message = (f"greedy: reduced instance {red.cand.size} candidates, {red.nnz} pairs "
                          f"exceeds the exact size rule ({AUTO_MAX_CANDIDATES}, {AUTO_MAX_NNZ})")
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


def _start_from(inst, red, order, pos, n_x):
    x = np.zeros(n_x)
    if order.size:
        # a greedy site dropped as a duplicate maps to its lowest-index twin, which is in red.cand
        P = pos[order]
        x[P[P >= 0]] = 1.0
    cov = (red.R.T @ x) > 0 if red.R.shape[1] else np.zeros(0, dtype=bool)
    return np.concatenate([x, cov.astype(np.float64)])


# --------------------------------------------------------------------------------------------
# fewest sites for a target
# --------------------------------------------------------------------------------------------
def min_sites_for_target(cover, weights, target=None, already_covered=None, groups=None,
                         group_targets=None, method="auto", time_limit=60,
                         mip_rel_gap=0.0) -> SitingResult:
    """Fewest new sites so that the covered share reaches ``target`` overall and/or each group's
    target (``group_targets={'urban': 1.0, 'rural': 0.8}``, labels from ``groups``).

    A target that cannot be reached even with every candidate gives ``feasible=False`` with the
    best reachable rates; the sites returned then reach those rates. ``bound`` is a lower bound
    on the number of sites: for greedy, max_t of the fewest upper-bounded marginal gains that can
    close the remaining requirement; for exact, the LP relaxation (rounded up) raised by every
    budget proven too small.

    Exact search (``time_limit`` covers all of it): lower bound L from the LP relaxation, upper
    bound U from greedy; then a bisection on the budget k in [L, U], each step a budgeted MIP
    "max sum_t min(coverage_t, requirement_t) with at most k sites" that stops as soon as the
    requirement is met or HiGHS's dual bound proves it cannot be (solving the set-cover MIP
    directly stalled on partial targets in our tests). ``mip_rel_gap`` is unused here.
    """
    method = _check_method(method)
    t0 = time.perf_counter()
    inst = _prepare(cover, weights, already_covered)
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
        if labels.shape != (inst.n_dem,):
            raise InputError(f"groups has {labels.size} labels, expected {inst.n_dem}",
                             field="groups", fix="pass one group label per demand point")
        uniq, codes = np.unique(labels.astype(str), return_inverse=True)
        missing = [g for g in group_targets if str(g) not in set(uniq.tolist())]
        if missing:
            raise InputError(f"group_targets names groups not present in groups: {missing}",
                             field="group_targets", fix=f"use labels among {uniq.tolist()}")
    else:
        uniq, codes = np.array(["all"]), np.zeros(inst.n_dem, dtype=np.int64)
    codes = codes.astype(np.int64)
    G = uniq.size
    sc = inst.scale
    tot_g = np.bincount(codes, weights=inst.weights, minlength=G)
    bef_g = np.bincount(codes, weights=np.where(inst.covered, inst.weights, 0.0), minlength=G)
    reach_int = inst.w_int * inst.reach
    reach_g_int = np.bincount(codes, weights=reach_int, minlength=G)
    reach_g = bef_g + np.bincount(codes, weights=inst.w_eff * inst.reach, minlength=G)
    targets_g = np.full(G, np.nan)
    for g, v in (group_targets or {}).items():
        targets_g[np.flatnonzero(uniq == str(g))[0]] = float(v)
    tol = 1e-9
    rem_g = np.full(G, math.inf)
    infeasible = []
    for g in np.flatnonzero(np.isfinite(targets_g)):
        need = targets_g[g] * tot_g[g] - bef_g[g]
        if reach_g[g] < targets_g[g] * tot_g[g] - tol * inst.total:
            infeasible.append(f"{uniq[g]}: target {targets_g[g]:.1%}, reachable "
                              f"{reach_g[g] / tot_g[g] if tot_g[g] else 0:.1%}")
        rem_g[g] = min(max(0.0, math.ceil(need * sc - 1e-6)), reach_g_int[g])
    rem_all = math.inf if target is None else 0.0
    reach_all = inst.before + float((inst.w_eff * inst.reach).sum())
    if target is not None:
        need = float(target) * inst.total - inst.before
        if reach_all < float(target) * inst.total - tol * inst.total:
            infeasible.insert(0, f"overall: target {float(target):.1%}, reachable "
                                 f"{reach_all / inst.total:.1%}")
        rem_all = min(max(0.0, math.ceil(need * sc - 1e-6)), float(reach_int.sum()))
    if target is None:
        rem_all_for_greedy = 0.0  # no overall requirement: only the group terms count
    else:
        rem_all_for_greedy = rem_all
    active = np.diff(inst.indptr) > 0
    gr = _Greedy(inst.indptr, inst.indices, inst.w_int, codes, G, rem_all_for_greedy, rem_g, active)
    order, _, lb, _ = gr.run(max_picks=inst.n_cand, cover_bound=True)
    feasible = not infeasible
    msg = ("target reachable" if feasible else
           "target NOT reachable with every candidate built — " + "; ".join(infeasible)
           + ". The sites returned reach the best reachable rates.")
    extra = dict(feasible=feasible, message=msg, reachable_rate=reach_all / inst.total,
                 group_reachable={str(u): (reach_g[i] / tot_g[i] if tot_g[i] else math.nan)
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
    small = red.nnz <= AUTO_MAX_NNZ and red.cand.size <= AUTO_MAX_CANDIDATES
    if method == "auto" and not small:
        return finish(greedy)
    n_x, n_y = red.cand.size, red.R.shape[1]
    # requirement rows in population units (the rounded integer requirement converted back)
    req_rows, need = [], []
    if target is not None:
        req_rows.append(np.concatenate([red.x_weight.sum(axis=1), red.col_weight]))
        need.append(rem_all / sc - tol * inst.total)
    for g in np.flatnonzero(np.isfinite(rem_g)):
        req_rows.append(np.concatenate([red.x_weight[:, g],
                                        np.where(red.col_group == g, red.col_weight, 0.0)]))
        need.append(rem_g[g] / sc - tol * inst.total)
    need = np.maximum(np.asarray(need), 0.0)
    n_t = need.size
    deadline = t0 + float(time_limit)
    # (1) lower bound: LP relaxation of the set-cover model  min sum x  s.t. requirements
    rows = _coverage_rows(red.R, n_x, req_rows)
    lo = np.concatenate([np.full(n_y, -np.inf), need])
    up = np.concatenate([np.zeros(n_y), np.full(n_t, np.inf)])
    _, _, lp_val, _, _ = _highs_solve(n_x, n_y, np.concatenate([np.ones(n_x), np.zeros(n_y)]),
                                      False, rows, lo, up, None, max(1.0, deadline - time.perf_counter()),
                                      0.0, integer=False)
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
        tested.append((k, "cannot reach" if proven_short and x is not None and not
                       _meets(inst, codes, red.cand[x], rem_all if target is not None else None,
                              rem_g) else stt))
        if x is not None and _meets(inst, codes, red.cand[x], rem_all if target is not None
                                    else None, rem_g):
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
    res.message = msg + f" Exact search: LP lower bound {lower}, budgets tested " + \
        ", ".join(f"{k} ({st})" for k, st in tested) + "."
    if not feasible:
        res.status = "infeasible"
    return finish(res)


def _meets(inst, codes, sites, rem_all, rem_g) -> bool:
    """Do these sites reach the (integer-unit) requirements?"""
    _, newly = _added(inst, np.asarray(sites, dtype=np.int64))
    got = np.bincount(codes[newly], weights=inst.w_int[newly], minlength=len(rem_g))
    ok = np.all((got >= np.where(np.isfinite(rem_g), rem_g, 0.0)))
    if rem_all is not None:
        ok = ok and got.sum() >= rem_all
    return bool(ok)


# --------------------------------------------------------------------------------------------
# p-median
# --------------------------------------------------------------------------------------------
def p_median(dist_matrix_sparse, weights, p, unassigned_penalty_m=None, time_limit=60,
             max_pairs=PMEDIAN_MAX_PAIRS, max_candidates=PMEDIAN_MAX_CANDIDATES,
             mip_rel_gap=0.0) -> PMedianResult:
    """Choose up to ``p`` sites minimising the population-weighted walking distance from demand
    to its nearest chosen site, over pairs stored in the matrix (those within the cutoff).

    Demand with no candidate within the cutoff is reported in ``unreachable`` and left out.
    ``unassigned_penalty_m=None``: every other demand point must get a chosen site within the
    cutoff (``status='infeasible'`` when ``p`` sites cannot do it); a number lets the model leave a
    point unassigned at that cost in metres per person. Exact only (HiGHS), guarded by
    ``max_pairs`` / ``max_candidates``.
    """
    if not isinstance(p, (int, np.integer)) or isinstance(p, bool) or p < 1:
        raise InputError(f"p must be a whole number ≥ 1, got {p!r}", field="p",
                         fix="pass the number of sites to open")
    t0 = time.perf_counter()
    indptr, indices, data, (n_c, n_d) = _canonical(dist_matrix_sparse, "dist_matrix_sparse")
    w = _check_weights(weights, n_d)
    reach = np.zeros(n_d, dtype=bool)
    reach[indices] = True
    unreachable = np.flatnonzero(~reach)
    rows = np.repeat(np.arange(n_c, dtype=np.int64), np.diff(indptr))
    keep = w[indices] > 0
    pr, pc, pd_ = rows[keep], indices[keep], data[keep]
    cand = np.unique(pr)
    if pr.size > max_pairs or cand.size > max_candidates:
        raise InputError(
            f"p-median model too large for the exact solver: {cand.size} candidates, {pr.size} "
            f"candidate–demand pairs (limits {max_candidates}, {max_pairs})",
            field="dist_matrix_sparse",
            fix="lower the cutoff, thin the candidates (candidates_from_nodes spacing), aggregate "
                "demand to blocks, or raise max_pairs/max_candidates knowingly")
    dem = np.unique(pc)
    n_x, n_z = cand.size, pr.size
    xi = np.searchsorted(cand, pr)
    dj = np.searchsorted(dem, pc)
    n_u = dem.size if unassigned_penalty_m is not None else 0
    ncol = n_x + n_z + n_u
    cost = np.concatenate([np.zeros(n_x), w[pc] * pd_,
                           (w[dem] * float(unassigned_penalty_m)) if n_u else np.zeros(0)])
    # rows: assignment sum_i z_ij (+ u_j) = 1 ; z_ij - x_i <= 0 ; sum x <= p
    zcols = n_x + np.arange(n_z)
    r_assign = sp.csr_array((np.ones(n_z), (dj, zcols)), shape=(dem.size, ncol))
    if n_u:
        r_assign = r_assign + sp.csr_array((np.ones(n_u), (np.arange(n_u), n_x + n_z + np.arange(n_u))),
                                           shape=(dem.size, ncol))
    r_link = sp.csr_array((np.concatenate([np.ones(n_z), -np.ones(n_z)]),
                           (np.tile(np.arange(n_z), 2), np.concatenate([zcols, xi]))),
                          shape=(n_z, ncol))
    r_p = sp.csr_array((np.ones(n_x), (np.zeros(n_x, dtype=np.int64), np.arange(n_x))),
                       shape=(1, ncol))
    A = sp.vstack([r_assign, r_link, r_p], format="csr")
    A.sort_indices()
    lo = np.concatenate([np.ones(dem.size), np.full(n_z, -np.inf), [-np.inf]])
    up = np.concatenate([np.ones(dem.size), np.zeros(n_z), [float(p)]])
    status, x, dual, mgap, secs = _highs_solve(n_x, n_z + n_u, cost, False, A, lo, up, None,
                                               time_limit, mip_rel_gap)
    assignment = np.full(n_d, -1, dtype=np.int64)
    distance = np.full(n_d, np.nan)
    if x is None:
        msg = (f"no solution ({status}): {p} sites cannot give every reachable demand point a site "
               "within the cutoff; raise p (min_sites_for_target(..., target=1.0) tells how many) "
               "or pass unassigned_penalty_m" if status == "infeasible" else f"HiGHS: {status}")
        return PMedianResult(np.zeros(0, np.int64), assignment, distance, math.nan, unreachable,
                             np.flatnonzero(reach), float(w[reach].sum()), math.nan, dual, math.nan,
                             status, "exact", time.perf_counter() - t0, msg)
    open_ = cand[x]
    is_open = np.zeros(n_c, dtype=bool)
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
    unassigned = np.flatnonzero(reach & ~assigned)
    objective = float((w[assigned] * distance[assigned]).sum())
    if n_u:
        objective += float(w[unassigned].sum()) * float(unassigned_penalty_m)
    pop = np.bincount(assignment[assigned], weights=w[assigned], minlength=n_c)[open_]
    selected = open_[np.lexsort((open_, -pop))]
    bound = objective if status == "optimal" else dual
    return PMedianResult(selected, assignment, distance, wmd, unreachable, unassigned,
                         float(w[unassigned].sum()), objective, bound, _rel_gap(objective, bound),
                         status, "exact", time.perf_counter() - t0)


# --------------------------------------------------------------------------------------------
# floor-area capacity
# --------------------------------------------------------------------------------------------
def capacity_report(selected, cover, weights_households, area_m2_per_site,
                    target_m2_per_100hh=30.0) -> pd.DataFrame:
    """Per site: households in its catchment, households assigned to it (each household to its
    nearest selected site within the threshold, ties lowest index), households its floor area
    supports (area / target × 100) and whether it is oversubscribed (assigned > supported).

    ``households_in_catchment`` counts a household once per site that reaches it, so it can exceed
    the total; ``oversubscribed`` uses the assignment so that shared households count once.
    """
    indptr, indices, data, (n_c, n_d) = _canonical(cover, "cover")
    hh = _check_weights(weights_households, n_d, "weights_households")
    sel = np.asarray(selected, dtype=np.int64).reshape(-1)
    if sel.size and (sel.min() < 0 or sel.max() >= n_c):
        raise InputError("selected contains indices outside the candidate rows of cover",
                         field="selected", fix=f"use candidate indices 0..{n_c - 1}")
    if np.unique(sel).size != sel.size:
        raise InputError("selected lists a site twice", field="selected", fix="remove duplicates")
    area = np.broadcast_to(np.asarray(area_m2_per_site, dtype=np.float64), sel.shape).copy() \
        if np.ndim(area_m2_per_site) == 0 else np.asarray(area_m2_per_site, dtype=np.float64)
    if area.shape != sel.shape:
        raise InputError(f"area_m2_per_site has {area.size} values for {sel.size} sites",
                         field="area_m2_per_site", fix="pass one floor area per selected site")
    if not np.all(np.isfinite(area)) or (area.size and area.min() < 0):
        raise InputError("floor areas must be finite and ≥ 0", field="area_m2_per_site",
                         fix="fill unknown areas before the report, or leave those sites out")
    if not (np.isfinite(target_m2_per_100hh) and target_m2_per_100hh > 0):
        raise InputError("target_m2_per_100hh must be > 0", field="target_m2_per_100hh",
                         fix="the national plan uses 30 m² per 100 households")
    rows = np.repeat(np.arange(n_c, dtype=np.int64), np.diff(indptr))
    catch = _segment_sums(hh[indices], indptr)[sel] if sel.size else np.zeros(0)
    is_sel = np.zeros(n_c, dtype=bool)
    is_sel[sel] = True
    m = is_sel[rows]
    orow, ocol, odat = rows[m], indices[m], data[m]
    o = np.lexsort((orow, odat, ocol))
    first = np.ones(o.size, dtype=bool)
    first[1:] = ocol[o][1:] != ocol[o][:-1]
    a = o[first]
    assigned = np.bincount(orow[a], weights=hh[ocol[a]], minlength=n_c)[sel]
    supported = area / float(target_m2_per_100hh) * 100.0
    with np.errstate(divide="ignore", invalid="ignore"):
        util = np.where(supported > 0, assigned / supported, np.where(assigned > 0, np.inf, 0.0))
    return pd.DataFrame({
        "site": sel,
        "floor_area_m2": area,
        "households_in_catchment": catch,
        "households_assigned": assigned,
        "supported_households": supported,
        "utilisation": util,
        "oversubscribed": assigned > supported + 1e-9,
        "area_shortfall_m2": np.maximum(0.0, assigned * float(target_m2_per_100hh) / 100.0 - area),
    })


# --------------------------------------------------------------------------------------------
# default candidates
# --------------------------------------------------------------------------------------------
def candidates_from_nodes(node_x, node_y, uncovered_x, uncovered_y, max_dist_m, spacing_m,
                          exclude_polygons=None):
    """Default candidate sites: network nodes within ``max_dist_m`` (straight line, which never
    exceeds the walking distance, so no node that could serve is lost) of an uncovered demand point,
    not inside an exclusion polygon, thinned to one node per ``spacing_m`` × ``spacing_m`` grid cell
    (cells anchored at coordinate 0; the node nearest the cell centre, ties lowest index).

    Returns ``(indices, excluded)``: sorted node indices kept, and a table of every other node with
    ``reason`` ('beyond_max_dist', 'in_exclusion_polygon', 'thinned') and ``detail``.
    """
    from scipy.spatial import cKDTree
    import shapely

    nx_, ny_ = (np.asarray(v, dtype=np.float64).reshape(-1) for v in (node_x, node_y))
    ux, uy = (np.asarray(v, dtype=np.float64).reshape(-1) for v in (uncovered_x, uncovered_y))
    if nx_.shape != ny_.shape or ux.shape != uy.shape:
        raise InputError("x and y coordinate arrays differ in length", field="node_x/uncovered_x",
                         fix="pass matching x and y arrays")
    for nm, arr in (("node_x/node_y", np.concatenate([nx_, ny_])),
                    ("uncovered_x/uncovered_y", np.concatenate([ux, uy]))):
        if not np.all(np.isfinite(arr)):
            raise InputError(f"{nm} contain NaN or infinite coordinates", field=nm,
                             fix="drop or repair points without coordinates before siting")
    if not (max_dist_m > 0 and spacing_m > 0):
        raise InputError("max_dist_m and spacing_m must be > 0", field="max_dist_m/spacing_m",
                         fix="use metres in a projected CRS, e.g. 1000 and 200")
    n = nx_.size
    reason = np.full(n, "", dtype=object)
    detail = np.full(n, "", dtype=object)
    if ux.size:
        d, _ = cKDTree(np.column_stack([ux, uy])).query(np.column_stack([nx_, ny_]), k=1,
                                                        distance_upper_bound=max_dist_m)
    else:
        d = np.full(n, np.inf)
    far = ~(d <= max_dist_m)
    reason[far] = "beyond_max_dist"
    detail[far] = (f"no uncovered demand within {max_dist_m:g} m (straight line)"
                   if ux.size else "there is no uncovered demand")
    ok = ~far
    if exclude_polygons is not None:
        if isinstance(exclude_polygons, (pd.Series, pd.DataFrame)):
            geoms = getattr(exclude_polygons, "geometry", exclude_polygons)
            labels = list(exclude_polygons.index)
        else:
            geoms = list(exclude_polygons)
            labels = list(range(len(geoms)))
        geoms = np.asarray(list(geoms), dtype=object)
        if geoms.size:
            if not all(isinstance(g, shapely.Geometry) for g in geoms):
                raise InputError("exclude_polygons must be shapely geometries",
                                 field="exclude_polygons", fix="pass a GeoSeries or list of polygons")
            cand_idx = np.flatnonzero(ok)
            tree = shapely.STRtree(geoms)
            pi, gi = tree.query(shapely.points(nx_[cand_idx], ny_[cand_idx]), predicate="intersects")
            if pi.size:
                o = np.lexsort((gi, pi))
                pi, gi = pi[o], gi[o]
                firstp = np.ones(pi.size, dtype=bool)
                firstp[1:] = pi[1:] != pi[:-1]
                hit = cand_idx[pi[firstp]]
                reason[hit] = "in_exclusion_polygon"
                detail[hit] = [f"exclusion polygon {labels[g]!r}" for g in gi[firstp]]
                ok[hit] = False
    idx = np.flatnonzero(ok)
    cx = np.floor(nx_[idx] / spacing_m).astype(np.int64)
    cy = np.floor(ny_[idx] / spacing_m).astype(np.int64)
    dc = np.hypot(nx_[idx] - (cx + 0.5) * spacing_m, ny_[idx] - (cy + 0.5) * spacing_m)
    o = np.lexsort((idx, dc, cy, cx))
    first = np.ones(o.size, dtype=bool)
    first[1:] = (cx[o][1:] != cx[o][:-1]) | (cy[o][1:] != cy[o][:-1])
    gid = np.cumsum(first) - 1
    winner = idx[o][first][gid]
    loser = ~first
    li = idx[o][loser]
    reason[li] = "thinned"
    detail[li] = [f"cell already has node {w} nearer its centre" for w in winner[loser]]
    kept = np.sort(idx[o][first])
    ex = np.flatnonzero(reason != "")
    excluded = pd.DataFrame({"node": ex, "reason": reason[ex].astype(str),
                             "detail": detail[ex].astype(str)})
    return kept, excluded
