"""Kinds that count facilities in a unit: community_has_facility, township_has_facility."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._rows import AREA_ID, AREA_NAME, agg_share, append_note, frame, no_units, not_measurable, units
from ._text import EMPTY, OK, T, communities_word, townships_word

HAS = T("建有", "with one")


def community_has_facility(ind, st):
    sel = st.communities_of(ind.applies_to)
    word = communities_word(ind.applies_to)
    if sel.empty:
        return [no_units(ind, word)]
    f, fnote, fstatus = st.facilities_of(ind)
    if fstatus:
        return [not_measurable(ind, "share_of_communities", "%", "communities", fstatus)]
    count = f.dropna(subset=["community_id"]).groupby("community_id").size()
    cnt = sel.index.to_series().map(count).fillna(0).astype(int)
    rows = agg_share(ind, units(sel), cnt >= 1, pd.Series(True, index=sel.index), word,
                     "communities", ind.target, "share_of_communities", HAS)
    for r in rows:
        append_note(r, fnote)
    rows.append(frame(ind, "community", sel.index, sel["name"], measure="facility_count",
                      value=cnt.to_numpy(float), unit="count", target=1, comparison=">=",
                      gap=np.maximum(0, 1 - cnt.to_numpy(float)), gap_unit="facilities",
                      status=OK, note=EMPTY))
    return rows


def townships_of(ind, st):
    tt = st.township_type
    if ind.applies_to in ("urban", "rural"):
        tt = tt[tt == ind.applies_to]
    return sorted(tt.index.astype(str))


def township_gap_unit(ind) -> str:
    return "streets" if ind.applies_to == "urban" else "townships"


def township_has_facility(ind, st):
    towns = townships_of(ind, st)
    word = townships_word(ind.applies_to)
    gap_unit = township_gap_unit(ind)
    if not towns:
        return [no_units(ind, word)]
    f, fnote, fstatus = st.facilities_of(ind)
    if fstatus:
        return [not_measurable(ind, "share_of_townships", "%", gap_unit, fstatus)]
    count = f.dropna(subset=["township"]).groupby("township").size()
    cnt = pd.Series(towns, index=towns).map(count).fillna(0).astype(int)
    rows = agg_share(ind, [("area", AREA_ID, AREA_NAME, cnt.index)], cnt >= 1,
                     pd.Series(True, index=cnt.index), word, gap_unit, ind.target,
                     "share_of_townships", HAS)
    append_note(rows[0], fnote)
    rows.append(frame(ind, "township", towns, towns, measure="facility_count",
                      value=cnt.to_numpy(float), unit="count", target=1, comparison=">=",
                      gap=np.maximum(0, 1 - cnt.to_numpy(float)), gap_unit="facilities",
                      status=OK, note=EMPTY))
    return rows
