"""What the writer policy for undeclared tags costs: `varbind annotate` end to end on one VCF three ways.

* declared: every INFO tag declared in the header (no restart);
* undeclared first: record 1 uses an undeclared INFO tag (restart after the first chunk, one extra read);
* undeclared last: only the last record does (the worst case: the whole run is done twice).

Usage: python benchmarks/undeclared_restart.py [N_RECORDS] [MODELS]  (default 3000 records, the default panel)
Prints one row per case: wall seconds of the command (median of 3).
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.annotate_helpers import write_fasta  # noqa: E402


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    models = sys.argv[2] if len(sys.argv) > 2 else "default"
    d = Path(tempfile.mkdtemp(prefix="vb_restart_"))
    rng = np.random.default_rng(0)
    length = n * 20 + 1000
    seq = "".join(rng.choice(list("ACGT"), length))
    write_fasta(d / "g.fa", {"1": seq})
    head = ["##fileformat=VCFv4.2", f"##contig=<ID=1,length={length}>",
            '##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">', "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    rows = [f"1\t{p}\t.\t{seq[p - 1]}\t{'ACGT'[('ACGT'.index(seq[p - 1]) + 1) % 4]}\t.\t.\tDP=3"
            for p in range(500, 500 + 20 * n, 20)]
    cases = {"declared": rows, "undeclared first": [rows[0] + ";NEW=1"] + rows[1:],
             "undeclared last": rows[:-1] + [rows[-1] + ";NEW=1"]}
    print(f"records {n}, models {models}, output .vcf.gz")
    print("case\twall_s (median of 3)")
    for name, body in cases.items():
        vcf = d / f"{name.replace(' ', '_')}.vcf"
        vcf.write_text("\n".join(head + body) + "\n")
        times = []
        for _ in range(3):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "varbind", "annotate", str(vcf), "--fasta", str(d / "g.fa"),
                            "--models", models, "-o", str(d / "out.vcf.gz"), "--quiet"], check=True,
                           stderr=subprocess.DEVNULL)
            times.append(time.perf_counter() - t)
        print(f"{name}\t{statistics.median(times):.2f}")


if __name__ == "__main__":
    main()
