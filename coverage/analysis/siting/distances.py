"""Turning what a planner has into the models' sparse candidate × demand distance matrix.

* :func:`within_radius` — a cost matrix (scipy sparse or dense), candidates × demand, cut at a
  service radius. Sparse: a stored entry is a distance (explicit zero = distance 0), an absent one
  is beyond reach. Dense: ``inf`` is beyond reach; NaN is refused.
* :func:`euclidean_within` — straight-line distances between the geometries of two
  GeoDataFrames in one projected CRS, built sparsely within the radius (KD-tree for points,
  shapely STRtree ``dwithin`` otherwise). For planners without a walking network; the study's own
  siting uses network distances (``coverage.core.access.reach_matrix``).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from coverage.errors import InputError

from .inputs import _canonical


def _check_radius(service_radius, optional: bool = False):
    if service_radius is None and optional:
        return None
    try:
        r = float(service_radius)
    except (TypeError, ValueError):
        r = float("nan")
    if not (np.isfinite(r) and r >= 0):
        raise InputError(f"service_radius must be a distance ≥ 0 in metres, got {service_radius!r}",
                         field="service_radius", fix="pass e.g. 1000 for a 15-minute walk at 67 m/min"
                         + (", or None for no cutoff" if optional else ""))
    return r


def within_radius(cost, service_radius, optional_radius: bool = False) -> sp.csr_array:
    """Sparse CSR candidates × demand with the pairs whose distance is ≤ ``service_radius``
    (all reachable pairs when the radius is None and ``optional_radius``)."""
    r = _check_radius(service_radius, optional_radius)
    if sp.issparse(cost):
        indptr, indices, data, shape = _canonical(cost, "cost")
    else:
        a = np.asarray(cost, dtype=np.float64)
        if a.ndim != 2:
            raise InputError(f"cost must be 2-dimensional (candidates × demand), got {a.ndim}-D",
                             field="cost", fix="pass one row per candidate, one column per demand")
        if np.isnan(a).any() or (a < 0).any():
            raise InputError("cost holds NaN or negative distances", field="cost",
                             fix="use inf for pairs beyond reach, distances ≥ 0 in metres otherwise")
        rows, cols = np.nonzero(np.isfinite(a))
        data, shape = a[rows, cols], a.shape
        indptr = np.zeros(shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
        indices = cols.astype(np.int64)
    if r is not None:
        keep = data <= r
        rows = np.repeat(np.arange(shape[0], dtype=np.int64), np.diff(indptr))[keep]
        indices, data = indices[keep], data[keep]
        indptr = np.zeros(shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    return sp.csr_array((data, indices, indptr), shape=shape)


def _check_crs(demand_gdf, candidates_gdf):
    if demand_gdf.crs is None or candidates_gdf.crs is None:
        raise InputError("demand or candidates have no CRS: distances need known metric units",
                         field="crs", fix="set_crs(...) then to_crs(<projected CRS in metres>)")
    if demand_gdf.crs != candidates_gdf.crs:
        raise InputError(f"demand and candidates are in different CRS ({demand_gdf.crs} vs "
                         f"{candidates_gdf.crs})", field="crs",
                         fix="candidates_gdf.to_crs(demand_gdf.crs)")
    if not demand_gdf.crs.is_projected:
        raise InputError(f"CRS {demand_gdf.crs} is geographic (degrees); distances need metres",
                         field="crs", fix="to_crs a projected CRS, e.g. a CGCS2000 Gauss-Krüger "
                                          "zone (EPSG:4513-4554) or the UTM zone")


def _geometries(gdf, name):
    g = np.asarray(gdf.geometry.values, dtype=object)
    import shapely

    if g.size and (shapely.is_missing(g).any() or shapely.is_empty(g).any()):
        raise InputError(f"{name} has missing or empty geometries", field=f"{name}.geometry",
                         fix="drop or repair rows without a location")
    return g


def euclidean_within(demand_gdf, candidates_gdf, service_radius, distance="euclidean",
                     optional_radius=False) -> sp.csr_array:
    """Sparse CSR candidates × demand of straight-line distances ≤ ``service_radius`` (metres)
    between the geometries (row order of each frame; distance between the nearest points of
    two geometries, so 0 for a point inside a polygon)."""
    import shapely
    from scipy.spatial import cKDTree

    if distance != "euclidean":
        raise InputError(f"unknown distance {distance!r}", field="distance",
                         fix="use 'euclidean'; for walking distances build a network cost matrix "
                             "(coverage.core.access.reach_matrix) and use from_cost_matrix")
    r = _check_radius(service_radius, optional_radius)
    _check_crs(demand_gdf, candidates_gdf)
    dg, cg = _geometries(demand_gdf, "demand_gdf"), _geometries(candidates_gdf, "candidates_gdf")
    shape = (cg.size, dg.size)
    if not (cg.size and dg.size):
        return sp.csr_array(shape)
    points = (shapely.get_type_id(dg) == 0).all() and (shapely.get_type_id(cg) == 0).all()
    if points:
        cxy = shapely.get_coordinates(cg)
        dxy = shapely.get_coordinates(dg)
        pairs = cKDTree(cxy).sparse_distance_matrix(cKDTree(dxy), np.inf if r is None else r,
                                                    output_type="ndarray")
        ci, dj, dist = pairs["i"], pairs["j"], pairs["v"]
    else:
        if r is None:
            ci, dj = (a.reshape(-1) for a in np.meshgrid(np.arange(cg.size), np.arange(dg.size),
                                                         indexing="ij"))
        else:
            dj, ci = shapely.STRtree(cg).query(dg, predicate="dwithin", distance=r)
        dist = shapely.distance(cg[ci], dg[dj])
    return sp.csr_array((np.asarray(dist, dtype=np.float64), (ci, dj)), shape=shape)


def column_or_array(gdf, value, name):
    """``value`` itself, or the column of ``gdf`` it names."""
    if isinstance(value, str):
        if value not in gdf.columns:
            raise InputError(f"column {value!r} not found", field=name,
                             fix=f"use one of {list(gdf.columns)}")
        return gdf[value].to_numpy()
    return value
