"""Result objects of the siting models, and how a chosen site set is ranked and reported."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .greedy import _Greedy
from .inputs import _Instance


@dataclass
class SitingResult:
    """Sites chosen by ``max_coverage`` or ``min_sites_for_target``.

    ``selected`` is ordered by marginal added population (ties: lowest index); ``added[i]`` is what
    site ``selected[i]`` adds given the ones before it; ``cumulative_rate[i]`` is the overall covered
    share (existing + new) after it. ``objective`` is the newly covered population for
    ``max_coverage`` and the number of sites for ``min_sites_for_target``. ``bound`` is an upper
    bound on the best possible objective for max coverage, a lower bound on the number of sites for
    the target problem; ``gap`` is the relative distance between ``objective`` and ``bound``.
    ``existing`` lists candidate rows given as already built: their population is in
    ``covered_before`` and they never appear in ``selected``.
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
    existing: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # kept open

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
    """Sites chosen by ``p_median`` / ``PMedian`` and the resulting nearest-site assignment.

    ``selected`` lists every open site — the ``existing`` ones kept open and the new ones — so that
    ``assignment`` always points into it; ``new`` lists only the new ones.
    """

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
    existing: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def new(self) -> np.ndarray:
        """The selected sites that are not existing ones, in ``selected`` order."""
        return self.selected[~np.isin(self.selected, self.existing)]



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
    """Population each site of ``order`` adds after the ones before it; demand they reach."""
    covered = np.zeros(inst.n_dem, dtype=bool)
    added = np.empty(order.size)
    for n, i in enumerate(order):  # loop over the (few) selected sites; rows are vectorised
        idx = inst.indices[inst.indptr[i]:inst.indptr[i + 1]]
        new = idx[~covered[idx]]
        added[n] = inst.w_eff[new].sum()
        covered[new] = True
    return added, covered


def _result(inst, order, method, status, bound, solve_seconds, objective=None, **kw):
    """A SitingResult for sites ``order`` (already ranked) on instance ``inst``."""
    added, newly = _added(inst, order)
    cum = (inst.before + np.cumsum(added)) / inst.total
    obj = float(added.sum()) if objective is None else objective
    return SitingResult(
        selected=order, added=added, cumulative_rate=cum, covered_before=inst.before,
        covered_after=inst.before + float(added.sum()), objective=obj, method=method,
        bound=bound, gap=kw.pop("gap", _rel_gap(obj, bound)), status=status,
        solve_seconds=solve_seconds, total=inst.total, existing=inst.existing, **kw)


def _rel_gap(obj, bound):
    """Relative distance between an objective and its bound (NaN without a finite bound)."""
    if bound is None or not np.isfinite(bound):
        return math.nan
    denom = max(abs(bound), abs(obj), 1e-12)
    return max(0.0, abs(bound - obj) / denom)

