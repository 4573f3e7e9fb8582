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
