"""Siting on a county-sized walking network, as the pipeline runs it: build the candidate × demand
coverage matrix with bounded searches (coverage.core.access.reach_matrix: chunks of nearby
candidates, each on the junctions within the cutoff's straight-line reach) and solve it with
method "auto" (LP relaxation, then HiGHS within --exact-limit seconds from the best start found;
the proven gap is reported), next to plain greedy and its own bound.

    .venv/bin/python scripts/benchmark_siting_network.py [--side 320] [--demand 60000] [--candidates 5000]

A jittered 320 × 320 grid (80 m spacing, 25.6 km square, 102,400 nodes) stands in for a county's
street network; demand points and candidate nodes are drawn with a fixed seed."""

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
from pyproj import CRS

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from coverage.core.access import build_access_graph, nearest, reach_matrix  # noqa: E402
from coverage.core.network import from_edge_arrays  # noqa: E402
from coverage.analysis.siting import max_coverage  # noqa: E402


def grid(side, spacing, rng):
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    x = (jj * spacing + rng.uniform(-0.3, 0.3, jj.shape) * spacing).ravel()
    y = (ii * spacing + rng.uniform(-0.3, 0.3, ii.shape) * spacing).ravel()
    idx = np.arange(side * side).reshape(side, side)
    u = np.r_[idx[:, :-1].ravel(), idx[:-1, :].ravel()]
    v = np.r_[idx[:, 1:].ravel(), idx[1:, :].ravel()]
    return from_edge_arrays(np.arange(side * side), x + 500000, y + 3000000, u, v, crs=CRS.from_epsg(32650))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--side", type=int, default=320)
    ap.add_argument("--demand", type=int, default=60000)
    ap.add_argument("--candidates", type=int, default=5000)
    ap.add_argument("--existing", type=int, default=150)
    ap.add_argument("--cutoff", type=float, default=1000.0)
    ap.add_argument("--exact-limit", type=float, default=60.0, help="time limit of method auto (s)")
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    t = time.perf_counter()
    net = grid(a.side, 80.0, rng)
    print(f"network: {net.n_nodes:,} nodes, {net.n_edges:,} edges, built in {time.perf_counter() - t:.2f} s")
    x0, x1, y0, y1 = net.node_x.min(), net.node_x.max(), net.node_y.min(), net.node_y.max()
    dx, dy = rng.uniform(x0, x1, a.demand), rng.uniform(y0, y1, a.demand)
    fx, fy = rng.uniform(x0, x1, a.existing), rng.uniform(y0, y1, a.existing)
    w = rng.gamma(2.0, 20.0, a.demand)
    t = time.perf_counter()
    ag = build_access_graph(net, np.r_[dx, fx], np.r_[dy, fy], 300)
    t_snap = time.perf_counter() - t
    t = time.perf_counter()
    d, _ = nearest(ag, np.arange(a.demand, a.demand + a.existing), np.arange(a.demand), a.cutoff)
    covered = d <= a.cutoff
    t_near = time.perf_counter() - t
    cand = np.sort(rng.choice(net.n_nodes, a.candidates, replace=False))
    t = time.perf_counter()
    cover = reach_matrix(ag, cand, ag.point_node[: a.demand], a.cutoff)
    t_build = time.perf_counter() - t
    mem = (cover.data.nbytes + cover.indices.nbytes + cover.indptr.nbytes) / 2**20
    print(f"snap {a.demand + a.existing:,} points: {t_snap:.2f} s; existing coverage: {t_near:.3f} s "
          f"({w[covered].sum() / w.sum():.1%} of population covered by {a.existing} existing facilities)")
    print(f"coverage matrix {a.candidates:,} × {a.demand:,}: {t_build:.2f} s, {cover.nnz:,} pairs, {mem:.1f} MiB, "
          f"peak RSS so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(f"{'k':>5} {'greedy s':>9} {'greedy covered':>15} {'bound':>12} {'gap':>7} {'auto s':>8} "
          f"{'auto covered':>14} {'method':>7} {'auto gap':>9} status")
    for k in (10, 50, 200):
        g = max_coverage(cover, w, k, already_covered=covered, method="greedy")
        row = f"{k:>5} {g.solve_seconds:>9.2f} {g.objective:>15,.0f} {g.bound:>12,.0f} {g.gap:>7.2%}"
        e = max_coverage(cover, w, k, already_covered=covered, method="auto", time_limit=a.exact_limit)
        row += f" {e.solve_seconds:>8.1f} {e.objective:>14,.0f} {e.method:>7} {e.gap:>9.4%} {e.status}"
        print(row, flush=True)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
