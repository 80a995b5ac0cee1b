"""Region and variant strings, and reading them from a reference FASTA / a VCF.

Region strings are 1-based and inclusive at the edge (``chr5:1,295,104-1,295,362``, as genome
browsers print them); inside varbind a :class:`Region` is 0-based half-open (``start``, ``end``).
Variant strings are ``CHR:POS:REF:ALT`` with a 1-based ``POS``, as in a VCF.

Contig names are aliased as :mod:`varbind.io` does (``chr1`` <-> ``1``, ``chrM`` <-> ``MT``), so a
region or VCF written against UCSC names reads an Ensembl-named FASTA and vice versa. Files are read
through :mod:`varbind.io`.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import NamedTuple

from . import io
from .errors import ContigNotFoundError, InputFormatError, RefMismatchError
from .sequence import decode

_REGION = re.compile(r"^\s*([^\s:]+):([0-9,]+)-([0-9,]+)\s*$")
_VARIANT = re.compile(r"^\s*([^\s:]+):([0-9,]+):([A-Za-z]+):([A-Za-z]+)\s*$")


class Region(NamedTuple):
    """A genome interval, 0-based half-open: ``chrom:start-end`` covers ``start .. end-1``."""

    chrom: str
    start: int
    end: int

    def __len__(self) -> int:  # type: ignore[override]
        return self.end - self.start

    def __str__(self) -> str:
        """The 1-based inclusive form, with thousands separators."""
        return f"{self.chrom}:{self.start + 1:,}-{self.end:,}"


class Variant(NamedTuple):
    """A variant at 1-based ``pos`` (VCF convention); ``ref``/``alt`` upper-case bases."""

    chrom: str
    pos: int
    ref: str
    alt: str
    id: str = "."

    @property
    def start(self) -> int:
        """0-based position of the first REF base."""
        return self.pos - 1

    @property
    def label(self) -> str:
        """A short name: the VCF ID when there is one, else ``POS REF>ALT``."""
        return self.id if self.id not in ("", ".") else f"{self.pos:,} {self.ref}>{self.alt}"


def parse_region(text: str) -> Region:
    """Parse ``chrom:start-end`` (1-based, inclusive; commas allowed) into a 0-based :class:`Region`.

    Raises
    ------
    InputFormatError
        For anything else, naming the string and the expected form.

    Examples
    --------
    >>> parse_region("chr5:1,295,104-1,295,362")
    Region(chrom='chr5', start=1295103, end=1295362)
    >>> str(parse_region("chr5:1295104-1295362"))
    'chr5:1,295,104-1,295,362'
    """
    m = _REGION.match(text)
    if not m:
        raise InputFormatError(f"region {text!r}: expected CHROM:START-END (1-based, inclusive), "
                               "e.g. chr5:1295104-1295362")
    start, end = int(m.group(2).replace(",", "")), int(m.group(3).replace(",", ""))
    if start < 1:
        raise InputFormatError(f"region {text!r}: START is 1-based and must be at least 1")
    if end < start:
        raise InputFormatError(f"region {text!r}: END ({end}) is before START ({start})")
    return Region(m.group(1), start - 1, end)


def parse_variant(text: str) -> Variant:
    """Parse ``CHR:POS:REF:ALT`` (1-based ``POS``) into a :class:`Variant`.

    Examples
    --------
    >>> parse_variant("chr5:1295228:G:A")
    Variant(chrom='chr5', pos=1295228, ref='G', alt='A', id='.')
    """
    m = _VARIANT.match(text)
    if not m:
        raise InputFormatError(f"variant {text!r}: expected CHR:POS:REF:ALT with a 1-based POS, "
                               "e.g. chr5:1295228:G:A")
    pos = int(m.group(2).replace(",", ""))
    if pos < 1:
        raise InputFormatError(f"variant {text!r}: POS is 1-based and must be at least 1")
    ref, alt = m.group(3).upper(), m.group(4).upper()
    for allele in (ref, alt):
        if set(allele) - set("ACGTN"):
            raise InputFormatError(f"variant {text!r}: alleles must be bases (ACGTN), not {allele!r}")
    return Variant(m.group(1), pos, ref, alt)


def contig_aliases(chrom: str) -> list[str]:
    """``chrom`` and its other spellings (``chr1`` <-> ``1``, ``chrM`` <-> ``MT`` / ``M``).

    Examples
    --------
    >>> contig_aliases("chr1"), contig_aliases("MT")
    (['chr1', '1'], ['MT', 'M', 'chrM', 'chrMT'])
    """
    return list(dict.fromkeys([chrom, *io.alias_candidates(chrom)]))


def resolve_contig(chrom: str, names: Iterable[str], source: str = "the FASTA") -> str:
    """The spelling of ``chrom`` that ``names`` uses (itself first, then its one unambiguous alias).

    Raises
    ------
    ContigNotFoundError
        When no alias of ``chrom`` is among ``names``.
    """
    found, hits = io.match_contig(chrom, set(names))
    if found is None:
        what = f"ambiguous in {source} ({', '.join(hits)})" if hits else f"not in {source}"
        raise ContigNotFoundError(f"contig {chrom!r} is {what} (aliases tried: {', '.join(contig_aliases(chrom)[1:])})")
    return found


def fetch_region(fasta_path: str | os.PathLike, region: Region) -> str:
    """The reference sequence of ``region`` (0-based half-open), upper case, from an indexed FASTA.

    Plain or bgzipped FASTA (:class:`varbind.io.Fasta`); bases other than ACGT read as N.

    Raises
    ------
    ContigNotFoundError
        Unknown contig (after aliasing).
    InputFormatError
        Unreadable FASTA, or a region past the contig's end.
    """
    fasta = io.Fasta(fasta_path)
    chrom = resolve_contig(region.chrom, fasta.lengths, str(fasta_path))
    length = fasta.lengths[chrom]
    if region.end > length:
        raise InputFormatError(f"region {region}: past the end of {chrom} ({length:,} bp)")
    return decode(fasta.codes(chrom, region.start, region.end))


def check_ref(variant: Variant, seq: str, region: Region) -> None:
    """Raise :class:`RefMismatchError` unless ``variant.ref`` matches ``seq`` (the sequence of ``region``)."""
    off = variant.start - region.start
    if off < 0 or off + len(variant.ref) > len(seq):
        raise InputFormatError(f"variant {variant.chrom}:{variant.pos} is outside the region {region}")
    have = seq[off : off + len(variant.ref)]
    if have != variant.ref:
        raise RefMismatchError(f"variant {variant.chrom}:{variant.pos}: REF {variant.ref} differs from the "
                               f"reference genome ({have})")


def read_vcf_variants(vcf_path: str | os.PathLike, region: Region) -> list[Variant]:
    """The variants of a VCF (one per ALT allele) that lie inside ``region``.

    Streams the whole file (mutation maps mark a handful of variants); contigs are aliased.
    """
    reader = io.open_vcf(vcf_path)
    wanted = set(contig_aliases(region.chrom))
    out = []
    try:
        for batch in io.read_batches(reader, 4096, str(vcf_path)):
            for rec in batch:
                chrom, start, ref, alts, vid = io.site_of(rec)
                if chrom not in wanted or start < region.start or start + len(ref) > region.end:
                    continue
                out += [Variant(region.chrom, start + 1, ref.upper(), str(alt).upper(), vid) for alt in alts]
    finally:
        reader.close()
    return out
