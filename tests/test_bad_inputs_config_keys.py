"""Every key of the study YAML given every kind of wrong value: the config either accepts it or
stops with an InputError naming the YAML file and the key's path (``siting.k``, not ``k``); never
another exception. Runs in a few seconds (the config only, no data is read)."""

from __future__ import annotations

import copy
from pathlib import Path
from unittest import mock

import pytest

from coverage.config import StudyConfig
from coverage.errors import InputError
from coverage.io.profiles import resolve_profile as _real_resolve_profile
from helpers import read_yaml

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"

KEYS = {
    "study_area": ["name", "crs"],
    "communities": ["path", "layer", "encoding", "crs", "fields", "urban_values", "rural_values"],
    "communities.fields": ["id", "name", "township", "type", "households", "population"],
    "facilities": ["path", "layer", "sheet", "encoding", "crs", "x", "y", "coord_system", "fields", "category_map",
                   "keywords"],
    "facilities.fields": ["id", "name", "category", "type", "area", "level"],
    "population": ["path", "groups", "group_for"],
    "network": ["source", "path", "max_snap_m", "crs", "encoding", "tolerance_m", "class_field", "exclude_classes",
                "level_field", "name_field"],
    "analysis": ["walk_speed_kmh", "breaks_min", "breaks_m", "thresholds_min", "thresholds_m", "categories", "circles",
                 "facility_circles", "circle_buffer_m"],
    "siting": ["enabled", "categories", "k", "target_rate", "group_targets", "candidate_spacing_m", "candidates",
               "exclude", "method", "time_limit_s", "site_area_m2", "capacity_m2_per_100hh"],
    "output": ["folder", "map", "lang", "basemap", "category_maps"],
    "": ["profile"],
}
BAD = [[], {}, True, "abc", -1, 0, 1e9, "１２", [1, 2], {"a": 1}, "", float("nan"), "五", [None], {"x": [1]}]


def _raw():
    raw = read_yaml(SAMPLE / "study.yaml")
    raw["communities"]["path"] = str(SAMPLE / "communities.gpkg")
    raw["facilities"]["path"] = str(SAMPLE / "facilities.csv")
    raw["population"]["path"] = str(SAMPLE / "population.tif")
    raw["network"]["path"] = str(SAMPLE / "helsinki.osm.pbf")
    return raw


def _fast_profile(name, *, base=".", file=None, options=None, **kw):
    """The profile is checked once for real below; here only its setting's type matters."""
    if not isinstance(name, str) or name.strip() not in ("national_14th",):
        return _real_resolve_profile(name, base=base, file=file, **({"options": options} if options else {}))
    return name


@pytest.mark.parametrize("section", sorted(KEYS))
def test_every_key_with_every_wrong_value(section):
    base = _raw()
    accepted = []
    with mock.patch("coverage.io.profiles.resolve_profile", _fast_profile):
        for key in KEYS[section]:
            path = f"{section}.{key}".lstrip(".")
            for value in BAD:
                raw = copy.deepcopy(base)
                node = raw
                for part in [p for p in section.split(".") if p]:
                    node = node.setdefault(part, {})
                node[key] = value
                try:
                    StudyConfig.from_dict(raw, base=SAMPLE, file="study.yaml")
                    accepted.append((path, value))
                except InputError as exc:
                    assert exc.file == "study.yaml", (path, value, exc.message)
                    assert exc.field and (path in exc.field or exc.field.startswith(path + ".")), \
                        (path, value, exc.message)
                    assert exc.fix, (path, value, exc.message)
                except Exception as exc:  # noqa: BLE001
                    pytest.fail(f"{path} = {value!r}: {type(exc).__name__}: {exc}")
    # what may be accepted: names and values that are only checked against the data (column and
    # layer names, text), empty values meaning "not given", and numbers in range
    for path, value in accepted:
        assert not isinstance(value, (list, dict)) or path in ("communities.urban_values", "communities.rural_values",
                                                               "network.exclude_classes", "network.level_field",
                                                               "analysis.breaks_min", "analysis.thresholds_min",
                                                               "population.groups", "population.group_for",
                                                               "facilities.fields", "facilities.category_map",
                                                               "siting.group_targets") \
            or value in ([], {}), (path, value)
