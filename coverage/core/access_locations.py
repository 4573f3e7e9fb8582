"""Locations on the access graph (see :mod:`coverage.core.access`): points snapped onto their nearest
edge, the junctions a road node or a snapped point reaches first (its *anchors*) and the cost to or
from them, the chains it lies on, and the walks between two locations that pass no junction (along
a shared chain or edge)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely

from .costs import _part

if TYPE_CHECKING:
    from .access_graph import AccessGraph
    from .network import WalkNetwork


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
    """Nearest edge within ``max_snap_m`` of each point: (edge index or -1, distance or nan, fraction).

    The distance is GEOS's (``shapely.distance``), and of equidistant edges the lowest index is
    taken: the answer of ``STRtree.query_nearest(..., all_matches=True)`` (see :func:`_nearest_edges`)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    pts = shapely.points(x, y)
    pi, ei, dist = _nearest_edges(net.edge_geometry, pts, x, y, float(max_snap_m))
    edge = np.full(len(x), -1, dtype=np.int64)
    snap = np.full(len(x), np.nan)
    frac = np.full(len(x), np.nan)
    edge[pi] = ei
    snap[pi] = dist
    frac[pi] = shapely.line_locate_point(net.edge_geometry[ei], pts[pi], normalized=True)
    frac[pi] = np.nan_to_num(frac[pi], nan=0.0)  # zero-length geometry
    return edge, snap, frac


#: edges are cut into pieces of at most this length (metres) for the k-d tree of :func:`_nearest_edges`
PIECE_M = 20.0


def _nearest_edges(geoms, pts, x, y, max_d: float, k: int = 8):
    """(point, edge, distance) of the points ``pts`` (coordinates ``x``, ``y``) with an edge within
    ``max_d``: the nearest edge by ``shapely.distance``, the lowest edge index among equidistant ones.

    GEOS's own nearest search (``STRtree.query_nearest``, ~15 us a point on a county) is replaced by
    a k-d tree over the edges cut into straight pieces of at most :data:`PIECE_M` (the tree holds
    their midpoints): a piece's distance is at least its midpoint's less half its length, so once
    the k nearest midpoints of a point hold a piece at U and every other midpoint is further than U
    + half a piece, the edges within U of the point are among those k pieces; the points for which
    this does not hold (~10 % on a county, most of them far from any road) search the ball of that
    radius. The candidates (pieces within U, by numpy with a 1 um margin for rounding) are measured
    by GEOS, so the distance and the choice among equal distances are exactly those of
    ``query_nearest`` (2x faster on a county: 200k points, 330k edges)."""
    n = len(x)
    none = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    xy, gi = shapely.get_coordinates(geoms, return_index=True)
    s = np.flatnonzero(gi[1:] == gi[:-1])                        # segment: vertex s -> s + 1
    fin = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    if not (len(s) and len(fin)):
        return none
    a, d = xy[s], xy[s + 1] - xy[s]
    m = np.maximum(np.ceil(np.hypot(d[:, 0], d[:, 1]) / PIECE_M), 1).astype(np.int64)
    seg = np.repeat(np.arange(len(s)), m)
    j = np.arange(seg.size) - np.repeat(np.cumsum(m) - m, m)
    p0 = a[seg] + (j / m[seg])[:, None] * d[seg]
    pd_ = a[seg] + ((j + 1) / m[seg])[:, None] * d[seg] - p0
    piece_edge = gi[s][seg]
    half = float(np.hypot(pd_[:, 0], pd_[:, 1]).max()) / 2
    from scipy.spatial import cKDTree           # imported on first use: start-up stays light
    tree = cKDTree(p0 + pd_ / 2)
    margin = 1e-6

    def dist(i, k):
        """numpy distances from points ``i`` (m,) to pieces ``k`` (m, K)."""
        wx, wy = x[i][:, None] - p0[k, 0], y[i][:, None] - p0[k, 1]
        dx, dy = pd_[k, 0], pd_[k, 1]
        l2 = dx * dx + dy * dy
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(l2 > 0, np.clip((wx * dx + wy * dy) / l2, 0.0, 1.0), 0.0)
        return np.hypot(wx - t * dx, wy - t * dy)

    from .isochrones import default_workers     # the k-d tree answers on the cores (the same answers)
    k = min(k, len(p0))
    r, nb = tree.query(np.c_[x[fin], y[fin]], k=k, workers=default_workers())
    r, nb = r.reshape(len(fin), k), nb.reshape(len(fin), k)
    dd = dist(fin, nb)
    u = dd.min(axis=1)
    done = (r[:, -1] - half > u + margin) | (r[:, 0] - half > max_d + margin)
    hit = (dd <= u[:, None] + margin) & (done & (u <= max_d + margin))[:, None]
    cand_p, cand_e = [np.repeat(fin, hit.sum(axis=1))], [piece_edge[nb[hit]]]
    todo = fin[~done]
    if len(todo):                                                # a ball holds every piece within U
        balls = tree.query_ball_point(np.c_[x[todo], y[todo]], u[~done] + half + 2 * margin)
        cnt = np.fromiter(map(len, balls), np.int64, len(balls))
        i = np.repeat(todo, cnt)
        q = np.concatenate([np.asarray(b, dtype=np.int64) for b in balls])
        dd = dist(i, q[:, None])[:, 0]
        u = np.full(n, np.inf)
        np.minimum.at(u, i, dd)
        hit = (dd <= u[i] + margin) & (u[i] <= max_d + margin)
        cand_p.append(i[hit])
        cand_e.append(piece_edge[q[hit]])
    key = np.sort(np.concatenate(cand_p) * np.int64(len(geoms)) + np.concatenate(cand_e))
    key = key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key
    pi, ei = key // len(geoms), key % len(geoms)
    dist_ = shapely.distance(pts[pi], geoms[ei])
    order = np.lexsort((ei, dist_, pi))                           # nearest first, then lowest edge
    pi, ei, dist_ = pi[order], ei[order], dist_[order]
    first = np.ones(len(pi), dtype=bool)
    first[1:] = pi[1:] != pi[:-1]
    keep = first & (dist_ <= max_d)
    return pi[keep], ei[keep], dist_[keep]


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
