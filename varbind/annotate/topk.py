"""The top models of each allele, and the percentiles of only those: what INFO/VARBIND needs, in
array operations over a whole batch (the per-allele loop of a full sort and the per-model loop of a
full percentile table cost more than the scoring on a GPU).

Both give exactly what the plain ways give: :func:`top_models` the first ``k`` of a stable argsort
of ``-|delta|`` (ties in panel order), :func:`pair_percentiles` the entries of
:func:`varbind.panels.nulls.percentile` (the same arithmetic, on the selected pairs only).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def top_models(delta: np.ndarray, k: int) -> np.ndarray:
    """Indices ``(E, k)`` of each row's ``k`` largest ``|delta|``, largest first, ties by index.

    Examples
    --------
    >>> d = np.array([[0.1, -0.5, 0.5, 0.2], [0.0, 0.0, 0.0, 1.0]], np.float32)
    >>> top_models(d, 2).tolist()
    [[1, 2], [3, 0]]
    >>> bool((top_models(d, 3) == np.argsort(-np.abs(d), axis=1, kind="stable")[:, :3]).all())
    True
    """
    a = np.abs(delta)
    n, m = a.shape
    k = min(k, m)
    if n == 0 or k == 0:
        return np.zeros((n, k), np.int64)
    if k == m:
        return np.argsort(-a, axis=1, kind="stable")
    part = np.argpartition(-a, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(a, part, 1)
    kth = vals.min(1)
    # rows where the k-th value is tied with one left out, or with NaN: the plain stable sort
    slow = ((a >= kth[:, None]).sum(1) != k) | np.isnan(a).any(1)
    order = np.lexsort((part, -vals), axis=-1)
    top = np.take_along_axis(part, order, 1).astype(np.int64)
    for e in np.flatnonzero(slow):
        top[e] = np.argsort(-a[e], kind="stable")[:k]
    return top


def _count(q: np.ndarray, row: np.ndarray, s: np.ndarray, strict: bool) -> np.ndarray:
    """Per element, the number of entries of sorted row ``q[row]`` below ``s`` (``strict``) or at
    most ``s``: ``np.searchsorted(q[row], s, side="left" / "right")``, as a vectorised binary search."""
    lo = np.zeros(len(s), np.int64)
    hi = np.full(len(s), q.shape[1], np.int64)
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi) // 2
        v = q[row, np.minimum(mid, q.shape[1] - 1)]
        go = (v < s) if strict else (v <= s)
        go = active & go
        lo = np.where(go, mid + 1, lo)
        hi = np.where(active & ~go, mid, hi)


_TABLES: dict = {}


def _tables(null, ids: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``null``'s row of each of ``ids`` (-1: none), probabilities and quantiles as float64 (cached:
    a batch's call would otherwise convert the whole table)."""
    key = (id(null), ids)
    hit = _TABLES.get(key)
    if hit is None or hit[0] is not null:
        row_of = {m: i for i, m in enumerate(null.ids)}
        hit = (null, np.array([row_of.get(m, -1) for m in ids], np.int64), np.asarray(null.probs, dtype=np.float64),
               np.asarray(null.quantiles, dtype=np.float64))
        if len(_TABLES) > 8:
            _TABLES.clear()
        _TABLES[key] = hit
    return hit[1:]


def pair_percentiles(null, scores: np.ndarray, models: np.ndarray, ids: Sequence[str]) -> np.ndarray:
    """Percentiles of ``scores`` ``(n,)``, each in the null distribution of model ``ids[models[i]]``.

    Equal to ``percentile(null, full, ids)[i, models[i]]`` element by element (see
    :func:`varbind.panels.nulls.percentile`); NaN for models without a null or NaN scores.
    """
    s = np.asarray(scores, dtype=np.float64)
    row_of, probs, q = _tables(null, tuple(ids))
    rows = row_of[np.asarray(models, np.int64)]
    q_n = len(probs)
    out = np.full(len(s), np.nan)
    have = rows >= 0
    if not have.any():
        return out
    r, s_h = rows[have], s[have]
    lo = _count(q, r, s_h, strict=True)
    hi = _count(q, r, s_h, strict=False)
    i = np.clip(lo, 1, q_n - 1)
    x0, x1 = q[r, i - 1], q[r, i]
    frac = np.clip(np.where(x1 > x0, (s_h - x0) / np.where(x1 > x0, x1 - x0, 1.0), 0.5), 0.0, 1.0)
    res = probs[i - 1] + frac * (probs[i] - probs[i - 1])
    tie = 0.5 * (probs[np.clip(lo, 0, q_n - 1)] + probs[np.clip(hi - 1, 0, q_n - 1)])
    res = np.where(hi > lo, tie, res)
    res = np.where(s_h < q[r, 0], 0.0, np.where(s_h > q[r, -1], 1.0, res))
    out[have] = np.where(np.isnan(s_h), np.nan, res)
    return 100.0 * out
