from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from varbind.errors import InputFormatError, InvalidSequenceError
from varbind.sequence import (
    decode, dinucleotide_shuffle, encode, encode_batch, one_hot, read_sequences, reverse_complement,
    reverse_complement_codes,
)


def test_encode_accepts_lower_case_and_u():
    assert encode("acgtuN").tolist() == [0, 1, 2, 3, 3, 4]


@pytest.mark.parametrize("seq,char,pos", [("ACXT", "X", 3), ("AC-T", "-", 3), ("ACGé", "é", 4), ("A T", " ", 2)])
def test_invalid_character_names_sequence_position_and_character(seq, char, pos):
    with pytest.raises(InvalidSequenceError) as e:
        encode_batch(["ACGT", seq], start_index=10)
    assert e.value.char == char and e.value.position == pos - 1 and e.value.index == 11
    assert f"sequence 12: invalid character {char!r} at position {pos}" in str(e.value)


def test_one_hot_n_is_quarter_and_rc_is_flip():
    x = one_hot(["ACGTN"])
    assert torch.equal(x[0, :, 4], torch.full((4,), 0.25))
    assert torch.equal(x[0, :, :4], torch.eye(4))
    assert torch.equal(reverse_complement(x), one_hot(["NACGT"]))


def test_reverse_complement_codes_matches_string_rc():
    assert decode(reverse_complement_codes(encode("AACGTN"))) == "NACGTT"


def test_encode_batch_pads_with_n_and_keeps_lengths():
    b = encode_batch(["A", "CGT"])
    assert b.codes.tolist() == [[0, 4, 4], [1, 2, 3]] and b.lengths.tolist() == [1, 3]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ACGTN", min_size=0, max_size=60), st.integers(0, 2**31))
def test_dinucleotide_shuffle_preserves_counts_exactly(seq, seed):
    out = dinucleotide_shuffle(seq, rng=seed)
    assert Counter(zip(seq, seq[1:])) == Counter(zip(out, out[1:]))
    assert Counter(seq) == Counter(out)
    if seq:
        assert out[0] == seq[0] and out[-1] == seq[-1]


def test_dinucleotide_shuffle_is_seeded_and_shuffles():
    s = "ACGTTGCAAGGCTTAACGATCGATCGGGATCCAT" * 3
    assert dinucleotide_shuffle(s, rng=5) == dinucleotide_shuffle(s, rng=5)
    outs = {dinucleotide_shuffle(s, rng=i) for i in range(20)}
    assert len(outs) > 10


def test_read_sequences_lines_and_fasta():
    assert [(r.number, r.seq) for r in read_sequences(["AC", "", "  GT  "])] == [(1, "AC"), (2, "GT")]
    recs = list(read_sequences([">x desc", "AC", "GT", ">y", ">z", "A"]))
    assert [(r.name, r.seq) for r in recs] == [("x", "ACGT"), ("y", ""), ("z", "A")]
    with pytest.raises(InputFormatError, match="FASTA header"):
        list(read_sequences(["ACGT", ">x"]))
