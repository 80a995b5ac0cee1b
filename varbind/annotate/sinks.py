"""The files ``varbind annotate`` writes, atomically: a sink writes to a temporary file beside its
target and renames it only on success (:meth:`close`); :meth:`abort` removes it. VCF output goes
through cyvcf2 (:mod:`varbind.io`), tables through pyarrow (TSV or Parquet, the long format of
:data:`varbind.annotate.output.TABLE_SCHEMA`).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from .. import _fs, io
from ..errors import OutputError
from ..io import readback, vcf_policy
from .output import DEEPFIND_DEF, TABLE_SCHEMA, info_defs


def output_kind(path: str) -> str:
    """``vcf``, ``vcf.gz``, ``bcf``, ``tsv`` (also ``.tsv.gz``) or ``parquet`` from a file name."""
    for end, kind in ((".vcf.gz", "vcf.gz"), (".vcf.bgz", "vcf.gz"), (".vcf", "vcf"), (".bcf", "bcf"),
                      (".tsv", "tsv"), (".tsv.gz", "tsv"), (".txt", "tsv"), (".parquet", "parquet"),
                      (".pq", "parquet")):
        if path.endswith(end):
            return kind
    from ..errors import InputFormatError

    raise InputFormatError(f"{path}: unknown output type (use .vcf, .vcf.gz, .bcf, .tsv, .tsv.gz or .parquet)")


class TableSink:
    """Long-format scores to TSV or Parquet, written to a temp file and renamed on :meth:`close`.

    Every write and the close are checked (:class:`~varbind.errors.OutputError`, temp file removed).
    """

    def __init__(self, path: str, kind: str):
        self.path, self.kind, self.tmp = path, kind, _fs.new_temp(path)
        try:
            if kind == "parquet":
                import pyarrow.parquet as pq

                self._w: Any = pq.ParquetWriter(self.tmp, TABLE_SCHEMA, compression="zstd")
            else:
                import pyarrow.csv as pcsv

                stream = (pa.CompressedOutputStream(self.tmp, "gzip") if path.endswith(".gz")
                          else pa.OSFile(self.tmp, "wb"))
                self._stream = stream
                plain = pa.schema([pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type)
                                   for f in TABLE_SCHEMA])
                self._plain = plain
                # the header written here: pyarrow quotes column names ("chrom") whatever quoting_style says
                stream.write(("\t".join(plain.names) + "\n").encode())
                self._w = pcsv.CSVWriter(stream, plain, write_options=pcsv.WriteOptions(
                    include_header=False, delimiter="\t", quoting_style="none"))
        except OSError as e:
            self.abort()
            raise _fs._error(path, e) from None

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        try:
            if self.kind == "parquet":
                self._w.write_table(table)
            else:
                self._w.write_table(table.cast(self._plain))
        except OSError as e:
            self.abort()
            raise _fs._error(self.path, e) from None

    def close(self) -> None:
        try:
            self._w.close()
            if self.kind != "parquet":
                self._stream.close()
        except OSError as e:
            self.abort()
            raise _fs._error(self.path, e) from None
        _fs.commit(self.tmp, self.path)

    def abort(self) -> None:
        for closer in ("_w", "_stream"):
            try:
                getattr(self, closer).close()
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
        _fs.discard(self.tmp)


def commit_vcf(tmp: str, path: str, written: int, read_back: bool = True) -> str | None:
    """Check that the finished temporary VCF ``tmp`` holds ``written`` records (htslib does not report
    a failed write through cyvcf2, so it is read back: :func:`varbind.io.readback.count_vcf_records`;
    ``read_back=False`` for a file Python wrote, whose writes raise), index it (``.gz``/``.bcf``) and
    rename both to ``path``; returns the index's path. A short or corrupt file is removed and refused
    (:class:`~varbind.errors.OutputError`)."""
    got, problem = _read_back(tmp, written) if read_back else (written, "")
    if got != written:
        _fs.discard(tmp)
        for p in (tmp + ".tbi", tmp + ".csi"):
            Path(p).unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write: read back, {problem} (disk full or I/O error?); "
                          "nothing was written under this name")
    tmp_index = io.index_vcf(tmp) if path.endswith((".gz", ".bgz", ".bcf")) else None
    for stale in (path + ".tbi", path + ".csi"):
        Path(stale).unlink(missing_ok=True)
    ours = os.stat(tmp).st_ino
    _fs.commit(tmp, path)
    if tmp_index is None:
        return None
    index = path + tmp_index[len(tmp):]
    if os.stat(path).st_ino != ours:  # another run renamed its output over ours: its index goes with it
        _fs.discard(tmp_index)
        return None
    _fs.commit(tmp_index, index)  # after the data, so the index is not older than it
    return index


def _read_back(tmp: str, written: int) -> tuple[int | None, str]:
    try:
        got = readback.count_vcf_records(tmp)
        return got, f"it holds {got} of the {written} records written"
    except (OSError, ValueError, EOFError) as e:
        return None, f"it is cut short or corrupt ({str(e).rsplit(': ', 1)[-1]})"


class VcfSink:
    """The input's records with the INFO fields added, through a cyvcf2 Writer on a temp file;
    ``.vcf.gz`` output is bgzipped and tabix-indexed (skipped with a warning when unsorted).

    A record the Writer cannot write is handled by :func:`varbind.io.vcf_policy.write` (``source``:
    the input's name for its messages). htslib does not report a failed write through cyvcf2, so :meth:`close` reads the file back
    (:func:`varbind.io.readback.count_vcf_records`) and refuses it unless it holds every record written.
    """

    def __init__(self, path: str, reader: Any, header_lines: Sequence[str], deepfind_features: str | None = None,
                 calibrated: bool = True, extra_defs: Sequence[tuple[str, str, str, str]] = (),
                 source: str = "VCF"):
        self.defs = list(info_defs(calibrated))
        if deepfind_features:
            key, number, type_, desc = DEEPFIND_DEF
            self.defs.append((key, number, type_, desc.format(features=deepfind_features)))
        self.defs += list(extra_defs)
        for key, number, type_, desc in self.defs:
            io.add_info(reader, key, number, type_, desc)
        for line in header_lines:
            if not (line.startswith("##reference=") and "\n##reference=" in reader.raw_header):
                io.add_header_line(reader, line)
        self.path, self.tmp = path, _fs.new_temp(path)
        self.source, self.written, self.contigs = source, 0, set(io.header_contigs(reader))
        self._pending: list = []  # written in groups, htslib's messages caught (vcf_policy.write_all)
        try:
            self._w = io.vcf_writer(self.tmp, reader)
        except OSError as e:
            _fs.discard(self.tmp)
            raise _fs._error(path, e) from None

    def write(self, rec: Any, info: tuple[str, ...] | None) -> None:
        if info is not None:
            for (key, *_), value in zip(self.defs, info):
                if value is not None and (key not in ("VB_DEEPFIND", "VB_PANEL") or value.strip(".,")):  # nothing known: left out
                    io.set_info(rec, key, value)
        self._pending.append(rec)
        if len(self._pending) == 256:
            self._flush()

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        try:
            vcf_policy.write_all(self._w, pending, self.written + 1, self.source, self.contigs,
                                 self.tmp.endswith(".bcf"))
        except OSError as e:  # htslib could not write (a full disk, an I/O error): the output's fault
            self.abort()
            raise OutputError(f"{self.path}: cannot write: {e.strerror or e} (disk full or I/O error?); "
                              "nothing was written under this name") from None
        self.written += len(pending)

    def close(self) -> str | None:
        self._flush()
        with io.quiet_writes():
            self._w.close()
        return commit_vcf(self.tmp, self.path, self.written)

    def header_bytes(self) -> bytes:
        """The header this sink writes (for :mod:`varbind.annotate.parallel`, which writes the
        records itself); the sink is aborted after: nothing is written under its name."""
        self._w.write_header()
        with io.quiet_writes():
            self._w.close()
        try:
            return Path(self.tmp).read_bytes() if self.tmp.endswith(".vcf") else b""
        finally:
            self.abort()

    def abort(self) -> None:
        try:
            with io.quiet_writes():
                self._w.close()
        except Exception:  # noqa: BLE001
            pass
        for p in (self.tmp + ".tbi", self.tmp + ".csi"):
            Path(p).unlink(missing_ok=True)
        _fs.discard(self.tmp)
