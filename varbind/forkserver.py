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

import argparse
import multiprocessing
import os
import sys
from collections.abc import Iterable

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


def parts_likely(inputs: Iterable[str], host_workers: int | None) -> bool:
    """Whether a run may cut its input into parts: ``--host-workers`` N > 1, or auto (``None``) with a
    VCF file of at least :data:`GUESS_BYTES` among ``inputs`` (smaller ones run in one process)."""
    if host_workers is not None:
        return host_workers > 1
    return any(str(p).endswith((".vcf", ".vcf.gz", ".vcf.bgz")) and os.path.isfile(p)
               and os.path.getsize(p) >= GUESS_BYTES for p in inputs)


class _Words(argparse.ArgumentParser):
    def error(self, message):  # a malformed line: the command's own parser says what is wrong
        raise ValueError(message)


def start_for_command(argv: list[str]) -> None:
    """:func:`start` for a ``varbind annotate`` command line that will probably fork workers on a GPU:
    a guess from the words alone, before torch is imported (``--device`` cuda, or auto on a machine
    with an NVIDIA driver; :func:`parts_likely`, the input being among the words other than the
    output; not Dask). A wrong guess costs an idle process, or a later start; the run decides again
    with the device resolved."""
    words = _Words(add_help=False)
    for opt in ("--device", "--host-workers", "--workers", "--dask", "--output"):
        words.add_argument(opt, *(["-o"] if opt == "--output" else []))
    try:
        args, rest = words.parse_known_args(argv)
    except ValueError:
        return
    hw = args.host_workers
    host_workers = int(hw) if hw is not None and hw.isdigit() else None
    if args.workers is not None or args.dask is not None or not parts_likely(rest, host_workers):
        return
    device = args.device or "auto"
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES") in ("", "-1")
    if device.startswith("cuda") or (device == "auto" and not hidden and os.path.exists("/dev/nvidiactl")):
        start()
