"""A study area and its analysis, step by step: the Python API and what the command line runs.

``Study`` holds the inputs (files named in a YAML, or GeoDataFrames and a network in memory)
and computes each step once, when something first needs it: reading, the network, snapping,
one bounded multi-source search per category, coverage tables, life circles, gaps, indicators
and siting. Every step is timed (seconds and the process's peak memory) in ``Study.timings``.
``Results`` is the view a planner or the report writers read; its parts are computed on first
use, so asking for indicators does not redo the network and no file is written until
``Results.write``.

    import coverage as lc
    study = lc.Study.from_yaml("data/sample/study.yaml")
    res = study.coverage()
    res.by_community, res.summary, res.demand_points
    study.gaps(); study.indicators("national_14th"); study.siting(k=5)
    res.write("out/sample")

This module joins the layers (io -> core -> analysis); it is the only place, with the command
line, that words warnings for people."""

from __future__ import annotations

import resource
import time
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .analysis.coverage import coverage_tables
from .analysis.demand import demand_points
from .analysis.gaps import GAP_SEARCH_FACTOR, service_gaps
from .config import StudyConfig, load_config
from .core.access import build_access_graph, nearest, reach_matrix, road_node_distance
from .core.crs import metric_crs
from .core.network import WalkNetwork, from_networkx
from .errors import InputError
from .io.communities import load_communities
from .io.facilities import load_facilities
from .io.network import load_network
from .io.raster import raster_cells
from .io.vector import EXCLUDED_COLUMNS, excluded_frame


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class _Steps:
    """Progress lines and per-step timings: wall seconds spent in the step itself (steps it calls
    are counted as theirs) and the process's peak resident memory when it ended."""

    def __init__(self, echo=None):
        self.echo = echo
        self.t0 = time.perf_counter()
        self.timings: dict[str, dict] = {}
        self._stack: list[list] = []   # [name, start, seconds spent in nested steps]

    def run(self, name, fn):
        if self.echo and name not in self.timings and all(f[0] != name for f in self._stack):
            self.echo(f"[{time.perf_counter() - self.t0:6.1f}s] {name} ...")
        frame = [name, time.perf_counter(), 0.0]
        self._stack.append(frame)
        try:
            return fn()
        finally:
            self._stack.pop()
            total = time.perf_counter() - frame[1]
            if self._stack:
                self._stack[-1][2] += total
            rec = self.timings.setdefault(name, {"seconds": 0.0, "peak_rss_mb": 0.0})
            rec["seconds"] = round(rec["seconds"] + total - frame[2], 3)
            rec["peak_rss_mb"] = round(_peak_rss_mb(), 1)


def _step(name):
    """Cache a Study method's result (per arguments) and time it as a step."""
    def deco(fn):
        def wrapper(self, *args, **kw):
            key = (fn.__name__, args, tuple(sorted(kw.items())))
            if key not in self._cache:
                self._cache[key] = self._steps.run(name, lambda: fn(self, *args, **kw))
            return self._cache[key]
        wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
        return wrapper
    return deco


class Study:
    """One study area. Give the YAML (``Study.from_yaml``), or the layers in memory::

        Study(communities=gdf, facilities=gdf_or_df, population="pop.tif", network=net_or_graph,
              config={"communities": {"fields": {"id": "code", "name": "name"}}, ...})

    ``config`` takes the keys of the study YAML (or a :class:`~coverage.config.StudyConfig`).
    ``network`` may be a :class:`~coverage.core.network.WalkNetwork`, an osmnx/networkx graph,
    or None to read the network file of the config. ``echo`` prints progress lines."""

    def __init__(self, communities=None, facilities=None, population=None, network=None, *, config=None,
                 echo=None):
        if config is None or isinstance(config, dict):
            raw = dict(config or {})
            for key, val in (("communities", communities), ("facilities", facilities), ("population", population)):
                if isinstance(val, (str, Path)):
                    raw.setdefault(key, {})
                    raw[key] = {**raw[key], "path": str(val)}
            if isinstance(network, (str, Path)):
                raw["network"] = {**raw.get("network", {}), "path": str(network)}
            config = StudyConfig.from_dict(raw, require_paths=False)
        self.config: StudyConfig = config
        self._data = {"communities": None if isinstance(communities, (str, Path)) else communities,
                      "facilities": None if isinstance(facilities, (str, Path)) else facilities,
                      "network": None if isinstance(network, (str, Path)) else network}
        for key, val, path in (("communities", communities, config.communities.path),
                               ("facilities", facilities, config.facilities.path),
                               ("population", population, config.population.path)):
            if val is None and path is None:
                raise InputError(f"no {key} given", file=config.file, field=f"{key}.path",
                                 fix=f"pass {key}= (a file or, except for population, a GeoDataFrame) or set "
                                     f"{key}.path in the config")
        if network is None and config.network.source is None:
            raise InputError("no walking network given", file=config.file, field="network.source",
                             fix="pass network= (a WalkNetwork or an osmnx graph) or set network.source and "
                                 "network.path")
        self._cache: dict = {}
        self._steps = _Steps(echo)
        self.warnings: list[str] = []

    @classmethod
    def from_yaml(cls, path, *, echo=None) -> "Study":
        return cls(config=load_config(path), echo=echo)

    # ------------------------------------------------------------------ settings
    @property
    def timings(self) -> dict:
        return self._steps.timings

    @property
    def speed_m_per_min(self) -> float:
        return self.config.speed_m_per_min

    @property
    def categories(self) -> list[str]:
        return list(self.config.analysis.categories)

    @property
    def thresholds(self) -> dict:
        """Each analysed category's plan threshold (:class:`~coverage.config.Threshold`)."""
        return {c: self.config.analysis.threshold(c) for c in self.categories}

    @property
    def breaks(self) -> tuple:
        return self.config.analysis.breaks

    def _cutoff(self, cat) -> float:
        """How far the search for a category goes: its breaks, GAP_SEARCH_FACTOR x its plan
        threshold (so gaps know the nearest facility), and the profile's thresholds."""
        need = self._profile_need().get(cat, 0.0)
        return max(max(b.metres for b in self.breaks), GAP_SEARCH_FACTOR * self.thresholds[cat].metres, need)

    def _profile_need(self) -> dict:
        from .analysis.standards import required_thresholds_m
        return required_thresholds_m(self.profile(), self.speed_m_per_min)

    @_step("reading the standards profile")
    def profile(self, name=None):
        from .io.profiles import load_profile
        return load_profile(name or self.config.profile)

    # ------------------------------------------------------------------ inputs
    @_step("reading communities")
    def _communities(self):
        c = self.config.communities
        gdf = self._data["communities"]
        if gdf is not None:
            if not isinstance(gdf, gpd.GeoDataFrame) or gdf.crs is None:
                raise InputError("communities must be a GeoDataFrame with a CRS", file="<communities>",
                                 field="communities", fix="read it with geopandas and set its CRS")
            if c.fields.id is None:
                idcol = next((k for k in ("community_id", "code", "id") if k in gdf.columns), None)
                if idcol is None:
                    raise InputError("no community code column", file="<communities>", field="communities.fields.id",
                                     fix="name the code column in config communities.fields.id")
                c = replace(c, fields=replace(c.fields, id=idcol))
            if len(gdf) == 0:
                raise InputError("the communities GeoDataFrame is empty", file="<communities>", field="communities",
                                 fix="pass the community polygons")
            source = "<communities>"
        else:
            from .io.vector import _read_vector
            gdf = _read_vector(c.path, c.layer, c.encoding, c.crs, "communities")
            source = c.path
        from .io.vector import lonlat_bounds
        bounds = lonlat_bounds(gdf, source)
        lon, lat = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
        crs = metric_crs(self.config.study_area.crs, lon, lat, file=self.config.file, bounds=bounds)
        comm, report, overlaps = load_communities(c, crs, gdf, source=source)
        return crs, comm, report, overlaps

    @property
    def crs(self):
        return self._communities()[0]

    @property
    def area(self):
        return self._area()[0]

    @_step("reading communities")
    def _area(self):
        comm = self._communities()[1]
        area = shapely.union_all(comm.geometry.values)
        max_m = max([b.metres for b in self.breaks] + [self._cutoff(c) for c in self.categories])
        buf = shapely.buffer(area, max_m + self.config.network.max_snap_m)
        return area, buf

    @_step("reading facilities")
    def _facilities(self):
        comm = self._communities()[1]
        area, buf = self._area()
        fac, excluded, report = load_facilities(_in_memory_fields(self.config.facilities, self._data["facilities"]),
                                                self.crs, buf, area, self._data["facilities"])
        if len(fac) == 0:
            top = report.get("top_unmatched_categories") or report.get("top_unmatched") or []
            seen = (f"; most frequent values: {', '.join(f'{n} ×{k}' for n, k in top[:10])}" if top else "")
            dropped = {}
            for d in report.get("dropped", {}).values():
                for r, n in d.items():
                    dropped[r] = dropped.get(r, 0) + n
            lost = (f"; {', '.join(f'{n} {r}' for r, n in dropped.items())}" if dropped else "")
            raise InputError(f"no facility is left to analyse: {report.get('unmatched', 0)} of "
                             f"{report.get('facilities_read', 0)} rows have no recognised plan category{lost}{seen}",
                             file=str(self.config.facilities.path),
                             field="facilities.fields.category" if not dropped else "facilities.x / facilities.y",
                             fix="check facilities.fields.category / fields.name point at the right columns, and map "
                                 "your values in facilities.category_map (e.g. {卫生室: health})" if not dropped else
                                 "check the coordinate columns facilities.x / facilities.y (and facilities.crs for "
                                 "projected X/Y)")
        tw = gpd.sjoin(fac[["geometry"]], comm[["community_id", "township", "geometry"]], how="left",
                       predicate="within")
        tw = tw[~tw.index.duplicated(keep="first")]
        fac["community_id"] = tw["community_id"].reindex(fac.index).values
        fac["township"] = tw["township"].reindex(fac.index).values
        return fac, excluded, report

    @_step("reading population raster and splitting cells by community")
    def _demand(self):
        comm = self._communities()[1]
        area, buf = self._area()
        p = self.config.population
        cells = raster_cells(p.path, area, self.crs, window_area=buf)
        groups = {g: raster_cells(gp, area, self.crs, key=f"population.groups.{g}", window_area=buf)
                  for g, gp in p.groups.items()}
        demand, report = demand_points(comm, cells, groups=groups, source=p.path)
        if not report["population_in_area"] > 0:
            n, nd = report["cells_touching_area"], report["nodata_cells_in_area"]
            what = (f"all {n} raster cells over the communities are nodata" if nd >= n else
                    f"the {n} raster cells over the communities hold no people ({nd} nodata, the rest 0"
                    + (f" or negative, down to {report['negative_min']:g}" if report["negative_cells"] else "") + ")")
            raise InputError(f"the population raster has no population over the study area: {what}", file=str(p.path),
                             field="population.path",
                             fix="use the population raster of this area (WorldPop 100 m or your census grid); if the "
                                 "cells hold people, check the raster's nodata value (gdalinfo) and its CRS")
        comm["population"] = demand.groupby("community_id")["population"].sum() \
            .reindex(comm.community_id).fillna(0.0).to_numpy()
        return demand, report

    @_step("building the walking network")
    def _network(self):
        n = self.config.network
        data = self._data["network"]
        area, buf = self._area()
        if isinstance(data, WalkNetwork):
            net = data if data.crs == self.crs else _reproject_network(data, self.crs)
        elif data is not None:
            net = from_networkx(data, self.crs, source="networkx graph")
        else:
            area_wgs = gpd.GeoSeries([buf], crs=self.crs).to_crs("EPSG:4326").iloc[0]
            net = load_network(n.source, n.path, crs=self.crs, area_wgs84=area_wgs,
                               roads_options=n.roads_options(), config_file=self.config.file)
        if net.n_edges == 0:
            raise InputError("the walking network has no edges (no walkable road in the file)",
                             file=str(n.path or "<network>"), field="network.path",
                             fix="use a network file that holds the streets of the study area")
        full_bounds = shapely.total_bounds(net.edge_geometry)
        net = net.clip(buf)
        if net.n_edges == 0:
            raise InputError(f"the walking network does not reach the study area: its extent is "
                             f"{self._lonlat_box(full_bounds)}, the communities' (with the walking buffer) "
                             f"{self._lonlat_box(shapely.bounds(buf))}", file=str(n.path or "<network>"),
                             field="network.path",
                             fix="use a network that covers the communities (an extract of this county), or check "
                                 "the CRS of the road file (network.crs)")
        return net

    @property
    def communities(self) -> gpd.GeoDataFrame:
        self._demand()  # adds the population column
        return self._communities()[1]

    @property
    def facilities(self) -> gpd.GeoDataFrame:
        return self._facilities()[0]

    @property
    def demand(self) -> gpd.GeoDataFrame:
        return self._demand()[0]

    @property
    def network(self) -> WalkNetwork:
        return self._network()

    # ------------------------------------------------------------------ access
    @_step("snapping demand and facilities onto the network")
    def access(self):
        """The access graph: demand points and facilities (and siting candidates) snapped onto
        their nearest edge, as the named point sets ``demand``, ``facilities``, ``candidates``."""
        demand, fac, net = self.demand, self.facilities, self.network
        sets = {"demand": (shapely.get_x(demand.geometry.values), shapely.get_y(demand.geometry.values)),
                "facilities": (shapely.get_x(fac.geometry.values), shapely.get_y(fac.geometry.values))}
        cand = self._candidates()
        if cand is not None:
            pts = cand.geometry.representative_point().values
            sets["candidates"] = (shapely.get_x(pts), shapely.get_y(pts))
        ag = build_access_graph(net, sets, max_snap_m=self.config.network.max_snap_m)
        demand["snap_m"] = ag.of("demand", ag.point_snap)
        fac["snap_m"] = ag.of("facilities", ag.point_snap)
        return ag

    def _candidates(self):
        s = self.config.siting
        if not (s.enabled and s.candidates):
            return None
        return self._read_layer(s.candidates, "siting.candidates")

    def _read_layer(self, path, key):
        key_cache = ("layer", str(path))
        if key_cache not in self._cache:
            from .io.vector import _read_vector
            self._cache[key_cache] = _read_vector(path, key=key.split(".")[0]).to_crs(self.crs)
        return self._cache[key_cache]

    def _fac_points(self, cat):
        fac = self.facilities
        return self.access().ids("facilities", np.flatnonzero((fac.category == cat).to_numpy()))

    @_step("bounded multi-source shortest paths per category")
    def distances(self, cat, cutoff=None):
        """Walking distance (m) from every demand point to the nearest facility of ``cat`` (inf
        beyond ``cutoff``, default :meth:`_cutoff`) and the index of that facility (-1 when none)."""
        ag = self.access()
        cutoff = self._cutoff(cat) if cutoff is None else cutoff
        return nearest(ag, self._fac_points(cat), ag.ids("demand"), cutoff)

    @_step("facility catchments (bounded searches per facility)")
    def catchment(self, cat, cutoff):
        """Sparse (facilities of ``cat`` × demand points) matrix of walks ≤ ``cutoff`` metres."""
        ag = self.access()
        return reach_matrix(ag, ag.point_node[self._fac_points(cat)], ag.point_node[ag.ids("demand")], cutoff)

    # ------------------------------------------------------------------ analyses
    @_step("coverage rates")
    def _coverage(self):
        demand, fac = self.demand, self.facilities
        ids_all = fac.facility_id.to_numpy(dtype=object)
        pop_col_for = {}
        for cat in self.categories:
            dist, who = self.distances(cat)
            demand[f"dist_{cat}"] = dist
            ids = ids_all[(fac.category == cat).to_numpy()]
            demand[f"nearest_{cat}"] = np.where(who >= 0, ids[np.maximum(who, 0)] if len(ids) else None, None)
            g = self.config.population.group_for.get(cat)
            if g:
                pop_col_for[cat] = f"pop_{g}"
        return coverage_tables(self.communities, fac, demand, self.categories, self.breaks, self.thresholds,
                               self.speed_m_per_min, pop_col_for)

    def coverage(self) -> "Results":
        """Coverage tables and demand points with their distances; nothing is written."""
        self._coverage()
        return Results(self)

    @_step("life-circle polygons")
    def life_circles(self, method="raster", cell_m=None):
        """(category circles at every break, per-facility circles at the plan threshold or None).

        Drawn from the reached network (coverage.core.isochrones): on a raster of ``cell_m``
        metres (config ``analysis.circle_cell_m``, default 10) by default, or with exact buffers
        (``method="faces"`` or ``"buffers"``: slow on a county). Coverage never comes from them."""
        from .core.isochrones import DEFAULT_CELL_M, category_circles, circle_grid, facility_circles
        from .core.isochrones import network_faces
        a = self.config.analysis
        net, ag, fac = self.network, self.access(), self.facilities
        breaks = sorted(self.breaks)
        cell_m = float(cell_m or getattr(a, "circle_cell_m", None) or DEFAULT_CELL_M)
        draw = {"method": method, "crs": net.crs, "node_x": net.node_x, "node_y": net.node_y}
        if method == "raster":
            draw.update(grid=circle_grid(net.edge_geometry, a.circle_buffer_m, cell_m), cell_m=cell_m)
        elif method == "faces":
            draw.update(faces=network_faces(net.edge_geometry, a.circle_buffer_m, 4))
        edges = (net.edge_u, net.edge_v, net.edge_length, net.edge_geometry)
        out, per_fac = [], []
        for cat in self.categories:
            src = self._fac_points(cat)
            node_d = road_node_distance(ag, src, breaks[-1].metres)
            g = category_circles(*edges, node_d, [b.metres for b in breaks], a.circle_buffer_m, **draw)
            g.insert(0, "category", cat)
            g.insert(1, "break_min", [b.minutes_at(self.speed_m_per_min) for b in breaks])
            out.append(g)
            if a.facility_circles and len(src):
                t = self.thresholds[cat]
                ids = fac.facility_id.to_numpy()[(fac.category == cat).to_numpy()]
                _, node_mat = reach_matrix(ag, ag.point_node[src], np.empty(0, dtype=np.int64), t.metres,
                                           road_nodes_too=True)
                f = facility_circles(*edges, node_mat, ids, [t.metres], a.circle_buffer_m, **draw)
                del node_mat
                f.insert(0, "category", cat)
                f.insert(1, "break_min", t.minutes_at(self.speed_m_per_min))
                per_fac.append(f)
        circles = pd.concat(out, ignore_index=True) if out else None
        fc = pd.concat(per_fac, ignore_index=True) if per_fac else None
        return circles, fc

    @_step("service gaps")
    def gaps(self) -> gpd.GeoDataFrame:
        self._coverage()
        return service_gaps(self.demand, self.communities, self.categories, self.thresholds, self.speed_m_per_min)

    @_step("plan indicators")
    def indicators(self, profile=None, **options) -> pd.DataFrame:
        """Every indicator of the profile (the config's by default) by community, township and area.

        ``options`` choose the profile's options, e.g. ``indicators("guangdong_13th", region="ewn")``;
        for the config's profile they default to the study YAML's ``profile_options``."""
        from .analysis.indicators import evaluate
        from .analysis.standards import required_thresholds_m
        self._coverage()
        prof = self.profile(profile)
        if profile is None:
            options = {**(getattr(self.config, "profile_options", None) or {}), **options}
        if options:
            prof = prof.with_options(options)
        need = required_thresholds_m(prof, self.speed_m_per_min)
        fac = self.facilities
        dem = pd.DataFrame(self.demand.drop(columns="geometry"))
        catch = {}
        for cat in sorted(set(fac.category)):
            cutoff = need.get(cat)
            if cutoff is None:
                continue
            catch[cat] = self.catchment(cat, cutoff)
            if cat not in self.categories or cutoff > self._cutoff(cat):
                dem[f"dist_{cat}"] = self.distances(cat, cutoff)[0]
        comm = pd.DataFrame(self.communities.drop(columns="geometry"))
        facs = pd.DataFrame(fac.drop(columns="geometry"))
        return evaluate(prof, comm, facs, dem, catch, self.speed_m_per_min)

    @_step("siting suggestions")
    def siting(self, **overrides):
        """(suggested sites GeoDataFrame, siting summary). Keyword arguments override the config's
        siting settings, e.g. ``k=10`` or ``target_rate=0.9``."""
        from .analysis.siting.plan import households_per_point, suggest_sites
        s = self.config.siting
        if overrides:
            from .config import StudyConfig as _C
            merged = {k: getattr(s, k) for k in s.__dataclass_fields__}
            merged.update(overrides)
            raw = {k: (str(v) if isinstance(v, Path) else (list(v) if isinstance(v, tuple) else v))
                   for k, v in merged.items() if v is not None}
            s = _C.from_dict({"siting": raw}, require_paths=False).siting
        self._coverage()
        exclude = None
        if s.exclude:
            exclude = self._read_layer(s.exclude, "siting.exclude").geometry.values
        return suggest_sites(self.access(), self.network, self.demand, self.communities, self.thresholds,
                             self.categories, s, self.speed_m_per_min,
                             use_candidate_set=bool(s.candidates) and "candidates" in self.access().sets,
                             exclude=exclude, households_per_point=households_per_point(self.communities,
                                                                                        self.demand),
                             matrices=self._siting_matrices())

    def run(self) -> "Results":
        """Every step the command line runs, in order; returns the Results."""
        res = self.coverage()
        if self.config.analysis.circles:
            self.life_circles()
        self.gaps()
        self.indicators()
        if self.config.siting.enabled:
            self.siting()
        res.warnings  # noqa: B018 (words the warnings now, so they print with the summary)
        return res

    # ------------------------------------------------------------------ accounting
    def excluded(self) -> pd.DataFrame:
        """Every input left out and why (``excluded.csv``). The population rows whose ``feature_id``
        starts with "cells" are the people of the raster window outside every community: with the
        communities' population they add up to the raster's total over the window read (stated)."""
        cfg = self.config
        ag, demand, fac = self.access(), self.demand, self.facilities
        _, fac_excluded, _ = self._facilities()
        far_d = ~ag.of("demand", ag.snapped)
        far_f = ~ag.of("facilities", ag.snapped)
        snap = cfg.network.max_snap_m
        dropped = self._communities()[2].get("dropped", [])
        parts = [excluded_frame("communities", cfg.communities.path or "<communities>", [d[0] for d in dropped],
                                [d[1] for d in dropped], [d[2] for d in dropped]),
                 fac_excluded,
                 excluded_frame("facilities", cfg.facilities.path, fac.facility_id[far_f],
                                f"farther than network.max_snap_m = {snap:g} m from any road",
                                "kept in the tables, but serves nobody"),
                 excluded_frame("population", cfg.population.path, demand.demand_id[far_d],
                                f"demand point farther than network.max_snap_m = {snap:g} m from any road",
                                [f"population {p:.1f} in {c}: counted as not covered"
                                 for p, c in zip(demand.population[far_d], demand.community_id[far_d])])]
        rep = self._demand()[1]
        lost = rep["population_of_touching_cells_outside_area"]
        if lost > 0.05:
            parts.append(excluded_frame("population", cfg.population.path, ["cells cut by the study-area edge"],
                                        "population of raster cells lying outside every community",
                                        f"{lost:.1f} people (area-weighted share of edge cells outside the communities)"))
        far = rep["population_outside_area_cells"]
        if far > 0.05 or rep.get("window_bounds"):     # always states the window read (the accounting's total)
            parts.append(excluded_frame("population", cfg.population.path, ["cells outside the study area"],
                                        "raster population outside the study area",
                                        f"{far:.1f} people in raster cells outside every community, within the "
                                        f"window read: {self._window_words(rep)}"))
        if rep.get("negative_cells"):
            parts.append(excluded_frame("population", cfg.population.path, ["negative raster cells"],
                                        "raster cells with negative values, counted as 0",
                                        f"{rep['negative_cells']} cells in the window read, values down to "
                                        f"{rep['negative_min']:g} (an undeclared nodata value?)"))
        if rep.get("nodata_cells_in_area"):
            parts.append(excluded_frame("population", cfg.population.path, ["nodata raster cells"],
                                        "raster cells over the communities with no data (nodata)",
                                        f"{rep['nodata_cells_in_area']} cells; the raster covers "
                                        f"{rep.get('raster_share_of_area', 1.0):.1%} of the communities' area"))
        rx = self.network.report.get("roads_excluded")
        if rx is not None and len(rx):
            parts.append(excluded_frame("network", cfg.network.path, rx["feature"], rx["reason"], rx.get("detail", "")))
        out = pd.concat(parts, ignore_index=True)[EXCLUDED_COLUMNS]
        out["file"] = out["file"].map(lambda f: cfg.relative(f) if f not in ("", "None") else "")
        return out

    def report(self) -> dict:
        ag, demand, net = self.access(), self.demand, self.network
        comm_report, overlaps = self._communities()[2:]
        far_d = ~ag.of("demand", ag.snapped)
        rep = self._demand()[1]
        return {"communities": comm_report, "overlaps": overlaps, "facilities": self._facilities()[2],
                "demand": rep, "network": {k: v for k, v in net.report.items() if np.isscalar(v)},
                "network_nodes": net.n_nodes, "network_edges": net.n_edges,
                "demand_points": len(demand), "demand_unsnapped": int(far_d.sum()),
                "population_unsnapped": float(demand.population[far_d].sum()),
                "facilities_unsnapped": int((~ag.of("facilities", ag.snapped)).sum()),
                "population_accounting": self._population_accounting(),
                "coord_system_check": self._coord_system_check()}

    def warning_lines(self) -> list[str]:
        """The warnings of this run, worded for the planner."""
        out = list(self.config.notes)
        ag, demand = self.access(), self.demand
        far_d = ~ag.of("demand", ag.snapped)
        pop_all = float(demand.population.sum())
        pop_far = float(demand.population[far_d].sum())
        snap = self.config.network.max_snap_m
        if pop_all > 0 and pop_far / pop_all > 0.10:
            out.append(f"{int(far_d.sum())} of {len(demand)} demand points ({pop_far:.0f} of {pop_all:.0f} people, "
                       f"{pop_far / pop_all:.0%}) are farther than network.max_snap_m = {snap:g} m from any road; they "
                       "count as not covered and are listed in excluded.csv. Check that the network covers the "
                       "communities or raise network.max_snap_m.")
        comm_report = self._communities()[2]
        out += [n for n in comm_report.get("notes", [])]
        if comm_report.get("crs_note"):
            out.append(comm_report["crs_note"])
        if comm_report.get("invalid_repaired"):
            out.append(f"{comm_report['invalid_repaired']} invalid community polygons were repaired (make_valid)")
        if comm_report.get("overlap_pairs"):
            out.append(f"{comm_report['overlap_pairs']} pairs of communities overlap ({comm_report['overlap_m2']:.0f} m²); "
                       "each overlap was given to the community with the lower code so nobody is counted twice")
        dropped = comm_report.get("dropped", [])
        if dropped:
            out.append(f"{len(dropped)} communities have no area and are left out of the analysis (listed in "
                       f"excluded.csv): " + "; ".join(f"{d[0]} {d[1].split(':')[0].replace('community ', '')}"
                                                      + (f", {d[2]}" if d[2] else "") for d in dropped[:10])
                       + f" [file: {self.config.communities.path}; field: communities.path] fix: redraw them as polygons")
        out += self._population_warnings()
        out += self._facility_warnings()
        chk = self._coord_system_check()
        if chk and chk.get("warning"):
            out.append(chk["warning"])
        return out + self.warnings

    # ------------------------------------------------------------------ checks (private helpers)
    def _lonlat_box(self, bounds) -> str:
        """A metric bounding box as '(lon0, lat0, lon1, lat1)' in degrees, for messages."""
        from pyproj import Transformer
        tr = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        x0, y0, x1, y1 = (float(v) for v in bounds)
        lon, lat = tr.transform([x0, x1, x0, x1], [y0, y0, y1, y1])
        return f"({min(lon):.4f}, {min(lat):.4f}, {max(lon):.4f}, {max(lat):.4f}) lon/lat"

    def _window_words(self, rep) -> str:
        wb = rep.get("window_bounds")
        where = (f"the study area and its {self._buffer_m():.0f} m walking buffer, bounds "
                 f"{tuple(round(v, 4) for v in wb)} in {rep.get('raster_crs')}" if wb else "the study area")
        return (f"{where}; raster total there {rep.get('raster_total_in_window', 0.0):.1f} people "
                f"(= population in communities + the 'cells ...' rows of excluded.csv)")

    def _buffer_m(self) -> float:
        return max([b.metres for b in self.breaks] + [self._cutoff(c) for c in self.categories]) \
            + self.config.network.max_snap_m

    def _population_accounting(self) -> dict:
        """People of the raster window: in communities + outside them (edge cells, outside cells) = total."""
        rep = self._demand()[1]
        inside = float(self.communities.population.sum())
        edge = float(rep["population_of_touching_cells_outside_area"])
        outside = float(rep["population_outside_area_cells"])
        total = float(rep.get("raster_total_in_window", inside + edge + outside))
        return {"raster_total_in_window": total, "in_communities": inside, "edge_cells_outside": edge,
                "cells_outside": outside, "difference": total - inside - edge - outside,
                "window_bounds": rep.get("window_bounds"), "raster_crs": rep.get("raster_crs")}

    def _population_warnings(self) -> list[str]:
        out = []
        cfg = self.config
        rep = self._demand()[1]
        comm = self.communities
        raster = cfg.population.path
        share = rep.get("raster_share_of_area", 1.0)
        by = rep.get("raster_share_by_community", {})
        if share < 0.98:
            out.append(f"the population raster covers only {share:.0%} of the communities' area (the rest is outside "
                       f"the raster or nodata): people there are not counted [file: {raster}; field: population.path] "
                       "fix: use a raster that covers the whole study area")
        hh = comm["households"].to_numpy(dtype=float)
        pop = comm["population"].to_numpy(dtype=float)
        empty = np.isfinite(hh) & (hh > 0) & (pop <= 0.5)
        if empty.any():
            ids = comm.community_id.to_numpy()[empty]
            listed = "; ".join(f"{i} ({h:,.0f} households, raster covers {float(by.get(i, 0.0)):.0%} of it)"
                               for i, h in list(zip(ids, hh[empty]))[:10])
            out.append(f"{int(empty.sum())} communities have households but population 0 in the raster: {listed}"
                       f"{' ...' if empty.sum() > 10 else ''} [file: {raster}; field: population.path] fix: use a "
                       "population raster that covers these communities (check its extent and nodata)")
        if rep.get("negative_cells"):
            out.append(f"{rep['negative_cells']} raster cells have negative values (down to {rep['negative_min']:g}); "
                       f"they were counted as 0 people [file: {raster}; field: population.path] fix: if they mean "
                       f"'no data', declare it: gdal_edit.py -a_nodata {rep['negative_min']:g} {Path(str(raster)).name}")
        if rep.get("bands", 1) > 1:
            out.append(f"the population raster has {rep['bands']} bands; only band 1 is read as people per cell "
                       f"[file: {raster}; field: population.path] fix: if the people are in another band, save that band "
                       "alone (gdal_translate -b N in.tif out.tif)")
        acc = self._population_accounting()
        if acc["raster_total_in_window"] > 0 and abs(acc["difference"]) > 1e-3 * acc["raster_total_in_window"]:
            out.append(f"population accounting does not close: raster total {acc['raster_total_in_window']:.1f}, "
                       f"in communities {acc['in_communities']:.1f}, outside {acc['edge_cells_outside'] + acc['cells_outside']:.1f}"
                       " (please report this)")
        pa = comm["population_attr"].to_numpy(dtype=float) if "population_attr" in comm else np.array([])
        if len(pa) and np.isfinite(pa).any():
            col = cfg.communities.fields.population
            ok = np.isfinite(pa)
            t_attr, t_rast = float(pa[ok].sum()), float(pop[ok].sum())
            ratio = pop / np.where(pa > 0, pa, np.nan)
            far = ok & (pa >= 100) & ((ratio < 0.5) | (ratio > 2.0) | ~np.isfinite(ratio))
            if t_attr > 0 and (abs(t_rast / t_attr - 1) > 0.2 or far.any()):
                ids = comm.community_id.to_numpy()
                worst = np.argsort(-np.abs(pop - np.nan_to_num(pa)) * far)[:5]
                listed = "; ".join(f"{ids[i]} attribute {pa[i]:,.0f} vs raster {pop[i]:,.0f}" for i in worst if far[i])
                out.append(f"the population column communities.fields.population ({col!r}) and the raster differ: "
                           f"{t_attr:,.0f} people in the column, {t_rast:,.0f} in the raster over the same "
                           f"communities ({t_rast / t_attr:.0%})" + (f"; {int(far.sum())} communities differ by more "
                                                                       f"than 2x: {listed}" if far.any() else "")
                           + f". Coverage counts the raster; the column is only a check [file: "
                             f"{cfg.communities.path}; field: communities.fields.population] fix: check the raster's "
                             "year, extent and units, or the column")
        return out

    def _facility_warnings(self) -> list[str]:
        out = []
        cfg = self.config
        fac, _, rep = self._facilities()
        path = cfg.facilities.path
        out += list(rep.get("notes", []))
        if rep.get("crs_note"):
            out.append(rep["crs_note"])
        if rep.get("hint"):
            out.append(f"{rep['hint']} (listed in excluded.csv)")
        ag = self.access()
        far_f = ~ag.of("facilities", ag.snapped)
        dropped = {k: dict(v) for k, v in rep.get("dropped", {}).items()}
        snap = cfg.network.max_snap_m
        for cat, n in fac.category[far_f].value_counts().items():
            dropped.setdefault(cat, {})[f"farther than network.max_snap_m = {snap:g} m from any road"] = int(n)
        read = rep.get("read_by_category", {})
        if dropped:
            parts = []
            for cat in sorted(dropped, key=lambda k: (-sum(dropped[k].values()), k)):
                n = sum(dropped[cat].values())
                why = ", ".join(f"{v} {k}" for k, v in sorted(dropped[cat].items(), key=lambda kv: -kv[1]))
                parts.append(f"{cat} {n} of {read.get(cat, n)} ({why})")
            reasons = {k for v in dropped.values() for k in v}
            fixes = []
            if any("coordinates" in r or "outside" in r for r in reasons):
                fixes.append("correct their coordinates (facilities.x / facilities.y, facilities.coord_system)")
            if any("max_snap_m" in r for r in reasons):
                fixes.append("for those far from any road, check the network covers them or raise network.max_snap_m")
            out.append("facilities left out of the coverage (listed in excluded.csv): " + "; ".join(parts)
                       + f" [file: {path}; field: facilities.x / facilities.y] fix: " + "; ".join(fixes))
        for cat in self.categories:
            n_read = read.get(cat, 0)
            n_used = int(((fac.category == cat).to_numpy() & ~far_f).sum())
            if n_read and not n_used:
                out.append(f"{cat}: all {n_read} of its facilities were left out (see above), so its coverage is 0% "
                           f"[file: {path}] fix: correct their coordinates or the study area")
            elif not n_read:
                out.append(f"{cat}: no facility of this category in the table, so its coverage is 0% [file: {path}; "
                           f"field: facilities.fields.category] fix: add them, map your category values in "
                           f"facilities.category_map, or drop the category from analysis.categories")
        if rep.get("unmatched"):
            top = rep.get("top_unmatched", [])
            topc = rep.get("top_unmatched_categories", [])
            line = f"{rep['unmatched']} facilities have no recognised category and are left out (listed in excluded.csv)"
            if topc:
                line += "; most frequent category values: " + ", ".join(f"{n} ×{k}" for n, k in topc)
            if top:
                line += "; most frequent names: " + ", ".join(f"{n} ×{k}" for n, k in top)
            out.append(line + f" [file: {path}; field: facilities.fields.category] fix: map them in "
                              "facilities.category_map (e.g. {卫生室: health}) or add keywords to facilities.keywords")
        return out

    def _coord_system_check(self):
        """Which coordinate system (WGS84, GCJ-02, BD-09) puts the facilities nearest the roads.

        A table of Amap (GCJ-02) or Baidu (BD-09) coordinates declared as WGS84 lands ~300-700 m off
        in China. The facilities' median distance to the nearest road is measured as declared and as
        the other systems would place them (a sample of at most 2,000 facilities, one STRtree
        nearest query each); another system fitting clearly better gives a warning."""
        key = ("coord_system_check",)
        if key in self._cache:
            return self._cache[key]
        result = None
        fac, _, rep = self._facilities()
        if rep.get("geographic_input") and len(fac) >= 5:
            result = self._coord_system_fit(fac, rep.get("coord_system") or "wgs84")
        self._cache[key] = result
        return result

    def _coord_system_fit(self, fac, declared):
        from pyproj import Transformer
        from .io.coords import normalise_system, out_of_china, to_wgs84, wgs84_to_bd09, wgs84_to_gcj02
        declared = normalise_system(declared)
        sample = fac if len(fac) <= 2000 else fac.sample(2000, random_state=0)
        to_ll = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        to_m = Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)
        lon, lat = to_ll.transform(shapely.get_x(sample.geometry.values), shapely.get_y(sample.geometry.values))
        lon, lat = np.asarray(lon), np.asarray(lat)
        if np.mean(out_of_china(lon, lat)) > 0.5:
            return None
        # the coordinates as written in the table
        raw = {"wgs84": lambda a, b: (a, b), "gcj02": wgs84_to_gcj02, "bd09": wgs84_to_bd09}[declared](lon, lat)
        tree = shapely.STRtree(self.network.edge_geometry)
        med, dist = {}, {}
        for system in ("wgs84", "gcj02", "bd09"):
            la, ba = to_wgs84(raw[0], raw[1], system)
            x, y = to_m.transform(la, ba)
            _, d = tree.query_nearest(shapely.points(x, y), return_distance=True, all_matches=False)
            dist[system] = np.asarray(d, dtype=float)
            med[system] = float(np.median(d))
        best = min(med, key=med.get)
        closer = float(np.mean(dist[best] < dist[declared]))
        out = {"declared": declared, "median_road_distance_m": med, "best": best, "sample": int(len(sample)),
               "share_closer": closer}
        # clearly better: the median distance at most 60 % of the declared one (and 5 m shorter), and
        # most facilities nearer a road
        if best != declared and med[best] <= 0.6 * med[declared] and med[declared] - med[best] >= 5 and closer >= 0.55:
            label = {"wgs84": "wgs84 (GPS, OSM, CGCS2000)", "gcj02": "gcj02 (Amap/Gaode, Tencent)",
                     "bd09": "bd09 (Baidu)"}
            out["warning"] = (f"the facility coordinates fit the roads much better as {best.upper()} than as declared "
                              f"({declared.upper()}): median distance to the nearest road {med[best]:.0f} m instead of "
                              f"{med[declared]:.0f} m ({len(sample)} facilities); they were probably copied from "
                              f"{'Amap/Tencent' if best == 'gcj02' else 'Baidu' if best == 'bd09' else 'GPS/OSM'}, which "
                              f"moves them several hundred metres [file: {self.config.facilities.path}; field: "
                              f"facilities.coord_system] fix: set facilities.coord_system: {label[best]}")
        return out

    def _siting_matrices(self):
        """Candidate × demand rows already searched by siting, reused by every siting call (and by
        categories sharing a threshold): :class:`~coverage.analysis.siting.plan.CoverageMatrices`."""
        if "siting_matrices" not in self._cache:
            from .analysis.siting.plan import CoverageMatrices
            self._cache["siting_matrices"] = CoverageMatrices()
        return self._cache["siting_matrices"]


class Results:
    """What a study found, read lazily from its :class:`Study` (each part is computed on first use)."""

    def __init__(self, study: Study):
        object.__setattr__(self, "_over", {})
        self.study = study
        self.config = study.config

    def __getattribute__(self, name):
        over = object.__getattribute__(self, "_over")
        if name in over:
            return over[name]
        return object.__getattribute__(self, name)

    def __setattr__(self, name, value):
        """Setting a computed part (e.g. ``res.facilities = subset``) overrides it in this object
        only, for drawing what-if variants; the study is not changed."""
        if isinstance(getattr(type(self), name, None), property):
            self._over[name] = value
        else:
            object.__setattr__(self, name, value)

    def __copy__(self):
        other = Results(self.study)
        other._over.update(self._over)
        return other

    # settings
    @property
    def crs(self):
        return self.study.crs

    @property
    def title(self) -> str:
        return self.config.study_area.name

    @property
    def categories(self) -> list:
        return self.study.categories

    @property
    def thresholds(self) -> dict:
        return self.study.thresholds

    @property
    def breaks(self) -> tuple:
        return self.study.breaks

    @property
    def speed_m_per_min(self) -> float:
        return self.study.speed_m_per_min

    @property
    def main_threshold_min(self) -> dict:
        """Each category's plan threshold in minutes of walking (a distance threshold's equivalent)."""
        return {c: t.minutes_at(self.speed_m_per_min) for c, t in self.thresholds.items()}

    def threshold_label(self, cat, lang="zh") -> str:
        return self.thresholds[cat].label(lang)

    # layers and tables
    @property
    def communities(self):
        return self.study.communities

    @property
    def facilities(self):
        return self.study.facilities

    @property
    def demand(self):
        self.study._coverage()
        return self.study.demand

    demand_points = demand

    @property
    def network(self):
        return self.study.network

    @property
    def coverage_by_community(self) -> pd.DataFrame:
        return self.study._coverage()[0]

    by_community = coverage_by_community

    @property
    def coverage_summary(self) -> pd.DataFrame:
        return self.study._coverage()[1]

    summary = coverage_summary

    @property
    def circles(self):
        return self.study.life_circles()[0] if self.config.analysis.circles else None

    @property
    def facility_circles(self):
        return self.study.life_circles()[1] if self.config.analysis.circles else None

    @property
    def gaps(self):
        return self.study.gaps()

    @property
    def indicators(self) -> pd.DataFrame:
        return self.study.indicators()

    @property
    def indicators_md(self) -> str:
        """The area-level indicator table in the report language (output.lang: zh or en)."""
        from .report.markdown import to_markdown
        return to_markdown(self.indicators, level="area", lang=self.config.output.lang)

    @property
    def sites(self):
        return self.study.siting()[0] if self.config.siting.enabled else None

    @property
    def siting_summary(self):
        return self.study.siting()[1] if self.config.siting.enabled else None

    @property
    def excluded(self) -> pd.DataFrame:
        return self.study.excluded()

    @property
    def report(self) -> dict:
        return self.study.report()

    @property
    def warnings(self) -> list[str]:
        if not hasattr(self, "_warnings"):
            self._warnings = self.study.warning_lines()
        return self._warnings

    @property
    def timings(self) -> dict:
        return {k: v["seconds"] for k, v in self.study.timings.items()}

    def replace(self, **parts) -> "Results":
        """A copy with some parts replaced (e.g. ``coverage_summary=df``), for what-if drawings."""
        other = self.__copy__()
        for k, v in parts.items():
            setattr(other, k, v)
        return other

    def only(self, categories) -> "Results":
        """The same results shown for some categories only (a map per category)."""
        other = self.__copy__()
        other.categories = list(categories)
        return other

    # outputs
    def write(self, out_dir=None, map_path=None) -> dict:
        """Write every table, layer, map, figure and the report (what the command line writes)."""
        from .report.outputs import write_outputs
        out_dir = self.config.output.folder if out_dir is None else out_dir
        return write_outputs(self, out_dir, map_path or self.config.output.map)

    def explore(self, category=None):
        """The interactive map as a folium.Map (shows itself in a notebook)."""
        from .report.webmap import build_map
        res = self.only([category]) if category else self
        return build_map(res, lang=self.config.output.lang, basemap=self.config.output.basemap)


def _in_memory_fields(f, data):
    """For a facility table given in memory, fields not configured default to columns of the usual
    names (category, name, id, area_m2, level)."""
    if data is None:
        return f
    cols = set(getattr(data, "columns", []))
    guess = {"category": "category", "name": "name", "id": "id", "area": "area_m2", "level": "level"}
    new = {k: c for k, c in guess.items() if getattr(f.fields, k) is None and c in cols}
    return replace(f, fields=replace(f.fields, **new)) if new else f


def _centre_lonlat(bounds, crs):
    from pyproj import Transformer
    b = np.asarray(bounds, dtype=float)
    if not np.all(np.isfinite(b)):
        raise InputError("the communities have no usable geometry", file="<communities>", field="communities",
                         fix="check that the community polygons have geometry")
    return Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)


def _reproject_network(net: WalkNetwork, crs) -> WalkNetwork:
    from pyproj import Transformer
    tr = Transformer.from_crs(net.crs, crs, always_xy=True)
    x, y = tr.transform(net.node_x, net.node_y)
    geom = shapely.transform(net.edge_geometry, lambda xy: np.c_[tr.transform(xy[:, 0], xy[:, 1])])
    from .core.network import from_edge_arrays
    return from_edge_arrays(net.node_id, x, y, net.node_id[net.edge_u], net.node_id[net.edge_v], geom,
                            net.edge_name, crs=crs, source=net.source)


def run(config, echo=print) -> Results:
    """Run every step of a study config (a :class:`~coverage.config.StudyConfig` or a YAML path)."""
    if not isinstance(config, StudyConfig):
        config = load_config(config)
    return Study(config=config, echo=echo).run()
