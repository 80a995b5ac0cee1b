"""What the integrity checks of a VCF output cost: `varbind annotate` end to end on N SNVs, and the
read-back of the written file (`varbind.io.readback.count_vcf_records`) alone, for .vcf, .vcf.gz, .bcf.

Usage: python benchmarks/bench_readback.py [N]   (default 200,000 SNVs; 4 small models)
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from varbind import params
from varbind.io import readback


def main(n: int = 200_000) -> None:
    d = Path(tempfile.mkdtemp(prefix="vb-readback-"))
    rng = np.random.default_rng(0)
    length = n * 10 + 1000
    genome = "".join(rng.choice(list("ACGT"), size=length))
    with open(d / "g.fa", "w") as f:
        f.write(">c\n" + "\n".join(genome[i : i + 60] for i in range(0, length, 60)) + "\n")
    (d / "db" / "params").mkdir(parents=True)
    (d / "db" / "db.tsv").write_text("ID\tProtein\n" + "".join(f"M{i}\tTF{i}\n" for i in range(4)))
    for i in range(4):
        params.write(params.random_params(num_detectors=8, detector_len=12, seed=i), d / "db" / "params" / f"M{i}.txt")
    pos = np.arange(n) * 10 + 500
    with open(d / "in.vcf", "w") as f:
        f.write(f"##fileformat=VCFv4.2\n##contig=<ID=c,length={length}>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for p in pos:
            ref = genome[p]
            f.write(f"c\t{p + 1}\t.\t{ref}\t{'ACGT'[('ACGT'.index(ref) + 1) % 4]}\t.\t.\t.\n")
    print(f"| output | annotate end to end (s) | read-back (s) | share |\n|---|---|---|---|")
    for ext in ("vcf", "vcf.gz", "bcf"):
        out = d / f"out.{ext}"
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "varbind", "annotate", str(d / "in.vcf"), "--fasta", str(d / "g.fa"),
                        "-o", str(out), "--models", str(d / "db"), "--quiet"], check=True)
        total = time.perf_counter() - t
        t = time.perf_counter()
        assert readback.count_vcf_records(str(out)) == n
        rb = time.perf_counter() - t
        print(f"| .{ext} | {total:.1f} | {rb:.2f} | {100 * rb / total:.1f}% |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
