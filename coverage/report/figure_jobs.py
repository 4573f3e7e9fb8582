"""The report figures as independent jobs (:func:`figure_jobs`), for :func:`.figures.make_figures`
and for writing them side by side (:mod:`.outputs`). Importing this module does not import
matplotlib (~0.6 s): a process imports it when it draws its first figure, so a process that
writes only the other outputs never does."""

from __future__ import annotations

from pathlib import Path

NO_CJK = ("no Chinese (CJK) font found in matplotlib's font list: figures use English labels. "
          "Install one (e.g. `apt-get install fonts-noto-cjk`, or Noto Sans CJK SC from "
          "https://github.com/notofonts/noto-cjk) and delete matplotlib's font cache to get Chinese.")


class FigureSet(dict):
    """``dict[str, Path]`` of the figures written, plus ``lang`` (the language actually used),
    ``font`` (the CJK font used or None) and ``notes`` (e.g. the English fallback)."""

    def __init__(self, *a, lang="zh", font=None, notes=(), **k):
        super().__init__(*a, **k)
        self.lang = lang
        self.font = font
        self.notes = list(notes)


class _Shared:
    """What the figures of one study share within a process, made on first use: the style (the
    font looked up once), the simplified communities (``FigureData``) and the coverage maps'
    shared figure (``CoverageMaps``). Made before the jobs are shared out, so each process fills
    its own."""

    def __init__(self, res, lang):
        self.res, self.lang = res, lang
        self._st = self._data = self._maps = None

    @property
    def style(self):
        if self._st is None:
            from . import figures as F          # find_cjk_font looked up on the package (tests patch it)
            font = F.find_cjk_font()
            self._st = F._Style("en" if self.lang == "zh" and font is None else self.lang, font)
        return self._st

    @property
    def data(self):
        if self._data is None:
            from .figures.maps import FigureData
            self._data = FigureData(self.res)
        return self._data

    def coverage_map(self, cat, path) -> Path:
        """Write the coverage map of ``cat`` (drawn on the maps' shared figure, made on first use)."""
        from .figures.maps import CoverageMaps
        from .figures.style import png_grey
        if self._maps is None:
            self._maps = CoverageMaps(self.res, self.style, self.data)
        Path(path).write_bytes(png_grey(self._maps.grey(cat)))
        return Path(path)

    def save(self, draw, path) -> Path:
        """Write the figure ``draw(style, data)`` returns."""
        from .figures.style import _save
        return _save(draw(self.style, self.data), path)

    def meta(self) -> dict:
        """The FigureSet's language, font and notes (the English fallback)."""
        st = self.style
        return {"lang": st.lang, "font": st.font, "notes": [NO_CJK] if st.lang != self.lang else []}


def figure_jobs(res, out_dir, lang="zh") -> list:
    """[(name, draw)] of the figures :func:`.figures.make_figures` writes, in its order: each
    ``draw()`` writes one PNG and returns ``(path, meta)`` (meta: the FigureSet's lang, font and
    notes); see :mod:`.figures` for what each figure shows."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lang = "en" if str(lang).lower().startswith("en") else "zh"
    sh = _Shared(res, lang)

    def gaps(st, data):
        from .figures.maps import gaps_figure
        return gaps_figure(res, st, data)

    def sites(st, data):
        from .figures.maps import sites_figure
        return sites_figure(res, st, data)

    def township(st, data):
        from .figures.bars import township_figure
        return township_figure(res, st)

    def job(draw, path):
        return lambda: (sh.save(draw, path), sh.meta())
    jobs = [(f"coverage_{cat}", lambda cat=cat: (sh.coverage_map(cat, out / f"fig_coverage_{cat}.png"), sh.meta()))
            for cat in res.categories]
    if res.gaps is not None:
        jobs.append(("gaps", job(gaps, out / "fig_gaps.png")))
    if res.sites is not None and len(res.sites):
        jobs.append(("sites", job(sites, out / "fig_sites.png")))
    jobs.append(("township_coverage", job(township, out / "fig_township_coverage.png")))
    return jobs


def figure_set(drawn: dict) -> FigureSet:
    """The FigureSet of {name: (path, meta)} the jobs returned (in the jobs' order)."""
    meta = next(iter(drawn.values()))[1] if drawn else {"lang": "en", "font": None, "notes": []}
    return FigureSet({k: path for k, (path, _) in drawn.items()}, **meta)
