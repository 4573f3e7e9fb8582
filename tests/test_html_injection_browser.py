"""No name from the data can run script in any HTML output (issue 11, item 7).

A small study (the sample's streets, population and communities) whose community names,
township names, facility names, study title and one facility category carry script payloads is
run and written (map.html, a per-category map, report.html). Each page is opened in headless
Chromium: no payload may run (each sets ``window.__pwned``), and the names must still be shown,
as text, in the layer control, the tooltips and popups, the legend and the report.

Needs the Debian packages chromium + chromium-driver and selenium (skips otherwise).
"""

from __future__ import annotations

import importlib.util
import json
import re
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"

_spec = importlib.util.spec_from_file_location("screenshot_map", ROOT / "scripts" / "screenshot_map.py")
shot = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shot)

PAYLOADS = [
    '<img src=x onerror="window.__pwned=\'img\'">',
    '</script><script>window.__pwned="script"</script>',
    '{{ 7*7 }}<svg onload="window.__pwned=\'svg\'"></svg>',
    '" onmouseover="window.__pwned=\'attr\'" x="',
]
TITLE = 'Sample <script>window.__pwned="title"</script> {{ 6*7 }}'
BAD_CATEGORY = '<img src=y onerror="window.__pwned=\'category\'">'


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    from coverage.report.outputs import write_outputs
    from coverage.study import Study

    com = gpd.read_file(SAMPLE / "communities.gpkg", layer="communities")
    com["name_zh"] = [f"{PAYLOADS[i % 4]}社区{i}" for i in range(len(com))]
    com["township"] = [PAYLOADS[(i + 1) % 4] for i in range(len(com))]
    fac = pd.read_csv(SAMPLE / "facilities.csv")
    fac["name"] = [f"{PAYLOADS[i % 4]}站{i}" for i in range(len(fac))]
    fac.loc[fac.index[-1], "category"] = BAD_CATEGORY          # a category value from the file
    config = {"study_area": {"name": TITLE},
              "communities": {"fields": {"id": "code", "name": "name_zh", "township": "township",
                                         "type": "type", "households": "households"}},
              "facilities": {"x": "lon", "y": "lat",
                             "fields": {"id": "id", "name": "name", "category": "category", "area": "area_m2"}},
              "network": {"source": "pbf", "path": str(SAMPLE / "helsinki.osm.pbf")},
              "analysis": {"categories": ["health", "culture", "commerce"]},
              "siting": {"k": 2},
              "output": {"lang": "zh", "basemap": "none"}}
    out = tmp_path_factory.mktemp("injection")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = Study(communities=com, facilities=fac, population=SAMPLE / "population.tif", config=config)
        res = study.run()
        files = write_outputs(res, out, category_maps=True)
    return res, files


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    why = shot.missing_browser()
    if why:
        pytest.skip(why)
    pytest.importorskip("selenium", reason="pip install selenium (see requirements-test.txt)")
    driver = shot.open_browser(tmp_path_factory.mktemp("chromium_profile"), 1200, 800)
    yield driver
    driver.quit()


def _settle(driver):
    """Give any injected handler (image error, svg load) time to fire."""
    driver.execute_async_script("const done = arguments[0]; setTimeout(done, 400);")


def _pwned(driver):
    return driver.execute_script("return typeof window.__pwned === 'undefined' ? null : String(window.__pwned);")


# Opens every tooltip and popup of the map, one after another, and collects their text; also
# reports any element a payload would have made (img/svg/script inside a tooltip, popup, the
# layer control, the legend or the title).
OPEN_ALL_JS = shot.FIND_MAP_JS + """
const map = window.__lcMap;
const texts = [], errors = [];
function all(l) {   // the layer and everything nested in it
  return l instanceof L.LayerGroup ? [l].concat(l.getLayers().flatMap(all)) : [l];
}
const control = eval(arguments[0]);
const layers = [];
for (const o of control._layers) {      // every overlay on, so every member is drawn
  if (o.overlay) { map.addLayer(o.layer); layers.push(...all(o.layer)); }
}
const seen = new Set();
for (const l of layers) {
  if (seen.has(l)) { continue; }
  seen.add(l);
  for (const kind of ['Tooltip', 'Popup']) {
    const item = l['get' + kind] && l['get' + kind]();
    if (!item) { continue; }
    let target = l, at;
    if (l instanceof L.LayerGroup) {     // bound on a group: opens on one of its members
      target = all(l).find(x => !(x instanceof L.LayerGroup));
      if (!target) { continue; }
    }
    if (!target._map) { continue; }      // e.g. a marker inside a cluster
    try {
      at = target.getCenter ? target.getCenter() : target.getLatLng();
      l['open' + kind](at);
      const el = item.getElement();
      if (el) { texts.push(el.textContent); }
      l['close' + kind]();
    } catch (e) { errors.push(String(e)); }
  }
}
const bad = document.querySelectorAll(
  '.leaflet-tooltip img, .leaflet-popup img, .leaflet-tooltip svg, .leaflet-popup svg, ' +
  '.leaflet-control-layers img, .leaflet-control-layers svg, .lc-legend img, .lc-title img, ' +
  '.lc-title script, .leaflet-control-layers script').length;
const control_text = document.querySelector('.leaflet-control-layers').textContent;
const heading = document.querySelector('.lc-title');
return JSON.stringify({texts: texts, errors: errors, bad: bad, control: control_text, title: document.title,
                       heading: heading ? heading.textContent : null});
"""


@pytest.mark.parametrize("page", ["map", "map_health"])
def test_map_pages_run_no_payload_and_show_names_as_text(written, browser, page):
    res, files = written
    shot.load_map(browser, files[page])
    _settle(browser)
    assert _pwned(browser) is None
    name = re.findall(r"\b(?:let|var|const)\s+(layer_control_\w+)\s*=\s*L\.control\.layers\(",
                      Path(files[page]).read_text(encoding="utf-8"))
    got = json.loads(browser.execute_script(OPEN_ALL_JS, name[0]))
    _settle(browser)
    assert _pwned(browser) is None, "a payload ran after the tooltips and popups opened"
    assert got["bad"] == 0 and got["errors"] == []
    assert len(got["texts"]) > len(res.communities)   # every tooltip and popup was opened
    assert got["title"] == TITLE and got["heading"] == TITLE
    text = "\n".join(got["texts"])
    for p in PAYLOADS:
        assert p in text, p                       # community, township and facility names as text
    assert any(t.startswith(PAYLOADS[0] + "社区0") or PAYLOADS[0] + "社区0" in t for t in got["texts"])
    assert "社区" in got["control"] or "覆盖率" in got["control"]
    severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not [m for m in severe if "Uncaught" in m], severe


def test_report_runs_no_payload_and_shows_names(written, browser):
    res, files = written
    browser.get(Path(files["report"]).resolve().as_uri())
    _settle(browser)
    assert _pwned(browser) is None
    body = browser.execute_script("return document.body.textContent;")
    assert TITLE in body
    assert BAD_CATEGORY in body                      # the unknown category, listed as excluded
    assert any(p in body for p in PAYLOADS)          # township / community names in the tables
    n_bad = browser.execute_script("return document.querySelectorAll('img[src=\"x\"], img[src=\"y\"], svg').length;")
    assert n_bad == 0
