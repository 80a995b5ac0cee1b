"""Fast in-silico mutagenesis: the score change of every point mutation of a sequence.

A mutation map of a sequence of length ``n`` holds, for every model, the change of its score when
base ``i`` is replaced by each of the other three bases: ``deltas[model, base, i] = score(mutant) -
score(reference)`` (0 at the reference base). All ``3 n`` mutants come from **one** reference pass:
:func:`varbind.predict.score_edits` recomputes only the ``m`` convolution positions a point
mutation touches and takes the rest of the pooled features from the reference map, instead of
``3 n + 1`` full forward passes (``method="naive"`` does those, for checking). A long region's
mutations are scored in tiles of bounded memory (:mod:`varbind.mutmap_tiles`, whose public names are
re-exported here).

Scores are global-mode scores (one pass over the whole sequence, N-padded; see
:mod:`varbind.predict`), both strands merged with ``strand_merge`` (DeepBind: ``max``).

Importance
----------
The importance of base ``i`` for a model is the largest loss of score any of its three
substitutions causes, ``max(0, -min_b deltas[:, b, i])``: a base matters when changing it destroys
binding. It is in score units, 0 for bases whose every substitution keeps or raises the score, and
it is the letter height in the mutation-map figure (:func:`varbind.plot.plot_mutation_map`).
Positions where the reference is ``N`` are not mutated: their deltas are ``NaN`` and importance 0.
"""
from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from . import predict
from .bank import ModelBank
from .errors import InputFormatError
from .mutmap_tiles import (TILE, MapSizes, MapTile, map_sizes, map_tiles,  # noqa: F401  (public names)
                           point_mutations)
from .sequence import N_CODE, encode, encode_batch

BASES = "ACGT"
METHODS = ("edits", "naive")


class MutationMap(NamedTuple):
    """Result of :func:`mutation_map`.

    Attributes
    ----------
    seq : str
        The reference sequence as scored (upper case), length ``n``.
    ids : list of str
        Model IDs, length ``M``.
    ref : ndarray (M,) float32
        Score of the reference sequence per model.
    deltas : ndarray (M, 4, n) float32
        ``score(mutant) - score(reference)`` for base ``ACGT[b]`` at position ``i``; 0 at the
        reference base, NaN where the reference is N.
    importance : ndarray (M, n) float32
        ``max(0, -min_b deltas[:, b, i])`` (module docstring).
    chrom : str or None
        Contig of the region, None for a bare sequence.
    start : int
        0-based genome coordinate of ``seq[0]`` (0 for a bare sequence).
    """

    seq: str
    ids: list[str]
    ref: np.ndarray
    deltas: np.ndarray
    importance: np.ndarray
    chrom: str | None = None
    start: int = 0

    @property
    def positions(self) -> np.ndarray:
        """1-based coordinates of the bases, ``(n,)`` int64 (genome positions for a region)."""
        return np.arange(self.start + 1, self.start + 1 + len(self.seq), dtype=np.int64)

    @property
    def alt(self) -> np.ndarray:
        """Scores of the mutants, ``ref[:, None, None] + deltas``: ``(M, 4, n)``."""
        return self.ref[:, None, None] + self.deltas


def importance(deltas: np.ndarray) -> np.ndarray:
    """Per-base importance ``max(0, -min_b deltas[..., b, i])``: ``(..., 4, n) -> (..., n)``.

    Examples
    --------
    >>> d = np.array([[[0.0, -0.5], [0.2, 0.0], [-1.0, 0.1], [0.3, np.nan]]], np.float32)
    >>> importance(d)
    array([[1. , 0.5]], dtype=float32)
    """
    with np.errstate(invalid="ignore"):
        worst = np.where(np.isnan(deltas), np.inf, deltas).min(axis=-2)
    return np.maximum(0, -np.where(np.isinf(worst), 0, worst)).astype(np.float32)


def weighted_deltas(mm: MutationMap) -> np.ndarray:
    """Deltas weighted as in the DeepBind paper's mutation maps: ``(alt - ref) * max(0, ref, alt)``.

    The weight de-emphasises changes between two low (non-binding) scores. ``(M, 4, n)``.
    """
    alt = mm.alt
    return mm.deltas * np.maximum(0, np.maximum(mm.ref[:, None, None], alt))


def _bank(models) -> ModelBank:
    bank = getattr(models, "bank", models)
    if not isinstance(bank, ModelBank):
        raise TypeError(f"expected a ModelBank or a panel with .bank, not {type(models).__name__}")
    return bank


def _resolve(seq_or_region, fasta) -> tuple[str, str | None, int]:
    from . import regions

    if isinstance(seq_or_region, regions.Region) or (isinstance(seq_or_region, str) and ":" in seq_or_region):
        region = seq_or_region if isinstance(seq_or_region, regions.Region) else regions.parse_region(seq_or_region)
        if fasta is None:
            raise InputFormatError(f"region {region} needs a reference FASTA (fasta=...)")
        return regions.fetch_region(fasta, region), region.chrom, region.start
    return str(seq_or_region).upper().replace("U", "T"), None, 0


def mutation_map(
    seq_or_region,
    models,
    *,
    fasta: str | os.PathLike | None = None,
    strand_merge: str = "max",
    method: str = "edits",
    device=None,
    ids=None,
    tile: int = TILE,
) -> MutationMap:
    """Score every point mutation of a sequence (or a genome region) with every model.

    Parameters
    ----------
    seq_or_region : str or regions.Region
        A DNA sequence (ACGTN, any case), or a region: a :class:`~varbind.regions.Region` (0-based
        half-open) or a string ``chrom:start-end`` (1-based, inclusive), read from ``fasta``.
    models : ModelBank or a panel with ``.bank``
    fasta : path, optional
        Indexed reference FASTA, for regions.
    strand_merge : {"max", "mean", "forward"}
    method : {"edits", "naive"}
        ``edits`` (default): one reference pass plus per-mutation deltas
        (:func:`varbind.predict.score_edits`); ``naive``: ``3 n + 1`` full passes through
        :func:`varbind.predict.score` (slow; for checking).
    device : str, optional
        Torch device (the delta path runs on the CPU; elsewhere mutants are scored in full).
    ids : sequence of str, optional
        Map only these models of the bank, in this order (the result's ``ids``); default all.
    tile : int
        At most this many (model, mutation) scores per :func:`predict.score_edits` call (default
        :data:`~varbind.mutmap_tiles.TILE`; see :func:`~varbind.mutmap_tiles.map_tiles`): it bounds
        the scoring's memory and changes deltas by float rounding at most. The result itself holds
        ``(M, 4, n)`` floats: for a long region map few models (``ids``) or use
        :func:`~varbind.mutmap_tiles.map_sizes` / :func:`~varbind.mutmap_tiles.map_tiles`.

    Returns
    -------
    MutationMap

    Examples
    --------
    >>> from varbind.params import random_params
    >>> bank = ModelBank.from_params([random_params(detector_len=6, seed=3)], ["m"])
    >>> mm = mutation_map("ACGTTGCANACGT", bank)
    >>> mm.deltas.shape, bool(np.isnan(mm.deltas[0, :, 8]).all())
    ((1, 4, 13), True)
    >>> naive = mutation_map("ACGTTGCANACGT", bank, method="naive")
    >>> bool(np.allclose(mm.deltas, naive.deltas, atol=1e-5, equal_nan=True))
    True
    >>> tiled = mutation_map("ACGTTGCANACGT", bank, tile=2)  # one mutation a score_edits call
    >>> bool(np.allclose(tiled.deltas, mm.deltas, rtol=0, atol=1e-5, equal_nan=True))  # float rounding
    True
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    bank = _bank(models)
    rows = np.arange(len(bank)) if ids is None else bank.rows(ids)
    seq, chrom, start = _resolve(seq_or_region, fasta)
    refs = encode_batch([seq])
    seq = "".join("ACGTN"[c] for c in refs.codes[0, : len(seq)])
    n, nm = len(seq), len(rows)
    deltas = np.full((nm, 4, n), np.nan, np.float32)
    known = np.flatnonzero(refs.codes[0, :n] != N_CODE)
    deltas[:, :, known] = 0.0
    edits = point_mutations(seq)  # built once: map_tiles scores these (edits=), the deltas go where they say
    if method == "edits":
        ref = np.empty(nm, np.float32)
        where = np.empty(len(bank), np.int64)
        where[rows] = np.arange(nm)
        for t in map_tiles(seq, bank, rows=rows, strand_merge=strand_merge, device=device, tile=tile,
                           edits=edits):
            out = where[t.rows]
            ref[out] = t.ref
            deltas[out[:, None], edits.codes[t.edits, 0][None, :], edits.start[t.edits][None, :]] = t.deltas.T
    else:
        sub = bank if ids is None else bank.select([bank.ids[r] for r in rows])
        mutants = predict.apply_edits(refs, edits)
        ref = predict.score(sub, refs, strand_merge=strand_merge, device=device)[0]
        alt = predict.score(sub, mutants, strand_merge=strand_merge, device=device)
        deltas[:, edits.codes[:, 0], edits.start] = (alt - ref[None, :]).T
    return MutationMap(seq, [bank.ids[r] for r in rows], ref.astype(np.float32), deltas, importance(deltas),
                       chrom, start)


def select(mm: MutationMap, ids) -> MutationMap:
    """The map restricted to the given model IDs (in that order)."""
    index = {m: i for i, m in enumerate(mm.ids)}
    rows = [index[i] for i in ids]
    return mm._replace(ids=[mm.ids[r] for r in rows], ref=mm.ref[rows], deltas=mm.deltas[rows],
                       importance=mm.importance[rows])


def rank_models(mm: MutationMap, *, at: int | None = None, spread: np.ndarray | None = None,
                delta: np.ndarray | None = None) -> np.ndarray:
    """Model rows ordered by effect size, largest first (ties: panel order).

    The size is the largest |delta| over the map (or over the three substitutions at 0-based
    sequence offset ``at``), or, with ``delta`` ``(M,)`` (one variant's score change per model),
    ``|delta|`` itself. With ``spread`` ``(M,)``, each model's null spread
    (:func:`varbind.panels.nulls.null_spread`), deltas are divided by it first: the calibrated
    effect, comparable between models (a model whose raw scale is 100 times larger keeps its rank).
    A model with a NaN spread ranks after every model with one.

    Examples
    --------
    >>> d = np.zeros((2, 4, 3), np.float32); d[1, 2, 0] = -2.0; d[0, 1, 2] = 1.0
    >>> mm = MutationMap("ACG", ["a", "b"], np.zeros(2, np.float32), d, importance(d))
    >>> rank_models(mm).tolist(), rank_models(mm, at=2).tolist()
    ([1, 0], [0, 1])
    >>> rank_models(mm, spread=np.array([0.1, 10.0])).tolist(), rank_models(mm, delta=np.array([0.5, -1.0])).tolist()
    ([0, 1], [1, 0])
    """
    if delta is not None:
        size = np.abs(np.asarray(delta, dtype=np.float64))
    elif at is not None:
        size = np.abs(np.nan_to_num(mm.deltas[:, :, at].astype(np.float64))).max(axis=1)
    else:
        size = max_abs_delta(mm)
    return rank_sizes(size, spread)


def max_abs_delta(mm: MutationMap) -> np.ndarray:
    """Per model ``(M,)`` float64: the largest |delta| of the map (NaN counted as 0; 0 for an empty map)."""
    d = np.abs(np.nan_to_num(mm.deltas.astype(np.float64))).reshape(len(mm.ids), -1)
    return d.max(axis=1, initial=0.0)


def rank_sizes(size: np.ndarray, spread: np.ndarray | None = None) -> np.ndarray:
    """Rows ordered by ``size`` ``(M,)`` (divided by ``spread`` when given), largest first: the order
    of :func:`rank_models` from sizes computed elsewhere (:func:`map_sizes`).

    Examples
    --------
    >>> rank_sizes(np.array([1.0, 2.0, 2.0]), spread=np.array([0.1, 1.0, np.nan])).tolist()
    [0, 1, 2]
    """
    size = np.asarray(size, dtype=np.float64)
    if spread is not None:
        spread = np.asarray(spread, dtype=np.float64)
        size = np.where(np.isnan(spread), -1.0, size / np.where(np.isnan(spread), 1.0, spread))
    return np.argsort(-np.nan_to_num(size, nan=-1.0), kind="stable")


def mutation_table(mm: MutationMap, tf: dict[str, str] | None = None, spread: np.ndarray | None = None):
    """One row per (position, alternative base, model): ``chrom, pos, ref, alt, model, tf, delta``,
    and ``effect`` (delta / the model's null spread ``spread`` ``(M,)``) when ``spread`` is given.

    ``pos`` is 1-based (a genome position for a region); ``tf`` maps model IDs to factor names.
    Returns a ``pandas.DataFrame`` ordered by position, alternative base, then model.
    """
    import pandas as pd

    codes = encode(mm.seq)
    pos_idx, base_idx = np.meshgrid(np.arange(len(mm.seq)), np.arange(4), indexing="ij")
    keep = (codes[pos_idx] != base_idx) & (codes[pos_idx] != N_CODE)
    p, b = pos_idx[keep], base_idx[keep]  # position-major, then base
    nm = len(mm.ids)
    tf = tf or {}
    letters = np.array(list(BASES))
    table = pd.DataFrame({
        "chrom": mm.chrom or "sequence",
        "pos": np.repeat(mm.start + 1 + p, nm),
        "ref": np.repeat(np.array(list(mm.seq))[p], nm),
        "alt": np.repeat(letters[b], nm),
        "model": np.tile(np.array(mm.ids, dtype=object), len(p)),
        "tf": np.tile(np.array([tf.get(i, "") for i in mm.ids], dtype=object), len(p)),
        "delta": mm.deltas[:, b, p].T.reshape(-1),
    })
    if spread is not None:
        table["effect"] = (mm.deltas[:, b, p] / np.asarray(spread, dtype=np.float64)[:, None]).T.reshape(-1)
    return table


def substitute(seq: str, offset: int, ref: str, alt: str) -> str:
    """``seq`` with ``ref`` at 0-based ``offset`` replaced by ``alt`` (same length only).

    Examples
    --------
    >>> substitute("ACGGAT", 3, "G", "A")
    'ACGAAT'
    """
    if len(ref) != len(alt):
        raise InputFormatError(f"{ref}>{alt}: only substitutions (REF and ALT of equal length) can be "
                               "drawn as mutant maps")
    if seq[offset : offset + len(ref)] != ref:
        raise InputFormatError(f"{ref}>{alt}: the sequence has {seq[offset : offset + len(ref)]!r} at offset {offset}")
    return seq[:offset] + alt + seq[offset + len(ref) :]
