"""Service gaps: uncovered demand grouped into gap areas, ranked by population."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely


def service_gaps(demand, communities, categories, main_threshold_min, speed_m_per_min, *, join_m=75.0):
    """Uncovered demand points of each category (distance > threshold) within ``join_m`` of each
    other form one gap area (union of buffers). Each gap: population, the community and township
    holding most of it, the distance to the nearest facility (min over its points; inf = none
    reachable within the search limit). Ranked by population within each category."""
    out = []
    crs = demand.crs
    for cat in categories:
        t = main_threshold_min[cat] * speed_m_per_min
        unc = demand[~(demand[f"dist_{cat}"].to_numpy() <= t)]
        if len(unc) == 0:
            continue
        buf = shapely.buffer(unc.geometry.values, join_m, quad_segs=4)
        parts = shapely.get_parts(shapely.union_all(buf))
        tree = shapely.STRtree(parts)
        pi, gi = tree.query(unc.geometry.values, predicate="intersects")
        order = np.lexsort((gi, pi))
        pi, gi = pi[order], gi[order]
        first = np.ones(len(pi), bool)
        first[1:] = pi[1:] != pi[:-1]
        gid = np.full(len(unc), -1)
        gid[pi[first]] = gi[first]
        df = pd.DataFrame({"gap": gid, "population": unc.population.values, "community_id": unc.community_id.values,
                           "township": unc.township.values, "dist": unc[f"dist_{cat}"].values})
        agg = df.groupby("gap").agg(population=("population", "sum"), points=("population", "size"),
                                    nearest_facility_m=("dist", "min"))
        main = (df.groupby(["gap", "community_id", "township"])["population"].sum().reset_index()
                .sort_values(["gap", "population", "community_id"], ascending=[True, False, True])
                .drop_duplicates("gap").set_index("gap"))
        agg["community_id"] = main["community_id"]
        agg["township"] = main["township"]
        agg["communities"] = df.groupby("gap")["community_id"].agg(lambda s: ";".join(sorted(set(s))))
        g = gpd.GeoDataFrame(agg.reset_index(drop=False), geometry=parts[agg.index.to_numpy()], crs=crs)
        g = g.sort_values(["population", "gap"], ascending=[False, True], kind="stable").reset_index(drop=True)
        g.insert(0, "category", cat)
        g.insert(1, "threshold_min", float(main_threshold_min[cat]))
        g.insert(2, "rank", np.arange(1, len(g) + 1))
        g["gap_id"] = [f"{cat}-{i}" for i in g["rank"]]
        g["area_m2"] = g.geometry.area
        out.append(g.drop(columns="gap"))
    if not out:
        return gpd.GeoDataFrame({"category": [], "population": [], "gap_id": []}, geometry=[], crs=crs)
    return pd.concat(out, ignore_index=True)
