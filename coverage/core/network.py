"""The walking network as arrays: node coordinates, undirected edges with lengths in metres, their
geometry, name and road class (OSM ``highway`` value, or a road layer's class mapped onto it), and
CSR matrices for scipy.sparse.csgraph: symmetric for lengths, directed for travel costs that differ
by direction (slope). networkx/osmnx/pyrosm build and read; they never compute here."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely



def symmetric_csr_min(u, v, w, n: int) -> sp.csr_array:
    """Symmetric CSR of an undirected edge list keeping the SHORTEST of duplicate edges.

    ``csr_array((w, (u, v)))`` would ADD parallel edges together (see DESIGN.md); explicit zero
    weights are kept (a zero-length edge is still an edge for csgraph)."""
    return directed_csr_min(u, v, w, w, n)


def directed_csr_min(u, v, w_uv, w_vu, n: int) -> sp.csr_array:
    """CSR of two-way edges whose cost differs by direction: arc u->v costs ``w_uv``, v->u ``w_vu``;
    of duplicate arcs the CHEAPEST is kept (per direction, so going and coming back may use
    different parallel roads). An edge closed to a travel mode has infinite cost both ways and
    is left out (so the pattern stays symmetric: every arc has its reverse)."""
    u = np.asarray(u, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    a = np.concatenate([u, v])
    b = np.concatenate([v, u])
    ww = np.concatenate([np.asarray(w_uv, dtype=np.float64), np.asarray(w_vu, dtype=np.float64)])
    keep = a != b
    if not np.isfinite(ww).all():
        keep &= np.isfinite(ww)
    a, b, ww = a[keep], b[keep], ww[keep]
    key = a * np.int64(max(n, 1)) + b                           # orders as (a, b)
    order = np.argsort(key, kind="stable")
    key, ww = key[order], ww[order]
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, np.int64)
    ww = np.minimum.reduceat(ww, first) if len(key) else ww    # the cheapest of each (a, b)
    a, b = a[order[first]], b[order[first]]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(a, minlength=n), out=indptr[1:])
    return sp.csr_array((ww, b.astype(np.int32), indptr.astype(np.int32)), shape=(n, n))


@dataclass
class WalkNetwork:
    crs: object
    node_id: np.ndarray
    node_x: np.ndarray
    node_y: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length: np.ndarray
    edge_geometry: np.ndarray
    edge_name: np.ndarray
    source: str = ""
    report: dict = field(default_factory=dict)
    #: road class of each edge: the OSM ``highway`` value (first of a list), or a road layer's
    #: ``class_field`` value mapped by ``network.class_map`` (None = unknown). Travel modes read
    #: their speed by class from it (coverage.core.modes); walking does not use it.
    edge_class: np.ndarray | None = None

    def __post_init__(self):
        if self.edge_class is None:
            self.edge_class = np.full(len(self.edge_u), None, dtype=object)

    @property
    def n_nodes(self) -> int:
        return len(self.node_x)

    @property
    def n_edges(self) -> int:
        return len(self.edge_u)

    def csr(self) -> sp.csr_array:
        return symmetric_csr_min(self.edge_u, self.edge_v, self.edge_length, self.n_nodes)

    def edges_gdf(self):
        import geopandas as gpd
        return gpd.GeoDataFrame({"u": self.edge_u, "v": self.edge_v, "length_m": self.edge_length,
                                 "name": self.edge_name, "road_class": self.edge_class},
                                geometry=self.edge_geometry, crs=self.crs)

    def clip(self, polygon) -> "WalkNetwork":
        """The network inside ``polygon`` (the study area plus its buffer).

        Edges with both ends inside are kept whole. An edge that crosses the clip line is cut
        there (shapely intersection): its inside parts are kept with a new end node on the line,
        so a long rural road running out of the area still serves the people along its inside
        part. Nothing inside the polygon is dropped."""
        inside = shapely.contains_xy(polygon, self.node_x, self.node_y)
        whole = inside[self.edge_u] & inside[self.edge_v]
        cand = np.flatnonzero(~whole)
        geoms = self.edge_geometry
        if len(cand):
            shapely.prepare(polygon)
            cand = cand[shapely.intersects(geoms[cand], polygon)]
        parts, src = shapely.get_parts(shapely.intersection(geoms[cand], polygon), return_index=True)
        line = (shapely.get_type_id(parts) == 1) & (shapely.length(parts) > 0)
        parts, src = parts[line], cand[src[line]]
        # ends of each part: an original end node when the part starts/ends on it (and it is
        # inside), else a new node on the clip line; new nodes at the same point are one node
        p0 = shapely.get_coordinates(shapely.get_point(parts, 0))
        p1 = shapely.get_coordinates(shapely.get_point(parts, -1))

        def end_node(pt):
            node = np.full(len(parts), -1, dtype=np.int64)
            for ends in (self.edge_v[src], self.edge_u[src]):
                on = inside[ends] & (self.node_x[ends] == pt[:, 0]) & (self.node_y[ends] == pt[:, 1])
                node[on] = ends[on]
            return node

        n0, n1 = end_node(p0), end_node(p1)
        new_xy = np.r_[p0[n0 < 0], p1[n1 < 0]]
        uniq, inv = np.unique(np.round(new_xy, 6), axis=0, return_inverse=True)
        inv = inv.ravel() + self.n_nodes
        k0 = int((n0 < 0).sum())
        n0[n0 < 0] = inv[:k0]
        n1[n1 < 0] = inv[k0:]
        glen = shapely.length(geoms[src])
        plen = self.edge_length[src] * np.divide(shapely.length(parts), glen, out=np.ones(len(parts)),
                                                 where=glen > 0)
        keep = np.flatnonzero(whole)
        all_x = np.r_[self.node_x, uniq[:, 0]]
        all_y = np.r_[self.node_y, uniq[:, 1]]
        eu = np.r_[self.edge_u[keep], n0]
        ev = np.r_[self.edge_v[keep], n1]
        used = np.zeros(len(all_x), dtype=bool)
        used[eu] = True
        used[ev] = True
        new_index = np.full(len(all_x), -1, dtype=np.int64)
        new_index[used] = np.arange(used.sum())
        if np.issubdtype(self.node_id.dtype, np.integer):
            extra_id = -np.arange(1, len(uniq) + 1, dtype=self.node_id.dtype)
        else:
            extra_id = np.array([f"clip{i + 1}" for i in range(len(uniq))], dtype=object)
        all_id = np.concatenate([self.node_id, extra_id]) if len(uniq) else self.node_id
        report = dict(self.report)
        report.update(clip_edges_cut=int(len(np.unique(src))), clip_parts_kept=int(len(parts)),
                      clip_edges_dropped=int(len(self.edge_u) - len(keep) - len(np.unique(src))),
                      clip_nodes_added=int(len(uniq)),
                      clip_nodes_dropped=int(self.n_nodes - used[: self.n_nodes].sum()))
        return WalkNetwork(self.crs, all_id[used], all_x[used], all_y[used], new_index[eu], new_index[ev],
                           np.r_[self.edge_length[keep], plen],
                           np.concatenate([geoms[keep], parts]).astype(object),
                           np.concatenate([self.edge_name[keep], self.edge_name[src]]).astype(object),
                           self.source, report,
                           np.concatenate([self.edge_class[keep], self.edge_class[src]]).astype(object))


def from_edge_arrays(node_id, node_x, node_y, u_id, v_id, geometry=None, name=None, *, crs,
                     length=None, source="", road_class=None) -> WalkNetwork:
    """Build from node ids/coordinates (metric CRS) and edges given by node ids.

    Edge geometry (LineStrings in the same CRS) is oriented to run from u to v; missing
    geometry becomes a straight line. Lengths are the geometry's length in metres unless given.

    Every distinct road is kept: a longer road between the same two junctions as a shorter one
    (a parallel road) and a road that returns to its own junction (a loop) are places where
    people live and snap to. Only an exact duplicate of the same line (the reverse twin that
    osmnx makes for a two-way street) is dropped. The routing matrix (:meth:`WalkNetwork.csr`)
    keeps the shortest edge between two junctions; a point inserted into a longer parallel road
    or a loop splits that road, so its walk is exact. ``road_class``: each edge's road class
    (``WalkNetwork.edge_class``)."""
    node_id = np.asarray(node_id)
    node_x = np.asarray(node_x, dtype=np.float64)
    node_y = np.asarray(node_y, dtype=np.float64)
    order = np.argsort(node_id, kind="stable")
    sorted_ids = node_id[order]
    u_id = np.asarray(u_id)
    v_id = np.asarray(v_id)
    n_e = len(u_id)
    if len(sorted_ids):
        pu = np.clip(np.searchsorted(sorted_ids, u_id), 0, len(sorted_ids) - 1)
        pv = np.clip(np.searchsorted(sorted_ids, v_id), 0, len(sorted_ids) - 1)
        known = (sorted_ids[pu] == u_id) & (sorted_ids[pv] == v_id)
        u = order[pu]
        v = order[pv]
    else:
        known = np.zeros(n_e, dtype=bool)
        u = v = np.zeros(n_e, dtype=np.int64)
    if geometry is None:
        geometry = np.full(n_e, None, dtype=object)
    geometry = np.array(geometry, dtype=object)
    if name is None:
        name = np.full(n_e, None, dtype=object)
    name = np.asarray(name, dtype=object)
    if road_class is None:
        road_class = np.full(n_e, None, dtype=object)
    road_class = np.asarray(road_class, dtype=object)
    missing = shapely.is_missing(geometry) | shapely.is_empty(geometry)
    if missing.any():
        coords = np.stack([np.c_[node_x[u[missing]], node_y[u[missing]]],
                           np.c_[node_x[v[missing]], node_y[v[missing]]]], axis=1)
        geometry[missing] = shapely.linestrings(coords)
    # orient u -> v: reverse lines whose first point is nearer v than u
    fx, fy = _first_points(geometry)
    du = np.hypot(fx - node_x[u], fy - node_y[u])
    dv = np.hypot(fx - node_x[v], fy - node_y[v])
    flip = dv < du
    if flip.any():
        geometry[flip] = shapely.reverse(geometry[flip])
    if length is None:
        length = shapely.length(geometry)
    length = np.asarray(length, dtype=np.float64)
    loop = u == v
    # a loop needs a real line to be a road; a zero-length "loop" is a mapping artefact
    keep = known & np.isfinite(length) & ~(loop & ~(length > 0))
    report = {"edges_in": int(n_e), "edges_unknown_node": int((~known).sum()),
              "degenerate_loops_dropped": int((known & loop & ~(length > 0)).sum())}
    u, v, length, geometry, name = u[keep], v[keep], length[keep], geometry[keep], name[keep]
    road_class = road_class[keep]
    # exact duplicates: same junction pair and the same line (either direction); the lines are
    # compared only where the pair and the length (mm) are shared
    a, b = np.minimum(u, v), np.maximum(u, v)
    mm = np.round(length * 1000.0).astype(np.int64)
    line = np.full(len(u), -1, dtype=np.int64)
    shared = _in_equal_rows(a, b, mm)
    line[shared] = pd.factorize(shapely.to_wkb(shapely.normalize(geometry[shared])))[0]
    sel = _first_of_equal_rows(a, b, mm, line)
    report["duplicate_edges_dropped"] = int(len(u) - len(sel))
    u, v, length, geometry, name = u[sel], v[sel], length[sel], geometry[sel], name[sel]
    road_class = road_class[sel]
    a, b = np.minimum(u, v), np.maximum(u, v)
    n_pairs = _n_distinct(a[u != v] * np.int64(max(len(node_x), 1)) + b[u != v])
    report["loops_kept"] = int((u == v).sum())
    report["parallel_edges_kept"] = int((u != v).sum() - n_pairs)
    # nodes that no kept edge uses (nodes of walls or buildings in an OSM file) are dropped
    used = np.zeros(len(node_x), dtype=bool)
    used[u] = True
    used[v] = True
    report["unused_nodes_dropped"] = int((~used).sum())
    new_index = np.cumsum(used) - 1
    return WalkNetwork(crs, node_id[used], node_x[used], node_y[used], new_index[u].astype(np.int64),
                       new_index[v].astype(np.int64), length, geometry, name, source, report, road_class)


def _first_points(geometry) -> tuple[np.ndarray, np.ndarray]:
    """x, y of the first point of each LineString / LinearRing (nan for other geometries), as
    ``shapely.get_point(geometry, 0)`` gives them, from the coordinate array (no Point objects)."""
    fx, fy = np.full(len(geometry), np.nan), np.full(len(geometry), np.nan)
    line = np.flatnonzero(np.isin(shapely.get_type_id(geometry), (1, 2)))
    xy = shapely.get_coordinates(geometry[line])
    n = shapely.get_num_coordinates(geometry[line])
    has = n > 0
    start = (np.cumsum(n) - n)[has]
    fx[line[has]], fy[line[has]] = xy[start, 0], xy[start, 1]
    return fx, fy


def _n_distinct(a) -> int:
    """``np.unique(a).size`` for an integer array, by a sort (numpy 2.4's hashed unique is ~20x slower)."""
    s = np.sort(a)
    return int(len(s) and 1 + np.count_nonzero(s[1:] != s[:-1]))


def _in_equal_rows(*cols) -> np.ndarray:
    """True for each row of the integer columns that another row equals."""
    n = len(cols[0])
    order = np.lexsort(cols[::-1])
    same = np.ones(max(n - 1, 0), bool)
    for c in cols:
        sc = c[order]
        same &= sc[1:] == sc[:-1]
    dup = np.zeros(n, bool)
    dup[order[1:][same]] = True
    dup[order[:-1][same]] = True
    return dup


def _first_of_equal_rows(*cols) -> np.ndarray:
    """Positions (ascending) of the first of each group of equal rows of the integer columns:
    ``np.sort(np.unique(np.c_[cols], axis=0, return_index=True)[1])`` by a stable lexsort
    (np.unique's row sort is several times slower)."""
    n = len(cols[0])
    if n == 0:
        return np.zeros(0, np.int64)
    order = np.lexsort(cols[::-1])
    new = np.zeros(n, bool)
    new[0] = True
    for c in cols:
        sc = c[order]
        new[1:] |= sc[1:] != sc[:-1]
    return np.sort(order[new])


def road_class_values(values) -> np.ndarray:
    """OSM ``highway`` values as road classes: lower-case text, the first of a list (osmnx keeps
    a list, OSM a ';'-separated value for a way of several classes); None when missing."""
    out = np.full(len(values), None, dtype=object)
    for i, v in enumerate(values):
        if isinstance(v, (list, tuple)):
            v = v[0] if len(v) else None
        if v is None or (isinstance(v, float) and v != v):
            continue
        v = str(v).split(";")[0].strip().lower()
        out[i] = v or None
    return out


def from_gdfs(nodes, edges, crs, *, source="", id_col=None, u_col="u", v_col="v", name_col="name",
              class_col="highway"):
    """From node/edge GeoDataFrames (osmnx graph_to_gdfs or pyrosm get_network) in any CRS; the
    ``class_col`` column (OSM ``highway``) gives each edge's road class."""
    nodes = nodes.to_crs(crs)
    edges = edges.to_crs(crs)
    ids = nodes[id_col].to_numpy() if id_col else nodes.index.to_numpy()
    if isinstance(edges.index, pd.MultiIndex) and u_col not in edges.columns:
        edges = edges.reset_index()
    names = edges[name_col].astype(object).where(edges[name_col].notna(), None).to_numpy() \
        if name_col in edges.columns else None
    if names is not None:
        names = np.array([n if isinstance(n, str) or n is None else str(n) for n in names], dtype=object)
    classes = road_class_values(edges[class_col].to_numpy(dtype=object)) if class_col in edges.columns else None
    return from_edge_arrays(ids, shapely.get_x(nodes.geometry.values), shapely.get_y(nodes.geometry.values),
                            edges[u_col].to_numpy(), edges[v_col].to_numpy(), edges.geometry.values,
                            names, crs=crs, source=source, road_class=classes)


def from_networkx(G, crs, *, source=""):
    import osmnx as ox
    nodes, edges = ox.graph_to_gdfs(G, nodes=True, edges=True, fill_edge_geometry=True)
    nodes = nodes.copy()
    return from_gdfs(nodes, edges, crs, source=source)
