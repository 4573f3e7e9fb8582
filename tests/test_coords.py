"""Tests for coverage.coords: GCJ-02 / BD-09 <-> WGS84 against published vectors and properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyproj
import pytest

from coverage.io import coords
from coverage.io.coords import (bd09_to_gcj02, bd09_to_wgs84, gcj02_to_bd09, gcj02_to_wgs84,
                             out_of_china, to_wgs84, wgs84_to_bd09, wgs84_to_gcj02)
from coverage.errors import InputError

GEOD = pyproj.Geod(ellps="WGS84")


def metres(lon1, lat1, lon2, lat2):
    return np.asarray(GEOD.inv(np.asarray(lon1, float), np.asarray(lat1, float),
                               np.asarray(lon2, float), np.asarray(lat2, float))[2])


# --- published reference vectors -------------------------------------------------------

# wandergis/coordtransform, test/app.js: every conversion applied to (116.404, 39.915).
# Its gcj02towgs84 is the one-step approximation (116.39775550083061, 39.91359571849836).
CT_IN = (116.404, 39.915)
CT_BD09_TO_GCJ02 = (116.39762729119315, 39.90865673957631)
CT_GCJ02_TO_BD09 = (116.41036949371029, 39.92133699351021)
CT_WGS84_TO_GCJ02 = (116.41024449916938, 39.91640428150164)
CT_GCJ02_TO_WGS84_ONE_STEP = (116.39775550083061, 39.91359571849836)

# googollee/eviltransform, python/test.py TESTS: (wgsLat, wgsLng, gcjLat, gcjLng)
# for Shanghai, Shenzhen and Beijing.
EVIL = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),
]

# hujiulong/gcoord, test/unit/crs/GCJ02.spec.ts and BD09.spec.ts: conversions of
# (123, 45), checked there with toBeCloseTo(x, 5), i.e. |error| < 5e-6 degrees.
GCOORD_IN = (123.0, 45.0)
GCOORD_GCJ02_TO_WGS84 = (122.99395597, 44.99804071)
GCOORD_GCJ02_TO_BD09 = (123.00636499, 45.00636899)
GCOORD_BD09_TO_GCJ02 = (122.99363304, 44.99365430)
GCOORD_BD09_TO_WGS84 = (122.98762210, 44.99171540)

# hujiulong/gcoord, test/fixtures/china-cities.json (first ten cities: 驻马店, 邵阳, 邢台,
# 荆门, 那曲, 莱芜, 西昌, 郑州, 沈阳, 酒泉): (WGS84, GCJ02, BD09) positions of one place,
# given to 7 decimals. They agree with the public algorithm to about 0.7 m.
CITIES = [
    ((114.0164322, 33.0133556), (114.022306, 33.0115324), (114.0287781, 33.0176697)),
    ((111.4622119, 27.242124), (111.4677938, 27.2388981), (111.4742271, 27.2451662)),
    ((114.498916, 37.0700925), (114.5048503, 37.0705911), (114.5113116, 37.0766797)),
    ((112.1935849, 31.0376011), (112.1994301, 31.0354012), (112.2058231, 31.0417338)),
    ((92.0499619, 31.4784436), (92.0512438, 31.4762063), (92.0576832, 31.4824421)),
    ((117.6708588, 36.2138283), (117.6767323, 36.2138184), (117.6832831, 36.2195866)),
    ((102.2658401, 27.8850446), (102.2673386, 27.8816151), (102.2738428, 27.8876621)),
    ((113.6192856, 34.7478004), (113.6253334, 34.7466173), (113.6317519, 34.7528605)),
    ((123.4253306, 41.8032629), (123.4314787, 41.8057023), (123.438095, 41.8114013)),
    ((98.4937175, 39.7319946), (98.4943595, 39.7328234), (98.5008441, 39.7388949)),
]


def test_coordtransform_forward_vectors():
    assert np.allclose(bd09_to_gcj02(*CT_IN), CT_BD09_TO_GCJ02, rtol=0, atol=1e-9)
    assert np.allclose(gcj02_to_bd09(*CT_IN), CT_GCJ02_TO_BD09, rtol=0, atol=1e-9)
    assert np.allclose(wgs84_to_gcj02(*CT_IN), CT_WGS84_TO_GCJ02, rtol=0, atol=1e-9)


def test_gcj02_inverse_is_exact_where_one_step_is_not():
    lon, lat = gcj02_to_wgs84(*CT_IN)
    # Within a few metres of the published one-step approximation ...
    d_one_step = metres(lon, lat, *CT_GCJ02_TO_WGS84_ONE_STEP)
    assert 0.01 < d_one_step < 5.0
    # ... but, unlike it, shifting our answer forward again lands on the input.
    back = wgs84_to_gcj02(lon, lat)
    assert metres(*back, *CT_IN) < 0.001
    back_one_step = wgs84_to_gcj02(*CT_GCJ02_TO_WGS84_ONE_STEP)
    assert metres(*back_one_step, *CT_IN) > 0.01


@pytest.mark.parametrize("wlat, wlon, glat, glon", EVIL)
def test_eviltransform_vectors(wlat, wlon, glat, glon):
    lon, lat = wgs84_to_gcj02(wlon, wlat)
    assert abs(lon - glon) < 1e-6 and abs(lat - glat) < 1e-6  # their test: 6 decimals
    lon, lat = gcj02_to_wgs84(glon, glat)
    assert metres(lon, lat, wlon, wlat) < 0.05  # their "exact" test asks < 0.5 m


def test_gcoord_vectors():
    assert np.allclose(gcj02_to_wgs84(*GCOORD_IN), GCOORD_GCJ02_TO_WGS84, rtol=0, atol=5e-6)
    assert np.allclose(gcj02_to_bd09(*GCOORD_IN), GCOORD_GCJ02_TO_BD09, rtol=0, atol=5e-6)
    assert np.allclose(bd09_to_gcj02(*GCOORD_IN), GCOORD_BD09_TO_GCJ02, rtol=0, atol=5e-6)
    assert np.allclose(bd09_to_wgs84(*GCOORD_IN), GCOORD_BD09_TO_WGS84, rtol=0, atol=5e-6)
    # gcoord GCJ02.spec.ts: "not in China" -> unchanged
    assert gcj02_to_wgs84(183.0, 45.0) == (183.0, 45.0)


def test_gcoord_city_positions_within_one_metre():
    w = np.array([c[0] for c in CITIES])
    g = np.array([c[1] for c in CITIES])
    b = np.array([c[2] for c in CITIES])
    assert metres(*wgs84_to_gcj02(w[:, 0], w[:, 1]), g[:, 0], g[:, 1]).max() < 1.0
    assert metres(*wgs84_to_bd09(w[:, 0], w[:, 1]), b[:, 0], b[:, 1]).max() < 1.0
    assert metres(*gcj02_to_wgs84(g[:, 0], g[:, 1]), w[:, 0], w[:, 1]).max() < 1.0
    assert metres(*bd09_to_wgs84(b[:, 0], b[:, 1]), w[:, 0], w[:, 1]).max() < 1.0
    assert metres(*bd09_to_gcj02(b[:, 0], b[:, 1]), g[:, 0], g[:, 1]).max() < 1.0
    # to_wgs84 with the planner-facing names gives the same answers
    assert metres(*to_wgs84(g[:, 0], g[:, 1], "Amap"), w[:, 0], w[:, 1]).max() < 1.0
    assert metres(*to_wgs84(b[:, 0], b[:, 1], "BAIDU"), w[:, 0], w[:, 1]).max() < 1.0


# --- properties over China ------------------------------------------------------------

def _china_grid():
    lon, lat = np.meshgrid(np.arange(74.0, 135.0, 0.37), np.arange(18.0, 53.5, 0.29))
    return lon.ravel(), lat.ravel()


def test_round_trip_below_half_metre_across_china():
    lon, lat = _china_grid()
    assert lon.size > 15000
    glon, glat = wgs84_to_gcj02(lon, lat)
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    assert metres(wlon, wlat, lon, lat).max() < 0.5
    blon, blat = wgs84_to_bd09(lon, lat)
    wlon, wlat = bd09_to_wgs84(blon, blat)
    assert metres(wlon, wlat, lon, lat).max() < 0.5
    # and the other way round
    g2 = wgs84_to_gcj02(*gcj02_to_wgs84(lon, lat))
    assert metres(*g2, lon, lat).max() < 0.5
    b2 = gcj02_to_bd09(*bd09_to_gcj02(lon, lat))
    assert metres(*b2, lon, lat).max() < 0.5


def test_one_step_inverse_would_fail_the_half_metre_bar():
    """The round-trip test above can fail: the one-step inverse misses by more than 0.5 m."""
    lon, lat = _china_grid()
    glon, glat = wgs84_to_gcj02(lon, lat)
    dlon, dlat = coords._gcj_delta(glon, glat)
    assert metres(glon - dlon, glat - dlat, lon, lat).max() > 0.5


def test_offset_magnitude_in_beijing():
    lon, lat = np.meshgrid(np.linspace(116.2, 116.6, 9), np.linspace(39.75, 40.05, 7))
    lon, lat = lon.ravel(), lat.ravel()
    d_gcj = metres(*wgs84_to_gcj02(lon, lat), lon, lat)
    d_bd = metres(*wgs84_to_bd09(lon, lat), lon, lat)
    assert ((d_gcj > 100) & (d_gcj < 700)).all()
    assert ((d_bd > 100) & (d_bd < 1500)).all()
    # Baidu adds its own ~0.0065/0.006 degree shift on top of GCJ-02: always farther.
    assert (d_bd > d_gcj).all()


def test_out_of_china_points_unchanged():
    lon = np.array([24.94, 139.69, -0.13, 126.98, 150.0])  # Helsinki, Tokyo, London, Seoul, Pacific
    lat = np.array([60.17, 35.69, 51.51, 37.57, -30.0])
    out = out_of_china(lon, lat)
    # Seoul (126.98, 37.57) is inside the rectangular box: the test is the box, not the border.
    assert out.tolist() == [True, True, True, False, True]
    sel = out
    for f in (gcj02_to_wgs84, wgs84_to_gcj02, bd09_to_gcj02, gcj02_to_bd09, bd09_to_wgs84,
              wgs84_to_bd09):
        rlon, rlat = f(lon, lat)
        assert np.array_equal(rlon[sel], lon[sel]) and np.array_equal(rlat[sel], lat[sel])
        assert not np.array_equal(rlon[~sel], lon[~sel])
    for system in ("gcj02", "bd09", "wgs84"):
        rlon, rlat = to_wgs84(lon, lat, system)
        assert np.array_equal(rlon[sel], lon[sel])


def test_nan_passes_through():
    lon = np.array([116.4, np.nan, 116.4, np.nan])
    lat = np.array([39.9, 39.9, np.nan, np.nan])
    for f in (gcj02_to_wgs84, wgs84_to_gcj02, bd09_to_gcj02, gcj02_to_bd09, bd09_to_wgs84,
              wgs84_to_bd09):
        rlon, rlat = f(lon, lat)
        assert np.isnan(rlon[1:]).tolist() == [True, False, True]
        assert np.isnan(rlat[1:]).tolist() == [False, True, True]
        assert np.isfinite([rlon[0], rlat[0]]).all()
        # the finite point is converted exactly as it would be alone
        alone = f(116.4, 39.9)
        assert rlon[0] == alone[0] and rlat[0] == alone[1]


def test_vectorised_shapes_and_inputs_not_modified():
    lon = pd.Series([116.40, 121.47, 113.26])
    lat = pd.Series([39.90, 31.23, 23.13])
    before = lon.copy()
    rlon, rlat = gcj02_to_wgs84(lon, lat)
    assert isinstance(rlon, np.ndarray) and rlon.shape == (3,)
    assert lon.equals(before)
    arr_lon = np.array([[116.40, 121.47], [113.26, 24.94]])
    arr_lat = np.array([[39.90, 31.23], [23.13, 60.17]])
    rlon2, rlat2 = bd09_to_wgs84(arr_lon, arr_lat)
    assert rlon2.shape == (2, 2)
    # element-wise identical to converting one at a time
    for i in range(2):
        for j in range(2):
            one = bd09_to_wgs84(arr_lon[i, j], arr_lat[i, j])
            assert (rlon2[i, j], rlat2[i, j]) == one


@pytest.mark.parametrize("name, expected", [
    ("WGS84", "wgs84"), ("cgcs2000", "wgs84"), ("CGCS2000", "wgs84"),
    ("gcj02", "gcj02"), ("GCJ-02", "gcj02"), ("amap", "gcj02"), ("Gaode", "gcj02"),
    ("bd09", "bd09"), ("Baidu", "bd09"), (" bd-09 ", "bd09"),
])
def test_system_aliases(name, expected):
    assert coords.normalise_system(name) == expected
    lon, lat = np.array([116.404]), np.array([39.915])
    ref = {"wgs84": (lon, lat), "gcj02": gcj02_to_wgs84(lon, lat),
           "bd09": bd09_to_wgs84(lon, lat)}[expected]
    out = to_wgs84(lon, lat, name)
    assert np.array_equal(out[0], ref[0]) and np.array_equal(out[1], ref[1])


@pytest.mark.parametrize("bad", ["utm50", "", None, "gcj2"])
def test_unknown_system_names_setting_and_choices(bad):
    with pytest.raises(InputError) as exc:
        to_wgs84([116.4], [39.9], bad)
    msg = str(exc.value)
    assert "facilities.coord_system" in msg
    for accepted in ("wgs84", "gcj02", "bd09", "cgcs2000", "amap", "gaode", "baidu"):
        assert accepted in msg
