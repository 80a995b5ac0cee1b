"""Pre-flight check of a VCF against a reference FASTA, before ``varbind annotate``.

Reports how the VCF's contigs map onto the FASTA (with chr/MT aliasing), a genome-build guess from
the ``##contig`` lengths and the FASTA index, the REF mismatch rate (case-insensitive; REF/ALT swaps
apart), and counts of what annotation would skip or treat specially: symbolic and other unscorable
ALTs, multi-allelic records, unnormalised alleles (not parsimonious, or indels not left-aligned).
Coordinates: ``POS`` 1-based from the VCF, 0-based half-open inside.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from .. import io
from ..io import vcf_source
from .windows import allele_reason, encode_allele

#: chromosome 1 length -> build name (UCSC / GRC / T2T, human and mouse)
CHR1_LENGTHS = {
    247249719: "NCBI36/hg18",
    249250621: "GRCh37/hg19",
    248956422: "GRCh38/hg38",
    248387328: "T2T-CHM13",
    197195432: "NCBIM37/mm9",
    195471971: "GRCm38/mm10",
    195154279: "GRCm39/mm39",
}


class ContigRow(NamedTuple):
    vcf: str
    fasta: str | None
    vcf_length: int | None
    fasta_length: int | None
    records: int


class CheckReport(NamedTuple):
    """What :func:`check_vcf` found. ``classes`` counts ALT alleles by skip reason
    (:data:`varbind.annotate.windows.SKIP_REASONS`)."""

    contigs: list[ContigRow]
    build_vcf: str | None
    build_fasta: str | None
    records: int
    ref_checked: int
    ref_mismatch: int
    ref_alt_swap: int
    multiallelic: int
    unnormalised: int
    classes: dict[str, int]


def guess_build(lengths: Mapping[str, int | None]) -> str | None:
    """The build whose chromosome 1 has the given length (``chr1`` or ``1``), if known.

    Examples
    --------
    >>> guess_build({"chr1": 249250621}), guess_build({"1": 248956422}), guess_build({"X": 5})
    ('GRCh37/hg19', 'GRCh38/hg38', None)
    """
    for name in ("1", "chr1"):
        if lengths.get(name):
            return CHR1_LENGTHS.get(int(lengths[name]))
    return None


def is_normalised(ref: str, alt: str) -> bool:
    """Whether an allele pair is parsimonious and, for an anchored indel, left-aligned.

    Examples
    --------
    >>> [is_normalised(r, a) for r, a in [("A", "G"), ("AT", "A"), ("AA", "A"), ("CAT", "CGT"), ("GAT", "G")]]
    [True, True, False, False, True]
    """
    ref, alt = ref.upper(), alt.upper()
    if min(len(ref), len(alt)) >= 2 and (ref[0] == alt[0] or ref[-1] == alt[-1]):
        return False
    if len(ref) != len(alt) and min(len(ref), len(alt)) == 1:
        short, long_ = sorted((ref, alt), key=len)
        if short[0] == long_[0] and short[0] == long_[-1]:
            return False  # the anchored indel can shift one base left
    return True


def check_vcf(vcf: str, fasta: str, max_records: int | None = None, *, regions: str | None = None,
              regions_file: str | None = None) -> CheckReport:
    """Check a VCF (a file or ``-`` for stdin) against a FASTA (the first ``max_records`` records,
    default all; ``regions``/``regions_file`` as in :func:`varbind.annotate.api.annotate_vcf`).

    Raises
    ------
    InputFormatError
        For an unusable VCF or FASTA.
    """
    fa = io.Fasta(fasta)
    source = vcf_source.open_source(vcf, *vcf_source.resolve_regions(regions, regions_file))
    header = io.header_contigs(source.reader)
    cmap = io.ContigMap(fa.lengths, quiet=True)  # the report's contig table says it all
    per_contig: Counter = Counter()
    classes: Counter = Counter()
    n = checked = mismatch = swap = multi = unnorm = 0
    for batch in source.batches(4096):
        for rec in batch:
            chrom, start, ref, alts, _ = io.site_of(rec)
            n += 1
            per_contig[chrom] += 1
            multi += len(alts) > 1
            reasons = [allele_reason(ref, a, 10**9) for a in alts] or ["no_alt"]
            classes.update(r for r in reasons if r)
            unnorm += any(r is None and not is_normalised(ref, a) for r, a in zip(reasons, alts))
            target = cmap(chrom)
            if target is None:
                classes["contig_missing"] += max(len(alts), 1)
            elif start >= 0 and all(c in "ACGTNacgtn" for c in ref):
                checked += 1
                got = fa.codes(target, start, start + len(ref))
                if not np.array_equal(got, encode_allele(ref)):
                    mismatch += 1
                    swap += any(r is None and np.array_equal(encode_allele(a), got) for r, a in zip(reasons, alts))
            if max_records and n >= max_records:
                break
        if max_records and n >= max_records:
            break
    names = list(header) + [c for c in per_contig if c not in header]
    rows = [ContigRow(c, cmap(c), header.get(c), fa.lengths.get(cmap(c) or ""), per_contig[c]) for c in names]
    fasta_guess = guess_build({c: fa.lengths[c] for c in fa.lengths})
    return CheckReport(rows, guess_build(header), fasta_guess, n, checked, mismatch, swap, multi, unnorm,
                       dict(sorted(classes.items())))


def format_report(r: CheckReport) -> str:
    """The report as text (the output of ``varbind check``)."""
    out = ["# contigs: VCF -> FASTA (records, VCF length, FASTA length)"]
    differ = 0
    for row in r.contigs:
        note = ""
        if row.fasta is None:
            note = "  MISSING from the FASTA"
        elif row.vcf_length and row.fasta_length and row.vcf_length != row.fasta_length:
            note, differ = "  LENGTH DIFFERS", differ + 1
        out.append(f"{row.vcf}\t{row.fasta or '-'}\t{row.records}\t{row.vcf_length or '-'}\t{row.fasta_length or '-'}{note}")
    out.append("# genome build")
    out.append(f"VCF ##contig lengths: {r.build_vcf or 'unknown'}; FASTA: {r.build_fasta or 'unknown'}"
               + ("; ##contig lengths differ from the FASTA on %d contigs: probably another build" % differ
                  if differ else ""))
    rate = r.ref_mismatch / r.ref_checked if r.ref_checked else 0.0
    out.append("# records")
    out.append(f"records\t{r.records}")
    out.append(f"REF checked\t{r.ref_checked}")
    out.append(f"REF mismatch\t{r.ref_mismatch}\t{rate:.2%}")
    out.append(f"REF/ALT swap\t{r.ref_alt_swap}")
    out.append(f"multi-allelic\t{r.multiallelic}")
    out.append(f"unnormalised\t{r.unnormalised}")
    for k, v in r.classes.items():
        out.append(f"ALT {k}\t{v}")
    return "\n".join(out) + "\n"


class Verdict(NamedTuple):
    """``status`` is ``OK``, ``WARN`` (annotation works, but read the warnings) or ``FAIL``
    (annotation would score nothing); ``line`` is the one-line verdict."""

    status: str
    line: str
    warnings: list[str]


#: REF mismatch rate above which the check warns (a VCF of the FASTA's build has next to none)
MISMATCH_WARN = 0.01


def verdict(r: CheckReport) -> Verdict:
    """The report's verdict and its warnings (what ``varbind check`` writes to stderr)."""
    warnings: list[str] = []
    mapped = sum(row.records for row in r.contigs if row.fasta)
    missing = [row for row in r.contigs if row.fasta is None and row.records]
    differ = [row.vcf for row in r.contigs if row.fasta and row.vcf_length and row.fasta_length
              and row.vcf_length != row.fasta_length]
    rate = r.ref_mismatch / r.ref_checked if r.ref_checked else 0.0
    if missing:
        names = ", ".join(row.vcf for row in missing[:3]) + (", ..." if len(missing) > 3 else "")
        warnings.append(f"{sum(row.records for row in missing)} records on {len(missing)} contigs not in the "
                        f"FASTA ({names}) will be skipped")
    if differ:
        warnings.append(f"##contig lengths differ from the FASTA on {len(differ)} contigs ({', '.join(differ[:3])}"
                        f"{', ...' if len(differ) > 3 else ''}): probably another build")
    if r.build_vcf and r.build_fasta and r.build_vcf != r.build_fasta:
        warnings.append(f"the VCF's ##contig lengths say {r.build_vcf}, the FASTA is {r.build_fasta}")
    if rate > MISMATCH_WARN:
        warnings.append(f"REF differs from the FASTA in {r.ref_mismatch} of {r.ref_checked} records ({rate:.1%})"
                        + (f", {r.ref_alt_swap} of them REF/ALT swapped" if r.ref_alt_swap else ""))
    fail = None
    if r.records == 0:
        fail = "no records"
    elif not mapped:
        fail = "no record's contig is in the FASTA: the genome build probably differs"
    elif r.ref_checked and r.ref_mismatch == r.ref_checked:
        fail = f"REF differs from the FASTA in every record checked ({r.ref_checked}): another genome build?"
    if fail:
        return Verdict("FAIL", f"verdict: FAIL: {fail}", warnings)
    if warnings:
        return Verdict("WARN", f"verdict: WARN: {r.records} records; {len(warnings)} warning(s) on stderr; "
                       "annotate will run, skipping what the warnings say", warnings)
    return Verdict("OK", f"verdict: OK: {r.records} records, contigs and REF alleles match the FASTA", warnings)
