"""Every indicator of every packaged profile on one small hand-built county, with the answers
worked out by hand below. Facility levels and sub-types come from the real name classifier
(``classify_names``), as the loader gives them, so these tests hold the whole chain: name ->
level / sub-type -> the facilities each plan indicator counts -> the value.

County (speed 80 m/min: 10 min = 800 m, 15 min = 1200 m, 30 min = 2400 m):

  城关街道 (a street: all urban)            河口镇 (a township: all rural)
  U1 urban 200 hh: u1a (300 people) u1b (100)   R1 rural 100 hh: r1 (300)
  U2 urban 100 hh: u2 (200)                     R2 rural  50 hh: r2 (100)
                                                R3 rural  50 hh: r3 (100)
  population 1,100 (urban 600, rural 500), households 500

  comprehensive (floor m2)                 level (from the name)   sub-type
    C1 城关街道社区服务中心   800 in U1      township               -
    C2 和平社区党群服务中心   300 in U1      community              party_mass
    C3 新街社区服务站          20 in U2      community              -
    C4 河口镇便民服务中心     500 in R1      township               -
    C5 大埠村便民服务站        40 in R2      community              -
    C6 城关街道社工站         100 in U2      township               social_work
    C7 阳光党群服务中心        35 in R3      unknown (-> community) party_mass
  culture: K1 和平社区综合性文化服务中心 (U1, community, cultural_centre), K2 河口镇综合文化站
    (R1, township), K3 大埠村综合文化服务中心 (R2, community, cultural_centre), K4 城关街道图书馆 (U2)
  childcare: H1 和平社区儿童之家 (U1), H2 河口镇中心幼儿园 (R1, township), H3 大埠村儿童之家 (R2),
    H4 新街幼儿园 (U2, unknown level, kindergarten)
  fitness (site m2 / floor m2): P1 城关文化广场 plaza 1000/- (U2, unknown), P2 河口镇全民健身广场 plaza
    600/- (R1, township), G1 和平社区篮球场 sports_ground 400/- (U1), G2 河口镇体育馆 sports_centre
    800/1500 (R1, township), G3 大埠村健身路径 sports_ground 200/- (R2)
  elderly care: E1 城关街道日间照料中心 (U2, township), E2 和平社区居家养老服务站 (U1), E3 河口镇敬老院
    (R1, township); health M1 (U1), education D1 (U2), commerce S1 (U1)

  walking distances (m)   u1a   u1b    u2    r1    r2    r3
    comprehensive         100  1250   100   300    50   100   (min of the catchments below)
    fitness               200   900   100   100  1500  2000
    commerce              500  1000  1300  2000  2600   inf
    culture               300   700   900   400  4000  6000
    education             400   600  1000  1500   inf   inf
    health                100  1100  1100   500  1300   inf
    commerce by e-bike    160   320   416   640   832   inf   (flat-walking metres: the walk
                                                              x 4.8/15 km/h on ordinary roads)
  comprehensive catchments: C1 u1a 100, u1b 1300, u2 500; C2 u1a 150, u1b 1250, u2 600;
    C3 u1a 700, u2 200; C4 r1 300, r2 2000; C5 r1 2500, r2 50; C6 u1a 800, u2 100; C7 r3 100

Hand answers
  community comprehensive facilities (township centres and the 社工站 never count for a
  community; C7, level unknown, does): urban U1 C2, U2 C3 -> 100%; rural R2 C5, R3 C7, R1 none
  (C4 is the township's) -> 2/3 = 66.7%
  m2 per 100 households, inside (C2, C3, C5, C7): U1 300/200 = 150 (550 if C1 counted),
  U2 20/100 = 20, R1 0, R2 40/50 = 80, R3 35/50 = 70; area 395/500 = 79; share >= 30: U1 R2 R3
  = 3/5 = 60%
  2SFCA (households per point u1a 150, u1b 50, u2 100, r1 100, r2 50, r3 50): C2 300/(150+100)
  = 1.2, C3 20/250 = 0.08, C5 40/50 = 0.8, C7 35/50 = 0.7 -> u1a = u2 = 128, u1b = r1 = 0,
  r2 = 80, r3 = 70 -> U1 (300*128)/400 = 96, U2 128, R1 0, R2 80, R3 70; area 79; share 4/5 = 80%
  townships with a centre (township level, 社工站 excluded): 城关街道 C1, 河口镇 C4 -> 100%;
  without C1 城关街道 has only the 社工站: 50%
  social-work station (sub-type social_work, township level): 城关街道 C6, 河口镇 none -> 50%
  culture centre (cultural_centre, community): U1 K1, R2 K3 -> 2/5 = 40%
  儿童之家 (children_home, community): U1 H1, R2 H3 -> 40% (60% if kindergartens counted)
  station >= 300 m2 (community, known area): C2 only of C2 C3 C5 C7 -> 25%
  centre >= 800 m2 (township, 社工站 excluded): C1 yes, C4 no -> 50%
  plaza site area / person: (1000 + 600) / 1100 = 1.45; sports-ground site area / person:
  (400 + 800 + 200) / 1100 = 1.27 (plazas and the gym's floor area not counted)
  urban fitness station (community + unknown): U1 G1, U2 P1 -> 100%; rural: R2 G3 -> 33.3%
  sports ground in the community (sports_ground / sports_centre, community): U1 G1, R2 G3 -> 40%
  elderly care: townships (any level) 100%; urban communities (community level) U1 E2 -> 50%;
  rural 0%
  walking: fitness 15 min u1a u1b u2 r1 = 900/1100; urban commerce 15 min u1a u1b = 400/600;
  urban culture 10 min u1a u1b = 400/600; rural culture 5 km r1 r2 = 400/500; education 15 min
  u1a u1b u2 = 600/1100; rural commerce 30 min by e-bike (Guangdong's 半个小时生活圈, cut-off
  30 x 80 = 2400 flat-walking metres) r1 r2 = 400/500 (on foot it would be r1 only: 300/500)
  Leshan basic public service circle (comprehensive, health, culture, education all within
  1200 m): u1a, u2 = 500/600; Yunnan's circle adds commerce: u2 (1300 m) drops -> 300/600
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from coverage.analysis.indicators import MEASURED, evaluate
from coverage.io.categories import classify_names
from coverage.io.profiles import list_profiles, load_profile

INF = np.inf
SPEED = 80.0
STREET, TOWN = "城关街道", "河口镇"

FACILITIES = [  # id, name, community, floor m2, site m2
    ("C1", "城关街道社区服务中心", "U1", 800, None), ("C2", "和平社区党群服务中心", "U1", 300, None),
    ("C3", "新街社区服务站", "U2", 20, None), ("C4", "河口镇便民服务中心", "R1", 500, None),
    ("C5", "大埠村便民服务站", "R2", 40, None), ("C6", "城关街道社工站", "U2", 100, None),
    ("C7", "阳光党群服务中心", "R3", 35, None),
    ("K1", "和平社区综合性文化服务中心", "U1", None, None), ("K2", "河口镇综合文化站", "R1", None, None),
    ("K3", "大埠村综合文化服务中心", "R2", None, None), ("K4", "城关街道图书馆", "U2", None, None),
    ("H1", "和平社区儿童之家", "U1", None, None), ("H2", "河口镇中心幼儿园", "R1", None, None),
    ("H3", "大埠村儿童之家", "R2", None, None), ("H4", "新街幼儿园", "U2", None, None),
    ("P1", "城关文化广场", "U2", None, 1000), ("P2", "河口镇全民健身广场", "R1", None, 600),
    ("G1", "和平社区篮球场", "U1", None, 400), ("G2", "河口镇体育馆", "R1", 1500, 800),
    ("G3", "大埠村健身路径", "R2", None, 200),
    ("E1", "城关街道日间照料中心", "U2", None, None), ("E2", "和平社区居家养老服务站", "U1", None, None),
    ("E3", "河口镇敬老院", "R1", None, None),
    ("M1", "和平社区卫生服务站", "U1", None, None), ("D1", "城关小学", "U2", None, None),
    ("S1", "美宜佳(和平店)", "U1", None, None),
]
TOWNSHIP_OF = {"U1": STREET, "U2": STREET, "R1": TOWN, "R2": TOWN, "R3": TOWN}


@functools.lru_cache(maxsize=None)
def _classified():
    return classify_names([f[1] for f in FACILITIES])


def county():
    com = pd.DataFrame({"community_id": ["U1", "U2", "R1", "R2", "R3"],
                        "name": ["和平社区", "新街社区", "河口村", "大埠村", "石桥村"],
                        "township": [STREET, STREET, TOWN, TOWN, TOWN],
                        "type": ["urban", "urban", "rural", "rural", "rural"],
                        "households": [200.0, 100, 100, 50, 50]})
    names = [f[1] for f in FACILITIES]
    cls = _classified()
    fac = pd.DataFrame({"facility_id": [f[0] for f in FACILITIES], "name": names,
                        "category": cls["category"].to_numpy(), "level": cls["level"].to_numpy(),
                        "subtype": cls["subtype"].to_numpy(),
                        "area_m2": [np.nan if f[3] is None else float(f[3]) for f in FACILITIES],
                        "site_area_m2": [np.nan if f[4] is None else float(f[4]) for f in FACILITIES],
                        "community_id": [f[2] for f in FACILITIES],
                        "township": [TOWNSHIP_OF[f[2]] for f in FACILITIES]})
    dem = pd.DataFrame({
        "community_id": ["U1", "U1", "U2", "R1", "R2", "R3"],
        "population": [300.0, 100, 200, 300, 100, 100],
        "dist_comprehensive": [100, 1250, 100, 300, 50, 100],
        "dist_fitness": [200, 900, 100, 100, 1500, 2000],
        "dist_commerce": [500, 1000, 1300, 2000, 2600, INF],
        "dist_culture": [300, 700, 900, 400, 4000, 6000],
        "dist_education": [400, 600, 1000, 1500, INF, INF],
        "dist_health": [100, 1100, 1100, 500, 1300, INF],
        "dist_commerce_by_ebike": [160, 320, 416, 640, 832, INF]})
    #        u1a   u1b    u2    r1    r2    r3
    comp = [[100, 1300, 500, INF, INF, INF],      # C1
            [150, 1250, 600, INF, INF, INF],      # C2
            [700, INF, 200, INF, INF, INF],       # C3
            [INF, INF, INF, 300, 2000, INF],      # C4
            [INF, INF, INF, 2500, 50, INF],       # C5
            [800, INF, 100, INF, INF, INF],       # C6
            [INF, INF, INF, INF, INF, 100]]       # C7
    m = np.asarray(comp, float)
    r, c = np.nonzero(np.isfinite(m))
    catch = {"comprehensive": sparse.csr_array((m[r, c], (r, c)), shape=m.shape)}
    return com, fac, dem, catch


def run(pid, options=None, fac=None):
    com, f, dem, catch = county()
    return evaluate(load_profile(pid, options), com, f if fac is None else fac, dem, catch, SPEED)


def area(df, iid, measure=None):
    sel = df[(df.indicator_id == iid) & (df.level == "area")]
    if measure:
        sel = sel[sel.measure == measure]
    assert len(sel) >= 1, iid
    r = sel.iloc[0]
    assert r.status == MEASURED, (iid, r.status, r.note)
    return r


def unit(df, iid, level, uid, measure=None):
    sel = df[(df.indicator_id == iid) & (df.level == level) & (df.unit_id == uid)]
    if measure:
        sel = sel[sel.measure == measure]
    assert len(sel) == 1, (iid, uid)
    return sel.iloc[0]


def test_the_classifier_gives_the_levels_and_subtypes_used_above():
    com, fac, dem, catch = county()
    f = fac.set_index("facility_id")
    assert list(f.loc[["C1", "C2", "C4", "C6"], "level"]) == ["township", "community", "township", "township"]
    assert pd.isna(f.loc["C7", "level"])                      # 阳光党群服务中心: the name does not say
    assert f.loc["C6", "subtype"] == "social_work" and f.loc["H4", "subtype"] == "kindergarten"
    assert list(f.loc[["H1", "H3", "K1", "K3", "P1", "P2", "G1", "G2", "G3"], "subtype"]) == [
        "children_home", "children_home", "cultural_centre", "cultural_centre", "plaza", "plaza",
        "sports_ground", "sports_centre", "sports_ground"]


HAND = {
    "national_14th": {
        "rural_comprehensive_coverage": 200 / 3, "urban_comprehensive_coverage": 100,
        "comprehensive_area_per_100hh": 79, "comprehensive_area_per_100hh_walk": 79,
        "culture_centre_coverage": 40, "social_work_station_coverage": 50,
        "fitness_circle_15min": 900 / 11, "convenience_circle_15min": 200 / 3},
    "diqing_14th": {
        "rural_comprehensive_coverage": 200 / 3, "urban_comprehensive_coverage": 100,
        "comprehensive_area_per_100hh": 79, "comprehensive_area_per_100hh_walk": 79,
        "social_work_station_coverage": 50, "culture_centre_coverage": 40,
        "fitness_circle_15min": 900 / 11, "convenience_circle_15min": 200 / 3},
    "yunnan_13th": {
        "urban_comprehensive_coverage": 100, "rural_comprehensive_coverage": 200 / 3,
        "comprehensive_area_per_100hh": 79, "township_service_centre": 100,
        "sports_ground_coverage": 40, "public_service_circle_15min": 50},
    "leshan_13th": {
        "urban_comprehensive_coverage": 100, "rural_comprehensive_coverage": 200 / 3,
        "township_centre_coverage": 100, "comprehensive_area_per_100hh": 79,
        "station_area_compliance": 25, "township_centre_area": 50,
        "outdoor_plaza_per_capita": 1600 / 1100, "urban_fitness_station": 100,
        "rural_fitness_station": 100 / 3, "childrens_home_coverage": 40,
        "public_service_circle_15min": 500 / 6},
    "guangdong_13th": {
        "urban_comprehensive_coverage": 100, "rural_comprehensive_coverage": 200 / 3,
        "street_comprehensive_coverage": 100, "township_comprehensive_coverage": 100,
        "comprehensive_area_per_100hh": 79, "elderly_care_townships": 100, "elderly_care_urban": 50,
        "elderly_care_rural": 0, "childrens_home_coverage": 40, "culture_centre_coverage": 40,
        "sports_area_per_capita": 1400 / 1100, "culture_circle_urban_10min": 200 / 3,
        "culture_circle_rural_10li": 80, "learning_circle_15min": 600 / 11,
        "fitness_circle_15min": 900 / 11, "life_circle_urban_15min": 200 / 3,
        "life_circle_rural_30min": 80},
}


def test_every_packaged_profile_is_worked_out_by_hand():
    assert set(HAND) == set(list_profiles())
    for pid, want in HAND.items():
        assert set(want) == {i.id for i in load_profile(pid).indicators}, pid


@pytest.mark.parametrize("pid", sorted(HAND))
def test_every_indicator_gives_the_hand_computed_value(pid):
    df = run(pid)
    for iid, value in HAND[pid].items():
        assert area(df, iid).value == pytest.approx(value), (pid, iid)


@pytest.mark.parametrize("pid", ["national_14th", "diqing_14th", "yunnan_13th", "leshan_13th",
                                 "guangdong_13th"])
def test_a_township_centre_does_not_inflate_its_community(pid):
    df = run(pid)
    iid = "comprehensive_area_per_100hh"
    assert unit(df, iid, "community", "U1", "per_100_households").value == pytest.approx(150)   # not 550
    r1 = unit(df, iid, "community", "R1", "per_100_households")
    assert r1.value == 0 and r1.met is False                                                  # not 500
    assert unit(df, iid, "community", "U2", "per_100_households").value == pytest.approx(20)  # 社工站 out
    assert unit(df, iid, "community", "R3", "per_100_households").value == pytest.approx(70)  # unknown in
    assert area(df, iid, "share_met").value == pytest.approx(60)
    assert "3处街道（乡镇）级设施不计入社区" in area(df, iid).note_zh


def test_2sfca_counts_community_facilities_only():
    for pid in ("national_14th", "diqing_14th"):
        df = run(pid)
        iid = "comprehensive_area_per_100hh_walk"
        for cid, v in {"U1": 96, "U2": 128, "R1": 0, "R2": 80, "R3": 70}.items():
            assert unit(df, iid, "community", cid, "per_100_households").value == pytest.approx(v), (pid, cid)
        assert area(df, iid, "share_met").value == pytest.approx(80)


def test_diqing_per_100_households_covers_rural_communities():
    df = run("diqing_14th")
    rows = df[(df.indicator_id == "comprehensive_area_per_100hh") & (df.level == "community")]
    assert set(rows.unit_id) == {"U1", "U2", "R1", "R2", "R3"}
    assert area(df, "comprehensive_area_per_100hh").value == pytest.approx(79)    # urban only: 320/300


def test_township_counts_respect_level_and_subtype():
    # the social-work station alone does not make a street's community service centre
    com, fac, dem, catch = county()
    no_c1 = fac[fac.facility_id != "C1"].reset_index(drop=True)
    df = run("yunnan_13th", fac=no_c1)
    assert area(df, "township_service_centre").value == 50
    assert unit(df, "township_service_centre", "township", STREET).value == 0
    assert area(run("guangdong_13th", fac=no_c1), "street_comprehensive_coverage").value == 0
    assert area(run("leshan_13th", fac=no_c1), "township_centre_coverage").value == 50
    # the station counts where a social-work station is asked for: one per street, none in the town
    df = run("national_14th")
    assert unit(df, "social_work_station_coverage", "township", STREET).value == 1
    assert unit(df, "social_work_station_coverage", "township", TOWN).value == 0
    # Leshan: 800 m2 centres C1 (yes) and C4 (no), not the 社工站; 300 m2 stations: C2 of 4
    df = run("leshan_13th")
    c = area(df, "township_centre_area")
    assert c.value == 50 and c.gap == 1 and "1处社工站不计入" in c.note_zh
    s = area(df, "station_area_compliance")
    assert s.value == 25 and s.gap == 3            # ceil((90 - 25)% of 4)


def test_children_home_is_not_a_kindergarten():
    for pid in ("leshan_13th", "guangdong_13th"):
        df = run(pid)
        r = area(df, "childrens_home_coverage")
        assert r.value == 40 and r.gap == 3        # ceil((90 - 40)% of 5)
        assert unit(df, "childrens_home_coverage", "community", "U2").value == 0    # 新街幼儿园
        assert "仅计儿童之家" in r.note_zh


def test_ground_area_not_floor_area():
    df = run("leshan_13th")
    p = area(df, "outdoor_plaza_per_capita")
    assert p.value == pytest.approx(1600 / 1100) and p.met is False
    assert p.gap == pytest.approx(2.5 * 1100 - 1600)
    assert unit(df, "outdoor_plaza_per_capita", "township", STREET).value == pytest.approx(1000 / 600)
    g = area(run("guangdong_13th"), "sports_area_per_capita")
    assert g.value == pytest.approx(1400 / 1100)   # the gym's 800 m2 of ground, not its 1500 m2 floor
    # without a site-area column: not measurable, saying which field is missing
    com, fac, dem, catch = county()
    df = run("leshan_13th", fac=fac.drop(columns="site_area_m2"))
    r = df[df.indicator_id == "outdoor_plaza_per_capita"]
    assert list(r.status) == ["not measurable: site area (facilities.fields.site_area)"]
    assert "场地面积" in r.status_zh.iloc[0]


def test_guangdong_region_option():
    prd = area(run("guangdong_13th"), "rural_comprehensive_coverage")
    assert (prd.target, prd.met, prd.gap) == (80, False, 1)
    assert "珠江三角洲地区" in prd.name_zh
    ewn = area(run("guangdong_13th", {"region": "ewn"}), "rural_comprehensive_coverage")
    assert (ewn.target, ewn.met) == (50, True) and "粤东西北地区" in ewn.name_zh


def test_yunnan_service_circle_includes_commerce_leshan_does_not():
    assert "commerce" in load_profile("yunnan_13th").indicator("public_service_circle_15min").categories
    assert "commerce" not in load_profile("leshan_13th").indicator("public_service_circle_15min").categories
    yn = unit(run("yunnan_13th"), "public_service_circle_15min", "community", "U2")
    le = unit(run("leshan_13th"), "public_service_circle_15min", "community", "U2")
    assert (yn.value, le.value) == (0, 100)       # u2 is 1300 m from commerce


def test_tool_readings_lead_the_area_note_in_chinese():
    df = run("guangdong_13th")
    r = area(df, "life_circle_rural_30min")
    assert r.note_zh.startswith("规划未给出百分比") and "电动自行车30分钟" in r.note_zh
    assert "本工具解读" in area(df, "fitness_circle_15min").note_zh
    # community rows carry the counts only
    c = unit(df, "life_circle_rural_30min", "community", "R1")
    assert "本工具" not in c.note_zh and c.note_zh == "300人中300人在范围内"
    assert (df[df.indicator_id == "life_circle_rural_30min"]["mode"] == "ebike").all()
