"""Scoring throughput: sequence x model per second for 101-bp sequences with the 927 DeepBind models.

Usage: python benchmarks/score.py [--models DIR] [--device cpu|cuda] [--n 256] [--threads 1 2]

Prints one row per (device, threads, mode) with the median of --repeat timed runs, and the ratio to
the deepbind v0.1 executable's 32 sequence x model/s per core (measured on this 2-core machine,
../shared/README.md). Models come from a DeepBind db folder (default ../shared/data/deepbind).
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from varbind import predict  # noqa: E402
from varbind.panels import deepbind_db
from varbind.bank import ModelBank  # noqa: E402

EXECUTABLE = 32.0  # sequence x model / s / core


def timed(fn, repeat: int, sync) -> float:
    fn()  # warm-up (numba compile, CUDA context, autotune)
    sync()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def check_set(bank, args) -> None:
    """CPU vs device: the same 256 random sequences of mixed lengths, global mode."""
    rng = np.random.default_rng(123)
    seqs = ["".join(rng.choice(list("ACGTN"), size=int(n))) for n in rng.integers(5, 300, 256)]
    if args.save_check:
        np.savez_compressed(args.save_check, scores=predict.score(bank, seqs, mode="global"))
        print(f"saved check set to {args.save_check}")
        return
    want = np.load(args.check)["scores"]
    for backend in ("default", "torch"):
        got = predict.score(bank, seqs, mode="global") if backend == "default" else _score_torch(bank, seqs)
        rel = np.abs(got - want) / np.maximum(1.0, np.abs(want))
        print(f"check {args.device} ({backend} kernels) vs saved CPU scores: max rel diff {rel.max():.2e}")


def _score_torch(bank, seqs):
    from varbind.predict import _core

    orig = _core._default_backend
    _core._default_backend = lambda device, mode: "torch"
    try:
        return predict.score(bank, seqs, mode="global")
    finally:
        _core._default_backend = orig


def profile(fn, device: str) -> None:
    from torch.profiler import ProfilerActivity, profile as prof

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.startswith("cuda") else [])
    with prof(activities=acts) as p:
        fn()
    key = "self_cuda_time_total" if device.startswith("cuda") else "self_cpu_time_total"
    print(p.key_averages().table(sort_by=key, row_limit=12, max_name_column_width=40))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "deepbind"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--n", type=int, default=256, help="sequences per timed run")
    ap.add_argument("--length", type=int, default=101)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--modes", nargs="+", default=["global", "deepbind"])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--save-check", metavar="NPZ", help="save CPU global scores of the check set here")
    ap.add_argument("--check", metavar="NPZ", help="compare this device's global scores with a saved check set")
    ap.add_argument("--profile", action="store_true", help="print torch.profiler's top operations for one run")
    args = ap.parse_args()

    ids, params = deepbind_db.load_params(args.models)
    bank = ModelBank.from_params(params, ids).to(args.device)
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), size=args.length)) for _ in range(args.n)]
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    dev_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or "cpu"
    if args.save_check or args.check:
        check_set(bank, args)
    print(f"# {len(ids)} models, {args.n} x {args.length}-bp sequences, device {args.device} ({dev_name}), "
          f"torch {torch.__version__}")
    print(f"{'device':8} {'threads':>7} {'mode':9} {'median s':>9} {'seq*model/s':>13} {'/core':>11} {'x exe/core':>10}")
    threads = args.threads if args.device == "cpu" else [torch.get_num_threads()]
    for th in threads:
        if args.device == "cpu":
            import numba

            numba.set_num_threads(th)
            torch.set_num_threads(th)
        for mode in args.modes:
            dt = timed(lambda: predict.score(bank, seqs, mode=mode), args.repeat, sync)
            if args.profile:
                profile(lambda: predict.score(bank, seqs, mode=mode), args.device)
            rate = args.n * len(ids) / dt
            per_core = rate / th if args.device == "cpu" else float("nan")
            ratio = per_core / EXECUTABLE if args.device == "cpu" else rate / EXECUTABLE
            print(f"{args.device:8} {th:>7} {mode:9} {dt:9.3f} {rate:13.3g} {per_core:11.3g} {ratio:10.0f}")


if __name__ == "__main__":
    main()
