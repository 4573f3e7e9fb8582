"""Community (社区/村) polygons: codes, names, townships, urban/rural type, households; invalid
polygons repaired and overlaps given to one community, all counted."""

from __future__ import annotations


import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import InputError
from .vector import _field, _read_vector


def load_communities(c, crs, gdf=None, *, source=None):
    """Communities in the metric ``crs`` from the file of ``c`` (:class:`coverage.config.Communities`),
    or from the GeoDataFrame ``gdf`` given in memory. Returns (communities, report, overlaps)."""
    path = source or c.path or "<communities>"
    if gdf is None:
        gdf = _read_vector(path, c.layer, c.encoding, c.crs, "communities")
    f = c.fields
    ids = _field(gdf, f, "id", path, "communities", required=True).astype(str)
    dup = ids[ids.duplicated(keep=False)]
    if len(dup):
        raise InputError(f"duplicate community codes: {', '.join(sorted(set(dup))[:20])}", file=str(path),
                         field=f"communities.fields.id ({f.id})", fix="give each community a unique code")
    out = gpd.GeoDataFrame({"community_id": ids.to_numpy()}, geometry=gdf.geometry.values, crs=gdf.crs)
    name = _field(gdf, f, "name", path, "communities")
    out["name"] = name.astype(str).to_numpy() if name is not None else out["community_id"]
    tw = _field(gdf, f, "township", path, "communities")
    out["township"] = tw.astype(str).to_numpy() if tw is not None else "(all)"
    typ = _field(gdf, f, "type", path, "communities")
    if typ is not None:
        t = typ.astype(str).str.strip()
        urban = t.isin([str(v) for v in c.urban_values])
        rural = t.isin([str(v) for v in c.rural_values])
        bad = ~(urban | rural)
        if bad.any():
            raise InputError(f"unknown urban/rural values: {sorted(set(t[bad]))[:10]}", file=str(path),
                             field=f"communities.fields.type ({f.type})",
                             fix="add the values to communities.urban_values or communities.rural_values")
        out["type"] = np.where(urban, "urban", "rural")
    else:
        out["type"] = "urban"
    hh = _field(gdf, f, "households", path, "communities")
    out["households"] = pd.to_numeric(hh, errors="coerce").to_numpy() if hh is not None else np.nan
    pop = _field(gdf, f, "population", path, "communities")
    out["population_attr"] = pd.to_numeric(pop, errors="coerce").to_numpy() if pop is not None else np.nan
    out = out.to_crs(crs)
    invalid = ~shapely.is_valid(out.geometry.values)
    report = {"communities": len(out), "invalid_repaired": int(invalid.sum()),
              "invalid_ids": sorted(out.community_id.values[invalid].tolist())}
    if gdf.attrs.get("crs_note"):
        report["crs_note"] = gdf.attrs["crs_note"]
    if invalid.any():
        # "structure" repair keeps polygonal input polygonal (a bow-tie becomes its two triangles)
        fixed = shapely.make_valid(out.geometry.values[invalid], method="structure", keep_collapsed=False)
        out.loc[invalid, "geometry"] = fixed
        empty = shapely.is_empty(out.geometry.values)
        if empty.any():
            raise InputError(f"community polygons with no area left after repair: "
                             f"{', '.join(sorted(out.community_id[empty])[:20])}", file=str(path),
                             field=f"communities.fields.id ({f.id})",
                             fix="redraw these polygons (they are lines or points, or self-intersect to nothing)")
    # overlaps: measured, then each overlap is given to the first community in code order so that
    # population in overlaps is never counted twice
    out = out.sort_values("community_id", kind="stable").reset_index(drop=True)
    geoms = out.geometry.values
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    sel = a < b
    a, b = a[sel], b[sel]
    inter = shapely.intersection(geoms[a], geoms[b])
    ov_area = shapely.area(inter)
    real = ov_area > 1.0
    report["overlap_pairs"] = int(real.sum())
    report["overlap_m2"] = float(ov_area[real].sum())
    overlaps = pd.DataFrame({"community_a": out.community_id.values[a[real]],
                             "community_b": out.community_id.values[b[real]], "overlap_m2": ov_area[real]})
    if real.any():
        cut = pd.Series(list(inter[real])).groupby(b[real]).agg(lambda s: shapely.union_all(list(s)))
        geoms = geoms.copy()
        geoms[cut.index.to_numpy()] = shapely.difference(geoms[cut.index.to_numpy()], np.array(list(cut.values)))
        out["geometry"] = geoms
    return out, report, overlaps
