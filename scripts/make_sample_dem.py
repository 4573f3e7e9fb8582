#!/usr/bin/env python
"""Write ``data/sample/dem.tif``: a SYNTHETIC terrain draped over the sample study area (Helsinki
city centre), so the demo and the tests can walk uphill and downhill (``network.dem``).

It is not a measured elevation: no DEM that ships inside a PyPI package covers a street network
we have (see data/DEM.md for the packages checked), and nothing may be downloaded at run time.
The real Helsinki centre is low and gentle; this terrain is made hillier on purpose, like a
mountain county town: walking grades on the streets from 0 to about 15 %.

Terrain (metres; x east, y north of the centre of the communities' bounding box, in UTM 35N,
EPSG:32635, the sample's metric CRS):

    z = BASE_M + TILT[0] x + TILT[1] y + sum_i h_i exp(-((x - x_i)^2 + (y - y_i)^2) / (2 s_i^2))

with the hills and the hollow in ``HILLS`` below. A Gaussian of height h and spread s is steepest
at r = s with grade h / s x exp(-1/2); the largest here (40 m, 170 m) gives 14 %.

Grid like a global DEM (SRTM, Copernicus GLO-30): EPSG:4326, cells of 1 arc-second of longitude x
0.5 arc-second of latitude (about 15.5 x 15.4 m at 60.17 N: the longitude cell is doubled
at high latitude, as Copernicus does), edges on whole multiples of the cell size, covering the
communities' bounds plus ``MARGIN_M``; each cell holds z at its centre rounded to 1 cm, float32,
nodata -9999 (declared; every cell has a value), DEFLATE with the floating-point predictor.
Fixed parameters, no randomness: a rerun writes the same array (and, with the same GDAL, the
same bytes).

    .venv/bin/python scripts/make_sample_dem.py               # writes data/sample/dem.tif
    .venv/bin/python scripts/make_sample_dem.py --out /tmp/dem.tif
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"

CELL_LON = 1.0 / 3600.0     # degrees: 1 arc-second
CELL_LAT = 1.0 / 7200.0     # degrees: 0.5 arc-second
MARGIN_M = 400.0            # around the communities' bounds (walks leave the study area a little)
NODATA = -9999.0
METRIC_CRS = "EPSG:32635"   # UTM 35N, the sample's metric CRS (population.tif)
BASE_M = 20.0               # elevation at the centre before hills, metres
TILT = (0.004, 0.012)       # regional slope: rising 0.4 % to the east, 1.2 % to the north
#: (x, y of the top relative to the centre in metres, height m (negative: a hollow), spread m)
HILLS = (
    (-220.0, 420.0, 40.0, 170.0),   # the big hill in the north-west
    (280.0, -260.0, 24.0, 110.0),   # a steep knoll in the south-east
    (200.0, 560.0, 15.0, 85.0),     # a small knoll in the north-east
    (-150.0, -520.0, -12.0, 200.0),  # a broad hollow in the south
)


def terrain(x, y):
    """Elevation (m) at x, y metres east and north of the centre."""
    z = BASE_M + TILT[0] * x + TILT[1] * y
    for hx, hy, h, s in HILLS:
        z = z + h * np.exp(-((x - hx) ** 2 + (y - hy) ** 2) / (2.0 * s * s))
    return z


def grid(bounds_lonlat, lat_c):
    """The DEM grid: (west, north, n_cols, n_rows) on whole multiples of the cell size covering the
    bounds plus the margin."""
    x0, y0, x1, y1 = bounds_lonlat
    dlat = MARGIN_M / 110_574.0
    dlon = MARGIN_M / (111_320.0 * math.cos(math.radians(lat_c)))
    i0 = math.floor(round((x0 - dlon) / CELL_LON, 6))
    i1 = math.ceil(round((x1 + dlon) / CELL_LON, 6))
    j0 = math.floor(round((y0 - dlat) / CELL_LAT, 6))
    j1 = math.ceil(round((y1 + dlat) / CELL_LAT, 6))
    return i0 * CELL_LON, j1 * CELL_LAT, i1 - i0, j1 - j0


def make_dem(communities=SAMPLE / "communities.gpkg"):
    """(elevation array float32, transform, bounds of the communities in lon/lat)."""
    import pyogrio
    from pyproj import Transformer
    from rasterio.transform import from_origin

    info = pyogrio.read_info(communities)
    if info["crs"] not in ("EPSG:4326",):
        raise SystemExit(f"{communities}: expected EPSG:4326, got {info['crs']}")
    b = [float(v) for v in info["total_bounds"]]
    to_m = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
    cx, cy = to_m.transform((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
    west, north, nc, nr = grid(b, (b[1] + b[3]) / 2)
    lon = west + CELL_LON * (np.arange(nc) + 0.5)
    lat = north - CELL_LAT * (np.arange(nr) + 0.5)
    LON, LAT = np.meshgrid(lon, lat)
    X, Y = to_m.transform(LON.ravel(), LAT.ravel())
    z = terrain(np.asarray(X) - cx, np.asarray(Y) - cy).reshape(nr, nc)
    z = (np.round(z * 100.0) / 100.0).astype(np.float32)
    return z, from_origin(west, north, CELL_LON, CELL_LAT), b


def write(out: Path, z, transform):
    import rasterio
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    with rasterio.open(out, "w", driver="GTiff", height=z.shape[0], width=z.shape[1], count=1, dtype="float32",
                       crs="EPSG:4326", transform=transform, nodata=NODATA, compress="deflate", predictor=3,
                       zlevel=9) as dst:
        dst.write(z, 1)
        dst.update_tags(SOURCE="synthetic terrain, scripts/make_sample_dem.py (not measured)", UNITS="metre")


def street_grades(dem_path: Path, pbf: Path = SAMPLE / "helsinki.osm.pbf") -> dict:
    """Grades on the sample's walking network, sampled as the tool samples them."""
    from pyproj import CRS

    from coverage.core.costs import sample_fractions, slope_profile
    from coverage.io.dem import edge_elevations, read_dem
    from coverage.io.network import load_network
    net = load_network("pbf", pbf, crs=CRS.from_user_input(METRIC_CRS))
    dem = read_dem(dem_path, net.crs, (net.node_x.min(), net.node_y.min(), net.node_x.max(), net.node_y.max()))
    ptr, z = edge_elevations(net, dem)
    prof = slope_profile(net, ptr, z)
    _, frac, _, _ = sample_fractions(net, dem.cell_m)
    n = np.diff(ptr) - 1
    e = np.repeat(np.arange(net.n_edges), n)
    first = np.delete(np.arange(len(z)), ptr[1:] - 1)
    dx = net.edge_length[e] / n[e]
    g = np.abs(z[first + 1] - z[first]) / np.where(dx > 0, dx, np.inf)
    w = dx / dx.sum()
    o = np.argsort(g)
    cum = np.cumsum(w[o])
    pct = {p: float(g[o][np.searchsorted(cum, p / 100)]) for p in (50, 90, 99)}
    return {"edges": int(net.n_edges), "cell_m": round(dem.cell_m, 2), "max_grade": round(prof.max_grade, 4),
            "nodata_pieces": prof.nodata_pieces,
            "grade_by_length": {f"p{k}": round(v, 4) for k, v in pct.items()},
            "share_over_5pct": round(float(w[g > 0.05].sum()), 3),
            "share_over_10pct": round(float(w[g > 0.10].sum()), 3),
            "elevation_range_m": [round(float(np.nanmin(z)), 2), round(float(np.nanmax(z)), 2)]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=SAMPLE / "dem.tif")
    ap.add_argument("--communities", type=Path, default=SAMPLE / "communities.gpkg")
    ap.add_argument("--no-stats", action="store_true", help="skip the grades on the sample's streets")
    a = ap.parse_args(argv)
    z, transform, b = make_dem(a.communities)
    write(a.out, z, transform)
    info = {"file": str(a.out), "bytes": a.out.stat().st_size, "rows": z.shape[0], "cols": z.shape[1],
            "west": transform.c, "north": transform.f, "communities_bounds": b}
    if not a.no_stats:
        sys.path.insert(0, str(REPO))
        info["streets"] = street_grades(a.out)
    print(json.dumps(info, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
