"""Mutation maps in tiles: every point mutation of a (long) sequence scored a bounded number of
(model, mutation) scores per :func:`predict.score_edits` call.

A region's ``M x 3n`` scores are split into tiles of models (inside the bank's kernel groups) and
mutations, each scored against the **whole** reference: :func:`map_tiles` yields them,
:func:`map_sizes` reduces them to what ranking needs (reference score and largest |delta| per
model) without holding ``M x 4 x n`` floats. :func:`varbind.mutmap.mutation_map` assembles the tiles
into a :class:`~varbind.mutmap.MutationMap`; this module imports nothing of :mod:`varbind.mutmap`
(which re-exports its public names).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import predict
from .bank import ModelBank
from .sequence import N_CODE, encode, encode_batch

#: default tile: at most this many (model, point mutation) scores per :func:`predict.score_edits` call.
#: The call's memory is about 300 bytes a score for 16-detector models (the kernel's pooled features
#: for both strands, the heads' hidden layer, the scores), so a tile is ~300 MB whatever the region's
#: length; see :func:`map_tiles`.
TILE = 1 << 20
#: models per tile at least (4 models of 16 detectors fill one 64-column kernel block per strand);
#: a tile holds fewer mutations when the region has more than ``TILE / MIN_MODELS`` of them
MIN_MODELS = 4


def point_mutations(seq: str) -> predict.Edits:
    """Every single-base substitution of ``seq`` (N positions skipped) as :class:`predict.Edits`.

    Edits come position by position, alternative bases in ACGT order: ``3 * (number of ACGT bases)``.

    Examples
    --------
    >>> e = point_mutations("AN")
    >>> e.start.tolist(), e.codes[:, 0].tolist()
    ([0, 0, 0], [1, 2, 3])
    """
    codes = encode(seq)
    pos = np.flatnonzero(codes != N_CODE)
    alts = (codes[pos, None] + np.arange(1, 4)[None, :]) % 4  # the three other bases
    alts.sort(axis=1)
    e = 3 * len(pos)
    return predict.Edits(
        ref_index=np.zeros(e, np.int64),
        start=np.repeat(pos, 3).astype(np.int64),
        codes=alts.reshape(e, 1).astype(np.uint8),
        lengths=np.ones(e, np.int64),
    )


class MapTile(NamedTuple):
    """One :func:`predict.score_edits` call of :func:`map_tiles`: models ``rows`` x mutations ``edits``.

    Attributes
    ----------
    rows : ndarray (Mc,) int64
        Bank rows (indices into ``bank.ids``) of the tile's models.
    ref : ndarray (Mc,) float32
        Their scores of the whole reference.
    edits : slice
        Which of :func:`point_mutations` ``(seq)`` the tile scores.
    deltas : ndarray (Ec, Mc) float32
        ``score(mutant) - score(reference)`` of those mutations.
    """

    rows: np.ndarray
    ref: np.ndarray
    edits: slice
    deltas: np.ndarray


def _plan(bank: ModelBank, rows: np.ndarray, n_edits: int, tile: int) -> tuple[list[np.ndarray], int]:
    """Model chunks (bank rows, each inside one kernel group, in the group's order) and mutations a tile.

    Models are split before mutations: every call makes the reference pass of its models over the
    whole region, so a model's reference is computed once unless the region has more than
    ``tile / MIN_MODELS`` mutations."""
    if tile < 1:
        raise ValueError(f"tile must be at least 1, not {tile}")
    if n_edits * len(rows) <= tile:  # one call, as for a short region
        return [rows], max(1, n_edits)
    per = tile // max(1, n_edits)
    mc = per // MIN_MODELS * MIN_MODELS if per >= MIN_MODELS else min(MIN_MODELS, tile)
    ec = tile // mc if per < MIN_MODELS else n_edits
    wanted = set(rows.tolist())
    chunks = []
    for group in bank.groups:
        members = [int(r) for r in group.models if int(r) in wanted]
        chunks += [np.array(members[i : i + mc], np.int64) for i in range(0, len(members), mc)]
    return chunks, ec


def map_tiles(seq: str, bank: ModelBank, *, rows=None, strand_merge: str = "max", device=None,
              tile: int = TILE, edits: predict.Edits | None = None):
    """Score every point mutation of ``seq`` in tiles of at most ``tile`` (model, mutation) scores.

    Yields :class:`MapTile` s. Each tile is one :func:`predict.score_edits` call of a chunk of
    models (``bank.select``) on a slice of :func:`point_mutations` against the **whole** reference
    (global max and mean pooling need it whole), so its deltas are those of one call for all models
    and mutations to float rounding: a model's pooled features do not depend on the other models or
    mutations of the call (each detector is its own kernel column; the mean sums the whole map in
    order), but the dense heads are batched matrix products whose summation order can change with
    the call's shape (measured: up to a few float32 ulps of the score; references, one row a call,
    are bit for bit). Peak memory is the tile's plus the kernel's reference maps (``O(n)``: a few
    64-column float32 maps of the region per thread), not ``M x n``. A region whose ``M x 3n`` scores
    fit in one tile is one call, exactly as without tiling.

    ``rows``: bank rows to score (default all). Tiles follow the bank's kernel groups.
    ``edits``: :func:`point_mutations` ``(seq)`` when the caller has built it already
    (:func:`varbind.mutmap.mutation_map` does); built here when None.
    """
    refs = encode_batch([seq])
    edits = point_mutations(seq) if edits is None else edits
    rows = np.arange(len(bank)) if rows is None else np.asarray(rows, np.int64)
    ne = len(edits.start)
    chunks, ec = _plan(bank, rows, ne, tile)
    for chunk in chunks:
        whole = len(chunk) == len(bank) and bool((chunk == np.arange(len(bank))).all())
        sub = bank if whole else bank.select([bank.ids[r] for r in chunk])
        for e0 in range(0, max(ne, 1), ec):
            sl = slice(e0, min(e0 + ec, ne))
            part = predict.Edits(*(a[sl] for a in edits))
            scored = predict.score_edits(sub, refs, part, strand_merge=strand_merge, device=device)
            ref = scored.ref[0]
            yield MapTile(chunk, ref.astype(np.float32), sl, scored.alt - ref[None, :])


class MapSizes(NamedTuple):
    """Per model, what ranking and the noise check need of a whole map (:func:`map_sizes`)."""

    ids: list[str]
    ref: np.ndarray  # (M,) float32 reference scores
    max_abs: np.ndarray  # (M,) float64: the largest |delta| over the map (0 when nothing moves)


def map_sizes(seq: str, bank: ModelBank, *, strand_merge: str = "max", device=None, tile: int = TILE) -> MapSizes:
    """Reference scores and largest |delta| of every model's map, tile by tile: memory bounded by the
    tile, not ``M x 4 x n`` (``varbind mutmap`` ranks a 1-Mb region's models this way, then maps
    only the shown ones). ``max_abs`` equals ``abs(deltas).max()`` of
    :func:`~varbind.mutmap.mutation_map` (NaN as 0).

    Examples
    --------
    >>> from varbind.mutmap import mutation_map
    >>> from varbind.params import random_params
    >>> bank = ModelBank.from_params([random_params(detector_len=6, seed=s) for s in (3, 4)], ["a", "b"])
    >>> mm = mutation_map("ACGTTGCANACGT", bank)
    >>> sizes = map_sizes("ACGTTGCANACGT", bank, tile=5)
    >>> bool((sizes.max_abs == np.abs(np.nan_to_num(mm.deltas.astype(np.float64))).reshape(2, -1).max(1)).all())
    True
    """
    nm = len(bank)
    ref = np.zeros(nm, np.float32)
    size = np.zeros(nm, np.float64)
    for t in map_tiles(seq, bank, strand_merge=strand_merge, device=device, tile=tile):
        ref[t.rows] = t.ref
        if t.deltas.size:
            size[t.rows] = np.maximum(size[t.rows], np.abs(t.deltas.astype(np.float64)).max(axis=0))
    return MapSizes(list(bank.ids), ref, size)
