"""Logos: a PWM's logo is its matrix (information content from the counts, its own orientation,
positions 1..m, a canvas the size of the logo); CNN detector logos get positions too."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from varbind import logos, params, plot  # noqa: E402
from varbind.cli import main  # noqa: E402
from varbind.panels.jaspar import log_odds, pwm_params  # noqa: E402

COUNTS = np.array([[30.0, 0, 2, 10, 5], [0, 28, 2, 8, 5], [0, 2, 24, 6, 5], [0, 0, 2, 0, 15]])  # ACGT x 5



def _glyphs(ax) -> dict[int, dict[str, float]]:
    """Drawn letter heights by x position (logomaker glyph paths fill their (x, bottom, 1, height) box)."""
    out: dict[int, dict[str, float]] = {}
    for patch in ax.patches:
        v = patch.get_path().vertices
        if len(v) and np.ptp(v[:, 1]) > 1e-6:
            x = round(v[:, 0].min() + np.ptp(v[:, 0]) / 2)
            out.setdefault(x, {})[len(out.get(x, {}))] = float(np.ptp(v[:, 1]))
    return out


def test_pwm_logo_is_the_information_content_of_its_counts():
    """Reference written here from the counts: JASPAR's square-root pseudocount, then p * (2 - H)."""
    p = pwm_params(log_odds(COUNTS))
    assert logos.is_pwm(p)
    lg = logos.pwm_logo(p)
    n = COUNTS.sum(axis=0)
    prob = ((COUNTS + np.sqrt(n) / 4) / (n + np.sqrt(n))).T  # (m, 4)
    ic = 2 + (prob * np.log2(prob)).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(lg.matrix.to_numpy(), prob * ic, atol=1e-6)
    assert lg.kind == "pwm" and lg.matrix.index.tolist() == [1, 2, 3, 4, 5]
    assert "".join(lg.matrix.idxmax(axis=1)) == "ACGAT"


def test_a_cnn_is_not_a_pwm():
    assert not logos.is_pwm(params.random_params(detector_len=5, num_detectors=1, seed=0))
    p = pwm_params(log_odds(COUNTS))
    p.biases1[:] = 0.0  # no longer cancels the threshold: a thresholded detector, not a PWM
    assert not logos.is_pwm(p)


def test_reverse_complement_matrix():
    lg = logos.pwm_logo(pwm_params(log_odds(COUNTS)))
    rc = logos.reverse_complement_matrix(lg.matrix)
    np.testing.assert_allclose(rc.to_numpy(), lg.matrix.to_numpy()[::-1, ::-1])
    assert "".join(rc.idxmax(axis=1)) == "ATCGT"


def test_drawn_pwm_logo_heights_positions_and_canvas():
    lg = logos.pwm_logo(pwm_params(log_odds(COUNTS)))
    fig = plot.detector_logos_figure([lg], title="X · PWM")
    ax = fig.axes[0]
    drawn = _glyphs(ax)
    for j in range(5):  # the glyphs at position j+1 are the nonzero heights of row j, in any order
        want = sorted(h for h in lg.matrix.iloc[j] if h > 1e-6)
        assert sorted(drawn[j + 1].values()) == pytest.approx(want, rel=1e-3)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3", "4", "5"]
    assert ax.get_title() == "X · PWM" and fig._suptitle is None
    # the logo fills its canvas: axes >= 30% of the figure (the old 4-column grid: ~15% for one logo)
    pos = ax.get_position()
    assert pos.width * pos.height >= 0.3
    plt.close(fig)


def test_cli_logo_of_a_jaspar_pwm_is_its_matrix(saved_figures, tmp_path):
    """MA0062.4 (GABPA) as pyjaspar's JASPAR2024 matrix reads: CACTTCCTGT; --reverse-complement: ACAGGAAGTG."""
    from varbind.panels import sources as pretrained

    panel = pretrained.load_panel("jaspar", ids=["MA0062.4"])
    want = logos.pwm_logo(panel.bank.params[0]).matrix
    assert main(["logo", "MA0062.4", "-o", str(tmp_path / "g.png")]) == 0
    assert main(["logo", "MA0062.4", "--reverse-complement", "-o", str(tmp_path / "rc.png")]) == 0
    for fig, matrix, consensus in ((saved_figures[0], want, "CACTTCCTGT"),
                                   (saved_figures[1], logos.reverse_complement_matrix(want), "ACAGGAAGTG")):
        ax = fig.axes[0]
        assert "".join(matrix.idxmax(axis=1)) == consensus
        drawn = _glyphs(ax)
        assert sorted(drawn) == list(range(1, 11))
        tallest = [max(drawn[x].values()) for x in range(1, 11)]
        np.testing.assert_allclose(tallest, matrix.max(axis=1).to_numpy(), rtol=1e-3)
        assert "PWM" in ax.get_title()


def test_cli_logo_of_a_cnn_has_positions(saved_figures, tmp_path):
    f = tmp_path / "M1.txt"
    p = params.random_params(detector_len=6, num_detectors=3, seed=4)
    params.write(p, f)
    assert main(["logo", str(f), "-o", str(tmp_path / "logo.svg"), "--sites", "100"]) == 0
    fig = saved_figures[0]
    assert "M1" in fig._suptitle.get_text()
    shown = [a for a in fig.axes if a.axison]
    assert len(shown) == 3 and len(fig.axes) == 3  # three columns for three detectors, no empty panels
    for ax in shown:
        assert [t.get_text() for t in ax.get_xticklabels()] == [str(i) for i in range(1, 7)]
    found = logos.detector_logos(params.read(f), top=100)
    for ax, lg in zip(shown, found):
        drawn = _glyphs(ax)
        if lg.kind == "sites":
            tallest = [max(drawn.get(x, {0: 0.0}).values()) for x in range(1, 7)]
            np.testing.assert_allclose(tallest, lg.matrix.clip(lower=0).max(axis=1).to_numpy(), rtol=1e-3, atol=1e-6)
