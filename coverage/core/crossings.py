"""Which pairs of road parts noding must intersect (a step of :mod:`coverage.core.noding`): most
pairs of a road layer only share an end, and GEOS's exact intersection is kept for the others."""

from __future__ import annotations

import numpy as np
import shapely


def pairs_to_intersect(p) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of parts (i < j) of ``p`` (the parts of :mod:`coverage.core.noding`: vertices ``coords``,
    part of each vertex ``vid``, first and last vertex ``starts``/``ends``, count ``n``) whose
    intersection may hold a split: every pair that meets, less
    those that provably meet only at a shared end of both (or not at all), which split nothing
    (a split at a part's end is its end). Most pairs of a road layer are lines that share an end
    (a street joined to the next one), so this leaves a few percent of the pairs to GEOS.

    Segment by segment (bounding boxes from an STRtree): two segments are left out when each
    lies more than 1 um to one side of the other's line (disjoint), or when they share exactly
    one end that is an end of both parts and are more than 1 um from collinear (they meet there
    only). Anything closer is left to GEOS's exact intersection."""
    if p.n == 0:
        z = np.zeros(0, np.int64)
        return z, z
    coords, vid = p.coords, p.vid
    seg = np.flatnonzero(vid[1:] == vid[:-1])           # segment k: vertex k -> k + 1
    a, b = coords[seg], coords[seg + 1]
    part = vid[seg]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    boxes = shapely.box(lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1])
    si, sj = shapely.STRtree(boxes).query(boxes)
    keep = part[si] < part[sj]
    si, sj = si[keep], sj[keep]
    p1, p2, q1, q2 = a[si], b[si], a[sj], b[sj]

    def cross(o, x, y):
        return (x[:, 0] - o[:, 0]) * (y[:, 1] - o[:, 1]) - (x[:, 1] - o[:, 1]) * (y[:, 0] - o[:, 0])

    tol = 1e-6                                            # metres
    lp = np.hypot(*(p2 - p1).T)
    lq = np.hypot(*(q2 - q1).T)
    o1, o2 = cross(p1, p2, q1), cross(p1, p2, q2)        # sides of q1, q2 of line p (x |p|)
    o3, o4 = cross(q1, q2, p1), cross(q1, q2, p2)
    mp, mq = tol * lp, tol * lq
    apart = (((o1 > mp) & (o2 > mp)) | ((o1 < -mp) & (o2 < -mp))
             | ((o3 > mq) & (o4 > mq)) | ((o3 < -mq) & (o4 < -mq)))
    # a shared point that is an end of both parts (first or last vertex)
    is_end = np.zeros(len(coords), bool)
    is_end[p.starts] = True
    is_end[p.ends] = True
    va, vb = seg[si], seg[sj]                              # first vertex of each segment
    eq = [((p1 == q1).all(1), va, vb), ((p1 == q2).all(1), va, vb + 1),
          ((p2 == q1).all(1), va + 1, vb), ((p2 == q2).all(1), va + 1, vb + 1)]
    n_shared = sum(e[0].astype(np.int8) for e in eq)
    end_shared = np.zeros(si.size, bool)
    for e, x, y in eq:
        end_shared |= e & is_end[x] & is_end[y]
    # not collinear: the other end of one segment off the other's line (both ways, by more than
    # tol); then two segments from one point meet only there
    off = (np.abs(o1) > mp) | (np.abs(o2) > mp)
    off &= (np.abs(o3) > mq) | (np.abs(o4) > mq)
    only_end = (n_shared == 1) & end_shared & off
    need = ~(apart | only_end)
    pair = np.sort(part[si[need]] * np.int64(p.n) + part[sj[need]])
    pair = pair[np.r_[True, pair[1:] != pair[:-1]]] if pair.size else pair
    return pair // p.n, pair % p.n
