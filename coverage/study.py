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
            lon, lat = _centre_lonlat(gdf.total_bounds, gdf.crs)
        else:
            from .io.vector import peek_centre
            lon, lat = peek_centre(c.path, c.layer, c.crs)
        crs = metric_crs(self.config.study_area.crs, lon, lat, file=self.config.file)
        comm, report, overlaps = load_communities(c, crs, gdf)
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
            raise InputError("no facility of any plan category was found", file=str(self.config.facilities.path),
                             field="facilities.fields.category", fix="check the category column or names")
        tw = gpd.sjoin(fac[["geometry"]], comm[["community_id", "township", "geometry"]], how="left",
                       predicate="within")
        tw = tw[~tw.index.duplicated(keep="first")]
        fac["community_id"] = tw["community_id"].reindex(fac.index).values
        fac["township"] = tw["township"].reindex(fac.index).values
        return fac, excluded, report

    @_step("reading population raster and splitting cells by community")
    def _demand(self):
        comm = self._communities()[1]
        area = self.area
        p = self.config.population
        cells = raster_cells(p.path, area, self.crs)
        groups = {g: raster_cells(gp, area, self.crs, key=f"population.groups.{g}") for g, gp in p.groups.items()}
        demand, report = demand_points(comm, cells, groups=groups, source=p.path)
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
        net = net.clip(buf)
        if net.n_edges == 0:
            raise InputError("the walking network has no edges inside the study area", file=str(n.path),
                             field="network.path", fix="use a network that covers the communities")
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

    @_step("bounded multi-source shortest paths per category")
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
    def life_circles(self):
        """(category circles at every break, per-facility circles at the plan threshold or None)."""
        from .core.isochrones import category_circles, facility_circles, network_faces
        a = self.config.analysis
        net, ag, fac = self.network, self.access(), self.facilities
        breaks = sorted(self.breaks)
        faces = network_faces(net.edge_geometry, a.circle_buffer_m, 4)
        out, per_fac = [], []
        for cat in self.categories:
            src = self._fac_points(cat)
            node_d = road_node_distance(ag, src, breaks[-1].metres)
            g = category_circles(net.edge_u, net.edge_v, net.edge_length, net.edge_geometry, node_d,
                                 [b.metres for b in breaks], a.circle_buffer_m, node_x=net.node_x,
                                 node_y=net.node_y, crs=net.crs, faces=faces)
            g.insert(0, "category", cat)
            g.insert(1, "break_min", [b.minutes_at(self.speed_m_per_min) for b in breaks])
            out.append(g)
            if a.facility_circles and len(src):
                t = self.thresholds[cat]
                _, node_mat = reach_matrix(ag, ag.point_node[src], np.empty(0, dtype=np.int64), t.metres,
                                           road_nodes_too=True)
                ids = fac.facility_id.to_numpy()[(fac.category == cat).to_numpy()]
                f = facility_circles(net.edge_u, net.edge_v, net.edge_length, net.edge_geometry, node_mat, ids,
                                     [t.metres], a.circle_buffer_m, node_x=net.node_x, node_y=net.node_y,
                                     crs=net.crs, faces=faces)
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
    def indicators(self, profile=None) -> pd.DataFrame:
        """Every indicator of the profile (the config's by default) by community, township and area."""
        from .analysis.indicators import evaluate
        from .analysis.standards import required_thresholds_m
        self._coverage()
        prof = self.profile(profile)
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
                                                                                        self.demand))

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
        """Every input left out and why (``excluded.csv``)."""
        cfg = self.config
        ag, demand, fac = self.access(), self.demand, self.facilities
        _, fac_excluded, _ = self._facilities()
        far_d = ~ag.of("demand", ag.snapped)
        far_f = ~ag.of("facilities", ag.snapped)
        snap = cfg.network.max_snap_m
        parts = [fac_excluded,
                 excluded_frame("facilities", cfg.facilities.path, fac.facility_id[far_f],
                                f"farther than network.max_snap_m = {snap:g} m from any road",
                                "kept in the tables, but serves nobody"),
                 excluded_frame("population", cfg.population.path, demand.demand_id[far_d],
                                f"demand point farther than network.max_snap_m = {snap:g} m from any road",
                                [f"population {p:.1f} in {c}: counted as not covered"
                                 for p, c in zip(demand.population[far_d], demand.community_id[far_d])])]
        rep = self._demand()[1]
        lost = rep["population_of_touching_cells_outside_area"]
        if lost > 0.5:
            parts.append(excluded_frame("population", cfg.population.path, ["cells cut by the study-area edge"],
                                        "population of raster cells lying outside every community",
                                        f"{lost:.1f} people (area-weighted share of edge cells outside the communities)"))
        far = rep["population_outside_area_cells"]
        if far > 0.5:
            parts.append(excluded_frame("population", cfg.population.path, ["cells outside the study area"],
                                        "raster population outside the study area", f"{far:.1f} people"))
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
        return {"communities": comm_report, "overlaps": overlaps, "facilities": self._facilities()[2],
                "demand": self._demand()[1], "network": {k: v for k, v in net.report.items() if np.isscalar(v)},
                "network_nodes": net.n_nodes, "network_edges": net.n_edges,
                "demand_points": len(demand), "demand_unsnapped": int(far_d.sum()),
                "population_unsnapped": float(demand.population[far_d].sum()),
                "facilities_unsnapped": int((~ag.of("facilities", ag.snapped)).sum())}

    def warning_lines(self) -> list[str]:
        """The warnings of this run, worded for the planner."""
        out = []
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
        fac_report = self._facilities()[2]
        if fac_report.get("hint"):
            out.append(f"{fac_report['hint']} (listed in excluded.csv)")
        comm_report = self._communities()[2]
        if comm_report.get("invalid_repaired"):
            out.append(f"{comm_report['invalid_repaired']} invalid community polygons were repaired (make_valid)")
        if comm_report.get("overlap_pairs"):
            out.append(f"{comm_report['overlap_pairs']} pairs of communities overlap ({comm_report['overlap_m2']:.0f} m²); "
                       "each overlap was given to the community with the lower code so nobody is counted twice")
        return out + self.warnings


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
        from .report.markdown import to_markdown
        return to_markdown(self.indicators, level="area", lang="both")

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
