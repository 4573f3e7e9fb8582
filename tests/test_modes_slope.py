"""Travel modes and slope (issue 14): every expected figure is computed by hand from the physics
(Tobler's hiking function as published, speeds by road class), never read back from the code.

* a 3-edge hill on a linear DEM: walking times uphill and downhill to 1e-6 min, also for points
  inserted mid-edge, on edges whose grade changes along them;
* a flat DEM gives today's distances bit for bit;
* speeds by road class (the packaged e-bike, a custom mode with walked and closed classes);
* monotonicity: a faster mode, a larger cutoff, one more facility never make coverage worse;
* the directed junction search equals networkx on random hilly graphs with parallel roads, loops
  and points inserted into edges (the reference splits each edge at its points from the DEM's
  pieces itself);
* DEM reading (CRS, nodata, no overlap) and the class map of Chinese road layers."""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import rasterio
import scipy.sparse as sp
import shapely
from pyproj import CRS, Transformer
from rasterio.transform import from_origin
from shapely.geometry import LineString

from coverage.core.access import build_access_graph, nearest, reach_matrix
from coverage.core.costs import EdgeCosts, mode_costs, sample_fractions, slope_profile
from coverage.core.modes import ModeSpec, map_road_classes, packaged_modes
from coverage.core.network import from_edge_arrays
from coverage.errors import InputError
from coverage.io.dem import edge_elevations, read_dem

UTM = CRS.from_epsg(32650)
X0, Y0 = 450_000.0, 4_420_000.0          # near Beijing, UTM 50N
WALK_KMH = 4.0
M_PER_MIN = WALK_KMH * 1000 / 60          # flat-walking metres per minute
ROOT = Path(__file__).resolve().parents[1]


def tobler_kmh(grade):
    """Tobler (1993): W = 6 exp(-3.5 |dh/dx + 0.05|) km/h."""
    return 6.0 * math.exp(-3.5 * abs(grade + 0.05))


def walk_min(dx, grade, kmh=WALK_KMH):
    """Minutes to walk ``dx`` horizontal metres on ``grade`` at a flat speed of ``kmh``: Tobler's
    speed scaled so that flat ground is walked at ``kmh``."""
    v = kmh * tobler_kmh(grade) / tobler_kmh(0.0)
    return dx / (v * 1000 / 60)


def write_dem(path, z, x_left, y_top, cell, crs, nodata=-9999.0):
    z = np.asarray(z, dtype=np.float32)
    prof = dict(driver="GTiff", height=z.shape[0], width=z.shape[1], count=1, dtype="float32",
                transform=from_origin(x_left, y_top, cell, cell), nodata=nodata)
    if crs is not None:
        prof["crs"] = crs
    with rasterio.open(path, "w", **prof) as dst:
        dst.write(z, 1)
    return path


def linear_dem(path, grade_x, *, cell=10.0, half=600.0, z0=100.0, grade_y=0.0):
    """A plane z = z0 + grade_x (x - X0) + grade_y (y - Y0) sampled at the cell centres, which lie
    on multiples of ``cell`` (+ cell/2) around (X0, Y0); bilinear interpolation reproduces it."""
    n = int(2 * half / cell)
    xc = X0 - half + cell * (np.arange(n) + 0.5)
    yc = Y0 + half - cell * (np.arange(n) + 0.5)
    z = z0 + grade_x * (xc[None, :] - X0) + grade_y * (yc[:, None] - Y0)
    return write_dem(path, z, X0 - half, Y0 + half, cell, UTM)


def net_of(nodes, edges, classes=None):
    """A network from {name: (x, y)} (relative to X0, Y0) and [(u, v, [(x, y) ...] or None)]."""
    names = list(nodes)
    xy = np.array([nodes[k] for k in names], dtype=float) + [X0, Y0]
    geoms = []
    for u, v, pts in edges:
        pts = [nodes[u], *(pts or []), nodes[v]]
        geoms.append(LineString(np.asarray(pts, float) + [X0, Y0]))
    return from_edge_arrays(np.array(names), xy[:, 0], xy[:, 1], np.array([e[0] for e in edges]),
                            np.array([e[1] for e in edges]), geoms, crs=UTM, road_class=classes)


def dem_costs(net, dem_path, factor=None):
    dem = read_dem(dem_path, net.crs, (net.node_x.min(), net.node_y.min(), net.node_x.max(), net.node_y.max()))
    ptr, z = edge_elevations(net, dem)
    prof = slope_profile(net, ptr, z)
    f = np.ones(net.n_edges) if factor is None else factor
    return mode_costs(net, f, prof), prof


def dense(m):
    out = np.full(m.shape, np.inf)
    c = sp.coo_array(m)
    out[c.row, c.col] = c.data
    return out


# ----------------------------------------------------------------------------- the hill by hand

G = 0.125   # the plane's grade eastwards: 1.25 m per 10 m cell (exact in float32)

# A -> B east (rising at G), B -> C north (level), C -> D west 200 m (falling at G); D -> E a
# road that goes west 100 m (falling) then north 100 m (level): its grade changes along it
HILL_NODES = {"A": (0, 0), "B": (100, 0), "C": (100, 100), "D": (-100, 100), "E": (-200, 200)}
HILL_EDGES = [("A", "B", None), ("B", "C", None), ("C", "D", None), ("D", "E", [(-200, 100)])]


@pytest.fixture(scope="module")
def hill(tmp_path_factory):
    path = linear_dem(tmp_path_factory.mktemp("dem") / "plane.tif", G)
    net = net_of(HILL_NODES, HILL_EDGES)
    costs, prof = dem_costs(net, path)
    return net, costs, prof, path


def test_hill_edge_costs_are_tobler_by_hand(hill):
    net, costs, prof, _ = hill
    assert prof.nodata_pieces == 0 and prof.max_grade == pytest.approx(G)
    fwd, bwd = costs.fwd / M_PER_MIN, costs.bwd / M_PER_MIN
    assert fwd[0] == pytest.approx(walk_min(100, G), abs=1e-9)          # A -> B uphill
    assert bwd[0] == pytest.approx(walk_min(100, -G), abs=1e-9)         # B -> A downhill
    assert fwd[1] == bwd[1] == pytest.approx(walk_min(100, 0), abs=1e-9)
    assert fwd[2] == pytest.approx(walk_min(200, -G), abs=1e-9)         # C -> D downhill
    assert bwd[2] == pytest.approx(walk_min(200, G), abs=1e-9)
    assert fwd[3] == pytest.approx(walk_min(100, -G) + walk_min(100, 0), abs=1e-9)
    assert bwd[3] == pytest.approx(walk_min(100, 0) + walk_min(100, G), abs=1e-9)
    # uphill is slower than downhill by far more than rounding: 2.32 vs 1.64 min for 100 m
    assert fwd[0] - bwd[0] > 0.6
    # only the edge whose grade changes along it keeps knots
    assert costs.uniform.tolist() == [True, True, True, False]


def test_hill_walks_to_the_facility_differ_by_direction(hill):
    net, costs, _, _ = hill
    up = walk_min(100, G) + walk_min(100, 0) + walk_min(200, -G)        # A to D
    down = walk_min(200, G) + walk_min(100, 0) + walk_min(100, -G)      # D to A
    assert abs(up - down) > 0.5
    pts = np.array([HILL_NODES["A"], HILL_NODES["D"]], float) + [X0, Y0]
    # residents walk TO the facility: search from the facility on the reversed costs
    ag = build_access_graph(net, pts[:, 0], pts[:, 1], 5, costs=costs.reversed())
    d, who = nearest(ag, [1], [0], 1e9)            # facility at D, resident at A
    assert d[0] / M_PER_MIN == pytest.approx(up, abs=1e-6) and who[0] == 0
    d, _ = nearest(ag, [0], [1], 1e9)              # facility at A, resident at D
    assert d[0] / M_PER_MIN == pytest.approx(down, abs=1e-6)
    # the same walks searched forwards from the resident on the costs as they are
    ag = build_access_graph(net, pts[:, 0], pts[:, 1], 5, costs=costs)
    d, _ = nearest(ag, [0], [1], 1e9)
    assert d[0] / M_PER_MIN == pytest.approx(up, abs=1e-6)
    m = reach_matrix(ag, ag.point_node, ag.point_node, 1e9)
    assert dense(m)[0, 1] / M_PER_MIN == pytest.approx(up, abs=1e-6)
    assert dense(m)[1, 0] / M_PER_MIN == pytest.approx(down, abs=1e-6)
    # a time limit between the two: the facility is within it one way only
    cut = (up + down) / 2 * M_PER_MIN
    d, _ = nearest(ag, [0], [1], cut)
    assert np.isinf(d[0]) == (up > down)
    d, _ = nearest(ag, [1], [0], cut)
    assert np.isinf(d[0]) == (down > up)


def test_points_inserted_mid_edge_are_charged_their_pieces(hill):
    net, costs, _, _ = hill
    # on C-D 60 m west of C, 5 m north of the road; on D-E 50 m along (west part, falling) and
    # 150 m along (north part, level), 3 m off the road; on A-B 25 m east of A, 4 m south
    P = [(40, 105), (-150, 97), (-197, 150), (25, -4)]
    pts = np.array([HILL_NODES["A"], *P], float) + [X0, Y0]
    ag = build_access_graph(net, pts[:, 0], pts[:, 1], 10, costs=costs)
    assert ag.point_snap[1:].tolist() == pytest.approx([5, 3, 3, 4])
    A_to_C = walk_min(100, G) + walk_min(100, 0)
    C_to_A = walk_min(100, 0) + walk_min(100, -G)
    A_to_D = A_to_C + walk_min(200, -G)
    D_to_A = walk_min(200, G) + C_to_A
    snap = [5, 3, 3, 4]
    to_pts = [A_to_C + walk_min(60, -G), A_to_D + walk_min(50, -G),
              A_to_D + walk_min(100, -G) + walk_min(50, 0), walk_min(25, G)]
    from_pts = [walk_min(60, G) + C_to_A, walk_min(50, G) + D_to_A,
                walk_min(50, 0) + walk_min(100, G) + D_to_A, walk_min(25, -G)]
    for i in range(4):
        d, _ = nearest(ag, [0], [i + 1], 1e9)                          # from A to the point
        assert d[0] / M_PER_MIN == pytest.approx(to_pts[i] + snap[i] / M_PER_MIN, abs=1e-6), i
        d, _ = nearest(ag, [i + 1], [0], 1e9)                          # from the point to A
        assert d[0] / M_PER_MIN == pytest.approx(from_pts[i] + snap[i] / M_PER_MIN, abs=1e-6), i
    # two points on the same edge with knots: along the edge only, both ways
    d, _ = nearest(ag, [2], [3], 1e9)
    assert d[0] / M_PER_MIN == pytest.approx((3 + 3) / M_PER_MIN + walk_min(50, -G) + walk_min(50, 0),
                                             abs=1e-6)
    d, _ = nearest(ag, [3], [2], 1e9)
    assert d[0] / M_PER_MIN == pytest.approx((3 + 3) / M_PER_MIN + walk_min(50, 0) + walk_min(50, G),
                                             abs=1e-6)
    m = dense(reach_matrix(ag, ag.point_node, ag.point_node, 1e9))
    assert m[0, 1:] / M_PER_MIN == pytest.approx(np.add(to_pts, np.divide(snap, M_PER_MIN)), abs=1e-6)
    assert m[1:, 0] / M_PER_MIN == pytest.approx(np.add(from_pts, np.divide(snap, M_PER_MIN)), abs=1e-6)
    # along() itself: the cost from u to the point and from the point back to u
    cf, cb = costs.along([3, 3, 0], [0.25, 0.75, 0.25])
    assert cf / M_PER_MIN == pytest.approx([walk_min(50, -G), walk_min(100, -G) + walk_min(50, 0),
                                            walk_min(25, G)], abs=1e-9)
    assert cb / M_PER_MIN == pytest.approx([walk_min(50, G), walk_min(50, 0) + walk_min(100, G),
                                            walk_min(25, -G)], abs=1e-9)


# ----------------------------------------------------------------------------- reading the DEM


def lonlat_plane_dem(path, cell_deg, *, a=500.0, b=900.0, c=-400.0, lon0=116.0, lat0=39.85, n=60):
    """An EPSG:4326 DEM z = a + b (lon - lon0) + c (lat - lat0) at its cell centres."""
    lon = lon0 - n / 2 * cell_deg + cell_deg * (np.arange(n) + 0.5)
    lat = lat0 + n / 2 * cell_deg - cell_deg * (np.arange(n) + 0.5)
    z = a + b * (lon[None, :] - lon0) + c * (lat[:, None] - lat0)
    write_dem(path, z, lon0 - n / 2 * cell_deg, lat0 + n / 2 * cell_deg, cell_deg, "EPSG:4326")
    return lambda lo, la: a + b * (lo - lon0) + c * (la - lat0)


def random_lines_net(seed, x0, y0, size=1500.0, n=12):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, size, (n, 2)) + [x0, y0]
    u = np.arange(n - 1)
    v = u + 1
    mids = (xy[u] + xy[v]) / 2 + rng.normal(0, 100, (n - 1, 2))
    geoms = [LineString([xy[a], m, xy[b]]) for a, b, m in zip(u, v, mids)]
    return from_edge_arrays(np.arange(n), xy[:, 0], xy[:, 1], u, v, geoms, crs=UTM)


@pytest.mark.parametrize("cell_deg", [1 / 3600, 0.005])   # SRTM's 1 arc-second; a coarse 0.005 deg
def test_geographic_dem_under_a_projected_network(tmp_path, cell_deg):
    to_ll = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    lon0, lat0 = to_ll.transform(X0 + 700, Y0 + 700)
    n = int(round(0.05 / cell_deg)) + 2 if cell_deg < 0.001 else 12
    plane = lonlat_plane_dem(tmp_path / "ll.tif", cell_deg, lon0=lon0, lat0=lat0, n=n)
    net = random_lines_net(1, X0, Y0, 1400)
    dem = read_dem(tmp_path / "ll.tif", net.crs,
                   (net.node_x.min(), net.node_y.min(), net.node_x.max(), net.node_y.max()))
    assert dem.cell_m == pytest.approx(cell_deg * 111_320 * math.cos(math.radians(lat0)), rel=0.01)
    ptr, z = edge_elevations(net, dem)
    _, frac, x, y = sample_fractions(net, dem.cell_m)
    lo, la = to_ll.transform(x, y)
    # every sample has an elevation, the plane's (bilinear is exact on a plane), also the samples
    # within a cell of the window's edge (a coarse DEM's cell is wider than the window's margin)
    assert np.isfinite(z).all()
    # (float32 storage: 3e-5 m at 500 m; a held edge value would be off by metres)
    assert z == pytest.approx(plane(np.asarray(lo), np.asarray(la)), abs=1e-4)
    # at least one sample per cell along each edge, both ends included
    glen = shapely.length(net.edge_geometry)
    assert (np.diff(ptr) - 1 >= np.floor(glen / dem.cell_m)).all()
    assert frac[ptr[:-1]].tolist() == [0.0] * net.n_edges and frac[ptr[1:] - 1].tolist() == [1.0] * net.n_edges


def test_dem_errors_name_the_file_and_the_key(tmp_path):
    net = net_of(HILL_NODES, HILL_EDGES)
    b = (net.node_x.min(), net.node_y.min(), net.node_x.max(), net.node_y.max())
    z = np.full((20, 20), 50.0)
    cases = {
        "nocrs.tif": (write_dem(tmp_path / "nocrs.tif", z, X0 - 100, Y0 + 300, 20, None), "no CRS"),
        "far.tif": (write_dem(tmp_path / "far.tif", z, X0 + 50_000, Y0 + 300, 20, UTM), "does not overlap"),
        "nodata.tif": (write_dem(tmp_path / "nodata.tif", np.full((20, 20), -9999.0), X0 - 300, Y0 + 400, 40,
                                 UTM), "only nodata"),
        "missing.tif": (tmp_path / "missing.tif", "not found"),
    }
    (tmp_path / "text.tif").write_text("not a raster", encoding="utf-8")
    cases["text.tif"] = (tmp_path / "text.tif", "cannot be read")
    for name, (path, words) in cases.items():
        with pytest.raises(InputError) as e:
            read_dem(path, net.crs, b)
        assert e.value.field == "network.dem", name
        assert e.value.file == str(path) and name in str(e.value), name
        assert words in e.value.problem, (name, e.value.problem)
        assert e.value.fix


def test_nodata_pieces_count_as_flat(tmp_path):
    # the plane, with a hole of nodata: the two columns of cells centred at x = 45 and 55 m
    path = linear_dem(tmp_path / "hole.tif", G)
    with rasterio.open(path, "r+") as dst:
        a = dst.read(1)
        cols = ((np.array([45.0, 55.0]) + 600 - 5) / 10).astype(int)
        a[:, cols] = dst.nodata
        dst.write(a, 1)
    net = net_of({"A": (0, 0), "B": (100, 0)}, [("A", "B", None)])
    costs, prof = dem_costs(net, path)
    # samples every 10 m; those at 40, 50 and 60 m lie between a cell centre of the hole and
    # the next one, so they have no elevation: the 4 pieces 30-40 ... 60-70 m are walked as flat
    assert prof.nodata_pieces == 4
    assert costs.fwd[0] / M_PER_MIN == pytest.approx(walk_min(60, G) + walk_min(40, 0), abs=1e-9)
    assert costs.bwd[0] / M_PER_MIN == pytest.approx(walk_min(60, -G) + walk_min(40, 0), abs=1e-9)
    dem = read_dem(path, net.crs, (X0, Y0, X0 + 100, Y0))
    # a point at the centre of a good cell next to the hole has that cell's elevation (the hole's
    # cell has no weight there); a point between it and the hole's centre has none
    z = dem.sample([X0 + 35, X0 + 35.5, X0 + 65, X0 + 64], [Y0 + 5, Y0 + 5, Y0 + 5, Y0 + 5], UTM)
    assert z[0] == pytest.approx(100 + G * 35) and z[2] == pytest.approx(100 + G * 65)
    assert np.isnan(z[1]) and np.isnan(z[3])


# ----------------------------------------------------------------------------- flat = today


@pytest.fixture(scope="module")
def helsinki():
    from coverage.io.network import load_network
    return load_network("pbf", ROOT / "data" / "sample" / "helsinki.osm.pbf", crs=CRS.from_epsg(32635))


def test_flat_dem_gives_todays_distances_bit_for_bit(tmp_path, helsinki):
    net = helsinki
    x0, y0, x1, y1 = net.node_x.min(), net.node_y.min(), net.node_x.max(), net.node_y.max()
    z = np.full((int((y1 - y0) / 20) + 20, int((x1 - x0) / 20) + 20), 37.25)
    path = write_dem(tmp_path / "flat.tif", z, x0 - 200, y1 + 200, 20, CRS.from_epsg(32635))
    costs, prof = dem_costs(net, path)
    assert prof.nodata_pieces == 0 and prof.max_grade == 0.0
    assert np.array_equal(costs.fwd, net.edge_length) and np.array_equal(costs.bwd, net.edge_length)
    assert costs.knot_ptr is None or costs.uniform.all()
    walk = packaged_modes()["walk"].edge_factors(net.edge_class, WALK_KMH)
    assert np.array_equal(mode_costs(net, walk).fwd, net.edge_length)
    rng = np.random.default_rng(3)
    xs, ys = rng.uniform(x0, x1, 600), rng.uniform(y0, y1, 600)
    today = build_access_graph(net, xs, ys, 300)
    flat = build_access_graph(net, xs, ys, 300, costs=costs)
    flat_rev = build_access_graph(net, xs, ys, 300, costs=costs.reversed().round_trip())
    fac = np.arange(0, 600, 23)
    dem_pts = np.setdiff1d(np.arange(600), fac)
    for cutoff in (333.3333333333333, 1000.0, np.inf):
        d0, w0 = nearest(today, fac, dem_pts, cutoff)
        for ag in (flat, flat_rev):
            d1, w1 = nearest(ag, fac, dem_pts, cutoff)
            assert np.array_equal(d0, d1) and np.array_equal(w0, w1)      # ==, not approx
    m0 = reach_matrix(today, today.point_node[fac], today.point_node[dem_pts], 800.0)
    m1 = reach_matrix(flat, flat.point_node[fac], flat.point_node[dem_pts], 800.0)
    assert np.array_equal(m0.indptr, m1.indptr) and np.array_equal(m0.indices, m1.indices)
    assert np.array_equal(m0.data, m1.data)


# ----------------------------------------------------------------------------- speeds by class

# A -> B primary 1500 m, B -> C service 600 m, C -> D footway 100 m; A -> D a track of
# 300 + 1552.4 m; D -> E a road of no class, 300 m; F a dead end on a trunk from B, 400 m
CLASS_NODES = {"A": (0, 0), "B": (1500, 0), "C": (1500, 600), "D": (1500, 700), "E": (1800, 700),
               "F": (1500, -400)}
CLASS_EDGES = [("A", "B", None), ("B", "C", None), ("C", "D", None), ("A", "D", [(0, 300)]),
               ("D", "E", None), ("B", "F", None)]
CLASSES = ["primary", "service", "footway", "track", None, "trunk"]
TRACK = 300 + math.hypot(1500, 400)


def minutes(m, kmh):
    return m / (kmh * 1000 / 60)


def class_walks(spec):
    """Minutes from the points (A, 900 m along A-B 20 m off it, 200 m along B-C, E, F) to D, for
    a mode: search from D on the reversed costs."""
    net = net_of(CLASS_NODES, CLASS_EDGES, np.array(CLASSES, dtype=object))
    pts = np.array([CLASS_NODES["D"], CLASS_NODES["A"], (900, 20), (1500, 200), CLASS_NODES["E"],
                    CLASS_NODES["F"]], float) + [X0, Y0]
    costs = mode_costs(net, spec.edge_factors(net.edge_class, WALK_KMH))
    ag = build_access_graph(net, pts[:, 0], pts[:, 1], 50, costs=costs.reversed())
    d, _ = nearest(ag, [0], [1, 2, 3, 4, 5], np.inf)
    return d / M_PER_MIN


def test_speeds_by_road_class_by_hand():
    walk = class_walks(packaged_modes()["walk"])
    assert walk == pytest.approx([minutes(TRACK, 4), minutes(20 + 600 + 600 + 100, 4), minutes(500, 4),
                                  minutes(300, 4), minutes(400 + 700, 4)], abs=1e-9)
    ebike = packaged_modes()["ebike"]
    assert ebike.default_kmh == 15 and ebike.speeds_kmh["service"] == 12 and "footway" in ebike.walk_classes
    got = class_walks(ebike)
    # the e-bike rides the primary (15 km/h) and the service lane (12), and pushes on the footway
    # (the walking speed): 6 + 3 + 1.5 = 10.5 min, faster than the track at 10 km/h (11.1 min)
    want = [minutes(1500, 15) + minutes(600, 12) + minutes(100, 4),
            minutes(20, 4) + minutes(600, 15) + minutes(600, 12) + minutes(100, 4),   # the snap leg is walked
            minutes(400, 12) + minutes(100, 4),
            minutes(300, 15),                                                           # no class: default
            minutes(400, 15) + minutes(600, 12) + minutes(100, 4)]
    assert want[0] == pytest.approx(10.5) and minutes(TRACK, 10) > 10.5
    assert got == pytest.approx(want, abs=1e-9)
    # a mode of one's own: fast on the primary, slow on the track, the footway walked, the service
    # lane and the trunk closed
    moto = ModeSpec("moto", default_kmh=30, speeds_kmh={"primary": 60, "track": 20}, walk_classes=("footway",),
                    exclude_classes=("service", "trunk"))
    got = class_walks(moto)
    want = [minutes(TRACK, 20),
            minutes(20, 4) + minutes(900, 60) + minutes(TRACK, 20),
            np.inf,                            # on the closed service lane: reaches nothing
            minutes(300, 30),
            np.inf]                            # at the end of the closed trunk
    assert got == pytest.approx(want, abs=1e-9)
    assert moto.edge_factors(np.array(CLASSES, dtype=object), WALK_KMH).tolist() == [
        4 / 60, np.inf, 1.0, 4 / 20, 4 / 30, np.inf]


def test_round_trip_is_the_mean_and_reversed_swaps(hill):
    net, costs, _, _ = hill
    r = costs.reversed()
    assert r.fwd is costs.bwd and r.bwd is costs.fwd
    assert r.knot_cf is costs.knot_cb and r.knot_cb is costs.knot_cf
    rr = r.reversed()
    assert rr.fwd is costs.fwd and rr.knot_cf is costs.knot_cf
    f, b = costs.along([3, 3], [0.25, 0.75])
    fr, br = r.along([3, 3], [0.25, 0.75])
    assert np.array_equal(f, br) and np.array_equal(b, fr)
    rt = costs.round_trip()
    assert np.array_equal(rt.fwd, rt.bwd) and rt.fwd == pytest.approx((costs.fwd + costs.bwd) / 2, rel=1e-15)
    ft, bt = rt.along([3, 3, 0], [0.25, 0.75, 0.4])
    f, b = costs.along([3, 3, 0], [0.25, 0.75, 0.4])
    assert np.array_equal(ft, bt) and ft == pytest.approx((f + b) / 2, rel=1e-15)
    # a walk there and back, halved: A to the point 150 m along D-E and back
    pts = np.array([HILL_NODES["A"], (-197, 150)], float) + [X0, Y0]
    ag = build_access_graph(net, pts[:, 0], pts[:, 1], 10, costs=rt)
    there = walk_min(100, G) + walk_min(100, 0) + walk_min(200, -G) + walk_min(100, -G) + walk_min(50, 0)
    back = walk_min(50, 0) + walk_min(100, G) + walk_min(200, G) + walk_min(100, 0) + walk_min(100, -G)
    for s, t in ((0, 1), (1, 0)):
        d, _ = nearest(ag, [s], [t], np.inf)
        assert d[0] / M_PER_MIN == pytest.approx(3 / M_PER_MIN + (there + back) / 2, abs=1e-6)
    # flat costs are their own round trip and reverse
    flat = EdgeCosts.lengths(net)
    assert flat.round_trip() is flat and flat.reversed().fwd is net.edge_length


def test_map_road_classes_of_chinese_road_layers():
    vals = ["县道", " 县道 ", "\u3000县道\u3000", "县道\t", "国道", "乡道", "村道", "机耕路", "ＳＥＣＯＮＤＡＲＹ",
            "Primary", "主干路", "支路", "步行街", "台阶", "未知的路", None, float("nan"), "", "  "]
    got = map_road_classes(np.array(vals, dtype=object)).tolist()
    assert got == ["secondary"] * 4 + ["trunk", "tertiary", "unclassified", "track", "secondary", "primary",
                                       "primary", "residential", "pedestrian", "steps", "未知的路",
                                       None, None, None, None]
    # the study's own map comes first, matched the same way (full-width, spaces, case)
    user = {" 县道": "Tertiary", "ＡＢＣ": "service", "村道": "track"}
    got = map_road_classes(["县道", "村道", "abc", "Abc ", "乡道"], user).tolist()
    assert got == ["tertiary", "track", "service", "service", "tertiary"]
    # then a mode prices the mapped classes
    f = packaged_modes()["motorbike"].edge_factors(map_road_classes(["县道", "国道", "台阶", "未知的路"]), 4.0)
    assert f.tolist() == [4 / 40, 4 / 50, 1.0, 4 / 30]


# ----------------------------------------------------------------------------- random hilly graphs


def hills(x, y):
    """Two hills and a tilt over a 1 km square (grades up to ~20 %)."""
    x = np.asarray(x, float) - X0
    y = np.asarray(y, float) - Y0
    return (40 * np.exp(-((x - 300) ** 2 + (y - 400) ** 2) / (2 * 160.0 ** 2))
            + 25 * np.exp(-((x - 750) ** 2 + (y - 650) ** 2) / (2 * 110.0 ** 2)) + 0.03 * x + 200)


def hilly_net(seed):
    """Random roads over the hills, split into chains of two-neighbour nodes, with parallel roads,
    loops, a ring with no junction and dead ends, and random road classes."""
    rng = np.random.default_rng(seed)
    n = 16
    xy = rng.uniform(0, 1000, (n, 2))
    nodes = [tuple(p) for p in xy]
    edges = []

    def node(p):
        nodes.append(tuple(p))
        return len(nodes) - 1

    def wiggle(p, q):
        k = int(rng.integers(0, 3))
        return [tuple(p + (q - p) * (i + 1) / (k + 1) + rng.normal(0, 30, 2)) for i in range(k)]

    pairs = [(a, b) for a, b in zip(rng.integers(0, n, 26), rng.integers(0, n, 26)) if a != b]
    for a, b in pairs:
        k = int(rng.integers(0, 4))               # intermediate chain nodes
        pts = [xy[a]] + [xy[a] + (xy[b] - xy[a]) * (i + 1) / (k + 1) + rng.normal(0, 20, 2)
                         for i in range(k)] + [xy[b]]
        ids = [a] + [node(p) for p in pts[1:-1]] + [b]
        for i in range(len(ids) - 1):
            p, q = np.array(nodes[ids[i]]), np.array(nodes[ids[i + 1]])
            edges.append((ids[i], ids[i + 1], [tuple(p), *wiggle(p, q), tuple(q)]))
    for a, b, line in edges[:6]:                  # parallel roads bowing away
        p, q = np.array(nodes[a]), np.array(nodes[b])
        edges.append((a, b, [tuple(p), tuple((p + q) / 2 + rng.normal(0, 120, 2)), tuple(q)]))
    for a in (0, 1, 2, edges[0][1]):              # loops (one on a chain node)
        p = np.array(nodes[a])
        r = rng.uniform(30, 90)
        edges.append((a, a, [tuple(p), tuple(p + [r, 0]), tuple(p + [r, r]), tuple(p + [0, r]), tuple(p)]))
    c = rng.uniform(300, 700, 2)                  # a ring of five nodes, no junction
    ring = [node(c + 70 * np.array([np.cos(t), np.sin(t)])) for t in np.linspace(0, 2 * np.pi, 6)[:-1]]
    edges += [(ring[i], ring[(i + 1) % 5], [nodes[ring[i]], nodes[ring[(i + 1) % 5]]]) for i in range(5)]
    for a in (3, 4):                              # dead ends
        p = np.array(nodes[a])
        q = p + rng.normal(0, 80, 2)
        edges.append((a, node(q), [tuple(p), tuple(q)]))
    xy = np.array(nodes) + [X0, Y0]
    geoms = [LineString(np.array(line) + [X0, Y0]) for _, _, line in edges]
    classes = rng.choice(np.array(["primary", "residential", "service", "footway", "track", "steps"],
                                  dtype=object), len(edges))
    net = from_edge_arrays(np.arange(len(xy)), xy[:, 0], xy[:, 1], np.array([e[0] for e in edges]),
                           np.array([e[1] for e in edges]), geoms, crs=UTM, road_class=classes)
    return net, rng


SPACING = 10.0   # metres between elevation samples (a 10 m DEM)


def hilly_costs(net, factor, zfun=hills, spacing=SPACING):
    ptr, _, x, y = sample_fractions(net, spacing)
    return mode_costs(net, factor, slope_profile(net, ptr, zfun(x, y)))


def tobler_ratio(grade):
    return tobler_kmh(0.0) / tobler_kmh(grade)


def reference_graph(net, factor, ag, zfun=hills, spacing=SPACING):
    """networkx MultiDiGraph of the walks, built without the code under test: each edge cut into
    its pieces (elevation at n + 1 equal steps along the line, Tobler's speed on each piece), and
    split at the points snapped onto it; each point hangs on its road position by its snap leg."""
    G = nx.MultiDiGraph()
    G.add_nodes_from(("n", i) for i in range(net.n_nodes))
    on_edge = {}
    for p in np.flatnonzero(ag.point_edge >= 0):
        on_edge.setdefault(int(ag.point_edge[p]), []).append(int(p))
        G.add_edge(("p", int(p)), ("r", int(p)), weight=float(ag.point_snap[p]))
        G.add_edge(("r", int(p)), ("p", int(p)), weight=float(ag.point_snap[p]))
    for e in range(net.n_edges):
        geom = net.edge_geometry[e]
        glen, L, f = geom.length, float(net.edge_length[e]), float(factor[e])
        n = max(1, math.ceil(glen / spacing - 1e-9))
        pts = [geom.interpolate(j / n, normalized=True) for j in range(n + 1)]
        z = [float(zfun(q.x, q.y)) for q in pts]
        dx = glen / n
        pf = [f * L / n * tobler_ratio((z[j + 1] - z[j]) / dx) for j in range(n)]
        pb = [f * L / n * tobler_ratio(-(z[j + 1] - z[j]) / dx) for j in range(n)]
        cumf, cumb = np.r_[0.0, np.cumsum(pf)], np.r_[0.0, np.cumsum(pb)]

        def at(fr):
            j = min(int(fr * n), n - 1)
            t = fr * n - j
            return cumf[j] + t * pf[j], cumb[j] + t * pb[j]

        stops = sorted(on_edge.get(e, []), key=lambda p: (ag.point_frac[p], p))
        chain = [("n", int(net.edge_u[e]))] + [("r", p) for p in stops] + [("n", int(net.edge_v[e]))]
        pos = [0.0] + [float(ag.point_frac[p]) for p in stops] + [1.0]
        if not math.isfinite(f):                  # closed: a point exactly at an end is at it
            for node_, fr in zip(chain[1:-1], pos[1:-1]):
                for end, at_end in ((chain[0], fr == 0.0), (chain[-1], fr == 1.0)):
                    if at_end:
                        G.add_edge(node_, end, weight=0.0)
                        G.add_edge(end, node_, weight=0.0)
            continue
        c = [at(fr) for fr in pos]
        for i in range(len(chain) - 1):
            G.add_edge(chain[i], chain[i + 1], weight=c[i + 1][0] - c[i][0])
            G.add_edge(chain[i + 1], chain[i], weight=c[i + 1][1] - c[i][1])
    return G


def nx_nearest(G, sources, targets, cutoff):
    dist, _ = nx.multi_source_dijkstra(G, {("p", int(s)) for s in sources}, cutoff=cutoff)
    return np.array([dist.get(("p", int(t)), np.inf) for t in targets])


def hilly_points(net, rng, n=140):
    x0, y0 = X0, Y0
    pts = np.r_[rng.uniform(-30, 1030, (n, 2)) + [x0, y0], np.c_[net.node_x[:5], net.node_y[:5]],
                (rng.uniform(0, 1000, (3, 2)) + [x0, y0]).repeat(2, axis=0)]
    return pts[:, 0], pts[:, 1]


MODES = {"walk": None, "ebike": "ebike",
         "closed": ModeSpec("closed", default_kmh=20, speeds_kmh={"track": 8}, walk_classes=("footway",),
                            exclude_classes=("steps",))}


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("mode", list(MODES))
def test_directed_search_equals_networkx_on_hilly_graphs(seed, mode):
    net, rng = hilly_net(seed)
    assert net.report["loops_kept"] >= 4 and net.report["parallel_edges_kept"] >= 5
    spec = packaged_modes()["walk"] if MODES[mode] is None else (
        packaged_modes()[MODES[mode]] if isinstance(MODES[mode], str) else MODES[mode])
    factor = spec.edge_factors(net.edge_class, WALK_KMH)
    costs = hilly_costs(net, factor)
    assert not np.array_equal(costs.fwd, costs.bwd) and not costs.uniform.all()
    xs, ys = hilly_points(net, rng)
    n = len(xs)
    ag = build_access_graph(net, xs, ys, 120, costs=costs)
    snapped = _snapped_of(ag)
    G0 = reference_graph(net, factor, ag)
    Gr = G0.reverse(copy=True)
    Gm = nx.MultiDiGraph()                          # the round trip: the mean of both ways
    Gm.add_nodes_from(G0)
    Gm.add_weighted_edges_from((a, b, (w + Gr[a][b][k]["weight"]) / 2) for a, b, k, w in
                               G0.edges(keys=True, data="weight"))
    for c, G, reverse in ((costs, G0, False), (costs.reversed(), Gr, True), (costs.round_trip(), Gm, False)):
        ag = build_access_graph(net, xs, ys, 120, costs=c, snapped=snapped)
        ok = np.flatnonzero(ag.point_node >= 0)
        assert len(ok) > 100
        for fac in (ok[:6], ok[::9], ok[-3:]):
            tgt = np.setdiff1d(ok, fac)
            for cutoff in (300.0, 900.0, np.inf):
                d, who = nearest(ag, fac, tgt, cutoff)
                want = nx_nearest(G, fac, tgt, cutoff)
                assert np.array_equal(np.isfinite(d), np.isfinite(want)), (cutoff, reverse)
                assert np.allclose(d, want, rtol=0, atol=1e-6, equal_nan=True)
                hit = np.flatnonzero(np.isfinite(d))
                assert (who[hit] >= 0).all()
                # the facility named is at that distance
                for i in hit[:: max(1, len(hit) // 4)]:
                    assert nx_nearest(G, fac[[who[i]]], tgt[[i]], d[i] + 1e-6)[0] == pytest.approx(d[i], abs=1e-6)
        # every pair within a limit: the reach matrix against one networkx search per source
        src = ok[::11]
        m = dense(reach_matrix(ag, ag.point_node[src], ag.point_node[ok], 700.0, chunk=3))
        for r, s in enumerate(src):
            want = nx_nearest(G, [s], ok, 700.0)
            assert np.array_equal(np.isfinite(m[r]), np.isfinite(want)), (r, reverse)
            assert np.allclose(m[r], want, atol=1e-6), (r, reverse)
        # road nodes as sources (siting candidates) to points
        nodes = np.arange(0, net.n_nodes, 4)
        m = dense(reach_matrix(ag, nodes, ag.point_node[ok], 600.0, chunk=5))
        for r, v in enumerate(nodes):
            dist = nx.single_source_dijkstra_path_length(G, ("n", int(v)), cutoff=600.0)
            want = np.array([dist.get(("p", int(p)), np.inf) for p in ok])
            assert np.allclose(m[r], want, atol=1e-6), (r, reverse)


def _snapped_of(ag):
    from coverage.core.access_graph import Snapped
    return Snapped(ag.point_edge, ag.point_snap, ag.point_frac, ag.point_x, ag.point_y, dict(ag.sets))


# ----------------------------------------------------------------------------- monotonicity


def _faster(spec, k):
    """``spec`` with every speed multiplied by ``k`` (walked classes stay walked)."""
    return ModeSpec(spec.name + "x", default_kmh=spec.default_kmh * k,
                    speeds_kmh={c: v * k for c, v in spec.speeds_kmh.items()},
                    walk_classes=spec.walk_classes, exclude_classes=spec.exclude_classes)


@pytest.mark.parametrize("seed", range(3))
def test_a_faster_mode_never_lowers_coverage(seed):
    net, rng = hilly_net(seed + 50)
    xs, ys = hilly_points(net, rng)
    ptr, _, x, y = sample_fractions(net, SPACING)
    prof = slope_profile(net, ptr, hills(x, y))
    walk, ebike, moto = (packaged_modes()[k] for k in ("walk", "ebike", "motorbike"))
    ladder = [walk, ebike, moto, _faster(moto, 2.0)]
    facs = [m.edge_factors(net.edge_class, WALK_KMH) for m in ladder]
    for a, b in zip(facs, facs[1:]):
        assert (b <= a).all()                     # each mode at least as fast on every road
    assert (facs[1] < facs[0]).any() and (facs[-1] < facs[1]).any()
    snapped = None
    for slope in (None, prof):
        prev = first = None
        for f in facs:
            c = mode_costs(net, f, slope).reversed()
            ag = build_access_graph(net, xs, ys, 120, costs=c, snapped=snapped)
            snapped = snapped or _snapped_of(ag)
            fac = np.flatnonzero(ag.snapped)[::13]
            dem_pts = np.setdiff1d(np.arange(len(xs)), fac)
            got = {t: nearest(ag, fac, dem_pts, t * M_PER_MIN)[0] for t in (3, 5, 10, 15)}
            if prev is not None:
                for t in got:
                    assert (got[t] <= prev[t] + 1e-9).all()
                    assert (np.isfinite(got[t]) >= np.isfinite(prev[t])).all()   # covered stays covered
            prev = got
            first = first or got
        # and the fastest covers strictly more than walking (the property is not vacuous)
        assert np.isfinite(prev[5]).sum() > np.isfinite(first[5]).sum()


@pytest.mark.parametrize("seed", range(3))
def test_larger_cutoff_and_more_facilities_never_lower_coverage(seed):
    net, rng = hilly_net(seed + 80)
    xs, ys = hilly_points(net, rng)
    costs = hilly_costs(net, packaged_modes()["walk"].edge_factors(net.edge_class, WALK_KMH)).reversed()
    ag = build_access_graph(net, xs, ys, 120, costs=costs)
    ok = np.flatnonzero(ag.snapped)
    fac, dem_pts = ok[:8], ok[8:]
    cutoffs = [100.0, 250.0, 400.0, 700.0, 1200.0, np.inf]
    full, _ = nearest(ag, fac, dem_pts, np.inf)
    prev_cov = np.zeros(len(dem_pts), dtype=bool)
    prev_m = None
    for cut in cutoffs:
        d, _ = nearest(ag, fac, dem_pts, cut)
        cov = np.isfinite(d)
        assert (cov >= prev_cov).all()
        # a larger limit only adds points; the distances found do not change
        assert np.array_equal(d[cov], full[cov]) and np.array_equal(cov, np.isfinite(full) & (full <= cut))
        prev_cov = cov
        if np.isfinite(cut):
            m = dense(reach_matrix(ag, ag.point_node[fac], ag.point_node[dem_pts], cut, chunk=3))
            if prev_m is not None:
                assert (np.isfinite(m) >= np.isfinite(prev_m)).all()
                both = np.isfinite(prev_m)
                assert np.allclose(m[both], prev_m[both], rtol=0, atol=1e-9)
            prev_m = m
    # one facility more: no distance grows; some shrink
    for cut in (400.0, np.inf):
        d0, _ = nearest(ag, fac, dem_pts, cut)
        grew = False
        for extra in dem_pts[::17]:
            d1, who = nearest(ag, np.r_[fac, extra], dem_pts, cut)
            assert (d1 <= d0).all()
            grew |= bool((d1 < d0).any())
            # where it got closer, the new facility is the nearest
            assert (who[d1 < d0] == len(fac)).all()
        assert grew


def test_numeric_class_codes_match_with_missing_values():
    # a road layer's integer class code column with a missing value is read as floats (1.0, 2.0,
    # nan): the codes still match the study's map, given as numbers or as text
    import pandas as pd
    col = pd.Series([1, 2, None, 3, 4]).to_numpy(dtype=object)
    assert col[0] == 1.0 and isinstance(col[0], float)
    got = map_road_classes(col, {1: "primary", "2": "track", 3.0: "service"}).tolist()
    assert got == ["primary", "track", None, "service", "4"]
    assert map_road_classes(np.array([2.5, 7], dtype=object), {"2.5": "path", 7: "steps"}).tolist() == ["path", "steps"]


# ----------------------------------------------------------------------------- the sample DEM


def _load(name):
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_sample_dem_script_reproduces_the_shipped_file(tmp_path):
    mod = _load("make_sample_dem")
    shipped = ROOT / "data" / "sample" / "dem.tif"
    z, transform, bounds = mod.make_dem()
    mod.write(tmp_path / "a.tif", z, transform)
    mod.write(tmp_path / "b.tif", *mod.make_dem()[:2])
    assert (tmp_path / "a.tif").read_bytes() == (tmp_path / "b.tif").read_bytes()     # deterministic
    with rasterio.open(shipped) as s, rasterio.open(tmp_path / "a.tif") as t:
        assert s.crs.to_epsg() == 4326 and s.dtypes == ("float32",) and s.nodata == -9999.0
        assert s.transform == t.transform and s.shape == t.shape
        assert np.array_equal(s.read(1), t.read(1))                                      # arrays, not bytes
        assert s.compression is not None and s.compression.name.lower() == "deflate"
        a = s.read(1)
        # 1 x 0.5 arc-second cells (about 15 m at 60 N), covering the communities plus 400 m
        assert s.res == pytest.approx((1 / 3600, 1 / 7200), rel=1e-12)
        sb = s.bounds
        assert sb.left < bounds[0] - 0.007 and sb.right > bounds[2] + 0.007
        assert sb.bottom < bounds[1] - 0.0036 and sb.top > bounds[3] + 0.0036
    assert shipped.stat().st_size < 300_000
    assert (a != -9999.0).all() and 0 < a.min() < a.max() < 100
    # the documented terrain: at the big hill's top the tilt and the hill add up by hand
    assert mod.terrain(np.array([-220.0]), np.array([420.0]))[0] == pytest.approx(
        20 - 0.004 * 220 + 0.012 * 420 + 40, abs=0.3)


def test_sample_dem_gives_hilly_streets():
    """The sample's streets on the shipped DEM: every sample has an elevation, and the grades are
    those of a hilly town (documented in data/DEM.md: up to about 15 %)."""
    mod = _load("make_sample_dem")
    s = mod.street_grades(ROOT / "data" / "sample" / "dem.tif")
    assert s["nodata_pieces"] == 0
    assert 0.12 < s["max_grade"] < 0.18
    assert 0.05 < s["share_over_5pct"] < 0.5 and s["share_over_10pct"] > 0.01


def test_int16_dem_with_voids_like_srtm(tmp_path):
    # SRTM is int16 metres with -32768 voids: the voids are no data, the rest whole metres
    half, cell = 300.0, 30.0
    n = int(2 * half / cell)
    xc = X0 - half + cell * (np.arange(n) + 0.5)
    z = np.broadcast_to((100 + 0.1 * (xc - X0)).round(), (n, n)).astype(np.int16).copy()
    z[:, 12] = -32768
    with rasterio.open(tmp_path / "srtm.tif", "w", driver="GTiff", height=n, width=n, count=1, dtype="int16",
                       crs=UTM, transform=from_origin(X0 - half, Y0 + half, cell, cell), nodata=-32768) as dst:
        dst.write(z, 1)
    dem = read_dem(tmp_path / "srtm.tif", UTM, (X0 - 100, Y0 - 100, X0 + 100, Y0 + 100))
    assert dem.z.dtype == np.float64 and dem.cell_m == 30.0
    x_void = X0 - half + cell * 12.5
    got = dem.sample([x_void - 30, x_void - 15, x_void, X0 - 30], [Y0 + 15] * 4, UTM)
    assert got[0] == z[0, 11] and np.isnan(got[1]) and np.isnan(got[2])
    assert got[3] == pytest.approx((z[0, 8] + z[0, 9]) / 2)
