"""Variants -> reference and alternate windows of one fixed length, ready for delta scoring.

Coordinates are 0-based half-open inside (``Site.start`` is VCF ``POS - 1``).

How the windows are built
-------------------------
For a window of ``W`` bases and an allele of ``k`` bases starting at ``start`` (REF for the
reference window, one ALT for the alternate window), the window is::

    left flank (the (W - k) // 2 genome bases before start)
    + the allele
    + right flank (the W - k - (W - k) // 2 genome bases after start + len(REF))

so both windows have exactly ``W`` bases and each is centred on its own allele; the flanks are the
genome on either side of REF in both. For SNVs and MNPs (``len(REF) == len(ALT)``) the alternate
window is the reference window with the allele's bases replaced; for indels the flanks shift by
half the length difference. Either way the alternate window is passed to the scorer as a
same-length *edit* of the reference window covering the stretch where the two differ (the first to
the last differing position), so :func:`varbind.predict.score_edits` computes it as a delta on the
reference pass. Positions beyond a contig's ends are ``N`` (exact length kept).

Skip reasons
------------
Alleles that cannot be scored are passed through unannotated and counted by reason (see
:data:`SKIP_REASONS`).
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from ..errors import RefMismatchError
from ..predict import Edits
from ..bases import GENOME_CODES
from ..sequence import CodeBatch

SKIP_REASONS = {
    "no_alt": "ALT is '.' (no alternate allele)",
    "symbolic": "symbolic ALT such as <DEL> or <*>",
    "breakend": "breakend ALT (contains [ or ], or single-breakend '.')",
    "star": "'*' ALT (allele missing due to an upstream deletion)",
    "iupac": "REF or ALT holds a base other than A, C, G, T, N",
    "too_long": "REF or ALT longer than the window",
    "ref_mismatch": "REF differs from the FASTA",
    "ref_alt_swap": "REF differs from the FASTA, which holds an ALT instead (swapped alleles)",
    "contig_missing": "contig not in the FASTA (after aliasing)",
    "beyond_contig": "REF extends past the end of the contig",
    "pos0": "POS 0 (telomere)",
}
REF_POLICIES = ("error", "skip", "use-vcf")
#: :attr:`Windows.genome_start` of a window that is not a genome stretch
NOT_GENOME = np.iinfo(np.int64).min
#: longest region :func:`cluster_windows` builds by default (bounds the prefix table of the kernel)
REGION_CAP = 2048
#: most a window may extend a region, as a fraction of its length, to join it (cost break-even)
JOIN_MAX_NEW = 0.4
_BASES = re.compile(r"^[ACGTNacgtn]+$")


class Site(NamedTuple):
    """One VCF record's coordinates and alleles: ``start`` is 0-based (``POS - 1``)."""

    chrom: str
    start: int
    ref: str
    alts: tuple[str, ...]
    id: str = "."


class Windows(NamedTuple):
    """Windows of a batch of sites.

    Attributes
    ----------
    refs : CodeBatch
        ``(B, W)`` reference windows (shared by the ALTs of one site).
    edits : Edits
        ``E`` alternate windows as edits of ``refs``.
    site : ndarray (E,)
        Index (into the input sites) of each edit's site.
    allele : ndarray (E,)
        Which ALT (0-based) of its site each edit is.
    skipped : dict of (site, allele) -> reason
        Alleles not scored (``allele`` is -1 for a whole-record reason such as ``no_alt``).
    genome_start : ndarray (B,)
        0-based contig position of each reference window's first base when the window is a plain
        stretch of the (N-padded) genome, which it is except under ``use-vcf`` with a REF that differs
        from the FASTA: there :data:`NOT_GENOME`. May be negative (a window N-padded at the contig start).
    """

    refs: CodeBatch
    edits: Edits
    site: np.ndarray
    allele: np.ndarray
    skipped: dict[tuple[int, int], str]
    genome_start: np.ndarray | None = None


class Clusters(NamedTuple):
    """Windows grouped into regions: window ``i`` lies in ``[lo[region[i]], hi[region[i]])``."""

    region: np.ndarray  # (W,) int64
    lo: np.ndarray  # (R,) int64
    hi: np.ndarray  # (R,) int64


def encode_allele(allele: str) -> np.ndarray:
    """Codes of an allele (A0 C1 G2 T3 N4).

    Examples
    --------
    >>> encode_allele("ACgtN").tolist()
    [0, 1, 2, 3, 4]
    """
    return GENOME_CODES[np.frombuffer(allele.encode("ascii"), dtype=np.uint8)]


def allele_reason(ref: str, alt: str, window: int) -> str | None:
    """Why one ALT of a site cannot be scored, or ``None`` when it can.

    Examples
    --------
    >>> [allele_reason("A", a, 11) for a in ["G", "<DEL>", "G]1:5]", "*", "R", "A" * 12]]
    [None, 'symbolic', 'breakend', 'star', 'iupac', 'too_long']
    """
    if alt in ("", "."):
        return "no_alt"
    if alt == "*":
        return "star"
    if "[" in alt or "]" in alt or (len(alt) > 1 and (alt[0] == "." or alt[-1] == ".")):
        return "breakend"
    if alt.startswith("<"):
        return "symbolic"
    if not _BASES.match(alt) or not _BASES.match(ref):
        return "iupac"
    if max(len(ref), len(alt)) > window:
        return "too_long"
    return None


def allele_window(genome: Callable[[int, int], np.ndarray], start: int, ref_len: int, allele: np.ndarray,
                  window: int) -> np.ndarray:
    """The ``window``-base window centred on ``allele`` placed at ``start`` instead of the ``ref_len``
    reference bases (see the module docstring). ``genome(lo, hi)`` returns N-padded codes.

    Examples
    --------
    >>> g = lambda lo, hi: encode_allele("ACGTACGTAC".ljust(12, "N")[max(lo, 0):hi].rjust(hi - lo, "N"))
    >>> from varbind.sequence import decode
    >>> decode(allele_window(g, 4, 1, encode_allele("TTT"), 7))   # insertion A -> TTT at 4
    'GTTTTCG'
    >>> decode(allele_window(g, 0, 1, encode_allele("A"), 5))     # N-padded at the contig start
    'NNACG'
    """
    k = len(allele)
    left = (window - k) // 2
    right = window - k - left
    return np.concatenate([genome(start - left, start), allele, genome(start + ref_len, start + ref_len + right)])


_BASE = {"A": 0, "C": 1, "G": 2, "T": 3, "a": 0, "c": 1, "g": 2, "t": 3}


def gather(genome: Callable[[int, int], np.ndarray], starts: np.ndarray, width: int) -> np.ndarray:
    """Codes ``(n, width)`` of ``genome[s : s + width]`` for each of ``starts``: one gather from the
    fetched stretches when ``genome`` has them (:class:`varbind.annotate.pipeline.SitesGenome`), else
    from one read of the span the windows cover.

    Examples
    --------
    >>> g = np.arange(20, dtype=np.uint8)
    >>> gather(lambda a, b: g[a:b], np.array([5, 2]), 3).tolist()
    [[5, 6, 7], [2, 3, 4]]
    """
    take = getattr(genome, "take", None)
    if take is not None:
        return take(starts, width)
    starts = np.asarray(starts, np.int64)
    lo = int(starts.min())
    span = genome(lo, int(starts.max()) + width)
    return span[(starts - lo)[:, None] + np.arange(width)[None, :]]


def _snv_windows(sites: Sequence[Site], genome: Callable[[int, int], np.ndarray] | None, window: int,
                 contig_length: int | None) -> Windows | None:
    """:func:`build_windows` for the common chunk of SNVs only (ACGT, REF matching the FASTA), as
    array operations; ``None`` when any site needs the general path. Same result as the general path."""
    if genome is None or not sites or window < 1:
        return None
    try:
        refb = np.array([_BASE[s.ref] for s in sites], np.uint8)
        flat_alt = np.array([_BASE[a] for s in sites for a in s.alts], np.uint8)
    except KeyError:  # longer alleles, N, IUPAC, symbolic, '*', '.': the general path
        return None
    starts = np.array([s.start for s in sites], np.int64)
    n_alt = np.array([len(s.alts) for s in sites], np.int64)
    if (n_alt == 0).any() or (starts < 0).any() or (contig_length is not None and (starts >= contig_length).any()):
        return None
    left = (window - 1) // 2
    uniq, first, ref_of_site = np.unique(starts, return_index=True, return_inverse=True)
    wins = gather(genome, uniq - left, window)
    if (wins[ref_of_site.reshape(-1), left] != refb).any():
        return None  # REF mismatches: counted and handled by the general path
    site_of_edit = np.repeat(np.arange(len(sites)), n_alt)
    if (flat_alt == refb[site_of_edit]).any():
        return None
    order = np.argsort(first, kind="stable")  # references in order of first appearance, as the general path
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    win_start = uniq[order] - left
    refs = wins[order]
    ne = len(flat_alt)
    edits = Edits(rank[ref_of_site][site_of_edit].astype(np.int64), np.full(ne, left, np.int64),
                  flat_alt[:, None], np.ones(ne, np.int64))
    allele = np.arange(ne, dtype=np.int64) - np.repeat(np.cumsum(n_alt) - n_alt, n_alt)  # index within its site
    return Windows(CodeBatch(np.ascontiguousarray(refs), np.full(len(uniq), window, np.int64)), edits,
                   site_of_edit.astype(np.int64), allele, {}, win_start.astype(np.int64))


def build_windows(sites: Sequence[Site], genome: Callable[[int, int], np.ndarray] | None, window: int,
                  ref_policy: str = "skip", contig_length: int | None = None,
                  counts: Counter | None = None) -> Windows:
    """Reference windows and alternate edits for sites of ONE contig.

    Parameters
    ----------
    sites : sequence of Site
    genome : callable (lo, hi) -> uint8 codes, or None
        N-padded genome codes of the contig, 0-based half-open; ``None`` when the contig is missing.
    window : int
    ref_policy : {"error", "skip", "use-vcf"}
        What to do when REF differs from the FASTA (case-insensitively): raise, skip the site, or
        build the reference window with the VCF's REF.
    contig_length : int, optional
    counts : Counter, optional
        Incremented with ``ref_mismatch`` / ``ref_alt_swap`` per site seen, whatever the policy.

    Raises
    ------
    RefMismatchError
        Under ``ref_policy="error"``, naming the site.
    """
    fast = _snv_windows(sites, genome, window, contig_length)
    if fast is not None:
        return fast
    refs: list[np.ndarray] = []
    starts: list[int] = []
    ref_key: dict[tuple, int] = {}
    e_ref, e_start, e_codes, e_site, e_allele = [], [], [], [], []
    skipped: dict[tuple[int, int], str] = {}
    for i, s in enumerate(sites):
        if not s.alts:
            skipped[(i, -1)] = "no_alt"
            continue
        site_reason = None
        if genome is None:
            site_reason = "contig_missing"
        elif s.start < 0:
            site_reason = "pos0"
        elif contig_length is not None and s.start + len(s.ref) > contig_length:
            site_reason = "beyond_contig"
        reasons = [site_reason or allele_reason(s.ref, a, window) for a in s.alts]
        if all(reasons):
            skipped.update({(i, j): r for j, r in enumerate(reasons)})
            continue
        fasta_ref = genome(s.start, s.start + len(s.ref))
        vcf_ref = encode_allele(s.ref)
        ref_allele = fasta_ref
        if not np.array_equal(fasta_ref, vcf_ref):
            swap = any(r is None and np.array_equal(encode_allele(a), fasta_ref) for a, r in zip(s.alts, reasons))
            kind = "ref_alt_swap" if swap else "ref_mismatch"
            if counts is not None:
                counts[kind] += 1
            if ref_policy == "error":
                from ..sequence import decode

                raise RefMismatchError(f"{s.chrom}:{s.start + 1}: REF {s.ref} differs from the FASTA "
                                       f"({decode(fasta_ref)}){' (REF/ALT swapped?)' if swap else ''}; "
                                       "use --ref-mismatch skip or use-vcf to go on")
            if ref_policy == "skip":
                skipped.update({(i, j): r or kind for j, r in enumerate(reasons)})
                continue
            ref_allele = vcf_ref
        key = (s.start, len(s.ref), ref_allele.tobytes())
        if key not in ref_key:
            ref_key[key] = len(refs)
            refs.append(allele_window(genome, s.start, len(s.ref), ref_allele, window))
            plain = ref_allele is fasta_ref
            starts.append(s.start - (window - len(s.ref)) // 2 if plain else NOT_GENOME)
        r = ref_key[key]
        for j, (alt, reason) in enumerate(zip(s.alts, reasons)):
            if reason:
                skipped[(i, j)] = reason
                continue
            alt_win = allele_window(genome, s.start, len(s.ref), encode_allele(alt), window)
            diff = np.flatnonzero(alt_win != refs[r])
            lo, hi = (int(diff[0]), int(diff[-1]) + 1) if diff.size else (window // 2, window // 2 + 1)
            e_ref.append(r), e_start.append(lo), e_codes.append(alt_win[lo:hi]), e_site.append(i), e_allele.append(j)
    kmax = max((len(c) for c in e_codes), default=1)
    codes = np.full((len(e_codes), kmax), 4, dtype=np.uint8)
    for e, c in enumerate(e_codes):
        codes[e, : len(c)] = c
    ref_codes = np.stack(refs) if refs else np.zeros((0, window), np.uint8)
    edits = Edits(np.array(e_ref, np.int64), np.array(e_start, np.int64), codes,
                  np.array([len(c) for c in e_codes], np.int64))
    return Windows(CodeBatch(ref_codes, np.full(len(refs), window, np.int64)), edits,
                   np.array(e_site, np.int64), np.array(e_allele, np.int64), skipped, np.array(starts, np.int64))


def cluster_windows(start: np.ndarray, length: np.ndarray, max_new: float = JOIN_MAX_NEW,
                    cap: int = REGION_CAP) -> Clusters:
    """Group windows of one contig into regions that can share one reference pass.

    Windows (in start order) join the current region while each extends it by at most
    ``max_new * length`` bases (so they overlap it by the rest) and the region stays at most ``cap``
    bases long; otherwise a window starts a region of its own. Sharing pays only for heavily
    overlapping windows: a region costs a sweep over its bases (about twice a plain convolution
    position) and each window a pass over its map, against a full window pass per variant
    (see ``BENCHMARKS.md``).

    Parameters
    ----------
    start, length : ndarray (W,)
        0-based starts (any order, may be negative) and lengths of the windows.
    max_new : float
    cap : int

    Returns
    -------
    Clusters
        ``region`` per window (in the input order), regions numbered by start.

    Examples
    --------
    >>> c = cluster_windows(np.array([0, 30, 300, 60, 2000]), np.array([101] * 5), max_new=0.4, cap=400)
    >>> c.region.tolist(), c.lo.tolist(), c.hi.tolist()
    ([0, 0, 1, 0, 2], [0, 300, 2000], [161, 401, 2101])
    """
    start = np.asarray(start, np.int64)
    end = start + np.asarray(length, np.int64)
    order = np.argsort(start, kind="stable")
    region = np.empty(len(start), np.int64)
    lo: list[int] = []
    hi: list[int] = []
    for i in order:
        s, e = int(start[i]), int(end[i])
        if lo and e - hi[-1] <= max_new * (e - s) and max(hi[-1], e) - lo[-1] <= cap:
            hi[-1] = max(hi[-1], e)
        else:
            lo.append(s)
            hi.append(e)
        region[i] = len(lo) - 1
    return Clusters(region, np.array(lo, np.int64), np.array(hi, np.int64))
