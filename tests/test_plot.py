"""Figures: what is drawn is the data (heatmap cells, letter heights, colour scale, marks), rows
wrap and tile the sequence, and detector logos recover a planted motif."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from varbind import logos, mutmap, params, plot, regions  # noqa: E402
from varbind.bank import ModelBank  # noqa: E402


@pytest.fixture(scope="module")
def mm() -> mutmap.MutationMap:
    ps = [params.random_params(detector_len=8, num_detectors=4, seed=s) for s in (1, 2)]
    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list("ACGT"), 150))
    m = mutmap.mutation_map(seq, ModelBank.from_params(ps, ["m1", "m2"]))
    return m._replace(chrom="chr2", start=10_000)


def test_heatmap_shows_the_deltas_centred_at_zero(mm):
    ax = plot.plot_mutation_map(mm, "m2", segment=(20, 80))
    im = ax.images[0]
    np.testing.assert_array_equal(np.asarray(im.get_array()), mm.deltas[1, :, 20:80])
    lo, hi = im.get_clim()
    assert lo == -hi and hi == pytest.approx(np.abs(mm.deltas[1, :, 20:80]).max())
    assert im.get_extent()[:2] == [10_020.5, 10_080.5]  # 1-based genome coordinates
    assert [t.get_text() for t in ax.get_yticklabels()] == list("ACGT")
    plt.close(ax.figure)


def test_letters_are_the_reference_scaled_by_importance(mm):
    ax = plot.plot_mutation_map(mm, 0, segment=(0, 40))
    heights = {}
    for patch in ax.logo_ax.patches:  # logomaker glyphs: paths filling their (x, 0, 1, height) box
        v = patch.get_path().vertices
        if len(v) and np.ptp(v[:, 1]) > 1e-9:
            heights[round(v[:, 0].min() + np.ptp(v[:, 0]) / 2)] = np.ptp(v[:, 1])
    imp = mm.importance[0, :40]
    for i in np.flatnonzero(imp > 1e-6):
        assert heights[10_001 + i] == pytest.approx(imp[i], rel=1e-3)
    plt.close(ax.figure)


def test_variant_is_marked_on_its_mutant_cell(mm):
    v = regions.Variant("chr2", 10_031, mm.seq[30], "ACGT"[("ACGT".index(mm.seq[30]) + 1) % 4], "rs1")
    ax = plot.plot_mutation_map(mm, 0, variants=[v], title="T")
    boxes = [p for p in ax.patches]
    assert len(boxes) == 1
    x, y = boxes[0].get_xy()
    assert (x + 0.5, y + 0.5) == (10_031, "ACGT".index(v.alt))
    assert any(t.get_text() == "rs1" for t in ax.logo_ax.texts)
    plt.close(ax.figure)


def test_figure_rows_tile_the_sequence(mm):
    fig = plot.mutation_map_figure(mm, ["m1", "m2"], tf={"m1": "FOO"}, row_bp=60)
    heat = [a for a in fig.axes if a.images]
    assert len(heat) == 2 * 3  # 150 bp -> 3 rows of 50, per model
    spans = [a.get_xlim() for a in heat[:3]]
    assert spans[0][0] == 10_000.5 and spans[-1][1] == 10_150.5
    assert all(b[0] == a[1] for a, b in zip(spans, spans[1:]))
    titles = [a.get_title(loc="left") for a in fig.axes if a.get_title(loc="left")]
    assert titles[0].startswith("FOO (m1)") and "chr2:10,001-10,150" in titles[0] and titles[1].startswith("m2")
    plt.close(fig)


def test_variant_figure_shares_one_scale_per_model(mm):
    v = regions.Variant("chr2", 10_076, mm.seq[75], "ACGT"[("ACGT".index(mm.seq[75]) + 2) % 4])
    bank = ModelBank.from_params([params.random_params(detector_len=8, num_detectors=4, seed=s) for s in (1, 2)],
                                 ["m1", "m2"])
    mut = mutmap.mutation_map(mutmap.substitute(mm.seq, 75, v.ref, v.alt), bank)._replace(chrom="chr2", start=10_000)
    fig = plot.variant_figure(mm, mut, v, [0, 1], flank=10)
    heat = [a for a in fig.axes if a.images]
    assert len(heat) == 4 and heat[0].images[0].get_clim() == heat[1].images[0].get_clim()
    assert heat[0].get_xlim() == (10_065.5, 10_086.5)
    assert "Δ" in heat[1].logo_ax.get_title(loc="left")
    plt.close(fig)


def test_detector_logo_recovers_a_planted_motif():
    p = params.random_params(detector_len=8, num_detectors=2, seed=0)
    p.detectors[:] = 0.0
    for j, base in enumerate("GGAA", start=2):  # detector 0: GGAA at offsets 2..5
        p.detectors[0, "ACGT".index(base), j] = 1.0
    p.detectors[1] = np.random.default_rng(2).normal(size=(4, 8))
    p.thresholds[:] = [-3.5, -100.0]  # detector 1 never fires -> weight fallback
    found = logos.detector_logos(p, logos.random_sequences(2000, 60, seed=1), top=200, min_sites=50)
    assert found[0].kind == "sites" and found[0].n_sites == 200
    info = found[0].matrix.to_numpy()
    assert "".join("ACGT"[k] for k in info[2:6].argmax(axis=1)) == "GGAA"
    assert info[2:6].max(axis=1).min() > 1.5 and info[[0, 1, 6, 7]].sum(axis=1).max() < 0.3
    assert found[1].kind == "weights" and found[1].n_sites == 0
    fig = plot.detector_logos_figure(found, title="planted")
    assert len([a for a in fig.axes if a.axison]) == 2
    plt.close(fig)
