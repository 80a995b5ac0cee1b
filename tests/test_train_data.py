"""Training data readers, metrics and the ``varbind train`` command line."""
from __future__ import annotations

import gzip
import json
from collections import Counter

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.metrics import roc_auc_score

from varbind.cli import main
from varbind.errors import InputFormatError
from varbind.sequence import decode
from varbind.train import datasets, metrics


def _write_gz(path, text):
    with gzip.open(path, "wt") as f:
        f.write(text)
    return path


def test_read_chip_shuffled_negatives(tmp_path):
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), 30)) for _ in range(5)]
    rows = "".join(f"A\tseq_{i}_peak\t{s}\t1\n" for i, s in enumerate(seqs))
    ac = _write_gz(tmp_path / "TF1_cell_ab_lab_AC.seq.gz", "FoldID\tEventID\tseq\tBound\n" + rows)
    b = _write_gz(tmp_path / "TF1_cell_ab_lab_B.seq.gz",
                  "FoldID\tEventID\tseq\tBound\n" + f"A\tx\t{seqs[0]}\t1\nA\ty\t{seqs[1][::-1]}\t0\n")
    task = datasets.read_chip(ac, b, seed=3)
    assert (task.experiment, task.tf, task.kind) == ("TF1_cell_ab_lab", "TF1", "binary")
    assert task.train.targets.tolist() == [1.0] * 5 + [0.0] * 5
    for pos, neg in zip(task.train.codes[:5], task.train.codes[5:]):
        p, n = decode(pos), decode(neg)
        assert Counter(zip(p, p[1:])) == Counter(zip(n, n[1:]))
    assert task.test.targets.tolist() == [1.0, 0.0]
    assert datasets.read_chip(ac, seed=3).train.codes.tolist() == task.train.codes.tolist()


def test_read_chip_bad_rows_are_one_line_errors(tmp_path):
    bad = _write_gz(tmp_path / "X_AC.seq.gz", "FoldID\tEventID\tseq\tBound\nA\tx\tACGT\tyes\n")
    with pytest.raises(InputFormatError, match="line 2"):
        datasets.read_chip(bad)
    with pytest.raises(InputFormatError, match="not an ENCODE"):
        datasets.read_chip(_write_gz(tmp_path / "Y_AC.seq.gz", "a\tb\n"))


def test_read_pbm_and_selex(tmp_path):
    hk = _write_gz(tmp_path / "Tf_HK.txt.gz", "ACGTACGT\t100.0\t10\nTTTTACGT\t300.0\t11\nGGGGACGT\t200\t9\n")
    task = datasets.read_pbm(hk, hk)
    np.testing.assert_allclose(task.train.targets, [-1.2247449, 1.2247449, 0.0], rtol=1e-6)
    assert task.test_raw.tolist() == [100.0, 300.0, 200.0] and task.kind == "regression"
    early = _write_gz(tmp_path / "TF_X_0.fastq.gz", "\n".join(["ACGTAC"] * 10) + "\n")
    late = _write_gz(tmp_path / "TF_X_4.fastq.gz", "\n".join(["TTTTTT"] * 10) + "\n")
    sel = datasets.read_selex(early, late, test_fraction=0.2)
    assert sel.experiment == "TF_X" and len(sel.test.targets) == 4 and len(sel.train.targets) == 16


def test_read_table_formats(tmp_path):
    tsv = tmp_path / "mine.tsv"
    tsv.write_text("sequence\tscore\n# a comment\nACGTAA\t1.5\nTTGCA\t-2\n")
    task = datasets.read_table(tsv)
    assert task.kind == "regression" and task.train.lengths.tolist() == [6, 5]
    fa = tmp_path / "pos.fa"
    fa.write_text(">a\nACGTACGTTG\n>b\nTTGACCA\n")
    task = datasets.read_table(fa)
    assert task.kind == "binary" and task.train.targets.tolist() == [1, 1, 0, 0]
    (tmp_path / "bad.tsv").write_text("ACGT\t1\nAC\tx\n")
    with pytest.raises(InputFormatError, match="sequence<TAB>number"):
        datasets.read_table(tmp_path / "bad.tsv")


def test_batched_metrics_match_sklearn_scipy():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.normal(size=(200, 3)) + y[:, None], 1)  # rounded: many ties
    got = metrics.batched_auc(torch.from_numpy(y), torch.from_numpy(s)).numpy()
    np.testing.assert_allclose(got, [roc_auc_score(y, s[:, k]) for k in range(3)], atol=1e-6)
    t = rng.normal(size=200)
    got = metrics.batched_pearson(torch.from_numpy(t), torch.from_numpy(s)).numpy()
    np.testing.assert_allclose(got, [stats.pearsonr(t, s[:, k])[0] for k in range(3)], atol=1e-6)


def test_dream5_positives_rule():
    s = np.r_[np.arange(1000.0) % 7, 500.0, 600.0]
    assert metrics.dream5_positives(s, min_positives=1).nonzero()[0].tolist() == [1000, 1001]
    assert metrics.dream5_positives(s, min_positives=3).sum() == 3


def test_cli_train_table(tmp_path):
    rng = np.random.default_rng(2)
    lines = []
    for _ in range(60):
        s = "".join(rng.choice(list("ACGT"), 24))
        lines.append(s[:8] + "TGACTCA" + s[15:])
    (tmp_path / "pos.txt").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    rc = main(["train", "table", str(tmp_path / "pos.txt"), str(tmp_path / "pos.txt"), "--out", str(out),
               "--settings", "2", "--max-steps", "20", "--min-steps", "5", "--batch-size", "32",
               "--detectors", "2", "--detector-lens", "8", "--device", "cpu", "--id", "mine", "--quiet"])
    assert rc == 0
    rep = json.loads((out / "report.json").read_text())
    assert rep["id"] == "mine" and len(rep["settings"]) == 2 and "auc" in rep["test"]
    assert {"models.safetensors", "catalogue.tsv", "mine.txt", "report.html"} <= {p.name for p in out.iterdir()}


def test_cli_train_bad_input_exit_2(tmp_path, capsys):
    (tmp_path / "bad.txt").write_text("ACGTXX\n")
    assert main(["train", "table", str(tmp_path / "bad.txt"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "invalid character 'X'" in err and "Traceback" not in err
    # an --out folder holding someone else's files is refused, never replaced
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.me").write_text("x")
    assert main(["train", "table", str(tmp_path / "bad.txt"), "--out", str(tmp_path / "busy")]) == 2
    assert "holds other files" in capsys.readouterr().err and (tmp_path / "busy" / "keep.me").exists()


@pytest.mark.data
def test_cli_train_chip_on_real_encode_set(shared_dir, tmp_path):
    enc = shared_dir / "data" / "encode"
    stem = "REST_GM12878_NRSF_HudsonAlpha"  # a strong motif: learned in a few dozen steps
    out = tmp_path / "rest"
    rc = main(["train", "chip", str(enc / f"{stem}_AC.seq.gz"), str(enc / f"{stem}_B.seq.gz"), "--out", str(out),
               "--settings", "2", "--max-steps", "40", "--min-steps", "40", "--detectors", "4", "--eval-examples", "1500",
               "--detector-lens", "12", "--device", "cpu", "--quiet"])
    assert rc == 0
    rep = json.loads((out / "report.json").read_text())
    # the default ID is not the shipped model's (vbt_chip_REST)
    assert rep["experiment"] == stem and rep["id"] == "my_chip_REST"
    # the reported AUC is the exported model's: rescored here through the torch module and sklearn
    from varbind.model import DeepBind
    from varbind.params import read as read_params
    from varbind.sequence import one_hot

    task = datasets.read_chip(enc / f"{stem}_AC.seq.gz", enc / f"{stem}_B.seq.gz")
    net = DeepBind.from_params(read_params(out / "my_chip_REST.txt")).eval()
    with torch.no_grad():
        scores = net(one_hot(task.test.codes)).numpy()
    auc = roc_auc_score(task.test.targets, scores)
    assert rep["test"]["auc"] == pytest.approx(auc, abs=1e-3)
    # and it beats chance: above 0.5 by 3 SDs of a random ranking's AUC (Mann-Whitney null, n1 = n2 = 500)
    n1, n0 = int(task.test.targets.sum()), int((1 - task.test.targets).sum())
    assert auc > 0.5 + 3 * np.sqrt((n1 + n0 + 1) / (12 * n1 * n0))
    row = (out / "catalogue.tsv").read_text().splitlines()[1].split("\t")
    assert stem in row and "auc" in row
