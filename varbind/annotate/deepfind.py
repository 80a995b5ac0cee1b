"""DeepFind in ``varbind annotate``: the panel's shipped model and its probability per SNV allele."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ..panels.sources import Panel
from ..sequence import CodeBatch
from .windows import Site, gather

log = logging.getLogger("varbind")


class DeepFind(NamedTuple):
    """A panel's DeepFind model (:class:`varbind.deepfind.model.DeepFindModel`, its bank attached) and the
    TSS table its distance feature reads (``None`` for a scores-only model)."""

    model: Any
    tss: Any
    path: str

    def window(self) -> tuple[int, int]:
        """The model's window as ``(centre, length)``: the SNV is its base ``centre`` (0-based)."""
        width = self.model.config.window
        return width // 2, width

    def reads_panel_pass(self, bank, dbank, settings) -> bool:
        """Whether the panel's own scoring pass can give this model's features: it reads the same bank
        (``dbank`` placed as ``bank``: the same models, in order) with the run's strand merge, in global mode."""
        return (dbank is bank and settings.mode == "global"
                and self.model.config.strand_merge == settings.strand_merge)


def load_deepfind(panel: Panel, tss: str | None = None, kind: str = "mlp") -> DeepFind | None:
    """The shipped DeepFind model of ``panel`` (``None``, logged, when there is none or it does not fit).

    With a TSS table the model of every feature (scores, distance to the nearest TSS, transversion)
    is used, without one the scores-only model.
    """
    from .. import deepfind
    from ..deepfind import data as deepfind_data
    from ..errors import VarbindError

    feature_set = deepfind.FEATURE_SETS[-1] if tss else "scores"
    path = deepfind.find_model(panel.name, kind, feature_set)
    if path is None:
        log.debug("no DeepFind model ships for panel %s (%s features): VB_DEEPFIND not added", panel.name, feature_set)
        return None
    try:
        model = deepfind.load(path, bank=panel.bank)
    except (VarbindError, ValueError) as e:
        log.warning("DeepFind model %s does not fit this selection of the panel (%s): VB_DEEPFIND not added", path, e)
        return None
    return DeepFind(model, deepfind_data.read_tss(tss) if tss else None, str(path))


_BASE = {"A": 0, "C": 1, "G": 2, "T": 3}


class DeepFindWindows(NamedTuple):
    """DeepFind's inputs for the SNV alleles of a chunk: which scored alleles they are (``rows``, into
    the chunk's edits), the model's reference windows (``refs``, ``(n, width)``) and the centre edits
    (``edits``), the TSS distances and transversion flags."""

    rows: np.ndarray
    refs: CodeBatch
    edits: Any
    dist: np.ndarray
    tv: np.ndarray

    def inside(self, win, centre: int, length: int) -> np.ndarray:
        """Which of these windows (a mask) are the bases of the panel's window ``win`` around the
        same SNV (the substitution at ``centre`` of ``length`` bases; the same REF and ALT), so that
        the panel's pass can score them too (:func:`varbind.predict.score_snvs_with_subwindow`)."""
        ed = win.edits
        e = self.rows
        ref = ed.ref_index[e]
        s0 = ed.start[e] - centre
        ok = (ed.lengths[e] == 1) & (s0 >= 0) & (s0 + length <= win.refs.lengths[ref])
        ok &= (self.refs.lengths == length) & (self.edits.start == centre)
        ok &= ed.codes[e, 0] == self.edits.codes[:, 0]
        cols = np.minimum(np.maximum(s0, 0)[:, None] + np.arange(length), win.refs.codes.shape[1] - 1)
        ok &= (win.refs.codes[ref[:, None], cols] == self.refs.codes[:, :length]).all(axis=1)
        return ok

    def subset(self, keep: np.ndarray) -> "DeepFindWindows":
        """The windows ``keep`` (a mask), their edits renumbered."""
        idx = np.flatnonzero(keep)
        e = self.edits
        return DeepFindWindows(self.rows[idx], CodeBatch(self.refs.codes[idx], self.refs.lengths[idx]),
                               type(e)(np.arange(len(idx), dtype=np.int64), e.start[idx], e.codes[idx], e.lengths[idx]),
                               self.dist[idx], self.tv[idx])


def deepfind_windows(sites: Sequence[Site], site: np.ndarray, allele: np.ndarray, genome, df: DeepFind
                     ) -> DeepFindWindows | None:
    """The model's windows (51 bp) centred on each SNV allele of ``site``/``allele``, whatever
    ``--window`` is; the centre holds the REF as the VCF gives it (equal to the FASTA unless
    ``--ref-mismatch use-vcf``). ``None`` when there is no SNV (or no genome)."""
    from .. import predict
    from ..deepfind import data as deepfind_data

    pairs = [(sites[s].ref.upper(), sites[s].alts[a].upper()) for s, a in zip(site.tolist(), allele.tolist())]
    snv = [e for e, (r, a) in enumerate(pairs) if r in _BASE and a in _BASE]
    if not snv or genome is None:
        return None
    half, width = df.window()
    refs = [pairs[e][0] for e in snv]
    alts = [pairs[e][1] for e in snv]
    starts = [sites[site[e]].start for e in snv]
    ref_w = gather(genome, np.asarray(starts, np.int64) - half, width)
    ref_w[:, half] = [_BASE[r] for r in refs]
    alt_codes = np.array([_BASE[a] for a in alts], np.uint8)
    n = len(snv)
    # the edit predict_variants makes of these windows: the centre base
    edits = predict.Edits(np.arange(n, dtype=np.int64), np.full(n, half, np.int64), alt_codes[:, None],
                          np.ones(n, np.int64))
    chroms = [sites[site[e]].chrom for e in snv]
    dist = (deepfind_data.tss_distance(chroms, [p + 1 for p in starts], df.tss) if df.tss is not None
            else np.full(n, -1, np.int64))
    return DeepFindWindows(np.asarray(snv, np.int64), CodeBatch(ref_w, np.full(n, width, np.int64)), edits, dist,
                           deepfind_data.transversion(refs, alts))


def deepfind_from_scores(df: DeepFind, w: DeepFindWindows, ref: np.ndarray, alt: np.ndarray, n_alleles: int
                         ) -> np.ndarray:
    """Probabilities ``(n_alleles,)`` (NaN where not an SNV) from the panel's scores of ``w``'s
    reference windows ``ref`` and edits ``alt`` (``(n, M)`` each, in the DeepFind model's model order)."""
    from .. import deepfind

    out = np.full(n_alleles, np.nan, np.float32)
    out[w.rows] = deepfind.score(df.model, ref, alt, w.dist, w.tv)
    return out


def deepfind_probabilities(sites: Sequence[Site], site: np.ndarray, allele: np.ndarray, genome, df: DeepFind,
                           device: str | None = None) -> np.ndarray:
    """DeepFind probability of each scored allele ``(E,)``; NaN for alleles that are not SNVs.

    Features come from the model's own window (51 bp) centred on the SNV (:func:`deepfind_windows`),
    scored through :func:`varbind.predict.score_edits` as :meth:`varbind.deepfind.model.DeepFindModel.predict_variants`
    does.
    """
    from .. import predict

    w = deepfind_windows(sites, site, allele, genome, df)
    if w is None:
        return np.full(len(site), np.nan, np.float32)
    s = predict.score_edits(df.model.bank, w.refs, w.edits, strand_merge=df.model.config.strand_merge, device=device)
    return deepfind_from_scores(df, w, s.ref, s.alt, len(site))
