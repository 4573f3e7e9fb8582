"""Plan-standard profiles: validate the YAML files that hold the plan targets.

A profile is data, not code. A planner copies one of the packaged files in
``coverage/profiles/`` (national_14th is the default), edits the numbers, and points
the study config at the copy. Every mistake in a profile raises
:class:`coverage.errors.InputError` naming the file, the indicator id and the key.

Each indicator cites its plan clause (``clause``: "专栏1 第1项") and quotes the plan text
verbatim (``quote``: one text or a list; "……" marks a cut). The tool's own readings (100 % for
全覆盖 without a figure, Guangdong's rural half-hour circle read as 30 minutes by e-bike) go in
``note_zh`` / ``note_en``, never into the quote. A profile may declare ``options`` (e.g. Guangdong's
``region: prd | ewn``) that choose an indicator's target (``target_by: region`` with
``target: {prd: 80, ewn: 50}``); the option's default applies unless the caller chooses
(``load_profile(..., options={"region": "ewn"})`` or ``Profile.with_options``).

Facilities an indicator counts (kinds that count facilities, see ``KIND_SPECS``):

* ``facility_level``: ``township`` (街道/乡镇 centres: only facilities whose level is
  township), ``community`` (村/社区 stations: community level and facilities whose level is
  unknown, i.e. the name does not say and no level column was given), or ``any``. The default
  depends on the kind (``KIND_SPECS[kind]["level"]``).
* ``subtypes``: sub-types of the keyword table (``children_home``, ``plaza`` ...), checked
  against the packaged table's ``subtypes:``; ``exclude_subtypes`` leaves some out (a 社工站
  is a comprehensive facility but not a 社区服务中心).
* ``area``: ``floor`` (building floor area, column area_m2) or ``site`` (ground area of
  plazas and sports grounds, column site_area_m2).

Travel mode (the distance kinds only, ``MODE_KINDS``): ``mode: ebike`` (absent = ``walk``) makes
``threshold_min`` minutes by that mode; a ``threshold_m`` is a network distance, the same for
every mode. Accepted names: :mod:`coverage.analysis.standards_kinds`.

Public API
----------
``validate_profile(raw, path, options=None, modes=None) -> Profile``   a parsed profile, checked
(reading the files: :mod:`coverage.io.profiles` ``load_profile`` / ``list_profiles``)
``required_cutoffs(profile, speed)``        largest cut-off (flat-walking m) per (category, mode)
``required_thresholds_m(profile, speed)``   largest walking threshold (m) per category
``KIND_SPECS``                              the indicator kinds and what each accepts
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coverage.errors import InputError
from coverage.labels import CATEGORIES

from .standards_kinds import (  # noqa: F401  (re-exported: the profile vocabulary)
    ALWAYS_OPTIONAL, APPLIES_TO, AREA_FIELDS, COMPARISONS, DEFAULT_MODE, DEFAULT_PROFILE,
    FACILITY_LEVELS, KIND_SPECS, KINDS, MODE_KINDS, OPTIONAL_KEYS, PROFILE_OPTIONAL,
    PROFILE_REQUIRED, QUOTE_CUT, REQUIRE, REQUIRED_KEYS, SELECT_KEYS, UNITS, check_mode,
    key_not_used_why, packaged_subtypes)


@dataclass(frozen=True)
class Indicator:
    """One plan indicator, as read from a profile (options already applied)."""

    id: str
    name_zh: str
    name_en: str
    kind: str
    target: float
    comparison: str
    unit: str
    applies_to: str
    categories: tuple[str, ...]
    clause: str
    quote: tuple[str, ...] = ()
    threshold_min: float | None = None
    threshold_m: float | None = None
    mode: str = DEFAULT_MODE
    min_area_m2: float | None = None
    min_covered_share: float = 50.0
    share_target: float = 100.0
    require: str = "any"
    facility_level: str = "any"
    subtypes: tuple[str, ...] | None = None
    exclude_subtypes: tuple[str, ...] = ()
    area: str = "floor"
    baseline: str | None = None
    note_zh: str | None = None
    note_en: str | None = None

    @property
    def source(self) -> str:
        """The clause and its quoted text, as one line."""
        return self.clause + ("：" + " ".join(self.quote) if self.quote else "")

    @property
    def note(self) -> str | None:
        return self.note_en or self.note_zh

    def threshold_metres(self, speed_m_per_min: float) -> float | None:
        """The cut-off: threshold_m (network metres) if given, else threshold_min x walking speed
        (flat-walking metres, the cost unit of every mode: coverage.core.modes)."""
        if self.threshold_m is not None:
            return float(self.threshold_m)
        if self.threshold_min is not None:
            return float(self.threshold_min) * float(speed_m_per_min)
        return None

    @property
    def is_distance(self) -> bool:
        """True when the threshold is a network distance (threshold_m), the same for every mode."""
        return self.threshold_m is not None


@dataclass(frozen=True)
class Profile:
    """A validated plan-standard profile."""

    id: str
    name_zh: str
    name_en: str
    source: dict
    period: str
    indicators: tuple[Indicator, ...]
    path: str
    note: str | None = None
    not_encoded: tuple = field(default_factory=tuple)
    options: dict = field(default_factory=dict)        # option -> chosen value
    option_specs: dict = field(default_factory=dict)   # option -> {default, values: {v: {zh, en}}}
    known_modes: tuple | None = None   # modes the caller knew besides the packaged ones (see check_mode)
    raw: Any = field(default=None, repr=False, compare=False)

    def indicator(self, indicator_id: str) -> Indicator:
        for ind in self.indicators:
            if ind.id == indicator_id:
                return ind
        raise KeyError(indicator_id)

    def with_options(self, options: dict | None = None, **kw) -> "Profile":
        """The same profile with some options chosen, e.g. ``with_options(region="ewn")``."""
        return validate_profile(self.raw, self.path, {**self.options, **(options or {}), **kw},
                                modes=self.known_modes)

    @property
    def modes(self) -> tuple[str, ...]:
        """The travel modes the indicators use ("walk" first when used)."""
        used = {ind.mode for ind in self.indicators if ind.threshold_min or ind.threshold_m}
        return tuple(sorted(used, key=lambda m: (m != DEFAULT_MODE, m)))


def _err(path, problem, field_, fix):
    return InputError(problem, file=path, field=field_, fix=fix)


def _options(raw, path: str, chosen: dict | None):
    specs_raw = raw.get("options") or {}
    if not isinstance(specs_raw, dict):
        raise _err(path, "'options' must be a mapping: option -> {default, values}", "options",
                   "e.g. options: {region: {default: prd, values: {prd: {zh: 珠江三角洲地区, en: ...}}}}")
    specs, values = {}, {}
    for name, spec in specs_raw.items():
        where = f"options.{name}"
        vals = spec.get("values") if isinstance(spec, dict) else None
        if not isinstance(vals, dict) or not vals or spec.get("default") not in vals:
            raise _err(path, f"option '{name}' needs 'values' (a mapping) and a 'default' among them",
                       where, "write e.g. region: {default: prd, values: {prd: {zh: ..., en: ...}}}")
        labels = {str(k): {"zh": str((v or {}).get("zh", k)), "en": str((v or {}).get("en", k))}
                  for k, v in vals.items()}
        specs[str(name)] = {"default": str(spec["default"]), "values": labels}
        values[str(name)] = str(spec["default"])
    for name, v in (chosen or {}).items():
        if name not in specs:
            raise _err(path, f"the profile has no option '{name}'", "options",
                       "options of this profile: " + (", ".join(specs) or "none"))
        if str(v) not in specs[name]["values"]:
            raise _err(path, f"option {name} = {v!r} is not one of "
                       + ", ".join(specs[name]["values"]), f"options.{name}",
                       f"choose one of: {', '.join(specs[name]['values'])}")
        values[name] = str(v)
    return specs, values


def validate_profile(raw: Any, path: str | Path = "<profile>", options: dict | None = None,
                     modes=None) -> Profile:
    """Validate a parsed profile mapping; return a Profile or raise InputError.

    ``options`` chooses profile options ({"region": "ewn"}); unchosen ones take their default.
    ``modes``: travel-mode names the caller knows besides the packaged ones (the study's
    analysis.modes); given, an indicator naming any other mode is an error; None (no study
    yet), a well-formed unknown name only warns (see :mod:`coverage.analysis.standards_kinds`)."""
    known_modes = None if modes is None else tuple(str(m) for m in modes)
    path = str(path)
    if not isinstance(raw, dict):
        raise _err(path, "profile must be a YAML mapping with keys " + ", ".join(PROFILE_REQUIRED),
                   "(top level)", "start from a packaged profile in coverage/profiles/")
    for key in raw:
        if key not in PROFILE_REQUIRED + PROFILE_OPTIONAL:
            raise _err(path, f"unknown key '{key}' at the top of the profile", str(key),
                       "allowed keys: " + ", ".join(PROFILE_REQUIRED + PROFILE_OPTIONAL))
    for key in PROFILE_REQUIRED:
        if key not in raw or raw[key] is None:
            raise _err(path, f"missing key '{key}' at the top of the profile", key,
                       f"add '{key}:' (see coverage/profiles/national_14th.yaml)")
    for key in ("id", "name_zh", "name_en", "period"):
        if not isinstance(raw[key], (str, int)) or str(raw[key]).strip() == "":
            raise _err(path, f"'{key}' must be a non-empty text", key, f"write e.g. {key}: ...")
    src = raw["source"]
    if not isinstance(src, dict) or not src.get("title"):
        raise _err(path, "'source' must be a mapping with at least 'title' (plan title); "
                   "also 'document', 'seed_file', 'sections'", "source",
                   "write source: {title: ..., document: ..., seed_file: ..., sections: ...}")
    inds = raw["indicators"]
    if not isinstance(inds, list) or not inds:
        raise _err(path, "'indicators' must be a non-empty list", "indicators",
                   "list the indicators, each starting with '- id: ...'")
    not_encoded = raw.get("not_encoded") or []
    if not isinstance(not_encoded, list) or not all(
            isinstance(x, dict) and x.get("name_zh") and x.get("reason") for x in not_encoded):
        raise _err(path, "'not_encoded' must be a list of {name_zh, reason}", "not_encoded",
                   "list the plan figures not measured, each with name_zh and reason")
    specs, chosen = _options(raw, path, options)
    seen: set[str] = set()
    indicators = []
    for i, item in enumerate(inds):
        ind = _validate_indicator(item, i, path, specs, chosen, known_modes)
        if ind.id in seen:
            raise _err(path, f"indicator id '{ind.id}' appears twice", f"indicators[{i}].id",
                       "give every indicator its own id")
        seen.add(ind.id)
        indicators.append(ind)
    return Profile(id=str(raw["id"]), name_zh=str(raw["name_zh"]), name_en=str(raw["name_en"]),
                   source=dict(src), period=str(raw["period"]), indicators=tuple(indicators),
                   path=path, note=raw.get("note"), not_encoded=tuple(not_encoded),
                   options=chosen, option_specs=specs, known_modes=known_modes, raw=raw)


def _is_number(x: Any) -> bool:
    return (isinstance(x, (int, float)) and not isinstance(x, bool)
            and math.isfinite(float(x)))


def _texts(v) -> list | None:
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not v or not all(isinstance(s, str) and s.strip() for s in v):
        return None
    return [s.strip() for s in v]


def _validate_indicator(item: Any, i: int, path: str, specs: dict, chosen: dict,
                        modes=None) -> Indicator:
    where = f"indicators[{i}]"
    if not isinstance(item, dict):
        raise _err(path, f"{where} must be a mapping of keys", where,
                   "each indicator starts with '- id: ...' followed by its keys")
    iid = item.get("id")
    label = f"indicator '{iid}'" if iid else where

    def err(problem: str, key: str, fix: str) -> InputError:
        return _err(path, f"{label}: {problem}", f"indicators[{i}] (id {iid}).{key}", fix)

    for key in item:
        if key not in REQUIRED_KEYS + OPTIONAL_KEYS:
            raise err(f"unknown key '{key}'", str(key),
                      "allowed keys: " + ", ".join(REQUIRED_KEYS + OPTIONAL_KEYS))
    for key in REQUIRED_KEYS:
        if key not in item or item[key] is None:
            raise err(f"missing key '{key}'", key, f"add '{key}:' to this indicator")
    if not isinstance(iid, str) or not iid.replace("_", "").isalnum() or iid != iid.lower():
        raise err("id must be snake_case text (a-z, 0-9, _)", "id", "e.g. id: rural_comprehensive_coverage")
    kind = item["kind"]
    if kind not in KIND_SPECS:
        raise err(f"unknown kind '{kind}'", "kind", "use one of: " + ", ".join(KINDS))
    spec = KIND_SPECS[kind]
    texts = ("name_zh", "name_en", "note_zh", "note_en")
    target, names = item["target"], {k: item[k] for k in texts if item.get(k) is not None}
    if item.get("target_by") is not None:
        opt = item["target_by"]
        if opt not in specs:
            raise err(f"target_by names no option of the profile: {opt!r}", "target_by",
                      "declare it under 'options:' at the top, or remove target_by")
        if not isinstance(target, dict) or set(map(str, target)) != set(specs[opt]["values"]):
            raise err(f"with target_by: {opt}, target must give one figure per value "
                      f"({', '.join(specs[opt]['values'])})", "target",
                      "e.g. target: {" + ", ".join(f"{v}: 80" for v in specs[opt]["values"]) + "}")
        target = {str(k): v for k, v in target.items()}[chosen[opt]]
        lab = specs[opt]["values"][chosen[opt]]
        names = {k: str(v).replace("{" + opt + "}", lab[k[-2:]]) for k, v in names.items()}   # {region}
    if not _is_number(target):
        raise err(f"target must be a number, got {target!r}", "target",
                  "write the figure without units, e.g. target: 80 (for 80%)")
    if item["comparison"] not in COMPARISONS:
        raise err(f"bad comparison {item['comparison']!r}", "comparison",
                  "use one of: " + ", ".join(f'"{c}"' for c in COMPARISONS) + " (quoted)")
    unit = item["unit"]
    if unit not in UNITS:
        raise err(f"unknown unit {unit!r}", "unit", "use one of: " + ", ".join(UNITS))
    if unit != spec["unit"]:
        raise err(f"kind {kind} reports in '{spec['unit']}', not '{unit}'", "unit",
                  f"write unit: \"{spec['unit']}\"")
    if item["applies_to"] not in APPLIES_TO:
        raise err(f"unknown applies_to {item['applies_to']!r}", "applies_to",
                  "use one of: " + ", ".join(APPLIES_TO))
    if item["applies_to"] not in spec["applies_to"]:
        raise err(f"kind {kind} cannot apply to '{item['applies_to']}'", "applies_to",
                  "use one of: " + ", ".join(spec["applies_to"]))
    cats = item["categories"]
    if isinstance(cats, str):
        cats = [cats]
    if not isinstance(cats, list) or not cats:
        raise err("categories must be a non-empty list", "categories", "e.g. categories: [comprehensive]")
    for c in cats:
        if c not in CATEGORIES:
            raise err(f"unknown category {c!r}", "categories", "use plan categories: " + ", ".join(CATEGORIES))
    for key in ("name_zh", "name_en"):
        if not isinstance(item[key], str) or not item[key].strip():
            raise err(f"'{key}' must be a non-empty text", key, f"write {key}: ...")
    clause = item.get("clause", item.get("source"))
    if not isinstance(clause, str) or not clause.strip():
        raise err("missing key 'clause' (the plan clause, e.g. 专栏1 第1项)", "clause",
                  "add clause: ... and quote: the plan text, verbatim")
    quote = ()
    if item.get("quote") is not None:
        q = _texts(item["quote"])
        if q is None:
            raise err("quote must be the plan text (a text or a list of texts)", "quote",
                      f"copy the sentence from the plan; mark a cut with {QUOTE_CUT}")
        quote = tuple(q)
    allowed_optional = set(spec["optional"]) | set(ALWAYS_OPTIONAL)
    if spec["threshold"]:
        allowed_optional |= {"threshold_min", "threshold_m"}
    for key in OPTIONAL_KEYS:
        if key in item and key not in allowed_optional:
            raise err(f"key '{key}' is not used by kind {kind}{key_not_used_why(key, spec)}", key,
                      f"remove '{key}' (kind {kind} uses: " + (", ".join(sorted(allowed_optional)) or "none") + ")")
    if spec["threshold"]:
        has_min, has_m = item.get("threshold_min") is not None, item.get("threshold_m") is not None
        if has_min == has_m:
            raise err("give exactly one of threshold_min (minutes, on foot or by the indicator's "
                      "mode) or threshold_m (network metres)", "threshold_min", "e.g. threshold_min: 15")
    for key in ("threshold_min", "threshold_m", "min_area_m2"):
        if item.get(key) is not None and (not _is_number(item[key]) or item[key] <= 0):
            raise err(f"{key} must be a positive number, got {item[key]!r}", key, f"e.g. {key}: 300")
    for key in spec.get("needs", ()):
        if item.get(key) is None:
            raise err(f"missing key '{key}' (kind {kind} needs it)", key, f"add {key}: ...")
    for key in ("min_covered_share", "share_target"):
        if key in item and (not _is_number(item[key]) or not 0 < item[key] <= 100):
            raise err(f"{key} must be a percentage in (0, 100], got {item[key]!r}", key, f"e.g. {key}: 50")
    if "require" in item and item["require"] not in REQUIRE:
        raise err(f"bad require {item['require']!r}", "require", "use 'any' or 'all'")
    if "facility_level" in item and item["facility_level"] not in FACILITY_LEVELS:
        raise err(f"bad facility_level {item['facility_level']!r}", "facility_level",
                  "use 'community', 'township' or 'any'")
    if "area" in item and item["area"] not in AREA_FIELDS:
        raise err(f"bad area {item['area']!r}", "area",
                  "use 'floor' (building floor area) or 'site' (ground area of plazas and grounds)")
    mode = check_mode(item, modes, err, f"{path}: {label} (indicators[{i}].mode)")
    known = {s for c in cats for s in packaged_subtypes().get(c, {})}
    chosen_sub = {}
    for key in ("subtypes", "exclude_subtypes"):
        if item.get(key) is None:
            continue
        subs = _texts(item[key])
        bad = [s for s in (subs or [None]) if s not in known]
        if bad:
            raise err(f"unknown sub-type {bad[0]!r} for categories {', '.join(cats)}", key,
                      "use sub-types of the keyword table (coverage/resources/category_keywords.yaml): "
                      + (", ".join(sorted(known)) or "these categories have none"))
        chosen_sub[key] = tuple(subs)
    opt = {k: item[k] for k in ("threshold_min", "threshold_m", "min_area_m2", "min_covered_share",
                                "share_target", "require", "area") if k in item}
    for k in ("threshold_min", "threshold_m", "min_area_m2", "min_covered_share", "share_target"):
        if k in opt:
            opt[k] = float(opt[k])
    note = item.get("note")
    for k in ("baseline", "note_zh", "note_en"):
        v = names.get(k, item.get(k, note if k != "baseline" else None))
        if v is not None:
            opt[k] = str(v).strip()
    return Indicator(id=iid, name_zh=names["name_zh"].strip(), name_en=names["name_en"].strip(),
                     kind=kind, target=float(target), comparison=item["comparison"], unit=unit,
                     applies_to=item["applies_to"], categories=tuple(cats), clause=clause.strip(),
                     quote=quote, mode=mode, facility_level=item.get("facility_level", spec["level"]),
                     **chosen_sub, **opt)


def required_cutoffs(profile: Profile, speed_m_per_min: float) -> dict[tuple[str, str], float]:
    """Largest cut-off any indicator of the profile needs, per (category, mode), in flat-walking
    metres (minutes x walking speed, the cost unit of every mode: coverage.core.modes).

    Walking indicators (and the 2SFCA catchments) count under mode "walk". A network distance
    (threshold_m, e.g. 十里 = 5 km) also counts under "walk": it is read from the walking
    network's metres (``dist_{cat}_flat`` when a DEM is given, else ``dist_{cat}``), so the
    search for those columns must reach it."""
    out: dict[tuple[str, str], float] = {}
    for ind in profile.indicators:
        t = ind.threshold_metres(speed_m_per_min)
        if t is None:
            continue
        for c in ind.categories:
            key = (c, ind.mode)
            out[key] = max(out.get(key, 0.0), t)
    return dict(sorted(out.items()))


def required_thresholds_m(profile: Profile, speed_m_per_min: float) -> dict[str, float]:
    """Largest walking threshold (metres) any indicator of the profile needs, per category
    (indicators by another mode left out: see :func:`required_cutoffs`)."""
    return {c: t for (c, m), t in required_cutoffs(profile, speed_m_per_min).items()
            if m == DEFAULT_MODE}
