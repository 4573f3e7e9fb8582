"""Travel cost of every edge, by direction: lengths (flat walking), speeds by road class (travel
modes) and slope (Tobler's hiking function on a DEM).

Costs are in flat-walking metres (see :mod:`coverage.core.modes`): with no DEM and the walk mode
an edge costs exactly its length, so the search is today's.

**Slope.** Elevation is sampled along each edge's line at about the DEM's cell size (n equal
pieces, both ends included; :func:`sample_fractions`), and is taken as linear between samples.
On a piece of horizontal length dx rising dz (grade s = dz / dx) walking time is dx / v(s) with
Tobler's hiking function, scaled so that flat ground is walked at the study's speed:

    v(s) = v_flat * exp(-3.5 * (|s + 0.05| - 0.05))

the original W = 6 exp(-3.5 |s + 0.05|) km/h divided by its value at s = 0 (5.04 km/h). The
cost of a piece in flat-walking metres is dx * exp(3.5 * (|s + 0.05| - 0.05)); uphill and
downhill differ (the fastest is a 5 % descent, 1.19 x the flat speed), so an edge has a cost
u -> v and a cost v -> u. Horizontal distance is the line's length in the study's projected CRS.

An edge's cost is its length x the mean of its pieces' factors (so an edge on flat ground costs
exactly its length). Where the factor varies along the edge, its cumulative cost at each sample
(*knots*) is kept, so a point inserted into the edge is charged exactly the pieces between it and
each end (:meth:`EdgeCosts.along`); where it does not, the cost is proportional to the position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

#: Tobler's hiking function: the grade of the fastest walk (a 5 % descent) and the decay
TOBLER_OFFSET = 0.05
TOBLER_DECAY = 3.5


def tobler_pace(grade) -> np.ndarray:
    """Walking time per horizontal metre relative to flat ground (1.0 at grade 0) on a grade
    (rise / run; negative downhill)."""
    g = np.asarray(grade, dtype=float)
    return np.exp(TOBLER_DECAY * (np.abs(g + TOBLER_OFFSET) - TOBLER_OFFSET))


@dataclass
class EdgeCosts:
    """Cost u -> v (``fwd``) and v -> u (``bwd``) of every edge (inf: closed to the mode), and the
    knots of the edges whose cost is not proportional along them (``knot_ptr[e]`` to
    ``knot_ptr[e + 1]``: position 0..1 along the line, cost from u to the knot, cost from the knot
    back to u). Edges without knots are uniform."""

    fwd: np.ndarray
    bwd: np.ndarray
    knot_ptr: np.ndarray | None = None
    knot_frac: np.ndarray | None = None
    knot_cf: np.ndarray | None = None
    knot_cb: np.ndarray | None = None

    @classmethod
    def lengths(cls, net) -> "EdgeCosts":
        """Flat walking: every edge costs its length both ways (today's search)."""
        return cls(net.edge_length, net.edge_length)

    @property
    def uniform(self) -> np.ndarray:
        if self.knot_ptr is None:
            return np.ones(len(self.fwd), dtype=bool)
        return np.diff(self.knot_ptr) == 0

    @property
    def symmetric(self) -> bool:
        return self.fwd is self.bwd or (np.array_equal(self.fwd, self.bwd) and self.knot_ptr is None)

    def reversed(self) -> "EdgeCosts":
        """The costs of going the other way along every edge: a search from the facilities on the
        reversed costs gives each resident's cost of walking TO the facility."""
        return EdgeCosts(self.bwd, self.fwd, self.knot_ptr, self.knot_frac, self.knot_cb, self.knot_cf)

    def round_trip(self) -> "EdgeCosts":
        """The mean of going and coming back along each edge (symmetric; flat ground unchanged)."""
        if self.symmetric:
            return self
        cf = cb = None if self.knot_cf is None else (self.knot_cf + self.knot_cb) / 2
        m = (self.fwd + self.bwd) / 2
        return EdgeCosts(m, m, self.knot_ptr, self.knot_frac, cf, cb)

    def along(self, edge, frac):
        """(cost from u to the points, cost from the points back to u) at ``frac`` (0..1) along
        their edges ``edge``; uniform edges: frac x fwd and frac x bwd."""
        edge = np.asarray(edge, dtype=np.int64)
        frac = np.asarray(frac, dtype=float)
        cf = _part(frac, self.fwd[edge])
        cb = _part(frac, self.bwd[edge])
        if self.knot_ptr is None or not len(edge):
            return cf, cb
        lo, hi = self.knot_ptr[edge], self.knot_ptr[edge + 1]
        k = np.flatnonzero(hi > lo)
        if not len(k):
            return cf, cb
        # the knot at or before each point, by a global key (edge, position) on sorted knots
        e_of_knot = np.repeat(np.arange(len(self.fwd)), np.diff(self.knot_ptr))
        key = 2.0 * e_of_knot + self.knot_frac
        j = np.searchsorted(key, 2.0 * edge[k] + frac[k], side="right") - 1
        j = np.clip(j, lo[k], hi[k] - 2)
        f0, f1 = self.knot_frac[j], self.knot_frac[j + 1]
        t = np.where(f1 > f0, (frac[k] - f0) / np.where(f1 > f0, f1 - f0, 1.0), 0.0)
        cf[k] = self.knot_cf[j] + t * (self.knot_cf[j + 1] - self.knot_cf[j])
        cb[k] = self.knot_cb[j] + t * (self.knot_cb[j + 1] - self.knot_cb[j])
        return cf, cb


def _part(frac, cost):
    """frac x cost, and 0 at frac 0 also on a closed (infinite-cost) edge."""
    with np.errstate(invalid="ignore"):
        return np.where(frac > 0, frac * cost, 0.0)


# ----------------------------------------------------------------------------- slope


def sample_fractions(net, spacing_m: float):
    """Where to sample elevation along each edge: n_e equal pieces of at most ``spacing_m`` along
    the line (n_e >= 1), both ends included. Returns (ptr (n_edges + 1) into the samples, fraction
    of each sample along its edge, its x, its y)."""
    glen = shapely.length(net.edge_geometry)
    n = np.maximum(1, np.ceil(glen / max(float(spacing_m), 1e-9) - 1e-9)).astype(np.int64)
    cnt = n + 1
    ptr = np.zeros(len(n) + 1, dtype=np.int64)
    np.cumsum(cnt, out=ptr[1:])
    e = np.repeat(np.arange(len(n)), cnt)
    j = np.arange(ptr[-1]) - ptr[e]
    frac = j / n[e]
    pts = shapely.line_interpolate_point(net.edge_geometry[e], frac, normalized=True)
    return ptr, frac, shapely.get_x(pts), shapely.get_y(pts)


@dataclass
class SlopeProfile:
    """Tobler factors of the pieces of every edge (``ptr[e]`` .. ``ptr[e + 1]``: the edge's n_e
    pieces, u -> v order), forward (``kf``) and backward (``kb``); the samples where the DEM had
    no data count as flat pieces (``nodata_pieces``)."""

    ptr: np.ndarray
    kf: np.ndarray
    kb: np.ndarray
    nodata_pieces: int = 0
    max_grade: float = 0.0


def slope_profile(net, sample_ptr, z) -> SlopeProfile:
    """Pieces between consecutive samples of each edge (``sample_ptr``, ``z``: elevation in metres
    at each sample, nan = no data): their grade over the line's horizontal length and Tobler's
    factor uphill and downhill."""
    z = np.asarray(z, dtype=float)
    n = np.diff(sample_ptr) - 1
    ptr = np.zeros(len(n) + 1, dtype=np.int64)
    np.cumsum(n, out=ptr[1:])
    e = np.repeat(np.arange(len(n)), n)
    first = np.delete(np.arange(len(z)), sample_ptr[1:] - 1)       # each piece's first sample
    dz = z[first + 1] - z[first]
    glen = shapely.length(net.edge_geometry)
    dx = glen[e] / n[e]
    bad = ~np.isfinite(dz)
    with np.errstate(invalid="ignore", divide="ignore"):
        grade = np.where(bad | ~(dx > 0), 0.0, dz / np.where(dx > 0, dx, 1.0))
    return SlopeProfile(ptr, tobler_pace(grade), tobler_pace(-grade), int(bad.sum()),
                        float(np.abs(grade).max()) if len(grade) else 0.0)


def mode_costs(net, factor, slope: SlopeProfile | None = None) -> EdgeCosts:
    """Edge costs for a mode: length x ``factor`` (walking speed / the mode's speed on the edge's
    class: exactly 1.0 for walking, inf where the mode may not go), times Tobler's factor along
    the edge when ``slope`` is given."""
    L = np.asarray(net.edge_length, dtype=float)
    factor = np.asarray(factor, dtype=float)
    closed = ~np.isfinite(factor)
    if slope is None:
        with np.errstate(invalid="ignore"):
            c = np.where(closed, np.inf, L * factor)
        return EdgeCosts(c, c)
    n = np.diff(slope.ptr)
    sf = np.add.reduceat(slope.kf, slope.ptr[:-1]) if len(slope.kf) else np.zeros(len(n))
    sb = np.add.reduceat(slope.kb, slope.ptr[:-1]) if len(slope.kb) else np.zeros(len(n))
    with np.errstate(invalid="ignore"):
        fwd = np.where(closed, np.inf, L * (factor * (sf / n)))
        bwd = np.where(closed, np.inf, L * (factor * (sb / n)))
    # edges whose factor is the same on every piece (both ways) are uniform: no knots
    same_f = np.maximum.reduceat(slope.kf, slope.ptr[:-1]) == np.minimum.reduceat(slope.kf, slope.ptr[:-1])
    same_b = np.maximum.reduceat(slope.kb, slope.ptr[:-1]) == np.minimum.reduceat(slope.kb, slope.ptr[:-1])
    vary = np.flatnonzero(~(same_f & same_b) & ~closed)
    knot_n = np.zeros(len(n), dtype=np.int64)
    knot_n[vary] = n[vary] + 1
    knot_ptr = np.zeros(len(n) + 1, dtype=np.int64)
    np.cumsum(knot_n, out=knot_ptr[1:])
    e = np.repeat(vary, n[vary] + 1)
    j = np.arange(knot_ptr[-1]) - knot_ptr[e]
    frac = j / n[e]
    # cumulative factor sums at each knot: 0 at u, then the running sum of the edge's pieces
    piece = slope.ptr[e] + j - 1                          # the piece ending at knot j (j >= 1)
    csf = np.cumsum(slope.kf)
    csb = np.cumsum(slope.kb)
    base_f = np.where(slope.ptr[e] > 0, csf[np.maximum(slope.ptr[e] - 1, 0)], 0.0)
    base_b = np.where(slope.ptr[e] > 0, csb[np.maximum(slope.ptr[e] - 1, 0)], 0.0)
    run_f = np.where(j > 0, csf[np.maximum(piece, 0)] - base_f, 0.0)
    run_b = np.where(j > 0, csb[np.maximum(piece, 0)] - base_b, 0.0)
    scale = L[e] * factor[e] / n[e]
    cf = run_f * scale
    cb = run_b * scale
    last = knot_ptr[1:][vary] - 1                          # the last knot equals the edge's cost
    cf[last], cb[last] = fwd[vary], bwd[vary]
    return EdgeCosts(fwd, bwd, knot_ptr, frac, cf, cb)
