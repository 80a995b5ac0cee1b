"""Evaluation metrics: AUC, Pearson, Spearman, DREAM5's PBM positives; batched torch forms for training.

The numpy forms are for reports (sklearn/scipy do the work); the torch forms score every model of a
batched calibration at once, on the device, without leaving it.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy import stats
from sklearn.metrics import roc_auc_score


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for binary ``labels`` (NaN when only one class is
    present). The one AUC of varbind: training reports and DeepFind use it.

    Examples
    --------
    >>> auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.75
    >>> auc(np.array([1, 1]), np.array([0.1, 0.4]))
    nan
    """
    labels = np.asarray(labels)
    if not 0 < labels.sum() < len(labels):
        return float("nan")
    return float(roc_auc_score(labels, np.asarray(scores)))


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation.

    Examples
    --------
    >>> round(pearson(np.array([1.0, 2, 3]), np.array([2.0, 4, 7])), 4)
    0.9934
    """
    return float(stats.pearsonr(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))[0])


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation.

    Examples
    --------
    >>> spearman(np.array([1.0, 2, 3]), np.array([2.0, 4, 70]))
    1.0
    """
    return float(stats.spearmanr(x, y)[0])


def dream5_positives(signal: np.ndarray, num_sd: float = 4.0, min_positives: int = 50) -> np.ndarray:
    """DREAM5's positive probes: intensity more than ``num_sd`` standard deviations above the mean.

    Our reading of Weirauch et al. (2013): mean and SD over all probes of the array; if fewer than
    ``min_positives`` probes pass, the ``min_positives`` brightest ones are taken instead.

    Returns
    -------
    numpy.ndarray of bool, shape (N,)

    Examples
    --------
    >>> s = np.r_[np.zeros(1000), 100.0]
    >>> int(dream5_positives(s, min_positives=1).sum())
    1
    """
    signal = np.asarray(signal, dtype=np.float64)
    pos = signal > signal.mean() + num_sd * signal.std()
    if pos.sum() < min_positives:
        pos = np.zeros(len(signal), dtype=bool)
        pos[np.argsort(-signal, kind="stable")[:min_positives]] = True
    return pos


def pbm_metrics(signal: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Pearson (on the raw intensities and on ``log``), Spearman and DREAM5-positive AUC of a PBM."""
    signal = np.asarray(signal, dtype=np.float64)
    return {
        "pearson": pearson(signal, scores),
        "pearson_log": pearson(np.log(np.maximum(signal, 1.0)), scores),
        "spearman": spearman(signal, scores),
        "auc": auc(dream5_positives(signal), scores),
    }


def batched_auc(labels: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """AUC of each column of ``scores`` (N, K) for ``labels`` (N,); ties count one half, NaN is lowest.

    Examples
    --------
    >>> s = torch.tensor([[0.1, 0.9, 1.0], [0.4, 0.5, 1.0], [0.35, 0.2, 1.0], [0.8, 0.1, 1.0]])
    >>> batched_auc(torch.tensor([0, 0, 1, 1]), s).tolist()
    [0.75, 0.0, 0.5]
    """
    cols = torch.nan_to_num(scores.float(), nan=-torch.inf).T.contiguous()  # (K, N)
    ordered = cols.sort(dim=1).values
    lo = torch.searchsorted(ordered, cols, right=False)
    hi = torch.searchsorted(ordered, cols, right=True)
    ranks = (lo + hi + 1).double() / 2  # mid-ranks, 1-based
    pos = labels.bool()
    n_pos, n_neg = pos.sum().double(), (~pos).sum().double()
    return ((ranks[:, pos].sum(1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg).clamp(min=1)).float()


def batched_pearson(targets: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of each column of ``scores`` (N, K) with ``targets`` (N,) (NaN -> -1).

    Examples
    --------
    >>> t = torch.tensor([1.0, 2, 3])
    >>> batched_pearson(t, torch.stack([t, -t], 1)).tolist()
    [1.0, -1.0]
    """
    s = scores.double() - scores.double().mean(0)
    t = (targets.double() - targets.double().mean())[:, None]
    r = (s * t).sum(0) / (s.norm(dim=0) * t.norm() + 1e-30)
    return torch.nan_to_num(r, nan=-1.0).float()
