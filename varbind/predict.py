"""The one batching path: sequences -> codes -> bank kernels -> heads -> strand merge -> scores.

Everything in varbind that scores sequences comes through :func:`score` (whole sequences) or
:func:`score_edits` (reference sequences and same-length edits of them, computed as deltas on the
reference pass). Both do the batching, ``no_grad``, device placement and concatenation.

Modes
-----
``global``
    One forward pass over the whole sequence padded with ``m - 1`` N on both sides (the natural
    CNN semantics; what :class:`varbind.model.DeepBind` computes).
``deepbind``
    Exactly what the published ``deepbind`` v0.1 executable prints: for a sequence longer than
    ``m`` the maximum over the windows of length ``m`` starting at ``0 .. n-m-1``, each scored as
    its own N-padded sequence; otherwise the global pass.

Reverse-complement models score both strands; ``strand_merge`` says how the two are combined:
``"max"`` (DeepBind), ``"mean"`` or ``"forward"`` (forward strand only).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch

from . import _torch_kernels as tk
from .bank import Group, ModelBank
from .sequence import N_CODE, CodeBatch, encode_batch

MODES = ("global", "deepbind")
STRAND_MERGES = ("max", "mean", "forward")

#: floats of kernel output one batch may hold (bounds memory: ~256 MB of float32)
_BUDGET = 64_000_000


class Edits(NamedTuple):
    """Same-length edits of reference sequences.

    Edit ``e`` is reference ``ref_index[e]`` with ``lengths[e]`` codes starting at 0-based
    position ``start[e]`` replaced by ``codes[e, :lengths[e]]``.
    """

    ref_index: np.ndarray  # (E,) int64
    start: np.ndarray  # (E,) int64
    codes: np.ndarray  # (E, K) uint8
    lengths: np.ndarray  # (E,) int64


class RegionWindows(NamedTuple):
    """Windows of shared regions: window ``i`` is ``regions[region[i]][start[i] : start[i] + length[i]]``."""

    region: np.ndarray  # (W,) int64
    start: np.ndarray  # (W,) int64
    length: np.ndarray  # (W,) int64


class EditScores(NamedTuple):
    """Scores of the references ``(B, M)`` and of the edits ``(E, M)``."""

    ref: np.ndarray
    alt: np.ndarray


def _check(mode: str, strand_merge: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if strand_merge not in STRAND_MERGES:
        raise ValueError(f"strand_merge must be one of {STRAND_MERGES}, not {strand_merge!r}")


def _pad(codes, m: int):
    """Frame codes ``(B, L)`` (numpy or torch) with ``m - 1`` N codes on both sides."""
    if isinstance(codes, torch.Tensor):
        return torch.nn.functional.pad(codes, (m - 1, m - 1), value=N_CODE)
    out = np.full((codes.shape[0], codes.shape[1] + 2 * (m - 1)), N_CODE, dtype=np.uint8)
    out[:, m - 1 : m - 1 + codes.shape[1]] = codes
    return out


def _to_slots(group: Group, fmax: torch.Tensor, favg: torch.Tensor) -> torch.Tensor:
    """Column features ``(R, cols)`` (torch kernels) -> slot features ``(slots, R, 2d)``."""
    valid = group.slot >= 0
    slot, feat = group.slot[valid], group.feat[valid]
    feats = fmax.new_zeros((group.slots, fmax.shape[0], 2 * group.d))
    feats[slot, :, feat] = fmax[:, valid].T
    feats[slot, :, group.d + feat] = favg[:, valid].T
    return feats


def _pool(group: Group, codes, lengths, mode: str, device: torch.device,
          backend: str | None = None) -> torch.Tensor:
    """Pooled features of one group as ``(slots, R, 2d)``; ``R`` is ``B`` (global) or ``B * W``
    (deepbind, ``W = max(L - m, 1)`` windows a sequence). ``backend`` is ``"numba"`` (the CPU
    default), ``"triton"`` (the CUDA default for global mode) or ``"torch"`` (any device).
    ``codes`` and ``lengths`` are numpy arrays, or tensors already on ``device``."""
    if isinstance(codes, torch.Tensor) and codes.device != device:
        codes, lengths = codes.cpu().numpy(), lengths.cpu().numpy()
    nb = codes.shape[0]
    nwin = max(codes.shape[1] - group.m, 1)
    backend = backend or _default_backend(device, mode)
    if backend == "numba":
        from . import _cpu_kernels as cpu

        if isinstance(codes, torch.Tensor):
            codes, lengths = codes.numpy(), lengths.numpy()
        padded = _pad(codes, group.m)
        t = group.numpy()
        if mode == "global":
            feats = np.zeros((group.slots, nb, 2 * group.d), np.float32)
            cpu.global_pool(padded, lengths, t["table"], t["thr"], t["slot"], t["feat"], feats)
        else:
            feats = np.zeros((group.slots, nb * nwin, 2 * group.d), np.float32)
            cpu.window_pool(padded, lengths, t["table"], t["thr"], t["start_offset"], t["need_avg"],
                            t["slot"], t["feat"], nwin, feats)
        return torch.from_numpy(feats)
    if not isinstance(codes, torch.Tensor):
        codes, lengths = torch.from_numpy(codes).to(device), torch.from_numpy(lengths).to(device)
    codes_t, lengths_t = _pad(codes, group.m), lengths
    if backend == "triton":
        from . import _triton_kernels

        fmax, favg = _triton_kernels.global_pool(codes_t, lengths_t, group.triton_weights(), group.thr, group.m)
    elif mode == "global":
        fmax, favg = tk.global_pool(codes_t, lengths_t, group.table, group.thr)
    else:
        fmax, favg = tk.window_pool(codes_t, lengths_t, group.table, group.thr, group.start_offset, group.need_avg)
        fmax, favg = fmax.flatten(0, 1), favg.flatten(0, 1)
    return _to_slots(group, fmax, favg)


def _default_backend(device: torch.device, mode: str) -> str:
    if device.type == "cpu":
        return "numba"
    if device.type == "cuda" and mode == "global" and _HAVE_TRITON:
        return "triton"
    return "torch"


try:  # Triton ships with CUDA builds of torch; the CPU wheel has none
    import triton  # noqa: F401

    _HAVE_TRITON = True
except ImportError:
    _HAVE_TRITON = False


def _heads(group: Group, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-strand scores of the group's models: forward ``(R, Mg)``, reverse ``(R, n_rc)``."""
    mg = len(group.models)
    fwd = group.head(feats[:mg]).T
    rev = group.head_rc(feats[mg:]).T if group.n_rc else fwd[:, :0]
    return fwd, rev


def _merge(fwd: torch.Tensor, rev: torch.Tensor, strand_merge: str) -> torch.Tensor:
    n_rc = rev.shape[-1]
    if strand_merge == "forward" or n_rc == 0:
        return fwd
    out = fwd.clone()
    if strand_merge == "max":
        out[..., :n_rc] = torch.maximum(fwd[..., :n_rc], rev)
    else:
        out[..., :n_rc] = (fwd[..., :n_rc] + rev) / 2
    return out


def _score_batch(bank: ModelBank, batch: CodeBatch, mode: str, strand_merge: str) -> np.ndarray:
    nb = batch.codes.shape[0]
    lengths = batch.lengths.astype(np.int64)
    codes: np.ndarray | torch.Tensor = batch.codes
    if bank.device.type != "cpu":  # one transfer in, one out
        codes, lengths = torch.from_numpy(codes).to(bank.device), torch.from_numpy(lengths).to(bank.device)
    out = torch.empty((nb, len(bank)), dtype=torch.float32, device=bank.device)
    for group in bank.groups:
        fwd, rev = _heads(group, _pool(group, codes, lengths, mode, bank.device))
        if mode == "deepbind":
            nwin_max = max(batch.codes.shape[1] - group.m, 1)
            fwd, rev = fwd.reshape(nb, nwin_max, -1), rev.reshape(nb, nwin_max, -1)
            nwin = torch.as_tensor(lengths, device=fwd.device).sub(group.m).clamp_(min=1)
            invalid = torch.arange(nwin_max, device=fwd.device)[None, :] >= nwin[:, None]
            fwd = fwd.masked_fill(invalid[:, :, None], -torch.inf).amax(1)
            rev = rev.masked_fill(invalid[:, :, None], -torch.inf).amax(1)
        out[:, group.models_t(bank.device)] = _merge(fwd, rev, strand_merge)
    return out.cpu().numpy()


def _auto_batch(bank: ModelBank, width: int, mode: str) -> int:
    cols = sum(g.table.shape[0] * g.table.shape[3] for g in bank.groups)
    per_seq = 2 * max(cols, 1) * (max(width, 1) if mode == "deepbind" else 1)
    backend = _default_backend(bank.device, mode)
    if backend == "torch":  # the torch twins materialise the feature map (deepbind: m prefix sums)
        per_seq *= max(width, 1) + bank.max_detector_len
    budget = _BUDGET if bank.device.type == "cpu" else 8 * _BUDGET
    return int(min(8192, max(1, budget // per_seq)))


def _resolve_device(bank: ModelBank, device: str | torch.device | None) -> ModelBank:
    return bank if device is None else bank.to(device)


def _progress(total: int, enabled: bool, unit: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit=unit, disable=not enabled, leave=False, dynamic_ncols=True)


def score(
    bank: ModelBank,
    seqs: Sequence[str] | CodeBatch,
    *,
    mode: str = "global",
    strand_merge: str = "max",
    batch_size: int | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
    start_index: int = 0,
) -> np.ndarray:
    """Score sequences with every model of a bank.

    Parameters
    ----------
    bank : ModelBank
    seqs : sequence of str, or CodeBatch
        DNA/RNA sequences of any lengths (ACGTUN, any case).
    mode : {"global", "deepbind"}
        See the module docstring.
    strand_merge : {"max", "mean", "forward"}
        How the two strands of reverse-complement models are combined.
    batch_size : int, optional
        Sequences per kernel call (default: sized to bound memory).
    device : str or torch.device, optional
        Run on this device (default: the bank's).
    progress : bool
        Show a progress bar.
    start_index : int
        Number of sequences before these in the caller's stream (for error messages only).

    Returns
    -------
    numpy.ndarray, shape (len(seqs), len(bank)), float32

    Raises
    ------
    InvalidSequenceError
        Naming the (1-based) sequence number and the character.

    Examples
    --------
    >>> from varbind.bank import ModelBank
    >>> from varbind.params import random_params
    >>> bank = ModelBank.from_params([random_params(detector_len=8, seed=0)], ["m"])
    >>> s = score(bank, ["ACGTTGCAACGT", "acgttgcaacgt"])
    >>> s.shape, bool(s[0, 0] == s[1, 0])
    ((2, 1), True)
    """
    _check(mode, strand_merge)
    bank = _resolve_device(bank, device)
    n = len(seqs.lengths) if isinstance(seqs, CodeBatch) else len(seqs)
    out = np.empty((n, len(bank)), dtype=np.float32)
    if n == 0:
        return out
    if isinstance(seqs, CodeBatch):
        width = int(seqs.lengths.max())
    else:
        width = max(len(s) for s in seqs)
    bs = batch_size or _auto_batch(bank, width, mode)
    with torch.no_grad(), _progress(n, progress, "seq") as bar:
        for i in range(0, n, bs):
            if isinstance(seqs, CodeBatch):
                lengths = seqs.lengths[i : i + bs]
                batch = CodeBatch(seqs.codes[i : i + bs, : int(lengths.max())], lengths)
            else:
                batch = encode_batch(seqs[i : i + bs], start_index=start_index + i)
            out[i : i + len(batch.lengths)] = _score_batch(bank, batch, mode, strand_merge)
            bar.update(len(batch.lengths))
    return out


def score_frame(bank: ModelBank, seqs: Sequence[str] | CodeBatch, **kwargs):
    """:func:`score` as a ``pandas.DataFrame`` with one column per model ID."""
    import pandas as pd

    return pd.DataFrame(score(bank, seqs, **kwargs), columns=bank.ids)


def _edit_batch_cpu(bank: ModelBank, refs: CodeBatch, edits: Edits, strand_merge: str):
    from . import _cpu_kernels as cpu

    nb = len(refs.lengths)
    order, offsets, e_start, e_codes, e_len = _sort_edits(edits, nb)
    lengths = refs.lengths.astype(np.int64)

    def pool(group, t, ref_feats, alt_feats):
        cpu.edit_pool(_pad(refs.codes, group.m), lengths, t["table"], t["thr"], t["slot"], t["feat"],
                      offsets, e_start, e_codes, e_len, ref_feats, alt_feats)

    return _edit_features(bank, nb, order, pool, strand_merge)


def _sort_edits(edits: Edits, nb: int) -> tuple[np.ndarray, ...]:
    """Edits sorted by reference for the CPU kernels: ``order``, ``offsets`` ``(nb + 1,)``, start, codes, lengths."""
    order = np.argsort(edits.ref_index, kind="stable")
    offsets = np.searchsorted(edits.ref_index[order], np.arange(nb + 1)).astype(np.int64)
    return (order, offsets, np.ascontiguousarray(edits.start[order], dtype=np.int64),
            np.ascontiguousarray(edits.codes[order], dtype=np.uint8),
            np.ascontiguousarray(edits.lengths[order], dtype=np.int64))


def _edit_features(bank: ModelBank, nb: int, order: np.ndarray, pool, strand_merge: str):
    """Per group, ``pool(group, tables, ref_feats, alt_feats)`` fills the features (edits in ``order``);
    the heads turn them into reference ``(nb, M)`` and edit ``(E, M)`` scores in the caller's order."""
    ne = len(order)
    ref_out = np.empty((nb, len(bank)), np.float32)
    alt_out = np.empty((ne, len(bank)), np.float32)
    for group in bank.groups:
        ref_feats = np.zeros((group.slots, nb, 2 * group.d), np.float32)
        alt_feats = np.zeros((group.slots, ne, 2 * group.d), np.float32)
        pool(group, group.numpy(), ref_feats, alt_feats)
        ref_out[:, group.models] = _merge(*_heads(group, torch.from_numpy(ref_feats)), strand_merge).numpy()
        alt_sorted = _merge(*_heads(group, torch.from_numpy(alt_feats)), strand_merge).numpy()
        alt_out[np.ix_(order, group.models)] = alt_sorted
    return ref_out, alt_out


def _snv_scores_triton(bank: ModelBank, refs: CodeBatch, edits: Edits, strand_merge: str,
                       batch_size: int | None) -> EditScores:
    """Single-base substitutions on the GPU: each edit's program computes its reference and the
    substituted base's per-position differences in the same tiles (one pass a variant)."""
    from . import _triton_kernels

    nb, ne = len(refs.lengths), len(edits.start)
    ref_out = np.empty((nb, len(bank)), np.float32)
    alt_out = np.empty((ne, len(bank)), np.float32)
    has_edit = np.zeros(nb, dtype=bool)
    has_edit[edits.ref_index] = True
    if not has_edit.all():  # references nobody edits: plain passes
        idx = np.flatnonzero(~has_edit)
        ref_out[idx] = score(bank, CodeBatch(refs.codes[idx], refs.lengths[idx]), strand_merge=strand_merge)
    bs = batch_size or 8192
    dev = bank.device
    with torch.no_grad():
        for i in range(0, ne, bs):
            sl = slice(i, i + bs)
            used, e_ref = np.unique(edits.ref_index[sl], return_inverse=True)
            lengths = refs.lengths[used]
            codes = torch.from_numpy(refs.codes[used, : int(lengths.max())]).to(dev)
            lengths_t = torch.from_numpy(lengths.astype(np.int64)).to(dev)
            args = [torch.from_numpy(np.asarray(a, dtype=np.int64)).to(dev)
                    for a in (e_ref, edits.start[sl], edits.codes[sl, 0])]
            r = torch.empty((len(args[0]), len(bank)), device=dev)
            a = torch.empty_like(r)
            for group in bank.groups:
                rmax, ravg, amax, aavg = _triton_kernels.snv_pool(
                    _pad(codes, group.m), lengths_t, *args, group.triton_weights(), group.thr, group.m)
                cols = group.models_t(dev)
                r[:, cols] = _merge(*_heads(group, _to_slots(group, rmax, ravg)), strand_merge)
                a[:, cols] = _merge(*_heads(group, _to_slots(group, amax, aavg)), strand_merge)
            alt_out[sl] = a.cpu().numpy()
            ref_out[edits.ref_index[sl]] = r.cpu().numpy()
    return EditScores(ref_out, alt_out)


def apply_edits(refs: CodeBatch, edits: Edits) -> CodeBatch:
    """The edited sequences themselves, as a :class:`CodeBatch` (one row per edit)."""
    codes = refs.codes[edits.ref_index].copy()
    for e in range(len(edits.start)):
        s, k = int(edits.start[e]), int(edits.lengths[e])
        codes[e, s : s + k] = edits.codes[e, :k]
    return CodeBatch(codes, refs.lengths[edits.ref_index].copy())


def _validate_edits(refs: CodeBatch, edits: Edits) -> None:
    if len(edits.start) == 0:
        return
    if edits.ref_index.min() < 0 or edits.ref_index.max() >= len(refs.lengths):
        raise ValueError("edit ref_index out of range")
    n = refs.lengths[edits.ref_index]
    if (edits.start < 0).any() or (edits.start + edits.lengths > n).any() or (edits.lengths < 1).any():
        bad = int(np.flatnonzero((edits.start < 0) | (edits.start + edits.lengths > n) | (edits.lengths < 1))[0])
        raise ValueError(f"edit {bad} [{edits.start[bad]}, {edits.start[bad] + edits.lengths[bad]}) "
                         f"does not fit its reference of length {n[bad]}")


def score_edits(
    bank: ModelBank,
    refs: CodeBatch,
    edits: Edits,
    *,
    strand_merge: str = "max",
    batch_size: int | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> EditScores:
    """Global-mode scores of reference sequences and of same-length edits of them.

    On the CPU each edit costs only the ``k + m - 1`` convolution positions it touches (a delta on
    the reference pass: prefix/suffix maxima and the total of the reference map give the rest);
    elsewhere the edited sequences are scored in full. Results equal :func:`score` on
    :func:`apply_edits` within float32 rounding.

    Examples
    --------
    >>> from varbind.bank import ModelBank
    >>> from varbind.params import random_params
    >>> from varbind.sequence import encode_batch
    >>> bank = ModelBank.from_params([random_params(detector_len=6, seed=3)], ["m"])
    >>> refs = encode_batch(["ACGTACGTTTGA"])
    >>> edits = Edits(np.array([0]), np.array([4]), np.array([[3]], np.uint8), np.array([1]))
    >>> r = score_edits(bank, refs, edits)
    >>> bool(np.allclose(r.alt, score(bank, apply_edits(refs, edits)), atol=1e-5))
    True
    """
    _check("global", strand_merge)
    bank = _resolve_device(bank, device)
    _validate_edits(refs, edits)
    nb = len(refs.lengths)
    ref_out = np.empty((nb, len(bank)), np.float32)
    alt_out = np.empty((len(edits.start), len(bank)), np.float32)
    if bank.device.type != "cpu":
        if _default_backend(bank.device, "global") == "triton" and len(edits.start) and (edits.lengths == 1).all():
            return _snv_scores_triton(bank, refs, edits, strand_merge, batch_size)
        ref_out[:] = score(bank, refs, strand_merge=strand_merge, batch_size=batch_size)
        alt_out[:] = score(bank, apply_edits(refs, edits), strand_merge=strand_merge, batch_size=batch_size)
        return EditScores(ref_out, alt_out)
    width = int(refs.lengths.max()) if nb else 0
    bs = batch_size or max(1, _auto_batch(bank, width, "global") // 4)
    with torch.no_grad(), _progress(nb, progress, "seq") as bar:
        for i in range(0, nb, bs):
            sel = (edits.ref_index >= i) & (edits.ref_index < i + bs)
            lengths = refs.lengths[i : i + bs]
            sub_refs = CodeBatch(refs.codes[i : i + bs, : int(lengths.max())], lengths)
            sub_edits = Edits(edits.ref_index[sel] - i, edits.start[sel], edits.codes[sel], edits.lengths[sel])
            r, a = _edit_batch_cpu(bank, sub_refs, sub_edits, strand_merge)
            ref_out[i : i + len(lengths)] = r
            alt_out[sel] = a
            bar.update(len(lengths))
    return EditScores(ref_out, alt_out)


def _window_batch_cpu(bank: ModelBank, regions: CodeBatch, windows: RegionWindows, edits: Edits,
                      strand_merge: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`score_windows` on the CPU for windows sorted by region."""
    from . import _cpu_kernels as cpu

    nr, nw = len(regions.lengths), len(windows.start)
    w_offsets = np.searchsorted(windows.region, np.arange(nr + 1)).astype(np.int64)
    order, e_offsets, e_start, e_codes, e_len = _sort_edits(edits, nw)
    w_start = np.ascontiguousarray(windows.start, dtype=np.int64)
    w_len = np.ascontiguousarray(windows.length, dtype=np.int64)
    lengths = regions.lengths.astype(np.int64)

    def pool(group, t, ref_feats, alt_feats):
        cpu.window_edit_pool(_pad(regions.codes, group.m), lengths, t["table"], t["thr"], t["slot"], t["feat"],
                             w_offsets, w_start, w_len, e_offsets, e_start, e_codes, e_len, ref_feats, alt_feats)

    return _edit_features(bank, nw, order, pool, strand_merge)


def window_codes(regions: CodeBatch, windows: RegionWindows) -> CodeBatch:
    """The windows themselves, as a :class:`CodeBatch` (one row per window)."""
    width = int(windows.length.max()) if len(windows.length) else 0
    codes = np.full((len(windows.start), width), N_CODE, np.uint8)
    for i, (r, s, n) in enumerate(zip(windows.region, windows.start, windows.length)):
        codes[i, :n] = regions.codes[r, s : s + n]
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
    window. On the CPU each region's prefix table (per detector alignment, the cumulative sums over
    detector columns) is built once; a window's map is then two lookups a position, and an edit costs
    what it costs in :func:`score_edits`. Elsewhere the windows are materialised and passed to
    :func:`score_edits`. Results equal :func:`score_edits` on :func:`window_codes` within float32
    rounding. Regions should be short (a few kb: the prefix table holds ``m + 1`` floats a position
    and column block); see :func:`varbind.variants.cluster_windows`.

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
                sel = (e_win >= i) & (e_win < j)
                sub_edits = Edits(e_win[sel] - i, edits.start[sel], edits.codes[sel], edits.lengths[sel])
                r, a = _window_batch_cpu(bank, sub_regions, sub_windows, sub_edits, strand_merge)
                ref_out[order[i:j]] = r
                alt_out[sel] = a
                bar.update(j - i)
            r0 = r1
    return EditScores(ref_out, alt_out)
