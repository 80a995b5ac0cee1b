"""Is a FASTA's ``.fai`` index still a true description of the file?

htslib reads a contig's bases at the byte offsets its ``.fai`` gives and trusts them: a FASTA edited
after indexing is read at shifted offsets, and a second contig with a name already seen is left out
of the index (its sites scored on the first one's sequence). For a plain (uncompressed) FASTA,
:func:`check_layout` walks the index once: each contig's header line must sit exactly where the
previous contig's bases end, and the file must end where the last one does; anything the index does
not describe is named (a duplicate contig, or an edit: "re-index"). :func:`check_span` then checks
the line breaks of every stretch fetched. A bgzipped FASTA is checked only for an index older than
the data (its offsets cannot be checked without decompressing the whole file).

Coordinates are 0-based half-open.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ..errors import InputFormatError, StaleIndexError


class FaiEntry(NamedTuple):
    """One line of a ``.fai``: name, length (bases), byte offset of the first base, bases per line,
    bytes per line (bases + line terminator)."""

    name: str
    length: int
    offset: int
    line_bases: int
    line_bytes: int

    def byte_of(self, pos: int) -> int:
        """Byte offset of base ``pos`` (0-based) in the file."""
        return self.offset + (pos // self.line_bases) * self.line_bytes + pos % self.line_bases

    def end_byte(self) -> int:
        """Byte offset just after the contig's last base (and its line terminator, if full)."""
        full, rem = divmod(self.length, self.line_bases)
        return self.offset + full * self.line_bytes + (rem + self.line_bytes - self.line_bases if rem else 0)


def _reindex(path: str, what: str) -> StaleIndexError:
    return StaleIndexError(f"{path}: {what}; the FASTA changed after its .fai index was made: re-index it "
                           f"(samtools faidx {path}, or delete {path}.fai)")


def read_fai(fai: str) -> list[FaiEntry]:
    """The entries of a ``.fai`` file, in file order."""
    out = []
    with open(fai) as f:
        for n, line in enumerate(f, 1):
            cols = line.rstrip("\n").split("\t")
            try:
                out.append(FaiEntry(cols[0], *(int(c) for c in cols[1:5])))
            except (ValueError, TypeError, IndexError):
                raise InputFormatError(f"{fai}: line {n} is not a .fai line (name, length, offset, "
                                       "line bases, line bytes)") from None
    return out


def check_duplicates(path: str, names: Sequence[str]) -> None:
    """Refuse a FASTA whose index lists a contig name twice."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InputFormatError(f"{path}: contig name {name!r} appears more than once; "
                                   "rename or remove the duplicate")
        seen.add(name)


def _name(line: bytes) -> str:
    parts = line[1:].split(None, 1)
    return parts[0].decode("utf-8", "replace") if parts else ""


def _undescribed(path: str, lines: Sequence[bytes], names: set[str], where: str) -> None:
    """Raise for bytes the index does not describe: a duplicate contig, else an edit."""
    for line in lines:
        if line.startswith(b">") and _name(line) in names:
            raise InputFormatError(f"{path}: contig name {_name(line)!r} appears more than once; "
                                   "rename or remove the duplicate")
    raise _reindex(path, f"bytes the index does not describe {where}")


def check_layout(path: str, entries: Sequence[FaiEntry]) -> None:
    """Check that ``entries`` describe the plain FASTA ``path`` byte for byte (see the module docstring).

    Raises
    ------
    StaleIndexError
        The index does not match the file (edited after indexing).
    InputFormatError
        The file holds a contig name twice.
    """
    check_duplicates(path, [e.name for e in entries])
    size = os.path.getsize(path)
    names = {e.name for e in entries}
    pos, term = 0, 0
    with open(path, "rb") as f:
        for e in sorted(entries, key=lambda e: e.offset):
            if e.line_bases < 1 or e.line_bytes < e.line_bases or not pos <= e.offset <= size:
                raise _reindex(path, f"the index entry of {e.name!r} does not fit the file")
            f.seek(pos)
            lines = f.read(e.offset - pos).split(b"\n")
            header = lines[-2].rstrip(b"\r") if len(lines) >= 2 and lines[-1] == b"" else b""
            if not header.startswith(b">") or _name(header) != e.name:
                raise _reindex(path, f"no '>{e.name}' header line just before its bases")
            if any(ln.strip() for ln in lines[:-2]):
                _undescribed(path, lines[:-2], names, f"before contig {e.name!r}")
            pos, term = e.end_byte(), e.line_bytes - e.line_bases
        if pos > size + term:
            raise _reindex(path, "the file is shorter than its index says")
        f.seek(min(pos, size))
        tail = f.read(1 << 20)
        if tail.strip():
            _undescribed(path, tail.split(b"\n"), names, "after the last contig")


def check_span(raw: bytes, entry: FaiEntry, start: int, path: str) -> None:
    """Check the line breaks of the raw bytes ``raw`` read for bases ``[start, ...)`` of ``entry``.

    Raises
    ------
    StaleIndexError
        When a line break is not where the index puts one (the file was edited after indexing).
    """
    arr = np.frombuffer(raw, np.uint8)
    first = entry.byte_of(start)
    term = entry.line_bytes - entry.line_bases
    line0 = (start // entry.line_bases) * entry.line_bytes + entry.offset
    # byte offsets (relative to ``first``) of the terminators inside the span
    ends = np.arange(line0 + entry.line_bases, first + len(arr), entry.line_bytes) - first
    ends = ends[ends >= 0]
    expect = np.concatenate([ends + k for k in range(term)]) if term else np.zeros(0, np.int64)
    expect = expect[expect < len(arr)]
    is_break = (arr == 10) | (arr == 13)
    if not is_break[expect].all() or int(is_break.sum()) != len(expect):
        raise _reindex(path, f"line breaks of {entry.name}:{start + 1}-{start + len(arr)} are not where the "
                       "index puts them")
