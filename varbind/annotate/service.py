"""One process owns the GPU: the scoring service of :mod:`varbind.annotate.parallel`.

With ``--host-workers N`` on a GPU each worker process reads, builds windows, formats INFO and
writes its parts, but sends its tasks' windows here to be scored: the parent places the panel on
each GPU once and scores every worker's tasks there (:func:`varbind.annotate.pipeline.score`, the
same call on the same task as in one process, so the output is the same). Processes that each open
the GPU time-slice it (their kernels never overlap; 15 of them kept an H200 busy 64% of the time),
and each would hold its own CUDA context and copy of the panel.

The parent listens on a Unix socket (abstract on Linux, else in the run's private parts folder; a
random key authenticates the workers, see :mod:`multiprocessing.connection`); a thread per worker
receives its tasks, and two scoring threads per GPU score them, each on a CUDA stream of its own
(one does its task's host work while the other's kernels run). A worker keeps one task in flight (its reader prepares the next). While the
workers start (~5 s), a thread per GPU places the panel there and loads the run's kernels
(:func:`varbind.annotate.pipeline.warm`): the first task took 0.6 s instead of 1.4-1.7 s on the H200.
"""
from __future__ import annotations

import contextlib
import copy
import logging
import os
import pickle
import queue
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from multiprocessing.connection import Client, Connection, Listener
from typing import Any

from .. import device as _device
from . import pipeline

log = logging.getLogger("varbind")

#: scoring threads a GPU: while one waits on its kernels, the other does its task's host work
THREADS_PER_GPU = 2


class Server:
    """The parent's side: ``address`` and ``authkey`` go to the workers (in their job); ``close()``
    ends the threads. Scoring errors are sent to the worker that asked, which raises them."""

    def __init__(self, folder: str, job: dict, workers: int):
        self.job = job
        self.authkey = os.urandom(32)
        # Linux: an abstract socket (no file; a path beside the output can pass the 107-byte limit)
        self.address = (f"\0varbind-{os.getpid()}-{os.urandom(8).hex()}" if sys.platform.startswith("linux")
                        else os.path.join(folder, "score.sock"))
        self._listener = Listener(self.address, family="AF_UNIX", backlog=max(16, workers), authkey=self.authkey)
        self._tasks: queue.Queue = queue.Queue()
        self._closed = threading.Event()
        # on each GPU the warm-up runs alone (tasks wait for it): it places the panel and compiles or
        # loads the kernels
        gpus = _device.gpus_of(job["settings"].device)
        self._first = {dev: threading.Lock() for dev in gpus}
        self._warm: set = set()
        self._busy: list[float] = []  # seconds each task was scored (DEBUG summary at close)
        self._t0 = time.perf_counter()
        self._conns: list[Connection] = []
        # the scoring threads give the interpreter lock up at each launch: as a GPU run's stages (stream.run)
        from .stream import switch_interval

        self._interval = sys.getswitchinterval()
        sys.setswitchinterval(switch_interval(job["settings"].device, self._interval))
        self._threads = [threading.Thread(target=self._accept, args=(workers,), daemon=True)]
        #: whether the workers send each chunk's genome (only the CPU's region path reads it)
        self.needs_genome = any(_device.resolve(d).type == "cpu" for d in gpus)
        for i, dev in enumerate(gpus):
            settings = replace(job["settings"], device=dev)
            # DeepFind's classifier is moved to the device it scores on: a copy for each GPU but the first
            dfind = job["deepfind"] if i == 0 or job["deepfind"] is None else copy.deepcopy(job["deepfind"])
            gpu = _device.resolve(dev).type == "cuda"
            n = THREADS_PER_GPU if gpu else 1  # numba's kernels take the cores
            self._threads += [threading.Thread(target=self._score, args=(settings, dfind), daemon=True)
                              for _ in range(n)]
            if gpu:  # while the workers start (~5 s)
                threading.Thread(target=self._warm_up, args=(settings, dfind), daemon=True).start()
        for t in self._threads:
            t.start()

    def _accept(self, workers: int) -> None:
        for _ in range(workers):
            try:
                conn = self._listener.accept()
            except (OSError, EOFError):  # closed, or a connection that failed its authentication
                if self._closed.is_set():
                    return
                continue
            self._conns.append(conn)
            threading.Thread(target=self._receive, args=(conn,), daemon=True).start()

    def _receive(self, conn: Connection) -> None:
        while not self._closed.is_set():
            try:
                data = conn.recv_bytes()
            except (OSError, EOFError):  # the worker ended
                return
            self._tasks.put((conn, data))

    def _warm_up(self, settings, dfind) -> None:
        """The panel placed on the GPU and its kernels loaded before the first task comes; a task that
        finds the device cold calls this too, and waits for it (:attr:`_first`). When it fails the
        task's scoring meets the error again and sends it to its worker."""
        with self._first[settings.device]:
            if settings.device in self._warm:
                return
            t = time.perf_counter()
            try:
                pipeline.warm(self.job["panel"].bank, settings, dfind)
            except Exception as e:  # noqa: BLE001 - the first task meets it again and reports it
                log.debug("scoring service: warming %s failed (%s)", settings.device, e)
                return
            self._warm.add(settings.device)
            log.debug("scoring service: %s warm in %.2f s", settings.device, time.perf_counter() - t)

    def _score(self, settings, dfind) -> None:
        j = self.job
        on_stream = _own_stream(settings.device)
        while True:
            item = self._tasks.get()
            if item is None:
                return
            conn, data = item
            t = time.perf_counter()
            n, t_load, t_score = 0, t, t
            try:
                items = pickle.loads(data)
                n = sum(len(p.win.site) for p in items)
                t_load = time.perf_counter()
                if settings.device not in self._warm:  # then the device's threads score side by side
                    self._warm_up(settings, dfind)
                with on_stream():
                    results = pipeline.score(items, j["panel"].bank, settings, dfind, j["selection"])
                t_score = time.perf_counter()
                reply = pickle.dumps(("ok", results), protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as e:  # noqa: BLE001 - raised in the worker that sent the task
                reply = _error_reply(e)
            end = time.perf_counter()
            self._busy.append(end - t)
            log.debug("scoring service: task of %d alleles on %s at %.2f-%.2f s (unpickling %.3f, scoring %.3f, "
                      "pickling %.3f s; %d waiting)", n, settings.device, t - self._t0, end - self._t0, t_load - t,
                      t_score - t_load, end - t_score, self._tasks.qsize())
            try:
                conn.send_bytes(reply)
            except OSError:  # the worker ended (its run failed elsewhere)
                pass

    def close(self) -> None:
        wall = time.perf_counter() - self._t0
        log.debug("scoring service: %d tasks scored in %.1f s (sum over %d threads; median %.2f s a task) of %.1f s",
                  len(self._busy), sum(self._busy), len(self._threads) - 1,
                  statistics.median(self._busy) if self._busy else 0.0, wall)
        sys.setswitchinterval(self._interval)
        self._closed.set()
        for _ in range(len(self._threads)):
            self._tasks.put(None)
        self._listener.close()
        for conn in self._conns:
            conn.close()


def _own_stream(device: str):
    """A context in which a scoring thread's GPU work goes to a CUDA stream of its own (a no-op off
    CUDA). On one shared stream, a thread that waits for its results (a copy to the host, an index
    copied to the GPU) waited for the other thread's kernels queued before them too, and the GPU
    went idle while both threads did host work: 2 threads scored as fast as 3. Each task's stream
    first waits for the device's default stream, where the warm-up placed the panel."""
    dev = _device.resolve(device)
    if dev.type != "cuda":
        return contextlib.nullcontext
    import torch

    streams: list = []  # made at the thread's first task

    @contextlib.contextmanager
    def on_stream():
        if not streams:
            streams.append(torch.cuda.Stream(dev))
        streams[0].wait_stream(torch.cuda.default_stream(dev))
        with torch.cuda.stream(streams[0]):
            yield

    return on_stream


def _error_reply(e: Exception) -> bytes:
    try:
        return pickle.dumps(("error", e), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - an exception that does not pickle: its text
        return pickle.dumps(("error", RuntimeError(f"{type(e).__name__}: {e}")), protocol=pickle.HIGHEST_PROTOCOL)


class Remote:
    """A worker's side: ``score(items)`` sends a task's prepared chunks to the parent and returns
    their results, as :func:`varbind.annotate.pipeline.score` would; ``genome``: whether the chunks'
    genome goes too (only the CPU's region path reads it, see :attr:`Server.needs_genome`)."""

    def __init__(self, address: str, authkey: bytes, genome: bool):
        self._conn = Client(address, family="AF_UNIX", authkey=authkey)
        self._genome = genome

    def score(self, items: Sequence[pipeline.Prepared]) -> list[tuple[Any, dict, Any]]:
        sent = items if self._genome else [p._replace(genome=None) for p in items]
        self._conn.send_bytes(pickle.dumps(sent, protocol=pickle.HIGHEST_PROTOCOL))
        kind, value = pickle.loads(self._conn.recv_bytes())
        if kind != "ok":
            raise value
        return value
