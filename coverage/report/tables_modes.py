"""The report tables of travel modes and slope: ``slope_effect`` (flat vs sloped coverage, with
``network.dem``) and ``travel_circles`` (``analysis.travel_circles``). Always in the workbook, the
tables/ CSVs and tables.md (with a line saying why when empty), like the gaps and sites tables."""

from __future__ import annotations

import pandas as pd

from ..labels import UNIT_LABELS_BOTH

SLOPE_COLS = ["level", "unit", "name", "township", "type", "category", "category_zh", "population_group",
              "threshold_min", "threshold_m", "population", "covered_pop_flat", "covered_pop_sloped",
              "coverage_rate_flat", "coverage_rate_sloped", "change_pp"]
TRAVEL_COLS = ["circle", "circle_name", "category", "category_zh", "mode", "applies_to", "threshold_min",
               "distance_m", "level", "unit", "name", "township", "type", "population_group", "population",
               "covered_pop", "uncovered_pop", "coverage_rate", "coverage_rate_walk"]
_UNIT_LABELS = UNIT_LABELS_BOTH

#: what tables.md says above an empty table
EMPTY_NOTES = {
    "slope_effect": "未设置 network.dem（数字高程模型），未做坡度分析；步行均按平地计。"
                    "No network.dem (elevation model): walks are counted on flat ground.",
    "travel_circles": "未设置 analysis.travel_circles（其他出行方式的服务圈）。"
                      "No travel circles (analysis.travel_circles) configured.",
}


def mode_tables(res) -> dict[str, pd.DataFrame]:
    """{"slope_effect": ..., "travel_circles": ...} with the machine column names (empty frames
    with the columns when not configured)."""
    out = {}
    for key, attr, cols in (("slope_effect", "slope_effect", SLOPE_COLS),
                            ("travel_circles", "travel_circles", TRAVEL_COLS)):
        df = getattr(res, attr, None)
        if df is None or not len(df):
            out[key] = pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
            continue
        df = pd.DataFrame(df).reindex(columns=cols).reset_index(drop=True)
        df["unit"] = df["unit"].map(lambda u: _UNIT_LABELS.get(u, u))
        out[key] = df
    return out
