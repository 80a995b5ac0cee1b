"""Genomic file I/O at the edge: VCF/BCF (cyvcf2), FASTA (pysam), bgzip + tabix (pysam).

This is the only module of varbind that imports cyvcf2, pysam or pyfaidx. It also owns the two
things that need the files' names: contig aliasing (``chr1`` <-> ``1``, ``chrX`` <-> ``X``,
``chrM`` <-> ``MT``) and the pre-flight validation of VCF input, so that malformed files end as one
:class:`~varbind.errors.InputFormatError` line instead of htslib noise on stderr or a crash.

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
import tempfile
import zlib
from collections.abc import Container, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputFormatError
from ..bases import GENOME_CODES

log = logging.getLogger("varbind")

#: the 28-byte empty block that ends every complete BGZF file
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
VCF_COLUMNS = ("#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO")
#: IUPAC ambiguity codes (read as N, but worth a notice)
_AMBIGUOUS = np.zeros(256, dtype=bool)
for _c in "RYSWKMBDHVrysw kmbdhv".replace(" ", ""):
    _AMBIGUOUS[ord(_c)] = True


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


# ---------------------------------------------------------------- VCF input


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
    warning when records are unsorted."""
    import pysam

    pysam.set_verbosity(0)
    preset_csi = path.endswith(".bcf")
    msgs: list[str] = []
    try:
        with _captured_stderr() as msgs:
            pysam.tabix_index(path, preset="bcf" if preset_csi else "vcf", force=True, keep_original=True,
                              csi=preset_csi)
    except (OSError, ValueError) as e:
        log.warning("output not indexed (%s); are the records unsorted?", _hts_message(msgs) or e)
        return None
    index = path + (".csi" if preset_csi else ".tbi")
    return index if os.path.exists(index) else None


# ---------------------------------------------------------------- FASTA


class Fasta:
    """A reference FASTA (plain or bgzipped with ``.fai``/``.gzi``; the index is built if missing).

    Attributes
    ----------
    path : str
    lengths : dict of str -> int
        Contig lengths, in file order.
    """

    def __init__(self, path: str | os.PathLike):
        import pysam

        pysam.set_verbosity(0)
        self.path = str(path)
        if not Path(self.path).is_file():
            raise FileNotFoundError(2, "No such file or directory", self.path)
        if sniff(self.path) == "gzip":
            raise InputFormatError(f"{self.path}: gzip-compressed FASTA must be bgzip-compressed "
                                   "(bgzip it, then 'samtools faidx' it)")
        try:
            with _captured_stderr() as msgs:
                self._f = pysam.FastaFile(self.path)
        except (OSError, ValueError) as e:
            from .fasta_cache import open_with_cached_index

            self._f = open_with_cached_index(self.path)  # no .fai, and none can be written beside the FASTA
            if self._f is None:
                raise InputFormatError(f"{self.path}: cannot open the FASTA ({_hts_message(msgs) or e})") from None
        self.lengths = dict(zip(self._f.references, self._f.lengths))
        self._raw, self._fai = None, {}
        self._check_index()

    def _check_index(self) -> None:
        """Refuse a stale ``.fai`` or duplicate contig names (see :mod:`varbind.io.fasta_check`)."""
        from . import fasta_check

        fai = self.path + ".fai"
        if not os.path.isfile(fai):
            fasta_check.check_duplicates(self.path, list(self._f.references))
            return
        entries = fasta_check.read_fai(fai)
        if sniff(self.path) == "plain":
            fasta_check.check_layout(self.path, entries)
            self._fai = {e.name: e for e in entries}
        else:
            fasta_check.check_duplicates(self.path, [e.name for e in entries])
            data = os.path.getmtime(self.path)
            if any(os.path.isfile(i) and os.path.getmtime(i) < data for i in (fai, self.path + ".gzi")):
                raise fasta_check._reindex(self.path, "its index is older than the file")

    def codes(self, contig: str, start: int, end: int, ambiguous: list | None = None) -> np.ndarray:
        """Codes (A0 C1 G2 T3, anything else 4 = N) of ``contig[start:end]``, 0-based half-open;
        positions outside the contig are N, so the result always has ``end - start`` codes.

        ``ambiguous``: a list extended with the positions (0-based) of IUPAC ambiguity codes (R, Y,
        ...; read as N). For a plain FASTA the line breaks of the span are checked against the
        index (:func:`varbind.io.fasta_check.check_span`).

        Examples
        --------
        >>> import tempfile, os
        >>> d = tempfile.mkdtemp(); p = os.path.join(d, "t.fa")
        >>> _ = open(p, "w").write(">c\\nACGTRa\\n")
        >>> Fasta(p).codes("c", -2, 8).tolist()
        [4, 4, 0, 1, 2, 3, 4, 0, 4, 4]
        """
        out = np.full(end - start, 4, dtype=np.uint8)
        n = self.lengths[contig]
        lo, hi = max(start, 0), min(end, n)
        if hi > lo:
            seq = self._f.fetch(contig, lo, hi).encode("ascii", "replace")
            if len(seq) != hi - lo:
                from .fasta_check import _reindex

                raise _reindex(self.path, f"{contig}:{lo + 1}-{hi} gave {len(seq)} bases instead of {hi - lo}")
            raw = np.frombuffer(seq, dtype=np.uint8)
            out[lo - start : lo - start + len(seq)] = GENOME_CODES[raw]
            if ambiguous is not None:
                ambiguous.extend((lo + np.flatnonzero(_AMBIGUOUS[raw])).tolist())
            entry = self._fai.get(contig)
            if entry is not None:
                self._check_span(entry, lo, hi)
        return out

    def _check_span(self, entry: Any, lo: int, hi: int) -> None:
        from .fasta_check import check_span

        if self._raw is None:
            self._raw = open(self.path, "rb")  # noqa: SIM115 - closed in close()
        first = entry.byte_of(lo)
        self._raw.seek(first)
        check_span(self._raw.read(entry.byte_of(hi - 1) + 1 - first), entry, lo, self.path)

    def close(self) -> None:
        self._f.close()
        if self._raw is not None:
            self._raw.close()


# ---------------------------------------------------------------- contig aliasing


def alias_candidates(name: str) -> list[str]:
    """Names a contig may go by in another naming scheme (UCSC ``chr1`` vs Ensembl/GRC ``1``).

    Examples
    --------
    >>> alias_candidates("chrM"), alias_candidates("X")
    (['M', 'MT', 'chrM', 'chrMT'], ['X', 'chrX'])
    """
    base = name[3:] if name.startswith("chr") else name
    if base in ("M", "MT"):
        return ["M", "MT", "chrM", "chrMT"]
    return [base, "chr" + base]


def match_contig(contig: str, names: Container[str]) -> tuple[str | None, list[str]]:
    """The one contig-alias policy of varbind: ``contig`` itself when ``names`` has it, else its one
    alias in ``names`` (:func:`alias_candidates`); ``None`` when none or several are there. Returns
    ``(match, aliases found)``.

    Examples
    --------
    >>> match_contig("1", {"chr1", "chr2"}), match_contig("MT", {"chrM", "M"}), match_contig("7", {"chr1"})
    (('chr1', ['chr1']), (None, ['M', 'chrM']), (None, []))
    """
    if contig in names:
        return contig, [contig]
    hits = [c for c in alias_candidates(contig) if c in names and c != contig]
    return (hits[0] if len(hits) == 1 else None), hits


class ContigMap:
    """Maps VCF contig names to FASTA contig names: exact match first, else the one unambiguous
    alias. The first alias is logged (the naming schemes differ), the others only at debug level;
    the first three missing contigs are warned about, the others only at debug level.

    Examples
    --------
    >>> cm = ContigMap(["chr1", "chrX", "chrM"])
    >>> cm("1"), cm("X"), cm("MT"), cm("chr1"), cm("7")
    ('chr1', 'chrX', 'chrM', 'chr1', None)
    """

    def __init__(self, fasta_contigs: Sequence[str], quiet: bool = False, aliases_said: bool = False):
        self.fasta = set(fasta_contigs)
        self.cache: dict[str, str | None] = {}
        self._said = {"alias": int(aliases_said), "missing": 0}  # aliases_said: an earlier pass logged them
        self.quiet = quiet  # everything at debug level (a caller that reports the mapping itself)

    def _say(self, what: str, level: int, msg: str, *args) -> None:
        """The first message of each kind at ``level``, the rest at debug: one line, not one per contig."""
        if self._said[what] or self.quiet:
            level = logging.DEBUG
        self._said[what] += 1
        log.log(level, msg, *args)

    def __call__(self, contig: str) -> str | None:
        if contig in self.cache:
            return self.cache[contig]
        if contig in self.fasta:
            found = contig
        else:
            found, hits = match_contig(contig, self.fasta)
            if found:
                self._say("alias", logging.INFO, "contig %s read as %s in the FASTA", contig, found)
            elif hits:
                log.warning("contig %s: ambiguous in the FASTA (%s); its records are skipped", contig, ", ".join(hits))
            elif self._said["missing"] < 3 and not self.quiet:
                self._said["missing"] += 1
                log.warning("contig %s is not in the FASTA; its records are skipped%s", contig,
                            "" if self._said["missing"] < 3 else " (further missing contigs: --debug lists them)")
            else:
                log.debug("contig %s is not in the FASTA; its records are skipped", contig)
        self.cache[contig] = found
        return found
