"""The top models of each allele, and the percentiles of only those: what INFO/VARBIND needs, in
array operations over a whole batch (the per-allele loop of a full sort and the per-model loop of a
full percentile table cost more than the scoring on a GPU).

Both give exactly what the plain ways give: :func:`top_models` the first ``k`` of a stable argsort
of ``-|delta|`` (ties in panel order), :func:`pair_percentiles` the entries of
:func:`varbind.panels.nulls.percentile` (the same arithmetic, on the selected pairs only).

:func:`select` reduces a batch's ``(E, M)`` scores to what the INFO fields show (:class:`Top`: the
top ``k`` models' scores, the largest and smallest effect, the panel's mean effect). ``varbind
annotate`` runs it in the scoring stage, on the scores' device (:func:`select_on` for a GPU: the
same arithmetic in float64, a stable sort for the order), so the writer gets ``(E, k)`` arrays
instead of ``(E, M)`` ones.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np


class Top(NamedTuple):
    """What the INFO fields show of each scored allele ``(E, ...)``: the ``k`` top models' columns
    ``index`` (by ``|rank|``, ties in panel order) with their raw ``ref``/``alt``/``delta`` and
    calibrated ``effect`` (NaN without null tables), and over all models the largest (``gain``) and
    smallest (``loss``) rank value and the mean effect (``panel``, NaN without null tables)."""

    index: np.ndarray
    ref: np.ndarray
    alt: np.ndarray
    delta: np.ndarray
    effect: np.ndarray
    gain: np.ndarray
    loss: np.ndarray
    panel: np.ndarray


class Selection(NamedTuple):
    """What the scoring stage keeps of a batch's scores (:func:`reduce`): the top ``k`` models, ranked
    with the models' null ``spread`` ``(M,)`` (``None``: the panel has no null tables)."""

    k: int
    spread: np.ndarray | None


def ranking_scale(delta: np.ndarray, effect: np.ndarray | None) -> np.ndarray:
    """The values models are ranked and aggregated on ``(E, M)``: the calibrated ``effect`` where the
    panel has null tables (NaN-free; a model without one ranks last), the raw ``delta`` when no model
    has one."""
    if effect is None or np.isnan(effect).all():
        return delta
    return np.where(np.isnan(effect), 0.0, effect)


def panel_effect(effect: np.ndarray | None, n: int) -> np.ndarray:
    """The panel-level effect of each allele ``(E,)``: the mean calibrated effect over the models
    that have one (NaN without null tables). See docs/reading-scores.md for why the mean."""
    if effect is None or not effect.shape[1] or np.isnan(effect).all():
        return np.full(n, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an allele whose every effect is NaN: NaN
        return np.nanmean(effect, axis=1)


def select(ref: np.ndarray, alt: np.ndarray, k: int, spread: np.ndarray | None = None,
           effect: np.ndarray | None = None) -> Top:
    """:class:`Top` of scores ``(E, M)`` on the host; ``spread`` ``(M,)``: the models' null spreads
    (``None``: the panel has no null tables), or ``effect`` ``(E, M)`` when already computed.

    Examples
    --------
    >>> ref = np.zeros((1, 3), np.float32); alt = np.array([[0.5, -2.0, 1.0]], np.float32)
    >>> t = select(ref, alt, 2, spread=np.array([0.25, 4.0, 1.0]))
    >>> t.index.tolist(), t.effect.tolist(), t.gain.tolist(), t.loss.tolist()
    ([[0, 2]], [[2.0, 1.0]], [2.0], [-0.5])
    """
    delta = alt - ref
    if effect is None and spread is not None:
        from ..panels.nulls import effect_in_spreads

        effect = effect_in_spreads(ref, alt, spread)
    rank = ranking_scale(delta, effect)
    eff = effect if effect is not None else np.full(delta.shape, np.nan)
    top = top_models(rank, min(k, delta.shape[1]))
    at = lambda x: np.take_along_axis(x, top, 1)  # noqa: E731
    gain, loss = (rank.max(1), rank.min(1)) if len(delta) and delta.shape[1] else (np.zeros(0), np.zeros(0))
    return Top(top, at(ref), at(alt), at(delta), at(eff), gain, loss, panel_effect(effect, len(delta)))


def select_on(device, ref: np.ndarray, alt: np.ndarray, k: int, spread: np.ndarray | None = None) -> Top:
    """:func:`select` computed on a torch ``device`` (a GPU; ``ref``/``alt`` arrays, or tensors
    already there, which are not copied): the same float32 deltas and float64
    effects (IEEE subtraction and division give the same numbers there), the order from a stable
    descending sort of ``|rank|`` (ties in panel order, NaN last, as :func:`top_models`). Only the
    panel mean sums in another order (a difference in the 16th digit, not in the 4 printed)."""
    import torch

    e, m = ref.shape
    if e == 0 or m == 0:
        host = [x.cpu().numpy() if isinstance(x, torch.Tensor) else x for x in (ref, alt)]
        return select(*host, k, spread)
    r, a = (x.to(device) if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(x)).to(device)
            for x in (ref, alt))
    delta = a - r
    eff = None
    if spread is not None:
        eff = (a.double() - r.double()) / torch.from_numpy(np.asarray(spread, np.float64)).to(device)[None, :]
    if eff is None or bool(torch.isnan(eff).all()):
        rank, panel = delta, None
    else:
        rank = torch.where(torch.isnan(eff), torch.zeros((), dtype=eff.dtype, device=eff.device), eff)
        panel = torch.nanmean(eff, 1)
    key = rank.abs()
    key = torch.where(torch.isnan(key), torch.full((), -torch.inf, dtype=key.dtype, device=key.device), key)
    top = torch.sort(key, dim=1, descending=True, stable=True).indices[:, : min(k, m)]
    at = lambda x: torch.gather(x, 1, top).cpu().numpy()  # noqa: E731
    nan = np.full((e, top.shape[1]), np.nan)
    return Top(top.cpu().numpy().astype(np.int64), at(r), at(a), at(delta), nan if eff is None else at(eff),
               rank.amax(1).cpu().numpy(), rank.amin(1).cpu().numpy(),
               np.full(e, np.nan) if panel is None else panel.cpu().numpy())


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
