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
#: which way a sloped walk is counted (network.dem): residents walking to the facility, or the
#: mean of going there and coming back
SLOPE_DIRECTIONS = ("to_facility", "round_trip")
#: the communities a travel circle applies to
APPLIES_TO = ("all", "urban", "rural")
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


@dataclass(frozen=True)
class TravelCircle:
    """A service circle reached by a travel mode: e.g. the rural 30-minute circle by e-bike
    (``analysis.travel_circles``). ``threshold`` in minutes is a travel time by ``mode`` (a cost of
    minutes x walking speed flat-walking metres, :mod:`coverage.core.modes`); in metres it is a
    distance along the road network (the flat walk), whatever the mode. ``applies_to``: the
    communities whose rate it measures (all, urban, rural)."""

    category: str
    threshold: Threshold
    mode: str = "walk"
    applies_to: str = "all"
    name: str | None = None

    @property
    def key(self) -> str:
        """Short id for columns and tables: ``comprehensive_ebike_30min_rural``."""
        tail = "" if self.applies_to == "all" else f"_{self.applies_to}"
        return f"{self.category}_{self.mode}_{self.threshold.key}{tail}"

    def label(self, lang: str = "zh", modes: dict | None = None, sloped: bool = False) -> str:
        """"电动自行车30分钟" / "30 min by e-bike"; a walk on a DEM says so ("步行（按坡度）30分钟")."""
        from .core.modes import mode_label
        mode = mode_label(self.mode, lang, modes)
        thr = self.threshold.label(lang)
        if self.threshold.unit == "m":       # a network distance, whatever the mode
            return f"{mode}{thr}（路网距离）" if lang == "zh" else f"{thr} by {mode} (network distance)"
        if self.mode == "walk":
            if lang == "zh":
                return f"{mode}（按坡度）{thr}" if sloped else f"{mode}{thr}"
            return f"{thr} walk" + (" (slope-adjusted)" if sloped else "")
        return f"{mode}{thr}" if lang == "zh" else f"{thr} by {mode}"


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
    class_map: dict | None = None   # road layer class value -> OSM highway class (source: roads)
    dem: Path | None = None         # elevation GeoTIFF: walking time by Tobler's function

    def roads_options(self) -> dict:
        keys = ("encoding", "crs", "tolerance_m", "class_field", "exclude_classes", "level_field", "name_field",
                "class_map")
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
    slope: str = "to_facility"      # SLOPE_DIRECTIONS: the direction of a sloped walk that counts
    modes: dict = field(default_factory=dict)        # name -> ModeSpec: packaged modes + analysis.modes
    travel_circles: tuple = ()      # TravelCircle s (analysis.travel_circles)

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
        from .config_parse import _parse
        return _parse(raw, Path(base), file, require_paths)


# --------------------------------------------------------------------------- reading

#: libyaml's parser (in the PyYAML wheels) is ~10x the pure-Python one; the constructor stays Python
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeLoader):
    """A YAML loader that stops on a key given twice (otherwise the last one silently wins)."""


def _construct_mapping(loader, node, deep=False):
    loader.flatten_mapping(node)
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise _DuplicateKey(key, seen[key] + 1, key_node.start_mark.line + 1)
        seen[key] = key_node.start_mark.line
    return _SafeLoader.construct_mapping(loader, node, deep=deep)


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
    from .config_parse import _parse
    return _parse(raw, path.resolve().parent, str(path), True)
