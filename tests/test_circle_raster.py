"""The raster method of drawing life circles (coverage.core.circle_raster), the pipeline default.

Checked against the same oracle as the exact methods (every edge sampled every 0.25 m and
classified by min(d_u + s, d_v + L - s) <= t), with a tolerance of the cell: every reached
point is inside, every point nearer than the frontage minus 1.5 cells to a reached point is
inside, every point farther than the frontage plus 1.5 cells is outside. Also: the breaks
nest, the union of the facility circles is the category circle, the dilation equals scipy's,
the area is within a few percent of the exact buffers, chunking changes nothing, and the
result is the same bytes twice.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import shapely
from scipy import ndimage
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree
from shapely import Point

from coverage.core import bitgrid, circle_raster
from coverage.core.circle_raster import CircleGrid, _disc_rects, circle_grid
from coverage.core.trace import _cycles, _quads, rings, rings_of_bits
from coverage.core.trace import outline as trace
from coverage.core.isochrones import category_circles, facility_circles
from coverage.errors import InputError
from test_isochrones import as_sparse, distances, graph, messy_network, samples, square, t_graph
from test_isochrones import grid as jittered_grid

BUF = 30.0
CELL = 5.0      # -> cells of 30 / 6.5 = 4.6 m, disc radius 6.5 cells


def check_raster(poly, geoms, u, v, length, d, t, buf=BUF, cell=None, n_probe=3000, seed=0):
    cell = cell if cell is not None else buf / (np.ceil(buf / CELL - 0.5) + 0.5)
    pts, reached = samples(geoms, u, v, length, d, t)
    assert shapely.contains(poly, pts[reached]).all()
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    rng = np.random.default_rng(seed)
    probe = np.column_stack([rng.uniform(minx - 2 * buf, maxx + 2 * buf, n_probe),
                             rng.uniform(miny - 2 * buf, maxy + 2 * buf, n_probe)])
    rxy = shapely.get_coordinates(pts[reached])
    dmin = cKDTree(rxy).query(probe)[0] if rxy.size else np.full(n_probe, np.inf)
    inside = shapely.contains_xy(poly, probe[:, 0], probe[:, 1])
    far = dmin > buf + 1.5 * cell
    near = dmin < buf - 1.5 * cell
    assert not inside[far].any()
    assert inside[near].all()
    assert far.any() and near.any()


def raster_cat(u, v, length, g, d, breaks, **kw):
    return category_circles(u, v, length, g, d, breaks, buffer_m=BUF, cell_m=CELL, **kw)


# --- building blocks ------------------------------------------------------------------------


@pytest.mark.parametrize("radius", [0.5, 1.0, 1.5, 2.5, 3.5, 6.5])
def test_dilation_equals_scipy(radius):
    rng = np.random.default_rng(int(radius * 10))
    a = rng.random((60, 80)) < 0.03
    r = int(np.floor(radius))
    ii, jj = np.mgrid[-r:r + 1, -r:r + 1]
    disc = ii ** 2 + jj ** 2 <= radius ** 2
    ref = ndimage.binary_dilation(a, structure=disc)
    got = bitgrid.unpack(bitgrid.dilate(bitgrid.pack(a), _disc_rects(radius), a.shape[1]), a.shape[1])
    assert np.array_equal(got, ref)


@pytest.mark.parametrize("radius", [0.5, 1.5, 3.5, 6.5, 70.5])
@pytest.mark.parametrize("band", [512, 4])
def test_packed_dilation_equals_scipy(radius, band, monkeypatch):
    """64 cells to a word: rows across several words, widths that are and are not whole words,
    shifts of more than a word (radius 70.5); in one block and in bands of 4 rows."""
    monkeypatch.setattr(bitgrid, "BAND", band)
    rng = np.random.default_rng(int(radius * 10) + 1)
    r = int(np.floor(radius))
    ii, jj = np.mgrid[-r:r + 1, -r:r + 1]
    disc = ii ** 2 + jj ** 2 <= radius ** 2
    shapes = ((1, 1), (5, 64), (40, 63), (37, 65), (30, 200), (12, 256)) if r < 64 else ((3, 150), (2, 300))
    for rows, cols in shapes:
        a = rng.random((rows, cols)) < 0.02
        a[rng.integers(0, rows), [0, cols - 1]] = True          # marks on both borders
        words = bitgrid.pack(a)
        assert words.shape == (rows, -(-cols // 64)) and np.array_equal(bitgrid.unpack(words, cols), a)
        got = bitgrid.unpack(bitgrid.dilate(words, _disc_rects(radius), cols), cols)
        assert np.array_equal(got, ndimage.binary_dilation(a, structure=disc))


@pytest.mark.parametrize("band", [512, 3])
def test_packed_quads_and_rings_equal_the_unpacked_trace(band, monkeypatch):
    """The packed grid gives the same boundary quads, rings, points, orientation and hole owners
    as the byte grid, on random masks full of holes, islands in holes and diagonal contacts
    (quads found in one block and in bands of 3 rows)."""
    monkeypatch.setattr(bitgrid, "BAND", band)
    rng = np.random.default_rng(11)
    holes = 0
    for _ in range(150):
        rows, cols = int(rng.integers(1, 60)), int(rng.integers(1, 150))
        a = rng.random((rows, cols)) < rng.uniform(0.3, 0.9)
        pad = np.zeros((rows + 2, cols + 2), bool)
        pad[1:-1, 1:-1] = a
        words = bitgrid.pack(a)
        for x, y in zip(_quads(pad), bitgrid.quads(words, cols)):
            assert np.array_equal(x, y)
        want, got = rings(a)[0], rings_of_bits(words, cols)
        for k in ("xy", "ring", "shell", "owner"):
            assert np.array_equal(getattr(want, k), getattr(got, k))
        holes += int((~got.shell).sum())
    assert holes > 1000


def test_popcount_with_and_without_numpy_2(monkeypatch):
    x = np.random.default_rng(2).integers(0, 2 ** 63, 500, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    want = [bin(int(v)).count("1") for v in x]
    assert bitgrid._popcount(x).tolist() == want
    monkeypatch.delattr(np, "bitwise_count", raising=False)       # numpy 1.26: a byte table
    assert bitgrid._popcount(x).tolist() == want


def test_hole_owner_is_the_smallest_outline_around_it():
    """Hole owners are read off the quads; checked against geometry: the smallest outline whose
    ring contains the hole's first point."""
    rng = np.random.default_rng(3)
    n_holes = 0
    for _ in range(8):
        a = ndimage.binary_dilation(rng.random((50, 70)) < 0.04, iterations=2) & (rng.random((50, 70)) < 0.8)
        a[10:40, 10:60] |= ndimage.binary_erosion(a[10:40, 10:60] == 0)   # islands in holes
        r = rings(a)[0]
        geoms = shapely.polygons(shapely.linearrings(r.xy, indices=r.ring))
        first = shapely.points(r.xy[np.searchsorted(r.ring, np.arange(r.n_rings))])
        shells = np.flatnonzero(r.shell)
        area = shapely.area(geoms[shells])
        for h in np.flatnonzero(~r.shell):
            around = shapely.contains(geoms[shells], first[h])
            assert r.owner[h] == shells[around][np.argmin(area[around])]
            n_holes += 1
        assert (r.owner[shells] == shells).all()
    assert n_holes > 200


def test_polygons_as_linear_rings_then_polygons_would_build_them():
    """trace.polygons builds the groups' geometries from coordinate arrays; the same WKB as
    building each ring, each polygon (outline first, then its holes) and each group's
    MultiPolygon (a single Polygon for a group of one) with shapely one by one."""
    from coverage.core.trace import polygons

    rng = np.random.default_rng(4)
    for _ in range(60):
        a = rng.random((int(rng.integers(3, 40)), int(rng.integers(3, 60)))) < rng.uniform(0.3, 0.8)
        r = rings(a)[0]
        n_groups = int(rng.integers(1, 5))
        group = rng.integers(0, n_groups, r.n_rings)[r.owner]          # holes go with their outline
        got = polygons(r, lambda xy, ring: xy * 8.5 + 100.0, group, n_groups + 1)
        xy = r.xy * 8.5 + 100.0
        want = []
        for g in range(n_groups + 1):
            polys = [shapely.Polygon(xy[r.ring == s], [xy[r.ring == h] for h in np.flatnonzero(~r.shell)
                                                       if r.owner[h] == s])
                     for s in np.flatnonzero(r.shell & (group == g))]
            want.append(shapely.Polygon() if not polys else polys[0] if len(polys) == 1
                        else shapely.MultiPolygon(polys))
        assert [shapely.to_wkb(x) for x in got] == [shapely.to_wkb(x) for x in want]


def test_cycles_of_a_permutation():
    rng = np.random.default_rng(5)
    for n in (1, 2, 7, 300):
        nxt = rng.permutation(n)
        seq, ring = _cycles(nxt)
        want, seen = [], np.zeros(n, bool)        # plain walk: from each smallest unseen element
        for k in range(n):
            while not seen[k]:
                seen[k] = True
                want.append(k)
                k = nxt[k]
        assert seq.tolist() == want
        starts = np.r_[True, nxt[seq[:-1]] != seq[1:]]           # a cycle ends where it closes
        assert np.array_equal(ring, np.cumsum(starts) - 1)


def test_trace_cells_blocks_and_holes():
    m = np.zeros((7, 7), bool)
    m[3, 3] = True
    one = trace(m, 0.0, 0.0, 10.0)       # a diamond through the four edge midpoints
    assert one.area == pytest.approx(50.0) and one.contains(Point(35, 35))
    m[2:5, 2:5] = True
    block = trace(m, 0.0, 0.0, 10.0)     # an octagon: 3x3 cells less four corner triangles
    assert block.area == pytest.approx(900 - 4 * 12.5)
    m[3, 3] = False
    ring = trace(m, 0.0, 0.0, 10.0)
    assert ring.geom_type == "Polygon" and len(ring.interiors) == 1
    assert not ring.contains(Point(35, 35)) and ring.contains(Point(25, 25))
    # a window of a larger grid: same coordinates as the whole grid
    big = np.zeros((20, 20), bool)
    big[10:13, 12:15] = True
    assert trace(big, 5.0, 7.0, 10.0).equals(trace(big[8:16, 9:18], 5.0, 7.0, 10.0, 8, 9))
    edge = np.ones((2, 2), bool)         # marks on the window's border are closed too
    assert trace(edge, 0.0, 0.0, 1.0).area == pytest.approx(4 - 4 * 0.125)
    assert trace(np.zeros((4, 4), bool), 0, 0, 1).is_empty


def test_trace_random_masks_against_cell_centres():
    rng = np.random.default_rng(7)
    for _ in range(60):
        m = rng.random((int(rng.integers(2, 30)), int(rng.integers(2, 30)))) < rng.uniform(0.1, 0.9)
        poly = trace(m)
        assert shapely.is_valid(poly)
        ii, jj = np.nonzero(m)
        oi, oj = np.nonzero(~m)
        assert shapely.contains_xy(poly, jj + 0.5, ii + 0.5).all()        # every marked centre in
        assert not shapely.contains_xy(poly, oj + 0.5, oi + 0.5).any()    # every other one out


def test_trace_nested_islands_and_diagonal_neighbours():
    m = np.zeros((11, 11), bool)
    m[1:10, 1:10] = True
    m[3:8, 3:8] = False                 # a hole ...
    m[5, 5] = True                      # ... with an island in it
    poly = trace(m)
    assert poly.geom_type == "MultiPolygon" and len(poly.geoms) == 2
    ring, island = sorted(poly.geoms, key=lambda p: -p.area)
    assert len(ring.interiors) == 1 and ring.interiors[0].convex_hull.contains(island)
    assert trace(np.eye(3, dtype=bool)).geom_type == "Polygon"      # diagonal cells are joined


def test_cell_is_chosen_so_the_outline_lands_at_the_frontage():
    g = circle_grid(np.array([shapely.LineString([(0, 0), (1, 0)])]), 30.0, 10.0)
    assert g.radius == 3 and g.cell == pytest.approx(30 / 3.5)
    g = circle_grid(np.array([shapely.LineString([(0, 0), (1, 0)])]), 30.0, 15.0)
    assert g.radius == 2 and g.cell == pytest.approx(12.0)
    # a long straight street: the outline is the frontage away, to a small fraction of a cell
    u, v, length, geoms, _ = graph([(0, 0), (1000, 0)], [(0, 1)])
    poly = category_circles(u, v, length, geoms, np.array([0.0, 1000.0]), [2000.0],
                            buffer_m=30.0, cell_m=10.0).geometry.iloc[0]
    _, miny, _, maxy = poly.bounds
    # marks sit at cell centres: the band is shifted by up to half a cell, never widened
    assert maxy - miny == pytest.approx(60.0, abs=1e-6)
    assert abs(maxy - 30.0) <= 30 / 3.5 / 2 + 1e-9


def test_runs_cover_every_edge_finely():
    u, v, length, g, xy = t_graph()
    cg = CircleGrid(g, BUF, CELL)
    assert cg.n_runs < cg.n_samples            # samples in one cell one after another: one run
    for e in range(len(g)):
        lo, hi = cg.fmin[cg.ptr[e]:cg.ptr[e + 1]], cg.fmax[cg.ptr[e]:cg.ptr[e + 1]]
        assert lo[0] == 0.0 and hi[-1] == 1.0 and np.all(hi >= lo) and np.all(lo[1:] >= hi[:-1])
        # no stretch of an edge longer than half a cell without a sample
        assert (lo[1:] - hi[:-1]).max(initial=0) * g[e].length <= cg.cell / 2 + 1e-9
        cells = np.column_stack([cg.row[cg.ptr[e]:cg.ptr[e + 1]], cg.col[cg.ptr[e]:cg.ptr[e + 1]]])
        assert not (np.diff(cells, axis=0) == 0).all(axis=1).any()   # neighbouring runs differ


# --- against the oracle -------------------------------------------------------------------


@pytest.mark.parametrize("t", [0.0, 40.0, 130.0, 190.0, 400.0])
def test_t_graph_against_samples(t):
    u, v, length, g, xy = t_graph()
    d = distances(u, v, length, 4, [0])
    circ = raster_cat(u, v, length, g, d, [t])
    check_raster(circ.geometry.iloc[0], g, u, v, length, d, t)
    assert circ.hull_area_m2.iloc[0] >= circ.area_m2.iloc[0] > 0


def test_gap_in_the_middle_and_unreached_corner():
    u, v, length, g, _ = graph([(0, 0), (300, 0)], [(0, 1)])
    d = np.array([0.0, 0.0])
    poly = raster_cat(u, v, length, g, d, [60.0]).geometry.iloc[0]
    assert poly.geom_type == "MultiPolygon" and len(poly.geoms) == 2
    assert not poly.contains(Point(150, 0))
    check_raster(poly, g, u, v, length, d, 60.0)
    u, v, length, g, xy = square()
    d = distances(u, v, length, 4, [0])
    circ = category_circles(u, v, length, g, d, [150.0], buffer_m=10.0, cell_m=2.0)
    assert not circ.geometry.iloc[0].contains(Point(100, 100))
    assert circ.reached_length_m.iloc[0] == pytest.approx(300.0)   # same statistics as exact


def test_unreached_gives_empty_polygon():
    u, v, length, g, xy = square()
    circ = raster_cat(u, v, length, g, np.full(4, np.inf), [100.0, 200.0])
    assert circ.geometry.is_empty.all() and circ.hull_overstatement.isna().all()


def test_breaks_nest_and_unsorted_breaks_keep_their_rows():
    u, v, length, g, xy = jittered_grid(n=7)
    d = distances(u, v, length, len(xy), [24])
    circ = raster_cat(u, v, length, g, d, [500.0, 150.0, 300.0])
    assert circ.break_m.tolist() == [500.0, 150.0, 300.0]
    small, mid, big = circ.geometry.iloc[1], circ.geometry.iloc[2], circ.geometry.iloc[0]
    assert small.difference(mid).area < 1e-6 and mid.difference(big).area < 1e-6
    for k, t in enumerate([500.0, 150.0, 300.0]):
        check_raster(circ.geometry.iloc[k], g, u, v, length, d, t, n_probe=1500)


@pytest.mark.parametrize("net", ["grid", "messy"])
def test_close_to_the_exact_buffers(net):
    u, v, length, g, xy = jittered_grid(n=7) if net == "grid" else messy_network()
    n = len(xy)
    src = [0, 24, 40]
    dist = dijkstra(sp.csr_array((length, (np.minimum(u, v), np.maximum(u, v))), shape=(n, n)),
                    directed=False, indices=src)
    breaks = [150.0, 400.0, 700.0]
    exact = category_circles(u, v, length, g, dist.min(0), breaks, buffer_m=BUF, method="faces")
    for cell_m, tol in ((10.0, 0.05), (5.0, 0.03)):
        ras = category_circles(u, v, length, g, dist.min(0), breaks, buffer_m=BUF, cell_m=cell_m)
        assert np.allclose(ras.reached_length_m, exact.reached_length_m)
        ratio = ras.area_m2.to_numpy() / exact.area_m2.to_numpy()
        assert np.all(np.abs(ratio - 1) < tol), ratio
        sym = shapely.area(shapely.symmetric_difference(ras.geometry.values, exact.geometry.values))
        assert np.all(sym < 2.5 * tol * exact.area_m2.to_numpy())
        assert shapely.is_valid(ras.geometry.values).all()


# --- facility circles -----------------------------------------------------------------------


def test_union_of_facility_circles_is_category_circle():
    u, v, length, g, xy = jittered_grid(n=7)
    src = [0, 14, 33]
    dist = dijkstra(sp.csr_array((length, (u, v)), shape=(len(xy),) * 2), directed=False, indices=src)
    S = as_sparse(dist, 300.0)
    for t in (150.0, 300.0):
        cat = raster_cat(u, v, length, g, dist.min(axis=0), [t]).geometry.iloc[0]
        fac = facility_circles(u, v, length, g, S, np.array(src), [t], buffer_m=BUF, cell_m=CELL)
        union = shapely.union_all(fac.geometry.values)
        # the same marks: outlines differ only where two circles' cells touch diagonally
        assert shapely.symmetric_difference(cat, union).area < 0.01 * cat.area
        for k in range(len(src)):
            check_raster(fac.geometry.iloc[k], g, u, v, length, dist[k], t, n_probe=800)


def test_one_facility_equals_category_and_chunks_change_nothing(monkeypatch):
    u, v, length, g, xy = jittered_grid(n=7)
    src = list(range(0, 49, 4))
    dist = dijkstra(sp.csr_array((length, (u, v)), shape=(len(xy),) * 2), directed=False, indices=src)
    S = as_sparse(dist, 400.0)
    grid = circle_grid(g, BUF, CELL)
    a = facility_circles(u, v, length, g, S, src, [250.0, 400.0], buffer_m=BUF, cell_m=CELL, grid=grid)
    monkeypatch.setattr(circle_raster, "_CHUNK_RUNS", 50)    # many small chunks
    b = facility_circles(u, v, length, g, S, src, [250.0, 400.0], buffer_m=BUF, cell_m=CELL, grid=grid)
    assert list(shapely.to_wkb(a.geometry.values)) == list(shapely.to_wkb(b.geometry.values))
    cat = raster_cat(u, v, length, g, dist[0], [250.0, 400.0])
    assert cat.geometry.iloc[0].equals(a.geometry.iloc[0])
    assert cat.geometry.iloc[1].equals(a.geometry.iloc[len(src)])


def test_facility_that_reaches_nothing():
    u, v, length, g, xy = square()
    S = sp.csr_array((np.array([0.0, 100.0, 100.0]), np.array([0, 1, 3]), np.array([0, 3, 3])),
                     shape=(2, 4))
    fac = facility_circles(u, v, length, g, S, ["a", "b"], [50.0], buffer_m=BUF, cell_m=CELL)
    assert fac.geometry.iloc[1].is_empty and not fac.geometry.iloc[0].is_empty
    assert fac.reached_length_m.tolist() == pytest.approx([100.0, 0.0])


def test_deterministic_bytes():
    u, v, length, g, xy = messy_network()
    d = distances(u, v, length, len(xy), [0, 30])
    a = raster_cat(u, v, length, g, d, [200.0, 500.0])
    b = raster_cat(u, v, length, g, d.copy(), [200.0, 500.0])
    assert list(shapely.to_wkb(a.geometry.values)) == list(shapely.to_wkb(b.geometry.values))


def test_bad_method_cell_and_grid_name_the_field():
    u, v, length, g, xy = square()
    d = np.zeros(4)
    with pytest.raises(InputError, match="method"):
        category_circles(u, v, length, g, d, [100.0], method="hull")
    with pytest.raises(InputError, match="cell_m"):
        category_circles(u, v, length, g, d, [100.0], cell_m=0)
    other = circle_grid(g, BUF, 7.0)
    with pytest.raises(InputError, match="grid") as err:
        category_circles(u, v, length, g, d, [100.0], buffer_m=BUF, cell_m=CELL, grid=other)
    assert "fix:" in str(err.value)
