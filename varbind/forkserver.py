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
    with an NVIDIA driver; neither ``--host-workers 1`` nor Dask). A wrong guess costs an idle
    process; the run decides again with the device resolved."""
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
    if value.get("--host-workers") == "1":
        return
    device = value.get("--device", "auto")
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES") in ("", "-1")
    if device.startswith("cuda") or (device == "auto" and not hidden and os.path.exists("/dev/nvidiactl")):
        start()
