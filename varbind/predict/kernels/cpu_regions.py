"""Numba kernels for windows of shared regions (nearby variants): global-mode features of windows
read from one sweep over their region, and of same-length edits of the windows. Layouts as in
:mod:`varbind.predict.kernels.cpu`; an edit's recomputed positions as in :mod:`varbind.predict.kernels.cpu_edits`.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .cpu_edits import _add_edited, _edit_block, _edit_block_sub, _edited_value
from .cpu import _all_n, _fmax, _scatter

#: positions a block of a region's range-maximum table (see :func:`_range_max_block`)
_RB = 16


@njit(cache=True, nogil=True)
def _range_max_block(raw, q0, q1, inpre, insuf, sp):
    """Add rows ``q0 .. q1-1`` of a map ``raw`` ``(npos, blk)``, the block ``q0 // _RB`` (blocks come in
    order), to its range-maximum table: within the block the running maxima from its start
    (``inpre``) and to its end (``insuf``); and the sparse table ``sp[L, b]`` of the maxima of blocks
    ``b .. b + 2**L - 1`` where this block is the last. :func:`_range_max` may then reach row ``q1 - 1``."""
    blk = raw.shape[1]
    run = np.empty(blk, dtype=np.float32)  # running maxima in one row: reading the last row back is slower
    for c in range(blk):
        run[c] = raw[q0, c]
    for q in range(q0, q1):
        for c in range(blk):
            run[c] = _fmax(raw[q, c], run[c])
            inpre[q, c] = run[c]
    b = q0 // _RB
    for c in range(blk):
        sp[0, b, c] = run[c]
        run[c] = raw[q1 - 1, c]
    for q in range(q1 - 1, q0 - 1, -1):
        for c in range(blk):
            run[c] = _fmax(raw[q, c], run[c])
            insuf[q, c] = run[c]
    lv = 1
    while (1 << lv) <= b + 1 and lv < sp.shape[0]:
        b0 = b - (1 << lv) + 1
        h = 1 << (lv - 1)
        for c in range(blk):
            x, y = sp[lv - 1, b0, c], sp[lv - 1, b0 + h, c]
            sp[lv, b0, c] = x if x > y else y
        lv += 1


@njit(cache=True, nogil=True)
def _region_rows(row, e, base, bid, full, bnd, cum, need_avg, t0, t1):
    """Rows ``t0 .. t1-1`` of a region's map and boundary sums, and its cumulative ReLU sum (see
    :func:`_region_block`)."""
    m = e.shape[0]
    blk = e.shape[2]
    acc = np.empty(blk, dtype=np.float32)
    for t in range(t0, t1):
        for c in range(blk):
            acc[c] = 0.0
        for j in range(m):
            if j > 0 and bid[t + j] >= 0:
                b = bid[t + j]
                for c in range(blk):
                    bnd[b, j, c] = acc[c]
            code = row[t + j]
            for c in range(blk):
                acc[c] += e[j, code, c]
        for c in range(blk):
            full[t, c] = base[c] + acc[c]
    if need_avg:
        run = np.empty(blk, dtype=np.float64)  # cum[t0] carried in one row
        for c in range(blk):
            run[c] = cum[t0, c]
        for t in range(t0, t1):
            for c in range(blk):
                run[c] += full[t, c] if full[t, c] > 0.0 else np.float32(0.0)
                cum[t + 1, c] = run[c]


@njit(cache=True, nogil=True, inline="always")  # called per position or window: a call costs more than its work
def _max_rows(mx, a, lo, hi):
    """``mx = max(mx, a[lo:hi])`` per column, by a scan."""
    for q in range(lo, hi):
        for c in range(mx.shape[0]):
            mx[c] = _fmax(a[q, c], mx[c])


@njit(cache=True, nogil=True, inline="always")
def _range_max(mx, raw, inpre, insuf, sp, lo, hi):
    """``mx = max(mx, raw[lo:hi])`` per column, in O(1) a column from the table of :func:`_range_max_block`."""
    if hi <= lo:
        return
    blk = mx.shape[0]
    bl = lo // _RB
    br = (hi - 1) // _RB
    if bl == br:
        _max_rows(mx, raw, lo, hi)
        return
    for c in range(blk):
        x = insuf[lo, c] if insuf[lo, c] > inpre[hi - 1, c] else inpre[hi - 1, c]
        mx[c] = _fmax(x, mx[c])
    nb = br - bl - 1
    if nb > 0:
        lv = 0
        while (2 << lv) <= nb:
            lv += 1
        ba, bb = bl + 1, br - (1 << lv)
        for c in range(blk):
            x = sp[lv, ba, c] if sp[lv, ba, c] > sp[lv, bb, c] else sp[lv, bb, c]
            mx[c] = _fmax(x, mx[c])


@njit(cache=True, nogil=True)
def _region_block(row, n, tab, thr, need_avg, w_start, w_len, e_offsets, e_start, e_codes, e_len, slot, feat,
                  ref_feats, w0, alt_feats, sub_start, sub_len, s_offsets, s_start, s_codes, s_len, sub_ref_feats,
                  sub_alt_feats):
    m = tab.shape[0]
    blk = tab.shape[2]
    nw = w_start.shape[0]
    if nw == 1 and w_start[0] == 0 and w_len[0] == n:  # a lone window: a plain edit block is cheaper
        e0, e1 = e_offsets[w0], e_offsets[w0 + 1]
        if sub_start[0] < 0:
            _edit_block(row, n, tab, thr, e_start[e0:e1], e_codes[e0:e1], e_len[e0:e1], slot, feat,
                        ref_feats, w0, alt_feats, e0)
        else:
            s0, s1 = s_offsets[w0], s_offsets[w0 + 1]
            _edit_block_sub(row, n, tab, thr, e_start[e0:e1], e_codes[e0:e1], e_len[e0:e1], slot, feat,
                            ref_feats, w0, alt_feats, e0, sub_start[0], sub_len, s_start[s0:s1], s_codes[s0:s1],
                            s_len[s0:s1], sub_ref_feats, sub_alt_feats, s0)
        return
    base = _all_n(tab, thr)
    nal = n + m - 1
    # window boundaries, by padded index (region position s is padded index s + m - 1)
    bid = np.full(nal + m, -1, dtype=np.int64)
    nbnd = 0
    for i in range(nw):
        ss = w_start[i] + sub_start[i]  # a sub-window's ends are boundaries too
        for k in range(4 if sub_start[i] >= 0 else 2):
            s = w_start[i] if k == 0 else w_start[i] + w_len[i] if k == 1 else ss if k == 2 else ss + sub_len
            if bid[s + m - 1] < 0:
                bid[s + m - 1] = nbnd
                nbnd += 1
    e = np.empty((m, 5, blk), dtype=np.float32)  # e = tab - tab[:, N]
    for j in range(m):
        for code in range(5):
            for c in range(blk):
                e[j, code, c] = tab[j, code, c] - tab[j, 4, c]
    # the region's map ``full[t] = base + sum_j e[j, code(t + j)]`` (row t: padded alignment t), and at
    # each window boundary s the anti-diagonal ``bnd[bid, a] = sum_{j<a} e[j, code(s - a + j)]``
    # (0 < a < m): the part of alignment s - a left of s, which an alignment across the boundary loses
    # (left edge) or keeps (right edge) when a window is scored as its own N-padded sequence. Both are
    # partial sums of one accumulation, stored as it crosses a boundary.
    full = np.empty((nal, blk), dtype=np.float32)
    bnd = np.empty((nbnd, m, blk), dtype=np.float32)
    nbk = (nal + _RB - 1) // _RB
    levels = 1
    while (1 << levels) <= nbk:
        levels += 1
    inpre = np.empty((nal, blk), dtype=np.float32)
    insuf = np.empty((nal, blk), dtype=np.float32)
    sp = np.empty((levels, nbk, blk), dtype=np.float32)
    # ``cum[t]``: sum of the ReLU map before row t, in float64 (differences stay exact to float32
    # rounding over a region of any length)
    cum = np.zeros((nal + 1, blk if need_avg else 0), dtype=np.float64)
    # the sweep goes by blocks of _RB rows; a window is pooled as soon as the sweep has passed its last
    # row ws + w + m - 2, while what it reads is still in cache: windows in order of their end
    done = np.empty(nw, dtype=np.int64)
    npmax = sub_len
    for i in range(nw):
        done[i] = w_start[i] + w_len[i] + m - 2
        npmax = max(npmax, w_len[i])
    order = np.argsort(done)
    raw = np.empty((npmax + m - 1, blk), dtype=np.float32)  # scratch of _window_pool
    rows = np.empty((6, blk), dtype=np.float32)
    nxt = 0
    for t0 in range(0, nal, _RB):
        t1 = min(t0 + _RB, nal)
        _region_rows(row, e, base, bid, full, bnd, cum, need_avg, t0, t1)
        _range_max_block(full, t0, t1, inpre, insuf, sp)
        while nxt < nw and done[order[nxt]] < t1:
            i = order[nxt]
            _window_pool(row, tab, base, need_avg, full, bnd, bid, inpre, insuf, sp, cum, w_start[i], w_len[i],
                         e_offsets[w0 + i], e_offsets[w0 + i + 1], e_start, e_codes, e_len, slot, feat,
                         ref_feats, w0 + i, alt_feats, raw, rows)
            if sub_start[i] >= 0:  # its sub-window ends within it: the sweep has passed it too
                _window_pool(row, tab, base, need_avg, full, bnd, bid, inpre, insuf, sp, cum,
                             w_start[i] + sub_start[i], sub_len, s_offsets[w0 + i], s_offsets[w0 + i + 1], s_start,
                             s_codes, s_len, slot, feat, sub_ref_feats, w0 + i, sub_alt_feats, raw, rows)
            nxt += 1


@njit(cache=True, nogil=True)
def _window_pool(row, tab, base, need_avg, full, bnd, bid, inpre, insuf, sp, cum, ws, w, e0, e1, e_start, e_codes,
                 e_len, slot, feat, ref_feats, r, alt_feats, raw, rows):
    """Features of the window ``[ws, ws + w)`` of a region (row ``r`` of ``ref_feats``) and of its edits
    ``e0 .. e1`` from the region's map, boundary sums and tables (see :func:`_region_block`). ``raw``
    (at least ``(w + m - 1, blk)``) and ``rows`` ``(6, blk)`` are scratch."""
    lmax, rmax, mx, sm, tot, acc = rows[0], rows[1], rows[2], rows[3], rows[4], rows[5]
    m = tab.shape[0]
    blk = tab.shape[2]
    d = ref_feats.shape[2] // 2
    npos = w + m - 1
    # conv position p (window alignment p - (m - 1)) is region row ws + p; it is an edge position when
    # the detector crosses a window end: p < m - 1 (left edge) or p >= we = max(w, m - 1) (right edge),
    # where the window's map is kept in ``raw``. The interior [m - 1, we) is ``full``.
    we = w if w > m - 1 else m - 1
    bl = bid[ws + m - 1]
    br = bid[ws + w + m - 1]
    wrow = row[ws:]  # the window's padded index q is the region's padded index ws + q
    # maxima start at 0 (the ReLU's floor), so they take the raw map; sums only where a model of the
    # block has average pooling (``need_avg``), else the mean features stay 0
    for c in range(blk):
        lmax[c] = 0.0
        rmax[c] = 0.0
        tot[c] = 0.0
    # edge position p: detector columns lo = m-1-p .. hi-1 (hi = w+m-1-p) fall inside the window
    for p in range(m - 1):
        hi = npos - p
        a = m - 1 - p
        if hi >= m:
            q = ws + p
            for c in range(blk):
                raw[p, c] = full[q, c] - bnd[bl, a, c]
        else:
            for c in range(blk):
                raw[p, c] = base[c] + bnd[br, hi, c] - bnd[bl, a, c]
        for c in range(blk):
            lmax[c] = _fmax(raw[p, c], lmax[c])
    for p in range(we, npos):  # (one store a loop, and maxima through _fmax: both vectorised)
        a = npos - p
        for c in range(blk):
            raw[p, c] = base[c] + bnd[br, a, c]
        for c in range(blk):
            rmax[c] = _fmax(raw[p, c], rmax[c])
    if need_avg:
        for p in range(m - 1):
            for c in range(blk):
                tot[c] += raw[p, c] if raw[p, c] > 0.0 else np.float32(0.0)
        for p in range(we, npos):
            for c in range(blk):
                tot[c] += raw[p, c] if raw[p, c] > 0.0 else np.float32(0.0)
        for c in range(blk):
            tot[c] += np.float32(cum[ws + we, c] - cum[ws + m - 1, c])
    # the reference window: edges, then the interior from the region's tables
    for c in range(blk):
        mx[c] = lmax[c] if lmax[c] > rmax[c] else rmax[c]
    _range_max(mx, full, inpre, insuf, sp, ws + m - 1, ws + we)
    inv = np.float32(1.0) / np.float32(npos)
    for c in range(blk):
        sm[c] = tot[c] * inv
    _scatter(mx, sm, slot, feat, d, ref_feats, r)
    # its edits: positions lo .. hi-1 recomputed, the rest from the edges and range maxima of the
    # interior (lo <= w - 1 < we and hi >= m > m - 1 always)
    for e in range(e0, e1):
        st = e_start[e]
        k = e_len[e]
        lo = st
        hi = st + k + m - 1
        if hi > npos:
            hi = npos
        if lo >= m - 1:
            for c in range(blk):
                mx[c] = lmax[c]
            _range_max(mx, full, inpre, insuf, sp, ws + m - 1, ws + lo)
        else:  # an edit near the window's start: the unaffected part of the left edge
            for c in range(blk):
                mx[c] = 0.0
            _max_rows(mx, raw, 0, lo)
        if hi <= we:
            for c in range(blk):
                mx[c] = _fmax(rmax[c], mx[c])
            _range_max(mx, full, inpre, insuf, sp, ws + hi, ws + we)
        else:
            _max_rows(mx, raw, hi, npos)
        for c in range(blk):
            sm[c] = tot[c]
        for p in range(lo, hi):
            edge = p < m - 1 or p >= we
            src = raw if edge else full
            q = p if edge else ws + p
            _edited_value(acc, src, q, wrow, tab, e_codes, e, st, k, p)
            _add_edited(mx, sm, acc, src, q, need_avg)
        for c in range(blk):
            sm[c] *= inv
        _scatter(mx, sm, slot, feat, d, alt_feats, e)


@njit(cache=True, parallel=True, nogil=True)
def window_edit_pool(codes, lengths, table, thr, need_avg, slot, feat, w_offsets, w_start, w_len, e_offsets,
                     e_start, e_codes, e_len, ref_feats, alt_feats, sub_start, sub_len, s_offsets, s_start, s_codes,
                     s_len, sub_ref_feats, sub_alt_feats):
    """Global-mode features of windows of shared regions, and of same-length edits of the windows.

    ``codes``/``lengths`` are the regions (padded as usual). Windows ``w_offsets[r] .. w_offsets[r+1]``
    lie in region ``r``: window ``i`` is ``region[w_start[i] : w_start[i] + w_len[i]]``, scored as its
    own N-padded sequence (features in ``ref_feats[:, i]``). Edits ``e_offsets[i] .. e_offsets[i+1]``
    belong to window ``i`` (``e_start`` relative to the window's start; see :func:`edit_pool`).

    Per region and column block, one convolution sweep gives the region's map and, at each window
    boundary, the partial sums that turn it into the window's own map at the ``m - 1`` positions
    where the detector crosses each end. A window then costs its ``2 (m - 1)`` edge positions, a range
    maximum over the interior (:func:`_range_max`) and, for blocks with average pooling
    (``need_avg``), a difference of the map's cumulative sum; an edit costs the ``k + m - 1``
    positions it touches, as in :func:`edit_pool`, and range maxima for the rest. Windows are pooled
    during the sweep, as soon as it has passed them. A region holding a single window that covers it
    is scored as in :func:`edit_pool`.

    A window ``i`` with ``sub_start[i] >= 0`` also has a sub-window, its ``sub_len`` bases from
    ``sub_start[i]``, scored the same way from the same sweep (features in ``sub_ref_feats[:, i]``),
    with its edits ``s_offsets[i] .. s_offsets[i+1]`` (``s_start`` relative to the sub-window) in
    ``sub_alt_feats``: DeepFind's 51-bp window inside the panel's. In a lone window its map is the
    window's with its ends completed from the pass's partial sums
    (:func:`varbind.predict.kernels.cpu_edits._edit_block_sub`); in a shared region it is one more
    window of the region.
    """
    nr = codes.shape[0]
    nblk = table.shape[0]
    blk = table.shape[3]
    for t in prange(nr * nblk):  # regions inner: a thread keeps a column block's table in L1 across them
        k = t // nr
        r = t % nr
        w0 = w_offsets[r]
        w1 = w_offsets[r + 1]
        _region_block(
            codes[r], lengths[r], table[k], thr[k], need_avg[k], w_start[w0:w1], w_len[w0:w1], e_offsets,
            e_start, e_codes, e_len, slot[k * blk:(k + 1) * blk], feat[k * blk:(k + 1) * blk],
            ref_feats, w0, alt_feats, sub_start[w0:w1], sub_len, s_offsets, s_start, s_codes, s_len, sub_ref_feats,
            sub_alt_feats,
        )
