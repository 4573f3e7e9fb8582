"""Community (社区/村) polygons: codes, names, townships, urban/rural type, households; invalid
polygons repaired and overlaps given to one community, all counted.

Nothing is lost silently: a blank code, a missing geometry or a polygon drawn twice stops the run
naming the rows; a community drawn as a line or a point (no area, so no population) is left out
and listed (``report["dropped"]``, shown in excluded.csv and as a warning)."""

from __future__ import annotations


import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import InputError
from .numbers import blank_mask, clean_text, parse_numbers, strip_text
from .vector import _field, _read_vector

#: polygons smaller than this (m²) have no area worth a raster cell: drawn as a sliver or collapsed
MIN_AREA_M2 = 1.0
_POLYGONAL = ("Polygon", "MultiPolygon")


def id_strings(col: pd.Series) -> pd.Series:
    """Codes as text: spaces trimmed, full-width digits made ASCII, whole numbers read as floats
    (a code column with an empty cell is read as 1.0, 2.0, ...) written without '.0'."""
    def one(v):
        if isinstance(v, (float, np.floating)) and np.isfinite(v) and float(v).is_integer():
            return str(int(v))
        return strip_text(v)
    return pd.Series([one(v) for v in col.to_numpy(dtype=object)], index=col.index, dtype=object)


def _rows(gdf, mask, names=None, n=10):
    """'row 3 (name)' for the first rows of a mask (feature numbers from 1)."""
    idx = np.flatnonzero(mask)
    out = []
    for i in idx[:n]:
        label = f"feature {i + 1}"
        if names is not None:
            nm = clean_text(names.iloc[i])
            if nm:
                label += f" ({nm})"
        out.append(label)
    return ", ".join(out) + (f" and {len(idx) - n} more" if len(idx) > n else "")


def load_communities(c, crs, gdf=None, *, source=None):
    """Communities in the metric ``crs`` from the file of ``c`` (:class:`coverage.config.Communities`),
    or from the GeoDataFrame ``gdf`` given in memory. Returns (communities, report, overlaps)."""
    path = source or c.path or "<communities>"
    if gdf is None:
        gdf = _read_vector(path, c.layer, c.encoding, c.crs, "communities")
    f = c.fields
    idfield = f"communities.fields.id ({f.id})"
    raw_ids = _field(gdf, f, "id", path, "communities", required=True)
    name = _field(gdf, f, "name", path, "communities")
    blank = blank_mask(raw_ids)
    if blank.any():
        raise InputError(f"{int(blank.sum())} communities have no code in column {f.id!r}: "
                         f"{_rows(gdf, blank, name)}", file=str(path), field=idfield,
                         fix="fill in the code of every community (the 12-digit 统计用区划代码 or your own unique "
                             "code), or set communities.fields.id to the code column")
    ids = id_strings(raw_ids)
    dup = ids[ids.duplicated(keep=False)]
    if len(dup):
        raise InputError(f"duplicate community codes: {', '.join(sorted(set(dup))[:20])}", file=str(path),
                         field=idfield, fix="give each community a unique code")
    geom = gdf.geometry.values
    missing = shapely.is_missing(geom) | shapely.is_empty(geom)
    if missing.any():
        raise InputError(f"{int(missing.sum())} communities have no geometry: "
                         f"{', '.join(ids[missing].tolist()[:20])}", file=str(path), field=idfield,
                         fix="draw the boundaries of these communities, or delete their rows from the layer")
    out = gpd.GeoDataFrame({"community_id": ids.to_numpy()}, geometry=geom, crs=gdf.crs)
    out["name"] = _text_or(name, out["community_id"])
    tw = _field(gdf, f, "township", path, "communities")
    out["township"] = _text_or(tw, pd.Series("(all)", index=out.index)) if tw is not None else "(all)"
    notes = []
    if tw is not None:
        tblank = blank_mask(tw)
        if tblank.any():
            out.loc[tblank, "township"] = "(blank)"
            notes.append(f"{int(tblank.sum())} communities have no township in column {f.township!r} "
                         f"({', '.join(ids[tblank].tolist()[:10])}): they are grouped as township '(blank)'")
    typ = _field(gdf, f, "type", path, "communities")
    if typ is not None:
        t = pd.Series([clean_text(v) for v in typ.to_numpy(dtype=object)], index=typ.index)
        urban = t.isin([str(v) for v in c.urban_values])
        rural = t.isin([str(v) for v in c.rural_values])
        bad = ~(urban | rural)
        if bad.any():
            shown = sorted({v if v else "(empty)" for v in t[bad]})[:10]
            raise InputError(f"unknown urban/rural values: {shown} (communities {', '.join(ids[bad].tolist()[:10])})",
                             file=str(path), field=f"communities.fields.type ({f.type})",
                             fix="add the values to communities.urban_values or communities.rural_values, or fill "
                                 "the empty cells")
        out["type"] = np.where(urban, "urban", "rural")
    else:
        out["type"] = "urban"
    for key, col in (("households", "households"), ("population", "population_attr")):
        s = _field(gdf, f, key, path, "communities")
        if s is None:
            out[col] = np.nan
            continue
        vals, unreadable = parse_numbers(s, "number")
        neg = np.isfinite(vals) & (vals < 0)
        if neg.any():
            vals[neg] = np.nan
        out[col] = vals
        if unreadable.any() or neg.any():
            bad = unreadable | neg
            ex = [f"{i}: {clean_text(v)!r}" for i, v in zip(ids[bad].tolist()[:5], s[bad].tolist()[:5])]
            notes.append(f"{int(bad.sum())} values of communities.fields.{key} ({getattr(f, key)!r}) are not "
                         f"numbers of {key} ({'; '.join(ex)}): they are left empty, so these communities count as "
                         f"'{key} unknown'; write plain numbers in the column")
    out = out.to_crs(crs)
    report = {"communities": len(out), "notes": notes}
    if gdf.attrs.get("crs_note"):
        report["crs_note"] = gdf.attrs["crs_note"]
    if gdf.attrs.get("layer_note"):
        notes.append(gdf.attrs["layer_note"])

    # geometry type: polygons only; a layer of lines or points stops, a few such features are listed
    types = shapely.get_type_id(out.geometry.values)
    polygonal_type = np.isin(types, (3, 6))                      # Polygon, MultiPolygon
    collection = types == 7
    if collection.any():                                         # keep the polygonal parts of collections
        parts = [shapely.union_all([p for p in shapely.get_parts(g) if shapely.get_type_id(p) in (3, 6)])
                 for g in out.geometry.values[collection]]
        out.loc[collection, "geometry"] = parts
        polygonal_type[collection] = ~shapely.is_empty(np.array(parts, dtype=object))
    if not polygonal_type.any():
        kinds = sorted(set(pd.Series(out.geom_type).dropna()))
        raise InputError(f"the community layer holds {', '.join(kinds)} features, not polygons: a community needs an "
                         "area for its population", file=str(path), field="communities.path",
                         fix="export the community boundaries as polygons (in QGIS: Vector > Geometry Tools > "
                             "Lines to Polygons for closed boundary lines)")
    invalid = polygonal_type & ~shapely.is_valid(out.geometry.values)
    report.update(invalid_repaired=int(invalid.sum()), invalid_ids=sorted(out.community_id.values[invalid].tolist()))
    if invalid.any():
        # "structure" repair keeps polygonal input polygonal (a bow-tie becomes its two triangles)
        fixed = shapely.make_valid(out.geometry.values[invalid], method="structure", keep_collapsed=False)
        out.loc[invalid, "geometry"] = fixed
    area = shapely.area(out.geometry.values)
    no_area = ~polygonal_type | (area < MIN_AREA_M2)
    dropped = []
    for i in np.flatnonzero(no_area):
        g = out.geometry.values[i]
        kind = "empty after repair" if g is None or shapely.is_empty(g) else g.geom_type
        why = ("drawn as a " + kind if not polygonal_type[i] else
               f"polygon with no area ({area[i]:.2f} m²: collapsed or self-intersecting to nothing)")
        dropped.append((out.community_id.values[i], f"community {why}: it has no population and is left out",
                        f"households {out['households'].values[i]:g}" if np.isfinite(out["households"].values[i])
                        else ""))
    report["dropped"] = dropped
    if no_area.all():
        raise InputError(f"no community has an area: {', '.join(d[0] for d in dropped[:10])} are "
                         f"{dropped[0][1].split(':')[0].replace('community ', '')}", file=str(path),
                         field="communities.path",
                         fix="export the community boundaries as polygons (in QGIS: Vector > Geometry Tools > "
                             "Lines to Polygons)")
    if no_area.any():
        out = out[~no_area]
    # overlaps: measured, then each overlap is given to the first community in code order so that
    # population in overlaps is never counted twice
    out = out.sort_values("community_id", kind="stable").reset_index(drop=True)
    geoms = out.geometry.values
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    sel = a < b
    a, b = a[sel], b[sel]
    # only pairs whose interiors meet can overlap by an area (neighbours mostly share a boundary):
    # the relate test is about half the cost of the intersection it saves
    sel = shapely.relate_pattern(geoms[a], geoms[b], "2********")
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
        before = shapely.area(geoms[cut.index.to_numpy()])
        geoms[cut.index.to_numpy()] = shapely.difference(geoms[cut.index.to_numpy()], np.array(list(cut.values)))
        left = shapely.area(geoms[cut.index.to_numpy()])
        swallowed = cut.index.to_numpy()[left < np.maximum(0.01 * before, MIN_AREA_M2)]
        if len(swallowed):
            pairs = []
            for j in swallowed[:10]:
                others = out.community_id.values[a[real][b[real] == j]]
                pairs.append(f"{out.community_id.values[j]} lies within {', '.join(others[:3])}")
            raise InputError(f"{len(swallowed)} communities are covered by other communities (the same polygon drawn "
                             f"twice, or a polygon inside another): {'; '.join(pairs)}", file=str(path),
                             field=idfield,
                             fix="delete the duplicate polygons or redraw the boundaries so that communities do not "
                                 "cover each other")
        out["geometry"] = geoms
    return out, report, overlaps


def _text_or(col, fallback: pd.Series) -> np.ndarray:
    """Text of a column with blank cells replaced by the fallback (e.g. a blank name by the code)."""
    if col is None:
        return fallback.to_numpy()
    txt = np.array([strip_text(v) for v in col.to_numpy(dtype=object)], dtype=object)
    blank = txt == ""
    txt[blank] = fallback.to_numpy(dtype=object)[blank]
    return txt
