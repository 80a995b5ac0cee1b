"""Genomic file I/O at the edge: VCF/BCF (cyvcf2), FASTA (pysam), bgzip + tabix (pysam).

This package is the only part of varbind that imports cyvcf2, pysam or pyfaidx. It also owns the two
things that need the files' names: contig aliasing (``chr1`` <-> ``1``, ``chrX`` <-> ``X``,
``chrM`` <-> ``MT``; :mod:`varbind.io.fasta`, with the FASTA reader) and the pre-flight validation
of VCF input (here), so that malformed files end as one :class:`~varbind.errors.InputFormatError`
line instead of htslib noise on stderr or a crash.

Coordinates: everything here is 0-based half-open (``start``, ``end``) except ``POS`` read from or
written to a VCF, which is 1-based.
"""
from __future__ import annotations

import contextlib
import errno
import gzip
import logging
import os
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InputFormatError
from ._hts import BGZF_EOF, _captured_stderr, _hts_message, sniff  # noqa: F401  (re-exported)
from .fasta import ContigMap, Fasta, alias_candidates, match_contig  # noqa: F401  (re-exported)

log = logging.getLogger("varbind")

VCF_COLUMNS = ("#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO")


# ---------------------------------------------------------------- VCF input


def check_vcf_header(path: str | os.PathLike) -> list[str]:
    """Read and validate the header of a text VCF (plain, gzip or bgzip); return its lines.

    Checks: not empty, first line ``##fileformat=VCF...``, a tab-separated ``#CHROM`` line with the
    eight fixed columns. BCF files are left to htslib (returns ``[]``).

    Raises
    ------
    InputFormatError
        With one line saying what is wrong.
    """
    kind = sniff(path)
    if kind == "empty":
        raise InputFormatError(f"{path}: empty file (not a VCF)")
    if kind == "bcf":
        return []
    opener = gzip.open if kind in ("bgzf", "gzip") else open
    lines: list[str] = []
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as f:
            for raw in f:
                line = raw.rstrip("\r\n")
                if not lines and not line.startswith("##fileformat=VCF"):
                    if line.startswith("BCF"):
                        return []
                    raise InputFormatError(f"{path}: not a VCF (the first line is not '##fileformat=VCF...')")
                lines.append(line)
                if line.startswith("#CHROM"):
                    cols = tuple(line.split("\t"))
                    if cols[:8] != VCF_COLUMNS:
                        raise InputFormatError(f"{path}: malformed #CHROM line (expected the tab-separated "
                                               f"columns {' '.join(VCF_COLUMNS)})")
                    return lines
                if not line.startswith("##"):
                    break
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise InputFormatError(f"{path}: unreadable compressed file ({e})") from None
    if not lines:
        raise InputFormatError(f"{path}: empty file (not a VCF)")
    raise InputFormatError(f"{path}: no '#CHROM' header line before the records")


def open_vcf(path: str | os.PathLike, fd: int | None = None) -> Any:
    """Open a VCF/BCF (plain, gzip, bgzip) for streaming, after :func:`check_vcf_header`.

    ``path`` ``-`` reads stdin (its header is checked once htslib has read it); ``fd``, an open
    descriptor of ``path``, is read instead of opening the file again (its offset then tells how
    far reading has got).

    Returns
    -------
    cyvcf2.VCF
    """
    import cyvcf2

    path = str(path)
    stdin = path == "-"
    if not stdin:
        if not Path(path).is_file():
            raise FileNotFoundError(2, "No such file or directory", path)
        check_vcf_header(path)
    with _captured_stderr() as msgs:
        try:
            reader = cyvcf2.VCF(path if fd is None else fd, lazy=True, threads=None)
        except Exception:  # noqa: BLE001 - cyvcf2 raises bare Exception/OSError
            reader = None
    if reader is None:
        what = "stdin" if stdin else path
        raise InputFormatError(f"{what}: cannot parse the VCF header ({_hts_message(msgs) or 'htslib'})"
                               + (": is it a VCF or BCF?" if stdin else ""))
    if stdin:
        _check_header_lines(reader.raw_header.splitlines(), "stdin")
    return reader


def _check_header_lines(lines: list[str], what: str) -> None:
    """The checks of :func:`check_vcf_header` on a header htslib has already read."""
    chrom = [ln for ln in lines if ln.startswith("#CHROM")]
    if not chrom or tuple(chrom[0].rstrip("\r\n").split("\t"))[:8] != VCF_COLUMNS:
        raise InputFormatError(f"{what}: malformed #CHROM line (expected the tab-separated "
                               f"columns {' '.join(VCF_COLUMNS)})")


def read_batches(reader: Any, size: int = 4096, path: str = "VCF") -> Iterator[list]:
    """Records of an open reader in lists of up to ``size``, htslib's messages caught.

    Raises
    ------
    InputFormatError
        For a record htslib cannot parse (non-numeric POS, too few columns, truncated file ...).
    """
    it = iter(reader)
    seen_warn: set[str] = set()
    n = 0
    while True:
        batch: list = []
        failed = False
        bad = None
        with _captured_stderr() as msgs:
            try:
                for rec in it:
                    bad = _phantom(rec, path, n + len(batch) + 1)
                    if bad == "blank":
                        bad = None
                        continue
                    if bad:
                        break
                    batch.append(rec)
                    if len(batch) == size:
                        break
            except Exception:  # noqa: BLE001
                failed = True
        n += len(batch)
        if failed or any(ln.startswith("[E::") for ln in msgs):
            raise InputFormatError(f"{path}: unreadable record after record {n}: "
                                   f"{_hts_message(msgs) or 'htslib could not parse it'}")
        if bad:
            raise InputFormatError(bad)
        for line in msgs:
            if not line.startswith("["):  # another thread's output (the capture is process-wide): pass it on
                print(line, file=sys.stderr)
            elif "is not defined in the header" in line:  # htslib's tabix advice: harmless, contigs are checked
                log.debug("htslib: %s", line.split("] ", 1)[-1])
            elif line.startswith("[W::") and line not in seen_warn and len(seen_warn) < 20:
                seen_warn.add(line)
                log.info("htslib: %s", line.split("] ", 1)[-1])
        if not batch:
            return
        yield batch
        if len(batch) < size:
            return


def _phantom(rec: Any, path: str, number: int) -> str | None:
    """``None`` for a usable record, ``"blank"`` for the empty record htslib makes of a blank line
    (skipped), else why the record is unusable. A record without a REF allele crashes cyvcf2 when
    its ``REF`` or ``ID`` is read (a segmentation fault), so only ``CHROM``, ``start`` and ``end``
    are looked at here.
    """
    chrom = rec.CHROM
    if rec.end > rec.start and chrom and not any(c.isspace() for c in chrom):
        return None
    if not chrom and rec.end <= 0:  # a blank line: no CHROM, no POS
        log.debug("%s: blank line after record %d skipped", path, number - 1)
        return "blank"
    if not chrom:
        return f"{path}: record {number} (POS {rec.start + 1}) has an empty CHROM"
    if any(c.isspace() for c in chrom):
        return (f"{path}: record {number} is not tab-delimited (CHROM reads {chrom[:40]!r}); "
                "VCF fields must be separated by tabs")
    return f"{path}: record {number} ({chrom}:{rec.start + 1}) has no REF allele"


def header_contigs(reader: Any) -> dict[str, int | None]:
    """``##contig`` IDs of a VCF header and their lengths (``None`` when not given)."""
    out: dict[str, int | None] = {}
    for line in reader.raw_header.splitlines():
        if line.startswith("##contig=<"):
            fields = dict(f.split("=", 1) for f in line[10:].rstrip(">").split(",") if "=" in f)
            if "ID" in fields:
                length = fields.get("length", "")
                out[fields["ID"]] = int(length) if length.isdigit() else None
    return out


def site_of(rec: Any) -> tuple[str, int, str, tuple[str, ...], str]:
    """``(chrom, start (0-based), REF, ALTs, ID)`` of a cyvcf2 record (``ALT .`` gives ``()``)."""
    return rec.CHROM, rec.start, rec.REF, tuple(rec.ALT), rec.ID or "."


# ---------------------------------------------------------------- VCF output


def add_info(reader: Any, key: str, number: str, type_: str, description: str) -> None:
    reader.add_info_to_header({"ID": key, "Number": number, "Type": type_, "Description": description})


def add_header_line(reader: Any, line: str) -> None:
    reader.add_to_header(line)


#: htslib threads compressing a BGZF/BCF output (the same bytes as one thread writes; the calling
#: thread keeps formatting records meanwhile)
WRITER_THREADS = 2


def vcf_writer(path: str, reader: Any) -> Any:
    """A cyvcf2 Writer with the reader's (amended) header; BGZF for ``.gz``, BCF for ``.bcf``
    (compressed by :data:`WRITER_THREADS` htslib threads)."""
    import cyvcf2

    mode = "wz" if path.endswith((".gz", ".bgz")) else "wb" if path.endswith(".bcf") else "w"
    with _captured_stderr():
        try:
            writer = cyvcf2.Writer(path, reader, mode=mode)
        except OSError:
            writer = None
    if writer is not None:
        if mode != "w" and WRITER_THREADS > 1:
            writer.set_threads(WRITER_THREADS)
        return writer
    folder = Path(path).parent
    code = errno.ENOENT if not folder.is_dir() else errno.EACCES if not os.access(folder, os.W_OK) else errno.EIO
    raise OSError(code, f"cannot write the output here ({os.strerror(code)})", str(folder))


@contextlib.contextmanager
def quiet_writes() -> Iterator[None]:
    """htslib's messages off for a write through cyvcf2 (e.g. ``bgzf_flush`` on a full disk): a
    failed write is found by reading the file back (:mod:`varbind.io.readback`) and said in one line."""
    from cyvcf2.cyvcf2 import set_htslib_log_level

    set_htslib_log_level(0)
    try:
        yield
    finally:
        set_htslib_log_level(3)  # htslib's default (HTS_LOG_WARNING)


def set_info(rec: Any, key: str, value: str) -> None:
    rec.INFO[key] = value


def index_vcf(path: str) -> str | None:
    """Tabix-index a bgzipped VCF (or CSI-index a BCF); return the index path, or ``None`` with a
    warning when records are unsorted.

    ``bcftools index`` (pysam's) with a thread per available core (at most 8) decompresses in
    parallel; its index is the same file as ``tabix``'s (htslib's ``tbx_index_build3`` either way).
    When it fails, ``pysam.tabix_index`` runs again for htslib's own message (unsorted records)."""
    import pysam
    from pysam import bcftools

    from .. import threads

    pysam.set_verbosity(0)
    preset_csi = path.endswith(".bcf")
    index = path + (".csi" if preset_csi else ".tbi")
    n = min(8, threads.available_cores())
    try:
        with _captured_stderr():
            bcftools.index("--threads", str(n), "-c" if preset_csi else "-t", "-f", path)
        if os.path.exists(index):
            return index
    except pysam.utils.SamtoolsError:
        pass
    msgs: list[str] = []
    try:
        with _captured_stderr() as msgs:
            pysam.tabix_index(path, preset="bcf" if preset_csi else "vcf", force=True, keep_original=True,
                              csi=preset_csi)
    except (OSError, ValueError) as e:
        log.warning("output not indexed (%s); are the records unsorted?", _hts_message(msgs) or e)
        return None
    return index if os.path.exists(index) else None
