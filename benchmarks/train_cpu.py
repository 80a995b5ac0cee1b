"""How long ``varbind train`` takes on a CPU: the real command, end to end, as a subprocess.

Two runs on one ENCODE ChIP-seq set (``../shared/data/encode``, default REST: 500 peaks of the
held-out ``_B`` file and the ``_AC`` training peaks with their shuffles):

``small``
    what a CPU user can afford: ``--settings 4 --max-steps S --min-steps S`` (16 detectors, 3 folds);
    prints wall and CPU time (the CPU time is what a shared, busy machine does not inflate), CPU
    seconds per calibration step (CPU time split by ``report.json``'s timings) and the held-out AUC.
``default-step``
    the default search (30 settings x 3 folds, 16 detectors) for ``--max-steps K`` only, to measure
    the cost of one step of the full batched model; the estimate for the default budget (calibration
    up to ``--max-steps 4000`` plus the final fit) is that cost times the steps, and is printed as an
    extrapolation, not a measurement.

    python benchmarks/train_cpu.py [--experiment REST_GM12878_NRSF_HudsonAlpha] [--steps 200] [--probe-steps 20]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "encode"


def run(argv: list[str]) -> tuple[float, float, dict]:
    """Run ``varbind train ...``; returns (wall seconds, CPU seconds of the process, report.json).

    CPU seconds (user + system) are what the run costs whatever else shares the machine; on an idle
    machine of ``c`` cores the wall time is about CPU seconds / ``c`` (torch uses every core)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "varbind", *argv, "--out", str(out), "--device", "cpu", "--quiet"],
                       check=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall, cpu, json.loads((out / "report.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", default="REST_GM12878_NRSF_HudsonAlpha")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--probe-steps", type=int, default=20)
    args = ap.parse_args()
    files = [str(DATA / f"{args.experiment}_AC.seq.gz"), str(DATA / f"{args.experiment}_B.seq.gz")]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
          f"(affinity {len(os.sched_getaffinity(0))}), load {os.getloadavg()[0]:.1f}; torch threads default")
    s = str(args.steps)
    wall, cpu, rep = run(["train", "chip", *files, "--settings", "4", "--max-steps", s, "--min-steps", s])
    steps = rep["checkpoint_steps"][-1]
    share = rep["seconds"]["calibration"] / (rep["seconds"]["calibration"] + rep["seconds"]["final_fit"])
    print("| run | command | wall s | CPU s (user+sys) | CPU s per calibration step | held-out AUC |")
    print("|---|---|---|---|---|---|")
    print(f"| small | `varbind train chip {args.experiment}_AC/_B --settings 4 --max-steps {s} --min-steps {s} "
          f"--device cpu` | {wall:.1f} | {cpu:.1f} | {cpu * share / steps:.3f} | {rep['test']['auc']:.4f} |")
    k = str(args.probe_steps)
    wall2, cpu2, rep2 = run(["train", "chip", *files, "--max-steps", k, "--min-steps", k])
    steps2 = rep2["checkpoint_steps"][-1]
    share2 = rep2["seconds"]["calibration"] / (rep2["seconds"]["calibration"] + rep2["seconds"]["final_fit"])
    per = cpu2 * share2 / steps2
    final_per = cpu2 * (1 - share2) / max(1, rep2["final_steps"])
    print(f"| default-step | `varbind train chip ... --max-steps {k} --min-steps {k} --device cpu` (30 settings x 3 "
          f"folds) | {wall2:.1f} | {cpu2:.1f} | {per:.3f} | {rep2['test']['auc']:.4f} |")
    est = 4000 * per + 4000 * final_per
    cores = len(os.sched_getaffinity(0))
    print(f"\nextrapolated default run (calibration 4000 steps at {per:.3f} CPU s/step + final fit up to 4000 steps "
          f"at {final_per:.3f} CPU s/step): about {est / 3600:.1f} CPU hours, {est / 3600 / cores:.1f} h wall on an "
          f"idle {cores}-core machine; the small run: {cpu / 60:.1f} CPU min ({cpu / 60 / cores:.1f} min wall idle)")

if __name__ == "__main__":
    main()
