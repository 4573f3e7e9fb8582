"""Area kinds: per 100 households (inside, 2SFCA), facility minimum area, per-capita area."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from coverage.analysis.coverage import covered
from coverage.errors import InputError

from ._rows import (AREA_ID, AREA_NAME, _TOL, append_note, frame, gap, lower_bounds, no_units,
                    not_measurable, units)
from ._text import (AREA_WORDS, EMPTY, MEASURED, NM_DEMAND, NM_HH, NM_NO_COMMUNITY, NM_NO_HH,
                    NM_POP, OK, T, communities_word, join, k_of_n, left_out, nm_area,
                    nm_catchments, nm_none, status)

_SHARE_SUFFIX = ("（达标社区占比）", " (share of communities meeting the target)")
_UNIT = "m2/100hh"


def _hh_status(hh: np.ndarray) -> list:
    return [status(NM_HH) if np.isnan(h) else status(NM_NO_HH) if h <= 0 else OK for h in hh]


def _area_rows(ind, st, sel, area_known, n_unknown, value_c, unknown_c, hh_weighted,
               extra_status=None, reach_unknown=None):
    """Rows shared by both per-100-households kinds.

    area_known/n_unknown: per community known facility area and unknown count (inside kind);
    value_c/unknown_c: per community value (known part) and count of unknowns (2SFCA kind).
    hh_weighted: township/area value = household-weighted mean of value_c (2SFCA) instead of
    sum(area)/sum(households) (inside kind)."""
    hh = sel["households"].to_numpy(float)
    st_hh = _hh_status(hh) if st.has_households else [status(NM_HH)] * len(hh)
    if extra_status is not None:
        st_hh = [e if s.en == MEASURED else s for s, e in zip(st_hh, extra_status)]
    ok_hh = np.array([s.en == MEASURED for s in st_hh], bool)
    vk = np.where(ok_hh, value_c, np.nan)
    val, stat, note = lower_bounds(vk, np.where(ok_hh, unknown_c, 0), ind, ind.target, _UNIT)
    stat = [s if ok else h for s, ok, h in zip(stat, ok_hh, st_hh)]
    note = [n if ok else EMPTY for n, ok in zip(note, ok_hh)]
    com_rows = frame(ind, "community", sel.index, sel["name"], measure="per_100_households",
                     value=val, unit=_UNIT, target=ind.target, comparison=ind.comparison,
                     gap=gap(val, ind.target, ind.comparison, np.nan_to_num(hh) / 100.0, False),
                     gap_unit="m2", status=stat, note=note)
    met_c = pd.Series(com_rows["met"], index=sel.index)
    word = communities_word(ind.applies_to)
    rows = []
    for level, uid, uname, idx in units(sel):
        pos = sel.index.get_indexer(idx)
        m = ok_hh[pos]
        left_hh = int(np.isnan(hh[pos]).sum()) if st.has_households else len(pos)
        left_zero = int((hh[pos] <= 0).sum()) if st.has_households else 0
        left_other = int((~m).sum()) - left_hh - left_zero
        H = float(hh[pos][m].sum())
        lb_note = EMPTY
        if not m.any():
            stat1 = status(NM_HH if left_hh else NM_NO_HH if left_zero else NM_POP)
            value = np.nan
        else:
            if hh_weighted:
                v_known = float((value_c[pos][m] * hh[pos][m]).sum() / H)
                nunk = int((reach_unknown[:, pos[m]].sum(axis=1) > 0).sum())  # distinct facilities
            else:
                v_known = 100.0 * float(area_known[pos][m].sum()) / H
                nunk = int(n_unknown[pos][m].sum())
            vv, ss, nn = lower_bounds([v_known], [nunk], ind, ind.target, _UNIT)
            value, stat1, lb_note = vv[0], ss[0], nn[0]
        parts = [T(f"{int(m.sum())}个社区，{H:,.0f}户", f"{int(m.sum())} communities, {H:,.0f} households")
                 if m.any() else EMPTY, lb_note]
        if left_hh:
            parts.append(T(f"{left_hh}个社区缺户数，未计入",
                           f"{left_hh} communities without households data left out"))
        if left_zero:
            parts.append(T(f"{left_zero}个社区户数为0，未计入",
                           f"{left_zero} communities with no households left out"))
        if left_other:
            parts.append(T(f"{left_other}个社区有户数但没有有人口的需求点，未计入",
                           f"{left_other} communities with households but no populated demand point left out"))
        rows.append(frame(ind, level, [uid], [uname], measure="per_100_households", value=[value],
                          unit=_UNIT, target=ind.target, comparison=ind.comparison,
                          gap=gap([value], ind.target, ind.comparison, H / 100.0, False),
                          gap_unit="m2", status=stat1, note=join(*parts)))
        # share of communities meeting the per-community target
        mc = met_c.loc[idx]
        known = mc.notna().to_numpy()
        n, k = int(known.sum()), int((mc[known] == True).sum())  # noqa: E712
        sval = 100.0 * k / n if n else np.nan
        snote = join(k_of_n(k, n, word, T(f"不低于{ind.target:g}平方米/百户", f"meet {ind.target:g} {_UNIT}")),
                     left_out(int((~known).sum())))
        sst = OK if n else status(NM_HH if left_hh == len(pos) else NM_NO_HH if left_zero == len(pos)
                                  else NM_NO_COMMUNITY)
        rows.append(frame(ind, level, [uid], [uname], measure="share_met", value=[sval], unit="%",
                          target=ind.share_target, comparison=">=",
                          gap=gap([sval], ind.share_target, ">=", n / 100.0, True),
                          gap_unit="communities", status=sst, note=snote, name_suffix=_SHARE_SUFFIX))
    rows.append(com_rows)
    return rows


def _selected(ind, st, measure, gap_unit):
    """(facilities, note, early rows): the facilities the indicator counts, or the one row to
    return when the area it needs is not an input."""
    f, fnote, fstatus = st.facilities_of(ind)
    if fstatus:
        return None, None, [not_measurable(ind, measure, ind.unit, gap_unit, fstatus)]
    if ind.area == "site" and not st.has_site:
        return None, None, [not_measurable(ind, measure, ind.unit, gap_unit, nm_area("site"))]
    return f, fnote, None


def _area_inputs(ind, st, measure: str):
    """Communities the indicator applies to and its facilities inside a community."""
    sel = st.communities_of(ind.applies_to)
    if sel.empty:
        return None, None, None, [no_units(ind, communities_word(ind.applies_to))]
    f, fnote, early = _selected(ind, st, measure, "m2")
    if early:
        return None, None, None, early
    return sel, f.dropna(subset=["community_id"]), fnote, None


def area_per_100_households_inside(ind, st):
    sel, f, fnote, early = _area_inputs(ind, st, "per_100_households")
    if early:
        return early
    col = st.area_column(ind)
    g = f.groupby("community_id")[col]
    idx = sel.index.to_series()
    known = idx.map(g.sum()).fillna(0.0).to_numpy(float)
    unknown = (idx.map(g.apply(lambda s: int(s.isna().sum()))) if len(f) else idx.map({})
               ).fillna(0).to_numpy(int)
    hh = sel["households"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        value_c = 100.0 * known / hh
    rows = _area_rows(ind, st, sel, known, unknown, value_c, unknown, hh_weighted=False)
    for r in rows:
        append_note(r, fnote)
    return rows


def area_per_100_households_2sfca(ind, st):
    sel = st.communities_of(ind.applies_to)
    if sel.empty:
        return [no_units(ind, communities_word(ind.applies_to))]
    if st.demand is None:
        return [not_measurable(ind, "per_100_households", ind.unit, "m2", status(NM_DEMAND))]
    chosen, fnote, early = _selected(ind, st, "per_100_households", "m2")
    if early:
        return early
    thr = ind.threshold_metres(st.speed)
    n_dem = len(st.d_pop)
    # households of each demand point; NaN where the community's households are unknown
    com_hh = pd.Series(st.com["households"].to_numpy(float), index=st.com.index)
    cid = pd.Series(st.d_cid)
    HH = np.array(cid.map(com_hh), dtype=float)    # NaN outside communities or unknown
    P = cid.map(st.com["population"]).to_numpy(float)
    if not st.has_households:
        HH[:] = np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        hh_k = np.where(st.d_pop == 0, 0.0, HH * st.d_pop / np.where(P > 0, P, np.nan))
    unknown_k = np.isnan(hh_k)
    hh_known = np.where(unknown_k, 0.0, hh_k)

    blocks, areas, missing = [], [], []
    col = st.area_column(ind)
    for cat in ind.categories:
        f = st.fac[st.fac["category"] == cat]        # the catchment's rows, in this order
        keep = f.index.isin(chosen.index)
        if not keep.any():
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
                              C.indptr.copy()), shape=C.shape)[np.flatnonzero(keep)]
        W.eliminate_zeros()
        blocks.append(W)
        areas.append(f[col].to_numpy(float)[keep])
    if missing:
        return [not_measurable(ind, "per_100_households", ind.unit, "m2", nm_catchments(missing))]
    W = sparse.vstack(blocks, format="csr") if blocks else sparse.csr_array((0, n_dem))
    area = np.concatenate(areas) if areas else np.zeros(0)
    D = W @ hh_known                                  # households within reach of each facility
    U = W @ unknown_k.astype(float)                   # points of unknown households within reach
    fac_unknown = np.isnan(area) | (U > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        R = np.where(fac_unknown | (D <= 0), 0.0, np.nan_to_num(area) / np.where(D > 0, D, 1.0))
    A = 100.0 * (W.T @ R)                             # m2 per 100 households at each point
    # per community: population-weighted mean over its demand points
    ins = st.d_in
    num = pd.Series(st.d_pop[ins] * A[ins]).groupby(st.d_cid[ins]).sum()
    pop = sel["population"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        value_c = sel.index.to_series().map(num).fillna(0.0).to_numpy(float) / np.where(pop > 0, pop, np.nan)
    # which facilities of unknown supply each community's populated points reach:
    # (unknown facilities x demand) @ (demand x selected communities) > 0
    cols = sel.index.get_indexer(pd.Index(st.d_cid.astype(object)))
    use = (cols >= 0) & (st.d_pop > 0)
    S = sparse.csr_array((np.ones(int(use.sum())), (np.flatnonzero(use), cols[use])),
                         shape=(n_dem, len(sel)))
    reach_unknown = sparse.csc_array((W[np.flatnonzero(fac_unknown)] @ S) > 0)
    unknown_c = np.diff(reach_unknown.indptr)       # distinct unknown facilities per community
    # a community with households but no populated demand point: its households have no place
    extra = [OK if p > 0 else status(NM_POP) for p in pop]
    rows = _area_rows(ind, st, sel, None, None, value_c, unknown_c, hh_weighted=True,
                      extra_status=extra, reach_unknown=reach_unknown)
    if fac_unknown.any():
        n = int(fac_unknown.sum())
        for r in rows[:2]:                              # the two area rows
            append_note(r, T(f"{n}处设施供给未知（面积或服务范围内户数未知）",
                             f"{n} facilities of unknown supply (area, or households within reach, unknown)"))
    for r in rows:
        append_note(r, fnote)
    return rows


def facility_min_area(ind, st):
    f, fnote, early = _selected(ind, st, "share_of_facilities", "facilities")
    if early:
        return early
    if ind.applies_to in ("urban", "rural"):
        f = f[f["ctype"] == ind.applies_to]
    else:
        f = f[f["community_id"].notna() | f["township"].isin(st.com["township"].unique())]
    col, _, zh = AREA_WORDS[ind.area]
    rows = []
    towns = sorted(set(f["township"].dropna().astype(str)))
    units_ = [("area", AREA_ID, AREA_NAME, f.index)] + [
        ("township", t, t, f.index[f["township"] == t]) for t in towns]
    for level, uid, uname, idx in units_:
        a = f.loc[idx, col].to_numpy(float)
        known = ~np.isnan(a)
        n, nk = len(a), int(known.sum())
        k = int((a[known] >= ind.min_area_m2 - _TOL).sum())
        if n == 0:
            stat, value = nm_none(T("相应设施", f"{'/'.join(ind.categories)} facilities")), np.nan
        elif nk == 0:
            stat, value = nm_area(ind.area), np.nan
        else:
            stat, value = OK, 100.0 * k / nk
        note = join(T(f"{zh}已知的{nk}处设施中{k}处不低于{ind.min_area_m2:g}平方米",
                      f"{k} of {nk} facilities with known area have >= {ind.min_area_m2:g} m2"),
                    T(f"{n - nk}处设施{zh}未知，未计入", f"{n - nk} facilities with unknown area not counted")
                    if n - nk else EMPTY, fnote)
        rows.append(frame(ind, level, [uid], [uname], measure="share_of_facilities", value=[value],
                          unit="%", target=ind.target, comparison=ind.comparison,
                          gap=gap([value], ind.target, ind.comparison, nk / 100.0, True),
                          gap_unit="facilities", status=stat, note=note))
    return rows


def per_capita_area(ind, st):
    sel, f, fnote, early = _area_inputs(ind, st, "per_capita")
    if early:
        return early
    col = st.area_column(ind)
    zh = AREA_WORDS[ind.area][2]
    g = f.groupby("community_id")[col]
    idx = sel.index.to_series()
    known = idx.map(g.sum()).fillna(0.0)
    unknown = (idx.map(g.apply(lambda s: int(s.isna().sum()))) if len(f) else idx.map({})).fillna(0).astype(int)
    nfac = idx.map(g.size()).fillna(0).astype(int)
    rows = []
    for level, uid, uname, ix in units(sel):
        P = float(sel.loc[ix, "population"].sum())
        a, u, n = float(known.loc[ix].sum()), int(unknown.loc[ix].sum()), int(nfac.loc[ix].sum())
        if P <= 0:
            value, stat, note = np.nan, status(NM_POP), EMPTY
        elif n > 0 and u == n:
            value, stat = np.nan, nm_area(ind.area)
            note = T(f"{n}处设施{zh}均未知", f"{n} facilities, all with unknown area")
        else:
            vv, ss, nn = lower_bounds([a / P], [u], ind, ind.target, "m2/person")
            value, stat, note = vv[0], ss[0], nn[0]
        note = join(T(f"{zh}{a:,.0f}平方米，{P:,.0f}人", f"{a:,.0f} m2 for {P:,.0f} people"), note, fnote)
        rows.append(frame(ind, level, [uid], [uname], measure="per_capita", value=[value],
                          unit=ind.unit, target=ind.target, comparison=ind.comparison,
                          gap=gap([value], ind.target, ind.comparison, P, False), gap_unit="m2",
                          status=stat, note=note))
    return rows
