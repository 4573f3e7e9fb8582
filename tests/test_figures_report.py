"""PNG figures (greyscale-readable, English fallback without a CJK font) and the HTML report."""

import base64
import copy
import re
import warnings

import numpy as np
import pytest
import shapely
from PIL import Image

from coverage.report import figures as F
from coverage.report.html import HEADINGS, write_report

CJK = re.compile(r"[\u2e80-\u9fff]")


@pytest.fixture(scope="module")
def res(sample_results):
    # three categories with gaps, one without
    return sample_results.only(["elderly_care", "health", "childcare", "fitness"])


@pytest.fixture(scope="module")
def figs(res, tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return F.make_figures(res, tmp_path_factory.mktemp("figs"), lang="zh")


def test_figures_are_valid_pngs(res, figs):
    expected = {f"coverage_{c}" for c in res.categories} | {"gaps", "sites", "township_coverage"}
    assert set(figs) == expected
    for key, path in figs.items():
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            assert im.format == "PNG"
            w, h = im.size
            assert 800 <= w <= 6000 and 600 <= h <= 8000, (key, im.size)
            # not blank: a real drawing has many grey levels and dark ink
            g = np.asarray(im.convert("L"))
            assert g.min() < 60 and g.std() > 10
        assert path.stat().st_size > 20_000


def test_figures_deterministic(res, figs, tmp_path):
    st = F._Style(figs.lang, figs.font)
    a = F._save(F.coverage_figure(res, "health", st), tmp_path / "a.png")
    assert a.read_bytes() == figs["coverage_health"].read_bytes()


def test_greyscale_palette_distinguishes_classes():
    grey = [int(round(np.mean([int(c[i:i + 2], 16) for i in (1, 3, 5)]))) for c in F.GREY_FILLS]
    # monotone, well separated grey levels; the lightest two also differ by their hatching
    assert all(b < a for a, b in zip(grey, grey[1:]))
    assert min(a - b for a, b in zip(grey, grey[1:])) >= 30
    assert F.GREY_HATCHES[0] and F.GREY_HATCHES[1] and F.GREY_HATCHES[0] != F.GREY_HATCHES[1]


def _pixel_stats(fig, ax, polys):
    """Mean and std of the greyscale pixels inside each polygon (eroded) in a rendered figure."""
    fig.canvas.draw()
    img = np.asarray(Image.fromarray(np.asarray(fig.canvas.buffer_rgba())).convert("L"), dtype=float)
    h, w = img.shape
    yy, xx = np.mgrid[0:h, 0:w]
    disp = np.column_stack([xx.ravel() + 0.5, (h - yy.ravel() - 0.5)])
    data = ax.transData.inverted().transform(disp)
    out = []
    for p in polys:
        inner = p.buffer(-15)
        m = shapely.contains_xy(inner, data[:, 0], data[:, 1])
        vals = img.ravel()[m]
        assert vals.size > 200
        out.append((vals.mean(), vals.std()))
    return out


def test_coverage_map_reads_in_greyscale(res):
    # give five communities one rate from each class; render without labels or facilities
    r = copy.copy(res)
    cat = "health"
    thr = res.main_threshold_min[cat]
    comm = res.communities.sort_values("community_id")
    comm = comm[comm.population > 1].iloc[:5]
    rates = dict(zip(comm.community_id, [0.1, 0.3, 0.5, 0.7, 0.9]))
    cbc = res.coverage_by_community.copy()
    sel = (cbc.category == cat) & (cbc.threshold_min == thr)
    cbc.loc[sel, "coverage_rate"] = cbc.loc[sel, "community_id"].map(rates)
    r.coverage_by_community = cbc
    r.facilities = res.facilities.iloc[:0]
    fig = F.coverage_figure(r, cat, F._Style("en", None), labels=False)
    ax = fig.axes[0]
    stats = _pixel_stats(fig, ax, list(comm.geometry))
    F.plt.close(fig)
    means = [m for m, _ in stats]
    stds = [s for _, s in stats]
    # every pair of classes differs in mean grey or in texture (hatching)
    for i in range(5):
        for j in range(i + 1, 5):
            assert abs(means[i] - means[j]) > 12 or abs(stds[i] - stds[j]) > 12, (i, j, stats)
    # the hatched low classes carry texture; the flat high classes none; darker = better covered
    assert stds[0] > 20 and stds[1] > 20 and max(stds[2:]) < 5
    assert means[2] > means[3] > means[4]


def test_english_fallback_without_cjk_font(res, tmp_path, monkeypatch):
    monkeypatch.setattr(F, "find_cjk_font", lambda: None)
    res = res.only(["health"])
    with pytest.warns(UserWarning, match="CJK"):
        out = F.make_figures(res, tmp_path, lang="zh")
    assert out.lang == "en" and out.font is None and out.notes and "English" in out.notes[0]
    assert out["township_coverage"].exists()
    # no text the fallback font cannot draw: every drawn string is free of CJK characters
    st = F._Style("en", None)
    fig = F.coverage_figure(res, "health", st)
    texts = [t.get_text() for t in fig.findobj(F.matplotlib.text.Text)]
    F.plt.close(fig)
    assert texts and not [t for t in texts if CJK.search(t)]
    assert any("HK" in t or "Siltasaari" in t for t in texts)  # community labels survive (Latin part or id)
    assert st.safe("赫尔辛基示例研究区 (Helsinki sample)") == "Helsinki sample"
    assert st.safe("河口村", "C3") == "C3"


def test_township_targets_from_indicators(res):
    t = F.township_targets(res)
    assert t["fitness"] == (100.0, "fitness_circle_15min")
    assert t["elderly_care"] == (100.0, None)


@pytest.fixture(scope="module")
def report(res, figs, tmp_path_factory):
    d = tmp_path_factory.mktemp("rep")
    return write_report(res, d, figs, files={"map": d / "map.html"})


def test_report_content(res, figs, report):
    doc = report.read_text(encoding="utf-8")
    lang = res.config.output.lang
    for h in HEADINGS[lang].values():
        assert f"<h2>{h}</h2>" in doc
    area = res.indicators[res.indicators.level == "area"]
    for name in area.name_zh.unique():
        assert name in doc
    assert "✓" in doc and "✗" in doc
    assert "@media print" in doc and "© OpenStreetMap contributors" in doc
    assert "communities.gpkg" in doc and "facilities.csv" in doc and "population.tif" in doc
    imgs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', doc)
    assert len(imgs) == len(figs)
    assert base64.b64decode(imgs[0]) == next(iter(figs.values())).read_bytes()
    assert "&amp;gt;" not in doc  # no double escaping
    assert 'href="map.html"' in doc
    # top 10 gaps: the most populous gap appears, with its population
    top = res.gaps.sort_values("population", ascending=False).iloc[0]
    assert top.gap_id in doc and f"{top.population:,.0f}" in doc


def test_report_escapes_and_is_deterministic(res, figs, tmp_path):
    r = copy.copy(res)
    comm = res.communities.copy()
    comm.loc[comm.index[0], "name"] = '<script>alert("x")</script>'
    r.communities = comm
    r.warnings = ["a <b>bold</b> warning & more"]
    cid = comm.community_id.iloc[0]
    g = res.gaps.copy()
    g.loc[g.index[0], "communities"] = cid
    g.loc[g.index[0], "population"] = 1e9  # first in the top-10 table
    r.gaps = g
    p1 = write_report(r, tmp_path / "a", figs)
    p2 = write_report(r, tmp_path / "b", figs)
    d1 = p1.read_text(encoding="utf-8")
    assert d1 == p2.read_text(encoding="utf-8")
    assert "<script>" not in d1
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in d1
    assert "a &lt;b&gt;bold&lt;/b&gt; warning &amp; more" in d1
    assert "generated" not in d1.lower() and not re.search(r"20\d\d-\d\d-\d\d", d1)
    p3 = write_report(r, tmp_path / "c", figs, generated="2025-01-02")
    assert "2025-01-02" in p3.read_text(encoding="utf-8")


def _texts(fig):
    out = [t.get_text() for t in fig.findobj(F.matplotlib.text.Text)]
    F.plt.close(fig)
    return out


def test_a_category_without_gaps_and_no_gaps_at_all(res, tmp_path):
    import geopandas as gpd
    st = F._Style("en", None)
    empty = res.gaps.iloc[:0]                       # its columns, no rows
    assert list(empty.columns) == list(res.gaps.columns)
    for gaps in (empty, gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=res.gaps.crs))):
        r = res.replace(gaps=gaps)
        assert "no gaps" in _texts(F.gaps_figure(r, st))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # one category is enough for the gaps figure of make_figures (the others only add maps)
        figs = F.make_figures(res.only(["health"]).replace(gaps=empty), tmp_path, lang="en")
    assert figs["gaps"].exists()


def test_thresholds_are_labelled_as_given(res):
    from coverage.config import Threshold
    st = F._Style("en", None)
    assert any("within a 15 min walk" in t for t in _texts(F.coverage_figure(res, "health", st, labels=False)))
    metres = {c: Threshold.of(1000, "m", res.speed_m_per_min) for c in res.categories}
    r = res.replace(thresholds=metres)
    texts = _texts(F.coverage_figure(r, "health", st, labels=False))
    assert any("within a 1000 m walk" in t for t in texts) and not any(" min walk" in t for t in texts)
    bars = _texts(F._township_figure(r, st))
    assert any(t.endswith("(1000 m)") for t in bars)
    # the same rates as at 15 minutes (1000 m at 4 km/h): the row is found by metres
    assert F.main_rates(r, "health").equals(F.main_rates(res, "health"))


def test_community_labels_are_capped(res, monkeypatch):
    from coverage.report.figures import maps
    monkeypatch.setattr(maps, "MAX_LABELS", 3)
    texts = _texts(F.coverage_figure(res, "health", F._Style("en", None)))
    labelled = [t for t in texts if "\n" in t and t.split("\n")[1].endswith(("%", "no population"))]
    assert len(labelled) == 3
    assert any(t.startswith("labels: the 3 communities with most uncovered people (of 12)") for t in texts)


def test_panel_titles_clear_of_other_panels_and_the_figure_title(sample_results):
    """The gaps and sites figures are laid out by hand (_panel_layout): on a grid of two rows or
    more no panel title overlaps another panel or the figure's two-line title."""
    st = F._Style("en", None)
    for make in (F.gaps_figure, F.sites_figure):
        fig = make(sample_results, st)
        fig.set_dpi(F.DPI)
        fig.canvas.draw()
        r = fig.canvas.get_renderer()
        axes = [ax for ax in fig.axes if ax.get_visible()]
        assert len({round(ax.get_position().y0, 3) for ax in axes}) >= 2, "needs two rows of panels"
        sup = fig._suptitle.get_window_extent(r)
        for ax in axes:
            title = ax.title.get_window_extent(r)
            assert not title.overlaps(sup), make.__name__
            for other in axes:
                if other is not ax:
                    assert not title.overlaps(other.get_window_extent(r)), make.__name__
            assert ax.get_window_extent(r).y1 < sup.y0
        F.plt.close(fig)


def test_township_bars_drawn_as_one_patch_per_class(res):
    """Bars below the target (hatched) and the others are one patch each per panel (no Rectangle
    per bar); each bar ends at the value its label gives."""
    from matplotlib.patches import PathPatch
    st = F._Style("en", None)
    fig = F._township_figure(res, st)
    for ax in [a for a in fig.axes if a.get_visible()]:
        patches = [p for p in ax.patches if isinstance(p, PathPatch)]
        assert 1 <= len(patches) <= 2 and not any(type(p).__name__ == "Rectangle" for p in ax.patches)
        ends = sorted(round(float(x), 1) for p in patches
                      for x in p.get_path().vertices.reshape(-1, 5, 2)[:, :, 0].max(axis=1))
        labels = sorted(0.0 if t.get_text() == "—" else float(t.get_text().rstrip("%")) for t in ax.texts
                        if (t.get_text().endswith("%") or t.get_text() == "—") and "target" not in t.get_text())
        assert ends == labels
    F.plt.close(fig)


@pytest.mark.parametrize("cap", [None, 3])
def test_coverage_maps_on_one_figure_have_the_pixels_of_each_drawn_alone(res, tmp_path, monkeypatch, cap):
    """CoverageMaps draws every category's map on one figure (shared frame drawn once): each has
    the pixels of coverage_figure drawn alone, in any order (a map leaves nothing behind)."""
    from coverage.report.figures import maps
    if cap:
        monkeypatch.setattr(maps, "MAX_LABELS", cap)       # the note on capped labels is shared too
    st = F._Style("en", None)
    data = F.FigureData(res)
    both = maps.CoverageMaps(res, st, data)
    for cat in list(res.categories)[::-1] + list(res.categories)[:1]:
        alone = np.asarray(Image.open(F._save(F.coverage_figure(res, cat, st, data=data), tmp_path / "a.png")))
        assert np.array_equal(both.grey(cat), alone), cat
