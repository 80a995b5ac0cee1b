"""Calibrated percentiles: raw scores of different models made comparable through a null distribution.

Raw scores of two models are on unrelated scales (a PWM's log-odds bits, a CNN's logit). For every
model of a shipped or imported panel we store the 1001 quantiles (probabilities 0, 0.001, ..., 1)
of its score over one fixed *null set* of sequences; :func:`percentile` places any score in that
distribution (0 to 100).

The null set
------------
``NULL_SIZE`` = 10,000 sequences of ``NULL_LENGTH`` = 101 bp drawn, with seed ``NULL_SEED``, from a
first-order Markov chain (dinucleotide model) whose transition counts were fitted to the real
promoter sequence of ``../shared/data/genome/hg19_sparse.fa.gz`` (the ~7 Mb of hg19 around the
DeepFind promoter SNVs and 15 CAGI5 regulatory elements). It is the dinucleotide-shuffle null in
expectation: promoter-like base and dinucleotide composition (CpG depletion, GC content) without
real binding sites. We ship the 16 fitted counts, not the sequences, so the very same null set is
regenerated anywhere (e.g. when importing DeepBind on a machine without ``../shared``). Scores are
``predict.score(mode="global", strand_merge="max")`` of the 101-bp sequences, so the percentiles
fit windows of about that length.
"""
from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import BundleFormatError
from ..sequence import CodeBatch

NULL_SIZE, NULL_LENGTH, NULL_SEED, N_QUANTILES = 10_000, 101, 20151124, 1001


class NullTable(NamedTuple):
    """Quantiles of each model's null score distribution.

    Attributes
    ----------
    ids : list of str
        Model IDs (rows).
    probs : ndarray, shape (Q,)
        Increasing probabilities, 0 to 1.
    quantiles : ndarray, shape (M, Q), float32
        ``quantiles[i, k]`` is model ``i``'s score quantile at ``probs[k]`` (non-decreasing in k).
    provenance : dict
        How the null set was made (see the module docstring).
    """

    ids: list[str]
    probs: np.ndarray
    quantiles: np.ndarray
    provenance: dict


def dinucleotide_counts(codes: np.ndarray) -> np.ndarray:
    """Counts ``(4, 4)`` of adjacent base pairs (row = first base) in a code array, skipping N.

    Examples
    --------
    >>> from varbind.sequence import encode
    >>> dinucleotide_counts(encode("ACGNTT"))[[0, 1, 3], [1, 2, 3]].tolist()
    [1, 1, 1]
    """
    codes = np.asarray(codes, dtype=np.int64).ravel()
    a, b = codes[:-1], codes[1:]
    ok = (a < 4) & (b < 4)
    return np.bincount(a[ok] * 4 + b[ok], minlength=16).reshape(4, 4)


def background_sequences(counts: np.ndarray, n: int = NULL_SIZE, length: int = NULL_LENGTH,
                         seed: int = NULL_SEED) -> CodeBatch:
    """``n`` sequences of ``length`` from the first-order Markov chain with dinucleotide ``counts``.

    The first base follows the chain's base composition (row sums); each next base the row of the
    previous one. Deterministic for a given seed.

    Examples
    --------
    >>> b = background_sequences(np.ones((4, 4)), n=3, length=5, seed=0)
    >>> b.codes.shape, b.lengths.tolist()
    ((3, 5), [5, 5, 5])
    """
    counts = np.asarray(counts, dtype=np.float64)
    trans = np.cumsum(counts / counts.sum(axis=1, keepdims=True), axis=1)
    first = np.cumsum(counts.sum(axis=1) / counts.sum())
    rng = np.random.default_rng(seed)
    u = rng.random((n, length))
    codes = np.empty((n, length), dtype=np.uint8)
    codes[:, 0] = np.minimum(np.searchsorted(first, u[:, 0], side="right"), 3)
    for j in range(1, length):
        rows = trans[codes[:, j - 1]]
        codes[:, j] = np.minimum((u[:, j, None] >= rows).sum(axis=1), 3)
    return CodeBatch(codes, np.full(n, length, dtype=np.int64))


def null_table(bank, background: dict, *, device: str | None = None, progress: bool = False) -> NullTable:
    """Score the null set with every model of ``bank`` and keep the quantiles.

    Parameters
    ----------
    bank : ModelBank
    background : dict
        ``dinucleotide_counts`` (4x4) plus any provenance keys; ``n``, ``length``, ``seed``,
        ``n_quantiles`` override the defaults. Stored as the table's provenance.
    """
    from .. import predict

    prov = {"n": NULL_SIZE, "length": NULL_LENGTH, "seed": NULL_SEED, "n_quantiles": N_QUANTILES, **background,
            "mode": "global", "strand_merge": "max"}
    seqs = background_sequences(np.asarray(prov["dinucleotide_counts"]), prov["n"], prov["length"], prov["seed"])
    scores = predict.score(bank, seqs, mode="global", strand_merge="max", device=device, progress=progress)
    probs = np.linspace(0.0, 1.0, int(prov["n_quantiles"]))
    quantiles = np.quantile(scores.astype(np.float64), probs, axis=0).T.astype(np.float32)
    return NullTable(list(bank.ids), probs, np.maximum.accumulate(quantiles, axis=1), prov)


def percentile(null: NullTable, scores: np.ndarray, ids: Sequence[str]) -> np.ndarray:
    """Percentiles (0 to 100) of ``scores`` in each model's null distribution.

    Linear interpolation between stored quantiles; a score equal to a run of tied quantiles gets
    the middle of their probabilities; below the minimum 0, above the maximum 100; NaN for models
    absent from ``null`` or NaN scores.

    Parameters
    ----------
    null : NullTable
    scores : ndarray, shape (N, M)
        Columns in ``ids`` order (e.g. ``predict.score(bank, ...)`` with ``ids = bank.ids``).
    ids : sequence of str, length M

    Returns
    -------
    ndarray, shape (N, M), float64

    Examples
    --------
    >>> t = NullTable(["a"], np.linspace(0, 1, 5), np.array([[0.0, 1.0, 2.0, 3.0, 4.0]]), {})
    >>> percentile(t, np.array([[-1.0], [1.0], [1.5], [9.0]]), ["a"]).ravel().tolist()
    [0.0, 25.0, 37.5, 100.0]
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] != len(ids):
        raise ValueError(f"scores of shape {scores.shape} do not have one column per id ({len(ids)})")
    row = {m: i for i, m in enumerate(null.ids)}
    probs = np.asarray(null.probs, dtype=np.float64)
    q_n = len(probs)
    out = np.full(scores.shape, np.nan)
    for j, model_id in enumerate(ids):
        r = row.get(model_id)
        if r is None:
            continue
        qs = np.asarray(null.quantiles[r], dtype=np.float64)
        s = scores[:, j]
        lo = np.searchsorted(qs, s, side="left")
        hi = np.searchsorted(qs, s, side="right")
        i = np.clip(lo, 1, q_n - 1)
        x0, x1 = qs[i - 1], qs[i]
        frac = np.clip(np.where(x1 > x0, (s - x0) / np.where(x1 > x0, x1 - x0, 1.0), 0.5), 0.0, 1.0)
        res = probs[i - 1] + frac * (probs[i] - probs[i - 1])
        tie = 0.5 * (probs[np.clip(lo, 0, q_n - 1)] + probs[np.clip(hi - 1, 0, q_n - 1)])
        res = np.where(hi > lo, tie, res)
        res = np.where(s < qs[0], 0.0, np.where(s > qs[-1], 1.0, res))
        out[:, j] = np.where(np.isnan(s), np.nan, res)
    return 100.0 * out


def null_spread(null: NullTable, ids: Sequence[str]) -> np.ndarray:
    """Each model's null spread ``(M,)``: a robust standard deviation of its null scores, the largest
    of ``(q[84.13%] - q[15.87%]) / 2``, ``(q[97.5%] - q[2.5%]) / 3.92`` and ``(q[99.5%] - q[0.5%]) /
    5.15`` (each equal to the SD for a normal distribution). The central span alone is unmoved by the
    long upper tail real sites give, but is near 0 for a CNN whose output sits on one floor value for
    most background sequences (DeepBind's Atf4 D00055.004: 9e-5, for a range of 7): its deltas
    would become effects in the hundreds and crowd every ranking; the wider spans see the spread such a
    model really has. NaN for models absent from ``null``; a constant null gets ``(max - min) / 1000``,
    or 1.0 when that is 0 too.

    Examples
    --------
    >>> t = NullTable(["a"], np.linspace(0, 1, 101), np.linspace(-5, 5, 101)[None, :], {})
    >>> round(float(null_spread(t, ["a"])[0]), 3)
    3.413
    >>> floor = np.r_[np.zeros(90), np.linspace(0, 5, 11)][None, :]   # 90% of the null on one value
    >>> round(float(null_spread(NullTable(["b"], np.linspace(0, 1, 101), floor, {}), ["b"])[0]), 2)
    0.96
    """
    probs = np.asarray(null.probs, dtype=np.float64)
    row = {m: i for i, m in enumerate(null.ids)}
    out = np.full(len(ids), np.nan)
    spans = np.array([[0.158655, 0.841345], [0.025, 0.975], [0.005, 0.995]])
    z = np.array([1.0, 1.959964, 2.575829])
    for j, model_id in enumerate(ids):
        r = row.get(model_id)
        if r is None:
            continue
        qs = np.asarray(null.quantiles[r], dtype=np.float64)
        q = np.interp(spans.ravel(), probs, qs).reshape(3, 2)
        s = float(np.max((q[:, 1] - q[:, 0]) / (2 * z)))
        if not s > 0:
            s = (qs[-1] - qs[0]) / 1000 or 1.0
        out[j] = s
    return out


def calibrated_effect(null: NullTable, ref: np.ndarray, alt: np.ndarray, ids: Sequence[str]) -> np.ndarray:
    """The calibrated effect ``(alt - ref) / spread`` of each score pair: a delta in units of the
    model's null spread (:func:`null_spread`), comparable between models whatever their raw scale.
    Multiplying a model's output by ``c > 0`` multiplies its deltas and its null spread by ``c``
    alike, so its effects, and every ranking made on them, do not change.

    Parameters
    ----------
    ref, alt : ndarray, shape (N, M)
        Columns in ``ids`` order.

    Returns
    -------
    ndarray, shape (N, M), float64 (NaN for models absent from ``null``)

    Examples
    --------
    >>> t = NullTable(["a", "b"], np.linspace(0, 1, 101), np.stack([np.linspace(-5, 5, 101),
    ...               100 * np.linspace(-5, 5, 101)]), {})
    >>> calibrated_effect(t, np.array([[0.0, 0.0]]), np.array([[3.41345, 341.345]]), ["a", "b"]).round(3).tolist()
    [[1.0, 1.0]]
    """
    return effect_in_spreads(ref, alt, null_spread(null, ids))


def effect_in_spreads(ref: np.ndarray, alt: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """``(alt - ref) / spread`` in float64, ``ref``/``alt`` ``(N, M)`` and ``spread`` ``(M,)`` (from
    :func:`null_spread`, computed once for many batches): :func:`calibrated_effect`'s arithmetic."""
    return (np.asarray(alt, dtype=np.float64) - np.asarray(ref, dtype=np.float64)) / spread[None, :]


def save_null(null: NullTable, path: str | os.PathLike) -> None:
    """Write a null table as ``.npz`` (no pickle: ids as a unicode array)."""
    with open(path, "wb") as f:
        np.savez_compressed(f, ids=np.array(null.ids, dtype=str), probs=null.probs,
                            quantiles=null.quantiles.astype(np.float32))


def load_null(data: bytes, where: Path, ids: Sequence[str] | None = None) -> NullTable:
    """Read a null table from the bytes of its ``.npz`` (rows restricted to ``ids`` when given)."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            all_ids, probs, quantiles = [str(i) for i in z["ids"]], z["probs"], z["quantiles"]
    except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise BundleFormatError(f"{where}: unreadable null table: {e}") from None
    if quantiles.shape != (len(all_ids), len(probs)):
        raise BundleFormatError(f"{where}: quantiles of shape {quantiles.shape} for {len(all_ids)} ids")
    if ids is not None:
        index = {m: i for i, m in enumerate(all_ids)}
        keep = [m for m in ids if m in index]
        quantiles, all_ids = quantiles[[index[m] for m in keep]], keep
    return NullTable(all_ids, probs, quantiles, {})
