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

from .access_locations import Snapped, _anchors, _direct_pairs, _point_anchors, snap_points, snap_to_edges  # noqa: F401
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
