"""Training: batched model = DeepBind, planted motif learned, seeded determinism, exact exports."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from varbind.model import DeepBind
from varbind.params import read as read_params
from varbind.sequence import decode, dinucleotide_shuffle, one_hot, reverse_complement_codes
from varbind.train import calibrate, export
from varbind.train.batched import BatchedDeepBind, Setting
from varbind.train.datasets import make_examples, with_shuffled_negatives
from varbind.train.evaluate import heldout_scores
from varbind.train.metrics import auc

MOTIF = "GGGATTACC"
MOTIF_RC = "GGTAATCCC"


def planted(n: int, length: int, rng: np.random.Generator):
    """``n`` random sequences, each with MOTIF (either strand) at a random place; plus shuffles."""
    seqs = []
    for _ in range(n):
        s = "".join(rng.choice(list("ACGT"), length))
        site = MOTIF if rng.random() < 0.5 else MOTIF_RC
        at = int(rng.integers(0, length - len(site)))
        seqs.append(s[:at] + site + s[at + len(site):])
    return with_shuffled_negatives(seqs, rng)


def tiny_options(seed: int = 0, **kw) -> calibrate.TrainOptions:
    space = calibrate.SearchSpace(detector_lens=(12,), learning_rate=(0.1, 0.3), init_scale=(0.05, 0.1))
    base = dict(num_settings=2, num_detectors=4, batch_size=64, min_steps=10, max_steps=400, max_epochs=30,
                num_checkpoints=5, eval_examples=600, final_restarts=2, seed=seed, device="cpu", space=space)
    return calibrate.TrainOptions(**{**base, **kw})


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(2)
    rng = np.random.default_rng(5)
    train, test = planted(300, 40, rng), planted(150, 40, rng)
    return train, test, calibrate.train(train, "binary", tiny_options())


def test_planted_motif_learned_and_recovered(trained):
    train, test, result = trained
    model = DeepBind.from_params(result.params)
    with torch.no_grad():
        scores = model(one_hot(test.codes)).numpy()
    assert auc(test.targets, scores) > 0.95
    # the motif (or its reverse complement) is the consensus of some detector: >= 7 of its 9 bases in a row
    # (a 9-mer planted at random places is often learned shifted against the detector window)
    best = 0
    for det in result.params.detectors:
        cons = "".join("ACGT"[i] for i in det.argmax(0))
        for site in (MOTIF, MOTIF_RC):
            for off in range(-len(site) + 1, len(cons)):
                best = max(best, sum(0 <= off + j < len(cons) and cons[off + j] == c for j, c in enumerate(site)))
    assert best >= len(MOTIF) - 2


def test_batched_equals_deepbind_module():
    rng = np.random.default_rng(0)
    settings_ = [Setting(detector_len=6, has_avg_pooling=True, num_hidden=0, init_scale=0.5),
                 Setting(detector_len=9, has_avg_pooling=False, num_hidden=5, init_scale=0.5),
                 Setting(detector_len=3, has_avg_pooling=True, num_hidden=7, init_scale=0.5)]
    net = BatchedDeepBind(settings_, 4, seed=1)
    with torch.no_grad():
        for p in (net.thresholds, net.biases1, net.biases2):
            p.normal_()
    net.eval()
    lengths = [12, 5, 2, 20, 9]
    ex = make_examples([decode(rng.integers(0, 5, n).astype(np.uint8)) for n in lengths], np.zeros(5))
    out = net(torch.from_numpy(ex.codes), torch.from_numpy(ex.rev_codes), torch.from_numpy(ex.lengths))
    for k in range(len(settings_)):
        ref = DeepBind.from_params(net.to_params(k).validate())
        with torch.no_grad():
            want = [ref(one_hot(ex.codes[i : i + 1, :n])).item() for i, n in enumerate(lengths)]
        np.testing.assert_allclose(out[:, k].detach().numpy(), want, rtol=1e-5, atol=1e-6)


def test_sgd_step_is_nesterov():
    net = BatchedDeepBind([Setting(detector_len=3, learning_rate=0.1, momentum=0.9, weight_decay=0.01),
                           Setting(detector_len=3, learning_rate=0.3, momentum=0.5, weight_decay=0.0)], 2, seed=0)
    p0 = net.detectors.detach().clone()
    g = torch.randn_like(p0)
    for step in range(2):
        net.detectors.grad = g.clone()
        net.sgd_step()
    # reference: PyTorch's SGD(nesterov=True) with the same per-model hyper-parameters
    for k, (lr, mom, wd) in enumerate([(0.1, 0.9, 0.01), (0.3, 0.5, 0.0)]):
        p = torch.nn.Parameter(p0[k].clone())
        opt = torch.optim.SGD([p], lr=lr, momentum=mom, weight_decay=wd, nesterov=True)
        for _ in range(2):
            p.grad = g[k].clone()
            opt.step()
        torch.testing.assert_close(net.detectors[k].detach(), p.detach() * net.det_mask[k])


def test_seeded_training_is_deterministic(trained):
    train, _, result = trained
    quick = dict(max_steps=40, eval_examples=200, num_checkpoints=2)
    state = torch.get_rng_state()
    again = calibrate.train(train, "binary", tiny_options(**quick))
    assert torch.equal(state, torch.get_rng_state())  # the caller's generator is left alone
    twice = calibrate.train(train, "binary", tiny_options(**quick))
    assert again.params.equals(twice.params)
    np.testing.assert_array_equal(again.calibration.curves, twice.calibration.curves)
    other = calibrate.train(train, "binary", tiny_options(seed=1, **quick))
    assert not other.params.equals(again.params)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ACGTN", min_size=0, max_size=60), st.integers(0, 2**32 - 1))
def test_dinucleotide_shuffle_preserves_counts_exactly(seq, seed):
    out = dinucleotide_shuffle(seq, seed)
    assert Counter(zip(seq, seq[1:])) == Counter(zip(out, out[1:]))
    assert Counter(seq) == Counter(out)
    assert out[:1] == seq[:1] and out[-1:] == seq[-1:]


def test_bundle_and_params_export_exact(trained, tmp_path):
    _, test, result = trained
    models = {"planted": result.params}
    export.write_bundle(tmp_path / "b", models, [{"id": "planted", "tf": "X", "source": "test"}])
    read, rows = export.read_bundle(tmp_path / "b")
    stored = export.as_float32(result.params)
    assert read["planted"].equals(stored)
    assert rows[0]["sha256"] == export.model_sha256(stored)
    # bundle -> v0.1 file -> import -> export -> import is exact
    (path,) = export.export_params(tmp_path / "p", read)
    once = read_params(path)  # float64 of the %.9e text: float32-exact, not bit-equal in float64
    assert export.as_float32(once).equals(read["planted"])
    (path2,) = export.export_params(tmp_path / "q", {"planted": once})
    assert path2.read_text() == path.read_text() and read_params(path2).equals(once)


def test_held_out_scores_go_through_predict(trained):
    from varbind.train.datasets import Task

    train, test, result = trained
    task = Task("planted", "X", "test", "binary", train, test)
    got = heldout_scores(task, [result.params])[:, 0]
    with torch.no_grad():
        want = DeepBind.from_params(result.params)(one_hot(test.codes)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
