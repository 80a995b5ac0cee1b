"""``varbind deepfind``: train the DeepFind classifier on a panel, or score SNVs with a trained one.

``train`` reads the CADD-framework promoter SNVs (derived = 0, simulated = 1), computes the panel's
features, trains the MLP and the LightGBM baseline on scores only and on scores + TSS distance +
transversion (split by chromosome), and writes the full-feature models and ``metrics.json``.
``score`` reads SNVs (avinput: ``chrom start end ref alt ...``) and prints a TSV with the probability.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from .. import _fs, deepfind
from ..deepfind import data as deepfind_data
from ..panels.bundle import models_sha256, panel_weights_sha256
from ..deepfind.data import CENTER
from ..errors import InputFormatError
from ..sequence import CodeBatch, encode
from . import common

log = logging.getLogger("varbind")

#: the MLP shapes --mlp-grid tries (selected on validation AUC, chr7)
MLP_GRID = [
    {"hidden": [256, 64], "dropout": 0.3, "weight_decay": 1e-4},
    {"hidden": [512, 128], "dropout": 0.5, "weight_decay": 1e-4},
    {"hidden": [128], "dropout": 0.5, "weight_decay": 1e-3},
]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("deepfind", help="DeepFind deleterious-SNV classifier: train or score",
                       description="Train the DeepFind classifier on a panel's scores, or score SNVs with it.")
    cmds = p.add_subparsers(dest="deepfind_command", metavar="{train,score}")
    cmds.required = True

    t = cmds.add_parser("train", help="train DeepFind (MLP + LightGBM) on the CADD promoter SNVs")
    common.add_model_args(t)
    t.add_argument("--panel-name", help="name recorded in the model (default: the --models source's name)")
    src = t.add_argument_group("data (either --data/--genome/--tss, or --dataset)")
    src.add_argument("--data", metavar="DIR", help="folder with derived.avinput.gz and simulated.avinput.gz")
    src.add_argument("--genome", metavar="FASTA", help="indexed hg19 FASTA (bgzip ok), e.g. hg19_sparse.fa.gz")
    src.add_argument("--tss", metavar="TSV", help="TSS table (chrom, tss_1based, ...)")
    src.add_argument("--dataset", metavar="NPZ", help="a dataset saved by --save-dataset (no FASTA needed)")
    t.add_argument("--save-dataset", metavar="NPZ", help="also write the prepared dataset here")
    t.add_argument("--classifiers", action=common.CommaList, choices=deepfind.KINDS, default=list(deepfind.KINDS),
                   metavar="K,...", help=f"comma-separated, of {', '.join(deepfind.KINDS)} (default: all)")
    t.add_argument("--feature-sets", action=common.CommaList, choices=deepfind.FEATURE_SETS,
                   default=list(deepfind.FEATURE_SETS), metavar="S,...",
                   help=f"comma-separated, of {', '.join(deepfind.FEATURE_SETS)} (default: all)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--max-epochs", type=int, default=40, help="MLP epochs at most (early stopping on chr7)")
    t.add_argument("--batch-size", type=int, default=256, help="MLP minibatch size (default: 256)")
    t.add_argument("--mlp-grid", action="store_true",
                   help="train a few MLP shapes (MLP_GRID) and keep the best on validation (chr7)")
    t.add_argument("--mlp-ensemble", type=int, default=1, metavar="K",
                   help="train the chosen MLP with K seeds and merge them into one MLP that averages their "
                        "logits (default 1: a single MLP)")
    t.add_argument("--lgb-rounds", type=int, default=400, help="LightGBM rounds at most (early stopping on chr7)")
    t.add_argument("--out", required=True, metavar="DIR",
                   help="writes DIR/<classifier>/ (the scores+tss+tv models) and DIR/metrics.json")
    common.add_device_args(t)
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=run_train)

    s = cmds.add_parser("score", help="probability that each SNV is deleterious")
    s.add_argument("--model", required=True, metavar="DIR", help="a DeepFind model folder")
    common.add_model_args(s, default=None)
    s.add_argument("--genome", required=True, metavar="FASTA")
    s.add_argument("--tss", required=True, metavar="TSV")
    s.add_argument("-o", "--output", default="-", metavar="TSV", help="output (default: stdout)")
    common.add_device_args(s)
    s.add_argument("--quiet", action="store_true")
    s.add_argument("variants", metavar="AVINPUT", help="SNVs: chrom start end ref alt ... (gzip ok)")
    s.set_defaults(func=run_score)


def _dataset(args: argparse.Namespace) -> deepfind_data.DeepFindData:
    if args.dataset:
        return deepfind_data.load_dataset_npz(args.dataset)
    if not (args.data and args.genome and args.tss):
        raise InputFormatError("give --dataset NPZ, or all of --data DIR, --genome FASTA and --tss TSV")
    data = Path(args.data)
    return deepfind_data.load_dataset(data / "derived.avinput.gz", data / "simulated.avinput.gz", args.genome, args.tss)


def run_train(args: argparse.Namespace) -> int:
    from ..deepfind import train as deepfind_train

    bank = common.load_bank(args)
    data = _dataset(args)
    if args.save_dataset:
        deepfind_data.save_dataset(data, args.save_dataset)
    log.info("%d variants (%s), %d models", len(data.variants), json.dumps(data.counts), len(bank))
    t0 = time.time()
    feats = deepfind.panel_features(bank, data.windows, data.alt_codes, device=common.device(args),
                                    progress=sys.stderr.isatty() and not args.quiet)
    seconds = time.time() - t0
    log.info("panel features: %.1f s for %d windows x 2 x %d models", seconds, len(data.windows), len(bank))
    panel = args.panel_name or Path(str(args.models)).name
    metrics, models = deepfind_train.run_training(
        data, feats.ref, feats.alt, model_ids=list(bank.ids), panel_sha256=models_sha256(bank.ids, bank.params), panel=panel,
        weights_sha256=panel_weights_sha256(bank.ids, bank.params),
        classifiers=tuple(args.classifiers), feature_sets=tuple(args.feature_sets), seed=args.seed, device=common.device(args),
        mlp_options={"max_epochs": args.max_epochs, "batch_size": args.batch_size, "grid": MLP_GRID if args.mlp_grid else None,
                     "ensemble": args.mlp_ensemble}, lightgbm_options={"num_boost_round": args.lgb_rounds}, log=log.info)
    metrics["panel_features"] = {"seconds": round(seconds, 1), "device": common.device(args),
                                 "windows": len(data.windows), "models": len(bank)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for (kind, feature_set), model in models.items():
        deepfind.save(model, out / deepfind.model_folder(kind, feature_set))
    _write_examples(out / "examples.tsv", data, feats, models, args.seed)
    _fs.write_text(out / "metrics.json", json.dumps(metrics, indent=1) + "\n")
    print(deepfind_train.results_table(metrics))
    return 0


def _write_examples(path: Path, data, feats, models: dict, seed: int, n: int = 12) -> None:
    """Probabilities of a few held-out variants (``n`` of each class), to check a loaded model against."""
    v = data.variants
    rng = np.random.default_rng(seed)
    rows = []
    for label in (0, 1):
        idx = np.flatnonzero((v["split"].to_numpy() == "test") & (v["label"].to_numpy() == label))
        rows += sorted(rng.choice(idx, size=min(n, len(idx)), replace=False).tolist())
    table = v.iloc[rows][["chrom", "pos", "ref", "alt", "label"]].reset_index(drop=True)
    table["tss_distance"], table["transversion"] = data.tss_distance[rows], data.transversion[rows].astype(int)
    for (kind, feature_set), model in models.items():
        p = deepfind.score(model, feats.ref[rows], feats.alt[rows], data.tss_distance[rows], data.transversion[rows])
        table[f"{kind}:{feature_set}"] = np.round(p, 6)
    with _fs.atomic_open(path) as f:
        table.to_csv(f, sep="\t", index=False)


def run_score(args: argparse.Namespace) -> int:
    model = deepfind.load(args.model)
    if args.models is None:
        args.models = model.config.panel
    model.attach(common.load_bank(args))
    table = deepfind_data.read_avinput(args.variants, strict=False)
    windows = deepfind_data.fetch_windows(args.genome, table["chrom"].tolist(), table["pos"].tolist(), model.config.window)
    ref_codes = np.array([encode(r)[0] for r in table["ref"]], np.uint8)
    ok = windows[:, CENTER] == ref_codes
    skipped = {"not_snv": table.attrs.get("skipped_not_snv", 0), "ref_mismatch_or_no_contig": int((~ok).sum())}
    table, windows = table[ok].reset_index(drop=True), windows[ok]
    alt = windows.copy()
    alt[:, CENTER] = [encode(a)[0] for a in table["alt"]]
    lengths = np.full(len(table), windows.shape[1], np.int64)
    dist = deepfind_data.tss_distance(table["chrom"].tolist(), table["pos"].to_numpy(), deepfind_data.read_tss(args.tss))
    tv = deepfind_data.transversion(table["ref"].tolist(), table["alt"].tolist())
    prob = model.predict_variants(CodeBatch(windows, lengths), CodeBatch(alt, lengths),
                                  dist, tv, device=common.device(args)) if len(table) else np.zeros(0)
    table["tss_distance"], table["transversion"], table["deepfind"] = dist, tv.astype(int), np.round(prob, 6)
    if args.output == "-":
        table.to_csv(sys.stdout, sep="\t", index=False)
    else:
        with _fs.atomic_open(args.output) as f:
            table.to_csv(f, sep="\t", index=False)
    for reason, n in skipped.items():
        if n:
            log.warning("skipped %d variants: %s", n, reason.replace("_", " "))
    return 0
