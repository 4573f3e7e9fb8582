"""The exact polygon methods: every reached piece buffered ("buffers"), or fully reached
blocks used in place of most buffers ("faces"). Exact to the buffer's polygonal arcs, and slow
on large networks (GEOS unions of thousands of overlapping buffers per circle); the raster
method (:mod:`coverage.core.circle_raster`) is the default.
"""

from __future__ import annotations

import numpy as np
import shapely

from .pieces import DEFAULT_BUFFER_M, DEFAULT_QUAD_SEGS, _pieces, cut_lines

__all__ = ["NetworkFaces", "network_faces", "draw_exact"]

_EMPTY = shapely.Polygon()


def _union_groups(geoms, group, n_groups, max_cells=4_000_000, func=shapely.union_all):
    """One union per group (``group`` sorted): ``func`` (shapely.union_all or
    coverage_union_all) along axis 1 of a padded 2-D array, in chunks of groups so the
    padding stays bounded. Empty groups get an empty polygon. Measured faster than buffering a multi-part geometry per group, which GEOS
    does very slowly when parts overlap (scripts/benchmark_isochrones.py)."""
    out = np.full(n_groups, _EMPTY, dtype=object)
    if geoms.size == 0:
        return out
    present, renum = np.unique(group, return_inverse=True)
    cnt = np.bincount(renum)
    within = np.arange(renum.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    starts = np.concatenate([[0], np.cumsum(cnt)])
    g0 = 0
    while g0 < present.size:
        # Grow the chunk while rows x widest row stays under max_cells.
        widest = np.maximum.accumulate(cnt[g0:])
        rows = np.arange(1, widest.size + 1)
        g1 = g0 + max(1, int(np.searchsorted(rows * widest, max_cells, side="right")))
        g1 = min(g1, present.size)
        sl = slice(starts[g0], starts[g1])
        pad = np.full((g1 - g0, int(cnt[g0:g1].max())), None, dtype=object)
        pad[renum[sl] - g0, within[sl]] = geoms[sl]
        out[present[g0:g1]] = func(pad, axis=1)
        g0 = g1
    return out


class NetworkFaces:
    """The network's planar faces (blocks) and, per face, its "hole": the part of the block
    farther than ``buffer_m`` from every street around it.

    Built once per network and buffer width (:func:`network_faces`) and reused for every
    facility and break. A face is *clean* when its boundary is made exactly of whole edges,
    each counted once (no dangle, crossing or duplicate edge inside it, no island in it).
    When every edge around a clean face is wholly reached, the drawn polygon inside that
    face is exactly the face minus its hole; its edges then need no buffer of their own.
    """

    def __init__(self, left, right, sides, clean, faces, holes, buffer_m, quad_segs):
        self.left, self.right = left, right   # face id on each side of each edge, -1 none
        self.sides = sides                    # edge sides bounding each face
        self.clean = clean                    # bool per face
        self.faces, self.holes = faces, holes  # polygons per face (holes: clean faces)
        self.buffer_m, self.quad_segs = buffer_m, quad_segs

    @property
    def n_faces(self):
        return self.faces.size


def network_faces(edge_geometry, buffer_m=DEFAULT_BUFFER_M, quad_segs=DEFAULT_QUAD_SEGS):
    """Faces of the noded network, the face on each side of every edge, and face holes."""
    geoms = np.asarray(edge_geometry, dtype=object)
    m = geoms.size
    noded = shapely.node(shapely.multilinestrings(geoms)) if m else shapely.MultiLineString()
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    k = faces.size
    left = np.full(m, -1, np.int64)
    right = np.full(m, -1, np.int64)
    glen = shapely.length(geoms)
    if k and m:
        ok = glen > 0
        h = np.minimum(glen * 0.25, 0.01)
        mid = shapely.line_interpolate_point(geoms, glen * 0.5)
        p0 = shapely.get_coordinates(shapely.line_interpolate_point(geoms, glen * 0.5 - h))
        p1 = shapely.get_coordinates(shapely.line_interpolate_point(geoms, glen * 0.5 + h))
        mxy = shapely.get_coordinates(mid)
        dxy = p1 - p0
        norm = np.hypot(dxy[:, 0], dxy[:, 1])
        norm[norm == 0] = 1.0
        nrm = np.column_stack([-dxy[:, 1], dxy[:, 0]]) / norm[:, None]
        eps = np.maximum(1e-3, 1e-9 * np.abs(mxy).max(axis=1, initial=0))[:, None]
        tree = shapely.STRtree(faces)
        for side, sign in ((left, 1.0), (right, -1.0)):
            pts = shapely.points(mxy + sign * eps * nrm)
            qi, fi = tree.query(pts, predicate="within")
            sel = ok[qi]
            side[qi[sel]] = fi[sel]
    sides = np.bincount(np.concatenate([left[left >= 0], right[right >= 0]]), minlength=k)
    bound = np.bincount(np.concatenate([left[left >= 0], right[right >= 0]]),
                        weights=np.concatenate([glen[left >= 0], glen[right >= 0]]),
                        minlength=k)
    perim = shapely.length(faces)
    clean = (np.abs(bound - perim) <= 1e-7 * np.maximum(perim, 1.0)) & \
        (shapely.get_num_interior_rings(faces) == 0) & (sides > 0)
    holes = np.full(k, None, dtype=object)
    if clean.any():
        holes[clean] = shapely.buffer(faces[clean], -buffer_m, quad_segs=quad_segs)
    return NetworkFaces(left, right, sides, clean, faces, holes, buffer_m, quad_segs)


def draw_exact(geoms, f, e, d_u, d_v, lens, n_groups, t, buffer_m, quad_segs, faces):
    """Polygons (one per group) of the reached network at break t.

    Rows (f, e, d_u, d_v) are (group, edge, end distances), sorted by group. Without
    ``faces`` every piece is buffered and the buffers are unioned per group. With faces,
    whole edges between two fully reached clean faces are replaced by those faces
    (coverage union, cheap), the other pieces are buffered and unioned with them, and the
    faces' holes are cut out: the same polygon from far fewer buffers.
    """
    row, a, b = _pieces(d_u, d_v, lens, t)
    fr, er = f[row], e[row]
    stats = (np.bincount(fr, weights=(b - a) * lens[row], minlength=n_groups),
             np.bincount(fr, minlength=n_groups))
    keep = np.ones(row.size, bool)
    full_keys = np.empty(0, np.int64)
    if faces is not None and faces.n_faces:
        k = faces.n_faces
        whole = (a <= 0) & (b >= 1)
        wf, we = fr[whole], er[whole]
        fl, fg = faces.left[we], faces.right[we]
        sf = np.concatenate([wf, wf])
        sface = np.concatenate([fl, fg])
        okf = sface >= 0
        okf[okf] = faces.clean[sface[okf]]
        keys = sf[okf] * k + sface[okf]
        uniq, cnt = np.unique(keys, return_counts=True)
        full_keys = uniq[cnt == faces.sides[uniq % k]]

        def is_full(fid, face):
            if full_keys.size == 0:
                return np.zeros(fid.size, bool)
            key = fid * k + face
            j = np.searchsorted(full_keys, key)
            jc = np.minimum(j, max(full_keys.size - 1, 0))
            return (face >= 0) & (j < full_keys.size) & (full_keys[jc] == key)

        inner = is_full(wf, fl) & is_full(wf, fg)
        idx = np.flatnonzero(whole)
        keep[idx[inner]] = False
    pieces = cut_lines(geoms, er[keep], a[keep], b[keep])
    parts = shapely.buffer(pieces, buffer_m, quad_segs=quad_segs)
    group = fr[keep]
    if full_keys.size:
        k = faces.n_faces
        ff, fface = full_keys // k, full_keys % k
        # Full faces of a group form a coverage: one cheap coverage union per group.
        present = np.unique(ff)
        cov = _union_groups(faces.faces[fface], ff, n_groups, func=shapely.coverage_union_all)
        order = np.argsort(np.concatenate([group, present]), kind="stable")
        parts = np.concatenate([parts, cov[present]])[order]
        group = np.concatenate([group, present])[order]
    polys = _union_groups(parts, group, n_groups)
    if full_keys.size:
        # Cut out the holes of full faces: disjoint, so a multipolygon per group is valid.
        hole = faces.holes[fface]
        hp, hi = shapely.get_parts(hole, return_index=True)
        hp_ok = ~shapely.is_empty(hp)
        hp, hg = hp[hp_ok], ff[hi[hp_ok]]
        if hp.size:
            hg_present = np.unique(hg)
            cut = shapely.multipolygons(hp, indices=np.searchsorted(hg_present, hg))
            polys[hg_present] = shapely.difference(polys[hg_present], cut)
    return polys, stats
