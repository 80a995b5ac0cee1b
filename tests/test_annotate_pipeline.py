"""The annotate pipeline (tasks of chunks, reader/scorer/writer threads) gives what the per-chunk
path gave, bit for bit, whatever the task size; its helpers equal the plain ways they replace."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from varbind import annotate, deepfind, io, predict
from varbind.annotate import pipeline as annotate_pipeline
from varbind.annotate import stream as annotate_stream
from varbind.panels import nulls as percentiles
from varbind import device as vdevice
from varbind.annotate.deepfind import DeepFind
from varbind.annotate.topk import pair_percentiles, top_models
from varbind.panels.bundle import models_sha256
from varbind.errors import InputFormatError
from varbind.sequence import CodeBatch
from varbind.annotate.windows import Site, build_windows
from varbind.annotate.scoring import score_global

from .annotate_helpers import random_genome, tiny_bank, write_fasta, write_vcf

REPO = Path(__file__).resolve().parents[1]
W = 41


def random_deepfind(bank) -> DeepFind:
    """A DeepFind classifier with random weights on the tiny bank (scores-only features)."""
    torch.manual_seed(0)
    n = 2 * len(bank)
    cfg = deepfind.DeepFindConfig(kind="mlp", feature_set="scores", model_ids=list(bank.ids),
                                  panel_sha256=models_sha256(bank.ids, bank.params), n_features=n, hidden=[8])
    return DeepFind(deepfind.DeepFindModel(cfg, mlp=deepfind.MLP(n, (8,)).eval(), bank=bank), None, "random")


@pytest.fixture(scope="module")
def genome_world(tmp_path_factory):
    """Two contigs, one longer than a 1-Mb chunk bin; dense and sparse SNVs, indels, multi-allelic
    records and a REF that differs from the FASTA."""
    d = tmp_path_factory.mktemp("pipe")
    rng = np.random.default_rng(3)
    g1, g2 = random_genome(rng, 1_300_000), random_genome(rng, 4000)
    fa = write_fasta(d / "g.fa", {"chr1": g1, "chr2": g2})
    pos = sorted(set(rng.integers(50, 1_299_900, 150).tolist()) | set(range(999_950, 1_000_060, 7)))
    other = {b: [c for c in "ACGT" if c != b] for b in "ACGT"}
    rows = [f"chr1\t{p + 1}\t.\t{g1[p]}\t{other[g1[p]][p % 3]}\t.\t.\t." for p in pos]
    rows += [f"chr1\t{pos[3] + 1}\t.\t{g1[pos[3]]}\t{other[g1[pos[3]]][0]},{other[g1[pos[3]]][1]}\t.\t.\t.",
             f"chr1\t{pos[5] + 1}\t.\t{g1[pos[5]:pos[5] + 3]}\t{g1[pos[5]]}\t.\t.\t.",
             f"chr1\t{pos[7] + 1}\t.\t{other[g1[pos[7]]][0]}\t{other[g1[pos[7]]][1]}\t.\t.\t.",
             f"chr2\t11\t.\t{g2[10]}\t{other[g2[10]][2]}\t.\t.\t.", f"chr2\t3990\t.\t{g2[3989]}\tN\t.\t.\t."]
    rows.sort(key=lambda r: (r.split("\t")[0], int(r.split("\t")[1])))
    vcf = write_vcf(d / "in.vcf", rows, contigs={"chr1": len(g1), "chr2": len(g2)})
    return {"dir": d, "fa": fa, "vcf": vcf}


def chunks_of(world):
    reader = io.open_vcf(str(world["vcf"]))
    recs = ((r, Site(*io.site_of(r))) for b in io.read_batches(reader) for r in b)
    return [[s for _, s in c] for c in annotate.region_chunks(recs)]


def old_chunk_path(sites, fasta_path, bank, settings, df):
    """What ``score_chunk`` computed before the pipeline: one FASTA span a chunk, score_global, and
    DeepFind through ``predict_variants`` on its own windows."""
    fa = io.Fasta(fasta_path)
    contig, w = sites[0].chrom, settings.window
    lo, hi = min(s.start for s in sites) - w, max(s.start + len(s.ref) for s in sites) + w
    span = fa.codes(contig, lo, hi)
    genome = lambda a, b: span[a - lo : b - lo] if a >= lo and b <= hi else fa.codes(contig, a, b)  # noqa: E731
    win = build_windows(sites, genome, w, settings.ref_mismatch, fa.lengths[contig])
    r = score_global(bank, win, genome)
    probs = np.full(len(win.site), np.nan, np.float32)
    snv = [e for e in range(len(win.site)) if len(sites[win.site[e]].ref) == 1
           and sites[win.site[e]].alts[win.allele[e]] in ("A", "C", "G", "T")]
    half = df.model.config.window // 2
    ref_w = np.stack([genome(sites[win.site[e]].start - half, sites[win.site[e]].start + half + 1) for e in snv])
    alt_w = ref_w.copy()
    alt_w[:, half] = ["ACGT".index(sites[win.site[e]].alts[win.allele[e]]) for e in snv]
    lengths = np.full(len(snv), 2 * half + 1, np.int64)
    probs[snv] = df.model.predict_variants(CodeBatch(ref_w, lengths), CodeBatch(alt_w, lengths),
                                           np.full(len(snv), -1), np.zeros(len(snv), bool))
    return r.ref[win.edits.ref_index], r.alt, probs


def test_pipeline_equals_the_per_chunk_path_bit_for_bit(genome_world):
    bank = tiny_bank()
    df = random_deepfind(bank)
    settings = annotate.Settings(window=W, device="cpu")
    chunks = chunks_of(genome_world)
    assert len(chunks) >= 3  # two bins of chr1, and chr2
    task = [(c, c[0].chrom) for c in chunks if c[0].chrom == "chr1"]
    got = annotate_pipeline.score_task(task, str(genome_world["fa"]), bank, settings, df)
    for (sites, _), (scores, _, _) in zip(task, got):
        ref, alt, probs = old_chunk_path(sites, str(genome_world["fa"]), bank, settings, df)
        assert np.array_equal(scores.ref, ref) and np.array_equal(scores.alt, alt)
        assert np.array_equal(scores.deepfind, probs, equal_nan=True)
        assert np.isfinite(probs).sum() >= len(sites) - 3  # the SNVs got a probability


def test_deepfind_windows_take_the_panels_cpu_pass(genome_world, monkeypatch):
    """With the default 101-bp window, DeepFind's 51-bp windows are scored in the panel's pass
    (no second scoring call): the same probabilities as their own windows, within float32 rounding
    (bit for bit where the SNV's window is alone in its region)."""
    bank = tiny_bank()
    df = random_deepfind(bank)
    settings = annotate.Settings(window=101, device="cpu")
    task = [(c, c[0].chrom) for c in chunks_of(genome_world)]
    calls = []
    real = annotate_pipeline.predict.score_edits
    monkeypatch.setattr(annotate_pipeline.predict, "score_edits", lambda *a, **k: calls.append(a) or real(*a, **k))
    got = annotate_pipeline.score_task(task, str(genome_world["fa"]), bank, settings, df)
    assert calls == []
    same = 0
    for (sites, _), (scores, _, _) in zip(task, got):
        ref, alt, probs = old_chunk_path(sites, str(genome_world["fa"]), bank, settings, df)
        assert np.array_equal(scores.ref, ref) and np.array_equal(scores.alt, alt)
        np.testing.assert_allclose(scores.deepfind, probs, rtol=0, atol=1e-6)
        same += int((scores.deepfind == probs).sum())
        assert np.isfinite(probs).sum() >= len(sites) - 3
    assert same >= 100  # the lone windows' (most of the 150 sparse SNVs)


def _written_with(world, tmp_path, kind, set_up, values) -> list[bytes]:
    """The output bytes of the world's VCF annotated once after each ``set_up(value)``."""
    out = []
    for value in values:
        set_up(value)
        path = tmp_path / f"o{value}.{kind}"
        annotate.annotate_vcf(str(world["vcf"]), str(world["fa"]), str(path), annotate.resolve_panel(tiny_bank()),
                              settings=annotate.Settings(window=W, device="cpu"))
        out.append(path.read_bytes())
    return out


@pytest.mark.parametrize("kind", ["vcf.gz", "parquet"])
def test_output_does_not_depend_on_task_size(genome_world, tmp_path, monkeypatch, kind):
    out = _written_with(genome_world, tmp_path, kind, lambda v: monkeypatch.setattr(annotate_pipeline, "TASK_CPU", v),
                        (1, 10**6))
    assert out[0] == out[1] and len(out[0]) > 1000


@pytest.mark.parametrize("kind", ["vcf.gz", "bcf"])
def test_compressing_threads_write_the_same_bytes(genome_world, tmp_path, monkeypatch, kind):
    """htslib's compression threads (io.WRITER_THREADS) change who compresses, not what is written."""
    out = _written_with(genome_world, tmp_path, kind, lambda v: monkeypatch.setattr(io, "WRITER_THREADS", v), (1, 3))
    assert out[0] == out[1] and len(out[0]) > 1000


def test_stream_keeps_order_and_raises_a_stage_error():
    seen = []

    def write(task, results):
        seen.extend(results)

    tasks = [[[(None, Site("c", i, "A", ("C",)))]] for i in range(7)]
    orig = annotate_pipeline.prepare, annotate_pipeline.score
    try:
        annotate_pipeline.prepare = lambda sites, *a: sites[0].start
        annotate_pipeline.score = lambda items, *a: [x * 10 for x in items]
        annotate_stream.run(iter(tasks), lambda c: "c", "fa", None, None, None, write)
        assert seen == [0, 10, 20, 30, 40, 50, 60]

        def bad(items, *a):
            raise InputFormatError("boom")

        annotate_pipeline.score = bad
        with pytest.raises(InputFormatError, match="boom"):
            annotate_stream.run(iter(tasks), lambda c: "c", "fa", None, None, None, write)
    finally:
        annotate_pipeline.prepare, annotate_pipeline.score = orig


def test_gpu_runs_switch_threads_often_and_restore_the_interval(monkeypatch):
    """On a GPU the scoring thread takes the interpreter lock back at every launch: the run lowers
    the switch interval (an environment variable overrides it) and restores it, also after an error."""
    before = sys.getswitchinterval()
    during = []
    orig = annotate_pipeline.prepare, annotate_pipeline.score
    tasks = [[[(None, Site("c", i, "A", ("C",)))]] for i in range(3)]
    monkeypatch.setattr(vdevice, "resolve", lambda d=None: torch.device("cuda" if d == "cuda" else "cpu"))
    settings = annotate.Settings(device="cuda")
    try:
        annotate_pipeline.prepare = lambda sites, *a: sites[0].start
        annotate_pipeline.score = lambda items, *a: during.append(sys.getswitchinterval()) or items
        annotate_stream.run(iter(tasks), lambda c: "c", "fa", None, settings, None, lambda t, r: None)
        assert during == [pytest.approx(annotate_stream.GPU_SWITCH_INTERVAL)] * 3 and sys.getswitchinterval() == before
        monkeypatch.setenv("VARBIND_SWITCH_INTERVAL", "0.001")
        annotate_pipeline.score = lambda items, *a: during.append(sys.getswitchinterval()) or 1 / 0
        with pytest.raises(ZeroDivisionError):
            annotate_stream.run(iter(tasks), lambda c: "c", "fa", None, settings, None, lambda t, r: None)
        assert during[-1] == pytest.approx(0.001) and sys.getswitchinterval() == before
        during.clear()
        annotate_pipeline.score = lambda items, *a: during.append(sys.getswitchinterval()) or items
        annotate_stream.run(iter(tasks), lambda c: "c", "fa", None, annotate.Settings(device="cpu"), None,
                            lambda t, r: None)
        assert during == [before] * 3  # the CPU's kernels release the lock for long stretches
    finally:
        annotate_pipeline.prepare, annotate_pipeline.score = orig


def test_sites_genome_serves_the_fasta_around_sites(genome_world):
    fa = io.Fasta(str(genome_world["fa"]))
    sites = [Site("chr1", p, "A", ("C",)) for p in (100, 180, 50_000, 999_000)]
    g = annotate_pipeline.SitesGenome(fa, "chr1", sites, 60)
    for s in sites:
        for a, b in ((s.start - 60, s.start + 61), (s.start - 20, s.start + 5)):
            assert np.array_equal(g(a, b), fa.codes("chr1", a, b))
    assert np.array_equal(g(700_000, 700_050), fa.codes("chr1", 700_000, 700_050))  # away from sites: the FASTA
    wide = g(40, 999_100)
    for s in sites:
        assert np.array_equal(wide[s.start - 60 - 40 : s.start + 61 - 40], fa.codes("chr1", s.start - 60, s.start + 61))
    # the windows as one gather, equal to one call each: inside stretches (the FASTA), across a stretch's
    # end, away from every site, before the contig's start
    starts = np.array([40, 100, 150, 49_990, 998_950, 999_000, 700_000, 239, -5], np.int64)
    got = g.take(starts, 51)
    assert np.array_equal(got, np.stack([g(int(a), int(a) + 51) for a in starts]))
    assert np.array_equal(got[:6], np.stack([fa.codes("chr1", int(a), int(a) + 51) for a in starts[:6]]))


def test_top_models_equal_a_stable_argsort_with_ties_and_nan():
    rng = np.random.default_rng(0)
    d = rng.normal(size=(400, 37)).astype(np.float32)
    d[::7, :10] = 0.5  # ties across the k-th place
    d[::11, 3] = np.nan
    d[5] = 0.0
    for k in (1, 5, 37):
        assert np.array_equal(top_models(d, k), np.argsort(-np.abs(d), axis=1, kind="stable")[:, :k])


@pytest.mark.parametrize("spread", ["calibrated", "some_missing", "none", "all_missing"])
def test_top_selection_on_a_torch_device_equals_the_host_one(spread):
    """What the scoring stage keeps on a GPU (select_on: torch, stable sort) is what the host's
    select gives: the same models in the same order (ties in panel order), the same numbers; the
    panel mean to float rounding (it sums in another order). Run here on torch's CPU device."""
    from varbind.annotate.topk import select, select_on

    rng = np.random.default_rng(3)
    ref = rng.normal(size=(300, 41)).astype(np.float32)
    alt = ref + rng.normal(size=ref.shape).astype(np.float32)
    alt[::5, :12] = ref[::5, :12] + np.float32(0.5)  # equal deltas: ties at and across the k-th place
    alt[7] = ref[7]  # an allele that changes nothing: all ties at 0
    s = {"calibrated": rng.uniform(0.2, 3.0, 41), "some_missing": rng.uniform(0.2, 3.0, 41),
         "none": None, "all_missing": np.full(41, np.nan)}[spread]
    if spread == "some_missing":
        s[[0, 4, 9]] = np.nan  # models without a null table rank last
    for k in (1, 5, 41):
        want, got = select(ref, alt, k, s), select_on("cpu", ref, alt, k, s)
        assert np.array_equal(got.index, want.index)
        for field in ("ref", "alt", "delta", "effect", "gain", "loss"):
            assert np.array_equal(getattr(got, field), getattr(want, field), equal_nan=True), field
        np.testing.assert_allclose(got.panel, want.panel, rtol=1e-12, equal_nan=True)
    assert select(ref, alt, 5, s).index[7].tolist() == [0, 1, 2, 3, 4]  # nothing changes: panel order
    if spread == "some_missing":  # a model without a null table ranks as effect 0, below any change
        assert not np.isin(select(ref, alt, 5, s).index[np.arange(300) != 7], [0, 4, 9]).any()


def test_pair_percentiles_equal_the_full_table():
    rng = np.random.default_rng(1)
    ids = [f"m{i}" for i in range(6)]
    q = np.sort(rng.normal(size=(5, 21)), axis=1)
    q[2, 5:9] = q[2, 5]  # tied quantiles
    null = percentiles.NullTable(ids[:5][::-1], np.linspace(0, 1, 21), q, {})  # m5 has none
    scores = np.concatenate([rng.normal(size=(50, 6)) * 2, q[None, 2, [5, 0, 20, 3, 3, 3]]])
    scores[3, 1] = np.nan
    full = percentiles.percentile(null, scores, ids)
    rows, cols = np.nonzero(np.ones_like(scores, bool))
    got = pair_percentiles(null, scores[rows, cols], cols, ids)
    assert np.array_equal(got, full[rows, cols], equal_nan=True) and np.isnan(got[cols == 5]).all()


def test_device_names():
    assert vdevice.resolve("cpu") == torch.device("cpu") and vdevice.backend(torch.device("cpu")) == "numba"
    with pytest.raises(InputFormatError, match="use auto, cpu, cuda or cuda:N"):
        vdevice.resolve("gpu0")
    if not torch.cuda.is_available():
        assert vdevice.resolve("auto") == torch.device("cpu")
        with pytest.raises(InputFormatError, match="no CUDA device"):
            vdevice.resolve("cuda:1")


def test_cli_bad_device_is_one_line_exit_2(genome_world, tmp_path):
    p = subprocess.run([sys.executable, "-m", "varbind", "annotate", str(genome_world["vcf"]), "--fasta",
                        str(genome_world["fa"]), "-o", str(tmp_path / "o.vcf"), "--device", "tpu"],
                       capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 2 and p.stderr.strip() == "varbind annotate: error: --device tpu: use auto, cpu, cuda or cuda:N"


def test_bank_is_moved_once_per_device():
    bank = tiny_bank()
    assert bank.to("cpu") is bank
    if torch.cuda.is_available():
        assert bank.to("cuda") is bank.to("cuda:0")
    import pickle

    assert "_placed" not in pickle.loads(pickle.dumps(bank)).__dict__
    r = predict.score(bank, ["ACGTACGTTGCA"])
    assert r.shape == (1, 4)


def test_dask_workers_take_one_gpu_each(monkeypatch):
    """With --device cuda (or auto on a GPU machine), worker i of a local cluster scores on GPU i mod n."""
    import distributed
    import numba

    threads = numba.get_num_threads(), torch.get_num_threads()
    monkeypatch.setattr(vdevice, "gpu_count", lambda: 2)
    try:
        for name, want in ((0, "cuda:0"), (3, "cuda:1")):
            worker = type("W", (), {"name": name, "state": type("S", (), {"nthreads": 1})()})()
            monkeypatch.setattr(distributed, "get_worker", lambda w=worker: w)
            for dev in ("cuda", "auto"):
                assert annotate_pipeline.worker_settings(annotate.Settings(device=dev)).device == want
            assert annotate_pipeline.worker_settings(annotate.Settings(device="cpu")).device == "cpu"
    finally:
        numba.set_num_threads(threads[0])
        torch.set_num_threads(threads[1])


def calibrated_panel():
    """The tiny bank with null tables (random 101-bp sequences): Effect, VB_PANEL and percentiles."""
    from varbind.panels import sources as pretrained

    bank = tiny_bank()
    rng = np.random.default_rng(11)
    seqs = ["".join(rng.choice(list("ACGT"), 101)) for _ in range(400)]
    probs = np.linspace(0, 1, 101)
    q = np.quantile(predict.score(bank, seqs, device="cpu"), probs, axis=0).T.astype(np.float32)
    null = percentiles.NullTable(list(bank.ids), probs, q, {})
    return pretrained.panel_from_bank(bank)._replace(null=null)


def test_calibrated_info_is_the_same_from_joined_tasks_and_per_chunk(genome_world, tmp_path, monkeypatch):
    """INFO (Effect, VB_PANEL, VB_SKIP, top-k by effect) from the joined-task path with percentiles
    of the top models only equals the per-chunk path with full tables (taken when --scores is set),
    for any task size."""
    panel = calibrated_panel()
    base = "ACGT"[int(io.Fasta(str(genome_world["fa"])).codes("chr2", 2999, 3000)[0])]
    lines = genome_world["vcf"].read_text().splitlines()
    ref = "ACGT"[("ACGT".index(base) + 1) % 4]
    alts = ",".join(c for c in "ACGT" if c not in (base, ref))  # neither is the FASTA's base: no swap
    lines += [f"chr2\t3000\t.\t{ref}\t{alts}\t.\t.\t.",  # REF differs, in a later chunk of the task
              f"chr2\t3001\t.\tA\t*\t.\t.\t."]
    vcf = tmp_path / "in.vcf"
    vcf.write_text("\n".join(lines) + "\n")
    bodies = []
    for size, scores in ((1, None), (10**6, None), (10**6, tmp_path / "s.parquet")):
        monkeypatch.setattr(annotate_pipeline, "TASK_CPU", size)
        path = tmp_path / f"o{size}{scores is not None}.vcf"
        annotate.annotate_vcf(str(vcf), str(genome_world["fa"]), str(path), panel,
                              settings=annotate.Settings(window=W, device="cpu"),
                              scores=None if scores is None else str(scores))
        bodies.append([ln for ln in path.read_text().splitlines() if not ln.startswith("##varbind_command")])
    assert bodies[0] == bodies[1] == bodies[2]
    records = [ln for ln in bodies[0] if not ln.startswith("#")]
    assert sum("VB_PANEL=" in r for r in records) > 100 and sum("VB_SKIP=" in r for r in records) == 3
    assert [r.split("VB_SKIP=")[1].split(";")[0] for r in records if r.startswith("chr2\t300")] == [
        "ref_mismatch,ref_mismatch", "star"]
    entry = next(r for r in records if "VARBIND=" in r).split("VARBIND=")[1].split(";")[0].split(",")[0]
    assert entry.split("|")[6] != "." and entry.split("|")[7] != "."  # Effect and RefPct filled
