#!/usr/bin/env python3
"""DeepFind ablations on one panel: which features and training choices move the held-out AUC.

    PYTHONPATH=. python scripts/deepfind_experiments.py --models default --dataset DATASET.npz \
        [--extra EXTRA.npz] --device cuda --out results.json

Computes the panel's features once, then trains MLPs (several settings, seed ensembles) and LightGBM
on feature sets built from them, and prints validation (chr7) and test (chr8-10) AUC for each. The
choice between variants is made on validation AUC only; test AUC is printed for the record.
``--extra`` is an npz with ``tss_signed`` (strand-aware distance to the nearest TSS, negative
upstream), aligned with the dataset. Used to decide what ``varbind deepfind train`` does; not a test.
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
from varbind.deepfind import train as deepfind_train
from varbind.deepfind.model import DeepFindConfig  # noqa: E402


MLP_SETTINGS = {
    "A (256,64) do.3 wd1e-4 lr1e-3": dict(hidden=[256, 64], dropout=0.3, weight_decay=1e-4, lr=1e-3),
    "B (256,64) do.5 wd1e-3 lr3e-4": dict(hidden=[256, 64], dropout=0.5, weight_decay=1e-3, lr=3e-4),
    "C (512,) do.5 wd1e-3 lr3e-4": dict(hidden=[512], dropout=0.5, weight_decay=1e-3, lr=3e-4),
    "D (64,) do.5 wd1e-2 lr3e-4": dict(hidden=[64], dropout=0.5, weight_decay=1e-2, lr=3e-4),
}

def context_features(data) -> np.ndarray:
    """Substitution class (12 one-hot) and CpG flag of each SNV (from the reference window)."""
    v = data.variants
    ref, alt = v["ref"].to_numpy(str), v["alt"].to_numpy(str)
    cls = [(r, a) for r in "ACGT" for a in "ACGT" if r != a]
    onehot = np.stack([(ref == r) & (alt == a) for r, a in cls], 1)
    w, c = data.windows, deepfind_data.CENTER
    cpg = ((ref == "C") & (w[:, c + 1] == 2)) | ((ref == "G") & (w[:, c - 1] == 1))
    return np.concatenate([onehot, cpg[:, None]], 1).astype(np.float32)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="jaspar")
    p.add_argument("--dataset", required=True)
    p.add_argument("--extra")
    p.add_argument("--device", default=None)
    p.add_argument("--out")
    p.add_argument("--lightgbm", action="store_true")
    p.add_argument("--every", type=int, default=1, help="keep every k-th variant (a quick smoke run)")
    p.add_argument("--ensemble-study", type=int, default=0, metavar="N",
                   help="only the shipped feature set: MLP seed ensembles of up to N seeds, LightGBM settings "
                        "and MLP + LightGBM blends at three weights (compare on validation AUC)")
    a = p.parse_args()

    data = deepfind_data.load_dataset_npz(a.dataset)
    keep = np.arange(0, len(data.variants), a.every)
    data = data._replace(variants=data.variants.iloc[keep].reset_index(drop=True), windows=data.windows[keep],
                         alt_codes=data.alt_codes[keep], tss_distance=data.tss_distance[keep],
                         transversion=data.transversion[keep])
    panel = pretrained.load_panel(a.models)
    t0 = time.time()
    f = deepfind.panel_features(panel.bank, data.windows, data.alt_codes, device=a.device)
    print(f"features {time.time() - t0:.1f}s", flush=True)
    y, split = data.variants["label"].to_numpy(), data.variants["split"].to_numpy()
    tr, va, te = (split == "train"), (split == "val"), (split == "test")
    base = deepfind.feature_matrix(f.ref, f.alt, data.tss_distance, data.transversion, "scores+tss+tv")
    sets = {"scores+tss+tv": base}
    if panel.null is not None:
        pr, pa = pretrained.percentile(panel, f.ref), pretrained.percentile(panel, f.alt)
        sets["pct+tss+tv"] = np.concatenate([pr, pa - pr, base[:, -2:]], 1).astype(np.float32)
        sets["scores+pct+tss+tv"] = np.concatenate([base, pr, pa - pr], 1).astype(np.float32)
    if a.extra:
        s = np.load(a.extra)["tss_signed"].astype(np.float64)[keep]
        signed = (np.sign(s) * np.log10(1 + np.abs(s)))[:, None].astype(np.float32)
        sets["scores+tss+tv+signed"] = np.concatenate([base, signed, (s < 0)[:, None].astype(np.float32)], 1)
    sets["scores+tss+tv+context"] = np.concatenate([base, context_features(data)], 1)

    results = []

    def report(name, p_val, p_test, extra=None):
        r = {"name": name, "val": round(deepfind_train.auc(y[va], p_val), 4),
             "test": round(deepfind_train.auc(y[te], p_test), 4), **(extra or {})}
        results.append(r)
        print(json.dumps(r), flush=True)
        if a.out:
            Path(a.out).write_text(json.dumps(results, indent=1))
        return r

    if a.ensemble_study:
        ensemble_study(a, base, y, tr, va, te, report)
        return 0

    preds = {}
    for fs, X in sets.items():
        for sname, s in MLP_SETTINGS.items():
            if fs != "scores+tss+tv" and not sname.startswith(("A", "B")):
                continue
            seeds = (0, 1, 2) if fs in ("scores+tss+tv", "scores+tss+tv+context") else (0,)
            pv, pt = [], []
            for seed in seeds:
                cfg = DeepFindConfig("mlp", fs, [], "", n_features=X.shape[1], hidden=s["hidden"],
                                     dropout=s["dropout"], seed=seed)
                m, info = deepfind_train.train_mlp(X[tr], y[tr], X[va], y[va], cfg, lr=s["lr"],
                                                   weight_decay=s["weight_decay"], batch_size=512,
                                                   max_epochs=30, patience=6, device=a.device)
                pv.append(m.predict_proba(X[va]))
                pt.append(m.predict_proba(X[te]))
                report(f"mlp {sname} | {fs} | seed {seed}", pv[-1], pt[-1], {"best_epoch": info["best_epoch"]})
            if len(seeds) > 1:
                preds[(fs, sname)] = (np.mean(pv, 0), np.mean(pt, 0))
                report(f"mlp {sname} | {fs} | mean of {len(seeds)} seeds", *preds[(fs, sname)])
    if a.lightgbm:
        for fs in ("scores+tss+tv", "scores+tss+tv+context"):
            X = sets[fs]
            cfg = DeepFindConfig("lightgbm", fs, [], "", n_features=X.shape[1])
            m, info = deepfind_train.train_lightgbm(X[tr], y[tr], X[va], y[va], cfg, num_boost_round=1500,
                                                    learning_rate=0.03)
            lv, lt = m.predict_proba(X[va]), m.predict_proba(X[te])
            report(f"lightgbm | {fs}", lv, lt, {"best_iteration": info["best_iteration"]})
            from scipy.stats import rankdata
            for key, (pv, pt) in preds.items():
                if key[0] == fs:
                    blend = lambda u, w: (rankdata(u) + rankdata(w)) / 2  # noqa: E731
                    report(f"blend lightgbm + mlp {key[1]} x5 | {fs}", blend(lv, pv), blend(lt, pt))
    if a.out:
        Path(a.out).write_text(json.dumps(results, indent=1))
    return 0


def ensemble_study(a, X, y, tr, va, te, report) -> None:
    """Seed ensembles of the shipped MLP setting, LightGBM variants, and blends of the two."""
    from varbind.cli.deepfind import MLP_GRID

    fs = "scores+tss+tv"
    # the grid entry the shipped model was trained with (its members' shape), trained as it was
    shipped = deepfind.load(deepfind.find_model(a.models)).config
    entry = next(g for g in MLP_GRID if g["hidden"] == shipped.ensemble["member_hidden"])
    pv, pt = [], []
    for seed in range(a.ensemble_study):
        cfg = DeepFindConfig("mlp", fs, [], "", n_features=X.shape[1], hidden=entry["hidden"],
                             dropout=entry["dropout"], seed=seed)
        m, info = deepfind_train.train_mlp(X[tr], y[tr], X[va], y[va], cfg, weight_decay=entry["weight_decay"],
                                           batch_size=512, max_epochs=25, device=a.device)
        pv.append(m.predict_proba(X[va]))
        pt.append(m.predict_proba(X[te]))
        report(f"mlp seed {seed}", pv[-1], pt[-1], {"best_epoch": info["best_epoch"]})
        if seed + 1 in (3, 5, 10, 20) or seed + 1 == a.ensemble_study:
            report(f"mlp mean of {seed + 1} seeds", np.mean(pv, 0), np.mean(pt, 0))
    mv, mt = np.mean(pv, 0), np.mean(pt, 0)
    best = None
    for leaves, lr in ((31, 0.03), (15, 0.03), (63, 0.02)):
        cfg = DeepFindConfig("lightgbm", fs, [], "", n_features=X.shape[1])
        m, info = deepfind_train.train_lightgbm(X[tr], y[tr], X[va], y[va], cfg, num_boost_round=3000,
                                                learning_rate=lr, num_leaves=leaves, early_stopping=100)
        lv, lt = m.predict_proba(X[va]), m.predict_proba(X[te])
        r = report(f"lightgbm leaves {leaves} lr {lr}", lv, lt, {"best_iteration": info["best_iteration"]})
        if best is None or r["val"] > best[0]:
            best = (r["val"], lv, lt, leaves)
    _, lv, lt, leaves = best
    rank = lambda u: np.argsort(np.argsort(u)) / len(u)  # noqa: E731
    for w in (0.25, 0.5, 0.75):
        report(f"blend {w:.2f} mlp x{len(pv)} + {1 - w:.2f} lightgbm leaves {leaves} (ranks)",
               w * rank(mv) + (1 - w) * rank(lv), w * rank(mt) + (1 - w) * rank(lt))
        report(f"blend {w:.2f} mlp x{len(pv)} + {1 - w:.2f} lightgbm leaves {leaves} (probabilities)",
               w * mv + (1 - w) * lv, w * mt + (1 - w) * lt)


if __name__ == "__main__":
    raise SystemExit(main())
