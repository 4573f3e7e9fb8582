"""data/sample/study_hilly.yaml is the sample on its synthetic terrain: the same study as
study.yaml except the DEM, the slope direction, the name and the output folder (so the two demo
runs differ only by the slope), and it is a valid config."""

from __future__ import annotations

from pathlib import Path


from coverage.config import load_config
from helpers import read_yaml

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def test_hilly_sample_is_the_flat_sample_plus_the_dem():
    flat = read_yaml(SAMPLE / "study.yaml")
    hilly = read_yaml(SAMPLE / "study_hilly.yaml")
    assert hilly["network"].pop("dem") == "dem.tif"
    assert hilly["analysis"].pop("slope") == "to_facility"
    assert hilly["output"].pop("folder") != flat["output"].pop("folder")
    assert hilly["study_area"].pop("name") != flat["study_area"].pop("name")
    assert hilly == flat


def test_hilly_sample_config_is_valid():
    cfg = load_config(SAMPLE / "study_hilly.yaml")
    assert Path(cfg.network.dem).resolve() == (SAMPLE / "dem.tif").resolve()
    assert cfg.analysis.slope == "to_facility"


def test_the_dem_is_an_input_of_a_batch_county():
    """A province batch reruns a county when its DEM changes: the DEM is hashed with the inputs."""
    from coverage.batch_county import input_files
    names = {p.name for p in input_files(load_config(SAMPLE / "study_hilly.yaml"))}
    assert "dem.tif" in names
    assert "dem.tif" not in {p.name for p in input_files(load_config(SAMPLE / "study.yaml"))}
