"""Mutation-map speed: all 3n point mutations of a 1 kb sequence x 600 DeepBind models.

Fast path: ``mutmap.mutation_map`` (one reference pass + per-mutation deltas through
``predict.score_edits``). Naive path: ``3n + 1`` full passes through ``predict.score``; by default
timed on a random sample of ``--naive-sample`` of the mutants and extrapolated linearly to all
``3n + 1`` (each full pass costs the same); ``--naive-sample 0`` times all of them. The two paths
are also compared on the sampled mutants (max |difference|).

    PYTHONPATH=. python benchmarks/mutmap.py [--models 600] [--length 1000] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

from varbind import mutmap, predict
from varbind.panels import deepbind_db
from varbind.bank import ModelBank
from varbind.sequence import encode_batch

DB = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "deepbind"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=str(DB))
    ap.add_argument("--models", type=int, default=600)
    ap.add_argument("--length", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--naive-sample", type=int, default=300)
    args = ap.parse_args()

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
