"""Benchmark of variant annotation: variants/s against a naive path, and peak RSS as the VCF grows.

Measurements, printed as a table:

* at each ``--spacing`` (mean bases between variants; random SNVs on a random genome of
  ``n * spacing`` bases), medians of ``--repeats`` runs of:

  * ``shared``: what ``annotate`` does in global mode: windows (``--window``, default 101) built by
    :func:`varbind.annotate.windows.build_windows`, clustered into regions and scored through
    :func:`varbind.predict.score_windows` (nearby variants share one reference pass; on a GPU this
    falls back to ``score_edits``);
  * ``delta``: the same windows through :func:`varbind.predict.score_edits` (one reference pass a
    variant, each ALT a delta on it);
  * ``naive``: per variant, one full forward pass for the reference and one for the alternate window
    (:func:`varbind.predict.score` on the two sequences), the path annotation would take without deltas.
* ``end-to-end`` (not with ``--synthetic``): ``annotate_vcf`` on a VCF of random SNVs against a random
  FASTA (I/O, windows, scoring, VCF writing).
* ``rss``: peak RSS of ``annotate_vcf`` in a subprocess for a VCF of ``--rss-n`` and 10x as many
  records (``--rss-models`` models, so it runs quickly): streaming keeps it flat.

``--synthetic`` needs no cyvcf2/pysam (for a GPU machine): windows from random sequence only.

Usage::

    PYTHONPATH=. python benchmarks/annotate.py --models ../shared/data/deepbind -n 2000 --naive-n 100 \
        --spacing 1000 100 10 --rss-n 0
    PYTHONPATH=. python benchmarks/annotate.py --synthetic --device cuda -n 200000 --naive-n 2000
    PYTHONPATH=. python benchmarks/annotate.py --end-to-end snvs.vcf.gz --fasta hg19.fa --models DIR --device cuda
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from varbind import predict  # noqa: E402
from varbind.panels import deepbind_db
from varbind.bank import ModelBank  # noqa: E402
from varbind.annotate.windows import Site, build_windows  # noqa: E402


def load_bank(source: str, n_models: int | None) -> ModelBank:
    ids = None
    if n_models:
        ids = list(deepbind_db.read_catalogue(source).index[:n_models])
    ids, params = deepbind_db.load_params(source, ids)
    return ModelBank.from_params(params, ids)


def bench_shared(bank, genome, sites, window, device) -> float:
    from varbind.annotate.scoring import score_global

    g = lambda a, b: genome[a:b]  # noqa: E731
    score_global(bank, build_windows(sites[: warm_n(device)], g, window), g, device=device)  # warm-up / compile
    sync(device)
    t = time.perf_counter()
    score_global(bank, build_windows(sites, g, window), g, device=device)
    sync(device)
    return len(sites) / (time.perf_counter() - t)


def bench_spacings(bank, args, rng) -> list[tuple[str, str]]:
    """Shared, delta and naive variants/s at each spacing (medians of ``args.repeats`` runs)."""
    rows = []
    for spacing in args.spacing:
        genome = rng.integers(0, 4, size=max(args.n * spacing, 10 * args.window)).astype(np.uint8)
        sites = random_snvs(rng, genome, args.n, args.window)
        runs = {name: [] for name in ("shared", "delta", "naive")}
        for _ in range(args.repeats):
            runs["shared"].append(bench_shared(bank, genome, sites, args.window, args.device))
            runs["delta"].append(bench_delta(bank, genome, sites, args.window, args.device))
            runs["naive"].append(bench_naive(bank, genome, sites[: args.naive_n], args.window, args.device))
        med = {k: float(np.median(v)) for k, v in runs.items()}
        rows += [(f"spacing {spacing} bp: shared / delta / naive variants/s",
                  f"{med['shared']:,.1f} / {med['delta']:,.1f} / {med['naive']:,.1f}"),
                 (f"spacing {spacing} bp: speed-up shared / delta over naive",
                  f"{med['shared'] / med['naive']:.1f}x / {med['delta'] / med['naive']:.1f}x")]
    return rows


def random_snvs(rng: np.random.Generator, genome: np.ndarray, n: int, window: int) -> list[Site]:
    pos = np.sort(rng.choice(np.arange(window, len(genome) - window), size=n, replace=False))
    bases = "ACGT"
    return [Site("c", int(p), bases[genome[p]], (bases[(genome[p] + 1 + int(rng.integers(3))) % 4],)) for p in pos]


def warm_n(device: str | None) -> int:
    """Variants of the untimed warm-up: on a GPU a full batch, so that the Triton autotuner tunes
    the batch size the timed run uses (it tunes small batches separately)."""
    return 8192 if device and device.startswith("cuda") else 64


def sync(device: str | None) -> None:
    if device and device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def bench_delta(bank, genome, sites, window, device) -> float:
    g = lambda a, b: genome[a:b]  # noqa: E731
    predict.score_edits(bank, *build_windows(sites[: warm_n(device)], g, window)[:2], device=device)  # warm-up
    sync(device)
    t = time.perf_counter()
    win = build_windows(sites, g, window)
    predict.score_edits(bank, win.refs, win.edits, device=device)
    sync(device)
    return len(sites) / (time.perf_counter() - t)


def check_delta(bank, genome, sites, window, device) -> float:
    """The delta path equals full passes over the edited windows (same device)."""
    win = build_windows(sites, lambda a, b: genome[a:b], window)
    got = predict.score_edits(bank, win.refs, win.edits, device=device)
    ref = predict.score(bank, win.refs, device=device)
    alt = predict.score(bank, predict.apply_edits(win.refs, win.edits), device=device)
    rel = lambda x, y: (np.abs(x - y) / np.maximum(1.0, np.abs(y))).max()  # noqa: E731
    return float(max(rel(got.ref, ref), rel(got.alt, alt)))


def bench_naive(bank, genome, sites, window, device) -> float:
    from varbind.sequence import decode

    half = window // 2
    predict.score(bank, ["ACGT" * 30] * 2, device=device)
    sync(device)
    t = time.perf_counter()
    for s in sites:
        ref = decode(genome[s.start - half : s.start + half + 1])
        alt = ref[:half] + s.alts[0] + ref[half + 1 :]
        predict.score(bank, [ref], device=device)
        predict.score(bank, [alt], device=device)
    sync(device)
    return len(sites) / (time.perf_counter() - t)


def write_inputs(folder: Path, genome: np.ndarray, sites: list[Site]) -> tuple[Path, Path]:
    from varbind.sequence import decode

    fa = folder / "g.fa"
    seq = decode(genome)
    fa.write_text(">c\n" + "\n".join(seq[i : i + 60] for i in range(0, len(seq), 60)) + "\n")
    vcf = folder / "in.vcf"
    with open(vcf, "w") as f:
        f.write(f"##fileformat=VCFv4.2\n##contig=<ID=c,length={len(genome)}>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for s in sites:
            f.write(f"c\t{s.start + 1}\t.\t{s.ref}\t{s.alts[0]}\t.\t.\t.\n")
    return fa, vcf


def bench_end_to_end(bank, genome, sites, window, device) -> float:
    from varbind import annotate

    with tempfile.TemporaryDirectory() as d:
        fa, vcf = write_inputs(Path(d), genome, sites)
        settings = annotate.Settings(window=window, device=device)
        panel = annotate.resolve_panel(bank)
        t = time.perf_counter()
        annotate.annotate_vcf(str(vcf), str(fa), str(Path(d) / "o.vcf.gz"), panel, settings=settings)
        return len(sites) / (time.perf_counter() - t)


#: prints the peak RSS (KB) of the process running it: VmHWM, the high-water mark of its own address
#: space. Not ``getrusage(RUSAGE_SELF).ru_maxrss``: Linux folds the peak of the address space a process
#: leaves at exec into it, and a child that subprocess starts through vfork leaves its parent's, so a
#: child measured that way reports at least the parent's peak (measured: a child printing 826 MB after
#: its parent had held 800 MB; here the parent peaks at ~640 MB building the 10^6-record inputs)
PEAK_RSS = """
import resource
try:
    with open("/proc/self/status") as _f:
        print(next(int(line.split()[1]) for line in _f if line.startswith("VmHWM:")))
except (OSError, StopIteration):  # no /proc (macOS): ru_maxrss (bytes there), may include the parent's
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

CHILD = """
import sys
sys.path.insert(0, {repo!r})
from varbind import annotate
panel = annotate.resolve_panel({models!r}, {ids!r})
annotate.annotate_vcf({vcf!r}, {fa!r}, {out!r}, panel, settings=annotate.Settings(window={w}, device="cpu"),
                      scores={scores!r}, deepfind=False)
""" + PEAK_RSS


def bench_rss(models: str, n_models: int, n: int, window: int, rng, sizes=None) -> list[tuple[int, float]]:
    """Peak RSS (MB) of an ``annotate_vcf`` child for each size. An untimed child on 1,000 records runs
    first (its own rng): on a fresh checkout it is the one that compiles numba's CPU kernels into the
    on-disk cache (~150 MB more RSS, measured: 637 MB instead of 489 MB at 10^4 records)."""
    ids = list(deepbind_db.read_catalogue(models).index[:n_models])
    _rss_child(models, ids, 1000, window, np.random.default_rng(1))
    return [(size, _rss_child(models, ids, size, window, rng)) for size in sizes or (n, 10 * n)]


def _rss_child(models: str, ids: list[str], size: int, window: int, rng) -> float:
    genome = rng.integers(0, 4, size=max(20 * size, 100_000)).astype(np.uint8)
    sites = random_snvs(rng, genome, size, window)
    with tempfile.TemporaryDirectory() as d:
        fa, vcf = write_inputs(Path(d), genome, sites)
        code = CHILD.format(repo=str(REPO), models=models, ids=ids, vcf=str(vcf), fa=str(fa),
                            out=str(Path(d) / "o.vcf.gz"), w=window, scores=str(Path(d) / "s.parquet"))
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        return int(res.stdout.split()[-1]) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=str(REPO.parent / "shared" / "data" / "deepbind"))
    ap.add_argument("--n-models", type=int, default=None, help="first N models of the catalogue (default: all)")
    ap.add_argument("-n", type=int, default=2000, help="variants for the delta path")
    ap.add_argument("--naive-n", type=int, default=100, help="variants for the naive path")
    ap.add_argument("--window", type=int, default=101)
    ap.add_argument("--spacing", type=int, nargs="*", default=[1000, 100, 10],
                    help="mean bases between variants, one measurement each (default: 1000 100 10)")
    ap.add_argument("--repeats", type=int, default=3, help="runs a spacing (medians are reported)")
    ap.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N (--end-to-end default: auto)")
    ap.add_argument("--synthetic", action="store_true", help="no VCF/FASTA I/O (no cyvcf2/pysam needed)")
    ap.add_argument("--rss-n", type=int, default=2000, help="records of the small VCF of the RSS test (0: skip)")
    ap.add_argument("--rss-models", type=int, default=20)
    ap.add_argument("--rss-sizes", type=int, nargs="+", help="records of each RSS run (default: --rss-n, 10x that); "
                    "with --rss-only nothing else runs")
    ap.add_argument("--rss-only", action="store_true")
    ap.add_argument("--end-to-end", metavar="VCF", help="real VCF of SNVs: `varbind annotate` (subprocess) vs the "
                    "scoring call alone on its SNVs (see benchmarks/annotate_e2e.py); needs --fasta")
    ap.add_argument("--fasta", help="reference FASTA of --end-to-end")
    ap.add_argument("--also-no-deepfind", action="store_true", help="--end-to-end: time --no-deepfind too")
    ap.add_argument("--workers", type=int, help="--end-to-end: annotate --workers N")
    ap.add_argument("--annotate-device", help="--end-to-end: the command's --device when it differs from the call "
                    "alone's (cuda: every GPU of the host, the call alone on one)")
    ap.add_argument("--also-one-process", action="store_true", help="--end-to-end: time --host-workers 1 too")
    ap.add_argument("--host-workers", type=int, nargs="+", help="--end-to-end: time annotate --host-workers N for "
                    "each N (instead of the default's choice)")
    ap.add_argument("--alone-n", type=int, help="--end-to-end: the scoring call alone on the first N SNVs only (its "
                    "(N, M) results are held in memory; the rate is per SNV either way)")
    args = ap.parse_args()
    if args.rss_only:
        for size, mb in bench_rss(args.models, args.rss_models, args.rss_n, args.window, np.random.default_rng(0),
                                  args.rss_sizes):
            print(f"peak RSS, {size} records, {args.rss_models} models, --no-deepfind, --scores Parquet: {mb:,.0f} MB",
                  flush=True)
        return
    if args.end_to_end:
        sys.path.insert(0, str(REPO / "benchmarks"))
        import annotate_e2e

        if args.models == ap.get_default("models"):
            args.models = "default" if not Path(args.models).is_dir() else args.models
        annotate_e2e.run(args)
        return
    rng = np.random.default_rng(0)
    bank = load_bank(args.models, args.n_models)
    if args.device:
        bank = bank.to(args.device)
    genome = rng.integers(0, 4, size=max(20 * args.n, 100_000)).astype(np.uint8)
    sites = random_snvs(rng, genome, args.n, args.window)
    rows = [("models", len(bank)), ("window", args.window), ("device", args.device or "cpu"),
            ("machine", f"{platform.machine()} {platform.processor() or ''} cpus={os.cpu_count()}")]
    rows.append(("load average (1, 5, 15 min) at start", " ".join(f"{x:.2f}" for x in os.getloadavg())))
    rows += bench_spacings(bank, args, rng)
    delta = bench_delta(bank, genome, sites, args.window, args.device)
    rows.append(("max rel diff, delta path vs full passes (512 variants)", f"{check_delta(bank, genome, sites[:512], args.window, args.device):.1e}"))
    naive = bench_naive(bank, genome, sites[: args.naive_n], args.window, args.device)
    rows += [(f"delta path variants/s (n={args.n})", f"{delta:,.1f}"),
             (f"naive path variants/s (n={args.naive_n})", f"{naive:,.1f}"), ("speed-up", f"{delta / naive:.1f}x")]
    if not args.synthetic:
        e2e = bench_end_to_end(bank, genome, sites, args.window, args.device)
        rows.append((f"end-to-end annotate_vcf variants/s (n={args.n})", f"{e2e:,.1f}"))
        if args.rss_n:
            for size, mb in bench_rss(args.models, args.rss_models, args.rss_n, args.window, rng):
                rows.append((f"peak RSS, {size} records, {args.rss_models} models", f"{mb:,.0f} MB"))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main()
