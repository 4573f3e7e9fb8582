"""The size rules, in one place: when ``method="auto"`` is exact, and how big a p-median may be.

``method="auto"`` (maximal coverage, fewest sites for a target) solves exactly when the *reduced*
instance (see :mod:`.reduce`) has at most ``AUTO_MAX_NNZ`` candidate–demand pairs and at most
``AUTO_MAX_CANDIDATES`` candidates, and keeps the greedy answer otherwise.

The exact p-median model has one variable and one row per candidate–demand pair; it refuses
instances above ``PMEDIAN_MAX_PAIRS`` pairs or ``PMEDIAN_MAX_CANDIDATES`` candidates.
"""

from __future__ import annotations

#: Size rule of ``method="auto"``: exact when the reduced instance is at most this big.
AUTO_MAX_NNZ = 2_000_000
AUTO_MAX_CANDIDATES = 5_000
#: Size guard of the exact p-median model (one variable and one row per candidate–demand pair).
PMEDIAN_MAX_PAIRS = 300_000
PMEDIAN_MAX_CANDIDATES = 3_000


def auto_uses_exact(n_candidates: int, n_pairs: int) -> bool:
    """The ``method="auto"`` rule: exact for a reduced instance of this size, greedy otherwise."""
    return n_pairs <= AUTO_MAX_NNZ and n_candidates <= AUTO_MAX_CANDIDATES


def auto_greedy_message(n_candidates: int, n_pairs: int) -> str:
    """Why ``method="auto"`` kept greedy."""
    return (f"greedy: reduced instance {n_candidates} candidates, {n_pairs} pairs exceeds the "
            f"exact size rule ({AUTO_MAX_CANDIDATES}, {AUTO_MAX_NNZ})")
