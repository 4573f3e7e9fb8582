"""Siting new stations: maximal coverage, fewest sites for a target, p-median; capacity.

Where things are (one job per module):

* ``models``      — the models: :class:`MaxCoverage`, :class:`MinSitesForTarget`, :class:`PMedian`
                    (formulations in their docstrings; ``from_cost_matrix``, ``from_geodataframe``,
                    ``solve``)
* ``functions``   — the one-call API: :func:`max_coverage`, :func:`min_sites_for_target`,
                    :func:`p_median`
* ``results``     — :class:`SitingResult`, :class:`PMedianResult`
* ``size_rules``  — the p-median size guard (``method="auto"``: the time limit decides)
* ``maxcover``, ``target``, ``pmedian`` — the solvers behind each model
* ``greedy``      — lazy greedy and its data-dependent bound
* ``reduce``      — problem reductions (identical rows, merged demand)
* ``highs``       — building and solving the HiGHS model
* ``inputs``      — input checks; ``distances`` — cost matrices and straight-line distances
* ``capacity``    — :func:`capacity_report`; ``candidates`` — :func:`candidates_from_nodes`
* ``plan``        — siting inside a study run
"""

from .candidates import candidates_from_nodes
from .capacity import capacity_report
from .functions import max_coverage, min_sites_for_target, p_median
from .models import MaxCoverage, MinSitesForTarget, PMedian
from .results import PMedianResult, SitingResult
from .size_rules import PMEDIAN_MAX_CANDIDATES, PMEDIAN_MAX_PAIRS

__all__ = [
    "MaxCoverage", "MinSitesForTarget", "PMedian", "SitingResult", "PMedianResult",
    "max_coverage", "min_sites_for_target", "p_median", "capacity_report", "candidates_from_nodes",
    "PMEDIAN_MAX_PAIRS", "PMEDIAN_MAX_CANDIDATES",
]
