"""Demand points from a population raster: one point per (cell, community) piece.

A cell cut by community boundaries is split by exact area of intersection, so each community's
population equals an area-weighted zonal sum of the raster. Cells outside every community and
nodata cells are counted in the report, never silently lost."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.windows
import shapely
from pyproj import Transformer

from .errors import InputError


def raster_cells(path, area_metric, crs, *, key="population.path"):
    """Cells of the raster that may touch ``area_metric``: (polygons in ``crs``, values, cell area m²)."""
    try:
        src = rasterio.open(path)
    except Exception as exc:
        raise InputError(f"cannot open the raster ({exc})", file=str(path), field=key,
                         fix="give a GeoTIFF (e.g. WorldPop 100 m)")
    with src:
        if src.crs is None:
            raise InputError("the raster has no CRS", file=str(path), field=key,
                             fix="assign the CRS to the GeoTIFF (gdal_edit.py -a_srs EPSG:4326 file.tif)")
        to_r = Transformer.from_crs(crs, src.crs, always_xy=True)
        bounds = shapely.transform(shapely.box(*area_metric.bounds).segmentize(100.0),
                                   lambda xy: np.c_[to_r.transform(xy[:, 0], xy[:, 1])]).bounds
        rb = src.bounds
        if bounds[0] >= rb.right or bounds[2] <= rb.left or bounds[1] >= rb.top or bounds[3] <= rb.bottom:
            raise InputError(f"the raster does not overlap the study area (raster bounds {tuple(round(b, 4) for b in rb)}, "
                             f"area bounds in the raster CRS {tuple(round(b, 4) for b in bounds)})",
                             file=str(path), field=key,
                             fix="use the raster of this region, or check the communities' CRS")
        w = rasterio.windows.from_bounds(*bounds, transform=src.transform)
        c0, r0 = int(np.floor(w.col_off)), int(np.floor(w.row_off))
        c1, r1 = int(np.ceil(w.col_off + w.width)), int(np.ceil(w.row_off + w.height))
        c0, r0, c1, r1 = max(c0, 0), max(r0, 0), min(c1, src.width), min(r1, src.height)
        win = rasterio.windows.Window(c0, r0, max(c1 - c0, 0), max(r1 - r0, 0))
        data = src.read(1, window=win, masked=True).astype(np.float64)
        tr = src.window_transform(win)
        src_crs = src.crs
    rows, cols = np.indices(data.shape)
    rows, cols = rows.ravel(), cols.ravel()
    vals = data.filled(np.nan).ravel()
    nodata = np.ma.getmaskarray(data).ravel() | ~np.isfinite(vals)
    x0 = tr.c + tr.a * cols + tr.b * rows
    y0 = tr.f + tr.d * cols + tr.e * rows
    x1 = tr.c + tr.a * (cols + 1) + tr.b * (rows + 1)
    y1 = tr.f + tr.d * (cols + 1) + tr.e * (rows + 1)
    boxes = shapely.box(np.minimum(x0, x1), np.minimum(y0, y1), np.maximum(x0, x1), np.maximum(y0, y1))
    if not (src_crs == crs):
        to_m = Transformer.from_crs(src_crs, crs, always_xy=True)
        boxes = shapely.transform(shapely.segmentize(boxes, abs(tr.a) / 4),
                                  lambda xy: np.c_[to_m.transform(xy[:, 0], xy[:, 1])])
    return boxes, vals, nodata


def demand_points(communities: gpd.GeoDataFrame, raster_path, crs, *, extra_rasters=None):
    """Split raster cells by community. Returns (demand GeoDataFrame, report dict).

    ``extra_rasters``: {group: path} of rasters on the same grid or any grid (each is split the
    same way and summed into column ``pop_<group>`` by area weighting on its own cells)."""
    area = shapely.union_all(communities.geometry.values)
    boxes, vals, nodata = raster_cells(raster_path, area, crs)
    cell_area = shapely.area(boxes)
    geoms = communities.geometry.values
    tree = shapely.STRtree(boxes)
    ci, bi = tree.query(geoms, predicate="intersects")
    pieces = shapely.intersection(boxes[bi], geoms[ci])
    parea = shapely.area(pieces)
    frac = np.divide(parea, cell_area[bi], out=np.zeros_like(parea), where=cell_area[bi] > 0)
    pop = np.where(nodata[bi], 0.0, vals[bi]) * frac
    total_touching = float(np.nansum(np.where(nodata, 0, vals)[np.unique(bi)])) if len(bi) else 0.0
    report = {
        "raster": str(raster_path),
        "cells_read": int(len(vals)),
        "cells_touching_area": int(len(np.unique(bi))),
        "nodata_cells_in_area": int(nodata[np.unique(bi)].sum()) if len(bi) else 0,
        "population_in_area": float(pop.sum()),
        "population_of_touching_cells_outside_area": total_touching - float(pop.sum()),
        "population_outside_area_cells": float(np.nansum(np.where(nodata, 0, vals))) - total_touching,
        "negative_cells": int((np.where(nodata, 0, vals) < 0).sum()),
    }
    keep = (pop > 0) & (parea > 0)
    ci, bi, pieces, pop = ci[keep], bi[keep], pieces[keep], pop[keep]
    pts = shapely.point_on_surface(pieces)
    order = np.lexsort((bi, ci))
    d = gpd.GeoDataFrame({
        "demand_id": np.arange(len(order)),
        "cell": bi[order],
        "community_id": communities.community_id.values[ci[order]],
        "population": pop[order],
    }, geometry=pts[order], crs=crs)
    for col in ("township", "type"):
        d[col] = communities[col].values[ci[order]]
    for group, path in (extra_rasters or {}).items():
        gpts, _ = demand_points(communities, path, crs)
        # area-weighted group population assigned to the nearest total-population point of the
        # same community (same grid: the same piece)
        d[f"pop_{group}"] = _assign_to_points(d, gpts)
    return d, report


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
