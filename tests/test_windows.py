"""Windows sharing one reference pass: the region kernel, clustering, and annotate's use of them."""
from __future__ import annotations

import gzip
from collections import Counter

import numpy as np
import pytest

from varbind import predict
from varbind.annotate.api import _fasta
from varbind.annotate.scoring import score_global
from varbind.bank import ModelBank
from varbind.params import random_params
from varbind.sequence import CodeBatch, encode_batch
from varbind.annotate.windows import NOT_GENOME, Site, build_windows, cluster_windows

from .annotate_helpers import random_genome, shared, tiny_bank, write_fasta
from .conftest import random_seqs
from .test_predict import ARCHS

TOL = dict(rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def mixed():
    ps = [random_params(detector_len=m, num_detectors=d, has_avg_pooling=a, num_hidden=h, reverse_complement=r, seed=i)
          for i, (m, d, a, h, r) in enumerate(ARCHS)]
    return ModelBank.from_params(ps, [f"m{i}" for i in range(len(ps))])


def random_edits(rng, lengths, per_window: int, kmax: int = 4) -> predict.Edits:
    e_ref, e_start, e_len, e_codes = [], [], [], []
    for i, n in enumerate(lengths):
        for _ in range(per_window):
            k = int(rng.integers(1, min(int(n), kmax) + 1))
            e_ref.append(i)
            e_start.append(int(rng.integers(0, n - k + 1)))
            e_len.append(k)
            e_codes.append(np.pad(rng.integers(0, 5, k), (0, kmax - k)))
    return predict.Edits(np.array(e_ref, np.int64), np.array(e_start, np.int64), np.array(e_codes, np.uint8),
                         np.array(e_len, np.int64))


def check_against_full_passes(bank, regions, windows, edits, **kw):
    got = predict.score_windows(bank, regions, windows, edits, **kw)
    wc = predict.window_codes(regions, windows)
    np.testing.assert_allclose(got.ref, predict.score(bank, wc), **TOL)
    np.testing.assert_allclose(got.alt, predict.score(bank, predict.apply_edits(wc, edits)), **TOL)


@pytest.mark.parametrize("batch_size", [None, 1, 4])
def test_windows_equal_full_passes_on_the_materialised_windows(mixed, batch_size):
    rng = np.random.default_rng(1)
    regions = encode_batch(random_seqs(rng, [60, 2, 33, 90], "ACGTN") + ["NNNNNNNNNNNN"])
    w_region, w_start, w_len = [], [], []
    for r, n in enumerate(regions.lengths):
        n = int(n)
        # both region edges, a whole-region window, windows shorter than every detector (w < m), random ones
        spans = [(0, min(n, 7)), (max(0, n - 5), min(n, 5)), (0, n), (n // 2, 1)]
        spans += [(s, int(rng.integers(1, n - s + 1))) for s in rng.integers(0, n, 4)]
        for s, w in spans:
            w_region.append(r), w_start.append(s), w_len.append(w)
    perm = rng.permutation(len(w_region))  # any window order
    windows = predict.RegionWindows(*(np.array(a, np.int64)[perm] for a in (w_region, w_start, w_len)))
    edits = random_edits(rng, windows.length, per_window=3)  # several edits a window, up to 4 bases
    check_against_full_passes(mixed, regions, windows, edits, batch_size=batch_size)


def test_lone_window_covering_its_region_and_windows_without_edits(mixed):
    rng = np.random.default_rng(2)
    regions = encode_batch(random_seqs(rng, [41, 41, 70]))
    windows = predict.RegionWindows(np.array([0, 1, 2, 2]), np.array([0, 0, 3, 30]), np.array([41, 41, 40, 40]))
    edits = random_edits(rng, [41, 41, 40, 40], per_window=2, kmax=12)
    keep = edits.ref_index != 1  # window 1 has no edit
    edits = predict.Edits(*(a[keep] for a in edits))
    check_against_full_passes(mixed, regions, windows, edits)


@pytest.mark.parametrize("sub_len", [21, 5])
def test_sub_windows_come_from_the_same_pass(mixed, sub_len):
    """Shorter windows inside some windows (DeepFind's inside the panel's), scored in the same pass:
    the windows' scores are unchanged bit for bit; a sub-window's equal the sub-window scored alone
    within float32 rounding (its ends from the pass's partial sums), a lone window's as one in a
    shared region. Sub-windows at either end of their window, and (5 bases) shorter than some detectors."""
    rng = np.random.default_rng(7)
    regions = encode_batch(random_seqs(rng, [41] * 6 + [90, 70], "ACGTN"))
    spans = [(r, 0) for r in range(6)] + [(6, 0), (6, 30), (6, 49), (7, 10), (7, 29)]
    windows = predict.RegionWindows(*(np.array(a, np.int64) for a in zip(*spans)), np.full(len(spans), 41))
    edits = random_edits(rng, windows.length, per_window=2)
    starts = np.array([0, 41 - sub_len, 7, -1, 12, 3, 0, 41 - sub_len, 9, 15, -1], np.int64)
    has = starts >= 0
    s_ref = [i for i in np.flatnonzero(has) for _ in range(int(rng.integers(1, 4)))]
    s_edits = predict.Edits(np.array(s_ref, np.int64), rng.integers(0, sub_len, len(s_ref)),
                            rng.integers(0, 5, (len(s_ref), 1)).astype(np.uint8), np.ones(len(s_ref), np.int64))
    got, sub = predict.score_windows(mixed, regions, windows, edits, sub=predict.SubWindows(starts, sub_len, s_edits))
    plain = predict.score_windows(mixed, regions, windows, edits)
    assert np.array_equal(got.ref, plain.ref) and np.array_equal(got.alt, plain.alt)
    at = np.cumsum(has) - 1
    cut = predict.window_codes(regions, predict.RegionWindows(windows.region[has], windows.start[has] + starts[has],
                                                              np.full(int(has.sum()), sub_len)))
    alone = predict.score_edits(mixed, cut, predict.Edits(at[s_edits.ref_index], *s_edits[1:]))
    np.testing.assert_allclose(sub.ref[has], alone.ref, **TOL)
    np.testing.assert_allclose(sub.alt, alone.alt, **TOL)
    assert not np.allclose(sub.ref[has], predict.score(mixed, predict.window_codes(regions, windows))[has], **TOL)


def test_a_lone_windows_sub_window_with_the_same_edit_is_pooled_in_the_windows_sweep(mixed):
    """DeepFind's case: a lone window and its sub-window with one and the same edit (an SNV or a
    two-base edit inside the sub-window's interior) are pooled in one sweep
    (``cpu_edits._edit_apply_shared``): the window's scores stay bit for bit those without the
    sub-window, the sub-window's equal it scored alone within float32 rounding. An edit nearer the
    sub-window's end than a detector's length, and a sub-window edit other than the window's, take
    the separate pools (the same checks)."""
    rng = np.random.default_rng(11)
    n, w, ss, sn = 12, 61, 15, 31
    regions = encode_batch(random_seqs(rng, [w] * n, "ACGTN"))
    windows = predict.RegionWindows(np.arange(n), np.zeros(n, np.int64), np.full(n, w))
    # edits at the centre, off it, two bases, near the sub-window's ends, and (last two) a sub edit of their own
    at = np.array([30, 30, 28, 33, 30, 31, ss, ss + sn - 1, ss + 2, 40, 30, 30])
    k = np.array([1, 1, 1, 1, 2, 2, 1, 1, 1, 1, 1, 1])
    codes = rng.integers(0, 4, (n, 2)).astype(np.uint8)
    edits = predict.Edits(np.arange(n), at, codes, k)
    s_at, s_codes = at - ss, codes.copy()
    s_at[-2] += 1
    s_codes[-1, 0] = (codes[-1, 0] + 1) % 4
    s_edits = predict.Edits(np.arange(n), s_at, s_codes, k)
    got, sub = predict.score_windows(mixed, regions, windows, edits, sub=predict.SubWindows(np.full(n, ss), sn, s_edits))
    plain = predict.score_windows(mixed, regions, windows, edits)
    assert np.array_equal(got.ref, plain.ref) and np.array_equal(got.alt, plain.alt)
    alone_panel = predict.score_edits(mixed, regions, edits)
    assert np.array_equal(got.ref, alone_panel.ref) and np.array_equal(got.alt, alone_panel.alt)
    cut = encode_batch([s[ss : ss + sn] for s in random_seqs(np.random.default_rng(11), [w] * n, "ACGTN")])
    alone = predict.score_edits(mixed, cut, s_edits)
    np.testing.assert_allclose(sub.ref, alone.ref, **TOL)
    np.testing.assert_allclose(sub.alt, alone.alt, **TOL)
    assert not np.allclose(sub.alt, got.alt, **TOL)  # the sub-window's own scores, not the window's


def test_dense_windows_of_a_long_region_equal_full_passes(mixed):
    """Many overlapping windows of one long region (the range-maximum table spans many blocks and
    sparse-table levels), windows shorter than, as long as and longer than the detectors, windows at
    both region ends and sharing boundaries, edits at window starts and ends (where they touch the
    edge positions), longer than a detector, and several a window."""
    rng = np.random.default_rng(11)
    regions = encode_batch(random_seqs(rng, [1500, 700], "ACGT") + random_seqs(rng, [300], "ACGTN"))
    w_region, w_start, w_len = [], [], []
    for r, n in enumerate(regions.lengths):
        n = int(n)
        for s in range(0, n - 1, 3):  # dense: a window every 3 bases, lengths 1 .. 121
            w = int(rng.choice([1, 2, 4, 6, 7, 8, 9, 31, 101, 121]))
            w = min(w, n - s)
            w_region.append(r), w_start.append(s), w_len.append(w)
        for s, w in [(0, n), (n - 101, 101), (0, 101), (100, 101), (199, 101)]:  # ends, shared boundaries
            w_region.append(r), w_start.append(s), w_len.append(w)
    windows = predict.RegionWindows(*(np.array(a, np.int64) for a in (w_region, w_start, w_len)))
    e_ref, e_start, e_len, e_codes = [], [], [], []
    kmax = 12
    for i, w in enumerate(windows.length):
        w = int(w)
        for st in {0, w - 1, w // 2, int(rng.integers(w))}:  # window start, end, centre, anywhere
            k = int(rng.integers(1, min(kmax, w - st) + 1))
            e_ref.append(i), e_start.append(st), e_len.append(k)
            e_codes.append(np.pad(rng.integers(0, 5, k), (0, kmax - k)))
    edits = predict.Edits(np.array(e_ref, np.int64), np.array(e_start, np.int64), np.array(e_codes, np.uint8),
                          np.array(e_len, np.int64))
    assert len(windows.start) > 800 and (edits.lengths > 9).any()  # longer than the detectors of ``mixed``
    check_against_full_passes(mixed, regions, windows, edits)


def test_range_maxima_equal_numpy_for_every_range():
    from varbind.predict.kernels.cpu_regions import _RB, _range_max, _range_max_block

    rng = np.random.default_rng(5)
    npos, blk = 7 * _RB + 5, 8  # a partial last block
    raw = rng.standard_normal((npos, blk)).astype(np.float32)
    nbk = -(-npos // _RB)
    levels = int(np.floor(np.log2(nbk))) + 1
    inpre, insuf = np.empty_like(raw), np.empty_like(raw)
    sp = np.empty((levels, nbk, blk), np.float32)
    for q0 in range(0, npos, _RB):
        _range_max_block(raw, q0, min(q0 + _RB, npos), inpre, insuf, sp)
    for lo in range(npos):
        for hi in range(lo + 1, npos + 1):
            mx = np.full(blk, -np.inf, np.float32)
            _range_max(mx, raw, inpre, insuf, sp, lo, hi)
            np.testing.assert_array_equal(mx, raw[lo:hi].max(axis=0), err_msg=f"[{lo}, {hi})")
    mx = np.full(blk, 7.0, np.float32)  # an empty range leaves mx as it is
    _range_max(mx, raw, inpre, insuf, sp, 3, 3)
    assert (mx == 7.0).all()


def test_window_outside_its_region_is_refused(mixed):
    regions = encode_batch(["ACGTACGT"])
    windows = predict.RegionWindows(np.array([0]), np.array([5]), np.array([4]))
    with pytest.raises(ValueError, match=r"window 0 \[5, 9\) does not fit its region of length 8"):
        predict.score_windows(mixed, regions, windows, predict.Edits(*(np.zeros(0, np.int64),) * 2,
                                                                     np.zeros((0, 1), np.uint8), np.zeros(0, np.int64)))


def test_cluster_windows_by_overlap_and_cap():
    c = cluster_windows(np.array([0, 40, 250, 270, 700, -40]), np.array([101] * 6), max_new=0.4, cap=500)
    # -40..61, 0..101 (adds 40 bases) and 40..141 (adds 40) join; 250 is disjoint, 270 adds 20
    assert c.region.tolist() == [0, 0, 1, 1, 2, 0]
    assert c.lo.tolist() == [-40, 250, 700] and c.hi.tolist() == [141, 371, 801]
    # at most max_new * length new bases joins, one more does not
    assert cluster_windows(np.array([0, 50]), np.array([100, 100]), max_new=0.5).region.tolist() == [0, 0]
    assert cluster_windows(np.array([0, 51]), np.array([100, 100]), max_new=0.5).region.tolist() == [0, 1]
    # the cap splits a chain of overlapping windows
    c = cluster_windows(np.arange(0, 1000, 10), np.full(100, 101), cap=301)
    assert c.lo.tolist() == [0, 210, 420, 630, 840]
    # a window longer than the cap is a region of its own
    c = cluster_windows(np.array([0, 5, 10]), np.array([10, 600, 10]), max_new=1.0, cap=100)
    assert c.region.tolist() == [0, 1, 2] and (c.hi - c.lo).tolist() == [10, 600, 10]


def test_clusters_hold_their_windows_within_the_cap():
    rng = np.random.default_rng(3)
    start = rng.integers(-50, 20_000, 500)
    length = rng.integers(1, 150, 500)
    c = cluster_windows(start, length, max_new=0.8, cap=1000)
    assert (c.lo[c.region] <= start).all() and (start + length <= c.hi[c.region]).all()
    assert (c.hi - c.lo <= 1000).all() and (np.diff(c.lo) > 0).all()  # regions may overlap where the cap cut


def chunk_windows(seq: str, sites, w: int, policy: str = "skip"):
    pad = np.full(len(seq) + 2 * w, 4, np.uint8)
    from varbind.annotate.windows import encode_allele

    pad[w:-w] = encode_allele(seq)

    def genome(a, b):
        return pad[a + w : b + w]

    return genome, build_windows(sites, genome, w, policy, len(seq), Counter())


@pytest.mark.parametrize("spacing", [3, 40, 400])
def test_chunk_scores_equal_score_edits_at_any_density(spacing):
    rng = np.random.default_rng(spacing)
    seq = random_genome(rng, 3000)
    bank = tiny_bank()
    sites = [Site("c", 0, seq[0], ("A" if seq[0] != "A" else "C",))]
    for p in range(0, len(seq), spacing):  # contig edges included: windows padded with N at both ends
        p = min(p + int(rng.integers(spacing)), len(seq) - 4)
        r = seq[p : p + int(rng.integers(1, 4))]
        sites.append(Site("c", p, r, (r[0], "ACGT"[(("ACGT".index(r[0])) + 1) % 4], r + "GT")))
    sites.append(Site("c", len(seq) - 1, seq[-1], ("A" if seq[-1] != "A" else "C",)))
    sites = sorted(set(sites), key=lambda s: s.start)
    genome, win = chunk_windows(seq, sites, 51)
    assert (win.genome_start < 0).any() and (win.genome_start + 51 > len(seq)).any()
    got = score_global(bank, win, genome)
    want = predict.score_edits(bank, win.refs, win.edits)
    np.testing.assert_allclose(got.ref, want.ref, **TOL)
    np.testing.assert_allclose(got.alt, want.alt, **TOL)


def test_use_vcf_windows_go_through_score_edits_and_keep_their_order():
    rng = np.random.default_rng(9)
    seq = random_genome(rng, 500)
    other = {b: "ACGT"[("ACGT".index(b) + 2) % 4] for b in "ACGT"}
    sites = [Site("c", p, seq[p] if p % 3 else other[seq[p]], (other[seq[p]] if p % 3 else seq[p], "T"))
             for p in range(5, 495, 7)]
    genome, win = chunk_windows(seq, sites, 31, policy="use-vcf")
    assert (win.genome_start == NOT_GENOME).any() and (win.genome_start != NOT_GENOME).any()
    got = score_global(tiny_bank(), win, genome)
    want = predict.score_edits(tiny_bank(), win.refs, win.edits)
    np.testing.assert_allclose(got.ref, want.ref, **TOL)
    np.testing.assert_allclose(got.alt, want.alt, **TOL)


@pytest.mark.data
def test_real_hg19_chunk_equals_score_edits(deepbind_dir):
    avinput = shared("data", "deepfind", "derived.avinput.gz")
    fasta = _fasta(str(shared("data", "genome", "hg19_sparse.fa.gz")))
    with gzip.open(avinput, "rt") as f:
        rows = [next(f).split("\t") for _ in range(300)]
    sites = sorted({Site("chr" + r[0], int(r[1]) - 1, r[3], (r[4],)) for r in rows if r[0] == "1"},
                   key=lambda s: s.start)
    from varbind.panels import deepbind_db

    ids, params = deepbind_db.load_params(deepbind_dir, ["D00001.001", "D00210.001", "D00328.003", "D00817.001"])
    bank = ModelBank.from_params(params, ids)

    def genome(a, b):
        return fasta.codes("chr1", a, b)

    win = build_windows(sites, genome, 101, "skip", fasta.lengths["chr1"], Counter())
    assert len(win.site) > 100
    got = score_global(bank, win, genome)
    want = predict.score_edits(bank, win.refs, win.edits)
    np.testing.assert_allclose(got.ref, want.ref, **TOL)
    np.testing.assert_allclose(got.alt, want.alt, **TOL)
    assert isinstance(win.refs, CodeBatch)
