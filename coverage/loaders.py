"""Loaders: communities and facilities into one metric CRS, with every dropped feature listed."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from .categories import apply_categories, load_keyword_table
from .coords import to_wgs84
from .errors import InputError

EXCLUDED_COLUMNS = ["layer", "file", "feature_id", "reason", "detail"]


def excluded_frame(layer, file, ids, reason, detail=""):
    ids = list(ids)
    return pd.DataFrame({"layer": layer, "file": str(file), "feature_id": [str(i) for i in ids],
                         "reason": reason, "detail": detail}, columns=EXCLUDED_COLUMNS)


def _read_vector(path, layer=None, encoding=None, crs=None, key="communities"):
    path = Path(path)
    kw = {}
    if layer:
        kw["layer"] = layer
    if encoding:
        kw["encoding"] = encoding
    try:
        gdf = pyogrio.read_dataframe(path, **kw)
    except Exception as exc:
        raise InputError(f"cannot read the layer ({exc})", file=str(path), field=f"{key}.path",
                         fix="give a shapefile, GeoPackage or GeoJSON (and the layer name if there are several)")
    if len(gdf) == 0:
        raise InputError(f"the layer is empty (0 features{', layer ' + repr(layer) if layer else ''})",
                         file=str(path), field=f"{key}.path" + (f" / {key}.layer" if layer else ""),
                         fix="check that you exported the features (and, for a GeoPackage with several "
                             f"layers, that '{key}.layer' names the right one)")
    if not encoding:
        _check_text_encoding(gdf, path, key)
    note = None
    if gdf.crs is None:
        if crs:
            gdf = gdf.set_crs(crs)
        else:
            b = gdf.total_bounds
            if np.all(np.isfinite(b)) and -180 <= b[0] <= b[2] <= 180 and -90 <= b[1] <= b[3] <= 90:
                gdf = gdf.set_crs("EPSG:4326")
                note = (f"{path.name} has no CRS (.prj missing); its coordinates look like lon/lat, so "
                        f"EPSG:4326 (WGS84) is assumed: set '{key}.crs' if that is wrong")
            else:
                raise InputError("the layer has no CRS (.prj missing) and its coordinates are not lon/lat "
                                 f"(bounds {tuple(round(float(v), 1) for v in b)})",
                                 file=str(path), field=f"{key}.crs",
                                 fix=f"set '{key}.crs' in the YAML to the projection the file was drawn in, "
                                     "e.g. EPSG:4547 (CGCS2000 / 3-degree Gauss-Kruger CM 114E), or copy the "
                                     ".prj that came with the data next to the .shp")
    gdf.attrs["crs_note"] = note
    return gdf


_CJK = ("\u3000", "\u9fff")


def _looks_cjk(text):
    return sum(_CJK[0] <= ch <= _CJK[1] or "\uff00" <= ch <= "\uffef" for ch in text)


def _check_text_encoding(gdf, path, key):
    """Stop on text read with the wrong encoding: a shapefile without .cpg written in GBK (or UTF-8)
    is read as Latin-1 and its Chinese names come out as mojibake ("µÚ1ÉçÇø" for "第1社区")."""
    cols = [c for c in gdf.columns if c != gdf.geometry.name
            and (pd.api.types.is_string_dtype(gdf[c]) or gdf[c].dtype == object)]
    if not cols:
        return
    vals = pd.unique(pd.concat([gdf[c] for c in cols], ignore_index=True).dropna().astype(str))
    high = [v for v in vals if any(ord(ch) > 127 for ch in v)]
    if not high:
        return
    bad = [v for v in high if "\ufffd" in v]
    if bad:
        raise InputError(f"text cannot be decoded (replacement characters in e.g. {bad[0]!r})", file=str(path),
                         field=f"{key}.encoding",
                         fix=f"set '{key}.encoding' to the encoding of the attribute table, e.g. GBK "
                             "(or add a .cpg file containing GBK next to the .shp)")
    # text that is pure Latin-1 but becomes Chinese when its bytes are decoded as UTF-8 or GB18030
    suggestion = None
    for enc, label in (("utf-8", "UTF-8"), ("gb18030", "GBK")):
        ok = 0
        for v in high:
            try:
                fixed = v.encode("latin-1").decode(enc)
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
            n_hi = sum(ord(ch) > 127 for ch in fixed)
            if n_hi and _looks_cjk(fixed) >= 0.8 * n_hi:
                ok += 1
        if ok >= max(1, 0.8 * len(high)):
            suggestion = label
            break
    if suggestion:
        example = high[0]
        raise InputError(f"the text looks garbled (mojibake): {example!r} reads as "
                         f"{example.encode('latin-1').decode('gb18030' if suggestion == 'GBK' else 'utf-8')!r} "
                         f"in {suggestion}; the shapefile has no .cpg file saying its encoding",
                         file=str(path), field=f"{key}.encoding",
                         fix=f"add '{key}.encoding: {suggestion}' to the YAML (or put a .cpg file containing "
                             f"{suggestion} next to the .shp)")


def _field(df, fields, key, path, section, required=False):
    col = fields.get(key)
    if col is None:
        if required:
            raise InputError(f"no column configured for '{key}'", file=str(path), field=f"{section}.fields.{key}",
                             fix=f"set {section}.fields.{key} to the column name")
        return None
    if col not in df.columns:
        raise InputError(f"column {col!r} not found (columns: {', '.join(map(str, df.columns))})",
                         file=str(path), field=f"{section}.fields.{key}",
                         fix=f"set {section}.fields.{key} to one of the columns above")
    return df[col]


def load_communities(cfg, crs):
    c = cfg["communities"]
    path = c["path"]
    gdf = _read_vector(path, c["layer"], c["encoding"], c["crs"], "communities")
    f = c["fields"]
    ids = _field(gdf, f, "id", path, "communities", required=True).astype(str)
    dup = ids[ids.duplicated(keep=False)]
    if len(dup):
        raise InputError(f"duplicate community codes: {', '.join(sorted(set(dup))[:20])}", file=str(path),
                         field=f"communities.fields.id ({f['id']})", fix="give each community a unique code")
    out = gpd.GeoDataFrame({"community_id": ids.to_numpy()}, geometry=gdf.geometry.values, crs=gdf.crs)
    name = _field(gdf, f, "name", path, "communities")
    out["name"] = name.astype(str).to_numpy() if name is not None else out["community_id"]
    tw = _field(gdf, f, "township", path, "communities")
    out["township"] = tw.astype(str).to_numpy() if tw is not None else "(all)"
    typ = _field(gdf, f, "type", path, "communities")
    if typ is not None:
        t = typ.astype(str).str.strip()
        urban = t.isin([str(v) for v in c["urban_values"]])
        rural = t.isin([str(v) for v in c["rural_values"]])
        bad = ~(urban | rural)
        if bad.any():
            raise InputError(f"unknown urban/rural values: {sorted(set(t[bad]))[:10]}", file=str(path),
                             field=f"communities.fields.type ({f['type']})",
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
                             field=f"communities.fields.id ({f['id']})",
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


def load_facilities(cfg, crs, area_with_buffer, area):
    """Facilities in the metric CRS, categorised; returns (kept, excluded rows, report)."""
    c = cfg["facilities"]
    path = Path(c["path"])
    suffix = path.suffix.lower()
    crs_note = None
    if suffix in (".csv", ".txt", ".xlsx", ".xls"):
        try:
            if suffix in (".xlsx", ".xls"):
                df = pd.read_excel(path, sheet_name=c["sheet"] or 0)
            else:
                df = _read_csv(path, c["encoding"])
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"cannot read the table ({exc})", file=str(path), field="facilities.path",
                             fix="save the sheet as UTF-8 CSV or .xlsx")
        if len(df) == 0:
            raise InputError("the facility table is empty", file=str(path), field="facilities.path",
                             fix="check the export")
        for key in ("x", "y"):
            if c[key] not in df.columns:
                raise InputError(f"coordinate column {c[key]!r} not found (columns: {', '.join(map(str, df.columns))})",
                                 file=str(path), field=f"facilities.{key}",
                                 fix=f"set facilities.{key} to the {'longitude' if key == 'x' else 'latitude'} column")
        lon = pd.to_numeric(df[c["x"]], errors="coerce").to_numpy()
        lat = pd.to_numeric(df[c["y"]], errors="coerce").to_numpy()
        raw_xy = (lon, lat)
        lon, lat = to_wgs84(lon, lat, c["coord_system"])
        geom = gpd.GeoSeries(shapely.points(lon, lat), crs="EPSG:4326")
        gdf = gpd.GeoDataFrame(df, geometry=geom.values, crs="EPSG:4326")
        gdf["_raw_x"], gdf["_raw_y"] = raw_xy
    else:
        gdf = _read_vector(path, c["layer"], c["encoding"], c["crs"], "facilities")
        crs_note = gdf.attrs.get("crs_note")
        if not (gdf.geom_type == "Point").all():
            gdf["geometry"] = gdf.geometry.representative_point()
        if c["coord_system"] not in (None, "wgs84") and gdf.crs.is_geographic:
            g84 = gdf.to_crs("EPSG:4326")
            lon, lat = to_wgs84(g84.geometry.x.values, g84.geometry.y.values, c["coord_system"])
            gdf = gpd.GeoDataFrame(gdf.drop(columns="geometry"), geometry=shapely.points(lon, lat), crs="EPSG:4326")
    f = c["fields"]
    ids = _field(gdf, f, "id", path, "facilities")
    gdf["facility_id"] = ids.astype(str) if ids is not None else [f"F{i + 1}" for i in range(len(gdf))]
    dup = gdf.facility_id[gdf.facility_id.duplicated(keep=False)]
    if len(dup):
        raise InputError(f"duplicate facility ids: {', '.join(sorted(set(dup))[:20])}", file=str(path),
                         field="facilities.fields.id", fix="give each facility a unique id (or leave fields.id empty)")
    name = _field(gdf, f, "name", path, "facilities")
    gdf["name"] = name.fillna("").astype(str) if name is not None else gdf["facility_id"]
    area_col = _field(gdf, f, "area", path, "facilities")
    gdf["area_m2"] = pd.to_numeric(area_col, errors="coerce") if area_col is not None else np.nan
    lvl = _field(gdf, f, "level", path, "facilities")
    if lvl is not None:
        gdf["level"] = lvl.astype(str)
    # categories: a category column (plan keys, Chinese labels or the YAML category_map), else names
    cat_col = _field(gdf, f, "category", path, "facilities")
    typ_col = _field(gdf, f, "type", path, "facilities")
    if cat_col is None and f["name"] is None:
        raise InputError("facilities need a category column or a name column to classify", file=str(path),
                         field="facilities.fields.category", fix="set facilities.fields.category (or fields.name)")
    work = pd.DataFrame({"_name": gdf["name"].values})
    if cat_col is not None:
        mapped = cat_col.astype(object).map(lambda v: c["category_map"].get(v, v) if pd.notna(v) else v)
        work["_cat"] = mapped.values
    if typ_col is not None:
        work["_type"] = typ_col.astype(object).values
    table = load_keyword_table(c["keywords"])
    matched, unmatched = apply_categories(work, "_name", "_type" if typ_col is not None else None,
                                          "_cat" if cat_col is not None else None, table, source=str(path))
    excluded = [excluded_frame("facilities", path, gdf.facility_id.values[unmatched.index.to_numpy()],
                               "category not recognised", unmatched["reason"].astype(str).values
                               if "reason" in unmatched else "")]
    gdf = gdf.iloc[matched.index.to_numpy()].copy()
    gdf["category"] = matched["category"].values
    bad_xy = ~np.isfinite(shapely.get_x(gdf.geometry.values)) | ~np.isfinite(shapely.get_y(gdf.geometry.values))
    excluded.append(excluded_frame("facilities", path, gdf.facility_id[bad_xy], "missing or invalid coordinates"))
    gdf = gdf[~bad_xy].to_crs(crs)
    inside_buf = shapely.contains_xy(area_with_buffer, shapely.get_x(gdf.geometry.values), shapely.get_y(gdf.geometry.values))
    report = {"facilities_read": int(len(gdf) + bad_xy.sum() + len(unmatched)),
              "outside_area": int((~inside_buf).sum())}
    if crs_note:
        report["crs_note"] = crs_note
    hint = ""
    if len(gdf) and (~inside_buf).mean() > 0.5:
        n_out = int((~inside_buf).sum())
        swapped = _swapped_inside(gdf, c, crs, area_with_buffer) if "_raw_x" in gdf else 0.0
        if swapped > 0.5:
            hint = (f"{n_out} of {len(gdf)} facilities fall outside the study area, but "
                    f"{swapped:.0%} would fall inside with longitude and latitude exchanged: the columns "
                    f"facilities.x = {c['x']!r} and facilities.y = {c['y']!r} look swapped "
                    f"(set x: {c['y']} and y: {c['x']} in the YAML, or fix the columns)")
        else:
            hint = (f"{n_out} of {len(gdf)} facilities fall outside the study area: check for swapped lon/lat "
                    "columns (facilities.x / facilities.y), GCJ-02 (Amap) or BD-09 (Baidu) coordinates not "
                    f"declared in facilities.coord_system (now {c['coord_system']!r}), or a wrong CRS/zone")
        report["hint"] = hint
        if not inside_buf.any():
            fix = (f"set facilities.x: {c['y']} and facilities.y: {c['x']}" if swapped > 0.5
                   else "correct facilities.coord_system (gcj02 for Amap, bd09 for Baidu), the columns or the CRS")
            raise InputError(f"no facility lies in or near the study area ({hint})", file=str(path),
                             field="facilities.x / facilities.y" + ("" if swapped > 0.5 else " / facilities.coord_system"),
                             fix=fix + "; facility ids outside: " + ", ".join(map(str, gdf.facility_id.values[:10]))
                                 + (" ..." if len(gdf) > 10 else ""))
    excluded.append(excluded_frame("facilities", path, gdf.facility_id[~inside_buf],
                                   "outside the study area and its buffer", hint))
    gdf = gdf[inside_buf]
    gdf["inside_area"] = shapely.contains_xy(area, shapely.get_x(gdf.geometry.values), shapely.get_y(gdf.geometry.values))
    keep = ["facility_id", "name", "category", "area_m2"] + (["level"] if "level" in gdf else []) + ["inside_area", "geometry"]
    gdf = gdf[keep].sort_values(["category", "facility_id"], kind="stable").reset_index(drop=True)
    return gdf, pd.concat(excluded, ignore_index=True), report


def _swapped_inside(gdf, c, crs, area_with_buffer):
    """Share of facilities that would lie inside the buffered area with x and y exchanged."""
    x, y = gdf["_raw_y"].to_numpy(dtype=float), gdf["_raw_x"].to_numpy(dtype=float)
    ok = np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180) & (np.abs(y) <= 90)
    if not ok.any():
        return 0.0
    lon, lat = to_wgs84(x[ok], y[ok], c["coord_system"])
    pts = gpd.GeoSeries(shapely.points(lon, lat), crs="EPSG:4326").to_crs(crs).values
    return float(shapely.contains_xy(area_with_buffer, shapely.get_x(pts), shapely.get_y(pts)).sum()) / len(gdf)


def _read_csv(path, encoding=None):
    encs = [encoding] if encoding else ["utf-8-sig", "gb18030"]
    last = None
    for enc in encs:
        try:
            return pd.read_csv(path, encoding=enc)
        except UnicodeDecodeError as exc:
            last = exc
    raise InputError(f"cannot decode the CSV ({last})", file=str(path), field="facilities.encoding",
                     fix="set facilities.encoding (e.g. GBK) or save the file as UTF-8")
