"""The access core: points are snapped onto the nearest edge (not the nearest node), inserted
into the graph as nodes on that edge, and hung on a pendant edge whose length is the snap
distance. A walk is then demand snap + network + facility snap exactly, also when a demand point
and a facility lie on the same long edge. One bounded multi-source Dijkstra per category
(scipy.sparse.csgraph, C code) gives every point's distance to the nearest facility.
Unreachable is ``inf``: never a sentinel number, never a false zero."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra

from .network import WalkNetwork, symmetric_csr_min


@dataclass
class AccessGraph:
    csr: sp.csr_array
    n_road: int                 # nodes 0..n_road-1 are the network's own nodes
    point_node: np.ndarray      # pendant node of each point (-1 when not snapped)
    point_snap: np.ndarray      # snap distance in metres (nan when not snapped)
    point_edge: np.ndarray      # edge index snapped to (-1 when not snapped)
    point_frac: np.ndarray      # position along that edge, 0..1 from u
    n_points: int
    sets: dict = field(default_factory=dict)  # name -> slice of the points ("demand", "facilities")
    point_x: np.ndarray | None = None          # the points' own coordinates
    point_y: np.ndarray | None = None

    @property
    def snapped(self) -> np.ndarray:
        return self.point_node >= 0

    def ids(self, name: str, index=None) -> np.ndarray:
        """Point indices of the named set (``index`` selects within the set)."""
        sl = self.sets[name]
        allp = np.arange(sl.start, sl.stop)
        return allp if index is None else allp[np.asarray(index, dtype=np.int64)]

    def of(self, name: str, values: np.ndarray) -> np.ndarray:
        """The part of a per-point array that belongs to the named set."""
        return np.asarray(values)[self.sets[name]]


def snap_to_edges(net: WalkNetwork, x, y, max_snap_m: float):
    """Nearest edge within ``max_snap_m`` of each point: (edge index or -1, distance or nan, fraction)."""
    pts = shapely.points(np.asarray(x, float), np.asarray(y, float))
    tree = shapely.STRtree(net.edge_geometry)
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


def build_access_graph(net: WalkNetwork, x, y=None, max_snap_m: float = 300.0) -> AccessGraph:
    """Insert points into the network: ``x``, ``y`` coordinate arrays, or ``x`` a mapping of named
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
    ok = edge >= 0
    k = np.flatnonzero(ok)
    n = net.n_nodes
    m = len(k)
    on_road = n + np.arange(m)               # node on the edge
    pendant = n + m + np.arange(m)           # the point itself
    affected = np.zeros(net.n_edges, dtype=bool)
    affected[edge[k]] = True
    ae = np.flatnonzero(affected)
    # chain entries per affected edge: u at 0, inserted points at frac, v at 1
    ch_edge = np.concatenate([ae, edge[k], ae])
    ch_frac = np.concatenate([np.zeros(len(ae)), frac[k], np.ones(len(ae))])
    ch_rank = np.concatenate([np.zeros(len(ae)), np.ones(m), np.full(len(ae), 2.0)])
    ch_node = np.concatenate([net.edge_u[ae], on_road, net.edge_v[ae]])
    o = np.lexsort((ch_node, ch_rank, ch_frac, ch_edge))
    ch_edge, ch_frac, ch_node = ch_edge[o], ch_frac[o], ch_node[o]
    same = ch_edge[1:] == ch_edge[:-1]
    cu = ch_node[:-1][same]
    cv = ch_node[1:][same]
    cw = (ch_frac[1:] - ch_frac[:-1])[same] * net.edge_length[ch_edge[1:][same]]
    keep = ~affected
    u = np.concatenate([net.edge_u[keep], cu, on_road])
    v = np.concatenate([net.edge_v[keep], cv, pendant])
    w = np.concatenate([net.edge_length[keep], np.maximum(cw, 0.0), snap[k]])
    N = n + 2 * m
    point_node = np.full(n_pts, -1, dtype=np.int64)
    point_node[k] = pendant
    return AccessGraph(symmetric_csr_min(u, v, w, N), n, point_node, snap, edge, frac, n_pts, sets,
                       np.asarray(x, float), np.asarray(y, float))


def nearest(ag: AccessGraph, sources, targets, cutoff: float):
    """Distance from each target point to the nearest source point over the network, bounded by
    ``cutoff`` metres (farther or unreachable = inf), and the index (into ``sources``) of that
    nearest source (-1 when none). One multi-source Dijkstra."""
    sources = np.asarray(sources, dtype=np.int64)
    targets = np.asarray(targets, dtype=np.int64)
    out = np.full(len(targets), np.inf)
    who = np.full(len(targets), -1, dtype=np.int64)
    src_nodes = ag.point_node[sources]
    use = src_nodes >= 0
    if not use.any():
        return out, who
    src_nodes_u = src_nodes[use]
    dist, _, origin = dijkstra(ag.csr, directed=False, indices=src_nodes_u, limit=cutoff,
                               min_only=True, return_predecessors=True)
    tn = ag.point_node[targets]
    ok = tn >= 0
    out[ok] = dist[tn[ok]]
    # map origin node -> source index (pendant nodes are unique per point)
    lut = np.full(ag.csr.shape[0], -1, dtype=np.int64)
    lut[src_nodes_u] = np.flatnonzero(use)
    org = origin[tn[ok]]
    who_ok = np.where(org >= 0, lut[np.maximum(org, 0)], -1)
    who[ok] = who_ok
    return out, who


def road_node_distance(ag: AccessGraph, sources, cutoff: float) -> np.ndarray:
    """Distance of every network node (0..n_road-1) from the nearest source (inf beyond cutoff)."""
    src_nodes = ag.point_node[np.asarray(sources, dtype=np.int64)]
    src_nodes = src_nodes[src_nodes >= 0]
    if len(src_nodes) == 0:
        return np.full(ag.n_road, np.inf)
    dist = dijkstra(ag.csr, directed=False, indices=src_nodes, limit=cutoff, min_only=True)
    return dist[: ag.n_road]


def reach_matrix(ag: AccessGraph, source_nodes, target_nodes, cutoff: float, *, chunk: int = 64,
                 road_nodes_too: bool = False):
    """Sparse (n_sources × n_targets) matrix of walking distances ≤ cutoff between graph nodes.

    Stored entries are distances in metres; explicit zeros are stored and mean distance 0;
    absent entries mean farther than the cutoff or unreachable. Bounded Dijkstra from each
    source, in chunks, so memory stays at chunk × n_nodes floats. Sources with node -1 get an
    empty row. With ``road_nodes_too`` also returns the (n_sources × n_road) matrix for drawing."""
    source_nodes = np.asarray(source_nodes, dtype=np.int64)
    target_nodes = np.asarray(target_nodes, dtype=np.int64)
    t_ok = np.flatnonzero(target_nodes >= 0)
    rows, cols, vals, rrows, rcols, rvals = [], [], [], [], [], []
    valid = np.flatnonzero(source_nodes >= 0)
    for start in range(0, len(valid), chunk):
        idx = valid[start:start + chunk]
        d = dijkstra(ag.csr, directed=False, indices=source_nodes[idx], limit=cutoff)
        sub = d[:, target_nodes[t_ok]]
        r, c = np.nonzero(np.isfinite(sub))
        rows.append(idx[r]); cols.append(t_ok[c]); vals.append(sub[r, c])
        if road_nodes_too:
            sub = d[:, : ag.n_road]
            r, c = np.nonzero(np.isfinite(sub))
            rrows.append(idx[r]); rcols.append(c); rvals.append(sub[r, c])

    def _csr(rs, cs, vs, ncols):
        if not rs:
            return sp.csr_array((len(source_nodes), ncols), dtype=np.float64)
        rs, cs, vs = np.concatenate(rs), np.concatenate(cs), np.concatenate(vs)
        indptr = np.zeros(len(source_nodes) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rs, minlength=len(source_nodes)), out=indptr[1:])
        o = np.lexsort((cs, rs))
        return sp.csr_array((vs[o], cs[o], indptr), shape=(len(source_nodes), ncols))

    m = _csr(rows, cols, vals, len(target_nodes))
    if road_nodes_too:
        return m, _csr(rrows, rcols, rvals, ag.n_road)
    return m
