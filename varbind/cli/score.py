"""``varbind score``: a drop-in for the ``deepbind`` executable, for batch use.

Reads sequences (one per line, or FASTA) from a file or stdin and prints a TSV to stdout: a header
of model IDs, then one row of scores per sequence.
"""
from __future__ import annotations

import argparse
import sys

from .. import predict
from ..sequence import read_sequences
from . import common

CHUNK = 4096


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score",
        help="score sequences with many models (drop-in for the deepbind executable)",
        description="Score sequences (one per line, or FASTA; file or stdin) and print a TSV: a header "
        "of model IDs, one row of scores per sequence.",
    )
    common.add_model_args(p)
    p.add_argument("--mode", choices=predict.MODES, default="deepbind",
                   help="deepbind: exactly what the deepbind v0.1 executable prints (default); "
                   "global: one forward pass over the whole sequence")
    p.add_argument("--strand-merge", choices=predict.STRAND_MERGES, default="max",
                   help="how the two strands of reverse-complement models combine (default: max)")
    common.add_device_args(p)
    p.add_argument("seqfile", nargs="?", default="-", metavar="SEQFILE",
                   help="sequences, one per line or FASTA (default: stdin)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    dev = common.device(args)
    bank = common.load_bank(args).to(dev)
    out = sys.stdout
    with common.open_text(args.seqfile) as stream:
        out.write("\t".join(bank.ids) + "\n")
        chunk: list[str] = []
        first = 0
        for rec in read_sequences(stream):
            chunk.append(rec.seq)
            if len(chunk) == CHUNK:
                _write(out, predict.score(bank, chunk, mode=args.mode, strand_merge=args.strand_merge,
                                          device=dev, start_index=first))
                first += len(chunk)
                chunk = []
        if chunk:
            _write(out, predict.score(bank, chunk, mode=args.mode, strand_merge=args.strand_merge,
                                      device=dev, start_index=first))
    out.flush()
    return 0


def _write(out, scores) -> None:
    for row in scores:
        out.write("\t".join(f"{v:.6f}" for v in row) + "\n")
