#!/usr/bin/env python
"""Build the shipped JASPAR panel ``pretrained/jaspar/`` reproducibly (the ``default`` panel up to 2026-11).

    PYTHONPATH=. python scripts/build_panel.py [--shared ../shared] [--out pretrained/jaspar]

Contents: the JASPAR 2024 CORE vertebrate matrices (latest version of each, from the ``pyjaspar``
package) as log-odds PWM models (:mod:`varbind.panels.jaspar`), then every varbind-trained CNN found in
``pretrained/trained/`` (a bundle folder, or bundle folders inside it). Rerun after new models are
trained. The null-distribution quantiles (:mod:`varbind.panels.nulls`) use a dinucleotide model fitted
to the real sequence of ``../shared/data/genome/hg19_sparse.fa.gz``; the fitted counts are kept in
``pretrained/null_background.json`` (refit with ``--refit-background``) so every rebuild, with or
without ``../shared``, uses the same null set.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import gzip
import re
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from varbind import pretrained  # noqa: E402
from varbind.panels import bundle
from varbind.panels import jaspar
from varbind.panels import nulls as percentiles
from varbind.bank import ModelBank  # noqa: E402
from varbind.bases import GENOME_CODES  # noqa: E402

GENOME = "data/genome/hg19_sparse.fa.gz"
BACKGROUND_CACHE = REPO / "pretrained" / "null_background.json"


def genome_dinucleotides(path: Path) -> np.ndarray:
    """Dinucleotide counts (4, 4) over the non-N sequence of a gzipped FASTA (streamed)."""
    counts = np.zeros((4, 4), dtype=np.int64)
    real = re.compile(rb"[ACGTacgt]+")
    carry = b""
    with gzip.open(path, "rb") as f:  # reads bgzip's concatenated members too
        while True:
            block = f.read(1 << 26)
            if not block:
                break
            data = carry + block
            cut = data.rfind(b"\n") + 1
            data, carry = data[:cut], data[cut:]
            data = re.sub(rb">[^\n]*\n", b"N", data).replace(b"\n", b"")  # never join across contigs
            runs = b"N".join(real.findall(data))
            counts += percentiles.dinucleotide_counts(GENOME_CODES[np.frombuffer(runs, dtype=np.uint8)])
    return counts


def background(shared: Path, refit: bool) -> dict:
    genome = shared / GENOME
    if BACKGROUND_CACHE.is_file() and not refit:
        print(f"using the cached background {BACKGROUND_CACHE} (--refit-background to refit it)")
        return json.loads(BACKGROUND_CACHE.read_text())
    if genome.is_file():
        t = time.perf_counter()
        counts = genome_dinucleotides(genome)
        bg = {
            "kind": "first-order Markov (dinucleotide) sequences",
            "dinucleotide_counts": counts.tolist(),
            "fitted_on": "all non-N sequence of hg19_sparse.fa.gz (../shared/data/genome): the 51-bp hg19 "
            "windows around the 171,409 DeepFind derived promoter SNVs and 15 CAGI5 regulatory elements",
            "genome_sha256": bundle.file_sha256(genome),
        }
        BACKGROUND_CACHE.parent.mkdir(parents=True, exist_ok=True)
        BACKGROUND_CACHE.write_text(json.dumps(bg, indent=1) + "\n")
        print(f"fitted the dinucleotide background on {counts.sum():,} pairs in {time.perf_counter() - t:.1f} s")
        return bg
    if BACKGROUND_CACHE.is_file():
        print(f"{genome} absent: using the cached background {BACKGROUND_CACHE}")
        return json.loads(BACKGROUND_CACHE.read_text())
    sys.exit(f"need {genome} (or a cached {BACKGROUND_CACHE}) to define the null set")


def trained_bundles(root: Path) -> list[Path]:
    """Bundle folders (with or without bundle.json) at or one level under ``root``."""
    def ok(p: Path) -> bool:
        return (p / bundle.MODELS).is_file() and (p / bundle.CATALOGUE).is_file()

    if ok(root):
        return [root]
    return sorted(p for p in root.glob("*/") if ok(p)) if root.is_dir() else []


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--out", type=Path, default=REPO / "pretrained" / "jaspar")
    ap.add_argument("--trained", type=Path, default=REPO / "pretrained" / "trained")
    ap.add_argument("--refit-background", action="store_true",
                    help="refit the null set's dinucleotide model on the genome (default: use the cached fit)")
    args = ap.parse_args(argv)
    import pandas as pd

    t0 = time.perf_counter()
    matrices = jaspar.fetch_matrices()
    ids, params, cat = jaspar.jaspar_models(matrices)
    print(f"{len(ids)} {jaspar.SOURCE} matrices")
    cats = [cat]
    sources = [{"source": jaspar.SOURCE, "via": "pyjaspar", "n_models": len(ids),
                "pseudocount": "sqrt(N)/4 per base", "background": "uniform 0.25", "log": "log2"}]
    for b_path in trained_bundles(args.trained):
        b = bundle.read_bundle(b_path, allow_bare=True)
        bad = bundle.verify_models(b)
        if bad:
            sys.exit(f"{b_path}: sha256 of {len(bad)} models differs from its catalogue (first {bad[0]})")
        clash = set(b.ids) & set(ids)
        if clash:
            sys.exit(f"{b_path}: model ids already in the panel: {sorted(clash)[:3]}")
        tcat = b.catalogue.reset_index(drop=True).copy()
        tcat["model_type"] = "cnn"
        tcat["source"] = tcat["source"].where(tcat["source"] != "", "varbind-trained")
        ids, params = ids + b.ids, params + b.params
        cats.append(tcat)
        sources.append({"source": "varbind-trained", "bundle": b_path.name, "n_models": len(b.ids),
                        "models_sha256": bundle.file_sha256(b_path / bundle.MODELS), "provenance": b.info.get("provenance")})
        print(f"{len(b.ids)} trained models from {b_path}")
    cat = pd.concat(cats, ignore_index=True).fillna("")
    bank = ModelBank.from_params(params, ids)
    t = time.perf_counter()
    null = percentiles.null_table(bank, background(args.shared, args.refit_background))
    print(f"null quantiles of {len(ids)} models in {time.perf_counter() - t:.1f} s")
    import pyjaspar

    bundle.write_bundle(
        args.out, ids, params, cat, name="jaspar", version="2024.1",
        provenance={"built_by": "scripts/build_panel.py", "pyjaspar": pyjaspar.__version__,
                    "release": jaspar.RELEASE, "parts": sources},
        null=null,
    )
    _, written, _ = pretrained.load_catalogue(args.out)
    size = sum(f.stat().st_size for f in args.out.iterdir())
    print(f"wrote {args.out}: {len(written)} models, {pretrained.count_tfs(written)} distinct TFs, "
          f"{size / 1e6:.1f} MB, in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
