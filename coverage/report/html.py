"""One printable, self-contained HTML report of a run (``report.html``).

``write_report(res, out_dir, figures, files=None, generated=None) -> Path`` writes the study area
and settings, the plan indicators against their targets (area level), the coverage summary, the
largest gaps, the suggested sites, the figures (PNG embedded as base64, so the file stands
alone), the excluded inputs by reason, the warnings and the timings. Inline CSS with @media print.
All text is escaped with ``html.escape``. No timestamp unless ``generated`` is passed, so two runs
on the same inputs give identical files. Language: ``res.cfg["output"]["lang"]`` (zh or en).
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..labels import CATEGORY_LABELS_EN, CATEGORY_LABELS_ZH

__all__ = ["write_report", "HEADINGS", "REPORT_FILE"]

REPORT_FILE = "report.html"

HEADINGS = {
    "zh": {"settings": "研究区与设置", "indicators": "规划指标达标情况", "summary": "覆盖率汇总",
           "gaps": "最大覆盖缺口（前10）", "sites": "建议新增设施选址", "figures": "图件",
           "excluded": "被排除的输入（按原因）", "warnings": "警告", "timings": "运行时间",
           "files": "输出文件"},
    "en": {"settings": "Study area and settings", "indicators": "Plan indicators against targets",
           "summary": "Coverage summary", "gaps": "Largest gaps (top 10)", "sites": "Suggested sites",
           "figures": "Figures", "excluded": "Excluded inputs by reason", "warnings": "Warnings",
           "timings": "Timings", "files": "Output files"},
}

_T = {
    "zh": {"title": "社区生活圈设施覆盖分析报告", "item": "项目", "value": "内容", "area": "研究区",
           "crs": "坐标系", "profile": "规划标准", "speed": "步行速度", "thresholds": "规划阈值",
           "breaks": "分析分段", "sources": "数据来源", "network": "路网来源", "communities": "社区",
           "facilities": "设施", "population": "人口", "indicator": "指标", "target": "规划目标",
           "met": "达标", "gap": "差距", "status": "状态", "note": "说明", "category": "类别",
           "thr": "阈值（分钟）", "pop": "人口", "covered": "覆盖人口", "rate": "覆盖率",
           "urban": "城市社区", "rural": "农村社区", "rank": "序号", "township": "街道/乡镇",
           "community": "社区", "points": "人口点", "area_m2": "面积 (m²)", "added": "新增覆盖人口",
           "cum": "累计覆盖率", "road": "最近道路", "layer": "图层", "reason": "原因", "count": "条数",
           "step": "步骤", "seconds": "秒", "none": "无", "osm": "OpenStreetMap（© OpenStreetMap contributors）",
           "own": "自有道路数据", "rate_at": "{m:g}分钟", "min_per": "米/分钟", "total": "合计",
           "file": "文件", "method": "方法", "figure_note": "说明", "generated": "生成时间",
           "font_note": "图件说明", "val": "现状值", "before": "选址前", "after": "选址后",
           "measure": "口径", "clause": "规划条款",
           "ind_note": "“全覆盖”即100%；说明中标“本工具解读”的目标由本工具按规划文字推定。人口覆盖率按步行距离内的人口计，"
                       "社区覆盖率按建有设施的社区计。达标 ✓ 未达标 ✗，— 为无法测算（原因见说明）。"},
    "en": {"title": "Life-circle facility coverage report", "item": "Item", "value": "Value", "area": "Study area",
           "crs": "CRS", "profile": "Standards profile", "speed": "Walking speed", "thresholds": "Plan thresholds",
           "breaks": "Breaks", "sources": "Data sources", "network": "Network source", "communities": "Communities",
           "facilities": "Facilities", "population": "Population", "indicator": "Indicator", "target": "Target",
           "met": "Met", "gap": "Gap", "status": "Status", "note": "Note", "category": "Category",
           "thr": "Threshold (min)", "pop": "Population", "covered": "Covered", "rate": "Coverage",
           "urban": "Urban", "rural": "Rural", "rank": "Rank", "township": "Township",
           "community": "Community", "points": "Points", "area_m2": "Area (m²)", "added": "Added population",
           "cum": "Cumulative rate", "road": "Nearest road", "layer": "Layer", "reason": "Reason", "count": "Rows",
           "step": "Step", "seconds": "Seconds", "none": "none", "osm": "OpenStreetMap (© OpenStreetMap contributors)",
           "own": "own road data", "rate_at": "{m:g} min", "min_per": "m/min", "total": "Total",
           "file": "File", "method": "Method", "figure_note": "Note", "generated": "Generated",
           "font_note": "Figures note", "val": "Value", "before": "before", "after": "after",
           "measure": "Measure", "clause": "Plan clause",
           "ind_note": "Full coverage = 100%; targets whose note says the tool reads them are the toolkit's "
                       "reading of the plan's words. Population covered counts residents within the walk; share "
                       "of communities counts communities with a facility. ✓ met, ✗ not met, — not measurable "
                       "(see the note)."},
}

_CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","PingFang SC",sans-serif;
 max-width:1100px;margin:2em auto;padding:0 1em;color:#111;line-height:1.45;font-size:14px}
h1{font-size:1.6em;border-bottom:2px solid #111;padding-bottom:.2em}
h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #999}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border:1px solid #777;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#eee}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.nw{white-space:nowrap}
.met{font-weight:bold}
.no{font-weight:bold;text-decoration:underline}
figure{margin:1em 0}
figure img{max-width:100%;border:1px solid #ccc}
figcaption{font-size:.9em;color:#333}
.muted{color:#555}
@media print{
 body{max-width:none;margin:0;font-size:10.5pt}
 h2{page-break-after:avoid}
 table,figure{page-break-inside:avoid}
 figure img{max-width:100%;border:none}
 th{background:#ddd;-webkit-print-color-adjust:exact;print-color-adjust:exact}
 a{color:#000;text-decoration:none}
}
"""


def _e(x) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def _isnum(x):
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def _num(x, digits=1, pct=False):
    if x is None or (_isnum(x) and not math.isfinite(float(x))) or (not _isnum(x) and pd.isna(x)):
        return "—"
    v = float(x) * (100 if pct else 1)
    return f"{v:,.{digits}f}" + ("%" if pct else "")


def _table(headers, rows, num_cols=()):
    out = ["<table><thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in headers) + "</tr></thead><tbody>"]
    for r in rows:
        cells = []
        for i, c in enumerate(r):
            raw = isinstance(c, _Raw)
            cls = ' class="num"' if i in num_cols else ""
            cells.append(f"<td{cls}>{c.s if raw else _e(c)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


class _Raw:
    """Already-escaped HTML for a table cell."""

    def __init__(self, s):
        self.s = s


def _cat(cat, lang):
    return (CATEGORY_LABELS_ZH if lang == "zh" else CATEGORY_LABELS_EN).get(cat, cat)


def _section(key, lang, body):
    return f'<section id="{key}"><h2>{_e(HEADINGS[lang][key])}</h2>\n{body}\n</section>'


def _profile_name(res, lang) -> str:
    """The plan's name, its id and the chosen options (e.g. Guangdong's region)."""
    cfg = res.config
    stem = Path(str(cfg.profile)).stem
    prof = getattr(res, "profile", None)      # the study's profile, read once, with its options
    if prof is None:
        return stem
    opts = "; ".join(f"{k}: {prof.option_specs[k]['values'][v][lang]}" for k, v in prof.options.items())
    return f"{prof.name_zh if lang == 'zh' else prof.name_en} ({stem}{'; ' + opts if opts else ''})"


def _settings(res, lang, t):
    cfg = res.config
    net = cfg.network
    src = str(net.source or "")
    net_txt = f"{src}: {Path(str(net.path)).name}" if net.path else src
    net_txt += " — " + (t["osm"] if src.lower() in ("pbf", "osm", "download", "graphml") else t["own"])
    thr = "; ".join(f"{_cat(c, lang)} {res.thresholds[c].label(lang)}" for c in res.categories)
    files = []
    for key in ("communities", "facilities", "population"):
        p = getattr(cfg, key).path
        if p:
            files.append(f"{t[key]}: {Path(str(p)).name}")
    rows = [
        (t["area"], res.title),
        (t["crs"], str(res.crs)),
        (t["profile"], _profile_name(res, lang) if cfg.profile else t["none"]),
        (t["speed"], f"{cfg.analysis.walk_speed_kmh:g} km/h ({float(res.speed_m_per_min):.1f} {t['min_per']})"),
        (t["thresholds"], thr),
        (t["breaks"], ", ".join(b.label(lang) for b in res.breaks)),
        (t["sources"], "; ".join(files)),
        (t["network"], net_txt),
        (t["communities"], f"{len(res.communities):,}"),
        (t["facilities"], f"{len(res.facilities):,}"),
        (t["population"], _num(float(np.nansum(res.demand.population)) if len(res.demand) else 0, 0)),
    ]
    from .html_modes import settings_rows
    rows += settings_rows(res, lang)
    return _table([t["item"], t["value"]], rows)


def _indicators(res, lang, t):
    """The area rows of the indicators, in the profile's order, in the report language only."""
    from .markdown import _cells
    ind = res.indicators
    if ind is None or not len(ind):
        return f"<p>{_e(t['none'])}</p>"
    rows = []
    for r in ind[ind.level == "area"].itertuples(index=False):
        c = _cells(r, "area", lang)
        mark = {"✓": _Raw('<span class="met">✓</span>'), "✗": _Raw('<span class="no">✗</span>')}.get(c["met"], "—")
        nw = [_Raw(f'<span class="nw">{_e(c[k])}</span>') for k in ("value", "target", "gap")]
        rows.append((c["indicator"], c["measure"], nw[0], nw[1], mark, nw[2], c["note"], c["clause"]))
    body = _table([t["indicator"], t["measure"], t["val"], t["target"], t["met"], t["gap"], t["note"],
                   t["clause"]], rows, num_cols=(2, 5))
    return body + f"<p class='muted'>{_e(t['ind_note'])}</p>"


def _summary(res, lang, t):
    s = res.coverage_summary
    if "population_group" in s.columns:
        s = s[s.population_group == "total"]
    breaks = sorted(float(b) for b in s.threshold_min.unique())
    rows = []
    for cat in res.categories:
        thr = float(res.main_threshold_min[cat])
        c = s[s.category == cat]
        area = c[c.level == "area"].drop_duplicates("threshold_min").set_index("threshold_min")
        area.index = area.index.astype(float)
        ur = c[(c.level == "urban_rural") & np.isclose(c.threshold_min.astype(float), thr)].set_index("unit")
        main = area.loc[thr] if thr in area.index else None
        row = [_cat(cat, lang), f"{thr:g}",
               _num(main["population"], 0) if main is not None else "—",
               _num(main["covered_pop"], 0) if main is not None else "—",
               _Raw(f"<b>{_e(_num(main['coverage_rate'], 1, pct=True))}</b>") if main is not None else "—"]
        row += [_num(area.loc[b, "coverage_rate"], 1, pct=True) if b in area.index else "—" for b in breaks]
        row += [_num(ur.loc[u, "coverage_rate"], 1, pct=True) if u in ur.index else "—" for u in ("urban", "rural")]
        rows.append(row)
    heads = [t["category"], t["thr"], t["pop"], t["covered"], t["rate"]]
    heads += [f"{t['rate']} {t['rate_at'].format(m=b)}" for b in breaks] + [t["urban"], t["rural"]]
    return _table(heads, rows, num_cols=tuple(range(1, len(heads))))


def _by_cat(df, res, then=None):
    order = {c: i for i, c in enumerate(res.categories)}
    df = df.assign(_o=df["category"].map(order).fillna(len(order)))
    return df.sort_values(["_o", "category"] + ([then] if then else []), kind="stable").drop(columns="_o")


def _names(res):
    return res.communities.set_index("community_id")["name"].astype(str).to_dict()


def _gaps(res, lang, t):
    g = res.gaps
    if g is None or not len(g):
        return f"<p>{_e(t['none'])}</p>"
    g = pd.DataFrame(g.drop(columns="geometry")).sort_values(["population", "category", "rank"],
                                                           ascending=[False, True, True], kind="stable").head(10)
    names = _names(res)
    rows = [(r["gap_id"], _cat(r["category"], lang), f"{float(r['threshold_min']):g}", _num(r["population"], 0),
             int(r["points"]), _num(r["area_m2"], 0), r["township"],
             "; ".join(names.get(c, c) for c in str(r["communities"]).split(";") if c))
            for _, r in g.iterrows()]
    return _table([t["gap"], t["category"], t["thr"], t["pop"], t["points"], t["area_m2"], t["township"],
                   t["community"]], rows, num_cols=(2, 3, 4, 5))


def _sites(res, lang, t):
    s = res.sites
    if s is None or not len(s):
        return f"<p>{_e(t['none'])}</p>"
    s = _by_cat(pd.DataFrame(s.drop(columns="geometry")), res, "rank")
    names = _names(res)
    rows = [(_cat(r["category"], lang), int(r["rank"]), names.get(r["community_id"], r["community_id"]),
             r["township"], r.get("nearest_road", ""), _num(r["added_population"], 0),
             _num(r["cumulative_rate"], 1, pct=True)) for _, r in s.iterrows()]
    body = _table([t["category"], t["rank"], t["community"], t["township"], t["road"], t["added"], t["cum"]],
                  rows, num_cols=(1, 5, 6))
    ss = res.siting_summary
    if ss is not None and len(ss):
        rows = [(_cat(r["category"], lang), r["status"], "" if pd.isna(r["method"]) else r["method"],
                 _num(r["rate_before"], 1, pct=True), _num(r["rate_after"], 1, pct=True))
                for _, r in _by_cat(ss, res).iterrows()]
        body += _table([t["category"], t["status"], t["method"], f"{t['rate']} ({t['before']})", f"{t['rate']} ({t['after']})"],
                       rows, num_cols=(3, 4))
    return body


def _figures(figures, t):
    if not figures:
        return f"<p>{_e(t['none'])}</p>"
    out = []
    notes = getattr(figures, "notes", None) or []
    for n in notes:
        out.append(f"<p class='muted'>{_e(t['font_note'])}: {_e(n)}</p>")
    for key in list(figures):
        p = Path(figures[key])
        data = base64.b64encode(p.read_bytes()).decode("ascii")
        out.append(f'<figure><img alt="{_e(key)}" src="data:image/png;base64,{data}">'
                   f"<figcaption>{_e(p.name)}</figcaption></figure>")
    return "\n".join(out)


def _excluded(res, t):
    ex = res.excluded
    if ex is None or not len(ex):
        return f"<p>{_e(t['none'])}</p>"
    c = ex.groupby(["layer", "reason"], dropna=False, sort=True).size().reset_index(name="n")
    rows = [(r["layer"], r["reason"], int(r["n"])) for _, r in c.iterrows()]
    return _table([t["layer"], t["reason"], t["count"]], rows, num_cols=(2,))


def _warnings(res, t):
    if not res.warnings:
        return f"<p>{_e(t['none'])}</p>"
    return "<ul>" + "".join(f"<li>{_e(w)}</li>" for w in res.warnings) + "</ul>"


def _timings(res, t):
    tm = res.timings or {}
    rows = [(k, f"{float(v):.2f}") for k, v in tm.items()]
    rows.append((_Raw(f"<b>{_e(t['total'])}</b>"), f"{sum(float(v) for v in tm.values()):.2f}"))
    return _table([t["step"], t["seconds"]], rows, num_cols=(1,))


def _files(files, out_dir, t):
    if not files:
        return ""
    rows = []
    for k in sorted(files):
        p = Path(files[k])
        try:
            rel = p.resolve().relative_to(Path(out_dir).resolve()).as_posix()
        except ValueError:
            rel = p.name
        rows.append((k, _Raw(f'<a href="{_e(rel)}">{_e(rel)}</a>')))
    return _table([t["item"], t["file"]], rows)


def _mode_sections(res, lang) -> list:
    """Flat vs sloped coverage (network.dem) and the travel circles, only when configured (their
    headings are in coverage.report.html_modes.T)."""
    from .html_modes import T as MT, circles_section, slope_section
    out = []
    for key, make in (("slope", slope_section), ("circles", circles_section)):
        body = make(res, lang, _table, _cat)
        if body is not None:
            out.append(f'<section id="{key}"><h2>{_e(MT[lang][key])}</h2>\n{body}\n</section>')
    return out


def write_report(res, out_dir, figures, files=None, generated=None) -> Path:
    """Write ``report.html`` into ``out_dir`` and return its path (see the module docstring).

    ``figures``: the dict from ``make_figures`` (embedded in its order); ``files``: optional
    {name: path} of the other outputs, listed with relative links; ``generated``: optional text
    (e.g. a date) printed under the title."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lang = res.config.output.lang
    t = _T[lang]
    parts = [
        _section("settings", lang, _settings(res, lang, t)),
        _section("indicators", lang, _indicators(res, lang, t)),
        _section("summary", lang, _summary(res, lang, t)),
        *_mode_sections(res, lang),
        _section("gaps", lang, _gaps(res, lang, t)),
        _section("sites", lang, _sites(res, lang, t)),
        _section("figures", lang, _figures(figures, t)),
        _section("excluded", lang, _excluded(res, t)),
        _section("warnings", lang, _warnings(res, t)),
        _section("timings", lang, _timings(res, t)),
    ]
    if files:
        parts.append(_section("files", lang, _files(files, out, t)))
    head = (f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{_e(t['title'])} — {_e(res.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            f"<h1>{_e(t['title'])}<br><small>{_e(res.title)}</small></h1>\n")
    if generated is not None:
        head += f"<p class='muted'>{_e(t['generated'])}: {_e(generated)}</p>\n"
    doc = head + "\n".join(parts) + "\n</body>\n</html>\n"
    path = out / REPORT_FILE
    path.write_text(doc, encoding="utf-8")
    return path
