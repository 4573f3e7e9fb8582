"""Benchmark of coverage.siting on a county-sized synthetic instance (no data download).

Demand points and candidate sites sit on jittered grids over a 30 × 30 km plane; population is
heavier in three town centres (urban) than in the countryside (rural). Walking distance is
straight-line distance × 1.3 (a stand-in for network distance); a site covers demand within
1,000 m. The matrix is built sparsely with cKDTree.sparse_distance_matrix. Existing facilities (40)
cover part of the demand already.

Reports build time, nnz and memory of the matrix, greedy and exact (HiGHS, time-limited) time and
objective for k = 10, 50, 200, the greedy–exact gap, and the fewest sites for 90% overall and for
urban 100% / rural 80%.

    .venv/bin/python scripts/benchmark_siting.py [--demand 60000] [--candidates 8000]
                                                  [--time-limit 60] [--seed 0]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from coverage.analysis.siting import max_coverage, min_sites_for_target  # noqa: E402

SIDE_M = 30_000.0
DETOUR = 1.3
THRESHOLD_M = 1_000.0


def jittered_grid(n: int, rng: np.random.Generator) -> np.ndarray:
    per_side = int(np.ceil(np.sqrt(n)))
    step = SIDE_M / per_side
    gx, gy = np.meshgrid(np.arange(per_side), np.arange(per_side))
    pts = (np.column_stack([gx.ravel(), gy.ravel()]) + 0.5) * step
    pts = pts[:n] + rng.uniform(-0.4, 0.4, size=(n, 2)) * step
    return pts


def build_cover(cand_xy: np.ndarray, dem_xy: np.ndarray) -> sp.csr_array:
    radius = THRESHOLD_M / DETOUR
    coo = cKDTree(cand_xy).sparse_distance_matrix(cKDTree(dem_xy), radius, output_type="coo_matrix")
    d = coo.data * DETOUR
    cover = sp.csr_array((d.astype(np.float32), (coo.row, coo.col)), shape=coo.shape)
    return cover


def mib(nbytes: float) -> float:
    return nbytes / 2 ** 20


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--demand", type=int, default=60_000)
    ap.add_argument("--candidates", type=int, default=8_000)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ks", type=str, default="10,50,200")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)

    dem = jittered_grid(args.demand, rng)
    cand = jittered_grid(args.candidates, rng)
    centres = np.array([[9_000.0, 10_000.0], [21_000.0, 18_000.0], [12_000.0, 24_000.0]])
    dc = np.min(np.linalg.norm(dem[:, None, :] - centres[None], axis=2), axis=1)
    urban = dc < 3_000.0
    pop = np.where(urban, 60.0, 4.0) * rng.gamma(2.0, 0.5, size=dem.shape[0])
    groups = np.where(urban, "urban", "rural")
    existing = jittered_grid(40, rng)
    near = cKDTree(existing).query_ball_point(dem, THRESHOLD_M / DETOUR, return_length=True)
    already = near > 0

    tracemalloc.start()
    t = time.perf_counter()
    cover = build_cover(cand, dem)
    build_s = time.perf_counter() - t
    _, build_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    mat_bytes = cover.data.nbytes + cover.indices.nbytes + cover.indptr.nbytes
    print(f"instance: {cand.shape[0]} candidates × {dem.shape[0]} demand points, 30 × 30 km, "
          f"walk = 1.3 × straight line ≤ {THRESHOLD_M:.0f} m")
    print(f"population {pop.sum():,.0f} (urban {pop[urban].sum():,.0f}); existing 40 sites cover "
          f"{pop[already].sum() / pop.sum():.1%}")
    print(f"matrix build {build_s:.2f} s, nnz {cover.nnz:,}, matrix {mib(mat_bytes):.1f} MiB, "
          f"build peak (tracemalloc) {mib(build_peak):.1f} MiB")
    print()
    print("| k | greedy s | greedy covered | greedy bound | exact s | exact covered | status | "
          "greedy below exact | rate after (exact) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for k in [int(v) for v in args.ks.split(",")]:
        t = time.perf_counter()
        g = max_coverage(cover, pop, k, already_covered=already, method="greedy")
        gs = time.perf_counter() - t
        t = time.perf_counter()
        e = max_coverage(cover, pop, k, already_covered=already, method="exact",
                         time_limit=args.time_limit)
        es = time.perf_counter() - t
        gap = (e.objective - g.objective) / e.objective if e.objective else 0.0
        print(f"| {k} | {gs:.2f} | {g.objective:,.0f} | {g.bound:,.0f} (gap {g.gap:.2%}) | "
              f"{es:.2f} | {e.objective:,.0f} | {e.status} (bound {e.bound:,.0f}) | {gap:.3%} | "
              f"{e.rate_after:.2%} |", flush=True)
    print()
    print("| target | method | s | sites | lower bound | status | rates after |")
    print("|---|---|---|---|---|---|---|")
    cases = [("overall 90%", dict(target=0.9)),
             ("urban 100% / rural 80%", dict(groups=groups,
                                             group_targets={"urban": 1.0, "rural": 0.8}))]
    for label, kw in cases:
        for method in ("greedy", "exact"):
            t = time.perf_counter()
            r = min_sites_for_target(cover, pop, already_covered=already, method=method,
                                     time_limit=args.time_limit, **kw)
            s = time.perf_counter() - t
            rates = ", ".join(f"{g} {v:.1%}" for g, v in (r.group_rates or {}).items())
            print(f"| {label} | {method} | {s:.2f} | {int(r.objective)} | {r.bound:.0f} | "
                  f"{r.status}{'' if r.feasible else ' (infeasible)'} | {rates} |", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak resident memory of the whole run (getrusage): {peak:.0f} MiB")


if __name__ == "__main__":
    main()
