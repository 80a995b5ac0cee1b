"""DeepFind in ``varbind annotate``: the panel's shipped model and its probability per SNV allele."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .pretrained import Panel
from .sequence import CodeBatch
from .variants import Site

log = logging.getLogger("varbind")


class DeepFind(NamedTuple):
    """A panel's DeepFind model (:class:`varbind.deepfind.DeepFindModel`, its bank attached) and the
    TSS table its distance feature reads (``None`` for a scores-only model)."""

    model: Any
    tss: Any
    path: str


def load_deepfind(panel: Panel, tss: str | None = None, kind: str = "mlp") -> DeepFind | None:
    """The shipped DeepFind model of ``panel`` (``None``, logged, when there is none or it does not fit).

    With a TSS table the model of every feature (scores, distance to the nearest TSS, transversion)
    is used, without one the scores-only model.
    """
    from . import deepfind, deepfind_data
    from .errors import VarbindError

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


def deepfind_probabilities(sites: Sequence[Site], site: np.ndarray, allele: np.ndarray, genome, df: DeepFind,
                           device: str | None = None) -> np.ndarray:
    """DeepFind probability of each scored allele ``(E,)``; NaN for alleles that are not SNVs.

    Features come from the model's own window (51 bp) centred on the SNV, whatever ``--window`` is;
    the centre holds the REF as the VCF gives it (equal to the FASTA unless ``--ref-mismatch use-vcf``).
    """
    from . import deepfind_data
    from .sequence import encode

    out = np.full(len(site), np.nan, np.float32)
    snv = [e for e in range(len(site)) if len(sites[site[e]].ref) == 1 and len(sites[site[e]].alts[allele[e]]) == 1
           and (sites[site[e]].ref + sites[site[e]].alts[allele[e]]).upper().strip("ACGT") == ""]
    if not snv or genome is None:
        return out
    width = df.model.config.window
    half = width // 2
    refs = [sites[site[e]].ref.upper() for e in snv]
    alts = [sites[site[e]].alts[allele[e]].upper() for e in snv]
    starts = [sites[site[e]].start for e in snv]
    ref_w = np.stack([genome(p - half, p - half + width) for p in starts])
    ref_w[:, half] = [encode(r)[0] for r in refs]
    alt_w = ref_w.copy()
    alt_w[:, half] = [encode(a)[0] for a in alts]
    lengths = np.full(len(snv), width, np.int64)
    chroms = [sites[site[e]].chrom for e in snv]
    dist = (deepfind_data.tss_distance(chroms, [p + 1 for p in starts], df.tss) if df.tss is not None
            else np.full(len(snv), -1, np.int64))
    out[snv] = df.model.predict_variants(CodeBatch(ref_w, lengths), CodeBatch(alt_w, lengths), dist,
                                         deepfind_data.transversion(refs, alts), device=device)
    return out
