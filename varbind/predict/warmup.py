"""What a first run says before its silent minutes: numba compiles the CPU kernels, Triton tunes and
compiles the GPU ones; both cache on disk, so the message shows once per machine."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from .. import device as _device

log = logging.getLogger("varbind")


def _numba_cached() -> bool:
    """Whether numba's on-disk cache holds CPU kernels from an earlier run (any of them: a run compiles
    only those it uses, annotate does not use plain scoring's)."""
    from .kernels import cpu_edits as _cpu_edit_kernels
    from .kernels import cpu as _cpu_kernels
    from .kernels import cpu_regions as _cpu_region_kernels

    try:
        return any(os.path.exists(f._cache._cache_file._index_path)
                   for f in (_cpu_kernels.global_pool, _cpu_edit_kernels.edit_pool,
                             _cpu_region_kernels.window_edit_pool))
    except AttributeError:  # another numba's internals: say nothing
        return True


def _triton_cached() -> bool:
    """Whether Triton's cache holds compiled SNV kernels (from an earlier run on this machine)."""
    root = Path(os.environ.get("TRITON_CACHE_DIR") or Path.home() / ".triton" / "cache")
    return any(root.glob("*/_snv_pool_jit*"))


def announce(device: str | torch.device | None) -> None:
    """Say, before a first run's silent minutes, that kernels are being compiled or tuned (once per process)."""
    dev = _device.resolve(device)
    if dev in _announced:
        return
    _announced.add(dev)
    kind = _device.backend(dev)
    if kind == "numba" and not _numba_cached():
        log.info("compiling CPU kernels (first run only: numba caches them on disk) ...")
    elif kind == "triton":
        from .kernels import triton_tiles as _triton_tiles

        if not _triton_tiles.table_for(torch.cuda.get_device_name(dev)):
            _triton_tiles.note_tuning(dev)
        elif not _triton_cached():
            log.info("compiling GPU kernels for %s (first run only: Triton caches them on disk) ...",
                     torch.cuda.get_device_name(dev))


_announced: set = set()


def compile_cpu() -> float:
    """Compile the CPU kernels into numba's on-disk cache (what a first run would otherwise do,
    ~30 s of a 2-core machine): every top-level kernel that ``score``, ``annotate`` and ``mutmap``
    call, through a tiny random bank. Returns the seconds taken; run by ``make install``."""
    import time

    import numpy as np

    from ..bank import ModelBank
    from ..params import random_params
    from ..sequence import encode_batch
    from . import Edits, RegionWindows, score, score_edits, score_windows

    t = time.perf_counter()
    bank = ModelBank.from_params([random_params(num_detectors=4, detector_len=6, seed=1),
                                  random_params(num_detectors=4, detector_len=9, has_avg_pooling=False, num_hidden=32,
                                                reverse_complement=False, seed=2)], ["a", "b"])
    seqs = encode_batch(["ACGTTGCAACGTAGGCTTAC", "GGCATTACGTA"])
    for mode in ("global", "deepbind"):
        score(bank, seqs, mode=mode, device="cpu")
    edits = Edits(np.array([0, 1]), np.array([4, 2]), np.array([[3], [0]], np.uint8), np.array([1, 1]))
    score_edits(bank, seqs, edits, device="cpu")
    windows = RegionWindows(np.array([0, 0]), np.array([0, 5]), np.array([12, 12]))
    score_windows(bank, encode_batch(["ACGTTGCAACGTAGGCTTACGG"]), windows, edits, device="cpu")
    return time.perf_counter() - t


def main() -> None:
    """``make install``'s last step: the CPU kernels compiled once, so that a first ``annotate`` does not."""
    print(f"numba: CPU kernels compiled and cached in {compile_cpu():.1f} s")
