"""The township bar chart: coverage of each township at the plan threshold against the plan
target (dashed line), values labelled, bars below the target hatched."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib import transforms
from matplotlib.patches import Patch

from .style import _Style, _title, fill, plt


def township_targets(res) -> dict:
    """{category: (target %, indicator id or None)} for the township bar chart: the target of the
    profile's population_coverage indicator of the category, else 100 (full coverage)."""
    out = {c: (100.0, None) for c in res.categories}
    ind = res.indicators
    if ind is None or not len(ind):
        return out
    prof = getattr(res, "profile", None)      # the study's profile, with its options
    if prof is None:
        return out
    ids = set(ind.indicator_id)
    for i in sorted(prof.indicators, key=lambda i: i.id):
        if i.kind == "population_coverage" and i.id in ids:
            for c in i.categories:
                if c in out and out[c][1] is None:
                    out[c] = (float(i.target), i.id)
    return out


def township_figure(res, st: _Style):
    s = res.coverage_summary
    cats = list(res.categories)
    targets = township_targets(res)
    tw = s[s.level == "township"]
    if "population_group" in tw.columns:
        tw = tw[tw.population_group == "total"]
    units = sorted(tw.unit.astype(str).unique())
    n = len(cats)
    h = max(1.8, 0.22 * len(units) + 1.0)
    with plt.rc_context(st.rc()):
        ncols = 2 if n > 1 else 1
        nrows = math.ceil(n / ncols)
        fig = plt.figure(figsize=(6.0 * ncols, h * nrows + 0.8))
        grid = fig.add_gridspec(nrows, ncols)
        axes = [fig.add_subplot(grid[i // ncols, i % ncols]) for i in range(n)]     # only the panels drawn
        names = [st.safe(u, f"T{i + 1}") for i, u in enumerate(units)]
        for ax, cat in zip(axes, cats):
            m = float(res.thresholds[cat].metres)
            r = tw[(tw.category == cat) & np.isclose(pd.to_numeric(tw.threshold_m).to_numpy(float), m,
                                                      rtol=0, atol=0.051)]
            r = r.drop_duplicates("unit").set_index("unit")["coverage_rate"].reindex(units).to_numpy(float) * 100
            target, ind_id = targets[cat]
            y = np.arange(len(units))[::-1]
            vals = np.nan_to_num(r, nan=0.0)
            below = ~(r >= target - 1e-9)
            # each class of bars as one patch (160 Rectangles on a county cost more than the drawing)
            _bars(ax, y[~below], vals[~below], facecolor="#404040")
            _bars(ax, y[below], vals[below], facecolor="#d9d9d9", hatch="////")
            for yi, v in zip(y, r):
                ax.text(min(np.nan_to_num(v), 100) + 1.5, yi, "—" if not np.isfinite(v) else f"{v:.1f}%", in_layout=False,
                        va="center", fontsize=7)
            ax.axvline(target, color="black", linestyle="--", linewidth=1.2)
            lab = st.t["target"].format(t=target) + ("" if ind_id else " " + st.t["default_target"])
            ax.text(target, len(units) - 0.4, lab, ha="right", va="bottom", fontsize=6.5)
            # township names as text beside the first panel of a row, no y ticks (a panel's 20+
            # Tick objects, labels hidden or not, cost more than drawing its bars)
            ax.set_yticks([])
            if axes.index(ax) % ncols == 0:
                pad = transforms.ScaledTranslation(-3.5 / 72, 0, fig.dpi_scale_trans)
                for yi, name in zip(y, names):
                    ax.text(0, yi, name, transform=ax.get_yaxis_transform() + pad, ha="right", va="center",
                            fontsize=7, in_layout=False)
            ax.set_xlim(0, 118)
            ax.set_ylim(-0.6, len(units) + 0.3)
            _x_axis(ax, st.t["rate_axis"])
            # y given: matplotlib then skips measuring every tick label to place the title (it goes
            # where it would anyway: nothing is above the axes)
            ax.set_title(st.t["panel"].format(cat=st.cat(cat), thr=st.thr(res, cat)), fontsize=9, y=1.0)
        handles = [Patch(facecolor="#404040", edgecolor="black", label=st.t["meets"]),
                   Patch(facecolor="#d9d9d9", edgecolor="black", hatch="////", label=st.t["below"]),
                   plt.Line2D([], [], color="black", linestyle="--", label=st.t["target"].format(t=100)
                              .replace("100%", "").strip())]
        fig.legend(handles=handles, loc="lower left", fontsize=7, ncol=3, frameon=False)
        fig.suptitle(f"{_title(res, st)}\n{st.t['bars_title']}", fontsize=11)
        _layout(fig, names, ncols, nrows, h)
    return fig


#: the rate axis' ticks (percent)
X_TICKS = (0, 20, 40, 60, 80, 100)


def _x_axis(ax, label):
    """The rate axis drawn as matplotlib draws its ticks (3.5 pt marks below the axes, 7 pt labels
    3.5 pt below them, the axis label 4 pt lower), as one line of tick marks and texts: a panel's
    Tick objects (five artists each) cost more to make than its bars."""
    from matplotlib.lines import TICKDOWN
    ax.set_xticks([])
    base = ax.get_xaxis_transform()
    ax.plot(X_TICKS, [0] * len(X_TICKS), transform=base, linestyle="none", marker=TICKDOWN, markersize=3.5,
            markeredgewidth=0.8, color="black", clip_on=False)
    below = transforms.ScaledTranslation(0, -7 / 72, ax.figure.dpi_scale_trans)
    for x in X_TICKS:
        ax.text(x, 0, f"{x}", transform=base + below, ha="center", va="top", fontsize=7, in_layout=False)
    lower = transforms.ScaledTranslation(0, -(7 + 7 * 1.2 + 4) / 72, ax.figure.dpi_scale_trans)
    ax.text(0.5, 0, label, transform=ax.transAxes + lower, ha="center", va="top", fontsize=7, in_layout=False)


def _bars(ax, y, widths, facecolor, hatch=None, height=0.7):
    """Horizontal bars from 0 as one patch (outlined, hatched), as ``ax.barh`` draws them."""
    import shapely
    if len(y):
        boxes = shapely.box(np.zeros(len(y)), y - height / 2, widths, y + height / 2)
        fill(ax, boxes, facecolor=facecolor, edgecolor="black", linewidth=plt.rcParams["patch.linewidth"],
             hatch=hatch, zorder=1)


def _layout(fig, labels, ncols, nrows, h):
    """Margins by hand (tight_layout measures every tick label of every panel: seconds on a
    county): the left margin from the widest township name, fixed room for titles and axes."""
    probe = fig.text(0, 0, "\n".join(labels) or "T", fontsize=7)
    width = probe.get_window_extent(fig.canvas.get_renderer()).width / fig.dpi
    probe.remove()
    fw, fh = fig.get_size_inches()
    left = (width + 0.25) / fw
    panel_w = (fw - width - 0.25 - 0.2) / ncols
    fig.subplots_adjust(left=left, right=1 - 0.2 / fw, top=1 - 1.05 / fh, bottom=0.75 / fh,
                        wspace=0.25 / max(panel_w - 0.25, 0.5), hspace=0.85 / max(h - 0.85, 0.5))
