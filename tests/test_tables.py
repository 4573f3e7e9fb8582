"""Plan-report tables: workbook sheets, headers and number formats, BOM CSVs, Markdown, determinism,
and a dictionary entry for every column of every CSV the tool writes."""

from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from coverage.report.tables import (COLUMNS, LEAD_CSVS, NUMBER_FORMATS, TABLES, build_tables, describe,
                             table_header, write_tables)

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "study.yaml"


@pytest.fixture(scope="module")
def res(sample_results):
    return sample_results


@pytest.fixture(scope="module")
def written(res, tmp_path_factory):
    d = tmp_path_factory.mktemp("tables")
    return res, write_tables(res, d)


def _headers(ws):
    return [c.value for c in ws[1]]


def _col(ws, header):
    return _headers(ws).index(header) + 1


def test_sheets_and_headers(written):
    res, files = written
    wb = openpyxl.load_workbook(files["xlsx"])
    assert wb.sheetnames == [s for s, _ in TABLES.values()]
    assert all(len(s) <= 31 for s in wb.sheetnames)
    tables = build_tables(res)
    for key, (sheet, _) in TABLES.items():
        ws = wb[sheet]
        # bilingual headers, except the indicator table: in the report language only (output.lang)
        assert _headers(ws) == [table_header(key, c, res) for c in tables[key].columns]
        assert ws.freeze_panes == "A2"
        assert ws.max_row == len(tables[key]) + 1
    summ = _headers(wb["汇总 Summary"])
    assert "覆盖率 Coverage rate" in summ and "人口 Population (人)" in summ
    assert "最近设施距离 Nearest facility (m)" in _headers(wb["服务缺口 Gaps"])
    # the wide community sheet: one row per community, one rate per category at its plan threshold
    comm = _headers(wb["社区 By community"])
    assert "文化设施10分钟覆盖率 Culture 10-min coverage rate" in comm
    assert "医疗卫生设施15分钟覆盖率 Health 15-min coverage rate" in comm
    assert wb["社区 By community"].max_row == len(res.communities) + 1
    # column widths fitted: a Chinese community name column is wider than the default
    ws = wb["社区 By community"]
    assert ws.column_dimensions["B"].width >= max(2 * len(n) for n in res.communities.name) * 0.5


def test_number_formats(written):
    _, files = written
    wb = openpyxl.load_workbook(files["xlsx"])
    ws = wb["汇总 Summary"]
    rate = _col(ws, "覆盖率 Coverage rate")
    pop = _col(ws, "人口 Population (人)")
    for r in range(2, ws.max_row + 1):
        assert ws.cell(r, rate).number_format == "0.0%"
        assert ws.cell(r, pop).number_format == "#,##0"
    ws = wb["社区 By community"]
    for h in _headers(ws):
        if "coverage rate" in h:
            assert ws.cell(2, _col(ws, h)).number_format == "0.0%"
    assert ws.cell(2, _col(ws, "户数 Households (户)")).number_format == "#,##0"
    ws = wb["服务缺口 Gaps"]
    assert ws.max_row > 1
    assert ws.cell(2, _col(ws, "面积 Area (m²)")).number_format == "#,##0.0"
    # rates are stored as fractions (Excel shows %), not as strings
    ws = wb["汇总 Summary"]
    vals = [ws.cell(r, rate).value for r in range(2, ws.max_row + 1)]
    assert all(isinstance(v, (int, float)) and 0 <= v <= 1 for v in vals if v is not None)
    assert any(0 < v < 1 for v in vals if v is not None)
    assert set(NUMBER_FORMATS) >= {c.kind for c in COLUMNS.values()} - {"text", "bool"}


def test_values_match_the_results(written):
    res, files = written
    wb = openpyxl.load_workbook(files["xlsx"])
    s = res.coverage_summary
    # summary: area + urban/rural rows at each category's plan threshold, same rates as the long table
    ws = wb["汇总 Summary"]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 3 * len(res.categories)
    h = _headers(ws)
    for row in rows:
        cat, t, rate = row[h.index("设施类别 Category")], row[h.index("步行时间阈值 Walking threshold (min)")], \
            row[h.index("覆盖率 Coverage rate")]
        assert t == res.main_threshold_min[cat]
        unit = row[h.index("统计单元 Unit")].split(" ", 1)[1]
        ref = s[(s.category == cat) & (s.threshold_min == t) & (s.unit == unit)].coverage_rate.iloc[0]
        assert rate == pytest.approx(ref, abs=1e-9)
    # community sheet cross-checked against the long table: culture is read at 10 min, not 15
    c = res.coverage_by_community
    ws = wb["社区 By community"]
    h = _headers(ws)
    j = h.index("文化设施10分钟覆盖率 Culture 10-min coverage rate")
    k = h.index("便民商业设施数 Convenience commerce facilities inside (个)")
    for row in ws.iter_rows(min_row=2, values_only=True):
        ref = c[(c.community_id == row[0]) & (c.category == "culture") & (c.threshold_min == 10)].iloc[0]
        if np.isnan(ref.coverage_rate):
            assert row[j] is None
        else:
            assert row[j] == pytest.approx(ref.coverage_rate, abs=1e-9)
        inside = int(((res.facilities.community_id == row[0]) & (res.facilities.category == "commerce")).sum())
        assert row[k] == inside
    # community population adds up to the area population
    pops = [r[h.index("人口 Population (人)")] for r in ws.iter_rows(min_row=2, values_only=True)]
    area = s[(s.level == "area") & (s.category == "commerce") & (s.threshold_min == 15)].population.iloc[0]
    assert sum(pops) == pytest.approx(area, rel=1e-9)


def test_csv_bom_and_chinese_round_trip(written):
    res, files = written
    for key in TABLES:
        raw = files[f"csv_{key}"].read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
    df = pd.read_csv(files["csv_community"], encoding="utf-8-sig", dtype=str)
    assert df.columns[1] == "名称 Name"
    assert sorted(df["名称 Name"]) == sorted(res.communities.name)
    assert any("社区" in n for n in df["名称 Name"])
    # a rate written as a fraction comes back as the same number
    s = pd.read_csv(files["csv_summary"], encoding="utf-8-sig")
    tab = build_tables(res)["summary"]
    assert np.allclose(s["覆盖率 Coverage rate"].to_numpy(), tab.coverage_rate.to_numpy(), atol=1e-9, equal_nan=True)


def test_markdown_sections_and_percentages(written):
    res, files = written
    md = files["md"].read_text(encoding="utf-8")
    for key, (sheet, _) in TABLES.items():
        assert (f"## {sheet}" in md) == (key != "dictionary")
    s = res.coverage_summary
    r = s[(s.level == "area") & (s.category == "comprehensive") & (s.threshold_min == 15)].coverage_rate.iloc[0]
    line = next(l for l in md.splitlines() if l.startswith("| area | 研究范围 study area | comprehensive |"))
    assert f"| {r * 100:.1f}% |" in line
    assert "| 覆盖率 Coverage rate |" in md


def test_two_runs_identical(written, tmp_path):
    res, a = written                      # the module's first write; a second one here
    b = write_tables(res, tmp_path / "b")
    wa, wb = openpyxl.load_workbook(a["xlsx"]), openpyxl.load_workbook(b["xlsx"])
    assert wa.sheetnames == wb.sheetnames
    for name in wa.sheetnames:
        va = list(wa[name].iter_rows(values_only=True))
        vb = list(wb[name].iter_rows(values_only=True))
        assert va == vb
    assert wa.properties.created == wb.properties.created
    assert wa.properties.modified == wb.properties.modified
    for k in a:
        if k != "xlsx":
            assert a[k].read_bytes() == b[k].read_bytes(), k
    assert a["xlsx"].read_bytes() == b["xlsx"].read_bytes()  # fixed zip dates: byte-identical too


def test_every_written_csv_column_is_documented(res, sample_out):
    # sample_out: every file write_outputs writes for the sample (Results.write), tables included
    out = sample_out
    lead = sorted(out.glob("*.csv"))
    assert lead, "write_outputs wrote no CSV"
    for path in lead:
        assert path.name in LEAD_CSVS, f"{path.name}: add it to LEAD_CSVS and document its columns"
        for name in pd.read_csv(path, encoding="utf-8-sig", nrows=0).columns:
            describe(LEAD_CSVS[path.name], name)  # KeyError when undocumented
    cols_md = (out / "columns.md").read_text(encoding="utf-8")
    for path in lead:
        assert f"## {path.name}" in cols_md
    for key, (_, fname) in TABLES.items():
        headers = {table_header(key, c, res) for c in build_tables(res)[key].columns}
        got = list(pd.read_csv(out / "tables" / fname, encoding="utf-8-sig", nrows=0).columns)
        assert got and set(got) <= headers
        assert f"## tables/{fname}" in cols_md
        for h in got:
            assert f"| {h} |" in cols_md


def test_undocumented_column_fails(res):
    with pytest.raises(KeyError, match="no entry"):
        describe("summary", "brand_new_column")
    with pytest.raises(KeyError):
        describe("community", "rate_not_a_category_15min")
    bad = res.replace(coverage_summary=res.coverage_summary.assign(extra_col=1.0))
    # the summary table selects its columns, but the lead's CSV would carry it: columns.md must fail
    from coverage.report.tables import _columns_md
    with pytest.raises(KeyError):
        _columns_md(bad, build_tables(bad))


def test_missing_optional_tables_still_give_headers(res, tmp_path):
    r = res.replace(gaps=None, sites=None, siting_summary=None, indicators=None)
    files = write_tables(r, tmp_path)
    wb = openpyxl.load_workbook(files["xlsx"])
    for key in ("gaps", "sites", "indicators"):
        ws = wb[TABLES[key][0]]
        assert ws.max_row == 1 and ws.cell(1, 1).value == table_header(key, build_tables(r)[key].columns[0], r)
    assert "## 服务缺口 Gaps" in files["md"].read_text(encoding="utf-8")


def test_indicator_table_is_chinese_only_with_lang_zh(written):
    """output.lang: zh (the sample): the indicator sheet, tables/indicators.csv and its tables.md
    section are in Chinese only; the other tables stay bilingual; lang: en gives English."""
    import re
    res, files = written
    assert res.config.output.lang == "zh"
    wb = openpyxl.load_workbook(files["xlsx"])
    ws = wb[TABLES["indicators"][0]]
    heads = _headers(ws)
    assert heads[:5] == ["统计层级", "单元编号", "单元名称", "指标编号", "指标名称"]
    assert "规划条款" in heads and "测算状态" in heads and "口径" in heads
    text_cols = [heads.index(h) for h in ("统计层级", "单元名称", "指标名称", "口径", "单位", "比较", "是否达标",
                                            "差距单位", "测算状态", "说明", "适用范围")]
    for row in ws.iter_rows(min_row=2, values_only=True):
        for j in text_cols:
            v = row[j]
            if isinstance(v, str):
                words = re.sub(r"[a-z_]+(\.[a-z_]+)+|[a-z]+_[a-z_]+", "", v)
                assert not re.search(r"[A-Za-z]{3,}", words.replace("2SFCA", "")) or j == heads.index("单元名称"), v
    md = files["md"].read_text(encoding="utf-8")
    sec = md.split("## 规划指标 Indicators", 1)[1].split("\n## ", 1)[0]
    assert "| 统计层级 | 单元编号 | 单元名称 |" in sec and "Indicator" not in sec and "not measurable" not in sec
    assert "研究范围" in sec and "不低于" in sec and "已测算" in sec
    assert "覆盖率 Coverage rate" in _headers(wb["汇总 Summary"])          # other sheets stay bilingual
    # English on request
    from dataclasses import replace
    en = res.replace(config=replace(res.config, output=replace(res.config.output, lang="en")))
    t = build_tables(en)["indicators"]
    assert "name_en" in t.columns and "name_zh" not in t.columns
    assert table_header("indicators", "name_en", en) == "Indicator (English)"
    assert set(t.level) <= {"area", "township", "community"}


def test_fast_sheet_writer_values_types_formats_and_widths(tmp_path):
    """The data rows are written as XML without openpyxl cells: what openpyxl reads back is what the
    tables hold (text with spaces and XML characters, blanks, numbers, booleans, inf as text), with
    the column's number format on every data cell, and widths as _display_width gives them."""
    from coverage.report.tables import _display_width, _display_widths, _write_xlsx
    exc = pd.DataFrame({"layer": [" lead", "trail ", "a&b<c>d", "社区 名称", None, "", "x\ny"],
                        "file": [1, 2.5, np.nan, None, True, np.int64(7), "s"],
                        "feature_id": [np.inf, -np.inf, 1e20, 0.25, -0.0, 3.0, 2 ** 53],
                        "reason": ["中文很长" * 30, "a" * 100, "#N/A", "=1+1", "ok", "ok", "ok"],
                        "detail": pd.array([1, None, 3, 4, 5, 6, 7], dtype="Int64")})
    summ = pd.DataFrame({"level": ["area", "area"], "population": [1234.5678, np.nan],
                         "coverage_rate": [0.25, np.inf], "communities": [3, 4]})
    path = tmp_path / "t.xlsx"
    _write_xlsx({"excluded": exc, "summary": summ, "gaps": pd.DataFrame(columns=["gap_id", "rank"])}, path)
    wb = openpyxl.load_workbook(path)
    ws = wb[TABLES["excluded"][0]]
    got = [list(r) for r in ws.iter_rows(min_row=2, values_only=True)]
    assert [r[0] for r in got] == [" lead", "trail ", "a&b<c>d", "社区 名称", None, None, "x\ny"]
    assert [r[1] for r in got] == [1, 2.5, None, None, True, 7, "s"]
    assert [r[2] for r in got] == [None, None, 1e20, 0.25, 0, 3, 2 ** 53]      # inf in a number column: blank
    assert [r[3] for r in got][2:4] == ["#N/A", "=1+1"]            # text stays text (no error, no formula)
    assert [r[4] for r in got] == [1, None, 3, 4, 5, 6, 7]
    assert ws.column_dimensions["D"].width == 60 and ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:E8"
    ws = wb[TABLES["summary"][0]]
    assert [c.number_format for c in ws["B"][1:]] == ["#,##0", "#,##0"]
    assert [c.number_format for c in ws["C"][1:]] == ["0.0%", "0.0%"]
    assert [c.value for c in ws["B"][1:]] == [1234.5678, None] and ws["C"][2].value is None   # inf -> blank
    assert ws.dimensions == "A1:D3"
    ws = wb[TABLES["gaps"][0]]
    assert ws.max_row == 1 and ws.auto_filter.ref is None
    texts = ["", "abc", "中文", "社区 Community", "ａ全角", "x" * 200, "混合 mixed 文字" * 9]
    assert _display_widths(texts).tolist() == [min(_display_width(t), _display_width(t[:64])) for t in texts]
    assert _display_widths([]).tolist() == [] and _display_widths(["", ""]).tolist() == [0, 0]


def test_markdown_columns_match_cell_by_cell():
    from coverage.report.tables import _md_cell, _md_column
    vals = {"rate": [0.1234, np.nan, 1.0], "people": [1234.5, np.inf, 0.0], "m2": [12.25, 3.0, np.nan],
            "count": [1, 2, 30000], "coord": [24.123456789, -1.5, 0.0], "num": [1.5, 2.0, 1234.567],
            "text": ["a|b", "x\ny", "中文"], "bool": [True, False, True]}
    for kind, v in vals.items():
        s = pd.Series(v)
        for lang in ("both", "zh", "en"):
            assert _md_column(s, kind, lang) == [_md_cell(x, kind, lang) for x in s.tolist()], (kind, lang)


def test_text_columns_match_cell_by_cell():
    """The whole-column text paths (a column searched once for what needs escaping) give each
    cell what the one-cell functions give, with and without anything to escape."""
    from coverage.report.tables import _md_cell, _md_column
    from coverage.report.xlsx import _str_cell, _str_cells
    plain = ["", "abc", "中文 社区", " lead", "trail ", "  ", "\t", "a b", "x" * 70]
    tricky = plain + ["a&b", "<tag>", "x>y", "bell\x07", "\x0b", " & ", "a|b", "x\ny"]
    for vals in (plain, tricky, ["only"], []):
        assert _str_cells(vals) == [_str_cell(v) if v else ' t="inlineStr" />' for v in vals], vals
        s = pd.Series(vals, dtype=object)
        assert _md_column(s, "text") == [_md_cell(v, "text") for v in vals], vals
