"""Indicator evaluation on a small hand-built study area whose answers are worked out below.

Study area (speed 80 m/min, so 15 min = 1200 m, 10 min = 800 m):

  township T1 (all urban -> a street 街道)     township T2 (all rural -> a township 乡镇)
  U1 urban, 200 households, points d0 (300 people) d1 (100)     R1 rural, 50 hh, d4 (150)
  U2 urban, 100 households, d2 (200)                            R2 rural, 0 hh,  d5 (50)
  U3 urban, households unknown, d3 (100)                        R3 rural, 40 hh, no demand point

  facilities: F1 comprehensive 60 m2 in U1; F2 comprehensive, area unknown, in U2;
              F3 comprehensive 30 m2 in R1; F4 fitness 500 m2 in U1; F5 fitness, area unknown,
              in R1; F7 commerce 100 m2 outside every community.

  walking distances (m)   d0    d1    d2    d3    d4   d5
    to comprehensive      100  1300    50  1250    0  3000
    to fitness            200   900  1100   inf   20  1200
    to commerce          1500   inf   700  1000  inf   inf
  comprehensive catchments (facility x point):
    F1                    100  1300   900  1250    -     -
    F2                    800  1400    50  1300    -     -
    F3                      -     -     -     -    0  3000   (0 stored explicitly)
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from coverage.errors import InputError
from coverage.analysis.indicators import MEASURED, NM_AREA, NM_HH, NM_LEVEL, NM_NO_HH, NM_POP, evaluate
from coverage.report.markdown import to_markdown
from coverage.analysis.standards import validate_profile
from coverage.io.profiles import list_profiles, load_profile

INF = np.inf
SPEED = 80.0
MAX_STORED = 1500.0


def _catch(m):
    m = np.asarray(m, float)
    r, c = np.nonzero(np.isfinite(m) & (m <= MAX_STORED))
    return sparse.csr_array((m[r, c], (r, c)), shape=m.shape)


def study():
    com = pd.DataFrame({
        "community_id": ["U1", "U2", "U3", "R1", "R2", "R3"],
        "name": ["城一", "城二", "城三", "村一", "村二", "村三"],
        "township": ["T1", "T1", "T1", "T2", "T2", "T2"],
        "type": ["urban"] * 3 + ["rural"] * 3,
        "households": [200, 100, np.nan, 50, 0, 40],
        "population": [400, 200, 100, 150, 50, 0]})
    fac = pd.DataFrame({
        "facility_id": ["F1", "F2", "F3", "F4", "F5", "F7"],
        "category": ["comprehensive"] * 3 + ["fitness"] * 2 + ["commerce"],
        "area_m2": [60, np.nan, 30, 500, np.nan, 100],
        "community_id": ["U1", "U2", "R1", "U1", "R1", None],
        "township": ["T1", "T1", "T2", "T1", "T2", None]})
    dem = pd.DataFrame({
        "community_id": ["U1", "U1", "U2", "U3", "R1", "R2"],
        "population": [300.0, 100, 200, 100, 150, 50],
        "dist_comprehensive": [100, 1300, 50, 1250, 0, 3000],
        "dist_fitness": [200, 900, 1100, INF, 20, 1200],
        "dist_commerce": [1500, INF, 700, 1000, INF, INF]})
    comp = [[100, 1300, 900, 1250, INF, INF],
            [800, 1400, 50, 1300, INF, INF],
            [INF, INF, INF, INF, 0, 3000]]
    fit = [[200, 900, 1100, INF, INF, INF],
           [INF, INF, INF, INF, 20, 1200]]
    com_ = [[1500, INF, 700, 1000, INF, INF]]
    return com, fac, dem, {"comprehensive": _catch(comp), "fitness": _catch(fit),
                           "commerce": _catch(com_)}


def ind(id, kind, unit, categories, target, applies_to="all", **kw):
    return dict(id=id, name_zh="指标" + id, name_en="indicator " + id, kind=kind, target=target,
                comparison=kw.pop("comparison", ">="), unit=unit, applies_to=applies_to,
                categories=categories, source="test", **kw)


def profile(*inds):
    return validate_profile(dict(id="t", name_zh="测试", name_en="test", source={"title": "t"},
                                 period="2021–2025", indicators=list(inds)), "test.yaml")


def run(*inds, com=None, fac=None, dem=None, catch=None, speed=SPEED):
    c, f, d, k = study()
    return evaluate(profile(*inds), c if com is None else com, f if fac is None else fac,
                    d if dem is None else dem, k if catch is None else catch, speed)


def row(df, level, unit_id, measure=None):
    sel = df[(df.level == level) & (df.unit_id == unit_id)]
    if measure is not None:
        sel = sel[sel.measure == measure]
    assert len(sel) == 1, sel
    return sel.iloc[0]


# ----------------------------------------------------------------------------- coverage kinds

def test_community_has_facility_urban_and_rural():
    df = run(ind("u", "community_has_facility", "%", ["comprehensive"], 100, "urban"),
             ind("r", "community_has_facility", "%", ["comprehensive"], 80, "rural"))
    u = df[df.indicator_id == "u"]
    # U1 (F1) and U2 (F2) have one, U3 none: 2/3; one community short of 100%
    a = row(u, "area", "all")
    assert a.value == pytest.approx(200 / 3) and a.met is False
    assert (a.gap, a.gap_unit) == (1, "communities")
    assert row(u, "township", "T1").value == pytest.approx(200 / 3)
    assert "T2" not in set(u.unit_id)                  # T2 has no urban community
    assert row(u, "community", "U3").value == 0 and row(u, "community", "U3").met is False
    assert row(u, "community", "U1").met is True
    assert set(u[u.level == "community"].unit_id) == {"U1", "U2", "U3"}
    # rural: only R1 (F3): 1/3 = 33.3% vs 80%: ceil((80 - 33.3) % of 3) = ceil(1.4) = 2
    r = row(df[df.indicator_id == "r"], "area", "all")
    assert r.value == pytest.approx(100 / 3) and (r.gap, r.met) == (2, False)


def test_population_coverage_fitness_circle():
    df = run(ind("f", "population_coverage", "%", ["fitness"], 100, threshold_min=15))
    # within 1200 m: d0 300, d1 100, d2 200, d4 150, d5 50 (exactly 1200 counts); d3 never
    a = row(df, "area", "all")
    assert a.value == pytest.approx(800 / 900 * 100)
    assert (a.gap, a.gap_unit, a.met) == (100, "people", False)
    assert row(df, "township", "T1").value == pytest.approx(600 / 700 * 100)
    assert row(df, "township", "T2").met is True
    assert row(df, "community", "U3").value == 0 and row(df, "community", "U3").gap == 100
    r3 = row(df, "community", "R3")                    # no demand point: no made-up 0% or 100%
    assert r3.status == NM_POP and np.isnan(r3.value) and r3.met is None


def test_threshold_follows_speed_and_distance_thresholds():
    # at 60 m/min, 15 min = 900 m: d0 (200), d1 (900), d4 (20) -> 550 of 900
    df = run(ind("f", "population_coverage", "%", ["fitness"], 100, threshold_min=15), speed=60)
    assert row(df, "area", "all").value == pytest.approx(550 / 900 * 100)
    # a distance threshold ignores speed: 1000 m -> d0, d1, d4 = 550 people at any speed
    df = run(ind("f", "population_coverage", "%", ["fitness"], 100, threshold_m=1000), speed=30)
    assert row(df, "area", "all").value == pytest.approx(550 / 900 * 100)


def test_require_all_categories():
    # covered only if within 1200 m of BOTH comprehensive and fitness: d0 (100/200), d2 (50/1100),
    # d4 (0/20) -> 300 + 200 + 150 = 650; d1 fails comprehensive (1300), d5 fails comprehensive
    df = run(ind("b", "population_coverage", "%", ["comprehensive", "fitness"], 100,
                 threshold_min=15, require="all"))
    assert row(df, "area", "all").value == pytest.approx(650 / 900 * 100)
    # any: comprehensive or fitness -> everyone but d3 (1250 / inf) -> 800
    df = run(ind("b", "population_coverage", "%", ["comprehensive", "fitness"], 100,
                 threshold_min=15))
    assert row(df, "area", "all").value == pytest.approx(800 / 900 * 100)


def test_community_within_circle():
    df = run(ind("w", "community_within_circle", "%", ["comprehensive"], 100, "urban",
                 threshold_min=15))
    # U1: d0 (300) within, d1 (100) not -> 75% >= 50% reached; U2 100% reached; U3 0%
    u1 = row(df, "community", "U1")
    assert u1.value == 75 and u1.target == 50 and u1.met is True
    u3 = row(df, "community", "U3")
    assert u3.met is False and u3.gap == 50            # 50 more people to reach half of 100
    a = row(df, "area", "all")
    assert a.value == pytest.approx(200 / 3) and a.gap == 1
    # a stricter share: 80% -> U1 (75%) is no longer reached
    df = run(ind("w", "community_within_circle", "%", ["comprehensive"], 100, "urban",
                 threshold_min=15, min_covered_share=80))
    assert row(df, "area", "all").value == pytest.approx(100 / 3)


def test_township_has_facility_and_types():
    # facility_level any: every facility counts (the level rules: tests/test_indicators_levels.py)
    df = run(ind("t", "township_has_facility", "%", ["comprehensive"], 100, "township", facility_level="any"),
             ind("s", "township_has_facility", "%", ["elderly_care"], 80, "urban", facility_level="any"),
             ind("x", "township_has_facility", "%", ["commerce"], 30, "rural", facility_level="any"))
    t = df[df.indicator_id == "t"]
    assert row(t, "area", "all").value == 100
    assert row(t, "township", "T1").value == 2 and row(t, "township", "T2").value == 1
    s = df[df.indicator_id == "s"]                     # streets only: T1, no elderly care
    assert row(s, "area", "all").value == 0 and row(s, "area", "all").gap == 1
    assert set(s.unit_id) == {"all", "T1"}
    x = df[df.indicator_id == "x"]                     # F7 lies in no township: T2 has none
    assert row(x, "area", "all").value == 0 and set(x.unit_id) == {"all", "T2"}


def test_township_type_from_column_overrides_majority():
    c, f, d, k = study()
    c["township_type"] = ["rural"] * 6
    df = run(ind("s", "township_has_facility", "%", ["comprehensive"], 80, "rural", facility_level="any"),
             com=c)
    assert set(df.unit_id) == {"all", "T1", "T2"}


def test_township_within_circle():
    df = run(ind("tw", "township_within_circle", "%", ["commerce"], 100, threshold_min=15,
                 min_covered_share=40))
    # T1: d2 (200) + d3 (100) within 1200 m of commerce = 300 of 700 = 42.9% >= 40 reached;
    # T2: nobody -> 1 of 2 townships
    assert row(df, "township", "T1").value == pytest.approx(300 / 7)
    assert row(df, "township", "T2").value == 0
    a = row(df, "area", "all")
    assert a.value == 50 and (a.gap, a.gap_unit) == (1, "townships")


# ----------------------------------------------------------------------------- area kinds

INSIDE = ind("i", "area_per_100_households_inside", "m2/100hh", ["comprehensive"], 30)


def test_area_per_100_households_inside_per_community():
    df = run(INSIDE)
    assert row(df, "community", "U1", "per_100_households").value == 30    # 60 / 200 * 100
    assert row(df, "community", "U1", "per_100_households").met is True
    r1 = row(df, "community", "R1", "per_100_households")
    assert r1.value == 60                                                 # 30 / 50 * 100
    r3 = row(df, "community", "R3", "per_100_households")
    assert (r3.value, r3.met, r3.gap, r3.gap_unit) == (0, False, 12, "m2")  # 30 * 40 / 100
    r2 = row(df, "community", "R2", "per_100_households")                  # zero households
    assert r2.status == NM_NO_HH and np.isnan(r2.value) and r2.met is None
    u3 = row(df, "community", "U3", "per_100_households")
    assert u3.status == NM_HH
    u2 = row(df, "community", "U2", "per_100_households")                  # F2 area unknown
    assert u2.status.startswith("not measurable: area_m2 of 1 facilities") and u2.met is None


def test_area_per_100_households_inside_aggregates():
    df = run(INSIDE)
    # T2: R1 + R3 (R2 has no households): 30 m2 / 90 hh * 100 = 33.3 -> met
    t2 = row(df, "township", "T2", "per_100_households")
    assert t2.value == pytest.approx(100 / 3) and t2.met is True
    assert "no households left out" in t2.note
    # area: known 90 m2 / 390 hh = 23.1 < 30 but F2 unknown -> not measurable, bound in note
    a = row(df, "area", "all", "per_100_households")
    assert a.status.startswith("not measurable: area_m2") and np.isnan(a.value)
    assert ">= 23.1" in a.note
    # share of communities meeting 30: U1, R1 yes, R3 no (U2, U3, R2 not measurable) -> 2/3
    s = row(df, "area", "all", "share_met")
    assert s.value == pytest.approx(200 / 3) and s.gap == 1 and "3 not measurable" in s.note
    # with F2 = 40 m2 known: area = 130 / 390 * 100 = 33.3; T1 = 100 / 300 * 100 = 33.3
    c, f, d, k = study()
    f.loc[f.facility_id == "F2", "area_m2"] = 40
    df = run(INSIDE, fac=f)
    assert row(df, "area", "all", "per_100_households").value == pytest.approx(100 / 3)
    assert row(df, "township", "T1", "per_100_households").value == pytest.approx(100 / 3)
    assert row(df, "community", "U2", "per_100_households").value == 40


def test_unknown_area_is_a_lower_bound_when_known_area_already_meets():
    c, f, d, k = study()
    extra = pd.DataFrame({"facility_id": ["F8"], "category": ["comprehensive"], "area_m2": [35.0],
                          "community_id": ["U2"], "township": ["T1"]})
    df = run(INSIDE, fac=pd.concat([f, extra], ignore_index=True))
    u2 = row(df, "community", "U2", "per_100_households")
    # known 35 m2 / 100 hh = 35 >= 30 whatever F2 holds: met, with the bound said in the note
    assert u2.status == MEASURED and u2.value == 35 and u2.met is True
    assert "lower bound" in u2.note


def test_missing_households_field_makes_area_rows_not_measurable():
    c, f, d, k = study()
    c = c.drop(columns="households")
    df = run(INSIDE, ind("s", "area_per_100_households_2sfca", "m2/100hh", ["comprehensive"], 30,
                         threshold_min=15), com=c)
    assert (df.status == NM_HH).all(), df.status.unique()
    assert df.value.isna().all() and df.met.isna().all()
    # the coverage kinds do not need households
    df = run(ind("u", "community_has_facility", "%", ["comprehensive"], 100), com=c)
    assert (df.status == MEASURED).all()


def test_2sfca_two_facilities_sharing_households_by_hand():
    # A: 100 hh, points a1 (150 people) a2 (50); B: 50 hh, b1 (100); C: 0 hh, c1 (30)
    # households per point: a1 = 100*150/200 = 75, a2 = 25, b1 = 50, c1 = 0
    # G1 60 m2 reaches a1 (500 m), a2 (0 m, stored explicitly), b1 (1100 m);
    # G2 30 m2 reaches b1 (300 m), c1 (100 m), a2 at 1300 m is beyond 1200 m.
    # step 1: R1 = 60 / (75+25+50) = 0.4; R2 = 30 / (50 + 0) = 0.6
    # step 2: a1 = a2 = 40, b1 = 100 (0.4 + 0.6) * 100, c1 = 60
    # A = (150*40 + 50*40) / 200 = 40; B = 100; area = (75*40 + 25*40 + 50*100) / 150 = 60
    #   = total area 90 m2 / 150 households * 100 (all supply reaches someone)
    com = pd.DataFrame({"community_id": ["A", "B", "C"], "name": ["甲", "乙", "丙"],
                        "township": ["T"] * 3, "type": ["urban"] * 3,
                        "households": [100.0, 50.0, 0.0], "population": [200.0, 100.0, 30.0]})
    fac = pd.DataFrame({"facility_id": ["G1", "G2"], "category": ["comprehensive"] * 2,
                        "area_m2": [60.0, 30.0], "community_id": ["A", "B"], "township": ["T", "T"]})
    dem = pd.DataFrame({"community_id": ["A", "A", "B", "C"], "population": [150.0, 50, 100, 30],
                        "dist_comprehensive": [500, 0, 300, 100]})
    C = sparse.csr_array((np.array([500.0, 0.0, 1100.0, 1300.0, 300.0, 100.0]),
                          (np.array([0, 0, 0, 1, 1, 1]), np.array([0, 1, 2, 1, 2, 3]))),
                         shape=(2, 4))
    assert C.nnz == 6                                   # the 0-metre entry is stored
    s = ind("s", "area_per_100_households_2sfca", "m2/100hh", ["comprehensive"], 30,
            threshold_min=15)
    df = run(s, com=com, fac=fac, dem=dem, catch={"comprehensive": C})
    assert row(df, "community", "A", "per_100_households").value == pytest.approx(40)
    assert row(df, "community", "B", "per_100_households").value == pytest.approx(100)
    c = row(df, "community", "C", "per_100_households")
    assert c.status == NM_NO_HH and np.isnan(c.value)   # zero households: no division by zero
    a = row(df, "area", "all", "per_100_households")
    assert a.value == pytest.approx(60) and a.met is True
    assert row(df, "area", "all", "share_met").value == 100
    assert C.nnz == 6 and C.data[1] == 0.0              # the caller's matrix is untouched
    # dropping the explicit zero (a2 then reaches nothing) changes the answer: it is used
    C2 = C.copy()
    C2.eliminate_zeros()
    df2 = run(s, com=com, fac=fac, dem=dem, catch={"comprehensive": C2})
    # R1 = 60 / 125 = 0.48: a1 = 48, a2 = 0 -> A = (150*48) / 200 = 36
    assert row(df2, "community", "A", "per_100_households").value == pytest.approx(36)


def test_2sfca_on_the_study_area_with_unknowns():
    df = run(ind("s", "area_per_100_households_2sfca", "m2/100hh", ["comprehensive"], 30,
                 threshold_min=15))
    # households per point: d0 150, d1 50, d2 100, d4 50, d5 0 (R2 has 0), d3 unknown (U3)
    # within 1200 m: F1 -> d0, d2; F2 -> d0, d2; F3 -> d4 (d3 at 1250/1300 is out of reach)
    # F1: R = 60 / 250 = 0.24; F2 area unknown; F3: R = 30 / 50 = 0.6
    # U1 = (300*24 + 100*0) / 400 = 18 (+ F2 unknown); U2 = 24 (+ F2); R1 = 60
    u1 = row(df, "community", "U1", "per_100_households")
    assert u1.status.startswith("not measurable: area_m2 of 1 facilities") and ">= 18.0" in u1.note
    assert ">= 24.0" in row(df, "community", "U2", "per_100_households").note
    assert row(df, "community", "R1", "per_100_households").value == pytest.approx(60)
    assert row(df, "community", "R3", "per_100_households").status == NM_POP
    assert row(df, "community", "R2", "per_100_households").status == NM_NO_HH
    assert row(df, "community", "U3", "per_100_households").status == NM_HH
    # area: household-weighted (200*18 + 100*24 + 50*60) / 350 = 25.7, a bound (F2 unknown)
    assert ">= 25.7" in row(df, "area", "all", "per_100_households").note
    assert row(df, "township", "T2", "per_100_households").value == pytest.approx(60)
    # with F2 known (40 m2): F2 R = 40 / 250 = 0.16 -> U1 = 300*(24+16)/400 = 30, U2 = 40
    c, f, d, k = study()
    f.loc[f.facility_id == "F2", "area_m2"] = 40
    df = run(ind("s", "area_per_100_households_2sfca", "m2/100hh", ["comprehensive"], 30,
                 threshold_min=15), fac=f)
    assert row(df, "community", "U1", "per_100_households").value == pytest.approx(30)
    assert row(df, "community", "U1", "per_100_households").met is True
    assert row(df, "community", "U2", "per_100_households").value == pytest.approx(40)
    # T1 = (200*30 + 100*40) / 300 = 33.3 -> met
    assert row(df, "township", "T1", "per_100_households").value == pytest.approx(100 / 3)


def _dense_2sfca(area, dist, thr, hh_pt, pop_pt, com_of_pt, communities):
    """Independent loop implementation (for the cross-check only)."""
    nf, nd = dist.shape
    R = np.zeros(nf)
    for j in range(nf):
        demand = sum(hh_pt[k] for k in range(nd) if dist[j, k] <= thr)
        R[j] = area[j] / demand if demand > 0 else 0.0
    A = np.array([100 * sum(R[j] for j in range(nf) if dist[j, k] <= thr) for k in range(nd)])
    out = {}
    for c in communities:
        ks = [k for k in range(nd) if com_of_pt[k] == c]
        p = sum(pop_pt[k] for k in ks)
        out[c] = sum(pop_pt[k] * A[k] for k in ks) / p
    return out


def test_2sfca_matches_an_independent_loop_on_random_data():
    rng = np.random.default_rng(7)
    n_com, n_dem, n_fac = 8, 60, 12
    cids = [f"c{i}" for i in range(n_com)]
    com_of_pt = np.array([cids[i % n_com] for i in range(n_dem)])
    pop_pt = rng.integers(1, 50, n_dem).astype(float)
    hh = rng.integers(10, 300, n_com).astype(float)
    com = pd.DataFrame({"community_id": cids, "name": cids, "township": ["T"] * n_com,
                        "type": ["urban"] * n_com, "households": hh, "population": 0.0})
    popc = pd.Series(pop_pt).groupby(com_of_pt).sum()
    hh_pt = np.array([hh[cids.index(c)] * p / popc[c] for c, p in zip(com_of_pt, pop_pt)])
    dist = rng.uniform(0, 2500, (n_fac, n_dem))
    dist[rng.random((n_fac, n_dem)) < 0.3] = np.inf
    area = rng.uniform(20, 400, n_fac)
    fac = pd.DataFrame({"facility_id": [f"f{j}" for j in range(n_fac)], "category": "comprehensive",
                        "area_m2": area, "community_id": None, "township": None})
    dem = pd.DataFrame({"community_id": com_of_pt, "population": pop_pt,
                        "dist_comprehensive": dist.min(axis=0)})
    m = np.where(dist <= 2000, dist, np.inf)
    r, c = np.nonzero(np.isfinite(m))
    C = sparse.csr_array((m[r, c], (r, c)), shape=m.shape)
    df = run(ind("s", "area_per_100_households_2sfca", "m2/100hh", ["comprehensive"], 30,
                 threshold_min=15), com=com, fac=fac, dem=dem, catch={"comprehensive": C})
    want = _dense_2sfca(area, dist, 1200, hh_pt, pop_pt, com_of_pt, cids)
    for cid in cids:
        assert row(df, "community", cid, "per_100_households").value == pytest.approx(want[cid])


def test_facility_min_area():
    df = run(ind("m", "facility_min_area", "%", ["comprehensive"], 90, min_area_m2=50))
    # known areas: F1 60 (pass), F3 30 (fail); F2 unknown -> neither
    a = row(df, "area", "all")
    assert a.value == 50 and (a.gap, a.gap_unit) == (1, "facilities")
    assert "1 facilities with unknown area not counted" in a.note
    assert row(df, "township", "T1").value == 100      # F1 only (F2 unknown)
    assert row(df, "township", "T2").value == 0
    # all areas unknown -> not measurable, never 0 %
    c, f, d, k = study()
    f["area_m2"] = np.nan
    df = run(ind("m", "facility_min_area", "%", ["comprehensive"], 90, min_area_m2=50), fac=f)
    assert (df.status == NM_AREA).all()


def test_facility_level_for_township_centres():
    centre = ind("c", "facility_min_area", "%", ["comprehensive"], 100, min_area_m2=800,
                 facility_level="township")
    df = run(centre)                                    # no level column: cannot tell centres
    assert list(df.status) == [NM_LEVEL]
    c, f, d, k = study()
    f["level"] = ["township", "community", "township", None, None, None]
    df = run(centre, fac=f)
    # centres F1 (60) and F3 (30): none >= 800
    assert row(df, "area", "all").value == 0 and row(df, "area", "all").gap == 2
    station = ind("s", "facility_min_area", "%", ["comprehensive"], 90, min_area_m2=50,
                  facility_level="community")
    df = run(station, fac=f)                            # F2 only, area unknown
    assert row(df, "area", "all").status == NM_AREA


def test_per_capita_area():
    df = run(ind("p", "per_capita_area", "m2/person", ["fitness"], 2.5))
    # T1: F4 500 m2 / 700 people = 0.714; gap 2.5*700 - 500 = 1250 m2
    t1 = row(df, "township", "T1")
    assert t1.value == pytest.approx(500 / 700) and t1.gap == pytest.approx(1250)
    assert row(df, "township", "T2").status == NM_AREA          # F5 only, unknown
    assert row(df, "area", "all").status.startswith("not measurable: area_m2")
    c, f, d, k = study()
    f.loc[f.facility_id == "F5", "area_m2"] = 2000
    df = run(ind("p", "per_capita_area", "m2/person", ["fitness"], 2.5), fac=f)
    assert row(df, "area", "all").value == pytest.approx(2500 / 900)
    assert row(df, "area", "all").met is True


def test_comparison_at_most():
    df = run(ind("f", "population_coverage", "%", ["fitness"], 80, threshold_min=15,
                 comparison="<="))
    a = row(df, "area", "all")                          # 88.9 > 80: not met, 8.9% of 900 over
    assert a.met is False and a.gap == np.ceil(800 - 0.8 * 900)


# ----------------------------------------------------------------------------- properties

COVERAGE_INDS = [
    ind("hc", "community_has_facility", "%", ["fitness"], 100),
    ind("cw", "community_within_circle", "%", ["fitness"], 100, threshold_min=10),
    ind("pc", "population_coverage", "%", ["fitness"], 100, threshold_min=10),
    ind("th", "township_has_facility", "%", ["fitness"], 100, "township", facility_level="any"),
    ind("tw", "township_within_circle", "%", ["fitness"], 100, threshold_min=10),
]


@pytest.mark.parametrize("seed", range(6))
def test_adding_a_facility_never_lowers_coverage(seed):
    rng = np.random.default_rng(seed)
    c, f, d, k = study()
    before = run(*COVERAGE_INDS)
    where = rng.choice(c.community_id)
    new = pd.DataFrame({"facility_id": ["NEW"], "category": ["fitness"],
                        "area_m2": [rng.uniform(50, 500)], "community_id": [where],
                        "township": [c.set_index("community_id").township[where]]})
    new_dist = rng.uniform(0, 1500, len(d))
    new_dist[rng.random(len(d)) < 0.4] = np.inf
    d2 = d.copy()
    d2["dist_fitness"] = np.minimum(d["dist_fitness"], new_dist)
    after = run(*COVERAGE_INDS, fac=pd.concat([f, new], ignore_index=True), dem=d2)
    key = ["indicator_id", "level", "unit_id", "measure"]
    m = before.merge(after, on=key, suffixes=("_b", "_a"))
    assert len(m) == len(before) == len(after)
    ok = m.status_b == MEASURED
    assert (m.value_a[ok] >= m.value_b[ok] - 1e-9).all()


def test_inputs_are_not_modified():
    c, f, d, k = study()
    c0, f0, d0 = c.copy(), f.copy(), d.copy()
    k0 = {key: v.copy() for key, v in k.items()}
    for pid in list_profiles():
        evaluate(load_profile(pid), c, f, d, k, SPEED)
    pd.testing.assert_frame_equal(c, c0)
    pd.testing.assert_frame_equal(f, f0)
    pd.testing.assert_frame_equal(d, d0)
    for key in k:
        assert (k[key] != k0[key]).nnz == 0 and k[key].nnz == k0[key].nnz


@pytest.mark.parametrize("pid", ["national_14th", "diqing_14th", "yunnan_13th", "leshan_13th",
                                 "guangdong_13th"])
def test_packaged_profiles_give_honest_rows(pid):
    c, f, d, k = study()
    df = evaluate(load_profile(pid), c, f, d, k, SPEED)
    assert set(df.level) <= {"area", "township", "community"}
    measured = df.status == MEASURED
    assert df.status[~measured].str.startswith("not measurable: ").all()
    assert np.isfinite(df.value[measured].astype(float)).all()
    assert df.value[~measured].isna().all() and df.met[~measured].isna().all()
    assert df.met[measured].map(lambda v: isinstance(v, bool)).all()
    assert (df.gap[measured] >= 0).all()
    # every indicator has an area row
    assert set(df[df.level == "area"].indicator_id) == set(df.indicator_id)
    again = evaluate(load_profile(pid), c, f, d, k, SPEED)            # deterministic
    pd.testing.assert_frame_equal(df, again)


def test_bad_community_type_is_named():
    c, f, d, k = study()
    c.loc[0, "type"] = "town"
    with pytest.raises(InputError, match="urban' or 'rural") as ei:
        run(INSIDE, com=c)
    assert ei.value.field == "type" and "U1" in str(ei.value)


def test_demand_without_distance_column_is_not_measurable():
    c, f, d, k = study()
    df = run(ind("f", "population_coverage", "%", ["fitness"], 100, threshold_min=15),
             dem=d.drop(columns="dist_fitness"))
    assert list(df.status) == ["not measurable: dist_fitness (demand)"]


# ----------------------------------------------------------------------------- Markdown

def test_markdown_table():
    df = run(ind("u", "community_has_facility", "%", ["comprehensive"], 100, "urban"),
             ind("t", "township_has_facility", "%", ["comprehensive"], 100, "township",
                 facility_level="any"),
             INSIDE)
    md = to_markdown(df)
    lines = md.strip().splitlines()
    assert lines[0].startswith("| 指标 Indicator |") and "达标 Met" in lines[0]
    assert len(lines) == 2 + len(df[df.level == "area"])
    assert "指标u<br>indicator u" in md and "66.7%" in md and "✗" in md and "✓" in md
    assert "1个社区 / 1 communities" in md
    assert "—" in md and "not measurable" in md          # the unknown-area ratio
    zh = to_markdown(df, level="township", lang="zh")
    assert "indicator u" not in zh and "| T1 |" in zh and "不低于30平方米/百户" in zh
    en = to_markdown(df, level="community", lang="en")
    assert "指标" not in en.splitlines()[0] and "城三" in en
    with pytest.raises(ValueError):
        to_markdown(df, lang="fr")


def test_markdown_chinese_only_planner_wording():
    df = run(ind("u", "community_has_facility", "%", ["comprehensive"], 100, "urban"),
             ind("t", "township_has_facility", "%", ["comprehensive"], 100, "township",
                 facility_level="any"),
             ind("f", "population_coverage", "%", ["fitness"], 80, threshold_min=15), INSIDE)
    zh = to_markdown(df, lang="zh")
    words = re.sub(r"[a-z_]+(\.[a-z_]+)+", "", zh).replace("| test |", "|")  # config keys, clause
    assert not re.search(r"[A-Za-z]{3,}", words), zh                      # no English words
    assert "全覆盖" in zh and "不低于80%" in zh and "不低于30平方米/百户" in zh
    assert "100%" in zh and "100.0%" not in zh and "66.7%" in zh        # one number format
    assert "已达标" in zh and "1个社区" in zh                             # gap 0 -> 已达标
    assert "人口覆盖率" in zh and "社区覆盖率" in zh and "街道（乡镇）覆盖率" in zh
    assert "无法测算" in zh and "3个城市社区中2个建有" in zh
    tw = to_markdown(df, level="township", lang="zh")
    assert "个街道（乡镇）" in to_markdown(
        run(ind("t", "township_has_facility", "%", ["elderly_care"], 100, "township",
                facility_level="any")), lang="zh")
    assert "| T1 |" in tw
    en = to_markdown(df, lang="en")
    assert not re.search(r"[\u4e00-\u9fff]", en.replace("指标", "")), en
    assert "100% (full coverage)" in en and "≥ 30 m²/100 households" in en


def test_community_order_and_table_indexes_do_not_matter():
    c, f, d, k = study()
    base = run(INSIDE, ind("f", "population_coverage", "%", ["fitness"], 100, threshold_min=15))
    c2 = c.sample(frac=1, random_state=3).set_index(pd.Index([10, 30, 20, 50, 40, 60]))
    f2 = f.set_index(pd.Index(list("abcdef")))
    d2 = d.set_index(pd.Index(np.arange(len(d)) * 7 + 5))
    other = run(INSIDE, ind("f", "population_coverage", "%", ["fitness"], 100, threshold_min=15),
                com=c2, fac=f2, dem=d2)
    pd.testing.assert_frame_equal(base, other)
