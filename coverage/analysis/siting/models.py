"""The three siting models, in spopt's manner: build from data, then ``solve``.

Build a model from a sparse candidate × demand matrix (the constructor), from any cost matrix
and a service radius (``from_cost_matrix``), or from two GeoDataFrames with straight-line
distances (``from_geodataframe``); then ``model.solve(method="auto"|"exact"|"greedy",
time_limit=60)`` returns a :class:`SitingResult` / :class:`PMedianResult` (also kept as
``model.result``). Candidates are rows, demand points are columns, always.

Differences from spopt: the matrix is candidates × demand (spopt: demand × facilities) and sparse;
existing facilities (spopt's ``predefined_facilities_arr``) come *in addition* to the k / p new
sites, and p-median opens *up to* p new sites (spopt: exactly p including predefined ones).
"""

from __future__ import annotations

import time

from coverage.errors import InputError

from .distances import column_or_array, euclidean_within, within_radius
from .inputs import _check_count, _check_method, _check_sites, _prepare
from .maxcover import _solve_max_coverage
from .pmedian import _prepare_dist, _solve_p_median
from .results import PMedianResult, SitingResult
from .size_rules import PMEDIAN_MAX_CANDIDATES, PMEDIAN_MAX_PAIRS
from .target import _check_targets, _solve_min_sites

_GDF_NOTE = """Straight-line model between two GeoDataFrames{}.

        Distances are straight lines between the geometries (nearest points; 0 for a point in a
        polygon) in the frames' common *projected* CRS, built sparsely within the radius with a
        KD-tree (points) or an STRtree. This is for planners who have no walking network: a
        straight line never exceeds the walk, so it overstates coverage. Row order of
        ``candidates_gdf`` gives the candidate indices, row order of ``demand_gdf`` the demand
        indices. ``weight_col``, ``already_covered``, ``groups`` (demand) and ``existing``
        (candidates, a boolean column) may name columns."""


def _gdf_doc(extra=""):
    """Give a ``from_geodataframe`` the shared docstring."""
    def deco(f):
        f.__doc__ = _GDF_NOTE.format(extra)
        return f
    return deco


class _CoverageModel:
    """Shared by the coverage models: a checked instance and existing facilities."""

    def __init__(self, cover, weights, *, already_covered=None, existing=None):
        self.cover = cover
        self._inst = _prepare(cover, weights, already_covered, existing)
        self.existing = self._inst.existing
        self.result: SitingResult | None = None

    @staticmethod
    def _gdf_args(demand_gdf, candidates_gdf, weight_col, service_radius, distance, kw):
        cover = euclidean_within(demand_gdf, candidates_gdf, service_radius, distance)
        weights = column_or_array(demand_gdf, weight_col, "weight_col")
        for name in ("already_covered", "groups"):
            if kw.get(name) is not None:
                kw[name] = column_or_array(demand_gdf, kw[name], name)
        if kw.get("existing") is not None:
            kw["existing"] = column_or_array(candidates_gdf, kw["existing"], "existing")
        return cover, weights, kw


class MaxCoverage(_CoverageModel):
    r"""Maximal coverage (MCLP, Church & ReVelle 1974): up to ``k`` new sites covering the most
    population not yet covered.

    .. math::

        \max \sum_j a_j y_j \quad\text{s.t.}\quad
        y_j \le \sum_{i \in N_j} x_i \;\; \forall j, \qquad
        \sum_i x_i \le k, \qquad x_i \in \{0, 1\}, \; 0 \le y_j \le 1

    * ``x_i`` — 1 when candidate ``i`` is built; ``y_j`` — 1 when demand point ``j`` is newly
      covered (continuous: the objective drives it to its integer upper bound).
    * ``N_j`` — candidates with a stored entry for ``j`` (within the service radius).
    * ``a_j`` — weight of ``j``, or 0 when ``j`` is already covered: by ``already_covered`` or
      by one of the ``existing`` candidate rows (already built; not counted in ``k``, never in
      ``selected``, their population in ``covered_before``).

    Fewer than ``k`` sites come back when the others would add nobody. Solved on the reduced
    instance (:mod:`.reduce`). ``greedy``: lazy greedy with
    ``bound = min(min_t f(S_t) + k largest marginal gains w.r.t. S_t, f(S_k) / (1 - 1/e))``;
    ``exact`` and ``auto``: the LP relaxation, then HiGHS started from the better of greedy and
    the LP's sites, within ``time_limit`` (:mod:`.maxcover`); the best solution found is returned
    with its proven ``bound`` and ``gap``.
    """

    def __init__(self, cover, weights, k, *, already_covered=None, existing=None):
        self.k = _check_count(k, "k", 0, "new sites to choose")
        super().__init__(cover, weights, already_covered=already_covered, existing=existing)

    @classmethod
    def from_cost_matrix(cls, cost, weights, service_radius, k, *, already_covered=None,
                         existing=None) -> MaxCoverage:
        """``cost``: candidates × demand distances (scipy sparse: absent = beyond reach, explicit
        0 = distance 0; dense: ``inf`` = beyond reach); covered means ≤ ``service_radius``."""
        return cls(within_radius(cost, service_radius), weights, k,
                   already_covered=already_covered, existing=existing)

    @classmethod
    @_gdf_doc()
    def from_geodataframe(cls, demand_gdf, candidates_gdf, weight_col, service_radius, k, *,
                          already_covered=None, existing=None,
                          distance="euclidean") -> MaxCoverage:
        cover, w, kw = cls._gdf_args(demand_gdf, candidates_gdf, weight_col, service_radius,
                                     distance, dict(already_covered=already_covered,
                                                    existing=existing))
        return cls(cover, w, k, **kw)

    def solve(self, method="auto", time_limit=60, mip_rel_gap=0.0) -> SitingResult:
        """Solve with "auto" or "exact" (HiGHS within ``time_limit`` seconds, started from greedy;
        the best solution found and its proven gap) or "greedy". May be called again with another
        method."""
        method = _check_method(method)
        self.result = _solve_max_coverage(self._inst, self.k, method, time_limit, mip_rel_gap,
                                          time.perf_counter())
        return self.result


class MinSitesForTarget(_CoverageModel):
    r"""Fewest new sites so that the covered share reaches ``target`` overall and/or each group's
    target (``group_targets={'urban': 1.0, 'rural': 0.8}``, labels from ``groups``).

    .. math::

        \min \sum_i x_i \quad\text{s.t.}\quad
        \sum_j a_j y_j \ge T W - C, \qquad
        \sum_{j \in g} a_j y_j \ge T_g W_g - C_g \;\; \forall g, \qquad
        y_j \le \sum_{i \in N_j} x_i, \qquad x_i \in \{0,1\}, \; 0 \le y_j \le 1

    ``W`` / ``W_g`` — total population (of group g), ``C`` / ``C_g`` — population already
    covered (``already_covered`` or an ``existing`` row), ``T`` / ``T_g`` — target shares; ``a``,
    ``y``, ``x``, ``N_j`` as in :class:`MaxCoverage`. Each requirement is capped at what every
    candidate together can reach: an unreachable target gives ``feasible=False`` and the sites
    reaching the best reachable rates. ``bound`` is a lower bound on the number of sites.

    Solving (``mip_rel_gap`` unused): greedy on the truncated coverage; exact is the LP bound
    followed by a bisection on the budget with budgeted MIPs (:mod:`.target`); ``auto`` as in
    :class:`MaxCoverage`.
    """

    def __init__(self, cover, weights, target=None, *, groups=None, group_targets=None,
                 already_covered=None, existing=None):
        super().__init__(cover, weights, already_covered=already_covered, existing=existing)
        self.targets = _check_targets(self._inst.n_dem, target, groups, group_targets)

    @classmethod
    def from_cost_matrix(cls, cost, weights, service_radius, target=None, *, groups=None,
                         group_targets=None, already_covered=None,
                         existing=None) -> MinSitesForTarget:
        """``cost`` as in :meth:`MaxCoverage.from_cost_matrix`."""
        return cls(within_radius(cost, service_radius), weights, target, groups=groups,
                   group_targets=group_targets, already_covered=already_covered,
                   existing=existing)

    @classmethod
    @_gdf_doc()
    def from_geodataframe(cls, demand_gdf, candidates_gdf, weight_col, service_radius,
                          target=None, *, groups=None, group_targets=None, already_covered=None,
                          existing=None, distance="euclidean") -> MinSitesForTarget:
        cover, w, kw = cls._gdf_args(demand_gdf, candidates_gdf, weight_col, service_radius,
                                     distance, dict(groups=groups, already_covered=already_covered,
                                                    existing=existing))
        return cls(cover, w, target, group_targets=group_targets, **kw)

    def solve(self, method="auto", time_limit=60, mip_rel_gap=0.0) -> SitingResult:
        """As :meth:`MaxCoverage.solve`; ``time_limit`` covers the whole exact search."""
        method = _check_method(method)
        self.result = _solve_min_sites(self._inst, self.targets, method, time_limit,
                                       time.perf_counter())
        return self.result


class PMedian:
    r"""p-median (Hakimi 1964; ReVelle & Swain 1970): up to ``p`` new sites, besides the
    ``existing`` ones, minimising the population-weighted distance from demand to its site.

    .. math::

        \min \sum_j \sum_{i \in N_j} w_j d_{ij} z_{ij} + \sum_j P\, w_j u_j
        \quad\text{s.t.}\quad
        \sum_{i \in N_j} z_{ij} + u_j = 1 \;\; \forall j, \qquad
        z_{ij} \le x_i, \qquad
        \sum_{i \notin E} x_i \le p, \qquad
        x_i = 1 \;\; \forall i \in E

    with ``x_i`` binary, ``0 ≤ z_ij ≤ 1`` (demand j assigned to site i), ``u_j ≥ 0`` (j left
    unassigned; only with ``unassigned_penalty_m`` = P metres per person, otherwise ``u = 0`` and
    every reachable point must get an open site within the cutoff, else
    ``status='infeasible'``). ``N_j``: candidates with a stored entry for j (within the cutoff);
    demand with none is reported in ``unreachable`` and left out, as is weightless demand.

    ``existing`` (set E): candidate indices kept open whatever happens, *in addition* to the p new
    sites (so p = 0 only places nobody and assigns demand to the existing sites). They are
    part of ``selected`` (the assignment may point at them); ``result.new`` lists the new ones.

    ``solve``: ``exact`` (and ``auto``, unchanged: always exact) builds the model for HiGHS and
    refuses instances above ``max_pairs`` / ``max_candidates``; ``greedy`` opens the site that
    lowers the objective most, p times (no bound).
    """

    def __init__(self, dist, weights, p, *, unassigned_penalty_m=None, existing=None):
        self._dist = _prepare_dist(dist, weights)
        self.existing = _check_sites(existing, self._dist.n_cand, "existing")
        self.p = _check_count(p, "p", 0 if self.existing.size else 1, "new sites to open")
        if unassigned_penalty_m is not None:
            unassigned_penalty_m = float(unassigned_penalty_m)
            if not unassigned_penalty_m >= 0 or unassigned_penalty_m == float("inf"):
                raise InputError("unassigned_penalty_m must be finite and ≥ 0",
                                 field="unassigned_penalty_m",
                                 fix="pass metres per person, e.g. twice the cutoff, or None")
        self.unassigned_penalty_m = unassigned_penalty_m
        self.dist = dist
        self.result: PMedianResult | None = None

    @classmethod
    def from_cost_matrix(cls, cost, weights, service_radius, p, *, unassigned_penalty_m=None,
                         existing=None) -> PMedian:
        """``cost`` as in :meth:`MaxCoverage.from_cost_matrix`; ``service_radius`` is the cutoff
        (None: every stored / finite pair)."""
        return cls(within_radius(cost, service_radius, optional_radius=True), weights, p,
                   unassigned_penalty_m=unassigned_penalty_m, existing=existing)

    @classmethod
    @_gdf_doc(" (``service_radius`` None: no cutoff)")
    def from_geodataframe(cls, demand_gdf, candidates_gdf, weight_col, service_radius, p, *,
                          unassigned_penalty_m=None, existing=None,
                          distance="euclidean") -> PMedian:
        dist = euclidean_within(demand_gdf, candidates_gdf, service_radius, distance,
                                optional_radius=True)
        w = column_or_array(demand_gdf, weight_col, "weight_col")
        if existing is not None:
            existing = column_or_array(candidates_gdf, existing, "existing")
        return cls(dist, w, p, unassigned_penalty_m=unassigned_penalty_m, existing=existing)

    def solve(self, method="auto", time_limit=60, mip_rel_gap=0.0, max_pairs=PMEDIAN_MAX_PAIRS,
              max_candidates=PMEDIAN_MAX_CANDIDATES) -> PMedianResult:
        """``"exact"`` / ``"auto"`` (HiGHS; refuses models above ``max_pairs`` / ``max_candidates``)
        or ``"greedy"``; ``time_limit`` in seconds for HiGHS."""
        method = _check_method(method)
        self.result = _solve_p_median(self._dist, self.p, self.unassigned_penalty_m,
                                      self.existing, method, time_limit, max_pairs,
                                      max_candidates, mip_rel_gap, time.perf_counter())
        return self.result
