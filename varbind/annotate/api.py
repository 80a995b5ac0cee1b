"""Annotate a VCF with a whole panel: streaming, chunked by region, optionally on Dask or in worker processes.

Records are streamed and grouped into *region chunks* (:func:`varbind.annotate.variants.region_chunks`):
consecutive records on one contig within one :data:`~varbind.annotate.variants.REGION`-base bin, at
most :data:`~varbind.annotate.variants.CHUNK` records each. A chunk's windows (see
:mod:`varbind.annotate.windows`) are cut from one FASTA fetch and scored through
:func:`varbind.predict.score_edits` (``global`` mode: each ALT a delta on its reference pass; the
ALTs of a site share it) or :func:`varbind.predict.score` on both windows (``deepbind`` mode).

With Dask (``workers`` or ``dask_address``) the driver reads the VCF, sends each chunk's sites to
the cluster and writes the results back in input order, at most a few chunks in flight (bounded
memory). Chunks are the same as in a single process and each is scored by the same function, so the
output is byte-identical. Workers open the FASTA by its path (a shared file system for a remote
scheduler).

Variants held in memory (no VCF) are scored by :func:`varbind.annotate.variants.score_variants`; the
settings, panel and per-chunk helpers this module shares with it live there too and are importable
from here as before.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .. import __version__, _fs, forkserver, io, masking
from ..panels import sources as pretrained
from ..io import vcf_policy
from ..io import vcf_source
from . import cluster as _cluster
from . import parallel, pipeline
from .cluster import quiet_dask  # noqa: F401  (public name)
from . import stream as annotate_stream
from .pipeline import fit_threads_to_worker  # noqa: F401  (public name)
from .output import SKIP_DEF, AlleleScores, info_values, long_table
from .sinks import TableSink, VcfSink, output_kind
from ..bank import ModelBank
from ..errors import ContigNotFoundError, InputFormatError
from ..panels.sources import Panel
from .deepfind import DeepFind, load_deepfind
from .topk import Top
from .windows import SKIP_REASONS, Site
from .variants import (CHUNK, REGION, Settings, effects, masked_by, percentiles, region_chunks, resolve_panel, spreads,
                       top_selection)
from .variants import score_chunk  # noqa: F401  (public name)

log = logging.getLogger("varbind")


class Summary(NamedTuple):
    """What :func:`annotate_vcf` did. ``skipped`` counts ALT alleles by reason (see
    :data:`varbind.annotate.windows.SKIP_REASONS`); ``ref_mismatch``/``ref_alt_swap`` count records seen."""

    records: int
    alleles: int
    annotated: int
    skipped: dict[str, int]
    ref_mismatch: int
    ref_alt_swap: int
    output: str
    index: str | None


_fasta = pipeline.fasta
_sites_near = pipeline.sites_near


# ---------------------------------------------------------------- API


def _joined(parts: list[AlleleScores], n_sites: list[int], n_models: int) -> AlleleScores:
    """Allele scores of consecutive chunks as one, site indices counted across them."""
    offsets = np.cumsum([0] + n_sites[:-1])
    cat = lambda xs, shape: np.concatenate(xs) if xs else np.zeros(shape, np.float32)  # noqa: E731
    deepfind = None if parts and parts[0].deepfind is None else cat([p.deepfind for p in parts], (0,))
    top = None
    if parts and parts[0].top is not None:
        top = Top(*(np.concatenate(x) for x in zip(*(p.top for p in parts))))
    width = 0 if top is not None else n_models
    return AlleleScores(cat([p.site + o for p, o in zip(parts, offsets)], (0,)).astype(np.int64),
                        cat([p.allele for p in parts], (0,)).astype(np.int64),
                        cat([p.ref for p in parts], (0, width)), cat([p.alt for p in parts], (0, width)), deepfind, top)


def _joined_skips(parts: list[dict[tuple[int, int], str]], n_sites: list[int]) -> dict[tuple[int, int], str]:
    """Skipped alleles of consecutive chunks as one ``{(site, allele): reason}``, sites counted across them."""
    out: dict[tuple[int, int], str] = {}
    for part, offset in zip(parts, np.cumsum([0] + n_sites[:-1]).tolist()):
        out.update({(s + offset, a): reason for (s, a), reason in part.items()})
    return out


def _pair_percentiles(panel: Panel):
    """The percentiles of the top models' scores only (:func:`varbind.annotate.topk.pair_percentiles`),
    as :func:`varbind.annotate.output.info_values` takes them; ``None`` without null tables."""
    if panel.null is None:
        return None
    from .topk import pair_percentiles

    ids = panel.bank.ids
    return lambda ref, alt, cols: (pair_percentiles(panel.null, ref, cols, ids),
                                   pair_percentiles(panel.null, alt, cols, ids))


def annotate_vcf(vcf: str, fasta: str, output: str, panel: str | ModelBank | Panel, *,
                 ids: Sequence[str] | None = None, settings: Settings | None = None, top_k: int = 5,
                 scores: str | None = None, strict: bool = False, workers: int | None = None,
                 dask_address: str | None = None, command: str = "", progress: bool = False,
                 deepfind: bool = True, tss: str | None = None, regions: str | Sequence | None = None,
                 regions_file: str | None = None, host_workers: int | None = None) -> Summary:
    """Annotate a VCF/BCF with the panel's scores; write VCF (``.vcf``/``.vcf.gz``/``.bcf``), TSV or Parquet.

    VCF output keeps every record and adds INFO ``VARBIND`` (top-``top_k`` models by ``|effect|``, the
    calibrated effect, per ALT, ``Allele|Model|TF|Ref|Alt|Delta|Effect|...``), ``VB_MAXGAIN``,
    ``VB_MAXLOSS`` (largest/smallest effect) and ``VB_PANEL`` (mean effect) (Number=A); ``scores``
    (Parquet or TSV) and TSV/Parquet outputs hold every model's scores in long format. Outputs are written to
    temporary files and renamed on success. When the panel ships a DeepFind model (``deepfind``) the
    VCF also gets ``VB_DEEPFIND`` (Number=A): with ``tss`` (a TSS table, see
    :func:`varbind.deepfind.data.read_tss`) the model of scores + TSS distance + transversion,
    otherwise the scores-only model.

    ``vcf`` may be ``-`` (stdin). ``regions`` (``"chr1:100-200,chr2"``, 1-based, or spans) and
    ``regions_file`` (``-R``: TSV or BED) restrict it as in bcftools (see :mod:`varbind.io.vcf_source`).
    ``progress`` shows a bar on a terminal, log lines every 30 s otherwise.

    A record using a contig, FILTER, INFO or FORMAT tag its header does not declare passes through
    unchanged with the declaration added to the output header (the run starts again once with the
    declarations the whole input needs; see :mod:`varbind.io.vcf_policy`); with ``strict`` such a
    record, a tag name that is not valid VCF, or an allele that cannot be scored stops the run.

    ``host_workers``: processes that read, build windows, format and write parts of a large VCF file
    at once (:mod:`varbind.annotate.parallel`; ``None``: :func:`varbind.annotate.parallel.default_workers`,
    several on a GPU, one on the CPU; the VCF text written is the same).

    Raises
    ------
    InputFormatError, RefMismatchError, ContigNotFoundError
        For unusable input (no contig of the VCF in the FASTA: probably another genome build).
    """
    kw = dict(ids=ids, settings=settings, top_k=top_k, scores=scores, strict=strict, workers=workers,
              dask_address=dask_address, command=command, progress=progress, deepfind=deepfind, tss=tss,
              regions=regions, regions_file=regions_file, host_workers=host_workers)
    try:
        return _annotate_vcf(vcf, fasta, output, panel, **kw)
    except vcf_policy.Undeclared as e:
        if strict:
            raise InputFormatError(f"{vcf}: {e}; refused as --strict is set") from None
        if str(vcf) == "-":  # a stream cannot be read again
            raise InputFormatError(f"stdin: {e}; declare it in the header, or give the file's name so that "
                                   "varbind can declare it") from None
        first = e
    lines = vcf_policy.undeclared_lines(str(vcf))
    what = vcf_policy.names(lines)
    shown = ", ".join(what[:10]) + (f", ... ({len(what)} in all)" if len(what) > 10 else "")
    (log.info if all(w.startswith("contig/") for w in what) else log.warning)(
        "%s: %s; declared in the output header as htslib reads them: %s", vcf, first, shown or "none")
    try:
        return _annotate_vcf(vcf, fasta, output, panel, declared=lines, **kw)
    except vcf_policy.Undeclared as e:
        raise InputFormatError(f"{vcf}: {e}, and declaring it did not help") from None


def _annotate_vcf(vcf: str, fasta: str, output: str, panel: str | ModelBank | Panel, *,
                  ids: Sequence[str] | None = None, settings: Settings | None = None, top_k: int = 5,
                  scores: str | None = None, strict: bool = False, workers: int | None = None,
                  dask_address: str | None = None, command: str = "", progress: bool = False,
                  deepfind: bool = True, tss: str | None = None, regions: str | Sequence | None = None,
                  regions_file: str | None = None, declared: Sequence[str] = (), host_workers: int | None = None,
                  dfind: DeepFind | None = None, part_stats: dict | None = None, scorer=None) -> Summary:
    """The run :func:`annotate_vcf` starts (again, with ``declared``, after an undeclared tag).
    ``dfind``: DeepFind already loaded; ``part_stats`` (a worker of :mod:`varbind.annotate.parallel`
    annotating one part): filled with the counts instead of checking contigs and saying the summary;
    ``scorer``: that worker's tasks scored by the parent (:class:`varbind.annotate.service.Remote`)."""
    settings = settings or Settings()
    if part_stats is None and not (workers or dask_address) and str(vcf) != "-" and forkserver.parts_likely(
            [str(vcf)], host_workers):
        parallel.prestart(settings)  # the workers' imports while the panel loads, if it comes to them
    panel = resolve_panel(panel, ids)
    tfs = pretrained.panel_tfs(panel)
    if dfind is None and deepfind:
        dfind = load_deepfind(panel, tss)
    _fs.refuse_overwriting_input(output, vcf, fasta)
    if scores is not None:
        _fs.refuse_overwriting_input(scores, vcf, fasta, output)
        if Path(scores).resolve() == Path(output).resolve():
            raise InputFormatError(f"--scores {scores}: the same file as the output")
    fasta_obj = _fasta(str(fasta))
    source = vcf_source.open_source(vcf, *vcf_source.resolve_regions(regions, regions_file))
    reader = source.reader
    vcf_policy.declare(reader, declared)
    if strict:
        vcf_policy.check_strict(reader, str(vcf))
    contigs = io.ContigMap(fasta_obj.lengths, aliases_said=bool(declared))  # a restart: said on the first pass
    header = io.header_contigs(reader)
    if header and not any(contigs(c) for c in header):
        raise ContigNotFoundError(_build_message(list(header), fasta_obj))
    kind = output_kind(output)
    header_lines = [f"##varbind_version={__version__}", f"##varbind_command={command or 'annotate_vcf()'}",
                    f"##varbind_panel={panel.name}", f"##varbind_panel_sha256={pretrained.panel_sha256(panel)}",
                    f"##varbind_models={len(panel.bank)}", f"##varbind_window={settings.window}",
                    f"##varbind_mode={settings.mode}", f"##varbind_fasta={fasta}",
                    f"##reference=file://{Path(fasta).resolve()}"]
    if dfind is not None:
        header_lines.append(f"##varbind_deepfind={Path(dfind.path).relative_to(Path(dfind.path).parents[2])}"
                            f" ({dfind.model.config.feature_set}){f'; TSS table {tss}' if tss else ''}")
    sink_args = (header_lines, dfind and dfind.model.config.feature_set, panel.null is not None, [SKIP_DEF])
    if part_stats is None:
        explicit = host_workers is not None
        host_workers = parallel.default_workers(settings.device) if host_workers is None else host_workers
        why = parallel.applicable(str(vcf), kind, host_workers, scores, bool(workers or dask_address),
                                  bool(source.spans), explicit, source.total)
        if why is None:
            header = VcfSink(str(Path(output).parent / ".varbind-header.vcf"), reader, *sink_args,
                             source=str(vcf)).header_bytes()

            job = dict(run=_annotate_vcf, region=REGION, chunk=CHUNK, fasta=str(fasta), panel=panel, settings=settings,
                       top_k=top_k, strict=strict, command=command, deepfind=dfind, declared=list(declared), vcf=str(vcf),
                       selection=top_selection(panel, top_k))
            counts, skipped, index = parallel.annotate(str(vcf), output, header, host_workers, job, source.total,
                                                       progress, lambda c, seen: _refuse_unmapped(c, seen, fasta_obj))
            return _summarized(vcf, fasta, output, counts, skipped, index)
        log.debug("annotate in one host process: %s", why)
    sinks: list = []
    counts: Counter = Counter()
    skipped: Counter = Counter()
    client, cluster = None, None
    try:
        main = (VcfSink(output, reader, header_lines, dfind and dfind.model.config.feature_set, panel.null is not None,
                        [SKIP_DEF], source=str(vcf))
                if kind in ("vcf", "vcf.gz", "bcf") else TableSink(output, kind))
        sinks.append(main)
        table_sink = main if isinstance(main, TableSink) else (TableSink(scores, _table_kind(scores)) if scores else None)
        if table_sink is not None and table_sink is not main:
            sinks.append(table_sink)
        levels = masking.null_levels(panel.bank, panel.null) if table_sink is not None else None
        client, cluster = _cluster.client(workers, dask_address)
        local = isinstance(client, _cluster.Local)
        n_workers = max(1, workers or len(getattr(client, "scheduler_info", dict)().get("workers", {})))
        bank, dfind_arg = panel.bank, dfind
        if not local:  # sent to every worker once, not with each task
            bank = client.scatter(panel.bank, broadcast=True)
            dfind_arg = client.scatter(dfind, broadcast=True) if dfind is not None else None
        from ..progress import Progress

        bar = Progress("annotate", source.total, "rec", bytes_total=source.bytes_total, enabled=progress)
        seen: set = set()
        pair_pct = _pair_percentiles(panel)
        spread = spreads(panel)
        selection = top_selection(panel, top_k, spread) if table_sink is None else None

        def write(task: list, results: list) -> None:
            for chunk, (allele_scores, skips, c) in zip(task, results):
                counts.update(c)
                skipped.update(skips.values())
                counts["annotated"] += len(allele_scores.site)
                if strict and skips:
                    (i, _), reason = next(iter(skips.items()))
                    s = chunk[i][1]
                    raise InputFormatError(f"{vcf}: {s.chrom}:{s.start + 1}: not annotated "
                                           f"({SKIP_REASONS[reason]}) and --strict is set")
            if table_sink is not None:
                for chunk, (allele_scores, skips, _) in zip(task, results):
                    chunk_sites = [s for _, s in chunk]
                    pct = percentiles(panel, allele_scores)
                    effect = effects(panel, allele_scores, spread)
                    masked = masked_by(panel, chunk_sites, allele_scores, str(fasta), contigs(chunk_sites[0].chrom),
                                       settings, levels)
                    table_sink.write(long_table(allele_scores, chunk_sites, panel.bank.ids, tfs, pct, effect, masked,
                                                skips))
                    if main is not table_sink:
                        info = info_values(allele_scores, chunk_sites, panel.bank.ids, tfs, top_k, pct, effect, skips)
                        for (rec, _), values in zip(chunk, info):
                            main.write(rec, values)
            else:  # the task's chunks as one batch (INFO values do not depend on the batch)
                records = [item for chunk in task for item in chunk]
                n_sites = [len(chunk) for chunk in task]
                allele_scores = _joined([r[0] for r in results], n_sites, len(panel.bank))
                info = info_values(allele_scores, [s for _, s in records], panel.bank.ids, tfs, top_k, pair_pct,
                                   None, _joined_skips([r[1] for r in results], n_sites))
                for (rec, _), values in zip(records, info):
                    main.write(rec, values)
            bar.update(sum(len(chunk) for chunk in task), source.position())

        def chunks() -> Iterator[list]:
            records = ((rec, Site(*io.site_of(rec))) for batch in source.batches(4096) for rec in batch)
            for chunk in region_chunks(records):
                counts["records"] += len(chunk)
                counts["alleles"] += sum(max(len(s.alts), 1) for _, s in chunk)
                counts["_mapped"] += contigs(chunk[0][1].chrom) is not None  # chunks on a FASTA contig
                seen.add(chunk[0][1].chrom)
                yield chunk

        size = pipeline.task_size(settings.device) if local else _cluster.dask_task_size(settings.device, n_workers)
        busy = annotate_stream.run(annotate_stream.tasks(chunks(), size), lambda chunk: contigs(chunk[0][1].chrom),
                            str(fasta), bank, settings, dfind if local else dfind_arg, write,
                            client=None if local else client, in_flight=2 * n_workers, selection=selection,
                            scorer=scorer)
        bar.close()
        if part_stats is None:
            _refuse_unmapped(counts, seen, fasta_obj)
        index = None
        for sink in sinks:
            got = sink.close()
            index = index or (got if isinstance(sink, VcfSink) else None)
    except BaseException:
        for sink in sinks:
            sink.abort()
        raise
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    if part_stats is not None:
        part_stats.update(counts=counts, skipped=skipped, seen=seen, busy=busy)
        return Summary(counts["records"], counts["alleles"], counts["annotated"], dict(skipped), 0, 0, output, None)
    return _summarized(vcf, fasta, output, counts, skipped, index)


def _summarized(vcf: str, fasta: str, output: str, counts: Counter, skipped: Counter, index: str | None) -> Summary:
    """The run's :class:`Summary`, said in one line (and warnings that the counts call for)."""
    summary = Summary(counts["records"], counts["alleles"], counts["annotated"], dict(sorted(skipped.items())),
                      counts["ref_mismatch"], counts["ref_alt_swap"], output, index)
    # kept under --quiet (WARNING) whenever an ALT was not scored: the output alone does not say how many
    log.log(logging.WARNING if summary.skipped else logging.INFO, "%s", format_summary(summary))
    differ = summary.ref_mismatch + summary.ref_alt_swap
    if summary.records and differ > summary.records / 2:
        log.warning("REF differs from the FASTA in %d of %d records (%d of them with REF/ALT swapped): is the "
                    "FASTA the genome build the VCF was called on? (varbind check %s --fasta %s)",
                    differ, summary.records, summary.ref_alt_swap, vcf, fasta)
    if counts["iupac_window"]:
        log.warning("%d sites have IUPAC ambiguity codes (R, Y, ...) of the FASTA in their window; they are "
                    "scored as N", counts["iupac_window"])
    return summary


def _table_kind(path: str) -> str:
    """``parquet`` or ``tsv`` for a ``scores`` file (``.parquet``/``.pq``, ``.tsv``/``.tsv.gz``)."""
    kind = output_kind(path) if path.endswith((".parquet", ".pq", ".tsv", ".tsv.gz")) else None
    if kind is None:
        raise InputFormatError(f"--scores {path}: must be a .parquet, .tsv or .tsv.gz file")
    return kind


def _refuse_unmapped(counts: Counter, seen: set, fasta: io.Fasta) -> None:
    """No record on a contig of the FASTA: another genome build, most likely."""
    if counts["records"] and not counts["_mapped"]:
        raise ContigNotFoundError(_build_message(sorted(seen), fasta))


def _build_message(vcf_contigs: Sequence[str], fasta: io.Fasta) -> str:
    shown = ", ".join(list(vcf_contigs)[:4])
    fa = ", ".join(list(fasta.lengths)[:4])
    return (f"none of the VCF's contigs ({shown}{', ...' if len(vcf_contigs) > 4 else ''}) is in the FASTA "
            f"{fasta.path} ({fa}, ...), even with chr/MT aliasing: the genome build probably differs")


def format_summary(s: Summary) -> str:
    """One line: records, alleles annotated, skipped by reason, REF checks."""
    skipped = ", ".join(f"{k} {v}" for k, v in s.skipped.items()) or "none"
    return (f"annotated {s.annotated} of {s.alleles} ALT alleles in {s.records} records; ALT alleles skipped: "
            f"{skipped}; records whose REF differs from the FASTA: {s.ref_mismatch}, plus {s.ref_alt_swap} with "
            f"REF/ALT swapped; wrote {s.output}")
