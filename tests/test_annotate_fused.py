"""The GPU's task path (:mod:`varbind.annotate.fused`) run on the CPU with its GPU parts stood in
for: scores left on the device as tensors, DeepFind's windows scored in the panel's pass; the INFO
numbers equal the host path's. The kernels themselves are tested in test_gpu_kernels.py."""
from __future__ import annotations

import numpy as np
import torch

from varbind import annotate, predict
from varbind.annotate import fused as annotate_fused
from varbind.annotate import pipeline as annotate_pipeline

from .annotate_helpers import tiny_bank
from .test_annotate_pipeline import W, chunks_of, genome_world, random_deepfind  # noqa: F401 (a fixture)


def test_scores_left_on_the_device_give_the_same_info_as_host_copies(genome_world, monkeypatch):
    """The GPU's fused path keeps (E, M) scores where they are: DeepFind's classifier and the top-k
    selection read them as tensors. Run here with the scores as CPU tensors, every INFO number
    (top models, their scores, effects, max/min, panel mean, DeepFind) equals the host path's."""
    bank = tiny_bank()
    dfind = random_deepfind(bank)
    settings = annotate.Settings(window=W, device="cpu")
    chunks = chunks_of(genome_world)
    items = [annotate_pipeline.prepare(c, str(genome_world["fa"]), c[0].chrom, settings, dfind) for c in chunks]
    spread = np.linspace(0.5, 2.0, len(bank))
    sel = annotate_pipeline.Selection(3, spread)
    host = annotate_pipeline.reduced(annotate_fused.score_task(items, bank, settings, dfind), sel, "cpu")
    real = predict.score_edits
    seen = []

    def on_device(*a, to_host=True, **kw):
        seen.append(to_host)
        r = real(*a, **kw)
        return predict.EditScores(*(torch.from_numpy(x) for x in r)) if not to_host else r

    monkeypatch.setattr(predict, "score_edits", on_device)
    kept = annotate_fused.score_task(items, bank, settings, dfind, sel)
    assert seen == [False] and len(kept) == len(host) == len(chunks)
    for (a, _, _), (b, _, _) in zip(host, kept):
        assert a.ref.shape == b.ref.shape == (len(a.site), 0)
        for x, y in zip(a.top, b.top):
            np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(a.deepfind, b.deepfind)
    assert sum(len(a.site) for a, _, _ in host) > 20 and not np.isnan(np.concatenate([a.deepfind for a, _, _ in host])).all()


def test_deepfind_windows_scored_in_the_panels_pass_give_the_same_numbers(genome_world, monkeypatch):
    """With the Triton kernels DeepFind's 51-bp windows are scored in the panel's pass
    (``score_snvs_with_subwindow``) when they lie inside the panel's window around the same SNV. Here
    that call is stood in for by its definition (the sub-windows cut out and scored on their own, as
    CPU tensors): the INFO numbers equal the host path's, DeepFind's within float32 rounding; and a
    window that is not the panel's bases (here one base changed, as a ``use-vcf`` REF would) is
    scored on its own as before."""
    from varbind.sequence import CodeBatch

    bank = tiny_bank()
    dfind = random_deepfind(bank)
    width = dfind.model.config.window
    settings = annotate.Settings(window=61, device="cpu")
    chunks = chunks_of(genome_world)
    items = [annotate_pipeline.prepare(c, str(genome_world["fa"]), c[0].chrom, settings, dfind) for c in chunks]
    odd = next(p.dfw for p in items if p.dfw is not None and len(p.dfw.rows) > 1)
    odd.refs.codes[1, 0] = (odd.refs.codes[1, 0] + 1) % 4
    sel = annotate_pipeline.Selection(3, np.linspace(0.5, 2.0, len(bank)))
    host = annotate_pipeline.reduced(annotate_fused.score_task(items, bank, settings, dfind), sel, "cpu")
    real = predict.score_edits
    calls = []

    def with_subwindow(bank, refs, edits, centre, length, strand_merge="max", batch_size=None):
        r = real(bank, refs, edits, strand_merge=strand_merge)
        s0 = edits.start - centre
        ok = (edits.lengths == 1) & (s0 >= 0) & (s0 + length <= refs.lengths[edits.ref_index])
        idx = np.flatnonzero(ok)
        wins = CodeBatch(refs.codes[edits.ref_index[idx, None], s0[idx, None] + np.arange(length)],
                         np.full(len(idx), length, np.int64))
        s = real(bank, wins, predict.Edits(np.arange(len(idx)), np.full(len(idx), centre), edits.codes[idx],
                                           np.ones(len(idx), np.int64)), strand_merge=strand_merge)
        sub = [np.full((len(edits.start), len(bank)), np.nan, np.float32) for _ in range(2)]
        sub[0][idx], sub[1][idx] = s.ref, s.alt
        calls.append((len(refs.lengths), len(idx)))
        return (predict.EditScores(*(torch.from_numpy(x) for x in r)),
                predict.EditScores(*(torch.from_numpy(x) for x in sub)))

    monkeypatch.setattr(annotate_fused, "_subwindow", lambda bank, df: (width // 2, width))
    monkeypatch.setattr(predict, "score_snvs_with_subwindow", with_subwindow)
    fused = annotate_fused.score_task(items, bank, settings, dfind, sel)
    inside = sum(int(p.dfw.inside(p.win, width // 2, width).sum()) for p in items if p.dfw is not None)
    n_df = sum(len(p.dfw.rows) for p in items if p.dfw is not None)
    n_win = sum(len(p.win.refs.lengths) for p in items)
    assert len(calls) == 1 and inside == n_df - 1 > 20 and not odd.inside(next(p.win for p in items if p.dfw is odd),
                                                                               width // 2, width)[1]
    assert calls[0][0] == n_win + n_df - inside  # only those added as windows
    for (a, _, _), (b, _, _) in zip(host, fused):
        for x, y in zip(a.top, b.top):
            np.testing.assert_array_equal(x, y)
        np.testing.assert_allclose(a.deepfind, b.deepfind, rtol=1e-5, atol=1e-6)
    assert not np.isnan(np.concatenate([a.deepfind for a, _, _ in host])).all()
