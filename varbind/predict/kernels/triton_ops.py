"""Triton kernel for the GPU: fused convolution + threshold + ReLU + max/mean pooling (global mode).

The convolution is a matrix product on the tensor cores: the left operand is the transposed
``(columns, 4 m)`` weight matrix, column ``p`` of the right operand is the one-hot window starting at
padded position ``p`` (``4 m`` values, read straight from the padded one-hot sequence, which makes the
operand a Toeplitz view: ``A[k, p] = X[4 p + k]``). Tiles are columns x positions so that pooling over
positions reduces within warps. The one-hot values 0, 1 and 0.25 are exact in
float16; each weight column is scaled by a power of two (exact) so its largest weight is near 2^14,
then split into two float16 parts (``w = hi + lo``, 22 significant bits, both parts normal numbers),
so two float16 products accumulated in float32, times the inverse scale, give the float32
convolution to about 1e-6 relative. ``K`` is padded to a multiple of ``BLOCK_K`` = 16 (the m = 20
detectors, 80 rows, would waste 16 of 96 rows with 32; measured 104,000 -> 115,000 SNVs/s on the H100).
The feature map never leaves the registers: each program keeps the running max of the raw products
(threshold and ReLU are monotone, so they are applied to the max once) and, where a model of the column
block has average pooling, the running sum of ReLU(conv + threshold), and writes two numbers per column.
"""
from __future__ import annotations

import inspect
from typing import NamedTuple

import torch
import triton
import triton.language as tl

from . import triton_tiles as _tiles

BLOCK_K = 16
COL_ALIGN = 256  # columns are padded to this, the largest BLOCK_C


#: tile shapes the autotuner tries (tuned once per detector length and column count); every tile
#: shape costs a compile and a timing run on first use, so only shapes that won somewhere stay
CONFIGS = [
    triton.Config({"BLOCK_P": 64, "BLOCK_C": 128}, num_warps=4, num_stages=3),
    triton.Config({"BLOCK_P": 64, "BLOCK_C": 128}, num_warps=4, num_stages=4),
    triton.Config({"BLOCK_P": 64, "BLOCK_C": 64}, num_warps=4, num_stages=2),
    triton.Config({"BLOCK_P": 128, "BLOCK_C": 128}, num_warps=8, num_stages=2),
    triton.Config({"BLOCK_P": 64, "BLOCK_C": 256}, num_warps=8, num_stages=3),
    triton.Config({"BLOCK_P": 32, "BLOCK_C": 128}, num_warps=4, num_stages=3),  # short windows (DeepFind's 51 bp)
]
#: the autotuner's choices are kept in Triton's cache directory, so later processes skip the timing runs
_AUTOTUNE = {"cache_results": True} if "cache_results" in inspect.signature(triton.autotune).parameters else {}


@triton.jit
def _conv_tile(x_row, pos, npos, w_ptr, cols, M: tl.constexpr, K_PAD: tl.constexpr, COLS: tl.constexpr,
               BLOCK_P: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_K: tl.constexpr):
    """Convolution (scaled, before threshold) of columns ``cols`` x positions ``pos``: the two float16
    weight parts times the one-hot rows read as a Toeplitz matrix, accumulated in float32.

    The tile is columns x positions so that pooling over positions reduces along the accumulator's
    rows, within each warp (positions x columns reduced across warps, which cost more than the
    products: 47,000 -> 57,000 SNVs/s on the H100)."""
    acc = tl.zeros((BLOCK_C, BLOCK_P), dtype=tl.float32)
    for k0 in range(0, K_PAD, BLOCK_K):
        ks = k0 + tl.arange(0, BLOCK_K)
        a_mask = (pos[None, :] < npos) & (ks[:, None] < 4 * M)
        a = tl.load(x_row + 4 * pos[None, :] + ks[:, None], mask=a_mask, other=0.0)
        w_off = ks[None, :] * COLS + cols[:, None]
        acc = tl.dot(tl.load(w_ptr + w_off), a, acc)
        acc = tl.dot(tl.load(w_ptr + K_PAD * COLS + w_off), a, acc)
    return acc


@triton.jit
def _store_slots(out_ptr, slot_ptr, feat_ptr, cols, row, N_ROWS, D, vmax, vavg):
    """Write pooled columns straight into the heads' ``(slots, rows, 2 D)`` layout (no reshuffle)."""
    slot = tl.load(slot_ptr + cols)
    feat = tl.load(feat_ptr + cols)
    dst = out_ptr + slot.to(tl.int64) * (N_ROWS * 2 * D) + row.to(tl.int64) * (2 * D) + feat
    ok = slot >= 0
    tl.store(dst, vmax, mask=ok)
    tl.store(dst + D, vavg, mask=ok)


@triton.jit
def _pooled_segment(x_row, lo, hi, npos, w_ptr, inv, thr, cols, need_avg, run_max, run_sum, M: tl.constexpr,
                    K_PAD: tl.constexpr, COLS: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_C: tl.constexpr,
                    BLOCK_K: tl.constexpr):
    """Pooling over positions ``lo .. hi - 1``: the running max of the scaled convolution (before
    threshold and ReLU, which are monotone: ``ReLU(max * inv + thr)`` is the max pool) and, when the
    block has average pooling (``need_avg``), the running sum of ReLU(conv + thr)."""
    for p0 in range(lo, hi, BLOCK_P):
        pos = p0 + tl.arange(0, BLOCK_P)
        acc = _conv_tile(x_row, pos, npos, w_ptr, cols, M, K_PAD, COLS, BLOCK_P, BLOCK_C, BLOCK_K)
        ok = (pos < hi)[None, :]
        run_max = tl.maximum(run_max, tl.max(tl.where(ok, acc, float("-inf")), axis=1))
        if need_avg:
            run_sum += tl.sum(tl.where(ok, tl.maximum(acc * inv[:, None] + thr[:, None], 0.0), 0.0), axis=1)
    return run_max, run_sum


@triton.jit
def _conv_pool_jit(
    x_ptr,  # (B, L_PAD * 4) fp16: padded one-hot, N = 0.25, positions past the end N too
    len_ptr,  # (B,) int32 sequence lengths
    w_ptr,  # (2, K_PAD, COLS) fp16: hi and lo parts of the scaled weights (rows >= 4m are 0)
    inv_ptr,  # (COLS,) float32 inverse column scales
    thr_ptr,  # (COLS,) float32
    slot_ptr,  # (COLS,) int32 slot of each column (-1: padding)
    feat_ptr,  # (COLS,) int32 detector index of each column
    avg_ptr,  # (COLS,) int32: 1 where the column's model has average pooling
    out_ptr,  # (slots, B, 2 D) float32: max at [slot, b, feat], mean at [slot, b, D + feat]
    L_PAD,
    N_ROWS,
    D,
    SIZE,  # size class of the batch (autotuning key only: small batches favour other tiles)
    M: tl.constexpr,
    K_PAD: tl.constexpr,
    COLS: tl.constexpr,
    BLOCK_P: tl.constexpr,
    BLOCK_C: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    b = tl.program_id(0)
    cb = tl.program_id(1)
    n = tl.load(len_ptr + b)
    npos = n + M - 1
    cols = cb * BLOCK_C + tl.arange(0, BLOCK_C)
    thr = tl.load(thr_ptr + cols)
    inv = tl.load(inv_ptr + cols)
    need_avg = tl.max(tl.load(avg_ptr + cols)) > 0
    x_row = x_ptr + b.to(tl.int64) * (L_PAD * 4)
    run_max = tl.full((BLOCK_C,), float("-inf"), dtype=tl.float32)
    run_sum = tl.zeros((BLOCK_C,), dtype=tl.float32)
    run_max, run_sum = _pooled_segment(x_row, 0, npos, npos, w_ptr, inv, thr, cols, need_avg, run_max, run_sum, M,
                                       K_PAD, COLS, BLOCK_P, BLOCK_C, BLOCK_K)
    _store_slots(out_ptr, slot_ptr, feat_ptr, cols, b, N_ROWS, D, tl.maximum(run_max * inv + thr, 0.0),
                 run_sum / npos.to(tl.float32))


_conv_pool_kernel = triton.autotune(configs=CONFIGS, key=["K_PAD", "COLS", "L_PAD", "SIZE"], **_AUTOTUNE)(_conv_pool_jit)


def size_class(rows: int) -> int:
    """Batches of under 512, under 4,096 and more rows are tuned separately."""
    return 0 if rows < 512 else 1 if rows < 4096 else 2


def split2(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Columns of ``w`` ``(K, C)`` float32 as two float16 parts and the inverse column scale.

    Returns ``(parts (2, K, C) fp16, inv_scale (C,) fp32)`` with ``(parts[0] + parts[1]) * inv_scale``
    equal to ``w`` within ~2^-22 relative (the scales are powers of two, so scaling is exact).

    Examples
    --------
    >>> w = torch.tensor([[0.123456789, -3.3333333], [1e-3, 250.0]])
    >>> parts, inv = split2(w)
    >>> bool((((parts[0].float() + parts[1].float()) * inv - w).abs() <= 1e-6 * w.abs()).all())
    True
    """
    peak = w.abs().amax(0).clamp_min(1e-30)
    exponent = torch.clamp(torch.floor(torch.log2(16384.0 / peak)), -20, 40)
    scaled = w * torch.exp2(exponent)
    hi = scaled.to(torch.float16)
    lo = (scaled - hi.float()).to(torch.float16)
    return torch.stack([hi, lo]), torch.exp2(-exponent).float()


class Weights(NamedTuple):
    """A group's weights for the kernels: ``parts`` (2, K_PAD, cols) fp16, ``inv_scale`` (cols,) and
    ``w32`` (K_PAD, cols) float32 (the exact weights, for per-position differences)."""

    parts: torch.Tensor
    inv_scale: torch.Tensor
    w32: torch.Tensor
    slot: torch.Tensor  # (cols,) int32, -1 for padding columns
    feat: torch.Tensor  # (cols,) int32
    avg: torch.Tensor  # (cols,) int32, 1 where the column's model has average pooling


def prepare(table: torch.Tensor, slot: torch.Tensor, feat: torch.Tensor, need_avg: torch.Tensor) -> Weights:
    """Group lookup table ``(nblk, m, 5, BLK)`` and its blocks' ``need_avg`` ``(nblk,)`` -> :class:`Weights`
    (columns padded to ``COL_ALIGN``).

    Row ``4 j + b`` holds base ``b`` at offset ``j``; the N row is not needed because an N column of
    the one-hot input is 0.25 in all four rows.
    """
    nblk, m, _, blk = table.shape
    w = table[:, :, :4, :].permute(1, 2, 0, 3).reshape(4 * m, nblk * blk)
    k_pad = -(-4 * m // BLOCK_K) * BLOCK_K
    c_pad = -(-w.shape[1] // COL_ALIGN) * COL_ALIGN
    w = torch.nn.functional.pad(w.float(), (0, c_pad - w.shape[1], 0, k_pad - 4 * m))
    parts, inv_scale = split2(w)
    pad = c_pad - slot.numel()
    slot_p = torch.nn.functional.pad(slot.to(torch.int32), (0, pad), value=-1)
    feat_p = torch.nn.functional.pad(feat.to(torch.int32), (0, pad))
    avg = torch.nn.functional.pad(need_avg.to(torch.int32).repeat_interleave(blk), (0, pad))
    return Weights(parts.contiguous(), inv_scale.contiguous(), w.contiguous(), slot_p.contiguous(), feat_p.contiguous(),
                   avg.contiguous())


def _features(n_slots: int, rows: int, d: int, device) -> torch.Tensor:
    """The kernels' output ``(n_slots, rows, 2 d)``, left uninitialised: every slot of a group has
    its ``d`` columns (:mod:`varbind.bank`), so the kernels write every entry."""
    return torch.empty((n_slots, rows, 2 * d), dtype=torch.float32, device=device)


_ONE_HOT = None


def one_hot_padded(codes: torch.Tensor) -> torch.Tensor:
    """Padded codes ``(B, L_pad)`` -> flat fp16 one-hot ``(B, L_pad * 4)`` with N = 0.25."""
    global _ONE_HOT
    if _ONE_HOT is None or _ONE_HOT.device != codes.device:
        t = torch.zeros(5, 4, dtype=torch.float16, device=codes.device)
        t[torch.arange(4), torch.arange(4)] = 1
        t[4] = 0.25
        _ONE_HOT = t
    return _ONE_HOT[codes.long()].reshape(codes.shape[0], -1)


def global_pool(codes: torch.Tensor, lengths: torch.Tensor, weights: Weights, thr: torch.Tensor, m: int,
                n_slots: int, d: int) -> torch.Tensor:
    """Max and mean of ReLU(conv + thr) per column, as slot features ``(n_slots, B, 2 d)``."""
    nb, l_pad = codes.shape
    _, k_pad, cols = weights.parts.shape
    thr = torch.nn.functional.pad(thr.reshape(-1), (0, cols - thr.numel()))
    x = one_hot_padded(codes)
    feats = _features(n_slots, nb, d, codes.device)
    args = (x, lengths.to(torch.int32), weights.parts, weights.inv_scale, thr, weights.slot, weights.feat,
            weights.avg, feats, l_pad, nb, d, size_class(nb))
    _launch("conv", nb, cols, codes.device, (k_pad, cols, l_pad), args,
            dict(M=m, K_PAD=k_pad, COLS=cols, BLOCK_K=BLOCK_K))
    return feats


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
    # positions st .. st + m - 1 cover the substituted base; on either side of them the alternate's
    # map is the reference's, so those tiles are pooled once for both
    smax = tl.full((BLOCK_C,), float("-inf"), dtype=tl.float32)
    ssum = tl.zeros((BLOCK_C,), dtype=tl.float32)
    if SUB_N > 0:
        # the sub-window: bases s0 .. s1 - 1; its positions s0 .. s1 + m - 2, of which those from
        # s0 + m - 1 to s1 - 1 read only its bases (their values are this window's), the m - 1 at
        # either end read its N padding (computed below)
        s0 = st - SUB_C
        s1 = s0 + SUB_N
        umax = tl.full((BLOCK_C,), float("-inf"), dtype=tl.float32)
        usum = tl.zeros((BLOCK_C,), dtype=tl.float32)
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
    # one small tile computes the m covering positions, for the reference and, with the substituted
    # base's weight differences added, for the alternate
    centre = x_row + 4 * (st + M - 1)
    d0 = tl.where(new == 0, 1.0, tl.where(new == 4, 0.25, 0.0)) - tl.load(centre + 0).to(tl.float32)
    d1 = tl.where(new == 1, 1.0, tl.where(new == 4, 0.25, 0.0)) - tl.load(centre + 1).to(tl.float32)
    d2 = tl.where(new == 2, 1.0, tl.where(new == 4, 0.25, 0.0)) - tl.load(centre + 2).to(tl.float32)
    d3 = tl.where(new == 3, 1.0, tl.where(new == 4, 0.25, 0.0)) - tl.load(centre + 3).to(tl.float32)
    pos = st + tl.arange(0, MP2)
    hm = (pos < st + M)[None, :]
    acc = _conv_tile(x_row, pos, npos, w_ptr, cols, M, K_PAD, COLS, MP2, BLOCK_C, BLOCK_K)
    acc = acc * inv[:, None] + thr[:, None]
    j = st + M - 1 - pos  # offset of the substituted base in the detector at position p
    row = (4 * j)[None, :] * COLS + cols[:, None]
    delta = d0 * tl.load(w32_ptr + row, mask=hm & (d0 != 0.0), other=0.0)
    delta += d1 * tl.load(w32_ptr + row + COLS, mask=hm & (d1 != 0.0), other=0.0)
    delta += d2 * tl.load(w32_ptr + row + 2 * COLS, mask=hm & (d2 != 0.0), other=0.0)
    delta += d3 * tl.load(w32_ptr + row + 3 * COLS, mask=hm & (d3 != 0.0), other=0.0)
    vr = tl.where(hm, tl.maximum(acc, 0.0), 0.0)
    va = tl.where(hm, tl.maximum(acc + delta, 0.0), 0.0)
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
        if (M - 1 > SUB_C) or (SUB_C + M > SUB_N):  # the covering positions reach the sub-window's padding
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


def _launch(kernel: str, grid_rows: int, cols: int, device, key: tuple, args: tuple, meta: dict) -> None:
    """Launch with the shipped tile choice for this GPU model (:mod:`varbind.predict.kernels.triton_tiles`), else autotune."""
    tile = _tiles.choice(device, kernel, key)
    if tile is None:
        _tiles.note_tuning(device)
        tuned = _conv_pool_kernel if kernel == "conv" else _snv_pool_kernel
        tuned[lambda m: (grid_rows, cols // m["BLOCK_C"])](*args, **meta)
        return
    jit = _conv_pool_jit if kernel == "conv" else _snv_pool_jit
    jit[(grid_rows, cols // tile["BLOCK_C"])](*args, **meta, BLOCK_P=tile["BLOCK_P"], BLOCK_C=tile["BLOCK_C"],
                                                num_warps=tile["num_warps"], num_stages=tile["num_stages"])


def snv_pool(codes, lengths, e_ref, e_pos, e_new, weights: Weights, thr, m, n_slots: int, d: int,
             sub: tuple[int, int] | None = None):
    """Global-mode features of references and single-base substitutions, one program per edit.

    Returns ``(n_slots, 2 E, 2 d)`` features: rows ``0 .. E - 1`` are those of each edit's reference
    (computed alongside the edit, in the same tiles), rows ``E .. 2 E - 1`` those of the edits; each
    program pools the positions away from its substitution once for both. With ``sub = (c, n)``
    also, rows ``2 E .. 4 E - 1``, those of the shorter window of ``n`` bases in which the
    substitution is base ``c`` (reference, then edit: DeepFind's 51-bp window inside the panel's),
    from the same tiles: only its ``m - 1`` positions at either end, which read its N padding, are
    computed again. Such a window must lie inside the reference; rows of edits where it does not are
    undefined.
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
        meta.update(SUB_C=int(sub[0]), SUB_N=int(sub[1]))
    _launch("snv", ne, cols, codes.device, (k_pad, cols, l_pad), args, meta)
    return feats


def weights(group) -> Weights:
    """A bank group's weights split for these kernels (:func:`prepare`), made once and kept on the group."""
    if "triton" not in group._cache:
        group._cache["triton"] = prepare(group.table, group.slot, group.feat, group.need_avg)
    return group._cache["triton"]
