"""Evaluate plan indicators (a standards profile) against the study area.

``evaluate(profile, communities, facilities, demand, catchments, speed_m_per_min)`` returns
one row per (indicator, unit) where a unit is the whole study area ("area"), a township/street
("township") or a community ("community"). Columns (see ``COLUMNS``):

level, unit_id, unit_name, indicator_id, name_zh, name_en, measure, value, unit, target,
comparison, met (True/False/None), gap (planner units), gap_unit, status (the machine code
"measured" or "not measurable: <missing field>"), status_zh, note (English), note_zh, clause
(the plan clause), kind, applies_to, mode (the travel mode: "walk" unless the indicator names
another). The indicator's own reading of the plan (the profile's note_zh / note_en: e.g. 100 %
where the plan says 全覆盖) leads the note of its area rows, followed by the mode when it is not
walking ("按电动自行车30分钟计"), unless the reading already says so.

Distances (the demand table's columns, per category; all in flat-walking metres, the cost unit
of every mode, :mod:`coverage.core.modes`): a threshold in minutes on foot reads ``dist_{cat}``
(the walking cost, sloped when the study has a DEM) against minutes x ``speed_m_per_min``; in
minutes by another mode (``mode: ebike``) it reads ``dist_{cat}_by_{mode}`` against the same
cut-off; a network distance (``threshold_m``, e.g. 十里 = 5 km) reads ``dist_{cat}_flat`` when
present (flat network metres: slope changes time, not metres), else ``dist_{cat}``. A missing
column makes the indicator "not measurable: distances by <mode>" (or ": dist_<cat> (demand)").

Which facilities count (see :mod:`coverage.analysis.standards`): the indicator's categories,
then its ``subtypes`` (儿童之家 = children_home, not a kindergarten; when no facility of the
categories has a sub-type at all, the row is not measurable rather than 0), then its
``facility_level``: ``township`` counts township-level facilities only (a facility whose level
is unknown is left out and counted in the note; when no candidate has a known level the row is
not measurable), ``community`` counts community-level facilities and those whose name says
nothing (counted in the note), never a township centre (so a 街道社区服务中心 standing in
one community adds nothing to that community's m² per 100 households), ``any`` counts all.
Facility levels come from the facility table's ``level`` column (township/community, or words
such as 街道, 乡镇, 社区, 村), which the loader fills from the configured column or the name.
``area: site`` reads the ground area ``site_area_m2`` (plazas, sports grounds); without that
column the rows say "not measurable: site area (facilities.fields.site_area)".

Definitions (one per kind; the profile's ``target`` always applies to the area and township
rows, and to the community rows where those report the same quantity):

community_has_facility
    community row: number of facilities counted inside the community (target 1);
    township/area: % of communities of the type with at least one. Gap: communities.
community_within_circle
    a community is *reached* when at least ``min_covered_share`` % (default 50) of its
    population (its demand points) is within the threshold of a facility (on foot, or by the
    indicator's mode). Community
    row: the covered population share vs min_covered_share (gap: people); township/area: %
    of reached communities vs target (gap: communities). Communities without population
    are left out of the share and reported.
population_coverage
    covered population / population, by community, township and area. Gap: people.
area_per_100_households_inside
    facility area inside the community / households x 100. Township/area rows give the total
    ratio (sum of area / sum of households over the communities with households) and, as
    measure "share_met", the % of communities meeting the target (target ``share_target``,
    default 100). Gap: m2 / communities.
area_per_100_households_2sfca
    two-step floating catchment. Households of a demand point = community households x
    point population / community population. Step 1: R_j = area_j / households within the
    threshold of facility j. Step 2: A_k = 100 x sum of R_j over the facilities point k
    reaches. Community value = population-weighted mean of A_k over its points; township and
    area value = household-weighted mean (equals total area / total households x 100 when
    every household reaches every facility). A facility whose catchment holds households of
    unknown size, or whose area is unknown, makes the values that use it lower bounds.
facility_min_area
    % of facilities counted (known area) with area >= min_area_m2, by township and area.
    Facilities with unknown area are counted separately, never as pass or fail.
township_has_facility
    township row: number of facilities counted in the township; area: % of townships (of the
    type: urban = street 街道, rural = township 乡镇, township/all = every one) with one.
township_within_circle
    like community_within_circle with townships as units.
per_capita_area
    area of the facilities counted inside the communities / population (m2/person).

The distance kinds (population_coverage, *_within_circle) count every facility of the
categories: distances are per category.
Population of a community = the sum of its demand points (so numerators and denominators
come from one source); communities.population is used only when ``demand`` is None.
A township's type comes from communities.township_type when given, else it is "urban"
(a street) when at least half of its communities are urban.
Lower bounds: where some facility areas are unknown and the known area already meets a
">=" target, the row is measured and met, with a note; otherwise it is not measurable and the
note gives the lower bound. No number is ever made up.

The Markdown table of the rows is :func:`coverage.report.markdown.to_markdown`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from coverage.analysis.standards import KIND_SPECS, Profile

from ._access import community_within_circle, population_coverage, township_within_circle
from ._area import (area_per_100_households_2sfca, area_per_100_households_inside,
                    facility_min_area, per_capita_area)
from ._count import community_has_facility, township_has_facility
from ._inputs import NO_TOWNSHIP, Inputs, norm_level
from ._rows import AREA_ID, AREA_NAME, COLUMNS, LEVELS, append_note
from ._text import (GAP_UNIT_ZH, MEASURED, NM_AREA, NM_DEMAND, NM_HH, NM_LEVEL, NM_NO_COMMUNITY,
                    NM_NO_HH, NM_POP, NM_SITE, NM_SUBTYPE, UNIT_ZH, T, by_mode, join)

__all__ = ["evaluate", "EVALUATORS", "COLUMNS", "LEVELS", "AREA_ID", "AREA_NAME", "NO_TOWNSHIP",
           "MEASURED", "NM_AREA", "NM_SITE", "NM_HH", "NM_NO_HH", "NM_POP", "NM_LEVEL", "NM_SUBTYPE",
           "NM_DEMAND", "NM_NO_COMMUNITY", "norm_level", "UNIT_ZH", "GAP_UNIT_ZH"]

EVALUATORS = {
    "community_has_facility": community_has_facility,
    "community_within_circle": community_within_circle,
    "population_coverage": population_coverage,
    "area_per_100_households_inside": area_per_100_households_inside,
    "area_per_100_households_2sfca": area_per_100_households_2sfca,
    "facility_min_area": facility_min_area,
    "township_has_facility": township_has_facility,
    "township_within_circle": township_within_circle,
    "per_capita_area": per_capita_area,
}
assert set(EVALUATORS) == set(KIND_SPECS), "every kind in standards.KIND_SPECS needs an evaluator"


def evaluate(profile: Profile, communities: pd.DataFrame, facilities: pd.DataFrame,
             demand: pd.DataFrame | None, catchments: dict | None,
             speed_m_per_min: float, modes: dict | None = None) -> pd.DataFrame:
    """Evaluate every indicator of ``profile`` (a validated Profile, see
    :func:`coverage.io.profiles.load_profile`); see module doc. ``modes`` ({name: ModeSpec},
    optional: the study's modes) only names the modes in notes (label_zh / label_en); the
    packaged labels are used without it."""
    if not isinstance(profile, Profile):
        raise TypeError("evaluate() takes a Profile: load it with coverage.io.profiles.load_profile")
    st = Inputs(communities, facilities, demand, catchments, speed_m_per_min, modes)
    blocks, order = [], []
    for k, ind in enumerate(profile.indicators):
        reading = T(ind.note_zh or "", ind.note_en or "")
        mode = by_mode(ind, modes)
        if mode and mode.zh not in reading.zh:
            reading = join(reading, mode)
        for r in EVALUATORS[ind.kind](ind, st):
            if reading and (r["level"] == "area").all():
                r = r.copy()
                append_note(r, reading, first=True)
            blocks.append(r)
            order.append(np.full(len(r), k))
    if not blocks:
        return pd.DataFrame(columns=COLUMNS)
    cols = {c: np.concatenate([b[c] for b in blocks]) for c in COLUMNS}
    lev = {lv: i for i, lv in enumerate(LEVELS)}
    keys = (cols["measure"] == "share_met", cols["unit_id"].astype(str),
            np.array([lev[x] for x in cols["level"]]), np.concatenate(order))
    ix = np.lexsort(keys)            # by indicator, level, unit, then the share-met row last
    out = pd.DataFrame({c: v[ix] for c, v in cols.items()})
    return out
