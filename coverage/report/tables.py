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
import math
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..labels import CATEGORIES, CATEGORY_LABELS_ZH, UNIT_LABELS_BOTH


#: fixed document date written into tables.xlsx (created and modified) and its zip entries
FIXED_DATE = _dt.datetime(2000, 1, 1, 0, 0, 0)

from .columns import (COLUMNS, NUMBER_FORMATS, PATTERN_COLUMNS, PATTERN_DOC, TABLE_COLUMNS,  # noqa: F401
                      Col, describe)


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


#: a text longer than this is as wide as the widest column anyway (60)
_WIDTH_CAP = 64


def _display_widths(strs) -> np.ndarray:
    """``_display_width`` of many strings at once: characters counted from their code points in
    one numpy array (East Asian ones, above U+2E7F, count 2); strings are cut at ``_WIDTH_CAP``
    characters, beyond which every column is at its widest."""
    out = np.zeros(len(strs), dtype=np.int64)
    step = 65536                                   # bounded memory: 64 x 4 bytes x step
    for i in range(0, len(strs), step):
        a = np.array([t[:_WIDTH_CAP] for t in strs[i:i + step]], dtype=str)
        if a.dtype.itemsize == 0:                  # all empty
            continue
        cp = a.view(np.uint32).reshape(len(a), -1)
        out[i:i + step] = (cp != 0).sum(axis=1) + (cp > 0x2E7F).sum(axis=1)
    return out


def _column_width(s: pd.Series, kind: str, header: str) -> float:
    """Column width of a table column: its widest value (numbers as #,##0.0, text by display width)
    or its header's longer line, at least 8, at most 60."""
    if kind == "rate":
        widest = 7
    elif kind in ("people", "households", "m2", "m", "num"):
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            a = np.abs(s.to_numpy(dtype=float, na_value=np.nan))
            a = a[np.isfinite(a)]
            top = float(a.max()) if a.size else 0
        else:                                      # mixed values: only the numbers count
            top = max((abs(v) for v in s.tolist() if isinstance(v, (int, float)) and np.isfinite(v)), default=0)
        widest = len(f"{top:,.1f}") + 1
    else:
        w = _display_widths(["" if v is None else str(v) for v in s.tolist()])
        widest = int(w.max()) if w.size else 0
    head_w = max(_display_width(w) for w in header.split(" ", 1)) + 2
    return float(min(max(widest + 2, head_w, 8), 60))


_ILLEGAL_XML = re.compile(r"[\000-\010\013\014\016-\037]")


def _str_cell(v: str) -> str:
    """The end of a text cell's XML, as openpyxl writes it (inline string, escaped, spaces kept)."""
    if not v:
        return ' t="inlineStr" />'
    v = _ILLEGAL_XML.sub("", v)
    x = v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    stripped = v.strip()
    sp = ' xml:space="preserve"' if stripped and stripped != v else ""
    return f' t="inlineStr"><is><t{sp}>{x}</t></is></c>'


_EMPTY_CELL = ' t="inlineStr" />'


def _value_cell(v) -> str:
    """The end of one cell's XML (after ``<c r=".." s=".."``) for any value, as pandas (missing ->
    blank; numpy scalars -> Python) and openpyxl (numbers as %.16g, booleans, inline strings) wrote it."""
    if v is None or v is pd.NA or v is pd.NaT:
        return _EMPTY_CELL
    if isinstance(v, (bool, np.bool_)):
        return f' t="b"><v>{int(bool(v))}</v></c>'
    if isinstance(v, (int, np.integer)):
        return f' t="n"><v>{"%.16g" % int(v)}</v></c>'
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if v != v:
            return _EMPTY_CELL
        if v in (np.inf, -np.inf):
            return _str_cell("inf" if v > 0 else "-inf")
        return f' t="n"><v>{"%.16g" % v}</v></c>'
    if isinstance(v, str):
        return _str_cell(v)
    try:
        if pd.isna(v):
            return _EMPTY_CELL
    except (TypeError, ValueError):
        pass
    return _str_cell(str(v))


def _column_cells(s: pd.Series) -> list:
    """Each value's cell XML end: whole-column paths for floats, integers and booleans."""
    dt = s.dtype
    if pd.api.types.is_bool_dtype(dt) and not s.isna().any():
        return [' t="b"><v>1</v></c>' if v else ' t="b"><v>0</v></c>' for v in s.to_numpy(dtype=bool).tolist()]
    if pd.api.types.is_integer_dtype(dt) and not s.isna().any():
        return [f' t="n"><v>{"%.16g" % v}</v></c>' for v in s.to_numpy(dtype=np.int64).tolist()]
    if pd.api.types.is_float_dtype(dt):
        a = s.to_numpy(dtype=float, na_value=np.nan)
        if np.isfinite(a[~np.isnan(a)]).all():
            return [_EMPTY_CELL if v != v else f' t="n"><v>{"%.16g" % v}</v></c>' for v in a.tolist()]
    vals = s.tolist()
    if all(type(v) is str for v in vals):        # text: escaped as whole columns
        return _str_cells(pd.Series(vals, dtype=object))
    return [_value_cell(v) for v in vals]


def _str_cells(s: pd.Series) -> list:
    """``_str_cell`` of a column of strings, with pandas' string methods."""
    x = s.str.replace(_ILLEGAL_XML, "", regex=True)
    stripped = x.str.strip()
    sp = np.where((stripped != "") & (stripped != x), ' xml:space="preserve"', "")
    esc = x.str.replace("&", "&amp;", regex=False).str.replace("<", "&lt;", regex=False) \
        .str.replace(">", "&gt;", regex=False)
    out = (' t="inlineStr"><is><t' + pd.Series(sp, index=s.index, dtype=object) + ">" + esc
           + "</t></is></c>")
    return out.where(s != "", _EMPTY_CELL).tolist()


def _sheet_rows(df: pd.DataFrame, styles: list) -> str:
    """``<row>`` elements 2.. of a sheet: the cells of ``df`` with their style ids (0 = none), the
    XML openpyxl 3.1 wrote for pandas' ``to_excel``, built column by column without cell objects."""
    from openpyxl.utils import get_column_letter
    n = len(df)
    rows = [str(r) for r in range(2, n + 2)]
    cols = []
    for j, name in enumerate(df.columns):
        letter = get_column_letter(j + 1)
        s = f' s="{styles[j]}"' if styles[j] else ""
        cols.append([f'<c r="{letter}{r}"{s}{body}' for r, body in zip(rows, _column_cells(df[name]))])
    return "".join(f'<row r="{r}">' + "".join(cells) + "</row>" for r, cells in zip(rows, zip(*cols)))


def _write_xlsx(tables, path: Path, langs=None):
    """The workbook: openpyxl writes each sheet's frame (header row, styles, widths, frozen pane,
    filter, properties); the data rows are written as XML directly (openpyxl's cell objects took
    ~80 us a cell: most of a county's output time) and put into the sheets by ``_fix_zip``."""
    langs = langs or {}
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter
    wb = Workbook()
    wb.remove(wb.active)
    bodies = {}
    for i, (key, df) in enumerate(tables.items(), start=1):
        sheet = TABLES[key][0]
        assert len(sheet) <= 31, sheet
        lang = langs.get(key, "both")
        ws = wb.create_sheet(sheet)
        ws.freeze_panes = "A2"
        data = _headed(key, df, lang)
        last = get_column_letter(max(len(df.columns), 1))
        if len(df):
            ws.auto_filter.ref = f"A1:{last}{len(df) + 1}"
        styles = []
        for j, name in enumerate(df.columns, start=1):
            col = describe(key, name)
            header = col.header_for(lang)
            head = ws.cell(row=1, column=j, value=header)
            head.font = Font(bold=True)
            head.alignment = Alignment(wrap_text=True, vertical="top")
            head.style_id                          # noqa: B018 (registers the style: same ids as before)
            ws.column_dimensions[get_column_letter(j)].width = _column_width(df[name], col.kind, header)
        for j, name in enumerate(df.columns, start=1):
            fmt = NUMBER_FORMATS.get(describe(key, name).kind)
            if fmt and len(df):
                cell = WriteOnlyCell(ws)
                cell.number_format = fmt
                styles.append(cell.style_id)
            else:
                styles.append(0)
        if len(df):
            dim = f"A1:{last}{len(df) + 1}"
            bodies[f"xl/worksheets/sheet{i}.xml"] = (dim, _sheet_rows(data, styles))
    props = wb.properties
    props.created = FIXED_DATE
    props.modified = FIXED_DATE
    props.creator = "coverage"
    props.lastModifiedBy = "coverage"
    buf = io.BytesIO()
    wb.save(buf)
    _fix_zip(buf.getvalue(), path, bodies)


def _fix_zip(data: bytes, path: Path, bodies: dict | None = None):
    """Rewrite the xlsx with the fixed modified date (openpyxl stamps the save time) and fixed zip
    entry dates, so the same tables give byte-identical workbooks; ``bodies`` {sheet entry:
    (dimension, rows XML)} appends data rows to a sheet written with its header row only."""
    stamp = FIXED_DATE.strftime("%Y-%m-%dT%H:%M:%SZ")
    bodies = dict(bodies or {})
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>" + stamp.encode() + rb"\g<2>", body)
            if info.filename in bodies:
                dim, rows = bodies.pop(info.filename)
                text = body.decode("utf-8")
                text, k = re.subn(r'<dimension ref="[^"]*"', f'<dimension ref="{dim}"', text, count=1)
                head, sep, tail = text.partition("</sheetData>")
                assert k == 1 and sep, info.filename
                body = (head + rows + sep + tail).encode("utf-8")
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = info.external_attr
            dst.writestr(zi, body)
    assert not bodies, f"sheets not in the workbook: {sorted(bodies)}"
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
        return pd.Series(vals, dtype=object).str.replace("|", "\\|", regex=False) \
            .str.replace("\n", " ", regex=False).tolist()
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
