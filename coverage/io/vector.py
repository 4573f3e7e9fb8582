"""Reading vector layers: encodings (GBK mojibake), missing .prj, configured fields, and the rows
of excluded.csv."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import shapely

from ..errors import InputError

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
    layers = _layer_names(path, key)
    multi_note = None
    if layer and layers is not None and layer not in layers:
        raise InputError(f"layer {layer!r} is not in the file (its layers: {', '.join(layers) or 'none'})",
                         file=str(path), field=f"{key}.layer",
                         fix=f"set {key}.layer to one of: {', '.join(layers)}" if layers else "check the file")
    if not layer and layers is not None and len(layers) > 1:
        multi_note = (f"{path.name} has {len(layers)} layers ({', '.join(layers[:6])}); the first, {layers[0]!r}, "
                      f"was read: set '{key}.layer' to choose another")
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
    if not encoding and path.suffix.lower() in (".shp", ".dbf", ".zip"):
        # only a shapefile's .dbf has no fixed encoding (GeoPackage and GeoJSON are always UTF-8)
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
    gdf.attrs["layer_note"] = multi_note
    return gdf


def _layer_names(path, key):
    """The layer names of a vector file (None when the file cannot be listed: the read says why)."""
    import warnings
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return [str(n) for n in pyogrio.list_layers(path)[:, 0]]
    except Exception:
        return None


def lonlat_bounds(gdf, file, key="communities"):
    """(lon0, lat0, lon1, lat1) of a layer's valid geometries, for choosing and checking the CRS."""
    from ..core.crs import transformer
    g = gdf.geometry.values
    ok = ~(shapely.is_missing(g) | shapely.is_empty(g))
    if not ok.any():
        raise InputError("none of the features has a geometry", file=str(file), field=f"{key}.path",
                         fix="export the layer again with its shapes (the attribute table alone is not enough)")
    b = shapely.total_bounds(g[ok])
    if not np.all(np.isfinite(b)):
        raise InputError("the layer's coordinates are not finite numbers", file=str(file), field=f"{key}.path",
                         fix="check the layer in QGIS and export it again")
    box = shapely.segmentize(shapely.box(*b), max(b[2] - b[0], b[3] - b[1], 1e-9) / 8)
    tr = transformer(gdf.crs, "EPSG:4326")
    xy = shapely.get_coordinates(box)
    lon, lat = tr.transform(xy[:, 0], xy[:, 1])
    lon, lat = np.asarray(lon), np.asarray(lat)
    if not (np.all(np.isfinite(lon)) and np.all(np.isfinite(lat))) or np.abs(lat).max() > 90:
        raise InputError(f"the layer's coordinates (bounds {tuple(round(float(v), 1) for v in b)}) are not valid in "
                         f"its CRS {gdf.crs.to_string() if gdf.crs else None}",
                         file=str(file), field=f"{key}.crs",
                         fix=f"the .prj (or '{key}.crs') does not match the coordinates: set '{key}.crs' to the "
                             "projection the file was drawn in, e.g. EPSG:4547")
    return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())


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
    """The column configured as ``<section>.fields.<key>`` (None when not configured)."""
    col = getattr(fields, key)
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
