"""Scoring backends of :mod:`varbind.predict`: numba CPU kernels (``cpu``, ``cpu_edits``,
``cpu_regions``), torch twins for any device (``torch_ops``) and fused Triton GPU kernels (``triton_ops``,
``triton_snv``; ``triton_heads`` for the dense layers).

Nothing outside :mod:`varbind.predict` imports these.

numba keys a cached kernel by the time stamp of its own source file only, but the kernels of
``cpu_regions`` inline functions of ``cpu_edits``: after an edit (or a ``git pull``) that changes
``cpu_edits.py`` alone they would load stale machine code and compute with the old functions. So the
CPU kernels' sources are hashed when this package is imported (before any kernel is loaded), and
when the hash differs from the one kept beside numba's cache, the cached kernels are removed
(:func:`drop_stale_numba_cache`).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

#: the file beside numba's cache that holds the hash of the sources it was compiled from
STAMP = "varbind-numba-sources.sha256"


def drop_stale_numba_cache(folder: str | Path | None = None) -> bool:
    """Remove numba's cached kernels of ``folder``'s ``cpu*.py`` (default: this package's) when those
    sources changed since they were cached; returns whether it removed any. numba's cache is the
    package's ``__pycache__``, and with ``NUMBA_CACHE_DIR`` set also numba's folder for the package
    there (a read-only install keeps its cache there; a stale one was read from it too). A cache
    that cannot be written is left as it is."""
    here = Path(folder) if folder is not None else Path(__file__).parent
    try:
        digest = hashlib.sha256(b"".join(p.name.encode() + p.read_bytes()
                                         for p in sorted(here.glob("cpu*.py")))).hexdigest()
    except OSError:
        return False
    dropped = False
    for cache in _cache_folders(here):
        try:
            stamp = cache / STAMP
            if stamp.is_file() and stamp.read_text() == digest:
                continue
            stale = list(cache.glob("cpu*.nbi")) + list(cache.glob("cpu*.nbc"))
            for f in stale:
                f.unlink(missing_ok=True)
            cache.mkdir(parents=True, exist_ok=True)
            stamp.write_text(digest)
            dropped = dropped or bool(stale)
        except OSError:
            continue
    return dropped


def _cache_folders(here: Path) -> list[Path]:
    """Where numba caches the kernels of the files in ``here``: ``__pycache__`` beside them and, with
    ``NUMBA_CACHE_DIR``, numba's own folder for ``here`` under it (named by numba's rule)."""
    folders = [here / "__pycache__"]
    user = os.environ.get("NUMBA_CACHE_DIR")
    if user:
        try:  # numba's private naming rule: a numba without it leaves that cache to numba's own checks
            from numba.core.caching import _CacheLocator

            folders.append(Path(user) / _CacheLocator.get_suitable_cache_subpath(str(here / "cpu.py")))
        except (ImportError, AttributeError):
            pass
    return folders

drop_stale_numba_cache()
