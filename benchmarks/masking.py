"""What the ``masked_by`` column costs ``varbind annotate``: the real command, profiled end to end.

Writes a VCF of the first ``--n`` DeepFind derived promoter SNVs (hg19, ``../shared/data/deepfind``),
then runs ``varbind annotate IN.vcf --fasta hg19_sparse.fa.gz -o OUT.tsv`` (the default panel, DeepFind
off) under cProfile in this process, twice (the first run pays numba compilation), and prints the
wall time of the second run and the share of it spent in
:func:`varbind.annotate.masking.masked_column` (the VCF-only output skips the column).

    python benchmarks/masking.py [--n 2000]
"""
from __future__ import annotations

import argparse
import cProfile
import gzip
import os
import pstats
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()
    from varbind.cli import main as varbind

    with tempfile.TemporaryDirectory() as tmp:
        vcf = Path(tmp) / "in.vcf"
        rows = []
        with gzip.open(SHARED / "deepfind" / "derived.avinput.gz", "rt") as f:
            for line in f:
                c, pos, _, ref, alt, *_ = line.split("\t")
                rows.append(f"chr{c}\t{pos}\t.\t{ref}\t{alt}\t.\t.\t.\n")
                if len(rows) == args.n:
                    break
        vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "".join(rows))
        argv = ["annotate", str(vcf), "--fasta", str(SHARED / "genome" / "hg19_sparse.fa.gz"),
                "-o", str(Path(tmp) / "out.tsv"), "--no-deepfind", "--quiet"]
        varbind(argv)  # warm: numba compilation, panel cache
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.runcall(varbind, argv)
        wall = time.perf_counter() - t0
        stats = pstats.Stats(prof)
        masked = next(v[3] for k, v in stats.stats.items() if k[2] == "masked_column")  # cumulative seconds
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print(f"| SNVs | annotate -o TSV (wall, profiled) | in masked_column | share |")
    print(f"|---|---|---|---|")
    print(f"| {args.n:,} | {wall:.1f} s | {masked:.1f} s | {100 * masked / wall:.0f}% |")


if __name__ == "__main__":
    main()
