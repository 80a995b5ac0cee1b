"""Scoring of same-length edits of reference sequences, as deltas on one reference pass (see
:mod:`varbind.predict`); windows of shared regions are in :mod:`varbind.predict._windows`."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from ..bank import ModelBank
from ..sequence import CodeBatch
from ._core import _auto_batch, _check, _default_backend, _heads, _merge, _pad, _progress, _resolve_device, score

class Edits(NamedTuple):
    """Same-length edits of reference sequences.

    Edit ``e`` is reference ``ref_index[e]`` with ``lengths[e]`` codes starting at 0-based
    position ``start[e]`` replaced by ``codes[e, :lengths[e]]``.
    """

    ref_index: np.ndarray  # (E,) int64
    start: np.ndarray  # (E,) int64
    codes: np.ndarray  # (E, K) uint8
    lengths: np.ndarray  # (E,) int64


class EditScores(NamedTuple):
    """Scores of the references ``(B, M)`` and of the edits ``(E, M)``."""

    ref: np.ndarray
    alt: np.ndarray


def _edit_batch_cpu(bank: ModelBank, refs: CodeBatch, edits: Edits, strand_merge: str):
    from .kernels import cpu_edits as cpu

    nb = len(refs.lengths)
    order, offsets, e_start, e_codes, e_len = _sort_edits(edits, nb)
    lengths = refs.lengths.astype(np.int64)

    def pool(group, t, ref_feats, alt_feats):
        cpu.edit_pool(_pad(refs.codes, group.m), lengths, t["table"], t["thr"], t["slot"], t["feat"],
                      offsets, e_start, e_codes, e_len, ref_feats, alt_feats)

    return _edit_features(bank, [(nb, None), (len(order), order)], pool, strand_merge)


def _sort_edits(edits: Edits, nb: int) -> tuple[np.ndarray, ...]:
    """Edits sorted by reference for the CPU kernels: ``order``, ``offsets`` ``(nb + 1,)``, start, codes, lengths."""
    order = np.argsort(edits.ref_index, kind="stable")
    offsets = np.searchsorted(edits.ref_index[order], np.arange(nb + 1)).astype(np.int64)
    return (order, offsets, np.ascontiguousarray(edits.start[order], dtype=np.int64),
            np.ascontiguousarray(edits.codes[order], dtype=np.uint8),
            np.ascontiguousarray(edits.lengths[order], dtype=np.int64))


def _edit_features(bank: ModelBank, rows: list[tuple[int, np.ndarray | None]], pool, strand_merge: str
                   ) -> list[np.ndarray]:
    """Per group, ``pool(group, tables, *feats)`` fills one feature array per entry ``(n, order)`` of
    ``rows`` (references, edits, ...); the heads turn each into ``(n, M)`` scores, rows in the caller's
    order (row ``i`` of the features is the caller's ``order[i]``; ``None``: the same)."""
    outs = [np.empty((n, len(bank)), np.float32) for n, _ in rows]
    for group in bank.groups:
        feats = [np.zeros((group.slots, n, 2 * group.d), np.float32) for n, _ in rows]
        pool(group, group.numpy(), *feats)
        for out, f, (_, order) in zip(outs, feats, rows):
            scores = _merge(*_heads(group, torch.from_numpy(f)), strand_merge).numpy()
            if order is None:
                out[:, group.models] = scores
            else:
                out[np.ix_(order, group.models)] = scores
    return outs


def _snv_scores_triton(bank: ModelBank, refs: CodeBatch, edits: Edits, strand_merge: str,
                       batch_size: int | None, to_host: bool = True, sub: tuple[int, int] | None = None
                       ) -> EditScores:
    """Single-base substitutions on the GPU: each edit's program computes its reference and the
    substituted base's per-position differences in the same tiles (one pass a variant).

    Batches are pipelined: while the GPU scores batch ``k``, a second stream copies batch ``k - 1``'s
    scores into pinned memory and the host spreads them into the outputs (nothing waits on the GPU
    but that copy). Without ``to_host`` the scores stay on the GPU (torch tensors, nothing copied).
    With ``sub`` (and ``to_host=False``) the result is ``(scores, sub_scores)``, see
    :func:`score_snvs_with_subwindow`."""
    from .kernels import triton_heads, triton_ops, triton_snv

    nb, ne = len(refs.lengths), len(edits.start)
    dev, nm = bank.device, len(bank)
    if to_host:
        ref_out = np.empty((nb, nm), np.float32)
        alt_out = np.empty((ne, nm), np.float32)
    else:
        ref_out = torch.empty((nb, nm), dtype=torch.float32, device=dev)
        alt_out = torch.empty((ne, nm), dtype=torch.float32, device=dev)
    if sub is not None:
        sub_ref = torch.empty((ne, nm), dtype=torch.float32, device=dev)
        sub_alt = torch.empty((ne, nm), dtype=torch.float32, device=dev)
    has_edit = np.zeros(nb, dtype=bool)
    has_edit[edits.ref_index] = True
    if not has_edit.all():  # references nobody edits: plain passes
        idx = np.flatnonzero(~has_edit)
        plain = score(bank, CodeBatch(refs.codes[idx], refs.lengths[idx]), strand_merge=strand_merge)
        if to_host:
            ref_out[idx] = plain
        else:
            ref_out[torch.from_numpy(idx).to(dev)] = torch.from_numpy(plain).to(dev)
    if ne == 0:
        return EditScores(ref_out, alt_out) if sub is None else (EditScores(ref_out, alt_out),
                                                                 EditScores(sub_ref, sub_alt))
    bs = min(batch_size or 8192, ne)
    if to_host:
        copier = torch.cuda.Stream(dev)
        host = [torch.empty(2 * bs * nm, dtype=torch.float32, pin_memory=True) for _ in range(2)]
        copied = [torch.cuda.Event(), torch.cuda.Event()]

    def collect(k: int, sl: slice) -> None:
        copied[k].synchronize()
        out = host[k][: 2 * (sl.stop - sl.start) * nm].view(2, -1, nm).numpy()
        ref_out[edits.ref_index[sl]] = out[0]
        alt_out[sl] = out[1]

    def to_dev(a: np.ndarray) -> torch.Tensor:  # through pinned memory: the host does not wait for the GPU
        return torch.from_numpy(np.ascontiguousarray(a)).pin_memory().to(dev, non_blocking=True)

    pending = None
    with torch.no_grad():
        for k, i in enumerate(range(0, ne, bs)):
            sl, buf = slice(i, min(i + bs, ne)), k % 2
            n = sl.stop - sl.start
            used, e_ref = np.unique(edits.ref_index[sl], return_inverse=True)
            lengths = refs.lengths[used]
            codes = to_dev(refs.codes[used, : int(lengths.max())])
            lengths_t = to_dev(lengths.astype(np.int64))
            args = [to_dev(np.asarray(a, dtype=np.int64)) for a in (e_ref, edits.start[sl], edits.codes[sl, 0])]
            # each edit's reference, then the edits (then the sub-window's reference and edit)
            out = torch.empty(((2 if sub is None else 4) * n, nm), device=dev)
            for group in bank.groups:
                feats = triton_snv.snv_pool(_pad(codes, group.m), lengths_t, *args, triton_ops.weights(group),
                                            group.thr, group.m, group.slots, group.d, sub=sub)
                triton_heads.heads_into(group, feats, out, strand_merge)
            if not to_host:
                ref_out[to_dev(edits.ref_index[sl].astype(np.int64))] = out[:n]
                alt_out[sl] = out[n : 2 * n]
                if sub is not None:
                    sub_ref[sl], sub_alt[sl] = out[2 * n : 3 * n], out[3 * n :]
                continue
            copier.wait_stream(torch.cuda.current_stream(dev))
            with torch.cuda.stream(copier):
                host[buf][: 2 * n * nm].copy_(out.view(-1), non_blocking=True)
                out.record_stream(copier)
                copied[buf].record(copier)
            if pending is not None:
                collect(*pending)
            pending = (buf, sl)
        if pending is not None:
            collect(*pending)
    return EditScores(ref_out, alt_out) if sub is None else (EditScores(ref_out, alt_out), EditScores(sub_ref, sub_alt))


def _full_passes(bank: ModelBank, refs: CodeBatch, edits: Edits, which: np.ndarray, strand_merge: str,
                 batch_size: int | None) -> np.ndarray:
    """Scores ``(n, M)`` of the edits ``which`` (a mask) as full passes over their edited windows."""
    other = np.flatnonzero(which)
    used, local = np.unique(edits.ref_index[other], return_inverse=True)
    sub = CodeBatch(refs.codes[used], refs.lengths[used])
    return score(bank, apply_edits(sub, Edits(local.astype(np.int64), edits.start[other], edits.codes[other],
                                              edits.lengths[other])), strand_merge=strand_merge, batch_size=batch_size)


def _triton_edits(bank: ModelBank, refs: CodeBatch, edits: Edits, strand_merge: str, batch_size: int | None,
                  to_host: bool = True, sub: tuple[int, int] | None = None):
    """Edits on the GPU: single-base substitutions through the Triton SNV kernel (with ``sub``, and
    their shorter windows, see :func:`score_snvs_with_subwindow`), the others as full passes over
    their windows only (their ``sub`` rows NaN). Returns what :func:`_snv_scores_triton` returns."""
    snv = edits.lengths == 1
    if snv.all():
        return _snv_scores_triton(bank, refs, edits, strand_merge, batch_size, to_host, sub)
    got = _snv_scores_triton(bank, refs, Edits(*(x[snv] for x in edits)), strand_merge, batch_size, to_host, sub)
    r, s = got if sub is not None else (got, None)
    full = _full_passes(bank, refs, edits, ~snv, strand_merge, batch_size)
    nm, ne = len(bank), len(edits.start)
    if to_host:
        alt = np.empty((ne, nm), np.float32)
        alt[snv], alt[~snv] = r.alt, full
        return EditScores(r.ref, alt)
    dev = bank.device
    at, other = (torch.from_numpy(np.flatnonzero(x)).to(dev) for x in (snv, ~snv))
    alt = torch.empty((ne, nm), dtype=torch.float32, device=dev)
    alt[at], alt[other] = r.alt, torch.from_numpy(full).to(dev)
    if s is None:
        return EditScores(r.ref, alt)
    sub_ref, sub_alt = (torch.full((ne, nm), float("nan"), device=dev) for _ in range(2))
    sub_ref[at], sub_alt[at] = s.ref, s.alt
    return EditScores(r.ref, alt), EditScores(sub_ref, sub_alt)


def score_snvs_with_subwindow(bank: ModelBank, refs: CodeBatch, edits: Edits, centre: int, length: int, *,
                              strand_merge: str = "max", batch_size: int | None = None
                              ) -> tuple[EditScores, EditScores]:
    """:func:`score_edits` of single-base substitutions on a GPU (Triton), and in the same pass the
    scores of a shorter window around each: the ``length`` bases of its reference in which the
    substitution is base ``centre``, as its own N-padded sequence, before and after the substitution
    (DeepFind's 51-bp windows inside the panel's 101-bp ones). The shorter window's positions that read
    only its bases are the longer one's, so only the ``m - 1`` at either end are computed again.
    Other edits are scored as :func:`score_edits` scores them (full passes); their ``sub`` rows are NaN.

    Returns ``(scores, sub)``: ``scores`` as :func:`score_edits` with ``to_host=False`` (tensors on the
    GPU: ``ref`` a row per reference, ``alt`` a row per edit; equal to it within float32 rounding, as
    some positions are computed in tiles of another shape) and ``sub``, a row per edit, ``ref``
    of its shorter window and ``alt`` of it substituted; equal to :func:`score_edits` on those windows
    within float32 rounding. Rows of edits whose shorter window does not lie inside their reference
    are undefined (the caller scores those windows on their own).
    """
    _check("global", strand_merge)
    _validate_edits(refs, edits)
    if bank.device.type != "cuda" or _default_backend(bank.device, "global") != "triton":
        raise ValueError("score_snvs_with_subwindow needs the Triton kernels (a CUDA device)")
    if not 0 <= centre < length:
        raise ValueError(f"centre {centre} is not in a window of {length} bases")
    return _triton_edits(bank, refs, edits, strand_merge, batch_size, to_host=False, sub=(centre, length))


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
    to_host: bool = True,
) -> EditScores:
    """Global-mode scores of reference sequences and of same-length edits of them.

    On the CPU each edit costs only the ``k + m - 1`` convolution positions it touches (a delta on
    the reference pass: prefix/suffix maxima and the total of the reference map give the rest); on a
    GPU single-base edits are scored in the reference's own pass (Triton), other edits in full. Results equal :func:`score` on
    :func:`apply_edits` within float32 rounding. With ``to_host=False`` on a GPU the scores stay
    there (float32 torch tensors on the bank's device: the same numbers, not copied), for a caller
    that reduces them on the GPU; on the CPU they are numpy arrays either way.

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
        snv = edits.lengths == 1
        if _default_backend(bank.device, "global") == "triton" and snv.any():
            return _triton_edits(bank, refs, edits, strand_merge, batch_size, to_host)
        ref_out[:] = score(bank, refs, strand_merge=strand_merge, batch_size=batch_size)
        alt_out[:] = score(bank, apply_edits(refs, edits), strand_merge=strand_merge, batch_size=batch_size)
        return EditScores(ref_out, alt_out) if to_host else EditScores(*(torch.from_numpy(x).to(bank.device)
                                                                           for x in (ref_out, alt_out)))
    width = int(refs.lengths.max()) if nb else 0
    bs = batch_size or max(1, _auto_batch(bank, width, "global") // 4)
    by_ref = np.argsort(edits.ref_index, kind="stable")  # each batch's edits: one slice, not a scan of all
    bounds = np.searchsorted(edits.ref_index[by_ref], np.arange(0, nb + bs, bs))
    with torch.no_grad(), _progress(nb, progress, "seq") as bar:
        for b, i in enumerate(range(0, nb, bs)):
            sel = by_ref[bounds[b] : bounds[b + 1]]
            lengths = refs.lengths[i : i + bs]
            sub_refs = CodeBatch(refs.codes[i : i + bs, : int(lengths.max())], lengths)
            sub_edits = Edits(edits.ref_index[sel] - i, edits.start[sel], edits.codes[sel], edits.lengths[sel])
            r, a = _edit_batch_cpu(bank, sub_refs, sub_edits, strand_merge)
            ref_out[i : i + len(lengths)] = r
            alt_out[sel] = a
            bar.update(len(lengths))
    return EditScores(ref_out, alt_out)
