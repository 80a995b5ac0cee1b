"""The HTML evidence report: ``api`` (variant_report, write_report), ``context`` (DeepFind, TSS),
``figures``, ``html``/``template`` (the page), ``browser`` (headless Chromium)."""
from .api import (  # noqa: F401
    N_SUMMARY,
    PROVENANCE,
    ModelEvidence,
    VariantEvidence,
    Report,
    window_region,
    check_variant,
    ensure_null,
    score_table,
    ranked,
    gains_losses,
    provenance,
    variant_evidence,
    variant_report,
    genome_build,
    write_report,
    atomic_write,
)

__all__ = ['N_SUMMARY', 'PROVENANCE', 'ModelEvidence', 'VariantEvidence', 'Report', 'window_region', 'check_variant', 'ensure_null', 'score_table', 'ranked', 'gains_losses', 'provenance', 'variant_evidence', 'variant_report', 'genome_build', 'write_report', 'atomic_write']
