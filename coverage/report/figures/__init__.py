"""Static PNG figures for the plan report (matplotlib, Agg backend, 200 dpi).

``make_figures(res, out_dir, lang="zh") -> FigureSet`` (a ``dict[str, Path]``) draws what the
analysis already computed (nothing is recomputed):

- ``coverage_<category>``: communities shaded by their coverage rate at the category's plan
  threshold on a fixed 5-class greyscale (0-20-40-60-80-100 %), the two lowest classes also
  hatched, communities labelled with name and rate (at most 30: those with the most uncovered
  people, said under the map), so the map reads in black and white; facilities as black markers;
- ``gaps``: one panel per category with gaps: gap polygons with their rank (the 25 largest
  numbered and hatched), and the uncovered demand points sized by population (a grey density
  image when there are more than 5,000); a category with no gaps gets a "no gaps" panel;
- ``sites`` (when siting ran): one panel per category with suggested sites: stars with their rank
  and the communities they fall in;
- ``township_coverage``: coverage by township at the plan threshold against the plan target
  (dashed line), values labelled, bars below the target hatched.

Thresholds are labelled as given ("15分钟" / "500米" / "15 min" / "500 m"); uncovered means
not :func:`coverage.analysis.coverage.covered`. Geometry is simplified once to the figure's
resolution. Every map has a scale bar, a north arrow, a title and, when the network came from
OpenStreetMap, the note "© OpenStreetMap contributors".

Chinese labels need a CJK font. ``find_cjk_font()`` looks in matplotlib's font list; when none is
found (``lang="zh"`` on a machine without e.g. Noto Sans CJK), the figures fall back to English
labels, Chinese characters are left out of data labels (community ids are used instead), a
``UserWarning`` is issued and the returned FigureSet says so (``.lang``, ``.notes``). Empty glyph
boxes are never drawn.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from .bars import township_figure, township_targets
from .maps import CoverageMaps, FigureData, coverage_figure, gaps_figure, main_rates, sites_figure
from .style import (CJK_FONT_CANDIDATES, DPI, GREY_FILLS, GREY_HATCHES, NO_DATA_FILL, NO_DATA_HATCH,  # noqa: F401
                    FigureSet, _save, _Style, find_cjk_font, matplotlib, plt, png_grey)

__all__ = ["make_figures", "find_cjk_font", "FigureSet", "FigureData", "coverage_figure", "township_targets",
           "GREY_FILLS", "GREY_HATCHES", "DPI"]

# the old private names
_main_rates, _gaps_figure, _sites_figure, _township_figure = main_rates, gaps_figure, sites_figure, township_figure


_NO_CJK = ("no Chinese (CJK) font found in matplotlib's font list: figures use English labels. "
           "Install one (e.g. `apt-get install fonts-noto-cjk`, or Noto Sans CJK SC from "
           "https://github.com/notofonts/noto-cjk) and delete matplotlib's font cache to get Chinese.")


class _Shared:
    """What the figures of one study share within a process, made on first use: the style (the
    font looked up once) and the simplified communities (:class:`FigureData`)."""

    def __init__(self, res, lang):
        self.res, self.lang = res, lang
        self._st = self._data = self._maps = None

    @property
    def style(self) -> _Style:
        if self._st is None:
            font = find_cjk_font()
            self._st = _Style("en" if self.lang == "zh" and font is None else self.lang, font)
        return self._st

    @property
    def data(self) -> FigureData:
        if self._data is None:
            self._data = FigureData(self.res)
        return self._data

    def coverage_map(self, cat, path) -> Path:
        """Write the coverage map of ``cat`` (drawn on the maps' shared figure, made on first use)."""
        if self._maps is None:
            self._maps = CoverageMaps(self.res, self.style, self.data)
        Path(path).write_bytes(png_grey(self._maps.grey(cat)))
        return Path(path)

    def meta(self) -> dict:
        """The FigureSet's language, font and notes (the English fallback)."""
        st = self.style
        return {"lang": st.lang, "font": st.font, "notes": [_NO_CJK] if st.lang != self.lang else []}


def figure_jobs(res, out_dir, lang="zh") -> list:
    """[(name, draw)] of the figures :func:`make_figures` writes, in its order: ``draw()`` writes
    one PNG and returns ``(path, meta)`` (meta: the FigureSet's lang, font and notes). The jobs
    are independent (:mod:`coverage.report.outputs` runs them side by side)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lang = "en" if str(lang).lower().startswith("en") else "zh"
    sh = _Shared(res, lang)

    def job(make, path):
        return lambda: (_save(make(), path), sh.meta())
    jobs = [(f"coverage_{cat}", lambda cat=cat: (sh.coverage_map(cat, out / f"fig_coverage_{cat}.png"), sh.meta()))
            for cat in res.categories]
    if res.gaps is not None:
        jobs.append(("gaps", job(lambda: gaps_figure(res, sh.style, sh.data), out / "fig_gaps.png")))
    if res.sites is not None and len(res.sites):
        jobs.append(("sites", job(lambda: sites_figure(res, sh.style, sh.data), out / "fig_sites.png")))
    jobs.append(("township_coverage", job(lambda: township_figure(res, sh.style), out / "fig_township_coverage.png")))
    return jobs


def figure_set(drawn: dict) -> FigureSet:
    """The FigureSet of {name: (path, meta)} the jobs returned (in the jobs' order)."""
    meta = next(iter(drawn.values()))[1] if drawn else {"lang": "en", "font": None, "notes": []}
    return FigureSet({k: path for k, (path, _) in drawn.items()}, **meta)


def make_figures(res, out_dir, lang="zh") -> FigureSet:
    """Write the PNG figures into ``out_dir``; returns {name: path} (see the module docstring)."""
    figs = figure_set({name: draw() for name, draw in figure_jobs(res, out_dir, lang)})
    for msg in figs.notes:
        warnings.warn(msg, UserWarning, stacklevel=2)
    return figs
