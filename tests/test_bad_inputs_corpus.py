"""The bad-input corpus of issue 11: more than 100 broken or messy inputs, each generated at test
time from data/sample (nothing binary is committed), run through the command line in this process.

Every case is a function registered with :func:`case` under its class (the issue's items: crs,
crash, population, config, facilities, coords, stale, messages). It builds its inputs in a
folder and calls one of

* :meth:`Ctx.error`: exit code 2, stderr starts with "error:", no traceback, the message names the
  file, the key (``field: ...``) and a fix;
* :meth:`Ctx.finish`: exit code 0, no traceback, the stated warnings on stderr, and the population
  accounting closed to 0.1 % against an independent rasterio sum over the window the run states
  (people in communities + the "cells ..." rows of excluded.csv = the raster's valid sum there).

To stay fast, ``finish`` runs read each network file once per session (the parsed network is
reused; network-file cases read theirs for real) and write only the CSV tables the checks read
(``full=True`` runs write every output: maps, figures, workbook, report). Used by
``tests/test_bad_inputs_corpus.py`` and ``scripts/bad_input_table.py`` (the corpus table)."""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.windows
import shapely
import yaml
from pyproj import CRS, Transformer

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
SAMPLE_CRS = CRS.from_epsg(32635)
CHINA_CRS = CRS.from_epsg(32648)          # the sample moved to Kunming (102.71°E, 25.04°N)
CHINA_CENTRE = (102.71, 25.04)

CASES: dict[str, tuple[str, object]] = {}


def case(cls):
    def deco(fn):
        name = fn.__name__.removeprefix("case_")
        assert name not in CASES, name
        CASES[name] = (cls, fn)
        return fn
    return deco


@dataclass
class Outcome:
    code: int
    out: str
    err: str
    folder: Path | None = None
    extra: dict = field(default_factory=dict)

    @property
    def first_line(self) -> str:
        if self.extra.get("line"):
            return self.extra["line"]
        lines = [ln for ln in self.err.splitlines() if ln.startswith(("error:", "internal error:"))]
        if not lines:
            lines = [ln for ln in self.err.splitlines() if ln.startswith("warning:")]
        return lines[0] if lines else ""


# --------------------------------------------------------------------------- sample inputs

def sample_raw(categories=("health", "culture")) -> dict:
    """The sample study with absolute paths, reduced to run fast: two categories, one break,
    no life circles, no travel circle (the sample's is of comprehensive, not analysed here), no
    siting."""
    raw = read_yaml(SAMPLE / "study.yaml")
    raw["communities"]["path"] = str(SAMPLE / "communities.gpkg")
    raw["facilities"]["path"] = str(SAMPLE / "facilities.csv")
    raw["population"]["path"] = str(SAMPLE / "population.tif")
    raw["network"]["path"] = str(SAMPLE / "helsinki.osm.pbf")
    raw["analysis"].update(circles=False, facility_circles=False, categories=list(categories), breaks_min=[15])
    raw["analysis"].pop("travel_circles", None)
    raw["siting"] = {"enabled": False}
    raw["output"] = {"folder": "out", "basemap": "none"}
    return raw


@functools.lru_cache(maxsize=None)
def _communities():
    return gpd.read_file(SAMPLE / "communities.gpkg", layer="communities")


def communities():
    return _communities().copy()


@functools.lru_cache(maxsize=None)
def _facilities():
    return pd.read_csv(SAMPLE / "facilities.csv")


def facilities():
    return _facilities().copy()


@functools.lru_cache(maxsize=None)
def _raster():
    with rasterio.open(SAMPLE / "population.tif") as src:
        return src.read(1), dict(src.profile)


def raster():
    a, prof = _raster()
    return a.copy(), dict(prof)


_SESSION_DIR = None


def session_dir() -> Path:
    global _SESSION_DIR
    if _SESSION_DIR is None:
        _SESSION_DIR = Path(tempfile.mkdtemp(prefix="bad_input_corpus_"))
    return _SESSION_DIR


@functools.lru_cache(maxsize=None)
def china_sample() -> dict:
    """The sample moved to Kunming (so that GCJ-02 applies and CGCS2000 zones fit): communities,
    population raster, the sample's walking network as a road-centreline GeoPackage (network.source
    roads) and the facilities at their true WGS84 positions. Built once per session."""
    d = session_dir() / "china"
    d.mkdir(exist_ok=True)
    from coverage.config import StudyConfig
    from coverage.study import Study
    net = Study(config=StudyConfig.from_dict(sample_raw(), base=SAMPLE)).network
    a, prof = raster()
    t = prof["transform"]
    X0, Y0 = Transformer.from_crs("EPSG:4326", CHINA_CRS, always_xy=True).transform(*CHINA_CENTRE)
    dx, dy = X0 - t.c, Y0 - t.f
    move = lambda g: shapely.transform(g, lambda xy: xy + [dx, dy])  # noqa: E731
    gpd.GeoDataFrame({"name": net.edge_name}, geometry=move(net.edge_geometry), crs=CHINA_CRS) \
        .to_file(d / "roads.gpkg", layer="roads")
    g = communities().to_crs(SAMPLE_CRS)
    g = gpd.GeoDataFrame(g.drop(columns="geometry"), geometry=move(g.geometry.values), crs=CHINA_CRS).to_crs(4326)
    g.to_file(d / "communities.gpkg", layer="communities")
    p = dict(prof, crs=CHINA_CRS, transform=rasterio.Affine(t.a, 0, t.c + dx, 0, t.e, t.f + dy))
    with rasterio.open(d / "population.tif", "w", **p) as dst:
        dst.write(a, 1)
    f = facilities()
    x, y = Transformer.from_crs("EPSG:4326", SAMPLE_CRS, always_xy=True).transform(f.lon.values, f.lat.values)
    lon, lat = Transformer.from_crs(CHINA_CRS, "EPSG:4326", always_xy=True).transform(np.asarray(x) + dx,
                                                                                        np.asarray(y) + dy)
    f["lon"], f["lat"] = lon, lat
    f.to_csv(d / "facilities.csv", index=False)
    return {"dir": d, "shift": (dx, dy)}


def china_raw(categories=("health", "culture")) -> dict:
    c = china_sample()["dir"]
    raw = sample_raw(categories)
    raw["communities"]["path"] = str(c / "communities.gpkg")
    raw["facilities"]["path"] = str(c / "facilities.csv")
    raw["population"]["path"] = str(c / "population.tif")
    raw["network"] = {"source": "roads", "path": str(c / "roads.gpkg")}
    return raw


# --------------------------------------------------------------------------- running

@functools.lru_cache(maxsize=None)
def _network_memo():
    from coverage.io.network import load_network as real
    cache = {}

    def memo(source, path, *, crs, area_wgs84=None, roads_options=None, config_file="study.yaml"):
        key = (source, str(path), CRS.from_user_input(crs).to_string(),
               None if area_wgs84 is None else tuple(round(v, 5) for v in area_wgs84.bounds),
               repr(sorted((roads_options or {}).items())))
        if key not in cache:
            cache[key] = real(source, path, crs=crs, area_wgs84=area_wgs84, roads_options=roads_options,
                              config_file=config_file)
        return cache[key]
    return memo


def _light_outputs(res, out_dir, map_path=None):
    """The CSV tables the checks read (the other writers are exercised by the ``full`` cases)."""
    from coverage.report.outputs import _csv
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, df in (("coverage_summary", res.coverage_summary), ("coverage_by_community", res.coverage_by_community),
                     ("excluded", res.excluded)):
        files[name] = out / f"{name}.csv"
        _csv(df, files[name])
    return files


class Ctx:
    """One case's folder and its runners."""

    def __init__(self, folder):
        self.dir = Path(folder)
        self.dir.mkdir(parents=True, exist_ok=True)

    def path(self, name) -> Path:
        return self.dir / name

    def yaml(self, raw, name="study.yaml") -> Path:
        p = self.path(name)
        p.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return p

    # inputs
    def communities(self, gdf, name="communities.gpkg") -> str:
        p = self.path(name)
        gdf.to_file(p, layer="communities")
        return str(p)

    def csv(self, df, name="facilities.csv", **kw) -> str:
        p = self.path(name)
        df.to_csv(p, index=False, **kw)
        return str(p)

    def raster(self, arr, name="population.tif", **prof) -> str:
        a, base = raster()
        p = dict(base)
        p.update(prof)
        p["height"], p["width"] = arr.shape
        with rasterio.open(self.path(name), "w", **p) as dst:
            dst.write(arr.astype(p["dtype"]), 1)
        return str(self.path(name))

    # runners
    def cli(self, raw_or_yaml, *args, out=None, light=False) -> Outcome:
        from coverage.cli import main
        p = raw_or_yaml if isinstance(raw_or_yaml, Path) else self.yaml(raw_or_yaml)
        out = self.path("out") if out is None else out
        argv = ["run", "--config", str(p), "--out", str(out), "--quiet", *map(str, args)]
        e, o = io.StringIO(), io.StringIO()
        with contextlib.ExitStack() as stack:
            if light:
                import coverage.report.outputs as outputs
                import coverage.study as study
                stack.enter_context(mock.patch.object(outputs, "write_outputs", _light_outputs))
                stack.enter_context(mock.patch.object(study, "load_network", _network_memo()))
            stack.enter_context(contextlib.redirect_stderr(e))
            stack.enter_context(contextlib.redirect_stdout(o))
            code = main(argv)
        return Outcome(code, o.getvalue(), e.getvalue(), Path(out))

    def error(self, raw_or_yaml, *args, field, file, words=(), out=None) -> Outcome:
        """Exit 2 with one message naming the file, the key and a fix."""
        r = self.cli(raw_or_yaml, *args, out=out, light=True)
        msg = r.err
        assert r.code == 2, f"exit {r.code}, expected 2:\n{msg}"
        assert msg.startswith("error:") and "Traceback" not in msg, msg
        head = msg.split("\n  fix:")[0]
        assert "[file: " in head and Path(str(file)).name in head, f"file {Path(str(file)).name!r} not named:\n{msg}"
        assert "field: " in head and field in head, f"key {field!r} not named:\n{msg}"
        assert "\n  fix: " in msg and len(msg.split("\n  fix: ")[1].strip()) > 10, f"no fix:\n{msg}"
        for w in words:
            assert w in msg, f"{w!r} not in:\n{msg}"
        return r

    def finish(self, raw, *args, warn=(), no_warn=(), full=False, conserve=True) -> Outcome:
        """Exit 0, no traceback, the stated warnings, the population accounting closed."""
        r = self.cli(raw, *args, light=not full)
        assert r.code == 0, f"exit {r.code}:\n{r.err[-3000:]}"
        assert "Traceback" not in r.err and "internal error" not in r.err, r.err
        warnings = [ln for ln in r.err.splitlines() if ln.startswith("warning:")]
        for w in warn:
            assert any(w in ln for ln in warnings), f"no warning with {w!r}:\n" + "\n".join(warnings)
        for w in no_warn:
            assert not any(w in ln for ln in warnings), f"unexpected warning {w!r}:\n" + "\n".join(warnings)
        if conserve:
            r.extra["accounting"] = acc = check_conservation(r.folder, raw["population"]["path"])
        if warn:
            r.extra["line"] = next(ln for ln in warnings if warn[0] in ln)
        elif conserve:
            r.extra["line"] = (f"ran{'' if warnings else ', no warning'}; people: {acc['in_communities']:,.1f} in "
                               f"communities + {acc['listed_outside']:,.1f} listed in excluded.csv = raster "
                               f"{acc['raster_total']:,.1f} over the stated window")
        return r


def check_conservation(out: Path, raster_path) -> dict:
    """People in communities + the "cells ..." rows of excluded.csv = the raster's valid (not
    nodata, not negative) sum over the window the run states, read independently with rasterio."""
    summary = pd.read_csv(out / "coverage_summary.csv", encoding="utf-8-sig")
    area = summary[summary.level == "area"]
    inside = float(area.population.iloc[0])
    ex = pd.read_csv(out / "excluded.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    rows = ex[(ex.layer == "population") & ex.feature_id.str.startswith("cells")]
    listed = rows.detail.str.extract(r"^([\d.]+) people")[0].astype(float).sum()
    stated = rows[rows.feature_id == "cells outside the study area"].detail
    assert len(stated) == 1, "the window read is not stated in excluded.csv"
    m = re.search(r"bounds \(([-\d.e+]+), ([-\d.e+]+), ([-\d.e+]+), ([-\d.e+]+)\)", stated.iloc[0])
    assert m, stated.iloc[0]
    bounds = [float(v) for v in m.groups()]
    with rasterio.open(raster_path) as src:
        inv = ~src.transform                 # any grid orientation (a south-up raster too)
        cols, rows = zip(*(inv @ (x, y) for x in bounds[0::2] for y in bounds[1::2]))
        c0, c1 = max(int(round(min(cols))), 0), min(int(round(max(cols))), src.width)
        r0, r1 = max(int(round(min(rows))), 0), min(int(round(max(rows))), src.height)
        band = src.read(1, window=rasterio.windows.Window(c0, r0, c1 - c0, r1 - r0), masked=True).astype(float)
    vals = band.filled(np.nan)
    total = float(np.nansum(np.where(vals >= 0, vals, 0.0)))
    assert total > 0
    assert _close(inside + listed, total, 1e-3), (inside, listed, total)
    return {"raster_total": total, "in_communities": inside, "listed_outside": float(listed)}


def _close(a, b, rel) -> bool:
    return abs(float(a) - float(b)) <= rel * abs(float(b))


def run_subprocess(ctx: Ctx, yaml_path: Path) -> Outcome:
    r = subprocess.run([sys.executable, "-m", "coverage", "run", "--config", str(yaml_path), "--out",
                        str(ctx.path("out")), "--quiet"], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    return Outcome(r.returncode, r.stdout, r.stderr, ctx.path("out"))


def run_case(name, folder) -> tuple[str, Outcome]:
    cls, fn = CASES[name]
    return cls, fn(Ctx(folder))


# =========================================================================== the cases
# Each returns its Outcome. Names: <what is wrong>; class: the item.

# --------------------------------------------------------------------------- 1. CRS scale (crs)

@case("crs")
def case_crs_web_mercator(t):
    raw = sample_raw()
    raw["study_area"]["crs"] = "EPSG:3857"
    return t.error(raw, field="study_area.crs", file="study.yaml", words=("scale error", "EPSG:32635", "Web Mercator"))


@case("crs")
def case_crs_gk_zone_far_from_the_data(t):
    raw = sample_raw()
    raw["study_area"]["crs"] = "EPSG:4547"
    return t.error(raw, field="study_area.crs", file="study.yaml", words=("CM 114E", "scale error", "EPSG:32635"))


@case("crs")
def case_crs_china_web_mercator_names_utm_and_gk_zone(t):
    raw = china_raw()
    raw["study_area"]["crs"] = "EPSG:3857"
    return t.error(raw, field="study_area.crs", file="study.yaml",
                   words=("EPSG:32648", "EPSG:4543", "CM 102E", "1104 m"))


@case("crs")
def case_crs_china_gk_cm_114_for_kunming(t):
    raw = china_raw()
    raw["study_area"]["crs"] = "EPSG:4547"
    return t.error(raw, field="study_area.crs", file="study.yaml", words=("EPSG:4543",))


@case("crs")
def case_crs_china_6_degree_zone_far(t):
    raw = china_raw()
    raw["study_area"]["crs"] = "EPSG:4499"                 # CGCS2000 6° zone 21 (CM 123°E)
    return t.error(raw, field="study_area.crs", file="study.yaml", words=("EPSG:4543",))


@case("crs")
def case_crs_china_right_gk_zone_runs(t):
    raw = china_raw()
    raw["study_area"]["crs"] = "EPSG:4543"
    return t.finish(raw)


@case("crs")
def case_crs_geographic(t):
    raw = sample_raw()
    raw["study_area"]["crs"] = "EPSG:4490"
    return t.error(raw, field="study_area.crs", file="study.yaml", words=("geographic",))


@case("crs")
def case_crs_in_feet(t):
    raw = sample_raw()
    raw["study_area"]["crs"] = "EPSG:2263"
    return t.error(raw, field="study_area.crs", file="study.yaml", words=("foot",))


@case("crs")
def case_crs_unknown_code(t):
    raw = sample_raw()
    raw["study_area"]["crs"] = "EPSG:99999"
    return t.error(raw, field="study_area.crs", file="study.yaml", words=("unknown CRS",))


@case("crs")
def case_crs_bare_epsg_number_accepted(t):
    raw = sample_raw()
    raw["study_area"]["crs"] = 32635
    return t.finish(raw)


@case("crs")
def case_crs_prj_does_not_match_coordinates(t):
    g = communities().to_crs(SAMPLE_CRS).set_crs("EPSG:4326", allow_override=True)   # metres labelled degrees
    raw = sample_raw()
    raw["communities"]["path"] = t.communities(g)
    return t.error(raw, field="communities.crs", file="communities.gpkg", words=("not valid in its CRS",))


# --------------------------------------------------------------------------- 2. crashes (crash)

def _comm_case(t, change, **kw):
    g = change(communities())
    raw = sample_raw()
    raw["communities"]["path"] = t.communities(g)
    return t.error(raw, file="communities.gpkg", **kw)


@case("crash")
def case_community_id_nan(t):
    return _comm_case(t, lambda g: g.assign(code=[None] + list(g.code[1:])), field="communities.fields.id",
                      words=("no code", "feature 1"))


@case("crash")
def case_community_id_empty_text(t):
    return _comm_case(t, lambda g: g.assign(code=[""] + list(g.code[1:])), field="communities.fields.id",
                      words=("no code",))


@case("crash")
def case_community_id_spaces(t):
    return _comm_case(t, lambda g: g.assign(code=list(g.code[:3]) + ["   "] + list(g.code[4:])),
                      field="communities.fields.id", words=("feature 4",))


@case("crash")
def case_community_codes_equal_after_trimming(t):
    return _comm_case(t, lambda g: g.assign(code=["HK02 "] + list(g.code[1:])), field="communities.fields.id",
                      words=("duplicate community codes: HK02",))


@case("crash")
def case_community_null_geometry(t):
    return _comm_case(t, lambda g: g.assign(geometry=[None] + list(g.geometry[1:])), field="communities.fields.id",
                      words=("no geometry: HK01",))


@case("crash")
def case_community_empty_polygon(t):
    return _comm_case(t, lambda g: g.assign(geometry=list(g.geometry[:2]) + [shapely.Polygon()] + list(g.geometry[3:])),
                      field="communities.fields.id", words=("no geometry: HK03",))


@case("crash")
def case_community_same_polygon_twice(t):
    return _comm_case(t, lambda g: g.assign(geometry=[g.geometry[1]] + list(g.geometry[1:])),
                      field="communities.fields.id", words=("HK02 lies within HK01", "same polygon"))


@case("crash")
def case_community_polygon_inside_another(t):
    def change(g):
        inner = g.geometry[0].centroid.buffer(0.0005)
        extra = gpd.GeoDataFrame({"code": ["HK99"], "name_zh": ["内部"], "township": [g["township"][0]],
                                  "type": [g["type"][0]], "households": [10]}, geometry=[inner], crs=g.crs)
        return pd.concat([g, extra], ignore_index=True)
    return _comm_case(t, change, field="communities.fields.id", words=("HK99 lies within HK01",))


@case("crash")
def case_communities_all_linestrings(t):
    return _comm_case(t, lambda g: g.assign(geometry=g.geometry.boundary), field="communities.path",
                      words=("LineString", "not polygons", "Lines to Polygons"))


@case("crash")
def case_communities_all_points(t):
    return _comm_case(t, lambda g: g.assign(geometry=g.geometry.representative_point()), field="communities.path",
                      words=("Point features, not polygons",))


@case("crash")
def case_raster_all_nodata(t):
    a, prof = raster()
    raw = sample_raw()
    raw["population"]["path"] = t.raster(np.full(a.shape, prof["nodata"]))
    return t.error(raw, field="population.path", file="population.tif", words=("are nodata",))


@case("crash")
def case_raster_all_zero(t):
    a, _ = raster()
    raw = sample_raw()
    raw["population"]["path"] = t.raster(np.zeros(a.shape))
    return t.error(raw, field="population.path", file="population.tif", words=("no population",))


@case("crash")
def case_raster_is_not_a_raster(t):
    raw = sample_raw()
    raw["population"]["path"] = str(SAMPLE / "facilities.csv")
    return t.error(raw, field="population.path", file="facilities.csv", words=("cannot open the raster",))


def _network_file(t, name, data: bytes, source="pbf", **kw):
    p = t.path(name)
    p.write_bytes(data)
    raw = sample_raw()
    raw["network"] = {"source": source, "path": str(p)}
    return t.error(raw, file=name, **kw)


@case("crash")
def case_pbf_truncated_half(t):
    b = (SAMPLE / "helsinki.osm.pbf").read_bytes()
    return _network_file(t, "cut.osm.pbf", b[: len(b) // 2], field="network.path", words=("truncated",))


@case("crash")
def case_pbf_truncated_in_header(t):
    b = (SAMPLE / "helsinki.osm.pbf").read_bytes()
    return _network_file(t, "cut.osm.pbf", b[:60], field="network.path", words=("truncated", "download the extract again"))


@case("crash")
def case_pbf_source_given_a_shapefile(t):
    shp = t.path("roads.shp")
    communities().boundary.to_frame("geometry").to_file(shp)
    raw = sample_raw()
    raw["network"] = {"source": "pbf", "path": str(shp)}
    return t.error(raw, field="network.source", file="roads.shp", words=("a shapefile", "network.source: roads"))


@case("crash")
def case_pbf_source_given_a_geopackage(t):
    raw = sample_raw()
    raw["network"] = {"source": "pbf", "path": str(SAMPLE / "communities.gpkg")}
    return t.error(raw, field="network.source", file="communities.gpkg", words=("GeoPackage",))


@case("crash")
def case_pbf_empty_file(t):
    return _network_file(t, "empty.osm.pbf", b"", field="network.path", words=("empty (0 bytes)",))


@case("crash")
def case_pbf_is_an_html_error_page(t):
    return _network_file(t, "extract.osm.pbf", b"<!DOCTYPE html><html><body>429 Too Many Requests</body></html>",
                         field="network.path", words=("web page",))


@case("crash")
def case_osm_source_given_a_pbf(t):
    return _network_file(t, "helsinki.osm", (SAMPLE / "helsinki.osm.pbf").read_bytes(), source="osm",
                         field="network.source", words=("network.source: pbf",))


@case("crash")
def case_graphml_source_given_a_pbf(t):
    return _network_file(t, "net.graphml", (SAMPLE / "helsinki.osm.pbf").read_bytes(), source="graphml",
                         field="network.source", words=("network.source: pbf",))


@case("crash")
def case_roads_source_given_a_pbf(t):
    return _network_file(t, "roads.shp", (SAMPLE / "helsinki.osm.pbf").read_bytes(), source="roads",
                         field="network.source", words=("network.source: pbf",))


@case("crash")
def case_out_is_a_file(t):
    f = t.path("afile")
    f.write_text("x")
    return t.error(sample_raw(), out=f, field="--out", file="study.yaml", words=("is a file",))


@case("crash")
def case_out_cannot_be_created(t):
    f = t.path("afile")
    f.write_text("x")
    return t.error(sample_raw(), out=f / "sub", field="--out", file="study.yaml", words=("cannot create",))


@case("crash")
def case_output_folder_in_yaml_is_a_file(t):
    f = t.path("results")
    f.write_text("x")
    raw = sample_raw()
    raw["output"]["folder"] = str(f)
    from coverage.cli import main
    p = t.yaml(raw)
    e = io.StringIO()
    with contextlib.redirect_stderr(e), contextlib.redirect_stdout(io.StringIO()):
        code = main(["run", "--config", str(p), "--quiet"])
    assert code == 2 and "output.folder" in e.getvalue() and "study.yaml" in e.getvalue(), e.getvalue()
    return Outcome(code, "", e.getvalue())


@case("crash")
def case_map_is_a_folder(t):
    t.path("maps").mkdir(exist_ok=True)
    return t.error(sample_raw(), "--map", t.path("maps"), field="--map", file="study.yaml", words=("is a folder",))


@case("crash")
def case_map_not_html(t):
    return t.error(sample_raw(), "--map", t.path("map.png"), field="--map", file="study.yaml", words=(".html",))


@case("crash")
def case_yaml_gbk_encoded(t):
    p = t.path("study.yaml")
    text = yaml.safe_dump(sample_raw(), allow_unicode=True, sort_keys=False).replace("name: 赫尔辛基", "name: 某县赫尔辛基")
    p.write_bytes(text.encode("gbk"))
    return t.error(p, field="(whole file)", file="study.yaml", words=("not UTF-8", "GBK"))


@case("crash")
def case_yaml_thresholds_scalar(t):
    raw = sample_raw()
    raw["analysis"]["thresholds_min"] = 15
    return t.error(raw, field="analysis.thresholds_min", file="study.yaml", words=("default: 15",))


@case("crash")
def case_yaml_threshold_a_million(t):
    raw = sample_raw()
    raw["analysis"]["thresholds_min"] = {"default": 1e6}
    return t.error(raw, field="analysis.thresholds_min.default", file="study.yaml", words=("km",))


@case("crash")
def case_yaml_k_chinese_numeral(t):
    raw = sample_raw()
    raw["siting"] = {"k": "五"}
    return t.error(raw, field="siting.k", file="study.yaml", words=("whole number",))


@case("crash")
def case_facility_one_blank_id_is_kept_and_said(t):
    f = facilities()
    f["id"] = f["id"].astype(object)
    i = int(np.flatnonzero(f.category == "health")[0])
    f.loc[i, "id"] = None
    raw = sample_raw()
    raw["facilities"]["path"] = t.csv(f)
    r = t.finish(raw, warn=("no id", f"row-{i + 2}"))
    ex = pd.read_csv(r.folder / "excluded.csv", encoding="utf-8-sig")
    assert not (ex.layer == "facilities").any()          # the facility was kept, nothing dropped
    return r


@case("crash")
def case_facility_numeric_ids_with_blanks(t):
    f = facilities()
    f["id"] = np.arange(1, len(f) + 1, dtype=float)
    f.loc[[3, 7], "id"] = np.nan
    raw = sample_raw()
    raw["facilities"]["path"] = t.csv(f)
    return t.finish(raw, warn=("2 facilities have no id", "row-5, row-9"))


@case("crash")
def case_facility_layer_with_null_geometry(t):
    f = facilities()
    g = gpd.GeoDataFrame(f, geometry=gpd.points_from_xy(f.lon, f.lat), crs="EPSG:4326")
    i = int(np.flatnonzero(g.category == "health")[0])
    g.loc[i, "geometry"] = None
    p = t.path("facilities.gpkg")
    g.to_file(p, layer="facilities")
    raw = sample_raw()
    raw["facilities"].update(path=str(p), layer="facilities")
    r = t.finish(raw, warn=("health 1 of", "missing or invalid coordinates"))
    ex = pd.read_csv(r.folder / "excluded.csv", encoding="utf-8-sig")
    assert str(f.id[i]) in set(ex.feature_id)
    return r


@case("crash")
def case_network_does_not_reach_the_area(t):
    c = china_sample()["dir"]
    raw = sample_raw()
    raw["network"] = {"source": "roads", "path": str(c / "roads.gpkg")}      # the Kunming roads for Helsinki
    return t.error(raw, field="network.path", file="roads.gpkg", words=("does not reach the study area",))


@case("crash")
def case_internal_error_goes_to_the_log(t):
    import coverage.study as study
    with mock.patch.object(study.Study, "run", side_effect=RuntimeError("boom\nsecond line")):
        r = t.cli(sample_raw(), light=True)
    assert r.code == 1, r.err
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("internal error: RuntimeError: boom second line"), r.err
    assert "Traceback" not in r.err and "please report it with the log at" in r.err
    log = (r.folder / "run.log").read_text(encoding="utf-8")
    assert "Traceback" in log and "RuntimeError: boom" in log
    return r


# --------------------------------------------------------------------------- 3. population (population)

@case("population")
def case_raster_covers_half_the_area(t):
    a, prof = raster()
    a[:, 5:] = prof["nodata"]
    raw = sample_raw()
    raw["population"]["path"] = t.raster(a)
    r = t.finish(raw, warn=("covers only", "households but population 0", "HK02 (949 households, raster covers 0%"))
    ex = pd.read_csv(r.folder / "excluded.csv", encoding="utf-8-sig")
    assert (ex.feature_id == "nodata raster cells").any()
    return r


@case("population")
def case_raster_missing_a_corner(t):
    a, prof = raster()
    a[12:, :4] = prof["nodata"]
    raw = sample_raw()
    raw["population"]["path"] = t.raster(a)
    return t.finish(raw, warn=("covers only",))


@case("population")
def case_community_drawn_as_a_line(t):
    g = communities()
    g.loc[0, "geometry"] = g.geometry[0].boundary
    raw = sample_raw()
    raw["communities"]["path"] = t.communities(g)
    r = t.finish(raw, warn=("no area", "HK01 drawn as a", "households"))
    ex = pd.read_csv(r.folder / "excluded.csv", encoding="utf-8-sig")
    assert ((ex.layer == "communities") & (ex.feature_id == "HK01")).any()
    return r


@case("population")
def case_community_drawn_as_a_point(t):
    g = communities()
    g.loc[2, "geometry"] = g.geometry[2].representative_point()
    raw = sample_raw()
    raw["communities"]["path"] = t.communities(g)
    return t.finish(raw, warn=("HK03 drawn as a Point",))


@case("population")
def case_community_collapsed_to_a_sliver(t):
    g = communities()
    x0, y0, x1, y1 = g.geometry[3].bounds
    g.loc[3, "geometry"] = shapely.Polygon([(x0, y0), (x1, y0), (x1, y0 + 1e-9), (x0, y0 + 1e-9)])
    raw = sample_raw()
    raw["communities"]["path"] = t.communities(g)
    return t.finish(raw, warn=("HK04", "no area"))


@case("population")
def case_raster_negative_values(t):
    a, _ = raster()
    a[0:3, 0:3] = -9999.0
    raw = sample_raw()
    raw["population"]["path"] = t.raster(a, nodata=None)
    r = t.finish(raw, warn=("negative values", "gdal_edit.py -a_nodata -9999"))
    ex = pd.read_csv(r.folder / "excluded.csv", encoding="utf-8-sig")
    assert (ex.feature_id == "negative raster cells").any()
    return r


@case("population")
def case_raster_padded_around_the_area(t):
    a, prof = raster()
    pad = 80
    big = np.full((a.shape[0] + 2 * pad, a.shape[1] + 2 * pad), 7.0, dtype="float32")
    big[pad:-pad, pad:-pad] = a
    tr = prof["transform"]
    raw = sample_raw()
    raw["population"]["path"] = t.raster(big, transform=rasterio.Affine(tr.a, 0, tr.c - pad * tr.a, 0, tr.e,
                                                                         tr.f - pad * tr.e))
    r = t.finish(raw)
    acc = r.extra["accounting"]
    assert acc["listed_outside"] > 10_000          # the padding's people are accounted for, not lost
    assert acc["raster_total"] < float(big.sum())  # over the stated window, not the whole raster
    return r


@case("population")
def case_raster_float_max_undeclared_nodata(t):
    a, _ = raster()
    a[0, 0] = np.finfo("float32").max
    raw = sample_raw()
    raw["population"]["path"] = t.raster(a)
    return t.error(raw, field="population.path", file="population.tif", words=("undeclared nodata", "gdal_edit.py"))


@case("population")
def case_households_written_as_text(t):
    g = communities()
    g["households"] = g["households"].astype(object)
    g.loc[0, "households"] = "约400户"
    g.loc[1, "households"] = "１,２３４"
    raw = sample_raw()
    raw["communities"]["path"] = t.communities(g)
    return t.finish(raw, warn=("values of communities.fields.households", "约400户"))


@case("population")
def case_raster_in_lonlat(t):
    from rasterio.warp import Resampling, calculate_default_transform, reproject
    a, prof = raster()
    tr, w, h = calculate_default_transform(prof["crs"], "EPSG:4326", a.shape[1], a.shape[0],
                                           *rasterio.transform.array_bounds(a.shape[0], a.shape[1], prof["transform"]))
    out = np.zeros((h, w), dtype="float32")
    reproject(a, out, src_transform=prof["transform"], src_crs=prof["crs"], dst_transform=tr, dst_crs="EPSG:4326",
              resampling=Resampling.nearest, src_nodata=prof["nodata"], dst_nodata=prof["nodata"])
    raw = sample_raw()
    raw["population"]["path"] = t.raster(out, crs="EPSG:4326", transform=tr)
    return t.finish(raw)


# --------------------------------------------------------------------------- 4. config (config)

def _cfg_error(t, section, key, value, field=None, words=()):
    raw = sample_raw()
    node = raw
    for part in section.split(".") if section else []:
        node = node.setdefault(part, {})
    node[key] = value
    return t.error(raw, field=field or f"{section}.{key}".lstrip("."), file="study.yaml", words=words)


@case("config")
def case_siting_k_zero(t):
    return _cfg_error(t, "siting", "k", 0, words=("greater than 0",))


@case("config")
def case_siting_k_negative(t):
    return _cfg_error(t, "siting", "k", -3)


@case("config")
def case_siting_k_fraction(t):
    return _cfg_error(t, "siting", "k", 2.5, words=("whole number",))


@case("config")
def case_siting_k_word(t):
    return _cfg_error(t, "siting", "k", "five")


@case("config")
def case_target_rate_percent(t):
    return _cfg_error(t, "siting", "target_rate", 90, words=("0.9",))


@case("config")
def case_target_rate_above_one(t):
    return _cfg_error(t, "siting", "target_rate", 1.5, words=("0.015",))


@case("config")
def case_target_rate_zero(t):
    return _cfg_error(t, "siting", "target_rate", 0, words=("no coverage",))


@case("config")
def case_target_rate_text(t):
    return _cfg_error(t, "siting", "target_rate", "high")


@case("config")
def case_siting_method_unknown(t):
    return _cfg_error(t, "siting", "method", "fastest", words=("exact", "greedy"))


@case("config")
def case_profile_unknown(t):
    return _cfg_error(t, "", "profile", "national_15th", words=("national_14th",))


@case("config")
def case_profile_path_missing(t):
    return _cfg_error(t, "", "profile", "plans/my_plan.yaml", words=("not found",))


@case("config")
def case_basemap_unknown(t):
    return _cfg_error(t, "output", "basemap", "GaodeMap", words=("CartoDB.Positron",))


@case("config")
def case_basemap_needs_a_key(t):
    return _cfg_error(t, "output", "basemap", "Thunderforest.OpenCycleMap", words=("API key",))


@case("config")
def case_categories_single_string(t):
    raw = sample_raw()
    raw["analysis"]["categories"] = "health"
    r = t.finish(raw)
    s = pd.read_csv(r.folder / "coverage_summary.csv", encoding="utf-8-sig")
    assert set(s.category) == {"health"}
    return r


@case("config")
def case_categories_comma_string(t):
    raw = sample_raw()
    raw["analysis"]["categories"] = "health，culture"            # a Chinese comma
    r = t.finish(raw)
    s = pd.read_csv(r.folder / "coverage_summary.csv", encoding="utf-8-sig")
    assert set(s.category) == {"health", "culture"}
    return r


@case("config")
def case_categories_typo(t):
    return _cfg_error(t, "analysis", "categories", "helth", words=("did you mean 'health'",))


@case("config")
def case_categories_empty_list(t):
    return _cfg_error(t, "analysis", "categories", [], words=("empty",))


@case("config")
def case_siting_categories_empty_list(t):
    return _cfg_error(t, "siting", "categories", [], words=("empty",))


@case("config")
def case_siting_k_with_target_rate_says_which(t):
    raw = sample_raw(categories=("health",))
    raw["siting"] = {"k": 3, "target_rate": 0.9}
    return t.finish(raw, warn=("siting.k = 3 is not used because siting.target_rate = 0.9",))


@case("config")
def case_population_field_missing_column(t):
    raw = sample_raw()
    raw["communities"]["fields"]["population"] = "pop_2020"
    return t.error(raw, field="communities.fields.population", file="communities.gpkg", words=("pop_2020",))


@case("config")
def case_population_field_disagrees_with_raster(t):
    g = communities()
    g["pop"] = g["households"] * 2.5
    g.loc[0, "pop"] = 99_999
    raw = sample_raw()
    raw["communities"]["path"] = t.communities(g)
    raw["communities"]["fields"]["population"] = "pop"
    return t.finish(raw, warn=("communities.fields.population ('pop') and the raster differ", "HK01 attribute 99,999"))


@case("config")
def case_population_field_agrees_no_warning(t):
    g = communities()
    from coverage.study import Study
    from coverage.config import load_config
    st = Study(config=load_config(t.yaml(sample_raw(), "ref.yaml")))
    pop = st.communities.set_index("community_id").population
    g["pop"] = g.code.map(pop).round()
    raw = sample_raw()
    raw["communities"]["path"] = t.communities(g)
    raw["communities"]["fields"]["population"] = "pop"
    return t.finish(raw, no_warn=("differ",))


@case("config")
def case_duplicate_key(t):
    text = yaml.safe_dump(sample_raw(), allow_unicode=True, sort_keys=False)
    text = text.replace("population:\n  path:", "population:\n  path: other.tif\n  path:")
    p = t.path("study.yaml")
    p.write_text(text, encoding="utf-8")
    return t.error(p, field="path", file="study.yaml", words=("given twice",))


@case("config")
def case_yaml_is_a_list(t):
    p = t.path("study.yaml")
    p.write_text("- communities.gpkg\n- facilities.csv\n", encoding="utf-8")
    return t.error(p, field="(top level)", file="study.yaml", words=("sections",))


@case("config")
def case_path_left_empty(t):
    return _cfg_error(t, "population", "path", "", words=("missing key",))


@case("config")
def case_path_is_a_folder(t):
    return _cfg_error(t, "population", "path", str(SAMPLE), words=("is a folder",))


@case("config")
def case_communities_crs_unknown(t):
    return _cfg_error(t, "communities", "crs", "北京54", words=("EPSG:4490",))


@case("config")
def case_facilities_sheet_negative(t):
    return _cfg_error(t, "facilities", "sheet", -1, words=("sheet name",))


@case("config")
def case_output_map_not_html(t):
    return _cfg_error(t, "output", "map", "map.png", words=(".html",))


@case("config")
def case_lang_unknown(t):
    return _cfg_error(t, "output", "lang", "fr", words=("zh",))


@case("config")
def case_breaks_as_text(t):
    return _cfg_error(t, "analysis", "breaks_min", "5,10,15", field="analysis.breaks_min")


@case("config")
def case_layer_name_wrong(t):
    raw = sample_raw()
    raw["communities"]["layer"] = "community"
    return t.error(raw, field="communities.layer", file="communities.gpkg", words=("its layers: communities",))


@case("config")
def case_coord_system_unknown(t):
    return _cfg_error(t, "facilities", "coord_system", "gaud", words=("gcj02",))


@case("config")
def case_walk_speed_in_metres_per_second(t):
    return _cfg_error(t, "analysis", "walk_speed_kmh", 0.3, words=("km/h",))


# --------------------------------------------------------------------------- 5. facilities (facilities)

def _fw(s: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in s)


def _dms(v: float, hemi: str) -> str:
    d = int(v)
    m = int((v - d) * 60)
    s = (v - d - m / 60) * 3600
    return f"{d}°{m}'{s:.4f}\"{hemi}"


def _messy(t, change, *, warn=(), **kw):
    """A facility table with some cells rewritten; every facility must still be kept."""
    f = facilities().astype(object)
    change(f)
    raw = sample_raw(categories=sorted(set(facilities().category)))
    raw["facilities"]["path"] = t.csv(f, **kw)
    r = t.finish(raw, warn=warn)
    ex = pd.read_csv(r.folder / "excluded.csv", encoding="utf-8-sig")
    assert not ((ex.layer == "facilities") & (ex.reason == "missing or invalid coordinates")).any(), ex
    return r


@case("facilities")
def case_fullwidth_digits(t):
    f0 = facilities()

    def change(f):
        f.loc[:9, "lon"] = [_fw(f"{v:.6f}") for v in f0.lon[:10]]
        f.loc[:9, "lat"] = [_fw(f"{v:.6f}") for v in f0.lat[:10]]
    return _messy(t, change)


@case("facilities")
def case_comma_decimals(t):
    f0 = facilities()

    def change(f):
        f.loc[:9, "lon"] = [f"{v:.6f}".replace(".", ",") for v in f0.lon[:10]]
    return _messy(t, change)


@case("facilities")
def case_degrees_minutes_seconds(t):
    f0 = facilities()

    def change(f):
        f.loc[:9, "lon"] = [_dms(v, "E") for v in f0.lon[:10]]
        f.loc[:9, "lat"] = [_dms(v, "N") for v in f0.lat[:10]]
        f.loc[10:14, "lat"] = [f"北纬{int(v)}度{int(v % 1 * 60)}分{(v * 60 % 1) * 60:.3f}秒" for v in f0.lat[10:15]]
    return _messy(t, change)


@case("facilities")
def case_trailing_spaces_in_cells_and_header(t):
    f0 = facilities()

    def change(f):
        f.loc[:, "lon"] = [f"{v} " for v in f0.lon]
        f.loc[:, "category"] = [f"{v}  " for v in f0.category]
        f.columns = [c if c != "lat" else "lat " for c in f.columns]
    return _messy(t, change)


@case("facilities")
def case_semicolon_csv_with_comma_decimals(t):
    return _messy(t, lambda f: None, warn=("separated by semicolons",), sep=";", decimal=",")


@case("facilities")
def case_tab_separated_txt(t):
    f = facilities()
    raw = sample_raw()
    p = t.path("facilities.txt")
    f.to_csv(p, index=False, sep="\t")
    raw["facilities"]["path"] = str(p)
    return t.finish(raw, warn=("separated by tabs",))


@case("facilities")
def case_gbk_csv_read_without_setting(t):
    f = facilities()
    f.loc[0, "name"] = "城关镇社区卫生服务中心"
    raw = sample_raw()
    p = t.path("facilities.csv")
    f.to_csv(p, index=False, encoding="gbk", errors="replace")
    raw["facilities"]["path"] = str(p)
    return t.finish(raw)


def _xlsx(t, f, *, title=None, merge_col=None, sheet="设施"):
    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    if title:
        ws.append([title])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(f.columns))
    ws.append(list(f.columns))
    first = ws.max_row + 1
    for row in f.itertuples(index=False):
        ws.append(list(row))
    if merge_col:
        ci = list(f.columns).index(merge_col) + 1
        r = first
        for _, g in f.groupby(merge_col, sort=False):
            if len(g) > 1:
                for k in range(r + 1, r + len(g)):
                    ws.cell(k, ci).value = None
                ws.merge_cells(start_row=r, start_column=ci, end_row=r + len(g) - 1, end_column=ci)
            r += len(g)
    p = t.path("facilities.xlsx")
    wb.save(p)
    return str(p)


@case("facilities")
def case_excel_title_row_above_header(t):
    raw = sample_raw()
    raw["facilities"]["path"] = _xlsx(t, facilities(), title="某县社区服务设施清单（2024年）")
    return t.finish(raw, warn=("the header is on row 2",))


@case("facilities")
def case_excel_merged_category_cells(t):
    f = facilities().sort_values("category", kind="stable").reset_index(drop=True)
    raw = sample_raw(categories=sorted(set(f.category)))
    raw["facilities"]["path"] = _xlsx(t, f, merge_col="category")
    r = t.finish(raw, warn=("merged cell range(s) were filled",))
    ex = pd.read_csv(r.folder / "excluded.csv", encoding="utf-8-sig")
    assert not (ex.layer == "facilities").any()          # every row got its category
    return r


@case("facilities")
def case_excel_unknown_sheet(t):
    raw = sample_raw()
    raw["facilities"].update(path=_xlsx(t, facilities()), sheet="Sheet1")
    return t.error(raw, field="facilities.sheet", file="facilities.xlsx", words=("设施",))


@case("facilities")
def case_excel_sheet_number_too_big(t):
    raw = sample_raw()
    raw["facilities"].update(path=_xlsx(t, facilities()), sheet=3)
    return t.error(raw, field="facilities.sheet", file="facilities.xlsx", words=("1 sheet(s)",))


@case("facilities")
def case_old_xls_file(t):
    p = t.path("facilities.xls")
    p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    raw = sample_raw()
    raw["facilities"]["path"] = str(p)
    return t.error(raw, field="facilities.path", file="facilities.xls", words=(".xlsx",))


def _projected(f, crs):
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(f.lon.values, f.lat.values)
    f = f.drop(columns=["lon", "lat"])
    f["X"], f["Y"] = x, y
    return f


@case("facilities")
def case_projected_xy_with_facilities_crs(t):
    raw = sample_raw()
    raw["facilities"].update(path=t.csv(_projected(facilities(), SAMPLE_CRS)), x="X", y="Y", crs="EPSG:32635")
    r = t.finish(raw)
    ex = pd.read_csv(r.folder / "excluded.csv", encoding="utf-8-sig")
    assert not (ex.layer == "facilities").any()
    return r


@case("facilities")
def case_projected_xy_without_crs(t):
    raw = sample_raw()
    raw["facilities"].update(path=t.csv(_projected(facilities(), SAMPLE_CRS)), x="X", y="Y")
    return t.error(raw, field="facilities.crs", file="facilities.csv", words=("look projected",))


@case("facilities")
def case_gk_zone_prefixed_xy_without_crs(t):
    c = china_sample()["dir"]
    f = _projected(pd.read_csv(c / "facilities.csv"), "EPSG:4522")       # CGCS2000 3° zone 34 (x = 34xxxxxx)
    raw = china_raw()
    raw["facilities"].update(path=t.csv(f), x="X", y="Y")
    return t.error(raw, field="facilities.crs", file="facilities.csv", words=("EPSG:4522", "zone number 34"))


@case("facilities")
def case_gk_cm_xy_without_crs_names_the_zone(t):
    c = china_sample()["dir"]
    f = _projected(pd.read_csv(c / "facilities.csv"), "EPSG:4543")       # CGCS2000 3° CM 102E
    raw = china_raw()
    raw["facilities"].update(path=t.csv(f), x="X", y="Y")
    return t.error(raw, field="facilities.crs", file="facilities.csv", words=("EPSG:4543",))


@case("facilities")
def case_gk_xy_with_crs_runs(t):
    c = china_sample()["dir"]
    f = _projected(pd.read_csv(c / "facilities.csv"), "EPSG:4543")
    raw = china_raw()
    raw["facilities"].update(path=t.csv(f), x="X", y="Y", crs="4543")
    return t.finish(raw, no_warn=("coord",))


@case("facilities")
def case_gcj02_declared_with_projected_crs(t):
    raw = sample_raw()
    raw["facilities"].update(path=t.csv(_projected(facilities(), SAMPLE_CRS)), x="X", y="Y", crs="EPSG:32635",
                             coord_system="gcj02")
    return t.error(raw, field="facilities.coord_system", file="facilities.csv", words=("lon/lat systems",))


@case("facilities")
def case_unrecognised_categories_listed_with_top_names(t):
    f = facilities()
    f.loc[f.category == "health", "category"] = "卫生站"
    raw = sample_raw()
    raw["facilities"]["path"] = t.csv(f)
    return t.finish(raw, warn=("have no recognised category", "卫生站 ×11", "most frequent names",
                               "health: no facility of this category"))


@case("facilities")
def case_names_only_unmatched_top_ten(t):
    f = facilities().drop(columns=["category"])
    f.loc[:20, "name"] = [f"某某商贸有限公司{i % 3}" for i in range(21)]
    raw = sample_raw(categories=("health",))
    raw["facilities"]["path"] = t.csv(f)
    raw["facilities"]["fields"].pop("category")
    return t.finish(raw, warn=("most frequent names: 某某商贸有限公司0 ×7",))


@case("facilities")
def case_all_of_a_category_dropped(t):
    f = facilities().astype(object)
    f.loc[f.category == "comprehensive", ["lon", "lat"]] = ""
    raw = sample_raw(categories=("comprehensive", "health"))
    raw["facilities"]["path"] = t.csv(f)
    return t.finish(raw, warn=("comprehensive 4 of 4 (4 missing or invalid coordinates)",
                               "comprehensive: all 4 of its facilities were left out", "coverage is 0%"))


@case("facilities")
def case_unreadable_coordinates_listed_with_their_text(t):
    f = facilities().astype(object)
    i = int(np.flatnonzero(facilities().category == "health")[0])
    f.loc[i, "lon"] = "东经24度56分?"
    raw = sample_raw()
    raw["facilities"]["path"] = t.csv(f)
    r = t.finish(raw, warn=("health 1 of 11 (1 missing or invalid coordinates)",))
    ex = pd.read_csv(r.folder / "excluded.csv", encoding="utf-8-sig")
    row = ex[ex.feature_id == str(f.id[i])]
    assert len(row) == 1 and "东经24度56分?" in row.detail.iloc[0]
    return r


@case("facilities")
def case_missing_coordinate_column(t):
    raw = sample_raw()
    raw["facilities"]["x"] = "经度"
    return t.error(raw, field="facilities.x", file="facilities.csv", words=("'经度' not found",))


@case("facilities")
def case_floor_area_as_text(t):
    f = facilities().astype(object)
    f.loc[0, "area_m2"] = "约300平方米"
    f.loc[1, "area_m2"] = "1,200㎡"
    raw = sample_raw()
    raw["facilities"]["path"] = t.csv(f)
    return t.finish(raw, warn=("1 floor areas in column 'area_m2' are not numbers", "约300平方米"))


@case("facilities")
def case_category_map_with_numeric_codes(t):
    f = facilities()
    codes = {c: i + 1 for i, c in enumerate(sorted(set(f.category)))}
    f["category"] = f.category.map(codes)
    raw = sample_raw()
    raw["facilities"]["path"] = t.csv(f)
    raw["facilities"]["category_map"] = {v: k for k, v in codes.items()}
    r = t.finish(raw)
    ex = pd.read_csv(r.folder / "excluded.csv", encoding="utf-8-sig")
    assert not (ex.layer == "facilities").any()
    return r


# --------------------------------------------------------------------------- 6. coordinate systems (coords)

def _china_fac(t, system):
    from coverage.io.coords import wgs84_to_bd09, wgs84_to_gcj02
    f = pd.read_csv(china_sample()["dir"] / "facilities.csv")
    conv = {"gcj02": wgs84_to_gcj02, "bd09": wgs84_to_bd09, "wgs84": lambda a, b: (a, b)}[system]
    f["lon"], f["lat"] = conv(f.lon.values, f.lat.values)
    return t.csv(f)


@case("coords")
def case_amap_gcj02_declared_wgs84(t):
    raw = china_raw()
    raw["facilities"]["path"] = _china_fac(t, "gcj02")
    return t.finish(raw, warn=("fit the roads much better as GCJ02", "facilities.coord_system: gcj02"))


@case("coords")
def case_baidu_bd09_declared_wgs84(t):
    raw = china_raw()
    raw["facilities"]["path"] = _china_fac(t, "bd09")
    return t.finish(raw, warn=("much better as BD09", "coord_system: bd09"))


@case("coords")
def case_baidu_bd09_declared_gcj02(t):
    raw = china_raw()
    raw["facilities"].update(path=_china_fac(t, "bd09"), coord_system="gcj02")
    return t.finish(raw, warn=("much better as BD09",))


@case("coords")
def case_wgs84_right_no_warning(t):
    raw = china_raw()
    raw["facilities"]["path"] = _china_fac(t, "wgs84")
    return t.finish(raw, no_warn=("fit the roads",))


@case("coords")
def case_gcj02_declared_right_no_warning(t):
    raw = china_raw()
    raw["facilities"].update(path=_china_fac(t, "gcj02"), coord_system="gcj02")
    return t.finish(raw, no_warn=("fit the roads",))


# --------------------------------------------------------------------------- 8. stale outputs (stale)

@case("stale")
def case_stale_outputs_of_an_earlier_run_removed(t):
    """A full run (every writer) into a folder holding an earlier run's outputs and a file of the planner's."""
    out = t.path("out")
    (out / "tables").mkdir(parents=True)
    earlier = ["suggested_sites.csv", "siting_summary.csv", "map_commerce.html", "fig_coverage_commerce.png",
               "tables/old_table.csv", "old_listed_by_manifest.txt"]
    for name in earlier:
        (out / name).write_text("earlier run", encoding="utf-8")
    (out / "manifest.json").write_text('{"written": ["old_listed_by_manifest.txt", "map.html"]}', encoding="utf-8")
    (out / "my_notes.docx").write_text("the planner's own file", encoding="utf-8")
    raw = sample_raw(categories=("health",))
    raw["analysis"]["thresholds_min"] = {"default": 15}
    r = t.finish(raw, full=True, warn=("files of an earlier run", "suggested_sites.csv"))
    for name in earlier:
        assert not (out / name).exists(), name
    assert (out / "my_notes.docx").exists()
    import json
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert "map.html" in man["written"] and "excluded.csv" in man["written"]
    assert sorted(man["removed_from_an_earlier_run"]) == sorted(earlier)
    assert all((out / f).exists() for f in man["written"])
    return r


@case("stale")
def case_manifest_never_touches_other_files(t):
    from coverage.report.manifest import record_run
    out = t.path("out")
    out.mkdir()
    for name in ("coverage_summary.csv", "gaps.csv", "map_culture.html", "data.xlsx", "notes.txt"):
        (out / name).write_text("x", encoding="utf-8")

    class Res:
        warnings = []
        config = None
    res = Res()
    record_run(res, out, {"summary": out / "coverage_summary.csv", "elsewhere": Path("/tmp/map.html")})
    assert sorted(p.name for p in out.iterdir()) == ["coverage_summary.csv", "data.xlsx", "manifest.json",
                                                     "notes.txt"]
    assert "gaps.csv" in res.warnings[0] and "map_culture.html" in res.warnings[0]
    return Outcome(0, "", "warning: " + res.warnings[0])


# --------------------------------------------------------------------------- 9. misleading messages (messages)

@case("messages")
def case_south_up_raster_is_read(t):
    a, prof = raster()
    tr = prof["transform"]
    raw = sample_raw()
    raw["population"]["path"] = t.raster(a[::-1], transform=rasterio.Affine(tr.a, 0, tr.c, 0, -tr.e,
                                                                            tr.f + tr.e * a.shape[0]))
    r = t.finish(raw)
    assert _close(r.extra["accounting"]["raster_total"], float(a[a >= 0].sum()), 1e-6)
    ref = pd.read_csv(t.cli(sample_raw(), out=t.path("ref"), light=True).folder / "coverage_by_community.csv",
                      encoding="utf-8-sig")
    got = pd.read_csv(r.folder / "coverage_by_community.csv", encoding="utf-8-sig")
    assert np.allclose(got.population, ref.population, rtol=1e-6)
    return r


@case("messages")
def case_empty_osm_file(t):
    return _network_file(t, "map.osm", b"", source="osm", field="network.path", words=("empty (0 bytes)",))


@case("messages")
def case_osm_file_without_streets(t):
    xml = b'<?xml version="1.0"?><osm version="0.6"><node id="1" lat="60.17" lon="24.94"/></osm>'
    return _network_file(t, "map.osm", xml, source="osm", field="network.path", words=("no streets",))


@case("messages")
def case_road_file_of_points(t):
    shp = t.path("roads.shp")
    communities().representative_point().to_frame("geometry").to_file(shp)
    raw = sample_raw()
    raw["network"] = {"source": "roads", "path": str(shp)}
    return t.error(raw, field="network.path", file="roads.shp", words=("Point features, not lines",))


@case("messages")
def case_road_file_of_polygons(t):
    p = t.path("roads.gpkg")
    communities().to_file(p, layer="roads")
    raw = sample_raw()
    raw["network"] = {"source": "roads", "path": str(p)}
    return t.error(raw, field="network.path", file="roads.gpkg", words=("road surfaces",))


@case("messages")
def case_raster_far_away_states_both_extents(t):
    a, prof = raster()
    tr = prof["transform"]
    raw = sample_raw()
    raw["population"]["path"] = t.raster(a, transform=rasterio.Affine(tr.a, 0, tr.c + 200_000, 0, tr.e, tr.f))
    return t.error(raw, field="population.path", file="population.tif", words=("does not overlap", "area extent"))


@case("messages")
def case_categories_health_string_not_letters(t):
    raw = sample_raw()
    raw["siting"] = {"enabled": True, "categories": "health", "k": 1}
    raw["analysis"]["categories"] = "health"
    r = t.finish(raw)
    assert "'h'" not in r.err
    return r


@case("messages")
def case_wrong_layer_lists_layers(t):
    p = t.path("two.gpkg")
    communities().to_file(p, layer="communities_2020")
    communities().to_file(p, layer="communities_2024")
    raw = sample_raw()
    raw["communities"].update(path=str(p), layer="communities")
    return t.error(raw, field="communities.layer", file="two.gpkg", words=("communities_2020, communities_2024",))


@case("messages")
def case_several_layers_first_read_is_said(t):
    p = t.path("two.gpkg")
    communities().to_file(p, layer="communities")
    communities().representative_point().to_frame("geometry").to_file(p, layer="labels")
    raw = sample_raw()
    raw["communities"].update(path=str(p))
    raw["communities"].pop("layer")
    return t.finish(raw, warn=("has 2 layers", "communities.layer"))


# =========================================================================== subprocess and full runs

@case("crash")
def case_subprocess_config_error_no_traceback(t):
    p = t.path("study.yaml")
    p.write_bytes(yaml.safe_dump(sample_raw(), allow_unicode=True).encode("utf-8").replace(b"thresholds_min", b"thresholds_mn"))
    r = run_subprocess(t, p)
    assert r.code == 2 and r.err.startswith("error:") and "Traceback" not in r.err, r.err
    assert "analysis.thresholds_mn" in r.err and "study.yaml" in r.err and "fix:" in r.err
    return r


@case("crash")
def case_subprocess_truncated_pbf_no_traceback(t):
    b = (SAMPLE / "helsinki.osm.pbf").read_bytes()
    (t.path("cut.osm.pbf")).write_bytes(b[: len(b) // 3])
    raw = sample_raw()
    raw["network"]["path"] = str(t.path("cut.osm.pbf"))
    r = run_subprocess(t, t.yaml(raw))
    assert r.code == 2 and "Traceback" not in r.err and "cut.osm.pbf" in r.err and "network.path" in r.err, r.err
    return r


@case("facilities")
def case_full_run_messy_table_fully_covered_category(t):
    """Every writer (maps, figures, workbook, report) on a messy table, with one category fully
    covered (no gaps at all)."""
    f0 = facilities()
    f = f0.astype(object)
    f.loc[:9, "lon"] = [_fw(f"{v:.6f}") for v in f0.lon[:10]]
    f.loc[10:19, "lat"] = [_dms(v, "N") for v in f0.lat[10:20]]
    raw = sample_raw(categories=("culture", "health"))
    raw["facilities"]["path"] = t.csv(f)
    raw["analysis"]["thresholds_min"] = {"default": 15, "culture": 60}
    raw["analysis"]["breaks_min"] = [60]
    r = t.finish(raw, full=True)
    s = pd.read_csv(r.folder / "coverage_summary.csv", encoding="utf-8-sig")
    assert (s[(s.level == "area") & (s.category == "culture")].coverage_rate == 1).all()
    assert (r.folder / "report.html").exists() and (r.folder / "map.html").exists()
    return r


# =========================================================================== more of each class

@case("crash")
def case_pbf_one_byte_short(t):
    b = (SAMPLE / "helsinki.osm.pbf").read_bytes()
    return _network_file(t, "cut.osm.pbf", b[:-1], field="network.path", words=("truncated", "1 more bytes"))


@case("crash")
def case_community_type_blank(t):
    g = communities()
    g["type"] = g["type"].astype(object)
    g.loc[4, "type"] = None
    raw = sample_raw()
    raw["communities"]["path"] = t.communities(g)
    return t.error(raw, field="communities.fields.type", file="communities.gpkg", words=("(empty)", "HK05"))


@case("population")
def case_community_township_blank(t):
    g = communities()
    g["township"] = g["township"].astype(object)
    g.loc[[0, 5], "township"] = ["", None]
    raw = sample_raw()
    raw["communities"]["path"] = t.communities(g)
    return t.finish(raw, warn=("2 communities have no township", "(blank)"))


@case("population")
def case_raster_with_several_bands(t):
    a, prof = raster()
    p = dict(prof, count=2)
    path = t.path("population.tif")
    with rasterio.open(path, "w", **p) as dst:
        dst.write(a, 1)
        dst.write(a * 0.2, 2)
    raw = sample_raw()
    raw["population"]["path"] = str(path)
    return t.finish(raw, warn=("2 bands; only band 1",))


@case("facilities")
def case_no_category_recognised_at_all(t):
    f = facilities()
    f["category"] = "服务点"
    raw = sample_raw()
    raw["facilities"]["path"] = t.csv(f)
    return t.error(raw, field="facilities.fields.category", file="facilities.csv",
                   words=("no facility is left", "服务点 ×76", "category_map"))


@case("facilities")
def case_every_coordinate_blank(t):
    f = facilities().astype(object)
    f["lon"] = ""
    raw = sample_raw()
    raw["facilities"]["path"] = t.csv(f)
    return t.error(raw, field="facilities.x", file="facilities.csv", words=("76 missing or invalid coordinates",
                                                                            "facilities.crs"))


@case("facilities")
def case_header_only_table(t):
    raw = sample_raw()
    raw["facilities"]["path"] = t.csv(facilities().iloc[:0])
    return t.error(raw, field="facilities.path", file="facilities.csv", words=("empty",))


@case("facilities")
def case_excel_title_row_and_other_column_names(t):
    f = facilities().rename(columns={"lon": "经度", "lat": "纬度"})
    raw = sample_raw()
    raw["facilities"]["path"] = _xlsx(t, f, title="设施清单")
    return t.error(raw, field="facilities.x", file="facilities.xlsx", words=("'lon' not found", "经度"))


# =========================================================================== the test

import pytest  # noqa: E402
from helpers import read_yaml


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(name, tmp_path):
    cls, outcome = run_case(name, tmp_path)
    assert outcome.code in (0, 1, 2)


def test_corpus_covers_every_class():
    from collections import Counter
    n = Counter(cls for cls, _ in CASES.values())
    assert sum(n.values()) >= 100
    assert set(n) == {"crs", "crash", "population", "config", "facilities", "coords", "stale", "messages"}
