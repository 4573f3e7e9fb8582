"""The column dictionary: Chinese and English header, meaning, unit and number format of every column
of every table the tool writes (``COLUMNS``; ``TABLE_COLUMNS`` for names whose meaning depends on
the table; ``PATTERN_COLUMNS`` for the per-category columns). The single source of table headers
and of ``columns.md``, so the two cannot disagree."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..labels import CATEGORIES, CATEGORY_LABELS_EN, CATEGORY_LABELS_ZH


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
    # slope effect (network.dem)
    "covered_pop_flat": Col("平地覆盖人口", "Covered population (flat)", "population within the plan threshold "
                            "walking on flat ground (the network distance, slope ignored)", "人", _P),
    "covered_pop_sloped": Col("坡度修正覆盖人口", "Covered population (slope)", "population within the plan "
                              "threshold walking on the slope (Tobler's hiking function on network.dem, in the "
                              "direction of analysis.slope)", "人", _P),
    "coverage_rate_flat": Col("平地覆盖率", "Coverage rate (flat)", "covered_pop_flat / population", kind=_R),
    "coverage_rate_sloped": Col("坡度修正覆盖率", "Coverage rate (slope)", "covered_pop_sloped / population", kind=_R),
    "change_pp": Col("坡度影响", "Change by slope", "coverage_rate_sloped - coverage_rate_flat in percentage points "
                     "(negative: the hills leave residents beyond the threshold)", "百分点", "num"),
    # travel circles (analysis.travel_circles)
    "circle": Col("服务圈编号", "Circle", "<category>_<mode>_<threshold>[_urban|_rural]: the circle's id", kind=_T),
    "circle_name": Col("服务圈", "Circle name", "the circle's name (analysis.travel_circles[].name) or its label, "
                       "e.g. 电动自行车30分钟", kind=_T),
    "distance_m": Col("路网距离阈值", "Network distance", "the circle's distance along the roads (blank for a circle "
                      "given as a travel time); measured on the flat walking network whatever the mode", "m", "m"),
    "coverage_rate_walk": Col("步行同阈值覆盖率", "Coverage rate on foot", "coverage rate walking the same time "
                              "(or distance), for comparison with the circle's mode", kind=_R),
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
    "mode": Col("出行方式", "Travel mode", "travel mode the figure is measured by: walk (步行; with network.dem "
                "on the slope) or another mode of analysis.modes (ebike 电动自行车, cycle, motorbike, car)", kind=_T),
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
    # slope effect (network.dem) and travel circles (analysis.travel_circles): coverage/analysis/modes.py
    ("slope_effect", "level"): Col("统计层级", "Level", "area (whole study area), urban_rural, township or community",
                                   kind=_T),
    ("slope_effect", "unit"): Col("统计单元", "Unit", "the unit of the row: study area, urban/rural, the township "
                                  "name or the community id", kind=_T),
    ("slope_effect", "threshold_min"): Col("步行时间阈值", "Walking threshold", "the category's plan threshold in "
                                           "minutes of walking (for a threshold in metres: its equivalent at the "
                                           "walking speed)", "min", "min"),
    ("slope_effect", "threshold_m"): Col("平地步行距离阈值", "Flat walking distance threshold", "the plan threshold "
                                         "as a distance walked on flat ground (threshold_min x walking speed); on the "
                                         "slope the same walking time covers less or more ground", "m", "m"),
    ("slope_effect", "population"): Col("人口", "Population", "resident population of the unit (weighed by the "
                                        "category's population group)", "人", _P),
    ("travel_circles", "level"): Col("统计层级", "Level", "area (the communities the circle applies to), "
                                     "urban_rural, township or community", kind=_T),
    ("travel_circles", "unit"): Col("统计单元", "Unit", "the unit of the row: study area (the communities the "
                                    "circle applies to), urban/rural, the township name or the community id",
                                    kind=_T),
    ("travel_circles", "threshold_min"): Col("出行时间阈值", "Travel time", "the circle's travel time by its mode "
                                             "(blank for a circle given as a distance)", "min", "min"),
    ("travel_circles", "applies_to"): Col("适用范围", "Applies to", "the communities the circle measures: all, "
                                          "urban or rural", kind=_T),
    ("travel_circles", "population"): Col("人口", "Population", "resident population of the unit's communities that "
                                          "the circle applies to", "人", _P),
    ("travel_circles", "covered_pop"): Col("覆盖人口", "Covered population", "population within the circle (by its "
                                           "mode) of a facility of the category", "人", _P),
    ("travel_circles", "coverage_rate"): Col("覆盖率", "Coverage rate", "covered population / population, by the "
                                             "circle's mode (blank when population is 0)", kind=_R),
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
    "slope_effect": ("坡度影响 Slope effect", "slope_effect.csv"),
    "travel_circles": ("出行服务圈 Travel circles", "travel_circles.csv"),
    "excluded": ("剔除数据 Excluded inputs", "excluded.csv"),
    "dictionary": ("字段说明 Column dictionary", "column_dictionary.csv"),
}


def _headed(key, df, lang="both") -> pd.DataFrame:
    """Rounded copy with the table's headers (inf -> blank)."""
    df = df.copy()
    for c in df.columns:
        if pd.api.types.is_float_dtype(df[c]):
            df[c] = df[c].replace([np.inf, -np.inf], np.nan).round(10 if describe(key, c).kind == "rate" else 6)
    df.columns = [describe(key, c).header_for(lang) for c in df.columns]
    return df
