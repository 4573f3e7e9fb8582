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

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..labels import CATEGORIES, CATEGORY_LABELS_ZH, UNIT_LABELS_BOTH
from .columns import (COLUMNS, NUMBER_FORMATS, PATTERN_COLUMNS, PATTERN_DOC, TABLE_COLUMNS, TABLES,  # noqa: F401
                      Col, _headed, describe)
from .xlsx import FIXED_DATE, _display_width, _display_widths, _fix_zip, _write_xlsx  # noqa: F401



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
_UNIT_LABELS = UNIT_LABELS_BOTH


# ----------------------------------------------------------------------------------------- tables
def _cat_order(res) -> dict:
    cats = list(res.categories) + [c for c in CATEGORIES if c not in res.categories]
    return {c: i for i, c in enumerate(cats)}


def _at_plan_threshold(df, res):
    plan = {c: round(t.metres, 1) for c, t in res.thresholds.items()}   # res.thresholds is not free
    t = df["category"].map(lambda c: plan.get(c, np.nan))
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

    from .tables_modes import mode_tables
    out = {"summary": summary, "township": town, "community": comm, "indicators": ind,
           "gaps": gaps, "sites": sites, **mode_tables(res), "excluded": exc}
    rows = []
    for key, df in out.items():
        for name in df.columns:
            col = describe(key, name)
            rows.append({"table": TABLES[key][0], "column": name, "header": table_header(key, name, res),
                         "zh": col.zh,
                         "meaning": col.meaning, "unit_doc": col.unit_doc})
    out["dictionary"] = pd.DataFrame(rows)
    return out



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


def _md_number(kind):
    """``_md_cell``'s format of a finite number of a kind, as one function."""
    if kind == "rate":
        return lambda v: f"{v * 100:.1f}%"
    if kind in ("people", "households", "m"):
        return lambda v: f"{v:,.0f}"
    if kind == "m2":
        return lambda v: f"{v:,.1f}"
    if kind in ("count", "min"):
        return lambda v: f"{v:g}"
    if kind == "coord":
        return lambda v: f"{v:.6f}"

    def num(v):
        s = f"{v:,.2f}"
        return s.rstrip("0").rstrip(".") if "." in s else s
    return num


def _md_column(s: pd.Series, kind, lang="both") -> list:
    """``_md_cell`` of every value of a column: numbers and text a whole column at a time."""
    vals = s.tolist()
    if kind != "bool" and isinstance(s.dtype, np.dtype) and s.dtype.kind in "fiu":
        f = _md_number(kind)
        return ["—" if not math.isfinite(v) else f(v) for v in vals]
    if kind != "bool" and all(type(v) is str for v in vals):
        joined = "".join(vals)               # searched once: most columns need no escaping
        if "|" not in joined and "\n" not in joined:
            return vals
        return [v.replace("|", "\\|").replace("\n", " ") for v in vals]
    return [_md_cell(v, kind, lang) for v in vals]


def _md_table(key, df, lang="both") -> str:
    cols = [describe(key, c) for c in df.columns]
    lines = ["| " + " | ".join(c.header_for(lang) for c in cols) + " |",
             "| " + " | ".join("---:" if c.kind not in ("text", "bool") else "---" for c in cols) + " |"]
    cells = [_md_column(df.iloc[:, j], c.kind, lang) for j, c in enumerate(cols)]
    lines += ["| " + " | ".join(row) + " |" for row in zip(*cells)]
    if not len(df):
        lines.append("| " + " | ".join("" for _ in cols) + " |")
    return "\n".join(lines)


def _tables_md(res, tables) -> str:
    parts = [f"# {res.title} — 规划报告表格 Plan-report tables", "",
             "覆盖率为规划步行时间阈值下的人口覆盖率。Coverage rates are population shares at each category's plan "
             "walking threshold. 字段说明见 columns.md (column dictionary).", ""]
    from .tables_modes import EMPTY_NOTES
    for key, df in tables.items():
        if key == "dictionary":
            continue
        note = [EMPTY_NOTES[key], ""] if key in EMPTY_NOTES and not len(df) else []
        parts += [f"## {TABLES[key][0]}", "", *note, _md_table(key, df, table_lang(key, res)), ""]
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
