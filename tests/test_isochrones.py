"""Tests for coverage.isochrones: life circles drawn from the reached network, exact methods.

Hand-built graphs (a line, a square, a T, curved edges) with answers worked out by hand, and
an independent check: every edge is sampled every 0.25 m, each sample is classified as
reached or not from the formula min(d_u + s, d_v + L - s) <= t, and the polygon must hold
every reached sample and no point farther than the buffer from all reached samples.

The polygons here are drawn with the exact "faces" method (and "buffers" where named); the
raster method, the default of the pipeline, is checked against the same oracle with a
tolerance of a cell in tests/test_circle_raster.py.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree
from shapely import LineString, Point

from coverage.errors import InputError
from coverage.core import isochrones
from coverage.core.isochrones import cut_lines, edge_lines, network_faces, reached_segments

# Exact drawing for these tests (a method= given in a call still wins).
category_circles = partial(isochrones.category_circles, method="faces")
facility_circles = partial(isochrones.facility_circles, method="faces")

BUF = 10.0


def graph(nodes, edges, geoms=None):
    """nodes: list of (x, y); edges: list of (u, v) with straight-line lengths."""
    xy = np.asarray(nodes, dtype=float)
    u = np.array([e[0] for e in edges])
    v = np.array([e[1] for e in edges])
    g = edge_lines(u, v, xy[:, 0], xy[:, 1], geoms)
    length = shapely.length(g)
    return u, v, length, g, xy


def distances(u, v, length, n, sources):
    """Independent node distances: scipy Dijkstra on the undirected graph."""
    a = sp.csr_array((length, (u, v)), shape=(n, n))
    return dijkstra(a, directed=False, indices=sources, min_only=True)


def samples(geoms, u, v, length, d, t, step=0.25):
    """Points every `step` m along each edge and whether each is reached at break t."""
    pts, reached = [], []
    for i, g in enumerate(geoms):  # test oracle only: a loop is fine here
        glen = g.length
        s = np.linspace(0.0, glen, max(int(np.ceil(glen / step)), 1) + 1)
        frac = s / glen if glen > 0 else np.zeros_like(s)
        net = np.minimum(d[u[i]] + frac * length[i], d[v[i]] + (1 - frac) * length[i])
        pts.append(shapely.line_interpolate_point(g, s))
        reached.append(net <= t + 1e-9)
    return np.concatenate(pts), np.concatenate(reached)


def check_against_samples(poly, geoms, u, v, length, d, t, buf=BUF, n_probe=3000, seed=0):
    pts, reached = samples(geoms, u, v, length, d, t)
    # Every reached point of the network is inside (tolerance: buffer approximation only
    # matters at the rim, the centreline is deep inside).
    assert shapely.contains(poly.buffer(1e-6), pts[reached]).all()
    # Probe points: outside if farther than buf (+ sampling slack) from every reached sample.
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    rng = np.random.default_rng(seed)
    probe = np.column_stack([rng.uniform(minx - 2 * buf, maxx + 2 * buf, n_probe),
                             rng.uniform(miny - 2 * buf, maxy + 2 * buf, n_probe)])
    rxy = shapely.get_coordinates(pts[reached])
    if rxy.size:
        dmin = cKDTree(rxy).query(probe)[0]
    else:
        dmin = np.full(n_probe, np.inf)
    far = dmin > buf + 0.3
    near = dmin < buf * 0.9  # inside the buffer with margin for the polygonal arcs
    inside = shapely.contains_xy(poly, probe[:, 0], probe[:, 1])
    assert not inside[far].any()
    assert inside[near].all()
    assert far.any() and near.any()


# --- reached_segments and cut_lines ----------------------------------------------------


def test_line_partial_edge_cut_at_threshold():
    u, v, length, g, xy = graph([(0, 0), (100, 0), (200, 0)], [(0, 1), (1, 2)])
    d = np.array([0.0, 100.0, 200.0])
    e, a, b = reached_segments(u, v, length, g, d, 60.0)
    assert e.tolist() == [0] and a.tolist() == [0.0] and b[0] == pytest.approx(0.6)
    piece = cut_lines(g, e, a, b)[0]
    end = shapely.get_coordinates(piece)[-1]
    assert np.allclose(end, [60.0, 0.0], atol=1e-6)
    assert piece.length == pytest.approx(60.0, abs=1e-9)

    # Break 160: first edge whole, second cut 60 m past node 1.
    e, a, b = reached_segments(u, v, length, g, d, 160.0)
    assert e.tolist() == [0, 1]
    assert np.allclose(a, [0, 0]) and np.allclose(b, [1.0, 0.6])
    pieces = cut_lines(g, e, a, b)
    assert pieces[0] is g[0]  # whole edges are reused, not rebuilt
    assert np.allclose(shapely.get_coordinates(pieces[1]), [[100, 0], [160, 0]], atol=1e-6)


def test_line_polygon_covers_reached_and_not_beyond():
    u, v, length, g, xy = graph([(0, 0), (100, 0), (200, 0)], [(0, 1), (1, 2)])
    d = np.array([0.0, 100.0, 200.0])
    circ = category_circles(u, v, length, g, d, [60.0], buffer_m=BUF)
    poly = circ.geometry.iloc[0]
    assert poly.contains(Point(30, BUF - 1)) and poly.contains(Point(60, 0))
    assert not poly.contains(Point(60 + BUF + 0.5, 0))
    assert not poly.contains(Point(100, 0))
    assert circ.reached_length_m.iloc[0] == pytest.approx(60.0)
    check_against_samples(poly, g, u, v, length, d, 60.0)


def test_pieces_from_both_ends_merge_when_they_overlap():
    u, v, length, g, _ = graph([(0, 0), (100, 0)], [(0, 1)])
    # Node 1 reached at 20 by some other route (e.g. a second facility): at 70 m the piece
    # from u runs to 0.7 and the one from v back to 0.5.
    e, a, b = reached_segments(u, v, length, g, np.array([0.0, 20.0]), 70.0)
    assert e.tolist() == [0] and a.tolist() == [0.0] and b.tolist() == [1.0]
    # Pieces that just meet are merged too: 0.5 from each end.
    e, a, b = reached_segments(u, v, length, g, np.array([0.0, 0.0]), 50.0)
    assert e.tolist() == [0] and a.tolist() == [0.0] and b.tolist() == [1.0]


def test_gap_in_middle_stays_two_pieces():
    u, v, length, g, _ = graph([(0, 0), (100, 0)], [(0, 1)])
    d = np.array([0.0, 0.0])
    e, a, b = reached_segments(u, v, length, g, d, 30.0)
    assert e.tolist() == [0, 0]
    assert np.allclose(a, [0.0, 0.7]) and np.allclose(b, [0.3, 1.0])
    pieces = cut_lines(g, e, a, b)
    assert np.allclose(shapely.get_coordinates(pieces[0]), [[0, 0], [30, 0]], atol=1e-6)
    assert np.allclose(shapely.get_coordinates(pieces[1]), [[70, 0], [100, 0]], atol=1e-6)
    poly = category_circles(u, v, length, g, d, [30.0], buffer_m=BUF).geometry.iloc[0]
    assert poly.geom_type == "MultiPolygon" and len(poly.geoms) == 2
    assert not poly.contains(Point(50, 0))
    check_against_samples(poly, g, u, v, length, d, 30.0)


def test_curved_edge_cut_at_arc_length():
    # Arc length 30 + 40 + 70 = 140; routing length 140.
    curve = LineString([(0, 0), (30, 0), (30, 40), (100, 40)])
    g = np.array([curve], dtype=object)
    pieces = cut_lines(g, [0, 0, 0, 0], [0.0, 0.2, 0.5, 0.9], [0.5, 0.6, 0.5, 1.0])
    assert np.allclose(shapely.get_coordinates(pieces[0]), [[0, 0], [30, 0], [30, 40]])
    # 28 m .. 84 m: starts 2 m before the first bend, ends 14 m after the second.
    assert np.allclose(shapely.get_coordinates(pieces[1]),
                       [[28, 0], [30, 0], [30, 40], [44, 40]], atol=1e-9)
    assert pieces[2].geom_type == "Point" and np.allclose(pieces[2].coords[0], [30, 40])
    assert np.allclose(shapely.get_coordinates(pieces[3]), [[86, 40], [100, 40]], atol=1e-9)
    # Each cut agrees with shapely's own interpolation along the line.
    for frac in (0.0, 0.2, 0.5, 0.6, 0.9):
        ref = curve.interpolate(frac, normalized=True)
        got = cut_lines(g, [0], [0.0], [frac])[0] if frac > 0 else None
        if got is not None:
            assert np.allclose(shapely.get_coordinates(got)[-1], ref.coords[0], atol=1e-9)


def test_fractions_of_edge_length_map_onto_longer_geometry():
    # Routing length 100 but the drawn line is 120 m long: a cut at 60 m of walking lands
    # at 60% of the drawing, i.e. 72 m along it.
    u, v = np.array([0]), np.array([1])
    g = np.array([LineString([(0, 0), (120, 0)])], dtype=object)
    e, a, b = reached_segments(u, v, np.array([100.0]), g, np.array([0.0, np.inf]), 60.0)
    assert b[0] == pytest.approx(0.6)
    assert np.allclose(shapely.get_coordinates(cut_lines(g, e, a, b)[0])[-1], [72, 0])


def test_cut_many_pieces_matches_shapely_substring():
    rng = np.random.default_rng(3)
    lines = [LineString(np.cumsum(rng.normal(size=(k, 2)) * 20, axis=0))
             for k in rng.integers(2, 7, size=200)]
    g = np.array(lines, dtype=object)
    idx = rng.integers(0, 200, size=500)
    a = rng.uniform(0, 1, 500)
    b = np.clip(a + rng.uniform(0.01, 0.8, 500), 0, 1)
    got = cut_lines(g, idx, a, b)
    from shapely.ops import substring
    for k in range(500):  # oracle loop
        ref = substring(g[idx[k]], a[k], b[k], normalized=True)
        assert got[k].length == pytest.approx(ref.length, abs=1e-6)
        assert np.allclose(shapely.get_coordinates(got[k]), shapely.get_coordinates(ref),
                           atol=1e-6)


# --- square and T: polygons against the sample oracle, hull comparison ----------------


def square():
    return graph([(0, 0), (100, 0), (100, 100), (0, 100)], [(0, 1), (1, 2), (3, 2), (0, 3)])


def test_square_polygon_and_hull():
    u, v, length, g, xy = square()
    d = distances(u, v, length, 4, [0])
    assert np.allclose(d, [0, 100, 200, 100])
    e, a, b = reached_segments(u, v, length, g, d, 150.0)
    assert e.tolist() == [0, 1, 2, 3]
    assert np.allclose(a, 0) and np.allclose(b, [1.0, 0.5, 0.5, 1.0])
    circ = category_circles(u, v, length, g, d, [150.0], buffer_m=BUF)
    poly = circ.geometry.iloc[0]
    assert not poly.contains(Point(100, 100))  # node 2 is 50 m past the walk
    assert circ.reached_length_m.iloc[0] == pytest.approx(300.0)
    check_against_samples(poly, g, u, v, length, d, 150.0)
    # The hull fills in the block and the unreached corner.
    hull = poly.convex_hull
    assert circ.hull_area_m2.iloc[0] == pytest.approx(hull.area)
    assert circ.area_m2.iloc[0] == pytest.approx(poly.area)
    assert circ.hull_area_m2.iloc[0] >= circ.area_m2.iloc[0]
    assert circ.hull_overstatement.iloc[0] == pytest.approx(hull.area / poly.area - 1)
    assert circ.hull_overstatement.iloc[0] > 1.0  # the block is mostly not street frontage


def t_graph():
    # Centre 1 at (100, 0); arms to (0, 0), (200, 0), and a curved arm up to (100, 150).
    nodes = [(0, 0), (100, 0), (200, 0), (100, 150)]
    edges = [(0, 1), (1, 2), (1, 3)]
    geoms = [None, None, LineString([(100, 0), (130, 50), (100, 100), (100, 150)])]
    return graph(nodes, edges, np.array(geoms, dtype=object))


@pytest.mark.parametrize("t", [0.0, 40.0, 130.0, 190.0, 400.0])
def test_t_graph_against_samples(t):
    u, v, length, g, xy = t_graph()
    d = distances(u, v, length, 4, [0])
    circ = category_circles(u, v, length, g, d, [t], buffer_m=BUF)
    poly = circ.geometry.iloc[0]
    check_against_samples(poly, g, u, v, length, d, t)
    assert circ.hull_area_m2.iloc[0] >= circ.area_m2.iloc[0] > 0


def test_source_node_alone_at_break_zero_is_a_disc():
    u, v, length, g, xy = square()
    d = distances(u, v, length, 4, [0])
    e, a, b = reached_segments(u, v, length, g, d, 0.0)
    assert set(e.tolist()) == {0, 3} and np.all(a == 0) and np.all(b == 0)
    poly = category_circles(u, v, length, g, d, [0.0], buffer_m=BUF).geometry.iloc[0]
    assert poly.contains(Point(0, 0)) and poly.contains(Point(-BUF * 0.9, 0))
    assert not poly.contains(Point(BUF + 0.5, 0))


def test_unreached_gives_empty_polygon():
    u, v, length, g, xy = square()
    circ = category_circles(u, v, length, g, np.full(4, np.inf), [100.0, 200.0], buffer_m=BUF)
    assert circ.geometry.is_empty.all()
    assert (circ.area_m2 == 0).all() and circ.hull_overstatement.isna().all()


def test_rows_per_break_grow():
    u, v, length, g, xy = t_graph()
    d = distances(u, v, length, 4, [0])
    circ = category_circles(u, v, length, g, d, [50.0, 150.0, 250.0], buffer_m=BUF, crs=3857)
    assert circ.break_m.tolist() == [50.0, 150.0, 250.0]
    assert circ.crs.to_epsg() == 3857
    assert np.all(np.diff(circ.area_m2) > 0)
    assert circ.geometry.iloc[2].covers(circ.geometry.iloc[1].buffer(-1e-6))


# --- facility circles -------------------------------------------------------------------


def grid(n=6, spacing=100.0, seed=1):
    rng = np.random.default_rng(seed)
    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    xy = np.column_stack([ii.ravel() * spacing, jj.ravel() * spacing])
    xy += rng.uniform(-10, 10, xy.shape)
    idx = np.arange(n * n).reshape(n, n)
    edges = np.concatenate([np.column_stack([idx[:-1].ravel(), idx[1:].ravel()]),
                            np.column_stack([idx[:, :-1].ravel(), idx[:, 1:].ravel()])])
    return graph(xy, [tuple(e) for e in edges])


def as_sparse(dist, limit):
    """CSR of reached distances with explicit zeros kept (distance 0 at the source)."""
    r, c = np.nonzero(dist <= limit)
    return sp.csr_array((dist[r, c], (r, c)), shape=dist.shape)


def test_one_facility_equals_category():
    u, v, length, g, xy = grid()
    d = distances(u, v, length, len(xy), [14])
    S = as_sparse(d[None, :], 500.0)
    assert S.nnz > 0 and 0.0 in S.data  # explicit zero at the facility's own node
    breaks = [120.0, 250.0, 500.0]
    cat = category_circles(u, v, length, g, d, breaks, buffer_m=BUF)
    fac = facility_circles(u, v, length, g, S, ["f14"], breaks, buffer_m=BUF)
    assert fac.facility_id.tolist() == ["f14"] * 3 and fac.break_m.tolist() == breaks
    for k in range(3):
        assert shapely.symmetric_difference(cat.geometry.iloc[k], fac.geometry.iloc[k]).area < 1e-6
    assert np.allclose(cat.reached_length_m, fac.reached_length_m)
    assert np.allclose(cat.hull_area_m2, fac.hull_area_m2)


def test_union_of_facility_circles_is_category_circle():
    u, v, length, g, xy = grid()
    src = [0, 14, 33]
    dist = dijkstra(sp.csr_array((length, (u, v)), shape=(len(xy),) * 2), directed=False,
                    indices=src)
    S = as_sparse(dist, 300.0)
    dcat = dist.min(axis=0)
    for t in (150.0, 300.0):
        cat = category_circles(u, v, length, g, dcat, [t], buffer_m=BUF).geometry.iloc[0]
        fac = facility_circles(u, v, length, g, S, np.array(src), [t], buffer_m=BUF)
        union = shapely.union_all(fac.geometry.values)
        assert cat.difference(union).area < 1e-3 * cat.area  # union covers the category
        assert union.difference(cat).area < 1e-3 * cat.area  # and adds nothing
        for k, s in enumerate(src):
            check_against_samples(fac.geometry.iloc[k], g, u, v, length, dist[k], t, n_probe=800)


def test_facility_that_reaches_nothing_and_duplicates_keep_shortest():
    u, v, length, g, xy = square()
    # Facility 0 at node 0; facility 1 reaches nothing; facility 2 stored twice for node 2
    # (100 and 0): the shorter must win, never the sum.
    rows = np.array([0, 0, 0, 2, 2])
    cols = np.array([0, 1, 3, 2, 2])
    data = np.array([0.0, 100.0, 100.0, 100.0, 0.0])
    S = sp.csr_array((data, cols, np.array([0, 3, 3, 5])), shape=(3, 4))
    fac = facility_circles(u, v, length, g, S, ["a", "b", "c"], [50.0], buffer_m=BUF)
    assert fac.facility_id.tolist() == ["a", "b", "c"]
    assert fac.geometry.iloc[1].is_empty and fac.area_m2.iloc[1] == 0
    assert np.isnan(fac.hull_overstatement.iloc[1])
    assert fac.reached_length_m.tolist() == pytest.approx([100.0, 0.0, 100.0])
    assert fac.geometry.iloc[2].contains(Point(100, 100))


def test_self_loop_and_parallel_edges():
    # A 40 m loop at node 1 and two parallel edges 0-1 (100 m straight, 140 m curved).
    loop = LineString([(100, 0), (110, 10), (100, 20), (90, 10), (100, 0)])
    g = np.array([LineString([(0, 0), (100, 0)]),
                  LineString([(0, 0), (50, 48.98979486), (100, 0)]), loop], dtype=object)
    u, v = np.array([0, 0, 1]), np.array([1, 1, 1])
    length = shapely.length(g)
    d = np.array([0.0, 100.0])
    S = as_sparse(d[None, :], 1000.0)
    t = 110.0
    cat = category_circles(u, v, length, g, d, [t], buffer_m=2.0)
    fac = facility_circles(u, v, length, g, S, [0], [t], buffer_m=2.0)
    # loop: 10 m from each end; curved edge: 110 m from node 0 and 10 m from node 1.
    expected = 100.0 + (110.0 + 10.0) + 20.0
    assert cat.reached_length_m.iloc[0] == pytest.approx(expected)
    assert fac.reached_length_m.iloc[0] == pytest.approx(expected)
    assert shapely.symmetric_difference(cat.geometry.iloc[0], fac.geometry.iloc[0]).area < 1e-6
    check_against_samples(cat.geometry.iloc[0], g, u, v, length, d, t, buf=2.0)


# --- bad input ----------------------------------------------------------------------------


def test_bad_input_names_field_and_fix():
    u, v, length, g, xy = square()
    d = np.zeros(4)
    with pytest.raises(InputError, match="edge_length"):
        category_circles(u, v, length[:2], g, d, [100.0])
    with pytest.raises(InputError, match="buffer_m"):
        category_circles(u, v, length, g, d, [100.0], buffer_m=0)
    with pytest.raises(InputError, match="breaks_m"):
        category_circles(u, v, length, g, d, [-5.0])
    bad = g.copy()
    bad[1] = Point(0, 0)
    with pytest.raises(InputError, match="edge_geometry") as err:
        category_circles(u, v, length, bad, d, [100.0])
    assert "fix:" in str(err.value)
    with pytest.raises(InputError, match="facility_ids"):
        facility_circles(u, v, length, g, sp.csr_array(np.ones((2, 4))), ["a"], [100.0])
    with pytest.raises(InputError, match="node_dist_sparse"):
        facility_circles(u, v, length, g, np.ones((2, 4)), ["a", "b"], [100.0])
    with pytest.raises(InputError, match="edge_u/edge_v"):
        category_circles(u, v + 10, length, g, d, [100.0])


# --- the faces shortcut gives the same polygon as buffering every piece ------------------


def test_network_faces_clean_and_not():
    # Two blocks side by side; a dangle pokes into the left one; a footbridge crosses the
    # right one without a node; a duplicate of the top-left edge.
    nodes = [(0, 0), (100, 0), (200, 0), (0, 100), (100, 100), (200, 100), (50, 50),
             (150, -20), (150, 120), (300, 300)]
    edges = [(0, 1), (1, 2), (3, 4), (4, 5), (0, 3), (1, 4), (2, 5),  # two blocks
             (4, 6),            # dangle into the left block
             (7, 8),            # crossing bridge through the right block
             (3, 4)]            # duplicate edge
    u, v, length, g, xy = graph(nodes, edges)
    faces = network_faces(g, buffer_m=BUF)
    assert not faces.clean.any()  # dangle + duplicate (left), bridge (right)
    edges_ok = edges[:7]
    u, v, length, g, xy = graph(nodes[:6], edges_ok)
    faces = network_faces(g, buffer_m=BUF)
    assert faces.n_faces == 2 and faces.clean.all()
    assert faces.sides.tolist() == [4, 4]
    # Shared edge 1-4 has a face on each side; outer edges one.
    assert ((faces.left >= 0) & (faces.right >= 0)).tolist() == [False] * 5 + [True, False]
    assert np.allclose(shapely.area(faces.holes), 80.0 * 80.0)


def messy_network():
    """A jittered grid with dangles, a crossing bridge, a duplicate and a curved edge."""
    u, v, length, g, xy = grid(n=7, spacing=100.0, seed=5)
    n = len(xy)
    extra_nodes = np.array([[150.0, 150.0], [250.0, -30.0], [250.0, 630.0]])
    xy2 = np.vstack([xy, extra_nodes])
    eu = np.concatenate([u, [8, n + 1, 10]])
    ev = np.concatenate([v, [n, n + 2, 11]])
    geoms = np.concatenate([g, [None, None, None]])
    eu = np.concatenate([eu, [u[3]]])
    ev = np.concatenate([ev, [v[3]]])
    curved = LineString([xy2[u[3]], (xy2[u[3]] + xy2[v[3]]) / 2 + [15, 15], xy2[v[3]]])
    geoms = np.concatenate([geoms, [curved]])
    geoms = edge_lines(eu, ev, xy2[:, 0], xy2[:, 1], geoms)
    return eu, ev, shapely.length(geoms), geoms, xy2


@pytest.mark.parametrize("net", ["grid", "messy"])
def test_faces_method_matches_buffers(net):
    u, v, length, g, xy = grid(n=7) if net == "grid" else messy_network()
    n = len(xy)
    src = [0, 24, 40]
    dist = dijkstra(sp.csr_array((length, (np.minimum(u, v), np.maximum(u, v))), shape=(n, n)),
                    directed=False, indices=src)
    S = as_sparse(dist, 700.0)
    faces = network_faces(g, buffer_m=BUF)
    assert faces.clean.sum() >= 20  # the shortcut is exercised
    breaks = [150.0, 400.0, 700.0]
    a = facility_circles(u, v, length, g, S, src, breaks, buffer_m=BUF, faces=faces)
    b = facility_circles(u, v, length, g, S, src, breaks, buffer_m=BUF, method="buffers")
    assert np.allclose(a.reached_length_m, b.reached_length_m)
    assert shapely.is_valid(a.geometry.values).all()
    diff = shapely.area(shapely.symmetric_difference(a.geometry.values, b.geometry.values))
    assert np.all(diff <= 2e-3 * b.area_m2.to_numpy())  # arc approximations only
    cat_a = category_circles(u, v, length, g, dist.min(0), breaks, buffer_m=BUF)
    cat_b = category_circles(u, v, length, g, dist.min(0), breaks, buffer_m=BUF,
                             method="buffers")
    diff = shapely.area(shapely.symmetric_difference(cat_a.geometry.values,
                                                     cat_b.geometry.values))
    assert np.all(diff <= 2e-3 * cat_b.area_m2.to_numpy())
    for k in range(3):
        check_against_samples(cat_a.geometry.iloc[k], g, u, v, length, dist.min(0), breaks[k],
                              n_probe=1500)


def test_fully_reached_block_keeps_its_hole():
    u, v, length, g, xy = square()
    d = distances(u, v, length, 4, [0])
    circ = category_circles(u, v, length, g, d, [400.0], buffer_m=BUF)
    poly = circ.geometry.iloc[0]
    assert len(poly.interiors) == 1
    assert not poly.contains(Point(50, 50)) and poly.contains(Point(50, BUF - 1))
    # Area by hand: 120 x 120 outer square with rounded corners, minus the 80 x 80 hole.
    outer = 120.0 ** 2 - 4 * BUF ** 2 + shapely.area(Point(0, 0).buffer(BUF, quad_segs=4))
    assert circ.area_m2.iloc[0] == pytest.approx(outer - 80.0 ** 2, rel=1e-9)
    assert circ.hull_overstatement.iloc[0] == pytest.approx(outer / (outer - 6400) - 1)


def test_group_union_in_chunks_equals_union_per_group():
    from coverage.core.isochrones import _union_groups
    rng = np.random.default_rng(0)
    group = np.sort(rng.integers(0, 50, 400))
    discs = shapely.buffer(shapely.points(rng.uniform(0, 100, (400, 2))), 5)
    got = _union_groups(discs, group, 60, max_cells=30)  # many small chunks
    for k in range(60):  # oracle loop
        ref = shapely.union_all(discs[group == k])
        assert got[k].equals(ref) or (got[k].is_empty and ref.is_empty)


# --- threads ---------------------------------------------------------------------------


def test_run_tasks_keeps_list_order_and_raises():
    import time
    from coverage.core.isochrones import default_workers, run_tasks

    assert 1 <= default_workers() <= isochrones.MAX_WORKERS
    # the first task finishes last: results still come in the list's order
    tasks = [partial(lambda k: (time.sleep(0.05 * (4 - k)), k)[1], k) for k in range(4)]
    assert run_tasks(tasks, workers=3) == [0, 1, 2, 3] == run_tasks(tasks, workers=1)

    def boom():
        raise InputError("no", field="x", fix="y")
    with pytest.raises(InputError):
        run_tasks([lambda: 1, boom, lambda: 2], workers=2)


def test_raster_circles_on_threads_same_bits_as_one_thread():
    """Categories drawn at once on threads sharing one CircleGrid (and its caches) give the
    same WKB as one after another."""
    from coverage.core.isochrones import circle_grid, run_tasks

    u, v, length, g, xy = grid()
    n = len(xy)
    a = sp.csr_array((length, (u, v)), shape=(n, n))
    sets = [[0], [14, 33], [5, 20, 27], [8], [1, 2, 3, 30]]

    def draw(src, grid_):
        dist = dijkstra(a, directed=False, indices=src)
        kw = dict(buffer_m=BUF, method="raster", grid=grid_, cell_m=3.0)
        cat = isochrones.category_circles(u, v, length, g, dist.min(axis=0), [100.0, 250.0], **kw)
        fac = isochrones.facility_circles(u, v, length, g, as_sparse(dist, 250.0),
                                          np.array(src), [250.0], **kw)
        return shapely.to_wkb(np.concatenate([cat.geometry.values, fac.geometry.values]))

    one = run_tasks([partial(draw, s, circle_grid(g, BUF, 3.0)) for s in sets], workers=1)
    shared = circle_grid(g, BUF, 3.0)
    for _ in range(3):
        many = run_tasks([partial(draw, s, shared) for s in sets], workers=4)
        assert [list(x) for x in many] == [list(x) for x in one]


def test_edge_checks_and_incidence_kept_while_the_network_lives():
    """The checked edge lines and the node-edge incidence are built once per network (its
    arrays, by identity), and forgotten with it."""
    import gc

    u, v, length, g, xy = grid()
    made = []

    def make():
        made.append(1)
        return object()

    a = isochrones._memo("test", (u, v, None), make)
    assert isochrones._memo("test", (u, v, None), make) is a and len(made) == 1
    u2 = u.copy()                                  # equal values, another array: built again
    assert isochrones._memo("test", (u2, v, None), make) is not a and len(made) == 2
    n_keys = len(isochrones._MEMO)
    del u2
    gc.collect()
    assert len(isochrones._MEMO) == n_keys - 1
    lines = isochrones._edge_lines(u, v, None, None, g)
    assert isochrones._edge_lines(u, v, None, None, g) is lines
    assert all(x.equals(y) for x, y in zip(lines, edge_lines(u, v, None, None, g)))
