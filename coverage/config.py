"""The study settings as one typed object, parsed and checked completely before any work.

A study is described by one YAML file (paths relative to it) or by the same keys as a Python
dict (:meth:`StudyConfig.from_dict`). Every key is read through :class:`_Section`, which knows
the key's YAML path: an unknown key, a missing file or a bad value stops with an
:class:`~coverage.errors.InputError` naming the file, the key path (``siting.k``, not ``k``)
and the fix. Nothing downstream reads the raw dict.

Thresholds are :class:`Threshold` objects: minutes of walking (``analysis.breaks_min``,
``thresholds_min``) or metres (``breaks_m``, ``thresholds_m``), never both; each knows its
distance in metres and its label ("15 分钟" / "500 米")."""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError
from .labels import CATEGORIES, DEFAULT_WALK_SPEED_KMH

NETWORK_SOURCES = ("pbf", "osm", "graphml", "roads", "download")
#: plausible walking speeds (km/h); outside this a value is a typo (e.g. 40 for 4.0, or m/s)
WALK_SPEED_RANGE = (0.5, 10.0)
#: the longest threshold accepted, in metres (a county-wide 30-minute e-bike circle is ~10 km)
MAX_THRESHOLD_M = 50_000.0
SITING_METHODS = ("auto", "exact", "greedy")
LANGS = ("zh", "en")
DEFAULT_URBAN = ("urban", "城市", "城镇", "社区", "居委会")
DEFAULT_RURAL = ("rural", "农村", "乡村", "村", "村委会")


# --------------------------------------------------------------------------- thresholds

@dataclass(frozen=True, order=True)
class Threshold:
    """A life-circle threshold: ``value`` minutes of walking or ``value`` metres."""

    metres: float
    value: float
    unit: str  # "min" or "m"

    @classmethod
    def of(cls, value: float, unit: str, speed_m_per_min: float) -> "Threshold":
        value = float(value)
        m = value * speed_m_per_min if unit == "min" else value
        return cls(round(m, 6), value, unit)

    @property
    def minutes(self) -> float | None:
        """Minutes when the threshold was given in minutes (None for a distance threshold)."""
        return self.value if self.unit == "min" else None

    def minutes_at(self, speed_m_per_min: float) -> float:
        """Minutes of walking: the given minutes, or a distance threshold's equivalent at the speed."""
        return self.value if self.unit == "min" else round(self.metres / speed_m_per_min, 6)

    def label(self, lang: str = "zh") -> str:
        v = f"{self.value:g}"
        if lang == "en":
            return f"{v} min" if self.unit == "min" else f"{v} m"
        return f"{v}分钟" if self.unit == "min" else f"{v}米"

    @property
    def key(self) -> str:
        """Short id for column and layer names: ``15min``, ``500m``."""
        return f"{self.value:g}{self.unit}".replace(".", "_")


# --------------------------------------------------------------------------- sections

@dataclass(frozen=True)
class StudyArea:
    name: str = "study area"
    crs: str = "auto"


@dataclass(frozen=True)
class CommunityFields:
    id: str | None = None
    name: str | None = None
    township: str | None = None
    type: str | None = None
    households: str | None = None
    population: str | None = None


@dataclass(frozen=True)
class Communities:
    path: Path | None = None
    layer: str | None = None
    encoding: str | None = None
    crs: str | None = None
    fields: CommunityFields = field(default_factory=CommunityFields)
    urban_values: tuple = DEFAULT_URBAN
    rural_values: tuple = DEFAULT_RURAL


@dataclass(frozen=True)
class FacilityFields:
    id: str | None = None
    name: str | None = None
    category: str | None = None
    type: str | None = None
    area: str | None = None
    site_area: str | None = None   # ground (site) area of plazas / sports grounds, m²
    level: str | None = None


@dataclass(frozen=True)
class Facilities:
    path: Path | None = None
    layer: str | None = None
    sheet: str | int | None = None
    encoding: str | None = None
    crs: str | None = None
    x: str = "lon"
    y: str = "lat"
    coord_system: str = "wgs84"
    fields: FacilityFields = field(default_factory=FacilityFields)
    category_map: dict = field(default_factory=dict)
    keywords: Path | None = None


@dataclass(frozen=True)
class Population:
    path: Path | None = None
    groups: dict = field(default_factory=dict)      # group -> raster path
    group_for: dict = field(default_factory=dict)   # category -> group


@dataclass(frozen=True)
class Network:
    source: str | None = None
    path: Path | None = None
    max_snap_m: float = 300.0
    crs: str | None = None
    encoding: str | None = None
    tolerance_m: float = 1.0
    class_field: str | None = None
    exclude_classes: tuple | None = None
    level_field: Any = None
    name_field: str | None = None

    def roads_options(self) -> dict:
        keys = ("encoding", "crs", "tolerance_m", "class_field", "exclude_classes", "level_field", "name_field")
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}


@dataclass(frozen=True)
class Analysis:
    walk_speed_kmh: float = DEFAULT_WALK_SPEED_KMH
    breaks: tuple = ()                      # Thresholds, sorted
    thresholds: dict = field(default_factory=dict)  # "default" and categories -> Threshold
    categories: tuple = CATEGORIES
    circles: bool = True
    facility_circles: bool = True
    circle_buffer_m: float = 30.0
    circle_cell_m: float = 10.0     # grid on which life-circle polygons are drawn (coverage.core.isochrones)

    @property
    def speed_m_per_min(self) -> float:
        return self.walk_speed_kmh * 1000.0 / 60.0

    def threshold(self, category: str) -> Threshold:
        """The plan threshold of a category (its own, else the default)."""
        return self.thresholds.get(category, self.thresholds["default"])


@dataclass(frozen=True)
class Siting:
    enabled: bool = True
    categories: tuple | None = None
    k: int = 5
    target_rate: float | None = None
    group_targets: dict | None = None
    candidate_spacing_m: float = 100.0
    candidates: Path | None = None
    exclude: Path | None = None
    method: str = "auto"
    time_limit_s: float = 60.0
    site_area_m2: float = 300.0
    capacity_m2_per_100hh: float = 30.0


@dataclass(frozen=True)
class Output:
    folder: Path = Path("out")
    map: Path | None = None
    lang: str = "zh"
    basemap: str = "OpenStreetMap"
    category_maps: bool = False         # also map_<category>.html (coverage/report/outputs.py)


@dataclass(frozen=True)
class StudyConfig:
    """Every setting of a study, checked. ``file`` is the YAML (or "<python>"), ``base`` the folder
    relative paths were resolved against."""

    file: str = "<python>"
    base: Path = Path(".")
    study_area: StudyArea = field(default_factory=StudyArea)
    communities: Communities = field(default_factory=Communities)
    facilities: Facilities = field(default_factory=Facilities)
    population: Population = field(default_factory=Population)
    network: Network = field(default_factory=Network)
    analysis: Analysis = field(default_factory=Analysis)
    profile: str = "national_14th"
    profile_options: dict = field(default_factory=dict)   # e.g. {region: ewn} for the Guangdong profile
    siting: Siting = field(default_factory=Siting)
    output: Output = field(default_factory=Output)
    #: things the planner should know about the settings (printed as warnings with the run)
    notes: tuple = ()

    @property
    def speed_m_per_min(self) -> float:
        return self.analysis.speed_m_per_min

    def with_output(self, folder=None, map_path=None) -> "StudyConfig":
        out = self.output
        if folder is not None:
            out = replace(out, folder=Path(folder))
        if map_path is not None:
            out = replace(out, map=Path(map_path))
        return replace(self, output=out)

    def relative(self, path) -> str:
        """A path as written for tables: relative to the YAML's folder when inside it, so outputs
        do not depend on where the project was cloned."""
        if path is None:
            return ""
        p = Path(path)
        try:
            return p.resolve().relative_to(Path(self.base).resolve()).as_posix()
        except ValueError:
            return p.as_posix()

    @classmethod
    def from_yaml(cls, path) -> "StudyConfig":
        return load_config(path)

    @classmethod
    def from_dict(cls, raw: dict, *, base=".", file="<python>", require_paths=True) -> "StudyConfig":
        """The same keys as the YAML. ``require_paths=False`` lets in-memory layers stand in for
        the community, facility, population and network files."""
        return _parse(raw, Path(base), file, require_paths)


# --------------------------------------------------------------------------- reading

class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that stops on a key given twice (otherwise the last one silently wins)."""


def _construct_mapping(loader, node, deep=False):
    loader.flatten_mapping(node)
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise _DuplicateKey(key, seen[key] + 1, key_node.start_mark.line + 1)
        seen[key] = key_node.start_mark.line
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


class _DuplicateKey(Exception):
    def __init__(self, key, first, second):
        super().__init__(key)
        self.key, self.first, self.second = key, first, second


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_config(path) -> StudyConfig:
    """Read and check a study YAML."""
    path = Path(path)
    if path.is_dir() or not path.exists():
        raise InputError("study YAML not found", file=str(path),
                         fix="pass --config with the path of your study YAML (see data/sample/study.yaml)")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        enc = "GBK"
        try:
            data.decode("gb18030")
        except UnicodeDecodeError:
            enc = "an unknown encoding"
        raise InputError(f"the YAML is not UTF-8 text (it looks like {enc})", file=str(path), field="(whole file)",
                         fix="save the file as UTF-8 (in Notepad: Save As, Encoding UTF-8; in VS Code: "
                             "'Save with Encoding' UTF-8)") from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)
    except _DuplicateKey as exc:
        raise InputError(f"the key {exc.key!r} is given twice in the same section (lines {exc.first} and "
                         f"{exc.second}); the YAML would silently keep only the last one",
                         file=str(path), field=str(exc.key),
                         fix="delete one of the two lines (or indent it under the section it belongs to)") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        raise InputError(f"the YAML cannot be read: {exc}", file=str(path),
                         field=f"line {mark.line + 1}" if mark is not None else "(whole file)",
                         fix="fix the YAML syntax at the line shown (indent with spaces, 'key: value')") from None
    if raw is None:
        raise InputError("the YAML is empty", file=str(path), field="(whole file)",
                         fix="copy data/sample/study.yaml and edit it")
    return _parse(raw, path.resolve().parent, str(path), True)


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


def _parse(raw, base: Path, file: str, require_paths: bool) -> StudyConfig:
    top = _Section(raw, "", file, base, ("study_area", "communities", "facilities", "population", "network",
                                        "analysis", "profile", "profile_options", "siting", "output"))
    s = top.section("study_area", ("name", "crs"))
    study_area = StudyArea(name=s.text("name", "study area"), crs=_crs(s, "crs", "auto", study=True))

    c = top.section("communities", ("path", "layer", "encoding", "crs", "fields", "urban_values", "rural_values"))
    cf = c.section("fields", ("id", "name", "township", "type", "households", "population"))
    communities = Communities(
        path=c.file_path("path", required=require_paths, what="community boundary layer"),
        layer=c.text("layer"), encoding=_encoding(c, "encoding"), crs=_crs(c, "crs"),
        fields=CommunityFields(id=cf.text("id", required=require_paths), name=cf.text("name"),
                               township=cf.text("township"), type=cf.text("type"),
                               households=cf.text("households"), population=cf.text("population")),
        urban_values=c.strings("urban_values", DEFAULT_URBAN), rural_values=c.strings("rural_values", DEFAULT_RURAL))

    f = top.section("facilities", ("path", "layer", "sheet", "encoding", "crs", "x", "y", "coord_system", "fields",
                                   "category_map", "keywords"))
    ff = f.section("fields", ("id", "name", "category", "type", "area", "site_area", "level"))
    from .io.coords import SYSTEM_ALIASES
    cs = f.text("coord_system", "wgs84")
    if cs.lower() not in SYSTEM_ALIASES:
        raise f.err("coord_system", f"unknown coordinate system {cs!r}",
                    "use wgs84 (GPS, OSM, CGCS2000), gcj02 (Amap/Gaode, Tencent) or bd09 (Baidu)")
    cmap = {}
    keywords = f.file_path("keywords", what="keyword table")
    if f.mapping("category_map"):
        from .io.categories import resolve_category_label
        from .io.facilities import keyword_table
        table = keyword_table(keywords)
        for k, v in f.mapping("category_map").items():
            # a plan key, a Chinese label (医疗卫生设施) or an alias of the keyword table
            key = resolve_category_label(v, table) if isinstance(v, str) else None
            cmap[k] = key if key is not None else _category(f, f"category_map.{k}", v)
    sheet = f.get("sheet")
    if isinstance(sheet, bool) or (isinstance(sheet, (int, float)) and not (float(sheet).is_integer() and 0 <= sheet < 1000)):
        raise f.err("sheet", f"'facilities.sheet' must be a sheet name or its number (0 = the first sheet), got {_show(sheet)}",
                    "write the sheet's name as it shows on its tab (e.g. sheet: 设施清单) or 0 for the first sheet")
    if isinstance(sheet, float):
        sheet = int(sheet)
    facilities = Facilities(
        path=f.file_path("path", required=require_paths, what="facility table or layer"),
        layer=f.text("layer"), sheet=sheet if isinstance(sheet, int) and not isinstance(sheet, bool) else f.text("sheet"),
        encoding=_encoding(f, "encoding"), crs=_crs(f, "crs"), x=f.text("x", "lon"), y=f.text("y", "lat"),
        coord_system=cs.lower(),
        fields=FacilityFields(id=ff.text("id"), name=ff.text("name"), category=ff.text("category"),
                              type=ff.text("type"), area=ff.text("area"), site_area=ff.text("site_area"),
                              level=ff.text("level")),
        category_map=cmap, keywords=keywords)

    p = top.section("population", ("path", "groups", "group_for"))
    groups = {}
    for g, gp in p.mapping("groups").items():
        groups[str(g)] = p.section("groups", tuple(map(str, p.mapping("groups")))).file_path(
            g, required=True, what=f"age-group raster {g!r}")
    group_for = {}
    for cat, g in p.mapping("group_for").items():
        _category(p, f"group_for.{cat}", cat)
        if str(g) not in groups:
            raise p.err(f"group_for.{cat}", f"population group {g!r} is not defined",
                        f"define it under population.groups (have: {sorted(groups) or 'none'})")
        group_for[str(cat)] = str(g)
    population = Population(path=p.file_path("path", required=require_paths, what="population raster"),
                            groups=groups, group_for=group_for)

    n = top.section("network", ("source", "path", "max_snap_m", "crs", "encoding", "tolerance_m", "class_field",
                                "exclude_classes", "level_field", "name_field"))
    src = n.choice("source", None, NETWORK_SOURCES)
    if src is None and require_paths:
        raise n.err("source", "missing key 'network.source'",
                    f"add network.source: one of {', '.join(NETWORK_SOURCES)} (pbf for an .osm.pbf extract)")
    lf = n.get("level_field")
    network = Network(
        source=src,
        path=n.file_path("path", required=require_paths and src not in (None, "download"), what="network file"),
        max_snap_m=n.number("max_snap_m", 300.0, positive=True, hi=5000.0),
        crs=_crs(n, "crs"), encoding=_encoding(n, "encoding"),
        tolerance_m=n.number("tolerance_m", 1.0, lo=0.0, hi=50.0), class_field=n.text("class_field"),
        exclude_classes=n.strings("exclude_classes"),
        level_field=n.strings("level_field") if isinstance(lf, list) else n.text("level_field"),
        name_field=n.text("name_field"))
    if network.source == "download" and network.path is not None:
        raise n.err("path", "network.path is given with source: download",
                    "remove network.path, or set network.source to the file's format")

    a = top.section("analysis", ("walk_speed_kmh", "breaks_min", "breaks_m", "thresholds_min", "thresholds_m",
                                 "categories", "circles", "facility_circles", "circle_buffer_m", "circle_cell_m"))
    speed_kmh = a.number("walk_speed_kmh", DEFAULT_WALK_SPEED_KMH, lo=WALK_SPEED_RANGE[0], hi=WALK_SPEED_RANGE[1],
                         fix=f"give a speed between {WALK_SPEED_RANGE[0]} and {WALK_SPEED_RANGE[1]} km/h: 4.0 is usual "
                             "(15 min = 1000 m), about 3.0 for the elderly")
    breaks, thresholds = _thresholds(a, speed_kmh * 1000.0 / 60.0)
    analysis = Analysis(walk_speed_kmh=speed_kmh, breaks=breaks, thresholds=thresholds,
                        categories=_categories(a, "categories") or CATEGORIES,
                        circles=a.flag("circles", True), facility_circles=a.flag("facility_circles", True),
                        circle_buffer_m=a.number("circle_buffer_m", 30.0, positive=True, hi=500.0),
                        circle_cell_m=a.number("circle_cell_m", 10.0, positive=True, hi=100.0))

    profile = top.text("profile", "national_14th")
    profile_options = {str(k): str(v) for k, v in top.mapping("profile_options").items()}
    from .io.profiles import resolve_profile
    profile = resolve_profile(profile, base=base, file=file, options=profile_options or None)

    si = top.section("siting", ("enabled", "categories", "k", "target_rate", "group_targets", "candidate_spacing_m",
                                "candidates", "exclude", "method", "time_limit_s", "site_area_m2",
                                "capacity_m2_per_100hh"))
    target = si.get("target_rate")
    if target is not None:
        if not isinstance(target, bool) and isinstance(target, (int, float)) and 1 < target <= 100:
            raise si.err("target_rate", f"'siting.target_rate' = {target} is more than 1",
                         f"write the rate as a fraction: {target / 100:g} for {target:g}%")
        target = si.number("target_rate", None, lo=0.0, hi=1.0, fix="a coverage rate between 0 and 1, e.g. 0.9")
        if target == 0:
            raise si.err("target_rate", "'siting.target_rate' = 0 asks for no coverage at all",
                         "give the rate to reach, e.g. 0.9, or delete the line to suggest siting.k sites")
    gt = si.get("group_targets")
    if gt is not None:
        gsec = si.section("group_targets", ("urban", "rural"))
        gt = {k: gsec.number(k, None, lo=0.0, hi=1.0, fix="a rate between 0 and 1, e.g. urban: 1.0") for k in gsec.raw}
    siting = Siting(
        enabled=si.flag("enabled", True), categories=_categories(si, "categories"),
        k=si.number("k", 5, integer=True, positive=True, hi=10_000,
                    fix="the number of new sites per category, a whole number such as 5"),
        target_rate=target, group_targets=gt,
        candidate_spacing_m=si.number("candidate_spacing_m", 100.0, positive=True, hi=10_000.0),
        candidates=si.file_path("candidates", what="candidate site layer"),
        exclude=si.file_path("exclude", what="exclusion polygon layer"),
        method=si.choice("method", "auto", SITING_METHODS),
        time_limit_s=si.number("time_limit_s", 60.0, positive=True, hi=86_400.0),
        site_area_m2=si.number("site_area_m2", 300.0, positive=True),
        capacity_m2_per_100hh=si.number("capacity_m2_per_100hh", 30.0, positive=True))

    notes = []
    if siting.enabled and (siting.target_rate is not None or siting.group_targets) and si.has("k"):
        goal = (f"siting.target_rate = {siting.target_rate:g}" if siting.target_rate is not None
                else f"siting.group_targets = {siting.group_targets}")
        notes.append(f"{file}: siting.k = {siting.k} is not used because {goal} is set: the fewest new sites "
                     "that reach the target are suggested (delete siting.k, or delete the target to get k sites)")

    o = top.section("output", ("folder", "map", "lang", "basemap", "category_maps"))
    folder = Path(o.text("folder", "out"))
    mp = o.text("map")
    if mp is not None and Path(mp).suffix.lower() not in (".html", ".htm"):
        raise o.err("map", f"'output.map' = {mp!r} is not an .html file name", "give a file name ending in .html, "
                    "e.g. output.map: maps/my_county.html (or delete the line for OUT/map.html)")
    output = Output(folder=folder if folder.is_absolute() else base / folder,
                    map=None if mp is None else (Path(mp) if Path(mp).is_absolute() else base / mp),
                    lang=o.choice("lang", "zh", LANGS), basemap=_basemap(o, "basemap"),
                    category_maps=o.flag("category_maps", False))
    return StudyConfig(file=file, base=base, study_area=study_area, communities=communities, facilities=facilities,
                       population=population, network=network, analysis=analysis, profile=profile,
                       profile_options=profile_options, siting=siting,
                       output=output, notes=tuple(notes))


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


def _basemap(sec: _Section, key):
    """``output.basemap``: none, a folium tiles name or an xyzservices provider name (checked now,
    not when the map is drawn after the analysis)."""
    v = sec.text(key, "OpenStreetMap")
    import warnings
    from .report.webmap import resolve_basemap
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")        # xyzservices' notes are shown when the map is drawn
            resolve_basemap(v)
    except InputError as exc:
        raise sec.err(key, exc.problem, exc.fix) from None
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
