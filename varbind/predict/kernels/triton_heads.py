"""Triton kernel for the GPU: a group's dense layers and strand merge in one pass over its features.

The pooling kernels write a group's features as ``(slots, rows, 2 d)``. Through torch the heads were
a batched product, a bias add, a ReLU, a second product and a bias add per run of models, then the
strand merge and a scatter into the score columns: each a pass over ``(slots, rows, H)`` values in
GPU memory, ~12% of the device's time when ``annotate`` scores SNVs with DeepFind (``torch.profiler``,
H200). Here one program reads a model's features for a block of rows (both strands), keeps the
hidden layer in registers and writes the merged scores straight into their columns.

Every model is written as a hidden layer of ``HP`` units: a linear model is its one output as unit 0
(no ReLU: the floor is ``-inf``; the output weights are ``e_0``). The products are float32 FMAs
(``input_precision="ieee"``, not TF32), in one fixed tile shape, so a row's scores do not depend on
the rows scored with it (tested: a task's scores are the same whatever its size).
"""
from __future__ import annotations

import contextlib
from typing import NamedTuple

import numpy as np
import torch
import triton
import triton.language as tl

#: one tile shape for every batch (a row's scores then never depend on the batch): on the H200, 32,768
#: rows of the 927 DeepBind models took 3.61 ms (torch's heads 10.83 ms; 64 rows and 2 warps 3.68,
#: 32 rows 4.6-6.7 ms; ``benchmarks/heads.py``)
BLOCK_R = 128
NUM_WARPS = 4

#: ``strand_merge`` as the kernel's constant
MERGES = {"forward": 0, "max": 1, "mean": 2}


@triton.jit
def _score_rows(feat_ptr, slot, rows, rmask, ks, hs, N_ROWS, w1_ptr, b1_ptr, w2_ptr, b2_ptr, lo_ptr,
                D2: tl.constexpr, D2P: tl.constexpr, HP: tl.constexpr):
    """One slot's scores of ``rows``: ``sum_h max(f W1 + b1, lo)_h w2_h + b2``."""
    f = tl.load(feat_ptr + slot.to(tl.int64) * N_ROWS * D2 + rows[:, None].to(tl.int64) * D2 + ks[None, :],
                mask=rmask[:, None] & (ks[None, :] < D2), other=0.0)
    w1 = tl.load(w1_ptr + slot * (D2P * HP) + ks[:, None] * HP + hs[None, :])
    h = tl.dot(f, w1, input_precision="ieee") + tl.load(b1_ptr + slot * HP + hs)[None, :]
    h = tl.maximum(h, tl.load(lo_ptr + slot))
    return tl.sum(h * tl.load(w2_ptr + slot * HP + hs)[None, :], axis=1) + tl.load(b2_ptr + slot)


@triton.jit(do_not_specialize=["out_row0", "N_ROWS"])  # one compiled kernel whatever a batch's size
def _heads_jit(feat_ptr, out_ptr, out_row0, OUT_STRIDE, col_ptr, w1_ptr, b1_ptr, w2_ptr, b2_ptr, lo_ptr,
               N_ROWS, MG, N_RC, D2: tl.constexpr, D2P: tl.constexpr, HP: tl.constexpr,
               MERGE: tl.constexpr, BLOCK: tl.constexpr):
    g = tl.program_id(0)  # the group's model g: forward slot g, reverse-complement slot MG + g if g < N_RC
    rows = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    rmask = rows < N_ROWS
    ks = tl.arange(0, D2P)
    hs = tl.arange(0, HP)
    s = _score_rows(feat_ptr, g, rows, rmask, ks, hs, N_ROWS, w1_ptr, b1_ptr, w2_ptr, b2_ptr, lo_ptr, D2, D2P, HP)
    if MERGE != 0:
        if g < N_RC:
            r = _score_rows(feat_ptr, MG + g, rows, rmask, ks, hs, N_ROWS, w1_ptr, b1_ptr, w2_ptr, b2_ptr, lo_ptr,
                            D2, D2P, HP)
            if MERGE == 1:
                s = tl.maximum(s, r)
            else:
                s = (s + r) * 0.5  # exactly torch's (s + r) / 2
    col = tl.load(col_ptr + g)
    tl.store(out_ptr + (out_row0 + rows).to(tl.int64) * OUT_STRIDE + col, s, mask=rmask)


class Heads(NamedTuple):
    """A group's dense layers for :func:`heads_into`, one row per slot (forward models, then the
    reverse-complement ones): ``w1`` ``(slots, D2P, HP)``, ``b1``/``w2`` ``(slots, HP)``, ``b2``
    and the floor ``lo`` ``(slots,)``, the models' score columns ``cols`` ``(Mg,)`` int32."""

    w1: torch.Tensor
    b1: torch.Tensor
    w2: torch.Tensor
    b2: torch.Tensor
    lo: torch.Tensor
    cols: torch.Tensor
    d2: int


def pack(group) -> Heads:
    """The group's heads (:class:`varbind.bank._Head`, both strands) in the kernel's layout."""
    mg, d2 = len(group.models), 2 * group.d
    runs = [(group.head, 0)] + ([(group.head_rc, mg)] if group.n_rc else [])
    hp = max(16, triton.next_power_of_2(max(1 if s.w2 is None else s.w1.shape[2]
                                            for h, _ in runs for s in h.segments)))
    d2p = max(16, triton.next_power_of_2(d2))
    slots = group.slots
    w1 = np.zeros((slots, d2p, hp), np.float32)
    b1, w2 = np.zeros((slots, hp), np.float32), np.zeros((slots, hp), np.float32)
    b2, lo = np.zeros(slots, np.float32), np.zeros(slots, np.float32)
    for head, base in runs:
        for seg in head.segments:
            sl = slice(base + seg.start, base + seg.stop)
            h = seg.w1.shape[2]
            w1[sl, :d2, :h] = seg.w1.cpu().numpy()
            b1[sl, :h] = seg.b1.cpu().numpy()[:, 0]
            if seg.w2 is None:  # linear: the output is unit 0, no ReLU
                w2[sl, 0], lo[sl] = 1.0, -np.inf
            else:
                w2[sl, :h] = seg.w2.cpu().numpy()[:, :, 0]
                b2[sl] = seg.b2.cpu().numpy()[:, 0, 0]
    dev = group.table.device
    t = lambda a: torch.from_numpy(a).to(dev)  # noqa: E731
    return Heads(t(w1), t(b1), t(w2), t(b2), t(lo), t(group.models.astype(np.int32)), d2)


def heads(group) -> Heads:
    """:func:`pack` of ``group``, made once and kept on the group (as its Triton weights)."""
    if "triton_heads" not in group._cache:
        group._cache["triton_heads"] = pack(group)
    return group._cache["triton_heads"]


def heads_into(group, feats: torch.Tensor, out: torch.Tensor, strand_merge: str, row0: int = 0) -> None:
    """Scores of ``feats`` ``(slots, R, 2d)`` (the group's pooled features) written into
    ``out[row0 : row0 + R, group.models]`` (``out`` a contiguous ``(rows, M)`` float32 tensor on the
    same GPU), strands merged as ``strand_merge``: what ``_merge(*_heads(group, feats))`` gives,
    within float32 rounding."""
    h = heads(group)
    n_rows = feats.shape[1]
    if n_rows == 0:
        return
    if not feats.is_contiguous():
        feats = feats.contiguous()
    grid = (len(group.models), triton.cdiv(n_rows, BLOCK_R))
    with torch.cuda.device(feats.device) if feats.device.type == "cuda" else contextlib.nullcontext():  # (interpreter)
        _heads_jit[grid](feats, out, row0, out.stride(0), h.cols, h.w1, h.b1, h.w2, h.b2, h.lo, n_rows,
                         len(group.models), group.n_rc, D2=h.d2, D2P=h.w1.shape[1], HP=h.w1.shape[2],
                         MERGE=MERGES[strand_merge], BLOCK=BLOCK_R, num_warps=NUM_WARPS)
