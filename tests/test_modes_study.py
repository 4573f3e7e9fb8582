"""Travel modes and slope in a study (issue 14): the study-level wiring.

* a straight road climbing to its facility, on a planar DEM: every resident's sloped walk to the
  facility by hand from Tobler's hiking function (uphill, downhill, round trip), the flat walk
  kept beside it, the slope effect table and the coverage it gives by hand;
* a grid of streets on a tilted plane: the study's sloped distances equal networkx
  ``multi_source_dijkstra`` on the directed graph whose weights are computed here from the physics;
* travel circles by hand on a tiny study (rural only, by township), and a faster mode never
  lowers a circle's coverage;
* a flat DEM gives exactly the tables of no DEM (the sample);
* the sample with a hilly DEM and the rural 30-minute e-bike circle writes the slope and circle
  tables, documented column by column; siting and gaps read the same sloped walks; every string
  reaches the HTML escaped.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import box

import coverage as lc
from coverage.core.network import from_edge_arrays
from helpers import read_yaml

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
CRS = "EPSG:32650"
X0, Y0 = 500_000.0, 3_000_000.0
WALK_KMH = 4.0
M_PER_MIN = WALK_KMH * 1000 / 60


def tobler_pace(grade):
    """Walking time per horizontal metre relative to flat ground, from Tobler (1993):
    W = 6 exp(-3.5 |s + 0.05|) km/h, scaled so that flat ground is walked at the study's speed."""
    return (6.0 * math.exp(-3.5 * abs(0.0 + 0.05))) / (6.0 * math.exp(-3.5 * abs(grade + 0.05)))


def write_raster(path, z, x_left, y_top, cell, crs=CRS, dtype="float64"):
    z = np.asarray(z, dtype=dtype)
    with rasterio.open(path, "w", driver="GTiff", width=z.shape[1], height=z.shape[0], count=1, dtype=dtype,
                       crs=crs, transform=from_origin(x_left, y_top, cell, cell), nodata=-9999.0) as dst:
        dst.write(z, 1)
    return path


def plane_dem(path, gx, gy=0.0, base=100.0, cell=10.0, margin=800.0, x1=2000.0, y1=0.0):
    """z = base + gx (x - X0) + gy (y - Y0) sampled at cell centres (bilinear: exactly the plane)."""
    xl, yt = X0 - margin, Y0 + y1 + margin
    nx_, ny_ = int((x1 + 2 * margin) / cell), int((y1 + 2 * margin) / cell)
    xc = xl + (np.arange(nx_) + 0.5) * cell
    yc = yt - (np.arange(ny_) + 0.5) * cell
    z = base + gx * (xc[None, :] - X0) + gy * (yc[:, None] - Y0)
    return write_raster(path, z, xl, yt, cell)


# ----------------------------------------------------------------------------- a straight road


def road_study(tmp_path, *, dem=None, slope=None, circles=None, thresholds=None, road_class="residential"):
    """A 2 km road along y = Y0 (nodes every 500 m) with one comprehensive facility at its west
    end; 20 cells of 100 m x 10 people centred on the road; communities A (0-500 m, rural, T1),
    B (500-1000 m, rural, T2), C (1000-2000 m, urban, T2)."""
    xs = X0 + np.arange(0, 2001, 500.0)
    net = from_edge_arrays(np.arange(5), xs, np.full(5, Y0), np.arange(4), np.arange(1, 5), crs=CRS,
                           road_class=[road_class] * 4)
    comm = gpd.GeoDataFrame({"code": ["A", "B", "C"], "township": ["T1", "T2", "T2"],
                             "type": ["rural", "rural", "urban"], "households": [20, 20, 40]},
                            geometry=[box(X0, Y0 - 50, X0 + 500, Y0 + 50), box(X0 + 500, Y0 - 50, X0 + 1000, Y0 + 50),
                                      box(X0 + 1000, Y0 - 50, X0 + 2000, Y0 + 50)], crs=CRS)
    fac = gpd.GeoDataFrame({"id": ["F1"], "category": ["comprehensive"], "name": ["党群服务中心"]},
                           geometry=gpd.points_from_xy([X0], [Y0]), crs=CRS)
    pop = write_raster(tmp_path / "pop.tif", np.full((1, 20), 10.0), X0, Y0 + 50, 100.0, dtype="float32")
    analysis = {"categories": ["comprehensive"], "thresholds_min": thresholds or {"default": 15}}
    if slope:
        analysis["slope"] = slope
    if circles:
        analysis["travel_circles"] = circles
    cfg = {"communities": {"fields": {"id": "code", "township": "township", "type": "type",
                                      "households": "households"}},
           "analysis": analysis, "siting": {"enabled": False}}
    if dem is not None:
        cfg["network"] = {"dem": str(dem)}
    return lc.Study(communities=comm, facilities=fac, population=pop, network=net, config=cfg)


def _x(study):
    return study.demand.geometry.x.to_numpy() - X0


def test_uphill_to_the_facility_by_hand(tmp_path):
    """The road climbs 8 % towards the facility: walking to it costs d x Tobler's uphill pace."""
    dem = plane_dem(tmp_path / "dem.tif", gx=-0.08)           # higher in the west, where the facility is
    st = road_study(tmp_path, dem=dem)
    res = st.coverage()
    d = _x(st)
    up = tobler_pace(0.08)
    assert up == pytest.approx(math.exp(0.28))
    np.testing.assert_allclose(res.demand["dist_comprehensive"], d * up, rtol=0, atol=1e-6)
    np.testing.assert_allclose(res.demand["dist_comprehensive_flat"], d, rtol=0, atol=1e-9)
    # 15 min = 1000 flat-walking metres: uphill 755.8 m of road -> cells at 50 ... 750 m (8), flat 10
    s = res.summary[(res.summary.level == "area") & (res.summary.threshold_min == 15)].iloc[0]
    assert s.covered_pop == pytest.approx(80) and s.population == pytest.approx(200)
    se = res.slope_effect.set_index(["level", "unit"])
    assert se.loc[("area", "study area"), "coverage_rate_flat"] == pytest.approx(0.5)
    assert se.loc[("area", "study area"), "coverage_rate_sloped"] == pytest.approx(0.4)
    assert se.loc[("area", "study area"), "change_pp"] == pytest.approx(-10.0)
    assert se.loc[("urban_rural", "rural"), "change_pp"] == pytest.approx(-20.0)
    assert se.loc[("community", "B"), "covered_pop_sloped"] == pytest.approx(30)   # 550, 650, 750
    assert se.loc[("community", "B"), "covered_pop_flat"] == pytest.approx(50)
    assert se.loc[("community", "C"), "change_pp"] == pytest.approx(0.0)
    assert se.loc[("township", "T2"), "coverage_rate_sloped"] == pytest.approx(30 / 150)
    # the report says which DEM and which direction
    rep = res.report["dem"]
    assert rep["direction"] == "to_facility" and rep["max_grade"] == pytest.approx(0.08, abs=1e-9)
    assert rep["nodata_pieces"] == 0 and rep["cell_m"] == pytest.approx(10.0)
    assert res.mode_label("walk") == "步行（按坡度）" and res.mode_label("walk", "en") == "walking (slope-adjusted)"


def test_downhill_and_round_trip_by_hand(tmp_path):
    """Walking down 8 % is faster than flat (Tobler: fastest at -5 %); the round trip is the mean of
    the two ways, between uphill and downhill; the direction flips with the DEM."""
    down = tobler_pace(-0.08)
    up = tobler_pace(0.08)
    assert down == pytest.approx(math.exp(-0.07)) and down < 1 < up
    dem_down = plane_dem(tmp_path / "down.tif", gx=0.08)       # the facility at the bottom
    st = road_study(tmp_path, dem=dem_down)
    d = _x(st)
    np.testing.assert_allclose(st.distances("comprehensive")[0], d * down, rtol=0, atol=1e-6)
    dem_up = plane_dem(tmp_path / "up.tif", gx=-0.08)
    rt = road_study(tmp_path, dem=dem_up, slope="round_trip")
    dist = rt.distances("comprehensive")[0]
    np.testing.assert_allclose(dist, d * (up + down) / 2, rtol=0, atol=1e-6)
    assert np.all(d * down < dist) and np.all(dist < d * up)
    # round trip: 1000 / 1.1278 = 886.7 m -> 9 cells covered
    s = rt.coverage().summary
    assert s[(s.level == "area") & (s.threshold_min == 15)].covered_pop.iloc[0] == pytest.approx(90)


def test_no_walk_is_faster_than_tobler_allows(tmp_path):
    """On any DEM the sloped walk is at least the flat distance / 1.19 (a 5 % descent)."""
    rng = np.random.default_rng(3)
    xl, yt, cell = X0 - 800, Y0 + 800, 20.0
    z = 100 + np.cumsum(rng.normal(0, 3, (80, 180)), axis=1)
    dem = write_raster(tmp_path / "rough.tif", z, xl, yt, cell)
    st = road_study(tmp_path, dem=dem)
    flat = st.distances("comprehensive", flat=True)[0]
    slope = st.distances("comprehensive")[0]
    ok = np.isfinite(slope)
    assert np.all(slope[ok] >= flat[ok] / math.exp(0.175) - 1e-6)
    assert st.report()["dem"]["max_grade"] > 0.05


def test_a_flat_dem_changes_nothing_on_the_road(tmp_path):
    dem = plane_dem(tmp_path / "flat.tif", gx=0.0)
    a = road_study(tmp_path).coverage()
    b = road_study(tmp_path, dem=dem).coverage()
    pd.testing.assert_frame_equal(a.by_community, b.by_community)
    pd.testing.assert_frame_equal(a.summary, b.summary)
    assert np.array_equal(a.demand["dist_comprehensive"], b.demand["dist_comprehensive"])
    assert np.array_equal(b.demand["dist_comprehensive_flat"], b.demand["dist_comprehensive"])
    assert (b.slope_effect.change_pp.fillna(0) == 0).all() and a.slope_effect is None


# ----------------------------------------------------------------------------- networkx on a tilted grid


def test_sloped_distances_equal_networkx_on_a_tilted_grid(tmp_path):
    """A 5 x 4 grid of streets (spacing 150 m) on the plane z = 3 % east + 6 % north: each street's
    cost both ways by hand from Tobler, then networkx multi_source_dijkstra from the facilities
    over the edges reversed (residents walking to them) gives every demand point's walk."""
    gx, gy, sp_ = 0.03, 0.06, 150.0
    nxs, nys = 5, 4
    ids = np.arange(nxs * nys)
    X = X0 + (ids % nxs) * sp_
    Y = Y0 + (ids // nxs) * sp_
    u, v = [], []
    for i in ids:
        if i % nxs < nxs - 1:
            u.append(i), v.append(i + 1)
        if i // nxs < nys - 1:
            u.append(i), v.append(i + nxs)
    net = from_edge_arrays(ids, X, Y, u, v, crs=CRS)
    w, h = (nxs - 1) * sp_, (nys - 1) * sp_
    comm = gpd.GeoDataFrame({"code": ["G"]}, geometry=[box(X0, Y0, X0 + w, Y0 + h)], crs=CRS)
    fac = gpd.GeoDataFrame({"category": ["health", "health"]},
                           geometry=gpd.points_from_xy([X0, X0 + 3 * sp_], [Y0 + h, Y0]), crs=CRS)
    pop = write_raster(tmp_path / "pop.tif", np.full((12, 16), 5.0), X0, Y0 + h, 37.5, dtype="float32")
    dem = plane_dem(tmp_path / "tilt.tif", gx=gx, gy=gy, x1=w, y1=h, cell=7.5, margin=400)
    st = lc.Study(communities=comm, facilities=fac, population=pop, network=net,
                  config={"analysis": {"categories": ["health"]}, "network": {"dem": str(dem)},
                          "siting": {"enabled": False}})
    got = st.distances("health")[0]
    # directed graph of walking costs: a -> b costs length x pace(grade a -> b)
    G = nx.DiGraph()
    for a, b in zip(u, v):
        L = math.hypot(X[b] - X[a], Y[b] - Y[a])
        s = (gx * (X[b] - X[a]) + gy * (Y[b] - Y[a])) / L
        G.add_edge(a, b, w=L * tobler_pace(s))
        G.add_edge(b, a, w=L * tobler_pace(-s))
    src = [0 + (nys - 1) * nxs, 3]                       # the facilities sit on these nodes
    D = nx.multi_source_dijkstra_path_length(G.reverse(), src, weight="w")   # node -> nearest facility
    ag = st.access()
    pts = ag.ids("demand")
    e, f, snap = ag.point_edge[pts], ag.point_frac[pts], ag.point_snap[pts]
    eu, ev = net.edge_u[e], net.edge_v[e]
    want = np.empty(len(pts))
    for k in range(len(pts)):
        a, b = int(eu[k]), int(ev[k])
        L = math.hypot(X[b] - X[a], Y[b] - Y[a])
        s = (gx * (X[b] - X[a]) + gy * (Y[b] - Y[a])) / L
        to_a = f[k] * L * tobler_pace(-s)                 # along the street back to a
        to_b = (1 - f[k]) * L * tobler_pace(s)
        want[k] = snap[k] + min(to_a + D[a], to_b + D[b])
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    # the flat walk beside it is the plain network distance
    Gf = nx.Graph()
    for a, b in zip(u, v):
        Gf.add_edge(a, b, w=math.hypot(X[b] - X[a], Y[b] - Y[a]))
    Df = nx.multi_source_dijkstra_path_length(Gf, src, weight="w")
    flat = st.distances("health", flat=True)[0]
    want_f = [snap[k] + min(f[k] * Gf[eu[k]][ev[k]]["w"] + Df[eu[k]], (1 - f[k]) * Gf[eu[k]][ev[k]]["w"] + Df[ev[k]])
              for k in range(len(pts))]
    np.testing.assert_allclose(flat, want_f, rtol=0, atol=1e-6)


# ----------------------------------------------------------------------------- travel circles


def test_travel_circle_rates_by_hand(tmp_path):
    """2 minutes by e-bike (15 km/h on a residential road) = 133.3 flat-walking metres = 500 m of
    road: cells at 50 ... 450 m; on foot 133.3 m: the cell at 50 m. Rural communities only."""
    st = road_study(tmp_path, circles=[{"category": "comprehensive", "minutes": 2, "mode": "ebike",
                                        "applies_to": "rural"}])
    res = st.coverage()
    d = _x(st)
    np.testing.assert_allclose(st.distances("comprehensive", 1e4, mode="ebike")[0], d * 4 / 15, rtol=0, atol=1e-9)
    # the demand column is searched to the circle's cost (2 min x 66.7 m/min), inf beyond it
    col = res.demand["dist_comprehensive_by_ebike"].to_numpy()
    assert np.array_equal(np.isfinite(col), d * 4 / 15 <= 2 * M_PER_MIN + 1e-9)
    tc = res.travel_circles.set_index(["level", "unit"])
    assert set(tc.index) == {("area", "study area"), ("urban_rural", "rural"), ("township", "T1"),
                             ("township", "T2"), ("community", "A"), ("community", "B")}   # C is urban
    assert (tc["circle"] == "comprehensive_ebike_2min_rural").all() and (tc["mode"] == "ebike").all()
    assert (tc["circle_name"] == "电动自行车2分钟").all() and (tc["threshold_min"] == 2).all()
    assert tc["distance_m"].isna().all()
    assert tc.loc[("area", "study area"), ["population", "covered_pop"]].tolist() == pytest.approx([100, 50])
    assert tc.loc[("area", "study area"), "coverage_rate"] == pytest.approx(0.5)
    assert tc.loc[("area", "study area"), "coverage_rate_walk"] == pytest.approx(0.1)
    assert tc.loc[("community", "A"), "coverage_rate"] == pytest.approx(1.0)
    assert tc.loc[("community", "A"), "coverage_rate_walk"] == pytest.approx(0.2)
    assert tc.loc[("community", "B"), "coverage_rate"] == pytest.approx(0.0)
    assert tc.loc[("township", "T2"), "population"] == pytest.approx(50)          # B only
    assert tc.loc[("township", "T1"), "uncovered_pop"] == pytest.approx(0)


def test_a_circle_of_a_category_not_analysed(tmp_path):
    """A circle may name a category the study does not analyse (here with no facility: 0 %)."""
    st = road_study(tmp_path, circles=[{"category": "health", "minutes": 10, "mode": "cycle"}])
    tc = st.coverage().travel_circles
    a = tc[tc.level == "area"].iloc[0]
    assert a.category == "health" and a.coverage_rate == 0 and a.population == pytest.approx(200)
    assert "dist_health_by_cycle" in st.demand


def test_distance_circle_and_walk_circle(tmp_path):
    """A circle in metres is a distance along the roads (the flat walk), whatever its mode and the
    slope; a walking circle in minutes follows the slope."""
    dem = plane_dem(tmp_path / "dem.tif", gx=-0.08)
    st = road_study(tmp_path, dem=dem, circles=[{"category": "comprehensive", "metres": 700, "mode": "ebike",
                                                 "name": "十里<b>圈"},
                                                {"category": "comprehensive", "minutes": 10}])
    tc = st.coverage().travel_circles
    a = tc[(tc.level == "area")].set_index("circle")
    # 700 m along the road: cells at 50 ... 650 m (7 of 20)
    assert a.loc["comprehensive_ebike_700m", "coverage_rate"] == pytest.approx(0.35)
    assert a.loc["comprehensive_ebike_700m", "circle_name"] == "十里<b>圈"
    assert a.loc["comprehensive_ebike_700m", "distance_m"] == 700 and np.isnan(a.loc["comprehensive_ebike_700m",
                                                                                          "threshold_min"])
    # 10 min uphill: 666.7 / exp(0.28) = 503.9 m: cells at 50 ... 450 m
    assert a.loc["comprehensive_walk_10min", "coverage_rate"] == pytest.approx(0.25)
    assert a.loc["comprehensive_walk_10min", "circle_name"] == "步行（按坡度）10分钟"


def test_profile_indicator_by_ebike_gets_its_distances(tmp_path):
    """Guangdong's rural 半小时生活圈 read as 30 minutes by e-bike (the profile's mode): the study
    hands the indicators dist_commerce_by_ebike. A 10 km road, a shop at its west end, two rural
    villages: 30 min x 15 km/h = 7.5 km of road, so 75 of the 100 cells; on foot 2 km, 20."""
    xs = X0 + np.arange(0, 10_001, 1000.0)
    net = from_edge_arrays(np.arange(11), xs, np.full(11, Y0), np.arange(10), np.arange(1, 11), crs=CRS,
                           road_class=["tertiary"] * 10)
    comm = gpd.GeoDataFrame({"code": ["R1", "R2"], "township": ["T", "T"], "type": ["rural", "rural"],
                             "households": [50, 50]},
                            geometry=[box(X0, Y0 - 50, X0 + 5000, Y0 + 50), box(X0 + 5000, Y0 - 50, X0 + 10_000, Y0 + 50)],
                            crs=CRS)
    fac = gpd.GeoDataFrame({"category": ["commerce"], "name": ["便民超市"]}, geometry=gpd.points_from_xy([X0], [Y0]),
                           crs=CRS)
    pop = write_raster(tmp_path / "pop.tif", np.full((1, 100), 10.0), X0, Y0 + 50, 100.0, dtype="float32")
    st = lc.Study(communities=comm, facilities=fac, population=pop, network=net,
                  config={"communities": {"fields": {"id": "code", "township": "township", "type": "type",
                                                     "households": "households"}},
                          "analysis": {"categories": ["commerce"]}, "profile": "guangdong_13th",
                          "siting": {"enabled": False}})
    d = st.distances("commerce", mode="ebike")[0]          # searched to the profile's 30 min (2000 cost)
    np.testing.assert_allclose(d[np.isfinite(d)], _x(st)[np.isfinite(d)] * 4 / 15, rtol=0, atol=1e-9)
    assert np.isfinite(d).sum() == 75
    ind = st.indicators()
    row = ind[(ind.indicator_id == "life_circle_rural_30min") & (ind.level == "area")].iloc[0]
    assert row["mode"] == "ebike" and row["status"] == "measured"
    assert row["value"] == pytest.approx(75.0)


def test_road_layer_classes_through_the_class_map(tmp_path):
    """A county road layer: 县道 (packaged map: secondary, e-bike 15 km/h) then a 村组路 mapped by
    network.class_map to track (e-bike 10 km/h); the facility at the far end of the 村组路."""
    from shapely.geometry import LineString
    roads = gpd.GeoDataFrame({"等级": ["县道", "村组路"], "名称": ["X101", "村道"]},
                             geometry=[LineString([(X0, Y0), (X0 + 1000, Y0)]),
                                       LineString([(X0 + 1000, Y0), (X0 + 2000, Y0)])], crs=CRS)
    roads.to_file(tmp_path / "roads.gpkg", layer="roads", driver="GPKG")
    comm = gpd.GeoDataFrame({"code": ["A"], "type": ["rural"]}, geometry=[box(X0, Y0 - 50, X0 + 2000, Y0 + 50)],
                            crs=CRS)
    fac = gpd.GeoDataFrame({"category": ["comprehensive"]}, geometry=gpd.points_from_xy([X0 + 2000], [Y0]), crs=CRS)
    pop = write_raster(tmp_path / "pop.tif", np.full((1, 20), 10.0), X0, Y0 + 50, 100.0, dtype="float32")
    st = lc.Study(communities=comm, facilities=fac, population=pop,
                  config={"communities": {"fields": {"id": "code", "type": "type"}},
                          "network": {"source": "roads", "path": str(tmp_path / "roads.gpkg"), "class_field": "等级",
                                      "name_field": "名称", "class_map": {"村组路": "track"}},
                          "analysis": {"categories": ["comprehensive"],
                                       "travel_circles": [{"category": "comprehensive", "minutes": 5,
                                                           "mode": "ebike"}]},
                          "siting": {"enabled": False}})
    assert sorted(set(st.network.edge_class)) == ["secondary", "track"]
    x = _x(st)
    want = np.where(x < 1000, (1000 - x) * 4 / 15 + 1000 * 4 / 10, (2000 - x) * 4 / 10)
    np.testing.assert_allclose(st.distances("comprehensive", 1e5, mode="ebike")[0], want, rtol=0, atol=1e-6)
    # 5 min by e-bike = 333.3 flat-walking m: on the track 833 m, so cells at 1250 ... 1950 m (8 of 20)
    tc = st.coverage().travel_circles
    assert tc[tc.level == "area"].coverage_rate.iloc[0] == pytest.approx(0.4)


def test_a_faster_mode_never_lowers_coverage(tmp_path):
    """Walk <= cycle <= e-bike <= motorbike at every threshold, with a DEM (the riders are not
    slowed by the slope; where they walk, they walk on it). One study of three parallel roads of
    road_study's layout, 300 m apart and not joined, one per road class (residential, footway, track),
    each with its own facility, communities and townships: every community is one road's, so its
    rows are that road class's figures (and the area's rows, sums of them, follow)."""
    rng = np.random.default_rng(7)
    z = 100 + np.cumsum(rng.normal(0, 2, (80, 180)), axis=1)
    dem = write_raster(tmp_path / "rough.tif", z, X0 - 800, Y0 + 800, 20.0)
    classes = ("residential", "footway", "track")
    ys = Y0 + np.array([300.0, 0.0, -300.0])                   # one road per class
    xs = X0 + np.arange(0, 2001, 500.0)
    net = from_edge_arrays(np.arange(15), np.tile(xs, 3), np.repeat(ys, 5), [5 * r + i for r in range(3) for i in range(4)],
                           [5 * r + i + 1 for r in range(3) for i in range(4)], crs=CRS,
                           road_class=[c for c in classes for _ in range(4)])
    rows = [(f"{k}_{c}", f"{t}_{c}", typ, hh, box(X0 + a, y - 50, X0 + b, y + 50))
            for c, y in zip(classes, ys)
            for k, t, typ, hh, a, b in (("A", "T1", "rural", 20, 0, 500), ("B", "T2", "rural", 20, 500, 1000),
                                        ("C", "T2", "urban", 40, 1000, 2000))]
    comm = gpd.GeoDataFrame({"code": [r[0] for r in rows], "township": [r[1] for r in rows],
                             "type": [r[2] for r in rows], "households": [r[3] for r in rows]},
                            geometry=[r[4] for r in rows], crs=CRS)
    fac = gpd.GeoDataFrame({"id": ["F1", "F2", "F3"], "category": ["comprehensive"] * 3, "name": ["党群服务中心"] * 3},
                           geometry=gpd.points_from_xy([X0] * 3, ys), crs=CRS)
    cells = np.full((7, 20), -9999.0)                          # 100 m rows centred on y = Y0 + 300 ... Y0 - 300
    cells[[0, 3, 6]] = 10.0                                    # 20 cells x 10 people on each road, nodata between
    pop = write_raster(tmp_path / "pop.tif", cells, X0, Y0 + 350, 100.0, dtype="float32")
    modes = ["walk", "cycle", "ebike", "motorbike"]
    circles = [{"category": "comprehensive", "minutes": m, "mode": md} for m in (1, 2, 3, 5, 8) for md in modes]
    st = lc.Study(communities=comm, facilities=fac, population=pop, network=net,
                  config={"communities": {"fields": {"id": "code", "township": "township", "type": "type",
                                                     "households": "households"}},
                          "network": {"dem": str(dem)},
                          "analysis": {"categories": ["comprehensive"], "travel_circles": circles},
                          "siting": {"enabled": False}})
    assert len(st.demand) == 60 and st.demand.population.sum() == pytest.approx(600)
    tc = st.coverage().travel_circles
    seen = set()
    for lvl in ("area", "community"):
        sub = tc[tc.level == lvl]
        for (m, unit), g in sub.groupby([sub.threshold_min, sub.unit]):
            seen.add(unit)
            r = g.set_index("mode").coverage_rate.reindex(modes).fillna(-1).to_numpy()
            assert np.all(np.diff(r) >= -1e-12), (m, unit, r)
            assert np.all(g.coverage_rate.fillna(-1) >= g.coverage_rate_walk.fillna(-1) - 1e-12)
    assert seen == {"study area", *comm.code}
    # on a footway everyone pushes: every mode has the walk's figures
    foot = tc[tc.unit.isin(comm.code[comm.code.str.endswith("_footway")])]
    assert len(foot) == 3 * 20 and foot.groupby(["threshold_min", "unit"]).coverage_rate.nunique().max() == 1


# ----------------------------------------------------------------------------- the sample


def _sample_raw(**analysis):
    raw = read_yaml(SAMPLE / "study.yaml")
    for sec, key in (("communities", "path"), ("facilities", "path"), ("population", "path"), ("network", "path")):
        raw[sec][key] = str(SAMPLE / raw[sec][key])
    raw["network"].pop("dem", None)
    raw["analysis"].pop("travel_circles", None)
    raw["analysis"].update(analysis)
    return raw


def _sample_dem(path, hills=True):
    """A DEM over the sample in its UTM zone (EPSG:32635): flat at 20 m, or two hills and a valley."""
    comm = gpd.read_file(SAMPLE / "communities.gpkg", layer="communities").to_crs("EPSG:32635")
    x0, y0, x1, y1 = comm.total_bounds
    cell, m = 10.0, 1500.0
    xl, yt = math.floor((x0 - m) / cell) * cell, math.ceil((y1 + m) / cell) * cell
    nx_, ny_ = int((x1 - x0 + 2 * m) / cell) + 1, int((y1 - y0 + 2 * m) / cell) + 1
    xc = xl + (np.arange(nx_) + 0.5) * cell
    yc = yt - (np.arange(ny_) + 0.5) * cell
    z = np.full((ny_, nx_), 20.0)
    if hills:
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        X, Y = np.meshgrid(xc, yc)
        for dx, dy, hgt, s in ((-250, 300, 40, 170), (300, -350, 30, 200), (100, 50, -15, 250)):
            z += hgt * np.exp(-((X - cx - dx) ** 2 + (Y - cy - dy) ** 2) / (2 * s * s))
    return write_raster(path, z, xl, yt, cell, crs="EPSG:32635")


def test_flat_dem_gives_exactly_the_tables_without_dem(tmp_path, sample_results):
    """The sample with a DEM of constant elevation: the same coverage tables, indicators, gaps
    and distances as without a DEM (the session's sample run, tests/conftest.py), bit for bit; the
    slope changes nothing."""
    flat = read_yaml(SAMPLE / "study.yaml")
    flat["network"]["dem"] = str(_sample_dem(tmp_path / "flat.tif", hills=False))
    a = sample_results.study
    b = lc.Study(config=lc.config.StudyConfig.from_dict(flat, base=SAMPLE, file="b.yaml"))
    assert replace(b.config, network=a.config.network, file=a.config.file, base=a.config.base) == a.config
    ra, rb = a.coverage(), b.coverage()
    pd.testing.assert_frame_equal(ra.by_community, rb.by_community)
    pd.testing.assert_frame_equal(ra.summary, rb.summary)
    for cat in a.categories:
        assert np.array_equal(ra.demand[f"dist_{cat}"], rb.demand[f"dist_{cat}"])
        assert np.array_equal(rb.demand[f"dist_{cat}_flat"], rb.demand[f"dist_{cat}"])
    pd.testing.assert_frame_equal(pd.DataFrame(a.gaps().drop(columns="geometry")),
                                  pd.DataFrame(b.gaps().drop(columns="geometry")))
    pd.testing.assert_frame_equal(a.indicators(), b.indicators())
    pd.testing.assert_frame_equal(a.excluded(), b.excluded())
    assert (rb.slope_effect.change_pp.fillna(0) == 0).all()
    assert b.report()["dem"]["max_grade"] == 0 and b._walk_speedup() == 1.0


@pytest.fixture(scope="module")
def hilly(tmp_path_factory):
    """The sample with a hilly DEM, the rural 30-minute e-bike circle and 3-minute circles by every
    mode, written to a folder."""
    d = tmp_path_factory.mktemp("hilly")
    circles = [{"category": "comprehensive", "minutes": 30, "mode": "ebike", "applies_to": "rural"}]
    circles += [{"category": "comprehensive", "minutes": 3, "mode": m, "name": f"<script>{m}</script>"}
                for m in ("walk", "cycle", "ebike", "motorbike")]
    raw = _sample_raw(travel_circles=circles)
    raw["network"]["dem"] = str(_sample_dem(d / "hills.tif"))
    raw["output"]["folder"] = str(d / "out")
    cfg = lc.config.StudyConfig.from_dict(raw, base=SAMPLE, file="hilly.yaml")
    study = lc.Study(config=cfg)
    res = study.run()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        files = res.write(d / "out")
    return study, res, files, d / "out"


def test_sample_with_dem_and_ebike_circle_writes_the_tables(hilly):
    import openpyxl
    from coverage.report.tables import TABLES, build_tables, describe
    study, res, files, out = hilly
    wb = openpyxl.load_workbook(files["xlsx"])
    for key in ("slope_effect", "travel_circles"):
        sheet, csv = TABLES[key]
        assert wb[sheet].max_row > 1
        df = pd.read_csv(out / "tables" / csv, encoding="utf-8-sig")
        assert len(df) > 1
    tables = build_tables(res)
    for key in ("slope_effect", "travel_circles"):
        for c in tables[key].columns:
            describe(key, c)                          # every column documented
    md = files["md"].read_text(encoding="utf-8")
    assert "## 坡度影响 Slope effect" in md and "## 出行服务圈 Travel circles" in md
    cols = files["columns"].read_text(encoding="utf-8")
    assert "coverage_rate_sloped" in cols and "coverage_rate_walk" in cols
    se = res.slope_effect
    area = se[(se.level == "area")]
    assert (area.coverage_rate_flat.notna()).all()
    assert area.change_pp.abs().max() > 0                 # the hills change something
    tc = res.travel_circles
    rural = tc[(tc.circle == "comprehensive_ebike_30min_rural")]
    assert set(rural[rural.level == "community"].unit) == {"HK01", "HK04", "HK12"}
    assert rural[rural.level == "area"].coverage_rate.iloc[0] >= rural[rural.level == "area"].coverage_rate_walk.iloc[0]
    r3 = tc[(tc.level == "area") & (tc.threshold_min == 3)].set_index("mode").coverage_rate
    assert r3["walk"] <= r3["cycle"] <= r3["ebike"] <= r3["motorbike"]
    assert r3["walk"] < r3["motorbike"]
    assert {"dist_comprehensive_flat", "dist_comprehensive_by_ebike"} <= set(res.demand.columns)


def test_siting_gaps_and_circles_follow_the_sloped_walk(hilly):
    """Siting's 'before' rate and the gaps are counted from the same sloped walks as the tables."""
    study, res, files, out = hilly
    s = res.summary
    checked = 0
    for _, r in res.siting_summary.iterrows():
        if pd.isna(r["rate_before"]):                     # already fully covered: no siting run
            continue
        checked += 1
        cat = r["category"]
        t = res.thresholds[cat].metres
        row = s[(s.level == "area") & (s.category == cat) & np.isclose(s.threshold_m, round(t, 1))]
        assert r["rate_before"] == pytest.approx(row.coverage_rate.iloc[0], abs=1e-9)
    assert checked >= 3
    se = res.slope_effect
    comp = se[(se.level == "area") & (se.category == "comprehensive")].iloc[0]
    ss = res.siting_summary.set_index("category")
    assert ss.loc["comprehensive", "rate_before"] == pytest.approx(comp.coverage_rate_sloped, abs=1e-9)
    g = res.gaps
    for cat in res.categories:
        unc = ~lc.analysis.coverage.covered(res.demand[f"dist_{cat}"], res.thresholds[cat].metres)
        assert g[g.category == cat].population.sum() == pytest.approx(res.demand.population[unc].sum())
    assert res.circles is not None and len(res.circles)


def test_report_and_map_say_the_mode_and_escape_names(hilly):
    study, res, files, out = hilly
    doc = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="slope"' in doc and 'id="circles"' in doc
    assert "平地覆盖率" in doc and "按坡度覆盖率" in doc and "电动自行车30分钟" in doc
    assert "<script>walk" not in doc and "&lt;script&gt;walk&lt;/script&gt;" in doc
    m = (out / "map.html").read_text(encoding="utf-8")
    assert "步行（按坡度）" in m and "电动自行车30分钟" in m
    assert "<script>walk</script>" not in m
    rep = res.report
    assert rep["dem"]["pieces"] > 0 and rep["dem"]["direction"] == "to_facility"
    assert "ebike" in rep["modes"]
