"""The junction search (virtual sources at the junctions a facility reaches first; every demand
point's distance from the junctions it reaches first, along a shared chain of two-neighbour nodes or
a shared edge) gives the same walks as the earlier pendant-node graph, in which every point was
inserted into its edge and hung on a pendant edge of its snap length.

The reference below is that earlier builder, kept here verbatim as the oracle: every demand point
of the sample study and of random graphs with parallel roads, loops, chains, rings and spurs, every
category, every catchment row and every road node."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from pyproj import CRS
from scipy.sparse.csgraph import dijkstra
from shapely.geometry import LineString

from coverage.core.access import (build_access_graph, nearest, reach_matrix, road_node_distance,
                                  snap_to_edges)
from coverage.core.network import from_edge_arrays, symmetric_csr_min

UTM = CRS.from_epsg(32650)
ROOT = Path(__file__).resolve().parents[1]


def pendant_graph(net, x, y, max_snap_m):
    """The earlier access graph: (csr, pendant node of each point or -1)."""
    edge, snap, frac = snap_to_edges(net, x, y, max_snap_m)
    k = np.flatnonzero(edge >= 0)
    n, m = net.n_nodes, len(k)
    on_road = n + np.arange(m)
    pendant = n + m + np.arange(m)
    affected = np.zeros(net.n_edges, dtype=bool)
    affected[edge[k]] = True
    ae = np.flatnonzero(affected)
    ch_edge = np.concatenate([ae, edge[k], ae])
    ch_frac = np.concatenate([np.zeros(len(ae)), frac[k], np.ones(len(ae))])
    ch_rank = np.concatenate([np.zeros(len(ae)), np.ones(m), np.full(len(ae), 2.0)])
    ch_node = np.concatenate([net.edge_u[ae], on_road, net.edge_v[ae]])
    o = np.lexsort((ch_node, ch_rank, ch_frac, ch_edge))
    ch_edge, ch_frac, ch_node = ch_edge[o], ch_frac[o], ch_node[o]
    same = ch_edge[1:] == ch_edge[:-1]
    cu, cv = ch_node[:-1][same], ch_node[1:][same]
    cw = (ch_frac[1:] - ch_frac[:-1])[same] * net.edge_length[ch_edge[1:][same]]
    keep = ~affected
    u = np.concatenate([net.edge_u[keep], cu, on_road])
    v = np.concatenate([net.edge_v[keep], cv, pendant])
    w = np.concatenate([net.edge_length[keep], np.maximum(cw, 0.0), snap[k]])
    node = np.full(len(edge), -1, dtype=np.int64)
    node[k] = pendant
    return symmetric_csr_min(u, v, w, n + 2 * m), node


def pendant_nearest(csr, node, sources, targets, cutoff):
    src = node[sources]
    src = src[src >= 0]
    out = np.full(len(targets), np.inf)
    if len(src) == 0:
        return out
    d = dijkstra(csr, directed=False, indices=src, limit=cutoff, min_only=True)
    tn = node[targets]
    out[tn >= 0] = d[tn[tn >= 0]]
    return out


def pendant_matrix(csr, node, sources, targets, cutoff):
    """Dense (sources x targets) walks, inf beyond the cutoff."""
    out = np.full((len(sources), len(targets)), np.inf)
    ok = np.flatnonzero(node[sources] >= 0)
    if len(ok):
        d = dijkstra(csr, directed=False, indices=node[sources][ok], limit=cutoff)
        tn = node[targets]
        out[np.ix_(ok, np.flatnonzero(tn >= 0))] = d[:, tn[tn >= 0]]
    return out


def dense(m):
    out = np.full(m.shape, np.inf)
    c = sp.coo_array(m)
    out[c.row, c.col] = c.data
    return out


def check_who(ag, sources, targets, d, who):
    """The facility named as nearest is at the reported distance (ties may name another one)."""
    ok = np.flatnonzero(np.isfinite(d))
    assert (who[ok] >= 0).all() and (who[np.isinf(d)] == -1).all()
    big = np.full(len(ok), np.inf)
    for s in np.unique(who[ok]):
        rows = ok[who[ok] == s]
        dd, _ = nearest(ag, sources[[s]], targets[rows], np.inf)
        big[np.searchsorted(ok, rows)] = dd
    assert np.allclose(big, d[ok], atol=1e-6)


def random_net(seed, n=25, n_edges=45):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1000, (n, 2))
    u = rng.integers(0, n, n_edges)
    v = rng.integers(0, n, n_edges)
    u = np.r_[u, u[:8], np.arange(5)]      # parallels of the first 8, and 5 loops
    v = np.r_[v, v[:8], np.arange(5)]
    geoms = []
    for a, b in zip(u, v):
        p, q = xy[a], xy[b]
        if a == b:
            r = rng.uniform(30, 120)
            geoms.append(LineString([p, p + [r, 0], p + [r, r], p + [0, r], p]))
        else:
            mid = (p + q) / 2 + rng.normal(0, 80, 2)
            geoms.append(LineString([p, mid, q]))
    return from_edge_arrays(np.arange(n), xy[:, 0], xy[:, 1], u, v, geoms, crs=UTM), rng


def chain_net(seed):
    """A random graph whose roads are split at every vertex (chains of two-neighbour nodes), with
    an isolated ring, a loop hung on a chain node, a parallel road between two chain nodes and a
    dead-end spur."""
    rng = np.random.default_rng(seed)
    n = 14
    xy = rng.uniform(0, 1000, (n, 2))
    pairs = [(a, b) for a, b in zip(rng.integers(0, n, 20), rng.integers(0, n, 20)) if a != b]
    nodes = {i: tuple(xy[i]) for i in range(n)}
    edges = []

    def node(p):
        nodes[len(nodes)] = tuple(p)
        return len(nodes) - 1

    for a, b in pairs:
        k = int(rng.integers(1, 6))
        pts = [xy[a]] + [xy[a] + (xy[b] - xy[a]) * (i + 1) / (k + 1) + rng.normal(0, 25, 2)
                         for i in range(k)] + [xy[b]]
        ids = [a] + [node(p) for p in pts[1:-1]] + [b]
        edges += [(ids[i], ids[i + 1], LineString([pts[i], pts[i + 1]])) for i in range(len(ids) - 1)]
    # an isolated ring of five nodes
    c = rng.uniform(200, 800, 2)
    ring = [node(c + 60 * np.array([np.cos(t), np.sin(t)])) for t in np.linspace(0, 2 * np.pi, 6)[:-1]]
    for i in range(5):
        a, b = ring[i], ring[(i + 1) % 5]
        edges.append((a, b, LineString([nodes[a], nodes[b]])))
    # a loop at a chain node, a parallel road between two chain nodes, a dead-end spur
    a, b, _ = edges[1]
    p = np.array(nodes[a])
    edges.append((a, a, LineString([p, p + [40, 0], p + [40, 40], p + [0, 40], p])))
    q = np.array(nodes[b])
    edges.append((a, b, LineString([p, (p + q) / 2 + [0, 90], q])))
    edges.append((b, node(q + [0, -70]), LineString([q, q + [0, -70]])))
    ids = np.arange(len(nodes))
    x = np.array([nodes[i][0] for i in ids])
    y = np.array([nodes[i][1] for i in ids])
    u, v, g = zip(*edges)
    return from_edge_arrays(ids, x, y, np.array(u), np.array(v), list(g), crs=UTM), rng


@pytest.mark.parametrize("seed", range(6))
def test_chains_rings_and_spurs_equal_the_pendant_graph(seed):
    net, rng = chain_net(seed)
    pts = np.r_[rng.uniform(-50, 1050, (200, 2)), np.c_[net.node_x[::3], net.node_y[::3]]]
    ag = build_access_graph(net, pts[:, 0], pts[:, 1], 200)
    assert ag.n_junctions < net.n_nodes
    ref_csr, ref_node = pendant_graph(net, pts[:, 0], pts[:, 1], 200)
    n = len(pts)
    for fac in (np.arange(5), np.arange(0, n, 9)):
        dem = np.setdiff1d(np.arange(n), fac)
        for cutoff in (150.0, 600.0, 1e9):
            d, who = nearest(ag, fac, dem, cutoff)
            want = pendant_nearest(ref_csr, ref_node, fac, dem, cutoff)
            assert np.array_equal(np.isfinite(d), np.isfinite(want))
            assert np.allclose(d, want, atol=1e-6, equal_nan=True)
            check_who(ag, fac, dem, d, who)
        m = reach_matrix(ag, ag.point_node[fac], ag.point_node[dem], 500.0, chunk=2)
        assert np.allclose(dense(m), pendant_matrix(ref_csr, ref_node, fac, dem, 500.0), atol=1e-6)
        # every road node, from the points and as sources
        got = road_node_distance(ag, fac, 500.0)
        want = dijkstra(ref_csr, directed=False, indices=ref_node[fac][ref_node[fac] >= 0], limit=500.0,
                        min_only=True)[: net.n_nodes]
        assert np.allclose(got, want, atol=1e-6)
        _, road = reach_matrix(ag, ag.point_node[fac], np.empty(0, np.int64), 400.0, road_nodes_too=True,
                               chunk=3)
        full = np.full((len(fac), net.n_nodes), np.inf)
        ok = np.flatnonzero(ref_node[fac] >= 0)
        full[ok] = dijkstra(ref_csr, directed=False, indices=ref_node[fac][ok], limit=400.0)[:, : net.n_nodes]
        assert np.allclose(dense(road), full, atol=1e-6)
    nodes = np.arange(net.n_nodes)
    m = reach_matrix(ag, nodes, ag.point_node, 450.0, chunk=5)
    want = dijkstra(ref_csr, directed=False, indices=nodes, limit=450.0)[:, ref_node]
    want[:, ref_node < 0] = np.inf
    assert np.allclose(dense(m), want, atol=1e-6)


@pytest.mark.parametrize("seed", range(8))
def test_random_graphs_equal_the_pendant_graph(seed):
    net, rng = random_net(seed)
    assert net.report["loops_kept"] >= 5 and net.report["parallel_edges_kept"] >= 8
    # points on loops, on parallel roads, several on one edge, some exactly on nodes, far ones
    pts = np.r_[rng.uniform(-100, 1100, (160, 2)), np.c_[net.node_x[:6], net.node_y[:6]],
                rng.uniform(0, 1000, (4, 2)).repeat(3, axis=0)]
    xs, ys = pts[:, 0], pts[:, 1]
    ag = build_access_graph(net, xs, ys, 150)
    ref_csr, ref_node = pendant_graph(net, xs, ys, 150)
    assert np.array_equal(ag.point_node >= 0, ref_node >= 0)
    n = len(pts)
    fac_sets = [np.arange(8), np.arange(0, n, 7), np.array([160, 161, 170])]
    for fac in fac_sets:
        dem = np.setdiff1d(np.arange(n), fac)
        for cutoff in (250.0, 800.0, 1e9):
            d, who = nearest(ag, fac, dem, cutoff)
            want = pendant_nearest(ref_csr, ref_node, fac, dem, cutoff)
            assert np.array_equal(np.isfinite(d), np.isfinite(want)), cutoff
            assert np.allclose(d, want, atol=1e-6, equal_nan=True)
            check_who(ag, fac, dem, d, who)
        # every pair: the reach matrix against the dense pendant-graph search
        for cutoff in (300.0, 1200.0):
            m = reach_matrix(ag, ag.point_node[fac], ag.point_node[dem], cutoff, chunk=3)
            want = pendant_matrix(ref_csr, ref_node, fac, dem, cutoff)
            got = dense(m)
            assert np.array_equal(np.isfinite(got), np.isfinite(want))
            assert np.allclose(got, want, atol=1e-6)
    # a target that is also a source: walk 0
    a, b = np.flatnonzero(ag.snapped)[:2]
    d, who = nearest(ag, [a, b], [b, a], 1e9)
    assert d.tolist() == [0.0, 0.0] and who.tolist() == [1, 0]


@pytest.mark.parametrize("seed", range(4))
def test_road_nodes_as_sources_and_targets_equal_the_pendant_graph(seed):
    net, rng = random_net(seed + 100)
    pts = rng.uniform(0, 1000, (60, 2))
    ag = build_access_graph(net, pts[:, 0], pts[:, 1], 1e6)
    ref_csr, ref_node = pendant_graph(net, pts[:, 0], pts[:, 1], 1e6)
    nodes = np.arange(net.n_nodes)
    # road nodes (siting candidates) to points, and points to road nodes (facility circles)
    m = reach_matrix(ag, nodes, ag.point_node, 700.0, chunk=4)
    d = dijkstra(ref_csr, directed=False, indices=nodes, limit=700.0)
    want = d[:, ref_node]
    assert np.allclose(dense(m), want, atol=1e-6)
    m, road = reach_matrix(ag, ag.point_node[:10], np.empty(0, np.int64), 700.0, road_nodes_too=True)
    assert m.shape == (10, 0)
    d = dijkstra(ref_csr, directed=False, indices=ref_node[:10], limit=700.0)[:, : net.n_nodes]
    assert np.allclose(dense(road), d, atol=1e-6)
    got = road_node_distance(ag, np.arange(10), 700.0)
    assert np.allclose(got, d.min(axis=0), atol=1e-6)


def test_reach_radius_is_safe_for_lengths_shorter_than_the_straight_line():
    # five roads each given a length (50 m) half the straight line between their ends (100 m):
    # the walk from x = 0 to x = 500 is 2 + 250 m, farther in a straight line than the cutoff
    x = np.arange(6) * 100.0
    net = from_edge_arrays(np.arange(6), x, np.zeros(6), np.arange(5), np.arange(1, 6), crs=UTM,
                           length=np.full(5, 50.0))
    ag = build_access_graph(net, [0.0, 500.0], [1.0, 1.0], 5)
    assert ag.reach_radius(260.0) >= 260.0 + 250.0
    m = reach_matrix(ag, ag.point_node[[0]], ag.point_node[[1]], 260.0)
    assert dense(m)[0, 0] == pytest.approx(1 + 250 + 1)
    d, _ = nearest(ag, [0], [1], 260.0)
    assert d[0] == pytest.approx(252)


def test_sample_study_equals_the_pendant_graph():
    """Every demand point of the sample study, every category: distances as before; and the
    facilities' catchments as before."""
    import coverage as lc

    study = lc.Study.from_yaml(ROOT / "data" / "sample" / "study.yaml")
    ag, net = study.access(), study.network
    ref_csr, ref_node = pendant_graph(net, ag.point_x, ag.point_y, study.config.network.max_snap_m)
    assert np.array_equal(ag.point_node >= 0, ref_node >= 0)
    dem = ag.ids("demand")
    for cat in study.categories:
        fac = study._fac_points(cat)
        cutoff = study._cutoff(cat)
        d, who = study.distances(cat)
        want = pendant_nearest(ref_csr, ref_node, fac, dem, cutoff)
        assert np.array_equal(np.isfinite(d), np.isfinite(want)), cat
        assert np.allclose(d, want, atol=1e-6, equal_nan=True), cat
        check_who(ag, fac, dem, d, who)
        t = study.thresholds[cat].metres
        m = reach_matrix(ag, ag.point_node[fac], ag.point_node[dem], t)
        want = pendant_matrix(ref_csr, ref_node, fac, dem, t)
        assert np.allclose(dense(m), want, atol=1e-6), cat
