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
