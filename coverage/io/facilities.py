"""Facilities: tables with lon/lat (WGS84, GCJ-02, BD-09) or point/polygon layers, classified into
plan categories; every dropped row is listed."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .categories import apply_categories, load_keyword_table, top_unmatched
from ..errors import InputError
from .coords import to_wgs84
from .vector import _field, _read_vector, excluded_frame


def load_facilities(c, crs, area_with_buffer, area, data=None, *, source=None):
    """Facilities in the metric CRS, categorised; returns (kept, excluded rows, report).

    ``c`` is :class:`coverage.config.Facilities`; ``data`` an in-memory GeoDataFrame (points or
    polygons) or a DataFrame with the ``c.x``/``c.y`` columns, read from ``c.path`` when None."""
    path = Path(source or c.path or "<facilities>")
    suffix = path.suffix.lower()
    crs_note = None
    if data is not None and isinstance(data, gpd.GeoDataFrame):
        gdf = data.copy()
        if gdf.crs is None:
            raise InputError("the facility GeoDataFrame has no CRS", file=str(path), field="facilities",
                             fix="set its CRS (gdf.set_crs('EPSG:4326') for lon/lat)")
        if not (gdf.geom_type == "Point").all():
            gdf["geometry"] = gdf.geometry.representative_point()
    elif data is not None or suffix in (".csv", ".txt", ".xlsx", ".xls"):
        try:
            if data is not None:
                df = pd.DataFrame(data)
            elif suffix in (".xlsx", ".xls"):
                df = pd.read_excel(path, sheet_name=c.sheet or 0)
            else:
                df = _read_csv(path, c.encoding)
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"cannot read the table ({exc})", file=str(path), field="facilities.path",
                             fix="save the sheet as UTF-8 CSV or .xlsx")
        if len(df) == 0:
            raise InputError("the facility table is empty", file=str(path), field="facilities.path",
                             fix="check the export")
        for key in ("x", "y"):
            if getattr(c, key) not in df.columns:
                raise InputError(f"coordinate column {getattr(c, key)!r} not found (columns: {', '.join(map(str, df.columns))})",
                                 file=str(path), field=f"facilities.{key}",
                                 fix=f"set facilities.{key} to the {'longitude' if key == 'x' else 'latitude'} column")
        lon = pd.to_numeric(df[c.x], errors="coerce").to_numpy()
        lat = pd.to_numeric(df[c.y], errors="coerce").to_numpy()
        raw_xy = (lon, lat)
        lon, lat = to_wgs84(lon, lat, c.coord_system)
        geom = gpd.GeoSeries(shapely.points(lon, lat), crs="EPSG:4326")
        gdf = gpd.GeoDataFrame(df, geometry=geom.values, crs="EPSG:4326")
        gdf["_raw_x"], gdf["_raw_y"] = raw_xy
    else:
        gdf = _read_vector(path, c.layer, c.encoding, c.crs, "facilities")
        crs_note = gdf.attrs.get("crs_note")
        if not (gdf.geom_type == "Point").all():
            gdf["geometry"] = gdf.geometry.representative_point()
        if c.coord_system not in (None, "wgs84") and gdf.crs.is_geographic:
            g84 = gdf.to_crs("EPSG:4326")
            lon, lat = to_wgs84(g84.geometry.x.values, g84.geometry.y.values, c.coord_system)
            gdf = gpd.GeoDataFrame(gdf.drop(columns="geometry"), geometry=shapely.points(lon, lat), crs="EPSG:4326")
    f = c.fields
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
    if cat_col is None and f.name is None:
        raise InputError("facilities need a category column or a name column to classify", file=str(path),
                         field="facilities.fields.category", fix="set facilities.fields.category (or fields.name)")
    work = pd.DataFrame({"_name": gdf["name"].values})
    if cat_col is not None:
        mapped = cat_col.astype(object).map(lambda v: c.category_map.get(v, v) if pd.notna(v) else v)
        work["_cat"] = mapped.values
    if typ_col is not None:
        work["_type"] = typ_col.astype(object).values
    table = load_keyword_table(c.keywords)
    matched, unmatched = apply_categories(work, "_name", "_type" if typ_col is not None else None,
                                          "_cat" if cat_col is not None else None, table, source=str(path),
                                          column_label=f.category)
    unmatched_top = top_unmatched(unmatched, "_name")   # [(name, count)], excluded names left out
    excluded = [excluded_frame("facilities", path, gdf.facility_id.values[unmatched.index.to_numpy()],
                               "category not recognised", unmatched["reason"].astype(str).values
                               if "reason" in unmatched else "")]
    gdf = gdf.iloc[matched.index.to_numpy()].copy()
    gdf["category"] = matched["category"].values
    gdf["subtype"] = matched["subtype"].values
    if "level" not in gdf:                               # no level column: read it from the name
        gdf["level"] = matched["level"].values
    bad_xy = ~np.isfinite(shapely.get_x(gdf.geometry.values)) | ~np.isfinite(shapely.get_y(gdf.geometry.values))
    excluded.append(excluded_frame("facilities", path, gdf.facility_id[bad_xy], "missing or invalid coordinates"))
    gdf = gdf[~bad_xy].to_crs(crs)
    inside_buf = shapely.contains_xy(area_with_buffer, shapely.get_x(gdf.geometry.values), shapely.get_y(gdf.geometry.values))
    report = {"facilities_read": int(len(gdf) + bad_xy.sum() + len(unmatched)),
              "outside_area": int((~inside_buf).sum())}
    if crs_note:
        report["crs_note"] = crs_note
    if unmatched_top:
        report["top_unmatched"] = unmatched_top
    hint = ""
    if len(gdf) and (~inside_buf).mean() > 0.5:
        n_out = int((~inside_buf).sum())
        swapped = _swapped_inside(gdf, c, crs, area_with_buffer) if "_raw_x" in gdf else 0.0
        if swapped > 0.5:
            hint = (f"{n_out} of {len(gdf)} facilities fall outside the study area, but "
                    f"{swapped:.0%} would fall inside with longitude and latitude exchanged: the columns "
                    f"facilities.x = {c.x!r} and facilities.y = {c.y!r} look swapped "
                    f"(set x: {c.y} and y: {c.x} in the YAML, or fix the columns)")
        else:
            hint = (f"{n_out} of {len(gdf)} facilities fall outside the study area: check for swapped lon/lat "
                    "columns (facilities.x / facilities.y), GCJ-02 (Amap) or BD-09 (Baidu) coordinates not "
                    f"declared in facilities.coord_system (now {c.coord_system!r}), or a wrong CRS/zone")
        report["hint"] = hint
        if not inside_buf.any():
            fix = (f"set facilities.x: {c.y} and facilities.y: {c.x}" if swapped > 0.5
                   else "correct facilities.coord_system (gcj02 for Amap, bd09 for Baidu), the columns or the CRS")
            raise InputError(f"no facility lies in or near the study area ({hint})", file=str(path),
                             field="facilities.x / facilities.y" + ("" if swapped > 0.5 else " / facilities.coord_system"),
                             fix=fix + "; facility ids outside: " + ", ".join(map(str, gdf.facility_id.values[:10]))
                                 + (" ..." if len(gdf) > 10 else ""))
    excluded.append(excluded_frame("facilities", path, gdf.facility_id[~inside_buf],
                                   "outside the study area and its buffer", hint))
    gdf = gdf[inside_buf]
    gdf["inside_area"] = shapely.contains_xy(area, shapely.get_x(gdf.geometry.values), shapely.get_y(gdf.geometry.values))
    keep = ["facility_id", "name", "category", "subtype", "area_m2", "level", "inside_area", "geometry"]
    gdf = gdf[keep].sort_values(["category", "facility_id"], kind="stable").reset_index(drop=True)
    return gdf, pd.concat(excluded, ignore_index=True), report


def _swapped_inside(gdf, c, crs, area_with_buffer):
    """Share of facilities that would lie inside the buffered area with x and y exchanged."""
    x, y = gdf["_raw_y"].to_numpy(dtype=float), gdf["_raw_x"].to_numpy(dtype=float)
    ok = np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180) & (np.abs(y) <= 90)
    if not ok.any():
        return 0.0
    lon, lat = to_wgs84(x[ok], y[ok], c.coord_system)
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
