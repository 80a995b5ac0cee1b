"""Figures: mutation maps (the DeepBind paper's Figure 4) and detector logos.

Every ``plot_*`` function draws into ``ax`` (a new figure when ``None``) and returns the axes it
drew on; the ``*_figure`` functions compose them into a whole figure and return it.

A mutation map of one model is two stacked panels sharing the x axis (1-based genome
coordinates): the reference sequence as letters whose heights are the bases' importance
(:func:`varbind.mutmap.importance`), and under it a 4 x n heatmap of the score change of every
point mutation, blue for losses and red for gains on a colour scale centred at 0.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .mutmap import BASES, MutationMap, weighted_deltas

#: letters per figure row in :func:`mutation_map_figure` (wider regions wrap onto several rows)
ROW_BP = 90
#: inches of figure width per base
INCH_PER_BP = 0.135
CMAP = "RdBu_r"
CAPTION = ("Letters: the reference sequence; letter height = importance (the largest score loss any mutation of "
           "that base causes). Cells: score change of each possible substitution (red gain, blue loss, white "
           "none); gold: the reference base, lettered; grey: N (not mutated); ○: the substitution creates a site "
           "that a stronger site elsewhere masks (the score's max is already set there).")
VARIANT_COLOR = "#d62728"
#: the reference base's cell (its delta is 0 by definition, so it gets its own colour and its letter)
REF_CELL_COLOR = "#f2d98d"
MASK_COLOR = "#222222"


def _new_ax(figsize=(8, 3)):
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize)[1]


def _coord_formatter(ax) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(nbins=10, integer=True, steps=[1, 2, 5, 10]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{int(round(x)):,}"))


def plot_logo(matrix, ax=None, *, title: str | None = None, ylabel: str = "bits"):
    """A sequence logo of an ``(m, 4)`` matrix (``pandas.DataFrame`` with columns A C G T).

    Returns the axes.
    """
    import logomaker

    ax = ax if ax is not None else _new_ax((3, 1.3))
    matrix = matrix.set_axis(np.arange(1, len(matrix) + 1), axis=0)  # positions 1..m on the x axis
    logomaker.Logo(matrix, ax=ax, color_scheme="classic", show_spines=False, baseline_width=0.5)
    ax.set_xticks(range(1, len(matrix) + 1), [str(i) if len(matrix) <= 16 or i % 2 else "" for i in
                                              range(1, len(matrix) + 1)])
    ax.set_xlabel("position", fontsize=7, labelpad=1)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    if title:
        ax.set_title(title, fontsize=8)
    return ax


def _segment(mm: MutationMap, segment: tuple[int, int] | None) -> tuple[int, int]:
    lo, hi = segment if segment is not None else (0, len(mm.seq))
    if not 0 <= lo < hi <= len(mm.seq):
        raise ValueError(f"segment {segment} is not inside the sequence (0..{len(mm.seq)})")
    return lo, hi


def plot_mutation_map(
    mm: MutationMap,
    model: int | str = 0,
    ax=None,
    *,
    segment: tuple[int, int] | None = None,
    vmax: float | None = None,
    imax: float | None = None,
    variants: Sequence = (),
    title: str | None = None,
    weighted: bool = False,
    colorbar: bool = True,
    masking=None,
):
    """Draw one model's mutation map: importance letters over a 4 x n delta heatmap.

    Parameters
    ----------
    mm : MutationMap
    model : int or str
        Row index or model ID.
    ax : matplotlib Axes, optional
        Receives the heatmap; the letters and the colour bar are added beside it
        (``make_axes_locatable``). Default: a new figure.
    segment : (int, int), optional
        0-based half-open offsets into the sequence to draw (default: all of it).
    vmax, imax : float, optional
        Colour-scale half-range and letter-height limit (default: this segment's maxima), to share
        scales across rows or panels.
    variants : sequence of regions.Variant
        Marked with a red triangle over the letter and a box around the mutant's cell.
    title : str, optional
        Drawn over the letters.
    weighted : bool
        Show :func:`varbind.mutmap.weighted_deltas` instead of raw deltas.
    colorbar : bool
    masking : varbind.masking.MapMasking, optional
        Substitutions that create a site masked by a stronger one get a ring and a note.

    A model whose deltas are all float rounding (:func:`varbind.mutmap_noise.has_effect`) gets no
    letters, a zero heatmap on a unit colour scale and a "no effect" note. The reference base's cell
    is gold and holds its letter; the x axis is labelled with the contig.

    Returns
    -------
    matplotlib Axes
        The heatmap axes (the letters are ``ax.logo_ax``).
    """
    import pandas as pd
    from matplotlib.patches import Rectangle
    from mpl_toolkits.axes_grid1 import make_axes_locatable

    from .mutmap_noise import has_effect

    row = mm.ids.index(model) if isinstance(model, str) else int(model)
    lo, hi = _segment(mm, segment)
    deltas = (weighted_deltas(mm) if weighted else mm.deltas)[row, :, lo:hi]
    imp = mm.importance[row, lo:hi]
    pos = mm.positions[lo:hi]
    effect = bool(has_effect(mm)[row])
    if not effect:  # rounding noise only: nothing to draw, and no axis scaled to it
        deltas, imp, vmax, imax = np.where(np.isnan(deltas), np.nan, 0.0), np.zeros_like(imp), 1.0, 1.0
    ax = ax if ax is not None else _new_ax((max(4.0, INCH_PER_BP * (hi - lo) + 1.5), 2.6))
    if vmax is None:
        vmax = float(np.nanmax(np.abs(deltas))) if np.isfinite(deltas).any() else 1.0
    vmax = vmax or 1.0
    div = make_axes_locatable(ax)
    logo_ax = div.append_axes("top", size="115%", pad=0.04, sharex=ax)
    im = ax.imshow(np.ma.masked_invalid(deltas), cmap=CMAP, vmin=-vmax, vmax=vmax, aspect="auto",
                   interpolation="nearest", extent=(pos[0] - 0.5, pos[-1] + 0.5, 3.5, -0.5))
    ax.set_facecolor("#dddddd")  # N positions (no mutations) show grey
    codes = np.array(["ACGTN".index(c) for c in mm.seq[lo:hi]])
    ok = codes < 4
    _reference_cells(ax, codes, pos)
    if masking is not None:
        _masked_cells(ax, masking.flagged[row, :, lo:hi], pos)
    ax.set_yticks(range(4), list(BASES), fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    _coord_formatter(ax)
    ax.set_xlim(pos[0] - 0.5, pos[-1] + 0.5)
    ax.set_xlabel(f"{mm.chrom} position (1-based)" if mm.chrom else "position in the sequence", fontsize=8,
                  labelpad=1, loc="left")
    # letters: the reference base of each position, as tall as its importance
    heights = np.zeros((hi - lo, 4))
    heights[np.flatnonzero(ok), codes[ok]] = imp[ok]
    import warnings

    import logomaker

    with warnings.catch_warnings():  # an all-zero logo (nothing matters) makes logomaker warn on ylim
        warnings.simplefilter("ignore", UserWarning)
        logomaker.Logo(pd.DataFrame(heights, columns=list(BASES), index=pos), ax=logo_ax,
                       color_scheme="classic", show_spines=False, baseline_width=0)
    top = imax if imax is not None else float(imp.max()) if imp.size else 0.0
    logo_ax.set_ylim(0, (top or 1.0) * 1.25)
    logo_ax.set_ylabel("importance", fontsize=8)
    logo_ax.tick_params(axis="y", labelsize=7)
    logo_ax.tick_params(axis="x", bottom=False, labelbottom=False)
    for v in variants:
        off = v.start - mm.start
        if not lo <= off < hi:
            continue
        x = mm.start + off + 1
        logo_ax.plot([x], [(top or 1.0) * 1.12], marker="v", color=VARIANT_COLOR, markersize=7, clip_on=False)
        logo_ax.annotate(v.label, (x, (top or 1.0) * 1.12), xytext=(6, 0), textcoords="offset points",
                         fontsize=8, color=VARIANT_COLOR, va="center")
        for b in (BASES.index(a) for a in v.alt[:1] if a in BASES):
            ax.add_patch(Rectangle((x - 0.5, b - 0.5), 1, 1, fill=False, lw=1.3, ec="black"))
    if title:
        logo_ax.set_title(title, fontsize=10, loc="left")
    if not effect:
        logo_ax.text(0.5, 0.45, "no effect: no substitution changes this model's score beyond float rounding",
                     transform=logo_ax.transAxes, ha="center", va="center", fontsize=8.5, color="#444444")
    notes = _masking_notes(mm, masking, row, lo, hi) if masking is not None else []
    if notes:  # on the x label's line, right-aligned (the label is left-aligned)
        ax.annotate("\n".join(notes[:2] + (["…"] if len(notes) > 2 else [])), xy=(1, 0), xycoords="axes fraction",
                    xytext=(0, -17), textcoords="offset points", ha="right", va="top", fontsize=7, color="#333333")
    if colorbar:
        cax = div.append_axes("right", size=0.12, pad=0.08)
        cb = ax.figure.colorbar(im, cax=cax)
        cb.set_label("weighted Δ" if weighted else "Δ score", fontsize=8)
        cb.ax.tick_params(labelsize=7)
    else:
        div.append_axes("right", size=0.12, pad=0.08).set_axis_off()  # keep rows aligned
    ax.logo_ax = logo_ax
    return ax


def _reference_cells(ax, codes: np.ndarray, pos: np.ndarray) -> None:
    """Gold cells with their letter at the reference base of each position (``ax.images[1]``)."""
    from matplotlib.colors import ListedColormap

    ref = np.zeros((4, len(codes)))
    ok = np.flatnonzero(codes < 4)
    ref[codes[ok], ok] = 1.0
    ax.imshow(np.ma.masked_equal(ref, 0.0), cmap=ListedColormap([REF_CELL_COLOR]), vmin=0, vmax=1, aspect="auto",
              interpolation="nearest", extent=(pos[0] - 0.5, pos[-1] + 0.5, 3.5, -0.5))
    size = 7 if len(codes) <= 120 else 5
    for i in ok.tolist():
        ax.text(pos[i], codes[i], BASES[codes[i]], ha="center", va="center", fontsize=size, color="#333333")


def _masked_cells(ax, flagged: np.ndarray, pos: np.ndarray) -> None:
    """A ring in each cell whose substitution creates a masked site (``flagged``: (4, n) bool)."""
    b, i = np.nonzero(flagged)
    if len(i):
        ax.scatter(pos[i], b, s=16, facecolors="none", edgecolors=MASK_COLOR, linewidths=0.8, zorder=3,
                   label="masked")


def _masking_notes(mm: MutationMap, masking, row: int, lo: int, hi: int) -> list[str]:
    """``○ k substitutions create a site masked by a stronger site at chr:a-b`` per masking site."""
    from .masking import describe

    b, i = np.nonzero(masking.flagged[row, :, lo:hi])
    sites: dict[tuple[int, int], int] = {}
    for bb, ii in zip(b.tolist(), (i + lo).tolist()):
        key = (int(masking.site_start[row, bb, ii]), int(masking.site_end[row, bb, ii]))
        sites[key] = sites.get(key, 0) + 1
    return [f"○ {k}× {describe(mm.chrom, mm.start, a, e).replace('site created but masked', 'site created, masked')}"
            for (a, e), k in sorted(sites.items())]


def _variant_masked(mm: MutationMap, masking, row: int, variant) -> str:
    """``  ·  site created but masked by ...`` when the (single-base) variant is a masked site."""
    off, b = variant.start - mm.start, BASES.find(variant.alt)
    if masking is None or len(variant.alt) != 1 or b < 0 or not masking.flagged[row, b, off]:
        return ""
    from .masking import describe

    return "  ·  " + describe(mm.chrom, mm.start, int(masking.site_start[row, b, off]), int(masking.site_end[row, b, off]))


def map_title(mm: MutationMap, row: int, tf: dict[str, str] | None = None) -> str:
    """``TF · model · region · reference score`` for the figure of model row ``row``."""
    model = mm.ids[row]
    name = (tf or {}).get(model) or model
    where = (f"{mm.chrom}:{mm.start + 1:,}-{mm.start + len(mm.seq):,}" if mm.chrom
             else f"sequence 1-{len(mm.seq)}")
    head = f"{name} ({model})" if name != model else model
    return f"{head}  ·  {where}  ·  reference score {mm.ref[row]:.2f}"


#: inches: one panel (letters + heatmap), the gap between panels (ticks, title), the outer margins
_PANEL, _GAP, _MARGIN = 1.55, 0.72, 0.35


def _height(nrows: int) -> float:
    return nrows * _PANEL + (nrows - 1) * _GAP + 2 * _MARGIN + 0.95


def _adjust(fig, nrows: int, *, left: float, right: float, wspace: float = 0.2) -> None:
    """Margins in inches, whatever the figure size; the caption goes in the bottom margin."""
    w, h = fig.get_figwidth(), fig.get_figheight()
    fig.text(left / w, 0.08 / h, CAPTION, fontsize=7.5, color="#444444", va="bottom", wrap=True)
    fig.subplots_adjust(left=left / w, right=1 - right / w, top=1 - (_MARGIN + 0.25) / h, bottom=(_MARGIN + 0.7) / h,
                        hspace=_GAP / _PANEL, wspace=wspace)


def _rows(n: int, row_bp: int) -> list[tuple[int, int]]:
    k = max(1, math.ceil(n / row_bp))
    size = math.ceil(n / k)
    return [(i, min(i + size, n)) for i in range(0, n, size)]


def mutation_map_figure(
    mm: MutationMap,
    models: Sequence[int | str] | None = None,
    *,
    tf: dict[str, str] | None = None,
    variants: Sequence = (),
    row_bp: int = ROW_BP,
    weighted: bool = False,
    masking=None,
):
    """A figure with the mutation map of each model; long sequences wrap onto rows of ``row_bp``.

    Letter heights and colour scales are shared by the rows of one model; ``masking``
    (:func:`varbind.masking.map_masking`) rings the substitutions that create a masked site.
    Returns the Figure.
    """
    import matplotlib.pyplot as plt

    rows_of = [mm.ids.index(m) if isinstance(m, str) else int(m) for m in (models if models is not None else [0])]
    segs = _rows(len(mm.seq), row_bp)
    width = INCH_PER_BP * max(hi - lo for lo, hi in segs) + 1.8
    nrows = len(rows_of) * len(segs)
    fig, axes = plt.subplots(nrows, 1, figsize=(width, _height(nrows)), squeeze=False)
    data = weighted_deltas(mm) if weighted else mm.deltas
    for j, r in enumerate(rows_of):
        vmax = float(np.nanmax(np.abs(data[r]))) if np.isfinite(data[r]).any() else 1.0
        imax = float(mm.importance[r].max())
        for s, seg in enumerate(segs):
            ax = axes[j * len(segs) + s, 0]
            plot_mutation_map(mm, r, ax, segment=seg, vmax=vmax, imax=imax, variants=variants,
                              title=map_title(mm, r, tf) if s == 0 else None, weighted=weighted, masking=masking)
    _adjust(fig, nrows, left=0.6, right=0.75)
    return fig


def variant_figure(
    wt: MutationMap,
    mut: MutationMap,
    variant,
    models: Sequence[int | str] | None = None,
    *,
    tf: dict[str, str] | None = None,
    flank: int = 25,
    weighted: bool = False,
    masking=None,
):
    """Wild-type and mutant mutation maps side by side, ``flank`` bases each side of ``variant``.

    ``wt`` and ``mut`` are maps of the same region and models (the mutant made with
    :func:`varbind.mutmap.substitute`). Each model's two panels share colour and letter scales.
    Returns the Figure.
    """
    import matplotlib.pyplot as plt

    rows_of = [wt.ids.index(m) if isinstance(m, str) else int(m) for m in (models if models is not None else [0])]
    off = variant.start - wt.start
    lo, hi = max(0, off - flank), min(len(wt.seq), off + len(variant.ref) + flank)
    width = 2 * (INCH_PER_BP * 1.15 * (hi - lo) + 1.5)
    fig, axes = plt.subplots(len(rows_of), 2, figsize=(width, _height(len(rows_of))), squeeze=False)
    back = variant._replace(ref=variant.alt, alt=variant.ref, id=variant.label)  # mutant panel: box the reversion
    wd, md = (weighted_deltas(wt), weighted_deltas(mut)) if weighted else (wt.deltas, mut.deltas)
    for j, r in enumerate(rows_of):
        vmax = float(np.nanmax(np.abs(np.concatenate([wd[r, :, lo:hi], md[r, :, lo:hi]], axis=1))))
        imax = float(max(wt.importance[r, lo:hi].max(), mut.importance[r, lo:hi].max()))
        name = (tf or {}).get(wt.ids[r]) or wt.ids[r]
        head = f"{name} ({wt.ids[r]})" if name != wt.ids[r] else name
        change = mut.ref[r] - wt.ref[r]
        titles = (f"{head}  ·  wild type  ·  score {wt.ref[r]:.2f}",
                  f"{variant.label}  ·  mutant  ·  score {mut.ref[r]:.2f} (Δ {change:+.2f})"
                  + _variant_masked(wt, masking, r, variant))
        for c, (mm, title) in enumerate(zip((wt, mut), titles)):
            plot_mutation_map(mm, r, axes[j, c], segment=(lo, hi), vmax=vmax, imax=imax,
                              variants=[(variant, back)[c]], title=title, weighted=weighted, colorbar=c == 1,
                              masking=masking if c == 0 else None)
    _adjust(fig, len(rows_of), left=0.6, right=0.75, wspace=0.22)
    return fig


def detector_logos_figure(logos: Sequence, *, title: str = "", ncols: int = 4):
    """A grid of detector logos (:func:`varbind.logos.detector_logos`, or the one
    :func:`varbind.logos.pwm_logo` of a PWM), positions on the x axis, the canvas sized to the logos.
    Returns the Figure."""
    import matplotlib.pyplot as plt

    ncols = max(1, min(ncols, len(logos)))
    nrows = max(1, math.ceil(len(logos) / ncols))
    m = max((len(lg.matrix) for lg in logos), default=8)
    panel_w = max(1.6, 0.24 * m + 0.7)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_w * ncols + 0.2, 1.6 * nrows + 0.5), squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= len(logos):
            ax.set_axis_off()
            continue
        lg = logos[k]
        if lg.kind == "weights" and float(np.abs(np.asarray(lg.matrix)).max()) < 1e-3:
            ax.set_axis_off()  # a detector training left at ~0: nothing to draw
            ax.set_title(f"detector {k + 1}  ·  unused (weights ≈ 0)", fontsize=8, color="#777777")
        elif lg.kind == "sites":
            plot_logo(lg.matrix, ax, title=f"detector {k + 1}  ·  {lg.n_sites} sites", ylabel="bits")
            ax.set_ylim(0, 2)
        elif lg.kind == "pwm":
            plot_logo(lg.matrix, ax, ylabel="bits")
            ax.set_ylim(0, 2)
        else:
            plot_logo(lg.matrix, ax, title=f"detector {k + 1}  ·  weights ({lg.n_sites} sites)", ylabel="weight")
    if title and len(logos) == 1 and logos[0].kind == "pwm":
        axes[0, 0].set_title(title, fontsize=9)  # one panel: its own title, no suptitle band
    elif title:
        fig.suptitle(title, fontsize=9, wrap=True)
    fig.tight_layout()
    return fig
