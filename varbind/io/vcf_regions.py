"""Region lists the bcftools way: ``-r chr1,chr2:100-200,chr3:5000-`` and ``-R regions.tsv|.bed``.

Regions are 1-based inclusive on the command line and in a TSV regions file (``CHROM POS`` or
``CHROM BEG END``), 0-based half-open in a ``.bed`` file, as in bcftools; inside varbind they are
0-based half-open ``(chrom, start, end)``. A record is in a region when its span ``POS ..
POS+len(REF)-1`` overlaps it (bcftools' default ``--regions-overlap 1``); overlapping regions are
merged, so no record is read twice.
"""
from __future__ import annotations

import bisect
import gzip
import re
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from ..errors import InputFormatError

_ONE = re.compile(r"^([^:\s]+)(?::(\d+)(?:-(\d*))?)?$")
END = 2**31 - 1  # "to the end of the contig", as htslib writes it


class Span(NamedTuple):
    """0-based half-open ``chrom:start-end``."""

    chrom: str
    start: int
    end: int

    def __str__(self) -> str:
        """The 1-based inclusive form htslib and bcftools take."""
        return f"{self.chrom}:{self.start + 1}-{self.end}" if self.end < END else f"{self.chrom}:{self.start + 1}-"


def contig_key(name: str) -> str:
    """A contig name without the naming scheme (``chr1``/``1`` -> ``1``; ``chrM``/``MT`` -> ``M``).

    Examples
    --------
    >>> [contig_key(c) for c in ("chr1", "1", "chrMT", "M", "chrX")]
    ['1', '1', 'M', 'M', 'X']
    """
    base = name[3:] if name.startswith("chr") else name
    return "M" if base in ("M", "MT") else base


def parse_regions(text: str) -> list[Span]:
    """``-r`` regions: comma-separated ``CHROM``, ``CHROM:POS``, ``CHROM:BEG-END`` or ``CHROM:BEG-``
    (1-based, inclusive), merged and sorted within each contig.

    Examples
    --------
    >>> parse_regions("chr2:5-10,chr1,chr2:8-20,chr2:30")
    [Span(chrom='chr2', start=4, end=20), Span(chrom='chr2', start=29, end=30), Span(chrom='chr1', start=0, end=2147483647)]
    """
    spans = []
    for item in text.split(","):
        item = item.strip()
        m = _ONE.match(item)
        if not m:
            raise InputFormatError(f"-r {text}: cannot read region {item!r} (expected CHROM, CHROM:POS, "
                                   "CHROM:BEG-END or CHROM:BEG-, 1-based, comma-separated)")
        chrom, beg, end = m.groups()
        start = int(beg) - 1 if beg else 0
        stop = END if beg is None or end == "" else (int(end) if end else start + 1)
        if start < 0 or stop <= start:
            raise InputFormatError(f"-r {text}: region {item!r} is empty (positions are 1-based, BEG <= END)")
        spans.append(Span(chrom, start, stop))
    return merge(spans)


def read_regions_file(path: str) -> list[Span]:
    """``-R`` regions: a TSV (``CHROM POS`` or ``CHROM BEG END``, 1-based inclusive; gzip ok) or a BED
    file (``.bed``/``.bed.gz``: 0-based half-open); ``#``, ``track`` and ``browser`` lines are skipped."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(2, "No such file or directory", path)
    bed = p.name.endswith((".bed", ".bed.gz"))
    opener = gzip.open if p.read_bytes()[:2] == b"\x1f\x8b" else open
    spans = []
    try:
        with opener(p, "rt", encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                if not line.strip() or line.startswith(("#", "track", "browser")):
                    continue
                cols = line.split()
                try:
                    beg = int(cols[1])
                    end = int(cols[2]) if len(cols) > 2 else None
                except (IndexError, ValueError):
                    raise InputFormatError(f"-R {path}: line {n}: expected CHROM<TAB>POS or CHROM<TAB>BEG<TAB>END"
                                           f"{' (BED)' if bed else ''}, got {line.strip()[:60]!r}") from None
                start = beg if bed else beg - 1
                stop = end if end is not None else start + 1
                if start < 0 or stop <= start:
                    raise InputFormatError(f"-R {path}: line {n}: empty region {line.strip()[:60]!r}")
                spans.append(Span(cols[0], start, stop))
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise InputFormatError(f"-R {path}: unreadable ({e})") from None
    if not spans:
        raise InputFormatError(f"-R {path}: no regions in the file")
    return merge(spans)


def merge(spans: Iterable[Span]) -> list[Span]:
    """Overlapping or touching spans of a contig merged; contigs in order of first appearance."""
    by: dict[str, list[Span]] = {}
    for s in spans:
        by.setdefault(s.chrom, []).append(s)
    out: list[Span] = []
    for chrom, group in by.items():
        group.sort(key=lambda s: s.start)
        cur = group[0]
        for s in group[1:]:
            if s.start <= cur.end:
                cur = Span(chrom, cur.start, max(cur.end, s.end))
            else:
                out.append(cur)
                cur = s
        out.append(cur)
    return out


class RegionFilter:
    """Whether a record ``(chrom, start, end)`` overlaps the regions; contig names are compared
    without their naming scheme (``chr1`` region, ``1`` record), as varbind aliases contigs."""

    def __init__(self, spans: Iterable[Span]):
        self._by: dict[str, tuple[list[int], list[int]]] = {}
        for s in merge(spans):
            starts, ends = self._by.setdefault(contig_key(s.chrom), ([], []))
            starts.append(s.start)
            ends.append(s.end)
        for k, (starts, ends) in self._by.items():  # a contig named twice (chr1 and 1): re-merge
            order = sorted(range(len(starts)), key=starts.__getitem__)
            m = merge(Span(k, starts[i], ends[i]) for i in order)
            self._by[k] = ([s.start for s in m], [s.end for s in m])

    def __call__(self, chrom: str, start: int, end: int) -> bool:
        found = self._by.get(contig_key(chrom))
        if found is None:
            return False
        starts, ends = found
        i = bisect.bisect_right(ends, start)  # first span ending after the record starts
        return i < len(starts) and starts[i] < max(end, start + 1)


def for_reader(spans: list[Span], names: Iterable[str]) -> list[Span]:
    """The spans renamed to the VCF's own contig names (``chr1`` -> ``1`` when the VCF says ``1``)
    and sorted in the VCF's contig order; spans on contigs the VCF does not name are dropped."""
    order = {}
    by_key = {}
    for i, n in enumerate(names):
        order.setdefault(n, i)
        by_key.setdefault(contig_key(n), n)
    out = []
    for s in spans:
        name = s.chrom if s.chrom in order else by_key.get(contig_key(s.chrom))
        if name is not None:
            out.append(Span(name, s.start, s.end))
    return sorted(merge(out), key=lambda s: (order[s.chrom], s.start))
