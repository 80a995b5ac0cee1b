"""Where a scoring task's time goes in the process that scores (the parent of ``--host-workers`` on a
GPU, :mod:`varbind.annotate.service`): tasks of the first ``-n`` records of a VCF are prepared as a
worker prepares them (untimed), then each is scored by :func:`varbind.annotate.pipeline.score` alone,
one thread, with the GPU synchronised after each; prints seconds a task and records/s, the top of a
cProfile of the timed calls (host time: on a GPU the first copy that waits for it shows the device's
time), with ``--kernels`` a torch.profiler table of the device's time by kernel, then records/s with
the tasks scored by ``--threads`` threads at once, as the service's threads score them.

Usage::

    PYTHONPATH=. python benchmarks/service_profile.py sat.vcf.gz --fasta hg19.fa --models deepbind --device cuda -n 200000
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from varbind import io  # noqa: E402
from varbind.annotate import Settings, pipeline, resolve_panel  # noqa: E402
from varbind.annotate import stream  # noqa: E402
from varbind.annotate.deepfind import load_deepfind  # noqa: E402
from varbind.annotate.topk import Selection  # noqa: E402
from varbind.annotate.variants import region_chunks, spreads  # noqa: E402
from varbind.annotate.windows import Site  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("vcf")
    ap.add_argument("--fasta", required=True)
    ap.add_argument("--models", default="deepbind")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("-n", type=int, default=200_000)
    ap.add_argument("--task", type=int, default=16384, help="records a task (a host worker's part)")
    ap.add_argument("--no-deepfind", action="store_true")
    ap.add_argument("--kernels", action="store_true", help="also a torch.profiler table of the device's time by kernel")
    ap.add_argument("--threads", type=int, nargs="*", default=[2, 3], help="then the tasks scored by this many threads")
    args = ap.parse_args()

    import torch

    panel = resolve_panel(args.models)
    df = None if args.no_deepfind else load_deepfind(panel)
    settings = Settings(device=args.device)
    selection = Selection(min(5, len(panel.bank)), spreads(panel))
    fa = io.Fasta(args.fasta)
    contigs = io.ContigMap(fa.lengths)
    reader = io.open_vcf(args.vcf)
    records = []
    for batch in io.read_batches(reader):
        for rec in batch:
            records.append((rec, Site(*io.site_of(rec))))
            if len(records) >= args.n:
                break
        if len(records) >= args.n:
            break
    tasks = []
    for task in stream.tasks(region_chunks(records), args.task):
        tasks.append([pipeline.prepare([s for _, s in chunk], args.fasta, contigs(chunk[0][1].chrom), settings, df)
                      for chunk in task])
    sync = torch.cuda.synchronize if torch.device(args.device).type == "cuda" else (lambda: None)
    for items in tasks:  # warm-up: placement, and every kernel specialisation these tasks meet compiled
        pipeline.score(items, panel.bank, settings, df, selection)
    sync()
    times, prof = [], cProfile.Profile()
    n = 0
    for items in tasks[1:]:
        t = time.perf_counter()
        prof.enable()
        pipeline.score(items, panel.bank, settings, df, selection)
        sync()
        prof.disable()
        times.append(time.perf_counter() - t)
        n += sum(len(p.win.site) for p in items)
    print(f"{len(times)} tasks of ~{args.task} records, DeepFind {'off' if df is None else 'on'}: "
          f"median {statistics.median(times):.3f} s a task, {n / sum(times):,.0f} records/s")
    pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    if args.kernels:  # where the device's time goes, by kernel and op (torch.profiler)
        from torch.profiler import ProfilerActivity, profile

        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.device(args.device).type == "cuda" else [])
        with profile(activities=acts) as kp:
            for items in tasks[1:]:
                pipeline.score(items, panel.bank, settings, df, selection)
            sync()
        key = "self_cuda_time_total" if ProfilerActivity.CUDA in acts else "self_cpu_time_total"
        print(kp.key_averages().table(sort_by=key, row_limit=20))
    from concurrent.futures import ThreadPoolExecutor

    for threads in args.threads:  # as the service's scoring threads: tasks scored concurrently
        t = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda items: pipeline.score(items, panel.bank, settings, df, selection), tasks[1:]))
        sync()
        print(f"{threads} threads: {n / (time.perf_counter() - t):,.0f} records/s")


if __name__ == "__main__":
    main()
