"""Which facilities an indicator counts: level (township / community / unknown), sub-types,
excluded sub-types, ground (site) area; and the Chinese of every status and note.

The rules (coverage/analysis/indicators/__init__.py): township indicators count township-level
facilities only (unknown level left out and counted in the note; not measurable when no
candidate has a known level); community indicators count community-level facilities and those
whose level is unknown (the name does not say), never township ones; ``any`` counts all.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from coverage.analysis.indicators import (MEASURED, NM_LEVEL, NM_SITE, NM_SUBTYPE, evaluate,
                                          norm_level)
from coverage.analysis.standards import validate_profile
from coverage.io.profiles import list_profiles, load_profile

SPEED = 80.0


def study(levels, subtypes=None, site=None):
    """Two townships: T1 (urban U1, U2), T2 (rural R1, R2); 100 households and 100 people each.
    Facilities F1..F4 (comprehensive, 100 m2 floor) in U1, U2, R1, R2 with the given levels."""
    com = pd.DataFrame({"community_id": ["U1", "U2", "R1", "R2"], "name": ["甲", "乙", "丙", "丁"],
                        "township": ["T1", "T1", "T2", "T2"], "type": ["urban", "urban", "rural", "rural"],
                        "households": [100.0] * 4, "population": [100.0] * 4})
    fac = pd.DataFrame({"facility_id": ["F1", "F2", "F3", "F4"], "category": ["comprehensive"] * 4,
                        "area_m2": [100.0] * 4, "community_id": ["U1", "U2", "R1", "R2"],
                        "township": ["T1", "T1", "T2", "T2"]})
    if levels is not None:
        fac["level"] = levels
    if subtypes is not None:
        fac["subtype"] = subtypes
    if site is not None:
        fac["site_area_m2"] = site
    return com, fac


def ind(kind, target=100, applies_to="all", unit="%", **kw):
    return dict(id="x", name_zh="指标", name_en="indicator", kind=kind, target=target, comparison=">=",
                unit=unit, applies_to=applies_to, categories=kw.pop("categories", ["comprehensive"]),
                clause="专栏1 第1项", **kw)


def run(item, com, fac):
    prof = validate_profile(dict(id="t", name_zh="测", name_en="t", source={"title": "t"}, period="p",
                                 indicators=[item]), "t.yaml")
    return evaluate(prof, com, fac, None, None, SPEED)


def area(df):
    return df[df.level == "area"].iloc[0]


@pytest.mark.parametrize("value,want", [
    ("township", "township"), ("community", "community"), ("街道", "township"), ("乡镇", "township"),
    ("镇级", "township"), ("乡镇（街道）级", "township"), ("街道级", "township"), ("村（社区）级", "community"),
    ("社区", "community"), ("村级", "community"), ("社区级", "community"), (None, None), (np.nan, None),
    ("nan", None), ("", None), ("县级", None), ("unknown", None)])
def test_level_values_of_a_level_column(value, want):
    assert norm_level(value) == want


def test_township_indicator_counts_township_facilities_only():
    com, fac = study(["township", "community", "community", None])
    df = run(ind("township_has_facility", applies_to="township"), com, fac)
    a = area(df)
    assert a.value == 50 and a.gap == 1               # T1 (F1); T2 has a station and an unknown
    assert "2处社区级设施不计入" in a.note_zh and "1处设施级别未知，未计入" in a.note_zh
    assert "1 facilities of unknown level left out" in a.note
    # 'any' counts every facility
    assert area(run(ind("township_has_facility", applies_to="township", facility_level="any"), com, fac)).value == 100
    # a level column with the county's own words reads the same
    com, fac = study(["乡镇（街道）级", "村（社区）级", "村（社区）级", ""])
    assert area(run(ind("township_has_facility", applies_to="township"), com, fac)).value == 50


def test_township_indicator_without_any_known_level_is_not_measurable():
    for levels in (None, [None] * 4):
        com, fac = study(levels)
        df = run(ind("township_has_facility", applies_to="township"), com, fac)
        assert list(df.status) == [NM_LEVEL] and df.value.isna().all()
        assert df.status_zh.iloc[0].startswith("无法测算：设施级别未知")


def test_community_indicator_counts_unknown_but_never_township_facilities():
    com, fac = study(["township", "community", "community", None])
    df = run(ind("community_has_facility"), com, fac)
    a = area(df)
    assert a.value == 75                               # U2, R1, R2 (unknown); not U1's centre
    assert "1处街道（乡镇）级设施不计入社区" in a.note_zh and "1处设施名称未注明级别，按社区级计入" in a.note_zh
    assert df[(df.level == "community") & (df.unit_id == "U1")].value.iloc[0] == 0
    # m2 per 100 households: U1's centre adds nothing to U1
    df = run(ind("area_per_100_households_inside", target=30, unit="m2/100hh"), com, fac)
    u1 = df[(df.level == "community") & (df.unit_id == "U1") & (df.measure == "per_100_households")].iloc[0]
    assert u1.value == 0 and u1.met is False and u1.gap == 30
    assert area(df).value == pytest.approx(75)         # 300 m2 / 400 households


def test_subtypes_select_and_exclude():
    com, fac = study(["township", "township", "community", "community"],
                     subtypes=["social_work", None, "party_mass", None])
    df = run(ind("township_has_facility", applies_to="township", subtypes=["social_work"]), com, fac)
    assert area(df).value == 50 and "仅计社工站" in area(df).note_zh
    df = run(ind("township_has_facility", applies_to="township", exclude_subtypes=["social_work"]), com, fac)
    assert area(df).value == 50 and "1处社工站不计入" in area(df).note_zh   # T1 keeps F2, T2 none
    df = run(ind("community_has_facility", subtypes=["party_mass"]), com, fac)
    assert area(df).value == 25
    # no facility of the category has a sub-type at all: not measurable, never 0 %
    for subtypes in (None, [None] * 4):
        com, fac = study(["community"] * 4, subtypes=subtypes)
        df = run(ind("community_has_facility", subtypes=["party_mass"]), com, fac)
        assert list(df.status) == [NM_SUBTYPE] and df.met.isna().all()
    # sub-types exist, none is the one asked for: an honest 0 %
    com, fac = study(["community"] * 4, subtypes=["party_mass", None, None, None])
    df = run(ind("community_has_facility", subtypes=["social_work"]), com, fac)
    assert area(df).status == MEASURED and area(df).value == 0


def test_site_area():
    plaza = dict(categories=["fitness"], subtypes=["plaza"], area="site")
    com, fac = study(None, subtypes=["plaza"] * 4, site=[300.0, 100.0, np.nan, 50.0])
    fac["category"] = "fitness"
    df = run(ind("per_capita_area", target=1, unit="m2/person", **plaza), com, fac)
    t1 = df[(df.level == "township") & (df.unit_id == "T1")].iloc[0]
    assert t1.value == 2 and t1.met is True           # 400 m2 of ground / 200 people, floor area ignored
    t2 = df[(df.level == "township") & (df.unit_id == "T2")].iloc[0]
    assert t2.status == "not measurable: site area of 1 facilities (facilities.fields.site_area)"
    assert "场地面积" in t2.status_zh and ">= 0.2" in t2.note
    a = area(df)
    assert a.status == MEASURED and a.value == pytest.approx(450 / 400) and "下限" in a.note_zh
    # the same with area: floor reads the floor area (100 m2 each)
    df = run(ind("per_capita_area", target=1, unit="m2/person", categories=["fitness"]), com, fac)
    assert area(df).value == 1
    # no site-area column at all: every kind that needs it says which field is missing
    com, fac = study(None, subtypes=["plaza"] * 4)
    fac["category"] = "fitness"
    for item in (ind("per_capita_area", target=1, unit="m2/person", **plaza),
                 ind("facility_min_area", target=90, min_area_m2=100, **plaza),
                 ind("area_per_100_households_inside", target=30, unit="m2/100hh", **plaza)):
        df = run(item, com, fac)
        assert list(df.status) == [NM_SITE], item["kind"]


_CONFIG_KEY = re.compile(r"[a-z_]+(\.[a-z_]+)+|[a-z]+_[a-z_]+|catchments of [a-z_, ]+")  # field names


@pytest.mark.parametrize("pid", list_profiles())
def test_chinese_status_and_notes_have_no_english(pid):
    from test_profiles_plans import county
    com, fac, dem, catch = county()
    for f in (fac, fac.drop(columns=["site_area_m2", "level", "subtype"])):
        df = evaluate(load_profile(pid), com, f, dem, catch, SPEED)
        for col in ("status_zh", "note_zh", "name_zh"):
            for text in df[col].dropna().unique():
                words = _CONFIG_KEY.sub("", text).replace("2SFCA", "")
                assert not re.search(r"[A-Za-z]{3,}", words), (pid, col, text)
        assert (df.status_zh != "").all() and (df.status == MEASURED).any()
