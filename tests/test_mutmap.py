"""Mutation maps: fast (one reference pass + deltas) equals 3n+1 full passes; definitions; regions; CLI;
the TERT promoter mutations C228T / C250T create ETS sites."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from varbind import mutmap, params, regions
from varbind.bank import ModelBank
from varbind.cli import main
from varbind.errors import ContigNotFoundError, InputFormatError, RefMismatchError

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
GENOME = SHARED / "data" / "genome" / "hg19_sparse.fa.gz"
DEEPBIND = SHARED / "data" / "deepbind"


def _mixed_bank() -> ModelBank:
    """Every architecture the bank handles: several m, hidden layers, avg pooling, rc or not, d=1."""
    ps = [
        params.random_params(detector_len=6, num_detectors=4, seed=1),
        params.random_params(detector_len=9, num_detectors=4, num_hidden=8, seed=2),
        params.random_params(detector_len=9, num_detectors=4, has_avg_pooling=False, seed=3),
        params.random_params(detector_len=12, num_detectors=1, reverse_complement=False, seed=4),
        params.random_params(detector_len=6, num_detectors=4, reverse_complement=False, num_hidden=4, seed=5),
    ]
    return ModelBank.from_params(ps, ["a", "b", "c", "d", "e"])


def _seq(n: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    s = list("".join(rng.choice(list("ACGT"), n)))
    s[5] = s[n // 2] = "N"
    return "".join(s)


@pytest.mark.parametrize("strand_merge", ["max", "mean", "forward"])
def test_fast_equals_naive(strand_merge):
    bank, seq = _mixed_bank(), _seq(70, 0)
    fast = mutmap.mutation_map(seq, bank, strand_merge=strand_merge)
    naive = mutmap.mutation_map(seq, bank, strand_merge=strand_merge, method="naive")
    np.testing.assert_allclose(fast.ref, naive.ref, atol=1e-5)
    np.testing.assert_allclose(fast.deltas, naive.deltas, atol=1e-5)
    assert np.isnan(fast.deltas).sum() == np.isnan(naive.deltas).sum() == 2 * 4 * len(bank)


def test_deltas_against_the_torch_model_by_hand():
    """A reference written here: mutate the string, score with the pure-torch DeepBind module, subtract."""
    import torch

    from varbind.model import DeepBind
    from varbind.sequence import one_hot

    bank, seq = _mixed_bank(), _seq(30, 1)
    mm = mutmap.mutation_map(seq, bank)
    nets = [DeepBind.from_params(p).eval() for p in bank.params]

    def scores(s: str) -> np.ndarray:
        with torch.no_grad():
            return np.array([float(net(one_hot([s]))[0]) for net in nets])

    ref = scores(seq)
    np.testing.assert_allclose(mm.ref, ref, atol=1e-5)
    for i in (0, 7, 16, 29):
        for b, base in enumerate("ACGT"):
            want = scores(seq[:i] + base + seq[i + 1 :]) - ref
            np.testing.assert_allclose(mm.deltas[:, b, i], want, atol=1e-5)
            if base == seq[i]:
                assert (mm.deltas[:, b, i] == 0).all()


def test_importance_is_worst_loss_and_zero_at_n():
    bank, seq = _mixed_bank(), _seq(40, 2)
    mm = mutmap.mutation_map(seq, bank)
    for r in range(len(bank)):
        for i, c in enumerate(seq):
            if c == "N":
                assert mm.importance[r, i] == 0 and np.isnan(mm.deltas[r, :, i]).all()
            else:
                others = [mm.deltas[r, b, i] for b in range(4) if "ACGT"[b] != c]
                assert mm.importance[r, i] == pytest.approx(max(0.0, -min(others)))
    assert np.allclose(mm.alt, mm.ref[:, None, None] + mm.deltas, equal_nan=True)


def test_weighted_deltas_follow_the_paper_formula():
    bank, seq = _mixed_bank(), _seq(25, 3)
    mm = mutmap.mutation_map(seq, bank)
    w = mutmap.weighted_deltas(mm)
    r, b, i = 1, 2, 10
    alt = mm.ref[r] + mm.deltas[r, b, i]
    assert w[r, b, i] == pytest.approx(mm.deltas[r, b, i] * max(0.0, mm.ref[r], alt), abs=1e-6)


def test_table_rows_and_select_and_rank():
    bank, seq = _mixed_bank(), "ACGTNAC"
    mm = mutmap.mutation_map(seq, bank)._replace(chrom="chr9", start=1000)
    t = mutmap.mutation_table(mm, {"a": "TFA"})
    assert list(t.columns) == ["chrom", "pos", "ref", "alt", "model", "tf", "delta"]
    assert len(t) == 3 * 6 * len(bank)  # 6 ACGT bases, 3 alternatives each
    row = t[(t.pos == 1003) & (t.alt == "A") & (t.model == "c")].iloc[0]
    assert row.ref == "G" and row.chrom == "chr9"
    assert row.delta == pytest.approx(mm.deltas[2, 0, 2])
    assert set(t[t.model == "a"].tf) == {"TFA"} and set(t[t.model == "b"].tf) == {""}
    sub = mutmap.select(mm, ["d", "a"])
    np.testing.assert_array_equal(sub.deltas[1], mm.deltas[0])
    order = mutmap.rank_models(mm)
    peak = np.nanmax(np.abs(mm.deltas).reshape(len(bank), -1), axis=1)
    assert list(peak[order]) == sorted(peak, reverse=True)


def test_substitute_checks_the_reference():
    assert mutmap.substitute("AAGAA", 2, "G", "T") == "AATAA"
    with pytest.raises(InputFormatError, match="has 'G'"):
        mutmap.substitute("AAGAA", 2, "C", "T")
    with pytest.raises(InputFormatError, match="equal length"):
        mutmap.substitute("AAGAA", 2, "G", "TT")


@pytest.mark.parametrize("text,msg", [
    ("chr5:100", "expected CHROM:START-END"),
    ("chr5:0-10", "at least 1"),
    ("chr5:20-10", "before START"),
    ("chr5 1-10", "expected CHROM:START-END"),
])
def test_bad_region_strings(text, msg):
    with pytest.raises(InputFormatError, match=msg):
        regions.parse_region(text)


def test_regions_from_a_fasta_with_ensembl_names(tmp_path):
    fa = tmp_path / "ref.fa"
    fa.write_text(">5\nACGTACGTAA\nCCGGTTAANN\n>MT\nGATC\n")
    assert regions.fetch_region(fa, regions.parse_region("chr5:9-12")) == "AACC"
    assert regions.fetch_region(fa, regions.parse_region("chrM:2-3")) == "AT"
    with pytest.raises(ContigNotFoundError, match="chr7"):
        regions.fetch_region(fa, regions.parse_region("chr7:1-2"))
    with pytest.raises(InputFormatError, match="past the end"):
        regions.fetch_region(fa, regions.parse_region("5:15-30"))
    with pytest.raises(RefMismatchError, match="differs"):
        regions.check_ref(regions.parse_variant("5:2:G:A"), "ACGT", regions.parse_region("5:1-4"))


def _db(tmp_path: Path) -> Path:
    """A tiny DeepBind db folder: two random models with factor names."""
    (tmp_path / "db" / "params").mkdir(parents=True)
    rows = []
    for k, (mid, tf) in enumerate([("X00001.001", "FOO"), ("X00002.001", "BAR")]):
        params.write(params.random_params(detector_len=8, num_detectors=4, seed=10 + k),
                     tmp_path / "db" / "params" / f"{mid}.txt")
        rows.append(f"{mid}\t{tf}\tTF\tHomo sapiens\tfam\t\tChIP-seq\t\tdeepbind 0.1\t\t\t\t")
    header = "ID\tProtein\tType\tSpecies\tFamily\tClass\tExperiment\tExperiment Details\tModel\tCite\tLabels\tPath\tComment"
    (tmp_path / "db" / "db.tsv").write_text(header + "\n" + "\n".join(rows) + "\n")
    return tmp_path / "db"


def test_cli_table_equals_api(tmp_path, capsys):
    db = _db(tmp_path)
    seq = "ACGTTGCAACGTAGGAAGTCCA"
    out = tmp_path / "t.tsv"
    assert main(["mutmap", "--sequence", seq, "--models", str(db), "--tf", "bar", "--table", str(out)]) == 0
    t = pd.read_csv(out, sep="\t")
    assert set(t.model) == {"X00002.001"} and set(t.tf) == {"BAR"} and len(t) == 3 * len(seq)
    bank = ModelBank.from_params([params.read(db / "params" / "X00002.001.txt")], ["X00002.001"])
    mm = mutmap.mutation_map(seq, bank)
    want = mutmap.mutation_table(mm)
    np.testing.assert_allclose(t.delta.to_numpy(), want.delta.to_numpy(), atol=1e-5)
    assert capsys.readouterr().out.startswith("model\ttf\tref_score")


def test_cli_region_variant_figure(tmp_path, saved_figures):
    """The figure the CLI saves draws the API's numbers: wild-type and mutant deltas over the flank,
    the variant boxed on its mutant cell (wild type) and on the reversion (mutant)."""
    db = _db(tmp_path)
    fa = tmp_path / "ref.fa"
    genome = _seq(120, 9).replace("N", "A")
    fa.write_text(">chr1\n" + genome + "\n")
    pos = 61
    ref = genome[pos - 1]
    alt = "A" if ref != "A" else "C"
    fig = tmp_path / "v.png"
    rc = main(["mutmap", "1:20-100", "--fasta", str(fa), "--models", str(db), "--ids", "X00002.001",
               "--variant", f"chr1:{pos}:{ref}:{alt}", "--flank", "10", "-o", str(fig), "--quiet"])
    assert rc == 0 and fig.exists()
    bank = ModelBank.from_params([params.read(db / "params" / "X00002.001.txt")], ["X00002.001"])
    region = genome[19:100]
    wt = mutmap.mutation_map(region, bank)
    mut = mutmap.mutation_map(mutmap.substitute(region, pos - 20, ref, alt), bank)
    heat = [a for a in saved_figures[0].axes if a.images]
    assert len(heat) == 2
    lo, hi = pos - 20 - 10, pos - 20 + 11  # 0-based offsets of the flank in the region
    for ax, mm in zip(heat, (wt, mut)):
        np.testing.assert_allclose(np.ma.filled(ax.images[0].get_array().astype(float), np.nan),
                                   mm.deltas[0, :, lo:hi], atol=1e-5)
        assert ax.get_xlim() == (pos - 10 - 0.5, pos + 10 + 0.5)
        lo_c, hi_c = ax.images[0].get_clim()
        want = np.abs(np.concatenate([wt.deltas[0, :, lo:hi], mut.deltas[0, :, lo:hi]], axis=1)).max()
        assert lo_c == -hi_c and hi_c == pytest.approx(want, rel=1e-5)
    (box_wt,), (box_mut,) = heat[0].patches, heat[1].patches
    assert box_wt.get_xy() == (pos - 0.5, "ACGT".index(alt) - 0.5)
    assert box_mut.get_xy() == (pos - 0.5, "ACGT".index(ref) - 0.5)
    change = float(mut.ref[0] - wt.ref[0])
    assert f"(Δ {change:+.2f})" in heat[1].logo_ax.get_title(loc="left")


@pytest.mark.parametrize("argv,msg", [
    (["mutmap", "chr1:10-5", "--fasta", "F"], "before START"),
    (["mutmap", "--sequence", "ACGX"], "invalid character 'X'"),
    (["mutmap", "chr1:1-5", "--sequence", "ACGT"], "not both"),
    (["mutmap", "chr1:1-5"], "needs --fasta"),
    (["mutmap", "--sequence", "ACGT", "-o", "x.jpg"], ".png, .svg or .pdf"),
])
def test_cli_errors_are_one_line(argv, msg, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert msg in err and err.count("\n") == 1


def test_cli_ref_mismatch_and_unknown_tf(tmp_path, capsys):
    db = _db(tmp_path)
    fa = tmp_path / "ref.fa"
    fa.write_text(">chr1\nACGTACGTACGTACGTACGT\n")
    assert main(["mutmap", "chr1:1-20", "--fasta", str(fa), "--models", str(db),
                 "--variant", "chr1:2:G:A", "-o", str(tmp_path / "x.png")]) == 2
    assert "REF G differs from the reference genome (C)" in capsys.readouterr().err
    assert main(["mutmap", "--sequence", "ACGTACGT", "--models", str(db), "--tf", "NOPE"]) == 2
    assert "no model for TF 'NOPE'" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


ETS_CHIP = {"D00409.004": "GABPA", "D00360.007": "ELK1", "D00363.004": "ELK4", "D00356.010": "ELF1",
            "D00378.009": "ETS1"}


@pytest.mark.data
def test_tert_c228t_c250t_create_ets_sites():
    """C228T and C250T (chr5:1295228 and 1295250 G>A, hg19; C>T on TERT's minus strand) make
    CCGGAA(G) ETS sites: every ETS ChIP-seq model of the DeepBind panel gains at both."""
    if not GENOME.exists() or not DEEPBIND.exists():
        pytest.skip(f"needs {GENOME} and {DEEPBIND} (the ../shared data folder)")
    from varbind.panels import deepbind_db

    ids, ps = deepbind_db.load_params(DEEPBIND, list(ETS_CHIP))
    mm = mutmap.mutation_map("chr5:1295104-1295362", ModelBank.from_params(ps, ids), fasta=GENOME)
    assert mm.seq[:10] == "TCGCGGGGGT" and len(mm.seq) == 259
    for pos in (1295228, 1295250):
        i = pos - 1 - mm.start
        assert mm.seq[i] == "G"
        gain = mm.deltas[:, 0, i]  # G>A
        assert (gain > 0).all(), dict(zip(ids, gain))
        # GABPA, ELK1, ELK4, ELF1: a large gain, among the 10 strongest of all 777 mutations of the region
        for r, mid in enumerate(ids[:4]):
            assert gain[r] > 0.5
            assert (mm.deltas[r] > gain[r]).sum() < 10
    # the same site is neutral for a non-ETS factor (CTCF ChIP-seq)
    ids2, ps2 = deepbind_db.load_params(DEEPBIND, ["D00328.018"])
    ctcf = mutmap.mutation_map("chr5:1295104-1295362", ModelBank.from_params(ps2, ids2), fasta=GENOME)
    assert abs(ctcf.deltas[0, 0, 1295228 - 1 - ctcf.start]) < 0.1


@pytest.mark.data
def test_tert_mutations_raise_the_ets_models_of_the_jaspar_panel():
    """The shipped JASPAR panel too: at C228T and C250T no ETS-family model (JASPAR PWMs, varbind's GABPA/ELK1
    CNNs) loses, most gain (a max-pooled PWM whose best site lies elsewhere in the region stays put),
    both CNNs gain, and percentiles move up with the scores."""
    if not GENOME.exists():
        pytest.skip(f"needs {GENOME} (the ../shared data folder)")
    from varbind.panels import sources as pretrained

    panel = pretrained.load_panel("jaspar", tf=["GABPA", "ELK1", "ELK4", "ETS1"])
    assert {"vbt_chip_GABPA", "vbt_chip_ELK1"} <= set(panel.bank.ids) and len(panel.bank) >= 6
    mm = mutmap.mutation_map("chr5:1295104-1295362", panel.bank, fasta=GENOME)
    for pos in (1295228, 1295250):
        i = pos - 1 - mm.start
        gain = mm.deltas[:, 0, i]  # G>A
        assert (gain >= 0).all() and (gain > 0).mean() >= 0.75, dict(zip(mm.ids, gain))
        assert all(gain[mm.ids.index(m)] > 0.1 for m in ("vbt_chip_GABPA", "vbt_chip_ELK1"))
        moved = gain > 0
        pct = pretrained.percentile(panel, (mm.ref + gain)[None]), pretrained.percentile(panel, mm.ref[None])
        assert (pct[0][0, moved] >= pct[1][0, moved]).all() and (pct[0][0, moved] > pct[1][0, moved]).mean() > 0.5
