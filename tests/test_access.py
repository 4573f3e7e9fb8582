"""The access core on hand-computed graphs, and cross-checked against networkx on the real sample."""

from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import CRS
from scipy.sparse.csgraph import dijkstra

from coverage.core.access import build_access_graph, nearest, reach_matrix, road_node_distance
from coverage.core.network import from_edge_arrays, symmetric_csr_min
from coverage.io.network import load_network

UTM = CRS.from_epsg(32635)
DATA = Path(__file__).resolve().parents[1] / "data" / "sample"


def line_net():
    # A(0,0) - B(100,0) - C(200,0)    and an island D(1000,0) - E(1100,0)
    ids = np.array([1, 2, 3, 4, 5])
    x = np.array([0.0, 100, 200, 1000, 1100])
    y = np.zeros(5)
    return from_edge_arrays(ids, x, y, [1, 2, 4], [2, 3, 5], crs=UTM)


def test_snap_network_and_snap_add_up():
    net = line_net()
    # demand at (20,-5): snaps 5 m onto A-B at 20; facility at (150,10): snaps 10 m onto B-C at 150
    ag = build_access_graph(net, [20, 150], [-5, 10], max_snap_m=50)
    assert ag.point_snap == pytest.approx([5, 10])
    d, who = nearest(ag, [1], [0], cutoff=1000)
    assert d[0] == pytest.approx(5 + 130 + 10)
    assert who[0] == 0


def test_same_edge_walks_along_the_edge_not_via_its_ends():
    net = line_net()
    # both on B-C (100 m long): demand at 120 (3 m off), facility at 150 (10 m off) -> 3 + 30 + 10
    ag = build_access_graph(net, [120, 150], [3, 10], max_snap_m=50)
    d, _ = nearest(ag, [1], [0], cutoff=1000)
    assert d[0] == pytest.approx(43)


def test_island_is_unreachable_not_zero_and_not_a_sentinel():
    net = line_net()
    ag = build_access_graph(net, [1050, 150], [2, 10], max_snap_m=50)
    d, who = nearest(ag, [1], [0], cutoff=1e9)
    assert np.isinf(d[0]) and who[0] == -1


def test_point_farther_than_max_snap_is_not_snapped():
    net = line_net()
    ag = build_access_graph(net, [50, 150], [400, 10], max_snap_m=300)
    assert not ag.snapped[0] and np.isnan(ag.point_snap[0])
    d, _ = nearest(ag, [1], [0], cutoff=1e9)
    assert np.isinf(d[0])


def test_cutoff_bounds_the_search():
    net = line_net()
    ag = build_access_graph(net, [0, 200], [0, 0], max_snap_m=10)
    assert nearest(ag, [1], [0], cutoff=199.9)[0][0] == np.inf
    assert nearest(ag, [1], [0], cutoff=200.0)[0][0] == pytest.approx(200)


def test_nearest_of_several_facilities_and_their_ids():
    net = line_net()
    # demand at 90; facilities at 0 (90 away) and at 200 (110 away) and one on the island
    ag = build_access_graph(net, [90, 0, 200, 1050], [0, 0, 0, 0], max_snap_m=10)
    d, who = nearest(ag, [1, 2, 3], [0], cutoff=1e9)
    assert d[0] == pytest.approx(90) and who[0] == 0
    d, who = nearest(ag, [2, 3], [0], cutoff=1e9)
    assert d[0] == pytest.approx(110) and who[0] == 0  # index into the sources list


def test_facility_outside_the_area_serves_people_inside():
    net = line_net()
    area = shapely.box(-10, -10, 120, 10)  # facility at 150 lies outside the area
    clipped = net.clip(shapely.buffer(area, 1000))
    ag = build_access_graph(clipped, [20, 150], [0, 0], max_snap_m=10)
    assert nearest(ag, [1], [0], cutoff=1000)[0][0] == pytest.approx(130)
    # too small a buffer cuts the facility's road off
    tight = net.clip(area)
    ag = build_access_graph(tight, [20, 150], [0, 0], max_snap_m=10)
    assert not ag.snapped[1]


def test_parallel_edges_keep_the_shortest_and_are_not_added():
    csr = symmetric_csr_min([0, 0, 1], [1, 1, 0], [100.0, 300.0, 250.0], 2)
    assert csr[0, 1] == 100 and csr[1, 0] == 100
    net = from_edge_arrays([1, 2], [0.0, 100.0], [0.0, 0.0], [1, 1, 2], [2, 2, 1],
                           crs=UTM, length=[150.0, 100.0, 120.0])
    # every distinct road stays in the network (a place to snap to); routing uses the shortest
    assert net.n_edges == 3 and net.report["parallel_edges_kept"] == 2
    assert net.csr()[0, 1] == 100


def test_explicit_zero_distance_is_kept_in_reach_matrix():
    net = line_net()
    ag = build_access_graph(net, [150, 150, 20], [0, 0, 0], max_snap_m=10)
    m = reach_matrix(ag, ag.point_node[[1]], ag.point_node[[0, 2]], cutoff=500)
    assert m.nnz == 2
    assert m[0, 0] == 0.0 and m[0, 1] == pytest.approx(130)


def test_reach_matrix_rows_agree_with_nearest():
    net = load_network("pbf", DATA / "helsinki.osm.pbf", crs=UTM)
    rng = np.random.default_rng(1)
    x0, y0, x1, y1 = net.node_x.min(), net.node_y.min(), net.node_x.max(), net.node_y.max()
    n = 400
    xs, ys = rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)
    ag = build_access_graph(net, xs, ys, 300)
    fac, dem = np.arange(10), np.arange(10, n)
    m = reach_matrix(ag, ag.point_node[fac], ag.point_node[dem], cutoff=800, chunk=3)
    dense = np.full(m.shape, np.inf)
    coo = m.tocoo()
    dense[coo.row, coo.col] = coo.data
    d, _ = nearest(ag, fac, dem, cutoff=800)
    assert np.allclose(dense.min(axis=0), d)


@pytest.fixture(scope="module")
def helsinki():
    return load_network("pbf", DATA / "helsinki.osm.pbf", crs=UTM)


def test_core_equals_networkx_multi_source_dijkstra_for_every_node(helsinki):
    net = helsinki
    G = nx.Graph()
    G.add_nodes_from(range(net.n_nodes))
    G.add_weighted_edges_from(zip(net.edge_u.tolist(), net.edge_v.tolist(), net.edge_length.tolist()), weight="length")
    rng = np.random.default_rng(7)
    fac = rng.choice(net.n_nodes, 30, replace=False)
    ref = nx.multi_source_dijkstra_path_length(G, set(fac.tolist()), cutoff=1000, weight="length")
    expected = np.full(net.n_nodes, np.inf)
    expected[list(ref)] = list(ref.values())
    # the project's core with facilities placed exactly on the nodes (snap 0)
    ag = build_access_graph(net, net.node_x[fac], net.node_y[fac], 1.0)
    got = road_node_distance(ag, np.arange(len(fac)), 1000)
    assert np.isfinite(got).sum() == np.isfinite(expected).sum()
    assert np.allclose(got, expected, atol=1e-6, equal_nan=False)
    # and the raw CSR too
    raw = dijkstra(net.csr(), directed=False, indices=fac, limit=1000, min_only=True)
    assert np.allclose(raw, expected, atol=1e-6)


def test_real_walk_graph_parallel_edges_are_kept_shortest(helsinki):
    net = helsinki
    a, b = np.minimum(net.edge_u, net.edge_v), np.maximum(net.edge_u, net.edge_v)
    key = a * net.n_nodes + b
    loops = a == b
    assert net.report["loops_kept"] == int(loops.sum())
    assert net.report["parallel_edges_kept"] == int((~loops).sum() - len(np.unique(key[~loops])))
    csr = net.csr()
    # the routing matrix holds the shortest road of each pair
    best = pd.Series(net.edge_length).groupby(key).min()
    assert np.allclose(csr[a[~loops], b[~loops]], best.reindex(key[~loops]).to_numpy())


def test_more_facilities_and_larger_thresholds_never_lower_coverage(helsinki):
    net = helsinki
    rng = np.random.default_rng(3)
    x0, y0, x1, y1 = net.node_x.min(), net.node_y.min(), net.node_x.max(), net.node_y.max()
    xs, ys = rng.uniform(x0, x1, 600), rng.uniform(y0, y1, 600)
    ag = build_access_graph(net, xs, ys, 300)
    dem = np.arange(100, 600)
    w = rng.uniform(1, 50, len(dem))
    prev = None
    for k in (1, 3, 10, 30, 100):
        d, _ = nearest(ag, np.arange(k), dem, 1000)
        cov = [(w * (d <= t)).sum() for t in (333, 667, 1000)]
        assert cov[0] <= cov[1] <= cov[2]
        if prev is not None:
            assert all(c >= p - 1e-9 for c, p in zip(cov, prev))
        prev = cov
