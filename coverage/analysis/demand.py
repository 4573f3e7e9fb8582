"""Demand points from a population raster: one point per (cell, community) piece.

A cell cut by community boundaries is split by exact area of intersection, so each community's
population equals an area-weighted zonal sum of the raster. Cells outside every community and
nodata cells are counted in the report, never silently lost."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely


def demand_points(communities: gpd.GeoDataFrame, cells, *, groups=None, source=""):
    """Split raster cells by community. Returns (demand GeoDataFrame, report dict).

    ``cells``: (cell polygons in the communities' metric CRS, values, nodata mask), as
    :func:`coverage.io.raster.raster_cells` reads them. ``groups``: {group: cells} of age-group
    rasters on the same grid or any grid (each is split the same way and summed into column
    ``pop_<group>`` by area weighting on its own cells)."""
    crs = communities.crs
    boxes, vals, nodata = cells
    info = getattr(cells, "info", None) or {}
    cell_area = shapely.area(boxes)
    geoms = np.asarray(communities.geometry.values, dtype=object)
    tree = shapely.STRtree(boxes)
    ci, bi = tree.query(geoms, predicate="intersects")
    # a cell well inside its community is its own piece (whole area): only the cells on a
    # community boundary are cut (an exact intersection each, the costly part)
    shapely.prepare(geoms)
    inside = _threads(shapely.contains_properly, ci, geoms[ci], boxes[bi])
    cut = np.flatnonzero(~inside)
    pieces = boxes[bi]
    pieces[cut] = _threads(shapely.intersection, ci[cut], pieces[cut], geoms[ci[cut]])
    parea = cell_area[bi]
    parea[cut] = shapely.area(pieces[cut])
    frac = np.divide(parea, cell_area[bi], out=np.zeros_like(parea), where=cell_area[bi] > 0)
    valid = np.where(nodata, 0.0, vals)
    pop = valid[bi] * frac
    touching = np.flatnonzero(np.bincount(bi, minlength=len(vals)))       # sorted, as np.unique(bi)
    total_touching = float(np.nansum(valid[touching])) if len(bi) else 0.0
    window_total = float(info.get("window_total", np.nansum(valid)))
    # share of each community's area under raster cells with data (not nodata, not outside the raster)
    comm_area = shapely.area(geoms)
    with_data = np.bincount(ci, weights=np.where(nodata[bi], 0.0, parea), minlength=len(geoms))
    share = np.divide(with_data, comm_area, out=np.zeros(len(geoms)), where=comm_area > 0)
    report = {
        "raster": str(source),
        "cells_read": int(len(vals)),
        "cells_touching_area": int(len(touching)),
        "nodata_cells_in_area": int(nodata[touching].sum()) if len(bi) else 0,
        "population_in_area": float(pop.sum()),
        "population_of_touching_cells_outside_area": total_touching - float(pop.sum()),
        "population_outside_area_cells": window_total - total_touching,
        "raster_total_in_window": window_total,
        "negative_cells": int(info.get("negative_cells", int((np.where(nodata, 0, vals) < 0).sum()))),
        "negative_min": float(info.get("negative_min", 0.0)),
        "window_bounds": info.get("window_bounds"),
        "raster_crs": info.get("raster_crs"),
        "raster_share_of_area": float(with_data.sum() / comm_area.sum()) if comm_area.sum() > 0 else 0.0,
        "raster_share_by_community": {str(k): float(v) for k, v in zip(communities.community_id.values, share.round(6))},
        "bands": int(info.get("bands", 1)),
    }
    keep = (pop > 0) & (parea > 0)
    ci, bi, pieces, pop = ci[keep], bi[keep], pieces[keep], pop[keep]
    pts = _threads(shapely.point_on_surface, ci, pieces)
    order = np.lexsort((bi, ci))
    d = gpd.GeoDataFrame({
        "demand_id": np.arange(len(order)),
        "cell": bi[order],
        "community_id": communities.community_id.values[ci[order]],
        "population": pop[order],
    }, geometry=pts[order], crs=crs)
    for col in ("township", "type"):
        d[col] = communities[col].values[ci[order]]
    for group, gcells in (groups or {}).items():
        gpts, _ = demand_points(communities, gcells)
        # area-weighted group population assigned to the nearest total-population point of the
        # same community (same grid: the same piece)
        d[f"pop_{group}"] = _assign_to_points(d, gpts)
    return d, report


def _threads(fn, group, *arrays):
    """``fn(*arrays)`` (an element-wise shapely function) on the cores (GEOS releases the GIL), the
    rows cut into runs of whole groups (communities: a prepared community is used by one thread
    only); the same array as one call, element for element."""
    from ..core.isochrones import default_workers, run_tasks
    n, k = len(group), default_workers()
    if k == 1 or n < 2000:
        return fn(*arrays)
    first = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])    # where each run of a group starts
    j = np.searchsorted(first, np.linspace(0, n, 4 * k + 1)[1:-1])  # about 4 chunks per thread
    at = np.unique(np.r_[0, np.where(j < len(first), first[np.minimum(j, len(first) - 1)], n), n])
    return np.concatenate(run_tasks([lambda lo=lo, hi=hi: fn(*(a[lo:hi] for a in arrays))
                                     for lo, hi in zip(at[:-1], at[1:])], k))


def _assign_to_points(d, g):
    out = np.zeros(len(d))
    if len(g) == 0 or len(d) == 0:
        return out
    from scipy.spatial import cKDTree
    dx, dy = shapely.get_x(d.geometry.values), shapely.get_y(d.geometry.values)
    gx, gy = shapely.get_x(g.geometry.values), shapely.get_y(g.geometry.values)
    # per community: nearest demand point of the same community (offset communities apart)
    codes, inv = np.unique(np.r_[d.community_id.values.astype(str), g.community_id.values.astype(str)],
                           return_inverse=True)
    off = inv.astype(float) * 1e8
    tree = cKDTree(np.c_[dx + off[: len(d)], dy])
    _, j = tree.query(np.c_[gx + off[len(d):], gy])
    np.add.at(out, j, g.population.values)
    return out


def community_population(demand: pd.DataFrame, communities: pd.DataFrame, col="population") -> np.ndarray:
    s = demand.groupby("community_id")[col].sum()
    return s.reindex(communities.community_id.values).fillna(0.0).to_numpy()
