"""One run of a study area: config -> loaders -> network -> demand -> access -> analyses.

Returns a Results object; coverage.outputs writes it. Analysis never formats text."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import CATEGORIES
from .access import build_access_graph, nearest, reach_matrix, road_node_distance
from .config import speed_m_per_min, threshold_min
from .crs import metric_crs
from .demand import demand_points
from .errors import InputError
from .loaders import excluded_frame, load_communities, load_facilities
from .network import load_network


@dataclass
class Results:
    cfg: dict
    crs: object
    communities: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    demand: gpd.GeoDataFrame
    coverage_by_community: pd.DataFrame
    coverage_summary: pd.DataFrame
    excluded: pd.DataFrame
    categories: list
    main_threshold_min: dict
    title: str
    network: object = None
    speed_m_per_min: float = 66.667
    circles: gpd.GeoDataFrame | None = None
    facility_circles: gpd.GeoDataFrame | None = None
    gaps: gpd.GeoDataFrame | None = None
    sites: gpd.GeoDataFrame | None = None
    siting_summary: pd.DataFrame | None = None
    indicators: pd.DataFrame | None = None
    indicators_md: str = ""
    report: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)


class _Progress:
    def __init__(self, echo):
        self.echo = echo
        self.t0 = time.perf_counter()
        self.timings = {}
        self.last = None

    def step(self, name):
        now = time.perf_counter()
        if self.last:
            self.timings[self.last] = round(now - self.t_step, 3)
        self.last, self.t_step = name, now
        if self.echo and name:
            self.echo(f"[{now - self.t0:6.1f}s] {name} ...")

    def done(self):
        self.step(None)
        self.timings.pop(None, None)


def run(cfg, echo=print) -> Results:
    prog = _Progress(echo)
    file = cfg["_file"]
    speed = speed_m_per_min(cfg)

    prog.step("reading communities")
    comm_raw_crs = _peek_centre(cfg)
    crs = metric_crs(cfg["study_area"]["crs"], *comm_raw_crs, file=file)
    communities, comm_report, overlaps = load_communities(cfg, crs)
    area = shapely.union_all(communities.geometry.values)

    cats_cfg = cfg["analysis"]["categories"]
    main_t = {c: threshold_min(cfg, c) for c in CATEGORIES}
    max_t_m = max(max(cfg["analysis"]["breaks_min"]), max(main_t.values())) * speed
    buffer_m = max_t_m + cfg["network"]["max_snap_m"]
    area_buf = shapely.buffer(area, buffer_m)

    prog.step("reading facilities")
    facilities, excluded_fac, fac_report = load_facilities(cfg, crs, area_buf, area)
    # every plan category is analysed by default: a category with no facility is a 0% gap, not absent
    categories = list(cats_cfg) if cats_cfg else list(CATEGORIES)
    if len(facilities) == 0:
        raise InputError("no facility of any plan category was found", file=cfg["facilities"]["path"],
                         field="facilities.fields.category", fix="check the category column or names")
    tw = gpd.sjoin(facilities[["geometry"]], communities[["community_id", "township", "geometry"]],
                   how="left", predicate="within")
    tw = tw[~tw.index.duplicated(keep="first")]
    facilities["community_id"] = tw["community_id"].reindex(facilities.index).values
    facilities["township"] = tw["township"].reindex(facilities.index).values

    prog.step("reading population raster and splitting cells by community")
    groups = cfg["population"]["groups"] or {}
    demand, dem_report = demand_points(communities, cfg["population"]["path"], crs, extra_rasters=groups)
    communities["population"] = demand.groupby("community_id")["population"].sum() \
        .reindex(communities.community_id).fillna(0.0).to_numpy()

    prog.step("building the walking network")
    area_wgs = gpd.GeoSeries([area_buf], crs=crs).to_crs("EPSG:4326").iloc[0]
    ncfg = cfg["network"]
    roads_opts = {k: ncfg[k] for k in ("encoding", "crs", "tolerance_m", "class_field", "exclude_classes",
                                        "level_field", "name_field") if ncfg[k] is not None}
    net = load_network(ncfg["source"], ncfg["path"], crs=crs, area_wgs84=area_wgs,
                       roads_options=roads_opts, config_file=file)
    net = net.clip(area_buf)
    if net.n_edges == 0:
        raise InputError("the walking network has no edges inside the study area", file=str(ncfg["path"]),
                         field="network.path", fix="use a network that covers the communities")

    prog.step("snapping demand and facilities onto the network")
    nd, nf = len(demand), len(facilities)
    xs = np.r_[shapely.get_x(demand.geometry.values), shapely.get_x(facilities.geometry.values)]
    ys = np.r_[shapely.get_y(demand.geometry.values), shapely.get_y(facilities.geometry.values)]
    ag = build_access_graph(net, xs, ys, ncfg["max_snap_m"])
    demand["snap_m"] = ag.point_snap[:nd]
    facilities["snap_m"] = ag.point_snap[nd:]
    far_d = ~ag.snapped[:nd]
    far_f = ~ag.snapped[nd:]
    excluded = [excluded_fac,
                excluded_frame("facilities", cfg["facilities"]["path"], facilities.facility_id[far_f],
                               f"farther than network.max_snap_m = {ncfg['max_snap_m']} m from any road",
                               "kept in the tables, but serves nobody"),
                excluded_frame("population", cfg["population"]["path"], demand.demand_id[far_d],
                               f"demand point farther than network.max_snap_m = {ncfg['max_snap_m']} m from any road",
                               [f"population {p:.1f} in {c}: counted as not covered"
                                for p, c in zip(demand.population[far_d], demand.community_id[far_d])])]
    lost = dem_report["population_of_touching_cells_outside_area"]
    if lost > 0.5:
        excluded.append(excluded_frame("population", cfg["population"]["path"], ["cells cut by the study-area edge"],
                                       "population of raster cells lying outside every community",
                                       f"{lost:.1f} people (area-weighted share of edge cells outside the communities)"))
    far = dem_report["population_outside_area_cells"]
    if far > 0.5:
        excluded.append(excluded_frame("population", cfg["population"]["path"], ["cells outside the study area"],
                                       "raster population outside the study area", f"{far:.1f} people"))

    prog.step("bounded multi-source shortest paths per category")
    pop_col_for = {}
    for cat in categories:
        fac_idx = np.flatnonzero((facilities.category == cat).to_numpy())
        cutoff = max(main_t[cat], max(cfg["analysis"]["breaks_min"])) * speed
        dist, who = nearest(ag, nd + fac_idx, np.arange(nd), cutoff)
        demand[f"dist_{cat}"] = dist
        ids = facilities.facility_id.to_numpy(dtype=object)[fac_idx]
        demand[f"nearest_{cat}"] = np.where(who >= 0, ids[np.maximum(who, 0)] if len(ids) else None, None)
        g = cfg["population"]["group_for"].get(cat)
        if g:
            pop_col_for[cat] = f"pop_{g}"

    prog.step("coverage rates")
    from .rates import coverage_tables
    by_comm, summary = coverage_tables(communities, facilities, demand, categories,
                                       cfg["analysis"]["breaks_min"], speed, main_t, pop_col_for)

    res = Results(cfg=cfg, crs=crs, communities=communities, facilities=facilities, demand=demand,
                  coverage_by_community=by_comm, coverage_summary=summary, excluded=None,
                  categories=categories, main_threshold_min={c: main_t[c] for c in categories},
                  title=cfg["study_area"]["name"], network=net, speed_m_per_min=speed)

    if cfg["analysis"]["circles"]:
        prog.step("life-circle polygons")
        res.circles, res.facility_circles = _circles(res, ag, net, speed, cfg)

    prog.step("service gaps")
    from .gaps import service_gaps
    res.gaps = service_gaps(demand, communities, categories, main_t, speed)

    prog.step("plan indicators")
    res.indicators, res.indicators_md = _indicators(res, ag, nd, speed)

    if cfg["siting"]["enabled"]:
        prog.step("siting suggestions")
        from .site_plan import suggest_sites
        res.sites, res.siting_summary = suggest_sites(res, ag, net, nd, speed)

    res.excluded = pd.concat(excluded, ignore_index=True)
    pop_all = float(demand.population.sum())
    pop_far = float(demand.population[far_d].sum())
    if pop_all > 0 and pop_far / pop_all > 0.10:
        res.warnings.append(
            f"{int(far_d.sum())} of {nd} demand points ({pop_far:.0f} of {pop_all:.0f} people, {pop_far / pop_all:.0%}) "
            f"are farther than network.max_snap_m = {ncfg['max_snap_m']} m from any road; they count as not covered "
            f"and are listed in excluded.csv. Check that the network covers the communities or raise network.max_snap_m.")
    if fac_report.get("hint"):
        res.warnings.append(f"{fac_report['hint']} (listed in excluded.csv)")
    if comm_report.get("invalid_repaired"):
        res.warnings.append(f"{comm_report['invalid_repaired']} invalid community polygons were repaired (make_valid)")
    if comm_report.get("overlap_pairs"):
        res.warnings.append(f"{comm_report['overlap_pairs']} pairs of communities overlap ({comm_report['overlap_m2']:.0f} m²); "
                            f"each overlap was given to the community with the lower code so nobody is counted twice")
    res.report = {"communities": comm_report, "overlaps": overlaps, "facilities": fac_report,
                  "demand": dem_report, "network": {k: v for k, v in net.report.items() if np.isscalar(v)},
                  "network_nodes": net.n_nodes, "network_edges": net.n_edges,
                  "demand_points": nd, "demand_unsnapped": int(far_d.sum()),
                  "population_unsnapped": float(demand.population[far_d].sum()),
                  "facilities_unsnapped": int(far_f.sum())}
    if "roads_excluded" in net.report and len(net.report["roads_excluded"]):
        rx = net.report["roads_excluded"]
        res.excluded = pd.concat([res.excluded, excluded_frame("network", ncfg["path"], rx["feature"],
                                                               rx["reason"], rx.get("detail", ""))], ignore_index=True)
    prog.done()
    res.timings = prog.timings
    return res


def _peek_centre(cfg):
    import pyogrio
    c = cfg["communities"]
    kw = {"layer": c["layer"]} if c["layer"] else {}
    try:
        info = pyogrio.read_info(c["path"], **kw)
    except Exception as exc:
        raise InputError(f"cannot read the layer ({exc})", file=c["path"], field="communities.path",
                         fix="give a shapefile, GeoPackage or GeoJSON")
    if not info.get("features"):
        raise InputError("the layer is empty", file=c["path"], field="communities.path",
                         fix="check that you exported the community polygons (and the layer name)")
    b = info.get("total_bounds")
    if b is None or not np.all(np.isfinite(b)):
        import pyogrio as po
        b = po.read_dataframe(c["path"], **kw).total_bounds
    if not np.all(np.isfinite(b)):
        raise InputError("the layer has no usable geometry", file=c["path"], field="communities.path",
                         fix="check that the community polygons have geometry")
    src_crs = info.get("crs") or c["crs"] or "EPSG:4326"
    from pyproj import Transformer
    lon, lat = Transformer.from_crs(src_crs, "EPSG:4326", always_xy=True).transform((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
    return lon, lat


def _circles(res, ag, net, speed, cfg):
    """Dissolved circles per category at every break; per-facility circles at each category's plan
    threshold (analysis.facility_circles)."""
    from .isochrones import category_circles, facility_circles, network_faces
    breaks = sorted(set(cfg["analysis"]["breaks_min"]))
    buf = cfg["analysis"]["circle_buffer_m"]
    faces = network_faces(net.edge_geometry, buf, 4)
    out, per_fac = [], []
    nd = len(res.demand)
    for cat in res.categories:
        fac_idx = np.flatnonzero((res.facilities.category == cat).to_numpy())
        src = nd + fac_idx
        node_d = road_node_distance(ag, src, max(breaks) * speed)
        g = category_circles(net.edge_u, net.edge_v, net.edge_length, net.edge_geometry, node_d,
                             [b * speed for b in breaks], buf,
                             node_x=net.node_x, node_y=net.node_y, crs=net.crs, faces=faces)
        g.insert(0, "category", cat)
        g.insert(1, "break_min", breaks)
        out.append(g)
        if cfg["analysis"]["facility_circles"] and len(fac_idx):
            t = res.main_threshold_min[cat] * speed
            _, node_mat = reach_matrix(ag, ag.point_node[src], np.empty(0, dtype=np.int64), t,
                                       road_nodes_too=True)
            f = facility_circles(net.edge_u, net.edge_v, net.edge_length, net.edge_geometry, node_mat,
                                 res.facilities.facility_id.to_numpy()[fac_idx], [t], buf,
                                 node_x=net.node_x, node_y=net.node_y, crs=net.crs, faces=faces)
            f.insert(0, "category", cat)
            f.insert(1, "break_min", res.main_threshold_min[cat])
            per_fac.append(f)
    circles = pd.concat(out, ignore_index=True) if out else None
    fc = pd.concat(per_fac, ignore_index=True) if per_fac else None
    return circles, fc


def _indicators(res, ag, nd, speed):
    from .indicators import evaluate, to_markdown
    from .standards import load_profile, required_thresholds_m
    prof = load_profile(res.cfg["profile"])
    need = required_thresholds_m(prof, speed)
    fac = res.facilities
    catch = {}
    dem = res.demand.copy()
    for cat in sorted(set(fac.category)):
        cutoff = need.get(cat)
        if cutoff is None:
            continue
        src = nd + np.flatnonzero((fac.category == cat).to_numpy())
        catch[cat] = reach_matrix(ag, ag.point_node[src], ag.point_node[:nd], cutoff)
        # indicators need distances up to the profile's own thresholds, which may be longer
        # than the ones the coverage tables searched
        if f"dist_{cat}" not in dem or cutoff > res.main_threshold_min.get(cat, 0) * speed:
            dem[f"dist_{cat}"], _ = nearest(ag, src, np.arange(nd), cutoff)
    comm = pd.DataFrame(res.communities.drop(columns="geometry"))
    facs = pd.DataFrame(fac.drop(columns="geometry"))
    table = evaluate(prof, comm, facs, pd.DataFrame(dem.drop(columns="geometry")), catch, speed)
    return table, to_markdown(table, level="area", lang="both")
