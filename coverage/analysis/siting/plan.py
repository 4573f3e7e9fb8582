"""Siting in a study run: candidates, the sparse candidate × demand coverage matrix, the solver.

The coverage matrix is built by bounded searches from the candidates (:func:`~coverage.core.access.
reach_matrix`) and kept in a :class:`CoverageMatrices` by (cutoff, demand set): the categories that
share a threshold search only the candidates not searched before. Each category's time in
candidates, matrix and solver is in ``summary.attrs["seconds"]``.
"""

from __future__ import annotations

import hashlib
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

from ...core.access import reach_matrix
from ..coverage import covered
from . import candidates_from_nodes, capacity_report, max_coverage, min_sites_for_target


class CoverageMatrices:
    """Rows of candidate × demand walking distances already searched, kept by (access graph, cutoff,
    demand set).

    :meth:`get` returns the sparse matrix for any candidates (road nodes or points of the access
    graph, -1 for none: an empty row), searching only those not searched before with this cutoff
    and these demand points. ``searched`` / ``reused`` count candidate rows; ``seconds`` is the time
    spent searching."""

    def __init__(self):
        self._store: dict = {}
        self.searched = 0
        self.reused = 0
        self.seconds = 0.0

    def get(self, ag, sources, targets, cutoff: float) -> sp.csr_array:
        sources = np.asarray(sources, dtype=np.int64)
        targets = np.asarray(targets, dtype=np.int64)
        key = (id(ag), float(cutoff), targets.size,
               hashlib.blake2b(targets.tobytes(), digest_size=16).hexdigest())
        ids, mat = self._store.get(key, (np.zeros(0, dtype=np.int64), None))
        want = np.unique(sources[sources >= 0])
        new = np.setdiff1d(want, ids, assume_unique=True)
        self.reused += int(want.size - new.size)
        if new.size:
            t = time.perf_counter()
            m = reach_matrix(ag, new, targets, cutoff)
            self.seconds += time.perf_counter() - t
            self.searched += int(new.size)
            ids = np.concatenate([ids, new])
            mat = m if mat is None else sp.vstack([mat, m], format="csr")
            o = np.argsort(ids, kind="stable")
            ids, mat = ids[o], _take_rows(mat, o)
            self._store[key] = (ids, mat)
        if mat is None:
            return sp.csr_array((len(sources), len(targets)), dtype=np.float64)
        rows = np.full(len(sources), -1, dtype=np.int64)
        ok = sources >= 0
        rows[ok] = np.searchsorted(ids, sources[ok])
        return _take_rows(mat, rows)


def _take_rows(m: sp.csr_array, rows) -> sp.csr_array:
    """Rows ``rows`` of a CSR matrix (-1: an empty row), kept canonical."""
    rows = np.asarray(rows, dtype=np.int64)
    indptr = np.asarray(m.indptr, dtype=np.int64)
    ok = rows >= 0
    start = np.where(ok, indptr[np.maximum(rows, 0)], 0)
    length = np.where(ok, indptr[np.maximum(rows, 0) + 1] - start, 0)
    new_ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(length, out=new_ptr[1:])
    pos = np.repeat(start - new_ptr[:-1], length) + np.arange(int(new_ptr[-1]))
    out = sp.csr_array((m.data[pos], m.indices[pos], new_ptr), shape=(len(rows), m.shape[1]))
    out.has_canonical_format = True
    return out


def suggest_sites(ag, net, demand, communities, thresholds, categories, s, speed_m_per_min, *,
                  use_candidate_set=False, exclude=None, households_per_point=None, matrices=None):
    """New sites per category: (sites GeoDataFrame, summary DataFrame).

    ``ag``: the study's access graph with the named point sets ``demand`` (and ``candidates`` when
    ``use_candidate_set``: the planner's candidate premises, snapped like facilities);
    ``thresholds``: category -> :class:`~coverage.config.Threshold`; ``s``: :class:`~coverage.config.Siting`;
    ``exclude``: polygons where nothing may be built (default candidates only); ``matrices``: a
    :class:`CoverageMatrices` to reuse searched rows across calls (one is made otherwise).
    ``summary.attrs["seconds"]``: category -> seconds in candidates, matrix and solver."""
    matrices = CoverageMatrices() if matrices is None else matrices
    seconds = {}
    crs = demand.crs
    cats = [c for c in (s.categories or categories) if c in categories]
    rows, summ = [], []
    hh_pt = households_per_point
    dem_nodes = ag.point_node[ag.ids("demand")]
    dem_x, dem_y = shapely.get_x(demand.geometry.values), shapely.get_y(demand.geometry.values)
    w = demand["population"].to_numpy()
    total = w.sum()
    named = np.flatnonzero(pd.notna(net.edge_name) & (net.edge_name != ""))
    road_tree = shapely.STRtree(net.edge_geometry[named]) if len(named) else None
    for cat in cats:
        thr = thresholds[cat]
        t = thr.metres
        covered_now = covered(demand[f"dist_{cat}"].to_numpy(), t)
        unc = ~covered_now & ag.of("demand", ag.snapped)
        if not unc.any():
            summ.append({"category": cat, "status": "already fully covered (reachable demand)", "sites": 0})
            continue
        t0 = time.perf_counter()
        if use_candidate_set:
            cidx = ag.ids("candidates")
            src_nodes = ag.point_node[cidx]
            cand_xy = np.c_[ag.point_x[cidx], ag.point_y[cidx]]
        else:
            idx, _ = candidates_from_nodes(net.node_x, net.node_y, dem_x[unc], dem_y[unc], t,
                                           s.candidate_spacing_m, exclude, report=False)
            src_nodes = idx
            cand_xy = np.c_[net.node_x[idx], net.node_y[idx]]
        t1 = time.perf_counter()
        cover = matrices.get(ag, src_nodes, dem_nodes, t)
        t2 = time.perf_counter()
        if s.target_rate is not None or s.group_targets:
            r = min_sites_for_target(cover, w, target=s.target_rate, already_covered=covered_now,
                                     groups=demand["type"].to_numpy(), group_targets=s.group_targets,
                                     method=s.method, time_limit=s.time_limit_s)
        else:
            r = max_coverage(cover, w, int(s.k), already_covered=covered_now, method=s.method,
                             time_limit=s.time_limit_s)
        seconds[cat] = {"candidates": t1 - t0, "matrix": t2 - t1, "solve": time.perf_counter() - t2}
        tab = r.table()
        sel = np.asarray(r.selected, dtype=int)
        pts = shapely.points(cand_xy[sel, 0], cand_xy[sel, 1]) if len(sel) else np.array([], dtype=object)
        gdf = gpd.GeoDataFrame(tab, geometry=pts, crs=crs)
        gdf.insert(0, "category", cat)
        gdf["threshold_min"] = thr.minutes_at(speed_m_per_min)
        gdf["rate_before"] = covered_now @ w / total if total else np.nan
        # community / township / nearest named road of each site
        if len(gdf):
            j = gpd.sjoin(gdf[["geometry"]], communities[["community_id", "township", "geometry"]],
                          how="left", predicate="within")
            j = j[~j.index.duplicated()]
            gdf["community_id"] = j["community_id"].values
            gdf["township"] = j["township"].values
            if road_tree is not None:
                (pi, ei) = road_tree.query_nearest(gdf.geometry.values, all_matches=False)
                road = np.full(len(gdf), None, dtype=object)
                road[pi] = net.edge_name[named[ei]]
                gdf["nearest_road"] = road
            else:
                gdf["nearest_road"] = None
        # capacity: a new station of siting.site_area_m2 supports area / (m² per 100 households)
        # households; a catchment with more households than that is reported oversubscribed
        if len(sel) and hh_pt is not None:
            cap = capacity_report(sel, cover, hh_pt, np.full(len(sel), float(s.site_area_m2)),
                                  float(s.capacity_m2_per_100hh))
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
    summary = pd.DataFrame(summ)
    summary.attrs["seconds"] = seconds
    return sites, summary


def households_per_point(communities, demand):
    """Households of each demand point: its community's households × its share of the community's
    population. None when the communities have no households field."""
    comm = communities.set_index("community_id")
    if comm["households"].isna().all():
        return None
    cpop = demand.groupby("community_id")["population"].transform("sum").to_numpy()
    hh = comm["households"].reindex(demand.community_id).fillna(0.0).to_numpy()
    return np.divide(hh * demand.population.to_numpy(), cpop, out=np.zeros(len(demand)), where=cpop > 0)
