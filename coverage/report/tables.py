"""Plan-report tables: one Excel workbook, the same tables as CSV (UTF-8 with BOM) and Markdown,
and a column dictionary.

``write_tables(res, out_dir)`` writes

* ``tables.xlsx``: one sheet per table (see ``TABLES``), bilingual headers with units, number
  formats (rates 0.0%, people #,##0, m² #,##0.0), frozen header row, fitted column widths and
  fixed document dates so two runs of the same study give the same workbook;
* ``tables/<name>.csv``: the same tables, UTF-8 with BOM (Excel opens Chinese correctly);
* ``tables.md``: the same tables as Markdown, one section per table, rates as percentages;
* ``columns.md``: every column of every CSV the tool writes (the lead's ``*.csv`` in the output
  folder and ``tables/*.csv``): name, Chinese, English meaning, unit.

``COLUMNS`` (plus ``TABLE_COLUMNS`` for names whose meaning depends on the table, and
``PATTERN_COLUMNS`` for the per-category columns of the community table) is the single source of
headers and of the dictionary, so the two cannot disagree. Outputs never recompute analysis.
"""

from __future__ import annotations

import datetime as _dt
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..labels import CATEGORIES, CATEGORY_LABELS_EN, CATEGORY_LABELS_ZH


#: fixed document date written into tables.xlsx (created and modified) and its zip entries
FIXED_DATE = _dt.datetime(2000, 1, 1, 0, 0, 0)

#: Excel number format per kind of column
NUMBER_FORMATS = {"rate": "0.0%", "people": "#,##0", "households": "#,##0", "m2": "#,##0.0",
                  "m": "#,##0", "min": "0", "count": "0", "num": "#,##0.00", "coord": "0.000000"}


@dataclass(frozen=True)
class Col:
    zh: str            # Chinese header
    en: str            # English header
    meaning: str       # English meaning (dictionary)
    unit: str = ""     # unit shown in the header, e.g. 人, m, m², min; "" for none
    kind: str = "text"  # text | rate | people | households | m2 | m | min | count | num | coord | bool

    @property
    def header(self) -> str:
        h = f"{self.zh} {self.en}"
        return f"{h} ({self.unit})" if self.unit else h

    def header_for(self, lang: str = "both") -> str:
        """The header in one language (zh: 差距（平方米）-style, en) or both (the default)."""
        if lang == "zh":
            return f"{self.zh}（{self.unit}）" if self.unit else self.zh
        if lang == "en":
            return f"{self.en} ({self.unit})" if self.unit else self.en
        return self.header

    @property
    def unit_doc(self) -> str:
        if self.kind == "rate":
            return "fraction 0–1 (shown as %)"
        return self.unit


_T, _R, _P = "text", "rate", "people"

#: the column dictionary: name -> Col (default meaning)
COLUMNS: dict[str, Col] = {
    # units and places
    "community_id": Col("社区编号", "Community ID", "community code from the communities file", kind=_T),
    "name": Col("名称", "Name", "name of the community", kind=_T),
    "township": Col("乡镇街道", "Township/street", "township (乡镇) or street (街道) the row lies in", kind=_T),
    "type": Col("城乡类型", "Urban/rural", "urban (城镇社区) or rural (农村社区) community", kind=_T),
    "households": Col("户数", "Households", "households of the community (communities file)", "户", "households"),
    "level": Col("统计层级", "Level", "aggregation level: area (whole study area), urban_rural, township; "
                 "in indicators also community", kind=_T),
    "unit": Col("统计单元", "Unit", "the unit of the row: study area, urban/rural, or the township name", kind=_T),
    "category": Col("设施类别", "Category", "plan facility category key (comprehensive, elderly_care, health, "
                    "fitness, culture, education, childcare, commerce)", kind=_T),
    "category_zh": Col("设施类别(中文)", "Category (Chinese)", "Chinese label of the category", kind=_T),
    "population_group": Col("人口口径", "Population group", "population the rate is weighed by: total, or a "
                            "priority group (e.g. elderly) configured for the category", kind=_T),
    "threshold_min": Col("步行时间阈值", "Walking threshold", "walking time threshold (for a threshold given in "
                         "metres: its equivalent at the walking speed)", "min", "min"),
    "threshold_m": Col("步行距离阈值", "Walking distance threshold", "threshold as network walking distance "
                       "(threshold_min x walking speed, or as given in metres)", "m", "m"),
    # coverage
    "population": Col("人口", "Population", "resident population of the unit (sum of its demand points)", "人", _P),
    "covered_pop": Col("覆盖人口", "Covered population", "population within the walking threshold of a facility "
                       "of the category", "人", _P),
    "uncovered_pop": Col("未覆盖人口", "Uncovered population", "population minus covered population", "人", _P),
    "coverage_rate": Col("覆盖率", "Coverage rate", "covered population / population (blank when population is 0)",
                         kind=_R),
    "facilities_inside": Col("社区内设施数", "Facilities inside", "facilities of the category located inside "
                             "the community", "个", "count"),
    "within_threshold": Col("阈值内可达", "Reached within threshold", "True when any demand point of the "
                            "community is within the threshold, or a facility lies inside it", kind="bool"),
    "communities": Col("社区数", "Communities", "number of communities in the unit", "个", "count"),
    "communities_with_facility": Col("有设施社区数", "Communities with a facility", "communities with at least "
                                     "one facility of the category inside", "个", "count"),
    "communities_within_threshold": Col("阈值内可达社区数", "Communities reached", "communities with "
                                        "within_threshold True", "个", "count"),
    # indicators
    "unit_id": Col("单元编号", "Unit ID", "id of the unit: all (study area), township name or community id", kind=_T),
    "unit_name": Col("单元名称", "Unit name", "name of the unit", kind=_T),
    "indicator_id": Col("指标编号", "Indicator ID", "indicator id in the standards profile", kind=_T),
    "name_zh": Col("指标名称", "Indicator (Chinese)", "indicator name as in the plan", kind=_T),
    "name_en": Col("指标名称(英文)", "Indicator (English)", "indicator name in English", kind=_T),
    "measure": Col("口径", "Measure", "what value measures (covered_population_share 人口覆盖率, "
                   "share_of_communities 社区覆盖率, share_of_townships, per_100_households, ...)", kind=_T),
    "value": Col("现状值", "Value", "measured value, in the row's unit column", kind="num"),
    "target": Col("规划目标", "Target", "plan target, in the row's unit column", kind="num"),
    "comparison": Col("比较", "Comparison", "how value is compared with target (>=, <=)", kind=_T),
    "met": Col("是否达标", "Met", "True/False; blank when not measurable", kind="bool"),
    "gap": Col("差距", "Gap", "shortfall to the target, in gap_unit (0 when met)", kind="num"),
    "gap_unit": Col("差距单位", "Gap unit", "unit of gap (people, communities, m², ...)", kind=_T),
    "status": Col("状态", "Status", "measured, or 'not measurable: <missing field>' (machine code)", kind=_T),
    "status_zh": Col("测算状态", "Status (Chinese)", "已测算, or 无法测算：<missing field> (status in Chinese)",
                     kind=_T),
    "note": Col("说明", "Note", "the tool's reading of the plan, counts behind the value, lower bounds, caveats "
                "(English)", kind=_T),
    "note_zh": Col("说明", "Note (Chinese)", "the same note in Chinese", kind=_T),
    "clause": Col("规划条款", "Plan clause", "clause of the plan the indicator comes from (its text is quoted "
                  "in the profile)", kind=_T),
    "kind": Col("指标类型", "Indicator kind", "how the indicator is computed (see coverage/indicators.py)", kind=_T),
    "applies_to": Col("适用范围", "Applies to", "urban, rural or all communities/townships", kind=_T),
    # gaps
    "gap_id": Col("缺口编号", "Gap ID", "<category>-<rank>, matches the gaps layer of layers.gpkg", kind=_T),
    "rank": Col("排序", "Rank", "rank by uncovered population (1 = largest)", kind="count"),
    "points": Col("需求点数", "Demand points", "uncovered demand points in the gap", "个", "count"),
    "nearest_facility_m": Col("最近设施距离", "Nearest facility", "network walking distance from the gap to the "
                              "nearest facility of the category (blank = none within search_limit_m)", "m", "m"),
    "search_limit_m": Col("搜索上限", "Search limit", "how far the search for the nearest facility went (3 x the "
                          "threshold)", "m", "m"),
    "area_m2": Col("面积", "Area", "area", "m²", "m2"),
    # sites
    "candidate": Col("候选点编号", "Candidate", "index of the candidate site on the road network", kind="count"),
    "added_population": Col("新增覆盖人口", "Added population", "population newly covered by this site "
                            "(after the sites ranked before it)", "人", _P),
    "cumulative_rate": Col("累计覆盖率", "Cumulative coverage rate", "coverage rate of the category after adding "
                           "this site and the ones ranked before it", kind=_R),
    "rate_before": Col("现状覆盖率", "Coverage rate before", "coverage rate of the category before new sites",
                       kind=_R),
    "rate_after": Col("新增后覆盖率", "Coverage rate after", "coverage rate after all suggested sites", kind=_R),
    "nearest_road": Col("最近道路", "Nearest road", "name of the nearest named road", kind=_T),
    "floor_area_m2": Col("站点建筑面积", "Station floor area", "floor area assumed for a new station "
                         "(siting.site_area_m2)", "m²", "m2"),
    "households_in_catchment": Col("服务范围户数", "Households in catchment", "households living within the "
                                   "walking threshold of the site", "户", "households"),
    "households_assigned": Col("分配户数", "Households assigned", "households for which this is the nearest "
                               "suggested site (each household counted once)", "户", "households"),
    "supported_households": Col("可承载户数", "Supported households", "households the floor area supports at "
                                "siting.capacity_m2_per_100hh m² per 100 households", "户", "households"),
    "oversubscribed": Col("超负荷", "Oversubscribed", "households assigned exceed the households supported",
                          kind="bool"),
    "area_shortfall_m2": Col("面积缺口", "Floor area shortfall", "floor area missing to serve the households "
                             "assigned at the provision rule", "m²", "m2"),
    "lon": Col("经度", "Longitude", "WGS84 longitude of the site (convert to GCJ-02 before plotting on Amap)",
               "°", "coord"),
    "lat": Col("纬度", "Latitude", "WGS84 latitude of the site", "°", "coord"),
    # siting summary
    "method": Col("求解方法", "Method", "exact (MIP) or greedy", kind=_T),
    "sites": Col("选址数", "Sites", "number of suggested sites", "个", "count"),
    "covered_before": Col("现状覆盖人口", "Covered before", "population covered before new sites", "人", _P),
    "covered_after": Col("新增后覆盖人口", "Covered after", "population covered after the suggested sites", "人", _P),
    "candidates": Col("候选点数", "Candidates", "candidate sites considered", "个", "count"),
    "matrix_pairs": Col("可达对数", "Matrix pairs", "candidate-demand pairs within the threshold", "个", "count"),
    "bound": Col("上界", "Bound", "upper bound on coverable population (solver)", "人", _P),
    "feasible": Col("可行", "Feasible", "True when the solver found a feasible solution", kind="bool"),
    # excluded
    "layer": Col("数据层", "Layer", "input layer (communities, facilities, population, network)", kind=_T),
    "file": Col("文件", "File", "input file", kind=_T),
    "feature_id": Col("要素编号", "Feature ID", "id or row of the excluded feature", kind=_T),
    "reason": Col("剔除原因", "Reason", "why it was excluded", kind=_T),
    "detail": Col("详情", "Detail", "values involved and how to fix", kind=_T),
    # column dictionary sheet
    "table": Col("表", "Table", "sheet / CSV the column belongs to", kind=_T),
    "column": Col("字段名", "Column name", "machine column name", kind=_T),
    "header": Col("表头", "Header", "header shown in the workbook and the CSV of tables/", kind=_T),
    "zh": Col("中文", "Chinese", "Chinese name", kind=_T),
    "meaning": Col("含义", "Meaning", "English meaning", kind=_T),
    "unit_doc": Col("单位", "Unit", "unit of the column", kind=_T),
}

#: names whose meaning depends on the table: (table, name) -> Col
TABLE_COLUMNS: dict[tuple[str, str], Col] = {
    ("indicators", "unit"): Col("单位", "Unit", "unit of value and target (%, m²/100户, m²/人, ...)", kind=_T),
    ("indicators", "level"): Col("统计层级", "Level", "area, township or community", kind=_T),
    ("siting_summary", "gap"): Col("最优性差距", "Optimality gap", "relative gap between the solution and the bound "
                                   "(0 = proven optimal)", kind="num"),
    ("siting_summary", "status"): Col("求解状态", "Solver status", "optimal, limit reached, or why no site was "
                                      "needed", kind=_T),
    ("gaps", "communities"): Col("涉及社区", "Communities", "community ids the gap touches, ';'-separated", kind=_T),
    ("gaps", "population"): Col("缺口人口", "Population in gap", "uncovered population in the gap", "人", _P),
    ("gaps", "community_id"): Col("主要社区", "Main community", "community holding most of the gap's population",
                                  kind=_T),
    ("sites", "rank"): Col("排序", "Rank", "order in which the site is added (1 = adds most)", kind="count"),
    ("sites", "community_id"): Col("所在社区", "Community", "community the site lies in", kind=_T),
}

#: per-category columns of the community table: regex -> function(category, minutes) -> Col
PATTERN_COLUMNS = {
    r"rate_(?P<cat>[a-z_]+?)_(?P<t>[\d_]+)(?P<u>min|m)": lambda cat, t, u: Col(
        f"{CATEGORY_LABELS_ZH[cat]}{t.replace('_', '.')}{'分钟' if u == 'min' else '米'}覆盖率",
        f"{CATEGORY_LABELS_EN[cat]} {t.replace('_', '.')}{'-min' if u == 'min' else ' m'} coverage rate",
        f"coverage rate of {cat} at its plan threshold of {t.replace('_', '.')} {u} (weighed by the category's "
        "population group)", kind=_R),
    r"facilities_(?P<cat>[a-z_]+)": lambda cat, t=None: Col(
        f"{CATEGORY_LABELS_ZH[cat]}数", f"{CATEGORY_LABELS_EN[cat]} facilities inside",
        f"{cat} facilities located inside the community", "个", "count"),
}
PATTERN_DOC = {r"rate_(?P<cat>[a-z_]+?)_(?P<t>[\d_]+)(?P<u>min|m)": "rate_<category>_<minutes>min (or _<metres>m)",
               r"facilities_(?P<cat>[a-z_]+)": "facilities_<category>"}


def describe(table: str, name: str) -> Col:
    """The dictionary entry of column ``name`` in ``table``; KeyError when undocumented."""
    if (table, name) in TABLE_COLUMNS:
        return TABLE_COLUMNS[(table, name)]
    for pat, make in PATTERN_COLUMNS.items():
        m = re.fullmatch(pat, name)
        if m and m.group("cat") in CATEGORIES:
            return make(m.group("cat"), *([m.group("t"), m.group("u")] if "t" in m.groupdict() else []))
    if name in COLUMNS:
        return COLUMNS[name]
    raise KeyError(f"column {name!r} of table {table!r} has no entry in coverage.tables.COLUMNS: add one")


#: the workbook sheets and tables/ CSVs: key -> (sheet name, csv file)
TABLES = {
    "summary": ("汇总 Summary", "summary.csv"),
    "township": ("乡镇街道 By township", "by_township.csv"),
    "community": ("社区 By community", "by_community.csv"),
    "indicators": ("规划指标 Indicators", "indicators.csv"),
    "gaps": ("服务缺口 Gaps", "gaps.csv"),
    "sites": ("建议选址 Suggested sites", "suggested_sites.csv"),
    "excluded": ("剔除数据 Excluded inputs", "excluded.csv"),
    "dictionary": ("字段说明 Column dictionary", "column_dictionary.csv"),
}

#: the CSVs the lead's write_outputs puts in the output folder: file -> dictionary table key
LEAD_CSVS = {
    "coverage_by_community.csv": "coverage_by_community",
    "coverage_summary.csv": "coverage_summary",
    "excluded.csv": "excluded",
    "indicators.csv": "indicators",
    "gaps.csv": "gaps",
    "suggested_sites.csv": "sites",
    "siting_summary.csv": "siting_summary",
}

_SUMMARY_COLS = ["level", "unit", "category", "category_zh", "population_group", "threshold_min", "threshold_m",
                 "population", "covered_pop", "uncovered_pop", "coverage_rate", "communities",
                 "communities_with_facility", "communities_within_threshold"]
_TOWNSHIP_COLS = ["township"] + _SUMMARY_COLS[2:]
_GAP_COLS = ["gap_id", "category", "category_zh", "threshold_min", "rank", "population", "points", "area_m2",
             "nearest_facility_m", "search_limit_m", "community_id", "township", "communities"]
_SITE_COLS = ["category", "category_zh", "rank", "threshold_min", "added_population", "rate_before",
              "cumulative_rate", "community_id", "township", "nearest_road", "floor_area_m2",
              "households_in_catchment", "households_assigned", "supported_households", "oversubscribed",
              "area_shortfall_m2", "lon", "lat", "candidate"]
_EXCLUDED_COLS = ["layer", "file", "feature_id", "reason", "detail"]
_UNIT_LABELS = {"study area": "全域 study area", "urban": "城镇 urban", "rural": "农村 rural"}


# ----------------------------------------------------------------------------------------- tables
def _cat_order(res) -> dict:
    cats = list(res.categories) + [c for c in CATEGORIES if c not in res.categories]
    return {c: i for i, c in enumerate(cats)}


def _at_plan_threshold(df, res):
    t = df["category"].map(lambda c: round(res.thresholds[c].metres, 1) if c in res.thresholds else np.nan)
    return df[np.isclose(df["threshold_m"].to_numpy(dtype=float), t.to_numpy(dtype=float))]


def _sort(df, keys, res):
    order = _cat_order(res)
    return df.sort_values(keys, key=lambda s: s.map(order) if s.name == "category" else s,
                          kind="stable").reset_index(drop=True)


def _with_zh(df):
    df = df.copy()
    if "category" in df.columns and "category_zh" not in df.columns:
        df["category_zh"] = df["category"].map(CATEGORY_LABELS_ZH)
    return df


def report_lang(res) -> str:
    """The report language of a run (output.lang), zh when unknown."""
    out = getattr(getattr(res, "config", None), "output", None)
    return getattr(out, "lang", "zh") if getattr(out, "lang", None) in ("zh", "en") else "zh"


def table_lang(key: str, res) -> str:
    """Language of a table's headers and text: the indicator table is in the report language only
    (what a planner pastes), the other tables are bilingual."""
    return report_lang(res) if key == "indicators" else "both"


def table_header(key: str, name: str, res) -> str:
    """The header of column ``name`` of table ``key`` as the workbook, tables/ and tables.md write it."""
    return describe(key, name).header_for(table_lang(key, res))


def _indicator_table(res) -> pd.DataFrame:
    from .markdown import indicator_table
    return indicator_table(res.indicators, report_lang(res))


def build_tables(res) -> dict[str, pd.DataFrame]:
    """The report tables (machine column names; ``describe`` gives the headers)."""
    s = res.coverage_summary
    lvl = {"area": 0, "urban_rural": 1, "township": 2}
    summary = _at_plan_threshold(s[s.level.isin(["area", "urban_rural"])], res).copy()
    summary["_l"] = summary["level"].map(lvl)
    summary["_u"] = summary["unit"].map({"study area": 0, "urban": 1, "rural": 2}).fillna(3)
    summary = _sort(summary, ["category", "_l", "_u", "unit"], res)
    summary["unit"] = summary["unit"].map(lambda u: _UNIT_LABELS.get(u, u))
    summary = summary[_SUMMARY_COLS]

    town = _at_plan_threshold(s[s.level == "township"], res).rename(columns={"unit": "township"})
    town = _sort(town, ["township", "category"], res)[_TOWNSHIP_COLS]

    cbc = _at_plan_threshold(res.coverage_by_community, res)
    comm = pd.DataFrame(res.communities[["community_id", "name", "township", "type", "households"]])
    comm = comm.sort_values("community_id", kind="stable").reset_index(drop=True)
    pop = pd.DataFrame(res.demand[["community_id", "population"]]).groupby("community_id")["population"].sum()
    comm["population"] = pop.reindex(comm["community_id"]).fillna(0.0).to_numpy()
    cats = [c for c in res.categories]
    rate = cbc.pivot_table(index="community_id", columns="category", values="coverage_rate", dropna=False)
    inside = cbc.pivot_table(index="community_id", columns="category", values="facilities_inside", dropna=False)
    for c in cats:
        comm[f"rate_{c}_{res.thresholds[c].key}"] = (rate[c].reindex(comm["community_id"]).to_numpy(dtype=float)
                                    if c in rate.columns else np.nan)
    for c in cats:
        v = inside[c].reindex(comm["community_id"]) if c in inside.columns else pd.Series(0, index=comm.index)
        comm[f"facilities_{c}"] = v.fillna(0).to_numpy().astype(int)

    ind = _indicator_table(res)

    if res.gaps is not None and len(res.gaps):
        gaps = _with_zh(pd.DataFrame(res.gaps.drop(columns="geometry")))
        gaps["nearest_facility_m"] = gaps["nearest_facility_m"].replace([np.inf, -np.inf], np.nan)
        gaps = _sort(gaps, ["category", "rank"], res)[_GAP_COLS]
    else:
        gaps = pd.DataFrame(columns=_GAP_COLS)

    if res.sites is not None and len(res.sites):
        g = res.sites.to_crs(4326) if res.sites.crs is not None else res.sites
        sites = _with_zh(pd.DataFrame(res.sites.drop(columns="geometry")))
        sites["lon"] = np.round(g.geometry.x.to_numpy(), 6)
        sites["lat"] = np.round(g.geometry.y.to_numpy(), 6)
        sites = _sort(sites, ["category", "rank"], res).reindex(columns=_SITE_COLS)
    else:
        sites = pd.DataFrame(columns=_SITE_COLS)

    exc = pd.DataFrame(res.excluded).reindex(columns=_EXCLUDED_COLS).reset_index(drop=True)
    exc = exc.astype(object).where(exc.notna(), None)
    for c in ("feature_id", "detail"):
        exc[c] = exc[c].map(lambda v: None if v is None else str(v))

    out = {"summary": summary, "township": town, "community": comm, "indicators": ind,
           "gaps": gaps, "sites": sites, "excluded": exc}
    rows = []
    for key, df in out.items():
        for name in df.columns:
            col = describe(key, name)
            rows.append({"table": TABLES[key][0], "column": name, "header": table_header(key, name, res),
                         "zh": col.zh,
                         "meaning": col.meaning, "unit_doc": col.unit_doc})
    out["dictionary"] = pd.DataFrame(rows)
    return out


def _headed(key, df, lang="both") -> pd.DataFrame:
    """Rounded copy with the table's headers (inf -> blank)."""
    df = df.copy()
    for c in df.columns:
        if pd.api.types.is_float_dtype(df[c]):
            df[c] = df[c].replace([np.inf, -np.inf], np.nan).round(10 if describe(key, c).kind == "rate" else 6)
    df.columns = [describe(key, c).header_for(lang) for c in df.columns]
    return df


# ------------------------------------------------------------------------------------------ excel
def _display_width(v) -> int:
    s = "" if v is None else str(v)
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in s)


def _write_xlsx(tables, path: Path, langs=None):
    langs = langs or {}
    from openpyxl.styles import Alignment, Font
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for key, df in tables.items():
            sheet = TABLES[key][0]
            assert len(sheet) <= 31, sheet
            lang = langs.get(key, "both")
            _headed(key, df, lang).to_excel(xw, sheet_name=sheet, index=False)
            ws = xw.sheets[sheet]
            ws.freeze_panes = "A2"
            if len(df):
                ws.auto_filter.ref = ws.dimensions
            for j, name in enumerate(df.columns, start=1):
                col = describe(key, name)
                letter = ws.cell(row=1, column=j).column_letter
                head = ws.cell(row=1, column=j)
                head.font = Font(bold=True)
                head.alignment = Alignment(wrap_text=True, vertical="top")
                fmt = NUMBER_FORMATS.get(col.kind)
                cells = ws[letter][1:]
                if fmt:
                    for c in cells:
                        c.number_format = fmt
                vals = df[name].tolist()
                if col.kind == "rate":
                    widest = 7
                elif col.kind in ("people", "households", "m2", "m", "num"):
                    finite = [abs(v) for v in vals if isinstance(v, (int, float)) and np.isfinite(v)]
                    widest = len(f"{max(finite, default=0):,.1f}") + 1
                else:
                    widest = max((_display_width(v) for v in vals), default=0)
                head_w = max(_display_width(w) for w in col.header_for(lang).split(" ", 1)) + 2
                ws.column_dimensions[letter].width = float(min(max(widest + 2, head_w, 8), 60))
        props = xw.book.properties
        props.created = FIXED_DATE
        props.modified = FIXED_DATE
        props.creator = "coverage"
        props.lastModifiedBy = "coverage"
    _fix_zip(buf.getvalue(), path)


def _fix_zip(data: bytes, path: Path):
    """Rewrite the xlsx with the fixed modified date (openpyxl stamps the save time) and fixed zip
    entry dates, so the same tables give byte-identical workbooks."""
    stamp = FIXED_DATE.strftime("%Y-%m-%dT%H:%M:%SZ")
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>" + stamp.encode() + rb"\g<2>", body)
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = info.external_attr
            dst.writestr(zi, body)
    Path(path).write_bytes(out.getvalue())


# ------------------------------------------------------------------------------------ csv and md
def _write_csv(key, df, path: Path, lang="both"):
    _headed(key, df, lang).to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n", float_format="%.10g")


def _md_cell(v, kind, lang="both") -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)) or (v is pd.NA):
        return "—"
    if kind == "bool" and isinstance(v, str):
        return v
    if kind == "bool":
        return {"zh": ("是", "否"), "en": ("yes", "no")}.get(lang, ("是 yes", "否 no"))[0 if bool(v) else 1]
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, float, np.integer, np.floating)):
        if kind == "rate":
            return f"{v * 100:.1f}%"
        if kind in ("people", "households", "m"):
            return f"{v:,.0f}"
        if kind == "m2":
            return f"{v:,.1f}"
        if kind in ("count", "min"):
            return f"{v:g}"
        if kind == "coord":
            return f"{v:.6f}"
        s = f"{v:,.2f}"
        return s.rstrip("0").rstrip(".") if "." in s else s
    return str(v).replace("|", "\\|").replace("\n", " ")


def _md_table(key, df, lang="both") -> str:
    cols = [describe(key, c) for c in df.columns]
    lines = ["| " + " | ".join(c.header_for(lang) for c in cols) + " |",
             "| " + " | ".join("---:" if c.kind not in ("text", "bool") else "---" for c in cols) + " |"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(_md_cell(v, c.kind, lang) for v, c in zip(row, cols)) + " |")
    if not len(df):
        lines.append("| " + " | ".join("" for _ in cols) + " |")
    return "\n".join(lines)


def _tables_md(res, tables) -> str:
    parts = [f"# {res.title} — 规划报告表格 Plan-report tables", "",
             "覆盖率为规划步行时间阈值下的人口覆盖率。Coverage rates are population shares at each category's plan "
             "walking threshold. 字段说明见 columns.md (column dictionary).", ""]
    for key, df in tables.items():
        if key == "dictionary":
            continue
        parts += [f"## {TABLES[key][0]}", "", _md_table(key, df, table_lang(key, res)), ""]
    return "\n".join(parts)


def lead_csv_columns(res) -> dict[str, list]:
    """Columns of the CSVs the lead's write_outputs writes, as it writes them from ``res``."""
    out = {"coverage_by_community.csv": list(res.coverage_by_community.columns),
           "coverage_summary.csv": list(res.coverage_summary.columns),
           "excluded.csv": list(res.excluded.columns)}
    if res.indicators is not None:
        out["indicators.csv"] = list(res.indicators.columns)
    if res.gaps is not None:
        out["gaps.csv"] = [c for c in res.gaps.columns if c != "geometry"]
    if res.sites is not None:
        out["suggested_sites.csv"] = [c for c in res.sites.columns if c != "geometry"]
        if res.siting_summary is not None:
            out["siting_summary.csv"] = list(res.siting_summary.columns)
    return out


def _columns_md(res, tables) -> str:
    def esc(s):
        return str(s).replace("|", "\\|")
    lines = ["# 字段说明 Column dictionary", "",
             "Every column of every CSV this tool writes. Rates are fractions 0–1 in CSV files; the workbook "
             "shows them as %. Blank = not available (e.g. no population, or nothing reachable).", ""]
    for fname, cols in lead_csv_columns(res).items():
        key = LEAD_CSVS[fname]
        lines += [f"## {fname}", "", "| 字段 Column | 中文 | English meaning | 单位 Unit |", "| --- | --- | --- | --- |"]
        for name in cols:
            c = describe(key, name)
            lines.append(f"| {esc(name)} | {esc(c.zh)} | {esc(c.en)}: {esc(c.meaning)} | {esc(c.unit_doc)} |")
        lines.append("")
    for key, df in tables.items():
        sheet, fname = TABLES[key]
        lines += [f"## tables/{fname} ({sheet})", "",
                  "| 表头 Header | 字段 Column | English meaning | 单位 Unit |", "| --- | --- | --- | --- |"]
        for name in df.columns:
            c = describe(key, name)
            lines.append(f"| {esc(table_header(key, name, res))} | {esc(name)} | {esc(c.meaning)} | "
                         f"{esc(c.unit_doc)} |")
        lines.append("")
    return "\n".join(lines)


def write_tables(res, out_dir) -> dict[str, Path]:
    """Write tables.xlsx, tables/*.csv, tables.md and columns.md into ``out_dir``; return their paths."""
    out = Path(out_dir)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    tables = build_tables(res)
    files = {"xlsx": out / "tables.xlsx", "md": out / "tables.md", "columns": out / "columns.md"}
    langs = {key: table_lang(key, res) for key in tables}
    _write_xlsx(tables, files["xlsx"], langs)
    for key, df in tables.items():
        files[f"csv_{key}"] = out / "tables" / TABLES[key][1]
        _write_csv(key, df, files[f"csv_{key}"], langs[key])
    files["md"].write_text(_tables_md(res, tables), encoding="utf-8")
    files["columns"].write_text(_columns_md(res, tables), encoding="utf-8")
    return files
