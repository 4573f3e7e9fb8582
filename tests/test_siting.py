"""Siting solvers: hand-computed optima, brute force, spopt's own MCLP test data, properties."""

from __future__ import annotations

import itertools
import math
import os

import numpy as np
import pytest
import scipy.sparse as sp
import shapely

from coverage.errors import InputError
from coverage.analysis.siting import (
    capacity_report, candidates_from_nodes, max_coverage, min_sites_for_target, p_median,
)
from coverage.analysis.siting.greedy import ONE_MINUS_INV_E


def sets_to_cover(sets, n_demand, dist=None):
    """Sparse cover matrix from a list of demand-index sets (distance 100 m unless given)."""
    rows = [i for i, s in enumerate(sets) for _ in s]
    cols = [j for s in sets for j in s]
    data = [100.0] * len(cols) if dist is None else dist
    return sp.csr_array((np.asarray(data, float), (rows, cols)), shape=(len(sets), n_demand))


# Greedy trap, worked by hand: six people, weight 1 each.
#   site 0 covers {1,2,3,4} (4), site 1 covers {0,1,2} (3), site 2 covers {3,4,5} (3),
#   site 3 reaches nobody (unreachable: no stored entries).
# k = 2: optimum {1, 2} covers 6; greedy takes 0 (4) then 1 (adds 1; ties with 2 -> lowest index) = 5.
# Greedy's data bound: S0: 4+3 = 7; S1: 4 + (1+1) = 6; S2: 5 + 1 = 6 -> bound 6.
TRAP = sets_to_cover([{1, 2, 3, 4}, {0, 1, 2}, {3, 4, 5}, set()], 6)
ONES = np.ones(6)


def brute_force_max(cover, w, k, already=None):
    pat = (sp.csr_array(cover) != 0).toarray() | _explicit(cover)
    w = np.where(already, 0.0, w) if already is not None else w
    best = 0.0
    for combo in itertools.combinations(range(pat.shape[0]), k):
        best = max(best, float(w[pat[list(combo)].any(axis=0)].sum()) if combo else 0.0)
    return best


def _explicit(cover):
    c = sp.csr_array(cover)
    out = np.zeros(c.shape, dtype=bool)
    out[np.repeat(np.arange(c.shape[0]), np.diff(c.indptr)), c.indices] = True
    return out


def random_instance(seed, n_c=10, n_d=60, density=0.15):
    rng = np.random.default_rng(seed)
    d = rng.random((n_c, n_d))
    mask = d < density
    cover = sp.csr_array((d[mask] * 1000, np.nonzero(mask)), shape=(n_c, n_d))
    w = rng.integers(0, 30, n_d).astype(float) + rng.random(n_d).round(2)
    return cover, w


# ---------------------------------------------------------------------------- max coverage
def test_greedy_trap_by_hand():
    g = max_coverage(TRAP, ONES, 2, method="greedy")
    assert g.selected.tolist() == [0, 1]
    assert g.added.tolist() == [4.0, 1.0]
    assert g.objective == 5.0
    assert g.bound == pytest.approx(6.0)
    assert g.cumulative_rate.tolist() == pytest.approx([4 / 6, 5 / 6])
    e = max_coverage(TRAP, ONES, 2, method="exact")
    assert sorted(e.selected.tolist()) == [1, 2]
    assert e.objective == 6.0 and e.status == "optimal"
    assert e.covered_after == 6.0 and e.cumulative_rate[-1] == pytest.approx(1.0)


def test_unreachable_candidate_never_chosen():
    for method in ("greedy", "exact"):
        r = max_coverage(TRAP, ONES, 4, method=method)
        assert 3 not in r.selected.tolist()
        assert r.objective == 6.0
        assert len(r.selected) <= 3  # site 3 adds nobody, so fewer than k sites come back


def test_already_covered_gives_no_credit():
    # demand 1..4 already covered: site 0 is worth nothing now; sites 1 and 2 add 1 each.
    already = np.array([False, True, True, True, True, False])
    for method in ("greedy", "exact"):
        r = max_coverage(TRAP, ONES, 1, already_covered=already, method=method)
        assert r.selected.tolist() == [1]  # tie 1 vs 2 -> lowest index
        assert r.objective == 1.0
        assert r.covered_before == 4.0 and r.covered_after == 5.0
        r2 = max_coverage(TRAP, ONES, 3, already_covered=already, method=method)
        assert 0 not in r2.selected.tolist() and r2.objective == 2.0


def test_explicit_zero_distance_counts_as_covered():
    # site 0 stores an explicit 0 m for demand 0 (the site stands on it).
    cover = sp.csr_array((np.array([0.0, 300.0, 200.0]), np.array([0, 1, 2]),
                          np.array([0, 2, 3])), shape=(2, 3))
    w = np.array([5.0, 1.0, 4.0])
    for method in ("greedy", "exact"):
        r = max_coverage(cover, w, 1, method=method)
        assert r.selected.tolist() == [0] and r.objective == 6.0


def test_ties_go_to_lowest_index():
    cover = sets_to_cover([{0}, {1, 2}, {1, 2}, {3}], 4)
    w = np.array([2.0, 1.0, 1.0, 2.0])
    for method in ("greedy", "exact"):
        assert max_coverage(cover, w, 1, method=method).selected.tolist() == [0]
        r = max_coverage(cover, w, 3, method=method)
        assert sorted(r.selected.tolist()) == [0, 1, 3]


@pytest.mark.parametrize("seed", range(8))
def test_exact_matches_brute_force_and_greedy_within_bound(seed):
    cover, w = random_instance(seed)
    already = np.random.default_rng(100 + seed).random(w.size) < 0.2
    for k in (1, 2, 3):
        opt = brute_force_max(cover, w, k, already)
        e = max_coverage(cover, w, k, already_covered=already, method="exact")
        g = max_coverage(cover, w, k, already_covered=already, method="greedy")
        assert e.objective == pytest.approx(opt, rel=1e-9)
        assert e.objective >= g.objective - 1e-9
        assert g.bound >= opt - 1e-6                        # bound is an upper bound on OPT
        assert g.objective >= g.bound * ONE_MINUS_INV_E - 1e-9
        assert g.bound <= g.objective / ONE_MINUS_INV_E + 1e-9
        assert g.added.sum() == pytest.approx(g.objective)
        assert np.all(np.diff(g.added) <= 1e-9)              # greedy gains never increase


def test_adding_sites_never_lowers_coverage():
    cover, w = random_instance(42, n_c=25, n_d=200, density=0.08)
    for method in ("greedy", "exact"):
        objs = [max_coverage(cover, w, k, method=method).objective for k in range(0, 9)]
        assert all(b >= a - 1e-9 for a, b in zip(objs, objs[1:]))
        assert objs[0] == 0.0


def test_auto_and_time_limit_fallback_are_never_worse_than_greedy():
    cover, w = random_instance(7, n_c=60, n_d=800, density=0.05)
    g = max_coverage(cover, w, 6, method="greedy")
    a = max_coverage(cover, w, 6, method="auto")
    assert a.method == "exact" and a.objective >= g.objective - 1e-9
    t = max_coverage(cover, w, 6, method="exact", time_limit=0.0)
    assert t.objective >= g.objective - 1e-9 and t.bound >= a.objective - 1e-6


# ---------------------------------------------------------------------------- set cover
def test_set_cover_minimum_by_hand():
    # all six people: the minimum is {1, 2} (2 sites); greedy needs 3 (0, then 1, then 2).
    e = min_sites_for_target(TRAP, ONES, 1.0, method="exact")
    assert e.feasible and e.objective == 2 and sorted(e.selected.tolist()) == [1, 2]
    g = min_sites_for_target(TRAP, ONES, 1.0, method="greedy")
    assert g.objective == 3 and g.selected.tolist() == [0, 1, 2]
    assert g.bound <= 2  # a valid lower bound on the minimum
    # 4/6 is reached by site 0 alone
    one = min_sites_for_target(TRAP, ONES, 4 / 6, method="exact")
    assert one.selected.tolist() == [0] and one.objective == 1


def test_group_targets_by_hand():
    # urban = {0, 1, 2}, rural = {3, 4, 5}; urban 100% needs site 1; rural 2/3 needs site 0 or 2
    # (site 0 also serves urban 1, 2). Minimum: 2 sites, {0, 1} or {1, 2}.
    groups = np.array(["urban"] * 3 + ["rural"] * 3)
    r = min_sites_for_target(TRAP, ONES, groups=groups, group_targets={"urban": 1.0, "rural": 0.6},
                             method="exact")
    assert r.objective == 2 and 1 in r.selected.tolist()
    assert r.group_rates["urban"] == 1.0 and r.group_rates["rural"] >= 0.6
    # rural only at 1/3: site 2 alone (urban has no target)
    r = min_sites_for_target(TRAP, ONES, groups=groups, group_targets={"rural": 1 / 3},
                             method="greedy")
    assert r.objective == 1 and r.selected.tolist() in ([0], [2])


def test_infeasible_target_reported():
    # demand 5 reachable by nobody: the best rate is 5/6
    cover = sets_to_cover([{1, 2, 3, 4}, {0, 1, 2}, {3, 4}], 6)
    for method in ("greedy", "exact"):
        r = min_sites_for_target(cover, ONES, 0.95, method=method)
        assert not r.feasible and "NOT reachable" in r.message
        assert r.reachable_rate == pytest.approx(5 / 6)
        assert r.cumulative_rate[-1] == pytest.approx(5 / 6)  # the sites reach the best rate
    assert min_sites_for_target(cover, ONES, 0.8, method="exact").feasible


@pytest.mark.parametrize("seed", range(4))
def test_set_cover_exact_matches_brute_force(seed):
    cover, w = random_instance(seed, n_c=9, n_d=50, density=0.2)
    pat = _explicit(cover)
    reach = w[pat.any(axis=0)].sum() / w.sum()
    target = 0.8 * reach
    best = min(len(c) for m in range(0, 10) for c in itertools.combinations(range(9), m)
               if w[pat[list(c)].any(axis=0)].sum() / w.sum() >= target - 1e-12)
    e = min_sites_for_target(cover, w, target, method="exact")
    g = min_sites_for_target(cover, w, target, method="greedy")
    assert e.objective == best and e.cumulative_rate[-1] >= target - 1e-9
    assert g.objective >= best >= g.bound and g.cumulative_rate[-1] >= target - 1e-9


# ---------------------------------------------------------------------------- spopt cross-check
def _spopt_sf():
    spopt = pytest.importorskip("spopt")
    pd = pytest.importorskip("pandas")
    d = os.path.join(os.path.dirname(spopt.__file__), "tests", "test_locate", "data")
    path = os.path.join(d, "SF_network_distance_candidateStore_16_censusTract_205_new.csv")
    if not os.path.exists(path):
        pytest.skip("spopt test data not shipped")
    # exactly spopt's TestRealWorldLocate setup
    piv = pd.read_csv(path).pivot_table(values="distance", index="DestinationName", columns="name")
    cost = piv.to_numpy()  # demand × stores
    dem = pd.read_csv(os.path.join(d, "SF_demand_205_centroid_uniform_weight.csv"))
    ai = dem.sort_values(by=["NAME"]).reset_index()["POP2000"].to_numpy()
    return cost, ai


def test_reproduces_spopt_mclp_on_its_sf_data():
    pulp = pytest.importorskip("pulp")
    from spopt.locate import MCLP

    cost, ai = _spopt_sf()
    radius, p = 5000.0, 4
    m = MCLP.from_cost_matrix(cost, ai, radius, p).solve(pulp.PULP_CBC_CMD(msg=False))
    spopt_sites = sorted(i for i, v in enumerate(m.fac_vars) if v.value() > 0.5)
    spopt_cov = float(ai[(cost[:, spopt_sites] <= radius).any(axis=1)].sum())
    assert m.perc_cov == pytest.approx(89.75609756097561)  # spopt's own expected figure
    inside = cost.T <= radius
    cover = sp.csr_array((cost.T[inside], np.nonzero(inside)), shape=cost.T.shape)
    ours = max_coverage(cover, ai, p, method="exact")
    assert ours.objective == pytest.approx(spopt_cov)
    # is the optimum unique? brute force all C(16, 4) = 1820 site sets
    covw = np.array([ai[inside[list(c)].any(axis=0)].sum()
                     for c in itertools.combinations(range(16), p)])
    assert covw.max() == pytest.approx(spopt_cov)
    if np.count_nonzero(covw == covw.max()) == 1:
        assert sorted(ours.selected.tolist()) == spopt_sites


# ---------------------------------------------------------------------------- p-median
def test_p_median_by_hand():
    # on a line: demand at 0 (w1), 1 (w3), 10 (w2), 11 (w1); candidates at 0, 1, 10, 11, 5; cutoff 6.
    # p = 2: best is {site at 1, site at 10}: 1*1 + 0 + 0 + 1*1 = 2, mean 2/7.
    dpos = np.array([0.0, 1.0, 10.0, 11.0])
    cpos = np.array([0.0, 1.0, 10.0, 11.0, 5.0])
    w = np.array([1.0, 3.0, 2.0, 1.0])
    dd = np.abs(cpos[:, None] - dpos[None, :])
    mask = dd <= 6
    dist = sp.csr_array((dd[mask], np.nonzero(mask)), shape=dd.shape)
    r = p_median(dist, w, 2)
    assert r.status == "optimal"
    assert sorted(r.selected.tolist()) == [1, 2]
    assert r.objective == pytest.approx(2.0)
    assert r.weighted_mean_distance == pytest.approx(2 / 7)
    assert r.assignment.tolist() == [1, 1, 2, 2]
    # p = 1 cannot reach both clusters (site at 5 reaches 1..10 but not 0 and 11 within 6? it does:
    # |5-0| = 5, |5-11| = 6) -> the middle site serves all: 5+12+10+6 = 33
    r1 = p_median(dist, w, 1)
    assert r1.selected.tolist() == [4] and r1.objective == pytest.approx(33.0)
    # cutoff 4: no single site reaches both clusters -> infeasible unless a penalty is allowed
    m4 = dd <= 4
    d4 = sp.csr_array((dd[m4], np.nonzero(m4)), shape=dd.shape)
    assert p_median(d4, w, 1).status == "infeasible"
    pen = p_median(d4, w, 1, unassigned_penalty_m=100.0)
    assert pen.selected.tolist() == [1]  # cluster 1 (w 4, cost 1) beats cluster 2 (w 3, cost 2)
    assert pen.unassigned.tolist() == [2, 3] and pen.unassigned_weight == 3.0


def test_p_median_unreachable_and_brute_force():
    rng = np.random.default_rng(3)
    dd = rng.random((7, 40)) * 1000
    mask = dd < 450
    mask[:, 0] = False  # demand 0 has no candidate within the cutoff
    dist = sp.csr_array((dd[mask], np.nonzero(mask)), shape=dd.shape)
    w = rng.integers(1, 10, 40).astype(float)
    r = p_median(dist, w, 3, unassigned_penalty_m=2000.0)
    assert r.unreachable.tolist() == np.flatnonzero(~mask.any(axis=0)).tolist()
    assert 0 in r.unreachable.tolist() and np.all(r.assignment[r.unreachable] == -1)
    full = np.where(mask, dd, np.inf)
    reach = mask.any(axis=0)
    best = min(
        float(np.where(np.isfinite(m := full[list(c)].min(axis=0)), w * m, w * 2000.0)[reach].sum())
        for c in itertools.combinations(range(7), 3))
    assert r.objective == pytest.approx(best, rel=1e-7)


def test_p_median_size_guard():
    dist = sp.csr_array(np.ones((5, 50)))
    with pytest.raises(InputError, match="too large"):
        p_median(dist, np.ones(50), 2, max_pairs=100)


# ---------------------------------------------------------------------------- capacity
def test_capacity_report_by_hand():
    # site 0 reaches households at demand 0 (200 hh, 100 m) and 1 (300 hh, 400 m);
    # site 1 reaches demand 1 (300 hh, 200 m) and 2 (100 hh, 50 m).
    cover = sp.csr_array((np.array([100.0, 400.0, 200.0, 50.0]), ([0, 0, 1, 1], [0, 1, 1, 2])),
                         shape=(2, 3))
    rep = capacity_report([0, 1], cover, np.array([200.0, 300.0, 100.0]), [90.0, 60.0])
    assert rep["households_in_catchment"].tolist() == [500.0, 400.0]
    assert rep["households_assigned"].tolist() == [200.0, 400.0]   # demand 1 is nearer site 1
    assert rep["supported_households"].tolist() == pytest.approx([300.0, 200.0])
    assert rep["oversubscribed"].tolist() == [False, True]
    assert rep["area_shortfall_m2"].tolist() == pytest.approx([0.0, 60.0])


# ---------------------------------------------------------------------------- candidates
def test_candidates_from_nodes_by_hand():
    # nodes: 0 (10,10) and 1 (40,40) share cell [0,100)^2 whose centre is (50,50) -> keep 1;
    # 2 (150,50) alone in its cell, but inside the exclusion square; 3 (5000,0) too far.
    nx_ = np.array([10.0, 40.0, 150.0, 5000.0, 160.0])
    ny_ = np.array([10.0, 40.0, 50.0, 0.0, 60.0])
    ux, uy = np.array([0.0, 200.0]), np.array([0.0, 0.0])
    square = shapely.box(140, 40, 155, 55)
    kept, excluded = candidates_from_nodes(nx_, ny_, ux, uy, 1000.0, 100.0, [square])
    assert kept.tolist() == [1, 4]
    reasons = dict(zip(excluded["node"], excluded["reason"]))
    assert reasons == {0: "thinned", 2: "in_exclusion_polygon", 3: "beyond_max_dist"}
    assert sorted(kept.tolist() + excluded["node"].tolist()) == list(range(5))  # nothing dropped


# ---------------------------------------------------------------------------- bad input
def test_bad_input_names_field_and_fix():
    with pytest.raises(InputError, match="scipy.sparse") as e:
        max_coverage(np.ones((2, 3)), np.ones(3), 1)
    assert e.value.field == "cover" and e.value.fix
    with pytest.raises(InputError) as e:
        max_coverage(TRAP, np.ones(5), 1)
    assert e.value.field == "weights"
    with pytest.raises(InputError) as e:
        min_sites_for_target(TRAP, ONES, 1.5)
    assert e.value.field == "target"
    with pytest.raises(InputError) as e:
        min_sites_for_target(TRAP, ONES, groups=np.array(["a"] * 6), group_targets={"b": 0.5})
    assert e.value.field == "group_targets"
