"""The access graph: points snapped onto edges, the road graph contracted to its junctions, and the
walks from a location to the junctions it reaches first (see :mod:`coverage.core.access`).

Costs may differ by direction (slope: :mod:`coverage.core.costs`). Every quantity that has a
direction is kept both ways: a location's *out* cost to an anchor junction (the way a search
from it leaves) and its *in* cost from the anchor (the way a search arrives); a chain node's
position from the chain's first end going forward (``node_pos``) and its cost back to it
(``node_posb``). With equal costs both ways every pair is the same number, computed by the same
operations as before, so lengths give today's distances bit for bit."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

from .costs import EdgeCosts, _part
from .network import WalkNetwork, directed_csr_min


@dataclass
class AccessGraph:
    """The road graph, contracted to its junctions, and the points snapped onto it, as named point
    sets.

    Every location has an id: road nodes 0..n_road-1, point p is ``n_road + p`` (``point_node``;
    -1 when the point is not snapped). :func:`~coverage.core.access.reach_matrix` takes road nodes
    and points alike. ``csr`` is the routing graph between junctions (``csr[i, j]``: the cost
    from junction i to j; ``junction_node[j]`` is junction j's road node; ``node_junction`` the
    reverse, -1 for a chain node). Searches run from sources to targets on these costs (the
    caller reverses the costs for walks towards the sources)."""

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
    point_du: np.ndarray | None = None         # cost from the point to u / to v: snap + along the
    point_dv: np.ndarray | None = None         # edge (inf when not snapped)
    point_iu: np.ndarray | None = None         # cost from u / from v to the point
    point_iv: np.ndarray | None = None
    point_fwd: np.ndarray | None = None        # the point's edge: cost u -> v and v -> u
    point_bwd: np.ndarray | None = None
    point_uni: np.ndarray | None = None        # the edge's cost is proportional along it
    point_cf: np.ndarray | None = None         # cost from u to the point along the edge
    point_cb: np.ndarray | None = None         # cost from the point back to u along the edge
    node_x: np.ndarray | None = None           # road node coordinates
    node_y: np.ndarray | None = None
    node_junction: np.ndarray | None = None    # road node -> junction (-1 on a chain)
    junction_node: np.ndarray | None = None    # junction -> road node
    node_chain: np.ndarray | None = None       # road node -> its chain (-1 for a junction)
    node_pos: np.ndarray | None = None         # cost from the chain's first end to the node
    node_posb: np.ndarray | None = None        # cost from the node back to the first end
    chain_a: np.ndarray | None = None          # the chain's ends (junctions) and its cost a -> b,
    chain_b: np.ndarray | None = None          # b -> a
    chain_len: np.ndarray | None = None
    chain_lenb: np.ndarray | None = None
    reach_slack: tuple = (1.0, 0.0)            # (least cost / straight line over edges, shortfall)
    point_anchor: np.ndarray | None = None     # (n_points, 2) junctions a point reaches first (-1: none)
    point_anchor_m: np.ndarray | None = None   # (n_points, 2) cost to them (inf: none)
    point_anchor_in: np.ndarray | None = None  # (n_points, 2) cost from them to the point
    point_chain: np.ndarray | None = None      # (n_points, 2) chains through the ends of its edge (-1)
    point_chain_pos: np.ndarray | None = None  # (n_points, 2) that end's node_pos / node_posb
    point_chain_posb: np.ndarray | None = None
    point_chain_m: np.ndarray | None = None    # (n_points, 2) cost from the point to that end
    point_chain_in: np.ndarray | None = None   # (n_points, 2) and from that end to the point

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
        (cost) from a road node can reach: ``cutoff`` when no edge costs less than the straight
        line between its ends, else the smaller of cutoff / (least cost ratio) and cutoff + the
        total shortfall of such edges."""
        ratio, short = self.reach_slack
        r = cutoff if ratio >= 1.0 else min(cutoff / max(ratio, 1e-12), cutoff + short)
        return float(r) * (1 + 1e-9) + 1e-6


@dataclass
class Snapped:
    """Points snapped onto the network's edges, once for every travel mode."""

    edge: np.ndarray
    snap: np.ndarray
    frac: np.ndarray
    x: np.ndarray
    y: np.ndarray
    sets: dict


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


def snap_points(net: WalkNetwork, x, y=None, max_snap_m: float = 300.0) -> Snapped:
    """Snap coordinate arrays ``x``, ``y``, or ``x`` a mapping of named point sets
    ``{"demand": (xs, ys), "facilities": (xs, ys)}``."""
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
    return Snapped(edge, snap, frac, np.asarray(x, float), np.asarray(y, float), sets)


def _reach_slack(net: WalkNetwork, costs: EdgeCosts) -> tuple:
    """(least edge cost / straight line between its end nodes, total shortfall)."""
    if net.n_edges == 0:
        return 1.0, 0.0
    straight = np.hypot(net.node_x[net.edge_u] - net.node_x[net.edge_v],
                        net.node_y[net.edge_u] - net.node_y[net.edge_v])
    cost = costs.fwd if costs.fwd is costs.bwd else np.minimum(costs.fwd, costs.bwd)
    open_ = np.isfinite(cost)
    pos = (straight > 0) & open_
    if not pos.any():
        return 1.0, 0.0
    ratio = float(np.min(cost[pos] / straight[pos]))
    short = float(np.maximum(straight[open_] - cost[open_], 0.0).sum())
    return min(ratio, 1.0), short


def _contract(road: sp.csr_array):
    """Junctions and chains of a routing CSR with a symmetric pattern (``road[x, y]``: the cost
    from x to y; see :mod:`coverage.core.access`).

    Returns (junction csr, node_junction, junction_node, node_chain, node_pos, node_posb, chain_a,
    chain_b, chain_len, chain_lenb)."""
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
    wr = w[rev]                                         # the cost of walking arc x->y backwards
    # the arc that continues arc x->y through a node y with two neighbours: y->z, z != x
    nxt = np.full(len(ind), -1, dtype=np.int64)
    d2 = np.flatnonzero(deg[ind] == 2)
    f = indptr[ind[d2]]
    nxt[d2] = np.where(ind[f] != src[d2], f, f + 1)
    junction = deg != 2
    while True:
        starts = np.flatnonzero(junction[src])
        cur, tot, totb, node = starts.copy(), w[starts].copy(), wr[starts].copy(), ind[starts].copy()
        vis_t, vis_node, vis_pos, vis_posb = [], [], [], []
        act = np.flatnonzero(~junction[node])
        while len(act):
            vis_t.append(act)
            vis_node.append(node[act])
            vis_pos.append(tot[act].copy())
            vis_posb.append(totb[act].copy())
            k = nxt[cur[act]]
            cur[act] = k
            tot[act] += w[k]
            totb[act] += wr[k]
            node[act] = ind[k]
            act = act[~junction[node[act]]]
        vis_t = np.concatenate(vis_t) if vis_t else np.zeros(0, np.int64)
        vis_node = np.concatenate(vis_node) if vis_node else np.zeros(0, np.int64)
        vis_pos = np.concatenate(vis_pos) if vis_pos else np.zeros(0)
        vis_posb = np.concatenate(vis_posb) if vis_posb else np.zeros(0)
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
    clen, clenb = tot[canon], totb[canon]
    node_chain = np.full(n, -1, dtype=np.int64)
    node_pos = np.full(n, np.nan)
    node_posb = np.full(n, np.nan)
    keep = canon[vis_t]
    node_chain[vis_node[keep]] = chain_of[vis_t[keep]]
    node_pos[vis_node[keep]] = vis_pos[keep]
    node_posb[vis_node[keep]] = vis_posb[keep]
    J = directed_csr_min(ca, cb, clen, clenb, len(junction_node))
    return J, node_junction, junction_node, node_chain, node_pos, node_posb, ca, cb, clen, clenb


def build_access_graph(net: WalkNetwork, x, y=None, max_snap_m: float = 300.0, *,
                       costs: EdgeCosts | None = None, snapped: Snapped | None = None) -> AccessGraph:
    """Snap points onto the network: ``x``, ``y`` coordinate arrays, or ``x`` a mapping of named
    point sets ``{"demand": (xs, ys), "facilities": (xs, ys)}`` (see :meth:`AccessGraph.ids`).

    ``costs``: the edges' costs by direction (default: their lengths, i.e. flat walking);
    ``snapped``: points already snapped (:func:`snap_points`; then ``x``, ``y`` are not used), so
    several travel modes share one snapping."""
    if snapped is None:
        snapped = snap_points(net, x, y, max_snap_m)
    costs = costs or EdgeCosts.lengths(net)
    edge, snap, frac = snapped.edge, snapped.snap, snapped.frac
    n_pts = len(edge)
    n = net.n_nodes
    k = np.flatnonzero(edge >= 0)
    ek = edge[k]
    pu = np.full(n_pts, -1, dtype=np.int64)
    pv = np.full(n_pts, -1, dtype=np.int64)
    du, dv, iu, iv = (np.full(n_pts, np.inf) for _ in range(4))
    pf, pb, cf, cb = (np.full(n_pts, np.nan) for _ in range(4))
    uni = np.ones(n_pts, dtype=bool)
    pu[k], pv[k] = net.edge_u[ek], net.edge_v[ek]
    F, B = costs.fwd[ek], costs.bwd[ek]
    pf[k], pb[k] = F, B
    uni[k] = costs.uniform[ek]
    fk = frac[k]
    cf[k], cb[k] = costs.along(ek, fk)
    loop = pu[k] == pv[k]
    s = snap[k]
    u_k = uni[k]
    with np.errstate(invalid="ignore"):
        a = s + np.where(u_k, _part(fk, B), cb[k])                 # point -> u (backwards)
        b = s + np.where(u_k, _part(1.0 - fk, F), F - cf[k])       # point -> v (forwards)
        ia = s + np.where(u_k, _part(fk, F), cf[k])                # u -> point
        ib = s + np.where(u_k, _part(1.0 - fk, B), B - cb[k])      # v -> point
    du[k] = np.where(loop, np.minimum(a, b), a)
    dv[k] = np.where(loop, np.minimum(a, b), b)
    iu[k] = np.where(loop, np.minimum(ia, ib), ia)
    iv[k] = np.where(loop, np.minimum(ia, ib), ib)
    if costs.fwd is costs.bwd and costs.knot_ptr is None:
        road = net.csr() if costs.fwd is net.edge_length else directed_csr_min(
            net.edge_u, net.edge_v, costs.fwd, costs.fwd, n)
    else:
        road = directed_csr_min(net.edge_u, net.edge_v, costs.fwd, costs.bwd, n)
    J, nj, jn, nc, npos, nposb, ca, cb_, clen, clenb = _contract(road)
    point_node = np.full(n_pts, -1, dtype=np.int64)
    point_node[k] = n + k
    ag = AccessGraph(J, n, point_node, snap, edge, frac, n_pts, dict(snapped.sets), snapped.x, snapped.y,
                     pu, pv, du, dv, iu, iv, pf, pb, uni, cf, cb, net.node_x, net.node_y, nj, jn, nc,
                     npos, nposb, ca, cb_, clen, clenb, _reach_slack(net, costs))
    ag.point_anchor = np.full((n_pts, 2), -1, dtype=np.int64)
    ag.point_anchor_m = np.full((n_pts, 2), np.inf)
    ag.point_anchor_in = np.full((n_pts, 2), np.inf)
    ag.point_anchor[k], ag.point_anchor_m[k], ag.point_anchor_in[k] = _point_anchors(ag, k)
    ag.point_chain = np.full((n_pts, 2), -1, dtype=np.int64)
    ag.point_chain_pos = np.full((n_pts, 2), np.nan)
    ag.point_chain_posb = np.full((n_pts, 2), np.nan)
    ag.point_chain_m = np.full((n_pts, 2), np.inf)
    ag.point_chain_in = np.full((n_pts, 2), np.inf)
    for col, end, out, inn in ((0, pu, du, iu), (1, pv, dv, iv)):
        on = k[nc[end[k]] >= 0]
        ag.point_chain[on, col] = nc[end[on]]
        ag.point_chain_pos[on, col] = npos[end[on]]
        ag.point_chain_posb[on, col] = nposb[end[on]]
        ag.point_chain_m[on, col] = out[on]
        ag.point_chain_in[on, col] = inn[on]
    return ag


# ----------------------------------------------------------------------------- locations


def _node_anchors(ag: AccessGraph, r, inward=False):
    """Anchors of road nodes ``r``: (junctions (m, 2), costs (m, 2)): the cost from the node to
    each anchor, or with ``inward`` from the anchor to the node; -1 / inf when none."""
    m = len(r)
    Jx = np.full((m, 2), -1, dtype=np.int64)
    Ox = np.full((m, 2), np.inf)
    jr = ag.node_junction[r]
    isj = jr >= 0
    Jx[isj, 0] = jr[isj]
    Ox[isj, 0] = 0.0
    c = np.flatnonzero(~isj)
    ch = ag.node_chain[r[c]]
    pf, pb = ag.node_pos[r[c]], ag.node_posb[r[c]]
    a, b = ag.chain_a[ch], ag.chain_b[ch]
    Lf, Lb = ag.chain_len[ch], ag.chain_lenb[ch]
    if inward:                                   # a -> node forwards, b -> node backwards
        to_a, to_b = pf, Lb - pb
    else:                                        # node -> a backwards, node -> b forwards
        to_a, to_b = pb, Lf - pf
    ring = a == b
    Jx[c, 0] = a
    Ox[c, 0] = np.where(ring, np.minimum(to_a, to_b), to_a)
    Jx[c, 1] = np.where(ring, -1, b)
    Ox[c, 1] = np.where(ring, np.inf, to_b)
    return Jx, Ox


def _point_anchors(ag: AccessGraph, p):
    """Anchors of points ``p`` (snapped): the ends' anchors plus the cost to (from) each end. A
    point's edge joins two junctions, or lies on one chain, so there are at most two: (m, 2)
    junctions, costs out, costs in."""
    ju, ou = _node_anchors(ag, ag.point_u[p])
    jv, ov = _node_anchors(ag, ag.point_v[p])
    _, iu = _node_anchors(ag, ag.point_u[p], inward=True)
    _, iv = _node_anchors(ag, ag.point_v[p], inward=True)
    cj = np.c_[ju, jv]
    co = np.c_[ou + ag.point_du[p][:, None], ov + ag.point_dv[p][:, None]]
    ci = np.c_[iu + ag.point_iu[p][:, None], iv + ag.point_iv[p][:, None]]
    cj[np.isinf(co) & np.isinf(ci)] = -1         # an end the point cannot reach (a closed edge)
    a0 = cj[np.arange(len(p)), np.argmax(cj >= 0, axis=1)]
    a1 = np.full(len(p), -1, dtype=np.int64)
    for k in (3, 2, 1):                          # the first other junction
        other = (cj[:, k] >= 0) & (cj[:, k] != a0)
        a1[other] = cj[other, k]
    if ((cj >= 0) & (cj != a0[:, None]) & (cj != a1[:, None])).any():
        raise AssertionError("a point's edge reaches more than two junctions first")  # never: see above
    Jx = np.c_[a0, a1]
    is0 = cj == a0[:, None]
    is1 = (cj == a1[:, None]) & (a1[:, None] >= 0)
    Ox = np.c_[np.where(is0, co, np.inf).min(axis=1), np.where(is1, co, np.inf).min(axis=1)]
    Ix = np.c_[np.where(is0, ci, np.inf).min(axis=1), np.where(is1, ci, np.inf).min(axis=1)]
    return Jx, Ox, Ix


def _anchors(ag: AccessGraph, ids, inward=False):
    """Anchors of locations ``ids`` (road nodes and points; -1 for none): the junctions reached
    without passing another junction and the cost to them (``inward``: from them), (m, 2)
    arrays padded with -1 / inf."""
    ids = np.asarray(ids, dtype=np.int64)
    m, n = len(ids), ag.n_road
    cost = ag.point_anchor_in if inward else ag.point_anchor_m
    if m and ids.min() >= n:
        p = ids - n
        return ag.point_anchor[p], cost[p]
    Jx = np.full((m, 2), -1, dtype=np.int64)
    Ox = np.full((m, 2), np.inf)
    road = np.flatnonzero((ids >= 0) & (ids < n))
    if len(road):
        Jx[road], Ox[road] = _node_anchors(ag, ids[road], inward)
    pt = np.flatnonzero(ids >= n)
    if len(pt):
        Jx[pt], Ox[pt] = ag.point_anchor[ids[pt] - n], cost[ids[pt] - n]
    return Jx, Ox


def _chain_entries(ag: AccessGraph, ids, inward=False):
    """Chains each location lies on: (location index, chain, position forwards, position backwards,
    cost to that position, or with ``inward`` from it) for road nodes on a chain and for points
    through an end of their edge on a chain."""
    ids = np.asarray(ids, dtype=np.int64)
    n = ag.n_road
    road = np.flatnonzero((ids >= 0) & (ids < n))
    r = ids[road]
    on = ag.node_chain[r] >= 0
    out = [(road[on], ag.node_chain[r[on]], ag.node_pos[r[on]], ag.node_posb[r[on]],
            np.zeros(int(on.sum())))]
    pt = np.flatnonzero(ids >= n)
    p = ids[pt] - n
    walk = ag.point_chain_in if inward else ag.point_chain_m
    for k in (0, 1):
        c = ag.point_chain[p, k]
        on = c >= 0
        out.append((pt[on], c[on], ag.point_chain_pos[p[on], k], ag.point_chain_posb[p[on], k],
                    walk[p[on], k]))
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
    """Walks from source to target locations that pass no junction: along a shared chain, along a
    shared edge, or none at all (the same location). Returns (i, j, d): src[i] to tgt[j] costs at
    most d (several rows may name the same pair)."""
    src = np.asarray(src, dtype=np.int64)
    tgt = np.asarray(tgt, dtype=np.int64)
    I, Jj, D = [], [], []
    si, sc, spf, spb, so = _chain_entries(ag, src)
    ti, tc, tpf, tpb, to = _chain_entries(ag, tgt, inward=True)
    a, b = _join(sc, tc)
    ahead = tpf[b] >= spf[a]                      # the target lies further along the chain
    I.append(si[a]); Jj.append(ti[b]); D.append(so[a] + np.where(ahead, tpf[b] - spf[a], spb[a] - tpb[b]) + to[b])
    n = ag.n_road
    s_pt = np.flatnonzero(src >= n)
    t_pt = np.flatnonzero(tgt >= n)
    ps, pt = src[s_pt] - n, tgt[t_pt] - n
    a, b = _join(ag.point_edge[ps], ag.point_edge[pt])
    s, t = ps[a], pt[b]
    fs, ft = ag.point_frac[s], ag.point_frac[t]
    ahead = ft >= fs
    with np.errstate(invalid="ignore"):
        uni = np.where(ahead, _part(ft - fs, ag.point_fwd[t]), _part(fs - ft, ag.point_bwd[t]))
        knots = np.where(ahead, ag.point_cf[t] - ag.point_cf[s], ag.point_cb[s] - ag.point_cb[t])
    I.append(s_pt[a]); Jj.append(t_pt[b])
    D.append(ag.point_snap[s] + ag.point_snap[t] + np.where(ag.point_uni[t], uni, knots))
    a, b = _join(src, tgt)                        # the same location
    I.append(a); Jj.append(b); D.append(np.zeros(len(a)))
    return np.concatenate(I), np.concatenate(Jj), np.concatenate(D)
