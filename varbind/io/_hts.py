"""What the VCF side (:mod:`varbind.io`) and the FASTA side (:mod:`varbind.io.fasta`) share: a
file's container told from its first bytes (:func:`sniff`), and htslib's messages on stderr caught
for a block (:func:`_captured_stderr`) and cut down to one line (:func:`_hts_message`).
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator

from ..errors import InputFormatError

#: the 28-byte empty block that ends every complete BGZF file
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


# ---------------------------------------------------------------- htslib's stderr


@contextlib.contextmanager
def _captured_stderr() -> Iterator[list[str]]:
    """Redirect file descriptor 2 (where htslib prints) into a list of lines for the block."""
    lines: list[str] = []
    sys.stderr.flush()
    with tempfile.TemporaryFile() as tmp:
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            lines.extend(tmp.read().decode("utf-8", "replace").splitlines())


def _hts_message(lines: list[str]) -> str:
    errors = [ln for ln in lines if ln.startswith("[E::")] or lines
    return errors[0].split("] ", 1)[-1].strip() if errors else ""


# ---------------------------------------------------------------- a file's container


def sniff(path: str | os.PathLike) -> str:
    """The container of a file: ``"bgzf"``, ``"gzip"``, ``"bcf"`` (uncompressed), ``"plain"`` or ``"empty"``.

    Raises
    ------
    InputFormatError
        For a BGZF file without its end-of-file block (a truncated download or copy).
    """
    with open(path, "rb") as f:
        head = f.read(18)
        if not head:
            return "empty"
        if head[:2] == b"\x1f\x8b":
            if len(head) >= 16 and head[3] & 4 and head[12:14] == b"BC":
                f.seek(0, 2)
                size = f.tell()
                f.seek(max(0, size - 28))
                if f.read(28) != BGZF_EOF:
                    raise InputFormatError(f"{path}: truncated bgzip file (no BGZF end-of-file block)")
                return "bgzf"
            return "gzip"
        return "bcf" if head[:3] == b"BCF" else "plain"
