"""Reading a facility table as planners' office software writes it: CSV with any separator and
encoding (UTF-8 or GBK), Excel with a title row above the header or merged category cells."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections import Counter
from pathlib import Path

import pandas as pd

from ..errors import InputError

#: rows searched for the header of a table with title rows above it
HEADER_SEARCH_ROWS = 30


def _norm(s) -> str:
    return unicodedata.normalize("NFKC", str(s)).replace("\u3000", " ").strip()


def _needed_columns(c) -> list[str]:
    f = c.fields
    cols = [c.x, c.y] + [getattr(f, k) for k in ("id", "name", "category", "type", "area", "level")]
    return [str(v) for v in cols if v is not None]


def _title_row_hint(df) -> str:
    unnamed = sum(str(col).startswith("Unnamed") or str(col).strip() == "" for col in df.columns)
    if unnamed and unnamed >= len(df.columns) / 2:
        return ("; the first row does not look like a header (a title above it?): delete the rows above the "
                "header, or check the column names")
    return ""


def _with_header(rows: list[list], needed: list[str], path, notes) -> tuple[pd.DataFrame, int]:
    """A frame from raw rows: the header is the first row holding every configured column (rows of
    a title above the header are skipped, and said); else the first row."""
    want = {_norm(n) for n in needed}

    def cells(row):
        return {_norm(v) for v in row if v is not None and _norm(v) != ""}

    at = 0
    if rows and not want <= cells(rows[0]):
        # the row holding the most configured names, then the most distinct cells (a title row,
        # even merged across the columns, has one)
        scored = [(len(want & cells(r)), len(cells(r)), -i) for i, r in enumerate(rows[:HEADER_SEARCH_ROWS])]
        best = max(scored)
        if best[:2] > (len(want & cells(rows[0])), len(cells(rows[0]))):
            at = -best[2]
            notes.append(f"{Path(path).name}: the header is on row {at + 1}; the {at} row(s) above it (a title) were "
                         "skipped")
    header = [_norm(v) if v is not None and _norm(v) else f"Unnamed: {j}" for j, v in enumerate(rows[at] if rows else [])]
    body, rownum = [], []
    for i, r in enumerate(rows[at + 1:], start=at + 2):      # spreadsheet row numbers (1 = first row)
        if any(v is not None and _norm(v) != "" for v in r):
            r = list(r) + [None] * (len(header) - len(r))
            body.append(r[:len(header)])
            rownum.append(i)
    df = pd.DataFrame(body, columns=header, dtype=object, index=pd.Index(rownum, name="row"))
    # configured names match headers with stray spaces or full-width letters
    ren = {col: n for n in needed for col in df.columns if _norm(col) == _norm(n) and col != n}
    return df.rename(columns=ren), at


def _read_table(path: Path, c, notes) -> tuple[pd.DataFrame, int]:
    """(table of text/number cells, header row index) from a CSV or an Excel sheet."""
    suffix = path.suffix.lower()
    needed = _needed_columns(c)
    if suffix in (".xlsx", ".xlsm"):
        rows = _excel_rows(path, c, notes)
    elif suffix == ".xls":
        try:
            raw = pd.read_excel(path, sheet_name=c.sheet or 0, header=None, dtype=object)
        except ImportError:
            raise InputError("old Excel .xls files cannot be read here", file=str(path), field="facilities.path",
                             fix="open the file in Excel or WPS and save it as .xlsx (or as CSV UTF-8)") from None
        except Exception as exc:
            raise InputError(f"cannot read the Excel file ({exc})", file=str(path), field="facilities.path",
                             fix="save the sheet as .xlsx or UTF-8 CSV") from None
        rows = [[None if pd.isna(v) else v for v in r] for r in raw.itertuples(index=False)]
    else:
        rows = _csv_rows(path, c.encoding, notes)
    if not rows:
        raise InputError("the facility table is empty", file=str(path), field="facilities.path", fix="check the export")
    return _with_header(rows, needed, path, notes)


def _csv_rows(path: Path, encoding, notes) -> list[list]:
    data = path.read_bytes()
    encs = [encoding] if encoding else ["utf-8-sig", "gb18030"]
    text, last = None, None
    for enc in encs:
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError as exc:
            last = exc
    if text is None:
        raise InputError(f"cannot decode the CSV ({last})", file=str(path), field="facilities.encoding",
                         fix="set facilities.encoding (e.g. GBK) or save the file as UTF-8")
    text = text.lstrip("\ufeff")
    lines = [ln for ln in text.splitlines() if ln.strip()][:50]
    sep = ","
    best = None
    for cand in (",", ";", "\t", "|"):
        counts = [len(r) for r in csv.reader(lines, delimiter=cand)]
        if not counts:
            continue
        common = Counter(counts).most_common(1)[0]
        score = (common[0] > 1, common[1], common[0])   # several columns, on most lines
        if best is None or score > best:
            best, sep = score, cand
    if sep != ",":
        label = {";": "semicolons (;)", "\t": "tabs", "|": "vertical bars (|)"}[sep]
        notes.append(f"{path.name}: the columns are separated by {label}, not commas; read that way"
                     + (" (decimal commas such as 120,5 are read as 120.5)" if sep == ";" else ""))
    try:
        return [r for r in csv.reader(io.StringIO(text), delimiter=sep)]
    except csv.Error as exc:
        raise InputError(f"the CSV cannot be read ({exc})", file=str(path), field="facilities.path",
                         fix="open it in Excel or WPS and save it again as CSV UTF-8") from None


def _excel_rows(path: Path, c, notes) -> list[list]:
    """Rows of an .xlsx sheet with merged cells filled (the top-left value copied into every cell of
    the merged range: a category written once for a block of rows)."""
    import openpyxl
    try:
        wb = openpyxl.load_workbook(path, data_only=True)
    except Exception as exc:
        raise InputError(f"cannot read the Excel file ({type(exc).__name__}: {exc})", file=str(path),
                         field="facilities.path", fix="save the sheet as .xlsx or UTF-8 CSV") from None
    names = wb.sheetnames
    sheet = c.sheet if c.sheet is not None else 0
    if isinstance(sheet, int):
        if sheet >= len(names):
            raise InputError(f"the workbook has {len(names)} sheet(s) ({', '.join(names)}), no sheet number {sheet}",
                             file=str(path), field="facilities.sheet",
                             fix="give the sheet's name, or its number counted from 0")
        ws = wb[names[sheet]]
    else:
        if sheet not in names:
            close = [n for n in names if _norm(n) == _norm(sheet)]
            if not close:
                raise InputError(f"no sheet named {sheet!r} (sheets: {', '.join(names)})", file=str(path),
                                 field="facilities.sheet", fix=f"set facilities.sheet to one of: {', '.join(names)}")
            sheet = close[0]
        ws = wb[sheet]
    merged = list(ws.merged_cells.ranges)
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    filled = 0
    for rng in merged:
        r0, c0, r1, c1 = rng.min_row - 1, rng.min_col - 1, rng.max_row - 1, rng.max_col - 1
        if r0 >= len(rows):
            continue
        v = rows[r0][c0] if c0 < len(rows[r0]) else None
        for r in range(r0, min(r1 + 1, len(rows))):
            row = rows[r]
            for col in range(c0, c1 + 1):
                if col < len(row) and (r, col) != (r0, c0):
                    row[col] = v
                    filled += 1
    if filled:
        notes.append(f"{path.name}: {len(merged)} merged cell range(s) were filled with their value ({filled} cells), "
                     "e.g. a category written once for a block of rows")
    wb.close()
    return rows
