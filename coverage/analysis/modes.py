"""The numbers of travel modes and slope: how far a search may reach in a straight line (for the
study's walking buffer), the slope effect (flat vs sloped coverage) and the coverage of travel
circles (e.g. the rural 30-minute circle by e-bike). Coverage always comes from
:func:`~coverage.analysis.coverage.covered` through :func:`~coverage.analysis.coverage.coverage_tables`.

Costs are in flat-walking metres (:mod:`coverage.core.modes`): a threshold of N minutes is N x
walking speed for every mode."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.costs import TOBLER_DECAY, TOBLER_OFFSET
from ..labels import CATEGORY_LABELS_ZH
from .coverage import coverage_tables

#: the most Tobler's function speeds a walker up (a 5 % descent): exp(3.5 x 0.05) = 1.19
TOBLER_MAX_SPEEDUP = float(np.exp(TOBLER_DECAY * TOBLER_OFFSET))
#: slack on a DEM's grade bound for the scale of its CRS against the study's
GRADE_SLACK = 1.01

LEVEL_ORDER = {"area": 0, "urban_rural": 1, "township": 2, "community": 3}


def dem_speedup(z, cell_m: float) -> float:
    """The most a walk on this DEM can be faster than on flat ground (>= 1): Tobler's pace on a
    grade s is exp(3.5 (|s + 0.05| - 0.05)), least at s = -G for grades up to G <= 5 %. G bounds the
    grade of any piece of road sampled on the bilinear surface: the largest difference between
    neighbouring cells (each way) over the cell size, combined as a gradient. A flat DEM gives
    exactly 1.0, so the study reads the same network, facilities and population as without it."""
    z = np.asarray(z, dtype=float)
    gx = np.abs(np.diff(z, axis=1)) if z.shape[1] > 1 else np.zeros((1, 1))
    gy = np.abs(np.diff(z, axis=0)) if z.shape[0] > 1 else np.zeros((1, 1))
    mx = float(np.nanmax(gx)) if np.isfinite(gx).any() else 0.0
    my = float(np.nanmax(gy)) if np.isfinite(gy).any() else 0.0
    if mx == 0.0 and my == 0.0:
        return 1.0
    grade = GRADE_SLACK * float(np.hypot(mx, my)) / max(float(cell_m), 1e-9)
    return float(np.exp(TOBLER_DECAY * min(grade, TOBLER_OFFSET)))


def mode_speedup(spec, walk_kmh: float) -> float:
    """The fastest a mode goes on any road class, as a multiple of the walking speed (>= 1): a cost
    cutoff of C flat-walking metres reaches at most C x this many metres along the roads."""
    speeds = [float(walk_kmh)] + [float(v) for v in spec.speeds_kmh.values()]
    if spec.default_kmh is not None and not spec.is_walk:
        speeds.append(float(spec.default_kmh))
    return max(speeds) / float(walk_kmh) if not spec.is_walk else 1.0


def walked_on_slope(ride, walk, walked):
    """A mode's edge costs where its traveller gets off and walks (``walked``: its walk classes:
    steps, footways) on the slope: those edges take the walk's sloped costs (``walk``, with their
    knots), the others keep the ridden costs (``ride``, uniform). Both are
    :class:`~coverage.core.costs.EdgeCosts` of the same network."""
    from ..core.costs import EdgeCosts
    walked = np.asarray(walked, dtype=bool)
    fwd = np.where(walked, walk.fwd, ride.fwd)
    bwd = np.where(walked, walk.bwd, ride.bwd)
    if walk.knot_ptr is None:
        return EdgeCosts(fwd, bwd)
    cnt = np.diff(walk.knot_ptr)
    ptr = np.zeros(len(cnt) + 1, dtype=np.int64)
    np.cumsum(np.where(walked, cnt, 0), out=ptr[1:])
    sel = np.repeat(walked, cnt)
    return EdgeCosts(fwd, bwd, ptr, walk.knot_frac[sel], walk.knot_cf[sel], walk.knot_cb[sel])


# ----------------------------------------------------------------------------- slope effect


def slope_effect_table(communities, facilities, demand, categories, thresholds, speed_m_per_min,
                       pop_col_for=None) -> pd.DataFrame:
    """Flat vs sloped coverage at each category's plan threshold, by community, township,
    urban/rural and area: ``demand`` holds ``dist_<cat>`` (sloped walk, flat-walking metres) and
    ``dist_<cat>_flat`` (flat network distance). ``change_pp`` = sloped - flat rate in
    percentage points (negative: the hills cost coverage)."""
    flat = demand.copy()
    for cat in categories:
        flat[f"dist_{cat}"] = demand[f"dist_{cat}_flat"].to_numpy()
    a = _long(*coverage_tables(communities, facilities, demand, categories, (), thresholds, speed_m_per_min,
                               pop_col_for))
    b = _long(*coverage_tables(communities, facilities, flat, categories, (), thresholds, speed_m_per_min,
                               pop_col_for))
    keys = ["level", "unit", "category", "threshold_m"]
    out = a.merge(b[keys + ["covered_pop", "coverage_rate"]], on=keys, suffixes=("_sloped", "_flat"),
                  validate="one_to_one")
    out["change_pp"] = (out["coverage_rate_sloped"] - out["coverage_rate_flat"]) * 100.0
    cols = ["level", "unit", "name", "township", "type", "category", "category_zh", "population_group",
            "threshold_min", "threshold_m", "population", "covered_pop_flat", "covered_pop_sloped",
            "coverage_rate_flat", "coverage_rate_sloped", "change_pp"]
    return _ordered(out, categories)[cols]


def _long(by_comm, summary) -> pd.DataFrame:
    """One frame of the community rows and the summary rows: level, unit (community id, township,
    urban/rural, study area), name, township, type."""
    n_s, n_c = len(summary), len(by_comm)
    level, unit = np.asarray(summary["level"], dtype=object), np.asarray(summary["unit"], dtype=object)
    none = np.full(n_s, None, dtype=object)
    township, kind = none.copy(), none.copy()
    township[level == "township"] = unit[level == "township"]
    kind[level == "urban_rural"] = unit[level == "urban_rural"]
    cols = {"level": _join([summary["level"].array, _scalar("community", n_c)]),
            "unit": _join([summary["unit"].array, by_comm["community_id"].array]),
            "name": _join([none, by_comm["name"].array]), "township": _join([township, by_comm["township"].array]),
            "type": _join([kind, by_comm["type"].array])}
    for c in ["category", "category_zh", "population_group", "threshold_min", "threshold_m", "population",
              "covered_pop", "uncovered_pop", "coverage_rate"]:
        cols[c] = _join([summary[c].array, by_comm[c].array])
    return _frame(cols)


def _scalar(value, n):
    """A column of n times one value, of the dtype pandas gives a column set to that value."""
    return pd.Series(value, index=pd.RangeIndex(n)).array


def _frame(cols) -> pd.DataFrame:
    """A frame of these columns as they are (an object column given to pd.DataFrame as an array
    would be read as text)."""
    return pd.DataFrame({c: pd.Series(v, dtype=object, copy=False) if pd.api.types.is_object_dtype(v.dtype) else v
                         for c, v in cols.items()})


def _join(parts):
    """Columns joined end to end with the dtype ``pd.concat`` gives them (kept when they agree)."""
    dtype = parts[0].dtype
    if all(p.dtype == dtype for p in parts):
        if isinstance(dtype, np.dtype):
            return np.concatenate([np.asarray(p) for p in parts])
        if isinstance(dtype, pd.StringDtype):
            return pd.array(np.concatenate([np.asarray(p, dtype=object) for p in parts]), dtype=dtype)
    return pd.concat([pd.Series(p, dtype=p.dtype) for p in parts], ignore_index=True).array


def _ordered(df, categories) -> pd.DataFrame:
    order = {c: i for i, c in enumerate(categories)}
    df = df.assign(_c=df["category"].map(order).fillna(len(order)), _l=df["level"].map(LEVEL_ORDER),
                   _u=df["unit"].astype(str))
    return df.sort_values(["_c", "category", "threshold_m", "_l", "_u"], kind="stable") \
        .drop(columns=["_c", "_l", "_u"]).reset_index(drop=True)


# ----------------------------------------------------------------------------- travel circles


TRAVEL_COLUMNS = ["circle", "circle_name", "category", "category_zh", "mode", "applies_to", "threshold_min",
                  "distance_m", "level", "unit", "name", "township", "type", "population_group", "population",
                  "covered_pop", "uncovered_pop", "coverage_rate", "coverage_rate_walk"]


def travel_circle_table(communities, facilities, demand, circles, speed_m_per_min, pop_col_for=None,
                        labels=None) -> pd.DataFrame:
    """Coverage of each travel circle by community, township, urban/rural and area, over the
    communities it applies to (all, urban or rural).

    ``circles``: [(TravelCircle, distances by its mode, walking distances at the same threshold)],
    distances per demand point (flat-walking metres for a time, metres for a distance; inf =
    beyond). ``coverage_rate_walk`` is the rate on foot at the same threshold, for comparison.
    ``labels``: the circle's name for the table (default its key)."""
    pop_col_for = pop_col_for or {}
    parts, tables = [], {}
    comm_id = demand["community_id"].array
    for k, (tc, d_mode, d_walk) in enumerate(circles):
        comm = communities
        if tc.applies_to != "all":
            comm = communities[communities["type"].astype(str) == tc.applies_to]
        keep = demand["community_id"].isin(comm["community_id"]).to_numpy()
        cat = tc.category
        pcol = {cat: pop_col_for[cat]} if cat in pop_col_for else {}
        thr = {cat: tc.threshold}
        dists = np.asarray(d_mode, dtype=float)[keep], np.asarray(d_walk, dtype=float)[keep]
        if not len(comm):
            continue
        ab = []
        for dist in dists:          # a table per distinct (communities, category, threshold, distances)
            key = (tc.applies_to, cat, tc.threshold, dist.tobytes())
            if key not in tables:
                pc = pop_col_for.get(cat, "population")
                dm = pd.DataFrame({"community_id": comm_id[keep], pc: demand[pc].to_numpy()[keep], f"dist_{cat}": dist})
                tables[key] = _long(*coverage_tables(comm, facilities, dm, [cat], (), thr, speed_m_per_min, pcol))
            ab.append(tables[key])
        t = _with_walk_rate(*ab)
        part = {c: t[c].array for c in t.columns}
        name = (labels or {}).get(tc.key, tc.name or tc.key)
        for c, v in (("circle", tc.key), ("circle_name", name), ("mode", tc.mode), ("applies_to", tc.applies_to),
                     ("threshold_min", tc.threshold.value if tc.threshold.unit == "min" else np.nan),
                     ("distance_m", tc.threshold.value if tc.threshold.unit == "m" else np.nan),
                     ("category_zh", CATEGORY_LABELS_ZH.get(cat, cat)), ("_k", k)):
            part[c] = _scalar(v, len(t))
        parts.append(part)
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=float if c.startswith(("threshold", "distance", "population",
                                                                        "covered", "uncovered", "coverage"))
                                          else object) for c in TRAVEL_COLUMNS})
    cols = {c: _join([p[c] for p in parts]) for c in TRAVEL_COLUMNS + ["_k"]}
    keys = pd.DataFrame({"_k": cols.pop("_k"), "_l": pd.Series(cols["level"]).map(LEVEL_ORDER),
                         "_u": pd.Series(cols["unit"]).astype(str)})
    ix = keys.sort_values(["_k", "_l", "_u"], kind="stable").index.to_numpy()
    return _frame({c: v.take(ix) for c, v in cols.items()})


def _with_walk_rate(a, b):
    """The columns of a and b's coverage rate as ``coverage_rate_walk``, matched by (level, unit)
    one to one: a merge, or a's rows as they are when both list the same units in the same order
    (as two tables of the same communities do)."""
    la, lb = a["level"].to_numpy(dtype=object), b["level"].to_numpy(dtype=object)
    ua, ub = a["unit"].to_numpy(dtype=object), b["unit"].to_numpy(dtype=object)
    if len(a) == len(b) and (la == lb).all() and (ua == ub).all() and pd.MultiIndex.from_arrays([la, ua]).is_unique:
        cols = {c: a[c].array for c in a.columns}
        cols["coverage_rate_walk"] = b["coverage_rate"].array
        return _frame(cols)
    return a.merge(b[["level", "unit", "coverage_rate"]].rename(columns={"coverage_rate": "coverage_rate_walk"}),
                   on=["level", "unit"], validate="one_to_one")
