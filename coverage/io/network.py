"""Reading walking networks from files: OSM (.osm.pbf through pyrosm, OSM XML through pyosmium,
an osmnx download when online), osmnx GraphML, and a county's road centreline layer. One
walkable-way filter serves every OSM source; GraphML and road layers are taken as given (road
classes can be excluded)."""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from ..core.network import WalkNetwork, from_edge_arrays, from_gdfs, from_networkx, road_class_values
from ..errors import InputError
from .network_files import _check_kind


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
    return _lower_strip(col.astype(object))


def _one_value(v):
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip().lower()


def _per_distinct(vals: pd.Series, fn, out: np.ndarray):
    """``out`` with ``fn`` of each value where not missing, worked out once per distinct value (a tag
    column holds a few values over many ways); None when a value is not text or None/NaN."""
    arr = vals.to_numpy(dtype=object)
    miss = pd.isna(arr)
    text = arr[~miss]
    if set(map(type, text)) - {str} or set(map(type, arr[miss])) - {type(None), float, np.float64}:
        return None
    if len(text):
        codes, uniques = pd.factorize(text)
        out[~miss] = np.array([fn(u) for u in uniques], dtype=out.dtype)[codes]
    return out


def _lower_strip(col: pd.Series) -> pd.Series:
    """``col.map(_one_value)``."""
    out = _per_distinct(col, lambda u: u.strip().lower(), np.full(len(col), None, dtype=object))
    if out is None:
        return col.map(_one_value)          # other kinds of value (numbers, pd.NA): one by one
    return pd.Series(out, index=col.index).__finalize__(col, method="map")   # dtype inferred as map does


def _any_value(vals: pd.Series, values) -> np.ndarray:
    """Whether a tag value, or one of its ';'-separated values, is in ``values``."""
    out = _per_distinct(vals, lambda u: any(p.strip() in values for p in u.split(";")),
                        np.zeros(len(vals), dtype=bool))
    if out is not None:
        return out
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
    from ..core.crs import transformer
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
    tr = transformer("EPSG:4326", crs)
    x, y = tr.transform(lons, lats)
    geom = shapely.linestrings(np.stack([np.c_[x[a], y[a]], np.c_[x[a + 1], y[a + 1]]], axis=1))
    node_ids, first = np.unique(refs[np.r_[a, a + 1]], return_index=True)
    pos = np.r_[a, a + 1][first]
    names = ways["name"].to_numpy(dtype=object)[way_of[a]] if "name" in ways else None
    if names is not None:
        names = np.array([n if isinstance(n, str) else None for n in names], dtype=object)
    classes = road_class_values(ways["highway"].to_numpy(dtype=object)[way_of[a]])
    net = from_edge_arrays(node_ids, x[pos], y[pos], refs[a], refs[a + 1], geom, names, crs=crs,
                           source=str(path), road_class=classes)
    net.report["osm_ways_not_walkable"] = int((~walk).sum())
    return net


_PBF_READS: dict = {}   # pyrosm's reads of small extracts: (path, content, box) -> (nodes, edges)


def _pbf_ways(path: Path, bbox):
    """pyrosm's (nodes, edges) of every highway way with the filter's tags (walkable_mask then
    selects, as for XML). An extract under 8 MB read again in the same process with the same box
    (the tests read the sample many times) is parsed once: each caller gets copies of that read."""
    from pyrosm import OSM
    key = ((str(path), hashlib.sha256(path.read_bytes()).hexdigest(), None if bbox is None else tuple(bbox))
           if path.stat().st_size <= 8_000_000 else None)
    read = _PBF_READS.get(key)
    if read is None:
        # no progress bar or 'Reading ... took' line of pyrosm's own: the run prints its steps
        quiet = {"progress": False} if "progress" in inspect.signature(OSM).parameters else {}
        osm = OSM(str(path), bounding_box=bbox, **quiet) if bbox else OSM(str(path), **quiet)
        nodes, edges = osm.get_network(network_type="all", nodes=True,
                                       extra_attributes=[t for t in WALK_FILTER_TAGS if t != "highway"])
        read = (nodes, edges)
        if key is not None:
            if len(_PBF_READS) >= 4:
                _PBF_READS.clear()
            _PBF_READS[key] = read
    return tuple(None if f is None else f.copy() for f in read)


def load_network(source: str, path, *, crs, area_wgs84=None, roads_options=None,
                 config_file="study.yaml") -> WalkNetwork:
    """Read a walking network. ``source``: pbf | osm | graphml | roads | download."""
    path = None if path is None else Path(path)
    if source != "download" and (path is None or not path.exists()):
        raise InputError(f"network file not found: {path}", file=config_file, field="network.path",
                         fix="give the path of an .osm.pbf, .osm, .graphml or road shapefile, relative to the YAML file")
    if source != "download":
        _check_kind(source, path)
    if source == "pbf":
        bbox = list(area_wgs84.bounds) if area_wgs84 is not None else None
        try:
            nodes, edges = _pbf_ways(path, bbox)
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
        from ..core.roads import edges_from_lines
        from .roads import read_roads
        opts = dict(roads_options or {})
        gdf = read_roads(path, opts.pop("encoding", None), crs=opts.pop("crs", None)).to_crs(crs)
        class_map = opts.pop("class_map", None)
        rg = edges_from_lines(gdf, source=str(path), **opts)
        classes = None
        if rg.edge_class is not None:
            from ..core.modes import map_road_classes
            classes = map_road_classes(rg.edge_class, class_map)
        net = from_edge_arrays(np.arange(rg.n_nodes), rg.node_x, rg.node_y, rg.edge_u, rg.edge_v,
                               rg.edge_geometry, rg.edge_name, crs=crs, length=rg.edge_length,
                               source=str(path), road_class=classes)
        net.report.update({f"roads_{k}": v for k, v in rg.report.items() if np.isscalar(v)})
        net.report["roads_excluded"] = rg.excluded
        return net
    raise InputError(f"unknown network source {source!r}", file=config_file, field="network.source",
                     fix="use one of: pbf, osm, graphml, roads, download")
