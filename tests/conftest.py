"""Shared fixtures: the shipped sample is analysed once per test session."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_YAML = ROOT / "data" / "sample" / "study.yaml"


@pytest.fixture(scope="session")
def sample_results():
    """The sample study with every step run (in this process), as a Results object."""
    from coverage.study import Study
    return Study.from_yaml(SAMPLE_YAML).run()


@pytest.fixture(scope="session")
def sample_out(sample_results, tmp_path_factory):
    """The sample's output folder, written from :func:`sample_results` (what the CLI writes)."""
    out = tmp_path_factory.mktemp("sample_out")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sample_results.write(out)
    return out
