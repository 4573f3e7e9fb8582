"""What the map draws, made ready once per study (:class:`MapData`) and shared by every map
drawn from it (the main map and any per-category map): layers reprojected to EPSG:4326 and
simplified to the map's zoom, holes and parts smaller than a few pixels dropped, the uncovered
population aggregated to a grid image when there are more points than a browser holds.

The display tolerance follows the size of the study area: about half a screen pixel at the
zoom that fits the communities (2 m for a town, ~20 m for a county), never below 2 m.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
import shapely

from ...errors import InputError
from .text import UNCOVERED_COLOUR, need_cols

#: Never simplify finer than this (metres); about the accuracy of the street data.
MIN_TOLERANCE_M = 2.0
#: Screen pixels across the fitted view (a laptop map window) and pixels per tolerance.
VIEW_PX = 1200
TOLERANCE_PX = 0.5
#: Largest side of the uncovered-population grid image, in cells.
MAX_GRID_PX = 1600
_R = 6378137.0


class MapData:
    """Display-ready layers of one study (see the module docstring). Built by :func:`prepare`."""

    def __init__(self, results, crs, tol_m, communities, bounds):
        self.results = results
        self.crs = crs
        self.tol_m = tol_m
        self.decimals = 6 if tol_m < 5 else 5
        self.communities = communities      # GeoDataFrame in EPSG:4326, sorted by community_id
        self.bounds = bounds                # (minx, miny, maxx, maxy) in degrees
        self._cache = {}

    # ------------------------------------------------------------------ geometry
    def geojson(self, geoms, tol_m=None) -> np.ndarray:
        """GeoJSON geometry strings of metric geometries: simplified (to ``tol_m``, default the
        map's tolerance), small rings dropped, reprojected and rounded."""
        g = np.asarray(geoms, dtype=object)
        if g.size == 0:
            return np.empty(0, dtype=object)
        tol = self.tol_m if tol_m is None else max(float(tol_m), self.tol_m)
        # display only: plain Douglas-Peucker (50x faster than topology-preserving on a county's
        # circles; a ring that collapses is dropped with the small ones below)
        g = shapely.simplify(g, tol, preserve_topology=False)
        g = drop_small_rings(g, (2.0 * tol) ** 2)
        return shapely.to_geojson(self.to_wgs84(g))

    def to_wgs84(self, geoms, crs=None):
        tr = _transformer(self.crs if crs is None else crs)
        d = self.decimals

        def fn(xy):
            x, y = tr.transform(xy[:, 0], xy[:, 1])
            return np.round(np.column_stack([x, y]), d)
        return shapely.transform(np.asarray(geoms, dtype=object), fn)

    def lonlat(self, gdf):
        """(lon, lat) arrays of point layers (a polygon is shown at its centroid)."""
        if gdf.crs is None:
            raise InputError("a point layer of the map has no coordinate reference system",
                             field="results.facilities.crs",
                             fix="set the CRS of the layer (the study area's metric CRS)")
        pts = np.asarray(gdf.geometry.values, dtype=object)
        if len(pts) and not (shapely.get_type_id(pts) == 0).all():
            pts = shapely.centroid(pts)
        # the coordinates transformed as arrays (to_wgs84's values, without making the points)
        x, y = shapely.get_x(pts), shapely.get_y(pts)
        lon, lat = _transformer(gdf.crs).transform(x, y)
        empty = np.isnan(x) | np.isnan(y)
        lon, lat = np.round(np.asarray(lon, float), self.decimals), np.round(np.asarray(lat, float), self.decimals)
        lon[empty], lat[empty] = np.nan, np.nan
        return lon, lat

    # ------------------------------------------------------------------ cached layers
    def cached(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def circle(self, cat, break_m):
        """GeoJSON of a category's life circle at a break, or None when there is none."""
        def make():
            circ = self.results.circles
            sel = (circ["category"].astype(str) == cat) & np.isclose(
                pd.to_numeric(circ["_break_m"]).to_numpy(float), break_m, rtol=0, atol=0.051)
            geoms = circ.geometry.values[sel.to_numpy()]
            if not len(geoms):
                return None
            geom = geoms[0] if len(geoms) == 1 else shapely.union_all(geoms)
            return str(self.geojson([geom])[0])
        return self.cached(("circle", cat, round(break_m, 1)), make)

    def demand_lonlat(self):
        return self.cached("demand_ll", lambda: self.lonlat(self.results.demand))


def _transformer(crs):
    """pyproj Transformer to EPSG:4326 (made once per CRS, :func:`coverage.core.crs.transformer`)."""
    from coverage.core.crs import transformer
    return transformer(crs, "EPSG:4326")


def display_tolerance(width_m: float, height_m: float) -> float:
    span = max(width_m, height_m, 1.0)
    return max(MIN_TOLERANCE_M, TOLERANCE_PX * span / VIEW_PX)


def prepare(results) -> "MapData":
    """The display-ready layers of ``results`` (communities now; the rest on first use)."""
    com = results.communities
    need_cols(com, ["community_id", "name", "township", "type", "population"], "communities")
    if len(com) == 0:
        raise InputError("there are no communities to map", field="results.communities",
                         fix="check the community boundary file")
    if com.crs is None:
        raise InputError("the communities layer has no coordinate reference system",
                         field="results.communities.crs",
                         fix="set the CRS of the layer (the study area's metric CRS)")
    crs = com.crs
    com = com.sort_values("community_id", kind="stable")
    if crs.is_projected:
        minx, miny, maxx, maxy = com.total_bounds
        tol = display_tolerance(maxx - minx, maxy - miny)
    else:
        tol = 0.0
    data = MapData(results, crs, tol, None, None)
    geoms = np.asarray(com.geometry.values, dtype=object)
    if tol > 0:
        try:
            geoms = shapely.coverage_simplify(geoms, tol)   # neighbours keep one shared border
        except shapely.errors.GEOSException:  # not a clean coverage: simplify each on its own
            geoms = shapely.simplify(geoms, tol, preserve_topology=True)
    ll = data.to_wgs84(geoms) if crs.to_epsg() != 4326 else geoms
    import geopandas as gpd
    out = gpd.GeoDataFrame(com.drop(columns=com.geometry.name).reset_index(drop=True),
                           geometry=gpd.GeoSeries(ll, crs=4326))
    data.communities = out
    data.bounds = tuple(float(v) for v in shapely.total_bounds(ll))
    if results.circles is not None and len(results.circles):
        circ = results.circles
        need_cols(circ, ["category"], "circles")
        if "break_m" in circ.columns:
            bm = pd.to_numeric(circ["break_m"], errors="coerce")
        else:
            need_cols(circ, ["break_min"], "circles")
            bm = pd.to_numeric(circ["break_min"], errors="coerce") * float(results.speed_m_per_min)
        circ = circ.assign(_break_m=bm.to_numpy(float))
        data.results = _Overlay(results, circles=circ)
    return data


class _Overlay:
    """``results`` with some parts replaced (read-only view)."""

    def __init__(self, base, **parts):
        self._base, self._parts = base, parts

    def __getattr__(self, name):
        if name in self._parts:
            return self._parts[name]
        return getattr(self._base, name)


def drop_small_rings(geoms, min_area):
    """Polygons without their holes and parts smaller than ``min_area`` (m²), vectorised."""
    g = np.asarray(geoms, dtype=object)
    parts, gi = shapely.get_parts(g, return_index=True)
    poly = shapely.get_type_id(parts) == 3
    if not poly.any():
        return g
    parts, gi = parts[poly], gi[poly]
    rings, pi = shapely.get_rings(parts, return_index=True)
    area = shapely.area(shapely.polygons(rings))
    first = np.ones(rings.size, bool)
    first[1:] = pi[1:] != pi[:-1]
    shell_ok = np.zeros(parts.size, bool)
    shell_ok[pi[first]] = area[first] >= min_area
    keep = shell_ok[pi] & (first | (area >= min_area))
    rings, pi = rings[keep], pi[keep]
    out = np.full(g.size, shapely.Polygon(), dtype=object)
    if rings.size == 0:
        return out
    polys = shapely.polygons(rings, indices=np.unique(pi, return_inverse=True)[1])
    owner = gi[np.unique(pi)]
    multi = shapely.multipolygons(polys, indices=np.unique(owner, return_inverse=True)[1])
    single = np.bincount(owner, minlength=g.size) == 1
    present = np.unique(owner)
    out[present] = multi
    # a geometry left with one polygon stays a Polygon
    one = present[single[present]]
    if one.size:
        out[one] = shapely.get_geometry(out[one], 0)
    return out


# ------------------------------------------------------------------ uncovered population grid

def grid_cell_m(width_m, height_m) -> float:
    """A round cell size (m) of at least 100 m (a WorldPop cell) that keeps the grid image at
    most MAX_GRID_PX cells on its longer side."""
    need = max(width_m, height_m, 1.0) / MAX_GRID_PX
    for c in (100, 150, 200, 250, 300, 400, 500, 750, 1000, 1500, 2000, 2500, 5000):
        if c >= need:
            return float(c)
    return float(np.ceil(need / 1000.0) * 1000.0)


def mercator(lon, lat):
    x = np.radians(lon) * _R
    y = np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) * _R
    return x, y


def inverse_mercator(x, y):
    return np.degrees(x / _R), np.degrees(2 * np.arctan(np.exp(y / _R)) - np.pi / 2)


class DemandGrid:
    """A Web Mercator grid over every demand point (so an image laid on Leaflet's own projection
    lines up cell for cell), of about ``cell_m`` ground metres."""

    def __init__(self, lon, lat, cell_m):
        self.cell_m = cell_m
        x, y = mercator(lon, lat)
        lat0 = float(np.nanmean(lat)) if len(lat) else 0.0
        step = cell_m / np.cos(np.radians(lat0))
        x0, y0 = np.floor(np.nanmin(x) / step) * step, np.floor(np.nanmin(y) / step) * step
        self.col = np.floor((x - x0) / step).astype(np.int64)
        self.row = np.floor((y - y0) / step).astype(np.int64)
        self.ncols, self.nrows = int(self.col.max()) + 1, int(self.row.max()) + 1
        west, south = inverse_mercator(x0, y0)
        east, north = inverse_mercator(x0 + self.ncols * step, y0 + self.nrows * step)
        self.bounds = [[round(float(south), 7), round(float(west), 7)],
                       [round(float(north), 7), round(float(east), 7)]]

    def sums(self, weights, mask):
        flat = self.row[mask] * self.ncols + self.col[mask]
        return np.bincount(flat, weights=weights[mask], minlength=self.nrows * self.ncols) \
            .reshape(self.nrows, self.ncols)

    @staticmethod
    def png(values, vmax) -> str:
        """A data: URL of a PNG: cells with people in the uncovered colour, opacity growing with
        the square root of the people, empty cells transparent; north up. One colour and an
        opacity per cell: written as a palette image whose 256 entries are that colour at each
        opacity (the same pixels as RGBA, a quarter of the bytes to compress)."""
        from PIL import Image
        rgb = [int(UNCOVERED_COLOUR[i:i + 2], 16) for i in (1, 3, 5)]
        v = np.flipud(values)
        alpha = np.where(v > 0, 70 + 185 * np.sqrt(np.clip(v / max(vmax, 1e-9), 0, 1)), 0)
        index = np.ascontiguousarray(np.round(alpha).astype(np.uint8))
        img = Image.frombytes("P", (index.shape[1], index.shape[0]), index.tobytes())
        img.putpalette(rgb * 256)
        buf = io.BytesIO()
        img.save(buf, format="PNG", compress_level=6, transparency=bytes(range(256)))
        return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
