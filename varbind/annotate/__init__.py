"""VCF annotation: ``windows`` (variants -> ref/alt windows), ``scoring`` (windows -> scores),
``pipeline``/``stream`` (reader, scorer and writer threads), ``output`` and ``topk`` (INFO values,
the long table, the top models), ``sinks`` (VCF/TSV/Parquet files), ``parallel`` (parts in worker
processes), ``cluster`` (Dask), ``deepfind`` (DeepFind adapter), ``masking`` (masked sites), ``check``
(pre-flight). The API lives in ``variants`` (variants in memory, and the settings, panel and chunks
a VCF run shares) and ``api`` (the VCF run)."""
from .variants import (  # noqa: F401
    REGION,
    CHUNK,
    Settings,
    resolve_panel,
    score_chunk,
    region_chunks,
    score_variants,
    masked_by,
    percentiles,
    effects,
)
from .api import (  # noqa: F401
    Summary,
    fit_threads_to_worker,
    quiet_dask,
    annotate_vcf,
    format_summary,
)

__all__ = ['REGION', 'CHUNK', 'Settings', 'Summary', 'resolve_panel', 'fit_threads_to_worker', 'score_chunk', 'region_chunks', 'score_variants', 'masked_by', 'quiet_dask', 'percentiles', 'effects', 'annotate_vcf', 'format_summary']
