"""The scoring stages of ``varbind annotate``: region chunks -> windows -> one scoring pass -> allele scores.

A *chunk* is what :func:`varbind.annotate.variants.region_chunks` cuts (consecutive records of one contig in
one 1-Mb bin, at most 2,048): the unit of windows, of output and, on the CPU, of scoring (nearby
variants share one reference pass, :func:`varbind.annotate.scoring.score_global`). A *task* is a run
of chunks scored together: on a GPU, tens of thousands of records, all their windows in one
:func:`varbind.predict.score_edits` call (:mod:`varbind.annotate.fused`; DeepFind's 51-bp windows in
the panel's pass when the DeepFind model reads the panel itself); on the CPU a few thousand records,
each chunk scored as before. A chunk's scores do not depend on which task it is in on the CPU (the
same calls on the same windows), so outputs are byte-identical whatever the task size; on a GPU the
kernels' tiles are fixed per GPU model (:mod:`varbind.predict.kernels.triton_tiles`), which makes them independent
of batch sizes too.

:func:`prepare` (host: FASTA, windows) and :func:`score` (device) are separate so that
:mod:`varbind.annotate.stream` can overlap them; a Dask worker runs :func:`score_task` (both).
"""
from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .. import device as _device
from .. import io, predict
from .deepfind import DeepFind, DeepFindWindows, deepfind_from_scores, deepfind_windows
from .output import AlleleScores
from ..bank import ModelBank
from ..sequence import N_CODE
from .windows import NOT_GENOME, Site, Windows, build_windows
from .scoring import score_global
from .fused import score_task as fused_task
from .fused import warm as fused_warm
from . import topk
from .topk import Selection

#: records a task: on a GPU enough windows to fill it, on the CPU enough to amortise per-call costs
TASK_GPU = 32768
TASK_CPU = 4096


def task_size(device) -> int:
    return TASK_GPU if _device.resolve(device).type == "cuda" else TASK_CPU


class Prepared(NamedTuple):
    """One chunk's windows: ``win`` for the panel, ``dfw`` for DeepFind (or None), the REF-check
    ``counts`` and ``genome`` (the N-padded contig as a function, for the CPU's region path)."""

    win: Windows
    dfw: DeepFindWindows | None
    counts: Counter
    genome: Any


@functools.lru_cache(maxsize=4)
def fasta(path: str) -> io.Fasta:
    return io.Fasta(path)


def prepare(sites: Sequence[Site], fasta_path: str, contig: str | None, settings, deepfind: DeepFind | None
            ) -> Prepared:
    """Windows of one chunk's sites (all on one contig; ``contig`` is its FASTA name or ``None``)."""
    counts: Counter = Counter()
    genome, length = None, None
    if contig is not None:
        fa = fasta(fasta_path)
        length = fa.lengths[contig]
        ok = [s for s in sites if s.start >= 0 and len(s.ref) <= settings.window]
        genome = SitesGenome(fa, contig, ok, max(settings.window, 128))  # DeepFind's windows (51 bp) too
        if genome.ambiguous:
            counts["iupac_window"] += sites_near(ok, np.array(genome.ambiguous, np.int64), settings.window)
    win = build_windows(sites, genome, settings.window, settings.ref_mismatch, length, counts)
    dfw = None if deepfind is None or not len(win.site) else deepfind_windows(sites, win.site, win.allele, genome,
                                                                              deepfind)
    return Prepared(win, dfw, counts, genome)


def sites_near(sites: Sequence[Site], positions: np.ndarray, window: int) -> int:
    """How many sites have one of ``positions`` (sorted, 0-based) in their ``window``-base window."""
    if not len(sites):
        return 0
    start = np.array([s.start - (window - len(s.ref)) // 2 for s in sites], np.int64)
    first = np.searchsorted(positions, start)
    hit = first < len(positions)
    return int((positions[first[hit]] < start[hit] + window).sum())


class SitesGenome:
    """``genome(a, b)``: codes of ``contig[a:b]`` (N-padded) read from the FASTA only around a chunk's
    sites: the stretches within ``margin`` bases of a site are fetched once (a chunk's sites can be
    spread over a megabase, their windows cover a fraction of it). A request inside one stretch is a
    slice of it; a wider one (a chunk's SNVs read as one span) gets the stretches it covers and N
    between them, which is never read: every window lies within ``margin`` of its site. ``ambiguous``:
    the sorted positions of the IUPAC ambiguity codes (R, Y, ...) in the stretches (read as N)."""

    GAP = 4096  # stretches closer than this are fetched as one

    def __init__(self, fa: io.Fasta, contig: str, sites: Sequence[Site], margin: int):
        self.fa, self.contig = fa, contig
        starts = sorted((s.start - margin, s.start + len(s.ref) + margin) for s in sites)
        merged: list[list[int]] = []
        for a, b in starts:
            if merged and a <= merged[-1][1] + self.GAP:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        self.lo = np.array([a for a, _ in merged], np.int64)
        self.hi = np.array([b for _, b in merged], np.int64)
        self.ambiguous: list[int] = []
        codes = [fa.codes(contig, int(a), int(b), self.ambiguous) for a, b in merged]
        self.flat = np.concatenate(codes) if codes else np.zeros(0, np.uint8)  # the stretches end to end
        self.offset = np.cumsum([0] + [len(c) for c in codes])[:-1].astype(np.int64)  # where each starts in it

    def __getstate__(self) -> dict:  # sent to the scoring service (:mod:`varbind.annotate.service`): the FASTA by its path
        return dict(self.__dict__, fa=self.fa.path)

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, fa=fasta(state["fa"]))

    def take(self, starts: np.ndarray, width: int) -> np.ndarray:
        """Codes ``(n, width)`` of ``contig[s : s + width]`` for each of ``starts``, the same as
        calling this object for each, as one gather from the stretches (windows outside them: one call each)."""
        starts = np.asarray(starts, np.int64)
        i = np.maximum(np.searchsorted(self.lo, starts, "right") - 1, 0)
        inside = (starts >= self.lo[i]) & (starts + width <= self.hi[i]) if len(self.lo) else np.zeros(len(starts), bool)
        out = np.full((len(starts), width), N_CODE, np.uint8)
        if inside.any():
            at = self.offset[i[inside]] + starts[inside] - self.lo[i[inside]]
            out[inside] = self.flat[at[:, None] + np.arange(width)[None, :]]
        for k in np.flatnonzero(~inside):
            out[k] = self(int(starts[k]), int(starts[k]) + width)
        return out

    def _stretch(self, k: int, a: int, b: int) -> np.ndarray:
        """``contig[a:b]`` inside stretch ``k``."""
        at = int(self.offset[k] - self.lo[k])
        return self.flat[a + at : b + at]

    def __call__(self, a: int, b: int) -> np.ndarray:
        i = int(np.searchsorted(self.lo, a, "right")) - 1
        if i >= 0 and b <= self.hi[i]:
            return self._stretch(i, a, b)
        j = int(np.searchsorted(self.lo, b, "left"))
        first = max(i, 0) if i >= 0 and a < self.hi[i] else i + 1  # the first stretch overlapping [a, b)
        if first >= j or b - a > 1 << 26:  # outside every stretch: from the FASTA
            return self.fa.codes(self.contig, a, b)
        out = np.full(b - a, N_CODE, np.uint8)
        for k in range(first, j):
            lo, hi = max(a, int(self.lo[k])), min(b, int(self.hi[k]))
            if hi > lo:
                out[lo - a : hi - a] = self._stretch(k, lo, hi)
        return out


def placed(bank: ModelBank, deepfind: DeepFind | None, device) -> tuple[ModelBank, ModelBank | None]:
    """The panel's bank and DeepFind's on ``device`` (each moved once per process, see
    :meth:`varbind.bank.ModelBank.to`); DeepFind's MLP moves there too."""
    dev = _device.resolve(device)
    bank = bank.to(dev)
    if deepfind is None:
        return bank, None
    dbank = deepfind.model.bank
    dbank = bank if list(dbank.ids) == list(bank.ids) else dbank.to(dev)
    if deepfind.model.mlp is not None and dev.type == "cuda":
        deepfind.model.mlp.to(dev)
    return bank, dbank


def score(items: Sequence[Prepared], bank: ModelBank, settings, deepfind: DeepFind | None = None,
          selection: Selection | None = None) -> list[tuple[AlleleScores, dict, Counter]]:
    """Allele scores of prepared chunks, each ``(AlleleScores, skipped, counts)`` as
    :func:`varbind.annotate.variants.score_chunk` returns; with ``selection`` reduced to the top models
    (:func:`reduced`)."""
    predict.warmup.announce(settings.device)
    bank, dbank = placed(bank, deepfind, settings.device)
    fused = _fused(bank, dbank, settings, deepfind)
    if fused and selection is not None and bank.device.type == "cuda":  # scores reduced where they are
        return fused_task(items, bank, settings, deepfind, selection)
    out = fused_task(items, bank, settings, deepfind) if fused else _score_chunks(items, bank, dbank, settings, deepfind)
    return out if selection is None else reduced(out, selection, bank.device)


def _fused(bank: ModelBank, dbank: ModelBank | None, settings, deepfind: DeepFind | None) -> bool:
    """Whether a task on ``bank``'s device is scored as one call (:mod:`varbind.annotate.fused`)."""
    return (bank.device.type != "cpu" and settings.mode == "global"
            and (deepfind is None or deepfind.reads_panel_pass(bank, dbank, settings)))


def warm(bank: ModelBank, settings, deepfind: DeepFind | None = None) -> None:
    """What :func:`score` does first on a device, ahead of the first task: the panel (and DeepFind)
    placed there once, and on the fused path its kernels loaded (or compiled) on one SNV
    (:func:`varbind.annotate.fused.warm`)."""
    predict.warmup.announce(settings.device)
    bank, dbank = placed(bank, deepfind, settings.device)
    if _fused(bank, dbank, settings, deepfind):
        fused_warm(bank, settings, deepfind)


def reduced(results: list[tuple[AlleleScores, dict, Counter]], selection: Selection, device
            ) -> list[tuple[AlleleScores, dict, Counter]]:
    """``results`` with each chunk's ``(E, M)`` scores replaced by their :class:`~varbind.annotate.topk.Top`
    (what the INFO fields show), computed on ``device``: on a GPU for all chunks at once, so that the
    writer formats ``(E, k)`` arrays instead of sorting ``(E, M)`` ones."""
    empty = np.zeros((0, 0), np.float32)
    if _device.resolve(device).type != "cuda":
        tops = [topk.select(s.ref, s.alt, selection.k, selection.spread) for s, _, _ in results]
    else:
        n = np.cumsum([0] + [len(s.site) for s, _, _ in results])
        whole = topk.select_on(device, np.concatenate([s.ref for s, _, _ in results]),
                               np.concatenate([s.alt for s, _, _ in results]), selection.k, selection.spread)
        tops = [topk.Top(*(x[a:b] for x in whole)) for a, b in zip(n[:-1], n[1:])]
    return [(s._replace(ref=empty.reshape(len(s.site), 0), alt=empty.reshape(len(s.site), 0), top=t), skips, c)
            for (s, skips, c), t in zip(results, tops)]


def _score_chunks(items: Sequence[Prepared], bank: ModelBank, dbank: ModelBank | None, settings,
                  deepfind: DeepFind | None) -> list[tuple[AlleleScores, dict, Counter]]:
    """Each chunk scored on its own (the CPU's shared-region path, ``deepbind`` mode). DeepFind's
    windows inside the panel's are scored in the panel's pass (:func:`_subwindows`), the others on
    their own."""
    out = []
    for p in items:
        win = p.win
        sub, own = _subwindows(p, bank, dbank, deepfind, settings)
        if len(win.site) == 0:
            ref = alt = np.zeros((0, len(bank)), np.float32)
        elif settings.mode == "global":
            r = score_global(bank, win, p.genome, strand_merge=settings.strand_merge, sub=sub)
            r, s = r if sub is not None else (r, None)
            ref, alt = r.ref[win.edits.ref_index], r.alt
        else:
            kw = dict(mode="deepbind", strand_merge=settings.strand_merge)
            ref = predict.score(bank, win.refs, **kw)[win.edits.ref_index]
            alt = predict.score(bank, predict.apply_edits(win.refs, win.edits), **kw)
        probs = None
        if deepfind is not None:
            probs = np.full(len(win.site), np.nan, np.float32)
            if p.dfw is not None:
                d_ref = np.empty((len(p.dfw.rows), len(dbank)), np.float32)
                d_alt = np.empty_like(d_ref)
                if sub is not None:
                    d_ref[~own] = s.ref[win.edits.ref_index[p.dfw.rows[~own]]]
                    d_alt[~own] = s.alt
                if own.any():
                    o = p.dfw.subset(own)
                    so = predict.score_edits(dbank, o.refs, o.edits, strand_merge=deepfind.model.config.strand_merge)
                    d_ref[own], d_alt[own] = so.ref, so.alt
                probs = deepfind_from_scores(deepfind, p.dfw, d_ref, d_alt, len(win.site))
        out.append((AlleleScores(win.site, win.allele, ref, alt, probs), win.skipped, p.counts))
    return out


def _subwindows(p: Prepared, bank: ModelBank, dbank: ModelBank | None, deepfind: DeepFind | None, settings
                ) -> tuple[predict.SubWindows | None, np.ndarray | None]:
    """DeepFind's windows of a chunk that the panel's CPU pass scores too (:func:`score_global` with
    ``sub``): those inside a panel window that is a genome stretch, around the same SNV, when
    DeepFind reads the panel's own scores (the same bank and strand merge, global mode). Returns the
    :class:`~varbind.predict.SubWindows` (or ``None``) and which DeepFind windows are left to score
    on their own (a mask)."""
    dfw, win = p.dfw, p.win
    if dfw is None:
        return None, None
    own = np.ones(len(dfw.rows), bool)
    if win.genome_start is None or not deepfind.reads_panel_pass(bank, dbank, settings):
        return None, own
    centre, width = deepfind.window()
    ref = win.edits.ref_index[dfw.rows]
    start = win.edits.start[dfw.rows] - centre
    ok = dfw.inside(win, centre, width) & (win.genome_start[ref] != NOT_GENOME)
    sub_start = np.full(len(win.refs.lengths), -1, np.int64)
    sub_start[ref[ok]] = start[ok]
    ok &= sub_start[ref] == start  # one sub-window a window (a site's SNVs share it)
    if not ok.any():
        return None, own
    sub_start[:] = -1
    sub_start[ref[ok]] = start[ok]
    e = dfw.edits
    edits = predict.Edits(ref[ok], e.start[ok], e.codes[ok], e.lengths[ok])
    return predict.SubWindows(sub_start, width, edits), ~ok


def score_task(chunks: Sequence[tuple[Sequence[Site], str | None]], fasta_path: str, bank: ModelBank, settings,
               deepfind: DeepFind | None = None, selection: Selection | None = None
               ) -> list[tuple[AlleleScores, dict, Counter]]:
    """Windows and scores of a task's chunks ``[(sites, FASTA contig or None), ...]``: the unit of work
    of a Dask worker (which fits its thread pools and picks its GPU first)."""
    settings = worker_settings(settings)
    return score([prepare(s, fasta_path, c, settings, deepfind) for s, c in chunks], bank, settings, deepfind,
                 selection)


def worker_settings(settings):
    """Inside a Dask worker: thread pools fitted to it, and with ``--device cuda`` (no index) the
    worker's own GPU (worker ``i`` of a local cluster takes GPU ``i`` modulo the GPUs visible)."""
    if fit_threads_to_worker() is None:
        return settings
    from distributed import get_worker

    name = get_worker().name
    return on_worker_gpu(settings, name if isinstance(name, int) else sum(map(ord, str(name))))


def on_worker_gpu(settings, index: int):
    """``settings`` for Dask worker ``index``: with ``--device cuda``/``auto`` (no GPU named) GPU
    ``index`` modulo the GPUs visible (:func:`varbind.device.gpus_of`)."""
    from dataclasses import replace

    gpus = _device.gpus_of(settings.device)
    return settings if len(gpus) == 1 else replace(settings, device=gpus[index % len(gpus)])


def fit_threads_to_worker() -> int | None:
    """Inside a Dask worker, give numba and torch as many threads as the worker has task threads.

    Each of ``N`` single-threaded worker processes would otherwise start one numba and one torch
    thread per core (``N`` x cores threads on ``cores`` cores). Returns the thread count set, or
    ``None`` outside a worker (nothing is changed there).
    """
    try:
        from distributed import get_worker

        n = int(get_worker().state.nthreads)
    except (ImportError, ValueError, AttributeError):
        return None
    import numba
    import torch

    n = max(1, min(n, numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(n)
    torch.set_num_threads(n)
    return n
