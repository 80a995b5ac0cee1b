"""Numba kernels for edits: global-mode features of reference sequences and of same-length edits of
them (variants, mutation maps), as deltas on one reference pass. Layouts as in
:mod:`varbind._cpu_kernels`; windows of shared regions are in :mod:`varbind._cpu_region_kernels`.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._cpu_kernels import _scatter


@njit(cache=True, nogil=True)
def _edit_block(row, n, tab, thr, e_start, e_codes, e_len, slot, feat, ref_feats, rb, alt_feats, e0):
    m = tab.shape[0]
    blk = tab.shape[2]
    npos = n + m - 1
    raw = np.empty((npos, blk), dtype=np.float32)  # conv + threshold, before the ReLU
    for p in range(npos):
        for c in range(blk):
            raw[p, c] = thr[c]
        for j in range(m):
            code = row[p + j]
            for c in range(blk):
                raw[p, c] += tab[j, code, c]
    _edit_apply(raw, row, tab, e_start, e_codes, e_len, slot, feat, ref_feats, rb, alt_feats, e0)


@njit(cache=True, nogil=True)
def _edit_apply(raw, row, tab, e_start, e_codes, e_len, slot, feat, ref_feats, rb, alt_feats, e0):
    """Pooled features of a reference map ``raw`` ``(npos, blk)`` (conv + threshold, before the
    ReLU) into ``ref_feats[:, rb]``, and of its edits into ``alt_feats[:, e0 + e]``. ``row[q]`` must
    be the reference code at padded index ``q`` wherever an edit lands (see :func:`edit_pool`)."""
    npos, blk = raw.shape
    pmax = np.empty((npos + 1, blk), dtype=np.float32)
    smax = np.empty((npos + 1, blk), dtype=np.float32)
    tot = np.zeros(blk, dtype=np.float32)
    for c in range(blk):
        pmax[0, c] = 0.0
    for p in range(npos):
        for c in range(blk):
            v = raw[p, c] if raw[p, c] > 0.0 else np.float32(0.0)
            tot[c] += v
            pmax[p + 1, c] = v if v > pmax[p, c] else pmax[p, c]
    _edits_on_map(raw, pmax, smax, tot, row, tab, e_start, e_codes, e_len, slot, feat, ref_feats, rb, alt_feats, e0)


@njit(cache=True, nogil=True)
def _edits_on_map(raw, pmax, smax, tot, row, tab, e_start, e_codes, e_len, slot, feat, ref_feats, rb,
                  alt_feats, e0):
    """:func:`_edit_apply` given the ReLU map's prefix maxima ``pmax[:npos + 1]`` (``pmax[0] = 0``) and
    total ``tot``; ``smax`` is scratch of the same shape."""
    m = tab.shape[0]
    blk = tab.shape[2]
    npos = raw.shape[0]
    for c in range(blk):
        smax[npos, c] = 0.0
    for p in range(npos - 1, -1, -1):
        for c in range(blk):
            v = raw[p, c] if raw[p, c] > 0.0 else np.float32(0.0)
            smax[p, c] = v if v > smax[p + 1, c] else smax[p + 1, c]
    inv = np.float32(1.0) / np.float32(npos)
    d = ref_feats.shape[2] // 2
    mx = np.empty(blk, dtype=np.float32)
    sm = np.empty(blk, dtype=np.float32)
    for c in range(blk):
        mx[c] = pmax[npos, c]
        sm[c] = tot[c] * inv
    _scatter(mx, sm, slot, feat, d, ref_feats, rb)
    acc = np.empty(blk, dtype=np.float32)
    ne = e_start.shape[0]
    for e in range(ne):
        st = e_start[e]
        k = e_len[e]
        # conv position p covers padded row [p, p + m); the edit is padded [st + m - 1, st + k + m - 1)
        lo = st
        hi = st + k + m - 1
        if hi > npos:
            hi = npos
        for c in range(blk):
            mx[c] = pmax[lo, c] if pmax[lo, c] > smax[hi, c] else smax[hi, c]
            sm[c] = tot[c]
        for p in range(lo, hi):
            _edited_value(acc, raw[p], row, tab, e_codes[e], st, k, p)
            for c in range(blk):
                v = acc[c] if acc[c] > 0.0 else np.float32(0.0)
                r = raw[p, c] if raw[p, c] > 0.0 else np.float32(0.0)
                sm[c] += v - r
                if v > mx[c]:
                    mx[c] = v
        for c in range(blk):
            sm[c] *= inv
        _scatter(mx, sm, slot, feat, d, alt_feats, e0 + e)


@njit(cache=True, nogil=True, inline="always")  # called per position or window: a call costs more than its work
def _edited_value(acc, src, row, tab, codes, st, k, p):
    """``acc`` = conv position ``p``'s reference value ``src`` plus the weight differences of an edit
    of ``k`` bases by ``codes`` at sequence position ``st``: only the detector offsets that fall on
    edited bases change (``min(k, m)`` rows, at least one). ``row`` is the padded reference (index
    ``p + j`` at offset ``j``)."""
    m = tab.shape[0]
    j0 = st + m - 1 - p
    j1 = j0 + k
    if j0 < 0:
        j0 = 0
    if j1 > m:
        j1 = m
    tn = tab[j0, codes[p + j0 - (m - 1) - st]]
    to = tab[j0, row[p + j0]]
    for c in range(acc.shape[0]):
        acc[c] = src[c] + (tn[c] - to[c])
    for j in range(j0 + 1, j1):
        tn = tab[j, codes[p + j - (m - 1) - st]]
        to = tab[j, row[p + j]]
        for c in range(acc.shape[0]):
            acc[c] += tn[c] - to[c]


@njit(cache=True, parallel=True, nogil=True)
def edit_pool(codes, lengths, table, thr, slot, feat, e_offsets, e_start, e_codes, e_len,
              ref_feats, alt_feats):
    """Global-mode features of reference sequences and of same-length edits of them.

    Edits ``e_offsets[b] .. e_offsets[b+1]`` belong to reference ``b`` (edits sorted by reference);
    edit ``e`` replaces ``e_len[e]`` codes starting at sequence position ``e_start[e]`` by
    ``e_codes[e, :e_len[e]]``. Only the ``k + m - 1`` convolution positions an edit touches are
    updated; the rest of the max comes from prefix/suffix maxima of the reference map and the
    mean from its total. A recomputed position adds only the weight differences of the edited
    bases it covers (``min(k, m)`` rows), so a point mutation costs ``m`` additions a column.
    """
    nb = codes.shape[0]
    nblk = table.shape[0]
    blk = table.shape[3]
    for t in prange(nb * nblk):
        b = t // nblk
        k = t % nblk
        e0 = e_offsets[b]
        e1 = e_offsets[b + 1]
        _edit_block(
            codes[b], lengths[b], table[k], thr[k],
            e_start[e0:e1], e_codes[e0:e1], e_len[e0:e1],
            slot[k * blk:(k + 1) * blk], feat[k * blk:(k + 1) * blk], ref_feats, b, alt_feats, e0,
        )
