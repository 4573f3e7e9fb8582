"""The interactive Folium map planners open in a browser.

``make_map(results, out_html, lang="zh", basemap="OpenStreetMap", max_demand_points=20000,
cluster_over=200, data=None)`` draws what the analysis already computed (it never recomputes
coverage):

- a coverage choropleth of communities, one layer per category (only the first shown),
  coloured by the community's coverage rate at the category's plan threshold on a fixed
  5-class scale (0-20-40-60-80-100 %), grey where there is no population or no figure;
  the tooltip gives name, township, type, population and the rate of every category. The
  community outlines are in the page once, shared by every category's layer;
- facilities, one layer per category, with a popup of name, category and floor area; a
  category with more than ``cluster_over`` facilities is drawn as marker clusters
  (Leaflet.markercluster, inlined);
- uncovered population of each category (walk beyond its plan threshold, by
  :func:`coverage.analysis.coverage.covered`): the demand points, sized by population, when all
  categories together have at most ``max_demand_points``; otherwise a grid image of every
  uncovered person (cells of 100 m or more, darker = more people), so nobody is left out;
- life circles (each mapped category at each break), gaps and proposed sites of the mapped
  categories (hidden, except the plan-threshold circle of the first category);
- layer control, legend (Chinese, or English with ``lang="en"``), scale bar, title.
  Thresholds are labelled as given: "15分钟" / "500米" / "15 min" / "500 m".

Geometry is simplified once per study to the map's zoom (:mod:`.data`; 2 m for a town, ~20 m
for a county) and shared by every map drawn from the same :class:`~.data.MapData`
(``data=prepare(results)``). Every layer is vector data or an inline image, and Leaflet is
inlined, so the map shows its content offline; ``basemap="none"`` draws no tiles at all. Every
name from the data is shown as text, never as markup (see :mod:`.page`).

Two runs on the same inputs give byte-identical HTML: folium's random element ids are
replaced by a counter while the map is built and written.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import InputError
from ...labels import COVERAGE_CLASS_COLOURS, NO_DATA_COLOUR, classify_rate  # noqa: F401
from .data import MapData, prepare
from .layers import (add_circles, add_communities, add_facilities, add_gaps, add_sites, add_uncovered,
                     share_budget)
from .page import cluster_plugin, deterministic_ids, inline_resources, page_elements, resolve_basemap
from .text import (UNCOVERED_COLOUR, cat_label, cat_order, check_lang, colour_of, esc, fmt_num,
                   thresholds_of, walk_note, mode_text)

__all__ = ["make_map", "build_map", "prepare", "MapData", "resolve_basemap", "COVERAGE_CLASS_COLOURS",
           "NO_DATA_COLOUR"]

_share_budget = share_budget     # kept for callers of the old names
_deterministic_ids = deterministic_ids


def _inline_leaflet(path) -> None:
    """Inline Leaflet into a saved folium page (the province map uses it)."""
    inline_resources(Path(path))


def _legend_element(inner: str, title: str):
    """The title box and legend as an element for ``m.get_root().add_child`` (``inner`` is
    escaped HTML); written as raw page text, never through Jinja."""
    from branca.element import MacroElement

    from .page import CSS, raw

    class Legend(MacroElement):
        def __init__(self):
            super().__init__()
            self._name = "Legend"

        def render(self, **kwargs):
            root = self.get_root()
            root.header.add_child(raw(f"<style>{CSS}</style>\n"), name=self.get_name() + "_css")
            root.html.add_child(raw(f'<div class="lc-title">{esc(title)}</div>\n'
                                    f'<div class="lc-legend">\n{inner}\n</div>\n'), name=self.get_name())
    return Legend()


def make_map(results, out_html, *, lang: str = "zh", basemap: str = "OpenStreetMap",
             max_demand_points: int = 20000, cluster_over: int = 200, data: MapData | None = None) -> Path:
    """Write the interactive coverage map of ``results`` to ``out_html`` (Leaflet inlined, so it
    works offline); return its path. See :func:`build_map`."""
    out = Path(out_html)
    with deterministic_ids():
        m = build_map(results, lang=lang, basemap=basemap, max_demand_points=max_demand_points,
                      cluster_over=cluster_over, data=data)
        out.parent.mkdir(parents=True, exist_ok=True)
        m.save(str(out))
    inline_resources(out)
    return out


def build_map(results, *, lang: str = "zh", basemap: str = "OpenStreetMap", max_demand_points: int = 20000,
              cluster_over: int = 200, data: MapData | None = None):
    """The interactive coverage map of ``results`` as a folium.Map (a notebook shows it).

    ``results`` carries communities, coverage_by_community, facilities, demand, circles,
    gaps, sites (the last three may be None), categories, thresholds (each category's plan
    :class:`~coverage.config.Threshold`), breaks, speed_m_per_min and title. ``data`` is the
    :class:`MapData` of the same results, to share the simplified layers between maps.
    """
    import folium

    t = mode_text(check_lang(lang), results, lang)
    for key, val, ex in (("max_demand_points", max_demand_points, 20000), ("cluster_over", cluster_over, 200)):
        if not (isinstance(val, int) and not isinstance(val, bool) and val >= 0):
            raise InputError(f"{key} must be a whole number >= 0, got {val!r}", field=f"output.{key}",
                             fix=f"e.g. {ex}")
    provider = resolve_basemap(basemap)
    cats = [str(c) for c in results.categories]
    if not cats:
        raise InputError("no analysed categories to map", field="results.categories",
                         fix="analyse at least one facility category")
    thr = thresholds_of(results, cats)
    speed = getattr(results, "speed_m_per_min", None)
    if not speed or not float(speed) > 0:
        raise InputError("the results carry no walking speed", field="results.speed_m_per_min",
                         fix="set analysis.walk_speed_kmh (the default is 4 km/h)")
    title = str(getattr(results, "title", None) or t["default_title"])
    data = data if data is not None else prepare(results)
    minx, miny, maxx, maxy = data.bounds
    order = cat_order(cats, results.facilities["category"].astype(str).unique())

    m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=13,
                   tiles=None, control_scale=True, prefer_canvas=True)
    m.options["maxZoom"] = provider["max_zoom"] if provider else 19   # clusters need one, tiles or not
    if provider is not None:
        folium.TileLayer(provider["tiles"], attr=provider["attr"],
                         name=f"{t['basemap']}: {provider['name']}",
                         max_zoom=provider["max_zoom"], max_native_zoom=provider["max_zoom"],
                         subdomains=provider["subdomains"]).add_to(m)
    add_communities(m, data, results, cats, thr, t, lang)
    add_circles(m, data, results, cats, thr, t, lang, order)
    add_gaps(m, data, results, cats, t, lang, order)
    grid_cell = add_uncovered(m, data, results, cats, thr, t, lang, int(max_demand_points))
    fac_cats, clustered = add_facilities(m, data, results.facilities, cats, t, lang, order, int(cluster_over))
    add_sites(m, data, results, cats, t, lang, order)
    folium.LayerControl(collapsed=True).add_to(m)
    page_elements(m, title, _legend_html(fac_cats, thr[cats[0]], float(speed), t, lang, order,
                                         grid_cell, clustered))
    if clustered:
        cluster_plugin(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


def _legend_html(fac_cats, thr_first, speed, t, lang, order, grid_cell, clustered) -> str:
    labels = ["0–20%", "20–40%", "40–60%", "60–80%", "80–100%"]
    rows = [f"<div><b>{esc(t['legend_cov'].format(thr=thr_first.label(lang)))}</b>"
            f"<br><span style='color:#555'>{esc(walk_note(thr_first, speed, t))}</span></div>"]
    for col, lab in zip(COVERAGE_CLASS_COLOURS, labels):
        rows.append(f"<div><i style='background:{col}'></i>{lab}</div>")
    rows.append(f"<div><i style='background:{NO_DATA_COLOUR}'></i>{esc(t['legend_grey'])}</div>")
    rows.append(f"<div style='margin-top:4px'><b>{esc(t['legend_fac'])}</b></div>")
    for c in fac_cats:
        rows.append(f"<div><i class='dot' style='background:{colour_of(c, order)}'></i>"
                    f"{esc(cat_label(c, lang))}</div>")
    if clustered:
        rows.append(f"<div style='color:#555'>{esc(t['legend_cluster'])}</div>")
    unc = t["legend_unc"] if grid_cell is None else t["legend_unc_grid"].format(cell=fmt_num(grid_cell))
    shape = "dot" if grid_cell is None else ""
    rows.append(f"<div style='margin-top:4px'><i class='{shape}' style='background:"
                f"{UNCOVERED_COLOUR};opacity:.6'></i>{esc(unc)}</div>")
    return "\n".join(rows)
