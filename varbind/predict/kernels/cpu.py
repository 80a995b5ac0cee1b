"""Numba kernels: fused convolution, threshold, ReLU and pooling on integer-coded sequences.

A one-hot input makes the convolution a table lookup: column ``j`` of a detector contributes
``table[j, code]`` where ``code`` is the base (0-3) or N (4, the mean of the four weights). The
kernels therefore add ``m`` table rows per position instead of multiplying ``4 m`` weights, and keep
a block of ``BLK`` detector columns in registers/L1 while streaming positions.

Shapes (all float32 unless said):

- ``codes``: ``(B, L_pad)`` uint8, each row the sequence framed by ``m - 1`` N codes on both sides
  (and N beyond its length); ``lengths``: ``(B,)`` int64 sequence lengths.
- ``table``: ``(nblk, m, 5, BLK)`` detector lookup table; ``thr``: ``(nblk, BLK)`` thresholds.
- ``slot``, ``feat``: ``(nblk * BLK,)`` int64, where each column's pooled values go: outputs are
  ``feats`` ``(slots, rows, 2d)`` with the max at ``[slot, row, feat]`` and the mean at
  ``[slot, row, d + feat]`` (slot -1: a padding column). A slot is one model on one strand, so the
  dense heads read ``feats`` as a batch of matrices with no reshuffling.

Only the kernel modules know these layouts; :mod:`varbind.bank` builds them. The edit and region
kernels are in :mod:`varbind.predict.kernels.cpu_edits` and :mod:`varbind.predict.kernels.cpu_regions`.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(inline="always")
def _fmax(x, y):
    """``max(x, y)`` of two finite floats, written so that the loops that keep a running maximum
    are vectorised: ``a[c] = x if x > a[c] else a[c]`` is a store of ``a[c]`` back to itself on one
    side, which LLVM turns into a conditional store, and a loop with one is not vectorised (a row of
    64 columns took 38 ns instead of 7 on an AVX2 core). Adding +0.0 (which LLVM may not fold away
    without the no-signed-zeros flag) keeps the store unconditional. The result is exact; only a
    maximum of -0.0 comes out as +0.0."""
    return (x if x > y else y) + np.float32(0.0)


@njit(cache=True, fastmath=False, nogil=True)
def _global_block(row, n, tab, thr, out_max, out_avg):
    m = tab.shape[0]
    blk = tab.shape[2]
    npos = n + m - 1
    acc = np.empty(blk, dtype=np.float32)
    mx = np.zeros(blk, dtype=np.float32)
    sm = np.zeros(blk, dtype=np.float32)
    for p in range(npos):
        for c in range(blk):
            acc[c] = thr[c]
        for j in range(m):
            code = row[p + j]
            for c in range(blk):
                acc[c] += tab[j, code, c]
        for c in range(blk):  # (mx >= 0: the ReLU's floor; see _fmax)
            v = acc[c]
            sm[c] += v if v > 0.0 else np.float32(0.0)
            mx[c] = _fmax(v, mx[c])
    inv = np.float32(1.0) / np.float32(npos)
    for c in range(blk):
        out_max[c] = mx[c]
        out_avg[c] = sm[c] * inv


@njit(cache=True, nogil=True)
def _scatter(mx, av, slot, feat, d, feats, r):
    for c in range(mx.shape[0]):
        s = slot[c]
        if s >= 0:
            feats[s, r, feat[c]] = mx[c]
            feats[s, r, d + feat[c]] = av[c]


@njit(cache=True, parallel=True, nogil=True)
def global_pool(codes, lengths, table, thr, slot, feat, feats):
    """Max and mean of ReLU(conv + thr) over all ``n + m - 1`` positions (``global`` mode).

    Column ``k * BLK + c`` is written to ``feats[slot, b, feat]`` (max) and
    ``feats[slot, b, d + feat]`` (mean), ``feats`` being ``(slots, B, 2d)``; slot -1 is padding.
    """
    nb = codes.shape[0]
    nblk = table.shape[0]
    blk = table.shape[3]
    d = feats.shape[2] // 2
    for t in prange(nb * nblk):
        b = t // nblk
        k = t % nblk
        mx = np.empty(blk, dtype=np.float32)
        av = np.empty(blk, dtype=np.float32)
        _global_block(codes[b], lengths[b], table[k], thr[k], mx, av)
        _scatter(mx, av, slot[k * blk:(k + 1) * blk], feat[k * blk:(k + 1) * blk], d, feats, b)


@njit(cache=True, nogil=True)
def _all_n(tab, thr):
    """The all-N value of each column: threshold + the N row of the detector, ``(blk,)``."""
    base = np.empty(tab.shape[2], dtype=np.float32)
    for c in range(tab.shape[2]):
        base[c] = thr[c]
    for j in range(tab.shape[0]):
        for c in range(tab.shape[2]):
            base[c] += tab[j, 4, c]
    return base


@njit(cache=True, nogil=True)
def _prefix_table(row, n, tab, thr):
    """``base (blk,)``, ``pre (n + m - 1, m + 1, blk)`` of one padded sequence of length ``n``.

    ``base[c]`` is the all-N value (threshold + sum of the N row); with ``e = tab - tab[:, N]``,
    ``pre[t + m - 1, k, c] = sum_{j<k} e[j, code(t + j), c]`` for every alignment ``t = -(m-1) .. n-1``.
    Any N-padded stretch ``[a, b)`` of the sequence then scores ``base + pre[.., hi] - pre[.., lo]``
    at an alignment, ``lo .. hi`` being the detector columns that fall inside the stretch.
    """
    m = tab.shape[0]
    blk = tab.shape[2]
    base = _all_n(tab, thr)
    nal = n + m - 1
    pre = np.empty((nal, m + 1, blk), dtype=np.float32)
    for t in range(nal):
        for c in range(blk):
            pre[t, 0, c] = 0.0
        for j in range(m):
            code = row[t + j]
            for c in range(blk):
                pre[t, j + 1, c] = pre[t, j, c] + (tab[j, code, c] - tab[j, 4, c])
    return base, pre


@njit(cache=True, nogil=True)
def _window_block(row, n, tab, thr, start_offset, need_avg, slot, feat, feats, r0):
    """DeepBind-executable windows for one block: see :func:`window_pool`."""
    m = tab.shape[0]
    blk = tab.shape[2]
    d = feats.shape[2] // 2
    mx = np.empty(blk, dtype=np.float32)
    sm = np.empty(blk, dtype=np.float32)
    if n <= m:
        _global_block(row, n, tab, thr, mx, sm)
        _scatter(mx, sm, slot, feat, d, feats, r0)
        return
    base, pre = _prefix_table(row, n, tab, thr)
    nwin = n - m
    inv = np.float32(1.0) / np.float32(2 * m - 1)
    for w in range(nwin):
        s = w + start_offset
        if need_avg:
            for c in range(blk):
                mx[c] = 0.0
                sm[c] = 0.0
            # alignment t = s + a: detector columns 0 .. m-a-1 fall inside the window
            for a in range(m):
                r = s + a + m - 1
                for c in range(blk):
                    v = base[c] + pre[r, m - a, c]
                    sm[c] += v if v > 0.0 else np.float32(0.0)
                    mx[c] = _fmax(v, mx[c])
            # alignment t = s - a: detector columns a .. m-1 fall inside the window
            for a in range(1, m):
                r = s - a + m - 1
                for c in range(blk):
                    v = base[c] + (pre[r, m, c] - pre[r, a, c])
                    sm[c] += v if v > 0.0 else np.float32(0.0)
                    mx[c] = _fmax(v, mx[c])
            for c in range(blk):
                sm[c] *= inv
        else:
            # max only: max_a ReLU(base + x_a) = ReLU(base + max_a x_a)
            r = s + m - 1
            for c in range(blk):
                mx[c] = pre[r, m, c]
            for a in range(1, m):
                r = s + a + m - 1
                r2 = s - a + m - 1
                for c in range(blk):
                    v = pre[r, m - a, c]
                    v2 = pre[r2, m, c] - pre[r2, a, c]
                    mx[c] = _fmax(v2 if v2 > v else v, mx[c])
            for c in range(blk):
                v = mx[c] + base[c]
                mx[c] = v if v > 0.0 else 0.0
                sm[c] = 0.0
        _scatter(mx, sm, slot, feat, d, feats, r0 + w)


@njit(cache=True, parallel=True, nogil=True)
def window_pool(codes, lengths, table, thr, start_offset, need_avg, slot, feat, nwin, feats):
    """Per-window pooled features with the DeepBind executable's semantics (``deepbind`` mode).

    For a sequence of length ``n > m``, window ``w`` (0 .. n-m-1) is the subsequence starting at
    ``w + start_offset[k]`` of length ``m``, scored as its own sequence padded with ``m - 1`` N on both
    sides. ``start_offset`` is 0 for forward-strand blocks and 1 for blocks holding reverse-complement
    detectors (the reverse strand's windows, mapped onto the forward strand, start at 1 .. n-m).
    For ``n <= m`` window 0 holds the global features of the whole sequence. Blocks whose
    ``need_avg`` is false get mean features of 0. Window ``w`` of sequence ``b`` is row
    ``b * nwin + w`` of ``feats`` ``(slots, B * nwin, 2d)``.
    """
    nb = codes.shape[0]
    nblk = table.shape[0]
    blk = table.shape[3]
    for t in prange(nb * nblk):
        b = t // nblk
        k = t % nblk
        _window_block(
            codes[b], lengths[b], table[k], thr[k], start_offset[k], need_avg[k],
            slot[k * blk:(k + 1) * blk], feat[k * blk:(k + 1) * blk], feats, b * nwin,
        )
