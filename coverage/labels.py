"""The one home of the plan categories, their Chinese and English labels, map colours, the
coverage-rate classes and the walking-speed default. Every table, map, figure and report reads
them from here."""

from __future__ import annotations

import numpy as np

#: The plan facility categories (keys used in configs, tables and profiles).
CATEGORIES = (
    "comprehensive",  # 综合服务站/社区服务中心/党群服务中心
    "elderly_care",   # 养老服务/日间照料中心
    "health",         # 社区卫生服务中心/站, 卫生院, 诊所
    "fitness",        # 体育健身站点, 社区多功能运动场
    "culture",        # 综合性文化服务中心, 图书馆
    "education",      # 社区教育, 学校
    "childcare",      # 托育, 幼儿园, 儿童之家
    "commerce",       # 便利店, 菜市场, 超市
)

CATEGORY_LABELS_ZH = {
    "comprehensive": "综合服务设施",
    "elderly_care": "养老服务设施",
    "health": "医疗卫生设施",
    "fitness": "体育健身设施",
    "culture": "文化设施",
    "education": "教育设施",
    "childcare": "托育/儿童设施",
    "commerce": "便民商业设施",
}

CATEGORY_LABELS_EN = {
    "comprehensive": "Comprehensive service",
    "elderly_care": "Elderly care",
    "health": "Health",
    "fitness": "Sports and fitness",
    "culture": "Culture",
    "education": "Education",
    "childcare": "Childcare",
    "commerce": "Convenience commerce",
}

CATEGORY_COLOURS = {
    "comprehensive": "#e41a1c",
    "elderly_care": "#377eb8",
    "health": "#4daf4a",
    "fitness": "#984ea3",
    "culture": "#ff7f00",
    "education": "#a65628",
    "childcare": "#f781bf",
    "commerce": "#17becf",
}

#: Fixed colour classes for coverage rate: [0,20), [20,40), [40,60), [60,80), [80,100] %.
COVERAGE_CLASS_COLOURS = ("#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641")
COVERAGE_CLASS_BREAKS = (0.2, 0.4, 0.6, 0.8)
NO_DATA_COLOUR = "#bdbdbd"

#: Default walking speed: 4 km/h = 66.67 m/min, so 5/10/15 min = 333/667/1000 m
#: (GB 50180-2018 draws the life circles at about 300/500/800-1000 m).
DEFAULT_WALK_SPEED_KMH = 4.0


def category_label(cat: str, lang: str = "zh") -> str:
    """The Chinese (``zh``) or English (``en``) label of a category key (the key if unknown)."""
    table = CATEGORY_LABELS_EN if lang == "en" else CATEGORY_LABELS_ZH
    return table.get(cat, cat)


def classify_rate(rate) -> np.ndarray:
    """Class index 0..4 of each coverage rate (0..1) on the fixed scale; -1 for NaN."""
    r = np.asarray(rate, dtype=float)
    cls = np.digitize(np.clip(r, 0.0, 1.0), COVERAGE_CLASS_BREAKS)
    return np.where(np.isnan(r), -1, cls)

#: the summary tables' unit rows in both languages (the whole area is 研究范围, as in the
#: indicator tables: the tool cannot know whether the study covers a whole county)
UNIT_LABELS_BOTH = {"study area": "研究范围 study area", "urban": "城镇 urban", "rural": "农村 rural"}
