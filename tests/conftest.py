"""Shared fixtures: the shipped sample is analysed once per test session.

The suite runs on pytest-xdist workers (``make test``: ``-n auto --dist loadgroup``). A worker is
a process of its own, so a session or module fixture is built once per worker that runs a test
needing it. To build the expensive ones once, :func:`pytest_collection_modifyitems` puts tests in
xdist groups (a group runs on one worker): every test using the sample run (``sample_results`` /
``sample_out``) in the group ``sample``, and the tests of a module sharing a module-scoped fixture
(a browser, a province, a generated county) in a group of that module. The other tests are
spread one by one. Without xdist (``-n 0``, or ``-p no:xdist``) the groups do nothing."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_YAML = ROOT / "data" / "sample" / "study.yaml"

SAMPLE_FIXTURES = {"sample_results", "sample_out"}
SAMPLE_GROUP = "sample"


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


def pytest_configure(config):
    # registered by pytest-xdist too; here as well so that a run without xdist does not warn
    config.addinivalue_line("markers", "xdist_group(name): run the tests of one group on one xdist worker")


def _shares_a_module_fixture(item) -> bool:
    """True when the test uses a fixture built once per module (or class, package)."""
    info = getattr(item, "_fixtureinfo", None)
    defs = getattr(info, "name2fixturedefs", None) or {}
    return any(d and d[-1].scope in ("module", "class", "package") for d in defs.values())


def _xdist_group(item) -> str | None:
    if SAMPLE_FIXTURES & set(getattr(item, "fixturenames", ())):
        return SAMPLE_GROUP
    if _shares_a_module_fixture(item):
        return item.nodeid.split("::", 1)[0]
    return None


def pytest_collection_modifyitems(config, items):
    """Put tests sharing an expensive fixture on one xdist worker (see the module docstring)."""
    groups = {item: _xdist_group(item) for item in items}
    # a module whose tests share a module fixture and partly use the sample: all in "sample", so
    # that its module fixture too is built once
    modules_with_sample = {item.nodeid.split("::", 1)[0] for item, g in groups.items() if g == SAMPLE_GROUP}
    for item, group in groups.items():
        if group is not None and group in modules_with_sample:
            group = SAMPLE_GROUP
        if group is not None and not any(m.name == "xdist_group" for m in item.iter_markers()):
            item.add_marker(pytest.mark.xdist_group(group))
