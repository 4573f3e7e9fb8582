"""Static PNG figures for the plan report (matplotlib, Agg backend, 200 dpi).

``make_figures(res, out_dir, lang="zh") -> FigureSet`` (a ``dict[str, Path]``) draws what the
analysis already computed (nothing is recomputed):

- ``coverage_<category>``: communities shaded by their coverage rate at the category's plan
  threshold on a fixed 5-class greyscale (0-20-40-60-80-100 %), the two lowest classes also
  hatched, each community labelled with its name and rate, so the map reads in black and white;
  facilities as black markers;
- ``gaps``: one panel per category with gaps: gap polygons (hatched) with their rank, and the
  uncovered demand points sized by population;
- ``sites`` (when siting ran): one panel per category with suggested sites: stars with their rank
  and the communities they fall in;
- ``township_coverage``: coverage by township at the plan threshold against the plan target
  (dashed line), values labelled, bars below the target hatched.

Every map has a scale bar, a north arrow, a title and, when the network came from
OpenStreetMap, the note "© OpenStreetMap contributors".

Chinese labels need a CJK font. ``find_cjk_font()`` looks in matplotlib's font list; when none is
found (``lang="zh"`` on a machine without e.g. Noto Sans CJK), the figures fall back to English
labels, Chinese characters are left out of data labels (community ids are used instead), a
``UserWarning`` is issued and the returned FigureSet says so (``.lang``, ``.notes``). Empty glyph
boxes are never drawn.
"""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from ..labels import CATEGORY_LABELS_EN, CATEGORY_LABELS_ZH, COVERAGE_CLASS_BREAKS, classify_rate  # noqa: E402

__all__ = ["make_figures", "find_cjk_font", "FigureSet", "coverage_figure", "township_targets",
           "GREY_FILLS", "GREY_HATCHES", "DPI"]

DPI = 200
#: Fill and hatch of the 5 coverage classes [0,20), [20,40), [40,60), [60,80), [80,100] %:
#: darker = better covered; the two lowest classes are hatched as well.
GREY_FILLS = ("#ffffff", "#e0e0e0", "#b0b0b0", "#7c7c7c", "#404040")
GREY_HATCHES = ("xxxx", "////", "", "", "")
NO_DATA_FILL = "#ffffff"
NO_DATA_HATCH = "..."

#: Families searched in this order (substring match on matplotlib's font names).
CJK_FONT_CANDIDATES = ("Noto Sans CJK SC", "Noto Sans CJK", "Source Han Sans SC", "Source Han Sans",
                       "Noto Serif CJK SC", "Noto Serif CJK", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
                       "Microsoft YaHei", "SimHei", "PingFang SC", "Heiti SC", "Hiragino Sans GB",
                       "Sarasa Gothic SC", "AR PL UMing", "Droid Sans Fallback")
OSM_SOURCES = ("pbf", "osm", "download", "graphml")
_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]+")

_TEXT = {
    "zh": {
        "cov_title": "{cat}：社区步行{thr:g}分钟覆盖率（按人口）",
        "legend_rate": "覆盖率", "no_pop": "无人口", "facility": "设施",
        "gaps_title": "覆盖缺口（按未覆盖人口排序）", "gap": "缺口（数字为序号）",
        "uncovered": "未覆盖人口点（大小示人口）", "no_gaps": "无缺口",
        "sites_title": "建议新增设施选址（星号旁数字为顺序）", "site": "建议选址",
        "site_comm": "选址所在社区", "existing": "现有设施",
        "bars_title": "各街道/乡镇覆盖率与规划目标（规划步行阈值）",
        "target": "规划目标 {t:g}%", "below": "未达目标", "meets": "达到目标",
        "rate_axis": "覆盖率 (%)", "default_target": "（无指标，按全覆盖 100%）",
        "north": "北\n↑", "min": "分钟", "osm": "路网数据 © OpenStreetMap contributors",
        "panel": "{cat}（{thr:g}分钟）",
    },
    "en": {
        "cov_title": "{cat}: community coverage within a {thr:g}-minute walk (by population)",
        "legend_rate": "Coverage", "no_pop": "no population", "facility": "Facility",
        "gaps_title": "Coverage gaps (ranked by uncovered population)", "gap": "Gap (number = rank)",
        "uncovered": "Uncovered population (size = people)", "no_gaps": "no gaps",
        "sites_title": "Suggested new facility sites (number = order)", "site": "Suggested site",
        "site_comm": "Community of a site", "existing": "Existing facility",
        "bars_title": "Coverage by township against the plan target (plan walking threshold)",
        "target": "plan target {t:g}%", "below": "below target", "meets": "meets target",
        "rate_axis": "Coverage (%)", "default_target": "(no indicator: full coverage 100%)",
        "north": "N\n↑", "min": "min", "osm": "Road network © OpenStreetMap contributors",
        "panel": "{cat} ({thr:g} min)",
    },
}


class FigureSet(dict):
    """``dict[str, Path]`` of the figures written, plus ``lang`` (the language actually used),
    ``font`` (the CJK font used or None) and ``notes`` (e.g. the English fallback)."""

    def __init__(self, *a, lang="zh", font=None, notes=(), **k):
        super().__init__(*a, **k)
        self.lang = lang
        self.font = font
        self.notes = list(notes)


#: File names of CJK fonts, for a matplotlib font cache built before the font was installed.
_CJK_FILES = re.compile(r"(notosanscjk|notoserifcjk|sourcehansans|wqy|simhei|msyh|pingfang|sarasa|"
                        r"droidsansfallback|uming|ukai)", re.I)


def _match_cjk(names):
    for cand in CJK_FONT_CANDIDATES:
        for n in names:
            if cand.lower() in n.lower():
                return n
    return None


def find_cjk_font() -> str | None:
    """Name of an installed font that draws Chinese, or None.

    Looks in matplotlib's font list first; when that has none (its cache may predate the font's
    installation), registers the system font files whose names mark them as CJK and looks again."""
    fm = font_manager.fontManager
    found = _match_cjk(sorted({f.name for f in fm.ttflist}))
    if found:
        return found
    paths = sorted(p for p in font_manager.findSystemFonts() if _CJK_FILES.search(Path(p).name))
    for p in paths:
        try:
            fm.addfont(p)
        except (OSError, RuntimeError, ValueError):  # an unreadable font file is skipped
            continue
    return _match_cjk(sorted({f.name for f in fm.ttflist}))


# ----------------------------------------------------------------------------- text helpers

class _Style:
    def __init__(self, lang, font):
        self.lang = lang
        self.font = font
        self.t = _TEXT[lang]

    def cat(self, cat):
        if self.lang == "zh":
            return CATEGORY_LABELS_ZH.get(cat, cat)
        return CATEGORY_LABELS_EN.get(cat, cat)

    def safe(self, text, fallback=""):
        """Text that the font can draw: CJK characters removed when there is no CJK font."""
        text = "" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text)
        if self.font is not None:
            return text
        out = re.sub(r"\s+", " ", _CJK.sub(" ", text)).strip()
        out = re.sub(r"\(\s*\)", "", out).strip()
        if out.startswith("(") and out.endswith(")") and out.count("(") == 1:
            out = out[1:-1].strip()
        return out or fallback

    def rc(self):
        fam = [self.font, "DejaVu Sans"] if self.font else ["DejaVu Sans"]
        return {"font.family": fam, "axes.unicode_minus": False, "hatch.linewidth": 0.6,
                "hatch.color": "black", "savefig.dpi": DPI, "figure.dpi": 100}


def _pct(rate):
    return "—" if rate is None or not np.isfinite(rate) else f"{100 * rate:.0f}%"


def _nice_length(span_m):
    """A round scale-bar length of about a quarter of the span."""
    target = max(span_m / 4.0, 1.0)
    k = 10 ** math.floor(math.log10(target))
    for m in (5, 2, 1):
        if m * k <= target:
            return m * k
    return k


def _decorate(ax, st: _Style):
    """Scale bar (line with text) at the lower left and a north arrow at the upper right."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    w, h = x1 - x0, y1 - y0
    length = _nice_length(w)
    bx, by = x0 + 0.04 * w, y0 + 0.05 * h
    ax.plot([bx, bx + length], [by, by], color="black", lw=2.5, solid_capstyle="butt", zorder=20)
    ax.plot([bx, bx], [by - 0.008 * h, by + 0.008 * h], color="black", lw=1, zorder=20)
    ax.plot([bx + length, bx + length], [by - 0.008 * h, by + 0.008 * h], color="black", lw=1, zorder=20)
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(bx + length / 2, by + 0.015 * h, label, ha="center", va="bottom", fontsize=7, zorder=20,
            bbox=dict(facecolor="white", edgecolor="none", alpha=0.7, pad=0.5))
    ax.text(x1 - 0.04 * w, y1 - 0.04 * h, st.t["north"], ha="center", va="top", fontsize=9,
            fontweight="bold", zorder=20, bbox=dict(facecolor="white", edgecolor="none", alpha=0.7, pad=0.5))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_aspect("equal")


def _frame(ax, bounds):
    minx, miny, maxx, maxy = bounds
    pad = 0.06 * max(maxx - minx, maxy - miny, 1.0)
    ax.set_xlim(minx - pad, maxx + pad)
    ax.set_ylim(miny - pad, maxy + pad)


def _footer(fig, res, st: _Style):
    parts = []
    if str(res.config.network.source or "").lower() in OSM_SOURCES:
        parts.append(st.t["osm"])
    if parts:
        fig.text(0.99, 0.005, "; ".join(parts), ha="right", va="bottom", fontsize=6, color="#333333")


def _title(res, st: _Style):
    return st.safe(res.title, "Study area")


def _community_label(row, st: _Style):
    return st.safe(row["name"], str(row["community_id"]))


def _outline(ax, res, lw=0.6, color="#555555"):
    res.communities.boundary.plot(ax=ax, color=color, linewidth=lw, zorder=3)


def _save(fig, path):
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return Path(path)


def _panel_grid(n, ncols_max=3, size=4.2):
    ncols = max(1, min(ncols_max, n))
    nrows = max(1, math.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.6), squeeze=False)
    axes = axes.ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


# ----------------------------------------------------------------------------- figures

def _main_rates(res, cat):
    cbc = res.coverage_by_community
    thr = float(res.main_threshold_min[cat])
    sel = cbc[(cbc.category == cat) & np.isclose(cbc.threshold_min.astype(float), thr)]
    if "population_group" in sel.columns:
        tot = sel[sel.population_group == "total"]
        sel = tot if len(tot) else sel
    return sel.drop_duplicates("community_id").set_index("community_id")["coverage_rate"]


def coverage_figure(res, cat, st: _Style | None = None, *, labels=True):
    """The coverage map of one category at its plan threshold (returns the open Figure)."""
    st = st or _Style("en", None)
    thr = float(res.main_threshold_min[cat])
    comm = res.communities.sort_values("community_id", kind="stable")
    rate = _main_rates(res, cat).reindex(comm.community_id).to_numpy(dtype=float)
    cls = classify_rate(rate)
    with plt.rc_context(st.rc()):
        fig, ax = plt.subplots(figsize=(8.0, 7.0))
        for k in range(-1, len(GREY_FILLS)):
            part = comm[cls == k]
            if len(part) == 0:
                continue
            fill = NO_DATA_FILL if k < 0 else GREY_FILLS[k]
            hatch = NO_DATA_HATCH if k < 0 else GREY_HATCHES[k]
            part.plot(ax=ax, facecolor=fill, edgecolor="black", linewidth=0.7, hatch=hatch or None, zorder=2)
        fac = res.facilities[res.facilities.category == cat] if len(res.facilities) else res.facilities
        if len(fac):
            ax.scatter(fac.geometry.x, fac.geometry.y, s=22, marker="o", c="black", edgecolors="white",
                       linewidths=0.6, zorder=6)
        _frame(ax, comm.total_bounds)
        if labels:
            pts = comm.geometry.representative_point()
            for (_, row), p, r in zip(comm.iterrows(), pts, rate):
                txt = f"{_community_label(row, st)}\n{_pct(r) if np.isfinite(r) else st.t['no_pop']}"
                ax.annotate(txt, (p.x, p.y), ha="center", va="center", fontsize=6.5, zorder=8,
                            bbox=dict(facecolor="white", edgecolor="black", linewidth=0.3, alpha=0.85,
                                      boxstyle="round,pad=0.2"))
        edges = (0,) + tuple(COVERAGE_CLASS_BREAKS) + (1,)
        handles = [Patch(facecolor=GREY_FILLS[i], edgecolor="black", hatch=GREY_HATCHES[i] or None,
                         label=f"{100 * edges[i]:.0f}–{100 * edges[i + 1]:.0f}%") for i in range(len(GREY_FILLS))]
        handles.append(Patch(facecolor=NO_DATA_FILL, edgecolor="black", hatch=NO_DATA_HATCH, label=st.t["no_pop"]))
        handles.append(plt.Line2D([], [], marker="o", color="none", markerfacecolor="black",
                                  markeredgecolor="white", markersize=6, label=st.t["facility"]))
        ax.legend(handles=handles, title=st.t["legend_rate"], loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, title_fontsize=7,
                  framealpha=0.9, handleheight=1.6)
        _decorate(ax, st)
        fig.suptitle(_title(res, st), fontsize=11)
        ax.set_title(st.t["cov_title"].format(cat=st.cat(cat), thr=thr), fontsize=9)
        _footer(fig, res, st)
        fig.tight_layout(rect=(0, 0.02, 1, 1))
    return fig


def _gaps_figure(res, st: _Style):
    gaps = res.gaps
    cats = [c for c in res.categories if len(gaps[gaps.category == c])]
    if not cats:
        cats = list(res.categories[:1])
    with plt.rc_context(st.rc()):
        fig, axes = _panel_grid(len(cats))
        for ax, cat in zip(axes, cats):
            thr = float(res.main_threshold_min[cat])
            res.communities.plot(ax=ax, facecolor="#f4f4f4", edgecolor="none", zorder=1)
            _outline(ax, res)
            g = gaps[gaps.category == cat].sort_values("rank")
            if len(g):
                g.plot(ax=ax, facecolor="#9a9a9a", edgecolor="black", linewidth=0.8, hatch="\\\\\\", alpha=0.9,
                       zorder=4)
                for p, rk in zip(g.geometry.representative_point(), g["rank"]):
                    ax.annotate(str(int(rk)), (p.x, p.y), ha="center", va="center", fontsize=8, fontweight="bold",
                                zorder=9, bbox=dict(boxstyle="circle,pad=0.15", facecolor="white",
                                                    edgecolor="black", linewidth=0.6))
            else:
                ax.text(0.5, 0.5, st.t["no_gaps"], transform=ax.transAxes, ha="center", fontsize=9)
            col = f"dist_{cat}"
            if col in res.demand.columns:
                d = res.demand
                unc = d[~(d[col].to_numpy(dtype=float) <= thr * float(res.speed_m_per_min)) & (d.population > 0)]
                if len(unc):
                    size = 4 + 60 * np.sqrt(unc.population.to_numpy(float) / max(d.population.max(), 1e-9))
                    ax.scatter(unc.geometry.x, unc.geometry.y, s=size, c="black", marker="o", linewidths=0,
                               alpha=0.8, zorder=6)
            _frame(ax, res.communities.total_bounds)
            _decorate(ax, st)
            ax.set_title(st.t["panel"].format(cat=st.cat(cat), thr=thr), fontsize=9)
        handles = [Patch(facecolor="#9a9a9a", edgecolor="black", hatch="\\\\\\", label=st.t["gap"]),
                   plt.Line2D([], [], marker="o", color="none", markerfacecolor="black", markeredgecolor="none",
                              markersize=5, label=st.t["uncovered"])]
        fig.legend(handles=handles, loc="lower left", fontsize=7, ncol=2, frameon=False)
        fig.suptitle(f"{_title(res, st)}\n{st.t['gaps_title']}", fontsize=11)
        _footer(fig, res, st)
        fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def _sites_figure(res, st: _Style):
    sites = res.sites
    cats = [c for c in res.categories if len(sites[sites.category == c])]
    comm = res.communities
    with plt.rc_context(st.rc()):
        fig, axes = _panel_grid(len(cats))
        for ax, cat in zip(axes, cats):
            s = sites[sites.category == cat].sort_values("rank")
            ids = set(s.community_id.dropna())
            comm.plot(ax=ax, facecolor="white", edgecolor="none", zorder=1)
            hit = comm[comm.community_id.isin(ids)]
            if len(hit):
                hit.plot(ax=ax, facecolor="#d0d0d0", edgecolor="none", hatch="..", zorder=2)
            _outline(ax, res)
            for _, row in hit.sort_values("community_id").iterrows():
                p = row.geometry.representative_point()
                ax.annotate(_community_label(row, st), (p.x, p.y), xytext=(0, -10), textcoords="offset points",
                            ha="center", va="top", fontsize=6, zorder=7,
                            bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=0.3))
            fac = res.facilities[res.facilities.category == cat]
            if len(fac):
                ax.scatter(fac.geometry.x, fac.geometry.y, s=14, marker="o", c="black", linewidths=0, zorder=5)
            ax.scatter(s.geometry.x, s.geometry.y, s=170, marker="*", c="white", edgecolors="black", linewidths=1.0,
                       zorder=8)
            for x, y, rk in zip(s.geometry.x, s.geometry.y, s["rank"]):
                ax.annotate(str(int(rk)), (x, y), xytext=(7, 5), textcoords="offset points", fontsize=9,
                            fontweight="bold", zorder=9,
                            bbox=dict(facecolor="white", edgecolor="black", linewidth=0.4, pad=0.6))
            thr = float(res.main_threshold_min[cat])
            _frame(ax, comm.total_bounds)
            _decorate(ax, st)
            ax.set_title(st.t["panel"].format(cat=st.cat(cat), thr=thr), fontsize=9)
        handles = [plt.Line2D([], [], marker="*", color="none", markerfacecolor="white", markeredgecolor="black",
                              markersize=11, label=st.t["site"]),
                   plt.Line2D([], [], marker="o", color="none", markerfacecolor="black", markeredgecolor="none",
                              markersize=5, label=st.t["existing"]),
                   Patch(facecolor="#d0d0d0", edgecolor="black", hatch="..", label=st.t["site_comm"])]
        fig.legend(handles=handles, loc="lower left", fontsize=7, ncol=3, frameon=False)
        fig.suptitle(f"{_title(res, st)}\n{st.t['sites_title']}", fontsize=11)
        _footer(fig, res, st)
        fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def township_targets(res) -> dict:
    """{category: (target %, indicator id or None)} for the township bar chart: the target of the
    profile's population_coverage indicator of the category, else 100 (full coverage)."""
    out = {c: (100.0, None) for c in res.categories}
    ind = res.indicators
    if ind is None or not len(ind):
        return out
    try:
        from ..io.profiles import load_profile
        prof = load_profile(res.config.profile)
    except Exception:  # a profile that cannot be read again leaves the default target
        return out
    ids = set(ind.indicator_id)
    for i in sorted(prof.indicators, key=lambda i: i.id):
        if i.kind == "population_coverage" and i.id in ids:
            for c in i.categories:
                if c in out and out[c][1] is None:
                    out[c] = (float(i.target), i.id)
    return out


def _township_figure(res, st: _Style):
    s = res.coverage_summary
    cats = list(res.categories)
    targets = township_targets(res)
    tw = s[s.level == "township"]
    if "population_group" in tw.columns:
        tw = tw[tw.population_group == "total"]
    units = sorted(tw.unit.astype(str).unique())
    n = len(cats)
    h = max(1.8, 0.32 * len(units) + 1.0)
    with plt.rc_context(st.rc()):
        ncols = 2 if n > 1 else 1
        nrows = math.ceil(n / ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(6.0 * ncols, h * nrows + 0.8), squeeze=False)
        axes = axes.ravel()
        for ax in axes[n:]:
            ax.set_visible(False)
        for ax, cat in zip(axes, cats):
            thr = float(res.main_threshold_min[cat])
            r = tw[(tw.category == cat) & np.isclose(tw.threshold_min.astype(float), thr)]
            r = r.drop_duplicates("unit").set_index("unit")["coverage_rate"].reindex(units).to_numpy(float) * 100
            target, ind_id = targets[cat]
            y = np.arange(len(units))[::-1]
            vals = np.nan_to_num(r, nan=0.0)
            below = ~(r >= target - 1e-9)
            ax.barh(y[~below], vals[~below], color="#404040", edgecolor="black", height=0.7)
            ax.barh(y[below], vals[below], color="#d9d9d9", edgecolor="black", hatch="////", height=0.7)
            for yi, v in zip(y, r):
                ax.text(min(np.nan_to_num(v), 100) + 1.5, yi, "—" if not np.isfinite(v) else f"{v:.1f}%",
                        va="center", fontsize=7)
            ax.axvline(target, color="black", linestyle="--", linewidth=1.2)
            lab = st.t["target"].format(t=target) + ("" if ind_id else " " + st.t["default_target"])
            ax.text(target, len(units) - 0.4, lab, ha="right", va="bottom", fontsize=6.5)
            ax.set_yticks(y)
            ax.set_yticklabels([st.safe(u, f"T{i + 1}") for i, u in enumerate(units)], fontsize=7)
            ax.set_xlim(0, 118)
            ax.set_ylim(-0.6, len(units) + 0.3)
            ax.set_xticks([0, 20, 40, 60, 80, 100])
            ax.tick_params(axis="x", labelsize=7)
            ax.set_xlabel(st.t["rate_axis"], fontsize=7)
            ax.set_title(st.t["panel"].format(cat=st.cat(cat), thr=thr), fontsize=9)
        handles = [Patch(facecolor="#404040", edgecolor="black", label=st.t["meets"]),
                   Patch(facecolor="#d9d9d9", edgecolor="black", hatch="////", label=st.t["below"]),
                   plt.Line2D([], [], color="black", linestyle="--", label=st.t["target"].format(t=100)
                              .replace("100%", "").strip())]
        fig.legend(handles=handles, loc="lower left", fontsize=7, ncol=3, frameon=False)
        fig.suptitle(f"{_title(res, st)}\n{st.t['bars_title']}", fontsize=11)
        fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def make_figures(res, out_dir, lang="zh") -> FigureSet:
    """Write the PNG figures into ``out_dir``; returns {name: path} (see the module docstring)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lang = "en" if str(lang).lower().startswith("en") else "zh"
    notes = []
    font = find_cjk_font()
    if lang == "zh" and font is None:
        msg = ("no Chinese (CJK) font found in matplotlib's font list: figures use English labels. "
               "Install one (e.g. `apt-get install fonts-noto-cjk`, or Noto Sans CJK SC from "
               "https://github.com/notofonts/noto-cjk) and delete matplotlib's font cache to get Chinese.")
        warnings.warn(msg, UserWarning, stacklevel=2)
        notes.append(msg)
        lang = "en"
    st = _Style(lang, font)
    figs = FigureSet(lang=lang, font=font, notes=notes)
    for cat in res.categories:
        figs[f"coverage_{cat}"] = _save(coverage_figure(res, cat, st), out / f"fig_coverage_{cat}.png")
    if res.gaps is not None:
        figs["gaps"] = _save(_gaps_figure(res, st), out / "fig_gaps.png")
    if res.sites is not None and len(res.sites):
        figs["sites"] = _save(_sites_figure(res, st), out / "fig_sites.png")
    figs["township_coverage"] = _save(_township_figure(res, st), out / "fig_township_coverage.png")
    return figs
