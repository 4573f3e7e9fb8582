"""Benchmark the access core against the per-facility ``networkx.ego_graph`` loop of tutorials.

Same network, same facilities, cutoff 1,000 m, on
  (a) the real Helsinki walk network: data/sample/helsinki.osm.pbf read with
      coverage.network.load_network("pbf", ..., crs=EPSG:32635);
  (b) a synthetic jittered grid (default 320 x 320 = 102,400 nodes, 80 m spacing, fixed seed)
      built with coverage.network.from_edge_arrays.
Facilities: 50 and 500 network nodes drawn with a fixed seed.

Methods timed (the network and the networkx graph are built once, outside the timings):
  core-nodes   scipy.sparse.csgraph.dijkstra(net.csr(), indices=facility nodes, limit=1000,
               min_only=True): one bounded multi-source Dijkstra over the network's nodes, the
               raw csgraph pass on the road graph alone
  core-points  what the pipeline runs: coverage.core.access.build_access_graph (every node as a
               demand point and every facility snapped onto its nearest edge, the road graph
               contracted to its junctions) + coverage.core.access.nearest (the search from the
               facilities and every point's distance from its edge's ends); timed separately
               (build, then nearest) and together ("pipe")
  nx-multi     networkx.multi_source_dijkstra_path_length(G, facilities, cutoff=1000)
  ego          for each facility networkx.ego_graph(G, f, radius=1000, distance="length"),
               union of the covered nodes (what tutorials do). Capped at --ego-cap facilities
               per run on the grid; the time is then extrapolated per facility (marked '*').
Core and nx-multi times are the best of --repeat (3) runs; ego runs once. The covered node sets of all methods are asserted equal (for a capped ego run: against the core
run on the same capped facilities). Ratios: near/raw = core-points nearest / core-nodes (the search
the pipeline runs against the raw pass, measured in the same run); pipe/raw = (build + nearest) /
core-nodes; ego/core = ego / core-nodes (as before) and ego/pipe = ego / (build + nearest), what a
tutorial's loop costs against the path the pipeline really takes. Run:

    .venv/bin/python scripts/benchmark_core.py [--grid-side 320] [--ego-cap 50] [--seed 0] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import networkx as nx
import numpy as np
import pyproj
from scipy.sparse.csgraph import dijkstra

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from coverage.core.access import build_access_graph, nearest  # noqa: E402
from coverage.core.network import from_edge_arrays  # noqa: E402
from coverage.io.network import load_network  # noqa: E402

CUTOFF_M = 1000.0
CRS = pyproj.CRS("EPSG:32635")
REPEAT = 3  # the core and nx-multi timings are the best of --repeat runs (default 3); ego_graph runs once


def helsinki_network():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_network("pbf", ROOT / "data" / "sample" / "helsinki.osm.pbf", crs=CRS)


def grid_network(side: int, spacing: float, seed: int):
    """Jittered side x side grid with 4-neighbour streets; edge length = straight-line length."""
    rng = np.random.default_rng(seed)
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    node_id = (ii * side + jj).ravel()
    x = (jj.ravel() * spacing + rng.uniform(-0.3, 0.3, node_id.size) * spacing) + 500_000.0
    y = (ii.ravel() * spacing + rng.uniform(-0.3, 0.3, node_id.size) * spacing) + 6_670_000.0
    idx = node_id.reshape(side, side)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    return from_edge_arrays(node_id, x, y, u, v, crs=CRS, source=f"jittered grid {side}x{side}")


def networkx_graph(net) -> nx.Graph:
    """Undirected weighted graph of the same edges. add_weighted_edges_from overwrites a repeated
    pair with the last one written, so edges go in longest first: the shortest of parallel
    edges is the one kept (as in net.csr())."""
    order = np.argsort(-net.edge_length, kind="stable")
    G = nx.Graph()
    G.add_nodes_from(range(net.n_nodes))
    G.add_weighted_edges_from(zip(net.edge_u[order].tolist(), net.edge_v[order].tolist(),
                                  net.edge_length[order].tolist()), weight="length")
    return G


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def best_of(k, fn, *args):
    """Result and the fastest of k runs (the cheap methods; first-call warm-up left out)."""
    runs = [timed(fn, *args) for _ in range(k)]
    return runs[0][0], min(t for _, t in runs)


def core_nodes(csr, fac):
    d = dijkstra(csr, directed=False, indices=fac, limit=CUTOFF_M, min_only=True)
    return np.flatnonzero(np.isfinite(d))


def core_points(net, fac):
    """All network nodes and the facilities as points on the network (snap 0 m here)."""
    xs = np.concatenate([net.node_x, net.node_x[fac]])
    ys = np.concatenate([net.node_y, net.node_y[fac]])
    ag, t_build = timed(build_access_graph, net, xs, ys, 1.0)
    # the sources are the facility points (after the node points), the targets the node points
    (dist, _), t_near = timed(nearest, ag, net.n_nodes + np.arange(len(fac)), np.arange(net.n_nodes),
                              CUTOFF_M)
    return np.flatnonzero(np.isfinite(dist)), t_build, t_near


def nx_multi(G, fac):
    d = nx.multi_source_dijkstra_path_length(G, set(fac.tolist()), cutoff=CUTOFF_M, weight="length")
    return np.array(sorted(d), dtype=np.int64)


def ego_union(G, fac):
    covered = set()
    for f in fac.tolist():
        covered.update(nx.ego_graph(G, f, radius=CUTOFF_M, distance="length").nodes)
    return np.array(sorted(covered), dtype=np.int64)


def same(a, b, what):
    if not np.array_equal(a, b):
        diff = np.setxor1d(a, b)
        raise AssertionError(f"{what}: covered node sets differ in {diff.size} nodes")
    return True


def run(name, net, n_fac, ego_cap, seed, G, csr):
    rng = np.random.default_rng(seed + n_fac)
    fac = np.sort(rng.choice(net.n_nodes, size=n_fac, replace=False))
    row = {"network": name, "nodes": net.n_nodes, "edges": net.n_edges, "facilities": n_fac}
    # the raw pass and the pipeline's path alternate, so that both see the same machine load
    raw, pts = [], []
    for _ in range(REPEAT):
        raw.append(timed(core_nodes, csr, fac))
        pts.append(core_points(net, fac))
    cov, row["core_nodes_s"] = raw[0][0], min(t for _, t in raw)
    cov_p = pts[0][0]
    row["core_build_s"] = min(r[1] for r in pts)
    row["core_near_s"] = min(r[2] for r in pts)
    row["pipe_s"] = min(r[1] + r[2] for r in pts)
    row["near_raw"] = row["core_near_s"] / row["core_nodes_s"]
    row["pipe_raw"] = row["pipe_s"] / row["core_nodes_s"]
    cov_m, row["nx_multi_s"] = best_of(REPEAT, nx_multi, G, fac)
    ego_fac = fac if ego_cap is None or n_fac <= ego_cap else fac[:ego_cap]
    cov_e, t_ego = timed(ego_union, G, ego_fac)
    row["ego_n"] = len(ego_fac)
    row["ego_s"] = t_ego * n_fac / len(ego_fac)
    row["ego_extrapolated"] = len(ego_fac) < n_fac
    same(cov, cov_p, f"{name}/{n_fac}: core nodes vs core points")
    same(cov, cov_m, f"{name}/{n_fac}: core nodes vs networkx multi-source")
    ref = cov if len(ego_fac) == n_fac else core_nodes(csr, ego_fac)
    same(ref, cov_e, f"{name}/{n_fac}: core vs ego_graph union ({len(ego_fac)} facilities)")
    row["covered"] = cov.size
    row["covered_ego"] = cov_e.size
    row["ratio"] = row["ego_s"] / row["core_nodes_s"]
    row["ratio_pipe"] = row["ego_s"] / row["pipe_s"]
    print(f"  {name:9s} {n_fac:4d} facilities: covered {cov.size:,} nodes; core nodes = core points"
          f" = nx multi-source; ego union over {len(ego_fac)} facilities = core on the same "
          f"({cov_e.size:,} nodes): agree", flush=True)
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grid-side", type=int, default=320, help="grid nodes per side (default 320)")
    p.add_argument("--grid-spacing", type=float, default=80.0)
    p.add_argument("--ego-cap", type=int, default=50,
                   help="most facilities run through ego_graph on the grid (default 50)")
    p.add_argument("--facilities", type=int, nargs="+", default=[50, 500])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeat", type=int, default=3, help="best of this many runs (default 3)")
    a = p.parse_args(argv)
    global REPEAT
    REPEAT = max(1, a.repeat)
    t0 = time.perf_counter()
    rows = []
    for name, make, cap in (("helsinki", helsinki_network, None),
                            ("grid", lambda: grid_network(a.grid_side, a.grid_spacing, a.seed), a.ego_cap)):
        net, t_load = timed(make)
        csr, t_csr = timed(net.csr)
        G, t_nx = timed(networkx_graph, net)
        print(f"{name}: {net.n_nodes:,} nodes, {net.n_edges:,} edges; load {t_load:.2f} s, "
              f"CSR {t_csr:.3f} s, networkx graph {t_nx:.2f} s (not in the timings below)", flush=True)
        for n_fac in a.facilities:
            rows.append(run(name, net, n_fac, cap, a.seed, G, csr))
    print()
    head = (f"{'network':9s} {'nodes':>8s} {'edges':>8s} {'fac':>4s} {'covered':>8s} "
            f"{'core-nodes s':>12s} {'core-pts build s':>16s} {'core-pts near s':>15s} "
            f"{'nx-multi s':>10s} {'ego s':>9s} {'ego/core':>9s} {'pipe s':>7s} {'near/raw':>8s} "
            f"{'pipe/raw':>8s} {'ego/pipe':>8s}")
    print(head)
    print("-" * len(head))
    for r in rows:
        ego = f"{r['ego_s']:.2f}" + ("*" if r["ego_extrapolated"] else " ")
        print(f"{r['network']:9s} {r['nodes']:8,d} {r['edges']:8,d} {r['facilities']:4d} {r['covered']:8,d} "
              f"{r['core_nodes_s']:12.4f} {r['core_build_s']:16.3f} {r['core_near_s']:15.4f} "
              f"{r['nx_multi_s']:10.3f} {ego:>9s} {r['ratio']:9.0f} {r['pipe_s']:7.3f} {r['near_raw']:8.2f} "
              f"{r['pipe_raw']:8.2f} {r['ratio_pipe']:8.1f}")
    if any(r["ego_extrapolated"] for r in rows):
        caps = sorted({r["ego_n"] for r in rows if r["ego_extrapolated"]})
        print(f"* ego_graph run on the first {', '.join(map(str, caps))} facilities only; "
              f"time extrapolated per facility (x facilities / run).")
    print("ego/core = ego seconds / core-nodes seconds; pipe = core-pts build + near (snapping + search, what "
          "the pipeline runs); near/raw and pipe/raw against the raw csgraph pass (core-nodes) of the same run; "
          "ego/pipe = ego / pipe. Covered node sets asserted equal across methods.")
    print(f"total {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
