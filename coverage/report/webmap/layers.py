"""The map's layers, each a folium FeatureGroup (a line in the layer control) holding one
``lcAdd`` call with its data (see :mod:`.page`). Nothing is recomputed: rates come from the
coverage table, "uncovered" from the demand points' distances and
:func:`coverage.analysis.coverage.covered`, circles, gaps and sites as the analysis drew them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...analysis.coverage import covered
from ...analysis.gaps import GAP_JOIN_M
from ...errors import InputError
from .data import DemandGrid, grid_cell_m, mercator
from .page import layer_call, layer_name
from .text import (PALETTE, UNCOVERED_COLOUR, cat_label, cat_order, colour_of, fmt_int, fmt_num,
                   fmt_rate, js_json, need_cols, rate_class, same_metres)


#: Gap outlines are staircases on the gaps' grid (GAP_JOIN_M / 2 = 37.5 m cells): the map
#: simplifies them to 3/4 of a cell, which takes the stair corners out (a 45-degree staircase's
#: corners are 26.5 m off its line) and leaves a gap's outline within a cell of the computed one;
#: on a county this is most of the page (9.1 of 15.7 MB -> ~4 MB).
GAP_DISPLAY_TOL_M = 0.75 * GAP_JOIN_M / 2.0


def _group(m, name, show, kind, data_json, options):
    import folium
    fg = folium.FeatureGroup(name=layer_name(name), show=bool(show))
    fg.add_child(layer_call(kind, data_json, js_json(options)))
    fg.add_to(m)
    return fg


def _with_geoms(geojson, rest: dict) -> str:
    """JSON of ``{"g": [geometries...], **rest}`` with the geometries' GeoJSON text as is."""
    tail = js_json(rest)
    return '{"g":[' + ",".join(geojson) + "]" + ("," + tail[1:] if len(tail) > 2 else "}")


def _latlon(lon, lat):
    return np.column_stack([np.asarray(lat, float), np.asarray(lon, float)]).tolist()


def coverage_wide(results, cats, thr):
    cov = results.coverage_by_community
    _need = ["community_id", "category", "population", "coverage_rate"]
    need_cols(cov, _need + ["threshold_m"], "coverage_by_community")
    sel = cov[cov["category"].isin(cats)]
    keep = np.zeros(len(sel), bool)
    for c in cats:
        keep |= (sel["category"] == c).to_numpy() & same_metres(sel["threshold_m"], thr[c].metres)
    sel = sel[keep]
    if "population_group" in sel.columns:
        sel = sel[sel["population_group"].astype(str) == "total"] if \
            (sel["population_group"].astype(str) == "total").any() else sel
    dup = sel.duplicated(["community_id", "category"])
    if dup.any():
        row = sel[dup].iloc[0]
        raise InputError(f"community {row['community_id']!r} has more than one coverage row for "
                         f"{row['category']} at {row['threshold_m']} m",
                         field="results.coverage_by_community.community_id",
                         fix="give one row per community, category and threshold")
    rate = sel.pivot(index="community_id", columns="category", values="coverage_rate")
    pop = sel.pivot(index="community_id", columns="category", values="population")
    return rate.reindex(columns=cats), pop.reindex(columns=cats)


def add_communities(m, data, results, cats, thr, t, lang):
    com = data.communities
    rate, pop = coverage_wide(results, cats, thr)
    cid = com["community_id"]
    types = com["type"].map({"urban": t["urban"], "rural": t["rural"]}).fillna(com["type"].astype(str))
    values = [[str(a), str(b), str(c), fmt_int(d)] for a, b, c, d in
              zip(com["name"].astype(str), com["township"].astype(str), types, com["population"])]
    flat = _flat_rates(results, cats)
    rates, classes = [], []
    for c in cats:
        r = cid.map(rate[c]) if len(rate) else pd.Series(np.nan, index=com.index)
        p = cid.map(pop[c]) if len(pop) else pd.Series(np.nan, index=com.index)
        texts = [fmt_rate(a, b, t) for a, b in zip(r, p)]
        if flat is not None and c in flat:       # with a DEM: the flat rate beside the sloped one
            f = cid.map(flat[c])
            texts = [t["flat_rate"].format(v=v, f=fmt_rate(fv, b, t)) if np.isfinite(a) and np.isfinite(fv) else v
                     for v, a, fv, b in zip(texts, r.to_numpy(dtype=float), f.to_numpy(dtype=float), p)]
        rates.append(texts)
        classes.append(rate_class(r.to_numpy(dtype=float)).tolist())
    heads = [f"{cat_label(c, lang)} ({thr[c].label(lang)})" for c in cats]
    circles = _circle_rates(results, cats, lang, t)
    for head, rc, pc, _ in circles:            # travel circles: a rate per community it applies to
        r, p = cid.map(rc), cid.map(pc)
        heads.append(head)
        rates.append([fmt_rate(a, b, t) if k in rc.index else t["not_applicable"]
                      for k, a, b in zip(cid, r, p)])
        classes.append(rate_class(r.to_numpy(dtype=float)).tolist())
    share = _with_geoms([str(g) for g in data.cached("communities_json", lambda: _geojson(com))], {
        "palette": PALETTE, "heads": [t["name"], t["township"], t["type"], t["population"]],
        "v": values, "rate_heads": heads,
        "r": [list(x) for x in zip(*rates)], "c": [list(x) for x in zip(*classes)]})
    m.add_child(layer_call("share", share, js_json({"name": "communities"})))
    for i, c in enumerate(cats):
        _group(m, f"{t['coverage']}: {cat_label(c, lang)} ({thr[c].label(lang)})", i == 0,
               "communities", "{}", {"data": "communities", "k": i})
    for j, (_, _, _, layer) in enumerate(circles):
        _group(m, layer, False, "communities", "{}", {"data": "communities", "k": len(cats) + j})


def _flat_rates(results, cats):
    """{category: community rate walking on flat ground} when the results have a slope table."""
    se = getattr(results, "slope_effect", None)
    if se is None or not len(se):
        return None
    s = se[(se["level"] == "community") & (se["population_group"].astype(str) == "total")] \
        if "population_group" in se else se[se["level"] == "community"]
    return {c: s[s["category"] == c].drop_duplicates("unit").set_index("unit")["coverage_rate_flat"]
            for c in cats}


def _circle_rates(results, cats, lang, t=None):
    """[(tooltip head, rate by community, population by community, layer name)] of the travel
    circles of these categories (only the communities each applies to)."""
    tc = getattr(results, "travel_circles", None)
    if tc is None or not len(tc):
        return []
    out = []
    for key in dict.fromkeys(tc["circle"]):
        sub = tc[(tc["circle"] == key) & (tc["level"] == "community")]
        if not len(sub) or str(sub["category"].iloc[0]) not in cats:
            continue
        cat = str(sub["category"].iloc[0])
        sub = sub.drop_duplicates("unit").set_index("unit")
        name = str(sub["circle_name"].iloc[0])
        applies = str(sub["applies_to"].iloc[0])
        if applies in ("urban", "rural") and t is not None:
            name += f"（{t[applies]}）" if lang == "zh" else f" ({t[applies]})"
        layer = f"{name}覆盖率: {cat_label(cat, lang)}" if lang == "zh" else f"{name} coverage: {cat_label(cat, lang)}"
        out.append((f"{cat_label(cat, lang)} ({sub['circle_name'].iloc[0]})", sub["coverage_rate"], sub["population"],
                    layer))
    return out


def _geojson(gdf):
    import shapely
    return shapely.to_geojson(np.asarray(gdf.geometry.values, dtype=object))


def break_label(break_m, results, lang):
    for b in list(getattr(results, "breaks", None) or []):
        if abs(float(b.metres) - float(break_m)) <= 0.051:
            return b.label(lang)
    return f"{fmt_num(round(float(break_m), 1))} m" if lang == "en" else \
        f"{fmt_num(round(float(break_m), 1))}米"


def add_circles(m, data, results, cats, thr, t, lang, order):
    circ = results.circles
    if circ is None or len(circ) == 0:
        return
    circ = data.results.circles
    first = cats[0]
    for c in cats:           # only the mapped categories (a per-category map draws its own)
        sub = circ[circ["category"].astype(str) == c]
        for b in sorted(set(np.round(sub["_break_m"].to_numpy(float), 6))):
            geo = data.circle(c, b)
            if geo is None:
                continue
            show = c == first and abs(b - float(thr[first].metres)) <= 0.051
            col = colour_of(c, order)
            _group(m, f"{break_label(b, results, lang)} {t['circle']}: {cat_label(c, lang)}", show,
                   "polygons", _with_geoms([geo], {}),
                   {"style": {"fillColor": col, "color": col, "weight": 1.5, "fillOpacity": 0.12}})


def _by_category(frame, cols, what, order_by, cats):
    """(category, its rows ordered by ``order_by``) for each of ``cats`` with rows in ``frame``
    (gaps, suggested sites); nothing when the frame is absent or empty."""
    if frame is None or len(frame) == 0:
        return
    need_cols(frame, cols, what)
    for c in cats:
        sub = frame[frame["category"].astype(str) == c].sort_values(order_by, kind="stable")
        if len(sub):
            yield c, sub


def add_gaps(m, data, results, cats, t, lang, order):
    for c, sub in _by_category(results.gaps, ["category", "population", "gap_id"], "gaps", "gap_id", cats):
        geo = data.cached(("gaps", c), lambda sub=sub: [str(g) for g in data.geojson(sub.geometry.values,
                                                                                    GAP_DISPLAY_TOL_M)])
        vals = [[str(g), fmt_int(p)] for g, p in
                zip(sub["gap_id"], pd.to_numeric(sub["population"], errors="coerce"))]
        col = colour_of(c, order)
        _group(m, f"{t['gaps']}: {cat_label(c, lang)} ({len(sub)})", False, "polygons",
               _with_geoms(geo, {"v": vals}),
               {"style": {"fillColor": "#ff7f00", "color": col, "weight": 2, "dashArray": "5 4",
                          "fillOpacity": 0.35}, "heads": [t["gap_id"], t["population"]]})


def add_facilities(m, data, fac, cats, t, lang, order, cluster_over):
    need_cols(fac, ["facility_id", "name", "category", "area_m2"], "facilities")
    f = fac[~fac.geometry.is_empty & fac.geometry.notna()]
    present = cat_order(cats, f["category"].astype(str).unique())
    counts = f["category"].astype(str).value_counts()
    clustered = bool((counts > cluster_over).any())
    for c in present:
        sub = f[f["category"].astype(str) == c].sort_values("facility_id", kind="stable")
        lon, lat = data.lonlat(sub) if len(sub) else ([], [])
        area = pd.to_numeric(sub["area_m2"], errors="coerce")
        lab = cat_label(c, lang)
        vals = [[str(n), lab, ("—" if pd.isna(a) else f"{a:,.0f} m²")]
                for n, a in zip(sub["name"].astype(str), area)]
        cluster = len(sub) > cluster_over
        # thousands of facilities: only the first category's at start (the rest one click away)
        show = (c == cats[0]) if clustered else (c in cats)
        _group(m, f"{t['facilities']}: {lab} ({len(sub)})", show, "points",
               js_json({"xy": _latlon(lon, lat), "v": vals}),
               {"colour": colour_of(c, order), "radius": 6, "weight": 1, "fillOpacity": 0.85,
                "popup": True, "cluster": cluster, "heads": [t["name"], t["category"], t["area"]]})
    return present, clustered


def share_budget(counts: dict, budget: int) -> dict:
    """Split ``budget`` points over categories: small ones get all theirs, the rest share equally."""
    quota, left = {}, int(budget)
    items = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]))
    for k, (c, n) in enumerate(items):
        quota[c] = min(n, left // (len(items) - k))
        left -= quota[c]
    return quota


def add_uncovered(m, data, results, cats, thr, t, lang, max_points):
    """Uncovered people of each category: points (tooltips) when all of them fit in
    ``max_points``, otherwise a grid image of every uncovered person (a county). Returns the
    grid cell in metres, or None for points."""
    dem = results.demand
    need_cols(dem, ["population"] + [f"dist_{c}" for c in cats], "demand")
    popn = pd.to_numeric(dem["population"], errors="coerce").fillna(0.0).to_numpy()
    dists, uncs = {}, {}
    for c in cats:
        dists[c] = pd.to_numeric(dem[f"dist_{c}"], errors="coerce").to_numpy(dtype=float)
        # NaN (no route known) and inf (unreachable) are not covered
        uncs[c] = ~covered(dists[c], thr[c].metres) & (popn > 0)
    lon, lat = data.demand_lonlat()
    total = sum(int(u.sum()) for u in uncs.values())
    grid = None
    if total > max_points:
        x, y = mercator(lon, lat)
        w = (np.nanmax(x) - np.nanmin(x)) * np.cos(np.radians(np.nanmean(lat)))
        h = (np.nanmax(y) - np.nanmin(y)) * np.cos(np.radians(np.nanmean(lat)))
        grid = DemandGrid(lon, lat, grid_cell_m(w, h))
        sums = {c: grid.sums(popn, uncs[c]) for c in cats}
        vmax = max(float(s.max()) for s in sums.values()) if sums else 1.0
    pmax = max(float(popn[popn > 0].max()), 1e-9) if (popn > 0).any() else 1.0
    for i, c in enumerate(cats):
        unc = uncs[c]
        name = (f"{t['uncovered']}: {cat_label(c, lang)} (> {thr[c].label(lang)}, "
                f"{fmt_int(popn[unc].sum())})")
        if grid is not None:
            _group(m, name, i == 0, "image",
                   js_json({"url": grid.png(sums[c], vmax), "bounds": grid.bounds}), {})
            continue
        idx = np.flatnonzero(unc)
        p = popn[idx]
        vals = [[f"{v:,.1f}", (t["unreachable"] if not np.isfinite(dd) else f"{dd:,.0f} m")]
                for v, dd in zip(p, dists[c][idx])]
        radius = (np.round((2.0 + 8.0 * np.sqrt(p / pmax)) * 2.0) / 2.0).tolist()
        _group(m, name, i == 0, "points",
               js_json({"xy": _latlon(lon[idx], lat[idx]), "v": vals, "r": radius}),
               {"colour": UNCOVERED_COLOUR, "radius": 6, "weight": 0, "fillOpacity": 0.6,
                "popup": False, "heads": [t["population"], t["distance"]]})
    return None if grid is None else grid.cell_m


def add_sites(m, data, results, cats, t, lang, order):
    for c, sub in _by_category(results.sites, ["rank", "category", "added_population"], "sites", "rank", cats):
        lon, lat = data.lonlat(sub)
        lab = cat_label(c, lang)
        vals = [[str(r), lab, fmt_int(a)] for r, a in
                zip(sub["rank"], pd.to_numeric(sub["added_population"], errors="coerce"))]
        _group(m, f"{t['sites']}: {lab} ({len(sub)})", False, "points",
               js_json({"xy": _latlon(lon, lat), "v": vals}),
               {"colour": colour_of(c, order), "radius": 9, "weight": 3, "fillOpacity": 0.85,
                "popup": True, "heads": [t["rank"], t["category"], t["added"]]})
