"""The province outputs of a batch, written by the client from the counties' small summaries:
``province_summary.csv`` (county x category at the plan threshold, with status and error),
``province_indicators.csv`` (county x indicator, area level), ``province.xlsx`` (both sheets),
``province_map.html`` (county outlines coloured by one category's rate; Leaflet inlined) and
``province_run.json`` (what ran, what was skipped, time and memory per county)."""

from __future__ import annotations

import html
import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .labels import CATEGORIES, COVERAGE_CLASS_COLOURS, NO_DATA_COLOUR, category_label, classify_rate

SUMMARY_COLUMNS = ["county_code", "county_name", "category", "category_zh", "population_group", "threshold_min",
                   "threshold_m", "population", "covered_pop", "coverage_rate", "status", "error"]
SHEETS = {"summary": "汇总 Summary", "indicators": "规划指标 Indicators"}
_ORDER = {c: i for i, c in enumerate(CATEGORIES)}


def province_summary(results) -> pd.DataFrame:
    rows = []
    for r in sorted(results, key=lambda r: r["code"]):
        head = {"county_code": r["code"], "county_name": r["name"]}
        if r["status"] != "ok":
            rows.append({**head, "status": "failed", "error": r["error"]})
            continue
        for s in sorted(r["summary"], key=lambda s: (_ORDER.get(s["category"], 99), s["category"])):
            rows.append({**head, **s, "status": "ok", "error": ""})
    df = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    for c in ("threshold_min", "threshold_m", "population", "covered_pop", "coverage_rate"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    return df


def province_indicators(results) -> pd.DataFrame:
    rows = [{"county_code": r["code"], "county_name": r["name"], **{k: v for k, v in i.items() if k != "level"}}
            for r in sorted(results, key=lambda r: r["code"]) if r["status"] == "ok" for i in r["indicators"]]
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=["county_code", "county_name"])


def write_province(prov, results, info: dict, seconds: float) -> dict:
    from .report.outputs import _csv
    out = Path(prov.out)
    files = {"summary": out / "province_summary.csv", "indicators": out / "province_indicators.csv",
             "xlsx": out / "province.xlsx", "map": out / "province_map.html", "run": out / "province_run.json"}
    summary, indicators = province_summary(results), province_indicators(results)
    _csv(summary, files["summary"])
    _csv(indicators, files["indicators"])
    _write_xlsx({SHEETS["summary"]: summary, SHEETS["indicators"]: indicators}, files["xlsx"])
    write_map(prov, results, summary, files["map"])
    from . import __version__
    run = {"version": __version__, "config": prov.file, "total_seconds": round(seconds, 3),
           "cluster": {k: v for k, v in info.items()},
           "counties": [{k: r.get(k) for k in ("code", "name", "status", "ran", "seconds", "peak_rss_mb", "worker",
                                              "error")} for r in results]}
    files["run"].write_text(json.dumps(run, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return files


def _write_xlsx(sheets: dict, path: Path) -> None:
    """Both tables in one workbook, header bold and frozen, rates as %; fixed dates so the same
    tables give the same bytes."""
    from openpyxl.styles import Font

    from .report.xlsx import FIXED_DATE, _fix_zip
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for name, df in sheets.items():
            df.replace([np.inf, -np.inf], np.nan).to_excel(xw, sheet_name=name, index=False)
            ws = xw.sheets[name]
            ws.freeze_panes = "A2"
            for j, col in enumerate(df.columns, start=1):
                ws.cell(row=1, column=j).font = Font(bold=True)
                letter = ws.cell(row=1, column=j).column_letter
                width = max([len(str(col))] + [len(str(v)) for v in df[col].head(200)])
                ws.column_dimensions[letter].width = float(min(max(width + 2, 8), 50))
                if col in ("coverage_rate",):
                    for c in ws[letter][1:]:
                        c.number_format = "0.0%"
                elif col in ("population", "covered_pop"):
                    for c in ws[letter][1:]:
                        c.number_format = "#,##0"
        props = xw.book.properties
        props.created = props.modified = FIXED_DATE
        props.creator = props.lastModifiedBy = "coverage"
    _fix_zip(buf.getvalue(), path)


# --------------------------------------------------------------------------- the map

_TEXT = {"zh": {"code": "区划代码", "name": "县（市、区）", "status": "状态", "ok": "完成", "failed": "失败",
                "legend": "{cat}覆盖率（步行 {thr}，按人口）", "failed_list": "运行失败的县：",
                "no_data": "无数据"},
         "en": {"code": "Code", "name": "County", "status": "Status", "ok": "ok", "failed": "failed",
                "legend": "{cat} coverage (walk {thr}, by population)", "failed_list": "Counties that failed:",
                "no_data": "no data"}}


def _thr_text(minutes, metres, lang) -> str:
    if minutes is None or (isinstance(minutes, float) and math.isnan(minutes)):
        return f"{metres:g} m" if lang == "en" else f"{metres:g} 米"
    return f"{minutes:g} min" if lang == "en" else f"{minutes:g} 分钟"


def write_map(prov, results, summary: pd.DataFrame, path: Path) -> Path:
    """County outlines (the union of each county's communities) coloured by ``map_category``'s rate
    at its plan threshold, with every rate in the tooltip. Every user string is HTML-escaped."""
    import folium
    import geopandas as gpd
    import shapely

    from .report.webmap import _deterministic_ids, _inline_leaflet, _legend_element, resolve_basemap
    t, lang = _TEXT[prov.lang], prov.lang
    ok = summary[summary["status"] == "ok"]
    cats = sorted(ok["category"].dropna().unique(), key=lambda c: (_ORDER.get(c, 99), c))
    cat = prov.map_category or (cats[0] if cats else CATEGORIES[0])
    drawn = [r for r in results if r["status"] == "ok" and r.get("outline")]
    def esc(text):
        # HTML-escaped, and braces as entities: folium's page is rendered by Jinja twice, so a
        # "{{ ... }}" in a county name would otherwise run as a template expression
        return html.escape(str(text)).replace("{", "&#123;").replace("}", "&#125;")

    props, geoms = [], []
    for r in drawn:
        rows = ok[ok["county_code"] == r["code"]].set_index("category")
        p = {"code": esc(r["code"]), "name": esc(r["name"]), "status": esc(t["ok"])}
        for c in cats:
            rate = rows["coverage_rate"].get(c, np.nan) if c in rows.index else np.nan
            p[f"rate_{c}"] = t["no_data"] if pd.isna(rate) else f"{100 * float(rate):.1f}%"
        rate = rows["coverage_rate"].get(cat, np.nan) if cat in rows.index else np.nan
        p["fill"] = COVERAGE_CLASS_COLOURS[int(classify_rate(rate))] if not pd.isna(rate) else NO_DATA_COLOUR
        props.append(p)
        geoms.append(shapely.from_wkt(r["outline"]))
    aliases = [t["code"], t["name"], t["status"]]
    for c in cats:
        row = ok[ok["category"] == c].iloc[0]
        aliases.append(f"{category_label(c, lang)} ({_thr_text(row['threshold_min'], row['threshold_m'], lang)})")
    fields = ["code", "name", "status"] + [f"rate_{c}" for c in cats]
    gdf = gpd.GeoDataFrame(props, columns=fields + ["fill"], geometry=geoms, crs=4326)

    provider = resolve_basemap(prov.basemap)
    with _deterministic_ids():
        if len(gdf):
            minx, miny, maxx, maxy = (float(v) for v in gdf.total_bounds)
        else:
            minx = miny = maxx = maxy = 0.0
        m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=8, tiles=None, control_scale=True)
        if provider is not None:
            folium.TileLayer(provider["tiles"], attr=provider["attr"], name=provider["name"],
                             max_zoom=provider["max_zoom"], subdomains=provider["subdomains"]).add_to(m)
        if len(gdf):
            folium.GeoJson(gdf.to_json(drop_id=True), name=esc(category_label(cat, lang)),
                           style_function=lambda f: {"fillColor": f["properties"]["fill"], "color": "#333333",
                                                     "weight": 1.5, "fillOpacity": 0.7},
                           highlight_function=lambda f: {"weight": 3, "color": "#000000"},
                           tooltip=folium.GeoJsonTooltip(fields=fields, aliases=[esc(a) for a in aliases],
                                                         sticky=True)).add_to(m)
            m.fit_bounds([[miny, minx], [maxy, maxx]])
        thr = ok[ok["category"] == cat]
        thr_txt = _thr_text(thr["threshold_min"].iloc[0], thr["threshold_m"].iloc[0], lang) if len(thr) else ""
        labels = ["0–20%", "20–40%", "40–60%", "60–80%", "80–100%"]
        legend = [f"<div><b>{esc(t['legend'].format(cat=category_label(cat, lang), thr=thr_txt))}</b></div>"]
        legend += [f"<div><i style='background:{c}'></i>{lab}</div>" for c, lab in zip(COVERAGE_CLASS_COLOURS, labels)]
        legend.append(f"<div><i style='background:{NO_DATA_COLOUR}'></i>{esc(t['no_data'])}</div>")
        failed = [r for r in results if r["status"] != "ok"]
        if failed:
            legend.append(f"<div style='color:#a00;margin-top:4px'><b>{esc(t['failed_list'])}</b></div>")
            legend += [f"<div style='color:#a00'>{esc(r['code'])} {esc(r['name'])}</div>" for r in failed]
        m.get_root().add_child(_legend_element("\n".join(legend), prov.name))
        from .report.webmap.page import raw
        m.get_root().header.add_child(raw(f"<title>{esc(prov.name)}</title>"))
        path.parent.mkdir(parents=True, exist_ok=True)
        m.save(str(path))
    _inline_leaflet(path)
    return path
