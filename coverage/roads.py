"""A county's own road centrelines (shapefile, GeoPackage ...) as a walking-network source.

Survey road layers (国土空间规划 / 基础测绘 centrelines) are drawn as line features that cross
and touch without shared vertices, with small gaps where two roads were meant to meet, and
with bridges drawn straight across the streets below. :func:`edges_from_lines` turns such a
layer into a noded walking graph (node coordinates + edges running u -> v with lengths in
metres); :func:`read_roads` reads the file with the right text encoding and CRS checks.

What is done, in order (all vectorised: shapely 2 / numpy / scipy, no loop over lines):

1. Features of a non-walkable class (``class_field`` in ``exclude_classes``) are dropped;
   missing or empty geometries, non-line geometries, non-finite coordinates and zero-length
   parts are dropped. Every dropped feature or part is listed in ``RoadGraph.excluded``
   with its reason. Multi-part lines are exploded; Z is ignored; repeated vertices removed.
2. Dangling ends (a line end that no other line end lies within ``tolerance_m`` of) that lie
   within ``tolerance_m`` of another line on the same level are moved onto that line, which
   is split there.
3. Lines are split where they cross or touch (STRtree pairs + vectorised intersection and
   ``line_locate_point``; the pieces are cut by coordinates in one pass). With a
   ``level_field`` (e.g. OSM ``layer``/``bridge``/``tunnel``, or a 桥梁/隧道 flag), two lines
   on different levels are joined only where an end of one of them meets the other (the
   ramp of a bridge), never where they merely cross, so a bridge is not a junction with the
   street below it. Lines with equal level values are joined wherever they cross.
4. Piece ends closer than ``tolerance_m`` on the same level (chained: a within tol of b, b of
   c) become one node at the mean of their positions; ends on different levels join only
   where they coincide, so a tunnel's end under a street corner is not a junction. The edge
   geometries are moved to end exactly on their nodes (``max_merge_shift_m`` in the report
   says how far at most). Pieces that collapse to a point this way are dropped (counted).

Choices worth knowing:

- Default excluded classes: motorways, expressways and ramps (高速公路, 快速路, 匝道,
  motorway, motorway_link ...), railways and roads not yet built. OSM ``trunk`` and
  Chinese 国道/省道 (national/provincial roads) are kept: through towns they usually have
  sidewalks. Pass ``exclude_classes`` to change this; matching is on the whole value after
  trimming, lower-casing and NFKC (full-width -> half-width), so numeric class codes of a
  local standard must be listed as they appear in the field.
- momepy (``close_gaps``, ``extend_lines``, ``remove_false_nodes``) and osmnx
  (``graph_from_gdfs``, ``consolidate_intersections``) were considered: none of them nodes
  crossing lines while keeping attributes and levels apart (momepy's tools assume lines that
  are already noded; osmnx expects a graph with ``u``/``v`` already given), so they would add
  a dependency without doing the hard part. shapely.node/union_all node everything and lose
  the feature attributes and levels.
- Self-crossings of a single line are not noded (a line that loops over itself is rare in
  centreline data and is usually a bridge/ramp).
"""

from __future__ import annotations

import codecs
import re
import time
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from coverage.errors import InputError

__all__ = ["RoadGraph", "edges_from_lines", "read_roads", "DEFAULT_EXCLUDE_CLASSES",
           "NULL_LEVEL_VALUES"]

#: Positions closer than this (metres) are the same point even with ``tolerance_m=0``.
EPS = 1e-6

#: Road classes that are not walkable, dropped when ``class_field`` is given and
#: ``exclude_classes`` is None. Chinese survey / plan values and OSM ``highway`` values.
DEFAULT_EXCLUDE_CLASSES = (
    # Chinese: expressways, urban expressways, ramps and interchanges, railways
    "高速公路", "高速", "高速路", "城市快速路", "快速路", "快速路主路", "高架快速路",
    "匝道", "高速匝道", "互通匝道", "互通立交匝道", "铁路", "高速铁路", "城际铁路", "轨道交通",
    # English / OSM highway=*
    "motorway", "motorway_link", "expressway", "freeway", "ramp",
    "construction", "proposed", "raceway", "bus_guideway", "busway", "railway",
)

#: Level values that mean "on the ground" (after trimming and lower-casing).
NULL_LEVEL_VALUES = frozenset({"", "0", "0.0", "no", "false", "f", "n", "none", "nan", "null",
                               "否", "无", "地面"})


@dataclass
class RoadGraph:
    """A noded walking graph built from road lines (one metric CRS, lengths in metres)."""

    node_x: np.ndarray            # float64, node easting
    node_y: np.ndarray            # float64, node northing
    edge_u: np.ndarray            # int64, start node of each edge
    edge_v: np.ndarray            # int64, end node of each edge
    edge_length: np.ndarray       # float64 metres, the length of edge_geometry
    edge_geometry: np.ndarray     # object array of LineStrings running u -> v
    edge_name: np.ndarray | None  # object array of the name_field value, or None
    crs: object                   # the pyproj CRS of the input
    report: dict                  # figures for the planner (see edges_from_lines)
    excluded: pd.DataFrame        # source, feature, reason, detail
    edge_feature: np.ndarray | None = field(default=None)  # input index label of each edge

    @property
    def n_nodes(self) -> int:
        return int(self.node_x.size)

    @property
    def n_edges(self) -> int:
        return int(self.edge_u.size)


# ----------------------------------------------------------------------------- reading


def read_roads(path, encoding: str | None = None, *, crs=None):
    """Read a road-centreline file (shapefile, GeoPackage, GeoJSON ...) into a GeoDataFrame.

    The text encoding comes from the shapefile's .cpg (or the DBF code page) unless
    ``encoding`` (e.g. "GBK", "GB18030", "UTF-8") overrides it. A shapefile without .prj
    raises InputError asking for ``network.crs`` unless ``crs`` is given; ``crs`` is used
    only when the file itself has none. The result keeps the file's CRS (not reprojected).
    """
    import pyogrio

    path = Path(path)
    if not path.exists():
        raise InputError("the road file does not exist", file=path, field="network.roads",
                         fix="check the path of network.roads in the study YAML (relative "
                             "paths are taken from the YAML's folder)")
    kwargs = {}
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InputError(f"unknown text encoding {encoding!r}", file=path,
                             field="network.encoding",
                             fix="use GBK or GB18030 for Chinese shapefiles from Windows "
                                 "GIS software, or UTF-8") from None
        kwargs["encoding"] = encoding
    is_shp = path.suffix.lower() == ".shp"
    if is_shp and crs is None and not _sibling(path, ".prj"):
        raise InputError(
            "the shapefile has no .prj file, so its coordinate system is unknown", file=path,
            field="network.crs",
            fix="set network.crs in the study YAML to the CRS the roads were drawn in (e.g. "
                "EPSG:4547 = CGCS2000 3-degree Gauss-Kruger CM 114E, EPSG:4490 = CGCS2000 "
                "lon/lat), or put the data provider's .prj beside the .shp")
    try:
        gdf = pyogrio.read_dataframe(path, **kwargs)
    except Exception as exc:  # pyogrio/GDAL errors differ by driver
        raise InputError(f"the road file cannot be read: {exc}", file=path,
                         field="network.roads",
                         fix="open it in QGIS to check it; export it as a shapefile or "
                             "GeoPackage if it is another format") from exc
    if gdf.crs is None:
        if crs is None:
            raise InputError("the road file has no coordinate reference system", file=path,
                             field="network.crs",
                             fix="set network.crs in the study YAML (e.g. EPSG:4547)")
        gdf = gdf.set_crs(crs)
    if is_shp and not encoding and not _sibling(path, ".cpg"):
        bad = _mojibake_columns(gdf)
        if bad:
            warnings.warn(
                f"{path}: no .cpg file and the text of field(s) {', '.join(bad)} looks "
                "mis-decoded; if the attribute names are Chinese, set network.encoding: GBK "
                "(or GB18030) in the study YAML", stacklevel=2)
    return gdf


def _sibling(path: Path, suffix: str) -> bool:
    return any(path.with_suffix(s).exists() for s in (suffix, suffix.upper()))


_LATIN1_PAIR = re.compile("[\u0080-\u00ff]{2}")


def _mojibake_columns(gdf) -> list[str]:
    """Text columns holding Latin-1 characters typical of GBK bytes read as ISO-8859-1."""
    out = [str(c) for c in gdf.columns if _LATIN1_PAIR.search(str(c))]
    for col in gdf.columns:
        if col == gdf.geometry.name or not (pd.api.types.is_object_dtype(gdf[col])
                                            or pd.api.types.is_string_dtype(gdf[col])):
            continue
        s = gdf[col].dropna().astype(str)
        if len(s) and s.str.contains("[\u0080-\u00ff]{2}", regex=True).any() \
                and str(col) not in out:
            out.append(str(col))
    return out


# ----------------------------------------------------------------------------- helpers


def _norm_text(series: pd.Series) -> pd.Series:
    """Values as comparable text: NFKC, trimmed, lower case; integral floats without '.0'."""
    s = series
    if pd.api.types.is_float_dtype(s):
        vals = s.to_numpy(dtype=float, na_value=np.nan)
        integral = np.isfinite(vals) & (np.floor(vals) == vals)
        txt = s.astype(object)
        txt[integral] = vals[integral].astype(np.int64).astype(str)
        s = txt
    s = s.astype("string")
    return s.str.normalize("NFKC").str.strip().str.lower().fillna("")


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


def _geometry_problems(geoms: np.ndarray) -> np.ndarray:
    """Reason per geometry ('' = fine) for whole features."""
    reason = np.full(len(geoms), "", dtype=object)
    missing = shapely.is_missing(geoms)
    reason[missing] = "empty geometry"
    empty = ~missing & shapely.is_empty(geoms)
    reason[empty] = "empty geometry"
    tid = shapely.get_type_id(geoms)
    liney = np.isin(tid, (1, 2, 5, 7))  # LineString, LinearRing, MultiLineString, collection
    bad = ~missing & ~empty & ~liney
    reason[bad] = "not a line"
    return reason


# ----------------------------------------------------------------------------- the builder


def edges_from_lines(gdf, *, tolerance_m: float = 1.0, class_field: str | None = None,
                     exclude_classes: Iterable[str] | None = None,
                     level_field: str | Sequence[str] | None = None,
                     name_field: str | None = None, source: str = "roads.shp",
                     min_component_m: float = 100.0) -> RoadGraph:
    """Build a noded walking graph from road centrelines in a metric CRS.

    ``tolerance_m``: node positions closer than this merge, and a dangling end this close to
    another line is joined to it. ``class_field``/``exclude_classes``: drop non-walkable
    classes (default :data:`DEFAULT_EXCLUDE_CLASSES`). ``level_field``: one field or a list
    of fields (e.g. ``["layer", "bridge", "tunnel"]``); lines whose values differ are joined
    only where an end of one meets the other. ``name_field`` fills ``edge_name``.
    ``min_component_m``: connected pieces shorter than this are counted as tiny.

    The report holds: input_features, parts, dropped (count by reason), nodes, edges,
    dangling_ends, components, tiny_components, tiny_component_length_m,
    total_length_m, largest_component_length_m, largest_component_share,
    snapped_dangling_ends, merged_node_groups, crossings_not_noded_levels,
    collapsed_pieces, self_loops, tolerance_m, seconds.
    """
    t_start = time.perf_counter()
    crs = getattr(gdf, "crs", None)
    if crs is None:
        raise InputError("the road layer has no coordinate reference system", file=source,
                         field="network.crs",
                         fix="set network.crs in the study YAML to the CRS the roads were "
                             "drawn in (e.g. EPSG:4547)")
    if crs.is_geographic or not crs.is_projected:
        raise InputError(f"the road layer is in {crs.name}, which is not in metres, so "
                         "lengths cannot be measured", file=source, field="network.crs",
                         fix="reproject the roads to a projected metric CRS (e.g. the "
                             "CGCS2000 3-degree Gauss-Kruger zone of the county, EPSG:4513-"
                             "4554, or UTM) before building the network")
    unit = (crs.axis_info[0].unit_name or "").lower() if crs.axis_info else "metre"
    if unit not in ("metre", "meter", "m"):
        raise InputError(f"the road layer's CRS {crs.name} is in {unit}, not metres",
                         file=source, field="network.crs",
                         fix="reproject the roads to a CRS in metres")
    try:
        tol = float(tolerance_m)
    except (TypeError, ValueError):
        tol = float("nan")
    if not np.isfinite(tol) or tol < 0:
        raise InputError(f"tolerance_m must be a number >= 0, got {tolerance_m!r}",
                         file=source, field="network.tolerance_m",
                         fix="use e.g. 1.0 (metres)")
    radius = max(tol, EPS)
    levels_fields = [] if level_field is None else (
        [level_field] if isinstance(level_field, str) else list(level_field))
    for key, fld in ([("network.class_field", class_field)] +
                     [("network.level_field", f) for f in levels_fields] +
                     [("network.name_field", name_field)]):
        if fld is not None and fld not in gdf.columns:
            cols = ", ".join(str(c) for c in gdf.columns if c != gdf.geometry.name)
            raise InputError(f"the road layer has no field {fld!r}", file=source, field=key,
                             fix=f"use one of its fields: {cols}")

    n_feat = len(gdf)
    labels = gdf.index.to_numpy()
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    excl_pos: list[np.ndarray] = []
    excl_reason: list[np.ndarray] = []
    excl_detail: list[np.ndarray] = []

    def exclude(pos, reason, detail):
        pos = np.asarray(pos, dtype=np.int64)
        if pos.size:
            excl_pos.append(pos)
            excl_reason.append(np.broadcast_to(np.asarray(reason, dtype=object), pos.shape))
            excl_detail.append(np.broadcast_to(np.asarray(detail, dtype=object), pos.shape))

    keep = np.ones(n_feat, dtype=bool)
    # 1a. road classes
    if class_field is not None:
        excl_set = set(_norm_text(pd.Series(list(
            DEFAULT_EXCLUDE_CLASSES if exclude_classes is None else exclude_classes),
            dtype=object)))
        cls = _norm_text(gdf[class_field]).to_numpy(dtype=object)
        hit = np.isin(cls, list(excl_set)) if excl_set else np.zeros(n_feat, bool)
        raw = gdf[class_field].astype(object).to_numpy()
        exclude(np.flatnonzero(hit), "excluded class",
                np.array([f"{class_field}={v}" for v in raw[hit]], dtype=object))
        keep &= ~hit
    # 1b. feature geometry
    greason = _geometry_problems(geoms)
    for r in ("empty geometry", "not a line"):
        bad = keep & (greason == r)
        tnames = shapely.get_type_id(geoms[bad]) if r == "not a line" else None
        exclude(np.flatnonzero(bad), r, "" if tnames is None else np.array(
            [shapely.GeometryType(t).name for t in tnames], dtype=object))
        keep &= ~bad
    # 1c. explode (twice: a collection may hold multi-lines); keep line parts only
    feat_pos = np.flatnonzero(keep)
    parts, pidx = shapely.get_parts(geoms[feat_pos], return_index=True)
    pfeat = feat_pos[pidx]
    parts, pidx = shapely.get_parts(parts, return_index=True)
    pfeat = pfeat[pidx]
    parts = shapely.force_2d(parts)
    ptid = shapely.get_type_id(parts)
    part_no = np.arange(len(pfeat)) - np.searchsorted(pfeat, pfeat)  # part number in feature
    nonline = ~np.isin(ptid, (1, 2))
    exclude(pfeat[nonline], "not a line", np.array(
        [f"part {k} is a {shapely.GeometryType(t).name}"
         for k, t in zip(part_no[nonline], ptid[nonline])], dtype=object))
    emptyp = ~nonline & shapely.is_empty(parts)
    exclude(pfeat[emptyp], "empty geometry",
            np.array([f"part {k}" for k in part_no[emptyp]], dtype=object))
    sel = ~nonline & ~emptyp
    parts, pfeat, part_no = parts[sel], pfeat[sel], part_no[sel]
    coords, vid = shapely.get_coordinates(parts, return_index=True)
    # non-finite coordinates
    finite = np.isfinite(coords).all(axis=1)
    badp = np.zeros(len(parts), bool)
    badp[vid[~finite]] = True
    exclude(pfeat[badp], "invalid geometry",
            np.array([f"part {k}: non-finite coordinates" for k in part_no[badp]], dtype=object))
    # repeated vertices, then parts with fewer than 2 distinct vertices (zero length)
    keepv = ~badp[vid]
    same = np.zeros(len(coords), bool)
    same[1:] = (vid[1:] == vid[:-1]) & (coords[1:] == coords[:-1]).all(axis=1)
    keepv &= ~same
    nv = np.bincount(vid[keepv], minlength=len(parts))
    zero = ~badp & (nv < 2)
    exclude(pfeat[zero], "zero length",
            np.array([f"part {k}" for k in part_no[zero]], dtype=object))
    okp = ~badp & ~zero
    keepv &= okp[vid]
    newid = np.cumsum(okp) - 1
    coords, vid = coords[keepv], newid[vid[keepv]]
    pfeat, part_no = pfeat[okp], part_no[okp]
    n_parts = len(pfeat)

    # level key per part
    if levels_fields:
        keyparts = []
        for f in levels_fields:
            t = _norm_text(gdf[f])
            t = t.where(~t.isin(NULL_LEVEL_VALUES), "")
            keyparts.append(t.to_numpy(dtype=object))
        key = keyparts[0].astype(str)
        for kp in keyparts[1:]:
            key = np.char.add(np.char.add(key, "|"), kp.astype(str))
        feat_level = pd.factorize(key)[0].astype(np.int64)
        plevel = feat_level[pfeat]
    else:
        plevel = np.zeros(n_parts, dtype=np.int64)

    counts = np.bincount(vid, minlength=n_parts)
    starts = np.cumsum(counts) - counts
    ends = starts + counts - 1

    # 2. dangling ends within tolerance of another line -> onto that line
    extra_part = np.zeros(0, np.int64)
    extra_pt = np.zeros((0, 2))
    n_snapped = 0
    if tol > 0 and n_parts:
        lines = shapely.linestrings(coords, indices=vid)
        ends_xy = np.vstack([coords[starts], coords[ends]])
        end_part = np.r_[np.arange(n_parts), np.arange(n_parts)]
        end_vertex = np.r_[starts, ends]
        lab = _clusters(ends_xy, radius, plevel[end_part])
        dangling = np.flatnonzero(np.bincount(lab)[lab] == 1)
        if dangling.size:
            pts = shapely.points(ends_xy[dangling])
            qi, qj = shapely.STRtree(lines).query(pts, predicate="dwithin", distance=tol)
            own = end_part[dangling[qi]]
            other = (qj != own) & (plevel[qj] == plevel[own])
            qi, qj = qi[other], qj[other]
            d = shapely.distance(pts[qi], lines[qj])
            order = np.lexsort((qj, d, qi))
            first = order[np.r_[True, qi[order][1:] != qi[order][:-1]]] if order.size else order
            qi, qj = qi[first], qj[first]
            along = shapely.line_locate_point(lines[qj], pts[qi])
            proj = shapely.get_coordinates(shapely.line_interpolate_point(lines[qj], along))
            moved = end_vertex[dangling[qi]]
            coords[moved] = proj
            n_snapped = int(qi.size)
            extra_part, extra_pt = qj.astype(np.int64), proj
            # a moved end can land exactly on its own neighbour vertex: drop repeated vertices
            # again (a zero-length segment would divide 0 by 0 when the part is cut), and
            # parts left with one distinct vertex
            same = np.zeros(len(coords), bool)
            same[1:] = (vid[1:] == vid[:-1]) & (coords[1:] == coords[:-1]).all(axis=1)
            coords, vid = coords[~same], vid[~same]
            zero = np.bincount(vid, minlength=n_parts) < 2
            if zero.any():
                exclude(pfeat[zero], "zero length",
                        np.array([f"part {k}: nothing left after its end was joined to a nearby line"
                                  for k in part_no[zero]], dtype=object))
                okp = ~zero
                newid = np.cumsum(okp) - 1
                keepv = okp[vid]
                coords, vid = coords[keepv], newid[vid[keepv]]
                pfeat, part_no, plevel = pfeat[okp], part_no[okp], plevel[okp]
                ok_extra = okp[extra_part]
                extra_part, extra_pt = newid[extra_part[ok_extra]], extra_pt[ok_extra]
                n_parts = len(pfeat)
            counts = np.bincount(vid, minlength=n_parts)
            starts = np.cumsum(counts) - counts
            ends = starts + counts - 1

    # 3. crossings and touches
    lines = shapely.linestrings(coords, indices=vid) if n_parts else np.zeros(0, object)
    tree = shapely.STRtree(lines)
    pi, pj = tree.query(lines, predicate="intersects")
    upper = pi < pj
    pi, pj = pi[upper], pj[upper]
    inter = shapely.intersection(lines[pi], lines[pj])
    ip, ipair = shapely.get_parts(inter, return_index=True)
    itype = shapely.get_type_id(ip)
    is_pt = itype == 0
    is_ln = itype == 1
    pxy = np.vstack([shapely.get_coordinates(ip[is_pt]),
                     shapely.get_coordinates(shapely.get_point(ip[is_ln], 0)),
                     shapely.get_coordinates(shapely.get_point(ip[is_ln], -1))])
    ppair = np.r_[ipair[is_pt], ipair[is_ln], ipair[is_ln]]
    a, b = pi[ppair], pj[ppair]
    n_not_noded = 0
    if levels_fields and a.size:
        diff = plevel[a] != plevel[b]
        if diff.any():
            dmin = np.full(a.size, np.inf)
            for part, vtx in ((a, starts), (a, ends), (b, starts), (b, ends)):
                dmin = np.minimum(dmin, np.hypot(*(pxy - coords[vtx[part]]).T))
            drop = diff & (dmin > EPS)
            n_not_noded = int(np.unique(pxy[drop], axis=0).shape[0])
            a, b, pxy = a[~drop], b[~drop], pxy[~drop]
    sp_part = np.r_[a, b, extra_part].astype(np.int64)
    sp_xy = np.vstack([pxy, pxy, extra_pt])
    sp_t = shapely.line_locate_point(lines[sp_part], shapely.points(sp_xy)) if sp_part.size \
        else np.zeros(0)

    # 4. cut every part at its split positions (by coordinates, in one pass)
    seg = np.zeros(len(coords))
    if len(coords) > 1:
        same_part = vid[1:] == vid[:-1]
        seg[1:] = np.where(same_part, np.hypot(*(coords[1:] - coords[:-1]).T), 0.0)
    cum = np.cumsum(seg)
    cumv = cum - cum[starts][vid]                       # distance along its part
    plen = cumv[ends]
    off = np.cumsum(plen + 1.0) - (plen + 1.0)           # parts laid end to end, 1 m apart
    gv = off[vid] + cumv
    sp_t = np.clip(sp_t, 0.0, plen[sp_part])
    sp_t = np.where(sp_t <= EPS, 0.0, sp_t)
    sp_t = np.where(plen[sp_part] - sp_t <= EPS, plen[sp_part], sp_t)
    pos_part = np.r_[np.arange(n_parts), np.arange(n_parts), sp_part]
    pos_t = np.r_[np.zeros(n_parts), plen, sp_t]
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

    def point_at(g, part):
        s = np.searchsorted(gv, g, side="right") - 1
        s = np.clip(s, starts[part], ends[part] - 1)
        step = seg[s + 1]
        f = np.clip(np.divide(g - gv[s], step, out=np.zeros(len(s)), where=step > 0), 0.0, 1.0)
        return coords[s] + f[:, None] * (coords[s + 1] - coords[s])

    p0 = point_at(g0, piece_part)
    p1 = point_at(g1, piece_part)
    lo = np.searchsorted(gv, g0 + EPS, side="right")
    hi = np.searchsorted(gv, g1 - EPS, side="left")
    inner = np.maximum(hi - lo, 0)
    ncoord = inner + 2
    n_pieces = len(piece_part)
    piece_of = np.repeat(np.arange(n_pieces), ncoord)
    local = np.arange(piece_of.size) - np.repeat(np.cumsum(ncoord) - ncoord, ncoord)
    is_first = local == 0
    is_last = local == np.repeat(ncoord - 1, ncoord)
    mid = ~is_first & ~is_last
    pc = np.empty((piece_of.size, 2))
    pc[mid] = coords[(np.repeat(lo, ncoord) + local - 1)[mid]]
    raw_len = pos_t[k0 + 1] - pos_t[k0]

    # 5. nodes: piece ends within tolerance -> one node at their mean position
    piece_level = plevel[piece_part].astype(float)
    ends_all = np.c_[np.vstack([p0, p1]), np.r_[piece_level, piece_level]]
    uniq, inv = np.unique(ends_all, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    lab = _clusters(uniq[:, :2], radius, uniq[:, 2])
    node_of_end = lab[inv]
    n_lab = int(lab.max()) + 1 if lab.size else 0
    # each distinct position counts once (a bridge end on a street: one position, 2 levels)
    upos = np.unique(np.c_[lab, uniq[:, :2]], axis=0)
    plab = upos[:, 0].astype(np.int64)
    npos = np.bincount(plab, minlength=n_lab)
    merged_groups = int((npos > 1).sum())
    nx_ = np.bincount(plab, weights=upos[:, 1], minlength=n_lab) / np.maximum(npos, 1)
    ny_ = np.bincount(plab, weights=upos[:, 2], minlength=n_lab) / np.maximum(npos, 1)
    # the widest merged group (chained merges can reach beyond tolerance_m)
    spread = np.hypot(upos[:, 1] - nx_[plab], upos[:, 2] - ny_[plab])
    max_spread = float(spread.max()) if spread.size else 0.0
    u = node_of_end[:n_pieces]
    v = node_of_end[n_pieces:]
    pc[is_first] = np.c_[nx_[u], ny_[u]]
    pc[is_last] = np.c_[nx_[v], ny_[v]]
    loop = u == v
    collapsed = loop & (raw_len <= 2 * radius)
    keep_e = ~collapsed
    geom = shapely.linestrings(pc, indices=piece_of) if n_pieces else np.zeros(0, object)
    geom, u, v, piece_part = geom[keep_e], u[keep_e], v[keep_e], piece_part[keep_e]
    used, remap = np.unique(np.r_[u, v], return_inverse=True)
    u, v = remap[:u.size].astype(np.int64), remap[u.size:].astype(np.int64)
    node_x, node_y = nx_[used].astype(np.float64), ny_[used].astype(np.float64)
    length = shapely.length(geom).astype(np.float64)
    n_nodes = node_x.size
    edge_feat_pos = pfeat[piece_part]
    edge_name = (gdf[name_field].astype(object).to_numpy()[edge_feat_pos]
                 if name_field is not None else None)

    # 6. report
    deg = np.bincount(np.r_[u, v], minlength=n_nodes)
    if n_nodes:
        g = coo_array((np.ones(u.size), (u, v)), shape=(n_nodes, n_nodes))
        n_comp, comp = connected_components(g, directed=False)
        comp_len = np.bincount(comp[u], weights=length, minlength=n_comp)
    else:
        n_comp, comp_len = 0, np.zeros(0)
    total = float(length.sum())
    tiny = comp_len < float(min_component_m)
    if excl_pos:
        excluded = pd.DataFrame({
            "source": source,
            "feature": labels[np.concatenate(excl_pos)],
            "reason": np.concatenate(excl_reason).astype(object),
            "detail": np.concatenate(excl_detail).astype(object),
        }).sort_values(["reason", "feature"], kind="stable").reset_index(drop=True)
    else:
        excluded = pd.DataFrame({"source": pd.Series(dtype=object),
                                 "feature": pd.Series(dtype=object),
                                 "reason": pd.Series(dtype=object),
                                 "detail": pd.Series(dtype=object)})
    report = {
        "source": source,
        "input_features": int(n_feat),
        "parts": int(n_parts),
        "dropped": {str(k): int(c) for k, c in excluded["reason"].value_counts()
                    .sort_index().items()},
        "nodes": int(n_nodes),
        "edges": int(u.size),
        "dangling_ends": int((deg == 1).sum()),
        "components": int(n_comp),
        "tiny_components": int(tiny.sum()),
        "tiny_component_length_m": float(comp_len[tiny].sum()),
        "min_component_m": float(min_component_m),
        "total_length_m": total,
        "largest_component_length_m": float(comp_len.max()) if n_comp else 0.0,
        "largest_component_share": float(comp_len.max() / total) if total > 0 else 0.0,
        "snapped_dangling_ends": n_snapped,
        "merged_node_groups": merged_groups,
        "max_merge_shift_m": max_spread,
        "crossings_not_noded_levels": n_not_noded,
        "collapsed_pieces": int(collapsed.sum()),
        "self_loops": int((u == v).sum()),
        "tolerance_m": tol,
        "seconds": round(time.perf_counter() - t_start, 3),
    }
    return RoadGraph(node_x=node_x, node_y=node_y, edge_u=u, edge_v=v, edge_length=length,
                     edge_geometry=np.asarray(geom, dtype=object), edge_name=edge_name,
                     crs=crs, report=report, excluded=excluded,
                     edge_feature=labels[edge_feat_pos])
