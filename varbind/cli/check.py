"""``varbind check``: a pre-flight report on a VCF against the reference FASTA."""
from __future__ import annotations

import argparse
import sys

from .. import check


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="pre-flight report on a VCF against a FASTA (contigs, build, REF mismatches)",
        description="Report contig mapping (chr/MT aliasing), a genome-build guess from ##contig lengths vs "
        "the FASTA index, the REF mismatch rate, and symbolic/multi-allelic/unnormalised counts.",
    )
    p.add_argument("vcf", metavar="IN.vcf", help="input VCF or BCF (plain, gzip or bgzip)")
    p.add_argument("--fasta", required=True, metavar="REF.fa", help="reference FASTA (plain, or bgzip with .fai/.gzi)")
    p.add_argument("--max-records", type=int, default=None, metavar="N", help="check only the first N records")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = check.check_vcf(args.vcf, args.fasta, args.max_records)
    sys.stdout.write(check.format_report(report))
    return 0
