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

Unreachable is ``inf``: never a sentinel number, never a false zero."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components, dijkstra

from .network import WalkNetwork, symmetric_csr_min

@dataclass
class AccessGraph:
    """The road graph, contracted to its junctions, and the points snapped onto it, as named point
    sets.

    Every location has an id: road nodes 0..n_road-1, point p is ``n_road + p`` (``point_node``;
    -1 when the point is not snapped). :func:`reach_matrix` takes road nodes and points alike.
    ``csr`` is the routing graph between junctions (``junction_node[j]`` is junction j's road
    node; ``node_junction`` the reverse, -1 for a chain node)."""

    csr: sp.csr_array
    n_road: int                 # locations 0..n_road-1 are the network's own nodes
    point_node: np.ndarray      # location id of each point, n_road + p (-1 when not snapped)
    point_snap: np.ndarray      # snap distance in metres (nan when not snapped)
    point_edge: np.ndarray      # edge index snapped to (-1 when not snapped)
    point_frac: np.ndarray      # position along that edge, 0..1 from u
    n_points: int
    sets: dict = field(default_factory=dict)  # name -> slice of the points ("demand", "facilities")
    point_x: np.ndarray | None = None          # the points' own coordinates
    point_y: np.ndarray | None = None
    point_u: np.ndarray | None = None          # end nodes of the point's edge (-1 when not snapped)
    point_v: np.ndarray | None = None
    point_du: np.ndarray | None = None         # walk from the point to u / to v: snap + along the
    point_dv: np.ndarray | None = None         # edge (inf when not snapped)
    point_len: np.ndarray | None = None        # length of the point's edge
    node_x: np.ndarray | None = None           # road node coordinates
    node_y: np.ndarray | None = None
    node_junction: np.ndarray | None = None    # road node -> junction (-1 on a chain)
    junction_node: np.ndarray | None = None    # junction -> road node
    node_chain: np.ndarray | None = None       # road node -> its chain (-1 for a junction)
    node_pos: np.ndarray | None = None         # position along the chain from its first end
    chain_a: np.ndarray | None = None          # the chain's ends (junctions) and length
    chain_b: np.ndarray | None = None
    chain_len: np.ndarray | None = None
    reach_slack: tuple = (1.0, 0.0)            # (least length / straight line over edges, shortfall)
    point_anchor: np.ndarray | None = None     # (n_points, 2) junctions a point reaches first (-1: none)
    point_anchor_m: np.ndarray | None = None   # (n_points, 2) and the walk to them (inf: none)
    point_chain: np.ndarray | None = None      # (n_points, 2) chains through the ends of its edge (-1)
    point_chain_pos: np.ndarray | None = None  # (n_points, 2) position of that end on the chain
    point_chain_m: np.ndarray | None = None    # (n_points, 2) walk from the point to that end

    @property
    def snapped(self) -> np.ndarray:
        return self.point_node >= 0

    @property
    def n_junctions(self) -> int:
        return self.csr.shape[0]

    def ids(self, name: str, index=None) -> np.ndarray:
        """Point indices of the named set (``index`` selects within the set)."""
        sl = self.sets[name]
        allp = np.arange(sl.start, sl.stop)
        return allp if index is None else allp[np.asarray(index, dtype=np.int64)]

    def of(self, name: str, values: np.ndarray) -> np.ndarray:
        """The part of a per-point array that belongs to the named set."""
        return np.asarray(values)[self.sets[name]]

    def reach_radius(self, cutoff: float) -> float:
        """Straight-line distance within which lies every road node that a walk of ``cutoff``
        metres from a road node can reach: ``cutoff`` when no edge is shorter than the straight line
        between its ends, else the smaller of cutoff / (least length ratio) and cutoff + the total
        shortfall of such edges."""
        ratio, short = self.reach_slack
        r = cutoff if ratio >= 1.0 else min(cutoff / max(ratio, 1e-12), cutoff + short)
        return float(r) * (1 + 1e-9) + 1e-6


def snap_to_edges(net: WalkNetwork, x, y, max_snap_m: float):
    """Nearest edge within ``max_snap_m`` of each point: (edge index or -1, distance or nan, fraction)."""
    pts = shapely.points(np.asarray(x, float), np.asarray(y, float))
    tree = shapely.STRtree(net.edge_geometry, node_capacity=4)   # a shallower fan-out: faster nearest
    (pi, ei), dist = tree.query_nearest(pts, max_distance=max_snap_m, return_distance=True, all_matches=True)
    # deterministic choice among equidistant edges: the lowest edge index (input order)
    order = np.lexsort((ei, pi))
    pi, ei, dist = pi[order], ei[order], dist[order]
    first = np.ones(len(pi), dtype=bool)
    first[1:] = pi[1:] != pi[:-1]
    pi, ei, dist = pi[first], ei[first], dist[first]
    edge = np.full(len(pts), -1, dtype=np.int64)
    snap = np.full(len(pts), np.nan)
    frac = np.full(len(pts), np.nan)
    edge[pi] = ei
    snap[pi] = dist
    frac[pi] = shapely.line_locate_point(net.edge_geometry[ei], pts[pi], normalized=True)
    frac[pi] = np.nan_to_num(frac[pi], nan=0.0)  # zero-length geometry
    return edge, snap, frac


def _reach_slack(net: WalkNetwork) -> tuple:
    """(least edge length / straight line between its end nodes, total shortfall in metres)."""
    if net.n_edges == 0:
        return 1.0, 0.0
    straight = np.hypot(net.node_x[net.edge_u] - net.node_x[net.edge_v],
                        net.node_y[net.edge_u] - net.node_y[net.edge_v])
    pos = straight > 0
    if not pos.any():
        return 1.0, 0.0
    ratio = float(np.min(net.edge_length[pos] / straight[pos]))
    short = float(np.maximum(straight - net.edge_length, 0.0).sum())
    return min(ratio, 1.0), short


def _contract(road: sp.csr_array):
    """Junctions and chains of a symmetric routing CSR (see the module docstring).

    Returns (junction csr, node_junction, junction_node, node_chain, node_pos, chain_a, chain_b,
    chain_len)."""
    n = road.shape[0]
    indptr = np.asarray(road.indptr, dtype=np.int64)
    ind = np.asarray(road.indices, dtype=np.int64)
    w = np.asarray(road.data, dtype=np.float64)
    deg = np.diff(indptr)
    src = np.repeat(np.arange(n, dtype=np.int64), deg)
    key = src * n + ind
    if len(key) > 1 and not np.all(key[1:] > key[:-1]):
        o = np.argsort(key, kind="stable")
        src, ind, w, key = src[o], ind[o], w[o], key[o]
    rev = np.searchsorted(key, ind * n + src)           # arc x->y  ->  arc y->x
    # the arc that continues arc x->y through a node y with two neighbours: y->z, z != x
    nxt = np.full(len(ind), -1, dtype=np.int64)
    d2 = np.flatnonzero(deg[ind] == 2)
    f = indptr[ind[d2]]
    nxt[d2] = np.where(ind[f] != src[d2], f, f + 1)
    junction = deg != 2
    while True:
        starts = np.flatnonzero(junction[src])
        cur, tot, node = starts.copy(), w[starts].copy(), ind[starts].copy()
        vis_t, vis_node, vis_pos = [], [], []
        act = np.flatnonzero(~junction[node])
        while len(act):
            vis_t.append(act)
            vis_node.append(node[act])
            vis_pos.append(tot[act].copy())
            k = nxt[cur[act]]
            cur[act] = k
            tot[act] += w[k]
            node[act] = ind[k]
            act = act[~junction[node[act]]]
        vis_t = np.concatenate(vis_t) if vis_t else np.zeros(0, np.int64)
        vis_node = np.concatenate(vis_node) if vis_node else np.zeros(0, np.int64)
        vis_pos = np.concatenate(vis_pos) if vis_pos else np.zeros(0)
        seen = junction.copy()
        seen[vis_node] = True
        if seen.all():
            break
        # rings of two-neighbour nodes with no junction: one node of each stands in for one
        rest = np.flatnonzero(~seen)
        sub = road[rest][:, rest]
        nc, lab = connected_components(sub, directed=False)
        first = np.full(nc, len(rest))
        np.minimum.at(first, lab, np.arange(len(rest)))
        junction[rest[first]] = True
    # each chain is followed from both ends; keep the traversal that starts on the lower arc
    canon = starts < rev[cur]
    chain_of = np.full(len(starts), -1, dtype=np.int64)
    chain_of[canon] = np.arange(int(canon.sum()))
    junction_node = np.flatnonzero(junction)
    node_junction = np.full(n, -1, dtype=np.int64)
    node_junction[junction_node] = np.arange(len(junction_node))
    ca = node_junction[src[starts[canon]]]
    cb = node_junction[node[canon]]
    clen = tot[canon]
    node_chain = np.full(n, -1, dtype=np.int64)
    node_pos = np.full(n, np.nan)
    keep = canon[vis_t]
    node_chain[vis_node[keep]] = chain_of[vis_t[keep]]
    node_pos[vis_node[keep]] = vis_pos[keep]
    J = symmetric_csr_min(ca, cb, clen, len(junction_node))
    return J, node_junction, junction_node, node_chain, node_pos, ca, cb, clen


def build_access_graph(net: WalkNetwork, x, y=None, max_snap_m: float = 300.0) -> AccessGraph:
    """Snap points onto the network: ``x``, ``y`` coordinate arrays, or ``x`` a mapping of named
    point sets ``{"demand": (xs, ys), "facilities": (xs, ys)}`` (see :meth:`AccessGraph.ids`)."""
    sets = {}
    if isinstance(x, dict):
        xs, ys, start = [], [], 0
        for name, (px, py) in x.items():
            px, py = np.asarray(px, float), np.asarray(py, float)
            sets[name] = slice(start, start + len(px))
            start += len(px)
            xs.append(px)
            ys.append(py)
        x = np.concatenate(xs) if xs else np.zeros(0)
        y = np.concatenate(ys) if ys else np.zeros(0)
    edge, snap, frac = snap_to_edges(net, x, y, max_snap_m)
    n_pts = len(edge)
    n = net.n_nodes
    k = np.flatnonzero(edge >= 0)
    ek = edge[k]
    pu = np.full(n_pts, -1, dtype=np.int64)
    pv = np.full(n_pts, -1, dtype=np.int64)
    du = np.full(n_pts, np.inf)
    dv = np.full(n_pts, np.inf)
    plen = np.full(n_pts, np.nan)
    pu[k], pv[k] = net.edge_u[ek], net.edge_v[ek]
    L = net.edge_length[ek]
    plen[k] = L
    loop = pu[k] == pv[k]
    a = snap[k] + frac[k] * L
    b = snap[k] + (1.0 - frac[k]) * L
    du[k] = np.where(loop, np.minimum(a, b), a)
    dv[k] = np.where(loop, np.minimum(a, b), b)
    J, nj, jn, nc, npos, ca, cb, clen = _contract(net.csr())
    point_node = np.full(n_pts, -1, dtype=np.int64)
    point_node[k] = n + k
    ag = AccessGraph(J, n, point_node, snap, edge, frac, n_pts, sets, np.asarray(x, float),
                     np.asarray(y, float), pu, pv, du, dv, plen, net.node_x, net.node_y, nj, jn, nc,
                     npos, ca, cb, clen, _reach_slack(net))
    ag.point_anchor = np.full((n_pts, 2), -1, dtype=np.int64)
    ag.point_anchor_m = np.full((n_pts, 2), np.inf)
    ag.point_anchor[k], ag.point_anchor_m[k] = _point_anchors(ag, k)
    ag.point_chain = np.full((n_pts, 2), -1, dtype=np.int64)
    ag.point_chain_pos = np.full((n_pts, 2), np.nan)
    ag.point_chain_m = np.full((n_pts, 2), np.inf)
    for col, end, walk in ((0, pu, du), (1, pv, dv)):
        on = k[nc[end[k]] >= 0]
        ag.point_chain[on, col] = nc[end[on]]
        ag.point_chain_pos[on, col] = npos[end[on]]
        ag.point_chain_m[on, col] = walk[on]
    return ag


# ----------------------------------------------------------------------------- locations


def _node_anchors(ag: AccessGraph, r):
    """Anchors of road nodes ``r``: (junctions (m, 2), distances (m, 2)); -1 / inf when none."""
    m = len(r)
    Jx = np.full((m, 2), -1, dtype=np.int64)
    Ox = np.full((m, 2), np.inf)
    jr = ag.node_junction[r]
    isj = jr >= 0
    Jx[isj, 0] = jr[isj]
    Ox[isj, 0] = 0.0
    c = np.flatnonzero(~isj)
    ch = ag.node_chain[r[c]]
    p = ag.node_pos[r[c]]
    a, b, L = ag.chain_a[ch], ag.chain_b[ch], ag.chain_len[ch]
    ring = a == b
    Jx[c, 0] = a
    Ox[c, 0] = np.where(ring, np.minimum(p, L - p), p)
    Jx[c, 1] = np.where(ring, -1, b)
    Ox[c, 1] = np.where(ring, np.inf, L - p)
    return Jx, Ox


def _point_anchors(ag: AccessGraph, p):
    """Anchors of points ``p`` (snapped): the ends' anchors plus the walk to each end. A point's edge
    joins two junctions, or lies on one chain, so there are at most two: (m, 2) arrays."""
    ju, ou = _node_anchors(ag, ag.point_u[p])
    jv, ov = _node_anchors(ag, ag.point_v[p])
    cj = np.c_[ju, jv]
    co = np.c_[ou + ag.point_du[p][:, None], ov + ag.point_dv[p][:, None]]
    a0 = cj[:, 0]
    a1 = np.full(len(p), -1, dtype=np.int64)
    for k in (3, 2, 1):                          # the first other junction
        other = (cj[:, k] >= 0) & (cj[:, k] != a0)
        a1[other] = cj[other, k]
    if ((cj >= 0) & (cj != a0[:, None]) & (cj != a1[:, None])).any():
        raise AssertionError("a point's edge reaches more than two junctions first")  # never: see above
    Jx = np.c_[a0, a1]
    Ox = np.c_[np.where(cj == a0[:, None], co, np.inf).min(axis=1),
               np.where((cj == a1[:, None]) & (a1[:, None] >= 0), co, np.inf).min(axis=1)]
    return Jx, Ox


def _anchors(ag: AccessGraph, ids):
    """Anchors of locations ``ids`` (road nodes and points; -1 for none): the junctions reached
    without passing another junction and the walk to them, (m, 2) arrays padded with -1 / inf."""
    ids = np.asarray(ids, dtype=np.int64)
    m, n = len(ids), ag.n_road
    if m and ids.min() >= n:
        p = ids - n
        return ag.point_anchor[p], ag.point_anchor_m[p]
    Jx = np.full((m, 2), -1, dtype=np.int64)
    Ox = np.full((m, 2), np.inf)
    road = np.flatnonzero((ids >= 0) & (ids < n))
    if len(road):
        Jx[road], Ox[road] = _node_anchors(ag, ids[road])
    pt = np.flatnonzero(ids >= n)
    if len(pt):
        Jx[pt], Ox[pt] = ag.point_anchor[ids[pt] - n], ag.point_anchor_m[ids[pt] - n]
    return Jx, Ox


def _chain_entries(ag: AccessGraph, ids):
    """Chains each location lies on: (location index, chain, position, walk to that position)
    for road nodes on a chain and for points through an end of their edge on a chain."""
    ids = np.asarray(ids, dtype=np.int64)
    n = ag.n_road
    road = np.flatnonzero((ids >= 0) & (ids < n))
    r = ids[road]
    on = ag.node_chain[r] >= 0
    out = [(road[on], ag.node_chain[r[on]], ag.node_pos[r[on]], np.zeros(int(on.sum())))]
    pt = np.flatnonzero(ids >= n)
    p = ids[pt] - n
    for k in (0, 1):
        c = ag.point_chain[p, k]
        on = c >= 0
        out.append((pt[on], c[on], ag.point_chain_pos[p[on], k], ag.point_chain_m[p[on], k]))
    return tuple(np.concatenate(z) for z in zip(*out))


def _join(a, b):
    """All pairs (i, j) with a[i] == b[j] (a, b integer keys; -1 never matches)."""
    if len(a) == 0 or len(b) == 0:
        e = np.zeros(0, dtype=np.int64)
        return e, e
    jb = np.arange(len(b))
    if len(b) > 4 * len(a):                      # few keys on the left: keep the b that can match
        has = np.zeros(max(int(a.max()), int(b.max())) + 2, dtype=bool)
        has[a[a >= 0]] = True
        jb = np.flatnonzero(has[b])
        b = b[jb]
    o = np.argsort(a, kind="stable")
    s = a[o]
    lo = np.searchsorted(s, b, "left")
    hi = np.searchsorted(s, b, "right")
    cnt = np.where(b >= 0, hi - lo, 0)
    tot = int(cnt.sum())
    j = np.repeat(jb, cnt)
    off = np.arange(tot) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    return o[np.repeat(lo, cnt) + off], j


def _direct_pairs(ag: AccessGraph, src, tgt):
    """Walks between source and target locations that pass no junction: along a shared chain, along
    a shared edge, or none at all (the same location). Returns (i, j, d): src[i] to tgt[j] is at
    most d (several rows may name the same pair)."""
    src = np.asarray(src, dtype=np.int64)
    tgt = np.asarray(tgt, dtype=np.int64)
    I, Jj, D = [], [], []
    si, sc, sp_, so = _chain_entries(ag, src)
    ti, tc, tp, to = _chain_entries(ag, tgt)
    a, b = _join(sc, tc)
    I.append(si[a]); Jj.append(ti[b]); D.append(so[a] + np.abs(sp_[a] - tp[b]) + to[b])
    n = ag.n_road
    s_pt = np.flatnonzero(src >= n)
    t_pt = np.flatnonzero(tgt >= n)
    ps, pt = src[s_pt] - n, tgt[t_pt] - n
    a, b = _join(ag.point_edge[ps], ag.point_edge[pt])
    s, t = ps[a], pt[b]
    I.append(s_pt[a]); Jj.append(t_pt[b])
    D.append(ag.point_snap[s] + ag.point_snap[t] + np.abs(ag.point_frac[s] - ag.point_frac[t]) * ag.point_len[t])
    a, b = _join(src, tgt)                        # the same location
    I.append(a); Jj.append(b); D.append(np.zeros(len(a)))
    return np.concatenate(I), np.concatenate(Jj), np.concatenate(D)


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


def _to_locations(ag, dist, org, src, tgt, cutoff):
    """Distances of locations ``tgt`` from junction distances (``dist``, ``org``) and the walks
    that pass no junction; (distance, index into ``src``) with inf / -1 beyond the cutoff."""
    Jt, Ot = _anchors(ag, tgt)
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
    return _to_locations(ag, dist, org, src, np.arange(ag.n_road), cutoff)[0]


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
    """Target locations of a reach matrix: their anchors, and which targets hang on each junction."""

    def __init__(self, ag: AccessGraph, ids, cutoff):
        self.ids = np.asarray(ids, dtype=np.int64)
        self.n = len(self.ids)
        self.J, self.O = _anchors(ag, self.ids)
        ok = (self.J >= 0) & (self.O <= cutoff)
        a = self.J[ok]
        b = np.nonzero(ok)[0]
        o = np.lexsort((b, a))
        a, b = a[o], b[o]
        nJ = ag.n_junctions
        self.ptr = np.zeros(nJ + 1, dtype=np.int64)
        np.cumsum(np.bincount(a, minlength=nJ), out=self.ptr[1:])
        self.inc = b
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


def reach_matrix(ag: AccessGraph, source_nodes, target_nodes, cutoff: float, *, chunk: int = 64,
                 road_nodes_too: bool = False):
    """Sparse (n_sources × n_targets) matrix of walking distances ≤ cutoff between locations.

    Locations are road nodes (0..n_road-1) or points (``ag.point_node``); -1 is none (an empty
    row, or a column with no entry). Stored entries are distances in metres; explicit zeros are
    stored and mean distance 0; absent entries mean farther than the cutoff or unreachable.

    One bounded Dijkstra per source, in chunks of ``chunk`` sources close together in space; each
    chunk searches the junctions within :meth:`AccessGraph.reach_radius` (straight line) of its
    sources' road nodes, which hold every walk of at most ``cutoff`` metres from them, so memory
    and work stay at chunk × that subgraph. With ``road_nodes_too`` also returns the (n_sources ×
    n_road) matrix of reached road nodes (for drawing)."""
    source_nodes = np.asarray(source_nodes, dtype=np.int64)
    n, n_src = ag.n_road, len(source_nodes)
    sets = [_Targets(ag, target_nodes, cutoff)]
    if road_nodes_too:
        sets.append(_Targets(ag, np.arange(n), cutoff))
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
    for start in range(0, len(valid), chunk):
        sel = order[start:start + chunk]                  # positions in ``valid``
        anc = np.concatenate([r_u[sel], r_v[sel]])
        x0, x1 = nx_[anc].min() - radius, nx_[anc].max() + radius
        y0, y1 = ny_[anc].min() - radius, ny_[anc].max() + radius
        lo, hi = np.searchsorted(xs, x0, "left"), np.searchsorted(xs, x1, "right")
        g = xo[lo:hi]
        g = np.sort(g[(jy[g] >= y0) & (jy[g] <= y1)])
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
            val = np.minimum(D[:, loc[tg.J[T, 0]]] + tg.O[T, 0], D[:, loc[tg.J[T, 1]]] + tg.O[T, 1])
            if b > a:
                tp[T] = np.arange(len(T))
                np.minimum.at(val, (pr[a:b] - start, tp[pj[a:b]]), pd[a:b])
                tp[T] = -1
            r, c = np.nonzero(val <= cutoff)
            bl.append((valid[sel[r]], T[c], val[r, c]))
        loc[g] = -1

    out = [_csr_from_blocks(bl, n_src, tg.n) for bl, tg in zip(blocks, sets)]
    return (out[0], out[1]) if road_nodes_too else out[0]


def _csr_from_blocks(blocks, n_rows, n_cols) -> sp.csr_array:
    """Canonical CSR from blocks of (rows, cols, values) in which each row's entries are contiguous
    and sorted by column within one block (row-major ``np.nonzero`` of a chunk)."""
    if not blocks:
        return sp.csr_array((n_rows, n_cols), dtype=np.float64)
    rows = np.concatenate([b[0] for b in blocks])
    cols = np.concatenate([b[1] for b in blocks])
    vals = np.concatenate([b[2] for b in blocks]).astype(np.float64)
    counts = np.bincount(rows, minlength=n_rows)
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    # entries of one row are one contiguous run: its k-th entry goes to indptr[row] + k
    new_run = np.ones(len(rows), dtype=bool)
    new_run[1:] = rows[1:] != rows[:-1]
    run_start = np.flatnonzero(new_run)
    rank = np.arange(len(rows)) - np.repeat(run_start, np.diff(np.r_[run_start, len(rows)]))
    dest = indptr[rows] + rank
    out_c = np.empty(len(cols), dtype=np.int64)
    out_v = np.empty(len(vals))
    out_c[dest] = cols
    out_v[dest] = vals
    itype = np.int32 if max(len(cols), n_cols) < np.iinfo(np.int32).max else np.int64
    m = sp.csr_array((out_v, out_c.astype(itype), indptr.astype(itype)), shape=(n_rows, n_cols))
    m.has_canonical_format = True
    return m
