"""Training as a new user meets it: early stopping on a scripted validation curve, --min-steps honoured
by the final fit, a default model ID that no installed model has, a warning for a worse-than-chance
held-out AUC."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from varbind.cli import main
from varbind.sequence import dinucleotide_shuffle
from varbind.train import calibrate, checks
from varbind.train.datasets import with_shuffled_negatives


def _data(n: int = 120, seed: int = 0):
    rng = np.random.default_rng(seed)
    seqs = []
    for _ in range(n):
        s = "".join(rng.choice(list("ACGT"), 30))
        seqs.append(s[:10] + "TGACTCA" + s[17:])
    return seqs, with_shuffled_negatives(seqs, rng)


def _scripted(monkeypatch, values: list[float], folds: int) -> None:
    """Make the validation metric return ``values[k]`` for every model at checkpoint ``k``."""
    calls = []

    def metric(y, scores):
        calls.append(1)
        k = (len(calls) - 1) // folds
        return torch.full((scores.shape[1],), values[min(k, len(values) - 1)])

    monkeypatch.setattr(calibrate, "batched_auc", metric)


def _opts(**kw) -> calibrate.TrainOptions:
    base = dict(num_settings=2, num_folds=2, num_detectors=2, batch_size=32, min_steps=20, max_steps=100,
                max_epochs=0.01, num_checkpoints=4, patience=2, eval_examples=64, final_restarts=1, seed=0,
                device="cpu", space=calibrate.SearchSpace(detector_lens=(6,)))
    return calibrate.TrainOptions(**{**base, **kw})


def test_early_stopping_stops_two_checkpoints_after_the_peak(monkeypatch):
    """Budget 20 steps, 4 checkpoints (every 5), rounds of 10: the peak at step 20 is the last checkpoint,
    so one round more (25, 30) is trained; the curve falls there, the peak lies behind: stop, keep 20."""
    _, train = _data()
    _scripted(monkeypatch, [0.6, 0.7, 0.8, 0.9, 0.85, 0.8, 0.95, 0.99], folds=2)
    cal = calibrate.calibrate(train, "binary", _opts())
    assert cal.steps.tolist() == [5, 10, 15, 20, 25, 30]
    assert cal.best_checkpoint == 3 and cal.curves.shape == (2, 2, 6)


def test_a_curve_still_rising_trains_on_to_max_steps(monkeypatch):
    _, train = _data()
    _scripted(monkeypatch, [0.05 * k for k in range(1, 20)], folds=2)
    cal = calibrate.calibrate(train, "binary", _opts(max_steps=50))
    assert cal.steps.tolist() == [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]
    assert cal.best_checkpoint == 9


def test_final_fit_never_shorter_than_min_steps(monkeypatch):
    """The validation curve peaks at step 5, but --min-steps is 20: checkpoint 20 is the earliest allowed
    (before the fix the final model trained 5 steps)."""
    _, train = _data()
    _scripted(monkeypatch, [0.9, 0.5, 0.4, 0.3, 0.2, 0.1], folds=2)
    result = calibrate.train(train, "binary", _opts())
    assert result.calibration.steps.tolist() == [5, 10, 15, 20, 25, 30]
    assert result.final_steps == 20 and result.calibration.best_checkpoint == 3
    # without the floor the same curve keeps the peak
    assert calibrate.best_checkpoint(result.calibration.curves, result.calibration.steps, 1) == (0, 0)


def test_max_steps_below_the_checkpoint_count_is_honoured(monkeypatch):
    """--max-steps 10 with 20 checkpoints: one checkpoint per step, 10 steps (it trained 20 before)."""
    _, train = _data()
    _scripted(monkeypatch, [0.05 * k for k in range(1, 30)], folds=2)
    cal = calibrate.calibrate(train, "binary", _opts(min_steps=10, max_steps=10, num_checkpoints=20))
    assert cal.steps.tolist() == list(range(1, 11))


def test_default_id_is_not_an_installed_model():
    taken = checks.installed_ids()
    assert "vbt_chip_MYC" in taken  # the shipped model the old default collided with
    assert checks.default_model_id("chip", "MYC") == "my_chip_MYC" and "my_chip_MYC" not in taken
    assert checks.default_model_id("chip", "MYC", {"my_chip_MYC", "my_chip_MYC_2"}) == "my_chip_MYC_3"


def test_cli_warns_for_auc_below_chance_and_an_explicit_id_that_is_taken(tmp_path, capsys):
    """Held-out labels flipped: the model learns the planted site, so its held-out AUC is 1 - (its AUC on
    correctly labelled data) < 0.5 -- a warning on stderr and in report.json/report.html."""
    seqs, _ = _data(120, seed=3)
    (tmp_path / "pos.txt").write_text("\n".join(seqs) + "\n")
    flipped = [f"{s}\t0" for s in seqs] + [f"{dinucleotide_shuffle(s, i)}\t1" for i, s in enumerate(seqs)]
    (tmp_path / "test.tsv").write_text("\n".join(flipped) + "\n")
    out = tmp_path / "out"
    argv = ["train", "table", str(tmp_path / "pos.txt"), str(tmp_path / "test.tsv"), "--out", str(out),
            "--settings", "2", "--max-steps", "40", "--min-steps", "10", "--batch-size", "32", "--detectors", "4",
            "--detector-lens", "8", "--device", "cpu", "--quiet", "--id", "vbt_chip_MYC"]
    assert main(argv) == 0
    rep = json.loads((out / "report.json").read_text())
    auc = rep["test"]["auc"]
    assert auc < 0.45  # the planted site is (partly) learned; its labels are flipped
    msgs = [line.removeprefix("varbind: ") for line in capsys.readouterr().err.splitlines()]
    assert any(m.startswith(f"held-out AUC {auc:.4f} is below 0.5") for m in msgs)
    assert any("vbt_chip_MYC is also the ID of an installed model" in m for m in msgs)
    assert rep["warnings"] == [m for m in msgs if m.startswith("held-out AUC")]
    assert "below 0.5" in (out / "report.html").read_text()
    # --min-steps 10: the final fit trains at least 10 steps, at one of the checkpoints
    assert rep["final_steps"] >= 10 and rep["final_steps"] in rep["checkpoint_steps"]


def test_cli_default_id(tmp_path):
    seqs, _ = _data(40, seed=4)
    (tmp_path / "mine.txt").write_text("\n".join(seqs) + "\n")
    out = tmp_path / "o"
    assert main(["train", "table", str(tmp_path / "mine.txt"), "--out", str(out), "--settings", "1", "--max-steps",
                 "10", "--min-steps", "5", "--batch-size", "16", "--detectors", "2", "--detector-lens", "6",
                 "--device", "cpu", "--quiet"]) == 0
    rep = json.loads((out / "report.json").read_text())
    assert rep["id"] == "my_user_mine" and (out / "my_user_mine.txt").exists()
    assert rep["warnings"] == [] or all("validation" in w for w in rep["warnings"])


@pytest.mark.parametrize("metric,value,n", [("auc", 0.49, 1), ("auc", 0.5, 0), ("pearson", -0.1, 1),
                                            ("pearson", 0.2, 0)])
def test_chance_warnings(metric, value, n):
    assert len(checks.chance_warnings(metric, value, "held-out")) == n
