"""Steps: computed once and cached, also when two threads ask at once; ``Study.run`` overlapping two
chains of steps gives the same results as running them one after another, and errors of either
chain reach the caller."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coverage.errors import InputError
from coverage.steps import Steps, step
from coverage.study import Study

SAMPLE_YAML = Path(__file__).resolve().parents[1] / "data" / "sample" / "study.yaml"


class _Toy:
    def __init__(self):
        self._cache, self._steps, self.calls = {}, Steps(), 0

    @step("slow")
    def slow(self, x):
        self.calls += 1
        time.sleep(0.2)
        return [x]

    @step("outer")
    def outer(self):
        time.sleep(0.05)
        return self.slow(1)


def test_a_step_asked_by_two_threads_at_once_is_computed_once():
    toy = _Toy()
    got = []
    threads = [threading.Thread(target=lambda: got.append(toy.slow(1))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert toy.calls == 1
    assert all(g is got[0] for g in got)          # the one cached object
    toy.slow(2)
    assert toy.calls == 2                         # other arguments, another result


def test_nested_steps_are_timed_per_thread():
    toy = _Toy()
    t = threading.Thread(target=toy.outer)
    t.start()
    toy.slow(1)     # may wait for the other thread's computation of the same result
    t.join()
    tm = toy._steps.timings
    assert set(tm) == {"slow", "outer"}
    # the outer step's own time excludes the nested one when the nested one ran in its thread;
    # either way no step's time is negative and the slow step took its sleep
    assert tm["slow"]["seconds"] >= 0.2 and tm["outer"]["seconds"] >= 0.0


def _tables(res):
    return {"by_community": res.by_community, "summary": res.summary,
            "gaps": pd.DataFrame(res.gaps.drop(columns="geometry")), "indicators": res.indicators}


def test_overlapped_run_equals_the_sequential_run(sample_results):
    seq = Study.from_yaml(SAMPLE_YAML).run(overlap=False)
    ovl = sample_results                  # Study.run() with its default, overlap=True
    for name, frame in _tables(seq).items():
        pd.testing.assert_frame_equal(_tables(ovl)[name], frame, obj=name)
    assert seq.gaps.geometry.geom_equals_exact(ovl.gaps.geometry, 0).all()
    c_seq, f_seq = seq.study.life_circles()
    c_ovl, f_ovl = ovl.study.life_circles()
    assert np.array_equal(c_seq.geometry.to_wkb().values, c_ovl.geometry.to_wkb().values)
    assert np.array_equal(f_seq.geometry.to_wkb().values, f_ovl.geometry.to_wkb().values)
    s_seq, sum_seq = seq.study.siting()
    s_ovl, sum_ovl = ovl.study.siting()
    pd.testing.assert_frame_equal(pd.DataFrame(s_ovl.drop(columns="geometry")),
                                  pd.DataFrame(s_seq.drop(columns="geometry")))
    pd.testing.assert_frame_equal(sum_ovl, sum_seq)


def _failing(monkeypatch, network=False, raster=False):
    import coverage.study as st
    import coverage.study_inputs as si
    if network:
        def bad_network(*a, **k):
            time.sleep(0.3)               # fails after the other chain has started
            raise InputError("network broken", file="roads", field="network.path", fix="x")
        monkeypatch.setattr(st, "load_network", bad_network)
    if raster:
        def bad_cells(*a, **k):
            raise InputError("raster broken", file="pop.tif", field="population.path", fix="y")
        monkeypatch.setattr(si, "raster_cells", bad_cells)
    return Study.from_yaml(SAMPLE_YAML)


@pytest.mark.parametrize("overlap", [True, False])
def test_an_error_on_the_background_chain_reaches_the_caller(monkeypatch, overlap):
    with pytest.raises(InputError, match="network broken"):
        _failing(monkeypatch, network=True).run(overlap=overlap)


@pytest.mark.parametrize("overlap", [True, False])
def test_when_both_chains_fail_the_first_in_sequential_order_is_raised(monkeypatch, overlap):
    # one after another the population raster is read before the network is built
    with pytest.raises(InputError, match="raster broken"):
        _failing(monkeypatch, network=True, raster=True).run(overlap=overlap)
