"""Mutation-map figures and tables tell the truth: no map of an all-N region, no axis scaled to float
rounding, masked sites flagged (tables, figures, annotate), readable reference cells, the contig on
the axis, every --tf factor shown."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from pathlib import Path  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from varbind import masking, mutmap, mutmap_noise, params, plot  # noqa: E402
from varbind.bank import ModelBank  # noqa: E402
from varbind.cli import main  # noqa: E402
from varbind.cli.mutmap import per_factor  # noqa: E402
from varbind.panels.jaspar import log_odds, pwm_params  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
GENOME = REPO.parent / "shared" / "data" / "genome" / "hg19_sparse.fa.gz"
#: a GGAA matrix (rows ACGT) with strong columns: its best score over a sequence is a count of GGAA matches
GGAA = log_odds(np.array([[0, 0, 40, 40], [0, 0, 0, 0], [40, 40, 0, 0], [0, 0, 0, 0]], float))
#: a strong native GGAA at 10-13 (0-based), a near site GGCA at 40-43 whose C>A (offset 42) makes a second one
SEQ = "TTTTTTTTTTGGAATTTTTTTTTTTTTTTTTTTTTTTTTTGGCATTTTTTTTTTTTTTTTT"



def _db(tmp_path: Path, models: dict[str, tuple[str, params.DeepBindParams]]) -> Path:
    """A DeepBind db folder holding ``{id: (factor, params)}``."""
    (tmp_path / "db" / "params").mkdir(parents=True)
    rows = []
    for mid, (tf, p) in models.items():
        params.write(p, tmp_path / "db" / "params" / f"{mid}.txt")
        rows.append(f"{mid}\t{tf}\tTF\tHomo sapiens\tfam\t\tChIP-seq\t\tdeepbind 0.1\t\t\t\t")
    header = "ID\tProtein\tType\tSpecies\tFamily\tClass\tExperiment\tExperiment Details\tModel\tCite\tLabels\tPath\tComment"
    (tmp_path / "db" / "db.tsv").write_text(header + "\n" + "\n".join(rows) + "\n")
    return tmp_path / "db"


# ------------------------------------------------------------------ no signal, no noise


def test_all_n_region_is_refused_with_one_line(tmp_path, capsys):
    fa = tmp_path / "n.fa"
    fa.write_text(">chr5\n" + "N" * 200 + "\n")
    assert main(["mutmap", "chr5:100-150", "--fasta", str(fa), "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err == ("varbind mutmap: error: chr5:100-150: the reference is N at all 51 positions: nothing to "
                   "mutate (a masked or unassembled region?)\n")
    assert not (tmp_path / "x.png").exists()
    assert main(["mutmap", "--sequence", "NNNN"]) == 2
    assert "the sequence is N at all 4 positions" in capsys.readouterr().err


def test_noise_floor_separates_rounding_from_effects():
    d = np.zeros((3, 4, 5), np.float32)
    d[0, 1, 2] = 9e-4  # model 0: reference 10 -> floor 1e-3: rounding
    d[1, 1, 2] = 2e-3  # model 1: reference 10 -> above the floor: an effect
    d[2, 0, 0] = -2e-4  # model 2: reference 0.5 -> floor 1e-4: an effect
    mm = mutmap.MutationMap("ACGTA", list("abc"), np.array([10.0, 10.0, 0.5], np.float32), d, mutmap.importance(d))
    np.testing.assert_allclose(mutmap_noise.noise_floor(mm), [1e-3, 1e-3, 1e-4])
    assert mutmap_noise.has_effect(mm).tolist() == [False, True, True]
    clean = mutmap_noise.denoised(mm)
    assert clean.deltas[0].max() == 0 and clean.deltas[1, 1, 2] == np.float32(2e-3)
    np.testing.assert_array_equal(clean.importance[2], np.array([2e-4, 0, 0, 0, 0], np.float32))


def test_a_noise_only_model_gets_no_letters_no_noise_axis_and_a_note():
    rng = np.random.default_rng(1)
    d = (rng.normal(size=(1, 4, 30)) * 1e-6).astype(np.float32)  # what a non-responding model shows
    seq = "".join(rng.choice(list("ACGT"), 30))
    codes = np.array(["ACGT".index(c) for c in seq])
    d[0, codes, np.arange(30)] = 0
    mm = mutmap.MutationMap(seq, ["flat"], np.array([3.0], np.float32), d, mutmap.importance(d), "chr9", 100)
    ax = plot.plot_mutation_map(mm, 0)
    im = ax.images[0]
    assert im.get_clim() == (-1.0, 1.0)  # not +-1e-6
    np.testing.assert_array_equal(np.asarray(im.get_array()), np.zeros((4, 30)))
    glyph_heights = [np.ptp(p.get_path().vertices[:, 1]) for p in ax.logo_ax.patches if len(p.get_path().vertices)]
    assert max(glyph_heights, default=0.0) < 1e-9
    assert ax.logo_ax.get_ylim()[1] == pytest.approx(1.25)
    assert any(t.get_text().startswith("no effect") for t in ax.logo_ax.texts)
    plt.close(ax.figure)


def test_cli_says_which_models_have_no_effect(tmp_path, capsys, saved_figures):
    dead = params.random_params(detector_len=6, num_detectors=2, seed=3)
    dead.detectors[:] = 0.0  # every window scores the same: no substitution can matter
    live = params.random_params(detector_len=6, num_detectors=2, seed=4)
    db = _db(tmp_path, {"X1": ("DEAD", dead), "X2": ("LIVE", live)})
    seq = "ACGTTGCAACGTAGGAAGTCCAGT"
    assert main(["mutmap", "--sequence", seq, "--models", str(db), "--ids", "X1,X2",
                 "-o", str(tmp_path / "m.png")]) == 0
    err = capsys.readouterr().err
    assert "X1: no effect" in err and "X2: no effect" not in err
    heat = [a for a in saved_figures[0].axes if a.images]
    notes = [[t.get_text() for t in a.logo_ax.texts if t.get_text().startswith("no effect")] for a in heat]
    by_title = {a.logo_ax.get_title(loc="left").split()[0]: n for a, n in zip(heat, notes)}
    assert by_title["DEAD"] and not by_title["LIVE"]


# ------------------------------------------------------------------ what the map draws


def test_reference_cells_are_gold_and_lettered_and_the_axis_names_the_contig():
    bank = ModelBank.from_params([params.random_params(detector_len=6, num_detectors=3, seed=2)], ["m"])
    seq = "ACGTNACGGTTACA"
    mm = mutmap.mutation_map(seq, bank)._replace(chrom="chr7", start=5000)
    ax = plot.plot_mutation_map(mm, 0)
    deltas_im, ref_im = ax.images[0], ax.images[1]
    np.testing.assert_array_equal(np.ma.filled(deltas_im.get_array().astype(float), np.nan), mm.deltas[0])
    ref_cells = ~np.ma.getmaskarray(ref_im.get_array())
    want = np.zeros((4, len(seq)), bool)
    for i, c in enumerate(seq):
        if c != "N":
            want["ACGT".index(c), i] = True
    np.testing.assert_array_equal(ref_cells, want)
    assert matplotlib.colors.to_hex(ref_im.get_cmap()(1.0)) == plot.REF_CELL_COLOR
    letters = {(round(t.get_position()[0]), round(t.get_position()[1])): t.get_text() for t in ax.texts}
    assert letters == {(5001 + i, "ACGT".index(c)): c for i, c in enumerate(seq) if c != "N"}
    assert ax.get_xlabel() == "chr7 position (1-based)"
    plt.close(ax.figure)


def test_per_factor_shows_every_named_factor():
    # rows ranked 4, 2, 0, 1; factor of each row in that order
    assert per_factor([4, 2, 0, 1], ["ELK1", "ELK1::HOXB13", "ELF2", "GABPA"], ["ELF2", "ELK1", "GABPA"], 3) == [0, 4, 1]
    assert per_factor([4, 2, 0, 1], ["ELK1", "ELK1::HOXB13", "ELF2", "GABPA"], ["ELF2", "ELK1", "GABPA"], 4) == [0, 4, 1, 2]
    assert per_factor([3, 1], ["A", "A"], ["A", "B"], 2) == [3, 1]  # B has no model: A fills the slots


def test_demo_figure_shows_gabpa(capsys, saved_figures, tmp_path):
    """``make demo``'s mutmap: --tf ELF1,ELK1,GABPA --top 3 draws one model of each factor."""
    demo = REPO / "examples" / "demo"
    assert main(["mutmap", "chr1:286-325", "--fasta", str(demo / "ref.fa"), "--tf", "ELF1,ELK1,GABPA",
                 "--top", "3", "--vcf", str(demo / "variants.vcf"), "-o", str(tmp_path / "demo.png")]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()[1:]]
    assert [r[1].upper() for r in rows] == ["ELF1", "ELK1", "GABPA"]
    titles = [a.logo_ax.get_title(loc="left") for a in saved_figures[0].axes if a.images]
    assert [t.split()[0].upper() for t in titles] == ["ELF1", "ELK1", "GABPA"]


# ------------------------------------------------------------------ masked sites


def _pwm_bank() -> ModelBank:
    return ModelBank.from_params([pwm_params(GGAA)], ["ggaa"])


def test_a_site_masked_by_a_stronger_one_is_found_and_located():
    bank = _pwm_bank()
    mm = mutmap.mutation_map(SEQ, bank)
    assert mm.deltas[0, 0, 42] == 0  # C>A makes a second GGAA: the max does not move
    levels = masking.null_levels(bank)  # no null table: measured on the shipped background
    found = masking.map_masking(mm, bank, levels)
    # the local gain is the PWM's own arithmetic: GGCA -> GGAA changes one column's log-odds
    one = masking.masked_mutations(bank, SEQ, np.array([42]), np.array(["A"]), mm.deltas[:, 0, [42]].T, levels)
    assert one.local_gain[0, 0] == pytest.approx(GGAA[0, 2] - GGAA[1, 2], abs=1e-4)
    assert found.flagged[0, 0, 42] and (found.site_start[0, 0, 42], found.site_end[0, 0, 42]) == (10, 14)
    # the native site's own bases, and every other substitution, are not "masked" sites
    assert found.flagged[0].sum() == 1
    # partial (3 of 4) GGAA matches are background, not sites: with no site level (and a unit spread) they
    # would be flagged
    loose = masking.map_masking(mm, bank, masking.NullLevels(spread=np.array([1.0]), site=np.array([-np.inf])))
    assert loose.flagged[0].sum() > 1 and loose.flagged[0, 0, 42]
    assert not masking.map_masking(mm, bank, levels._replace(site=np.array([np.inf]))).flagged.any()


def test_mutmap_table_and_figure_flag_the_masked_site(tmp_path, saved_figures):
    db = _db(tmp_path, {"P1": ("ETSX", pwm_params(GGAA))})
    table = tmp_path / "t.tsv"
    assert main(["mutmap", "--sequence", SEQ, "--models", str(db), "--table", str(table),
                 "-o", str(tmp_path / "m.png"), "--quiet"]) == 0
    t = pd.read_csv(table, sep="\t", keep_default_na=False)
    flagged = t[t.masked_by != ""]
    assert flagged[["pos", "alt"]].values.tolist() == [[43, "A"]]
    assert flagged.masked_by.tolist() == ["site created but masked by a stronger site at sequence 11-14"]
    heat = [a for a in saved_figures[0].axes if a.images]
    rings = [c for a in heat for c in a.collections if c.get_label() == "masked"]
    assert len(rings) == 1 and rings[0].get_offsets().tolist() == [[43.0, 0.0]]
    assert any("stronger site at sequence 11-14" in t.get_text() for a in heat for t in a.texts)


def test_annotate_table_has_a_masked_by_column(tmp_path):
    from varbind.annotate.api import annotate_vcf

    fa = tmp_path / "ref.fa"
    genome = "C" * 200 + SEQ + "C" * 200
    fa.write_text(">chr1\n" + genome + "\n")
    pos_masked = 200 + 42 + 1  # 1-based: the C of GGCA
    pos_plain = 200 + 30 + 1  # a T in the middle of nowhere
    (tmp_path / "v.vcf").write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=%d>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "chr1\t%d\tp\tT\tG\t.\t.\t.\nchr1\t%d\tm\tC\tA\t.\t.\t.\n" % (len(genome), pos_plain, pos_masked))
    annotate_vcf(str(tmp_path / "v.vcf"), str(fa), str(tmp_path / "o.tsv"), _pwm_bank(), deepfind=False)
    t = pd.read_csv(tmp_path / "o.tsv", sep="\t", keep_default_na=False)
    assert "masked_by" in t.columns
    got = dict(zip(t.id, t.masked_by))
    assert got == {"p": "", "m": "site created but masked by a stronger site at chr1:211-214"}
    assert t.set_index("id").delta["m"] == 0


@pytest.mark.data
def test_tert_c228t_is_a_masked_gabpa_site():
    """JASPAR GABPA (MA0062.4) scores TERT C228T with delta 0: the promoter's native ETS site at
    chr5:1,295,197-1,295,206 already sets its maximum. The table says so."""
    if not GENOME.exists():
        pytest.skip(f"needs {GENOME} (the ../shared data folder)")
    from varbind.panels import sources as pretrained

    panel = pretrained.load_panel("jaspar", ids=["MA0062.4"])
    mm = mutmap.mutation_map("chr5:1295104-1295362", panel.bank, fasta=GENOME)
    i = 1295228 - 1 - mm.start
    assert mm.deltas[0, 0, i] == 0
    found = masking.map_masking(mm, panel.bank, masking.null_levels(panel.bank, panel.null))
    assert found.flagged[0, 0, i]
    assert masking.describe(mm.chrom, mm.start, int(found.site_start[0, 0, i]), int(found.site_end[0, 0, i])) == \
        "site created but masked by a stronger site at chr5:1295197-1295206"


def test_masking_is_the_same_in_chunks(monkeypatch):
    """Long maps are checked CHUNK edits at a time (bounded memory): same flags and sites."""
    bank = _pwm_bank()
    rng = np.random.default_rng(0)
    mm = mutmap.mutation_map("".join(rng.choice(list("ACGT"), 300)), bank)
    levels = masking.null_levels(bank)
    whole = masking.map_masking(mm, bank, levels)
    monkeypatch.setattr(masking, "CHUNK", 7)
    chunked = masking.map_masking(mm, bank, levels)
    assert whole.flagged.sum() > 3
    np.testing.assert_array_equal(whole.site_start, chunked.site_start)
    np.testing.assert_array_equal(whole.site_end, chunked.site_end)
