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

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .analysis.coverage import coverage_tables
from .analysis.gaps import GAP_SEARCH_FACTOR, service_gaps
from .config import StudyConfig, load_config
from .core.access import build_access_graph, reach_matrix, road_node_distance
from .errors import InputError
from .io.network import load_network  # noqa: F401 (the network reader; study_inputs calls it from here)
from .results import Results
from .steps import Steps, step as _step
from .study_checks import StudyChecks
from .study_inputs import StudyInputs
from .study_modes import StudyModes


class Study(StudyInputs, StudyChecks, StudyModes):
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
        self._steps = Steps(echo)
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
        thr = self.config.analysis.threshold(cat)      # also a category only a travel circle names
        return max(max(b.metres for b in self.breaks), GAP_SEARCH_FACTOR * thr.metres, need)

    def _profile_need(self) -> dict:
        from .analysis.standards import required_thresholds_m
        return required_thresholds_m(self.profile(), self.speed_m_per_min)

    @_step("reading the standards profile")
    def profile(self, name=None):
        from .io.profiles import load_profile
        return load_profile(name or self.config.profile)

    # ------------------------------------------------------------------ access
    @_step("building the walking access graph")
    def access(self):
        """The walking access graph: demand points and facilities (and siting candidates) snapped
        onto their nearest edge, as the named point sets ``demand``, ``facilities``, ``candidates``;
        with ``network.dem`` on the sloped walking costs in the direction of ``analysis.slope``
        (:mod:`coverage.study_modes`). Coverage, gaps, catchments, siting and life circles search it."""
        demand, fac, net = self.demand, self.facilities, self.network
        ag = build_access_graph(net, None, max_snap_m=self.config.network.max_snap_m,
                                costs=self._search_costs("walk"), snapped=self._snapped())
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
        self._add_mode_columns(demand)
        return coverage_tables(self.communities, fac, demand, self.categories, self.breaks, self.thresholds,
                               self.speed_m_per_min, pop_col_for)

    def coverage(self) -> "Results":
        """Coverage tables and demand points with their distances; nothing is written."""
        self._coverage()
        return Results(self)

    @_step("life-circle polygons")
    def life_circles(self, method="raster", cell_m=None, workers=None):
        """(category circles at every break, per-facility circles at the plan threshold or None).

        Drawn from the reached network (coverage.core.isochrones): on a raster of ``cell_m``
        metres (config ``analysis.circle_cell_m``, default 10) by default, or with exact buffers
        (``method="faces"`` or ``"buffers"``: slow on a county). Coverage never comes from them.

        The categories' dissolved circles and facility circles are independent tasks run on
        ``workers`` threads (default: the cores available, at most 4; see
        ``coverage.core.isochrones.run_tasks``); the result is the same, bit for bit, whatever the
        number. ``workers=1`` draws them one after another in this thread (for debugging or
        profiling)."""
        from .core.isochrones import DEFAULT_CELL_M, category_circles, circle_grid, facility_circles
        from functools import partial

        from .core.isochrones import network_faces, run_tasks
        a = self.config.analysis
        net, ag, fac = self.network, self.access(), self.facilities
        breaks = sorted(self.breaks)
        cell_m = float(cell_m or getattr(a, "circle_cell_m", None) or DEFAULT_CELL_M)
        draw = {"method": method, "crs": net.crs, "node_x": net.node_x, "node_y": net.node_y}
        if method == "raster":
            grid = circle_grid(net.edge_geometry, a.circle_buffer_m, cell_m)
            grid._edge_boxes()                       # its lazy cache, filled before the threads
            draw.update(grid=grid, cell_m=cell_m)
        elif method == "faces":
            draw.update(faces=network_faces(net.edge_geometry, a.circle_buffer_m, 4))
        edges = (net.edge_u, net.edge_v, self._circle_edge_length(), net.edge_geometry)
        # everything read from the study is read here, in this thread; the tasks only compute
        break_m = [b.metres for b in breaks]
        break_min = [b.minutes_at(self.speed_m_per_min) for b in breaks]
        cats = list(self.categories)
        src = {cat: self._fac_points(cat) for cat in cats}
        fac_cat = fac.category.to_numpy()
        fac_ids = fac.facility_id.to_numpy()
        thresholds, speed = self.thresholds, self.speed_m_per_min

        def dissolved(cat):
            node_d = road_node_distance(ag, src[cat], breaks[-1].metres)
            g = category_circles(*edges, node_d, break_m, a.circle_buffer_m, **draw)
            g.insert(0, "category", cat)
            g.insert(1, "break_min", break_min)
            return g

        def per_facility(cat):
            t = thresholds[cat]
            ids = fac_ids[fac_cat == cat]
            _, node_mat = reach_matrix(ag, ag.point_node[src[cat]], np.empty(0, dtype=np.int64), t.metres,
                                       road_nodes_too=True)
            f = facility_circles(*edges, node_mat, ids, [t.metres], a.circle_buffer_m, **draw)
            del node_mat
            f.insert(0, "category", cat)
            f.insert(1, "break_min", t.minutes_at(speed))
            return f

        fac_cats = [c for c in cats if a.facility_circles and len(src[c])]
        # longest tasks first (facility circles of the categories with most facilities)
        tasks = sorted([(len(src[c]) * 4 + 1, 1, k, c) for k, c in enumerate(fac_cats)]
                       + [(len(src[c]), 0, k, c) for k, c in enumerate(cats)],
                       key=lambda x: (-x[0], x[1], x[2]))
        done = run_tasks([partial(per_facility if kind else dissolved, c) for _, kind, _, c in tasks],
                         workers)
        out = [None] * len(cats)
        per_fac = [None] * len(fac_cats)
        for (_, kind, k, _), res in zip(tasks, done):
            (per_fac if kind else out)[k] = res
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
        self._indicator_distances(dem, prof)
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

    def run(self, overlap: bool = True) -> "Results":
        """Every step the command line runs; returns the Results.

        With ``overlap`` (default) two independent chains of steps run at the same time on two
        threads, to use a second core where the work releases the GIL (shapely, GDAL, numpy,
        scipy, HiGHS): the walking network is built while the population raster is split and
        the facilities are read, and the life circles are drawn while gaps, indicators and
        siting are computed. Each step's result is the same as with ``overlap=False`` (one after
        another, in this thread): steps share no mutable state but the cached results, which are
        computed once (:mod:`coverage.steps`). When steps fail, the first failure of the chain that
        runs in this thread is raised, else the other chain's, once both chains have ended."""
        if overlap:
            self._communities()
            self._area()
            self._overlapped([self._network], [self._demand, self._facilities])
        res = self.coverage()
        later = [self.gaps, self.indicators] + ([self.siting] if self.config.siting.enabled else [])
        circles = [self.life_circles] if self.config.analysis.circles else []
        if overlap:
            self._overlapped(circles, later)
        else:
            for f in circles + later:
                f()
        self.slope_effect()
        self.travel_circles()
        res.warnings  # noqa: B018 (words the warnings now, so they print with the summary)
        return res


    def _overlapped(self, background, foreground):
        """Call ``background`` (in order) on a second thread while ``foreground`` runs here; the
        first error in ``foreground``'s order, then ``background``'s, is raised once both ended."""
        if not background or not foreground:
            for f in list(foreground) + list(background):
                f()
            return
        from concurrent.futures import ThreadPoolExecutor

        def chain():
            for f in background:
                f()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="study") as ex:
            fut = ex.submit(chain)
            try:
                for f in foreground:
                    f()
            finally:
                err = fut.exception()     # waits for the other chain before anything is raised
        if err is not None:
            raise err


def run(config, echo=print) -> Results:
    """Run every step of a study config (a :class:`~coverage.config.StudyConfig` or a YAML path)."""
    if not isinstance(config, StudyConfig):
        config = load_config(config)
    return Study(config=config, echo=echo).run()
