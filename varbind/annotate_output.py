"""Outputs of ``varbind annotate``: INFO strings, long score tables, and sinks written atomically.

A sink writes to a temporary file beside its target and renames it only on success
(:meth:`close`); :meth:`abort` removes it. VCF output goes through cyvcf2 (:mod:`varbind.io`),
tables through pyarrow (TSV or Parquet, long format: one row per variant allele and model).
"""
from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa

from . import io, vcf_policy

#: INFO fields added to the VCF; VARBIND's Description carries the split-vep ``Format:``
VARBIND_FIELDS = ("Allele", "Model", "TF", "Ref", "Alt", "Delta", "RefPct", "AltPct", "Consequence")
#: the Sequence Ontology term in every VARBIND entry (bcftools +split-vep <= 1.17 requires the field)
CONSEQUENCE = "TF_binding_site_variant"
INFO_DEFS = (
    ("VARBIND", ".", "String", "varbind: the top-k models by |Delta| for each ALT; RefPct/AltPct are the scores' "
     "percentiles in the model's null distribution (. when the panel has none). Format: " + "|".join(VARBIND_FIELDS)),
    ("VB_MAXGAIN", "A", "Float", "varbind: largest Alt - Ref score over all models, per ALT"),
    ("VB_MAXLOSS", "A", "Float", "varbind: smallest Alt - Ref score over all models, per ALT"),
)
#: added when the panel has a DeepFind model (see :mod:`varbind.deepfind`)
DEEPFIND_DEF = ("VB_DEEPFIND", "A", "Float",
                "varbind DeepFind: probability that the ALT is a deleterious promoter SNV ({features}; "
                "51-bp window; . for alleles that are not SNVs)")
TABLE_SCHEMA = pa.schema([
    ("chrom", pa.dictionary(pa.int32(), pa.string())),
    ("pos", pa.int64()),
    ("id", pa.string()),
    ("ref", pa.string()),
    ("alt", pa.string()),
    ("model", pa.dictionary(pa.int32(), pa.string())),
    ("tf", pa.dictionary(pa.int32(), pa.string())),
    ("ref_score", pa.float32()),
    ("alt_score", pa.float32()),
    ("delta", pa.float32()),
    ("ref_pct", pa.float32()),
    ("alt_pct", pa.float32()),
])
_UNSAFE = re.compile(r"[|,;=\s]")


def clean_field(text: str) -> str:
    """A value safe inside a CSQ-style INFO entry (no ``| , ; =`` or white space).

    Examples
    --------
    >>> clean_field("NKX2-5; isoform|2")
    'NKX2-5__isoform_2'
    """
    return _UNSAFE.sub("_", text) or "."


def _f(x: float) -> str:
    return f"{x:.4f}"


def _pct(x: float) -> str:
    return "." if np.isnan(x) else f"{x:.2f}"


class AlleleScores(NamedTuple):
    """Scores of the scored alleles of a chunk of sites.

    ``site`` and ``allele`` are ``(E,)``: the site (index into the chunk) and ALT (0-based) of each
    row of ``ref`` and ``alt``, both ``(E, M)`` float32.
    """

    site: np.ndarray
    allele: np.ndarray
    ref: np.ndarray
    alt: np.ndarray
    deepfind: np.ndarray | None = None  # (E,) DeepFind probability, NaN where not an SNV


def info_values(scores: AlleleScores, sites: Sequence, ids: Sequence[str], tfs: Sequence[str],
                top_k: int, pct: tuple[np.ndarray, np.ndarray] | None = None) -> list[tuple[str, ...] | None]:
    """``(VARBIND, VB_MAXGAIN, VB_MAXLOSS[, VB_DEEPFIND])`` INFO values per site (``None``: nothing scored).

    Top-k models by ``|delta|`` (ties: panel order); missing ALTs are ``.`` in the Number=A fields.
    ``pct``: reference and alternate percentiles ``(E, M)`` each, or ``None``.
    """
    ref_pct, alt_pct = pct if pct is not None else (np.full(scores.ref.shape, np.nan),) * 2
    out: list[tuple[str, str, str] | None] = [None] * len(sites)
    delta = scores.alt - scores.ref
    by_site: dict[int, list[int]] = {}
    for e, s in enumerate(scores.site.tolist()):
        by_site.setdefault(s, []).append(e)
    ids_c, tfs_c = [clean_field(i) for i in ids], [clean_field(t) for t in tfs]
    k = min(top_k, len(ids))
    for s, rows in by_site.items():
        n_alt = len(sites[s].alts)
        gain, loss, dfind, entries = ["."] * n_alt, ["."] * n_alt, ["."] * n_alt, []
        for e in rows:
            a = int(scores.allele[e])
            d = delta[e]
            gain[a], loss[a] = _f(float(d.max())), _f(float(d.min()))
            if scores.deepfind is not None and not np.isnan(scores.deepfind[e]):
                dfind[a] = _f(float(scores.deepfind[e]))
            allele = sites[s].alts[a]
            for j in np.argsort(-np.abs(d), kind="stable")[:k].tolist():
                entries.append("|".join([allele, ids_c[j], tfs_c[j], _f(float(scores.ref[e, j])),
                                         _f(float(scores.alt[e, j])), _f(float(d[j])), _pct(ref_pct[e, j]),
                                         _pct(alt_pct[e, j]), CONSEQUENCE]))
        out[s] = (",".join(entries) or ".", ",".join(gain), ",".join(loss))
        if scores.deepfind is not None:
            out[s] += (",".join(dfind),)
    return out


def long_table(scores: AlleleScores, sites: Sequence, ids: Sequence[str], tfs: Sequence[str],
               pct: tuple[np.ndarray, np.ndarray] | None = None) -> pa.Table:
    """One row per scored allele and model (see :data:`TABLE_SCHEMA`); ``pos`` is 1-based;
    ``ref_pct``/``alt_pct`` are NaN without ``pct``."""
    e, m = scores.ref.shape
    rows = np.repeat(np.arange(e), m)
    model = np.tile(np.arange(m, dtype=np.int32), e)
    chroms = sorted({sites[s].chrom for s in scores.site.tolist()})
    chrom_idx = {c: i for i, c in enumerate(chroms)}
    site_l = scores.site.tolist()
    per_e = lambda f: np.array([f(sites[s], int(a)) for s, a in zip(site_l, scores.allele.tolist())], dtype=object)  # noqa: E731
    cols = {
        "chrom": pa.DictionaryArray.from_arrays(
            np.array([chrom_idx[sites[s].chrom] for s in site_l], np.int32)[rows] if e else np.zeros(0, np.int32),
            pa.array(chroms, pa.string())),
        "pos": pa.array(np.array([sites[s].start + 1 for s in site_l], np.int64)[rows] if e else np.zeros(0, np.int64)),
        "id": pa.array(per_e(lambda st, a: st.id)[rows] if e else [], pa.string()),
        "ref": pa.array(per_e(lambda st, a: st.ref)[rows] if e else [], pa.string()),
        "alt": pa.array(per_e(lambda st, a: st.alts[a])[rows] if e else [], pa.string()),
        "model": pa.DictionaryArray.from_arrays(model, pa.array(list(ids), pa.string())),
        "tf": pa.DictionaryArray.from_arrays(model, pa.array(list(tfs), pa.string())),
        "ref_score": pa.array(scores.ref.reshape(-1), pa.float32()),
        "alt_score": pa.array(scores.alt.reshape(-1), pa.float32()),
        "delta": pa.array((scores.alt - scores.ref).reshape(-1), pa.float32()),
        "ref_pct": pa.array((pct[0] if pct is not None else np.full(scores.ref.shape, np.nan)).reshape(-1), pa.float32()),
        "alt_pct": pa.array((pct[1] if pct is not None else np.full(scores.ref.shape, np.nan)).reshape(-1), pa.float32()),
    }
    return pa.table(cols, schema=TABLE_SCHEMA)


def temp_path(final: str | os.PathLike) -> str:
    """A hidden temporary name beside ``final`` that keeps its endings (``.vcf.gz`` ...)."""
    final = Path(final)
    return str(final.with_name(f".{final.name}.{os.getpid()}.tmp{''.join(final.suffixes[-2:])}"))


def output_kind(path: str) -> str:
    """``vcf``, ``vcf.gz``, ``bcf``, ``tsv`` (also ``.tsv.gz``) or ``parquet`` from a file name."""
    for end, kind in ((".vcf.gz", "vcf.gz"), (".vcf.bgz", "vcf.gz"), (".vcf", "vcf"), (".bcf", "bcf"),
                      (".tsv", "tsv"), (".tsv.gz", "tsv"), (".txt", "tsv"), (".parquet", "parquet"),
                      (".pq", "parquet")):
        if path.endswith(end):
            return kind
    from .errors import InputFormatError

    raise InputFormatError(f"{path}: unknown output type (use .vcf, .vcf.gz, .bcf, .tsv, .tsv.gz or .parquet)")


class TableSink:
    """Long-format scores to TSV or Parquet, written to a temp file and renamed on :meth:`close`."""

    def __init__(self, path: str, kind: str):
        self.path, self.kind, self.tmp = path, kind, temp_path(path)
        if kind == "parquet":
            import pyarrow.parquet as pq

            self._w: Any = pq.ParquetWriter(self.tmp, TABLE_SCHEMA, compression="zstd")
        else:
            import pyarrow.csv as pcsv

            stream = pa.CompressedOutputStream(self.tmp, "gzip") if path.endswith(".gz") else pa.OSFile(self.tmp, "wb")
            self._stream = stream
            plain = pa.schema([pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type)
                               for f in TABLE_SCHEMA])
            self._plain = plain
            self._w = pcsv.CSVWriter(stream, plain, write_options=pcsv.WriteOptions(delimiter="\t", quoting_style="none"))

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self.kind == "parquet":
            self._w.write_table(table)
        else:
            self._w.write_table(table.cast(self._plain))

    def close(self) -> None:
        self._w.close()
        if self.kind != "parquet":
            self._stream.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        try:
            self._w.close()
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass
        Path(self.tmp).unlink(missing_ok=True)


class VcfSink:
    """The input's records with the INFO fields added, through a cyvcf2 Writer on a temp file;
    ``.vcf.gz`` output is bgzipped and tabix-indexed (skipped with a warning when unsorted).
    A record the Writer cannot write is handled by :func:`varbind.vcf_policy.write` (``source``:
    the input's name for its messages)."""

    def __init__(self, path: str, reader: Any, header_lines: Sequence[str], deepfind_features: str | None = None,
                 source: str = "VCF"):
        self.defs = list(INFO_DEFS)
        if deepfind_features:
            key, number, type_, desc = DEEPFIND_DEF
            self.defs.append((key, number, type_, desc.format(features=deepfind_features)))
        for key, number, type_, desc in self.defs:
            io.add_info(reader, key, number, type_, desc)
        for line in header_lines:
            if not (line.startswith("##reference=") and "\n##reference=" in reader.raw_header):
                io.add_header_line(reader, line)
        self.path, self.tmp = path, temp_path(path)
        self.source, self.written, self.contigs = source, 0, set(io.header_contigs(reader))
        self._pending: list = []  # written in groups, htslib's messages caught (vcf_policy.write_all)
        self._w = io.vcf_writer(self.tmp, reader)

    def write(self, rec: Any, info: tuple[str, ...] | None) -> None:
        if info is not None:
            for (key, *_), value in zip(self.defs, info):
                if key != "VB_DEEPFIND" or value.strip(".,"):  # no SNV ALT: no VB_DEEPFIND
                    io.set_info(rec, key, value)
        self._pending.append(rec)
        if len(self._pending) == 256:
            self._flush()

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        vcf_policy.write_all(self._w, pending, self.written + 1, self.source, self.contigs,
                             self.tmp.endswith(".bcf"))
        self.written += len(pending)

    def close(self) -> str | None:
        self._flush()
        self._w.close()
        tmp_index = io.index_vcf(self.tmp) if self.path.endswith((".gz", ".bgz", ".bcf")) else None
        for stale in (self.path + ".tbi", self.path + ".csi"):
            Path(stale).unlink(missing_ok=True)
        os.replace(self.tmp, self.path)
        if tmp_index is None:
            return None
        index = self.path + tmp_index[len(self.tmp):]
        os.replace(tmp_index, index)  # after the data, so the index is not older than it
        return index

    def abort(self) -> None:
        try:
            self._w.close()
        except Exception:  # noqa: BLE001
            pass
        for p in (self.tmp, self.tmp + ".tbi", self.tmp + ".csi"):
            Path(p).unlink(missing_ok=True)
