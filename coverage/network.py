"""The walking network as arrays: node coordinates, undirected edges with lengths in metres and
their geometry, and a symmetric CSR matrix for scipy.sparse.csgraph. networkx/osmnx/pyrosm build
and read; they never compute here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

from .errors import InputError


def symmetric_csr_min(u, v, w, n: int) -> sp.csr_array:
    """Symmetric CSR of an undirected edge list keeping the SHORTEST of duplicate edges.

    ``csr_array((w, (u, v)))`` would ADD parallel edges together (see DESIGN.md); explicit zero
    weights are kept (a zero-length edge is still an edge for csgraph)."""
    u = np.asarray(u, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    w = np.asarray(w, dtype=np.float64)
    a = np.concatenate([u, v])
    b = np.concatenate([v, u])
    ww = np.concatenate([w, w])
    keep = a != b
    a, b, ww = a[keep], b[keep], ww[keep]
    order = np.lexsort((ww, b, a))
    a, b, ww = a[order], b[order], ww[order]
    first = np.ones(len(a), dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    a, b, ww = a[first], b[first], ww[first]
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
                                 "name": self.edge_name}, geometry=self.edge_geometry, crs=self.crs)

    def clip(self, polygon) -> "WalkNetwork":
        """Keep edges with both ends inside ``polygon`` (the study area plus its buffer)."""
        inside = shapely.contains_xy(polygon, self.node_x, self.node_y)
        keep = inside[self.edge_u] & inside[self.edge_v]
        used = np.zeros(self.n_nodes, dtype=bool)
        used[self.edge_u[keep]] = True
        used[self.edge_v[keep]] = True
        new_index = np.full(self.n_nodes, -1, dtype=np.int64)
        new_index[used] = np.arange(used.sum())
        report = dict(self.report)
        report.update(clip_nodes_dropped=int(self.n_nodes - used.sum()),
                      clip_edges_dropped=int((~keep).sum()))
        return WalkNetwork(self.crs, self.node_id[used], self.node_x[used], self.node_y[used],
                           new_index[self.edge_u[keep]], new_index[self.edge_v[keep]],
                           self.edge_length[keep], self.edge_geometry[keep], self.edge_name[keep],
                           self.source, report)


def from_edge_arrays(node_id, node_x, node_y, u_id, v_id, geometry=None, name=None, *, crs,
                     length=None, source="") -> WalkNetwork:
    """Build from node ids/coordinates (metric CRS) and edges given by node ids.

    Edge geometry (LineStrings in the same CRS) is oriented to run from u to v; missing
    geometry becomes a straight line. Lengths are the geometry's length in metres unless given.
    Self-loops are dropped; of parallel edges between the same pair the shortest is kept."""
    node_id = np.asarray(node_id)
    node_x = np.asarray(node_x, dtype=np.float64)
    node_y = np.asarray(node_y, dtype=np.float64)
    order = np.argsort(node_id, kind="stable")
    sorted_ids = node_id[order]
    u_id = np.asarray(u_id)
    v_id = np.asarray(v_id)
    pu = np.searchsorted(sorted_ids, u_id)
    pv = np.searchsorted(sorted_ids, v_id)
    pu_c = np.clip(pu, 0, len(sorted_ids) - 1)
    pv_c = np.clip(pv, 0, len(sorted_ids) - 1)
    known = (sorted_ids[pu_c] == u_id) & (sorted_ids[pv_c] == v_id)
    u = order[pu_c]
    v = order[pv_c]
    n_e = len(u_id)
    if geometry is None:
        geometry = np.full(n_e, None, dtype=object)
    geometry = np.asarray(geometry, dtype=object)
    if name is None:
        name = np.full(n_e, None, dtype=object)
    name = np.asarray(name, dtype=object)
    missing = shapely.is_missing(geometry) | shapely.is_empty(geometry)
    if missing.any():
        coords = np.stack([np.c_[node_x[u[missing]], node_y[u[missing]]],
                           np.c_[node_x[v[missing]], node_y[v[missing]]]], axis=1)
        geometry[missing] = shapely.linestrings(coords)
    # orient u -> v: reverse lines whose first point is nearer v than u
    first = shapely.get_point(geometry, 0)
    fx, fy = shapely.get_x(first), shapely.get_y(first)
    du = np.hypot(fx - node_x[u], fy - node_y[u])
    dv = np.hypot(fx - node_x[v], fy - node_y[v])
    flip = dv < du
    if flip.any():
        geometry[flip] = shapely.reverse(geometry[flip])
    if length is None:
        length = shapely.length(geometry)
    length = np.asarray(length, dtype=np.float64)
    keep = known & (u != v) & np.isfinite(length)
    report = {"edges_in": int(n_e), "edges_unknown_node": int((~known).sum()),
              "self_loops_dropped": int((known & (u == v)).sum())}
    u, v, length, geometry, name = u[keep], v[keep], length[keep], geometry[keep], name[keep]
    # keep the shortest of parallel edges (undirected pair key)
    a, b = np.minimum(u, v), np.maximum(u, v)
    order_e = np.lexsort((length, b, a))
    first_e = np.ones(len(order_e), dtype=bool)
    first_e[1:] = (a[order_e][1:] != a[order_e][:-1]) | (b[order_e][1:] != b[order_e][:-1])
    sel = np.sort(order_e[first_e])
    report["parallel_edges_dropped"] = int(len(order_e) - len(sel))
    return WalkNetwork(crs, node_id, node_x, node_y, u[sel].astype(np.int64), v[sel].astype(np.int64),
                       length[sel], geometry[sel], name[sel], source, report)


def from_gdfs(nodes, edges, crs, *, source="", id_col=None, u_col="u", v_col="v", name_col="name"):
    """From node/edge GeoDataFrames (osmnx graph_to_gdfs or pyrosm get_network) in any CRS."""
    nodes = nodes.to_crs(crs)
    edges = edges.to_crs(crs)
    ids = nodes[id_col].to_numpy() if id_col else nodes.index.to_numpy()
    if isinstance(edges.index, pd.MultiIndex) and u_col not in edges.columns:
        edges = edges.reset_index()
    names = edges[name_col].astype(object).where(edges[name_col].notna(), None).to_numpy() \
        if name_col in edges.columns else None
    if names is not None:
        names = np.array([n if isinstance(n, str) or n is None else str(n) for n in names], dtype=object)
    return from_edge_arrays(ids, shapely.get_x(nodes.geometry.values), shapely.get_y(nodes.geometry.values),
                            edges[u_col].to_numpy(), edges[v_col].to_numpy(), edges.geometry.values,
                            names, crs=crs, source=source)


def from_networkx(G, crs, *, source=""):
    import osmnx as ox
    nodes, edges = ox.graph_to_gdfs(G, nodes=True, edges=True, fill_edge_geometry=True)
    nodes = nodes.copy()
    return from_gdfs(nodes, edges, crs, source=source)


def load_network(source: str, path, *, crs, area_wgs84=None, roads_options=None,
                 config_file="study.yaml") -> WalkNetwork:
    """Read a walking network. ``source``: pbf | osm | graphml | roads | download."""
    path = None if path is None else Path(path)
    if source != "download" and (path is None or not path.exists()):
        raise InputError(f"network file not found: {path}", file=config_file, field="network.path",
                         fix="give the path of an .osm.pbf, .osm, .graphml or road shapefile, relative to the YAML file")
    if source == "pbf":
        from pyrosm import OSM
        bbox = list(area_wgs84.bounds) if area_wgs84 is not None else None
        osm = OSM(str(path), bounding_box=bbox) if bbox else OSM(str(path))
        nodes, edges = osm.get_network(network_type="walking", nodes=True)
        if edges is None or len(edges) == 0:
            raise InputError("no walkable ways in the OSM extract (inside the study area)", file=str(path),
                             field="network.path", fix="check the extract covers the study area")
        edges = edges.explode(index_parts=False)
        return from_gdfs(nodes, edges, crs, source=str(path), id_col="id")
    if source in ("osm", "graphml"):
        import osmnx as ox
        try:
            G = ox.load_graphml(path) if source == "graphml" else ox.graph_from_xml(path, simplify=True)
        except Exception as exc:
            raise InputError(f"cannot read the network ({exc})", file=str(path), field="network.path",
                             fix=f"check that the file is a valid {source} file")
        return from_networkx(G, crs, source=str(path))
    if source == "download":
        import osmnx as ox
        G = ox.graph_from_polygon(area_wgs84, network_type="walk")
        return from_networkx(G, crs, source="osmnx download")
    if source == "roads":
        from .roads import edges_from_lines, read_roads
        opts = dict(roads_options or {})
        gdf = read_roads(path, opts.pop("encoding", None), crs=opts.pop("crs", None)).to_crs(crs)
        rg = edges_from_lines(gdf, source=str(path), **opts)
        net = from_edge_arrays(np.arange(rg.n_nodes), rg.node_x, rg.node_y, rg.edge_u, rg.edge_v,
                               rg.edge_geometry, rg.edge_name, crs=crs, length=rg.edge_length,
                               source=str(path))
        net.report.update({f"roads_{k}": v for k, v in rg.report.items() if np.isscalar(v)})
        net.report["roads_excluded"] = rg.excluded
        return net
    raise InputError(f"unknown network source {source!r}", file=config_file, field="network.source",
                     fix="use one of: pbf, osm, graphml, roads, download")
