"""Numba kernels for edits: global-mode features of reference sequences and of same-length edits of
them (variants, mutation maps), as deltas on one reference pass. Layouts as in
:mod:`varbind.predict.kernels.cpu`; windows of shared regions are in :mod:`varbind.predict.kernels.cpu_regions`.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .cpu import _fmax, _scatter


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
def _edit_block_sub(row, n, tab, thr, e_start, e_codes, e_len, slot, feat, ref_feats, rb, alt_feats, e0,
                    ss, sn, s_start, s_codes, s_len, sub_ref_feats, sub_alt_feats, s0):
    """:func:`_edit_block`, and the same for the window of ``sn`` bases from sequence position ``ss``
    (a sub-window, scored as its own N-padded sequence; its edits ``s_*``, relative to its start, go to
    ``sub_alt_feats[:, s0 + e]``, its reference to ``sub_ref_feats[:, rb]``) from the same pass.

    The sub-window's interior positions are the sequence's. At its ``m - 1`` positions on either end
    the detector reads some N. The pass keeps its partial sum where it crosses an end: on the right,
    the sum over the sub-window's bases, to which the N rows' sum is added (one sum a block); on the
    left, the sum over the bases before the sub-window, which is taken off and the N rows' sum put in
    its place (as a shared region's windows are, :mod:`varbind.predict.kernels.cpu_regions`). So the
    ends cost ``4 (m - 1)`` row operations a block instead of ``m (m - 1)`` additions (a pass of their
    own, bit for bit, took half of what the sub-window adds to a lone window: 600 windows, 927
    models); the map equals a pass of its own within float32 rounding."""
    m = tab.shape[0]
    blk = tab.shape[2]
    npos = n + m - 1
    ns = sn + m - 1
    raw = np.empty((npos, blk), dtype=np.float32)
    sraw = np.empty((ns, blk), dtype=np.float32)
    short = sn < m  # a sub-window shorter than a detector: its map computed on its own
    r0 = ss + sn if not short else npos  # positions r0 .. r0 + m - 2 cross the sub-window's right end
    l1 = ss + m - 1 if not short else ss  # positions ss .. l1 - 1 cross its left end
    for p in range(npos):
        for c in range(blk):
            raw[p, c] = thr[c]
        # the rows before ``b`` read what lies before an end: there the partial sum is kept
        b = r0 + m - 1 - p if p >= r0 else (l1 - p if ss <= p < l1 else 0)
        # (the loops written out, as in _edit_block: through a helper on row views this took 12% longer)
        if 0 < b < m:
            for j in range(b):
                code = row[p + j]
                for c in range(blk):
                    raw[p, c] += tab[j, code, c]
            for c in range(blk):
                sraw[p - ss, c] = raw[p, c]
            for j in range(b, m):
                code = row[p + j]
                for c in range(blk):
                    raw[p, c] += tab[j, code, c]
        else:
            for j in range(m):
                code = row[p + j]
                for c in range(blk):
                    raw[p, c] += tab[j, code, c]
    srow = row[ss:]  # the sub-window's padded index q is the sequence's ss + q
    if short:
        for q in range(ns):
            for c in range(blk):
                sraw[q, c] = thr[c]
            for j in range(m):
                code = srow[q + j] if m - 1 <= q + j < ns else 4
                for c in range(blk):
                    sraw[q, c] += tab[j, code, c]
    else:
        nrow = np.empty((m + 1, blk), dtype=np.float32)  # nrow[a]: the N rows a .. m - 1 (right end)
        for c in range(blk):
            nrow[m, c] = 0.0
        for a in range(m - 1, 0, -1):
            for c in range(blk):
                nrow[a, c] = nrow[a + 1, c] + tab[a, 4, c]
        for q in range(sn, ns):  # right end: the pass's sum over the sub-window's bases, then N
            a = ns - q
            for c in range(blk):
                sraw[q, c] += nrow[a, c]
        # left end: thr and the first a N rows (in nrow[0]) in place of the bases before the window
        for c in range(blk):
            nrow[0, c] = thr[c]
        for a in range(1, m):
            q = m - 1 - a
            for c in range(blk):
                nrow[0, c] += tab[a - 1, 4, c]
                sraw[q, c] = nrow[0, c] + (raw[q + ss, c] - sraw[q, c])
        if _same_lone_edit(e_start, e_codes, e_len, s_start, s_codes, s_len, ss, sn, m, npos):
            _edit_apply_shared(raw, sraw, ss, sn, row, tab, e_start[0], e_codes, e_len[0], slot, feat, ref_feats,
                               rb, alt_feats, e0, sub_ref_feats, sub_alt_feats, s0)
            return
        for q in range(m - 1, sn):  # interior
            for c in range(blk):
                sraw[q, c] = raw[q + ss, c]
    _edit_apply(raw, row, tab, e_start, e_codes, e_len, slot, feat, ref_feats, rb, alt_feats, e0)
    _edit_apply(sraw, srow, tab, s_start, s_codes, s_len, slot, feat, sub_ref_feats, rb, sub_alt_feats, s0)


@njit(cache=True, nogil=True)
def _same_lone_edit(e_start, e_codes, e_len, s_start, s_codes, s_len, ss, sn, m, npos):
    """Whether the window and its sub-window have one edit each, the same one (DeepFind's SNV in
    the panel's window), whose positions lie in the sub-window's interior."""
    if e_start.shape[0] != 1 or s_start.shape[0] != 1 or e_len[0] != s_len[0] or s_start[0] + ss != e_start[0]:
        return False
    for i in range(e_len[0]):
        if e_codes[0, i] != s_codes[0, i]:
            return False
    lo, hi = _edit_span(e_start[0], e_len[0], m, npos)
    return lo >= ss + m - 1 and hi <= ss + sn


@njit(cache=True, nogil=True)
def _edit_apply_shared(raw, sraw, ss, sn, row, tab, st, e_codes, k, slot, feat, ref_feats, rb, alt_feats, e0,
                       sub_ref_feats, sub_alt_feats, s0):
    """:func:`_edit_apply` of a window with one edit (into ``ref_feats[:, rb]``, ``alt_feats[:, e0]``)
    and of its sub-window of ``sn`` bases from ``ss`` with the same edit (``sub_ref_feats[:, rb]``,
    ``sub_alt_feats[:, s0]``), in one sweep: the sub-window's interior rows are the window's, read
    once for both, and the edit's positions (inside that interior) are computed once for both. Only
    the sub-window's ``2 (m - 1)`` end rows of ``sraw`` are read. The window's features are bit for bit
    :func:`_edit_apply`'s (its rows summed in the same order); the sub-window's sum runs in another
    order (within float32 rounding of a pass of its own)."""
    npos, blk = raw.shape
    ns = sraw.shape[0]
    m = tab.shape[0]
    d = ref_feats.shape[2] // 2
    inv = np.float32(1.0) / np.float32(npos)
    inv_s = np.float32(1.0) / np.float32(ns)
    rows = np.empty((9, blk), dtype=np.float32)
    mx, sm, tot, acc, out = rows[0], rows[1], rows[2], rows[3], rows[4]
    smx, ssm, stot, sout = rows[5], rows[6], rows[7], rows[8]
    for c in range(blk):
        tot[c] = 0.0
        out[c] = 0.0
        mx[c] = 0.0
        stot[c] = 0.0
        sout[c] = 0.0
        smx[c] = 0.0
    lo, hi = _edit_span(st, k, m, npos)
    a, b = ss + m - 1, ss + sn  # the sub-window's interior, in the window's rows
    _max_sum_rows(out, tot, raw, 0, a)
    _max_sum_rows2(out, tot, sout, stot, raw, a, lo)
    _max_sum_rows2(mx, tot, smx, stot, raw, lo, hi)
    _max_sum_rows2(out, tot, sout, stot, raw, hi, b)
    _max_sum_rows(out, tot, raw, b, npos)
    _max_sum_rows(sout, stot, sraw, 0, m - 1)  # the sub-window's ends
    _max_sum_rows(sout, stot, sraw, sn, ns)
    for c in range(blk):
        mx[c] = _fmax(out[c], mx[c])
        sm[c] = tot[c] * inv
        smx[c] = _fmax(sout[c], smx[c])
        ssm[c] = stot[c] * inv_s
    _scatter(mx, sm, slot, feat, d, ref_feats, rb)
    _scatter(smx, ssm, slot, feat, d, sub_ref_feats, rb)
    _edit_pooled(mx, sm, acc, out, tot, raw, row, tab, e_codes, 0, st, k, lo, hi, inv, smx, ssm, sout, stot, inv_s,
                 True)
    _scatter(mx, sm, slot, feat, d, alt_feats, e0)
    _scatter(smx, ssm, slot, feat, d, sub_alt_feats, s0)


@njit(cache=True, nogil=True)
def _edit_apply(raw, row, tab, e_start, e_codes, e_len, slot, feat, ref_feats, rb, alt_feats, e0):
    """Pooled features of a reference map ``raw`` ``(npos, blk)`` (conv + threshold, before the
    ReLU) into ``ref_feats[:, rb]``, and of its edits into ``alt_feats[:, e0 + e]``. ``row[q]`` must
    be the reference code at padded index ``q`` wherever an edit lands (see :func:`edit_pool`).

    A lone edit (an isolated variant) takes the maximum of the map outside the positions it touches
    in the same pass as the total; several edits read prefix and suffix maxima of the map."""
    npos, blk = raw.shape
    m = tab.shape[0]
    d = ref_feats.shape[2] // 2
    inv = np.float32(1.0) / np.float32(npos)
    rows = np.empty((5, blk), dtype=np.float32)
    mx, sm, tot, acc, out = rows[0], rows[1], rows[2], rows[3], rows[4]
    # maxima start at 0 (the ReLU's floor), so they take the raw map
    for c in range(blk):
        tot[c] = 0.0
        out[c] = 0.0
        mx[c] = 0.0
    ne = e_start.shape[0]
    if ne == 1:
        lo, hi = _edit_span(e_start[0], e_len[0], m, npos)
        _max_sum_rows(out, tot, raw, 0, lo)
        _max_sum_rows(mx, tot, raw, lo, hi)
        _max_sum_rows(out, tot, raw, hi, npos)
        for c in range(blk):
            mx[c] = _fmax(out[c], mx[c])
            sm[c] = tot[c] * inv
        _scatter(mx, sm, slot, feat, d, ref_feats, rb)
        _edit_pooled(mx, sm, acc, out, tot, raw, row, tab, e_codes, 0, e_start[0], e_len[0], lo, hi, inv,
                     mx, sm, out, tot, inv, False)
        _scatter(mx, sm, slot, feat, d, alt_feats, e0)
        return
    _max_sum_rows(mx, tot, raw, 0, npos)
    for c in range(blk):
        sm[c] = tot[c] * inv
    _scatter(mx, sm, slot, feat, d, ref_feats, rb)
    if ne == 0:
        return
    # pmax[q] = max(0, raw[:q]), smax[q] = max(0, raw[q:]); the running maximum is kept in ``out``
    # (reading the last row back is slower)
    pmax = np.empty((npos + 1, blk), dtype=np.float32)
    smax = np.empty((npos + 1, blk), dtype=np.float32)
    for c in range(blk):
        pmax[0, c] = 0.0
    for q in range(npos):
        for c in range(blk):
            out[c] = _fmax(raw[q, c], out[c])
            pmax[q + 1, c] = out[c]
    for c in range(blk):
        out[c] = 0.0
        smax[npos, c] = 0.0
    for q in range(npos - 1, -1, -1):
        for c in range(blk):
            out[c] = _fmax(raw[q, c], out[c])
            smax[q, c] = out[c]
    for e in range(ne):
        lo, hi = _edit_span(e_start[e], e_len[e], m, npos)
        for c in range(blk):
            out[c] = pmax[lo, c] if pmax[lo, c] > smax[hi, c] else smax[hi, c]
        _edit_pooled(mx, sm, acc, out, tot, raw, row, tab, e_codes, e, e_start[e], e_len[e], lo, hi, inv,
                     mx, sm, out, tot, inv, False)
        _scatter(mx, sm, slot, feat, d, alt_feats, e0 + e)


@njit(cache=True, nogil=True, inline="always")  # called per edit: a call costs more than its work
def _edit_span(st, k, m, npos):
    """The conv positions ``lo .. hi-1`` that an edit of ``k`` bases at sequence position ``st``
    touches: position ``p`` covers padded ``[p, p + m)``, the edit padded ``[st + m - 1, st + k + m - 1)``."""
    hi = st + k + m - 1
    return st, (hi if hi < npos else npos)


@njit(cache=True, nogil=True, inline="always")
def _max_sum_rows(mx, tot, raw, lo, hi):
    """``mx = max(mx, raw[lo:hi])`` and ``tot += sum(ReLU(raw[lo:hi]))`` per column, rows in order."""
    for q in range(lo, hi):
        for c in range(mx.shape[0]):  # (one store a loop, and maxima through _fmax: both vectorised)
            mx[c] = _fmax(raw[q, c], mx[c])
        for c in range(mx.shape[0]):
            tot[c] += raw[q, c] if raw[q, c] > 0.0 else np.float32(0.0)


@njit(cache=True, nogil=True, inline="always")
def _max_sum_rows2(mx, tot, mx2, tot2, raw, lo, hi):
    """:func:`_max_sum_rows` into two pairs of accumulators at once."""
    for q in range(lo, hi):
        for c in range(mx.shape[0]):
            mx[c] = _fmax(raw[q, c], mx[c])
        for c in range(mx.shape[0]):
            mx2[c] = _fmax(raw[q, c], mx2[c])
        for c in range(mx.shape[0]):
            x = raw[q, c] if raw[q, c] > 0.0 else np.float32(0.0)
            tot[c] += x
            tot2[c] += x


@njit(cache=True, nogil=True, inline="always")
def _add_edited(mx, sm, acc, raw, p, with_sum=True):
    """Position ``p``'s edited value ``acc`` into the maximum ``mx`` and (``with_sum``), in place of
    its reference value ``raw[p]``, into the ReLU sum ``sm``."""
    for c in range(mx.shape[0]):
        mx[c] = _fmax(acc[c], mx[c])
    if with_sum:
        for c in range(mx.shape[0]):
            v = acc[c] if acc[c] > 0.0 else np.float32(0.0)
            r = raw[p, c] if raw[p, c] > 0.0 else np.float32(0.0)
            sm[c] += v - r


@njit(cache=True, nogil=True, inline="always")
def _edit_pooled(mx, sm, acc, out, tot, raw, row, tab, codes, e, st, k, lo, hi, inv, mx2, sm2, out2, tot2, inv2,
                 both):
    """Max ``mx`` and mean ``sm`` of the map edited at positions ``lo .. hi-1`` by edit ``e`` (see
    :func:`_edited_value`), given the maximum ``out`` of the map elsewhere (at least 0) and its ReLU
    total ``tot``. With ``both``, also ``mx2``/``sm2`` from ``out2``/``tot2`` (and ``1 / inv2``
    positions): a sub-window whose interior holds the edit's positions, which are computed once."""
    blk = mx.shape[0]
    for c in range(blk):
        mx[c] = out[c]
        sm[c] = tot[c]
    if both:
        for c in range(blk):
            mx2[c] = out2[c]
            sm2[c] = tot2[c]
    for p in range(lo, hi):
        _edited_value(acc, raw, p, row, tab, codes, e, st, k, p)
        _add_edited(mx, sm, acc, raw, p)
        if both:
            _add_edited(mx2, sm2, acc, raw, p)
    for c in range(blk):
        sm[c] *= inv
    if both:
        for c in range(blk):
            sm2[c] *= inv2


@njit(cache=True, nogil=True, inline="always")  # called per position or window: a call costs more than its work
def _edited_value(acc, src, q, row, tab, codes, e, st, k, p):
    """``acc`` = conv position ``p``'s reference value ``src[q]`` plus the weight differences of edit
    ``e`` (``k`` bases ``codes[e]`` at sequence position ``st``): only the detector offsets that fall
    on edited bases change (``min(k, m)`` rows, at least one). ``row`` is the padded reference (index
    ``p + j`` at offset ``j``). Arrays are indexed in place: a row view a position (numba counts its
    references) cost more than the arithmetic in these short loops."""
    m = tab.shape[0]
    j0 = st + m - 1 - p
    j1 = j0 + k
    if j0 < 0:
        j0 = 0
    if j1 > m:
        j1 = m
    cn = codes[e, p + j0 - (m - 1) - st]
    co = row[p + j0]
    for c in range(acc.shape[0]):
        acc[c] = src[q, c] + (tab[j0, cn, c] - tab[j0, co, c])
    for j in range(j0 + 1, j1):
        cn = codes[e, p + j - (m - 1) - st]
        co = row[p + j]
        for c in range(acc.shape[0]):
            acc[c] += tab[j, cn, c] - tab[j, co, c]


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
    Tasks go by column block, then reference, so that a thread reuses each block's table.
    """
    nb = codes.shape[0]
    nblk = table.shape[0]
    blk = table.shape[3]
    for t in prange(nb * nblk):  # references inner: a thread keeps a column block's table in L1 across them
        k = t // nb
        b = t % nb
        e0 = e_offsets[b]
        e1 = e_offsets[b + 1]
        _edit_block(
            codes[b], lengths[b], table[k], thr[k],
            e_start[e0:e1], e_codes[e0:e1], e_len[e0:e1],
            slot[k * blk:(k + 1) * blk], feat[k * blk:(k + 1) * blk], ref_feats, b, alt_feats, e0,
        )
