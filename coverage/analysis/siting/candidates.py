"""Default candidate sites: network nodes near uncovered demand, thinned on a grid."""

from __future__ import annotations

import numpy as np
import pandas as pd

from coverage.errors import InputError


def candidates_from_nodes(node_x, node_y, uncovered_x, uncovered_y, max_dist_m, spacing_m,
                          exclude_polygons=None):
    """Default candidate sites: network nodes within ``max_dist_m`` (straight line, which never
    exceeds the walking distance, so no node that could serve is lost) of an uncovered demand point,
    not inside an exclusion polygon, thinned to one node per ``spacing_m`` × ``spacing_m`` grid cell
    (cells anchored at coordinate 0; the node nearest the cell centre, ties lowest index).

    Returns ``(indices, excluded)``: sorted node indices kept, and a table of every other node with
    ``reason`` ('beyond_max_dist', 'in_exclusion_polygon', 'thinned') and ``detail``.
    """
    from scipy.spatial import cKDTree
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
    reason = np.full(n, "", dtype=object)
    detail = np.full(n, "", dtype=object)
    if ux.size:
        d, _ = cKDTree(np.column_stack([ux, uy])).query(np.column_stack([nx_, ny_]), k=1,
                                                        distance_upper_bound=max_dist_m)
    else:
        d = np.full(n, np.inf)
    far = ~(d <= max_dist_m)
    reason[far] = "beyond_max_dist"
    detail[far] = (f"no uncovered demand within {max_dist_m:g} m (straight line)"
                   if ux.size else "there is no uncovered demand")
    ok = ~far
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
                reason[hit] = "in_exclusion_polygon"
                detail[hit] = [f"exclusion polygon {labels[g]!r}" for g in gi[firstp]]
                ok[hit] = False
    idx = np.flatnonzero(ok)
    cx = np.floor(nx_[idx] / spacing_m).astype(np.int64)
    cy = np.floor(ny_[idx] / spacing_m).astype(np.int64)
    dc = np.hypot(nx_[idx] - (cx + 0.5) * spacing_m, ny_[idx] - (cy + 0.5) * spacing_m)
    o = np.lexsort((idx, dc, cy, cx))
    first = np.ones(o.size, dtype=bool)
    first[1:] = (cx[o][1:] != cx[o][:-1]) | (cy[o][1:] != cy[o][:-1])
    gid = np.cumsum(first) - 1
    winner = idx[o][first][gid]
    loser = ~first
    li = idx[o][loser]
    reason[li] = "thinned"
    detail[li] = [f"cell already has node {w} nearer its centre" for w in winner[loser]]
    kept = np.sort(idx[o][first])
    ex = np.flatnonzero(reason != "")
    excluded = pd.DataFrame({"node": ex, "reason": reason[ex].astype(str),
                             "detail": detail[ex].astype(str)})
    return kept, excluded
