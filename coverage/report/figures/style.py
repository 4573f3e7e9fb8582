"""Shared style of the report figures: greyscale fills and hatches, fonts (CJK or the English
fallback), words in Chinese and English, scale bar, north arrow, frames and saving."""

from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import font_manager  # noqa: E402

from ...labels import CATEGORY_LABELS_EN, CATEGORY_LABELS_ZH  # noqa: E402
from ..figure_jobs import FigureSet  # noqa: E402,F401 (its home: matplotlib-free)

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
        "cov_title": "{cat}：社区步行{thr}覆盖率（按人口）",
        "legend_rate": "覆盖率", "no_pop": "无人口", "facility": "设施",
        "gaps_title": "覆盖缺口（按未覆盖人口排序）", "gap": "缺口（数字为序号）",
        "uncovered": "未覆盖人口点（大小示人口）", "no_gaps": "无缺口",
        "sites_title": "建议新增设施选址（星号旁数字为顺序）", "site": "建议选址",
        "site_comm": "选址所在社区", "existing": "现有设施",
        "bars_title": "各街道/乡镇覆盖率与规划目标（规划步行阈值）",
        "target": "规划目标 {t:g}%", "below": "未达目标", "meets": "达到目标",
        "rate_axis": "覆盖率 (%)", "default_target": "（无指标，按全覆盖 100%）",
        "north": "北\n↑", "osm": "路网数据 © OpenStreetMap contributors",
        "panel": "{cat}（{thr}）",
        "labels_capped": "仅标注未覆盖人口最多的 {n} 个社区（共 {m} 个）",
        "gaps_capped": "编号与晕线仅示最大的 {n} 个缺口（共 {m} 个）",
    },
    "en": {
        "cov_title": "{cat}: community coverage within a {thr} walk (by population)",
        "legend_rate": "Coverage", "no_pop": "no population", "facility": "Facility",
        "gaps_title": "Coverage gaps (ranked by uncovered population)", "gap": "Gap (number = rank)",
        "uncovered": "Uncovered population (size = people)", "no_gaps": "no gaps",
        "sites_title": "Suggested new facility sites (number = order)", "site": "Suggested site",
        "site_comm": "Community of a site", "existing": "Existing facility",
        "bars_title": "Coverage by township against the plan target (plan walking threshold)",
        "target": "plan target {t:g}%", "below": "below target", "meets": "meets target",
        "rate_axis": "Coverage (%)", "default_target": "(no indicator: full coverage 100%)",
        "north": "N\n↑", "osm": "Road network © OpenStreetMap contributors",
        "panel": "{cat} ({thr})",
        "labels_capped": "labels: the {n} communities with most uncovered people (of {m})",
        "gaps_capped": "numbers and hatching: the {n} largest gaps (of {m})",
    },
}


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

    def thr(self, res, cat):
        """The category's plan threshold as given: "15分钟" / "500米" / "15 min" / "500 m"."""
        return res.thresholds[cat].label(self.lang)

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
    ax.text(bx + length / 2, by + 0.015 * h, label, ha="center", va="bottom", fontsize=7, zorder=20, in_layout=False,
            bbox=dict(facecolor="white", edgecolor="none", alpha=0.7, pad=0.5))
    ax.text(x1 - 0.04 * w, y1 - 0.04 * h, st.t["north"], ha="center", va="top", fontsize=9, in_layout=False,
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


def _save(fig, path):
    """Write the figure as an 8-bit greyscale PNG at DPI (every figure is drawn in greys; a
    greyscale PNG encodes three times faster and is a third of the size of RGBA)."""
    from PIL import Image

    fig.set_dpi(DPI)
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    grey = np.asarray(Image.fromarray(rgba, "RGBA").convert("L"))
    plt.close(fig)
    Path(path).write_bytes(png_grey(grey))
    return Path(path)


def png_grey(grey: np.ndarray, level: int = 1) -> bytes:
    """An 8-bit greyscale PNG of a 2-D uint8 array: rows unfiltered, deflated at ``level``.
    Pillow chose a filter for every row by trying each (most of its time); the figures' large
    flat areas compress as well without (sizes within a few %), in less than half the time."""
    import struct
    import zlib

    h, w = grey.shape
    raw = np.zeros((h, w + 1), np.uint8)          # each row: filter type 0, then its pixels
    raw[:, 1:] = grey

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), level)) + chunk(b"IEND", b""))


def _panel_layout(fig, nrows, ncols, title_lines=2):
    """Margins of a grid of map panels by hand (tight_layout measured every label of every panel,
    and let a panel's title overlap the panel above): room for the figure's title (suptitle, 11 pt,
    at 98 % of the height), for each panel's title above it, the legend's strip at the bottom."""
    w, h = fig.get_size_inches()
    side, gap, title = 0.15, 0.15, 0.32          # inches; title: a 9 pt panel title and its pad
    top = 0.02 * h + title_lines * 11 * 1.2 / 72 + 0.08 + title
    bottom = 0.04 * h + 0.15
    cell_w = max((w - 2 * side - (ncols - 1) * gap) / ncols, 0.5)
    cell_h = max((h - top - bottom - (nrows - 1) * title) / nrows, 0.5)
    fig.subplots_adjust(left=side / w, right=1 - side / w, top=1 - top / h, bottom=bottom / h,
                        wspace=gap / cell_w, hspace=title / cell_h)


def _panel_grid(n, ncols_max=3, size=4.2):
    ncols = max(1, min(ncols_max, n))
    nrows = max(1, math.ceil(n / ncols))
    fig = plt.figure(figsize=(size * ncols, size * nrows + 0.6))
    grid = fig.add_gridspec(nrows, ncols)
    # only the panels drawn (an Axes costs ~20 ms to make, shown or not)
    return fig, np.array([fig.add_subplot(grid[i // ncols, i % ncols]) for i in range(n)], dtype=object)


# ----------------------------------------------------------------------------- drawing polygons
# geopandas' .plot() redraws the whole figure after every call (canvas.draw_idle): on a county's
# maps that was most of the time. These draw a whole layer as one compound path instead.

def polygon_path(geoms):
    """One matplotlib Path of every polygon of ``geoms`` (outer rings counter-clockwise, holes
    clockwise, so the non-zero fill rule leaves the holes empty); None when there is nothing."""
    import shapely
    from matplotlib.path import Path as MPath

    g = np.asarray(geoms, dtype=object)
    g = g[~(shapely.is_missing(g) | shapely.is_empty(g))] if g.size else g
    if g.size == 0:
        return None
    parts = shapely.get_parts(shapely.orient_polygons(g))
    parts = parts[shapely.get_type_id(parts) == 3]
    if parts.size == 0:
        return None
    rings = shapely.get_rings(parts)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    codes = np.full(ring.size, MPath.LINETO, dtype=MPath.code_type)
    first = np.ones(ring.size, bool)
    first[1:] = ring[1:] != ring[:-1]
    codes[first] = MPath.MOVETO
    last = np.ones(ring.size, bool)
    last[:-1] = ring[1:] != ring[:-1]
    codes[last] = MPath.CLOSEPOLY
    return MPath(xy, codes)


def fill(ax, geoms, facecolor, edgecolor="none", linewidth=0.0, hatch=None, zorder=1, alpha=None):
    """Draw polygons (or the Path ``polygon_path`` made of them) as one patch (fill, outline and
    hatching)."""
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MPath

    path = geoms if isinstance(geoms, MPath) else polygon_path(geoms)
    if path is not None:
        patch = PathPatch(path, facecolor=facecolor, edgecolor=edgecolor, linewidth=linewidth,
                          hatch=hatch, zorder=zorder, alpha=alpha)
        patch.set_in_layout(False)          # the frame is set by hand (_frame): no extents needed
        ax.add_artist(patch)


def outline(ax, geoms, color="#555555", linewidth=0.6, zorder=3):
    """Draw the rings of polygons as lines only."""
    fill(ax, geoms, facecolor="none", edgecolor=color, linewidth=linewidth, zorder=zorder)

