"""Context of a variant in an evidence report (:mod:`varbind.report.api`): the panel's DeepFind probability
with the classifier's held-out AUC, and the nearest transcription start site."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from .. import regions
from ..errors import InputFormatError
from ..panels.sources import Panel

log = logging.getLogger("varbind")

#: the panel whose shipped DeepFind model a report uses when its own panel has none
FALLBACK_PANEL = "deepbind"


class Deepfind(NamedTuple):
    """The DeepFind probability of a variant and what the shipped classifier scored on held-out data."""

    probability: float
    kind: str
    feature_set: str
    test_auc: float | None
    test_chromosomes: list[str]
    panel: str = ""
    n_models: int = 0


class Tss(NamedTuple):
    """The nearest transcription start site: gene, strand, type, 1-based position and signed distance
    (negative: the variant lies upstream of the TSS on the gene's strand)."""

    gene: str
    strand: str
    gene_type: str
    position: int
    distance: int


def load_deepfind(panel: Panel, tss: str | None):
    """The DeepFind model for a report (:class:`varbind.annotate.deepfind.DeepFind`), or ``None``.

    The panel's own shipped model when there is one and it fits the selection; else the one of
    :data:`FALLBACK_PANEL` on that panel's own models (DeepFind is a classifier with its own inputs,
    whatever panel the report ranks; the page names the panel it read). ``None`` when neither is
    there (said on the page, logged at debug level).
    """
    from .. import deepfind
    from ..deepfind import data as deepfind_data
    from ..panels import sources as pretrained
    from ..annotate.deepfind import DeepFind
    from ..errors import VarbindError

    feature_set = deepfind.FEATURE_SETS[-1] if tss else "scores"
    for name in dict.fromkeys([panel.name, FALLBACK_PANEL]):
        path = deepfind.find_model(name, "mlp", feature_set)
        if path is None:
            continue
        try:
            bank = panel.bank if name == panel.name else pretrained.load_panel(name).bank
            model = deepfind.load(path, bank=bank)
        except (VarbindError, ValueError) as e:
            log.debug("DeepFind model %s not usable here: %s", path, e)
            continue
        return DeepFind(model, deepfind_data.read_tss(tss) if tss else None, str(path))
    return None


def deepfind_probability(df, v: regions.Variant, fasta: str | os.PathLike) -> Deepfind | None:
    """The DeepFind probability of an SNV with the model ``df`` (:func:`load_deepfind`), and the
    model's held-out AUC from the ``metrics.json`` beside it; ``None`` for other variants or no model."""
    if df is None or len(v.ref) != 1 or len(v.alt) != 1:
        return None
    import json

    from .. import io
    from ..annotate.deepfind import deepfind_probabilities
    from ..annotate.windows import Site

    fa = io.Fasta(fasta)
    length = fa.lengths[v.chrom]

    def genome(a: int, b: int) -> np.ndarray:  # N beyond the contig's ends
        codes = np.full(b - a, 4, np.uint8)
        lo, hi = max(a, 0), min(b, length)
        if hi > lo:
            codes[lo - a : hi - a] = fa.codes(v.chrom, lo, hi)
        return codes

    site = Site(v.chrom, v.start, v.ref, (v.alt,))
    p = deepfind_probabilities([site], np.zeros(1, np.int64), np.zeros(1, np.int64), genome, df)[0]
    feature_set = df.model.config.feature_set
    kind = Path(df.path).name.split("-")[0]
    auc, chroms = None, []
    metrics = Path(df.path).parent / "metrics.json"
    if metrics.is_file():
        m = json.loads(metrics.read_text())
        chroms = list(m.get("splits", {}).get("test", {}).get("chromosomes", []))
        for r in m.get("results", []):
            if r.get("classifier") == kind and r.get("feature_set") == feature_set:
                auc = r.get("test", {}).get("auc")
    panel = Path(df.path).parent.name  # pretrained/deepfind/<panel>/<model>
    return Deepfind(float(p), kind, feature_set, auc, chroms, panel, len(df.model.config.model_ids))


def nearest_tss(path: str | os.PathLike, v: regions.Variant) -> Tss | None:
    """The TSS nearest to the variant in a TSS table (``chrom tss_1based strand gene_name gene_type``),
    or ``None`` when its chromosome has none."""
    from ..deepfind.data import canonical_chrom

    try:
        t = pd.read_csv(path, sep="\t", dtype={"chrom": str}, usecols=lambda c: c in
                        {"chrom", "tss_1based", "strand", "gene_name", "gene_type"})
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise InputFormatError(f"{path}: cannot read the TSS table: {e}") from None
    if not {"chrom", "tss_1based"} <= set(t.columns):
        raise InputFormatError(f"{path}: a TSS table needs the columns 'chrom' and 'tss_1based'")
    t = t[t["chrom"].map(canonical_chrom) == canonical_chrom(v.chrom)]
    if t.empty:
        return None
    d = v.pos - t["tss_1based"].to_numpy(np.int64)
    row = t.iloc[int(np.argmin(np.abs(d)))]
    strand = str(row.get("strand", "+"))
    dist = int(v.pos - row["tss_1based"])
    return Tss(str(row.get("gene_name", "")), strand, str(row.get("gene_type", "")), int(row["tss_1based"]),
               -dist if strand == "-" else dist)
