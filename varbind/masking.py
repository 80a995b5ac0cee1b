"""Masked sites: a mutation that creates a binding site the model's score cannot see.

A DeepBind model max-pools its detectors over the whole window, so its score is set by the
window's strongest site. A mutation that creates (or strengthens) a site elsewhere changes the score
only when the new site beats that one: JASPAR's GABPA matrix gives TERT C228T (chr5:1,295,228 G>A,
hg19), which creates a GGAA site, a delta of exactly 0, because the promoter's native ETS sites
already set the maximum. The delta is right about the score and silent about the site.

The check
---------
For a substitution at ``[start, start + len)`` and a model whose detectors are ``m`` long, the
*local* score is the model's score of the bases within ``m - 1`` of the substitution,
``seq[start - m + 1 : start + len + m - 1]`` (every detector placement that touches it, scored as
its own sequence, N-padded as always). The substitution is flagged for the model when

1. its local gain ``local(alt) - local(ref)`` is at least :data:`MIN_GAIN` null spreads
   (:func:`varbind.panels.nulls.null_spread`, the unit varbind compares models in), and the new local
   score reaches the model's null :data:`SITE_QUANTILE` quantile (a site, not background);
2. the visible delta ``score(alt) - score(ref)`` is at most :data:`HIDDEN` of that gain (most of it
   is hidden); and
3. some ``m``-base window of the reference that does not overlap the substitution scores at least
   the new site's local score (less :data:`TOLERANCE` spreads): the *stronger site* that holds the
   maximum. It is reported as 0-based half-open ``[site_start, site_end)`` in the sequence.

Examples
--------
>>> import numpy as np
>>> from varbind.bank import ModelBank
>>> from varbind.panels.jaspar import log_odds, pwm_params
>>> ets = np.array([[0, 0, 9, 9], [0, 0, 0, 0], [9, 9, 0, 0], [0, 0, 0, 0]], float)  # GGAA
>>> bank = ModelBank.from_params([pwm_params(log_odds(ets * 10))], ["ets"])
>>> seq = "TTTTGGAATTTTTTTTTTTTGGCATTTT"                     # a site at 5-8; C at 23 -> A makes a second one
>>> levels = NullLevels(spread=np.ones(1), site=np.zeros(1))
>>> found = masked_mutations(bank, seq, np.array([22]), np.array(["A"]), np.zeros((1, 1)), levels)
>>> bool(found.flagged[0, 0]), int(found.site_start[0, 0]), int(found.site_end[0, 0])
(True, 4, 8)
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .sequence import N_CODE, CodeBatch, encode

#: a local gain of at least this many null spreads counts as a created site
MIN_GAIN = 1.5
#: flagged when the visible delta is at most this fraction of the local gain
HIDDEN = 0.5
#: the masking site may score this many null spreads below the new site (scores are float32)
TOLERANCE = 0.25
#: a created site scores at least this quantile of the model's null (best of a 101-bp background window)
SITE_QUANTILE = 0.75
#: edits whose local windows are built and scored at a time (bounded memory for long mutation maps)
CHUNK = 65536


class Masking(NamedTuple):
    """Result of :func:`masked_mutations`; every array is ``(E, M)`` (mutations x models).

    ``local_gain``: ``local(alt) - local(ref)``; ``flagged``: the three conditions of the module
    docstring hold; ``site_start``/``site_end``: 0-based half-open offsets of the stronger site in
    the sequence, -1 where not flagged.
    """

    local_gain: np.ndarray
    flagged: np.ndarray
    site_start: np.ndarray
    site_end: np.ndarray


class NullLevels(NamedTuple):
    """Per model ``(M,)``: ``spread``, the null spread (:func:`varbind.panels.nulls.null_spread`), and
    ``site``, the null's :data:`SITE_QUANTILE` quantile: a created site must score at least that."""

    spread: np.ndarray
    site: np.ndarray


def null_levels(bank, null=None, *, n: int = 2000) -> NullLevels:
    """:class:`NullLevels` of each model of ``bank``: from ``null`` (a
    :class:`~varbind.panels.nulls.NullTable`) where it has the model, else measured on ``n`` sequences
    of the shipped null background (:mod:`varbind.panels.nulls`)."""
    from .panels import nulls as percentiles

    def levels(table, ids):
        rows = {m: i for i, m in enumerate(table.ids)}
        site = np.array([np.interp(SITE_QUANTILE, table.probs, table.quantiles[rows[m]]) if m in rows else np.nan
                         for m in ids])
        return percentiles.null_spread(table, ids), site

    if null is not None:
        spread, site = levels(null, bank.ids)
    else:
        spread, site = np.full(len(bank), np.nan), np.full(len(bank), np.nan)
    missing = [i for i, s in enumerate(spread) if not np.isfinite(s)]
    if missing:
        import json

        from .panels.sources import shipped_dir

        background = json.loads((shipped_dir() / "null_background.json").read_text())
        sub = bank.select([bank.ids[i] for i in missing])
        table = percentiles.null_table(sub, {"dinucleotide_counts": background["dinucleotide_counts"], "n": n})
        spread[missing], site[missing] = levels(table, sub.ids)
    return NullLevels(spread, site)


def masked_mutations(bank, seq: str | np.ndarray, starts: np.ndarray, alts: np.ndarray, deltas: np.ndarray,
                     levels: NullLevels, *, strand_merge: str = "max", device=None) -> Masking:
    """Which substitutions of ``seq`` create a site that a stronger one elsewhere masks, per model.

    Parameters
    ----------
    bank : ModelBank
        ``M`` models.
    seq : str or ndarray of base codes
        The reference sequence (a genome window or a mutation map's region).
    starts : ndarray (E,) int
        0-based offsets of the substitutions in ``seq``.
    alts : ndarray (E,) str
        Their alternative bases (substitutions only: ``len(alt)`` reference bases are replaced).
    deltas : ndarray (E, M)
        Visible deltas ``score(alt) - score(ref)`` of the whole sequence.
    levels : NullLevels
        The models' null spreads and site levels (:func:`null_levels`).

    Returns
    -------
    Masking
    """
    from .predict import Edits

    codes = encode(seq) if isinstance(seq, str) else np.asarray(seq, np.uint8)
    alt_codes = [encode(a) for a in alts]
    k = max((len(a) for a in alt_codes), default=1)
    packed = np.full((len(alt_codes), k), N_CODE, np.uint8)
    for i, a in enumerate(alt_codes):
        packed[i, : len(a)] = a
    edits = Edits(np.zeros(len(alt_codes), np.int64), np.asarray(starts, np.int64), packed,
                  np.array([len(a) for a in alt_codes], np.int64))
    return masked_edits(bank, CodeBatch(codes[None, :], np.array([len(codes)], np.int64)), edits, deltas, levels,
                        strand_merge=strand_merge, device=device)


def masked_edits(bank, refs: CodeBatch, edits, deltas: np.ndarray, levels: NullLevels, *,
                 strand_merge: str = "max", device=None) -> Masking:
    """:func:`masked_mutations` for substitutions of several reference sequences.

    ``refs``: ``(B, L)`` reference codes and lengths; ``edits``: :class:`varbind.predict.Edits`
    (same-length replacements, ``E`` of them, offsets into their reference); ``deltas`` ``(E, M)``.
    """
    from . import predict

    e, nm = len(edits.start), len(bank)
    if e > CHUNK:  # bounded memory: the local windows of CHUNK edits at a time
        parts = [masked_edits(bank, refs, type(edits)(*(np.asarray(a)[i : i + CHUNK] for a in edits)),
                              deltas[i : i + CHUNK], levels, strand_merge=strand_merge, device=device)
                 for i in range(0, e, CHUNK)]
        return Masking(*(np.concatenate(arrays) for arrays in zip(*parts)))
    gain = np.zeros((e, nm), np.float64)
    flagged = np.zeros((e, nm), bool)
    site_start = np.full((e, nm), -1, np.int64)
    site_end = np.full((e, nm), -1, np.int64)
    if e == 0:
        return Masking(gain, flagged, site_start, site_end)
    starts, lengths, ref_of = (np.asarray(a, np.int64) for a in (edits.start, edits.lengths, edits.ref_index))
    kw = dict(strand_merge=strand_merge, device=device)
    mlen = np.array([p.detector_len for p in bank.params])
    for m in np.unique(mlen).tolist():
        cols = np.flatnonzero(mlen == m)
        sub = bank.select([bank.ids[c] for c in cols]) if len(cols) < nm else bank
        ref_w, alt_w = _local_windows(refs, ref_of, starts, lengths, edits.codes, m)
        local_ref = predict.score(sub, ref_w, **kw)
        local_alt = predict.score(sub, alt_w, **kw)
        g = local_alt - local_ref
        gain[:, cols] = g
        sp = levels.spread[cols][None, :]
        cand = (g >= MIN_GAIN * sp) & (deltas[:, cols] <= HIDDEN * g) & (local_alt >= levels.site[cols][None, :])
        rows, ks = np.nonzero(cand)
        if not len(rows):
            continue
        # the stronger site: every m-base window of each candidate's reference, scored alone, in one pass
        # with only the candidate models
        models = np.unique(ks)
        need = np.unique(ref_of[rows])
        firsts = [np.arange(max(1, int(refs.lengths[r]) - m + 1)) for r in need.tolist()]
        offset = np.concatenate([[0], np.cumsum([len(f) for f in firsts])])
        mers = _windows_of(refs, need, firsts, m)
        site = predict.score(bank.select([bank.ids[c] for c in cols[models]]), mers, **kw)
        which = {r: i for i, r in enumerate(need.tolist())}
        col_of = {k: j for j, k in enumerate(models.tolist())}
        for r, k in zip(rows.tolist(), ks.tolist()):
            i = which[int(ref_of[r])]
            first, scores = firsts[i], site[offset[i] : offset[i + 1], col_of[k]]
            s, stop = int(starts[r]), int(starts[r] + lengths[r])
            apart = (first + m <= s) | (first >= stop)
            if not apart.any():
                continue
            best = int(np.flatnonzero(apart)[np.argmax(scores[apart])])
            if scores[best] >= local_alt[r, k] - TOLERANCE * sp[0, k]:
                c = cols[k]
                flagged[r, c] = True
                site_start[r, c], site_end[r, c] = int(first[best]), int(first[best]) + m
    return Masking(gain, flagged, site_start, site_end)


def _windows_of(batch: CodeBatch, refs: np.ndarray, firsts: list[np.ndarray], m: int) -> CodeBatch:
    """The ``m``-base windows starting at ``firsts[i]`` of reference ``refs[i]`` as one batch (N past
    a reference's end)."""
    rows = np.concatenate([np.full(len(f), r) for r, f in zip(refs.tolist(), firsts)])
    start = np.concatenate(firsts)
    idx = start[:, None] + np.arange(m)[None, :]
    inside = idx < batch.lengths[rows][:, None]
    codes = np.where(inside, batch.codes[rows[:, None], np.minimum(idx, batch.codes.shape[1] - 1)], N_CODE)
    return CodeBatch(np.ascontiguousarray(codes, dtype=np.uint8), np.full(len(start), m, np.int64))


def _local_windows(refs: CodeBatch, ref_of, starts, lengths, codes, m: int) -> tuple[CodeBatch, CodeBatch]:
    """Reference and alternate windows of the bases within ``m - 1`` of each substitution."""
    e = len(starts)
    n = refs.lengths[ref_of].astype(np.int64)
    lo = np.maximum(0, starts - m + 1)
    hi = np.minimum(n, starts + lengths + m - 1)
    width = int((hi - lo).max())
    idx = lo[:, None] + np.arange(width)[None, :]
    inside = idx < hi[:, None]
    ref_w = np.where(inside, refs.codes[ref_of[:, None], np.minimum(idx, refs.codes.shape[1] - 1)], N_CODE)
    ref_w = ref_w.astype(np.uint8)
    alt_w = ref_w.copy()
    for i in range(e):
        a = int(starts[i] - lo[i])
        alt_w[i, a : a + int(lengths[i])] = codes[i, : int(lengths[i])]
    return CodeBatch(ref_w, hi - lo), CodeBatch(alt_w, hi - lo)


def describe(chrom: str | None, offset: int, start: int, end: int) -> str:
    """``site created but masked by a stronger site at chr:a-b`` (1-based inclusive; ``offset``: the
    0-based genome coordinate of the sequence's first base), or ``""`` when ``start < 0``.

    Examples
    --------
    >>> describe("chr5", 1295103, 96, 104), describe(None, 0, -1, -1)
    ('site created but masked by a stronger site at chr5:1295200-1295207', '')
    """
    if start < 0:
        return ""
    where = f"{chrom}:" if chrom else "sequence "
    return f"site created but masked by a stronger site at {where}{offset + start + 1}-{offset + end}"


class MapMasking(NamedTuple):
    """Masked sites of a mutation map: ``site_start``/``site_end`` ``(M, 4, n)`` int64, the stronger
    site of each flagged substitution (0-based half-open offsets in ``mm.seq``), -1 elsewhere."""

    site_start: np.ndarray
    site_end: np.ndarray

    @property
    def flagged(self) -> np.ndarray:
        """``(M, 4, n)`` bool: the substitution creates a site masked by a stronger one."""
        return self.site_start >= 0


def map_masking(mm, bank, levels: NullLevels, *, strand_merge: str = "max", device=None) -> MapMasking:
    """:func:`masked_mutations` for every substitution of a mutation map (``bank`` holds ``mm.ids``)."""
    nm, n = len(mm.ids), len(mm.seq)
    pos, base = np.nonzero(np.isfinite(mm.deltas[0]).T)
    sub = np.array([mm.seq[p] != "ACGT"[b] for p, b in zip(pos, base)], bool)
    pos, base = pos[sub], base[sub]
    start = np.full((nm, 4, n), -1, np.int64)
    end = np.full((nm, 4, n), -1, np.int64)
    if len(pos):
        found = masked_mutations(bank.select(mm.ids), mm.seq, pos, np.array(list("ACGT"))[base],
                                 mm.deltas[:, base, pos].T, levels, strand_merge=strand_merge, device=device)
        start[:, base, pos] = found.site_start.T
        end[:, base, pos] = found.site_end.T
    return MapMasking(start, end)


def map_table_column(mm, masking: MapMasking):
    """The flagged substitutions as a DataFrame ``pos, alt, model, masked_by`` (``pos`` 1-based), to
    join on :func:`varbind.mutmap.mutation_table`'s rows."""
    import pandas as pd

    r, b, i = np.nonzero(masking.flagged)
    return pd.DataFrame({
        "pos": mm.start + 1 + i,
        "alt": np.array(list("ACGT"))[b],
        "model": np.array(mm.ids, dtype=object)[r],
        "masked_by": [describe(mm.chrom, mm.start, int(masking.site_start[a, c, d]), int(masking.site_end[a, c, d]))
                      for a, c, d in zip(r, b, i)],
    })
