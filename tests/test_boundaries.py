"""Messy boundaries: overlaps measured and never counted twice, multipart kept whole."""

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from shapely.geometry import MultiPolygon, box

from helpers import demand_from_raster
from coverage.config import StudyConfig
from coverage.io.communities import load_communities

CRS = "EPSG:32650"


def _cfg(path):
    return StudyConfig.from_dict({"communities": {"path": str(path),
                                                  "fields": {"id": "code", "name": "name", "township": "tw",
                                                             "type": "type", "households": "hh"},
                                                  "urban_values": ["urban"], "rural_values": ["rural"]}},
                                 require_paths=False)


def test_overlap_is_measured_and_population_counted_once(tmp_path):
    # a: 0..200 x 0..100, b: 100..300 x 0..100 -> 100 x 100 m overlap; c: a multipart community
    g = gpd.GeoDataFrame({"code": ["a", "b", "c"], "name": ["甲社区", "乙社区", "丙村"], "tw": ["t1", "t1", "t2"],
                          "type": ["urban", "urban", "rural"], "hh": [10, 0, 5]},
                         geometry=[box(500000, 3000000, 500200, 3000100), box(500100, 3000000, 500300, 3000100),
                                   MultiPolygon([box(500000, 3000200, 500100, 3000300),
                                                 box(500200, 3000200, 500300, 3000300)])], crs=CRS)
    p = tmp_path / "comm.gpkg"
    g.to_file(p, layer="c")
    comm, report, overlaps = load_communities(_cfg(p).communities, CRS)
    assert report["overlap_pairs"] == 1 and report["overlap_m2"] == pytest.approx(10000)
    assert list(overlaps.iloc[0][["community_a", "community_b"]]) == ["a", "b"]
    assert comm.set_index("community_id").geometry["c"].geom_type == "MultiPolygon"
    # 3 x 3 raster of 100 m cells, 100 people each
    tr = Affine(100, 0, 500000, 0, -100, 3000300)
    r = tmp_path / "pop.tif"
    with rasterio.open(r, "w", driver="GTiff", width=3, height=3, count=1, dtype="float32", crs=CRS,
                       transform=tr, nodata=-9999) as dst:
        dst.write(np.full((1, 3, 3), 100.0, dtype="float32"))
    d, _ = demand_from_raster(comm, r, comm.crs)
    s = d.groupby("community_id").population.sum()
    # a keeps the overlap (lower code): 200; b: 100; c: two cells 200; the middle top cell is outside
    assert s["a"] == pytest.approx(200) and s["b"] == pytest.approx(100) and s["c"] == pytest.approx(200)
    assert d.population.sum() == pytest.approx(500)  # the overlap cell is not counted twice


def test_duplicate_codes_stop_with_the_codes_listed(tmp_path):
    from coverage.errors import InputError
    g = gpd.GeoDataFrame({"code": ["x1", "x1", "x2"], "name": ["a", "b", "c"], "tw": ["t"] * 3,
                          "type": ["urban"] * 3, "hh": [1, 1, 1]},
                         geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)], crs=CRS)
    p = tmp_path / "dup.gpkg"
    g.to_file(p)
    with pytest.raises(InputError) as e:
        load_communities(_cfg(p).communities, CRS)
    assert "x1" in str(e.value) and "communities.fields.id" in str(e.value) and str(p) in str(e.value)
