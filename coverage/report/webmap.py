"""The interactive Folium map planners open in a browser.

``make_map(results, out_html, lang="zh", basemap="OpenStreetMap", max_demand_points=20000)``
draws what the analysis already computed (it never recomputes coverage):

- a coverage choropleth of communities, one layer per category (only the first shown),
  coloured by the community's coverage rate at the category's main threshold on a fixed
  5-class scale (0-20-40-60-80-100 %), grey where there is no population or no figure;
  the tooltip gives name, township, type, population and the rate of every category;
- facilities, one layer per category, with a popup of name, category and floor area;
- uncovered population: the demand points of each category farther than its main threshold,
  sized by population (only the first category shown); at most ``max_demand_points`` points
  in all (categories with few share none of theirs; the rest split the remainder equally,
  most populous points first), and a capped layer says "showing N of M" in its name and
  the legend;
- service circles, gaps and proposed sites when given (hidden, except the main-threshold
  circle of the first category);
- layer control, legend (Chinese, or English with ``lang="en"``), scale bar, title.

Every layer is vector data, so the map shows its content even when the basemap tiles cannot
load (offline, or OSM tiles blocked); ``basemap="none"`` draws no tiles at all. The view is
fitted to the communities. Geometry is simplified (~2 m) for display only.

Two runs on the same inputs give byte-identical HTML: folium's random element ids are
replaced by a counter while the map is built and written.
"""

from __future__ import annotations

import contextlib
import html
import math
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from ..errors import InputError
from ..labels import (CATEGORY_COLOURS, CATEGORY_LABELS_EN, CATEGORY_LABELS_ZH, COVERAGE_CLASS_COLOURS, NO_DATA_COLOUR, classify_rate)

__all__ = ["make_map", "resolve_basemap", "COVERAGE_CLASS_COLOURS", "NO_DATA_COLOUR"]

_EXTRA_COLOURS = ("#666666", "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#e6ab02")

UNCOVERED_COLOUR = "#67001f"
DEFAULT_SPEED_M_PER_MIN = 80.0
SIMPLIFY_TOLERANCE_M = 2.0

_TEXT = {
    "zh": {
        "coverage": "覆盖率", "facilities": "设施", "uncovered": "未覆盖人口",
        "circle": "服务圈", "gaps": "覆盖缺口", "sites": "建议选址",
        "min": "分钟", "name": "名称", "township": "街道/乡镇", "type": "类型",
        "population": "人口", "category": "类别", "area": "建筑面积",
        "urban": "城市社区", "rural": "农村社区",
        "no_pop": "无人口", "no_data": "无数据", "unreachable": "不可达",
        "distance": "最近设施步行距离", "rank": "序号", "added": "新增覆盖人口",
        "legend_cov": "社区覆盖率（步行 {thr} 分钟，按人口）",
        "legend_fac": "设施", "legend_unc": "未覆盖人口点（大小示人口）",
        "legend_grey": "无人口 / 无数据",
        "shown": "显示 {n} / 共 {m} 点（人口最多者）",
        "basemap": "底图", "gap_id": "缺口编号", "walk": "约 {m} 米",
        "default_title": "社区生活圈设施覆盖",
    },
    "en": {
        "coverage": "Coverage", "facilities": "Facilities", "uncovered": "Uncovered population",
        "circle": "service circle", "gaps": "Coverage gaps", "sites": "Proposed sites",
        "min": "min", "name": "Name", "township": "Township", "type": "Type",
        "population": "Population", "category": "Category", "area": "Floor area",
        "urban": "urban community", "rural": "rural community",
        "no_pop": "no population", "no_data": "no data", "unreachable": "unreachable",
        "distance": "Walk to nearest facility", "rank": "Rank", "added": "Added population",
        "legend_cov": "Community coverage (walk {thr} min, by population)",
        "legend_fac": "Facilities", "legend_unc": "Uncovered population (size = people)",
        "legend_grey": "no population / no data",
        "shown": "showing {n} of {m} points (most populous)",
        "basemap": "Basemap", "gap_id": "Gap", "walk": "about {m} m",
        "default_title": "Life-circle facility coverage",
    },
}


# ----------------------------------------------------------------------------- helpers

def _label(cat: str, lang: str) -> str:
    if lang == "en":
        return CATEGORY_LABELS_EN.get(cat, cat)
    return CATEGORY_LABELS_ZH.get(cat, cat)


def _colour_of(cat: str, order: list[str]) -> str:
    if cat in CATEGORY_COLOURS:
        return CATEGORY_COLOURS[cat]
    extras = [c for c in order if c not in CATEGORY_COLOURS]
    i = extras.index(cat) if cat in extras else 0
    return _EXTRA_COLOURS[i % len(_EXTRA_COLOURS)]


def _fmt_int(x) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)) or pd.isna(x):
        return "—"
    return f"{int(round(float(x))):,}"


def _fmt_rate(rate, pop, t) -> str:
    if pd.isna(rate):
        return t["no_pop"] if (not pd.isna(pop) and float(pop) == 0) else t["no_data"]
    return f"{100.0 * float(rate):.1f}%"


def _rate_colours(rate) -> np.ndarray:
    cls = classify_rate(rate)
    pal = np.array(COVERAGE_CLASS_COLOURS + (NO_DATA_COLOUR,), dtype=object)
    return pal[cls]  # -1 picks the grey at the end


def _to_display(gdf, what: str, *, simplify: bool):
    """Simplify (metric CRS only) and reproject to EPSG:4326, coordinates rounded to 1e-6 deg."""
    if gdf.crs is None:
        raise InputError(f"the {what} layer has no coordinate reference system",
                         field=f"results.{what}.crs",
                         fix="set the CRS of the layer (the study area's metric CRS)")
    import geopandas as gpd

    g = gdf.copy()
    if simplify and g.crs.is_projected:
        geom = shapely.simplify(np.asarray(g.geometry.values), SIMPLIFY_TOLERANCE_M,
                                preserve_topology=True)
        g = g.set_geometry(gpd.GeoSeries(geom, index=g.index, crs=gdf.crs))
    g = g.to_crs(4326)
    rounded = shapely.transform(np.asarray(g.geometry.values), lambda c: np.round(c, 6))
    return g.set_geometry(gpd.GeoSeries(rounded, index=g.index, crs=4326))


def _need_cols(df, cols, what: str):
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError(f"the {what} table lacks column(s) {', '.join(missing)}",
                         field=f"results.{what}.{missing[0]}",
                         fix="build the results with the pipeline that writes these columns")


def resolve_basemap(basemap) -> dict | None:
    """Return ``None`` (no tiles) or the tile layer spec, or raise InputError naming output.basemap.

    Accepts "none", a folium tiles name ("OpenStreetMap", "CartoDB positron"), or any
    xyzservices provider name ("CartoDB.Positron", "Esri.WorldImagery"), written with any
    case, spaces or dots. The spec is a dict: ``name`` (provider name), ``tiles`` (URL
    template), ``attr`` (HTML attribution), ``max_zoom``, ``subdomains``. Providers that need
    an API key are refused; CartoDB, which xyzservices now marks as keyed but still builds
    without a key, is accepted with xyzservices' own warning.
    """
    import xyzservices

    if basemap is None:
        return None
    if not isinstance(basemap, str) or not basemap.strip():
        raise InputError(f"basemap must be a tile provider name or 'none', got {basemap!r}",
                         field="output.basemap",
                         fix="use e.g. OpenStreetMap, CartoDB.Positron, or none")
    name = basemap.strip()
    if name.lower() == "none":
        return None
    query = "OpenStreetMap.Mapnik" if name.lower() == "openstreetmap" else name
    try:
        provider = xyzservices.providers.query_name(query)
    except ValueError:
        raise InputError(f"unknown basemap {basemap!r}", field="output.basemap",
                         fix="use OpenStreetMap, CartoDB.Positron, Esri.WorldImagery, another "
                             "xyzservices provider name, or none (no tiles)") from None
    try:
        url = provider.build_url(fill_subdomain=False, scale_factor="{r}")
    except ValueError:
        raise InputError(f"basemap {basemap!r} needs an API key, which this toolkit does not "
                         "handle", field="output.basemap",
                         fix="choose a provider without a key, e.g. OpenStreetMap or "
                             "CartoDB.Positron, or none") from None
    return {"name": provider.name, "tiles": url,
            "attr": provider.get("html_attribution") or provider.get("attribution") or
            provider.name,
            "max_zoom": int(provider.get("max_zoom", 19)),
            "subdomains": provider.get("subdomains", "abc")}


_ID_LOCK = threading.Lock()


@contextlib.contextmanager
def _deterministic_ids():
    """Make branca/folium element ids come from a counter instead of os.urandom."""
    from branca.element import Element

    with _ID_LOCK:
        counter = iter(range(1, 1 << 62))
        original = Element.__dict__["_generate_id"]
        Element._generate_id = classmethod(lambda cls: f"{next(counter):032x}")
        try:
            yield
        finally:
            Element._generate_id = original


# ----------------------------------------------------------------------------- layers

def _coverage_wide(results, cats, t):
    cov = results.coverage_by_community
    _need_cols(cov, ["community_id", "category", "threshold_min", "population", "coverage_rate"],
               "coverage_by_community")
    thr = pd.Series({c: float(results.main_threshold_min[c]) for c in cats})
    sel = cov[cov["category"].isin(cats)].copy()
    sel = sel[np.isclose(sel["threshold_min"].astype(float), sel["category"].map(thr).astype(float))]
    dup = sel.duplicated(["community_id", "category"])
    if dup.any():
        row = sel[dup].iloc[0]
        raise InputError(f"community {row['community_id']!r} has more than one coverage row for "
                         f"{row['category']} at {row['threshold_min']} min",
                         field="results.coverage_by_community.community_id",
                         fix="give one row per community, category and threshold")
    rate = sel.pivot(index="community_id", columns="category", values="coverage_rate")
    pop = sel.pivot(index="community_id", columns="category", values="population")
    return rate.reindex(columns=cats), pop.reindex(columns=cats)


def _add_communities(m, folium, results, com, cats, t, lang):
    rate, pop = _coverage_wide(results, cats, t)
    props = pd.DataFrame(index=com.index)
    props["name"] = com["name"].astype(str).values
    props["township"] = com["township"].astype(str).values
    props["type"] = com["type"].map({"urban": t["urban"], "rural": t["rural"]}).fillna(
        com["type"].astype(str)).values
    props["population"] = [_fmt_int(p) for p in com["population"]]
    fields, aliases = ["name", "township", "type", "population"], [
        t["name"], t["township"], t["type"], t["population"]]
    cid = com["community_id"]
    for c in cats:
        r = cid.map(rate[c]) if len(rate) else pd.Series(np.nan, index=com.index)
        p = cid.map(pop[c]) if len(pop) else pd.Series(np.nan, index=com.index)
        props[f"rate_{c}"] = [_fmt_rate(a, b, t) for a, b in zip(r, p)]
        props[f"fill_{c}"] = _rate_colours(r.to_numpy(dtype=float))
        fields.append(f"rate_{c}")
        aliases.append(f"{_label(c, lang)} ({_fmt_num(results.main_threshold_min[c])} {t['min']})")
    import geopandas as gpd

    gj = gpd.GeoDataFrame(props.reset_index(drop=True),
                          geometry=gpd.GeoSeries(com.geometry.values, crs=4326))
    for i, c in enumerate(cats):
        # each layer carries the tooltip fields and only its own fill colour
        data = gj[fields + [f"fill_{c}", "geometry"]].to_json(drop_id=False)
        fg = folium.FeatureGroup(
            name=f"{t['coverage']}: {_label(c, lang)} "
                 f"({_fmt_num(results.main_threshold_min[c])} {t['min']})",
            show=(i == 0))
        key = f"fill_{c}"
        folium.GeoJson(
            data,
            style_function=lambda f, key=key: {
                "fillColor": f["properties"][key], "color": "#444444", "weight": 1,
                "fillOpacity": 0.65},
            highlight_function=lambda f: {"weight": 3, "color": "#000000"},
            tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases, sticky=True),
        ).add_to(fg)
        fg.add_to(m)


def _fmt_num(x) -> str:
    x = float(x)
    return str(int(x)) if x.is_integer() else f"{x:g}"


def _points_geojson(folium, gdf, *, colour, fields, aliases, popup: bool, radius_col=None,
                    radius=6, fill_opacity=0.85, weight=1):
    style = {"fill": True, "fillColor": colour, "color": "#222222" if weight else colour, "weight": weight,
             "fillOpacity": fill_opacity}
    if radius_col is None:
        style_fn = lambda f: {**style, "radius": radius}  # noqa: E731
    else:
        style_fn = lambda f: {**style, "radius": f["properties"][radius_col]}  # noqa: E731
    kw = {}
    if popup:
        kw["popup"] = folium.GeoJsonPopup(fields=fields, aliases=aliases)
    else:
        kw["tooltip"] = folium.GeoJsonTooltip(fields=fields, aliases=aliases)
    return folium.GeoJson(gdf.to_json(drop_id=False), marker=folium.CircleMarker(radius=radius),
                          style_function=style_fn, **kw)


def _cat_order(cats, extra) -> list[str]:
    return list(cats) + sorted(set(map(str, extra)) - set(cats))


def _add_facilities(m, folium, fac, cats, t, lang, order):
    _need_cols(fac, ["facility_id", "name", "category", "area_m2"], "facilities")
    f = _to_display(fac, "facilities", simplify=False)
    f = f[~f.geometry.is_empty & f.geometry.notna()]
    present = _cat_order(cats, f["category"].astype(str).unique())
    for i, c in enumerate(present):
        sub = f[f["category"].astype(str) == c].sort_values("facility_id", kind="stable")
        fg = folium.FeatureGroup(name=f"{t['facilities']}: {_label(c, lang)} ({len(sub)})",
                                 show=c in cats)
        if len(sub):
            pts = sub[["geometry"]].copy()
            pts["name"] = sub["name"].astype(str)
            pts["cat"] = _label(c, lang)
            area = pd.to_numeric(sub["area_m2"], errors="coerce")
            pts["area"] = [("—" if pd.isna(a) else f"{a:,.0f} m²") for a in area]
            pts = pts.reset_index(drop=True)
            # Point geometries only: a facility drawn as a polygon is shown at its centroid.
            pts = pts.set_geometry(pts.geometry.centroid if not (pts.geom_type == "Point").all()
                                   else pts.geometry)
            _points_geojson(folium, pts, colour=_colour_of(c, order),
                            fields=["name", "cat", "area"],
                            aliases=[t["name"], t["category"], t["area"]], popup=True,
                            radius=6).add_to(fg)
        fg.add_to(m)
    return present


def _share_budget(counts: dict, budget: int) -> dict:
    """Split ``budget`` points over categories: small ones get all theirs, the rest share equally."""
    quota, left = {}, int(budget)
    items = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]))
    for k, (c, n) in enumerate(items):
        quota[c] = min(n, left // (len(items) - k))
        left -= quota[c]
    return quota


def _add_uncovered(m, folium, results, cats, t, lang, max_points, speed, notes):
    dem = results.demand
    _need_cols(dem, ["population", "community_id"] + [f"dist_{c}" for c in cats], "demand")
    d = _to_display(dem, "demand", simplify=False)
    popn = pd.to_numeric(d["population"], errors="coerce").fillna(0.0).to_numpy()
    dists, uncs = {}, {}
    for c in cats:
        dist = pd.to_numeric(d[f"dist_{c}"], errors="coerce").to_numpy(dtype=float)
        # NaN distance counts as not covered (no route known); inf is unreachable.
        dists[c] = dist
        uncs[c] = ~(dist <= float(results.main_threshold_min[c]) * speed) & (popn > 0)
    quota = _share_budget({c: int(uncs[c].sum()) for c in cats}, max_points)
    for i, c in enumerate(cats):
        thr_min = float(results.main_threshold_min[c])
        dist, unc = dists[c], uncs[c]
        idx = np.flatnonzero(unc)
        total = len(idx)
        if total > quota[c]:
            order = np.lexsort((idx, -popn[idx]))  # most people first, ties by row order
            idx = np.sort(idx[order[:quota[c]]])
        name = (f"{t['uncovered']}: {_label(c, lang)} (> {_fmt_num(thr_min)} {t['min']}, "
                f"{_fmt_int(popn[unc].sum())})")
        if total > len(idx):
            name += " – " + t["shown"].format(n=f"{len(idx):,}", m=f"{total:,}")
            notes.append(name)
        fg = folium.FeatureGroup(name=name, show=(i == 0))
        if len(idx):
            sub = d.iloc[idx][["geometry"]].reset_index(drop=True)
            p = popn[idx]
            sub["population"] = [f"{v:,.1f}" for v in p]
            sub["dist"] = [(t["unreachable"] if not np.isfinite(v) else f"{v:,.0f} m")
                           for v in dist[idx]]
            pmax = max(float(popn[popn > 0].max()), 1e-9)
            sub["r"] = np.round((2.0 + 8.0 * np.sqrt(p / pmax)) * 2.0) / 2.0
            _points_geojson(folium, sub, colour=UNCOVERED_COLOUR, fields=["population", "dist"],
                            aliases=[t["population"], t["distance"]], popup=False,
                            radius_col="r", fill_opacity=0.6, weight=0).add_to(fg)
        fg.add_to(m)


def _add_circles(m, folium, results, cats, t, lang, order):
    circ = results.circles
    if circ is None or len(circ) == 0:
        return
    _need_cols(circ, ["category", "break_min"], "circles")
    g = _to_display(circ, "circles", simplify=True)
    g["_b"] = g["break_min"].astype(float)
    g["_k"] = g["category"].astype(str).map({c: i for i, c in enumerate(order)}).fillna(len(order))
    g = g.sort_values(["_k", "category", "_b"], kind="stable")
    first = cats[0]
    for (c, b), sub in g.groupby(["category", "_b"], sort=False):
        c = str(c)
        show = c == first and np.isclose(b, float(results.main_threshold_min[first]))
        fg = folium.FeatureGroup(
            name=f"{_fmt_num(b)} {t['min']} {t['circle']}: {_label(c, lang)}", show=bool(show))
        col = _colour_of(c, order)
        folium.GeoJson(sub[["geometry"]].reset_index(drop=True).to_json(drop_id=False),
                       style_function=lambda f, col=col: {
                           "fillColor": col, "color": col, "weight": 1.5, "fillOpacity": 0.12},
                       ).add_to(fg)
        fg.add_to(m)


def _add_gaps(m, folium, results, cats, t, lang, order):
    gaps = results.gaps
    if gaps is None or len(gaps) == 0:
        return
    _need_cols(gaps, ["category", "population", "gap_id"], "gaps")
    g = _to_display(gaps, "gaps", simplify=True)
    for c in _cat_order(cats, g["category"].astype(str).unique()):
        sub = g[g["category"].astype(str) == c].sort_values("gap_id", kind="stable")
        if not len(sub):
            continue
        out = sub[["geometry"]].reset_index(drop=True)
        out["gap_id"] = sub["gap_id"].astype(str).values
        out["population"] = [_fmt_int(v) for v in pd.to_numeric(sub["population"], errors="coerce")]
        fg = folium.FeatureGroup(name=f"{t['gaps']}: {_label(c, lang)} ({len(sub)})", show=False)
        col = _colour_of(c, order)
        folium.GeoJson(out.to_json(drop_id=False),
                       style_function=lambda f, col=col: {
                           "fillColor": "#ff7f00", "color": col, "weight": 2, "dashArray": "5 4",
                           "fillOpacity": 0.35},
                       tooltip=folium.GeoJsonTooltip(fields=["gap_id", "population"],
                                                     aliases=[t["gap_id"], t["population"]]),
                       ).add_to(fg)
        fg.add_to(m)


def _add_sites(m, folium, results, cats, t, lang, order):
    sites = results.sites
    if sites is None or len(sites) == 0:
        return
    _need_cols(sites, ["rank", "category", "added_population"], "sites")
    g = _to_display(sites, "sites", simplify=False)
    for c in _cat_order(cats, g["category"].astype(str).unique()):
        sub = g[g["category"].astype(str) == c].sort_values("rank", kind="stable")
        if not len(sub):
            continue
        out = sub[["geometry"]].reset_index(drop=True)
        out = out.set_geometry(out.geometry.centroid if not (out.geom_type == "Point").all()
                               else out.geometry)
        out["rank"] = sub["rank"].astype(str).values
        out["cat"] = _label(c, lang)
        out["added"] = [_fmt_int(v) for v in
                        pd.to_numeric(sub["added_population"], errors="coerce")]
        fg = folium.FeatureGroup(name=f"{t['sites']}: {_label(c, lang)} ({len(sub)})", show=False)
        _points_geojson(folium, out, colour=_colour_of(c, order),
                        fields=["rank", "cat", "added"],
                        aliases=[t["rank"], t["category"], t["added"]], popup=True,
                        radius=9, weight=3).add_to(fg)
        fg.add_to(m)


def _legend_html(cats, fac_cats, thr_first, speed, t, lang, order, notes) -> str:
    labels = ["0–20%", "20–40%", "40–60%", "60–80%", "80–100%"]
    rows = [f"<div><b>{html.escape(t['legend_cov'].format(thr=_fmt_num(thr_first)))}</b>"
            f"<br><span style='color:#555'>"
            f"{html.escape(t['walk'].format(m=_fmt_num(round(thr_first * speed))))}</span></div>"]
    for col, lab in zip(COVERAGE_CLASS_COLOURS, labels):
        rows.append(f"<div><i style='background:{col}'></i>{lab}</div>")
    rows.append(f"<div><i style='background:{NO_DATA_COLOUR}'></i>"
                f"{html.escape(t['legend_grey'])}</div>")
    rows.append(f"<div style='margin-top:4px'><b>{html.escape(t['legend_fac'])}</b></div>")
    for c in fac_cats:
        rows.append(f"<div><i class='dot' style='background:{_colour_of(c, order)}'></i>"
                    f"{html.escape(_label(c, lang))}</div>")
    rows.append(f"<div style='margin-top:4px'><i class='dot' style='background:"
                f"{UNCOVERED_COLOUR};opacity:.6'></i>{html.escape(t['legend_unc'])}</div>")
    for n in notes:
        rows.append(f"<div style='color:#a00'>{html.escape(n)}</div>")
    return "\n".join(rows)


def _legend_element(inner: str, title: str):
    from branca.element import MacroElement, Template

    tpl = """
{% macro html(this, kwargs) %}
<div class="lc-title">""" + html.escape(title) + """</div>
<div class="lc-legend">
""" + inner + """
</div>
<style>
.lc-title {position: fixed; top: 10px; left: 50%; transform: translateX(-50%); z-index: 9999;
  background: rgba(255,255,255,.9); padding: 4px 12px; border-radius: 4px;
  font: bold 16px/1.3 sans-serif; box-shadow: 0 1px 4px rgba(0,0,0,.3);}
.lc-legend {position: fixed; bottom: 75px; left: 10px; z-index: 9999; max-height: 60%;
  overflow-y: auto; background: rgba(255,255,255,.92); padding: 6px 10px; border-radius: 4px;
  font: 12px/1.5 sans-serif; box-shadow: 0 1px 4px rgba(0,0,0,.3);}
.lc-legend i {display: inline-block; width: 14px; height: 12px; margin-right: 6px;
  vertical-align: middle; border: 1px solid #777;}
.lc-legend i.dot {border-radius: 50%; width: 10px; height: 10px;}
</style>
{% endmacro %}
"""
    el = MacroElement()
    el._name = "Legend"
    el._template = Template(tpl)
    return el


# ----------------------------------------------------------------------------- main

def make_map(results, out_html, *, lang: str = "zh", basemap: str = "OpenStreetMap",
             max_demand_points: int = 20000) -> Path:
    """Write the interactive coverage map of ``results`` to ``out_html`` (Leaflet inlined, so it
    works offline); return its path. See :func:`build_map`."""
    out = Path(out_html)
    out.parent.mkdir(parents=True, exist_ok=True)
    with _deterministic_ids():
        m = build_map(results, lang=lang, basemap=basemap, max_demand_points=max_demand_points)
        m.save(str(out))
    _inline_leaflet(out)
    return out


def build_map(results, *, lang: str = "zh", basemap: str = "OpenStreetMap", max_demand_points: int = 20000):
    """The interactive coverage map of ``results`` as a folium.Map (a notebook shows it).

    ``results`` carries communities, coverage_by_community, facilities, demand, circles,
    gaps, sites (the last three may be None), categories, main_threshold_min and title;
    an optional ``speed_m_per_min`` (default 80) turns the main threshold into metres to
    pick the uncovered demand points from their ``dist_<category>`` columns.
    """
    import folium

    if lang not in _TEXT:
        raise InputError(f"map language must be 'zh' or 'en', got {lang!r}",
                         field="output.lang", fix="use zh or en")
    if not (isinstance(max_demand_points, (int, np.integer)) and max_demand_points >= 0):
        raise InputError(f"max_demand_points must be a whole number >= 0, got "
                         f"{max_demand_points!r}", field="output.max_demand_points",
                         fix="e.g. 20000")
    t = _TEXT[lang]
    provider = resolve_basemap(basemap)
    cats = [str(c) for c in results.categories]
    if not cats:
        raise InputError("no analysed categories to map", field="results.categories",
                         fix="analyse at least one facility category")
    missing = [c for c in cats if c not in results.main_threshold_min]
    if missing:
        raise InputError(f"no main threshold for category {missing[0]!r}",
                         field=f"main_threshold_min.{missing[0]}",
                         fix="give the main walking threshold in minutes, e.g. 15")
    speed = float(getattr(results, "speed_m_per_min", None) or DEFAULT_SPEED_M_PER_MIN)
    title = str(getattr(results, "title", None) or t["default_title"])

    _need_cols(results.communities, ["community_id", "name", "township", "type", "population"],
               "communities")
    if len(results.communities) == 0:
        raise InputError("there are no communities to map", field="results.communities",
                         fix="check the community boundary file")
    com = _to_display(results.communities, "communities", simplify=True)
    com = com.sort_values("community_id", kind="stable")
    minx, miny, maxx, maxy = (float(v) for v in com.total_bounds)
    order = _cat_order(cats, results.facilities["category"].astype(str).unique())
    notes: list[str] = []

    m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=13,
                   tiles=None, control_scale=True, prefer_canvas=True)
    if provider is not None:
        folium.TileLayer(provider["tiles"], attr=provider["attr"],
                         name=f"{t['basemap']}: {provider['name']}",
                         max_zoom=provider["max_zoom"], max_native_zoom=provider["max_zoom"],
                         subdomains=provider["subdomains"]).add_to(m)
    _add_communities(m, folium, results, com, cats, t, lang)
    _add_circles(m, folium, results, cats, t, lang, order)
    _add_gaps(m, folium, results, cats, t, lang, order)
    _add_uncovered(m, folium, results, cats, t, lang, int(max_demand_points), speed, notes)
    fac_cats = _add_facilities(m, folium, results.facilities, cats, t, lang, order)
    _add_sites(m, folium, results, cats, t, lang, order)
    folium.LayerControl(collapsed=True).add_to(m)
    legend = _legend_html(cats, fac_cats, float(results.main_threshold_min[cats[0]]), speed,
                          t, lang, order, notes)
    m.get_root().add_child(_legend_element(legend, title))
    m.get_root().header.add_child(folium.Element(f"<title>{html.escape(title)}</title>"))
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


_LEAFLET = Path(__file__).resolve().parents[1] / "resources" / "leaflet"


def _inline_leaflet(path: Path) -> None:
    """Planners often work offline: put Leaflet itself into the page instead of a CDN link, so the
    map draws its data with no network at all (the other folium plug-ins only style markers and
    popups; when they fail to load, the layers still draw)."""
    import re
    text = path.read_text(encoding="utf-8")
    js = (_LEAFLET / "leaflet.js").read_text(encoding="utf-8")
    css = (_LEAFLET / "leaflet.css").read_text(encoding="utf-8")
    import base64
    css = re.sub(r"url\(images/([\w.-]+\.png)\)", lambda mm: "url(data:image/png;base64,"
                 + base64.b64encode((_LEAFLET / "images" / mm.group(1)).read_bytes()).decode("ascii") + ")", css)
    text, n_js = re.subn(r'<script src="[^"]*/leaflet@[^"]*/leaflet\.js"></script>',
                         lambda _: f"<script>{js}</script>", text, count=1)
    text, n_css = re.subn(r'<link rel="stylesheet" href="[^"]*/leaflet@[^"]*/leaflet\.css"/>',
                          lambda _: f"<style>{css}</style>", text, count=1)
    if n_js != 1 or n_css != 1:
        raise RuntimeError("could not inline Leaflet: folium's page template changed")
    path.write_text(text, encoding="utf-8")
