"""A slow, obviously-correct reference implementation of DeepBind scoring, for the tests only.

Plain numpy, one model, one sequence, one window at a time, straight from the description of the
executable in ../shared/README.md.
"""
from __future__ import annotations

import numpy as np

_IDX = {"A": 0, "C": 1, "G": 2, "T": 3, "U": 3}


def onehot(seq: str) -> np.ndarray:
    x = np.full((4, len(seq)), 0.25)
    for i, ch in enumerate(seq.upper()):
        if ch in _IDX:
            x[:, i] = 0
            x[_IDX[ch], i] = 1
    return x


def rc(seq: str) -> str:
    comp = {"A": "T", "C": "G", "G": "C", "T": "A", "U": "A"}
    return "".join(comp.get(c, "N") for c in reversed(seq.upper()))


def forward(p, seq: str) -> float:
    """One global forward pass of one model over one strand."""
    m = p.detector_len
    x = onehot(seq)
    xp = np.concatenate([np.full((4, m - 1), 0.25), x, np.full((4, m - 1), 0.25)], axis=1)
    npos = len(seq) + m - 1
    conv = np.array([[np.sum(p.detectors[k] * xp[:, i : i + m]) for i in range(npos)] for k in range(p.num_detectors)])
    conv = np.maximum(conv + p.thresholds[:, None], 0)
    feats = []
    for k in range(p.num_detectors):
        feats.append(conv[k].max())
        if p.has_avg_pooling:
            feats.append(conv[k].mean())
    h = np.array(feats) @ p.weights1 + p.biases1
    if p.num_hidden:
        return float(np.maximum(h, 0) @ p.weights2 + p.biases2[0])
    return float(h[0])


def score_global(p, seq: str) -> float:
    s = forward(p, seq)
    return max(s, forward(p, rc(seq))) if p.reverse_complement else s


def score_deepbind(p, seq: str) -> float:
    """What the executable prints: windows 0 .. n-m-1 of length m, each its own forward pass."""
    m, n = p.detector_len, len(seq)

    def one(s: str) -> float:
        if n <= m:
            return forward(p, s)
        return max(forward(p, s[i : i + m]) for i in range(n - m))

    return max(one(seq), one(rc(seq))) if p.reverse_complement else one(seq)
