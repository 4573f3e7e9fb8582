"""Facilities: tables with lon/lat (WGS84, GCJ-02, BD-09) or projected X/Y (``facilities.crs``),
or point/polygon layers, classified into plan categories; every dropped row is listed.

Tables are read as planners' office software writes them: the column separator of a CSV is
detected (``;`` from European-locale Excel), a title row above the header is skipped, merged
category cells of an Excel sheet are filled down, and coordinates with full-width digits, comma
decimals, degrees-minutes-seconds or trailing spaces are read (:mod:`coverage.io.numbers`).
The report counts, per category, the facilities dropped and why (``dropped``), and the most
frequent unrecognised names (``top_unmatched``)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import InputError
from .categories import (
    apply_categories,
    default_table_path,
    load_keyword_table,
    top_unmatched,
)
from .communities import id_strings
from .coords import to_wgs84
from .facility_tables import _read_table, _title_row_hint
from .numbers import blank_mask, clean_text, parse_numbers, strip_text
from .vector import _field, _read_vector, excluded_frame

REASON_UNMATCHED = "category not recognised"
REASON_XY = "missing or invalid coordinates"
REASON_OUTSIDE = "outside the study area and its buffer"


def load_facilities(c, crs, area_with_buffer, area, data=None, *, source=None):
    """Facilities in the metric CRS, categorised; returns (kept, excluded rows, report).

    ``c`` is :class:`coverage.config.Facilities`; ``data`` an in-memory GeoDataFrame (points or
    polygons) or a DataFrame with the ``c.x``/``c.y`` columns, read from ``c.path`` when None."""
    path = Path(source or c.path or "<facilities>")
    suffix = path.suffix.lower()
    notes: list[str] = []
    crs_note = None
    geographic = True
    raw_xy_text = None
    row_label = "feature"
    rownum = None
    if data is not None and isinstance(data, gpd.GeoDataFrame):
        gdf = data.copy()
        if gdf.crs is None:
            raise InputError("the facility GeoDataFrame has no CRS", file=str(path), field="facilities",
                             fix="set its CRS (gdf.set_crs('EPSG:4326') for lon/lat)")
        if not (gdf.geom_type == "Point").all():
            gdf["geometry"] = gdf.geometry.representative_point()
        geographic = bool(gdf.crs.is_geographic)
    elif data is not None or suffix in (".csv", ".txt", ".xlsx", ".xlsm", ".xls"):
        if data is not None:
            df = pd.DataFrame(data).reset_index(drop=True)
            df.index = df.index + 1
        else:
            df, _ = _read_table(path, c, notes)
        row_label, rownum = "row", df.index.to_numpy()
        if len(df) == 0:
            raise InputError("the facility table is empty (a header but no rows)", file=str(path),
                             field="facilities.path", fix="check the export: it should hold one row per facility")
        for key in ("x", "y"):
            if getattr(c, key) not in df.columns:
                raise InputError(f"coordinate column {getattr(c, key)!r} not found (columns: "
                                 f"{', '.join(map(str, df.columns))})", file=str(path), field=f"facilities.{key}",
                                 fix=f"set facilities.{key} to the {'longitude (or X)' if key == 'x' else 'latitude (or Y)'} "
                                     "column" + _title_row_hint(df))
        xs, x_bad = parse_numbers(df[c.x], "coord")
        ys, y_bad = parse_numbers(df[c.y], "coord")
        raw_xy_text = (df[c.x], df[c.y], x_bad | y_bad)
        gdf, geographic = _table_points(df, xs, ys, c, crs, area, path, notes)
    else:
        gdf = _read_vector(path, c.layer, c.encoding, c.crs, "facilities")
        crs_note = gdf.attrs.get("crs_note")
        if gdf.attrs.get("layer_note"):
            notes.append(gdf.attrs["layer_note"])
        if not (gdf.geom_type == "Point").all():
            gdf["geometry"] = gdf.geometry.representative_point()
        geographic = bool(gdf.crs.is_geographic)
        if c.coord_system not in (None, "wgs84") and gdf.crs.is_geographic:
            g84 = gdf.to_crs("EPSG:4326")
            lon, lat = to_wgs84(g84.geometry.x.values, g84.geometry.y.values, c.coord_system)
            gdf = gpd.GeoDataFrame(gdf.drop(columns="geometry"), geometry=shapely.points(lon, lat), crs="EPSG:4326")
    gdf = gdf.reset_index(drop=True)
    if rownum is None:
        rownum = np.arange(1, len(gdf) + 1)
    f = c.fields
    ids = _field(gdf, f, "id", path, "facilities")
    if ids is not None:
        blank = blank_mask(ids)
        fid = id_strings(ids)
        if blank.any():
            made = [f"{row_label}-{rownum[i]}" for i in np.flatnonzero(blank)]
            fid[blank] = made
            notes.append(f"{int(blank.sum())} facilities have no id in column {f.id!r}; they are kept, named by their "
                         f"{row_label} in {path.name}: {', '.join(made[:10])}{' ...' if len(made) > 10 else ''} "
                         "(fill the id column to name them)")
        gdf["facility_id"] = fid.to_numpy()
    else:
        gdf["facility_id"] = [f"F{i + 1}" for i in range(len(gdf))]
    dup = gdf.facility_id[gdf.facility_id.duplicated(keep=False)]
    if len(dup):
        raise InputError(f"duplicate facility ids: {', '.join(sorted(set(dup))[:20])}", file=str(path),
                         field="facilities.fields.id", fix="give each facility a unique id (or leave fields.id empty)")
    name = _field(gdf, f, "name", path, "facilities")
    gdf["name"] = [strip_text(v) for v in name.to_numpy(dtype=object)] if name is not None else gdf["facility_id"]
    area_col = _field(gdf, f, "area", path, "facilities")
    if area_col is not None:
        av, a_bad = parse_numbers(area_col, "number")
        gdf["area_m2"] = av
        if a_bad.any():
            ex = [f"{i}: {clean_text(v)!r}" for i, v in zip(gdf.facility_id[a_bad][:5], area_col[a_bad][:5])]
            notes.append(f"{int(a_bad.sum())} floor areas in column {f.area!r} are not numbers ({'; '.join(ex)}); they "
                         "are left empty (area unknown): write plain numbers of m²")
    else:
        gdf["area_m2"] = np.nan
    site_col = _field(gdf, f, "site_area", path, "facilities")
    if site_col is not None:   # ground area of plazas / sports grounds (only when configured)
        sv, s_bad = parse_numbers(site_col, "number")
        gdf["site_area_m2"] = sv
        if s_bad.any():
            notes.append(f"{int(s_bad.sum())} site areas in column {f.site_area!r} are not numbers; they are left "
                         "empty (area unknown): write plain numbers of m²")
    lvl = _field(gdf, f, "level", path, "facilities")
    if lvl is not None:
        gdf["level"] = [strip_text(v) for v in lvl.to_numpy(dtype=object)]
    # categories: a category column (plan keys, Chinese labels or the YAML category_map), else names
    cat_col = _field(gdf, f, "category", path, "facilities")
    typ_col = _field(gdf, f, "type", path, "facilities")
    if cat_col is None and f.name is None:
        raise InputError("facilities need a category column or a name column to classify", file=str(path),
                         field="facilities.fields.category", fix="set facilities.fields.category (or fields.name)")
    work = pd.DataFrame({"_name": gdf["name"].values})
    if cat_col is not None:
        cmap = {clean_text(k): v for k, v in c.category_map.items()}
        cblank = blank_mask(cat_col)
        mapped = [None if b else cmap.get(clean_text(v), clean_text(v))
                  for v, b in zip(cat_col.to_numpy(dtype=object), cblank)]
        work["_cat"] = pd.Series(mapped, dtype=object).values
    if typ_col is not None:
        work["_type"] = typ_col.astype(object).values
    table = keyword_table(c.keywords)
    matched, unmatched = apply_categories(work, "_name", "_type" if typ_col is not None else None,
                                          "_cat" if cat_col is not None else None, table, source=str(path),
                                          column_label=f.category)
    unmatched_top = top_unmatched(unmatched, "_name")   # [(name, count)], excluded names left out
    excluded = [excluded_frame("facilities", path, gdf.facility_id.values[unmatched.index.to_numpy()],
                               REASON_UNMATCHED, unmatched["reason"].astype(str).values
                               if "reason" in unmatched else "")]
    unmatched_cats = []
    if cat_col is not None and len(unmatched):
        vals = [v for v in unmatched["_cat"].tolist() if v is not None and str(v).strip()]
        unmatched_cats = Counter(map(str, vals)).most_common(10)
    gdf = gdf.iloc[matched.index.to_numpy()].copy()
    gdf["category"] = matched["category"].values
    gdf["subtype"] = matched["subtype"].values
    if "level" not in gdf:                               # no level column: read it from the name
        gdf["level"] = matched["level"].values
    read_by_cat = gdf["category"].value_counts().to_dict()
    bad_xy = ~np.isfinite(shapely.get_x(gdf.geometry.values)) | ~np.isfinite(shapely.get_y(gdf.geometry.values))
    detail = ""
    if raw_xy_text is not None and bad_xy.any():
        xt, yt, _ = raw_xy_text
        pos = matched.index.to_numpy()[bad_xy]
        detail = [f"{c.x}={clean_text(xt.iloc[i])!r}, {c.y}={clean_text(yt.iloc[i])!r}" for i in pos]
    excluded.append(excluded_frame("facilities", path, gdf.facility_id[bad_xy], REASON_XY, detail))
    dropped = {}
    for cat, n in (gdf.category[bad_xy].value_counts().items() if bad_xy.any() else ()):
        dropped.setdefault(cat, {})[REASON_XY] = int(n)
    gdf = gdf[~bad_xy].to_crs(crs)
    inside_buf = shapely.contains_xy(area_with_buffer, shapely.get_x(gdf.geometry.values), shapely.get_y(gdf.geometry.values))
    report = {"facilities_read": int(len(gdf) + bad_xy.sum() + len(unmatched)),
              "outside_area": int((~inside_buf).sum()), "notes": notes, "unmatched": int(len(unmatched)),
              "read_by_category": {k: int(v) for k, v in read_by_cat.items()},
              "geographic_input": bool(geographic), "coord_system": c.coord_system}
    if crs_note:
        report["crs_note"] = crs_note
    if unmatched_top:
        report["top_unmatched"] = unmatched_top
    if unmatched_cats:
        report["top_unmatched_categories"] = unmatched_cats
    hint = ""
    if len(gdf) and (~inside_buf).mean() > 0.5:
        n_out = int((~inside_buf).sum())
        swapped = _swapped_inside(gdf, c, crs, area_with_buffer) if "_raw_x" in gdf and geographic else 0.0
        if swapped > 0.5:
            hint = (f"{n_out} of {len(gdf)} facilities fall outside the study area, but "
                    f"{swapped:.0%} would fall inside with longitude and latitude exchanged: the columns "
                    f"facilities.x = {c.x!r} and facilities.y = {c.y!r} look swapped "
                    f"(set x: {c.y} and y: {c.x} in the YAML, or fix the columns)")
        else:
            hint = (f"{n_out} of {len(gdf)} facilities fall outside the study area: check for swapped lon/lat "
                    "columns (facilities.x / facilities.y), GCJ-02 (Amap) or BD-09 (Baidu) coordinates not "
                    f"declared in facilities.coord_system (now {c.coord_system!r}), or a wrong CRS/zone"
                    + (f" (facilities.crs = {c.crs})" if c.crs else ""))
        report["hint"] = hint
        if not inside_buf.any():
            fix = (f"set facilities.x: {c.y} and facilities.y: {c.x}" if swapped > 0.5
                   else "correct facilities.coord_system (gcj02 for Amap, bd09 for Baidu), the columns or the CRS")
            raise InputError(f"no facility lies in or near the study area ({hint})", file=str(path),
                             field="facilities.x / facilities.y" + ("" if swapped > 0.5 else " / facilities.coord_system"),
                             fix=fix + "; facility ids outside: " + ", ".join(map(str, gdf.facility_id.values[:10]))
                                 + (" ..." if len(gdf) > 10 else ""))
    excluded.append(excluded_frame("facilities", path, gdf.facility_id[~inside_buf], REASON_OUTSIDE, hint))
    for cat, n in (gdf.category[~inside_buf].value_counts().items() if not inside_buf.all() else ()):
        dropped.setdefault(cat, {})[REASON_OUTSIDE] = int(n)
    report["dropped"] = dropped
    gdf = gdf[inside_buf]
    gdf["inside_area"] = shapely.contains_xy(area, shapely.get_x(gdf.geometry.values), shapely.get_y(gdf.geometry.values))
    keep = ["facility_id", "name", "category", "subtype", "area_m2", "level", "inside_area", "geometry"]
    if "site_area_m2" in gdf:
        keep.insert(5, "site_area_m2")
    gdf = gdf[keep].sort_values(["category", "facility_id"], kind="stable").reset_index(drop=True)
    return gdf, pd.concat(excluded, ignore_index=True), report


_TABLES: dict = {}


def keyword_table(path=None):
    """The keyword table, parsed once per file version (it is read-only; parsing it takes most of a
    second, which matters to a Python session running many studies)."""
    p = Path(path) if path else default_table_path()
    try:
        st = p.stat()
        key = (str(p.resolve()), st.st_mtime_ns, st.st_size)
    except OSError:
        return load_keyword_table(path)         # the loader says what is wrong with the path
    if key not in _TABLES:
        _TABLES[key] = load_keyword_table(path)
    return _TABLES[key]


# --------------------------------------------------------------------------- coordinates

def _looks_lonlat(xs, ys):
    ok = np.isfinite(xs) & np.isfinite(ys)
    return ok & (np.abs(xs) <= 180) & (np.abs(ys) <= 90)


def _table_points(df, xs, ys, c, crs, area, path, notes):
    """Points of a table: lon/lat (converted from GCJ-02/BD-09 when declared) or projected X/Y in
    ``facilities.crs``. Returns (GeoDataFrame, whether the input was lon/lat)."""
    from pyproj import CRS
    given = CRS.from_user_input(c.crs) if c.crs else None
    finite = np.isfinite(xs) & np.isfinite(ys)
    if given is not None and given.is_projected:
        if c.coord_system not in (None, "wgs84"):
            raise InputError(f"facilities.coord_system is {c.coord_system!r} but facilities.crs {c.crs} is projected: "
                             "GCJ-02 and BD-09 are lon/lat systems", file=str(path), field="facilities.coord_system",
                             fix="for projected X/Y delete facilities.coord_system; for Amap/Baidu lon/lat delete "
                                 "facilities.crs")
        looks = _looks_lonlat(xs, ys)
        if finite.any() and looks[finite].mean() > 0.5:
            raise InputError(f"facilities.crs is {c.crs} (projected, metres) but the columns {c.x!r}/{c.y!r} hold "
                             f"lon/lat degrees (e.g. {xs[finite][0]:g}, {ys[finite][0]:g})", file=str(path),
                             field="facilities.crs", fix="delete facilities.crs (lon/lat tables need none) or point "
                                                         "facilities.x / facilities.y at the projected X/Y columns")
        gdf = gpd.GeoDataFrame(df, geometry=shapely.points(xs, ys), crs=given)
        return gdf, False
    if finite.any():
        looks = _looks_lonlat(xs, ys)
        share_proj = 1.0 - looks[finite].mean()
        if share_proj > 0.5:
            raise InputError(f"the coordinates in {c.x!r}/{c.y!r} are not lon/lat degrees (x {np.nanmin(xs):.0f} to "
                             f"{np.nanmax(xs):.0f}, y {np.nanmin(ys):.0f} to {np.nanmax(ys):.0f}): they look projected",
                             file=str(path), field="facilities.crs", fix=_projected_fix(xs[finite], ys[finite], crs, area))
        if share_proj > 0:
            bad = finite & ~looks
            xs, ys = xs.copy(), ys.copy()
            xs[bad], ys[bad] = np.nan, np.nan
            notes.append(f"{int(bad.sum())} facility rows have coordinates outside lon/lat ranges (listed in excluded.csv "
                         f"as {REASON_XY!r})")
    lon, lat = to_wgs84(xs, ys, c.coord_system)
    gdf = gpd.GeoDataFrame(df, geometry=shapely.points(lon, lat), crs=given or "EPSG:4326")
    gdf["_raw_x"], gdf["_raw_y"] = xs, ys
    return gdf, True


def _projected_fix(xs, ys, crs, area) -> str:
    from pyproj import CRS

    from ..core.crs import gk3_cm_crs_for, transformer
    x = float(np.median(xs))
    lon = transformer(crs, "EPSG:4326").transform(*shapely.centroid(area).coords[0])[0]
    if 25_000_000 <= x < 46_000_000:
        zone = int(x // 1_000_000)
        code = 4488 + zone
        return (f"set facilities.crs: EPSG:{code} ({CRS.from_epsg(code).name}: the easting starts with the zone "
                f"number {zone})")
    if 13_000_000 <= x < 24_000_000:
        zone = int(x // 1_000_000)
        code = 4478 + zone
        return f"set facilities.crs: EPSG:{code} ({CRS.from_epsg(code).name})"
    gk = gk3_cm_crs_for(lon)
    guess = f"EPSG:{gk.to_epsg()} ({gk.name}) for this area" if gk is not None else "the EPSG code of their projection"
    return (f"set facilities.crs to the CRS of the X/Y columns, e.g. {guess}; or point facilities.x / facilities.y at "
            "lon/lat columns")


def _swapped_inside(gdf, c, crs, area_with_buffer):
    """Share of facilities that would lie inside the buffered area with x and y exchanged."""
    x, y = gdf["_raw_y"].to_numpy(dtype=float), gdf["_raw_x"].to_numpy(dtype=float)
    ok = np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180) & (np.abs(y) <= 90)
    if not ok.any():
        return 0.0
    lon, lat = to_wgs84(x[ok], y[ok], c.coord_system)
    pts = gpd.GeoSeries(shapely.points(lon, lat), crs="EPSG:4326").to_crs(crs).values
    return float(shapely.contains_xy(area_with_buffer, shapely.get_x(pts), shapely.get_y(pts)).sum()) / len(gdf)


# --------------------------------------------------------------------------- tables
