"""DeepBind as a pure torch module: conv -> threshold + ReLU -> max [/avg] pool -> [hidden] -> score.

This is the readable, trainable form of one model (``global`` semantics: one forward pass over the
whole sequence, padded with ``m - 1`` N columns on both sides). Scoring many models at once goes
through :class:`varbind.bank.ModelBank`, which is tested against this module.
"""
from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import params as _params
from .params import DeepBindParams


class DeepBind(nn.Module):
    """One DeepBind model.

    Parameters
    ----------
    num_detectors : int
        Number of motif detectors (16 in the published models).
    detector_len : int
        Detector length m.
    has_avg_pooling : bool
        Pool the mean over positions as well as the max.
    num_hidden : int
        Hidden ReLU units (0 for a linear output).
    reverse_complement : bool
        Score both strands and merge them with ``strand_merge``.

    Examples
    --------
    >>> from varbind.sequence import one_hot
    >>> model = DeepBind(num_detectors=4, detector_len=6)
    >>> model(one_hot(["ACGTACGTAC", "TTTTGGGGCC"])).shape
    torch.Size([2])
    """

    def __init__(
        self,
        num_detectors: int = 16,
        detector_len: int = 24,
        has_avg_pooling: bool = True,
        num_hidden: int = 0,
        reverse_complement: bool = True,
    ):
        super().__init__()
        self.num_detectors, self.detector_len = num_detectors, detector_len
        self.has_avg_pooling, self.num_hidden = has_avg_pooling, num_hidden
        self.reverse_complement = reverse_complement
        n_in = num_detectors * (2 if has_avg_pooling else 1)
        self.detectors = nn.Parameter(torch.randn(num_detectors, 4, detector_len) * 0.1)
        self.thresholds = nn.Parameter(torch.zeros(num_detectors))
        self.weights1 = nn.Parameter(torch.randn(n_in, num_hidden or 1) * 0.1)
        self.biases1 = nn.Parameter(torch.zeros(num_hidden or 1))
        self.weights2 = nn.Parameter(torch.randn(num_hidden) * 0.1)
        self.biases2 = nn.Parameter(torch.zeros(1 if num_hidden else 0))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled detector features of one strand, ``(N, num_inputs)``, interleaved max/avg."""
        m = self.detector_len
        n = x.shape[-1]
        xp = F.pad(x, (m - 1, m - 1), value=0.25)
        conv = F.conv1d(xp, self.detectors) + self.thresholds[None, :, None]
        conv = torch.relu(conv)
        mx = conv.amax(dim=-1)
        if not self.has_avg_pooling:
            return mx
        avg = conv.sum(dim=-1) / (n + m - 1)
        return torch.stack([mx, avg], dim=-1).flatten(1)

    def head(self, feats: torch.Tensor) -> torch.Tensor:
        """The dense part: features ``(N, num_inputs)`` -> scores ``(N,)``."""
        h = feats @ self.weights1 + self.biases1
        if self.num_hidden:
            h = torch.relu(h) @ self.weights2[:, None] + self.biases2
        return h[:, 0]

    def forward(self, x: torch.Tensor, strand_merge: str = "max") -> torch.Tensor:
        """Score one-hot sequences ``(N, 4, L)`` -> ``(N,)``.

        ``strand_merge`` is ``"max"`` (DeepBind), ``"mean"`` or ``"forward"``; it applies only to
        reverse-complement models.
        """
        fwd = self.head(self.features(x))
        if not self.reverse_complement or strand_merge == "forward":
            return fwd
        rev = self.head(self.features(torch.flip(x, dims=(-2, -1))))
        if strand_merge == "max":
            return torch.maximum(fwd, rev)
        if strand_merge == "mean":
            return (fwd + rev) / 2
        raise ValueError(f"strand_merge must be 'max', 'mean' or 'forward', not {strand_merge!r}")

    @classmethod
    def from_params(cls, source: DeepBindParams | str | os.PathLike) -> DeepBind:
        """Build a model from DeepBind v0.1 parameters (a :class:`DeepBindParams` or a file path)."""
        p = source if isinstance(source, DeepBindParams) else _params.read(source)
        model = cls(p.num_detectors, p.detector_len, p.has_avg_pooling, p.num_hidden, p.reverse_complement)
        with torch.no_grad():
            for key in ("detectors", "thresholds", "weights1", "biases1", "weights2", "biases2"):
                getattr(model, key).copy_(torch.from_numpy(np.asarray(getattr(p, key), dtype=np.float32)))
        return model

    def to_params(self) -> DeepBindParams:
        """The model's weights as :class:`DeepBindParams` (float64 copies of the float32 weights)."""
        get = lambda t: t.detach().cpu().double().numpy().copy()  # noqa: E731
        return DeepBindParams(
            reverse_complement=self.reverse_complement,
            has_avg_pooling=self.has_avg_pooling,
            detectors=get(self.detectors),
            thresholds=get(self.thresholds),
            weights1=get(self.weights1),
            biases1=get(self.biases1),
            weights2=get(self.weights2),
            biases2=get(self.biases2),
        )
