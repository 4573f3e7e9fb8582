"""Numbers as planners' spreadsheets write them: full-width digits (１２０．５), trailing spaces,
comma decimals (120,5), thousands separators (1,234), units (300㎡), and coordinates in
degrees-minutes-seconds (120°30'15"E, 东经120度30分15秒).

:func:`parse_numbers` returns the values and which non-empty cells could not be read, so the
caller can list those rows instead of losing them silently."""

from __future__ import annotations

import math
import re
import unicodedata

import numpy as np
import pandas as pd

__all__ = ["parse_numbers", "parse_one", "blank_mask", "clean_text", "strip_text"]

_NUM = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
# degrees [minutes [seconds]] with a hemisphere before or after
_HEMI = r"(?P<h{n}>[NSEWnsew]|东经|西经|北纬|南纬|东|西|北|南)?"
_DMS = re.compile(
    r"^" + _HEMI.format(n=1) + r"\s*(?P<sign>[+-])?\s*(?P<d>\d+(?:\.\d+)?)\s*(?:°|度|º|d|:|\s)\s*"
    r"(?:(?P<m>\d+(?:\.\d+)?)\s*(?:'|′|’|分|m|:|\s)?\s*"
    r"(?:(?P<s>\d+(?:\.\d+)?)\s*(?:\"|″|”|''|′′|秒|s)?)?)?\s*" + _HEMI.format(n=2) + r"$")
_DEG_ONLY = re.compile(r"^" + _HEMI.format(n=1) + r"\s*(?P<sign>[+-])?\s*(?P<d>\d+(?:\.\d+)?)\s*(?:°|度|º)?\s*"
                       + _HEMI.format(n=2) + r"$")
_UNITS = re.compile(r"(平方米|平米|㎡|m²|m2|米|户|人|个|处)$", re.IGNORECASE)
_NEG_HEMI = {"S", "W", "s", "w", "西经", "南纬", "西", "南"}


def clean_text(v) -> str:
    """A cell as normalised text: full-width digits and signs made ASCII (NFKC), spaces (also
    no-break and ideographic) trimmed."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    s = unicodedata.normalize("NFKC", str(v))
    return s.replace("\u3000", " ").strip()


def strip_text(v) -> str:
    """A cell as text with surrounding spaces (also ideographic and no-break ones) trimmed, nothing
    else changed (names keep their full-width brackets)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return str(v).strip(" \t\r\n\u3000\u00a0")


_NULL_WORDS = frozenset({"", "nan", "none", "null"})


def blank_mask(series: pd.Series) -> np.ndarray:
    """True where a cell is empty: missing, only spaces, or a word for nothing (nan, none, null)."""
    s = pd.Series(series)
    out = s.isna().to_numpy().copy()
    if s.dtype.kind in "biufcmM":          # numbers and dates: only a missing cell is empty
        return out
    at = np.flatnonzero(~out)
    vals = s.to_numpy(dtype=object)[at]
    out[at] = [isinstance(v, str) and clean_text(v).lower() in _NULL_WORDS for v in vals]
    return out


def parse_one(v, kind: str = "number") -> float:
    """One cell as a float (NaN when empty or unreadable). ``kind`` is ``number`` (areas,
    households: ``1,234`` is a thousands separator) or ``coord`` (lon/lat or projected x/y:
    ``120,5`` is a decimal comma; degrees-minutes-seconds are read)."""
    if v is None:
        return math.nan
    if isinstance(v, (bool, np.bool_)):
        return math.nan
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    s = clean_text(v)
    if not s:
        return math.nan
    s = s.replace("−", "-").replace("–", "-")
    t = s.replace(" ", "")
    if kind == "number":
        t = _UNITS.sub("", t)
    spaced = kind == "coord" and re.search(r"\d\s+\d", s) is not None   # 120 30 15: degrees minutes seconds
    if _NUM.match(t) and not spaced:
        return float(t)
    if _THOUSANDS.match(t) and (kind == "number" or "." in t or t.count(",") > 1):
        return float(t.replace(",", ""))
    if _DECIMAL_COMMA.match(t):
        return float(t.replace(",", "."))
    if kind == "coord":
        m = _DMS.match(s) or _DEG_ONLY.match(s)
        if m:
            gd = m.groupdict()
            if gd.get("h1") and gd.get("h2"):
                return math.nan
            d = float(gd["d"])
            mi = float(gd.get("m") or 0.0)
            se = float(gd.get("s") or 0.0)
            if mi >= 60 or se >= 60:
                return math.nan
            val = d + mi / 60.0 + se / 3600.0
            hemi = gd.get("h1") or gd.get("h2")
            if gd.get("sign") == "-" or hemi in _NEG_HEMI:
                val = -val
            return val
    return math.nan


def parse_numbers(series, kind: str = "number") -> tuple[np.ndarray, np.ndarray]:
    """(float values, unreadable) of a column: ``unreadable`` marks non-empty cells that are not a
    number (they are NaN in the values, like empty cells)."""
    s = pd.Series(series)
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=float), np.zeros(len(s), dtype=bool)
    vals = np.array([parse_one(v, kind) for v in s.to_numpy(dtype=object)], dtype=float)
    bad = np.isnan(vals) & ~blank_mask(s)
    return vals, bad
