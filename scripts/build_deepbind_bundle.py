#!/usr/bin/env python
"""Build the shipped DeepBind bundles ``pretrained/deepbind/`` and ``pretrained/deepbind-minus/``.

    PYTHONPATH=. python scripts/build_deepbind_bundle.py [--shared ../shared]

``pretrained/deepbind/`` holds the 927 published DeepBind v0.1 models (Alipanahi et al. 2015; every
row of ``db.tsv`` that is not labelled ``deprecated``) as a varbind bundle (:mod:`varbind.panels.bundle`):
float32 weights in safetensors (the params files' numbers are float32 values written as decimals,
so nothing is lost), the catalogue (``db.tsv``'s Protein, Type, Species, Family, Class, Experiment,
Experiment Details and Cite columns plus each model's sha256 and quality), the null-distribution
quantiles of every model on the shipped null set (``pretrained/null_background.json``), the release's
BSD-3 ``LICENSE`` copied verbatim and a ``NOTICE`` saying what was changed. The raw params files are
not shipped.

``pretrained/deepbind-minus/`` holds the 244 RNAcompete (RBP) models read on the genome's minus
strand: each detector reverse-complemented (``<ID>_minus``). An RBP model reads RNA, one strand;
with it the ``rbp`` panel reports both strands of the genome as separate models (see docs/models.md).

It also gives ``pretrained/trained/`` (varbind's CNNs, the other part of the ``default`` panel) its
null table when it has none (``runs.json`` kept).

Quality (catalogue ``test_metric``/``test_value``/``quality_source``): the held-out metric of the
published model on the ../shared test sets, as measured by varbind's training benchmark
(``pretrained/trained/catalogue.tsv``: ``published_id``, ``published_value``; ENCODE ChIP-seq test
AUC, DREAM5 PBM Pearson r, HT-SELEX AUC), for the 30 models it covers; empty for the others.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from varbind import pretrained  # noqa: E402
from varbind.panels import bundle
from varbind.panels import deepbind_import
from varbind.panels import nulls as percentiles
from varbind.bank import ModelBank  # noqa: E402
from varbind.params import DeepBindParams  # noqa: E402

NOTICE = """\
This folder holds the published DeepBind models (DeepBind v0.1, Alipanahi B, Delong A, Weirauch MT,
Frey BJ. Predicting the sequence specificities of DNA- and RNA-binding proteins by deep learning.
Nature Biotechnology 33, 831-838 (2015); PMID 26213851), redistributed under the BSD 3-clause
licence of the DeepBind release (LICENSE, copied verbatim from the release's LICENSE.TXT).

Changes: the models' parameters (the release's db/params/<ID>.txt text files) were converted by
varbind's scripts/build_deepbind_bundle.py into one safetensors file of float32 tensors (the same
numbers: the text files hold float32 values), and the release's db/db.tsv rows were copied into
catalogue.tsv (deprecated rows, which have no parameters, dropped). {extra}Null-distribution
quantiles (null.npz) and the quality columns were added by varbind; they are not part of the release.
The models' authors do not endorse varbind.
"""
MINUS_EXTRA = ("In deepbind-minus, every detector of the 244 RNA-binding-protein models was "
               "reverse-complemented so that the model reads the genome's minus strand. ")


def minus_strand(p: DeepBindParams) -> DeepBindParams:
    """The model read on the other strand: each detector reverse-complemented (ACGT rows, so the
    complement is the reversed row order). Scoring a sequence with it equals scoring the sequence's
    reverse complement with ``p`` (global mode; max and mean pooling do not see the order)."""
    return DeepBindParams(reverse_complement=p.reverse_complement, has_avg_pooling=p.has_avg_pooling,
                          detectors=np.ascontiguousarray(p.detectors[:, ::-1, ::-1]), thresholds=p.thresholds,
                          weights1=p.weights1, biases1=p.biases1, weights2=p.weights2, biases2=p.biases2)


def quality(ids: list[str]) -> dict[str, tuple[str, str, str]]:
    """``{id: (metric, value, source)}`` for the published models the training benchmark evaluated."""
    import pandas as pd

    trained = pd.read_csv(REPO / "pretrained" / "trained" / bundle.CATALOGUE, sep="\t", dtype=str, keep_default_na=False)
    out = {}
    for _, r in trained.iterrows():
        if r["published_id"] in ids and r["published_value"]:
            out[r["published_id"]] = (r["test_metric"], r["published_value"],
                                      f"held-out {r['data_type']} test set of ../shared ({r['experiment']}), "
                                      "global mode, varbind training benchmark")
    return out


def write(out: Path, ids, params, cat, name: str, license_text: bytes, background: dict, extra: str = "") -> None:
    t = time.perf_counter()
    null = percentiles.null_table(ModelBank.from_params(params, ids), background)
    print(f"{name}: null quantiles of {len(ids)} models in {time.perf_counter() - t:.1f} s")
    tmp = out.with_name(f".{out.name}.build")
    shutil.rmtree(tmp, ignore_errors=True)
    bundle.write_bundle(tmp, ids, params, cat, name=name, version="0.1",
                        provenance={"source": deepbind_import.SOURCE, "built_by": "scripts/build_deepbind_bundle.py",
                                    "licence": "BSD-3-Clause (LICENSE, from the release's LICENSE.TXT)",
                                    "skipped_deprecated": True},
                        null=null)
    (tmp / "LICENSE").write_bytes(license_text)
    (tmp / "NOTICE").write_text(NOTICE.format(extra=extra))
    for f in ("LICENSE", "NOTICE"):
        os.chmod(tmp / f, 0o644)
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"wrote {out}: {len(ids)} models, {size / 1e6:.2f} MB")


def add_trained_null(path: Path, background: dict) -> None:
    """Give the trained-CNN bundle its null table (same null set), keeping its weights and runs.json."""
    b = bundle.read_bundle(path, allow_bare=True)
    if b.null is not None:
        print(f"{path}: has a null table already")
        return
    null = percentiles.null_table(ModelBank.from_params(b.params, b.ids), background)
    keep = {f.name: f.read_bytes() for f in path.iterdir() if f.name not in (bundle.MODELS, bundle.CATALOGUE,
                                                                              bundle.NULL, bundle.MANIFEST)}
    bundle.write_bundle(path, b.ids, b.params, b.catalogue.reset_index(drop=True), name=b.info.get("name", path.name),
                        version=b.info.get("version", "0.1.0"), provenance=b.info.get("provenance", {}), null=null)
    for name, data in keep.items():
        (path / name).write_bytes(data)
    print(f"{path}: null table of {len(b.ids)} models added")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--out", type=Path, default=REPO / "pretrained")
    args = ap.parse_args(argv)
    db = args.shared / "data" / "deepbind"
    if not (db / "db.tsv").is_file():
        sys.exit(f"need the DeepBind release folder {db} (db.tsv + params/)")
    ids, params, cat = deepbind_import._db_models(db)
    metrics = quality(ids)
    cat["test_metric"] = [metrics.get(i, ("", "", ""))[0] for i in ids]
    cat["test_value"] = [metrics.get(i, ("", "", ""))[1] for i in ids]
    cat["quality_source"] = [metrics.get(i, ("", "", ""))[2] for i in ids]
    rna = cat["molecule"] == "RNA"
    cat["strand"] = np.where(rna, "+", "both")
    background = json.loads((REPO / "pretrained" / "null_background.json").read_text())
    license_text = (db / "LICENSE.TXT").read_bytes()
    write(args.out / "deepbind", ids, params, cat, "deepbind", license_text, background)

    keep = [k for k, r in enumerate(rna.tolist()) if r]
    m_ids = [f"{ids[k]}_minus" for k in keep]
    m_cat = cat.iloc[keep].reset_index(drop=True).copy()
    m_cat["id"], m_cat["strand"], m_cat["published_id"] = m_ids, "-", [ids[k] for k in keep]
    write(args.out / "deepbind-minus", m_ids, [minus_strand(params[k]) for k in keep], m_cat, "deepbind-minus",
          license_text, background, MINUS_EXTRA)
    add_trained_null(args.out / "trained", background)
    _, written, _ = pretrained.load_catalogue(args.out / "deepbind")
    print(f"deepbind: {pretrained.count_tfs(written[written['type'] == 'TF'])} distinct TFs among "
          f"{int((written['type'] == 'TF').sum())} TF models")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
