"""Shared fixtures: the shipped sample is analysed once per test session.

``make test`` runs the suite on pytest-xdist workers (``-n auto --dist loadfile``): each test
module runs whole on one worker, so a module fixture (a browser, a province, a generated county)
is built once. A worker is a process of its own, so each one that needs the sample's results runs
the sample (``sample_results``, a few seconds). The sample's output folder (``sample_out``) is
written once per run by the command line in a process of its own, started by the first worker
that asks, into the run's shared temporary folder (under a file lock), and read by the others.
Without xdist everything stays in the process (the command line's run aside)."""

from __future__ import annotations

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
                       capture_output=True, text=True, cwd=ROOT)
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
