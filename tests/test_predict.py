from __future__ import annotations

import numpy as np
import pytest

from varbind import predict
from varbind.bank import ModelBank
from varbind.errors import InvalidSequenceError, ModelNotFoundError
from varbind.params import random_params
from varbind.sequence import encode_batch

from . import refimpl
from .conftest import random_seqs

# float32 accumulation order differs between paths (kernel block sizes, BLAS shapes): a few ulp of
# a sum of ~100 terms; any real error (a wrong window, strand or weight) is orders of magnitude larger
TOL = dict(rtol=1e-5, atol=1e-5)

# every architecture the bank must stack: (m, detectors, avg, hidden, rc)
ARCHS = [(5, 16, True, 0, True), (7, 16, False, 32, True), (7, 16, True, 0, False), (5, 16, True, 32, False),
         (3, 1, False, 0, True), (9, 4, True, 32, True), (1, 2, True, 0, True), (7, 16, False, 0, True)]


@pytest.fixture(scope="module")
def mixed():
    ps = [random_params(detector_len=m, num_detectors=d, has_avg_pooling=a, num_hidden=h, reverse_complement=r, seed=i)
          for i, (m, d, a, h, r) in enumerate(ARCHS)]
    return ps, ModelBank.from_params(ps, [f"m{i}" for i in range(len(ps))])


@pytest.fixture(scope="module")
def seqs():
    rng = np.random.default_rng(7)
    lengths = [1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 17, 30]
    return random_seqs(rng, lengths, "ACGT") + random_seqs(rng, [12, 25], "ACGTN") + ["NNNNNNNN", "acgtuu"]


@pytest.mark.parametrize("mode,ref", [("global", refimpl.score_global), ("deepbind", refimpl.score_deepbind)])
def test_bank_equals_slow_reference_implementation(mixed, seqs, mode, ref, device):
    ps, bank = mixed
    got = predict.score(bank, seqs, mode=mode, device=device)
    want = np.array([[ref(p, s) for p in ps] for s in seqs])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["global", "deepbind"])
def test_batch_size_and_chunking_do_not_change_scores(mixed, seqs, mode):
    _, bank = mixed
    # the kernels are per sequence; only BLAS in the dense heads may round differently by batch shape
    whole = predict.score(bank, seqs, mode=mode)
    for bs in (1, 3, 1000):
        np.testing.assert_allclose(predict.score(bank, seqs, mode=mode, batch_size=bs), whole, **TOL)
    parts = np.concatenate([predict.score(bank, seqs[:5], mode=mode), predict.score(bank, seqs[5:], mode=mode)])
    np.testing.assert_allclose(parts, whole, **TOL)


def test_selecting_models_equals_columns_of_the_whole_bank(mixed, seqs):
    _, bank = mixed
    whole = predict.score(bank, seqs)
    sub = bank.select(["m5", "m0"])
    np.testing.assert_allclose(predict.score(sub, seqs), whole[:, [5, 0]], **TOL)
    with pytest.raises(ModelNotFoundError, match="'nope'"):
        bank.select(["m1", "nope"])


def test_global_equals_deepbind_for_sequences_no_longer_than_m(mixed):
    ps, bank = mixed
    rng = np.random.default_rng(3)
    for i, p in enumerate(ps):
        short = random_seqs(rng, range(1, p.detector_len + 1))
        one = bank.select([f"m{i}"])
        np.testing.assert_allclose(predict.score(one, short, mode="global"), predict.score(one, short, mode="deepbind"),
                                   **TOL)


@pytest.mark.parametrize("mode", ["global", "deepbind"])
def test_reverse_complement_models_are_strand_symmetric(mixed, seqs, mode):
    from varbind.sequence import decode, encode, reverse_complement_codes

    ps, bank = mixed
    rc = [decode(reverse_complement_codes(encode(s))) for s in seqs]
    a, b = predict.score(bank, seqs, mode=mode), predict.score(bank, rc, mode=mode)
    is_rc = np.array([p.reverse_complement for p in ps])
    np.testing.assert_allclose(a[:, is_rc], b[:, is_rc], **TOL)
    assert not np.allclose(a[:, ~is_rc], b[:, ~is_rc])  # forward-only models see the strand


def test_strand_merge_forward_and_mean(mixed, seqs):
    from varbind.sequence import decode, encode, reverse_complement_codes

    ps, bank = mixed
    rc = [decode(reverse_complement_codes(encode(s))) for s in seqs]
    fwd = predict.score(bank, seqs, strand_merge="forward")
    rev = predict.score(bank, rc, strand_merge="forward")
    np.testing.assert_allclose(predict.score(bank, seqs, strand_merge="mean"), np.where(
        [p.reverse_complement for p in ps], (fwd + rev) / 2, fwd), **TOL)
    np.testing.assert_allclose(predict.score(bank, seqs, strand_merge="max"), np.where(
        [p.reverse_complement for p in ps], np.maximum(fwd, rev), fwd), **TOL)
    with pytest.raises(ValueError, match="strand_merge"):
        predict.score(bank, seqs, strand_merge="min")


@pytest.mark.parametrize("per_ref", [[6] * 5, [1, 1, 0, 1, 1]])  # a lone edit per reference is its own code path
def test_score_edits_equals_full_passes_on_edited_sequences(mixed, device, per_ref):
    _, bank = mixed
    rng = np.random.default_rng(11)
    refs = encode_batch(random_seqs(rng, [1, 4, 30, 41, 60]))
    e_ref, e_start, e_len, e_codes = [], [], [], []
    for b, n in enumerate(refs.lengths):
        for _ in range(per_ref[b]):
            k = int(rng.integers(1, min(n, 5) + 1))
            e_ref.append(b)
            e_start.append(int(rng.integers(0, n - k + 1)))
            e_len.append(k)
            e_codes.append(np.pad(rng.integers(0, 5, k), (0, 5 - k)))
    edits = predict.Edits(np.array(e_ref), np.array(e_start), np.array(e_codes, np.uint8), np.array(e_len))
    got = predict.score_edits(bank, refs, edits, device=device, batch_size=2)
    np.testing.assert_allclose(got.ref, predict.score(bank, refs), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got.alt, predict.score(bank, predict.apply_edits(refs, edits)), rtol=1e-5, atol=1e-5)


def test_edit_outside_reference_is_refused(mixed):
    _, bank = mixed
    refs = encode_batch(["ACGTACGT"])
    edits = predict.Edits(np.array([0]), np.array([6]), np.array([[1, 2, 3]], np.uint8), np.array([3]))
    with pytest.raises(ValueError, match=r"edit 0 \[6, 9\) does not fit its reference of length 8"):
        predict.score_edits(bank, refs, edits)


def test_invalid_sequence_error_counts_across_batches(mixed):
    _, bank = mixed
    seqs = ["ACGT"] * 9 + ["ACGZ"]
    with pytest.raises(InvalidSequenceError, match="sequence 110: invalid character 'Z' at position 4"):
        predict.score(bank, seqs, batch_size=4, start_index=100)


def test_empty_input_gives_empty_scores(mixed):
    _, bank = mixed
    assert predict.score(bank, []).shape == (0, len(bank))


@pytest.mark.parametrize("to_host,sub", [(True, None), (False, None), (False, (2, 5))])
def test_mixed_edits_on_the_gpu_path_put_every_row_in_its_place(mixed, monkeypatch, to_host, sub):
    """The GPU's mixed edits (``_triton_edits``): single-base ones through the SNV kernel, the others
    as full passes, each row back at its edit, on the host or left as tensors, with the sub-window
    rows of the other edits NaN. The SNV kernel is stood in for by the CPU path (only the placing is
    tested here; the kernel itself in test_gpu_kernels.py)."""
    import torch

    from varbind.predict import _edits

    _, bank = mixed
    rng = np.random.default_rng(5)
    refs = encode_batch(random_seqs(rng, [12, 20, 9]))
    lengths = np.array([1, 2, 1, 3, 1, 1])
    edits = predict.Edits(np.array([0, 0, 1, 1, 2, 2]), np.array([5, 3, 7, 1, 4, 6]),
                          rng.integers(0, 4, (6, 3)).astype(np.uint8), lengths)
    marks = []

    def stand_in(bank, refs, snvs, strand_merge, batch_size, to_host=True, sub=None):
        marks.append(len(snvs.start))
        r = predict.score_edits(bank, refs, snvs)
        r = r if to_host else predict.EditScores(*(torch.from_numpy(x) for x in r))
        return r if sub is None else (r, predict.EditScores(r.alt * 0 + 1, r.alt * 0 + 2))

    monkeypatch.setattr(_edits, "_snv_scores_triton", stand_in)
    got = _edits._triton_edits(bank, refs, edits, "max", None, to_host, sub)
    main, side = got if sub is not None else (got, None)
    want = predict.score_edits(bank, refs, edits)
    assert marks == [4]
    np.testing.assert_allclose(np.asarray(main.alt), want.alt, **TOL)
    np.testing.assert_allclose(np.asarray(main.ref), want.ref, **TOL)
    assert isinstance(main.alt, np.ndarray) == to_host
    if side is not None:
        assert torch.isnan(side.ref[lengths != 1]).all() and (side.ref[lengths == 1] == 1).all()
        assert (side.alt[lengths == 1] == 2).all()
