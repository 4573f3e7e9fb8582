"""Independent outputs written side by side: the tasks are shared between this process and forked
worker processes, one per spare core (matplotlib, pyogrio's row loop and pandas' formatting hold
Python's GIL, so threads would take turns on one core).

A forked worker starts with this process's memory (the study's results are not copied or pickled)
and sends back only each task's small result (paths). The workers claim tasks from the front of
the list and this process from its back, under one lock, until they meet: what a caller puts
first (longest first) runs in the workers, what it puts last (longest last) runs here, and
either side helps with the other's when its own are done. A task a worker did not finish (it
failed, or the worker died) is run again here, which also raises its error with its own
traceback.

Workers are forked only on Linux, from the main thread of a process that is not itself a worker
(a Dask or multiprocessing worker writes its outputs in order), with at least two cores; otherwise,
or with ``workers=1``, the tasks run here one after the other, in the list's order. Either way the
files are the same.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import warnings


#: At most this many processes write at once: a county's outputs are done at 4 (the demand
#: points' GeoPackage layer, ~5.5 s, is then the longest part), and each worker holds copies of
#: the pages it touches.
MAX_WORKERS = 4


def available_workers() -> int:
    """Processes that may write outputs at once: the cores this process may use (at most
    :data:`MAX_WORKERS`), where forking is safe, else 1."""
    if not sys.platform.startswith("linux") or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if threading.current_thread() is not threading.main_thread() or multiprocessing.parent_process() is not None:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_WORKERS))


def _claim(ends, lock, front: bool) -> int | None:
    """The next task's index from the front or the back of what is left (None: nothing is)."""
    with lock:
        if ends[0] >= ends[1]:
            return None
        if front:
            ends[0] += 1
            return ends[0] - 1
        ends[1] -= 1
        return ends[1]


def _work(tasks, ends, lock, conn):
    """A worker's loop: claim a task, run it, send ``(index, True, result)``, or ``(index, False,
    None)`` when it failed (the parent then runs it again and raises its error). Ctrl+C or an exit
    ends the loop."""
    try:
        while (i := _claim(ends, lock, True)) is not None:
            try:
                out = (i, True, tasks[i][1]())
            except Exception:   # noqa: BLE001 (run again, and raised, by the parent)
                out = (i, False, None)
            conn.send(out)
    finally:
        conn.send(None)
        conn.close()


def run_tasks(tasks, workers: int | None = None) -> dict:
    """Run ``tasks`` ([(name, zero-argument callable)]: the workers' share first, longest first,
    this process's last, longest last) and return {name: result} in the tasks' order. An error in a task run here (or Ctrl+C) stops the workers and is raised
    at once, as it would be one task after the other.

    ``workers``: processes in all, this one included (default and at most
    :func:`available_workers`)."""
    tasks = list(tasks)
    n = min(available_workers() if workers is None else max(1, int(workers)), len(tasks), available_workers())
    if n <= 1:
        return {name: fn() for name, fn in tasks}
    ctx = multiprocessing.get_context("fork")
    ends, lock = ctx.RawArray("l", [0, len(tasks)]), ctx.Lock()
    procs = []
    sys.stdout.flush()
    sys.stderr.flush()
    for _ in range(n - 1):
        recv, send = ctx.Pipe(duplex=False)
        p = ctx.Process(target=_work, args=(tasks, ends, lock, send), daemon=True)
        with warnings.catch_warnings():
            # Python >= 3.12 warns when forking with other threads alive: here those are idle
            # (tqdm's monitor, the BLAS pool) and a worker never uses them
            warnings.simplefilter("ignore", DeprecationWarning)
            p.start()
        send.close()
        procs.append((p, recv))
    done = {}
    try:
        while (i := _claim(ends, lock, False)) is not None:
            done[i] = tasks[i][1]()
    except BaseException:
        for p, recv in procs:
            p.terminate()
            p.join()
            recv.close()
        raise
    for p, recv in procs:
        try:
            while (msg := recv.recv()) is not None:
                if msg[1]:
                    done[msg[0]] = msg[2]
        except (EOFError, OSError):
            pass                       # the worker died: what it did not send is run here
        recv.close()
        p.join()
    return {name: done[i] if i in done else fn() for i, (name, fn) in enumerate(tasks)}
