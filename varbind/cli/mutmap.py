"""``varbind mutmap``: mutation maps of a genome region (or a sequence) as a figure and a table.

Every point mutation of the region is scored by every model; the figure shows the models given by
``--tf`` or the ``--top N`` models with the largest effects, the table one row per (position,
alternative base, model). A summary line per shown model goes to stdout.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from .. import mutmap, regions
from ..bank import ModelBank
from ..errors import InputFormatError
from ..sequence import encode
from . import common

log = logging.getLogger("varbind")
FIGURE_FORMATS = ("png", "svg", "pdf")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "mutmap",
        help="mutation maps: the score change of every point mutation of a region",
        description="Score every point mutation of a genome region (REGION chr:start-end, 1-based inclusive, "
        "read from --fasta) or of --sequence with every model, and draw the maps of the chosen models.",
    )
    p.add_argument("region", nargs="?", metavar="REGION", help="chrom:start-end, 1-based inclusive (commas allowed)")
    p.add_argument("--sequence", metavar="ACGT", help="a sequence to map instead of a region")
    p.add_argument("--fasta", metavar="REF.fa", help="indexed reference FASTA (plain or bgzipped) for REGION")
    common.add_model_args(p)
    p.add_argument("--top", type=int, default=None, metavar="N",
                   help="show the N models with the largest |delta| (at the --variant if given); default 3, "
                   "or every --tf model")
    p.add_argument("--vcf", metavar="V.vcf", help="mark the VCF's variants that fall in the region")
    p.add_argument("--variant", metavar="CHR:POS:REF:ALT",
                   help="draw wild-type and mutant maps side by side around this substitution (1-based POS)")
    p.add_argument("--flank", type=int, default=25, metavar="BP", help="bases each side of --variant (default 25)")
    p.add_argument("--row-bp", type=int, default=90, metavar="BP", help="bases per figure row (default 90)")
    p.add_argument("--weighted", action="store_true",
                   help="colour by (alt - ref) * max(0, ref, alt) as the DeepBind paper did, not the raw delta")
    p.add_argument("--strand-merge", choices=("max", "mean", "forward"), default="max")
    p.add_argument("-o", "--output", metavar="FIG", help="figure file (.png, .svg or .pdf)")
    p.add_argument("--table", metavar="OUT.tsv", help="write every (position, alt, model) delta as TSV")
    p.add_argument("--quiet", action="store_true", help="no summary on stdout")
    p.set_defaults(func=run)


def load_named_bank(args: argparse.Namespace) -> tuple[ModelBank, dict[str, str]]:
    """The bank ``--models``/``--ids``/``--tf``/``--family`` name, and its ID -> factor-name map."""
    panel = common.load_panel(args)
    cat = panel.catalogue
    names = dict(zip(cat["id"].astype(str), cat["tf"].astype(str))) if "tf" in cat.columns else {}
    return panel.bank, names


def _target(args: argparse.Namespace) -> tuple[str, regions.Region | None]:
    if (args.region is None) == (args.sequence is None):
        raise InputFormatError("give a REGION (with --fasta) or --sequence, not both or neither")
    if args.sequence is not None:
        encode(args.sequence)  # InvalidSequenceError names the character
        if args.vcf or args.variant:
            raise InputFormatError("--vcf and --variant need a REGION (genome coordinates)")
        return args.sequence.upper().replace("U", "T"), None
    region = regions.parse_region(args.region)
    if not args.fasta:
        raise InputFormatError("REGION needs --fasta REF.fa")
    return regions.fetch_region(args.fasta, region), region


def _variant(args: argparse.Namespace, seq: str, region: regions.Region) -> regions.Variant:
    v = regions.parse_variant(args.variant)
    if v.chrom not in regions.contig_aliases(region.chrom):
        raise InputFormatError(f"--variant {args.variant}: not on {region.chrom}")
    regions.check_ref(v, seq, region)
    if len(v.ref) != len(v.alt):
        raise InputFormatError(f"--variant {args.variant}: only substitutions (REF and ALT of equal length)")
    return v._replace(chrom=region.chrom)


def _chosen(args, mm: mutmap.MutationMap, at: int | None) -> list[int]:
    order = mutmap.rank_models(mm, at=at).tolist()
    if args.top is not None and args.top < 1:
        raise InputFormatError("--top must be at least 1")
    top = args.top if args.top is not None else (len(order) if args.tf else 3)
    return order[:top]


def _save(path: str, write) -> None:
    """Write through a temporary file in the target folder, renamed on success (:mod:`varbind._fs`)."""
    from .._fs import atomic_path

    with atomic_path(path) as tmp:
        write(tmp)


def _summary(mm: mutmap.MutationMap, rows: list[int], names: dict[str, str], out) -> None:
    out.write("model\ttf\tref_score\tmax_gain\tmax_gain_at\tmax_loss\tmax_loss_at\n")
    for r in rows:
        d = np.nan_to_num(mm.deltas[r], nan=0.0)
        g, lo = np.unravel_index(d.argmax(), d.shape), np.unravel_index(d.argmin(), d.shape)
        def at(b: int, i: int, value: float) -> str:  # "-" when no mutation moves the score that way
            return f"{mm.chrom or 'seq'}:{mm.start + i + 1}:{mm.seq[i]}>{mutmap.BASES[b]}" if value else "-"

        out.write(f"{mm.ids[r]}\t{names.get(mm.ids[r], '')}\t{mm.ref[r]:.4f}\t{d[g]:.4f}\t{at(*g, d[g])}\t"
                  f"{d[lo]:.4f}\t{at(*lo, d[lo])}\n")


def run(args: argparse.Namespace) -> int:
    fmt = None
    if args.output:
        fmt = Path(args.output).suffix.lstrip(".").lower()
        if fmt not in FIGURE_FORMATS:
            raise InputFormatError(f"-o {args.output}: the figure format comes from the suffix: .png, .svg or .pdf")
    seq, region = _target(args)
    variant = _variant(args, seq, region) if args.variant else None
    marks = regions.read_vcf_variants(args.vcf, region) if args.vcf else []
    bank, names = load_named_bank(args)
    mm = mutmap.mutation_map(seq, bank, strand_merge=args.strand_merge)
    if region is not None:
        mm = mm._replace(chrom=region.chrom, start=region.start)
    rows = _chosen(args, mm, variant.start - mm.start if variant else None)
    shown = mutmap.select(mm, [mm.ids[r] for r in rows])
    if not args.quiet:
        _summary(mm, rows, names, sys.stdout)
    if args.table:
        table = mutmap.mutation_table(shown, names)
        _save(args.table, lambda p: table.to_csv(p, sep="\t", index=False, float_format="%.6g"))
        log.info("wrote %d rows to %s", len(table), args.table)
    if args.output:
        import matplotlib

        matplotlib.use("Agg")
        from .. import plot

        if variant is not None:
            off = variant.start - mm.start
            mut = mutmap.mutation_map(mutmap.substitute(mm.seq, off, variant.ref, variant.alt), bank.select(shown.ids),
                                      strand_merge=args.strand_merge)
            fig = plot.variant_figure(shown, mut._replace(chrom=mm.chrom, start=mm.start), variant,
                                      list(range(len(shown.ids))), tf=names, flank=args.flank,
                                      weighted=args.weighted)
        else:
            fig = plot.mutation_map_figure(shown, list(range(len(shown.ids))), tf=names, variants=marks,
                                           row_bp=args.row_bp, weighted=args.weighted)
        _save(args.output, lambda p: fig.savefig(p, format=fmt, dpi=100))
        log.info("wrote %s (%d models)", args.output, len(shown.ids))
    return 0
