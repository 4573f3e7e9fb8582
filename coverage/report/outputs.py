"""Writing a Results object: CSV (UTF-8 with BOM), Markdown, GeoPackage, the Folium map.
Outputs never recompute analysis. Tables are sorted and rounded so the same inputs give
byte-identical files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

LAYERS_FILE = "layers.gpkg"


def _csv(df: pd.DataFrame, path: Path):
    df = df.copy()
    for c in df.columns:
        if pd.api.types.is_float_dtype(df[c]):
            # one convention for "none within reach" in every table: an empty cell, never "inf"
            df[c] = df[c].round(6).replace([np.inf, -np.inf], np.nan)
    df.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n", float_format="%.10g")


def write_outputs(res, out_dir, map_path=None, *, category_maps=None) -> dict:
    """Write every table, layer, map, figure and the report of ``res`` into ``out_dir``.

    ``category_maps`` (default: config ``output.category_maps``, else False) also writes
    ``map_<category>.html`` for each category; map.html already holds every category as layers.
    The maps share one set of simplified layers (simplified once, not once per map)."""
    if category_maps is None:
        category_maps = bool(getattr(res.config.output, "category_maps", False))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
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
    files["layers"] = out / LAYERS_FILE
    write_layers(res, files["layers"])
    from .webmap import make_map, prepare
    files["map"] = Path(map_path) if map_path else out / "map.html"
    lang, basemap = res.config.output.lang, res.config.output.basemap
    shown = prepare(res)
    make_map(res, files["map"], lang=lang, basemap=basemap, data=shown)
    if category_maps:  # on request: one map per category, for a meeting on a single topic
        for cat in res.categories:
            files[f"map_{cat}"] = make_map(res.only([cat]), out / f"map_{cat}.html", lang=lang,
                                           basemap=basemap, data=shown)
    from .tables import write_tables
    files.update(write_tables(res, out))
    from .figures import make_figures
    from .html import write_report
    figs = make_figures(res, out, lang=lang)
    files.update({f"figure_{k}": v for k, v in figs.items()})
    files["report"] = write_report(res, out, figs, files=dict(files))
    from .manifest import record_run
    files["manifest"] = record_run(res, out, files)
    return files


def write_layers(res, path: Path):
    import pyogrio
    if path.exists():
        path.unlink()
    main = res.coverage_by_community
    key = {round(t.metres, 1): t.key for t in list(res.breaks) + list(res.thresholds.values())}
    wide = main.pivot_table(index="community_id", columns=["category", "threshold_m"], values="coverage_rate")
    wide.columns = [f"rate_{c}_{key.get(round(t, 1), f'{t:g}m')}" for c, t in wide.columns]
    comm = res.communities.join(wide, on="community_id")
    for name, col in _mode_rates(res).items():            # flat rates (network.dem), travel circles
        comm[name] = comm["community_id"].map(col).astype(float)
    layers = [("communities", comm), ("facilities", res.facilities),
              ("demand_points", _inf_to_nan(res.demand))]
    if res.circles is not None:
        layers.append(("life_circles", res.circles))
    if getattr(res, "facility_circles", None) is not None and len(res.facility_circles):
        layers.append(("facility_circles", res.facility_circles))
    if res.gaps is not None and len(res.gaps):
        layers.append(("gaps", _inf_to_nan(res.gaps)))
    if res.sites is not None and len(res.sites):
        layers.append(("suggested_sites", res.sites))
    for name, gdf in layers:
        pyogrio.write_dataframe(gdf, path, layer=name, driver="GPKG", append=path.exists())


def _mode_rates(res) -> dict:
    """{column: rate by community}: ``rate_<cat>_<threshold>_flat`` (the walk on flat ground, with
    network.dem) and ``rate_<circle>`` (each travel circle, for the communities it applies to)."""
    out = {}
    se = getattr(res, "slope_effect", None)
    if se is not None and len(se):
        c = se[(se.level == "community") & (se.population_group == "total")]
        for cat in res.categories:
            sub = c[c.category == cat].drop_duplicates("unit").set_index("unit")
            out[f"rate_{cat}_{res.thresholds[cat].key}_flat"] = sub["coverage_rate_flat"]
    tc = getattr(res, "travel_circles", None)
    if tc is not None and len(tc):
        c = tc[tc.level == "community"]
        for key in dict.fromkeys(c["circle"]):
            out[f"rate_{key}"] = c[c.circle == key].drop_duplicates("unit").set_index("unit")["coverage_rate"]
    return out


def _inf_to_nan(gdf):
    """``gdf.replace([np.inf], np.nan)`` on the float columns only (DataFrame.replace compared
    every geometry of the layer with inf: 3 s on a county's 196k demand points)."""
    out = gdf.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]):
            v = out[c].to_numpy()
            if np.isposinf(v).any():
                out[c] = out[c].replace([np.inf], np.nan)
    return out


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
