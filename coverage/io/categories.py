"""Plan categories from Chinese facility names, free-text types and OSM tags.

A facility table often has only a name (and perhaps a type such as an Amap POI type).
Categories are assigned with an editable keyword table (``resources/category_keywords.yaml``;
its header documents the rules). Rows that cannot be classified are returned to the planner
with a reason; nothing is guessed.

Precedence: the longest matching keyword wins; equal lengths are settled by the table's
``priority`` list, then by the keyword's order in the file. The name is tried before the type.
A trailing branch qualifier of a POI name (美宜佳(人民医院店)) names a neighbouring place and
is ignored by the category keywords and sub-types (not by exclusions and level).
Exclusion keywords (``exclusions`` for every category, ``exclude_zh``/``exclude_en`` of one
category) then win over the positive match: an excluded name is unmatched, with the exclusion
keyword in the reason. An exclusion that is part of the winning positive keyword is ignored
(``区政务`` excludes 南海区政务服务中心 but not the positive ``社区政务服务``).

Besides the category the name gives a ``level`` ("township", "community" or None) and a
``subtype`` of the category (``children_home``, ``plaza``, ...), both from keyword lists in the
table; for these the word that ENDS LAST in the name wins (a Chinese name ends with its head
noun: 大埠口村卫生室 -> 卫生室), then the longer word.

Matching uses compiled regex alternations of all keywords: ``findall`` of a look-ahead finds
every occurrence, and ``search`` of the reversed text finds the last word of the name. The rows
are matched in one plain loop over lists of text (pandas' ``.str`` methods run a Python function
per element too, and their Series, explode, merge and sort cost far more than the matching on the
few hundred names of a study); each row's winner is the minimum of a sort key precomputed per table.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pandas as pd

from coverage.errors import InputError

from .keywords import (
    _BRANCH_QUALIFIER,
    _GLOBAL,
    EXCLUDED_PREFIX,
    LEVELS,
    CategoryRules,
    KeywordTable,
    SubtypeRules,
    _norm_label,
    _norm_labels,
    _norm_text,
    _norm_text_series,
    _norm_texts,
    _texts,
    _series,
    default_table_path,
)
from .keywords_load import load_keyword_table  # noqa: F401

__all__ = [
    "KeywordTable",
    "CategoryRules",
    "SubtypeRules",
    "LEVELS",
    "EXCLUDED_PREFIX",
    "default_table_path",
    "load_keyword_table",
    "classify_names",
    "classify_osm_tags",
    "apply_categories",
    "resolve_category_label",
    "top_unmatched",
]


# --- classification -------------------------------------------------------------------

_FAST: dict = {}


def _fast(table: KeywordTable):
    """The table's keywords as dicts (made once per loaded table; its copies share them):
    normalised keyword -> (sort key, category, keyword), and look-ahead exclusion match ->
    the exclusion entries it stands for [(length, order, keyword, scope, normalised)]."""
    key = (id(table._keyword_info), id(table._excl_info))
    hit = _FAST.get(key)
    if hit is not None and hit[0] is table._keyword_info and hit[1] is table._excl_info:
        return hit[2]
    info, ex = table._keyword_info, table._excl_info
    best: dict = {}
    for norm, k, c, length, rank, order in zip(info.index, *(info[c].tolist() for c in (
            "keyword", "category", "length", "rank", "order"))):
        item = ((-length, rank, order), c, k)
        best[norm] = min(best.get(norm, item), item, key=lambda x: x[0])
    entries: dict = {}
    for norm, k, scope, length, order in zip(*(ex[c].tolist() for c in (
            "norm", "keyword", "scope", "length", "order"))):
        entries.setdefault(norm, []).append((length, order, k, scope, norm))
    expand = {e: [x for p in prefixes for x in entries.get(p, ())]
              for e, prefixes in table._excl_prefixes.items()}
    if len(_FAST) >= 32:
        _FAST.clear()
    _FAST[key] = (info, ex, (best, expand))
    return best, expand


def _match(texts: list, table: KeywordTable):
    """Best keyword per row of already normalised text: (category, keyword, normalised keyword).

    Every keyword the look-ahead finds is a candidate; the longest wins, then the category
    earlier in ``priority``, then the keyword earlier in the table."""
    cat, kw, knorm = (np.full(len(texts), None, dtype=object) for _ in range(3))
    if table._pattern is None:
        return cat, kw, knorm
    best = _fast(table)[0]
    findall = table._pattern.findall
    for i, t in enumerate(texts):
        found = findall(t)
        if found:
            knorm[i] = m = min(found, key=lambda w: best[w][0])
            _, cat[i], kw[i] = best[m]
    return cat, kw, knorm


def _exclusions(texts, cat: np.ndarray, knorm: np.ndarray, table: KeywordTable):
    """The exclusion that applies to each row: (keyword, scope, "name"/"type") or None.

    An exclusion applies when its scope is "*" or the row's category, and it is not part of
    the row's winning positive keyword. The longest applying exclusion is reported (then the
    one in the name, then the one earlier in the table).
    """
    out = [np.full(len(cat), None, dtype=object) for _ in range(3)]
    if table._excl_pattern is None:
        return out
    expand = _fast(table)[1]
    findall = table._excl_pattern.findall
    best: dict = {}
    for where, (src, text) in enumerate(texts):
        for i, t in enumerate(text):
            prefix = (knorm[i] or "") + "\x1f"
            for m in findall(t):
                for length, order, k, scope, norm in expand[m]:
                    if (scope == _GLOBAL or scope == cat[i]) and prefix + norm not in table._override:
                        item = ((-length, where, order), k, scope, src)
                        best[i] = min(best.get(i, item), item, key=lambda x: x[0])
    for i, (_, k, scope, src) in best.items():
        out[0][i], out[1][i], out[2][i] = k, scope, src
    return out


def _last_word(text: str, pattern: re.Pattern | None, mapping: dict):
    """Value of the word that ends last in the text (ties: the longer word); None if none. The
    pattern is of the reversed words: its first match in the reversed text is the last word."""
    m = None if pattern is None else pattern.search(text[::-1])
    return None if m is None else mapping.get(m.group(1))


def _subtypes(texts: list, cat: np.ndarray, table: KeywordTable) -> np.ndarray:
    pats = table._subtype_patterns
    return np.array([_last_word(t, *pats[c]) if isinstance(c, str) and c in pats else None
                     for t, c in zip(texts, cat)], dtype=object)


def _result(columns: dict, index) -> pd.DataFrame:
    """DataFrame of object columns, so that a missing category stays None (not NaN)."""
    return pd.DataFrame({k: pd.Series(v, index=index, dtype=object) for k, v in columns.items()},
                        index=index)


def _classify(names, types, table: KeywordTable) -> dict:
    names = _series(names)
    ntext = _norm_texts(names)
    ptext = [_BRANCH_QUALIFIER.sub("", t).rstrip() for t in ntext]   # keywords ignore (…店)
    cat, kw, knorm = _match(ptext, table)
    rule = np.where(pd.notna(cat), "name", "none").astype(object)
    texts = [("name", ntext)]
    if types is not None:
        types = _series(types)
        if len(types) != len(names):
            raise ValueError(f"names ({len(names)}) and types ({len(types)}) differ in length")
        ttext = _norm_texts(types)
        tcat, tkw, tnorm = _match(ttext, table)
        use = pd.isna(cat) & pd.notna(tcat)
        cat[use], kw[use], knorm[use] = tcat[use], tkw[use], tnorm[use]
        rule[use] = "type"
        texts.append(("type", ttext))
    ex_kw, ex_scope, ex_src = _exclusions(texts, cat, knorm, table)
    excl = pd.notna(ex_kw)
    cat[excl] = None
    kw[excl] = None
    rule[excl] = "excluded"
    level = np.array([_last_word(t, table._level_pattern, table._level_map) for t in ntext],
                     dtype=object)
    return {"index": names.index, "text": ptext, "category": cat, "matched_keyword": kw,
            "rule": rule, "level": level, "excluded_by": ex_kw,
            "excluded_scope": ex_scope, "excluded_in": ex_src}


def classify_names(names, types=None, table: KeywordTable | None = None) -> pd.DataFrame:
    """Classify facility names (and optional free-text types) with the keyword table.

    Returns a DataFrame on the index of ``names`` with columns

    - ``category``: plan category key, or None;
    - ``matched_keyword``: the winning keyword as written in the table, or None;
    - ``rule``: "name", "type", "excluded" (an exclusion keyword matched) or "none";
    - ``level``: "township", "community" or None, read from the name alone (for every row);
    - ``subtype``: a sub-type key of the category (e.g. "plaza"), or None;
    - ``excluded_by``: the exclusion keyword that made the row unmatched, or None.

    The name is tried first, then the type. Exclusions are looked for in both.
    """
    table = load_keyword_table() if table is None else table
    r = _classify(names, types, table)
    sub = _subtypes(r["text"], r["category"], table)
    return _result({"category": r["category"], "matched_keyword": r["matched_keyword"],
                    "rule": r["rule"], "level": r["level"], "subtype": sub,
                    "excluded_by": r["excluded_by"]}, r["index"])


def resolve_category_label(value, table: KeywordTable | None = None) -> str | None:
    """The category key for a plan key, a Chinese label (医疗卫生设施) or an alias; else None.

    Matching ignores case, full/half width, spaces, '-' and '_' (``table.category_of_label``),
    so a config may write ``category_map: {卫生室: 医疗卫生设施}``.
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    table = load_keyword_table() if table is None else table
    key = table._alias_map.get(_norm_label(str(value)))
    return key


def top_unmatched(unmatched_frame: pd.DataFrame, name_col: str, n: int = 10, *,
                  skip_excluded: bool = True) -> list[tuple[str, int]]:
    """The ``n`` most frequent names among unmatched rows: [(name, count), ...].

    Order: count descending, then name (deterministic). Names are stripped; empty names are
    skipped. With ``skip_excluded`` (default) rows whose reason starts with
    ``EXCLUDED_PREFIX`` (deliberately not counted) are left out, so the list holds only names
    the planner may want to add to the keyword table or category_map.
    """
    if name_col not in unmatched_frame.columns:
        raise KeyError(f"column {name_col!r} is not in the unmatched frame "
                       f"(columns: {', '.join(map(str, unmatched_frame.columns))})")
    names = _texts(unmatched_frame[name_col])
    if skip_excluded and "reason" in unmatched_frame.columns:
        reasons = _texts(unmatched_frame["reason"])
        names = [v for v, r in zip(names, reasons) if not r.startswith(EXCLUDED_PREFIX)]
    counts = Counter(v for v in (v.strip() for v in names) if v)
    if not counts or n <= 0:
        return []
    return sorted(counts.items(), key=lambda nc: (-nc[1], nc[0]))[:n]


def classify_osm_tags(df: pd.DataFrame, table: KeywordTable | None = None, *,
                      source: str | None = None) -> pd.DataFrame:
    """Classify OSM features from their tag columns (amenity, leisure, shop, healthcare, ...).

    Returns a DataFrame on ``df.index`` with ``category`` (or None), ``matched_tag``
    ("amenity=clinic") and ``rule`` ("osm" or "none"). Multi-valued tags ("a;b") are split.
    When several rules match, the category earlier in ``priority`` wins, then the tag key
    earlier in the table. Raises InputError when none of the table's tag keys is a column.
    """
    table = load_keyword_table() if table is None else table
    n = len(df)
    cols = {_norm_text(str(c)): c for c in df.columns}
    keys = [k for k in table.osm_tags if k in cols]
    if not keys:
        raise InputError("none of the OSM tag columns of the keyword table is in the data",
                         file=source, field=", ".join(table.osm_tags),
                         fix="read the OSM layer with these tags as columns "
                             f"(keyword table: {table.source})")
    rank = {c: i for i, c in enumerate(table.priority)}
    parts = []
    for korder, key in enumerate(keys):
        vals = _norm_text_series(pd.Series(df[cols[key]].to_numpy(), index=np.arange(n)))
        ex = vals.str.split(";").explode().str.strip()
        catv = ex.map(table.osm_tags[key])
        hit = catv.notna()
        if hit.any():
            parts.append(pd.DataFrame({
                "row": ex.index[hit], "category": catv[hit].to_numpy(),
                "matched_tag": (key + "=" + ex[hit]).to_numpy(),
                "rank": catv[hit].map(rank).to_numpy(), "korder": korder}))
    cat = np.full(n, None, dtype=object)
    tag = np.full(n, None, dtype=object)
    if parts:
        cand = pd.concat(parts, ignore_index=True)
        best = (cand.sort_values(["row", "rank", "korder"], kind="mergesort")
                    .drop_duplicates("row"))
        rows = best["row"].to_numpy()
        cat[rows] = best["category"].to_numpy()
        tag[rows] = best["matched_tag"].to_numpy()
    rule = np.where(pd.notna(cat), "osm", "none").astype(object)
    return _result({"category": cat, "matched_tag": tag, "rule": rule}, df.index)


def apply_categories(facilities_df: pd.DataFrame, name_col: str, type_col: str | None = None,
                     category_col: str | None = None, table: KeywordTable | None = None, *,
                     source: str | None = None,
                     column_label: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Give every facility a plan category; return (classified rows, unmatched rows).

    - If ``category_col`` is given, its values are mapped through the table's aliases
      (keys, Chinese labels such as 养老服务设施, other aliases). Empty cells fall back to the
      name/type keywords; a value that is not an alias is unmatched (never guessed).
      Exclusion keywords do not override a category given in the column.
    - Otherwise the name (then the type) is matched against the keywords; a name with an
      exclusion keyword is unmatched, and its reason names the keyword.

    The classified frame is a copy of the matched rows with columns ``category`` (key),
    ``category_rule`` ("column", "name" or "type"), ``matched_keyword``, ``level``
    ("township", "community" or None) and ``subtype`` (a sub-type key of the category or
    None); level and sub-type are read from the name, also when the category comes from the
    column. Input columns already called ``category``, ``level`` or ``subtype`` are kept as
    ``category_input``, ``level_input``, ``subtype_input``. The unmatched frame holds the
    other rows (original columns) with a ``reason``. Together they partition the input
    (index preserved). ``source`` names the facility file in error messages;
    ``column_label`` is the planner's name of the category column, used in reasons instead
    of ``category_col`` (e.g. when the caller renamed the column).
    """
    table = load_keyword_table() if table is None else table
    for role, col in (("name", name_col), ("type", type_col), ("category", category_col)):
        if col is not None and col not in facilities_df.columns:
            raise InputError(f"the {role} column {col!r} is not in the facility table",
                             file=source, field=col,
                             fix=f"use one of the columns: {', '.join(map(str, facilities_df.columns))}")

    r = _classify(facilities_df[name_col],
                  None if type_col is None else facilities_df[type_col], table)
    cat = r["category"].copy()
    kw = r["matched_keyword"].copy()
    rule = r["rule"].copy()
    no_kw = (f"no keyword matched; add a keyword to {table.source} or fill the category column")
    reason = np.where(pd.isna(cat), no_kw, None).astype(object)
    excl = pd.notna(r["excluded_by"])
    if excl.any():
        reason[excl] = [f"{EXCLUDED_PREFIX}the {src} contains '{by}', an exclusion keyword "
                        f"{'for every category' if scope == _GLOBAL else f'of {scope}'} in {table.source}"
                        "; not a plan facility (if it is one, fill the category column)"
                        for src, by, scope in zip(r["excluded_in"][excl], r["excluded_by"][excl],
                                                  r["excluded_scope"][excl])]

    if category_col is not None:
        label = category_col if column_label is None else column_label
        raw = facilities_df[category_col]
        norm = _norm_labels(raw)             # as table.category_of_label normalises them
        blank = np.array([v == "" for v in norm], dtype=bool)
        mapped = np.array([table._alias_map.get(v) for v in norm], dtype=object)
        known = pd.notna(mapped)
        cat[known] = mapped[known]
        kw[known] = None
        rule[known] = "column"
        reason[known] = None
        unknown = ~known & ~blank
        if unknown.any():
            labels = ", ".join(table.accepted_labels())
            bad_vals = raw.astype(str).to_numpy()[unknown]
            reason[unknown] = np.array(
                [f"category {v!r} in column {label!r} is not a known category; use one "
                 f"of {labels}, or add it to the aliases in {table.source}" for v in bad_vals],
                dtype=object)  # loop only over the (few) unknown labels, for the message
            cat[unknown] = None
            kw[unknown] = None
            rule[unknown] = "none"

    subtype = _subtypes(r["text"], cat, table)
    out = facilities_df.copy()
    out = out.rename(columns={c: f"{c}_input" for c in ("category", "level", "subtype")
                              if c in out.columns})
    ok = pd.notna(cat)
    matched = out.loc[ok].copy()
    for name, values in (("category", cat), ("category_rule", rule), ("matched_keyword", kw),
                         ("level", r["level"]), ("subtype", subtype)):
        matched[name] = pd.Series(values[ok], index=matched.index, dtype=object)
    unmatched = facilities_df.loc[~ok].copy()
    unmatched["reason"] = pd.Series(reason[~ok], index=unmatched.index, dtype=object)
    return matched, unmatched
