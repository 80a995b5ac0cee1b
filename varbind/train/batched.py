"""Many DeepBind models trained as one: every calibration setting x fold in a single batched pass.

All ``K`` models read the same minibatch. Which examples each model learns from is a per-model loss
weight (a fold's models give weight 0 to their held-out fold), so the convolution of all models is
one ordinary ``conv1d`` with ``K * D`` output channels. Detector lengths differ between settings:
every detector is stored left-aligned in a window of the longest length ``M`` and masked; the input
is padded with ``M - 1`` N columns on both sides and, per model, only the ``n + m - 1`` positions a
DeepBind model of length ``m`` would see are pooled, so each model computes exactly
:class:`varbind.model.DeepBind`'s global forward pass. Learning rate, momentum, weight decay and
dropout are per model, applied by a manual Nesterov SGD step with ``(K,)`` broadcasts.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from ..params import DeepBindParams
from ..sequence import N_CODE

#: one-hot rows of the codes A, C, G, T, N
_TABLE = torch.tensor(
    [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0.25, 0.25, 0.25, 0.25]], dtype=torch.float32
)


@dataclass(frozen=True)
class Setting:
    """One calibration setting (the paper's hyper-parameters of one model).

    ``dropout_keep`` is the probability of keeping a pooled feature during training (1 = no dropout);
    ``log_target`` (regression only) fits a log transform of the targets instead of the targets.
    """

    detector_len: int = 24
    has_avg_pooling: bool = True
    num_hidden: int = 0
    dropout_keep: float = 1.0
    learning_rate: float = 0.02
    momentum: float = 0.95
    weight_decay: float = 1e-6
    init_scale: float = 0.05
    log_target: bool = False


class BatchedDeepBind(torch.nn.Module):
    """``K`` DeepBind models of ``num_detectors`` detectors each, with per-model settings.

    Parameters
    ----------
    settings : sequence of Setting
        One per model (repeat a setting for its folds or restarts).
    num_detectors : int
    reverse_complement : bool
        Score both strands and take the max (as DeepBind's DNA models do), in training too.
    seed : int
        Seed of the initial weights.

    Examples
    --------
    >>> net = BatchedDeepBind([Setting(detector_len=6), Setting(detector_len=4, num_hidden=8)], 3)
    >>> codes = torch.zeros((5, 10), dtype=torch.uint8)
    >>> net(codes, codes, torch.full((5,), 10)).shape
    torch.Size([5, 2])
    """

    def __init__(self, settings: Sequence[Setting], num_detectors: int = 16, reverse_complement: bool = True,
                 seed: int = 0):
        super().__init__()
        self.settings = list(settings)
        k, d = len(self.settings), num_detectors
        self.num_detectors, self.reverse_complement = d, reverse_complement
        self.max_len = max(s.detector_len for s in self.settings)
        h = max([s.num_hidden for s in self.settings] + [1])
        gen = torch.Generator().manual_seed(seed)
        col = lambda key: torch.tensor([float(getattr(s, key)) for s in self.settings])  # noqa: E731
        init = col("init_scale")
        m = col("detector_len").long()
        self.register_buffer("det_mask", (torch.arange(self.max_len)[None, :] < m[:, None]).float()[:, None, None, :])
        self.register_buffer("m", m)
        self.register_buffer("avg_on", col("has_avg_pooling"))
        self.register_buffer("hidden_on", col("num_hidden") > 0)
        self.register_buffer("hidden_mask", (torch.arange(h)[None, :] < col("num_hidden")[:, None]).float())
        self.register_buffer("keep", col("dropout_keep"))
        self.register_buffer("lr", col("learning_rate"))
        self.register_buffer("mom", col("momentum"))
        self.register_buffer("wd", col("weight_decay"))
        self.register_buffer("target", col("log_target").long())
        self.register_buffer("table", _TABLE.clone())
        rand = lambda *shape: torch.randn(*shape, generator=gen)  # noqa: E731
        self.detectors = torch.nn.Parameter(rand(k, d, 4, self.max_len) * init[:, None, None, None] * self.det_mask)
        self.thresholds = torch.nn.Parameter(torch.zeros(k, d))
        self.weights1 = torch.nn.Parameter(rand(k, d, 2, h) * init[:, None, None, None])
        self.biases1 = torch.nn.Parameter(torch.zeros(k, h))
        self.weights2 = torch.nn.Parameter(rand(k, h) * init[:, None] * self.hidden_mask)
        self.biases2 = torch.nn.Parameter(torch.zeros(k))
        self._velocity: list[torch.Tensor] | None = None  # made on the first step, on the weights' device

    def __len__(self) -> int:
        return len(self.settings)

    def _one_hot(self, codes: torch.Tensor) -> torch.Tensor:
        pad = self.max_len - 1
        codes = F.pad(codes.long(), (pad, pad), value=N_CODE)
        return self.table[codes].transpose(1, 2).contiguous()

    def features(self, codes: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Pooled features ``(B, K, D, 2)`` (max, avg) of one strand of codes ``(B, L)``."""
        k, d, big_m = len(self), self.num_detectors, self.max_len
        x = self._one_hot(codes)
        w = (self.detectors * self.det_mask).reshape(k * d, 4, big_m)
        conv = torch.relu(F.conv1d(x, w) + self.thresholds.reshape(1, k * d, 1))
        pos = torch.arange(conv.shape[-1], device=conv.device)
        first = (big_m - self.m).repeat_interleave(d)  # first position a length-m detector sees
        valid = (pos[None, None, :] >= first[None, :, None]) & (
            pos[None, None, :] <= (lengths + big_m - 2)[:, None, None])
        conv = conv * valid
        mx = conv.amax(-1).reshape(-1, k, d)
        count = (lengths[:, None] + self.m[None, :] - 1).to(conv.dtype)
        avg = conv.sum(-1).reshape(-1, k, d) / count[:, :, None] * self.avg_on[None, :, None]
        return torch.stack([mx, avg], dim=-1)

    def head(self, feats: torch.Tensor) -> torch.Tensor:
        """Features ``(B, K, D, 2)`` -> scores ``(B, K)``."""
        f = feats.flatten(2).transpose(0, 1)  # (K, B, 2D)
        lin = torch.bmm(f, self.weights1.flatten(1, 2)) + self.biases1[:, None, :]  # (K, B, H)
        hid = (torch.relu(lin) * self.hidden_mask[:, None, :] * self.weights2[:, None, :]).sum(-1)
        hid = hid + self.biases2[:, None]
        return torch.where(self.hidden_on[:, None], hid, lin[..., 0]).T

    def forward(self, codes: torch.Tensor, rev_codes: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Scores ``(B, K)`` of codes ``(B, L)`` (``rev_codes``: their reverse complements, also
        left-aligned); in training mode with per-model dropout on the pooled features."""
        b = codes.shape[0]
        if self.reverse_complement:
            feats = self.features(torch.cat([codes, rev_codes]), torch.cat([lengths, lengths]))
        else:
            feats = self.features(codes, lengths)
        if self.training:
            keep = self.keep[None, :, None, None]
            feats = feats * (torch.rand_like(feats) < keep) / keep
        out = self.head(feats)
        return torch.maximum(out[:b], out[b:]) if self.reverse_complement else out

    @torch.no_grad()
    def sgd_step(self) -> None:
        """One Nesterov SGD step with per-model learning rate, momentum and weight decay
        (decay on detectors and weights, not on thresholds and biases)."""
        decayed = {id(self.detectors), id(self.weights1), id(self.weights2)}
        if self._velocity is None:
            self._velocity = [torch.zeros_like(p) for p in self.parameters()]
        for p, v in zip(self.parameters(), self._velocity):
            if p.grad is None:
                continue
            shape = (-1,) + (1,) * (p.dim() - 1)
            g = p.grad
            if id(p) in decayed:
                g = g + self.wd.view(shape) * p
            g = torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0)
            v.mul_(self.mom.view(shape)).add_(g)
            p.sub_(self.lr.view(shape) * (g + self.mom.view(shape) * v))
            p.grad = None
        self.detectors.mul_(self.det_mask)

    def to_params(self, index: int) -> DeepBindParams:
        """Model ``index`` as :class:`~varbind.params.DeepBindParams` (float64 copies)."""
        s = self.settings[index]
        get = lambda t: t.detach()[index].cpu().double().numpy().copy()  # noqa: E731
        w1 = get(self.weights1)  # (D, 2, H)
        w1 = w1.reshape(-1, w1.shape[-1]) if s.has_avg_pooling else w1[:, 0, :]
        h = s.num_hidden
        return DeepBindParams(
            reverse_complement=self.reverse_complement,
            has_avg_pooling=s.has_avg_pooling,
            detectors=get(self.detectors)[:, :, : s.detector_len],
            thresholds=get(self.thresholds),
            weights1=w1[:, :h] if h else w1[:, :1],
            biases1=get(self.biases1)[:h] if h else get(self.biases1)[:1],
            weights2=get(self.weights2)[:h] if h else np.zeros(0),
            biases2=get(self.biases2).reshape(1) if h else np.zeros(0),
        )
