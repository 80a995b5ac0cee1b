"""``varbind report``: a self-contained HTML evidence page per variant (or a PDF of it).

Variants come as ``CHR:POS:REF:ALT`` arguments (1-based ``POS``) and/or from ``--vcf`` (records whose
ID is in ``--vcf-ids``, or every record of a small VCF). All of them go into one document, one
section per variant. Bad input (a REF that differs from the FASTA, a contig not in it, an unknown
model ID) stops the command before anything is written; the page is written to a temporary file
renamed on success.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .. import regions
from ..errors import InputFormatError
from . import common

log = logging.getLogger("varbind")

#: most variants ``--vcf`` without ``--vcf-ids`` takes (a report is read by a person)
MAX_VCF_VARIANTS = 50


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="a self-contained HTML evidence page per variant (scores, mutation maps, logos, caveats)",
        description="Write one HTML document (figures embedded, no network needed) with a page per variant: "
        "the strongest calibrated gains and losses of binding, DeepFind, the nearest TSS, wild-type vs "
        "mutant mutation maps, detector logos and provenance of the top models, every model's scores.",
    )
    p.add_argument("variants", nargs="*", metavar="CHR:POS:REF:ALT", help="variants, 1-based POS (as in a VCF)")
    p.add_argument("--fasta", required=True, metavar="REF.fa", help="indexed reference FASTA (plain or bgzipped)")
    p.add_argument("--vcf", metavar="IN.vcf", help="take variants from this VCF/BCF (every ALT of a record)")
    p.add_argument("--vcf-ids", metavar="ID,...",
                   help="only the --vcf records with these IDs (comma-separated, e.g. rs rsIDs); --ids selects models")
    common.add_model_args(p)
    p.add_argument("--tss", metavar="TSS.tsv.gz", help="TSS table (chrom tss_1based strand gene_name gene_type): "
                   "nearest gene, and DeepFind's distance feature")
    p.add_argument("--top", type=int, default=3, metavar="N",
                   help="models shown with mutation maps, logos and provenance (default 3)")
    p.add_argument("--flank", type=int, default=20, metavar="BP", help="bases each side of the variant in the maps (default 20)")
    p.add_argument("--window", type=int, default=101, metavar="BP", help="scored window, centred on the variant (default 101)")
    p.add_argument("--format", choices=("html", "pdf"), default=None,
                   help="html (default), or pdf printed from the same page by Chromium; default from the -o suffix")
    p.add_argument("-o", "--output", required=True, metavar="OUT.html", help="the report file")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=run)


def vcf_variants(path: str, ids: list[str] | None) -> list[regions.Variant]:
    """The variants of a VCF, one per ALT allele (only records whose ID is in ``ids`` when given)."""
    from .. import io

    reader = io.open_vcf(path)
    out: list[regions.Variant] = []
    try:
        for batch in io.read_batches(reader, 4096, path):
            for rec in batch:
                chrom, start, ref, alts, vid = io.site_of(rec)
                if ids is not None and vid not in ids:
                    continue
                out += [regions.Variant(chrom, start + 1, ref.upper(), str(a).upper(), vid) for a in alts]
                if ids is None and len(out) > MAX_VCF_VARIANTS:
                    raise InputFormatError(f"{path}: more than {MAX_VCF_VARIANTS} variants; choose some with --vcf-ids")
    finally:
        reader.close()
    if ids is not None:
        missing = [i for i in ids if i not in {v.id for v in out}]
        if missing:
            raise InputFormatError(f"{path}: no record with ID {missing[0]!r} ({len(missing)} of the --vcf-ids not found)")
    return out


def _variants(args: argparse.Namespace) -> list[regions.Variant]:
    found = [regions.parse_variant(t) for t in args.variants]
    ids = [i for i in (args.vcf_ids or "").split(",") if i.strip()] or None
    if ids and not args.vcf:
        raise InputFormatError("--vcf-ids needs --vcf")
    if args.vcf:
        found += vcf_variants(args.vcf, ids)
    if not found:
        raise InputFormatError("no variant given (CHR:POS:REF:ALT arguments or --vcf)")
    for v in found:
        if set(v.ref + v.alt) - set("ACGT"):
            raise InputFormatError(f"variant {v.chrom}:{v.pos}:{v.ref}:{v.alt}: alleles must be A, C, G or T")
    return found


def run(args: argparse.Namespace) -> int:
    from .. import report

    fmt = args.format or ("pdf" if Path(args.output).suffix.lower() == ".pdf" else "html")
    if args.top < 0:
        raise InputFormatError("--top must be 0 or more")
    if args.window < 11 or args.flank < 1:
        raise InputFormatError("--window must be at least 11 and --flank at least 1")
    if fmt == "pdf":
        from ..report.browser import BrowserError, find_chromium

        if find_chromium() is None:  # say so before the scoring, not after
            raise BrowserError("--format pdf needs Chromium (Debian: apt-get install chromium; or set VARBIND_CHROMIUM)")
    variants = [report.check_variant(v, args.fasta) for v in _variants(args)]  # before loading any model
    panel = common.load_panel(args)  # --models and every selection flag, as in the other commands
    rep = report.variant_report(variants, args.fasta, panel, tss=args.tss, top=args.top, window=args.window,
                                flank=args.flank)
    report.write_report(rep, args.output, fmt)
    log.info("wrote %s (%d variant%s, panel %s)", args.output, len(variants), "s" * (len(variants) != 1), rep.panel)
    return 0
