"""Shared fixtures: the shipped sample is analysed once per test session.

``make test`` runs the suite on pytest-xdist workers (``-n auto --dist loadfile``): each test
module runs whole on one worker, so a module fixture (a browser, a province, a generated county)
is built once. A worker is a process of its own, so each one that needs the sample runs it
(``sample_results``, a few seconds); the written sample (``sample_out``, the slower part) is
written once per run, by the first worker that asks, into the run's shared temporary folder
(under a file lock), and read by the others. Without xdist everything stays in the process."""

from __future__ import annotations

import os
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


def _write(results, out: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results.write(out)
    return out


@pytest.fixture(scope="session")
def sample_out(sample_results, tmp_path_factory):
    """The sample's output folder, written from :func:`sample_results` (what the CLI writes).
    Read-only: the tests of every worker share it."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return _write(sample_results, tmp_path_factory.mktemp("sample_out"))
    from filelock import FileLock
    shared = tmp_path_factory.getbasetemp().parent      # this run's folder, common to its workers
    out, done = shared / "sample_out", shared / "sample_out.done"
    with FileLock(str(shared / "sample_out.lock")):
        if not done.is_file():
            _write(sample_results, out)
            done.touch()
    return out
