"""The shipped panels: the DeepBind bundle reproduces the executable with nothing but the reference
table from ../shared, named sets and unions, the RBP minus strand, null tables, quality filter."""
from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from varbind import predict
from varbind.panels import sets as panel_sets
from varbind.panels import nulls as percentiles
from varbind.panels import sources as pretrained
from varbind.cli import main
from varbind.errors import ModelNotFoundError

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "deepbind" / "reference"


def test_shipped_deepbind_bundle_reproduces_the_executable_without_shared(tmp_path, capfd, monkeypatch):
    """Only the reference table (sequences, IDs, printed scores) comes from ../shared, copied away
    first; the models come from the shipped bundle, and nothing reads ../shared/data/deepbind."""
    if not (REFERENCE / "scores_deepbind_v0.1.tsv.gz").is_file():
        pytest.skip(f"needs the reference table {REFERENCE} (../shared); not present here")
    for f in ("sequences.txt", "all.ids", "scores_deepbind_v0.1.tsv.gz"):
        shutil.copy(REFERENCE / f, tmp_path / f)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VARBIND_DATA_DIR", str(tmp_path / "nothing-imported"))
    kind, path = pretrained.resolve("deepbind")
    assert kind == "bundle" and "shared" not in path.resolve().parts
    assert main(["score", "--models", "deepbind", "--ids-file", "all.ids", "--mode", "deepbind", "sequences.txt"]) == 0
    out, _ = capfd.readouterr()
    got = pd.read_csv(pd.io.common.StringIO(out), sep="\t")
    with gzip.open(tmp_path / "scores_deepbind_v0.1.tsv.gz", "rt") as f:
        want = pd.read_csv(f, sep="\t")
    assert got.shape == want.shape == (71, 927)
    assert list(got.columns) == list(want.columns)
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), atol=1e-4, rtol=0)


def test_deepbind_bundle_catalogue_licence_and_nulls():
    root = pretrained.shipped_dir() / "deepbind"
    assert "BSD" in (root / "LICENSE").read_text() and "Alipanahi" in (root / "NOTICE").read_text()
    assert not list(root.glob("*.txt"))  # no raw params files
    _, cat, _ = pretrained.load_catalogue("deepbind")
    assert len(cat) == 927
    for col in ("tf", "type", "species", "family", "tf_class", "data_type", "experiment", "citation", "sha256",
                "quality", "quality_metric"):
        assert col in cat.columns, col
    assert cat.at["D00409.004", "tf"] == "GABPA" and cat.at["D00409.004", "type"] == "TF"
    assert cat.at["D00409.004", "quality_metric"] == "auc" and float(cat.at["D00409.004", "quality"]) > 0.95
    assert cat["sha256"].str.fullmatch("[0-9a-f]{64}").all()


def test_named_panels_and_unions():
    sizes = {}
    for name in ("default", "rbp", "jaspar", "all", "deepbind", "trained"):
        _, cat, _ = pretrained.load_catalogue(name)
        sizes[name] = cat
    default = sizes["default"]
    assert len(default) == 683 + 31 and pretrained.count_tfs(default) >= 530
    assert set(default["model_type"]) == {"cnn"} and (default["molecule"] != "RNA").all()
    assert set(default.loc[default["bundle"] == "deepbind", "data_type"]) == {"ChIP-seq", "SELEX", "PBM"}
    assert len(sizes["rbp"]) == 2 * 244 and set(sizes["rbp"]["strand"]) == {"+", "-"}
    assert len(sizes["jaspar"]) == 910 and len(sizes["all"]) == 927 + 244 + 910
    _, union, _ = pretrained.load_catalogue("default,rbp")
    assert list(union.index) == list(default.index) + list(sizes["rbp"].index)
    _, overlap, _ = pretrained.load_catalogue("default,deepbind")
    assert len(overlap) == 927 + 31 and not overlap.index.duplicated().any()


def test_every_shipped_model_has_a_null_table():
    panel = pretrained.load_panel("all", verify=False)
    assert panel.null is not None and list(panel.null.ids) == list(panel.bank.ids)
    spread = percentiles.null_spread(panel.null, panel.bank.ids)
    assert np.isfinite(spread).all() and (spread > 0).all()
    assert all(p.reverse_complement for i, p in zip(panel.bank.ids, panel.bank.params)
               if panel.catalogue.at[i, "molecule"] != "RNA")


def reverse_complement(s: str) -> str:
    return s[::-1].translate(str.maketrans("ACGT", "TGCA"))


def test_rbp_minus_strand_model_reads_the_reverse_complement():
    panel = pretrained.load_panel("rbp", ids=["D00210.001", "D00210.001_minus", "D00120.001", "D00120.001_minus"])
    assert not any(p.reverse_complement for p in panel.bank.params)
    rng = np.random.default_rng(3)
    seqs = ["".join(rng.choice(list("ACGT"), n)) for n in (20, 51, 101)]
    fwd = predict.score(panel.bank, seqs, mode="global")
    rev = predict.score(panel.bank, [reverse_complement(s) for s in seqs], mode="global")
    np.testing.assert_allclose(fwd[:, 1], rev[:, 0], atol=1e-4)
    np.testing.assert_allclose(fwd[:, 3], rev[:, 2], atol=1e-4)
    assert not np.allclose(fwd[:, 0], fwd[:, 1], atol=1e-3)


def test_min_quality_drops_known_weak_models_and_keeps_unknown(capfd):
    _, cat, _ = pretrained.load_catalogue("default")
    q = pd.to_numeric(cat["quality"], errors="coerce")
    kept = pretrained.select(cat, min_quality=0.9)
    assert set(kept) == set(cat.index[~(q < 0.9)])
    assert "D00409.004" in kept and "vbt_pbm_Foxp2" not in kept  # GABPA ChIP AUC .98; Foxp2 PBM r .49
    assert q.notna().sum() >= 60 and len(kept) > 600
    assert main(["models", "list", "--min-quality", "0.99", "--format", "tsv", "--tf", "GABPA"]) == 0
    listed = pd.read_csv(pd.io.common.StringIO(capfd.readouterr().out), sep="\t", dtype=str)
    assert "D00409.004" not in set(listed["id"]) and "D00409.003" in set(listed["id"])  # .979 < .99; unknown kept


def test_unknown_panel_and_empty_selection_are_clear_errors():
    with pytest.raises(ModelNotFoundError, match="no model"):
        pretrained.load_panel("default", tf=["NO_SUCH_TF"])
    assert panel_sets.parts("default,default") == panel_sets.parts("default")


def test_download_deepbind_says_the_models_ship(capfd):
    assert main(["models", "download", "deepbind"]) == 0
    err = capfd.readouterr().err
    assert "927" in err and "ship with varbind" in err
