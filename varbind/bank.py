"""ModelBank: any number of DeepBind models stacked for one batched pass, on CPU or GPU.

Models are grouped by (detector length m, number of detectors d). Within a group every detector of
every model becomes one column of a lookup table ``(m, 5, columns)`` (see
:mod:`varbind.predict.kernels.cpu`): first the forward-strand columns of all models, then, for
reverse-complement models, the same detectors reverse-complemented, which scored on the forward
sequence give exactly the reverse strand's pooled features. A fused kernel turns integer-coded
sequences into pooled features (max and mean of ReLU(conv + threshold)); a batched head (linear or
one hidden ReLU layer, per model) turns features into one score per model and strand.

The bank does no batching, device moves of inputs or strand merging: :mod:`varbind.predict` does.

Examples
--------
>>> from varbind.params import random_params
>>> bank = ModelBank.from_params([random_params(detector_len=5, seed=1), random_params(detector_len=7, num_hidden=32, seed=2)], ["a", "b"])
>>> len(bank), bank.ids
(2, ['a', 'b'])
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .errors import ModelNotFoundError
from .params import DeepBindParams

#: detector columns per kernel block (a multiple of the 16-float AVX-512 vector)
BLOCK = 64


@dataclass
class _Segment:
    """A run of consecutive models of one head with the same kind of output layer."""

    start: int
    stop: int
    w1: torch.Tensor  # (S, 2d, H) -- H = 1 for linear models
    b1: torch.Tensor  # (S, 1, H)
    w2: torch.Tensor | None  # (S, H, 1) for hidden-layer models
    b2: torch.Tensor | None  # (S, 1, 1)

    def to(self, device: torch.device) -> _Segment:
        mv = lambda t: None if t is None else t.to(device)  # noqa: E731
        return _Segment(self.start, self.stop, mv(self.w1), mv(self.b1), mv(self.w2), mv(self.b2))


@dataclass
class _Head:
    """Dense layers of the models of one group, as runs of linear or hidden-layer models.

    Features enter as ``(M, R, 2d)``: the ``d`` max-pooled values then the ``d`` mean-pooled ones
    (zero weights for models without average pooling). Models are ordered so that each kind forms
    contiguous runs, which the head reads as slices (no gathers) through batched matrix products.
    """

    segments: list[_Segment]

    def to(self, device: torch.device) -> _Head:
        return _Head([seg.to(device) for seg in self.segments])

    def __call__(self, flat: torch.Tensor) -> torch.Tensor:
        """Features ``(M, R, 2d)`` -> scores ``(M, R)``."""
        out = flat.new_empty(flat.shape[:2])
        for seg in self.segments:  # einsum: measured 3-4x faster than baddbmm for these shapes on CPU
            h = torch.einsum("srd,sdh->srh", flat[seg.start : seg.stop], seg.w1).add_(seg.b1)
            if seg.w2 is not None:
                h = torch.einsum("srh,sho->sro", torch.relu_(h), seg.w2).add_(seg.b2)
            out[seg.start : seg.stop] = h[..., 0]
        return out


@dataclass
class Group:
    """Models sharing detector length ``m`` and detector count ``d``.

    Attributes
    ----------
    models : ndarray (Mg,)
        Bank indices of the group's models; reverse-complement models first.
    n_rc : int
        How many of them are reverse-complement models.
    table : Tensor (nblk, m, 5, BLOCK)
        Lookup table: ``table[k, j, code, c]`` is column ``k*BLOCK + c``'s weight for ``code`` at
        offset ``j`` (code 4 = N = mean of the four).
    thr : Tensor (nblk, BLOCK)
        Thresholds (0 on padding columns).
    start_offset : Tensor (nblk,) int64
        0 for forward-strand blocks, 1 for reverse-complement blocks (deepbind-mode windows).
    need_avg : Tensor (nblk,) bool
        Whether any column of the block belongs to a model with average pooling.
    slot, feat : Tensor (cols,) int64
        Where each column's pooled values go (see :mod:`varbind.predict.kernels.cpu`): slot ``g`` is the
        group's model ``g`` on the forward strand, slot ``Mg + g`` its reverse-complement model ``g``
        on the reverse strand; -1 marks padding columns.
    head, head_rc : _Head
        Dense layers of all the group's models, and of its reverse-complement models.
    """

    m: int
    d: int
    models: np.ndarray
    n_rc: int
    table: torch.Tensor
    thr: torch.Tensor
    start_offset: torch.Tensor
    need_avg: torch.Tensor
    slot: torch.Tensor
    feat: torch.Tensor
    head: _Head
    head_rc: _Head
    _cache: dict = field(default_factory=dict, repr=False)

    def models_t(self, device: torch.device) -> torch.Tensor:
        """``models`` as a long tensor on ``device`` (cached)."""
        key = ("models", str(device))
        if key not in self._cache:
            self._cache[key] = torch.from_numpy(self.models).to(device)
        return self._cache[key]

    @property
    def slots(self) -> int:
        return len(self.models) + self.n_rc

    def numpy(self) -> dict[str, np.ndarray]:
        """The kernel tables as contiguous numpy arrays (cached; for the CPU kernels)."""
        if "numpy" not in self._cache:
            self._cache["numpy"] = {
                key: np.ascontiguousarray(getattr(self, key).cpu().numpy())
                for key in ("table", "thr", "start_offset", "need_avg", "slot", "feat")
            }
        return self._cache["numpy"]

    def to(self, device: torch.device) -> Group:
        moved = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "_cache"}
        for k in ("table", "thr", "start_offset", "need_avg", "slot", "feat"):
            moved[k] = moved[k].to(device)
        moved["head"], moved["head_rc"] = self.head.to(device), self.head_rc.to(device)
        return Group(**moved, _cache={"numpy": self._cache["numpy"]} if "numpy" in self._cache else {})


def _pad_cols(n: int) -> int:
    return -(-n // BLOCK) * BLOCK


def _build_group(m: int, d: int, members: list[int], params: Sequence[DeepBindParams]) -> Group:
    # reverse-complement models first (their slots lead); then by output layer, so that each head
    # reads runs of one kind as slices; then models with average pooling first, so that blocks of
    # max-only columns can skip the mean in deepbind mode
    members = sorted(members, key=lambda i: (not params[i].reverse_complement, params[i].num_hidden > 0,
                                             not params[i].has_avg_pooling))
    rc = [i for i in members if params[i].reverse_complement]
    mg = len(members)
    cols_fwd, cols_rev = _pad_cols(mg * d), _pad_cols(len(rc) * d)
    ncols = cols_fwd + cols_rev
    w = np.zeros((ncols, 4, m), dtype=np.float64)  # (col, base, pos)
    thr = np.zeros(ncols, dtype=np.float64)
    for g, i in enumerate(members):
        w[g * d : (g + 1) * d] = params[i].detectors
        thr[g * d : (g + 1) * d] = params[i].thresholds
    for g, i in enumerate(rc):
        sl = slice(cols_fwd + g * d, cols_fwd + (g + 1) * d)
        w[sl] = params[i].detectors[:, ::-1, ::-1]  # complement bases, reverse positions
        thr[sl] = params[i].thresholds
    table = np.empty((ncols, 5, m), dtype=np.float64)
    table[:, :4] = w
    table[:, 4] = w.mean(axis=1)
    nblk = ncols // BLOCK
    table = table.reshape(nblk, BLOCK, 5, m).transpose(0, 3, 2, 1)  # (nblk, m, 5, BLOCK)
    start = np.zeros(nblk, dtype=np.int64)
    start[cols_fwd // BLOCK :] = 1
    slot = np.full(ncols, -1, dtype=np.int64)
    feat = np.zeros(ncols, dtype=np.int64)
    avg = np.zeros(ncols, dtype=bool)
    for g, i in enumerate(members):
        slot[g * d : (g + 1) * d], feat[g * d : (g + 1) * d] = g, np.arange(d)
        avg[g * d : (g + 1) * d] = params[i].has_avg_pooling
    for g, i in enumerate(rc):
        sl = slice(cols_fwd + g * d, cols_fwd + (g + 1) * d)
        slot[sl], feat[sl], avg[sl] = mg + g, np.arange(d), params[i].has_avg_pooling
    return Group(
        m=m,
        d=d,
        models=np.asarray(members, dtype=np.int64),
        n_rc=len(rc),
        table=torch.from_numpy(np.ascontiguousarray(table, dtype=np.float32)),
        thr=torch.from_numpy(thr.astype(np.float32).reshape(nblk, BLOCK)),
        start_offset=torch.from_numpy(start),
        need_avg=torch.from_numpy(avg.reshape(nblk, BLOCK).any(axis=1)),
        slot=torch.from_numpy(slot),
        feat=torch.from_numpy(feat),
        head=_build_head([params[i] for i in members]),
        head_rc=_build_head([params[i] for i in rc] or [params[members[0]]]),
    )


def _build_head(members: Sequence[DeepBindParams]) -> _Head:
    d = members[0].num_detectors

    def w1(p: DeepBindParams) -> np.ndarray:
        """weights1 as (2d, H): max rows then avg rows."""
        if p.has_avg_pooling:
            w = p.weights1.reshape(d, 2, -1)
            return np.concatenate([w[:, 0], w[:, 1]])
        return np.concatenate([p.weights1, np.zeros_like(p.weights1)])

    f32 = lambda a: torch.from_numpy(np.asarray(a, dtype=np.float32).copy())  # noqa: E731
    segments = []
    start = 0
    while start < len(members):
        hidden = members[start].num_hidden > 0
        stop = start
        while stop < len(members) and (members[stop].num_hidden > 0) == hidden:
            stop += 1
        run = members[start:stop]
        if hidden:
            h = max(p.num_hidden for p in run)
            ww1, bb1 = np.zeros((len(run), 2 * d, h)), np.zeros((len(run), 1, h))
            ww2, bb2 = np.zeros((len(run), h, 1)), np.zeros((len(run), 1, 1))
            for r, p in enumerate(run):
                k = p.num_hidden
                ww1[r, :, :k], bb1[r, 0, :k], ww2[r, :k, 0], bb2[r, 0, 0] = w1(p), p.biases1, p.weights2, p.biases2[0]
            segments.append(_Segment(start, stop, f32(ww1), f32(bb1), f32(ww2), f32(bb2)))
        else:
            ww1 = np.stack([w1(p) for p in run])  # (S, 2d, 1)
            bb1 = np.array([p.biases1 for p in run]).reshape(len(run), 1, 1)
            segments.append(_Segment(start, stop, f32(ww1), f32(bb1), None, None))
        start = stop
    return _Head(segments)


class ModelBank:
    """Many DeepBind models prepared for one batched pass.

    Build with :meth:`from_params`; score with :func:`varbind.predict.score`.

    Attributes
    ----------
    ids : list of str
        Model IDs in output-column order.
    params : list of DeepBindParams
        The models' weights, in the same order.
    groups : list of Group
        The kernel layout (one group per detector length and count).
    device : torch.device
    """

    def __init__(self, ids: list[str], params: list[DeepBindParams], groups: list[Group], device: torch.device):
        self.ids, self.params, self.groups, self.device = ids, params, groups, device
        self.reverse_complement = np.array([p.reverse_complement for p in params], dtype=bool)
        self.detector_len = np.array([p.detector_len for p in params], dtype=np.int64)

    @classmethod
    def from_params(cls, params: Sequence[DeepBindParams], ids: Sequence[str] | None = None) -> ModelBank:
        """Stack models of any architecture into a bank (on the CPU).

        Parameters
        ----------
        params : sequence of DeepBindParams
        ids : sequence of str, optional
            Unique model IDs (default ``"0"``, ``"1"``, ...).
        """
        params = list(params)
        ids = [str(i) for i in range(len(params))] if ids is None else [str(i) for i in ids]
        if len(ids) != len(params):
            raise ValueError(f"{len(ids)} ids for {len(params)} models")
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise ValueError(f"duplicate model id {dup!r}")
        if not params:
            raise ValueError("a ModelBank needs at least one model")
        by_shape: dict[tuple[int, int], list[int]] = {}
        for i, p in enumerate(params):
            by_shape.setdefault((p.detector_len, p.num_detectors), []).append(i)
        groups = [_build_group(m, d, members, params) for (m, d), members in sorted(by_shape.items())]
        return cls(ids, params, groups, torch.device("cpu"))

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"ModelBank({len(self)} models, {len(self.groups)} groups, device={self.device})"

    def rows(self, ids: Sequence[str]) -> np.ndarray:
        """The rows (positions in :attr:`ids`) of the given models, in the given order.

        Raises
        ------
        ModelNotFoundError
            Naming the first unknown ID.
        """
        index = {m: i for i, m in enumerate(self.ids)}
        missing = [i for i in ids if i not in index]
        if missing:
            raise ModelNotFoundError(f"model {missing[0]!r} is not in this panel ({len(missing)} unknown ids)")
        return np.array([index[i] for i in ids], np.int64)

    def select(self, ids: Sequence[str]) -> ModelBank:
        """A bank of the given models, in the given order (:meth:`rows` raises for an unknown ID)."""
        bank = ModelBank.from_params([self.params[r] for r in self.rows(ids)], list(ids))
        return bank.to(self.device)

    def to(self, device: str | torch.device) -> ModelBank:
        """The bank with its tables on ``device`` (self when already there; the copy on another device
        is made once and kept, so repeated calls reuse it and the weight layouts prepared in it)."""
        device = torch.device(device)
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        if device == self.device:
            return self
        placed = self.__dict__.setdefault("_placed", {})
        if device not in placed:  # once per process and device: the kernels' weight layouts are cached in it
            placed[device] = ModelBank(self.ids, self.params, [g.to(device) for g in self.groups], device)
        return placed[device]

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_placed", None)  # copies on devices stay in their process
        return state

    @property
    def max_detector_len(self) -> int:
        return max(g.m for g in self.groups)
