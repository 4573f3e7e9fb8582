#!/usr/bin/env python
"""Benchmark the drawing steps on the county study: life-circle polygons, map.html, figures.

    .venv/bin/python scripts/make_county.py                        # once: out/county
    .venv/bin/python scripts/benchmark_report.py [--config out/county/study.yaml] [--out /tmp/bench_report]
        [--cache /tmp/county_study.pkl] [--repeat 1] [--accuracy]

The analysis the drawings need (coverage, gaps, indicators, siting) is computed first and,
with ``--cache``, pickled so later runs start from it. Then, each ``--repeat`` times:

1. ``Study.life_circles()`` (24 dissolved circles + one circle per facility): wall and CPU
   seconds, and the peak resident memory the step added (VmHWM, reset before the step);
2. ``map.html`` (``write_outputs``' way: layers prepared once, then the map): seconds and MB,
   then the page opened in headless Chromium (offline) three times: seconds until Leaflet has
   drawn it (``scripts/screenshot_map.py``'s wait), the quietest reported; a screenshot is saved;
3. ``make_figures``: seconds.

The quietest (smallest wall time) of the repeats is printed against the goals of issue 13
(polygons < 30 s, map.html <= 15 MB and drawn < 5 s, figures < 10 s) and written to
OUT/benchmark_report.json. The machine's load average is printed with each measure: time
only on a quiet machine.

``--accuracy`` also draws the sample study's circles both ways (raster, the default, and exact
buffers) and prints the area ratio and the symmetric difference, per layer and in all.

Run with ``PYTHONPATH`` pointing at an older copy of the package to measure "before": the
script uses only APIs both have (``make_map(res, path, lang=, basemap=)``, ``make_figures``).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import pickle
import resource
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path and not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, str(REPO))

GOALS = {"polygons_s": 30.0, "map_mb": 15.0, "map_draw_s": 5.0, "figures_s": 10.0}


def _hwm_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _load():
    return round(os.getloadavg()[0], 2)


def _timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, round(time.perf_counter() - t0, 2), round(time.process_time() - c0, 2)


def prepared_study(config, cache, fresh_access=False):
    """The study with everything but the drawings computed (pickled to ``cache`` when given)."""
    import coverage as lc
    if cache and Path(cache).is_file():
        with open(cache, "rb") as f:
            study = pickle.load(f)
        print(f"analysis loaded from {cache}", flush=True)
        if fresh_access:   # a pickle made by another version of the access core: snap again
            for key in [key for key in study._cache if key[0] in ("access", "distances", "catchment")]:
                del study._cache[key]
            study.access()
        return study
    study = lc.Study.from_yaml(config, echo=lambda s: print("   ", s, flush=True))
    res = study.coverage()
    study.gaps()
    study.indicators()
    if study.config.siting.enabled:
        study.siting()
    res.excluded  # noqa: B018
    res.warnings  # noqa: B018
    if cache:
        study._steps.echo = None
        with open(cache, "wb") as f:
            pickle.dump(study, f, protocol=5)
        print(f"analysis pickled to {cache}", flush=True)
    return study


def draw_seconds(html, png, runs=3):
    """Seconds until headless Chromium has drawn the page (quietest of ``runs``), or None."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("screenshot_map", REPO / "scripts" / "screenshot_map.py")
    shot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shot)
    if shot.missing_browser():
        print("   (no chromium: draw time not measured)", flush=True)
        return None
    driver = shot.open_browser(tempfile.mkdtemp(prefix="lc-bench-"), 1400, 900)
    try:
        times = []
        for _ in range(runs):
            driver.get("about:blank")
            t0 = time.perf_counter()
            shot.load_map(driver, html, timeout=120)
            times.append(time.perf_counter() - t0)
        driver.save_screenshot(str(png))
        errors = [e["message"] for e in driver.get_log("browser")
                  if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]]
        if errors:
            print("   page errors:", errors[:3], flush=True)
        return round(min(times), 2)
    finally:
        driver.quit()


def one_run(study, out, k):
    from coverage.report.figures import make_figures
    from coverage.report import webmap
    from coverage.results import Results

    for key in [key for key in study._cache if key[0] == "life_circles"]:
        del study._cache[key]
    rec = {"load_before": _load()}
    hwm_ok = _reset_hwm()
    base = _hwm_mb()
    (circles, per_fac), rec["polygons_s"], rec["polygons_cpu_s"] = _timed(study.life_circles)
    rec["polygons_peak_added_mb"] = round(_hwm_mb() - base, 1) if hwm_ok else None
    rec["circles"], rec["facility_circles"] = len(circles), (0 if per_fac is None else len(per_fac))
    res = Results(study)
    lang, basemap = study.config.output.lang, study.config.output.basemap
    html = Path(out) / f"map_{k}.html"

    def make():
        if "data" in inspect.signature(webmap.make_map).parameters:
            return webmap.make_map(res, html, lang=lang, basemap=basemap, data=webmap.prepare(res))
        return webmap.make_map(res, html, lang=lang, basemap=basemap)
    _, rec["map_s"], rec["map_cpu_s"] = _timed(make)
    rec["map_mb"] = round(html.stat().st_size / 1e6, 2)
    rec["map_draw_s"] = draw_seconds(html, Path(out) / f"map_{k}.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, rec["figures_s"], rec["figures_cpu_s"] = _timed(lambda: make_figures(res, Path(out) / f"figs_{k}",
                                                                                lang=lang))
    rec["load_after"] = _load()
    print(f"   run {k}: {json.dumps(rec)}", flush=True)
    return rec


def accuracy():
    """Raster vs exact-buffer circles of the sample study: area ratio and symmetric difference."""
    import numpy as np
    import shapely
    import coverage as lc

    study = lc.Study.from_yaml(REPO / "data" / "sample" / "study.yaml")
    study.coverage()
    (rc, rf), t_r, _ = _timed(lambda: study.life_circles(method="raster"))
    (ec, ef), t_e, _ = _timed(lambda: study.life_circles(method="faces"))
    out = {"raster_s": t_r, "exact_s": t_e}
    for name, a, b in (("dissolved", rc, ec), ("per_facility", rf, ef)):
        ga, gb = a.geometry.values, b.geometry.values
        area_a, area_b = shapely.area(ga), shapely.area(gb)
        sym = shapely.area(shapely.symmetric_difference(ga, gb))
        rel = np.where(area_b > 0, np.abs(area_a / np.where(area_b > 0, area_b, 1) - 1), 0)
        out[name] = {"layers": int(len(ga)), "area_ratio_all": round(float(area_a.sum() / area_b.sum()), 4),
                     "symmetric_difference_all": round(float(sym.sum() / area_b.sum()), 4),
                     "worst_layer_area_difference": round(float(rel.max()), 4)}
    print("accuracy on the sample (raster / exact buffers):", json.dumps(out, indent=1), flush=True)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(REPO / "out" / "county" / "study.yaml"))
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "bench_report"))
    ap.add_argument("--cache", default=None, help="pickle of the analysis, made on the first run")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--fresh-access", action="store_true",
                    help="snap again after loading --cache (a pickle made by another version)")
    ap.add_argument("--accuracy", action="store_true", help="also compare raster and exact circles")
    a = ap.parse_args(argv)
    import coverage
    print(f"package: {Path(coverage.__file__).parent}", flush=True)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {"config": a.config, "package": str(Path(coverage.__file__).parent), "cpus": os.cpu_count()}
    if a.accuracy:
        result["accuracy"] = accuracy()
    study = prepared_study(a.config, a.cache, a.fresh_access)
    net = study.network
    result["county"] = {"road_nodes": int(net.n_nodes), "edges": int(net.n_edges),
                        "facilities": int(len(study.facilities)), "demand_points": int(len(study.demand))}
    runs = [one_run(study, out, k) for k in range(a.repeat)]
    best = {key: min((r[key] for r in runs if r.get(key) is not None), default=None)
            for key in ("polygons_s", "polygons_cpu_s", "map_s", "map_draw_s", "figures_s", "figures_cpu_s")}
    best["polygons_peak_added_mb"] = min((r["polygons_peak_added_mb"] for r in runs
                                          if r["polygons_peak_added_mb"] is not None), default=None)
    best["map_mb"] = runs[0]["map_mb"]
    result.update(runs=runs, best=best)
    print("\nquietest of", len(runs), "run(s):")
    for key, goal in GOALS.items():
        v = best.get(key)
        ok = "—" if v is None else ("meets" if v <= goal else "MISSES")
        print(f"  {key:<16} {v!s:>8}   goal {'<=' if key == 'map_mb' else '<'} {goal:g}   {ok}")
    print(f"  polygons: cpu {best['polygons_cpu_s']} s, peak memory added {best['polygons_peak_added_mb']} MB;"
          f" map built in {best['map_s']} s; figures cpu {best['figures_cpu_s']} s;"
          f" load {statistics.mean(r['load_before'] for r in runs):.2f}")
    (out / "benchmark_report.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"written {out / 'benchmark_report.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
