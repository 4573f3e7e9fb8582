"""Siting in a study run: the coverage matrix kept by (cutoff, demand set) and reused, the default
candidates (straight-line filter exact, vectorised), and the time limit deciding exact vs greedy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from pyproj import CRS
from scipy.spatial import cKDTree

from coverage.analysis.siting import candidates_from_nodes
from coverage.analysis.siting.candidates import near_any
from coverage.analysis.siting.plan import CoverageMatrices
from coverage.core.access import build_access_graph, reach_matrix
from coverage.io.network import load_network

DATA = Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture(scope="module")
def sample_graph():
    net = load_network("pbf", DATA / "helsinki.osm.pbf", crs=CRS.from_epsg(32635))
    rng = np.random.default_rng(4)
    x0, y0, x1, y1 = net.node_x.min(), net.node_y.min(), net.node_x.max(), net.node_y.max()
    xs, ys = rng.uniform(x0, x1, 700), rng.uniform(y0, y1, 700)
    return net, build_access_graph(net, xs, ys, 300)


def dense(m):
    out = np.full(m.shape, np.inf)
    c = sp.coo_array(m)
    out[c.row, c.col] = c.data
    return out


def test_matrices_are_reused_and_equal_a_fresh_search(sample_graph):
    net, ag = sample_graph
    dem = ag.point_node[100:]
    rng = np.random.default_rng(0)
    cache = CoverageMatrices()
    a = rng.choice(net.n_nodes, 300, replace=False)
    b = np.r_[a[:150], rng.choice(net.n_nodes, 100, replace=False), -1, a[:3]]   # shares half, a gap, repeats
    pts = ag.point_node[:50]                                                      # points as candidates too
    for src in (a, b, pts, b):
        got = cache.get(ag, src, dem, 800.0)
        assert got.has_canonical_format and got.shape == (len(src), len(dem))
        assert np.array_equal(dense(got), dense(reach_matrix(ag, src, dem, 800.0)))
    assert cache.searched == len(np.unique(np.r_[a, b[b >= 0], pts]))
    assert cache.reused > 0
    # another cutoff is another matrix
    n0 = cache.searched
    cache.get(ag, a[:10], dem, 500.0)
    assert cache.searched == n0 + 10


def test_near_any_is_exact():
    rng = np.random.default_rng(1)
    for r in (50.0, 333.0, 1000.0):
        x, y = rng.uniform(0, 5000, 3000), rng.uniform(0, 5000, 3000)
        px, py = rng.uniform(1000, 4000, 40), rng.uniform(1000, 4000, 40)
        # points exactly at distance r, and just beyond
        x = np.r_[x, px[:5] + r, px[:5] + r * (1 + 1e-9)]
        y = np.r_[y, py[:5], py[:5]]
        d, _ = cKDTree(np.c_[px, py]).query(np.c_[x, y])
        assert np.array_equal(near_any(x, y, px, py, r), d <= r)
    assert not near_any([1.0], [1.0], [], [], 10.0).any()


def test_candidates_without_the_report_are_the_same_sites():
    rng = np.random.default_rng(2)
    nx_, ny_ = rng.uniform(0, 3000, 5000), rng.uniform(0, 3000, 5000)
    ux, uy = rng.uniform(0, 1500, 300), rng.uniform(0, 1500, 300)
    kept, excluded = candidates_from_nodes(nx_, ny_, ux, uy, 400.0, 100.0)
    kept2, none = candidates_from_nodes(nx_, ny_, ux, uy, 400.0, 100.0, report=False)
    assert none is None and np.array_equal(kept, kept2)
    assert sorted(kept.tolist() + excluded["node"].tolist()) == list(range(5000))
    th = excluded[excluded.reason == "thinned"]
    assert th.detail.str.match(r"cell already has node \d+ nearer its centre").all()


def _random_cover(seed, n_c, n_d, density):
    rng = np.random.default_rng(seed)
    mask = rng.random((n_c, n_d)) < density
    cover = sp.csr_array((rng.uniform(0, 1000, mask.sum()), np.nonzero(mask)), shape=(n_c, n_d))
    return cover, rng.integers(1, 20, n_d).astype(float)


@pytest.mark.parametrize("seed", range(6))
def test_lp_by_columns_equals_the_full_lp(seed):
    import math
    import time

    from coverage.analysis.siting.highs import _coverage_rows, _highs_solve
    from coverage.analysis.siting.inputs import _prepare
    from coverage.analysis.siting.maxcover import _lp_by_columns
    from coverage.analysis.siting.reduce import _reduce

    cover, w = _random_cover(seed, 80, 600, 0.03)
    inst = _prepare(cover, w, None)
    red = _reduce(inst, np.zeros(inst.n_dem, np.int64), 1)
    n_x, n_y = red.cand.size, red.R.shape[1]
    for k in (1, 4, 15):
        rows = _coverage_rows(red.R, n_x, [np.r_[np.ones(n_x), np.zeros(n_y)]])
        up = np.zeros(rows.shape[0])
        up[-1] = k
        _, _, z, _, _ = _highs_solve(n_x, n_y, np.r_[red.x_weight[:, 0], red.col_weight], True, rows,
                                     np.full(rows.shape[0], -np.inf), up, None, 60, 0.0, integer=False)
        for batch in (1, 50):          # one candidate per round: many rounds, warm started
            st, b, x, d, _ = _lp_by_columns(red.R, red.x_weight[:, 0], red.col_weight, k, [], time.perf_counter()
                                            + 60, 1e-9, batch=batch)
            assert st == "optimal" and b == pytest.approx(z, rel=1e-9, abs=1e-6)
            assert x.sum() <= k + 1e-9 and (d <= 1e-6)[x <= 1e-9].all()
        # stopped at once: still a valid bound
        st, b, *_ = _lp_by_columns(red.R, red.x_weight[:, 0], red.col_weight, k, [], time.perf_counter(), 1e-9)
        assert st == "time_limit" and (b >= z - 1e-6 or math.isinf(b))


@pytest.mark.parametrize("seed", range(12))
def test_exact_equals_brute_force_on_random_instances(seed):
    import itertools

    from coverage.analysis.siting import max_coverage

    cover, w = _random_cover(seed, 12, 70, 0.12)
    pat = sp.csr_array(cover).toarray() > 0
    for k in (2, 3, 4):
        best = max(w[pat[list(c)].any(axis=0)].sum() for c in itertools.combinations(range(12), k))
        for method in ("auto", "exact"):
            r = max_coverage(cover, w, k, method=method)
            assert r.objective == pytest.approx(best) and r.status == "optimal" and r.gap == 0.0
            assert r.bound == pytest.approx(best)
