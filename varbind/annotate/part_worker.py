"""A worker process of :mod:`varbind.annotate.parallel`: the job loaded once (:func:`init`), then
each part annotated by the single-process run into plain VCF text and its records compressed
(:func:`annotate_part`); what it returns, errors included, is picklable for the parent."""
from __future__ import annotations

import logging
import os
import pickle
import shutil
import time
from collections.abc import Iterable
from typing import Any

from ..errors import VarbindError

#: the BGZF end-of-file block (SAM/BAM specification, 4.1.2)
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def write_bgzf(path: str, blocks: Iterable[bytes]) -> None:
    """``blocks`` as a BGZF file without its end-of-file block (the parts follow; the parent writes
    one at the end)."""
    from pysam.libcbgzf import BGZFile

    g = BGZFile(path, "wb")
    for block in blocks:
        g.write(block)
    g.close()
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.seek(max(0, size - len(BGZF_EOF)))
        if f.read() == BGZF_EOF:
            f.truncate(size - len(BGZF_EOF))


_JOB: dict[str, Any] = {}


def init(job_file: str, workers: int) -> None:
    """A worker's start: signals, its share of the cores, the job (panel, DeepFind, settings) and its GPU."""
    import signal

    import psutil

    started = psutil.Process().create_time()  # the process's start: the interpreter and imports are most of it
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and ends its workers
    signal.signal(signal.SIGTERM, lambda *_: os._exit(143))  # nothing of a worker's outlives the parts folder
    logging.getLogger("varbind").setLevel(logging.ERROR)  # the parent says the summary once
    from .. import threads

    threads.configure(max(1, (os.cpu_count() or 1) // workers))  # the cores shared, not each taken whole
    with open(job_file, "rb") as f:
        job = pickle.load(f)  # written by this run's parent (not a model file)
    if job.get("service") is not None:  # on a GPU the parent scores this worker's tasks (on the CPU: itself)
        from .service import Remote

        job["scorer"] = Remote(*job["service"]).score
    _JOB.update(job, _startup=time.time() - started, _created=started)


def annotate_part(path: str, compress: bool, offset: int = 0) -> tuple:
    """Annotate one part (a plain VCF: the input's header and some of its records, ``offset``
    records before them) into plain VCF text; returns ``("ok", body, stats)`` with ``body`` the file
    of its records (BGZF blocks with ``compress``, without the end-of-file block), or a picklable
    description of the error."""
    from ..io import vcf_policy

    out = path[: -len(".vcf")] + ".out.vcf"
    stats: dict = {"startup": _JOB.pop("_startup", None), "created": _JOB.pop("_created", None), "pid": os.getpid()}
    j = _JOB
    t = time.perf_counter()
    try:
        j["run"](path, j["fasta"], out, j["panel"], settings=j["settings"], top_k=j["top_k"], strict=j["strict"],
                 command=j["command"], deepfind=j["deepfind"] is not None, dfind=j["deepfind"],
                 declared=j["declared"], part_stats=stats, scorer=j.get("scorer"))
    except vcf_policy.Undeclared as e:
        return ("undeclared", e.number + offset, e.where, e.code)
    except VarbindError as e:
        return ("input", type(e).__module__, type(e).__name__, _renumbered(str(e), path))
    except Exception as e:  # noqa: BLE001 - described to the parent, which raises it
        return ("error", type(e).__module__, type(e).__name__, f"{type(e).__name__}: {e}")
    finally:
        os.unlink(path)
    stats["annotate"] = time.perf_counter() - t
    t = time.perf_counter()
    body = out + (".body.gz" if compress else ".body")
    with open(out, "rb") as f:
        for line in f:
            if line.startswith(b"#CHROM"):
                break
        if compress:
            write_bgzf(body, iter(lambda: f.read(1 << 20), b""))
        else:
            with open(body, "wb") as g:
                shutil.copyfileobj(f, g, 1 << 20)
    os.unlink(out)
    stats["join"] = time.perf_counter() - t
    return ("ok", body, stats)


def _renumbered(message: str, path: str) -> str:
    """A worker's message names its part file; the user knows the input."""
    return message.replace(path, _JOB.get("vcf", path))
