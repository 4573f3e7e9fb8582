"""The demo map in a real browser: headless Chromium loads it offline without JavaScript errors,
lists every overlay, draws every community and facility, and the screenshot is not blank.

Needs the Debian packages chromium + chromium-driver and the Python package selenium; the test
skips (with the reason) when they are missing. Nothing is downloaded: tiles and CDN assets fail
to load offline, which is allowed; Leaflet itself is inlined in the page.
"""

import html as html_lib
import importlib.util
import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest

from coverage import CATEGORY_LABELS_ZH
from coverage.report.webmap import COVERAGE_CLASS_COLOURS, NO_DATA_COLOUR

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "data" / "sample" / "study.yaml"
W, H = 1400, 900

_spec = importlib.util.spec_from_file_location("screenshot_map", ROOT / "scripts" / "screenshot_map.py")
shot = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shot)

# A remote (http/https) resource that could not be fetched because the machine is offline.
OFFLINE_FETCH = re.compile(r"^https?://\S+ - Failed to load resource: net::ERR_[A-Z_]+$")

MAP_JS = shot.FIND_MAP_JS + "const map = window.__lcMap;\n"

# Leaves (non-group layers) of a layer, walking nested LayerGroups / GeoJSON layers.
LEAVES_JS = """
function leaves(layer) {
  if (layer instanceof L.LayerGroup) { return layer.getLayers().flatMap(leaves); }
  return [layer];
}
function descendants(layer) {   // the layer itself plus everything nested in it
  if (layer instanceof L.LayerGroup) { return [layer].concat(layer.getLayers().flatMap(descendants)); }
  return [layer];
}
"""


@pytest.fixture(scope="module")
def demo_map(sample_out):
    out = sample_out
    html = out / "map.html"
    assert html.is_file(), f"the run wrote no {html}"
    return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    why = shot.missing_browser()
    if why:
        pytest.skip(why)
    pytest.importorskip("selenium", reason="pip install selenium (see requirements-test.txt)")
    driver = shot.open_browser(tmp_path_factory.mktemp("chromium_profile"), W, H)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def page(browser, demo_map):
    """The loaded page and the browser console log collected while it loaded."""
    shot.load_map(browser, demo_map / "map.html")
    return browser, browser.get_log("browser")


def _js(driver, body, *args):
    return driver.execute_script(MAP_JS + LEAVES_JS + body, *args)


def _control_name(html: Path) -> str:
    """The page's global holding the L.control.layers instance (declared with `let`, so it is
    reachable by name but is not a property of window)."""
    names = re.findall(r"\b(?:let|var|const)\s+(layer_control_\w+)\s*=\s*L\.control\.layers\(",
                       html.read_text(encoding="utf-8"))
    assert len(names) == 1, f"expected one layer control in the page, found {names}"
    return names[0]


def _source_overlays(html: Path) -> list[str]:
    """Overlay names, in order, as written in the page's L.control.layers(...) call."""
    text = html.read_text(encoding="utf-8")
    block = re.search(r"overlays\s*:\s*\{(.*?)\}\s*,\s*\}\s*;", text, flags=re.S)
    assert block, "no layer control in the page"
    # names are HTML-escaped in the page (the control shows them as HTML): compare them as shown
    return [html_lib.unescape(json.loads(k))
            for k in re.findall(r'^\s*("(?:[^"\\]|\\.)*")\s*:', block.group(1), flags=re.M)]


def _control(driver, html):
    """Overlays of the layer control as Leaflet sees them: name, shown or not, leaf counts by type."""
    out = json.loads(_js(driver, """
const ctl = eval(arguments[0]);
if (!(ctl instanceof L.Control.Layers) || ctl._map !== map) { return JSON.stringify(null); }
const labels = Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'));
const shownInControl = Object.fromEntries(labels.map(l => {
  const i = l.querySelector('input'); return [i.layerId, i.checked];
}));
return JSON.stringify(ctl._layers.filter(o => o.overlay).map(o => {
  const ls = leaves(o.layer);
  return {name: o.name, on_map: map.hasLayer(o.layer), checked: shownInControl[L.stamp(o.layer)],
          n_desc: descendants(o.layer).length,
          polygons: ls.filter(l => l instanceof L.Polygon).length,
          markers: ls.filter(l => l instanceof L.CircleMarker || l instanceof L.Marker).length,
          fill_colours: Array.from(new Set(ls.filter(l => l instanceof L.Polygon)
                                             .map(l => l.options.fillColor))).sort()};
}));
""", _control_name(html)))
    for o in out or []:       # names are HTML as given to Leaflet: compare them as shown
        o["name"] = html_lib.unescape(o["name"])
    return out


# ---------------------------------------------------------------------------------------------

def test_page_loads_without_javascript_errors(page):
    driver, log = page
    assert _js(driver, "return typeof L === 'object' && typeof L.version === 'string';"), \
        "Leaflet (L) is not defined: it must be inlined in map.html, not loaded from a CDN"
    assert _js(driver, "return !!map && map._loaded === true;")
    severe = [e["message"] for e in log if e["level"] == "SEVERE"]
    errors = [m for m in severe if not OFFLINE_FETCH.match(m)]
    assert errors == [], "JavaScript errors while loading the map:\n" + "\n".join(errors)
    # the only tolerated failures are remote fetches (tiles, CDN css/js); never a local file
    assert all(not m.startswith("file:") for m in severe)


def test_console_log_is_really_captured(page):
    """The error check above would pass vacuously if the console log were not collected."""
    driver, _ = page
    driver.execute_script("console.error('lc-probe-7f3a');")
    probe = [e for e in driver.get_log("browser") if "lc-probe-7f3a" in e["message"]]
    assert len(probe) == 1 and probe[0]["level"] == "SEVERE"
    assert not OFFLINE_FETCH.match(probe[0]["message"])


def test_layer_control_lists_every_overlay(page, demo_map):
    driver, _ = page
    expected = _source_overlays(demo_map / "map.html")
    shown = _js(driver, "return Array.from(document.querySelectorAll("
                        "'.leaflet-control-layers-overlays label')).map(l => l.textContent.trim());")
    assert shown == expected
    # one coverage overlay per plan category, three life-circle rings per category
    for cat, label in CATEGORY_LABELS_ZH.items():
        assert sum(n.startswith(f"覆盖率: {label} (") for n in shown) == 1, label
        assert sum(re.fullmatch(rf"(5|10|15)分钟 服务圈: {re.escape(label)}", n) is not None
                   for n in shown) == 3, label
    # facility overlays are labelled with the number of facilities of that category in the run
    fac = gpd.read_file(demo_map / "layers.gpkg", layer="facilities")
    counts = fac["category"].value_counts()
    for cat, label in CATEGORY_LABELS_ZH.items():
        assert f"设施: {label} ({int(counts.get(cat, 0))})" in shown, label


def test_every_layer_is_on_the_map(page, demo_map):
    driver, _ = page
    ctl = _control(driver, demo_map / "map.html")
    assert ctl, "no L.control.layers on the map"
    assert [o["name"] for o in ctl] == _source_overlays(demo_map / "map.html")
    # what the checkboxes say is what is on the map
    assert all(o["checked"] == o["on_map"] for o in ctl), [o["name"] for o in ctl if o["checked"] != o["on_map"]]
    assert any(o["on_map"] for o in ctl) and not all(o["on_map"] for o in ctl)

    # the Leaflet layer count: one base tile layer plus every shown overlay with its content,
    # and nothing added behind the control's back
    n_map = _js(driver, "let n = 0; map.eachLayer(() => n++); return n;")
    n_tiles = _js(driver, "let n = 0; map.eachLayer(l => { n += l instanceof L.TileLayer; }); return n;")
    n_renderers = _js(driver, "let n = 0; map.eachLayer(l => { n += l instanceof L.Renderer; }); return n;")
    assert n_tiles == 1
    assert n_renderers >= 1          # the canvas (or SVG) renderer is itself a Leaflet layer
    assert n_map == n_tiles + n_renderers + sum(o["n_desc"] for o in ctl if o["on_map"])

    # every facility in the run is a marker in its category's overlay (all shown at start)
    fac = gpd.read_file(demo_map / "layers.gpkg", layer="facilities")
    by_label = {f"设施: {CATEGORY_LABELS_ZH[c]}": n for c, n in fac["category"].value_counts().items()}
    fac_layers = {o["name"].rsplit(" (", 1)[0]: o for o in ctl if o["name"].startswith("设施: ")}
    assert {k: o["markers"] for k, o in fac_layers.items() if o["markers"]} == by_label
    assert all(o["on_map"] for o in fac_layers.values())

    # each coverage overlay holds one polygon per community, coloured by the coverage classes
    n_com = len(gpd.read_file(demo_map / "layers.gpkg", layer="communities"))
    cov = [o for o in ctl if o["name"].startswith("覆盖率: ")]
    assert len(cov) == len(CATEGORY_LABELS_ZH)
    for o in cov:
        assert o["polygons"] == n_com, o["name"]
        assert set(o["fill_colours"]) <= set(COVERAGE_CLASS_COLOURS) | {NO_DATA_COLOUR}, o["name"]
    assert sum(o["on_map"] for o in cov) == 1, "exactly one coverage layer is shown at start"


def test_community_polygons_are_drawn(page, demo_map):
    """Each community of the shown coverage layer is drawn inside the view: its renderer (canvas,
    as the page prefers canvas; or SVG) has paint at an interior point, and no paint far outside."""
    driver, _ = page
    com = gpd.read_file(demo_map / "layers.gpkg", layer="communities").to_crs(4326)
    inside = [[p.y, p.x] for p in com.geometry.representative_point()]
    res = json.loads(_js(driver, """
const pts = arguments[0];
const cov = eval(arguments[1])._layers.find(o => o.overlay && o.name.startsWith('覆盖率: ') && map.hasLayer(o.layer));
const polys = leaves(cov.layer).filter(l => l instanceof L.Polygon);
const renderer = polys[0]._renderer;
const kind = renderer instanceof L.Canvas ? 'canvas' : (renderer instanceof L.SVG ? 'svg' : 'other');
const rect = map.getContainer().getBoundingClientRect();
function paintAt(ll) {
  const p = map.latLngToContainerPoint(ll);
  if (p.x < 0 || p.y < 0 || p.x >= rect.width || p.y >= rect.height) { return -1; }
  if (kind === 'canvas') {
    const c = renderer._container, r = c.getBoundingClientRect();
    const x = Math.floor((p.x + rect.left - r.left) * c.width / r.width);
    const y = Math.floor((p.y + rect.top - r.top) * c.height / r.height);
    return c.getContext('2d').getImageData(x, y, 1, 1).data[3];
  }
  const el = document.elementFromPoint(p.x + rect.left, p.y + rect.top);
  return (el && el.tagName.toLowerCase() === 'path') ? 255 : 0;
}
const all = L.latLngBounds(polys.map(l => l.getBounds()));
const west = map.latLngToContainerPoint(all.getSouthWest()).x;
const outsidePt = map.containerPointToLatLng([west / 2, rect.height / 2]);
return JSON.stringify({
  kind: kind, n: polys.length, transform: renderer._container.style.transform,
  projected: polys.filter(l => l._parts && l._parts.length > 0).length,
  svg_paths: polys.filter(l => l._path && l._path.isConnected).length,
  paint_inside: pts.map(ll => paintAt(L.latLng(ll[0], ll[1]))),
  west_px: west,
  paint_outside: west > 40 ? paintAt(outsidePt) : null});
""", inside, _control_name(demo_map / "map.html")))
    assert res["n"] == len(com)
    # settled after fitBounds: not a CSS-scaled bitmap caught in the middle of the zoom animation
    assert re.search(r"scale\((?!1\))", res["transform"]) is None, res["transform"]
    assert res["projected"] == len(com), "some community polygons are outside the view or not drawn"
    if res["kind"] == "svg":
        assert res["svg_paths"] == len(com)
    else:
        assert res["kind"] == "canvas"
    assert all(a > 0 for a in res["paint_inside"]), res["paint_inside"]
    assert res["paint_outside"] == 0, res   # the map is fitted with a margin, left of the data is empty


def test_screenshot_is_not_blank(page, tmp_path):
    from PIL import Image
    driver, _ = page
    png = tmp_path / "map.png"
    assert driver.save_screenshot(str(png))
    img = np.asarray(Image.open(png).convert("RGB"), dtype=float)
    assert img.shape == (H, W, 3)
    assert img.std() > 20, f"screenshot nearly uniform (pixel std {img.std():.1f})"
    # the coverage colours are painted: many pixels far from grey (the offline map background)
    saturation = img.max(axis=2) - img.min(axis=2)
    assert (saturation > 60).mean() > 0.02
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 200


def test_point_markers_are_visible(page):
    """Facility and uncovered-population dots are filled (the legend shows filled dots)."""
    driver, _ = page
    bad = _js(driver, """
const out = [];
map.eachLayer(l => { if (l instanceof L.CircleMarker && !(l.options.fill && l.options.fillOpacity > 0))
                       out.push(l.options.fillColor); });
return out.length;""")
    assert bad == 0, f"{bad} circle markers on the map are drawn without fill"
