"""The map figures: coverage of each category, the gaps, the suggested sites.

Drawn from geometry simplified once to the figure's resolution (:class:`FigureData`, about a
pixel at 200 dpi), with labels and hatching capped so a county with hundreds of communities
and thousands of gap areas stays readable and quick: at most :data:`MAX_LABELS` community
labels (those with the most uncovered people) and :data:`MAX_GAP_MARKS` numbered, hatched gaps
per panel (the largest); more than :data:`MAX_POINTS` uncovered demand points are drawn as a
grey density image instead of one dot each.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.patches import Patch

from ...analysis.coverage import covered
from ...labels import COVERAGE_CLASS_BREAKS, classify_rate
from .style import (DPI, GREY_FILLS, GREY_HATCHES, NO_DATA_FILL, NO_DATA_HATCH, _community_label, _decorate,
                    _footer, _frame, _panel_grid, _panel_layout, _pct, _Style, _title, fill, outline, plt,
                    polygon_path)

MAX_LABELS = 30
MAX_GAP_MARKS = 25
MAX_POINTS = 5000
#: Figure pixels across a map (8 inches at 200 dpi): geometry is simplified to about one.
FIGURE_PX = 1600
#: Pixels across a panel of the gaps and sites figures (4.2 inches at 200 dpi).
PANEL_PX = 840
GAP_COLUMNS = ("category", "rank", "population")


class FigureData:
    """The communities simplified once for every figure of a study (shared outlines kept)."""

    def __init__(self, res):
        comm = res.communities.sort_values("community_id", kind="stable")
        minx, miny, maxx, maxy = comm.total_bounds
        self.tol = max(maxx - minx, maxy - miny, 1.0) / FIGURE_PX
        geoms = np.asarray(comm.geometry.values, dtype=object)
        try:
            simple = shapely.coverage_simplify(geoms, self.tol)
        except shapely.errors.GEOSException:  # not a clean coverage: each on its own
            simple = shapely.simplify(geoms, self.tol, preserve_topology=True)
        self.communities = comm.set_geometry(type(comm.geometry)(simple, index=comm.index, crs=comm.crs))
        self.bounds = comm.total_bounds
        self.panel_tol = self.tol * FIGURE_PX / PANEL_PX
        self._panel_path = None
        self._res, self._demand = res, None

    @property
    def demand(self):
        """(x, y, people) of the demand points, read once for every panel."""
        if self._demand is None:
            d = self._res.demand
            g = np.asarray(d.geometry.values, dtype=object)
            pop = pd.to_numeric(d.population, errors="coerce").fillna(0).to_numpy(float)
            self._demand = (shapely.get_x(g), shapely.get_y(g), pop)
        return self._demand

    def simplify(self, gdf, tol=None):
        # for drawing only: plain Douglas-Peucker (topology-preserving is 50x slower on gap areas)
        g = shapely.simplify(np.asarray(gdf.geometry.values, dtype=object), tol or self.tol, preserve_topology=False)
        return gdf.set_geometry(type(gdf.geometry)(g, index=gdf.index, crs=gdf.crs))

    @property
    def panel_communities(self):
        """All communities simplified to a panel's pixel, as one Path: the ground of every panel
        of the gaps and sites figures, built once."""
        if self._panel_path is None:
            geoms = np.asarray(self.communities.geometry.values, dtype=object)
            try:
                simple = shapely.coverage_simplify(geoms, self.panel_tol)
            except shapely.errors.GEOSException:
                simple = shapely.simplify(geoms, self.panel_tol, preserve_topology=True)
            self._panel_path = polygon_path(simple)
        return self._panel_path


def main_rates(res, cat):
    """Each community's coverage rate at the category's plan threshold (total population)."""
    cbc = res.coverage_by_community
    m = float(res.thresholds[cat].metres)
    sel = cbc[(cbc.category == cat) & np.isclose(pd.to_numeric(cbc.threshold_m).to_numpy(float), m,
                                                  rtol=0, atol=0.051)]
    if "population_group" in sel.columns:
        tot = sel[sel.population_group == "total"]
        sel = tot if len(tot) else sel
    return sel.drop_duplicates("community_id").set_index("community_id")["coverage_rate"]


def _outline(ax, data, lw=0.6, color="#555555"):
    outline(ax, data.communities.geometry.values, color=color, linewidth=lw, zorder=3)


def coverage_figure(res, cat, st: _Style | None = None, *, labels=True, data: FigureData | None = None):
    """The coverage map of one category at its plan threshold (returns the open Figure)."""
    st = st or _Style("en", None)
    data = data or FigureData(res)
    with plt.rc_context(st.rc()):
        fig, ax, _ = _coverage_frame(res, st, data, capped=labels and len(data.communities) > MAX_LABELS)
        _coverage_layers(ax, res, cat, st, data, labels)
    return fig


def _coverage_frame(res, st, data, capped):
    """What every category's coverage map shares: the frame, legend, scale bar and north arrow,
    the study's title, the note on capped labels, the footer. Returns (figure, axes, the artists
    drawn above the map: scale bar and north arrow)."""
    fig, ax = plt.subplots(figsize=(8.0, 7.0))
    _frame(ax, data.bounds)
    edges = (0,) + tuple(COVERAGE_CLASS_BREAKS) + (1,)
    handles = [Patch(facecolor=GREY_FILLS[i], edgecolor="black", hatch=GREY_HATCHES[i] or None,
                     label=f"{100 * edges[i]:.0f}–{100 * edges[i + 1]:.0f}%") for i in range(len(GREY_FILLS))]
    handles.append(Patch(facecolor=NO_DATA_FILL, edgecolor="black", hatch=NO_DATA_HATCH, label=st.t["no_pop"]))
    handles.append(plt.Line2D([], [], marker="o", color="none", markerfacecolor="black",
                              markeredgecolor="white", markersize=6, label=st.t["facility"]))
    ax.legend(handles=handles, title=st.t["legend_rate"], loc="upper left", bbox_to_anchor=(1.01, 1.0),
              fontsize=7, title_fontsize=7, framealpha=0.9, handleheight=1.6)
    before = set(ax.get_children())
    _decorate(ax, st)
    above = [a for a in ax.get_children() if a not in before]
    fig.suptitle(_title(res, st), fontsize=11)
    if capped:
        note = st.t["labels_capped"].format(n=MAX_LABELS, m=len(data.communities))
        ax.text(0.0, -0.02, st.safe(note), transform=ax.transAxes, ha="left", va="top", fontsize=6.5)
    _footer(fig, res, st)
    # a fixed layout (map, legend on its right): tight_layout would measure every label
    fig.subplots_adjust(left=0.02, right=0.80, top=0.89, bottom=0.05)
    return fig, ax, above


def _coverage_layers(ax, res, cat, st, data, labels) -> list:
    """One category's layers of its coverage map (communities shaded by class, facilities, labels)
    and its title; returns the artists added."""
    comm = data.communities
    rate = main_rates(res, cat).reindex(comm.community_id).to_numpy(dtype=float)
    cls = classify_rate(rate)
    before = set(ax.get_children())
    for k in range(-1, len(GREY_FILLS)):
        part = comm[cls == k]
        if len(part) == 0:
            continue
        face = NO_DATA_FILL if k < 0 else GREY_FILLS[k]
        hatch = NO_DATA_HATCH if k < 0 else GREY_HATCHES[k]
        fill(ax, part.geometry.values, facecolor=face, edgecolor="black",
             linewidth=0.7 if len(comm) <= 100 else 0.3, hatch=hatch or None, zorder=2)
    fac = res.facilities[res.facilities.category == cat] if len(res.facilities) else res.facilities
    if len(fac):
        size = 22 if len(fac) <= 200 else 6
        ax.scatter(fac.geometry.x, fac.geometry.y, s=size, marker="o", c="black", edgecolors="white",
                   linewidths=0.6 if size > 10 else 0.2, zorder=6)
    if labels:
        pick = np.arange(len(comm))
        if len(comm) > MAX_LABELS:
            pop = pd.to_numeric(comm["population"], errors="coerce").fillna(0).to_numpy(float)
            unc = pop * (1 - np.nan_to_num(rate, nan=1.0))
            pick = np.sort(np.lexsort((np.arange(len(comm)), -unc))[:MAX_LABELS])
        pts = comm.geometry.iloc[pick].representative_point()
        for (_, row), p, r in zip(comm.iloc[pick].iterrows(), pts, rate[pick]):
            txt = f"{_community_label(row, st)}\n{_pct(r) if np.isfinite(r) else st.t['no_pop']}"
            # a Text, not an Annotation (no arrow, no offset): 15% less drawing per label
            ax.text(p.x, p.y, txt, ha="center", va="center", fontsize=6.5, zorder=8, in_layout=False,
                    bbox=dict(facecolor="white", edgecolor="black", linewidth=0.3, alpha=0.85,
                              boxstyle="round,pad=0.2"))
    ax.set_title(st.t["cov_title"].format(cat=st.cat(cat), thr=st.thr(res, cat)), fontsize=9, y=1.0)
    return [a for a in ax.get_children() if a not in before]


class CoverageMaps:
    """Every category's coverage map drawn on one figure: what they share (:func:`_coverage_frame`)
    is drawn once and kept as pixels; each map puts those back and draws its own layers, its
    title, then the scale bar and north arrow, in the order a whole drawing would (the same
    pixels as :func:`coverage_figure`). Saves making and drawing the frame, legend and titles of
    every map (a third of a county map's time)."""

    def __init__(self, res, st: _Style, data: FigureData, labels=True):
        self.res, self.st, self.data, self.labels = res, st, data, labels
        with plt.rc_context(st.rc()):
            self.fig, self.ax, self.above = _coverage_frame(res, st, data, labels and len(data.communities) > MAX_LABELS)
        plt.close(self.fig)                 # kept here, not by pyplot: drawn on a canvas of its own
        FigureCanvasAgg(self.fig)
        self.fig.set_dpi(DPI)
        for a in self.above:
            a.set_visible(False)
        self.fig.canvas.draw()
        self.background = self.fig.canvas.copy_from_bbox(self.fig.bbox)
        for a in self.above:
            a.set_visible(True)

    def grey(self, cat) -> np.ndarray:
        """The map of ``cat`` as greyscale pixels (what :func:`style._save` writes)."""
        from PIL import Image
        canvas = self.fig.canvas
        canvas.restore_region(self.background)
        with plt.rc_context(self.st.rc()):
            made = _coverage_layers(self.ax, self.res, cat, self.st, self.data, self.labels)
        renderer = canvas.get_renderer()
        for a in sorted([a for a in made if a is not self.ax.title] + [self.ax.title] + self.above,
                        key=lambda a: a.get_zorder()):
            a.draw(renderer)
        grey = np.asarray(Image.fromarray(np.asarray(canvas.buffer_rgba()), "RGBA").convert("L"))
        for a in made:
            if a is not self.ax.title:
                a.remove()
        return grey


def gaps_frame(res):
    """The gaps table, or an empty one with its columns (a category with no gaps, or none at all)."""
    g = res.gaps
    if g is None or not all(c in g.columns for c in GAP_COLUMNS):
        import geopandas as gpd
        return gpd.GeoDataFrame({c: pd.Series(dtype=object) for c in GAP_COLUMNS},
                                geometry=gpd.GeoSeries([], crs=res.communities.crs))
    return g


def _uncovered(ax, res, cat, data):
    """The uncovered demand points of a category: dots sized by people, or a density image."""
    col = f"dist_{cat}"
    if col not in res.demand.columns:
        return False
    x, y, pop = data.demand
    unc = ~covered(res.demand[col].to_numpy(dtype=float), res.thresholds[cat].metres) & (pop > 0)
    if not unc.any():
        return False
    x, y, p = x[unc], y[unc], pop[unc]
    if unc.sum() <= MAX_POINTS:
        size = 4 + 60 * np.sqrt(p / max(pop.max(), 1e-9))
        ax.scatter(x, y, s=size, c="black", marker="o", linewidths=0, alpha=0.8, zorder=6)
        return False
    minx, miny, maxx, maxy = data.bounds
    n = 400
    cell = max(maxx - minx, maxy - miny) / n
    h, xe, ye = np.histogram2d(x, y, bins=[np.arange(minx, maxx + cell, cell), np.arange(miny, maxy + cell, cell)],
                               weights=p)
    v = np.sqrt(h.T)
    # coloured here (Greys from 0 to the densest cell, empty cells transparent) and resampled to
    # the panel's pixels as RGBA with nearest neighbours
    rgba = plt.get_cmap("Greys")(v / (float(v.max()) or 1.0), bytes=True)
    rgba[..., 3] = np.where(v > 0, 255, 0)
    ax.imshow(rgba, origin="lower", extent=(xe[0], xe[-1], ye[0], ye[-1]), interpolation="nearest", zorder=6,
              alpha=0.9)
    return True


def gaps_figure(res, st: _Style, data: FigureData | None = None):
    data = data or FigureData(res)
    gaps = gaps_frame(res)
    cats = [c for c in res.categories if (gaps.category == c).any()] or list(res.categories[:1])
    density = False
    notes = []
    with plt.rc_context(st.rc()):
        fig, axes = _panel_grid(len(cats))
        for ax, cat in zip(axes, cats):
            # ground and outlines as one patch (nothing is drawn between them here)
            fill(ax, data.panel_communities, facecolor="#f4f4f4", edgecolor="#555555",
                 linewidth=0.6 if len(data.communities) <= 100 else 0.25, zorder=1)
            g = gaps[gaps.category == cat].sort_values("rank", kind="stable")
            if len(g):
                g = data.simplify(g, data.panel_tol)
                top, rest = g.iloc[:MAX_GAP_MARKS], g.iloc[MAX_GAP_MARKS:]
                if len(rest):
                    fill(ax, rest.geometry.values, facecolor="#9a9a9a", alpha=0.9, zorder=4)
                    notes.append(st.t["gaps_capped"].format(n=MAX_GAP_MARKS, m=len(g)))
                fill(ax, top.geometry.values, facecolor="#9a9a9a", edgecolor="black", linewidth=0.8,
                     hatch="\\\\\\", alpha=0.9, zorder=4)
                for p, rk in zip(top.geometry.representative_point(), top["rank"]):
                    ax.text(p.x, p.y, str(int(rk)), ha="center", va="center", fontsize=8, fontweight="bold",
                            in_layout=False, zorder=9, bbox=dict(boxstyle="circle,pad=0.15", facecolor="white",
                                                                 edgecolor="black", linewidth=0.6))
            else:
                ax.text(0.5, 0.5, st.t["no_gaps"], transform=ax.transAxes, ha="center", fontsize=9)
            density |= _uncovered(ax, res, cat, data)
            _frame(ax, data.bounds)
            _decorate(ax, st)
            ax.set_title(st.t["panel"].format(cat=st.cat(cat), thr=st.thr(res, cat)), fontsize=9, y=1.0)
        dot = plt.Line2D([], [], marker="s" if density else "o", color="none", markerfacecolor="dimgrey",
                         markeredgecolor="none", markersize=5, label=st.t["uncovered"])
        handles = [Patch(facecolor="#9a9a9a", edgecolor="black", hatch="\\\\\\", label=st.t["gap"]), dot]
        fig.legend(handles=handles, loc="lower left", fontsize=7, ncol=2, frameon=False)
        if notes:
            fig.text(0.5, 0.005, st.safe(notes[0]), ha="center", va="bottom", fontsize=6.5)
        fig.suptitle(f"{_title(res, st)}\n{st.t['gaps_title']}", fontsize=11)
        _footer(fig, res, st)
        _panel_layout(fig, *_grid_shape(axes))
    return fig


def _grid_shape(axes):
    """(rows, columns) of the panel grid the axes are in."""
    return axes[0].get_subplotspec().get_gridspec().get_geometry()


def sites_figure(res, st: _Style, data: FigureData | None = None):
    data = data or FigureData(res)
    sites = res.sites
    cats = [c for c in res.categories if len(sites[sites.category == c])]
    comm = data.communities
    with plt.rc_context(st.rc()):
        fig, axes = _panel_grid(len(cats))
        for ax, cat in zip(axes, cats):
            s = sites[sites.category == cat].sort_values("rank")
            ids = set(s.community_id.dropna())
            fill(ax, data.panel_communities, facecolor="white", zorder=1)
            hit = comm[comm.community_id.isin(ids)]
            if len(hit):
                fill(ax, hit.geometry.values, facecolor="#d0d0d0", hatch="..", zorder=2)
            fill(ax, data.panel_communities, facecolor="none", edgecolor="#555555",
                 linewidth=0.6 if len(comm) <= 100 else 0.25, zorder=3)
            for _, row in hit.sort_values("community_id").head(MAX_LABELS).iterrows():
                p = row.geometry.representative_point()
                ax.annotate(_community_label(row, st), (p.x, p.y), xytext=(0, -10), textcoords="offset points",
                            in_layout=False,
                            ha="center", va="top", fontsize=6, zorder=7,
                            bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=0.3))
            fac = res.facilities[res.facilities.category == cat]
            if len(fac):
                ax.scatter(fac.geometry.x, fac.geometry.y, s=14 if len(fac) <= 200 else 4, marker="o", c="black",
                           linewidths=0, zorder=5)
            ax.scatter(s.geometry.x, s.geometry.y, s=170, marker="*", c="white", edgecolors="black", linewidths=1.0,
                       zorder=8)
            for x, y, rk in zip(s.geometry.x, s.geometry.y, s["rank"]):
                ax.annotate(str(int(rk)), (x, y), xytext=(7, 5), textcoords="offset points", fontsize=9,
                            in_layout=False,
                            fontweight="bold", zorder=9,
                            bbox=dict(facecolor="white", edgecolor="black", linewidth=0.4, pad=0.6))
            _frame(ax, data.bounds)
            _decorate(ax, st)
            ax.set_title(st.t["panel"].format(cat=st.cat(cat), thr=st.thr(res, cat)), fontsize=9, y=1.0)
        handles = [plt.Line2D([], [], marker="*", color="none", markerfacecolor="white", markeredgecolor="black",
                              markersize=11, label=st.t["site"]),
                   plt.Line2D([], [], marker="o", color="none", markerfacecolor="black", markeredgecolor="none",
                              markersize=5, label=st.t["existing"]),
                   Patch(facecolor="#d0d0d0", edgecolor="black", hatch="..", label=st.t["site_comm"])]
        fig.legend(handles=handles, loc="lower left", fontsize=7, ncol=3, frameon=False)
        fig.suptitle(f"{_title(res, st)}\n{st.t['sites_title']}", fontsize=11)
        _footer(fig, res, st)
        _panel_layout(fig, *_grid_shape(axes))
    return fig
