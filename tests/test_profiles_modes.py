"""Travel modes in profiles (issue 14, point 3): the ``mode`` key, ``required_cutoffs``, the
indicators read the mode's distance columns, and the packaged rural circles carry their mode.

Synthetic study (speed 80 m/min: 15 min = 1200, 30 min = 2400, 60 min = 4800 flat-walking
metres). Costs are flat-walking metres (coverage.core.modes): an e-bike cost is the minutes by
e-bike x 80.

  township T1 (a street): U1 urban: p0 (100 people), p1 (300)
  township T2 (a township): R1 rural: p2 (200), p3 (50); R2 rural: p4 (150)

                               p0     p1     p2     p3     p4
  dist_commerce (walk)        500   1500   3000   9000    inf
  dist_commerce_by_ebike      160    480    960   2880   2000
  dist_culture (sloped walk)  900   6000   5500    inf   4000
  dist_culture_flat           700   4800   4900    inf   3000

Hand answers
  rural commerce, 30 min on foot (2400): nobody -> 0 of 400 = 0 %
  rural commerce, 30 min by e-bike (2400): p2, p4 -> 350 / 400 = 87.5 %; R1 200/250 = 80 %,
    R2 150/150 = 100 %
  urban commerce, 15 min on foot (1200): p0 -> 100/400 = 25 %; by e-bike: p0 p1 -> 100 %
  communities reached (>= 50 % of people) by e-bike 30 min: R1 (80 %) and R2 -> 100 %; on foot 0 %
  townships reached (>= 50 %), 30 min: on foot T1 (p0 p1: 100 %) only -> 50 %; by e-bike both -> 100 %
  rural culture within 5 km (十里, a network distance): flat metres p2 (4900) p4 (3000) -> 350/400
    = 87.5 %; without the flat column (no DEM) dist_culture: p4 only -> 150/400 = 37.5 %
  rural culture within 60 minutes on foot (4800): the sloped cost, p4 only -> 37.5 % (the flat
    column is not read for times)
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import pytest
import yaml

from coverage.analysis.indicators import COLUMNS, MEASURED, evaluate
from coverage.analysis.standards import (KIND_SPECS, MODE_KINDS, required_cutoffs,
                                         required_thresholds_m, validate_profile)
from coverage.core.modes import ModeSpec, packaged_modes
from coverage.errors import InputError
from coverage.io.profiles import PROFILE_DIR, list_profiles, load_profile
from helpers import read_yaml

INF = np.inf
SPEED = 80.0


def study():
    com = pd.DataFrame({"community_id": ["U1", "R1", "R2"], "name": ["城一", "村一", "村二"],
                        "township": ["T1", "T2", "T2"], "type": ["urban", "rural", "rural"],
                        "households": [100.0, 60, 40]})
    fac = pd.DataFrame({"facility_id": ["S1", "K1"], "category": ["commerce", "culture"],
                        "community_id": ["U1", "R2"]})
    dem = pd.DataFrame({
        "community_id": ["U1", "U1", "R1", "R1", "R2"],
        "population": [100.0, 300, 200, 50, 150],
        "dist_commerce": [500, 1500, 3000, 9000, INF],
        "dist_commerce_by_ebike": [160, 480, 960, 2880, 2000],
        "dist_culture": [900, 6000, 5500, INF, 4000],
        "dist_culture_flat": [700, 4800, 4900, INF, 3000]})
    return com, fac, dem


def ind(id, kind="population_coverage", categories=("commerce",), applies_to="rural", **kw):
    d = {"id": id, "name_zh": id, "name_en": id, "kind": kind, "target": 100, "comparison": ">=",
         "unit": KIND_SPECS[kind]["unit"], "applies_to": applies_to, "categories": list(categories),
         "clause": "测试"}
    d.update(kw)
    return d


def profile(*inds, path="<test>", **kw):
    return validate_profile({"id": "t", "name_zh": "测", "name_en": "t", "period": "x",
                             "source": {"title": "x"}, "indicators": list(inds)}, path, **kw)


def run(*inds, dem=None, **kw):
    com, fac, d = study()
    return evaluate(profile(*inds), com, fac, d if dem is None else dem, None, SPEED, **kw)


def area(df, iid):
    r = df[(df.indicator_id == iid) & (df.level == "area")]
    assert len(r) == 1, iid
    return r.iloc[0]


def unit(df, iid, level, uid):
    r = df[(df.indicator_id == iid) & (df.level == level) & (df.unit_id == uid)]
    assert len(r) == 1, (iid, uid)
    return r.iloc[0]


# ------------------------------------------------------------------------------ evaluation

def test_ebike_circle_by_hand_and_never_below_walking():
    df = run(ind("walk30", threshold_min=30), ind("ebike30", threshold_min=30, mode="ebike"),
             ind("walk15u", threshold_min=15, applies_to="urban"),
             ind("ebike15u", threshold_min=15, applies_to="urban", mode="ebike"))
    assert area(df, "walk30").value == 0
    e = area(df, "ebike30")
    assert e.status == MEASURED and e.value == pytest.approx(87.5) and e.gap == 50   # 50 people
    assert unit(df, "ebike30", "community", "R1").value == pytest.approx(80)
    assert unit(df, "ebike30", "community", "R2").value == pytest.approx(100)
    assert area(df, "walk15u").value == pytest.approx(25)
    assert area(df, "ebike15u").value == pytest.approx(100)
    # a faster mode never lowers coverage, at any level
    for w, b in (("walk30", "ebike30"), ("walk15u", "ebike15u")):
        rw = df[df.indicator_id == w].set_index(["level", "unit_id"]).value
        rb = df[df.indicator_id == b].set_index(["level", "unit_id"]).value
        assert (rb.loc[rw.index] >= rw - 1e-9).all(), (w, b)


def test_the_mode_column_and_the_note_name_the_mode():
    df = run(ind("walk30", threshold_min=30), ind("ebike30", threshold_min=30, mode="ebike"))
    assert list(df.columns) == COLUMNS and COLUMNS[-1] == "mode"
    assert set(df[df.indicator_id == "walk30"]["mode"]) == {"walk"}
    assert set(df[df.indicator_id == "ebike30"]["mode"]) == {"ebike"}
    e = area(df, "ebike30")
    assert "按电动自行车30分钟计" in e.note_zh and "30 minutes by e-bike" in e.note
    assert "电动" not in area(df, "walk30").note_zh          # walking stays as it was
    # a profile note that already says so is not repeated
    df = run(ind("e", threshold_min=30, mode="ebike", note_zh="本工具解读：按电动自行车30分钟计",
                 note_en="read as 30 minutes by e-bike"))
    assert area(df, "e").note_zh.count("按电动自行车30分钟计") == 1


def test_communities_and_townships_reached_by_mode():
    df = run(ind("cw", "community_within_circle", threshold_min=30),
             ind("ce", "community_within_circle", threshold_min=30, mode="ebike"),
             ind("tw", "township_within_circle", applies_to="township", threshold_min=30),
             ind("te", "township_within_circle", applies_to="township", threshold_min=30,
                 mode="ebike"))
    assert area(df, "cw").value == 0 and area(df, "ce").value == 100
    assert "电动自行车出行可达" in area(df, "ce").note_zh and "步行可达" in area(df, "cw").note_zh
    assert unit(df, "ce", "community", "R1").value == pytest.approx(80)
    assert area(df, "tw").value == 50 and area(df, "te").value == 100
    assert unit(df, "te", "township", "T2").value == pytest.approx(87.5)


def test_a_distance_threshold_reads_the_flat_network_metres():
    tenli = ind("tenli", categories=("culture",), threshold_m=5000)
    hour = ind("hour", categories=("culture",), threshold_min=60)
    df = run(tenli, hour)
    assert area(df, "tenli").value == pytest.approx(87.5)     # flat metres: p2 4900, p4 3000
    assert area(df, "hour").value == pytest.approx(37.5)      # a time reads the sloped cost
    assert area(df, "tenli")["mode"] == "walk"
    # no DEM, no flat column: the walking distance is the network distance
    com, fac, dem = study()
    df = run(tenli, hour, dem=dem.drop(columns="dist_culture_flat"))
    assert area(df, "tenli").value == pytest.approx(37.5)
    assert area(df, "hour").value == pytest.approx(37.5)


def test_a_missing_mode_column_is_not_measurable():
    com, fac, dem = study()
    df = run(ind("e", threshold_min=30, mode="ebike"), ind("w", threshold_min=30),
             dem=dem.drop(columns="dist_commerce_by_ebike"))
    r = df[df.indicator_id == "e"]
    assert len(r) == 1
    r = r.iloc[0]
    assert r.status == "not measurable: distances by ebike (dist_commerce_by_ebike)"
    assert r.status_zh.startswith("无法测算：") and "电动自行车" in r.status_zh
    assert np.isnan(r.value) and r.met is None and r["mode"] == "ebike"
    assert area(df, "w").status == MEASURED                   # walking unaffected
    # require: all with one category lacking e-bike costs
    df = run(ind("both", categories=("commerce", "culture"), require="all", threshold_min=30,
                 mode="ebike"))
    assert df.iloc[0].status == "not measurable: distances by ebike (dist_culture_by_ebike)"


def test_a_custom_mode_is_read_from_its_column_and_labelled_from_the_study():
    com, fac, dem = study()
    dem["dist_commerce_by_scooter"] = [100, 100, 100, 100, INF]
    with pytest.warns(UserWarning, match="scooter"):
        prof = profile(ind("s", threshold_min=30, mode="scooter"))
    spec = ModeSpec("scooter", label_zh="电动滑板车", label_en="e-scooter", default_kmh=18)
    df = evaluate(prof, com, fac, dem, None, SPEED, modes={"scooter": spec})
    r = area(df, "s")
    assert r.value == pytest.approx(62.5) and r["mode"] == "scooter"     # p2 p3 of 400
    assert "按电动滑板车30分钟计" in r.note_zh and "e-scooter" in r.note


def test_empty_mode_costs_are_an_error_not_zero():
    com, fac, dem = study()
    dem.loc[2, "dist_commerce_by_ebike"] = np.nan
    with pytest.raises(InputError) as e:
        run(ind("e", threshold_min=30, mode="ebike"), dem=dem)
    assert e.value.field == "dist_commerce_by_ebike" and "ebike" in e.value.problem


# ------------------------------------------------------------------------------ validation

def _err(tmp_path, item, **kw) -> InputError:
    p = tmp_path / "my_profile.yaml"
    with pytest.raises(InputError) as e:
        profile(item, path=p, **kw)
    assert "my_profile.yaml" in str(e.value.file)
    assert "x1" in e.value.problem and e.value.field.endswith(".mode"), e.value.field
    assert "(id x1)" in e.value.field
    return e.value


@pytest.mark.parametrize("kind", [k for k in KIND_SPECS if k not in MODE_KINDS])
def test_mode_on_a_kind_that_does_not_take_one(tmp_path, kind):
    extra = {"threshold_min": 15} if KIND_SPECS[kind]["threshold"] else {}
    extra.update({"min_area_m2": 300} if kind == "facility_min_area" else {})
    applies = "township" if kind.startswith("township") else "all"
    e = _err(tmp_path, ind("x1", kind, applies_to=applies, mode="ebike", **extra))
    assert "not used by kind" in e.problem and "population_coverage" in e.problem


def test_mode_kinds_are_the_distance_kinds():
    assert set(MODE_KINDS) == {"population_coverage", "community_within_circle",
                               "township_within_circle"}
    assert all("mode" in KIND_SPECS[k]["optional"] for k in MODE_KINDS)


@pytest.mark.parametrize("mode", ["e-bike", "Ebike", "flat", 3, ""])
def test_a_bad_mode_name(tmp_path, mode):
    e = _err(tmp_path, ind("x1", threshold_min=30, mode=mode))
    assert "mode" in e.problem and "ebike" in e.fix and "analysis.modes" in e.fix


def test_a_distance_threshold_takes_no_mode(tmp_path):
    e = _err(tmp_path, ind("x1", threshold_m=5000, mode="ebike"))
    assert "threshold_m" in e.problem and "threshold_min" in e.fix
    assert profile(ind("x1", threshold_m=5000, mode="walk")).indicators[0].mode == "walk"


def test_unknown_modes_warn_without_a_study_and_fail_with_one(tmp_path):
    item = ind("x1", threshold_min=30, mode="scooter")
    with pytest.warns(UserWarning, match=r"x1.*scooter.*analysis\.modes"):
        assert profile(item).indicators[0].mode == "scooter"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert profile(item, modes=["scooter"]).indicators[0].mode == "scooter"
        assert profile(ind("x2", threshold_min=30, mode="ebike"), modes=[]).indicators[0].mode == "ebike"
    e = _err(tmp_path, item, modes=["tractor"])
    assert "unknown mode 'scooter'" in e.problem and "tractor" in e.fix


def test_load_profile_passes_the_study_modes_and_options_keep_them(tmp_path):
    raw = read_yaml(PROFILE_DIR / "guangdong_13th.yaml")
    raw = copy.deepcopy(raw)
    raw["indicators"][-1]["mode"] = "tuktuk"
    p = tmp_path / "gd.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_profile(p, modes=["scooter"])
    assert e.value.field.endswith("(id life_circle_rural_30min).mode")
    prof = load_profile(p, modes=["tuktuk"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ewn = prof.with_options(region="ewn")
    assert ewn.indicator("life_circle_rural_30min").mode == "tuktuk" and ewn.options == {"region": "ewn"}


# ------------------------------------------------------------------------------ cut-offs

def test_required_cutoffs_per_category_and_mode():
    prof = profile(ind("a", threshold_min=15, applies_to="urban"),
                   ind("b", threshold_min=30, mode="ebike"),
                   ind("c", threshold_min=20, mode="ebike"),
                   ind("d", categories=("culture",), threshold_m=5000),
                   ind("e", categories=("culture", "commerce"), threshold_min=10, mode="motorbike"),
                   ind("f", "area_per_100_households_2sfca", categories=("comprehensive",),
                       threshold_min=15, applies_to="all"),
                   ind("g", "community_has_facility", categories=("health",)))
    assert required_cutoffs(prof, SPEED) == {
        ("commerce", "ebike"): 2400.0, ("commerce", "motorbike"): 800.0,
        ("commerce", "walk"): 1200.0, ("comprehensive", "walk"): 1200.0,
        ("culture", "motorbike"): 800.0, ("culture", "walk"): 5000.0}
    assert required_cutoffs(prof, 60.0)[("commerce", "ebike")] == 1800.0
    assert required_cutoffs(prof, 60.0)[("culture", "walk")] == 5000.0     # metres: no speed
    # walking only, as before
    assert required_thresholds_m(prof, SPEED) == {"commerce": 1200.0, "comprehensive": 1200.0,
                                                  "culture": 5000.0}
    assert prof.modes == ("walk", "ebike", "motorbike")


# ------------------------------------------------------------------------------ packaged profiles

def test_every_packaged_mode_is_a_packaged_mode_and_walk_is_the_rule():
    for pid in list_profiles():
        prof = load_profile(pid, modes=[])          # strict: packaged modes only
        for i in prof.indicators:
            assert i.mode in packaged_modes(), (pid, i.id)
            if i.mode != "walk":
                assert (pid, i.id) == ("guangdong_13th", "life_circle_rural_30min")
    assert set(required_cutoffs(load_profile("guangdong_13th"), SPEED)) >= {("commerce", "ebike")}


def test_guangdong_rural_circles():
    gd = load_profile("guangdong_13th")
    half = gd.indicator("life_circle_rural_30min")
    assert (half.mode, half.threshold_min, half.applies_to) == ("ebike", 30, "rural")
    assert "按电动自行车30分钟计" in half.note_zh and "e-bike" in half.note_en
    assert "本工具解读" in half.note_zh
    tenli = gd.indicator("culture_circle_rural_10li")
    assert tenli.is_distance and tenli.threshold_m == 5000 and tenli.mode == "walk"
    assert "与出行方式无关" in tenli.note_zh and "平地路网距离" in tenli.note_zh
    for iid in ("learning_circle_15min", "fitness_circle_15min"):
        i = gd.indicator(iid)
        assert (i.mode, i.threshold_min, i.applies_to) == ("walk", 15, "all")
        assert "农村社区同样按步行计" in i.note_zh
    # the walking search for commerce no longer needs 30 minutes on foot; the e-bike one does
    assert required_thresholds_m(gd, SPEED)["commerce"] == 1200
    assert required_cutoffs(gd, SPEED)[("commerce", "ebike")] == 2400
    assert gd.raw["indicators"][-1]["mode"] == "ebike"     # written in the YAML, not defaulted


def test_diqing_and_yunnan_rural_readings():
    dq = load_profile("diqing_14th")
    f = dq.indicator("fitness_circle_15min")
    assert (f.mode, f.applies_to) == ("walk", "all")
    assert "农村社区同样按步行15分钟计" in f.note_zh and "坡度" in f.note_zh
    assert any("便民生活圈" in x["name_zh"] for x in dq.not_encoded)
    yn = load_profile("yunnan_13th")
    assert {i.mode for i in yn.indicators} == {"walk"}
    assert any("农村社区综合性服务网点" in x["name_zh"] for x in yn.not_encoded)
    assert any("农村社区综合性服务网点" in x["name_zh"] for x in load_profile("leshan_13th").not_encoded)
    assert load_profile("national_14th").indicator("fitness_circle_15min").mode == "walk"


def test_guangdong_half_hour_circle_on_the_synthetic_study():
    com, fac, dem = study()
    df = evaluate(load_profile("guangdong_13th"), com, fac, dem, None, SPEED)
    r = area(df, "life_circle_rural_30min")
    assert r.value == pytest.approx(87.5) and r["mode"] == "ebike"
    assert r.note_zh.count("按电动自行车30分钟计") == 1
    t = area(df, "culture_circle_rural_10li")
    assert t.value == pytest.approx(87.5) and t["mode"] == "walk"        # the flat metres
    df = evaluate(load_profile("guangdong_13th"), com, fac, dem.drop(columns="dist_commerce_by_ebike"),
                  None, SPEED)
    assert area_status(df, "life_circle_rural_30min").startswith("not measurable: distances by ebike")


def area_status(df, iid):
    return df[(df.indicator_id == iid) & (df.level == "area")].iloc[0].status
