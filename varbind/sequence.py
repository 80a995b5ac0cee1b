"""DNA/RNA sequences as integer codes and one-hot tensors.

Codes are ``uint8``: A=0, C=1, G=2, T=3 (``U`` is read as ``T``), N=4. One-hot tensors are
``(N, 4, L)`` float32 in ACGT order; an ``N`` column is 0.25 everywhere (DeepBind's rule).
Sequences are read case-insensitively; any character other than ACGTUN is an
:class:`~varbind.errors.InvalidSequenceError` naming the sequence and the character.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import IO, NamedTuple

import numpy as np
import torch

from .bases import COMPLEMENT_CODE as _COMPLEMENT_CODE
from .bases import GENOME_CODES, N_CODE  # noqa: F401  (re-exported: the one table lives in varbind.bases)
from .bases import INVALID as _INVALID
from .bases import STRICT_CODES as _LUT
from .errors import InputFormatError, InvalidSequenceError


def encode(seq: str, index: int | None = None, name: str | None = None) -> np.ndarray:
    """Encode one sequence as ``uint8`` codes (A=0, C=1, G=2, T/U=3, N=4).

    Parameters
    ----------
    seq : str
        The sequence, any case.
    index, name : optional
        Used only in the error message.

    Returns
    -------
    numpy.ndarray, shape (len(seq),), uint8

    Raises
    ------
    InvalidSequenceError
        For a character other than ACGTUN.

    Examples
    --------
    >>> encode("ACgtNu").tolist()
    [0, 1, 2, 3, 4, 3]
    """
    try:
        raw = np.frombuffer(seq.encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError:
        pos = next(i for i, ch in enumerate(seq) if ord(ch) > 127)
        raise InvalidSequenceError(seq[pos], pos, index, name) from None
    codes = _LUT[raw]
    bad = np.flatnonzero(codes == _INVALID)
    if bad.size:
        raise InvalidSequenceError(seq[bad[0]], int(bad[0]), index, name)
    return codes


def decode(codes: np.ndarray) -> str:
    """Inverse of :func:`encode` (upper case, ``T`` for 3).

    Examples
    --------
    >>> decode(encode("acgun"))
    'ACGTN'
    """
    return np.frombuffer(b"ACGTN", dtype=np.uint8)[np.asarray(codes)].tobytes().decode()


class CodeBatch(NamedTuple):
    """A batch of encoded sequences of possibly different lengths.

    ``codes`` is ``(N, L_max)`` uint8, right-padded with ``N`` codes; ``lengths`` is ``(N,)`` int64.
    """

    codes: np.ndarray
    lengths: np.ndarray


def encode_batch(seqs: Sequence[str] | Sequence[np.ndarray], start_index: int = 0) -> CodeBatch:
    """Encode many sequences into a padded :class:`CodeBatch`.

    Strings are validated (errors name ``start_index + i``); arrays are taken as codes already.

    Examples
    --------
    >>> b = encode_batch(["AC", "GTTA"])
    >>> b.codes.tolist(), b.lengths.tolist()
    ([[0, 1, 4, 4], [2, 3, 3, 0]], [2, 4])
    """
    if seqs and all(isinstance(s, str) for s in seqs):
        fast = _encode_equal_lengths(seqs)  # one vectorised pass when every sequence has one length
        if fast is not None:
            return fast
    encoded = [
        s if isinstance(s, np.ndarray) else encode(s, index=start_index + i) for i, s in enumerate(seqs)
    ]
    lengths = np.fromiter((len(c) for c in encoded), dtype=np.int64, count=len(encoded))
    width = int(lengths.max()) if len(encoded) else 0
    codes = np.full((len(encoded), width), N_CODE, dtype=np.uint8)
    for i, c in enumerate(encoded):
        codes[i, : len(c)] = c
    return CodeBatch(codes, lengths)


def _encode_equal_lengths(seqs: Sequence[str]) -> CodeBatch | None:
    n = len(seqs[0])
    if any(len(s) != n for s in seqs):
        return None
    try:
        raw = np.frombuffer("".join(seqs).encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError:
        return None
    codes = _LUT[raw]
    if (codes == _INVALID).any():
        return None  # the per-sequence path names the sequence and character
    return CodeBatch(codes.reshape(len(seqs), n), np.full(len(seqs), n, dtype=np.int64))


def one_hot(seqs: Sequence[str] | np.ndarray) -> torch.Tensor:
    """One-hot encode equal-length sequences (or a code array) as ``(N, 4, L)`` float32.

    Examples
    --------
    >>> one_hot(["ACN"])[0].tolist()
    [[1.0, 0.0, 0.25], [0.0, 1.0, 0.25], [0.0, 0.0, 0.25], [0.0, 0.0, 0.25]]
    """
    if isinstance(seqs, np.ndarray):
        codes = np.atleast_2d(seqs)
    else:
        batch = encode_batch(seqs)
        if len(set(batch.lengths.tolist())) > 1:
            raise ValueError("one_hot needs sequences of equal length; use encode_batch for ragged ones")
        codes = batch.codes
    table = np.zeros((5, 4), dtype=np.float32)
    table[np.arange(4), np.arange(4)] = 1.0
    table[N_CODE] = 0.25
    return torch.from_numpy(np.ascontiguousarray(table[codes].transpose(0, 2, 1)))


def reverse_complement(x: torch.Tensor) -> torch.Tensor:
    """Reverse complement of a one-hot batch ``(N, 4, L)``: ``torch.flip(x, dims=(-2, -1))``.

    Examples
    --------
    >>> reverse_complement(one_hot(["AACG"])).equal(one_hot(["CGTT"]))
    True
    """
    return torch.flip(x, dims=(-2, -1))


def reverse_complement_codes(codes: np.ndarray) -> np.ndarray:
    """Reverse complement of a code array along its last axis (N stays N).

    Examples
    --------
    >>> decode(reverse_complement_codes(encode("AACGN")))
    'NCGTT'
    """
    return _COMPLEMENT_CODE[np.asarray(codes)[..., ::-1]]


def dinucleotide_shuffle(seq: str, rng: np.random.Generator | int | None = None) -> str:
    """Shuffle a sequence preserving its exact dinucleotide counts (Altschul-Erickson).

    The first and last characters are kept. Works for any alphabet (N included).

    Parameters
    ----------
    seq : str
        The sequence.
    rng : numpy.random.Generator or int or None
        Source of randomness (a seed gives a reproducible shuffle).

    Examples
    --------
    >>> from collections import Counter
    >>> s = "ACGTTGCAAGGCTTAACG"
    >>> t = dinucleotide_shuffle(s, rng=1)
    >>> Counter(zip(s, s[1:])) == Counter(zip(t, t[1:])) and t[0] == s[0] and t[-1] == s[-1]
    True
    """
    rng = np.random.default_rng(rng)
    if len(seq) <= 2:
        return seq
    edges: dict[str, list[str]] = {}
    for a, b in zip(seq, seq[1:]):
        edges.setdefault(a, []).append(b)
    last = seq[-1]
    # Choose, for every vertex but the last, a final out-edge so that the final edges form a tree
    # rooted at the last character; then every order of the other edges gives an Eulerian path.
    while True:
        final = {v: outs[rng.integers(len(outs))] for v, outs in edges.items() if v != last}
        ok = True
        for v in final:
            seen = {v}
            u = v
            while u != last:
                u = final[u]
                if u in seen:
                    ok = False
                    break
                seen.add(u)
            if not ok:
                break
        if ok:
            break
    order: dict[str, list[str]] = {}
    for v, outs in edges.items():
        rest = list(outs)
        if v != last:
            rest.remove(final[v])
        rng.shuffle(rest)
        if v != last:
            rest.append(final[v])
        order[v] = rest
    pos = {v: 0 for v in order}
    out = [seq[0]]
    u = seq[0]
    for _ in range(len(seq) - 1):
        nxt = order[u][pos[u]]
        pos[u] += 1
        out.append(nxt)
        u = nxt
    return "".join(out)


class NamedSequence(NamedTuple):
    """A sequence read from a file: its 1-based record number, name (FASTA) or ``None``, text."""

    number: int
    name: str | None
    seq: str


def read_sequences(stream: IO[str] | Iterable[str]) -> Iterator[NamedSequence]:
    """Read sequences one per line, or FASTA (detected by a leading ``>``), from a text stream.

    Blank lines are ignored; FASTA records may span several lines. Sequences are not validated
    here (``encode`` does that, naming the record number).

    Examples
    --------
    >>> [s.seq for s in read_sequences(["ACGT", "", "GG"])]
    ['ACGT', 'GG']
    >>> [(s.name, s.seq) for s in read_sequences([">a x", "AC", "GT", ">b", "T"])]
    [('a', 'ACGT'), ('b', 'T')]
    """
    fasta: bool | None = None
    name: str | None = None
    parts: list[str] = []
    number = 0
    for line in stream:
        line = line.strip()
        if not line:
            continue
        if fasta is None:
            fasta = line.startswith(">")
        if fasta:
            if line.startswith(">"):
                if name is not None:
                    number += 1
                    yield NamedSequence(number, name, "".join(parts))
                name, parts = (line[1:].split() or [""])[0], []
            else:
                parts.append(line)
        else:
            if line.startswith(">"):
                raise InputFormatError(f"line {number + 1}: a FASTA header inside a one-per-line sequence file")
            number += 1
            yield NamedSequence(number, None, line)
    if fasta and name is not None:
        number += 1
        yield NamedSequence(number, name, "".join(parts))
