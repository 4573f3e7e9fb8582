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
                           self.source, report)


def from_edge_arrays(node_id, node_x, node_y, u_id, v_id, geometry=None, name=None, *, crs,
                     length=None, source="") -> WalkNetwork:
    """Build from node ids/coordinates (metric CRS) and edges given by node ids.

    Edge geometry (LineStrings in the same CRS) is oriented to run from u to v; missing
    geometry becomes a straight line. Lengths are the geometry's length in metres unless given.

    Every distinct road is kept: a longer road between the same two junctions as a shorter one
    (a parallel road) and a road that returns to its own junction (a loop) are places where
    people live and snap to. Only an exact duplicate of the same line (the reverse twin that
    osmnx makes for a two-way street) is dropped. The routing matrix (:meth:`WalkNetwork.csr`)
    keeps the shortest edge between two junctions; a point inserted into a longer parallel road
    or a loop splits that road, so its walk is exact."""
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
    loop = u == v
    # a loop needs a real line to be a road; a zero-length "loop" is a mapping artefact
    keep = known & np.isfinite(length) & ~(loop & ~(length > 0))
    report = {"edges_in": int(n_e), "edges_unknown_node": int((~known).sum()),
              "degenerate_loops_dropped": int((known & loop & ~(length > 0)).sum())}
    u, v, length, geometry, name = u[keep], v[keep], length[keep], geometry[keep], name[keep]
    # exact duplicates: same junction pair and the same line (either direction)
    a, b = np.minimum(u, v), np.maximum(u, v)
    key = shapely.to_wkb(shapely.normalize(geometry))
    mm = np.round(length * 1000.0).astype(np.int64)
    _, first_of = np.unique(np.c_[a, b, mm, pd.factorize(key)[0]], axis=0, return_index=True)
    sel = np.sort(first_of)
    report["duplicate_edges_dropped"] = int(len(u) - len(sel))
    u, v, length, geometry, name = u[sel], v[sel], length[sel], geometry[sel], name[sel]
    a, b = np.minimum(u, v), np.maximum(u, v)
    pair = np.unique(np.c_[a, b][u != v], axis=0)
    report["loops_kept"] = int((u == v).sum())
    report["parallel_edges_kept"] = int((u != v).sum() - len(pair))
    # nodes that no kept edge uses (nodes of walls or buildings in an OSM file) are dropped
    used = np.zeros(len(node_x), dtype=bool)
    used[u] = True
    used[v] = True
    report["unused_nodes_dropped"] = int((~used).sum())
    new_index = np.cumsum(used) - 1
    return WalkNetwork(crs, node_id[used], node_x[used], node_y[used], new_index[u].astype(np.int64),
                       new_index[v].astype(np.int64), length, geometry, name, source, report)


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


#: OSM tags the walkable-way filter reads (osmnx's ``walk`` network filter, with OSM's access
#: hierarchy as pyrosm applies it). One filter for every OSM source: pbf, XML and download.
WALK_FILTER_TAGS = ("highway", "area", "access", "foot", "service", "sidewalk", "sidewalk:both",
                    "sidewalk:left", "sidewalk:right")
#: highway values that are not walkable ways (osmnx ``walk``: abandoned|bus_guideway|construction|
#: cycleway|motor|no|planned|platform|proposed|raceway|razed|rest_area|services)
WALK_EXCLUDED_HIGHWAY = frozenset({"abandoned", "bus_guideway", "construction", "cycleway", "motor",
                                   "motorway", "motorway_link", "no", "planned", "platform",
                                   "proposed", "raceway", "razed", "rest_area", "services"})
_CLOSED = frozenset({"no", "private"})


def _tag_values(df, key) -> pd.Series:
    """Lower-cased values of an OSM tag: its column, else the JSON ``tags`` column pyrosm keeps for
    the others (missing = NaN). Only rows whose JSON mentions the key are parsed."""
    if key in df.columns:
        col = df[key]
    else:
        col = pd.Series(np.nan, index=df.index, dtype=object)
        if "tags" in df.columns:
            import json
            raw = df["tags"]
            has = raw.notna() & raw.astype(str).str.contains(f'"{key}"', regex=False)
            for i in np.flatnonzero(has.to_numpy()):  # only the few rows carrying the key
                t = raw.iloc[i]
                t = json.loads(t) if isinstance(t, str) else t
                if isinstance(t, dict) and key in t:
                    col.iloc[i] = t[key]
    col = col.astype(object)
    return col.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v))
                   else str(v).strip().lower())


def _any_value(vals: pd.Series, values) -> np.ndarray:
    """Whether a tag value, or one of its ';'-separated values, is in ``values``."""
    vals = pd.Series(vals.to_numpy(dtype=object))  # positional index (osmnx edges carry u, v, key)
    ex = vals.dropna().str.split(";").explode().str.strip()
    hit = ex.isin(list(values)).groupby(level=0).any()
    return hit.reindex(vals.index, fill_value=False).to_numpy()


def walkable_mask(ways) -> np.ndarray:
    """Which OSM ways are walkable: the one filter for pbf, XML and download sources.

    A way is walkable when it has a ``highway`` tag that is not in
    :data:`WALK_EXCLUDED_HIGHWAY` (motorways, cycleways, construction, platforms, ...), is not an
    area (``area=yes``), is not closed to walkers (the most specific of ``foot`` and ``access``
    decides: ``no``/``private`` close it, so ``access=no`` + ``foot=yes`` stays), is not a
    ``service=private`` road, and has no sidewalk mapped as a separate way (``sidewalk*=separate``:
    the separate footway is the walk). Building outlines, walls, fences, land-use edges and
    railways have no ``highway`` tag and are never walkways. Works on a frame of tag columns
    (osmnx edges, pyrosm ways with their JSON ``tags``)."""
    if "highway" not in ways.columns:
        return np.zeros(len(ways), dtype=bool)
    hw = _tag_values(ways, "highway")
    ok = hw.notna().to_numpy() & (hw.fillna("") != "").to_numpy()
    ok &= ~_any_value(hw, WALK_EXCLUDED_HIGHWAY)
    ok &= ~_any_value(_tag_values(ways, "area"), {"yes"})
    foot, access = _tag_values(ways, "foot"), _tag_values(ways, "access")
    decider = foot.where(foot.notna(), access)
    ok &= ~_any_value(decider, _CLOSED)
    ok &= ~_any_value(_tag_values(ways, "service"), {"private"})
    for key in ("sidewalk", "sidewalk:both", "sidewalk:left", "sidewalk:right"):
        ok &= ~_any_value(_tag_values(ways, key), {"separate"})
    return ok


def from_networkx(G, crs, *, source=""):
    import osmnx as ox
    nodes, edges = ox.graph_to_gdfs(G, nodes=True, edges=True, fill_edge_geometry=True)
    nodes = nodes.copy()
    return from_gdfs(nodes, edges, crs, source=source)


def _from_osm_graph(G, crs, source):
    import osmnx as ox
    if G.number_of_edges() == 0:
        raise InputError("the OSM data has no ways", file=source, field="network.path",
                         fix="export the streets of the study area (an .osm file with <way> elements)")
    nodes, edges = ox.graph_to_gdfs(G, nodes=True, edges=True, fill_edge_geometry=True)
    walk = walkable_mask(edges)
    if not walk.any():
        raise InputError("no walkable ways in the OSM data", file=source, field="network.path",
                         fix="check that the file holds streets (ways tagged highway=...)")
    net = from_gdfs(nodes, edges[walk], crs, source=source)
    net.report["osm_ways_not_walkable"] = int((~walk).sum())
    return net


def _from_osm_file(path, crs) -> WalkNetwork:
    """An OSM XML file (.osm, .osm.gz, .osm.bz2; any format libosmium reads) through pyosmium.

    Ways are cut into one edge per pair of consecutive nodes, as pyrosm does for a .pbf, and
    :func:`walkable_mask` selects the walkable ones, so the two sources give the same network.
    A way running out of a clipped extract (nodes missing from the file) keeps its parts whose
    nodes are present."""
    import osmium
    from pyproj import Transformer
    ids, tags, refs, lons, lats, way_of = [], [], [], [], [], []
    try:
        fp = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations()
        for obj in fp:
            if not obj.is_way():
                continue
            t = {k: v for k, v in obj.tags}
            if "highway" not in t:      # walls, buildings, land use, railways: never walkways
                continue
            k = len(ids)
            ids.append(obj.id)
            tags.append(t)
            for n in obj.nodes:
                ok = n.location.valid()
                refs.append(n.ref)
                lons.append(n.location.lon if ok else np.nan)
                lats.append(n.location.lat if ok else np.nan)
                way_of.append(k)
    except Exception as exc:
        raise InputError(f"cannot read the OSM file ({type(exc).__name__}: {exc})", file=str(path),
                         field="network.path",
                         fix="give an OpenStreetMap XML file (.osm) exported from openstreetmap.org, JOSM or "
                             "Overpass, or set network.source to the file's format (pbf, graphml, roads)")
    if not ids:
        raise InputError("no streets in the OSM file (no way is tagged highway=...)", file=str(path),
                         field="network.path", fix="export the streets of the study area, not only buildings or "
                                                   "land use; check that the file is not empty")
    ways = pd.DataFrame(tags)
    walk = walkable_mask(ways)
    refs = np.asarray(refs, dtype=np.int64)
    lons, lats = np.asarray(lons), np.asarray(lats)
    way_of = np.asarray(way_of)
    # consecutive node pairs of the same walkable way, both nodes present in the file
    pair = (way_of[1:] == way_of[:-1]) & walk[way_of[:-1]] & np.isfinite(lons[1:]) & np.isfinite(lons[:-1])
    a = np.flatnonzero(pair)
    tr = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = tr.transform(lons, lats)
    geom = shapely.linestrings(np.stack([np.c_[x[a], y[a]], np.c_[x[a + 1], y[a + 1]]], axis=1))
    node_ids, first = np.unique(refs[np.r_[a, a + 1]], return_index=True)
    pos = np.r_[a, a + 1][first]
    names = ways["name"].to_numpy(dtype=object)[way_of[a]] if "name" in ways else None
    if names is not None:
        names = np.array([n if isinstance(n, str) else None for n in names], dtype=object)
    net = from_edge_arrays(node_ids, x[pos], y[pos], refs[a], refs[a + 1], geom, names, crs=crs,
                           source=str(path))
    net.report["osm_ways_not_walkable"] = int((~walk).sum())
    return net


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
        try:
            osm = OSM(str(path), bounding_box=bbox) if bbox else OSM(str(path))
            # every highway way with the filter's tags; walkable_mask then selects, as for XML
            nodes, edges = osm.get_network(network_type="all", nodes=True,
                                           extra_attributes=[t for t in WALK_FILTER_TAGS if t != "highway"])
        except Exception as exc:
            raise InputError(f"cannot read the OSM extract ({type(exc).__name__}: {exc})", file=str(path),
                             field="network.path",
                             fix="give a complete .osm.pbf file (a download that stopped early is truncated; "
                                 "download it again), or set network.source to match the file's format")
        if edges is None or len(edges) == 0:
            raise InputError("no walkable ways in the OSM extract (inside the study area)", file=str(path),
                             field="network.path", fix="check the extract covers the study area")
        walk = walkable_mask(edges)
        # highway ways the walk filter leaves out (as for an XML file)
        report = {"osm_ways_not_walkable": int(edges["id"][~walk].nunique()) if "id" in edges else int((~walk).sum())}
        edges = edges[walk].explode(index_parts=False)
        if len(edges) == 0:
            raise InputError("no walkable ways in the OSM extract (inside the study area)", file=str(path),
                             field="network.path", fix="check the extract covers the study area")
        net = from_gdfs(nodes, edges, crs, source=str(path), id_col="id")
        net.report.update(report)
        return net
    if source == "graphml":
        import osmnx as ox
        try:
            G = ox.load_graphml(path)
        except Exception as exc:
            raise InputError(f"cannot read the GraphML network ({type(exc).__name__}: {exc})", file=str(path),
                             field="network.path", fix="check that the file is a GraphML file saved by osmnx "
                                                       "(ox.save_graphml) or set network.source to its format")
        return from_networkx(G, crs, source=str(path))
    if source == "osm":
        return _from_osm_file(path, crs)
    if source == "download":
        import osmnx as ox
        keep_tags = list(ox.settings.useful_tags_way)
        ox.settings.useful_tags_way = sorted(set(keep_tags) | set(WALK_FILTER_TAGS))
        try:
            G = ox.graph_from_polygon(area_wgs84, network_type="walk", simplify=False, retain_all=True)
        finally:
            ox.settings.useful_tags_way = keep_tags
        return _from_osm_graph(G, crs, "osmnx download")
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
