"""The function API of the siting models: one call builds the model and solves it.

Kept for callers of the earlier module (the study's ``plan.py``, scripts); each is a thin wrapper
over the class in :mod:`.models`, which documents the model.
"""

from __future__ import annotations

from .inputs import _check_method
from .models import MaxCoverage, MinSitesForTarget, PMedian
from .results import PMedianResult, SitingResult
from .size_rules import PMEDIAN_MAX_CANDIDATES, PMEDIAN_MAX_PAIRS


def max_coverage(cover, weights, k, already_covered=None, method="auto", time_limit=60,
                 mip_rel_gap=0.0) -> SitingResult:
    """Choose up to ``k`` new sites covering the most population not yet covered
    (:class:`~.models.MaxCoverage`). ``cover``: sparse candidates × demand, stored = within reach.
    """
    _check_method(method)
    return MaxCoverage(cover, weights, k, already_covered=already_covered).solve(
        method, time_limit, mip_rel_gap)


def min_sites_for_target(cover, weights, target=None, already_covered=None, groups=None,
                         group_targets=None, method="auto", time_limit=60,
                         mip_rel_gap=0.0) -> SitingResult:
    """Fewest new sites so that the covered share reaches ``target`` overall and/or each group's
    target (:class:`~.models.MinSitesForTarget`). ``mip_rel_gap`` is unused."""
    _check_method(method)
    return MinSitesForTarget(cover, weights, target, groups=groups, group_targets=group_targets,
                             already_covered=already_covered).solve(method, time_limit,
                                                                    mip_rel_gap)


def p_median(dist_matrix_sparse, weights, p, unassigned_penalty_m=None, time_limit=60,
             max_pairs=PMEDIAN_MAX_PAIRS, max_candidates=PMEDIAN_MAX_CANDIDATES,
             mip_rel_gap=0.0) -> PMedianResult:
    """Choose up to ``p`` sites minimising the population-weighted walking distance from demand
    to its nearest chosen site, over the stored pairs (within the cutoff); exact only
    (:class:`~.models.PMedian`)."""
    return PMedian(dist_matrix_sparse, weights, p, unassigned_penalty_m=unassigned_penalty_m
                   ).solve("exact", time_limit, mip_rel_gap, max_pairs, max_candidates)
