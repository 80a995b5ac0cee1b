"""A reference FASTA and the contig names it goes by.

:class:`Fasta` reads bases of a plain or bgzipped FASTA through pysam (its ``.fai`` checked by
:mod:`varbind.io.fasta_check`, built in the user's cache by :mod:`varbind.io.fasta_cache` when the
FASTA's folder is read-only). :func:`match_contig` is the one contig-alias policy of varbind
(``chr1`` <-> ``1``, ``chrX`` <-> ``X``, ``chrM`` <-> ``MT``); :class:`ContigMap` applies it to a
stream of VCF contig names and says once what it did.

Coordinates are 0-based half-open.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Container, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..bases import GENOME_CODES
from ..errors import InputFormatError
from ._hts import _captured_stderr, _hts_message, sniff

log = logging.getLogger("varbind")

#: IUPAC ambiguity codes (read as N, but worth a notice)
_AMBIGUOUS = np.zeros(256, dtype=bool)
for _c in "RYSWKMBDHVrysw kmbdhv".replace(" ", ""):
    _AMBIGUOUS[ord(_c)] = True


# ---------------------------------------------------------------- FASTA


class Fasta:
    """A reference FASTA (plain or bgzipped with ``.fai``/``.gzi``; the index is built if missing).

    Attributes
    ----------
    path : str
    lengths : dict of str -> int
        Contig lengths, in file order.
    """

    def __init__(self, path: str | os.PathLike):
        import pysam

        pysam.set_verbosity(0)
        self.path = str(path)
        if not Path(self.path).is_file():
            raise FileNotFoundError(2, "No such file or directory", self.path)
        if sniff(self.path) == "gzip":
            raise InputFormatError(f"{self.path}: gzip-compressed FASTA must be bgzip-compressed "
                                   "(bgzip it, then 'samtools faidx' it)")
        try:
            with _captured_stderr() as msgs:
                self._f = pysam.FastaFile(self.path)
        except (OSError, ValueError) as e:
            from .fasta_cache import open_with_cached_index

            self._f = open_with_cached_index(self.path)  # no .fai, and none can be written beside the FASTA
            if self._f is None:
                raise InputFormatError(f"{self.path}: cannot open the FASTA ({_hts_message(msgs) or e})") from None
        self.lengths = dict(zip(self._f.references, self._f.lengths))
        self._raw, self._fai = None, {}
        self._check_index()

    def _check_index(self) -> None:
        """Refuse a stale ``.fai`` or duplicate contig names (see :mod:`varbind.io.fasta_check`)."""
        from . import fasta_check

        fai = self.path + ".fai"
        if not os.path.isfile(fai):
            fasta_check.check_duplicates(self.path, list(self._f.references))
            return
        entries = fasta_check.read_fai(fai)
        if sniff(self.path) == "plain":
            fasta_check.check_layout(self.path, entries)
            self._fai = {e.name: e for e in entries}
        else:
            fasta_check.check_duplicates(self.path, [e.name for e in entries])
            data = os.path.getmtime(self.path)
            if any(os.path.isfile(i) and os.path.getmtime(i) < data for i in (fai, self.path + ".gzi")):
                raise fasta_check._reindex(self.path, "its index is older than the file")

    def codes(self, contig: str, start: int, end: int, ambiguous: list | None = None) -> np.ndarray:
        """Codes (A0 C1 G2 T3, anything else 4 = N) of ``contig[start:end]``, 0-based half-open;
        positions outside the contig are N, so the result always has ``end - start`` codes.

        ``ambiguous``: a list extended with the positions (0-based) of IUPAC ambiguity codes (R, Y,
        ...; read as N). For a plain FASTA the line breaks of the span are checked against the
        index (:func:`varbind.io.fasta_check.check_span`).

        Examples
        --------
        >>> import tempfile, os
        >>> d = tempfile.mkdtemp(); p = os.path.join(d, "t.fa")
        >>> _ = open(p, "w").write(">c\\nACGTRa\\n")
        >>> Fasta(p).codes("c", -2, 8).tolist()
        [4, 4, 0, 1, 2, 3, 4, 0, 4, 4]
        """
        out = np.full(end - start, 4, dtype=np.uint8)
        n = self.lengths[contig]
        lo, hi = max(start, 0), min(end, n)
        if hi > lo:
            seq = self._f.fetch(contig, lo, hi).encode("ascii", "replace")
            if len(seq) != hi - lo:
                from .fasta_check import _reindex

                raise _reindex(self.path, f"{contig}:{lo + 1}-{hi} gave {len(seq)} bases instead of {hi - lo}")
            raw = np.frombuffer(seq, dtype=np.uint8)
            out[lo - start : lo - start + len(seq)] = GENOME_CODES[raw]
            if ambiguous is not None:
                ambiguous.extend((lo + np.flatnonzero(_AMBIGUOUS[raw])).tolist())
            entry = self._fai.get(contig)
            if entry is not None:
                self._check_span(entry, lo, hi)
        return out

    def _check_span(self, entry: Any, lo: int, hi: int) -> None:
        from .fasta_check import check_span

        if self._raw is None:
            self._raw = open(self.path, "rb")  # noqa: SIM115 - closed in close()
        first = entry.byte_of(lo)
        self._raw.seek(first)
        check_span(self._raw.read(entry.byte_of(hi - 1) + 1 - first), entry, lo, self.path)

    def close(self) -> None:
        self._f.close()
        if self._raw is not None:
            self._raw.close()


# ---------------------------------------------------------------- contig aliasing


def alias_candidates(name: str) -> list[str]:
    """Names a contig may go by in another naming scheme (UCSC ``chr1`` vs Ensembl/GRC ``1``).

    Examples
    --------
    >>> alias_candidates("chrM"), alias_candidates("X")
    (['M', 'MT', 'chrM', 'chrMT'], ['X', 'chrX'])
    """
    base = name[3:] if name.startswith("chr") else name
    if base in ("M", "MT"):
        return ["M", "MT", "chrM", "chrMT"]
    return [base, "chr" + base]


def match_contig(contig: str, names: Container[str]) -> tuple[str | None, list[str]]:
    """The one contig-alias policy of varbind: ``contig`` itself when ``names`` has it, else its one
    alias in ``names`` (:func:`alias_candidates`); ``None`` when none or several are there. Returns
    ``(match, aliases found)``.

    Examples
    --------
    >>> match_contig("1", {"chr1", "chr2"}), match_contig("MT", {"chrM", "M"}), match_contig("7", {"chr1"})
    (('chr1', ['chr1']), (None, ['M', 'chrM']), (None, []))
    """
    if contig in names:
        return contig, [contig]
    hits = [c for c in alias_candidates(contig) if c in names and c != contig]
    return (hits[0] if len(hits) == 1 else None), hits


class ContigMap:
    """Maps VCF contig names to FASTA contig names: exact match first, else the one unambiguous
    alias. The first alias is logged (the naming schemes differ), the others only at debug level;
    the first three missing contigs are warned about, the others only at debug level.

    Examples
    --------
    >>> cm = ContigMap(["chr1", "chrX", "chrM"])
    >>> cm("1"), cm("X"), cm("MT"), cm("chr1"), cm("7")
    ('chr1', 'chrX', 'chrM', 'chr1', None)
    """

    def __init__(self, fasta_contigs: Sequence[str], quiet: bool = False, aliases_said: bool = False):
        self.fasta = set(fasta_contigs)
        self.cache: dict[str, str | None] = {}
        self._said = {"alias": int(aliases_said), "missing": 0}  # aliases_said: an earlier pass logged them
        self.quiet = quiet  # everything at debug level (a caller that reports the mapping itself)

    def _say(self, what: str, level: int, msg: str, *args) -> None:
        """The first message of each kind at ``level``, the rest at debug: one line, not one per contig."""
        if self._said[what] or self.quiet:
            level = logging.DEBUG
        self._said[what] += 1
        log.log(level, msg, *args)

    def __call__(self, contig: str) -> str | None:
        if contig in self.cache:
            return self.cache[contig]
        if contig in self.fasta:
            found = contig
        else:
            found, hits = match_contig(contig, self.fasta)
            if found:
                self._say("alias", logging.INFO, "contig %s read as %s in the FASTA", contig, found)
            elif hits:
                log.warning("contig %s: ambiguous in the FASTA (%s); its records are skipped", contig, ", ".join(hits))
            elif self._said["missing"] < 3 and not self.quiet:
                self._said["missing"] += 1
                log.warning("contig %s is not in the FASTA; its records are skipped%s", contig,
                            "" if self._said["missing"] < 3 else " (further missing contigs: --debug lists them)")
            else:
                log.debug("contig %s is not in the FASTA; its records are skipped", contig)
        self.cache[contig] = found
        return found
