"""Whole-sequence scoring: codes -> bank kernels -> heads -> strand merge, batched (see :mod:`varbind.predict`)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .kernels import torch_ops as tk
from .. import device as _device
from ..bank import Group, ModelBank
from ..sequence import N_CODE, CodeBatch, encode_batch

MODES = ("global", "deepbind")
STRAND_MERGES = ("max", "mean", "forward")

#: floats of kernel output one batch may hold (bounds memory: ~256 MB of float32)
_BUDGET = 64_000_000


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
        from .kernels import cpu

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
    if backend == "triton":  # writes the slot layout itself
        from .kernels import triton_ops as _triton_kernels

        return _triton_kernels.global_pool(codes_t, lengths_t, _triton_kernels.weights(group), group.thr, group.m,
                                           group.slots, group.d)
    if mode == "global":
        fmax, favg = tk.global_pool(codes_t, lengths_t, group.table, group.thr)
    else:
        fmax, favg = tk.window_pool(codes_t, lengths_t, group.table, group.thr, group.start_offset, group.need_avg)
        fmax, favg = fmax.flatten(0, 1), favg.flatten(0, 1)
    return _to_slots(group, fmax, favg)


def _default_backend(device: torch.device, mode: str) -> str:
    return _device.backend(device, mode)


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
    backend = _default_backend(bank.device, mode)
    if backend == "triton":  # the heads and the strand merge in one kernel
        from .kernels import triton_heads
    for group in bank.groups:
        feats = _pool(group, codes, lengths, mode, bank.device, backend)
        if backend == "triton":
            triton_heads.heads_into(group, feats, out, strand_merge)
            continue
        fwd, rev = _heads(group, feats)
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
    """The bank on ``device`` (``auto``/``cpu``/``cuda[:N]``, see :mod:`varbind.device`; ``None``: where it is)."""
    return bank if device is None else bank.to(_device.resolve(device))


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
