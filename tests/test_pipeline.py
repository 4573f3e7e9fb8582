"""End to end on the shipped sample: files, encodings, consistency, determinism, the CLI."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "study.yaml"


@pytest.fixture(scope="module")
def two_runs(sample_cli, sample_results, tmp_path_factory):
    """The command line's run in a process of its own (the session's sample_out, tests/conftest.py)
    and the lead tables written from the session's in-process run by the function Results.write
    writes them with: the same inputs must give byte-identical tables across processes, not only
    within one."""
    from coverage.report.outputs import _write_csvs
    assert sample_cli["returncode"] == 0, sample_cli["stderr"][-2000:]
    assert "Traceback" not in sample_cli["stderr"]
    assert "Step timings" in sample_cli["stdout"]
    out = tmp_path_factory.mktemp("in_process")
    _write_csvs(sample_results, out)
    return [sample_cli["out"], out]


TABLES = ["coverage_by_community.csv", "coverage_summary.csv", "excluded.csv", "indicators.csv",
          "gaps.csv", "suggested_sites.csv", "siting_summary.csv"]


def test_outputs_exist_and_csv_has_bom(two_runs):
    out = two_runs[0]
    for f in TABLES + ["layers.gpkg", "map.html", "indicators.md"]:
        assert (out / f).exists(), f
    for f in TABLES:
        assert (out / f).read_bytes()[:3] == b"\xef\xbb\xbf", f


def test_same_inputs_give_byte_identical_tables(two_runs):
    a, b = two_runs
    for f in TABLES + ["indicators.md"]:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f


def test_tables_are_consistent(two_runs):
    out = two_runs[0]
    bc = pd.read_csv(out / "coverage_by_community.csv", encoding="utf-8-sig")
    sm = pd.read_csv(out / "coverage_summary.csv", encoding="utf-8-sig")
    assert bc.coverage_rate.dropna().between(0, 1).all()
    area = sm[sm.level == "area"]
    for (cat, t), g in bc.groupby(["category", "threshold_min"]):
        row = area[(area.category == cat) & (area.threshold_min == t)].iloc[0]
        assert row.covered_pop == pytest.approx(g.covered_pop.sum(), rel=1e-6)
        assert row.population == pytest.approx(g.population.sum(), rel=1e-6)
    # a larger threshold never lowers coverage, in any unit
    for (lvl, unit, cat), g in sm.groupby(["level", "unit", "category"]):
        r = g.sort_values("threshold_min").covered_pop.to_numpy()
        assert np.all(np.diff(r) >= -1e-6), (lvl, unit, cat)
    # the sample has real gaps: elderly care has no facility at all, and 5 minutes is not full
    eld = area[(area.category == "elderly_care")]
    assert (eld.coverage_rate == 0).all()
    assert (area[area.threshold_min == 5].coverage_rate < 1).all()
    # conservation: population in the communities + population listed as excluded = the raster's total
    # (an independent rasterio sum; the sample raster lies wholly within the area read)
    import rasterio
    with rasterio.open(ROOT / "data" / "sample" / "population.tif") as src:
        band = src.read(1, masked=True)
    raster_total = float(band.sum())
    ex = pd.read_csv(out / "excluded.csv", encoding="utf-8-sig")
    lost = ex[(ex.layer == "population") & ex.feature_id.str.startswith("cells")]
    listed = lost.detail.str.extract(r"([\d.]+) people")[0].astype(float).sum()
    in_communities = area[(area.category == "health") & (area.threshold_min == 15)].population.iloc[0]
    assert listed > 0
    assert in_communities + listed == pytest.approx(raster_total, rel=1e-3)


def test_layers_and_map(two_runs):
    import pyogrio
    out = two_runs[0]
    names = {n for n, _ in pyogrio.list_layers(out / "layers.gpkg")}
    assert {"communities", "facilities", "demand_points", "life_circles", "facility_circles", "gaps",
            "suggested_sites"} <= names
    run_json = (two_runs[0] / "run.json").read_text(encoding="utf-8")
    assert '"bounded multi-source shortest paths per category"' in run_json and '"peak_rss_mb"' in run_json
    html = (out / "map.html").read_text(encoding="utf-8")
    # Leaflet is inlined so the map draws offline (no CDN link for it)
    assert "/leaflet.js\"" not in html and "L.map(" in html and "Leaflet" in html


def test_module_entry_point_and_bad_config_message(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SAMPLE.read_text(encoding="utf-8").replace("network:", "netwrok:"), encoding="utf-8")
    p = subprocess.run([sys.executable, "-m", "coverage", "run", "--config", str(bad), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 2
    assert p.stderr.startswith("error:") and "netwrok" in p.stderr and "Traceback" not in p.stderr
    assert str(bad) in p.stderr


def test_suggested_sites_report_capacity(two_runs):
    s = pd.read_csv(two_runs[0] / "suggested_sites.csv", encoding="utf-8-sig")
    # a 300 m² station supports 300 / 30 × 100 = 1000 households
    assert (s.supported_households == 1000).all()
    assert (s.oversubscribed == (s.households_assigned > s.supported_households + 1e-9)).all()
    assert np.allclose(s.area_shortfall_m2, np.maximum(0, s.households_assigned * 0.3 - 300))
    assert (s.households_assigned <= s.households_in_catchment + 1e-6).all()
