"""Command-line start-up and thread counts, measured by running the real ``varbind`` command.

* ``startup``: wall time of ``varbind --help`` and ``varbind models list`` (after one warm-up run,
  so the OS file cache is warm), median of ``--repeat`` runs.
* ``threads``: wall time of ``varbind score --mode global`` on ``--n`` random 101-mers with the 927
  DeepBind models, and of ``varbind annotate`` on a VCF of ``--variants`` random SNVs against a random
  genome, with ``--threads 1``, ``--threads 2``, ... and without the flag (the default), runs
  interleaved so that a changing machine load hits all settings alike; the outputs must be identical.
  The 1-minute load average before each round is printed: on a shared machine it says how busy it was.

Usage::

    python benchmarks/cli.py startup --repeat 5
    python benchmarks/cli.py threads --threads 1 2 --repeat 3 --n 2000 [--jobs annotate]
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VARBIND = str(Path(sys.executable).with_name("varbind"))


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, bytes]:
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, env=env, cwd=ROOT)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr.decode()[-2000:]}")
    return dt, r.stdout


def startup(args) -> None:
    print(f"| machine | command | median wall s | runs | 1-min load |\n|---|---|---|---|---|")
    for cmd in ([VARBIND, "--help"], [VARBIND, "models", "list"]):
        timed(cmd)  # warm-up: file cache, .pyc
        load = os.getloadavg()[0]
        times = [timed(cmd)[0] for _ in range(args.repeat)]
        print(f"| {platform.node() or 'this machine'} | `{' '.join(['varbind', *cmd[1:]])}` | "
              f"{statistics.median(times):.2f} | {args.repeat} (min {min(times):.2f}, max {max(times):.2f}) | {load:.1f} |")


def _inputs(tmp: Path, n: int, variants: int) -> tuple[Path, Path, Path]:
    rng = np.random.default_rng(0)
    seqs = tmp / "seqs.txt"
    seqs.write_text("\n".join("".join(rng.choice(list("ACGT"), 101)) for _ in range(n)) + "\n")
    genome = "".join(rng.choice(list("ACGT"), 200_000))
    fa = tmp / "g.fa"
    fa.write_text(">chr1\n" + "\n".join(genome[i:i + 60] for i in range(0, len(genome), 60)) + "\n")
    pos = np.sort(rng.choice(np.arange(200, len(genome) - 200), variants, replace=False))
    rows = [f"chr1\t{p + 1}\t.\t{genome[p]}\t{'ACGT'[('ACGT'.index(genome[p]) + 1) % 4]}\t.\t.\t." for p in pos]
    vcf = tmp / "v.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr1,length=200000>\n"
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "\n".join(rows) + "\n")
    return seqs, fa, vcf


def threads(args) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="vb-bench-"))
    try:
        seqs, fa, vcf = _inputs(tmp, args.n, args.variants)
        settings = [str(t) for t in args.threads] + ["default"]
        env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS")}
        jobs = {
            "score": lambda t: [VARBIND, "score", "--models", args.models, "--mode", "global", str(seqs)]
            + ([] if t == "default" else ["--threads", t]),
            "annotate": lambda t: [VARBIND, "annotate", str(vcf), "--fasta", str(fa), "-o",
                                   str(tmp / f"out_{t}.tsv"), "--models", args.models, "--quiet"]
            + ([] if t == "default" else ["--threads", t]),
        }
        jobs = {j: jobs[j] for j in args.jobs}
        times: dict = {(j, t): [] for j in jobs for t in settings}
        outputs: dict = {}
        loads = []
        for _ in range(args.repeat):
            loads.append(os.getloadavg()[0])
            for j, cmd in jobs.items():
                for t in settings:
                    dt, out = timed(cmd(t), env)
                    times[j, t].append(dt)
                    print(f"# {j} --threads {t}: {dt:.2f} s (load {os.getloadavg()[0]:.1f})", flush=True)
                    outputs[j, t] = out if j == "score" else (tmp / f"out_{t}.tsv").read_bytes()
        print(f"machine: {platform.node()}, {len(os.sched_getaffinity(0))} cores usable, "
              f"1-min load before each round: {', '.join(f'{x:.1f}' for x in loads)}")
        print("| command | --threads | median wall s | runs |\n|---|---|---|---|")
        for (j, t), ts in times.items():
            print(f"| varbind {j} | {t} | {statistics.median(ts):.2f} | {', '.join(f'{x:.1f}' for x in ts)} |")
        for j in jobs:
            same = all(outputs[j, t] == outputs[j, settings[0]] for t in settings)
            print(f"{j}: outputs identical across thread counts: {same}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    s = sub.add_parser("startup")
    s.add_argument("--repeat", type=int, default=5)
    t = sub.add_parser("threads")
    t.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    t.add_argument("--repeat", type=int, default=3)
    t.add_argument("--n", type=int, default=2000, help="sequences for varbind score")
    t.add_argument("--variants", type=int, default=2000, help="SNVs for varbind annotate")
    t.add_argument("--jobs", nargs="+", choices=("score", "annotate"), default=["score", "annotate"])
    t.add_argument("--models", default=str(ROOT / ".." / "shared" / "data" / "deepbind"))
    args = p.parse_args()
    startup(args) if args.what == "startup" else threads(args)


if __name__ == "__main__":
    main()
