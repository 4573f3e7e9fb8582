"""Province batch on Dask distributed (`python -m coverage batch`).

Three small counties cut from the sample (its communities split by township, each with the
sample's network, raster and facilities; two categories, no circles, no siting, to stay quick),
one broken (a missing field). The batch runs on real worker processes (LocalCluster, 2 workers,
processes=True: the batch's own default, and the only mode where a county's memory stays in its
worker); its per-county tables must equal single runs byte for byte."""

from __future__ import annotations

import json
import os
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import yaml

from coverage.errors import InputError
from helpers import read_yaml

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
TABLES = ("coverage_summary.csv", "coverage_by_community.csv", "indicators.csv")
CATS = ["comprehensive", "health"]


def _county_raw(gpkg: str, name: str) -> dict:
    raw = read_yaml(SAMPLE / "study.yaml")
    raw["study_area"]["name"] = name
    raw["communities"]["path"] = gpkg
    for k in ("facilities", "population", "network"):
        raw[k]["path"] = str(SAMPLE / raw[k]["path"])
    raw["analysis"].update(circles=False, categories=CATS)
    raw["siting"] = {"enabled": False}
    raw["output"] = {"folder": "single_out"}
    return raw


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    """C1, C2: good counties; C3: communities.fields.township names a missing column."""
    d = tmp_path_factory.mktemp("province")
    comm = gpd.read_file(SAMPLE / "communities.gpkg", layer="communities")
    names = {}
    for i, (tw, part) in enumerate(sorted(comm.groupby("township"))):
        code = f"C{i + 1}"
        part.to_file(d / f"{code}.gpkg", layer="communities", driver="GPKG")
        names[code] = f"<b>县</b>{tw}"          # a user string that must reach the HTML escaped
        raw = _county_raw(f"{code}.gpkg", names[code])
        if code == "C3":
            raw["communities"]["fields"]["township"] = "no_such_field"
        (d / f"{code}.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    (d / "province.yaml").write_text(yaml.safe_dump(
        {"name": "测试省 <script>alert(1)</script>{{7*7}}", "counties": ["C1.yaml", "C2.yaml", "C3.yaml"],
         "map_category": "health", "output": {"folder": "out"}}, allow_unicode=True), encoding="utf-8")
    return d, names


def _single_tables(yaml_path: Path, out: Path):
    """A single run of one county: Study(...).run(), tables written by the same writer as Results.write."""
    from coverage.config import load_config
    from coverage.report.outputs import _csv
    from coverage.study import Study
    res = Study(config=load_config(yaml_path)).run()
    out.mkdir(parents=True)
    _csv(res.coverage_summary, out / "coverage_summary.csv")
    _csv(res.coverage_by_community, out / "coverage_by_community.csv")
    _csv(res.indicators, out / "indicators.csv")
    return res


def _run_json(out: Path) -> dict:
    return {c["code"]: c for c in json.loads((out / "province_run.json").read_text(encoding="utf-8"))["counties"]}


def test_batch_on_dask_equals_single_runs_and_reruns_only_what_changed(province, capsys):
    from distributed import LocalCluster

    from coverage.cli import main
    d, _ = province
    out = d / "out"

    # 1. the default: a LocalCluster of 2 worker processes started by the batch
    assert main(["batch", "--config", str(d / "province.yaml"), "--workers", "2"]) == 1  # one county failed
    err = capsys.readouterr()
    assert "C3" in err.out and "no_such_field" in err.out

    for code in ("C1", "C2"):
        ref = d / "single" / code
        _single_tables(d / f"{code}.yaml", ref)
        for t in TABLES:
            assert (out / code / t).read_bytes() == (ref / t).read_bytes(), f"{code}/{t} differs from a single run"
        for f in ("map.html", "tables.xlsx", "report.html", "run.json", "batch_stamp.json"):
            assert (out / code / f).is_file()

    s = pd.read_csv(out / "province_summary.csv")
    s["error"] = s["error"].fillna("")
    ok = s[s.status == "ok"]
    assert sorted(ok.county_code.unique()) == ["C1", "C2"] and len(ok) == 2 * len(CATS)
    ref = pd.read_csv(d / "single" / "C1" / "coverage_summary.csv")
    ref = ref[(ref.level == "area") & (ref.threshold_min == 15)].set_index("category")
    c1 = ok[ok.county_code == "C1"].set_index("category")
    for cat in CATS:
        assert c1.loc[cat, "coverage_rate"] == pytest.approx(ref.loc[cat, "coverage_rate"], abs=1e-9)
        assert c1.loc[cat, "population"] == pytest.approx(ref.loc[cat, "population"], abs=1e-6)
    bad = s[s.county_code == "C3"]
    assert len(bad) == 1 and bad.status.iloc[0] == "failed"
    assert "no_such_field" in bad.error.iloc[0] and "communities.fields.township" in bad.error.iloc[0]
    assert set(pd.read_csv(out / "province_indicators.csv").county_code) == {"C1", "C2"}
    import openpyxl
    assert openpyxl.load_workbook(out / "province.xlsx").sheetnames == ["汇总 Summary", "规划指标 Indicators"]
    page = (out / "province_map.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in page and "<b>县</b>" not in page
    # and not run as a template (folium renders its page twice): the braces stay text
    assert "alert(1)&lt;/script&gt;49" not in page and "&#123;&#123;7*7&#125;&#125;" in page
    assert "&lt;script&gt;alert(1)" in page and "/leaflet.js\"></script>" not in page  # escaped; Leaflet inlined
    assert page.count('"type": "Feature"') + page.count('"type":"Feature"') >= 2
    summary_bytes = (out / "province_summary.csv").read_bytes()

    # 2. rerun on an existing cluster (--scheduler): the good counties are skipped, the broken one is retried
    # (a scheduler on TCP with one worker thread in this process: the worker processes were the batch's own
    # cluster above; a process costs seconds of start-up and imports)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://",
                      dashboard_address=None) as cluster:
        addr = cluster.scheduler_address
        assert addr.startswith("tcp://")
        assert main(["batch", "--config", str(d / "province.yaml"), "--scheduler", addr, "--quiet"]) == 1
        runs = _run_json(out)
        assert (runs["C1"]["ran"], runs["C2"]["ran"], runs["C3"]["ran"]) == (False, False, True)
        assert (out / "province_summary.csv").read_bytes() == summary_bytes

        # 3. an input changes (C2 loses a community): C2 runs again, C1 is still skipped
        c2 = gpd.read_file(d / "C2.gpkg", layer="communities")
        c2.iloc[1:].to_file(d / "C2.gpkg", layer="communities", driver="GPKG")
        assert main(["batch", "--config", str(d / "province.yaml"), "--scheduler", addr, "--quiet"]) == 1
    runs = _run_json(out)
    assert (runs["C1"]["ran"], runs["C2"]["ran"]) == (False, True)
    assert runs["C2"]["status"] == "ok"
    cs = pd.read_csv(out / "C2" / "coverage_summary.csv")
    assert cs[cs.level == "area"].communities.max() == len(c2) - 1


# --------------------------------------------------------------------------- no cluster needed

def test_input_hash_follows_bytes_and_config_not_mtime(province):
    from coverage.batch_county import input_files, input_stamp
    from coverage.config import load_config
    d, _ = province
    y = d / "C1.yaml"
    cfg = load_config(y)
    assert {p.name for p in input_files(cfg)} == {"C1.gpkg", "facilities.csv", "population.tif", "helsinki.osm.pbf"}
    h0, inputs = input_stamp(cfg)
    gpkg = d / "C1.gpkg"
    data = gpkg.read_bytes()
    os.utime(gpkg, ns=(0, 1_000_000_000))                  # touched, same bytes: same hash
    assert input_stamp(cfg, previous=inputs)[0] == h0
    gpkg.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))     # one bit changed, same size: new hash
    try:
        assert input_stamp(cfg)[0] != h0
    finally:
        gpkg.write_bytes(data)
    raw = yaml.safe_load(y.read_text(encoding="utf-8"))
    raw["network"]["max_snap_m"] = 301
    (d / "C1b.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert input_stamp(load_config(d / "C1b.yaml"))[0] != h0               # a setting changed
    raw["output"] = {"folder": "elsewhere"}
    raw["network"]["max_snap_m"] = 300
    (d / "C1b.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert input_stamp(load_config(d / "C1b.yaml"))[0] == h0               # the output folder is not an input


def test_template_and_table_give_the_county_configs(province):
    from dataclasses import replace

    from coverage.batch import load_province
    from coverage.config import load_config
    d, names = province
    tpl = _county_raw("{code}.gpkg", "{name}")
    tpl["network"]["max_snap_m"] = "{snap}"
    (d / "template.yaml").write_text(yaml.safe_dump(tpl, allow_unicode=True), encoding="utf-8")
    pd.DataFrame({"code": ["C1", "C2"], "name": [names["C1"], names["C2"]], "snap": ["300", "300"]}).to_csv(
        d / "counties.csv", index=False, encoding="utf-8-sig")
    (d / "tprov.yaml").write_text("template: template.yaml\ntable: counties.csv\n", encoding="utf-8")
    prov = load_province(d / "tprov.yaml", out=d / "tout")
    assert [s.code for s in prov.counties] == ["C1", "C2"]
    assert prov.counties[0].name == names["C1"] and prov.counties[0].out_dir == str(d / "tout" / "C1")
    for spec in prov.counties:
        got = spec.config()
        want = load_config(d / f"{spec.code}.yaml").with_output(folder=Path(spec.out_dir),
                                                                 map_path=Path(spec.out_dir) / "map.html")
        assert replace(got, file="", base=Path(".")) == replace(want, file="", base=Path("."))


@pytest.mark.parametrize("text, table, field, words", [
    ("counties: [C1.yaml]\nnmae: x\n", None, "nmae", "did you mean 'name'"),
    ("name: x\n", None, "counties / template", "either"),
    ("counties: [C1.yaml]\ntemplate: template.yaml\ntable: t.csv\n", "code,name\nA,a\n", "counties / template", "either"),
    ("template: template.yaml\ntable: {path: t.csv, code: 代码}\n", "code,name\nA,a\n", "table.code", "no column '代码'"),
    ("template: template.yaml\ntable: t.csv\n", "code,name\nA,a\nA,b\n", "code", "given twice"),
    ("template: template.yaml\ntable: t.csv\n", "code,name\nA/B,a\n", "county 1: code", "folder name"),
    ("template: tbad.yaml\ntable: t.csv\n", "code,name\nA,a\n", "communities.path", "placeholder {county}"),
    ("counties: [C1.yaml]\ndask: {memory_limit: lots}\n", None, "dask.memory_limit / --memory-limit", "not a size"),
    ("counties: [C1.yaml]\nmap_category: helth\n", None, "map_category", "did you mean 'health'"),
])
def test_province_yaml_mistakes_name_file_key_and_fix(province, tmp_path, text, table, field, words):
    from coverage.batch import load_province
    d, _ = province
    (tmp_path / "C1.yaml").write_bytes((d / "C1.yaml").read_bytes())
    (tmp_path / "template.yaml").write_bytes((d / "C1.yaml").read_bytes())
    (tmp_path / "tbad.yaml").write_text("communities: {path: '{county}.gpkg'}\n", encoding="utf-8")
    if table:
        (tmp_path / "t.csv").write_text(table, encoding="utf-8")
    (tmp_path / "p.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_province(tmp_path / "p.yaml")
    assert e.value.field == field and words in e.value.message and e.value.fix


def test_cli_batch_input_error_exits_2(tmp_path, capsys):
    from coverage.cli import main
    assert main(["batch", "--config", str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: province YAML not found") and "fix:" in err
