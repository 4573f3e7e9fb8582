#!/usr/bin/env python
"""Benchmark the whole tool on the synthetic county (scripts/make_county.py) against the goals.

    .venv/bin/python scripts/make_county.py                      # once: out/county (~20 s)
    .venv/bin/python scripts/benchmark_county.py                 # run the tool + the raw csgraph pass
    .venv/bin/python scripts/benchmark_county.py --skip-run      # only the raw csgraph pass (+ 3.)
    .venv/bin/python scripts/benchmark_county.py --no-api        # without the in-process part (3.)
    .venv/bin/python scripts/benchmark_county.py --dem           # flat walking vs DEM + two modes (4.)

1. Runs ``python -m coverage run --config CONFIG --out OUT [--timings]`` as a subprocess (``--timings``
   only when ``run --help`` lists it). Measures the wall time, the child's peak RSS
   (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``) and samples its RSS from /proc every 0.2 s.
   Per-step figures come from ``OUT/run.json`` when the tool writes one
   (``{step: {"seconds": s, "peak_rss_mb": m}}``, also accepted under a ``"steps"`` key or as a list),
   plus a row "writing outputs" (map, figures, tables: from the end of the steps to the first line
   the tool prints after writing them) while run.json has no such step; otherwise (no run.json, or
   a run stopped at ``--timeout``) from the progress lines ``[   1.2s] step ...`` on stderr: each
   step lasts until the next line (exact only when steps do not nest; the last one also holds the
   writing of the outputs), with each step's peak of the sampled RSS. A run stopped at the timeout
   reports lower bounds.
2. Times a raw ``scipy.sparse.csgraph.dijkstra(..., min_only=True, limit=LIMIT)`` multi-source pass
   on the road graph alone, for each of the 8 categories, the facilities snapped to the nearest
   node, LIMIT the tool's own search limit of the category (``Study._cutoff``: 3 x the plan
   threshold; ``--limit`` sets one for all). The graph comes from the tool's own roads builder when
   importable, otherwise from the line end points. Prints the ratio "tool's shortest-path step /
   raw pass".
3. In this process, through the Python API (``Study.from_yaml``; ``--no-api`` skips it): the
   shortest paths for the 8 categories as the pipeline runs them (``coverage.core.access.nearest``
   from each category's facilities to every demand point, at the category's limit) against the
   raw csgraph pass on the same road graph (``WalkNetwork.csr()``, the facilities at their
   nearest road node, the same limits), the two alternating ``--repeat`` times; the quietest
   (fastest) run of each and their ratio (goal: within 1.5x). Then siting as the tool runs it
   (``Study.siting()``: the config's k) and with ``--siting-k`` (default 50): per category the
   candidates, the seconds in candidates, coverage matrix and solver, method, status and gap.

4. ``--dem [PATH]`` (issue 14) instead: the same county twice through the command line, flat walking
   (the config without ``network.dem`` and travel circles) and with slope and two modes (``network.dem``:
   PATH, else the county's ``dem.tif`` from ``make_county.py --dem``, else a synthetic terrain written
   here to OUT/bench_dem.tif; walking on the slope + the rural 30-minute e-bike circle
   ``{category: comprehensive, minutes: 30, mode: ebike, applies_to: rural}``), step by step and end to
   end, with the ratio (goal: DEM + modes within 1.5x of the flat run). The two study YAMLs are
   written beside CONFIG (``study_bench_flat.yaml``, ``study_bench_dem.yaml``) so its relative paths hold.

Goals (printed, never asserted): end to end < 60 s, peak memory < 4 GB, life-circle polygons < 30 s,
map.html <= 15 MB, siting < 20 s, figures < 10 s. Results are also written to OUT/benchmark_county.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

#: (label, kind, key-words matched against step names or a special measure, limit, unit)
GOALS = [
    ("end to end", "total_s", None, 60.0, "s"),
    ("peak memory", "peak_mb", None, 4096.0, "MB"),
    ("life-circle polygons", "step", ("life-circle", "life circle", "circles", "isochrone"), 30.0, "s"),
    ("map.html", "map_mb", None, 15.0, "MB"),
    ("siting", "step", ("siting",), 20.0, "s"),
    ("figures", "step", ("figure",), 10.0, "s"),
]
#: the summary line the tool prints once the outputs are written ("<name>: 8 communities, population ...")
SUMMARY = re.compile(r": \d+ communities, population ")
PROGRESS = re.compile(r"^\[\s*([0-9.]+)s\]\s+(.*?)\s*(?:\.\.\.)?\s*$")
FALLBACK_EXCLUDE = ("motorway", "motorway_link", "高速公路", "高速", "快速路", "匝道", "expressway",
                    "freeway", "ramp", "construction", "proposed", "railway")


# ----------------------------------------------------------------------------- the tool run


def _rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def run_tool(python, config, out, timeout):
    cmd = [python, "-m", "coverage", "run", "--config", str(config), "--out", str(out)]
    probe = subprocess.run([python, "-m", "coverage", "run", "--help"], capture_output=True, text=True,
                           cwd=REPO)
    timings_flag = "--timings" in probe.stdout
    if timings_flag:
        cmd.append("--timings")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    lines = {"stdout": [], "stderr": []}
    samples = []
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env=env, bufsize=1)

    def reader(stream, key):
        for line in stream:
            lines[key].append((time.perf_counter() - t0, line.rstrip("\n")))
            if key == "stderr":
                print(f"    | {line.rstrip()}", file=sys.stderr, flush=True)

    def sampler():
        while proc.poll() is None:
            r = _rss_mb(proc.pid)
            if r is not None:
                samples.append((time.perf_counter() - t0, r))
            time.sleep(0.2)

    threads = [threading.Thread(target=reader, args=(proc.stdout, "stdout"), daemon=True),
               threading.Thread(target=reader, args=(proc.stderr, "stderr"), daemon=True),
               threading.Thread(target=sampler, daemon=True)]
    for t in threads:
        t.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        proc.kill()   # the child we started, by its pid
        proc.wait()
    wall = time.perf_counter() - t0
    for t in threads:
        t.join(timeout=5)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    return dict(cmd=cmd, timings_flag=timings_flag, returncode=proc.returncode, timed_out=timed_out,
                wall_s=wall, peak_mb=peak_mb, stdout=lines["stdout"], stderr=lines["stderr"],
                samples=samples)


def steps_from_run_json(out):
    p = Path(out) / "run.json"
    if not p.exists():
        return None
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for key in ("steps", "timings"):
        if isinstance(data, dict) and isinstance(data.get(key), (dict, list)):
            data = data[key]
            break
    steps = []
    items = data.items() if isinstance(data, dict) else \
        [(d.get("step") or d.get("name"), d) for d in data if isinstance(d, dict)]
    for name, v in items:
        if isinstance(v, dict) and "seconds" in v:
            steps.append(dict(step=str(name), seconds=float(v["seconds"]),
                              peak_rss_mb=v.get("peak_rss_mb"), source="run.json"))
        elif isinstance(v, (int, float)):
            steps.append(dict(step=str(name), seconds=float(v), peak_rss_mb=None, source="run.json"))
    return steps or None


def _peak(samples, lo, hi):
    rss = [r for ts, r in samples if lo - 0.2 <= ts <= hi + 0.2]
    return round(max(rss), 0) if rss else None


def collect_steps(res, out):
    """Per-step seconds and peak RSS, and the start-up time before the first step.

    The progress lines '[  1.2s] step ...' give each step's start on the child's clock, aligned to
    ours by their arrival; the first line printed after the outputs are written (the summary or
    'Files:' on stdout, or a 'warning:' line) marks the end of writing them. Without run.json a
    step lasts from its line to the next one (exact only when steps do not nest; the last one holds
    the writing of the outputs). OUT/run.json, when there is one, gives the steps' own seconds (nested
    steps counted as theirs) and peak RSS; a progress step that run.json lacks is added from the
    lines, and the time from the end of the steps to the end of writing is shown as its own row
    (unless run.json already has a writing step)."""
    prog = []
    for t_arr, line in res["stderr"]:
        m = PROGRESS.match(line)
        if m:
            prog.append((float(m.group(1)), m.group(2), t_arr))
    js = steps_from_run_json(out)
    if not prog:
        return js or [], None, js is not None
    offset = min(t_arr - t for t, _, t_arr in prog)   # our clock - child's clock (>= start-up time)
    t_last = prog[-1][2]
    post = [t for t, ln in res["stdout"] if t >= t_last and (ln.strip() == "Files:" or SUMMARY.search(ln))] + \
           [t for t, ln in res["stderr"] if t >= t_last and ln.startswith("warning:")]
    t_written = min(post) if post and res["returncode"] == 0 else None
    nested = any(prog[k + 1][0] - prog[k][0] < 0.05 for k in range(len(prog) - 1))
    psteps = []
    for k, (t, name, _) in enumerate(prog):
        if k + 1 < len(prog):
            end, label = prog[k + 1][0], name
        elif js is None and t_written is not None:
            end, label = t_written - offset, f"{name} + writing outputs (map, figures, tables)"
        else:
            end, label = res["wall_s"] - offset, name
        psteps.append(dict(step=label, seconds=round(end - t, 2), peak_rss_mb=_peak(res["samples"], t + offset,
                                                                                     end + offset),
                           source="progress lines (nested)" if nested else "progress lines"))
    if js is None:
        return psteps, offset, False
    names = {s["step"] for s in js}
    steps = [dict(s) for s in js] + [s for s in psteps[:-1] if s["step"] not in names]
    for s in steps:
        if s.get("peak_rss_mb") is None:
            start = next((t + offset for t, n, _ in prog if n == s["step"]), None)
            if start is not None:
                s["peak_rss_mb"] = _peak(res["samples"], start, start + s["seconds"])
    if t_written is not None and not any(w in s["step"].lower() for s in js for w in ("writ", "output")):
        # the steps end when the last one to start (the accounting, after every overlapped
        # step) ends: its progress line's arrival plus its own seconds (summing the steps would
        # count twice the steps that ran at the same time on two threads)
        last = next((s["seconds"] for s in js if s["step"] == prog[-1][1]), 0.0)
        t_steps_end = t_last + last
        steps.append(dict(step="writing outputs (map, figures, tables; not in run.json)",
                          seconds=round(t_written - t_steps_end, 2),
                          peak_rss_mb=_peak(res["samples"], t_steps_end, t_written), source="output lines"))
    return steps, offset, True


def folder_bytes(path):
    path = Path(path)
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


# ----------------------------------------------------------------------------- the raw csgraph pass


def load_yaml(config):
    import yaml
    cfg = yaml.safe_load(Path(config).read_text(encoding="utf-8"))
    return cfg, Path(config).resolve().parent


def tool_roads_builder():
    """The tool's roads builder (``edges_from_lines``) and its default exclusions, where they live now."""
    import importlib
    sys.path.insert(0, str(REPO))
    for mod in ("coverage.core.roads", "coverage.roads", "coverage.io.roads"):
        try:
            m = importlib.import_module(mod)
        except Exception:
            continue
        if hasattr(m, "edges_from_lines"):
            return m.edges_from_lines, getattr(m, "DEFAULT_EXCLUDE_CLASSES", FALLBACK_EXCLUDE), mod
    return None, FALLBACK_EXCLUDE, None


def symmetric_csr_min(u, v, w, n):
    import scipy.sparse as sp
    a, b, ww = np.r_[u, v], np.r_[v, u], np.r_[w, w]
    keep = a != b
    a, b, ww = a[keep], b[keep], ww[keep]
    o = np.lexsort((ww, b, a))
    a, b, ww = a[o], b[o], ww[o]
    first = np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])]
    return sp.csr_array((ww[first], (a[first], b[first])), shape=(n, n))


def tool_cutoffs(config):
    """Each category's search limit in the tool (metres): ``Study._cutoff``, or None when the tool
    cannot be imported."""
    sys.path.insert(0, str(REPO))
    try:
        import coverage as lc
        study = lc.Study.from_yaml(config)
        return {c: float(study._cutoff(c)) for c in study.categories}
    except Exception as exc:  # report and fall back to --limit
        print(f"  (the tool's search limits are not available: {type(exc).__name__}: {exc})")
        return None


def raw_pass(config, limit, cutoffs=None):
    import pandas as pd
    import pyogrio
    import shapely
    from pyproj import CRS, Transformer
    from scipy.sparse.csgraph import dijkstra
    from scipy.spatial import cKDTree

    cfg, base = load_yaml(config)
    net = cfg.get("network", {})
    fac = cfg.get("facilities", {})
    res = {}
    t = time.perf_counter()
    gdf = pyogrio.read_dataframe(base / net["path"])
    crs_setting = cfg.get("study_area", {}).get("crs", "auto")
    if crs_setting in (None, "auto", ""):
        c = gdf.to_crs("EPSG:4326").union_all().centroid
        crs = CRS.from_epsg((32600 if c.y >= 0 else 32700) + int((c.x + 180) // 6) % 60 + 1)
    else:
        crs = CRS.from_user_input(crs_setting)
    gdf = gdf.to_crs(crs)
    res["read_roads_s"] = round(time.perf_counter() - t, 2)
    builder, default_excl, where = tool_roads_builder()
    cls_field = net.get("class_field")
    excl = net.get("exclude_classes") or default_excl
    t = time.perf_counter()
    if builder is not None:
        opts = {"tolerance_m": net.get("tolerance_m", 1.0), "class_field": cls_field,
                "name_field": net.get("name_field")}
        if net.get("exclude_classes"):
            opts["exclude_classes"] = net["exclude_classes"]
        if net.get("level_field"):
            opts["level_field"] = net["level_field"]
        try:
            g = builder(gdf, **opts)
            nx_, ny_, u, v, w = g.node_x, g.node_y, g.edge_u, g.edge_v, g.edge_length
            res["graph_from"] = f"{where}.edges_from_lines"
        except Exception as exc:  # report and fall back to the end points
            res["graph_from"] = f"line end points ({where}.edges_from_lines failed: {type(exc).__name__}: {exc})"
            builder = None
    if builder is None:
        if "graph_from" not in res:
            res["graph_from"] = "line end points (the tool's roads builder is not importable)"
        keep = np.ones(len(gdf), bool)
        if cls_field and cls_field in gdf:
            keep = ~gdf[cls_field].astype(str).str.strip().str.lower().isin([str(e).lower() for e in excl]).to_numpy()
        geoms = gdf.geometry.values[keep]
        parts = shapely.get_parts(geoms)
        p0 = shapely.get_coordinates(shapely.get_point(parts, 0))
        p1 = shapely.get_coordinates(shapely.get_point(parts, -1))
        q = np.round(np.vstack([p0, p1]), 3)
        uniq, inv = np.unique(q, axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        u, v = inv[:len(parts)], inv[len(parts):]
        w = shapely.length(parts)
        nx_, ny_ = uniq[:, 0], uniq[:, 1]
    res["graph_build_s"] = round(time.perf_counter() - t, 2)
    n = len(nx_)
    t = time.perf_counter()
    A = symmetric_csr_min(np.asarray(u, np.int64), np.asarray(v, np.int64), np.asarray(w, float), n)
    res["csr_s"] = round(time.perf_counter() - t, 2)
    res["nodes"], res["edges"] = int(n), int(len(u))
    # facilities snapped to the nearest node
    f = pd.read_csv(base / fac["path"], encoding="utf-8-sig")
    xcol, ycol = fac.get("x", "lon"), fac.get("y", "lat")
    catcol = (fac.get("fields") or {}).get("category", "category")
    fx, fy = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(f[xcol].to_numpy(float),
                                                                            f[ycol].to_numpy(float))
    t = time.perf_counter()
    snap_d, node = cKDTree(np.c_[nx_, ny_]).query(np.c_[fx, fy])
    res["snap_s"] = round(time.perf_counter() - t, 3)
    res["snap_m_median"] = round(float(np.median(snap_d)), 1)
    per = {}
    t_all = time.perf_counter()
    for cat in sorted(f[catcol].dropna().unique(), key=str):
        src = np.unique(node[(f[catcol] == cat).to_numpy()])
        lim = (cutoffs or {}).get(str(cat), limit)
        t = time.perf_counter()
        d = dijkstra(A, directed=False, indices=src, min_only=True, limit=lim)
        per[str(cat)] = dict(sources=int(src.size), seconds=round(time.perf_counter() - t, 3),
                             reached_nodes=int(np.isfinite(d).sum()), limit_m=lim)
    res["dijkstra_total_s"] = round(time.perf_counter() - t_all, 3)
    res["per_category"] = per
    res["limit_m"] = limit
    return res


def same_process(config, repeat, siting_ks):
    """Shortest paths (tool vs raw csgraph, interleaved) and siting, through the Python API."""
    sys.path.insert(0, str(REPO))
    import coverage as lc
    from scipy.sparse.csgraph import dijkstra
    from scipy.spatial import cKDTree
    from coverage.core.access import nearest

    out = {}
    t = time.perf_counter()
    study = lc.Study.from_yaml(config)
    study.coverage()
    out["load_s"] = round(time.perf_counter() - t, 1)
    out["steps"] = {k: v["seconds"] for k, v in study.timings.items()}
    ag, net, fac = study.access(), study.network, study.facilities
    cats = study.categories
    cut = {c: float(study._cutoff(c)) for c in cats}
    src = {c: study._fac_points(c) for c in cats}
    dem = ag.ids("demand")
    road = net.csr()
    _, fnode = cKDTree(np.c_[net.node_x, net.node_y]).query(
        np.c_[np.asarray(fac.geometry.x), np.asarray(fac.geometry.y)])
    raw_src = {c: np.unique(fnode[(fac.category == c).to_numpy()]) for c in cats}
    tool_t = {c: [] for c in cats}
    raw_t = {c: [] for c in cats}
    for _ in range(repeat):
        for c in cats:
            t = time.perf_counter()
            nearest(ag, src[c], dem, cut[c])
            tool_t[c].append(time.perf_counter() - t)
            t = time.perf_counter()
            dijkstra(road, directed=False, indices=raw_src[c], min_only=True, limit=cut[c])
            raw_t[c].append(time.perf_counter() - t)
    tool_tot = [sum(tool_t[c][r] for c in cats) for r in range(repeat)]
    raw_tot = [sum(raw_t[c][r] for c in cats) for r in range(repeat)]
    out["shortest_paths"] = {
        "nodes": int(net.n_nodes), "junctions": int(ag.n_junctions), "demand_points": int(len(dem)),
        "per_category": {c: dict(facilities=int(len(src[c])), limit_m=cut[c], tool_s=round(min(tool_t[c]), 4),
                                 raw_s=round(min(raw_t[c]), 4)) for c in cats},
        "tool_s": round(min(tool_tot), 3), "raw_s": round(min(raw_tot), 3),
        "tool_runs_s": [round(v, 3) for v in tool_tot], "raw_runs_s": [round(v, 3) for v in raw_tot],
        "ratio": min(tool_tot) / min(raw_tot) if min(raw_tot) > 0 else None}
    out["siting"] = []
    for k in [None] + list(siting_ks):
        t = time.perf_counter()
        sites, summ = study.siting() if k is None else study.siting(k=k)
        wall = time.perf_counter() - t
        sec = summ.attrs.get("seconds", {})
        rows = []
        for r in summ.to_dict("records"):
            s_ = sec.get(r["category"], {})
            rows.append(dict(category=r["category"], sites=r.get("sites"), candidates=r.get("candidates"),
                             method=r.get("method"), status=r.get("status"), gap=r.get("gap"),
                             candidates_s=s_.get("candidates"), matrix_s=s_.get("matrix"), solve_s=s_.get("solve")))
        out["siting"].append(dict(k=k if k is not None else int(study.config.siting.k), wall_s=round(wall, 2),
                                  rows=rows))
    return out


def print_same_process(sp):
    p = sp["shortest_paths"]
    print(f"  loaded and covered in {sp['load_s']} s; road graph {p['nodes']:,} nodes ({p['junctions']:,} "
          f"junctions searched by the tool), {p['demand_points']:,} demand points")
    print(f"  {'category':<16} {'facilities':>10} {'limit m':>8} {'tool s':>8} {'raw s':>8}")
    for c, d in p["per_category"].items():
        print(f"  {c:<16} {d['facilities']:>10,} {d['limit_m']:>8.0f} {d['tool_s']:>8.3f} {d['raw_s']:>8.3f}")
    print(f"  {'8 categories':<16} {'':>10} {'':>8} {p['tool_s']:>8.3f} {p['raw_s']:>8.3f}   quietest of "
          f"{len(p['tool_runs_s'])} alternating runs (tool {p['tool_runs_s']}, raw {p['raw_runs_s']})")
    if p["ratio"] is not None:
        st = "ok" if p["ratio"] <= 1.5 else "MISSED"
        print(f"  shortest paths, tool / raw csgraph pass = {p['ratio']:.2f}x (goal <= 1.5x): {st}")
    for run in sp["siting"]:
        print(f"\n  siting k = {run['k']}: {run['wall_s']:.1f} s (goal < 20 s: "
              f"{'ok' if run['wall_s'] < 20 else 'MISSED'}; coverage matrices reused across calls)")
        print(f"  {'category':<16} {'candidates':>10} {'cand s':>7} {'matrix s':>8} {'solve s':>8} "
              f"{'method':>7} {'gap':>9}  status")
        for r in run["rows"]:
            def f(v, w=8, d=2):
                return f"{v:>{w}.{d}f}" if isinstance(v, (int, float)) and v == v else f"{'':>{w}}"
            gap = f"{r['gap']:.4%}" if isinstance(r["gap"], float) and r["gap"] == r["gap"] else ""
            print(f"  {r['category']:<16} {r['candidates'] or 0:>10,} {f(r['candidates_s'], 7)} "
                  f"{f(r['matrix_s'])} {f(r['solve_s'])} {str(r['method']):>7} {gap:>9}  {r['status']}")


# ----------------------------------------------------------------------------- printing


def fmt(v, unit):
    if v is None:
        return "n/a"
    return f"{v:,.1f} {unit}"


def find_step(steps, words):
    """Seconds of the steps whose own name (before ' + ' or '(') holds one of ``words``; and a note
    when such a step also holds the writing of the outputs."""
    hits = [s for s in steps if any(w in re.split(r" \+ |\(", s["step"])[0].lower() for w in words)]
    if not hits:
        return None, ""
    note = " (includes writing the outputs)" if any("+ writing outputs" in s["step"] for s in hits) else ""
    return sum(s["seconds"] for s in hits), note


# ----------------------------------------------------------------------------- flat vs DEM + modes (--dem)

BENCH_CIRCLE = {"category": "comprehensive", "minutes": 30, "mode": "ebike", "applies_to": "rural"}


def bench_dem(config, out):
    """A synthetic terrain over the county (when it has no dem.tif): EPSG:4326, 1 arc-second cells,
    smooth hills up to ~300 m with grades up to ~15 %, float32, seeded (the same file every time)."""
    import geopandas as gpd
    import rasterio
    from rasterio.transform import from_origin
    cfg, base = load_yaml(config)
    c = cfg["communities"]
    comm = gpd.read_file(base / c["path"], layer=c.get("layer"))
    x0, y0, x1, y1 = comm.to_crs("EPSG:4326").total_bounds
    pad = 0.12                                            # degrees: the e-bike circle's reach and more
    cell = 1.0 / 3600.0
    xl, yt = np.floor((x0 - pad) / cell) * cell, np.ceil((y1 + pad) / cell) * cell
    nx_, ny_ = int((x1 - x0 + 2 * pad) / cell) + 1, int((y1 - y0 + 2 * pad) / cell) + 1
    lon = xl + (np.arange(nx_) + 0.5) * cell
    lat = yt - (np.arange(ny_) + 0.5) * cell
    kx = 111_320.0 * np.cos(np.radians((y0 + y1) / 2))
    X, Y = (lon - lon.mean()) * kx, (lat - lat.mean()) * 110_574.0
    rng = np.random.default_rng(14)
    z = np.full((ny_, nx_), 200.0, dtype=np.float32)
    for _ in range(40):
        cx, cy = rng.uniform(X.min(), X.max()), rng.uniform(Y.min(), Y.max())
        h, sd = rng.uniform(40, 300), rng.uniform(600, 2500)
        z += (h * np.exp(-((X[None, :] - cx) ** 2) / (2 * sd * sd))
              * np.exp(-((Y[:, None] - cy) ** 2) / (2 * sd * sd))).astype(np.float32)
    path = Path(out) / "bench_dem.tif"
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="GTiff", width=nx_, height=ny_, count=1, dtype="float32",
                       crs="EPSG:4326", transform=from_origin(xl, yt, cell, cell), nodata=-9999.0,
                       compress="deflate") as dst:
        dst.write(z, 1)
    return path


def dem_configs(config, out, dem):
    """(flat YAML, DEM + modes YAML) beside ``config``: the same study, without or with slope and
    the e-bike circle, each writing into its own folder under ``out``."""
    import yaml
    cfg, base = load_yaml(config)
    if dem is None:
        dem = (base / cfg["network"]["dem"]) if cfg.get("network", {}).get("dem") else base / "dem.tif"
        if not Path(dem).exists():
            print(f"  no DEM given and none at {dem}: writing a synthetic terrain", flush=True)
            dem = bench_dem(config, out)
    flat = json.loads(json.dumps(cfg))
    flat.setdefault("network", {}).pop("dem", None)
    flat.setdefault("analysis", {}).pop("travel_circles", None)
    flat.setdefault("output", {})["folder"] = str(Path(out).resolve() / "flat")
    hilly = json.loads(json.dumps(flat))
    hilly["network"]["dem"] = str(Path(dem).resolve())
    hilly["analysis"]["travel_circles"] = [dict(BENCH_CIRCLE)]
    hilly["output"]["folder"] = str(Path(out).resolve() / "dem_modes")
    paths = []
    for name, data in (("study_bench_flat.yaml", flat), ("study_bench_dem.yaml", hilly)):
        p = base / name
        p.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        paths.append(p)
    return paths[0], paths[1], Path(dem)


def compare_dem(a):
    """Run the county flat and with DEM + two modes; print the steps side by side and the ratio."""
    out = Path(a.out)
    flat_cfg, dem_cfg, dem = dem_configs(Path(a.config), out, a.dem if a.dem else None)
    print(f"DEM: {dem}; modes: walk on the slope + {BENCH_CIRCLE}")
    runs = {}
    for label, cfg in (("flat", flat_cfg), ("dem_modes", dem_cfg)):
        print(f"\nrunning the tool, {label} ({cfg.name}) ...", flush=True)
        res = run_tool(a.python, cfg, out / label, a.timeout)
        steps, _, _ = collect_steps(res, out / label)
        runs[label] = dict(res=res, steps={s["step"]: s["seconds"] for s in steps})
        ok = "ok" if res["returncode"] == 0 else ("TIMED OUT" if res["timed_out"] else f"FAILED ({res['returncode']})")
        print(f"  {label}: {ok}, {res['wall_s']:.1f} s, peak {res['peak_mb']:,.0f} MB")
        if res["returncode"] not in (0, None) and not res["timed_out"]:
            print("  last stderr lines:\n    " + "\n    ".join(ln for _, ln in res["stderr"][-25:]))
    f, d = runs["flat"], runs["dem_modes"]
    names = list(dict.fromkeys(list(f["steps"]) + list(d["steps"])))
    print(f"\n  {'step':<62} {'flat s':>9} {'DEM+modes s':>12}")
    for n in names:
        fv, dv = f["steps"].get(n), d["steps"].get(n)
        print(f"  {n:<62} {'' if fv is None else f'{fv:9.2f}':>9} {'' if dv is None else f'{dv:12.2f}':>12}")
    core = ("network", "dem", "snapping", "access graph", "shortest path", "coverage rates", "travel circles",
            "slope effect")
    fc = sum(v for k, v in f["steps"].items() if any(w in k.lower() for w in core))
    dc = sum(v for k, v in d["steps"].items() if any(w in k.lower() for w in core))
    fw, dw = f["res"]["wall_s"], d["res"]["wall_s"]
    ratio = dw / fw if fw > 0 else float("nan")
    print(f"  {'network, DEM, access graphs, searches, coverage (core)':<62} {fc:9.2f} {dc:12.2f}   "
          f"{dc / fc if fc > 0 else float('nan'):.2f}x")
    print(f"  {'end to end (wall)':<62} {fw:9.2f} {dw:12.2f}   {ratio:.2f}x (goal <= 1.5x: "
          f"{'ok' if ratio <= 1.5 else 'MISSED'})")
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmark_county_dem.json").write_text(json.dumps(
        {"dem": str(dem), "circle": BENCH_CIRCLE, "flat": {"wall_s": fw, "peak_mb": f["res"]["peak_mb"], "steps": f["steps"]},
         "dem_modes": {"wall_s": dw, "peak_mb": d["res"]["peak_mb"], "steps": d["steps"]}, "ratio": ratio,
         "core_ratio": dc / fc if fc > 0 else None}, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=str(REPO / "out" / "county" / "study.yaml"))
    ap.add_argument("--out", default=str(REPO / "out" / "county_run"))
    ap.add_argument("--skip-run", action="store_true", help="only the raw csgraph pass")
    ap.add_argument("--timeout", type=float, default=2400.0, help="seconds before the tool run is stopped")
    ap.add_argument("--limit", type=float, default=None,
                    help="Dijkstra limit of the raw pass (metres; default: the tool's limit of each category)")
    ap.add_argument("--no-api", action="store_true", help="skip the in-process shortest-path and siting part")
    ap.add_argument("--repeat", type=int, default=5, help="alternating runs of tool and raw pass in-process")
    ap.add_argument("--siting-k", type=str, default="50", help="extra k values for siting in-process (comma list)")
    ap.add_argument("--python", default=sys.executable, help="interpreter that runs the tool")
    ap.add_argument("--dem", nargs="?", const="", default=None, metavar="PATH",
                    help="compare flat walking with DEM + two modes (PATH: a DEM GeoTIFF; default the county's "
                         "dem.tif from make_county.py --dem, else a synthetic one)")
    a = ap.parse_args(argv)
    config = Path(a.config)
    if not config.exists():
        ap.error(f"{config} does not exist: build it with scripts/make_county.py")
    if a.dem is not None:
        return compare_dem(a)
    report = {"config": str(config), "out": a.out}
    stats_file = config.parent / "county_stats.json"
    if stats_file.exists():
        st = json.loads(stats_file.read_text(encoding="utf-8"))
        n, r = st.get("network", {}), st.get("raster", {})
        print(f"county: {n.get('nodes', 0):,} nodes, {n.get('edges', 0):,} edges, "
              f"{r.get('cells_populated', 0):,} populated cells, {st.get('communities')} communities, "
              f"{st.get('facilities'):,} facilities (scale {st.get('scale')})")
    steps = []
    tool_sp = None
    if not a.skip_run:
        print(f"running the tool (timeout {a.timeout:.0f} s) ...", flush=True)
        res = run_tool(a.python, config, a.out, a.timeout)
        report["run"] = {k: res[k] for k in ("cmd", "timings_flag", "returncode", "timed_out", "wall_s", "peak_mb")}
        steps, offset, steps_json = collect_steps(res, a.out)
        report["steps"] = steps
        report["startup_s"] = round(offset, 2) if offset is not None else None
        map_path = Path(a.out) / "map.html"
        map_mb = map_path.stat().st_size / 1e6 if map_path.exists() else None
        out_mb = folder_bytes(a.out) / 1e6
        report["map_mb"], report["out_mb"] = map_mb, out_mb
        status = ("TIMED OUT" if res["timed_out"] else
                  "ok" if res["returncode"] == 0 else f"FAILED (exit {res['returncode']})")
        print(f"\ntool run: {status}; {' '.join(res['cmd'][1:])}")
        if res["returncode"] not in (0, None) and not res["timed_out"]:
            tail = [ln for _, ln in res["stderr"]][-25:]
            print("  last stderr lines:\n    " + "\n    ".join(tail))
        print(f"  steps from {'run.json' if steps_json else 'progress lines (no run.json)'}; "
              f"start-up before the first step {report['startup_s']} s; output folder {out_mb:,.1f} MB")
        print(f"\n  {'step':<62} {'seconds':>9} {'peak RSS MB':>12}")
        for s in steps:
            pk = "" if s.get("peak_rss_mb") is None else f"{s['peak_rss_mb']:,.0f}"
            print(f"  {s['step']:<62} {s['seconds']:>9.2f} {pk:>12}")
        print(f"  {'total wall time (process start to exit)':<62} {res['wall_s']:>9.2f} {res['peak_mb']:>12,.0f}")
        if any(s.get("source") == "progress lines (nested)" for s in steps):
            print("  note: the tool's steps nest (a step starts the steps it needs: several lines at the same "
                  "moment), so a duration from one progress line to the next belongs partly to the enclosing "
                  "steps; exact per-step figures come from run.json, which the tool writes only when it finishes")
        measured = {"total_s": res["wall_s"], "peak_mb": res["peak_mb"], "map_mb": map_mb}
        print(f"\n  {'goal':<24} {'measured':>14} {'limit':>12}  status")
        goals_out = []
        for label, kind, words, limit, unit in GOALS:
            val, note = find_step(steps, words) if kind == "step" else (measured[kind], "")
            failed = res["timed_out"] or res["returncode"] != 0
            cmp = "<=" if kind == "map_mb" else "<"
            if val is None:
                st = "n/a" if failed or kind != "step" else \
                    "n/a (not timed separately" + (": inside 'writing outputs')" if any(
                        "writing outputs" in s["step"] for s in steps) else ")")
            elif res["timed_out"] and kind != "map_mb" and val >= limit:
                st = "MISSED (at least this much: stopped at the timeout)"
            elif failed:
                st = "n/a (run did not finish)"
            else:
                st = "ok" if (val <= limit if cmp == "<=" else val < limit) else "MISSED"
            print(f"  {label:<24} {fmt(val, unit):>14} {cmp + ' ' + fmt(limit, unit):>12}  {st}{note}")
            goals_out.append(dict(goal=label, value=val, limit=limit, unit=unit, status=st))
        report["goals"] = goals_out
        tool_sp, _ = find_step(steps, ("shortest path",))
        if any(s.get("source") == "progress lines (nested)" for s in steps):
            tool_sp = None   # not measurable from nested progress lines
    print("\nraw csgraph pass on the road graph alone ...", flush=True)
    cutoffs = None if a.limit is not None else tool_cutoffs(config)
    rp = raw_pass(config, a.limit if a.limit is not None else 1000.0, cutoffs)
    report["raw_pass"] = rp
    print(f"  graph: {rp['nodes']:,} nodes, {rp['edges']:,} edges from {rp['graph_from']}; read "
          f"{rp['read_roads_s']} s, built {rp['graph_build_s']} s, CSR {rp['csr_s']} s; facilities snapped to "
          f"the nearest node (median {rp['snap_m_median']} m)")
    print(f"  {'category':<16} {'sources':>8} {'limit m':>8} {'seconds':>9} {'nodes reached':>14}")
    for cat, d in rp["per_category"].items():
        print(f"  {cat:<16} {d['sources']:>8,} {d['limit_m']:>8.0f} {d['seconds']:>9.3f} {d['reached_nodes']:>14,}")
    print(f"  {'all categories':<16} {'':>8} {'':>8} {rp['dijkstra_total_s']:>9.3f}   "
          f"(dijkstra min_only=True, limit = " + ("the tool's limit of each category)" if cutoffs else
                                                  f"{rp['limit_m']:g} m)"))
    if tool_sp is not None and tool_sp > 0 and rp["dijkstra_total_s"] > 0:
        ratio = tool_sp / rp["dijkstra_total_s"]
        report["shortest_path_ratio"] = ratio
        print(f"\n  tool's shortest-path step / raw csgraph pass = {tool_sp:.2f} s / "
              f"{rp['dijkstra_total_s']:.2f} s = {ratio:.1f}x")
    elif not a.skip_run:
        print("\n  no ratio: the tool's shortest-path step was not timed (needs run.json, i.e. a finished run)")
    if not a.no_api:
        print("\nin this process (Python API): shortest paths, tool vs raw csgraph pass; siting ...", flush=True)
        ks = [int(v) for v in a.siting_k.split(",") if v.strip()]
        sp = same_process(config, max(1, a.repeat), ks)
        report["same_process"] = sp
        print_same_process(sp)
    if not a.skip_run or not a.no_api:
        Path(a.out).mkdir(parents=True, exist_ok=True)
        (Path(a.out) / "benchmark_county.json").write_text(json.dumps(report, indent=2, ensure_ascii=False,
                                                                      default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
