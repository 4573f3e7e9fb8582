"""Siting model classes: constructors agree with the function API, hand-computed optima,
existing facilities, exact vs greedy, greedy within its bound, spopt cross-check."""

from __future__ import annotations

import itertools
import math
import os

import geopandas as gpd
import numpy as np
import pytest
import scipy.sparse as sp
import shapely

from coverage.analysis import siting
from coverage.analysis.siting import (
    MaxCoverage, MinSitesForTarget, PMedian, max_coverage, min_sites_for_target, p_median,
)
from coverage.analysis.siting.greedy import ONE_MINUS_INV_E
from coverage.errors import InputError

INF = np.inf
# Hand instance: 4 candidates × 5 demand, service radius 500 m (inclusive).
#   c0 covers {0, 1}        (600 m to demand 3 is beyond)        = 10 + 20       = 30
#   c1 covers {1, 2, 3}     (500 m to demand 3 counts)           = 20 + 30 + 40  = 90
#   c2 covers {3, 4}        (0 m to demand 4: it stands on it)   = 40 + 55       = 95
#   c3 covers {0, 4}                                             = 10 + 55       = 65
W = np.array([10.0, 20.0, 30.0, 40.0, 55.0])  # total 155
COST = np.array([
    [100.0, 200.0, INF, 600.0, INF],
    [INF, 400.0, 300.0, 500.0, INF],
    [INF, INF, INF, 450.0, 0.0],
    [350.0, INF, INF, INF, 499.0],
])
R = 500.0


def cover_of(cost, r):
    """Reference sparse cover: finite entries ≤ r, explicit zeros kept."""
    m = np.isfinite(cost) & (cost <= r)
    rows, cols = np.nonzero(m)
    return sp.csr_array((cost[rows, cols], (rows, cols)), shape=cost.shape)


def sparse_cost(cost):
    """The same cost as a sparse matrix: inf entries absent (a stored 0 stays a distance 0)."""
    rows, cols = np.nonzero(np.isfinite(cost))
    return sp.coo_array((cost[rows, cols], (rows, cols)), shape=cost.shape)


def random_cost(seed, n_c=10, n_d=60, reach=0.15):
    rng = np.random.default_rng(seed)
    cost = rng.random((n_c, n_d)) * 1000.0
    cost[rng.random((n_c, n_d)) > 2 * reach] = INF     # some pairs have no path at all
    w = rng.integers(0, 30, n_d).astype(float) + rng.random(n_d).round(2)
    return cost, w, 1000.0 * reach


def coverage_of(cover, w, sites, already=None):
    pat = np.zeros(cover.shape, dtype=bool)
    c = sp.csr_array(cover)
    pat[np.repeat(np.arange(c.shape[0]), np.diff(c.indptr)), c.indices] = True
    hit = pat[list(sites)].any(axis=0) if len(sites) else np.zeros(cover.shape[1], bool)
    if already is not None:
        hit = hit & ~already
    return float(w[hit].sum())


# ---------------------------------------------------------------------------- max coverage
def test_max_coverage_by_hand_dense_and_sparse():
    # k = 2, by enumerating the 6 pairs: {0,1} 100, {0,2} 125, {0,3} 85, {1,2} 145,
    # {1,3} 155 (everybody), {2,3} 105 -> optimum {1, 3} = 155.
    # Greedy takes c2 (95), then gains c0 30, c1 50, c3 10 -> c1: 145 (a greedy trap).
    # Data bound: S0 0 + 95 + 90 = 185; S1 95 + 50 + 30 = 175; S2 145 + 10 + 10 = 165 -> 165
    # (the classic bound 145 / (1 - 1/e) = 229.4 is weaker).
    for cost in (COST, sparse_cost(COST)):
        m = MaxCoverage.from_cost_matrix(cost, W, R, 2)
        e = m.solve("exact")
        assert m.result is e
        assert sorted(e.selected.tolist()) == [1, 3] and e.objective == 155.0
        assert e.status == "optimal" and e.covered_after == 155.0
        g = m.solve("greedy")
        assert g.selected.tolist() == [2, 1] and g.added.tolist() == [95.0, 50.0]
        assert g.bound == pytest.approx(165.0)
        assert e.objective >= g.objective and e.objective <= g.bound
        # k = 1: c2 alone (95) is the unique best
        assert MaxCoverage.from_cost_matrix(cost, W, R, 1).solve("exact").selected.tolist() == [2]


def test_max_coverage_sparse_entries_beyond_radius_are_dropped():
    cost = sparse_cost(COST)  # stores 600 m for c0 -> demand 3, beyond the 500 m radius
    m = MaxCoverage.from_cost_matrix(cost, W, R, 1)
    assert m.cover.nnz == cover_of(COST, R).nnz == 9
    assert (sp.csr_array(m.cover) != cover_of(COST, R)).nnz == 0


def test_max_coverage_existing_site_by_hand():
    # c2 already built: demand 3, 4 (95) covered before. New gains: c0 30, c1 50, c3 10 -> c1.
    for method in ("greedy", "exact"):
        r = MaxCoverage.from_cost_matrix(COST, W, R, 1, existing=[2]).solve(method)
        assert r.selected.tolist() == [1] and r.objective == 50.0
        assert r.covered_before == 95.0 and r.covered_after == 145.0
        assert r.existing.tolist() == [2]
        # the same as telling the function API which demand is already covered
        f = max_coverage(cover_of(COST, R), W, 1,
                         already_covered=np.array([0, 0, 0, 1, 1], bool), method=method)
        assert f.selected.tolist() == r.selected.tolist() and f.objective == r.objective


@pytest.mark.parametrize("seed", range(6))
def test_max_coverage_classes_match_function_api(seed):
    cost, w, r = random_cost(seed)
    cover = cover_of(cost, r)
    already = np.random.default_rng(50 + seed).random(w.size) < 0.2
    for k in (1, 3):
        for method in ("greedy", "exact", "auto"):
            f = max_coverage(cover, w, k, already_covered=already, method=method)
            for c in (cost, sparse_cost(cost)):
                m = MaxCoverage.from_cost_matrix(c, w, r, k, already_covered=already).solve(method)
                assert m.selected.tolist() == f.selected.tolist()
                assert m.objective == f.objective and m.bound == f.bound


@pytest.mark.parametrize("seed", range(6))
def test_max_coverage_exact_beats_greedy_and_greedy_within_bound(seed):
    cost, w, r = random_cost(seed, n_c=9, n_d=50)
    cover = cover_of(cost, r)
    existing = [seed % 9]
    for k in (1, 2, 3):
        best = max(coverage_of(cover, w, set(c) | set(existing)) for c in
                   itertools.combinations(range(9), k)) - coverage_of(cover, w, existing)
        model = MaxCoverage.from_cost_matrix(cost, w, r, k, existing=existing)
        e, g = model.solve("exact"), model.solve("greedy")
        assert e.objective == pytest.approx(best, rel=1e-9)
        assert e.objective >= g.objective - 1e-9
        assert g.objective - 1e-9 <= best <= g.bound + 1e-6
        assert g.objective >= ONE_MINUS_INV_E * g.bound - 1e-9
        assert existing[0] not in e.selected.tolist() + g.selected.tolist()


def test_auto_is_decided_by_the_time_limit_not_a_size_rule():
    m = MaxCoverage.from_cost_matrix(COST, W, R, 2)
    a = m.solve("auto")
    assert a.method == "exact" and a.status == "optimal" and a.gap == 0.0
    assert not hasattr(siting, "auto_uses_exact") and not hasattr(siting, "AUTO_MAX_CANDIDATES")
    # no time at all: greedy is kept, with its own proven bound and gap
    g = m.solve("auto", time_limit=0.0)
    assert g.method == "greedy" and "greedy kept" in g.status
    assert g.bound >= a.objective - 1e-9 and g.gap == pytest.approx((g.bound - g.objective) / g.bound)


# ---------------------------------------------------------------------------- fewest sites
def test_min_sites_by_hand():
    # Everybody (target 1.0): demand 2 is reached only by c1, so c1 is needed; c1 leaves {0, 4},
    # which c3 alone covers -> {1, 3}, 2 sites (no single site covers all five).
    # Greedy: c2 (95), c1 (+50), then c0 or c3 for demand 0 -> 3 sites.
    m = MinSitesForTarget.from_cost_matrix(COST, W, R, 1.0)
    e, g = m.solve("exact"), m.solve("greedy")
    assert e.objective == 2 and sorted(e.selected.tolist()) == [1, 3] and e.feasible
    assert g.objective == 3 and g.bound <= e.objective <= g.objective
    # 60% of 155 = 93: c2 alone (95) -> 1 site
    assert MinSitesForTarget.from_cost_matrix(COST, W, R, 0.6).solve("exact").selected.tolist() \
        == [2]
    # urban = demand {0,1,2} at 100%: c1 covers 1, 2; demand 0 needs c0 or c3 -> 2 sites
    groups = np.array(["urban"] * 3 + ["rural"] * 2)
    u = MinSitesForTarget.from_cost_matrix(COST, W, R, groups=groups,
                                           group_targets={"urban": 1.0}).solve("exact")
    assert u.objective == 2 and 1 in u.selected.tolist() and u.group_rates["urban"] == 1.0
    # c2 already built (demand 3, 4: 95 covered): 100% still needs c1 (demand 2, also 1) and
    # c0 or c3 for demand 0 -> 2 new sites, {0, 1} or {1, 3}, never c2
    x = MinSitesForTarget.from_cost_matrix(COST, W, R, 1.0, existing=[2]).solve("exact")
    assert x.objective == 2 and sorted(x.selected.tolist()) in ([0, 1], [1, 3])
    assert x.covered_before == 95.0 and x.covered_after == 155.0


@pytest.mark.parametrize("seed", range(4))
def test_min_sites_classes_match_function_api_and_exact_beats_greedy(seed):
    cost, w, r = random_cost(seed, n_c=9, n_d=50, reach=0.2)
    cover = cover_of(cost, r)
    groups = np.where(np.arange(w.size) % 3 == 0, "rural", "urban")
    for kw in (dict(target=0.7), dict(groups=groups, group_targets={"rural": 0.6})):
        ex = min_sites_for_target(cover, w, method="exact", **kw)
        gr = min_sites_for_target(cover, w, method="greedy", **kw)
        t = kw.pop("target", None)
        m = MinSitesForTarget.from_cost_matrix(sparse_cost(cost), w, r, t, **kw)
        for f, c in ((ex, m.solve("exact")), (gr, m.solve("greedy"))):
            assert c.selected.tolist() == f.selected.tolist() and c.objective == f.objective
        assert ex.objective <= gr.objective and gr.bound <= ex.objective


# ---------------------------------------------------------------------------- p-median
# On a line: demand at 0 (w1), 1 (w3), 10 (w2), 11 (w1); candidates at 0, 1, 10, 11, 5; cutoff 6.
DPOS, CPOS = np.array([0.0, 1.0, 10.0, 11.0]), np.array([0.0, 1.0, 10.0, 11.0, 5.0])
PW = np.array([1.0, 3.0, 2.0, 1.0])
PCOST = np.abs(CPOS[:, None] - DPOS[None, :])


def test_p_median_existing_by_hand():
    # Site 0 (at 0) already exists and reaches demand 0 (0 m) and 1 (1 m), not 10 or 11.
    # One new site must serve 10 and 11: at 10 -> 2*0 + 1*1 = 1; at 11 -> 2*1 = 2; at 5 -> 2*5 +
    # 1*6 = 16 (and 1 gains nothing there); at 1 reaches neither. Plus 1*0 + 3*1 = 3 at site 0:
    # optimum {0, 2}, objective 4 (without the existing site it is {1, 2} with 2).
    for method in ("exact", "greedy", "auto"):
        r = PMedian.from_cost_matrix(PCOST, PW, 6.0, 1, existing=[0]).solve(method)
        assert sorted(r.selected.tolist()) == [0, 2] and r.new.tolist() == [2]
        assert r.objective == pytest.approx(4.0) and r.assignment.tolist() == [0, 0, 2, 2]
        assert r.existing.tolist() == [0]
    assert sorted(PMedian.from_cost_matrix(PCOST, PW, 6.0, 2).solve().selected.tolist()) == [1, 2]
    # existing sites come in addition to p: p = 2 with site 0 kept opens 3
    # ({0, 1, 2}: 1*0 + 3*0 + 2*0 + 1*1 = 1, the best for two new sites beside 0)
    r3 = PMedian.from_cost_matrix(PCOST, PW, 6.0, 2, existing=[0]).solve()
    assert sorted(r3.selected.tolist()) == [0, 1, 2] and r3.objective == pytest.approx(1.0)
    # p = 0: only the existing site; 10 and 11 are out of its reach -> penalty 100 each person
    z = PMedian.from_cost_matrix(PCOST, PW, 6.0, 0, existing=[0], unassigned_penalty_m=100.0)
    rz = z.solve()
    assert rz.selected.tolist() == [0] and rz.unassigned.tolist() == [2, 3]
    assert rz.objective == pytest.approx(3.0 + 300.0)
    assert PMedian.from_cost_matrix(PCOST, PW, 6.0, 0, existing=[0]).solve().status == "infeasible"


@pytest.mark.parametrize("seed", range(5))
def test_p_median_existing_never_dropped_brute_force(seed):
    rng = np.random.default_rng(seed)
    cost = rng.random((8, 35)) * 1000
    w = rng.integers(1, 10, 35).astype(float)
    cut, pen = 450.0, 900.0
    existing = sorted(rng.choice(8, 2, replace=False).tolist())
    full = np.where(cost <= cut, cost, np.inf)
    reach = np.isfinite(full).any(axis=0)
    others = [i for i in range(8) if i not in existing]
    best = min(
        float(np.where(np.isfinite(m := full[existing + list(c)].min(axis=0)), w * m,
                       w * pen)[reach].sum())
        for c in itertools.combinations(others, 2))
    model = PMedian.from_cost_matrix(cost, w, cut, 2, existing=existing, unassigned_penalty_m=pen)
    e, g = model.solve("exact"), model.solve("greedy")
    assert e.objective == pytest.approx(best, rel=1e-7)
    assert e.objective <= g.objective + 1e-9
    for r in (e, g):
        assert set(existing) <= set(r.selected.tolist()) and len(r.new) <= 2
    f = p_median(cover_of(cost, cut), w, 2, unassigned_penalty_m=pen)  # no existing: free choice
    m = PMedian.from_cost_matrix(sparse_cost(cost), w, cut, 2, unassigned_penalty_m=pen).solve()
    assert m.selected.tolist() == f.selected.tolist() and m.objective == f.objective


# ---------------------------------------------------------------------------- GeoDataFrames
CRS = "EPSG:32650"  # UTM 50N, metres


def _points(seed, n, extent=2000.0):
    rng = np.random.default_rng(seed)
    xy = rng.random((n, 2)) * extent + np.array([500_000.0, 3_500_000.0])
    return xy


def test_from_geodataframe_matches_cost_matrix_for_all_models():
    dxy, cxy = _points(1, 60), _points(2, 9)
    w = np.random.default_rng(3).integers(1, 40, 60).astype(float)
    dem = gpd.GeoDataFrame({"pop": w, "kind": np.where(np.arange(60) < 20, "rural", "urban")},
                           geometry=gpd.points_from_xy(dxy[:, 0], dxy[:, 1]), crs=CRS)
    cand = gpd.GeoDataFrame({"built": np.arange(9) == 4},
                            geometry=gpd.points_from_xy(cxy[:, 0], cxy[:, 1]), crs=CRS)
    cost = np.hypot(*(cxy[:, None, :] - dxy[None, :, :]).transpose(2, 0, 1))
    r = 600.0
    g = MaxCoverage.from_geodataframe(dem, cand, "pop", r, 3)
    assert g.cover.nnz == cover_of(cost, r).nnz
    assert np.allclose(sp.csr_array(g.cover).toarray(), cover_of(cost, r).toarray())
    for method in ("greedy", "exact"):
        a = g.solve(method)
        b = max_coverage(cover_of(cost, r), w, 3, method=method)
        assert a.selected.tolist() == b.selected.tolist() and a.objective == pytest.approx(b.objective)
    ge = MaxCoverage.from_geodataframe(dem, cand, "pop", r, 2, existing="built").solve("exact")
    ce = MaxCoverage.from_cost_matrix(cost, w, r, 2, existing=[4]).solve("exact")
    assert ge.selected.tolist() == ce.selected.tolist() and ge.existing.tolist() == [4]
    gm = MinSitesForTarget.from_geodataframe(dem, cand, "pop", r, groups="kind",
                                             group_targets={"rural": 0.5}).solve("exact")
    cm = min_sites_for_target(cover_of(cost, r), w, groups=dem["kind"].to_numpy(),
                              group_targets={"rural": 0.5}, method="exact")
    assert gm.selected.tolist() == cm.selected.tolist() and gm.group_rates == cm.group_rates
    gp = PMedian.from_geodataframe(dem, cand, "pop", 900.0, 3, unassigned_penalty_m=2000.0,
                                   existing="built").solve()
    cp = PMedian.from_cost_matrix(cost, w, 900.0, 3, unassigned_penalty_m=2000.0,
                                  existing=[4]).solve()
    assert gp.selected.tolist() == cp.selected.tolist()
    assert gp.objective == pytest.approx(cp.objective) and 4 in gp.selected.tolist()


def test_from_geodataframe_polygons_use_nearest_points():
    # demand blocks, 100 m squares. Candidate 0 at (90, 50) is inside block 0 (0 m), 160 m from
    # block 1 (its left edge is x = 250), 350 m from block 2; candidate 1 at (300, 50) is inside
    # block 1 and 200 m from block 0. Radius 160 m: candidate 0 reaches blocks 0, 1 (5 + 7 = 12).
    blocks = [shapely.box(0, 0, 100, 100), shapely.box(250, 0, 350, 100),
              shapely.box(0, 400, 100, 500)]
    dem = gpd.GeoDataFrame({"pop": [5.0, 7.0, 2.0]}, geometry=blocks, crs=CRS)
    cand = gpd.GeoDataFrame(geometry=[shapely.Point(90, 50), shapely.Point(300, 50)], crs=CRS)
    m = MaxCoverage.from_geodataframe(dem, cand, "pop", 160.0, 1)
    c = sp.coo_array(m.cover)
    assert sorted(zip(c.row.tolist(), c.col.tolist(), c.data.tolist())) == \
        [(0, 0, 0.0), (0, 1, 160.0), (1, 1, 0.0)]  # explicit 0 m kept: a point inside a block
    assert m.solve("exact").selected.tolist() == [0] and m.solve().objective == 12.0


def test_from_geodataframe_refuses_bad_crs_and_distance():
    p = gpd.GeoDataFrame({"pop": [1.0]}, geometry=[shapely.Point(0, 0)], crs=CRS)
    with pytest.raises(InputError) as e:
        MaxCoverage.from_geodataframe(p.to_crs("EPSG:4326"), p.to_crs("EPSG:4326"), "pop", 500, 1)
    assert e.value.field == "crs" and "geographic" in str(e.value)
    with pytest.raises(InputError, match="different CRS"):
        MaxCoverage.from_geodataframe(p, p.to_crs("EPSG:32651"), "pop", 500, 1)
    with pytest.raises(InputError) as e:
        MaxCoverage.from_geodataframe(p, p, "pop", 500, 1, distance="network")
    assert e.value.field == "distance" and "from_cost_matrix" in e.value.fix
    with pytest.raises(InputError) as e:
        MaxCoverage.from_geodataframe(p, p, "people", 500, 1)
    assert e.value.field == "weight_col"


def test_bad_model_input():
    with pytest.raises(InputError) as e:
        MaxCoverage.from_cost_matrix(np.where(np.isinf(COST), np.nan, COST), W, R, 1)
    assert e.value.field == "cost"
    with pytest.raises(InputError) as e:
        MaxCoverage.from_cost_matrix(COST, W, -1, 1)
    assert e.value.field == "service_radius"
    with pytest.raises(InputError) as e:
        MaxCoverage.from_cost_matrix(COST, W, R, 1, existing=[7])
    assert e.value.field == "existing"
    with pytest.raises(InputError) as e:
        PMedian.from_cost_matrix(PCOST, PW, 6.0, 0)  # p = 0 only makes sense beside existing sites
    assert e.value.field == "p"
    with pytest.raises(InputError) as e:
        MaxCoverage.from_cost_matrix(COST, W, R, 1).solve("fast")
    assert e.value.field == "method"


# ---------------------------------------------------------------------------- spopt cross-check
def test_max_coverage_class_reproduces_spopt_on_its_sf_data():
    spopt = pytest.importorskip("spopt")
    pd = pytest.importorskip("pandas")
    d = os.path.join(os.path.dirname(spopt.__file__), "tests", "test_locate", "data")
    path = os.path.join(d, "SF_network_distance_candidateStore_16_censusTract_205_new.csv")
    if not os.path.exists(path):
        pytest.skip("spopt test data not shipped")
    piv = pd.read_csv(path).pivot_table(values="distance", index="DestinationName", columns="name")
    cost = piv.to_numpy()  # demand × stores, spopt's orientation
    dem = pd.read_csv(os.path.join(d, "SF_demand_205_centroid_uniform_weight.csv"))
    ai = dem.sort_values(by=["NAME"]).reset_index()["POP2000"].to_numpy()
    r = MaxCoverage.from_cost_matrix(cost.T, ai, 5000.0, 4).solve("exact")
    f = max_coverage(cover_of(cost.T, 5000.0), ai, 4, method="exact")
    assert r.selected.tolist() == f.selected.tolist() and r.objective == f.objective
    # the optimum by brute force over all C(16, 4) = 1820 site sets
    inside = cost.T <= 5000.0
    best = max(ai[inside[list(c)].any(axis=0)].sum() for c in itertools.combinations(range(16), 4))
    assert r.objective == pytest.approx(best) and math.isclose(r.objective, r.covered_after)


def test_fractional_lp_goes_on_to_the_integer_programme():
    # the LP relaxation of this instance (k = 2) is 28.5 with fractional sites; the best pair covers
    # 26 (sites 1 and 3, or 3 and 5): the exact answer comes from the integer programme, with the
    # bound proven down to the optimum
    pattern = np.array([[0, 1, 0, 0, 1, 0, 0, 0], [0, 1, 1, 0, 1, 0, 0, 1], [0, 0, 1, 1, 1, 0, 0, 0],
                        [0, 0, 0, 1, 0, 0, 1, 0], [0, 1, 0, 0, 0, 1, 0, 0], [0, 0, 1, 0, 1, 1, 1, 1]])
    w = np.array([1.0, 6.0, 1.0, 5.0, 6.0, 7.0, 1.0, 5.0])
    cover = sp.csr_array(pattern * 100.0)
    best = max(w[pattern[list(c)].any(axis=0).astype(bool)].sum()
               for c in itertools.combinations(range(6), 2))
    assert best == 26.0
    for method in ("auto", "exact"):
        r = MaxCoverage(cover, w, 2).solve(method)
        assert r.method == "exact" and r.status == "optimal"
        assert r.objective == pytest.approx(26.0) and r.bound == pytest.approx(26.0) and r.gap == 0.0
    g = MaxCoverage(cover, w, 2).solve("greedy")
    assert g.objective <= 26.0 + 1e-9
