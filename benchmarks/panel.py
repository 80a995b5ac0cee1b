#!/usr/bin/env python
"""Benchmark: loading the default panel (target < 1 s) and the catalogue, in fresh processes.

    PYTHONPATH=. python benchmarks/panel.py [--repeats 5]

Each figure is the median over ``--repeats`` fresh Python processes, so nothing is cached in memory
(the OS file cache is warm after the first). ``import`` is ``import varbind.pretrained,
varbind.bank`` (torch, numpy, pandas, safetensors); ``load_panel`` is the call itself: read and
sha256-check the bundle, build the 879-model bank; ``load_catalogue`` reads only the TSV (what
``varbind models list`` needs); ``models list`` is the whole command line, interpreter start included.
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
import varbind.pretrained as P, varbind.bank, pandas, safetensors.numpy  # noqa
t1 = time.perf_counter()
panel = P.load_panel("default")
t2 = time.perf_counter()
name, cat, _ = P.load_catalogue("default")
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load_panel": t2 - t1, "load_catalogue": t3 - t2, "models": len(panel.bank),
                  "tfs": P.count_tfs(panel.catalogue)}))
"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    runs = []
    for _ in range(args.repeats):
        out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True).stdout
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "varbind", "models", "list", "--format", "tsv"], env=env,
                       capture_output=True, check=True)
        runs.append({**json.loads(out), "cli": time.perf_counter() - t})
    size = sum(f.stat().st_size for f in (REPO / "pretrained" / "default").iterdir()) / 1e6
    print(f"default panel: {runs[0]['models']} models, {runs[0]['tfs']} distinct TFs, {size:.1f} MB on disk")
    print(f"{'step':<28}{'median s':>10}{'min s':>10}")
    for key, label in [("import", "import (torch, pandas, ...)"), ("load_panel", "load_panel('default')"),
                       ("load_catalogue", "load_catalogue('default')"), ("cli", "varbind models list (cmd)")]:
        vals = [r[key] for r in runs]
        print(f"{label:<28}{statistics.median(vals):>10.3f}{min(vals):>10.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
