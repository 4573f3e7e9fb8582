"""Choosing one metric CRS for a study area."""

from __future__ import annotations

import math

from pyproj import CRS

from ..errors import InputError


def utm_crs_for(lon: float, lat: float) -> CRS:
    """The WGS84 UTM zone CRS that contains (lon, lat)."""
    zone = int(math.floor((lon + 180.0) / 6.0)) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def metric_crs(setting, lon: float, lat: float, *, file: str = "study.yaml") -> CRS:
    """`setting` is 'auto'/None (UTM zone of the area centre) or any projected CRS string
    (e.g. 'EPSG:4547', a CGCS2000 3-degree Gauss-Krüger zone)."""
    if setting in (None, "auto", ""):
        return utm_crs_for(lon, lat)
    try:
        crs = CRS.from_user_input(setting)
    except Exception as exc:  # pyproj raises CRSError
        raise InputError(f"unknown CRS {setting!r} ({exc})", file=file, field="study_area.crs",
                         fix="use 'auto' or a projected CRS such as 'EPSG:4547' (CGCS2000 / 3-degree GK CM 114E)")
    if not crs.is_projected:
        raise InputError(f"CRS {setting!r} is geographic (degrees); distances need metres", file=file,
                         field="study_area.crs",
                         fix="use 'auto' (UTM zone) or a projected CRS such as a CGCS2000 Gauss-Krüger zone (EPSG:4513-4554)")
    unit = crs.axis_info[0].unit_name if crs.axis_info else "metre"
    if unit not in ("metre", "meter"):
        raise InputError(f"CRS {setting!r} has units {unit!r}, not metres", file=file, field="study_area.crs",
                         fix="choose a projected CRS in metres")
    return crs
