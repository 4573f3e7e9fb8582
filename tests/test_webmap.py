"""The interactive map: layers, legend, labels, basemaps, errors and byte-identical output."""

import json
import re
import types

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from coverage import CATEGORY_LABELS_ZH
from coverage.errors import InputError
from coverage.report.webmap import (COVERAGE_CLASS_COLOURS, NO_DATA_COLOUR, _share_budget,
                             classify_rate, make_map, resolve_basemap)

CRS = "EPSG:32635"
X0, Y0 = 385_000.0, 6_672_000.0


def _results(with_extras=True):
    communities = gpd.GeoDataFrame({
        "community_id": ["C1", "C2", "C3"],
        "name": ["东城社区", "西城社区", "河口村"],
        "township": ["城关镇", "城关镇", "河口乡"],
        "type": ["urban", "urban", "rural"],
        "households": [400, 300, 0],
        "population": [1000, 800, 0],
    }, geometry=[box(X0, Y0, X0 + 1000, Y0 + 1000), box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000),
                 box(X0, Y0 + 1000, X0 + 2000, Y0 + 2000)], crs=CRS)
    rows = []
    for cid, pop in [("C1", 1000), ("C2", 800), ("C3", 0)]:
        for cat, cov15 in [("elderly_care", {"C1": 0.9, "C2": 0.3}), ("health", {"C1": 0.5, "C2": 0.1})]:
            for thr in (5, 10, 15):
                r = cov15.get(cid, np.nan) * thr / 15 if pop else np.nan
                rows.append(dict(community_id=cid, category=cat, threshold_min=thr, population=pop,
                                 covered_pop=0 if not pop else r * pop, coverage_rate=r))
    cov = pd.DataFrame(rows)
    facilities = gpd.GeoDataFrame({
        "facility_id": ["F1", "F2", "F3", "F4"],
        "name": ["东城日间照料中心", "西城养老站", "东城卫生服务站", "便利店甲"],
        "category": ["elderly_care", "elderly_care", "health", "commerce"],
        "area_m2": [350.0, np.nan, 120.0, 60.0],
    }, geometry=[Point(X0 + 300, Y0 + 300), Point(X0 + 1700, Y0 + 500),
                 Point(X0 + 500, Y0 + 700), Point(X0 + 900, Y0 + 1500)], crs=CRS)
    rng = np.random.default_rng(0)
    xy = rng.uniform([X0, Y0], [X0 + 2000, Y0 + 1000], size=(20, 2))
    dist_e = np.linspace(100, 2500, 20)
    dist_h = np.where(np.arange(20) % 4 == 0, np.inf, np.linspace(2000, 200, 20))
    demand = gpd.GeoDataFrame({
        "population": np.arange(1, 21) * 5.0,
        "community_id": np.where(xy[:, 0] < X0 + 1000, "C1", "C2"),
        "dist_elderly_care": dist_e, "dist_health": dist_h,
    }, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=CRS)
    circles = gpd.GeoDataFrame({"category": ["elderly_care"], "break_min": [15]},
                               geometry=[Point(X0 + 300, Y0 + 300).buffer(1200)], crs=CRS)
    gaps = sites = None
    if with_extras:
        gaps = gpd.GeoDataFrame({"category": ["health"], "population": [230.0], "gap_id": [1]},
                                geometry=[box(X0 + 1500, Y0 + 100, X0 + 1900, Y0 + 900)], crs=CRS)
        sites = gpd.GeoDataFrame({"rank": [1], "category": ["health"], "added_population": [230.0]},
                                 geometry=[Point(X0 + 1700, Y0 + 500)], crs=CRS)
    return types.SimpleNamespace(
        communities=communities, coverage_by_community=cov, facilities=facilities, demand=demand,
        circles=circles, gaps=gaps, sites=sites, categories=["elderly_care", "health"],
        main_threshold_min={"elderly_care": 15, "health": 15}, title="测试县 15分钟生活圈",
        speed_m_per_min=80.0)


@pytest.fixture(scope="module")
def zh_html(tmp_path_factory):
    p = make_map(_results(), tmp_path_factory.mktemp("m") / "map.html")
    return p.read_text(encoding="utf-8")


def _layers(text):
    """{overlay name: (shown at start, [features])} parsed back from the page."""
    text = _unescape(text)
    m = re.search(r"overlays\s*:\s*\{(.*?)\},\s*\};", text, flags=re.S)
    groups = re.findall(r'"(.*?)"\s*:\s*(feature_group_\w+),', m.group(1))
    data = {g: json.loads(d) for g, d in
            re.findall(r"\n\s*(geo_json_\w+)_add\((\{.*?\})\);\n", text)}
    parent = dict(re.findall(r"(geo_json_\w+)\.addTo\((feature_group_\w+)\);", text))
    out = {}
    for name, fg in groups:
        feats = [f for gj, p in parent.items() if p == fg for f in data[gj]["features"]]
        shown = re.search(re.escape(fg) + r"\.addTo\(map_\w+\);", text) is not None
        out[name] = (shown, feats)
    return out


def _unescape(text):
    """Decode the \\uXXXX escapes folium's JSON embedding leaves in the page."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)


def test_layers_legend_labels_and_names(zh_html):
    text = zh_html
    plain = _unescape(text)
    for name in ["东城社区", "西城社区", "河口村", "城关镇", "测试县 15分钟生活圈"]:
        assert name in plain
    lab_e, lab_h = CATEGORY_LABELS_ZH["elderly_care"], CATEGORY_LABELS_ZH["health"]
    for layer in [f"覆盖率: {lab_e} (15 分钟)", f"覆盖率: {lab_h} (15 分钟)",
                  f"设施: {lab_e} (2)", f"设施: {lab_h} (1)",
                  f"设施: {CATEGORY_LABELS_ZH['commerce']} (1)",
                  f"未覆盖人口: {lab_e} (> 15 分钟", f"未覆盖人口: {lab_h} (> 15 分钟",
                  f"15 分钟 服务圈: {lab_e}", f"覆盖缺口: {lab_h} (1)", f"建议选址: {lab_h} (1)",
                  "底图: OpenStreetMap.Mapnik"]:
        assert layer in plain, layer
    assert "lc-legend" in text and "社区覆盖率（步行 15 分钟，按人口）" in plain
    assert "无人口 / 无数据" in plain and "80–100%" in plain
    assert "L.control.layers" in text and "L.control.scale" in text
    assert "fitBounds" in text
    # every community feature: grey where no population (C3), otherwise the class colour
    assert NO_DATA_COLOUR in text and COVERAGE_CLASS_COLOURS[4] in text  # C1 elderly 0.9


def test_layer_content_and_visibility(zh_html):
    res = _results()
    lay = _layers(zh_html)
    lab_e, lab_h = CATEGORY_LABELS_ZH["elderly_care"], CATEGORY_LABELS_ZH["health"]
    shown = sorted(n for n, (s, _) in lay.items() if s)
    # first category's choropleth, uncovered points, 15-min circle, and analysed facilities
    assert shown == sorted([f"覆盖率: {lab_e} (15 分钟)", f"15 分钟 服务圈: {lab_e}",
                            next(n for n in lay if n.startswith(f"未覆盖人口: {lab_e}")),
                            f"设施: {lab_e} (2)", f"设施: {lab_h} (1)"])
    # choropleth colours by hand: elderly C1 0.9 -> class 4, C2 0.3 -> class 1, C3 no people
    feats = lay[f"覆盖率: {lab_e} (15 分钟)"][1]
    by_name = {f["properties"]["name"]: f["properties"] for f in feats}
    assert by_name["东城社区"]["fill_elderly_care"] == COVERAGE_CLASS_COLOURS[4]
    assert by_name["西城社区"]["fill_elderly_care"] == COVERAGE_CLASS_COLOURS[1]
    assert by_name["河口村"]["fill_elderly_care"] == NO_DATA_COLOUR
    assert "fill_health" not in by_name["西城社区"]  # each layer carries its own colour only
    health = {f["properties"]["name"]: f["properties"]
              for f in lay[f"覆盖率: {lab_h} (15 分钟)"][1]}
    assert health["西城社区"]["fill_health"] == COVERAGE_CLASS_COLOURS[0]  # 0.1
    assert health["东城社区"]["fill_health"] == COVERAGE_CLASS_COLOURS[2]  # 0.5
    # tooltip carries the rate of every category
    assert by_name["东城社区"]["rate_elderly_care"] == "90.0%"
    assert by_name["东城社区"]["rate_health"] == "50.0%"
    assert by_name["河口村"]["rate_health"] == "无人口"
    assert by_name["西城社区"]["type"] == "城市社区" and by_name["河口村"]["type"] == "农村社区"
    # facility popups: name, category, area (missing area shown as a dash)
    fac = {f["properties"]["name"]: f["properties"] for f in lay[f"设施: {lab_e} (2)"][1]}
    assert fac["东城日间照料中心"]["area"] == "350 m²" and fac["西城养老站"]["area"] == "—"
    assert fac["西城养老站"]["cat"] == lab_e


def test_uncovered_points_match_threshold(zh_html):
    res = _results()
    lay = _layers(zh_html)
    thr = 15 * 80.0
    d = res.demand
    for cat in res.categories:
        sel = d[d[f"dist_{cat}"] > thr]
        name = next(n for n in lay if n.startswith(f"未覆盖人口: {CATEGORY_LABELS_ZH[cat]}"))
        # the layer name carries the uncovered population (sum of the selected points)
        assert name.endswith(f"(> 15 分钟, {int(sel['population'].sum()):,})")
        feats = lay[name][1]
        assert len(feats) == len(sel) and 0 < len(sel) < 20
        pops = sorted(float(f["properties"]["population"].replace(",", "")) for f in feats)
        assert pops == sorted(sel["population"].tolist())
        # radius grows with population
        r = {float(f["properties"]["population"]): f["properties"]["r"] for f in feats}
        ks = sorted(r)
        assert all(r[a] <= r[b] for a, b in zip(ks, ks[1:]))
    unreachable = int(np.isinf(d["dist_health"]).sum())
    h = next(n for n in lay if n.startswith(f"未覆盖人口: {CATEGORY_LABELS_ZH['health']}"))
    assert sum(f["properties"]["dist"] == "不可达" for f in lay[h][1]) == unreachable > 0


def test_max_demand_points_caps_and_says_so(tmp_path):
    res = _results()
    # a budget of 6 points over two categories with 11 uncovered each: 3 each
    text = make_map(res, tmp_path / "m.html", max_demand_points=6).read_text(encoding="utf-8")
    sel = res.demand[res.demand["dist_elderly_care"] > 1200]
    lay = _layers(text)
    name = next(n for n in lay if n.startswith(f"未覆盖人口: {CATEGORY_LABELS_ZH['elderly_care']}"))
    assert f"显示 3 / 共 {len(sel)} 点" in name and f"显示 3 / 共 {len(sel)} 点" in _unescape(text)
    # the three most populous uncovered points are the ones kept
    got = sorted(float(f["properties"]["population"]) for f in lay[name][1])
    assert got == sorted(sel["population"].nlargest(3).tolist())


def test_share_budget():
    assert _share_budget({"a": 2, "b": 50, "c": 50}, 20) == {"a": 2, "b": 9, "c": 9}
    assert _share_budget({"a": 2, "b": 5}, 100) == {"a": 2, "b": 5}
    q = _share_budget({"a": 7, "b": 8, "c": 30}, 21)
    assert q == {"a": 7, "b": 7, "c": 7} and sum(q.values()) == 21


def test_english(tmp_path):
    text = _unescape(make_map(_results(), tmp_path / "en.html", lang="en").read_text("utf-8"))
    for s in ["Coverage: Elderly care (15 min)", "Facilities: Health (1)",
              "Uncovered population: Health", "Community coverage (walk 15 min, by population)",
              "no population / no data", "东城社区"]:
        assert s in text, s
    assert "覆盖率" not in text


@pytest.mark.filterwarnings("ignore:CartoDB tiles")
def test_basemap_none_and_xyzservices(tmp_path):
    none = _unescape(make_map(_results(False), tmp_path / "n.html", basemap="none").read_text("utf-8"))
    assert "L.tileLayer" not in none and "tile.openstreetmap" not in none
    assert "东城社区" in none and "fitBounds" in none  # data still there, view fitted
    carto = make_map(_results(False), tmp_path / "c.html", basemap="CartoDB.Positron")
    ctext = carto.read_text("utf-8")
    assert "L.tileLayer" in ctext and "basemaps.cartocdn.com" in ctext
    assert resolve_basemap("cartodb positron")["name"] == "CartoDB.Positron"
    assert "{z}" in resolve_basemap("Esri.WorldImagery")["tiles"]
    assert resolve_basemap("NONE") is None


def test_bad_basemap_names_output_basemap(tmp_path):
    with pytest.raises(InputError) as e:
        make_map(_results(), tmp_path / "x.html", basemap="NoSuchTilesXYZ")
    assert e.value.field == "output.basemap" and "output.basemap" in str(e.value)
    assert not (tmp_path / "x.html").exists()


def test_bad_inputs_name_the_field(tmp_path):
    res = _results()
    res.demand = res.demand.drop(columns=["dist_health"])
    with pytest.raises(InputError, match="dist_health"):
        make_map(res, tmp_path / "x.html")
    res = _results()
    res.main_threshold_min = {"elderly_care": 15}
    with pytest.raises(InputError) as e:
        make_map(res, tmp_path / "x.html")
    assert e.value.field == "main_threshold_min.health"
    with pytest.raises(InputError) as e:
        make_map(_results(), tmp_path / "x.html", lang="fr")
    assert e.value.field == "output.lang"


def test_bounds_fitted_to_communities(tmp_path):
    res = _results()
    text = make_map(res, tmp_path / "m.html").read_text("utf-8")
    b = res.communities.to_crs(4326).total_bounds
    # the map's own call comes after the inlined Leaflet library (which has fitBounds calls of its own)
    text = text[text.index("L.map("):]
    m = re.search(r"fitBounds\(\s*\[\[([-\d.]+),\s*([-\d.]+)\],\s*\[([-\d.]+),\s*([-\d.]+)\]\]",
                  text)
    assert m, "fitBounds call not found"
    got = [float(v) for v in m.groups()]
    np.testing.assert_allclose(got, [b[1], b[0], b[3], b[2]], atol=1e-5)


def test_classify_rate_fixed_classes():
    cls = classify_rate([0.0, 0.1999, 0.2, 0.5, 0.8, 1.0, np.nan, 1.2])
    assert cls.tolist() == [0, 0, 1, 2, 4, 4, -1, 4]


def test_two_runs_byte_identical(tmp_path):
    a = make_map(_results(), tmp_path / "a.html").read_bytes()
    b = make_map(_results(), tmp_path / "b.html").read_bytes()
    assert a == b
    # ids come from the counter, not from os.urandom
    assert re.search(rb"map_[0-9a-f]{32}", a)
    c = make_map(_results(), tmp_path / "c.html", lang="en").read_bytes()
    assert c != a
