"""The page around the layers: the drawing script, basemaps, the legend and title, stable element
ids, and inlining Leaflet (and Leaflet.markercluster when a layer clusters) so the page works
offline.

Every layer is one call ``lcAdd(<feature group>, "<kind>", <data>, <options>);`` on a line of
its own, with its data as JSON (:func:`~coverage.report.webmap.text.js_json`); the functions
in :data:`DRAW_JS` turn it into Leaflet layers. Tooltips and popups are built with
``textContent``, never ``innerHTML``, so no name from a data file can become markup; layer
names, the legend and the title are escaped in Python.
"""

from __future__ import annotations

import base64
import contextlib
import re
import threading
from pathlib import Path

from branca.element import Element, MacroElement

from ...errors import InputError
from .text import esc

_RESOURCES = Path(__file__).resolve().parents[2] / "resources" / "leaflet"

DRAW_JS = r"""
var lcShared = {};
function lcTable(rows) {
  var t = document.createElement('table');
  t.className = 'lc-tip';
  rows.forEach(function (r) {
    var tr = t.insertRow();
    var th = document.createElement('th');
    th.textContent = r[0];
    tr.appendChild(th);
    tr.insertCell().textContent = r[1];
  });
  return t;
}
function lcFeatures(d) {
  return {type: 'FeatureCollection', features: d.g.map(function (g, i) {
    return {type: 'Feature', geometry: g, properties: {i: i}};
  })};
}
function lcRows(heads, values) {
  return heads.map(function (h, j) { return [h, values[j]]; });
}
function lcPoints(target, d, o) {
  d.xy.forEach(function (p, i) {
    var style = {radius: d.r ? d.r[i] : o.radius, fill: true, fillColor: o.colour,
                 color: o.weight ? '#222222' : o.colour, weight: o.weight,
                 fillOpacity: o.fillOpacity};
    var m = L.circleMarker(p, style);
    var rows = function () { return lcTable(lcRows(o.heads, d.v[i])); };
    if (o.popup) { m.bindPopup(rows); } else { m.bindTooltip(rows); }
    m.addTo(target);
  });
}
function lcAdd(group, kind, d, o) {
  if (kind === 'share') { lcShared[o.name] = d; return; }
  if (kind === 'communities') {
    var s = lcShared[o.data], pal = s.palette, k = o.k;
    var layer = L.geoJson(lcFeatures(s), {
      style: function (f) {
        return {fillColor: pal[s.c[f.properties.i][k]], color: '#444444', weight: 1,
                fillOpacity: 0.65};
      },
      onEachFeature: function (f, l) {
        var i = f.properties.i;
        l.bindTooltip(function () {
          return lcTable(lcRows(s.heads, s.v[i]).concat(lcRows(s.rate_heads, s.r[i])));
        }, {sticky: true});
        l.on('mouseover', function (e) { e.target.setStyle({weight: 3, color: '#000000'}); });
        l.on('mouseout', function (e) { layer.resetStyle(e.target); });
      }
    });
    layer.addTo(group);
  } else if (kind === 'points') {
    if (o.cluster) {
      var col = o.colour;
      var cl = L.markerClusterGroup({
        showCoverageOnHover: false, chunkedLoading: true, maxClusterRadius: 50,
        iconCreateFunction: function (c) {
          var n = c.getChildCount(), size = n < 10 ? 24 : (n < 100 ? 30 : 38);
          var div = document.createElement('div');
          div.style.background = col;
          div.textContent = n;
          return L.divIcon({html: div, className: 'lc-cluster', iconSize: L.point(size, size)});
        }
      });
      lcPoints(cl, d, o);
      cl.addTo(group);
    } else {
      lcPoints(group, d, o);
    }
  } else if (kind === 'image') {
    L.imageOverlay(d.url, d.bounds, {opacity: 1, interactive: false,
                                     className: 'lc-pixels'}).addTo(group);
  } else if (kind === 'polygons') {
    var gl = L.geoJson(lcFeatures(d), {style: o.style, interactive: !!o.heads,
      onEachFeature: function (f, l) {
        if (o.heads) {
          l.bindTooltip(function () { return lcTable(lcRows(o.heads, d.v[f.properties.i])); });
        }
      }});
    gl.addTo(group);
  }
}
"""

CSS = """
.lc-title {position: fixed; top: 10px; left: 50%; transform: translateX(-50%); z-index: 9999;
  background: rgba(255,255,255,.9); padding: 4px 12px; border-radius: 4px;
  font: bold 16px/1.3 sans-serif; box-shadow: 0 1px 4px rgba(0,0,0,.3);}
.lc-legend {position: fixed; bottom: 75px; left: 10px; z-index: 9999; max-height: 60%;
  overflow-y: auto; background: rgba(255,255,255,.92); padding: 6px 10px; border-radius: 4px;
  font: 12px/1.5 sans-serif; box-shadow: 0 1px 4px rgba(0,0,0,.3);}
.lc-legend i {display: inline-block; width: 14px; height: 12px; margin-right: 6px;
  vertical-align: middle; border: 1px solid #777;}
.lc-legend i.dot {border-radius: 50%; width: 10px; height: 10px;}
table.lc-tip th {text-align: left; padding-right: 8px; font-weight: normal; color: #555;}
table.lc-tip td {font-weight: bold;}
.lc-pixels {image-rendering: pixelated; image-rendering: crisp-edges;}
.lc-cluster div {width: 100%; height: 100%; border-radius: 50%; border: 2px solid #fff;
  box-shadow: 0 0 3px rgba(0,0,0,.5); color: #fff; font: bold 12px/1 sans-serif;
  display: flex; align-items: center; justify-content: center; opacity: .9;
  text-shadow: 0 0 2px #000;}
"""


class Raw(Element):
    """Page text added as is, never passed through Jinja: branca renders the output of folium's
    templates a second time as a template, so "{{ ... }}" in a name would run there."""

    def __init__(self, text):
        super().__init__()
        self._name = "LcRaw"
        self.text = text

    def render(self, **kwargs):
        return self.text


def raw(text) -> Raw:
    return Raw(text)


class LayerCall(MacroElement):
    """Placed in a folium FeatureGroup (or the map), draws into it with
    ``lcAdd(<parent>, kind, data, options);``: one line of the page script, written raw."""

    def __init__(self, kind: str, data_json: str, options_json: str):
        super().__init__()
        self._name = "LcLayer"
        self.line = (kind, data_json, options_json)

    def render(self, **kwargs):
        kind, data, options = self.line
        self.get_root().script.add_child(
            Raw(f'lcAdd({self._parent.get_name()}, "{kind}", {data}, {options});\n'), name=self.get_name())


def layer_call(kind: str, data_json: str, options_json: str) -> LayerCall:
    return LayerCall(kind, data_json, options_json)


def layer_name(text: str) -> str:
    """A layer name for folium's layer control, which shows it as HTML and whose template
    output branca renders again as a Jinja template: HTML-escaped, braces as entities."""
    return esc(text).replace("{", "&#123;").replace("}", "&#125;")


_ID_LOCK = threading.Lock()


@contextlib.contextmanager
def deterministic_ids():
    """Make branca/folium element ids come from a counter instead of os.urandom."""
    with _ID_LOCK:
        counter = iter(range(1, 1 << 62))
        original = Element.__dict__["_generate_id"]
        Element._generate_id = classmethod(lambda cls: f"{next(counter):032x}")
        try:
            yield
        finally:
            Element._generate_id = original


def resolve_basemap(basemap) -> dict | None:
    """Return ``None`` (no tiles) or the tile layer spec, or raise InputError naming output.basemap.

    Accepts "none", a folium tiles name ("OpenStreetMap", "CartoDB positron"), or any
    xyzservices provider name ("CartoDB.Positron", "Esri.WorldImagery"), written with any
    case, spaces or dots. The spec is a dict: ``name`` (provider name), ``tiles`` (URL
    template), ``attr`` (HTML attribution), ``max_zoom``, ``subdomains``. Providers that need
    an API key are refused; CartoDB, which xyzservices now marks as keyed but still builds
    without a key, is accepted with xyzservices' own warning.
    """
    import xyzservices

    if basemap is None:
        return None
    if not isinstance(basemap, str) or not basemap.strip():
        raise InputError(f"basemap must be a tile provider name or 'none', got {basemap!r}",
                         field="output.basemap",
                         fix="use e.g. OpenStreetMap, CartoDB.Positron, or none")
    name = basemap.strip()
    if name.lower() == "none":
        return None
    query = "OpenStreetMap.Mapnik" if name.lower() == "openstreetmap" else name
    try:
        provider = xyzservices.providers.query_name(query)
    except ValueError:
        raise InputError(f"unknown basemap {basemap!r}", field="output.basemap",
                         fix="use OpenStreetMap, CartoDB.Positron, Esri.WorldImagery, another "
                             "xyzservices provider name, or none (no tiles)") from None
    try:
        url = provider.build_url(fill_subdomain=False, scale_factor="{r}")
    except ValueError:
        raise InputError(f"basemap {basemap!r} needs an API key, which this toolkit does not "
                         "handle", field="output.basemap",
                         fix="choose a provider without a key, e.g. OpenStreetMap or "
                             "CartoDB.Positron, or none") from None
    return {"name": provider.name, "tiles": url,
            "attr": provider.get("html_attribution") or provider.get("attribution") or
            provider.name,
            "max_zoom": int(provider.get("max_zoom", 19)),
            "subdomains": provider.get("subdomains", "abc")}


def page_elements(m, title, legend_html):
    """The drawing script, the styles, the page title, the title box and the legend
    (``legend_html`` already escaped), added as raw page text."""
    root = m.get_root()
    root.header.add_child(raw(f"<title>{esc(title)}</title>\n"), name="lc_title")
    root.header.add_child(raw(f"<style>{CSS}</style>\n"), name="lc_css")
    root.header.add_child(raw(f"<script>{DRAW_JS}</script>\n"), name="lc_draw")
    root.html.add_child(raw(f'<div class="lc-title">{esc(title)}</div>\n'
                            f'<div class="lc-legend">\n{legend_html}\n</div>\n'), name="lc_legend")


def inline_resources(path: Path, cluster: bool = False) -> None:
    """Planners often work offline: put Leaflet itself into the page instead of CDN links, so
    the map draws with no network at all (the other folium plug-ins only style markers and
    popups; when they fail to load, the layers still draw). Leaflet.markercluster is already in
    the page when a layer clusters (:func:`cluster_plugin`)."""
    text = path.read_text(encoding="utf-8")
    js = (_RESOURCES / "leaflet.js").read_text(encoding="utf-8")
    css = (_RESOURCES / "leaflet.css").read_text(encoding="utf-8")
    css = re.sub(r"url\(images/([\w.-]+\.png)\)", lambda mm: "url(data:image/png;base64,"
                 + base64.b64encode((_RESOURCES / "images" / mm.group(1)).read_bytes()).decode("ascii")
                 + ")", css)
    text, n_js = re.subn(r'<script src="[^"]*/leaflet@[^"]*/leaflet\.js"></script>',
                         lambda _: f"<script>{js}</script>", text, count=1)
    text, n_css = re.subn(r'<link rel="stylesheet" href="[^"]*/leaflet@[^"]*/leaflet\.css"/>',
                          lambda _: f"<style>{css}</style>", text, count=1)
    if n_js != 1 or n_css != 1:
        raise RuntimeError("could not inline Leaflet: folium's page template changed")
    path.write_text(text, encoding="utf-8")


def cluster_plugin(m):
    """Leaflet.markercluster, inlined in the page body (after Leaflet in the head, before the
    layers' script), so a clustered layer draws offline and in a notebook alike."""
    js = (_RESOURCES / "leaflet.markercluster.js").read_text(encoding="utf-8")
    css = "".join((_RESOURCES / f).read_text(encoding="utf-8")
                  for f in ("MarkerCluster.css", "MarkerCluster.Default.css"))
    m.get_root().html.add_child(raw(f"<style>{css}</style>\n<script>{js}</script>\n"), name="lc_markercluster")
