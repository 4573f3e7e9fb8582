"""Reading a county's road centreline file with the right text encoding and CRS checks."""

from __future__ import annotations

import codecs
import re
import warnings
from pathlib import Path

import pandas as pd

from ..errors import InputError

__all__ = ["read_roads"]


def read_roads(path, encoding: str | None = None, *, crs=None):
    """Read a road-centreline file (shapefile, GeoPackage, GeoJSON ...) into a GeoDataFrame.

    The text encoding comes from the shapefile's .cpg (or the DBF code page) unless
    ``encoding`` (e.g. "GBK", "GB18030", "UTF-8") overrides it. A shapefile without .prj
    raises InputError asking for ``network.crs`` unless ``crs`` is given; ``crs`` is used
    only when the file itself has none. The result keeps the file's CRS (not reprojected).
    """
    import pyogrio

    path = Path(path)
    if not path.exists():
        raise InputError("the road file does not exist", file=path, field="network.roads",
                         fix="check the path of network.path in the study YAML (relative "
                             "paths are taken from the YAML's folder)")
    kwargs = {}
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InputError(f"unknown text encoding {encoding!r}", file=path,
                             field="network.encoding",
                             fix="use GBK or GB18030 for Chinese shapefiles from Windows "
                                 "GIS software, or UTF-8") from None
        kwargs["encoding"] = encoding
    is_shp = path.suffix.lower() == ".shp"
    if is_shp and crs is None and not _sibling(path, ".prj"):
        raise InputError(
            "the shapefile has no .prj file, so its coordinate system is unknown", file=path,
            field="network.crs",
            fix="set network.crs in the study YAML to the CRS the roads were drawn in (e.g. "
                "EPSG:4547 = CGCS2000 3-degree Gauss-Kruger CM 114E, EPSG:4490 = CGCS2000 "
                "lon/lat), or put the data provider's .prj beside the .shp")
    try:
        gdf = pyogrio.read_dataframe(path, **kwargs)
    except Exception as exc:  # pyogrio/GDAL errors differ by driver
        raise InputError(f"the road file cannot be read: {exc}", file=path,
                         field="network.path",
                         fix="open it in QGIS to check it; export it as a shapefile or "
                             "GeoPackage if it is another format") from exc
    if len(gdf) == 0:
        raise InputError("the road file has no features", file=path, field="network.path",
                         fix="export the road centrelines of the study area again (the layer is empty)")
    types = pd.Series(gdf.geom_type).dropna()
    if not types.isin(["LineString", "MultiLineString"]).any():
        kinds = ", ".join(sorted(set(types))) or "no geometry"
        hint = (" (road surfaces or blocks?)" if types.isin(["Polygon", "MultiPolygon"]).any() else
                " (road names or junction points?)" if types.isin(["Point", "MultiPoint"]).any() else "")
        raise InputError(f"the road file holds {kinds} features, not lines{hint}: a walking network needs road "
                         "centrelines", file=path, field="network.path",
                         fix="give the road centreline layer (LineString features), e.g. the 道路中心线 layer of the "
                             "county's basic geographic data, or an OSM extract with network.source: pbf")
    if gdf.crs is None:
        if crs is None:
            raise InputError("the road file has no coordinate reference system", file=path,
                             field="network.crs",
                             fix="set network.crs in the study YAML (e.g. EPSG:4547)")
        gdf = gdf.set_crs(crs)
    if is_shp and not encoding and not _sibling(path, ".cpg"):
        bad = _mojibake_columns(gdf)
        if bad:
            warnings.warn(
                f"{path}: no .cpg file and the text of field(s) {', '.join(bad)} looks "
                "mis-decoded; if the attribute names are Chinese, set network.encoding: GBK "
                "(or GB18030) in the study YAML", stacklevel=2)
    return gdf


def _sibling(path: Path, suffix: str) -> bool:
    return any(path.with_suffix(s).exists() for s in (suffix, suffix.upper()))


_LATIN1_PAIR = re.compile("[\u0080-\u00ff]{2}")


def _mojibake_columns(gdf) -> list[str]:
    """Text columns holding Latin-1 characters typical of GBK bytes read as ISO-8859-1."""
    out = [str(c) for c in gdf.columns if _LATIN1_PAIR.search(str(c))]
    for col in gdf.columns:
        if col == gdf.geometry.name or not (pd.api.types.is_object_dtype(gdf[col])
                                            or pd.api.types.is_string_dtype(gdf[col])):
            continue
        s = gdf[col].dropna().astype(str)
        if len(s) and s.str.contains("[\u0080-\u00ff]{2}", regex=True).any() \
                and str(col) not in out:
            out.append(str(col))
    return out
