"""A corpus of bad inputs built from the sample data at test time: each one must stop with a message
naming the file, the field/key and a fix, or be listed as an exclusion with its reason.

Every case copies/derives one broken thing into tmp_path and points a YAML at it; the rest of the
YAML is the sample's (data/sample/study.yaml) with absolute paths."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely
import yaml
from rasterio.warp import Resampling, calculate_default_transform, reproject

from coverage.cli import main as cli_main
from coverage.config import load_config
from coverage.io.coords import wgs84_to_gcj02
from coverage.core.crs import utm_crs_for
from coverage.analysis.demand import community_population
from helpers import demand_from_raster, read_yaml
from coverage.errors import InputError
from coverage.io.communities import load_communities
from coverage.io.facilities import load_facilities

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
CRS = utm_crs_for(24.944, 60.17)   # the sample's metric CRS (EPSG:32635)


def _sample_cfg():
    raw = read_yaml(SAMPLE / "study.yaml")
    raw["communities"]["path"] = str(SAMPLE / "communities.gpkg")
    raw["facilities"]["path"] = str(SAMPLE / "facilities.csv")
    raw["population"]["path"] = str(SAMPLE / "population.tif")
    raw["network"]["path"] = str(SAMPLE / "helsinki.osm.pbf")
    raw["output"]["folder"] = "out"
    return raw


def write_yaml(tmp_path, raw, name="study.yaml"):
    p = Path(tmp_path) / name
    p.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return p


def assert_message(exc, *, file, field, fix_words=()):
    """The message names the file, the field and a fix."""
    msg = exc.message
    assert exc.file is not None and Path(file).name in exc.file, msg
    assert exc.field is not None and field in exc.field, msg
    assert Path(file).name in msg and field in msg, msg
    assert exc.fix, msg
    for w in fix_words:
        assert w in exc.fix, msg


def communities_gdf():
    return gpd.read_file(SAMPLE / "communities.gpkg", layer="communities")


# ---------------------------------------------------------------- 1. the YAML

def test_unknown_key_typo_suggests_the_right_key(tmp_path):
    raw = _sample_cfg()
    raw["netwrok"] = raw.pop("network")
    p = write_yaml(tmp_path, raw)
    with pytest.raises(InputError) as e:
        load_config(p)
    assert_message(e.value, file=p, field="netwrok", fix_words=("did you mean 'network'",))


def test_unknown_nested_key(tmp_path):
    raw = _sample_cfg()
    raw["analysis"]["walk_sped_kmh"] = 4.0
    p = write_yaml(tmp_path, raw)
    with pytest.raises(InputError) as e:
        load_config(p)
    assert_message(e.value, file=p, field="analysis.walk_sped_kmh", fix_words=("walk_speed_kmh",))


def test_missing_required_key(tmp_path):
    raw = _sample_cfg()
    del raw["communities"]["fields"]["id"]
    p = write_yaml(tmp_path, raw)
    with pytest.raises(InputError) as e:
        load_config(p)
    assert_message(e.value, file=p, field="communities.fields.id", fix_words=("add 'communities.fields.id'",))


def test_missing_file(tmp_path):
    raw = _sample_cfg()
    raw["population"]["path"] = "pop_missing.tif"
    p = write_yaml(tmp_path, raw)
    with pytest.raises(InputError) as e:
        load_config(p)
    assert_message(e.value, file=p, field="population.path", fix_words=("relative to the YAML",))
    assert str(tmp_path / "pop_missing.tif") in e.value.message   # the resolved path is shown


@pytest.mark.parametrize("speed", [-4, 0, "fast", 40, 0.1])
def test_bad_walk_speed(tmp_path, speed):
    raw = _sample_cfg()
    raw["analysis"]["walk_speed_kmh"] = speed
    p = write_yaml(tmp_path, raw)
    with pytest.raises(InputError) as e:
        load_config(p)
    assert_message(e.value, file=p, field="analysis.walk_speed_kmh")


def test_good_walk_speed_accepted(tmp_path):
    raw = _sample_cfg()
    raw["analysis"]["walk_speed_kmh"] = 3
    cfg = load_config(write_yaml(tmp_path, raw))
    assert cfg.analysis.walk_speed_kmh == 3


def test_unknown_category_in_thresholds(tmp_path):
    raw = _sample_cfg()
    raw["analysis"]["thresholds_min"]["helth"] = 10
    p = write_yaml(tmp_path, raw)
    with pytest.raises(InputError) as e:
        load_config(p)
    assert_message(e.value, file=p, field="analysis.thresholds_min.helth",
                   fix_words=("did you mean 'health'", "elderly_care"))


def test_unknown_coord_system_named_with_yaml_file(tmp_path):
    raw = _sample_cfg()
    raw["facilities"]["coord_system"] = "gaud"
    p = write_yaml(tmp_path, raw)
    with pytest.raises(InputError) as e:
        load_config(p)
    assert_message(e.value, file=p, field="facilities.coord_system", fix_words=("gcj02",))


# ------------------------------------------------------- 2. GBK shapefile without .cpg

def _gbk_shapefile(tmp_path):
    shp = tmp_path / "communities_gbk.shp"
    pyogrio.write_dataframe(communities_gdf(), shp, encoding="GBK")
    cpg = shp.with_suffix(".cpg")
    if cpg.exists():
        cpg.unlink()
    # the names really are GBK bytes in the .dbf
    assert "第1社区".encode("gbk") in shp.with_suffix(".dbf").read_bytes()
    return shp


def test_gbk_shapefile_without_cpg_is_detected(tmp_path):
    shp = _gbk_shapefile(tmp_path)
    raw = _sample_cfg()
    raw["communities"]["path"] = str(shp)
    raw["communities"]["layer"] = None
    cfg = load_config(write_yaml(tmp_path, raw))
    with pytest.raises(InputError) as e:
        load_communities(cfg.communities, CRS)
    assert_message(e.value, file=shp, field="communities.encoding", fix_words=("communities.encoding: GBK",))
    assert "社区" in e.value.message          # the message shows what the text should read


def test_gbk_shapefile_reads_right_with_encoding(tmp_path):
    shp = _gbk_shapefile(tmp_path)
    raw = _sample_cfg()
    raw["communities"].update(path=str(shp), layer=None, encoding="GBK")
    cfg = load_config(write_yaml(tmp_path, raw))
    comm, _, _ = load_communities(cfg.communities, CRS)
    want = communities_gdf().set_index("code")["name_zh"]
    got = comm.set_index("community_id")["name"]
    assert got.sort_index().tolist() == want.sort_index().tolist()


def test_latin1_names_are_not_flagged(tmp_path):
    """Finnish names in a Latin-1 shapefile without .cpg are legitimate, not mojibake."""
    g = communities_gdf()
    g["name_zh"] = ["Töölö", "Käpylä", "Työpaja", "Sörnäinen", "Hämeentie", "Ääninen",
                    "Kallio", "Vallila", "Pasila", "Meilahti", "Kamppi", "Punavuori"][: len(g)]
    g["township"] = "Etu-Töölö"
    shp = tmp_path / "latin1.shp"
    pyogrio.write_dataframe(g, shp, encoding="ISO-8859-1")
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    raw = _sample_cfg()
    raw["communities"].update(path=str(shp), layer=None)
    comm, _, _ = load_communities(load_config(write_yaml(tmp_path, raw)).communities, CRS)
    assert "Töölö" in set(comm.name)


# ----------------------------------------------------------- 3. missing .prj

def _shapefile_without_prj(tmp_path, gdf, name):
    shp = tmp_path / f"{name}.shp"
    pyogrio.write_dataframe(gdf, shp)
    shp.with_suffix(".prj").unlink()
    return shp


def test_missing_prj_projected_asks_for_crs(tmp_path):
    shp = _shapefile_without_prj(tmp_path, communities_gdf().to_crs(CRS), "comm_utm")
    raw = _sample_cfg()
    raw["communities"].update(path=str(shp), layer=None)
    cfg = load_config(write_yaml(tmp_path, raw))
    with pytest.raises(InputError) as e:
        load_communities(cfg.communities, CRS)
    assert_message(e.value, file=shp, field="communities.crs", fix_words=("communities.crs",))
    # with the CRS given, the same file loads and matches the sample areas
    raw["communities"]["crs"] = CRS.to_string()
    comm, _, _ = load_communities(load_config(write_yaml(tmp_path, raw, "ok.yaml")).communities, CRS)
    ref, _, _ = load_communities(load_config(write_yaml(tmp_path, _sample_cfg(), "ref.yaml")).communities, CRS)
    assert np.allclose(comm.area.to_numpy(), ref.area.to_numpy(), rtol=1e-6)


def test_missing_prj_lonlat_is_assumed_wgs84_and_said(tmp_path):
    shp = _shapefile_without_prj(tmp_path, communities_gdf(), "comm_ll")
    raw = _sample_cfg()
    raw["communities"].update(path=str(shp), layer=None)
    comm, report, _ = load_communities(load_config(write_yaml(tmp_path, raw)).communities, CRS)
    assert "EPSG:4326" in report["crs_note"] and "communities.crs" in report["crs_note"]
    ref, ref_report, _ = load_communities(load_config(write_yaml(tmp_path, _sample_cfg(), "ref.yaml")).communities, CRS)
    assert "crs_note" not in ref_report
    assert np.allclose(comm.area.to_numpy(), ref.area.to_numpy(), rtol=1e-6)


# --------------------------------------------------------- 4. swapped lon/lat

def _area(cfg):
    comm, _, _ = load_communities(cfg.communities, CRS)
    area = shapely.union_all(comm.geometry.values)
    return area, shapely.buffer(area, 1300.0)


def test_swapped_lonlat_all_rows_stops_with_the_swap_hint(tmp_path):
    raw = _sample_cfg()
    raw["facilities"]["x"], raw["facilities"]["y"] = "lat", "lon"
    cfg = load_config(write_yaml(tmp_path, raw))
    area, buf = _area(cfg)
    with pytest.raises(InputError) as e:
        load_facilities(cfg.facilities, CRS, buf, area)
    msg = e.value.message
    assert "facilities.csv" in msg and "facilities.x" in msg and "look swapped" in msg
    assert "set x: lon and y: lat" in msg


def test_swapped_lonlat_some_rows_listed_with_hint(tmp_path):
    df = pd.read_csv(SAMPLE / "facilities.csv")
    swap = np.arange(len(df)) % 4 != 0          # 3 of 4 rows swapped
    df.loc[swap, ["lon", "lat"]] = df.loc[swap, ["lat", "lon"]].to_numpy()
    csv = tmp_path / "facilities_swapped.csv"
    df.to_csv(csv, index=False)
    raw = _sample_cfg()
    raw["facilities"]["path"] = str(csv)
    cfg = load_config(write_yaml(tmp_path, raw))
    area, buf = _area(cfg)
    fac, excl, report = load_facilities(cfg.facilities, CRS, buf, area)
    out = excl[excl.reason == "outside the study area and its buffer"]
    assert set(out.feature_id) == set(df.id[swap].astype(str))        # every swapped row is listed
    assert "look swapped" in report["hint"]
    assert (out.detail == report["hint"]).all()
    assert set(fac.facility_id) <= set(df.id[~swap].astype(str))


# --------------------------------------------------- 5. GCJ-02 not declared (China)

def test_gcj02_not_declared_falls_off_declared_lands_inside(tmp_path):
    lon0, lat0 = 102.71, 25.04                   # Kunming
    crs = utm_crs_for(lon0, lat0)
    centre = gpd.GeoSeries(shapely.points([lon0], [lat0]), crs="EPSG:4326").to_crs(crs).iloc[0]
    sq = shapely.box(centre.x - 200, centre.y - 200, centre.x + 200, centre.y + 200)
    comm = gpd.GeoDataFrame({"code": ["KM01"], "name": ["昆明示例社区"]}, geometry=[sq], crs=crs).to_crs("EPSG:4326")
    comm.to_file(tmp_path / "km.gpkg", layer="c")
    # true WGS84 positions within 50 m of the centre; the table holds their Amap (GCJ-02) values
    rng = np.random.default_rng(0)
    dx, dy = rng.uniform(-50, 50, 6), rng.uniform(-50, 50, 6)
    true = gpd.GeoSeries(shapely.points(centre.x + dx, centre.y + dy), crs=crs).to_crs("EPSG:4326")
    glon, glat = wgs84_to_gcj02(true.x.to_numpy(), true.y.to_numpy())
    pd.DataFrame({"id": [f"F{i}" for i in range(6)], "name": "社区卫生服务站", "category": "health",
                  "lon": glon, "lat": glat}).to_csv(tmp_path / "km.csv", index=False)
    raw = _sample_cfg()
    raw["communities"] = {"path": str(tmp_path / "km.gpkg"), "layer": "c", "fields": {"id": "code", "name": "name"}}
    raw["facilities"].update(path=str(tmp_path / "km.csv"), coord_system="wgs84")
    raw["facilities"]["fields"] = {"id": "id", "name": "name", "category": "category"}
    cfg = load_config(write_yaml(tmp_path, raw))
    c, _, _ = load_communities(cfg.communities, crs)
    area = shapely.union_all(c.geometry.values)
    buf = shapely.buffer(area, 20.0)
    # the GCJ-02 offset here is several hundred metres: enough to move every facility out of the square and its 20 m buffer
    g = gpd.GeoSeries(shapely.points(glon, glat), crs="EPSG:4326").to_crs(crs)
    off = np.hypot(g.x.to_numpy() - (centre.x + dx), g.y.to_numpy() - (centre.y + dy))
    assert (off > 250).all() and (off < 1000).all()
    with pytest.raises(InputError) as e:
        load_facilities(cfg.facilities, crs, buf, area)
    assert "coord_system" in e.value.message and "GCJ-02" in e.value.message
    cfg = dataclasses.replace(cfg, facilities=dataclasses.replace(cfg.facilities, coord_system="gcj02"))
    fac, excl, _ = load_facilities(cfg.facilities, crs, buf, area)
    assert len(fac) == 6 and fac.inside_area.all()
    err = np.hypot(fac.set_index("facility_id").loc[[f"F{i}" for i in range(6)]].geometry.x.to_numpy() - (centre.x + dx),
                   fac.set_index("facility_id").loc[[f"F{i}" for i in range(6)]].geometry.y.to_numpy() - (centre.y + dy))
    assert err.max() < 0.01


# ----------------------------------------------------------------- 6. layers

def test_empty_layer(tmp_path):
    g = communities_gdf().iloc[:0]
    gp = tmp_path / "empty.gpkg"
    g.to_file(gp, layer="communities")
    raw = _sample_cfg()
    raw["communities"]["path"] = str(gp)
    cfg = load_config(write_yaml(tmp_path, raw))
    with pytest.raises(InputError) as e:
        load_communities(cfg.communities, CRS)
    assert_message(e.value, file=gp, field="communities.path")
    assert "empty" in e.value.problem


def test_duplicate_community_ids_listed(tmp_path):
    g = communities_gdf()
    g.loc[g.code == "HK02", "code"] = "HK01"
    g.loc[g.code == "HK07", "code"] = "HK05"
    gp = tmp_path / "dup.gpkg"
    g.to_file(gp, layer="communities")
    raw = _sample_cfg()
    raw["communities"]["path"] = str(gp)
    with pytest.raises(InputError) as e:
        load_communities(load_config(write_yaml(tmp_path, raw)).communities, CRS)
    assert_message(e.value, file=gp, field="communities.fields.id", fix_words=("unique",))
    assert "HK01, HK05" in e.value.problem and "HK03" not in e.value.problem


def test_bowtie_repaired_and_counted(tmp_path):
    g = communities_gdf().to_crs(CRS)
    i = int(np.flatnonzero(g.code == "HK01")[0])    # the first code keeps its overlaps
    x0, y0, x1, y1 = g.geometry.iloc[i].bounds
    bow = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    assert not bow.is_valid
    g.loc[g.index[i], "geometry"] = bow
    gp = tmp_path / "bowtie.gpkg"
    g.to_file(gp, layer="communities")
    raw = _sample_cfg()
    raw["communities"]["path"] = str(gp)
    comm, report, _ = load_communities(load_config(write_yaml(tmp_path, raw)).communities, CRS)
    assert report["invalid_repaired"] == 1 and report["invalid_ids"] == ["HK01"]
    assert shapely.is_valid(comm.geometry.values).all()
    hk01 = comm.set_index("community_id").geometry["HK01"]
    # two triangles, each a quarter of the bounding box: half the box in all
    assert hk01.area == pytest.approx((x1 - x0) * (y1 - y0) / 2, rel=1e-9)


def _sample_demand(tmp_path, raster):
    raw = _sample_cfg()
    cfg = load_config(write_yaml(tmp_path, raw, "d.yaml"))
    comm, _, _ = load_communities(cfg.communities, CRS)
    d, rep = demand_from_raster(comm, raster, CRS)
    return comm, d, rep


def test_raster_in_another_crs_gives_the_same_totals(tmp_path):
    src_path = SAMPLE / "population.tif"
    dst_path = tmp_path / "pop_4326.tif"
    with rasterio.open(src_path) as src:
        data = src.read(1, masked=True).filled(0).astype("float64")
        # fine grid (about 4x finer than the 100 m source): each target pixel takes the index of the
        # source cell under its centre (nearest), and a source cell's count is shared equally by its
        # pixels, so the raster total is exactly the source total
        tr, w, h = calculate_default_transform(src.crs, "EPSG:4326", src.width, src.height, *src.bounds,
                                               resolution=(0.0004, 0.0002))
        idx = np.arange(1, data.size + 1, dtype="float64").reshape(data.shape)
        pix = np.zeros((h, w))
        reproject(idx, pix, src_transform=src.transform, src_crs=src.crs, dst_transform=tr,
                  dst_crs="EPSG:4326", resampling=Resampling.nearest, src_nodata=None, dst_nodata=0)
        pix = pix.astype(np.int64)
        counts = np.bincount(pix.ravel(), minlength=data.size + 1)
        vals = np.r_[0.0, data.ravel()] / np.maximum(counts, 1)
        out = vals[pix]
        assert out.sum() == pytest.approx(data.sum(), rel=1e-9)
        prof = dict(driver="GTiff", width=w, height=h, count=1, dtype="float64", crs="EPSG:4326",
                    transform=tr, nodata=-1.0)
        with rasterio.open(dst_path, "w", **prof) as dst:
            dst.write(out, 1)
    comm, d0, _ = _sample_demand(tmp_path, src_path)
    _, d1, _ = _sample_demand(tmp_path, dst_path)
    p0 = community_population(d0, comm)
    p1 = community_population(d1, comm)
    assert p0.sum() > 0
    assert p1.sum() == pytest.approx(p0.sum(), rel=0.02)
    big = p0 > 0.05 * p0.sum()
    assert np.allclose(p1[big], p0[big], rtol=0.05)


def test_raster_that_does_not_overlap(tmp_path):
    dst_path = tmp_path / "pop_far.tif"
    with rasterio.open(SAMPLE / "population.tif") as src:
        prof = src.profile.copy()
        prof["transform"] = rasterio.Affine(src.transform.a, 0, src.transform.c + 200_000, 0, src.transform.e,
                                            src.transform.f)
        with rasterio.open(dst_path, "w", **prof) as dst:
            dst.write(src.read(1), 1)
    raw = _sample_cfg()
    cfg = load_config(write_yaml(tmp_path, raw))
    comm, _, _ = load_communities(cfg.communities, CRS)
    with pytest.raises(InputError) as e:
        demand_from_raster(comm, dst_path, CRS)
    assert_message(e.value, file=dst_path, field="population.path", fix_words=("raster of this region",))
    assert "does not overlap" in e.value.problem


def test_missing_category_column_names_field_and_columns(tmp_path):
    raw = _sample_cfg()
    raw["facilities"]["fields"]["category"] = "kategoria"
    cfg = load_config(write_yaml(tmp_path, raw))
    area, buf = _area(cfg)
    with pytest.raises(InputError) as e:
        load_facilities(cfg.facilities, CRS, buf, area)
    assert_message(e.value, file=SAMPLE / "facilities.csv", field="facilities.fields.category")
    for col in ("id", "name", "category", "lon", "lat"):
        assert col in e.value.problem
    assert "'kategoria'" in e.value.problem


# ---------------------------------------------------------------- 7. the CLI

def _cli(argv, capsys):
    code = cli_main(argv)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _bad_yaml_typo(tmp_path):
    raw = _sample_cfg()
    raw["netwrok"] = raw.pop("network")
    return write_yaml(tmp_path, raw)


def _bad_no_prj_projected(tmp_path):
    shp = _shapefile_without_prj(tmp_path, communities_gdf().to_crs(CRS), "comm_utm")
    raw = _sample_cfg()
    raw["communities"].update(path=str(shp), layer=None)
    return write_yaml(tmp_path, raw)


def _bad_gbk(tmp_path):
    raw = _sample_cfg()
    raw["communities"].update(path=str(_gbk_shapefile(tmp_path)), layer=None)
    return write_yaml(tmp_path, raw)


def _bad_swapped(tmp_path):
    raw = _sample_cfg()
    raw["facilities"]["x"], raw["facilities"]["y"] = "lat", "lon"
    return write_yaml(tmp_path, raw)


def _bad_empty(tmp_path):
    gp = tmp_path / "empty.gpkg"
    communities_gdf().iloc[:0].to_file(gp, layer="communities")
    raw = _sample_cfg()
    raw["communities"]["path"] = str(gp)
    return write_yaml(tmp_path, raw)


def _bad_raster_far(tmp_path):
    dst_path = tmp_path / "pop_far.tif"
    with rasterio.open(SAMPLE / "population.tif") as src:
        prof = src.profile.copy()
        prof["transform"] = rasterio.Affine(100, 0, src.transform.c + 200_000, 0, -100, src.transform.f)
        with rasterio.open(dst_path, "w", **prof) as dst:
            dst.write(src.read(1), 1)
    raw = _sample_cfg()
    raw["population"]["path"] = str(dst_path)
    return write_yaml(tmp_path, raw)


BAD = {
    "yaml_typo": (_bad_yaml_typo, "netwrok"),
    "gbk": (_bad_gbk, "communities.encoding"),
    "swapped": (_bad_swapped, "look swapped"),
    "raster_far": (_bad_raster_far, "does not overlap"),
    "no_prj_projected": (_bad_no_prj_projected, "communities.crs"),
    "empty_layer": (_bad_empty, "empty"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_cli_bad_input_exit_2_no_traceback(tmp_path, capsys, case):
    make, words = BAD[case]
    p = make(tmp_path)
    code, out, err = _cli(["run", "--config", str(p), "--out", str(tmp_path / "o"), "--quiet"], capsys)
    assert code == 2, err
    assert err.startswith("error:") and "Traceback" not in err and words in err, err


# The same typo through `python -m coverage` in a process of its own (exit code 2, no traceback):
# tests/test_pipeline.py::test_module_entry_point_and_bad_config_message.


def test_run_lists_unsnapped_demand_and_swapped_facilities(tmp_path, capsys):
    """One full run (siting and circles off): a 1 m snap distance leaves most demand unsnapped, and
    3 of 4 facility rows have lon/lat swapped; both are listed in excluded.csv with their reasons."""
    df = pd.read_csv(SAMPLE / "facilities.csv")
    swap = np.arange(len(df)) % 4 != 0
    df.loc[swap, ["lon", "lat"]] = df.loc[swap, ["lat", "lon"]].to_numpy()
    csv = tmp_path / "facilities_swapped.csv"
    df.to_csv(csv, index=False)
    raw = _sample_cfg()
    raw["facilities"]["path"] = str(csv)
    raw["network"]["max_snap_m"] = 1
    raw["siting"]["enabled"] = False
    raw["analysis"]["circles"] = False
    p = write_yaml(tmp_path, raw)
    code, out, err = _cli(["run", "--config", str(p), "--out", str(tmp_path / "o"), "--quiet"], capsys)
    assert code == 0, err
    ex = pd.read_csv(tmp_path / "o" / "excluded.csv", dtype=str, keep_default_na=False)
    # swapped facilities: every one listed, with the swap hint in the detail column
    fx = ex[(ex.layer == "facilities") & (ex.reason == "outside the study area and its buffer")]
    assert set(fx.feature_id) == set(df.id[swap].astype(str))
    assert fx.detail.str.contains("look swapped", regex=False).all()
    # unsnapped demand: listed one row per demand point with its population
    cfg = load_config(p)
    comm, _, _ = load_communities(cfg.communities, CRS)
    d, _ = demand_from_raster(comm, cfg.population.path, CRS)
    ux = ex[(ex.layer == "population") & ex.reason.str.contains("max_snap_m = 1", regex=False)]
    listed = ux.detail.str.extract(r"population ([0-9.]+)")[0].astype(float)
    assert listed.notna().all()
    assert len(ux) > 0.5 * len(d) and listed.sum() > 0.5 * d.population.sum()
    assert set(ux.feature_id.astype(int)) <= set(range(len(d)))
    # and the planner is told on the console, even with --quiet
    assert "warning:" in err and "network.max_snap_m" in err and "look swapped" in err
