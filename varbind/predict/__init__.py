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

from . import warmup  # noqa: F401  (first-run messages)
from ._core import MODES, STRAND_MERGES, _pool, score, score_frame  # noqa: F401  (_pool: kernel tests)
from ._edits import EditScores, Edits, apply_edits, score_edits, score_snvs_with_subwindow
from ._windows import RegionWindows, SubWindows, score_windows, window_codes

__all__ = ["MODES", "STRAND_MERGES", "EditScores", "Edits", "RegionWindows", "apply_edits", "score",
           "SubWindows", "score_edits", "score_frame", "score_snvs_with_subwindow", "score_windows", "window_codes"]
