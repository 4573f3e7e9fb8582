"""Writing a Results object: CSV (UTF-8 with BOM), Markdown, GeoPackage, the Folium map, the
figures and the report. Outputs never recompute analysis. Tables are sorted and rounded so the
same inputs give byte-identical files.

The outputs do not depend on each other, so :func:`write_outputs` writes them side by side, one
process per core (:mod:`.parallel`; a county's ~20 CPU-seconds of writing take about half that on
two cores): the GeoPackage in two halves (:mod:`.layers`), the map, the tables, the CSVs and each
figure are tasks, longest first; the report, which embeds the figures, and the manifest come last.
Where processes cannot be forked (Windows, macOS, inside a Dask or multiprocessing worker) or with
``workers=1`` they are written one after the other; the files are the same either way."""

from __future__ import annotations

import gc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

LAYERS_FILE = "layers.gpkg"


def write_layers(res, path: Path) -> Path:
    """Write every layer of ``res`` into the GeoPackage ``path`` (see :mod:`.layers`)."""
    from .layers import write_layers as write
    return write(res, Path(path))


def _csv(df: pd.DataFrame, path: Path):
    df = df.copy()
    for c in df.columns:
        if pd.api.types.is_float_dtype(df[c]):
            # one convention for "none within reach" in every table: an empty cell, never "inf"
            df[c] = df[c].round(6).replace([np.inf, -np.inf], np.nan)
    df.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n", float_format="%.10g")


def write_outputs(res, out_dir, map_path=None, *, category_maps=None, workers=None) -> dict:
    """Write every table, layer, map, figure and the report of ``res`` into ``out_dir``.

    ``category_maps`` (default: config ``output.category_maps``, else False) also writes
    ``map_<category>.html`` for each category; map.html already holds every category as layers.
    The maps share one set of simplified layers (simplified once, not once per map).

    The outputs are independent, and are written side by side on the machine's cores
    (:mod:`.parallel`; ``workers=1``: one after the other); the report, which embeds the figures,
    and the manifest come last. The files are the same either way."""
    if category_maps is None:
        category_maps = bool(getattr(res.config.output, "category_maps", False))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _ready(res)
    # the study's objects (millions on a county) are not garbage: a full collection walking them
    # took ~0.5 s each time the writers' temporary objects set one off; and a forked worker
    # would copy every page such a walk touches
    frozen = not gc.get_freeze_count()
    if frozen:
        gc.freeze()
    try:
        return _write(res, out, map_path, category_maps, workers)
    finally:
        if frozen:
            gc.unfreeze()


def _write(res, out: Path, map_path, category_maps, workers) -> dict:
    from .figure_jobs import figure_jobs, figure_set
    from .layers import layer_parts, write_layers
    from .parallel import available_workers, run_tasks
    lang, basemap = res.config.output.lang, res.config.output.basemap
    map_file = Path(map_path) if map_path else out / "map.html"

    shown = {}          # the maps' simplified layers, made once in each process that draws a map

    def draw_map(results, path):
        from .webmap import make_map, prepare
        if "data" not in shown:
            shown["data"] = prepare(res)
        return make_map(results, path, lang=lang, basemap=basemap, data=shown["data"])
    maps = [("map", lambda: draw_map(res, map_file))]
    if category_maps:  # on request: one map per category, for a meeting on a single topic
        maps += [(f"map_{cat}", lambda cat=cat: draw_map(res.only([cat]), out / f"map_{cat}.html"))
                 for cat in res.categories]

    def tables():
        from .tables import write_tables
        return write_tables(res, out)

    figures = figure_jobs(res, out, lang=lang)
    n = min(available_workers() if workers is None else max(1, int(workers)), available_workers())
    if n > 1:       # the GeoPackage in two parts side by side, joined by the last to end
        first, second, finish = layer_parts(res, out / LAYERS_FILE)
        layers = [("layers", first), ("layers_2", second)]
    else:
        layers = [("layers", lambda: write_layers(res, out / LAYERS_FILE))]
    # The workers take the figures from the front (longest first), this process the rest from
    # the back (longest last), so that matplotlib is imported in one process only. County CPU
    # seconds: gaps ~2.2, township bars ~1.4, sites ~1.1, a coverage map ~0.3 (+0.6 matplotlib);
    # demand points ~5.9, map ~2.5, tables ~1.5, the other layers ~1.0, CSVs ~0.6.
    order = {"gaps": 0, "township_coverage": 1}
    big = sorted([(f"figure_{k}", fn) for k, fn in figures if not k.startswith("coverage_")],
                 key=lambda t: order.get(t[0][len("figure_"):], 2))
    small = [(f"figure_{k}", fn) for k, fn in figures if k.startswith("coverage_")]
    rest = ([("csv", lambda: _write_csvs(res, out))] + layers[1:] + [("tables", tables)] + maps[1:] + maps[:1]
            + layers[:1])
    try:
        done = run_tasks(big + small + rest, workers=n)
    except BaseException:
        if n > 1:
            finish(complete=False)
        raise
    if n > 1:
        finish()
    files = dict(done["csv"])
    files["layers"] = out / LAYERS_FILE
    files.update({k: done[k] for k, _ in maps})
    files.update(done["tables"])
    figs = figure_set({k: done[f"figure_{k}"] for k, _ in figures})
    for msg in figs.notes:
        warnings.warn(msg, UserWarning, stacklevel=2)
    files.update({f"figure_{k}": v for k, v in figs.items()})
    from .html import write_report
    files["report"] = write_report(res, out, figs, files=dict(files))
    from .manifest import record_run
    files["manifest"] = record_run(res, out, files)
    return files


def _ready(res):
    """Compute now every part of ``res`` the writers read (a part computed lazily inside a worker
    process would be computed again by the next that reads it, and its step's time lost)."""
    for name in ("communities", "facilities", "demand", "coverage_by_community", "circles", "facility_circles",
                 "gaps", "indicators", "sites", "siting_summary", "slope_effect", "travel_circles", "excluded",
                 "warnings"):
        getattr(res, name, None)
    if getattr(res, "indicators", None) is not None:
        getattr(res, "profile", None)
        getattr(res, "indicators_md", None)


def _write_csvs(res, out: Path) -> dict:
    """The lead tables as CSV (and indicators.md); returns {name: path} in the order written."""
    files = {}
    files["coverage_by_community"] = out / "coverage_by_community.csv"
    _csv(res.coverage_by_community, files["coverage_by_community"])
    files["coverage_summary"] = out / "coverage_summary.csv"
    _csv(res.coverage_summary, files["coverage_summary"])
    files["excluded"] = out / "excluded.csv"
    _csv(res.excluded, files["excluded"])
    if res.indicators is not None:
        files["indicators"] = out / "indicators.csv"
        _csv(res.indicators, files["indicators"])
        files["indicators_md"] = out / "indicators.md"
        files["indicators_md"].write_text(res.indicators_md, encoding="utf-8")
    if res.gaps is not None:
        files["gaps"] = out / "gaps.csv"
        _csv(pd.DataFrame(res.gaps.drop(columns="geometry")), files["gaps"])
    if res.sites is not None:
        files["sites"] = out / "suggested_sites.csv"
        _csv(pd.DataFrame(res.sites.drop(columns="geometry")), files["sites"])
        files["siting_summary"] = out / "siting_summary.csv"
        _csv(res.siting_summary, files["siting_summary"])
    return files


def summary_text(res) -> str:
    s = res.coverage_summary
    a = s[(s.level == "area")]
    lines = [f"{res.title}: {len(res.communities)} communities, population {res.communities.population.sum():,.0f}, "
             f"{len(res.facilities)} facilities, {len(res.excluded)} excluded rows (see excluded.csv)"]
    for cat in res.categories:
        t = res.main_threshold_min[cat]
        r = a[(a.category == cat)].set_index("threshold_min")["coverage_rate"]
        parts = ", ".join(f"{int(k)} min {v:.1%}" for k, v in r.items() if np.isfinite(v))
        lines.append(f"  {cat:<14} {parts}  (plan threshold {int(t)} min)")
    return "\n".join(lines + _mode_lines(res))


def _mode_lines(res) -> list[str]:
    """The slope's effect at the plan thresholds and the travel circles' rates (when configured)."""
    out = []
    se = getattr(res, "slope_effect", None)
    if se is not None and len(se):
        a = se[(se.level == "area") & (se.population_group == "total")]
        d = (res.report.get("dem") or {}).get("direction", "")
        out.append(f"  slope (network.dem, walking {d.replace('_', ' ')}), area at the plan threshold: flat -> "
                   "on the slope")
        for r in a.itertuples(index=False):
            if np.isfinite(r.coverage_rate_flat):
                out.append(f"    {r.category:<14} {r.coverage_rate_flat:.1%} -> {r.coverage_rate_sloped:.1%} "
                           f"({r.change_pp:+.1f} pp)")
    tc = getattr(res, "travel_circles", None)
    if tc is not None and len(tc):
        for r in tc[tc.level == "area"].itertuples(index=False):
            rate = "n/a" if not np.isfinite(r.coverage_rate) else f"{r.coverage_rate:.1%}"
            walk = "n/a" if not np.isfinite(r.coverage_rate_walk) else f"{r.coverage_rate_walk:.1%}"
            out.append(f"  travel circle {r.circle} ({r.circle_name}, {r.applies_to} communities): {rate} "
                       f"(on foot {walk})")
    return out
