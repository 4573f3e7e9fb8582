"""Life circles drawn on a fine raster: the fast method (``method="raster"``, the default).

Same rule as the exact methods (:mod:`coverage.core.faces`): a point at fraction ``s`` of
an edge of routing length ``L`` with end distances ``d_u``, ``d_v`` is reached at break ``t``
when ``min(d_u + s L, d_v + (1 - s) L) <= t``, and the circle is every place within
``buffer_m`` of a reached point. Here:

1. the network is sampled once (:class:`CircleGrid`): a point at every vertex and at least
   every half cell along every edge, on a grid aligned on multiples of the cell in the metric
   CRS (so every circle of the network shares one grid); samples of an edge falling in the
   same cell one after another form a *run* (edge, cell, first and last fraction);
2. a cell is *marked* when one of its runs' samples is reached (tested at the run's ends:
   the walk along an edge is shortest at one end of any stretch of it); the marks, packed 64
   cells to a word (:mod:`coverage.core.bitgrid`), are dilated by the disc of cell centres
   nearer than ``buffer_m`` (shifted ORs of whole words);
3. the outline is traced by marching squares (:mod:`coverage.core.trace`, vectorised):
   half-way between marked and unmarked cell centres, 45-degree corners, holes kept.

The cell is the largest at most ``cell_m`` (default 10 m) that puts the outline of a straight
street exactly ``buffer_m`` from its centreline (30 m frontage: 8.57 m cells); elsewhere the
outline is within about half a cell of the exact buffer. On the sample, the drawn areas differ
from exact buffering by under 1% in all (scripts/benchmark_report.py --accuracy). All breaks
of a category come from one raster and nest exactly; the union of the facility circles is the
category circle. Coverage itself is never counted from these polygons.

Facility circles are drawn in chunks of facilities; the windows of a chunk are laid side by
side in one raster (a mosaic), dilated and traced at once, so memory is bounded by the chunk.
"""

from __future__ import annotations

import numpy as np
import shapely

from . import bitgrid
from .trace import polygons, rings_of_bits

__all__ = ["DEFAULT_CELL_M", "CircleGrid", "circle_grid"]

#: Raster cell for drawing, metres. A third of the default 30 m street frontage.
DEFAULT_CELL_M = 10.0

#: Runs (cells along edges) handled at once when drawing facility circles: bounds the memory.
_CHUNK_RUNS = 2_000_000

_INT32 = np.iinfo(np.int32).max

#: Width (cells) of the raster in which a chunk's facility windows are laid side by side.
_MOSAIC_WIDTH = 4096

_EMPTY = shapely.Polygon()


class CircleGrid:
    """Sample points of a network on a raster of ``cell_m`` metres, built once per network.

    Attributes: ``cell`` (m), ``radius`` (disc radius in cells), ``x0``, ``y0`` (lower-left
    corner of cell (0, 0)), ``nrows``, ``ncols``. The samples of an edge that fall in the same
    cell one after another form a *run*; per run, sorted by edge then position: ``edge``,
    ``fmin``, ``fmax`` (fractions of the first and last sample, 0..1 from u), ``row``, ``col``;
    ``ptr`` (n_edges + 1) so the runs of edge e are ``ptr[e]:ptr[e + 1]``. A run's cell is
    marked when any of its samples is reached: its nearest-to-u sample from the u end, its
    nearest-to-v sample from the v end.
    """

    def __init__(self, edge_geometry, buffer_m, cell_m=DEFAULT_CELL_M):
        geoms = np.asarray(edge_geometry, dtype=object)
        self.cell_m = float(cell_m)
        self.buffer_m = float(buffer_m)
        # The outline runs half-way between a marked cell centre and the next: the disc of
        # ``radius`` cells puts it at (radius + 1/2) cells from a row of marks, so the cell is
        # the largest <= cell_m with buffer_m = (radius + 1/2) cells (30 m, 10 m -> 8.57 m).
        self.radius = max(int(np.ceil(self.buffer_m / self.cell_m - 0.5 - 1e-9)), 0)
        self.cell = self.buffer_m / (self.radius + 0.5)
        self.n_edges = geoms.size
        self.offsets = _disc_rects(self.buffer_m / self.cell)   # centres nearer than buffer_m
        edge, frac, x, y = _samples(geoms, self.cell / 2.0)
        pad = int(np.ceil(self.radius)) + 2
        if x.size:
            self.x0 = (np.floor(x.min() / self.cell) - pad) * self.cell
            self.y0 = (np.floor(y.min() / self.cell) - pad) * self.cell
            self.ncols = int(np.floor((x.max() - self.x0) / self.cell)) + pad + 1
            self.nrows = int(np.floor((y.max() - self.y0) / self.cell)) + pad + 1
        else:
            self.x0 = self.y0 = 0.0
            self.ncols = self.nrows = 1
        col = np.floor((x - self.x0) / self.cell).astype(np.int32)
        row = np.floor((y - self.y0) / self.cell).astype(np.int32)
        new = np.ones(edge.size, bool)
        new[1:] = (edge[1:] != edge[:-1]) | (row[1:] != row[:-1]) | (col[1:] != col[:-1])
        first = np.flatnonzero(new)
        last = np.append(first[1:], edge.size) - 1
        self.n_samples = int(edge.size)
        self.edge, self.row, self.col = edge[first], row[first], col[first]
        self.fmin, self.fmax = frac[first], frac[last]
        self.ptr = np.concatenate([[0], np.cumsum(np.bincount(self.edge, minlength=self.n_edges))])

    @property
    def n_runs(self) -> int:
        return self.edge.size

    def matches(self, n_edges, buffer_m, cell_m) -> bool:
        return (self.n_edges == n_edges and self.buffer_m == float(buffer_m)
                and self.cell_m == float(cell_m))

    # ------------------------------------------------------------------ drawing

    def dissolved(self, d_u, d_v, length, breaks):
        """One polygon per break (``breaks`` ascending) from per-edge end distances."""
        k = len(breaks)
        e = self.edge
        # the shortest walk to any sample of a run is at its first or last sample
        tent = np.minimum(d_u[e] + self.fmin * length[e], d_v[e] + (1.0 - self.fmax) * length[e])
        ok = np.flatnonzero(tent <= breaks[-1])
        if ok.size == 0:
            return [_EMPTY] * k
        # level = number of breaks at or beyond the sample's walk: reached at break i
        # (0-based, ascending) exactly when level >= k - i.
        level = k - np.searchsorted(breaks, tent[ok], side="left")
        rows, cols = self.row[ok], self.col[ok]
        (nrows, ncols), r0, c0 = self._window(rows, cols)
        width = bitgrid.n_words(ncols) * bitgrid.WORD
        cell = (rows - r0).astype(np.int64) * width + (cols - c0)
        to_xy = self._to_xy(np.array([r0]), np.array([c0]))
        out = []
        mask = np.zeros(nrows * width, bool)
        for i in range(k):      # break i: the cells whose level is at least k - i, a packed raster
            mask[cell[level == k - i]] = True        # (the breaks nest: add this level's cells)
            words = bitgrid.dilate(bitgrid.pack(mask.reshape(nrows, width)), self.offsets, ncols)
            r = rings_of_bits(words, ncols)
            out.append(polygons(r, lambda xy, ring: to_xy(xy, np.zeros(ring.size, np.int64)))[0])
        return out

    def per_group(self, group, edge, d_u, d_v, length, n_groups, t):
        """One polygon per group (e.g. facility) at break ``t`` from (group, edge, d_u, d_v)
        rows sorted by group; ``length`` is the routing length of each row's edge. Groups are
        drawn in chunks; the windows of a chunk's groups are laid side by side in one raster
        (a mosaic), dilated and traced at once.

        A row whose edge is reached all along (most rows: both walks meet on the edge, or one of
        them runs it to its end) marks every run of the edge with no test per run; only rows cut
        by the break test their runs. A group's window is the box of its rows' edges (precomputed
        per edge). Marks go into the mosaic by flat index (cell index + the window's offset), so
        the work per run is a few integer operations; the mosaic is then packed 64 cells to a
        word for the dilation and the outline (:mod:`coverage.core.bitgrid`)."""
        out = np.full(n_groups, _EMPTY, dtype=object)
        if group.size == 0:
            return out
        csum = np.cumsum(self._counts()[edge], dtype=np.int64)
        start = 0
        while start < group.size:
            # whole groups per chunk, about _CHUNK_RUNS runs each
            stop = int(np.searchsorted(csum, (csum[start - 1] if start else 0) + _CHUNK_RUNS,
                                       side="right"))
            stop = max(stop, start + 1)
            if stop < group.size:
                stop = int(np.searchsorted(group, group[stop - 1], side="right"))
            sl = slice(start, stop)
            full, part, a, b = _reach(d_u[sl], d_v[sl], length[sl], t)
            self._mosaic(group[sl], edge[sl], full, part, a, b, out)
            start = stop
        return out

    def _edge_boxes(self):
        """Per edge: (min row, max row, min col, max col) of its runs (cached)."""
        if getattr(self, "_boxes", None) is None:
            has = np.flatnonzero(self.ptr[1:] > self.ptr[:-1])
            at = self.ptr[has]
            boxes = np.zeros((4, self.n_edges), self.row.dtype)
            for k, (fn, v) in enumerate(((np.minimum, self.row), (np.maximum, self.row),
                                         (np.minimum, self.col), (np.maximum, self.col))):
                boxes[k, has] = fn.reduceat(v, at) if at.size else 0
            self._boxes = boxes
        return self._boxes

    def _flat(self, width):
        """row * width + col of every run (cached for the last width). Safe to call from several
        threads: the cache is one (width, cells) tuple, read and replaced in one step."""
        cached = getattr(self, "_flat_cache", None)
        if cached is None or cached[0] != width:
            itype = np.int32 if (self.nrows + 1) * width < _INT32 else np.int64
            cached = (width, self.row.astype(itype) * itype(width) + self.col.astype(itype))
            self._flat_cache = cached
        return cached[1]

    def _counts(self):
        """Runs per edge, and the first run of each edge (cached; int32 when they fit: the
        marking moves tens of millions of run numbers)."""
        if getattr(self, "_cnt", None) is None:
            itype = np.int32 if self.n_runs < _INT32 else np.int64
            self._first = self.ptr[:-1].astype(itype)
            self._cnt = np.diff(self.ptr).astype(itype)
        return self._cnt

    def _runs(self, edge):
        """Run indices of the given edges' runs, edge after edge; and the count per edge."""
        c = self._counts()[edge]
        first = self._first[edge]
        first -= np.cumsum(c, dtype=first.dtype) - c
        return np.arange(int(c.sum()), dtype=first.dtype) + np.repeat(first, c), c

    def _mosaic(self, g, edge, full, pr, a, b, out):
        """Draw the groups of rows (g sorted, edge; ``full``: the rows reached all along; ``pr``
        the rows reached in part, reached from u up to ``a`` and from v down to ``b``) into
        ``out``."""
        pad = int(np.ceil(self.radius)) + 1
        # the marks of rows reached in part: their runs within reach
        ps, pc = self._runs(edge[pr])
        ok = (self.fmin[ps] <= np.repeat(a, pc)) | (self.fmax[ps] >= np.repeat(b, pc))
        ps, prow = ps[ok], np.repeat(pr, pc)[ok]
        # the window of each group: the bounding box of its rows' edges (rows come sorted by
        # group; an edge reached in part may draw less than its box: a window too large is only
        # empty cells, the same drawing)
        box = self._edge_boxes()
        new_group = np.concatenate([[True], g[1:] != g[:-1]])
        gat = np.flatnonzero(new_group)
        rmin, rmax = np.minimum.reduceat(box[0, edge], gat), np.maximum.reduceat(box[1, edge], gat)
        cmin, cmax = np.minimum.reduceat(box[2, edge], gat), np.maximum.reduceat(box[3, edge], gat)
        groups = g[gat]
        gi = np.cumsum(new_group) - 1                                   # window of each row
        n = groups.size
        h = rmax - rmin + 1 + 2 * pad
        w = cmax - cmin + 1 + 2 * pad
        width = -(-max(int(w.max()), _MOSAIC_WIDTH) // bitgrid.WORD) * bitgrid.WORD   # whole words
        wy, wx, shelf = np.zeros(n, np.int64), np.zeros(n, np.int64), []
        x = y = tall = 0
        for i in np.argsort(-h, kind="stable"):   # shelf packing, tallest first: a few hundred
            if x + w[i] > width:
                y, x, tall = y + tall, 0, 0
            if x == 0:
                shelf.append(y)
            wy[i], wx[i] = y, x
            x += int(w[i])
            tall = max(tall, int(h[i]))
        # flat mosaic index of a run of group k = its cell's row * width + col + offset[k]
        flat = self._flat(width)
        if (y + tall + 1) * width >= _INT32:
            flat = flat.astype(np.int64)
        offset = ((wy + pad - rmin) * width + (wx + pad - cmin)).astype(flat.dtype)
        mosaic = np.zeros((y + tall, width), bool)
        flat_mosaic = mosaic.reshape(-1)
        fr = np.flatnonzero(full)
        fs, fc = self._runs(edge[fr])
        flat_mosaic[flat[fs] + np.repeat(offset[gi[fr]], fc)] = True
        flat_mosaic[flat[ps] + offset[gi[prow]]] = True
        del fs, ps
        words = bitgrid.dilate(bitgrid.pack(mosaic), self.offsets, width)
        del mosaic, flat_mosaic
        r = rings_of_bits(words, width)
        if r.n_rings == 0:
            return
        # the window of each ring, from its first point: shelf by y, then window by x
        first_pt = r.xy[np.searchsorted(r.ring, np.arange(r.n_rings))]
        big = width + 1
        key = np.searchsorted(np.asarray(shelf), wy, side="right") * big + wx
        by_key = np.argsort(key)
        qk = np.searchsorted(np.asarray(shelf), first_pt[:, 1], side="right") * big + first_pt[:, 0]
        win = by_key[np.searchsorted(key[by_key], qk, side="right") - 1]
        to_xy = self._to_xy(rmin - pad - wy, cmin - pad - wx)
        drawn = polygons(r, lambda xy, ring: to_xy(xy, win[ring]), win, groups.size)
        out[groups] = drawn

    def _to_xy(self, row_off, col_off):
        """Index coordinates of a window -> metres: cell (i, j) of window k is grid cell
        (row_off[k] + i, col_off[k] + j). Computed from whole grid indices, so every window of
        the grid gives the same coordinates for the same place."""
        def fn(xy, k):
            return np.column_stack([self.x0 + (col_off[k] + xy[:, 0] + 0.5) * self.cell,
                                    self.y0 + (row_off[k] + xy[:, 1] + 0.5) * self.cell])
        return fn

    def _window(self, rows, cols):
        """(shape, first row, first column) of the window around cells (rows, cols), with room
        for the dilation."""
        pad = int(np.ceil(self.radius)) + 1
        r0, c0 = int(rows.min()) - pad, int(cols.min()) - pad
        shape = (int(rows.max()) + pad + 1 - r0, int(cols.max()) + pad + 1 - c0)
        return shape, r0, c0


def circle_grid(edge_geometry, buffer_m, cell_m=DEFAULT_CELL_M) -> CircleGrid:
    """The :class:`CircleGrid` of a network (build once, pass to every circle call)."""
    return CircleGrid(edge_geometry, buffer_m, cell_m)


# ------------------------------------------------------------------------------ helpers


def _reach(du, dv, ln, t):
    """How far a walk of ``t`` reaches along each row's edge (end distances du, dv, length ln):
    (reached all along: mask; reached in part: row indices, with a, b: the fractions reached from
    u up to a and from v down to b). A run is marked when fmin <= a or fmax >= b
    (0 <= fmin <= fmax <= 1): every run when a >= b, a >= 1 or b <= 0; none when a < 0 and b > 1.

    Most rows are reached all along from one end, t - d >= length (then (t - d) / length >= 1 in
    floating point too): they are found first, the fractions computed for the others only."""
    with np.errstate(invalid="ignore"):
        full = (ln > 0) & (((du <= t) & (t - du >= ln)) | ((dv <= t) & (t - dv >= ln)))
    rest = np.flatnonzero(~full)
    du, dv, ln = du[rest], dv[rest], ln[rest]
    with np.errstate(invalid="ignore", divide="ignore"):
        pos = ln > 0
        a = np.where(pos, (t - du) / np.where(pos, ln, 1.0), np.where(du <= t, 2.0, -1.0))
        b = np.where(pos, 1.0 - (t - dv) / np.where(pos, ln, 1.0), np.where(dv <= t, -1.0, 2.0))
    a = np.where(du <= t, a, -1.0)          # reached from u up to a, from v down to b
    b = np.where(dv <= t, b, 2.0)
    whole = (a >= b) | (a >= 1.0) | (b <= 0.0)
    part = ~whole & ((a >= 0.0) | (b <= 1.0))
    full[rest] = whole
    return full, rest[part], a[part], b[part]



def _samples(geoms, step):
    """Points along every line: each vertex, and points between so no gap exceeds ``step``.

    Returns (edge, frac, x, y) sorted by edge then position; ``frac`` is the fraction of the
    line's own length (0 for a zero-length line)."""
    m = geoms.size
    if m == 0:
        z = np.zeros(0)
        return np.zeros(0, np.int64), z, z, z
    coords, gi = shapely.get_coordinates(geoms, return_index=True)
    gi = gi.astype(np.int64)
    counts = np.bincount(gi, minlength=m)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    last = first + counts - 1
    step_len = np.zeros(coords.shape[0])
    same = gi[1:] == gi[:-1]
    seg_len = np.hypot(np.diff(coords[:, 0]), np.diff(coords[:, 1]))
    step_len[1:] = np.where(same, seg_len, 0.0)
    gcum = np.cumsum(step_len)
    cum = gcum - gcum[first][gi]               # arc length from each line's start
    total = cum[last]
    seg = np.flatnonzero(same)                 # segment i: vertex i -> i + 1
    n_in = np.maximum(np.ceil(seg_len[seg] / step).astype(np.int64), 1)
    rep = np.repeat(seg, n_in)
    j = np.arange(rep.size) - np.repeat(np.cumsum(n_in) - n_in, n_in)
    w = j / np.repeat(n_in, n_in)
    p0, p1 = coords[rep], coords[rep + 1]
    # a line's points between its vertices come in order along it; its last vertex goes after
    # them: each point moves up by the number of lines before its own (one last vertex each)
    ge = gi[rep]
    at = np.arange(rep.size) + ge
    ends = np.cumsum(np.bincount(ge, minlength=m) + 1) - 1
    edge = np.empty(rep.size + m, np.int64)
    arc = np.empty(rep.size + m)
    xy = np.empty((rep.size + m, 2))
    edge[at], edge[ends] = ge, np.arange(m)
    arc[at], arc[ends] = cum[rep] + w * seg_len[rep], total
    xy[at], xy[ends] = p0 + w[:, None] * (p1 - p0), coords[last]
    if ((np.diff(arc) < 0) & (edge[1:] == edge[:-1])).any():     # never for real coordinates:
        order = np.lexsort((arc, edge))                           # order by position along it
        edge, arc, xy = edge[order], arc[order], xy[order]
    tot = total[edge]
    frac = np.where(tot > 0, arc / np.where(tot > 0, tot, 1.0), 0.0)
    return edge, np.clip(frac, 0.0, 1.0), xy[:, 0], xy[:, 1]


def _disc_rects(radius):
    """The disc of cell offsets (di, dj) with di^2 + dj^2 <= radius^2 as a union of centred
    rectangles: [(half_height, half_width), ...], widest first."""
    r = int(np.floor(radius + 1e-9))
    half_w = [int(np.floor(np.sqrt(max(radius * radius - i * i, 0.0)) + 1e-9)) for i in range(r + 1)]
    rects = []
    for w in sorted(set(half_w), reverse=True):
        h = max(i for i in range(r + 1) if half_w[i] >= w)
        rects.append((h, w))
    return rects
