"""A task's windows scored in one call on a GPU (the fused path of :func:`varbind.annotate.pipeline.score`).

All windows of all chunks of a task, DeepFind's included, go to the device in one
:func:`varbind.predict.score_edits` call (or, with the Triton kernels,
:func:`varbind.predict.score_snvs_with_subwindow`, which scores DeepFind's 51-bp windows in the
panel's pass). With a :class:`~varbind.annotate.topk.Selection` the ``(E, M)`` scores stay on the
GPU: DeepFind's classifier and the top-model selection read them there and only ``(E, k)`` results
come back to the host.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from .. import device as _device
from .. import predict
from ..bank import ModelBank
from ..sequence import N_CODE, CodeBatch
from . import topk
from .deepfind import DeepFind, DeepFindWindows
from .output import AlleleScores
from .topk import Selection


def _concat(batches: list[CodeBatch]) -> CodeBatch:
    width = max((b.codes.shape[1] for b in batches), default=0)
    codes = np.full((sum(len(b.lengths) for b in batches), width), N_CODE, np.uint8)
    i = 0
    for b in batches:
        codes[i : i + len(b.lengths), : b.codes.shape[1]] = b.codes
        i += len(b.lengths)
    return CodeBatch(codes, np.concatenate([b.lengths for b in batches]).astype(np.int64))


def score_task(items: Sequence, bank: ModelBank, settings, deepfind: DeepFind | None,
               selection: Selection | None = None) -> list[tuple[AlleleScores, dict, Counter]]:
    """All windows of all chunks (and DeepFind's) as one :func:`varbind.predict.score_edits` call.
    With ``selection`` (a GPU) the ``(E, M)`` scores stay on the GPU: DeepFind's classifier and the
    top-model selection (:func:`varbind.annotate.topk.select_on`) read them there and only the
    ``(E, k)`` results come back (the same numbers as through host copies).

    With the Triton kernels, DeepFind's windows that lie inside the panel's around the same SNV (all
    of them, with the default 101-bp window) are not scored as windows of their own: the panel's pass
    scores them too (:func:`varbind.predict.score_snvs_with_subwindow`) instead of a second set of
    windows. ``items``: the task's :class:`varbind.annotate.pipeline.Prepared` chunks."""
    sub = _subwindow(bank, deepfind)
    parts, owns = [], []  # each chunk's windows to score; which of its DeepFind windows are among them
    for p in items:
        own = None if p.dfw is None else (np.ones(len(p.dfw.rows), bool) if sub is None
                                          else ~p.dfw.inside(p.win, *sub))
        parts.append((p.win, p.dfw if own is None or own.all() else p.dfw.subset(own)))
        owns.append(own)
    refs, e_parts, spans = [], [], []
    nb = 0
    for part in (x for pair in parts for x in pair):
        if part is None or len(part.refs.lengths) == 0:
            spans.append(None)
            continue
        e = part.edits
        refs.append(part.refs)
        e_parts.append((e.ref_index + nb, e.start, e.codes, e.lengths))
        spans.append((nb, nb + len(part.refs.lengths)))
        nb += len(part.refs.lengths)
    s_scores = None
    if nb:
        k = max(c.shape[1] for _, _, c, _ in e_parts)
        codes = np.full((sum(len(s) for s, _, _, _ in e_parts), k), N_CODE, np.uint8)
        i = 0
        for _, _, c, _ in e_parts:
            codes[i : i + len(c), : c.shape[1]] = c
            i += len(c)
        ref_index, start, lengths = (np.concatenate([x[j] for x in e_parts]).astype(np.int64) for j in (0, 1, 3))
        edits = predict.Edits(ref_index, start, codes, lengths)
        if sub is not None:
            r, s_scores = predict.score_snvs_with_subwindow(bank, _concat(refs), edits, *sub,
                                                            strand_merge=settings.strand_merge)
        else:
            r = predict.score_edits(bank, _concat(refs), edits, strand_merge=settings.strand_merge,
                                    to_host=selection is None)
    rows = _Rows(r.ref.device if nb and not isinstance(r.ref, np.ndarray) else None)  # scores left on the GPU
    out = []
    df = _DeepFindRows()
    e0 = 0
    for i, (p, (win, dpart)) in enumerate(zip(items, parts)):
        span = spans[2 * i]
        ne = len(win.edits.start) if span is not None else 0
        if span is not None:
            rows.add(span[0] + win.edits.ref_index, np.arange(e0, e0 + ne))
        else:
            rows.add(np.zeros(0, np.int64), np.zeros(0, np.int64))
        probs = None
        if deepfind is not None:
            probs = np.full(len(win.site), np.nan, np.float32)
            if p.dfw is not None and len(win.site):
                dspan = spans[2 * i + 1]
                nd = len(dpart.edits.start) if dspan is not None else 0
                df.add(p.dfw, owns[i], e0, dpart.edits.ref_index + (dspan[0] if dspan is not None else 0), e0 + ne)
                e0 += nd
        e0 += ne
        out.append((AlleleScores(win.site, win.allele, None, None, probs), win.skipped, p.counts))
    if df.n:  # DeepFind's classifier once for the whole task
        from .. import deepfind as _deepfind

        dfws = [p.dfw for p in items if p.dfw is not None and len(p.win.site)]
        ref_f, alt_f = df.features(r, s_scores, rows)
        got = _deepfind.score(deepfind.model, ref_f, alt_f, np.concatenate([w.dist for w in dfws]),
                              np.concatenate([w.tv for w in dfws]))
        k = 0
        for (scores, _, _), p in zip(out, items):
            if p.dfw is not None and len(p.win.site):
                n = len(p.dfw.rows)
                scores.deepfind[p.dfw.rows] = got[k : k + n]
                k += n
    if selection is None and rows.device is not None:  # tables of every model: on the host
        r = predict.EditScores(r.ref.cpu().numpy(), r.alt.cpu().numpy())
        rows.device = None
    m = len(bank)
    if selection is None:  # host arrays, chunk by chunk
        return [(s._replace(ref=r.ref[a] if len(a) else np.zeros((0, m), np.float32),
                            alt=r.alt[b] if len(b) else np.zeros((0, m), np.float32)), skips, c)
                for (s, skips, c), (a, b) in zip(out, rows.parts)]
    n = np.cumsum([0] + [len(a) for a, _ in rows.parts])
    if n[-1]:
        ref_rows, alt_rows = (rows.index(np.concatenate([x[j] for x in rows.parts])) for j in (0, 1))
        whole = topk.select_on(bank.device, r.ref[ref_rows], r.alt[alt_rows], selection.k, selection.spread)
    else:
        whole = topk.select(np.zeros((0, m), np.float32), np.zeros((0, m), np.float32), selection.k, selection.spread)
    empty = np.zeros((0, 0), np.float32)
    return [(s._replace(ref=empty.reshape(len(s.site), 0), alt=empty.reshape(len(s.site), 0),
                        top=topk.Top(*(x[a:b] for x in whole))), skips, c)
            for (s, skips, c), a, b in zip(out, n[:-1], n[1:])]


def warm(bank: ModelBank, settings, deepfind: DeepFind | None) -> None:
    """Score one SNV of a window of the run's length the way :func:`score_task` scores a task on
    ``bank``'s GPU (``bank`` and ``deepfind`` placed there, :func:`varbind.annotate.pipeline.placed`):
    the kernels a run uses are loaded (or compiled) before its first task arrives."""
    n = settings.window
    refs = CodeBatch(np.zeros((1, n), np.uint8), np.array([n], np.int64))
    edits = predict.Edits(np.zeros(1, np.int64), np.array([n // 2], np.int64), np.ones((1, 1), np.uint8),
                          np.ones(1, np.int64))
    sub = _subwindow(bank, deepfind)
    if sub is not None and n >= sub[1]:
        predict.score_snvs_with_subwindow(bank, refs, edits, *sub, strand_merge=settings.strand_merge)
    else:
        predict.score_edits(bank, refs, edits, strand_merge=settings.strand_merge, to_host=False)


def _subwindow(bank: ModelBank, deepfind: DeepFind | None) -> tuple[int, int] | None:
    """DeepFind's window as ``(centre, length)`` when the panel's pass scores it
    (:func:`varbind.predict.score_snvs_with_subwindow`: the Triton kernels, the same bank), else ``None``."""
    if deepfind is None or bank.device.type != "cuda" or _device.backend(bank.device) != "triton":
        return None
    return deepfind.window()


class _DeepFindRows:
    """Where a task's DeepFind features are: for each chunk's DeepFind windows (in their order), the
    panel edit whose pass scored the window too (:meth:`DeepFindWindows.inside`), or the window's own
    row among the task's references and edits."""

    def __init__(self) -> None:
        self.n = 0
        self.inside: list[tuple[np.ndarray, np.ndarray]] = []  # (positions, panel edit rows)
        self.own: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (positions, reference rows, edit rows)

    def add(self, dfw: DeepFindWindows, own: np.ndarray, panel_e0: int, ref_rows: np.ndarray, e0: int) -> None:
        """``dfw``: a chunk's windows; ``own`` (a mask): those scored as windows of their own (all
        of them without a sub-window pass), at reference rows ``ref_rows`` and edit rows from ``e0``;
        the chunk's panel edits start at row ``panel_e0``."""
        where = np.arange(self.n, self.n + len(dfw.rows))
        self.inside.append((where[~own], panel_e0 + dfw.rows[~own]))
        self.own.append((where[own], np.asarray(ref_rows, np.int64), e0 + np.arange(int(own.sum()))))
        self.n += len(dfw.rows)

    def features(self, r, s, rows: "_Rows"):
        """The panel's scores ``(n, M)`` of the reference windows and of their edits, in order."""
        pos_o, ref_o, alt_o = (np.concatenate([x[j] for x in self.own]) for j in range(3))
        if s is None:  # every window scored on its own, in order
            return r.ref[rows.index(ref_o)], r.alt[rows.index(alt_o)]
        pos_i, edit_i = (np.concatenate([x[j] for x in self.inside]) for j in range(2))
        out = []
        for own_src, own_rows, in_src in ((r.ref, ref_o, s.ref), (r.alt, alt_o, s.alt)):
            x = in_src.new_empty((self.n, in_src.shape[1]))
            x[rows.index(pos_i)] = in_src[rows.index(edit_i)]
            x[rows.index(pos_o)] = own_src[rows.index(own_rows)]
            out.append(x)
        return out


class _Rows:
    """Each chunk's reference and edit rows in the task's score arrays (``parts``), and row indices
    as the scores need them (``index``: a tensor on ``device`` when they are there)."""

    def __init__(self, device):
        self.device, self.parts = device, []

    def add(self, ref_rows: np.ndarray, alt_rows: np.ndarray) -> None:
        self.parts.append((np.asarray(ref_rows, np.int64), np.asarray(alt_rows, np.int64)))

    def index(self, rows: np.ndarray):
        if self.device is None:
            return rows
        import torch

        return torch.from_numpy(np.ascontiguousarray(rows, np.int64)).to(self.device)
