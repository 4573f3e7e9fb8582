"""The report.html sections of slope and travel modes: flat vs sloped coverage side by side
(``network.dem``) and the travel circles with their mode (``analysis.travel_circles``). Every
text is escaped (``html.escape`` through :func:`coverage.report.html._table`)."""

from __future__ import annotations

import math

import pandas as pd

T = {
    "zh": {"slope": "坡度对覆盖率的影响（平地与按坡度对比）", "circles": "出行服务圈（按出行方式）",
           "flat": "平地覆盖率", "sloped": "按坡度覆盖率", "change": "变化（百分点）", "category": "类别",
           "thr": "阈值", "urban": "城市社区", "rural": "农村社区", "community": "社区", "township": "街道/乡镇",
           "pop": "人口", "circle": "服务圈", "mode": "出行方式", "applies": "适用范围", "covered": "覆盖人口",
           "rate": "覆盖率", "walk_rate": "步行同阈值覆盖率", "all": "全部社区", "urban_only": "城市社区",
           "rural_only": "农村社区", "top": "坡度影响最大的社区（前10）", "below": "未全覆盖的社区（前10）",
           "none": "无", "dem": "数字高程模型", "direction": "计算方向", "to_facility": "居民步行前往设施",
           "round_trip": "往返平均", "slope_note":
           "步行时间按Tobler徒步函数随坡度修正（平地按设定步速，5%下坡最快，上坡变慢），上下坡不对称；覆盖按居民步行前往设施的"
           "方向计算（analysis.slope: round_trip 时取往返平均）。平地覆盖率为不计坡度的路网距离结果，两者之差即坡度的影响。",
           "circle_note": "服务圈按所列出行方式计算路网出行时间（分钟）或路网距离（米），只统计其适用的社区；"
                          "“步行同阈值覆盖率”为同一时间（距离）步行的覆盖率，便于对比。",
           "dem_line": "高程：{file}（格网约 {cell:.1f} 米，采样 {samples:,} 点，最大坡度 {grade:.1%}，无数据路段 {nodata:,} 段）"},
    "en": {"slope": "Slope: flat vs slope-adjusted coverage", "circles": "Travel circles (by mode)",
           "flat": "Flat", "sloped": "On the slope", "change": "Change (pp)", "category": "Category",
           "thr": "Threshold", "urban": "Urban", "rural": "Rural", "community": "Community", "township": "Township",
           "pop": "Population", "circle": "Circle", "mode": "Mode", "applies": "Applies to", "covered": "Covered",
           "rate": "Coverage", "walk_rate": "On foot, same threshold", "all": "all communities",
           "urban_only": "urban communities", "rural_only": "rural communities",
           "top": "Communities most changed by the slope (top 10)", "below": "Communities below 100% (top 10)",
           "none": "none", "dem": "DEM", "direction": "Direction", "to_facility": "residents walking to the facility",
           "round_trip": "mean of the round trip", "slope_note":
           "Walking time follows the slope by Tobler's hiking function (the set speed on flat ground, fastest on a "
           "5% descent, slower uphill), so uphill and downhill differ; coverage counts residents walking to the "
           "facility (analysis.slope: round_trip takes the mean of both ways). The flat rate ignores the slope; "
           "the difference is the slope's effect.",
           "circle_note": "Each circle counts the travel time (minutes) or road distance (metres) by its mode, over "
                          "the communities it applies to; 'on foot' is the rate walking the same threshold.",
           "dem_line": "Elevation: {file} (cells of about {cell:.1f} m, {samples:,} samples, steepest grade "
                       "{grade:.1%}, {nodata:,} road pieces without elevation)"},
}


def _pct(x):
    if x is None or (isinstance(x, float) and not math.isfinite(x)) or pd.isna(x):
        return "—"
    return f"{float(x) * 100:.1f}%"


def _pp(x):
    if x is None or pd.isna(x) or not math.isfinite(float(x)):
        return "—"
    v = float(x)
    return "0.0" if abs(v) < 0.05 else f"{v:+.1f}"


def slope_section(res, lang, table, cat_label) -> str | None:
    """Flat vs sloped rate per category (area, urban, rural) and the communities the slope changes most."""
    se = getattr(res, "slope_effect", None)
    if se is None:
        return None
    from .html import _e
    t = T[lang]
    rep = (getattr(res, "report", None) or {}).get("dem") or {}
    parts = [f"<p>{_e(t['slope_note'])}</p>"]
    if rep:
        parts.append("<p class='muted'>" + _e(t["dem_line"].format(
            file=rep.get("file", ""), cell=float(rep.get("cell_m", 0.0)), samples=int(rep.get("samples", 0)),
            grade=float(rep.get("max_grade", 0.0)), nodata=int(rep.get("nodata_pieces", 0))))
            + f"; {_e(t['direction'])}: {_e(t.get(rep.get('direction', ''), rep.get('direction', '')))}</p>")
    s = se[se.population_group == "total"] if "population_group" in se else se
    rows = []
    for cat in res.categories:
        c = s[s.category == cat]
        area = c[c.level == "area"]
        if not len(area):
            continue
        a = area.iloc[0]
        ur = c[c.level == "urban_rural"].set_index("unit")
        row = [cat_label(cat, lang), res.thresholds[cat].label(lang), _pct(a.coverage_rate_flat),
               _pct(a.coverage_rate_sloped), _pp(a.change_pp)]
        for u in ("urban", "rural"):
            row += ([_pct(ur.loc[u, "coverage_rate_flat"]), _pct(ur.loc[u, "coverage_rate_sloped"])]
                    if u in ur.index else ["—", "—"])
        rows.append(row)
    heads = [t["category"], t["thr"], t["flat"], t["sloped"], t["change"], f"{t['urban']} {t['flat']}",
             f"{t['urban']} {t['sloped']}", f"{t['rural']} {t['flat']}", f"{t['rural']} {t['sloped']}"]
    parts.append(table(heads, rows, num_cols=tuple(range(2, len(heads)))))
    com = s[(s.level == "community") & s.change_pp.notna() & (s.change_pp.abs() >= 0.05)]
    com = com.assign(_a=-com.change_pp.abs()).sort_values(["_a", "unit", "category"], kind="stable").head(10)
    parts.append(f"<h3>{_e(t['top'])}</h3>")
    if not len(com):
        parts.append(f"<p>{_e(t['none'])}</p>")
    else:
        parts.append(table([t["community"], t["township"], t["category"], t["pop"], t["flat"], t["sloped"],
                            t["change"]],
                           [(r.name or r.unit, r.township, cat_label(r.category, lang), f"{float(r.population):,.0f}",
                             _pct(r.coverage_rate_flat), _pct(r.coverage_rate_sloped), _pp(r.change_pp))
                            for r in com.itertuples(index=False)], num_cols=(3, 4, 5, 6)))
    return "\n".join(parts)


def circles_section(res, lang, table, cat_label) -> str | None:
    """Each travel circle: its mode, the communities it applies to, the rate by the mode and on foot."""
    tc = getattr(res, "travel_circles", None)
    if tc is None:
        return None
    from .html import _e
    t = T[lang]
    applies = {"all": t["all"], "urban": t["urban_only"], "rural": t["rural_only"]}
    rows = []
    # the area row over the communities a circle applies to; urban and rural rows for a circle of all
    show = (tc.level == "area") | ((tc.level == "urban_rural") & (tc.applies_to == "all"))
    for r in tc[show].itertuples(index=False):
        unit = applies.get(r.applies_to, r.applies_to) if r.level == "area" else \
            (t["urban"] if r.unit == "urban" else t["rural"] if r.unit == "rural" else r.unit)
        rows.append((r.circle_name, cat_label(r.category, lang), res.mode_label(r.mode, lang)
                     if hasattr(res, "mode_label") else r.mode, unit, f"{float(r.population):,.0f}",
                     f"{float(r.covered_pop):,.0f}", _pct(r.coverage_rate), _pct(r.coverage_rate_walk)))
    parts = [f"<p>{_e(t['circle_note'])}</p>",
             table([t["circle"], t["category"], t["mode"], t["applies"], t["pop"], t["covered"], t["rate"],
                    t["walk_rate"]], rows, num_cols=(4, 5, 6, 7))]
    below = tc[(tc.level == "community") & (tc.coverage_rate < 1.0 - 1e-9)]
    below = below.sort_values(["coverage_rate", "unit"], kind="stable").head(10)
    parts.append(f"<h3>{_e(t['below'])}</h3>")
    if not len(below):
        parts.append(f"<p>{_e(t['none'])}</p>")
    else:
        parts.append(table([t["circle"], t["community"], t["township"], t["pop"], t["rate"], t["walk_rate"]],
                           [(r.circle_name, r.name or r.unit, r.township, f"{float(r.population):,.0f}",
                             _pct(r.coverage_rate), _pct(r.coverage_rate_walk))
                            for r in below.itertuples(index=False)], num_cols=(3, 4, 5)))
    return "\n".join(parts)


def settings_rows(res, lang) -> list:
    """Rows for the settings table: the DEM and direction, the travel modes used."""
    t = T[lang]
    out = []
    rep = getattr(res, "report", None) or {}
    d = rep.get("dem")
    if d:
        out.append((t["dem"], f"{d.get('file', '')} ({d.get('crs', '')}); {t['direction']}: "
                              f"{t.get(d.get('direction', ''), d.get('direction', ''))}"))
    tc = getattr(res, "travel_circles", None)
    if tc is not None and len(tc) and hasattr(res, "mode_label"):
        kmh = res.config.analysis.walk_speed_kmh
        for m in sorted(set(tc["mode"]) - {"walk"}):
            out.append((f"{t['mode']}: {res.mode_label(m, lang)}", res.modes[m].describe(kmh, lang)))
    return out

