"""Lazy greedy for (truncated) coverage and its data-dependent optimality bound.

Gains are kept in integer micro-units of population (see ``inputs._int_scale``) so that sums and
ties are exact; ties go to the lowest candidate index. The objective is monotone submodular, so
a stale gain is an upper bound on the current one and lazy evaluation picks exactly what plain
greedy would.

Bounds tracked while picking (Nemhauser–Wolsey–Fisher; Minoux's data-dependent form):

* max coverage, budget k: for every prefix S_t, OPT ≤ f(S_t) + (sum of the k largest marginal
  gains w.r.t. S_t); the minimum over t is returned (``k_bound``). Independently,
  OPT ≤ f(S_k) / (1 - 1/e).
* fewest sites: for every prefix, at least (fewest upper-bounded gains whose sum reaches the
  remaining requirement) more sites are needed (``cover_bound``).
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from .inputs import _segment_sums

ONE_MINUS_INV_E = 1.0 - 1.0 / math.e


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
