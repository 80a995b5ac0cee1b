"""``varbind train chip|pbm|selex|table``: calibrate and train a DeepBind model, write a bundle and a report.

Output folder: ``models.safetensors`` + ``catalogue.tsv`` (a varbind bundle of one model),
``<id>.txt`` (DeepBind v0.1 parameters), ``report.json``, ``report.html`` and ``validation.png``.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..errors import InputFormatError
from ..train import calibrate, checks, datasets, export, report
from ..train.evaluate import primary_metric, heldout_metrics, heldout_scores
from . import common

log = logging.getLogger("varbind")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a DeepBind model with automatic calibration",
                       description="Calibrate (random search x k-fold CV, all in one batched model) and "
                       "train a DeepBind model; write a bundle, a v0.1 params file and a report.")
    kinds = p.add_subparsers(dest="kind", metavar="KIND")
    kinds.required = True
    chip = kinds.add_parser("chip", help="ENCODE ChIP-seq (*_AC.seq.gz, optional *_B.seq.gz test)")
    chip.add_argument("train_file")
    chip.add_argument("test_file", nargs="?")
    pbm = kinds.add_parser("pbm", help="DREAM5 PBM: train array (<TF>_HK.txt.gz), optional test array")
    pbm.add_argument("train_file")
    pbm.add_argument("test_file", nargs="?")
    selex = kinds.add_parser("selex", help="HT-SELEX: early-cycle reads vs late-cycle reads")
    selex.add_argument("early_file")
    selex.add_argument("late_file")
    table = kinds.add_parser("table", help="your own data: TSV 'sequence<TAB>target', or positives only "
                             "(one per line / FASTA; dinucleotide-shuffled negatives are added)")
    table.add_argument("train_file")
    table.add_argument("test_file", nargs="?")
    for q in (chip, pbm, selex, table):
        q.add_argument("--out", required=True, metavar="DIR", help="output folder")
        q.add_argument("--id", default=None, help="model ID (default: my_<kind>_<TF>, numbered when an installed model has that ID)")
        q.add_argument("--settings", type=int, default=30, help="calibration settings (default 30)")
        q.add_argument("--folds", type=int, default=3, help="cross-validation folds (default 3)")
        q.add_argument("--max-steps", type=int, default=4000, help="most training steps (default 4000)")
        q.add_argument("--min-steps", type=int, default=1000, help="fewest training steps (default 1000)")
        q.add_argument("--batch-size", type=int, default=256)
        q.add_argument("--eval-examples", type=int, default=12000,
                       help="training examples scored at each validation checkpoint (default 12000)")
        q.add_argument("--detectors", type=int, default=16, help="detectors per model (default 16)")
        q.add_argument("--detector-lens", type=int, action=common.CommaList, default=None, metavar="M,...",
                       help="detector lengths to search, comma-separated (default depends on KIND)")
        q.add_argument("--seed", type=int, default=0)
        q.add_argument("--device", default=None, help="auto (default: the GPU when torch sees one, else the CPU), cpu, cuda or cuda:N")
        q.add_argument("--quiet", action="store_true",
                       help="no progress (a bar on a terminal, else a log line every 30 s)")
        q.set_defaults(func=run)


def _load(args: argparse.Namespace) -> datasets.Task:
    if args.kind == "chip":
        return datasets.read_chip(args.train_file, args.test_file, seed=args.seed)
    if args.kind == "pbm":
        return datasets.read_pbm(args.train_file, args.test_file)
    if args.kind == "selex":
        return datasets.read_selex(args.early_file, args.late_file, seed=args.seed)
    return datasets.read_table(args.train_file, args.test_file, seed=args.seed)


def _check_out(out: Path, mid: str | None) -> None:
    """The bundle writer replaces ``out`` as a whole: refuse a folder holding anything but our outputs."""
    ours = {"models.safetensors", "catalogue.tsv", "bundle.json", "report.json", "report.html", "validation.png"}
    if out.exists():
        if not out.is_dir():
            raise InputFormatError(f"--out {out}: exists and is not a folder")
        other = [p.name for p in out.iterdir() if p.name not in ours and not (p.suffix == ".txt" and
                                                                                (mid is None or p.stem == mid))]
        if other:
            raise InputFormatError(f"--out {out}: holds other files ({other[0]}, ...); give a new or empty folder")


def run(args: argparse.Namespace) -> int:
    _check_out(Path(args.out), args.id)
    task = _load(args)
    kind = "user" if args.kind == "table" else args.kind
    space = calibrate.KIND_SPACES[kind]
    if args.detector_lens:
        space = calibrate.SearchSpace(**{**space.__dict__, "detector_lens": tuple(args.detector_lens)})
    opts = calibrate.options_for(kind, num_settings=args.settings, num_folds=args.folds,
                                 max_steps=args.max_steps, min_steps=args.min_steps, batch_size=args.batch_size,
                                 eval_examples=args.eval_examples,
                                 num_detectors=args.detectors, seed=args.seed, device=common.device(args),
                                 space=space, progress=not args.quiet)
    log.info("%s: %d training examples, %d settings x %d folds", task.experiment, len(task.train.targets),
             opts.num_settings, opts.num_folds)
    result = calibrate.train(task.train, task.kind, opts)
    params = export.as_float32(result.params)  # what the bundle stores, so both exports agree exactly
    taken = checks.installed_ids()
    mid = args.id or checks.default_model_id(kind, task.tf, taken)
    if args.id:
        checks.warn_if_taken(mid, taken)
    row = {"id": mid, "tf": task.tf, "source": task.source, "experiment": task.experiment}
    cal = result.calibration
    warnings = checks.chance_warnings("auc" if task.kind == "binary" else "pearson",
                                      float(cal.curves.mean(1)[cal.best, cal.best_checkpoint]), "best validation")
    test = {}
    if task.test is not None:
        test = heldout_metrics(task, heldout_scores(task, [params])[:, 0])
        metric = primary_metric(task)
        row.update(test_metric=metric, test_value=test[metric])
        log.info("held-out %s = %.4f", metric, test[metric])
        warnings += checks.chance_warnings(metric, test[metric], "held-out")
    for w in warnings:
        log.warning("%s", w)
    export.write_bundle(args.out, {mid: params}, [row])
    export.export_params(args.out, {mid: params})
    report.write_report(args.out, report.run_report(task.experiment, task.kind, result, test,
                                                    {"id": mid, "warnings": warnings}))
    log.info("wrote %s (model %s, validation %.4f)", args.out, mid,
             float(result.calibration.curves.mean(1)[result.calibration.best, result.calibration.best_checkpoint]))
    return 0
