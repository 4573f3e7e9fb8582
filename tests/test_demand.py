"""Demand points: community population against an independent zonal sum of the raster."""

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import rasterio.features
from affine import Affine

from helpers import demand_from_raster

DATA = Path(__file__).resolve().parents[1] / "data" / "sample"


def supersampled_zonal_sum(communities, raster_path, factor=20):
    """Independent method: each cell split into factor x factor sub-cells, each sub-cell centre
    assigned to the community containing it (rasterize), value / factor^2 summed."""
    with rasterio.open(raster_path) as src:
        data = src.read(1, masked=True).filled(0).astype(float)
        tr = src.transform
        comm = communities.to_crs(src.crs)
    fine = np.kron(data, np.ones((factor, factor))) / factor ** 2
    ftr = tr * Affine.scale(1 / factor)
    codes = {c: i + 1 for i, c in enumerate(comm.community_id)}
    lab = rasterio.features.rasterize(((g, codes[c]) for g, c in zip(comm.geometry, comm.community_id)),
                                      out_shape=fine.shape, transform=ftr, fill=0, dtype="int32")
    sums = np.bincount(lab.ravel(), weights=fine.ravel(), minlength=len(codes) + 1)
    return {c: sums[i] for c, i in codes.items()}


def test_community_population_matches_zonal_sum_within_one_percent():
    comm = gpd.read_file(DATA / "communities.gpkg").rename(columns={"code": "community_id"})
    comm = comm.to_crs(32635)
    comm["township"] = comm["township"].astype(str)
    d, rep = demand_from_raster(comm, DATA / "population.tif", comm.crs)
    got = d.groupby("community_id").population.sum()
    ref = supersampled_zonal_sum(comm, DATA / "population.tif")
    for c, v in ref.items():
        assert got.get(c, 0.0) == pytest.approx(v, rel=0.01, abs=1.0), c
    # every piece lies inside its community, and nothing is counted twice
    inside = comm.set_index("community_id").geometry.reindex(d.community_id).values
    assert np.all(inside.contains(d.geometry.values) | inside.touches(d.geometry.values))
    assert rep["population_in_area"] == pytest.approx(d.population.sum())


def test_cells_cut_by_a_boundary_are_split_by_area(tmp_path):
    # one 100 m cell with 100 people, two communities splitting it 30/70
    tr = Affine(100, 0, 500000, 0, -100, 6000100)
    p = tmp_path / "one.tif"
    with rasterio.open(p, "w", driver="GTiff", width=1, height=1, count=1, dtype="float32",
                       crs="EPSG:32635", transform=tr, nodata=-9999) as dst:
        dst.write(np.array([[100.0]], dtype="float32"), 1)
    from shapely.geometry import box
    comm = gpd.GeoDataFrame({"community_id": ["a", "b"], "township": ["t", "t"], "type": ["urban", "rural"]},
                            geometry=[box(500000, 6000000, 500030, 6000100), box(500030, 6000000, 500100, 6000100)],
                            crs=32635)
    d, _ = demand_from_raster(comm, p, comm.crs)
    s = d.groupby("community_id").population.sum()
    assert s["a"] == pytest.approx(30) and s["b"] == pytest.approx(70)


def _old_reprojected_cells(tr, nr, nc, src_crs, dst_crs):
    """The per-cell way: each cell's box (or parallelogram) segmentized to a quarter pixel and
    projected point by point (what raster_cells did before the shared-side lattice)."""
    import shapely
    from pyproj import Transformer
    rows, cols = np.indices((nr, nc))
    rows, cols = rows.ravel(), cols.ravel()
    x0, y0 = tr.c + tr.a * cols + tr.b * rows, tr.f + tr.d * cols + tr.e * rows
    x1, y1 = tr.c + tr.a * (cols + 1) + tr.b * rows, tr.f + tr.d * (cols + 1) + tr.e * rows
    x2, y2 = tr.c + tr.a * (cols + 1) + tr.b * (rows + 1), tr.f + tr.d * (cols + 1) + tr.e * (rows + 1)
    x3, y3 = tr.c + tr.a * cols + tr.b * (rows + 1), tr.f + tr.d * cols + tr.e * (rows + 1)
    if tr.b == 0 and tr.d == 0:
        boxes = shapely.box(np.minimum(x0, x2), np.minimum(y0, y2), np.maximum(x0, x2), np.maximum(y0, y2))
    else:
        boxes = shapely.polygons(np.stack([np.c_[x0, y0], np.c_[x1, y1], np.c_[x2, y2], np.c_[x3, y3],
                                           np.c_[x0, y0]], axis=1))
    to_m = Transformer.from_crs(src_crs, dst_crs, always_xy=True)
    return shapely.transform(shapely.segmentize(boxes, abs(tr.a or tr.b) / 4),
                             lambda xy: np.c_[to_m.transform(xy[:, 0], xy[:, 1])])


@pytest.mark.parametrize("tr", [
    Affine(1 / 1200, 0, 114.0, 0, -1 / 1200, 27.55),          # WorldPop 3" north-up
    Affine(1 / 1200, 0, 114.0, 0, 1 / 1200, 27.50),           # south-up
    Affine(0.0008, 0.0002, 114.0, 0.0002, -0.0008, 27.55),    # rotated
    Affine(0.001, 0, 113.9999, 0, -0.0007, 27.5),             # cells not square
])
def test_reprojected_cells_equal_the_per_cell_segmentized_boxes(tr):
    import shapely
    from pyproj import CRS
    from coverage.io.raster import _cell_polygons_reprojected
    from pyproj import Transformer
    nr, nc = 23, 31
    got = _cell_polygons_reprojected(tr, 0, nr, 0, nc, Transformer.from_crs(4326, 4547, always_xy=True))
    ref = _old_reprojected_cells(tr, nr, nc, CRS(4326), CRS(4547))
    assert shapely.is_valid(got).all()
    np.testing.assert_allclose(shapely.area(got), shapely.area(ref), rtol=1e-12)
    if tr.b == 0 and tr.d == 0:   # boxes: the same points, start corner and direction, bit for bit
        a, ia = shapely.get_coordinates(got, return_index=True)
        b, ib = shapely.get_coordinates(ref, return_index=True)
        assert np.array_equal(ia, ib) and np.array_equal(a, b)
    else:
        assert shapely.hausdorff_distance(got, ref).max() < 1e-6


def test_cells_inside_a_community_are_not_cut_but_count_whole(tmp_path):
    # a 6 x 6 grid of 100 m cells, one community over most of it (a cut through the cells at
    # x = 30.5 m into the grid and at y = 250 m) and one over the rest: the same population,
    # pieces and points as an exact intersection of every cell
    import shapely
    from coverage.analysis.demand import demand_points
    tr = Affine(100, 0, 500000, 0, -100, 6000600)
    rng = np.random.default_rng(3)
    vals = rng.integers(0, 50, (6, 6)).astype(float)
    rows, cols = np.indices(vals.shape)
    boxes = shapely.box(500000 + cols.ravel() * 100, 6000500 - rows.ravel() * 100,
                        500100 + cols.ravel() * 100, 6000600 - rows.ravel() * 100)
    a = shapely.Polygon([(500030.5, 6000000), (500600, 6000000), (500600, 6000600), (500030.5, 6000600),
                         (500030.5, 6000250)])
    b = shapely.box(500000, 6000000, 500030.5, 6000600)
    comm = gpd.GeoDataFrame({"community_id": ["a", "b"], "township": ["t", "t"], "type": ["社区", "村"]},
                            geometry=[a, b], crs=32635)
    d, rep = demand_points(comm, (boxes, vals.ravel(), np.zeros(36, bool)))
    pieces = shapely.intersection(boxes[d.cell.to_numpy()], comm.geometry.values[(d.community_id == "b").astype(int)])
    frac = shapely.area(pieces) / shapely.area(boxes[d.cell.to_numpy()])
    assert np.array_equal(d.population.to_numpy(), vals.ravel()[d.cell.to_numpy()] * frac)
    assert shapely.equals_exact(d.geometry.values, shapely.point_on_surface(pieces), tolerance=0).all()
    assert rep["population_in_area"] == pytest.approx(vals.sum())


def test_split_on_threads_equals_one_thread(monkeypatch):
    """The cells cut by communities on several threads (runs of whole communities) give the same
    pieces, populations, points and report as one thread, bit for bit."""
    import shapely
    import coverage.core.isochrones as iso
    from coverage.analysis.demand import demand_points
    from coverage.io.raster import Cells
    rng = np.random.default_rng(3)
    n = 70                                                      # 70 x 70 cells of 100 m
    x, y = np.meshgrid(np.arange(n) * 100.0, np.arange(n) * 100.0)
    boxes = shapely.box(x.ravel(), y.ravel(), x.ravel() + 100, y.ravel() + 100)
    vals = rng.gamma(2.0, 3.0, n * n)
    nodata = rng.random(n * n) < 0.05
    cells = Cells((boxes, vals, nodata))
    cells.info = {}
    seeds = rng.uniform(0, n * 100, (12, 2))                   # 12 irregular communities (Voronoi)
    regions = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds)))
    geoms = shapely.intersection(regions, shapely.box(0, 0, n * 100, n * 100).buffer(-150))
    comm = gpd.GeoDataFrame({"community_id": [f"c{i}" for i in range(len(geoms))], "township": "t",
                             "type": "村"}, geometry=list(geoms), crs="EPSG:4547")
    monkeypatch.setattr(iso, "default_workers", lambda: 1)
    one, rep1 = demand_points(comm, cells)
    monkeypatch.setattr(iso, "default_workers", lambda: 3)
    many, rep3 = demand_points(comm, cells)
    assert len(one) > 2000 and rep1 == rep3
    assert one.drop(columns="geometry").equals(many.drop(columns="geometry"))
    assert np.array_equal(shapely.to_wkb(one.geometry.values), shapely.to_wkb(many.geometry.values))
