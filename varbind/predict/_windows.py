"""Scoring of windows cut from shared regions (:func:`score_windows`): nearby windows share one
reference pass on the CPU (see :mod:`varbind.predict.kernels.cpu_regions`); elsewhere the windows
are materialised and scored by :func:`varbind.predict._edits.score_edits`."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from ..bank import ModelBank
from ..sequence import N_CODE, CodeBatch
from ._core import _auto_batch, _check, _pad, _progress, _resolve_device
from ._edits import Edits, EditScores, _edit_features, _sort_edits, _validate_edits, score_edits


class RegionWindows(NamedTuple):
    """Windows of shared regions: window ``i`` is ``regions[region[i]][start[i] : start[i] + length[i]]``."""

    region: np.ndarray  # (W,) int64
    start: np.ndarray  # (W,) int64
    length: np.ndarray  # (W,) int64


class SubWindows(NamedTuple):
    """A shorter window inside some of the windows of :func:`score_windows`, scored from the same pass
    (DeepFind's 51-bp window inside the panel's): window ``i``'s is its ``length`` bases from
    ``start[i]`` (-1: none). ``edits.ref_index`` names a window that has one; ``edits.start`` is
    relative to the sub-window."""

    start: np.ndarray  # (W,) int64
    length: int
    edits: Edits


def _window_batch_cpu(bank: ModelBank, regions: CodeBatch, windows: RegionWindows, edits: Edits,
                      strand_merge: str, sub: SubWindows | None = None) -> list[np.ndarray]:
    """:func:`score_windows` on the CPU for windows sorted by region: reference and edit scores (and
    the sub-windows')."""
    from .kernels import cpu_regions as cpu

    nr, nw = len(regions.lengths), len(windows.start)
    w_offsets = np.searchsorted(windows.region, np.arange(nr + 1)).astype(np.int64)
    order, e_offsets, e_start, e_codes, e_len = _sort_edits(edits, nw)
    w_start = np.ascontiguousarray(windows.start, dtype=np.int64)
    w_len = np.ascontiguousarray(windows.length, dtype=np.int64)
    lengths = regions.lengths.astype(np.int64)
    if sub is None:
        sub = SubWindows(np.full(nw, -1, np.int64), 0, Edits(*(np.zeros(0, np.int64),) * 2, np.zeros((0, 1), np.uint8),
                                                              np.zeros(0, np.int64)))
    s_order, s_offsets, s_start, s_codes, s_len = _sort_edits(sub.edits, nw)
    s_win = np.ascontiguousarray(sub.start, dtype=np.int64)
    rows = [(nw, None), (len(order), order)] + ([(nw, None), (len(s_order), s_order)] if sub.length else [])

    def pool(group, t, ref_feats, alt_feats, sub_ref_feats=None, sub_alt_feats=None):
        if sub_ref_feats is None:
            sub_ref_feats = sub_alt_feats = np.zeros((group.slots, 0, 2 * group.d), np.float32)
        cpu.window_edit_pool(_pad(regions.codes, group.m), lengths, t["table"], t["thr"], t["need_avg"], t["slot"],
                             t["feat"], w_offsets, w_start, w_len, e_offsets, e_start, e_codes, e_len, ref_feats,
                             alt_feats, s_win, int(sub.length), s_offsets, s_start, s_codes, s_len, sub_ref_feats,
                             sub_alt_feats)

    return _edit_features(bank, rows, pool, strand_merge)


def window_codes(regions: CodeBatch, windows: RegionWindows) -> CodeBatch:
    """The windows themselves, as a :class:`CodeBatch` (one row per window)."""
    width = int(windows.length.max()) if len(windows.length) else 0
    j = np.arange(width)
    inside = j[None, :] < windows.length[:, None]
    cols = np.minimum(windows.start[:, None] + j[None, :], regions.codes.shape[1] - 1)
    codes = np.where(inside, regions.codes[windows.region[:, None], cols], N_CODE).astype(np.uint8)
    return CodeBatch(codes, windows.length.astype(np.int64))


def _validate_windows(regions: CodeBatch, windows: RegionWindows, edits: Edits) -> None:
    nw = len(windows.start)
    if nw and (windows.region.min() < 0 or windows.region.max() >= len(regions.lengths)):
        raise ValueError("window region index out of range")
    if nw:
        bad = (windows.start < 0) | (windows.length < 1) | (
            windows.start + windows.length > regions.lengths[windows.region])
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"window {i} [{windows.start[i]}, {windows.start[i] + windows.length[i]}) does not "
                             f"fit its region of length {regions.lengths[windows.region[i]]}")
    _validate_edits(CodeBatch(np.zeros((nw, 0), np.uint8), windows.length), edits)


def score_windows(
    bank: ModelBank,
    regions: CodeBatch,
    windows: RegionWindows,
    edits: Edits,
    *,
    strand_merge: str = "max",
    batch_size: int | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
    sub: SubWindows | None = None,
) -> EditScores | tuple[EditScores, EditScores]:
    """:func:`score_edits` on windows cut from shared regions: nearby windows share one reference pass.

    Each window is scored as its own N-padded sequence (global mode) and ``edits.ref_index`` names a
    window. On the CPU one convolution sweep over each region gives its map, which is a window's map
    except at the ``m - 1`` positions where a detector crosses each end of the window, and at the
    window boundaries the partial sums that correct those; a window then costs its ``2 (m - 1)`` edge
    positions and a range maximum (and a cumulative-sum difference) over its interior, and an edit the
    ``k + m - 1`` positions it touches (see :mod:`varbind.predict.kernels.cpu_regions`). Elsewhere the windows
    are materialised and passed to :func:`score_edits`. Results equal :func:`score_edits` on
    :func:`window_codes` within float32 rounding. Regions should be short (a few kb: the sweep keeps
    a few floats a position, column and window boundary); see :func:`varbind.annotate.windows.cluster_windows`.

    With ``sub`` (:class:`SubWindows`) shorter windows inside some windows are scored from the same
    pass, with their own edits: a lone window's sub-window costs ``4 (m - 1)`` row operations a
    column block beyond the window's pass (its ends from the pass's partial sums; with the window's
    own single edit, both are pooled in one sweep of its rows), one in a shared
    region what a window of the region costs; either way its scores equal those of the sub-window
    scored alone (:func:`score_edits`) within float32 rounding.

    Returns
    -------
    EditScores
        ``ref`` ``(W, M)`` (one row per window) and ``alt`` ``(E, M)``; with ``sub`` a pair, the
        second the sub-windows' (``ref`` ``(W, M)``, rows of windows without one undefined; ``alt``
        per sub-window edit).

    Examples
    --------
    >>> from varbind.bank import ModelBank
    >>> from varbind.params import random_params
    >>> from varbind.sequence import encode_batch
    >>> bank = ModelBank.from_params([random_params(detector_len=6, seed=3)], ["m"])
    >>> regions = encode_batch(["ACGTACGTTTGACCA"])
    >>> wins = RegionWindows(np.array([0, 0]), np.array([0, 5]), np.array([9, 10]))
    >>> edits = Edits(np.array([1]), np.array([2]), np.array([[3]], np.uint8), np.array([1]))
    >>> r = score_windows(bank, regions, wins, edits)
    >>> w = score_edits(bank, window_codes(regions, wins), edits)
    >>> bool(np.allclose(r.ref, w.ref, atol=1e-5) and np.allclose(r.alt, w.alt, atol=1e-5))
    True
    """
    _check("global", strand_merge)
    bank = _resolve_device(bank, device)
    _validate_windows(regions, windows, edits)
    if sub is not None:
        _validate_sub(windows, sub)
    nw = len(windows.start)
    if bank.device.type != "cpu" or nw == 0:
        kw = dict(strand_merge=strand_merge, batch_size=batch_size, progress=progress)
        whole = score_edits(bank, window_codes(regions, windows), edits, **kw)
        if sub is None:
            return whole
        has = np.flatnonzero(sub.start >= 0)
        at = np.full(nw, -1, np.int64)
        at[has] = np.arange(len(has))
        cut = window_codes(regions, RegionWindows(windows.region[has], windows.start[has] + sub.start[has],
                                                  np.full(len(has), sub.length, np.int64)))
        e = sub.edits
        s = score_edits(bank, cut, Edits(at[e.ref_index], e.start, e.codes, e.lengths), **kw)
        ref = np.zeros((nw, len(bank)), np.float32)
        ref[has] = s.ref
        return whole, EditScores(ref, s.alt)
    outs = [np.empty((nw, len(bank)), np.float32), np.empty((len(edits.start), len(bank)), np.float32)]
    if sub is not None:
        outs += [np.zeros((nw, len(bank)), np.float32), np.empty((len(sub.edits.start), len(bank)), np.float32)]
    # windows grouped by region (kernel order); ``order[i]`` is the caller's index of sorted window i
    order = np.argsort(windows.region, kind="stable")
    rank = np.empty(nw, np.int64)
    rank[order] = np.arange(nw)
    width = int(windows.length.max())
    bs = batch_size or max(1, _auto_batch(bank, width, "global") // 4)  # windows a batch, as in score_edits
    region_sorted = windows.region[order]
    offsets = np.searchsorted(region_sorted, np.arange(len(regions.lengths) + 1))
    each = _ByWindow(rank, edits), (_ByWindow(rank, sub.edits) if sub is not None else None)
    with torch.no_grad(), _progress(nw, progress, "window") as bar:
        r0 = 0
        while r0 < len(regions.lengths):  # whole regions, about ``bs`` windows a batch
            r1 = max(r0 + 1, int(np.searchsorted(offsets, offsets[r0] + bs, "right")) - 1)
            i, j = int(offsets[r0]), int(offsets[r1])
            if j > i:
                lengths = regions.lengths[r0:r1]
                b_regions = CodeBatch(regions.codes[r0:r1, : int(lengths.max())], lengths)
                b_windows = RegionWindows(region_sorted[i:j] - r0, windows.start[order[i:j]],
                                          windows.length[order[i:j]])
                sel, b_edits = each[0].of(i, j)
                b_sub = None
                if sub is not None:
                    s_sel, s_edits = each[1].of(i, j)
                    b_sub = SubWindows(sub.start[order[i:j]], sub.length, s_edits)
                got = _window_batch_cpu(bank, b_regions, b_windows, b_edits, strand_merge, b_sub)
                outs[0][order[i:j]], outs[1][sel] = got[0], got[1]
                if sub is not None:
                    outs[2][order[i:j]], outs[3][s_sel] = got[2], got[3]
                bar.update(j - i)
            r0 = r1
    return EditScores(*outs[:2]) if sub is None else (EditScores(*outs[:2]), EditScores(*outs[2:]))


class _ByWindow:
    """Edits of windows ``i .. j - 1`` (in region order) as one slice: ``(their indices, the edits with
    windows renumbered from i)``."""

    def __init__(self, rank: np.ndarray, edits: Edits):
        self.edits, self.win = edits, rank[edits.ref_index]
        self.by_win = np.argsort(self.win, kind="stable")
        self.sorted = self.win[self.by_win]

    def of(self, i: int, j: int) -> tuple[np.ndarray, Edits]:
        sel = self.by_win[np.searchsorted(self.sorted, i) : np.searchsorted(self.sorted, j)]
        e = self.edits
        return sel, Edits(self.win[sel] - i, e.start[sel], e.codes[sel], e.lengths[sel])


def _validate_sub(windows: RegionWindows, sub: SubWindows) -> None:
    has = sub.start >= 0
    if len(sub.start) != len(windows.start):
        raise ValueError("sub-window starts must have one entry per window")
    if sub.length < 1 or (has & (sub.start + sub.length > windows.length)).any():
        raise ValueError(f"sub-windows of {sub.length} bases must lie inside their windows")
    if len(sub.edits.start) and not has[sub.edits.ref_index].all():
        raise ValueError("a sub-window edit names a window without a sub-window")
    _validate_edits(CodeBatch(np.zeros((len(windows.start), 0), np.uint8), np.full(len(windows.start), sub.length)),
                    sub.edits)
