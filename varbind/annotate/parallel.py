"""``varbind annotate`` over several host processes: the input cut into parts, each part annotated by
a worker process, the parts' records joined in input order.

On a GPU the kernels score ~100,000 SNVs a second while one Python process reads, builds windows,
formats INFO and writes ~10,000 records a second (all under one interpreter lock). Here the parent
only reads the input as text and cuts it into parts of about :data:`PART` records; each worker (a
process of its own, the panel and DeepFind loaded once, scoring on the GPU shared by all) runs the
ordinary single-process annotation (:func:`varbind.annotate.api.annotate_vcf`'s body) on its part and
writes plain VCF text, which it compresses (BGZF) itself for ``.vcf.gz`` output. The parent writes the
header, appends the parts' blocks in order and checks, indexes and renames the file as a single run
does (:func:`varbind.annotate.sinks.commit_vcf`).

Parts end where a region chunk ends (the same contig and 1-Mb bin, at most
:data:`varbind.annotate.variants.CHUNK` records), so every record is scored in the same chunk as in one
process and the VCF text is the same; for ``.vcf.gz`` the blocks of BGZF differ (each part starts its
own), the decompressed text does not. At most ``2 x workers`` parts are on disk at a time (temporary
files beside the output), so memory and disk stay bounded whatever the input size.

Used for plain or bgzipped VCF files (not stdin, BCF, ``-r``/``-R`` regions, ``--scores`` tables or
Dask) when ``host_workers`` > 1 (the default on a GPU, see :func:`default_workers`).
"""
from __future__ import annotations

import contextlib
import gzip
import logging
import multiprocessing
import os
import pickle
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from .. import _fs, forkserver
from ..errors import InputFormatError, VarbindError
from . import part_worker, service

log = logging.getLogger("varbind")

#: records a part (a worker's unit); cut at the next chunk boundary
PART = 16384
#: ``--host-workers auto`` cuts inputs of at least this many records (from the index), or, without an
#: index, files of at least this many bytes: the workers' start (~15-20 s on an H200 host with 12 of
#: them, spawned; forked from varbind.forkserver they start in ~0.7 s, not measured again for this)
#: costs more than parts save on fewer (BENCHMARKS.md)
AUTO_RECORDS = 400_000
MIN_BYTES = {"bgzf": 2 << 20, "gzip": 2 << 20, "plain": 40 << 20}


#: most host processes ``--host-workers auto`` starts: on an H200 host with 16 cores, 2,000,000 SNVs,
#: 6 workers gave 25,742-30,116 SNV/s, 12 gave 32,967 and 15 gave 30,587-34,555 (BENCHMARKS.md)
AUTO_MAX = 12
#: host memory a worker holds at its peak (1.6-1.7 GB measured with the 927 DeepBind models)
WORKER_BYTES = 2 << 30


def default_workers(device) -> int:
    """Host processes for ``--host-workers auto``: on a GPU one per usable core but one, at most
    :data:`AUTO_MAX` (the GPU is shared) and as many as the available memory holds
    (:data:`WORKER_BYTES` each); on the CPU 1 (the kernels already use every core)."""
    from .. import device as _device
    from .. import threads

    if _device.resolve(device).type != "cuda":
        return 1
    import psutil

    by_memory = int(psutil.virtual_memory().available // WORKER_BYTES)
    return max(1, min(AUTO_MAX, threads.available_cores() - 1, by_memory))


def applicable(vcf: str, output_kind: str, workers: int, scores: str | None, dask: bool, regions: bool,
               explicit: bool = False, records: int | None = None) -> str | None:
    """Why the input is not cut into parts (``None``: it is); ``explicit``: the user asked for the
    workers (then a small input is cut too); ``records``: the input's record count when its index
    says."""
    if workers <= 1:
        return "one host process"
    if dask or scores is not None or regions or output_kind not in ("vcf", "vcf.gz") or str(vcf) == "-":
        return "stdin, BCF or table output, --scores, regions or Dask"
    from .. import io

    kind = io.sniff(str(vcf))
    if kind not in MIN_BYTES:
        return f"{kind} input"
    if not explicit and (records < AUTO_RECORDS if records is not None else os.path.getsize(vcf) < MIN_BYTES[kind]):
        return "a small input"
    return None


# ---------------------------------------------------------------- the parent


def _lines(vcf: str) -> Iterator[bytes]:
    with open(vcf, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    with (gzip.open if gzipped else open)(vcf, "rb") as f:
        yield from f


def parts(vcf: str, region: int, chunk: int, size: int | None = None, total: int | None = None,
          tail: int = 0) -> Iterator[tuple[bytes, list[bytes]]]:
    """``(header, records)`` of consecutive parts of ``vcf`` (raw lines), each at least ``size``
    records (the last may be smaller) and ending where a region chunk ends
    (:func:`varbind.annotate.variants.region_chunks`: the contig or ``region``-base bin changes, or
    ``chunk`` records); ``size`` defaults to :data:`PART`. With ``total`` (the records of ``vcf``),
    the last ``tail`` records go in parts of a quarter of ``size``: each worker writes its last part
    after the GPU has scored it, so smaller last parts end the run sooner."""
    full = size or PART
    size = full
    lines = _lines(vcf)
    header: list[bytes] = []
    for line in lines:
        if not line.startswith(b"#"):
            first = line
            break
        header.append(line)
    else:
        return
    head = b"".join(header)
    part: list[bytes] = []
    key, in_chunk = None, 0
    done = 0
    for line in _chain(first, lines):  # every line goes to a part as it is: htslib reads it as in one process
        fields = line.split(b"\t", 2)
        try:
            k = (fields[0], (int(fields[1]) - 1) // region)
        except (IndexError, ValueError):
            k = key  # a malformed line: never a cut; its worker says what is wrong
        if in_chunk and (k != key or in_chunk == chunk):
            if len(part) >= size:
                yield head, part
                done += len(part)
                part = []
                if total is not None and total - done <= tail:
                    size = max(1, full // 4)
            in_chunk = 0
        part.append(line)
        in_chunk += 1
        key = k
    if part:
        yield head, part


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def annotate(vcf: str, output: str, header: bytes, workers: int, job: dict, total: int | None, progress: bool,
             check) -> tuple[Counter, Counter, str | None]:
    """Annotate ``vcf`` into ``output`` by parts (:func:`run` into a temporary file, then
    :func:`varbind.annotate.sinks.commit_vcf`); ``header``: the output's header text; ``check(counts,
    seen)`` may refuse the run before the output is committed. Returns the counts, the skipped ALT
    alleles by reason and the index's path."""
    from .. import predict
    from ..progress import Progress
    from .sinks import commit_vcf

    predict.warmup.announce(job["settings"].device)  # the workers' first-run compiling, said once here
    log.info("annotating by parts of %d records in %d host processes", PART, workers)
    if log.isEnabledFor(logging.DEBUG):  # psutil's import (~0.08 s) only for the message
        import psutil

        log.debug("host workers: the run begins %.1f s after this process started", time.time() -
                  psutil.Process().create_time())
    tmp = _fs.new_temp(output)
    bar = Progress("annotate", total, "rec", enabled=progress)
    try:
        counts, skipped, seen = run(vcf, tmp, header, workers, job, bar, output, total)
        bar.close()
        check(counts, seen)
        # no read-back: Python wrote the file (a failed write raised) and each part was read back
        t = time.perf_counter()
        index = commit_vcf(tmp, output, counts["records"], read_back=False)
        log.debug("output indexed and committed in %.2f s", time.perf_counter() - t)
    except BaseException:
        _fs.discard(tmp)
        raise
    return counts, Counter(skipped), index


def run(vcf: str, output: str, header_text: bytes, workers: int, job: dict, progress=None,
        final: str | None = None, total: int | None = None) -> tuple[Counter, dict, set]:
    """Annotate ``vcf`` into ``output`` (a temporary file) by parts; returns the merged counts, the
    skipped ALT alleles by reason and the contigs seen (see :func:`varbind.annotate.part_worker.annotate_part`); ``final``: the
    output's name in messages; ``total``: the input's records, when known (the last parts are smaller).
    ``job``: what
    every worker needs, pickled once per worker: ``run`` (the single-process annotation,
    :func:`varbind.annotate.api._annotate_vcf`), ``region`` and ``chunk`` (how it cuts chunks), the
    panel, DeepFind, settings ..."""
    with _main_importable():
        return _run(vcf, output, header_text, workers, job, progress, final or output, total)


@contextlib.contextmanager
def _main_importable() -> Iterator[None]:
    """A spawned worker imports the parent's ``__main__`` file again; a script read from stdin
    (``python -``) has none, so its name is hidden from them while the workers start."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or getattr(main, "__spec__", None) is not None or path is None or os.path.isfile(path):
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


def _run(vcf: str, output: str, header_text: bytes, workers: int, job: dict, progress, final: str,
         total: int | None) -> tuple[Counter, dict, set]:
    counts: Counter = Counter()
    skipped: Counter = Counter()
    seen: set = set()
    timing: dict[str, list[float]] = {"startup": [], "annotate": [], "join": [], "waited": [], "created": []}
    t_run, t_epoch = time.perf_counter(), time.time()
    folder = tempfile.mkdtemp(prefix=".varbind-parts-", dir=str(Path(output).resolve().parent))
    compress = output.endswith((".gz", ".bgz"))
    try:
        server, pool = _start(folder, job, workers)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    pending: deque = deque()
    try:
        with open(output, "wb") as out:
            if compress:
                part_worker.write_bgzf(os.path.join(folder, "header.gz"), [header_text])
                with open(os.path.join(folder, "header.gz"), "rb") as f:
                    _put(out, final, f)
            else:
                _put(out, final, header_text)

            def drain_one() -> None:
                fut, n = pending.popleft()
                t = time.perf_counter()
                result = fut.result()
                timing["waited"].append(time.perf_counter() - t)
                if result[0] != "ok":
                    _raise(result)
                _, body, stats = result
                with open(body, "rb") as f:
                    _put(out, final, f)
                os.unlink(body)
                for key in ("startup", "annotate", "join"):
                    if stats.get(key) is not None:
                        timing[key].append(stats[key])
                if stats.get("created") is not None:
                    timing["created"].append(stats["created"] - t_epoch)
                log.debug("part of %d records: worker %d, annotate %.2f s (stages %s), join %.2f s; written at %.2f s",
                          n, stats["pid"], stats["annotate"], ", ".join(f"{k} {v:.2f}" for k, v in stats["busy"].items()),
                          stats["join"], time.perf_counter() - t_run)
                counts.update(stats["counts"])
                skipped.update(stats["skipped"])
                seen.update(stats["seen"])
                if progress is not None:
                    progress.update(n)

            offset = 0
            for i, (head, lines) in enumerate(parts(vcf, job["region"], job["chunk"], total=total,
                                                    tail=workers * PART)):
                path = os.path.join(folder, f"part{i:06d}.vcf")
                with open(path, "wb") as f:
                    f.write(head)
                    f.writelines(lines)
                pending.append((pool.submit(part_worker.annotate_part, path, compress, offset), len(lines)))
                offset += len(lines)
                while len(pending) >= 2 * workers:
                    drain_one()
            while pending:
                drain_one()
            if compress:
                _put(out, final, part_worker.BGZF_EOF)
        pool.shutdown(wait=True)  # before the job file goes: a worker may still be starting
    except BaseException:
        for fut, _ in pending:
            fut.cancel()
        procs = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)  # first: no worker is started after this
        for proc in procs:  # killed: on SIGTERM a worker would clean up and then block sending the parent
            proc.kill()  # a result nobody reads (the pool's manager thread then waits for it at exit)
        for proc in procs:  # gone before the pool's manager thread looks (else it can wait forever at exit)
            proc.join(10)
        raise
    finally:
        if server is not None:
            server.close()
        shutil.rmtree(folder, ignore_errors=True)
    med = {k: statistics.median(v) if v else 0.0 for k, v in timing.items()}
    log.debug("host workers: %d started in %.1f s (median; max %.1f; the first created %.1f s into the run), parts "
              "annotated in %.2f s and joined in %.2f s (medians), the parent waited %.1f s in all; wall %.1f s",
              len(timing["startup"]), med["startup"], max(timing["startup"], default=0.0),
              min(timing["created"], default=0.0), med["annotate"], med["join"], sum(timing["waited"]),
              time.perf_counter() - t_run)
    return counts, dict(skipped), seen


def _start(folder: str, job: dict, workers: int) -> tuple[service.Server | None, ProcessPoolExecutor]:
    """The scoring service (on a GPU: the parent scores every worker's tasks, :mod:`varbind.annotate.service`)
    and the workers' pool.

    The job goes to the workers as a file, pickled here by value: as an initializer argument each
    worker's start would block the parent until that worker had imported what unpickling it needs
    (workers started one after another: 10 took ~50 s on the H200 host), and multiprocessing's own
    pickler would pass torch tensors as shared memory the parent may unmap under the worker."""
    server = service.Server(folder, job, workers) if _on_gpu(job["settings"]) else None
    try:
        job_file = os.path.join(folder, "job.pickle")
        with open(job_file, "wb") as f:
            pickle.dump(dict(job, service=server and (server.address, server.authkey, server.needs_genome)), f,
                        protocol=pickle.HIGHEST_PROTOCOL)
        prestart(job["settings"])  # started already by the run, unless called from elsewhere
        method = "forkserver" if _forks(job["settings"]) else "spawn"
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method),
                                   initializer=part_worker.init, initargs=(job_file, workers))
    except BaseException:
        if server is not None:
            server.close()
        raise
    return server, pool


def _on_gpu(settings) -> bool:
    from .. import device as _device

    return _device.resolve(settings.device).type == "cuda"


def _forks(settings) -> bool:
    """Whether the workers are forked from :mod:`varbind.forkserver` (on a GPU, where they only read,
    build windows and write) rather than spawned."""
    return forkserver.available() and _on_gpu(settings)


def prestart(settings) -> None:
    """Start the workers' forkserver (:mod:`varbind.forkserver`) if they will fork from it: as early as
    the device is known, so that it imports what they need while this process loads the panel (the
    command line starts it earlier still)."""
    if _forks(settings):
        forkserver.start()


def _put(out, final: str, data) -> None:
    """Write ``data`` (bytes or a file to copy) to ``out``; a failed write is the output's fault."""
    try:
        if isinstance(data, bytes):
            out.write(data)
        else:
            shutil.copyfileobj(data, out, 1 << 20)
    except OSError as e:
        raise _fs._error(final, e) from None


def _raise(result: tuple) -> None:
    """Raise in the parent what a worker raised (its class when it takes one message)."""
    from ..io import vcf_policy

    kind = result[0]
    if kind == "undeclared":  # annotate_vcf declares and starts again, as for one process
        raise vcf_policy.Undeclared(*result[1:])
    _, module, name, message = result
    import importlib

    cls = getattr(importlib.import_module(module), name, None)
    err = None
    if isinstance(cls, type) and issubclass(cls, VarbindError):
        with contextlib.suppress(TypeError):  # a class whose constructor takes more than the message
            err = cls(message)
    raise err or (InputFormatError(message) if kind == "input" else RuntimeError(f"a host worker failed: {message}"))
