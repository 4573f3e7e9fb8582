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
    for cat in categories:
        thr = thresholds[cat]
        t = thr.metres
        unc = demand[~covered(demand[f"dist_{cat}"].to_numpy(), t)]
        if len(unc) == 0:
            continue
        gid, parts = _cluster(unc.geometry.values, join_m)
        df = pd.DataFrame({"gap": gid, "population": unc.population.values, "community_id": unc.community_id.values,
                           "township": unc.township.values, "dist": unc[f"dist_{cat}"].values})
        agg = df.groupby("gap").agg(population=("population", "sum"), points=("population", "size"),
                                    nearest_facility_m=("dist", "min"))
        main = (df.groupby(["gap", "community_id", "township"])["population"].sum().reset_index()
                .sort_values(["gap", "population", "community_id"], ascending=[True, False, True])
                .drop_duplicates("gap").set_index("gap"))
        agg["community_id"] = main["community_id"]
        agg["township"] = main["township"]
        pairs = df[["gap", "community_id"]].drop_duplicates().sort_values(["gap", "community_id"], kind="stable")
        agg["communities"] = pairs.groupby("gap")["community_id"].agg(";".join)
        g = gpd.GeoDataFrame(agg.reset_index(drop=False), geometry=parts[agg.index.to_numpy()], crs=crs)
        g = g.sort_values(["population", "gap"], ascending=[False, True], kind="stable").reset_index(drop=True)
        g.insert(0, "category", cat)
        g.insert(1, "threshold_min", thr.minutes_at(speed_m_per_min))
        g.insert(2, "threshold_m", round(t, 1))
        g.insert(3, "rank", np.arange(1, len(g) + 1))
        g["search_limit_m"] = round(t * search_factor, 1)
        g["gap_id"] = [f"{cat}-{i}" for i in g["rank"]]
        g["area_m2"] = g.geometry.area
        out.append(g.drop(columns="gap")[GAP_COLUMNS + ["geometry"]])
    if not out:
        empty = {c: pd.Series(dtype=object if c in ("category", "community_id", "township", "communities", "gap_id")
                               else float) for c in GAP_COLUMNS}
        return gpd.GeoDataFrame(empty, geometry=gpd.GeoSeries([], crs=crs), crs=crs)
    return pd.concat(out, ignore_index=True)
