"""Reading a study's inputs: communities (and the study's metric CRS), facilities, the population
raster split into demand points, and the walking network clipped to the study area with its
walking buffer. A mixin of :class:`~coverage.study.Study`; each reader is one timed step."""

from __future__ import annotations

from dataclasses import replace

import geopandas as gpd
import numpy as np
import shapely

from .analysis.demand import demand_points
from .core.crs import metric_crs
from .core.network import WalkNetwork, from_edge_arrays, from_networkx
from .errors import InputError
from .io.communities import load_communities
from .io.facilities import load_facilities
from .io.raster import raster_cells
from .steps import step as _step


class StudyInputs:
    """The input readers of a :class:`~coverage.study.Study`."""

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
        buf = shapely.buffer(area, self._walk_buffer_m())
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
            from . import study as _study   # coverage.study.load_network: callers and tests may wrap it
            net = _study.load_network(n.source, n.path, crs=self.crs, area_wgs84=area_wgs,
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


def _in_memory_fields(f, data):
    """For a facility table given in memory, fields not configured default to columns of the usual
    names (category, name, id, area_m2, level)."""
    if data is None:
        return f
    cols = set(getattr(data, "columns", []))
    guess = {"category": "category", "name": "name", "id": "id", "area": "area_m2", "level": "level"}
    new = {k: c for k, c in guess.items() if getattr(f.fields, k) is None and c in cols}
    return replace(f, fields=replace(f.fields, **new)) if new else f


def _reproject_network(net: WalkNetwork, crs) -> WalkNetwork:
    from .core.crs import transformer
    tr = transformer(net.crs, crs)
    x, y = tr.transform(net.node_x, net.node_y)
    geom = shapely.transform(net.edge_geometry, lambda xy: np.c_[tr.transform(xy[:, 0], xy[:, 1])])
    return from_edge_arrays(net.node_id, x, y, net.node_id[net.edge_u], net.node_id[net.edge_v], geom,
                            net.edge_name, crs=crs, source=net.source, road_class=net.edge_class)
