"""Steps of a study: each computed once, timed (wall seconds and the process's peak memory), with
optional progress lines (used by :class:`~coverage.study.Study`).

Steps may run on several threads at once (``Study.run`` overlaps independent steps): each thread
keeps its own stack of nested steps, and a step asked for by two threads at the same time is
computed once (the second waits for the first)."""

from __future__ import annotations

import resource
import threading
import time


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Steps:
    """Progress lines and per-step timings: wall seconds spent in the step itself (steps it calls
    are counted as theirs) and the process's peak resident memory when it ended. Steps that ran
    at the same time on different threads each count their own wall time, so the steps' seconds
    may add up to more than the run's wall time."""

    def __init__(self, echo=None):
        self.echo = echo
        self.t0 = time.perf_counter()
        self.timings: dict[str, dict] = {}
        self._local = threading.local()   # per thread: [name, start, seconds spent in nested steps]
        self._lock = threading.Lock()
        self._started: set = set()        # names of the steps begun (each echoed once)

    @property
    def _stack(self) -> list:
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def run(self, name, fn):
        stack = self._stack
        with self._lock:            # one whole progress line at a time, also from two threads
            if self.echo and name not in self._started:
                self.echo(f"[{time.perf_counter() - self.t0:6.1f}s] {name} ...")
            self._started.add(name)
        frame = [name, time.perf_counter(), 0.0]
        stack.append(frame)
        try:
            return fn()
        finally:
            stack.pop()
            total = time.perf_counter() - frame[1]
            if stack:
                stack[-1][2] += total
            with self._lock:
                rec = self.timings.setdefault(name, {"seconds": 0.0, "peak_rss_mb": 0.0})
                rec["seconds"] = round(rec["seconds"] + total - frame[2], 3)
                rec["peak_rss_mb"] = round(peak_rss_mb(), 1)


def step(name):
    """Cache a Study method's result (per arguments) and time it as a step. Thread-safe: the first
    thread to ask computes the result, another asking for the same result meanwhile waits for it."""
    def deco(fn):
        def wrapper(self, *args, **kw):
            key = (fn.__name__, args, tuple(sorted(kw.items())))
            cache = self._cache
            if key in cache:
                return cache[key]
            with _key_lock(self, key):
                if key not in cache:
                    cache[key] = self._steps.run(name, lambda: fn(self, *args, **kw))
                return cache[key]
        wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
        return wrapper
    return deco


_GUARD = threading.Lock()


def _key_lock(obj, key) -> threading.RLock:
    """The lock of one cached result of ``obj`` (re-entrant: a step may ask again for itself)."""
    with _GUARD:
        locks = obj.__dict__.setdefault("_step_locks", {})
        lock = locks.get(key)
        if lock is None:
            lock = locks[key] = threading.RLock()
        return lock
