"""Default candidate sites: network nodes near uncovered demand, thinned on a grid."""

from __future__ import annotations

import numpy as np
import pandas as pd

from coverage.errors import InputError


def near_any(x, y, px, py, r):
    """Which of the points (x, y) lie within straight-line distance ``r`` (inclusive) of any of
    (px, py): exact.

    The points (px, py) are marked on a grid of cells; a distance transform of the grid gives each
    cell's distance to the nearest marked cell, which decides every point farther than a cell
    diagonal from the ``r`` contour; only the points in that band are looked up in a KD-tree."""
    from scipy.ndimage import distance_transform_edt
    from scipy.spatial import cKDTree

    x, y, px, py = (np.asarray(v, dtype=np.float64) for v in (x, y, px, py))
    out = np.zeros(x.size, dtype=bool)
    if x.size == 0 or px.size == 0:
        return out
    x0, y0 = min(x.min(), px.min()), min(y.min(), py.min())
    ext = max(x.max(), px.max()) - x0, max(y.max(), py.max()) - y0
    cell = max(r / 8.0, max(ext) / 2000.0, 1e-6)
    shape = (int(ext[0] // cell) + 1, int(ext[1] // cell) + 1)
    ci, cj = ((x - x0) // cell).astype(np.int64), ((y - y0) // cell).astype(np.int64)
    marked = np.ones(shape, dtype=bool)
    marked[((px - x0) // cell).astype(np.int64), ((py - y0) // cell).astype(np.int64)] = False
    dc = distance_transform_edt(marked)[ci, cj] * cell     # centre to nearest marked centre
    slack = cell * np.sqrt(2.0)                               # half a diagonal at each end
    out[dc + slack <= r] = True
    band = np.flatnonzero((dc + slack > r) & (dc - slack <= r))
    if band.size:
        d, _ = cKDTree(np.column_stack([px, py])).query(np.column_stack([x[band], y[band]]), k=1,
                                                         distance_upper_bound=np.nextafter(r, np.inf))
        out[band] = d <= r
    return out


def candidates_from_nodes(node_x, node_y, uncovered_x, uncovered_y, max_dist_m, spacing_m,
                          exclude_polygons=None, report=True):
    """Default candidate sites: network nodes within ``max_dist_m`` (straight line, which never
    exceeds the walking distance, so no node that could serve is lost) of an uncovered demand point,
    not inside an exclusion polygon, thinned to one node per ``spacing_m`` × ``spacing_m`` grid cell
    (cells anchored at coordinate 0; the node nearest the cell centre, ties lowest index).

    Returns ``(indices, excluded)``: sorted node indices kept, and a table of every other node with
    ``reason`` ('beyond_max_dist', 'in_exclusion_polygon', 'thinned') and ``detail`` (None with
    ``report=False``, which skips building the table). Vectorised throughout.
    """
    import shapely
    nx_, ny_ = (np.asarray(v, dtype=np.float64).reshape(-1) for v in (node_x, node_y))
    ux, uy = (np.asarray(v, dtype=np.float64).reshape(-1) for v in (uncovered_x, uncovered_y))
    if nx_.shape != ny_.shape or ux.shape != uy.shape:
        raise InputError("x and y coordinate arrays differ in length", field="node_x/uncovered_x",
                         fix="pass matching x and y arrays")
    for nm, arr in (("node_x/node_y", np.concatenate([nx_, ny_])),
                    ("uncovered_x/uncovered_y", np.concatenate([ux, uy]))):
        if not np.all(np.isfinite(arr)):
            raise InputError(f"{nm} contain NaN or infinite coordinates", field=nm,
                             fix="drop or repair points without coordinates before siting")
    if not (max_dist_m > 0 and spacing_m > 0):
        raise InputError("max_dist_m and spacing_m must be > 0", field="max_dist_m/spacing_m",
                         fix="use metres in a projected CRS, e.g. 1000 and 200")
    n = nx_.size
    code = np.zeros(n, dtype=np.int8)           # 0 kept, 1 beyond, 2 excluded, 3 thinned
    ok = near_any(nx_, ny_, ux, uy, max_dist_m)
    code[~ok] = 1
    poly_of = np.full(n, -1, dtype=np.int64)
    labels = []
    if exclude_polygons is not None:
        if isinstance(exclude_polygons, (pd.Series, pd.DataFrame)):
            geoms = getattr(exclude_polygons, "geometry", exclude_polygons)
            labels = list(exclude_polygons.index)
        else:
            geoms = list(exclude_polygons)
            labels = list(range(len(geoms)))
        geoms = np.asarray(list(geoms), dtype=object)
        if geoms.size:
            if not all(isinstance(g, shapely.Geometry) for g in geoms):
                raise InputError("exclude_polygons must be shapely geometries",
                                 field="exclude_polygons", fix="pass a GeoSeries or list of polygons")
            cand_idx = np.flatnonzero(ok)
            tree = shapely.STRtree(geoms)
            pi, gi = tree.query(shapely.points(nx_[cand_idx], ny_[cand_idx]), predicate="intersects")
            if pi.size:
                o = np.lexsort((gi, pi))
                pi, gi = pi[o], gi[o]
                firstp = np.ones(pi.size, dtype=bool)
                firstp[1:] = pi[1:] != pi[:-1]
                hit = cand_idx[pi[firstp]]
                code[hit] = 2
                poly_of[hit] = gi[firstp]
                ok[hit] = False
    idx = np.flatnonzero(ok)
    cx = np.floor(nx_[idx] / spacing_m).astype(np.int64)
    cy = np.floor(ny_[idx] / spacing_m).astype(np.int64)
    dc = np.hypot(nx_[idx] - (cx + 0.5) * spacing_m, ny_[idx] - (cy + 0.5) * spacing_m)
    o = np.lexsort((idx, dc, cy, cx))
    first = np.ones(o.size, dtype=bool)
    first[1:] = (cx[o][1:] != cx[o][:-1]) | (cy[o][1:] != cy[o][:-1])
    gid = np.cumsum(first) - 1
    winner_of = np.full(n, -1, dtype=np.int64)
    winner_of[idx[o]] = idx[o][first][gid]
    code[idx[o][~first]] = 3
    kept = np.sort(idx[o][first])
    if not report:
        return kept, None
    ex = np.flatnonzero(code > 0)
    c = code[ex]
    reason = np.array(["", "beyond_max_dist", "in_exclusion_polygon", "thinned"], dtype=object)[c]
    detail = np.empty(ex.size, dtype=object)
    detail[c == 1] = (f"no uncovered demand within {max_dist_m:g} m (straight line)"
                      if ux.size else "there is no uncovered demand")
    if (c == 2).any():
        text = np.array([f"exclusion polygon {lab!r}" for lab in labels], dtype=object)
        detail[c == 2] = text[poly_of[ex[c == 2]]]
    th = c == 3
    if th.any():
        detail[th] = ("cell already has node " + pd.Series(winner_of[ex[th]]).astype(str)
                      + " nearer its centre").to_numpy(dtype=object)
    excluded = pd.DataFrame({"node": ex, "reason": reason.astype(str), "detail": detail.astype(str)})
    return kept, excluded
