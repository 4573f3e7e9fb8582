"""Plan-standard profiles: the packaged ones load, and every kind of mistake is named."""

from __future__ import annotations

import copy
import re

import pytest
import yaml

from coverage import CATEGORIES
from coverage.errors import InputError
from coverage.io.profiles import PROFILE_DIR, list_profiles, load_profile
from coverage.analysis.standards import (KIND_SPECS, required_cutoffs,
                                required_thresholds_m, validate_profile)
from coverage.analysis import indicators
from helpers import read_yaml

PACKAGED = ["diqing_14th", "guangdong_13th", "leshan_13th", "national_14th", "yunnan_13th"]
SEEDS = {"national_14th": "003_", "diqing_14th": "002_", "yunnan_13th": "000_",
         "leshan_13th": "001_", "guangdong_13th": "004_"}


def test_list_profiles_has_the_five_plans():
    assert list_profiles() == PACKAGED


@pytest.mark.parametrize("pid", PACKAGED)
def test_every_packaged_profile_loads_and_cites_its_seed(pid):
    prof = load_profile(pid)
    assert prof.id == pid
    assert prof.source["seed_file"].startswith(SEEDS[pid])
    assert prof.source["title"] and prof.period
    for ind in prof.indicators:
        assert set(ind.categories) <= set(CATEGORIES)
        # every indicator cites its clause and quotes the plan, in Chinese (verbatim against the
        # plan text: tests/test_profiles_clauses.py)
        assert ind.clause and ind.quote, ind.id
        assert all(re.search(r"[\u4e00-\u9fff]", q) for q in ind.quote), ind.id
        # the figure is in the quoted clause, or the profile explains its reading in a note
        fig = f"{ind.target:g}"
        assert fig in "".join(ind.quote).replace(" ", "") or ind.note_zh, ind.id
    assert prof.not_encoded, "every plan leaves something out: list it under not_encoded"


def test_default_is_national_and_path_loading_works(tmp_path):
    assert load_profile().id == "national_14th"
    prof = load_profile(PROFILE_DIR / "yunnan_13th.yaml")
    assert prof.indicator("rural_comprehensive_coverage").target == 50


def test_national_profile_encodes_the_plan_figures():
    prof = load_profile("national_14th")
    assert prof.indicator("rural_comprehensive_coverage").target == 80
    assert prof.indicator("rural_comprehensive_coverage").applies_to == "rural"
    assert prof.indicator("urban_comprehensive_coverage").target == 100
    a = prof.indicator("comprehensive_area_per_100hh")
    assert (a.target, a.comparison, a.unit, a.kind) == (30, ">=", "m2/100hh",
                                                        "area_per_100_households_inside")
    f = prof.indicator("fitness_circle_15min")
    assert f.threshold_metres(80) == 1200


def test_leshan_and_guangdong_specific_rules():
    le = load_profile("leshan_13th")
    assert le.indicator("station_area_compliance").min_area_m2 == 300
    assert le.indicator("station_area_compliance").target == 90
    assert le.indicator("township_centre_area").min_area_m2 == 800
    assert le.indicator("township_centre_area").facility_level == "township"
    assert le.indicator("station_area_compliance").facility_level == "community"
    gd = load_profile("guangdong_13th")
    assert gd.indicator("culture_circle_rural_10li").threshold_metres(80) == 5000  # 十里 = 5 km
    assert gd.indicator("culture_circle_urban_10min").threshold_metres(80) == 800
    assert gd.indicator("street_comprehensive_coverage").target == 80
    assert gd.indicator("township_comprehensive_coverage").target == 30


def test_required_thresholds_are_the_largest_per_category():
    gd = load_profile("guangdong_13th")
    t = required_thresholds_m(gd, 80)
    assert t["culture"] == 5000          # 十里 beats the 10-minute urban circle (800 m)
    assert t["commerce"] == 15 * 80      # the half-hour rural circle is by e-bike, not on foot
    assert t["fitness"] == 15 * 80
    c = required_cutoffs(gd, 80)
    assert c[("commerce", "ebike")] == 30 * 80 and c[("commerce", "walk")] == 15 * 80
    assert c[("culture", "walk")] == 5000
    assert t == {cat: v for (cat, m), v in c.items() if m == "walk"}


def test_every_kind_has_an_evaluator():
    assert set(indicators.EVALUATORS) == set(KIND_SPECS)


def test_a_planner_copy_with_edited_numbers_loads(tmp_path):
    raw = read_yaml(PROFILE_DIR / "national_14th.yaml")
    raw["id"] = "my_county"
    raw["indicators"][0]["target"] = 90
    p = tmp_path / "my_county.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    prof = load_profile(str(p))
    assert prof.id == "my_county" and prof.indicators[0].target == 90


# ----------------------------------------------------------------------------- malformed

def _base():
    return read_yaml(PROFILE_DIR / "national_14th.yaml")


def _write(tmp_path, raw, name="bad.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return p


def _edit(raw, idx, **changes):
    raw = copy.deepcopy(raw)
    for k, v in changes.items():
        if v is _DELETE:
            del raw["indicators"][idx][k]
        else:
            raw["indicators"][idx][k] = v
    return raw


_DELETE = object()

MALFORMED = [
    # (changes to indicator 0 = rural_comprehensive_coverage, key named, words in the message)
    (dict(colour="red"), "colour", "unknown key"),
    (dict(target=_DELETE), "target", "missing key"),
    (dict(kind="walkability_score"), "kind", "unknown kind"),
    (dict(comparison="=>"), "comparison", "bad comparison"),
    (dict(comparison=">"), "comparison", "bad comparison"),
    (dict(categories=["comprehensive", "parking"]), "categories", "unknown category"),
    (dict(target="80%"), "target", "must be a number"),
    (dict(target=True), "target", "must be a number"),
    (dict(unit="m2/100hh"), "unit", "reports in"),
    (dict(unit="percent"), "unit", "unknown unit"),
    (dict(applies_to="suburban"), "applies_to", "unknown applies_to"),
    (dict(applies_to="township"), "applies_to", "cannot apply"),
    (dict(threshold_min=15), "threshold_min", "not used by kind"),
    (dict(id="Rural Coverage"), "id", "snake_case"),
]


@pytest.mark.parametrize("changes,key,words", MALFORMED)
def test_malformed_indicator_names_file_indicator_and_key(tmp_path, changes, key, words):
    raw = _edit(_base(), 0, **changes)
    p = _write(tmp_path, raw)
    with pytest.raises(InputError) as ei:
        load_profile(str(p))
    msg = str(ei.value)
    assert str(p) in msg
    assert key in ei.value.field
    assert "indicators[0]" in ei.value.field
    if changes.get("id") is None:
        assert "rural_comprehensive_coverage" in msg
    assert words in msg
    assert ei.value.fix


def test_circle_without_threshold_and_min_area_without_figure(tmp_path):
    raw = _base()
    i = [x["id"] for x in raw["indicators"]].index("fitness_circle_15min")
    p = _write(tmp_path, _edit(raw, i, threshold_min=_DELETE))
    with pytest.raises(InputError, match="threshold_min") as ei:
        load_profile(str(p))
    assert "fitness_circle_15min" in str(ei.value)
    p = _write(tmp_path, _edit(raw, i, threshold_m=1000), "both.yaml")
    with pytest.raises(InputError, match="exactly one"):
        load_profile(str(p))
    le = read_yaml(PROFILE_DIR / "leshan_13th.yaml")
    j = [x["id"] for x in le["indicators"]].index("station_area_compliance")
    p = _write(tmp_path, _edit(le, j, min_area_m2=_DELETE), "le.yaml")
    with pytest.raises(InputError, match="min_area_m2") as ei:
        load_profile(str(p))
    assert "station_area_compliance" in str(ei.value)
    p = _write(tmp_path, _edit(le, j, min_area_m2=-5), "le2.yaml")
    with pytest.raises(InputError, match="positive"):
        load_profile(str(p))


def test_duplicate_id_and_top_level_mistakes(tmp_path):
    raw = _base()
    raw["indicators"].append(copy.deepcopy(raw["indicators"][0]))
    with pytest.raises(InputError, match="appears twice"):
        load_profile(str(_write(tmp_path, raw)))
    raw = _base()
    del raw["period"]
    with pytest.raises(InputError, match="missing key 'period'") as ei:
        load_profile(str(_write(tmp_path, raw, "np.yaml")))
    assert ei.value.field == "period"
    raw = _base()
    raw["indicator"] = raw.pop("indicators")
    with pytest.raises(InputError, match="unknown key 'indicator'"):
        load_profile(str(_write(tmp_path, raw, "typo.yaml")))
    raw = _base()
    raw["indicators"] = []
    with pytest.raises(InputError, match="non-empty list"):
        load_profile(str(_write(tmp_path, raw, "empty.yaml")))


def test_bad_yaml_unknown_id_and_missing_file(tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text("id: x\nindicators: [\n  - id: a\n", encoding="utf-8")
    with pytest.raises(InputError, match="not valid YAML") as ei:
        load_profile(str(p))
    assert str(p) in str(ei.value)
    with pytest.raises(InputError, match="unknown profile 'natonal_14th'") as ei:
        load_profile("natonal_14th")
    assert "national_14th" in ei.value.fix
    with pytest.raises(InputError, match="not found"):
        load_profile(str(tmp_path / "nope.yaml"))


def test_validate_profile_rejects_non_mapping():
    with pytest.raises(InputError, match="mapping"):
        validate_profile(["a", "b"], "x.yaml")


# ----------------------------------------------------------------------------- levels, sub-types, options

def test_facility_level_defaults_by_kind():
    prof = load_profile("yunnan_13th")
    assert prof.indicator("township_service_centre").facility_level == "township"
    assert prof.indicator("urban_comprehensive_coverage").facility_level == "community"
    assert prof.indicator("comprehensive_area_per_100hh").facility_level == "community"
    assert prof.indicator("public_service_circle_15min").facility_level == "any"
    assert load_profile("guangdong_13th").indicator("elderly_care_townships").facility_level == "any"
    for kind, spec in KIND_SPECS.items():
        assert spec["level"] in ("township", "community", "any"), kind


BAD_SELECTION = [
    (dict(subtypes=["kindergarten"]), "subtypes", "unknown sub-type"),      # childcare's, not comprehensive's
    (dict(subtypes=["childrens_home"]), "subtypes", "unknown sub-type"),
    (dict(facility_level="village"), "facility_level", "bad facility_level"),
    (dict(area="ground"), "area", "bad area"),
    (dict(quote=[]), "quote", "plan text"),
    (dict(clause=_DELETE), "clause", "missing key 'clause'"),
]


@pytest.mark.parametrize("changes,key,words", BAD_SELECTION)
def test_bad_selection_keys_are_named(tmp_path, changes, key, words):
    raw = _base()
    i = [x["id"] for x in raw["indicators"]].index("comprehensive_area_per_100hh") if key == "area" else 0
    p = _write(tmp_path, _edit(raw, i, **changes))
    with pytest.raises(InputError) as ei:
        load_profile(str(p))
    assert key in ei.value.field and words in str(ei.value) and ei.value.fix
    if key == "subtypes":
        assert "social_work" in ei.value.fix          # the sub-types the categories have


def test_walking_kinds_refuse_selection_keys(tmp_path):
    raw = _base()
    i = [x["id"] for x in raw["indicators"]].index("fitness_circle_15min")
    p = _write(tmp_path, _edit(raw, i, subtypes=["plaza"]))
    with pytest.raises(InputError, match="not used by kind population_coverage") as ei:
        load_profile(str(p))
    assert "distances are per category" in str(ei.value)


def test_a_valid_subtype_and_site_area_load(tmp_path):
    le = load_profile("leshan_13th")
    p = le.indicator("outdoor_plaza_per_capita")
    assert (p.subtypes, p.area) == (("plaza",), "site")
    assert le.indicator("childrens_home_coverage").subtypes == ("children_home",)


def test_region_option_chooses_one_rural_row():
    gd = load_profile("guangdong_13th")
    rural = [i for i in gd.indicators if i.id.startswith("rural_comprehensive")]
    assert len(rural) == 1 and gd.options == {"region": "prd"}
    assert rural[0].target == 80 and "珠江三角洲地区" in rural[0].name_zh
    ewn = load_profile("guangdong_13th", options={"region": "ewn"})
    r = ewn.indicator("rural_comprehensive_coverage")
    assert r.target == 50 and "粤东西北地区" in r.name_zh and "east, west and north" in r.name_en
    assert gd.with_options(region="ewn").indicator("rural_comprehensive_coverage").target == 50
    # everything else is the same profile
    assert [i.id for i in ewn.indicators] == [i.id for i in gd.indicators]
    with pytest.raises(InputError, match="not one of prd, ewn") as ei:
        load_profile("guangdong_13th", options={"region": "north"})
    assert ei.value.field == "options.region" and "prd" in ei.value.fix
    with pytest.raises(InputError, match="no option 'province'"):
        load_profile("guangdong_13th", options={"province": "x"})
    with pytest.raises(InputError, match="no option"):
        load_profile("national_14th", options={"region": "prd"})


def test_region_option_mistakes_in_a_profile(tmp_path):
    raw = read_yaml(PROFILE_DIR / "guangdong_13th.yaml")
    i = [x["id"] for x in raw["indicators"]].index("rural_comprehensive_coverage")
    bad = copy.deepcopy(raw)
    bad["indicators"][i]["target"] = {"prd": 80}
    with pytest.raises(InputError, match="one figure per value"):
        load_profile(str(_write(tmp_path, bad)))
    bad = copy.deepcopy(raw)
    bad["indicators"][i]["target_by"] = "district"
    with pytest.raises(InputError, match="names no option"):
        load_profile(str(_write(tmp_path, bad, "b.yaml")))
    bad = copy.deepcopy(raw)
    bad["options"]["region"]["default"] = "hk"
    with pytest.raises(InputError, match="default") as ei:
        load_profile(str(_write(tmp_path, bad, "c.yaml")))
    assert ei.value.field == "options.region"
    # a planner's copy chooses the region by editing the default
    ok = copy.deepcopy(raw)
    ok["options"]["region"]["default"] = "ewn"
    assert load_profile(str(_write(tmp_path, ok, "d.yaml"))).indicator(
        "rural_comprehensive_coverage").target == 50


def test_older_profiles_with_a_free_text_source_still_load(tmp_path):
    raw = _base()
    for item in raw["indicators"]:
        item["source"] = item.pop("clause") + " " + str(item.pop("quote"))
        for k in ("note_zh", "note_en"):
            item.pop(k, None)
    raw["indicators"][0]["note"] = "an English note"
    prof = load_profile(str(_write(tmp_path, raw)))
    ind = prof.indicators[0]
    assert ind.clause.startswith("专栏1") and ind.quote == () and ind.note == "an English note"


def test_study_yaml_profile_options_are_checked_before_any_work():
    from coverage.io.profiles import resolve_profile
    assert resolve_profile("guangdong_13th", file="study.yaml", options={"region": "ewn"}) == "guangdong_13th"
    with pytest.raises(InputError) as ei:
        resolve_profile("guangdong_13th", file="study.yaml", options={"region": "north"})
    assert (ei.value.file, ei.value.field) == ("study.yaml", "profile_options.region")
    assert "prd" in ei.value.fix
