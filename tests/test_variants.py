"""Windows around variants: lengths, centring, N padding, edits, skip reasons, REF policies."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from varbind import predict
from varbind.annotate.variants import Settings, score_chunk
from varbind.errors import RefMismatchError
from varbind.sequence import decode
from varbind.annotate.windows import Site, allele_reason, allele_window, build_windows, encode_allele

from .annotate_helpers import random_genome, tiny_bank, write_fasta

GENOME = "ACGTTGCAAC" * 6  # 60 bases


def genome(lo: int, hi: int) -> np.ndarray:
    """Reference implementation of N padding: string slicing with N outside [0, 60)."""
    return encode_allele("".join(GENOME[i] if 0 <= i < len(GENOME) else "N" for i in range(lo, hi)))


def window_by_hand(start: int, ref: str, allele: str, w: int) -> str:
    """The documented rule written out with strings: (W-k)//2 bases left, the allele, the rest right."""
    left = (w - len(allele)) // 2
    pad = "N" * w
    g = pad + GENOME + pad
    s = start + w
    return g[s - left : s] + allele + g[s + len(ref) : s + len(ref) + w - len(allele) - left]


@pytest.mark.parametrize("start,ref,alt", [(30, "A", "G"), (30, "AC", "TT"), (30, "A", "ATTG"), (30, "ACGTT", "A"),
                                           (0, "A", "C"), (1, "C", "CAAAAAA"), (58, "A", "T"), (55, "GCAAC", "G")])
@pytest.mark.parametrize("w", [11, 12, 21])
def test_windows_follow_the_documented_rule(start, ref, alt, w):
    ref = GENOME[start : start + len(ref)]
    ref_w = decode(allele_window(genome, start, len(ref), encode_allele(ref), w))
    alt_w = decode(allele_window(genome, start, len(ref), encode_allele(alt), w))
    assert len(ref_w) == len(alt_w) == w
    assert ref_w == window_by_hand(start, ref, ref, w)
    assert alt_w == window_by_hand(start, ref, alt, w)
    # centred: the allele starts (w - k) // 2 bases in
    assert alt_w[(w - len(alt)) // 2 :].startswith(alt)


def test_edits_rebuild_the_alt_windows_and_alts_share_the_ref():
    sites = [Site("c", 20, GENOME[20], ("G", "GTT", "T")), Site("c", 40, GENOME[40:43], (GENOME[40], "CCC")),
             Site("c", 59, GENOME[59], ("A",))]
    win = build_windows(sites, genome, 15)
    assert len(win.refs.lengths) == 3 and len(win.site) == 6
    alts = predict.apply_edits(win.refs, win.edits)
    for e in range(6):
        s = sites[win.site[e]]
        want = window_by_hand(s.start, s.ref, s.alts[win.allele[e]], 15)
        assert decode(alts.codes[e]) == want
    # an SNV's edit is one base; the ref window of site 0 is shared by its three ALTs
    assert win.edits.lengths[0] == 1 and set(win.edits.ref_index[:3]) == {0}


def test_skip_reasons():
    w = 11
    assert [allele_reason("A", a, w) for a in ["<DEL>", "<*>", "A[1:5[", "]1:5]A", "A.", ".A", "*", ".", "Y", "ACGN"]] == [
        "symbolic", "symbolic", "breakend", "breakend", "breakend", "breakend", "star", "no_alt", "iupac", None]
    assert allele_reason("R", "A", w) == "iupac"
    assert allele_reason("A" * 12, "A", w) == "too_long" and allele_reason("A", "A" * 11, w) is None
    sites = [Site("c", 10, GENOME[10], ()), Site("c", 10, GENOME[10], ("<DEL>", "G")), Site("c", -1, "A", ("C",)),
             Site("c", 58, GENOME[58:60] + "A", ("A",))]
    win = build_windows(sites, genome, w, contig_length=60)
    assert win.skipped == {(0, -1): "no_alt", (1, 0): "symbolic", (2, 0): "pos0", (3, 0): "beyond_contig"}
    assert win.site.tolist() == [1] and win.allele.tolist() == [1]
    missing = build_windows(sites[1:2], None, w)
    assert set(missing.skipped.values()) == {"contig_missing"}


def test_ref_policies_and_swaps():
    base = GENOME[10]  # 'G'
    other = "A" if base != "A" else "C"
    sites = [Site("c", 10, other.lower(), ("T",)), Site("c", 10, other, (base,)), Site("c", 11, GENOME[11].lower(), ("G",))]
    counts = Counter()
    win = build_windows(sites, genome, 11, "skip", counts=counts)
    assert win.skipped == {(0, 0): "ref_mismatch", (1, 0): "ref_alt_swap"}
    assert counts == {"ref_mismatch": 1, "ref_alt_swap": 1}
    assert win.site.tolist() == [2]  # lower-case REF that matches is fine
    used = build_windows(sites[:1], genome, 11, "use-vcf")
    assert decode(used.refs.codes[0])[5] == other
    with pytest.raises(RefMismatchError, match=r"c:11: REF .* differs from the FASTA"):
        build_windows(sites, genome, 11, "error")


@pytest.mark.parametrize("mode", ["global", "deepbind"])
def test_chunk_scores_equal_predict_score_on_hand_built_windows(tmp_path, mode):
    rng = np.random.default_rng(5)
    seq = random_genome(rng, 400)
    fa = write_fasta(tmp_path / "g.fa", {"c": seq})
    sites = [Site("c", 3, seq[3], ("A", "C")), Site("c", 100, seq[100:103], (seq[100], "GGGG")),
             Site("c", 200, seq[200:202], ("TA",)), Site("c", 397, seq[397], (seq[397] + "TT",))]
    bank = tiny_bank()
    w = 31
    scores, skipped, _ = score_chunk(sites, str(fa), "c", bank, Settings(window=w, mode=mode))
    assert not skipped and len(scores.site) == 6
    pad = "N" * w
    g = pad + seq + pad
    refs, alts = [], []
    for s_i, a_i in zip(scores.site, scores.allele):
        s = sites[s_i]
        for allele, out in ((s.ref, refs), (s.alts[a_i], alts)):
            left = (w - len(allele)) // 2
            p = s.start + w
            out.append(g[p - left : p] + allele + g[p + len(s.ref) : p + len(s.ref) + w - len(allele) - left])
    np.testing.assert_allclose(scores.ref, predict.score(bank, refs, mode=mode), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scores.alt, predict.score(bank, alts, mode=mode), rtol=1e-5, atol=1e-5)


def test_snv_fast_path_builds_exactly_what_the_general_path_builds(monkeypatch):
    """Chunks of plain SNVs take an array path; it must equal the per-site path field for field."""
    from varbind.annotate import windows as V

    rng = np.random.default_rng(4)
    genome = rng.integers(0, 4, size=20_000).astype(np.uint8)

    def fetch(a: int, b: int) -> np.ndarray:
        out = np.full(b - a, 4, np.uint8)
        lo, hi = max(a, 0), min(b, len(genome))
        if lo < hi:
            out[lo - a : hi - a] = genome[lo:hi]
        return out

    bases = "ACGT"
    pos = np.sort(rng.choice(np.arange(len(genome)), 300, replace=False))
    sites = [V.Site("c", int(p), bases[genome[p]], (bases[(genome[p] + 1) % 4],)) for p in pos]
    g3, end = int(genome[3]), len(genome) - 2
    sites += [V.Site("c", 3, bases[g3].lower(), (bases[(g3 + 1) % 4], bases[(g3 + 2) % 4])),  # multi-allelic
              V.Site("c", 3, bases[g3], (bases[(g3 + 3) % 4],)),  # same position again
              V.Site("c", end, bases[genome[end]], (bases[(genome[end] + 1) % 4],))]  # N-padded edge
    fast = V._snv_windows(sites, fetch, 51, len(genome))
    assert fast is not None
    monkeypatch.setattr(V, "_snv_windows", lambda *a: None)
    slow = V.build_windows(sites, fetch, 51, contig_length=len(genome))
    np.testing.assert_array_equal(fast.refs.codes, slow.refs.codes)
    for name in ("site", "allele", "genome_start"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name))
    for name in fast.edits._fields:
        np.testing.assert_array_equal(getattr(fast.edits, name), getattr(slow.edits, name))
    assert fast.skipped == slow.skipped == {}


@pytest.mark.parametrize("site", [("c", 5, "A", ("AT",)), ("c", 5, "A", ("<DEL>",)), ("c", 5, "A", ("N",)),
                                  ("c", 5, "C", ("T",)), ("c", 5, "A", ())])
def test_snv_fast_path_leaves_anything_else_to_the_general_path(site):
    from varbind.annotate import windows as V

    genome = np.zeros(100, np.uint8)  # all A
    padded = lambda a, b: np.concatenate([np.full(max(0, -a), 4, np.uint8), genome[max(a, 0):b]])  # noqa: E731 (N before the contig)
    assert V._snv_windows([V.Site("c", 1, "A", ("G",)), V.Site(*site)], padded, 11, 100) is None
