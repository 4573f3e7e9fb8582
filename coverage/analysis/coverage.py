"""Coverage rates from distances (never from polygons): by community, township, urban/rural and area.

:func:`covered` is the one definition of "covered" that every table, gap, indicator, siting
model, map and figure uses."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..labels import CATEGORY_LABELS_ZH

#: A walk counts as within a threshold when it is at most this much longer (metres): floating
#: point gives 15 min x 66.67 m/min = 1000.0000000000001 m, which must count as 1000 m.
COVER_TOLERANCE_M = 1e-6


def covered(distance_m, threshold_m) -> np.ndarray:
    """Whether each walking distance (metres; inf = unreachable) is within the threshold."""
    return np.asarray(distance_m, dtype=float) <= float(threshold_m) + COVER_TOLERANCE_M


def coverage_tables(communities, facilities, demand, categories, breaks, thresholds, speed_m_per_min,
                    pop_col_for=None):
    """Long tables: one row per (unit, category, threshold).

    ``demand`` has ``dist_<category>`` (metres, inf = unreachable). ``breaks`` are the life-circle
    :class:`~coverage.config.Threshold` s, ``thresholds`` each category's plan threshold.
    ``threshold_min`` is the threshold in minutes of walking at ``speed_m_per_min`` (the given
    minutes, or a distance threshold's equivalent). ``pop_col_for`` maps a category to the
    population column to weigh with (priority groups), default ``population``."""
    pop_col_for = pop_col_for or {}
    comm = communities[["community_id", "name", "township", "type", "households"]].reset_index(drop=True)
    rows = []
    fac_in = facilities[facilities["community_id"].notna()] if len(facilities) else facilities
    levels = {cat: sorted(set(breaks) | {thresholds[cat]}) for cat in categories}
    # every category and threshold summed by community in one groupby (pandas' compensated sums, as
    # one groupby per table gave them): population, covered population, covered points
    cols = {}
    for c, cat in enumerate(categories):
        pop = demand[pop_col_for.get(cat, "population")].to_numpy()
        cols[("pop", c, 0)] = pop
        dist = demand[f"dist_{cat}"].to_numpy()
        for k, thr in enumerate(levels[cat]):
            cov = covered(dist, thr.metres)
            cols[("cov", c, k)] = np.where(cov, pop, 0.0)
            cols[("any", c, k)] = cov
    codes, ids = pd.factorize(demand.community_id.to_numpy(), sort=True)
    named = pd.DataFrame(dict(enumerate(cols.values())))
    sums = named[codes >= 0].groupby(codes[codes >= 0]).sum()
    sums.columns = list(cols)
    sums.index = pd.Index(ids[sums.index], name="community_id")
    for c, cat in enumerate(categories):
        pcol = pop_col_for.get(cat, "population")
        n_inside = fac_in[fac_in.category == cat].groupby("community_id").size() if len(fac_in) else pd.Series(dtype=int)
        for k, thr in enumerate(levels[cat]):
            tm = thr.metres
            tmin = thr.minutes_at(speed_m_per_min)
            agg = pd.DataFrame({"population": sums[("pop", c, 0)], "covered_pop": sums[("cov", c, k)],
                                "reachable": sums[("any", c, k)] > 0})
            t = comm.join(agg, on="community_id")
            t["population"] = t["population"].fillna(0.0)
            t["covered_pop"] = t["covered_pop"].fillna(0.0)
            t["facilities_inside"] = n_inside.reindex(t.community_id).fillna(0).astype(int).to_numpy()
            t["within_threshold"] = (t["reachable"].fillna(False).astype(bool) | (t["facilities_inside"] > 0))
            t = t.drop(columns="reachable")
            t.insert(5, "category", cat)
            t.insert(6, "category_zh", CATEGORY_LABELS_ZH[cat])
            t.insert(7, "population_group", "total" if pcol == "population" else pcol.removeprefix("pop_"))
            t.insert(8, "threshold_min", float(tmin))
            t.insert(9, "threshold_m", round(tm, 1))
            rows.append(t)
    by_comm = pd.concat(rows, ignore_index=True)
    by_comm["uncovered_pop"] = by_comm["population"] - by_comm["covered_pop"]
    by_comm["coverage_rate"] = np.where(by_comm["population"] > 0,
                                        by_comm["covered_pop"] / by_comm["population"].where(by_comm["population"] > 0), np.nan)
    by_comm = by_comm.sort_values(["category", "threshold_m", "community_id"], kind="stable").reset_index(drop=True)

    keys = ["category", "category_zh", "population_group", "threshold_min", "threshold_m"]
    parts = []
    for level, col in (("area", None), ("urban_rural", "type"), ("township", "township")):
        grp = keys + ([col] if col else [])
        s = by_comm.assign(has_facility=by_comm["facilities_inside"] > 0).groupby(grp, sort=True).agg(
            population=("population", "sum"), covered_pop=("covered_pop", "sum"),
            communities=("community_id", "size"), communities_with_facility=("has_facility", "sum"),
            communities_within_threshold=("within_threshold", "sum")).reset_index()
        s.insert(0, "level", level)
        s.insert(1, "unit", s[col] if col else "study area")
        if col:
            s = s.drop(columns=col)
        parts.append(s)
    summary = pd.concat(parts, ignore_index=True)
    summary["uncovered_pop"] = summary["population"] - summary["covered_pop"]
    summary["coverage_rate"] = np.where(summary["population"] > 0,
                                        summary["covered_pop"] / summary["population"].where(summary["population"] > 0), np.nan)
    summary["communities_within_threshold"] = summary["communities_within_threshold"].astype(int)
    lvl = {"area": 0, "urban_rural": 1, "township": 2}
    summary = summary.sort_values(["category", "threshold_m", "level", "unit"], key=lambda s: s.map(lvl) if s.name == "level" else s,
                                  kind="stable").reset_index(drop=True)
    return by_comm, summary
