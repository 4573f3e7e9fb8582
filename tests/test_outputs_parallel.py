"""Outputs written side by side (coverage.report.parallel) and the GeoPackage written in two parts
(coverage.report.layers): the same files as written one after the other."""

import filecmp
import os
import re
import shutil
import sqlite3
import warnings

import pandas as pd
import pyogrio
import pytest

from coverage.errors import InputError
from coverage.report.layers import (
    append_layers,
    layer_frames,
    layer_parts,
    write_layers,
)
from coverage.report.parallel import available_workers, run_tasks

two_cores = pytest.mark.skipif(available_workers() < 2, reason="needs 2 cores and fork")


def _slow(i):
    import time
    time.sleep(0.05)
    return i, os.getpid()


@two_cores
def test_run_tasks_results_in_order_some_from_a_worker():
    out = run_tasks([(f"t{i}", lambda i=i: _slow(i)) for i in range(8)], workers=2)
    assert list(out) == [f"t{i}" for i in range(8)]
    assert [v[0] for v in out.values()] == list(range(8))
    assert {v[1] for v in out.values()} - {os.getpid()}, "no task ran in a worker"


@two_cores
@pytest.mark.parametrize("how", ["raises", "dies"])
def test_what_a_worker_did_not_finish_is_run_here(how, tmp_path):
    me = os.getpid()

    def task(i):
        if os.getpid() != me:           # in the worker: leave a mark, then fail or die
            (tmp_path / f"claimed-{i}").touch()
            if how == "dies":
                os._exit(3)
            raise RuntimeError("worker failure")
        return _slow(i)
    out = run_tasks([(f"t{i}", lambda i=i: task(i)) for i in range(6)], workers=2)
    assert [v[0] for v in out.values()] == list(range(6)) and {v[1] for v in out.values()} == {me}
    assert list(tmp_path.glob("claimed-*")), "the worker claimed no task"


@two_cores
def test_an_error_is_raised_as_itself():
    def bad():
        raise InputError("no such column", field="x.y", fix="z")
    with pytest.raises(InputError, match="no such column"):
        run_tasks([("a", lambda: _slow(0)), ("bad", bad), ("b", lambda: _slow(1))], workers=2)


def test_one_worker_runs_here_in_order():
    seen = []
    out = run_tasks([(k, lambda k=k: seen.append(k) or os.getpid()) for k in "abc"], workers=1)
    assert seen == ["a", "b", "c"] and set(out.values()) == {os.getpid()}


def _layers(path):
    return [n for n, _ in pyogrio.list_layers(path)]


def _same_layers(one, two, names):
    assert _layers(one) == _layers(two) == names
    for n in names:
        a = pyogrio.read_dataframe(one, layer=n, fid_as_index=True)
        b = pyogrio.read_dataframe(two, layer=n, fid_as_index=True)
        pd.testing.assert_frame_equal(a, b, check_exact=True)
        ia, ib = pyogrio.read_info(one, layer=n), pyogrio.read_info(two, layer=n)
        assert ia["features"] == ib["features"] == len(a) and ia["geometry_type"] == ib["geometry_type"]
        # the copied spatial index answers a window query like GDAL's own
        x0, y0, x1, y1 = ia["total_bounds"]
        box = (x0, y0, (x0 + x1) / 2, (y0 + y1) / 2)
        assert pyogrio.read_dataframe(one, layer=n, bbox=box, fid_as_index=True).index.tolist() == \
            pyogrio.read_dataframe(two, layer=n, bbox=box, fid_as_index=True).index.tolist()
    ca, cb = sqlite3.connect(one), sqlite3.connect(two)
    assert cb.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert sorted(ca.execute("SELECT type, name, sql FROM sqlite_master")) == \
        sorted(cb.execute("SELECT type, name, sql FROM sqlite_master"))
    for t in ("gpkg_geometry_columns", "gpkg_extensions", "gpkg_ogr_contents", "gpkg_spatial_ref_sys"):
        assert sorted(ca.execute(f"SELECT * FROM {t}")) == sorted(cb.execute(f"SELECT * FROM {t}")), t
    q = "SELECT table_name, min_x, min_y, max_x, max_y, srs_id FROM gpkg_contents ORDER BY rowid"
    assert ca.execute(q).fetchall() == cb.execute(q).fetchall()
    for n in names:   # every R*Tree holds the same boxes
        q = f'SELECT * FROM "rtree_{n}_geom" ORDER BY id'
        assert ca.execute(q).fetchall() == cb.execute(q).fetchall(), n
    ca.close()
    cb.close()


@pytest.fixture(scope="module")
def whole_gpkg(sample_results, tmp_path_factory):
    """The sample's layers written whole, in one go (read-only: copy it to change it)."""
    return write_layers(sample_results, tmp_path_factory.mktemp("whole") / "one.gpkg")


@pytest.mark.parametrize("order", ["first-second", "second-first", "first-second-first", "second-first-second"])
def test_geopackage_in_two_parts_reads_as_one(sample_results, whole_gpkg, tmp_path, order):
    """Either half may end last (it copies the second file in); a half run again after the copy
    (a worker's result lost) leaves the file whole once finish() has run."""
    one = shutil.copy(whole_gpkg, tmp_path / "one.gpkg")
    first, second, finish = layer_parts(sample_results, tmp_path / "two.gpkg")
    two = tmp_path / "two.gpkg"
    runs = {"first": first, "second": second}
    for k, step in enumerate(order.split("-")):
        runs[step]()
        if k == 1:    # both have ended: the last one has joined them (or the second wrote into the file)
            assert _layers(two) == [n for n, _ in layer_frames(sample_results)]
            if order.startswith("first"):
                assert not (tmp_path / ".two.part2.gpkg").exists()
    finish()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.gpkg", "two.gpkg"]
    names = [n for n, _ in layer_frames(sample_results)]
    assert "facility_circles" in names
    _same_layers(one, two, names)
    # GDAL keeps writing into a copied layer: its triggers, count and ids carry on
    gaps = pyogrio.read_dataframe(two, layer="gaps", fid_as_index=True)
    pyogrio.write_dataframe(gaps.iloc[:2], two, layer="gaps", append=True)
    more = pyogrio.read_dataframe(two, layer="gaps", fid_as_index=True)
    assert len(more) == len(gaps) + 2 and more.index[-1] == gaps.index.max() + 2
    assert pyogrio.read_info(two, layer="gaps")["features"] == len(gaps) + 2


def test_finish_cleans_up_after_a_half_that_failed(sample_results, tmp_path):
    _, second, finish = layer_parts(sample_results, tmp_path / "two.gpkg")
    second()
    finish(complete=False)                      # the first half failed
    assert list(tmp_path.iterdir()) == []


def test_what_a_killed_run_left_does_not_join_early(sample_results, tmp_path):
    """A marker left by a killed run would tell the first half to end that it is the last."""
    first, second, _ = layer_parts(sample_results, tmp_path / "two.gpkg")
    first()
    second()
    (tmp_path / ".two.part.done").touch()       # killed before finish()
    first, second, finish = layer_parts(sample_results, tmp_path / "two.gpkg")
    first()
    assert _layers(tmp_path / "two.gpkg") == ["communities", "facilities", "demand_points"]
    second()
    finish()
    assert _layers(tmp_path / "two.gpkg") == [n for n, _ in layer_frames(sample_results)]


def test_append_layers_refuses_a_layer_already_there(whole_gpkg, tmp_path):
    path = shutil.copy(whole_gpkg, tmp_path / "a.gpkg")
    with pytest.raises(sqlite3.OperationalError):
        append_layers(path, path, ["gaps"])


@two_cores
def test_outputs_side_by_side_same_files_as_one_by_one(sample_results, sample_out, tmp_path):
    """The sample's outputs (written side by side: this machine has the cores) equal those
    written one after the other, byte for byte (the report's timings and the GeoPackage's
    change dates aside)."""
    from coverage.report.outputs import write_outputs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        files = write_outputs(sample_results, tmp_path, workers=1)
    assert list(files)[-2:] == ["report", "manifest"]
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    theirs = {p.relative_to(sample_out).as_posix() for p in sample_out.rglob("*") if p.is_file()}
    assert written == theirs - {"run.json", "run.log"}
    for rel in sorted(written - {"layers.gpkg", "report.html"}):
        assert filecmp.cmp(tmp_path / rel, sample_out / rel, shallow=False), rel
    def strip(p):
        return re.sub(r'<section id="timings">.*?</section>', "", p.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert strip(tmp_path / "report.html") == strip(sample_out / "report.html")
    assert _layers(tmp_path / "layers.gpkg") == _layers(sample_out / "layers.gpkg")
    for n in _layers(tmp_path / "layers.gpkg"):
        pd.testing.assert_frame_equal(pyogrio.read_dataframe(tmp_path / "layers.gpkg", layer=n, fid_as_index=True),
                                      pyogrio.read_dataframe(sample_out / "layers.gpkg", layer=n, fid_as_index=True),
                                      check_exact=True)


@two_cores
def test_an_error_here_stops_the_workers(tmp_path):
    """A task failing in this process is raised at once; the worker is stopped, not left to run
    the remaining tasks."""
    import time
    me = os.getpid()

    def task(i):
        if os.getpid() == me and i > 0:
            raise ValueError("here")
        if os.getpid() != me:
            (tmp_path / f"ran-{i}").touch()
            time.sleep(0.5)
        return i
    with pytest.raises(ValueError, match="here"):
        run_tasks([(f"t{i}", lambda i=i: task(i)) for i in range(12)], workers=2)
    assert len(list(tmp_path.glob("ran-*"))) < 11, "the worker ran every task"
