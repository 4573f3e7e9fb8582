"""Row building shared by every kind: comparison, gap, the row frame, units, shares, bounds."""

from __future__ import annotations

import numpy as np
import pandas as pd

from coverage.analysis.standards import Indicator

from ._text import (EMPTY, MEASURED, OK, T, join, k_of_n, left_out, lower_bound, nm_area_of,
                    nm_none, nm_none_measurable)

COLUMNS = ["level", "unit_id", "unit_name", "indicator_id", "name_zh", "name_en", "measure",
           "value", "unit", "target", "comparison", "met", "gap", "gap_unit", "status",
           "status_zh", "note", "note_zh", "clause", "kind", "applies_to", "mode"]
LEVELS = ("area", "township", "community")
AREA_ID = "all"
AREA_NAME = "研究范围"
_TOL = 1e-9


def cmp(value, target, comparison):
    v = np.asarray(value, float)
    if comparison == ">=":
        return v >= target - _TOL * max(1.0, abs(target))
    if comparison == "<=":
        return v <= target + _TOL * max(1.0, abs(target))
    return np.abs(v - target) <= _TOL * max(1.0, abs(target))


def gap(value, target, comparison, per_unit, whole: bool):
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


def _texts(x, n) -> list:
    if isinstance(x, T):
        return [x] * n
    x = list(x)
    assert len(x) == n and all(isinstance(t, T) for t in x), x
    return x


class Rows:
    """The rows of one indicator at one level, column by column: {column: 1-d array of n values}.
    ``evaluate`` joins every block's columns and builds one DataFrame (a DataFrame per block was
    most of an evaluation's time)."""

    __slots__ = ("cols", "n")

    def __init__(self, cols: dict, n: int):
        self.cols, self.n = cols, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, col) -> np.ndarray:
        return self.cols[col]

    def __setitem__(self, col, values) -> None:
        a = np.empty(self.n, object)
        a[:] = values
        self.cols[col] = a

    def copy(self) -> "Rows":
        return Rows(dict(self.cols), self.n)


def _same(n: int, x) -> np.ndarray:
    a = np.empty(n, object)
    a[:] = [x] * n
    return a


def frame(ind: Indicator, level, unit_id, unit_name, *, measure, value, unit, target,
          comparison, gap, gap_unit, status, note, name_suffix=("", "")) -> Rows:
    """The rows of one indicator at one level; status and note are T (one, or one per row)."""
    n = len(unit_id)
    value = np.asarray(value, float).reshape(n) if n else np.zeros(0)
    st, nt = _texts(status, n), _texts(note, n)
    code = np.array([s.en for s in st], object)
    measured = code == MEASURED
    ok = cmp(np.nan_to_num(value), target, comparison)
    met = np.empty(n, object)
    met[:] = [None if (not m or v != v) else bool(o) for m, v, o in zip(measured, value, ok)]
    ids, names = np.empty(n, object), np.empty(n, object)
    ids[:], names[:] = list(unit_id), list(unit_name)
    return Rows({
        "level": _same(n, level), "unit_id": ids, "unit_name": names,
        "indicator_id": _same(n, ind.id), "name_zh": _same(n, ind.name_zh + name_suffix[0]),
        "name_en": _same(n, ind.name_en + name_suffix[1]), "measure": _same(n, measure),
        "value": np.where(measured, value, np.nan), "unit": _same(n, unit),
        "target": np.full(n, float(target)), "comparison": _same(n, comparison), "met": met,
        "gap": np.where(measured, np.asarray(gap, float).reshape(n) if n else np.zeros(0), np.nan),
        "gap_unit": _same(n, gap_unit), "status": code,
        "status_zh": np.array([s.zh for s in st], object),
        "note": np.array([t.en for t in nt], object), "note_zh": np.array([t.zh for t in nt], object),
        "clause": _same(n, ind.clause), "kind": _same(n, ind.kind), "applies_to": _same(n, ind.applies_to),
        "mode": _same(n, ind.mode)}, n)


def append_note(df: Rows, text: T, first: bool = False) -> None:
    """Add ``text`` to the notes of every row of ``df`` (in place)."""
    if not text:
        return
    for col, t in (("note", text.en), ("note_zh", text.zh)):
        if not t:
            continue
        sep = "; " if col == "note" else "；"
        df[col] = [(f"{t}{sep}{n}" if first else f"{n}{sep}{t}") if n else t for n in df[col]]


def units(sel: pd.DataFrame, key="township"):
    """Area then townships (sorted): list of (level, unit_id, unit_name, community index)."""
    out = [("area", AREA_ID, AREA_NAME, sel.index)]
    for t, g in sorted(sel.groupby(key).groups.items(), key=lambda kv: str(kv[0])):
        out.append(("township", str(t), str(t), g))
    return out


def not_measurable(ind, measure, unit, gap_unit, status: T):
    """The one area-level row of an indicator that cannot be measured (status names why)."""
    return frame(ind, "area", [AREA_ID], [AREA_NAME], measure=measure, value=[np.nan], unit=unit,
                 target=ind.target, comparison=ind.comparison, gap=[np.nan], gap_unit=gap_unit,
                 status=status, note=EMPTY)


def no_units(ind, what: T):
    return not_measurable(ind, "share", ind.unit, "", nm_none(what))


def agg_share(ind, units_, flag: pd.Series, measurable: pd.Series, word: T, gap_unit: str,
              target: float, measure: str, verb: T, name_suffix=("", "")):
    """% of units (communities, townships) with flag True among measurable ones, per aggregate."""
    rows = []
    at = measurable.index
    m_all, f_all = measurable.to_numpy(bool), flag.reindex(at).to_numpy(bool)
    for level, uid, uname, idx in units_:
        pos = at.get_indexer(idx)
        assert (pos >= 0).all(), "a unit of communities outside the measured ones"
        m = m_all[pos]
        n, k = int(m.sum()), int(f_all[pos][m].sum())
        note = join(k_of_n(k, n, word, verb), left_out(int((~m).sum())))
        if n == 0:
            status, value = nm_none_measurable(word), np.nan
        else:
            status, value = OK, 100.0 * k / n
        rows.append(frame(ind, level, [uid], [uname], measure=measure, value=[value], unit="%",
                          target=target, comparison=ind.comparison,
                          gap=gap([value], target, ind.comparison, n / 100.0, True),
                          gap_unit=gap_unit, status=status, note=note, name_suffix=name_suffix))
    return rows


def lower_bounds(value_known, n_unknown, ind, target, unit_txt):
    """(value, status T list, note T list) applying the lower-bound rule for unknown areas:
    unknown areas make a row not measurable unless the known area already meets a >= target."""
    value_known = np.asarray(value_known, float)
    n_unknown = np.asarray(n_unknown, int)
    meets = cmp(np.nan_to_num(value_known), target, ">=") & (ind.comparison == ">=")
    value = np.where((n_unknown == 0) | meets, value_known, np.nan)
    status = [OK if (u == 0 or ok) else nm_area_of(int(u), ind.area)
              for u, ok in zip(n_unknown, meets)]
    note = [EMPTY if u == 0 else lower_bound(int(u), bool(ok), float(vk), unit_txt, ind.area)
            for u, ok, vk in zip(n_unknown, meets, value_known)]
    return value, status, note
