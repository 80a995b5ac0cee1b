#!/usr/bin/env python
"""Benchmark: loading the default panel and its catalogue (target < 1 s), in fresh processes.

    PYTHONPATH=. python benchmarks/panel.py [--repeats 5]

Each figure is the median over ``--repeats`` fresh Python processes, so nothing is cached in memory
(the OS file cache is warm after the first). ``import`` is ``import varbind.panels.sources,
varbind.bank`` (torch, numpy, pandas, safetensors); ``load_panel`` is the call itself: read and
sha256-check the bundles, build the 714-model bank; ``load_catalogue`` reads only the TSVs (what
``varbind models list`` needs); ``list path`` is a fresh process doing exactly what ``varbind models
list --format tsv`` does (import ``varbind.cli.models``, catalogue, selection, TSV to stdout: torch
is never imported), with its CPU time (user + sys of the child process: what it costs on an idle
machine, while wall time grows with the machine's load); ``models list`` is the whole command line, interpreter start included (it also
imports every other sub-command's module to build the parser). ``$VARBIND_DATA_DIR`` points to an
empty folder: nothing is downloaded or read from a user's data folder.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROBE = r"""
import json, time
t0 = time.perf_counter()
import varbind.panels.sources as P, varbind.bank, pandas, safetensors.numpy  # noqa
t1 = time.perf_counter()
panel = P.load_panel("default")
t2 = time.perf_counter()
name, cat, _ = P.load_catalogue("default")
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load_panel": t2 - t1, "load_catalogue": t3 - t2, "models": len(panel.bank),
                  "tfs": P.count_tfs(panel.catalogue)}))
"""


LIST_PATH = r"""
import sys, time
t0 = time.perf_counter()
import argparse
from varbind.cli import models
p = argparse.ArgumentParser(); models.register(p.add_subparsers(dest="command"))
args = p.parse_args(["models", "list", "--format", "tsv"])
args.func(args)
print(f"{time.perf_counter() - t0:.4f} {'torch' in sys.modules}", file=sys.stderr)
"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    import tempfile

    env = {**os.environ, "PYTHONPATH": str(REPO), "VARBIND_DATA_DIR": tempfile.mkdtemp(prefix="varbind-empty-")}
    runs = []
    import resource

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    for _ in range(args.repeats):
        c0 = cpu()
        got = subprocess.run([sys.executable, "-c", LIST_PATH], env=env, capture_output=True, text=True, check=True)
        list_cpu = cpu() - c0
        seconds, torch = got.stderr.strip().splitlines()[-1].split()
        assert torch == "False", "the models list path imported torch"
        import io

        import pandas as pd

        listed = pd.read_csv(io.StringIO(got.stdout), sep="\t", dtype=str, keep_default_na=False)
        out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True).stdout
        t, c0 = time.perf_counter(), cpu()
        subprocess.run([sys.executable, "-m", "varbind", "models", "list", "--format", "tsv"], env=env,
                       capture_output=True, check=True)
        cli_cpu = cpu() - c0
        runs.append({**json.loads(out), "cli": time.perf_counter() - t, "list_path": float(seconds),
                     "cnn": int((listed["model_type"] == "cnn").sum()), "list_cpu": list_cpu, "cli_cpu": cli_cpu})
    parts = set(listed["bundle"])
    size = sum(f.stat().st_size for b in parts for f in (REPO / "pretrained" / b).iterdir()) / 1e6
    print(f"default panel: {runs[0]['models']} models ({runs[0]['cnn']} CNNs), {runs[0]['tfs']} distinct TFs, "
          f"{size:.1f} MB on disk (bundles {', '.join(sorted(parts))}, shared with other panels)")
    print(f"{'step':<28}{'median s':>10}{'min s':>10}")
    for key, label in [("import", "import (torch, pandas, ...)"), ("load_panel", "load_panel('default')"),
                       ("load_catalogue", "load_catalogue('default')"), ("list_path", "models list path (process)"),
                       ("list_cpu", "  same, CPU time (user+sys)"), ("cli", "varbind models list (cmd)"),
                       ("cli_cpu", "  same, CPU time (user+sys)")]:
        vals = [r[key] for r in runs]
        print(f"{label:<28}{statistics.median(vals):>10.3f}{min(vals):>10.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
