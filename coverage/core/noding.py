"""Noding road lines (the geometric steps behind :func:`coverage.core.roads.edges_from_lines`).

Parts are runs of vertices in one table (:class:`_Parts`); dangling ends are joined onto nearby
lines, lines are split where they cross or touch (levels kept apart), cut by coordinates into
pieces, and piece ends within the tolerance become one node. All vectorised."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .crossings import pairs_to_intersect

#: Positions closer than this (metres) are the same point even with ``tolerance_m=0``.
EPS = 1e-6


class _Excluded:
    """Dropped features and parts, collected step by step (input position, reason, detail)."""

    def __init__(self):
        self.pos: list[np.ndarray] = []
        self.reason: list[np.ndarray] = []
        self.detail: list[np.ndarray] = []

    def add(self, pos, reason, detail) -> None:
        pos = np.asarray(pos, dtype=np.int64)
        if pos.size:
            self.pos.append(pos)
            self.reason.append(np.broadcast_to(np.asarray(reason, dtype=object), pos.shape))
            self.detail.append(np.broadcast_to(np.asarray(detail, dtype=object), pos.shape))

    def table(self, labels: np.ndarray, source: str) -> pd.DataFrame:
        """``RoadGraph.excluded``: source, feature (index label), reason, detail; sorted by
        reason then feature (stable)."""
        if not self.pos:
            return pd.DataFrame({c: pd.Series(dtype=object)
                                 for c in ("source", "feature", "reason", "detail")})
        return pd.DataFrame({
            "source": source,
            "feature": labels[np.concatenate(self.pos)],
            "reason": np.concatenate(self.reason).astype(object),
            "detail": np.concatenate(self.detail).astype(object),
        }).sort_values(["reason", "feature"], kind="stable").reset_index(drop=True)


def _part_detail(part_no: np.ndarray, suffix: str = "") -> np.ndarray:
    """'part k<suffix>' for each part number, as an object array."""
    return np.array([f"part {k}{suffix}" for k in part_no], dtype=object)


@dataclass
class _Parts:
    """The part table: each line part as a run of vertices.

    ``coords`` (n_vertices x 2) and ``vid`` (the part of each vertex, ascending 0..n-1) hold
    the vertices; per part: ``pfeat`` (position of its feature in the input), ``part_no``
    (its number within the feature), ``plevel`` (level key, int64). ``starts``/``ends``
    (index in ``coords`` of each part's first/last vertex) are derived from ``vid``.
    """

    coords: np.ndarray
    vid: np.ndarray
    pfeat: np.ndarray
    part_no: np.ndarray
    plevel: np.ndarray
    starts: np.ndarray = field(init=False)
    ends: np.ndarray = field(init=False)

    def __post_init__(self):
        counts = np.bincount(self.vid, minlength=len(self.pfeat))
        self.starts = np.cumsum(counts) - counts
        self.ends = self.starts + counts - 1

    @property
    def n(self) -> int:
        return len(self.pfeat)

    def subset(self, okp: np.ndarray, keepv: np.ndarray) -> tuple[_Parts, np.ndarray]:
        """The parts where ``okp`` with their vertices where ``keepv``, renumbered 0..k-1;
        also the new number of every old part (valid where ``okp``)."""
        newid = np.cumsum(okp) - 1
        keepv = keepv & okp[self.vid]
        return _Parts(self.coords[keepv], newid[self.vid[keepv]], self.pfeat[okp],
                      self.part_no[okp], self.plevel[okp]), newid


@dataclass
class _Pieces:
    """Parts cut at their split positions (step 4).

    ``part``: the part of each piece; ``coords``/``piece_of``: the vertices of all pieces
    laid one after another (the first and last of each, ``is_first``/``is_last``, are left
    unset: they are put on the nodes in step 5); ``p0``/``p1``: each piece's exact start and
    end; ``raw_len``: its length along the part before the ends are moved.
    """

    part: np.ndarray
    coords: np.ndarray
    piece_of: np.ndarray
    is_first: np.ndarray
    is_last: np.ndarray
    p0: np.ndarray
    p1: np.ndarray
    raw_len: np.ndarray


def _repeated(coords: np.ndarray, vid: np.ndarray) -> np.ndarray:
    """True for each vertex equal to the previous vertex of the same part."""
    same = np.zeros(len(coords), bool)
    same[1:] = (vid[1:] == vid[:-1]) & (coords[1:] == coords[:-1]).all(axis=1)
    return same


def _clusters(points: np.ndarray, radius: float, level: np.ndarray | None = None
              ) -> np.ndarray:
    """Connected components of points within ``radius`` (chained); labels 0..k-1.

    With ``level``, points on different levels join only when they coincide (within EPS).
    """
    n = len(points)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    pairs = cKDTree(points).query_pairs(radius, output_type="ndarray")
    if level is not None and pairs.size:
        a, b = pairs[:, 0], pairs[:, 1]
        ok = (level[a] == level[b]) | (np.hypot(*(points[a] - points[b]).T) <= EPS)
        pairs = pairs[ok]
    g = coo_array((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])),
                  shape=(n, n))
    _, labels = connected_components(g, directed=False)
    return labels.astype(np.int64)


def _explode(geoms: np.ndarray, keep: np.ndarray, feat_level: np.ndarray,
             excl: _Excluded) -> _Parts:
    """Step 1c: explode the kept features (twice: a collection may hold multi-lines) into
    2D line parts; list non-line and empty parts, parts with non-finite coordinates and
    parts of fewer than 2 distinct vertices in ``excl``; remove repeated vertices.
    Returns the part table."""
    feat_pos = np.flatnonzero(keep)
    parts, pfeat = geoms[feat_pos], feat_pos
    if np.isin(shapely.get_type_id(parts), (4, 5, 6, 7)).any():     # multi-parts and collections
        parts, pidx = shapely.get_parts(parts, return_index=True)
        pfeat = feat_pos[pidx]
        parts, pidx = shapely.get_parts(parts, return_index=True)
        pfeat = pfeat[pidx]
    ptid = shapely.get_type_id(parts)                # Z is left out: the coordinates are read in 2D
    part_no = np.arange(len(pfeat)) - np.searchsorted(pfeat, pfeat)  # part number in feature
    nonline = ~np.isin(ptid, (1, 2))
    excl.add(pfeat[nonline], "not a line", np.array(
        [f"part {k} is a {shapely.GeometryType(t).name}"
         for k, t in zip(part_no[nonline], ptid[nonline])], dtype=object))
    emptyp = ~nonline & shapely.is_empty(parts)
    excl.add(pfeat[emptyp], "empty geometry", _part_detail(part_no[emptyp]))
    sel = ~nonline & ~emptyp
    parts, pfeat, part_no = parts[sel], pfeat[sel], part_no[sel]
    coords, vid = shapely.get_coordinates(parts, return_index=True)
    p = _Parts(coords, vid, pfeat, part_no, feat_level[pfeat])
    badp = np.zeros(p.n, bool)
    badp[vid[~np.isfinite(coords).all(axis=1)]] = True
    excl.add(pfeat[badp], "invalid geometry",
             _part_detail(part_no[badp], ": non-finite coordinates"))
    keepv = ~badp[vid] & ~_repeated(coords, vid)
    zero = ~badp & (np.bincount(vid[keepv], minlength=p.n) < 2)
    excl.add(pfeat[zero], "zero length", _part_detail(part_no[zero]))
    return p.subset(~badp & ~zero, keepv)[0]


def _snap_dangling_ends(p: _Parts, tol: float, radius: float, excl: _Excluded
                        ) -> tuple[_Parts, np.ndarray, np.ndarray, int]:
    """Step 2: move each dangling end (no other end of its level within ``radius``) that
    lies within ``tol`` of another line of its level onto the nearest such line; then drop
    repeated vertices again and parts left with one vertex (listed in ``excl``).
    Returns (parts, extra_part, extra_xy, n_snapped): extra_part/extra_xy are where the
    target lines must be split (new part numbers)."""
    extra_part, extra_pt = np.zeros(0, np.int64), np.zeros((0, 2))
    if not (tol > 0 and p.n):
        return p, extra_part, extra_pt, 0
    coords, vid, n = p.coords, p.vid, p.n
    lines = shapely.linestrings(coords, indices=vid)
    ends_xy = np.vstack([coords[p.starts], coords[p.ends]])
    end_part = np.r_[np.arange(n), np.arange(n)]
    end_vertex = np.r_[p.starts, p.ends]
    lab = _clusters(ends_xy, radius, p.plevel[end_part])
    dangling = np.flatnonzero(np.bincount(lab)[lab] == 1)
    if not dangling.size:
        return p, extra_part, extra_pt, 0
    pts = shapely.points(ends_xy[dangling])
    qi, qj = shapely.STRtree(lines).query(pts, predicate="dwithin", distance=tol)
    own = end_part[dangling[qi]]
    other = (qj != own) & (p.plevel[qj] == p.plevel[own])
    qi, qj = qi[other], qj[other]
    d = shapely.distance(pts[qi], lines[qj])
    order = np.lexsort((qj, d, qi))
    first = order[np.r_[True, qi[order][1:] != qi[order][:-1]]] if order.size else order
    qi, qj = qi[first], qj[first]
    along = shapely.line_locate_point(lines[qj], pts[qi])
    proj = shapely.get_coordinates(shapely.line_interpolate_point(lines[qj], along))
    coords[end_vertex[dangling[qi]]] = proj
    extra_part, extra_pt = qj.astype(np.int64), proj
    # a moved end can land exactly on its own neighbour vertex: drop repeated vertices
    # again (a zero-length segment would divide 0 by 0 when the part is cut), and parts
    # left with one distinct vertex
    same = _repeated(coords, vid)
    p = _Parts(coords[~same], vid[~same], p.pfeat, p.part_no, p.plevel)
    zero = np.bincount(p.vid, minlength=n) < 2
    if zero.any():
        excl.add(p.pfeat[zero], "zero length", _part_detail(
            p.part_no[zero], ": nothing left after its end was joined to a nearby line"))
        ok_extra = ~zero[extra_part]
        p, newid = p.subset(~zero, np.ones(len(p.coords), bool))
        extra_part, extra_pt = newid[extra_part[ok_extra]], extra_pt[ok_extra]
    return p, extra_part, extra_pt, int(qi.size)


def _split_positions(p: _Parts, extra_part: np.ndarray, extra_pt: np.ndarray,
                     use_levels: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """Step 3: where parts cross or touch (and the step 2 joins). With ``use_levels``, a
    crossing of two levels counts only where it is within EPS of an end of either part.
    Returns (sp_part, sp_t, n_not_noded): part and distance along it of every split, and
    the number of distinct crossings left unnoded because of levels."""
    coords, plevel = p.coords, p.plevel
    pi, pj = pairs_to_intersect(p)
    # lines of the parts that meet another one or take a step 2 join (a few percent of them)
    used = np.zeros(p.n, bool)
    used[np.r_[pi, pj, extra_part]] = True
    lines = np.full(p.n, None, dtype=object)
    if used.any():
        shapely.linestrings(coords[used[p.vid]], indices=p.vid[used[p.vid]], out=lines)
    ip, ipair = shapely.get_parts(shapely.intersection(lines[pi], lines[pj]),
                                  return_index=True)
    itype = np.where(shapely.is_empty(ip), -1, shapely.get_type_id(ip))   # pairs that do not meet
    is_pt, is_ln = itype == 0, itype == 1
    pxy = np.vstack([shapely.get_coordinates(ip[is_pt]),
                     shapely.get_coordinates(shapely.get_point(ip[is_ln], 0)),
                     shapely.get_coordinates(shapely.get_point(ip[is_ln], -1))])
    ppair = np.r_[ipair[is_pt], ipair[is_ln], ipair[is_ln]]
    a, b = pi[ppair], pj[ppair]
    n_not_noded = 0
    if use_levels and a.size:
        diff = plevel[a] != plevel[b]
        if diff.any():
            dmin = np.full(a.size, np.inf)
            for part, vtx in ((a, p.starts), (a, p.ends), (b, p.starts), (b, p.ends)):
                dmin = np.minimum(dmin, np.hypot(*(pxy - coords[vtx[part]]).T))
            drop = diff & (dmin > EPS)
            n_not_noded = int(np.unique(pxy[drop], axis=0).shape[0])
            a, b, pxy = a[~drop], b[~drop], pxy[~drop]
    sp_part = np.r_[a, b, extra_part].astype(np.int64)
    sp_xy = np.vstack([pxy, pxy, extra_pt])
    sp_t = shapely.line_locate_point(lines[sp_part], shapely.points(sp_xy)) if sp_part.size \
        else np.zeros(0)
    return sp_part, sp_t, n_not_noded


def _point_at(g: np.ndarray, part: np.ndarray, gv: np.ndarray, seg: np.ndarray,
              p: _Parts) -> np.ndarray:
    """The xy at global position ``g`` (see _cut_pieces) on ``part``, interpolated."""
    s = np.searchsorted(gv, g, side="right") - 1
    s = np.clip(s, p.starts[part], p.ends[part] - 1)
    step = seg[s + 1]
    f = np.clip(np.divide(g - gv[s], step, out=np.zeros(len(s)), where=step > 0), 0.0, 1.0)
    return p.coords[s] + f[:, None] * (p.coords[s + 1] - p.coords[s])


def _cut_pieces(p: _Parts, sp_part: np.ndarray, sp_t: np.ndarray) -> _Pieces:
    """Step 4: cut every part at its split positions (and its ends), by coordinates in one
    pass: parts are laid end to end on one global axis and split positions closer than EPS
    are one. Returns the pieces."""
    coords, vid, n = p.coords, p.vid, p.n
    seg = np.zeros(len(coords))
    if len(coords) > 1:
        same_part = vid[1:] == vid[:-1]
        seg[1:] = np.where(same_part, np.hypot(*(coords[1:] - coords[:-1]).T), 0.0)
    cum = np.cumsum(seg)
    cumv = cum - cum[p.starts][vid]                     # distance along its part
    plen = cumv[p.ends]
    off = np.cumsum(plen + 1.0) - (plen + 1.0)           # parts laid end to end, 1 m apart
    gv = off[vid] + cumv
    sp_t = np.clip(sp_t, 0.0, plen[sp_part])
    sp_t = np.where(sp_t <= EPS, 0.0, sp_t)
    sp_t = np.where(plen[sp_part] - sp_t <= EPS, plen[sp_part], sp_t)
    pos_part = np.r_[np.arange(n), np.arange(n), sp_part]
    pos_t = np.r_[np.zeros(n), plen, sp_t]
    order = np.lexsort((pos_t, pos_part))
    pos_part, pos_t = pos_part[order], pos_t[order]
    newpos = np.r_[True, (pos_part[1:] != pos_part[:-1]) | (pos_t[1:] - pos_t[:-1] > EPS)
                   ][:pos_part.size]
    pos_part, pos_t = pos_part[newpos], pos_t[newpos]
    is_piece = np.r_[pos_part[1:] == pos_part[:-1], False][:pos_part.size]
    k0 = np.flatnonzero(is_piece)
    piece_part = pos_part[k0]
    g0 = off[piece_part] + pos_t[k0]
    g1 = off[piece_part] + pos_t[k0 + 1]
    lo = np.searchsorted(gv, g0 + EPS, side="right")
    hi = np.searchsorted(gv, g1 - EPS, side="left")
    ncoord = np.maximum(hi - lo, 0) + 2
    piece_of = np.repeat(np.arange(len(piece_part)), ncoord)
    local = np.arange(piece_of.size) - np.repeat(np.cumsum(ncoord) - ncoord, ncoord)
    is_first = local == 0
    is_last = local == np.repeat(ncoord - 1, ncoord)
    mid = ~is_first & ~is_last
    pc = np.empty((piece_of.size, 2))
    pc[mid] = coords[(np.repeat(lo, ncoord) + local - 1)[mid]]
    return _Pieces(part=piece_part, coords=pc, piece_of=piece_of, is_first=is_first,
                   is_last=is_last, p0=_point_at(g0, piece_part, gv, seg, p),
                   p1=_point_at(g1, piece_part, gv, seg, p),
                   raw_len=pos_t[k0 + 1] - pos_t[k0])


def _unique_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(a, axis=0, return_inverse=True)`` for a 2-D float array (rows sorted by the
    first column, then the next ...), by a lexsort of the columns (np.unique's row sort is
    several times slower)."""
    if len(a) == 0:
        return a.reshape(0, a.shape[1]), np.zeros(0, np.int64)
    varies = [c for c in a.T[::-1] if (c != c[0]).any()]   # a constant column leaves the order as is
    order = np.lexsort(varies) if varies else np.arange(len(a))
    s = a[order]
    new = np.ones(len(s), bool)
    new[1:] = (s[1:] != s[:-1]).any(axis=1)
    inv = np.empty(len(a), np.int64)
    inv[order] = np.cumsum(new) - 1
    return s[new], inv


def _merge_nodes(pc: _Pieces, plevel: np.ndarray, radius: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, float]:
    """Step 5a: piece ends within ``radius`` on the same level (chained; across levels
    only where they coincide) become one node at the mean of their distinct positions.
    Returns (node_of_end: starts then ends, node_x, node_y, merged groups, widest shift)."""
    piece_level = plevel[pc.part].astype(float)
    ends_all = np.c_[np.vstack([pc.p0, pc.p1]), np.r_[piece_level, piece_level]]
    uniq, inv = _unique_rows(ends_all)
    lab = _clusters(uniq[:, :2], radius, uniq[:, 2])
    n_lab = int(lab.max()) + 1 if lab.size else 0
    # each distinct position counts once (a bridge end on a street: one position, 2 levels): the
    # rows (label, x, y) in sorted order, as _unique_rows gives them (uniq is sorted by x, y, level)
    o = np.argsort(lab, kind="stable")
    upos = np.c_[lab[o], uniq[o, :2]]
    if len(upos) > 1:
        upos = upos[np.r_[True, (upos[1:] != upos[:-1]).any(axis=1)]]
    plab = upos[:, 0].astype(np.int64)
    npos = np.bincount(plab, minlength=n_lab)
    nx_ = np.bincount(plab, weights=upos[:, 1], minlength=n_lab) / np.maximum(npos, 1)
    ny_ = np.bincount(plab, weights=upos[:, 2], minlength=n_lab) / np.maximum(npos, 1)
    # the widest merged group (chained merges can reach beyond tolerance_m)
    spread = np.hypot(upos[:, 1] - nx_[plab], upos[:, 2] - ny_[plab])
    return (lab[inv.reshape(-1)], nx_, ny_, int((npos > 1).sum()),
            float(spread.max()) if spread.size else 0.0)


def _build_edges(pc: _Pieces, node_of_end: np.ndarray, nx_: np.ndarray, ny_: np.ndarray,
                 radius: float) -> tuple:
    """Step 5b: put each piece's ends on its nodes, drop pieces that collapse to a point
    (a loop no longer than 2 * radius) and number the used nodes 0..k-1.
    Returns (node_x, node_y, u, v, geometry, part of each edge, n_collapsed)."""
    n_pieces = len(pc.part)
    u, v = node_of_end[:n_pieces], node_of_end[n_pieces:]
    coords = pc.coords
    coords[pc.is_first] = np.c_[nx_[u], ny_[u]]
    coords[pc.is_last] = np.c_[nx_[v], ny_[v]]
    collapsed = (u == v) & (pc.raw_len <= 2 * radius)
    keep_e = ~collapsed
    geom = shapely.linestrings(coords, indices=pc.piece_of) if n_pieces \
        else np.zeros(0, object)
    geom, u, v, part = geom[keep_e], u[keep_e], v[keep_e], pc.part[keep_e]
    used, remap = np.unique(np.r_[u, v], return_inverse=True)
    u, v = remap[:u.size].astype(np.int64), remap[u.size:].astype(np.int64)
    return (nx_[used].astype(np.float64), ny_[used].astype(np.float64), u, v, geom, part,
            int(collapsed.sum()))
