"""Numba kernel for single-base substitutions: the in-silico-mutagenesis case of edit scoring.

:func:`varbind._cpu_kernels.edit_pool` recomputes each of the ``m`` convolution positions an edit
touches from scratch (``m`` table rows each, ``O(m^2)`` per edit). A single-base substitution at
sequence position ``s`` changes exactly one term of each of those positions: position ``p`` sees
the base at detector offset ``j = s + m - 1 - p``, so its pre-activation moves by
``table[j, new] - table[j, old]`` -- ``O(m)`` per edit. Everything else (prefix/suffix maxima of the
reference map for the max, its total for the mean) is as in ``edit_pool``, and so are the
arguments and outputs: :func:`substitution_pool` is a drop-in for ``edit_pool`` when every edit has
length 1 (``varbind.predict`` picks it then).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._cpu_kernels import _scatter


@njit(cache=True, nogil=True)
def _substitution_block(row, n, tab, thr, e_start, e_codes, slot, feat, ref_feats, rb, alt_feats, e0):
    m = tab.shape[0]
    blk = tab.shape[2]
    npos = n + m - 1
    raw = np.empty((npos, blk), dtype=np.float32)  # pre-activation conv + threshold
    pmax = np.empty((npos + 1, blk), dtype=np.float32)
    smax = np.empty((npos + 1, blk), dtype=np.float32)
    tot = np.zeros(blk, dtype=np.float32)
    for c in range(blk):
        pmax[0, c] = 0.0
        smax[npos, c] = 0.0
    for p in range(npos):
        for c in range(blk):
            raw[p, c] = thr[c]
        for j in range(m):
            code = row[p + j]
            for c in range(blk):
                raw[p, c] += tab[j, code, c]
        for c in range(blk):
            v = raw[p, c] if raw[p, c] > 0.0 else np.float32(0.0)
            tot[c] += v
            pmax[p + 1, c] = v if v > pmax[p, c] else pmax[p, c]
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
    ne = e_start.shape[0]
    # per-edit results buffered (edit, column), then written column by column: scattering each
    # edit's columns straight into feats (slots, E, 2d) strides across slots and thrashes the cache
    buf_mx = np.empty((ne, blk), dtype=np.float32)
    buf_sm = np.empty((ne, blk), dtype=np.float32)
    for e in range(ne):
        st = e_start[e]
        new = e_codes[e, 0]
        old = row[st + m - 1]
        lo = st
        hi = st + m
        if hi > npos:
            hi = npos
        for c in range(blk):
            mx[c] = pmax[lo, c] if pmax[lo, c] > smax[hi, c] else smax[hi, c]
            sm[c] = tot[c]
        for p in range(lo, hi):
            j = st + m - 1 - p
            for c in range(blk):
                r = raw[p, c]
                v = r + (tab[j, new, c] - tab[j, old, c])
                if v < 0.0:
                    v = 0.0
                if r > 0.0:
                    sm[c] += v - r
                else:
                    sm[c] += v
                if v > mx[c]:
                    mx[c] = v
        for c in range(blk):
            buf_mx[e, c] = mx[c]
            buf_sm[e, c] = sm[c] * inv
    for c in range(blk):
        s = slot[c]
        if s >= 0:
            f = feat[c]
            for e in range(ne):
                alt_feats[s, e0 + e, f] = buf_mx[e, c]
                alt_feats[s, e0 + e, d + f] = buf_sm[e, c]


@njit(cache=True, parallel=True, nogil=True)
def substitution_pool(codes, lengths, table, thr, slot, feat, e_offsets, e_start, e_codes, e_len,
                      ref_feats, alt_feats):
    """:func:`varbind._cpu_kernels.edit_pool` for edits that all replace one base (``e_len == 1``).

    Same arguments and outputs; ``e_len`` is accepted for the identical signature and not read.
    """
    nb = codes.shape[0]
    nblk = table.shape[0]
    blk = table.shape[3]
    for t in prange(nb * nblk):
        b = t // nblk
        k = t % nblk
        e0 = e_offsets[b]
        e1 = e_offsets[b + 1]
        _substitution_block(
            codes[b], lengths[b], table[k], thr[k], e_start[e0:e1], e_codes[e0:e1],
            slot[k * blk:(k + 1) * blk], feat[k * blk:(k + 1) * blk], ref_feats, b, alt_feats, e0,
        )
