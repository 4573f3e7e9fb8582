"""The size rule, in one place: how big a p-median may be.

``method="auto"`` of the coverage models (maximal coverage, fewest sites for a target) has no size
rule: the time limit decides. HiGHS runs within ``time_limit`` started from greedy, and the result
is the best solution found with its proven gap (see :mod:`.maxcover`, :mod:`.target`).

The exact p-median model has one variable and one row per candidate–demand pair; it refuses
instances above ``PMEDIAN_MAX_PAIRS`` pairs or ``PMEDIAN_MAX_CANDIDATES`` candidates.
"""

from __future__ import annotations

#: Size guard of the exact p-median model (one variable and one row per candidate–demand pair).
PMEDIAN_MAX_PAIRS = 300_000
PMEDIAN_MAX_CANDIDATES = 3_000
