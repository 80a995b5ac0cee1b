"""JASPAR matrices as DeepBind models: log-odds PWMs that run in the same ModelBank pass as the CNNs.

Log-odds weights
----------------
From a count matrix ``c`` (4, m) with column totals ``N_j``, the probability of base ``b`` at
position ``j`` is ``(c[b, j] + sqrt(N_j)/4) / (N_j + sqrt(N_j))`` (the square-root pseudocount of
the TFBS Perl module and the JASPAR website, spread evenly over the four bases), and the weight is
``log2(p / 0.25)`` against a uniform background: a PWM score is in bits.

A PWM as a DeepBind model
-------------------------
One detector of length ``m`` (the weights), max pooling only, both strands
(``reverse_complement = 1``), linear output. Because DeepBind applies ``ReLU(conv + threshold)``
before pooling, we set ``threshold = +C``, ``weights1 = [[1]]``, ``biases1 = [-C]`` with
``C = sum_j |min_b w[b, j]| + 1``, so that ``conv + C >= 1`` everywhere and the model's output is
exactly ``max_positions(conv)``: the best log-odds score over both strands.

What the score means at the edges: like every DeepBind model the sequence is padded with ``m - 1``
``N`` on each side and every placement overlapping it is scored, an ``N`` (padding or in the
sequence) contributing the mean of its column's four weights (DeepBind's rule; a mean log-odds is
``<= 0``, so partial placements are penalised rather than ignored). Sequences shorter than ``m``
therefore still get a score. In ``mode="deepbind"`` the executable's window rule applies instead.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..params import DeepBindParams

RELEASE = "JASPAR2024"
SOURCE = f"{RELEASE} CORE vertebrates"


class Matrix(NamedTuple):
    """One JASPAR matrix with the metadata a catalogue row needs."""

    matrix_id: str
    name: str
    counts: np.ndarray  # (4, m) ACGT
    tf_class: str
    family: str
    species: str
    data_type: str
    medline: str


def log_odds(counts: np.ndarray) -> np.ndarray:
    """Log2-odds weights ``(4, m)`` from counts ``(4, m)`` (square-root pseudocount, uniform background).

    Examples
    --------
    >>> w = log_odds(np.array([[16.0], [0.0], [0.0], [0.0]]))
    >>> round(float(w[0, 0]), 4), round(float(w[1, 0]), 4)   # (16+1)/20 and 1/20 against 1/4
    (1.7655, -2.3219)
    """
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=0, keepdims=True)
    root = np.sqrt(total)
    return np.log2((counts + root / 4.0) / (total + root) / 0.25)


def pwm_params(weights: np.ndarray) -> DeepBindParams:
    """The DeepBind model whose score is the max log-odds score of ``weights`` ``(4, m)``.

    Examples
    --------
    >>> p = pwm_params(log_odds(np.eye(4) * 10))
    >>> p.num_detectors, p.detector_len, p.has_avg_pooling, p.num_hidden, p.reverse_complement
    (1, 4, False, 0, True)
    >>> bool(p.thresholds[0] == -p.biases1[0] > 0)
    True
    """
    w = np.asarray(weights, dtype=np.float64)
    c = float(np.abs(w.min(axis=0)).sum()) + 1.0
    return DeepBindParams(
        reverse_complement=True,
        has_avg_pooling=False,
        detectors=w[None].copy(),
        thresholds=np.array([c]),
        weights1=np.ones((1, 1)),
        biases1=np.array([-c]),
        weights2=np.zeros(0),
        biases2=np.zeros(0),
    ).validate("pwm")


def _species_names(db) -> dict[str, str]:
    return {str(t): s for t, s in db.conn.execute("SELECT TAX_ID, SPECIES FROM TAX")}


def fetch_matrices(release: str = RELEASE) -> list[Matrix]:
    """The CORE vertebrate matrices of a JASPAR release (latest version of each), via ``pyjaspar``.

    Dimers keep JASPAR's ``A::B`` name; class and family of a dimer join its parts' with ``::``.
    """
    from pyjaspar import jaspardb

    db = jaspardb(release=release)
    species = _species_names(db)
    out = []
    for m in db.fetch_motifs(collection="CORE", tax_group=["vertebrates"], all_versions=False):
        counts = np.array([m.counts[b] for b in "ACGT"], dtype=np.float64)
        taxa = [t for t in (m.species or []) if t]
        out.append(Matrix(
            matrix_id=m.matrix_id,
            name=m.name,
            counts=counts,
            tf_class="::".join(dict.fromkeys(m.tf_class or [])),
            family="::".join(dict.fromkeys(m.tf_family or [])),
            species=";".join(species.get(t, f"taxid:{t}") for t in taxa),
            data_type=m.data_type or "",
            medline=str(m.medline or ""),
        ))
    return sorted(out, key=lambda x: x.matrix_id)


def jaspar_models(matrices: list[Matrix], release: str = RELEASE):
    """IDs, params and catalogue rows (a DataFrame in bundle column names) of JASPAR matrices."""
    import pandas as pd

    ids = [m.matrix_id for m in matrices]
    params = [pwm_params(log_odds(m.counts)) for m in matrices]
    cat = pd.DataFrame({
        "id": ids,
        "tf": [m.name for m in matrices],
        "family": [m.family for m in matrices],
        "tf_class": [m.tf_class for m in matrices],
        "species": [m.species for m in matrices],
        "source": f"{release} CORE vertebrates",
        "experiment": [f"PMID:{m.medline}" if m.medline and m.medline != "None" else "" for m in matrices],
        "data_type": [m.data_type for m in matrices],
        "model_type": "pwm",
        "detector_len": [p.detector_len for p in params],
    })
    return ids, params, cat
