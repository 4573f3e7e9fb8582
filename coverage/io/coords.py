"""Chinese map-service coordinate systems: GCJ-02 (Amap/Gaode, Tencent) and BD-09 (Baidu).

Planners often copy facility coordinates from Amap (GCJ-02) or Baidu (BD-09). Both are
deliberately shifted from WGS84 by roughly 300-700 m, which ruins a 1 km walking analysis,
so facility lon/lat must be brought back to WGS84 before anything else.

All functions are vectorised: they take scalars, lists, numpy arrays or pandas Series
(broadcast against each other) and return float64 numpy arrays of the broadcast shape
(a numpy scalar for scalar input). NaN passes through as NaN.

Conventions (the same as the widely used coordtransform / eviltransform / gcoord code):

- GCJ-02 uses the Krasovsky semi-major axis 6378245 m and e^2 = 0.00669342162296594323.
- GCJ-02 is applied only inside China, tested with the usual bounding box
  (lon 72.004-137.8347, lat 0.8293-55.8271); points outside are returned unchanged.
  The BD-09 step follows the same rule so that a point outside China is unchanged by
  every conversion here (Baidu serves WGS84 outside China). Use :func:`out_of_china`
  to list such points for the planner.
- GCJ-02 -> WGS84 has no closed form. It is inverted here by fixed-point iteration
  w <- w - (gcj02(w) - g), which contracts by a factor of about 1/100 per step; the
  result is accurate to well under a millimetre (the one-step approximation used by
  many libraries is off by up to several metres).
"""

from __future__ import annotations

import numpy as np

from coverage.errors import InputError

__all__ = [
    "out_of_china",
    "gcj02_to_wgs84",
    "wgs84_to_gcj02",
    "bd09_to_gcj02",
    "gcj02_to_bd09",
    "bd09_to_wgs84",
    "wgs84_to_bd09",
    "to_wgs84",
    "normalise_system",
    "SYSTEM_ALIASES",
]

_A = 6378245.0                  # Krasovsky 1940 semi-major axis used by GCJ-02
_EE = 0.00669342162296594323    # eccentricity squared used by GCJ-02
_X_PI = np.pi * 3000.0 / 180.0  # BD-09 constant

# Bounding box of the "inside China" test used by all public GCJ-02 implementations.
_LON_MIN, _LON_MAX = 72.004, 137.8347
_LAT_MIN, _LAT_MAX = 0.8293, 55.8271

_MAX_ITER = 20
_TOL_DEG = 1e-12  # ~0.1 micrometre

#: Accepted values of ``facilities.coord_system`` (lower case) and what they mean.
SYSTEM_ALIASES = {
    "wgs84": "wgs84",
    "wgs-84": "wgs84",
    "epsg:4326": "wgs84",
    "cgcs2000": "wgs84",   # CGCS2000 lon/lat agree with WGS84 to a few centimetres
    "epsg:4490": "wgs84",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "amap": "gcj02",
    "gaode": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "baidu": "bd09",
}

_SETTING = "facilities.coord_system"


def _arrays(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    lon, lat = np.broadcast_arrays(lon, lat)
    return lon.copy(), lat.copy()


def _ret(lon: np.ndarray, lat: np.ndarray):
    return lon[()], lat[()]


def out_of_china(lon, lat) -> np.ndarray:
    """True where a point lies outside China's bounding box (or is NaN): no GCJ-02 shift there."""
    lon, lat = _arrays(lon, lat)
    inside = (lon >= _LON_MIN) & (lon <= _LON_MAX) & (lat >= _LAT_MIN) & (lat <= _LAT_MAX)
    return (~inside)[()]


def _inside(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon >= _LON_MIN) & (lon <= _LON_MAX) & (lat >= _LAT_MIN) & (lat <= _LAT_MAX)


def _gcj_delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 offset (dlon, dlat) in degrees at WGS84 position (lon, lat); finite input only."""
    x = lon - 105.0
    y = lat - 35.0
    sx = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    tlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx + common
            + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0)
    tlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx + common
            + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0)
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (tlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (tlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon, lat):
    """WGS84 lon/lat -> GCJ-02 (Amap). Points outside China and NaN are returned unchanged."""
    lon, lat = _arrays(lon, lat)
    m = _inside(lon, lat)
    if m.any():
        dlon, dlat = _gcj_delta(lon[m], lat[m])
        lon[m] += dlon
        lat[m] += dlat
    return _ret(lon, lat)


def gcj02_to_wgs84(lon, lat):
    """GCJ-02 (Amap) lon/lat -> WGS84 by fixed-point iteration (error far below 0.5 m).

    Points outside China and NaN are returned unchanged.
    """
    lon, lat = _arrays(lon, lat)
    m = _inside(lon, lat)
    if m.any():
        g_lon, g_lat = lon[m], lat[m]
        w_lon, w_lat = g_lon.copy(), g_lat.copy()
        for _ in range(_MAX_ITER):
            dlon, dlat = _gcj_delta(w_lon, w_lat)
            new_lon = g_lon - dlon
            new_lat = g_lat - dlat
            step = max(np.max(np.abs(new_lon - w_lon)), np.max(np.abs(new_lat - w_lat)))
            w_lon, w_lat = new_lon, new_lat
            if step < _TOL_DEG:
                break
        lon[m] = w_lon
        lat[m] = w_lat
    return _ret(lon, lat)


def gcj02_to_bd09(lon, lat):
    """GCJ-02 lon/lat -> BD-09 (Baidu). Points outside China and NaN are returned unchanged."""
    lon, lat = _arrays(lon, lat)
    m = _inside(lon, lat)
    if m.any():
        x, y = lon[m], lat[m]
        z = np.hypot(x, y) + 0.00002 * np.sin(y * _X_PI)
        theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
        lon[m] = z * np.cos(theta) + 0.0065
        lat[m] = z * np.sin(theta) + 0.006
    return _ret(lon, lat)


def bd09_to_gcj02(lon, lat):
    """BD-09 (Baidu) lon/lat -> GCJ-02. Points outside China and NaN are returned unchanged."""
    lon, lat = _arrays(lon, lat)
    m = _inside(lon, lat)
    if m.any():
        x = lon[m] - 0.0065
        y = lat[m] - 0.006
        z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
        theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
        lon[m] = z * np.cos(theta)
        lat[m] = z * np.sin(theta)
    return _ret(lon, lat)


def bd09_to_wgs84(lon, lat):
    """BD-09 (Baidu) lon/lat -> WGS84 (via GCJ-02, exact inversion)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def wgs84_to_bd09(lon, lat):
    """WGS84 lon/lat -> BD-09 (Baidu) (via GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def normalise_system(system) -> str:
    """Canonical name ("wgs84", "gcj02" or "bd09") of a ``facilities.coord_system`` value."""
    key = str(system).strip().lower() if system is not None else ""
    if key not in SYSTEM_ALIASES:
        accepted = ", ".join(sorted(SYSTEM_ALIASES))
        raise InputError(
            f"unknown coordinate system {system!r}",
            field=_SETTING,
            fix=f"set {_SETTING} to one of: {accepted} "
                "(Amap/Gaode and Tencent give gcj02, Baidu gives bd09, GPS and OSM give wgs84)",
        )
    return SYSTEM_ALIASES[key]


def to_wgs84(lon, lat, system):
    """Convert lon/lat given in ``system`` (wgs84/cgcs2000, gcj02/amap/gaode, bd09/baidu) to WGS84.

    Unknown ``system`` raises InputError naming the setting ``facilities.coord_system``.
    """
    canon = normalise_system(system)
    if canon == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if canon == "bd09":
        return bd09_to_wgs84(lon, lat)
    return _ret(*_arrays(lon, lat))
