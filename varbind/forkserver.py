"""The forkserver the host workers of ``varbind annotate`` come from on a GPU
(:mod:`varbind.annotate.parallel`), started as early as possible.

A spawned worker imports torch and varbind's annotation modules itself; on the H200 host torch
alone takes ~5 s, and 14 workers importing at once took 6.3 s (median) while the GPU waited. A
forkserver imports them once (:data:`PRELOAD`), while the parent loads the panel, and forks each
worker from there. This module imports nothing heavy, so the command line can start the server
before it imports torch itself (:func:`start_for_command`); a run that ends up in one process, or
on the CPU, leaves the server idle.
"""
from __future__ import annotations

import multiprocessing
import os
import sys

#: what the forkserver imports before it forks a worker: all that unpickling the job and annotating
#: a part need (torch among them)
PRELOAD = ["varbind.annotate.api", "varbind.annotate.part_worker", "varbind.deepfind.model", "pysam.libcbgzf"]
#: ``--host-workers auto`` runs smaller inputs in one process (:mod:`varbind.annotate.parallel`: at
#: least 400,000 records, or 2 MB bgzipped), so the command line does not start the server for a
#: VCF file under this size: it would import torch beside the parent's own import (~1 s more on a
#: GPU host for a run of 1,000 SNVs)
GUESS_BYTES = 2 << 20


def available() -> bool:
    """Forkservers are used on Linux only (where they are tested)."""
    return sys.platform.startswith("linux")


def start() -> None:
    """Start the forkserver, importing :data:`PRELOAD`, unless it runs already (cheap then)."""
    if not available():
        return
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(PRELOAD)  # no effect once it runs
    forkserver.ensure_running()


def start_for_command(argv: list[str]) -> None:
    """:func:`start` for a ``varbind annotate`` command line that will probably fork workers on a GPU:
    a guess from the words alone, before torch is imported (``--device`` cuda, or auto on a machine
    with an NVIDIA driver; ``--host-workers`` more than 1, or auto with a VCF file of at least
    :data:`GUESS_BYTES`; not Dask). A wrong guess costs an idle process, or a later start; the run
    decides again with the device resolved."""
    words = {w.split("=", 1)[0]: w for w in argv}
    if "--workers" in words or "--dask" in words:
        return
    value = {}
    for i, w in enumerate(argv[:-1]):
        if w in ("--device", "--host-workers"):
            value[w] = argv[i + 1]
    for w in argv:
        if w.startswith(("--device=", "--host-workers=")):
            key, v = w.split("=", 1)
            value[key] = v
    workers = value.get("--host-workers", "auto")
    if workers == "1" or (workers == "auto" and not _large_input(argv)):
        return
    device = value.get("--device", "auto")
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES") in ("", "-1")
    if device.startswith("cuda") or (device == "auto" and not hidden and os.path.exists("/dev/nvidiactl")):
        start()


def large_vcf(path: str) -> bool:
    """Whether ``path`` is a VCF file of at least :data:`GUESS_BYTES` (one that ``--host-workers auto``
    may cut into parts)."""
    return path.endswith((".vcf", ".vcf.gz", ".vcf.bgz")) and os.path.isfile(path) and os.path.getsize(path) >= GUESS_BYTES


def _large_input(argv: list[str]) -> bool:
    """Whether a VCF file named among the words (not the output) is :func:`large_vcf`."""
    outputs = {argv[i + 1] for i, w in enumerate(argv[:-1]) if w in ("-o", "--output")}
    outputs |= {w.split("=", 1)[1] for w in argv if w.startswith("--output=")}
    return any(w not in outputs and large_vcf(w) for w in argv)
