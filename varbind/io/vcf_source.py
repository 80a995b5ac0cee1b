"""A VCF to stream: a file or stdin (``-``), optionally restricted to regions, with a progress total.

:func:`open_source` checks what can be checked before any work is done (a truncated gzip file is
read to its end first: minutes of scoring are not thrown away at the last record), opens the VCF
through :func:`varbind.io.open_vcf` and says how far along a reader is: records counted from the
tabix/CSI index when there is one, else bytes of the file read so far (stdin: neither).

Regions (see :mod:`varbind.io.vcf_regions`): with an index the reader jumps to each region (``-r`` on a
file needs one, as in bcftools); ``-R`` without an index, and any regions on stdin, filter the stream.
"""
from __future__ import annotations

import gzip
import logging
import os
import struct
import weakref
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import io
from ..errors import InputFormatError
from .vcf_regions import RegionFilter, Span, for_reader, parse_regions, read_regions_file

log = logging.getLogger("varbind")

_PSEUDO_TBI = 37450


def check_gzip_complete(path: str | os.PathLike, chunk: int = 1 << 20) -> None:
    """Read a plain (not BGZF) gzip file to its end; raise when it is truncated or corrupt.

    A plain gzip stream cannot be checked from its end alone (BGZF files are: :func:`varbind.io.sniff`
    looks for the end-of-file block), so this decompresses it once, in bounded memory, at zlib speed
    (see BENCHMARKS.md: a few seconds per 100 MB of compressed VCF).

    Raises
    ------
    InputFormatError
        Naming the file and what is wrong.
    """
    with open(path, "rb") as f:
        d = zlib.decompressobj(31)
        in_member = False  # fed part of a gzip member whose end has not been seen
        while data := f.read(chunk):
            try:
                while data:
                    d.decompress(data, 16 * chunk)  # output discarded, at most 16 MB at a time
                    if not d.eof:
                        in_member, data = True, d.unconsumed_tail
                        continue
                    in_member, data = False, d.unused_data
                    d = zlib.decompressobj(31)  # another member may follow (concatenated gzip files)
                    if data and data[:2] != b"\x1f\x8b":
                        return  # trailing bytes after the last member: gzip ignores them too
            except zlib.error as e:
                raise InputFormatError(f"{path}: corrupt gzip data ({e}); re-download or re-compress it") from None
    if in_member:
        raise InputFormatError(f"{path}: truncated gzip file (the compressed data ends before its "
                               "end-of-stream marker); re-download or re-compress it")


def index_of(path: str) -> str | None:
    """The tabix (``.tbi``) or CSI (``.csi``) index beside a compressed VCF/BCF, if any."""
    for suffix in (".tbi", ".csi"):
        if os.path.isfile(path + suffix):
            return path + suffix
    return None


def index_records(index: str) -> int | None:
    """Records counted in a tabix or CSI index (its per-contig pseudo-bins), or ``None`` when the
    index holds no counts or cannot be read."""
    try:
        with gzip.open(index, "rb") as f:
            data = f.read()
    except (OSError, EOFError):
        return None
    try:
        if data[:4] == b"TBI\x01":
            n_ref, = struct.unpack_from("<i", data, 4)
            l_nm, = struct.unpack_from("<i", data, 32)
            return _count(data, 36 + l_nm, n_ref, _PSEUDO_TBI, loffset=False)
        if data[:4] == b"CSI\x01":
            _, depth, l_aux = struct.unpack_from("<3i", data, 4)
            off = 16 + l_aux
            n_ref, = struct.unpack_from("<i", data, off)
            return _count(data, off + 4, n_ref, ((1 << ((depth + 1) * 3)) - 1) // 7 + 1, loffset=True)
    except struct.error:
        return None
    return None


def _count(data: bytes, off: int, n_ref: int, pseudo: int, loffset: bool) -> int | None:
    total, found = 0, False
    for _ in range(n_ref):
        n_bin, = struct.unpack_from("<i", data, off)
        off += 4
        for _ in range(n_bin):
            b, = struct.unpack_from("<I", data, off)
            off += 4 + (8 if loffset else 0)
            n_chunk, = struct.unpack_from("<i", data, off)
            off += 4
            if b == pseudo and n_chunk == 2:
                mapped, unmapped = struct.unpack_from("<QQ", data, off + 16)
                total += mapped + unmapped
                found = True
            off += 16 * n_chunk
        if not loffset:  # tabix keeps a linear index after the bins
            n_intv, = struct.unpack_from("<i", data, off)
            off += 4 + 8 * n_intv
    return total if found else None


@dataclass
class VcfSource:
    """An open VCF and how to follow its progress.

    Attributes
    ----------
    reader : cyvcf2.VCF
    path : str
        The file, or ``-`` for stdin.
    total : int or None
        Records to be read, from the index (only when reading the whole file).
    bytes_total : int or None
        Size of the file, when progress follows bytes read (no index count).
    spans : list of Span
        The regions (empty: the whole file).
    """

    reader: Any
    path: str
    total: int | None = None
    bytes_total: int | None = None
    spans: list[Span] = field(default_factory=list)
    _fd: int | None = None
    _indexed: bool = False

    def __post_init__(self) -> None:
        if self._fd is not None:  # ours: htslib reads it but leaves it open
            weakref.finalize(self, os.close, self._fd)

    def position(self) -> int | None:
        """Bytes of the file read so far (``None`` when not followed)."""
        if self._fd is None:
            return None
        try:
            return os.lseek(self._fd, 0, os.SEEK_CUR)
        except OSError:
            return None

    def records(self) -> Iterator[Any]:
        """The records, in file order, restricted to the regions."""
        if not self.spans:
            yield from self.reader
        elif self._indexed:
            yield from self._jump()
        else:
            keep = RegionFilter(self.spans)
            for rec in self.reader:
                if keep(rec.CHROM, rec.start, rec.end):
                    yield rec

    def _jump(self) -> Iterator[Any]:
        prev: Span | None = None
        for span in for_reader(self.spans, self.reader.seqnames):
            for rec in self.reader(str(span)):
                if prev is not None and prev.chrom == span.chrom and rec.start < prev.end:
                    continue  # overlapped the previous region too: already given
                yield rec
            prev = span

    def batches(self, size: int = 4096) -> Iterator[list]:
        """Lists of up to ``size`` records, htslib's messages caught (see :func:`varbind.io.read_batches`)."""
        return io.read_batches(self.records(), size, self.path)


def resolve_regions(regions: str | list[Span] | None, regions_file: str | None) -> tuple[list[Span], bool]:
    """The spans of ``-r`` (a string or spans) or ``-R`` (a file), and whether they came from a file."""
    if regions and regions_file:
        raise InputFormatError("give regions with -r or -R, not both")
    if regions_file:
        return read_regions_file(regions_file), True
    if isinstance(regions, str):
        return parse_regions(regions), False
    return list(regions or []), False


def open_source(path: str, regions: list[Span] | None = None, regions_file: bool = False) -> VcfSource:
    """Open a VCF/BCF file or stdin (``-``) for streaming, restricted to ``regions``.

    ``regions_file`` says the regions came from ``-R``: without an index they filter the stream;
    ``-r`` regions need an index on a file, as in bcftools.

    Raises
    ------
    InputFormatError
        For a truncated file, or ``-r`` on a file without an index.
    """
    spans = list(regions or [])
    path = str(path)
    if path == "-":
        return VcfSource(io.open_vcf("-"), path, spans=spans)
    if not Path(path).is_file():
        raise FileNotFoundError(2, "No such file or directory", path)
    kind = io.sniff(path)  # refuses a BGZF file without its end-of-file block
    if kind == "gzip":
        check_gzip_complete(path)
    index = index_of(path) if kind in ("bgzf", "bcf") or path.endswith(".bcf") else None
    if spans and index is None and not regions_file:
        raise InputFormatError(
            f"-r needs an index: {path} has no .tbi or .csi beside it (bgzip the VCF and run "
            f"'tabix -p vcf {path}' or 'bcftools index {path}'), or give the regions with -R FILE, "
            "which filters the file while streaming it")
    if spans and index is not None:
        return VcfSource(io.open_vcf(path), path, spans=spans, _indexed=True)
    total = index_records(index) if index is not None and not spans else None
    fd = os.open(path, os.O_RDONLY)
    try:
        reader = io.open_vcf(path, fd=fd)
    except BaseException:
        os.close(fd)
        raise
    return VcfSource(reader, path, total=total, bytes_total=None if total else os.path.getsize(path),
                     spans=spans, _fd=fd)
