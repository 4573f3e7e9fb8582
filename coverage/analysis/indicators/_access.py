"""Distance kinds (on foot or by the indicator's mode): population_coverage,
community_within_circle, township_within_circle."""

from __future__ import annotations

import numpy as np
import pandas as pd

from coverage.core.modes import mode_label

from ._count import township_gap_unit, townships_of
from ._rows import (AREA_ID, AREA_NAME, _TOL, agg_share, append_note, frame, gap, no_units,
                    not_measurable, units)
from ._text import (EMPTY, NM_POP, OK, T, communities_word, outside, people_covered, status,
                    townships_word)


def _covered_by_community(st, cov):
    pop = st.com["population"]
    cp = pd.Series(st.d_pop[st.d_in] * cov[st.d_in]).groupby(st.d_cid[st.d_in]).sum()
    cpop = st.com.index.to_series().map(cp).fillna(0.0)
    return cpop, pop


def _outside_note(st) -> T:
    if st.demand is None or st.d_in.all():
        return EMPTY
    out = ~st.d_in
    return outside(int(out.sum()), float(st.d_pop[out].sum()))


def _share_rows(ind, level, ids, names, c, p, target, comparison):
    """Covered population share per unit (one row each)."""
    c, p = np.asarray(c, float), np.asarray(p, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(p > 0, 100.0 * c / np.where(p > 0, p, 1), np.nan)
    return frame(ind, level, ids, names, measure="covered_population_share", value=value, unit="%",
                 target=target, comparison=comparison,
                 gap=gap(value, target, comparison, p / 100.0, True),
                 gap_unit="people", status=[OK if x > 0 else status(NM_POP) for x in p],
                 note=[people_covered(a, b) for a, b in zip(c, p)])


def population_coverage(ind, st):
    sel = st.communities_of(ind.applies_to)
    if sel.empty:
        return [no_units(ind, communities_word(ind.applies_to))]
    cov, nm = st.covered(ind)
    if nm:
        return [not_measurable(ind, "covered_population_share", "%", "people", nm)]
    cpop, pop = _covered_by_community(st, cov)
    rows = []
    for level, uid, uname, idx in units(sel):
        r = _share_rows(ind, level, [uid], [uname], [cpop.loc[idx].sum()], [pop.loc[idx].sum()],
                        ind.target, ind.comparison)
        if level == "area":
            append_note(r, _outside_note(st))
        rows.append(r)
    rows.append(_share_rows(ind, "community", sel.index, sel["name"], cpop.loc[sel.index],
                            pop.loc[sel.index], ind.target, ind.comparison))
    return rows


def _reached(ind, st) -> T:
    s = f"{ind.min_covered_share:g}"
    how = ("" if ind.is_distance else "步行" if ind.mode == "walk"
           else mode_label(ind.mode, "zh", st.modes) + "出行")
    return T(f"{how}可达（至少{s}%居民在范围内）", f"reached (>= {s}% of residents within the circle)")


def community_within_circle(ind, st):
    sel = st.communities_of(ind.applies_to)
    word = communities_word(ind.applies_to)
    if sel.empty:
        return [no_units(ind, word)]
    cov, nm = st.covered(ind)
    if nm:
        return [not_measurable(ind, "share_of_communities", "%", "communities", nm)]
    cpop, pop = _covered_by_community(st, cov)
    p, c = pop.loc[sel.index], cpop.loc[sel.index]
    share = (100.0 * c / p.where(p > 0)).astype(float)
    reached = share >= ind.min_covered_share - _TOL
    rows = agg_share(ind, units(sel), reached, p > 0, word, "communities", ind.target,
                     "share_of_communities", _reached(ind, st))
    rows.append(_share_rows(ind, "community", sel.index, sel["name"], c, p, ind.min_covered_share, ">="))
    return rows


def township_within_circle(ind, st):
    towns = townships_of(ind, st)
    word = townships_word(ind.applies_to)
    gap_unit = township_gap_unit(ind)
    if not towns:
        return [no_units(ind, word)]
    cov, nm = st.covered(ind)
    if nm:
        return [not_measurable(ind, "share_of_townships", "%", gap_unit, nm)]
    cpop, pop = _covered_by_community(st, cov)
    p = pop.groupby(st.com["township"]).sum().reindex(towns)
    c = cpop.groupby(st.com["township"]).sum().reindex(towns)
    share = (100.0 * c / p.where(p > 0)).astype(float)
    reached = share >= ind.min_covered_share - _TOL
    rows = agg_share(ind, [("area", AREA_ID, AREA_NAME, p.index)], reached, p > 0, word, gap_unit,
                     ind.target, "share_of_townships", _reached(ind, st))
    rows.append(_share_rows(ind, "township", towns, towns, c, p, ind.min_covered_share, ">="))
    return rows

