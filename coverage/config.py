"""The study YAML: one file per study area, validated in full before any work starts.

Every key is listed in SCHEMA; an unknown key, a missing file or a bad value stops the run with a
message naming the YAML file, the key and the fix. Paths are relative to the YAML file."""

from __future__ import annotations

import copy
import difflib
from pathlib import Path

import yaml

from . import CATEGORIES
from .errors import InputError

REQUIRED = object()

#: key -> default (REQUIRED = must be given; dict = nested section)
SCHEMA = {
    "study_area": {"name": "study area", "crs": "auto"},
    "communities": {
        "path": REQUIRED, "layer": None, "encoding": None, "crs": None,
        "fields": {"id": REQUIRED, "name": None, "township": None, "type": None,
                   "households": None, "population": None},
        "urban_values": ["urban", "城市", "城镇", "社区", "居委会"],
        "rural_values": ["rural", "农村", "乡村", "村", "村委会"],
    },
    "facilities": {
        "path": REQUIRED, "layer": None, "sheet": None, "encoding": None, "crs": None,
        "x": "lon", "y": "lat", "coord_system": "wgs84",
        "fields": {"id": None, "name": None, "category": None, "type": None, "area": None, "level": None},
        "category_map": {}, "keywords": None,
    },
    "population": {"path": REQUIRED, "groups": {}, "group_for": {}},
    "network": {"source": REQUIRED, "path": None, "max_snap_m": 300.0, "crs": None, "encoding": None,
                "tolerance_m": 1.0, "class_field": None, "exclude_classes": None,
                "level_field": None, "name_field": None},
    "analysis": {"walk_speed_kmh": 4.0, "breaks_min": [5, 10, 15],
                 "thresholds_min": {"default": 15}, "categories": None,
                 "circles": True, "facility_circles": True, "circle_buffer_m": 30.0},
    "profile": "national_14th",
    "siting": {"enabled": True, "categories": None, "k": 5, "target_rate": None,
               "group_targets": None, "candidate_spacing_m": 100.0, "candidates": None,
               "exclude": None, "method": "auto", "time_limit_s": 60,
               "site_area_m2": 300.0, "capacity_m2_per_100hh": 30.0},
    "output": {"folder": "out", "map": None, "lang": "zh", "basemap": "OpenStreetMap"},
}

NETWORK_SOURCES = ("pbf", "osm", "graphml", "roads", "download")
#: plausible walking speeds (km/h); outside this a value is a typo (e.g. 40 for 4.0, or m/s)
WALK_SPEED_RANGE = (0.5, 10.0)


def _merge(schema, given, where, file):
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise InputError(f"'{where}' must be a mapping of keys", file=file, field=where,
                         fix=f"allowed keys: {', '.join(schema)}")
    unknown = sorted(set(given) - set(schema), key=str)
    if unknown:
        bad = unknown[0]
        close = difflib.get_close_matches(str(bad), list(schema), n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise InputError(f"unknown key '{where + '.' if where else ''}{bad}'", file=file,
                         field=f"{where + '.' if where else ''}{bad}",
                         fix=f"{hint}allowed keys here: {', '.join(schema)} (check the spelling)")
    out = {}
    for key, default in schema.items():
        path = f"{where}.{key}" if where else key
        if isinstance(default, dict) and default and key not in ("thresholds_min", "category_map",
                                                                   "groups", "group_for"):
            out[key] = _merge(default, given.get(key), path, file)
        elif key in given and given[key] is not None:
            out[key] = given[key]
        elif default is REQUIRED:
            raise InputError(f"missing key '{path}'", file=file, field=path,
                             fix=f"add '{path}' to the YAML (see data/sample/study.yaml)")
        else:
            out[key] = copy.deepcopy(default)
    return out


def load_config(path) -> dict:
    path = Path(path)
    if not path.exists():
        raise InputError("study YAML not found", file=str(path), fix="pass --config with the path of your study YAML")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputError(f"the YAML cannot be read: {exc}", file=str(path), fix="fix the YAML syntax at the line shown")
    file = str(path)
    cfg = _merge(SCHEMA, raw, "", file)
    base = path.resolve().parent
    cfg["_file"] = file
    cfg["_base"] = str(base)

    def resolve(section, key="path", required=True):
        val = cfg[section][key]
        if val is None:
            return
        p = Path(val)
        p = p if p.is_absolute() else base / p
        if required and not p.exists():
            raise InputError(f"file not found: {p}", file=file, field=f"{section}.{key}",
                             fix="correct the path (relative paths are relative to the YAML file)")
        cfg[section][key] = str(p)

    resolve("communities")
    resolve("facilities")
    resolve("population")
    groups = cfg["population"]["groups"] or {}
    if not isinstance(groups, dict):
        raise InputError("population.groups must map a group name to a raster path", file=file,
                         field="population.groups", fix="e.g. groups: {elderly: pop_60plus.tif}")
    for g, gp in list(groups.items()):
        p = Path(gp)
        p = p if p.is_absolute() else base / p
        if not p.exists():
            raise InputError(f"file not found: {p}", file=file, field=f"population.groups.{g}",
                             fix="correct the path of the age-group raster")
        groups[g] = str(p)
    for cat, g in (cfg["population"]["group_for"] or {}).items():
        _check_category(cat, f"population.group_for.{cat}", file)
        if g not in groups:
            raise InputError(f"population group {g!r} is not defined", file=file,
                             field=f"population.group_for.{cat}", fix=f"define it under population.groups (have: {sorted(groups)})")
    net = cfg["network"]
    if net["source"] not in NETWORK_SOURCES:
        raise InputError(f"unknown network source {net['source']!r}", file=file, field="network.source",
                         fix=f"use one of: {', '.join(NETWORK_SOURCES)}")
    if net["source"] != "download":
        if net["path"] is None:
            raise InputError("missing key 'network.path'", file=file, field="network.path",
                             fix="give the network file, or use source: download when online")
        resolve("network")
    if cfg["siting"]["candidates"]:
        resolve("siting", "candidates")
    if cfg["siting"]["exclude"]:
        resolve("siting", "exclude")
    if cfg["facilities"]["keywords"]:
        resolve("facilities", "keywords")

    a = cfg["analysis"]
    _positive(a["walk_speed_kmh"], "analysis.walk_speed_kmh", file)
    if not WALK_SPEED_RANGE[0] <= a["walk_speed_kmh"] <= WALK_SPEED_RANGE[1]:
        raise InputError(f"'analysis.walk_speed_kmh' = {a['walk_speed_kmh']} km/h is not a walking speed",
                         file=file, field="analysis.walk_speed_kmh",
                         fix=f"give a speed between {WALK_SPEED_RANGE[0]} and {WALK_SPEED_RANGE[1]} km/h: "
                             "4.0 is usual (15 min = 1000 m), about 3.0 for the elderly")
    from .coords import SYSTEM_ALIASES
    cs = cfg["facilities"]["coord_system"]
    if str(cs).strip().lower() not in SYSTEM_ALIASES:
        raise InputError(f"unknown coordinate system {cs!r}", file=file, field="facilities.coord_system",
                         fix="use wgs84 (GPS, OSM, CGCS2000), gcj02 (Amap/Gaode, Tencent) or bd09 (Baidu)")
    _positive(net["max_snap_m"], "network.max_snap_m", file)
    if not isinstance(a["breaks_min"], list) or not a["breaks_min"]:
        raise InputError("analysis.breaks_min must be a list of minutes", file=file, field="analysis.breaks_min",
                         fix="e.g. breaks_min: [5, 10, 15]")
    for b in a["breaks_min"]:
        _positive(b, "analysis.breaks_min", file)
    a["breaks_min"] = sorted(float(b) for b in a["breaks_min"])
    th = dict(a["thresholds_min"] or {})
    th.setdefault("default", 15)
    for cat, v in th.items():
        if cat != "default":
            _check_category(cat, f"analysis.thresholds_min.{cat}", file)
        _positive(v, f"analysis.thresholds_min.{cat}", file)
    a["thresholds_min"] = th
    if a["categories"] is not None:
        for c in a["categories"]:
            _check_category(c, "analysis.categories", file)
    for c in cfg["siting"]["categories"] or []:
        _check_category(c, "siting.categories", file)
    for raw_val, c in (cfg["facilities"]["category_map"] or {}).items():
        _check_category(c, f"facilities.category_map.{raw_val}", file)
    if cfg["output"]["lang"] not in ("zh", "en"):
        raise InputError("output.lang must be zh or en", file=file, field="output.lang", fix="use zh or en")
    out = Path(cfg["output"]["folder"])
    cfg["output"]["folder"] = str(out if out.is_absolute() else base / out)
    return cfg


def _positive(v, key, file):
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not v > 0:
        raise InputError(f"'{key}' must be a positive number, got {v!r}", file=file, field=key,
                         fix="give a number greater than 0")


def _check_category(c, key, file):
    if c not in CATEGORIES:
        close = difflib.get_close_matches(str(c), list(CATEGORIES), n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise InputError(f"unknown facility category {c!r}", file=file, field=key,
                         fix=f"{hint}use one of: {', '.join(CATEGORIES)}")


def speed_m_per_min(cfg) -> float:
    return cfg["analysis"]["walk_speed_kmh"] * 1000.0 / 60.0


def threshold_min(cfg, category) -> float:
    th = cfg["analysis"]["thresholds_min"]
    return float(th.get(category, th["default"]))
