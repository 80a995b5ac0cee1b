"""Score variants held in memory with a whole panel: :func:`score_variants` and what it shares with a VCF run.

The shared parts: :class:`Settings` (how variants are scored), :func:`resolve_panel`, :func:`region_chunks`
(records grouped into *region chunks*: consecutive records on one contig within one :data:`REGION`-base
bin, at most :data:`CHUNK` records each), :func:`score_chunk` (one chunk's allele scores) and the
columns of a score table beside the scores: :func:`percentiles`, :func:`effects` (with :func:`spreads`)
and :func:`masked_by`. :func:`varbind.annotate.api.annotate_vcf` runs the same over a VCF file.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import io, masking
from ..panels import sources as pretrained
from . import pipeline
from . import stream as annotate_stream
from .masking import masked_column
from .output import AlleleScores, long_table
from ..bank import ModelBank
from ..panels.sources import Panel
from .deepfind import DeepFind
from .topk import Selection
from .windows import Site

if TYPE_CHECKING:  # imported where a table is built: pandas adds ~0.25-0.5 s to every command's start
    import pandas as pd
from ..panels.nulls import effect_in_spreads, null_spread

log = logging.getLogger("varbind")

REGION = 1_000_000
CHUNK = 2048


@dataclass(frozen=True)
class Settings:
    """How variants are scored (all picklable, shipped to Dask workers)."""

    window: int = 101
    mode: str = "global"
    ref_mismatch: str = "skip"
    strand_merge: str = "max"
    device: str | None = None


def resolve_panel(source: str | ModelBank | Panel, ids: Sequence[str] | None = None, *,
                  tf: Sequence[str] | None = None, family: Sequence[str] | None = None) -> Panel:
    """A :class:`~varbind.panels.sources.Panel` from a panel, a bank, or a source
    :func:`varbind.panels.sources.load_panel` resolves (panel name, bundle or DeepBind db folder)."""
    if isinstance(source, Panel):
        return source
    if isinstance(source, ModelBank):
        return pretrained.panel_from_bank(source.select(list(ids)) if ids else source)
    return pretrained.load_panel(source, ids=list(ids) if ids else None, tf=tf, family=family)

# ---------------------------------------------------------------- one chunk


_fasta = pipeline.fasta


def score_chunk(sites: Sequence[Site], fasta_path: str, contig: str | None, bank: ModelBank,
                settings: Settings, deepfind: DeepFind | None = None
                ) -> tuple[AlleleScores, dict[tuple[int, int], str], Counter]:
    """Score the sites of one chunk (all on one contig; ``contig`` is its FASTA name or ``None``).

    Returns the allele scores (with DeepFind probabilities when ``deepfind`` is given), the skipped
    alleles ``{(site, allele): reason}`` and REF-check counts (see :mod:`varbind.annotate.pipeline`,
    which scores runs of chunks at once).
    """
    return pipeline.score_task([(sites, contig)], fasta_path, bank, settings, deepfind)[0]


def region_chunks(items: Iterable[tuple[Any, Site]], region: int = REGION, size: int = CHUNK) -> Iterator[list]:
    """Group ``(record, site)`` pairs into chunks: consecutive, same contig and ``region`` bin, <= ``size``."""
    chunk: list = []
    key = None
    for item in items:
        s = item[1]
        k = (s.chrom, s.start // region)
        if chunk and (k != key or len(chunk) == size):
            yield chunk
            chunk = []
        chunk.append(item)
        key = k
    if chunk:
        yield chunk


# ---------------------------------------------------------------- API


def score_variants(variants: Iterable[Site | tuple] | pd.DataFrame, fasta: str, panel: str | ModelBank | Panel, *,
                   ids: Sequence[str] | None = None, settings: Settings | None = None) -> pd.DataFrame:
    """Score variants with every model of a panel; one row per scored ALT allele and model.

    Parameters
    ----------
    variants : DataFrame with columns chrom, pos (1-based), ref, alt; or Site / (chrom, pos, ref, alt) tuples
    fasta : str
        Path of the reference FASTA (plain or bgzipped + indexed); contigs are aliased (chr1 <-> 1).
    panel : ModelBank, Panel, DeepBind db folder or panel name
    settings : Settings, optional

    Returns
    -------
    DataFrame
        Columns ``chrom pos id ref alt model tf ref_score alt_score delta effect ref_pct alt_pct
        panel_effect``; skipped alleles are not in
        it, they are counted by reason in ``df.attrs["skipped"]``.
    """
    import pandas as pd

    settings = settings or Settings()
    panel = resolve_panel(panel, ids)
    if isinstance(variants, pd.DataFrame):
        variants = variants[["chrom", "pos", "ref", "alt"]].itertuples(index=False)
    sites = [v if isinstance(v, Site) else Site(str(v[0]), int(v[1]) - 1, str(v[2]), tuple(str(v[3]).split(",")))
             for v in variants]
    contigs = io.ContigMap(_fasta(str(fasta)).lengths)
    tables, skipped = [], Counter()
    levels = masking.null_levels(panel.bank, panel.null)
    spread = spreads(panel)
    chunks = region_chunks((None, s) for s in sorted(sites, key=lambda s: (s.chrom, s.start)))
    for task in annotate_stream.tasks(chunks, pipeline.task_size(settings.device)):
        task_sites = [([s for _, s in chunk], contigs(chunk[0][1].chrom)) for chunk in task]
        for (chunk_sites, contig), (scores, skips, _) in zip(task_sites, pipeline.score_task(
                task_sites, str(fasta), panel.bank, settings)):
            skipped.update(skips.values())
            tables.append(long_table(scores, chunk_sites, panel.bank.ids, pretrained.panel_tfs(panel),
                                     percentiles(panel, scores), effects(panel, scores, spread),
                                     masked_by(panel, chunk_sites, scores, str(fasta), contig, settings, levels)))
    import pyarrow as pa

    from .output import TABLE_SCHEMA

    df = pa.concat_tables(tables).to_pandas() if tables else TABLE_SCHEMA.empty_table().to_pandas()
    df.attrs["skipped"] = dict(skipped)
    if skipped:  # never an empty or short result without a word
        log.warning("score_variants: %d ALT alleles not scored (%s); see df.attrs['skipped']", sum(skipped.values()),
                    ", ".join(f"{k} {v}" for k, v in sorted(skipped.items())))
    return df

def spreads(panel: Panel) -> np.ndarray | None:
    """Each model's null spread ``(M,)`` (:func:`varbind.panels.nulls.null_spread`; ``None`` without
    null tables): computed once a run, for every batch's calibrated effects."""
    return None if panel.null is None else null_spread(panel.null, panel.bank.ids)


def top_selection(panel: Panel, top_k: int, spread: np.ndarray | None = None) -> Selection:
    """What the scoring stage keeps when only INFO fields are written: the top ``top_k`` models by
    calibrated effect (by raw delta without null tables); ``spread``: :func:`spreads` when already known."""
    return Selection(min(top_k, len(panel.bank)), spreads(panel) if spread is None else spread)


def masked_by(panel: Panel, sites: Sequence[Site], scores: AlleleScores, fasta_path: str, contig: str | None,
              settings: Settings, levels: masking.NullLevels) -> np.ndarray | None:
    """The ``masked_by`` column of a chunk's table rows (:mod:`varbind.annotate.masking`)."""
    if contig is None or not len(scores.site):
        return None
    fasta = _fasta(fasta_path)
    return masked_column(panel.bank, levels, sites, scores, lambda a, b: fasta.codes(contig, a, b), settings.window,
                         settings.ref_mismatch, fasta.lengths[contig], strand_merge=settings.strand_merge)


def percentiles(panel: Panel, scores: AlleleScores) -> tuple[np.ndarray, np.ndarray] | None:
    """Reference and alternate score percentiles in each model's null distribution (``None``
    when the panel ships no null tables)."""
    if panel.null is None or not len(scores.site):
        return None
    return pretrained.percentile(panel, scores.ref), pretrained.percentile(panel, scores.alt)


def effects(panel: Panel, scores: AlleleScores, spread: np.ndarray | None = None) -> np.ndarray | None:
    """Calibrated effects ``(E, M)`` of the scored alleles (:func:`varbind.panels.sources.calibrated_effect`),
    ``None`` when the panel ships no null tables; ``spread``: :func:`spreads` of the panel, when at hand."""
    if panel.null is None or not len(scores.site):
        return None
    return effect_in_spreads(scores.ref, scores.alt, spreads(panel) if spread is None else spread)
