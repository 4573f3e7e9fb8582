"""Outlines of raster regions by marching squares, vectorised.

For a grid of small whole-number levels (0 = nothing; for a life circle, how many breaks reach
the cell) and a threshold t, the region is the cells with level >= t. Its outline runs through
the middle of each edge between a cell centre in the region and one outside it, with 45-degree
corners (no staircase); cells touching diagonally count as joined. Everything is whole-array
numpy work once per grid, plus work proportional to the outlines; no per-cell Python loop:

1. the quads of four centres whose levels differ are found in one pass (in bands of rows, so
   the temporaries stay small; for a boolean grid packed 64 cells to a word,
   :func:`rings_of_bits`, by bitwise operations on whole words: :mod:`coverage.core.bitgrid`);
   for each threshold each of them gets its case (0..15) and one or two segments, oriented with
   the region on the left;
2. each segment's successor is the segment of the quad across its end that starts there (a
   binary search in the quads, which come row by row); the cycles of that permutation are the
   rings (one depth-first walk, C code, see :func:`_cycles`); collinear points are dropped;
3. counter-clockwise rings are outlines, clockwise rings holes; a hole belongs to the smallest
   outline around it, read off the quads of its row (:func:`_hole_owners`, no geometry).

:func:`rings` returns the rings of each threshold in cell-index coordinates (x = column,
y = row, centres at whole numbers); :func:`polygons` builds shapely polygons from them.
"""

from __future__ import annotations

import numpy as np
import shapely

from . import bitgrid

__all__ = ["rings", "rings_of_bits", "polygons", "outline", "Rings"]

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
# per segment code (a quad's case for its first segment, case + 16 for a saddle's second): its
# start and end sides and what follows from them, so each is one lookup in a small table
_C_FS = np.maximum(np.concatenate([_TABLE[:, 0, 0], _TABLE[:, 1, 0]]), 0).astype(np.int64)
_C_TS = np.maximum(np.concatenate([_TABLE[:, 0, 1], _TABLE[:, 1, 1]]), 0).astype(np.int64)
_C_DI, _C_DJ, _C_OPP = _DI[_C_TS], _DJ[_C_TS], _OPPOSITE[_C_TS]
_C_DIR, _C_DX, _C_DY = _DIRECTION[_C_FS, _C_TS], _DX[_C_FS], _DY[_C_FS]


def _cycles(nxt):
    """The cycles of a permutation: (elements grouped by cycle, each in cycle order from its
    smallest element, the cycles in the order of their smallest elements; the cycle number of each
    of those). One depth-first search (C code) on the permutation with a *spine* beside it: spine
    node k leads first to the k-th element smaller than both its neighbours in its cycle (a cycle's
    smallest element is one), then to spine node k + 1. Walked from spine node 0, the search runs
    through a whole cycle from the first such element of it that it meets, its smallest, then
    comes back down the spine: the cycles come out in the order of their smallest elements."""
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import depth_first_order

    n = nxt.size
    pred = np.empty(n, np.int64)
    pred[nxt] = np.arange(n)
    el = np.arange(n)
    low = np.flatnonzero((el <= nxt) & (el <= pred))          # ascending (a cycle of one: itself)
    k = low.size
    itype = np.int32 if n + 2 * k < np.iinfo(np.int32).max else np.int64
    ind = np.empty(n + 2 * k - 1, itype)     # element i -> nxt[i]; spine j -> low[j], spine j + 1
    ind[:n] = nxt
    ind[n::2] = low
    ind[n + 1::2] = np.arange(n + 1, n + k)
    ptr = np.empty(n + k + 1, itype)
    ptr[:n + 1] = np.arange(n + 1)
    ptr[n + 1:] = n + 2 * np.arange(1, k + 1)
    ptr[-1] = n + 2 * k - 1
    graph = csr_array((np.ones(ind.size), ind, ptr), shape=(n + k, n + k))
    order = depth_first_order(graph, n, directed=True, return_predecessors=False)
    spine = order >= n
    is_head = np.zeros(order.size, bool)
    is_head[1:] = spine[:-1] & ~spine[1:]      # an element reached from the spine starts a cycle
    seq = order[~spine]
    ring = np.cumsum(is_head[~spine]) - 1
    heads = seq[np.flatnonzero(np.diff(ring, prepend=-1))]
    if seq.size != n or (heads.size > 1 and not (np.diff(heads) > 0).all()):
        raise AssertionError("depth_first_order did not visit children in order")  # scipy's own
    return seq, ring


def _region_rings(quads, t, ncols, locate=None):
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
    nq = ii.size
    saddle = np.flatnonzero((case == 5) | (case == 10))
    code = np.concatenate([case, case[saddle] + np.uint8(16)])
    q = np.concatenate([np.arange(nq), saddle])
    # successor: the segment of the quad across the end side that starts on the opposite side
    # the quad across an east (west) side is the next (previous) one: quads come row by row and
    # it holds the outline's next segment; across a north or south side it is searched for
    nb = q + _C_DJ[code]
    di = _C_DI[code]
    key = ii * ncols + jj                       # sorted
    for d in (1, -1):                           # each side's searches come sorted: fast
        v = np.flatnonzero(di == d)
        if locate is None:
            nb[v] = np.searchsorted(key, key[q[v]] + d * ncols)
        else:                                   # a packed grid counts the quads before it
            nb[v] = locate(ii[q[v]] + d, jj[q[v]])
    second = np.full(nq, -1, np.int64)
    second[saddle] = nq + np.arange(saddle.size)
    seq, ring = _cycles(np.where(_C_FS[case[nb]] == _C_OPP[code], nb, second[nb]))
    # keep the corners only: points where the direction changes
    cs = code[seq]
    direction = _C_DIR[cs]
    n_r = int(ring[-1]) + 1
    start = np.searchsorted(ring, np.arange(n_r))
    before = np.empty_like(direction)
    before[1:] = direction[:-1]
    before[start] = direction[np.append(start[1:], ring.size) - 1]
    keep = direction != before
    kept = seq[keep]
    qk, ck, rk = q[kept], cs[keep], ring[keep]
    xy = np.column_stack([jj[qk] + _C_DX[ck], ii[qk] + _C_DY[ck]])
    first = np.searchsorted(rk, np.arange(n_r))
    nxt = np.arange(1, rk.size + 1)
    nxt[np.append(first[1:], rk.size) - 1] = first            # each ring closes on itself
    area2 = np.bincount(rk, weights=xy[:, 0] * xy[nxt, 1] - xy[nxt, 0] * xy[:, 1], minlength=n_r)
    shell = area2 > 0
    owner = np.arange(n_r)
    holes = np.flatnonzero(~shell)
    if holes.size:
        owner[holes] = _hole_owners(holes, shell, q, seq, ring, start, case, second)
    return Rings(xy, rk, shell, owner)


def _hole_owners(holes, shell, q, seq, ring, start, case, second):
    """The outline each hole belongs to, read off the quads (no geometry): left of a hole's first
    quad (row by row), along the row of cells just above it, lie cells of the region around the
    hole up to the first cell outside it; the ring through that cell's side is the region's outline
    (the owner) or another hole of the same region (whose owner it is). That other hole starts
    further down or further left, so following it ends at an outline."""
    seg_ring = np.empty(seq.size, np.int64)
    seg_ring[seq] = ring
    first_q = np.minimum.reduceat(q[seq], start)[holes]        # each hole's first quad
    north = ((case >> 2) ^ (case >> 3)) & 1                   # upper-left and upper-right differ
    last = np.maximum.accumulate(np.where(north == 1, np.arange(case.size), -1))
    left = last[first_q - 1]                                    # in the same row (the frame's
    ql = np.maximum(left, 0)                                    # empty cells end every row)
    if (left < 0).any():
        raise AssertionError("a hole with no ring to its left")   # never: see above
    on_north = (_TABLE[case[ql], 0, 0] == 2) | (_TABLE[case[ql], 0, 1] == 2)
    next_out = np.full(shell.size, -1, np.int64)
    next_out[holes] = seg_ring[np.where(on_north, ql, second[ql])]
    own = next_out[holes]
    while not shell[own].all():
        own = np.where(shell[own], own, next_out[own])
    return own
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


def rings_of_bits(words, cols) -> Rings:
    """Rings of the marked cells of a packed grid of ``cols`` columns (see
    :mod:`coverage.core.bitgrid`): the same as ``rings(unpacked)[0]``, the boundary quads found 64
    cells at a time."""
    (ii, jj, case), locate = bitgrid.quads(words, cols, locator=True)
    if ii.size == 0:
        return _NO_RINGS
    r = _region_rings((ii, jj, case), 1, cols + 2, locate)
    return Rings(r.xy - 1.0, r.ring, r.shell, r.owner)


def polygons(r: Rings, transform=None, group_of_ring=None, n_groups=1):
    """(Multi)Polygons of rings, one per group: each outline with its holes. ``transform(xy,
    ring)`` maps cell-index coordinates to real ones; ``group_of_ring`` (per ring, read at the
    outlines; default all 0) gathers the outlines into ``n_groups``. Returns an object array
    (empty polygons for groups with nothing)."""
    out = np.full(n_groups, shapely.Polygon(), dtype=object)
    if r.n_rings == 0:
        return out
    xy = r.xy if transform is None else transform(r.xy, r.ring)
    shells = np.flatnonzero(r.shell)
    poly_of_shell = np.full(r.n_rings, -1, np.int64)
    poly_of_shell[shells] = np.arange(shells.size)
    poly = poly_of_shell[r.owner]                       # the polygon of each ring
    group = np.zeros(shells.size, np.int64) if group_of_ring is None else np.asarray(group_of_ring)[shells]
    # rings in the order they are written: by group, polygon, outline first, then holes
    order = np.lexsort((~r.shell, poly, group[poly]))
    n_pts = np.bincount(r.ring, minlength=r.n_rings)
    first = np.cumsum(n_pts) - n_pts
    present, counts = np.unique(group, return_counts=True)
    multi = np.isin(group, present[counts > 1])         # per polygon: in a group of several
    out[present] = _ragged(xy, first, n_pts, order, poly, multi, counts)
    return out


def _ragged(xy, first, n_pts, order, poly, multi, counts):
    """The groups' geometries, built by shapely from coordinate arrays in one call per kind
    (Polygon for a group of one polygon, MultiPolygon for several): rings ``order``ed, each
    closed on its first point; ``poly`` the polygon of each ring, ``multi`` per polygon."""
    res = np.empty(counts.size, dtype=object)
    single = counts == 1
    for kind, want in ((shapely.GeometryType.POLYGON, False), (shapely.GeometryType.MULTIPOLYGON, True)):
        rings = order[multi[poly[order]] == want]
        if rings.size == 0:
            continue
        lens = n_pts[rings] + 1                          # each ring closed on its first point
        at = np.repeat(first[rings] - (np.cumsum(lens) - lens), lens) + np.arange(int(lens.sum()))
        at[np.cumsum(lens) - 1] = first[rings]
        ring_off = np.concatenate([[0], np.cumsum(lens)])
        p = poly[rings]
        new_poly = np.flatnonzero(np.r_[True, p[1:] != p[:-1]])
        poly_off = np.append(new_poly, rings.size)
        offsets = (ring_off, poly_off)
        if want:
            per = counts[~single]                        # polygons per group, in group order
            offsets += (np.concatenate([[0], np.cumsum(per)]),)
        res[single != want] = shapely.from_ragged_array(kind, xy[at], offsets)
    return res


def outline(mask, x0=0.0, y0=0.0, cell=1.0, r0=0, c0=0):
    """The (Multi)Polygon of the marked cells of a boolean ``mask`` whose cell (i, j) is cell
    (r0 + i, c0 + j) of a grid with cell (0, 0) at lower-left corner (x0, y0): centres at
    (x0 + (c0 + j + 1/2) cell, y0 + (r0 + i + 1/2) cell)."""
    def to_xy(xy, ring):
        return np.column_stack([x0 + (c0 + xy[:, 0] + 0.5) * cell, y0 + (r0 + xy[:, 1] + 0.5) * cell])
    return polygons(rings(mask)[0], to_xy)[0]
