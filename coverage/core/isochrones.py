"""Life-circle polygons (isochrones) drawn from the reached walking network itself.

A life circle is drawn as the streets a resident can walk along within a break (5/10/15
minutes, given here in metres), buffered on both sides by ``buffer_m``: the depth of street
frontage counted as reached, i.e. how far from the street centreline a building or
courtyard entrance may stand and still be drawn inside the circle. Edges that cross the
break are cut where the walk runs out (:mod:`coverage.core.pieces`). Convex hulls of the
reached network are NOT drawn: they overstate coverage (they fill in rivers, rail yards and
blocks with no entrance); each row reports how much larger the hull would have been
(``hull_overstatement``).

The polygons are for drawing only. Coverage is counted from network distances elsewhere.

Three ways to draw the same rule (``method=``):

- ``"raster"`` (default): reached points marked on a grid of about ``cell_m`` (10 m) cells,
  dilated by the frontage and outlined by marching squares (:mod:`coverage.core.circle_raster`).
  Within about half a cell of the exact outline (area within a few percent), and fast: a
  county's 24 dissolved circles and 5,000 facility circles take seconds, in bounded memory;
- ``"faces"``: exact buffers, with fully reached blocks used in place of most buffers;
- ``"buffers"``: exact buffers of every reached piece, unioned (the plain reference).

Inputs are plain arrays (see :mod:`coverage.core.pieces`); node distances from the access
core are a dense float array (n_nodes,) with ``inf`` for unreached nodes (category circles),
or a ``scipy.sparse`` CSR array (n_facilities x n_nodes) whose stored entries are the reached
nodes (facility circles; explicit zeros are distances of 0, absent entries are unreached).
"""

from __future__ import annotations

import os
import weakref
from concurrent.futures import ThreadPoolExecutor

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

from coverage.errors import InputError

from .circle_raster import DEFAULT_CELL_M, CircleGrid, circle_grid
from .faces import NetworkFaces, _union_groups, draw_exact, network_faces  # noqa: F401
from .pieces import (DEFAULT_BUFFER_M, DEFAULT_QUAD_SEGS, _as_edges, _check_breaks, reached_parts,  # noqa: F401
                     _check_buffer, _pieces, cut_lines, edge_lines, reached_pieces,
                     reached_segments)

__all__ = [
    "DEFAULT_BUFFER_M",
    "DEFAULT_QUAD_SEGS",
    "DEFAULT_CELL_M",
    "METHODS",
    "edge_lines",
    "reached_segments",
    "cut_lines",
    "reached_pieces",
    "NetworkFaces",
    "network_faces",
    "CircleGrid",
    "circle_grid",
    "category_circles",
    "facility_circles",
    "default_workers",
    "run_tasks",
]

METHODS = ("raster", "faces", "buffers")

#: Facilities drawn at once by the raster method (their reached edges and windows in memory).
FACILITY_CHUNK = 64

#: At most this many threads draw circles at once (each holds its own rasters in memory).
MAX_WORKERS = 4


def default_workers() -> int:
    """Threads for drawing circles: the cores this process may use, at most ``MAX_WORKERS``."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(n, MAX_WORKERS))


def run_tasks(tasks, workers=None):
    """Results of the calls ``tasks`` (a list of argument-less callables), in the list's order.

    With ``workers`` > 1 (default :func:`default_workers`) they run in a thread pool: the drawing
    is numpy, scipy and shapely work that mostly releases the GIL, so independent tasks (e.g. the
    categories of a study) use several cores. Each result is collected by its index, never by
    completion order, so the output is the same, bit for bit, as ``workers=1`` (a plain loop in
    this thread, for debugging), provided the tasks share no mutable state. Tasks are started in
    the list's order: put the longest first. The first task to fail raises its error."""
    tasks = list(tasks)
    n = default_workers() if workers is None else max(1, int(workers))
    if n == 1 or len(tasks) <= 1:
        return [t() for t in tasks]
    with ThreadPoolExecutor(max_workers=min(n, len(tasks)), thread_name_prefix="circles") as ex:
        futures = [ex.submit(t) for t in tasks]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()                  # tasks not started yet; running ones finish
            raise


_MEMO: dict = {}


def _memo(kind, arrays, make):
    """``make()``, computed once while the same ``arrays`` (by identity; None allowed) are alive:
    a study draws its categories' circles on one network, whose edge geometries are checked and
    whose node-edge incidence is built once instead of once per call. The arrays must not be
    changed in place meanwhile (the network's arrays never are)."""
    key = (kind,) + tuple(id(a) for a in arrays)
    hit = _MEMO.get(key)
    if hit is not None and all((r is None and a is None) or (r is not None and r() is a)
                               for r, a in zip(hit[0], arrays)):
        return hit[1]
    value = make()
    try:
        refs = tuple(None if a is None else weakref.ref(a, lambda _, k=key: _MEMO.pop(k, None))
                     for a in arrays)
    except TypeError:                           # not weakly referable: not kept
        return value
    _MEMO[key] = (refs, value)
    return value


def _edge_lines(u, v, node_x, node_y, edge_geometry):
    return _memo("lines", (u, v, node_x, node_y, edge_geometry),
                 lambda: edge_lines(u, v, node_x, node_y, edge_geometry))


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


def _stats(f, d_u, d_v, lens, n_groups, t):
    """(reached street length, number of reached pieces) per group at break t.

    The pieces of :func:`~coverage.core.pieces._pieces` without building and sorting them: per
    row its piece from u (or the whole edge) and its piece from v, summed in that order (the
    order of the sorted pieces, so the sums are the same to the last bit). Most rows are whole
    edges (one term, the length); the pieces are worked out for the others only, and the terms
    that are 0 are left out (adding 0 changes no sum)."""
    with np.errstate(invalid="ignore"):
        quick = (d_u + lens <= t) | (d_v + lens <= t)
    rest = np.flatnonzero(~quick)
    ln = lens[rest]
    whole, from_u, from_v, end_u, start_v = reached_parts(d_u[rest], d_v[rest], ln, t)
    first = np.where(whole, (1.0 - 0.0) * ln, np.where(from_u, (np.clip(end_u, 0.0, 1.0) - 0.0) * ln, 0.0))
    second = np.where(from_v, (1.0 - np.clip(start_v, 0.0, 1.0)) * ln, 0.0)
    # one term per quick row (its length), two per other row (first, second), in row order
    terms = 1 + (~quick).astype(np.int64)
    at = np.cumsum(terms) - terms
    w = np.empty(int(at[-1] + terms[-1]) if f.size else 0)
    w[at[quick]] = lens[quick]
    w[at[rest]] = first
    w[at[rest] + 1] = second
    length = np.bincount(np.repeat(f, terms), weights=w, minlength=n_groups)
    count = np.bincount(f, minlength=n_groups)
    count -= np.bincount(f[rest], weights=~(whole | from_u), minlength=n_groups).astype(np.int64)
    count += np.bincount(f[rest], weights=from_v, minlength=n_groups).astype(np.int64)
    return length, count.astype(np.int64)


def _drawer(method, geoms, buffer_m, quad_segs, faces, grid, cell_m):
    """What draws the polygons: ("raster", CircleGrid) or ("exact", NetworkFaces or None)."""
    if method not in METHODS:
        raise InputError(f"unknown polygon method {method!r}", field="method",
                         fix='use "raster" (default, fast), "faces" (exact) or "buffers" '
                             '(exact, plain, for checks)')
    if method == "raster":
        if not (np.isfinite(cell_m) and cell_m > 0):
            raise InputError(f"the drawing cell must be a positive number of metres, got {cell_m!r}",
                             field="cell_m", fix=f"use e.g. {DEFAULT_CELL_M:g}")
        if grid is None:
            return "raster", circle_grid(geoms, buffer_m, cell_m)
        if not grid.matches(geoms.size, buffer_m, cell_m):
            raise InputError("the precomputed circle grid was made for another network, buffer "
                             "width or cell", field="grid",
                             fix="call circle_grid(edge_geometry, buffer_m, cell_m) again")
        return "raster", grid
    if method == "buffers":
        return "exact", None
    if faces is None:
        return "exact", network_faces(geoms, buffer_m, quad_segs)
    if faces.buffer_m != buffer_m or faces.quad_segs != quad_segs or faces.left.size != geoms.size:
        raise InputError("the precomputed network faces were made for another network, "
                         "buffer width or quad_segs", field="faces",
                         fix="call network_faces(edge_geometry, buffer_m, quad_segs) again")
    return "exact", faces


def category_circles(edge_u, edge_v, edge_length, edge_geometry, node_dist_dense, breaks_m,
                     buffer_m=DEFAULT_BUFFER_M, *, node_x=None, node_y=None, crs=None,
                     quad_segs=DEFAULT_QUAD_SEGS, method="raster", faces=None, grid=None,
                     cell_m=DEFAULT_CELL_M):
    """Dissolved life circles of one category: one row per break.

    Columns: ``break_m``, ``reached_length_m`` (street length reached, by edge_length),
    ``n_pieces`` (reached pieces of edges), ``geometry``, ``area_m2``, ``hull_area_m2``
    (area of the convex hull of the drawn polygon, i.e. of the reached network buffered the
    same way), ``hull_overstatement`` = hull_area_m2 / area_m2 - 1 (NaN when nothing is
    reached). ``method`` is ``"raster"`` (default; ``grid`` a :class:`CircleGrid` to reuse
    across calls, ``cell_m`` its cell), ``"faces"`` (``faces`` a :class:`NetworkFaces` to
    reuse) or ``"buffers"``.
    """
    d = np.asarray(node_dist_dense, dtype=np.float64)
    if d.ndim != 1:
        raise InputError(f"node distances must be 1-D (n_nodes,), got shape {d.shape}",
                         field="node_dist_dense",
                         fix="pass the dissolved distances; use facility_circles for many")
    breaks = _check_breaks(breaks_m)
    buffer_m = _check_buffer(buffer_m)
    u, v, length = _as_edges(edge_u, edge_v, edge_length, d.size)
    geoms = _edge_lines(u, v, node_x, node_y, edge_geometry)
    kind, tool = _drawer(method, geoms, buffer_m, quad_segs, faces, grid, cell_m)
    du, dv = d[u], d[v]
    e = np.flatnonzero(np.minimum(du, dv) <= breaks.max())
    f = np.zeros(e.size, np.int64)
    reached, npieces = [], []
    for t in breaks:  # a handful of breaks
        rl, npc = _stats(f, du[e], dv[e], length[e], 1, t)
        reached.append(float(rl[0]))
        npieces.append(int(npc[0]))
    if kind == "raster":
        order = np.argsort(breaks, kind="stable")
        drawn = tool.dissolved(du, dv, length, breaks[order])
        polys = [None] * breaks.size
        for i, p in zip(order, drawn):
            polys[i] = p
    else:
        polys = [draw_exact(geoms, f, e, du[e], dv[e], length[e], 1, t, buffer_m, quad_segs,
                            tool)[0][0] for t in breaks]
    return _frame({"break_m": breaks, "reached_length_m": reached, "n_pieces": npieces},
                  np.array(polys, dtype=object), crs)


def _incidence(u, v, n_nodes):
    """Sparse (n_nodes x n_edges) matrix with a 1 at both ends of every edge."""
    m = u.size
    return sp.csr_array((np.ones(2 * m), (np.concatenate([u, v]), np.concatenate([np.arange(m)] * 2))),
                        shape=(n_nodes, m))


def _facility_edge_pairs(u, v, csr, n_nodes, chunk=32, inc=None, block=None):
    """(facility, edge, d_u, d_v) for every edge with at least one reached end, sorted by facility
    (the edges of a facility in no particular order); unreached ends are ``inf``.

    In blocks of ``chunk`` facilities: the pairs are the pattern of (reached nodes) x
    (node-edge incidence), a sparse product (C code); both end distances are read from a dense
    row per facility over the nodes the block reaches (numbered 0..k-1, and a last column of
    inf for nodes it does not reach), small enough to stay in the processor's cache. ``block``
    is not used (kept for callers that pass one)."""
    inc = inc if inc is not None else _incidence(u, v, n_nodes)
    nf = csr.shape[0]
    col = np.full(n_nodes, -1, np.int64)        # node -> column of the block; -1: the inf column
    seen = np.zeros(n_nodes, bool)
    parts = []
    for f0 in range(0, nf, chunk):
        f1 = min(f0 + chunk, nf)
        indptr = csr.indptr[f0:f1 + 1] - csr.indptr[f0]
        node = csr.indices[csr.indptr[f0]:csr.indptr[f1]]
        dist = np.asarray(csr.data[csr.indptr[f0]:csr.indptr[f1]], dtype=np.float64)
        reached = sp.csr_array((np.ones(node.size), node, indptr), shape=(f1 - f0, n_nodes))
        pairs = reached @ inc              # edges in any order within a facility: fine here
        f = np.repeat(np.arange(f1 - f0), np.diff(pairs.indptr))
        e = pairs.indices.astype(np.int64)
        seen[node] = True
        some = np.flatnonzero(seen)
        seen[some] = False
        col[some] = np.arange(some.size)
        rows = np.full((f1 - f0, some.size + 1), np.inf)
        rows[np.repeat(np.arange(f1 - f0), np.diff(indptr)), col[node]] = dist
        parts.append((f + f0, e, rows[f, col[u[e]]], rows[f, col[v[e]]]))
        col[some] = -1
    if not parts:
        z = np.zeros(0, np.int64)
        return z, z, np.zeros(0), np.zeros(0)
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(4))


def _canonical(node_dist_sparse):
    csr = sp.csr_array(node_dist_sparse)
    if csr.has_canonical_format:
        return csr
    # Duplicates: keep the shortest distance (never add them up).
    coo = csr.tocoo()
    order = np.lexsort((coo.data, coo.col, coo.row))
    r, c, d = coo.row[order], coo.col[order], coo.data[order]
    first = np.ones(r.size, bool)
    first[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
    indptr = np.concatenate([[0], np.cumsum(np.bincount(r[first], minlength=coo.shape[0]))])
    return sp.csr_array((d[first], c[first], indptr), shape=coo.shape)


def facility_circles(edge_u, edge_v, edge_length, edge_geometry, node_dist_sparse,
                     facility_ids, breaks_m, buffer_m=DEFAULT_BUFFER_M, *, node_x=None,
                     node_y=None, crs=None, quad_segs=DEFAULT_QUAD_SEGS, method="raster",
                     faces=None, grid=None, cell_m=DEFAULT_CELL_M):
    """Life circles of each facility: one row per facility and break.

    ``node_dist_sparse``: scipy.sparse CSR (n_facilities x n_nodes) of reached-node
    distances (explicit zeros = distance 0; absent = unreached). Reached (facility, edge)
    pairs come from the COO triplets in one vectorised pass; the raster method then draws
    each facility in a window around its reach, in chunks of facilities (bounded memory);
    the exact methods buffer the pieces and union them per facility.
    Rows are ordered by break, then facility (input order). A facility that reaches nothing
    gets an empty polygon. Columns as :func:`category_circles` plus ``facility_id``.
    """
    if not sp.issparse(node_dist_sparse):
        raise InputError("node distances for facility circles must be a scipy.sparse matrix",
                         field="node_dist_sparse",
                         fix="pass the (n_facilities x n_nodes) CSR from the access core")
    csr = _canonical(node_dist_sparse)
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
    geoms = _edge_lines(u, v, node_x, node_y, edge_geometry)
    kind, tool = _drawer(method, geoms, buffer_m, quad_segs, faces, grid, cell_m)
    inc = _memo(("incidence", n_nodes), (u, v), lambda: _incidence(u, v, n_nodes))
    polys = np.empty((breaks.size, nf), dtype=object)
    reached = np.zeros((breaks.size, nf))
    npieces = np.zeros((breaks.size, nf), np.int64)
    step = FACILITY_CHUNK if kind == "raster" else max(nf, 1)
    for f0 in range(0, nf, step):  # raster: chunks of facilities, so memory stays bounded
        sub = csr[f0:f0 + step]
        n = sub.shape[0]
        f, e, du, dv = _facility_edge_pairs(u, v, sub, n_nodes, inc=inc)
        lens = length[e]
        for k, t in enumerate(breaks):  # a handful of breaks
            if kind == "raster":
                p = tool.per_group(f, e, du, dv, lens, n, t)
                r, c = _stats(f, du, dv, lens, n, t)
            else:
                p, (r, c) = draw_exact(geoms, f, e, du, dv, lens, n, t, buffer_m, quad_segs, tool)
            polys[k, f0:f0 + n], reached[k, f0:f0 + n], npieces[k, f0:f0 + n] = p, r, c
    frames = [_frame({"facility_id": ids, "break_m": np.full(nf, t), "reached_length_m": reached[k],
                      "n_pieces": npieces[k]}, polys[k], crs) for k, t in enumerate(breaks)]
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=crs)
