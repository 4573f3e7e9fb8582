"""Priority groups: with an age raster, a category's coverage is weighed by that group."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio

from coverage.study import Study

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def test_health_coverage_weighed_by_the_elderly_raster(tmp_path):
    for f in SAMPLE.iterdir():
        shutil.copy(f, tmp_path / f.name)
    # an "elderly" raster: the total raster with all people in the western half of the columns
    with rasterio.open(SAMPLE / "population.tif") as src:
        prof, data = src.profile, src.read(1)
    eld = np.where(data > 0, data * 0.25, data)
    eld[:, data.shape[1] // 2:] = np.where(data[:, data.shape[1] // 2:] > 0, 0.0, data[:, data.shape[1] // 2:])
    with rasterio.open(tmp_path / "elderly.tif", "w", **prof) as dst:
        dst.write(eld, 1)
    y = (tmp_path / "study.yaml").read_text(encoding="utf-8")
    y = y.replace("population:\n  path: population.tif",
                  "population:\n  path: population.tif\n  groups: {elderly: elderly.tif}\n  group_for: {health: elderly}")
    y = y.replace("siting:\n", "siting:\n  enabled: false\n")
    (tmp_path / "study.yaml").write_text(y, encoding="utf-8")
    res = Study.from_yaml(tmp_path / "study.yaml").coverage()
    d = res.demand
    from helpers import demand_from_raster
    direct, _ = demand_from_raster(res.communities, tmp_path / "elderly.tif", res.crs)
    # the group population is conserved when attached to the demand points, community by community
    assert d["pop_elderly"].sum() == pytest.approx(direct.population.sum())
    got = d.groupby("community_id").pop_elderly.sum()
    ref = direct.groupby("community_id").population.sum().reindex(got.index).fillna(0)
    assert np.allclose(got.to_numpy(), ref.to_numpy())
    s = res.coverage_summary
    row = s[(s.level == "area") & (s.category == "health") & (s.threshold_min == 15)].iloc[0]
    assert row.population_group == "elderly"
    cov = d["dist_health"].to_numpy() <= 1000
    expect = (d.pop_elderly * cov).sum() / d.pop_elderly.sum()
    assert row.coverage_rate == pytest.approx(expect)
    total = (d.population * cov).sum() / d.population.sum()
    assert abs(expect - total) > 1e-3  # the group really changes the answer on this data
    other = s[(s.level == "area") & (s.category == "commerce") & (s.threshold_min == 15)].iloc[0]
    assert other.population_group == "total"
