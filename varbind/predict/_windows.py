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


def _window_batch_cpu(bank: ModelBank, regions: CodeBatch, windows: RegionWindows, edits: Edits,
                      strand_merge: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`score_windows` on the CPU for windows sorted by region."""
    from .kernels import cpu_regions as cpu

    nr, nw = len(regions.lengths), len(windows.start)
    w_offsets = np.searchsorted(windows.region, np.arange(nr + 1)).astype(np.int64)
    order, e_offsets, e_start, e_codes, e_len = _sort_edits(edits, nw)
    w_start = np.ascontiguousarray(windows.start, dtype=np.int64)
    w_len = np.ascontiguousarray(windows.length, dtype=np.int64)
    lengths = regions.lengths.astype(np.int64)

    def pool(group, t, ref_feats, alt_feats):
        cpu.window_edit_pool(_pad(regions.codes, group.m), lengths, t["table"], t["thr"], t["need_avg"], t["slot"],
                             t["feat"], w_offsets, w_start, w_len, e_offsets, e_start, e_codes, e_len, ref_feats,
                             alt_feats)

    return _edit_features(bank, nw, order, pool, strand_merge)


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
) -> EditScores:
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

    Returns
    -------
    EditScores
        ``ref`` ``(W, M)`` (one row per window) and ``alt`` ``(E, M)``.

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
    if bank.device.type != "cpu":
        return score_edits(bank, window_codes(regions, windows), edits, strand_merge=strand_merge,
                           batch_size=batch_size, progress=progress)
    nw = len(windows.start)
    ref_out = np.empty((nw, len(bank)), np.float32)
    alt_out = np.empty((len(edits.start), len(bank)), np.float32)
    if nw == 0:
        return EditScores(ref_out, alt_out)
    # windows grouped by region (kernel order); ``order[i]`` is the caller's index of sorted window i
    order = np.argsort(windows.region, kind="stable")
    rank = np.empty(nw, np.int64)
    rank[order] = np.arange(nw)
    e_win = rank[edits.ref_index]
    width = int(windows.length.max())
    bs = batch_size or max(1, _auto_batch(bank, width, "global") // 4)  # windows a batch, as in score_edits
    region_sorted = windows.region[order]
    offsets = np.searchsorted(region_sorted, np.arange(len(regions.lengths) + 1))
    by_win = np.argsort(e_win, kind="stable")  # each batch's edits: one slice, not a scan of all
    e_sorted = e_win[by_win]
    with torch.no_grad(), _progress(nw, progress, "window") as bar:
        r0 = 0
        while r0 < len(regions.lengths):  # whole regions, about ``bs`` windows a batch
            r1 = max(r0 + 1, int(np.searchsorted(offsets, offsets[r0] + bs, "right")) - 1)
            i, j = int(offsets[r0]), int(offsets[r1])
            if j > i:
                lengths = regions.lengths[r0:r1]
                sub_regions = CodeBatch(regions.codes[r0:r1, : int(lengths.max())], lengths)
                sub_windows = RegionWindows(region_sorted[i:j] - r0, windows.start[order[i:j]],
                                            windows.length[order[i:j]])
                sel = by_win[np.searchsorted(e_sorted, i) : np.searchsorted(e_sorted, j)]
                sub_edits = Edits(e_win[sel] - i, edits.start[sel], edits.codes[sel], edits.lengths[sel])
                r, a = _window_batch_cpu(bank, sub_regions, sub_windows, sub_edits, strand_merge)
                ref_out[order[i:j]] = r
                alt_out[sel] = a
                bar.update(j - i)
            r0 = r1
    return EditScores(ref_out, alt_out)
