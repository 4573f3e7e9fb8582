"""Reading a population raster (any CRS, nodata honoured) as cell polygons in the study's metric CRS."""

from __future__ import annotations

import numpy as np
import rasterio
import rasterio.windows
import shapely
from pyproj import Transformer

from ..errors import InputError


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
