"""The keyword table behind the facility classifier: text normalisation and the table's
structure (categories, exclusions, levels, sub-types). Read with
:func:`coverage.io.keywords_load.load_keyword_table`; used by :mod:`coverage.io.categories`."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

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

_WS = re.compile(r"\s+")
_LABEL_SEP = re.compile(r"[\s_\-]+")


def _norm_text(s: str) -> str:
    """NFKC, lower case, runs of spaces made one, stripped."""
    return _WS.sub(" ", unicodedata.normalize("NFKC", s).lower()).strip()


def _norm_label(s: str) -> str:
    return _LABEL_SEP.sub("_", _norm_text(s)).strip("_")


def _series(values) -> pd.Series:
    if isinstance(values, pd.Series):
        return values
    return pd.Series(list(values) if not isinstance(values, (str, bytes)) else [values],
                     dtype=object)


def _texts(s: pd.Series) -> list:
    """The values as ``s.astype("string").fillna("")`` writes them, as a list of str."""
    out = []
    for v in s.to_numpy(dtype=object):
        if type(v) is str:
            out.append(v)
        elif v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
            out.append("")
        else:                                   # numbers, ...: converted by pandas
            return s.astype("string").fillna("").tolist()
    return out


def _norm_texts(s: pd.Series) -> list:
    """:func:`_norm_text` of every value (missing: ""), as a list (a few hundred names: a list is
    faster than pandas' ``.str`` methods, which call Python per value too)."""
    return [_norm_text(v) if v else "" for v in _texts(s)]


def _norm_labels(s: pd.Series) -> list:
    """:func:`_norm_label` of every value (missing: ""), as a list."""
    return [_norm_label(v) if v else "" for v in _texts(s)]


def _norm_text_series(s: pd.Series) -> pd.Series:
    return pd.Series(_norm_texts(s), index=s.index, dtype="string")


#: A trailing branch qualifier of a POI name: 美宜佳(人民医院店), 罗森(地铁人民广场站店).
_BRANCH_QUALIFIER = re.compile(r"\([^()]*店\)$")


def _strip_branch(s: pd.Series) -> pd.Series:
    """Normalised names without a trailing (…店) branch qualifier, which names a place nearby."""
    return s.str.replace(_BRANCH_QUALIFIER, "", regex=True).str.rstrip()


def _norm_label_series(s: pd.Series) -> pd.Series:
    return pd.Series(_norm_labels(s), index=s.index, dtype="string")


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
        self._excl_prefixes = {e: [e[:i] for i in range(1, len(e) + 1) if e[:i] in enorms] for e in enorms}

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
