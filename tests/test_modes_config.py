"""The settings of travel modes and slope (issue 14): ``network.dem``, ``network.class_map``,
``analysis.slope``, ``analysis.modes``, ``analysis.travel_circles``. A bad value stops before any
work with an InputError naming the YAML file and the key's path (``analysis.travel_circles[0].mode``)
and a fix; good values give typed settings (ModeSpec, TravelCircle)."""

from __future__ import annotations

import copy
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import rasterio
import yaml
from rasterio.transform import from_origin

from coverage.config import StudyConfig, Threshold, TravelCircle, load_config
from coverage.core.modes import packaged_modes
from coverage.errors import InputError
from coverage.io.profiles import resolve_profile as _real_resolve_profile
from helpers import read_yaml

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def _raw():
    raw = read_yaml(SAMPLE / "study.yaml")
    raw["communities"]["path"] = str(SAMPLE / "communities.gpkg")
    raw["facilities"]["path"] = str(SAMPLE / "facilities.csv")
    raw["population"]["path"] = str(SAMPLE / "population.tif")
    raw["network"]["path"] = str(SAMPLE / "helsinki.osm.pbf")
    raw["network"].pop("dem", None)
    raw["analysis"].pop("travel_circles", None)
    raw["analysis"].pop("modes", None)
    return raw


def _fast_profile(name, *, base=".", file=None, options=None, **kw):
    if not isinstance(name, str) or name.strip() != "national_14th":
        return _real_resolve_profile(name, base=base, file=file, **({"options": options} if options else {}))
    return name


def _parse(raw):
    with mock.patch("coverage.io.profiles.resolve_profile", _fast_profile):
        return StudyConfig.from_dict(raw, base=SAMPLE, file="study.yaml")


def _err(raw, field, *words):
    with pytest.raises(InputError) as ei:
        _parse(raw)
    e = ei.value
    assert e.file == "study.yaml", e.message
    assert e.field == field, e.message
    assert e.fix, e.message
    for w in words:
        assert w in e.message, e.message
    return e


@pytest.fixture(scope="module")
def dem_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("dem") / "dem.tif"
    with rasterio.open(p, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32", crs="EPSG:32635",
                       transform=from_origin(385000, 6674000, 1000, 1000)) as dst:
        dst.write(np.full((1, 4, 4), 10.0, dtype="float32"))
    return p


# ----------------------------------------------------------------------------- good settings


def test_defaults_without_the_new_keys():
    cfg = _parse(_raw())
    assert cfg.network.dem is None and cfg.network.class_map is None
    assert cfg.analysis.slope == "to_facility"
    assert cfg.analysis.travel_circles == ()
    assert set(cfg.analysis.modes) == set(packaged_modes())
    assert "class_map" not in cfg.network.roads_options()


def test_modes_circles_dem_and_slope(dem_file):
    raw = _raw()
    raw["network"]["dem"] = str(dem_file)
    raw["analysis"]["slope"] = "round_trip"
    raw["analysis"]["modes"] = {"ebike": {"speeds_kmh": {"Primary": 20}, "label_en": "electric bike"},
                                "tricycle": {"default_kmh": 8, "label_zh": "三轮车", "exclude_classes": ["steps"],
                                             "walk_classes": ["footway"]},
                                "walk": {"label_zh": "走路", "slope": "none"}}
    raw["analysis"]["travel_circles"] = [
        {"category": "comprehensive", "minutes": 30, "mode": "ebike", "applies_to": "rural"},
        {"category": "culture", "metres": 5000, "mode": "Tricycle", "name": "十里文化圈"},
        {"category": "health", "minutes": 20}]
    cfg = _parse(raw)
    assert cfg.network.dem == dem_file
    assert cfg.analysis.slope == "round_trip"
    m = cfg.analysis.modes
    # an override keeps the packaged speeds and adds its own (road classes lower-cased)
    assert m["ebike"].speeds_kmh["primary"] == 20.0 and m["ebike"].speeds_kmh["service"] == 12.0
    assert m["ebike"].default_kmh == 15.0 and m["ebike"].label_en == "electric bike"
    assert m["ebike"].label_zh == "电动自行车"
    assert m["tricycle"].default_kmh == 8.0 and m["tricycle"].exclude_classes == ("steps",)
    assert m["walk"].label_zh == "走路" and m["walk"].slope == "none" and m["car"] == packaged_modes()["car"]
    speed = cfg.speed_m_per_min
    a, b, c = cfg.analysis.travel_circles
    assert a == TravelCircle("comprehensive", Threshold.of(30, "min", speed), "ebike", "rural", None)
    assert a.threshold.metres == pytest.approx(2000.0)          # 30 min x 66.67 flat-walking m/min
    assert a.key == "comprehensive_ebike_30min_rural"
    assert a.label("zh", m) == "电动自行车30分钟" and a.label("en", m) == "30 min by electric bike"
    assert b.threshold == Threshold.of(5000, "m", speed) and b.mode == "tricycle" and b.name == "十里文化圈"
    assert b.label("zh", m) == "三轮车5000米（路网距离）"
    assert c.mode == "walk" and c.applies_to == "all"
    assert c.label("zh", m, sloped=True) == "走路（按坡度）20分钟" and c.label("en", m) == "20 min walk"
    assert not cfg.notes


def test_class_map_goes_to_the_roads_reader():
    raw = _raw()
    raw["network"].update({"source": "roads", "path": str(SAMPLE / "communities.gpkg"), "class_field": "等级",
                           "class_map": {"村组路": "Track", 3: "tertiary"}})
    cfg = _parse(raw)
    assert cfg.network.class_map == {"村组路": "track", "3": "tertiary"}
    assert cfg.network.roads_options()["class_map"] == {"村组路": "track", "3": "tertiary"}


def test_slope_without_dem_is_a_note():
    raw = _raw()
    raw["analysis"]["slope"] = "round_trip"
    cfg = _parse(raw)
    assert any("analysis.slope" in n and "network.dem" in n for n in cfg.notes)


# ----------------------------------------------------------------------------- errors, by key


def test_dem_errors(tmp_path):
    raw = _raw()
    raw["network"]["dem"] = "no_such_dem.tif"
    _err(raw, "network.dem", "file not found")
    txt = tmp_path / "dem.tif"
    txt.write_text("not a raster")
    raw["network"]["dem"] = str(txt)
    _err(raw, "network.dem", "cannot be read as a raster")
    nocrs = tmp_path / "nocrs.tif"
    with rasterio.open(nocrs, "w", driver="GTiff", width=2, height=2, count=1, dtype="float32",
                       transform=from_origin(0, 2, 1, 1)) as dst:
        dst.write(np.zeros((1, 2, 2), dtype="float32"))
    raw["network"]["dem"] = str(nocrs)
    e = _err(raw, "network.dem", "no CRS")
    assert "gdal_edit" in e.fix
    raw["network"]["dem"] = [1, 2]
    _err(raw, "network.dem", "must be a path")


def test_class_map_errors():
    raw = _raw()
    raw["network"]["class_map"] = {"县道": "secondary"}
    _err(raw, "network.class_map", "only used with network.source: roads")
    raw["network"].update({"source": "roads", "path": str(SAMPLE / "communities.gpkg")})
    _err(raw, "network.class_map", "network.class_field")
    raw["network"]["class_field"] = "class"
    raw["network"]["class_map"] = {"县道": "primay"}
    e = _err(raw, "network.class_map.县道", "not an OSM highway class")
    assert "did you mean 'primary'" in e.fix
    raw["network"]["class_map"] = {"县道": None}
    _err(raw, "network.class_map.县道", "must be an OSM highway class")
    raw["network"]["class_map"] = ["县道", "secondary"]
    _err(raw, "network.class_map", "mapping")


def test_slope_errors():
    raw = _raw()
    raw["analysis"]["slope"] = "uphill"
    e = _err(raw, "analysis.slope", "to_facility", "round_trip")
    raw["analysis"]["slope"] = "round trip"
    _err(raw, "analysis.slope")
    assert e.file == "study.yaml"


@pytest.mark.parametrize("modes, field, words", [
    ({"E-Bike": {"default_kmh": 10}}, "analysis.modes.E-Bike", ["cannot be a travel mode name"]),
    ({"rural": {"default_kmh": 10}}, "analysis.modes.rural", ["cannot be a travel mode name"]),
    ({"ebike": 15}, "analysis.modes.ebike", ["must be a section"]),
    ({"ebike": {"speed": 15}}, "analysis.modes.ebike.speed", ["unknown key"]),
    ({"ebike": {"default_kmh": -3}}, "analysis.modes.ebike.default_kmh", ["greater than 0"]),
    ({"ebike": {"default_kmh": 900}}, "analysis.modes.ebike.default_kmh", ["outside"]),
    ({"ebike": {"speeds_kmh": {"primary": "fast"}}}, "analysis.modes.ebike.speeds_kmh.primary", ["must be a number"]),
    ({"ebike": {"speeds_kmh": {"primary": 0}}}, "analysis.modes.ebike.speeds_kmh.primary", ["greater than 0"]),
    ({"ebike": {"speeds_kmh": [20]}}, "analysis.modes.ebike.speeds_kmh", ["mapping"]),
    ({"ebike": {"slope": "steep"}}, "analysis.modes.ebike.slope", ["tobler"]),
    ({"ebike": {"walk_classes": ["steps"], "exclude_classes": ["steps"]}}, "analysis.modes.ebike.exclude_classes",
     ["both walked and closed"]),
    ({"walk": {"default_kmh": 5}}, "analysis.modes.walk.default_kmh", ["cannot be set for walking"]),
    ({"walk": {"exclude_classes": ["steps"]}}, "analysis.modes.walk.exclude_classes", ["cannot be set for walking"]),
    ({"tricycle": {"label_zh": "三轮车"}}, "analysis.modes.tricycle.default_kmh", ["new mode"]),
    ([{"ebike": {}}], "analysis.modes", ["mapping"]),
])
def test_mode_errors(modes, field, words):
    raw = _raw()
    raw["analysis"]["modes"] = modes
    _err(raw, field, *words)


@pytest.mark.parametrize("circles, field, words", [
    ("ebike 30", "analysis.travel_circles", ["must be a list"]),
    ([30], "analysis.travel_circles[0]", ["must be a mapping"]),
    ([{"minutes": 30}], "analysis.travel_circles[0].category", ["missing key"]),
    ([{"category": "school", "minutes": 30}], "analysis.travel_circles[0].category", ["unknown facility category"]),
    ([{"category": "health", "minutes": 30, "metres": 100}], "analysis.travel_circles[0].minutes", ["one of the two"]),
    ([{"category": "health"}], "analysis.travel_circles[0].minutes", ["one of the two"]),
    ([{"category": "health", "minutes": -5}], "analysis.travel_circles[0].minutes", ["greater than 0"]),
    ([{"category": "health", "minutes": "半小时"}], "analysis.travel_circles[0].minutes", ["must be a number"]),
    ([{"category": "health", "metres": 1e9}], "analysis.travel_circles[0].metres", ["outside"]),
    ([{"category": "health", "minutes": 30, "mode": "ebke"}], "analysis.travel_circles[0].mode",
     ["unknown travel mode 'ebke'"]),
    ([{"category": "health", "minutes": 30, "applies_to": "villages"}], "analysis.travel_circles[0].applies_to",
     ["all, urban, rural"]),
    ([{"category": "health", "minutes": 30, "speed": 4}], "analysis.travel_circles[0].speed", ["unknown key"]),
    ([{"category": "health", "minutes": 30}, {"category": "health", "minutes": 30.0}],
     "analysis.travel_circles[1].category", ["repeats", "analysis.travel_circles[0]"]),
])
def test_travel_circle_errors(circles, field, words):
    raw = _raw()
    raw["analysis"]["travel_circles"] = circles
    e = _err(raw, field, *words)
    if field.endswith(".mode"):
        assert "did you mean 'ebike'" in e.fix


def test_a_mode_defined_in_the_yaml_can_be_used_by_a_circle():
    raw = _raw()
    raw["analysis"]["travel_circles"] = [{"category": "health", "minutes": 30, "mode": "tricycle"}]
    _err(raw, "analysis.travel_circles[0].mode", "unknown travel mode")
    raw["analysis"]["modes"] = {"tricycle": {"default_kmh": 9}}
    assert _parse(raw).analysis.travel_circles[0].mode == "tricycle"


BAD = [[], {}, True, "abc", -1, 0, 1e9, "１２", [1, 2], {"a": 1}, "", float("nan"), "五", [None], {"x": [1]}]


@pytest.mark.parametrize("path", ["network.dem", "network.class_map", "analysis.slope", "analysis.modes",
                                  "analysis.travel_circles", "analysis.modes.ebike", "analysis.modes.ebike.default_kmh",
                                  "analysis.modes.ebike.speeds_kmh", "analysis.modes.ebike.walk_classes",
                                  "analysis.modes.ebike.slope", "analysis.travel_circles[0]"])
def test_every_new_key_with_every_wrong_value(path):
    """Accepted, or an InputError naming study.yaml and the key's path; never another exception."""
    for value in BAD:
        raw = _raw()
        if path.startswith("analysis.travel_circles["):
            raw["analysis"]["travel_circles"] = [value]
        else:
            node = raw
            parts = path.split(".")
            for p in parts[:-1]:
                node = node.setdefault(p, {})
            node[parts[-1]] = copy.deepcopy(value)
        try:
            _parse(raw)
        except InputError as exc:
            top = path.split("[")[0]
            assert exc.file == "study.yaml", (path, value, exc.message)
            assert exc.field and exc.field.startswith(top), (path, value, exc.message)
            assert exc.fix, (path, value, exc.message)
        except Exception as exc:  # noqa: BLE001
            pytest.fail(f"{path} = {value!r}: {type(exc).__name__}: {exc}")


def test_errors_name_the_yaml_file(tmp_path):
    raw = _raw()
    raw["analysis"]["travel_circles"] = [{"category": "comprehensive", "minutes": 30, "mode": "ebike",
                                          "applies_to": "rural"},
                                         {"category": "comprehensive", "minutes": 30, "mode": "bus"}]
    p = tmp_path / "county.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(InputError) as ei:
        load_config(p)
    assert ei.value.file == str(p) and ei.value.field == "analysis.travel_circles[1].mode"
    assert f"file: {p}" in ei.value.message and "field: analysis.travel_circles[1].mode" in ei.value.message
