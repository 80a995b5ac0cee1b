"""Detector logos: what each convolution detector of a model responds to.

As the DeepBind website drew them: every detector scans a fixed set of sequences (by default
random uniform DNA, seeded, so logos are reproducible; or real sequences you pass); each sequence
contributes its best-scoring window if the detector fires there (``conv + threshold > 0``); the top
``top`` such windows are aligned and counted, and the counts become an information-content matrix.
When fewer than ``min_sites`` windows activate the detector, the logo falls back to the detector's
weights, centred per position (letters above zero favour binding, below zero disfavour it).

A position weight matrix (a JASPAR model, :mod:`varbind.panels.jaspar`) is not a learned detector: its logo
is its matrix. :func:`pwm_logo` turns the log-odds weights back into the base probabilities they
were made from (``p = 0.25 * 2**w``) and draws their information content, in the matrix's own
(JASPAR) orientation, as the JASPAR website does.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch

from .params import DeepBindParams
from .sequence import encode_batch, one_hot

BASES = list("ACGT")


class DetectorLogo(NamedTuple):
    """One detector's logo matrix.

    Attributes
    ----------
    matrix : pandas.DataFrame (m, 4)
        Columns ``A C G T``; information content in bits (``kind == "sites"``) or centred weights
        (``kind == "weights"``).
    kind : {"sites", "weights", "pwm"}
    n_sites : int
        Activating windows found (with ``kind == "weights"``: the too few that were found; 0 for a PWM).
    """

    matrix: object
    kind: str
    n_sites: int


def random_sequences(n: int = 5000, length: int = 100, seed: int = 0) -> list[str]:
    """``n`` uniform random DNA sequences of ``length`` bases (reproducible with ``seed``)."""
    rng = np.random.default_rng(seed)
    letters = np.array(BASES)
    return ["".join(row) for row in letters[rng.integers(0, 4, size=(n, length))]]


def weight_matrix(params: DeepBindParams, k: int):
    """Detector ``k``'s weights ``(m, 4)``, centred per position (a weight logo)."""
    import pandas as pd

    w = params.detectors[k].T.astype(np.float64)  # (m, 4)
    return pd.DataFrame(w - w.mean(axis=1, keepdims=True), columns=BASES)


def detector_logos(
    params: DeepBindParams,
    sequences: Sequence[str] | None = None,
    *,
    top: int = 500,
    min_sites: int = 50,
    seed: int = 0,
) -> list[DetectorLogo]:
    """The logo of every detector of a model, from its most activating windows.

    Parameters
    ----------
    params : DeepBindParams
    sequences : sequence of str, optional
        Sequences to scan (default: 5,000 random 100-mers drawn with ``seed``). Windows with N count
        0.25 for each base.
    top : int
        Windows kept per detector (the highest activations, one per sequence at most).
    min_sites : int
        Fewer activating windows than this -> the weight logo.

    Returns
    -------
    list of DetectorLogo, one per detector

    Examples
    --------
    >>> from varbind.params import random_params
    >>> p = random_params(detector_len=6, num_detectors=2, seed=1)
    >>> logos = detector_logos(p, random_sequences(300, 40), top=100, min_sites=10)
    >>> [lg.matrix.shape for lg in logos]
    [(6, 4), (6, 4)]
    """
    import logomaker
    import pandas as pd

    seqs = list(sequences) if sequences is not None else random_sequences(seed=seed)
    m = params.detector_len
    seqs = [s for s in seqs if len(s) >= m]
    if not seqs:
        raise ValueError(f"no sequence is as long as the detectors ({m} bases)")
    batch = encode_batch(seqs)
    x = one_hot(batch.codes)  # (N, 4, L); N (and the padding of shorter sequences) 0.25
    w = torch.from_numpy(np.ascontiguousarray(params.detectors, dtype=np.float32))  # (d, 4, m)
    act = torch.nn.functional.conv1d(x, w) + torch.from_numpy(params.thresholds.astype(np.float32))[None, :, None]
    # windows that run past a sequence's end (into the batch padding) do not count
    valid = torch.arange(act.shape[2])[None, :] <= torch.from_numpy(batch.lengths.astype(np.int64) - m)[:, None]
    act = act.masked_fill(~valid[:, None, :], -torch.inf)
    best, where = act.max(dim=2)  # (N, d)
    xs = x.numpy()
    out = []
    for k in range(params.num_detectors):
        fired = np.flatnonzero(best[:, k].numpy() > 0)
        keep = fired[np.argsort(-best[fired, k].numpy(), kind="stable")[:top]]
        if len(keep) < min_sites:
            out.append(DetectorLogo(weight_matrix(params, k), "weights", len(keep)))
            continue
        starts = where[keep, k].numpy()
        counts = sum(xs[i, :, s : s + m] for i, s in zip(keep, starts)).T  # (m, 4)
        frame = pd.DataFrame(counts, columns=BASES)
        info = logomaker.transform_matrix(frame, from_type="counts", to_type="information", pseudocount=0.5)
        out.append(DetectorLogo(info, "sites", len(keep)))
    return out


def is_pwm(params: DeepBindParams, atol: float = 1e-3) -> bool:
    """Whether ``params`` is a position weight matrix as :func:`varbind.panels.jaspar.pwm_params` builds it:
    one detector, max pooling, linear output of weight 1 cancelling the threshold, and log2-odds
    weights whose probabilities ``0.25 * 2**w`` sum to 1 at every position.

    Examples
    --------
    >>> from varbind.panels.jaspar import log_odds, pwm_params
    >>> from varbind.params import random_params
    >>> is_pwm(pwm_params(log_odds(np.eye(4) * 10))), is_pwm(random_params(detector_len=4, seed=0))
    (True, False)
    """
    if params.num_detectors != 1 or params.has_avg_pooling or params.num_hidden:
        return False
    if not (np.allclose(params.weights1, 1.0) and np.allclose(params.biases1, -params.thresholds)):
        return False
    probs = 0.25 * np.exp2(np.asarray(params.detectors[0], dtype=np.float64))
    return bool(np.allclose(probs.sum(axis=0), 1.0, atol=atol))


def pwm_probabilities(params: DeepBindParams):
    """The base probabilities ``(m, 4)`` (columns A C G T, rows = positions 1..m) behind a PWM's weights."""
    import pandas as pd

    probs = 0.25 * np.exp2(np.asarray(params.detectors[0], dtype=np.float64)).T
    return pd.DataFrame(probs / probs.sum(axis=1, keepdims=True), columns=BASES, index=np.arange(1, len(probs) + 1))


def pwm_logo(params: DeepBindParams) -> DetectorLogo:
    """The information-content logo of a PWM (:func:`is_pwm`), positions 1..m in its own orientation.

    Height of base ``b`` at position ``j``: ``p[j, b] * (2 - H_j)`` bits, ``H_j`` the Shannon entropy.

    Examples
    --------
    >>> from varbind.panels.jaspar import log_odds, pwm_params
    >>> lg = pwm_logo(pwm_params(log_odds(np.array([[90.0, 0], [0, 0], [0, 90], [0, 0]]))))
    >>> lg.kind, lg.matrix.index.tolist(), "".join(lg.matrix.idxmax(axis=1))
    ('pwm', [1, 2], 'AG')
    """
    probs = pwm_probabilities(params)
    p = probs.to_numpy()
    entropy = -(p * np.log2(np.where(p > 0, p, 1.0))).sum(axis=1, keepdims=True)
    return DetectorLogo(probs * (2.0 - entropy), "pwm", 0)


def reverse_complement_matrix(matrix):
    """The logo matrix ``(m, 4)`` of the other strand: positions reversed, A<->T and C<->G swapped.

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.DataFrame([[1.0, 0, 0, 0], [0, 0, 1.0, 0]], columns=BASES)      # "AG"
    >>> "".join(reverse_complement_matrix(m).idxmax(axis=1))
    'CT'
    """
    import pandas as pd

    values = np.asarray(matrix, dtype=np.float64)[::-1, ::-1]  # ACGT reversed is TGCA: the complement
    return pd.DataFrame(values.copy(), columns=BASES, index=np.asarray(matrix.index))
