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
