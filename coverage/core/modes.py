"""Travel modes: speed by road class, and the cost of every edge for a mode.

A mode (:class:`ModeSpec`) has a speed per road class (OSM ``highway`` values; a county road
layer's classes are mapped onto them, :func:`map_road_classes`), classes where the traveller walks
(pushes the e-bike: the walking speed), classes it may not use, a default speed for any other
class, and whether slope slows it (``tobler``: walking). The packaged modes (walk, ebike, cycle,
motorbike, car) and the class map of Chinese road layers are data:
``coverage/resources/modes.yaml`` (its header gives the figures' sources and assumptions).

**Cost unit.** Every search runs in *flat-walking metres*: the distance a walker covers on flat
ground at the study's walking speed in the same time (minutes x walking speed). Walking on flat
ground therefore costs exactly the edge's length (a speed ratio of exactly 1.0), and a threshold
of N minutes is N x walking speed for every mode, as before; an e-bike at 15 km/h with a walking
speed of 4 km/h costs 4/15 of the length. The snap leg (door to road) is walked: its cost is its
length for every mode.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from importlib import resources

import numpy as np
import pandas as pd
import yaml

#: a mode name: lower-case letters and digits (it becomes part of column names)
MODE_NAME = re.compile(r"^[a-z][a-z0-9]*$")
#: names that cannot be modes (they are words of column names and threshold keys)
RESERVED = frozenset({"all", "urban", "rural", "flat", "min", "m"})
SLOPE_MODELS = ("tobler", "none")
MODE_KEYS = ("label_zh", "label_en", "default_kmh", "speeds_kmh", "walk_classes", "exclude_classes",
             "slope")


@dataclass(frozen=True)
class ModeSpec:
    """One travel mode. ``default_kmh`` None = the walking speed (the walk mode)."""

    name: str
    label_zh: str = ""
    label_en: str = ""
    default_kmh: float | None = None
    speeds_kmh: dict = field(default_factory=dict)
    walk_classes: tuple = ()
    exclude_classes: tuple = ()
    slope: str = "none"

    @property
    def is_walk(self) -> bool:
        return self.name == "walk"

    def label(self, lang: str = "zh") -> str:
        return (self.label_en if lang == "en" else self.label_zh) or self.name

    def speed_of(self, road_class, walk_kmh: float) -> float:
        """Speed (km/h) on a road class; inf-free: an excluded class gives 0."""
        if road_class in self.exclude_classes:
            return 0.0
        if self.is_walk or road_class in self.walk_classes:
            return float(walk_kmh)
        return float(self.speeds_kmh.get(road_class, self.default_kmh or walk_kmh))

    def edge_factors(self, edge_class, walk_kmh: float) -> np.ndarray:
        """Cost per metre of each edge in flat-walking metres: walking speed / the mode's speed on
        the edge's class (exactly 1.0 where they are equal; inf where the mode may not go)."""
        classes = np.asarray(edge_class, dtype=object)
        if self.is_walk:
            return np.ones(len(classes))
        # one speed per distinct class (hashing, not a loop over the edges); missing -> code -1
        codes, uniq = pd.factorize(pd.Series(classes, dtype=object), use_na_sentinel=True)
        speed = np.array([self.speed_of(str(c) if str(c) else None, walk_kmh) for c in uniq] +
                         [self.speed_of(None, walk_kmh)], dtype=float)
        with np.errstate(divide="ignore"):
            fac = np.where(speed > 0, float(walk_kmh) / np.where(speed > 0, speed, 1.0), np.inf)
        return fac[codes]

    def describe(self, walk_kmh: float, lang: str = "zh") -> str:
        """One line for reports: the speeds used."""
        if self.is_walk:
            return (f"{walk_kmh:g} km/h" + ("，按坡度修正（Tobler）" if lang == "zh" else ", Tobler slope")
                    if self.slope == "tobler" else f"{walk_kmh:g} km/h")
        parts = [f"{self.default_kmh:g} km/h"]
        if self.speeds_kmh:
            parts.append(", ".join(f"{k} {v:g}" for k, v in sorted(self.speeds_kmh.items())))
        if self.walk_classes:
            parts.append(("推行/步行: " if lang == "zh" else "walked: ") + ", ".join(self.walk_classes))
        if self.exclude_classes:
            parts.append(("不可通行: " if lang == "zh" else "closed: ") + ", ".join(self.exclude_classes))
        return "; ".join(parts)


@functools.lru_cache(maxsize=None)
def _packaged() -> dict:
    text = resources.files("coverage").joinpath("resources/modes.yaml").read_text(encoding="utf-8")
    from ..config import _SafeLoader     # libyaml's parser
    return yaml.load(text, Loader=_SafeLoader)


def mode_from_dict(name: str, raw: dict, base: ModeSpec | None = None) -> ModeSpec:
    """A mode from its keys (already checked), on top of ``base`` (a packaged mode) if given."""
    b = base or ModeSpec(name)
    speeds = dict(b.speeds_kmh)
    speeds.update({str(k).strip().lower(): float(v) for k, v in (raw.get("speeds_kmh") or {}).items()})
    return ModeSpec(
        name=name, label_zh=str(raw.get("label_zh", b.label_zh or "")),
        label_en=str(raw.get("label_en", b.label_en or "")),
        default_kmh=float(raw["default_kmh"]) if raw.get("default_kmh") is not None else b.default_kmh,
        speeds_kmh=speeds,
        walk_classes=tuple(str(c).strip().lower() for c in raw.get("walk_classes", b.walk_classes)),
        exclude_classes=tuple(str(c).strip().lower() for c in raw.get("exclude_classes", b.exclude_classes)),
        slope=str(raw.get("slope", b.slope)))


@functools.lru_cache(maxsize=None)
def packaged_modes() -> dict:
    """{name: ModeSpec} of coverage/resources/modes.yaml."""
    return {name: mode_from_dict(name, raw or {}) for name, raw in _packaged()["modes"].items()}


def mode_label(name: str, lang: str = "zh", modes: dict | None = None) -> str:
    spec = (modes or {}).get(name) or packaged_modes().get(name)
    return spec.label(lang) if spec else name


@functools.lru_cache(maxsize=None)
def packaged_class_map() -> dict:
    return {_norm(k): str(v).strip().lower() for k, v in (_packaged().get("class_map") or {}).items()}


def _norm(v) -> str:
    """A class value as text to match on: NFKC, trimmed, lower case; a whole number stored as a
    float (a code column with a missing value reads as floats: 3.0) is the integer's text ("3")."""
    if isinstance(v, (float, np.floating)) and np.isfinite(v) and float(v).is_integer():
        v = int(v)
    return unicodedata.normalize("NFKC", str(v)).strip().lower()


def map_road_classes(values, class_map: dict | None = None) -> np.ndarray:
    """A road layer's class values as road classes: ``class_map`` (your values -> OSM classes)
    first, then the packaged map of Chinese classes (国道, 县道, 主干路, 支路, 机耕路 ...), else the
    value itself (normalised: NFKC, trimmed, lower case); missing values are None."""
    user = {_norm(k): str(v).strip().lower() for k, v in (class_map or {}).items()}
    pack = packaged_class_map()
    # each distinct value once (hashing, not a loop over the roads); missing values -> code -1
    codes, uniq = pd.factorize(pd.Series(list(values) if not isinstance(values, np.ndarray) else values,
                                         dtype=object), use_na_sentinel=True)
    mapped = [(user.get(k) or pack.get(k) or k) or None for k in (_norm(v) for v in uniq)]
    return np.array(mapped + [None], dtype=object)[codes]
