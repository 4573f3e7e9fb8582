"""Small helpers shared by the tests."""

from __future__ import annotations

import shapely

from coverage.analysis.demand import demand_points
from coverage.io.raster import raster_cells


def demand_from_raster(communities, raster_path, crs=None, groups=None):
    """Demand points of ``communities`` from a raster file, as the study does it."""
    crs = communities.crs if crs is None else crs
    area = shapely.union_all(communities.geometry.values)
    gcells = {g: raster_cells(p, area, crs) for g, p in (groups or {}).items()}
    return demand_points(communities, raster_cells(raster_path, area, crs), groups=gcells,
                         source=str(raster_path))
