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

from ..figure_jobs import NO_CJK as _NO_CJK, figure_jobs, figure_set  # noqa: F401
from .bars import township_figure, township_targets
from .maps import FigureData, coverage_figure, gaps_figure, main_rates, sites_figure
from .style import (CJK_FONT_CANDIDATES, DPI, GREY_FILLS, GREY_HATCHES, NO_DATA_FILL, NO_DATA_HATCH,  # noqa: F401
                    FigureSet, _save, _Style, find_cjk_font, matplotlib, plt)

__all__ = ["make_figures", "find_cjk_font", "FigureSet", "FigureData", "coverage_figure", "township_targets",
           "GREY_FILLS", "GREY_HATCHES", "DPI"]

# the old private names
_main_rates, _gaps_figure, _sites_figure, _township_figure = main_rates, gaps_figure, sites_figure, township_figure


def make_figures(res, out_dir, lang="zh") -> FigureSet:
    """Write the PNG figures into ``out_dir``; returns {name: path} (see the module docstring)."""
    figs = figure_set({name: draw() for name, draw in figure_jobs(res, out_dir, lang)})
    for msg in figs.notes:
        warnings.warn(msg, UserWarning, stacklevel=2)
    return figs
