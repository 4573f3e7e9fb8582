"""Outlines of raster regions by marching squares, vectorised.

For a grid of small whole-number levels (0 = nothing; for a life circle, how many breaks reach
the cell) and a threshold t, the region is the cells with level >= t. Its outline runs through
the middle of each edge between a cell centre in the region and one outside it, with 45-degree
corners (no staircase); cells touching diagonally count as joined. Everything is whole-array
numpy work once per grid, plus work proportional to the outlines; no per-cell Python loop:

1. the quads of four centres whose levels differ are found in one pass (in bands of rows, so
   the temporaries stay small); for each threshold each of them gets its case (0..15) and one
   or two segments, oriented with the region on the left;
2. each segment's successor is the segment of the quad across its end that starts there (a
   binary search in the quads, which come row by row); the cycles of that
   permutation are the rings (connected components and one depth-first walk, C code);
   collinear points are dropped;
3. counter-clockwise rings are outlines, clockwise rings holes; a hole belongs to the smallest
   outline around it (an STRtree of the holes queried with the prepared outlines).

:func:`rings` returns the rings of each threshold in cell-index coordinates (x = column,
y = row, centres at whole numbers); :func:`polygons` builds shapely polygons from them.
"""

from __future__ import annotations

import numpy as np
import shapely

__all__ = ["rings", "polygons", "outline", "Rings"]

# Segments of each case (bit 0 = lower-left centre, 1 = lower-right, 2 = upper-right,
# 3 = upper-left), as (from, to) edge midpoints: 0 = south, 1 = east, 2 = north, 3 = west.
# Saddles (5, 10) keep the two corners in the region joined.
_SEGMENTS = {1: [(0, 3)], 2: [(1, 0)], 3: [(1, 3)], 4: [(2, 1)], 5: [(0, 1), (2, 3)], 6: [(2, 0)],
             7: [(2, 3)], 8: [(3, 2)], 9: [(0, 2)], 10: [(3, 0), (1, 2)], 11: [(1, 2)], 12: [(3, 1)],
             13: [(0, 1)], 14: [(3, 0)]}
_TABLE = np.full((16, 2, 2), -1, np.int8)
for _case, _segs in _SEGMENTS.items():
    for _k, (_a, _b) in enumerate(_segs):
        _TABLE[_case, _k] = (_a, _b)
_BAND = 1024          # rows of quads per pass


class Rings:
    """Rings of one region: ``xy`` (n, 2) cell-index coordinates, ``ring`` (n,) the ring of each
    point (a ring's points consecutive, not repeated at the end); per ring ``shell`` (True for an
    outline, False for a hole) and ``owner`` (the outline ring a ring belongs to; itself for an
    outline)."""

    def __init__(self, xy, ring, shell, owner):
        self.xy, self.ring, self.shell, self.owner = xy, ring, shell, owner

    @property
    def n_rings(self):
        return self.shell.size


_NO_RINGS = Rings(np.zeros((0, 2)), np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0, np.int64))


def _quads(level):
    """Quads (i, j) whose four corner levels are not all equal, row by row, with those levels
    (a lower-left, b lower-right, c upper-right, d upper-left); for a boolean grid (one
    threshold) with their case (0..15, see ``_SEGMENTS``) in place of the four levels."""
    nrows = level.shape[0]
    binary = level.dtype == bool
    out = [[], [], []] if binary else [[], [], [], [], [], []]
    ncols = level.shape[1] - 1
    for r0 in range(0, nrows - 1, _BAND):
        r1 = min(r0 + _BAND, nrows - 1)
        a, b = level[r0:r1, :-1], level[r0:r1, 1:]
        c, d = level[r0 + 1:r1 + 1, 1:], level[r0 + 1:r1 + 1, :-1]
        if binary:
            case = a.view(np.uint8) | (b.view(np.uint8) << 1)
            case |= c.view(np.uint8) << 2
            case |= d.view(np.uint8) << 3
            k = np.flatnonzero((case - np.uint8(1)) < 14)          # not 0, not 15
            ii, jj = np.divmod(k, ncols)
            for lst, v in zip(out, (ii + r0, jj, case.reshape(-1)[k])):
                lst.append(v)
            continue
        mixed = (a != b) | (a != c) | (a != d)
        ii, jj = np.nonzero(mixed)
        for lst, v in zip(out, (ii + r0, jj, a[ii, jj], b[ii, jj], c[ii, jj], d[ii, jj])):
            lst.append(v)
    return [np.concatenate(v) for v in out]


# where each side's midpoint lies in its quad, the neighbour across it, the side seen from there
_DX = np.array([0.5, 1.0, 0.5, 0.0])
_DY = np.array([0.0, 0.5, 1.0, 0.5])
_DI = np.array([-1, 0, 1, 0])
_DJ = np.array([0, 1, 0, -1])
_OPPOSITE = np.array([2, 3, 0, 1], np.int8)
# direction (one of 8, as a number) of a segment from one side's midpoint to another's
_DIRECTION = ((np.sign(_DX[None, :] - _DX[:, None]) + 1) * 3
              + np.sign(_DY[None, :] - _DY[:, None]) + 1).astype(np.int8)


def _cycles(nxt):
    """The cycles of a permutation: (elements grouped by cycle, each in cycle order from its
    smallest element; the cycle number of each of those). The cycles are found by
    connected_components (C code), joined head to tail into one path and walked by one
    depth-first search (C code)."""
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import connected_components, depth_first_order

    n = nxt.size
    graph = csr_array((np.ones(n), nxt, np.arange(n + 1)), shape=(n, n))
    _, lab = connected_components(graph, directed=True, connection="weak")
    # labels are numbered in the order of their smallest element: that element is the head
    head = np.flatnonzero(lab > np.maximum.accumulate(np.concatenate([[-1], lab[:-1]])))
    pred = np.empty(n, np.int64)
    pred[nxt] = np.arange(n)
    tail = pred[head]
    path = nxt.copy()
    path[tail[:-1]] = head[1:]                  # the end of each cycle leads to the next one
    has = np.ones(n, bool)
    has[tail[-1]] = False
    walk = csr_array((np.ones(n - 1), path[has], np.concatenate([[0], np.cumsum(has)])), shape=(n, n))
    order = depth_first_order(walk, int(head[0]), directed=True, return_predecessors=False)
    is_head = np.zeros(n, bool)
    is_head[head] = True
    return order, np.cumsum(is_head[order]) - 1


def _region_rings(quads, t, ncols):
    if len(quads) == 3:                         # a boolean grid: the cases are known
        ii, jj, case = quads
    else:
        ii, jj, a, b, c, d = quads
        case = ((a >= t).view(np.uint8) | ((b >= t).view(np.uint8) << 1) | ((c >= t).view(np.uint8) << 2)
                | ((d >= t).view(np.uint8) << 3))
        sel = (case != 0) & (case != 15)
        ii, jj, case = ii[sel], jj[sel], case[sel]
    if ii.size == 0:
        return _NO_RINGS
    # segments: one per boundary quad (in quad order), then the second one of each saddle
    saddle = np.flatnonzero(_TABLE[case, 1, 0] >= 0)
    q = np.concatenate([np.arange(ii.size), saddle])
    fs = np.concatenate([_TABLE[case, 0, 0], _TABLE[case[saddle], 1, 0]]).astype(np.int64)
    ts = np.concatenate([_TABLE[case, 0, 1], _TABLE[case[saddle], 1, 1]]).astype(np.int64)
    # successor: the segment of the quad across the end side that starts on the opposite side
    # the quad across an east (west) side is the next (previous) one: quads come row by row and
    # it holds the outline's next segment; across a north or south side it is searched for
    nb = q + _DJ[ts]
    vert = np.flatnonzero(_DI[ts] != 0)
    key = ii * ncols + jj                       # sorted
    nb[vert] = np.searchsorted(key, (ii[q[vert]] + _DI[ts[vert]]) * ncols + jj[q[vert]])
    second = np.full(ii.size, -1, np.int64)
    second[saddle] = ii.size + np.arange(saddle.size)
    first_from = _TABLE[case[nb], 0, 0]
    seq, ring = _cycles(np.where(first_from == _OPPOSITE[ts], nb, second[nb]))
    # keep the corners only: points where the direction changes
    fs, direction = fs[seq], _DIRECTION[fs[seq], ts[seq]]
    n_r = int(ring[-1]) + 1
    start = np.searchsorted(ring, np.arange(n_r))
    before = np.empty_like(direction)
    before[1:] = direction[:-1]
    before[start] = direction[np.append(start[1:], ring.size) - 1]
    keep = direction != before
    qk, fs, ring = q[seq[keep]], fs[keep], ring[keep]
    xy = np.column_stack([jj[qk] + _DX[fs], ii[qk] + _DY[fs]])
    first = np.searchsorted(ring, np.arange(n_r))
    nxt = np.arange(1, ring.size + 1)
    nxt[np.append(first[1:], ring.size) - 1] = first            # each ring closes on itself
    area2 = np.bincount(ring, weights=xy[:, 0] * xy[nxt, 1] - xy[nxt, 0] * xy[:, 1], minlength=n_r)
    shell = area2 > 0
    owner = np.arange(n_r)
    holes = np.flatnonzero(~shell)
    if holes.size:
        shells = np.flatnonzero(shell)
        geoms = shapely.polygons(shapely.linearrings(xy, indices=ring)[shells])
        # outlines as the queries (shapely prepares them), the holes' first points in the tree
        si, hi = shapely.STRtree(shapely.points(xy[first[holes]])).query(geoms, predicate="contains")
        o = np.lexsort((np.abs(area2[shells[si]]), hi))       # the smallest outline around it
        hi, si = hi[o], si[o]
        one = np.ones(hi.size, bool)
        one[1:] = hi[1:] != hi[:-1]
        owner[holes[hi[one]]] = shells[si[one]]
    return Rings(xy, ring, shell, owner)


def rings(level, thresholds=(1,)) -> list:
    """Rings of the region level >= t for each threshold, in cell-index coordinates. ``level`` is a
    2-D array of small whole numbers (or booleans); cells beyond it count as level 0."""
    level = np.asarray(level)
    pad = np.zeros((level.shape[0] + 2, level.shape[1] + 2), level.dtype)
    pad[1:-1, 1:-1] = level
    quads = _quads(pad)
    if quads[0].size == 0:
        return [_NO_RINGS for _ in thresholds]
    out = []
    for t in thresholds:
        r = _region_rings(quads, t, pad.shape[1])
        out.append(Rings(r.xy - 1.0, r.ring, r.shell, r.owner))     # unpadded coordinates
    return out


def polygons(r: Rings, transform=None, group_of_ring=None, n_groups=1):
    """(Multi)Polygons of rings, one per group: each outline with its holes. ``transform(xy,
    ring)`` maps cell-index coordinates to real ones; ``group_of_ring`` (per ring, read at the
    outlines; default all 0) gathers the outlines into ``n_groups``. Returns an object array
    (empty polygons for groups with nothing)."""
    out = np.full(n_groups, shapely.Polygon(), dtype=object)
    if r.n_rings == 0:
        return out
    xy = r.xy if transform is None else transform(r.xy, r.ring)
    ring_geoms = shapely.linearrings(xy, indices=r.ring)
    shells = np.flatnonzero(r.shell)
    poly_of_shell = np.full(r.n_rings, -1, np.int64)
    poly_of_shell[shells] = np.arange(shells.size)
    poly = poly_of_shell[r.owner]
    order = np.lexsort((~r.shell, poly))
    polys = shapely.polygons(ring_geoms[order], indices=poly[order])
    group = np.zeros(shells.size, np.int64) if group_of_ring is None else np.asarray(group_of_ring)[shells]
    g_order = np.argsort(group, kind="stable")
    present, counts = np.unique(group, return_counts=True)
    multi = shapely.multipolygons(polys[g_order], indices=np.repeat(np.arange(present.size), counts))
    single = counts == 1
    multi[single] = shapely.get_geometry(multi[single], 0)
    out[present] = multi
    return out


def outline(mask, x0=0.0, y0=0.0, cell=1.0, r0=0, c0=0):
    """The (Multi)Polygon of the marked cells of a boolean ``mask`` whose cell (i, j) is cell
    (r0 + i, c0 + j) of a grid with cell (0, 0) at lower-left corner (x0, y0): centres at
    (x0 + (c0 + j + 1/2) cell, y0 + (r0 + i + 1/2) cell)."""
    def to_xy(xy, ring):
        return np.column_stack([x0 + (c0 + xy[:, 0] + 0.5) * cell, y0 + (r0 + xy[:, 1] + 0.5) * cell])
    return polygons(rings(mask)[0], to_xy)[0]
