"""Plan-standard profiles: load and validate the YAML files that hold the plan targets.

A profile is data, not code. A planner copies one of the packaged files in
``coverage/profiles/`` (national_14th is the default), edits the numbers, and points
the study config at the copy. Every mistake in a profile raises
:class:`coverage.errors.InputError` naming the file, the indicator id and the key.

Public API
----------
``validate_profile(raw, path) -> Profile``   a parsed profile mapping, checked
(reading the files: :mod:`coverage.io.profiles` ``load_profile`` / ``list_profiles``)
``required_thresholds_m(profile, speed)``   largest walking threshold (m) per category,
                                            so the access core knows how far to search
``KIND_SPECS``                              the indicator kinds and what each accepts
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from coverage.labels import CATEGORIES
from coverage.errors import InputError

DEFAULT_PROFILE = "national_14th"

COMPARISONS = (">=", "<=", "==")
UNITS = ("%", "m2/100hh", "m2/person", "count", "m2")
APPLIES_TO = ("urban", "rural", "township", "all")
FACILITY_LEVELS = ("community", "township")
REQUIRE = ("any", "all")

#: Keys every indicator must have.
REQUIRED_KEYS = ("id", "name_zh", "name_en", "kind", "target", "comparison", "unit",
                 "applies_to", "categories", "source")
#: Keys an indicator may have; which kinds use each one is in KIND_SPECS.
OPTIONAL_KEYS = ("threshold_min", "threshold_m", "min_area_m2", "min_covered_share",
                 "share_target", "require", "facility_level", "baseline", "note")
ALWAYS_OPTIONAL = ("baseline", "note")

PROFILE_REQUIRED = ("id", "name_zh", "name_en", "source", "period", "indicators")
PROFILE_OPTIONAL = ("note", "not_encoded")

_COMMUNITY_TYPES = ("urban", "rural", "all")
_TOWNSHIP_TYPES = ("township", "all", "urban", "rural")

#: kind -> unit it reports in, applies_to values it accepts, whether it needs a walking
#: threshold, and which optional keys (besides baseline/note) it uses.
KIND_SPECS: dict[str, dict[str, Any]] = {
    "community_has_facility": dict(
        unit="%", applies_to=_COMMUNITY_TYPES, threshold=False,
        optional=("facility_level",),
        doc="share of communities with a facility of the categories inside their boundary"),
    "community_within_circle": dict(
        unit="%", applies_to=_COMMUNITY_TYPES, threshold=True,
        optional=("min_covered_share", "require"),
        doc="share of communities where at least min_covered_share % (default 50) of the "
            "population reaches a facility within the threshold"),
    "population_coverage": dict(
        unit="%", applies_to=_COMMUNITY_TYPES, threshold=True,
        optional=("require",),
        doc="covered population / population of the communities of the type"),
    "area_per_100_households_inside": dict(
        unit="m2/100hh", applies_to=_COMMUNITY_TYPES, threshold=False,
        optional=("share_target", "facility_level"),
        doc="facility floor area inside the community / households x 100"),
    "area_per_100_households_2sfca": dict(
        unit="m2/100hh", applies_to=_COMMUNITY_TYPES, threshold=True,
        optional=("share_target",),
        doc="two-step floating catchment floor area per 100 households within walking reach"),
    "facility_min_area": dict(
        unit="%", applies_to=_COMMUNITY_TYPES, threshold=False,
        optional=("min_area_m2", "facility_level"), needs=("min_area_m2",),
        doc="share of facilities (known area) with floor area >= min_area_m2"),
    "township_has_facility": dict(
        unit="%", applies_to=_TOWNSHIP_TYPES, threshold=False,
        optional=("facility_level",),
        doc="share of townships/streets with at least one facility of the categories"),
    "township_within_circle": dict(
        unit="%", applies_to=_TOWNSHIP_TYPES, threshold=True,
        optional=("min_covered_share", "require"),
        doc="share of townships where at least min_covered_share % of the population "
            "reaches a facility within the threshold"),
    "per_capita_area": dict(
        unit="m2/person", applies_to=_COMMUNITY_TYPES, threshold=False,
        optional=(),
        doc="facility floor area of the categories / population"),
}
KINDS = tuple(KIND_SPECS)


@dataclass(frozen=True)
class Indicator:
    """One plan indicator, as read from a profile."""

    id: str
    name_zh: str
    name_en: str
    kind: str
    target: float
    comparison: str
    unit: str
    applies_to: str
    categories: tuple[str, ...]
    source: str
    threshold_min: float | None = None
    threshold_m: float | None = None
    min_area_m2: float | None = None
    min_covered_share: float = 50.0
    share_target: float = 100.0
    require: str = "any"
    facility_level: str | None = None
    baseline: str | None = None
    note: str | None = None

    def threshold_metres(self, speed_m_per_min: float) -> float | None:
        """Walking threshold in metres: threshold_m if given, else threshold_min x speed."""
        if self.threshold_m is not None:
            return float(self.threshold_m)
        if self.threshold_min is not None:
            return float(self.threshold_min) * float(speed_m_per_min)
        return None


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

    def indicator(self, indicator_id: str) -> Indicator:
        for ind in self.indicators:
            if ind.id == indicator_id:
                return ind
        raise KeyError(indicator_id)


def validate_profile(raw: Any, path: str | Path = "<profile>") -> Profile:
    """Validate a parsed profile mapping; return a Profile or raise InputError."""
    path = str(path)
    if not isinstance(raw, dict):
        raise InputError("profile must be a YAML mapping with keys "
                         + ", ".join(PROFILE_REQUIRED), file=path, field="(top level)",
                         fix="start from a packaged profile in coverage/profiles/")
    for key in raw:
        if key not in PROFILE_REQUIRED + PROFILE_OPTIONAL:
            raise InputError(f"unknown key '{key}' at the top of the profile", file=path,
                             field=str(key),
                             fix="allowed keys: " + ", ".join(PROFILE_REQUIRED + PROFILE_OPTIONAL))
    for key in PROFILE_REQUIRED:
        if key not in raw or raw[key] is None:
            raise InputError(f"missing key '{key}' at the top of the profile", file=path,
                             field=key, fix=f"add '{key}:' (see coverage/profiles/national_14th.yaml)")
    for key in ("id", "name_zh", "name_en", "period"):
        if not isinstance(raw[key], (str, int)) or str(raw[key]).strip() == "":
            raise InputError(f"'{key}' must be a non-empty text", file=path, field=key,
                             fix=f"write e.g. {key}: ...")
    src = raw["source"]
    if not isinstance(src, dict) or not src.get("title"):
        raise InputError("'source' must be a mapping with at least 'title' (plan title); "
                         "also 'document', 'seed_file', 'sections'", file=path, field="source",
                         fix="write source: {title: ..., document: ..., seed_file: ..., sections: ...}")
    inds = raw["indicators"]
    if not isinstance(inds, list) or not inds:
        raise InputError("'indicators' must be a non-empty list", file=path, field="indicators",
                         fix="list the indicators, each starting with '- id: ...'")
    not_encoded = raw.get("not_encoded") or []
    if not isinstance(not_encoded, list):
        raise InputError("'not_encoded' must be a list", file=path, field="not_encoded",
                         fix="list the plan figures not measured, each with name_zh and reason")
    seen: set[str] = set()
    indicators = []
    for i, item in enumerate(inds):
        ind = _validate_indicator(item, i, path)
        if ind.id in seen:
            raise InputError(f"indicator id '{ind.id}' appears twice", file=path,
                             field=f"indicators[{i}].id", fix="give every indicator its own id")
        seen.add(ind.id)
        indicators.append(ind)
    return Profile(id=str(raw["id"]), name_zh=str(raw["name_zh"]), name_en=str(raw["name_en"]),
                   source=dict(src), period=str(raw["period"]), indicators=tuple(indicators),
                   path=path, note=raw.get("note"), not_encoded=tuple(not_encoded))


def _is_number(x: Any) -> bool:
    return (isinstance(x, (int, float)) and not isinstance(x, bool)
            and math.isfinite(float(x)))


def _validate_indicator(item: Any, i: int, path: str) -> Indicator:
    where = f"indicators[{i}]"
    if not isinstance(item, dict):
        raise InputError(f"{where} must be a mapping of keys", file=path, field=where,
                         fix="each indicator starts with '- id: ...' followed by its keys")
    iid = item.get("id")
    label = f"indicator '{iid}'" if iid else where

    def err(problem: str, key: str, fix: str) -> InputError:
        return InputError(f"{label}: {problem}", file=path,
                          field=f"indicators[{i}] (id {iid}).{key}", fix=fix)

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
    if not _is_number(item["target"]):
        raise err(f"target must be a number, got {item['target']!r}", "target",
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
        raise err("categories must be a non-empty list", "categories",
                  "e.g. categories: [comprehensive]")
    for c in cats:
        if c not in CATEGORIES:
            raise err(f"unknown category {c!r}", "categories", "use plan categories: "
                      + ", ".join(CATEGORIES))
    for key in ("name_zh", "name_en", "source"):
        if not isinstance(item[key], str) or not item[key].strip():
            raise err(f"'{key}' must be a non-empty text", key, f"write {key}: ...")
    allowed_optional = set(spec["optional"]) | set(ALWAYS_OPTIONAL)
    if spec["threshold"]:
        allowed_optional |= {"threshold_min", "threshold_m"}
    for key in OPTIONAL_KEYS:
        if key in item and key not in allowed_optional:
            raise err(f"key '{key}' is not used by kind {kind}", key,
                      f"remove '{key}' (kind {kind} uses: "
                      + (", ".join(sorted(allowed_optional)) or "none") + ")")
    if spec["threshold"]:
        has_min, has_m = item.get("threshold_min") is not None, item.get("threshold_m") is not None
        if has_min == has_m:
            raise err("give exactly one of threshold_min (walking minutes) or threshold_m (metres)",
                      "threshold_min", "e.g. threshold_min: 15")
    for key in ("threshold_min", "threshold_m", "min_area_m2"):
        if item.get(key) is not None and (not _is_number(item[key]) or item[key] <= 0):
            raise err(f"{key} must be a positive number, got {item[key]!r}", key,
                      f"e.g. {key}: 300")
    for key in spec.get("needs", ()):
        if item.get(key) is None:
            raise err(f"missing key '{key}' (kind {kind} needs it)", key, f"add {key}: ...")
    for key in ("min_covered_share", "share_target"):
        if key in item and (not _is_number(item[key]) or not 0 < item[key] <= 100):
            raise err(f"{key} must be a percentage in (0, 100], got {item[key]!r}", key,
                      f"e.g. {key}: 50")
    if "require" in item and item["require"] not in REQUIRE:
        raise err(f"bad require {item['require']!r}", "require", "use 'any' or 'all'")
    if "facility_level" in item and item["facility_level"] not in FACILITY_LEVELS:
        raise err(f"bad facility_level {item['facility_level']!r}", "facility_level",
                  "use 'community' or 'township'")
    opt = {k: item[k] for k in OPTIONAL_KEYS if k in item}
    for k in ("threshold_min", "threshold_m", "min_area_m2", "min_covered_share", "share_target"):
        if k in opt:
            opt[k] = float(opt[k])
    for k in ("baseline", "note"):
        if k in opt and opt[k] is not None:
            opt[k] = str(opt[k])
    return Indicator(id=iid, name_zh=item["name_zh"].strip(), name_en=item["name_en"].strip(),
                     kind=kind, target=float(item["target"]), comparison=item["comparison"],
                     unit=unit, applies_to=item["applies_to"], categories=tuple(cats),
                     source=item["source"].strip(), **opt)


def required_thresholds_m(profile: Profile, speed_m_per_min: float) -> dict[str, float]:
    """Largest walking threshold (metres) any indicator of the profile needs, per category."""
    out: dict[str, float] = {}
    for ind in profile.indicators:
        t = ind.threshold_metres(speed_m_per_min)
        if t is None:
            continue
        for c in ind.categories:
            out[c] = max(out.get(c, 0.0), t)
    return dict(sorted(out.items()))
