"""Global-mode scores of a chunk's variant windows, letting nearby variants share one reference pass.

On the CPU the reference windows that are plain genome stretches are grouped into short regions
(:func:`varbind.annotate.windows.cluster_windows`) and scored through :func:`varbind.predict.score_windows`;
the rest, and every window on other devices, through :func:`varbind.predict.score_edits`.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .. import predict
from ..bank import ModelBank
from ..sequence import CodeBatch
from .windows import NOT_GENOME, Windows, cluster_windows


def score_global(bank: ModelBank, win: Windows, genome: Callable[[int, int], np.ndarray], *,
                 strand_merge: str = "max", device: str | None = None, sub: predict.SubWindows | None = None
                 ) -> predict.EditScores | tuple[predict.EditScores, predict.EditScores]:
    """Global-mode scores of a chunk's windows: on the CPU, windows that are genome stretches are
    clustered into regions (:func:`varbind.annotate.windows.cluster_windows`) and scored through
    :func:`varbind.predict.score_windows` so nearby variants share one reference pass; the others
    (``use-vcf`` REFs) and other devices go through :func:`varbind.predict.score_edits`.

    Parameters
    ----------
    bank : ModelBank
    win : Windows
        From :func:`varbind.annotate.windows.build_windows`.
    genome : callable (lo, hi) -> uint8 codes
        The N-padded contig, as given to ``build_windows``.

    sub : SubWindows, optional
        Shorter windows inside some of the windows, scored in the same pass
        (:func:`varbind.predict.score_windows`; DeepFind's 51-bp windows): only inside genome
        stretches on the CPU (``win.genome_start``).

    Returns
    -------
    EditScores
        ``ref`` ``(B, M)`` per reference window, ``alt`` ``(E, M)`` per edit: equal to
        ``predict.score_edits(bank, win.refs, win.edits)`` within float32 rounding. With ``sub`` a
        pair, the second the sub-windows' scores (:func:`varbind.predict.score_windows`).

    Examples
    --------
    >>> from varbind.bank import ModelBank
    >>> from varbind.params import random_params
    >>> from varbind.annotate.windows import Site, encode_allele, build_windows
    >>> bank = ModelBank.from_params([random_params(detector_len=6, seed=3)], ["m"])
    >>> g = encode_allele("ACGTTGCAAC" * 20)
    >>> genome = lambda lo, hi: g[lo:hi]
    >>> win = build_windows([Site("c", p, "ACGTTGCAAC"[p % 10], ("N",)) for p in range(40, 60, 3)], genome, 31)
    >>> r = score_global(bank, win, genome)
    >>> w = predict.score_edits(bank, win.refs, win.edits)
    >>> bool(np.allclose(r.ref, w.ref, atol=1e-5) and np.allclose(r.alt, w.alt, atol=1e-5))
    True
    """
    kw = dict(strand_merge=strand_merge, device=device)
    dev = torch.device(device) if device else bank.device
    if dev.type != "cpu" or win.genome_start is None:
        if sub is not None:
            raise ValueError("sub-windows are scored in the panel's pass only on the CPU, inside genome stretches")
        return predict.score_edits(bank, win.refs, win.edits, **kw)
    nb, n_m = len(win.refs.lengths), len(bank)
    ref, alt = np.empty((nb, n_m), np.float32), np.empty((len(win.edits.start), n_m), np.float32)
    plain = win.genome_start != NOT_GENOME
    if sub is not None and (sub.start[~plain] >= 0).any():
        raise ValueError("sub-windows must lie in windows that are genome stretches")
    s_out = None
    for idx, shared in ((np.flatnonzero(plain), True), (np.flatnonzero(~plain), False)):
        if not len(idx):
            continue
        local = np.full(nb, -1, np.int64)
        local[idx] = np.arange(len(idx))
        sel = local[win.edits.ref_index] >= 0
        e = win.edits
        edits = predict.Edits(local[e.ref_index[sel]], e.start[sel], e.codes[sel], e.lengths[sel])
        if shared:
            lengths = win.refs.lengths[idx]
            c = cluster_windows(win.genome_start[idx], lengths)
            regions = CodeBatch(np.full((len(c.lo), int((c.hi - c.lo).max())), 4, np.uint8), c.hi - c.lo)
            for i, (a, b) in enumerate(zip(c.lo, c.hi)):
                regions.codes[i, : b - a] = genome(int(a), int(b))
            windows = predict.RegionWindows(c.region, win.genome_start[idx] - c.lo[c.region], lengths)
            if sub is None:
                r = predict.score_windows(bank, regions, windows, edits, **kw)
            else:  # the sub-windows' edits name windows among these (all of them: genome stretches)
                s_edits = predict.Edits(local[sub.edits.ref_index], *sub.edits[1:])
                r, s = predict.score_windows(bank, regions, windows, edits, **kw,
                                             sub=predict.SubWindows(sub.start[idx], sub.length, s_edits))
                s_out = predict.EditScores(np.zeros((nb, n_m), np.float32), s.alt)
                s_out.ref[idx] = s.ref
        else:
            r = predict.score_edits(bank, CodeBatch(win.refs.codes[idx], win.refs.lengths[idx]), edits, **kw)
        ref[idx], alt[sel] = r.ref, r.alt
    if sub is None:
        return predict.EditScores(ref, alt)
    if s_out is None:  # no window is a genome stretch, so no sub-window either
        s_out = predict.EditScores(np.zeros((nb, n_m), np.float32), np.zeros((0, n_m), np.float32))
    return predict.EditScores(ref, alt), s_out
