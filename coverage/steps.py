"""Steps of a study: each computed once, timed (wall seconds and the process's peak memory), with
optional progress lines (used by :class:`~coverage.study.Study`)."""

from __future__ import annotations

import resource
import time


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Steps:
    """Progress lines and per-step timings: wall seconds spent in the step itself (steps it calls
    are counted as theirs) and the process's peak resident memory when it ended."""

    def __init__(self, echo=None):
        self.echo = echo
        self.t0 = time.perf_counter()
        self.timings: dict[str, dict] = {}
        self._stack: list[list] = []   # [name, start, seconds spent in nested steps]

    def run(self, name, fn):
        if self.echo and name not in self.timings and all(f[0] != name for f in self._stack):
            self.echo(f"[{time.perf_counter() - self.t0:6.1f}s] {name} ...")
        frame = [name, time.perf_counter(), 0.0]
        self._stack.append(frame)
        try:
            return fn()
        finally:
            self._stack.pop()
            total = time.perf_counter() - frame[1]
            if self._stack:
                self._stack[-1][2] += total
            rec = self.timings.setdefault(name, {"seconds": 0.0, "peak_rss_mb": 0.0})
            rec["seconds"] = round(rec["seconds"] + total - frame[2], 3)
            rec["peak_rss_mb"] = round(peak_rss_mb(), 1)


def step(name):
    """Cache a Study method's result (per arguments) and time it as a step."""
    def deco(fn):
        def wrapper(self, *args, **kw):
            key = (fn.__name__, args, tuple(sorted(kw.items())))
            if key not in self._cache:
                self._cache[key] = self._steps.run(name, lambda: fn(self, *args, **kw))
            return self._cache[key]
        wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
        return wrapper
    return deco
