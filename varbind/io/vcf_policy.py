"""What ``varbind annotate`` does with VCF input that htslib reads but cyvcf2's Writer cannot write as read.

htslib reads a record whose contig, FILTER, INFO or FORMAT tag the header does not declare: it adds
a provisional definition to the *reader's* header (``Type=String``, ``Description="Dummy"``) and
flags the record (``bcf1_t.errcode``). The Writer copied the header when it was opened and has
already written it, so it refuses such a record (``variant to be written has errorcode: 2``) or,
for BCF output and an undeclared contig, drops it (``bcf_write`` returns -1).

The policy, by class (the table in ``docs/annotate.md``; ``strict`` turns each into the error):

* an undeclared contig, FILTER, INFO or FORMAT tag: declared in the output header as htslib reads
  it (:func:`undeclared_lines`), and the record passes through unchanged. The header is written
  before the first such record is reached, so :func:`write` raises :class:`Undeclared` and the run
  starts again once, with every declaration the whole input needs (one read of the input, no
  scoring; see :func:`varbind.annotate.api.annotate_vcf`).
* a tag name that is not valid VCF but that htslib reads (``1000G_AF_ALL``): passed through.
* anything else the Writer refuses: the file is refused, naming the record (nothing is dropped).
* unreadable data (corrupt compression, truncated file): refused by :mod:`varbind.io`, naming the
  record number reached.
"""
from __future__ import annotations

import errno
import re
from collections.abc import Sequence
from typing import Any

from .. import io
from ..errors import InputFormatError

#: htslib's ``bcf1_t.errcode`` bits (``htslib/vcf.h``)
ERR_CTG_UNDEF, ERR_TAG_UNDEF, ERR_NCOLS, ERR_LIMITS, ERR_CHAR, ERR_CTG_INVALID, ERR_TAG_INVALID = (
    1, 2, 4, 8, 16, 32, 64)
_REASONS = {ERR_CTG_UNDEF: "contig not declared in the header", ERR_TAG_UNDEF: "tag not declared in the header",
            ERR_NCOLS: "wrong number of columns", ERR_LIMITS: "beyond htslib's limits",
            ERR_CHAR: "invalid character", ERR_CTG_INVALID: "invalid contig name", ERR_TAG_INVALID: "invalid tag"}
#: BCF positions are signed 32-bit (``bcf_write`` refuses a record ending beyond)
BCF_MAX_POS = 2**31 - 1
#: the description varbind gives a definition htslib made up for an undeclared tag
DECLARED = "Not declared in the input header; declared by varbind as htslib reads it"
_VALID_TAG = re.compile(r"^(?:[A-Za-z_][0-9A-Za-z_.]*|1000G)$")
_DEF = re.compile(r"^##(INFO|FORMAT)=<ID=([^,>]*)")
_ANY_DEF = re.compile(r"^##(\w+)=<ID=([^,>]*)")


class Undeclared(Exception):
    """Record ``number`` (1-based, at ``where``) uses a contig or tag the output header lacks.

    Internal: :func:`varbind.annotate.api.annotate_vcf` catches it and starts again with the
    declarations (or, with ``strict``, refuses the file).
    """

    def __init__(self, number: int, where: str, code: int):
        self.number, self.where, self.code = number, where, code
        super().__init__(f"record {number} ({where}): {reasons(code)}")


def reasons(code: int) -> str:
    """The htslib error bits of ``code`` in words.

    Examples
    --------
    >>> reasons(3)
    'contig not declared in the header, tag not declared in the header'
    """
    return ", ".join(text for bit, text in _REASONS.items() if code & bit) or f"htslib error code {code}"


def write(writer: Any, rec: Any, number: int, path: str, contigs: set[str], bcf: bool = False) -> None:
    """Write one record, or raise what the policy says.

    ``number`` is the record's 1-based number in the input, ``path`` the input's name and
    ``contigs`` the contigs the output header declares (cyvcf2 writes a record on another contig
    into a text VCF without declaring it, and ``bcf_write`` refuses it, so it is checked here);
    ``bcf``: the output is BCF, whose positions are 32-bit.

    Raises
    ------
    Undeclared
        The record needs a contig/FILTER/INFO/FORMAT declaration the output header lacks.
    InputFormatError
        The Writer refuses the record for another reason.
    OSError
        The write itself failed.
    """
    if rec.CHROM not in contigs:
        raise Undeclared(number, f"{rec.CHROM}:{rec.start + 1}", ERR_CTG_UNDEF)
    if bcf and rec.end >= BCF_MAX_POS:
        raise InputFormatError(f"{path}: record {number} ({rec.CHROM}:{rec.start + 1}) lies beyond BCF's 32-bit "
                               "positions; write .vcf or .vcf.gz output instead")
    try:
        rc = writer.write_record(rec)
    except Exception as e:  # noqa: BLE001 - cyvcf2 raises a bare Exception with the errcode in words
        m = re.search(r"errorcode: (\d+)", str(e))
        code = int(m.group(1)) if m else 0
        where = f"{rec.CHROM}:{rec.start + 1}"
        if code and not code & ~(ERR_CTG_UNDEF | ERR_TAG_UNDEF):
            raise Undeclared(number, where, code) from None
        raise InputFormatError(f"{path}: record {number} ({where}) cannot be written: "
                               f"{reasons(code) if code else e}") from None
    if rc is not None and rc < 0:
        raise OSError(errno.EIO, f"writing record {number} of {path} failed" + (
            " (BCF holds 32-bit positions and values; write .vcf or .vcf.gz output instead)" if bcf else ""))


def write_all(writer: Any, recs: Sequence[Any], first: int, path: str, contigs: set[str], bcf: bool = False) -> None:
    """:func:`write` each record (numbered from ``first``) with htslib's stderr caught: a record
    ``bcf_write`` refuses becomes one error line that says htslib's reason, not a stray message."""
    msgs: list[str] = []
    number = first
    try:
        with io._captured_stderr() as msgs:
            for number, rec in enumerate(recs, first):
                write(writer, rec, number, path, contigs, bcf)
    except OSError as e:
        why = io._hts_message(msgs)
        if why and "write failed" not in why.lower():  # htslib refused the record itself
            raise InputFormatError(f"{path}: record {number} cannot be written: {why}") from None
        raise OSError(e.errno or errno.EIO, why or e.strerror or str(e)) from None  # the output could not be written


def names(lines: Sequence[str]) -> list[str]:
    """``KIND/ID`` of header definition lines.

    Examples
    --------
    >>> names(['##contig=<ID=2>', '##INFO=<ID=FOO,Number=1,Type=String,Description="x">'])
    ['contig/2', 'INFO/FOO']
    """
    return [f"{m.group(1)}/{m.group(2)}" for m in map(_ANY_DEF.match, lines) if m]


def undeclared_lines(path: str) -> list[str]:
    """The header lines the input needs beyond its own header, as htslib reads the records.

    Reads every record once (no scoring) and returns the definitions htslib added for undeclared
    contigs, FILTER, INFO and FORMAT tags, in order of first use, with :data:`DECLARED` as their
    description instead of htslib's ``Dummy``.
    """
    reader = io.open_vcf(path)
    before = set(reader.raw_header.splitlines())
    for _ in io.read_batches(reader, 4096, path):
        pass
    return [line.replace('Description="Dummy"', f'Description="{DECLARED}"')
            for line in reader.raw_header.splitlines() if line.startswith("##") and line not in before]


def declare(reader: Any, lines: Sequence[str]) -> set[str]:
    """Add ``lines`` to the reader's header (before any record is read); return the declared contigs."""
    with io._captured_stderr():  # htslib warns again about names it already warned about on reading
        for line in lines:
            io.add_header_line(reader, line)
    return set(io.header_contigs(reader))


def invalid_tag_names(reader: Any) -> list[str]:
    """``INFO/NAME`` and ``FORMAT/NAME`` of the header's definitions whose names are not valid VCF
    (htslib warns and reads them).

    Examples
    --------
    >>> class R: raw_header = '##INFO=<ID=1000G_AF_ALL,Number=A>\\n##INFO=<ID=DP,Number=1>\\n##INFO=<ID=1000G>\\n'
    >>> invalid_tag_names(R())
    ['INFO/1000G_AF_ALL']
    """
    out = []
    for line in reader.raw_header.splitlines():
        m = _DEF.match(line)
        if m and not _VALID_TAG.match(m.group(2)):
            out.append(f"{m.group(1)}/{m.group(2)}")
    return out


def check_strict(reader: Any, path: str) -> None:
    """With ``--strict``: refuse a header whose tag names are not valid VCF."""
    bad = invalid_tag_names(reader)
    if bad:
        raise InputFormatError(f"{path}: tag name {bad[0]} is not valid VCF (htslib reads it; refused as "
                               "--strict is set)")
