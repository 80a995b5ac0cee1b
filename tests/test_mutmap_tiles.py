"""Mutation maps in tiles (issue 12): a long region's point mutations are scored a few (model,
mutation) scores per call against the whole reference; the numbers are those of one call, the CLI
ranks tile by tile, maps only the shown models and streams --table."""
from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from varbind import masking, mutmap, params, predict
from varbind.bank import ModelBank
from varbind.cli import main
from varbind.cli import mutmap as cli_mutmap
from varbind.errors import ModelNotFoundError
from varbind.mutmap_noise import noise_floor

from .test_mutmap import _mixed_bank

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
GENOME = SHARED / "data" / "genome" / "hg19_sparse.fa.gz"
TERT = "chr5:1295104-1295362"


def _bank() -> ModelBank:
    """test_mutmap's mixed bank (several kernel groups, m = 6, 9, 12; hidden layers, avg pooling, rc or
    not, d = 1) and one more m = 9 model."""
    mixed = _mixed_bank()
    return ModelBank.from_params(mixed.params + [params.random_params(detector_len=9, num_detectors=4, seed=6)],
                                 list("abcdef"))


def _seq(n: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    s = list("".join(rng.choice(list("ACGT"), n)))
    s[3] = s[n // 2] = s[n // 2 + 1] = "N"
    return "".join(s)


def _rounding(mm: mutmap.MutationMap) -> np.ndarray:
    """Per model: 8 float32 ulps of its largest |score| (reference or mutant)."""
    scale = np.maximum(np.abs(mm.ref), np.nanmax(np.abs(mm.alt.reshape(len(mm.ids), -1)), axis=1))
    return 8 * np.spacing(scale.astype(np.float32))


@pytest.fixture
def calls(monkeypatch):
    """(models, mutations) of every predict.score_edits call."""
    seen = []
    real = predict.score_edits

    def spy(bank, refs, edits, **kw):
        seen.append((len(bank), len(edits.start)))
        return real(bank, refs, edits, **kw)

    monkeypatch.setattr(predict, "score_edits", spy)
    return seen


@pytest.mark.parametrize("tile", [1, 5, 37, 400])
def test_tiled_map_equals_one_call(tile, calls):
    """Same reference scores (bit for bit) and NaNs; deltas within float32 rounding of the scores.

    Why not bit for bit: a model's pooled features do not depend on the rest of the call (one kernel
    column per detector; the mean sums the whole reference map in order), but the dense heads are
    batched matrix products whose kernel (and so summation order over the 2d features and hidden
    units) depends on how many rows a call has: measured differences are 1-4 ulps of the score."""
    bank, seq = _bank(), _seq(90, 0)
    one = mutmap.mutation_map(seq, bank)
    assert calls == [(6, 3 * 87)]
    calls.clear()
    tiled = mutmap.mutation_map(seq, bank, tile=tile)
    assert len(calls) > 1 and max(m * e for m, e in calls) <= tile
    assert sum(m * e for m, e in calls) == len(bank) * 3 * 87  # every (model, mutation) once
    assert tiled.ids == one.ids and tiled.seq == one.seq
    np.testing.assert_array_equal(tiled.ref, one.ref)
    np.testing.assert_array_equal(np.isnan(tiled.deltas), np.isnan(one.deltas))
    diff = np.nan_to_num(np.abs(tiled.deltas - one.deltas)).reshape(len(bank), -1).max(axis=1)
    assert (diff <= _rounding(one)).all(), (diff, _rounding(one))
    np.testing.assert_array_equal(np.nan_to_num(one.deltas)[:, :, 3], 0)  # N: not mutated
    assert (diff < 1e-2 * noise_floor(one)).all()  # far under what counts as an effect


def test_models_are_split_before_mutations(calls):
    """A reference pass per model and call: tiles take fewer models first, so each model's reference is
    scored once while a model chunk of MIN_MODELS can hold all mutations."""
    bank, seq = _bank(), _seq(60, 1)
    e = 3 * 57
    mutmap.mutation_map(seq, bank, tile=4 * e)
    assert all(n == e for _, n in calls) and sum(m for m, _ in calls) == len(bank)
    calls.clear()
    mutmap.mutation_map(seq, bank, tile=2 * e)  # fewer than MIN_MODELS x all mutations: mutations split too
    assert sum(m for m, _ in calls) > len(bank) and max(m * n for m, n in calls) <= 2 * e


def test_ids_subset_and_unknown_id():
    bank, seq = _bank(), _seq(50, 2)
    full = mutmap.mutation_map(seq, bank)
    part = mutmap.mutation_map(seq, bank, ids=["f", "a", "d"], tile=7)
    want = mutmap.select(full, ["f", "a", "d"])
    assert part.ids == ["f", "a", "d"]
    np.testing.assert_array_equal(part.ref, want.ref)
    np.testing.assert_allclose(part.deltas, want.deltas, rtol=0, atol=float(_rounding(want).max()))
    with pytest.raises(ModelNotFoundError, match="'zz' is not in this panel"):
        mutmap.mutation_map(seq, bank, ids=["a", "zz"])


def test_map_sizes_rank_like_the_whole_map():
    bank, seq = _bank(), _seq(80, 3)
    mm = mutmap.mutation_map(seq, bank)
    sizes = mutmap.map_sizes(seq, bank, tile=9)
    np.testing.assert_array_equal(sizes.ref, mm.ref)
    np.testing.assert_allclose(sizes.max_abs, mutmap.max_abs_delta(mm), rtol=0, atol=float(_rounding(mm).max()))
    spread = np.array([0.5, 2.0, 1.0, np.nan, 0.1, 3.0])
    assert mutmap.rank_sizes(sizes.max_abs, spread).tolist() == mutmap.rank_models(mm, spread=spread).tolist()
    assert mutmap.rank_sizes(sizes.max_abs).tolist() == mutmap.rank_models(mm).tolist()


def _old_table(path: Path, mm, names, spread, masks) -> None:
    """--table as the CLI wrote it before streaming: one DataFrame, one to_csv."""
    table = mutmap.mutation_table(mm, names, spread)
    table = table.merge(masking.map_table_column(mm, masks), on=["pos", "alt", "model"], how="left")
    table["masked_by"] = table["masked_by"].astype(object).fillna("")
    table.to_csv(path, sep="\t", index=False, float_format="%.6g")


def test_streamed_table_bytes_equal_one_write(tmp_path, monkeypatch):
    """Blocks of 7 positions (a masked site among them) write the bytes of one to_csv; .gz the same text."""
    bank, seq = _bank(), _seq(40, 4)
    mm = mutmap.mutation_map(seq, bank)._replace(chrom="chr2", start=1000)
    site = np.full((len(bank), 4, len(seq)), -1, np.int64)
    site[1, 2, 10], site[4, 0, 22] = 30, 5  # two flagged substitutions, in different blocks
    masks = masking.MapMasking(site, np.where(site >= 0, site + 9, -1))
    names, spread = {"a": "FOO", "e": "BAR"}, np.linspace(0.5, 2.0, len(bank))
    _old_table(tmp_path / "old.tsv", mm, names, spread, masks)
    monkeypatch.setattr(cli_mutmap, "TABLE_BLOCK", 7)
    n = cli_mutmap._write_table(str(tmp_path / "new.tsv"), mm, names, spread, masks)
    old = (tmp_path / "old.tsv").read_bytes()
    assert (tmp_path / "new.tsv").read_bytes() == old and n == old.count(b"\n") - 1
    assert b"masked by a stronger site at chr2:1031-1039" in old
    cli_mutmap._write_table(str(tmp_path / "new.tsv.gz"), mm, names, spread, masks)
    assert gzip.decompress((tmp_path / "new.tsv.gz").read_bytes()) == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.tsv", "new.tsv.gz", "old.tsv"]  # no temporaries


def _db_of(tmp_path: Path, bank: ModelBank) -> Path:
    """A DeepBind db folder of the bank's models (X00001.001 ...: factors TF0, TF1, ...)."""
    db = tmp_path / "db"
    (db / "params").mkdir(parents=True)
    lines = []
    for k, p in enumerate(bank.params):
        mid = f"X0000{k + 1}.001"
        params.write(p, db / "params" / f"{mid}.txt")
        lines.append(f"{mid}\tTF{k}\tTF\tHomo sapiens\tfam\t\tChIP-seq\t\tdeepbind 0.1\t\t\t\t")
    header = "ID\tProtein\tType\tSpecies\tFamily\tClass\tExperiment\tExperiment Details\tModel\tCite\tLabels\tPath\tComment"
    (db / "db.tsv").write_text(header + "\n" + "\n".join(lines) + "\n")
    return db


def test_cli_tiled_path_equals_one_pass(tmp_path, capsys):
    """--tile small enough to take the long-region path (rank tile by tile, then map the shown models):
    the same models, summary and table as the one-pass path, to the table's 6 digits."""
    db = _db_of(tmp_path, _bank())
    seq = _seq(150, 5)
    out = {}
    for tile in (10**9, 50):
        t = tmp_path / f"t{tile}.tsv"
        assert main(["mutmap", "--sequence", seq, "--models", str(db), "--top", "3", "--table", str(t),
                     "--tile", str(tile)]) == 0
        out[tile] = (capsys.readouterr().out, pd.read_csv(t, sep="\t", keep_default_na=False))
    (s1, t1), (s2, t2) = out[10**9], out[50]
    assert s1.splitlines()[0] == s2.splitlines()[0]
    assert [r.split("\t")[0] for r in s1.splitlines()] == [r.split("\t")[0] for r in s2.splitlines()]
    assert len(t1) == 3 * 147 * 3
    pd.testing.assert_frame_equal(t1.drop(columns=["delta"]), t2.drop(columns=["delta"]))
    np.testing.assert_allclose(t2.delta, t1.delta, rtol=1e-5, atol=1e-6)


def test_cli_long_mostly_n_region_is_ranked_in_tiles(tmp_path, monkeypatch):
    """Few mutations but a long map (a 1-Mb window of a sparse genome): not mapped whole for every model."""
    db = _db_of(tmp_path, _bank())
    seq = "N" * 3000 + "ACGTTGACCA" + "N" * 2000
    seen = []
    real = mutmap.map_sizes
    monkeypatch.setattr(mutmap, "map_sizes", lambda *a, **k: seen.append(1) or real(*a, **k))
    t = tmp_path / "t.tsv"
    argv = ["mutmap", "--sequence", seq, "--models", str(db), "--top", "2", "--table", str(t), "--quiet"]
    assert main([*argv, "--tile", "1000"]) == 0 and seen == [1]  # 4 x 5010 x 6 floats > 16 tiles of 1000
    tiled = t.read_bytes()
    assert main(argv) == 0 and seen == [1]  # default tile: one call, the map kept
    one = pd.read_csv(t, sep="\t", keep_default_na=False)
    two = pd.read_csv(io.BytesIO(tiled), sep="\t", keep_default_na=False)
    assert len(one) == 2 * 30 and set(one.pos) == set(range(3001, 3011))
    pd.testing.assert_frame_equal(one.drop(columns=["delta"]), two.drop(columns=["delta"]))
    np.testing.assert_allclose(two.delta, one.delta, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("argv,msg", [
    (["--sequence", "ACGT" * 2501, "-o", "x.png"],
     "-o x.png: the region is 10,004 bp, 112 rows of 90 bp a model; figures are drawn for regions up to 10,000 bp"),
    (["--sequence", "ACGT", "--tile", "0"], "--tile must be at least 1, not 0"),
    (["--sequence", "ACGT", "--table", "t.zip"], "--table t.zip: write .tsv, or compress with .gz, .bz2 or .xz"),
    (["--sequence", "ACGT", "--top", "0"], "--top must be at least 1"),
])
def test_cli_refuses_before_scoring(argv, msg, capsys, calls):
    assert main(["mutmap", *argv]) == 2
    err = capsys.readouterr().err
    assert msg in err and err.count("\n") == 1
    assert calls == []  # refused before any scoring (and before loading the panel)


@pytest.mark.data
def test_tert_table_one_pass_and_tiled(tmp_path, capsys):
    """The TERT promoter with the default panel: the one-pass table is byte for byte what the CLI
    wrote before tiling (one DataFrame, one to_csv); the tiled path (--tile 20000) picks the same five
    models and writes the same table to 6 significant digits."""
    if not GENOME.exists():
        pytest.skip(f"{GENOME} is absent (../shared)")
    a, b = tmp_path / "a.tsv", tmp_path / "b.tsv"
    base = ["mutmap", TERT, "--fasta", str(GENOME), "--top", "5", "--table"]
    assert main([*base, str(a)]) == 0
    sa = capsys.readouterr().out
    assert main([*base, str(b), "--tile", "20000"]) == 0
    sb = capsys.readouterr().out
    ta, tb = (pd.read_csv(p, sep="\t", keep_default_na=False) for p in (a, b))
    assert [r.split("\t")[0] for r in sa.splitlines()] == [r.split("\t")[0] for r in sb.splitlines()]
    pd.testing.assert_frame_equal(ta.drop(columns=["delta", "effect"]), tb.drop(columns=["delta", "effect"]))
    np.testing.assert_allclose(tb[["delta", "effect"]], ta[["delta", "effect"]], rtol=2e-6, atol=1e-6)
    assert (ta.masked_by != "").any()  # masking is in the comparison
    assert len(ta) == 5 * 3 * 259
