from __future__ import annotations

import gzip
import io

import numpy as np
import pandas as pd
import pytest

from varbind import params
from varbind.cli import main


@pytest.fixture()
def tiny_db(tmp_path):
    """A DeepBind db folder of two random models."""
    (tmp_path / "params").mkdir()
    rows = ["ID\tProtein\tType\tSpecies\tFamily\tClass\tExperiment\tExperiment Details\tModel\tCite\tLabels\tPath\tComment"]
    for i, m in enumerate([5, 8]):
        params.write(params.random_params(detector_len=m, seed=i), tmp_path / "params" / f"D0000{i}.001.txt")
        rows.append(f"D0000{i}.001\tTF{i}\tTF\tHomo sapiens\tfam\t\tChIP-seq\t[]\tdeepbind 0.1\t\t\t\t")
    (tmp_path / "db.tsv").write_text("\n".join(rows) + "\n")
    return tmp_path


def run(argv, capsys, stdin=None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_score_prints_header_and_rows_from_stdin(tiny_db, capsys, monkeypatch):
    rc, out, err = run(["score", "--models", str(tiny_db)], capsys, "ACGTACGTAC\nGGGCCCAAATTT\n", monkeypatch)
    assert rc == 0, err
    table = pd.read_csv(io.StringIO(out), sep="\t")
    assert list(table.columns) == ["D00000.001", "D00001.001"] and len(table) == 2
    from varbind import predict
    from varbind.panels import deepbind_db
    from varbind.bank import ModelBank

    ids, ps = deepbind_db.load_params(tiny_db)
    want = predict.score(ModelBank.from_params(ps, ids), ["ACGTACGTAC", "GGGCCCAAATTT"], mode="deepbind")
    np.testing.assert_allclose(table.values, want, atol=5e-7)


def test_score_reads_gzipped_fasta_and_selects_ids(tiny_db, tmp_path, capsys):
    fa = tmp_path / "s.fa.gz"
    with gzip.open(fa, "wt") as f:
        f.write(">a\nACGT\nACGT\n>b\nTTTTGGGG\n")
    rc, out, _ = run(["score", "--models", str(tiny_db), "--ids", "D00001.001", "--mode", "global", str(fa)], capsys)
    assert rc == 0 and out.splitlines()[0] == "D00001.001" and len(out.splitlines()) == 3


@pytest.mark.parametrize(
    "argv,stdin,msg",
    [
        (["--ids", "D00009.001"], "ACGT\n", "model 'D00009.001' has no params file"),
        ([], "ACGT\nAXGT\n", "sequence 2: invalid character 'X' at position 2"),
        (["/no/such/file.txt"], None, "/no/such/file.txt: No such file or directory"),
        (["--ids-file", "/no/such/ids"], "ACGT\n", "/no/such/ids: cannot read"),
    ],
)
def test_score_errors_are_one_line_with_exit_code_2(tiny_db, capsys, monkeypatch, argv, stdin, msg):
    rc, _, err = run(["score", "--models", str(tiny_db), *argv], capsys, stdin, monkeypatch if stdin else None)
    assert rc == 2
    assert err.count("\n") == 1 and msg in err and "Traceback" not in err


def test_score_rejects_a_folder_that_is_not_a_model_source(tmp_path, capsys, monkeypatch):
    rc, _, err = run(["score", "--models", str(tmp_path)], capsys, "ACGT\n", monkeypatch)
    assert rc == 2 and str(tmp_path) in err


@pytest.mark.data
def test_reproduces_the_deepbind_executable_for_927_models_and_71_sequences(deepbind_dir, capsys):
    ref_dir = deepbind_dir / "reference"
    rc, out, err = run(["score", "--models", str(deepbind_dir), "--ids-file", str(ref_dir / "all.ids"),
                        "--mode", "deepbind", str(ref_dir / "sequences.txt")], capsys)
    assert rc == 0, err
    got = pd.read_csv(io.StringIO(out), sep="\t")
    want = pd.read_csv(ref_dir / "scores_deepbind_v0.1.tsv.gz", sep="\t")
    assert list(got.columns) == list(want.columns) and got.shape == (71, 927)
    diff = np.abs(got.values - want.values) / np.maximum(1.0, np.abs(want.values))
    assert diff.max() < 1e-4, f"worst {diff.max():.2e} at {np.unravel_index(diff.argmax(), diff.shape)}"
