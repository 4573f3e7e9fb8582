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

Matching is vectorised: compiled regex alternations of all keywords, applied with
``Series.str.findall`` (a look-ahead finds every occurrence) or ``Series.str.extract`` on the
reversed text (the first match of the reversed text is the last match of the name); the
winning keyword per row is chosen with a sort and ``drop_duplicates`` (no Python loop over rows).
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

#: The levels ``classify_names`` can return (besides None: the name does not say).
LEVELS = ("township", "community")
#: Every unmatched reason of an excluded name starts with this text.
EXCLUDED_PREFIX = "excluded: "

_KEYWORD_LISTS = ("keywords_zh", "keywords_en")
_EXCLUDE_LISTS = ("exclude_zh", "exclude_en")
_CATEGORY_KEYS = {"label_zh", "aliases", "subtypes", *_KEYWORD_LISTS, *_EXCLUDE_LISTS}
_SECTION_KEYS = {"label_zh", *_KEYWORD_LISTS}
_TOP_KEYS = {"version", "priority", "categories", "osm_tags", "exclusions", "levels"}
_NO_LEVEL = "no_level"
_LEVEL_KEYS = (*LEVELS, _NO_LEVEL)
_GLOBAL = "*"
_SUBTYPE_ID = re.compile(r"^[a-z][a-z0-9_]*$")


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


#: A trailing branch qualifier of a POI name: 美宜佳(人民医院店), 罗森(地铁人民广场站店).
_BRANCH_QUALIFIER = re.compile(r"\([^()]*店\)$")


def _strip_branch(s: pd.Series) -> pd.Series:
    """Normalised names without a trailing (…店) branch qualifier, which names a place nearby."""
    return s.str.replace(_BRANCH_QUALIFIER, "", regex=True).str.rstrip()


def _norm_label_series(s: pd.Series) -> pd.Series:
    s = _norm_text_series(s)
    return s.str.replace(r"[\s_\-]+", "_", regex=True).str.strip("_")


def _alternation(words) -> str:
    """Regex matching any of ``words``, the LONGEST one when several match at a position.

    Built as a trie (社区(?:卫生服务(?:中心|站)|服务站)...): the children of a node start with
    different characters, so at most one can continue, and the greedy ``?`` of a node that
    also ends a word tries the longer continuation first. Equivalent to an alternation
    sorted longest first, but much faster with hundreds of keywords.
    """
    trie: dict = {}
    for w in set(words):
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}          # end of a word

    def build(node: dict) -> str:
        kids = [re.escape(ch) + build(sub) for ch, sub in sorted(node.items()) if ch != ""]
        if not kids:
            return ""
        body = kids[0] if len(kids) == 1 else "(?:" + "|".join(kids) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(trie)


# --- the table ----------------------------------------------------------------------------

@dataclass(frozen=True)
class SubtypeRules:
    """A sub-type of a plan category (e.g. fitness / plaza 广场) and its keywords."""

    key: str
    label_zh: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class CategoryRules:
    """Keywords, exclusion keywords, aliases and sub-types of one plan category."""

    key: str
    label_zh: str
    aliases: tuple[str, ...]
    keywords: tuple[str, ...]
    exclusions: tuple[str, ...] = ()
    subtypes: tuple[SubtypeRules, ...] = ()


@dataclass
class KeywordTable:
    """A loaded, validated keyword table (see the header of category_keywords.yaml)."""

    source: str
    priority: tuple[str, ...]
    categories: dict[str, CategoryRules]
    osm_tags: dict[str, dict[str, str]]
    exclusions: tuple[str, ...] = ()
    levels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    level_labels: dict[str, str] = field(default_factory=dict)
    _keyword_info: pd.DataFrame = field(init=False, repr=False)
    _pattern: re.Pattern | None = field(init=False, repr=False)
    _alias_map: dict[str, str] = field(init=False, repr=False)
    _excl_info: pd.DataFrame = field(init=False, repr=False)
    _excl_pattern: re.Pattern | None = field(init=False, repr=False)
    _override: frozenset = field(init=False, repr=False)
    _excl_prefixes: dict[str, list[str]] = field(init=False, repr=False)
    _level_pattern: re.Pattern | None = field(init=False, repr=False)
    _level_map: dict[str, str | None] = field(init=False, repr=False)
    _subtype_patterns: dict[str, tuple[re.Pattern, dict[str, str]]] = field(init=False,
                                                                           repr=False)

    def __post_init__(self) -> None:
        rank = {c: i for i, c in enumerate(self.priority)}
        rows = []
        for cat in self.priority:
            for kw in self.categories[cat].keywords:
                rows.append((_norm_text(kw), kw, cat, len(_norm_text(kw)), rank[cat]))
        info = pd.DataFrame(rows, columns=["norm", "keyword", "category", "length", "rank"])
        info["order"] = np.arange(len(info))
        self._keyword_info = info.set_index("norm")
        # Look-ahead: every start position reports the longest keyword starting there,
        # so the longest keyword anywhere in the text is among the matches.
        self._pattern = (re.compile("(?=(" + _alternation(info["norm"]) + "))")
                         if len(info) else None)
        self._alias_map = {}
        for cat in self.priority:
            rules = self.categories[cat]
            for alias in (cat, rules.label_zh, *rules.aliases):
                self._alias_map[_norm_label(alias)] = cat

        # exclusions: scope "*" (every category) or a category key
        erows = [(_norm_text(k), k, _GLOBAL) for k in self.exclusions]
        for cat in self.priority:
            erows += [(_norm_text(k), k, cat) for k in self.categories[cat].exclusions]
        excl = pd.DataFrame(erows, columns=["norm", "keyword", "scope"])
        excl["length"] = excl["norm"].str.len().astype(int)
        excl["order"] = np.arange(len(excl))
        self._excl_info = excl
        self._excl_pattern = (re.compile("(?=(" + _alternation(excl["norm"]) + "))")
                              if len(excl) else None)
        enorms = set(excl["norm"])
        self._override = frozenset(f"{p}\x1f{e}" for p in info["norm"] for e in enorms
                                   if e in p)
        # The look-ahead reports only the longest exclusion starting at a position; the
        # shorter ones starting there (its prefixes) may have another scope, so add them.
        self._excl_prefixes = {e: [q for q in enorms if e.startswith(q)] for e in enorms}

        # levels and sub-types: matched on the reversed text (the last word of the name wins)
        self._level_map = {}
        for lvl, words in self.levels.items():
            for w in words:
                self._level_map[_norm_text(w)[::-1]] = None if lvl == _NO_LEVEL else lvl
        self._level_pattern = (re.compile("(" + _alternation(self._level_map) + ")")
                               if self._level_map else None)
        self._subtype_patterns = {}
        for cat in self.priority:
            mp = {_norm_text(w)[::-1]: st.key for st in self.categories[cat].subtypes
                  for w in st.keywords}
            if mp:
                self._subtype_patterns[cat] = (re.compile("(" + _alternation(mp) + ")"), mp)

    @property
    def keywords(self) -> pd.DataFrame:
        """One row per keyword: keyword, category, length, rank (priority), order."""
        return self._keyword_info.reset_index(drop=True).copy()

    @property
    def exclusion_keywords(self) -> pd.DataFrame:
        """One row per exclusion keyword: keyword, scope ("*" = every category), length, order."""
        return self._excl_info[["keyword", "scope", "length", "order"]].copy()

    def category_of_label(self, values) -> pd.Series:
        """Map category labels (keys, Chinese labels, aliases) to keys; unknown -> NaN."""
        s = _series(values)
        return _norm_label_series(s).map(self._alias_map).astype(object)

    def accepted_labels(self) -> list[str]:
        """The category keys and their Chinese labels (for messages)."""
        return [f"{c} ({self.categories[c].label_zh})" for c in self.priority]

    def subtype_label(self, category: str, subtype: str) -> str | None:
        """Chinese label of a sub-type key of a category (None if unknown)."""
        rules = self.categories.get(category)
        for st in (rules.subtypes if rules else ()):
            if st.key == subtype:
                return st.label_zh
        return None


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

    def mapping(body, key: str, allowed: set[str], what: str) -> dict:
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise bad(f"{what} must be a mapping", key,
                      f"indent {' / '.join(sorted(allowed))} under it")
        extra = sorted(set(map(str, body)) - allowed)
        if extra:
            raise bad(f"unknown key {extra[0]!r}", f"{key}.{extra[0]}",
                      f"use only: {', '.join(sorted(allowed))}")
        return body

    def str_list(body: dict, name: str, key: str) -> list[str]:
        val = body.get(name, [])
        if val is None:
            return []
        if not isinstance(val, list):
            raise bad(f"{name} must be a list", f"{key}.{name}",
                      "write it as [word1, word2] or as '- word' lines")
        out = []
        for i, item in enumerate(val):
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                item = str(item)
            if not isinstance(item, str) or not _norm_text(item):
                raise bad(f"entry {i} of {name} is not a non-empty text: {item!r}",
                          f"{key}.{name}[{i}]", "remove it or write a word")
            out.append(item)
        return out

    def words(body: dict, lists, key: str) -> list[tuple[str, str]]:
        """(word, key path) of the given lists, without repeats."""
        out, seen = [], set()
        for name in lists:
            for i, w in enumerate(str_list(body, name, key)):
                if _norm_text(w) not in seen:
                    seen.add(_norm_text(w))
                    out.append((w, f"{key}.{name}[{i}]"))
        return out

    def label(body: dict, key: str, default: str | None) -> str:
        val = body.get("label_zh", default)
        if not isinstance(val, str) or not val.strip():
            raise bad("label_zh must be a non-empty text", f"{key}.label_zh",
                      f"for example: {default or '广场'}")
        return val.strip()

    categories: dict[str, CategoryRules] = {}
    owner: dict[str, tuple[str, str]] = {}      # normalised keyword -> (category, key path)
    alias_owner: dict[str, tuple[str, str]] = {}
    for cat, body in cats_raw.items():
        ckey = f"categories.{cat}"
        if cat not in CATEGORIES:
            raise bad(f"unknown category {cat!r}", ckey,
                      f"use one of the plan categories: {', '.join(CATEGORIES)}")
        if body is not None and not isinstance(body, dict):
            raise bad("a category must be a mapping with keywords_zh / keywords_en / aliases",
                      ckey, "indent keywords_zh: [...] under the category")
        body = mapping(body, ckey, _CATEGORY_KEYS, "a category")
        lab = label(body, ckey, CATEGORY_LABELS_ZH[cat])

        aliases = str_list(body, "aliases", ckey)
        keywords: list[str] = []
        for kw, kpath in words(body, _KEYWORD_LISTS, ckey):
            nk = _norm_text(kw)
            if nk in owner and owner[nk][0] != cat:
                raise bad(f"keyword {kw!r} is listed for both {owner[nk][0]} and {cat}",
                          kpath, f"keep it in one category only (also at {owner[nk][1]})")
            owner[nk] = (cat, kpath)
            keywords.append(kw)
        exclusions = words(body, _EXCLUDE_LISTS, ckey)
        for w, wpath in exclusions:
            prev = owner.get(_norm_text(w))
            if prev is not None and prev[0] == cat:
                raise bad(f"{w!r} is both a keyword and an exclusion keyword of {cat}",
                          wpath, f"remove it from one of the two lists (keyword at {prev[1]})")
        for i, alias in enumerate([cat, lab, *aliases]):
            na = _norm_label(alias)
            prev = alias_owner.get(na)
            if prev is not None and prev[0] != cat:
                raise bad(f"alias {alias!r} is used for both {prev[0]} and {cat}",
                          f"{ckey}.aliases", f"keep it in one category only (also at {prev[1]})")
            alias_owner.setdefault(na, (cat, f"{ckey}.aliases"))

        subtypes: list[SubtypeRules] = []
        sub_owner: dict[str, str] = {}
        sub_raw = body.get("subtypes")
        if sub_raw is not None and not isinstance(sub_raw, dict):
            raise bad("subtypes must be a mapping: id -> {label_zh, keywords_zh}",
                      f"{ckey}.subtypes", "for example: plaza: {label_zh: 广场, keywords_zh: [广场]}")
        for skey, sbody in (sub_raw or {}).items():
            spath = f"{ckey}.subtypes.{skey}"
            if not isinstance(skey, str) or not _SUBTYPE_ID.match(skey):
                raise bad(f"sub-type key {skey!r} is not a short id", spath,
                          "use lower-case English letters, digits and _ (e.g. children_home) "
                          "and put the Chinese name in label_zh")
            sbody = mapping(sbody, spath, _SECTION_KEYS, "a sub-type")
            slabel = label(sbody, spath, None)
            swords = words(sbody, _KEYWORD_LISTS, spath)
            if not swords:
                raise bad("a sub-type needs at least one keyword", f"{spath}.keywords_zh",
                          "list the words that name this sub-type, e.g. [儿童之家]")
            for w, wpath in swords:
                prev = sub_owner.setdefault(_norm_text(w), wpath)
                if prev != wpath:
                    raise bad(f"sub-type keyword {w!r} is listed twice in {cat}", wpath,
                              f"keep it in one sub-type only (also at {prev})")
            subtypes.append(SubtypeRules(skey, slabel, tuple(w for w, _ in swords)))
        categories[cat] = CategoryRules(cat, lab, tuple(aliases), tuple(keywords),
                                        tuple(w for w, _ in exclusions), tuple(subtypes))

    # exclusions: for every category (top level) and per category
    gbody = mapping(data.get("exclusions"), "exclusions", set(_KEYWORD_LISTS), "exclusions")
    gexcl = words(gbody, _KEYWORD_LISTS, "exclusions")
    for w, wpath in gexcl:
        if _norm_text(w) in owner:
            c, kpath = owner[_norm_text(w)]
            raise bad(f"{w!r} is both an exclusion for every category and a keyword of {c}",
                      wpath, f"remove it from one of the two lists (keyword at {kpath})")

    # levels
    lbody = mapping(data.get("levels"), "levels", set(_LEVEL_KEYS), "levels")
    levels: dict[str, tuple[str, ...]] = {}
    level_labels: dict[str, str] = {}
    lowner: dict[str, tuple[str, str]] = {}
    for lvl, body in lbody.items():
        lkey = f"levels.{lvl}"
        body = mapping(body, lkey, _SECTION_KEYS, "a level")
        if "label_zh" in body:
            level_labels[lvl] = label(body, lkey, None)
        lw = words(body, _KEYWORD_LISTS, lkey)
        for w, wpath in lw:
            prev = lowner.setdefault(_norm_text(w), (lvl, wpath))
            if prev[0] != lvl:
                raise bad(f"level word {w!r} is listed for both {prev[0]} and {lvl}", wpath,
                          f"keep it in one level only (also at {prev[1]})")
        levels[lvl] = tuple(w for w, _ in lw)

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

    return KeywordTable(source=src, priority=priority, categories=categories, osm_tags=osm_tags,
                        exclusions=tuple(w for w, _ in gexcl), levels=levels,
                        level_labels=level_labels)


# --- classification -------------------------------------------------------------------

def _findall(text: pd.Series, pattern: re.Pattern) -> pd.Series:
    """Every (overlapping) match, exploded: one row per match, index = row position."""
    found = pd.Series(text.to_numpy(), index=np.arange(len(text))).str.findall(pattern)
    return found.explode().dropna()


def _match(text: pd.Series, table: KeywordTable):
    """Best keyword per row of already normalised text: (category, keyword, normalised keyword)."""
    n = len(text)
    cat = np.full(n, None, dtype=object)
    kw = np.full(n, None, dtype=object)
    knorm = np.full(n, None, dtype=object)
    if n == 0 or table._pattern is None:
        return cat, kw, knorm
    ex = _findall(text, table._pattern)
    if ex.empty:
        return cat, kw, knorm
    cand = table._keyword_info.loc[ex.to_numpy(), ["keyword", "category", "length", "rank",
                                                   "order"]]
    cand = cand.assign(row=ex.index.to_numpy(), norm=ex.to_numpy()).reset_index(drop=True)
    best = (cand.sort_values(["row", "length", "rank", "order"],
                             ascending=[True, False, True, True], kind="mergesort")
                .drop_duplicates("row"))
    rows = best["row"].to_numpy()
    cat[rows] = best["category"].to_numpy()
    kw[rows] = best["keyword"].to_numpy()
    knorm[rows] = best["norm"].to_numpy()
    return cat, kw, knorm


def _exclusions(texts, cat: np.ndarray, knorm: np.ndarray, table: KeywordTable):
    """The exclusion that applies to each row: (keyword, scope, "name"/"type") or None.

    An exclusion applies when its scope is "*" or the row's category, and it is not part of
    the row's winning positive keyword. The longest applying exclusion is reported.
    """
    n = len(cat)
    out = [np.full(n, None, dtype=object) for _ in range(3)]
    if n == 0 or table._excl_pattern is None:
        return out
    parts = []
    for where, (src, text) in enumerate(texts):
        ex = _findall(text, table._excl_pattern)
        if not ex.empty:
            ex = ex.map(table._excl_prefixes).explode()
            parts.append(pd.DataFrame({"row": ex.index.to_numpy(), "norm": ex.to_numpy(),
                                       "src": src, "where": where}))
    if not parts:
        return out
    cand = pd.concat(parts, ignore_index=True).merge(table._excl_info, on="norm")
    rows = cand["row"].to_numpy()
    rowcat = cat[rows]
    applies = (cand["scope"].to_numpy() == _GLOBAL) | (cand["scope"].to_numpy() == rowcat)
    pair = (pd.Series(knorm[rows], dtype=object).fillna("").astype(str) + "\x1f"
            + cand["norm"].astype(str).to_numpy())
    applies &= ~pair.isin(table._override).to_numpy()
    best = (cand[applies].sort_values(["row", "length", "where", "order"],
                                      ascending=[True, False, True, True], kind="mergesort")
                         .drop_duplicates("row"))
    r = best["row"].to_numpy()
    out[0][r] = best["keyword"].to_numpy()
    out[1][r] = best["scope"].to_numpy()
    out[2][r] = best["src"].to_numpy()
    return out


def _last_word(text: pd.Series, pattern: re.Pattern | None, mapping: dict) -> np.ndarray:
    """Value of the word that ends last in each text (ties: the longer word); None if none."""
    n = len(text)
    if n == 0 or pattern is None:
        return np.full(n, None, dtype=object)
    rev = pd.Series(text.to_numpy(), index=np.arange(n), dtype="string").str[::-1]
    hit = rev.str.extract(pattern, expand=False).astype(object)
    val = hit.map(mapping).to_numpy(dtype=object)
    return np.where(pd.isna(val), None, val).astype(object)


def _levels(text: pd.Series, table: KeywordTable) -> np.ndarray:
    return _last_word(text, table._level_pattern, table._level_map)


def _subtypes(text: pd.Series, cat: np.ndarray, table: KeywordTable) -> np.ndarray:
    out = np.full(len(text), None, dtype=object)
    for c, (pattern, mapping) in table._subtype_patterns.items():   # loop over categories
        rows = np.flatnonzero(cat == c)
        if len(rows):
            out[rows] = _last_word(text.iloc[rows], pattern, mapping)
    return out


def _result(columns: dict, index) -> pd.DataFrame:
    """DataFrame of object columns, so that a missing category stays None (not NaN)."""
    return pd.DataFrame({k: pd.Series(v, index=index, dtype=object) for k, v in columns.items()},
                        index=index)


def _classify(names, types, table: KeywordTable) -> dict:
    names = _series(names)
    ntext = _norm_text_series(names)
    ptext = _strip_branch(ntext)        # positive keywords and sub-types ignore (…店)
    cat, kw, knorm = _match(ptext, table)
    rule = np.where(pd.notna(cat), "name", "none").astype(object)
    texts = [("name", ntext)]
    if types is not None:
        types = _series(types)
        if len(types) != len(names):
            raise ValueError(f"names ({len(names)}) and types ({len(types)}) differ in length")
        ttext = _norm_text_series(types)
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
    return {"index": names.index, "text": ptext, "category": cat, "matched_keyword": kw,
            "rule": rule, "level": _levels(ntext, table), "excluded_by": ex_kw,
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
    names = unmatched_frame[name_col]
    if skip_excluded and "reason" in unmatched_frame.columns:
        reason = unmatched_frame["reason"].astype("string").fillna("")
        names = names[~reason.str.startswith(EXCLUDED_PREFIX).to_numpy()]
    names = names.astype("string").str.strip()
    names = names[names.notna() & names.ne("")]
    if names.empty or n <= 0:
        return []
    counts = names.value_counts()
    df = pd.DataFrame({"name": counts.index.astype(str), "count": counts.to_numpy()})
    df = df.sort_values(["count", "name"], ascending=[False, True], kind="mergesort").head(n)
    return [(str(a), int(b)) for a, b in zip(df["name"], df["count"])]


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
        scope = pd.Series(r["excluded_scope"][excl], dtype=object)
        scope_txt = np.where(scope == _GLOBAL, "for every category",
                             "of " + scope.astype(str)).astype(object)
        reason[excl] = (EXCLUDED_PREFIX + "the " + pd.Series(r["excluded_in"][excl]).astype(str)
                        + " contains '" + pd.Series(r["excluded_by"][excl]).astype(str)
                        + "', an exclusion keyword " + scope_txt + " in " + table.source
                        + "; not a plan facility (if it is one, fill the category column)"
                        ).to_numpy(dtype=object)

    if category_col is not None:
        label = category_col if column_label is None else column_label
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
