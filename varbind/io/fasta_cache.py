"""The index of a FASTA whose folder is read-only, kept in the user's cache folder.

htslib writes ``REF.fa.fai`` (and ``.gzi`` for bgzip) beside the FASTA when it is missing; in a
read-only folder (a shared reference on a cluster, a mounted volume) it cannot, and the FASTA would
not open. :func:`open_with_cached_index` then builds the index with ``samtools faidx --fai-idx``
in ``$XDG_CACHE_HOME/varbind/fai`` (else ``~/.cache/varbind/fai``), named after the file's path,
size and modification time so that a changed FASTA gets a new one, and opens the FASTA with it.
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger("varbind")


def fasta_index_cache(path: str) -> Path:
    """Where the index of a FASTA whose own folder is read-only is kept: the user's cache folder
    (``$XDG_CACHE_HOME/varbind/fai``, else ``~/.cache/varbind/fai``), one name per file version."""
    st = os.stat(path)
    key = hashlib.sha1(f"{Path(path).resolve()}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:16]
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "varbind" / "fai"
    return root / f"{Path(path).name}.{key}"


def open_with_cached_index(path: str) -> Any:
    """The FASTA opened with an index built in :func:`fasta_index_cache` (``samtools faidx
    --fai-idx``), when there is no ``.fai`` beside it (a read-only folder); ``None`` if that fails too."""
    import pysam

    from ._hts import _captured_stderr, sniff

    if os.path.exists(path + ".fai"):
        return None
    base = fasta_index_cache(path)
    fai, gzi = f"{base}.fai", f"{base}.gzi"
    bgzf = sniff(path) == "bgzf"
    try:
        base.parent.mkdir(parents=True, exist_ok=True)
        if not os.path.exists(fai):
            tmp = f"{base}.{os.getpid()}.tmp"
            with _captured_stderr():
                pysam.faidx(path, "--fai-idx", tmp + ".fai", *(["--gzi-idx", tmp + ".gzi"] if bgzf else []))
            if bgzf:
                os.replace(tmp + ".gzi", gzi)
            os.replace(tmp + ".fai", fai)
        with _captured_stderr():
            f = pysam.FastaFile(path, filepath_index=fai, filepath_index_compressed=gzi if bgzf else None)
    except (OSError, ValueError, pysam.utils.SamtoolsError):
        return None
    log.info("%s: its folder is read-only; its index is kept in %s", path, fai)
    return f
