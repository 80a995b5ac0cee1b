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

import contextlib
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


@triton.jit(do_not_specialize=["N_ROWS", "SIZE"])  # one compiled kernel whatever a batch's size
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


#: the code -> one-hot table on each device (threads scoring on several GPUs at once each read their own)
_ONE_HOT: dict[torch.device, torch.Tensor] = {}


def one_hot_padded(codes: torch.Tensor) -> torch.Tensor:
    """Padded codes ``(B, L_pad)`` -> flat fp16 one-hot ``(B, L_pad * 4)`` with N = 0.25."""
    table = _ONE_HOT.get(codes.device)
    if table is None:
        table = torch.zeros(5, 4, dtype=torch.float16, device=codes.device)
        table[torch.arange(4), torch.arange(4)] = 1
        table[4] = 0.25
        _ONE_HOT[codes.device] = table
    return table[codes.long()].reshape(codes.shape[0], -1)


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
    _launch(_conv_pool_kernel, _conv_pool_jit, "conv", nb, cols, codes.device, (k_pad, cols, l_pad), args,
            dict(M=m, K_PAD=k_pad, COLS=cols, BLOCK_K=BLOCK_K))
    return feats


def _launch(tuned, jit, kernel: str, grid_rows: int, cols: int, device, key: tuple, args: tuple, meta: dict) -> None:
    """Launch ``jit`` with the shipped tile choice for this GPU model and ``kernel``
    (:mod:`varbind.predict.kernels.triton_tiles`), else its autotuned form ``tuned``."""
    tile = _tiles.choice(device, kernel, key)
    # Triton launches on the thread's current CUDA device: make it ``device`` (cuda:1 from a thread
    # whose current device is cuda:0 is otherwise refused as "cannot be accessed from Triton")
    with torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext():  # (Triton's interpreter)
        if tile is None:
            _tiles.note_tuning(device)
            tuned[lambda m: (grid_rows, cols // m["BLOCK_C"])](*args, **meta)
            return
        jit[(grid_rows, cols // tile["BLOCK_C"])](*args, **meta, BLOCK_P=tile["BLOCK_P"], BLOCK_C=tile["BLOCK_C"],
                                                    num_warps=tile["num_warps"], num_stages=tile["num_stages"])


def weights(group) -> Weights:
    """A bank group's weights split for these kernels (:func:`prepare`), made once and kept on the group."""
    if "triton" not in group._cache:
        group._cache["triton"] = prepare(group.table, group.slot, group.feat, group.need_avg)
    return group._cache["triton"]
