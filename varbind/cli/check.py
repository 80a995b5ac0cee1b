"""``varbind check``: a pre-flight report on a VCF against the reference FASTA."""
from __future__ import annotations

import argparse
import sys

from ..annotate import check
from . import common


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="pre-flight report on a VCF against a FASTA (contigs, build, REF mismatches)",
        description="Report contig mapping (chr/MT aliasing), a genome-build guess from ##contig lengths vs "
        "the FASTA index, the REF mismatch rate, and symbolic/multi-allelic/unnormalised counts; then a "
        "verdict line (OK, WARN or FAIL). Warnings go to stderr. Exit code 0 for OK and WARN, "
        "3 for FAIL (annotate would score nothing), 2 for unusable input.",
    )
    p.add_argument("vcf", metavar="IN.vcf", help="input VCF or BCF (plain, gzip or bgzip; - for stdin)")
    common.add_region_args(p)
    p.add_argument("--fasta", required=True, metavar="REF.fa", help="reference FASTA (plain, or bgzip with .fai/.gzi)")
    p.add_argument("--max-records", type=int, default=None, metavar="N", help="check only the first N records")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = check.check_vcf(args.vcf, args.fasta, args.max_records, regions=args.regions,
                             regions_file=args.regions_file)
    v = check.verdict(report)
    sys.stdout.write(check.format_report(report))
    for w in v.warnings:
        print(f"varbind check: warning: {w}", file=sys.stderr)
    print(v.line)
    return common.EXIT_NOTHING_ANNOTATED if v.status == "FAIL" else 0
