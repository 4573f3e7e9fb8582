"""Service gaps: uncovered demand grouped into gap areas, ranked by population."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .coverage import covered

#: How far the search for the nearest facility goes on past a category's threshold, as a multiple
#: of it: a gap's ``nearest_facility_m`` is exact up to this many times the threshold and empty
#: (none reached) beyond it.
GAP_SEARCH_FACTOR = 3.0

#: Default joining distance of uncovered points into one gap (m); gaps are drawn on a grid of
#: half of it (37.5 m cells), so their outlines are staircases of that step.
GAP_JOIN_M = 75.0

def _cluster(points, join_m):
    """Gap of each point (0..k-1) and each gap's outline, on a grid of ``join_m`` / 2 cells: the
    cells holding uncovered points, grown by ``join_m`` (a disk), are the gap areas; their connected
    regions are the gaps (so points about 2 x ``join_m`` apart or closer, chained, share a gap).
    Grid work (scipy.ndimage, rasterio.features.shapes) is linear in the area, where a union of
    thousands of buffers is not. Labels follow the grid's row order: the same input gives the same
    gaps."""
    from affine import Affine
    from rasterio.features import shapes
    from scipy import ndimage
    xy = shapely.get_coordinates(points)
    res = join_m / 2.0
    r = int(np.ceil(join_m / res))
    x0 = xy[:, 0].min() - (r + 1) * res
    y1 = xy[:, 1].max() + (r + 1) * res
    col = np.floor((xy[:, 0] - x0) / res).astype(np.int64)
    row = np.floor((y1 - xy[:, 1]) / res).astype(np.int64)
    grid = np.zeros((row.max() + r + 2, col.max() + r + 2), dtype=bool)
    grid[row, col] = True
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    grown = ndimage.binary_dilation(grid, structure=(xx ** 2 + yy ** 2) <= r * r)
    lab, n = ndimage.label(grown)
    label = lab[row, col] - 1
    outlines = np.empty(n, dtype=object)
    tr = Affine(res, 0.0, x0, 0.0, -res, y1)
    # the polygons' rings gathered into one coordinate array and built at once (shapely.geometry
    # .shape per polygon was half the step on a county); same coordinates, same polygons
    xy, ring_len, ring_poly, values = [], [], [], []
    for k, (geom, value) in enumerate(shapes(lab.astype(np.int32), mask=grown, transform=tr, connectivity=4)):
        for ring in geom["coordinates"]:
            xy.extend(ring)
            ring_len.append(len(ring))
            ring_poly.append(k)
        values.append(int(value))
    if values:
        rings = shapely.linearrings(np.asarray(xy, dtype=np.float64),
                                    indices=np.repeat(np.arange(len(ring_len)), ring_len))
        polys = shapely.polygons(rings, indices=np.asarray(ring_poly))
        outlines[np.asarray(values) - 1] = polys
    return label, outlines


def _main_community(gap_at, n, pop, cid, twp):
    """Each gap's community and township holding most of its population (summed by a pandas groupby
    of (gap, community, township), as before; ties: the first community id, then township); empty
    where none of its points has both."""
    c_code, c_ids = pd.factorize(cid, sort=True)
    t_code, t_ids = pd.factorize(twp, sort=True)
    nc, nt = max(len(c_ids), 1), max(len(t_ids), 1)
    key = np.where((c_code >= 0) & (t_code >= 0), (gap_at * nc + c_code) * nt + t_code, -1)
    s = pd.Series(pop).groupby(pd.Index(np.where(key >= 0, key, np.nan))).sum()
    k = s.index.to_numpy().astype(np.int64)
    g, c, t = k // (nc * nt), (k // nt) % nc, k % nt
    o = np.lexsort((t, c, -s.to_numpy(), g))
    first = o[np.r_[True, g[o][1:] != g[o][:-1]]] if len(o) else o
    at = np.full(n, -1)
    at[g[first]] = np.arange(len(first))
    return (c_ids.take(np.append(c[first], -1)[at], allow_fill=True),      # -1: none (empty)
            t_ids.take(np.append(t[first], -1)[at], allow_fill=True))


def _communities(gap_at, n, cid):
    """Each gap's community ids, sorted and joined by ';'."""
    c_code, c_ids = pd.factorize(cid, sort=True, use_na_sentinel=False)
    pair = np.unique(gap_at * len(c_ids) + c_code)
    names = np.asarray(c_ids, dtype=object)[pair % len(c_ids)]
    cut = np.searchsorted(pair // len(c_ids), np.arange(1, n))
    return pd.array([";".join(x) for x in np.split(names, cut)], dtype="str")


GAP_COLUMNS = ["category", "threshold_min", "threshold_m", "rank", "population", "points", "nearest_facility_m",
               "search_limit_m", "community_id", "township", "communities", "gap_id", "area_m2"]


def service_gaps(demand, communities, categories, thresholds, speed_m_per_min, *, join_m=GAP_JOIN_M,
                 search_factor=GAP_SEARCH_FACTOR):
    """Uncovered demand points of each category (distance > threshold) about 2 x ``join_m`` or
    less apart (chained) form one gap area, drawn as the area within ``join_m`` of them (on a
    ``join_m`` / 2 grid, see :func:`_cluster`). Each gap: population, the community and township
    holding most of it, the walk to the nearest facility (min over its points; inf = none within
    ``search_factor`` x the threshold, given as ``search_limit_m``). Ranked by population within
    each category. ``thresholds`` maps each category to its :class:`~coverage.config.Threshold`.
    The frame always has :data:`GAP_COLUMNS`, also when nothing is uncovered."""
    out = []
    crs = demand.crs
    geom = demand.geometry.values
    pop_all = demand["population"].to_numpy()
    cid_all, twp_all = demand["community_id"].array, demand["township"].array    # keep their dtypes
    for cat in categories:
        thr = thresholds[cat]
        t = thr.metres
        dist_all = demand[f"dist_{cat}"].to_numpy()
        unc = ~covered(dist_all, t)
        if not unc.any():
            continue
        gid, parts = _cluster(geom[unc], join_m)
        pop, cid, twp, dist = pop_all[unc], cid_all[unc], twp_all[unc], dist_all[unc]
        gaps, gap_at = np.unique(gid, return_inverse=True)  # the gaps in order, each point's place
        # by gap: population (a pandas groupby sum, as before), points, the nearest walk (NaN skipped)
        population = pd.Series(pop).groupby(pd.Index(gid)).sum().to_numpy()
        points = np.bincount(gap_at, minlength=len(gaps))
        nearest = np.full(len(gaps), np.nan)
        np.fmin.at(nearest, gap_at, dist.astype(float))
        main_c, main_t = _main_community(gap_at, len(gaps), pop, cid, twp)
        joined = _communities(gap_at, len(gaps), cid)
        # ranked by population (ties: gap order)
        ix = np.lexsort((np.arange(len(gaps)), -population))
        n = len(gaps)
        out.append({"category": np.full(n, cat, dtype=object),
                    "threshold_min": np.full(n, thr.minutes_at(speed_m_per_min)), "threshold_m": np.full(n, round(t, 1)),
                    "rank": np.arange(1, n + 1), "population": population[ix], "points": points[ix],
                    "nearest_facility_m": nearest[ix], "search_limit_m": np.full(n, round(t * search_factor, 1)),
                    "community_id": main_c.take(ix), "township": main_t.take(ix), "communities": joined[ix],
                    "gap_id": np.array([f"{cat}-{i}" for i in range(1, n + 1)], dtype=object),
                    "geometry": parts[gaps[ix]]})
    if not out:
        empty = {c: pd.Series(dtype=object if c in ("category", "community_id", "township", "communities", "gap_id")
                               else float) for c in GAP_COLUMNS}
        return gpd.GeoDataFrame(empty, geometry=gpd.GeoSeries([], crs=crs), crs=crs)
    # one frame of every category's rows (a GeoDataFrame per category and a concat cost ~3 ms each)
    cols = {}
    for c in GAP_COLUMNS[:-1] + ["geometry"]:
        per_cat = [o[c] for o in out]
        if c in ("community_id", "township"):
            cols[c] = pd.array(np.concatenate([np.asarray(x, dtype=object) for x in per_cat]), dtype=per_cat[0].dtype)
        elif c in ("category", "communities", "gap_id"):
            cols[c] = pd.array(np.concatenate([np.asarray(x, dtype=object) for x in per_cat]), dtype="str")
        else:
            cols[c] = np.concatenate(per_cat)
    geo = gpd.GeoSeries(cols.pop("geometry"), crs=crs)
    cols["area_m2"] = geo.area.to_numpy()
    cols["geometry"] = geo.values
    return gpd.GeoDataFrame(pd.DataFrame(cols), geometry="geometry", crs=crs)
