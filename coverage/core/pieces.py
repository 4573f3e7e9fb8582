"""Reached pieces of the walking network: the part of each edge within a break.

Inputs are plain arrays, so this module does not depend on any network class:

- ``edge_u``, ``edge_v`` (int, m): end nodes of each undirected edge;
- ``edge_length`` (float64 metres, m): the routing length of each edge;
- ``edge_geometry`` (object array of shapely LineStrings in a metric CRS, m), each running
  from node u to node v. Cuts are made at fractions of ``edge_length`` applied to the
  geometry's own length, so a geometry slightly longer or shorter than ``edge_length`` is
  cut at the proportional point. ``None`` (the whole array or one element) means a
  straight line between the node coordinates, which must then be given.

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
import shapely

from coverage.errors import InputError

__all__ = ["DEFAULT_BUFFER_M", "DEFAULT_QUAD_SEGS", "edge_lines", "reached_segments", "cut_lines",
           "reached_pieces"]

#: Depth of street frontage drawn as reached, metres on each side of the street centreline.
#: 30 m covers the buildings that front a street in a typical Chinese residential block
#: (10-20 m setback plus building depth) without bridging between parallel streets
#: 80-150 m apart.
DEFAULT_BUFFER_M = 30.0

#: Segments per quarter circle in the buffers (shapely default is 8). 4 is enough for a
#: drawing at 30 m and buffers about a third faster.
DEFAULT_QUAD_SEGS = 4


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


def reached_parts(d_u, d_v, length, t):
    """How a walk of ``t`` reaches each edge (end distances d_u, d_v, lengths ``length``): masks
    (whole edge, a piece from u, a piece from v) and the fractions where the piece from u ends and
    the piece from v starts (unclipped). Pieces from both ends that meet or overlap cover the
    whole edge. Shared by :func:`_pieces` and the per-group sums of :mod:`coverage.core.isochrones`,
    so both read the same pieces to the last bit."""
    with np.errstate(invalid="ignore", divide="ignore"):
        whole = (d_u + length <= t) | (d_v + length <= t)
        from_u = (d_u <= t) & ~whole
        from_v = (d_v <= t) & ~whole
        pos = length > 0
        end_u = np.where(pos, (t - d_u) / np.where(pos, length, 1.0), 0.0)
        start_v = np.where(pos, 1.0 - (t - d_v) / np.where(pos, length, 1.0), 1.0)
    merged = from_u & from_v & (end_u >= start_v)
    whole |= merged
    from_u &= ~merged
    from_v &= ~merged
    return whole, from_u, from_v, end_u, start_v


def _pieces(d_u, d_v, length, t):
    """Reached pieces of edges with end distances d_u, d_v and lengths ``length`` at break t.

    Returns (row, start_frac, end_frac) with rows into the input arrays, sorted by row and
    then start. Fully vectorised.
    """
    whole, from_u, from_v, end_u, start_v = reached_parts(d_u, d_v, length, t)
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
