"""The study's accounting and checks: everything left out and why (``excluded.csv``), the run's
figures (``report``), and the warnings worded for the planner. A mixin of :class:`~coverage.study.Study`
(it reads the study's steps; it computes nothing new)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from .io.vector import EXCLUDED_COLUMNS, excluded_frame
from .steps import step as _step


class StudyChecks:
    """Accounting, report figures and warnings of a :class:`~coverage.study.Study`."""

    # ------------------------------------------------------------------ accounting
    @_step("accounting of the inputs left out")
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
        files = {f: (cfg.relative(f) if f not in ("", "None") else "") for f in out["file"].unique()}
        out["file"] = out["file"].map(files)                  # one path resolved per file, not per row
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
                "coord_system_check": self._coord_system_check(), **self._modes_report()}

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
        out += self._mode_warnings()
        return out + self.warnings

    # ------------------------------------------------------------------ checks (private helpers)
    def _lonlat_box(self, bounds) -> str:
        """A metric bounding box as '(lon0, lat0, lon1, lat1)' in degrees, for messages."""
        from .core.crs import transformer
        tr = transformer(self.crs, "EPSG:4326")
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
        return self._walk_buffer_m()

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
        from .core.crs import transformer
        from .io.coords import normalise_system, out_of_china, to_wgs84, wgs84_to_bd09, wgs84_to_gcj02
        declared = normalise_system(declared)
        sample = fac if len(fac) <= 2000 else fac.sample(2000, random_state=0)
        to_ll = transformer(self.crs, "EPSG:4326")
        to_m = transformer("EPSG:4326", self.crs)
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
