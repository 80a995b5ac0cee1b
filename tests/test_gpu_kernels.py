"""The GPU's fast paths against the CPU kernels and the reference implementation (need CUDA + Triton).

The Triton SNV kernel scores each single-base substitution in its reference's own pass; these tests
draw single-base edits only (multi-base edits take another path), including N as the new base, N in
the references, edits at the first and last base, and every model architecture.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from varbind.predict.kernels import triton_tiles as _tiles
from varbind import device as vdevice
from varbind import predict
from varbind.bank import ModelBank
from varbind.params import random_params
from varbind.sequence import decode, encode_batch

from . import refimpl
from .test_annotate_parallel import _text, cut  # noqa: F401 (a fixture)
from .test_annotate_pipeline import W, calibrated_panel, genome_world  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not (torch.cuda.is_available() and vdevice.have_triton()),
                                                  reason="needs a CUDA device and Triton")]

ARCHS = [dict(detector_len=m, num_detectors=16, has_avg_pooling=avg, num_hidden=h, reverse_complement=rc)
         for m, avg, h, rc in [(6, True, 0, True), (11, False, 32, False), (20, True, 32, True), (24, False, 0, True),
                               (33, True, 0, False)]]


def bank_of(seed: int) -> ModelBank:
    return ModelBank.from_params([random_params(**a, seed=seed + i) for i, a in enumerate(ARCHS)],
                                 [f"m{i}" for i in range(len(ARCHS))])


def snv_batch(rng: np.random.Generator, n_refs: int, n_edits: int):
    lengths = rng.integers(5, 130, n_refs)
    seqs = ["".join(rng.choice(list("ACGTN"), p=[0.24, 0.24, 0.24, 0.24, 0.04], size=int(n))) for n in lengths]
    refs = encode_batch(seqs)
    ref_index = rng.integers(0, n_refs, n_edits)
    n = refs.lengths[ref_index]
    start = np.where(rng.random(n_edits) < 0.1, 0, np.where(rng.random(n_edits) < 0.1, n - 1,
                                                             rng.integers(0, n)))
    codes = rng.integers(0, 5, (n_edits, 1)).astype(np.uint8)
    return refs, predict.Edits(ref_index.astype(np.int64), start.astype(np.int64), codes, np.ones(n_edits, np.int64))


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float((np.abs(a - b) / np.maximum(1.0, np.abs(b))).max())


@pytest.mark.parametrize("seed", [0, 1])
def test_triton_snv_kernel_equals_numba_and_the_reference(seed):
    rng = np.random.default_rng(seed)
    bank = bank_of(seed)
    refs, edits = snv_batch(rng, 300, 1200)
    gpu = predict.score_edits(bank, refs, edits, device="cuda")
    cpu = predict.score_edits(bank, refs, edits, device="cpu")
    # float32 sums in another order (the GPU splits each weight into two float16 parts): scores of
    # these random models reach |40|; a wrong position, base or pool is off by O(1)
    assert rel(gpu.alt, cpu.alt) < 1e-4 and rel(gpu.ref, cpu.ref) < 1e-4
    # the reference: plain numpy, one model, one sequence at a time
    alt_seqs = predict.apply_edits(refs, edits)
    for e in rng.choice(len(edits.start), 25, replace=False):
        seq = decode(alt_seqs.codes[e, : alt_seqs.lengths[e]])
        want = [refimpl.score_global(p, seq) for p in bank.params]
        assert rel(gpu.alt[e], np.array(want)) < 1e-4, (e, gpu.alt[e], want)


@pytest.mark.parametrize("window,centre,length", [(101, 25, 51), (61, 15, 31)])
def test_subwindow_scores_come_from_the_same_pass(window, centre, length):
    """``score_snvs_with_subwindow``: the panel's scores are those of ``score_edits`` within float32
    rounding (1.9e-6 of these random models' scores at most on the H200; some positions are computed in tiles of another shape, whose tensor-core sums round
    differently, and the mean pools sum over other tiles); the shorter
    window's equal scoring it on its own (DeepFind's 51 bp in 101, and 31 in 61 where the m = 33
    detectors reach past the shorter window at the substitution too), N in the sequence and as the
    new base included; a multi-base edit is scored as score_edits does."""
    rng = np.random.default_rng(window)
    bank = bank_of(3).to("cuda")
    seqs = ["".join(rng.choice(list("ACGTN"), p=[0.24, 0.24, 0.24, 0.24, 0.04], size=window)) for _ in range(200)]
    refs = encode_batch(seqs)
    mid = (window - 1) // 2
    n = 600
    edits = predict.Edits(rng.integers(0, 200, n).astype(np.int64), np.full(n, mid, np.int64),
                          rng.integers(0, 5, (n, 1)).astype(np.uint8), np.ones(n, np.int64))
    edits.start[:5] = np.arange(5)  # shorter windows that do not fit: rows undefined, not checked
    full, sub = predict.score_snvs_with_subwindow(bank, refs, edits, centre, length)
    plain = predict.score_edits(bank, refs, edits, to_host=False)
    # features within float32 rounding, times these random models' hidden layers (scores to |130|)
    assert rel(full.ref.cpu().numpy(), plain.ref.cpu().numpy()) < 5e-6
    assert rel(full.alt.cpu().numpy(), plain.alt.cpu().numpy()) < 5e-6
    off = mid - centre
    cut = encode_batch([q[off : off + length] for q in seqs])
    own = predict.score_edits(bank, cut, predict.Edits(edits.ref_index, np.full(n, centre, np.int64), edits.codes,
                                                       edits.lengths))
    fit = slice(5, None)
    assert rel(sub.ref.cpu().numpy()[fit], own.ref[edits.ref_index][fit]) < 1e-5
    assert rel(sub.alt.cpu().numpy()[fit], own.alt[fit]) < 1e-5
    # with a two-base edit among them: that one as score_edits scores it, its sub rows NaN
    mixed = predict.Edits(edits.ref_index, edits.start, np.concatenate([edits.codes, edits.codes], 1),
                          edits.lengths.copy())
    mixed.lengths[7] = 2
    full2, sub2 = predict.score_snvs_with_subwindow(bank, refs, mixed, centre, length)
    want = predict.score_edits(bank, refs, mixed, to_host=False)
    assert torch.equal(full2.alt[7], want.alt[7]) and torch.isnan(sub2.alt[7]).all()
    assert torch.equal(full2.alt, full.alt.index_copy(0, torch.tensor([7], device=full.alt.device), want.alt[7:8]))
    assert torch.equal(sub2.alt[8:], sub.alt[8:])


@pytest.mark.parametrize("window,centre,length", [(101, 25, 51), (61, 15, 31)])
def test_subwindow_features_off_centre_and_near_the_ends(window, centre, length, device="cuda"):
    """The SNV kernel's features with a sub-window, the substitution up to 3 bases off the panel
    window's centre (the tiles of the sub-window's interior move with it) and some at the first and
    last bases (the sub-window reaches past the reference: its rows are undefined, the panel's must
    not be): the panel's max pools and mean pools (models with average pooling) are the plain
    kernel's within float32 rounding; the sub-window's features are those of the cut window scored
    on its own. N in the sequence and as the new base."""
    from varbind.predict._core import _pad
    from varbind.predict.kernels import triton_ops, triton_snv

    rng = np.random.default_rng(window + 7)
    bank = bank_of(5).to(device)
    n_refs, n = 64, 256
    codes = torch.from_numpy(rng.choice(5, p=[0.24, 0.24, 0.24, 0.24, 0.04], size=(n_refs, window)).astype(np.uint8))
    e_ref = torch.from_numpy(rng.integers(0, n_refs, n))
    e_pos = torch.from_numpy((window - 1) // 2 + rng.integers(-3, 4, n))
    e_pos[:8] = torch.tensor([0, 1, 2, 3, window - 1, window - 2, window - 3, window - 4])
    e_new = torch.from_numpy(rng.integers(0, 5, n))
    cut = torch.stack([codes[r, p - centre : p - centre + length] for r, p in zip(e_ref[8:].tolist(), e_pos[8:].tolist())])
    lengths = torch.full((n_refs,), window, device=device)
    dev = lambda t: t.to(device)  # noqa: E731
    for g in bank.groups:
        w = triton_ops.weights(g)
        got = triton_snv.snv_pool(_pad(dev(codes).long(), g.m), lengths, dev(e_ref), dev(e_pos), dev(e_new), w, g.thr,
                                  g.m, g.slots, g.d, sub=(centre, length)).cpu()
        plain = triton_snv.snv_pool(_pad(dev(codes).long(), g.m), lengths, dev(e_ref), dev(e_pos), dev(e_new), w,
                                    g.thr, g.m, g.slots, g.d).cpu()
        own = triton_snv.snv_pool(_pad(dev(cut).long(), g.m), torch.full((n - 8,), length, device=device),
                                  dev(torch.arange(n - 8)), torch.full((n - 8,), centre, device=device), dev(e_new[8:]),
                                  w, g.thr, g.m, g.slots, g.d).cpu()
        d = g.d
        avg = torch.unique(w.slot[(w.avg > 0) & (w.slot >= 0)]).cpu()
        rows = np.r_[2 * n + 8 : 3 * n, 3 * n + 8 : 4 * n]  # the sub-window's rows (reference, edit) that fit
        assert rel(got[:, : 2 * n, :d].numpy(), plain[..., :d].numpy()) < 1e-6, g.m
        assert rel(got[:, rows, :d].numpy(), own[..., :d].numpy()) < 1e-5, g.m
        if len(avg):  # the mean pools of models without average pooling are not used
            assert rel(got[avg, : 2 * n, d:].numpy(), plain[avg, :, d:].numpy()) < 1e-6, g.m
            assert rel(got[avg][:, rows, d:].numpy(), own[avg][..., d:].numpy()) < 1e-5, g.m


@pytest.mark.skipif(not torch.cuda.is_available() or _tiles.table_for(torch.cuda.get_device_name()) is None,
                    reason="batch-independent only with a shipped tile table (the autotuner may pick by batch size)")
def test_snv_scores_do_not_depend_on_the_batch():
    rng = np.random.default_rng(5)
    bank = bank_of(5)
    refs, edits = snv_batch(rng, 200, 3000)
    whole = predict.score_edits(bank, refs, edits, device="cuda")
    pieces = predict.score_edits(bank, refs, edits, device="cuda", batch_size=257)
    assert np.array_equal(whole.alt, pieces.alt) and np.array_equal(whole.ref, pieces.ref)

@pytest.mark.parametrize("strand_merge", ["max", "mean", "forward"])
def test_fused_heads_equal_the_torch_heads_and_do_not_depend_on_the_rows_beside(strand_merge):
    # the dense layers and strand merge in one kernel (triton_heads) against the torch heads of the
    # CPU path: linear and hidden-layer models (32 and 20 units), with and without average pooling
    # and reverse-complement models, 8 and 16 detectors
    from varbind.predict._core import _heads, _merge
    from varbind.predict.kernels import triton_heads

    archs = [dict(num_detectors=8 if i % 5 == 0 else 16, detector_len=6, num_hidden=[0, 32, 20][i % 3],
                  reverse_complement=i % 4 != 1, has_avg_pooling=i % 2 == 0) for i in range(12)]
    bank = ModelBank.from_params([random_params(**a, seed=i) for i, a in enumerate(archs)],
                                 [f"m{i}" for i in range(len(archs))]).to("cuda")
    assert {p.num_hidden for p in bank.params} == {0, 20, 32} and len(bank.groups) == 2
    rng = np.random.default_rng(3)
    for g in bank.groups:
        feats = torch.from_numpy(rng.normal(0, 2, (g.slots, 1000, 2 * g.d)).astype(np.float32)).cuda()
        want = _merge(*_heads(g, feats), strand_merge).cpu().numpy()
        out = torch.full((1010, len(bank)), float("nan"), device="cuda")
        triton_heads.heads_into(g, feats, out, strand_merge, row0=5)
        got = out.cpu().numpy()
        assert np.isnan(got[:5]).all() and np.isnan(got[1005:]).all()
        assert rel(got[5:1005][:, g.models], want) < 1e-5  # a wrong weight, unit or strand is off by O(1)
        # rows 200-236 scored on their own: the same bits
        few = torch.zeros((37, len(bank)), device="cuda")
        triton_heads.heads_into(g, feats[:, 200:237].contiguous(), few, strand_merge)
        assert np.array_equal(few.cpu().numpy()[:, g.models], got[205:242][:, g.models])


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_the_second_gpu_scores_from_a_thread_whose_current_device_is_the_first():
    # the scoring service's thread for GPU 1 (and a user's `--device cuda:1`) launches Triton
    # kernels while the thread's current device is GPU 0; both GPUs at once, from two threads
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(6)
    bank = bank_of(6)
    refs, edits = snv_batch(rng, 200, 2000)
    torch.cuda.set_device(0)
    with ThreadPoolExecutor(2) as pool:
        got = list(pool.map(lambda d: predict.score_edits(bank, refs, edits, device=d), ["cuda:0", "cuda:1"] * 2))
    assert all(np.array_equal(g.alt, got[0].alt) and np.array_equal(g.ref, got[0].ref) for g in got[1:])



def test_mixed_edits_take_the_snv_kernel_for_snvs_and_agree_with_the_cpu():
    rng = np.random.default_rng(9)
    bank = bank_of(9)
    refs, snvs = snv_batch(rng, 100, 400)
    long = predict.Edits(snvs.ref_index[:50], np.zeros(50, np.int64), rng.integers(0, 4, (50, 3)).astype(np.uint8),
                         np.full(50, 3, np.int64))
    k = 3
    codes = np.full((450, k), 4, np.uint8)
    codes[:400, :1], codes[400:] = snvs.codes, long.codes
    edits = predict.Edits(np.concatenate([snvs.ref_index, long.ref_index]), np.concatenate([snvs.start, long.start]),
                          codes, np.concatenate([snvs.lengths, long.lengths]))
    ok = edits.start + edits.lengths <= refs.lengths[edits.ref_index]
    edits = predict.Edits(*(x[ok] for x in edits))
    gpu = predict.score_edits(bank, refs, edits, device="cuda")
    cpu = predict.score_edits(bank, refs, edits, device="cpu")
    assert rel(gpu.alt, cpu.alt) < 1e-4 and rel(gpu.ref, cpu.ref) < 1e-4


def test_bank_is_placed_once_and_keeps_its_triton_layout():
    bank = bank_of(2)
    a, b = bank.to("cuda"), bank.to("cuda:0")
    from varbind.predict.kernels import triton_ops  # needs Triton: imported here, on the GPU
    assert a is b and triton_ops.weights(a.groups[0]) is triton_ops.weights(b.groups[0])


def test_device_names_resolve():
    assert vdevice.resolve("auto").type == "cuda" and vdevice.resolve(None).type == "cuda"
    assert vdevice.resolve("cuda") == torch.device("cuda", torch.cuda.current_device())
    with pytest.raises(Exception, match="CUDA devices"):
        vdevice.resolve(f"cuda:{torch.cuda.device_count()}")


def test_top_selection_on_the_gpu_equals_the_host_one():
    """What annotate's scoring stage keeps on a GPU (topk.select_on) is what the host's select gives."""
    from varbind.annotate.topk import select, select_on

    rng = np.random.default_rng(5)
    ref = rng.normal(size=(5000, 927)).astype(np.float32)
    alt = ref + rng.normal(size=ref.shape).astype(np.float32)
    alt[::3, :40] = ref[::3, :40] + np.float32(0.25)  # ties at and across the k-th place
    spread = rng.uniform(0.1, 4.0, 927)
    spread[::50] = np.nan  # models without null tables
    for s in (spread, None):
        want, got = select(ref, alt, 5, s), select_on("cuda", ref, alt, 5, s)
        assert np.array_equal(got.index, want.index)
        for field in ("ref", "alt", "delta", "effect", "gain", "loss"):
            assert np.array_equal(getattr(got, field), getattr(want, field), equal_nan=True), field
        np.testing.assert_allclose(got.panel, want.panel, rtol=1e-12, equal_nan=True)


def test_annotate_on_the_gpu_writes_the_same_info_with_and_without_full_tables(tmp_path):
    """INFO from the GPU-side selection (no --scores) equals INFO from the full (E, M) tables on the
    host (taken when --scores is written), on a random genome with a calibrated panel."""
    from varbind import annotate

    from .annotate_helpers import random_genome, write_fasta, write_vcf

    rng = np.random.default_rng(2)
    g = random_genome(rng, 40000)
    fa = write_fasta(tmp_path / "g.fa", {"chr1": g})
    other = {b: [c for c in "ACGT" if c != b] for b in "ACGT"}
    pos = sorted(set(rng.integers(60, 39900, 500).tolist()))
    vcf = write_vcf(tmp_path / "v.vcf", [f"chr1\t{p + 1}\t.\t{g[p]}\t{other[g[p]][p % 3]}\t.\t.\t." for p in pos], {"chr1": 40000})
    bodies = []
    for scores in (None, tmp_path / "s.parquet"):
        path = tmp_path / f"o{scores is None}.vcf"
        annotate.annotate_vcf(str(vcf), str(fa), str(path), calibrated_panel(),
                              settings=annotate.Settings(window=41, device="cuda"),
                              scores=None if scores is None else str(scores))
        bodies.append([ln for ln in path.read_text().splitlines() if not ln.startswith("##")])
    assert bodies[0] == bodies[1] and sum("VARBIND=" in b for b in bodies[0]) > 400


def test_the_scoring_service_on_the_gpu_writes_the_text_of_one_process(genome_world, tmp_path, cut,  # noqa: F811
                                                                        monkeypatch):
    """Three host workers send parts of ~40 records to the parent, whose two scoring threads each
    score on a CUDA stream of their own (:mod:`varbind.annotate.service`): the same VCF text and
    summary as one process, and no task scored on the default stream, where the warm-up placed the panel."""
    from varbind import annotate
    from varbind.annotate import service

    streams = []
    real = service.pipeline.score

    def score(*args, **kw):
        streams.append(torch.cuda.current_stream().cuda_stream)
        return real(*args, **kw)

    monkeypatch.setattr(service.pipeline, "score", score)
    panel = calibrated_panel()
    texts, summaries = [], []
    for workers in (1, 3):
        out = tmp_path / f"o{workers}.vcf.gz"
        streams.clear()  # one process scores on the default stream
        summaries.append(annotate.annotate_vcf(str(genome_world["vcf"]), str(genome_world["fa"]), str(out), panel,
                                               settings=annotate.Settings(window=W, device="cuda"),
                                               host_workers=workers)._replace(output="", index=None))
        texts.append(_text(out))
    assert cut == [3]  # the second run went through the workers and the service
    assert texts[0] == texts[1] and summaries[0] == summaries[1] and summaries[0].records > 150
    assert len(streams) >= 2 and torch.cuda.default_stream().cuda_stream not in streams
