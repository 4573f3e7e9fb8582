"""Words, colours and formats of the map (Chinese and English), and the one JSON encoder every
piece of page data goes through (safe inside a ``<script>``)."""

from __future__ import annotations

import html
import json
import math

import numpy as np
import pandas as pd

from ...errors import InputError
from ...labels import CATEGORY_COLOURS, CATEGORY_LABELS_EN, CATEGORY_LABELS_ZH, COVERAGE_CLASS_COLOURS, \
    NO_DATA_COLOUR, classify_rate

EXTRA_COLOURS = ("#666666", "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#e6ab02")
UNCOVERED_COLOUR = "#67001f"

TEXT = {
    "zh": {
        "coverage": "覆盖率", "facilities": "设施", "uncovered": "未覆盖人口",
        "circle": "服务圈", "gaps": "覆盖缺口", "sites": "建议选址",
        "name": "名称", "township": "街道/乡镇", "type": "类型",
        "population": "人口", "category": "类别", "area": "建筑面积",
        "urban": "城市社区", "rural": "农村社区",
        "no_pop": "无人口", "no_data": "无数据", "unreachable": "不可达",
        "distance": "最近设施步行距离", "rank": "序号", "added": "新增覆盖人口",
        "legend_cov": "社区覆盖率（步行{thr}，按人口）",
        "legend_fac": "设施", "legend_unc": "未覆盖人口点（大小示人口）",
        "legend_unc_grid": "未覆盖人口（每格约 {cell} 米，颜色越深人口越多）",
        "legend_grey": "无人口 / 无数据", "legend_cluster": "设施较多时聚合显示（数字为设施数）",
        "shown": "显示 {n} / 共 {m} 点（人口最多者）",
        "basemap": "底图", "gap_id": "缺口编号", "walk_m": "约 {v} 米", "walk_min": "约 {v} 分钟",
        "default_title": "社区生活圈设施覆盖", "grid": "每格 {cell} 米",
    },
    "en": {
        "coverage": "Coverage", "facilities": "Facilities", "uncovered": "Uncovered population",
        "circle": "service circle", "gaps": "Coverage gaps", "sites": "Proposed sites",
        "name": "Name", "township": "Township", "type": "Type",
        "population": "Population", "category": "Category", "area": "Floor area",
        "urban": "urban community", "rural": "rural community",
        "no_pop": "no population", "no_data": "no data", "unreachable": "unreachable",
        "distance": "Walk to nearest facility", "rank": "Rank", "added": "Added population",
        "legend_cov": "Community coverage (walk {thr}, by population)",
        "legend_fac": "Facilities", "legend_unc": "Uncovered population (size = people)",
        "legend_unc_grid": "Uncovered population (cells of about {cell} m, darker = more people)",
        "legend_grey": "no population / no data",
        "legend_cluster": "many facilities are grouped (number = facilities)",
        "shown": "showing {n} of {m} points (most populous)",
        "basemap": "Basemap", "gap_id": "Gap", "walk_m": "about {v} m", "walk_min": "about {v} min",
        "default_title": "Life-circle facility coverage", "grid": "{cell} m cells",
    },
}


#: the words of a map whose walks follow the slope (network.dem): the mode of the figures shown
SLOPE_TEXT = {
    "zh": {"legend_cov": "社区覆盖率（步行（按坡度）{thr}，按人口）",
           "distance": "最近设施步行距离（按坡度折合平地米数）",
           "walk_m": "平地约 {v} 米", "flat_rate": "{v}（平地 {f}）", "not_applicable": "不适用"},
    "en": {"legend_cov": "Community coverage (slope-adjusted walk {thr}, by population)",
           "distance": "Walk to nearest facility (slope-adjusted, flat-ground metres)",
           "walk_m": "about {v} m on flat ground", "flat_rate": "{v} (flat {f})", "not_applicable": "not applicable"},
}


def mode_text(t: dict, results, lang: str) -> dict:
    """The map's words for these results: a walk on the slope says so ("步行（按坡度）")."""
    out = dict(t)
    out["not_applicable"] = SLOPE_TEXT[lang]["not_applicable"]
    if getattr(results, "slope_effect", None) is not None:
        out.update(SLOPE_TEXT[lang])
    return out


def check_lang(lang: str) -> dict:
    if lang not in TEXT:
        raise InputError(f"map language must be 'zh' or 'en', got {lang!r}",
                         field="output.lang", fix="use zh or en")
    return TEXT[lang]


def cat_label(cat: str, lang: str) -> str:
    if lang == "en":
        return CATEGORY_LABELS_EN.get(cat, cat)
    return CATEGORY_LABELS_ZH.get(cat, cat)


def colour_of(cat: str, order: list[str]) -> str:
    if cat in CATEGORY_COLOURS:
        return CATEGORY_COLOURS[cat]
    extras = [c for c in order if c not in CATEGORY_COLOURS]
    i = extras.index(cat) if cat in extras else 0
    return EXTRA_COLOURS[i % len(EXTRA_COLOURS)]


def cat_order(cats, extra) -> list[str]:
    return list(cats) + sorted(set(map(str, extra)) - set(cats))


def fmt_int(x) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)) or pd.isna(x):
        return "—"
    return f"{int(round(float(x))):,}"


def fmt_num(x) -> str:
    x = float(x)
    return str(int(x)) if x.is_integer() else f"{x:g}"


def fmt_rate(rate, pop, t) -> str:
    if pd.isna(rate):
        return t["no_pop"] if (not pd.isna(pop) and float(pop) == 0) else t["no_data"]
    return f"{100.0 * float(rate):.1f}%"


def rate_class(rate) -> np.ndarray:
    """Class index of each rate: 0..4, or 5 (the grey) for no figure."""
    cls = classify_rate(rate)
    return np.where(cls < 0, len(COVERAGE_CLASS_COLOURS), cls)


PALETTE = list(COVERAGE_CLASS_COLOURS) + [NO_DATA_COLOUR]


def walk_note(thr, speed: float, t: dict) -> str:
    """The other unit of a threshold: metres for a time, minutes for a distance."""
    if thr.unit == "min":
        return t["walk_m"].format(v=fmt_num(round(thr.metres)))
    return t["walk_min"].format(v=fmt_num(round(thr.metres / speed, 1)))


def esc(text) -> str:
    """Escape a string for HTML (names of layers, legend lines, titles)."""
    return html.escape("" if text is None else str(text), quote=True)


def js_json(obj) -> str:
    """Compact JSON that is safe inside an inline ``<script>``: ``<``, ``>``, ``&`` and the JS line
    separators are written as \\u escapes, so no string can close the script or open a tag."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def need_cols(df, cols, what: str):
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError(f"the {what} table lacks column(s) {', '.join(missing)}",
                         field=f"results.{what}.{missing[0]}",
                         fix="build the results with the pipeline that writes these columns")


def thresholds_of(results, cats) -> dict:
    """Each category's plan threshold (a Threshold with .metres and .label)."""
    thr = getattr(results, "thresholds", None) or {}
    missing = [c for c in cats if c not in thr]
    if missing:
        raise InputError(f"no plan threshold for category {missing[0]!r}",
                         field=f"thresholds.{missing[0]}",
                         fix="give the plan threshold (minutes or metres) of every mapped category")
    return {c: thr[c] for c in cats}


def same_metres(values, metres) -> np.ndarray:
    """Rows whose threshold in metres is this one (tables round metres to 0.1 m)."""
    return np.isclose(pd.to_numeric(values, errors="coerce").to_numpy(dtype=float), float(metres),
                      rtol=0.0, atol=0.051)
