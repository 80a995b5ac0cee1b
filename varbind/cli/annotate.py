"""``varbind annotate``: score every variant of a VCF with a panel; write VCF, TSV or Parquet."""
from __future__ import annotations

import argparse
import shlex

from .. import annotate, predict
from ..errors import InputFormatError
from ..annotate.windows import REF_POLICIES
from . import common


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "annotate",
        help="score VCF variants with a model panel (VCF/TSV/Parquet out)",
        description="Score each ALT of each VCF record with every model of a panel, on windows centred "
        "on the variant, and write the VCF with INFO VARBIND/VB_MAXGAIN/VB_MAXLOSS added, or a long "
        "TSV/Parquet table of all scores.",
        epilog="Exit codes: 0 done; 2 unusable input; 3 nothing annotated (every REF differs from the FASTA, "
        "no ALT allele could be scored, or no records in the input or regions); the output is still written.",
    )
    p.add_argument("vcf", metavar="IN.vcf", help="input VCF or BCF (plain, gzip or bgzip; - for stdin)")
    common.add_region_args(p)
    p.add_argument("--fasta", required=True, metavar="REF.fa", help="reference FASTA (plain, or bgzip with .fai/.gzi)")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="OUT.vcf, OUT.vcf.gz (bgzipped + tabix index), OUT.bcf, OUT.tsv[.gz] or OUT.parquet")
    common.add_model_args(p)
    p.add_argument("--window", type=int, default=101, help="window length in bases (default: 101)")
    p.add_argument("--mode", choices=predict.MODES, default="global",
                   help="global: one pass over each window, ALTs as deltas on it (default); "
                   "deepbind: the deepbind executable's sub-window maximum")
    p.add_argument("--strand-merge", choices=predict.STRAND_MERGES, default="max",
                   help="how the two strands of reverse-complement models combine (default: max)")
    p.add_argument("--ref-mismatch", choices=REF_POLICIES, default="skip",
                   help="REF differs from the FASTA: stop with an error, skip the record (default), or "
                   "build the reference window from the VCF's REF")
    p.add_argument("--top-k", type=int, default=5, help="models listed per ALT in INFO/VARBIND (default: 5)")
    p.add_argument("--scores", metavar="FULL.parquet",
                   help="also write every model's scores here (long format; .parquet, .tsv or .tsv.gz)")
    common.add_device_args(p)
    dist = p.add_mutually_exclusive_group()
    dist.add_argument("--workers", type=int, metavar="N", help="score on a local Dask cluster of N processes")
    dist.add_argument("--dask", metavar="ADDRESS", help="score on an existing Dask scheduler (shared file system)")
    p.add_argument("--host-workers", metavar="N", default="auto",
                   help="processes that read, build windows, format and write parts of a large VCF at once "
                   "(auto: on a GPU, for inputs of at least 400,000 records, one a core but one, at most 12 and "
                   "2 GB of free memory each; else 1; the VCF text is the same)")
    p.add_argument("--tss", metavar="TSS.tsv.gz",
                   help="TSS table (chrom, tss_1based, ...) for DeepFind's distance feature; without it "
                   "VB_DEEPFIND comes from the scores-only DeepFind model")
    p.add_argument("--no-deepfind", dest="deepfind", action="store_false",
                   help="do not add VB_DEEPFIND even when the panel ships a DeepFind model")
    p.add_argument("--strict", action="store_true",
                   help="stop with an error at the first allele that cannot be scored, and refuse records using "
                   "undeclared contigs/tags or invalid tag names (passed through otherwise)")
    p.add_argument("--quiet", action="store_true", help="no progress bar, warnings only")
    p.set_defaults(func=run)


def command_line(args: argparse.Namespace) -> str:
    """The command as recorded in the VCF header: every option that shapes the output, in a fixed
    order (execution-only ones such as --workers, --dask and --quiet are left out)."""
    parts = ["varbind", "annotate", args.vcf, "--fasta", args.fasta, "-o", args.output, "--models", str(args.models)]
    if args.ids:
        parts += ["--ids", ",".join(args.ids)]
    if args.ids_file:
        parts += ["--ids-file", args.ids_file]
    for flag, values in (("--tf", args.tf), ("--family", args.family)):
        if values:
            parts += [flag, ",".join(values)]
    if getattr(args, "min_quality", None) is not None:
        parts += ["--min-quality", str(args.min_quality)]
    parts += ["--window", str(args.window), "--mode", args.mode, "--strand-merge", args.strand_merge,
              "--ref-mismatch", args.ref_mismatch, "--top-k", str(args.top_k)]
    if args.scores:
        parts += ["--scores", args.scores]
    if args.regions:
        parts += ["-r", args.regions]
    if args.regions_file:
        parts += ["-R", args.regions_file]
    if args.device:
        parts += ["--device", args.device]
    if args.tss:
        parts += ["--tss", args.tss]
    if not args.deepfind:
        parts.append("--no-deepfind")
    if args.strict:
        parts.append("--strict")
    return shlex.join(parts)


def run(args: argparse.Namespace) -> int:
    if args.window < 1:
        raise InputFormatError(f"--window must be at least 1, not {args.window}")
    if args.top_k < 1:
        raise InputFormatError(f"--top-k must be at least 1, not {args.top_k}")
    if args.workers is not None and args.workers < 1:
        raise InputFormatError(f"--workers must be at least 1, not {args.workers}")
    host_workers = None
    if args.host_workers != "auto":
        if not str(args.host_workers).isdigit() or int(args.host_workers) < 1:
            raise InputFormatError(f"--host-workers must be auto or a number of at least 1, not {args.host_workers}")
        host_workers = int(args.host_workers)
    if args.scores and not args.scores.endswith((".parquet", ".pq", ".tsv", ".tsv.gz")):
        raise InputFormatError(f"--scores {args.scores}: must be a .parquet, .tsv or .tsv.gz file")
    common.device(args)  # an unusable --device stops here, before the panel loads
    settings = annotate.Settings(window=args.window, mode=args.mode, ref_mismatch=args.ref_mismatch,
                                 strand_merge=args.strand_merge, device=args.device)
    panel = common.load_panel(args)
    summary = annotate.annotate_vcf(args.vcf, args.fasta, args.output, panel, settings=settings, top_k=args.top_k,
                                    scores=args.scores, strict=args.strict, workers=args.workers,
                                    dask_address=args.dask, command=command_line(args), progress=not args.quiet,
                                    deepfind=args.deepfind, tss=args.tss, regions=args.regions,
                                    regions_file=args.regions_file, host_workers=host_workers)
    return common.nothing_annotated(summary, regions=bool(args.regions or args.regions_file))
