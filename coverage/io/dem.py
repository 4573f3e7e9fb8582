"""Reading a DEM (digital elevation model) GeoTIFF and sampling it along the network's edges.

``network.dem``: a single-band elevation raster in metres, in any CRS (SRTM / ASTER GDEM /
Copernicus DEM in EPSG:4326, or a county survey DEM in a Gauss-Krüger zone). Only the window
over the network is read, once. Elevation at a point is interpolated bilinearly between the four
surrounding cell centres (index arithmetic on the array: vectorised, no per-point call), so the
profile along a road is smooth rather than stepped at cell edges; a point whose cells are nodata
gets no elevation (its pieces count as flat, and are counted in the report).

The sampling spacing along the edges is the DEM's cell size in metres (for a geographic DEM, its
cell measured at the centre of the area): a finer spacing adds nothing the DEM knows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError


@dataclass
class DemWindow:
    """The part of the DEM over the network: elevations (nan = nodata), its affine transform and
    CRS, and the cell size in metres."""

    z: np.ndarray
    transform: object
    crs: object
    cell_m: float
    path: str

    def sample(self, x, y, crs) -> np.ndarray:
        """Elevation at points (``x``, ``y`` in ``crs``): bilinear between cell centres; nan where
        a needed cell is nodata or outside the DEM."""
        from ..core.crs import transformer
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        if len(x) == 0:
            return np.zeros(0)
        tr = transformer(crs, self.crs)
        X, Y = tr.transform(x, y)
        inv = ~self.transform
        X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)
        col = inv.a * X + inv.b * Y + inv.c - 0.5   # fractional index of the cell centres
        row = inv.d * X + inv.e * Y + inv.f - 0.5
        h, w = self.z.shape
        c0 = np.floor(col).astype(np.int64)
        r0 = np.floor(row).astype(np.int64)
        tc = col - c0
        tr_ = row - r0
        # at the outer half cell, hold the edge value (clip the neighbour into the raster)
        c1 = np.clip(c0 + 1, 0, w - 1)
        r1 = np.clip(r0 + 1, 0, h - 1)
        inside = (col >= -0.5) & (col <= w - 0.5) & (row >= -0.5) & (row <= h - 0.5)
        c0 = np.clip(c0, 0, w - 1)
        r0 = np.clip(r0, 0, h - 1)
        z = self.z
        top = _mix(z[r0, c0], z[r0, c1], tc)
        bot = _mix(z[r1, c0], z[r1, c1], tc)
        out = _mix(top, bot, tr_)
        out[~inside] = np.nan
        return out


def _mix(a, b, t):
    """a (1 - t) + b t for t in [0, 1); a cell with no weight (t = 0) is not needed, so its
    nodata does not spoil the value (a point at a good cell's centre next to a hole)."""
    with np.errstate(invalid="ignore"):
        return np.where(t > 0, a * (1 - t) + b * t, a)


def read_dem(path, crs, bounds, *, key="network.dem", margin_m=100.0) -> DemWindow:
    """The window of the DEM at ``path`` covering ``bounds`` (x0, y0, x1, y1 in ``crs``) plus a
    margin. Stops with the file, the key and the fix when the file is not a raster, has no CRS,
    or does not overlap the network."""
    import rasterio
    from pyproj import CRS

    from ..core.crs import transformer
    from rasterio.windows import from_bounds
    path = Path(path)
    if not path.exists():
        raise InputError(f"DEM not found: {path}", file=str(path), field=key,
                         fix="give the path of an elevation GeoTIFF (relative to the YAML file)")
    try:
        src = rasterio.open(path)
    except Exception as exc:
        raise InputError(f"the DEM cannot be read as a raster ({type(exc).__name__}: {exc})", file=str(path),
                         field=key, fix="give a GeoTIFF of elevations in metres (SRTM, ASTER GDEM, Copernicus "
                                        "DEM or a survey DEM)") from None
    with src:
        if src.crs is None:
            raise InputError("the DEM has no CRS", file=str(path), field=key,
                             fix="set it, e.g. gdal_edit.py -a_srs EPSG:4326 dem.tif (SRTM is EPSG:4326)")
        dcrs = CRS.from_user_input(src.crs)
        x0, y0, x1, y1 = (float(v) for v in bounds)
        x0, y0, x1, y1 = x0 - margin_m, y0 - margin_m, x1 + margin_m, y1 + margin_m
        tr = transformer(crs, dcrs)
        xs = np.r_[np.linspace(x0, x1, 11), np.full(11, x1), np.linspace(x1, x0, 11), np.full(11, x0)]
        ys = np.r_[np.full(11, y0), np.linspace(y0, y1, 11), np.full(11, y1), np.linspace(y1, y0, 11)]
        X, Y = tr.transform(xs, ys)
        b = src.bounds
        wx0, wy0 = max(float(np.min(X)), b.left), max(float(np.min(Y)), b.bottom)
        wx1, wy1 = min(float(np.max(X)), b.right), min(float(np.max(Y)), b.top)
        if not (wx0 < wx1 and wy0 < wy1):
            raise InputError(f"the DEM does not overlap the network: DEM bounds ({b.left:.4f}, {b.bottom:.4f}, "
                             f"{b.right:.4f}, {b.top:.4f}) in {dcrs.to_string()}, network ({np.min(X):.4f}, "
                             f"{np.min(Y):.4f}, {np.max(X):.4f}, {np.max(Y):.4f})", file=str(path), field=key,
                             fix="use a DEM that covers the study area (check its CRS)")
        # whole cells covering the bounds, plus one cell each side: bilinear interpolation near
        # the window's edge needs the next cell centre out (a coarse DEM's cell can exceed the margin)
        fw = from_bounds(wx0, wy0, wx1, wy1, src.transform)
        c0 = max(math.floor(fw.col_off) - 1, 0)
        r0 = max(math.floor(fw.row_off) - 1, 0)
        c1 = min(math.ceil(fw.col_off + fw.width) + 1, src.width)
        r1 = min(math.ceil(fw.row_off + fw.height) + 1, src.height)
        win = rasterio.windows.Window(c0, r0, max(c1 - c0, 1), max(r1 - r0, 1))
        z = src.read(1, window=win, masked=True).astype(np.float64).filled(np.nan)
        transform = src.window_transform(win)
        rx, ry = abs(src.transform.a), abs(src.transform.e)
        if dcrs.is_geographic:
            lat = np.radians((wy0 + wy1) / 2)
            cell = min(rx * 111_320.0 * np.cos(lat), ry * 110_574.0)
        else:
            unit = dcrs.axis_info[0].unit_conversion_factor if dcrs.axis_info else 1.0
            cell = min(rx, ry) * unit
    if not np.isfinite(z).any():
        raise InputError("the DEM has no elevation (only nodata) over the network", file=str(path), field=key,
                         fix="use a DEM that covers the study area, or check its nodata value")
    return DemWindow(z, transform, dcrs, float(cell), str(path))


def edge_elevations(net, dem: DemWindow):
    """Samples along every edge at the DEM's cell size: (sample_ptr, elevations)."""
    from ..core.costs import sample_fractions
    ptr, _, x, y = sample_fractions(net, dem.cell_m)
    return ptr, dem.sample(x, y, net.crs)
