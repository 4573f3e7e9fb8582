"""Reading a population raster (any CRS, nodata honoured) as cell polygons in the study's metric CRS.

Any north-up, south-up or rotated grid is read through its affine transform. Negative cells (an
undeclared nodata value such as -9999, or a resampling artefact) count as 0 people and are
counted; a raster with no population over the area, or with float-maximum cells (an undeclared
nodata value), stops. The window read is stated (``info``) so that the accounting of people
closes: people in communities + people outside them (listed) = the raster's sum over the window."""

from __future__ import annotations

import numpy as np
import rasterio
import rasterio.windows
import shapely

from ..errors import InputError
from ..core.crs import transformer

#: a cell value at or above this is not a count of people: an undeclared nodata value (float32 max)
IMPLAUSIBLE_CELL = 1e30


class Cells(tuple):
    """(cell polygons, values, nodata mask) with ``info``: what was read (window bounds in the
    raster CRS, the sum over the window, negative and nodata cells)."""

    info: dict


def _footprint(transform, width, height):
    corners = [transform @ (0, 0), transform @ (width, 0), transform @ (width, height), transform @ (0, height)]
    return shapely.Polygon(corners)


def _window(src, geom_r):
    """The pixel window (col0, row0, col1, row1), clipped to the raster, covering a polygon given in
    the raster CRS (any transform: north-up, south-up, rotated)."""
    inv = ~src.transform
    xy = shapely.get_coordinates(shapely.segmentize(shapely.envelope(geom_r), max(abs(src.transform.a), 1e-12) * 50))
    cols, rows = inv @ (xy[:, 0], xy[:, 1])
    c0, c1 = int(np.floor(np.min(cols))), int(np.ceil(np.max(cols)))
    r0, r1 = int(np.floor(np.min(rows))), int(np.ceil(np.max(rows)))
    return max(c0, 0), max(r0, 0), min(c1, src.width), min(r1, src.height)


def raster_cells(path, area_metric, crs, *, key="population.path", window_area=None):
    """Cells of the raster that may touch ``area_metric``: (polygons in ``crs``, values, nodata mask),
    as a :class:`Cells` tuple whose ``info`` holds the valid sum over the window of ``window_area``
    (default the area itself; the study passes the area buffered by the walking thresholds)."""
    try:
        src = rasterio.open(path)
    except Exception as exc:
        raise InputError(f"cannot open the raster ({exc})", file=str(path), field=key,
                         fix="give a GeoTIFF (e.g. WorldPop 100 m)")
    with src:
        if src.crs is None:
            raise InputError("the raster has no CRS", file=str(path), field=key,
                             fix="assign the CRS to the GeoTIFF (gdal_edit.py -a_srs EPSG:4326 file.tif)")
        t = src.transform
        if t.a == 0 and t.b == 0 or t.e == 0 and t.d == 0 or abs(t.a * t.e - t.b * t.d) == 0:
            raise InputError("the raster has no georeferencing (its pixel size is 0)", file=str(path), field=key,
                             fix="georeference the GeoTIFF (it needs a geotransform and a CRS)")
        to_r = transformer(crs, src.crs)

        def in_raster_crs(geom):
            return shapely.transform(shapely.segmentize(shapely.box(*geom.bounds), 100.0),
                                     lambda xy: np.c_[to_r.transform(xy[:, 0], xy[:, 1])])

        area_r = in_raster_crs(area_metric)
        foot = _footprint(t, src.width, src.height)
        if not foot.intersects(area_r):
            rb = foot.bounds
            raise InputError(f"the raster does not overlap the study area (raster extent "
                             f"{tuple(round(b, 4) for b in rb)}, area extent in the raster CRS "
                             f"{tuple(round(b, 4) for b in area_r.bounds)}, {src.crs.to_string()})",
                             file=str(path), field=key,
                             fix="use the raster of this region, or check the communities' CRS")
        wa = area_r if window_area is None else in_raster_crs(window_area)
        wc0, wr0, wc1, wr1 = _window(src, wa.union(area_r))
        data = src.read(1, window=rasterio.windows.Window(wc0, wr0, max(wc1 - wc0, 0), max(wr1 - wr0, 0)),
                        masked=True).astype(np.float64)
        src_crs, nodata_value, bands = src.crs, src.nodata, src.count
        c0, r0, c1, r1 = _window(src, area_r)
    # the sum over the window (valid cells: not nodata, finite, not negative)
    vals_w = data.filled(np.nan)
    mask_w = np.ma.getmaskarray(data) | ~np.isfinite(vals_w)
    huge = ~mask_w & (np.abs(vals_w) >= IMPLAUSIBLE_CELL)
    if huge.any():
        raise InputError(f"{int(huge.sum())} raster cells hold {np.nanmax(np.abs(vals_w[huge])):.4g}, which is not a "
                         f"number of people but an undeclared nodata value (the raster's nodata is {nodata_value})",
                         file=str(path), field=key,
                         fix=f"declare the nodata value: gdal_edit.py -a_nodata {np.nanmax(vals_w[huge]):.8g} "
                             f"{getattr(path, 'name', str(path))}")
    neg_w = ~mask_w & (vals_w < 0)
    ok_w = ~mask_w & ~neg_w
    sub = np.s_[r0 - wr0:r1 - wr0, c0 - wc0:c1 - wc0]
    vals = vals_w[sub]
    nodata = (mask_w | neg_w)[sub]
    neg = neg_w[sub]
    if src_crs == crs:
        boxes = _cell_boxes(t, r0, r1, c0, c1)
    else:
        boxes = _cell_polygons_reprojected(t, r0, r1, c0, c1, transformer(src_crs, crs))
    vals, nodata, neg = vals.ravel(), nodata.ravel(), neg.ravel()
    out = Cells((boxes, vals, nodata))
    out.info = {
        "raster_crs": src_crs.to_string(),
        "window_bounds": tuple(float(v) for v in _window_bounds(t, wc0, wr0, wc1, wr1)),
        "window_cells": int(vals_w.size),
        "window_total": float(np.sum(vals_w[ok_w])) if ok_w.any() else 0.0,
        "window_nodata_cells": int(mask_w.sum()),
        "negative_cells": int(neg_w.sum()),
        "negative_min": float(np.min(vals_w[neg_w])) if neg_w.any() else 0.0,
        "negative_cells_near_area": int(neg.sum()),
        "bands": int(bands),
        "south_up": bool(t.e > 0),
        "rotated": bool(t.b != 0 or t.d != 0),
    }
    return out


def _cell_boxes(tr, r0, r1, c0, c1):
    """Cell polygons (row-major over rows r0..r1-1, columns c0..c1-1) in the raster's own CRS: boxes
    on a north-up or south-up grid, parallelograms on a rotated one."""
    rows, cols = np.indices((r1 - r0, c1 - c0))
    rows, cols = rows.ravel() + r0, cols.ravel() + c0
    x0 = tr.c + tr.a * cols + tr.b * rows
    y0 = tr.f + tr.d * cols + tr.e * rows
    x2 = tr.c + tr.a * (cols + 1) + tr.b * (rows + 1)
    y2 = tr.f + tr.d * (cols + 1) + tr.e * (rows + 1)
    if tr.b == 0 and tr.d == 0:
        return shapely.box(np.minimum(x0, x2), np.minimum(y0, y2), np.maximum(x0, x2), np.maximum(y0, y2))
    x1 = tr.c + tr.a * (cols + 1) + tr.b * rows
    y1 = tr.f + tr.d * (cols + 1) + tr.e * rows
    x3 = tr.c + tr.a * cols + tr.b * (rows + 1)
    y3 = tr.f + tr.d * cols + tr.e * (rows + 1)
    ring = np.stack([np.c_[x0, y0], np.c_[x1, y1], np.c_[x2, y2], np.c_[x3, y3], np.c_[x0, y0]], axis=1)
    return shapely.polygons(ring)


def _cell_polygons_reprojected(tr, r0, r1, c0, c1, to_m):
    """Cell polygons (row-major as :func:`_cell_boxes`) in the study CRS: each side of a cell cut
    into pieces of at most a quarter of the pixel size (so the curvature of the projection is
    followed), then every point projected.

    The sides are cut as ``shapely.segmentize`` (GEOS) cuts a cell's box: ``ceil(side / (pixel /
    4))`` equal pieces, counted on the side's own length (so float noise makes some sides 5
    pieces, as before). Each lattice corner is projected once, and each side's inner points once
    for the two cells it bounds (about 8 points per cell instead of segmentize and project 17-21
    per cell); the points equal the per-cell ones to the last bits. Rings start at the same corner
    and run the same way (counter-clockwise) as ``shapely.box``'s."""
    nr, nc = r1 - r0, c1 - c0
    if nr <= 0 or nc <= 0:
        return np.empty(0, dtype=object)
    tol = abs(tr.a or tr.b) / 4.0
    # lattice corners (nr + 1, nc + 1) in the raster CRS, computed as the per-cell corners are
    rows, cols = np.indices((nr + 1, nc + 1))
    rows, cols = rows + r0, cols + c0
    cx = tr.c + tr.a * cols + tr.b * rows
    cy = tr.f + tr.d * cols + tr.e * rows
    corner = np.arange((nr + 1) * (nc + 1)).reshape(nr + 1, nc + 1)

    def cut(x0, y0, x1, y1):
        """Inner points of sides (x0, y0) -> (x1, y1) (the ends are lattice corners): (index of
        each side's first inner point, pieces per side, x, y)."""
        x0, y0, x1, y1 = x0.ravel(), y0.ravel(), x1.ravel(), y1.ravel()
        dx, dy = x1 - x0, y1 - y0
        length = np.sqrt(dx * dx + dy * dy)
        n = np.where(length <= tol, 1, np.ceil(length / tol)).astype(np.int64)
        side = np.repeat(np.arange(n.size), n - 1)
        k = np.arange(side.size) - np.repeat(np.cumsum(n - 1) - (n - 1), n - 1) + 1    # 1 .. n - 1
        nn, ln = n[side], length[side]
        with np.errstate(invalid="ignore", divide="ignore"):
            f = np.where(ln > 0, (k * (ln / nn)) / ln, k / nn)   # as GEOS's Densifier
        return np.cumsum(n - 1) - (n - 1), n, x0[side] + f * dx[side], y0[side] + f * dy[side]

    hs, hn, hx, hy = cut(cx[:, :-1], cy[:, :-1], cx[:, 1:], cy[:, 1:])   # (nr + 1) x nc sides
    vs, vn, vx, vy = cut(cx[:-1, :], cy[:-1, :], cx[1:, :], cy[1:, :])   # nr x (nc + 1) sides
    xm, ym = to_m.transform(np.concatenate([cx.ravel(), hx, vx]), np.concatenate([cy.ravel(), hy, vy]))
    pts = np.column_stack([np.asarray(xm, dtype=np.float64), np.asarray(ym, dtype=np.float64)])
    hs, vs = hs + corner.size, vs + corner.size + hx.size
    # each side: (first inner point, pieces, start corner, end corner)
    h = (hs, hn, corner[:, :-1].ravel(), corner[:, 1:].ravel())
    v = (vs, vn, corner[:-1, :].ravel(), corner[1:, :].ravel())
    i, j = np.divmod(np.arange(nr * nc), nc)                    # cell row, column (window)
    top, bottom = i * nc + j, (i + 1) * nc + j                  # horizontal sides: (c, r) -> (c + 1, r)
    left, right = i * (nc + 1) + j, i * (nc + 1) + j + 1        # vertical sides: (c, r) -> (c, r + 1)
    # (sides, which, forwards?) of the four sides of each cell, in ring order
    det = tr.a * tr.e - tr.b * tr.d
    if det < 0:   # north-up: box ring from (c + 1, r + 1): right up, top back, left down, bottom on
        parts = [(v, right, False), (h, top, False), (v, left, True), (h, bottom, True)]
    else:         # south-up: from (c + 1, r): right on, bottom back, left back, top on
        parts = [(v, right, True), (h, bottom, False), (v, left, False), (h, top, True)]
    ring_len = sum(sd[1][w] for sd, w, _ in parts) + 1
    ring_start = np.cumsum(ring_len) - ring_len
    idx = np.empty(int(ring_len.sum()), np.int64)
    at = ring_start.copy()
    for (first, pieces, a, b), which, forwards in parts:
        n = pieces[which]
        cell = np.repeat(np.arange(n.size), n)
        m = np.arange(cell.size) - np.repeat(np.cumsum(n) - n, n)          # 0 .. n - 1 along the ring
        k = m if forwards else n[cell] - m                                  # the side's point k
        sc = which[cell]
        idx[at[cell] + m] = np.where(k == 0, a[sc], np.where(k == pieces[sc], b[sc], first[sc] + k - 1))
        at += n
    idx[at] = idx[ring_start]                                    # closed
    return shapely.polygons(shapely.linearrings(pts[idx], indices=np.repeat(np.arange(nr * nc), ring_len)))


def _window_bounds(t, c0, r0, c1, r1):
    xs, ys = zip(*(t @ (c, r) for c, r in ((c0, r0), (c1, r0), (c1, r1), (c0, r1))))
    return min(xs), min(ys), max(xs), max(ys)
