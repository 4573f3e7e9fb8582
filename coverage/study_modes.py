"""Travel modes and slope of a study: a mixin of :class:`~coverage.study.Study`.

* **Costs per mode**, cached, in flat-walking metres (:mod:`coverage.core.modes`): walking costs
  the edges' lengths (no DEM: today's search, the same objects and numbers) or Tobler's walking
  time on the DEM (``network.dem``); another mode costs length x walking speed / its speed on the
  road class, slowed by the slope only if the mode says so (``slope: tobler``).
* **Direction** (``analysis.slope``): ``to_facility`` (default) counts residents walking TO the
  facility: the graph is built on the reversed costs and searched from the facilities;
  ``round_trip`` counts the mean of going and coming back.
* **One snapping** for every mode (:func:`~coverage.core.access.snap_points`), one access graph
  per mode, one bounded multi-source search per (category, mode).
* **Reach**: how far (straight line) any search may go from the study area, so the network,
  facilities and population window read are wide enough: a cost cutoff C reaches C x the mode's
  fastest speed / walking speed metres, x Tobler's largest speed-up (bounded from the DEM's
  steepest cell: exactly 1 on a flat DEM) when slope counts.
"""

from __future__ import annotations

import numpy as np
import shapely

from .analysis.modes import TOBLER_MAX_SPEEDUP, dem_speedup, mode_speedup, slope_effect_table, \
    travel_circle_table
from .core.access import build_access_graph, snap_points
from .errors import InputError
from .steps import step as _step


class StudyModes:
    """Travel modes, slope and travel circles of a :class:`~coverage.study.Study`."""

    # ------------------------------------------------------------------ settings
    @property
    def modes(self) -> dict:
        """{name: ModeSpec}: the packaged modes with the study's ``analysis.modes``."""
        return self.config.analysis.modes

    @property
    def has_dem(self) -> bool:
        return self.config.network.dem is not None

    def sloped(self, mode: str = "walk") -> bool:
        """Whether slope changes this mode's costs (a DEM is given and the mode follows Tobler)."""
        return self.has_dem and self._spec(mode).slope == "tobler"

    def mode_label(self, mode: str = "walk", lang: str = "zh") -> str:
        """"步行" / "步行（按坡度）" / "电动自行车"; "walking" / "walking (slope-adjusted)" / "e-bike"."""
        text = self._spec(mode).label(lang)
        if self.sloped(mode):
            text += "（按坡度）" if lang == "zh" else " (slope-adjusted)"
        return text

    def _spec(self, mode):
        try:
            return self.modes[mode]
        except KeyError:
            raise InputError(f"unknown travel mode {mode!r}", file=self.config.file, field="analysis.modes",
                             fix=f"use one of: {', '.join(self.modes)} (or define it under analysis.modes)") from None

    # ------------------------------------------------------------------ how far the searches go
    def _mode_needs(self, profile=None) -> dict:
        """{(category, mode): cost cutoff} of the searches by a mode other than walking: the travel
        circles (minutes) and the profile's indicators (``required_cutoffs``, when the standards
        module has it)."""
        out: dict = {}
        for tc in self.config.analysis.travel_circles:
            if tc.mode != "walk" and tc.threshold.unit == "min":
                k = (tc.category, tc.mode)
                out[k] = max(out.get(k, 0.0), tc.threshold.metres)
        for (cat, mode), c in self._profile_cutoffs(profile).items():
            # a mode the study does not define: its indicators say "not measurable" (no column)
            if mode not in (None, "walk") and mode in self.modes:
                out[(cat, mode)] = max(out.get((cat, mode), 0.0), float(c))
        return out

    def _profile_cutoffs(self, profile=None) -> dict:
        """{(category, mode): cutoff} the profile's indicators need (walking only when the standards
        module has no ``required_cutoffs`` yet)."""
        from .analysis import standards
        prof = self.profile() if profile is None else profile
        fn = getattr(standards, "required_cutoffs", None)
        if fn is None:
            return {(c, "walk"): m for c, m in standards.required_thresholds_m(prof, self.speed_m_per_min).items()}
        return {(c, m or "walk"): float(v) for (c, m), v in fn(prof, self.speed_m_per_min).items()}

    def _mode_cutoff(self, cat, mode) -> float:
        """How far the search of a category by a mode goes (cost): its travel circles and indicators."""
        need = self._mode_needs().get((cat, mode))
        return float(need) if need is not None else self._cutoff(cat)

    def _walk_speedup(self) -> float:
        """Tobler's largest speed-up over the DEM around the study area (1.0 without a DEM)."""
        if not self.has_dem:
            return 1.0
        key = ("walk_speedup",)
        if key not in self._cache:
            d = self.dem()
            self._cache[key] = dem_speedup(d.z, d.cell_m)
        return self._cache[key]

    def _reach_m(self, walk_speedup=None) -> float:
        """The longest straight line any search may cover from the study area (metres): walking
        breaks and cutoffs (x Tobler's speed-up with a DEM), travel circles and indicators by
        mode (x the mode's fastest speed over the walking speed). Without a DEM and other modes,
        exactly the longest walking cutoff, as before."""
        f = self._walk_speedup() if walk_speedup is None else walk_speedup
        base = max([b.metres for b in self.breaks] + [self._cutoff(c) for c in self.categories])
        out = base * f if self.sloped("walk") else base
        kmh = self.config.analysis.walk_speed_kmh
        for tc in self.config.analysis.travel_circles:
            if tc.mode == "walk" or tc.threshold.unit == "m":     # a walk, or a distance along the roads
                sl = tc.mode == "walk" and tc.threshold.unit == "min" and self.sloped("walk")
                out = max(out, tc.threshold.metres * (f if sl else 1.0))
        for (cat, mode), c in self._mode_needs().items():
            spec = self._spec(mode)
            out = max(out, c * mode_speedup(spec, kmh) * (f if self.sloped(mode) else 1.0))
        return out

    def _walk_buffer_m(self) -> float:
        """The buffer around the study area within which the network, facilities and population are read."""
        return self._reach_m() + self.config.network.max_snap_m

    # ------------------------------------------------------------------ DEM and costs
    @_step("reading the DEM")
    def dem(self):
        """The DEM window over the study area and the farthest any search may reach (``network.dem``)."""
        from .io.dem import read_dem
        area = shapely.union_all(self._communities()[1].geometry.values)
        r = self._reach_m(TOBLER_MAX_SPEEDUP) + self.config.network.max_snap_m
        x0, y0, x1, y1 = shapely.bounds(area)
        return read_dem(self.config.network.dem, self.crs, (x0 - r, y0 - r, x1 + r, y1 + r))

    @_step("sampling the DEM along the roads")
    def slope(self):
        """(Tobler factors of every edge's pieces (:class:`~coverage.core.costs.SlopeProfile`),
        the samples' elevations) along the network, at the DEM's cell size."""
        from .core.costs import slope_profile
        from .io.dem import edge_elevations
        ptr, z = edge_elevations(self.network, self.dem())
        return slope_profile(self.network, ptr, z), z

    def edge_costs(self, mode: str = "walk"):
        """The mode's cost of every edge u -> v and v -> u (:class:`~coverage.core.costs.EdgeCosts`,
        flat-walking metres), before the direction of ``analysis.slope`` is applied."""
        key = ("edge_costs", mode)
        if key not in self._cache:
            from .core.costs import EdgeCosts, mode_costs
            net, spec = self.network, self._spec(mode)
            sl = self.slope()[0] if self.sloped(mode) else None
            if spec.is_walk and sl is None:
                c = EdgeCosts.lengths(net)
            elif spec.is_walk:
                c = mode_costs(net, np.ones(net.n_edges), sl)
            else:
                c = mode_costs(net, spec.edge_factors(net.edge_class, self.config.analysis.walk_speed_kmh), sl)
                if sl is None and spec.walk_classes and self.sloped("walk"):
                    # where the rider gets off and walks (steps, footways), the walk is on the slope
                    from .analysis.modes import walked_on_slope
                    cls = np.array(["" if k is None else str(k) for k in net.edge_class], dtype=object)
                    c = walked_on_slope(c, self.edge_costs("walk"), np.isin(cls, list(spec.walk_classes)))
            self._cache[key] = c
        return self._cache[key]

    def _search_costs(self, mode: str = "walk"):
        """The costs the mode's access graph is built on (None: the lengths, today's graph): a search
        from the facilities on them gives each resident's cost of reaching the facility."""
        if self._spec(mode).is_walk and not self.sloped(mode):
            return None
        c = self.edge_costs(mode)
        return c.reversed() if self.config.analysis.slope == "to_facility" else c.round_trip()

    # ------------------------------------------------------------------ access graphs and searches
    @_step("snapping demand and facilities onto the network")
    def _snapped(self):
        """Demand points, facilities (and siting candidates) snapped onto their nearest edge, once
        for every travel mode."""
        demand, fac = self.demand, self.facilities
        sets = {"demand": (shapely.get_x(demand.geometry.values), shapely.get_y(demand.geometry.values)),
                "facilities": (shapely.get_x(fac.geometry.values), shapely.get_y(fac.geometry.values))}
        cand = self._candidates()
        if cand is not None:
            pts = cand.geometry.representative_point().values
            sets["candidates"] = (shapely.get_x(pts), shapely.get_y(pts))
        return snap_points(self.network, sets, max_snap_m=self.config.network.max_snap_m)

    @_step("access graph per travel mode")
    def _mode_graph(self, mode, flat):
        costs = None if flat else self._search_costs(mode)
        return build_access_graph(self.network, None, max_snap_m=self.config.network.max_snap_m, costs=costs,
                                  snapped=self._snapped())

    def graph(self, mode: str = "walk", flat: bool = False):
        """The access graph of a mode (``flat``: the walk on flat ground, when a DEM is given). The
        walk's is :meth:`access` (gaps, siting, catchments and life circles search it)."""
        self._spec(mode)
        if mode == "walk":
            return self._mode_graph("walk", True) if flat and self.sloped("walk") else self.access()
        return self._mode_graph(mode, False)

    def distances(self, cat, cutoff=None, mode: str = "walk", flat: bool = False):
        """Cost (flat-walking metres) from every demand point to the nearest facility of ``cat`` by
        ``mode`` (inf beyond ``cutoff``, default :meth:`_cutoff` for walking, the mode's travel
        circles and indicators otherwise), and the index of that facility (-1 when none).
        ``flat``: the walking distance on flat ground (metres) when a DEM is given."""
        mode = mode or "walk"
        self._spec(mode)
        flat = bool(flat) and mode == "walk" and self.sloped("walk")
        if cutoff is None:
            cutoff = self._cutoff(cat) if mode == "walk" else self._mode_cutoff(cat, mode)
        return self._nearest(cat, float(cutoff), mode, flat)

    @_step("bounded multi-source shortest paths per category")
    def _nearest(self, cat, cutoff, mode, flat):
        from .core.access import nearest
        ag = self.graph(mode, flat)
        return nearest(ag, self._fac_points(cat), ag.ids("demand"), cutoff)

    def _add_mode_columns(self, demand):
        """``dist_<cat>_flat`` (with a DEM) and ``dist_<cat>_by_<mode>`` (travel circles by a mode)."""
        if self.sloped("walk"):
            for cat in self.categories:
                demand[f"dist_{cat}_flat"] = self.distances(cat, flat=True)[0]
        elif self.has_dem:
            for cat in self.categories:
                demand[f"dist_{cat}_flat"] = demand[f"dist_{cat}"].to_numpy()
        for tc in self.config.analysis.travel_circles:
            if tc.mode != "walk" and f"dist_{tc.category}_by_{tc.mode}" not in demand:
                demand[f"dist_{tc.category}_by_{tc.mode}"] = self.distances(tc.category, mode=tc.mode)[0]

    def _indicator_distances(self, dem, prof):
        """The demand columns the profile's indicators need beyond the coverage tables': walking
        beyond the study's cutoffs (also flat, with a DEM) and by other modes."""
        present = set(self.facilities.category)
        for (cat, mode), cutoff in sorted(self._profile_cutoffs(prof).items()):
            if cat not in present:       # no facility: the indicators say so (no column, as before)
                continue
            if mode == "walk":
                far = cat not in self.categories or cutoff > self._cutoff(cat)
                if far:
                    dem[f"dist_{cat}"] = self.distances(cat, cutoff)[0]
                if self.has_dem and (far or f"dist_{cat}_flat" not in dem):
                    c = max(cutoff, self._cutoff(cat)) if cat in self.categories else cutoff
                    dem[f"dist_{cat}_flat"] = self.distances(cat, c, flat=True)[0] if self.sloped("walk") \
                        else dem[f"dist_{cat}"].to_numpy()
            elif mode in self.modes:
                dem[f"dist_{cat}_by_{mode}"] = self.distances(cat, max(cutoff, self._mode_cutoff(cat, mode)),
                                                              mode=mode)[0]
        return dem

    def _circle_edge_length(self):
        """The edge 'length' life circles are drawn with: lengths, or with a DEM each edge's mean
        sloped cost (reached nodes are exact; a cut within an edge is placed by that mean)."""
        net = self.network
        if not self.sloped("walk"):
            return net.edge_length
        c = self.edge_costs("walk")
        return (c.fwd + c.bwd) / 2.0

    # ------------------------------------------------------------------ tables
    def _pop_col_for(self) -> dict:
        return {cat: f"pop_{g}" for cat, g in self.config.population.group_for.items() if g}

    @_step("slope effect (flat vs sloped coverage)")
    def slope_effect(self):
        """Flat vs sloped coverage at each category's plan threshold by community, township,
        urban/rural and area (None without a DEM)."""
        if not self.has_dem:
            return None
        self._coverage()
        return slope_effect_table(self.communities, self.facilities, self.demand, self.categories, self.thresholds,
                                  self.speed_m_per_min, self._pop_col_for())

    @_step("travel circles")
    def travel_circles(self):
        """Coverage of each ``analysis.travel_circles`` circle (None when none is configured)."""
        circles = self.config.analysis.travel_circles
        if not circles:
            return None
        self._coverage()
        rows = []
        lang = self.config.output.lang
        labels = {}
        for tc in circles:
            cat, t = tc.category, tc.threshold.metres
            base = self._cutoff(cat)
            if tc.threshold.unit == "m":            # a distance along the roads: the flat walk
                d_mode = d_walk = self.distances(cat, max(base, t), flat=True)[0]
            else:
                d_walk = self.distances(cat, max(base, t))[0]
                d_mode = d_walk if tc.mode == "walk" else self.distances(cat, mode=tc.mode)[0]
            rows.append((tc, d_mode, d_walk))
            labels[tc.key] = tc.name or tc.label(lang, self.modes, self.sloped(tc.mode))
        return travel_circle_table(self.communities, self.facilities, self.demand, rows, self.speed_m_per_min,
                                   self._pop_col_for(), labels)

    # ------------------------------------------------------------------ report figures and warnings
    def _modes_report(self) -> dict:
        out = {}
        if self.has_dem:
            d = self.dem()
            prof, z = self.slope()
            pieces = int(len(prof.kf))
            out["dem"] = {"file": self.config.relative(self.config.network.dem), "crs": str(d.crs.to_string()),
                          "cell_m": round(float(d.cell_m), 3), "samples": int(len(z)),
                          "nodata_samples": int(np.isnan(z).sum()), "pieces": pieces,
                          "nodata_pieces": int(prof.nodata_pieces), "max_grade": round(float(prof.max_grade), 4),
                          "direction": self.config.analysis.slope, "walk_slope": self.sloped("walk"),
                          "reach_speedup": round(self._walk_speedup(), 4)}
        used = sorted({tc.mode for tc in self.config.analysis.travel_circles} | {"walk"})
        kmh = self.config.analysis.walk_speed_kmh
        out["modes"] = {m: self._spec(m).describe(kmh, "en") for m in used}
        return out

    def _mode_warnings(self) -> list[str]:
        out = []
        if self.has_dem:
            prof, z = self.slope()
            n = len(prof.kf)
            if n and prof.nodata_pieces / n > 0.01:
                out.append(f"{prof.nodata_pieces:,} of {n:,} road pieces ({prof.nodata_pieces / n:.1%}) have no "
                           f"elevation (outside the DEM or nodata) and are walked as flat ground [file: "
                           f"{self.config.network.dem}; field: network.dem] fix: use a DEM that covers the whole "
                           "study area and its walking buffer")
        types = set(self.communities["type"].astype(str))
        for i, tc in enumerate(self.config.analysis.travel_circles):
            if tc.applies_to != "all" and tc.applies_to not in types:
                out.append(f"the travel circle analysis.travel_circles[{i}] applies to {tc.applies_to} communities, "
                           f"but there is none: it has no rate [file: {self.config.file}; field: "
                           f"analysis.travel_circles[{i}].applies_to] fix: set communities.fields.type (and "
                           "urban_values / rural_values), or applies_to: all")
        return out
