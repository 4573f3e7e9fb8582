"""scripts/make_county.py: the synthetic benchmark county, built at a tiny scale (--scale 0.02).

Checks the structure of what it writes (files, raster, communities, facilities, road connectivity),
that the same seed gives a byte-identical facility table, and that the tool runs on it end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components
from helpers import read_yaml

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "make_county.py"
SCALE = "0.02"
CATEGORIES = {"comprehensive", "elderly_care", "health", "fitness", "culture", "education",
              "childcare", "commerce"}
FILES = ("roads.gpkg", "population.tif", "communities.gpkg", "facilities.csv", "study.yaml",
         "county_stats.json")


def build(out: Path, *extra) -> None:
    r = subprocess.run([sys.executable, str(SCRIPT), "--scale", SCALE, "--out", str(out), *extra],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"make_county failed:\n{r.stdout}\n{r.stderr}"


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    out = tmp_path_factory.mktemp("county")
    build(out, "--dem")      # with the synthetic DEM; the rebuild below goes without it
    return out


def test_files_exist(county):
    out = county
    for name in FILES:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    stats = json.loads((out / "county_stats.json").read_text(encoding="utf-8"))
    assert stats["scale"] == float(SCALE)
    assert stats["network"]["nodes"] > 1000 and stats["facilities"] > 0


def test_population_raster(county):
    out = county
    with rasterio.open(out / "population.tif") as src:
        assert src.crs is not None and src.crs.to_epsg() == 4326
        assert src.nodata is not None
        a = src.read(1, masked=True)
        assert abs(src.res[0] - 1 / 1200) < 1e-12      # 3 arc-seconds, the WorldPop grid
    populated = int((a > 0).sum())
    assert populated > 100
    assert (a.compressed() >= 0).all()
    stats = json.loads((out / "county_stats.json").read_text(encoding="utf-8"))
    assert populated == stats["raster"]["cells_populated"]
    assert float(a.sum()) == pytest.approx(12000, rel=1e-3)   # 600,000 x 0.02


def test_communities(county):
    out = county
    comm = gpd.read_file(out / "communities.gpkg", layer="communities")
    assert comm.crs is not None
    for col in ("code", "name", "township", "type", "households"):
        assert col in comm.columns
    assert comm["code"].notna().all() and comm["code"].is_unique
    assert comm["township"].notna().all() and (comm["township"].str.len() > 0).all()
    assert comm["township"].str.endswith(("街道", "镇")).all()
    assert set(comm["type"]) <= {"社区", "村"} and "社区" in set(comm["type"])
    assert (comm["households"] >= 0).all() and comm["households"].sum() > 0
    assert shapely.is_valid(comm.geometry.values).all()
    # they tile the county: no overlaps
    union = shapely.union_all(comm.geometry.values)
    assert comm.geometry.area.sum() == pytest.approx(union.area, rel=1e-6)


def test_facilities(county):
    out = county
    fac = pd.read_csv(out / "facilities.csv", encoding="utf-8-sig")
    assert list(fac.columns) == ["id", "name", "category", "level", "area_m2", "lon", "lat"]
    assert fac["id"].is_unique
    assert set(fac["category"]) == CATEGORIES
    assert set(fac["level"]) <= {"township", "community"}
    assert fac["name"].str.contains("[\u4e00-\u9fff]", regex=True).all()
    lon, lat = fac["lon"].to_numpy(float), fac["lat"].to_numpy(float)
    assert np.isfinite(lon).all() and np.isfinite(lat).all()
    assert ((-180 <= lon) & (lon <= 180) & (-90 <= lat) & (lat <= 90)).all()
    comm = gpd.read_file(out / "communities.gpkg", layer="communities").to_crs("EPSG:4326")
    x0, y0, x1, y1 = comm.total_bounds
    assert ((x0 <= lon) & (lon <= x1) & (y0 <= lat) & (lat <= y1)).all()


def test_roads_are_connected(county):
    out = county
    roads = pyogrio.read_dataframe(out / "roads.gpkg")
    assert {"name", "highway"} <= set(roads.columns)
    assert (shapely.get_type_id(roads.geometry.values) == 1).all()        # LineStrings
    assert roads["highway"].isin(["motorway"]).any()                        # excluded by the tool
    lines = roads.geometry.values[~roads["highway"].isin(["motorway", "motorway_link"]).to_numpy()]
    ends = np.round(np.vstack([shapely.get_coordinates(shapely.get_point(lines, 0)),
                               shapely.get_coordinates(shapely.get_point(lines, -1))]), 3)
    _, node = np.unique(ends, axis=0, return_inverse=True)
    node = node.reshape(-1)
    n = int(node.max()) + 1
    u, v = node[:len(lines)], node[len(lines):]
    _, comp = connected_components(coo_array((np.ones(len(u)), (u, v)), shape=(n, n)), directed=False)
    length = shapely.length(lines)
    share = np.bincount(comp[u], weights=length).max() / length.sum()
    assert share >= 0.95, f"only {share:.1%} of the road length is in the largest connected part"


def test_same_seed_same_csv(county, tmp_path):
    out = county
    build(tmp_path / "again")          # without --dem: the DEM leaves the county unchanged
    assert not (tmp_path / "again" / "dem.tif").exists()
    assert (tmp_path / "again" / "facilities.csv").read_bytes() == (out / "facilities.csv").read_bytes()
    assert (tmp_path / "again" / "population.tif").read_bytes() == (out / "population.tif").read_bytes()


def test_the_tool_runs_on_it(county, capsys):
    """The command line's run, in this process (its module entry point is run in a process of its own
    by tests/test_pipeline.py; here a new interpreter would only import the libraries again)."""
    from coverage.cli import main
    out = county
    code = main(["run", "--config", str(out / "study.yaml"), "--out", str(out / "run"), "--quiet"])
    r = capsys.readouterr()
    assert code == 0, f"the tool failed on the tiny county:\n{r.out[-3000:]}\n{r.err[-6000:]}"
    assert "Traceback" not in r.err
    assert (out / "run" / "coverage_by_community.csv").is_file()


def test_synthetic_dem(county):
    """--dem: a mountain-county DEM as a planner would get it (EPSG:4326, 1 arc-second, float32,
    nodata), covering the county, and study_dem.yaml = study.yaml + network.dem."""

    from coverage.io.dem import read_dem
    out = county
    with rasterio.open(out / "dem.tif") as src:
        assert src.crs.to_epsg() == 4326 and src.dtypes == ("float32",) and src.nodata is not None
        assert src.res == pytest.approx((1 / 3600, 1 / 3600), rel=1e-12)
        z = src.read(1, masked=True)
        b = src.bounds
    assert z.count() == z.size and 150 < float(z.min()) < float(z.max()) < 3000
    x0, y0, x1, y1 = gpd.read_file(out / "communities.gpkg").to_crs(4326).total_bounds
    assert b.left < x0 and b.right > x1 and b.bottom < y0 and b.top > y1
    # the tool's reader takes it under the roads (EPSG:4547): every road vertex has an elevation
    roads = pyogrio.read_dataframe(out / "roads.gpkg")
    xy = shapely.get_coordinates(roads.geometry.values)
    dem = read_dem(out / "dem.tif", roads.crs, (*xy.min(axis=0), *xy.max(axis=0)))
    keep = ~roads["highway"].isin(["motorway", "motorway_link"]).to_numpy()
    xy = shapely.get_coordinates(roads.geometry.values[keep])
    assert np.isfinite(dem.sample(xy[:, 0], xy[:, 1], roads.crs)).all()
    st = json.loads((out / "county_stats.json").read_text(encoding="utf-8"))["dem"]
    assert 0.05 < st["road_max_grade"] < 0.6
    assert st["town_streets_mean_grade"] < st["rural_mean_grade"]          # the towns lie in valleys
    plain = read_yaml(out / "study.yaml")
    with_dem = read_yaml(out / "study_dem.yaml")
    assert "dem" not in plain["network"] and with_dem["network"]["dem"] == "dem.tif"
    assert "# dem: dem.tif" in (out / "study.yaml").read_text(encoding="utf-8")
    assert with_dem["output"]["folder"] != plain["output"]["folder"]
    for key in ("communities", "facilities", "population", "analysis"):
        assert with_dem[key] == plain[key]
    assert {k: v for k, v in with_dem["network"].items() if k != "dem"} == plain["network"]
