"""Plan categories from Chinese facility names, free-text types and OSM tags.

A facility table often has only a name (and perhaps a type such as an Amap POI type).
Categories are assigned with an editable keyword table (``resources/category_keywords.yaml``;
its header documents the rules). Rows that cannot be classified are returned to the planner
with a reason; nothing is guessed.

Precedence: the longest matching keyword wins; equal lengths are settled by the table's
``priority`` list, then by the keyword's order in the file. The name is tried before the type.

Matching is vectorised: one compiled regex alternation of all keywords, wrapped in a
look-ahead so that every keyword occurrence is found, applied with ``Series.str.findall``;
the winning keyword per row is chosen with a sort and ``drop_duplicates`` (no Python loop
over rows).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from coverage import CATEGORIES, CATEGORY_LABELS_ZH
from coverage.errors import InputError

__all__ = [
    "KeywordTable",
    "CategoryRules",
    "default_table_path",
    "load_keyword_table",
    "classify_names",
    "classify_osm_tags",
    "apply_categories",
]

_KEYWORD_LISTS = ("keywords_zh", "keywords_en")
_CATEGORY_KEYS = {"label_zh", "aliases", *_KEYWORD_LISTS}
_TOP_KEYS = {"version", "priority", "categories", "osm_tags"}


def default_table_path() -> Path:
    """Path of the packaged keyword table."""
    return Path(str(resources.files("coverage").joinpath("resources/category_keywords.yaml")))


# --- normalisation ----------------------------------------------------------------------

def _norm_text(s: str) -> str:
    s = unicodedata.normalize("NFKC", s).lower()
    return re.sub(r"\s+", " ", s).strip()


def _norm_label(s: str) -> str:
    return re.sub(r"[\s_\-]+", "_", _norm_text(s)).strip("_")


def _series(values) -> pd.Series:
    if isinstance(values, pd.Series):
        return values
    return pd.Series(list(values) if not isinstance(values, (str, bytes)) else [values],
                     dtype=object)


def _norm_text_series(s: pd.Series) -> pd.Series:
    s = s.astype("string").fillna("")
    s = s.str.normalize("NFKC").str.lower()
    return s.str.replace(r"\s+", " ", regex=True).str.strip()


def _norm_label_series(s: pd.Series) -> pd.Series:
    s = _norm_text_series(s)
    return s.str.replace(r"[\s_\-]+", "_", regex=True).str.strip("_")


# --- the table ----------------------------------------------------------------------------

@dataclass(frozen=True)
class CategoryRules:
    """Keywords and aliases of one plan category."""

    key: str
    label_zh: str
    aliases: tuple[str, ...]
    keywords: tuple[str, ...]


@dataclass
class KeywordTable:
    """A loaded, validated keyword table (see the header of category_keywords.yaml)."""

    source: str
    priority: tuple[str, ...]
    categories: dict[str, CategoryRules]
    osm_tags: dict[str, dict[str, str]]
    _keyword_info: pd.DataFrame = field(init=False, repr=False)
    _pattern: re.Pattern | None = field(init=False, repr=False)
    _alias_map: dict[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rank = {c: i for i, c in enumerate(self.priority)}
        rows = []
        for cat in self.priority:
            for kw in self.categories[cat].keywords:
                rows.append((_norm_text(kw), kw, cat, len(_norm_text(kw)), rank[cat]))
        info = pd.DataFrame(rows, columns=["norm", "keyword", "category", "length", "rank"])
        info["order"] = np.arange(len(info))
        self._keyword_info = info.set_index("norm")
        if len(info):
            alts = sorted(info["norm"], key=lambda k: (-len(k), k))
            # Look-ahead: every start position reports the longest keyword starting there,
            # so the longest keyword anywhere in the text is among the matches.
            self._pattern = re.compile("(?=(" + "|".join(re.escape(a) for a in alts) + "))")
        else:
            self._pattern = None
        self._alias_map = {}
        for cat in self.priority:
            rules = self.categories[cat]
            for alias in (cat, rules.label_zh, *rules.aliases):
                self._alias_map[_norm_label(alias)] = cat

    @property
    def keywords(self) -> pd.DataFrame:
        """One row per keyword: keyword, category, length, rank (priority), order."""
        return self._keyword_info.reset_index(drop=True).copy()

    def category_of_label(self, values) -> pd.Series:
        """Map category labels (keys, Chinese labels, aliases) to keys; unknown -> NaN."""
        s = _series(values)
        return _norm_label_series(s).map(self._alias_map).astype(object)

    def accepted_labels(self) -> list[str]:
        """The category keys and their Chinese labels (for messages)."""
        return [f"{c} ({self.categories[c].label_zh})" for c in self.priority]


class _DuplicateKey(Exception):
    def __init__(self, key, line: int):
        super().__init__(key, line)
        self.key, self.line = key, line


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (PyYAML silently keeps the last)."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise _DuplicateKey(key, key_node.start_mark.line + 1)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                 _construct_mapping)


def load_keyword_table(path=None) -> KeywordTable:
    """Load and validate a keyword table (default: the packaged one).

    A malformed table raises InputError naming the file and the offending key.
    """
    p = default_table_path() if path is None else Path(path)
    src = str(p)

    def bad(problem: str, key: str, fix: str):
        return InputError(problem, file=src, field=key, fix=fix)

    if not p.is_file():
        raise InputError("keyword table not found", file=src, field="category_keywords",
                         fix="give the path of an existing YAML file (copy the packaged "
                             f"{default_table_path().name} and edit it)")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise bad(f"the file is not UTF-8 text ({exc.reason})", "(encoding)",
                  "save the file as UTF-8") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - SafeLoader subclass
    except _DuplicateKey as exc:
        raise bad(f"key {exc.key!r} appears twice (second time at line {exc.line}); "
                  "YAML would silently keep only the last one", str(exc.key),
                  "merge the two entries into one") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise bad(f"the YAML cannot be read{where}: {problem}", "(YAML syntax)",
                  "fix the indentation/brackets there; every key must appear once") from None

    if not isinstance(data, dict):
        raise bad("the table must be a YAML mapping with a 'categories' key", "(top level)",
                  "start from the packaged category_keywords.yaml")
    unknown = sorted(set(map(str, data)) - _TOP_KEYS)
    if unknown:
        raise bad(f"unknown top-level key {unknown[0]!r}", unknown[0],
                  f"use only: {', '.join(sorted(_TOP_KEYS))}")
    cats_raw = data.get("categories")
    if not isinstance(cats_raw, dict) or not cats_raw:
        raise bad("'categories' is missing or is not a mapping of category -> keywords",
                  "categories", "list each plan category with keywords_zh/keywords_en")

    categories: dict[str, CategoryRules] = {}
    owner: dict[str, tuple[str, str]] = {}      # normalised keyword -> (category, key path)
    alias_owner: dict[str, tuple[str, str]] = {}
    for cat, body in cats_raw.items():
        ckey = f"categories.{cat}"
        if cat not in CATEGORIES:
            raise bad(f"unknown category {cat!r}", ckey,
                      f"use one of the plan categories: {', '.join(CATEGORIES)}")
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise bad("a category must be a mapping with keywords_zh / keywords_en / aliases",
                      ckey, "indent keywords_zh: [...] under the category")
        extra = sorted(set(map(str, body)) - _CATEGORY_KEYS)
        if extra:
            raise bad(f"unknown key {extra[0]!r}", f"{ckey}.{extra[0]}",
                      f"use only: {', '.join(sorted(_CATEGORY_KEYS))}")
        label = body.get("label_zh", CATEGORY_LABELS_ZH[cat])
        if not isinstance(label, str) or not label.strip():
            raise bad("label_zh must be a non-empty text", f"{ckey}.label_zh",
                      f"for example: {CATEGORY_LABELS_ZH[cat]}")

        def str_list(name: str) -> list[str]:
            val = body.get(name, [])
            if val is None:
                return []
            if not isinstance(val, list):
                raise bad(f"{name} must be a list", f"{ckey}.{name}",
                          "write it as [word1, word2] or as '- word' lines")
            out = []
            for i, item in enumerate(val):
                if isinstance(item, (int, float)) and not isinstance(item, bool):
                    item = str(item)
                if not isinstance(item, str) or not _norm_text(item):
                    raise bad(f"entry {i} of {name} is not a non-empty text: {item!r}",
                              f"{ckey}.{name}[{i}]", "remove it or write a word")
                out.append(item)
            return out

        aliases = str_list("aliases")
        keywords: list[str] = []
        for name in _KEYWORD_LISTS:
            for i, kw in enumerate(str_list(name)):
                nk = _norm_text(kw)
                if nk in owner:
                    other_cat, other_key = owner[nk]
                    if other_cat != cat:
                        raise bad(f"keyword {kw!r} is listed for both {other_cat} and {cat}",
                                  f"{ckey}.{name}[{i}]",
                                  f"keep it in one category only (also at {other_key})")
                    continue  # repeated within one category: harmless
                owner[nk] = (cat, f"{ckey}.{name}[{i}]")
                keywords.append(kw)
        for i, alias in enumerate([cat, label, *aliases]):
            na = _norm_label(alias)
            prev = alias_owner.get(na)
            if prev is not None and prev[0] != cat:
                raise bad(f"alias {alias!r} is used for both {prev[0]} and {cat}",
                          f"{ckey}.aliases", f"keep it in one category only (also at {prev[1]})")
            alias_owner.setdefault(na, (cat, f"{ckey}.aliases"))
        categories[cat] = CategoryRules(cat, label.strip(), tuple(aliases), tuple(keywords))

    prio_raw = data.get("priority")
    if prio_raw is None:
        priority = tuple(categories)
    else:
        if not isinstance(prio_raw, list):
            raise bad("priority must be a list of category keys", "priority",
                      f"for example: [{', '.join(categories)}]")
        for i, c in enumerate(prio_raw):
            if c not in categories:
                raise bad(f"priority entry {c!r} is not a category of this table",
                          f"priority[{i}]", f"use the keys under categories: "
                                             f"{', '.join(categories)}")
        dup = [c for c in prio_raw if prio_raw.count(c) > 1]
        if dup:
            raise bad(f"category {dup[0]!r} appears twice in priority", "priority",
                      "list each category once")
        missing = [c for c in categories if c not in prio_raw]
        if missing:
            raise bad(f"category {missing[0]!r} is missing from priority", "priority",
                      "list every category under categories exactly once")
        priority = tuple(prio_raw)

    osm_raw = data.get("osm_tags") or {}
    if not isinstance(osm_raw, dict):
        raise bad("osm_tags must be a mapping: tag key -> tag value -> category", "osm_tags",
                  "for example: amenity: {clinic: health}")
    osm_tags: dict[str, dict[str, str]] = {}
    for tkey, values in osm_raw.items():
        okey = f"osm_tags.{tkey}"
        if not isinstance(values, dict):
            raise bad("each OSM tag key must map tag values to categories", okey,
                      f"for example: {tkey}: {{value: category}}")
        rules = {}
        for tval, cat in values.items():
            if cat not in categories:
                raise bad(f"category {cat!r} of {tkey}={tval} is not a category of this table",
                          f"{okey}.{tval}", f"use one of: {', '.join(categories)}")
            rules[_norm_text(str(tval))] = cat
        osm_tags[_norm_text(str(tkey))] = rules

    return KeywordTable(source=src, priority=priority, categories=categories, osm_tags=osm_tags)


# --- classification -------------------------------------------------------------------

def _match(text: pd.Series, table: KeywordTable) -> tuple[np.ndarray, np.ndarray]:
    """Best keyword per row of already normalised text: (category, keyword) object arrays."""
    n = len(text)
    cat = np.full(n, None, dtype=object)
    kw = np.full(n, None, dtype=object)
    if n == 0 or table._pattern is None:
        return cat, kw
    found = pd.Series(text.to_numpy(), index=np.arange(n)).str.findall(table._pattern)
    ex = found.explode().dropna()
    if ex.empty:
        return cat, kw
    cand = table._keyword_info.loc[ex.to_numpy(), ["keyword", "category", "length", "rank",
                                                   "order"]]
    cand = cand.assign(row=ex.index.to_numpy()).reset_index(drop=True)
    best = (cand.sort_values(["row", "length", "rank", "order"],
                             ascending=[True, False, True, True], kind="mergesort")
                .drop_duplicates("row"))
    rows = best["row"].to_numpy()
    cat[rows] = best["category"].to_numpy()
    kw[rows] = best["keyword"].to_numpy()
    return cat, kw


def _result(columns: dict, index) -> pd.DataFrame:
    """DataFrame of object columns, so that a missing category stays None (not NaN)."""
    return pd.DataFrame({k: pd.Series(v, index=index, dtype=object) for k, v in columns.items()},
                        index=index)


def classify_names(names, types=None, table: KeywordTable | None = None) -> pd.DataFrame:
    """Classify facility names (and optional free-text types) with the keyword table.

    Returns a DataFrame on the index of ``names`` with columns ``category`` (key or None),
    ``matched_keyword`` (as written in the table, or None) and ``rule``
    ("name", "type" or "none"). The name is tried first, then the type.
    """
    table = load_keyword_table() if table is None else table
    names = _series(names)
    cat, kw = _match(_norm_text_series(names), table)
    rule = np.where(pd.notna(cat), "name", "none").astype(object)
    if types is not None:
        types = _series(types)
        if len(types) != len(names):
            raise ValueError(f"names ({len(names)}) and types ({len(types)}) differ in length")
        tcat, tkw = _match(_norm_text_series(types), table)
        use = pd.isna(cat) & pd.notna(tcat)
        cat[use] = tcat[use]
        kw[use] = tkw[use]
        rule[use] = "type"
    return _result({"category": cat, "matched_keyword": kw, "rule": rule}, names.index)


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
                     source: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Give every facility a plan category; return (classified rows, unmatched rows).

    - If ``category_col`` is given, its values are mapped through the table's aliases
      (keys, Chinese labels such as 养老服务设施, other aliases). Empty cells fall back to the
      name/type keywords; a value that is not an alias is unmatched (never guessed).
    - Otherwise the name (then the type) is matched against the keywords.

    The classified frame is a copy of the matched rows with columns ``category`` (key),
    ``category_rule`` ("column", "name" or "type") and ``matched_keyword``; an input column
    already called ``category`` is kept as ``category_input``. The unmatched frame holds the
    other rows (original columns) with a ``reason``. Together they partition the input
    (index preserved). ``source`` names the facility file in error messages.
    """
    table = load_keyword_table() if table is None else table
    for role, col in (("name", name_col), ("type", type_col), ("category", category_col)):
        if col is not None and col not in facilities_df.columns:
            raise InputError(f"the {role} column {col!r} is not in the facility table",
                             file=source, field=col,
                             fix=f"use one of the columns: {', '.join(map(str, facilities_df.columns))}")

    res = classify_names(facilities_df[name_col],
                         None if type_col is None else facilities_df[type_col], table)
    cat = res["category"].to_numpy(dtype=object).copy()
    kw = res["matched_keyword"].to_numpy(dtype=object).copy()
    rule = res["rule"].to_numpy(dtype=object).copy()
    no_kw = (f"no keyword matched; add a keyword to {table.source} or fill the category column")
    reason = np.where(pd.isna(cat), no_kw, None).astype(object)

    if category_col is not None:
        raw = facilities_df[category_col]
        blank = _norm_label_series(raw).eq("").to_numpy()
        mapped = table.category_of_label(raw).to_numpy(dtype=object)
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
                [f"category {v!r} in column {category_col!r} is not a known category; use one "
                 f"of {labels}, or add it to the aliases in {table.source}" for v in bad_vals],
                dtype=object)  # loop only over the (few) unknown labels, for the message
            cat[unknown] = None
            kw[unknown] = None
            rule[unknown] = "none"

    out = facilities_df.copy()
    if "category" in out.columns:
        out = out.rename(columns={"category": "category_input"})
    ok = pd.notna(cat)
    matched = out.loc[ok].copy()
    for name, values in (("category", cat), ("category_rule", rule), ("matched_keyword", kw)):
        matched[name] = pd.Series(values[ok], index=matched.index, dtype=object)
    unmatched = facilities_df.loc[~ok].copy()
    unmatched["reason"] = pd.Series(reason[~ok], index=unmatched.index, dtype=object)
    return matched, unmatched
