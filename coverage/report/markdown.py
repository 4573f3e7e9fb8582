"""Markdown tables for plan reports (the indicator table printed by the demo and written to
indicators.md)."""

from __future__ import annotations

import math

import pandas as pd

from ..analysis.indicators import LEVELS, MEASURED

_UNIT_LABEL = {"%": "%", "m2/100hh": " m²/百户", "m2/person": " m²/人", "count": "", "m2": " m²"}
_UNIT_LABEL_EN = {"%": "%", "m2/100hh": " m²/100 hh", "m2/person": " m²/person", "count": "", "m2": " m²"}
_GAP_ZH = {"communities": "个社区", "townships": "个乡镇", "streets": "个街道", "people": "人",
           "m2": "m²", "facilities": "处设施"}
_HEAD = {
    "indicator": ("指标", "Indicator"), "unit": ("单元", "Unit"), "value": ("现状值", "Value"),
    "target": ("目标值", "Target"), "met": ("达标", "Met"), "gap": ("差距", "Gap"),
    "note": ("说明", "Note"),
}


def _fmt_num(x: float, unit: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if unit in ("count",) or float(x).is_integer():
        return f"{x:,.0f}"
    return f"{x:,.2f}" if unit == "m2/person" else f"{x:,.1f}"


def _esc(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def to_markdown(indicators_df: pd.DataFrame, level: str = "area", lang: str = "both") -> str:
    """Markdown table of the rows at ``level`` ('area', 'township', 'community' or 'all').

    lang: 'zh', 'en' or 'both' (labels 中文 / English). Met is ✓ / ✗ / — (not measurable).
    """
    if lang not in ("zh", "en", "both"):
        raise ValueError("lang must be 'zh', 'en' or 'both'")
    if level not in LEVELS + ("all",):
        raise ValueError(f"level must be one of {LEVELS + ('all',)}")
    df = indicators_df if level == "all" else indicators_df[indicators_df["level"] == level]

    def lab(key):
        zh, en = _HEAD[key]
        return zh if lang == "zh" else en if lang == "en" else f"{zh} {en}"

    cols = ["indicator"] + ([] if level == "area" else ["unit"]) + ["value", "target", "met", "gap", "note"]
    lines = ["| " + " | ".join(lab(c) for c in cols) + " |",
             "|" + "|".join("---" if c in ("indicator", "unit", "note") else "---:" for c in cols) + "|"]
    for r in df.itertuples(index=False):
        u = r.unit
        ul = _UNIT_LABEL_EN.get(u, u) if lang == "en" else _UNIT_LABEL.get(u, u)
        name = (r.name_zh if lang == "zh" else r.name_en if lang == "en"
                else f"{r.name_zh}<br>{r.name_en}")
        value = "—" if pd.isna(r.value) else _fmt_num(r.value, u) + ul
        target = f"{r.comparison} {_fmt_num(r.target, u)}{ul}".replace(">=", "≥").replace("<=", "≤")
        met = "—" if r.met is None or (isinstance(r.met, float) and math.isnan(r.met)) else (
            "✓" if bool(r.met) else "✗")
        if pd.isna(r.gap):
            gap = "—"
        elif r.gap == 0:
            gap = "0"
        else:
            gz = _GAP_ZH.get(r.gap_unit, r.gap_unit)
            gnum = _fmt_num(r.gap, "m2" if r.gap_unit == "m2" else "count")
            gap = (f"{gnum} {gz}" if lang == "zh" else f"{gnum} {r.gap_unit}" if lang == "en"
                   else f"{gnum} {gz} ({r.gap_unit})")
        note = r.note if r.status == MEASURED else f"{r.status}" + (f"; {r.note}" if r.note else "")
        cells = [name] + ([] if level == "area" else [f"{r.unit_name}"]) + [value, target, met, gap, note]
        lines.append("| " + " | ".join(_esc(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"
