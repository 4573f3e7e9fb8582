"""Markdown tables for plan reports (the indicator table printed by the demo and written to
indicators.md), and the planner wording of indicator cells that the HTML report and the
workbook share.

Wording (``lang="zh"``): targets as a planner writes them (不低于30平方米/百户, 全覆盖 for a
100 % coverage target, 至少1处), what the value measures (人口覆盖率, 社区覆盖率, 街道（乡镇）
覆盖率 ...), 已达标 where the target is met, gaps in planner units (2个社区, 1个街道（乡镇）,
1,250平方米), 研究范围 for the whole area, and one number format: at most one decimal (two for
m²/person), trailing zeros dropped, so 100% and 66.7% stand side by side, never 100.0%.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..analysis.indicators import AREA_ID, GAP_UNIT_ZH, LEVELS, MEASURED, NO_TOWNSHIP, UNIT_ZH

_UNIT_EN = {"%": "%", "m2/100hh": " m²/100 households", "m2/person": " m²/person", "count": "",
            "m2": " m²"}
_HEAD = {
    "indicator": ("指标", "Indicator"), "measure": ("口径", "Measure"), "unit": ("单元", "Unit"),
    "value": ("现状值", "Value"), "target": ("规划目标", "Target"), "met": ("达标", "Met"),
    "gap": ("差距", "Gap"), "note": ("说明", "Note"), "clause": ("规划条款", "Plan clause"),
}
#: (kind or "*", measure) -> (Chinese, English): what a value measures
MEASURES = {
    ("*", "covered_population_share"): ("人口覆盖率", "population covered"),
    ("community_within_circle", "share_of_communities"): ("社区覆盖率（步行可达）", "communities reached"),
    ("*", "share_of_communities"): ("社区覆盖率", "share of communities"),
    ("*", "share_of_townships"): ("街道（乡镇）覆盖率", "share of townships"),
    ("*", "facility_count"): ("设施数", "facilities"),
    ("area_per_100_households_2sfca", "per_100_households"): ("每百户面积（步行可达分摊）",
                                                              "per 100 households (2SFCA)"),
    ("*", "per_100_households"): ("每百户面积", "per 100 households"),
    ("*", "share_met"): ("达标社区占比", "share of communities meeting it"),
    ("*", "share_of_facilities"): ("设施面积达标率", "share of facilities meeting it"),
    ("*", "per_capita"): ("人均面积", "per person"),
}
LEVEL_ZH = {"area": "研究范围", "township": "街道（乡镇）", "community": "社区"}
_DIGITS = {"m2/person": 2}


def fmt_num(x, unit: str = "") -> str:
    """One number format: thousands separator, at most one decimal (two for m²/person), no
    trailing zeros; — when missing."""
    if x is None or (isinstance(x, float) and math.isnan(x)) or pd.isna(x):
        return "—"
    d = 0 if unit == "count" else _DIGITS.get(unit, 1)
    s = f"{float(x):,.{d}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


def unit_label(unit: str, lang: str) -> str:
    return UNIT_ZH.get(unit, unit) if lang == "zh" else _UNIT_EN.get(unit, f" {unit}")


def measure_label(kind: str, measure: str, lang: str) -> str:
    zh, en = MEASURES.get((kind, measure)) or MEASURES.get(("*", measure), (measure, measure))
    return zh if lang == "zh" else en


def value_text(value, unit: str, lang: str) -> str:
    if value is None or pd.isna(value):
        return "—"
    return fmt_num(value, unit) + unit_label(unit, lang)


def target_text(target, comparison: str, unit: str, lang: str, measure: str = "") -> str:
    if unit == "%" and comparison == ">=" and float(target) == 100:
        if measure in ("share_met", "share_of_facilities"):
            return "全部达标" if lang == "zh" else "100% (all meet it)"
        return "全覆盖" if lang == "zh" else "100% (full coverage)"
    num = fmt_num(target, unit) + unit_label(unit, lang)
    if lang == "zh":
        if unit == "count":
            return ("至少" if comparison == ">=" else "不多于" if comparison == "<=" else "") + num
        return {">=": "不低于", "<=": "不高于", "==": "等于"}[comparison] + num
    return {">=": "≥ ", "<=": "≤ ", "==": "= "}[comparison] + num


def met_mark(met) -> str:
    if met is None or (isinstance(met, float) and math.isnan(met)):
        return "—"
    return "✓" if bool(met) else "✗"


def gap_unit_label(gap_unit: str, applies_to: str, lang: str) -> str:
    if lang != "zh":
        return str(gap_unit)
    if gap_unit == "townships" and applies_to == "rural":
        return "个乡镇"
    return GAP_UNIT_ZH.get(gap_unit, str(gap_unit))


def gap_text(gap, met, gap_unit: str, applies_to: str, lang: str) -> str:
    if gap is None or pd.isna(gap):
        return "—"
    if met is not None and not isinstance(met, float) and bool(met):
        return "已达标" if lang == "zh" else "met"
    num = fmt_num(gap, "m2" if gap_unit == "m2" else "count")
    lab = gap_unit_label(gap_unit, applies_to, lang)
    return f"{num}{lab}" if lang == "zh" else f"{num} {lab}"


def note_text(r, lang: str) -> str:
    """The note, led by the status when the row is not measurable."""
    g = r.get if isinstance(r, dict) else (lambda k, d=None: getattr(r, k, d))
    zh = lang == "zh"
    note = g("note_zh") if zh else g("note")
    note = "" if note is None or (isinstance(note, float) and math.isnan(note)) else str(note)
    if g("status") == MEASURED:
        return note
    st = g("status_zh") if zh else g("status")
    st = str(st if st is not None and not (isinstance(st, float) and math.isnan(st)) else g("status"))
    return st + (("；" if zh else "; ") + note if note else "")


def unit_name(r, lang: str) -> str:
    g = r.get if isinstance(r, dict) else (lambda k, d=None: getattr(r, k, d))
    if g("unit_id") == AREA_ID and g("level") == "area":
        return "研究范围" if lang == "zh" else "study area"
    if g("unit_id") == NO_TOWNSHIP and lang == "zh":
        return "（未注明街道、乡镇）"
    return str(g("unit_name"))


#: the indicator table of the workbook, tables/ and tables.md, in the report language only
INDICATOR_COLS_LANG = {
    "zh": ["level", "unit_id", "unit_name", "indicator_id", "name_zh", "measure", "value", "unit", "target",
           "comparison", "met", "gap", "gap_unit", "status_zh", "note_zh", "clause", "applies_to"],
    "en": ["level", "unit_id", "unit_name", "indicator_id", "name_en", "measure", "value", "unit", "target",
           "comparison", "met", "gap", "gap_unit", "status", "note", "clause", "kind", "applies_to"],
}
_APPLIES_ZH = {"urban": "城市社区", "rural": "农村社区", "all": "全部社区", "township": "全部街道（乡镇）"}
_APPLIES_TOWNSHIP_ZH = {"urban": "街道", "rural": "乡镇", "all": "全部街道（乡镇）", "township": "全部街道（乡镇）"}
_COMPARISON_ZH = {">=": "不低于", "<=": "不高于", "==": "等于"}


def indicator_table(indicators: pd.DataFrame | None, lang: str) -> pd.DataFrame:
    """The indicator rows in one language (the workbook's and tables/ indicator table): planner
    wording for level, unit name, measure, unit, comparison, met, gap unit and applies_to; value,
    target and gap stay numbers. Machine columns: the frame of ``evaluate`` (indicators.csv)."""
    cols = INDICATOR_COLS_LANG[lang]
    if indicators is None:
        return pd.DataFrame(columns=cols)
    ind = indicators.reset_index(drop=True)
    for c in ("status_zh", "note_zh", "clause"):      # a frame from an older evaluate
        if c not in ind.columns:
            ind[c] = ind["status"] if c == "status_zh" else ind["note"] if c == "note_zh" else None
    out = ind.copy()
    # only the columns the labels read (all 22 made 50k Python values on a county)
    recs = ind[["level", "unit_id", "unit_name", "kind", "measure", "gap_unit", "applies_to"]].to_dict("records")
    out["unit_name"] = [unit_name(r, lang) for r in recs]
    out["unit_id"] = [None if r["level"] == "area" else r["unit_id"] for r in recs]   # "all" is no name
    out["measure"] = [measure_label(r["kind"], r["measure"], lang) for r in recs]
    out["gap_unit"] = [gap_unit_label(r["gap_unit"], r["applies_to"], lang) for r in recs]
    if lang == "zh":
        out["level"] = ind["level"].map(LEVEL_ZH).fillna(ind["level"])
        out["unit"] = ind["unit"].map(UNIT_ZH).fillna(ind["unit"])
        out["comparison"] = ind["comparison"].map(_COMPARISON_ZH).fillna(ind["comparison"])
        out["met"] = [None if m is None or (isinstance(m, float) and np.isnan(m)) else ("是" if m else "否")
                      for m in ind["met"]]
        township = ind["kind"].astype(str).str.startswith("township_")
        out["applies_to"] = np.where(township, ind["applies_to"].map(_APPLIES_TOWNSHIP_ZH),
                                     ind["applies_to"].map(_APPLIES_ZH))
    return out[cols]


def _esc(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def _cells(r, level: str, lang: str) -> dict:
    langs = ("zh", "en") if lang == "both" else (lang,)

    def each(fn, sep=" / "):
        return sep.join(dict.fromkeys(fn(x) for x in langs))

    name = (r.name_zh if lang == "zh" else r.name_en if lang == "en" else f"{r.name_zh}<br>{r.name_en}")
    return {
        "indicator": name,
        "measure": each(lambda x: measure_label(r.kind, r.measure, x)),
        "unit": each(lambda x: unit_name(r, x)),
        "value": each(lambda x: value_text(r.value, r.unit, x)),
        "target": each(lambda x: target_text(r.target, r.comparison, r.unit, x, r.measure)),
        "met": met_mark(r.met),
        "gap": each(lambda x: gap_text(r.gap, r.met, r.gap_unit, r.applies_to, x)),
        "note": each(lambda x: note_text(r, x), "<br>"),
        "clause": "" if pd.isna(getattr(r, "clause", None)) else str(r.clause),
    }


def to_markdown(indicators_df: pd.DataFrame, level: str = "area", lang: str = "both") -> str:
    """Markdown table of the rows at ``level`` ('area', 'township', 'community' or 'all').

    lang: 'zh' (Chinese only: what ``output.lang: zh`` writes), 'en', or 'both' (each cell in
    both languages). Met is ✓ / ✗ / — (not measurable)."""
    if lang not in ("zh", "en", "both"):
        raise ValueError("lang must be 'zh', 'en' or 'both'")
    if level not in LEVELS + ("all",):
        raise ValueError(f"level must be one of {LEVELS + ('all',)}")
    df = indicators_df if level == "all" else indicators_df[indicators_df["level"] == level]

    def lab(key):
        zh, en = _HEAD[key]
        return zh if lang == "zh" else en if lang == "en" else f"{zh} {en}"

    cols = (["indicator"] + ([] if level == "area" else ["unit"])
            + ["measure", "value", "target", "met", "gap", "note", "clause"])
    left = ("indicator", "unit", "measure", "note", "clause")
    lines = ["| " + " | ".join(lab(c) for c in cols) + " |",
             "|" + "|".join("---" if c in left else "---:" for c in cols) + "|"]
    for r in df.itertuples(index=False):
        cells = _cells(r, level, lang)
        lines.append("| " + " | ".join(_esc(cells[c]) for c in cols) + " |")
    return "\n".join(lines) + "\n"
