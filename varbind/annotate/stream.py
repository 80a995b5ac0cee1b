"""The three stages of ``varbind annotate`` running at once: a reader thread reads records (cyvcf2)
and builds windows on the host, a scorer thread scores earlier tasks on the device, and the calling
thread writes finished tasks in input order. Queues between stages hold at most :data:`DEPTH` tasks,
so memory is bounded whatever the input size.

With a Dask client the reader submits tasks to the cluster (each worker builds windows and scores,
:func:`varbind.annotate.pipeline.score_task`), at most ``in_flight`` at a time, and the calling thread
writes their results in order.

An error in any stage stops the others and is raised in the calling thread.
"""
from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from . import pipeline

log = logging.getLogger("varbind")

#: tasks waiting between two stages
DEPTH = 2
#: seconds to wait for the other stages to stop after an error in one
JOIN_AFTER_ERROR = 2.0
#: the interpreter's thread switch interval (seconds) while a GPU run's stages run; Python's default
#: is 0.005. The scoring thread gives the interpreter lock up at every kernel launch and copy, and
#: then waits for the reading or writing thread to give it back: up to a whole interval each time
#: (``$VARBIND_SWITCH_INTERVAL`` sets another value, to compare)
GPU_SWITCH_INTERVAL = 0.0002
_END = object()


class _Stopped(Exception):
    pass


def tasks(chunks: Iterable[list], size: int) -> Iterator[list[list]]:
    """Consecutive chunks grouped into tasks of at least ``size`` records (the last may be smaller)."""
    task: list = []
    n = 0
    for chunk in chunks:
        task.append(chunk)
        n += len(chunk)
        if n >= size:
            yield task
            task, n = [], 0
    if task:
        yield task


class _Pipe:
    def __init__(self) -> None:
        self.stop = threading.Event()

    def put(self, q: queue.Queue, item: Any) -> None:
        while True:
            if self.stop.is_set():
                raise _Stopped
            try:
                q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def get(self, q: queue.Queue) -> Any:
        while True:
            if self.stop.is_set():
                raise _Stopped
            try:
                return q.get(timeout=0.1)
            except queue.Empty:
                continue

    def thread(self, fn: Callable[[], None], out: queue.Queue) -> threading.Thread:
        def body() -> None:
            try:
                fn()
            except _Stopped:
                return
            except BaseException as e:  # noqa: BLE001 - handed to the calling thread
                try:
                    self.put(out, e)
                except _Stopped:
                    pass

        t = threading.Thread(target=body, daemon=True)
        t.start()
        return t


def run(task_iter: Iterator[list[list]], contig_of: Callable[[list], str | None], fasta_path: str, bank, settings,
        deepfind, write: Callable[[list, list], None], client=None, in_flight: int = 2,
        selection=None, scorer: Callable[[list], list] | None = None) -> dict[str, float]:
    """Score every task of ``task_iter`` (lists of chunks of ``(record, Site)``) and call
    ``write(task, results)`` for each, in order; ``contig_of(chunk)`` is the chunk's FASTA contig;
    ``selection`` (:class:`varbind.annotate.topk.Selection`): results reduced to the top models
    in the scoring stage; ``scorer(items)``: scores a task's prepared chunks instead of
    :func:`varbind.annotate.pipeline.score` (a host worker's, :class:`varbind.annotate.service.Remote`).
    Returns each stage's busy seconds and the wall time (also logged, DEBUG)."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(switch_interval(getattr(settings, "device", None), interval))
    try:
        return _run(task_iter, contig_of, fasta_path, bank, settings, deepfind, write, client, in_flight, selection,
                    scorer)
    finally:
        sys.setswitchinterval(interval)


def switch_interval(device, default: float) -> float:
    """The thread switch interval for a run on ``device``: :data:`GPU_SWITCH_INTERVAL` on a GPU
    (``$VARBIND_SWITCH_INTERVAL`` when set), ``default`` on the CPU, whose kernels hold no lock."""
    from .. import device as _device

    if _device.resolve(device).type == "cpu":
        return default
    try:
        value = float(os.environ.get("VARBIND_SWITCH_INTERVAL", GPU_SWITCH_INTERVAL))
    except ValueError:
        return GPU_SWITCH_INTERVAL
    return value if value > 0 else GPU_SWITCH_INTERVAL


def _run(task_iter, contig_of, fasta_path, bank, settings, deepfind, write, client, in_flight, selection, scorer
         ) -> dict[str, float]:
    pipe = _Pipe()
    busy = dict.fromkeys(("read", "score", "write"), 0.0)
    t0 = time.perf_counter()
    done: queue.Queue = queue.Queue(maxsize=DEPTH if client is None else in_flight)

    def sites_of(task: list[list]) -> list[tuple[list, str | None]]:
        return [([s for _, s in chunk], contig_of(chunk)) for chunk in task]

    if client is None:
        prepared: queue.Queue = queue.Queue(maxsize=DEPTH)

        def read() -> None:
            t = time.perf_counter()
            for task in task_iter:
                items = [pipeline.prepare(s, fasta_path, c, settings, deepfind) for s, c in sites_of(task)]
                busy["read"] += time.perf_counter() - t
                pipe.put(prepared, (task, items))
                t = time.perf_counter()
            pipe.put(prepared, _END)

        def score() -> None:
            while True:
                item = pipe.get(prepared)
                if item is _END or isinstance(item, BaseException):
                    pipe.put(done, item)
                    return
                task, items = item
                t = time.perf_counter()
                results = (scorer(items) if scorer is not None
                           else pipeline.score(items, bank, settings, deepfind, selection))
                busy["score"] += time.perf_counter() - t
                pipe.put(done, (task, results))

        threads = [pipe.thread(read, prepared), pipe.thread(score, done)]
    else:
        def submit() -> None:
            for task in task_iter:
                fut = client.submit(pipeline.score_task, sites_of(task), fasta_path, bank, settings, deepfind,
                                    selection, pure=False)
                pipe.put(done, (task, fut))
            pipe.put(done, _END)

        threads = [pipe.thread(submit, done)]
    finished = False
    try:
        while True:
            item = pipe.get(done)
            if item is _END:
                break
            if isinstance(item, BaseException):
                raise item
            task, results = item
            results = results if client is None else results.result()
            t = time.perf_counter()
            write(task, results)
            busy["write"] += time.perf_counter() - t
        finished = True
    finally:
        pipe.stop.set()
        # after an error (a signal too) a stage busy in a long call is not waited for: it stops at its
        # next queue operation, and the process may end before (the threads are daemons)
        deadline = None if finished else time.monotonic() + JOIN_AFTER_ERROR
        for th in threads:
            th.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
    busy["wall"] = time.perf_counter() - t0
    log.debug("annotate stages, busy seconds: reading + windows %.2f, scoring %.2f, writing %.2f; wall %.2f",
              busy["read"], busy["score"], busy["write"], busy["wall"])
    return busy
