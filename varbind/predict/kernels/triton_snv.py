"""Triton kernel for single-base substitutions on the GPU (global mode): each edit's program pools
its reference's map once for the reference and the substitution, recomputing only the ``m``
positions that cover the substituted base, and optionally a shorter window around it (DeepFind's
51-bp window inside the panel's 101-bp one) from the same tiles. Tiles, weight layout and launch as
in :mod:`varbind.predict.kernels.triton_ops`.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from .triton_ops import (_AUTOTUNE, BLOCK_K, CONFIGS, Weights, _conv_tile, _features, _launch, _pooled_segment,
                         _store_slots, one_hot_padded, size_class)


@triton.jit
def _conv_tile_within(x_row, pos, npos, lo, hi, w_ptr, cols, M: tl.constexpr, K_PAD: tl.constexpr,
                      COLS: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_K: tl.constexpr):
    """:func:`_conv_tile` of the sequence cut to bases ``lo .. hi - 1`` (N, 0.25, elsewhere): the
    convolution of a shorter window inside this one, at this one's positions."""
    acc = tl.zeros((BLOCK_C, BLOCK_P), dtype=tl.float32)
    for k0 in range(0, K_PAD, BLOCK_K):
        ks = k0 + tl.arange(0, BLOCK_K)
        base = pos[None, :] + ks[:, None] // 4 - (M - 1)  # the base each one-hot row reads
        rows = (ks[:, None] < 4 * M) & (pos[None, :] >= 0) & (pos[None, :] < npos)
        inside = rows & (base >= lo) & (base < hi)
        a = tl.load(x_row + 4 * pos[None, :] + ks[:, None], mask=inside, other=0.0)
        a = tl.where(inside, a, tl.where(rows, 0.25, 0.0)).to(tl.float16)
        w_off = ks[None, :] * COLS + cols[:, None]
        acc = tl.dot(tl.load(w_ptr + w_off), a, acc)
        acc = tl.dot(tl.load(w_ptr + K_PAD * COLS + w_off), a, acc)
    return acc


@triton.jit
def _pooled_segment_sub(x_row, lo, hi, npos, u_lo, u_hi, w_ptr, inv, thr, cols, need_avg, run_max, run_sum,
                        sub_max, sub_sum, M: tl.constexpr, K_PAD: tl.constexpr, COLS: tl.constexpr,
                        BLOCK_P: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_K: tl.constexpr):
    """:func:`_pooled_segment`, and the same pooling of the positions ``u_lo .. u_hi - 1`` among them
    (a sub-window's positions that read only its own bases) into ``sub_max``/``sub_sum``."""
    for p0 in range(lo, hi, BLOCK_P):
        pos = p0 + tl.arange(0, BLOCK_P)
        acc = _conv_tile(x_row, pos, npos, w_ptr, cols, M, K_PAD, COLS, BLOCK_P, BLOCK_C, BLOCK_K)
        ok = (pos < hi)[None, :]
        sub = ok & ((pos >= u_lo) & (pos < u_hi))[None, :]
        run_max = tl.maximum(run_max, tl.max(tl.where(ok, acc, float("-inf")), axis=1))
        sub_max = tl.maximum(sub_max, tl.max(tl.where(sub, acc, float("-inf")), axis=1))
        if need_avg:
            v = tl.maximum(acc * inv[:, None] + thr[:, None], 0.0)
            run_sum += tl.sum(tl.where(ok, v, 0.0), axis=1)
            sub_sum += tl.sum(tl.where(sub, v, 0.0), axis=1)
    return run_max, run_sum, sub_max, sub_sum


@triton.jit
def _end_position(e, s0, s1, M: tl.constexpr):
    """The position of a sub-window's end lane ``e``: ``e < m - 1`` its left end (positions ``s0 ..``),
    else its right end (positions ``s1 ..``)."""
    return tl.where(e < M - 1, s0 + e, s1 + e - (M - 1))


@triton.jit(do_not_specialize=["NE", "SIZE"])  # one compiled kernel whatever a task's size
def _snv_pool_jit(
    x_ptr,  # (B, L_PAD * 4) fp16 padded one-hot of the reference sequences
    len_ptr,  # (B,) int32
    e_ref_ptr,  # (E,) int32 reference of each edit
    e_pos_ptr,  # (E,) int32 0-based position of the substituted base
    e_new_ptr,  # (E,) int32 new code (0-3, 4 = N)
    w_ptr,  # (2, K_PAD, COLS) fp16 split scaled weights
    inv_ptr,  # (COLS,) float32 inverse column scales
    w32_ptr,  # (K_PAD, COLS) float32 weights (for the per-position differences)
    thr_ptr,  # (COLS,)
    slot_ptr,  # (COLS,) int32 (-1: padding)
    feat_ptr,  # (COLS,) int32
    avg_ptr,  # (COLS,) int32: 1 where the column's model has average pooling
    out_ptr,  # (slots, R E, 2 D) float32: rows 0 .. E-1 each edit's reference, E .. 2E-1 the edits (R = 2), then
    # with a sub-window (R = 4) its reference 2E .. 3E-1 and edit 3E .. 4E-1
    L_PAD,
    NE,
    D,
    SIZE,  # size class of the batch (autotuning key only)
    M: tl.constexpr,
    K_PAD: tl.constexpr,
    COLS: tl.constexpr,
    BLOCK_P: tl.constexpr,
    BLOCK_C: tl.constexpr,
    BLOCK_K: tl.constexpr,
    MP2: tl.constexpr,  # m rounded up to a power of two, at least 16: the substitution's tile
    SUB_N: tl.constexpr = 0,  # > 0: also the window of SUB_N bases in which the substitution is base SUB_C
    SUB_C: tl.constexpr = 0,
    # with a sub-window that holds the m covering positions in its interior (the positions that read
    # only its bases), the layout of snv_pool's docstring; constants from _centre_layout (without it
    # the covering positions reach the sub-window's padding):
    CENTRE: tl.constexpr = False,
    C_OFF: tl.constexpr = 0,  # the substitution's tile starts at st + C_OFF (<= 0)
    I_N: tl.constexpr = 0,  # interior positions outside that tile: I_LEFT left of it, the rest right
    I_LEFT: tl.constexpr = 0,
    IP2: tl.constexpr = 16,  # their tile
    EP2: tl.constexpr = 16,  # the sub-window's end positions' tile
):
    e = tl.program_id(0)
    cb = tl.program_id(1)
    b = tl.load(e_ref_ptr + e)
    st = tl.load(e_pos_ptr + e)
    new = tl.load(e_new_ptr + e)
    n = tl.load(len_ptr + b)
    npos = n + M - 1
    cols = cb * BLOCK_C + tl.arange(0, BLOCK_C)
    thr = tl.load(thr_ptr + cols)
    inv = tl.load(inv_ptr + cols)
    x_row = x_ptr + b.to(tl.int64) * (L_PAD * 4)
    need_avg = tl.max(tl.load(avg_ptr + cols)) > 0
    # positions st .. st + m - 1 cover the substituted base; away from them the alternate's map is
    # the reference's, so those tiles are pooled once for both
    smax = tl.full((BLOCK_C,), float("-inf"), dtype=tl.float32)
    ssum = tl.zeros((BLOCK_C,), dtype=tl.float32)
    if SUB_N > 0:
        # the sub-window: bases s0 .. s1 - 1; its positions s0 .. s1 + m - 2, of which those from
        # s0 + m - 1 to s1 - 1 (its interior) read only its bases, so their values are this
        # window's; the m - 1 at either end read its N padding (computed with it cut out)
        s0 = st - SUB_C
        s1 = s0 + SUB_N
        umax = tl.full((BLOCK_C,), float("-inf"), dtype=tl.float32)
        usum = tl.zeros((BLOCK_C,), dtype=tl.float32)
    if CENTRE:
        # tiles of one kind each, so that each is pooled once: the outer positions (the panel's only),
        # the interior (both windows'; the substitution's tile takes what it can) and the end
        # positions (the sub-window's only). Positions of a sub-window that does not lie inside the
        # reference are left out of the interior's tiles (the panel stays right; the sub-window's rows
        # are undefined)
        u_lo = s0 + M - 1
        smax, ssum = _pooled_segment(x_row, 0, u_lo, npos, w_ptr, inv, thr, cols, need_avg, smax, ssum, M, K_PAD,
                                     COLS, BLOCK_P, BLOCK_C, BLOCK_K)
        smax, ssum = _pooled_segment(x_row, s1, npos, npos, w_ptr, inv, thr, cols, need_avg, smax, ssum, M, K_PAD,
                                     COLS, BLOCK_P, BLOCK_C, BLOCK_K)
        lane = tl.arange(0, EP2)
        is_end = lane < 2 * (M - 1)
        acc = _conv_tile_within(x_row, _end_position(lane, s0, s1, M), npos, s0, s1, w_ptr, cols, M, K_PAD, COLS,
                                EP2, BLOCK_C, BLOCK_K)
        umax = tl.maximum(umax, tl.max(tl.where(is_end[None, :], acc, float("-inf")), axis=1))
        if need_avg:
            usum += tl.sum(tl.where(is_end[None, :], tl.maximum(acc * inv[:, None] + thr[:, None], 0.0), 0.0), axis=1)
        if I_N > 0:  # interior positions the substitution's tile does not reach: pooled into both
            lane = tl.arange(0, IP2)
            pos = tl.where(lane < I_LEFT, u_lo + lane, st + C_OFF + MP2 + lane - I_LEFT)
            acc = _conv_tile(x_row, tl.maximum(pos, 0), npos, w_ptr, cols, M, K_PAD, COLS, IP2, BLOCK_C, BLOCK_K)
            ok = ((lane < I_N) & (pos >= 0) & (pos < npos))[None, :]
            imax = tl.max(tl.where(ok, acc, float("-inf")), axis=1)
            smax = tl.maximum(smax, imax)
            umax = tl.maximum(umax, imax)
            if need_avg:
                isum = tl.sum(tl.where(ok, tl.maximum(acc * inv[:, None] + thr[:, None], 0.0), 0.0), axis=1)
                ssum += isum
                usum += isum
        umax = tl.maximum(umax * inv + thr, 0.0)
    elif SUB_N > 0:
        smax, ssum, umax, usum = _pooled_segment_sub(x_row, 0, st, npos, s0 + M - 1, s1, w_ptr, inv, thr, cols,
                                                     need_avg, smax, ssum, umax, usum, M, K_PAD, COLS, BLOCK_P,
                                                     BLOCK_C, BLOCK_K)
        smax, ssum, umax, usum = _pooled_segment_sub(x_row, st + M, npos, npos, s0 + M - 1, s1, w_ptr, inv, thr, cols,
                                                     need_avg, smax, ssum, umax, usum, M, K_PAD, COLS, BLOCK_P,
                                                     BLOCK_C, BLOCK_K)
        for side in range(2):  # the sub-window's ends, its positions away from the substitution
            pos = tl.where(side == 0, s0, s1) + tl.arange(0, MP2)
            acc = _conv_tile_within(x_row, pos, npos, s0, s1, w_ptr, cols, M, K_PAD, COLS, MP2, BLOCK_C, BLOCK_K)
            end = (pos < tl.where(side == 0, s0, s1) + M - 1) & ((pos < st) | (pos >= st + M))
            umax = tl.maximum(umax, tl.max(tl.where(end[None, :], acc, float("-inf")), axis=1))
            if need_avg:
                v = tl.maximum(acc * inv[:, None] + thr[:, None], 0.0)
                usum += tl.sum(tl.where(end[None, :], v, 0.0), axis=1)
        umax = tl.maximum(umax * inv + thr, 0.0)
    else:
        smax, ssum = _pooled_segment(x_row, 0, st, npos, w_ptr, inv, thr, cols, need_avg, smax, ssum, M, K_PAD, COLS,
                                     BLOCK_P, BLOCK_C, BLOCK_K)
        smax, ssum = _pooled_segment(x_row, st + M, npos, npos, w_ptr, inv, thr, cols, need_avg, smax, ssum, M, K_PAD,
                                     COLS, BLOCK_P, BLOCK_C, BLOCK_K)
    smax = tl.maximum(smax * inv + thr, 0.0)
    # one small tile computes the m covering positions (and, with CENTRE, interior positions beside
    # them), for the reference and, with the substituted base's weight differences added, for the alternate
    centre = x_row + 4 * (st + M - 1)
    d0 = tl.where(new == 0, 1.0, tl.where(new == 4, 0.25, 0.0)) - tl.load(centre + 0).to(tl.float32)
    d1 = tl.where(new == 1, 1.0, tl.where(new == 4, 0.25, 0.0)) - tl.load(centre + 1).to(tl.float32)
    d2 = tl.where(new == 2, 1.0, tl.where(new == 4, 0.25, 0.0)) - tl.load(centre + 2).to(tl.float32)
    d3 = tl.where(new == 3, 1.0, tl.where(new == 4, 0.25, 0.0)) - tl.load(centre + 3).to(tl.float32)
    pos = st + C_OFF + tl.arange(0, MP2)
    hm = ((pos >= st) & (pos < st + M))[None, :]
    if CENTRE:
        valid = ((pos >= 0) & (pos < s1) & (pos < npos))[None, :]
        acc = _conv_tile(x_row, tl.maximum(pos, 0), npos, w_ptr, cols, M, K_PAD, COLS, MP2, BLOCK_C, BLOCK_K)
    else:
        valid = hm
        acc = _conv_tile(x_row, pos, npos, w_ptr, cols, M, K_PAD, COLS, MP2, BLOCK_C, BLOCK_K)
    acc = acc * inv[:, None] + thr[:, None]
    j = st + M - 1 - pos  # offset of the substituted base in the detector at position p
    row = (4 * j)[None, :] * COLS + cols[:, None]
    delta = d0 * tl.load(w32_ptr + row, mask=hm & (d0 != 0.0), other=0.0)
    delta += d1 * tl.load(w32_ptr + row + COLS, mask=hm & (d1 != 0.0), other=0.0)
    delta += d2 * tl.load(w32_ptr + row + 2 * COLS, mask=hm & (d2 != 0.0), other=0.0)
    delta += d3 * tl.load(w32_ptr + row + 3 * COLS, mask=hm & (d3 != 0.0), other=0.0)
    vr = tl.where(valid, tl.maximum(acc, 0.0), 0.0)
    va = tl.where(valid, tl.maximum(acc + delta, 0.0), 0.0)
    amax = tl.maximum(smax, tl.max(va, axis=1))
    asum = ssum + tl.sum(va, axis=1)
    rmax = tl.maximum(smax, tl.max(vr, axis=1))
    rsum = ssum + tl.sum(vr, axis=1)
    inv_n = 1.0 / npos.to(tl.float32)
    if SUB_N > 0:
        n_rows = 4 * NE
    else:
        n_rows = 2 * NE
    _store_slots(out_ptr, slot_ptr, feat_ptr, cols, e, n_rows, D, rmax, rsum * inv_n)
    _store_slots(out_ptr, slot_ptr, feat_ptr, cols, NE + e, n_rows, D, amax, asum * inv_n)
    if SUB_N > 0:
        if not CENTRE:  # the covering positions reach the sub-window's padding
            acc = _conv_tile_within(x_row, pos, npos, s0, s1, w_ptr, cols, M, K_PAD, COLS, MP2, BLOCK_C, BLOCK_K)
            acc = acc * inv[:, None] + thr[:, None]
            vr = tl.where(hm, tl.maximum(acc, 0.0), 0.0)
            va = tl.where(hm, tl.maximum(acc + delta, 0.0), 0.0)
        inv_u = 1.0 / (SUB_N + M - 1)
        _store_slots(out_ptr, slot_ptr, feat_ptr, cols, 2 * NE + e, n_rows, D, tl.maximum(umax, tl.max(vr, axis=1)),
                     (usum + tl.sum(vr, axis=1)) * inv_u)
        _store_slots(out_ptr, slot_ptr, feat_ptr, cols, 3 * NE + e, n_rows, D, tl.maximum(umax, tl.max(va, axis=1)),
                     (usum + tl.sum(va, axis=1)) * inv_u)


_snv_pool_kernel = triton.autotune(configs=CONFIGS, key=["K_PAD", "COLS", "L_PAD", "SIZE"], **_AUTOTUNE)(_snv_pool_jit)


def _centre_layout(m: int, c: int, n: int) -> dict:
    """The kernel's constants for a sub-window of ``n`` bases with the substitution at base ``c`` whose
    interior holds the ``m`` covering positions (positions relative to the substitution's first
    covering one: the interior is ``m - 1 - c .. n - c - 1``)."""
    mp2 = max(16, triton.next_power_of_2(m))
    c_off = max(m - 1 - c, m - mp2)  # the substitution's tile: as much of the interior as it holds
    i_left = c_off - (m - 1 - c)
    i_n = i_left + max(0, n - c - (c_off + mp2))
    return dict(CENTRE=True, C_OFF=c_off, I_N=i_n, I_LEFT=i_left, IP2=max(16, triton.next_power_of_2(i_n)),
                EP2=max(16, triton.next_power_of_2(2 * (m - 1))))


def snv_pool(codes, lengths, e_ref, e_pos, e_new, weights: Weights, thr, m, n_slots: int, d: int,
             sub: tuple[int, int] | None = None):
    """Global-mode features of references and single-base substitutions, one program per edit.

    Returns ``(n_slots, 2 E, 2 d)`` features: rows ``0 .. E - 1`` are those of each edit's reference
    (computed alongside the edit, in the same tiles), rows ``E .. 2 E - 1`` those of the edits; each
    program pools the positions away from its substitution once for both. With ``sub = (c, n)``
    also, rows ``2 E .. 4 E - 1``, those of the shorter window of ``n`` bases in which the
    substitution is base ``c`` (reference, then edit: DeepFind's 51-bp window inside the panel's),
    from the same pass: only its ``m - 1`` positions at either end, which read its N padding, are
    computed again. Such a window must lie inside the reference; rows of edits where it does not are
    undefined. When the ``m`` positions covering the substitution lie in its interior (``m - 1 <= c``
    and ``c + m <= n``: every detector of up to 26 bases in DeepFind's 51-bp window), each tile holds
    positions of one kind, pooled once: the outer positions (the panel's alone), the interior (both
    windows'; the substitution's tile takes as much of it as it holds, a tile of its own the rest)
    and the end positions (the sub-window's alone). Pooling a tile twice, under two masks, cost as
    much as the tile's products: on the H200 this layout adds 37% to the kernel alone, pooling the
    panel's tiles for both windows 53-57% (``benchmarks/snv_subwindow.py``). The panel's features
    are those without the sub-window within float32 rounding: positions near the substitution are
    computed in tiles of another shape (whose tensor-core sums round differently), and the mean
    pools sum over other tiles.
    """
    nb, l_pad = codes.shape
    _, k_pad, cols = weights.parts.shape
    thr = torch.nn.functional.pad(thr.reshape(-1), (0, cols - thr.numel()))
    x = one_hot_padded(codes)
    ne = e_ref.shape[0]
    feats = _features(n_slots, (4 if sub else 2) * ne, d, codes.device)
    args = (x, lengths.to(torch.int32), e_ref.to(torch.int32), e_pos.to(torch.int32), e_new.to(torch.int32),
            weights.parts, weights.inv_scale, weights.w32, thr, weights.slot, weights.feat, weights.avg, feats,
            l_pad, ne, d, size_class(ne))
    meta = dict(M=m, K_PAD=k_pad, COLS=cols, BLOCK_K=BLOCK_K, MP2=max(16, triton.next_power_of_2(m)))
    if sub:
        c, n = int(sub[0]), int(sub[1])
        meta.update(SUB_C=c, SUB_N=n)
        if m - 1 <= c and c + m <= n:
            meta.update(_centre_layout(m, c, n))
    _launch(_snv_pool_kernel, _snv_pool_jit, "snv", ne, cols, codes.device, (k_pad, cols, l_pad), args, meta)
    return feats
