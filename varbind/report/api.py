"""Evidence reports: one self-contained HTML page per variant that a clinical researcher can read.

For each variant (``CHR:POS:REF:ALT``, 1-based ``POS`` as in a VCF) the report gathers

* every model's reference and alternate scores on the window centred on the variant (the same
  scores ``varbind annotate`` writes; global mode, both strands, ``max``), their percentiles in the
  model's null distribution, and the **calibrated effect** (:func:`varbind.panels.sources.calibrated_effect`:
  the change in units of the model's null spread). Models are ranked on the calibrated effect only;
  raw scores and deltas are shown beside it;
* the DeepFind probability of the panel's shipped classifier, with its held-out AUC
  (``pretrained/deepfind/<panel>/metrics.json``), when one ships for the panel;
* the nearest transcription start site when a TSS table is given;
* for the ``top`` models: wild-type and mutant mutation maps, the model's detector logos and its
  provenance (whatever catalogue columns the panel has).

:func:`variant_report` returns the page (:mod:`varbind.report.html` renders it; the DeepFind and TSS
context come from :mod:`varbind.report.context`, the figures from :mod:`varbind.report.figures`); :func:`write_report`
writes it (or a PDF printed by Chromium, :mod:`varbind.report.browser`) to a temporary file renamed
on success, so a failed run leaves no half-written page.

Examples
--------
>>> from varbind.regions import Variant
>>> window_region(Variant("chr5", 1295228, "G", "A"), 101)
Region(chrom='chr5', start=1295177, end=1295278)
"""
from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from .. import __version__, _fs, regions
from ..panels import sources as pretrained
from .ranking import N_SUMMARY, gains_losses, ranked  # noqa: F401
from ..errors import InputFormatError
from ..panels.sources import Panel
from .context import Deepfind, Tss, deepfind_probability, load_deepfind, nearest_tss

log = logging.getLogger("varbind")

#: provenance fields shown for a model, in this order, when its catalogue has them: (label, columns
#: joined by a space); a label is shown once, from its first entry the catalogue fills
PROVENANCE = (("Source", "source"), ("Experiment", "experiment"), ("Data type", "data_type"),
              ("Species", "species"), ("Molecule bound", "molecule"), ("Model type", "model_type"),
              ("Held-out quality", "quality_metric quality"), ("Held-out quality", "quality"),
              ("Held-out quality", "test_metric test_value"), ("Quality measured on", "quality_source"),
              ("Published model", "published_id"), ("Citation", "citation"), ("Citation", "cite"),
              ("Model sha256", "sha256"))


class ModelEvidence(NamedTuple):
    """One of the top models: its figures (PNG bytes) and provenance ``[(label, value)]``."""

    model: str
    mutation_maps: bytes | None
    logo: bytes | None
    provenance: list[tuple[str, str]]


class VariantEvidence(NamedTuple):
    """Everything one page shows for one variant.

    ``table`` has one row per model (panel order): ``model tf family ref_score alt_score delta ref_pct
    alt_pct effect`` (``effect``: the calibrated effect, NaN for a model without a null distribution).
    ``window`` is the scored window, 0-based half-open.
    """

    variant: regions.Variant
    window: regions.Region
    table: pd.DataFrame
    top: list[ModelEvidence]
    deepfind: Deepfind | None
    tss: Tss | None


class Report(NamedTuple):
    """A rendered report: the HTML page and the evidence it shows."""

    html: str
    evidence: list[VariantEvidence]
    panel: str
    panel_sha256: str


def window_region(v: regions.Variant, window: int) -> regions.Region:
    """The ``window``-base region varbind scores for a substitution, centred as ``varbind annotate``
    centres it (:func:`varbind.annotate.windows.allele_window`); 0-based half-open."""
    left = (window - len(v.alt)) // 2
    return regions.Region(v.chrom, v.start - left, v.start - left + window)


def check_variant(v: regions.Variant, fasta: str | os.PathLike) -> regions.Variant:
    """``v`` with its contig spelled as the FASTA spells it, after checking REF against the FASTA.

    Raises
    ------
    ContigNotFoundError, RefMismatchError, InputFormatError
    """
    from .. import io

    lengths = io.Fasta(fasta).lengths
    chrom = regions.resolve_contig(v.chrom, lengths, str(fasta))
    v = v._replace(chrom=chrom)
    if v.start + len(v.ref) > lengths[chrom]:
        raise InputFormatError(f"variant {v.chrom}:{v.pos}: past the end of {chrom} ({lengths[chrom]:,} bp)")
    here = regions.Region(chrom, v.start, v.start + len(v.ref))
    regions.check_ref(v, regions.fetch_region(fasta, here), here)
    if v.ref == v.alt:
        raise InputFormatError(f"variant {v.chrom}:{v.pos}: REF and ALT are the same ({v.ref})")
    return v


def ensure_null(panel: Panel) -> Panel:
    """``panel`` with null distributions: a panel that ships none (a DeepBind db folder read directly)
    gets them scored now on the shipped default panel's null set, so its effects are calibrated alike."""
    if panel.null is not None:
        return panel
    from ..panels.deepbind_import import _background
    from ..panels.nulls import null_table

    log.info("scoring the null set for %d models (the source ships no null distributions)", len(panel.bank))
    return panel._replace(null=null_table(panel.bank, _background()))


def _column(cat: pd.DataFrame, name: str, ids: Sequence[str]) -> list[str]:
    if name not in cat.columns:
        return [""] * len(ids)
    return [str(x) if isinstance(x, str) else "" for x in cat[name].reindex(list(ids)).tolist()]


def score_table(panel: Panel, v: regions.Variant, fasta: str | os.PathLike, window: int) -> pd.DataFrame:
    """Every model's scores for one (checked) variant, one row per model in panel order (see
    :class:`VariantEvidence`). Scored by :func:`varbind.annotate.api.score_chunk`, the unit of work of
    ``varbind annotate``, so the numbers are the ones it writes."""
    from ..annotate.api import Settings, percentiles, score_chunk
    from ..annotate.windows import Site

    site = Site(v.chrom, v.start, v.ref, (v.alt,))
    scores, skipped, _ = score_chunk([site], str(fasta), v.chrom, panel.bank, Settings(window=window))
    if len(scores.site) != 1:
        raise InputFormatError(f"variant {v.chrom}:{v.pos}:{v.ref}:{v.alt} cannot be scored "
                               f"({', '.join(skipped.values()) or 'skipped'})")
    ids = panel.bank.ids
    ref, alt = scores.ref[0].astype(np.float64), scores.alt[0].astype(np.float64)
    pct = percentiles(panel, scores)
    ref_pct, alt_pct = (pct[0][0], pct[1][0]) if pct is not None else (np.full(len(ids), np.nan),) * 2
    return pd.DataFrame({
        "model": ids, "tf": pretrained.panel_tfs(panel), "family": _column(panel.catalogue, "family", ids),
        "ref_score": ref, "alt_score": alt, "delta": alt - ref,
        "ref_pct": np.asarray(ref_pct, np.float64), "alt_pct": np.asarray(alt_pct, np.float64),
        "effect": pretrained.calibrated_effect(panel, ref[None, :], alt[None, :])[0],
    })


def provenance(panel: Panel, model: str) -> list[tuple[str, str]]:
    """``[(label, value)]`` of the model's catalogue fields listed in :data:`PROVENANCE` that it has."""
    cat = panel.catalogue
    if model not in cat.index:
        return []
    row = cat.loc[model]
    out: list[tuple[str, str]] = []
    for label, cols in PROVENANCE:
        parts = [_text(row.get(c, "")) for c in cols.split()]
        if all(parts) and label not in dict(out):  # a "quality" column wins over test_metric/test_value
            out.append((label, " ".join(parts)))
    return out


def _text(value) -> str:
    if isinstance(value, str):
        return value.strip()
    return "" if value is None or pd.isna(value) else str(value)


def variant_evidence(panel: Panel, v: regions.Variant, fasta: str | os.PathLike, *, tss: str | None = None,
                     top: int = 3, window: int = 101, flank: int = 20, deepfind=None) -> VariantEvidence:
    """The evidence of one variant (see :class:`VariantEvidence`); ``panel`` must have null tables,
    ``deepfind`` is :func:`load_deepfind`'s model (or ``None``)."""
    from .figures import detector_logo_png, mutation_maps_png

    v = check_variant(v, fasta)
    table = score_table(panel, v, fasta, window)
    chosen = ranked(table)["model"].head(max(0, top)).tolist()
    maps = mutation_maps_png(panel, v, fasta, chosen, window_region(v, window), flank) if chosen else {}
    params = dict(zip(panel.bank.ids, panel.bank.params))
    top_ev = [ModelEvidence(m, maps.get(m), detector_logo_png(params[m], m, table.set_index("model").at[m, "tf"]),
                            provenance(panel, m)) for m in chosen]
    return VariantEvidence(v, window_region(v, window), table, top_ev,
                           deepfind_probability(deepfind, v, fasta), nearest_tss(tss, v) if tss else None)


def variant_report(variants: Sequence[str | regions.Variant], fasta: str | os.PathLike,
                   models: str | os.PathLike | Panel = pretrained.DEFAULT, *, ids: Sequence[str] | None = None,
                   tf: Sequence[str] | None = None, family: Sequence[str] | None = None, tss: str | None = None,
                   top: int = 3, window: int = 101, flank: int = 20, date: str | None = None) -> Report:
    """Build the evidence page of each variant and render them as one self-contained HTML document.

    Parameters
    ----------
    variants : sequence of ``"CHR:POS:REF:ALT"`` strings (1-based ``POS``) or :class:`~varbind.regions.Variant`
        Substitutions (SNVs, MNPs) get every section; indels get scores but no mutation maps.
    fasta : path
        Indexed reference FASTA (plain or bgzipped); contigs are aliased (``chr5`` <-> ``5``).
    models : panel name, bundle or DeepBind db folder, or a :class:`~varbind.panels.sources.Panel`
    ids, tf, family : optional
        Model selection (:func:`varbind.panels.sources.select`).
    tss : path, optional
        TSS table for the nearest gene and DeepFind's distance feature.
    top : int
        Models shown with mutation maps, logos and provenance (largest ``|calibrated effect|``).
    window : int
        Scored window (bases, centred on the variant; ``varbind annotate``'s default 101).
    flank : int
        Bases each side of the variant in the mutation maps.
    date : str, optional
        Date printed in the header (default: today, UTC).

    Raises
    ------
    RefMismatchError, ContigNotFoundError, ModelNotFoundError, InputFormatError, ModelSourceError
    """
    from .html import render

    if not variants:
        raise InputFormatError("no variant to report")
    parsed = [v if isinstance(v, regions.Variant) else regions.parse_variant(v) for v in variants]
    for v in parsed:  # bad input fails before any model is loaded or anything is scored
        check_variant(v, fasta)
    panel = models if isinstance(models, Panel) else pretrained.load_panel(
        models, ids=list(ids) if ids else None, tf=tf, family=family)
    null_built = panel.null is None
    panel = ensure_null(panel)
    df = load_deepfind(panel, tss)
    evidence = [variant_evidence(panel, v, fasta, tss=tss, top=top, window=window, flank=flank, deepfind=df)
                for v in parsed]
    sha = pretrained.panel_sha256(panel)
    meta = {"panel": panel.name, "panel_sha256": sha, "n_models": len(panel.bank), "version": __version__,
            "date": date or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
            "fasta": Path(fasta).name, "build": genome_build(fasta), "tss": Path(tss).name if tss else None,
            "null_built": null_built}
    return Report(render(evidence, meta), evidence, panel.name, sha)


def genome_build(fasta: str | os.PathLike) -> str:
    """The genome build the FASTA's chromosome 1 length names, else ``"unknown"``."""
    from .. import io
    from ..annotate.check import guess_build

    return guess_build(io.Fasta(fasta).lengths) or "unknown (chromosome 1 length not recognised)"


def write_report(report: Report, path: str | os.PathLike, fmt: str = "html") -> Path:
    """Write the page (``fmt="html"``) or a PDF Chromium prints from it (``fmt="pdf"``) to ``path``,
    atomically (:mod:`varbind._fs`: a temporary file beside it, renamed on success).

    Raises
    ------
    OutputError
        When the page cannot be written (also an ``OSError``); nothing is left under ``path``, an
        existing file keeps its old content.
    """
    from .browser import print_pdf

    if fmt not in ("html", "pdf"):
        raise InputFormatError(f"unknown report format {fmt!r} (html or pdf)")
    if fmt == "html":
        _fs.write_text(path, report.html)
    else:
        with _fs.atomic_path(path) as tmp:
            print_pdf(report.html, tmp)
    return Path(path)


def atomic_write(target: str | os.PathLike, write) -> Path:
    """``write(tmp)`` into a temporary file beside ``target``, renamed to it on success
    (:func:`varbind._fs.atomic_path`; kept so that code calling this name still works)."""
    with _fs.atomic_path(target) as tmp:
        write(tmp)
    return Path(target)
