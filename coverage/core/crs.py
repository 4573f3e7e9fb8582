"""Choosing one metric CRS for a study area, and checking that it measures true metres there.

A projected CRS in metres can still measure wrong: Web Mercator (EPSG:3857) stretches every
distance by 1/cos(latitude) (x1.06-1.41 across China), and a Gauss-Krüger zone far from the data
stretches it by the square of the distance from its central meridian. :func:`metric_crs` measures
the scale error of the chosen CRS over the study area with pyproj's ``get_factors`` and refuses
one above :data:`MAX_SCALE_ERROR`, naming a zone that fits."""

from __future__ import annotations

import math

import numpy as np
from pyproj import CRS, Proj, Transformer

from ..errors import InputError

#: the largest scale error accepted over the study area (0.5 %: 5 m on a 1000 m walk)
MAX_SCALE_ERROR = 0.005
#: CGCS2000 3-degree Gauss-Krüger "CM" CRSs (no zone prefix on the easting): EPSG:4534 is CM 75°E,
#: each next code 3° further east, EPSG:4554 is CM 135°E
GK3_CM_FIRST_EPSG, GK3_CM_FIRST_CM, GK3_CM_LAST_CM = 4534, 75, 135


_TRANSFORMERS: dict = {}


def transformer(a, b) -> Transformer:
    """``Transformer.from_crs(a, b, always_xy=True)``, made once per pair of CRS definitions (WKT) in
    a process (making one takes over a millisecond, a cached one's key ~0.15 ms). pyproj's
    Transformer may be shared between threads (since pyproj 3.1 each thread gets its own PROJ object)."""
    key = (_wkt(a), _wkt(b))
    tr = _TRANSFORMERS.get(key)
    if tr is None:
        if len(_TRANSFORMERS) >= 64:
            _TRANSFORMERS.clear()
        tr = _TRANSFORMERS.setdefault(key, Transformer.from_crs(a, b, always_xy=True))
    return tr


def _wkt(c) -> str:
    return CRS.from_user_input(c).to_wkt() if isinstance(c, int) else c if isinstance(c, str) else c.to_wkt()


def utm_crs_for(lon: float, lat: float) -> CRS:
    """The WGS84 UTM zone CRS that contains (lon, lat)."""
    zone = int(math.floor((lon + 180.0) / 6.0)) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def gk3_cm_crs_for(lon: float) -> CRS | None:
    """The CGCS2000 3° Gauss-Krüger CM CRS whose central meridian is nearest ``lon`` (None outside
    75-135°E, the zones defined for China)."""
    cm = int(round(lon / 3.0)) * 3
    if not GK3_CM_FIRST_CM <= cm <= GK3_CM_LAST_CM:
        return None
    return CRS.from_epsg(GK3_CM_FIRST_EPSG + (cm - GK3_CM_FIRST_CM) // 3)


def suggested_crs(lon: float, lat: float) -> str:
    """Words naming CRSs that measure true metres at (lon, lat): the UTM zone and, in China, the
    CGCS2000 3° Gauss-Krüger zone by central meridian."""
    utm = utm_crs_for(lon, lat)
    zone = utm.to_epsg() % 100
    out = [f"'auto' (here EPSG:{utm.to_epsg()}, WGS 84 / UTM zone {zone}{'N' if lat >= 0 else 'S'})"]
    gk = gk3_cm_crs_for(lon)
    if gk is not None:
        out.append(f"EPSG:{gk.to_epsg()} ({gk.name})")
    return " or ".join(out)


def scale_error(crs: CRS, bounds_lonlat) -> tuple[float, float, float]:
    """(largest |scale - 1|, lon, lat where it occurs) of ``crs`` over a lon/lat box, sampled on a
    9 x 9 grid. Both the meridional and the parallel scale are checked (they differ for a
    projection that is not conformal)."""
    x0, y0, x1, y1 = (float(v) for v in bounds_lonlat)
    lons, lats = np.meshgrid(np.linspace(x0, x1, 9), np.linspace(y0, y1, 9))
    lons, lats = lons.ravel(), lats.ravel()
    try:
        f = Proj(crs).get_factors(lons, lats, errcheck=False)
        m = np.asarray(f.meridional_scale, dtype=float)
        p = np.asarray(f.parallel_scale, dtype=float)
    except Exception:  # a projection pyproj cannot evaluate here: treat as far out of its area
        return math.inf, (x0 + x1) / 2, (y0 + y1) / 2
    err = np.maximum(np.abs(m - 1.0), np.abs(p - 1.0))
    err = np.where(np.isfinite(err), err, np.inf)
    i = int(np.argmax(err))
    return float(err[i]), float(lons[i]), float(lats[i])


def metric_crs(setting, lon: float, lat: float, *, file: str = "study.yaml", bounds=None) -> CRS:
    """`setting` is 'auto'/None (UTM zone of the area centre) or any projected CRS string
    (e.g. 'EPSG:4547', a CGCS2000 3-degree Gauss-Krüger zone). ``bounds`` (lon/lat box of the
    study area) is where the scale error of the CRS is measured (the centre alone when None)."""
    if not (np.isfinite(lon) and np.isfinite(lat)) or abs(lat) > 90:
        raise InputError(f"the centre of the communities ({lon}, {lat}) is not a place on Earth", file=file,
                         field="communities.path / communities.crs",
                         fix="check the CRS of the community layer (its .prj, or communities.crs)")
    auto = setting in (None, "auto", "")
    if auto:
        crs = utm_crs_for(lon, lat)
    else:
        try:
            crs = CRS.from_user_input(setting)
        except Exception as exc:  # pyproj raises CRSError
            raise InputError(f"unknown CRS {setting!r} ({exc})", file=file, field="study_area.crs",
                             fix=f"use {suggested_crs(lon, lat)}")
        if not crs.is_projected:
            raise InputError(f"CRS {setting!r} is geographic (degrees); distances need metres", file=file,
                             field="study_area.crs", fix=f"use {suggested_crs(lon, lat)}")
        unit = crs.axis_info[0].unit_name if crs.axis_info else "metre"
        if unit not in ("metre", "meter"):
            raise InputError(f"CRS {setting!r} has units {unit!r}, not metres", file=file, field="study_area.crs",
                             fix=f"choose a projected CRS in metres, e.g. {suggested_crs(lon, lat)}")
    box = bounds if bounds is not None else (lon, lat, lon, lat)
    err, elon, elat = scale_error(crs, box)
    if err > MAX_SCALE_ERROR:
        shown = "far outside its area of use" if not math.isfinite(err) or err > 10 else f"{err:.1%}"
        name = f"{setting!r} ({crs.name})" if not auto else f"the UTM zone of the area centre ({crs.name})"
        raise InputError(f"study_area.crs {name} does not measure true distances over the study area: its scale "
                         f"error reaches {shown} at {elon:.2f}°E {elat:.2f}°N (at most "
                         f"{MAX_SCALE_ERROR:.1%} is accepted; a 1000 m walk would be measured as "
                         f"{1000 * (1 + min(err, 9.99)):.0f} m)",
                         file=file, field="study_area.crs",
                         fix=(f"the area is too wide for one zone: split it, or give a transverse Mercator centred on "
                              f"it, study_area.crs: '+proj=tmerc +lon_0={lon:.2f} +k=1 +x_0=500000 +ellps=GRS80 "
                              f"+units=m'" if auto else f"use {suggested_crs(lon, lat)}")
                             + ("; Web Mercator (EPSG:3857) is for web tiles, never for distances"
                                if crs.to_epsg() in (3857, 900913, 3785) else ""))
    return crs
