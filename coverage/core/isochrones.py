"""Life-circle polygons (isochrones) drawn from the reached walking network itself.

A life circle is drawn as the streets a resident can walk along within a break (5/10/15
minutes, given here in metres), buffered on both sides by ``buffer_m``: the depth of street
frontage counted as reached, i.e. how far from the street centreline a building or
courtyard entrance may stand and still be drawn inside the circle. Edges that cross the
break are cut where the walk runs out. Convex hulls of the reached network are NOT drawn:
they overstate coverage (they fill in rivers, rail yards and blocks with no entrance); each
row reports how much larger the hull would have been (``hull_overstatement``).

The polygons are for drawing only. Coverage is counted from network distances elsewhere.

Inputs are plain arrays, so this module does not depend on any network class:

- ``edge_u``, ``edge_v`` (int, m): end nodes of each undirected edge;
- ``edge_length`` (float64 metres, m): the routing length of each edge;
- ``edge_geometry`` (object array of shapely LineStrings in a metric CRS, m), each running
  from node u to node v. Cuts are made at fractions of ``edge_length`` applied to the
  geometry's own length, so a geometry slightly longer or shorter than ``edge_length`` is
  cut at the proportional point. ``None`` (the whole array or one element) means a
  straight line between the node coordinates, which must then be given;
- node distances from the access core: a dense float array (n_nodes,) with ``inf`` for
  unreached nodes (category circles), or a ``scipy.sparse`` CSR array
  (n_facilities x n_nodes) whose stored entries are the reached nodes (facility circles;
  explicit zeros are distances of 0, absent entries are unreached).

Reached part of an edge of length L with end distances d_u, d_v and break t:

- whole edge if d_u + L <= t or d_v + L <= t;
- otherwise a piece [0, (t - d_u)/L] from the u end if d_u <= t, and a piece
  [1 - (t - d_v)/L, 1] from the v end if d_v <= t; two pieces that meet or overlap are
  merged into the whole edge. A node reached at exactly d = t gives a zero-length piece,
  drawn as a disc of radius ``buffer_m`` around the node (so a facility's own node is
  always drawn, even at a break of 0).
"""

from __future__ import annotations

import numpy as np
import geopandas as gpd
import pandas as pd
import scipy.sparse as sp
import shapely

from coverage.errors import InputError

__all__ = [
    "DEFAULT_BUFFER_M",
    "DEFAULT_QUAD_SEGS",
    "edge_lines",
    "reached_segments",
    "cut_lines",
    "reached_pieces",
    "NetworkFaces",
    "network_faces",
    "category_circles",
    "facility_circles",
]

#: Depth of street frontage drawn as reached, metres on each side of the street centreline.
#: 30 m covers the buildings that front a street in a typical Chinese residential block
#: (10-20 m setback plus building depth) without bridging between parallel streets
#: 80-150 m apart.
DEFAULT_BUFFER_M = 30.0

#: Segments per quarter circle in the buffers (shapely default is 8). 4 is enough for a
#: drawing at 30 m and buffers about a third faster.
DEFAULT_QUAD_SEGS = 4

_EMPTY = shapely.Polygon()


# --- inputs ----------------------------------------------------------------------------


def _as_edges(edge_u, edge_v, edge_length, n_nodes=None):
    u = np.asarray(edge_u)
    v = np.asarray(edge_v)
    length = np.asarray(edge_length, dtype=np.float64)
    if u.ndim != 1 or u.shape != v.shape or u.shape != length.shape:
        raise InputError(
            f"edge arrays differ in shape: edge_u {u.shape}, edge_v {v.shape}, "
            f"edge_length {length.shape}",
            field="edge_u/edge_v/edge_length",
            fix="pass three 1-D arrays with one entry per edge")
    if u.size and not (np.issubdtype(u.dtype, np.integer) and np.issubdtype(v.dtype, np.integer)):
        raise InputError("edge_u/edge_v must be integer node indices",
                         field="edge_u/edge_v", fix="pass node positions 0..n_nodes-1 as ints")
    u = u.astype(np.int64, copy=False)
    v = v.astype(np.int64, copy=False)
    bad = ~np.isfinite(length) | (length < 0)
    if bad.any():
        raise InputError(
            f"{int(bad.sum())} edges have a negative or non-finite length "
            f"(first at edge {int(np.flatnonzero(bad)[0])})",
            field="edge_length", fix="repair or drop those edges when building the network")
    if u.size:
        lo = min(u.min(), v.min())
        hi = max(u.max(), v.max())
        if lo < 0 or (n_nodes is not None and hi >= n_nodes):
            top = n_nodes - 1 if n_nodes else "?"
            raise InputError(
                f"edge end nodes run from {lo} to {hi}, outside 0..{top}",
                field="edge_u/edge_v", fix="use node positions that index the distance arrays")
    return u, v, length


def _check_breaks(breaks_m):
    b = np.atleast_1d(np.asarray(breaks_m, dtype=np.float64))
    if b.ndim != 1 or b.size == 0 or not np.all(np.isfinite(b)) or np.any(b < 0):
        raise InputError(f"breaks must be finite distances >= 0 in metres, got {breaks_m!r}",
                         field="breaks_m", fix="give e.g. [333, 667, 1000] (5/10/15 min at 4 km/h)")
    return b


def _check_buffer(buffer_m):
    if not np.isfinite(buffer_m) or buffer_m <= 0:
        raise InputError(f"buffer width must be a positive number of metres, got {buffer_m!r}",
                         field="buffer_m", fix=f"use e.g. {DEFAULT_BUFFER_M:g}")
    return float(buffer_m)


def edge_lines(edge_u, edge_v, node_x=None, node_y=None, edge_geometry=None):
    """Edge geometries as an object array of LineStrings running u -> v.

    ``edge_geometry`` None (or None elements) are filled with straight lines between the
    node coordinates. Anything else than a LineString raises :class:`InputError`.
    """
    u = np.asarray(edge_u, dtype=np.int64)
    v = np.asarray(edge_v, dtype=np.int64)
    if edge_geometry is None:
        geoms = np.full(u.shape, None, dtype=object)
    else:
        geoms = np.asarray(edge_geometry, dtype=object)
        if geoms.shape != u.shape:
            raise InputError(f"edge_geometry has shape {geoms.shape}, edges {u.shape}",
                             field="edge_geometry", fix="pass one LineString per edge")
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        if node_x is None or node_y is None:
            raise InputError(f"{int(missing.sum())} edges have no geometry and no node "
                             "coordinates were given", field="edge_geometry",
                             fix="pass node_x/node_y so straight lines can be drawn")
        x = np.asarray(node_x, dtype=np.float64)
        y = np.asarray(node_y, dtype=np.float64)
        idx = np.flatnonzero(missing)
        pts = np.empty((idx.size, 2, 2))
        pts[:, 0, 0], pts[:, 0, 1] = x[u[idx]], y[u[idx]]
        pts[:, 1, 0], pts[:, 1, 1] = x[v[idx]], y[v[idx]]
        geoms = geoms.copy()
        geoms[idx] = shapely.linestrings(pts)
    types = shapely.get_type_id(geoms)
    bad = types != shapely.GeometryType.LINESTRING
    if bad.any():
        raise InputError(f"{int(bad.sum())} edge geometries are not LineStrings "
                         f"(first at edge {int(np.flatnonzero(bad)[0])})",
                         field="edge_geometry", fix="explode multi-part edges into LineStrings")
    return geoms


# --- reached pieces --------------------------------------------------------------------


def _pieces(d_u, d_v, length, t):
    """Reached pieces of edges with end distances d_u, d_v and lengths ``length`` at break t.

    Returns (row, start_frac, end_frac) with rows into the input arrays, sorted by row and
    then start. Fully vectorised.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        whole = (d_u + length <= t) | (d_v + length <= t)
        from_u = (d_u <= t) & ~whole
        from_v = (d_v <= t) & ~whole
        pos = length > 0
        end_u = np.where(pos, (t - d_u) / np.where(pos, length, 1.0), 0.0)
        start_v = np.where(pos, 1.0 - (t - d_v) / np.where(pos, length, 1.0), 1.0)
    # Pieces from both ends that meet or overlap cover the whole edge.
    merged = from_u & from_v & (end_u >= start_v)
    whole |= merged
    from_u &= ~merged
    from_v &= ~merged
    rows_w = np.flatnonzero(whole)
    rows_u = np.flatnonzero(from_u)
    rows_v = np.flatnonzero(from_v)
    row = np.concatenate([rows_w, rows_u, rows_v])
    start = np.concatenate([np.zeros(rows_w.size), np.zeros(rows_u.size),
                            np.clip(start_v[rows_v], 0.0, 1.0)])
    end = np.concatenate([np.ones(rows_w.size), np.clip(end_u[rows_u], 0.0, 1.0),
                          np.ones(rows_v.size)])
    order = np.lexsort((start, row))
    return row[order], start[order], end[order]


def reached_segments(edge_u, edge_v, edge_length, edge_geometry, node_dist_dense, threshold):
    """Reached parts of edges at one break: ``(edge_index, start_frac, end_frac)``.

    ``node_dist_dense`` is (n_nodes,) network distances with ``inf`` for unreached nodes.
    Fractions are of the edge running u -> v. Sorted by edge, then start. An edge reached
    from both ends with a gap in the middle gives two pieces. ``edge_geometry`` is not used
    (kept so the call matches :func:`cut_lines`' inputs).
    """
    d = np.asarray(node_dist_dense, dtype=np.float64)
    if d.ndim != 1:
        raise InputError(f"node distances must be 1-D (n_nodes,), got shape {d.shape}",
                         field="node_dist_dense",
                         fix="pass one row of distances; use facility_circles for many sources")
    u, v, length = _as_edges(edge_u, edge_v, edge_length, d.size)
    t = float(_check_breaks(threshold)[0])
    return _pieces(d[u], d[v], length, t)


def cut_lines(edge_geometry, edge_index, start_frac, end_frac):
    """Substrings of ``edge_geometry[edge_index]`` from ``start_frac`` to ``end_frac``.

    Fractions are of each line's own length. Vectorised over all pieces on the coordinate
    arrays (no loop over pieces). Whole pieces (0, 1) return the original geometry;
    zero-length pieces return a Point at the cut.
    """
    geoms = np.asarray(edge_geometry, dtype=object)
    idx = np.asarray(edge_index, dtype=np.int64)
    a = np.asarray(start_frac, dtype=np.float64)
    b = np.asarray(end_frac, dtype=np.float64)
    out = geoms[idx].copy() if idx.size else np.empty(0, dtype=object)
    part = ~((a <= 0.0) & (b >= 1.0))
    if not part.any():
        return out
    pid = np.flatnonzero(part)
    sub = geoms[idx[pid]]
    pa = np.clip(a[pid], 0.0, 1.0)
    pb = np.clip(b[pid], 0.0, 1.0)
    pb = np.maximum(pa, pb)

    coords, gi = shapely.get_coordinates(sub, return_index=True)
    n = pid.size
    counts = np.bincount(gi, minlength=n)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    last = first + counts - 1
    seg = np.zeros(coords.shape[0])
    if coords.shape[0] > 1:
        step = np.hypot(np.diff(coords[:, 0]), np.diff(coords[:, 1]))
        same = gi[1:] == gi[:-1]
        seg[1:] = np.where(same, step, 0.0)
    gcum = np.cumsum(seg)                         # running length over all pieces
    cum = gcum - gcum[first][gi]                  # length from each line's start
    total = cum[last]
    sa = pa * total
    sb = pb * total

    def interp(s):
        # Segment i -> i+1 of the line holding distance s (global search, local maths).
        target = gcum[first] + s
        i = np.searchsorted(gcum, target, side="right") - 1
        i = np.clip(i, first, np.maximum(last - 1, first))
        j = np.minimum(i + 1, last)
        seglen = cum[j] - cum[i]
        with np.errstate(invalid="ignore", divide="ignore"):
            f = np.where(seglen > 0, (s - cum[i]) / np.where(seglen > 0, seglen, 1.0), 0.0)
        f = np.clip(f, 0.0, 1.0)[:, None]
        return coords[i] + f * (coords[j] - coords[i])

    pa_xy = interp(sa)
    pb_xy = interp(sb)

    inner = (cum > sa[gi]) & (cum < sb[gi])
    piece = np.concatenate([np.arange(n), gi[inner], np.arange(n)])
    pos = np.concatenate([sa, cum[inner], sb])
    kind = np.concatenate([np.zeros(n, np.int8), np.ones(int(inner.sum()), np.int8),
                           np.full(n, 2, np.int8)])
    xy = np.concatenate([pa_xy, coords[inner], pb_xy])
    order = np.lexsort((kind, pos, piece))

    res = np.empty(n, dtype=object)
    point = sb <= sa
    if point.any():
        res[point] = shapely.points(pa_xy[point])
    if (~point).any():
        keep = ~point[piece[order]]
        o = order[keep]
        lines_idx = np.flatnonzero(~point)
        # Renumber pieces 0..k-1 in increasing order for shapely's indices.
        renum = np.cumsum(~point) - 1
        res[lines_idx] = shapely.linestrings(xy[o], indices=renum[piece[o]])
    out[pid] = res
    return out


def reached_pieces(edge_u, edge_v, edge_length, edge_geometry, node_dist_dense, threshold,
                   node_x=None, node_y=None):
    """The reached network at one break as an object array of LineStrings/Points."""
    geoms = edge_lines(edge_u, edge_v, node_x, node_y, edge_geometry)
    e, a, b = reached_segments(edge_u, edge_v, edge_length, geoms, node_dist_dense, threshold)
    return cut_lines(geoms, e, a, b)


# --- grouping and polygons -------------------------------------------------------------


def _union_groups(geoms, group, n_groups, max_cells=4_000_000, func=shapely.union_all):
    """One union per group (``group`` sorted): ``func`` (shapely.union_all or
    coverage_union_all) along axis 1 of a padded 2-D array, in chunks of groups so the
    padding stays bounded. Empty groups get an empty polygon. Measured faster than buffering a multi-part geometry per group, which GEOS
    does very slowly when parts overlap (scripts/benchmark_isochrones.py)."""
    out = np.full(n_groups, _EMPTY, dtype=object)
    if geoms.size == 0:
        return out
    present, renum = np.unique(group, return_inverse=True)
    cnt = np.bincount(renum)
    within = np.arange(renum.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    starts = np.concatenate([[0], np.cumsum(cnt)])
    g0 = 0
    while g0 < present.size:
        # Grow the chunk while rows x widest row stays under max_cells.
        widest = np.maximum.accumulate(cnt[g0:])
        rows = np.arange(1, widest.size + 1)
        g1 = g0 + max(1, int(np.searchsorted(rows * widest, max_cells, side="right")))
        g1 = min(g1, present.size)
        sl = slice(starts[g0], starts[g1])
        pad = np.full((g1 - g0, int(cnt[g0:g1].max())), None, dtype=object)
        pad[renum[sl] - g0, within[sl]] = geoms[sl]
        out[present[g0:g1]] = func(pad, axis=1)
        g0 = g1
    return out


class NetworkFaces:
    """The network's planar faces (blocks) and, per face, its "hole": the part of the block
    farther than ``buffer_m`` from every street around it.

    Built once per network and buffer width (:func:`network_faces`) and reused for every
    facility and break. A face is *clean* when its boundary is made exactly of whole edges,
    each counted once (no dangle, crossing or duplicate edge inside it, no island in it).
    When every edge around a clean face is wholly reached, the drawn polygon inside that
    face is exactly the face minus its hole; its edges then need no buffer of their own.
    """

    def __init__(self, left, right, sides, clean, faces, holes, buffer_m, quad_segs):
        self.left, self.right = left, right   # face id on each side of each edge, -1 none
        self.sides = sides                    # edge sides bounding each face
        self.clean = clean                    # bool per face
        self.faces, self.holes = faces, holes  # polygons per face (holes: clean faces)
        self.buffer_m, self.quad_segs = buffer_m, quad_segs

    @property
    def n_faces(self):
        return self.faces.size


def network_faces(edge_geometry, buffer_m=DEFAULT_BUFFER_M, quad_segs=DEFAULT_QUAD_SEGS):
    """Faces of the noded network, the face on each side of every edge, and face holes."""
    geoms = np.asarray(edge_geometry, dtype=object)
    m = geoms.size
    noded = shapely.node(shapely.multilinestrings(geoms)) if m else shapely.MultiLineString()
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    k = faces.size
    left = np.full(m, -1, np.int64)
    right = np.full(m, -1, np.int64)
    glen = shapely.length(geoms)
    if k and m:
        ok = glen > 0
        h = np.minimum(glen * 0.25, 0.01)
        mid = shapely.line_interpolate_point(geoms, glen * 0.5)
        p0 = shapely.get_coordinates(shapely.line_interpolate_point(geoms, glen * 0.5 - h))
        p1 = shapely.get_coordinates(shapely.line_interpolate_point(geoms, glen * 0.5 + h))
        mxy = shapely.get_coordinates(mid)
        dxy = p1 - p0
        norm = np.hypot(dxy[:, 0], dxy[:, 1])
        norm[norm == 0] = 1.0
        nrm = np.column_stack([-dxy[:, 1], dxy[:, 0]]) / norm[:, None]
        eps = np.maximum(1e-3, 1e-9 * np.abs(mxy).max(axis=1, initial=0))[:, None]
        tree = shapely.STRtree(faces)
        for side, sign in ((left, 1.0), (right, -1.0)):
            pts = shapely.points(mxy + sign * eps * nrm)
            qi, fi = tree.query(pts, predicate="within")
            sel = ok[qi]
            side[qi[sel]] = fi[sel]
    sides = np.bincount(np.concatenate([left[left >= 0], right[right >= 0]]), minlength=k)
    bound = np.bincount(np.concatenate([left[left >= 0], right[right >= 0]]),
                        weights=np.concatenate([glen[left >= 0], glen[right >= 0]]),
                        minlength=k)
    perim = shapely.length(faces)
    clean = (np.abs(bound - perim) <= 1e-7 * np.maximum(perim, 1.0)) & \
        (shapely.get_num_interior_rings(faces) == 0) & (sides > 0)
    holes = np.full(k, None, dtype=object)
    if clean.any():
        holes[clean] = shapely.buffer(faces[clean], -buffer_m, quad_segs=quad_segs)
    return NetworkFaces(left, right, sides, clean, faces, holes, buffer_m, quad_segs)


def _draw(geoms, f, e, d_u, d_v, lens, n_groups, t, buffer_m, quad_segs, faces):
    """Polygons (one per group) of the reached network at break t.

    Rows (f, e, d_u, d_v) are (group, edge, end distances), sorted by group. Without
    ``faces`` every piece is buffered and the buffers are unioned per group. With faces,
    whole edges between two fully reached clean faces are replaced by those faces
    (coverage union, cheap), the other pieces are buffered and unioned with them, and the
    faces' holes are cut out: the same polygon from far fewer buffers.
    """
    row, a, b = _pieces(d_u, d_v, lens, t)
    fr, er = f[row], e[row]
    stats = (np.bincount(fr, weights=(b - a) * lens[row], minlength=n_groups),
             np.bincount(fr, minlength=n_groups))
    keep = np.ones(row.size, bool)
    full_keys = np.empty(0, np.int64)
    if faces is not None and faces.n_faces:
        k = faces.n_faces
        whole = (a <= 0) & (b >= 1)
        wf, we = fr[whole], er[whole]
        fl, fg = faces.left[we], faces.right[we]
        sf = np.concatenate([wf, wf])
        sface = np.concatenate([fl, fg])
        okf = sface >= 0
        okf[okf] = faces.clean[sface[okf]]
        keys = sf[okf] * k + sface[okf]
        uniq, cnt = np.unique(keys, return_counts=True)
        full_keys = uniq[cnt == faces.sides[uniq % k]]

        def is_full(fid, face):
            if full_keys.size == 0:
                return np.zeros(fid.size, bool)
            key = fid * k + face
            j = np.searchsorted(full_keys, key)
            jc = np.minimum(j, max(full_keys.size - 1, 0))
            return (face >= 0) & (j < full_keys.size) & (full_keys[jc] == key)

        inner = is_full(wf, fl) & is_full(wf, fg)
        idx = np.flatnonzero(whole)
        keep[idx[inner]] = False
    pieces = cut_lines(geoms, er[keep], a[keep], b[keep])
    parts = shapely.buffer(pieces, buffer_m, quad_segs=quad_segs)
    group = fr[keep]
    if full_keys.size:
        k = faces.n_faces
        ff, fface = full_keys // k, full_keys % k
        # Full faces of a group form a coverage: one cheap coverage union per group.
        present = np.unique(ff)
        cov = _union_groups(faces.faces[fface], ff, n_groups, func=shapely.coverage_union_all)
        order = np.argsort(np.concatenate([group, present]), kind="stable")
        parts = np.concatenate([parts, cov[present]])[order]
        group = np.concatenate([group, present])[order]
    polys = _union_groups(parts, group, n_groups)
    if full_keys.size:
        # Cut out the holes of full faces: disjoint, so a multipolygon per group is valid.
        hole = faces.holes[fface]
        hp, hi = shapely.get_parts(hole, return_index=True)
        hp_ok = ~shapely.is_empty(hp)
        hp, hg = hp[hp_ok], ff[hi[hp_ok]]
        if hp.size:
            hg_present = np.unique(hg)
            cut = shapely.multipolygons(hp, indices=np.searchsorted(hg_present, hg))
            polys[hg_present] = shapely.difference(polys[hg_present], cut)
    return polys, stats


def _frame(records, geometry, crs):
    df = gpd.GeoDataFrame(records, geometry=geometry, crs=crs)
    area = shapely.area(geometry)
    hull = shapely.area(shapely.convex_hull(geometry))
    df["area_m2"] = area
    df["hull_area_m2"] = hull
    with np.errstate(invalid="ignore", divide="ignore"):
        df["hull_overstatement"] = np.where(area > 0, hull / np.where(area > 0, area, 1.0) - 1.0,
                                            np.nan)
    return df


def _faces_for(method, faces, geoms, buffer_m, quad_segs):
    if method not in ("faces", "buffers"):
        raise InputError(f"unknown polygon method {method!r}", field="method",
                         fix='use "faces" (default, fast) or "buffers" (plain, for checks)')
    if method == "buffers":
        return None
    if faces is None:
        return network_faces(geoms, buffer_m, quad_segs)
    if faces.buffer_m != buffer_m or faces.quad_segs != quad_segs or faces.left.size != geoms.size:
        raise InputError("the precomputed network faces were made for another network, "
                         "buffer width or quad_segs", field="faces",
                         fix="call network_faces(edge_geometry, buffer_m, quad_segs) again")
    return faces


def category_circles(edge_u, edge_v, edge_length, edge_geometry, node_dist_dense, breaks_m,
                     buffer_m=DEFAULT_BUFFER_M, *, node_x=None, node_y=None, crs=None,
                     quad_segs=DEFAULT_QUAD_SEGS, method="faces", faces=None):
    """Dissolved life circles of one category: one row per break.

    Columns: ``break_m``, ``reached_length_m`` (street length reached, by edge_length),
    ``n_pieces`` (reached pieces of edges), ``geometry``, ``area_m2``, ``hull_area_m2``
    (area of the convex hull of the drawn polygon, i.e. of the reached network buffered the
    same way), ``hull_overstatement`` = hull_area_m2 / area_m2 - 1 (NaN when nothing is
    reached). ``method="buffers"`` buffers every piece (slower, same polygon); ``faces``
    is a :class:`NetworkFaces` to reuse across calls on the same network.
    """
    d = np.asarray(node_dist_dense, dtype=np.float64)
    if d.ndim != 1:
        raise InputError(f"node distances must be 1-D (n_nodes,), got shape {d.shape}",
                         field="node_dist_dense",
                         fix="pass the dissolved distances; use facility_circles for many")
    breaks = _check_breaks(breaks_m)
    buffer_m = _check_buffer(buffer_m)
    u, v, length = _as_edges(edge_u, edge_v, edge_length, d.size)
    geoms = edge_lines(u, v, node_x, node_y, edge_geometry)
    nf = _faces_for(method, faces, geoms, buffer_m, quad_segs)
    du, dv = d[u], d[v]
    e = np.flatnonzero(np.minimum(du, dv) <= breaks.max())
    f = np.zeros(e.size, np.int64)
    polys, reached, npieces = [], [], []
    for t in breaks:  # a handful of breaks
        p, (rl, npc) = _draw(geoms, f, e, du[e], dv[e], length[e], 1, t, buffer_m, quad_segs, nf)
        polys.append(p[0])
        reached.append(float(rl[0]))
        npieces.append(int(npc[0]))
    return _frame({"break_m": breaks, "reached_length_m": reached, "n_pieces": npieces},
                  np.array(polys, dtype=object), crs)


def _facility_edge_pairs(u, v, csr, n_nodes):
    """(facility, edge, d_u, d_v) for every edge with at least one reached end, vectorised.

    Each stored entry (f, n, d) is expanded over the edges incident to n; the distance at the
    other end is looked up in row f of the CSR by binary search. A pair reached at both ends
    is kept once (from its u end).
    """
    m = u.size
    ends = np.concatenate([u, v])
    inc_order = np.argsort(ends, kind="stable")
    inc_edge = np.concatenate([np.arange(m), np.arange(m)])[inc_order]
    inc_side = np.concatenate([np.zeros(m, np.int8), np.ones(m, np.int8)])[inc_order]
    deg = np.bincount(ends, minlength=n_nodes)
    ptr = np.concatenate([[0], np.cumsum(deg)])

    nf = csr.shape[0]
    fac = np.repeat(np.arange(nf, dtype=np.int64), np.diff(csr.indptr))
    node = csr.indices.astype(np.int64)
    dist = np.asarray(csr.data, dtype=np.float64)
    keys = fac * n_nodes + node                     # sorted: canonical CSR

    cnt = deg[node]
    tot = int(cnt.sum())
    rep = np.repeat(np.arange(node.size), cnt)
    within = np.arange(tot) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    pos = ptr[node][rep] + within
    e = inc_edge[pos]
    side = inc_side[pos]
    f = fac[rep]
    d_here = dist[rep]
    other = np.where(side == 0, v[e], u[e])
    okey = f * n_nodes + other
    j = np.searchsorted(keys, okey)
    jc = np.minimum(j, max(keys.size - 1, 0))
    found = (j < keys.size) & (keys[jc] == okey)
    d_other = np.where(found, dist[jc], np.inf)
    # Keep each (f, e) once: from the u end, or from the v end when u is unreached.
    # (A self-loop is listed twice at its node; the v-end copy finds u reached and drops.)
    keep = (side == 0) | ~found
    e, f, side, d_here, d_other = e[keep], f[keep], side[keep], d_here[keep], d_other[keep]
    d_u = np.where(side == 0, d_here, d_other)
    d_v = np.where(side == 0, d_other, d_here)
    order = np.lexsort((e, f))
    return f[order], e[order], d_u[order], d_v[order]


def facility_circles(edge_u, edge_v, edge_length, edge_geometry, node_dist_sparse,
                     facility_ids, breaks_m, buffer_m=DEFAULT_BUFFER_M, *, node_x=None,
                     node_y=None, crs=None, quad_segs=DEFAULT_QUAD_SEGS, method="faces",
                     faces=None):
    """Life circles of each facility: one row per facility and break.

    ``node_dist_sparse``: scipy.sparse CSR (n_facilities x n_nodes) of reached-node
    distances (explicit zeros = distance 0; absent = unreached). All facilities are done at
    once: reached (facility, edge) pairs from the COO triplets, pieces cut in one vectorised
    pass, all buffers made in one shapely call and unioned per facility along the axis of a
    padded array (with ``method="faces"`` fully reached blocks replace most buffers).
    Rows are ordered by break, then facility (input order). A facility that reaches nothing
    gets an empty polygon. Columns as :func:`category_circles` plus ``facility_id``.
    """
    if not sp.issparse(node_dist_sparse):
        raise InputError("node distances for facility circles must be a scipy.sparse matrix",
                         field="node_dist_sparse",
                         fix="pass the (n_facilities x n_nodes) CSR from the access core")
    csr = sp.csr_array(node_dist_sparse)
    if not csr.has_canonical_format:
        # Duplicates: keep the shortest distance (never add them up).
        coo = csr.tocoo()
        order = np.lexsort((coo.data, coo.col, coo.row))
        r, c, d = coo.row[order], coo.col[order], coo.data[order]
        first = np.ones(r.size, bool)
        first[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
        indptr = np.concatenate([[0], np.cumsum(np.bincount(r[first], minlength=coo.shape[0]))])
        csr = sp.csr_array((d[first], c[first], indptr), shape=coo.shape)
    nf, n_nodes = csr.shape
    ids = np.asarray(facility_ids)
    if ids.shape != (nf,):
        raise InputError(f"{ids.size} facility ids for {nf} rows of node distances",
                         field="facility_ids", fix="pass one id per row of node_dist_sparse")
    bad = ~np.isfinite(csr.data) | (csr.data < 0)
    if bad.any():
        raise InputError(f"{int(bad.sum())} stored node distances are negative or not finite",
                         field="node_dist_sparse",
                         fix="store only reached nodes (distance >= 0); leave unreached absent")
    breaks = _check_breaks(breaks_m)
    buffer_m = _check_buffer(buffer_m)
    u, v, length = _as_edges(edge_u, edge_v, edge_length, n_nodes)
    geoms = edge_lines(u, v, node_x, node_y, edge_geometry)
    nfaces = _faces_for(method, faces, geoms, buffer_m, quad_segs)
    f, e, du, dv = _facility_edge_pairs(u, v, csr, n_nodes)
    lens = length[e]
    frames = []
    for t in breaks:  # a handful of breaks; all facilities at once inside
        polys, (reached, npieces) = _draw(geoms, f, e, du, dv, lens, nf, t, buffer_m,
                                          quad_segs, nfaces)
        frames.append(_frame({"facility_id": ids, "break_m": np.full(nf, t),
                              "reached_length_m": reached, "n_pieces": npieces},
                             polys, crs))
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=crs)
