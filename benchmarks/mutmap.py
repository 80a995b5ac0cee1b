"""Mutation-map speed: all 3n point mutations of a 1 kb sequence x 600 DeepBind models.

Fast path: ``mutmap.mutation_map`` (one reference pass + per-mutation deltas through
``predict.score_edits``). Naive path: ``3n + 1`` full passes through ``predict.score``; by default
timed on a random sample of ``--naive-sample`` of the mutants and extrapolated linearly to all
``3n + 1`` (each full pass costs the same); ``--naive-sample 0`` times all of them. The two paths
are also compared on the sampled mutants (max |difference|).

    PYTHONPATH=. python benchmarks/mutmap.py [--models 600] [--length 1000] [--repeats 3]

CLI mode (``--cli``): runs the real ``varbind mutmap REGION --fasta FASTA --top 5 --table OUT.tsv``
(default panel) as a subprocess per region and reports its wall time and peak RSS (the child's
``ru_maxrss``, read by a fresh wrapper process per run so runs do not share the maximum). Default
regions: the 1-Mb and 100-kb windows (on 10-kb boundaries) of hg19_sparse.fa.gz with the most real
(non-N) bases: chr19:54160001-55160000 (40,173 real bases) and chr19:54170001-54270000 (23,294), as
``--find-window 1000000`` / ``--find-window 100000`` print them.

    .venv/bin/python benchmarks/mutmap.py --cli [--region chr19:54170001-54270000 ...] [--timeout 900]
    .venv/bin/python benchmarks/mutmap.py --find-window 1000000
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from varbind import mutmap, predict
from varbind.panels import deepbind_db
from varbind.bank import ModelBank
from varbind.sequence import encode_batch

DB = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "deepbind"
GENOME = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "genome" / "hg19_sparse.fa.gz"
REGIONS = ["chr19:54170001-54270000", "chr19:54160001-55160000"]  # densest 100 kb and 1 Mb of GENOME

# argv: STDERR_FILE TIMEOUT_S CMD...; runs CMD, then prints "rc wall_s maxrss_kb" (a fresh process per
# run, so RUSAGE_CHILDREN is that run's alone)
_WRAP = """
import resource, subprocess, sys, time
t = time.perf_counter()
try:
    with open(sys.argv[1], "w") as err:
        rc = subprocess.run(sys.argv[3:], stdout=subprocess.DEVNULL, stderr=err, timeout=float(sys.argv[2])).returncode
except subprocess.TimeoutExpired:
    rc = "timeout"
print(rc, round(time.perf_counter() - t, 1), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def find_window(fasta: str, width: int, step: int = 10_000) -> tuple[str, int, int]:
    """The ``width``-bp window (a multiple of ``step``, on ``step`` boundaries) with the most non-N bases:
    ``(region, start0, real bases)``."""
    import pysam

    import numpy as np

    best = ("", 0, -1)
    with pysam.FastaFile(fasta) as fa:
        for chrom, length in zip(fa.references, fa.lengths):
            counts = []
            for a in range(0, length, 10_000_000):  # 10 Mb at a time
                s = np.frombuffer(fa.fetch(chrom, a, min(length, a + 10_000_000)).upper().encode(), np.uint8)
                real = (s != ord("N")).astype(np.int64)
                counts.append(np.add.reduceat(real, np.arange(0, len(real), step)))
            c = np.concatenate(counts)
            k = width // step
            if len(c) < k:
                continue
            win = np.convolve(c, np.ones(k, np.int64), "valid")
            i = int(win.argmax())
            if win[i] > best[2]:
                best = (f"{chrom}:{i * step + 1}-{min(length, i * step + width)}", i * step, int(win[i]))
    return best


def run_cli(regions: list[str], fasta: str, varbind: str, timeout: float) -> None:
    """``varbind mutmap REGION --fasta FASTA --top 5 --table OUT.tsv`` per region: wall time, peak RSS."""
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; {varbind}")
    print(f"{'region':<28}{'rc':>8}{'wall s':>9}{'peak RSS MB':>13}{'table rows':>12}")
    for region in regions:
        with tempfile.TemporaryDirectory() as tmp:
            out, err = Path(tmp) / "out.tsv", Path(tmp) / "stderr.txt"
            cmd = [varbind, "mutmap", region, "--fasta", fasta, "--top", "5", "--table", str(out)]
            wrap = [sys.executable, "-c", _WRAP, str(err), str(timeout), *cmd]
            rc, wall, rss = subprocess.run(wrap, capture_output=True, text=True, check=True).stdout.split()
            rows = sum(1 for _ in open(out)) - 1 if out.exists() else 0
            print(f"{region:<28}{rc:>8}{float(wall):>9.1f}{int(rss) / 1024:>13,.0f}{rows:>12,}")
            text = err.read_text().strip()
            if rc != "0" and text:
                print("   stderr: " + text.splitlines()[-1][:200])
        print(f"   {' '.join(cmd[:-1])} OUT.tsv; load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=str(DB))
    ap.add_argument("--models", type=int, default=600)
    ap.add_argument("--length", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--naive-sample", type=int, default=300)
    ap.add_argument("--cli", action="store_true", help="time the real `varbind mutmap` on genome regions")
    ap.add_argument("--region", action="append", help=f"with --cli (repeatable; default {' '.join(REGIONS)})")
    ap.add_argument("--fasta", default=str(GENOME))
    ap.add_argument("--varbind", default=str(Path(sys.executable).with_name("varbind")))
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds a --cli run may take")
    ap.add_argument("--find-window", type=int, metavar="BP", help="print the BP window of --fasta with most real bases")
    args = ap.parse_args()
    if args.find_window:
        print(*find_window(args.fasta, args.find_window))
        return
    if args.cli:
        run_cli(args.region or REGIONS, args.fasta, args.varbind, args.timeout)
        return

    ids = (Path(args.db) / "reference" / "all.ids").read_text().split()[: args.models]
    ids, ps = deepbind_db.load_params(args.db, ids)
    bank = ModelBank.from_params(ps, ids)
    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list("ACGT"), args.length))

    mutmap.mutation_map(seq[:100], bank)  # compile / load the numba kernels
    fast_times, fast_cpu = [], []
    for _ in range(args.repeats):
        t, c = time.perf_counter(), time.process_time()
        mm = mutmap.mutation_map(seq, bank)
        fast_times.append(time.perf_counter() - t)
        fast_cpu.append(time.process_time() - c)
    fast = min(fast_times)

    edits = mutmap.point_mutations(seq)
    refs = encode_batch([seq])
    e = len(edits.start)
    take = np.arange(e) if args.naive_sample <= 0 else np.sort(rng.choice(e, min(args.naive_sample, e), replace=False))
    sub = predict.Edits(edits.ref_index[take], edits.start[take], edits.codes[take], edits.lengths[take])
    mutants = predict.apply_edits(refs, sub)
    t, c = time.perf_counter(), time.process_time()
    ref = predict.score(bank, refs)[0]
    alt = predict.score(bank, mutants)
    naive_measured = time.perf_counter() - t
    naive_cpu = (time.process_time() - c) * (e + 1) / (len(take) + 1)
    naive = naive_measured * (e + 1) / (len(take) + 1)
    diff = np.abs((alt - ref) - mm.deltas[:, edits.codes[take, 0], edits.start[take]].T).max()

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"{len(bank)} models, {args.length} bp, {e} mutations")
    print(f"{'path':<34}{'seconds':>10}{'mutations/s':>14}")
    print(f"{'fast (1 pass + deltas), best of ' + str(args.repeats):<34}{fast:>10.3f}{e / fast:>14,.0f}")
    label = "naive (3n+1 passes)" + ("" if len(take) == e else f", {len(take) + 1} timed")
    print(f"{label:<34}{naive:>10.2f}{e / naive:>14,.0f}")
    print(f"speed-up: {naive / fast:.1f}x   max |fast - naive| over the timed mutants: {diff:.2e}")
    print(f"fast runs: {', '.join(f'{x:.3f}' for x in fast_times)} s wall; "
          f"CPU seconds (all threads): fast {min(fast_cpu):.2f}, naive {naive_cpu:.1f} "
          f"(ratio {naive_cpu / min(fast_cpu):.1f}x)")
    print(f"load average during the run: {', '.join(f'{x:.2f}' for x in os.getloadavg())} "
          "(wall times stretch when other processes share the cores)")


if __name__ == "__main__":
    main()
