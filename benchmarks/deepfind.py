#!/usr/bin/env python3
"""Print the held-out DeepFind results recorded with the shipped models (pretrained/deepfind/*/metrics.json).

The figures are made by ``scripts/train_deepfind.py`` (one command per panel); this prints them as
one markdown table with the paper's figures beside them.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from varbind.deepfind.train import results_table  # noqa: E402

PAPER = "paper (Alipanahi et al. 2015): DeepFind 0.71 (scores), 0.73 (+ distance + transversion); CADD 0.64"


def main() -> int:
    found = sorted((REPO / "pretrained" / "deepfind").glob("*/metrics.json"))
    if not found:
        print("no pretrained/deepfind/*/metrics.json: run scripts/train_deepfind.py first", file=sys.stderr)
        return 1
    lines = []
    for i, path in enumerate(found):
        table = results_table(json.loads(path.read_text())).splitlines()
        lines += table if i == 0 else table[2:]
    print("\n".join(lines))
    print(f"\n{PAPER}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
