"""Bundles (round trip, sha256, corruption), the shipped default panel, selection, percentiles, CLI."""
from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pandas as pd
import pytest

from varbind import predict
from varbind.panels import bundle
from varbind.panels import nulls as percentiles
from varbind.panels import sources as pretrained
from varbind.bank import ModelBank
from varbind.cli import main
from varbind.errors import BundleFormatError, ChecksumError, ModelNotFoundError, ModelSourceError
from varbind.params import format_params, random_params


@pytest.fixture
def mixed():
    params = [random_params(num_detectors=d, detector_len=m, has_avg_pooling=avg, num_hidden=h, reverse_complement=rc, seed=s)
              for s, (d, m, avg, h, rc) in enumerate([(4, 7, True, 0, True), (2, 5, False, 8, False), (1, 9, False, 0, True)])]
    ids = ["cnn.a", "cnn.b", "cnn.c"]
    cat = pd.DataFrame({"id": ids, "tf": ["FOS::JUN", "Sox2", "CTCF"], "family": ["bZIP", "HMG", "zf"],
                        "tf_class": ["", "", ""], "species": "Homo sapiens", "source": "test"})
    return ids, params, cat


@pytest.fixture
def written(tmp_path, mixed):
    ids, params, cat = mixed
    null = percentiles.NullTable(ids, np.linspace(0, 1, 11), np.sort(np.random.default_rng(0).normal(size=(3, 11))).astype(np.float32), {})
    return bundle.write_bundle(tmp_path / "b", ids, params, cat, name="t", version="1", provenance={"by": "test"}, null=null)


def test_bundle_round_trip_keeps_weights_scores_and_catalogue(written, mixed):
    ids, params, _ = mixed
    b = bundle.read_bundle(written)
    assert b.ids == ids and b.info["name"] == "t" and b.info["provenance"] == {"by": "test"}
    for p, q in zip(params, b.params):
        assert bundle.as_float32(p).equals(q)
    seqs = ["ACGTTGCANNACGT", "GGGCGCGCATAT"]
    np.testing.assert_allclose(predict.score(ModelBank.from_params(b.params, b.ids), seqs),
                               predict.score(ModelBank.from_params(params, ids), seqs), rtol=1e-5, atol=1e-5)
    assert list(b.catalogue["tf"]) == ["FOS::JUN", "Sox2", "CTCF"]
    assert list(b.catalogue["detector_len"]) == ["7", "5", "9"]
    assert bundle.verify_models(b) == []
    assert b.null.quantiles.shape == (3, 11)
    assert json.loads((written / "bundle.json").read_text())["files"]["models.safetensors"] == \
        hashlib.sha256((written / "models.safetensors").read_bytes()).hexdigest()


def test_model_sha256_is_the_sha256_of_the_deepbind_text_of_the_float32_weights(written, mixed):
    ids, params, _ = mixed
    cat = bundle.read_bundle(written).catalogue
    for i, p in zip(ids, params):
        text = format_params(bundle.as_float32(p)).encode("ascii")
        assert cat.at[i, "sha256"] == hashlib.sha256(text).hexdigest()
    assert len(set(cat["sha256"])) == 3


def test_selected_read_returns_those_models_in_order(written, mixed):
    b = bundle.read_bundle(written, ["cnn.c", "cnn.a"])
    assert b.ids == ["cnn.c", "cnn.a"] and b.null.ids == ["cnn.c", "cnn.a"]
    assert bundle.as_float32(mixed[1][2]).equals(b.params[0])


def test_a_changed_byte_is_a_checksum_error(written):
    data = bytearray((written / "models.safetensors").read_bytes())
    data[-3] ^= 0xFF
    (written / "models.safetensors").write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="models.safetensors: sha256 .* differs"):
        bundle.read_bundle(written)


def _rehash(path):
    info = json.loads((path / "bundle.json").read_text())
    for f in info["files"]:
        info["files"][f] = bundle.file_sha256(path / f)
    (path / "bundle.json").write_text(json.dumps(info))


@pytest.mark.parametrize("damage", ["truncate", "header", "missing_tensor", "catalogue", "null"])
def test_malformed_files_give_a_clear_error_even_with_matching_sha256(written, damage):
    f = written / "models.safetensors"
    if damage == "truncate":
        f.write_bytes(f.read_bytes()[:-100])
    elif damage == "header":
        f.write_bytes(b"\xff" * 8 + f.read_bytes()[8:])
    elif damage == "missing_tensor":
        from safetensors.numpy import load_file, save_file
        from safetensors import safe_open

        with safe_open(str(f), "np") as h:
            meta = h.metadata()
        tensors = load_file(str(f))
        del tensors["cnn.b/weights2"]
        save_file(tensors, str(f), metadata=meta)
    elif damage == "catalogue":
        (written / "catalogue.tsv").write_text("name\tx\n1\t2\n")
    else:
        (written / "null.npz").write_bytes(b"PK\x03\x04 not a zip")
    _rehash(written)
    with pytest.raises(BundleFormatError, match=r"cnn.b.*weights2|safetensors|catalogue|null table"):
        bundle.read_bundle(written)


def test_a_failed_write_leaves_the_old_bundle_and_no_temporary_folder(written, mixed):
    ids, params, cat = mixed
    bad = random_params(num_detectors=1, detector_len=3, seed=9)
    bad.thresholds[0] = np.nan
    before = (written / "models.safetensors").read_bytes()
    with pytest.raises(Exception, match="non-finite"):
        bundle.write_bundle(written, ids, params[:2] + [bad], cat, name="t", version="2", provenance={})
    assert (written / "models.safetensors").read_bytes() == before
    assert sorted(p.name for p in written.parent.iterdir()) == ["b"]


@pytest.mark.parametrize("name, n, tfs", [("default", 714, 530), ("jaspar", 879, 600)])
def test_shipped_panels_are_broad_verified_and_have_null_tables(name, n, tfs):
    panel = pretrained.load_panel() if name == "default" else pretrained.load_panel(name)
    assert panel.name == name and len(panel.bank) == len(panel.catalogue) >= n
    assert pretrained.count_tfs(panel.catalogue) >= tfs
    assert panel.null is not None and panel.null.ids == panel.bank.ids
    assert np.all(np.diff(panel.null.quantiles, axis=1) >= 0)
    for part in {b for b in panel.catalogue["bundle"]} if "bundle" in panel.catalogue else {name}:
        assert bundle.verify_models(bundle.read_bundle(pretrained.shipped_dir() / part)) == []


def test_shipped_null_quantiles_are_reproducible_from_their_provenance():
    panel = pretrained.load_panel("all", ids=["MA0139.2", "MA0079.5", "MA0004.1", "D00409.004", "D00210.001_minus"])
    prov = panel.null.provenance
    seqs = percentiles.background_sequences(np.array(prov["dinucleotide_counts"]), prov["n"], prov["length"], prov["seed"])
    scores = predict.score(panel.bank, seqs, mode="global")
    want = np.quantile(scores.astype(np.float64), panel.null.probs, axis=0).T
    np.testing.assert_allclose(panel.null.quantiles, want, rtol=1e-5, atol=1e-5)
    # the null set's own scores are uniform on its percentiles
    pct = pretrained.percentile(panel, scores)
    assert np.all(np.abs(np.mean(pct, axis=0) - 50) < 0.5)


def test_percentile_interpolates_ties_and_clips():
    t = percentiles.NullTable(["a", "b"], np.linspace(0, 1, 5), np.array([[0, 1, 2, 3, 4], [0, 0, 0, 0, 1.0]]), {})
    got = percentiles.percentile(t, np.array([[0.5, 0.0], [3.5, 0.5], [-2, 2], [np.nan, -1]]), ["a", "b"])
    np.testing.assert_allclose(got, [[12.5, 37.5], [87.5, 87.5], [0, 100], [np.nan, 0]])
    assert np.isnan(percentiles.percentile(t, np.zeros((1, 1)), ["zzz"])).all()


def test_background_sequences_keep_the_dinucleotide_composition():
    counts = np.array([[40, 5, 30, 25], [35, 30, 2, 33], [30, 25, 30, 15], [10, 35, 40, 15]])
    codes = percentiles.background_sequences(counts, n=400, length=200, seed=3).codes
    got = sum(percentiles.dinucleotide_counts(c) for c in codes)
    np.testing.assert_allclose(got / got.sum(axis=1, keepdims=True), counts / counts.sum(axis=1, keepdims=True), atol=0.01)


def test_selection_by_tf_family_and_ids():
    cat = pretrained.load_catalogue("jaspar")[1]
    jun = pretrained.select(cat, tf=["jun"])
    assert jun and all("JUN" in pretrained.tf_names(cat.at[i, "tf"]) for i in jun)
    assert any("::" in cat.at[i, "tf"] for i in jun)  # dimers match by either part
    fox = pretrained.select(cat, family=["fork head"])
    assert all("fork head" in (cat.at[i, "family"] + cat.at[i, "tf_class"]).lower() for i in fox) and len(fox) > 10
    both = pretrained.select(cat, tf=["FOXA1", "CTCF"], family=["fork"])
    assert {cat.at[i, "tf"].upper() for i in both} == {"FOXA1"}
    assert pretrained.select(cat, ids=["MA0139.2", "MA0004.1"]) == ["MA0139.2", "MA0004.1"]
    with pytest.raises(ModelNotFoundError, match="no model for TF 'NOTATF'"):
        pretrained.select(cat, tf=["notatf"])
    with pytest.raises(ModelNotFoundError, match="'MA9999.9' is not in this panel"):
        pretrained.load_panel("jaspar", ids=["MA9999.9"])


def test_sources_resolve_and_name_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("VARBIND_DATA_DIR", str(tmp_path / "data"))
    assert pretrained.data_dir() == tmp_path / "data"
    assert pretrained.resolve("deepbind")[1] == pretrained.shipped_dir() / "deepbind"  # ships: no install
    with pytest.raises(ModelSourceError, match="unknown panel 'nope'"):
        pretrained.load_panel("nope")
    with pytest.raises(ModelSourceError, match="neither a varbind bundle"):
        pretrained.load_panel(tmp_path)
    bundle.write_bundle(tmp_path / "data" / "panels" / "mine", ["x"], [random_params(seed=1)],
                        pd.DataFrame({"id": ["x"], "tf": ["Y"]}), name="mine", version="1", provenance={})
    assert "mine" in pretrained.panels() and pretrained.load_panel("mine").bank.ids == ["x"]
    assert pretrained.load_panel(tmp_path / "data" / "panels" / "mine").name == "mine"


def run(argv, capsys):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_models_list_tsv_counts_530_tfs_of_700_cnns(capsys):
    rc, out, err = run(["models", "list", "--format", "tsv"], capsys)
    assert rc == 0, err
    cat = pd.read_csv(io.StringIO(out), sep="\t", dtype=str, keep_default_na=False)
    assert {"id", "tf", "family", "species", "source", "data_type", "detector_len", "sha256", "quality"} <= set(cat.columns)
    assert pretrained.count_tfs(cat) >= 530 and len(cat) >= 700 and set(cat["model_type"]) == {"cnn"}
    assert f"{pretrained.count_tfs(cat)} distinct TFs" in err


def test_cli_models_list_filters_and_show(capsys):
    rc, out, _ = run(["models", "list", "--models", "jaspar", "--tf", "CTCF", "--family", "zinc"], capsys)
    assert rc == 0 and out.splitlines()[0].split()[:2] == ["id", "tf"] and "MA0139.2" in out
    assert all(" CTCF " in line for line in out.splitlines()[1:])
    rc, out, _ = run(["models", "show", "MA0139.2", "--models", "jaspar"], capsys)
    assert rc == 0 and "1 detectors x 15 bp, max pooling, linear output, both strands" in out
    assert "null quantiles" in out and "PMID:17512414" in out
    rc, _, err = run(["models", "show", "NOPE"], capsys)
    assert rc == 2 and err.count("\n") == 1 and "'NOPE' is not in this panel" in err
    rc, _, err = run(["models", "verify"], capsys)
    assert rc == 0 and "model sha256s match" in err


def test_writing_twice_gives_identical_bytes_and_bare_bundles_read(tmp_path, mixed):
    ids, params, cat = mixed
    a = bundle.write_bundle(tmp_path / "a", ids, params, cat, name="t", version="1", provenance={})
    b = bundle.write_bundle(tmp_path / "b", ids, params, cat, name="t", version="1", provenance={})
    for f in ("models.safetensors", "catalogue.tsv", "bundle.json"):
        assert (a / f).read_bytes() == (b / f).read_bytes()
    (b / "bundle.json").unlink()  # what the trainer writes: no manifest
    with pytest.raises(BundleFormatError, match="bundle.json"):
        bundle.read_bundle(b)
    bare = bundle.read_bundle(b, allow_bare=True)
    assert bare.ids == ids and bundle.verify_models(bare) == []
