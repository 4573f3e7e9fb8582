"""Siting in a study run: candidates, the sparse candidate × demand coverage matrix, the solver."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .access import reach_matrix
from .siting import candidates_from_nodes, capacity_report, max_coverage, min_sites_for_target


def suggest_sites(res, ag, net, nd, speed):
    s = res.cfg["siting"]
    cats = s["categories"] or res.categories
    demand = res.demand
    rows, summ = [], []
    exclude = None
    if s["exclude"]:
        exclude = gpd.read_file(s["exclude"]).to_crs(res.crs).geometry.values
    hh_pt = _households_per_point(res)  # the same for every category
    for cat in cats:
        if cat not in res.categories:
            continue
        t = res.main_threshold_min[cat] * speed
        covered = demand[f"dist_{cat}"].to_numpy() <= t
        w = demand["population"].to_numpy()
        unc = ~covered & ag.snapped[:nd]
        if not unc.any():
            summ.append({"category": cat, "status": "already fully covered (reachable demand)", "sites": 0})
            continue
        if s["candidates"]:
            cand = gpd.read_file(s["candidates"]).to_crs(res.crs)
            cpts = cand.geometry.representative_point().values
            cx, cy = shapely.get_x(cpts), shapely.get_y(cpts)
            from .access import build_access_graph
            # candidate points are snapped like facilities; reuse the same graph build
            ag2 = build_access_graph(net, np.r_[shapely.get_x(demand.geometry.values), cx],
                                     np.r_[shapely.get_y(demand.geometry.values), cy], res.cfg["network"]["max_snap_m"])
            src_nodes, tgt_nodes, g = ag2.point_node[nd:], ag2.point_node[:nd], ag2
            cand_xy = np.c_[cx, cy]
        else:
            idx, _excl = candidates_from_nodes(net.node_x, net.node_y, shapely.get_x(demand.geometry.values[unc]),
                                               shapely.get_y(demand.geometry.values[unc]), t,
                                               s["candidate_spacing_m"], exclude)
            src_nodes, tgt_nodes, g = idx, ag.point_node[:nd], ag
            cand_xy = np.c_[net.node_x[idx], net.node_y[idx]]
        cover = reach_matrix(g, src_nodes, tgt_nodes, t)
        if s["target_rate"] is not None or s["group_targets"]:
            r = min_sites_for_target(cover, w, target=s["target_rate"], already_covered=covered,
                                     groups=demand["type"].to_numpy(), group_targets=s["group_targets"],
                                     method=s["method"], time_limit=s["time_limit_s"])
        else:
            r = max_coverage(cover, w, int(s["k"]), already_covered=covered, method=s["method"],
                             time_limit=s["time_limit_s"])
        tab = r.table()
        sel = np.asarray(r.selected, dtype=int)
        pts = shapely.points(cand_xy[sel, 0], cand_xy[sel, 1]) if len(sel) else np.array([], dtype=object)
        gdf = gpd.GeoDataFrame(tab, geometry=pts, crs=res.crs)
        gdf.insert(0, "category", cat)
        gdf["threshold_min"] = res.main_threshold_min[cat]
        total = w.sum()
        gdf["rate_before"] = covered @ w / total if total else np.nan
        # community / township / nearest named road of each site
        if len(gdf):
            j = gpd.sjoin(gdf[["geometry"]], res.communities[["community_id", "township", "geometry"]],
                          how="left", predicate="within")
            j = j[~j.index.duplicated()]
            gdf["community_id"] = j["community_id"].values
            gdf["township"] = j["township"].values
            named = np.flatnonzero(pd.notna(net.edge_name) & (net.edge_name != ""))
            if len(named):
                tree = shapely.STRtree(net.edge_geometry[named])
                (pi, ei) = tree.query_nearest(gdf.geometry.values, all_matches=False)
                road = np.full(len(gdf), None, dtype=object)
                road[pi] = net.edge_name[named[ei]]
                gdf["nearest_road"] = road
            else:
                gdf["nearest_road"] = None
        # capacity: a new station of siting.site_area_m2 supports area / (m² per 100 households)
        # households; a catchment with more households than that is reported oversubscribed
        if len(sel) and hh_pt is not None:
            cap = capacity_report(sel, cover, hh_pt, np.full(len(sel), float(s["site_area_m2"])),
                                  float(s["capacity_m2_per_100hh"]))
            for col in ("floor_area_m2", "households_in_catchment", "households_assigned",
                        "supported_households", "oversubscribed", "area_shortfall_m2"):
                gdf[col] = cap[col].to_numpy()
        rows.append(gdf)
        summ.append({"category": cat, "status": r.status, "method": r.method, "sites": len(sel),
                     "covered_before": r.covered_before, "covered_after": r.covered_after,
                     "rate_before": r.covered_before / total if total else np.nan,
                     "rate_after": r.covered_after / total if total else np.nan,
                     "candidates": cover.shape[0], "matrix_pairs": int(cover.nnz),
                     "bound": r.bound, "gap": r.gap, "feasible": getattr(r, "feasible", True)})
    sites = pd.concat(rows, ignore_index=True) if rows else None
    return sites, pd.DataFrame(summ)


def _households_per_point(res):
    """Households of each demand point: its community's households × its share of the community's
    population. None when the communities have no households field."""
    comm = res.communities.set_index("community_id")
    if comm["households"].isna().all():
        return None
    d = res.demand
    cpop = d.groupby("community_id")["population"].transform("sum").to_numpy()
    hh = comm["households"].reindex(d.community_id).fillna(0.0).to_numpy()
    return np.divide(hh * d.population.to_numpy(), cpop, out=np.zeros(len(d)), where=cpop > 0)
