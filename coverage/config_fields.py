"""Reading the keys of a study YAML section by section: :class:`_Section` knows each key's YAML
path, so an unknown key, a missing file or a bad value stops with an
:class:`~coverage.errors.InputError` naming the file, the key path and the fix; and the checked
readers of values that several sections share (categories, thresholds, CRS, basemap, encoding)."""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from .config import MAX_THRESHOLD_M, Threshold
from .errors import InputError
from .labels import CATEGORIES


class _Section:
    """Reads the keys of one YAML section, remembering their paths for messages."""

    def __init__(self, raw, where: str, file: str, base: Path, allowed: tuple):
        if raw is None:
            raw = {}
        if not isinstance(raw, dict) and not where:
            raise InputError(f"the YAML must be a set of sections ('study_area:', 'communities:', ...), got "
                             f"{_show(raw)}", file=file, field="(top level)",
                             fix="copy data/sample/study.yaml and edit it")
        if not isinstance(raw, dict):
            raise InputError(f"'{where}' must be a section of 'key: value' lines, got {_show(raw)}",
                             file=file, field=where, fix=f"allowed keys under '{where}': {', '.join(allowed)}")
        self.raw, self.where, self.file, self.base = raw, where, file, base
        unknown = sorted((k for k in raw if k not in allowed), key=str)
        if unknown:
            bad = unknown[0]
            close = difflib.get_close_matches(str(bad), list(allowed), n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise InputError(f"unknown key '{self.path(bad)}'", file=file, field=self.path(bad),
                             fix=f"{hint}allowed keys here: {', '.join(allowed)} (check the spelling and indentation)")

    def path(self, key) -> str:
        return f"{self.where}.{key}" if self.where else str(key)

    def err(self, key, problem, fix):
        return InputError(problem, file=self.file, field=self.path(key), fix=fix)

    def has(self, key) -> bool:
        return self.raw.get(key) is not None

    def get(self, key, default=None):
        v = self.raw.get(key)
        return default if v is None else v

    def section(self, key, allowed):
        return _Section(self.raw.get(key), self.path(key), self.file, self.base, allowed)

    def text(self, key, default=None, *, required=False):
        v = self.raw.get(key)
        if isinstance(v, str) and not v.strip():
            v = None                      # 'key:' followed by '' or spaces: as if not given
        if isinstance(v, float) and not math.isfinite(v):
            raise self.err(key, f"'{self.path(key)}' must be a name or value, got {v}", "give one name or value")
        if v is None:
            if required:
                raise self.err(key, f"missing key '{self.path(key)}'",
                               f"add '{self.path(key)}' to the YAML (see data/sample/study.yaml)")
            return default
        if isinstance(v, (dict, list, bool)):
            raise self.err(key, f"'{self.path(key)}' must be a single value, got {_show(v)}",
                           "give one name or value")
        return str(v).strip()

    def number(self, key, default, *, lo=None, hi=None, positive=False, integer=False, fix=None):
        v = self.raw.get(key)
        if v is None:
            return default
        what = "a whole number" if integer else "a number"
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise self.err(key, f"'{self.path(key)}' must be {what}, got {_show(v)}",
                           fix or f"write {what} with Western digits, e.g. {self.path(key)}: "
                                  f"{default if default is not None else 1}")
        if integer and float(v) != int(v):
            raise self.err(key, f"'{self.path(key)}' must be a whole number, got {v}",
                           fix or f"use a whole number such as {int(v)} or {int(v) + 1}")
        if positive and not v > 0:
            raise self.err(key, f"'{self.path(key)}' must be greater than 0, got {v}", fix or "give a positive number")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise self.err(key, f"'{self.path(key)}' = {v} is outside {lo}..{hi}",
                           fix or f"give a value between {lo} and {hi}")
        return int(v) if integer else float(v)

    def flag(self, key, default):
        v = self.raw.get(key)
        if v is None:
            return default
        if not isinstance(v, bool):
            raise self.err(key, f"'{self.path(key)}' must be true or false, got {_show(v)}", "write true or false")
        return v

    def choice(self, key, default, options):
        v = self.raw.get(key)
        if v is None:
            return default
        s = str(v).strip().lower()
        if s not in options:
            close = difflib.get_close_matches(s, list(options), n=1, cutoff=0.5)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise self.err(key, f"'{self.path(key)}' = {v!r} is not one of {', '.join(options)}",
                           f"{hint}use one of: {', '.join(options)}")
        return s

    def file_path(self, key, *, required=False, must_exist=True, what="file"):
        v = self.raw.get(key)
        if isinstance(v, str) and not v.strip():
            v = None
        if v is None:
            if required:
                raise self.err(key, f"missing key '{self.path(key)}'",
                               f"add '{self.path(key)}' with the path of the {what}, relative to the YAML file")
            return None
        if isinstance(v, (dict, list, bool)):
            raise self.err(key, f"'{self.path(key)}' must be a path, got {_show(v)}", f"give the path of the {what}")
        p = Path(str(v).strip())
        p = p if p.is_absolute() else self.base / p
        if must_exist and not p.exists():
            raise self.err(key, f"file not found: {p}",
                           f"correct the path of the {what} (relative paths are relative to the YAML file)")
        if must_exist and p.is_dir():
            raise self.err(key, f"'{self.path(key)}' is a folder, not a file: {p}",
                           f"give the path of the {what} itself (the file inside the folder)")
        return p

    def mapping(self, key):
        v = self.raw.get(key)
        if v is None:
            return {}
        if not isinstance(v, dict):
            raise self.err(key, f"'{self.path(key)}' must be a mapping of 'name: value' lines, got {_show(v)}",
                           f"write it as an indented block, e.g.\n    {key}:\n      default: 15")
        return dict(v)

    def strings(self, key, default=None, *, nonempty=False):
        v = self.raw.get(key)
        if v is None:
            return default
        if nonempty and (v == [] or (isinstance(v, str) and not v.strip())):
            raise self.err(key, f"'{self.path(key)}' is empty", "list at least one value, or delete the line")
        if isinstance(v, (str, int, float)) and not isinstance(v, bool):
            v = [v]
        if not isinstance(v, list) or any(isinstance(x, (dict, list)) for x in v):
            raise self.err(key, f"'{self.path(key)}' must be a list of values, got {_show(v)}", "e.g. [a, b, c]")
        return tuple(str(x).strip() for x in v)


def _show(v) -> str:
    s = repr(v)
    return s if len(s) <= 60 else s[:57] + "..."


def _category(sec: _Section, key, value, label_map=None) -> str:
    c = str(value).strip()
    if label_map and c in label_map:
        return label_map[c]
    if c not in CATEGORIES:
        close = difflib.get_close_matches(c, list(CATEGORIES), n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise sec.err(key, f"unknown facility category {value!r}", f"{hint}use one of: {', '.join(CATEGORIES)}")
    return c


def _categories(sec: _Section, key) -> tuple | None:
    """A list of categories; one category given as a plain string (``categories: health``) or a
    comma-separated string (``health, culture``, also with Chinese commas) is read as a list."""
    v = sec.raw.get(key)
    if v is None:
        return None
    vals = sec.strings(key, nonempty=True)
    if isinstance(v, str):
        vals = tuple(x.strip() for x in v.replace("，", ",").replace("、", ",").split(",") if x.strip())
    out = []
    for c in vals:
        c = _category(sec, key, c)
        if c not in out:
            out.append(c)
    return tuple(out)


def _thresholds(a: _Section, speed: float):
    """breaks and per-category thresholds, in minutes or in metres (not both)."""
    if a.has("breaks_min") and a.has("breaks_m"):
        raise a.err("breaks_m", "give the breaks in minutes or in metres, not both",
                    "keep either analysis.breaks_min or analysis.breaks_m")
    if a.has("thresholds_min") and a.has("thresholds_m"):
        raise a.err("thresholds_m", "give the thresholds in minutes or in metres, not both",
                    "keep either analysis.thresholds_min or analysis.thresholds_m")

    def one(key, v, unit):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not v > 0:
            raise a.err(key, f"'{a.path(key)}' must be a positive number of {'minutes' if unit == 'min' else 'metres'}, "
                             f"got {_show(v)}", "e.g. 15 (minutes) or 1000 (metres)")
        t = Threshold.of(v, unit, speed)
        if t.metres > MAX_THRESHOLD_M:
            raise a.err(key, f"'{a.path(key)}' = {v:g} {unit} is {t.metres / 1000:.0f} km, not a life-circle threshold",
                        f"give at most {MAX_THRESHOLD_M / 1000:.0f} km (the 15-minute life circle is 15 min or about 1000 m)")
        return t

    bkey, bunit = ("breaks_m", "m") if a.has("breaks_m") else ("breaks_min", "min")
    raw_b = a.raw.get(bkey, [5, 10, 15])
    if isinstance(raw_b, (int, float)) and not isinstance(raw_b, bool):
        raw_b = [raw_b]
    if not isinstance(raw_b, list) or not raw_b:
        raise a.err(bkey, f"'{a.path(bkey)}' must be a list, got {_show(raw_b)}", "e.g. breaks_min: [5, 10, 15]")
    breaks = tuple(sorted({one(bkey, b, bunit) for b in raw_b}))
    tkey, tunit = ("thresholds_m", "m") if a.has("thresholds_m") else ("thresholds_min", "min")
    raw_t = a.raw.get(tkey)
    if raw_t is None:
        raw_t = {}
    elif isinstance(raw_t, (int, float)) and not isinstance(raw_t, bool):
        raise a.err(tkey, f"'{a.path(tkey)}' must be a mapping of category: value, got the single number {raw_t}",
                    f"write it as\n    {tkey}:\n      default: {raw_t:g}")
    elif not isinstance(raw_t, dict):
        raise a.err(tkey, f"'{a.path(tkey)}' must be a mapping of category: value, got {_show(raw_t)}",
                    f"e.g.\n    {tkey}:\n      default: 15\n      culture: 10")
    th = {}
    for cat, v in raw_t.items():
        if cat != "default":
            _category(a, f"{tkey}.{cat}", cat)
        th[str(cat)] = one(f"{tkey}.{cat}", v, tunit)
    th.setdefault("default", Threshold.of(15, "min", speed) if tunit == "min" else Threshold.of(1000, "m", speed))
    return breaks, th


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _crs(sec: _Section, key, default=None, *, study=False):
    """A CRS setting, checked now: pyproj must know it (``study_area.crs`` must also be projected in
    metres; its scale over the area is checked once the communities are read)."""
    v = sec.text(key, default)
    if v is None or (study and v.lower() == "auto"):
        return "auto" if study and v is not None else v
    if v.isdigit():
        v = f"EPSG:{v}"           # 4547 -> EPSG:4547
    from pyproj import CRS
    try:
        if _is_number(v):
            raise ValueError(v)   # a number that is not a whole code: PROJ would search its names for 0.5 s
        crs = CRS.from_user_input(v)
    except Exception:
        raise sec.err(key, f"unknown CRS {v!r}", "give an EPSG code such as EPSG:4547 (CGCS2000 3-degree Gauss-Kruger "
                      "CM 114E), EPSG:4490 (CGCS2000 lon/lat) or EPSG:4326 (WGS84 lon/lat)"
                      + (", or auto (the UTM zone of the area)" if study else "")) from None
    if study:
        if not crs.is_projected:
            raise sec.err(key, f"CRS {v!r} is geographic (degrees); distances need metres",
                          "use auto (the UTM zone of the area) or a projected CRS such as a CGCS2000 3-degree "
                          "Gauss-Kruger zone (EPSG:4534-4554 by central meridian)")
        unit = crs.axis_info[0].unit_name if crs.axis_info else "metre"
        if unit not in ("metre", "meter"):
            raise sec.err(key, f"CRS {v!r} has units {unit!r}, not metres",
                          "use auto or a projected CRS in metres (e.g. a CGCS2000 Gauss-Kruger zone)")
    return v


#: basemap names already found good in this process (xyzservices' lookup of a name takes ~10 ms,
#: two thirds of reading a study YAML; its provider list does not change while the process runs)
_GOOD_BASEMAPS: set = set()


def _basemap(sec: _Section, key):
    """``output.basemap``: none, a folium tiles name or an xyzservices provider name (checked now,
    not when the map is drawn after the analysis)."""
    v = sec.text(key, "OpenStreetMap")
    if v in _GOOD_BASEMAPS:
        return v
    import warnings
    from .report.webmap import resolve_basemap
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")        # xyzservices' notes are shown when the map is drawn
            resolve_basemap(v)
    except InputError as exc:
        raise sec.err(key, exc.problem, exc.fix) from None
    _GOOD_BASEMAPS.add(v)
    return v


def _encoding(sec: _Section, key):
    v = sec.text(key)
    if v is None:
        return None
    import codecs
    try:
        codecs.lookup(v)
    except LookupError:
        raise sec.err(key, f"unknown text encoding {v!r}", "use GBK or GB18030 for Chinese files from Windows "
                                                         "software, or UTF-8") from None
    return v
