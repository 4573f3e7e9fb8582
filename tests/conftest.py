"""Shared fixtures: the shipped sample is analysed once per test session.

``make test`` runs the suite on pytest-xdist workers (``-n auto --dist loadfile``): each test
module runs whole on one worker, so a module fixture (a browser, a province, a generated county)
is built once. A worker is a process of its own, so each one that needs the sample's results runs
the sample (``sample_results``, a few seconds). The sample's output folder (``sample_out``) is
written once per run by the command line in a process of its own, started by the first worker
that asks, into the run's shared temporary folder (under a file lock), and read by the others.
Without xdist everything stays in the process (the command line's run aside)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_YAML = ROOT / "data" / "sample" / "study.yaml"


@pytest.fixture(scope="session")
def sample_results():
    """The sample study with every step run (in this process), as a Results object."""
    from coverage.study import Study
    return Study.from_yaml(SAMPLE_YAML).run()


def _run_cli(folder: Path) -> None:
    """``python -m coverage run --config <sample> --out folder/out --quiet --timings``, its console
    output kept beside (folder/stdout.txt, folder/stderr.txt, folder/returncode.txt)."""
    folder.mkdir(parents=True, exist_ok=True)
    p = subprocess.run([sys.executable, "-m", "coverage", "run", "--config", str(SAMPLE_YAML),
                        "--out", str(folder / "out"), "--quiet", "--timings"],
                       capture_output=True, text=True, cwd=ROOT, check=False)
    (folder / "stdout.txt").write_text(p.stdout, encoding="utf-8")
    (folder / "stderr.txt").write_text(p.stderr, encoding="utf-8")
    (folder / "returncode.txt").write_text(str(p.returncode), encoding="utf-8")


@pytest.fixture(scope="session")
def sample_cli(tmp_path_factory) -> dict:
    """The sample run by the command line in a process of its own (what a planner runs):
    {"out": its output folder, "stdout", "stderr", "returncode"}. Read-only: the tests of every
    worker share it."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.mktemp("sample_cli")
        _run_cli(folder)
    else:
        from filelock import FileLock
        shared = tmp_path_factory.getbasetemp().parent      # this run's folder, common to its workers
        folder, done = shared / "sample_cli", shared / "sample_cli.done"
        with FileLock(str(shared / "sample_cli.lock")):
            if not done.is_file():
                _run_cli(folder)
                done.touch()
    return {"out": folder / "out", "stdout": (folder / "stdout.txt").read_text(encoding="utf-8"),
            "stderr": (folder / "stderr.txt").read_text(encoding="utf-8"),
            "returncode": int((folder / "returncode.txt").read_text(encoding="utf-8"))}


@pytest.fixture(scope="session")
def sample_out(sample_cli) -> Path:
    """The sample's output folder, as the command line writes it (every file of Results.write,
    plus run.json and run.log). Read-only: the tests of every worker share it."""
    assert sample_cli["returncode"] == 0, sample_cli["stderr"][-3000:]
    return sample_cli["out"]


#: The slowest modules of ``make test`` (seconds each on a worker, measured 2026-12-02 07:18 UTC: the
#: corpus ~34, the batch ~18, test_analysis ~17 with the wait for the sample's command-line run,
#: make_county ~16, the two browser modules ~11-13, then 11 down to 4), run first: with
#: ``--dist loadfile`` a worker takes the next module when it has almost nothing left, so the longest
#: first leaves only short modules for the end and the two workers end together. The other modules
#: follow in alphabetical order.
SLOW_MODULES = ("test_bad_inputs_corpus.py", "test_batch.py", "test_analysis.py", "test_make_county.py",
                "test_html_injection_browser.py", "test_outputs_parallel.py", "test_map_browser.py",
                "test_figures_report.py", "test_modes_study.py", "test_modes_slope.py", "test_bad_inputs.py",
                "test_api.py", "test_roads.py", "test_siting.py")


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(SLOW_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))   # stable: a module keeps its order


def pytest_collection_finish(session):
    """Less time in Python's cyclic garbage collector (~4 % of the suite's CPU with the defaults):
    the objects of every library and test module imported so far are frozen out of its passes,
    and a young-generation pass runs every 20,000 net allocations instead of 700 (the analysis
    allocates many short-lived pandas objects). About 15 % more peak memory; nothing the tests
    check depends on when garbage is collected."""
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)
