"""tables.xlsx: one sheet per table with bilingual headers, number formats, frozen header row,
fitted column widths and fixed document dates (two runs give the same bytes). openpyxl writes each
sheet's frame; the data rows are written as sheet XML column by column, in the form openpyxl
writes them (its per-cell objects took most of a county's output time)."""

from __future__ import annotations

import datetime as _dt
import io
import math
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from .columns import NUMBER_FORMATS, TABLES, _headed, describe

#: fixed document date written into tables.xlsx (created and modified) and its zip entries
FIXED_DATE = _dt.datetime(2000, 1, 1, 0, 0, 0)


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
        return _str_cells(vals)
    return [_value_cell(v) for v in vals]


def _str_cells(vals: list) -> list:
    """``_str_cell`` of a column of strings. A column's text is searched once (joined) for what
    needs escaping or removing; a column with none of it (the usual case: names, ids) is written
    as it is, with ``xml:space`` where a value has leading or trailing whitespace."""
    joined = "".join(vals)
    if _ILLEGAL_XML.search(joined) or "&" in joined or "<" in joined or ">" in joined:
        return [_str_cell(v) for v in vals]
    return [_EMPTY_CELL if not v else
            f' t="inlineStr"><is><t xml:space="preserve">{v}</t></is></c>'
            if (v[0].isspace() or v[-1].isspace()) and not v.isspace() else
            f' t="inlineStr"><is><t>{v}</t></is></c>' for v in vals]


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
