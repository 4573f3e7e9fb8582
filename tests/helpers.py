"""Small helpers shared by the tests."""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import shapely
import yaml

from coverage.analysis.demand import demand_points
from coverage.io.raster import raster_cells


def demand_from_raster(communities, raster_path, crs=None, groups=None):
    """Demand points of ``communities`` from a raster file, as the study does it."""
    crs = communities.crs if crs is None else crs
    area = shapely.union_all(communities.geometry.values)
    gcells = {g: raster_cells(p, area, crs) for g, p in (groups or {}).items()}
    return demand_points(communities, raster_cells(raster_path, area, crs), groups=gcells,
                         source=str(raster_path))


@functools.lru_cache(maxsize=None)
def _parsed_yaml(path: str, mtime_ns: int):
    from coverage.config import _SafeLoader
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_SafeLoader)


def read_yaml(path) -> dict:
    """A YAML file as Python data: a fresh copy each call (tests edit it), parsed once per file and
    modification by libyaml (the pure-Python parser cost the suite seconds: the sample's study.yaml
    is read ~400 times)."""
    p = Path(path)
    return copy.deepcopy(_parsed_yaml(str(p.resolve()), p.stat().st_mtime_ns))
