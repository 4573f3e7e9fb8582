"""Reading and checking the keyword table YAML: every mistake names the file, the key and the fix."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import yaml

from ..config import _SafeLoader   # libyaml's parser: the packaged table parses ~10x faster

from coverage.errors import InputError
from coverage.labels import CATEGORIES, CATEGORY_LABELS_ZH

from .keywords import (
    _CATEGORY_KEYS,
    _EXCLUDE_LISTS,
    _KEYWORD_LISTS,
    _LEVEL_KEYS,
    _SECTION_KEYS,
    _SUBTYPE_ID,
    _TOP_KEYS,
    CategoryRules,
    KeywordTable,
    SubtypeRules,
    _norm_label,
    _norm_text,
    default_table_path,
)


class _DuplicateKey(Exception):
    def __init__(self, key, line: int):
        super().__init__(key, line)
        self.key, self.line = key, line


class _UniqueKeyLoader(_SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (PyYAML silently keeps the last)."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise _DuplicateKey(key, key_node.start_mark.line + 1)
        seen.add(key)
    return _SafeLoader.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                 _construct_mapping)


_TABLES: dict = {}


def load_keyword_table(path=None) -> KeywordTable:
    """Load and validate a keyword table (default: the packaged one).

    A malformed table raises InputError naming the file and the offending key. A table is parsed
    once per path and content (parsing takes most of a second, asked for by every classification
    without a table and every profile check); each call gets its own copy of the table's mappings,
    so a caller changing one does not change the next caller's table.
    """
    p = default_table_path() if path is None else Path(path)
    try:
        key = (str(p), hashlib.sha256(p.read_bytes()).digest()) if p.is_file() else None
    except OSError:
        key = None                              # unreadable: _load says what is wrong
    if key is None or key not in _TABLES:
        table = _load(p)
        if key is None:
            return table
        _TABLES[key] = table
    return _copy(_TABLES[key])


def _copy(t: KeywordTable) -> KeywordTable:
    """A table sharing the cached one's compiled patterns and frozen rules, with mappings of its own."""
    c = copy.copy(t)
    c.categories = dict(t.categories)
    c.osm_tags = {k: dict(v) for k, v in t.osm_tags.items()}
    c.levels = dict(t.levels)
    c.level_labels = dict(t.level_labels)
    return c


def _load(p: Path) -> KeywordTable:
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
