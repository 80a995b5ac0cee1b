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

from .. import masking, mutmap, mutmap_noise, regions
from ..bank import ModelBank
from ..errors import InputFormatError
from ..sequence import N_CODE, encode
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
    common.add_device_args(p)
    p.add_argument("--top", type=int, default=None, metavar="N",
                   help="show the N models with the largest calibrated effect (|delta| / the model's null spread; "
                   "with --variant, of the variant's own ALT); default 3, or every --tf model")
    p.add_argument("--vcf", metavar="V.vcf", help="mark the VCF's variants that fall in the region")
    p.add_argument("--variant", metavar="CHR:POS:REF:ALT",
                   help="draw wild-type and mutant maps side by side around this substitution (1-based POS)")
    p.add_argument("--flank", type=int, default=25, metavar="BP", help="bases each side of --variant (default 25)")
    p.add_argument("--row-bp", type=int, default=90, metavar="BP", help="bases per figure row (default 90)")
    p.add_argument("--weighted", action="store_true",
                   help="colour by (alt - ref) * max(0, ref, alt) as the DeepBind paper did, not the raw delta")
    p.add_argument("--strand-merge", choices=("max", "mean", "forward"), default="max")
    p.add_argument("-o", "--output", metavar="FIG", help="figure file (.png, .svg or .pdf)")
    p.add_argument("--table", metavar="OUT.tsv",
                   help="write every (position, alt, model) delta of the shown models as TSV (.gz, .bz2, .xz compress)")
    p.add_argument("--tile", type=int, default=mutmap.TILE, metavar="N",
                   help=f"at most N (model, mutation) scores per scoring call (default {mutmap.TILE:,}): "
                   "bounds memory on long regions; results do not depend on it beyond float rounding")
    p.add_argument("--quiet", action="store_true", help="no summary on stdout")
    p.set_defaults(func=run)


def load_named_panel(args: argparse.Namespace):
    """The panel ``--models``/``--ids``/``--tf``/``--family`` name, its ID -> factor-name map, and
    each model's null spread ``(M,)`` (``None`` without null tables)."""
    from ..panels.nulls import null_spread

    panel = common.load_panel(args)
    cat = panel.catalogue
    names = dict(zip(cat["id"].astype(str), cat["tf"].astype(str))) if "tf" in cat.columns else {}
    spread = null_spread(panel.null, panel.bank.ids) if panel.null is not None else None
    return panel, names, spread


def load_named_bank(args: argparse.Namespace) -> tuple[ModelBank, dict[str, str]]:
    """The bank ``--models``/``--ids``/``--tf``/``--family`` name, and its ID -> factor-name map."""
    panel, names, _ = load_named_panel(args)
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


def _chosen(args, sizes: mutmap.MapSizes, spread: np.ndarray | None, delta: np.ndarray | None,
            names: dict[str, str] | None = None) -> list[int]:
    size = np.abs(np.asarray(delta, dtype=np.float64)) if delta is not None else sizes.max_abs
    order = mutmap.rank_sizes(size, spread).tolist()
    top = args.top if args.top is not None else (len(order) if args.tf else 3)
    if args.tf and len(args.tf) > 1:
        return per_factor(order, [(names or {}).get(sizes.ids[r], "") for r in order], args.tf, top)
    return order[:top]


def per_factor(order: list[int], factors: list[str], wanted: list[str], top: int) -> list[int]:
    """``top`` of the ranked rows ``order`` (``factors[k]``: the TF of ``order[k]``) so that every
    ``--tf`` factor is shown: each factor's best-ranked model in turn, then each one's second, ...

    Examples
    --------
    >>> per_factor([4, 2, 0, 1], ["ELK1", "ELK1::HOXB13", "ELF2", "GABPA"], ["ELF2", "ELK1", "GABPA"], 3)
    [0, 4, 1]
    """
    from ..panels.sources import tf_names

    queues = [[r for r, f in zip(order, factors) if w.upper() in tf_names(f)] for w in wanted]
    chosen: list[int] = []
    while len(chosen) < top and any(queues):
        for q in queues:
            while q and q[0] in chosen:
                q.pop(0)
            if q and len(chosen) < top:
                chosen.append(q.pop(0))
    return chosen


#: longest region drawn as a figure (``-o`` without ``--variant``): 112 rows of 90 bases a model
FIGURE_MAX_BP = 10_000
#: --table compressions (one stream written block by block), by suffix
_COMPRESSED = {".gz": "gzip", ".bz2": "bz2", ".xz": "lzma"}
#: the whole map of every model (``M x 4 x n`` float32) is kept when it is at most this many tiles
MAP_TILES = 16
#: positions per --table block (rows: 3 x TABLE_BLOCK x shown models)
TABLE_BLOCK = 20_000


def _check_outputs(args: argparse.Namespace, n: int) -> None:
    """Refuse, before any scoring, outputs that cannot be made: a figure of a very long region, a
    --table suffix that names an archive (.zip, .tar, .zst: not written block by block)."""
    if args.top is not None and args.top < 1:
        raise InputFormatError("--top must be at least 1")
    if args.tile < 1:
        raise InputFormatError(f"--tile must be at least 1, not {args.tile}")
    if args.output and not args.variant and n > FIGURE_MAX_BP:
        raise InputFormatError(
            f"-o {args.output}: the region is {n:,} bp, {-(-n // max(1, args.row_bp)):,} rows of {args.row_bp} bp a "
            f"model; figures are drawn for regions up to {FIGURE_MAX_BP:,} bp: map a shorter region, use --variant "
            f"(draws --flank bp around it), or drop -o and write --table only")
    if args.table:
        suffix = Path(args.table).suffix.lower()
        if suffix in (".zip", ".zst", ".tar", ".tgz") or args.table.lower().endswith((".tar.gz", ".tar.bz2", ".tar.xz")):
            raise InputFormatError(f"--table {args.table}: write .tsv, or compress with .gz, .bz2 or .xz")


def _open_table(tmp: str, final: str):
    import bz2
    import gzip
    import lzma

    kind = _COMPRESSED.get(Path(final).suffix.lower())
    opener = {"gzip": gzip.open, "bz2": bz2.open, "lzma": lzma.open}.get(kind)
    if opener is None:
        return open(tmp, "w", encoding="utf-8", newline="")
    return opener(tmp, "wt", encoding="utf-8", newline="")


def _write_table(path: str, mm: mutmap.MutationMap, names: dict[str, str], spread: np.ndarray | None,
                 masks: masking.MapMasking) -> int:
    """The --table TSV, ``TABLE_BLOCK`` positions at a time into a temporary file renamed on success:
    the rows and bytes of one ``mutation_table(mm).merge(masked_by)`` written at once."""
    from .._fs import atomic_path

    masked = masking.map_table_column(mm, masks)
    rows = 0
    with atomic_path(path) as tmp:
        with _open_table(tmp, path) as out:
            for lo in range(0, max(1, len(mm.seq)), TABLE_BLOCK):
                hi = min(lo + TABLE_BLOCK, len(mm.seq))
                block = mm._replace(seq=mm.seq[lo:hi], start=mm.start + lo, deltas=mm.deltas[:, :, lo:hi],
                                    importance=mm.importance[:, lo:hi])
                table = mutmap.mutation_table(block, names, spread)
                first, last = mm.start + 1 + lo, mm.start + hi
                here = masked[(masked["pos"] >= first) & (masked["pos"] <= last)]
                table = table.merge(here, on=["pos", "alt", "model"], how="left")
                table["masked_by"] = table["masked_by"].astype(object).fillna("")
                table.to_csv(out, sep="\t", index=False, float_format="%.6g", header=lo == 0)
                rows += len(table)
    return rows


def _save(path: str, write) -> None:
    """Write through a temporary file in the target folder, renamed on success (:mod:`varbind._fs`)."""
    from .._fs import atomic_path

    with atomic_path(path) as tmp:
        write(tmp)


def _summary(mm: mutmap.MutationMap, rows: list[int], names: dict[str, str], out,
             spread: np.ndarray | None = None, variant_delta: np.ndarray | None = None) -> None:
    """One line per shown model: raw scores and the largest gain/loss of the map; with ``variant_delta``
    the variant's own delta and, with ``spread``, its calibrated effect (the ranking scale)."""
    extra = "\tvariant_delta\tvariant_effect" if variant_delta is not None else ""
    out.write(f"model\ttf\tref_score\tmax_gain\tmax_gain_at\tmax_loss\tmax_loss_at{extra}\n")
    for r in rows:
        d = np.nan_to_num(mm.deltas[r], nan=0.0)
        g, lo = np.unravel_index(d.argmax(), d.shape), np.unravel_index(d.argmin(), d.shape)
        def at(b: int, i: int, value: float) -> str:  # "-" when no mutation moves the score that way
            return f"{mm.chrom or 'seq'}:{mm.start + i + 1}:{mm.seq[i]}>{mutmap.BASES[b]}" if value else "-"

        tail = ""
        if variant_delta is not None:
            eff = variant_delta[r] / spread[r] if spread is not None else np.nan
            tail = f"\t{variant_delta[r]:.4f}\t{'.' if np.isnan(eff) else f'{eff:.4f}'}"
        out.write(f"{mm.ids[r]}\t{names.get(mm.ids[r], '')}\t{mm.ref[r]:.4f}\t{d[g]:.4f}\t{at(*g, d[g])}\t"
                  f"{d[lo]:.4f}\t{at(*lo, d[lo])}{tail}\n")


def _log_masked(mm: mutmap.MutationMap, masks: masking.MapMasking, variant) -> None:
    """One line per shown model with masked sites (and for the --variant when it is one of them)."""
    for r, model in enumerate(mm.ids):
        k = int(masks.flagged[r].sum())
        if k:
            log.info("%s: %d substitution%s create a site masked by a stronger one (masked_by in --table; rings "
                     "in the figure)", model, k, "s" if k > 1 else "")
        if variant is not None and len(variant.alt) == 1:
            off, b = variant.start - mm.start, mutmap.BASES.find(variant.alt)
            if b >= 0 and masks.flagged[r, b, off]:
                log.info("%s: %s: %s", model, variant.label, masking.describe(
                    mm.chrom, mm.start, int(masks.site_start[r, b, off]), int(masks.site_end[r, b, off])))


def run(args: argparse.Namespace) -> int:
    fmt = None
    if args.output:
        fmt = Path(args.output).suffix.lstrip(".").lower()
        if fmt not in FIGURE_FORMATS:
            raise InputFormatError(f"-o {args.output}: the figure format comes from the suffix: .png, .svg or .pdf")
    seq, region = _target(args)
    _check_outputs(args, len(seq))
    if not mutmap_noise.has_sequence(seq):
        where = f"{args.region}: the reference is" if region is not None else "the sequence is"
        raise InputFormatError(f"{where} N at all {len(seq)} positions: nothing to mutate "
                               "(a masked or unassembled region?)")
    variant = _variant(args, seq, region) if args.variant else None
    marks = regions.read_vcf_variants(args.vcf, region) if args.vcf else []
    panel, names, spread = load_named_panel(args)
    bank = panel.bank
    dev = common.device(args)
    kw = dict(strand_merge=args.strand_merge, device=dev, tile=args.tile)
    # A region whose whole map is one scoring call (and at most MAP_TILES tiles of floats: a long region
    # of mostly N has few mutations but a long map) is mapped at once, as before; any other is ranked
    # tile by tile (reference score and largest |delta| per model), then only the shown models are mapped.
    codes = encode(seq)
    seq = "".join(np.array(list("ACGTN"))[codes])  # as mutation_map scores it
    n_edits = 3 * int((codes != N_CODE).sum())
    whole = n_edits * len(bank) <= args.tile and 4 * len(seq) * len(bank) <= MAP_TILES * args.tile
    if whole:
        mm = mutmap.mutation_map(seq, bank, **kw)
        sizes = mutmap.MapSizes(mm.ids, mm.ref, mutmap.max_abs_delta(mm))
    else:
        sizes = mutmap.map_sizes(seq, bank, **kw)
        log.info("%d models x %d substitutions scored in tiles of %d; mapping the shown models", len(bank),
                 n_edits, args.tile)
    chrom, start = (region.chrom, region.start) if region is not None else (None, 0)
    if not mutmap_noise.beyond_noise(sizes.max_abs, sizes.ref).any():
        log.info("no model's score changes beyond float rounding for any substitution of this %s",
                 "region" if region is not None else "sequence")
    vdelta = None
    if variant is not None:
        from .. import predict

        mutant = mutmap.substitute(seq, variant.start - start, variant.ref, variant.alt)
        vdelta = predict.score(bank, [mutant], mode="global", strand_merge=args.strand_merge, device=dev)[0] - sizes.ref
    rows = _chosen(args, sizes, spread, vdelta, names)
    ids = [sizes.ids[r] for r in rows]
    shown = mutmap.select(mm, ids) if whole else mutmap.mutation_map(seq, bank, ids=ids, **kw)
    shown = shown._replace(chrom=chrom, start=start)
    shown_spread = None if spread is None else spread[rows]
    if not args.quiet:
        _summary(shown, list(range(len(ids))), names, sys.stdout, shown_spread,
                 None if vdelta is None else vdelta[rows])
    for i in np.flatnonzero(~mutmap_noise.has_effect(shown)):
        log.info("%s: no effect (every |delta| is float rounding, <= %.2g)", shown.ids[i],
                 mutmap_noise.noise_floor(shown)[i])
    masks = None
    if args.table or args.output:
        masks = masking.map_masking(shown, bank, masking.null_levels(bank.select(shown.ids), panel.null),
                                    strand_merge=args.strand_merge)
        _log_masked(shown, masks, variant)
    if args.table:
        n_rows = _write_table(args.table, shown, names, shown_spread, masks)
        log.info("wrote %d rows to %s", n_rows, args.table)
    if args.output:
        import matplotlib

        matplotlib.use("Agg")
        from .. import plot

        if variant is not None:
            off = variant.start - start
            mut = mutmap.mutation_map(mutmap.substitute(shown.seq, off, variant.ref, variant.alt), bank, ids=shown.ids,
                                      **kw)
            fig = plot.variant_figure(shown, mut._replace(chrom=chrom, start=start), variant,
                                      list(range(len(shown.ids))), tf=names, flank=args.flank,
                                      weighted=args.weighted, masking=masks)
        else:
            fig = plot.mutation_map_figure(shown, list(range(len(shown.ids))), tf=names, variants=marks,
                                           row_bp=args.row_bp, weighted=args.weighted, masking=masks)
        _save(args.output, lambda p: fig.savefig(p, format=fmt, dpi=100))
        log.info("wrote %s (%d models)", args.output, len(shown.ids))
    return 0
