"""Torch twins of :mod:`varbind.predict.kernels.cpu`, for GPUs (and as an independent cross-check).

Same inputs and outputs as the numba kernels, as tensors on the bank's device. The convolution
runs as ``conv1d`` over a 5-channel code one-hot (A, C, G, T, N) against the lookup table, in full
float32 (TF32 is switched off for the call).
"""
from __future__ import annotations

import contextlib

import torch
from torch.nn import functional as F


@contextlib.contextmanager
def full_fp32():
    """Disable TF32 in cuDNN and cuBLAS for the duration (restores the previous settings)."""
    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old


def _conv_map(codes: torch.Tensor, table: torch.Tensor, thr: torch.Tensor) -> torch.Tensor:
    """ReLU(conv + thr) at every position: codes ``(B, L_pad)`` -> ``(B, cols, L_pad - m + 1)``."""
    nblk, m, _, blk = table.shape
    weight = table.permute(0, 3, 2, 1).reshape(nblk * blk, 5, m)  # (cols, 5, m)
    x = F.one_hot(codes.long(), 5).to(table.dtype).transpose(1, 2)  # (B, 5, L_pad)
    with full_fp32():
        conv = F.conv1d(x, weight)
    return torch.relu(conv + thr.reshape(-1, 1))


def global_pool(codes: torch.Tensor, lengths: torch.Tensor, table: torch.Tensor, thr: torch.Tensor):
    """Max and mean of ReLU(conv + thr) over each sequence's ``n + m - 1`` positions -> ``(B, cols)`` x 2."""
    m = table.shape[1]
    conv = _conv_map(codes, table, thr)
    npos = lengths + m - 1
    valid = torch.arange(conv.shape[-1], device=conv.device)[None, :] < npos[:, None]
    conv = conv * valid[:, None, :]  # ReLU output >= 0, so zeros never raise the max
    return conv.amax(-1), conv.sum(-1) / npos[:, None].to(conv.dtype)


def window_pool(codes, lengths, table, thr, start_offset, need_avg):
    """DeepBind-executable windows (see :func:`varbind.predict.kernels.cpu.window_pool`) -> ``(B, W, cols)`` x 2.

    Like the numba kernel, blocks whose ``need_avg`` is false get mean features of 0 (their models
    have no average pooling, so the heads never read them).
    """
    nb = codes.shape[0]
    nblk, m, _, blk = table.shape
    cols = nblk * blk
    lmax = codes.shape[1] - 2 * (m - 1)
    nwin = max(lmax - m, 1)
    out_max = table.new_zeros((nb, nwin, cols))
    out_avg = table.new_zeros((nb, nwin, cols))
    short = lengths <= m
    if short.any():
        gm, ga = global_pool(codes[short], lengths[short], table, thr)
        out_max[short, 0], out_avg[short, 0] = gm, ga
    if lmax <= m:
        return out_max, out_avg
    tab = table.permute(1, 2, 0, 3).reshape(m, 5, cols)
    tab_e = tab - tab[:, 4:5]
    base = thr.reshape(-1) + tab[:, 4].sum(0)  # (cols,)
    nal = lmax + m - 1
    idx = torch.arange(nal, device=codes.device)[:, None] + torch.arange(m, device=codes.device)[None, :]
    unf = codes.long()[:, idx]  # (B, nal, m)
    contrib = tab_e[torch.arange(m, device=codes.device)[None, None, :], unf]  # (B, nal, m, cols)
    pre = torch.cat([contrib.new_zeros(nb, nal, 1, cols), contrib.cumsum(2)], dim=2)  # (B, nal, m+1, cols)
    off = torch.repeat_interleave(start_offset, blk)  # (cols,)
    w = torch.arange(nwin, device=codes.device)
    a = torch.arange(m, device=codes.device)
    col = torch.arange(cols, device=codes.device)
    # alignments s + a (a >= 0): columns 0 .. m-a-1 inside the window
    r_plus = (w[:, None, None] + a[None, :, None] + off[None, None, :]) + m - 1  # (W, m, cols)
    v_plus = pre[:, r_plus, (m - a)[None, :, None], col[None, None, :]]  # (B, W, m, cols)
    # alignments s - a (a >= 1): columns a .. m-1 inside the window
    a1 = a[1:]
    r_minus = (w[:, None, None] - a1[None, :, None] + off[None, None, :]) + m - 1
    v_minus = pre[:, r_minus, m, col[None, None, :]] - pre[:, r_minus, a1[None, :, None], col[None, None, :]]
    vals = torch.relu(torch.cat([v_plus, v_minus], dim=2) + base)  # (B, W, 2m-1, cols)
    long_ = ~short
    out_max[long_] = vals.amax(2)[long_]
    out_avg[long_] = (vals.sum(2) / (2 * m - 1))[long_]
    out_avg[long_] *= torch.repeat_interleave(need_avg, blk).to(out_avg.dtype)
    return out_max, out_avg
