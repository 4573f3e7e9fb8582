"""Evaluate plan indicators (a standards profile) against the study area.

``evaluate(profile, communities, facilities, demand, catchments, speed_m_per_min)`` returns
one row per (indicator, unit) where a unit is the whole study area ("area"), a township/street
("township") or a community ("community"). Columns (see ``COLUMNS``):

level, unit_id, unit_name, indicator_id, name_zh, name_en, measure, value, unit, target,
comparison, met (True/False/None), gap (planner units), gap_unit, status ("measured" or
"not measurable: <missing field>"), note, kind, applies_to.

Definitions (one per kind; the profile's ``target`` always applies to the area and township
rows, and to the community rows where those report the same quantity):

community_has_facility
    community row: number of facilities of the categories inside the community (target 1);
    township/area: % of communities of the type with at least one. Gap: communities.
community_within_circle
    a community is *reached* when at least ``min_covered_share`` % (default 50) of its
    population (its demand points) is within the walking threshold of a facility. Community
    row: the covered population share vs min_covered_share (gap: people); township/area: %
    of reached communities vs target (gap: communities). Communities without population
    are left out of the share and reported.
population_coverage
    covered population / population, by community, township and area. Gap: people.
area_per_100_households_inside
    facility floor area inside the community / households x 100. Township/area rows give
    the total ratio (sum of area / sum of households over the communities with households)
    and, as measure "share_met", the % of communities meeting the target (target
    ``share_target``, default 100). Gap: m2 / communities.
area_per_100_households_2sfca
    two-step floating catchment. Households of a demand point = community households x
    point population / community population. Step 1: R_j = area_j / households within the
    threshold of facility j. Step 2: A_k = 100 x sum of R_j over the facilities point k
    reaches. Community value = population-weighted mean of A_k over its points; township and
    area value = household-weighted mean (equals total area / total households x 100 when
    every household reaches every facility). A facility whose catchment holds households of
    unknown size, or whose area is unknown, makes the values that use it lower bounds.
facility_min_area
    % of facilities of the categories (known area) with area_m2 >= min_area_m2, by township
    and area. Facilities with unknown area are counted separately, never as pass or fail.
township_has_facility
    township row: number of facilities in the township; area: % of townships (of the type:
    urban = street 街道, rural = township 乡镇, township/all = every one) with at least one.
township_within_circle
    like community_within_circle with townships as units.
per_capita_area
    facility floor area of the categories inside the communities / population (m2/person).

Population of a community = the sum of its demand points (so numerators and denominators
come from one source); communities.population is used only when ``demand`` is None.
A township's type comes from communities.township_type when given, else it is "urban"
(a street) when at least half of its communities are urban.
Lower bounds: where some facility areas are unknown and the known area already meets a
">=" target, the row is measured and met, with a note; otherwise it is not measurable and the
note gives the lower bound. No number is ever made up.

The Markdown table of the rows is :func:`coverage.report.markdown.to_markdown`.
"""

from __future__ import annotations


import numpy as np
import pandas as pd
from scipy import sparse

from coverage.errors import InputError
from coverage.analysis.coverage import covered
from coverage.analysis.standards import KIND_SPECS, Indicator, Profile

COLUMNS = ["level", "unit_id", "unit_name", "indicator_id", "name_zh", "name_en", "measure",
           "value", "unit", "target", "comparison", "met", "gap", "gap_unit", "status", "note",
           "kind", "applies_to"]
LEVELS = ("area", "township", "community")
AREA_ID = "all"
AREA_NAME = "全域 study area"
NO_TOWNSHIP = "(no township)"
MEASURED = "measured"
NM_HH = "not measurable: households (communities.fields.households)"
NM_NO_HH = "not measurable: no households"
NM_POP = "not measurable: population (no populated demand points)"
NM_AREA = "not measurable: area_m2 (facilities.fields.area_m2)"
NM_LEVEL = "not measurable: facility level (facilities.fields.level)"
NM_DEMAND = "not measurable: demand points (demand)"
NM_NO_COMMUNITY = "not measurable: no community measurable (see the community rows)"
_TOL = 1e-9


# ----------------------------------------------------------------------------- input checks

def _need(df: pd.DataFrame, cols, what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError(f"{what} table lacks column(s) {', '.join(missing)}", file=what,
                         field=", ".join(missing),
                         fix=f"the pipeline must give {what} the columns {', '.join(cols)}")


def _ids(s: pd.Series) -> pd.Series:
    """Identifiers as text, NaN kept as NaN (so 12 and '12' match)."""
    out = s.astype(object).where(s.notna(), None)
    return out.map(lambda v: None if v is None else (str(int(v)) if isinstance(v, float)
                                                     and v.is_integer() else str(v)))


class _Study:
    """The inputs, checked and aligned once."""

    def __init__(self, communities, facilities, demand, catchments, speed):
        if not (isinstance(speed, (int, float)) and speed > 0):
            raise InputError(f"walking speed must be a positive number, got {speed!r}",
                             field="speed_m_per_min", fix="e.g. 80 (metres per minute)")
        self.speed = float(speed)
        _need(communities, ["community_id", "type"], "communities")
        com = pd.DataFrame({"community_id": _ids(communities["community_id"])})
        if com["community_id"].isna().any():
            raise InputError("communities with an empty community_id", file="communities",
                             field="community_id", fix="give every community an id")
        dup = com["community_id"][com["community_id"].duplicated()]
        if len(dup):
            raise InputError(f"community_id repeated: {', '.join(sorted(set(dup)))[:200]}",
                             file="communities", field="community_id",
                             fix="every community needs its own id")
        com["name"] = (communities["name"].astype(object).where(communities["name"].notna(),
                       com["community_id"]).astype(str).to_numpy()
                       if "name" in communities else com["community_id"])
        twp = communities["township"] if "township" in communities else pd.Series(
            [None] * len(communities), index=communities.index)
        com["township"] = twp.astype(object).where(twp.notna(), NO_TOWNSHIP).astype(str).to_numpy()
        typ = communities["type"].astype(object).to_numpy()
        bad = ~np.isin(typ, ["urban", "rural"])
        if bad.any():
            raise InputError("community type must be 'urban' or 'rural'; wrong for "
                             + ", ".join(com["community_id"][bad].astype(str)[:10]),
                             file="communities", field="type",
                             fix="set communities.fields.type so each community maps to urban or rural")
        com["type"] = typ
        self.has_households = "households" in communities.columns
        hh = (pd.to_numeric(communities["households"], errors="coerce").to_numpy(float)
              if self.has_households else np.full(len(com), np.nan))
        if np.any(hh < 0):
            raise InputError("negative households", file="communities", field="households",
                             fix="households must be 0 or more")
        com["households"] = hh
        if "township_type" in communities.columns:
            tt = communities["township_type"].astype(object).to_numpy()
            if (~np.isin(tt, ["urban", "rural"])).any():
                raise InputError("township_type must be 'urban' or 'rural'", file="communities",
                                 field="township_type", fix="use urban (街道) or rural (乡镇)")
            com["township_type"] = tt
        else:
            urban_share = (com["type"] == "urban").groupby(com["township"]).mean()
            com["township_type"] = np.where(com["township"].map(urban_share) >= 0.5, "urban", "rural")
        self.township_type = com.groupby("township")["township_type"].first()

        # population: from the demand points (one source for numerators and denominators)
        self.demand = None
        if demand is not None:
            _need(demand, ["community_id", "population"], "demand")
            dcid = _ids(demand["community_id"]).to_numpy(object)
            dpop = pd.to_numeric(demand["population"], errors="coerce").to_numpy(float)
            if np.isnan(dpop).any() or (dpop < 0).any():
                raise InputError("demand population must be a number >= 0", file="demand",
                                 field="population", fix="fill empty raster cells with 0")
            self.demand = demand
            self.d_cid = dcid
            self.d_pop = dpop
            self.d_in = pd.Series(dcid).isin(com["community_id"]).to_numpy()  # hashed, not np.isin
            pop = pd.Series(dpop[self.d_in]).groupby(dcid[self.d_in]).sum()
            com["population"] = com["community_id"].map(pop).fillna(0.0).to_numpy(float)
        else:
            if "population" not in communities.columns:
                raise InputError("no demand points and no community population", file="communities",
                                 field="population", fix="give demand points or communities.population")
            com["population"] = pd.to_numeric(communities["population"], errors="coerce").fillna(0.0).to_numpy(float)
        com = com.sort_values("community_id", kind="stable").reset_index(drop=True)
        self.com = com.set_index("community_id", drop=False)

        _need(facilities, ["facility_id", "category"], "facilities")
        fac = pd.DataFrame({"facility_id": _ids(facilities["facility_id"]).to_numpy(object),
                            "category": facilities["category"].astype(object).to_numpy()})
        self.has_area = "area_m2" in facilities.columns
        area = (pd.to_numeric(facilities["area_m2"], errors="coerce").to_numpy(float)
                if self.has_area else np.full(len(fac), np.nan))
        fac["area_m2"] = area
        fcid = (_ids(facilities["community_id"]).to_numpy(object) if "community_id" in facilities
                else np.full(len(fac), None, object))
        inside = pd.Series(fcid).isin(self.com.index).to_numpy()
        fac["community_id"] = np.where(inside, fcid, None)
        fac["ctype"] = np.where(inside, fac["community_id"].map(self.com["type"]), None)
        ftwp = (facilities["township"].astype(object).where(facilities["township"].notna(), None)
                .to_numpy(object) if "township" in facilities else np.full(len(fac), None, object))
        ctwp = fac["community_id"].map(self.com["township"]).to_numpy(object)
        twp = np.where(pd.isna(ftwp), ctwp, ftwp)
        fac["township"] = [None if pd.isna(t) else str(t) for t in twp]
        self.has_level = "level" in facilities.columns
        fac["level"] = (facilities["level"].astype(object).where(facilities["level"].notna(), None)
                        .to_numpy(object) if self.has_level else None)
        fac["row_in_category"] = fac.groupby("category").cumcount().to_numpy()
        self.fac = fac
        self.catchments = catchments or {}

    # -- helpers
    def communities_of(self, applies_to: str) -> pd.DataFrame:
        if applies_to in ("urban", "rural"):
            return self.com[self.com["type"] == applies_to]
        return self.com

    def facilities_of(self, ind: Indicator):
        """Facilities of the indicator's categories and level; returns (table, note, status)."""
        f = self.fac[self.fac["category"].isin(ind.categories)]
        note, status = "", None
        if ind.facility_level is not None:
            if not self.has_level:
                if ind.facility_level == "township":
                    return f.iloc[:0], "", NM_LEVEL
                note = "no facility level column: every facility counted as community level"
            else:
                lev = f["level"]
                unknown = int(lev.isna().sum())
                if ind.facility_level == "community":
                    f = f[lev.isna() | (lev == "community")]
                    if unknown:
                        note = f"{unknown} facilities of unknown level counted as community level"
                else:
                    f = f[lev == "township"]
                    if unknown:
                        note = f"{unknown} facilities of unknown level left out"
        return f, note, status

    def covered(self, ind: Indicator):
        """Boolean array over demand points: within the threshold (any/all categories)."""
        if self.demand is None:
            return None, NM_DEMAND
        thr = ind.threshold_metres(self.speed)
        cols = [f"dist_{c}" for c in ind.categories]
        missing = [c for c in cols if c not in self.demand.columns]
        if missing:
            return None, f"not measurable: {', '.join(missing)} (demand)"
        d = np.column_stack([pd.to_numeric(self.demand[c], errors="coerce").to_numpy(float)
                             for c in cols])
        if np.isnan(d).any():
            col = cols[int(np.where(np.isnan(d).any(axis=0))[0][0])]
            raise InputError("walking distance is empty for some demand points", file="demand",
                             field=col, fix="unreachable points must carry inf, not an empty value")
        within = covered(d, thr)
        cov = within.all(axis=1) if ind.require == "all" else within.any(axis=1)
        return cov, None


# ----------------------------------------------------------------------------- row helpers

def _cmp(value, target, comparison):
    v = np.asarray(value, float)
    if comparison == ">=":
        return v >= target - _TOL * max(1.0, abs(target))
    if comparison == "<=":
        return v <= target + _TOL * max(1.0, abs(target))
    return np.abs(v - target) <= _TOL * max(1.0, abs(target))


def _gap(value, target, comparison, per_unit, whole: bool):
    """Gap in planner units: the change of value needed, times planner units per value unit."""
    v = np.asarray(value, float)
    if comparison == ">=":
        d = np.maximum(0.0, target - v)
    elif comparison == "<=":
        d = np.maximum(0.0, v - target)
    else:
        d = np.abs(v - target)
    g = d * np.asarray(per_unit, float)
    if whole:
        g = np.where(np.isnan(g), np.nan, np.ceil(np.round(g, 9) - _TOL))
        g = np.maximum(g, 0.0)
    return g


def _frame(ind: Indicator, level, unit_id, unit_name, *, measure, value, unit, target,
           comparison, gap, gap_unit, status, note, name_suffix=("", "")):
    n = len(unit_id)
    value = np.asarray(value, float) if n else np.zeros(0)
    status = np.broadcast_to(np.asarray(status, object), (n,)).copy()
    ok = _cmp(np.nan_to_num(value), target, comparison)
    met_list = [None if (s != MEASURED or np.isnan(v)) else bool(o)
                for s, v, o in zip(status, value, ok)]
    met_arr = np.empty(n, object)
    met_arr[:] = met_list
    value = np.where(status == MEASURED, value, np.nan)
    gap = np.where(status == MEASURED, np.asarray(gap, float), np.nan)
    return pd.DataFrame({
        "level": level, "unit_id": np.asarray(unit_id, object), "unit_name": np.asarray(unit_name, object),
        "indicator_id": ind.id, "name_zh": ind.name_zh + name_suffix[0],
        "name_en": ind.name_en + name_suffix[1], "measure": measure, "value": value, "unit": unit,
        "target": float(target), "comparison": comparison,
        "met": pd.Series(met_arr, dtype=object), "gap": gap, "gap_unit": gap_unit,
        "status": status, "note": np.broadcast_to(np.asarray(note, object), (n,)).copy(),
        "kind": ind.kind, "applies_to": ind.applies_to})


def _units(sel: pd.DataFrame, key="township"):
    """Area then townships (sorted): list of (level, unit_id, unit_name, community index)."""
    out = [("area", AREA_ID, AREA_NAME, sel.index)]
    for t, g in sorted(sel.groupby(key).groups.items(), key=lambda kv: str(kv[0])):
        out.append(("township", str(t), str(t), g))
    return out


def _not_measurable(ind, measure, unit, gap_unit, status):
    """The one area-level row of an indicator that cannot be measured (status names why)."""
    return _frame(ind, "area", [AREA_ID], [AREA_NAME], measure=measure, value=[np.nan], unit=unit,
                  target=ind.target, comparison=ind.comparison, gap=[np.nan], gap_unit=gap_unit,
                  status=status, note="")


def _no_units(ind, study, what):
    return _not_measurable(ind, "share", ind.unit, "", f"not measurable: no {what}")


def _agg_share(ind, units, flag: pd.Series, measurable: pd.Series, unit_word: str,
               target: float, measure: str, name_suffix=("", "")):
    """% of units (communities) with flag True among measurable ones, per aggregate unit."""
    rows = []
    for level, uid, uname, idx in units:
        m = measurable.loc[idx]
        n, k = int(m.sum()), int(flag.loc[idx][m].sum())
        left = int((~m).sum())
        note = f"{k} of {n} {unit_word}"
        if left:
            note += f"; {left} not measurable, left out"
        if n == 0:
            status, value = (f"not measurable: no measurable {unit_word}"), np.nan
        else:
            status, value = MEASURED, 100.0 * k / n
        rows.append(_frame(ind, level, [uid], [uname], measure=measure, value=[value], unit="%",
                           target=target, comparison=ind.comparison,
                           gap=_gap([value], target, ind.comparison, n / 100.0, True),
                           gap_unit=unit_word, status=status, note=note, name_suffix=name_suffix))
    return rows


def _lower_bound(value_known, n_unknown, ind, target, unit_txt):
    """(value, status, note) arrays applying the lower-bound rule for unknown areas."""
    value_known = np.asarray(value_known, float)
    n_unknown = np.asarray(n_unknown, int)
    meets = _cmp(np.nan_to_num(value_known), target, ">=") & (ind.comparison == ">=")
    value = np.where((n_unknown == 0) | meets, value_known, np.nan)
    status = np.array([MEASURED if (u == 0 or ok) else
                       f"not measurable: area_m2 of {u} facilities (facilities.fields.area_m2)"
                       for u, ok in zip(n_unknown, meets)], object)
    note = np.array([("" if u == 0 else
                      f"lower bound: {u} facilities with unknown area not counted" if ok else
                      f">= {vk:.1f} {unit_txt} from facilities with known area; {u} unknown")
                     for u, ok, vk in zip(n_unknown, meets, value_known)], object)
    return value, status, note


# ----------------------------------------------------------------------------- kinds

def _community_has_facility(ind, st: _Study):
    sel = st.communities_of(ind.applies_to)
    if sel.empty:
        return [_no_units(ind, st, f"{ind.applies_to} communities")]
    f, fnote, fstatus = st.facilities_of(ind)
    if fstatus:
        return [_not_measurable(ind, "share_of_communities", "%", "communities", fstatus)]
    count = f.dropna(subset=["community_id"]).groupby("community_id").size()
    cnt = sel.index.to_series().map(count).fillna(0).astype(int)
    has = cnt >= 1
    rows = _agg_share(ind, _units(sel), has, pd.Series(True, index=sel.index), "communities",
                      ind.target, "share_of_communities")
    for r in rows:
        _append_note(r, fnote)
    rows.append(_frame(ind, "community", sel.index, sel["name"], measure="facility_count",
                       value=cnt.to_numpy(float), unit="count", target=1, comparison=">=",
                       gap=np.maximum(0, 1 - cnt.to_numpy(float)), gap_unit="facilities",
                       status=MEASURED, note=""))
    return rows


def _covered_by_community(st: _Study, cov):
    pop = st.com["population"]
    cp = pd.Series(st.d_pop[st.d_in] * cov[st.d_in]).groupby(st.d_cid[st.d_in]).sum()
    cpop = st.com.index.to_series().map(cp).fillna(0.0)
    return cpop, pop


def _outside_note(st: _Study):
    if st.demand is None or st.d_in.all():
        return ""
    out = ~st.d_in
    return (f"{int(out.sum())} demand points ({st.d_pop[out].sum():.0f} people) outside every "
            "community not counted")


def _population_coverage(ind, st: _Study):
    sel = st.communities_of(ind.applies_to)
    if sel.empty:
        return [_no_units(ind, st, f"{ind.applies_to} communities")]
    cov, nm = st.covered(ind)
    if nm:
        return [_not_measurable(ind, "covered_population_share", "%", "people", nm)]
    cpop, pop = _covered_by_community(st, cov)
    rows = []
    for level, uid, uname, idx in _units(sel):
        p, c = float(pop.loc[idx].sum()), float(cpop.loc[idx].sum())
        value = 100.0 * c / p if p > 0 else np.nan
        note = f"{c:.0f} of {p:.0f} people covered" + (
            "; " + _outside_note(st) if level == "area" and _outside_note(st) else "")
        rows.append(_frame(ind, level, [uid], [uname], measure="covered_population_share",
                           value=[value], unit="%", target=ind.target, comparison=ind.comparison,
                           gap=_gap([value], ind.target, ind.comparison, p / 100.0, True),
                           gap_unit="people", status=MEASURED if p > 0 else NM_POP, note=note))
    p, c = pop.loc[sel.index].to_numpy(float), cpop.loc[sel.index].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(p > 0, 100.0 * c / np.where(p > 0, p, 1), np.nan)
    rows.append(_frame(ind, "community", sel.index, sel["name"], measure="covered_population_share",
                       value=value, unit="%", target=ind.target, comparison=ind.comparison,
                       gap=_gap(value, ind.target, ind.comparison, p / 100.0, True), gap_unit="people",
                       status=np.where(p > 0, MEASURED, NM_POP).astype(object),
                       note=np.array([f"{a:.0f} of {b:.0f} people covered" for a, b in zip(c, p)], object)))
    return rows


def _community_within_circle(ind, st: _Study):
    sel = st.communities_of(ind.applies_to)
    if sel.empty:
        return [_no_units(ind, st, f"{ind.applies_to} communities")]
    cov, nm = st.covered(ind)
    if nm:
        return [_not_measurable(ind, "share_of_communities", "%", "communities", nm)]
    cpop, pop = _covered_by_community(st, cov)
    p, c = pop.loc[sel.index], cpop.loc[sel.index]
    share = (100.0 * c / p.where(p > 0)).astype(float)
    measurable = p > 0
    reached = share >= ind.min_covered_share - _TOL
    rows = _agg_share(ind, _units(sel), reached, measurable, "communities", ind.target,
                      "share_of_communities")
    for r in rows:
        r["note"] = r["note"] + f" reached (>= {ind.min_covered_share:g}% of residents within the circle)"
    rows.append(_frame(ind, "community", sel.index, sel["name"], measure="covered_population_share",
                       value=share.to_numpy(float), unit="%", target=ind.min_covered_share,
                       comparison=">=",
                       gap=_gap(share.to_numpy(float), ind.min_covered_share, ">=",
                                p.to_numpy(float) / 100.0, True), gap_unit="people",
                       status=np.where(measurable, MEASURED, NM_POP).astype(object),
                       note=np.array([f"{a:.0f} of {b:.0f} people covered" for a, b in zip(c, p)], object)))
    return rows


def _townships_of(ind, st: _Study):
    tt = st.township_type
    if ind.applies_to in ("urban", "rural"):
        tt = tt[tt == ind.applies_to]
    return sorted(tt.index.astype(str))


def _township_has_facility(ind, st: _Study):
    towns = _townships_of(ind, st)
    word = {"urban": "streets", "rural": "townships"}.get(ind.applies_to, "townships")
    if not towns:
        return [_no_units(ind, st, word)]
    f, fnote, fstatus = st.facilities_of(ind)
    if fstatus:
        return [_not_measurable(ind, "share_of_townships", "%", word, fstatus)]
    count = f.dropna(subset=["township"]).groupby("township").size()
    cnt = pd.Series(towns, index=towns).map(count).fillna(0).astype(int)
    has = cnt >= 1
    rows = _agg_share(ind, [("area", AREA_ID, AREA_NAME, cnt.index)], has,
                      pd.Series(True, index=cnt.index), word, ind.target, "share_of_townships")
    _append_note(rows[0], fnote)
    rows.append(_frame(ind, "township", towns, towns, measure="facility_count",
                       value=cnt.to_numpy(float), unit="count", target=1, comparison=">=",
                       gap=np.maximum(0, 1 - cnt.to_numpy(float)), gap_unit="facilities",
                       status=MEASURED, note=""))
    return rows


def _township_within_circle(ind, st: _Study):
    towns = _townships_of(ind, st)
    if not towns:
        return [_no_units(ind, st, "townships")]
    cov, nm = st.covered(ind)
    if nm:
        return [_not_measurable(ind, "share_of_townships", "%", "townships", nm)]
    cpop, pop = _covered_by_community(st, cov)
    p = pop.groupby(st.com["township"]).sum().reindex(towns)
    c = cpop.groupby(st.com["township"]).sum().reindex(towns)
    share = (100.0 * c / p.where(p > 0)).astype(float)
    measurable = p > 0
    reached = share >= ind.min_covered_share - _TOL
    rows = _agg_share(ind, [("area", AREA_ID, AREA_NAME, p.index)], reached, measurable,
                      "townships", ind.target, "share_of_townships")
    rows[0]["note"] = rows[0]["note"] + f" reached (>= {ind.min_covered_share:g}% of residents within the circle)"
    rows.append(_frame(ind, "township", towns, towns, measure="covered_population_share",
                       value=share.to_numpy(float), unit="%", target=ind.min_covered_share,
                       comparison=">=",
                       gap=_gap(share.to_numpy(float), ind.min_covered_share, ">=",
                                p.to_numpy(float) / 100.0, True), gap_unit="people",
                       status=np.where(measurable, MEASURED, NM_POP).astype(object),
                       note=np.array([f"{a:.0f} of {b:.0f} people covered" for a, b in zip(c, p)], object)))
    return rows


def _hh_status(hh: np.ndarray):
    return np.where(np.isnan(hh), NM_HH, np.where(hh <= 0, NM_NO_HH, MEASURED)).astype(object)


_SHARE_SUFFIX = ("（达标社区占比）", " (share of communities meeting the target)")


def _append_note(frame: pd.DataFrame, text: str) -> None:
    if text:
        frame["note"] = [f"{n}; {text}" if n else text for n in frame["note"]]


def _area_rows(ind, st, sel, area_known, n_unknown, value_c, unknown_c, hh_weighted,
               extra_status=None, reach_unknown=None):
    """Rows shared by both per-100-households kinds.

    area_known/n_unknown: per community known facility area and unknown count (inside kind);
    value_c/unknown_c: per community value (known part) and count of unknowns (2SFCA kind).
    hh_weighted: township/area value = household-weighted mean of value_c (2SFCA) instead of
    sum(area)/sum(households) (inside kind).
    """
    hh = sel["households"].to_numpy(float)
    status_hh = _hh_status(hh)
    if not st.has_households:
        status_hh[:] = NM_HH
    if extra_status is not None:
        status_hh = np.where(status_hh == MEASURED, extra_status, status_hh).astype(object)
    ok_hh = status_hh == MEASURED
    unit_txt = "m2/100hh"
    # community rows
    vk = np.where(ok_hh, value_c, np.nan)
    val, stat, note = _lower_bound(vk, np.where(ok_hh, unknown_c, 0), ind, ind.target, unit_txt)
    stat = np.where(ok_hh, stat, status_hh).astype(object)
    note = np.where(ok_hh, note, "").astype(object)
    com_rows = _frame(ind, "community", sel.index, sel["name"], measure="per_100_households",
                      value=val, unit=unit_txt, target=ind.target, comparison=ind.comparison,
                      gap=_gap(val, ind.target, ind.comparison, np.nan_to_num(hh) / 100.0, False),
                      gap_unit="m2", status=stat, note=note)
    met_c = pd.Series(com_rows["met"].to_numpy(object), index=sel.index)
    rows = []
    for level, uid, uname, idx in _units(sel):
        pos = sel.index.get_indexer(idx)
        m = ok_hh[pos]
        left_hh = int(np.isnan(hh[pos]).sum()) if st.has_households else len(pos)
        left_zero = int((hh[pos] <= 0).sum()) if st.has_households else 0
        left_other = int((~m).sum()) - left_hh - left_zero
        H = float(hh[pos][m].sum())
        if not m.any():
            status = NM_HH if left_hh else NM_NO_HH if left_zero else NM_POP
            value, nunk, v_known = np.nan, 0, np.nan
        else:
            if hh_weighted:
                v_known = float((value_c[pos][m] * hh[pos][m]).sum() / H)
                sub = reach_unknown[:, pos[m]]
                nunk = int((sub.sum(axis=1) > 0).sum())  # distinct facilities
            else:
                v_known = 100.0 * float(area_known[pos][m].sum()) / H
                nunk = int(n_unknown[pos][m].sum())
            vv, ss, nn = _lower_bound([v_known], [nunk], ind, ind.target, unit_txt)
            value, status, lb_note = vv[0], ss[0], nn[0]
        parts = []
        if m.any():
            parts.append(f"{int(m.sum())} communities, {H:.0f} households")
            if lb_note:
                parts.append(lb_note)
        if left_hh:
            parts.append(f"{left_hh} communities without households data left out")
        if left_zero:
            parts.append(f"{left_zero} communities with no households left out")
        if left_other:
            parts.append(f"{left_other} communities with households but no populated demand point left out")
        rows.append(_frame(ind, level, [uid], [uname], measure="per_100_households", value=[value],
                           unit=unit_txt, target=ind.target, comparison=ind.comparison,
                           gap=_gap([value], ind.target, ind.comparison, H / 100.0, False),
                           gap_unit="m2", status=status, note="; ".join(parts)))
        # share of communities meeting the per-community target
        mc = met_c.loc[idx]
        known = mc.notna().to_numpy()
        n, k = int(known.sum()), int((mc[known] == True).sum())  # noqa: E712
        sval = 100.0 * k / n if n else np.nan
        snote = f"{k} of {n} communities meet {ind.target:g} {unit_txt}"
        if (~known).sum():
            snote += f"; {int((~known).sum())} not measurable, left out"
        rows.append(_frame(ind, level, [uid], [uname], measure="share_met", value=[sval], unit="%",
                           target=ind.share_target, comparison=">=",
                           gap=_gap([sval], ind.share_target, ">=", n / 100.0, True),
                           gap_unit="communities",
                           status=MEASURED if n else (
                               NM_HH if left_hh == len(pos) else
                               NM_NO_HH if left_zero == len(pos) else NM_NO_COMMUNITY),
                           note=snote, name_suffix=_SHARE_SUFFIX))
    rows.append(com_rows)
    return rows


def _area_inputs(ind, st: _Study, measure: str):
    """Communities the indicator applies to and their facilities with a community, or the rows to
    return at once when there is nothing to measure: (sel, facilities, fnote, early_rows)."""
    sel = st.communities_of(ind.applies_to)
    if sel.empty:
        return None, None, None, [_no_units(ind, st, f"{ind.applies_to} communities")]
    f, fnote, fstatus = st.facilities_of(ind)
    if fstatus:
        return None, None, None, [_not_measurable(ind, measure, ind.unit, "m2", fstatus)]
    return sel, f.dropna(subset=["community_id"]), fnote, None


def _area_per_100_households_inside(ind, st: _Study):
    sel, f, fnote, early = _area_inputs(ind, st, "per_100_households")
    if early:
        return early
    g = f.groupby("community_id")
    known = sel.index.to_series().map(g["area_m2"].sum()).fillna(0.0).to_numpy(float)
    unknown = sel.index.to_series().map(g["area_m2"].apply(lambda s: int(s.isna().sum()))
                                        if len(f) else pd.Series(dtype=float)).fillna(0).to_numpy(int)
    hh = sel["households"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        value_c = 100.0 * known / hh
    rows = _area_rows(ind, st, sel, known, unknown, value_c, unknown, hh_weighted=False)
    for r in rows:
        _append_note(r, fnote)
    return rows


def _area_per_100_households_2sfca(ind, st: _Study):
    sel = st.communities_of(ind.applies_to)
    if sel.empty:
        return [_no_units(ind, st, f"{ind.applies_to} communities")]
    if st.demand is None:
        return [_not_measurable(ind, "per_100_households", ind.unit, "m2", NM_DEMAND)]
    thr = ind.threshold_metres(st.speed)
    n_dem = len(st.d_pop)
    # households of each demand point; NaN where the community's households are unknown
    com_hh = pd.Series(st.com["households"].to_numpy(float), index=st.com.index)
    com_pop = st.com["population"]
    cid = pd.Series(st.d_cid)
    HH = np.array(cid.map(com_hh), dtype=float)    # NaN outside communities or unknown
    P = cid.map(com_pop).to_numpy(float)
    if not st.has_households:
        HH[:] = np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        hh_k = np.where(st.d_pop == 0, 0.0, HH * st.d_pop / np.where(P > 0, P, np.nan))
    unknown_k = np.isnan(hh_k)
    hh_known = np.where(unknown_k, 0.0, hh_k)

    blocks, areas = [], []
    missing = []
    for cat in ind.categories:
        f = st.fac[st.fac["category"] == cat]
        if len(f) == 0:
            continue
        C = st.catchments.get(cat)
        if C is None:
            missing.append(cat)
            continue
        C = sparse.csr_array(C)
        if C.shape != (len(f), n_dem):
            raise InputError(f"catchment matrix of {cat} has shape {C.shape}, expected "
                             f"({len(f)} facilities, {n_dem} demand points)", file="catchments",
                             field=cat, fix="build it from the same facility and demand tables")
        # stored entries (explicit zeros included) are distances; keep those within threshold
        # (new arrays: the caller's matrix is never modified)
        W = sparse.csr_array((covered(C.data, thr).astype(float), C.indices.copy(),
                              C.indptr.copy()), shape=C.shape)
        W.eliminate_zeros()
        blocks.append(W)
        areas.append(f["area_m2"].to_numpy(float))
    if missing:
        return [_not_measurable(ind, "per_100_households", ind.unit, "m2",
                                "not measurable: catchments of " + ", ".join(missing))]
    if blocks:
        W = sparse.vstack(blocks, format="csr")
        area = np.concatenate(areas)
    else:
        W = sparse.csr_array((0, n_dem))
        area = np.zeros(0)
    D = W @ hh_known                                  # households within reach of each facility
    U = W @ unknown_k.astype(float)                   # points of unknown households within reach
    fac_unknown = np.isnan(area) | (U > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        R = np.where(fac_unknown | (D <= 0), 0.0, np.nan_to_num(area) / np.where(D > 0, D, 1.0))
    A = 100.0 * (W.T @ R)                             # m2 per 100 households at each point
    # per community: population-weighted mean over its demand points
    ins = st.d_in
    w = st.d_pop[ins]
    grp = st.d_cid[ins]
    num = pd.Series(w * A[ins]).groupby(grp).sum()
    pop = sel["population"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        value_c = sel.index.to_series().map(num).fillna(0.0).to_numpy(float) / np.where(pop > 0, pop, np.nan)
    # which facilities of unknown supply each community's populated points reach:
    # (unknown facilities x demand) @ (demand x selected communities) > 0
    col = sel.index.get_indexer(pd.Index(st.d_cid.astype(object)))
    use = (col >= 0) & (st.d_pop > 0)
    S = sparse.csr_array((np.ones(int(use.sum())), (np.flatnonzero(use), col[use])),
                         shape=(n_dem, len(sel)))
    reach_unknown = sparse.csc_array((W[np.flatnonzero(fac_unknown)] @ S) > 0)
    unknown_c = np.diff(reach_unknown.indptr)       # distinct unknown facilities per community
    # a community with households but no populated demand point: its households have no place
    extra = np.where(pop > 0, MEASURED, NM_POP).astype(object)
    rows = _area_rows(ind, st, sel, None, None, value_c, unknown_c, hh_weighted=True,
                      extra_status=extra, reach_unknown=reach_unknown)
    if fac_unknown.any():
        for r in rows[:2]:                              # the two area rows
            _append_note(r, f"{int(fac_unknown.sum())} facilities of unknown supply (area, or "
                            "households within reach, unknown)")
    return rows


def _facility_min_area(ind, st: _Study):
    f, fnote, fstatus = st.facilities_of(ind)
    if fstatus:
        return [_not_measurable(ind, "share_of_facilities", "%", "facilities", fstatus)]
    if ind.applies_to in ("urban", "rural"):
        f = f[f["ctype"] == ind.applies_to]
    else:
        f = f[f["community_id"].notna() | f["township"].isin(st.com["township"].unique())]
    cats = "/".join(ind.categories)
    rows = []
    towns = sorted(set(f["township"].dropna().astype(str)))
    units = [("area", AREA_ID, AREA_NAME, f.index)] + [
        ("township", t, t, f.index[f["township"] == t]) for t in towns]
    for level, uid, uname, idx in units:
        a = f.loc[idx, "area_m2"].to_numpy(float)
        known = ~np.isnan(a)
        n, nk = len(a), int(known.sum())
        k = int((a[known] >= ind.min_area_m2 - _TOL).sum())
        if n == 0:
            status, value = f"not measurable: no {cats} facilities", np.nan
        elif nk == 0:
            status, value = NM_AREA, np.nan
        else:
            status, value = MEASURED, 100.0 * k / nk
        parts = [f"{k} of {nk} facilities with known area have >= {ind.min_area_m2:g} m2"]
        if n - nk:
            parts.append(f"{n - nk} facilities with unknown area not counted")
        if fnote:
            parts.append(fnote)
        rows.append(_frame(ind, level, [uid], [uname], measure="share_of_facilities", value=[value],
                           unit="%", target=ind.target, comparison=ind.comparison,
                           gap=_gap([value], ind.target, ind.comparison, nk / 100.0, True),
                           gap_unit="facilities", status=status, note="; ".join(parts)))
    return rows


def _per_capita_area(ind, st: _Study):
    sel, f, fnote, early = _area_inputs(ind, st, "per_capita")
    if early:
        return early
    g = f.groupby("community_id")["area_m2"]
    known = sel.index.to_series().map(g.sum()).fillna(0.0)
    unknown = sel.index.to_series().map(g.apply(lambda s: int(s.isna().sum())) if len(f)
                                        else pd.Series(dtype=float)).fillna(0).astype(int)
    nfac = sel.index.to_series().map(g.size()).fillna(0).astype(int)
    rows = []
    for level, uid, uname, idx in _units(sel):
        P = float(sel.loc[idx, "population"].sum())
        a, u, n = float(known.loc[idx].sum()), int(unknown.loc[idx].sum()), int(nfac.loc[idx].sum())
        if P <= 0:
            value, status, note = np.nan, NM_POP, ""
        elif n > 0 and u == n:
            value, status, note = np.nan, NM_AREA, f"{n} facilities, all with unknown area"
        else:
            vv, ss, nn = _lower_bound([a / P], [u], ind, ind.target, "m2/person")
            value, status, note = vv[0], ss[0], nn[0]
        parts = [f"{a:.0f} m2 for {P:.0f} people"] + ([note] if note else []) + ([fnote] if fnote else [])
        rows.append(_frame(ind, level, [uid], [uname], measure="per_capita", value=[value],
                           unit=ind.unit, target=ind.target, comparison=ind.comparison,
                           gap=_gap([value], ind.target, ind.comparison, P, False), gap_unit="m2",
                           status=status, note="; ".join(parts)))
    return rows


EVALUATORS = {
    "community_has_facility": _community_has_facility,
    "community_within_circle": _community_within_circle,
    "population_coverage": _population_coverage,
    "area_per_100_households_inside": _area_per_100_households_inside,
    "area_per_100_households_2sfca": _area_per_100_households_2sfca,
    "facility_min_area": _facility_min_area,
    "township_has_facility": _township_has_facility,
    "township_within_circle": _township_within_circle,
    "per_capita_area": _per_capita_area,
}
assert set(EVALUATORS) == set(KIND_SPECS), "every kind in standards.KIND_SPECS needs an evaluator"


def evaluate(profile: Profile, communities: pd.DataFrame, facilities: pd.DataFrame,
             demand: pd.DataFrame | None, catchments: dict | None,
             speed_m_per_min: float) -> pd.DataFrame:
    """Evaluate every indicator of ``profile`` (a validated Profile, see
    :func:`coverage.io.profiles.load_profile`); see module doc."""
    if not isinstance(profile, Profile):
        raise TypeError("evaluate() takes a Profile: load it with coverage.io.profiles.load_profile")
    st = _Study(communities, facilities, demand, catchments, speed_m_per_min)
    frames = []
    for order, ind in enumerate(profile.indicators):
        for r in EVALUATORS[ind.kind](ind, st):
            r = r.copy()
            r["_order"] = order
            frames.append(r)
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    out["_lev"] = out["level"].map({lv: i for i, lv in enumerate(LEVELS)})
    out["_meas"] = out["measure"].isin(["share_met"]).astype(int)
    out = out.sort_values(["_order", "_lev", "unit_id", "_meas"], kind="stable")
    out = out[COLUMNS].reset_index(drop=True)
    out["met"] = out["met"].astype(object).where(out["met"].notna(), None)
    return out


# ----------------------------------------------------------------------------- Markdown
