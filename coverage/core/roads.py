"""A county's own road centrelines (shapefile, GeoPackage ...) as a walking-network source.

Survey road layers (国土空间规划 / 基础测绘 centrelines) are drawn as line features that cross
and touch without shared vertices, with small gaps where two roads were meant to meet, and
with bridges drawn straight across the streets below. :func:`edges_from_lines` turns such a
layer into a noded walking graph (node coordinates + edges running u -> v with lengths in
metres); :func:`coverage.io.roads.read_roads` reads the file with the right text encoding and CRS checks.

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

import time
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from coverage.errors import InputError

from .noding import (  # noqa: F401
    EPS,
    _build_edges,
    _clusters,
    _cut_pieces,
    _Excluded,
    _explode,
    _merge_nodes,
    _Parts,
    _snap_dangling_ends,
    _split_positions,
)

__all__ = ["RoadGraph", "edges_from_lines", "DEFAULT_EXCLUDE_CLASSES", "NULL_LEVEL_VALUES"]


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
    edge_class: np.ndarray | None = field(default=None)    # class_field value of each edge (raw)

    @property
    def n_nodes(self) -> int:
        return int(self.node_x.size)

    @property
    def n_edges(self) -> int:
        return int(self.edge_u.size)


# ----------------------------------------------------------------------------- helpers


def _norm_text(series: pd.Series) -> pd.Series:
    """Values as comparable text: NFKC, trimmed, lower case; integral floats without '.0'.

    The Unicode work is done once per distinct text (a road layer has a few dozen classes on
    100,000s of lines), then spread back."""
    s = series
    if pd.api.types.is_float_dtype(s):
        vals = s.to_numpy(dtype=float, na_value=np.nan)
        integral = np.isfinite(vals) & (np.floor(vals) == vals)
        txt = s.astype(object)
        txt[integral] = vals[integral].astype(np.int64).astype(str)
        s = txt
    s = s.astype("string")
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    norm = pd.Series(uniq, dtype="string").str.normalize("NFKC").str.strip().str.lower()
    out = np.append(norm.to_numpy(dtype=object), "")[codes]        # code -1 (missing) -> ""
    return pd.Series(out, index=series.index, dtype="string")


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


# ----------------------------------------------------------------------------- the steps


def _check_inputs(gdf, tolerance_m, class_field, level_field, name_field, source
                  ) -> tuple[object, float, list]:
    """Check the CRS (projected, metres), ``tolerance_m`` and the named fields; raise
    InputError naming the study setting to fix. Returns (crs, tolerance, level fields)."""
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
    levels_fields = [] if level_field is None else (
        [level_field] if isinstance(level_field, str) else list(level_field))
    for key, fld in ([("network.class_field", class_field)] +
                     [("network.level_field", f) for f in levels_fields] +
                     [("network.name_field", name_field)]):
        if fld is not None and fld not in gdf.columns:
            cols = ", ".join(str(c) for c in gdf.columns if c != gdf.geometry.name)
            raise InputError(f"the road layer has no field {fld!r}", file=source, field=key,
                             fix=f"use one of its fields: {cols}")
    return crs, tol, levels_fields


def _filter_features(gdf, geoms: np.ndarray, class_field, exclude_classes,
                     excl: _Excluded) -> np.ndarray:
    """Step 1a-b: drop features of an excluded class, then missing/empty and non-line
    geometries, each listed in ``excl``. Returns the keep mask (bool per feature)."""
    n_feat = len(gdf)
    keep = np.ones(n_feat, dtype=bool)
    if class_field is not None:
        excl_set = set(_norm_text(pd.Series(list(
            DEFAULT_EXCLUDE_CLASSES if exclude_classes is None else exclude_classes),
            dtype=object)))
        cls = _norm_text(gdf[class_field]).to_numpy(dtype=object)
        hit = pd.Series(cls, dtype=object).isin(excl_set).to_numpy(dtype=bool)   # hashed, not sorted
        raw = gdf[class_field].astype(object).to_numpy()
        excl.add(np.flatnonzero(hit), "excluded class",
                 np.array([f"{class_field}={v}" for v in raw[hit]], dtype=object))
        keep &= ~hit
    greason = _geometry_problems(geoms)
    for r in ("empty geometry", "not a line"):
        bad = keep & (greason == r)
        tnames = shapely.get_type_id(geoms[bad]) if r == "not a line" else None
        excl.add(np.flatnonzero(bad), r, "" if tnames is None else np.array(
            [shapely.GeometryType(t).name for t in tnames], dtype=object))
        keep &= ~bad
    return keep


def _feature_levels(gdf, levels_fields: list) -> np.ndarray:
    """Level key per feature (int64; equal values of all level fields, null values meaning
    ground, give equal keys); all 0 without level fields."""
    if not levels_fields:
        return np.zeros(len(gdf), dtype=np.int64)
    keyparts = []
    for f in levels_fields:
        t = _norm_text(gdf[f])
        t = t.where(~t.isin(NULL_LEVEL_VALUES), "")
        keyparts.append(t.to_numpy(dtype=object))
    key = keyparts[0].astype(str)
    for kp in keyparts[1:]:
        key = np.char.add(np.char.add(key, "|"), kp.astype(str))
    return pd.factorize(key)[0].astype(np.int64)


def _report(source: str, n_feat: int, n_parts: int, excluded: pd.DataFrame, n_nodes: int,
            u: np.ndarray, v: np.ndarray, length: np.ndarray, counts: dict,
            tol: float, min_component_m: float, t_start: float) -> dict:
    """Step 6: the report dict (keys as in edges_from_lines' docstring); ``counts`` holds
    snapped_dangling_ends, merged_node_groups, max_merge_shift_m,
    crossings_not_noded_levels and collapsed_pieces, in that order."""
    deg = np.bincount(np.r_[u, v], minlength=n_nodes)
    if n_nodes:
        g = coo_array((np.ones(u.size), (u, v)), shape=(n_nodes, n_nodes))
        n_comp, comp = connected_components(g, directed=False)
        comp_len = np.bincount(comp[u], weights=length, minlength=n_comp)
    else:
        n_comp, comp_len = 0, np.zeros(0)
    total = float(length.sum())
    tiny = comp_len < float(min_component_m)
    return {
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
        **counts,
        "self_loops": int((u == v).sum()),
        "tolerance_m": tol,
        "seconds": round(time.perf_counter() - t_start, 3),
    }


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
    only where an end of one meets the other. ``name_field`` fills ``edge_name``, ``class_field``
    ``edge_class`` (the raw values; the travel modes read them through ``network.class_map``).
    ``min_component_m``: connected pieces shorter than this are counted as tiny.

    The report holds: input_features, parts, dropped (count by reason), nodes, edges,
    dangling_ends, components, tiny_components, tiny_component_length_m,
    total_length_m, largest_component_length_m, largest_component_share,
    snapped_dangling_ends, merged_node_groups, crossings_not_noded_levels,
    collapsed_pieces, self_loops, tolerance_m, seconds.
    """
    t_start = time.perf_counter()
    crs, tol, levels_fields = _check_inputs(gdf, tolerance_m, class_field, level_field,
                                            name_field, source)
    radius = max(tol, EPS)
    labels = gdf.index.to_numpy()
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    excl = _Excluded()
    # 1. classes and geometry filtered, features exploded into the part table
    keep = _filter_features(gdf, geoms, class_field, exclude_classes, excl)
    parts = _explode(geoms, keep, _feature_levels(gdf, levels_fields), excl)
    # 2. dangling ends joined onto nearby lines
    parts, extra_part, extra_pt, n_snapped = _snap_dangling_ends(parts, tol, radius, excl)
    # 3. split positions at crossings and touches (levels kept apart)
    sp_part, sp_t, n_not_noded = _split_positions(parts, extra_part, extra_pt,
                                                  bool(levels_fields))
    # 4. parts cut into pieces
    pieces = _cut_pieces(parts, sp_part, sp_t)
    # 5. piece ends merged into nodes, edges put on them
    node_of_end, nx_, ny_, merged_groups, max_spread = _merge_nodes(pieces, parts.plevel,
                                                                    radius)
    node_x, node_y, u, v, geom, edge_part, n_collapsed = _build_edges(pieces, node_of_end,
                                                                      nx_, ny_, radius)
    length = shapely.length(geom).astype(np.float64)
    edge_feat_pos = parts.pfeat[edge_part]
    edge_name = (gdf[name_field].astype(object).to_numpy()[edge_feat_pos]
                 if name_field is not None else None)
    edge_class = (gdf[class_field].astype(object).to_numpy()[edge_feat_pos]
                  if class_field is not None else None)
    # 6. report
    excluded = excl.table(labels, source)
    counts = {"snapped_dangling_ends": n_snapped, "merged_node_groups": merged_groups,
              "max_merge_shift_m": max_spread, "crossings_not_noded_levels": n_not_noded,
              "collapsed_pieces": n_collapsed}
    report = _report(source, len(gdf), parts.n, excluded, node_x.size, u, v, length, counts,
                     tol, min_component_m, t_start)
    return RoadGraph(node_x=node_x, node_y=node_y, edge_u=u, edge_v=v, edge_length=length,
                     edge_geometry=np.asarray(geom, dtype=object), edge_name=edge_name,
                     crs=crs, report=report, excluded=excluded,
                     edge_feature=labels[edge_feat_pos], edge_class=edge_class)
