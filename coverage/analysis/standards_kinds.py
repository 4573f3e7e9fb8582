"""The vocabulary of a standards profile: its keys, the indicator kinds, and travel modes.

Split out of :mod:`coverage.analysis.standards` (which re-exports every name here) so that the
validator stays readable. ``KIND_SPECS`` says, per kind, what it reports in, what it applies to,
whether it needs a threshold, which optional keys it takes, its default facility level and
whether it takes a travel ``mode``.

Travel modes in profiles
------------------------
The distance kinds (``MODE_KINDS``: population_coverage, community_within_circle,
township_within_circle) may name the mode the plan implies: ``mode: ebike`` with
``threshold_min: 30`` is "within 30 minutes by e-bike". No ``mode`` means ``walk``. Costs of
every mode are in flat-walking metres (:mod:`coverage.core.modes`), so the cut-off is
minutes x walking speed for every mode. A ``threshold_m`` (a network distance such as 十里 =
5 km) is the same whatever the mode, so it takes no mode other than walk.

Which names are accepted (:func:`check_mode`): the packaged modes (walk, ebike, cycle, motorbike,
car: ``coverage/resources/modes.yaml``) and the names the caller passes as ``modes`` (a study's
own ``analysis.modes``). When the caller passes none (a profile read on its own, before any
study), a well-formed name that is not packaged is accepted with a warning: it may be defined in
the study that uses the profile; if it is not, the indicator's rows say "not measurable:
distances by <mode>". A name that cannot be a mode (upper case, "e-bike", a reserved word) is
always an error.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

DEFAULT_PROFILE = "national_14th"
DEFAULT_MODE = "walk"

COMPARISONS = (">=", "<=", "==")
UNITS = ("%", "m2/100hh", "m2/person", "count", "m2")
APPLIES_TO = ("urban", "rural", "township", "all")
FACILITY_LEVELS = ("community", "township", "any")
AREA_FIELDS = ("floor", "site")
REQUIRE = ("any", "all")

#: Keys every indicator must have (and ``clause``, or the older free-text ``source``).
REQUIRED_KEYS = ("id", "name_zh", "name_en", "kind", "target", "comparison", "unit",
                 "applies_to", "categories")
#: Keys an indicator may have; which kinds use each one is in KIND_SPECS.
OPTIONAL_KEYS = ("threshold_min", "threshold_m", "mode", "min_area_m2", "min_covered_share",
                 "share_target", "require", "facility_level", "subtypes", "exclude_subtypes", "area",
                 "clause", "quote", "source", "target_by", "baseline", "note", "note_zh", "note_en")
ALWAYS_OPTIONAL = ("clause", "quote", "source", "target_by", "baseline", "note", "note_zh",
                   "note_en")

PROFILE_REQUIRED = ("id", "name_zh", "name_en", "source", "period", "indicators")
PROFILE_OPTIONAL = ("note", "not_encoded", "options")

_COMMUNITY_TYPES = ("urban", "rural", "all")
_TOWNSHIP_TYPES = ("township", "all", "urban", "rural")
_COUNT = ("facility_level", "subtypes", "exclude_subtypes")
SELECT_KEYS = _COUNT + ("area",)
_SELECT = SELECT_KEYS
_CIRCLE = ("min_covered_share", "require", "mode")

#: kind -> unit it reports in, applies_to values it accepts, whether it needs a threshold,
#: which optional keys (besides ALWAYS_OPTIONAL) it uses, the default facility level ("any" for
#: the distance kinds: whoever is near a facility is served by it), and whether it takes a
#: travel mode (``mode``; the 2SFCA kind shares areas among walking catchments, so it does not).
KIND_SPECS: dict[str, dict[str, Any]] = {
    "community_has_facility": dict(
        unit="%", applies_to=_COMMUNITY_TYPES, threshold=False, level="community", optional=_COUNT,
        modes=False, doc="share of communities with a facility counted inside their boundary"),
    "community_within_circle": dict(
        unit="%", applies_to=_COMMUNITY_TYPES, threshold=True, level="any", optional=_CIRCLE,
        modes=True,
        doc="share of communities where >= min_covered_share % (default 50) of the people reach a "
            "facility (on foot, or by the indicator's mode)"),
    "population_coverage": dict(
        unit="%", applies_to=_COMMUNITY_TYPES, threshold=True, level="any",
        optional=("require", "mode"), modes=True,
        doc="covered population / population of the communities of the type (on foot, or by the "
            "indicator's mode)"),
    "area_per_100_households_inside": dict(
        unit="m2/100hh", applies_to=_COMMUNITY_TYPES, threshold=False, level="community",
        optional=("share_target",) + _SELECT, modes=False,
        doc="facility area inside the community / households x 100"),
    "area_per_100_households_2sfca": dict(
        unit="m2/100hh", applies_to=_COMMUNITY_TYPES, threshold=True, level="community",
        optional=("share_target",) + _SELECT, modes=False,
        doc="two-step floating catchment area per 100 households (walking catchments)"),
    "facility_min_area": dict(
        unit="%", applies_to=_COMMUNITY_TYPES, threshold=False, level="any",
        optional=("min_area_m2",) + _SELECT, needs=("min_area_m2",), modes=False,
        doc="share of facilities (known area) with area >= min_area_m2"),
    "township_has_facility": dict(
        unit="%", applies_to=_TOWNSHIP_TYPES, threshold=False, level="township", optional=_COUNT,
        modes=False, doc="share of townships/streets with at least one facility counted"),
    "township_within_circle": dict(
        unit="%", applies_to=_TOWNSHIP_TYPES, threshold=True, level="any", optional=_CIRCLE,
        modes=True,
        doc="share of townships where >= min_covered_share % of the people reach a facility (on "
            "foot, or by the indicator's mode)"),
    "per_capita_area": dict(
        unit="m2/person", applies_to=_COMMUNITY_TYPES, threshold=False, level="any", optional=_SELECT,
        modes=False, doc="area of the facilities counted / population"),
}
KINDS = tuple(KIND_SPECS)
#: the kinds that take a travel mode (the distance kinds)
MODE_KINDS = tuple(k for k, s in KIND_SPECS.items() if s["modes"])
#: the separator of cut pieces in a quote
QUOTE_CUT = "……"


@functools.lru_cache(maxsize=None)
def packaged_subtypes() -> dict[str, dict[str, str]]:
    """{category: {sub-type key: Chinese label}} of the packaged keyword table."""
    from coverage.io.categories import load_keyword_table
    table = load_keyword_table()
    return {c: {s.key: s.label_zh for s in r.subtypes} for c, r in table.categories.items()}


def packaged_mode_names() -> tuple[str, ...]:
    from coverage.core.modes import packaged_modes
    return tuple(packaged_modes())


def key_not_used_why(key: str, spec: dict) -> str:
    """Why a kind refuses a key, when there is more to say than "not used"."""
    if key in _SELECT and spec["threshold"]:
        return (" (the distance kinds count every facility of the categories: their distances "
                "are per category)")
    if key == "mode":
        return (" (a travel mode applies to the distance kinds only: " + ", ".join(MODE_KINDS)
                + "; the others count facilities or share areas among walking catchments)")
    return ""


def check_mode(item: dict, modes, err, where: str) -> str:
    """The indicator's travel mode (``walk`` when absent), checked; see the module doc.

    ``modes``: the names the caller knows besides the packaged ones (a study's analysis.modes),
    or None when there is no study (then an unknown well-formed name only warns). ``err(problem,
    key, fix)`` builds the InputError naming the file, the indicator and the key; ``where``
    names them in a warning."""
    from coverage.core.modes import MODE_NAME, RESERVED
    if item.get("mode") is None:
        return DEFAULT_MODE
    mode = item["mode"]
    packaged = packaged_mode_names()
    known = tuple(dict.fromkeys(packaged + tuple(modes or ())))
    choose = ("use one of: " + ", ".join(known) + " (coverage/resources/modes.yaml), or a mode the "
              "study defines under analysis.modes")
    if not isinstance(mode, str) or not MODE_NAME.match(mode) or mode in RESERVED:
        raise err(f"bad mode {mode!r}: a mode name is lower-case letters and digits", "mode", choose)
    if mode != DEFAULT_MODE and item.get("threshold_m") is not None:
        raise err(f"mode {mode} with threshold_m: a network distance (threshold_m) is the same "
                  "whatever the mode", "mode",
                  f"give threshold_min (minutes by {mode}) instead of threshold_m, or remove mode")
    if mode not in known:
        if modes is not None:
            raise err(f"unknown mode {mode!r}", "mode", choose)
        warnings.warn(f"{where}: mode {mode!r} is not a packaged mode ({', '.join(packaged)}); it "
                      "must be defined under analysis.modes of the study that uses this profile, "
                      "or its rows will be not measurable", UserWarning, stacklevel=4)
    return mode
