"""Training data: ENCODE ChIP-seq, DREAM5 PBM, HT-SELEX, and a simple user format.

Every reader returns a :class:`Task`: a training :class:`Examples` set, an optional held-out one and
what kind of learning it is (``"binary"``: labels 0/1, AUC; ``"regression"``: real targets, Pearson).

User format (``read_table``)
----------------------------
* TSV, one example per line: ``sequence<TAB>target`` (a first line whose second field is not a
  number is a header; ``#`` lines are comments). Targets that are all 0/1 make a binary task,
  anything else a regression.
* One sequence per line, or FASTA: positives only; each gets a dinucleotide-shuffled negative
  (exact dinucleotide counts, :func:`varbind.sequence.dinucleotide_shuffle`), as for ChIP-seq.
"""
from __future__ import annotations

import gzip
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import InputFormatError
from ..sequence import dinucleotide_shuffle, encode, encode_batch, read_sequences, reverse_complement_codes


class Examples(NamedTuple):
    """Sequences and targets: ``codes`` (N, L) uint8 right-padded with N, ``lengths`` (N,),
    ``rev_codes`` (N, L) the reverse complements (also left-aligned), ``targets`` (N,) float32."""

    codes: np.ndarray
    lengths: np.ndarray
    rev_codes: np.ndarray
    targets: np.ndarray


@dataclass
class Task:
    """A data set to train on: ``kind`` is ``"binary"`` or ``"regression"``; ``test`` may be None.

    ``experiment`` is the data set's file stem (e.g. ``SP1_GM12878_SP1_HudsonAlpha``); ``test_raw`` holds
    untransformed held-out values where the metric needs them (PBM intensities).
    """

    experiment: str
    tf: str
    source: str
    kind: str
    train: Examples
    test: Examples | None = None
    test_raw: np.ndarray | None = None
    meta: dict = field(default_factory=dict)


def make_examples(seqs: list[str] | list[np.ndarray], targets: np.ndarray) -> Examples:
    """Encode sequences (strings or code arrays) with their targets.

    Examples
    --------
    >>> ex = make_examples(["ACGG", "TTA"], np.array([1, 0]))
    >>> ex.codes.tolist(), ex.rev_codes.tolist(), ex.lengths.tolist()
    ([[0, 1, 2, 2], [3, 3, 0, 4]], [[1, 1, 2, 3], [3, 0, 0, 4]], [4, 3])
    """
    batch = encode_batch(seqs)
    rev = np.full_like(batch.codes, 4)
    for i, n in enumerate(batch.lengths):
        rev[i, :n] = reverse_complement_codes(batch.codes[i, :n])
    return Examples(batch.codes, batch.lengths, rev, np.asarray(targets, dtype=np.float32))


def concat(a: Examples, b: Examples) -> Examples:
    """Two example sets as one (padded to the longer width)."""
    width = max(a.codes.shape[1], b.codes.shape[1])
    pad = lambda c: np.pad(c, ((0, 0), (0, width - c.shape[1])), constant_values=4)  # noqa: E731
    return Examples(np.concatenate([pad(a.codes), pad(b.codes)]), np.concatenate([a.lengths, b.lengths]),
                    np.concatenate([pad(a.rev_codes), pad(b.rev_codes)]), np.concatenate([a.targets, b.targets]))


def with_shuffled_negatives(positives: list[str], rng: np.random.Generator) -> Examples:
    """Positives (label 1) plus one dinucleotide-shuffled copy of each (label 0)."""
    negatives = [dinucleotide_shuffle(s.upper().replace("U", "T"), rng) for s in positives]
    return make_examples(positives + negatives, np.r_[np.ones(len(positives)), np.zeros(len(negatives))])


def _open(path: str | os.PathLike):
    path = Path(path)
    return gzip.open(path, "rt") if path.suffix == ".gz" else open(path)


def _stem(path: str | os.PathLike, suffix_re: str) -> str:
    return re.sub(suffix_re, "", Path(path).name)


def _read_encode_table(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    seqs, bound = [], []
    with _open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        if header[:4] != ["FoldID", "EventID", "seq", "Bound"]:
            raise InputFormatError(f"{path}: not an ENCODE DeepBind table (header {header[:4]})")
        for number, line in enumerate(f, start=2):
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 4 or parts[3] not in ("0", "1"):
                raise InputFormatError(f"{path}: line {number}: expected FoldID, EventID, seq, Bound 0/1")
            seqs.append(parts[2])
            bound.append(int(parts[3]))
    return seqs, np.array(bound, dtype=np.float32)


def read_chip(train_path: str | os.PathLike, test_path: str | os.PathLike | None = None,
              seed: int = 0) -> Task:
    """ENCODE ChIP-seq in DeepBind's format (``*_AC.seq.gz`` train, ``*_B.seq.gz`` test).

    Columns ``FoldID EventID seq Bound``. Training positives are the peaks (rows with ``Bound = 1``);
    negatives are their dinucleotide shuffles (one each, seeded). The test set is used as given.
    """
    seqs, bound = _read_encode_table(train_path)
    positives = [s for s, b in zip(seqs, bound) if b == 1]
    if not positives:
        raise InputFormatError(f"{train_path}: no bound sequences")
    task = Task(_stem(train_path, r"_AC\.seq(\.gz)?$|\.seq(\.gz)?$"), Path(train_path).name.split("_")[0],
                "ENCODE ChIP-seq", "binary", with_shuffled_negatives(positives, np.random.default_rng(seed)))
    if test_path is not None:
        tseqs, tbound = _read_encode_table(test_path)
        task.test = make_examples(tseqs, tbound)
    return task


def _read_pbm(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    seqs, signal = [], []
    with _open(path) as f:
        for number, line in enumerate(f, start=1):
            parts = line.split()
            if not parts:
                continue
            try:
                seqs.append(parts[0])
                signal.append(float(parts[1]))
            except (IndexError, ValueError):
                raise InputFormatError(f"{path}: line {number}: expected 'probe signal [background]'") from None
    return seqs, np.array(signal, dtype=np.float64)


def pbm_transform(signal: np.ndarray) -> np.ndarray:
    """The regression target of a PBM probe: the intensity, standardised (float32).

    Raw, not log: DREAM5 scores Pearson on raw intensities, which rewards fitting the bright probes
    (training on ``log`` intensities gave ~0.09 lower held-out Pearson on Cebpb and Egr2).

    Examples
    --------
    >>> np.round(pbm_transform(np.array([1.0, 2.0, 3.0])).astype(float), 3).tolist()
    [-1.225, 0.0, 1.225]
    """
    y = np.asarray(signal, dtype=np.float64)
    return ((y - y.mean()) / (y.std() or 1.0)).astype(np.float32)


def read_pbm(train_path: str | os.PathLike, test_path: str | os.PathLike | None = None) -> Task:
    """DREAM5 PBM ``<TF>_HK.txt.gz`` (train) and ``<TF>_ME.txt.gz`` (test): ``probe signal background``.

    Targets are :func:`pbm_transform` of the signal (for training and validation); the raw test signal is kept in ``test_raw``.
    """
    seqs, signal = _read_pbm(train_path)
    task = Task(_stem(train_path, r"\.txt(\.gz)?$"), Path(train_path).name.split("_")[0], "DREAM5 PBM",
                "regression", make_examples(seqs, pbm_transform(signal)))
    if test_path is not None:
        tseqs, tsignal = _read_pbm(test_path)
        task.test, task.test_raw = make_examples(tseqs, pbm_transform(tsignal)), tsignal
    return task


def _read_lines(path: str | os.PathLike) -> list[str]:
    with _open(path) as f:
        return [r.seq for r in read_sequences(f)]


def read_selex(early_path: str | os.PathLike, late_path: str | os.PathLike, test_fraction: float = 0.2,
               seed: int = 0) -> Task:
    """HT-SELEX: reads of a late cycle (label 1) against an early cycle (label 0).

    Files hold one read per line (or FASTA). A seeded random ``test_fraction`` of each is held out.
    """
    early, late = _read_lines(early_path), _read_lines(late_path)
    rng = np.random.default_rng(seed)
    seqs = np.array(late + early, dtype=object)
    y = np.r_[np.ones(len(late)), np.zeros(len(early))]
    order = rng.permutation(len(seqs))
    n_test = int(round(test_fraction * len(seqs)))
    test, train = order[:n_test], order[n_test:]
    stem = _stem(late_path, r"\.(fastq|fq|txt|seq)(\.gz)?$")
    return Task(re.sub(r"_\d+$", "", stem), Path(late_path).name.split("_")[0], "HT-SELEX", "binary",
                make_examples(list(seqs[train]), y[train]), make_examples(list(seqs[test]), y[test]),
                meta={"early": Path(early_path).name, "late": Path(late_path).name})


def read_table(path: str | os.PathLike, test_path: str | os.PathLike | None = None, seed: int = 0) -> Task:
    """The user format (see the module docstring): TSV ``sequence target``, or positives only."""
    tasks = [_read_user(p, seed) for p in ([path] + ([test_path] if test_path is not None else []))]
    task = tasks[0]
    if len(tasks) > 1:
        task.test = tasks[1].train
    return task


def _read_user(path: str | os.PathLike, seed: int) -> Task:
    stem = _stem(path, r"\.(tsv|txt|fa|fasta|seq)(\.gz)?$")
    with _open(path) as f:
        lines = [ln.rstrip("\n") for ln in f if ln.strip() and not ln.startswith("#")]
    if not lines:
        raise InputFormatError(f"{path}: no sequences")
    if "\t" not in lines[0] and "\t" not in lines[-1]:
        positives = [r.seq for r in read_sequences(lines)]
        for i, s in enumerate(positives):
            encode(s, index=i)
        return Task(stem, stem, "user", "binary", with_shuffled_negatives(positives, np.random.default_rng(seed)))
    rows = [ln.split("\t") for ln in lines]
    try:
        float(rows[0][1])
    except (IndexError, ValueError):
        rows = rows[1:]
    try:
        targets = np.array([float(r[1]) for r in rows])
    except (IndexError, ValueError):
        raise InputFormatError(f"{path}: every line must be 'sequence<TAB>number'") from None
    kind = "binary" if set(np.unique(targets)) <= {0.0, 1.0} else "regression"
    return Task(stem, stem, "user", kind, make_examples([r[0] for r in rows], targets))


def shared_tasks(data_dir: str | os.PathLike) -> list[tuple[str, str, object]]:
    """The 31 data sets of ``../shared/data``: ``(kind, experiment, loader)`` with ``loader() -> Task``.

    ``kind`` is ``chip`` (10 ENCODE sets), ``pbm`` (20 DREAM5 TFs, HK -> ME) or ``selex`` (ALX4,
    cycle 4 against cycle 0). Missing folders give no entries.
    """
    data = Path(data_dir)
    out: list[tuple[str, str, object]] = []
    for ac in sorted((data / "encode").glob("*_AC.seq.gz")):
        b = ac.with_name(ac.name.replace("_AC.seq.gz", "_B.seq.gz"))
        out.append(("chip", _stem(ac, r"_AC\.seq\.gz$"), lambda ac=ac, b=b: read_chip(ac, b)))
    for hk in sorted((data / "dream5_pbm").glob("*_HK.txt.gz")):
        me = hk.with_name(hk.name.replace("_HK.", "_ME."))
        out.append(("pbm", _stem(hk, r"\.txt\.gz$"), lambda hk=hk, me=me: read_pbm(hk, me)))
    cycles = sorted((data / "selex").glob("*_[0-9].fastq.gz"))
    if len(cycles) >= 2:
        early, late = cycles[0], cycles[-1]
        out.append(("selex", re.sub(r"_\d+\.fastq\.gz$", "", late.name),
                    lambda early=early, late=late: read_selex(early, late)))
    return out
