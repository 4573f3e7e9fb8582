"""The access core: points are snapped onto the nearest edge (not the nearest node), and walks are
searched on the road graph's junctions.

**Points on edges.** A point sits on its edge (u, v) at a fraction ``f`` of the edge's length ``L``,
``snap`` metres off the road: it reaches u after ``snap + f L`` and v after ``snap + (1 - f) L`` (a
point on a loop u -> u reaches u either way round: ``snap + min(f, 1 - f) L``).

**Junctions and chains.** Road nodes with exactly two neighbours in the routing graph (the middle
of a street: half of a real network's nodes) are not searched. They lie on *chains* of such nodes
between two junctions (nodes of any other degree; one node of a ring with no junction stands in
for one), at a known position along the chain. The search runs on the junctions, joined by their
chains' lengths (the shortest of parallel roads and chains).

**A location** (a road node or a point) therefore reaches up to four junctions (*anchors*: the ends
of its node's chain, through u or through v) at known distances, and lies on up to two chains at
known positions. The walk between two locations is the least of

* anchor to anchor: (its distance to an anchor of the source) + (search between junctions) +
  (its distance from an anchor of the target): every walk through a junction;
* along a shared chain: (to a node on the chain) + |difference of positions| + (from it): walks
  that pass no junction;
* along a shared edge: ``snap + |f - f_s| L + snap_s``; and 0 for the same location.

This is exactly demand snap + network + facility snap, also for two points on the same long rural
road, on a longer parallel road (the routing graph keeps the shortest road between two junctions;
a point on a longer one walks along its own road to its ends) or on a loop.

One bounded multi-source Dijkstra per category (``scipy.sparse.csgraph``, C code) gives every
point's distance to the nearest facility (:func:`nearest`): the sources are virtual nodes with
edges out to their anchors. Many single-source searches (siting candidates, facility catchments:
:func:`reach_matrix`) run in chunks of spatially close sources, each chunk on the junctions within
the cutoff's straight-line reach of its sources (a walk is never shorter than the straight line
between its ends, so nothing within the cutoff is lost), so the dense work array is chunk x
that subgraph.

**Costs by direction.** The graph's costs may differ by direction (slope:
:mod:`coverage.core.costs`; travel modes: :mod:`coverage.core.modes`). A search then runs from the
sources outwards on the given costs: sources leave through their *out* costs to their anchors,
targets are reached through their *in* costs, and a walk along a shared chain or edge is charged
forwards or backwards by where the target lies. To get each resident's cost of travelling TO a
facility, build the graph on the reversed costs (:meth:`~coverage.core.costs.EdgeCosts.reversed`)
and search from the facilities. With equal costs both ways (lengths) every step is the same
arithmetic as before, so flat walks are unchanged bit for bit.

Unreachable is ``inf``: never a sentinel number, never a false zero."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from .access_graph import (AccessGraph, Snapped, _anchors, _contract, _direct_pairs,  # noqa: F401
                           build_access_graph, snap_points, snap_to_edges)

__all__ = ["AccessGraph", "Snapped", "build_access_graph", "snap_points", "snap_to_edges", "nearest",
           "road_node_distance", "reach_matrix"]

def _with_virtual(J: sp.csr_array, rows_j, rows_o, cutoff, pad=False):
    """``J`` with one extra row per source: edges out to its anchors within the cutoff (and with
    ``pad`` one isolated node last)."""
    nJ = J.shape[0]
    k, w = rows_j.shape
    ok = (rows_j >= 0) & (rows_o <= cutoff)
    cnt = ok.sum(axis=1)
    if pad:
        cnt = np.append(cnt, 0)
    ind = rows_j[ok]
    dat = rows_o[ok]
    indptr = np.concatenate([np.asarray(J.indptr, dtype=np.int64), J.indptr[-1] + np.cumsum(cnt)])
    N = nJ + len(cnt)
    return sp.csr_array((np.concatenate([J.data, dat]),
                         np.concatenate([np.asarray(J.indices, dtype=np.int32), ind.astype(np.int32)]),
                         indptr.astype(np.int32)), shape=(N, N))


def _multi_source(ag: AccessGraph, src, cutoff):
    """Distance of every junction from the nearest source location, and that source (index into
    ``src``, -1 when none)."""
    Js, Os = _anchors(ag, src)
    G = _with_virtual(ag.csr, Js, Os, cutoff)
    nJ = ag.n_junctions
    dist, _, origin = dijkstra(G, directed=True, indices=nJ + np.arange(len(src)), limit=cutoff,
                               min_only=True, return_predecessors=True)
    org = np.where(origin >= nJ, origin - nJ, -1)
    return dist[:nJ], org[:nJ]


def _road_anchors(ag: AccessGraph):
    """The inward anchors of every road node, (junctions, costs) as ``_anchors(ag,
    np.arange(ag.n_road), inward=True)`` gives them: built once per graph (the dissolved circles
    and the facility circles of every category read them) and kept on it."""
    got = ag.__dict__.get("_road_anchors")
    if got is None:
        got = _anchors(ag, np.arange(ag.n_road), inward=True)
        ag.__dict__["_road_anchors"] = got              # the graph's cache (read-only arrays)
    return got


def _to_locations(ag, dist, org, src, tgt, cutoff, anchors=None):
    """Distances of locations ``tgt`` from junction distances (``dist``, ``org``) and the walks
    that pass no junction; (distance, index into ``src``) with inf / -1 beyond the cutoff.
    ``anchors``: the targets' inward anchors when known."""
    Jt, Ot = anchors if anchors is not None else _anchors(ag, tgt, inward=True)
    distp, orgp = np.append(dist, np.inf), np.append(org, -1)   # anchor -1 -> the padding
    c0 = distp[Jt[:, 0]] + Ot[:, 0]
    c1 = distp[Jt[:, 1]] + Ot[:, 1]
    second = c1 < c0
    d = np.where(second, c1, c0)
    who = orgp[np.where(second, Jt[:, 1], Jt[:, 0])]
    i, jj, dd = _direct_pairs(ag, src, tgt)
    if len(jj):
        o = np.lexsort((i, dd, jj))               # each target's shortest direct walk first
        first = np.ones(len(o), dtype=bool)
        first[1:] = jj[o][1:] != jj[o][:-1]
        jj, i, dd = jj[o][first], i[o][first], dd[o][first]
        better = dd < d[jj]
        d[jj[better]] = dd[better]
        who[jj[better]] = i[better]
    far = ~(d <= cutoff)
    d[far] = np.inf
    who[far] = -1
    return d, who


def nearest(ag: AccessGraph, sources, targets, cutoff: float):
    """Distance from each target point to the nearest source point over the network, bounded by
    ``cutoff`` metres (farther or unreachable = inf), and the index (into ``sources``) of that
    nearest source (-1 when none). One multi-source Dijkstra on the junctions."""
    sources = np.asarray(sources, dtype=np.int64)
    targets = np.asarray(targets, dtype=np.int64)
    out = np.full(len(targets), np.inf)
    who = np.full(len(targets), -1, dtype=np.int64)
    use = np.flatnonzero(ag.point_node[sources] >= 0)
    if not len(use):
        return out, who
    src = ag.point_node[sources[use]]
    dist, org = _multi_source(ag, src, cutoff)
    ok = np.flatnonzero(ag.point_node[targets] >= 0)
    d, w = _to_locations(ag, dist, org, src, ag.point_node[targets[ok]], cutoff)
    out[ok] = d
    who[ok] = np.where(w >= 0, use[np.maximum(w, 0)], -1)
    return out, who


def road_node_distance(ag: AccessGraph, sources, cutoff: float) -> np.ndarray:
    """Distance of every network node (0..n_road-1) from the nearest source point (inf beyond cutoff)."""
    src = ag.point_node[np.asarray(sources, dtype=np.int64)]
    src = src[src >= 0]
    if len(src) == 0:
        return np.full(ag.n_road, np.inf)
    dist, org = _multi_source(ag, src, cutoff)
    return _to_locations(ag, dist, org, src, np.arange(ag.n_road), cutoff, _road_anchors(ag))[0]


# ----------------------------------------------------------------------------- many single sources


def _morton(x, y, cell):
    """Z-order key of (x, y) on a grid of ``cell`` metres: sources close in space, close in order."""
    cx = np.clip(((x - x.min()) / cell).astype(np.int64), 0, 2 ** 21 - 1).astype(np.uint64)
    cy = np.clip(((y - y.min()) / cell).astype(np.int64), 0, 2 ** 21 - 1).astype(np.uint64)

    def spread(v):
        v = v & np.uint64(0x1FFFFF)
        v = (v | (v << np.uint64(32))) & np.uint64(0x1F00000000FFFF)
        v = (v | (v << np.uint64(16))) & np.uint64(0x1F0000FF0000FF)
        v = (v | (v << np.uint64(8))) & np.uint64(0x100F00F00F00F00F)
        v = (v | (v << np.uint64(4))) & np.uint64(0x10C30C30C30C30C3)
        v = (v | (v << np.uint64(2))) & np.uint64(0x1249249249249249)
        return v

    return spread(cx) | (spread(cy) << np.uint64(1))


def _ranges(starts, lens):
    """Concatenated ranges [starts[i], starts[i] + lens[i])."""
    tot = int(lens.sum())
    return np.repeat(starts - np.cumsum(lens) + lens, lens) + np.arange(tot)


class _Targets:
    """Target locations of a reach matrix: their anchors, and which targets hang on each junction
    (``ptr``, ``inc``: the targets of junction j are ``inc[ptr[j]:ptr[j + 1]]``, ascending)."""

    def __init__(self, ag: AccessGraph, ids, cutoff, *, all_roads=False):
        nJ = ag.n_junctions
        self.ids = np.arange(ag.n_road) if all_roads else np.asarray(ids, dtype=np.int64)
        self.n = len(self.ids)
        cached = ag.__dict__.get("_road_targets") if all_roads else None
        if cached is None:
            J, O = _road_anchors(ag) if all_roads else _anchors(ag, self.ids, inward=True)
            # every road node (for drawing) is grouped once per graph, whatever the cutoff: a
            # target anchored farther than the cutoff is found but never within it
            ok = (J >= 0) if all_roads else (J >= 0) & (O <= cutoff)
            rows = np.nonzero(ok)[0]                      # ascending, so a stable sort by
            a = J[ok]                                     # junction keeps them ascending
            ptr = np.zeros(nJ + 1, dtype=np.int64)
            np.cumsum(np.bincount(a, minlength=nJ), out=ptr[1:])
            inc = rows[np.argsort(a, kind="stable")]
            cached = (J, O, ptr, inc)
            if all_roads:
                ag.__dict__["_road_targets"] = cached     # the graph's cache (read-only arrays)
        self.J, self.O, self.ptr, self.inc = cached
        self._mark = np.zeros(self.n, dtype=bool)

    def near(self, junctions, extra=None):
        """Targets with an anchor among ``junctions``, and the ``extra`` ones (sorted, unique)."""
        s, e = self.ptr[junctions], self.ptr[junctions + 1]
        hit = self.inc[_ranges(s, e - s)]
        self._mark[hit] = True
        if extra is not None:
            self._mark[extra] = True
        out = np.flatnonzero(self._mark)
        self._mark[out] = False
        return out


def reach_matrix(ag: AccessGraph, source_nodes, target_nodes, cutoff: float, *, chunk: int | None = None,
                 road_nodes_too: bool = False):
    """Sparse (n_sources × n_targets) matrix of walking distances ≤ cutoff between locations.

    Locations are road nodes (0..n_road-1) or points (``ag.point_node``); -1 is none (an empty
    row, or a column with no entry). Stored entries are distances in metres; explicit zeros are
    stored and mean distance 0; absent entries mean farther than the cutoff or unreachable.

    One bounded Dijkstra per source, in chunks of ``chunk`` sources close together in space; each
    chunk searches the junctions within :meth:`AccessGraph.reach_radius` (straight line) of its
    sources' road nodes, which hold every walk of at most ``cutoff`` metres from them, so memory
    and work stay at chunk × that subgraph. With ``road_nodes_too`` also returns the (n_sources ×
    n_road) matrix of reached road nodes (for drawing). ``chunk`` defaults to 32, and to 16 with
    ``road_nodes_too`` (every road node is a target: a chunk's dense rows cost more per source)."""
    if chunk is None:
        chunk = 16 if road_nodes_too else 32
    source_nodes = np.asarray(source_nodes, dtype=np.int64)
    n, n_src = ag.n_road, len(source_nodes)
    sets = [_Targets(ag, target_nodes, cutoff)]
    if road_nodes_too:
        sets.append(_Targets(ag, None, cutoff, all_roads=True))
    valid = np.flatnonzero(source_nodes >= 0)
    s_id = source_nodes[valid]
    s_pt = s_id >= n
    p = s_id[s_pt] - n
    r_u, r_v = s_id.copy(), s_id.copy()                  # the source's road nodes: itself, or
    r_u[s_pt], r_v[s_pt] = ag.point_u[p], ag.point_v[p]  # the two ends of its point's edge
    if (r_u < 0).any():
        raise ValueError("reach_matrix: a source point is not snapped (give -1 for no location)")
    Js, Os = _anchors(ag, s_id)
    radius = ag.reach_radius(cutoff)
    nx_, ny_ = ag.node_x, ag.node_y
    if len(valid):
        mx, my = (nx_[r_u] + nx_[r_v]) / 2, (ny_[r_u] + ny_[r_v]) / 2
        order = np.argsort(_morton(mx, my, max(radius / 8, 1.0)), kind="stable")
    else:
        order = np.zeros(0, dtype=np.int64)
    rank = np.empty(len(valid), dtype=np.int64)
    rank[order] = np.arange(len(valid))
    jx, jy = nx_[ag.junction_node], ny_[ag.junction_node]
    xo = np.argsort(jx, kind="stable")                    # junctions by x, for the strips
    xs = jx[xo]
    J = ag.csr
    indptr, indices, data = (np.asarray(J.indptr, dtype=np.int64), np.asarray(J.indices, dtype=np.int64),
                             J.data)
    nJ = ag.n_junctions
    loc = np.full(nJ + 1, -1, dtype=np.int64)           # junction -> subgraph node; [-1] stays -1
    # walks that pass no junction, by the source's rank in the chunk order
    pairs = []
    for tg in sets:
        i, j, d = _direct_pairs(ag, s_id, tg.ids)
        keep = d <= cutoff
        i, j, d = i[keep], j[keep], d[keep]
        o = np.argsort(rank[i], kind="stable")
        pairs.append((rank[i][o], j[o], d[o]))
    tpos = [np.full(tg.n, -1, dtype=np.int64) for tg in sets]
    blocks = [[] for _ in sets]
    work = _Scratch()
    for start in range(0, len(valid), chunk):
        sel = order[start:start + chunk]                  # positions in ``valid``
        anc = np.concatenate([r_u[sel], r_v[sel]])
        x0, x1 = nx_[anc].min() - radius, nx_[anc].max() + radius
        y0, y1 = ny_[anc].min() - radius, ny_[anc].max() + radius
        lo, hi = np.searchsorted(xs, x0, "left"), np.searchsorted(xs, x1, "right")
        g = xo[lo:hi]
        g = g[(jy[g] >= y0) & (jy[g] <= y1)]               # any order: numbering changes no walk
        m = len(g)
        loc[g] = np.arange(m)
        # the subgraph: rows of g, columns inside g; then one virtual row per source
        rs, rl = indptr[g], indptr[g + 1] - indptr[g]
        pos = _ranges(rs, rl)
        cols = loc[indices[pos]]
        inside = cols >= 0
        rows = np.repeat(np.arange(m), rl)[inside]
        sub_ptr = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=m), out=sub_ptr[1:])
        Gs = sp.csr_array((data[pos][inside], cols[inside].astype(np.int32), sub_ptr.astype(np.int32)),
                          shape=(m, m))
        jl = loc[Js[sel]]
        G = _with_virtual(Gs, jl, np.where(jl >= 0, Os[sel], np.inf), cutoff, pad=True)
        # (chunk, m + chunk + 1): the last column, an isolated node, is inf (anchors outside)
        D = dijkstra(G, directed=True, indices=m + np.arange(len(sel)), limit=cutoff)
        reached = g[np.isfinite(D[:, :m]).any(axis=0)]    # junctions some source reached
        for tg, (pr, pj, pd), tp, bl in zip(sets, pairs, tpos, blocks):
            a, b = np.searchsorted(pr, start), np.searchsorted(pr, start + len(sel))
            T = tg.near(reached, pj[a:b] if b > a else None)
            # (chunk x targets): the better of the target's two anchors, in scratch buffers
            # (an anchor outside the subgraph, loc -1, wraps to the last column: inf)
            val = np.take(D, loc[tg.J[T, 0]], axis=1, out=work.get(0, (len(sel), len(T))), mode="wrap")
            val += tg.O[T, 0]
            alt = np.take(D, loc[tg.J[T, 1]], axis=1, out=work.get(1, val.shape), mode="wrap")
            alt += tg.O[T, 1]
            np.minimum(val, alt, out=val)
            if b > a:
                tp[T] = np.arange(len(T))
                np.minimum.at(val, (pr[a:b] - start, tp[pj[a:b]]), pd[a:b])
                tp[T] = -1
            within = np.less_equal(val, cutoff, out=work.get(2, val.shape, bool))
            # row-major: each source's targets in ascending order, one run per source
            bl.append((valid[sel], np.count_nonzero(within, axis=1),
                       np.broadcast_to(T, within.shape)[within], val[within]))
        loc[g] = -1

    out = [_csr_from_runs(bl, n_src, tg.n) for bl, tg in zip(blocks, sets)]
    return (out[0], out[1]) if road_nodes_too else out[0]


class _Scratch:
    """Reusable work arrays (a chunk's dense rows), so each chunk does not allocate (and fault in)
    fresh pages: ``get(k, shape, dtype)`` is a C-contiguous view of buffer k."""

    def __init__(self):
        self._bufs = {}

    def get(self, k, shape, dtype=np.float64):
        size = int(np.prod(shape))
        buf = self._bufs.get(k)
        if buf is None or buf.size < size or buf.dtype != dtype:
            buf = np.empty(max(size, 1 << 16), dtype=dtype)
            self._bufs[k] = buf
        return buf[:size].reshape(shape)


def _csr_from_runs(blocks, n_rows, n_cols) -> sp.csr_array:
    """Canonical CSR from blocks of (rows, count per row, cols, values): a block holds one run of
    ``count`` entries per row, sorted by column, the runs in the block's row order; every row is in
    at most one block."""
    if not blocks:
        return sp.csr_array((n_rows, n_cols), dtype=np.float64)
    rows = np.concatenate([b[0] for b in blocks])
    cnt = np.concatenate([b[1] for b in blocks]).astype(np.int64)
    cols = np.concatenate([b[2] for b in blocks])
    vals = np.concatenate([b[3] for b in blocks]).astype(np.float64, copy=False)
    itype = np.int32 if max(len(cols), n_cols) < np.iinfo(np.int32).max else np.int64
    # the runs as rows of a matrix in block order (and one empty row last), then its rows picked in
    # row order (scipy's row indexing, C++)
    ptr = np.zeros(len(rows) + 2, dtype=itype)
    np.cumsum(cnt, out=ptr[1:-1])
    ptr[-1] = ptr[-2]
    pick = np.full(n_rows, len(rows), dtype=np.int64)
    pick[rows] = np.arange(len(rows))
    m = sp.csr_array((vals, cols.astype(itype, copy=False), ptr), shape=(len(rows) + 1, n_cols))[pick]
    m.indices, m.indptr = m.indices.astype(itype, copy=False), m.indptr.astype(itype, copy=False)
    m.has_canonical_format = True
    return m
