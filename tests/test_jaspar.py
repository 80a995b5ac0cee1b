"""JASPAR PWMs as DeepBind models: scores equal a log-odds scan written here; the shipped panel is JASPAR."""
from __future__ import annotations

import math

import numpy as np
import pytest

from varbind import predict
from varbind.panels import jaspar
from varbind.panels import sources as pretrained
from varbind.bank import ModelBank

COMP = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N"}


def scan_reference(counts: np.ndarray, seq: str) -> float:
    """Best log2-odds score of a count matrix over both strands, from first principles.

    Every placement of the m-column motif over the sequence padded with m-1 N on both sides is
    scored; an N (padding or in the sequence) scores the mean of its column's four weights.
    """
    m = counts.shape[1]
    weights = []
    for j in range(m):
        col = [float(counts[b, j]) for b in range(4)]
        total = sum(col)
        prob = [(c + math.sqrt(total) / 4) / (total + math.sqrt(total)) for c in col]
        weights.append({b: math.log2(p / 0.25) for b, p in zip("ACGT", prob)})
    for w in weights:
        w["N"] = sum(w[b] for b in "ACGT") / 4
    best = -math.inf
    for strand in (seq, "".join(COMP[c] for c in reversed(seq))):
        padded = "N" * (m - 1) + strand + "N" * (m - 1)
        for start in range(len(padded) - m + 1):
            best = max(best, sum(weights[j][padded[start + j]] for j in range(m)))
    return best


@pytest.fixture(scope="module")
def matrices():
    every = jaspar.fetch_matrices()
    by_len = {}
    for mat in every:  # one matrix of every length, plus a dimer and a non-integer matrix
        by_len.setdefault(mat.counts.shape[1], mat)
    extra = [m for m in every if "::" in m.name][:1] + [m for m in every if not np.allclose(m.counts, m.counts.round())][:1]
    chosen = {m.matrix_id: m for m in list(by_len.values()) + extra}
    return every, list(chosen.values())


def test_log_odds_by_hand():
    # column (16, 0, 0, 0): N = 16, sqrt(N)/4 = 1 per base -> (17/20, 1/20, 1/20, 1/20) vs 1/4
    w = jaspar.log_odds(np.array([[16.0], [0.0], [0.0], [0.0]]))
    np.testing.assert_allclose(w[:, 0], np.log2(np.array([17, 1, 1, 1]) / 20 / 0.25))


def test_pwm_scores_equal_a_reference_log_odds_scan(matrices):
    _, chosen = matrices
    ids, params, _ = jaspar.jaspar_models(chosen)
    bank = ModelBank.from_params(params, ids)
    rng = np.random.default_rng(7)
    seqs = ["".join(rng.choice(list("ACGT"), n)) for n in (1, 4, 9, 20, 37, 80)]
    seqs += ["ACGTNNNNACGTAC", "N" * 12, "acgtgcaCACGTGacgt"]
    seqs += [rng.choice(["", "CACGTG"]) + "".join(rng.choice(list("ACGTN"), 25)) for _ in range(3)]
    got = predict.score(bank, seqs, mode="global")
    want = np.array([[scan_reference(mat.counts, s.upper()) for mat in chosen] for s in seqs])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-4)
    assert len({m.counts.shape[1] for m in chosen}) >= 20  # every motif length of JASPAR (5..33)


def test_edge_placements_average_the_padded_columns():
    # a 3-column motif of A, C, G; the sequence ends in "AC": the best placement overhangs by one
    counts = np.array([[100, 0, 0], [0, 100, 0], [0, 0, 100], [0, 0, 0]], dtype=float)
    w = jaspar.log_odds(counts)
    bank = ModelBank.from_params([jaspar.pwm_params(w)], ["m"])
    got = float(predict.score(bank, ["TTTTAC"], mode="global")[0, 0])
    assert got == pytest.approx(w[0, 0] + w[1, 1] + w[:, 2].mean(), abs=1e-5)
    assert got == pytest.approx(scan_reference(counts, "TTTTAC"), abs=1e-5)
    # a full match scores the full sum, and an all-N sequence the sum of column means (no clipping)
    assert float(predict.score(bank, ["TTACGTT"])[0, 0]) == pytest.approx(w[0, 0] + w[1, 1] + w[2, 2], abs=1e-5)
    assert float(predict.score(bank, ["NNNNN"])[0, 0]) == pytest.approx(w.mean(axis=0).sum(), abs=1e-5)


def test_threshold_keeps_every_placement_above_zero():
    w = jaspar.log_odds(np.array([[1000, 0], [0, 0], [0, 0], [0, 1000]], dtype=float))
    p = jaspar.pwm_params(w)
    assert p.thresholds[0] + w.min(axis=0).sum() >= 1.0 and p.biases1[0] == -p.thresholds[0]
    worst = predict.score(ModelBank.from_params([p], ["m"]), ["CCCCGGGG"])[0, 0]
    assert worst == pytest.approx(max(w[1, 0] + w[1, 1], w[:, 0].mean() + w[1, 1], w[1, 0] + w[:, 1].mean()), abs=1e-5)


def test_shipped_panel_holds_every_latest_jaspar_2024_core_vertebrate_matrix(matrices):
    every, _ = matrices
    panel = pretrained.load_panel("jaspar")
    cat = panel.catalogue
    pwm = cat[cat["model_type"] == "pwm"]
    assert sorted(pwm.index) == sorted(m.matrix_id for m in every) and len(pwm) == 879
    bases = [i.split(".")[0] for i in pwm.index]
    assert len(set(bases)) == len(bases), "two versions of one matrix"
    index = {mid: i for i, mid in enumerate(panel.bank.ids)}
    for mat in every:
        stored = panel.bank.params[index[mat.matrix_id]].detectors[0]
        np.testing.assert_allclose(stored, jaspar.log_odds(mat.counts), rtol=1e-6, atol=1e-6)
        assert cat.at[mat.matrix_id, "tf"] == mat.name
    assert pretrained.count_tfs(pwm) >= 600
