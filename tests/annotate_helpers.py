"""Small builders shared by the annotate/io/variants/check tests: FASTA, VCF, model banks, db folders."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from varbind import params as P
from varbind.bank import ModelBank

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
HEADER = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"


def shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (the ../shared data folder beside the repository); not present here")
    return path


def need_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"needs the {name} command (make tools: apt packages bcftools tabix vcftools)")
    return path


def random_genome(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(list("ACGT"), size=n))


def write_fasta(path: Path, contigs: dict[str, str], width: int = 60) -> Path:
    with open(path, "w") as f:
        for name, seq in contigs.items():
            f.write(f">{name}\n")
            for i in range(0, len(seq), width):
                f.write(seq[i : i + width] + "\n")
    return path


def write_vcf(path: Path, rows: list[str], contigs: dict[str, int] | None = None, extra: list[str] = (),
              fileformat: str = "VCFv4.2") -> Path:
    lines = [f"##fileformat={fileformat}"]
    lines += [f"##contig=<ID={c},length={n}>" for c, n in (contigs or {}).items()]
    lines += list(extra) + [HEADER] + rows
    path.write_text("\n".join(lines) + "\n")
    return path


def tiny_params() -> tuple[list[str], list[P.DeepBindParams]]:
    """Four small models of different shapes (m, detectors, hidden layer, strands)."""
    ps = [P.random_params(num_detectors=4, detector_len=6, seed=1),
          P.random_params(num_detectors=3, detector_len=9, num_hidden=8, seed=2),
          P.random_params(num_detectors=4, detector_len=6, reverse_complement=False, has_avg_pooling=False, seed=3),
          P.random_params(num_detectors=2, detector_len=12, seed=4)]
    return ["M1", "M2", "M3", "M4"], ps


def tiny_bank() -> ModelBank:
    ids, ps = tiny_params()
    return ModelBank.from_params(ps, ids)


def write_db(folder: Path) -> Path:
    """The tiny models as a DeepBind db folder (db.tsv with ID and Protein, params/ID.txt)."""
    ids, ps = tiny_params()
    (folder / "params").mkdir(parents=True)
    rows = ["ID\tProtein\tType"] + [f"{i}\tTF{k}; x\tChIP-seq" for k, i in enumerate(ids)]
    (folder / "db.tsv").write_text("\n".join(rows) + "\n")
    for i, p in zip(ids, ps):
        P.write(p, folder / "params" / f"{i}.txt")
    return folder
