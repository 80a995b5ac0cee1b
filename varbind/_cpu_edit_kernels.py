"""Numba kernels for edits and shared regions: global-mode features of reference sequences and of
same-length edits of them (variants, mutation maps), as deltas on one reference pass; and of windows
of a shared region read from one sweep (nearby variants). Layouts as in :mod:`varbind._cpu_kernels`.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._cpu_kernels import _all_n, _scatter


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
            for c in range(blk):
                acc[c] = raw[p, c]
            # only the detector offsets j that fall on edited bases change: add their differences
            j0 = st + m - 1 - p
            j1 = j0 + k
            if j0 < 0:
                j0 = 0
            if j1 > m:
                j1 = m
            for j in range(j0, j1):
                new = e_codes[e, p + j - (m - 1) - st]
                old = row[p + j]
                if new != old:
                    for c in range(blk):
                        acc[c] += tab[j, new, c] - tab[j, old, c]
            for c in range(blk):
                v = acc[c] if acc[c] > 0.0 else np.float32(0.0)
                r = raw[p, c] if raw[p, c] > 0.0 else np.float32(0.0)
                sm[c] += v - r
                if v > mx[c]:
                    mx[c] = v
        for c in range(blk):
            sm[c] *= inv
        _scatter(mx, sm, slot, feat, d, alt_feats, e0 + e)


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


@njit(cache=True, nogil=True)
def _region_block(row, n, tab, thr, w_start, w_len, e_offsets, e_start, e_codes, e_len, slot, feat,
                  ref_feats, w0, alt_feats):
    m = tab.shape[0]
    blk = tab.shape[2]
    nw = w_start.shape[0]
    if nw == 1 and w_start[0] == 0 and w_len[0] == n:  # a lone window: a plain edit block is cheaper
        e0, e1 = e_offsets[w0], e_offsets[w0 + 1]
        _edit_block(row, n, tab, thr, e_start[e0:e1], e_codes[e0:e1], e_len[e0:e1], slot, feat,
                    ref_feats, w0, alt_feats, e0)
        return
    base = _all_n(tab, thr)
    # One sweep over the boundaries s = 0 .. n+m-1 of the region keeps, per column,
    # A[a] = sum_{j<a} e[j, code(s - a + j)] (e = tab - tab[:, N]): the part of alignment s - a
    # left of s, i.e. the prefix table's anti-diagonal pre[s - a, a] (see _prefix_table).
    # A[m] is the whole alignment s - m (``full``); A at each window boundary is kept (``bnd``).
    nal = n + m - 1
    full = np.empty((nal, blk), dtype=np.float32)
    bpos = np.empty(2 * nw, dtype=np.int64)
    for i in range(nw):
        bpos[i] = w_start[i]
        bpos[nw + i] = w_start[i] + w_len[i]
    border = np.argsort(bpos)
    bnd = np.empty((2 * nw, m, blk), dtype=np.float32)
    # ring[t % (m + 1)] accumulates alignment t; at boundary s it holds A[a] for t = s - a
    ring = np.zeros((m + 1, blk), dtype=np.float32)
    ib = 0
    for s in range(nal + 1):
        if s > 0:
            code = row[s + m - 2]  # region position s - 1
            r = s % (m + 1)
            for a in range(1, m + 1):
                r = r - 1 if r > 0 else m  # (s - a) % (m + 1)
                for c in range(blk):
                    ring[r, c] += tab[a - 1, code, c] - tab[a - 1, 4, c]
            r = (s - m) % (m + 1)
            for c in range(blk):
                full[s - 1, c] = ring[r, c]  # alignment s - m, prefix-table row s - 1
            r = s % (m + 1)
            for c in range(blk):
                ring[r, c] = 0.0  # alignment s starts
        while ib < 2 * nw and bpos[border[ib]] == s:
            for a in range(m):
                r = (s - a) % (m + 1)
                for c in range(blk):
                    bnd[border[ib], a, c] = ring[r, c]
            ib += 1
    npmax = 0
    for i in range(nw):
        if w_len[i] > npmax:
            npmax = w_len[i]
    npmax += m - 1
    raw_buf = np.empty((npmax, blk), dtype=np.float32)
    pmax = np.empty((npmax + 1, blk), dtype=np.float32)
    smax = np.empty((npmax + 1, blk), dtype=np.float32)
    tot = np.empty(blk, dtype=np.float32)
    for i in range(nw):
        ws = w_start[i]
        we = ws + w_len[i]
        npos = w_len[i] + m - 1
        raw = raw_buf[:npos]
        for c in range(blk):
            pmax[0, c] = 0.0
            tot[c] = 0.0
        # conv position p of the window is region alignment t = ws - (m-1) + p (full row ws + p);
        # detector columns lo .. hi-1 fall inside the window, the others see its N padding
        for p in range(npos):
            t = ws - (m - 1) + p
            hi = we - t
            lo = ws - t
            if hi >= m:
                for c in range(blk):
                    raw[p, c] = base[c] + full[ws + p, c]
            else:
                for c in range(blk):
                    raw[p, c] = base[c] + bnd[nw + i, hi, c]
            if lo > 0:
                for c in range(blk):
                    raw[p, c] -= bnd[i, lo, c]
            for c in range(blk):
                v = raw[p, c] if raw[p, c] > 0.0 else np.float32(0.0)
                tot[c] += v
                pmax[p + 1, c] = v if v > pmax[p, c] else pmax[p, c]
        e0, e1 = e_offsets[w0 + i], e_offsets[w0 + i + 1]
        # the window's padded index q is the region's padded index ws + q
        _edits_on_map(raw, pmax[: npos + 1], smax[: npos + 1], tot, row[ws:], tab, e_start[e0:e1],
                      e_codes[e0:e1], e_len[e0:e1], slot, feat, ref_feats, w0 + i, alt_feats, e0)


@njit(cache=True, parallel=True, nogil=True)
def window_edit_pool(codes, lengths, table, thr, slot, feat, w_offsets, w_start, w_len, e_offsets, e_start,
                     e_codes, e_len, ref_feats, alt_feats):
    """Global-mode features of windows of shared regions, and of same-length edits of the windows.

    ``codes``/``lengths`` are the regions (padded as usual). Windows ``w_offsets[r] .. w_offsets[r+1]``
    lie in region ``r``: window ``i`` is ``region[w_start[i] : w_start[i] + w_len[i]]``, scored as its
    own N-padded sequence (features in ``ref_feats[:, i]``). Edits ``e_offsets[i] .. e_offsets[i+1]``
    belong to window ``i`` (``e_start`` relative to the window's start; see :func:`edit_pool`).
    The region's prefix table (:func:`_prefix_table`) is built once and each window's map is read
    from it (two lookups a position instead of ``m`` additions); a region holding a single window
    that covers it is scored as in :func:`edit_pool`.
    """
    nr = codes.shape[0]
    nblk = table.shape[0]
    blk = table.shape[3]
    for t in prange(nr * nblk):
        r = t // nblk
        k = t % nblk
        w0 = w_offsets[r]
        w1 = w_offsets[r + 1]
        _region_block(
            codes[r], lengths[r], table[k], thr[k], w_start[w0:w1], w_len[w0:w1], e_offsets,
            e_start, e_codes, e_len, slot[k * blk:(k + 1) * blk], feat[k * blk:(k + 1) * blk],
            ref_feats, w0, alt_feats,
        )
