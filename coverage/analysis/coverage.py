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
    # columns as arrays (selecting a list of a GeoDataFrame's columns, or its rows, costs ~1 ms)
    comm = {c: communities[c].array for c in ("community_id", "name", "township", "type", "households")}
    levels = {cat: sorted(set(breaks) | {thresholds[cat]}) for cat in categories}
    # every category and threshold summed by community in one groupby (pandas' compensated sums, as
    # one groupby per table gave them): population, covered population, covered points
    cols, pops = {}, {}
    for c, cat in enumerate(categories):
        pcol = pop_col_for.get(cat, "population")
        pop = pops[pcol] if pcol in pops else pops.setdefault(pcol, demand[pcol].to_numpy())
        cols[("pop", c, 0)] = pop
        dist = demand[f"dist_{cat}"].to_numpy()
        for k, thr in enumerate(levels[cat]):
            cov = covered(dist, thr.metres)
            cols[("cov", c, k)] = np.where(cov, pop, 0.0)
            cols[("any", c, k)] = cov
    codes, ids = pd.factorize(demand["community_id"].to_numpy(), sort=True)
    named = pd.DataFrame(dict(enumerate(cols.values())))
    grouped = named[codes >= 0].groupby(pd.Index(codes[codes >= 0])).sum()     # an Index: no repr
    sums = dict(zip(cols, (grouped[j].to_numpy() for j in range(len(cols)))))
    sum_ids = pd.Index(ids[grouped.index.to_numpy()])
    # the by-community table: one block of rows per (category, threshold), built as whole columns
    n = len(communities)
    blocks = [(c, cat, thr) for c, cat in enumerate(categories) for thr in levels[cat]]
    at = sum_ids.get_indexer(comm["community_id"])           # -1: no demand point in it
    found = at >= 0
    fac_cat = facilities["category"].to_numpy() if len(facilities) else np.array([], dtype=object)
    fac_ids = facilities["community_id"].to_numpy() if len(facilities) else np.array([], dtype=object)
    fac_cat, fac_ids = fac_cat[pd.notna(fac_ids)], fac_ids[pd.notna(fac_ids)]     # in a community
    inside = {}                                                  # facilities of the category in it
    for cat in categories:
        f_code, f_ids = pd.factorize(fac_ids[fac_cat == cat])
        k = pd.Index(f_ids).get_indexer(comm["community_id"]) if len(f_ids) else np.full(n, -1)
        inside[cat] = np.append(np.bincount(f_code, minlength=len(f_ids)), 0)[k].astype(int)   # -1: none

    def per_comm(col):                                       # sums by community, 0 where none
        v = sums[col]
        return v[at] if found.all() else np.append(v, 0.0)[at]

    pop, cov, fin, within, key = [], [], [], [], []
    for c, cat, thr in blocks:
        pcol = pop_col_for.get(cat, "population")
        k = levels[cat].index(thr)
        pop.append(per_comm(("pop", c, 0)))
        cov.append(per_comm(("cov", c, k)))
        fin.append(inside[cat])
        within.append((per_comm(("any", c, k)) > 0) | (inside[cat] > 0))
        key.append((cat, CATEGORY_LABELS_ZH[cat], "total" if pcol == "population" else pcol.removeprefix("pop_"),
                    float(thr.minutes_at(speed_m_per_min)), round(thr.metres, 1)))
    m = len(blocks)
    blk = np.repeat(np.arange(m), n)
    row = np.tile(np.arange(n), m)
    # sorted by category, threshold (m), community id (stable, as sort_values), na last
    cat_rank = pd.factorize(np.array([k[0] for k in key], dtype=object), sort=True)[0]
    tm = np.array([k[4] for k in key], dtype=float)
    com_rank = pd.factorize(comm["community_id"].to_numpy(), sort=True)[0]
    com_rank = np.where(com_rank < 0, n, com_rank)
    ix = np.lexsort((com_rank[row], tm[blk], cat_rank[blk]))
    blk, row = blk[ix], row[ix]
    population = np.concatenate(pop)[ix] if m else np.array([], dtype=float)
    covered_pop = np.concatenate(cov)[ix] if m else np.array([], dtype=float)
    cols = {c: v.take(row) for c, v in comm.items()}
    for j, c in enumerate(["category", "category_zh", "population_group", "threshold_min", "threshold_m"]):
        vals = np.array([k[j] for k in key], dtype=float if j >= 3 else object)[blk]
        cols[c] = vals if j >= 3 else pd.array(vals, dtype="str")
    cols["population"] = population
    cols["covered_pop"] = covered_pop
    cols["facilities_inside"] = np.concatenate(fin)[ix] if m else np.array([], dtype=int)
    cols["within_threshold"] = np.concatenate(within)[ix] if m else np.array([], dtype=bool)
    cols["uncovered_pop"] = population - covered_pop
    cols["coverage_rate"] = _rate(covered_pop, population)
    by_comm = pd.DataFrame(cols)
    return by_comm, _summary(by_comm, key, blk)


def _rate(covered_pop, population):
    """Covered over total population, NaN where there is none."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(population > 0, covered_pop / np.where(population > 0, population, np.nan), np.nan)


def _summary(by_comm, key, blk):
    """Area, urban/rural and township rows of the by-community table (rows of block ``blk``, whose
    keys are ``key``): population and covered population summed by pandas' groupby, one per level
    and column, as the levels' own ``groupby.agg`` (pandas sums a level whose rows come in group
    order with ``np.add.reduceat``, others with compensated sums); communities counted."""
    gkey = sorted(set(key))                                  # groupby's order of the five keys
    kid = np.array([gkey.index(k) for k in key], dtype=np.int64)[blk]
    codes, units, off = [], [], 0
    for level, col in (("area", None), ("urban_rural", "type"), ("township", "township")):
        if col:
            u_code, u_vals = pd.factorize(by_comm[col].to_numpy(), sort=True)    # -1: none (dropped)
        else:
            u_code, u_vals = np.zeros(len(by_comm), dtype=np.int64), np.array(["study area"], dtype=object)
        nu = len(u_vals)
        codes.append(np.where(u_code >= 0, off + kid * nu + u_code, -1))
        units.append((level, off, nu, np.asarray(u_vals, dtype=object)))
        off += len(gkey) * nu
    pop, cov = pd.Series(by_comm["population"].to_numpy()), pd.Series(by_comm["covered_pop"].to_numpy())
    p_sum, c_sum = [], []
    for lc in codes:
        grp = pd.Index(np.where(lc >= 0, lc, np.nan))        # NaN: dropped, as a missing unit
        p_sum.append(pop.groupby(grp, sort=True).sum().to_numpy())
        c_sum.append(cov.groupby(grp, sort=True).sum().to_numpy())
    code = np.concatenate(codes)
    ok = code >= 0
    g = np.unique(code[ok])                                  # the groups, in the groupby's order
    size = np.bincount(code[ok], minlength=off)[g]
    with_fac = np.bincount(code[ok & np.tile(by_comm["facilities_inside"].to_numpy() > 0, 3)], minlength=off)[g]
    within = np.bincount(code[ok & np.tile(by_comm["within_threshold"].to_numpy(), 3)], minlength=off)[g]
    level, unit = np.empty(len(g), dtype=object), np.empty(len(g), dtype=object)
    lvl_no, gk, ucode = (np.empty(len(g), dtype=np.int64) for _ in range(3))
    for i, (name, o, nu, u_vals) in enumerate(units):
        sel = (g >= o) & (g < o + len(gkey) * nu)
        r = g[sel] - o
        level[sel], lvl_no[sel], gk[sel], ucode[sel], unit[sel] = name, i, r // nu, r % nu, u_vals[r % nu]
    # sorted by category, threshold (m), level, unit (stable, from the groupby's order)
    cat_rank = pd.factorize(np.array([k[0] for k in gkey], dtype=object), sort=True)[0][gk]
    tm = np.array([k[4] for k in gkey], dtype=float)[gk]
    ix = np.lexsort((ucode, lvl_no, tm, cat_rank))
    population, covered_pop = np.concatenate(p_sum)[ix], np.concatenate(c_sum)[ix]
    gk = gk[ix]
    cols = {"level": pd.array(level[ix], dtype="str"), "unit": pd.array(unit[ix], dtype="str")}
    for j, c in enumerate(["category", "category_zh", "population_group", "threshold_min", "threshold_m"]):
        vals = np.array([k[j] for k in gkey], dtype=float if j >= 3 else object)[gk]
        cols[c] = vals if j >= 3 else pd.array(vals, dtype="str")
    cols.update(population=population, covered_pop=covered_pop, communities=size[ix].astype(np.int64),
                communities_with_facility=with_fac[ix].astype(np.int64),
                communities_within_threshold=within[ix].astype(np.int64),
                uncovered_pop=population - covered_pop, coverage_rate=_rate(covered_pop, population))
    return pd.DataFrame(cols)
