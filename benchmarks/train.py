"""Train the 31 shared data sets and print the figures (time, held-out metric vs published DeepBind).

Two steps, because the GPU machine has no numba (``varbind.predict``'s CPU kernels) and no ../shared:

``python benchmarks/train.py train --data DIR --out DIR``
    Calibrate (30 settings x 3 folds, one batched model) and final-fit every data set; writes a
    bundle (``models.safetensors`` + ``catalogue.tsv``) and ``runs.json`` (one run report per set,
    with the timings). Run it on the GPU.
``python benchmarks/train.py evaluate --bundle DIR --data ../shared/data --out pretrained/trained``
    Scores every held-out set with :func:`varbind.predict.score` (global mode) for the trained model
    and the published DeepBind model of the same experiment (``db.tsv``), fills the catalogue's test
    columns and prints the table (markdown).
"""
from __future__ import annotations

import argparse
import dataclasses
import ast
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from varbind.train import calibrate, datasets, export, report  # noqa: E402

SPECIES = {"chip": "Homo sapiens", "pbm": "Mus musculus", "selex": "Homo sapiens"}


def model_id(kind: str, tf: str) -> str:
    return f"vbt_{kind}_{tf}"


def _train_one(kind: str, experiment: str, args: argparse.Namespace) -> tuple[str, object, dict, dict]:
    """Train one data set; returns (model id, params, catalogue row, run report)."""
    import torch

    loader = {e: fn for _, e, fn in datasets.shared_tasks(args.data)}[experiment]
    t0 = time.perf_counter()
    task = loader()
    t_read = time.perf_counter() - t0
    space = calibrate.KIND_SPACES[kind]
    if args.space:
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(args.space).items()}
        space = dataclasses.replace(space, **fields)
    opts = calibrate.options_for(kind, num_settings=args.settings, max_steps=args.max_steps, space=space,
                                 device=args.device, progress=sys.stderr.isatty())
    result = calibrate.train(task.train, task.kind, opts)
    mid = model_id(kind, task.tf)
    row = {"id": mid, "tf": task.tf, "species": SPECIES[kind], "source": task.source,
           "experiment": task.experiment, "kind": kind}
    rep = report.run_report(experiment, task.kind, result, extra={
        "id": mid, "read_seconds": round(t_read, 3), "n_train": int(len(task.train.targets)),
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"})
    print(f"{kind}\t{experiment}\tval={rep['best_validation']:.4f}\tcal={result.seconds['calibration']:.1f}s"
          f"\tfinal={result.seconds['final_fit']:.1f}s\tread={t_read:.1f}s\tsteps={result.final_steps}", flush=True)
    return mid, result.params, row, rep


def _train_star(job: tuple) -> tuple:
    return _train_one(*job)


def cmd_train(args: argparse.Namespace) -> int:
    tasks = [(k, e) for k, e, _ in datasets.shared_tasks(args.data)
             if (not args.only or any(o in e for o in args.only)) and (not args.kinds or k in args.kinds)]
    t_all = time.perf_counter()
    done = []

    def save(item) -> None:  # after every data set, so a run cut short keeps what it finished
        done.append(item)
        export.write_bundle(args.out, {mid: p for mid, p, _, _ in done}, [row for _, _, row, _ in done])
        Path(args.out, "runs.json").write_text(json.dumps([rep for _, _, _, rep in done]))

    if args.workers > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(args.workers) as pool:
            for item in pool.imap_unordered(_train_star, [(k, e, args) for k, e in tasks]):
                save(item)
    else:
        for k, e in tasks:
            save(_train_one(k, e, args))
    print(f"total\t{time.perf_counter() - t_all:.1f}s for {len(tasks)} data sets ({args.workers} workers)", flush=True)
    return 0


def _published(db_dir: Path) -> dict[str, str]:
    """Experiment file stem -> published DeepBind model ID (non-deprecated rows with a params file)."""
    out = {}
    for line in (db_dir / "db.tsv").read_text().splitlines():
        f = line.split("\t")
        if line.startswith("#") or len(f) < 12 or f[0] == "ID" or "deprecated" in f[10]:
            continue
        if not (db_dir / "params" / f"{f[0]}.txt").exists():
            continue
        if f[6] == "ChIP-seq":
            out[f[11].rsplit("/", 1)[-1]] = f[0]
        elif f[6] == "PBM" and "Array=HK" in f[7]:
            out.setdefault(f"pbm:{f[1].upper()}", f[0])
        elif f[6] == "SELEX" and f[3] == "Homo sapiens":
            out.setdefault(f"selex:{f[1].upper()}", f[0])
    return out


def _families(db_dir: Path) -> dict[str, str]:
    fam = {}
    for line in (db_dir / "db.tsv").read_text().splitlines():
        f = line.split("\t")
        if len(f) > 4 and not line.startswith("#") and f[4]:
            fam.setdefault(f[1].upper(), f[4])
    return fam


#: held-out AUC of the published models on the _B sets, measured with the original executable (issue 4)
EXECUTABLE_AUC = {"ARID3A": .870, "CTCFL": .984, "ELK1": .953, "FOXA1": .977, "GABPA": .974, "MYC": .914,
                  "REST": .999, "SP1": .877, "USF1": .994, "ZBTB7A": .859}


def cmd_evaluate(args: argparse.Namespace) -> int:
    from varbind.params import read as read_params
    from varbind.train.evaluate import heldout_metrics, heldout_scores, primary_metric

    models, rows = export.read_bundle(args.bundle)
    runs = {r["id"]: r for r in json.loads(Path(args.bundle, "runs.json").read_text())}
    db = Path(args.data) / "deepbind"
    published, families = _published(db), _families(db)
    loaders = {e: (k, fn) for k, e, fn in datasets.shared_tasks(args.data)}
    nan = float("nan")
    out_rows, table = [], []
    for row in rows:
        kind, loader = loaders[row["experiment"]]
        task = loader()
        pub_id = published.get(task.experiment) or published.get(f"{kind}:{task.tf.upper()}")
        params = [models[row["id"]]] + ([read_params(db / "params" / f"{pub_id}.txt")] if pub_id else [])
        metric = primary_metric(task)
        got = {}
        for mode in ("global", "deepbind"):
            scores = heldout_scores(task, params, mode=mode)
            got[mode] = (heldout_metrics(task, scores[:, 0]), heldout_metrics(task, scores[:, 1]) if pub_id else {})
        ours, theirs = got["global"]
        run = runs[row["id"]]
        keep = {k: row[k] for k in ("id", "tf", "species", "source", "experiment", "kind")}
        keep.update(family=families.get(task.tf.upper(), ""), test_metric=metric, test_value=ours[metric],
                    test_mode="global", published_id=pub_id or "", published_value=theirs.get(metric, nan),
                    test_value_deepbind=got["deepbind"][0][metric],
                    published_value_deepbind=got["deepbind"][1].get(metric, nan),
                    **{f"test_{k}": v for k, v in ours.items() if k != metric},
                    n_train=run["n_train"], calibration_seconds=run["seconds"]["calibration"],
                    final_fit_seconds=run["seconds"]["final_fit"], final_steps=run["final_steps"],
                    best_validation=run["best_validation"],
                    chosen_setting=json.dumps(run["chosen"], separators=(",", ":")))
        out_rows.append(keep)
        run["test"], run["published"] = ours, {"id": pub_id, **theirs}
        run["test_deepbind_mode"], run["published_deepbind_mode"] = got["deepbind"]
        table.append((kind, task.experiment, metric, ours[metric], theirs.get(metric, nan),
                      got["deepbind"][0][metric], got["deepbind"][1].get(metric, nan),
                      EXECUTABLE_AUC.get(task.tf, nan) if kind == "chip" else nan,
                      run["seconds"]["calibration"] + run["seconds"]["final_fit"]))
    export.write_bundle(args.out, models, out_rows, name="trained",
                        provenance={"trained_by": "varbind.train (benchmarks/train.py)",
                                    "data": "../shared/data: ENCODE ChIP-seq, DREAM5 PBM, HT-SELEX ALX4"})
    Path(args.out, "runs.json").write_text(json.dumps(list(runs.values()), indent=0))
    print("| kind | experiment | metric | varbind (global) | published (global) | varbind (deepbind mode) "
          "| published (deepbind mode) | published, executable (issue) | train s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for k, e, m, *vals, secs in table:
        print(f"| {k} | {e} | {m} | " + " | ".join(f"{v:.4f}" if v == v else "" for v in vals) + f" | {secs:.1f} |")
    for kind in ("chip", "pbm", "selex"):
        sel = [t[3:8] for t in table if t[0] == kind]
        if sel:
            arr = np.array(sel, dtype=float)
            means = [col[col == col].mean() if (col == col).any() else nan for col in arr.T]
            print(f"| {kind} | mean of {len(sel)} | | " + " | ".join(f"{v:.4f}" if v == v else "" for v in means) + " | |")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--data", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--only", nargs="*", help="experiments whose name holds one of these strings")
    t.add_argument("--kinds", nargs="*", choices=("chip", "pbm", "selex"))
    t.add_argument("--settings", type=int, default=30)
    t.add_argument("--max-steps", type=int, default=4000)
    t.add_argument("--device", default=None)
    t.add_argument("--workers", type=int, default=1, help="data sets trained at once (processes sharing the GPU)")
    t.add_argument("--space", default=None, help="JSON overriding SearchSpace fields, e.g. '{\"learning_rate\": [0.01, 1]}'")
    t.set_defaults(func=cmd_train)
    e = sub.add_parser("evaluate")
    e.add_argument("--bundle", required=True)
    e.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    e.add_argument("--out", default="pretrained/trained")
    e.add_argument("--mode", default="global", choices=("global", "deepbind"))
    e.set_defaults(func=cmd_evaluate)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
