"""The interactive map: layers, legend, labels, basemaps, errors, escaping and byte-identical output.

The page draws every layer with one line ``lcAdd(<group>, "<kind>", <data>, <options>);``; the
helpers below read those lines back (data and options are JSON) to check what each layer of the
layer control holds."""

import base64
import html
import io
import json
import re
import types

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from shapely.geometry import Point, box

from coverage import CATEGORY_LABELS_ZH
from coverage.analysis.coverage import covered
from coverage.config import Threshold
from coverage.errors import InputError
from coverage.report.webmap import (COVERAGE_CLASS_COLOURS, NO_DATA_COLOUR, _share_budget,
                                    classify_rate, make_map, prepare, resolve_basemap)
from coverage.report.webmap.text import UNCOVERED_COLOUR

CRS = "EPSG:32635"
X0, Y0 = 385_000.0, 6_672_000.0
SPEED = 80.0


def _results(with_extras=True, unit="min"):
    communities = gpd.GeoDataFrame({
        "community_id": ["C1", "C2", "C3"],
        "name": ["东城社区", "西城社区", "河口村"],
        "township": ["城关镇", "城关镇", "河口乡"],
        "type": ["urban", "urban", "rural"],
        "households": [400, 300, 0],
        "population": [1000, 800, 0],
    }, geometry=[box(X0, Y0, X0 + 1000, Y0 + 1000), box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000),
                 box(X0, Y0 + 1000, X0 + 2000, Y0 + 2000)], crs=CRS)
    breaks = tuple(Threshold.of(v, unit, SPEED) for v in ((5, 10, 15) if unit == "min" else (400, 800, 1200)))
    main = breaks[-1]
    rows = []
    for cid, pop in [("C1", 1000), ("C2", 800), ("C3", 0)]:
        for cat, cov15 in [("elderly_care", {"C1": 0.9, "C2": 0.3}), ("health", {"C1": 0.5, "C2": 0.1})]:
            for k, b in enumerate(breaks):
                r = cov15.get(cid, np.nan) * (k + 1) / 3 if pop else np.nan
                rows.append(dict(community_id=cid, category=cat, threshold_min=b.minutes_at(SPEED),
                                 threshold_m=round(b.metres, 1), population=pop,
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
    dist_h[1] = main.metres          # exactly at the threshold: covered
    demand = gpd.GeoDataFrame({
        "population": np.arange(1, 21) * 5.0,
        "community_id": np.where(xy[:, 0] < X0 + 1000, "C1", "C2"),
        "dist_elderly_care": dist_e, "dist_health": dist_h,
    }, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=CRS)
    circles = gpd.GeoDataFrame({"category": ["elderly_care", "health"], "break_m": [main.metres] * 2,
                                "break_min": [main.minutes_at(SPEED)] * 2},
                               geometry=[Point(X0 + 300, Y0 + 300).buffer(1200),
                                         Point(X0 + 500, Y0 + 700).buffer(900)], crs=CRS)
    gaps = sites = None
    if with_extras:
        gaps = gpd.GeoDataFrame({"category": ["health"], "population": [230.0], "gap_id": ["health-1"]},
                                geometry=[box(X0 + 1500, Y0 + 100, X0 + 1900, Y0 + 900)], crs=CRS)
        sites = gpd.GeoDataFrame({"rank": [1], "category": ["health"], "added_population": [230.0]},
                                 geometry=[Point(X0 + 1700, Y0 + 500)], crs=CRS)
    return types.SimpleNamespace(
        communities=communities, coverage_by_community=cov, facilities=facilities, demand=demand,
        circles=circles, gaps=gaps, sites=sites, categories=["elderly_care", "health"],
        thresholds={"elderly_care": main, "health": main}, breaks=breaks,
        title="测试县 15分钟生活圈", speed_m_per_min=SPEED)


def only(res, cats):
    other = types.SimpleNamespace(**vars(res))
    other.categories = list(cats)
    return other


@pytest.fixture(scope="module")
def zh_html(tmp_path_factory):
    p = make_map(_results(), tmp_path_factory.mktemp("m") / "map.html")
    return p.read_text(encoding="utf-8")


def calls(text):
    """Every lcAdd call of the page: [(group variable, kind, data, options)]."""
    dec = json.JSONDecoder()
    out = []
    for m in re.finditer(r'^\s*lcAdd\((\w+), "(\w+)", ', text, flags=re.M):
        data, end = dec.raw_decode(text, m.end())
        assert text[end:end + 2] == ", "
        opts, end = dec.raw_decode(text, end + 2)
        assert text[end:end + 3] == ");\n"
        out.append((m.group(1), m.group(2), data, opts))
    return out


def overlays(text):
    """[(overlay name as shown, feature group variable)] of the layer control, in order."""
    block = re.search(r"overlays\s*:\s*\{(.*?)\},\s*\};", text, flags=re.S).group(1)
    return [(html.unescape(json.loads(n)), g) for n, g in re.findall(r'("(?:[^"\\]|\\.)*")\s*:\s*(feature_group_\w+),', block)]


def layers(text):
    """{overlay name: (shown at start, [(kind, data, options)])}."""
    cs = calls(text)
    out = {}
    for name, fg in overlays(text):
        shown = re.search(re.escape(fg) + r"\.addTo\(map_\w+\);", text) is not None
        out[name] = (shown, [(k, d, o) for g, k, d, o in cs if g == fg])
    return out


def shared(text, name="communities"):
    return next(d for g, k, d, o in calls(text) if k == "share" and o["name"] == name)


def test_layers_legend_labels_and_names(zh_html):
    text = zh_html
    for name in ["东城社区", "西城社区", "河口村", "城关镇", "测试县 15分钟生活圈"]:
        assert name in text
    lab_e, lab_h = CATEGORY_LABELS_ZH["elderly_care"], CATEGORY_LABELS_ZH["health"]
    names = [n for n, _ in overlays(text)]
    for layer in [f"覆盖率: {lab_e} (15分钟)", f"覆盖率: {lab_h} (15分钟)",
                  f"设施: {lab_e} (2)", f"设施: {lab_h} (1)",
                  f"设施: {CATEGORY_LABELS_ZH['commerce']} (1)",
                  f"15分钟 服务圈: {lab_e}", f"15分钟 服务圈: {lab_h}", f"覆盖缺口: {lab_h} (1)",
                  f"建议选址: {lab_h} (1)"]:
        assert layer in names, layer
    assert any(n.startswith(f"未覆盖人口: {lab_e} (> 15分钟") for n in names)
    assert "底图: OpenStreetMap.Mapnik" in json.loads(re.search(r'base_layers\s*:\s*\{\s*("[^"]*")', text)[1])
    assert "lc-legend" in text and "社区覆盖率（步行15分钟，按人口）" in text and "约 1200 米" in text
    assert "无人口 / 无数据" in text and "80–100%" in text
    assert "L.control.layers" in text and "L.control.scale" in text and "fitBounds" in text
    assert " 分钟" not in "".join(names)          # labels come from Threshold.label, not "N 分钟"


def test_layer_content_and_visibility(zh_html):
    lay = layers(zh_html)
    lab_e, lab_h = CATEGORY_LABELS_ZH["elderly_care"], CATEGORY_LABELS_ZH["health"]
    shown = sorted(n for n, (s, _) in lay.items() if s)
    # first category's choropleth, uncovered points, plan-threshold circle, analysed facilities
    assert shown == sorted([f"覆盖率: {lab_e} (15分钟)", f"15分钟 服务圈: {lab_e}",
                            next(n for n in lay if n.startswith(f"未覆盖人口: {lab_e}")),
                            f"设施: {lab_e} (2)", f"设施: {lab_h} (1)"])
    # one choropleth layer per category, all drawing the one shared set of outlines
    s = shared(zh_html)
    assert len(s["g"]) == 3 and zh_html.count('"type":"Polygon"') == 3 + 3  # + circle and gap
    ks = [lay[f"覆盖率: {lab}: (15分钟)".replace(": (", " (")][1][0][2]["k"] for lab in (lab_e, lab_h)]
    assert ks == [0, 1]
    by_name = {v[0]: i for i, v in enumerate(s["v"])}
    col = lambda name, k: s["palette"][s["c"][by_name[name]][k]]  # noqa: E731
    # choropleth colours by hand: elderly C1 0.9 -> class 4, C2 0.3 -> class 1, C3 no people
    assert col("东城社区", 0) == COVERAGE_CLASS_COLOURS[4]
    assert col("西城社区", 0) == COVERAGE_CLASS_COLOURS[1]
    assert col("河口村", 0) == NO_DATA_COLOUR
    assert col("西城社区", 1) == COVERAGE_CLASS_COLOURS[0] and col("东城社区", 1) == COVERAGE_CLASS_COLOURS[2]
    # tooltip: name, township, type, population, then the rate of every category
    assert s["heads"] == ["名称", "街道/乡镇", "类型", "人口"]
    assert s["rate_heads"] == [f"{lab_e} (15分钟)", f"{lab_h} (15分钟)"]
    assert s["r"][by_name["东城社区"]] == ["90.0%", "50.0%"] and s["r"][by_name["河口村"]][1] == "无人口"
    assert s["v"][by_name["西城社区"]][2] == "城市社区" and s["v"][by_name["河口村"]][2] == "农村社区"
    # facility popups: name, category, area (missing area shown as a dash)
    kind, d, o = lay[f"设施: {lab_e} (2)"][1][0]
    assert kind == "points" and o["popup"] and not o["cluster"]
    fac = {v[0]: v for v in d["v"]}
    assert fac["东城日间照料中心"][2] == "350 m²" and fac["西城养老站"][2] == "—"
    assert fac["西城养老站"][1] == lab_e


def test_uncovered_points_match_threshold(zh_html):
    res = _results()
    lay = layers(zh_html)
    d = res.demand
    for cat in res.categories:
        sel = d[~covered(d[f"dist_{cat}"], res.thresholds[cat].metres)]
        name = next(n for n in lay if n.startswith(f"未覆盖人口: {CATEGORY_LABELS_ZH[cat]}"))
        assert name.endswith(f"(> 15分钟, {int(sel['population'].sum()):,})")
        kind, data, opts = lay[name][1][0]
        assert kind == "points" and len(data["xy"]) == len(sel) and 0 < len(sel) < 20
        pops = sorted(float(v[0].replace(",", "")) for v in data["v"])
        assert pops == sorted(sel["population"].tolist())
        r = dict(zip(pops, [x for _, x in sorted(zip([float(v[0]) for v in data["v"]], data["r"]))]))
        ks = sorted(r)
        assert all(r[a] <= r[b] for a, b in zip(ks, ks[1:]))     # radius grows with population
    # the point exactly at the threshold (1200 m) is covered (covered() adds 1e-6 m)
    h = next(n for n in lay if n.startswith(f"未覆盖人口: {CATEGORY_LABELS_ZH['health']}"))
    assert "1,200 m" not in [v[1] for v in lay[h][1][0][1]["v"]]
    assert sum(v[1] == "不可达" for v in lay[h][1][0][1]["v"]) == int(np.isinf(d["dist_health"]).sum()) > 0


def test_more_uncovered_points_than_the_budget_become_a_grid_image(tmp_path):
    res = _results()
    text = make_map(res, tmp_path / "m.html", max_demand_points=6).read_text(encoding="utf-8")
    lay = layers(text)
    d = res.demand
    for cat in res.categories:
        name = next(n for n in lay if n.startswith(f"未覆盖人口: {CATEGORY_LABELS_ZH[cat]}"))
        unc = d[~covered(d[f"dist_{cat}"], res.thresholds[cat].metres)]
        assert name.endswith(f"{int(unc['population'].sum()):,})")   # every uncovered person counted
        kind, data, _ = lay[name][1][0]
        assert kind == "image" and data["url"].startswith("data:image/png;base64,")
        img = np.asarray(Image.open(io.BytesIO(base64.b64decode(data["url"].split(",", 1)[1]))).convert("RGBA"))
        assert img.shape[2] == 4 and 0 < (img[..., 3] > 0).sum() <= len(unc)
        # every cell with people in the uncovered colour, at least 70/255 opaque
        seen = img[img[..., 3] > 0]
        assert (seen[:, :3] == [int(UNCOVERED_COLOUR[i:i + 2], 16) for i in (1, 3, 5)]).all()
        assert seen[:, 3].min() >= 70
        (s, w), (n, e) = data["bounds"]
        assert s < n and w < e
    assert "每格约 100 米" in text


def test_share_budget():
    assert _share_budget({"a": 2, "b": 50, "c": 50}, 20) == {"a": 2, "b": 9, "c": 9}
    assert _share_budget({"a": 2, "b": 5}, 100) == {"a": 2, "b": 5}
    q = _share_budget({"a": 7, "b": 8, "c": 30}, 21)
    assert q == {"a": 7, "b": 7, "c": 7} and sum(q.values()) == 21


def test_english(tmp_path):
    text = make_map(_results(), tmp_path / "en.html", lang="en").read_text("utf-8")
    names = [n for n, _ in overlays(text)]
    for s in ["Coverage: Elderly care (15 min)", "Facilities: Health (1)", "15 min service circle: Health"]:
        assert s in names, s
    for s in ["Uncovered population: Health", "Community coverage (walk 15 min, by population)",
              "about 1200 m", "no population / no data", "东城社区"]:
        assert s in text, s
    assert "覆盖率" not in text


def test_thresholds_in_metres_are_labelled_in_metres(tmp_path):
    res = _results(unit="m")
    for lang, label in (("zh", "1200米"), ("en", "1200 m")):
        text = make_map(res, tmp_path / f"{lang}.html", lang=lang).read_text("utf-8")
        names = [n for n, _ in overlays(text)]
        assert any(n.endswith(f"({label})") for n in names)
        assert any(n.startswith(f"{label} ") for n in names)       # the life circle at 1200 m
        assert "分钟 服务圈" not in text and "min service circle" not in text
    assert "约 15 分钟" in make_map(res, tmp_path / "x.html").read_text("utf-8")   # 1200 m at 80 m/min


def test_circles_follow_the_category_filter(tmp_path):
    res = _results()
    text = make_map(only(res, ["health"]), tmp_path / "h.html").read_text("utf-8")
    names = [n for n, _ in overlays(text)]
    circles = [n for n in names if "服务圈" in n]
    assert circles == [f"15分钟 服务圈: {CATEGORY_LABELS_ZH['health']}"]
    assert not any(n.startswith("覆盖缺口") and "养老" in n for n in names)


def test_one_prepared_data_for_several_maps(tmp_path):
    res = _results()
    data = prepare(res)
    a = make_map(res, tmp_path / "a.html", data=data).read_bytes()
    assert a == make_map(res, tmp_path / "b.html").read_bytes()
    make_map(only(res, ["health"]), tmp_path / "h.html", data=data)
    assert ("circle", "health", 1200.0) in data._cache       # simplified once, reused


def test_many_facilities_are_clustered_and_the_plugin_inlined(tmp_path):
    res = _results()
    plain = make_map(res, tmp_path / "p.html").read_text("utf-8")
    lib = "L.MarkerClusterGroup=L.FeatureGroup.extend"      # the plug-in itself
    assert lib not in plain and ".marker-cluster" not in plain
    text = make_map(res, tmp_path / "c.html", cluster_over=1).read_text("utf-8")
    lay = layers(text)
    assert lay[f"设施: {CATEGORY_LABELS_ZH['elderly_care']} (2)"][1][0][2]["cluster"] is True
    assert lay[f"设施: {CATEGORY_LABELS_ZH['health']} (1)"][1][0][2]["cluster"] is False
    assert text.count(lib) == 1 and ".marker-cluster" in text             # inlined, no CDN link
    assert text.index(lib) < text.index("lcAdd(feature_group")
    assert not re.search(r'<script src="[^"]*markercluster', text)


def test_user_strings_never_become_markup(tmp_path):
    res = _results()
    bad = '<img src=x onerror="window.__pwned=1"></script><script>window.__pwned=2</script>{{ 7*7 }}'
    res.communities = res.communities.assign(name=[bad, "西城社区", "河口村"], township=[bad] * 3)
    res.facilities = res.facilities.assign(name=[bad] * 4, category=["elderly_care", "elderly_care",
                                                                     "health", bad])
    res.gaps = res.gaps.assign(gap_id=[bad])
    res.title = bad
    text = make_map(res, tmp_path / "x.html").read_text("utf-8")
    assert "<img" not in text and "window.__pwned=2</script>" not in text
    assert "{{ 7*7 }}" in text and "pwned\\u003c/script\\u003e{{ 7*7 }}" not in text
    assert text.count("</script>") == text.count("<script")       # no name closes a script
    names = [n for n, _ in overlays(text)]
    assert f"设施: {bad} (1)" in names                              # shown as text in the control
    assert shared(text)["v"][0][0] == bad                           # and in the tooltip (textContent)


@pytest.mark.filterwarnings("ignore:CartoDB tiles")
def test_basemap_none_and_xyzservices(tmp_path):
    none = make_map(_results(False), tmp_path / "n.html", basemap="none").read_text("utf-8")
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
    res.thresholds = {"elderly_care": res.thresholds["elderly_care"]}
    with pytest.raises(InputError) as e:
        make_map(res, tmp_path / "x.html")
    assert e.value.field == "thresholds.health"
    res = _results()
    res.speed_m_per_min = None
    with pytest.raises(InputError) as e:
        make_map(res, tmp_path / "x.html")
    assert e.value.field == "results.speed_m_per_min"
    with pytest.raises(InputError) as e:
        make_map(_results(), tmp_path / "x.html", lang="fr")
    assert e.value.field == "output.lang"
    with pytest.raises(InputError) as e:
        make_map(_results(), tmp_path / "x.html", cluster_over=-1)
    assert e.value.field == "output.cluster_over"


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


def test_gap_staircases_are_simplified_to_the_gap_grid(tmp_path):
    # a gap outline as the gaps step draws it: a 45-degree staircase of 37.5 m cells. The map
    # draws it within 3/4 of a cell (the stair corners go), however small the map's tolerance.
    from shapely.geometry import Polygon
    from coverage.report.webmap.layers import GAP_DISPLAY_TOL_M
    step, n = 37.5, 20
    pts = [(X0, Y0)]
    for i in range(n):
        pts += [(X0 + (i + 1) * step, Y0 + i * step), (X0 + (i + 1) * step, Y0 + (i + 1) * step)]
    pts += [(X0, Y0 + n * step)]
    stair = Polygon(pts)
    res = _results()
    data = prepare(res)
    assert data.tol_m < GAP_DISPLAY_TOL_M
    fine = json.loads(str(data.geojson([stair])[0]))
    coarse = json.loads(str(data.geojson([stair], GAP_DISPLAY_TOL_M)[0]))
    assert len(fine["coordinates"][0]) > 2 * n and len(coarse["coordinates"][0]) <= 6
    gaps = res.gaps.copy()
    gaps["geometry"] = [stair] * len(gaps)
    res.gaps = gpd.GeoDataFrame(gaps, geometry="geometry", crs=CRS)
    text = make_map(res, tmp_path / "m.html").read_text("utf-8")
    drawn = [c for c in calls(text) if c[1] == "polygons" and "v" in c[2]]
    assert drawn and all(len(g["coordinates"][0]) <= 6 for c in drawn for g in c[2]["g"])
